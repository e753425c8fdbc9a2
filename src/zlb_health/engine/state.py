"""Persisted per-load-balancer health state, and its compact JSON form.

Backends are keyed `listener_id|target|effective_port` (`backend_key`): the same VM behind two
listeners is two backends. Each backend has one *unit* per health-checked port (key `str(port)`,
from healthStatusDetail) or a single unit `"*"` when the API gives no per-port detail.

Encoded form (`to_dict`, version 1; keys and backends sorted so equal states encode equally)::

    {"v": 1, "id": lbId, "n": lbName, "t": observedAt, "s": seq,
     "m": [consecutiveFailures, degraded, degradedSince, lastError],
     "l": {listenerId: [criticalSince, lastReminderAt]},
     "b": {key: [listenerId, listenerName, instanceId, privateIp, backendPort,
                 {unit: [observed, notified, streakStatus, streak, since]}]}}

Statuses are stored as one letter (A, D, U, C); any other string the API sends is kept as
`"~" + status`. `observed_at` ("t") is the only field that moves on every successful run:
`state_fingerprint` leaves it out, so an unchanged fingerprint means nothing worth writing.
Timestamps are ISO-8601 UTC strings with milliseconds (`iso`), which sort as they compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from zlb_health.zenlayer.models import ALIVE, CLOSE, DEAD, UNKNOWN, BackendHealth

STATE_VERSION: Final = 1
WHOLE_BACKEND: Final = "*"

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
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def backend_key(backend: BackendHealth) -> str:
    return f"{backend.listener_id}|{backend.target}|{backend.effective_port}"


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
    streak_status: str | None = None  # status of the current run of non-Unknown observations
    streak: int = 0  # its length, saturating at max(thresholds) + 1
    since: str | None = None  # when the current streak began

    def copy(self) -> UnitState:
        return UnitState(self.observed, self.notified, self.streak_status, self.streak, self.since)


@dataclass(slots=True)
class BackendState:
    listener_id: str
    listener_name: str
    instance_id: str | None
    private_ip_address: str
    backend_port: str  # the effective port (backendPort, or the listener port it follows)
    units: dict[str, UnitState] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.instance_id or self.private_ip_address


@dataclass(slots=True)
class ListenerState:
    """Present only for listeners that currently have no healthy backend."""

    critical_since: str | None = None
    last_reminder_at: str | None = None


@dataclass(slots=True)
class MonitorState:
    consecutive_failures: int = 0
    degraded: bool = False
    degraded_since: str | None = None
    # {kind, code, status, requestId, message, at}; cleared by a successful observation.
    last_error: ErrorInfo | None = None


@dataclass(slots=True)
class LbState:
    load_balancer_id: str
    load_balancer_name: str = ""
    observed_at: str | None = None
    backends: dict[str, BackendState] = field(default_factory=dict)
    listeners: dict[str, ListenerState] = field(default_factory=dict)
    monitor: MonitorState = field(default_factory=MonitorState)
    seq: int = 0

    def copy(self) -> LbState:
        """A deep copy (the engine never mutates the state it was given)."""
        m = self.monitor
        return LbState(
            load_balancer_id=self.load_balancer_id,
            load_balancer_name=self.load_balancer_name,
            observed_at=self.observed_at,
            backends={
                key: BackendState(
                    b.listener_id,
                    b.listener_name,
                    b.instance_id,
                    b.private_ip_address,
                    b.backend_port,
                    {uk: u.copy() for uk, u in b.units.items()},
                )
                for key, b in self.backends.items()
            },
            listeners={
                lid: ListenerState(ls.critical_since, ls.last_reminder_at)
                for lid, ls in self.listeners.items()
            },
            monitor=MonitorState(
                m.consecutive_failures,
                m.degraded,
                m.degraded_since,
                dict(m.last_error) if m.last_error is not None else None,
            ),
            seq=self.seq,
        )

    def to_dict(self) -> dict[str, Any]:
        m = self.monitor
        backends: dict[str, Any] = {}
        for key in sorted(self.backends):
            b = self.backends[key]
            units = {
                uk: [_enc(u.observed), _enc(u.notified), _enc(u.streak_status), u.streak, u.since]
                for uk, u in sorted(b.units.items())
            }
            backends[key] = [
                b.listener_id,
                b.listener_name,
                b.instance_id,
                b.private_ip_address,
                b.backend_port,
                units,
            ]
        return {
            "v": STATE_VERSION,
            "id": self.load_balancer_id,
            "n": self.load_balancer_name,
            "t": self.observed_at,
            "s": self.seq,
            "m": [
                m.consecutive_failures,
                m.degraded,
                m.degraded_since,
                dict(m.last_error) if m.last_error is not None else None,
            ],
            "l": {
                lid: [ls.critical_since, ls.last_reminder_at]
                for lid, ls in sorted(self.listeners.items())
            },
            "b": backends,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LbState:
        version = data.get("v")
        if version != STATE_VERSION:
            raise ValueError(f"unsupported state version {version!r}")
        failures, degraded, degraded_since, last_error = data["m"]
        backends: dict[str, BackendState] = {}
        for key, (lid, lname, instance, ip, port, units) in data["b"].items():
            backends[key] = BackendState(
                lid,
                lname,
                instance,
                ip,
                port,
                {
                    uk: UnitState(_dec_str(obs), _dec(notified), _dec(streak_st), n, since)
                    for uk, (obs, notified, streak_st, n, since) in units.items()
                },
            )
        return cls(
            load_balancer_id=data["id"],
            load_balancer_name=data["n"],
            observed_at=data["t"],
            backends=backends,
            listeners={lid: ListenerState(cs, lr) for lid, (cs, lr) in data["l"].items()},
            monitor=MonitorState(
                failures,
                bool(degraded),
                degraded_since,
                dict(last_error) if last_error is not None else None,
            ),
            seq=data["s"],
        )


def state_fingerprint(state: LbState | None) -> dict[str, Any] | None:
    """`state.to_dict()` without `observed_at`: equal fingerprints mean nothing to write."""
    if state is None:
        return None
    encoded = state.to_dict()
    del encoded["t"]
    return encoded
