"""The health rules: one observation in, the next state and at most one notification out.

Pure and deterministic: no clock (the caller passes `now`), no I/O, and the given state is never
mutated. Re-applying the same evaluation (a retried write) yields the same notification id.

Rules, per unit (a backend, or one port of it when the API gives healthStatusDetail):

* Statuses Alive, Dead, Close count; Unknown and any unrecognised string are "no data": recorded
  as `observed`, they neither count toward nor break a streak, and never alert.
* Dead for `thresholds.failure` consecutive observations -> "down" (users told Dead).
  Alive for `thresholds.recovery` consecutive observations after being down -> "recovered".
  Flapping below the thresholds never alerts.
* Close (health check disabled) is reported at once and is informational; Close -> Alive is
  "enabled" (informational, at once); Close -> Dead needs the failure threshold like any down.
* First observation of a load balancer (no state, or no backends and never observed): baseline
  silently. Alive and Close units are taken as they are; Dead units start a streak and alert
  "down" (previous status null) once they reach the threshold.
* On a baselined load balancer, a new backend is an informational "added" transition (previous
  null, current = its status) unless it already alerts "down" in the same observation; a
  backend that disappears is "removed" (current null). With `listener_filter` set (a listener
  id, or a frozenset of them when several listeners of one load balancer were polled
  separately and merged into one observation), only those listeners' backends are considered
  present; the others are left untouched.
* Per-port detail: when every unit of a backend changes the same way, one transition with
  `port` null; otherwise one transition per changed port. When detail appears for a backend
  tracked as a whole, the port units start from the whole-backend unit; when detail disappears
  (Close/Unknown), the backend status applies to every known unit.

Severity of a health_change: `critical` when a listener touched by the transitions has no
healthy backend left after this observation (no unit of any of its backends notified Alive, at
least one notified Dead: Close backends are not "unhealthy"); `warning` when something went
down but every touched listener still has a healthy backend; `info` otherwise.

Monitor: a FailedObservation keeps the health state as is and counts consecutive failures;
reaching `thresholds.monitor_failure` sends one `monitor_degraded` (warning). The next
successful observation sends `monitor_restored` (info) -- unless it also has health
transitions: then ONE `health_change` notification carries both, with `monitor_restored`
set (`"monitorRestored": true` in the JSON), the restored monitor details in `monitor`, and
its summary ending in "monitoring restored".

Reminders (`thresholds.reminder_minutes` > 0): on a successful observation without any other
notification, when a listener that was already critical before this observation has gone
`reminder_minutes` since max(critical_since, last_reminder_at), one `reminder` (critical)
names every critical listener, and all of them get last_reminder_at = now. A critical
health_change touching an already critical listener also restarts its reminder clock.
Failed observations never remind (the health is not known).

Staleness: an observation not newer than the last one applied (successful `observed_at`, or
the time of the last recorded failure) is ignored: the previous state is returned unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from zlb_health.config import Thresholds
from zlb_health.engine.notifications import (
    CRITICAL,
    HEALTH_CHANGE,
    INFO,
    MONITOR_DEGRADED,
    MONITOR_RESTORED,
    REMINDER,
    WARNING,
    ListenerHealth,
    Notification,
    Scalar,
    Transition,
    TransitionKind,
)
from zlb_health.engine.state import (
    WHOLE_BACKEND,
    BackendState,
    LbState,
    ListenerState,
    MonitorState,
    UnitState,
    backend_key,
    iso,
    parse_iso,
)
from zlb_health.zenlayer.errors import ZenlayerError
from zlb_health.zenlayer.models import ALIVE, CLOSE, DEAD, UNKNOWN, BackendHealth

_COUNTING: Final = frozenset({ALIVE, DEAD, CLOSE})
_MESSAGE_LIMIT: Final = 300
_NAMES_IN_SUMMARY: Final = 3


@dataclass(frozen=True, slots=True)
class HealthObservation:
    load_balancer_id: str
    load_balancer_name: str
    backends: tuple[BackendHealth, ...]
    request_id: str | None
    latency_ms: float | None
    observed_at: datetime
    listener_filter: str | frozenset[str] | None = None

    @property
    def listeners(self) -> frozenset[str] | None:
        """The listeners this observation covers; None for the whole load balancer."""
        if self.listener_filter is None or isinstance(self.listener_filter, frozenset):
            return self.listener_filter
        return frozenset((self.listener_filter,))


@dataclass(frozen=True, slots=True)
class FailedObservation:
    load_balancer_id: str
    load_balancer_name: str
    error_kind: str
    error_code: str | None
    http_status: int | None
    request_id: str | None
    message: str
    observed_at: datetime

    @classmethod
    def from_error(
        cls, load_balancer_id: str, load_balancer_name: str, error: ZenlayerError, at: datetime
    ) -> FailedObservation:
        return cls(
            load_balancer_id=load_balancer_id,
            load_balancer_name=load_balancer_name,
            error_kind=error.kind,
            error_code=error.code,
            http_status=error.status,
            request_id=error.request_id,
            message=error.message,
            observed_at=at,
        )


Observation = HealthObservation | FailedObservation


@dataclass(frozen=True, slots=True)
class Evaluation:
    new_state: LbState
    notification: Notification | None
    transitions: tuple[Transition, ...]
    changed: bool  # the state differs from the previous one other than by observed_at


def apply_observation(
    previous: LbState | None,
    observation: Observation,
    thresholds: Thresholds,
    *,
    now: datetime,
) -> Evaluation:
    """Apply one observation to `previous` (never mutated). See the module docstring."""
    if previous is not None and previous.load_balancer_id != observation.load_balancer_id:
        raise ValueError(
            f"observation of {observation.load_balancer_id!r} "
            f"applied to the state of {previous.load_balancer_id!r}"
        )
    at = iso(observation.observed_at)
    if previous is not None and at <= _last_applied(previous):
        return Evaluation(previous, None, (), False)
    state = previous.copy() if previous is not None else LbState(observation.load_balancer_id)
    if observation.load_balancer_name:
        state.load_balancer_name = observation.load_balancer_name
    transitions: tuple[Transition, ...] = ()
    if isinstance(observation, FailedObservation):
        notification = _apply_failure(state, observation, thresholds, at)
    else:
        notification, transitions = _apply_health(state, observation, thresholds, at, now)
    return Evaluation(state, notification, transitions, not _same(previous, state))


def _last_applied(state: LbState) -> str:
    times = [state.observed_at or ""]
    if state.monitor.last_error is not None:
        failed_at = state.monitor.last_error.get("at")
        if isinstance(failed_at, str):
            times.append(failed_at)
    return max(times)


def _same(previous: LbState | None, state: LbState) -> bool:
    """Equal but for observed_at (the same as comparing `state_fingerprint`s, faster)."""
    if previous is None:
        return False
    return (
        previous.load_balancer_name == state.load_balancer_name
        and previous.seq == state.seq
        and previous.monitor == state.monitor
        and previous.listeners == state.listeners
        and previous.backends == state.backends
    )


# -- failures ---------------------------------------------------------------------------------


def _apply_failure(
    state: LbState, obs: FailedObservation, thresholds: Thresholds, at: str
) -> Notification | None:
    monitor = state.monitor
    monitor.consecutive_failures += 1
    monitor.last_error = {
        "kind": obs.error_kind,
        "code": obs.error_code,
        "status": obs.http_status,
        "requestId": obs.request_id,
        "message": obs.message[:_MESSAGE_LIMIT],
        "at": at,
    }
    if monitor.degraded or monitor.consecutive_failures < thresholds.monitor_failure:
        return None
    monitor.degraded = True
    monitor.degraded_since = at
    details: dict[str, Scalar] = {
        "kind": obs.error_kind,
        "code": obs.error_code,
        "status": obs.http_status,
        "requestId": obs.request_id,
        "message": obs.message[:_MESSAGE_LIMIT],
        "since": at,
        "consecutiveFailures": monitor.consecutive_failures,
    }
    cause = obs.error_kind + (f" {obs.error_code}" if obs.error_code else "")
    summary = (
        f"{_label(state)}: monitoring degraded after {monitor.consecutive_failures} "
        f"failed API calls in a row ({cause})."
    )
    tally = _tally(state)
    return _notify(
        state,
        MONITOR_DEGRADED,
        WARNING,
        at=at,
        summary=summary,
        tally=tally,
        monitor=details,
        request_id=obs.request_id,
    )


# -- health -----------------------------------------------------------------------------------


def _apply_health(
    state: LbState, obs: HealthObservation, thresholds: Thresholds, at: str, now: datetime
) -> tuple[Notification | None, tuple[Transition, ...]]:
    baseline = state.observed_at is None and not state.backends
    old_monitor = state.monitor
    state.monitor = MonitorState()
    state.observed_at = at
    cap = max(thresholds.failure, thresholds.recovery) + 1
    only = obs.listeners
    found: list[Transition] = []
    seen: set[str] = set()

    for b in obs.backends:
        if only is not None and b.listener_id not in only:
            continue
        key = backend_key(b)
        if key in seen:
            continue
        seen.add(key)
        bs = state.backends.get(key)
        added = bs is None
        if bs is None:
            bs = BackendState(
                b.listener_id,
                b.listener_name,
                b.instance_id,
                b.private_ip_address,
                b.effective_port,
            )
            state.backends[key] = bs
        else:
            bs.listener_name = b.listener_name
            bs.instance_id = b.instance_id
            bs.private_ip_address = b.private_ip_address
        changes: list[tuple[str, str | None, str | None, str | None]] = []
        for unit_key, status in _unit_statuses(bs, b).items():
            unit = bs.units[unit_key]
            change = _step(unit, status, at, thresholds, cap)
            # None -> Alive/Close is a silent baseline; None -> Dead is a "down" worth telling.
            if change is not None and (change[0] is not None or change[1] == DEAD):
                changes.append((unit_key, change[0], change[1], unit.since))
        grouped = _group(bs, changes, len(bs.units))
        found.extend(grouped)
        if added and not baseline and not grouped:
            found.append(_transition(bs, None, None, b.health_status, since=at, kind="added"))

    for key in sorted(state.backends):
        bs = state.backends[key]
        if key in seen or (only is not None and bs.listener_id not in only):
            continue
        del state.backends[key]
        gone = [
            (uk, u.notified if u.notified is not None else u.observed, None, at)
            for uk, u in sorted(bs.units.items())
        ]
        found.extend(_group(bs, gone, len(bs.units)))

    transitions = tuple(sorted(found, key=_transition_order))
    tally = _tally(state)
    critical = tally.critical
    was_critical = set(state.listeners)
    for lid in was_critical - critical:
        del state.listeners[lid]
    for lid in sorted(critical - was_critical):
        state.listeners[lid] = ListenerState(critical_since=at)

    restored: dict[str, Scalar] | None = None
    if old_monitor.degraded:
        error = old_monitor.last_error or {}
        restored = {
            "kind": error.get("kind"),
            "code": error.get("code"),
            "status": error.get("status"),
            "requestId": error.get("requestId"),
            "message": error.get("message"),
            "since": old_monitor.degraded_since,
            "restoredAt": at,
            "consecutiveFailures": old_monitor.consecutive_failures,
        }

    if transitions:
        touched = {t.listener_id for t in transitions}
        if touched & critical:
            severity = CRITICAL
            for lid in sorted(touched & critical & was_critical):
                state.listeners[lid].last_reminder_at = iso(now)
        elif any(t.kind == "down" for t in transitions):
            severity = WARNING
        else:
            severity = INFO
        summary = _health_summary(state, transitions, touched & critical, tally, restored)
        notification = _notify(
            state,
            HEALTH_CHANGE,
            severity,
            at=at,
            summary=summary,
            tally=tally,
            transitions=transitions,
            monitor=restored,
            monitor_restored=restored is not None,
            request_id=obs.request_id,
        )
        return notification, transitions

    if restored is not None:
        summary = (
            f"{_label(state)}: monitoring restored after "
            f"{old_monitor.consecutive_failures} failed API calls in a row."
        )
        notification = _notify(
            state,
            MONITOR_RESTORED,
            INFO,
            at=at,
            summary=summary,
            tally=tally,
            monitor=restored,
            monitor_restored=True,
            request_id=obs.request_id,
        )
        return notification, transitions

    reminder = _reminder(
        state,
        thresholds,
        at=at,
        now=now,
        tally=tally,
        was_critical=was_critical,
        request_id=obs.request_id,
    )
    return reminder, transitions


def _unit_statuses(bs: BackendState, b: BackendHealth) -> dict[str, str]:
    """Observed status per unit key, creating/seeding/dropping units to match the detail."""
    if b.health_status_detail:
        statuses = {str(d.port): d.health_status for d in b.health_status_detail}
        whole = bs.units.pop(WHOLE_BACKEND, None)
        for unit_key in [uk for uk in bs.units if uk not in statuses]:
            del bs.units[unit_key]
        for unit_key in statuses:
            if unit_key not in bs.units:
                bs.units[unit_key] = whole.copy() if whole is not None else UnitState(UNKNOWN)
        return statuses
    if not bs.units:
        bs.units[WHOLE_BACKEND] = UnitState(UNKNOWN)
    return dict.fromkeys(bs.units, b.health_status)


def _step(
    unit: UnitState, status: str, at: str, thresholds: Thresholds, cap: int
) -> tuple[str | None, str] | None:
    """Record one observation; returns (previous, new) notified status when it changes."""
    unit.observed = status
    if status not in _COUNTING:
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


def _kind(previous: str | None, current: str | None) -> TransitionKind:
    if current is None:
        return "removed"
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


def _transition(
    bs: BackendState,
    port: int | None,
    previous: str | None,
    current: str | None,
    *,
    since: str | None,
    kind: TransitionKind,
) -> Transition:
    return Transition(
        listener_id=bs.listener_id,
        listener_name=bs.listener_name,
        instance_id=bs.instance_id,
        private_ip_address=bs.private_ip_address,
        backend_port=bs.backend_port,
        port=port,
        previous_status=previous,
        current_status=current,
        since=since,
        kind=kind,
    )


def _group(
    bs: BackendState,
    changes: Sequence[tuple[str, str | None, str | None, str | None]],
    unit_count: int,
) -> list[Transition]:
    """One transition for the whole backend when all units changed alike, else one per port."""
    if not changes:
        return []
    if len(changes) == unit_count and len({(p, c) for _, p, c, _ in changes}) == 1:
        _, previous, current, _ = changes[0]
        starts = [s for _, _, _, s in changes if s is not None]
        since = min(starts) if starts else None
        return [
            _transition(bs, None, previous, current, since=since, kind=_kind(previous, current))
        ]
    return [
        _transition(
            bs,
            None if unit_key == WHOLE_BACKEND else int(unit_key),
            previous,
            current,
            since=since,
            kind=_kind(previous, current),
        )
        for unit_key, previous, current, since in changes
    ]


def _transition_order(t: Transition) -> tuple[str, str, str, int, str]:
    return (t.listener_id, t.target, t.backend_port, -1 if t.port is None else t.port, t.kind)


# -- tallies, summaries, notifications --------------------------------------------------------


@dataclass(slots=True)
class _ListenerTally:
    name: str
    total: int = 0
    healthy: int = 0
    dead: int = 0
    closed: int = 0


@dataclass(frozen=True, slots=True)
class _Tally:
    counts: dict[str, int]
    listeners: dict[str, _ListenerTally]
    critical: set[str]

    def healthy_by_listener(self) -> tuple[ListenerHealth, ...]:
        return tuple(
            ListenerHealth(lid, lt.name, lt.healthy, lt.total)
            for lid, lt in sorted(self.listeners.items())
        )


def _tally(state: LbState) -> _Tally:
    """Counts by notified status; a backend is healthy when any of its units is notified Alive."""
    alive = dead = unknown = close = 0
    listeners: dict[str, _ListenerTally] = {}
    for bs in state.backends.values():
        lt = listeners.get(bs.listener_id)
        if lt is None:
            lt = listeners[bs.listener_id] = _ListenerTally(bs.listener_name)
        lt.total += 1
        notified = {u.notified for u in bs.units.values()}
        if ALIVE in notified:
            alive += 1
            lt.healthy += 1
        elif DEAD in notified:
            dead += 1
            lt.dead += 1
        elif notified == {CLOSE}:
            close += 1
            lt.closed += 1
        else:
            unknown += 1
    critical = {
        lid
        for lid, lt in listeners.items()
        if lt.healthy == 0 and lt.dead > 0 and lt.closed < lt.total
    }
    counts = {
        "alive": alive,
        "dead": dead,
        "unknown": unknown,
        "close": close,
        "backends": len(state.backends),
        "listeners": len(listeners),
        "listenersWithoutHealthyBackend": len(critical),
    }
    return _Tally(counts, listeners, critical)


def _label(state: LbState) -> str:
    return state.load_balancer_name or state.load_balancer_id


def _listener_list(tally: _Tally, listener_ids: Iterable[str]) -> str:
    names = [tally.listeners[lid].name or lid for lid in sorted(listener_ids)]
    shown = ", ".join(names[:_NAMES_IN_SUMMARY])
    if len(names) > _NAMES_IN_SUMMARY:
        shown += f" and {len(names) - _NAMES_IN_SUMMARY} more"
    return shown


_KIND_TEXT: Final[tuple[tuple[TransitionKind, str], ...]] = (
    ("down", "down"),
    ("recovered", "recovered"),
    ("closed", "with health check disabled"),
    ("enabled", "with health check enabled again"),
    ("added", "added"),
    ("removed", "removed"),
    ("changed", "changed"),
)


def _health_summary(
    state: LbState,
    transitions: tuple[Transition, ...],
    critical_touched: set[str],
    tally: _Tally,
    restored: dict[str, Scalar] | None,
) -> str:
    parts: list[str] = []
    for kind, text in _KIND_TEXT:
        of_kind = [t for t in transitions if t.kind == kind]
        if not of_kind:
            continue
        noun = "backend" if all(t.port is None for t in of_kind) else "backend port"
        parts.append(f"{len(of_kind)} {noun}{'' if len(of_kind) == 1 else 's'} {text}")
    summary = f"{_label(state)}: {', '.join(parts)}"
    if critical_touched:
        summary += f"; no healthy backend left on {_listener_list(tally, critical_touched)}"
    if restored is not None:
        summary += "; monitoring restored"
    return summary + "."


def _reminder(
    state: LbState,
    thresholds: Thresholds,
    *,
    at: str,
    now: datetime,
    tally: _Tally,
    was_critical: set[str],
    request_id: str | None,
) -> Notification | None:
    if thresholds.reminder_minutes <= 0:
        return None
    interval = timedelta(minutes=thresholds.reminder_minutes)
    still = sorted(tally.critical & was_critical)
    due = [
        lid
        for lid in still
        if now - parse_iso(_reminder_clock(state.listeners[lid]) or at) >= interval
    ]
    if not due:
        return None
    stamp = iso(now)
    for lid in still:
        state.listeners[lid].last_reminder_at = stamp
    since = min(state.listeners[lid].critical_since or at for lid in still)
    summary = (
        f"{_label(state)}: reminder, still no healthy backend on "
        f"{_listener_list(tally, still)} (since {since})."
    )
    return _notify(
        state, REMINDER, CRITICAL, at=at, summary=summary, tally=tally, request_id=request_id
    )


def _reminder_clock(listener: ListenerState) -> str:
    return max(listener.critical_since or "", listener.last_reminder_at or "")


def _notify(
    state: LbState,
    event_type: str,
    severity: str,
    *,
    at: str,
    summary: str,
    tally: _Tally,
    transitions: tuple[Transition, ...] = (),
    monitor: dict[str, Scalar] | None = None,
    monitor_restored: bool = False,
    request_id: str | None = None,
) -> Notification:
    state.seq += 1
    return Notification(
        id=f"{state.load_balancer_id}#{state.seq:08d}",
        event_type=event_type,
        severity=severity,
        load_balancer_id=state.load_balancer_id,
        load_balancer_name=state.load_balancer_name,
        observed_at=at,
        summary=summary,
        transitions=transitions,
        counts=dict(tally.counts),
        healthy_by_listener=tally.healthy_by_listener(),
        monitor=monitor,
        monitor_restored=monitor_restored,
        critical_listeners=tuple(sorted(tally.critical)),
        request_id=request_id,
    )
