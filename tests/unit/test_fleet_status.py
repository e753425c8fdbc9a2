"""`zlb-health status` and `make run`'s story, from states the real engine produced: what is held
below its threshold, blips, what is down and since when, the order, the exit status."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest
from tests.unit.engine_helpers import Runner, be, failure, observation

from zlb_health.adapters.store import PendingNotification, StoredState
from zlb_health.config import Thresholds
from zlb_health.engine.notifications import Notification
from zlb_health.engine.state import FLEET_ID, FleetState, LbState, MonitorState
from zlb_health.zenlayer.models import BackendHealth
from zlb_health_tools.awsenv import CliError, StackInfo
from zlb_health_tools.fleet import blips, held_back, lb_status, ordered
from zlb_health_tools.status import build_status, render_status, status_document, thresholds_from

THRESHOLDS = Thresholds(2, 2, 3, 0)
WHERE = {"table": "zlb-table", "region": "eu-west-1", "stack": None}


def run(lb: str, name: str, *answers: Sequence[BackendHealth] | str) -> Runner:
    """Observations a minute apart; "fail" is a failed API call for the whole load balancer."""
    runner = Runner(lb=lb)
    for minute, answer in enumerate(answers, start=1):
        if answer == "fail":
            runner.apply(failure(minute, lb=lb, code="SERVICE_UNAVAILABLE", status=503))
        else:
            runner.apply(observation(minute, *answer, lb=lb, name=name))
    return runner


def stored(runner: Runner, *pending: Notification) -> StoredState:
    assert runner.state is not None
    outbox = {n.id: PendingNotification(n, None, 0.0) for n in pending}
    return StoredState(runner.state.load_balancer_id, 1, runner.state, outbox)


def fleet(*, degraded: bool = False) -> StoredState:
    monitor = MonitorState(3, True, "2024-05-01T12:01:00.000Z") if degraded else MonitorState()
    state = FleetState({"lb-1"}, monitor, "2024-05-01T12:05:00.000Z", 1)
    return StoredState(FLEET_ID, 1, state)


ALIVE = [be("i-1"), be("i-2")]


# -- held back and blips -------------------------------------------------------------------------


def test_a_first_dead_is_held_one_of_two_before_alerting() -> None:
    runner = run("lb-1", "web", ALIVE, [be("i-1", "Dead"), be("i-2")])
    (held,) = held_back(stored(runner), THRESHOLDS)
    assert held.sentence() == "i-1:80 Dead, 1 of 2 before alerting"
    assert held.sentence(since=True) == (
        "i-1:80 Dead since 2024-05-01T12:02:00.000Z, 1 of 2 before alerting"
    )
    assert (held.load_balancer_name, held.count, held.threshold) == ("web", 1, 2)
    runner.apply(observation(3, be("i-1", "Dead"), be("i-2"), name="web"))  # told now
    assert held_back(stored(runner), THRESHOLDS) == []


def test_a_recovery_is_held_until_its_own_threshold() -> None:
    dead = [be("i-1", "Dead"), be("i-2")]
    runner = run("lb-1", "web", ALIVE, dead, dead, ALIVE)
    (held,) = held_back(stored(runner), Thresholds(2, 3, 3, 0))
    assert held.sentence() == "i-1:80 Alive again, 1 of 3 before telling it recovered"


def test_one_port_of_a_backend_is_held_by_its_port() -> None:
    both = [be("i-1", "Alive", detail={8000: "Alive", 8001: "Alive"})]
    one = [be("i-1", "Dead", detail={8000: "Alive", 8001: "Dead"})]
    (held,) = held_back(stored(run("lb-1", "api", both, one)), THRESHOLDS)
    assert held.sentence() == "i-1:8001 Dead, 1 of 2 before alerting"


def test_failed_api_calls_are_held_until_the_monitor_threshold() -> None:
    runner = run("lb-1", "web", ALIVE, "fail", "fail")
    (held,) = held_back(stored(runner), THRESHOLDS)
    assert held.sentence() == "API calls failing, 2 of 3 before monitoring degraded"
    runner.apply(failure(4, code="SERVICE_UNAVAILABLE"))  # degraded: told, no longer held
    assert held_back(stored(runner), THRESHOLDS) == []


def test_discovery_failing_is_held_too() -> None:
    state = FleetState(set(), MonitorState(1, False, "2024-05-01T12:01:00.000Z"), None, 0)
    (held,) = held_back(StoredState(FLEET_ID, 1, state), THRESHOLDS)
    assert held.sentence() == (
        "discovery (DescribeLoadBalancers): API calls failing, 1 of 3 before monitoring degraded"
    )


def test_a_change_that_comes_back_before_its_threshold_is_a_blip() -> None:
    runner = run("lb-1", "web", ALIVE, [be("i-1", "Dead"), be("i-2")])
    before = held_back(stored(runner), THRESHOLDS)
    runner.apply(observation(3, *ALIVE, name="web"))
    assert blips(before, [stored(runner)]) == before
    assert runner.notifications == []  # nothing was sent for it


def test_a_change_told_or_still_held_is_no_blip() -> None:
    dead = [be("i-1", "Dead"), be("i-2")]
    runner = run("lb-1", "web", ALIVE, dead)
    before = held_back(stored(runner), THRESHOLDS)
    unknown = run("lb-1", "web", ALIVE, dead, [be("i-1", "Unknown"), be("i-2")])
    assert blips(before, [stored(unknown)]) == []  # Unknown is no data: still held
    runner.apply(observation(3, *dead, name="web"))
    assert blips(before, [stored(runner)]) == []  # it reached the threshold: told
    assert blips(before, []) == []  # gone


def test_failed_calls_followed_by_a_good_one_are_a_blip() -> None:
    runner = run("lb-1", "web", ALIVE, "fail")
    before = held_back(stored(runner), THRESHOLDS)
    runner.apply(observation(3, *ALIVE, name="web"))
    assert [h.kind for h in blips(before, [stored(runner)])] == ["monitor"]


# -- status --------------------------------------------------------------------------------------


def fleet_of_three() -> list[StoredState]:
    """lb-ok healthy; lb-warn one of two down; lb-crit its only listener without a backend."""
    dead = [be("i-1", "Dead"), be("i-2")]
    all_dead = [be("i-1", "Dead"), be("i-2", "Dead")]
    crit = run("lb-crit", "db", ALIVE, all_dead, all_dead)
    assert crit.notifications
    return [
        stored(run("lb-ok", "api", ALIVE, [be("i-1", "Dead"), be("i-2")])),
        stored(run("lb-warn", "web", ALIVE, dead, dead)),
        stored(crit, crit.notifications[-1]),  # its message not delivered yet
    ]


def test_critical_first_then_warnings_then_the_healthy() -> None:
    statuses = [
        s for stored_state in fleet_of_three() if (s := lb_status(stored_state, THRESHOLDS))
    ]
    assert [(s.state.load_balancer_id, s.level) for s in ordered(statuses)] == [
        ("lb-crit", "critical"),
        ("lb-warn", "warning"),
        ("lb-ok", "ok"),
    ]


def test_status_text_says_what_is_down_since_when() -> None:
    status = build_status(fleet_of_three(), fleet(), THRESHOLDS)
    out = io.StringIO()
    render_status(status, WHERE, out)
    assert out.getvalue() == (
        "table zlb-table in eu-west-1: 3 load balancers\n"
        "UNHEALTHY: 1 critical, 1 warning, 1 ok; 1 notification pending\n"
        "\n"
        "CRITICAL  db (lb-crit): 0 of 2 backends healthy on 1 listener\n"
        "  listener name-lsn-1 (lsn-1): 0 of 2 healthy, 2 down  NO HEALTHY BACKEND since "
        "2024-05-01T12:03:00.000Z\n"
        "    DOWN i-1:80 since 2024-05-01T12:02:00.000Z\n"
        "    DOWN i-2:80 since 2024-05-01T12:02:00.000Z\n"
        "  monitoring: ok\n"
        "  pending notifications (not delivered yet): 1\n"
        "    2024-05-01T12:03:00.000Z  health_change critical: db: 2 backends down; no healthy "
        "backend left on name-lsn-1.\n"
        "\n"
        "WARNING   web (lb-warn): 1 of 2 backends healthy on 1 listener\n"
        "  listener name-lsn-1 (lsn-1): 1 of 2 healthy, 1 down\n"
        "    DOWN i-1:80 since 2024-05-01T12:02:00.000Z\n"
        "  monitoring: ok\n"
        "OK        api (lb-ok): 2 of 2 backends healthy on 1 listener\n"
        "  about to alert: i-1:80 Dead since 2024-05-01T12:02:00.000Z, 1 of 2 before alerting\n"
        "\n"
        "discovery (DescribeLoadBalancers): ok\n"
        "active silences: none\n"
    )
    assert status.exit_code == 1


def test_a_partly_down_backend_names_its_ports_and_degraded_monitoring_its_error() -> None:
    one = [be("i-1", "Dead", detail={8000: "Alive", 8001: "Dead"})]
    both = [be("i-1", "Alive", detail={8000: "Alive", 8001: "Alive"})]
    runner = run("lb-api", "api", both, one, one, "fail", "fail", "fail")
    status = build_status([stored(runner)], fleet(), THRESHOLDS)
    out = io.StringIO()
    render_status(status, WHERE, out)
    text = out.getvalue()
    assert "    PARTLY DOWN i-1 port 8001 since 2024-05-01T12:02:00.000Z\n" in text
    assert (
        "  monitoring: DEGRADED since 2024-05-01T12:04:00.000Z, 3 failed API calls in a row "
        "(server SERVICE_UNAVAILABLE, HTTP 503, requestId req-fail-6)\n"
    ) in text
    assert status.exit_code == 1


def test_all_healthy_exits_0_and_degraded_discovery_alone_exits_1() -> None:
    healthy = [stored(run("lb-ok", "api", ALIVE, ALIVE))]
    assert build_status(healthy, fleet(), THRESHOLDS).exit_code == 0
    assert build_status([], fleet(), THRESHOLDS).exit_code == 0  # nothing watched yet
    degraded = build_status(healthy, fleet(degraded=True), THRESHOLDS)
    assert degraded.exit_code == 1
    out = io.StringIO()
    render_status(degraded, WHERE, out)
    assert "UNHEALTHY: 0 critical, 0 warning, 1 ok, discovery degraded\n" in out.getvalue()
    assert (
        "discovery (DescribeLoadBalancers): DEGRADED since 2024-05-01T12:01:00.000Z, "
        "3 failed API calls in a row (-)\n"
    ) in out.getvalue()


def test_an_empty_table_says_so() -> None:
    out = io.StringIO()
    render_status(build_status([], StoredState(FLEET_ID, 0, None), THRESHOLDS), WHERE, out)
    assert out.getvalue() == (
        "table zlb-table in eu-west-1: 0 load balancers\n"
        "HEALTHY: 0 critical, 0 warning, 0 ok\n"
        "\n"
        "no load balancer in the table yet (the function has not run, or found none)\n"
        "\n"
        "discovery (DescribeLoadBalancers): no record yet\n"
        "active silences: none\n"
    )


def test_status_json_has_the_same_facts() -> None:
    status = build_status(fleet_of_three(), fleet(), THRESHOLDS)
    document = status_document(status, THRESHOLDS, WHERE)
    assert document["healthy"] is False
    assert document["counts"] == {
        "loadBalancers": 3,
        "critical": 1,
        "warning": 1,
        "ok": 1,
        "pendingNotifications": 1,
    }
    crit = document["loadBalancers"][0]
    assert (crit["loadBalancerId"], crit["level"]) == ("lb-crit", "critical")
    assert crit["listeners"] == [
        {
            "listenerId": "lsn-1",
            "listenerName": "name-lsn-1",
            "healthy": 0,
            "partial": 0,
            "down": 2,
            "total": 2,
            "critical": True,
            "criticalSince": "2024-05-01T12:03:00.000Z",
        }
    ]
    assert [(d["instanceId"], d["health"], d["since"]) for d in crit["down"]] == [
        ("i-1", "down", "2024-05-01T12:02:00.000Z"),
        ("i-2", "down", "2024-05-01T12:02:00.000Z"),
    ]
    assert [p["severity"] for p in crit["pendingNotifications"]] == ["critical"]
    assert document["loadBalancers"][2]["heldBack"][0]["text"] == (
        "i-1:80 Dead, 1 of 2 before alerting"
    )
    assert document["silences"] == []
    assert document["thresholds"] == {"failure": 2, "recovery": 2, "monitorFailure": 3}


def test_thresholds_come_from_the_stack_then_the_environment_then_the_defaults() -> None:
    assert thresholds_from({}, None) == Thresholds(2, 2, 3)
    env = {"FAILURE_THRESHOLD": "4", "RECOVERY_THRESHOLD": " 5 "}
    assert thresholds_from(env, None) == Thresholds(4, 5, 3)
    stack = StackInfo("zlb", "eu-west-1", "CREATE_COMPLETE", {}, {"FailureThreshold": "7"})
    assert thresholds_from(env, stack) == Thresholds(7, 5, 3)


@pytest.mark.parametrize("raw", ["0", "often", "101", "-1", "²"])
def test_a_bad_threshold_is_a_usage_error_naming_it(raw: str) -> None:
    with pytest.raises(CliError) as caught:
        thresholds_from({"MONITOR_FAILURE_THRESHOLD": raw}, None)
    assert caught.value.code == 2
    assert str(caught.value) == (
        f"MONITOR_FAILURE_THRESHOLD: must be an integer from 1 to 100, got {raw!r}"
    )


def test_a_retired_load_balancer_with_its_last_word_pending_is_shown() -> None:
    runner = run("lb-old", "old", ALIVE)
    assert isinstance(runner.state, LbState)
    runner.state.retired = "deleted"
    runner.state.backends.clear()
    status = build_status([], fleet(), THRESHOLDS, retiring=[stored(runner)])
    out = io.StringIO()
    render_status(status, WHERE, out)
    assert (
        "OK        old (lb-old): 0 of 0 backends healthy on 0 listeners  RETIRED (deleted), "
        in (out.getvalue())
    )
