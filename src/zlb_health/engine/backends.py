"""One scope's answer applied to the stored backends: units, streaks, absence, transitions.

Rules, per unit (a backend, or one checked port of it when the API gives healthStatusDetail):

* Alive, Dead, Close count; Unknown and any unrecognised string are "no data": recorded as
  `observed`, they neither count toward nor break a streak, and never alert.
* Dead for `failure` consecutive observations -> "down"; Alive for `recovery` consecutive
  observations after being down -> "recovered". Close (health check disabled) is told at once;
  Close -> Alive ("enabled") at once; Close -> Dead needs the failure threshold.
* Absence is "no data" too, until it persists: a backend missing from `absence_limit`
  consecutive answers of its listener is removed (and a down one is closed by a "removed"
  transition); one empty answer therefore neither removes nor re-pages anything. A port missing
  from a backend's detail is treated the same way, except that when ports vanish and others
  appear in the same answer they are paired (in port order) as a *renumbering*: the new port
  keeps the old one's history, and users who were told the old port's status hear which port
  it moved to.
* A unit's first notified status: Dead is a "down" (previous null); Alive or Close is silent
  on a load balancer's first observation and for a new port of a known backend, and "added"
  for a backend that appeared after the first observation (told once, when its status is
  confirmed: a new backend that is Dead is told as "down", not as "added" and then "down").
  Except: a port seen for the first time after users were told Dead or Close about the whole
  backend with no port named (no per-port detail then) starts from that word, which still
  speaks for it; so "health check enabled" or "recovered" is told for it, never silence.
* Rows with the same key in one answer (duplicates) are merged, the worse status winning.
* Transitions are grouped per backend: one transition for the whole backend when every unit
  changed alike (`port` null, `ports` the checked ports), otherwise one per port.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from zlb_health.config import Thresholds
from zlb_health.engine.notifications import (
    REMOVED_FROM_LISTENER,
    Transition,
    TransitionKind,
)
from zlb_health.engine.observation import ScopeAnswer
from zlb_health.engine.state import (
    WHOLE_BACKEND,
    BackendState,
    LbState,
    UnitState,
    backend_key,
)
from zlb_health.zenlayer.models import ALIVE, CLOSE, DEAD, UNKNOWN, BackendHealth, PortHealth

COUNTING: Final = frozenset({ALIVE, DEAD, CLOSE})
# Which of two statuses for the same backend in one answer wins: the worse one.
_BADNESS: Final = {DEAD: 0, CLOSE: 2, ALIVE: 3}
_OTHER_BADNESS: Final = 1  # Unknown and unrecognised strings: between Dead and Close


def absence_limit(thresholds: Thresholds) -> int:
    """Answers in a row without a backend (or port) before it counts as removed: never one."""
    return max(2, thresholds.failure)


def streak_cap(thresholds: Thresholds) -> int:
    return max(thresholds.failure, thresholds.recovery) + 1


@dataclass(frozen=True, slots=True)
class UnitChange:
    """The notified status of one unit moved (previous -> current)."""

    unit: str
    previous: str | None
    current: str | None
    since: str | None
    previous_port: int | None = None  # set when the unit was renumbered
    reason: str | None = None  # set when the unit was removed


@dataclass(frozen=True, slots=True)
class AnswerResult:
    transitions: tuple[Transition, ...]
    duplicates: int  # rows merged into another with the same key


def apply_answer(
    state: LbState, answer: ScopeAnswer, thresholds: Thresholds, *, at: str, baseline: bool
) -> AnswerResult:
    """Apply one scope's answer to `state` (mutated) and return what users should hear."""
    rows, duplicates = merge_duplicates(b for b in answer.backends if answer.covers(b.listener_id))
    found: list[Transition] = []
    cap = streak_cap(thresholds)
    for key, row in rows.items():
        backend = state.backends.get(key)
        if backend is None:
            backend = BackendState(
                row.listener_id,
                row.listener_name,
                row.instance_id,
                row.private_ip_address,
                row.effective_port,
                fresh=not baseline,
            )
            state.backends[key] = backend
        elif settled(backend, row, cap):
            continue  # most rows of a steady fleet: the same word again changes nothing
        found.extend(observe_backend(backend, row, thresholds, at=at))
    limit = absence_limit(thresholds)
    for key in sorted(state.backends):
        backend = state.backends[key]
        if key in rows or not answer.covers(backend.listener_id):
            continue
        backend.absent += 1
        if backend.absent >= limit:
            found.extend(remove_backend(state, key, at=at, reason=REMOVED_FROM_LISTENER))
    return AnswerResult(tuple(found), duplicates)


def observe_backend(
    backend: BackendState, row: BackendHealth, thresholds: Thresholds, *, at: str
) -> list[Transition]:
    """Record the row's observation of its backend (mutated); what users should hear of it."""
    backend.listener_name = row.listener_name
    backend.absent = 0
    units_before = set(backend.units)
    changes = observe_units(backend, row, thresholds, at=at)
    if not backend.fresh:
        # Nothing to say about a unit's silent baseline (None -> Alive or Close).
        changes = [c for c in changes if c.previous is not None or c.current == DEAD]
    elif changes:
        backend.fresh = False  # told now: "added" (or "down")
    # Units removed in this observation still count: a port that vanished is not the
    # whole backend.
    units = set(backend.units) | (units_before - {WHOLE_BACKEND})
    return group(backend, changes, unit_count=len(units))


def settled(backend: BackendState, row: BackendHealth, cap: int) -> bool:
    """Whether `observe_backend` would leave the backend as it is and say nothing: the row
    names the same ports, and each of them was already observed with this status, its streak
    at the cap and users told it (for a counting status). Exactly that, so skipping a settled
    row changes no outcome (tests/unit/test_engine_backends.py checks both ways)."""
    if backend.absent or backend.listener_name != row.listener_name:
        return False
    units = backend.units
    if row.health_status_detail:
        statuses = _port_statuses(row.health_status_detail)
        if statuses.keys() != units.keys():
            return False  # ports appear, vanish or renumber (or the portless unit goes)
        if backend.portless_word is not None and not backend.seen_ports >= units.keys():
            return False  # these ports are seen for the first time since that word
    elif units:
        statuses = dict.fromkeys(units, row.health_status)
    else:
        return False  # the backend's first unit is created
    for unit_key, status in statuses.items():
        unit = units[unit_key]
        if unit.absent or unit.observed != status:
            return False
        if status in COUNTING and not (
            unit.streak_status == status and unit.streak == cap and unit.notified == status
        ):
            return False
    return True


def remove_backend(state: LbState, key: str, *, at: str, reason: str) -> list[Transition]:
    """Stop tracking a backend; users hear of it if they were told anything about it."""
    backend = state.backends.pop(key)
    changes = [
        UnitChange(unit_key, unit.notified, None, at, reason=reason)
        for unit_key, unit in sorted(backend.units.items())
        if unit.notified is not None
    ]
    return group(backend, changes, unit_count=len(backend.units))


# -- units --------------------------------------------------------------------------------------


def observe_units(
    backend: BackendState, row: BackendHealth, thresholds: Thresholds, *, at: str
) -> list[UnitChange]:
    """Match the row's ports to the backend's units and record one observation for each."""
    if row.health_status_detail:
        statuses = _port_statuses(row.health_status_detail)
        changes = _reconcile_ports(backend, statuses, thresholds, at=at)
    else:
        # No per-port detail (Close, Unknown): the backend's status applies to every unit.
        if not backend.units:
            backend.units[WHOLE_BACKEND] = UnitState(UNKNOWN)
        statuses = dict.fromkeys(backend.units, row.health_status)
        changes = []
    renumbered = {c.unit: c for c in changes if c.previous_port is not None}
    changes = [c for c in changes if c.previous_port is None]
    cap = streak_cap(thresholds)
    for unit_key, status in sorted(statuses.items()):
        moved = renumbered.pop(unit_key, None)
        step = record(backend.units[unit_key], status, thresholds, at=at, cap=cap)
        if step is not None:
            previous, current = step
            port = moved.previous_port if moved is not None else None
            since = backend.units[unit_key].since
            changes.append(UnitChange(unit_key, previous, current, since, previous_port=port))
        elif moved is not None:
            changes.append(moved)
    return changes


def _port_statuses(detail: Sequence[PortHealth]) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for entry in detail:
        key = str(entry.port)
        statuses[key] = (
            worse(statuses[key], entry.health_status) if key in statuses else (entry.health_status)
        )
    return statuses


def _reconcile_ports(
    backend: BackendState, statuses: dict[str, str], thresholds: Thresholds, *, at: str
) -> list[UnitChange]:
    """Create, renumber and age out port units so that `statuses` has a unit per port."""
    whole = backend.units.pop(WHOLE_BACKEND, None)
    if whole is not None and whole.notified not in (None, ALIVE):
        backend.portless_word = whole.notified
    missing = sorted((k for k in backend.units if k not in statuses), key=int)
    new = sorted((k for k in statuses if k not in backend.units), key=int)
    changes: list[UnitChange] = []
    for old_key, new_key in zip(missing, new, strict=False):
        unit = backend.units.pop(old_key)
        unit.absent = 0
        backend.units[new_key] = unit
        # Told when users were told about the old port, or when a portless word speaks for
        # the new one (they would take it for that word's status).
        if unit.notified not in (None, ALIVE) or (
            unit.notified is not None and _covered(backend, new_key)
        ):
            changes.append(
                UnitChange(
                    new_key, unit.notified, unit.notified, unit.since, previous_port=int(old_key)
                )
            )
    for new_key in new[len(missing) :]:
        first = whole.copy() if whole is not None else _first_unit(backend, new_key)
        backend.units[new_key] = first
    if backend.portless_word is not None:
        backend.seen_ports.update(backend.units)
    limit = absence_limit(thresholds)
    for old_key in missing[len(new) :]:
        unit = backend.units[old_key]
        unit.absent += 1
        if unit.absent >= limit:
            del backend.units[old_key]
            if unit.notified not in (None, ALIVE):
                changes.append(
                    UnitChange(old_key, unit.notified, None, at, reason=REMOVED_FROM_LISTENER)
                )
    return changes


def _covered(backend: BackendState, port_key: str) -> bool:
    """Whether users' last word about the backend named no port ("health check disabled",
    "down") and still speaks for this port: it was never seen since."""
    return backend.portless_word is not None and port_key not in backend.seen_ports


def _first_unit(backend: BackendState, port_key: str) -> UnitState:
    """A port seen for the first time: a silent baseline, unless a portless word speaks for it;
    then it starts from that word, and its real status is told against it."""
    if _covered(backend, port_key):
        return UnitState(UNKNOWN, notified=backend.portless_word)
    return UnitState(UNKNOWN)


def record(
    unit: UnitState, status: str, thresholds: Thresholds, *, at: str, cap: int
) -> tuple[str | None, str] | None:
    """Record one observation of a unit; returns (previous, new) notified status on a change."""
    unit.observed = status
    unit.absent = 0
    if status not in COUNTING:
        return None
    if unit.streak_status == status:
        unit.streak = min(unit.streak + 1, cap)
    else:
        unit.streak_status = status
        unit.streak = 1
        unit.since = at
    previous = unit.notified
    if previous == status:
        return None
    if status == CLOSE or (status == ALIVE and previous in (None, CLOSE)):
        confirmed = True
    elif status == ALIVE:
        confirmed = unit.streak >= thresholds.recovery
    else:
        confirmed = unit.streak >= thresholds.failure
    if not confirmed:
        return None
    unit.notified = status
    return previous, status


# -- duplicates ---------------------------------------------------------------------------------


def worse(a: str, b: str) -> str:
    return min(a, b, key=lambda s: _BADNESS.get(s, _OTHER_BADNESS))


def merge_duplicates(rows: Iterable[BackendHealth]) -> tuple[dict[str, BackendHealth], int]:
    """One row per backend key (keyed by it), in first-seen order; a repeated key keeps the
    worse status (and, per port, the worse detail)."""
    merged: dict[str, BackendHealth] = {}
    duplicates = 0
    for row in rows:
        key = backend_key(row)
        kept = merged.get(key)
        if kept is None:
            merged[key] = row
            continue
        duplicates += 1
        ports = _port_statuses((*kept.health_status_detail, *row.health_status_detail))
        merged[key] = BackendHealth(
            listener_id=kept.listener_id,
            listener_name=kept.listener_name,
            protocol=kept.protocol,
            listener_port=kept.listener_port,
            instance_id=kept.instance_id,
            private_ip_address=kept.private_ip_address,
            backend_port=kept.backend_port,
            weight=kept.weight,
            health_status=worse(kept.health_status, row.health_status),
            health_status_detail=tuple(PortHealth(int(p), s) for p, s in ports.items()),
        )
    return merged, duplicates


# -- transitions --------------------------------------------------------------------------------


def kind_of(change: UnitChange) -> TransitionKind:
    previous, current = change.previous, change.current
    if current is None:
        return "removed"
    if previous == current:
        return "renumbered" if change.previous_port is not None else "changed"
    if current == DEAD:
        return "down"
    if current == CLOSE:
        return "closed"
    if current == ALIVE:
        if previous == DEAD:
            return "recovered"
        if previous == CLOSE:
            return "enabled"
        if previous is None:
            return "added"
    return "changed"


def _port(unit_key: str) -> int | None:
    return None if unit_key == WHOLE_BACKEND else int(unit_key)


def transition(
    backend: BackendState, change: UnitChange, *, port: int | None, ports: tuple[int, ...]
) -> Transition:
    return Transition(
        listener_id=backend.listener_id,
        listener_name=backend.listener_name,
        instance_id=backend.instance_id,
        private_ip_address=backend.private_ip_address,
        backend_port=backend.backend_port,
        port=port,
        previous_status=change.previous,
        current_status=change.current,
        since=change.since,
        kind=kind_of(change),
        ports=ports,
        previous_port=change.previous_port,
        reason=change.reason,
    )


def group(
    backend: BackendState, changes: Sequence[UnitChange], *, unit_count: int | None = None
) -> list[Transition]:
    """One transition for the whole backend when all units changed alike, else one per port."""
    if not changes:
        return []
    count = len(backend.units) if unit_count is None else unit_count
    alike = {(c.previous, c.current, c.reason) for c in changes}
    renumbered = any(c.previous_port is not None for c in changes)
    if len(changes) == count and len(alike) == 1 and not renumbered:
        starts = [c.since for c in changes if c.since is not None]
        first = changes[0]
        merged = UnitChange(
            first.unit,
            first.previous,
            first.current,
            min(starts, default=None),
            reason=first.reason,
        )
        ports = tuple(sorted(p for c in changes if (p := _port(c.unit)) is not None))
        return [transition(backend, merged, port=None, ports=ports)]
    return [
        transition(backend, c, port=_port(c.unit), ports=())
        for c in sorted(changes, key=lambda c: _port(c.unit) or -1)
    ]
