"""Shards through the real handler (issue 12): each shard's schedule watches its own load
balancers, and changing the number of shards loses and repeats nothing, pending messages
included. Discovery mode, so every shard lists the whole fleet and keeps only its own part."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from tests.integration.handler_rig import (
    HandlerRig,
    Rig,
    listener,
    scheduler_event,
    transitions,
    vm,
)

from zlb_health.shards import shard_of

pytestmark = pytest.mark.integration

LOAD_BALANCERS = [f"lb-{n}" for n in range(6)]


def fleet_world() -> dict[str, Any]:
    """Six load balancers; vm-1 goes Dead on every one at step 1 and comes back at step 7."""
    return {
        "steps": 40,
        "loadBalancers": [
            {
                "loadBalancerId": lb,
                "loadBalancerName": lb,
                "listeners": [
                    listener(
                        "lsn-a",
                        [
                            vm("vm-1", "10.0.0.1", backendPort=80),
                            vm("vm-2", "10.0.0.2", backendPort=80),
                        ],
                    )
                ],
            }
            for lb in LOAD_BALANCERS
        ],
        "timeline": [
            {
                "step": step,
                "action": "set_status",
                "loadBalancerId": lb,
                "listenerId": "lsn-a",
                "backend": "vm-1",
                "healthStatus": health,
            }
            for lb in LOAD_BALANCERS
            for step, health in ((1, "Dead"), (7, "Alive"))
        ],
        "faults": [],
    }


def minute(r: HandlerRig, shards: int) -> list[dict[str, Any]]:
    """One tick as the template schedules it with `shards` shards: one invocation per shard
    (each with the same scheduled time, as the N schedules fire together); their summaries."""
    summaries = []
    for index in range(shards):
        event = {**scheduler_event(r.minute), "shard": index, "shards": shards}
        summaries.append(r.tick(event=event, advance=index == shards - 1))
    return summaries


def test_resharding_with_messages_pending_loses_and_repeats_nothing(rig: Rig) -> None:
    r = rig(fleet_world(), LOAD_BALANCER_IDS="")
    checked = []
    for _ in range(2):  # ticks 0-1, one shard: vm-1 Dead once on every load balancer
        checked.append(sum(s["checked"] for s in minute(r, 1)))
    r.sns(up=False)  # tick 2: the second Dead observation, every down stays pending
    (summary,) = minute(r, 1)
    checked.append(summary["checked"])
    assert (summary["messagesPublished"], summary["notificationsPending"]) == (0, 6)
    assert r.inbox.messages() == []
    r.sns(up=True)
    batches = []
    for shards in (3, 3, 3, 3, 3, 2, 2, 2):  # ticks 3-10: three shards, then two
        summaries = minute(r, shards)
        # Every load balancer is watched by exactly one shard of the tick.
        assert [s["checked"] for s in summaries] == [
            sum(1 for lb in LOAD_BALANCERS if shard_of(lb, shards) == i) for i in range(shards)
        ]
        checked.append(sum(s["checked"] for s in summaries))
        batches.append(r.inbox.messages())
    assert checked == [6] * 11
    told = Counter(
        (m["attributes"]["load_balancer_id"], kind, instance, previous, current)
        for batch in batches
        for m in batch
        for kind, instance, _port, previous, current in transitions(m)
    )
    # Each down (pending across the change to three shards) once, each recovery (Alive at tick
    # 7 under three shards and at tick 8 under two: RECOVERY_THRESHOLD 2) once; nothing else.
    assert told == Counter(
        {(lb, "down", "vm-1", "Alive", "Dead"): 1 for lb in LOAD_BALANCERS}
        | {(lb, "recovered", "vm-1", "Dead", "Alive"): 1 for lb in LOAD_BALANCERS}
    )
    assert sum(1 for m in batches[0] for _ in transitions(m)) == 6  # the pending ones, at once
    assert all(not batch for batch in batches[1:5])
    assert sum(1 for m in batches[5] for _ in transitions(m)) == 6
    assert all(not batch for batch in batches[6:])
