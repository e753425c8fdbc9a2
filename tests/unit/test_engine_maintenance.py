"""Maintenance silences: definitions refused with a reason, windows, matching, holding, the end."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from engine_helpers import Runner, be, failure

from zlb_health.config import Thresholds
from zlb_health.engine.maintenance import (
    Backend,
    Silence,
    SilenceError,
    Split,
    active_for,
    all_healthy,
    maintenance_ended,
    split,
)
from zlb_health.engine.notifications import UnitStatus
from zlb_health.engine.rules import retire
from zlb_health.engine.state import LbState


def silence(**fields: Any) -> Silence:
    values: dict[str, Any] = {
        "id": "sil-1",
        "load_balancer_id": "lb-1",
        "starts": "2026-11-23T12:00:00+00:00",
        "ends": "2026-11-23T13:00:00+00:00",
        "comment": "kernel upgrade",
        "author": "ana",
        "created_at": "2026-11-23T11:59:00+00:00",
        **fields,
    }
    return Silence(**values)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# -- definitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"load_balancer_id": ""}, "--load-balancer-id: required ('*' for every load balancer)"),
        ({"comment": "  "}, "--comment: a silence needs a comment saying why"),
        (
            {"ends": "2026-11-23T12:00:00+00:00"},
            "--until: 2026-11-23T12:00:00+00:00 is not after --from 2026-11-23T12:00:00+00:00",
        ),
        (
            {"ends": "2026-12-23T12:00:01+00:00"},
            "the window is 30 days, 0:00:01, longer than 30 days",
        ),
        ({"ends": None}, "--until, --for or --until-healthy is required"),
        (
            {"starts": "2026-11-23 12:00"},
            "--from: give a time zone (e.g. Z for UTC): '2026-11-23 12:00'",
        ),
        ({"ends": "tomorrow"}, "--until: not an ISO 8601 time: 'tomorrow'"),
        ({"cron": "0 18 * * 5"}, "--duration: between 1 minute and 30 days, with --cron"),
        (
            {"cron": "0 18 * *", "duration_minutes": 60},
            "--cron: expected 5 fields (minute hour day month weekday), got '0 18 * *'",
        ),
        (
            {"cron": "0 25 * * *", "duration_minutes": 60},
            "--cron: '0 25 * * *' is not a cron expression (Bad hour)",
        ),
        (
            {"cron": "0 2 8-14 * 2", "duration_minutes": 60},
            "--cron: '0 2 8-14 * 2' sets both day-of-month and day-of-week, which cron ORs; "
            "for 'the second Tuesday' write '2#2' in day-of-week and '*' in day-of-month",
        ),
        (
            {"cron": "0 2 * * *", "duration_minutes": 60, "timezone": "Mars/Base"},
            "--timezone: unknown IANA timezone 'Mars/Base'",
        ),
        (
            {"cron": "0 2 * * *", "duration_minutes": 0},
            "--duration: between 1 minute and 30 days, with --cron",
        ),
        (
            {"cron": "0 2 * * *", "duration_minutes": 43_201},
            "--duration: between 1 minute and 30 days, with --cron",
        ),
        (
            {"cron": "0 2 * * *", "duration_minutes": 60, "until_healthy": True},
            "--cron and --until-healthy do not go together",
        ),
    ],
)
def test_a_definition_that_cannot_be_right_is_refused_naming_why(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(SilenceError) as refused:
        silence(**fields)
    assert str(refused.value) == message


@pytest.mark.parametrize("cron", ["0 2 8-14 * *", "0 2 * * 2#2", "0 2 * * *"])
def test_either_day_field_alone_is_allowed(cron: str) -> None:
    assert silence(cron=cron, duration_minutes=60, ends=None).cron == cron


def test_a_window_of_exactly_30_days_is_allowed() -> None:
    assert silence(ends="2026-12-23T12:00:00+00:00").ends == "2026-12-23T12:00:00+00:00"
    assert silence(cron="0 2 * * *", duration_minutes=43_200, ends=None).cron == "0 2 * * *"
    assert silence(cron="0 2 * * *", duration_minutes=1, ends=None).duration_minutes == 1


def test_a_backend_is_listener_target_port() -> None:
    assert Backend.parse("lsn-1/vm-1/80") == Backend("lsn-1", "vm-1", "80")
    with pytest.raises(SilenceError, match="LISTENER/TARGET/PORT"):
        Backend.parse("lsn-1/vm-1")
    with pytest.raises(SilenceError, match="LISTENER/TARGET/PORT"):
        Backend.parse("lsn-1//80")


def test_a_silence_round_trips_through_its_stored_form() -> None:
    s = silence(listener_id="lsn-1", backend=Backend("lsn-1", "vm-1", "80"), until_healthy=True)
    assert s.to_dict()["backend"] == "lsn-1/vm-1/80"
    assert Silence.from_dict(s.to_dict()) == s
    plain = silence()
    assert plain.to_dict()["backend"] is None
    assert Silence.from_dict(plain.to_dict()) == plain


# -- when --------------------------------------------------------------------------------------


def test_a_one_time_window_is_from_inclusive_until_exclusive() -> None:
    s = silence()
    assert not s.active_at(utc("2026-11-23T11:59:59+00:00"))
    assert s.active_at(utc("2026-11-23T12:00:00+00:00"))
    assert s.active_at(utc("2026-11-23T12:59:59+00:00"))
    assert not s.active_at(utc("2026-11-23T13:00:00+00:00"))
    expired = dataclasses.replace(s, expired_at="2026-11-23T12:30:00+00:00")
    assert expired.active_at(utc("2026-11-23T12:29:00+00:00"))
    assert not expired.active_at(utc("2026-11-23T12:30:00+00:00"))


def weekend(**fields: Any) -> Silence:
    """Friday 18:00 to Sunday 18:00, Berlin time, for ever."""
    values: dict[str, Any] = {
        "cron": "0 18 * * 5",
        "duration_minutes": 48 * 60,
        "timezone": "Europe/Berlin",
        "starts": "2026-11-01T00:00:00+00:00",
        "ends": None,
        **fields,
    }
    return silence(**values)


@pytest.mark.parametrize(
    ("moment", "active"),
    [
        ("2026-11-27T17:59:00+01:00", False),  # Friday, a minute before
        ("2026-11-27T18:00:00+01:00", True),  # Friday 18:00 sharp
        ("2026-11-28T03:00:00+01:00", True),  # across midnight
        ("2026-11-29T17:59:00+01:00", True),  # Sunday, a minute before the end
        ("2026-11-29T18:00:00+01:00", False),  # Sunday 18:00: over
        ("2026-12-01T12:00:00+01:00", False),  # a Tuesday
        ("2027-11-27T12:00:00+01:00", True),  # a year later: still recurring (a Saturday)
    ],
)
def test_a_weekend_window_spans_midnight_and_recurs_for_ever(moment: str, active: bool) -> None:
    assert weekend().active_at(utc(moment)) is active


def test_a_window_that_began_before_the_silence_was_made_is_active_at_once() -> None:
    made_on_saturday = weekend(starts="2026-11-28T10:00:00+00:00")
    assert made_on_saturday.active_at(utc("2026-11-28T10:00:00+00:00"))
    assert not made_on_saturday.active_at(utc("2026-11-28T09:59:00+00:00"))


@pytest.mark.parametrize(
    ("moment", "active"),
    [
        ("2026-12-08T02:30:00+01:00", True),  # the 2nd Tuesday of December
        ("2026-12-01T02:30:00+01:00", False),  # the 1st
        ("2026-12-15T02:30:00+01:00", False),  # the 3rd
        ("2026-12-08T04:00:00+01:00", False),  # the 2nd, after its two hours
        ("2027-01-12T02:30:00+01:00", True),  # the 2nd Tuesday of January
    ],
)
def test_patch_day_is_the_second_tuesday(moment: str, active: bool) -> None:
    s = silence(
        cron="0 2 * * 2#2", duration_minutes=120, timezone="Europe/Berlin", ends=None,
        starts="2026-11-01T00:00:00+00:00",
    )  # fmt: skip
    assert s.active_at(utc(moment)) is active


def test_a_nightly_window_follows_daylight_saving_changes() -> None:
    """01:00 local for three hours: 00:00-03:00 UTC in winter, 23:00-02:00 UTC in summer."""
    nightly = silence(
        cron="0 1 * * *", duration_minutes=180, timezone="Europe/Berlin", ends=None,
        starts="2026-01-01T00:00:00+00:00",
    )  # fmt: skip
    # The night clocks go forward (29 March): opens at 01:00 CET = 00:00 UTC, 3 hours elapsed.
    assert nightly.active_at(utc("2026-03-29T02:59:00+00:00"))
    assert not nightly.active_at(utc("2026-03-29T03:00:00+00:00"))
    # Summer: 01:00 CEST = 23:00 UTC the day before.
    assert nightly.active_at(utc("2026-07-14T23:00:00+00:00"))
    assert not nightly.active_at(utc("2026-07-14T22:59:00+00:00"))
    assert not nightly.active_at(utc("2026-07-15T02:00:00+00:00"))
    # The night clocks go back (25 October): 01:00 CEST = 23:00 UTC on the 24th.
    assert nightly.active_at(utc("2026-10-24T23:00:00+00:00"))
    assert not nightly.active_at(utc("2026-10-25T02:00:00+00:00"))


def test_a_recurring_window_opens_on_its_second_and_closes_after_its_duration() -> None:
    nightly = silence(cron="0 2 * * *", duration_minutes=60, ends=None)
    assert not nightly.active_at(utc("2026-11-24T01:59:59+00:00"))
    assert nightly.active_at(utc("2026-11-24T02:00:00+00:00"))
    assert nightly.active_at(utc("2026-11-24T02:59:59+00:00"))
    assert not nightly.active_at(utc("2026-11-24T03:00:00+00:00"))


# -- what ---------------------------------------------------------------------------------------


def test_what_a_silence_matches() -> None:
    whole = silence()
    assert whole.matches("lb-1", "lsn-9", ["vm-9"], "443")
    assert not whole.matches("lb-2", "lsn-1", ["vm-1"], "80")
    assert silence(load_balancer_id="*").matches("lb-2", "lsn-1", ["vm-1"], "80")
    listener = silence(listener_id="lsn-1")
    assert listener.matches("lb-1", "lsn-1", ["vm-1"], "80")
    assert not listener.matches("lb-1", "lsn-2", ["vm-1"], "80")
    one = silence(backend=Backend("lsn-1", "10.0.0.3", "80"))
    assert one.matches("lb-1", "lsn-1", ["vm-1", "10.0.0.3"], "80")  # by its IP
    assert not one.matches("lb-1", "lsn-1", ["vm-1", "10.0.0.3"], "443")
    assert not one.matches("lb-1", "lsn-2", ["vm-1", "10.0.0.3"], "80")
    assert [s.id for s in active_for([whole, one], "lb-1", utc("2026-11-23T12:30:00+00:00"))] == [
        "sil-1",
        "sil-1",
    ]
    assert active_for([whole], "lb-1", utc("2026-11-23T13:30:00+00:00")) == []


def test_monitoring_is_silenced_by_the_whole_load_balancer_or_its_listener_never_discovery() -> (
    None
):
    assert silence().matches_scope("lb-1", "")
    assert silence().matches_scope("lb-1", "lsn-1")
    assert silence(listener_id="lsn-1").matches_scope("lb-1", "lsn-1")
    assert not silence(listener_id="lsn-1").matches_scope("lb-1", "")
    assert not silence(backend=Backend("lsn-1", "vm-1", "80")).matches_scope("lb-1", "lsn-1")
    assert not silence(load_balancer_id="*").matches_scope("*", "discovery")


# -- holding back, and the end -----------------------------------------------------------------


def test_a_silence_holds_back_exactly_what_it_matches() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"), be("i-3", listener="lsn-2"))
    n = r.step(be("i-1", "Dead"), be("i-2", "Dead"), be("i-3", "Dead", listener="lsn-2"))
    assert n is not None
    parts = split(n, [silence(listener_id="lsn-1")], _state(r))
    assert parts.sent is not None
    assert [(t.listener_id, t.target) for t in parts.sent.transitions] == [("lsn-2", "i-3")]
    ((silence_id, held),) = parts.held
    assert silence_id == "sil-1"
    assert held.silenced_by == "sil-1"
    assert [(t.listener_id, t.target) for t in held.transitions] == [
        ("lsn-1", "i-1"),
        ("lsn-1", "i-2"),
    ]
    assert held.id == f"{n.id}~sil-1"
    assert parts.sent.id == n.id
    assert split(n, [silence(listener_id="lsn-9")], _state(r)) == Split(n, ())
    assert split(n, [], _state(r)) == Split(n, ())
    assert (held.observed_at, held.request_id, held.load_balancer_name) == (
        n.observed_at, n.request_id, "lb-one"
    )  # fmt: skip
    assert split(n, [], _state(r)).sent == n


def test_a_silence_of_a_backend_known_by_its_address_holds_that_backend_only() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("10.0.0.8"), be("10.0.0.9"), be("i-1"))
    n = r.step(be("10.0.0.8", "Dead"), be("10.0.0.9", "Dead"), be("i-1", "Dead"))
    assert n is not None
    by_address = silence(backend=Backend("lsn-1", "10.0.0.9", "80"))
    parts = split(n, [by_address], _state(r))
    assert parts.sent is not None
    assert [t.target for t in parts.sent.transitions] == ["10.0.0.8", "i-1"]
    ((_, held),) = parts.held
    assert [t.target for t in held.transitions] == ["10.0.0.9"]
    ended = maintenance_ended(_state(r), by_address, [held], at="2026-11-23T13:00:00.000Z")
    assert ended is not None
    assert [u.private_ip_address for u in ended.unhealthy] == ["10.0.0.9"]
    assert (ended.id, ended.coalesced, ended.ids) == (f"{held.id}~end", 1, ())
    by_instance = split(n, [silence(backend=Backend("lsn-1", "i-1", "80"))], _state(r))
    assert [[t.target for t in h.transitions] for _, h in by_instance.held] == [["i-1"]]
    other_port = silence(backend=Backend("lsn-1", "10.0.0.9", "8080"))
    assert split(n, [other_port], _state(r)).held == ()


def test_monitoring_degraded_of_a_silenced_load_balancer_is_held_and_reminders_pause() -> None:
    r = Runner(Thresholds(1, 1, 1, 10))
    r.step(be())
    degraded = r.fail()
    assert degraded is not None
    assert split(degraded, [silence()], _state(r)).sent is None
    r.step(be())
    r.step(be(status="Dead"))
    reminder = r.step(be(status="Dead"), minutes=10)
    assert reminder is not None
    assert reminder.event_type == "reminder"
    state = _state(r)
    assert split(reminder, [silence()], state) == split(
        reminder, [silence(listener_id="lsn-1")], state
    )
    assert split(reminder, [silence()], state).sent is None
    assert split(reminder, [silence(listener_id="lsn-9")], state) == Split(reminder, ())
    # An acknowledgement of the down backend itself pauses the reminder about its listener too.
    down = silence(backend=Backend("lsn-1", "i-1", "80"), until_healthy=True)
    assert split(reminder, [down], state).sent is None
    assert split(reminder, [silence(backend=Backend("lsn-1", "i-9", "80"))], state).sent == reminder


def test_monitoring_of_a_silenced_listener_is_held_and_of_the_others_sent() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    both = frozenset({"lsn-1", "lsn-2"})
    r.step(be("i-1"), be("i-2", listener="lsn-2"), listener_filter=both)
    r.minute = 2
    failures = failure(2, scope="lsn-1").failures + failure(2, scope="lsn-2").failures
    n = r.apply(dataclasses.replace(failure(2), failures=failures)).notification
    assert n is not None
    parts = split(n, [silence(listener_id="lsn-2")], _state(r))
    assert parts.sent is not None
    assert [e.scope for e in parts.sent.monitor_events] == ["lsn-1"]
    ((sid, held),) = parts.held
    assert (sid, [e.scope for e in held.monitor_events]) == ("sil-1", ["lsn-2"])
    ended = maintenance_ended(
        _state(r), silence(listener_id="lsn-2"), [held], at="2026-11-23T13:00:00.000Z"
    )
    assert ended is not None
    assert [(e.scope, e.change) for e in ended.monitor_events] == [("lsn-2", "degraded")]


def test_the_end_of_a_window_that_held_several_notifications_counts_them_all() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    first = r.step(be("i-1", "Dead"), be("i-2"))
    second = r.step(be("i-1", "Dead"), be("i-2", "Dead"))
    assert first is not None
    assert second is not None
    held = [h for n in (first, second) for _, h in split(n, [silence()], _state(r)).held]
    ended = maintenance_ended(_state(r), silence(), held, at="2026-11-23T13:00:00.000Z")
    assert ended is not None
    assert (ended.coalesced, ended.ids, ended.id) == (
        2, (first.id + "~sil-1", second.id + "~sil-1"), second.id + "~sil-1~end"
    )  # fmt: skip


def test_the_last_word_of_a_deleted_load_balancer_keeps_saying_so_when_held() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2", listener="lsn-2"))
    last = retire(_state(r), "deleted", at=datetime(2024, 5, 1, 12, 5, tzinfo=UTC)).notification
    assert last is not None
    parts = split(last, [silence(listener_id="lsn-1")], _state(r))
    ((_, held),) = parts.held
    assert parts.sent is not None
    assert (held.retired, parts.sent.retired) == ("deleted", "deleted")
    gone = retire(_state(r), "deleted", at=datetime(2024, 5, 1, 12, 5, tzinfo=UTC)).new_state
    ended = maintenance_ended(
        gone, silence(listener_id="lsn-1"), [held], at="2026-11-23T13:00:00.000Z"
    )
    assert ended is not None
    assert (ended.retired, [t.target for t in ended.transitions]) == ("deleted", ["i-1"])


def test_acknowledging_a_down_backend_known_by_its_address_pauses_its_reminder() -> None:
    r = Runner(Thresholds(1, 1, 1, 10))
    r.step(be("10.0.0.9"))
    r.step(be("10.0.0.9", "Dead"))
    reminder = r.step(be("10.0.0.9", "Dead"), minutes=10)
    assert reminder is not None
    assert reminder.event_type == "reminder"
    ack = silence(backend=Backend("lsn-1", "10.0.0.9", "80"), until_healthy=True)
    assert split(reminder, [ack], _state(r)).sent is None


def test_a_reminder_keeps_the_listeners_nobody_acknowledged() -> None:
    r = Runner(Thresholds(1, 1, 1, 10))
    r.step(be("i-1"), be("i-2", listener="lsn-2"))
    r.step(be("i-1", "Dead"), be("i-2", "Dead", listener="lsn-2"))
    reminder = r.step(be("i-1", "Dead"), be("i-2", "Dead", listener="lsn-2"), minutes=10)
    assert reminder is not None
    assert reminder.critical_listeners == ("lsn-1", "lsn-2")
    sent = split(reminder, [silence(backend=Backend("lsn-1", "i-1", "80"))], _state(r)).sent
    assert sent is not None
    assert (sent.event_type, sent.severity, sent.critical_listeners) == (
        "reminder", "critical", ("lsn-2",)
    )  # fmt: skip
    assert "lsn-1" not in sent.summary
    assert (sent.id, sent.observed_at, sent.request_id) == (
        reminder.id, reminder.observed_at, reminder.request_id
    )  # fmt: skip
    assert (sent.load_balancer_id, sent.load_balancer_name) == ("lb-1", "lb-one")
    assert split(reminder, [silence(listener_id="lsn-1")], _state(r)).held == ()


def _state(r: Runner) -> LbState:
    assert r.state is not None
    return r.state


def test_the_end_says_nothing_when_all_is_healthy_and_as_before() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    down = r.step(be("i-1", "Dead"), be("i-2"))
    up = r.step(be("i-1"), be("i-2"))
    assert down is not None
    assert up is not None
    held = [h for n in (down, up) for _, h in split(n, [silence()], _state(r)).held]
    assert maintenance_ended(_state(r), silence(), held, at="2026-11-23T13:00:00.000Z") is None
    assert maintenance_ended(_state(r), silence(), [], at="2026-11-23T13:00:00.000Z") is None


def test_the_end_tells_what_differs_and_what_is_still_down() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"), be("i-3"))
    first = r.step(be("i-1", "Dead"), be("i-2", "Dead"), be("i-3"))
    second = r.step(be("i-1"), be("i-2", "Dead"), be("i-3"))
    assert first is not None
    assert second is not None
    held = [h for n in (first, second) for _, h in split(n, [silence()], _state(r)).held]
    ended = maintenance_ended(_state(r), silence(), held, at="2026-11-23T13:00:00.000Z")
    assert ended is not None
    assert (ended.event_type, ended.severity, ended.maintenance) == (
        "maintenance_ended", "warning", "sil-1"
    )  # fmt: skip
    assert [(t.kind, t.target) for t in ended.transitions] == [("down", "i-2")]
    assert [(u.instance_id, u.status) for u in ended.unhealthy] == [("i-2", "Dead")]
    assert [r.what for r in ended.resolved] == ["i-1 on listener name-lsn-1: down and back"]
    assert ended.summary == (
        "lb-one: maintenance ended, 1 still down; 1 backend down; "
        "1 problem came and went during the window."
    )


def test_the_end_is_critical_when_a_listener_it_covered_has_nothing_healthy() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"))
    n = r.step(be("i-1", "Dead"))
    assert n is not None
    held = [h for _, h in split(n, [silence()], _state(r)).held]
    ended = maintenance_ended(_state(r), silence(), held, at="2026-11-23T13:00:00.000Z")
    assert ended is not None
    assert ended.severity == "critical"


def test_the_end_lists_what_is_unhealthy_now_backend_by_backend_and_port_by_port() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-22", detail={80: "Alive", 443: "Alive"}))
    r.step(be("i-1", "Dead"), be("i-22", "Dead", detail={80: "Alive", 443: "Dead"}))
    state = _state(r)
    seq = state.seq
    only_i22 = silence(backend=Backend("lsn-1", "i-22", "80"))
    ended = maintenance_ended(state, only_i22, [], at="2026-11-23T13:00:00.000Z")
    assert ended is not None
    assert ended.unhealthy == (
        UnitStatus(
            "lsn-1", "name-lsn-1", "i-22", "10.0.0.4", "80", 443, "Dead", "2024-05-01T12:02:00.000Z"
        ),
    )
    assert (ended.id, state.seq, ended.observed_at) == (
        f"lb-1#{seq + 1:08d}", seq + 1, "2026-11-23T13:00:00.000Z"
    )  # fmt: skip
    assert (ended.coalesced, ended.ids, ended.maintenance) == (1, (), "sil-1")


def test_something_down_before_the_window_and_still_down_is_told_at_its_end() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    r.step(be("i-1", "Dead"), be("i-2"))  # told before the window
    ended = maintenance_ended(_state(r), silence(), [], at="2026-11-23T13:00:00.000Z")
    assert ended is not None
    assert (ended.transitions, [u.instance_id for u in ended.unhealthy]) == ((), ["i-1"])


@pytest.mark.parametrize(
    ("others", "still", "severity"),
    [
        ((), "Dead", "critical"),  # nothing healthy left on the listener, though nothing changed
        (("i-2",), "Dead", "warning"),  # down, the listener still serves
        ((), "Close", "info"),  # health check disabled is nothing down
    ],
)
def test_the_end_is_as_severe_as_what_it_covers_is_now_without_any_change(
    others: tuple[str, ...], still: str, severity: str
) -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), *map(be, others))
    r.step(be("i-1", still), *map(be, others))  # told before the window
    ended = maintenance_ended(_state(r), silence(), [], at="2026-11-23T13:00:00.000Z")
    assert ended is not None
    assert (ended.transitions, [(u.instance_id, u.status) for u in ended.unhealthy]) == (
        (), [("i-1", still)]
    )  # fmt: skip
    assert ended.severity == severity


def test_a_silence_no_longer_stored_still_has_its_end_told_for_the_whole_load_balancer() -> None:
    gone = Silence.gone("sil-7", "lb-1")
    assert (gone.id, gone.load_balancer_id, gone.whole_load_balancer) == ("sil-7", "lb-1", True)
    assert (gone.starts, gone.ends, gone.created_at) == (
        "1970-01-01T00:00:00+00:00", "1970-01-02T00:00:00+00:00", "1970-01-01T00:00:00+00:00"
    )  # fmt: skip
    assert (gone.comment, gone.author, gone.until_healthy, gone.cron) == (
        "(no longer stored)", "", False, None
    )  # fmt: skip
    assert not gone.active_at(utc("2026-11-23T12:30:00+00:00"))
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2", listener="lsn-2"))
    n = r.step(be("i-1", "Dead"), be("i-2", listener="lsn-2"))
    assert n is not None
    held = [h for _, h in split(n, [silence(listener_id="lsn-1")], _state(r)).held]
    ended = maintenance_ended(_state(r), gone, held, at="2026-11-23T13:00:00.000Z")
    assert ended is not None
    assert (ended.maintenance, [t.target for t in ended.transitions]) == ("sil-7", ["i-1"])
    assert [(u.listener_id, u.instance_id) for u in ended.unhealthy] == [("lsn-1", "i-1")]


def test_an_acknowledgement_is_over_once_nothing_it_covers_is_down() -> None:
    ack = silence(until_healthy=True, backend=Backend("lsn-1", "i-1", "80"))
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1", "Dead"), be("i-2", "Dead"))
    assert not all_healthy([_state(r)], ack)
    r.step(be("i-1"), be("i-2", "Dead"))
    assert all_healthy([_state(r)], ack)  # i-2 is down, but not acknowledged
    assert not all_healthy([_state(r)], silence(until_healthy=True))
