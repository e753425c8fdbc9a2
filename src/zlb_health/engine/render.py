"""Notifications -> SNS messages (`MessageStructure=json`), and how a run's messages are planned.

`render(notification)` gives the subject (at most 99 ASCII characters, no line breaks: SNS
requires fewer than 100), the three renditions -- `default` (JSON, schemaVersion 1), `email`
(plain text) and `sms` (one part: at most 160 printable ASCII characters) -- and the message
attributes `event_type`, `severity`, `load_balancer_id`.

The JSON lists at most 200 transitions (`transitionsOmitted` says how many more) and the whole
message is kept far below SNS's 256 KB limit (lists are shortened further if it would not be).

Planning (`plan_messages(notifications, cap=N)`), deterministic for a given input:

1. Every `monitor_degraded` notification of the run goes into ONE message; every
   `monitor_restored` one into ONE other message. A grouped message carries
   `load_balancer_id` = the load balancer when there is only one, `*` otherwise, and its JSON
   lists `loadBalancerIds`, the notification `ids` and one entry per notification under
   `loadBalancers` (its `id` is the first of `ids`).
2. The other notifications (health_change, reminder) get one message each while the total
   number of messages stays within `cap`.
3. Beyond that, the most severe ones (critical > warning > info, then oldest observedAt, then
   id) go out individually -- as many as leave room for one more message -- and the rest are
   rolled into ONE digest: event_type = the highest-priority type present (health_change >
   reminder > monitor_degraded > monitor_restored), severity = the highest present,
   load_balancer_id `*`, JSON with `"digest": true`, `loadBalancerIds` and a summary per
   notification; SMS `ZLB: 37 load balancers changed: 5 crit, 12 warn, 20 info. See email.`
   (a load balancer is counted once, at its highest severity).
4. If `cap` cannot fit both monitor groups plus a digest (cap 2), the monitor_restored
   notifications join the digest, so a run never publishes more than `cap` messages (cap >= 2).

Message order: monitor_degraded group, individual messages (most severe first), monitor_restored
group, digest. Every notification id is in exactly one planned message.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from zlb_health.engine.notifications import (
    CRITICAL,
    EVENT_TYPES,
    HEALTH_CHANGE,
    INFO,
    MONITOR_DEGRADED,
    MONITOR_RESTORED,
    REMINDER,
    SEVERITY_RANK,
    WARNING,
    Notification,
    Transition,
)

SCHEMA_VERSION: Final = 1
SUBJECT_MAX: Final = 99
SMS_MAX: Final = 160
TRANSITIONS_MAX: Final = 200
EMAIL_LINES_MAX: Final = 500
MESSAGE_BUDGET: Final = 200_000  # bytes of the SNS Message (all renditions); SNS allows 262,144
_SHRINK_STEPS: Final = (TRANSITIONS_MAX, 100, 50, 20, 5, 0)

_SEV_SHORT: Final = {CRITICAL: "CRIT", WARNING: "WARN", INFO: "INFO"}
_KIND_SMS: Final = (
    ("down", "DOWN"),
    ("recovered", "UP"),
    ("closed", "HC OFF"),
    ("enabled", "HC ON"),
    ("added", "ADDED"),
    ("removed", "REMOVED"),
    ("changed", "CHANGED"),
)
_KIND_EMAIL: Final = {
    "down": "DOWN",
    "recovered": "RECOVERED",
    "closed": "HEALTH CHECK DISABLED",
    "enabled": "HEALTH CHECK ENABLED",
    "added": "ADDED",
    "removed": "REMOVED",
    "changed": "CHANGED",
}
_TITLES: Final = {
    HEALTH_CHANGE: "Backend health changed",
    REMINDER: "Reminder: listener still without a healthy backend",
    MONITOR_DEGRADED: "Monitoring degraded",
    MONITOR_RESTORED: "Monitoring restored",
}
_EVENT_RANK: Final = {event: rank for rank, event in enumerate(EVENT_TYPES)}


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    message: dict[str, str]  # default (JSON), email, sms
    attributes: dict[str, str]  # event_type, severity, load_balancer_id

    def sns_message(self) -> str:
        """The `Message` parameter for Publish with MessageStructure=json."""
        return json.dumps(self.message)


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    rendered: RenderedMessage
    notification_ids: tuple[str, ...]


# -- text helpers -----------------------------------------------------------------------------


def ascii_text(text: str, limit: int | None = None) -> str:
    """Printable ASCII only: accents folded, anything else dropped, whitespace collapsed."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = " ".join("".join(c if " " <= c <= "~" else " " for c in folded).split())
    return _clip(cleaned, limit)


def _clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    if limit <= 3:
        return text[:limit]
    return text[: limit - 3].rstrip() + "..."


def _one_line(text: str) -> str:
    """For the email: any characters, but no control characters or line breaks."""
    return " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in text).split())


def _sms_token(text: str, fallback: str, limit: int) -> str:
    token = ascii_text(text, limit) or ascii_text(fallback, limit)
    return token or "?"


def _severity_rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, len(SEVERITY_RANK))


def _max_severity(severities: Sequence[str]) -> str:
    return min(severities, key=_severity_rank) if severities else INFO


def _message_size(message: dict[str, str]) -> int:
    return len(json.dumps(message).encode("utf-8"))


def _fit(build: Callable[[int], RenderedMessage]) -> RenderedMessage:
    """Build with ever shorter lists until the whole SNS message fits the budget."""
    rendered = build(_SHRINK_STEPS[0])
    for limit in _SHRINK_STEPS[1:]:
        if _message_size(rendered.message) <= MESSAGE_BUDGET:
            break
        rendered = build(limit)
    return rendered


def _subject(severity: str, text: str) -> str:
    return _clip(ascii_text(f"ZLB {severity.upper()}: {text}"), SUBJECT_MAX)


def _subject_text(n: Notification) -> str:
    """The summary, with a name that survives ASCII folding (else the id) in front."""
    prefix = f"{n.load_balancer_name or n.load_balancer_id}: "
    rest = n.summary[len(prefix) :] if n.summary.startswith(prefix) else n.summary
    return f"{_sms_token(n.load_balancer_name, n.load_balancer_id, 40)}: {rest}"


def _lb_label(n: Notification) -> str:
    if n.load_balancer_name and n.load_balancer_name != n.load_balancer_id:
        return f"{n.load_balancer_name} ({n.load_balancer_id})"
    return n.load_balancer_id


def _listener_label(listener_id: str, name: str) -> str:
    return f"{name} ({listener_id})" if name and name != listener_id else listener_id


def _target_label(t: Transition) -> str:
    if t.instance_id and t.private_ip_address:
        return f"{t.instance_id} ({t.private_ip_address})"
    return t.target


# -- one notification -------------------------------------------------------------------------


def transition_json(transition: Transition) -> dict[str, Any]:
    """A transition as subscribers get it: `backendPort` an integer like the vendor's field, or
    null when the backend follows the listener port, which `listenerPort` then gives."""
    data = transition.to_dict()
    if transition.backend_port.isascii() and transition.backend_port.isdigit():
        data["backendPort"] = int(transition.backend_port)
    else:
        data["backendPort"] = None
        data["listenerPort"] = transition.backend_port
    return data


def render(notification: Notification) -> RenderedMessage:
    """The SNS message for one notification (see the module docstring)."""
    return _fit(lambda limit: _render(notification, limit, {}))


def _render(n: Notification, limit: int, extra: dict[str, Any]) -> RenderedMessage:
    document = {**_document(n, limit), **extra}
    return RenderedMessage(
        subject=_subject(n.severity, _subject_text(n)),
        message={
            "default": json.dumps(document, separators=(",", ":")),
            "email": _email(n, limit),
            "sms": _sms(n),
        },
        attributes={
            "event_type": n.event_type,
            "severity": n.severity,
            "load_balancer_id": n.load_balancer_id,
        },
    )


def _document(n: Notification, limit: int) -> dict[str, Any]:
    names = n.listener_names
    return {
        "schemaVersion": SCHEMA_VERSION,
        "id": n.id,
        "eventType": n.event_type,
        "severity": n.severity,
        "loadBalancerId": n.load_balancer_id,
        "loadBalancerName": n.load_balancer_name,
        "observedAt": n.observed_at,
        "requestId": n.request_id,
        "summary": n.summary,
        "transitions": [transition_json(t) for t in n.transitions[:limit]],
        "transitionsOmitted": max(0, len(n.transitions) - limit),
        "counts": dict(n.counts),
        "criticalListeners": [
            {"listenerId": lid, "listenerName": names.get(lid, "")}
            for lid in n.critical_listeners[:limit]
        ],
        "healthyByListener": [h.to_dict() for h in n.healthy_by_listener[:limit]],
        "listenersOmitted": max(0, len(n.healthy_by_listener) - limit),
        "monitor": dict(n.monitor) if n.monitor is not None else None,
        "monitorRestored": n.monitor_restored,
    }


def _email(n: Notification, limit: int) -> str:
    names = n.listener_names
    lines = [
        f"{_TITLES.get(n.event_type, n.event_type)} - severity {n.severity.upper()}",
        "",
        _one_line(n.summary),
        "",
        f"Load balancer: {_one_line(_lb_label(n))}",
    ]
    if n.transitions:
        lines += ["", "What changed:"]
        for t in n.transitions[:limit]:
            port = f"port {t.shown_port}"
            lines.append(
                f"  - {_KIND_EMAIL.get(t.kind, t.kind.upper())}: "
                f"{_one_line(_target_label(t))} {port} on listener "
                f"{_one_line(_listener_label(t.listener_id, t.listener_name))}: "
                f"{t.previous_status or 'none'} -> {t.current_status or 'none'}"
                + (f", since {t.since}" if t.since else "")
            )
        if len(n.transitions) > limit:
            lines.append(
                f"  ... and {len(n.transitions) - limit} more changes (see the JSON message)."
            )
    monitor_event = n.event_type in (MONITOR_DEGRADED, MONITOR_RESTORED)
    if n.monitor is not None:
        lines += ["", *_monitor_lines(n)]
    if n.critical_listeners:
        lines += ["", "Listeners with NO healthy backend:"]
        lines += [
            f"  - {_one_line(_listener_label(lid, names.get(lid, '')))}"
            for lid in n.critical_listeners[:limit]
        ]
    if n.healthy_by_listener:
        heading = "Last known health" if monitor_event else "Still healthy"
        lines += ["", f"{heading}, per listener (backends with a port notified Alive):"]
        critical = set(n.critical_listeners)
        for h in n.healthy_by_listener[:limit]:
            flag = "  <-- NO HEALTHY BACKEND" if h.listener_id in critical else ""
            lines.append(
                f"  - {_one_line(_listener_label(h.listener_id, h.listener_name))}: "
                f"{h.healthy} of {h.total} backends healthy{flag}"
            )
        if len(n.healthy_by_listener) > limit:
            lines.append(f"  ... and {len(n.healthy_by_listener) - limit} more listeners.")
    if n.counts:
        lines += ["", _counts_line(n.counts)]
    lines += [
        "",
        f"Notification id: {n.id}",
        f"Load balancer id: {n.load_balancer_id}",
        f"Observed at: {n.observed_at}; requestId: {n.request_id or '-'}",
    ]
    return "\n".join(lines) + "\n"


def _counts_line(counts: dict[str, int]) -> str:
    statuses = ", ".join(
        f"{counts[key]} {key}" for key in ("alive", "dead", "close", "unknown") if key in counts
    )
    line = f"Backends: {counts.get('backends', 0)} ({statuses})"
    if "listeners" in counts:
        line += f" on {counts['listeners']} listeners"
    if counts.get("listenersWithoutHealthyBackend"):
        line += f", {counts['listenersWithoutHealthyBackend']} without a healthy backend"
    return line + "."


def _monitor_lines(n: Notification) -> list[str]:
    m = n.monitor or {}
    error = ", ".join(
        f"{key} {m[key]}" for key in ("kind", "code", "status", "requestId") if m.get(key)
    )
    if n.event_type == MONITOR_DEGRADED:
        head = f"Monitoring degraded since {m.get('since')}"
    else:
        head = f"Monitoring restored at {m.get('restoredAt')} (degraded since {m.get('since')})"
    lines = [
        f"{head}, after {m.get('consecutiveFailures')} failed API calls in a row.",
        f"Last error: {_one_line(error) or '-'}",
    ]
    if m.get("message"):
        lines.append(f"Error message: {_one_line(str(m['message']))}")
    return lines


# -- SMS --------------------------------------------------------------------------------------


def _sms(n: Notification) -> str:
    lb = _sms_token(n.load_balancer_name, n.load_balancer_id, 24)
    head = f"ZLB {_SEV_SHORT.get(n.severity, 'INFO')} {lb}:"
    names = n.listener_names
    if n.event_type == MONITOR_DEGRADED:
        m = n.monitor or {}
        cause = ascii_text(" ".join(str(m[k]) for k in ("kind", "code") if m.get(k)), 40)
        failures = m.get("consecutiveFailures")
        text = f"{head} monitoring degraded, {failures} failed API calls ({cause}). See email."
        return _clip(text, SMS_MAX)
    if n.event_type == MONITOR_RESTORED:
        return _clip(f"{head} monitoring restored.", SMS_MAX)
    if n.event_type == REMINDER:
        listeners = _listener_phrase(n.critical_listeners, names)
        return _clip(f"{head} REMINDER {listeners} still NO healthy backend.", SMS_MAX)
    text = head
    if n.severity == CRITICAL:
        touched = {t.listener_id for t in n.transitions}
        critical = [lid for lid in n.critical_listeners if lid in touched]
        if critical:
            text += f" {_listener_phrase(critical, names)} NO healthy backend."
    groups = [
        (label, [_sms_item(t) for t in n.transitions if t.kind == kind])
        for kind, label in _KIND_SMS
    ]
    return _fill(text, [(label, items) for label, items in groups if items], n.monitor_restored)


def _listener_phrase(listener_ids: Sequence[str], names: dict[str, str]) -> str:
    if not listener_ids:
        return "listener"
    first = _sms_token(names.get(listener_ids[0], ""), listener_ids[0], 20)
    if len(listener_ids) == 1:
        return first
    return f"{first} +{len(listener_ids) - 1} listeners"


def _sms_item(t: Transition) -> str:
    target = _sms_token(t.instance_id or "", t.private_ip_address, 22)
    port = ascii_text(t.shown_port, 11) or "?"
    return f"{target}:{port}"


def _fill(text: str, groups: list[tuple[str, list[str]]], monitor_restored: bool) -> str:
    """Append `LABEL n: item,item` groups while they fit; the rest becomes `+N more`."""
    tail = " Monitor OK." if monitor_restored else ""
    budget = SMS_MAX - len(tail)
    reserve = len(" +99999 more")
    hidden = 0
    for label, items in groups:
        head = f" {label} {len(items)}:"
        if len(text) + len(head) + 1 + reserve > budget:
            hidden += len(items)
            continue
        text += head
        shown = 0
        for item in items:
            piece = (" " if shown == 0 else ",") + item
            if len(text) + len(piece) + reserve > budget:
                break
            text += piece
            shown += 1
        if shown == 0:
            text = text[: -len(head)]
        hidden += len(items) - shown
    if hidden:
        text += f" +{hidden} more"
    return _clip(text + tail, SMS_MAX)


# -- several notifications in one message -----------------------------------------------------


def render_group(notifications: Sequence[Notification], *, digest: bool) -> RenderedMessage:
    """One message for several notifications: a monitor group, or the digest (`digest=True`)."""
    if not notifications:
        raise ValueError("nothing to render")
    ordered = sorted(notifications, key=_priority)
    lb_ids = sorted({n.load_balancer_id for n in ordered})
    if len(ordered) == 1 and not digest:
        only = ordered[0]
        return _fit(lambda limit: _render(only, limit, {"loadBalancerIds": lb_ids}))
    return _fit(lambda limit: _render_group(ordered, lb_ids, digest, limit))


def _render_group(
    ordered: list[Notification], lb_ids: list[str], digest: bool, limit: int
) -> RenderedMessage:
    event_type = min((n.event_type for n in ordered), key=lambda e: _EVENT_RANK.get(e, 99))
    severity = _max_severity([n.severity for n in ordered])
    lb_attr = lb_ids[0] if len(lb_ids) == 1 else "*"
    by_lb: dict[str, str] = {}  # a load balancer's highest severity
    for n in ordered:
        known = by_lb.get(n.load_balancer_id)
        if known is None or _severity_rank(n.severity) < _severity_rank(known):
            by_lb[n.load_balancer_id] = n.severity
    per_severity = Counter(by_lb.values())
    latest: dict[str, Notification] = {}
    for n in sorted(ordered, key=lambda n: (n.observed_at, n.id)):
        latest[n.load_balancer_id] = n
    counts: Counter[str] = Counter()
    for n in latest.values():
        counts.update(n.counts)
    many = f"{len(lb_ids)} load balancer{'' if len(lb_ids) == 1 else 's'}"
    if digest:
        summary = (
            f"{many} changed: {per_severity[CRITICAL]} critical, "
            f"{per_severity[WARNING]} warning, {per_severity[INFO]} info."
        )
        sms = (
            f"ZLB: {many} changed: {per_severity[CRITICAL]} crit, "
            f"{per_severity[WARNING]} warn, {per_severity[INFO]} info. See email."
        )
    else:
        what = "degraded" if event_type == MONITOR_DEGRADED else "restored"
        summary = f"Monitoring {what} for {many}."
        shown = ",".join(_sms_token(_name_of(ordered, lb), lb, 20) for lb in lb_ids[:3])
        more = f" +{len(lb_ids) - 3} more" if len(lb_ids) > 3 else ""
        sms = (
            f"ZLB {_SEV_SHORT.get(severity, 'INFO')}: monitoring {what} for {many}: {shown}{more}."
        )
    document: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "id": ordered[0].id,
        "ids": [n.id for n in ordered],
        "eventType": event_type,
        "severity": severity,
        "loadBalancerId": lb_attr,
        "loadBalancerIds": lb_ids[: limit * 10],
        "loadBalancerIdsOmitted": max(0, len(lb_ids) - limit * 10),
        "observedAt": max(n.observed_at for n in ordered),
        "summary": summary,
        "transitions": [],
        "transitionsOmitted": sum(len(n.transitions) for n in ordered),
        "counts": dict(counts),
        "loadBalancers": [_entry(n) for n in ordered[:limit]],
        "loadBalancersOmitted": max(0, len(ordered) - limit),
    }
    if digest:
        document["digest"] = True
    lines = [f"{_TITLES.get(event_type, event_type)} - severity {severity.upper()}", "", summary]
    lines += ["", "Load balancers (most severe first):"]
    for n in ordered[: min(limit * 2 + 1, EMAIL_LINES_MAX)]:
        lines.append(f"  - [{n.severity.upper()}] {_one_line(n.summary)}")
        detail = f"      id {n.id}, load balancer {n.load_balancer_id}, observed {n.observed_at}"
        if n.monitor:
            error = " ".join(str(n.monitor[k]) for k in ("kind", "code") if n.monitor.get(k))
            detail += f", error {_one_line(error) or '-'}"
            detail += f", requestId {n.monitor.get('requestId') or '-'}"
        elif n.request_id:
            detail += f", requestId {n.request_id}"
        lines.append(detail)
    hidden = len(ordered) - min(limit * 2 + 1, EMAIL_LINES_MAX)
    if hidden > 0:
        lines.append(f"  ... and {hidden} more (see the JSON message).")
    if digest:
        lines += ["", "Too many load balancers changed in this run for one message each."]
    return RenderedMessage(
        subject=_subject(severity, summary),
        message={
            "default": json.dumps(document, separators=(",", ":")),
            "email": "\n".join(lines) + "\n",
            "sms": _clip(ascii_text(sms), SMS_MAX),
        },
        attributes={"event_type": event_type, "severity": severity, "load_balancer_id": lb_attr},
    )


def _name_of(notifications: Sequence[Notification], lb_id: str) -> str:
    for n in notifications:
        if n.load_balancer_id == lb_id and n.load_balancer_name:
            return n.load_balancer_name
    return ""


def _entry(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "eventType": n.event_type,
        "severity": n.severity,
        "loadBalancerId": n.load_balancer_id,
        "loadBalancerName": n.load_balancer_name,
        "observedAt": n.observed_at,
        "summary": n.summary,
        "transitionCount": len(n.transitions),
        "counts": dict(n.counts),
        "criticalListeners": list(n.critical_listeners),
        "monitor": dict(n.monitor) if n.monitor is not None else None,
        "monitorRestored": n.monitor_restored,
    }


# -- planning ---------------------------------------------------------------------------------


def _priority(n: Notification) -> tuple[int, str, str]:
    return (_severity_rank(n.severity), n.observed_at, n.id)


def plan_messages(notifications: Sequence[Notification], *, cap: int) -> list[PlannedMessage]:
    """The run's messages under `cap` (>= 2); rules in the module docstring."""
    if cap < 2:
        raise ValueError("cap must be at least 2")
    degraded = sorted(
        (n for n in notifications if n.event_type == MONITOR_DEGRADED),
        key=lambda n: (n.load_balancer_id, n.id),
    )
    restored = sorted(
        (n for n in notifications if n.event_type == MONITOR_RESTORED),
        key=lambda n: (n.load_balancer_id, n.id),
    )
    others = sorted(
        (n for n in notifications if n.event_type not in (MONITOR_DEGRADED, MONITOR_RESTORED)),
        key=_priority,
    )
    grouped = int(bool(degraded)) + int(bool(restored))
    individual, rolled = others, []
    if grouped + len(others) > cap:
        if restored and cap - grouped - 1 < 0:
            others = sorted([*others, *restored], key=_priority)
            restored = []
            grouped -= 1
        room = cap - grouped - 1
        individual, rolled = others[:room], others[room:]
        if len(rolled) == 1:  # a digest of one is just that message
            individual, rolled = others, []

    planned: list[PlannedMessage] = []
    if degraded:
        planned.append(_planned(render_group(degraded, digest=False), degraded))
    planned += [_planned(render(n), [n]) for n in individual]
    if restored:
        planned.append(_planned(render_group(restored, digest=False), restored))
    if rolled:
        planned.append(_planned(render_group(rolled, digest=True), rolled))
    return planned


def _planned(rendered: RenderedMessage, notifications: Sequence[Notification]) -> PlannedMessage:
    return PlannedMessage(rendered, tuple(n.id for n in notifications))
