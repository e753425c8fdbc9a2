"""Scenarios for the local Zenlayer API emulator: a fleet, a timeline of changes, and faults.

A scenario is plain JSON (format: docs/emulator.md). `Scenario.from_dict` validates all of it
up front, including a dry run of the timeline, and raises `ScenarioError` naming the bad field
by its path, e.g. `timeline[3].backend: no backend 'vm-x' in listener 'lsn-web-http'`.

The fleet's state at a step is the initial fleet with every timeline event of that step and
earlier applied, in file order. States are computed once per step and cached.
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
)
ACTIONS: Final = ("DescribeLoadBalancers", "DescribeListeners", "DescribeBackendHealth")
EVENT_ACTIONS: Final = ("set_status", "set_health_check", "add_backend", "remove_backend")
AFTER_TIMELINE: Final = ("hold", "loop")
MAX_PORTS_PER_BACKEND: Final = 256
_SERVER_ERROR_STATUSES: Final = (500, 502, 503, 504)
_HTML_STATUSES: Final = (200, 502)
_LISTENER_PORT = re.compile(r"^\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*$")
_NOTE_KEYS: Final = frozenset({"note", "description"})


class ScenarioError(ValueError):
    """The scenario is invalid; `field` is the path of the offending value."""

    def __init__(self, field_path: str, problem: str) -> None:
        super().__init__(f"scenario: {field_path}: {problem}")
        self.field = field_path
        self.problem = problem


class FleetLookupError(LookupError):
    """A request named a load balancer or listener the fleet does not have (right now)."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


# --------------------------------------------------------------------------- fleet state


@dataclass
class Backend:
    instance_id: str | None
    private_ip_address: str
    backend_port: int | None
    weight: int
    port_status: dict[int, str]  # every port the backend is checked on, in order

    def matches(self, ref: str, backend_port: int | None) -> bool:
        if ref not in (self.instance_id, self.private_ip_address):
            return False
        return backend_port is None or backend_port == self.backend_port


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


@dataclass(frozen=True)
class Fault:
    type: str
    load_balancer_id: str  # "*" for every load balancer
    from_step: int
    to_step: int | None  # inclusive; None: for ever
    actions: tuple[str, ...] | None
    fraction: float
    count: int | None
    latency_ms: float
    status: int
    seconds: float
    bytes: int
    index: int  # position in the file, for counters and logs

    def active(self, step: int, action: str, load_balancer_id: str | None) -> bool:
        if step < self.from_step or (self.to_step is not None and step > self.to_step):
            return False
        if self.actions is not None and action not in self.actions:
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
    listener_id: str
    backend: str | None
    backend_port: int | None
    port: int | None
    health_status: str | None
    enabled: bool | None
    spec: dict[str, Any] | None
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


def _status(value: object, path: str) -> str:
    if value not in SETTABLE_STATUSES:
        raise ScenarioError(path, f"expected one of {list(SETTABLE_STATUSES)}, got {value!r}")
    return str(value)


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
        ports_raw = _list(d, "ports", path)
        if not ports_raw:
            raise ScenarioError(_join(path, "ports"), "expected at least one port")
        ports: list[int] = []
        for i, p in enumerate(ports_raw):
            if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535:
                raise ScenarioError(f"{path}.ports[{i}]", "expected a port number 1-65535")
            if p in ports:
                raise ScenarioError(f"{path}.ports[{i}]", f"duplicate port {p}")
            ports.append(p)
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
    for b in backends:
        same_target = (b.instance_id or b.private_ip_address) == (
            new.instance_id or new.private_ip_address
        )
        if same_target and b.backend_port == new.backend_port:
            raise ScenarioError(
                path,
                f"duplicate backend {new.instance_id or new.private_ip_address} "
                f"port {new.backend_port} in this listener",
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


def _parse_fleet(raw: object) -> list[LoadBalancer]:
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("loadBalancers", "expected a non-empty list")
    fleet: list[LoadBalancer] = []
    lb_ids: set[str] = set()
    for i, lb_raw in enumerate(raw):
        path = f"loadBalancers[{i}]"
        d = _obj(
            lb_raw,
            path,
            allowed={"loadBalancerId", "loadBalancerName", "regionId", "status", "listeners"},
            required={"loadBalancerId"},
        )
        lb_id = _str(d, "loadBalancerId", path)
        if lb_id in lb_ids or lb_id == "*":
            raise ScenarioError(
                _join(path, "loadBalancerId"), f"duplicate or reserved id {lb_id!r}"
            )
        lb_ids.add(lb_id)
        listeners: list[Listener] = []
        listener_ids: set[str] = set()
        for j, lsn_raw in enumerate(_list(d, "listeners", path, default=[])):
            lpath = f"{path}.listeners[{j}]"
            ld = _obj(
                lsn_raw,
                lpath,
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
            lsn_id = _str(ld, "listenerId", lpath)
            if lsn_id in listener_ids:
                raise ScenarioError(_join(lpath, "listenerId"), f"duplicate id {lsn_id!r}")
            listener_ids.add(lsn_id)
            listener_port = _parse_listener_port(ld["listenerPort"], _join(lpath, "listenerPort"))
            backends: list[Backend] = []
            for k, b_raw in enumerate(_list(ld, "backends", lpath, default=[])):
                bpath = f"{lpath}.backends[{k}]"
                backend = _parse_backend(b_raw, bpath, listener_port)
                _check_unique_backend(backends, backend, bpath)
                backends.append(backend)
            listeners.append(
                Listener(
                    listener_id=lsn_id,
                    listener_name=_str(ld, "listenerName", lpath, lsn_id),
                    protocol=_str(ld, "protocol", lpath, "TCP"),
                    listener_port=listener_port,
                    health_check=_parse_health_check(ld.get("healthCheck"), f"{lpath}.healthCheck"),
                    backends=backends,
                )
            )
        fleet.append(
            LoadBalancer(
                load_balancer_id=lb_id,
                load_balancer_name=_str(d, "loadBalancerName", path, lb_id),
                region_id=_str(d, "regionId", path, "asia-east-1"),
                status=_str(d, "status", path, "Running"),
                listeners=listeners,
            )
        )
    return fleet


def _parse_event(raw: object, path: str) -> _Event:
    d = _obj(
        raw,
        path,
        allowed={
            "step",
            "action",
            "loadBalancerId",
            "listenerId",
            "backend",
            "backendPort",
            "port",
            "healthStatus",
            "enabled",
            "backendSpec",
        },
        required={"step", "action", "loadBalancerId", "listenerId"},
    )
    action = d["action"]
    if action not in EVENT_ACTIONS:
        raise ScenarioError(_join(path, "action"), f"expected one of {list(EVENT_ACTIONS)}")
    event = _Event(
        step=_int(d, "step", path, lo=0),
        action=action,
        load_balancer_id=_str(d, "loadBalancerId", path),
        listener_id=_str(d, "listenerId", path),
        backend=None,
        backend_port=_opt_int(d, "backendPort", path, lo=1, hi=65535),
        port=None,
        health_status=None,
        enabled=None,
        spec=None,
        path=path,
    )
    if action in ("set_status", "remove_backend"):
        event.backend = _str(d, "backend", path)
    if action == "set_status":
        event.health_status = _status(d.get("healthStatus"), _join(path, "healthStatus"))
        event.port = _opt_int(d, "port", path, lo=1, hi=65535)
    elif action == "set_health_check":
        if "enabled" not in d:
            raise ScenarioError(_join(path, "enabled"), "required field is missing")
        event.enabled = _bool(d, "enabled", path, True)
    elif action == "add_backend":
        spec = d.get("backendSpec")
        if not isinstance(spec, dict):
            raise ScenarioError(_join(path, "backendSpec"), "expected a backend object")
        event.spec = spec
    return event


def _parse_fault(raw: object, path: str, index: int, lb_ids: set[str]) -> Fault:
    d = _obj(
        raw,
        path,
        allowed={
            "type",
            "loadBalancerId",
            "fromStep",
            "toStep",
            "actions",
            "fraction",
            "count",
            "latencyMs",
            "status",
            "seconds",
            "bytes",
        },
        required={"type"},
    )
    ftype = d["type"]
    if ftype not in FAULT_TYPES:
        raise ScenarioError(_join(path, "type"), f"expected one of {list(FAULT_TYPES)}")
    lb_id = _str(d, "loadBalancerId", path, "*")
    if lb_id != "*" and lb_id not in lb_ids:
        raise ScenarioError(_join(path, "loadBalancerId"), f"no load balancer {lb_id!r}")
    from_step = _int(d, "fromStep", path, default=0, lo=0)
    to_step = _opt_int(d, "toStep", path, lo=from_step)
    actions: tuple[str, ...] | None = None
    if "actions" in d:
        raw_actions = _list(d, "actions", path)
        for i, a in enumerate(raw_actions):
            if a not in ACTIONS:
                raise ScenarioError(f"{path}.actions[{i}]", f"expected one of {list(ACTIONS)}")
        actions = tuple(raw_actions)
    if ftype == "server_error":
        statuses: tuple[int, ...] = _SERVER_ERROR_STATUSES
        default_status = 500
    elif ftype == "html":
        statuses, default_status = _HTML_STATUSES, 502
    else:
        statuses, default_status = (), 0
    if "status" in d and not statuses:
        raise ScenarioError(_join(path, "status"), f"not used by fault type {ftype!r}")
    status = _int(d, "status", path, default=default_status)
    if statuses and status not in statuses:
        raise ScenarioError(_join(path, "status"), f"expected one of {list(statuses)}")
    return Fault(
        type=ftype,
        load_balancer_id=lb_id,
        from_step=from_step,
        to_step=to_step,
        actions=actions,
        fraction=_num(d, "fraction", path, default=1.0, lo=0.0, hi=1.0),
        count=_opt_int(d, "count", path, lo=1),
        latency_ms=_num(d, "latencyMs", path, default=1000.0, lo=0.0, hi=600_000.0),
        status=status,
        seconds=_num(d, "seconds", path, default=30.0, lo=0.0, hi=3600.0),
        bytes=_int(d, "bytes", path, default=2_000_000, lo=1, hi=200_000_000),
        index=index,
    )


# --------------------------------------------------------------------------- scenario


def _find_listener(fleet: list[LoadBalancer], lb_id: str, lsn_id: str, path: str) -> Listener:
    for lb in fleet:
        if lb.load_balancer_id == lb_id:
            for lsn in lb.listeners:
                if lsn.listener_id == lsn_id:
                    return lsn
            raise ScenarioError(_join(path, "listenerId"), f"no listener {lsn_id!r} in {lb_id!r}")
    raise ScenarioError(_join(path, "loadBalancerId"), f"no load balancer {lb_id!r}")


def _apply(fleet: list[LoadBalancer], event: _Event) -> None:
    """Apply one timeline event in place; errors name the event's fields."""
    lsn = _find_listener(fleet, event.load_balancer_id, event.listener_id, event.path)
    if event.action == "set_health_check":
        assert event.enabled is not None  # noqa: S101 - set by _parse_event
        lsn.health_check.enabled = event.enabled
        return
    if event.action == "add_backend":
        assert event.spec is not None  # noqa: S101 - set by _parse_event
        spec_path = _join(event.path, "backendSpec")
        backend = _parse_backend(event.spec, spec_path, lsn.listener_port)
        _check_unique_backend(lsn.backends, backend, spec_path)
        lsn.backends.append(backend)
        return
    assert event.backend is not None  # noqa: S101 - set by _parse_event
    matches = [b for b in lsn.backends if b.matches(event.backend, event.backend_port)]
    if not matches:
        raise ScenarioError(
            _join(event.path, "backend"),
            f"no backend {event.backend!r} in listener {lsn.listener_id!r} at step {event.step}",
        )
    if len(matches) > 1:
        raise ScenarioError(
            _join(event.path, "backend"),
            f"{event.backend!r} matches {len(matches)} backends; add 'backendPort'",
        )
    backend = matches[0]
    if event.action == "remove_backend":
        lsn.backends.remove(backend)
        return
    assert event.health_status is not None  # noqa: S101 - set by _parse_event
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
        lb_ids = {lb.load_balancer_id for lb in fleet}
        faults = [
            _parse_fault(f, f"faults[{i}]", i, lb_ids)
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
        return [lb.load_balancer_id for lb in self._initial]

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
        raise FleetLookupError("load balancer", lb_id)

    def describe_backend_health(
        self, step: int, lb_id: str, listener_id: str | None = None
    ) -> list[dict[str, Any]]:
        lb = self.load_balancer(step, lb_id)
        listeners = lb.listeners
        if listener_id is not None:
            listeners = [lsn for lsn in lb.listeners if lsn.listener_id == listener_id]
            if not listeners:
                raise FleetLookupError("listener", listener_id)
        return [render_backend(lsn, b) for lsn in listeners for b in lsn.backends]

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
