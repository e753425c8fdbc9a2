"""The check cycle end to end: emulator over HTTP, moto's server over HTTP, SNS seen via SQS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.conftest import Inbox
from tests.integration.harness import Harness, fleet, harness_factory, status, summarize

from zlb_health_tools.history import history_document
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration


@pytest.fixture
def harness_for(stack: LocalStack) -> Iterator[Callable[..., Harness]]:
    yield from harness_factory(stack)


def test_scripted_failure_critical_and_recovery(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(
        fleet(
            [
                status(1, "vm-1", "Dead"),
                status(3, "vm-2", "Dead"),
                status(5, "vm-1", "Alive"),
                status(5, "vm-2", "Alive"),
            ]
        )
    )
    seen = []
    for _ in range(7):
        h.run()
        seen.append([summarize(m) for m in inbox.messages()])
    assert seen == [
        [],  # step 0: baseline, silent
        [],  # step 1: vm-1 Dead once: below FAILURE_THRESHOLD
        [("health_change", "warning", "lb-a", [("vm-1", "Alive", "Dead")])],
        [],
        [("health_change", "critical", "lb-a", [("vm-2", "Alive", "Dead")])],
        [],
        [("health_change", "info", "lb-a", [("vm-1", "Dead", "Alive"), ("vm-2", "Dead", "Alive")])],
    ]


def test_notification_has_all_renditions(harness_for: Callable[..., Harness], inbox: Inbox) -> None:
    h = harness_for(fleet([status(1, "vm-9", "Dead", lb="lb-b", lsn="lsn-b")]))
    for _ in range(3):
        h.run()
    (message,) = inbox.messages()
    body = message["body"]
    assert body["schemaVersion"] == 1
    assert body["eventType"] == "health_change"
    assert body["severity"] == "critical"
    assert body["loadBalancerId"] == "lb-b"
    assert message["attributes"] == {
        "event_type": "health_change",
        "severity": "critical",
        "load_balancer_id": "lb-b",
    }


def test_sns_failure_delays_the_message_to_the_next_run_once(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead")]))
    h.run()
    h.run()

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "Publish")

    h.sns.meta.events.register("before-call.sns.Publish", refuse)
    failing = h.run()  # vm-1 Dead twice: the warning is due, but SNS refuses it
    h.sns.meta.events.unregister("before-call.sns.Publish", refuse)
    assert failing.messages_failed == 1
    assert failing.notifications_pending == 1
    assert inbox.messages() == []

    retried = h.run()
    assert retried.messages_published == 1
    assert [summarize(m) for m in inbox.messages()] == [
        ("health_change", "warning", "lb-a", [("vm-1", "Alive", "Dead")])
    ]
    assert h.run().messages_published == 0
    assert inbox.messages() == []


class CrashBeforePublishError(Exception):
    pass


def test_crash_between_saving_and_publishing_delivers_once_after_the_lease(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead")]))
    h.run()
    h.run()
    crashing = h.monitor()

    def crash(*_: Any, **__: Any) -> None:
        raise CrashBeforePublishError

    crashing._publish = crash  # type: ignore[method-assign]
    with pytest.raises(CrashBeforePublishError):
        h.run(crashing)
    assert inbox.messages() == []
    h.clock.tick()  # the crashed run never got to move time on
    # The next scheduled run starts after the crashed run's lease: it delivers, exactly once.
    assert h.run().messages_published == 1
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "warning", "lb-a")]
    h.run()
    assert inbox.messages() == []


def test_a_run_inside_another_runs_lease_leaves_its_messages_alone(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead")]))
    h.run()
    h.run()
    crashing = h.monitor()
    crashing._publish = lambda *a, **k: None  # type: ignore[method-assign]  # claimed, not sent
    h.run(crashing)
    h.clock.now -= timedelta(seconds=59)  # a second run 1 s later: the first still holds it
    assert h.run().messages_published == 0
    h.clock.tick(2)
    assert h.run().messages_published == 1
    assert len(inbox.messages()) == 1


def test_api_outage_gives_one_degraded_and_one_restored_and_no_backend_alert(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(
        fleet(
            [status(3, "vm-1", "Dead")],  # vm-1 dies during the outage: nobody can see it then
            faults=[
                {
                    "type": "server_error",
                    "loadBalancerId": "*",
                    "fromStep": 1,
                    "toStep": 5,
                    "status": 503,
                }
            ],
        )
    )
    batches = []
    for _ in range(8):
        report = h.run()
        batches.append([summarize(m)[:3] for m in inbox.messages()])
        if 2 <= h.runs <= 6:
            assert sorted(report.failed) == ["lb-a", "lb-b"]
    assert batches[0] == []
    assert batches[1] == []  # first failure: below MONITOR_FAILURE_THRESHOLD
    assert batches[2] == [("monitor_degraded", "warning", "*")]  # both grouped in one message
    assert batches[3:6] == [[], [], []]
    # Step 6: the API answers again: restored, grouped; vm-1 is Dead once so far (no alert yet).
    assert batches[6] == [("monitor_restored", "info", "*")]
    assert batches[7] == [("health_change", "warning", "lb-a")]


def test_state_survives_a_failed_call_for_one_load_balancer(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(
        fleet(
            [status(1, "vm-1", "Dead")],
            faults=[{"type": "malformed", "loadBalancerId": "lb-a", "fromStep": 2, "toStep": 2}],
        )
    )
    h.run()
    h.run()  # vm-1 Dead (1)
    report = h.run()  # lb-a answers garbage: no change, no alert; lb-b still checked
    assert report.failed == ["lb-a"]
    assert report.checked == ["lb-b"]
    assert inbox.messages() == []
    h.run()  # vm-1 Dead (2): the malformed answer neither counted nor reset the streak
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "warning", "lb-a")]


def test_snapshots_are_written_on_change_and_at_the_heartbeat_and_history_is_unchanged(
    harness_for: Callable[..., Harness],
) -> None:
    """A quiet load balancer writes a snapshot at its heartbeat only; every run that changes
    its state writes one; and history counts the same minutes as a snapshot every run would."""
    h = harness_for(
        fleet([status(3, "vm-1", "Dead"), status(9, "vm-1", "Alive")]),
        SNAPSHOT_HEARTBEAT_MINUTES="5",
    )
    start = h.clock()
    for _ in range(20):  # minutes 0-19: vm-1 Dead at 3-8, Alive again from 9
        h.run()
    last = start + timedelta(minutes=19)
    snapshots = h.store.snapshots("lb-a", start, last)
    written = [int((s.observed_at - start).total_seconds() // 60) for s in snapshots]
    # 0-2 the first run and the streaks settling (they stop at the larger threshold + 1);
    # 3-5 vm-1 Dead, notified at 4 (FAILURE_THRESHOLD 2), settled at 5; 9-11 the same for its
    # recovery; 16 the heartbeat, 5 minutes after 11: nothing else changed the state.
    assert written == [0, 1, 2, 3, 4, 5, 9, 10, 11, 16]
    assert {s.heartbeat_minutes for s in snapshots} == {5}
    document = history_document(
        "lb-a", snapshots, [], backend=None, window=(start, last), now=last + timedelta(minutes=1)
    )
    by_backend = {a["backend"]: a for a in document["availability"]}
    assert (by_backend["lsn-a/vm-1/80"]["alive"], by_backend["lsn-a/vm-1/80"]["dead"]) == (14, 6)
    assert (
        by_backend["lsn-a/vm-1/80"]["timeline"] == ["healthy"] * 3 + ["down"] * 6 + ["healthy"] * 11
    )
    assert (by_backend["lsn-a/vm-2/80"]["alive"], by_backend["lsn-a/vm-2/80"]["dead"]) == (20, 0)


def test_snapshots_are_written_for_every_run(harness_for: Callable[..., Harness]) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead")]))
    start = h.clock()
    for _ in range(3):
        h.run()
    snapshots = h.store.snapshots("lb-a", start - timedelta(minutes=1), h.clock())
    assert [s.counts["dead"] for s in snapshots] == [0, 1, 1]
    assert all(s.ok and s.request_id for s in snapshots)
    assert {row[2] for row in snapshots[0].rows} == {"vm-1", "vm-2"}
