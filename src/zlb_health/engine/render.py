"""Notifications -> SNS messages (`MessageStructure=json`): subject, JSON, email and SMS.

`render(notification, origin)` gives the subject (at most 99 ASCII characters, no line breaks:
SNS requires fewer than 100), the three renditions -- `default` (JSON, schemaVersion 1), `email`
(plain text) and `sms` (one part: at most 160 printable ASCII characters) -- and the message
attributes `event_type`, `severity`, `load_balancer_id`. Every rendition names the stack and
region the message comes from (`origin`), so several stacks can share one inbox.

Every list in every rendition is bounded, and the size of the whole message is checked after
the last shrinking step: past SNS's 262,144 bytes a message is rejected run after run, which
would silence exactly the biggest outages. `render_group` renders several notifications as one
message (a monitor group, or the storm cap's digest).

Health is counted one way everywhere (`tally`): a backend is healthy when every checked port is
Alive, partly down when some are; listeners list "N of M backends healthy".
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from zlb_health.engine.compose import View, emptied_listeners, summarize
from zlb_health.engine.notifications import (
    CRITICAL,
    DISCOVERY_SCOPE,
    EVENT_TYPES,
    HEALTH_CHANGE,
    INFO,
    MAINTENANCE_ENDED,
    MONITOR_DEGRADED,
    MONITOR_RESTORED,
    REMINDER,
    SEVERITY_RANK,
    WARNING,
    WHOLE_LOAD_BALANCER,
    MonitorEvent,
    Notification,
    Transition,
    UnitStatus,
)
from zlb_health.engine.text import (
    ascii_label,
    ascii_text,
    ascii_token,
    clip,
    lb_label,
    listener_label,
    one_line,
    ports_label,
    target_label,
)

SCHEMA_VERSION: Final = 1
SUBJECT_MAX: Final = 99
SMS_MAX: Final = 160
SNS_MESSAGE_LIMIT: Final = 262_144  # bytes of Publish's Message (all renditions)
MESSAGE_BUDGET: Final = 200_000  # what renditions aim for, well inside the limit
_SHRINK_STEPS: Final = (200, 100, 50, 20, 5, 0)

_SEV_SHORT: Final = {CRITICAL: "CRIT", WARNING: "WARN", INFO: "INFO"}
_KIND_SMS: Final = (
    ("down", "DOWN"),
    ("recovered", "UP"),
    ("closed", "HC OFF"),
    ("enabled", "HC ON"),
    ("added", "ADDED"),
    ("removed", "REMOVED"),
    ("renumbered", "MOVED"),
    ("changed", "CHANGED"),
)
_KIND_EMAIL: Final = {
    "down": "DOWN",
    "recovered": "RECOVERED",
    "closed": "HEALTH CHECK DISABLED",
    "enabled": "HEALTH CHECK ENABLED",
    "added": "ADDED",
    "removed": "REMOVED",
    "renumbered": "PORT RENUMBERED",
    "changed": "CHANGED",
}
_REASONS: Final = {
    "absent": "no longer in the load balancer's answers",
    "deleted": "the load balancer was deleted",
    "unmonitored": "no longer monitored",
}
_TITLES: Final = {
    HEALTH_CHANGE: "Backend health changed",
    MAINTENANCE_ENDED: "Maintenance ended",
    REMINDER: "Reminder: listener still without a healthy backend",
    MONITOR_DEGRADED: "Monitoring degraded",
    MONITOR_RESTORED: "Monitoring restored",
}
_EVENT_RANK: Final = {event: rank for rank, event in enumerate(EVENT_TYPES)}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where messages come from: the stack and its region."""

    stack: str = "zlb-health"
    region: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"stack": self.stack, "region": self.region}

    def sentence(self) -> str:
        where = f" in {self.region}" if self.region else ""
        return f"Sent by zlb-health stack {self.stack}{where}."


DEFAULT_ORIGIN: Final = Origin()


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    message: dict[str, str]  # default (JSON), email, sms
    attributes: dict[str, str]  # event_type, severity, load_balancer_id

    def sns_message(self) -> str:
        """The `Message` parameter for Publish with MessageStructure=json."""
        return json.dumps(self.message)

    @property
    def size(self) -> int:
        return len(self.sns_message().encode("utf-8"))


def severity_rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, len(SEVERITY_RANK))


def max_severity(severities: Sequence[str]) -> str:
    return min(severities, key=severity_rank) if severities else INFO


def event_rank(event_type: str) -> int:
    return _EVENT_RANK.get(event_type, len(_EVENT_RANK))


def fit(
    build: Callable[[int], RenderedMessage], minimal: Callable[[], RenderedMessage]
) -> RenderedMessage:
    """Build with ever shorter lists until the whole SNS message fits the budget; `minimal` (no
    lists at all) if even the shortest does not."""
    for limit in _SHRINK_STEPS:
        rendered = build(limit)
        if rendered.size <= MESSAGE_BUDGET:
            return rendered
    return minimal()


def _subject(severity: str, origin: Origin, text: str) -> str:
    stack = ascii_token(origin.stack, "zlb-health", 24)
    return clip(ascii_text(f"ZLB {severity.upper()} [{stack}]: {text}"), SUBJECT_MAX)


def _attributes(event_type: str, severity: str, subject_id: str) -> dict[str, str]:
    return {"event_type": event_type, "severity": severity, "load_balancer_id": subject_id}


# -- one notification ---------------------------------------------------------------------------


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


def monitor_json(event: MonitorEvent) -> dict[str, Any]:
    data = event.to_dict()
    data["restoredAt"] = event.at if event.change != "degraded" else None
    return data


def render(notification: Notification, origin: Origin = DEFAULT_ORIGIN) -> RenderedMessage:
    """The SNS message for one notification (see the module docstring)."""
    n = notification
    return fit(
        lambda limit: _render(n, origin, limit, {}),
        lambda: _render(n, origin, 0, {"truncated": True}),
    )


def _render(n: Notification, origin: Origin, limit: int, extra: dict[str, Any]) -> RenderedMessage:
    subject_text = summarize(
        n, ascii_label, subject=ascii_token(n.load_balancer_name, n.load_balancer_id, 40)
    )
    return RenderedMessage(
        subject=_subject(n.severity, origin, subject_text),
        message={
            "default": json.dumps({**document(n, origin, limit), **extra}, separators=(",", ":")),
            "email": _email(n, origin, limit),
            "sms": sms(n, origin),
        },
        attributes=_attributes(n.event_type, n.severity, n.load_balancer_id),
    )


def document(n: Notification, origin: Origin, limit: int) -> dict[str, Any]:
    names = n.listener_names
    events = n.monitor_events
    return {
        "schemaVersion": SCHEMA_VERSION,
        "id": n.id,
        "ids": list(n.all_ids[-limit:]) if limit else [n.id],
        "coalesced": n.coalesced,
        "eventType": n.event_type,
        "severity": n.severity,
        "loadBalancerId": n.load_balancer_id,
        "loadBalancerName": n.load_balancer_name,
        "observedAt": n.observed_at,
        "requestId": n.request_id,
        "source": origin.to_dict(),
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
        "monitor": monitor_json(events[0]) if events else None,
        "monitorEvents": [monitor_json(e) for e in events[:limit]],
        "monitorRestored": n.monitor_restored,
        "resolved": [r.to_dict() for r in n.resolved[:limit]],
        "retired": n.retired,
        "maintenance": n.maintenance,
        "unhealthy": [u.to_dict() for u in n.unhealthy[:limit]],
        "unhealthyOmitted": max(0, len(n.unhealthy) - limit),
    }


def _email(n: Notification, origin: Origin, limit: int) -> str:
    # A little over 60 lines on purpose: the email's sections in the order a reader sees them.
    names = n.listener_names
    lines = [
        f"{_TITLES.get(n.event_type, n.event_type)} - severity {n.severity.upper()}",
        "",
        one_line(n.summary),
        "",
        f"Load balancer: {one_line(lb_label(n))}",
    ]
    if n.maintenance is not None:
        lines += ["", f"Silence {n.maintenance} is over; alerts are back on."]
        if n.unhealthy:
            lines += ["", "Unhealthy now (what the silence covered):"]
            lines += [f"  - {_unit_line(u)}" for u in n.unhealthy[: max(limit, 1)]]
            if len(n.unhealthy) > max(limit, 1):
                lines.append(f"  ... and {len(n.unhealthy) - max(limit, 1)} more.")
    if n.transitions:
        heading = "What differs from the start of the window:" if n.maintenance else "What changed:"
        lines += ["", heading]
        lines += [f"  - {_change_line(t)}" for t in n.transitions[:limit]]
        if len(n.transitions) > limit:
            lines.append(
                f"  ... and {len(n.transitions) - limit} more changes (see the JSON message)."
            )
    for event in n.monitor_events[: max(limit, 1)]:
        lines += ["", *_monitor_lines(event, names)]
    if n.critical_listeners:
        lines += ["", "Listeners with NO healthy backend:"]
        lines += [
            f"  - {one_line(listener_label(lid, names.get(lid, '')))}"
            for lid in n.critical_listeners[:limit]
        ]
    if n.healthy_by_listener:
        monitor_only = n.event_type in (MONITOR_DEGRADED, MONITOR_RESTORED)
        heading = "Last known health" if monitor_only else "Health now"
        lines += ["", f"{heading}, per listener (healthy: every checked port Alive):"]
        critical = set(n.critical_listeners)
        for h in n.healthy_by_listener[:limit]:
            partial = f", {h.partial} partly down" if h.partial else ""
            flag = "  <-- NO HEALTHY BACKEND" if h.listener_id in critical else ""
            lines.append(
                f"  - {one_line(listener_label(h.listener_id, h.listener_name))}: "
                f"{h.healthy} of {h.total} backends healthy{partial}{flag}"
            )
        if len(n.healthy_by_listener) > limit:
            lines.append(f"  ... and {len(n.healthy_by_listener) - limit} more listeners.")
    if n.counts:
        lines += ["", _counts_line(n.counts)]
    if n.resolved:
        over = "During the window" if n.maintenance else "While alerts were delayed"
        lines += ["", f"{over} (already over):"]
        lines += [
            f"  - {one_line(r.what)}, from {r.started or '?'} to {r.ended or '?'}"
            for r in n.resolved[: max(limit, 1)]
        ]
    ids = f"{n.id} (stands for {n.coalesced} notifications)" if n.coalesced > 1 else n.id
    lines += [
        "",
        f"Notification id: {ids}",
        f"Load balancer id: {n.load_balancer_id}",
        f"Observed at: {n.observed_at}; requestId: {n.request_id or '-'}",
        origin.sentence(),
    ]
    return "\n".join(lines) + "\n"


def _change_line(t: Transition) -> str:
    line = (
        f"{_KIND_EMAIL.get(t.kind, t.kind.upper())}: {one_line(target_label(t))} {ports_label(t)} "
        f"on listener {one_line(listener_label(t.listener_id, t.listener_name))}: "
        f"{t.previous_status or 'none'} -> {t.current_status or 'none'}"
    )
    if t.reason in _REASONS:
        line += f" ({_REASONS[t.reason]})"
    return line + (f", since {t.since}" if t.since else "")


def _unit_line(u: UnitStatus) -> str:
    where = f"port {u.port}" if u.port is not None else f"port {u.backend_port}"
    target = f"{u.instance_id} ({u.private_ip_address})" if u.instance_id else u.private_ip_address
    listener = one_line(listener_label(u.listener_id, u.listener_name))
    since = f", since {u.since}" if u.since else ""
    return f"{u.status.upper()}: {one_line(target)} {where} on listener {listener}{since}"


def _counts_line(counts: dict[str, int]) -> str:
    labels = (
        ("alive", "healthy"),
        ("partial", "partly down"),
        ("dead", "down"),
        ("close", "health check off"),
        ("unknown", "unknown"),
    )
    statuses = ", ".join(f"{counts[key]} {text}" for key, text in labels if key in counts)
    line = f"Backends: {counts.get('backends', 0)} ({statuses})"
    if "listeners" in counts:
        listeners = counts["listeners"]
        line += f" on {listeners} listener{'' if listeners == 1 else 's'}"
    if counts.get("listenersWithoutHealthyBackend"):
        line += f", {counts['listenersWithoutHealthyBackend']} without a healthy backend"
    return line + "."


def _scope_text(scope: str, names: dict[str, str]) -> str:
    if scope == WHOLE_LOAD_BALANCER:
        return "the load balancer"
    if scope == DISCOVERY_SCOPE:
        return "load balancer discovery (DescribeLoadBalancers)"
    return f"listener {one_line(listener_label(scope, names.get(scope, '')))}"


def error_text(event: MonitorEvent) -> str:
    """`server INTERNAL_SERVER_ERROR, HTTP 500, requestId R`: what failed, as the API said."""
    bits = [" ".join(b for b in (event.kind, event.code) if b)]
    if event.status is not None:
        bits.append(f"HTTP {event.status}")
    if event.request_id:
        bits.append(f"requestId {event.request_id}")
    return ", ".join(b for b in bits if b) or "-"


def _monitor_lines(event: MonitorEvent, names: dict[str, str]) -> list[str]:
    where = _scope_text(event.scope, names)
    failures = f"{event.consecutive_failures} failed API calls in a row"
    if event.change == "degraded":
        head = f"Monitoring of {where} degraded since {event.since}, after {failures}."
    elif event.change == "restored":
        head = f"Monitoring of {where} restored at {event.at} (degraded since {event.since})."
    else:
        head = f"Monitoring of {where} ended at {event.at} (it was degraded since {event.since})."
    lines = [head, f"Last error: {one_line(error_text(event))}"]
    if event.message:
        lines.append(f"Zenlayer said: {one_line(event.message)}")
    return lines


# -- SMS ----------------------------------------------------------------------------------------


def _sms_head(severity: str, origin: Origin, who: str) -> str:
    stack = ascii_token(origin.stack, "zlb-health", 16)
    return f"ZLB {stack} {_SEV_SHORT.get(severity, 'INFO')} {who}:"


def sms(n: Notification, origin: Origin) -> str:
    head = _sms_head(n.severity, origin, ascii_token(n.load_balancer_name, n.load_balancer_id, 24))
    names = n.listener_names
    text = head
    if n.retired:
        text += (
            " deleted, no longer monitored." if n.retired == "deleted" else " no longer monitored."
        )
    if n.maintenance is not None:
        down = [_unit_item(u) for u in n.unhealthy if u.status == "Dead"]
        text += " maintenance ended."
        if down:
            text += f" Still DOWN {len(down)}:"
            return _still_down(text, down)
    if n.event_type == REMINDER:
        listeners = _listener_phrase(n.critical_listeners, names)
        return clip(f"{head} REMINDER {listeners} still NO healthy backend.", SMS_MAX)
    if n.severity == CRITICAL:
        touched = {t.listener_id for t in n.transitions}
        critical = [lid for lid in n.critical_listeners if lid in touched]
        if critical:
            text += f" {_listener_phrase(critical, names)} NO healthy backend."
    emptied = emptied_listeners(n.transitions, View.of(n))
    if emptied and not n.retired:
        text += f" {_listener_phrase(emptied, names)} has NO backend left."
    qualify = len({t.listener_id for t in n.transitions}) > 1
    groups = [
        (label, [_sms_item(t, qualify) for t in n.transitions if t.kind == kind])
        for kind, label in _KIND_SMS
    ]
    tail = "".join(_sms_event(e, names) for e in n.monitor_events)
    if n.resolved and not n.transitions:
        tail += f" {len(n.resolved)} problem(s) came and went while alerts were delayed. See email."
    return fill(text, [(label, items) for label, items in groups if items], tail)


def _unit_item(u: UnitStatus) -> str:
    target = ascii_token(u.instance_id or "", u.private_ip_address, 22)
    port = str(u.port) if u.port is not None else ascii_text(u.backend_port, 11)
    return f"{target}:{port or '?'}"


def _still_down(text: str, items: list[str]) -> str:
    """`... Still DOWN 3: a:80,b:80 +1 more`, within one SMS part."""
    reserve = len(" +99999 more")
    shown = 0
    for item in items:
        piece = (" " if shown == 0 else ",") + item
        if len(text) + len(piece) + reserve > SMS_MAX:
            break
        text += piece
        shown += 1
    if shown < len(items):
        text += f" +{len(items) - shown} more"
    return clip(text, SMS_MAX)


def _sms_event(e: MonitorEvent, names: dict[str, str]) -> str:
    where = ""
    if e.scope not in (WHOLE_LOAD_BALANCER, DISCOVERY_SCOPE):
        where = f" {ascii_label(e.scope, names.get(e.scope, ''))}"
    if e.change == "degraded":
        cause = ascii_text(" ".join(b for b in (e.kind, e.code) if b), 40)
        return f" Monitoring{where} degraded, {e.consecutive_failures} failed API calls ({cause})."
    return f" Monitoring{where} {e.change}."


def _listener_phrase(listener_ids: Sequence[str], names: dict[str, str]) -> str:
    if not listener_ids:
        return "listener"
    first = ascii_token(names.get(listener_ids[0], ""), listener_ids[0], 20)
    if len(listener_ids) == 1:
        return first
    return f"{first} +{len(listener_ids) - 1} listeners"


def _sms_item(t: Transition, qualify: bool) -> str:
    target = ascii_token(t.instance_id or "", t.private_ip_address, 22)
    port = ascii_text(t.shown_ports, 11) or "?"
    item = f"{target}:{port}"
    if qualify:
        item = f"{ascii_token(t.listener_name, t.listener_id, 12)}/{item}"
    return item


def fill(text: str, groups: list[tuple[str, list[str]]], tail: str) -> str:
    """Append `LABEL n: item,item` groups while they fit; the rest becomes `+N more`; the
    tail (monitoring news) is kept whole, clipped only when alone it does not fit."""
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
    return clip(text + tail, SMS_MAX)


# -- several notifications in one message ---------------------------------------------------------


_GROUP_IDS_MAX: Final = 100


def render_group(
    notifications: Sequence[Notification], *, digest: bool, origin: Origin = DEFAULT_ORIGIN
) -> RenderedMessage:
    """One message for several notifications: a monitor group, or the digest (`digest=True`)."""
    if not notifications:
        raise ValueError("nothing to render")
    ordered = sorted(notifications, key=group_priority)
    lb_ids = sorted({n.load_balancer_id for n in ordered})
    if len(ordered) == 1 and not digest:
        only = ordered[0]
        extra = {"loadBalancerIds": lb_ids}
        return fit(
            lambda limit: _render(only, origin, limit, extra),
            lambda: _render(only, origin, 0, {**extra, "truncated": True}),
        )
    return fit(
        lambda limit: _render_group(ordered, lb_ids, digest, origin, limit),
        lambda: _render_group(ordered, lb_ids, digest, origin, 0, truncated=True),
    )


@dataclass(frozen=True, slots=True)
class _Group:
    """What a grouped message says about its notifications, whatever the rendition."""

    ordered: list[Notification]  # most severe first
    lb_ids: list[str]
    digest: bool
    event_type: str
    severity: str

    @classmethod
    def of(cls, ordered: list[Notification], lb_ids: list[str], digest: bool) -> _Group:
        event_type = min((n.event_type for n in ordered), key=event_rank)
        return cls(ordered, lb_ids, digest, event_type, max_severity([n.severity for n in ordered]))

    @property
    def subject_id(self) -> str:
        return self.lb_ids[0] if len(self.lb_ids) == 1 else "*"

    @property
    def many(self) -> str:
        return f"{len(self.lb_ids)} load balancer{'' if len(self.lb_ids) == 1 else 's'}"

    def per_severity(self) -> Counter[str]:
        """Load balancers counted once each, at their highest severity."""
        worst: dict[str, str] = {}
        for n in self.ordered:
            known = worst.get(n.load_balancer_id)
            if known is None or severity_rank(n.severity) < severity_rank(known):
                worst[n.load_balancer_id] = n.severity
        return Counter(worst.values())

    def counts(self) -> dict[str, int]:
        """The latest counts of each load balancer, added up."""
        latest: dict[str, Notification] = {}
        for n in sorted(self.ordered, key=lambda n: (n.observed_at, n.id)):
            latest[n.load_balancer_id] = n
        total: Counter[str] = Counter()
        for n in latest.values():
            total.update(n.counts)
        return dict(total)

    def texts(self, origin: Origin) -> tuple[str, str]:
        """The summary (also the subject) and the SMS."""
        stack = ascii_token(origin.stack, "zlb-health", 16)
        if self.digest:
            by = self.per_severity()
            tally = (by[CRITICAL], by[WARNING], by[INFO])
            summary = f"{self.many} changed: %d critical, %d warning, %d info." % tally
            sms = f"ZLB {stack}: {self.many} changed: %d crit, %d warn, %d info. See email." % tally
            return summary, sms
        what = "degraded" if self.event_type == MONITOR_DEGRADED else "restored"
        shown = ",".join(ascii_token(_name_of(self.ordered, lb), lb, 20) for lb in self.lb_ids[:3])
        more = f" +{len(self.lb_ids) - 3} more" if len(self.lb_ids) > 3 else ""
        sms = (
            f"ZLB {stack} {_SEV_SHORT.get(self.severity, 'INFO')}: monitoring {what} for "
            f"{self.many}: {shown}{more}."
        )
        return f"Monitoring {what} for {self.many}.", sms


def _render_group(
    ordered: list[Notification],
    lb_ids: list[str],
    digest: bool,
    origin: Origin,
    limit: int,
    *,
    truncated: bool = False,
) -> RenderedMessage:
    group = _Group.of(ordered, lb_ids, digest)
    summary, sms_text = group.texts(origin)
    document = _group_document(group, summary, origin, limit)
    if truncated:
        document["truncated"] = True
    return RenderedMessage(
        subject=_subject(group.severity, origin, summary),
        message={
            "default": json.dumps(document, separators=(",", ":")),
            "email": _group_email(group, summary, origin, limit),
            "sms": clip(ascii_text(sms_text), SMS_MAX),
        },
        attributes=_attributes(group.event_type, group.severity, group.subject_id),
    )


def _group_document(group: _Group, summary: str, origin: Origin, limit: int) -> dict[str, Any]:
    ordered, lb_ids = group.ordered, group.lb_ids
    id_limit = min(_GROUP_IDS_MAX, limit * 10)
    document: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "id": ordered[0].id,
        "ids": [n.id for n in ordered[:id_limit]],
        "idsOmitted": max(0, len(ordered) - id_limit),
        "coalesced": sum(n.coalesced for n in ordered),
        "eventType": group.event_type,
        "severity": group.severity,
        "loadBalancerId": group.subject_id,
        "loadBalancerIds": lb_ids[: limit * 10],
        "loadBalancerIdsOmitted": max(0, len(lb_ids) - limit * 10),
        "observedAt": max(n.observed_at for n in ordered),
        "source": origin.to_dict(),
        "summary": summary,
        "transitions": [],
        "transitionsOmitted": sum(len(n.transitions) for n in ordered),
        "counts": group.counts(),
        "loadBalancers": [_entry(n) for n in ordered[:limit]],
        "loadBalancersOmitted": max(0, len(ordered) - limit),
    }
    if group.digest:
        document["digest"] = True
    return document


def _group_email(group: _Group, summary: str, origin: Origin, limit: int) -> str:
    ordered = group.ordered
    lines = [
        f"{_TITLES.get(group.event_type, group.event_type)} - severity {group.severity.upper()}",
        "",
        summary,
        "",
        "Load balancers (most severe first):",
    ]
    listed = min(limit * 2 + 1, len(ordered)) if limit else 0
    for n in ordered[:listed]:
        lines.append(f"  - [{n.severity.upper()}] {one_line(n.summary)}")
        detail = f"      id {n.id}, load balancer {n.load_balancer_id}, observed {n.observed_at}"
        if n.monitor_events:
            detail += f", error {one_line(error_text(n.monitor_events[0]))}"
        elif n.request_id:
            detail += f", requestId {n.request_id}"
        lines.append(detail)
    if len(ordered) > listed:
        lines.append(f"  ... and {len(ordered) - listed} more (see the JSON message).")
    if group.digest:
        lines += ["", "Too many load balancers changed in this run for one message each."]
    lines += ["", origin.sentence()]
    return "\n".join(lines) + "\n"


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
        "criticalListeners": list(n.critical_listeners[:20]),
        "monitor": monitor_json(n.monitor_events[0]) if n.monitor_events else None,
        "monitorEvents": [monitor_json(e) for e in n.monitor_events[:20]],
        "monitorRestored": n.monitor_restored,
    }


def group_priority(n: Notification) -> tuple[int, str, str]:
    return (severity_rank(n.severity), n.observed_at, n.id)
