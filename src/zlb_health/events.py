"""The invocation event: which tick this run observes, and which shard of the fleet.

Accepted (any of them may carry `"shard": i, "shards": N`, 0-based, N >= 1):
- EventBridge Scheduler's input as the template defines it (events/scheduled.json): `source`
  "zlb-health.schedule", the tick in `scheduledTime`, `executionId`, `attemptNumber`;
- EventBridge's classic scheduled-rule event (`"source": "aws.events"`,
  `"detail-type": "Scheduled Event"`, the tick in `time`), from a user's own rule or a SAM
  `Schedule` event;
- `{}`: a manual test invocation, dated by the clock.
Anything else fails with an error naming what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from zlb_health.shards import Shard

SCHEDULE_SOURCE: Final = "zlb-health.schedule"
CLASSIC_SOURCE: Final = "aws.events"
CLASSIC_DETAIL_TYPE: Final = "Scheduled Event"
MAX_SHARDS: Final = 1000
_SCHEDULE_KEYS: Final = frozenset(
    {"source", "scheduledTime", "executionId", "attemptNumber", "shard", "shards"}
)
EXPECTED: Final = (
    f'expected the schedule\'s input ({{"source": "{SCHEDULE_SOURCE}", "scheduledTime": ...}}), '
    f'an EventBridge "{CLASSIC_DETAIL_TYPE}" ({{"source": "{CLASSIC_SOURCE}", "time": ...}}) '
    "or {} for a manual run"
)


class EventError(ValueError):
    """The event is not a scheduled check; the message names the field and what was expected."""


@dataclass(frozen=True, slots=True)
class ScheduledEvent:
    scheduled_time: datetime | None  # the tick; None for a manual run (dated by the clock)
    execution_id: str | None
    attempt: int
    shard: Shard = field(default_factory=Shard)


def parse_scheduled_event(event: Any) -> ScheduledEvent:
    if not isinstance(event, dict):
        raise EventError(f"event: got {type(event).__name__}; {EXPECTED}")
    shard = _shard(event)
    source = event.get("source")
    if source == CLASSIC_SOURCE:
        if event.get("detail-type") != CLASSIC_DETAIL_TYPE:
            raise EventError(
                f"detail-type: got {event.get('detail-type')!r} from {CLASSIC_SOURCE}; {EXPECTED}"
            )
        return ScheduledEvent(
            _time(event.get("time"), "time", required=True), event.get("id"), 1, shard
        )
    if source is None and set(event) - _SCHEDULE_KEYS:
        unknown = ", ".join(sorted(set(event) - _SCHEDULE_KEYS))
        raise EventError(f"unexpected field(s) {unknown}; {EXPECTED}")
    if source not in (None, SCHEDULE_SOURCE):
        raise EventError(f"source: got {source!r}; {EXPECTED}")
    execution_id = event.get("executionId")
    if execution_id is not None and not isinstance(execution_id, str):
        raise EventError("executionId: expected a string")
    try:
        attempt = int(event.get("attemptNumber", 1))
    except (TypeError, ValueError):
        raise EventError("attemptNumber: expected an integer") from None
    scheduled = _time(event.get("scheduledTime"), "scheduledTime", required=False)
    return ScheduledEvent(scheduled, execution_id, attempt, shard)


def _time(raw: object, name: str, *, required: bool) -> datetime | None:
    if raw is None:
        if required:
            raise EventError(f"{name}: missing; {EXPECTED}")
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise EventError(f"{name}: not an ISO 8601 time: {raw!r}") from None
    if moment.tzinfo is None:
        raise EventError(f"{name}: an ISO 8601 time with a time zone (Z) is needed: {raw!r}")
    return moment


def _shard(event: dict[str, Any]) -> Shard:
    if "shard" not in event and "shards" not in event:
        return Shard()
    index, count = event.get("shard", 0), event.get("shards", 1)
    if not (_is_int(index) and _is_int(count)) or not 1 <= count <= MAX_SHARDS:
        raise EventError(f"shard, shards: expected integers 0 <= shard < shards <= {MAX_SHARDS}")
    if not 0 <= index < count:
        raise EventError(f"shard: {index} is not one of 0..{count - 1} (shards {count})")
    return Shard(index, count)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
