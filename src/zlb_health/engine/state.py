"""Persisted health state: one `LbState` per load balancer, one `FleetState` per deployment.

Backends are keyed `listener_id|instance_id|private_ip|effective_port` (`backend_key`): the same
VM behind two listeners is two backends, and one instance registered with two private IPs is two
backends. Each backend has one *unit* per health-checked port (key `str(port)`, from
healthStatusDetail) or a single unit `"*"` when the API gives no per-port detail.

Encoded form (`to_dict`, version 2; keys sorted so equal states encode equally)::

    {"v": 2, "id": lbId, "n": lbName, "t": observedAt, "a": baselined, "s": seq,
     "x": missing, "r": retired, "q": {silenceId: since},
     "m": {scope: [consecutiveFailures, degraded, failingSince, lastError]},
     "l": {listenerId: [criticalSince, lastReminderAt]},
     "b": {key: [listenerId, listenerName, instanceId, privateIp, backendPort, absent, fresh,
                 {unit: [observed, notified, streakStatus, streak, since, absent]},
                 (only when set) [portlessWord, [seenPort, ...]]]}}

Version 1 (keys without the IP, one monitor) is read and converted. Statuses are stored as one
letter (A, D, U, C); any other string the API sends is kept as `"~" + status`. `observed_at`
("t") moves on every applied observation: `state_fingerprint` leaves it out, so an unchanged
fingerprint means nothing worth writing. Timestamps are ISO-8601 UTC strings with milliseconds
(`iso`), which sort as they compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from zlb_health.zenlayer.models import ALIVE, CLOSE, DEAD, UNKNOWN, BackendHealth

STATE_VERSION: Final = 2
WHOLE_BACKEND: Final = "*"
FLEET_ID: Final = "*"  # the fleet's own subject: discovery, and the registry of known LBs

ErrorInfo = dict[str, str | int | None]

_ENCODE: Final = {ALIVE: "A", DEAD: "D", UNKNOWN: "U", CLOSE: "C"}
_DECODE: Final = {code: status for status, code in _ENCODE.items()}


def iso(moment: datetime) -> str:
    """`2024-05-01T12:00:00.000Z`: fixed width, so string order is time order."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def key_of(listener_id: str, instance_id: str | None, private_ip: str, port: str) -> str:
    return f"{listener_id}|{instance_id or ''}|{private_ip}|{port}"


def backend_key(backend: BackendHealth) -> str:
    return key_of(
        backend.listener_id,
        backend.instance_id,
        backend.private_ip_address,
        backend.effective_port,
    )


def _enc(status: str | None) -> str | None:
    if status is None:
        return None
    return _ENCODE.get(status) or "~" + status


def _dec_str(code: str) -> str:
    if code.startswith("~"):
        return code[1:]
    return _DECODE.get(code, code)


def _dec(code: str | None) -> str | None:
    return None if code is None else _dec_str(code)


@dataclass(slots=True)
class UnitState:
    """One health-checked port of a backend (or the whole backend, unit `"*"`)."""

    observed: str  # last observed status, including Unknown and unrecognised strings
    notified: str | None = None  # last status users were told about; None before baseline
    streak_status: str | None = None  # status of the current run of counting observations
    streak: int = 0  # its length, saturating at max(thresholds) + 1
    since: str | None = None  # when the current streak began
    absent: int = 0  # consecutive answers of its backend without this port

    def copy(self) -> UnitState:
        return UnitState(
            self.observed, self.notified, self.streak_status, self.streak, self.since, self.absent
        )


@dataclass(slots=True)
class BackendState:
    listener_id: str
    listener_name: str
    instance_id: str | None
    private_ip_address: str
    backend_port: str  # the effective port (backendPort, or the listener port it follows)
    units: dict[str, UnitState] = field(default_factory=dict)
    absent: int = 0  # consecutive answers of its listener without this backend
    fresh: bool = False  # appeared after the baseline and not told about yet ("added")
    # Users' last word about the backend named no port (the API gave no per-port detail then):
    # Dead or Close, it still speaks for every checked port not seen since (`seen_ports`).
    portless_word: str | None = None
    seen_ports: set[str] = field(default_factory=set)

    @property
    def target(self) -> str:
        return self.instance_id or self.private_ip_address

    @property
    def key(self) -> str:
        return key_of(
            self.listener_id, self.instance_id, self.private_ip_address, self.backend_port
        )

    def copy(self) -> BackendState:
        return BackendState(
            self.listener_id,
            self.listener_name,
            self.instance_id,
            self.private_ip_address,
            self.backend_port,
            {uk: u.copy() for uk, u in self.units.items()},
            self.absent,
            self.fresh,
            self.portless_word,
            set(self.seen_ports),
        )


@dataclass(slots=True)
class ListenerState:
    """Present only for listeners that currently have no serving backend."""

    critical_since: str | None = None
    last_reminder_at: str | None = None


@dataclass(slots=True)
class MonitorState:
    """Whether one scope (whole load balancer, one listener, or discovery) can be observed."""

    consecutive_failures: int = 0
    degraded: bool = False
    failing_since: str | None = None  # the first failure of the current run of failures
    # {kind, code, status, requestId, message, at}; cleared by a successful observation.
    last_error: ErrorInfo | None = None

    def copy(self) -> MonitorState:
        return MonitorState(
            self.consecutive_failures,
            self.degraded,
            self.failing_since,
            dict(self.last_error) if self.last_error is not None else None,
        )

    def encode(self) -> list[Any]:
        return [
            self.consecutive_failures,
            self.degraded,
            self.failing_since,
            dict(self.last_error) if self.last_error is not None else None,
        ]

    @classmethod
    def decode(cls, data: list[Any]) -> MonitorState:
        failures, degraded, since, error = data
        return cls(failures, bool(degraded), since, dict(error) if error is not None else None)


@dataclass(slots=True)
class LbState:
    load_balancer_id: str
    load_balancer_name: str = ""
    observed_at: str | None = None  # the last observation applied (successful or not)
    backends: dict[str, BackendState] = field(default_factory=dict)
    listeners: dict[str, ListenerState] = field(default_factory=dict)
    monitors: dict[str, MonitorState] = field(default_factory=dict)  # by scope
    seq: int = 0
    missing: int = 0  # consecutive successful discoveries that did not list it
    retired: str | None = None  # why it is no longer watched; its last word is pending
    baselined: bool = False  # an answer was applied: later backends are "added", not baseline
    silences: dict[str, str] = field(default_factory=dict)  # silence id -> tick it began applying
    snapshot_at: str | None = None  # tick of the last snapshot written (the heartbeat's clock)

    def copy(self) -> LbState:
        """A deep copy (the engine never mutates the state it was given)."""
        return LbState(
            load_balancer_id=self.load_balancer_id,
            load_balancer_name=self.load_balancer_name,
            observed_at=self.observed_at,
            backends={key: b.copy() for key, b in self.backends.items()},
            listeners={
                lid: ListenerState(ls.critical_since, ls.last_reminder_at)
                for lid, ls in self.listeners.items()
            },
            monitors={scope: m.copy() for scope, m in self.monitors.items()},
            seq=self.seq,
            missing=self.missing,
            retired=self.retired,
            baselined=self.baselined,
            silences=dict(self.silences),
            snapshot_at=self.snapshot_at,
        )

    def to_dict(self) -> dict[str, Any]:
        backends: dict[str, Any] = {}
        for key in sorted(self.backends):
            b = self.backends[key]
            units = {
                uk: [
                    _enc(u.observed),
                    _enc(u.notified),
                    _enc(u.streak_status),
                    u.streak,
                    u.since,
                    u.absent,
                ]
                for uk, u in sorted(b.units.items())
            }
            backends[key] = [
                b.listener_id,
                b.listener_name,
                b.instance_id,
                b.private_ip_address,
                b.backend_port,
                b.absent,
                b.fresh,
                units,
            ]
            if b.portless_word is not None:
                backends[key].append([_enc(b.portless_word), sorted(b.seen_ports, key=int)])
        return {
            "v": STATE_VERSION,
            "id": self.load_balancer_id,
            "n": self.load_balancer_name,
            "t": self.observed_at,
            "s": self.seq,
            "x": self.missing,
            "r": self.retired,
            "a": self.baselined,
            "q": dict(sorted(self.silences.items())),
            "h": self.snapshot_at,
            "m": {scope: m.encode() for scope, m in sorted(self.monitors.items())},
            "l": {
                lid: [ls.critical_since, ls.last_reminder_at]
                for lid, ls in sorted(self.listeners.items())
            },
            "b": backends,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LbState:
        version = data.get("v")
        if version == 1:
            return _from_v1(data)
        if version != STATE_VERSION:
            raise ValueError(f"unsupported state version {version!r}")
        backends: dict[str, BackendState] = {}
        for key, (lid, lname, instance, ip, port, absent, fresh, units, *portless) in data[
            "b"
        ].items():
            word, seen = portless[0] if portless else (None, [])
            backends[key] = BackendState(
                lid,
                lname,
                instance,
                ip,
                port,
                {
                    uk: UnitState(_dec_str(obs), _dec(notified), _dec(st), n, since, gone)
                    for uk, (obs, notified, st, n, since, gone) in units.items()
                },
                absent,
                bool(fresh),
                _dec(word),
                set(seen),
            )
        return cls(
            load_balancer_id=data["id"],
            load_balancer_name=data["n"],
            observed_at=data["t"],
            backends=backends,
            listeners={lid: ListenerState(cs, lr) for lid, (cs, lr) in data["l"].items()},
            monitors={scope: MonitorState.decode(m) for scope, m in data["m"].items()},
            seq=data["s"],
            missing=data.get("x", 0),
            retired=data.get("r"),
            baselined=bool(data.get("a", False)),
            silences=dict(data.get("q", {})),
            snapshot_at=data.get("h"),
        )


def _from_v1(data: Mapping[str, Any]) -> LbState:
    """Version 1: backend keys without the private IP, one whole-load-balancer monitor."""
    backends: dict[str, BackendState] = {}
    for lid, lname, instance, ip, port, units in data["b"].values():
        backend = BackendState(
            lid,
            lname,
            instance,
            ip,
            port,
            {
                uk: UnitState(_dec_str(obs), _dec(notified), _dec(st), n, since)
                for uk, (obs, notified, st, n, since) in units.items()
            },
        )
        backends[backend.key] = backend
    failures, degraded, degraded_since, last_error = data["m"]
    monitor = MonitorState(failures, bool(degraded), degraded_since, last_error)
    return LbState(
        load_balancer_id=data["id"],
        load_balancer_name=data["n"],
        observed_at=data["t"],
        backends=backends,
        listeners={lid: ListenerState(cs, lr) for lid, (cs, lr) in data["l"].items()},
        monitors={"": monitor} if failures or degraded else {},
        seq=data["s"],
        baselined=data["t"] is not None,  # version 1 set "t" on successful observations only
    )


@dataclass(slots=True)
class FleetState:
    """What one deployment watches: the registry of load balancers with a stored state, and the
    health of discovery (DescribeLoadBalancers) itself."""

    known: set[str] = field(default_factory=set)
    monitor: MonitorState = field(default_factory=MonitorState)
    observed_at: str | None = None  # the last discovery applied
    seq: int = 0

    @property
    def load_balancer_id(self) -> str:
        """The subject id its notifications carry (`*`: about every load balancer)."""
        return FLEET_ID

    @property
    def load_balancer_name(self) -> str:
        return "load balancer discovery"

    def copy(self) -> FleetState:
        return FleetState(set(self.known), self.monitor.copy(), self.observed_at, self.seq)

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "id": FLEET_ID,
            "k": sorted(self.known),
            "m": self.monitor.encode(),
            "t": self.observed_at,
            "s": self.seq,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetState:
        if data.get("v") != STATE_VERSION or data.get("id") != FLEET_ID:
            raise ValueError("not a fleet state")
        return cls(set(data["k"]), MonitorState.decode(data["m"]), data["t"], data["s"])


SubjectState = LbState | FleetState


def state_fingerprint(state: SubjectState | None) -> dict[str, Any] | None:
    """`state.to_dict()` without `observed_at`: equal fingerprints mean nothing to write."""
    if state is None:
        return None
    encoded = state.to_dict()
    del encoded["t"]
    return encoded
