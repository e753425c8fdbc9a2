"""The fleet's own subject: discovery degraded and restored, and the registry of known LBs."""

from __future__ import annotations

from engine_helpers import at

from zlb_health.config import Thresholds
from zlb_health.engine.fleet import FleetEvaluation, apply_discovery, with_known
from zlb_health.engine.observation import DiscoveryResult, ScopeFailure
from zlb_health.engine.render import render
from zlb_health.engine.state import FleetState, MonitorState

THRESHOLDS = Thresholds(2, 2, 2, 0)


def _ok(minute: float) -> DiscoveryResult:
    return DiscoveryResult(at(minute), request_id=f"req-{minute}")


def _failed(minute: float) -> DiscoveryResult:
    error = ScopeFailure("", "auth", "AUTH_FAILED", 401, f"req-fail-{minute}", "bad key")
    return DiscoveryResult(at(minute), failure=error, request_id=None)


def _run(*results: DiscoveryResult) -> list[FleetEvaluation]:
    state: FleetState | None = None
    out = []
    for result in results:
        evaluation = apply_discovery(state, result, THRESHOLDS)
        state = evaluation.new_state
        out.append(evaluation)
    return out


def test_the_first_listing_is_stored_and_says_nothing() -> None:
    (first,) = _run(_ok(1))
    assert (first.new_state, first.notification, first.changed) == (
        FleetState(observed_at="2024-05-01T12:01:00.000Z"), None, True
    )  # fmt: skip


def test_a_listing_that_changes_nothing_moves_the_clock_but_needs_no_write() -> None:
    _, second = _run(_ok(1), _ok(2))
    assert (second.new_state, second.notification, second.changed) == (
        FleetState(observed_at="2024-05-01T12:02:00.000Z"), None, False
    )  # fmt: skip


def test_only_the_first_listing_of_a_tick_counts() -> None:
    first, failed = _run(_failed(1), _failed(2))
    assert failed.notification is not None  # degraded
    for minute in (2, 1):  # another shard at the same tick, or an older one
        again = apply_discovery(failed.new_state, _failed(minute), THRESHOLDS)
        assert (again.new_state, again.notification, again.changed) == (
            failed.new_state, None, False
        )  # fmt: skip
    assert first.new_state.monitor.consecutive_failures == 1


def test_discovery_failing_twice_is_degraded_once_and_restored_once() -> None:
    one, two, three, back, after = _run(_failed(1), _failed(2), _failed(3), _ok(4), _ok(5))
    assert (one.notification, one.changed) == (None, True)
    assert one.new_state.monitor == MonitorState(
        1,
        False,
        "2024-05-01T12:01:00.000Z",
        {
            "kind": "auth",
            "code": "AUTH_FAILED",
            "status": 401,
            "requestId": "req-fail-1",
            "message": "bad key",
            "at": "2024-05-01T12:01:00.000Z",
        },
    )
    degraded = two.notification
    assert degraded is not None
    assert (degraded.id, degraded.event_type, degraded.severity) == (
        "*#00000001", "monitor_degraded", "warning"
    )  # fmt: skip
    assert (degraded.load_balancer_id, degraded.load_balancer_name) == (
        "*", "load balancer discovery"
    )  # fmt: skip
    assert (degraded.observed_at, degraded.request_id) == (
        "2024-05-01T12:02:00.000Z", "req-fail-2"
    )  # fmt: skip
    (event,) = degraded.monitor_events
    assert (event.scope, event.change, event.at, event.since, event.consecutive_failures) == (
        "discovery", "degraded", "2024-05-01T12:02:00.000Z", "2024-05-01T12:01:00.000Z", 2
    )  # fmt: skip
    assert (two.new_state.seq, two.changed) == (1, True)
    assert (three.notification, three.changed, three.new_state.seq) == (None, True, 1)
    restored = back.notification
    assert restored is not None
    assert (restored.id, restored.event_type, restored.request_id) == (
        "*#00000002", "monitor_restored", "req-4"
    )  # fmt: skip
    (event,) = restored.monitor_events
    assert (event.scope, event.change, event.at, event.consecutive_failures) == (
        "discovery", "restored", "2024-05-01T12:04:00.000Z", 3
    )  # fmt: skip
    assert (back.new_state.monitor, back.new_state.seq, back.changed) == (MonitorState(), 2, True)
    assert (after.notification, after.changed) == (None, False)


def test_discovery_degraded_reads_as_the_fleet_s_own_news() -> None:
    _, two = _run(_failed(1), _failed(2))
    assert two.notification is not None
    m = render(two.notification)
    assert m.message["sms"] == (
        "ZLB zlb-health WARN load balancer discovery: "
        "Monitoring degraded, 2 failed API calls (auth AUTH_FAILED)."
    )
    assert (
        "\nMonitoring of load balancer discovery (DescribeLoadBalancers) degraded since "
        "2024-05-01T12:01:00.000Z, after 2 failed API calls in a row.\n"
        "Last error: auth AUTH_FAILED, HTTP 401, requestId req-fail-2\n"
        "Zenlayer said: bad key\n"
    ) in m.message["email"]


def test_the_registry_of_known_load_balancers_is_updated_on_a_copy() -> None:
    fleet = FleetState({"lb-a", "lb-b"}, seq=3)
    updated = with_known(fleet, add=["lb-c"], remove=["lb-a", "lb-x"])
    assert updated == FleetState({"lb-b", "lb-c"}, seq=3)
    assert fleet == FleetState({"lb-a", "lb-b"}, seq=3)
    assert with_known(fleet) == fleet
