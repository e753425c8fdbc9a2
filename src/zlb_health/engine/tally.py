"""How each listener serves, counted one way for every rendition (SMS, email, JSON, CLI).

A backend is *healthy* when every checked port users were told about is Alive (Close ports are
not checked), *partial* when some are Alive and some Dead, *down* when none is Alive and one is
Dead, *closed* when its health check is disabled, *unknown* before its first confirmed status.
A listener is *critical* when none of its backends serves (healthy or partial) and at least one
is down: Close backends alone are not an outage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from zlb_health.engine.notifications import ListenerHealth
from zlb_health.engine.state import BackendState, LbState
from zlb_health.zenlayer.models import ALIVE, CLOSE, DEAD

BackendHealthClass = Literal["healthy", "partial", "down", "closed", "unknown"]
HEALTH_CLASSES: Final[tuple[BackendHealthClass, ...]] = (
    "healthy",
    "partial",
    "down",
    "closed",
    "unknown",
)


def health_class(backend: BackendState) -> BackendHealthClass:
    notified = {u.notified for u in backend.units.values()}
    if ALIVE in notified:
        return "partial" if DEAD in notified else "healthy"
    if DEAD in notified:
        return "down"
    if notified == {CLOSE}:
        return "closed"
    return "unknown"


@dataclass(slots=True)
class _ListenerCount:
    name: str
    classes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HEALTH_CLASSES, 0))

    @property
    def total(self) -> int:
        return sum(self.classes.values())


@dataclass(frozen=True, slots=True)
class Tally:
    counts: dict[str, int]
    listeners: tuple[ListenerHealth, ...]  # sorted by listener id
    critical: frozenset[str]

    def names(self) -> dict[str, str]:
        return {lh.listener_id: lh.listener_name for lh in self.listeners}


def tally(state: LbState) -> Tally:
    per_listener: dict[str, _ListenerCount] = {}
    totals = dict.fromkeys(HEALTH_CLASSES, 0)
    for backend in state.backends.values():
        counter = per_listener.get(backend.listener_id)
        if counter is None:  # (not setdefault: that would build a counter per backend)
            counter = per_listener[backend.listener_id] = _ListenerCount(backend.listener_name)
        counter.name = backend.listener_name
        cls = health_class(backend)
        counter.classes[cls] += 1
        totals[cls] += 1
    listeners = tuple(
        ListenerHealth(
            lid,
            c.name,
            healthy=c.classes["healthy"],
            total=c.total,
            partial=c.classes["partial"],
            down=c.classes["down"],
        )
        for lid, c in sorted(per_listener.items())
    )
    critical = frozenset(lh.listener_id for lh in listeners if lh.serving == 0 and lh.down > 0)
    counts = {
        "alive": totals["healthy"],
        "partial": totals["partial"],
        "dead": totals["down"],
        "close": totals["closed"],
        "unknown": totals["unknown"],
        "backends": len(state.backends),
        "listeners": len(listeners),
        "listenersWithoutHealthyBackend": len(critical),
    }
    return Tally(counts, listeners, critical)
