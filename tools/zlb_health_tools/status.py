"""`zlb-health status`: the fleet now, read from the stack's table.

One query on the LATEST index (every watched load balancer's STATE item) and the fleet item
(discovery's monitoring, the registry of known load balancers). Printed most urgent first:
load balancers with a listener that has no healthy backend, then those with something down or
their monitoring degraded, then the healthy ones, one line each. Exit status for scripts and
cron: 0 all healthy, 1 something unhealthy (or the table could not be read: the error line
says which), 2 usage.

Unhealthy means what subscribers were told: a backend down or partly down, a listener without
a healthy backend, monitoring degraded (a load balancer, a listener target, or discovery).
Changes still below their threshold and notifications not delivered yet are shown, but do not
change the exit status: they are on their way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from zlb_health.adapters.store import HealthStore, StoredState, StoreError
from zlb_health.config import Thresholds
from zlb_health.engine import monitoring
from zlb_health.engine.maintenance import Silence
from zlb_health.engine.notifications import Notification
from zlb_health.engine.render import error_text
from zlb_health.engine.state import FLEET_ID, FleetState, LbState, MonitorState
from zlb_health_tools.awsenv import CliError, StackInfo, aws_failure, client
from zlb_health_tools.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from zlb_health_tools.fleet import (
    DISCOVERY_LABEL,
    Held,
    LbStatus,
    held_back,
    lb_status,
    ordered,
    scope_label,
)
from zlb_health_tools.tableref import resolve_table

PENDING_SHOWN = 5  # per load balancer in the text; --json has them all


@dataclass(frozen=True, slots=True)
class FleetStatus:
    load_balancers: tuple[LbStatus, ...]  # most urgent first
    discovery: StoredState  # version 0: no fleet item yet
    discovery_held: tuple[Held, ...]
    silences: tuple[Silence, ...] = ()  # maintenance silences active now

    @property
    def discovery_degraded(self) -> bool:
        fleet = self.discovery.state
        return isinstance(fleet, FleetState) and fleet.monitor.degraded

    @property
    def healthy(self) -> bool:
        return not self.discovery_degraded and all(s.level == "ok" for s in self.load_balancers)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.healthy else EXIT_FAILURE

    def pending(self) -> int:
        return len(self.discovery.outbox) + sum(len(s.pending) for s in self.load_balancers)


def build_status(
    latest: Sequence[StoredState],
    fleet: StoredState,
    thresholds: Thresholds,
    retiring: Sequence[StoredState] = (),
    silences: Sequence[Silence] = (),
) -> FleetStatus:
    """`latest`: the LATEST index; `retiring`: known load balancers no longer in it (retired,
    their last word not delivered yet); `silences`: the ones active now."""
    statuses = [s for stored in (*latest, *retiring) if (s := lb_status(stored, thresholds))]
    return FleetStatus(
        tuple(ordered(statuses)), fleet, tuple(held_back(fleet, thresholds)), tuple(silences)
    )


def silence_label(s: Silence) -> str:
    scope = s.load_balancer_id + (f"/{s.listener_id}" if s.listener_id else "")
    scope += f" backend {s.backend}" if s.backend else ""
    return f"{s.id} ({scope}: {s.comment!r} by {s.author})"


# -- reading -------------------------------------------------------------------------------------


def read_status(
    store: HealthStore, thresholds: Thresholds, now: datetime | None = None
) -> FleetStatus:
    now = now or datetime.now(UTC)
    active = [s for s, _matched in store.load_silences() if s.active_at(now)]
    latest = store.latest_states()
    fleet = store.load_states([FLEET_ID])[FLEET_ID]
    watched = {s.load_balancer_id for s in latest}
    known = fleet.state.known if isinstance(fleet.state, FleetState) else set()
    missing = sorted(known - watched)
    retiring = [s for s in store.load_states(missing).values() if s.version] if missing else []
    return build_status(latest, fleet, thresholds, retiring, active)


def thresholds_from(env: Mapping[str, str], stack: StackInfo | None) -> Thresholds:
    """The deployed stack's own thresholds when it is named (its parameters), else the same
    variables the function reads, else the template's defaults. Only used to say how far a
    change is from alerting."""
    params = stack.parameters if stack is not None else {}

    def pick(parameter: str, variable: str, raw_env: str, default: int) -> int:
        raw = params.get(parameter, "").strip() or raw_env.strip()
        source = f"the stack's {parameter} parameter" if params.get(parameter) else variable
        if not raw:
            return default
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100:
            raise CliError(f"{source}: must be an integer from 1 to 100, got {raw!r}", EXIT_USAGE)
        return int(raw)

    return Thresholds(
        failure=pick("FailureThreshold", "FAILURE_THRESHOLD", env.get("FAILURE_THRESHOLD", ""), 2),
        recovery=pick(
            "RecoveryThreshold", "RECOVERY_THRESHOLD", env.get("RECOVERY_THRESHOLD", ""), 2
        ),
        monitor_failure=pick(
            "MonitorFailureThreshold",
            "MONITOR_FAILURE_THRESHOLD",
            env.get("MONITOR_FAILURE_THRESHOLD", ""),
            3,
        ),
    )


def run_status(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Exit 0 all healthy, 1 something unhealthy or the table unreadable, 2 usage."""
    env = os.environ if env is None else env
    try:
        target = resolve_table(args, env)
        thresholds = thresholds_from(env, target.stack)
        store = HealthStore(target.table, client=client("dynamodb", target.region))
        try:
            status = read_status(store, thresholds)
        except StoreError as error:
            raise aws_failure(error, f"reading {target.table} in {target.region}") from None
    except CliError as error:
        err.write(f"error: {error}\n")
        return error.code
    where = {
        "table": target.table,
        "region": target.region,
        "stack": target.stack.name if target.stack else None,
    }
    if args.json:
        json.dump(status_document(status, thresholds, where), out, indent=2)
        out.write("\n")
    else:
        render_status(status, where, out)
    return status.exit_code


# -- text ----------------------------------------------------------------------------------------

_LEVEL_WORD = {"critical": "CRITICAL", "warning": "WARNING", "ok": "OK"}


def render_status(status: FleetStatus, where: Mapping[str, str | None], out: TextIO) -> None:
    lbs = status.load_balancers
    stack = f" (stack {where['stack']})" if where.get("stack") else ""
    out.write(f"table {where['table']} in {where['region']}{stack}: ")
    out.write(f"{len(lbs)} load balancer{'s' if len(lbs) != 1 else ''}\n")
    out.write(_verdict(status) + "\n")
    if not lbs:
        out.write("\nno load balancer in the table yet (the function has not run, or found none)\n")
    for lb in lbs:
        out.write("\n" if lb.level != "ok" or lb is lbs[0] else "")
        _render_lb(lb, out)
    out.write("\n")
    _render_discovery(status, out)
    silences = ", ".join(map(silence_label, status.silences)) or "none"
    out.write(f"active silences: {silences}\n")


def _verdict(status: FleetStatus) -> str:
    levels = [s.level for s in status.load_balancers]
    parts = [f"{levels.count(level)} {level}" for level in ("critical", "warning", "ok")]
    if status.discovery_degraded:
        parts.append("discovery degraded")
    pending = status.pending()
    tail = f"; {pending} notification{'s' if pending != 1 else ''} pending" if pending else ""
    return f"{'HEALTHY' if status.healthy else 'UNHEALTHY'}: {', '.join(parts)}{tail}"


def _render_lb(lb: LbStatus, out: TextIO) -> None:
    c = lb.counted.counts
    listeners = c["listeners"]
    partial = f", {c['partial']} partly down" if c["partial"] else ""
    retired = f"  RETIRED ({lb.state.retired}), last word pending" if lb.state.retired else ""
    out.write(
        f"{_LEVEL_WORD[lb.level]:<9} {lb.label}: {c['alive']} of {c['backends']} backends "
        f"healthy{partial} on {listeners} listener{'s' if listeners != 1 else ''}{retired}\n"
    )
    if lb.level != "ok":
        _render_listeners(lb, out)
        _render_monitoring(lb, out)
    for held in lb.held:
        out.write(f"  about to alert: {held.sentence(since=True)}\n")
    _render_pending(lb.pending, out)


def _render_listeners(lb: LbStatus, out: TextIO) -> None:
    down_by_listener: dict[str, list[str]] = {}
    for d in lb.down:
        state = "PARTLY DOWN" if d.partial else "DOWN"
        line = f"{state} {d.label()}" + (_since(d.since) if d.since else " (recovering)")
        down_by_listener.setdefault(d.backend.listener_id, []).append(line)
    for lh, critical in lb.listeners_in_order():
        name = f"{lh.listener_name} ({lh.listener_id})" if lh.listener_name else lh.listener_id
        flag = ""
        if critical:
            flag = "  NO HEALTHY BACKEND" + _since(_critical_since(lb.state, lh.listener_id))
        partial = f", {lh.partial} partly down" if lh.partial else ""
        out.write(
            f"  listener {name}: {lh.healthy} of {lh.total} healthy{partial}, "
            f"{lh.down} down{flag}\n"
        )
        for line in down_by_listener.get(lh.listener_id, []):
            out.write(f"    {line}\n")


def _render_monitoring(lb: LbStatus, out: TextIO) -> None:
    names = lb.counted.names()
    degraded = lb.degraded
    if not degraded:
        out.write("  monitoring: ok\n")
    for scope, monitor in degraded:
        label = scope_label(scope, names)
        label = f"monitoring of {label}" if label else "monitoring"
        out.write(f"  {_degraded_line(label, scope, monitor)}\n")


def _degraded_line(label: str, scope: str, monitor: MonitorState) -> str:
    event = monitoring.event(scope, monitor, "degraded", at=monitor.failing_since or "")
    return (
        f"{label}: DEGRADED{_since(monitor.failing_since)}, "
        f"{monitor.consecutive_failures} failed API calls in a row ({error_text(event)})"
    )


def _render_pending(pending: Sequence[Notification], out: TextIO) -> None:
    if not pending:
        return
    out.write(f"  pending notifications (not delivered yet): {len(pending)}\n")
    for n in pending[:PENDING_SHOWN]:
        out.write(f"    {n.observed_at}  {n.event_type} {n.severity}: {n.summary}\n")
    if len(pending) > PENDING_SHOWN:
        out.write(f"    ... and {len(pending) - PENDING_SHOWN} more (--json lists them all)\n")


def _render_discovery(status: FleetStatus, out: TextIO) -> None:
    fleet = status.discovery.state
    label = DISCOVERY_LABEL
    if not isinstance(fleet, FleetState):
        out.write(f"{label}: no record yet\n")
    elif fleet.observed_at is None:
        out.write(f"{label}: not used (LOAD_BALANCER_IDS names the targets)\n")
    elif fleet.monitor.degraded:
        out.write(_degraded_line(label, "discovery", fleet.monitor) + "\n")
    else:
        out.write(f"{label}: ok\n")
    for held in status.discovery_held:
        out.write(f"  about to alert: {held.sentence(since=True)}\n")
    _render_pending([p.notification for _, p in sorted(status.discovery.outbox.items())], out)


def _since(moment: str | None) -> str:
    return f" since {moment}" if moment else ""


# -- JSON ----------------------------------------------------------------------------------------


def status_document(
    status: FleetStatus, thresholds: Thresholds, where: Mapping[str, str | None]
) -> dict[str, Any]:
    levels = [s.level for s in status.load_balancers]
    return {
        "healthy": status.healthy,
        **where,
        "thresholds": {
            "failure": thresholds.failure,
            "recovery": thresholds.recovery,
            "monitorFailure": thresholds.monitor_failure,
        },
        "counts": {
            "loadBalancers": len(levels),
            "critical": levels.count("critical"),
            "warning": levels.count("warning"),
            "ok": levels.count("ok"),
            "pendingNotifications": status.pending(),
        },
        "loadBalancers": [_lb_document(lb) for lb in status.load_balancers],
        "discovery": _discovery_document(status),
        "silences": [silence.to_dict() for silence in status.silences],
    }


def _lb_document(lb: LbStatus) -> dict[str, Any]:
    s = lb.state
    return {
        "loadBalancerId": s.load_balancer_id,
        "loadBalancerName": s.load_balancer_name,
        "level": lb.level,
        # The observation that last changed the stored state (a steady state is not rewritten).
        "changedAt": s.observed_at,
        "retired": s.retired,
        "counts": dict(lb.counted.counts),
        "listeners": [
            {
                **lh.to_dict(),
                "critical": critical,
                "criticalSince": _critical_since(s, lh.listener_id),
            }
            for lh, critical in lb.listeners_in_order()
        ],
        "down": [d.to_dict() for d in lb.down],
        "heldBack": [h.to_dict() for h in lb.held],
        "monitoring": [_monitor_document(scope, m) for scope, m in sorted(s.monitors.items())],
        "pendingNotifications": _pending_document(lb.stored),
    }


def _critical_since(state: LbState, listener_id: str) -> str | None:
    listener = state.listeners.get(listener_id)
    return listener.critical_since if listener is not None else None


def _monitor_document(scope: str, monitor: MonitorState) -> dict[str, Any]:
    return {
        "scope": scope,
        "degraded": monitor.degraded,
        "consecutiveFailures": monitor.consecutive_failures,
        "failingSince": monitor.failing_since,
        "lastError": monitor.last_error,
    }


def _pending_document(stored: StoredState) -> list[dict[str, Any]]:
    return [
        {
            "id": p.notification.id,
            "eventType": p.notification.event_type,
            "severity": p.notification.severity,
            "observedAt": p.notification.observed_at,
            "summary": p.notification.summary,
            "claimed": p.claim is not None,
        }
        for _, p in sorted(stored.outbox.items())
    ]


def _discovery_document(status: FleetStatus) -> dict[str, Any]:
    fleet = status.discovery.state
    known = isinstance(fleet, FleetState)
    return {
        "recorded": known,
        "changedAt": fleet.observed_at if isinstance(fleet, FleetState) else None,
        "knownLoadBalancers": len(fleet.known) if isinstance(fleet, FleetState) else 0,
        "monitoring": _monitor_document("discovery", fleet.monitor)
        if isinstance(fleet, FleetState)
        else None,
        "heldBack": [h.to_dict() for h in status.discovery_held],
        "pendingNotifications": _pending_document(status.discovery),
    }
