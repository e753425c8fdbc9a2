"""The check cycle's own logic, on in-memory ports (tests/fakes.py): no servers, milliseconds.

The same behaviours over real HTTP (emulator, moto's server) are in tests/integration/.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.fakes import FakeApi, FakePublisher, InMemoryStore, row

from zlb_health import monitor as monitor_module
from zlb_health.adapters.aws import Deadline
from zlb_health.config import load_config
from zlb_health.engine.maintenance import Silence
from zlb_health.engine.observation import LbObservation
from zlb_health.engine.state import FLEET_ID, FleetState, LbState
from zlb_health.monitor import ONE_SHARD, Monitor, RunReport
from zlb_health.shards import Shard, shard_of
from zlb_health.zenlayer.errors import AuthError, ServerError
from zlb_health.zenlayer.models import BackendHealthResult

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass
class Cycle:
    """A monitor on fakes, one scheduled tick per `tick()`."""

    env: dict[str, str] = field(default_factory=dict)
    api: FakeApi = field(default_factory=FakeApi)
    store: InMemoryStore = field(default_factory=InMemoryStore)
    sns: FakePublisher = field(default_factory=FakePublisher)
    now: datetime = T0
    runs: int = 0

    def monitor(self) -> Monitor:
        config = load_config(
            {
                "TABLE_NAME": "t",
                "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
                "FAILURE_THRESHOLD": "2",
                "RECOVERY_THRESHOLD": "2",
                "MONITOR_FAILURE_THRESHOLD": "2",
                **self.env,
            }
        )
        return Monitor(
            config=config,
            client=self.api,
            store=self.store,
            publisher=self.sns,
            clock=lambda: self.now,
            monotonic=lambda: 0.0,
        )

    def tick(
        self, *, again: bool = False, deadline: Deadline | None = None, shard: Shard = ONE_SHARD
    ) -> RunReport:
        """One run of the current tick (`again`: the previous tick delivered a second time)."""
        self.runs += 1
        tick = self.now - timedelta(minutes=1) if again else self.now
        report = self.monitor().run_once(
            run_id=f"run-{self.runs}",
            api_deadline=float("inf"),
            lease_until=(self.now + timedelta(seconds=50)).timestamp(),
            scheduled_time=tick,
            shard=shard,
            deadline=deadline,
        )
        if not again:
            self.now += timedelta(minutes=1)
        return report

    def said(self) -> list[tuple[str, str, str]]:
        return [
            (
                m["attributes"]["event_type"],
                m["attributes"]["severity"],
                m["attributes"]["load_balancer_id"],
            )
            for m in self.sns.take()
        ]

    def state(self, lb: str) -> LbState:
        state = self.store.items[lb].state
        assert isinstance(state, LbState)
        return state


def two_backends(status: str = "Alive") -> list[Any]:
    return [row("vm-1", status), row("vm-2")]


def test_a_backend_down_for_the_threshold_is_told_once() -> None:
    c = Cycle()
    c.api.fleet["lb-1"] = two_backends()
    c.tick()
    c.api.fleet["lb-1"] = two_backends("Dead")
    c.tick()
    assert c.said() == []
    c.tick()
    assert c.said() == [("health_change", "warning", "lb-1")]
    c.tick()
    assert c.said() == []
    fleet = c.store.items[FLEET_ID].state
    assert isinstance(fleet, FleetState)
    assert fleet.known == {"lb-1"}  # the registry: load balancers with a state


def test_a_load_balancer_is_judged_while_another_is_still_being_polled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine's work on one load balancer's answer overlaps the calls still in flight
    (issue 12: the cycle is the API's latency, not latency plus evaluation)."""
    judged = threading.Event()
    real = monitor_module.apply_observation

    def watching(state: LbState, observation: LbObservation, *a: Any, **kw: Any) -> Any:
        if observation.load_balancer_id == "lb-fast":
            judged.set()
        return real(state, observation, *a, **kw)

    slow_saw: list[bool] = []

    @dataclass
    class SlowApi(FakeApi):
        slow: bool = False

        def describe_backend_health(
            self, load_balancer_id: str, listener_id: str | None = None, **kw: Any
        ) -> BackendHealthResult:
            if self.slow and load_balancer_id == "lb-slow":
                slow_saw.append(judged.wait(timeout=30))  # a guard: set at once when it works
            return super().describe_backend_health(load_balancer_id, listener_id, **kw)

    c = Cycle(api=SlowApi(), env={"API_CONCURRENCY": "2"})
    c.api.fleet = {"lb-fast": two_backends(), "lb-slow": two_backends()}
    c.tick()  # the states exist: the next run judges each answer against its state
    monkeypatch.setattr(monitor_module, "apply_observation", watching)
    c.api.slow = True
    c.api.fleet["lb-fast"] = two_backends("Dead")
    report = c.tick()
    assert slow_saw == [True]
    assert report.checked == ["lb-fast", "lb-slow"]
    # The judged answer is saved as usual: its snapshot, and vm-1's first Dead of a streak.
    assert "lb-fast" in {s.load_balancer_id for s in c.store.snapshots[2:]}
    units = {b.target: b.units for b in c.state("lb-fast").backends.values()}
    assert [(u.streak_status, u.streak) for u in units["vm-1"].values()] == [("Dead", 1)]


def test_a_second_delivery_of_a_tick_observes_nothing_and_delivers_what_is_pending() -> None:
    c = Cycle()
    c.api.fleet["lb-1"] = two_backends()
    c.tick()
    c.tick()
    c.tick()  # streaks saturated: steady from here
    c.api.fleet["lb-1"] = two_backends("Dead")
    c.sns.down = True
    c.tick()
    before = c.state("lb-1").to_dict()
    c.tick()  # Dead twice: down, but SNS refuses
    c.sns.down = False
    duplicate = c.tick(again=True)
    assert duplicate.duplicate_tick
    assert duplicate.checked == []
    assert c.said() == [("health_change", "warning", "lb-1")]  # pending, delivered
    assert c.state("lb-1").to_dict() != before  # the down was recorded by the first delivery
    c.api.fleet["lb-1"] = two_backends()  # whatever a duplicate sees, it is not observed
    again = c.tick(again=True)
    assert (again.duplicate_tick, c.said()) == (True, [])


def test_while_discovery_fails_the_known_load_balancers_are_polled_and_it_is_announced() -> None:
    c = Cycle()
    c.api.fleet["lb-1"] = two_backends()
    c.tick()
    c.api.discovery_error = AuthError("authentication or authorization failed", status=401,
                                      code="SIGNATURE_FAILURE")  # fmt: skip
    c.api.fleet["lb-1"] = two_backends("Dead")
    first = c.tick()
    assert first.checked == ["lb-1"]
    assert first.discovery_error == (
        "Zenlayer API failed (auth): authentication or authorization failed http=401 "
        "code=SIGNATURE_FAILURE"
    )
    assert c.said() == []
    c.tick()  # the 2nd failure: discovery degraded; vm-1 Dead twice: down
    assert sorted(c.said()) == [
        ("health_change", "warning", "lb-1"),
        ("monitor_degraded", "warning", "*"),
    ]
    c.api.discovery_error = None
    c.tick()
    assert c.said() == [("monitor_restored", "info", "*")]


def test_a_first_deployment_with_wrong_credentials_is_not_silent() -> None:
    c = Cycle()
    c.api.discovery_error = AuthError("authentication or authorization failed", status=401)
    assert c.tick().checked == []
    c.tick()
    (message,) = c.sns.take()
    assert message["attributes"]["event_type"] == "monitor_degraded"
    assert json.loads(message["default"])["monitorEvents"][0]["scope"] == "discovery"


def test_a_failing_listener_target_is_degraded_on_its_own() -> None:
    c = Cycle(env={"LOAD_BALANCER_IDS": "lb-1/lsn-1,lb-1/lsn-2"})
    c.api.fleet["lb-1"] = [row("vm-1"), row("vm-2", listener="lsn-2")]
    c.tick()
    c.api.failures[("lb-1", "lsn-2")] = ServerError("server error (HTTP 503)", status=503)
    c.api.fleet["lb-1"] = [row("vm-1", "Dead"), row("vm-2", listener="lsn-2")]
    c.tick()
    c.tick()
    (message,) = c.sns.take()
    body = json.loads(message["default"])
    assert (message["attributes"]["severity"], body["criticalListeners"][0]["listenerId"]) == (
        "critical",
        "lsn-1",
    )
    assert [(e["scope"], e["change"]) for e in body["monitorEvents"]] == [("lsn-2", "degraded")]


def test_a_load_balancer_dropped_from_the_targets_is_told_once_then_forgotten() -> None:
    c = Cycle(env={"LOAD_BALANCER_IDS": "lb-1,lb-2"})
    c.api.fleet = {"lb-1": two_backends(), "lb-2": [row("vm-9", "Dead")]}
    c.tick()
    c.tick()
    assert c.said() == [("health_change", "critical", "lb-2")]  # vm-9 was Dead from the start
    c.env["LOAD_BALANCER_IDS"] = "lb-1"
    report = c.tick()
    assert report.retired == ["lb-2"]
    (message,) = c.sns.take()
    body = json.loads(message["default"])
    assert (body["retired"], body["transitions"][0]["reason"]) == ("unmonitored", "unmonitored")
    c.tick()
    assert "lb-2" not in c.store.items
    fleet = c.store.items[FLEET_ID].state
    assert isinstance(fleet, FleetState)
    assert fleet.known == {"lb-1"}


def test_a_load_balancer_missing_from_two_listings_is_deleted_then_forgotten() -> None:
    c = Cycle()
    c.api.fleet = {"lb-1": two_backends(), "lb-2": [row("vm-9")]}
    c.tick()
    del c.api.fleet["lb-2"]
    assert c.tick().retired == []
    assert c.state("lb-2").missing == 1
    assert c.tick().retired == ["lb-2"]
    (message,) = c.sns.take()
    assert json.loads(message["default"])["retired"] == "deleted"
    c.tick()
    assert set(c.store.items) == {"lb-1", FLEET_ID}


def test_a_retired_load_balancer_seen_again_starts_from_a_silent_baseline() -> None:
    c = Cycle()
    c.api.fleet = {"lb-1": two_backends(), "lb-2": [row("vm-9")]}
    c.tick()
    backends = c.api.fleet.pop("lb-2")
    c.tick()
    c.sns.down = True  # its last word stays pending: the state is retired, not forgotten
    c.tick()
    c.api.fleet["lb-2"] = backends
    c.sns.down = False
    c.tick()
    said = [json.loads(m["default"]) for m in c.sns.take()]
    assert [(b["loadBalancerId"], b["retired"]) for b in said] == [("lb-2", "deleted")]
    assert not c.state("lb-2").retired
    assert c.tick().messages_published == 0


def test_when_dynamodb_cannot_record_a_delivery_the_run_stops_publishing() -> None:
    c = Cycle()
    c.api.fleet = {"lb-1": two_backends(), "lb-2": two_backends()}
    c.tick()
    c.api.fleet = {"lb-1": two_backends("Dead"), "lb-2": two_backends("Dead")}
    c.tick()
    c.store.failing["UpdateItem"] = "ProvisionedThroughputExceededException"
    report = c.tick()
    assert (report.messages_published, len(c.sns.take())) == (1, 1)
    assert report.store_errors == [
        "lb-1: DynamoDB UpdateItem failed: ProvisionedThroughputExceededException",
        "*: DynamoDB UpdateItem failed: ProvisionedThroughputExceededException",  # the tick
    ]
    assert report.notifications_pending == 1


def test_no_store_call_starts_once_the_run_deadline_is_too_close() -> None:
    c = Cycle()
    c.api.fleet["lb-1"] = two_backends()
    report = c.tick(deadline=Deadline(5.0, lambda: 0.0))  # 5 s left: less than one call's worst
    assert report.deadline_reached
    assert "TransactWriteItems" not in c.store.calls
    assert c.store.items == {}


def test_a_commit_that_loses_the_race_is_re_evaluated_and_told_once() -> None:
    c = Cycle()
    c.api.fleet["lb-1"] = two_backends()
    c.tick()
    c.api.fleet["lb-1"] = two_backends("Dead")
    c.tick()
    raced = {"done": False}

    def another_run_writes_first(subject: str) -> None:
        if subject == "lb-1" and not raced["done"]:
            raced["done"] = True
            c.store.items["lb-1"].version += 1  # the same change, saved by the other run

    c.store.before_commit = another_run_writes_first
    report = c.tick()
    assert report.commit_conflicts == 1
    assert c.said() == [("health_change", "warning", "lb-1")]


def test_a_state_that_cannot_be_saved_is_an_error_and_nothing_is_told() -> None:
    c = Cycle()
    c.api.fleet["lb-1"] = two_backends()
    c.tick()
    c.api.fleet["lb-1"] = two_backends("Dead")
    c.tick()
    c.store.failing["TransactWriteItems"] = "InternalServerError"
    report = c.tick()
    assert report.store_errors == ["lb-1: DynamoDB TransactWriteItems failed: InternalServerError"]
    assert c.said() == []
    del c.store.failing["TransactWriteItems"]
    c.tick()  # the unsaved observation never happened: this one is the second Dead
    assert c.said() == [("health_change", "warning", "lb-1")]


def test_a_refused_message_is_released_and_merged_with_what_comes_next() -> None:
    c = Cycle(env={"FAILURE_THRESHOLD": "1", "RECOVERY_THRESHOLD": "1"})
    c.api.fleet["lb-1"] = two_backends()
    c.tick()
    c.api.fleet["lb-1"] = two_backends("Dead")
    c.sns.fail_next = 1
    report = c.tick()
    assert (report.messages_failed, report.notifications_pending) == (1, 1)
    (entry,) = c.store.items["lb-1"].outbox.values()
    assert entry.claim is None  # released at once, not left to its lease
    c.api.fleet["lb-1"] = [row("vm-1", "Dead"), row("vm-2", "Dead")]
    c.tick()
    (message,) = c.sns.take()
    body = json.loads(message["default"])
    assert body["coalesced"] == 2
    assert sorted(t["instanceId"] for t in body["transitions"]) == ["vm-1", "vm-2"]


def test_a_shard_polls_only_its_own_load_balancers() -> None:
    c = Cycle()
    ids = [f"lb-{i}" for i in range(8)]
    c.api.fleet = {lb: [row("vm-1")] for lb in ids}
    polled = []
    for index in range(2):
        c.api.calls.clear()
        c.tick(shard=Shard(index, 2))
        polled.append(sorted(lb for lb, _ in c.api.calls if lb != "DescribeLoadBalancers"))
    assert polled == [
        sorted(lb for lb in ids if shard_of(lb, 2) == 0),
        sorted(lb for lb in ids if shard_of(lb, 2) == 1),
    ]
    assert sorted(polled[0] + polled[1]) == ids  # every one, by exactly one shard


# -- maintenance silences -------------------------------------------------------------------------


def add_silence(c: Cycle, **fields: Any) -> Silence:
    values: dict[str, Any] = {
        "id": "sil-1",
        "load_balancer_id": "lb-1",
        "starts": c.now.isoformat(),
        "ends": (c.now + timedelta(minutes=5)).isoformat(),
        "comment": "maintenance",
        "author": "ana",
        "created_at": c.now.isoformat(),
        **fields,
    }
    silence = Silence(**values)
    c.store.silences[silence.id] = silence
    return silence


def test_a_silence_holds_back_what_it_matches_and_nothing_else() -> None:
    c = Cycle(env={"FAILURE_THRESHOLD": "1"})
    c.api.fleet = {"lb-1": two_backends(), "lb-2": two_backends()}
    c.tick()
    add_silence(c)
    c.api.fleet = {"lb-1": two_backends("Dead"), "lb-2": two_backends("Dead")}
    c.tick()
    assert c.said() == [("health_change", "warning", "lb-2")]  # lb-1's change held back
    held = [n for n in c.store.history if n.silenced_by == "sil-1"]
    assert [(n.load_balancer_id, [t.instance_id for t in n.transitions]) for n in held] == [
        ("lb-1", ["vm-1"])
    ]  # recorded in the history, marked with the silence
    assert c.store.matched == {"sil-1": 1}
    assert c.state("lb-1").silences == {"sil-1": "2026-11-23T12:01:00.000Z"}
    assert c.state("lb-1").backends  # still observed and tracked


def test_the_end_of_a_window_says_once_what_is_still_wrong() -> None:
    c = Cycle(env={"FAILURE_THRESHOLD": "1", "RECOVERY_THRESHOLD": "1"})
    c.api.fleet = {"lb-1": [row("vm-1"), row("vm-2"), row("vm-3")]}
    c.tick()
    add_silence(c, ends=(c.now + timedelta(minutes=3)).isoformat())
    c.api.fleet = {"lb-1": [row("vm-1", "Dead"), row("vm-2", "Dead"), row("vm-3")]}
    c.tick()
    c.api.fleet = {"lb-1": [row("vm-1"), row("vm-2", "Dead"), row("vm-3")]}
    c.tick()
    c.tick()
    assert c.said() == []  # all held during the window
    c.tick()  # 12:04: the window [12:01, 12:04) is over
    (message,) = c.sns.take()
    body = json.loads(message["default"])
    assert (message["attributes"]["event_type"], message["attributes"]["severity"]) == (
        "maintenance_ended",
        "warning",
    )
    assert [(t["instanceId"], t["kind"]) for t in body["transitions"]] == [("vm-2", "down")]
    assert [u["instanceId"] for u in body["unhealthy"]] == ["vm-2"]
    assert "vm-1" in message["email"]  # down and back during the window: email only
    assert "vm-1" not in message["sms"]
    c.tick()
    assert c.said() == []  # once
    assert c.state("lb-1").silences == {}


def test_the_end_of_a_window_that_changed_nothing_says_nothing() -> None:
    c = Cycle(env={"FAILURE_THRESHOLD": "1", "RECOVERY_THRESHOLD": "1"})
    c.api.fleet = {"lb-1": two_backends()}
    c.tick()
    add_silence(c, ends=(c.now + timedelta(minutes=2)).isoformat())
    c.api.fleet = {"lb-1": two_backends("Dead")}
    c.tick()
    c.api.fleet = {"lb-1": two_backends()}
    c.tick()
    c.tick()
    c.tick()
    assert c.said() == []
    assert c.store.items["lb-1"].outbox == {}


def test_an_acknowledgement_ends_when_the_backend_is_healthy_again() -> None:
    c = Cycle(env={"FAILURE_THRESHOLD": "1", "RECOVERY_THRESHOLD": "1"})
    c.api.fleet = {"lb-1": two_backends()}
    c.tick()
    c.api.fleet = {"lb-1": two_backends("Dead")}
    c.tick()
    assert c.said() == [("health_change", "warning", "lb-1")]  # paged, then acknowledged
    ack = add_silence(c, until_healthy=True, ends=(c.now + timedelta(hours=4)).isoformat())
    c.tick()
    c.tick()
    assert c.said() == []
    c.api.fleet = {"lb-1": two_backends()}
    c.tick()  # healthy again: the acknowledgement expires itself
    assert c.store.silences["sil-1"].expired_at == "2026-11-23T12:04:00.000Z"
    assert ack.expired_at is None
    c.tick()
    (message,) = c.sns.take()
    body = json.loads(message["default"])
    assert message["attributes"]["event_type"] == "maintenance_ended"
    assert [(t["instanceId"], t["kind"]) for t in body["transitions"]] == [("vm-1", "recovered")]


def test_silences_are_read_with_one_query_per_run() -> None:
    c = Cycle()
    c.api.fleet = {f"lb-{i}": two_backends() for i in range(5)}
    add_silence(c, load_balancer_id="*")
    c.store.calls.clear()
    c.tick()
    assert c.store.calls.count("Query") == 2  # the silences, and the registry's first run
    c.store.calls.clear()
    c.tick()
    assert c.store.calls.count("Query") == 1
