"""The fleet's own subject: whether discovery works, and which load balancers are known.

Discovery (DescribeLoadBalancers) is a monitor scope like any other: after
`MONITOR_FAILURE_THRESHOLD` failed listings in a row one `monitor_degraded` about load balancer
`*` is sent, and one `monitor_restored` when a listing succeeds again, even when no load balancer
is known yet (wrong credentials on a first deployment are announced, never silent). Several
shards list the same fleet at the same tick: only the first listing of a tick counts.

`known` is the registry of load balancers with a stored state, so a run can tell which of them
left the listing (or LOAD_BALANCER_IDS) and retire them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from zlb_health.config import Thresholds
from zlb_health.engine import monitoring
from zlb_health.engine.compose import EMPTY_VIEW, compose
from zlb_health.engine.notifications import DISCOVERY_SCOPE, Notification
from zlb_health.engine.observation import DiscoveryResult
from zlb_health.engine.state import FleetState, MonitorState, iso


@dataclass(frozen=True, slots=True)
class FleetEvaluation:
    new_state: FleetState
    notification: Notification | None
    changed: bool


def apply_discovery(
    previous: FleetState | None, result: DiscoveryResult, thresholds: Thresholds
) -> FleetEvaluation:
    fleet = previous.copy() if previous is not None else FleetState()
    at = iso(result.observed_at)
    if fleet.observed_at is not None and at <= fleet.observed_at:
        return FleetEvaluation(fleet, None, previous is None)
    fleet.observed_at = at
    monitors = {DISCOVERY_SCOPE: fleet.monitor}
    if result.failure is None:
        event = monitoring.record_success(monitors, DISCOVERY_SCOPE, at=at)
    else:
        scoped = dataclasses.replace(result.failure, scope=DISCOVERY_SCOPE)
        event = monitoring.record_failure(monitors, scoped, thresholds, at=at)
    fleet.monitor = monitors.get(DISCOVERY_SCOPE) or MonitorState()
    notification = None
    if event is not None:
        fleet.seq += 1
        notification = compose(
            notification_id=f"{fleet.load_balancer_id}#{fleet.seq:08d}",
            subject_id=fleet.load_balancer_id,
            subject_name=fleet.load_balancer_name,
            at=at,
            view=EMPTY_VIEW,
            events=(event,),
            request_id=result.request_id if result.failure is None else result.failure.request_id,
        )
    changed = previous is None or fleet.monitor != previous.monitor or fleet.seq != previous.seq
    return FleetEvaluation(fleet, notification, changed)


def with_known(
    fleet: FleetState, *, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> FleetState:
    updated = fleet.copy()
    updated.known |= set(add)
    updated.known -= set(remove)
    return updated
