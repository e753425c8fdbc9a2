"""What the engine tells users: transitions and the notification that groups them.

A `Notification` is created by `rules.apply_observation` (at most one per load balancer per
observation), stored by the lead as JSON (`to_dict`/`from_dict` round trip exactly) and turned
into an SNS message later by `render`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

HEALTH_CHANGE: Final = "health_change"
MONITOR_DEGRADED: Final = "monitor_degraded"
MONITOR_RESTORED: Final = "monitor_restored"
REMINDER: Final = "reminder"
EVENT_TYPES: Final = (HEALTH_CHANGE, REMINDER, MONITOR_DEGRADED, MONITOR_RESTORED)

CRITICAL: Final = "critical"
WARNING: Final = "warning"
INFO: Final = "info"
SEVERITIES: Final = (CRITICAL, WARNING, INFO)  # most severe first
SEVERITY_RANK: Final = {CRITICAL: 0, WARNING: 1, INFO: 2}

TransitionKind = Literal["down", "recovered", "closed", "enabled", "added", "removed", "changed"]
TRANSITION_KINDS: Final[tuple[TransitionKind, ...]] = (
    "down",
    "recovered",
    "closed",
    "enabled",
    "added",
    "removed",
    "changed",
)

# A JSON-ish scalar as carried in `monitor` dicts.
Scalar = str | int | bool | None


@dataclass(frozen=True, slots=True)
class Transition:
    """One change users are told about: a backend (port None) or one port of it."""

    listener_id: str
    listener_name: str
    instance_id: str | None
    private_ip_address: str
    backend_port: str
    port: int | None
    previous_status: str | None
    current_status: str | None
    since: str | None
    kind: TransitionKind

    @property
    def target(self) -> str:
        return self.instance_id or self.private_ip_address

    @property
    def shown_port(self) -> str:
        """The port this transition is about: the detail port, else the backend port."""
        return str(self.port) if self.port is not None else self.backend_port

    def to_dict(self) -> dict[str, Any]:
        return {
            "listenerId": self.listener_id,
            "listenerName": self.listener_name,
            "instanceId": self.instance_id,
            "privateIpAddress": self.private_ip_address,
            "backendPort": self.backend_port,
            "port": self.port,
            "previousStatus": self.previous_status,
            "currentStatus": self.current_status,
            "since": self.since,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        kind = data["kind"]
        if kind not in TRANSITION_KINDS:
            raise ValueError(f"unknown transition kind {kind!r}")
        return cls(
            listener_id=data["listenerId"],
            listener_name=data["listenerName"],
            instance_id=data["instanceId"],
            private_ip_address=data["privateIpAddress"],
            backend_port=data["backendPort"],
            port=data["port"],
            previous_status=data["previousStatus"],
            current_status=data["currentStatus"],
            since=data["since"],
            kind=kind,
        )


@dataclass(frozen=True, slots=True)
class ListenerHealth:
    """What is still healthy on one listener: backends with at least one port notified Alive."""

    listener_id: str
    listener_name: str
    healthy: int
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "listenerId": self.listener_id,
            "listenerName": self.listener_name,
            "healthy": self.healthy,
            "total": self.total,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListenerHealth:
        return cls(data["listenerId"], data["listenerName"], data["healthy"], data["total"])


@dataclass(frozen=True, slots=True)
class Notification:
    """One message-worthy event of one load balancer.

    `critical_listeners` holds the ids of every listener of the load balancer that has no
    healthy backend after this observation (names are in `healthy_by_listener`). `monitor` is
    set for monitor_degraded / monitor_restored (and for a health_change that also reports
    `monitor_restored`): kind, code, status, requestId, message, since, consecutiveFailures
    (and restoredAt).
    """

    id: str
    event_type: str
    severity: str
    load_balancer_id: str
    load_balancer_name: str
    observed_at: str
    summary: str
    transitions: tuple[Transition, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    healthy_by_listener: tuple[ListenerHealth, ...] = ()
    monitor: dict[str, Scalar] | None = None
    monitor_restored: bool = False
    critical_listeners: tuple[str, ...] = ()
    request_id: str | None = None

    @property
    def listener_names(self) -> dict[str, str]:
        names = {lh.listener_id: lh.listener_name for lh in self.healthy_by_listener}
        for t in self.transitions:
            names.setdefault(t.listener_id, t.listener_name)
        return names

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "eventType": self.event_type,
            "severity": self.severity,
            "loadBalancerId": self.load_balancer_id,
            "loadBalancerName": self.load_balancer_name,
            "observedAt": self.observed_at,
            "summary": self.summary,
            "transitions": [t.to_dict() for t in self.transitions],
            "counts": dict(self.counts),
            "healthyByListener": [h.to_dict() for h in self.healthy_by_listener],
            "monitor": dict(self.monitor) if self.monitor is not None else None,
            "monitorRestored": self.monitor_restored,
            "criticalListeners": list(self.critical_listeners),
            "requestId": self.request_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        monitor = data.get("monitor")
        return cls(
            id=data["id"],
            event_type=data["eventType"],
            severity=data["severity"],
            load_balancer_id=data["loadBalancerId"],
            load_balancer_name=data["loadBalancerName"],
            observed_at=data["observedAt"],
            summary=data["summary"],
            transitions=tuple(Transition.from_dict(t) for t in data.get("transitions", ())),
            counts=dict(data.get("counts", {})),
            healthy_by_listener=tuple(
                ListenerHealth.from_dict(h) for h in data.get("healthyByListener", ())
            ),
            monitor=dict(monitor) if monitor is not None else None,
            monitor_restored=bool(data.get("monitorRestored", False)),
            critical_listeners=tuple(data.get("criticalListeners", ())),
            request_id=data.get("requestId"),
        )
