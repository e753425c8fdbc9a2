"""The monitor's own health, per scope: failed API calls counted, degraded and restored.

`MONITOR_FAILURE_THRESHOLD` consecutive failures of one scope (a load balancer, one listener
target, or discovery) make it degraded, once; the next successful call restores it, once. A
failed call is no observation of the backends: their state and streaks are kept as they are.
"""

from __future__ import annotations

from zlb_health.config import Thresholds
from zlb_health.engine.notifications import MonitorChange, MonitorEvent
from zlb_health.engine.observation import ScopeFailure
from zlb_health.engine.state import MonitorState


def record_failure(
    monitors: dict[str, MonitorState], failure: ScopeFailure, thresholds: Thresholds, *, at: str
) -> MonitorEvent | None:
    monitor = monitors.setdefault(failure.scope, MonitorState())
    monitor.consecutive_failures += 1
    if monitor.failing_since is None:
        monitor.failing_since = at
    monitor.last_error = {
        "kind": failure.kind,
        "code": failure.code,
        "status": failure.status,
        "requestId": failure.request_id,
        "message": failure.message,
        "at": at,
    }
    if monitor.degraded or monitor.consecutive_failures < thresholds.monitor_failure:
        return None
    monitor.degraded = True
    return event(failure.scope, monitor, "degraded", at=at)


def record_success(
    monitors: dict[str, MonitorState], scope: str, *, at: str
) -> MonitorEvent | None:
    """A successful call: the scope's failures are forgotten; restored if it was degraded."""
    monitor = monitors.pop(scope, None)
    if monitor is None or not monitor.degraded:
        return None
    return event(scope, monitor, "restored", at=at)


def end(monitors: dict[str, MonitorState], scope: str, *, at: str) -> MonitorEvent | None:
    """The scope is no longer polled: a degraded one is closed with an `ended` event."""
    monitor = monitors.pop(scope, None)
    if monitor is None or not monitor.degraded:
        return None
    return event(scope, monitor, "ended", at=at)


def event(scope: str, monitor: MonitorState, change: MonitorChange, *, at: str) -> MonitorEvent:
    error = monitor.last_error or {}

    def text(key: str) -> str | None:
        value = error.get(key)
        return None if value is None else str(value)

    status = error.get("status")
    return MonitorEvent(
        scope=scope,
        change=change,
        at=at,
        since=monitor.failing_since,
        consecutive_failures=monitor.consecutive_failures,
        kind=text("kind"),
        code=text("code"),
        status=status if isinstance(status, int) else None,
        request_id=text("requestId"),
        message=text("message"),
    )
