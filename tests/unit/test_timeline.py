"""`zlb-health history`'s timeline: buckets, what a bucket shows, the strip, colour, progress."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from zlb_health.adapters.store import Snapshot
from zlb_health.engine.maintenance import Backend, Silence
from zlb_health_tools.history import (
    PageProgress,
    Silences,
    history_document,
    progress_line,
    render_history,
    strips,
)
from zlb_health_tools.spans import Span, spans
from zlb_health_tools.timeline import Buckets, Strip, bucket_health, classify, paint, use_colour

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.mark.parametrize(
    ("status", "detail", "health"),
    [
        ("Alive", None, "healthy"),
        ("Dead", None, "down"),
        ("Close", None, "close"),
        ("Unknown", None, "unknown"),
        ("Dead", [[8000, "Alive"], [8001, "Dead"]], "partial"),
        ("Dead", [[8000, "Dead"], [8001, "Dead"]], "down"),
        ("Alive", [[8000, "Alive"], [8001, "Alive"]], "healthy"),
        ("Close", [[80, "Close"]], "close"),
        ("Unknown", [[80, "Unknown"], [81, "Close"]], "unknown"),
    ],
)
def test_an_observation_is_classified_as_tally_counts(
    status: str, detail: list[list[object]] | None, health: str
) -> None:
    assert classify(status, detail) == health


@pytest.mark.parametrize(
    ("seen", "shown"),
    [
        ([], None),
        (["healthy", "healthy"], "healthy"),
        (["down", "down"], "down"),
        (["down", "failed"], "down"),  # a failed check observed nothing
        (["down", "unknown"], "down"),  # neither does Unknown
        (["healthy", "down"], "partial"),  # down for part of the bucket
        (["partial"], "partial"),
        (["healthy", "failed"], "healthy"),
        (["failed"], "failed"),
        (["unknown", "close"], "close"),
        (["unknown"], "unknown"),
        (["maintenance"], "maintenance"),
        (["down", "maintenance"], "down"),  # maintenance is no data for the bucket
        (["healthy", "maintenance"], "healthy"),
    ],
)
def test_a_bucket_shows_the_worst_of_what_it_saw(seen: list[str], shown: str | None) -> None:
    assert bucket_health(seen) == shown  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("span", "step_minutes", "count"),
    [
        (timedelta(minutes=10), 1, 11),  # the demo: one character per run
        (timedelta(hours=1), 2, 31),
        (timedelta(hours=24), 30, 49),
        (timedelta(days=7), 180, 57),
        (timedelta(days=30), 1440, 31),
    ],
)
def test_buckets_are_a_readable_size_that_fits_sixty_characters(
    span: timedelta, step_minutes: int, count: int
) -> None:
    buckets = Buckets.over(T0, T0 + span)
    assert (buckets.step, buckets.count) == (timedelta(minutes=step_minutes), count)
    assert buckets.count <= 60
    assert buckets.start <= T0
    assert buckets.end > T0 + span


def test_buckets_are_aligned_to_their_step_whatever_the_window_start() -> None:
    buckets = Buckets.over(minutes(7.5), minutes(7.5) + timedelta(hours=1))
    assert buckets.step == timedelta(minutes=2)
    assert buckets.start == minutes(6)
    assert (buckets.index(minutes(6)), buckets.index(minutes(7.99)), buckets.index(minutes(8))) == (
        0,
        0,
        1,
    )
    assert buckets.index(minutes(5.99)) is None
    assert buckets.index(buckets.end) is None
    assert buckets.describe() == "2026-11-23 12:06 .. 13:08 UTC, one character = 2 minutes"


def test_a_window_over_midnight_names_both_days() -> None:
    buckets = Buckets.over(minutes(-60), minutes(30 * 60))
    assert buckets.describe() == "2026-11-23 11:00 .. 2026-11-24 19:00 UTC, one character = 1 hour"


def test_a_strip_has_one_character_per_bucket() -> None:
    strip = Strip(Buckets.over(T0, minutes(5)))
    for minute, health in [(0, "healthy"), (1, "down"), (2, "down"), (2.5, "healthy")]:
        strip.add(minutes(minute), health)  # type: ignore[arg-type]
    strip.add(minutes(4), "failed")
    strip.add(minutes(99), "down")  # outside the window: ignored
    assert strip.text() == ".#x ! "  # 12:00 .. 12:05, both ends included
    assert strip.states() == ["healthy", "down", "partial", None, "failed", None]


def test_colour_marks_runs_of_the_same_symbol_once() -> None:
    assert paint("..##x! ?c") == (
        "\x1b[32m..\x1b[0m\x1b[1;31m##\x1b[0m\x1b[33mx\x1b[0m\x1b[35m!\x1b[0m \x1b[2m?\x1b[0m"
        "\x1b[36mc\x1b[0m"
    )


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "env", "coloured"),
    [
        (Tty(), {}, True),
        (Tty(), {"NO_COLOR": "1"}, False),
        (Tty(), {"NO_COLOR": ""}, True),  # no-color.org: set to something
        (io.StringIO(), {}, False),  # a pipe or a file
    ],
)
def test_colour_only_on_a_terminal_without_no_color(
    stream: io.StringIO, env: dict[str, str], coloured: bool
) -> None:
    assert use_colour(stream, env) is coloured


def snapshot(minute: float, *rows: tuple[object, ...], ok: bool = True) -> Snapshot:
    return Snapshot("lb-a", minutes(minute), ok, "req", 1.0, rows=tuple(rows))


def row(target: str, status: str, listener: str = "lsn-a", name: str = "web") -> tuple[object, ...]:
    return (listener, name, target, "10.0.0.1", "80", status, [])


HISTORY = [
    snapshot(0, row("vm-1", "Alive"), row("vm-2", "Alive"), row("vm-9", "Alive", "lsn-b", "api")),
    snapshot(1, row("vm-1", "Dead"), row("vm-2", "Alive"), row("vm-9", "Alive", "lsn-b", "api")),
    snapshot(2, ok=False),
    snapshot(3, row("vm-1", "Dead"), row("vm-9", "Alive", "lsn-b", "api")),
]


def test_history_prints_a_strip_per_backend_grouped_by_listener() -> None:
    out = io.StringIO()
    render_history("lb-a", HISTORY, [], backend=None, out=out, window=(T0, minutes(5)))
    assert out.getvalue() == (
        "lb-a: 4 snapshots (1 failed checks), 2026-11-23 12:00:00 .. 2026-11-23 12:03:00 UTC\n"
        "  timeline 2026-11-23 12:00 .. 12:06 UTC, one character = 1 minute\n"
        "  backend        timeline  availability  alive  dead  other  maint  last\n"
        "  listener web (lsn-a)\n"
        "  lsn-a/vm-1/80  |.#!#  |        33.33%      1     2      0      0  Dead\n"
        "  lsn-a/vm-2/80  |..!   |       100.00%      2     0      0      0  Alive\n"
        "  listener api (lsn-b)\n"
        "  lsn-b/vm-9/80  |..!.  |       100.00%      3     0      0      0  Alive\n"
        "  timeline: . healthy  x partly down  # down  ! check failed  ? unknown  c check off"
        "  m maintenance  (blank) no data\n"
        "  alive, dead, other, maint: minutes (a snapshot counts until the next one)\n"
        "  no notifications in this window\n"
    )


def test_time_under_a_silence_is_maintenance_and_left_out_of_availability() -> None:
    """A silence of vm-1 over minutes [1, 4): its Dead observations at 1 and 3 are maintenance,
    so vm-1's availability is its one observation outside (Alive): 100%."""
    silence = Silence(
        id="sil-1",
        load_balancer_id="lb-a",
        backend=Backend("lsn-a", "vm-1", "80"),
        starts=minutes(1).isoformat(),
        ends=minutes(4).isoformat(),
        comment="disk swap",
        author="ana",
        created_at=T0.isoformat(),
    )
    out = io.StringIO()
    render_history(
        "lb-a",
        HISTORY,
        [],
        backend="lsn-a/vm-1/80",
        out=out,
        window=(T0, minutes(5)),
        silences=Silences("lb-a", [silence]),
    )
    lines = out.getvalue().splitlines()
    assert lines[4] == "  lsn-a/vm-1/80  |.m!m  |       100.00%      1     0      0      2  Dead"
    assert lines[7] == (
        "  maintenance: 2 minutes under a silence (sil-1) are left out of the availability "
        "percentage"
    )
    document = history_document(
        "lb-a",
        HISTORY,
        [],
        backend=None,
        window=(T0, minutes(5)),
        silences=Silences("lb-a", [silence]),
    )
    by_backend = {a["backend"]: a for a in document["availability"]}
    assert (by_backend["lsn-a/vm-1/80"]["maintenance"], by_backend["lsn-a/vm-1/80"]["dead"]) == (
        2,
        0,
    )
    assert by_backend["lsn-a/vm-2/80"]["maintenance"] == 0  # another backend: not silenced
    assert [s["id"] for s in document["silences"]] == ["sil-1"]
    # Another load balancer's silence covers nothing here.
    span = Span(HISTORY[1], minutes(1), minutes(2))
    assert Silences("lb-a", [silence]).covered(span, HISTORY[1].rows[0]) == [
        (minutes(1), minutes(2))
    ]
    assert Silences("lb-b", [silence]).covered(span, HISTORY[1].rows[0]) == []


def test_history_colours_the_strip_on_request_only() -> None:
    out = io.StringIO()
    render_history(
        "lb-a", HISTORY[:2], [], backend="lsn-a/vm-1/80", out=out, colour=True, legend=False
    )
    assert "|\x1b[32m.\x1b[0m\x1b[1;31m#\x1b[0m|" in out.getvalue()
    assert "vm-2" not in out.getvalue()


def test_strips_mark_a_failed_check_on_every_backend() -> None:
    found = strips(spans(HISTORY, T0, minutes(4), minutes(10)), Buckets.over(T0, minutes(3)))
    assert {label: s.text() for label, s in found.items()} == {
        "lsn-a/vm-1/80": ".#!#",
        "lsn-a/vm-2/80": "..! ",
        "lsn-b/vm-9/80": "..!.",
    }


def test_progress_says_how_far_into_the_window_the_read_is() -> None:
    last = {"PK": {"S": "LB#lb-a"}, "SK": {"S": "SNAP#2026-11-23T18:00:00.000Z"}}
    window = (T0, minutes(24 * 60))
    assert progress_line("lb-a", last, window, pages=3, items=600) == (
        "reading lb-a snapshots: up to 2026-11-23 18:00 (25%), 3 pages, 600 items"
    )
    event = {"SK": {"S": "EVENT#2026-11-24T12:00:00.000Z#lb-a#00000001"}}
    assert progress_line("lb-a", event, window, pages=1, items=2) == (
        "reading lb-a notifications: up to 2026-11-24 12:00 (100%), 1 page, 2 items"
    )


def test_progress_shows_only_on_a_terminal_and_only_past_the_first_page() -> None:
    window = (T0, minutes(60))
    page = {"Items": [{}, {}], "LastEvaluatedKey": {"SK": {"S": "SNAP#2026-11-23T12:30:00.000Z"}}}
    quiet = io.StringIO()
    progress = PageProgress(quiet, "lb-a", *window, enabled=False)
    progress.on_page(page)
    progress.done()
    assert quiet.getvalue() == ""

    tty = Tty()
    progress = PageProgress(tty, "lb-a", *window, enabled=True)
    progress.on_page({"Items": [{}]})  # one page, the last: a short read shows nothing
    assert tty.getvalue() == ""
    progress.on_page(page)
    progress.done()
    line = "reading lb-a snapshots: up to 2026-11-23 12:30 (50%), 2 pages, 3 items"
    assert tty.getvalue() == f"\r{line}\r{' ' * len(line)}\r"
