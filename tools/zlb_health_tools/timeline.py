"""When, not only how much: a backend's history as a strip of one character per time bucket.

Each snapshot holds until the next one (tools/zlb_health_tools/spans.py); its row of a backend is
classified the way `engine.tally` counts
health (healthy: every checked port Alive; partly down: some ports Dead). A bucket shows the
worst of what it saw, with data winning over failed checks (a failed check observes nothing):

    .  healthy          x  partly down, or down for part of the bucket
    #  down             c  health check off (Close)
    ?  unknown          !  the check failed (the API call; last state kept)
    m  maintenance: every observation in the bucket was under a silence (`zlb-health silence`)
    (blank)  no snapshot of this backend (the monitor did not run, or the backend was not there)

Readable without colour; `paint` adds ANSI colour for a terminal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from zlb_health.zenlayer.models import ALIVE, CLOSE, DEAD

Health = Literal["healthy", "partial", "down", "close", "unknown", "failed", "maintenance"]
SYMBOLS: Final[dict[Health | None, str]] = {
    "healthy": ".",
    "partial": "x",
    "down": "#",
    "close": "c",
    "unknown": "?",
    "failed": "!",
    "maintenance": "m",
    None: " ",
}
LEGEND: Final = (
    ". healthy  x partly down  # down  ! check failed  ? unknown  c check off  m maintenance"
    "  (blank) no data"
)
_BY_STATUS: Final[dict[str, Health]] = {ALIVE: "healthy", DEAD: "down", CLOSE: "close"}
_COLOURS: Final = {".": "32", "x": "33", "#": "1;31", "!": "35", "?": "2", "c": "36", "m": "34"}
DEFAULT_WIDTH: Final = 60
# Bucket sizes a reader can count in; the smallest that fits the window in `width` is used.
NICE_STEPS: Final = tuple(
    timedelta(minutes=m)
    for m in (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440, 2880, 10080)
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_TICK: Final = timedelta(microseconds=1)  # an end is exclusive


def classify(status: str, detail: Sequence[Sequence[Any]] | None) -> Health:
    """One observation of a backend: its status, and its per-port detail when the API gave it."""
    ports = {str(port_status) for _port, port_status in detail or ()}
    if ports:
        if DEAD in ports:
            return "partial" if ALIVE in ports else "down"
        if ALIVE in ports:
            return "healthy"
        return "close" if ports == {CLOSE} else "unknown"
    return _BY_STATUS.get(status, "unknown")


def bucket_health(seen: Iterable[Health]) -> Health | None:
    """What one bucket shows, given every observation (and failed check) that fell into it."""
    kinds = set(seen)
    if kinds & {"down", "partial"}:
        # Unknown, failed checks and maintenance are no data: a down bucket is not "partly".
        return "down" if kinds - {"failed", "unknown", "maintenance"} == {"down"} else "partial"
    order: tuple[Health, ...] = ("healthy", "close", "unknown", "maintenance", "failed")
    return next((kind for kind in order if kind in kinds), None)


@dataclass(frozen=True, slots=True)
class Buckets:
    """`count` buckets of `step`, the first starting at `start` (aligned to the step)."""

    start: datetime
    step: timedelta
    count: int

    @classmethod
    def over(cls, start: datetime, end: datetime, width: int = DEFAULT_WIDTH) -> Buckets:
        span = max(end - start, timedelta(minutes=1))
        step = next((s for s in NICE_STEPS if span / s <= width - 1), None)
        if step is None:  # longer than the largest nice step allows: plain division
            step = timedelta(minutes=math.ceil(span / timedelta(minutes=1) / (width - 1)))
        # Aligned to the step, so the same moment lands in the same bucket on every read.
        first = start - (start - _EPOCH) % step
        count = (end - first) // step + 1
        return cls(first, step, count)

    @property
    def end(self) -> datetime:
        return self.start + self.step * self.count

    def index(self, moment: datetime) -> int | None:
        position = (moment - self.start) // self.step
        return position if 0 <= position < self.count else None

    def describe(self) -> str:
        """`2026-11-23 11:00 .. 13:00 UTC, one character = 2 minutes`"""
        end = self.end
        until = f"{end:%H:%M}" if end.date() == self.start.date() else f"{end:%Y-%m-%d %H:%M}"
        return (
            f"{self.start:%Y-%m-%d %H:%M} .. {until} UTC, "
            f"one character = {duration_text(self.step)}"
        )


def duration_text(step: timedelta) -> str:
    minutes = int(step.total_seconds() // 60)
    if minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day{'s' if days > 1 else ''}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours > 1 else ''}"
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


@dataclass(slots=True)
class Strip:
    """One backend's observations, bucket by bucket."""

    buckets: Buckets
    seen: list[list[Health]] = field(init=False)

    def __post_init__(self) -> None:
        self.seen = [[] for _ in range(self.buckets.count)]

    def add(self, moment: datetime, health: Health) -> None:
        index = self.buckets.index(moment)
        if index is not None:
            self.seen[index].append(health)

    def cover(self, start: datetime, end: datetime, health: Health) -> None:
        """`health` held over [start, end): every bucket it overlaps saw it."""
        if end <= start:
            return
        step, origin = self.buckets.step, self.buckets.start
        first = max(0, (start - origin) // step)
        last = min(self.buckets.count - 1, (end - origin - _TICK) // step)
        for index in range(first, last + 1):
            self.seen[index].append(health)

    def states(self) -> list[Health | None]:
        return [bucket_health(kinds) for kinds in self.seen]

    def text(self) -> str:
        return "".join(SYMBOLS[state] for state in self.states())


def paint(strip: str) -> str:
    """ANSI colour per symbol, a run of the same symbol coloured once."""
    out: list[str] = []
    run_start = 0
    for index in range(1, len(strip) + 1):
        if index == len(strip) or strip[index] != strip[run_start]:
            run = strip[run_start:index]
            colour = _COLOURS.get(run[0])
            out.append(f"\x1b[{colour}m{run}\x1b[0m" if colour else run)
            run_start = index
    return "".join(out)


def use_colour(stream: Any, env: dict[str, str] | Any) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (no-color.org: to anything
    but the empty string)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not env.get("NO_COLOR", "")
