"""Maintenance silences: what they match, when they are active, and what their end says.

A silence matches a load balancer (`*` for all), optionally one listener, optionally one
backend (`LISTENER/TARGET/PORT`: target an instance id or a private IP, port the backend port),
over `[starts, ends)`. It is judged by the observation's tick, never by the clock, so a late or
duplicated run belongs to its tick. Three shapes:

* one-time: `[starts, ends)`;
* acknowledgement (`until_healthy`): from `starts` until every unit it matches is healthy again
  (the monitor expires it then), at most until `ends`;
* recurring (`cron`, `duration`, `timezone`): active at a tick when the latest cron occurrence
  at or before it (in the timezone, daylight-saving changes included) is less than `duration`
  ago, and `starts <= tick < ends` (`ends` None: for ever). Membership is computed from the
  definition at each tick: a missed run or a restart cannot end or extend a window. Cron follows
  Debian cron (cronsim): day-of-month and day-of-week are ORed when both are set, so "the second
  Tuesday" is written `2#2` in day-of-week with `*` in day-of-month; an expression that sets both
  is refused rather than silently ORed.

While a unit is silenced everything is still observed and tracked; its transitions are held
(recorded in the history with the silence id, not sent) and reminders pause. When the silence
ends, what it held is merged into its net effect (`coalesce`) and told once per load balancer
as `maintenance_ended`, with what is unhealthy now: nothing when all is healthy and as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from zlb_health.engine.coalesce import coalesce
from zlb_health.engine.compose import View, compose
from zlb_health.engine.notifications import (
    DISCOVERY_SCOPE,
    REMINDER,
    WHOLE_LOAD_BALANCER,
    Notification,
    Transition,
    UnitStatus,
)
from zlb_health.engine.state import LbState, parse_iso
from zlb_health.engine.tally import tally
from zlb_health.zenlayer.models import CLOSE, DEAD

ALL_LOAD_BALANCERS: Final = "*"
MAX_WINDOW: Final = timedelta(days=30)


class SilenceError(ValueError):
    """A silence definition that cannot be right; the message names the problem."""


@dataclass(frozen=True, slots=True)
class Backend:
    """`LISTENER/TARGET/PORT`, the form `zlb-health history --backend` uses."""

    listener_id: str
    target: str
    port: str

    @classmethod
    def parse(cls, raw: str) -> Backend:
        parts = raw.split("/")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise SilenceError(f"--backend: expected LISTENER/TARGET/PORT, got {raw!r}")
        return cls(*(p.strip() for p in parts))

    def __str__(self) -> str:
        return f"{self.listener_id}/{self.target}/{self.port}"


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    load_balancer_id: str  # or "*"
    starts: str  # ISO 8601 UTC
    ends: str | None  # None: a recurring window for ever
    comment: str
    author: str
    created_at: str
    listener_id: str | None = None
    backend: Backend | None = None
    until_healthy: bool = False
    cron: str | None = None
    duration_minutes: int | None = None
    timezone: str = "UTC"
    expired_at: str | None = None  # ended early (`silence expire`, or healthy again)

    def __post_init__(self) -> None:
        validate(self)

    # -- when -----------------------------------------------------------------------------

    def active_at(self, tick: datetime) -> bool:
        stamp = tick.astimezone(parse_iso(self.starts).tzinfo)
        if stamp < parse_iso(self.starts):
            return False
        if self.ends is not None and stamp >= parse_iso(self.ends):
            return False
        if self.expired_at is not None and stamp >= parse_iso(self.expired_at):
            return False
        if self.cron is None:
            return True
        start = latest_occurrence(self.cron, self.timezone, tick)
        if start is None:
            return False
        # Elapsed time: add in UTC (local wall-clock arithmetic would stretch or shrink a window
        # by an hour across a daylight-saving change).
        ends = start.astimezone(UTC) + timedelta(minutes=self.duration_minutes or 0)
        return tick < ends

    def windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The parts of [start, end) in which the silence is active (`active_at` over a span,
        for history: which minutes were maintenance)."""
        bound_lo = max(start, parse_iso(self.starts))
        bound_hi = min([end, *(parse_iso(t) for t in (self.ends, self.expired_at) if t)])
        if bound_hi <= bound_lo:
            return []
        if self.cron is None:
            return [(bound_lo, bound_hi)]
        length = timedelta(minutes=self.duration_minutes or 0)
        out: list[tuple[datetime, datetime]] = []
        # Every occurrence whose window reaches into [bound_lo, bound_hi), in order.
        zone = ZoneInfo(self.timezone)
        first = latest_occurrence(self.cron, self.timezone, bound_lo)
        cursor = (first or bound_lo).astimezone(zone)
        occurrences = CronSim(self.cron, cursor - timedelta(seconds=1))
        for occurrence in occurrences:
            opens = occurrence.astimezone(UTC)
            if opens >= bound_hi:
                break
            lo, hi = max(opens, bound_lo), min(opens + length, bound_hi)
            if hi > lo:
                if out and lo <= out[-1][1]:
                    out[-1] = (out[-1][0], max(out[-1][1], hi))  # overlapping windows merge
                else:
                    out.append((lo, hi))
        return out

    # -- what -----------------------------------------------------------------------------

    def matches_load_balancer(self, load_balancer_id: str) -> bool:
        return self.load_balancer_id in (ALL_LOAD_BALANCERS, load_balancer_id)

    @property
    def whole_load_balancer(self) -> bool:
        return self.listener_id is None and self.backend is None

    def matches(
        self, load_balancer_id: str, listener_id: str, targets: Iterable[str], backend_port: str
    ) -> bool:
        """One backend (`targets`: its instance id and private IP)."""
        if not self.matches_load_balancer(load_balancer_id):
            return False
        if self.listener_id is not None and self.listener_id != listener_id:
            return False
        if self.backend is None:
            return True
        return (
            self.backend.listener_id == listener_id
            and self.backend.target in set(targets)
            and self.backend.port == backend_port
        )

    def matches_transition(self, load_balancer_id: str, t: Transition) -> bool:
        targets = _targets(t.instance_id, t.private_ip_address)
        return self.matches(load_balancer_id, t.listener_id, targets, t.backend_port)

    def matches_scope(self, load_balancer_id: str, scope: str) -> bool:
        """Monitoring of a scope (the load balancer, or one listener target) is silenced by a
        silence of the whole load balancer, or of that listener; never discovery's."""
        if scope == DISCOVERY_SCOPE or not self.matches_load_balancer(load_balancer_id):
            return False
        if self.backend is not None:
            return False
        return self.listener_id is None or self.listener_id == scope != WHOLE_LOAD_BALANCER

    @classmethod
    def gone(cls, silence_id: str, load_balancer_id: str) -> Silence:
        """A silence a load balancer's state remembers but the table no longer has (expired
        long ago): taken as covering the whole load balancer, so its end is still told."""
        return cls(
            id=silence_id,
            load_balancer_id=load_balancer_id,
            starts="1970-01-01T00:00:00+00:00",
            ends="1970-01-02T00:00:00+00:00",
            comment="(no longer stored)",
            author="",
            created_at="1970-01-01T00:00:00+00:00",
        )

    # -- storage ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["backend"] = str(self.backend) if self.backend else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Silence:
        values = dict(data)
        values["backend"] = Backend.parse(values["backend"]) if values.get("backend") else None
        return cls(**values)


def latest_occurrence(cron: str, timezone: str, tick: datetime) -> datetime | None:
    """The latest cron occurrence at or before `tick`, in the timezone's local time."""
    zone = ZoneInfo(timezone)
    iterator = CronSim(cron, (tick + timedelta(seconds=1)).astimezone(zone), reverse=True)
    occurrence: datetime | None = next(iterator, None)
    return occurrence


def validate(s: Silence) -> None:
    """Refuse what cannot be right, naming it (the CLI's exit 2, nothing written)."""
    if not s.comment.strip():
        raise SilenceError("--comment: a silence needs a comment saying why")
    if not s.load_balancer_id.strip():
        raise SilenceError("--load-balancer-id: required ('*' for every load balancer)")
    starts = parse_time(s.starts, "--from")
    ends = parse_time(s.ends, "--until") if s.ends is not None else None
    if ends is not None and ends <= starts:
        raise SilenceError(f"--until: {s.ends} is not after --from {s.starts}")
    if s.cron is None:
        if ends is None:
            raise SilenceError("--until, --for or --until-healthy is required")
        if ends - starts > MAX_WINDOW:
            raise SilenceError(f"the window is {ends - starts}, longer than 30 days")
        return
    if s.until_healthy:
        raise SilenceError("--cron and --until-healthy do not go together")
    _validate_cron(s.cron, s.timezone)
    minutes = s.duration_minutes or 0
    if not 0 < minutes <= MAX_WINDOW.total_seconds() / 60:
        raise SilenceError("--duration: between 1 minute and 30 days, with --cron")


def _validate_cron(cron: str, timezone: str) -> None:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SilenceError(f"--timezone: unknown IANA timezone {timezone!r}") from None
    fields = cron.split()
    if len(fields) != 5:
        raise SilenceError(
            f"--cron: expected 5 fields (minute hour day month weekday), got {cron!r}"
        )
    if not fields[2].startswith("*") and not fields[4].startswith("*"):
        raise SilenceError(
            f"--cron: {cron!r} sets both day-of-month and day-of-week, which cron ORs; for "
            "'the second Tuesday' write '2#2' in day-of-week and '*' in day-of-month"
        )
    try:
        CronSim(cron, datetime(2026, 1, 1, tzinfo=zone))
    except (CronSimError, ValueError) as error:
        raise SilenceError(f"--cron: {cron!r} is not a cron expression ({error})") from None


def parse_time(raw: str, option: str) -> datetime:
    """An ISO 8601 time with a zone; SilenceError naming `option` otherwise."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise SilenceError(f"{option}: not an ISO 8601 time: {raw!r}") from None
    if moment.tzinfo is None:
        raise SilenceError(f"{option}: give a time zone (e.g. Z for UTC): {raw!r}")
    return moment


# == applying silences to a load balancer's notifications ========================================


def active_for(silences: Sequence[Silence], load_balancer_id: str, tick: datetime) -> list[Silence]:
    return [s for s in silences if s.matches_load_balancer(load_balancer_id) and s.active_at(tick)]


@dataclass(frozen=True, slots=True)
class Split:
    sent: Notification | None
    held: tuple[tuple[str, Notification], ...]  # (silence id, what it holds back)


def split(notification: Notification, silences: Sequence[Silence], state: LbState) -> Split:
    """What a notification may say now, and what active silences hold back (by silence)."""
    if not silences:
        return Split(notification, ())
    lb = notification.load_balancer_id
    if notification.event_type == REMINDER:
        return Split(_unsilenced_reminder(notification, silences, state), ())
    holders: dict[str, tuple[list[Transition], list[Any]]] = {}
    sent_t: list[Transition] = []
    for t in notification.transitions:
        holder = next((s.id for s in silences if s.matches_transition(lb, t)), None)
        if holder is None:
            sent_t.append(t)
        else:
            holders.setdefault(holder, ([], []))[0].append(t)
    sent_e = []
    for e in notification.monitor_events:
        holder = next((s.id for s in silences if s.matches_scope(lb, e.scope)), None)
        if holder is None:
            sent_e.append(e)
        else:
            holders.setdefault(holder, ([], []))[1].append(e)
    if not holders:
        return Split(notification, ())
    held = tuple(
        (sid, _part(notification, ts, es, f"{notification.id}~{sid}", silenced_by=sid))
        for sid, (ts, es) in sorted(holders.items())
    )
    sent = _part(notification, sent_t, sent_e, notification.id) if sent_t or sent_e else None
    return Split(sent, held)


def _unsilenced_reminder(
    reminder: Notification, silences: Sequence[Silence], state: LbState
) -> Notification | None:
    """Reminders pause for the listeners a silence covers: the whole listener, or every backend
    of it that is down (an acknowledgement of the outage). The rest are still reminded of."""
    left = tuple(
        lid for lid in reminder.critical_listeners if not _listener_covered(lid, silences, state)
    )
    if left == reminder.critical_listeners:
        return reminder
    if not left:
        return None
    return compose(
        notification_id=reminder.id,
        subject_id=reminder.load_balancer_id,
        subject_name=reminder.load_balancer_name,
        at=reminder.observed_at,
        view=dataclasses.replace(View.of(reminder), critical=left),
        reminder=True,
        request_id=reminder.request_id,
    )


def _listener_covered(listener_id: str, silences: Sequence[Silence], state: LbState) -> bool:
    lb = state.load_balancer_id
    if any(s.matches_scope(lb, listener_id) for s in silences):
        return True
    down = [
        b
        for b in state.backends.values()
        if b.listener_id == listener_id and any(u.notified == DEAD for u in b.units.values())
    ]
    return bool(down) and all(
        any(
            s.matches(lb, b.listener_id, _targets(b.instance_id, b.private_ip_address),
                      b.backend_port)
            for s in silences
        )
        for b in down
    )  # fmt: skip


def _targets(instance_id: str | None, private_ip_address: str | None) -> list[str]:
    return [x for x in (instance_id, private_ip_address) if x]


def _part(
    n: Notification,
    transitions: Sequence[Transition],
    events: Sequence[Any],
    notification_id: str,
    *,
    silenced_by: str | None = None,
) -> Notification:
    part = compose(
        notification_id=notification_id,
        subject_id=n.load_balancer_id,
        subject_name=n.load_balancer_name,
        at=n.observed_at,
        view=View.of(n),
        transitions=transitions,
        events=events,
        retired=n.retired,
        request_id=n.request_id,
    )
    return dataclasses.replace(part, silenced_by=silenced_by)


def unhealthy_now(state: LbState, silence: Silence) -> tuple[UnitStatus, ...]:
    """Every unit the silence matches that users would want to hear about: down or Close."""
    out: list[UnitStatus] = []
    lb = state.load_balancer_id
    for backend in state.backends.values():
        targets = _targets(backend.instance_id, backend.private_ip_address)
        if not silence.matches(lb, backend.listener_id, targets, backend.backend_port):
            continue
        for unit_key, unit in sorted(backend.units.items()):
            if unit.notified in (DEAD, CLOSE):
                out.append(
                    UnitStatus(
                        listener_id=backend.listener_id,
                        listener_name=backend.listener_name,
                        instance_id=backend.instance_id,
                        private_ip_address=backend.private_ip_address,
                        backend_port=backend.backend_port,
                        port=None if unit_key == "*" else int(unit_key),
                        status=unit.notified,
                        since=unit.since,
                    )
                )
    return tuple(out)


def all_healthy(states: Iterable[LbState], silence: Silence) -> bool:
    """Nothing the silence matches is down any more (an acknowledgement ends itself)."""
    return not any(
        u.status == DEAD
        for state in states
        if silence.matches_load_balancer(state.load_balancer_id)
        for u in unhealthy_now(state, silence)
    )


def maintenance_ended(
    state: LbState, silence: Silence, held: Sequence[Notification], *, at: str
) -> Notification | None:
    """The one message about a load balancer when a silence over it ends: what differs from the
    start of the window (the net of what it held; downs that came and went listed for the email)
    and what is unhealthy now. None when everything is healthy and as before."""
    net = coalesce(held)
    transitions = net.transitions if net else ()
    events = net.monitor_events if net else ()
    unhealthy = unhealthy_now(state, silence)
    if not (transitions or events or unhealthy):
        return None
    counted = tally(state)
    if held:
        # It tells what happened inside the window, before anything this run saw afterwards:
        # its id sorts right after what it held, so merging it with this run's own changes
        # (coalesce orders by id) keeps observation order.
        notification_id = f"{max(n.id for n in held)}~end"
    else:
        state.seq += 1
        notification_id = f"{state.load_balancer_id}#{state.seq:08d}"
    return compose(
        notification_id=notification_id,
        subject_id=state.load_balancer_id,
        subject_name=state.load_balancer_name,
        at=at,
        view=View(counted.counts, counted.listeners, tuple(sorted(counted.critical))),
        transitions=transitions,
        events=events,
        resolved=net.resolved if net else (),
        retired=state.retired,
        coalesced=sum(n.coalesced for n in held) or 1,
        ids=[i for n in held for i in n.all_ids],
        maintenance=silence.id,
        unhealthy=unhealthy,
    )
