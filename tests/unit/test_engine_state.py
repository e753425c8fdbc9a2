"""The stored state: timestamps, the encoded forms of a load balancer and of the fleet."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from zlb_health.engine.state import (
    BackendState,
    FleetState,
    LbState,
    MonitorState,
    UnitState,
    iso,
    parse_iso,
    state_fingerprint,
)


def test_timestamps_are_utc_with_milliseconds_so_string_order_is_time_order() -> None:
    moment = datetime(2024, 5, 1, 14, 0, 5, 123_999, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2024-05-01T12:00:05.123Z"
    assert iso(datetime(2024, 5, 1, 12, 0, tzinfo=UTC)) == "2024-05-01T12:00:00.000Z"
    assert iso(datetime(2024, 5, 1, 12, 0, 5, 999_000, UTC)) == "2024-05-01T12:00:05.999Z"
    assert iso(datetime(2024, 5, 1, 12, 0, 5, 999_999, UTC)) == "2024-05-01T12:00:05.999Z"
    assert parse_iso("2024-05-01T12:00:05.123Z") == datetime(2024, 5, 1, 12, 0, 5, 123_000, UTC)
    with pytest.raises(ValueError, match=r"^timestamps must be timezone-aware$"):
        iso(datetime(2024, 5, 1, 12, 0))
    with pytest.raises(ValueError, match=r"^timestamps must be timezone-aware$"):
        iso(datetime(2024, 5, 1, 12, 0, tzinfo=_NoOffset()))


@pytest.fixture
def tokyo_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone set to UTC+9 (a Lambda is UTC, a laptop may not be)."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("tokyo_machine")
def test_timestamps_are_utc_whatever_the_machine_s_zone() -> None:
    assert time.localtime(0).tm_hour == 9  # the zone did change
    moment = datetime(2024, 5, 1, 14, 0, 5, 123_000, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2024-05-01T12:00:05.123Z"


def test_statuses_are_stored_as_one_letter_and_any_other_status_as_it_came() -> None:
    units = {
        "80": UnitState("Alive", "Dead", "Close", 2, "2024-05-01T12:00:00.000Z"),
        "443": UnitState("Unknown", None, "Checking", 1, None, 1),
    }
    state = LbState(
        "lb-1", backends={"k": BackendState("lsn-1", "web", "i-1", "10.0.0.1", "80", units)}
    )
    assert state.to_dict()["b"]["k"][7] == {
        "443": ["U", None, "~Checking", 1, None, 1],
        "80": ["A", "D", "C", 2, "2024-05-01T12:00:00.000Z", 0],
    }
    assert LbState.from_dict(state.to_dict()) == state
    stored = state.to_dict()
    stored["b"]["k"][7]["443"][2] = "Checking"  # written without the mark: read as it is
    assert LbState.from_dict(stored).backends["k"].units["443"].streak_status == "Checking"


def test_a_portless_word_and_the_ports_seen_since_are_stored_only_when_set() -> None:
    units = {"80": UnitState("Alive", "Close")}
    plain = BackendState("lsn-1", "web", "i-1", "10.0.0.1", "80", units)
    covered = dataclasses.replace(plain, portless_word="Close", seen_ports={"8080", "443", "80"})
    state = LbState("lb-1", backends={"plain": plain, "covered": covered})
    stored = state.to_dict()["b"]
    assert len(stored["plain"]) == 8  # a state written before the field reads the same
    assert stored["covered"][8] == ["C", ["80", "443", "8080"]]  # in port order: equal states
    assert LbState.from_dict(state.to_dict()) == state


def test_when_the_last_snapshot_was_written_is_kept_by_copies_and_the_stored_form() -> None:
    """Lost, every run would find the heartbeat due and write a snapshot (issue 12)."""
    at = "2026-11-23T12:00:00.000Z"
    state = LbState("lb-1", snapshot_at=at)
    assert state.copy().snapshot_at == at
    assert state.to_dict()["h"] == at
    assert LbState.from_dict(state.to_dict()).snapshot_at == at
    older = state.to_dict()
    del older["h"]  # written before the field: no snapshot known, one is due
    assert LbState.from_dict(older).snapshot_at is None


class _NoOffset(tzinfo):
    """A zone that knows no offset: as good as none."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


def test_the_fleet_state_round_trips_through_its_stored_form() -> None:
    fleet = FleetState(
        known={"lb-b", "lb-a"},
        monitor=MonitorState(3, True, "2024-05-01T12:00:00.000Z", {"kind": "auth", "status": 401}),
        observed_at="2024-05-01T12:05:00.000Z",
        seq=4,
    )
    encoded = fleet.to_dict()
    assert encoded == {
        "v": 2,
        "id": "*",
        "k": ["lb-a", "lb-b"],
        "m": [3, True, "2024-05-01T12:00:00.000Z", {"kind": "auth", "status": 401}],
        "t": "2024-05-01T12:05:00.000Z",
        "s": 4,
    }
    assert FleetState.from_dict(json.loads(json.dumps(encoded))) == fleet
    assert FleetState().to_dict() == {
        "v": 2, "id": "*", "k": [], "m": [0, False, None, None], "t": None, "s": 0
    }  # fmt: skip
    assert FleetState.from_dict(FleetState().to_dict()) == FleetState()
    assert state_fingerprint(fleet) == {k: v for k, v in encoded.items() if k != "t"}
    assert (fleet.load_balancer_id, fleet.load_balancer_name) == ("*", "load balancer discovery")


@pytest.mark.parametrize(
    "data",
    [
        {"v": 1, "id": "*", "k": [], "m": [0, False, None, None], "t": None, "s": 0},
        {"v": 2, "id": "lb-1", "k": [], "m": [0, False, None, None], "t": None, "s": 0},
        {"id": "*", "k": [], "m": [0, False, None, None], "t": None, "s": 0},
        {"v": 2, "k": [], "m": [0, False, None, None], "t": None, "s": 0},
    ],
)
def test_what_is_not_a_fleet_state_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"^not a fleet state$"):
        FleetState.from_dict(data)


def test_a_copy_of_the_fleet_state_shares_nothing() -> None:
    fleet = FleetState({"lb-a"}, MonitorState(1, False, "t0", {"kind": "server"}), "t1", 2)
    copy = fleet.copy()
    assert copy == fleet
    copy.known.add("lb-b")
    copy.monitor.consecutive_failures += 1
    assert copy.monitor.last_error is not None
    copy.monitor.last_error["kind"] = "auth"
    assert fleet == FleetState({"lb-a"}, MonitorState(1, False, "t0", {"kind": "server"}), "t1", 2)


@pytest.mark.parametrize("version", [None, 0, 3, "2"])
def test_a_load_balancer_state_of_an_unknown_version_is_refused(version: object) -> None:
    data = LbState("lb-1").to_dict()
    data["v"] = version
    with pytest.raises(
        ValueError, match=f"^{re.escape(f'unsupported state version {version!r}')}$"
    ):
        LbState.from_dict(data)


def test_a_state_stored_before_silences_missing_and_retirement_reads_with_their_defaults() -> None:
    data = LbState("lb-1", "one", "2024-05-01T12:00:00.000Z", seq=3).to_dict()
    for added_later in ("x", "r", "a", "q"):
        del data[added_later]
    state = LbState.from_dict(data)
    assert (state.missing, state.retired, state.baselined, state.silences) == (0, None, False, {})
    assert state_fingerprint(None) is None
