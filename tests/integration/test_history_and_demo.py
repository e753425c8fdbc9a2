"""`zlb-health history` reads back what runs wrote; `make run`'s demo tells the whole story."""

from __future__ import annotations

import argparse
import io
import json
import os
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
    for _ in range(5):  # vm-1: Alive, Dead, Dead, Alive, Alive
        h.run()
    out, err = io.StringIO(), io.StringIO()
    code = run_history(history_args(), env={"TABLE_NAME": stack.table_name}, out=out, err=err)
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


def test_the_demo_shows_the_whole_story() -> None:
    """What `make run` prints: each scripted event, as subscribers receive it, then history."""
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
    out = result.stdout
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
