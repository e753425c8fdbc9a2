"""History from snapshots written on change and at a heartbeat: each holds until the next."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from zlb_health.adapters.store import Snapshot
from zlb_health.engine.maintenance import Silence
from zlb_health_tools.history import availability
from zlb_health_tools.spans import spans

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def snap(minute: float, status: str = "Alive", *, hb: int | None = 60, ok: bool = True) -> Snapshot:
    rows = (("lsn-a", "web", "vm-1", "10.0.0.1", "80", status, []),) if ok else ()
    return Snapshot("lb-a", at(minute), ok, "req", 1.0, rows=rows, heartbeat_minutes=hb)


def minutes_by_status(found: list) -> dict[str, float]:
    (row,) = availability(found)
    return {"alive": row.alive, "dead": row.dead, "other": row.other}


def test_a_snapshot_holds_until_the_next_one() -> None:
    found = spans([snap(0), snap(30, "Dead")], at(0), at(60), now=at(600))
    assert [(s.start, s.end) for s in found] == [(at(0), at(30)), (at(30), at(60))]
    assert minutes_by_status(found) == {"alive": 30.0, "dead": 30.0, "other": 0.0}


def test_the_snapshot_before_the_window_says_what_held_when_it_began() -> None:
    found = spans([snap(-45), snap(20, "Dead")], at(0), at(40), now=at(600))
    assert minutes_by_status(found) == {"alive": 20.0, "dead": 20.0, "other": 0.0}


def test_beyond_its_heartbeat_and_a_schedule_margin_a_snapshot_says_nothing() -> None:
    """Runs stopped (the watchdog's business): after 60 + 10 minutes without a snapshot, no
    data, not the last status stretched over the gap."""
    found = spans([snap(0, "Dead"), snap(180)], at(0), at(200), now=at(600))
    assert [(s.start, s.end) for s in found] == [(at(0), at(70)), (at(180), at(200))]
    assert minutes_by_status(found) == {"alive": 20.0, "dead": 70.0, "other": 0.0}


def test_the_last_snapshot_stops_at_the_window_end_or_now() -> None:
    found = spans([snap(0)], at(0), at(120), now=at(25))
    assert minutes_by_status(found) == {"alive": 25.0, "dead": 0.0, "other": 0.0}


def test_an_item_written_every_run_stands_for_one_minute() -> None:
    """Items from before the heartbeat (no heartbeatMinutes): one run each, as history counted
    them; with a snapshot every run, minutes are runs."""
    found = spans(
        [snap(0, hb=None), snap(1, "Dead", hb=None), snap(5, hb=None)], at(0), at(60), at(99)
    )
    assert minutes_by_status(found) == {"alive": 2.0, "dead": 1.0, "other": 0.0}


def test_a_failed_check_is_no_data() -> None:
    found = spans([snap(0), snap(10, ok=False), snap(20, "Dead")], at(0), at(30), now=at(99))
    assert minutes_by_status(found) == {"alive": 10.0, "dead": 10.0, "other": 0.0}


def _silence(
    cron: str | None,
    duration: int | None,
    zone: str = "UTC",
    *,
    ends: str = "2027-03-31T00:00:00+00:00",
    expired_at: str | None = None,
) -> Silence:
    return Silence(
        id="sil-1",
        load_balancer_id="lb-a",
        starts="2027-03-01T00:00:00+00:00",
        ends=ends,
        expired_at=expired_at,
        cron=cron,
        duration_minutes=duration,
        timezone=zone,
        comment="c",
        author="a",
        created_at="2027-03-01T00:00:00+00:00",
    )


@pytest.mark.parametrize(
    ("cron", "duration", "zone"),
    [
        ("0 22 * * *", 60, "Europe/Berlin"),  # across the spring change on 2027-03-28
        ("0 18 * * 5", 2880, "America/New_York"),  # Friday 18:00 to Sunday 18:00
        ("*/10 * * * *", 15, "UTC"),  # windows that overlap: one merged window
        ("30 2 * * *", 90, "Europe/Berlin"),  # 02:30 does not exist on 2027-03-28
    ],
)
def test_a_silences_windows_are_exactly_the_minutes_it_is_active(
    cron: str, duration: int, zone: str
) -> None:
    silence = _silence(
        cron,
        duration,
        zone,
        ends="2027-04-10T00:00:00+00:00",
        expired_at="2027-04-05T01:00:00+00:00",
    )
    start, end = datetime(2027, 3, 20, tzinfo=UTC), datetime(2027, 4, 12, tzinfo=UTC)
    windows = silence.windows(start, end)
    assert windows == sorted(windows)
    # Windows that touch or overlap are merged: each listed window is followed by a gap.
    assert all(lo < hi < next_lo for (lo, hi), (next_lo, _) in itertools.pairwise(windows))
    minutes = random.Random(20261201).sample(range(int((end - start).total_seconds() // 60)), 3000)
    for minute in minutes:
        moment = start + timedelta(minutes=minute)
        assert any(lo <= moment < hi for lo, hi in windows) == silence.active_at(moment), moment


def clock(hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, 10, hour, minute, tzinfo=UTC)


def test_windows_that_touch_are_one_window() -> None:
    every_half_hour = _silence("*/30 * * * *", 30)
    assert every_half_hour.windows(clock(0), clock(2)) == [(clock(0), clock(2))]


def test_a_span_that_begins_as_a_window_closes_has_no_window() -> None:
    daily = _silence("0 10 * * *", 30)  # 10:00 to 10:30
    assert daily.windows(clock(10, 30), clock(11)) == []
    assert daily.windows(clock(10, 29), clock(11)) == [(clock(10, 29), clock(10, 30))]


def test_an_empty_span_has_no_window() -> None:
    one_off = _silence(None, None)
    assert one_off.windows(clock(10), clock(10)) == []
    assert one_off.windows(clock(10), clock(10, 1)) == [(clock(10), clock(10, 1))]
    # The silence ended exactly where the span begins.
    assert (
        one_off.windows(datetime(2027, 3, 31, tzinfo=UTC), datetime(2027, 4, 2, tzinfo=UTC)) == []
    )
