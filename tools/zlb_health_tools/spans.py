"""How long each snapshot stood: history from snapshots written on change and at a heartbeat.

The function writes a load balancer's snapshot when what a run saw changes its state, and at
least every `heartbeatMinutes` (the item says how often; older items were written every run).
So a snapshot holds from its time until the next one, bounded by its heartbeat plus a margin
for the schedule (a longer gap means runs stopped: no data, which the watchdog alarm is for).
An item without a heartbeat stands for one run of the default one-minute schedule.

Time is what history counts: availability is Alive time over Alive + Dead time, in minutes.
With a snapshot every run (heartbeat 1) that is the old count of runs per status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from zlb_health.adapters.store import Snapshot
from zlb_health.engine.maintenance import Silence

ONE_RUN: Final = timedelta(minutes=1)  # what an item written every run stands for
# A heartbeat snapshot comes at the first run at least `heartbeat` after the previous one:
# up to one schedule interval late (the schedule runs at least every 5 minutes, README).
SCHEDULE_MARGIN: Final = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Span:
    """One snapshot, and the part of the window in which it was the latest word."""

    snapshot: Snapshot
    start: datetime
    end: datetime

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


def spans(
    snapshots: Sequence[Snapshot], start: datetime, end: datetime, now: datetime
) -> list[Span]:
    """Each snapshot's time in [start, min(end, now)), in order (`snapshots` sorted by time,
    the one before `start` included: it says what held when the window began)."""
    stop = min(end, now)
    out: list[Span] = []
    for index, snapshot in enumerate(snapshots):
        reach = _reach(snapshot)
        following = snapshots[index + 1].observed_at if index + 1 < len(snapshots) else None
        until = min(t for t in (snapshot.observed_at + reach, following, stop) if t is not None)
        begin = max(snapshot.observed_at, start)
        if until > begin:
            out.append(Span(snapshot, begin, until))
    return out


def _reach(snapshot: Snapshot) -> timedelta:
    if snapshot.heartbeat_minutes is None:
        return ONE_RUN
    return timedelta(minutes=snapshot.heartbeat_minutes) + SCHEDULE_MARGIN


def covered(
    span_start: datetime,
    span_end: datetime,
    silences: Iterable[Silence],
    load_balancer_id: str,
    row: Sequence[Any],
) -> list[tuple[datetime, datetime]]:
    """The parts of [span_start, span_end) under a silence that covers this backend row."""
    listener_id, instance_id, ip, port = str(row[0]), row[2], str(row[3]), str(row[4])
    targets = [t for t in (instance_id, ip) if t]
    parts: list[tuple[datetime, datetime]] = []
    for silence in silences:
        if silence.matches(load_balancer_id, listener_id, targets, port):
            parts += silence.windows(span_start, span_end)
    return merge(parts)


def merge(parts: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(parts):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def minutes(parts: Iterable[tuple[datetime, datetime]]) -> float:
    return sum((hi - lo).total_seconds() for lo, hi in parts) / 60
