"""Undelivered notifications of one subject merged into their net effect.

When SNS is down (or a run could not publish), notifications pile up in the subject's outbox.
Delivering them one by one would let the order of delivery, not of observation, decide what
users read last; dropping old ones would lose news. Instead they are merged, in observation
order, into one notification that takes users from what they were last told to the truth now:

* per unit (a backend, or one checked port; a renumbered port continues its old port's chain)
  the first `previous` and the last `current` status make one transition; a unit that ends
  where it started says nothing, but an outage that came and went is listed under `resolved`
  (email only), so a long outage of the topic hides nothing;
* per monitor scope, degraded ... restored cancels out (and is listed under `resolved`);
* a reminder survives only when nothing else is left to say;
* the newest notification gives the id, time, counts and listener health (the present).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from zlb_health.engine.backends import UnitChange, kind_of
from zlb_health.engine.compose import View, compose
from zlb_health.engine.notifications import (
    REMINDER,
    MonitorEvent,
    Notification,
    Resolved,
    Transition,
)
from zlb_health.zenlayer.models import ALIVE, DEAD

MAX_RESOLVED: Final = 50

Backend = tuple[str, str | None, str, str]
UnitKey = tuple[Backend, int | None]


def coalesce(pending: Sequence[Notification]) -> Notification | None:
    """The net effect of `pending` (one subject's notifications); None when nothing is left."""
    if not pending:
        return None
    ordered = sorted(pending, key=lambda n: n.id)
    if len(ordered) == 1:
        return ordered[0]
    latest = ordered[-1]
    transitions, flaps = _net_transitions(ordered)
    events, quiet = _net_events(ordered)
    resolved = [r for n in ordered for r in n.resolved] + flaps + quiet
    reminder = latest.event_type == REMINDER and not transitions and not events
    ended = [n for n in ordered if n.maintenance is not None]
    if not (transitions or events or resolved or reminder or latest.retired or ended):
        return None
    net = compose(
        notification_id=latest.id,
        subject_id=latest.load_balancer_id,
        subject_name=latest.load_balancer_name,
        at=latest.observed_at,
        view=View.of(latest),
        transitions=transitions,
        events=events,
        resolved=resolved[-MAX_RESOLVED:],
        reminder=reminder,
        retired=latest.retired,
        request_id=latest.request_id,
        coalesced=sum(n.coalesced for n in ordered),
        ids=[i for n in ordered for i in n.all_ids],
        maintenance=ended[-1].maintenance if ended else None,
        unhealthy=ended[-1].unhealthy if ended else (),
    )
    return dataclasses.replace(net, silenced_by=latest.silenced_by)


# -- transitions --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Chain:
    """Everything users were (to be) told about one unit, oldest first."""

    first_port: int | None
    steps: list[Transition] = field(default_factory=list)
    whole: bool = True  # every step was about the whole backend

    @property
    def moved(self) -> bool:
        return any(t.previous_port is not None for t in self.steps)


def _units(t: Transition) -> list[int | None]:
    if t.port is not None:
        return [t.port]
    return list(t.ports) or [None]


def _net_transitions(ordered: Sequence[Notification]) -> tuple[list[Transition], list[Resolved]]:
    chains: dict[UnitKey, _Chain] = {}
    raw: dict[Backend, list[Transition]] = {}  # for backends told about at mixed granularity
    for n in ordered:
        for t in n.transitions:
            raw.setdefault(t.backend, []).append(t)
            if t.previous_port is not None and (t.backend, t.previous_port) in chains:
                chains[(t.backend, t.port)] = chains.pop((t.backend, t.previous_port))
            for port in _units(t):
                chain = chains.setdefault((t.backend, port), _Chain(t.previous_port or port))
                chain.steps.append(t)
                chain.whole = chain.whole and t.port is None
    net: list[Transition] = []
    flaps: list[Resolved] = []
    by_backend: dict[Backend, list[tuple[int | None, _Chain]]] = {}
    for (backend, port), chain in chains.items():
        by_backend.setdefault(backend, []).append((port, chain))
    for backend, units in by_backend.items():
        ports = {port for port, _ in units}
        if None in ports and len(ports) > 1:
            net.extend(raw[backend])  # whole and per-port words: keep them, in order
            continue
        changes = []
        for port, chain in sorted(units, key=lambda u: -1 if u[0] is None else u[0]):
            change, flap = _net_change(port, chain)
            if change is not None:
                changes.append((port, chain, change))
            if flap is not None:
                flaps.append(flap)
        net.extend(_regroup(changes))
    return net, flaps


def _net_change(port: int | None, chain: _Chain) -> tuple[Transition | None, Resolved | None]:
    first, last = chain.steps[0], chain.steps[-1]
    previous, current = first.previous_status, last.current_status
    moved = chain.moved and chain.first_port != port
    if previous == current and not (moved and current not in (None, ALIVE)):
        downs = [t for t in chain.steps if t.current_status == DEAD]
        if not downs or current == DEAD:
            # Down before and down now (its check off and on, say): subscribers already know it
            # is down, and "came and went" would say it is over.
            return None, None
        where = f"{first.target} port {port}" if port is not None else first.target
        return None, Resolved(
            f"{where} on listener {first.listener_name or first.listener_id}: down and back",
            downs[0].since,
            last.since,
        )
    change = UnitChange(
        "*",
        previous,
        current,
        last.since,
        previous_port=chain.first_port if moved else None,
        reason=last.reason,
    )
    net = dataclasses.replace(
        last,
        port=port,
        ports=(),
        previous_status=previous,
        kind=kind_of(change),
        previous_port=change.previous_port,
    )
    return net, None


def _regroup(changes: list[tuple[int | None, _Chain, Transition]]) -> list[Transition]:
    """Back to one whole-backend transition when every unit's chain was about the whole backend
    and they net to the same change; else one per port."""
    if not changes:
        return []
    alike = {(t.previous_status, t.current_status, t.reason, t.kind) for _, _, t in changes}
    if all(chain.whole for _, chain, _ in changes) and len(alike) == 1:
        ports = tuple(sorted(p for p, _, _ in changes if p is not None))
        starts = [t.since for _, _, t in changes if t.since is not None]
        return [
            dataclasses.replace(
                changes[-1][2], port=None, ports=ports, since=min(starts, default=None)
            )
        ]
    return [t for _, _, t in changes]


# -- monitor events -----------------------------------------------------------------------------


def _net_events(ordered: Sequence[Notification]) -> tuple[list[MonitorEvent], list[Resolved]]:
    chains: dict[str, list[MonitorEvent]] = {}
    for n in ordered:
        for e in n.monitor_events:
            chains.setdefault(e.scope, []).append(e)
    net: list[MonitorEvent] = []
    quiet: list[Resolved] = []
    for scope, chain in chains.items():
        degraded_before = chain[0].change != "degraded"
        degraded_after = chain[-1].change == "degraded"
        if degraded_before != degraded_after:
            net.append(chain[-1])
            continue
        first_degraded = next((e for e in chain if e.change == "degraded"), None)
        if first_degraded is not None and not degraded_before:
            label = f"monitoring of {scope}" if scope else "monitoring"
            quiet.append(
                Resolved(f"{label}: degraded and restored", first_degraded.since, chain[-1].at)
            )
    return net, quiet
