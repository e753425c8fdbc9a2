"""moto's server in a process of its own, for the bench: `MotoProcess` starts it.

In the bench process, moto shared one interpreter lock with the emulator: every DynamoDB call
of one shard's state read (seconds of moto work at 10,000 load balancers) stalled the API
answers its poll was waiting for, and the reverse. In production DynamoDB and the Zenlayer API
share nothing, so neither do the stand-ins. The harness's moto patches
(`harness.cheap_moto_transactions`, `harness.cheap_moto_queries`,
`harness.cheap_moto_serializer`) are applied here, in the process that runs moto.

Protocol: this process prints its URL on one line, then reads commands from stdin, one per
line: `pauses` answers the full garbage collections since the last `pauses` as one JSON list of
seconds. EOF stops the server. Between commands, every second, it freezes its heap
(`gc.freeze()`): moto's items are long-lived, and an unfrozen full collection of 10,000 load
balancers' items would hold every answer for seconds.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import select
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from zlb_health_tools.localaws import client_env  # noqa: E402
from zlb_health_tools.served import Served  # noqa: E402

FREEZE_EVERY_S = 1.0


def serve(moto_deepcopy: bool) -> int:
    from bench import harness
    from zlb_health_tools.localaws import LocalAws

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if not moto_deepcopy:
        harness.cheap_moto_transactions()
    harness.cheap_moto_queries()
    harness.cheap_moto_serializer()
    pauses = harness.CollectorPauses()
    with LocalAws() as aws:
        print(aws.url, flush=True)
        while True:
            ready, _, _ = select.select([sys.stdin], [], [], FREEZE_EVERY_S)
            gc.freeze()
            if not ready:
                continue
            line = sys.stdin.readline()
            if not line:
                return 0
            if line.strip() == "pauses":
                print(json.dumps(pauses.take()), flush=True)


class MotoProcess(Served):
    """`with MotoProcess() as aws: aws.url, aws.env()`, as LocalAws, in its own process."""

    def __init__(self, *, moto_deepcopy: bool = False) -> None:
        self._args = ["--moto-deepcopy"] if moto_deepcopy else []
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def env(self) -> dict[str, str]:
        """The standard boto3 variables that point every client at this server."""
        return client_env(self.url)

    def collector_pauses(self) -> list[float]:
        """moto's full garbage collections (seconds each) since the last call."""
        process = self._running()
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write("pauses\n")
        process.stdin.flush()
        taken: list[float] = json.loads(process.stdout.readline())
        return taken

    def _running(self) -> subprocess.Popen[str]:
        assert self._process is not None, "start() first"
        return self._process

    def start(self) -> MotoProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.moto_server", *self._args],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise RuntimeError(f"moto's server did not start (said {self.url!r})")
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moto-deepcopy", action="store_true", help="keep moto's own backup")
    return serve(parser.parse_args(argv).moto_deepcopy)


if __name__ == "__main__":
    sys.exit(main())
