"""The pure health-state engine: state, rules, notifications and their rendering.

No I/O, no clock, standard library only. The adapters persist `LbState` (via `to_dict`) and
pending `Notification`s, and publish what `plan_messages` returns.
"""

from zlb_health.engine.notifications import (
    CRITICAL,
    HEALTH_CHANGE,
    INFO,
    MONITOR_DEGRADED,
    MONITOR_RESTORED,
    REMINDER,
    WARNING,
    ListenerHealth,
    Notification,
    Transition,
)
from zlb_health.engine.render import (
    PlannedMessage,
    RenderedMessage,
    plan_messages,
    render,
    render_group,
)
from zlb_health.engine.rules import (
    Evaluation,
    FailedObservation,
    HealthObservation,
    Observation,
    apply_observation,
)
from zlb_health.engine.state import (
    BackendState,
    LbState,
    ListenerState,
    MonitorState,
    UnitState,
    backend_key,
    iso,
    state_fingerprint,
)

__all__ = [
    "CRITICAL",
    "HEALTH_CHANGE",
    "INFO",
    "MONITOR_DEGRADED",
    "MONITOR_RESTORED",
    "REMINDER",
    "WARNING",
    "BackendState",
    "Evaluation",
    "FailedObservation",
    "HealthObservation",
    "LbState",
    "ListenerHealth",
    "ListenerState",
    "MonitorState",
    "Notification",
    "Observation",
    "PlannedMessage",
    "RenderedMessage",
    "Transition",
    "UnitState",
    "apply_observation",
    "backend_key",
    "iso",
    "plan_messages",
    "render",
    "render_group",
    "state_fingerprint",
]
