"""What one run saw of one load balancer: an answer or a failure per polled scope.

A *scope* is what one DescribeBackendHealth call covers: the whole load balancer
(`WHOLE_LOAD_BALANCER`, "") or one listener (its id), as `LOAD_BALANCER_IDS` asks. Every
scope's answer is applied on its own, so one failing listener never hides another's change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from zlb_health.engine.notifications import WHOLE_LOAD_BALANCER
from zlb_health.zenlayer.errors import ZenlayerError
from zlb_health.zenlayer.models import BackendHealth

_MESSAGE_LIMIT = 300


@dataclass(frozen=True, slots=True)
class ScopeAnswer:
    scope: str
    backends: tuple[BackendHealth, ...]
    request_id: str | None = None
    latency_ms: float | None = None
    invalid_rows: int = 0  # rows skipped because they name no backend

    def covers(self, listener_id: str) -> bool:
        return self.scope in (WHOLE_LOAD_BALANCER, listener_id)


@dataclass(frozen=True, slots=True)
class ScopeFailure:
    scope: str
    kind: str
    code: str | None
    status: int | None
    request_id: str | None
    message: str

    @classmethod
    def from_error(cls, scope: str, error: ZenlayerError) -> ScopeFailure:
        # The vendor's own message when it sent one: ours only restates the status.
        message = error.detail or error.message
        return cls(
            scope=scope,
            kind=error.kind,
            code=error.code,
            status=error.status,
            request_id=error.request_id,
            message=message[:_MESSAGE_LIMIT],
        )

    def describe(self) -> str:
        return self.kind + (f" {self.code}" if self.code else "")


@dataclass(frozen=True, slots=True)
class LbObservation:
    """One run's look at one load balancer: every scope it polls, answered or failed."""

    load_balancer_id: str
    load_balancer_name: str
    observed_at: datetime
    answers: tuple[ScopeAnswer, ...] = ()
    failures: tuple[ScopeFailure, ...] = ()

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(a.scope for a in self.answers) | {f.scope for f in self.failures}

    @property
    def ok(self) -> bool:
        """Something was seen (at least one scope answered)."""
        return bool(self.answers)

    @property
    def request_id(self) -> str | None:
        ids = [a.request_id for a in self.answers if a.request_id]
        return ",".join(ids) or next((f.request_id for f in self.failures if f.request_id), None)

    @property
    def latency_ms(self) -> float | None:
        latencies = [a.latency_ms for a in self.answers if a.latency_ms is not None]
        return max(latencies) if latencies else None

    @property
    def backends(self) -> tuple[BackendHealth, ...]:
        return tuple(b for a in self.answers for b in a.backends)

    @property
    def invalid_rows(self) -> int:
        return sum(a.invalid_rows for a in self.answers)


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    """One DescribeLoadBalancers listing (all pages), or why there is none."""

    observed_at: datetime
    failure: ScopeFailure | None = None
    request_id: str | None = None
