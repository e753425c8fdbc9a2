"""Every `sh` block of the README and docs/ works when pasted into a fresh shell.

The convention is in tests/docs_blocks.py (and the README, "Developing and testing"). Each
block is one test, named by its file and line; new blocks are picked up as they are written.
A block runs under `bash` with `set -euo pipefail`, from the repository root, in its own
process group (what it left running in the background is stopped after it), with an
environment holding nothing of this one's project settings: no ZENLAYER_*, no AWS_*, no
TABLE_NAME, and no ~/.aws (AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE point nowhere).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

import pytest
from tests.docs_blocks import REPO, Block, shell_blocks

from zlb_health_tools.emulator import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_PASSWORD, Emulator
from zlb_health_tools.emulator.demo import demo_scenario
from zlb_health_tools.localaws import REGION, LocalAws
from zlb_health_tools.stack import create_local_stack
from zlb_health_tools.template import load_template

pytestmark = pytest.mark.integration

BLOCK_TIMEOUT_SECONDS = 300
# What a fresh login shell on this machine would have; everything else is left out.
PASSED_THROUGH = re.compile(
    r"^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LC_[A-Z]+|TERM|TMPDIR|PYENV_ROOT|PIP_[A-Z_]+|UV_[A-Z_]+"
    r"|XDG_[A-Z_]+|SSL_CERT_FILE|REQUESTS_CA_BUNDLE|SAM_CLI_TELEMETRY)$"
)
_LOOPBACK_PORT = re.compile(r"(?:127\.0\.0\.1|localhost):(\d{2,5})")
BLOCKS = shell_blocks()


def fresh_env(tmp: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if PASSED_THROUGH.match(key)}
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["AWS_CONFIG_FILE"] = str(tmp / "no-aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp / "no-aws-credentials")
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # no credentials: fail at once, not after IMDS
    return env


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _stand_ins(block: Block, stack: ExitStack, request: pytest.FixtureRequest) -> dict[str, str]:
    """Start what the block's marker asks for; the variables it is reached by."""
    exported: dict[str, str] = {}
    if "local-aws" in block.needs:
        aws: LocalAws = request.getfixturevalue("local_aws")  # the session's, fresh table
        local = create_local_stack(aws.url, template=load_template(REPO / "template.yaml"))
        exported |= aws.env() | local.function_env() | {"AWS_REGION": REGION}
    if "emulator" in block.needs:
        emulator = stack.enter_context(Emulator(demo_scenario(), log_requests=False))
        exported |= {
            "ZENLAYER_API_ENDPOINT": emulator.url,
            "ZENLAYER_ACCESS_KEY_ID": DEMO_ACCESS_KEY_ID,
            "ZENLAYER_ACCESS_KEY_PASSWORD": DEMO_ACCESS_KEY_PASSWORD,
        }
    return exported


def run_block(block: Block, env: Mapping[str, str], cwd: Path, log: Path) -> tuple[int, str]:
    """(exit status, output). The output goes to a file, not a pipe: a background job the
    block started would hold a pipe open after the block itself ended."""
    script = "set -euo pipefail\n" + block.text
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            ["bash", "-c", script, block.where],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: its background jobs go with it
        )
        timed_out = False
        try:
            status = process.wait(timeout=BLOCK_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            timed_out = True
            status = -1
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL if timed_out else signal.SIGTERM)
            process.wait()
    text = log.read_text(encoding="utf-8", errors="replace")
    if timed_out:
        text += f"\n[timed out after {BLOCK_TIMEOUT_SECONDS} s]"
    return status, text


def test_the_docs_have_runnable_blocks() -> None:
    """The collection below is not empty by accident (a broken parser would skip everything)."""
    runnable = [block.where for block in BLOCKS if block.runnable]
    assert any(where.startswith("README.md:") for where in runnable), runnable
    assert any(where.startswith("docs/") for where in runnable), runnable


@pytest.mark.parametrize("block", BLOCKS, ids=[block.where for block in BLOCKS])
def test_block_runs_as_written(
    block: Block, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if block.skip is not None:
        pytest.skip(f"{block.where}: docs-test: skip: {block.skip}")
    for port in sorted({int(p) for p in _LOOPBACK_PORT.findall(block.text)}):
        if _listening(port):
            pytest.fail(
                f"{block.where} uses 127.0.0.1:{port}, which something on this machine already "
                "listens on (another emulator?): stop it and run again"
            )
    with ExitStack() as stack:
        env = fresh_env(tmp_path) | _stand_ins(block, stack, request)
        status, output = run_block(block, env, REPO, tmp_path / "output.txt")
    assert status == 0, (
        f"the ```{block.language} block at {block.where} failed (exit {status}):\n"
        f"{block.text}\n--- its output (last 60 lines) ---\n" + "\n".join(output.splitlines()[-60:])
    )
