"""One scope's answer applied to the backends: duplicates, absence, renumbering, streaks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from engine_helpers import Runner, be, key, observation
from hypothesis import given, settings
from hypothesis import strategies as st

from zlb_health.config import Thresholds
from zlb_health.engine import backends
from zlb_health.engine.backends import (
    COUNTING,
    UnitChange,
    absence_limit,
    kind_of,
    merge_duplicates,
    observe_backend,
    settled,
    streak_cap,
    worse,
)
from zlb_health.engine.state import WHOLE_BACKEND, BackendState, UnitState, backend_key
from zlb_health.zenlayer.models import DEAD, BackendHealth, PortHealth

# -- duplicates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "winner"),
    [
        ("Alive", "Dead", "Dead"),
        ("Alive", "Close", "Close"),
        ("Alive", "Unknown", "Unknown"),
        ("Close", "Unknown", "Unknown"),
        ("Close", "Dead", "Dead"),
        ("Unknown", "Dead", "Dead"),
        ("Checking", "Close", "Checking"),  # unrecognised: between Dead and Close, like Unknown
        ("Checking", "Dead", "Dead"),
        ("Alive", "Alive", "Alive"),
    ],
)
def test_of_two_rows_for_one_backend_the_worse_status_wins(a: str, b: str, winner: str) -> None:
    assert worse(a, b) == winner
    assert worse(b, a) == winner


def test_duplicate_rows_are_merged_per_backend_and_per_port_and_counted() -> None:
    keyed, duplicates = merge_duplicates(
        [
            be("i-1", detail={80: "Alive", 443: "Alive"}),
            be("i-2"),
            be("i-1", "Dead", detail={443: "Dead", 8443: "Close"}),
            be("i-1", "Unknown"),
            be("i-1", listener="lsn-2"),  # another listener: another backend
        ]
    )
    assert duplicates == 2
    assert list(keyed) == [backend_key(row) for row in keyed.values()]
    rows = list(keyed.values())
    assert [(r.listener_id, r.instance_id, r.health_status) for r in rows] == [
        ("lsn-1", "i-1", "Dead"),
        ("lsn-1", "i-2", "Alive"),
        ("lsn-2", "i-1", "Alive"),
    ]
    merged = rows[0]
    assert merged.health_status_detail == (
        PortHealth(80, "Alive"),
        PortHealth(443, "Dead"),
        PortHealth(8443, "Close"),
    )
    first = be("i-1", detail={80: "Alive", 443: "Alive"})
    assert (merged.listener_name, merged.protocol, merged.listener_port, merged.weight) == (
        first.listener_name, first.protocol, first.listener_port, first.weight
    )  # fmt: skip
    assert (merged.private_ip_address, merged.backend_port) == ("10.0.0.3", 80)


def test_duplicate_rows_in_an_answer_alert_once_with_the_worse_status() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    evaluation = r.apply(
        observation(2, be("i-1"), be("i-1", "Dead"), be("i-2", "Close"), be("i-2"), be("i-2"))
    )
    assert evaluation.duplicates == 3
    assert [(t.kind, t.target) for t in evaluation.transitions] == [
        ("down", "i-1"),
        ("closed", "i-2"),
    ]
    assert r.step(be("i-1", "Dead"), be("i-2", "Close")) is None
    assert r.last is not None
    assert r.last.duplicates == 0


def test_duplicate_rows_are_counted_over_every_polled_listener() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    both = frozenset({"lsn-1", "lsn-2"})
    twice = (be("i-1"), be("i-1"), be("i-2", listener="lsn-2"), be("i-2", listener="lsn-2"))
    evaluation = r.apply(observation(1, *twice, be("i-3", listener="lsn-2"), listener_filter=both))
    assert evaluation.duplicates == 2


@pytest.mark.parametrize("twice", [("Alive", "Dead"), ("Dead", "Alive")])
def test_a_port_listed_twice_in_one_rows_detail_takes_the_worse(twice: tuple[str, str]) -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive", 443: "Alive"}))
    detail = (PortHealth(80, "Alive"), *(PortHealth(443, s) for s in twice))
    n = r.step(be(status="Dead")._replace(health_status_detail=detail))
    assert n is not None
    assert [(t.kind, t.port) for t in n.transitions] == [("down", 443)]


# -- limits -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("failure", "limit"), [(1, 2), (2, 2), (3, 3), (5, 5)])
def test_a_backend_is_removed_after_two_absent_answers_or_failure_threshold_many(
    failure: int, limit: int
) -> None:
    assert absence_limit(Thresholds(failure, 1, 3, 0)) == limit
    r = Runner(Thresholds(failure, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    for _ in range(limit - 1):
        assert r.step(be("i-1")) is None
    removed = r.step(be("i-1"))
    assert removed is not None
    assert [(t.kind, t.target, t.reason, t.since) for t in removed.transitions] == [
        ("removed", "i-2", "absent", f"2024-05-01T12:{limit + 1:02d}:00.000Z")
    ]


def test_a_listener_target_counts_only_its_own_listener_s_backends_absent() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    both = frozenset({"lsn-1", "lsn-2"})
    r.step(be("i-1"), be("i-2"), be("i-3", listener="lsn-2"), listener_filter=both)
    assert r.step(be("i-1"), be("i-3", listener="lsn-2"), listener_filter=both) is None
    n = r.step(be("i-1"), be("i-3", listener="lsn-2"), listener_filter=both)
    assert n is not None
    assert [(t.kind, t.listener_id, t.target) for t in n.transitions] == [
        ("removed", "lsn-1", "i-2")
    ]
    # lsn-1's answer says nothing about lsn-2: its backend is not absent from it.
    assert r.step(be("i-1"), listener_filter="lsn-1") is not None  # lsn-2 dropped: unmonitored
    assert r.last is not None
    assert [(t.kind, t.reason) for t in r.last.transitions] == [("removed", "unmonitored")]


@pytest.mark.parametrize(("failure", "recovery", "cap"), [(1, 1, 2), (3, 2, 4), (2, 5, 6)])
def test_a_streak_is_counted_up_to_one_past_the_larger_threshold(
    failure: int, recovery: int, cap: int
) -> None:
    thresholds = Thresholds(failure, recovery, 3, 0)
    assert streak_cap(thresholds) == cap
    r = Runner(thresholds)
    for _ in range(cap + 3):
        r.step(be("i-1"))
    assert r.state is not None
    assert r.state.backends["lsn-1|i-1|10.0.0.3|80"].units["*"].streak == cap


# -- ports ---------------------------------------------------------------------------------------


def test_a_port_missing_from_the_detail_is_removed_after_the_absence_limit() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive", 443: "Alive"}))
    r.step(be(status="Dead", detail={80: "Alive", 443: "Dead"}))
    assert r.step(be(detail={80: "Alive"})) is None  # 443 absent once: no data
    assert r.state is not None
    unit = r.state.backends["lsn-1|i-1|10.0.0.3|80"].units["443"]
    assert (unit.absent, unit.notified) == (1, "Dead")
    n = r.step(be(detail={80: "Alive"}))
    assert n is not None
    assert [
        (t.kind, t.port, t.previous_status, t.current_status, t.reason, t.since)
        for t in n.transitions
    ] == [("removed", 443, "Dead", None, "absent", "2024-05-01T12:04:00.000Z")]
    assert set(r.state.backends["lsn-1|i-1|10.0.0.3|80"].units) == {"80"}


def test_a_healthy_port_that_disappears_goes_without_a_word() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive", 443: "Alive"}))
    assert r.steps(3, be(detail={80: "Alive"})) == []
    assert r.state is not None
    assert set(r.state.backends["lsn-1|i-1|10.0.0.3|80"].units) == {"80"}


def test_a_port_back_within_the_absence_limit_counts_its_absence_from_zero_again() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    two = {80: "Alive", 443: "Alive"}
    r.step(be(detail=two))
    r.step(be(detail={80: "Alive"}))
    r.step(be(detail=two))
    r.step(be(detail={80: "Alive"}))
    assert r.state is not None
    assert r.state.backends["lsn-1|i-1|10.0.0.3|80"].units["443"].absent == 1


def test_ports_renumbered_in_one_answer_are_paired_in_port_order() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive", 81: "Alive"}))
    r.step(be(status="Dead", detail={80: "Dead", 81: "Close"}))
    n = r.step(be(status="Dead", detail={9001: "Close", 9000: "Dead"}))
    assert n is not None
    assert [(t.kind, t.previous_port, t.port, t.current_status) for t in n.transitions] == [
        ("renumbered", 80, 9000, "Dead"),
        ("renumbered", 81, 9001, "Close"),
    ]
    assert r.state is not None
    assert r.state.backends["lsn-1|i-1|10.0.0.3|80"].units["9000"].absent == 0


@pytest.mark.parametrize(
    ("before", "after"),
    [((80, 443), (8080, 9443)), ((80, 81), (99, 100))],  # paired by number, not as text
)
def test_renumbered_ports_are_paired_lowest_with_lowest(
    before: tuple[int, int], after: tuple[int, int]
) -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail=dict.fromkeys(before, "Alive")))
    r.step(be(status="Dead", detail={before[0]: "Dead", before[1]: "Close"}))
    n = r.step(be(status="Dead", detail={after[0]: "Dead", after[1]: "Close"}))
    assert n is not None
    assert [(t.kind, t.previous_port, t.port, t.current_status) for t in n.transitions] == [
        ("renumbered", before[0], after[0], "Dead"),
        ("renumbered", before[1], after[1], "Close"),
    ]


def test_a_renumbered_port_that_changes_in_the_same_answer_is_one_change() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive", 443: "Alive"}))
    r.step(be(status="Dead", detail={80: "Dead", 443: "Alive"}))
    n = r.step(be(detail={8080: "Alive", 443: "Alive"}))
    assert n is not None
    assert [
        (t.kind, t.previous_port, t.port, t.previous_status, t.current_status)
        for t in n.transitions
    ] == [("recovered", 80, 8080, "Dead", "Alive")]


def test_a_healthy_port_renumbered_says_nothing() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive"}))
    assert r.step(be(detail={8080: "Alive"})) is None
    assert r.state is not None
    assert set(r.state.backends["lsn-1|i-1|10.0.0.3|80"].units) == {"8080"}


def test_more_new_ports_than_missing_ones_start_unknown_after_the_pairs() -> None:
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be(detail={80: "Alive"}))
    assert r.step(be(detail={81: "Alive", 82: "Dead"})) is None
    assert r.state is not None
    units = r.state.backends["lsn-1|i-1|10.0.0.3|80"].units
    assert (units["81"].notified, units["81"].streak) == ("Alive", 2)  # 80's history
    assert (units["82"].observed, units["82"].notified, units["82"].streak) == ("Dead", None, 1)


def test_a_port_that_appears_on_a_backend_already_announced_is_not_added_again() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"))
    added = r.step(be("i-1"), be("i-2", detail={80: "Alive"}))
    assert added is not None
    assert [(t.kind, t.target) for t in added.transitions] == [("added", "i-2")]
    assert r.step(be("i-1"), be("i-2", detail={80: "Alive", 81: "Alive"})) is None
    assert r.state is not None
    assert not r.state.backends["lsn-1|i-2|10.0.0.3|80"].fresh


def test_a_backend_whose_stored_streak_has_no_start_is_told_without_a_time() -> None:
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be("i-1"), be("i-2"))
    assert r.state is not None
    r.state.backends["lsn-1|i-1|10.0.0.3|80"].units["*"] = UnitState("Dead", "Alive", "Dead", 1)
    n = r.step(be("i-1", "Dead"), be("i-2"))
    assert n is not None
    assert [(t.kind, t.target, t.since) for t in n.transitions] == [("down", "i-1", None)]


# -- kinds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "current", "previous_port", "kind"),
    [
        ("Alive", "Dead", None, "down"),
        (None, "Dead", None, "down"),
        ("Close", "Dead", None, "down"),
        ("Dead", "Alive", None, "recovered"),
        ("Alive", "Close", None, "closed"),
        ("Close", "Alive", None, "enabled"),
        (None, "Alive", None, "added"),
        ("Dead", None, None, "removed"),
        ("Dead", "Dead", 80, "renumbered"),
        ("Dead", "Dead", None, "changed"),  # no change the rules make, but never mislabelled
        ("Checking", "Alive", None, "changed"),
        ("Dead", "Checking", None, "changed"),
    ],
)
def test_each_change_has_its_kind(
    previous: str | None, current: str | None, previous_port: int | None, kind: str
) -> None:
    change = UnitChange("*", previous, current, None, previous_port=previous_port)
    assert kind_of(change) == kind


# -- settled rows (the steady fleet's shortcut) ---------------------------------------------------

_PORTS = ("80", "443", "8080")
_SEEN = ("Alive", "Dead", "Close", "Unknown", "Checking")  # Checking: a string we do not know
_TOLD = (None, "Alive", "Dead", "Close")


@st.composite
def _unit(draw: st.DrawFn, cap: int) -> UnitState:
    return UnitState(
        observed=draw(st.sampled_from(_SEEN)),
        notified=draw(st.sampled_from(_TOLD)),
        streak_status=draw(st.sampled_from(_TOLD)),
        streak=draw(st.integers(0, cap + 1)),
        since=draw(st.sampled_from((None, "2024-05-01T12:00:00.000Z"))),
        absent=draw(st.sampled_from((0, 0, 1))),
    )


def _settle(draw: st.DrawFn, backend: BackendState, status: str, cap: int) -> None:
    """Make every unit settled at `status`, then perhaps put one thing about it off."""
    backend.absent = 0
    for unit in backend.units.values():
        unit.observed = status
        unit.absent = 0
        if status in COUNTING:
            unit.streak_status, unit.streak, unit.notified = status, cap, status
    if draw(st.integers(0, 3)):
        backend.seen_ports |= set(backend.units)
    if draw(st.integers(0, 9)) == 0:  # the backend itself missed an answer
        backend.absent = 1
    elif backend.units and draw(st.integers(0, 2)):  # one field of one unit off
        unit = backend.units[draw(st.sampled_from(sorted(backend.units)))]
        name = draw(st.sampled_from(("observed", "notified", "streak_status", "streak", "absent")))
        if name == "streak":
            unit.streak = draw(st.integers(0, cap + 1))
        elif name == "absent":
            unit.absent = 1
        else:
            setattr(unit, name, draw(st.sampled_from(_SEEN if name == "observed" else _TOLD)))


def _detail(draw: st.DrawFn, backend: BackendState, status: str) -> dict[int, str]:
    """The backend's ports as they stand, or with one port more or less, or any ports."""
    detail = {int(k): u.observed for k, u in backend.units.items() if k != WHOLE_BACKEND}
    change = draw(st.sampled_from(("none",) * 3 + ("drop a port", "add a port", "any detail")))
    if change == "drop a port" and detail:
        del detail[draw(st.sampled_from(sorted(detail)))]
    elif change == "add a port":
        detail[draw(st.sampled_from((80, 443, 8080, 9000)))] = status
    elif change == "any detail":
        ports = draw(st.lists(st.sampled_from(_PORTS), unique=True, max_size=3))
        detail = {int(p): draw(st.sampled_from(_SEEN)) for p in ports}
    return detail if backend.units.keys() != {WHOLE_BACKEND} or change == "any detail" else {}


@st.composite
def _backend_and_row(draw: st.DrawFn) -> tuple[BackendState, BackendHealth, Thresholds]:
    """A stored backend and a row for it: arbitrary, or mostly the backend's settled look with
    at most one thing about it changed (the cases where settling is a near thing)."""
    thresholds = Thresholds(failure=draw(st.integers(1, 3)), recovery=draw(st.integers(1, 3)))
    cap = streak_cap(thresholds)
    ports = draw(st.lists(st.sampled_from(_PORTS), unique=True, max_size=3))
    unit_keys = ports or draw(st.sampled_from(([], [WHOLE_BACKEND])))
    backend = BackendState(
        "lsn-1",
        draw(st.sampled_from(("web", "api"))),
        "i-1",
        "10.0.0.1",
        "80",
        units={k: draw(_unit(cap)) for k in unit_keys},
        absent=draw(st.sampled_from((0, 0, 1))),
        fresh=draw(st.booleans()),
        portless_word=draw(st.sampled_from((None, "Dead", "Close"))),
        seen_ports=set(draw(st.lists(st.sampled_from(_PORTS), unique=True))),
    )
    status = draw(st.sampled_from(_SEEN))
    if draw(st.integers(0, 3)):
        _settle(draw, backend, status, cap)
    detail = _detail(draw, backend, status)
    row = be("i-1", status, listener_name=backend.listener_name, ip="10.0.0.1", detail=detail)
    if draw(st.integers(0, 3)) == 0 and row.health_status_detail:  # a port listed twice
        again = PortHealth(row.health_status_detail[0].port, draw(st.sampled_from(_SEEN)))
        row = row._replace(health_status_detail=(*row.health_status_detail, again))
    if draw(st.integers(0, 9)) == 0:
        row = row._replace(listener_name="renamed")
    return backend, row, thresholds


@settings(max_examples=600, deadline=None)
@given(_backend_and_row())
def test_a_row_is_settled_exactly_when_observing_it_changes_nothing_and_says_nothing(
    case: tuple[BackendState, BackendHealth, Thresholds],
) -> None:
    backend, row, thresholds = case
    observed = backend.copy()
    said = observe_backend(observed, row, thresholds, at="2024-05-01T12:05:00.000Z")
    quiet_and_unchanged = not said and observed == backend
    assert settled(backend, row, streak_cap(thresholds)) == quiet_and_unchanged


def _settled_cases(thresholds: Thresholds) -> Iterator[tuple[str, BackendState, BackendHealth]]:
    """A settled backend and its row, for each status and port layout, and each of them with
    one thing off: a field of a unit, of the backend, or of the row."""
    cap = streak_cap(thresholds)
    for status in _SEEN:
        for ports in ([], ["80"], ["80", "443"]):
            counting = status in COUNTING
            base = BackendState("lsn-1", "web", "i-1", "10.0.0.1", "80")
            for unit_key in ports or [WHOLE_BACKEND]:
                base.units[unit_key] = UnitState(
                    status, *((status, status, cap) if counting else (None, None, 0))
                )
            detail = {int(p): status for p in ports}
            row = be("i-1", status, listener_name="web", ip="10.0.0.1", detail=detail)
            name = f"{status} on {ports or 'the whole backend'}"
            yield f"{name}, no unit yet", BackendState("lsn-1", "web", "i-1", "10.0.0.1", "80"), row
            yield name, base, row
            for unit_key in base.units:
                for field, values in (
                    ("observed", _SEEN),
                    ("notified", _TOLD),
                    ("streak_status", _TOLD),
                    ("streak", range(cap + 2)),
                    ("absent", (1,)),
                ):
                    for value in values:
                        off = base.copy()
                        setattr(off.units[unit_key], field, value)
                        yield f"{name}, unit {unit_key} {field}={value}", off, row
            off = base.copy()
            off.absent = 1
            yield f"{name}, backend absent", off, row
            for seen in (set(), set(ports)):
                off = base.copy()
                off.portless_word, off.seen_ports = DEAD, seen
                yield f"{name}, a portless word, seen {sorted(seen)}", off, row
            yield f"{name}, renamed listener", base, row._replace(listener_name="api")
            yield f"{name}, no detail", base, row._replace(health_status_detail=())
            for port in (80, 8080):
                for again in _SEEN:
                    more = (*row.health_status_detail, PortHealth(port, again))
                    yield f"{name}, +{port} {again}", base, row._replace(health_status_detail=more)
            if len(ports) > 1:
                fewer = row.health_status_detail[1:]
                yield f"{name}, a port less", base, row._replace(health_status_detail=fewer)


@pytest.mark.parametrize(("failure", "recovery"), [(1, 1), (2, 3), (3, 2)])
def test_a_settled_row_with_any_one_thing_off_is_settled_exactly_when_nothing_changes(
    failure: int, recovery: int
) -> None:
    thresholds = Thresholds(failure=failure, recovery=recovery)
    wrong = []
    for name, backend, row in _settled_cases(thresholds):
        observed = backend.copy()
        said = observe_backend(observed, row, thresholds, at="2024-05-01T12:05:00.000Z")
        expected = not said and observed == backend
        if settled(backend, row, streak_cap(thresholds)) != expected:
            wrong.append(f"{name}: expected settled={expected}")
    assert wrong == []


def test_settled_rows_are_skipped_and_the_rest_observed_in_one_answer() -> None:
    """Through apply_observation: a steady backend beside one that changes, and one whose
    streak has not reached the cap yet (so it is not settled, and its streak moves on)."""
    run = Runner(Thresholds(failure=2, recovery=2))
    steady, flapping = be("i-1"), be("i-2")
    for _ in range(4):
        run.step(steady, flapping)
    run.step(steady, be("i-2", "Dead"))
    run.step(steady, be("i-2", "Dead"))
    assert run.last is not None
    assert run.state is not None
    assert [(t.instance_id, t.kind) for t in run.last.transitions] == [("i-2", "down")]
    assert run.state.backends[key("i-1")].units[WHOLE_BACKEND].streak == 3  # max(2, 2) + 1
    assert run.state.backends[key("i-2")].units[WHOLE_BACKEND].streak == 2


def test_a_steady_answer_observes_no_row_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shortcut is taken, which is what keeps a steady fleet's engine cheap: once every
    streak is at its cap, an unchanged answer observes no row; a changed row is observed."""
    run = Runner(Thresholds(failure=2, recovery=2))
    steady = [be("i-1"), be("i-2", detail={80: "Alive", 443: "Alive"})]
    for _ in range(4):
        run.step(*steady)
    observed: list[BackendHealth] = []
    real = backends.observe_backend

    def spy(backend: BackendState, row: BackendHealth, *args: Any, **kwargs: Any) -> Any:
        observed.append(row)
        return real(backend, row, *args, **kwargs)

    monkeypatch.setattr(backends, "observe_backend", spy)
    run.step(*steady)
    assert observed == []
    run.step(be("i-1", "Dead"), steady[1])
    assert [row.instance_id for row in observed] == ["i-1"]
