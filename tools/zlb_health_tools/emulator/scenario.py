"""Scenarios for the local Zenlayer API emulator: a fleet, a timeline of changes, and faults.

A scenario is plain JSON (format: docs/emulator.md). `Scenario.from_dict` validates all of it
up front, including a dry run of the timeline, and raises `ScenarioError` naming the bad field
by its path, e.g. `timeline[3].backend: no backend 'vm-x' in listener 'lsn-web-http'`.

The fleet's state at a step is the initial fleet with every timeline event of that step and
earlier applied, in file order. States are computed once per step and cached. The timeline can
change statuses and checked ports, and add or remove backends, listeners and load balancers.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ALIVE: Final = "Alive"
DEAD: Final = "Dead"
UNKNOWN: Final = "Unknown"
CLOSE: Final = "Close"
SETTABLE_STATUSES: Final = (ALIVE, DEAD, UNKNOWN)
REPORTED_STATUSES: Final = (ALIVE, DEAD, UNKNOWN, CLOSE)

FAULT_TYPES: Final = (
    "latency",
    "throttle",
    "server_error",
    "timeout",
    "reset",
    "malformed",
    "truncated",
    "html",
    "missing_backends",
    "empty_backends",
    "not_found",
    "oversized",
    "bad_rows",
    "duplicate_rows",
)
# Fault types that alter the rows of a DescribeBackendHealth answer (meaningless elsewhere).
ROW_FAULTS: Final = ("bad_rows", "duplicate_rows")
# The defective rows a `bad_rows` fault can append, in the order they are appended by default.
BAD_ROW_KINDS: Final = ("no_identity", "no_status", "no_listener", "not_object", "bad_detail")
# The fields a fault type reads besides the common ones; any other of these is refused.
_FAULT_OWN_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "latency": ("latencyMs",),
    "server_error": ("status",),
    "html": ("status",),
    "timeout": ("seconds",),
    "oversized": ("bytes",),
    "bad_rows": ("rows",),
    "duplicate_rows": ("rows", "healthStatus"),
}
_ALL_OWN_FIELDS: Final = ("latencyMs", "status", "seconds", "bytes", "rows", "healthStatus")
ACTIONS: Final = ("DescribeLoadBalancers", "DescribeListeners", "DescribeBackendHealth")
BACKEND_HEALTH: Final = "DescribeBackendHealth"
# Timeline action -> (required fields, optional fields) besides `step` and `action`. A field an
# action does not use is refused, so a generated scenario cannot carry a silently ignored value.
_EVENT_FIELDS: Final[dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    "set_status": (
        frozenset({"loadBalancerId", "listenerId", "backend", "healthStatus"}),
        frozenset({"backendPort", "port"}),
    ),
    "set_health_check": (frozenset({"loadBalancerId", "listenerId", "enabled"}), frozenset()),
    "add_backend": (frozenset({"loadBalancerId", "listenerId", "backendSpec"}), frozenset()),
    "remove_backend": (
        frozenset({"loadBalancerId", "listenerId", "backend"}),
        frozenset({"backendPort"}),
    ),
    "set_ports": (
        frozenset({"loadBalancerId", "listenerId", "backend", "ports"}),
        frozenset({"backendPort", "healthStatus"}),
    ),
    "add_load_balancer": (frozenset({"loadBalancerSpec"}), frozenset({"loadBalancerId"})),
    "remove_load_balancer": (frozenset({"loadBalancerId"}), frozenset()),
    "add_listener": (frozenset({"loadBalancerId", "listenerSpec"}), frozenset({"listenerId"})),
    "remove_listener": (frozenset({"loadBalancerId", "listenerId"}), frozenset()),
}
EVENT_ACTIONS: Final = tuple(_EVENT_FIELDS)
_EVENT_ALL_FIELDS: Final = {"step", "action"}.union(*(r | o for r, o in _EVENT_FIELDS.values()))
AFTER_TIMELINE: Final = ("hold", "loop")
MAX_PORTS_PER_BACKEND: Final = 256
_SERVER_ERROR_STATUSES: Final = (500, 502, 503, 504)
_HTML_STATUSES: Final = (200, 502)
_LISTENER_PORT = re.compile(r"^\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*$")
_NOTE_KEYS: Final = frozenset({"note", "description"})
# The identity of the row a `bad_rows` fault invents when the real answer has none: no backend
# of any scenario can have it (192.0.2.0/24 is TEST-NET-1, reserved for documentation).
INVENTED_INSTANCE_ID: Final = "vm-emulator-invented"
INVENTED_IP: Final = "192.0.2.1"


class ScenarioError(ValueError):
    """The scenario is invalid; `field` is the path of the offending value."""

    def __init__(self, field_path: str, problem: str) -> None:
        super().__init__(f"scenario: {field_path}: {problem}")
        self.field = field_path
        self.problem = problem


class FleetLookupError(LookupError):
    """A request named a load balancer or listener the fleet does not have (at that step).

    `code` is what DescribeBackendHealth answers for it (HTTP 404).
    """

    def __init__(self, kind: str, ident: str, step: int) -> None:
        self.kind = kind
        self.ident = ident
        self.step = step
        super().__init__(
            f"{kind} {ident!r} not found at step {step}: the API answers 404 {self.code}"
        )

    @property
    def code(self) -> str:
        if self.kind == "listener":
            return "INVALID_LISTENER_NOT_FOUND"
        return "INVALID_LOAD_BALANCER_NOT_FOUND"


# --------------------------------------------------------------------------- fleet state


@dataclass
class Backend:
    instance_id: str | None
    private_ip_address: str
    backend_port: int | None
    weight: int
    port_status: dict[int, str]  # every port the backend is checked on, in order

    @property
    def ref(self) -> str:
        """`instanceId@privateIpAddress` (`@ip` for an IP-only backend): names it in a listener
        unless it is there twice with other backendPorts."""
        return f"{self.instance_id or ''}@{self.private_ip_address}"

    def describe(self) -> str:
        port = self.backend_port if self.backend_port is not None else "none"
        return f"{self.ref} backendPort {port}"

    def matches(self, ref: str, backend_port: int | None) -> bool:
        if ref not in (self.instance_id, self.private_ip_address, self.ref):
            return False
        return backend_port is None or backend_port == self.backend_port

    def common_status(self) -> str | None:
        """The status all its ports share, or None when they differ."""
        statuses = set(self.port_status.values())
        return statuses.pop() if len(statuses) == 1 else None


@dataclass
class HealthCheck:
    enabled: bool
    check_type: str
    check_delay_loop: int
    check_retry: int
    fail_open: bool


@dataclass
class Listener:
    listener_id: str
    listener_name: str
    protocol: str
    listener_port: str
    health_check: HealthCheck
    backends: list[Backend]


@dataclass
class LoadBalancer:
    load_balancer_id: str
    load_balancer_name: str
    region_id: str
    status: str
    listeners: list[Listener]

    def listener(self, listener_id: str) -> Listener | None:
        return next((lsn for lsn in self.listeners if lsn.listener_id == listener_id), None)


@dataclass(frozen=True)
class Fault:
    type: str
    load_balancer_id: str  # "*" for every load balancer
    listener_id: str | None  # only DescribeBackendHealth requests naming this listener
    from_step: int
    to_step: int | None  # inclusive; None: for ever
    actions: tuple[str, ...] | None
    fraction: float
    count: int | None
    latency_ms: float
    status: int
    seconds: float
    bytes: int
    row_kinds: tuple[str, ...]  # bad_rows: the defective rows to append, in order
    row_count: int | None  # duplicate_rows: how many of the first rows; None: all
    health_status: str  # duplicate_rows: the status of the copies
    index: int  # position in the file, for counters and logs

    def active(
        self, step: int, action: str, load_balancer_id: str | None, listener_id: str | None
    ) -> bool:
        if step < self.from_step or (self.to_step is not None and step > self.to_step):
            return False
        if self.actions is not None and action not in self.actions:
            return False
        if self.listener_id is not None and listener_id != self.listener_id:
            return False
        if self.load_balancer_id == "*":
            return True
        # Faults naming a load balancer apply to the calls about it, never to the
        # account-level DescribeLoadBalancers.
        return load_balancer_id == self.load_balancer_id and action != "DescribeLoadBalancers"


@dataclass
class _Event:
    step: int
    action: str
    load_balancer_id: str
    listener_id: str | None
    backend: str | None
    backend_port: int | None
    port: int | None
    ports: list[int] | None
    health_status: str | None
    enabled: bool | None
    spec: dict[str, Any] | None  # add_backend: parsed when applied (it follows the listener)
    load_balancer: LoadBalancer | None  # add_load_balancer, parsed up front
    listener: Listener | None  # add_listener, parsed up front
    path: str


# --------------------------------------------------------------------------- validation helpers


def _obj(value: object, path: str, *, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(path or "<root>", "expected a JSON object")
    for key in value:
        if key not in allowed and key not in _NOTE_KEYS:
            raise ScenarioError(_join(path, key), f"unknown field (allowed: {sorted(allowed)})")
    for key in sorted(required):
        if key not in value:
            raise ScenarioError(_join(path, key), "required field is missing")
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _str(d: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str:
    value = d.get(key, default)
    if not isinstance(value, str) or not value:
        raise ScenarioError(_join(path, key), "expected a non-empty string")
    return value


def _opt_str(d: Mapping[str, Any], key: str, path: str) -> str | None:
    if key not in d or d[key] is None:
        return None
    return _str(d, key, path)


def _int(
    d: Mapping[str, Any],
    key: str,
    path: str,
    *,
    default: int | None = None,
    lo: int = 0,
    hi: int | None = None,
) -> int:
    value = d.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(_join(path, key), "expected an integer")
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ScenarioError(_join(path, key), f"expected an integer {bound}, got {value}")
    return value


def _opt_int(
    d: Mapping[str, Any], key: str, path: str, *, lo: int = 0, hi: int | None = None
) -> int | None:
    if key not in d or d[key] is None:
        return None
    return _int(d, key, path, lo=lo, hi=hi)


def _num(
    d: Mapping[str, Any], key: str, path: str, *, default: float, lo: float, hi: float
) -> float:
    value = d.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(_join(path, key), "expected a number")
    if not lo <= value <= hi:
        raise ScenarioError(_join(path, key), f"expected a number between {lo} and {hi}")
    return float(value)


def _bool(d: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = d.get(key, default)
    if not isinstance(value, bool):
        raise ScenarioError(_join(path, key), "expected true or false")
    return value


def _list(
    d: Mapping[str, Any], key: str, path: str, *, default: list[Any] | None = None
) -> list[Any]:
    value = d.get(key, default)
    if not isinstance(value, list):
        raise ScenarioError(_join(path, key), "expected a list")
    return value


def _status(value: object, path: str, allowed: tuple[str, ...] = SETTABLE_STATUSES) -> str:
    if value not in allowed:
        raise ScenarioError(path, f"expected one of {list(allowed)}, got {value!r}")
    return str(value)


def _port_list(d: Mapping[str, Any], key: str, path: str) -> list[int]:
    """A non-empty list of distinct ports 1-65535, at most MAX_PORTS_PER_BACKEND."""
    raw = _list(d, key, path)
    if not raw:
        raise ScenarioError(_join(path, key), "expected at least one port")
    if len(raw) > MAX_PORTS_PER_BACKEND:
        raise ScenarioError(
            _join(path, key), f"{len(raw)} ports; at most {MAX_PORTS_PER_BACKEND} are allowed"
        )
    ports: list[int] = []
    for i, p in enumerate(raw):
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535:
            raise ScenarioError(f"{path}.{key}[{i}]", "expected a port number 1-65535")
        if p in ports:
            raise ScenarioError(f"{path}.{key}[{i}]", f"duplicate port {p}")
        ports.append(p)
    return ports


def expand_listener_port(listener_port: str) -> list[int]:
    """`"80"` -> [80]; `"80,443"` -> [80, 443]; `"8000-8002"` -> [8000, 8001, 8002]."""
    ports: list[int] = []
    for part in listener_port.split(","):
        first, _, last = part.partition("-")
        lo = int(first)
        hi = int(last) if last else lo
        ports.extend(range(lo, hi + 1))
    return ports


def _parse_listener_port(value: object, path: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _LISTENER_PORT.match(value):
        raise ScenarioError(path, "expected a port string like '80', '80,443' or '8000-8005'")
    for part in value.split(","):
        first, _, last = part.partition("-")
        lo, hi = int(first), int(last or first)
        if not 1 <= lo <= hi <= 65535:
            raise ScenarioError(path, f"bad port or range {part!r}")
    return value


def _parse_backend(raw: object, path: str, listener_port: str) -> Backend:
    d = _obj(
        raw,
        path,
        allowed={
            "instanceId",
            "privateIpAddress",
            "backendPort",
            "weight",
            "ports",
            "healthStatus",
            "portStatuses",
        },
        required={"privateIpAddress"},
    )
    instance_id = _opt_str(d, "instanceId", path)
    ip = _str(d, "privateIpAddress", path)
    backend_port = _opt_int(d, "backendPort", path, lo=1, hi=65535)
    weight = _int(d, "weight", path, default=100, lo=0, hi=10000)
    if "ports" in d:
        ports = _port_list(d, "ports", path)
    elif backend_port is not None:
        ports = [backend_port]
    else:
        ports = expand_listener_port(listener_port)
    if len(ports) > MAX_PORTS_PER_BACKEND:
        raise ScenarioError(
            _join(path, "ports"),
            f"backend follows {len(ports)} listener ports; give an explicit 'ports' list "
            f"of at most {MAX_PORTS_PER_BACKEND}",
        )
    initial = _status(d.get("healthStatus", ALIVE), _join(path, "healthStatus"))
    port_status = dict.fromkeys(ports, initial)
    overrides = d.get("portStatuses", {})
    if not isinstance(overrides, dict):
        raise ScenarioError(_join(path, "portStatuses"), "expected an object {port: status}")
    for key, status in overrides.items():
        sub = f"{path}.portStatuses.{key}"
        if not str(key).isdigit() or int(key) not in port_status:
            raise ScenarioError(sub, f"not one of the backend's ports {ports}")
        port_status[int(key)] = _status(status, sub)
    return Backend(instance_id, ip, backend_port, weight, port_status)


def _check_unique_backend(backends: list[Backend], new: Backend, path: str) -> None:
    """One instance may sit in a listener under several IPs, and one IP-only backend beside an
    instance with that IP: only the same (instanceId, privateIpAddress, backendPort) is refused."""
    key = (new.instance_id, new.private_ip_address, new.backend_port)
    for b in backends:
        if (b.instance_id, b.private_ip_address, b.backend_port) == key:
            raise ScenarioError(
                path,
                f"duplicate backend {new.describe()} in this listener (the same instanceId, "
                "privateIpAddress and backendPort may appear once per listener)",
            )


def _parse_health_check(raw: object, path: str) -> HealthCheck:
    d = _obj(
        raw if raw is not None else {},
        path,
        allowed={"enabled", "checkType", "checkDelayLoop", "checkRetry", "failOpen"},
        required=set(),
    )
    return HealthCheck(
        enabled=_bool(d, "enabled", path, True),
        check_type=_str(d, "checkType", path, "TCP_CHECK"),
        check_delay_loop=_int(d, "checkDelayLoop", path, default=5, lo=1),
        check_retry=_int(d, "checkRetry", path, default=3, lo=0),
        fail_open=_bool(d, "failOpen", path, False),
    )


def _parse_listener(raw: object, path: str) -> Listener:
    d = _obj(
        raw,
        path,
        allowed={
            "listenerId",
            "listenerName",
            "protocol",
            "listenerPort",
            "healthCheck",
            "backends",
        },
        required={"listenerId", "listenerPort"},
    )
    lsn_id = _str(d, "listenerId", path)
    listener_port = _parse_listener_port(d["listenerPort"], _join(path, "listenerPort"))
    backends: list[Backend] = []
    for k, b_raw in enumerate(_list(d, "backends", path, default=[])):
        bpath = f"{path}.backends[{k}]"
        backend = _parse_backend(b_raw, bpath, listener_port)
        _check_unique_backend(backends, backend, bpath)
        backends.append(backend)
    return Listener(
        listener_id=lsn_id,
        listener_name=_str(d, "listenerName", path, lsn_id),
        protocol=_str(d, "protocol", path, "TCP"),
        listener_port=listener_port,
        health_check=_parse_health_check(d.get("healthCheck"), f"{path}.healthCheck"),
        backends=backends,
    )


def _parse_load_balancer(raw: object, path: str) -> LoadBalancer:
    d = _obj(
        raw,
        path,
        allowed={"loadBalancerId", "loadBalancerName", "regionId", "status", "listeners"},
        required={"loadBalancerId"},
    )
    lb_id = _str(d, "loadBalancerId", path)
    if lb_id == "*":
        raise ScenarioError(_join(path, "loadBalancerId"), "'*' is reserved (every LB, in faults)")
    listeners: list[Listener] = []
    for j, lsn_raw in enumerate(_list(d, "listeners", path, default=[])):
        lpath = f"{path}.listeners[{j}]"
        listener = _parse_listener(lsn_raw, lpath)
        if any(lsn.listener_id == listener.listener_id for lsn in listeners):
            raise ScenarioError(
                _join(lpath, "listenerId"), f"duplicate id {listener.listener_id!r}"
            )
        listeners.append(listener)
    return LoadBalancer(
        load_balancer_id=lb_id,
        load_balancer_name=_str(d, "loadBalancerName", path, lb_id),
        region_id=_str(d, "regionId", path, "asia-east-1"),
        status=_str(d, "status", path, "Running"),
        listeners=listeners,
    )


def _parse_fleet(raw: object) -> list[LoadBalancer]:
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("loadBalancers", "expected a non-empty list")
    fleet: list[LoadBalancer] = []
    for i, lb_raw in enumerate(raw):
        path = f"loadBalancers[{i}]"
        lb = _parse_load_balancer(lb_raw, path)
        if any(other.load_balancer_id == lb.load_balancer_id for other in fleet):
            raise ScenarioError(
                _join(path, "loadBalancerId"), f"duplicate id {lb.load_balancer_id!r}"
            )
        fleet.append(lb)
    return fleet


def _parse_event(raw: object, path: str) -> _Event:
    d = _obj(raw, path, allowed=_EVENT_ALL_FIELDS, required={"step", "action"})
    action = d["action"]
    if action not in EVENT_ACTIONS:
        raise ScenarioError(_join(path, "action"), f"expected one of {list(EVENT_ACTIONS)}")
    required, optional = _EVENT_FIELDS[action]
    for key in d:
        if key not in required | optional | {"step", "action"} | _NOTE_KEYS:
            raise ScenarioError(_join(path, key), f"not used by action {action!r}")
    for key in sorted(required):
        if key not in d:
            raise ScenarioError(_join(path, key), f"required field is missing ({action})")
    event = _Event(
        step=_int(d, "step", path, lo=0),
        action=action,
        load_balancer_id="",
        listener_id=_opt_str(d, "listenerId", path),
        backend=_opt_str(d, "backend", path),
        backend_port=_opt_int(d, "backendPort", path, lo=1, hi=65535),
        port=_opt_int(d, "port", path, lo=1, hi=65535),
        ports=_port_list(d, "ports", path) if "ports" in d else None,
        health_status=None,
        enabled=_bool(d, "enabled", path, True) if "enabled" in d else None,
        spec=None,
        load_balancer=None,
        listener=None,
        path=path,
    )
    if "healthStatus" in d:
        event.health_status = _status(d["healthStatus"], _join(path, "healthStatus"))
    if action == "add_backend":
        spec = d["backendSpec"]
        if not isinstance(spec, dict):
            raise ScenarioError(_join(path, "backendSpec"), "expected a backend object")
        event.spec = spec
    elif action == "add_load_balancer":
        event.load_balancer = _parse_load_balancer(
            d["loadBalancerSpec"], _join(path, "loadBalancerSpec")
        )
        spec_id = event.load_balancer.load_balancer_id
        if _opt_str(d, "loadBalancerId", path) not in (None, spec_id):
            raise ScenarioError(
                _join(path, "loadBalancerId"),
                f"differs from loadBalancerSpec.loadBalancerId {spec_id!r}",
            )
        event.load_balancer_id = spec_id
        return event
    elif action == "add_listener":
        event.listener = _parse_listener(d["listenerSpec"], _join(path, "listenerSpec"))
        spec_id = event.listener.listener_id
        if event.listener_id not in (None, spec_id):
            raise ScenarioError(
                _join(path, "listenerId"), f"differs from listenerSpec.listenerId {spec_id!r}"
            )
        event.listener_id = spec_id
    event.load_balancer_id = _str(d, "loadBalancerId", path)
    return event


def _parse_fault(  # noqa: PLR0912 - one check per documented fault field, in order
    raw: object, path: str, index: int, known: Mapping[str, set[str]]
) -> Fault:
    """`known`: every load balancer id the scenario ever has -> its listener ids at any step."""
    d = _obj(
        raw,
        path,
        allowed={
            "type",
            "loadBalancerId",
            "listenerId",
            "fromStep",
            "toStep",
            "actions",
            "fraction",
            "count",
            *_ALL_OWN_FIELDS,
        },
        required={"type"},
    )
    ftype = d["type"]
    if ftype not in FAULT_TYPES:
        raise ScenarioError(_join(path, "type"), f"expected one of {list(FAULT_TYPES)}")
    for key in _ALL_OWN_FIELDS:
        if key in d and key not in _FAULT_OWN_FIELDS.get(ftype, ()):
            raise ScenarioError(_join(path, key), f"not used by fault type {ftype!r}")
    lb_id = _str(d, "loadBalancerId", path, "*")
    if lb_id != "*" and lb_id not in known:
        raise ScenarioError(_join(path, "loadBalancerId"), f"no load balancer {lb_id!r}")
    listener_id = _opt_str(d, "listenerId", path)
    if listener_id is not None:
        if lb_id == "*":
            raise ScenarioError(
                _join(path, "listenerId"), "a listener fault needs its loadBalancerId (not '*')"
            )
        if listener_id not in known[lb_id]:
            raise ScenarioError(
                _join(path, "listenerId"), f"no listener {listener_id!r} in {lb_id!r} at any step"
            )
    from_step = _int(d, "fromStep", path, default=0, lo=0)
    to_step = _opt_int(d, "toStep", path, lo=from_step)
    actions: tuple[str, ...] | None = None
    if "actions" in d:
        raw_actions = _list(d, "actions", path)
        for i, a in enumerate(raw_actions):
            if a not in ACTIONS:
                raise ScenarioError(f"{path}.actions[{i}]", f"expected one of {list(ACTIONS)}")
        actions = tuple(raw_actions)
    if listener_id is not None or ftype in ROW_FAULTS:
        why = f"fault type {ftype!r}" if ftype in ROW_FAULTS else "a fault with a listenerId"
        for i, a in enumerate(actions or ()):
            if a != BACKEND_HEALTH:
                raise ScenarioError(
                    f"{path}.actions[{i}]", f"{why} applies to {BACKEND_HEALTH} only, not {a}"
                )
        actions = (BACKEND_HEALTH,)
    if ftype == "server_error":
        statuses: tuple[int, ...] = _SERVER_ERROR_STATUSES
        default_status = 500
    elif ftype == "html":
        statuses, default_status = _HTML_STATUSES, 502
    else:
        statuses, default_status = (), 0
    status = _int(d, "status", path, default=default_status)
    if statuses and status not in statuses:
        raise ScenarioError(_join(path, "status"), f"expected one of {list(statuses)}")
    row_kinds: tuple[str, ...] = ()
    row_count: int | None = None
    if ftype == "bad_rows":
        row_kinds = _parse_row_kinds(d, path)
    elif ftype == "duplicate_rows":
        row_count = _opt_int(d, "rows", path, lo=1)
    return Fault(
        type=ftype,
        load_balancer_id=lb_id,
        listener_id=listener_id,
        from_step=from_step,
        to_step=to_step,
        actions=actions,
        fraction=_num(d, "fraction", path, default=1.0, lo=0.0, hi=1.0),
        count=_opt_int(d, "count", path, lo=1),
        latency_ms=_num(d, "latencyMs", path, default=1000.0, lo=0.0, hi=600_000.0),
        status=status,
        seconds=_num(d, "seconds", path, default=30.0, lo=0.0, hi=3600.0),
        bytes=_int(d, "bytes", path, default=2_000_000, lo=1, hi=200_000_000),
        row_kinds=row_kinds,
        row_count=row_count,
        health_status=_status(
            d.get("healthStatus", DEAD), _join(path, "healthStatus"), REPORTED_STATUSES
        ),
        index=index,
    )


def _parse_row_kinds(d: Mapping[str, Any], path: str) -> tuple[str, ...]:
    if "rows" not in d:
        return BAD_ROW_KINDS
    raw = _list(d, "rows", path)
    if not raw:
        raise ScenarioError(_join(path, "rows"), f"expected at least one of {list(BAD_ROW_KINDS)}")
    for i, kind in enumerate(raw):
        if kind not in BAD_ROW_KINDS:
            raise ScenarioError(f"{path}.rows[{i}]", f"expected one of {list(BAD_ROW_KINDS)}")
        if kind in raw[:i]:
            raise ScenarioError(f"{path}.rows[{i}]", f"duplicate row kind {kind!r}")
    return tuple(raw)


def _known_ids(fleet: list[LoadBalancer], events: list[_Event]) -> dict[str, set[str]]:
    """Every load balancer id the scenario ever has -> every listener id it ever has."""
    known: dict[str, set[str]] = {}
    lbs = list(fleet) + [e.load_balancer for e in events if e.load_balancer is not None]
    for lb in lbs:
        known.setdefault(lb.load_balancer_id, set()).update(lsn.listener_id for lsn in lb.listeners)
    for e in events:
        if e.listener is not None:
            known.setdefault(e.load_balancer_id, set()).add(e.listener.listener_id)
    return known


# --------------------------------------------------------------------------- scenario


def _find_load_balancer(fleet: list[LoadBalancer], event: _Event) -> LoadBalancer:
    for lb in fleet:
        if lb.load_balancer_id == event.load_balancer_id:
            return lb
    raise ScenarioError(
        _join(event.path, "loadBalancerId"),
        f"no load balancer {event.load_balancer_id!r} at step {event.step}",
    )


def _find_listener(fleet: list[LoadBalancer], event: _Event) -> Listener:
    lb = _find_load_balancer(fleet, event)
    assert event.listener_id is not None  # noqa: S101 - required by _EVENT_FIELDS
    lsn = lb.listener(event.listener_id)
    if lsn is None:
        raise ScenarioError(
            _join(event.path, "listenerId"),
            f"no listener {event.listener_id!r} in {lb.load_balancer_id!r} at step {event.step}",
        )
    return lsn


def _find_backend(lsn: Listener, event: _Event) -> Backend:
    """The one backend `event.backend` (+ `backendPort`) names; errors say what is ambiguous."""
    assert event.backend is not None  # noqa: S101 - required by _EVENT_FIELDS
    matches = [b for b in lsn.backends if b.matches(event.backend, event.backend_port)]
    if not matches:
        port = f" backendPort {event.backend_port}" if event.backend_port is not None else ""
        raise ScenarioError(
            _join(event.path, "backend"),
            f"no backend {event.backend!r}{port} in listener {lsn.listener_id!r} "
            f"at step {event.step}",
        )
    if len(matches) == 1:
        return matches[0]
    hints = []
    if len({b.ref for b in matches}) > 1:
        hints.append("name it as 'instanceId@privateIpAddress' ('@ip' for an IP-only backend)")
    if event.backend_port is None and len({b.backend_port for b in matches}) > 1:
        hints.append("add 'backendPort'")
    raise ScenarioError(
        _join(event.path, "backend"),
        f"{event.backend!r} is ambiguous in listener {lsn.listener_id!r} at step {event.step}: "
        f"it matches {', '.join(b.describe() for b in matches)}; {' or '.join(hints)}",
    )


def _apply(fleet: list[LoadBalancer], event: _Event) -> None:  # noqa: PLR0912 - one branch per timeline action
    """Apply one timeline event in place; errors name the event's fields."""
    if event.action == "add_load_balancer":
        assert event.load_balancer is not None  # noqa: S101 - set by _parse_event
        if any(lb.load_balancer_id == event.load_balancer_id for lb in fleet):
            raise ScenarioError(
                _join(event.path, "loadBalancerSpec.loadBalancerId"),
                f"load balancer {event.load_balancer_id!r} already exists at step {event.step}",
            )
        fleet.append(copy.deepcopy(event.load_balancer))  # the event's copy stays pristine
        return
    lb = _find_load_balancer(fleet, event)
    if event.action == "remove_load_balancer":
        fleet.remove(lb)
        return
    if event.action == "add_listener":
        assert event.listener is not None  # noqa: S101 - set by _parse_event
        if lb.listener(event.listener.listener_id) is not None:
            raise ScenarioError(
                _join(event.path, "listenerSpec.listenerId"),
                f"listener {event.listener.listener_id!r} already exists in "
                f"{lb.load_balancer_id!r} at step {event.step}",
            )
        lb.listeners.append(copy.deepcopy(event.listener))
        return
    lsn = _find_listener(fleet, event)
    if event.action == "remove_listener":
        lb.listeners.remove(lsn)
        return
    if event.action == "set_health_check":
        assert event.enabled is not None  # noqa: S101 - required by _EVENT_FIELDS
        lsn.health_check.enabled = event.enabled
        return
    if event.action == "add_backend":
        assert event.spec is not None  # noqa: S101 - set by _parse_event
        spec_path = _join(event.path, "backendSpec")
        backend = _parse_backend(event.spec, spec_path, lsn.listener_port)
        _check_unique_backend(lsn.backends, backend, spec_path)
        lsn.backends.append(backend)
        return
    backend = _find_backend(lsn, event)
    if event.action == "remove_backend":
        lsn.backends.remove(backend)
        return
    if event.action == "set_ports":
        assert event.ports is not None  # noqa: S101 - required by _EVENT_FIELDS
        new_status = event.health_status or backend.common_status() or ALIVE
        backend.port_status = {p: backend.port_status.get(p, new_status) for p in event.ports}
        return
    assert event.health_status is not None  # noqa: S101 - required by _EVENT_FIELDS
    if event.port is None:
        for port in backend.port_status:
            backend.port_status[port] = event.health_status
    elif event.port in backend.port_status:
        backend.port_status[event.port] = event.health_status
    else:
        raise ScenarioError(
            _join(event.path, "port"),
            f"{event.port} is not one of the backend's ports {list(backend.port_status)}",
        )


class Scenario:
    """A validated scenario. Build with `Scenario.from_dict` or `load_scenario`."""

    def __init__(
        self,
        *,
        raw: dict[str, Any],
        fleet: list[LoadBalancer],
        events: list[_Event],
        faults: list[Fault],
        steps: int,
        after_timeline: str,
        seed: int,
    ) -> None:
        self._raw = raw
        self._initial = fleet
        self._events = events
        self.faults: tuple[Fault, ...] = tuple(faults)
        self.steps = steps  # timeline length: steps 0 .. steps-1
        self.after_timeline = after_timeline  # "hold" or "loop"
        self.seed = seed
        self.description = str(raw.get("description", ""))
        self._cache: dict[int, list[LoadBalancer]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        raw: object = copy.deepcopy(data)
        d = _obj(
            raw,
            "",
            allowed={"loadBalancers", "timeline", "faults", "steps", "afterTimeline", "seed"},
            required={"loadBalancers"},
        )
        fleet = _parse_fleet(d["loadBalancers"])
        events = [
            _parse_event(e, f"timeline[{i}]")
            for i, e in enumerate(_list(d, "timeline", "", default=[]))
        ]
        known = _known_ids(fleet, events)
        faults = [
            _parse_fault(f, f"faults[{i}]", i, known)
            for i, f in enumerate(_list(d, "faults", "", default=[]))
        ]
        last = max(
            [e.step for e in events]
            + [f.from_step for f in faults]
            + [f.to_step for f in faults if f.to_step is not None]
            + [0]
        )
        steps = _int(d, "steps", "", default=last + 1, lo=1)
        if steps <= last:
            raise ScenarioError("steps", f"the timeline and faults use step {last}; need > {last}")
        after = d.get("afterTimeline", "hold")
        if after not in AFTER_TIMELINE:
            raise ScenarioError("afterTimeline", f"expected one of {list(AFTER_TIMELINE)}")
        seed = _int(d, "seed", "", default=0)
        scenario = cls(
            raw=d,
            fleet=fleet,
            events=events,
            faults=faults,
            steps=steps,
            after_timeline=after,
            seed=seed,
        )
        scenario.fleet_at(steps - 1)  # dry run: every event must apply cleanly
        return scenario

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._raw)

    @property
    def load_balancer_ids(self) -> list[str]:
        """The initial fleet's ids (before any timeline event; see `load_balancer_ids_at`)."""
        return [lb.load_balancer_id for lb in self._initial]

    def load_balancer_ids_at(self, step: int) -> list[str]:
        """The ids that exist at `step`, in DescribeLoadBalancers order."""
        return [lb.load_balancer_id for lb in self.fleet_at(step)]

    def effective_step(self, step: int) -> int:
        """The timeline step that `step` shows: held at the last step, or looped."""
        if step < self.steps:
            return max(step, 0)
        return step % self.steps if self.after_timeline == "loop" else self.steps - 1

    def fault_step(self, step: int) -> int:
        """The step fault ranges are matched against: looped with the timeline, else as is."""
        return self.effective_step(step) if self.after_timeline == "loop" else max(step, 0)

    def fleet_at(self, step: int) -> list[LoadBalancer]:
        """The fleet at `step` (shared and cached: do not mutate)."""
        target = self.effective_step(step)
        with self._lock:
            if target in self._cache:
                return self._cache[target]
            start = max((s for s in self._cache if s < target), default=-1)
            fleet = copy.deepcopy(self._initial) if start < 0 else copy.deepcopy(self._cache[start])
            for event in self._events:
                if start < event.step <= target:
                    _apply(fleet, event)
            if not any(start < e.step <= target for e in self._events) and start >= 0:
                fleet = self._cache[start]  # nothing changed: share the state
            self._cache[target] = fleet
            return fleet

    # ---------------------------------------------------------------- rendering (vendor shapes)

    def load_balancer(self, step: int, lb_id: str) -> LoadBalancer:
        for lb in self.fleet_at(step):
            if lb.load_balancer_id == lb_id:
                return lb
        raise FleetLookupError("load balancer", lb_id, step)

    def _listeners(self, step: int, lb_id: str, listener_id: str | None) -> list[Listener]:
        lb = self.load_balancer(step, lb_id)
        if listener_id is None:
            return lb.listeners
        lsn = lb.listener(listener_id)
        if lsn is None:
            raise FleetLookupError("listener", listener_id, step)
        return [lsn]

    def describe_backend_health(
        self, step: int, lb_id: str, listener_id: str | None = None
    ) -> list[dict[str, Any]]:
        listeners = self._listeners(step, lb_id, listener_id)
        return [render_backend(lsn, b) for lsn in listeners for b in lsn.backends]

    def invented_row(self, step: int, lb_id: str, listener_id: str | None) -> dict[str, Any]:
        """A well-formed row for a backend nobody has (INVENTED_IP), on the named listener or
        the first one: the base of `bad_rows` defects when the real answer has no row."""
        listeners = self._listeners(step, lb_id, listener_id)
        if listeners:
            lsn = listeners[0]
        else:  # a load balancer without listeners
            check = HealthCheck(True, "TCP_CHECK", 5, 3, False)
            lsn = Listener("lsn-emulator-invented", "invented", "TCP", "80", check, [])
        first_port = int(re.split(r"[,-]", lsn.listener_port, maxsplit=1)[0])
        invented = Backend(INVENTED_INSTANCE_ID, INVENTED_IP, None, 100, {first_port: ALIVE})
        return render_backend(lsn, invented)

    def describe_listeners(
        self,
        step: int,
        lb_id: str,
        listener_ids: list[str] | None = None,
        protocol: str | None = None,
    ) -> list[dict[str, Any]]:
        lb = self.load_balancer(step, lb_id)
        return [
            render_listener(lsn)
            for lsn in lb.listeners
            if (listener_ids is None or lsn.listener_id in listener_ids)
            and (protocol is None or lsn.protocol == protocol)
        ]

    def describe_load_balancers(self, step: int) -> list[dict[str, Any]]:
        return [render_load_balancer(lb) for lb in self.fleet_at(step)]


def backend_status(listener: Listener, backend: Backend) -> str:
    """The backend's reported healthStatus (documented in docs/emulator.md)."""
    if not listener.health_check.enabled:
        return CLOSE
    statuses = set(backend.port_status.values())
    if len(statuses) == 1:
        return statuses.pop()
    if DEAD in statuses:
        return DEAD
    return UNKNOWN


def render_backend(listener: Listener, backend: Backend) -> dict[str, Any]:
    """One ListenerBackendHealth, with the vendor's field names."""
    out: dict[str, Any] = {
        "listenerId": listener.listener_id,
        "listenerName": listener.listener_name,
        "protocol": listener.protocol,
        "listenerPort": listener.listener_port,
    }
    if backend.instance_id is not None:
        out["instanceId"] = backend.instance_id
    out["privateIpAddress"] = backend.private_ip_address
    if backend.backend_port is not None:
        out["backendPort"] = backend.backend_port
    out["weight"] = backend.weight
    status = backend_status(listener, backend)
    out["healthStatus"] = status
    if status not in (CLOSE, UNKNOWN):
        out["healthStatusDetail"] = [
            {"port": port, "healthStatus": s} for port, s in backend.port_status.items()
        ]
    return out


def render_listener(listener: Listener) -> dict[str, Any]:
    """One Listener as DescribeListeners returns it (the SDK names the port field `port`)."""
    hc = listener.health_check
    return {
        "listenerId": listener.listener_id,
        "listenerName": listener.listener_name,
        "protocol": listener.protocol,
        "port": listener.listener_port,
        "healthCheck": {
            "enabled": hc.enabled,
            "checkType": hc.check_type,
            "checkDelayLoop": hc.check_delay_loop,
            "checkRetry": hc.check_retry,
            "failOpen": hc.fail_open,
        },
    }


def render_load_balancer(lb: LoadBalancer) -> dict[str, Any]:
    targets = {
        (b.instance_id or b.private_ip_address) for lsn in lb.listeners for b in lsn.backends
    }
    return {
        "loadBalancerId": lb.load_balancer_id,
        "loadBalancerName": lb.load_balancer_name,
        "regionId": lb.region_id,
        "status": lb.status,
        "listenerCount": len(lb.listeners),
        "backendServerCount": len(targets),
        "tags": [],
    }


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; errors name the file and the bad field."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(str(p), f"cannot read: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ScenarioError(str(p), f"not valid JSON: {exc}") from exc
    return Scenario.from_dict(data)


def generate_fleet(
    load_balancers: int,
    listeners_per_lb: int,
    backends_per_listener: int,
    latency_ms: float = 0,
) -> Scenario:
    """A large all-Alive fleet for benchmarks: lb-0001.., lsn-0001-01.., vm-0001-01-0001..

    Ids and addresses are stable for the same arguments. `latency_ms` adds a latency fault to
    every request.
    """
    if load_balancers < 1 or listeners_per_lb < 0 or backends_per_listener < 0:
        raise ValueError("generate_fleet: counts must be >= 1, >= 0, >= 0")
    serial = 0
    lbs: list[dict[str, Any]] = []
    for i in range(1, load_balancers + 1):
        listeners: list[dict[str, Any]] = []
        for j in range(1, listeners_per_lb + 1):
            backends: list[dict[str, Any]] = []
            for k in range(1, backends_per_listener + 1):
                serial += 1
                ip = f"10.{(serial >> 16) & 255}.{(serial >> 8) & 255}.{serial & 255}"
                backends.append(
                    {
                        "instanceId": f"vm-{i:04d}-{j:02d}-{k:04d}",
                        "privateIpAddress": ip,
                        "backendPort": 8080,
                        "weight": 100,
                    }
                )
            listeners.append(
                {
                    "listenerId": f"lsn-{i:04d}-{j:02d}",
                    "listenerName": f"listener-{i:04d}-{j:02d}",
                    "protocol": "TCP",
                    "listenerPort": str(10000 + j),
                    "backends": backends,
                }
            )
        lbs.append(
            {
                "loadBalancerId": f"lb-{i:04d}",
                "loadBalancerName": f"bench-{i:04d}",
                "listeners": listeners,
            }
        )
    data: dict[str, Any] = {"loadBalancers": lbs}
    if latency_ms > 0:
        data["faults"] = [{"type": "latency", "latencyMs": latency_ms}]
    return Scenario.from_dict(data)
