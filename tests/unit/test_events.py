"""The invocation events the handler accepts, and the errors for the rest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from zlb_health.events import EventError, parse_scheduled_event
from zlb_health.shards import Shard, shard_of

EVENTS = Path(__file__).resolve().parents[2] / "events"
TICK = datetime(2025, 11, 23, 19, 30, tzinfo=UTC)


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def test_the_schedulers_input_is_a_tick() -> None:
    parsed = parse_scheduled_event(sample("scheduled.json"))
    assert (parsed.scheduled_time, parsed.execution_id, parsed.attempt, parsed.shard) == (
        TICK,
        "d32c5kddcf5bb8c3",
        1,
        Shard(0, 1),
    )


def test_the_classic_scheduled_rule_event_is_a_tick_at_its_time() -> None:
    parsed = parse_scheduled_event(sample("classic-scheduled.json"))
    assert (parsed.scheduled_time, parsed.execution_id) == (
        TICK,
        "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    )


def test_an_empty_event_is_a_manual_run_dated_by_the_clock() -> None:
    parsed = parse_scheduled_event({})
    assert (parsed.scheduled_time, parsed.shard) == (None, Shard())


@pytest.mark.parametrize("name", ["scheduled.json", "classic-scheduled.json"])
def test_any_event_may_name_its_shard(name: str) -> None:
    parsed = parse_scheduled_event({**sample(name), "shard": 2, "shards": 3})
    assert parsed.shard == Shard(2, 3)
    assert parse_scheduled_event({"shard": 0, "shards": 1}).shard == Shard(0, 1)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "event: got list; expected the schedule's input"),
        ({"source": "aws.s3"}, "source: got 'aws.s3'; expected"),
        (
            {"source": "aws.events", "detail-type": "Object Created"},
            "detail-type: got 'Object Created' from aws.events; expected",
        ),
        ({"source": "aws.events", "detail-type": "Scheduled Event"}, "time: missing; expected"),
        (
            {"source": "aws.events", "detail-type": "Scheduled Event", "time": "noon"},
            "time: not an ISO 8601 time: 'noon'",
        ),
        ({"scheduledTime": "2025-11-23T19:30:00"}, "scheduledTime: an ISO 8601 time with a time"),
        ({"Records": []}, "unexpected field(s) Records; expected"),
        ({"shard": 1, "shards": 1}, "shard: 1 is not one of 0..0 (shards 1)"),
        ({"shard": -1, "shards": 2}, "shard: -1 is not one of 0..1 (shards 2)"),
        ({"shard": 0, "shards": 0}, "shard, shards: expected integers 0 <= shard < shards <= 1000"),
        ({"shard": 0, "shards": 1001}, "shard, shards: expected integers"),
        ({"shard": True, "shards": 2}, "shard, shards: expected integers"),
        ({"shard": "0", "shards": 2}, "shard, shards: expected integers"),
        ({"source": "zlb-health.schedule", "attemptNumber": "x"}, "attemptNumber: expected"),
        ({"source": "zlb-health.schedule", "executionId": 7}, "executionId: expected a string"),
    ],
)
def test_anything_else_is_refused_naming_what_was_expected(event: Any, message: str) -> None:
    with pytest.raises(EventError) as raised:
        parse_scheduled_event(event)
    assert message in str(raised.value)


def test_a_thousand_shards_is_the_most() -> None:
    assert parse_scheduled_event({"shard": 999, "shards": 1000}).shard == Shard(999, 1000)


def test_shard_assignment_is_stable_and_every_id_has_one_shard() -> None:
    # Literal values (sha256 of the id): the assignment must never change between versions,
    # processes or Python builds, or a deployment would move every load balancer.
    names = ("lb-0001", "lb-0002", "lb-web", "lb-db")
    assert [shard_of(lb, 4) for lb in names] == [3, 2, 3, 3]
    assert [shard_of(lb, 3) for lb in names] == [0, 0, 1, 1]
    ids = [f"lb-{i:05d}" for i in range(2000)]
    for shards in (1, 2, 3, 7):
        owners = [[s for s in range(shards) if Shard(s, shards).owns(lb)] for lb in ids]
        assert all(len(o) == 1 for o in owners)  # total and disjoint
        counts = [sum(1 for o in owners if o == [s]) for s in range(shards)]
        assert min(counts) > 0.8 * len(ids) / shards  # spread evenly enough to be useful
    with pytest.raises(ValueError, match="shard 2 of 2 does not exist"):
        Shard(2, 2)
