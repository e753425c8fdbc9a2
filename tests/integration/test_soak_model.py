"""Model-based soak: generated fleets, changes and faults; real runs; the product's promises
checked as invariants after every step.

Hypothesis draws a `Plan`: a small fleet (load balancers, listeners, backends checked on one or
more ports, one instance sometimes registered with two IPs) and, step by step, what happens to
it -- statuses (Alive / Dead / Unknown) of whole backends or single ports, health checks turned
off (Close) and on, ports that appear, vanish and are renumbered, backends, listeners and load
balancers created and deleted -- and what goes wrong: API failures per load balancer or per
listener target (5xx, malformed JSON, 429, 404), empty `backends`, rows with missing fields,
duplicated rows, discovery failures, SNS refusing every Publish, a second delivery of a tick,
and crashes in the middle of a run (between two commits, or before publishing) -- and
maintenance silences (a load balancer, all of them, a listener or one backend; windows that end,
are expired early, or are acknowledgements that end once healthy) -- and the operator changing
`Shards` (1 to 3; each tick is then one run per shard, each with its own tick claim, and a crash
kills one of them). Each step runs the real Monitor against the emulator and moto's server over
HTTP; what subscribers received is read from an SQS queue subscribed to the topic.

Checked after every step:
- REF  the stored state equals an independent reference model of the documented rules (the
       notified status of every backend and port, every monitor scope's degradation): a
       failure of one call never hides a change another call saw (I4), and a duplicate tick
       is never an observation (I5: the reference ignores it; the state must too);
- I5   a second delivery of a tick leaves every load balancer's health state as it was;
- C    every state the product's store keeps decoded between runs still equals the bytes it
       was decoded from (nothing changes a state read from the store in place);
- I1   once nothing is pending, the last word subscribers got about every backend, port and
       monitor scope states its notified status (a unit never told about, or told removed, may
       be a silent baseline -- Alive, or Close -- but never Dead);
- I2/I3 per backend, port and scope, the words subscribers got alternate (never down twice
       without a word that closes it, never closed twice), and the last plan steps (everything
       healthy, nothing failing) leave no subscriber believing anything is down.
With silences, I1 waits for what a silence covers (held back, and told at its end), and the end
of the plan requires every silence to be over, told and forgotten (nothing held, no page lost).
A second delivery of a tick whose run crashed takes the unfinished tick over: it is then that
tick's one observation of what the crashed run left uncommitted (the reference observes exactly
that). Not generated: a crash after SNS accepted a message and before the outbox records it (the
one documented at-least-once window: that message is sent once more; test_faults_aws covers it).

The run is seeded (SOAK_SEED, default below) and reproducible; on a failure Hypothesis prints
the seed and the shortest plan it found, step by step.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, Phase, given, note, seed, settings
from hypothesis import strategies as st
from tests.conftest import Inbox
from tests.integration.harness import KEY, Harness

from zlb_health.adapters.store import HealthStore, StoredState
from zlb_health.engine.maintenance import Backend, Silence
from zlb_health.engine.state import FLEET_ID, FleetState, LbState, iso, parse_iso
from zlb_health.shards import Shard, shard_of
from zlb_health_tools.emulator.scenario import FleetLookupError, Scenario
from zlb_health_tools.emulator.server import Emulator
from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import create_local_stack

pytestmark = pytest.mark.integration

SOAK_SEED: Final = int(os.environ.get("SOAK_SEED", "20261201"))
EXAMPLES: Final = int(os.environ.get("SOAK_EXAMPLES", "60"))
STATUSES: Final = ("Alive", "Dead", "Unknown")
API_FAULTS: Final = ("server_error", "malformed", "throttle", "not_found")
ROW_FAULTS: Final = ("empty_backends", "bad_rows", "duplicate_rows")
_BADNESS: Final = {"Dead": 0, "Close": 2, "Alive": 3}


# == the world and the plan =====================================================================


@dataclass
class WBackend:
    instance: str | None
    ip: str
    ports: dict[int, str]  # checked port -> status

    @property
    def ref(self) -> str:
        return f"{self.instance or ''}@{self.ip}"


@dataclass
class WListener:
    port: int
    enabled: bool = True
    backends: list[WBackend] = field(default_factory=list)


@dataclass
class WLb:
    listeners: dict[str, WListener]
    exists: bool = True


def _lb_spec(lb_id: str, lb: WLb) -> dict[str, Any]:
    return {
        "loadBalancerId": lb_id,
        "listeners": [_listener_spec(lsn, listener) for lsn, listener in lb.listeners.items()],
    }


def _listener_spec(lsn: str, listener: WListener) -> dict[str, Any]:
    return {
        "listenerId": lsn,
        "listenerName": f"name-{lsn}",
        "listenerPort": str(listener.port),
        "healthCheck": {"enabled": listener.enabled},
        "backends": [_backend_spec(b, listener.port) for b in listener.backends],
    }


def _backend_spec(b: WBackend, port: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"privateIpAddress": b.ip, "backendPort": port, "ports": list(b.ports)}
    if b.instance:
        spec["instanceId"] = b.instance
    spec["portStatuses"] = {str(p): s for p, s in b.ports.items()}
    return spec


@dataclass
class Step:
    events: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[tuple[str, str | None], str] = field(default_factory=dict)  # (lb, lsn) -> kind
    discovery_fails: bool = False
    sns_down: bool = False
    duplicate: bool = False  # deliver this tick a second time after the run
    crash: str | None = None  # "mid_commit" | "before_publish"
    shards: int = 1  # the tick is one run per shard (Shards changes now and then)

    def story(self) -> str:
        bits = [_event_text(e) for e in self.events]
        bits += [f"{k} on {lb}{'/' + lsn if lsn else ''}" for (lb, lsn), k in self.faults.items()]
        if self.discovery_fails:
            bits.append("discovery fails")
        if self.sns_down:
            bits.append("SNS down")
        if self.duplicate:
            bits.append("tick delivered twice")
        if self.crash:
            bits.append(f"crash {self.crash}")
        if self.shards > 1:
            bits.append(f"{self.shards} shards")
        return "; ".join(bits) or "-"


def _event_text(e: dict[str, Any]) -> str:
    where = e.get("backend") or e.get("listenerId") or e.get("loadBalancerId", "")
    extra = {k: v for k, v in e.items() if k not in ("step", "action", "loadBalancerId")}
    return f"{e['action']} {where} {extra}"


FIRST_TICK: Final = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # the Harness clock's start


def step_time(index: int) -> datetime:
    """Every step is one one-minute tick (a crash or a duplicate does not move the clock)."""
    return FIRST_TICK + timedelta(minutes=index)


@dataclass
class SoakSilence:
    """A silence over steps [start, end); matched here independently of the product's code."""

    id: str
    lb: str  # a load balancer id, or "*"
    listener: str | None
    backend: tuple[str, str, str] | None  # listener, target (instance or IP), backend port
    start: int
    end: int
    until_healthy: bool = False
    expire_at: int | None = None  # `silence expire` before this step's run

    def story(self) -> str:
        what = self.lb + (f"/{self.listener}" if self.listener else "")
        what += f" backend {'/'.join(self.backend)}" if self.backend else ""
        kind = "ack until healthy" if self.until_healthy else "window"
        early = f", expired at {self.expire_at}" if self.expire_at is not None else ""
        return f"silence {self.id}: {what}, {kind} steps [{self.start}, {self.end}){early}"

    def product(self) -> Silence:
        return Silence(
            id=self.id,
            load_balancer_id=self.lb,
            listener_id=self.listener,
            backend=Backend(*self.backend) if self.backend else None,
            starts=iso(step_time(self.start)),
            ends=iso(step_time(self.end)),
            until_healthy=self.until_healthy,
            comment="soak",
            author="soak",
            created_at=iso(step_time(0)),
        )

    def covers(self, lb_id: str, key: str) -> bool:
        """A backend (`listener|instance|ip|port`)."""
        if self.lb not in ("*", lb_id):
            return False
        listener, instance, ip, port = key.split("|")
        if self.listener is not None and self.listener != listener:
            return False
        return self.backend is None or (
            self.backend[0] == listener
            and self.backend[1] in (instance, ip)
            and self.backend[2] == port
        )

    def covers_scope(self, lb_id: str, scope: str) -> bool:
        """Monitoring of the whole load balancer ("") or of one listener target."""
        if self.lb not in ("*", lb_id) or self.backend is not None:
            return False
        return self.listener is None or self.listener == scope


@dataclass
class Plan:
    mode: str  # "discovery" | "targets"
    thresholds: tuple[int, int, int]  # failure, recovery, monitor failure
    fleet: dict[str, WLb]
    steps: list[Step]
    targets: str = ""
    silences: list[SoakSilence] = field(default_factory=list)

    def __repr__(self) -> str:
        lines = [f"Plan(mode={self.mode}, thresholds={self.thresholds}, targets={self.targets!r})"]
        for lb_id, lb in self.fleet.items():
            for lsn, listener in lb.listeners.items():
                backends = ", ".join(f"{b.ref}:{sorted(b.ports)}" for b in listener.backends)
                lines.append(f"  {lb_id}/{lsn} port {listener.port}: {backends}")
        lines += [f"  {silence.story()}" for silence in self.silences]
        lines += [f"  step {i}: {s.story()}" for i, s in enumerate(self.steps)]
        return "\n".join(lines)

    def scenario(self, tail: int) -> Scenario:
        events = [{**e, "step": i} for i, s in enumerate(self.steps) for e in s.events]
        faults = []
        for i, s in enumerate(self.steps):
            for (lb, lsn), kind in s.faults.items():
                fault: dict[str, Any] = {
                    "type": kind,
                    "loadBalancerId": lb,
                    "fromStep": i,
                    "toStep": i,
                }
                if lsn:
                    fault["listenerId"] = lsn
                if kind == "duplicate_rows":
                    fault["healthStatus"] = "Dead"
                faults.append(fault)
            if s.discovery_fails:
                faults.append(
                    {"type": "server_error", "status": 503, "fromStep": i, "toStep": i,
                     "actions": ["DescribeLoadBalancers"]}
                )  # fmt: skip
        return Scenario.from_dict(
            {
                "steps": len(self.steps) + tail,
                "loadBalancers": [_lb_spec(lb_id, lb) for lb_id, lb in self.fleet.items()],
                "timeline": events,
                "faults": faults,
            }
        )


class _World:
    """The generator's model of the fleet, so that every event it emits is valid."""

    def __init__(self, fleet: dict[str, WLb]) -> None:
        self.lbs = {
            k: WLb({lsn: _copy_listener(lst) for lsn, lst in v.listeners.items()})
            for k, v in fleet.items()
        }
        self.next_vm = 50

    def backends(self) -> list[tuple[str, str, WBackend]]:
        return [
            (lb_id, lsn, b)
            for lb_id, lb in self.lbs.items()
            if lb.exists
            for lsn, listener in lb.listeners.items()
            for b in listener.backends
        ]


def _copy_listener(listener: WListener) -> WListener:
    return WListener(
        listener.port,
        listener.enabled,
        [WBackend(b.instance, b.ip, dict(b.ports)) for b in listener.backends],
    )


def lb_name(n: int) -> str:
    """The n-th load balancer's id: chosen so that with 2 and 3 shards the fleet's load balancers
    fall into different shards (plain `lb-0`, `lb-1`, `lb-2` all hash to shard 0 of 2, and a
    shard that owns nothing would hide what sharding can get wrong)."""
    return next(
        name
        for name in (f"lb-{n}{suffix}" for suffix in "abcdefghijklmnopqrstuvwxyz")
        if (shard_of(name, 2), shard_of(name, 3)) == (n % 2, n % 3)
    )


@st.composite
def _fleet(draw: st.DrawFn) -> dict[str, WLb]:
    fleet: dict[str, WLb] = {}
    ip = 1
    for lb_n in range(draw(st.integers(1, 3))):
        listeners = {}
        for lsn_n in range(draw(st.integers(1, 2))):
            backends = []
            for vm_n in range(draw(st.integers(1, 3))):
                ports = draw(
                    st.lists(
                        st.sampled_from([80, 443, 8080, 9000]), min_size=1, max_size=2, unique=True
                    )
                )
                instance = draw(st.sampled_from([f"vm-{lb_n}{lsn_n}{vm_n}", None]))
                backends.append(
                    WBackend(instance, f"10.0.{lb_n}.{ip}", dict.fromkeys(ports, "Alive"))
                )
                ip += 1
                if instance and draw(st.integers(0, 9)) == 0:  # the same instance, a second IP
                    backends.append(
                        WBackend(instance, f"10.0.{lb_n}.{ip}", dict.fromkeys(ports, "Alive"))
                    )
                    ip += 1
            listeners[f"lsn-{lb_n}{lsn_n}"] = WListener(8000 + lsn_n, True, backends)
        fleet[lb_name(lb_n)] = WLb(listeners)
    return fleet


def _event(world: _World, draw: st.DrawFn, mode: str) -> dict[str, Any] | None:  # noqa: PLR0912, PLR0915 - one branch per kind of event
    choice = draw(
        st.sampled_from(
            ["status"] * 8 + ["port_status"] * 4 + ["ports"] * 3 + ["hc"] + ["backend"] * 2
            + (["listener", "lb"] if mode == "discovery" else [])
        )
    )  # fmt: skip
    backends = world.backends()
    if choice in ("status", "port_status", "ports") and backends:
        lb_id, lsn, b = draw(st.sampled_from(backends))
        base = {
            "action": "set_status",
            "loadBalancerId": lb_id,
            "listenerId": lsn,
            "backend": b.ref,
        }
        if choice == "status":
            status = draw(st.sampled_from(STATUSES))
            b.ports = dict.fromkeys(b.ports, status)
            return {**base, "healthStatus": status}
        if choice == "port_status":
            port = draw(st.sampled_from(sorted(b.ports)))
            status = draw(st.sampled_from(STATUSES))
            b.ports[port] = status
            return {**base, "port": port, "healthStatus": status}
        old = sorted(b.ports)
        how = draw(st.sampled_from(["renumber", "add", "drop"]))
        new = list(old)
        if how == "renumber":
            new[draw(st.integers(0, len(old) - 1))] = draw(st.sampled_from([81, 444, 8081, 9001]))
        elif how == "add":
            new.append(draw(st.sampled_from([81, 444, 8081, 9001])))
        elif len(old) > 1:
            new.remove(draw(st.sampled_from(old)))
        new = list(dict.fromkeys(new))
        status = draw(st.sampled_from(["Alive", "Dead"]))
        b.ports = {p: b.ports.get(p, status) for p in new}
        return {**base, "action": "set_ports", "ports": new, "healthStatus": status}
    if choice == "hc":
        lbs = [
            (lb_id, lsn, lst)
            for lb_id, lb in world.lbs.items()
            if lb.exists
            for lsn, lst in lb.listeners.items()
        ]
        if not lbs:
            return None
        lb_id, lsn, listener = draw(st.sampled_from(lbs))
        listener.enabled = not listener.enabled
        return {"action": "set_health_check", "loadBalancerId": lb_id, "listenerId": lsn,
                "enabled": listener.enabled}  # fmt: skip
    if choice == "backend":
        if backends and draw(st.booleans()):
            lb_id, lsn, b = draw(st.sampled_from(backends))
            world.lbs[lb_id].listeners[lsn].backends.remove(b)
            return {"action": "remove_backend", "loadBalancerId": lb_id, "listenerId": lsn,
                    "backend": b.ref}  # fmt: skip
        lbs = [
            (lb_id, lsn, lst)
            for lb_id, lb in world.lbs.items()
            if lb.exists
            for lsn, lst in lb.listeners.items()
        ]
        if not lbs:
            return None
        lb_id, lsn, listener = draw(st.sampled_from(lbs))
        world.next_vm += 1
        status = draw(st.sampled_from(["Alive", "Dead"]))
        b = WBackend(f"vm-new{world.next_vm}", f"10.9.0.{world.next_vm}", {80: status})
        listener.backends.append(b)
        return {"action": "add_backend", "loadBalancerId": lb_id, "listenerId": lsn,
                "backendSpec": _backend_spec(b, listener.port)}  # fmt: skip
    if choice == "listener":
        lbs = [(lb_id, lb) for lb_id, lb in world.lbs.items() if lb.exists]
        if not lbs:
            return None
        lb_id, lb = draw(st.sampled_from(lbs))
        if len(lb.listeners) > 1 and draw(st.booleans()):
            lsn = draw(st.sampled_from(sorted(lb.listeners)))
            del lb.listeners[lsn]
            return {"action": "remove_listener", "loadBalancerId": lb_id, "listenerId": lsn}
        world.next_vm += 1
        lsn = f"lsn-n{world.next_vm}"
        listener = WListener(
            7000 + world.next_vm,
            True,
            [WBackend(f"vm-l{world.next_vm}", f"10.8.0.{world.next_vm}", {80: "Alive"})],
        )
        lb.listeners[lsn] = listener
        return {
            "action": "add_listener",
            "loadBalancerId": lb_id,
            "listenerSpec": _listener_spec(lsn, listener),
        }
    if choice == "lb":
        lb_id = draw(st.sampled_from(sorted(world.lbs)))
        lb = world.lbs[lb_id]
        if lb.exists:
            lb.exists = False
            return {"action": "remove_load_balancer", "loadBalancerId": lb_id}
        lb.exists = True
        return {"action": "add_load_balancer", "loadBalancerSpec": _lb_spec(lb_id, lb)}
    return None


def _healing(world: _World) -> list[dict[str, Any]]:
    """Every backend Alive on every port, every health check on."""
    events: list[dict[str, Any]] = []
    for lb_id, lb in world.lbs.items():
        if not lb.exists:
            continue
        for lsn, listener in lb.listeners.items():
            if not listener.enabled:
                events.append({"action": "set_health_check", "loadBalancerId": lb_id,
                               "listenerId": lsn, "enabled": True})  # fmt: skip
            events += [
                {"action": "set_status", "loadBalancerId": lb_id, "listenerId": lsn,
                 "backend": b.ref, "healthStatus": "Alive"}
                for b in listener.backends
            ]  # fmt: skip
    return events


def _scopes(
    plan_mode: str, world: _World, targets: list[tuple[str, str | None]]
) -> list[tuple[str, str | None]]:
    if plan_mode == "targets":
        return targets
    return [(lb_id, None) for lb_id, lb in world.lbs.items() if lb.exists]


def _has_rows(world: _World, lb_id: str, lsn: str | None) -> bool:
    lb = world.lbs[lb_id]
    if not lb.exists:
        return False
    if lsn is not None and lsn not in lb.listeners:
        return False
    listeners = [lb.listeners[lsn]] if lsn else list(lb.listeners.values())
    return any(listener.backends for listener in listeners)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    fleet = draw(_fleet())
    mode = draw(st.sampled_from(["discovery", "targets"]))
    targets: list[tuple[str, str | None]] = []
    if mode == "targets":
        for lb_id, lb in fleet.items():
            if len(lb.listeners) > 1 and draw(st.booleans()):
                targets += [(lb_id, lsn) for lsn in lb.listeners]
            else:
                targets.append((lb_id, None))
    world = _World(fleet)
    steps = [Step()]  # step 0: the baseline
    shards = 1
    for _ in range(draw(st.integers(10, 40))):
        if draw(st.integers(0, 7)) == 0:  # the operator changes Shards
            shards = draw(st.integers(1, 3))
        step = Step(shards=shards)
        for _ in range(draw(st.integers(0, 3))):
            event = _event(world, draw, mode)
            if event is not None:
                step.events.append(event)
        for lb_id, lsn in _scopes(mode, world, targets):
            if draw(st.integers(0, 9)) == 0:
                kinds = list(API_FAULTS)
                if _has_rows(world, lb_id, lsn):
                    kinds += list(ROW_FAULTS)
                step.faults[(lb_id, lsn)] = draw(st.sampled_from(kinds))
        step.discovery_fails = mode == "discovery" and draw(st.integers(0, 9)) == 0
        step.sns_down = draw(st.integers(0, 4)) == 0
        step.crash = draw(st.sampled_from([None] * 18 + ["mid_commit", "before_publish"]))
        # After a crash, a second delivery takes the unfinished tick over (late_delivery_...).
        step.duplicate = draw(st.integers(0, 9 if step.crash is None else 1)) == 0
        steps.append(step)
    steps.append(Step(events=_healing(world)))  # the tail starts: everything healthy again
    return Plan(
        mode=mode,
        thresholds=(draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        fleet=fleet,
        steps=steps,
        targets=",".join(f"{lb}/{lsn}" if lsn else lb for lb, lsn in targets),
        silences=[_silence(draw, fleet, len(steps), n) for n in range(draw(st.integers(0, 2)))],
    )


def _silence(draw: st.DrawFn, fleet: dict[str, WLb], steps: int, n: int) -> SoakSilence:
    """A silence over part of the plan; every one is over before the healing step."""
    lb_id = draw(st.sampled_from(sorted(fleet)))
    listeners = fleet[lb_id].listeners
    shape = draw(st.sampled_from(["lb", "all", "listener", "backend", "ack"]))
    start = draw(st.integers(0, steps - 2))
    end = draw(st.integers(start + 1, min(steps - 1, start + 12)))
    listener = backend = None
    if shape == "listener":
        listener = draw(st.sampled_from(sorted(listeners)))
    if shape in ("backend", "ack"):
        lsn = draw(st.sampled_from(sorted(listeners)))
        candidates = listeners[lsn].backends
        if candidates:
            b = draw(st.sampled_from(candidates))
            target = b.instance if b.instance and draw(st.booleans()) else b.ip
            backend = (lsn, target, str(listeners[lsn].port))
    expire_at = draw(st.sampled_from([None, None, None, *range(start + 1, end)]))
    return SoakSilence(
        id=f"sil-{n}",
        lb="*" if shape == "all" else lb_id,
        listener=listener,
        backend=backend,
        start=start,
        end=end,
        until_healthy=shape == "ack",
        expire_at=expire_at,
    )


# == the reference model =========================================================================


def _worse(a: str, b: str) -> str:
    return min(a, b, key=lambda s: _BADNESS.get(s, 1))


@dataclass
class RUnit:
    notified: str | None = None
    streak_status: str | None = None
    streak: int = 0
    absent: int = 0


@dataclass
class RBackend:
    units: dict[str, RUnit] = field(default_factory=dict)
    absent: int = 0
    portless: str | None = None  # a Dead or Close told with no port named: speaks for new ports
    seen: set[str] = field(default_factory=set)  # ports seen since that word


@dataclass
class RMonitor:
    failures: int = 0
    degraded: bool = False


@dataclass
class RLb:
    backends: dict[str, RBackend] = field(default_factory=dict)
    monitors: dict[str, RMonitor] = field(default_factory=dict)
    baselined: bool = False
    missing: int = 0
    retired: bool = False


Row = tuple[str, str, str | None, dict[str, str]]  # key, status, listener, detail


def _row(raw: dict[str, Any]) -> Row:
    port = str(raw["backendPort"]) if "backendPort" in raw else raw["listenerPort"]
    key = f"{raw['listenerId']}|{raw.get('instanceId') or ''}|{raw['privateIpAddress']}|{port}"
    detail = {str(d["port"]): d["healthStatus"] for d in raw.get("healthStatusDetail", [])}
    return key, raw["healthStatus"], raw["listenerId"], detail


class Reference:
    """The documented rules (README "What counts as a change"), written apart from the engine."""

    def __init__(self, failure: int, recovery: int, monitor: int) -> None:
        self.failure, self.recovery, self.monitor = failure, recovery, monitor
        self.absence = max(2, failure)
        self.cap = max(failure, recovery) + 1
        self.lbs: dict[str, RLb] = {}
        self.discovery = RMonitor()

    # -- one load balancer ----------------------------------------------------------------

    def observe(self, lb_id: str, answers: dict[str, list[Row] | None]) -> None:
        """answers: scope ("" or a listener id) -> rows, or None for a failed call."""
        lb = self.lbs.get(lb_id)
        if lb is None or lb.retired:
            lb = self.lbs[lb_id] = RLb()
        baseline = not lb.baselined and not lb.backends
        lb.missing = 0
        for scope, rows in answers.items():
            if rows is None:
                monitor = lb.monitors.setdefault(scope, RMonitor())
                monitor.failures += 1
                monitor.degraded = monitor.degraded or monitor.failures >= self.monitor
                continue
            lb.monitors.pop(scope, None)
            lb.baselined = True
            self._apply(lb, scope, rows, baseline)
        if "" not in answers:
            for key in [k for k in lb.backends if k.split("|")[0] not in answers]:
                del lb.backends[key]  # listener no longer polled
        for scope in [s for s in lb.monitors if s not in answers]:
            del lb.monitors[scope]

    def _apply(self, lb: RLb, scope: str, rows: list[Row], baseline: bool) -> None:
        merged: dict[str, tuple[str, dict[str, str]]] = {}
        for key, status, listener, detail in rows:
            if scope and listener != scope:
                continue
            if key in merged:
                old_status, old_detail = merged[key]
                both = dict(old_detail)
                for port, s in detail.items():
                    both[port] = _worse(both[port], s) if port in both else s
                merged[key] = (_worse(old_status, status), both)
            else:
                merged[key] = (status, detail)
        for key, (status, detail) in merged.items():
            backend = lb.backends.setdefault(key, RBackend())
            backend.absent = 0
            self._units(backend, status, detail)
        for key in [
            k for k in lb.backends if k not in merged and (not scope or k.split("|")[0] == scope)
        ]:
            backend = lb.backends[key]
            backend.absent += 1
            if backend.absent >= self.absence:
                del lb.backends[key]

    def _units(self, backend: RBackend, status: str, detail: dict[str, str]) -> None:
        if not detail:
            if not backend.units:
                backend.units["*"] = RUnit()
            for unit in backend.units.values():
                self._record(unit, status)
            return
        whole = backend.units.pop("*", None)
        if whole and whole.notified in ("Dead", "Close"):
            backend.portless = whole.notified
        missing = sorted((p for p in backend.units if p not in detail), key=int)
        new = sorted((p for p in detail if p not in backend.units), key=int)
        for old, fresh in zip(missing, new, strict=False):
            backend.units[fresh] = backend.units.pop(old)
            backend.units[fresh].absent = 0
        for fresh in new[len(missing) :]:
            backend.units[fresh] = self._first_unit(backend, whole, fresh)
        if backend.portless:
            backend.seen |= set(backend.units)
        for old in missing[len(new) :]:
            unit = backend.units[old]
            unit.absent += 1
            if unit.absent >= self.absence:
                del backend.units[old]
        for port, s in detail.items():
            self._record(backend.units[port], s)

    @staticmethod
    def _first_unit(backend: RBackend, whole: RUnit | None, port: str) -> RUnit:
        if whole:
            return RUnit(whole.notified, whole.streak_status, whole.streak)
        return RUnit(backend.portless if port not in backend.seen else None)

    def _record(self, unit: RUnit, status: str) -> None:
        unit.absent = 0
        if status not in ("Alive", "Dead", "Close"):
            return
        if unit.streak_status == status:
            unit.streak = min(unit.streak + 1, self.cap)
        else:
            unit.streak_status, unit.streak = status, 1
        if unit.notified == status:
            return
        if (
            status == "Close"
            or (status == "Alive" and unit.notified in (None, "Close"))
            or unit.streak >= (self.recovery if status == "Alive" else self.failure)
        ):
            unit.notified = status

    # -- the fleet -----------------------------------------------------------------------------

    def discover(self, ok: bool) -> None:
        """One listing of the fleet: discovery's own monitor scope."""
        if not ok:
            self.discovery.failures += 1
            self.discovery.degraded = (
                self.discovery.degraded or self.discovery.failures >= self.monitor
            )
        else:
            self.discovery = RMonitor()

    def missing(self, lb_id: str) -> None:
        """A successful listing did not name this known load balancer."""
        lb = self.lbs.get(lb_id)
        if lb is None or lb.retired:
            return
        lb.missing += 1
        if lb.missing >= self.absence:
            lb.retired = True
            lb.backends.clear()
            lb.monitors.clear()


# == what subscribers were told ===================================================================


@dataclass
class Subscribers:
    """Each backend's, port's and monitor scope's words, in delivery order."""

    view: dict[str, dict[str, dict[str, str | None]]] = field(
        default_factory=dict
    )  # lb -> key -> unit -> word
    words: dict[tuple[str, str, str], list[str | None]] = field(default_factory=dict)
    monitors: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def receive(self, message: dict[str, Any]) -> None:
        body = message["body"]
        assert not body.get("digest"), "MAX_MESSAGES_PER_RUN is high enough to avoid digests"
        entries = body.get("loadBalancers", [body])
        for entry in entries:
            lb = entry["loadBalancerId"]
            for t in body.get("transitions", []) if entry is body else []:
                self._transition(lb, t)
            for event in entry.get("monitorEvents", []):
                self._word_about_monitor(lb, event["scope"], event["change"])

    def _transition(self, lb: str, t: dict[str, Any]) -> None:
        port = str(t["backendPort"]) if t["backendPort"] is not None else t["listenerPort"]
        key = f"{t['listenerId']}|{t['instanceId'] or ''}|{t['privateIpAddress']}|{port}"
        units = self.view.setdefault(lb, {}).setdefault(key, {})
        word = t["currentStatus"]
        # A word speaks for the ports it names; one naming no port (no per-port detail) speaks
        # for every port not named since, including ports that appear later.
        if t["port"] is not None:
            targets = [str(t["port"])]
            if t["previousPort"] is not None and t["previousPort"] != t["port"]:
                units[str(t["previousPort"])] = None
                self._say(lb, key, str(t["previousPort"]), None)  # moved away
        elif t["ports"]:
            targets = [str(p) for p in t["ports"]]
            if word is None:
                units.clear()  # the backend is gone, with every port
        else:
            targets = ["*"]
            units.clear()
        for unit in targets:
            units[unit] = word
            self._say(lb, key, unit, word)

    def _say(self, lb: str, key: str, unit: str, word: str | None) -> None:
        said = self.words.setdefault((lb, key, unit), [])
        # Removed twice is no contradiction: a backend may come back as a silent baseline between.
        assert not said or said[-1] != word or word is None, (
            f"I2/I3: {lb} {key} port {unit} told {word} twice in a row: {said}"
        )
        said.append(word)

    def _word_about_monitor(self, lb: str, scope: str, change: str) -> None:
        word = "degraded" if change == "degraded" else "ok"
        said = self.monitors.setdefault((lb, scope), [])
        assert not said or said[-1] != word, (
            f"I2/I3: monitoring of {lb} {scope!r} told {word} twice: {said}"
        )
        said.append(word)

    def heard(self, lb: str, key: str, unit: str) -> str | None:
        units = self.view.get(lb, {}).get(key, {})
        return units[unit] if unit in units else units.get("*")

    def degraded(self, lb: str) -> set[str]:
        return {
            scope
            for (who, scope), said in self.monitors.items()
            if who == lb and said[-1] == "degraded"
        }


def _kind(word: str | None) -> str:
    return {"Dead": "down", "Close": "closed"}.get(word or "", "ok")


# == running a plan ===============================================================================


class CrashError(Exception):
    """Stands for the process dying mid-run (Lambda timeout, out of memory)."""


class Soak:
    def __init__(self, plan: Plan, local_aws: LocalAws) -> None:
        self.plan = plan
        self.stack = create_local_stack(local_aws.url)
        self.inbox = Inbox(self.stack)
        failure, recovery, monitor = plan.thresholds
        self.reference = Reference(failure, recovery, monitor)
        self.subscribers = Subscribers()
        self.known: set[str] = set()  # load balancers the monitor has a state for
        self.committed: set[str] = set()
        self.all_steps: list[Step] = []  # the plan's steps and the quiet tail
        self.crash: str | None = None
        self.sns_down = False
        self.index = 0  # the step being run (its tick is step_time(index))
        self.reader: HealthStore | None = None  # the checks' own store: not the product's

    def harness(self, emulator: Emulator) -> Harness:
        failure, recovery, monitor = self.plan.thresholds
        env = {
            "FAILURE_THRESHOLD": str(failure),
            "RECOVERY_THRESHOLD": str(recovery),
            "MONITOR_FAILURE_THRESHOLD": str(monitor),
            "MAX_MESSAGES_PER_RUN": "100",
            "LOAD_BALANCER_IDS": self.plan.targets,
        }
        h = Harness(emulator, self.stack, client_options={"read_timeout": 15.0}, **env)
        h.sns.meta.events.register("before-call.sns.Publish", self._sns)
        h.dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", self._commit)
        h.dynamodb.meta.events.register("after-call.dynamodb.TransactWriteItems", self._committed)
        return h

    def _sns(self, **_: Any) -> None:
        if self.crash == "before_publish":
            raise CrashError
        if self.sns_down:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "x"}}, "Publish")

    def _commit(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self.crash == "mid_commit" and len(self.committed) == 1:
            raise CrashError
        body = json.loads(params["body"])
        context["soak_subject"] = body["TransactItems"][0]["Put"]["Item"]["PK"]["S"]

    def _committed(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code == 200:
            self.committed.add(context["soak_subject"].removeprefix("LB#"))

    def run(self) -> None:
        tail = max(self.plan.thresholds) + self.reference.absence + 3
        with Emulator(self.plan.scenario(tail), credentials=[KEY], log_requests=False) as emulator:
            h = self.harness(emulator)
            self.reader = h.new_store()
            for silence in self.plan.silences:
                assert h.store.put_silence(silence.product())
            self.all_steps = [*self.plan.steps, *[Step()] * (tail + 1)]
            for index, step in enumerate(self.all_steps[:-1]):
                note(f"step {index}: {step.story()}")
                self.index = index
                self.step(h, emulator, step)
            self.check_all_healthy()

    def step(self, h: Harness, emulator: Emulator, step: Step) -> None:
        _count_runs((2 if step.duplicate else 1) * step.shards)
        fleet = self.states([FLEET_ID])[FLEET_ID].state
        self.known = set(fleet.known) if isinstance(fleet, FleetState) else set()
        answers, discovery, listed = self.expected(emulator, step)
        self.sns_down, self.crash = step.sns_down, step.crash
        self.committed = set()
        tick = h.clock()
        assert tick == step_time(self.index)
        for silence in self.plan.silences:
            if silence.expire_at == self.index:  # `zlb-health silence expire` before this run
                h.store.expire_silence(silence.product(), iso(tick))
        shards = [Shard(index, step.shards) for index in range(step.shards)]
        died = None
        for shard in shards:  # each shard's schedule invokes the function with its own event
            try:
                h.run(scheduled_time=tick, shard=shard, advance=False)
            except CrashError:
                self.crash, died = None, shard  # that invocation died; the others run as usual
        h.clock.tick()
        h.emulator.advance()
        self.crash = None
        if died is not None:
            self.committed = self.observed_at_tick(tick)
        self.reference_sees(step, answers, discovery, listed)
        if step.duplicate and died is not None:
            self.late_delivery_takes_over(h, emulator, tick, shards, died)
        elif step.duplicate:
            before = self.health()
            for shard in shards:
                h.run(scheduled_time=tick, shard=shard, advance=False)  # sees the next step
            assert self.health() == before, "I5: a second delivery of a tick changed the state"
        self.sns_down = False
        for message in self.inbox.messages():
            body = message["body"]
            said = [
                (t["instanceId"] or t["privateIpAddress"], t["port"], t["previousStatus"],
                 t["currentStatus"])
                for t in body.get("transitions", [])
            ]  # fmt: skip
            note(f"  told: {message['attributes']['event_type']} {body.get('summary')} {said}")
            self.subscribers.receive(message)
        self.check(h)

    def late_delivery_takes_over(
        self, h: Harness, emulator: Emulator, tick: datetime, shards: list[Shard], died: Shard
    ) -> None:
        """A second delivery of a tick whose run died: the tick was never finished, so after
        the died run's lease this delivery claims it and is that tick's observation of what the
        died run left uncommitted in its shard (the world as it is now: the next step's, dated
        by the tick). The other shards' deliveries are plain duplicates."""
        done = set(self.committed)
        fleet = self.states([FLEET_ID])[FLEET_ID].state
        self.known = set(fleet.known) if isinstance(fleet, FleetState) else set()
        answers, discovery, listed = self.expected(emulator, self.all_steps[self.index + 1])
        for shard in shards:
            h.run(scheduled_time=tick, shard=shard, advance=False)
        for lb_id, lb_answers in answers.items():
            if died.owns(lb_id) and lb_id not in done:
                lb = self.reference.lbs.get(lb_id)
                if lb is not None and lb.retired and lb_id not in listed:
                    continue
                self.reference.observe(lb_id, lb_answers)
        if discovery is not None and FLEET_ID not in done:
            self.reference.discover(discovery)
        if discovery:
            for lb_id in sorted(self.known - listed):
                if died.owns(lb_id) and lb_id not in done:
                    self.reference.missing(lb_id)

    def reference_sees(
        self,
        step: Step,
        answers: dict[str, dict[str, list[Row] | None]],
        discovery: bool | None,
        listed: set[str],
    ) -> None:
        """The reference observes what the product committed (all of it, unless a run died)."""
        for lb_id, lb_answers in answers.items():
            if not step.crash or lb_id in self.committed:
                lb = self.reference.lbs.get(lb_id)
                if lb is not None and lb.retired and lb_id not in listed:
                    continue  # a retired load balancer seen again only counts once listed
                self.reference.observe(lb_id, lb_answers)
        if discovery is not None and (not step.crash or FLEET_ID in self.committed):
            self.reference.discover(discovery)
        if discovery:
            for lb_id in sorted(self.known - listed):
                if not step.crash or lb_id in self.committed:
                    self.reference.missing(lb_id)

    def expected(
        self, emulator: Emulator, step: Step
    ) -> tuple[dict[str, dict[str, list[Row] | None]], bool | None, set[str]]:
        """What the monitor sees at this step: per load balancer and scope, rows or a failure."""
        listed = set(emulator.load_balancer_ids())
        if self.plan.mode == "targets":
            scopes = [
                (t.split("/")[0], t.split("/")[1] if "/" in t else None)
                for t in self.plan.targets.split(",")
            ]
            discovery = None
        elif step.discovery_fails:
            scopes = [
                (lb, None)
                for lb in sorted(self.known)
                if not self.reference.lbs.get(lb, RLb()).retired
            ]
            discovery = False
        else:
            scopes = [(lb, None) for lb in sorted(listed)]
            discovery = True
        answers: dict[str, dict[str, list[Row] | None]] = {}
        for lb_id, lsn in scopes:
            answers.setdefault(lb_id, {})[lsn or ""] = self._answer(emulator, step, lb_id, lsn)
        return answers, discovery, listed

    def _answer(
        self, emulator: Emulator, step: Step, lb_id: str, lsn: str | None
    ) -> list[Row] | None:
        fault = step.faults.get((lb_id, lsn))
        try:
            raw = emulator.ground_truth_for(lb_id, lsn)
        except FleetLookupError:
            return None
        if fault in API_FAULTS:
            return None
        if fault == "empty_backends":
            return []
        rows = [_row(r) for r in raw]
        if fault == "bad_rows" and rows:
            key, _status, listener, _detail = rows[0]
            rows += [(key, "Unknown", listener, {}), (key, "Unknown", listener, {})]
        if fault == "duplicate_rows":
            rows += [(k, "Dead", listener, dict.fromkeys(d, "Dead")) for k, _s, listener, d in rows]
        return rows

    def observed_at_tick(self, tick: datetime) -> set[str]:
        """The subjects whose observation of this tick is stored, after a run died. Not every
        write is one: a steady load balancer's state is rewritten unchanged (its last
        observation's date) when the run only claims its pending messages, and a second
        delivery that takes the tick over observes it afresh. A subject whose state is gone
        (forgotten after its last word) was committed if a write for it went through."""
        at = iso(tick)
        return {
            subject
            for subject, stored in self.states().items()
            if (stored.state is not None and stored.state.observed_at == at)
            or (stored.state is None and subject in self.committed)
        }

    def states(self, ids: list[str] | None = None) -> dict[str, StoredState]:
        """What is stored, read through the checks' own store (the product's keeps decoded
        states between runs; the checks must not share them)."""
        assert self.reader is not None  # (made with the harness, before the first step)
        return self.reader.load_states(ids or sorted(self.known | {*self.reference.lbs, FLEET_ID}))

    def health(self) -> dict[str, Any]:
        out = {}
        for lb_id, stored in self.states().items():
            if stored.state is not None:
                encoded = stored.state.to_dict()
                encoded.pop("s", None)
                out[lb_id] = encoded
        return out

    def covering(self, h: Harness, states: dict[str, StoredState]) -> dict[str, list[SoakSilence]]:
        """Per load balancer, the silences whose words are not due yet: active at this tick
        (by their definition, and the table's record of an early end), or ended but not yet
        told (the load balancer's state still lists them: a crash or a run that did not get
        to it)."""
        ended = {s.id: s.expired_at for s, _ in h.store.load_silences() if s.expired_at}
        now = step_time(self.index)
        active = [
            s
            for s in self.plan.silences
            if s.start <= self.index < s.end and (s.id not in ended or parse_iso(ended[s.id]) > now)
        ]
        out: dict[str, list[SoakSilence]] = {}
        for lb_id, stored in states.items():
            remembered = set(stored.state.silences) if isinstance(stored.state, LbState) else set()
            out[lb_id] = [
                s
                for s in self.plan.silences
                if s.lb in ("*", lb_id) and (s in active or s.id in remembered)
            ]
        return out

    def check(self, h: Harness) -> None:
        assert h.store.states_changed_in_place() == [], "C: a state read was changed in place"
        states = self.states()
        # What a silence holds back waits for its end; everything else must get out.
        pending = any(p.held is None for s in states.values() for p in s.outbox.values())
        fleet = states[FLEET_ID].state
        degraded = fleet.monitor.degraded if isinstance(fleet, FleetState) else False
        assert degraded == self.reference.discovery.degraded, "REF: discovery's monitoring"
        for lb_id, ref in self.reference.lbs.items():
            state = states[lb_id].state
            if ref.retired:
                assert state is None or (isinstance(state, LbState) and state.retired), (
                    f"REF: {lb_id} should be retired"
                )
                continue
            assert isinstance(state, LbState), f"REF: {lb_id} is watched"
            assert not state.retired, f"REF: {lb_id} is watched, not retired"
            got = {
                k: {u: x.notified for u, x in b.units.items()} for k, b in state.backends.items()
            }
            want = {k: {u: x.notified for u, x in b.units.items()} for k, b in ref.backends.items()}
            assert got == want, f"REF: {lb_id} notified statuses"
            got_m = {s for s, m in state.monitors.items() if m.degraded}
            want_m = {s for s, m in ref.monitors.items() if m.degraded}
            assert got_m == want_m, f"REF: {lb_id} degraded scopes"
        if not pending:
            self.check_last_word(states, self.covering(h, states))

    def check_last_word(
        self, states: dict[str, StoredState], covering: dict[str, list[SoakSilence]]
    ) -> None:
        for lb_id, stored in states.items():
            silences = covering.get(lb_id, [])

            def waits(key: str, lb_id: str = lb_id, silences: list[SoakSilence] = silences) -> bool:
                return any(s.covers(lb_id, key) for s in silences)

            state = stored.state
            if lb_id == FLEET_ID:
                told = "discovery" in self.subscribers.degraded(FLEET_ID)
                is_degraded = isinstance(state, FleetState) and state.monitor.degraded
                assert told == is_degraded, "I1: discovery's monitoring"
                continue
            watched = isinstance(state, LbState) and not state.retired
            notified = {}
            if watched:
                assert isinstance(state, LbState)
                notified = {
                    (k, u): x.notified
                    for k, b in state.backends.items()
                    for u, x in b.units.items()
                }
                degraded = {s for s, m in state.monitors.items() if m.degraded}
                quiet = {
                    scope
                    for scope in degraded | self.subscribers.degraded(lb_id)
                    if any(s.covers_scope(lb_id, scope) for s in silences)
                }
                assert self.subscribers.degraded(lb_id) - quiet == degraded - quiet, (
                    f"I1: monitoring of {lb_id}"
                )
            else:
                # Gone (deleted, or no longer a target): its last word closes every degraded
                # scope, unless an active silence holds that word back until it ends.
                held = {
                    scope
                    for scope in self.subscribers.degraded(lb_id)
                    if any(s.covers_scope(lb_id, scope) for s in silences)
                }
                assert self.subscribers.degraded(lb_id) - held == set(), (
                    f"I1: monitoring of gone {lb_id}"
                )
            for (key, unit), status in notified.items():
                if waits(key):
                    continue
                heard = self.subscribers.heard(lb_id, key, unit)
                if heard is None and status != "Dead":
                    continue  # never told (or told removed): a silent baseline, never a down
                assert _kind(heard) == _kind(status), (
                    f"I1: {lb_id} {key} port {unit}: told {heard}, is {status}"
                )
            for key, units in self.subscribers.view.get(lb_id, {}).items():
                for unit, word in units.items():
                    if _kind(word) == "ok" or waits(key):
                        continue
                    present = [(k, u) for (k, u) in notified if k == key and unit in (u, "*")]
                    assert present, f"I1: {lb_id} {key} port {unit} told {word}, but it is gone"

    def check_all_healthy(self) -> None:
        states = self.states()
        assert not any(s.outbox for s in states.values()), "everything delivered by the end"
        remembered = [
            (lb_id, sorted(s.state.silences))
            for lb_id, s in states.items()
            if isinstance(s.state, LbState) and s.state.silences
        ]
        assert not remembered, f"every silence over, told and forgotten: {remembered}"
        self.check_last_word(states, {})
        for (lb, key, unit), said in self.subscribers.words.items():
            assert said[-1] != "Dead", f"I2: {lb} {key} port {unit} still down at the end: {said}"


def _count_runs(runs: int) -> None:
    """With SOAK_STATS=FILE, every run is counted there (how long the soak really was)."""
    path = os.environ.get("SOAK_STATS")
    if path:
        with open(path, "a", encoding="utf-8") as stats:
            stats.write(f"{runs}\n")


# == the test =====================================================================================


@seed(SOAK_SEED)
@settings(
    max_examples=EXAMPLES,
    phases=tuple(Phase) if os.environ.get("SOAK_SHRINK", "1") == "1" else (Phase.generate,),
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plan=plans())
def test_the_promises_hold_at_every_step(local_aws: LocalAws, plan: Plan) -> None:
    note(f"SOAK_SEED={SOAK_SEED}")
    Soak(plan, local_aws).run()


def test_the_reference_model_follows_the_documented_rules() -> None:
    """The model itself, on a hand-checked story (thresholds 2/2/2)."""
    ref = Reference(2, 2, 2)
    key = "lsn|vm-1|10.0.0.1|80"

    def seen(status: str, detail: dict[str, str] | None = None) -> None:
        ref.observe("lb", {"": [(key, status, "lsn", detail or {})]})

    seen("Alive", {"80": "Alive"})  # baseline
    seen("Dead", {"80": "Dead"})
    seen("Unknown")  # no data: the streak is kept
    seen("Dead", {"80": "Dead"})  # 2nd Dead -> notified Dead
    assert ref.lbs["lb"].backends[key].units["80"].notified == "Dead"
    seen("Dead", {"8080": "Dead"})  # renumbered: the same unit under its new port
    assert set(ref.lbs["lb"].backends[key].units) == {"8080"}
    assert ref.lbs["lb"].backends[key].units["8080"].notified == "Dead"
    ref.observe("lb", {"": []})  # one empty answer: absent, not removed
    assert key in ref.lbs["lb"].backends
    ref.observe("lb", {"": []})
    assert key not in ref.lbs["lb"].backends
    ref.observe("lb", {"": None})
    ref.observe("lb", {"": None})
    assert ref.lbs["lb"].monitors[""].degraded
