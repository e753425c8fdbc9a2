"""Transitions and monitor events in, one `Notification` out: its type, severity and summary.

Used by the rules (one observation) and by `coalesce` (several undelivered notifications merged
into their net effect), so both word and rank a change the same way.

Severity: `critical` when a listener touched by the transitions has no serving backend left,
or for a reminder; `warning` when something went down, a listener lost its last backend, or
monitoring of a scope degraded; `info` otherwise (recoveries, additions, removals, restored
monitoring, the last word about a deleted load balancer).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from zlb_health.engine.notifications import (
    CRITICAL,
    DISCOVERY_SCOPE,
    HEALTH_CHANGE,
    INFO,
    LOAD_BALANCER_DELETED,
    MAINTENANCE_ENDED,
    MAX_IDS,
    MONITOR_DEGRADED,
    MONITOR_RESTORED,
    NO_LONGER_MONITORED,
    REMINDER,
    REMOVED_FROM_LISTENER,
    WARNING,
    WHOLE_LOAD_BALANCER,
    ListenerHealth,
    MonitorEvent,
    Notification,
    Resolved,
    Transition,
    TransitionKind,
    UnitStatus,
)
from zlb_health.zenlayer.models import DEAD

_NAMES_IN_SUMMARY: Final = 3
# Labels a listener (id, name) for a text: the plain name, or an ASCII-safe one for a subject.
Labeler = Callable[[str, str], str]


def plain_label(listener_id: str, name: str) -> str:
    return name or listener_id


@dataclass(frozen=True, slots=True)
class View:
    """The subject's state after the observation, as users are shown it."""

    counts: dict[str, int]
    listeners: tuple[ListenerHealth, ...]
    critical: tuple[str, ...]

    @classmethod
    def of(cls, n: Notification) -> View:
        return cls(dict(n.counts), n.healthy_by_listener, n.critical_listeners)


EMPTY_VIEW: Final = View({}, (), ())


def compose(
    *,
    notification_id: str,
    subject_id: str,
    subject_name: str,
    at: str,
    view: View,
    transitions: Sequence[Transition] = (),
    events: Sequence[MonitorEvent] = (),
    resolved: Sequence[Resolved] = (),
    reminder: bool = False,
    retired: str | None = None,
    request_id: str | None = None,
    coalesced: int = 1,
    ids: Sequence[str] = (),
    maintenance: str | None = None,
    unhealthy: Sequence[UnitStatus] = (),
) -> Notification:
    event_type = event_type_of(transitions, events, resolved, reminder=reminder, retired=retired)
    severity = severity_of(transitions, events, view, reminder=reminder, retired=retired)
    if maintenance is not None:
        event_type = MAINTENANCE_ENDED
        severity = _maintenance_severity(view, unhealthy, severity)
    notification = Notification(
        id=notification_id,
        event_type=event_type,
        severity=severity,
        load_balancer_id=subject_id,
        load_balancer_name=subject_name,
        observed_at=at,
        summary="",
        transitions=tuple(transitions),
        counts=dict(view.counts),
        healthy_by_listener=view.listeners,
        monitor_events=tuple(events),
        critical_listeners=view.critical,
        request_id=request_id,
        resolved=tuple(resolved),
        coalesced=coalesced,
        ids=tuple(ids)[-MAX_IDS:] if coalesced > 1 else (),
        retired=retired,
        maintenance=maintenance,
        unhealthy=tuple(unhealthy),
    )
    return dataclasses.replace(notification, summary=summarize(notification, plain_label))


def event_type_of(
    transitions: Sequence[Transition],
    events: Sequence[MonitorEvent],
    resolved: Sequence[Resolved],
    *,
    reminder: bool,
    retired: str | None,
) -> str:
    if reminder:
        return REMINDER
    if transitions or retired:
        return HEALTH_CHANGE
    if any(e.change == "degraded" for e in events):
        return MONITOR_DEGRADED
    if events:
        return MONITOR_RESTORED
    return HEALTH_CHANGE  # only what came and went while alerts were delayed


def _maintenance_severity(view: View, unhealthy: Sequence[UnitStatus], changes: str) -> str:
    """The end of a maintenance window: critical when a listener it covers has no serving
    backend left, warning when something it covers is down; its changes (judged on the same
    current view) can only raise that."""
    ranked = (INFO, WARNING, CRITICAL)
    left = INFO
    if {u.listener_id for u in unhealthy} & set(view.critical):
        left = CRITICAL
    elif any(u.status == DEAD for u in unhealthy):
        left = WARNING
    return max(left, changes, key=ranked.index)


def emptied_listeners(transitions: Iterable[Transition], view: View) -> list[str]:
    """Listeners whose backends were removed and which now have none left."""
    present = {lh.listener_id for lh in view.listeners}
    return sorted(
        {
            t.listener_id
            for t in transitions
            if t.kind == "removed"
            and t.reason == REMOVED_FROM_LISTENER
            and t.port is None
            and t.listener_id not in present
        }
    )


def severity_of(
    transitions: Sequence[Transition],
    events: Sequence[MonitorEvent],
    view: View,
    *,
    reminder: bool,
    retired: str | None,
) -> str:
    touched = {t.listener_id for t in transitions}
    if reminder or (touched & set(view.critical) and not retired):
        return CRITICAL
    if (
        any(t.kind == "down" for t in transitions)
        or any(e.change == "degraded" for e in events)
        or (emptied_listeners(transitions, view) and not retired)
    ):
        return WARNING
    return INFO


# -- the summary: one sentence, also the email's subject ------------------------------------------

_KIND_TEXT: Final[tuple[tuple[TransitionKind, str], ...]] = (
    ("down", "down"),
    ("recovered", "recovered"),
    ("closed", "with health check disabled"),
    ("enabled", "with health check enabled again"),
    ("added", "added"),
    ("removed", "removed"),
    ("renumbered", "renumbered"),
    ("changed", "changed"),
)


def subject_label(n: Notification) -> str:
    return n.load_balancer_name or n.load_balancer_id


def listener_list(ids: Sequence[str], names: dict[str, str], label: Labeler) -> str:
    shown = [label(lid, names.get(lid, "")) for lid in ids[:_NAMES_IN_SUMMARY]]
    text = ", ".join(shown)
    if len(ids) > _NAMES_IN_SUMMARY:
        text += f" and {len(ids) - _NAMES_IN_SUMMARY} more"
    return text


def summarize(n: Notification, label: Labeler, subject: str | None = None) -> str:
    """What happened, in one sentence (`label` names listeners, `subject` the load balancer)."""
    names = n.listener_names
    view = View.of(n)
    parts: list[str] = []
    if n.retired == LOAD_BALANCER_DELETED:
        parts.append("load balancer deleted, no longer monitored")
    elif n.retired == NO_LONGER_MONITORED:
        parts.append("no longer monitored (not in LOAD_BALANCER_IDS)")
    if n.event_type == MAINTENANCE_ENDED:
        down = sum(1 for u in n.unhealthy if u.status == DEAD)
        off = len(n.unhealthy) - down
        ended = "maintenance ended"
        if down:
            ended += f", {down} still down"
        if off:
            ended += f", {off} with health check disabled"
        parts.append(ended)
    if n.event_type == REMINDER:
        still = listener_list(n.critical_listeners, names, label)
        parts.append(f"reminder, still no healthy backend on {still}")
    for kind, text in _KIND_TEXT:
        of_kind = [t for t in n.transitions if t.kind == kind]
        if of_kind:
            noun = "backend" if all(t.port is None for t in of_kind) else "backend port"
            parts.append(f"{len(of_kind)} {noun}{'' if len(of_kind) == 1 else 's'} {text}")
    touched = {t.listener_id for t in n.transitions}
    critical = [lid for lid in n.critical_listeners if lid in touched]
    if critical and not n.retired:
        parts.append(f"no healthy backend left on {listener_list(critical, names, label)}")
    emptied = emptied_listeners(n.transitions, view)
    if emptied and not n.retired:
        parts.append(f"no backend left on {listener_list(emptied, names, label)}")
    parts.extend(_event_text(e, names, label) for e in n.monitor_events)
    if n.resolved:
        count = len(n.resolved)
        when = "during the window" if n.maintenance else "while alerts were delayed"
        parts.append(f"{count} problem{'' if count == 1 else 's'} came and went {when}")
    if not parts:
        parts.append("nothing changed")
    return f"{subject or subject_label(n)}: {'; '.join(parts)}."


def _event_text(e: MonitorEvent, names: dict[str, str], label: Labeler) -> str:
    where = ""
    if e.scope not in (WHOLE_LOAD_BALANCER, DISCOVERY_SCOPE):
        where = f" for listener {label(e.scope, names.get(e.scope, ''))}"
    if e.change == "degraded":
        cause = (e.kind or "error") + (f" {e.code}" if e.code else "")
        return (
            f"monitoring degraded{where} after {e.consecutive_failures} failed API calls "
            f"in a row ({cause})"
        )
    return f"monitoring {e.change}{where}"
