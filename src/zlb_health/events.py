"""The invocation event: EventBridge Scheduler's Input (see events/scheduled.json)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

SCHEDULE_SOURCE = "zlb-health.schedule"


class EventError(ValueError):
    """The event is not a scheduled check; the message names the field."""


@dataclass(frozen=True, slots=True)
class ScheduledEvent:
    scheduled_time: datetime | None
    execution_id: str | None
    attempt: int


def parse_scheduled_event(event: Any) -> ScheduledEvent:
    """Accept the schedule's Input, or `{}` for a manual test invocation."""
    if not isinstance(event, dict):
        raise EventError(f"event: expected a JSON object, got {type(event).__name__}")
    source = event.get("source", SCHEDULE_SOURCE)
    if source != SCHEDULE_SOURCE:
        raise EventError(f"source: expected {SCHEDULE_SOURCE!r}, got {source!r}")
    scheduled_time = None
    raw_time = event.get("scheduledTime")
    if raw_time is not None:
        try:
            scheduled_time = datetime.fromisoformat(str(raw_time).replace("Z", "+00:00"))
        except ValueError:
            raise EventError(f"scheduledTime: not an ISO 8601 time: {raw_time!r}") from None
    execution_id = event.get("executionId")
    if execution_id is not None and not isinstance(execution_id, str):
        raise EventError("executionId: expected a string")
    try:
        attempt = int(event.get("attemptNumber", 1))
    except (TypeError, ValueError):
        raise EventError("attemptNumber: expected an integer") from None
    return ScheduledEvent(scheduled_time, execution_id, attempt)
