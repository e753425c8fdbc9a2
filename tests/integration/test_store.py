"""The DynamoDB adapter against moto's server: ownership, claims, and the outbox bound."""

from __future__ import annotations

import logging

import boto3
import pytest

from zlb_health.adapters.store import MAX_PENDING_PER_LOAD_BALANCER, HealthStore
from zlb_health.engine.notifications import Notification
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


def test_a_full_outbox_drops_the_oldest_and_says_so(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_for(stack)
    stored = store.load_states(["lb-x"])["lb-x"]
    total = MAX_PENDING_PER_LOAD_BALANCER + 2
    with caplog.at_level(logging.ERROR, logger="zlb_health.adapters.store"):
        for seq in range(1, total + 1):
            written = store.commit(
                stored,
                LbState("lb-x", seq=seq),
                notification(seq),
                run_id=f"run-{seq}",
                lease_until=0.0,
                now=1.0,
            )
            assert written is not None
            stored = written
    kept = sorted(store.load_states(["lb-x"])["lb-x"].outbox)
    assert len(kept) == MAX_PENDING_PER_LOAD_BALANCER
    assert kept[0] == "lb-x#00000003"  # 1 and 2, the oldest, were dropped
    dropped = [r for r in caplog.records if "dropping the oldest" in r.getMessage()]
    assert len(dropped) == 2
