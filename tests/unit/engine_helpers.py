"""Builders for the engine tests: backends, observations and a runner that steps a clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from zlb_health.config import Thresholds
from zlb_health.engine.notifications import Notification, Transition
from zlb_health.engine.observation import LbObservation, ScopeAnswer, ScopeFailure
from zlb_health.engine.rules import Evaluation, apply_observation
from zlb_health.engine.state import LbState, key_of
from zlb_health.zenlayer.models import BackendHealth, PortHealth

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def be(
    target: str = "i-1",
    status: str = "Alive",
    *,
    listener: str = "lsn-1",
    listener_name: str | None = None,
    port: int | None = 80,
    listener_port: str = "80",
    detail: dict[int, str] | None = None,
    ip: str | None = None,
) -> BackendHealth:
    """A backend; `target` starting with `i-` is an instance id, anything else an IP."""
    instance = target if target.startswith("i-") else None
    return BackendHealth(
        listener_id=listener,
        listener_name=listener_name if listener_name is not None else f"name-{listener}",
        protocol="TCP",
        listener_port=listener_port,
        instance_id=instance,
        private_ip_address=ip or (target if instance is None else f"10.0.0.{len(target)}"),
        backend_port=port,
        weight=100,
        health_status=status,
        health_status_detail=tuple(PortHealth(p, s) for p, s in (detail or {}).items()),
    )


def key(target: str = "i-1", *, listener: str = "lsn-1", port: str = "80") -> str:
    """The state key of a backend built by `be` with the same arguments."""
    b = be(target, listener=listener, port=None, listener_port=port)
    return key_of(listener, b.instance_id, b.private_ip_address, port)


def observation(
    minute: float,
    *backends: BackendHealth,
    lb: str = "lb-1",
    name: str = "lb-one",
    listener_filter: str | frozenset[str] | None = None,
) -> LbObservation:
    """One answer for the whole load balancer, or one per listener of `listener_filter`."""
    rid = f"req-{minute}"
    if listener_filter is None:
        answers = (ScopeAnswer("", tuple(backends), rid, 12.5),)
    else:
        scopes = [listener_filter] if isinstance(listener_filter, str) else sorted(listener_filter)
        answers = tuple(
            ScopeAnswer(lsn, tuple(b for b in backends if b.listener_id == lsn), rid, 12.5)
            for lsn in scopes
        )
    return LbObservation(lb, name, at(minute), answers)


def failure(
    minute: float,
    *,
    lb: str = "lb-1",
    kind: str = "server",
    code: str | None = "INTERNAL_ERROR",
    status: int | None = 500,
    scope: str = "",
) -> LbObservation:
    error = ScopeFailure(scope, kind, code, status, f"req-fail-{minute}", "boom")
    return LbObservation(lb, "", at(minute), failures=(error,))


@dataclass
class Runner:
    """Feeds observations one minute apart, keeping the state and what was notified."""

    thresholds: Thresholds = field(default_factory=lambda: Thresholds(2, 2, 3, 0))
    lb: str = "lb-1"
    state: LbState | None = None
    minute: float = 0
    notifications: list[Notification] = field(default_factory=list)
    last: Evaluation | None = None

    def apply(self, obs: LbObservation, *, now: datetime | None = None) -> Evaluation:
        evaluation = apply_observation(self.state, obs, self.thresholds, now=now or obs.observed_at)
        self.state = evaluation.new_state
        self.last = evaluation
        if evaluation.notification is not None:
            self.notifications.append(evaluation.notification)
        return evaluation

    def step(
        self,
        *backends: BackendHealth,
        listener_filter: str | frozenset[str] | None = None,
        minutes: float = 1,
    ) -> Notification | None:
        self.minute += minutes
        obs = observation(self.minute, *backends, lb=self.lb, listener_filter=listener_filter)
        return self.apply(obs).notification

    def fail(
        self, *, minutes: float = 1, code: str | None = "INTERNAL_ERROR"
    ) -> Notification | None:
        self.minute += minutes
        return self.apply(failure(self.minute, lb=self.lb, code=code)).notification

    def steps(self, n: int, *backends: BackendHealth) -> list[Notification]:
        out = []
        for _ in range(n):
            notification = self.step(*backends)
            if notification is not None:
                out.append(notification)
        return out

    @property
    def transitions(self) -> tuple[Transition, ...]:
        assert self.last is not None
        return self.last.transitions

    def unit(self, key: str, unit: str = "*") -> tuple[str, str | None]:
        assert self.state is not None
        u = self.state.backends[key].units[unit]
        return u.observed, u.notified
