"""The health rules: one observation in, the next state and at most one notification out.

Pure and deterministic: no clock (the caller passes `now`), no I/O, and the given state is never
mutated. Re-applying the same evaluation (a retried write) yields the same notification id.

* Each polled scope is applied on its own (`backends.apply_answer`; `monitoring` for failures):
  a failing listener target is degraded on its own and never hides another scope's change.
* The first observation of a load balancer is a silent baseline (Dead units still alert once
  they reach the threshold).
* Backends of a listener that is no longer polled (LOAD_BALANCER_IDS changed) are removed with
  reason `unmonitored`; a scope no longer polled that was degraded is `ended`.
* A load balancer that leaves DescribeLoadBalancers for `absence_limit` successful discoveries
  in a row, or leaves LOAD_BALANCER_IDS, is *retired*: one last notification removes every
  backend (closing what was down) and ends its monitoring; then it is forgotten.
* Reminders (`reminder_minutes` > 0): on a successful observation with nothing else to say,
  when a listener that was already critical has gone `reminder_minutes` since
  max(critical_since, last_reminder_at), one `reminder` (critical) names every critical
  listener. A critical health_change touching an already critical listener restarts its clock.
* Staleness: an observation not newer than the last one applied is ignored (a duplicate
  delivery of a tick, or an older one): the previous state is returned unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from zlb_health.config import Thresholds
from zlb_health.engine import monitoring
from zlb_health.engine.backends import absence_limit, apply_answer, remove_backend
from zlb_health.engine.compose import EMPTY_VIEW, View, compose
from zlb_health.engine.notifications import (
    CRITICAL,
    LOAD_BALANCER_DELETED,
    NO_LONGER_MONITORED,
    WHOLE_LOAD_BALANCER,
    MonitorEvent,
    Notification,
    Transition,
)
from zlb_health.engine.observation import LbObservation
from zlb_health.engine.state import LbState, ListenerState, iso, parse_iso
from zlb_health.engine.tally import Tally, tally


@dataclass(frozen=True, slots=True)
class Evaluation:
    new_state: LbState
    notification: Notification | None
    transitions: tuple[Transition, ...]
    changed: bool  # the state differs from the previous one other than by observed_at
    duplicates: int = 0  # rows merged because they named the same backend


def _unchanged(state: LbState) -> Evaluation:
    return Evaluation(state, None, (), False)


def _is_stale(previous: LbState, at: str) -> bool:
    return previous.observed_at is not None and at <= previous.observed_at


def apply_observation(
    previous: LbState | None, observation: LbObservation, thresholds: Thresholds, *, now: datetime
) -> Evaluation:
    """Apply one observation to `previous` (never mutated). See the module docstring."""
    lb_id = observation.load_balancer_id
    if previous is not None and previous.load_balancer_id != lb_id:
        raise ValueError(
            f"observation of {lb_id!r} applied to the state of {previous.load_balancer_id!r}"
        )
    at = iso(observation.observed_at)
    if previous is not None and _is_stale(previous, at):
        return _unchanged(previous)
    if previous is None or previous.retired:
        # New, or seen again after its last word: a fresh start (ids keep counting).
        state = LbState(lb_id, seq=previous.seq if previous is not None else 0)
    else:
        state = previous.copy()
    baseline = not state.baselined and not state.backends
    if observation.load_balancer_name:
        state.load_balancer_name = observation.load_balancer_name
    state.observed_at = at
    state.missing = 0
    if observation.ok:
        state.baselined = True

    transitions, events, duplicates = _apply_scopes(state, observation, thresholds, baseline)
    ordered = tuple(sorted(transitions, key=_transition_order))
    counted = tally(state)
    was_critical = _track_critical(state, counted, at=at)
    notification: Notification | None = None
    if ordered or events:
        touched = {t.listener_id for t in ordered}
        for lid in sorted(touched & counted.critical & was_critical):
            state.listeners[lid].last_reminder_at = iso(now)
        notification = _notify(
            state,
            counted,
            at=at,
            transitions=ordered,
            events=events,
            request_id=observation.request_id,
        )
    elif observation.ok:
        notification = _reminder(
            state,
            counted,
            thresholds,
            at=at,
            now=now,
            was_critical=was_critical,
            request_id=observation.request_id,
        )
    changed = not _same(previous, state)
    return Evaluation(state, notification, ordered, changed, duplicates)


def note_missing(previous: LbState, thresholds: Thresholds, *, at: datetime) -> Evaluation:
    """A successful discovery did not list this load balancer; retire it once that persists."""
    stamp = iso(at)
    if previous.retired or _is_stale(previous, stamp):
        return _unchanged(previous)
    state = previous.copy()
    state.observed_at = stamp
    state.missing += 1
    if state.missing >= absence_limit(thresholds):
        return _retire(previous, state, LOAD_BALANCER_DELETED, at=stamp)
    return Evaluation(state, None, (), True)


def retire(previous: LbState, reason: str, *, at: datetime) -> Evaluation:
    """Stop watching a load balancer (deleted, or no longer in LOAD_BALANCER_IDS): its last word
    removes every backend and ends its monitoring. Retiring twice does nothing."""
    if previous.retired:
        return _unchanged(previous)
    state = previous.copy()
    stamp = max(iso(at), previous.observed_at or "")
    state.observed_at = stamp
    return _retire(previous, state, reason, at=stamp)


def _retire(previous: LbState, state: LbState, reason: str, *, at: str) -> Evaluation:
    transitions = [
        t
        for key in sorted(state.backends)
        for t in remove_backend(state, key, at=at, reason=reason)
    ]
    events: list[MonitorEvent] = []
    for scope in sorted(state.monitors):
        _add(events, monitoring.end(state.monitors, scope, at=at))
    state.listeners.clear()
    state.retired = reason
    ordered = tuple(sorted(transitions, key=_transition_order))
    state.seq += 1
    notification = compose(
        notification_id=_notification_id(state),
        subject_id=state.load_balancer_id,
        subject_name=state.load_balancer_name,
        at=at,
        view=EMPTY_VIEW,
        transitions=ordered,
        events=events,
        retired=reason,
    )
    return Evaluation(state, notification, ordered, not _same(previous, state))


# -- steps ------------------------------------------------------------------------------------


def _apply_scopes(
    state: LbState, observation: LbObservation, thresholds: Thresholds, baseline: bool
) -> tuple[list[Transition], list[MonitorEvent], int]:
    """Each polled scope on its own: answers to the backends, failures to its monitor."""
    at = state.observed_at or ""
    transitions: list[Transition] = []
    events: list[MonitorEvent] = []
    duplicates = 0
    for answer in observation.answers:
        result = apply_answer(state, answer, thresholds, at=at, baseline=baseline)
        transitions.extend(result.transitions)
        duplicates += result.duplicates
        _add(events, monitoring.record_success(state.monitors, answer.scope, at=at))
    for failure in observation.failures:
        _add(events, monitoring.record_failure(state.monitors, failure, thresholds, at=at))
    transitions.extend(_drop_unpolled(state, observation.scopes, at=at))
    for scope in sorted(set(state.monitors) - observation.scopes):
        _add(events, monitoring.end(state.monitors, scope, at=at))
    return transitions, events, duplicates


def _add(events: list[MonitorEvent], event: MonitorEvent | None) -> None:
    if event is not None:
        events.append(event)


def _drop_unpolled(state: LbState, scopes: frozenset[str], *, at: str) -> list[Transition]:
    """Backends of listeners this load balancer's targets no longer cover."""
    if not scopes or WHOLE_LOAD_BALANCER in scopes:
        return []
    return [
        t
        for key in sorted(state.backends)
        if state.backends[key].listener_id not in scopes
        for t in remove_backend(state, key, at=at, reason=NO_LONGER_MONITORED)
    ]


def _track_critical(state: LbState, counted: Tally, *, at: str) -> set[str]:
    """Keep `state.listeners` = the critical listeners; returns those critical before."""
    was_critical = set(state.listeners)
    for lid in was_critical - counted.critical:
        del state.listeners[lid]
    for lid in sorted(counted.critical - was_critical):
        state.listeners[lid] = ListenerState(critical_since=at)
    return was_critical


def _transition_order(t: Transition) -> tuple[str, str, str, str, int, str]:
    return (
        t.listener_id,
        t.target,
        t.private_ip_address,
        t.backend_port,
        -1 if t.port is None else t.port,
        t.kind,
    )


def _notification_id(state: LbState) -> str:
    return f"{state.load_balancer_id}#{state.seq:08d}"


def _view(counted: Tally) -> View:
    return View(counted.counts, counted.listeners, tuple(sorted(counted.critical)))


def _notify(
    state: LbState,
    counted: Tally,
    *,
    at: str,
    transitions: Sequence[Transition] = (),
    events: Sequence[MonitorEvent] = (),
    reminder: bool = False,
    request_id: str | None,
) -> Notification:
    state.seq += 1
    return compose(
        notification_id=_notification_id(state),
        subject_id=state.load_balancer_id,
        subject_name=state.load_balancer_name,
        at=at,
        view=_view(counted),
        transitions=transitions,
        events=events,
        reminder=reminder,
        request_id=request_id,
    )


def _reminder(
    state: LbState,
    counted: Tally,
    thresholds: Thresholds,
    *,
    at: str,
    now: datetime,
    was_critical: set[str],
    request_id: str | None,
) -> Notification | None:
    if thresholds.reminder_minutes <= 0:
        return None
    interval = timedelta(minutes=thresholds.reminder_minutes)
    still = sorted(counted.critical & was_critical)
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
    notification = _notify(state, counted, at=at, reminder=True, request_id=request_id)
    assert notification.severity == CRITICAL  # noqa: S101 - a reminder is about a critical listener
    return notification


def _reminder_clock(listener: ListenerState) -> str:
    return max(listener.critical_since or "", listener.last_reminder_at or "")


def _same(previous: LbState | None, state: LbState) -> bool:
    """Equal but for observed_at (the same as comparing `state_fingerprint`s, faster)."""
    if previous is None:
        return False
    return (
        previous.load_balancer_name == state.load_balancer_name
        and previous.seq == state.seq
        and previous.monitors == state.monitors
        and previous.listeners == state.listeners
        and previous.backends == state.backends
        and previous.missing == state.missing
        and previous.retired == state.retired
        and previous.baselined == state.baselined
    )
