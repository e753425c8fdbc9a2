"""What a run tells CloudWatch: the heartbeat always, trouble only while there is some, per load
balancer metrics only when asked for (they cost), and a health line per unhealthy load balancer."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from zlb_health import handler
from zlb_health.monitor import LoadBalancerReport, RunReport
from zlb_health.shards import Shard


def report() -> RunReport:
    run = RunReport(run_id="r", started_at=datetime(2026, 11, 23, tzinfo=UTC))
    run.load_balancers["lb-1"] = LoadBalancerReport(
        "lb-1",
        ok=True,
        latency_ms=42.0,
        counts={"backends": 3, "alive": 2, "dead": 1, "unknown": 0, "close": 0, "partial": 0},
    )
    run.load_balancers["lb-2"] = LoadBalancerReport(
        "lb-2", error="server: 503", error_kind="server"
    )
    run.load_balancers["lb-3"] = LoadBalancerReport("lb-3", skipped=True)
    run.messages_published = 1
    return run


def blobs(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_a_steady_run_publishes_the_heartbeat_and_nothing_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    quiet = RunReport(run_id="r", started_at=datetime(2026, 11, 23, tzinfo=UTC))
    quiet.load_balancers["lb-1"] = LoadBalancerReport("lb-1", ok=True, counts={"alive": 2})
    handler.emit_run_metrics(quiet, function_name="f", shard=Shard(1, 2), completed=True)
    (beat,) = blobs(capsys.readouterr().out)
    (directive,) = beat["_aws"]["CloudWatchMetrics"]
    assert [m["Name"] for m in directive["Metrics"]] == ["RunsCompleted"]
    assert (beat["RunsCompleted"], beat["FunctionName"], beat["Shard"]) == ([1.0], "f", "1")


def test_trouble_is_published_only_while_it_lasts(capsys: pytest.CaptureFixture[str]) -> None:
    handler.emit_run_metrics(report(), function_name="f", shard=Shard(), completed=True)
    trouble, beat = blobs(capsys.readouterr().out)
    (directive,) = trouble["_aws"]["CloudWatchMetrics"]
    assert sorted(m["Name"] for m in directive["Metrics"]) == [
        "LoadBalancersFailed",
        "LoadBalancersSkipped",
        "NotificationsSent",
    ]  # NotificationsPending and InvalidRows are 0: not published
    assert [sorted(d) for d in directive["Dimensions"]] == [["FunctionName", "service"]]
    assert (trouble["LoadBalancersSkipped"], trouble["LoadBalancersFailed"]) == ([1.0], [1.0])
    assert "RunsCompleted" in beat


def test_per_load_balancer_blobs_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    handler.emit_load_balancer_metrics(report())
    per_lb = {b["LoadBalancerId"]: b for b in blobs(capsys.readouterr().out)}
    assert set(per_lb) == {"lb-1", "lb-2"}  # a skipped load balancer has nothing to report
    assert (per_lb["lb-1"]["BackendsDead"], per_lb["lb-1"]["ApiErrors"]) == ([1.0], [0.0])
    assert per_lb["lb-2"]["ApiErrors"] == [1.0]
    assert "BackendsAlive" not in per_lb["lb-2"]  # its check failed: no counts to give


def test_a_health_line_per_load_balancer_that_is_not_all_healthy() -> None:
    out = io.StringIO()
    handler.emit_health_lines(report(), out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["lb"], line["ok"], line["dead"], line["error"]) for line in lines] == [
        ("lb-1", True, 1, None),
        ("lb-2", False, 0, "server"),
    ]
    assert all(line["record"] == "lb_health" for line in lines)
    assert all(len(text) < 200 for text in out.getvalue().splitlines())  # cheap to ingest
