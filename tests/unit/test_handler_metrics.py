"""EMF output of a run: per-run metrics always, per-load-balancer blobs when turned on."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from zlb_health import handler
from zlb_health.monitor import LoadBalancerReport, RunReport


def report() -> RunReport:
    run = RunReport(run_id="r", started_at=datetime(2026, 11, 23, tzinfo=UTC))
    run.load_balancers["lb-1"] = LoadBalancerReport(
        "lb-1", ok=True, latency_ms=42.0, counts={"alive": 2, "dead": 1, "unknown": 0}
    )
    run.load_balancers["lb-2"] = LoadBalancerReport("lb-2", error="server: 503")
    run.load_balancers["lb-3"] = LoadBalancerReport("lb-3", skipped=True)
    run.messages_published = 1
    return run


def blobs(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_per_load_balancer_blobs(capsys: pytest.CaptureFixture[str]) -> None:
    handler.emit_metrics(report(), duration_ms=12.0, per_load_balancer=True)
    handler.metrics.flush_metrics()
    emitted = blobs(capsys.readouterr().out)
    per_lb = {b["LoadBalancerId"]: b for b in emitted if "LoadBalancerId" in b}
    assert set(per_lb) == {"lb-1", "lb-2"}  # a skipped load balancer has nothing to report
    assert (per_lb["lb-1"]["BackendsDead"], per_lb["lb-1"]["ApiErrors"]) == ([1.0], [0.0])
    assert per_lb["lb-2"]["ApiErrors"] == [1.0]
    (run,) = [b for b in emitted if "LoadBalancerId" not in b]
    assert run["LoadBalancersSkipped"] == [1.0]
    assert run["LoadBalancersFailed"] == [1.0]
    assert run["NotificationsSent"] == [1.0]


def test_per_load_balancer_metrics_off(capsys: pytest.CaptureFixture[str]) -> None:
    handler.emit_metrics(report(), duration_ms=12.0, per_load_balancer=False)
    handler.metrics.flush_metrics()
    emitted = blobs(capsys.readouterr().out)
    assert [b for b in emitted if "LoadBalancerId" in b] == []
    assert len(emitted) == 1
