"""The fleet as the table holds it, read for operators: what is down and since when, what is
about to alert, monitoring, pending notifications (`zlb-health status`, and `make run`'s story).

Pure: STATE items in (`StoredState`), summaries out. Health is counted by `engine.tally`, the one
way the notifications count it. A change is *held* (about to alert) while a unit's streak
differs from what users were told and is still below its threshold (FAILURE_THRESHOLD for Dead,
RECOVERY_THRESHOLD for Alive after a down), or while a scope's API calls fail fewer times in a
row than MONITOR_FAILURE_THRESHOLD. A held change that settles back without reaching its
threshold is a *blip*: suppressed, never sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from zlb_health.adapters.store import StoredState
from zlb_health.config import Thresholds
from zlb_health.engine.notifications import (
    DISCOVERY_SCOPE,
    SEVERITY_RANK,
    WHOLE_LOAD_BALANCER,
    ListenerHealth,
    Notification,
)
from zlb_health.engine.state import (
    FLEET_ID,
    WHOLE_BACKEND,
    BackendState,
    FleetState,
    LbState,
    MonitorState,
    UnitState,
)
from zlb_health.engine.tally import Tally, tally
from zlb_health.zenlayer.models import ALIVE, DEAD

Level = Literal["critical", "warning", "ok"]
LEVEL_RANK: Final[dict[str, int]] = {**SEVERITY_RANK, "ok": len(SEVERITY_RANK)}
HeldKind = Literal["down", "recovery", "monitor"]


@dataclass(frozen=True, slots=True)
class Held:
    """A change observed but not told yet, because it is still below its threshold."""

    load_balancer_id: str
    load_balancer_name: str
    kind: HeldKind
    what: str  # "vm-api-1:8001"; for a monitor its scope: "", "listener web (lsn-a)", discovery
    status: str  # the status being counted (Dead, Alive), or "failing"
    count: int  # observations (or failed calls) in a row so far
    threshold: int
    since: str | None
    told: str | None  # what users were last told (a unit's notified status)
    key: tuple[str, ...]  # the same change, from one read of the table to the next

    def sentence(self, *, since: bool = False) -> str:
        """`vm-api-1:8001 Dead, 1 of 2 before alerting` (`since`: `Dead since <time>, ...`)."""
        when = f" since {self.since}" if since and self.since else ""
        progress = f"{self.count} of {self.threshold}"
        if self.kind == "down":
            return f"{self.what} Dead{when}, {progress} before alerting"
        if self.kind == "recovery":
            return f"{self.what} Alive again{when}, {progress} before telling it recovered"
        scope = f"{self.what}: " if self.what else ""
        return f"{scope}API calls failing{when}, {progress} before monitoring degraded"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "what": self.what,
            "status": self.status,
            "count": self.count,
            "threshold": self.threshold,
            "since": self.since,
            "text": self.sentence(),
        }


def unit_label(backend: BackendState, unit_key: str) -> str:
    port = backend.backend_port if unit_key == WHOLE_BACKEND else unit_key
    return f"{backend.target}:{port}"


DISCOVERY_LABEL: Final = "discovery (DescribeLoadBalancers)"


def scope_label(scope: str, names: Mapping[str, str]) -> str:
    """A monitor scope as a reader knows it: "" for the whole load balancer."""
    if scope == WHOLE_LOAD_BALANCER:
        return ""
    if scope == DISCOVERY_SCOPE:
        return DISCOVERY_LABEL
    name = names.get(scope, "")
    return f"listener {name} ({scope})" if name else f"listener {scope}"


def _held_unit(
    state: LbState, key: str, backend: BackendState, unit_key: str, thresholds: Thresholds
) -> Held | None:
    unit = backend.units[unit_key]
    if unit.streak_status == DEAD and unit.notified != DEAD:
        kind: HeldKind = "down"
        threshold = thresholds.failure
    elif unit.streak_status == ALIVE and unit.notified == DEAD:
        kind, threshold = "recovery", thresholds.recovery
    else:
        return None
    if unit.streak >= threshold:
        return None
    return Held(
        state.load_balancer_id,
        state.load_balancer_name,
        kind,
        unit_label(backend, unit_key),
        unit.streak_status,
        unit.streak,
        threshold,
        unit.since,
        unit.notified,
        (state.load_balancer_id, key, unit_key),
    )


def _held_monitor(
    subject: tuple[str, str], scope: str, monitor: MonitorState, label: str, threshold: int
) -> Held | None:
    """`subject`: (id, name) of the load balancer, or of discovery."""
    if monitor.degraded or not 0 < monitor.consecutive_failures < threshold:
        return None
    return Held(
        subject[0],
        subject[1],
        "monitor",
        label,
        "failing",
        monitor.consecutive_failures,
        threshold,
        monitor.failing_since,
        None,
        (subject[0], "monitor", scope),
    )


def held_back(stored: StoredState, thresholds: Thresholds) -> list[Held]:
    """Every change of one subject (a load balancer, or discovery) still below its threshold."""
    state = stored.state
    if isinstance(state, FleetState):
        held = _held_monitor(
            (FLEET_ID, state.load_balancer_name),
            DISCOVERY_SCOPE,
            state.monitor,
            scope_label(DISCOVERY_SCOPE, {}),
            thresholds.monitor_failure,
        )
        return [held] if held else []
    if not isinstance(state, LbState):
        return []
    found = [
        held
        for key, backend in sorted(state.backends.items())
        for unit_key in sorted(backend.units)
        if (held := _held_unit(state, key, backend, unit_key, thresholds)) is not None
    ]
    names = tally(state).names()
    for scope, monitor in sorted(state.monitors.items()):
        label = scope_label(scope, names)
        monitor_held = _held_monitor(
            (state.load_balancer_id, state.load_balancer_name),
            scope,
            monitor,
            label,
            thresholds.monitor_failure,
        )
        if monitor_held is not None:
            found.append(monitor_held)
    return found


def blips(before: Iterable[Held], now: Sequence[StoredState]) -> list[Held]:
    """The held changes of an earlier read that settled back without being told (suppressed).

    A unit is back when its streak is again what users were told and that is not the held
    status; a scope is back when its failures were cleared by a successful call. One still held,
    told, degraded or gone is not a blip.
    """
    states = {s.load_balancer_id: s.state for s in now}
    found: list[Held] = []
    for held in before:
        state = states.get(held.load_balancer_id)
        if held.kind == "monitor":
            if _monitor_back(state, held.key[2]):
                found.append(held)
            continue
        unit = _unit(state, held.key[1], held.key[2])
        if unit is not None and unit.streak_status == unit.notified != held.status:
            found.append(held)
    return found


def _unit(state: object, backend_key: str, unit_key: str) -> UnitState | None:
    if not isinstance(state, LbState):
        return None
    backend = state.backends.get(backend_key)
    return backend.units.get(unit_key) if backend is not None else None


def _monitor_back(state: object, scope: str) -> bool:
    if isinstance(state, FleetState):
        return state.monitor.consecutive_failures == 0 and not state.monitor.degraded
    return isinstance(state, LbState) and scope not in state.monitors


# -- a load balancer's status -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DownBackend:
    """A backend users were told is down, or partly down (some of its ports)."""

    backend: BackendState
    ports: tuple[str, ...]  # its Dead units ("*": the whole backend, no per-port detail)
    partial: bool
    since: str | None  # the earliest start of a Dead streak among them (None: recovering)

    def label(self) -> str:
        if self.ports == (WHOLE_BACKEND,) or not self.partial:
            return f"{self.backend.target}:{self.backend.backend_port}"
        return f"{self.backend.target} port{'s' if len(self.ports) > 1 else ''} " + ",".join(
            self.ports
        )

    def to_dict(self) -> dict[str, Any]:
        b = self.backend
        return {
            "listenerId": b.listener_id,
            "listenerName": b.listener_name,
            "instanceId": b.instance_id,
            "privateIpAddress": b.private_ip_address,
            "backendPort": b.backend_port,
            "ports": [p for p in self.ports if p != WHOLE_BACKEND],
            "health": "partial" if self.partial else "down",
            "since": self.since,
        }


def down_backends(state: LbState) -> list[DownBackend]:
    """Backends told down or partly down, in the order they went down."""
    found: list[DownBackend] = []
    for _key, backend in sorted(state.backends.items()):
        dead = sorted(
            (k for k, u in backend.units.items() if u.notified == DEAD),
            key=lambda k: (k != WHOLE_BACKEND, int(k) if k.isdigit() else 0),
        )
        if not dead:
            continue
        alive = any(u.notified == ALIVE for u in backend.units.values())
        starts = [
            u.since
            for k in dead
            if (u := backend.units[k]).streak_status == DEAD and u.since is not None
        ]
        found.append(DownBackend(backend, tuple(dead), alive, min(starts, default=None)))
    # Longest down first; a recovering one (its down start no longer known) last.
    return sorted(found, key=lambda d: d.since or "~")


@dataclass(frozen=True, slots=True)
class LbStatus:
    stored: StoredState
    state: LbState
    counted: Tally
    down: tuple[DownBackend, ...]
    held: tuple[Held, ...]

    @property
    def level(self) -> Level:
        if self.counted.critical:
            return "critical"
        if self.down or self.degraded:
            return "warning"
        return "ok"

    @property
    def degraded(self) -> list[tuple[str, MonitorState]]:
        return [(scope, m) for scope, m in sorted(self.state.monitors.items()) if m.degraded]

    @property
    def pending(self) -> list[Notification]:
        return [p.notification for _, p in sorted(self.stored.outbox.items())]

    @property
    def label(self) -> str:
        s = self.state
        name = s.load_balancer_name
        return (
            f"{name} ({s.load_balancer_id})"
            if name and name != s.load_balancer_id
            else (s.load_balancer_id)
        )

    def listeners_in_order(self) -> list[tuple[ListenerHealth, bool]]:
        """(listener, critical): critical first, then those with a backend down or partly
        down, then the rest; by id within each."""
        rows = [(lh, lh.listener_id in self.counted.critical) for lh in self.counted.listeners]
        return sorted(
            rows, key=lambda r: (not r[1], not (r[0].partial or r[0].down), r[0].listener_id)
        )


def lb_status(stored: StoredState, thresholds: Thresholds) -> LbStatus | None:
    state = stored.state
    if not isinstance(state, LbState):
        return None
    return LbStatus(
        stored,
        state,
        tally(state),
        tuple(down_backends(state)),
        tuple(held_back(stored, thresholds)),
    )


def ordered(statuses: Iterable[LbStatus]) -> list[LbStatus]:
    """Critical load balancers first, then warnings, then the healthy; by name within each."""
    return sorted(
        statuses,
        key=lambda s: (LEVEL_RANK[s.level], s.state.load_balancer_name or s.state.load_balancer_id,
                       s.state.load_balancer_id),
    )  # fmt: skip
