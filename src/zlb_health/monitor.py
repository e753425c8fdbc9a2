"""One check cycle: poll, evaluate, save, notify. The use case behind the handler and `demo`.

The order matters for the guarantees:
1. poll every target (bounded concurrency, stops at the API deadline);
2. write one snapshot per polled load balancer (history, batched);
3. commit each changed state with a conditional write: the run that moves `version` owns the
   notification it adds to the outbox (a conflict means another run owns it: reload, re-evaluate);
4. publish what this run has claimed: each message SNS accepts leaves the outbox at once
   (before the next is published), undelivered ones are released for the next run. A crash
   anywhere leaves the unsent ones pending; at worst the one message in flight is resent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zlb_health.adapters.publisher import PublishError, SnsPublisher
from zlb_health.adapters.store import HealthStore, Snapshot, StoredState
from zlb_health.config import Config, Target
from zlb_health.engine.notifications import Notification
from zlb_health.engine.render import plan_messages
from zlb_health.engine.rules import (
    FailedObservation,
    HealthObservation,
    Observation,
    apply_observation,
)
from zlb_health.zenlayer.client import ZenlayerClient
from zlb_health.zenlayer.errors import ZenlayerError
from zlb_health.zenlayer.fanout import Outcome, fan_out
from zlb_health.zenlayer.models import BackendHealth, BackendHealthResult

logger = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 4
COMMIT_WORKERS = 8


@dataclass(slots=True)
class LoadBalancerReport:
    load_balancer_id: str
    ok: bool = False
    skipped: bool = False
    latency_ms: float | None = None
    request_id: str | None = None
    error: str | None = None
    error_kind: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    notifications_created: int = 0
    messages_published: int = 0
    transitions: int = 0


@dataclass(slots=True)
class RunReport:
    run_id: str
    started_at: datetime
    load_balancers: dict[str, LoadBalancerReport] = field(default_factory=dict)
    discovery_error: str | None = None
    messages_published: int = 0
    messages_failed: int = 0
    notifications_pending: int = 0
    commit_conflicts: int = 0
    published: list[dict[str, Any]] = field(default_factory=list)  # what subscribers received

    @property
    def checked(self) -> list[str]:
        return [lb for lb, r in self.load_balancers.items() if r.ok]

    @property
    def failed(self) -> list[str]:
        return [lb for lb, r in self.load_balancers.items() if not r.ok and not r.skipped]

    @property
    def skipped(self) -> list[str]:
        return [lb for lb, r in self.load_balancers.items() if r.skipped]

    def summary(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "checked": len(self.checked),
            "failed": sorted(self.failed),
            "skipped": sorted(self.skipped),
            "messagesPublished": self.messages_published,
            "messagesFailed": self.messages_failed,
            "notificationsPending": self.notifications_pending,
            "discoveryError": self.discovery_error,
        }


def status_counts(backends: Sequence[BackendHealth]) -> dict[str, int]:
    counts = {"alive": 0, "dead": 0, "unknown": 0, "close": 0, "backends": len(backends)}
    for backend in backends:
        key = backend.health_status.lower()
        counts[key if key in counts else "unknown"] += 1
    return counts


def backend_rows(backends: Sequence[BackendHealth]) -> tuple[tuple[Any, ...], ...]:
    """The compact snapshot form: listener, name, instance, ip, port, status, per-port detail."""
    return tuple(
        (
            b.listener_id,
            b.listener_name,
            b.instance_id,
            b.private_ip_address,
            b.effective_port,
            b.health_status,
            [[d.port, d.health_status] for d in b.health_status_detail],
        )
        for b in backends
    )


class Monitor:
    def __init__(
        self,
        *,
        config: Config,
        client: ZenlayerClient,
        store: HealthStore,
        publisher: SnsPublisher,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.client = client
        self.store = store
        self.publisher = publisher
        self._clock = clock
        self._monotonic = monotonic

    def run_once(
        self,
        *,
        run_id: str,
        api_deadline: float,
        lease_until: float,
        scheduled_time: datetime | None = None,
    ) -> RunReport:
        """`api_deadline` is a monotonic time; `lease_until` an epoch time (claims on messages).

        With a `scheduled_time`, observations are dated by the schedule's tick, not the clock:
        a duplicate delivery of the same tick then counts as the same observation (the engine
        ignores it as stale) instead of a second consecutive one.
        """
        report = RunReport(run_id=run_id, started_at=self._clock())
        observed_at = scheduled_time or report.started_at
        targets, names, discovery_error = self._targets(api_deadline)
        report.discovery_error = discovery_error.one_line() if discovery_error else None
        lb_ids = list(dict.fromkeys(t.load_balancer_id for t in targets))

        with ThreadPoolExecutor(max_workers=1) as loader:
            # The state read overlaps the API calls: neither waits for the other.
            states_future = loader.submit(self.store.load_states, lb_ids)
            observations: dict[str, Observation]
            if discovery_error is not None:
                observations = {
                    lb: FailedObservation.from_error(lb, "", discovery_error, observed_at)
                    for lb in lb_ids
                }
            else:
                observations = self._observe(targets, names, api_deadline, observed_at)
            states = states_future.result()

        for lb_id in lb_ids:
            report.load_balancers[lb_id] = _lb_report(lb_id, observations.get(lb_id))
        self.store.put_snapshots(_snapshot(obs) for obs in observations.values())
        committed = self._commit_all(states, observations, run_id, lease_until, report)
        self._publish(committed, run_id, report)
        return report

    # -- steps ---------------------------------------------------------------------------

    def _targets(
        self, deadline: float
    ) -> tuple[list[Target], dict[str, str], ZenlayerError | None]:
        if self.config.targets:
            return list(self.config.targets), {}, None
        if self._monotonic() >= deadline:
            # No time left even to ask for the list: the known load balancers are skipped
            # (not polled, state untouched), not failed -- the API did nothing wrong.
            # (tests/integration/test_faults_aws.py::
            #  test_deadline_already_passed_skips_polling_and_still_delivers_pending)
            return [Target(lb) for lb in self.store.known_load_balancers()], {}, None
        try:
            found = self.client.describe_load_balancers(deadline=deadline)
        except ZenlayerError as error:
            logger.warning("discovery failed", extra={"error": error.one_line()})
            known = self.store.known_load_balancers()
            return [Target(lb) for lb in known], {}, error
        names = {lb.load_balancer_id: lb.load_balancer_name for lb in found}
        return [Target(lb.load_balancer_id) for lb in found], names, None

    def _observe(
        self, targets: list[Target], names: dict[str, str], deadline: float, observed_at: datetime
    ) -> dict[str, Observation]:
        """One observation per load balancer checked; those never started are left out."""

        def poll(target: Target) -> BackendHealthResult:
            return self.client.describe_backend_health(
                target.load_balancer_id, target.listener_id, deadline=deadline
            )

        outcomes = fan_out(
            targets,
            poll,
            max_workers=self.config.api_concurrency,
            deadline=deadline,
            clock=self._monotonic,
        )
        by_lb: dict[str, list[Outcome[Target, BackendHealthResult]]] = {}
        for outcome in outcomes:
            by_lb.setdefault(outcome.item.load_balancer_id, []).append(outcome)

        observations: dict[str, Observation] = {}
        for lb_id, lb_outcomes in by_lb.items():
            name = names.get(lb_id, "")
            if not all(o.started for o in lb_outcomes):
                logger.warning("not checked: deadline reached", extra={"load_balancer_id": lb_id})
                continue
            error = next((o.error for o in lb_outcomes if o.error is not None), None)
            if error is not None:
                if not isinstance(error, ZenlayerError):
                    logger.error(
                        "unexpected polling failure",
                        exc_info=error,
                        extra={"load_balancer_id": lb_id},
                    )
                    error = ZenlayerError(f"internal error: {type(error).__name__}")
                logger.warning(
                    "check failed", extra={"load_balancer_id": lb_id, "error": error.one_line()}
                )
                observations[lb_id] = FailedObservation.from_error(lb_id, name, error, observed_at)
                continue
            results = [o.result for o in lb_outcomes if o.result is not None]
            listener_ids = [o.item.listener_id for o in lb_outcomes]
            # Several listener targets of one load balancer make one observation of them all.
            observations[lb_id] = HealthObservation(
                load_balancer_id=lb_id,
                load_balancer_name=name,
                backends=tuple(b for r in results for b in r.backends),
                request_id=",".join(r.request_id for r in results),
                latency_ms=max(r.latency_ms for r in results),
                observed_at=observed_at,
                listener_filter=(
                    None if None in listener_ids else frozenset(filter(None, listener_ids))
                ),
            )
        return observations

    def _commit_all(
        self,
        states: dict[str, StoredState],
        observations: dict[str, Observation],
        run_id: str,
        lease_until: float,
        report: RunReport,
    ) -> list[StoredState]:
        # Load balancers not checked this run still get their pending notifications delivered.
        def commit(lb_id: str) -> StoredState | None:
            return self._commit_one(
                states[lb_id], observations.get(lb_id), run_id, lease_until, report
            )

        with ThreadPoolExecutor(max_workers=COMMIT_WORKERS) as pool:
            results = list(pool.map(commit, sorted(states)))
        return [stored for stored in results if stored is not None]

    def _commit_one(
        self,
        stored: StoredState,
        observation: Observation | None,
        run_id: str,
        lease_until: float,
        report: RunReport,
    ) -> StoredState | None:
        lb_id = stored.load_balancer_id
        for attempt in range(COMMIT_ATTEMPTS):
            evaluation = (
                apply_observation(
                    stored.state, observation, self.config.thresholds, now=observation.observed_at
                )
                if observation is not None
                else None
            )
            now = self._clock().timestamp()
            claimable = any(p.claimable(now) for p in stored.outbox.values())
            if evaluation is None or not evaluation.changed:
                if not claimable:
                    return stored if stored.outbox else None
                if stored.state is None:
                    return None
            new_state = evaluation.new_state if evaluation else stored.state
            notification = evaluation.notification if evaluation else None
            assert new_state is not None  # noqa: S101 - checked above
            written = self.store.commit(
                stored, new_state, notification, run_id=run_id, lease_until=lease_until, now=now
            )
            if written is not None:
                lb_report = report.load_balancers[lb_id]
                lb_report.transitions = len(evaluation.transitions) if evaluation else 0
                lb_report.notifications_created = int(notification is not None)
                return written
            report.commit_conflicts += 1
            logger.info(
                "state moved under us; re-evaluating",
                extra={"load_balancer_id": lb_id, "attempt": attempt + 1},
            )
            stored = self.store.load_states([lb_id])[lb_id]
        logger.error("could not commit state", extra={"load_balancer_id": lb_id})
        return None

    def _publish(self, committed: list[StoredState], run_id: str, report: RunReport) -> None:
        claimed: dict[str, list[Notification]] = {}
        for stored in committed:
            mine = stored.claimed_by(run_id)
            if mine:
                claimed[stored.load_balancer_id] = mine
            report.notifications_pending += len(stored.outbox) - len(mine)
        notifications = [n for lb in sorted(claimed) for n in claimed[lb]]
        if not notifications:
            return
        delivered: set[str] = set()
        for planned in plan_messages(notifications, cap=self.config.max_messages_per_run):
            rendered = planned.rendered
            try:
                self.publisher.publish(
                    subject=rendered.subject,
                    message=rendered.message,
                    attributes=rendered.attributes,
                )
            except PublishError as error:
                report.messages_failed += 1
                logger.warning(
                    "publish failed; the message stays pending",
                    extra={"error": error.code, "ids": list(planned.notification_ids)},
                )
                continue
            delivered.update(planned.notification_ids)
            report.messages_published += 1
            report.published.append(
                {
                    "subject": rendered.subject,
                    **rendered.message,
                    "attributes": dict(rendered.attributes),
                }
            )
            # Settle what SNS accepted before publishing the next message: if the run dies
            # later (Lambda timeout, crash, a DynamoDB error), only the messages not yet sent
            # are sent again by a later run, never one that was delivered.
            # (tests/integration/test_faults_aws.py::
            #  test_crash_in_the_middle_of_publishing_resends_only_what_was_not_delivered)
            for lb, ids in _by_load_balancer(planned.notification_ids).items():
                if lb in report.load_balancers:
                    report.load_balancers[lb].messages_published += 1
                if not self.store.settle(lb, delivered=ids, released=[], run_id=run_id):
                    logger.error(
                        "lost the claim on notifications before settling",
                        extra={"load_balancer_id": lb, "ids": ids},
                    )
        for lb_id, mine in claimed.items():
            undone = [n.id for n in mine if n.id not in delivered]
            report.notifications_pending += len(undone)
            if not self.store.settle(lb_id, delivered=[], released=undone, run_id=run_id):
                logger.error(
                    "lost the claim on notifications before releasing them",
                    extra={"load_balancer_id": lb_id, "ids": undone},
                )


def _by_load_balancer(notification_ids: Sequence[str]) -> dict[str, list[str]]:
    """Notification ids (`<lbId>#<seq>`) grouped by their load balancer, in order."""
    grouped: dict[str, list[str]] = {}
    for notification_id in notification_ids:
        grouped.setdefault(notification_id.rsplit("#", 1)[0], []).append(notification_id)
    return grouped


def _lb_report(lb_id: str, observation: Observation | None) -> LoadBalancerReport:
    if observation is None:
        return LoadBalancerReport(lb_id, skipped=True, error="deadline reached")
    if isinstance(observation, FailedObservation):
        return LoadBalancerReport(
            lb_id,
            error=f"{observation.error_kind}: {observation.message}",
            error_kind=observation.error_kind,
            request_id=observation.request_id,
        )
    return LoadBalancerReport(
        lb_id,
        ok=True,
        latency_ms=observation.latency_ms,
        request_id=observation.request_id,
        counts=status_counts(observation.backends),
    )


def _snapshot(obs: Observation) -> Snapshot:
    if isinstance(obs, HealthObservation):
        return Snapshot(
            obs.load_balancer_id,
            obs.observed_at,
            ok=True,
            request_id=obs.request_id,
            latency_ms=obs.latency_ms,
            rows=backend_rows(obs.backends),
            counts=status_counts(obs.backends),
        )
    return Snapshot(
        obs.load_balancer_id,
        obs.observed_at,
        ok=False,
        request_id=obs.request_id,
        latency_ms=None,
        error={
            "kind": obs.error_kind,
            "code": obs.error_code,
            "status": obs.http_status,
            "message": obs.message,
        },
    )
