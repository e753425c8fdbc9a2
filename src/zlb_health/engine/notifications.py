"""What the engine tells users: transitions, monitor events and the notification that groups them.

A `Notification` is created by the rules (at most one per subject per observation), stored as
JSON (`to_dict`/`from_dict` round trip exactly), merged with other undelivered ones into their
net effect by `coalesce`, and turned into an SNS message by `render`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

HEALTH_CHANGE: Final = "health_change"
MONITOR_DEGRADED: Final = "monitor_degraded"
MONITOR_RESTORED: Final = "monitor_restored"
REMINDER: Final = "reminder"
MAINTENANCE_ENDED: Final = "maintenance_ended"
TEST: Final = "test"
EVENT_TYPES: Final = (
    HEALTH_CHANGE,
    MAINTENANCE_ENDED,
    REMINDER,
    MONITOR_DEGRADED,
    MONITOR_RESTORED,
)

CRITICAL: Final = "critical"
WARNING: Final = "warning"
INFO: Final = "info"
SEVERITIES: Final = (CRITICAL, WARNING, INFO)  # most severe first
SEVERITY_RANK: Final = {CRITICAL: 0, WARNING: 1, INFO: 2}

TransitionKind = Literal[
    "down", "recovered", "closed", "enabled", "added", "removed", "renumbered", "changed"
]
TRANSITION_KINDS: Final[tuple[TransitionKind, ...]] = (
    "down",
    "recovered",
    "closed",
    "enabled",
    "added",
    "removed",
    "renumbered",
    "changed",
)
# Why a backend (or a port of it) stopped being tracked.
REMOVED_FROM_LISTENER: Final = "absent"  # no longer in the API's answers
LOAD_BALANCER_DELETED: Final = "deleted"  # the load balancer left DescribeLoadBalancers
NO_LONGER_MONITORED: Final = "unmonitored"  # LOAD_BALANCER_IDS no longer covers it

MonitorChange = Literal["degraded", "restored", "ended"]
WHOLE_LOAD_BALANCER: Final = ""  # the monitor scope of a target without a listener
DISCOVERY_SCOPE: Final = "discovery"  # DescribeLoadBalancers, the fleet's own scope

# A JSON-ish scalar as carried in error details.
Scalar = str | int | bool | None


@dataclass(frozen=True, slots=True)
class Transition:
    """One change users are told about: a backend (`port` None) or one checked port of it.

    `ports` lists the checked ports a whole-backend transition covers (empty when the API gives
    no per-port detail); `previous_port` is set for a `renumbered` port.
    """

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
    ports: tuple[int, ...] = ()
    previous_port: int | None = None
    reason: str | None = None  # for `removed`: REMOVED_FROM_LISTENER and friends

    @property
    def target(self) -> str:
        return self.instance_id or self.private_ip_address

    @property
    def backend(self) -> tuple[str, str | None, str, str]:
        """The backend's identity: listener, instance, private IP, effective port."""
        return (self.listener_id, self.instance_id, self.private_ip_address, self.backend_port)

    @property
    def shown_ports(self) -> str:
        """The port(s) this transition is about: the checked port(s), else the backend port."""
        if self.port is not None:
            return str(self.port)
        if self.ports:
            return ",".join(map(str, self.ports))
        return self.backend_port

    def to_dict(self) -> dict[str, Any]:
        return {
            "listenerId": self.listener_id,
            "listenerName": self.listener_name,
            "instanceId": self.instance_id,
            "privateIpAddress": self.private_ip_address,
            "backendPort": self.backend_port,
            "port": self.port,
            "ports": list(self.ports),
            "previousPort": self.previous_port,
            "previousStatus": self.previous_status,
            "currentStatus": self.current_status,
            "since": self.since,
            "kind": self.kind,
            "reason": self.reason,
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
            ports=tuple(data.get("ports", ())),
            previous_port=data.get("previousPort"),
            reason=data.get("reason"),
        )


@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """Monitoring of one scope (a whole load balancer, one listener, or discovery) changed.

    `since` is the first failed call of the run of failures; `at` when this event was observed
    (the degradation, the restoration, or the end of monitoring).
    """

    scope: str
    change: MonitorChange
    at: str
    since: str | None
    consecutive_failures: int
    kind: str | None = None  # the last error: ZenlayerError.kind
    code: str | None = None  # the vendor's error code
    status: int | None = None  # HTTP status
    request_id: str | None = None
    message: str | None = None  # the vendor's message (or ours when it sent none)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "change": self.change,
            "at": self.at,
            "since": self.since,
            "consecutiveFailures": self.consecutive_failures,
            "kind": self.kind,
            "code": self.code,
            "status": self.status,
            "requestId": self.request_id,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorEvent:
        change = data["change"]
        if change not in ("degraded", "restored", "ended"):
            raise ValueError(f"unknown monitor change {change!r}")
        return cls(
            scope=data["scope"],
            change=change,
            at=data["at"],
            since=data["since"],
            consecutive_failures=data["consecutiveFailures"],
            kind=data.get("kind"),
            code=data.get("code"),
            status=data.get("status"),
            request_id=data.get("requestId"),
            message=data.get("message"),
        )


@dataclass(frozen=True, slots=True)
class ListenerHealth:
    """How one listener serves: `healthy` backends have every checked port notified Alive,
    `partial` ones some ports Alive and some Dead, `down` ones no port Alive and one Dead."""

    listener_id: str
    listener_name: str
    healthy: int
    total: int
    partial: int = 0
    down: int = 0

    @property
    def serving(self) -> int:
        return self.healthy + self.partial

    def to_dict(self) -> dict[str, Any]:
        return {
            "listenerId": self.listener_id,
            "listenerName": self.listener_name,
            "healthy": self.healthy,
            "partial": self.partial,
            "down": self.down,
            "total": self.total,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListenerHealth:
        return cls(
            data["listenerId"],
            data["listenerName"],
            data["healthy"],
            data["total"],
            data.get("partial", 0),
            data.get("down", 0),
        )


@dataclass(frozen=True, slots=True)
class Resolved:
    """Something that went wrong and came right before users could be told (email only)."""

    what: str  # e.g. "vm-1 (10.0.0.1) port 443 on listener web" or "monitoring of lsn-b"
    started: str | None
    ended: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "started": self.started, "ended": self.ended}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resolved:
        return cls(data["what"], data.get("started"), data.get("ended"))


@dataclass(frozen=True, slots=True)
class UnitStatus:
    """A backend (port None) or one checked port of it, and its notified status."""

    listener_id: str
    listener_name: str
    instance_id: str | None
    private_ip_address: str
    backend_port: str
    port: int | None
    status: str
    since: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "listenerId": self.listener_id,
            "listenerName": self.listener_name,
            "instanceId": self.instance_id,
            "privateIpAddress": self.private_ip_address,
            "backendPort": self.backend_port,
            "port": self.port,
            "status": self.status,
            "since": self.since,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UnitStatus:
        return cls(
            data["listenerId"],
            data["listenerName"],
            data["instanceId"],
            data["privateIpAddress"],
            data["backendPort"],
            data["port"],
            data["status"],
            data.get("since"),
        )


MAX_IDS: Final = 50  # notification ids kept in a coalesced notification (the count is exact)


@dataclass(frozen=True, slots=True)
class Notification:
    """One message-worthy event of one subject (a load balancer, or the fleet's discovery).

    `critical_listeners` holds the ids of every listener that has no serving backend after the
    observation (names in `healthy_by_listener`). `coalesced` counts the notifications this one
    stands for (1 unless undelivered ones were merged into their net effect; `ids` lists them,
    at most MAX_IDS, the newest last).
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
    monitor_events: tuple[MonitorEvent, ...] = ()
    critical_listeners: tuple[str, ...] = ()
    request_id: str | None = None
    resolved: tuple[Resolved, ...] = ()
    coalesced: int = 1
    ids: tuple[str, ...] = ()
    retired: str | None = None  # LOAD_BALANCER_DELETED or NO_LONGER_MONITORED: the last word
    silenced_by: str | None = None  # held back by this silence (recorded, not sent)
    maintenance: str | None = None  # the silence whose end this maintenance_ended reports
    unhealthy: tuple[UnitStatus, ...] = ()  # what the ended silence leaves down or Close

    @property
    def all_ids(self) -> tuple[str, ...]:
        return self.ids or (self.id,)

    @property
    def monitor_restored(self) -> bool:
        return any(e.change != "degraded" for e in self.monitor_events)

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
            "monitorEvents": [e.to_dict() for e in self.monitor_events],
            "criticalListeners": list(self.critical_listeners),
            "requestId": self.request_id,
            "resolved": [r.to_dict() for r in self.resolved],
            "coalesced": self.coalesced,
            "ids": list(self.ids),
            "retired": self.retired,
            "silencedBy": self.silenced_by,
            "maintenance": self.maintenance,
            "unhealthy": [u.to_dict() for u in self.unhealthy],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
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
            monitor_events=tuple(MonitorEvent.from_dict(e) for e in data.get("monitorEvents", ())),
            critical_listeners=tuple(data.get("criticalListeners", ())),
            request_id=data.get("requestId"),
            resolved=tuple(Resolved.from_dict(r) for r in data.get("resolved", ())),
            coalesced=int(data.get("coalesced", 1)),
            ids=tuple(data.get("ids", ())),
            retired=data.get("retired"),
            silenced_by=data.get("silencedBy"),
            maintenance=data.get("maintenance"),
            unhealthy=tuple(UnitStatus.from_dict(u) for u in data.get("unhealthy", ())),
        )
