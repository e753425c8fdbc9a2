"""The DynamoDB adapter against moto's server: ownership, claims, merging, ticks, forgetting."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import boto3
import pytest

from zlb_health.adapters.store import HealthStore
from zlb_health.engine.maintenance import Silence
from zlb_health.engine.notifications import Notification, Transition
from zlb_health.engine.state import LbState
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration


def notification(seq: int) -> Notification:
    return Notification(
        id=f"lb-x#{seq:08d}",
        event_type="health_change",
        severity="warning",
        load_balancer_id="lb-x",
        load_balancer_name="x",
        observed_at=f"2026-11-23T12:{seq % 60:02d}:00.000Z",
        summary=f"change {seq}",
    )


def store_for(stack: LocalStack) -> HealthStore:
    client = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region)
    return HealthStore(stack.table_name, ttl_days=1, client=client)


def test_only_the_run_that_moves_the_version_owns_the_change(stack: LocalStack) -> None:
    store = store_for(stack)
    empty = store.load_states(["lb-x"])["lb-x"]
    first = store.commit(
        empty, LbState("lb-x", seq=1), notification(1), run_id="a", lease_until=100.0, now=0.0
    )
    second = store.commit(
        empty, LbState("lb-x", seq=1), notification(1), run_id="b", lease_until=100.0, now=0.0
    )  # read the same version: must lose
    assert first is not None
    assert second is None
    stored = store.load_states(["lb-x"])["lb-x"]
    assert [n.id for n in stored.claimed_by("a")] == ["lb-x#00000001"]
    assert stored.claimed_by("b") == []
    assert not store.settle("lb-x", delivered=["lb-x#00000001"], released=[], run_id="b")
    assert store.settle("lb-x", delivered=["lb-x#00000001"], released=[], run_id="a")
    assert store.load_states(["lb-x"])["lb-x"].outbox == {}


def down(seq: int, status: str) -> Notification:
    """vm-1 told `status` by notification `seq` (Dead: a down; Alive: a recovery)."""
    previous = "Alive" if status == "Dead" else "Dead"
    return Notification(
        id=f"lb-x#{seq:08d}",
        event_type="health_change",
        severity="warning" if status == "Dead" else "info",
        load_balancer_id="lb-x",
        load_balancer_name="x",
        observed_at=f"2026-11-23T12:{seq % 60:02d}:00.000Z",
        summary=f"change {seq}",
        transitions=(
            Transition(
                "lsn-1", "web", "vm-1", "10.0.0.1", "80", None, previous, status,
                f"2026-11-23T12:{seq % 60:02d}:00.000Z",
                "down" if status == "Dead" else "recovered",
            ),
        ),
    )  # fmt: skip


def test_undelivered_notifications_merge_into_one_entry_however_many(stack: LocalStack) -> None:
    store = store_for(stack)
    stored = store.load_states(["lb-x"])["lb-x"]
    total = 45  # SNS down for 45 runs; every run's claim has lapsed by the next
    for seq in range(1, total + 1):
        written = store.commit(
            stored,
            LbState("lb-x", seq=seq),
            down(seq, "Dead" if seq % 2 else "Alive"),
            run_id=f"run-{seq}",
            lease_until=float(seq),
            now=float(seq),
        )
        assert written is not None
        stored = written
    (entry,) = store.load_states(["lb-x"])["lb-x"].outbox.values()
    merged = entry.notification
    assert merged.id == "lb-x#00000045"
    assert merged.coalesced == 45
    assert [(t.kind, t.previous_status, t.current_status) for t in merged.transitions] == [
        ("down", "Alive", "Dead")  # 45 is odd: Dead, and subscribers last heard Alive
    ]
    assert len(merged.resolved) == 22  # the down-and-back pairs, for the email
    assert entry.claim == "run-45"


def test_a_live_claim_of_another_run_leaves_the_new_notification_unclaimed(
    stack: LocalStack,
) -> None:
    store = store_for(stack)
    empty = store.load_states(["lb-x"])["lb-x"]
    first = store.commit(empty, LbState("lb-x", seq=1), down(1, "Dead"), run_id="a",
                         lease_until=100.0, now=0.0)  # fmt: skip
    assert first is not None
    second = store.commit(first, LbState("lb-x", seq=2), down(2, "Alive"), run_id="b",
                          lease_until=100.0, now=1.0)  # fmt: skip
    assert second is not None
    outbox = store.load_states(["lb-x"])["lb-x"].outbox
    assert {k: (p.claim, p.notification.id) for k, p in outbox.items()} == {
        "lb-x#00000001": ("a", "lb-x#00000001"),
        "lb-x#00000002": (None, "lb-x#00000002"),
    }  # b waits: a is still delivering the older word


def test_a_tick_is_observed_once_unless_its_run_died(stack: LocalStack) -> None:
    store = store_for(stack)
    tick = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert store.claim_tick("0/1", tick, run_id="a", lease_until=50.0, now=0.0)
    assert not store.claim_tick("0/1", tick, run_id="b", lease_until=60.0, now=10.0)  # a runs
    assert store.claim_tick("0/1", tick, run_id="c", lease_until=120.0, now=70.0)  # a died
    store.finish_tick("0/1", tick, run_id="c")
    assert not store.claim_tick("0/1", tick, run_id="d", lease_until=999.0, now=500.0)
    assert store.claim_tick("1/2", tick, run_id="e", lease_until=50.0, now=0.0)  # other shard


def test_a_retired_state_is_forgotten_only_at_the_version_read(stack: LocalStack) -> None:
    store = store_for(stack)
    empty = store.load_states(["lb-x"])["lb-x"]
    written = store.commit(empty, LbState("lb-x", retired="deleted"), None, run_id="a",
                           lease_until=0.0, now=0.0)  # fmt: skip
    assert written is not None
    assert not store.forget(empty)  # stale version: refused
    assert store.forget(written)
    assert store.load_states(["lb-x"])["lb-x"].version == 0
    assert store.known_load_balancers() == []


def test_silences_are_read_in_one_query_and_the_earliest_end_wins(stack: LocalStack) -> None:
    store = store_for(stack)
    silence = Silence(
        id="sil-1",
        load_balancer_id="lb-1",
        starts="2026-11-23T12:00:00.000Z",
        ends="2026-11-23T14:00:00.000Z",
        comment="kernel upgrade",
        author="ana",
        created_at="2026-11-23T11:59:00.000Z",
    )
    assert store.put_silence(silence)
    assert not store.put_silence(silence)  # the id is taken
    store.count_silenced("sil-1", 3)
    assert store.expire_silence(silence, "2026-11-23T12:30:00.000Z")
    # A later end (a second `expire`, or an acknowledgement's own) does not move it...
    assert not store.expire_silence(silence, "2026-11-23T13:00:00.000Z")
    ((loaded, matched),) = store.load_silences()
    assert (loaded.expired_at, matched) == ("2026-11-23T12:30:00.000Z", 3)
    # ...an earlier one does.
    assert store.expire_silence(loaded, "2026-11-23T12:10:00.000Z")
    assert store.load_silences()[0][0].expired_at == "2026-11-23T12:10:00.000Z"
    assert not store.expire_silence(
        dataclasses.replace(silence, id="sil-9"), "2026-11-23T12:00:00.000Z"
    )


def test_a_state_read_back_as_written_is_decoded_once_and_a_new_one_afresh(
    stack: LocalStack,
) -> None:
    store = store_for(stack)
    empty = store.load_states(["lb-x"])["lb-x"]
    written = store.commit(
        empty, LbState("lb-x", "one", seq=1), None, run_id="a", lease_until=0.0, now=0.0
    )
    assert written is not None
    first = store.load_states(["lb-x"])["lb-x"]
    again = store.load_states(["lb-x"])["lb-x"]
    assert again.state is first.state  # the same bytes: the state decoded before
    assert again.version == first.version == 1
    moved = store.commit(
        again, LbState("lb-x", "two", seq=2), None, run_id="a", lease_until=0.0, now=0.0
    )
    assert moved is not None
    after = store.load_states(["lb-x"])["lb-x"]
    assert after.state == LbState("lb-x", "two", seq=2)  # new bytes: decoded afresh
    assert [s.state for s in store.latest_states()] == [after.state]
    assert store.states_changed_in_place() == []


def test_a_kept_state_changed_in_place_is_reported(stack: LocalStack) -> None:
    """What the soak asserts never happens: the check itself must be able to fail."""
    store = store_for(stack)
    empty = store.load_states(["lb-x"])["lb-x"]
    assert store.commit(empty, LbState("lb-x", seq=1), None, run_id="a", lease_until=0, now=0)
    state = store.load_states(["lb-x"])["lb-x"].state
    assert isinstance(state, LbState)
    state.load_balancer_name = "changed"
    assert store.states_changed_in_place() == ["lb-x"]


def test_only_the_last_read_of_several_subjects_is_kept_decoded(stack: LocalStack) -> None:
    """A container that serves shard after shard keeps one shard's states, not the fleet's;
    a single subject's read (a retried commit) keeps the rest."""
    store = store_for(stack)
    for lb_id in ("lb-a", "lb-b", "lb-c", "lb-d"):
        empty = store.load_states([lb_id])[lb_id]
        assert store.commit(empty, LbState(lb_id, seq=1), None, run_id="a", lease_until=0, now=0)
    first = store.load_states(["lb-a", "lb-b"])
    store.load_states(["lb-a"])
    again = store.load_states(["lb-a", "lb-b"])
    assert [again[i].state is first[i].state for i in ("lb-a", "lb-b")] == [True, True]
    store.load_states(["lb-c", "lb-d"])  # the next shard's read
    after = store.load_states(["lb-a", "lb-b"])
    assert [after[i].state is first[i].state for i in ("lb-a", "lb-b")] == [False, False]
    assert [after[i].state == first[i].state for i in ("lb-a", "lb-b")] == [True, True]
