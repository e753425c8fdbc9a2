"""Every Zenlayer API fault, end to end: emulator over HTTP, moto's server, SNS seen via SQS.

The shape of each fault test (FAILURE_THRESHOLD=3, MONITOR_FAILURE_THRESHOLD=2):

    run/step  0         1              2, 3               4                 5
    vm-1      Alive     Dead (1)       Dead, unseen       Dead (2)          Dead (3)
    API       ok        ok             FAULT              ok                ok
    message   -         -              -, degraded        restored          vm-1 down

If a failed call counted as an observation, or reset the streak, the "down" alert would come
at another run; if a fault were read as "backend down" it would come during the outage.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.conftest import Inbox
from tests.integration.harness import KEY, Harness, fleet, harness_factory, status, summarize

from zlb_health.zenlayer.credentials import AccessKey, BearerToken
from zlb_health_tools.emulator.scenario import Scenario
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration

FAULT_STEPS = (2, 3)
THRESHOLDS = {"FAILURE_THRESHOLD": "3", "RECOVERY_THRESHOLD": "2", "MONITOR_FAILURE_THRESHOLD": "2"}


@pytest.fixture
def harness_for(stack: LocalStack) -> Iterator[Callable[..., Harness]]:
    yield from harness_factory(stack)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def monitors_of(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{load balancer: its `monitor` details} of a (grouped) monitor message."""
    body = message["body"]
    if "loadBalancers" in body:
        return {entry["loadBalancerId"]: entry["monitor"] for entry in body["loadBalancers"]}
    return {body["loadBalancerId"]: body["monitor"]}


@dataclass(frozen=True)
class FaultCase:
    """One way the API can fail at steps 2-3, and what the monitor must make of it."""

    name: str
    kind: str  # the error kind recorded (RunReport, snapshot, monitor details)
    fault: dict[str, Any] | None = None  # an emulator fault on lb-a
    # Instead: a differently configured client for the fault runs (all load balancers fail).
    client: Callable[[Harness], Any] | None = None
    code: str | None = None
    client_options: dict[str, Any] = field(default_factory=dict)

    @property
    def failing(self) -> list[str]:
        return ["lb-a"] if self.fault is not None else ["lb-a", "lb-b"]


def wrong_password(h: Harness) -> Any:
    return h.make_client(credentials=AccessKey(KEY.access_key_id, "not-the-password"))


def expired_timestamp(h: Harness) -> Any:
    # A clock 10 minutes slow: the emulator refuses timestamps more than 300 s off.
    return h.make_client(wall_clock=lambda: time.time() - 600)


def wrong_token(h: Harness) -> Any:
    return h.make_client(credentials=BearerToken("expired-or-revoked-token"))


def unreachable(h: Harness) -> Any:
    return h.make_client(endpoint=f"http://127.0.0.1:{closed_port()}", connect_timeout=0.5)


CASES = [
    FaultCase("throttle_storm", "throttled", {"type": "throttle"}, code="REQUEST_LIMIT_EXCEEDED"),
    FaultCase("server_500", "server", {"type": "server_error", "status": 500}),
    FaultCase("server_503", "server", {"type": "server_error", "status": 503}),
    FaultCase("gateway_504", "server", {"type": "server_error", "status": 504}),
    FaultCase("read_timeout", "transport", {"type": "timeout", "seconds": 5}),
    FaultCase("connection_reset", "transport", {"type": "reset"}),
    FaultCase("html_502_from_proxy", "server", {"type": "html", "status": 502}),
    FaultCase("html_200_from_proxy", "malformed", {"type": "html", "status": 200}),
    FaultCase("seed_invalid_json", "malformed", {"type": "malformed"}),
    FaultCase("truncated_json", "malformed", {"type": "truncated"}),
    FaultCase("missing_backends", "malformed", {"type": "missing_backends"}),
    FaultCase(
        "oversized",
        "malformed",
        {"type": "oversized", "bytes": 300_000},
        client_options={"max_response_bytes": 64 * 1024},
    ),
    FaultCase(
        "load_balancer_gone",
        "not_found",
        {"type": "not_found"},
        code="INVALID_LOAD_BALANCER_NOT_FOUND",
    ),
    FaultCase("connect_refused", "transport", client=unreachable),
    FaultCase("wrong_password", "auth", client=wrong_password, code="SIGNATURE_FAILURE"),
    FaultCase("expired_timestamp", "auth", client=expired_timestamp, code="INVALID_TIMESTAMP"),
    FaultCase("wrong_token", "auth", client=wrong_token, code="INVALID_TOKEN"),
]


def scenario_for(case: FaultCase) -> Scenario:
    faults = []
    if case.fault is not None:
        faults.append(
            {
                **case.fault,
                "loadBalancerId": "lb-a",
                "fromStep": FAULT_STEPS[0],
                "toStep": FAULT_STEPS[-1],
            }
        )
    return fleet([status(1, "vm-1", "Dead")], faults=faults)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_api_fault_degrades_once_restores_once_and_keeps_the_streak(
    harness_for: Callable[..., Harness],
    inbox: Inbox,
    case: FaultCase,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="zlb_health")
    h = harness_for(
        scenario_for(case),
        client_options={"read_timeout": 0.5, **case.client_options},
        LOAD_BALANCER_IDS="lb-a,lb-b",
        **THRESHOLDS,
    )
    fault_client = case.client(h) if case.client is not None else None
    batches: list[list[Any]] = []
    degraded: list[dict[str, Any]] = []
    for run in range(7):
        in_fault = run in FAULT_STEPS
        monitor = h.monitor(client=fault_client) if in_fault and fault_client else None
        report = h.run(monitor)
        messages = inbox.messages()
        batches.append([summarize(m) for m in messages])
        degraded += [m for m in messages if m["attributes"]["event_type"] == "monitor_degraded"]
        if in_fault:
            assert report.failed == case.failing
            assert report.checked == sorted({"lb-a", "lb-b"} - set(case.failing))
            for lb in case.failing:
                lb_report = report.load_balancers[lb]
                assert lb_report.error_kind == case.kind, lb_report.error
                assert lb_report.notifications_created == int(run == FAULT_STEPS[-1])
        else:
            assert report.failed == []
            assert report.checked == ["lb-a", "lb-b"]

    scope = case.failing[0] if len(case.failing) == 1 else "*"
    assert batches == [
        [],
        [],
        [],  # first failed call: below MONITOR_FAILURE_THRESHOLD, and never "down"
        [("monitor_degraded", "warning", scope, [])],
        [("monitor_restored", "info", scope, [])],
        # The streak of Dead observations continued exactly: 1 before, 2 and 3 after.
        [("health_change", "warning", "lb-a", [("vm-1", "Alive", "Dead")])],
        [],
    ]
    # The degraded message says clearly what went wrong, per load balancer.
    (message,) = degraded
    details = monitors_of(message)
    assert sorted(details) == case.failing
    for detail in details.values():
        assert detail["kind"] == case.kind
        assert detail["consecutiveFailures"] == 2
        if case.code is not None:
            assert detail["code"] == case.code
    # One warning line per failed check, naming the kind; never a secret.
    failures = [r for r in caplog.records if r.getMessage() == "check failed"]
    assert len(failures) == 2 * len(case.failing)
    for record in failures:
        assert f"({case.kind})" in record.__dict__["error"]
        assert "\n" not in record.__dict__["error"]
    assert KEY.access_key_password not in caplog.text
    assert all(KEY.access_key_password not in repr(r.__dict__) for r in caplog.records)


def test_throttle_retried_within_the_deadline_is_not_a_failure(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    """One 429 per load balancer per step: the retry succeeds, nothing is degraded or lost."""
    h = harness_for(
        fleet(
            [status(1, "vm-1", "Dead")],
            faults=[{"type": "throttle", "fromStep": 0, "toStep": 5, "count": 1}],
        ),
        LOAD_BALANCER_IDS="lb-a",
    )
    reports = [h.run() for _ in range(4)]
    assert [r.checked for r in reports] == [["lb-a"]] * 4
    assert [[summarize(m)[:3]] for m in inbox.messages()] == [
        [("health_change", "warning", "lb-a")]
    ]
    per_step = [
        [e["status"] for e in h.emulator.request_log if e["step"] == step] for step in range(4)
    ]
    assert per_step == [[429, 200]] * 4


def test_throttle_storm_stops_at_the_deadline_without_sleeping_past_it(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    """A 429 storm with a long backoff: the client gives up at the deadline, no alert is made."""
    h = harness_for(
        fleet([], faults=[{"type": "throttle", "loadBalancerId": "lb-a"}]),
        LOAD_BALANCER_IDS="lb-a,lb-b",
        MONITOR_FAILURE_THRESHOLD="1",
    )
    patient = h.make_client(max_attempts=10, backoff_base=30.0, backoff_cap=60.0, rng=lambda: 1.0)
    report = h.run(h.monitor(client=patient), api_deadline=time.monotonic() + 20.0)
    assert report.failed == ["lb-a"]
    assert report.checked == ["lb-b"]
    assert report.load_balancers["lb-a"].error_kind == "deadline"
    assert "throttled" in (report.load_balancers["lb-a"].error or "")
    # One attempt: the 30 s backoff would end past the deadline, so it was never slept.
    assert [e["status"] for e in h.emulator.request_log if e["loadBalancerId"] == "lb-a"] == [429]
    # MONITOR_FAILURE_THRESHOLD=1: the persisting storm degrades monitoring at once.
    assert [summarize(m)[:3] for m in inbox.messages()] == [("monitor_degraded", "warning", "lb-a")]


def test_empty_backends_that_persist_remove_every_backend_never_down(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    """An empty `backends` list is a valid answer, but absence is "no data" until it persists
    (two answers in a row at least): then the backends are removed, and the listener left with
    no backend at all is a warning. Never a "down", never "monitoring degraded"."""
    h = harness_for(
        fleet(
            [status(1, "vm-1", "Dead")],
            faults=[{"type": "empty_backends", "loadBalancerId": "lb-a", "fromStep": 2}],
        ),
        **THRESHOLDS,
    )
    h.run()
    h.run()  # vm-1 Dead (1)
    emptied = h.run()
    assert emptied.checked == ["lb-a", "lb-b"]
    assert emptied.load_balancers["lb-a"].counts["backends"] == 0
    h.run()
    assert inbox.messages() == []  # absent twice: no data yet (FAILURE_THRESHOLD is 3)
    h.run()
    assert [summarize(m) for m in inbox.messages()] == [
        # vm-1 was Dead once only: users were last told it was Alive.
        ("health_change", "warning", "lb-a", [("vm-1", "Alive", None), ("vm-2", "Alive", None)])
    ]
    for _ in range(3):
        h.run()
    assert inbox.messages() == []  # still empty: nothing more to say, and never "down"


def test_one_empty_answer_changes_nothing(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(
        fleet(
            [status(1, "vm-1", "Dead")],
            faults=[
                {"type": "empty_backends", "loadBalancerId": "lb-a", "fromStep": 2, "toStep": 2}
            ],
        ),
        **THRESHOLDS,
    )
    reports = [h.run() for _ in range(5)]
    assert reports[2].load_balancers["lb-a"].counts["backends"] == 0
    # vm-1: Dead at steps 1, (absent at 2), 3, 4: the empty answer neither counted nor broke
    # the streak, and the third Dead (FAILURE_THRESHOLD 3) is the one down.
    assert [summarize(m) for m in inbox.messages()] == [
        ("health_change", "warning", "lb-a", [("vm-1", "Alive", "Dead")])
    ]


def test_discovery_failure_polls_the_known_load_balancers_and_is_announced(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    """No LOAD_BALANCER_IDS: while DescribeLoadBalancers fails, the load balancers already known
    are polled directly (their health may still answer), and discovery itself is a monitor
    scope: degraded after the threshold, restored when the listing works again."""
    h = harness_for(
        fleet(
            [status(1, "vm-1", "Dead")],
            faults=[
                {
                    "type": "server_error",
                    "status": 502,
                    "actions": ["DescribeLoadBalancers"],
                    "fromStep": 2,
                    "toStep": 3,
                }
            ],
        ),
        **THRESHOLDS,
    )
    batches = []
    for run in range(6):
        report = h.run()
        batches.append([summarize(m) for m in inbox.messages()])
        if run in FAULT_STEPS:
            assert report.discovery_error is not None
            assert "DescribeLoadBalancers failed (server)" in report.discovery_error
            assert report.checked == ["lb-a", "lb-b"]
    assert batches == [
        [],
        [],
        [],
        [
            ("monitor_degraded", "warning", "*", []),
            ("health_change", "warning", "lb-a", [("vm-1", "Alive", "Dead")]),
        ],
        [("monitor_restored", "info", "*", [])],
        [],
    ]
