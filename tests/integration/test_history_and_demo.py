"""`zlb-health history` reads back what runs wrote; `make run`'s demo tells the whole story."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.harness import Harness, fleet, harness_factory, status

from zlb_health_tools.history import run_history
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def harness_for(stack: LocalStack) -> Iterator[Callable[..., Harness]]:
    yield from harness_factory(stack)


def history_args(**overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "load_balancer_id": "lb-a",
        "backend": None,
        "since": "2026-11-23T11:00:00Z",
        "until": "2026-11-23T13:00:00Z",
        "json": True,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


def test_history_gives_availability_and_notifications(
    harness_for: Callable[..., Harness], stack: LocalStack
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead"), status(3, "vm-1", "Alive")]))
    for _ in range(5):  # vm-1: Alive, Dead, Dead, Alive, Alive (ticks 12:00 to 12:04)
        h.run()
    out, err = io.StringIO(), io.StringIO()
    # Each snapshot holds until the next one; the run at --until counts for its minute: five
    # minutes, two of them Dead. (Past 12:04 the last snapshot would hold on: no run said
    # otherwise, and the watchdog alarm is what tells runs that stopped.)
    args = history_args(until="2026-11-23T12:04:00Z")
    code = run_history(args, env={"TABLE_NAME": stack.table_name}, out=out, err=err)
    assert (code, err.getvalue()) == (0, "")
    document = json.loads(out.getvalue())
    assert document["snapshots"] == 5
    by_backend = {a["backend"]: a for a in document["availability"]}
    assert by_backend["lsn-a/vm-1/80"]["percent"] == pytest.approx(60.0)
    assert (by_backend["lsn-a/vm-1/80"]["alive"], by_backend["lsn-a/vm-1/80"]["dead"]) == (3, 2)
    assert by_backend["lsn-a/vm-2/80"]["percent"] == pytest.approx(100.0)
    assert [(e["eventType"], e["severity"]) for e in document["events"]] == [
        ("health_change", "warning"),
        ("health_change", "info"),
    ]

    one = io.StringIO()
    run_history(
        history_args(backend="lsn-a/vm-2/80", json=False),
        env={"TABLE_NAME": stack.table_name},
        out=one,
        err=err,
    )
    text = one.getvalue()
    assert "lsn-a/vm-2/80" in text
    assert "lsn-a/vm-1/80" not in text


def test_history_names_what_is_wrong() -> None:
    err = io.StringIO()
    assert run_history(history_args(), env={}, out=io.StringIO(), err=err) == 2
    assert "TABLE_NAME" in err.getvalue()
    err = io.StringIO()
    code = run_history(
        history_args(since="yesterday"), env={"TABLE_NAME": "t"}, out=io.StringIO(), err=err
    )
    assert code == 2
    assert "--since" in err.getvalue()


@pytest.fixture(scope="module")
def demo_output() -> str:
    """What `make run` prints (one run of the demo for the tests below)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENLAYER_", "AWS_"))}
    result = subprocess.run(
        [sys.executable, "-m", "zlb_health_tools.cli", "demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_demo_shows_the_whole_story(demo_output: str) -> None:
    """What `make run` prints: each scripted event, as subscribers receive it, then history."""
    out = demo_output
    sms = [line.split("] ", 1)[1] for line in out.splitlines() if "[SMS, " in line]
    assert all(len(text) <= 160 and text.isascii() for text in sms)
    assert "ZLB zlb-health WARN web-frontend: DOWN 1: vm-web-2:8080" in sms  # a backend fails
    assert "ZLB zlb-health INFO web-frontend: UP 1: vm-web-2:8080" in sms  # and recovers
    assert "ZLB zlb-health WARN api-gateway: DOWN 1: vm-api-1:8001" in sms  # one port of two
    assert any(
        "NO healthy backend" in text and text.startswith("ZLB zlb-health CRIT db-proxy")
        for text in sms
    )
    degraded = "ZLB zlb-health WARN api-gateway: Monitoring degraded, 3 failed API calls"
    assert f"{degraded} (server SERVICE_UNAVAILABLE)." in sms
    assert "ZLB zlb-health INFO api-gateway: Monitoring restored." in sms
    assert "[EMAIL] Subject:" in out
    assert "history read back from the table:" in out
    assert "availability" in out


def test_the_demo_tells_why_nothing_was_sent_and_adds_it_up(demo_output: str) -> None:
    """The story around the messages: changes below their threshold, the blip that came back
    unsent, when each backend was down, the JSON rendition once, and the totals."""
    out = demo_output
    cycles = out.split("\ncycle ")[1:]
    assert len(cycles) == 17
    # Cycle 2: vm-api-1's port 8001 is Dead once: nothing sent, and the demo says why.
    assert cycles[1].endswith(
        "  notifications: none\n"
        "  below threshold, not sent yet:\n"
        "    api-gateway: vm-api-1:8001 Dead, 1 of 2 before alerting\n\n" + "-" * 78
    )
    assert "    api-gateway: API calls failing, 2 of 3 before monitoring degraded\n" in cycles[4]
    # Cycle 9 sees vm-web-3:8443 Dead once; cycle 10 sees it Alive: a blip, never sent.
    assert "    web-frontend: vm-web-3:8443 Dead, 1 of 2 before alerting\n" in cycles[8]
    assert (
        "  blip, suppressed: web-frontend: vm-web-3:8443 was Dead for 1 run (threshold 2), "
        "Alive again\n"
    ) in cycles[9]
    assert "vm-web-3:8443" not in "".join(line for line in out.splitlines() if "[SMS, " in line)
    assert out.count("[JSON, as SQS, Lambda and HTTP subscribers get it; shown once]") == 1
    assert '  |   "schemaVersion": 1,\n' in cycles[2]  # with the first message
    assert "  lsn-web-https/vm-web-3/8443  |........#........|" in out  # when, in the history
    totals = out[out.index("totals after 17 runs:") :].splitlines()
    assert totals[1:4] == [
        "  messages sent: 11 (1 critical, 5 warning, 5 info)",
        "  blips suppressed: 1 (changes that came back before their threshold: nothing sent)",
        "  held back by maintenance: 3 changes (told once, when it ended)",
    ]
    assert re.fullmatch(r"  elapsed: \d+\.\d s", totals[4])
    assert out.endswith("done: 17 runs. Next: `make test`, or deploy (README).\n")


def test_the_demo_shows_a_maintenance_window(demo_output: str) -> None:
    """Cycles 11-14 are under a silence of lb-web's http listener: its changes are held back
    and recorded; cycle 15 tells once what the maintenance left (vm-web-2 still down); the
    history shows the window as maintenance, out of the availability figures."""
    out = demo_output
    cycles = out.split("\ncycle ")[1:]
    silence_id = re.search(r"maintenance: silence (sil-[0-9a-f]+) on web-frontend", out)
    assert silence_id is not None
    held = f"  held back by maintenance {silence_id.group(1)} (recorded, not sent): web-frontend: "
    assert [held + "1 backend down.\n" in c for c in cycles[11:13]] == [True, True]
    assert held + "1 backend recovered.\n" in cycles[13]
    assert not any(held in c for c in cycles[:11] + cycles[14:])
    sms = [line.split("] ", 1)[1] for line in out.splitlines() if "[SMS, " in line]
    ended = "ZLB zlb-health WARN web-frontend: maintenance ended. Still DOWN 1: vm-web-2:8080"
    assert [text for text in sms if "maintenance" in text] == [ended]
    assert ended in cycles[14]
    assert "vm-web-1 port 8080 on listener web-http: down and back" in cycles[14]  # email only
    assert "vm-web-1" not in ended
    assert "ZLB zlb-health INFO web-frontend: UP 1: vm-web-2:8080" in cycles[16]
    assert "  lsn-web-http/vm-web-2/8080   |..####....mmmm#..|" in out
    assert "maintenance: 12 minutes under a silence" in out
