"""Delivery policy: which SNS messages a run publishes for its notifications (the storm cap).

Each subject (load balancer, or the fleet's discovery) brings at most one notification per run:
its undelivered ones are coalesced first, so a subject is in exactly one message per run and the
order of messages can never make an older word the last one. Then, deterministically:

1. Every `monitor_degraded` notification of the run goes into ONE message; every
   `monitor_restored` one into ONE other message (a whole-API outage is one message, not one per
   load balancer). A grouped message carries `load_balancer_id` = the subject when there is only
   one, `*` otherwise, and its JSON lists `loadBalancerIds`, notification `ids` and one entry per
   notification under `loadBalancers` (its `id` is the first of `ids`); every list is bounded.
2. The other notifications (health_change, reminder) get one message each while the total
   number of messages stays within `cap`.
3. Beyond that, the most severe ones (critical > warning > info, then oldest observedAt, then
   id) go out individually -- as many as leave room for one more message -- and the rest are
   rolled into ONE digest: event_type = the highest-priority type present (health_change >
   reminder > monitor_degraded > monitor_restored), severity = the highest present,
   load_balancer_id `*`, JSON with `"digest": true`; SMS
   `ZLB <stack>: 37 load balancers changed: 5 crit, 12 warn, 20 info. See email.`
   (a load balancer is counted once, at its highest severity).
4. If `cap` cannot fit both monitor groups plus a digest (cap 2), the monitor_restored
   notifications join the digest, so a run never publishes more than `cap` messages (cap >= 2).

Message order: monitor_degraded group, individual messages (most severe first), monitor_restored
group, digest. Every notification id is in exactly one planned message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from zlb_health.engine.notifications import MONITOR_DEGRADED, MONITOR_RESTORED, Notification
from zlb_health.engine.render import (
    DEFAULT_ORIGIN,
    Origin,
    RenderedMessage,
    group_priority,
    render,
    render_group,
)


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    rendered: RenderedMessage
    notifications: tuple[Notification, ...]

    @property
    def notification_ids(self) -> tuple[str, ...]:
        return tuple(n.id for n in self.notifications)


def plan_messages(
    notifications: Sequence[Notification], *, cap: int, origin: Origin = DEFAULT_ORIGIN
) -> list[PlannedMessage]:
    """The run's messages under `cap` (>= 2); rules in the module docstring."""
    if cap < 2:
        raise ValueError("cap must be at least 2")
    degraded = _by_subject(n for n in notifications if n.event_type == MONITOR_DEGRADED)
    restored = _by_subject(n for n in notifications if n.event_type == MONITOR_RESTORED)
    others = sorted(
        (n for n in notifications if n.event_type not in (MONITOR_DEGRADED, MONITOR_RESTORED)),
        key=group_priority,
    )
    grouped = int(bool(degraded)) + int(bool(restored))
    individual, rolled = others, []
    if grouped + len(others) > cap:
        if restored and cap - grouped - 1 < 0:
            others = sorted([*others, *restored], key=group_priority)
            restored = []
            grouped -= 1
        room = cap - grouped - 1
        individual, rolled = others[:room], others[room:]
        if len(rolled) == 1:  # a digest of one is just that message
            individual, rolled = others, []

    planned: list[PlannedMessage] = []
    if degraded:
        planned.append(
            PlannedMessage(render_group(degraded, digest=False, origin=origin), tuple(degraded))
        )
    planned += [PlannedMessage(render(n, origin), (n,)) for n in individual]
    if restored:
        planned.append(
            PlannedMessage(render_group(restored, digest=False, origin=origin), tuple(restored))
        )
    if rolled:
        planned.append(
            PlannedMessage(render_group(rolled, digest=True, origin=origin), tuple(rolled))
        )
    return planned


def _by_subject(notifications: Iterable[Notification]) -> list[Notification]:
    return sorted(notifications, key=lambda n: (n.load_balancer_id, n.id))
