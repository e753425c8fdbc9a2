"""One check cycle: poll, evaluate, save, notify. The use case behind the handler and `demo`.

The order matters for the guarantees:
1. claim the schedule's tick: a second delivery of a tick observes nothing (it only delivers
   what is pending), so a duplicate is never a second observation;
2. list the fleet (discovery mode) and poll every target of this shard (bounded concurrency,
   stops at the API deadline), while the stored states and the silences are read (the fleet's
   registry is read while the tick is claimed) and each load balancer is judged as soon as its
   last answer is in;
3. write a snapshot of each polled load balancer whose state changed or whose heartbeat is due;
4. commit each changed state with a conditional write: the run that moves `version` owns the
   notification it adds to the outbox (a conflict means another run owns it: reload,
   re-evaluate); then the fleet (discovery's health, the registry of known load balancers);
5. publish what this run has claimed, one merged notification per subject: each message SNS
   accepts leaves the outbox at once (before the next is published), undelivered ones are
   released for the next run. A crash anywhere leaves the unsent ones pending; at worst the one
   message in flight is resent.
No AWS call starts that could outlive the run (`Deadline`): a DynamoDB or SNS brownout ends the
run early and cleanly, with what is pending kept for the next one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from zlb_health.adapters.aws import Deadline
from zlb_health.adapters.publisher import PublishError
from zlb_health.adapters.store import Outbound, Snapshot, StoredState, StoreError
from zlb_health.config import Config, Target
from zlb_health.engine.coalesce import coalesce
from zlb_health.engine.fleet import apply_discovery, with_known
from zlb_health.engine.maintenance import (
    Silence,
    Split,
    active_for,
    all_healthy,
    maintenance_ended,
    split,
)
from zlb_health.engine.notifications import (
    NO_LONGER_MONITORED,
    WHOLE_LOAD_BALANCER,
    Notification,
)
from zlb_health.engine.observation import (
    DiscoveryResult,
    LbObservation,
    ScopeAnswer,
    ScopeFailure,
)
from zlb_health.engine.plan import PlannedMessage, plan_messages
from zlb_health.engine.render import Origin
from zlb_health.engine.rules import Evaluation, apply_observation, note_missing, retire
from zlb_health.engine.state import FLEET_ID, FleetState, LbState, SubjectState, iso, parse_iso
from zlb_health.ports import HealthApi, Publisher, StateStore
from zlb_health.shards import Shard
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
    invalid_rows: int = 0
    duplicate_rows: int = 0


@dataclass(slots=True)
class RunReport:
    run_id: str
    started_at: datetime
    load_balancers: dict[str, LoadBalancerReport] = field(default_factory=dict)
    duplicate_tick: bool = False
    discovery_error: str | None = None
    messages_published: int = 0
    messages_failed: int = 0
    notifications_pending: int = 0
    commit_conflicts: int = 0
    retired: list[str] = field(default_factory=list)
    store_errors: list[str] = field(default_factory=list)
    deadline_reached: bool = False
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

    @property
    def invalid_rows(self) -> int:
        return sum(r.invalid_rows for r in self.load_balancers.values())

    def summary(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "duplicateTick": self.duplicate_tick,
            "checked": len(self.checked),
            "failed": sorted(self.failed),
            "skipped": sorted(self.skipped),
            "retired": sorted(self.retired),
            "invalidRows": self.invalid_rows,
            "messagesPublished": self.messages_published,
            "messagesFailed": self.messages_failed,
            "notificationsPending": self.notifications_pending,
            "discoveryError": self.discovery_error,
            "storeErrors": self.store_errors,
            "deadlineReached": self.deadline_reached,
        }


def status_counts(backends: Sequence[BackendHealth]) -> dict[str, int]:
    """Backends by the status the API gave them; `partial`: those of the Dead ones with some
    checked port still Alive (counted in `dead` too, as the API reports them)."""
    counts = {"alive": 0, "dead": 0, "unknown": 0, "close": 0, "partial": 0}
    counts["backends"] = len(backends)
    for backend in backends:
        key = backend.health_status.lower()
        counts[key if key in counts else "unknown"] += 1
        ports = {d.health_status for d in backend.health_status_detail}
        if key == "dead" and {"Alive", "Dead"} <= ports:
            counts["partial"] += 1
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


@dataclass(slots=True)
class _Plan:
    """What this run watches: targets to poll, and what it knows about the fleet."""

    targets: list[Target]
    names: dict[str, str]
    current: set[str]  # load balancers that exist and are watched, as far as this run knows
    discovery: DiscoveryResult | None  # None: LOAD_BALANCER_IDS mode
    error: str | None = None  # why discovery failed, in one line


@dataclass(frozen=True, slots=True)
class Change:
    """What a run does to one subject: its next state, and what joins its outbox."""

    state: SubjectState
    outbound: Outbound
    changed: bool  # worth a write even with nothing to deliver


Evaluate = Callable[[StoredState], Change | None]
ONE_SHARD = Shard()


@dataclass(slots=True)
class _Run:
    """One run's identity and limits, and what it has done so far."""

    run_id: str
    lease_until: float  # epoch: until then nobody else may publish what this run claimed
    deadline: Deadline  # no AWS call starts that could outlive the run
    report: RunReport
    held: dict[str, int] = field(default_factory=dict)  # silence id -> changes it held back
    # What the snapshot decision made of a load balancer's observation, against the stored
    # state it was read with: the commit reuses it for that same state (the engine is pure).
    evaluated: dict[str, tuple[StoredState, Evaluation]] = field(default_factory=dict)

    def can_call(self) -> bool:
        if self.deadline.allows_call():
            return True
        self.report.deadline_reached = True
        return False

    def store_failed(self, subject: str, what: str, error: StoreError) -> None:
        logger.error(what, extra={"load_balancer_id": subject, "error": str(error)})
        self.report.store_errors.append(f"{subject}: {error}")


class _Gathering:
    """Collects the outcome of each polled target (from the pollers' threads) and hands a load
    balancer's observation over as soon as its last target is in. A load balancer with a target
    the deadline left unstarted never completes: it is skipped."""

    def __init__(
        self, plan: _Plan, observed_at: datetime, answered: Callable[[LbObservation], None]
    ) -> None:
        self._plan = plan
        self._observed_at = observed_at
        self._answered = answered
        self._expected = Counter(t.load_balancer_id for t in plan.targets)
        self.lb_ids = list(self._expected)  # in the plan's order
        self._outcomes: dict[str, list[Outcome[tuple[int, Target], BackendHealthResult]]] = {}
        self._done: dict[str, LbObservation] = {}
        self._lock = threading.Lock()

    def add(self, outcome: Outcome[tuple[int, Target], BackendHealthResult]) -> None:
        lb_id = outcome.item[1].load_balancer_id
        with self._lock:
            outcomes = self._outcomes.setdefault(lb_id, [])
            outcomes.append(outcome)
            if len(outcomes) < self._expected[lb_id] or not all(o.started for o in outcomes):
                return
        observation = self._observation(lb_id, sorted(outcomes, key=lambda o: o.item[0]))
        with self._lock:
            self._done[lb_id] = observation
        self._answered(observation)

    def _observation(
        self, lb_id: str, outcomes: list[Outcome[tuple[int, Target], BackendHealthResult]]
    ) -> LbObservation:
        answers: list[ScopeAnswer] = []
        failures: list[ScopeFailure] = []
        for outcome in outcomes:  # in the plan's order of targets
            scope = outcome.item[1].listener_id or WHOLE_LOAD_BALANCER
            if outcome.result is not None:
                answers.append(_answer(lb_id, scope, outcome.result))
            else:
                failures.append(_failure(lb_id, scope, outcome.error))
        name = self._plan.names.get(lb_id, "")
        return LbObservation(lb_id, name, self._observed_at, tuple(answers), tuple(failures))

    def observations(self) -> dict[str, LbObservation]:
        """Every complete observation, in the plan's order of load balancers."""
        with self._lock:
            done = dict(self._done)
        return {lb_id: done[lb_id] for lb_id in self.lb_ids if lb_id in done}


class Monitor:
    def __init__(
        self,
        *,
        config: Config,
        client: HealthApi,
        store: StateStore,
        publisher: Publisher,
        origin: Origin | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.client = client
        self.store = store
        self.publisher = publisher
        self.origin = origin or Origin(config.stack_name)
        self._clock = clock
        self._monotonic = monotonic

    def _now(self) -> float:
        return self._clock().timestamp()

    def run_once(
        self,
        *,
        run_id: str,
        api_deadline: float,
        lease_until: float,
        scheduled_time: datetime | None = None,
        shard: Shard = ONE_SHARD,
        deadline: Deadline | None = None,
    ) -> RunReport:
        """`api_deadline` is a monotonic time; `lease_until` an epoch time (claims on messages);
        `deadline` the end of the run (no AWS call starts that could outlive it).

        With a `scheduled_time`, observations are dated by the schedule's tick, not the clock,
        and only the first delivery of a tick observes anything.
        """
        run = _Run(
            run_id,
            lease_until,
            deadline or Deadline(float("inf"), self._monotonic),
            RunReport(run_id=run_id, started_at=self._clock()),
        )
        observed_at = scheduled_time or run.report.started_at
        if scheduled_time is not None:
            with ThreadPoolExecutor(max_workers=1) as reader:
                # The fleet's read does not depend on the claim: it overlaps the claim's write
                # (a failed claim still fails the run first, as if the read had not started).
                fleet_read = reader.submit(self._load_fleet)
                run.report.duplicate_tick = not self.store.claim_tick(
                    shard.key,
                    scheduled_time,
                    run_id=run_id,
                    lease_until=lease_until,
                    now=self._now(),
                )
                fleet = fleet_read.result()
        else:
            fleet = self._load_fleet()
        known = {lb for lb in _known(fleet) if shard.owns(lb)}
        if run.report.duplicate_tick:
            logger.info("a second delivery of this tick: delivering what is pending only")
            states = self.store.load_states(sorted(known), deadline=run.deadline)
            committed = self._commit_all(states, _deliver_only, run)
        else:
            committed = self._observe_and_commit(
                fleet, known, shard, api_deadline, observed_at, run
            )
        self._publish(committed, run)
        if scheduled_time is not None and not run.report.duplicate_tick and run.can_call():
            try:
                self.store.finish_tick(shard.key, scheduled_time, run_id=run_id)
            except StoreError as error:
                # Unfinished, the tick can be taken over by a late duplicate after its lease.
                run.store_failed("*", "could not mark the tick done", error)
        return run.report

    def _observe_and_commit(  # noqa: PLR0917 - the steps of one run, in order
        self,
        fleet: StoredState,
        known: set[str],
        shard: Shard,
        api_deadline: float,
        observed_at: datetime,
        run: _Run,
    ) -> list[StoredState]:
        plan = self._plan(known, shard, api_deadline, observed_at)
        run.report.discovery_error = plan.error
        ids = sorted(known | {t.load_balancer_id for t in plan.targets})
        answered: queue.SimpleQueue[LbObservation | None] = queue.SimpleQueue()

        def observe() -> dict[str, LbObservation]:
            try:
                return self._observe(plan, api_deadline, observed_at, answered.put)
            finally:
                answered.put(None)

        with ThreadPoolExecutor(max_workers=3) as loader:
            # The state and silence reads overlap the API calls, and each load balancer is
            # judged (is a snapshot due?) as soon as its last answer is in, while the other
            # calls are still in flight: the engine's work hides in the API's latency. The
            # poll goes first: a thread's start waits for the interpreter lock, and started
            # after the state read the poll began 4-10 ms into the run instead of 0.4 ms.
            observations_future = loader.submit(observe)
            states_future = loader.submit(self.store.load_states, ids, deadline=run.deadline)
            silences_future = loader.submit(self.store.load_silences)
            due = self._snapshots_due(answered, states_future, run)
            observations = observations_future.result()
            states = states_future.result()
            silences_read = _settled(silences_future)
        for target in plan.targets:
            lb_id = target.load_balancer_id
            run.report.load_balancers[lb_id] = _lb_report(lb_id, observations.get(lb_id))
        # In the plan's order (they were judged in the order the answers came in).
        snapshotted = self._put_snapshots([o for i, o in observations.items() if i in due], run)

        silences = self._load_silences(run, silences_read)

        def evaluator(lb_id: str) -> Evaluate:
            observation = observations.get(lb_id)
            evaluate = self._evaluator(lb_id, observation, known, plan, run, silences, observed_at)
            if lb_id not in snapshotted:
                return evaluate
            return lambda stored: _with_snapshot_at(evaluate(stored), observed_at)

        committed = self._commit_all(states, evaluator, run)
        self._after_silences(silences, committed, observed_at, run)
        return committed + self._commit_fleet(fleet, plan, states, committed, run)

    # -- what to watch ---------------------------------------------------------------------

    def _load_fleet(self) -> StoredState:
        fleet = self.store.load_states([FLEET_ID])[FLEET_ID]
        if fleet.state is None:
            # First run of this version: the registry starts from the states already stored.
            fleet.state = FleetState(known=set(self.store.known_load_balancers()))
        return fleet

    def _plan(self, known: set[str], shard: Shard, deadline: float, observed_at: datetime) -> _Plan:
        if self.config.targets:
            targets = [t for t in self.config.targets if shard.owns(t.load_balancer_id)]
            return _Plan(targets, {}, {t.load_balancer_id for t in targets}, None)
        if self._monotonic() >= deadline:
            # No time left even to ask for the list: the known load balancers are skipped (not
            # polled, state untouched), not failed; pending messages still go out.
            # (tests/integration/test_faults_aws.py::
            #  test_deadline_already_passed_skips_polling_and_still_delivers_pending)
            return _Plan([Target(lb) for lb in sorted(known)], {}, set(known), None)
        try:
            found = self.client.describe_load_balancers(deadline=deadline)
        except ZenlayerError as error:
            logger.warning("discovery failed", extra={"error": error.one_line()})
            failure = ScopeFailure.from_error("discovery", error)
            # Poll the load balancers still believed to exist: health may answer even if the
            # listing does not (a missing permission), and each failure is its own.
            targets = [Target(lb) for lb in sorted(known)]
            result = DiscoveryResult(observed_at, failure)
            return _Plan(targets, {}, set(), result, error.one_line())
        mine = [lb for lb in found if shard.owns(lb.load_balancer_id)]
        names = {lb.load_balancer_id: lb.load_balancer_name for lb in mine}
        return _Plan(
            [Target(lb_id) for lb_id in names], names, set(names), DiscoveryResult(observed_at)
        )

    def _observe(
        self,
        plan: _Plan,
        deadline: float,
        observed_at: datetime,
        answered: Callable[[LbObservation], None],
    ) -> dict[str, LbObservation]:
        """One observation per load balancer whose every target was polled, handed to
        `answered` as soon as its last target is; those the deadline cut short are left out
        (skipped, their state untouched)."""
        gathering = _Gathering(plan, observed_at, answered)

        def poll(target: tuple[int, Target]) -> BackendHealthResult:
            _index, t = target
            return self.client.describe_backend_health(
                t.load_balancer_id, t.listener_id, deadline=deadline
            )

        fan_out(
            list(enumerate(plan.targets)),  # the index keeps each load balancer's targets in order
            poll,
            max_workers=self.config.api_concurrency,
            deadline=deadline,
            clock=self._monotonic,
            on_outcome=gathering.add,
        )
        observations = gathering.observations()
        for lb_id in gathering.lb_ids:
            if lb_id not in observations:
                logger.warning("not checked: deadline reached", extra={"load_balancer_id": lb_id})
        return observations

    # -- saving ----------------------------------------------------------------------------

    def _snapshots_due(
        self,
        answered: queue.SimpleQueue[LbObservation | None],
        states_future: Future[dict[str, StoredState]],
        run: _Run,
    ) -> set[str]:
        """The load balancers to snapshot, judged one by one as their answers come in (until
        `None`): those whose observation changes their state, and those whose heartbeat is due;
        the others' last snapshot still holds. None of them when the states cannot be read: the
        run fails on that after polling, as it always did."""
        heartbeat = timedelta(minutes=self.config.snapshot_heartbeat_minutes)
        due: set[str] = set()
        while (observation := answered.get()) is not None:
            if states_future.exception() is not None:
                continue  # (waits for the read) a failed read is raised once the poll is over
            lb_id = observation.load_balancer_id
            if self._snapshot_due(observation, states_future.result().get(lb_id), heartbeat, run):
                due.add(lb_id)
        return due

    def _put_snapshots(self, due: list[LbObservation], run: _Run) -> set[str]:
        """Write the snapshots that are due; returns who was written."""
        try:
            snapshots = [_snapshot(o, self.config.snapshot_heartbeat_minutes) for o in due]
            self.store.put_snapshots(snapshots, deadline=run.deadline)
        except StoreError as error:
            # History only: the run goes on to save states and deliver notifications.
            run.store_failed("*", "could not write snapshots", error)
            return set()
        return {o.load_balancer_id for o in due}

    def _snapshot_due(
        self,
        observation: LbObservation,
        stored: StoredState | None,
        heartbeat: timedelta,
        run: _Run,
    ) -> bool:
        state = stored.state if stored is not None else None
        if not isinstance(state, LbState) or state.snapshot_at is None or state.retired:
            return True
        if observation.observed_at - parse_iso(state.snapshot_at) >= heartbeat:
            return True
        # What the engine makes of it: a changed state (a status, a streak, a failure) means
        # something history must show; an unchanged one, nothing it does not know already.
        evaluation = apply_observation(
            state, observation, self.config.thresholds, now=observation.observed_at
        )
        if stored is not None:  # always, with a state: for mypy
            run.evaluated[observation.load_balancer_id] = (stored, evaluation)
        return evaluation.changed

    def _commit_all(
        self, states: dict[str, StoredState], evaluator: Callable[[str], Evaluate], run: _Run
    ) -> list[StoredState]:
        """Each state saved (in id order) with what `evaluator` makes of it. In a steady run
        most have nothing to save: they are judged on this thread, and only those with a change
        or a waiting message go to the writers' pool, whose threads cost more than the judging."""
        results: dict[str, StoredState | None] = dict.fromkeys(sorted(states))
        to_write: list[tuple[str, Evaluate]] = []
        for lb_id in results:
            stored, evaluate = states[lb_id], evaluator(lb_id)
            change = evaluate(stored)
            if (change is not None and change.changed) or stored.outbox:
                to_write.append((lb_id, _judged(evaluate, stored, change)))

        def commit(job: tuple[str, Evaluate]) -> tuple[str, StoredState | None]:
            lb_id, evaluate = job
            return lb_id, self._commit_one(states[lb_id], evaluate, run)

        if to_write:
            with ThreadPoolExecutor(max_workers=min(COMMIT_WORKERS, len(to_write))) as pool:
                results.update(pool.map(commit, to_write))
        return [stored for stored in results.values() if stored is not None]

    def _evaluator(  # noqa: PLR0917 - the run's context for one load balancer
        self,
        lb_id: str,
        observation: LbObservation | None,
        known: set[str],
        plan: _Plan,
        run: _Run,
        silences: list[Silence] | None,
        tick: datetime,
    ) -> Evaluate:
        """How this run changes one load balancer's state (None: it does not)."""
        thresholds = self.config.thresholds
        discovery = plan.discovery
        report = run.report

        def evaluate(stored: StoredState) -> Change | None:
            state = stored.state
            assert state is None or isinstance(state, LbState)  # noqa: S101 - LB subjects only
            if _forgotten(lb_id, stored, known, plan):
                return None  # told and deleted: whatever the API says of it now, it stays gone
            evaluation: Evaluation | None = None
            if observation is not None and (
                state is None or not state.retired or lb_id in plan.current
            ):
                memo = run.evaluated.get(lb_id)
                if memo is not None and memo[0] is stored:
                    evaluation = memo[1]  # the same state and observation: the same result
                else:
                    evaluation = apply_observation(
                        state, observation, thresholds, now=observation.observed_at
                    )
                _note_duplicates(report, lb_id, evaluation.duplicates)
            elif state is not None and lb_id in known and lb_id not in plan.current:
                if discovery is not None and discovery.failure is None:
                    evaluation = note_missing(state, thresholds, at=discovery.observed_at)
                elif self.config.targets:
                    evaluation = retire(state, NO_LONGER_MONITORED, at=self._clock())
            newly_retired = evaluation is not None and evaluation.new_state.retired
            if newly_retired and not (state is not None and state.retired):
                report.retired.append(lb_id)
            return self._with_silences(stored, evaluation, silences, tick)

        return evaluate

    # -- maintenance ------------------------------------------------------------------------

    def _load_silences(
        self, run: _Run, read: list[tuple[Silence, int]] | StoreError
    ) -> list[Silence] | None:
        """Every silence, one query per run (read while the poll ran); None when they cannot
        be read (then nothing is held back and no silence is ended: a page too many beats a
        page lost), or when the run's deadline leaves no time to act on them."""
        if not run.can_call():
            return None
        if isinstance(read, StoreError):
            run.store_failed("*", "could not read the silences", read)
            return None
        return [silence for silence, _matched in read]

    def _with_silences(
        self,
        stored: StoredState,
        evaluation: Evaluation | None,
        silences: list[Silence] | None,
        tick: datetime,
    ) -> Change | None:
        """Hold back what active silences cover; end the silences that are over."""
        state = evaluation.new_state if evaluation is not None else stored.state
        if not isinstance(state, LbState):
            return None
        notification = evaluation.notification if evaluation is not None else None
        changed = evaluation.changed if evaluation is not None else False
        if silences is None:
            return Change(state, Outbound.of(notification), changed)
        active = active_for(silences, state.load_balancer_id, tick)
        ended = sorted(set(state.silences) - {s.id for s in active})
        if not active and not ended:
            return Change(state, Outbound.of(notification), changed)
        state = state.copy()
        at = iso(tick)
        parts = split(notification, active, state) if notification is not None else Split(None, ())
        deliver = [parts.sent] if parts.sent is not None else []
        by_id = {s.id: s for s in silences}
        for silence_id in ended:
            held = [p.notification for p in stored.outbox.values() if p.held == silence_id]
            silence = by_id.get(silence_id) or Silence.gone(silence_id, state.load_balancer_id)
            ended_message = maintenance_ended(state, silence, held, at=at)
            if ended_message is not None:
                deliver.append(ended_message)
        state.silences = {s.id: state.silences.get(s.id, at) for s in active}
        outbound = Outbound(tuple(deliver), tuple(h for _, h in parts.held), tuple(ended))
        changed = changed or state.silences != _silences_of(stored) or bool(outbound.history)
        return Change(state, outbound, changed)

    def _after_silences(
        self,
        silences: list[Silence] | None,
        committed: list[StoredState],
        tick: datetime,
        run: _Run,
    ) -> None:
        """Count what each silence held; end acknowledgements whose backends are healthy."""
        for silence_id, changes in sorted(run.held.items()):
            if run.can_call():
                try:
                    self.store.count_silenced(silence_id, changes)
                except StoreError as error:
                    run.store_failed("*", "could not count a silence's matches", error)
        states = [s.state for s in committed if isinstance(s.state, LbState)]
        for silence in silences or []:
            if not (silence.until_healthy and silence.active_at(tick)):
                continue
            mine = [s for s in states if silence.matches_load_balancer(s.load_balancer_id)]
            if mine and all_healthy(mine, silence) and run.can_call():
                logger.info("acknowledged backends healthy again: silence ends",
                            extra={"silence": silence.id})  # fmt: skip
                try:
                    self.store.expire_silence(silence, iso(tick))
                except StoreError as error:
                    run.store_failed("*", "could not end an acknowledgement", error)

    def _commit_one(self, stored: StoredState, evaluate: Evaluate, run: _Run) -> StoredState | None:
        """Save what `evaluate` makes of the stored state, and claim what is deliverable."""
        subject = stored.load_balancer_id
        for attempt in range(COMMIT_ATTEMPTS):
            change = evaluate(stored)
            now = self._now()
            if change is None or not change.changed:
                if stored.state is None or not stored.deliverable(now, run.run_id):
                    return stored if stored.outbox else None
                change = Change(stored.state, Outbound(), changed=False)
            if not run.can_call():
                return None
            try:
                written = self.store.commit(
                    stored,
                    change.state,
                    change.outbound,
                    run_id=run.run_id,
                    lease_until=run.lease_until,
                    now=now,
                )
            except StoreError as error:
                run.store_failed(subject, "could not save state", error)
                return None
            if written is not None:
                self._note_committed(subject, change.outbound, run)
                return written
            run.report.commit_conflicts += 1
            logger.info(
                "state moved under us; re-evaluating",
                extra={"load_balancer_id": subject, "attempt": attempt + 1},
            )
            stored = self.store.load_states([subject], deadline=run.deadline)[subject]
        logger.error("could not commit state", extra={"load_balancer_id": subject})
        run.report.store_errors.append(f"{subject}: the state kept moving under us")
        return None

    def _note_committed(self, subject: str, outbound: Outbound, run: _Run) -> None:
        lb_report = run.report.load_balancers.get(subject)
        if lb_report is not None and outbound.history:
            lb_report.notifications_created = len(outbound.history)
            lb_report.transitions = sum(len(n.transitions) for n in outbound.history)
        for held in outbound.held:
            run.held[held.silenced_by or ""] = (
                run.held.get(held.silenced_by or "", 0)
                + len(held.transitions)
                + len(held.monitor_events)
            )

    def _commit_fleet(
        self,
        fleet: StoredState,
        plan: _Plan,
        states: dict[str, StoredState],
        committed: list[StoredState],
        run: _Run,
    ) -> list[StoredState]:
        """Discovery's health, and the registry: new load balancers in, forgotten ones out."""
        stored_now = {s.load_balancer_id for s in committed if isinstance(s.state, LbState)}
        stored_now |= {lb for lb, s in states.items() if s.version > 0}
        forgotten = self._forget_retired(states, run)
        known = _known(fleet)
        forgotten |= {lb for lb, s in states.items() if _forgotten(lb, s, known, plan)}
        thresholds = self.config.thresholds

        def evaluate(stored: StoredState) -> Change:
            state = stored.state if isinstance(stored.state, FleetState) else FleetState()
            notification = None
            if plan.discovery is not None:
                evaluation = apply_discovery(state, plan.discovery, thresholds)
                state, notification = evaluation.new_state, evaluation.notification
            updated = with_known(state, add=stored_now - forgotten, remove=forgotten)
            changed = (
                stored.version == 0
                or notification is not None
                or _fleet_changed(stored.state, updated)
            )
            return Change(updated, Outbound.of(notification), changed)

        result = self._commit_one(fleet, evaluate, run)
        return [result] if result is not None else []

    def _forget_retired(self, states: dict[str, StoredState], run: _Run) -> set[str]:
        """Retired load balancers whose last word was delivered are deleted for good."""
        forgotten: set[str] = set()
        for lb_id, stored in sorted(states.items()):
            state = stored.state
            if not isinstance(state, LbState) or not state.retired or stored.outbox:
                continue
            if not run.can_call():
                break
            try:
                if self.store.forget(stored):
                    forgotten.add(lb_id)
            except StoreError as error:
                run.store_failed(lb_id, "could not forget a retired load balancer", error)
        return forgotten

    # -- delivering ------------------------------------------------------------------------

    def _publish(self, committed: list[StoredState], run: _Run) -> None:
        claims: dict[str, list[str]] = {}
        merged: list[Notification] = []
        for stored in committed:
            mine = stored.claimed_by(run.run_id)
            run.report.notifications_pending += len(stored.outbox) - len(mine)
            if not mine:
                continue
            subject = stored.load_balancer_id
            net = coalesce(mine)
            if net is None:  # it all cancelled out: nothing to say, the entries are done
                self._settle(subject, [n.id for n in mine], [], run)
                continue
            claims[subject] = [n.id for n in mine]
            merged.append(net)
        plan = plan_messages(merged, cap=self.config.max_messages_per_run, origin=self.origin)
        for planned in plan:
            if not run.can_call():
                break
            if self._publish_one(planned, run):
                # Settle what SNS accepted before publishing the next message: if the run dies
                # later, only the messages not yet sent are sent again by a later run.
                # (tests/integration/test_faults_aws.py::
                #  test_crash_in_the_middle_of_publishing_resends_only_what_was_not_delivered)
                settled = [
                    self._settle(n.load_balancer_id, claims.pop(n.load_balancer_id), [], run)
                    for n in planned.notifications
                ]
                if not all(settled):
                    # DynamoDB cannot record deliveries: publishing more would only put more
                    # messages in the at-least-once position. The rest waits for its lease.
                    run.report.notifications_pending += len(claims)
                    return
        for subject, ids in sorted(claims.items()):
            run.report.notifications_pending += 1
            if run.can_call():
                self._settle(subject, [], ids, run)

    def _publish_one(self, planned: PlannedMessage, run: _Run) -> bool:
        rendered = planned.rendered
        try:
            self.publisher.publish(
                subject=rendered.subject, message=rendered.message, attributes=rendered.attributes
            )
        except PublishError as error:
            run.report.messages_failed += 1
            logger.warning(
                "publish failed; the message stays pending",
                extra={"error": error.code, "ids": list(planned.notification_ids)},
            )
            return False
        run.report.messages_published += 1
        run.report.published.append(
            {"subject": rendered.subject, **rendered.message, "attributes": rendered.attributes}
        )
        for n in planned.notifications:
            lb_report = run.report.load_balancers.get(n.load_balancer_id)
            if lb_report is not None:
                lb_report.messages_published += 1
        return True

    def _settle(self, subject: str, delivered: list[str], released: list[str], run: _Run) -> bool:
        """Record deliveries and releases; False when DynamoDB failed (the claims stand until
        their lease ends, then a later run takes over)."""
        try:
            settled = self.store.settle(
                subject, delivered=delivered, released=released, run_id=run.run_id
            )
        except StoreError as error:
            run.store_failed(subject, "could not settle notifications", error)
            return False
        if not settled:
            logger.error("lost the claim on notifications", extra={"load_balancer_id": subject})
        return True


def _settled(
    future: Future[list[tuple[Silence, int]]],
) -> list[tuple[Silence, int]] | StoreError:
    """The silences as read, or the StoreError that reading them raised."""
    try:
        return future.result()
    except StoreError as error:
        return error


def _silences_of(stored: StoredState) -> dict[str, str]:
    return dict(stored.state.silences) if isinstance(stored.state, LbState) else {}


def _judged(evaluate: Evaluate, stored: StoredState, change: Change | None) -> Evaluate:
    """`evaluate`, its answer for `stored` already known (judged once: evaluating has effects
    on the run's report); a state read again after a conflict is evaluated afresh."""
    return lambda again: change if again is stored else evaluate(again)


def _deliver_only(_lb_id: str) -> Evaluate:
    """A second delivery of a tick changes no state: it only delivers what is pending."""
    return lambda _stored: None


def _note_duplicates(report: RunReport, lb_id: str, duplicates: int) -> None:
    lb_report = report.load_balancers.get(lb_id)
    if lb_report is not None:
        lb_report.duplicate_rows = duplicates
    if duplicates:
        logger.warning(
            "rows naming the same backend merged (the worse status kept)",
            extra={"load_balancer_id": lb_id, "duplicates": duplicates},
        )


def _forgotten(lb_id: str, stored: StoredState, known: set[str], plan: _Plan) -> bool:
    """In the registry but without a state, and not in this run's answer: a run deleted its
    state (told and forgotten) and died before the registry said so. Polled again (a discovery
    outage polls the registry), it would come back as a new load balancer."""
    return stored.version == 0 and lb_id in known and lb_id not in plan.current


def _known(fleet: StoredState) -> set[str]:
    return set(fleet.state.known) if isinstance(fleet.state, FleetState) else set()


def _fleet_changed(previous: SubjectState | None, updated: FleetState) -> bool:
    if not isinstance(previous, FleetState):
        return True
    return previous.known != updated.known or previous.monitor != updated.monitor


def _answer(lb_id: str, scope: str, result: BackendHealthResult) -> ScopeAnswer:
    for note in result.invalid_rows:
        logger.warning("unusable row", extra={"load_balancer_id": lb_id, "problem": note})
    rows = result.backends
    if scope != WHOLE_LOAD_BALANCER:
        rows = tuple(b for b in rows if b.listener_id == scope)
    return ScopeAnswer(scope, rows, result.request_id, result.latency_ms, len(result.invalid_rows))


def _failure(lb_id: str, scope: str, error: BaseException | None) -> ScopeFailure:
    if not isinstance(error, ZenlayerError):
        logger.error(
            "unexpected polling failure", exc_info=error, extra={"load_balancer_id": lb_id}
        )
        error = ZenlayerError(f"internal error: {type(error).__name__}")
    logger.warning(
        "check failed", extra={"load_balancer_id": lb_id, "scope": scope, "error": error.one_line()}
    )
    return ScopeFailure.from_error(scope, error)


def _lb_report(lb_id: str, observation: LbObservation | None) -> LoadBalancerReport:
    if observation is None:
        return LoadBalancerReport(lb_id, skipped=True, error="deadline reached")
    failure = observation.failures[0] if observation.failures else None
    return LoadBalancerReport(
        lb_id,
        ok=observation.ok,
        latency_ms=observation.latency_ms,
        request_id=observation.request_id,
        error=f"{failure.describe()}: {failure.message}" if failure else None,
        error_kind=failure.kind if failure else None,
        counts=status_counts(observation.backends) if observation.ok else {},
        invalid_rows=observation.invalid_rows,
    )


def _with_snapshot_at(change: Change | None, tick: datetime) -> Change | None:
    """The state remembers its latest snapshot (the heartbeat's clock), so writing one is a
    change worth saving."""
    if change is None or not isinstance(change.state, LbState):
        return change
    at = iso(tick)
    if change.state.snapshot_at == at:
        return change
    state = change.state.copy()
    state.snapshot_at = at
    return Change(state, change.outbound, changed=True)


def _snapshot(obs: LbObservation, heartbeat_minutes: int) -> Snapshot:
    failure = obs.failures[0] if obs.failures else None
    return Snapshot(
        obs.load_balancer_id,
        obs.observed_at,
        ok=obs.ok,
        request_id=obs.request_id,
        latency_ms=obs.latency_ms,
        rows=backend_rows(obs.backends),
        counts=status_counts(obs.backends) if obs.ok else {},
        error=(
            {
                "scope": failure.scope,
                "kind": failure.kind,
                "code": failure.code,
                "status": failure.status,
                "message": failure.message,
            }
            if failure
            else None
        ),
        invalid_rows=obs.invalid_rows,
        heartbeat_minutes=heartbeat_minutes,
    )
