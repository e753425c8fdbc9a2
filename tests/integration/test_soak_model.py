"""Model-based soak: random health changes and faults, hundreds of real runs, and the
notifications actually delivered (SNS -> SQS) compared with an independent reference model.

Hypothesis draws a plan: per-backend status segments (Alive / Dead / Unknown), API failures of
a load balancer at some steps (5xx, invalid JSON, truncated JSON, 429), SNS refusing every
Publish at some runs, and the three thresholds. The plan becomes an emulator scenario (timeline
+ faults), the real Monitor runs once per step against the emulator and moto's server, and the
multiset of delivered (load balancer, backend, previous -> current) transitions plus monitor
degraded/restored events must equal what `Reference` derives from the emulator's ground truth.
Nothing lost (SNS failures only delay), nothing doubled.

`Reference` is written from the rules in the README/engine docstring, not from the engine:
single-port backends, no Close, no added/removed backends, reminders off.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import Inbox
from tests.integration.harness import KEY, Harness

from zlb_health_tools.emulator.scenario import Scenario
from zlb_health_tools.emulator.server import Emulator
from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import create_local_stack

pytestmark = pytest.mark.integration

FLEET = {"lb-x": ("vm-1", "vm-2"), "lb-y": ("vm-3",)}
STATUSES = ("Alive", "Dead", "Unknown")
API_FAULTS = ("server_error", "malformed", "truncated", "throttle")
TAIL_RUNS = 2  # fault-free runs at the end, so every pending message gets delivered
Event = tuple[Any, ...]


# -- the reference model ----------------------------------------------------------------------


@dataclass
class _Unit:
    notified: str | None = None  # what users were last told
    streak_status: str | None = None
    streak: int = 0


@dataclass
class _Lb:
    units: dict[str, _Unit] = field(default_factory=dict)
    failures: int = 0
    degraded: bool = False


class Reference:
    """The rules, per backend:

    - Unknown is no data: it neither counts toward nor breaks a streak, and never alerts.
    - Dead `failure` times in a row -> "down" (previous: what users were told, or none).
    - Alive `recovery` times in a row after "down" -> recovered. A backend never reported
      before is taken as Alive silently (baseline).
    - A failed API call is no observation: streaks are kept. `monitor_failure` failed calls in
      a row -> monitor_degraded once; the next successful call -> monitor_restored once.
    """

    def __init__(self, failure: int, recovery: int, monitor_failure: int) -> None:
        self.failure = failure
        self.recovery = recovery
        self.monitor_failure = monitor_failure
        self.lbs: dict[str, _Lb] = {}
        self.events: list[Event] = []

    def observe(self, lb_id: str, statuses: dict[str, str]) -> None:
        lb = self.lbs.setdefault(lb_id, _Lb())
        if lb.degraded:
            self.events.append(("monitor_restored", lb_id))
        lb.failures, lb.degraded = 0, False
        for backend, observed in statuses.items():
            unit = lb.units.setdefault(backend, _Unit())
            if observed not in ("Alive", "Dead"):
                continue
            if unit.streak_status == observed:
                unit.streak += 1
            else:
                unit.streak_status, unit.streak = observed, 1
            if unit.notified == observed:
                continue
            if observed == "Alive" and unit.notified is None:
                unit.notified = "Alive"  # baseline: nothing to say
                continue
            needed = self.recovery if observed == "Alive" else self.failure
            if unit.streak >= needed:
                self.events.append(("transition", lb_id, backend, unit.notified, observed))
                unit.notified = observed

    def fail(self, lb_id: str) -> None:
        lb = self.lbs.setdefault(lb_id, _Lb())
        lb.failures += 1
        if not lb.degraded and lb.failures >= self.monitor_failure:
            lb.degraded = True
            self.events.append(("monitor_degraded", lb_id))


# -- what subscribers received ----------------------------------------------------------------


def delivered_events(message: dict[str, Any]) -> list[Event]:
    body = message["body"]
    event_type = message["attributes"]["event_type"]
    assert not body.get("digest"), "MAX_MESSAGES_PER_RUN is set high enough to avoid digests"
    if event_type == "health_change":
        events: list[Event] = [
            (
                "transition",
                body["loadBalancerId"],
                t["instanceId"],
                t["previousStatus"],
                t["currentStatus"],
            )
            for t in body["transitions"]
        ]
        assert body["transitionsOmitted"] == 0
        if body["monitorRestored"]:
            events.append(("monitor_restored", body["loadBalancerId"]))
        return events
    assert event_type in ("monitor_degraded", "monitor_restored"), event_type
    if "loadBalancers" in body:
        return [(event_type, entry["loadBalancerId"]) for entry in body["loadBalancers"]]
    return [(event_type, body["loadBalancerId"])]


# -- plans ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    runs: int
    failure: int
    recovery: int
    monitor_failure: int
    statuses: dict[str, list[str]]  # backend -> status at each step
    api_faults: dict[tuple[str, int], str]  # (load balancer, step) -> fault type
    sns_down: frozenset[int]  # runs at which SNS refuses every Publish

    def scenario(self) -> Scenario:
        backends = {b: lb for lb, bs in FLEET.items() for b in bs}
        timeline = [
            {
                "step": step,
                "action": "set_status",
                "loadBalancerId": backends[b],
                "listenerId": f"lsn-{backends[b]}",
                "backend": b,
                "healthStatus": seq[step],
            }
            for b, seq in self.statuses.items()
            for step in range(1, len(seq))
            if seq[step] != seq[step - 1]
        ]
        faults = [
            {"type": kind, "loadBalancerId": lb, "fromStep": step, "toStep": step}
            for (lb, step), kind in sorted(self.api_faults.items())
        ]
        return Scenario.from_dict(
            {
                "steps": self.runs + TAIL_RUNS,
                "loadBalancers": [
                    {
                        "loadBalancerId": lb,
                        "listeners": [
                            {
                                "listenerId": f"lsn-{lb}",
                                "listenerPort": "80",
                                "backends": [
                                    {
                                        "instanceId": b,
                                        "privateIpAddress": f"10.0.0.{int(b[3:])}",
                                        "backendPort": 8080,
                                        "healthStatus": self.statuses[b][0],
                                    }
                                    for b in bs
                                ],
                            }
                        ],
                    }
                    for lb, bs in FLEET.items()
                ],
                "timeline": timeline,
                "faults": faults,
            }
        )


def _expand(segments: list[tuple[str, int]], length: int) -> list[str]:
    out = [status for status, n in segments for _ in range(n)]
    out += [out[-1]] * max(0, length - len(out))
    return out[:length]


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    runs = draw(st.integers(min_value=12, max_value=30))
    segment = st.tuples(st.sampled_from(STATUSES), st.integers(min_value=1, max_value=5))
    statuses = {
        b: _expand(draw(st.lists(segment, min_size=1, max_size=10)), runs)
        for bs in FLEET.values()
        for b in bs
    }
    outage = st.tuples(
        st.sampled_from(sorted(FLEET)),
        st.integers(min_value=0, max_value=runs - 1),
        st.integers(min_value=1, max_value=4),
        st.sampled_from(API_FAULTS),
    )
    api_faults: dict[tuple[str, int], str] = {}
    for lb, start, length, kind in draw(st.lists(outage, max_size=4)):
        for step in range(start, min(runs, start + length)):
            api_faults[(lb, step)] = kind
    down = draw(st.lists(st.booleans(), min_size=runs, max_size=runs))
    # At most 3 failing runs in a row: the outbox keeps 20 per load balancer, far above this.
    sns_down = frozenset(r for r, d in enumerate(down) if d and r % 4 != 3)
    thresholds = st.integers(min_value=1, max_value=3)
    return Plan(
        runs=runs,
        failure=draw(thresholds),
        recovery=draw(thresholds),
        monitor_failure=draw(thresholds),
        statuses=statuses,
        api_faults=api_faults,
        sns_down=sns_down,
    )


# -- the soak ---------------------------------------------------------------------------------


def soak(plan: Plan, local_aws: LocalAws) -> tuple[Counter[Event], Counter[Event], int]:
    stack = create_local_stack(local_aws.url)
    inbox = Inbox(stack)
    reference = Reference(plan.failure, plan.recovery, plan.monitor_failure)
    with Emulator(plan.scenario(), credentials=[KEY], log_requests=False) as emulator:
        h = Harness(
            emulator,
            stack,
            client_options={"read_timeout": 15.0},
            LOAD_BALANCER_IDS=",".join(FLEET),
            FAILURE_THRESHOLD=str(plan.failure),
            RECOVERY_THRESHOLD=str(plan.recovery),
            MONITOR_FAILURE_THRESHOLD=str(plan.monitor_failure),
            MAX_MESSAGES_PER_RUN="100",
        )
        sns_down = {"now": False}

        def refuse(**_: Any) -> None:
            if sns_down["now"]:
                raise ClientError({"Error": {"Code": "Throttling", "Message": "x"}}, "Publish")

        h.sns.meta.events.register("before-call.sns.Publish", refuse)
        delivered: Counter[Event] = Counter()
        for run in range(plan.runs + TAIL_RUNS):
            truth = emulator.ground_truth()
            sns_down["now"] = run in plan.sns_down
            report = h.run()
            for lb in FLEET:
                if (lb, run) in plan.api_faults:
                    reference.fail(lb)
                    assert report.failed.count(lb) == 1
                else:
                    reference.observe(lb, {b["instanceId"]: b["healthStatus"] for b in truth[lb]})
                    assert lb in report.checked
            for message in inbox.messages():
                delivered.update(delivered_events(message))
        assert report.notifications_pending == 0  # the tail delivered everything
    return delivered, Counter(reference.events), plan.runs + TAIL_RUNS


@settings(
    max_examples=24,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plan=plans())
def test_delivered_notifications_equal_the_reference_model(local_aws: LocalAws, plan: Plan) -> None:
    delivered, expected, _runs = soak(plan, local_aws)
    assert delivered == expected, (
        f"lost: {sorted((expected - delivered).elements())}; "
        f"doubled or unexpected: {sorted((delivered - expected).elements())}"
    )


def test_reference_model_follows_the_documented_rules() -> None:
    """The model itself, on a hand-checked story (thresholds 2/2/2)."""
    ref = Reference(2, 2, 2)
    for statuses in (
        {"a": "Alive"},  # baseline
        {"a": "Dead"},
        {"a": "Unknown"},  # no data: the streak is kept
        {"a": "Dead"},  # 2nd Dead -> down
    ):
        ref.observe("lb", statuses)
    ref.fail("lb")
    ref.fail("lb")  # degraded
    ref.fail("lb")
    ref.observe("lb", {"a": "Alive"})  # restored, Alive (1)
    ref.observe("lb", {"a": "Alive"})  # recovered
    ref.observe("lb2", {"b": "Dead"})
    ref.observe("lb2", {"b": "Dead"})  # never seen Alive: down from nothing
    assert ref.events == [
        ("transition", "lb", "a", "Alive", "Dead"),
        ("monitor_degraded", "lb"),
        ("monitor_restored", "lb"),
        ("transition", "lb", "a", "Dead", "Alive"),
        ("transition", "lb2", "b", None, "Dead"),
    ]
