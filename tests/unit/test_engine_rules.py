"""The health rules: thresholds, per-port detail, severities, monitor and reminders, state form."""

from __future__ import annotations

import dataclasses
import json
import zlib
from datetime import timedelta

import pytest
from engine_helpers import Runner, at, be, failure, observation
from hypothesis import given, settings
from hypothesis import strategies as st

from zlb_health.config import Thresholds
from zlb_health.engine.notifications import (
    ListenerHealth,
    MonitorEvent,
    Notification,
    Resolved,
    Transition,
    UnitStatus,
)
from zlb_health.engine.observation import ScopeFailure
from zlb_health.engine.rules import apply_observation, note_missing, retire
from zlb_health.engine.state import (
    BackendState,
    LbState,
    ListenerState,
    MonitorState,
    UnitState,
    backend_key,
    state_fingerprint,
)
from zlb_health.zenlayer.errors import AuthError

K1 = "lsn-1|i-1|10.0.0.3|80"
K2 = "lsn-1|i-2|10.0.0.3|80"


def test_backend_key_is_listener_instance_ip_and_effective_port() -> None:
    assert backend_key(be("i-1", port=8080)) == "lsn-1|i-1|10.0.0.3|8080"
    assert backend_key(be("i-1", port=8080, ip="10.9.9.9")) == "lsn-1|i-1|10.9.9.9|8080"
    assert backend_key(be("10.1.1.1", port=None, listener_port="80,443")) == (
        "lsn-1||10.1.1.1|80,443"
    )


# -- baseline and thresholds ------------------------------------------------------------------


def test_first_observation_is_a_silent_baseline() -> None:
    r = Runner()
    assert r.step(be("i-1"), be("i-2", "Close")) is None
    assert r.last is not None
    assert r.last.changed
    assert r.last.transitions == ()
    assert r.unit(K1) == ("Alive", "Alive")
    assert r.unit(K2) == ("Close", "Close")


@pytest.mark.parametrize(("failure_t", "recovery_t"), [(1, 1), (2, 2), (3, 2)])
def test_thresholds(failure_t: int, recovery_t: int) -> None:
    r = Runner(Thresholds(failure_t, recovery_t, 3, 0))
    r.step(be("i-1"), be("i-2"))
    for _ in range(failure_t - 1):
        assert r.step(be("i-1", "Dead"), be("i-2")) is None
    down = r.step(be("i-1", "Dead"), be("i-2"))
    assert down is not None
    assert down.event_type == "health_change"
    assert down.severity == "warning"
    (t,) = down.transitions
    assert (t.kind, t.previous_status, t.current_status, t.port) == ("down", "Alive", "Dead", None)
    assert t.since == "2024-05-01T12:02:00.000Z"  # the first Dead observation
    for _ in range(recovery_t - 1):
        assert r.step(be("i-1"), be("i-2")) is None
    up = r.step(be("i-1"), be("i-2"))
    assert up is not None
    assert up.severity == "info"
    assert [(t.kind, t.previous_status, t.current_status) for t in up.transitions] == [
        ("recovered", "Dead", "Alive")
    ]


def test_flapping_below_the_thresholds_never_alerts() -> None:
    r = Runner(Thresholds(3, 2, 3, 0))
    r.step(be())
    for status in ["Dead", "Dead", "Alive", "Dead", "Dead", "Alive", "Dead", "Unknown", "Dead"]:
        assert r.step(be("i-1", status)) is None
    assert r.unit(K1) == ("Dead", "Alive")


def test_recovery_flapping_does_not_alert_either() -> None:
    r = Runner(Thresholds(1, 3, 3, 0))
    r.step(be())
    assert r.step(be("i-1", "Dead")) is not None
    for status in ["Alive", "Alive", "Dead", "Alive", "Alive", "Dead"]:
        assert r.step(be("i-1", status)) is None


def test_unknown_neither_alerts_nor_breaks_a_streak() -> None:
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be())
    assert r.step(be("i-1", "Dead")) is None
    assert r.step(be("i-1", "Unknown")) is None
    assert r.unit(K1) == ("Unknown", "Alive")
    down = r.step(be("i-1", "Dead"))
    assert down is not None
    assert down.transitions[0].since == "2024-05-01T12:02:00.000Z"
    for _ in range(5):
        assert r.step(be("i-1", "Unknown")) is None
    assert r.unit(K1) == ("Unknown", "Dead")


def test_unrecognised_status_is_recorded_and_treated_as_unknown() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be())
    assert r.step(be("i-1", "Checking")) is None
    assert r.unit(K1) == ("Checking", "Alive")
    assert r.state is not None
    assert LbState.from_dict(json.loads(json.dumps(r.state.to_dict()))) == r.state


def test_baseline_dead_alerts_down_with_null_previous_once_confirmed() -> None:
    r = Runner(Thresholds(2, 2, 3, 0))
    assert r.step(be("i-1", "Dead")) is None
    down = r.step(be("i-1", "Dead"))
    assert down is not None
    assert down.severity == "critical"
    assert [(t.kind, t.previous_status, t.current_status) for t in down.transitions] == [
        ("down", None, "Dead")
    ]
    assert down.to_dict()["transitions"][0]["previousStatus"] is None


def test_baseline_dead_that_comes_back_alive_stays_silent() -> None:
    r = Runner(Thresholds(2, 2, 3, 0))
    assert r.step(be("i-1", "Dead")) is None
    assert r.step(be("i-1")) is None
    assert r.unit(K1) == ("Alive", "Alive")


def test_baseline_with_threshold_one_alerts_at_once() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    n = r.step(be("i-1", "Dead"), be("i-2"))
    assert n is not None
    assert n.severity == "warning"
    assert [t.target for t in n.transitions] == ["i-1"]


def test_unknown_at_baseline_then_alive_is_silent() -> None:
    r = Runner()
    assert r.step(be("i-1", "Unknown")) is None
    assert r.unit(K1) == ("Unknown", None)
    assert r.step(be("i-1")) is None
    assert r.unit(K1) == ("Alive", "Alive")


# -- per-port detail --------------------------------------------------------------------------


def test_ports_that_disagree_get_one_transition_each() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive", 443: "Alive"}))
    n = r.step(be(status="Dead", detail={80: "Dead", 443: "Alive"}))
    assert n is not None
    assert n.severity == "warning"
    assert [(t.port, t.kind) for t in n.transitions] == [(80, "down")]
    n = r.step(be(status="Dead", detail={80: "Dead", 443: "Dead"}))
    assert n is not None
    assert n.severity == "critical"
    assert [(t.port, t.kind) for t in n.transitions] == [(443, "down")]
    n = r.step(be(detail={80: "Alive", 443: "Alive"}))
    assert n is not None
    assert [(t.port, t.kind, t.previous_status) for t in n.transitions] == [
        (None, "recovered", "Dead")
    ]


def test_the_ports_of_a_backend_are_told_in_port_order_whatever_their_change() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive", 443: "Alive"}), be("i-2"))
    n = r.step(be(status="Dead", detail={80: "Dead", 443: "Close"}), be("i-2", "Close"))
    assert n is not None
    assert [(t.target, t.port, t.kind) for t in n.transitions] == [
        ("i-1", 80, "down"),
        ("i-1", 443, "closed"),
        ("i-2", None, "closed"),
    ]


def test_ports_that_change_together_are_one_transition() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive", 443: "Alive"}))
    n = r.step(be(status="Dead", detail={80: "Dead", 443: "Dead"}))
    assert n is not None
    assert [(t.port, t.kind) for t in n.transitions] == [(None, "down")]


def test_detail_repeating_the_backend_status_is_one_change() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive"}))
    n = r.step(be(status="Dead", detail={80: "Dead"}))
    assert n is not None
    assert [(t.port, t.kind) for t in n.transitions] == [(None, "down")]
    assert r.state is not None
    assert set(r.state.backends[K1].units) == {"80"}


def test_detail_appearing_seeds_ports_from_the_whole_backend() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be())
    assert r.step(be(detail={80: "Alive", 443: "Alive"})) is None
    assert r.state is not None
    assert set(r.state.backends[K1].units) == {"80", "443"}
    assert r.unit(K1, "443") == ("Alive", "Alive")
    n = r.step(be(status="Dead", detail={80: "Alive", 443: "Dead"}))
    assert n is not None
    assert [(t.port, t.previous_status) for t in n.transitions] == [(443, "Alive")]


def test_detail_appearing_for_a_down_backend_keeps_it_down() -> None:
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be())
    r.step(be(status="Dead"))
    assert r.step(be(status="Dead")) is not None
    assert r.step(be(status="Dead", detail={80: "Dead", 443: "Dead"})) is None
    assert r.unit(K1, "80") == ("Dead", "Dead")


def test_detail_appearing_mid_streak_keeps_the_streak() -> None:
    """The backend's Dead streak began without per-port detail: its ports carry it on, so the
    outage is told when the threshold is reached, not one observation later."""
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be())
    assert r.step(be(status="Dead")) is None  # Dead 1 of 2, no detail
    n = r.step(be(status="Dead", detail={80: "Dead"}))
    assert n is not None
    assert [(t.ports, t.kind, t.previous_status) for t in n.transitions] == [
        ((80,), "down", "Alive")
    ]


def test_a_port_first_seen_after_a_word_naming_no_port_is_told_against_it() -> None:
    """Users heard "i-1: health check disabled" with no port named (no detail then). Port 443,
    seen for the first time later, is still covered by that word: its Alive is "enabled"."""
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be("i-2"))  # baseline without i-1
    n = r.step(be("i-2"), be(status="Close"))
    assert n is not None
    assert [(t.port, t.ports, t.kind) for t in n.transitions] == [(None, (), "closed")]
    r.step(be("i-2"), be(status="Dead", detail={80: "Dead"}))
    n = r.step(be("i-2"), be(status="Dead", detail={80: "Dead"}))
    assert n is not None
    assert [(t.port, t.ports, t.kind) for t in n.transitions] == [(None, (80,), "down")]
    n = r.step(be("i-2"), be(status="Dead", detail={80: "Dead", 443: "Alive"}))
    assert n is not None
    assert [(t.port, t.kind, t.previous_status) for t in n.transitions] == [
        (443, "enabled", "Close")
    ]


def test_a_healthy_port_renumbered_onto_a_port_a_portless_word_covers_is_told() -> None:
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be("i-2"))
    r.step(be("i-2"), be(status="Close"))  # added, Close: no port named
    n = r.step(be("i-2"), be(detail={80: "Alive"}))
    assert n is not None
    assert [(t.ports, t.kind) for t in n.transitions] == [((80,), "enabled")]
    n = r.step(be("i-2"), be(detail={81: "Alive"}))
    assert n is not None
    assert [(t.port, t.previous_port, t.kind, t.current_status) for t in n.transitions] == [
        (81, 80, "renumbered", "Alive")
    ]
    n = r.step(be("i-2"), be(detail={80: "Alive"}))  # back to 80, a port named since: silent
    assert n is None


def test_a_port_seen_before_starts_silent_even_after_a_word_naming_no_port() -> None:
    """Port 443 was told removed (named since the portless word): when it returns it is a
    silent baseline like any new port, not "enabled" a second time."""
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be("i-2"))
    r.step(be("i-2"), be(status="Close"))  # added, Close: no port named
    r.step(be("i-2"), be(status="Close", detail={80: "Close", 443: "Close"}))
    for _ in range(2):  # 443 vanishes for the absence limit: told removed
        n = r.step(be("i-2"), be(status="Close", detail={80: "Close"}))
    assert n is not None
    assert [(t.port, t.kind) for t in n.transitions] == [(443, "removed")]
    assert r.step(be("i-2"), be(status="Close", detail={80: "Close", 443: "Alive"})) is None
    assert r.unit(K1, "443") == ("Alive", "Alive")
    assert r.unit(K1, "80") == ("Close", "Close")


def test_a_port_first_seen_after_an_alive_word_naming_no_port_is_a_silent_baseline() -> None:
    """Alive speaks for new ports as a silent baseline would: nothing to remember."""
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be("i-2"))
    n = r.step(be("i-2"), be())  # added, no port named
    assert n is not None
    assert [(t.port, t.kind) for t in n.transitions] == [(None, "added")]
    assert r.step(be("i-2"), be(detail={80: "Alive"})) is None
    assert r.step(be("i-2"), be(detail={80: "Alive", 443: "Alive"})) is None
    assert r.state is not None
    assert r.state.backends[K1].portless_word is None
    assert r.unit(K1, "443") == ("Alive", "Alive")


def test_detail_disappearing_applies_the_backend_status_to_every_port() -> None:
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be(detail={80: "Alive", 443: "Alive"}))
    n = r.step(be(status="Close"))
    assert n is not None
    assert n.severity == "info"
    assert [(t.port, t.kind, t.current_status) for t in n.transitions] == [
        (None, "closed", "Close")
    ]
    assert r.unit(K1, "80") == ("Close", "Close")
    assert r.step(be(status="Unknown")) is None
    assert r.unit(K1, "443") == ("Unknown", "Close")
    n = r.step(be(detail={80: "Alive", 443: "Alive"}))
    assert n is not None
    assert [(t.port, t.kind) for t in n.transitions] == [(None, "enabled")]


def test_same_vm_in_two_listeners_is_two_backends() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-1", listener="lsn-2"), be("i-2", listener="lsn-2"))
    assert r.state is not None
    assert len(r.state.backends) == 3
    n = r.step(be("i-1", "Dead"), be("i-1", listener="lsn-2"), be("i-2", listener="lsn-2"))
    assert n is not None
    assert n.severity == "critical"
    assert [(t.listener_id, t.target) for t in n.transitions] == [("lsn-1", "i-1")]
    assert n.critical_listeners == ("lsn-1",)
    assert n.healthy_by_listener == (
        ListenerHealth("lsn-1", "name-lsn-1", healthy=0, total=1, partial=0, down=1),
        ListenerHealth("lsn-2", "name-lsn-2", healthy=2, total=2, partial=0, down=0),
    )


# -- severities -------------------------------------------------------------------------------


def test_listener_losing_its_last_healthy_backend_is_critical() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"), be("i-3", listener="lsn-2"))
    first = r.step(be("i-1", "Dead"), be("i-2"), be("i-3", listener="lsn-2"))
    assert first is not None
    assert first.severity == "warning"
    assert first.counts["listenersWithoutHealthyBackend"] == 0
    last = r.step(be("i-1", "Dead"), be("i-2", "Dead"), be("i-3", listener="lsn-2"))
    assert last is not None
    assert last.severity == "critical"
    assert last.critical_listeners == ("lsn-1",)
    assert last.counts == {
        "alive": 1,
        "partial": 0,
        "dead": 2,
        "unknown": 0,
        "close": 0,
        "backends": 3,
        "listeners": 2,
        "listenersWithoutHealthyBackend": 1,
    }
    assert "no healthy backend left on name-lsn-1" in last.summary
    assert r.state is not None
    assert r.state.listeners["lsn-1"].critical_since == "2024-05-01T12:03:00.000Z"
    back = r.step(be("i-1"), be("i-2", "Dead"), be("i-3", listener="lsn-2"))
    assert back is not None
    assert back.severity == "info"
    assert back.critical_listeners == ()
    assert r.state.listeners == {}


def test_critical_only_for_the_touched_listener() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2", listener="lsn-2"), be("i-3", listener="lsn-2"))
    assert r.step(be("i-1", "Dead"), be("i-2", listener="lsn-2"), be("i-3", listener="lsn-2"))
    n = r.step(be("i-1", "Dead"), be("i-2", "Dead", listener="lsn-2"), be("i-3", listener="lsn-2"))
    assert n is not None
    assert n.severity == "warning"
    assert n.critical_listeners == ("lsn-1",)  # still listed, but not what this is about


def test_listener_with_every_backend_closed_is_not_critical() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    n = r.step(be("i-1", "Close"), be("i-2", "Close"))
    assert n is not None
    assert n.severity == "info"
    assert {t.kind for t in n.transitions} == {"closed"}
    assert n.critical_listeners == ()
    assert n.counts["close"] == 2


def test_close_then_alive_is_informational_and_immediate() -> None:
    r = Runner(Thresholds(3, 3, 3, 0))
    r.step(be("i-1", "Close"))
    n = r.step(be("i-1"))
    assert n is not None
    assert n.severity == "info"
    assert [(t.kind, t.previous_status, t.current_status) for t in n.transitions] == [
        ("enabled", "Close", "Alive")
    ]


def test_close_then_dead_needs_the_failure_threshold() -> None:
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be("i-1", "Close"), be("i-2"))
    assert r.step(be("i-1", "Dead"), be("i-2")) is None
    n = r.step(be("i-1", "Dead"), be("i-2"))
    assert n is not None
    assert n.severity == "warning"
    assert n.transitions[0].previous_status == "Close"


def test_dead_and_closed_backends_still_make_the_listener_critical() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2", "Close"))
    n = r.step(be("i-1", "Dead"), be("i-2", "Close"))
    assert n is not None
    assert n.severity == "critical"


# -- added, removed, listener filter ----------------------------------------------------------


def test_added_and_removed_backends_are_informational() -> None:
    r = Runner()
    r.step(be("i-1"))
    added = r.step(be("i-1"), be("i-2"))
    assert added is not None
    assert added.severity == "info"
    assert [(t.kind, t.previous_status, t.current_status) for t in added.transitions] == [
        ("added", None, "Alive")
    ]
    assert r.unit(K2) == ("Alive", "Alive")
    assert r.step(be("i-1")) is None  # absent once: no data yet
    assert r.state is not None
    assert r.state.backends[K2].absent == 1
    removed = r.step(be("i-1"))  # absent twice: removed
    assert removed is not None
    assert removed.severity == "info"
    assert [
        (t.kind, t.previous_status, t.current_status, t.reason) for t in removed.transitions
    ] == [("removed", "Alive", None, "absent")]
    assert K2 not in r.state.backends


def test_a_backend_back_within_the_absence_limit_keeps_its_history() -> None:
    r = Runner(Thresholds(3, 2, 3, 0))  # absence limit max(2, 3) = 3
    r.step(be("i-1"), be("i-2"))
    assert r.steps(3, be("i-1", "Dead"), be("i-2"))[-1].transitions[0].kind == "down"
    assert r.step(be("i-2")) is None
    assert r.step(be("i-2")) is None
    assert r.step(be("i-1", "Dead"), be("i-2")) is None  # back: still the same outage
    assert r.steps(2, be("i-1"), be("i-2"))[-1].transitions[0].kind == "recovered"


def test_a_new_dead_backend_is_told_once_as_down() -> None:
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be("i-1"))
    assert r.step(be("i-1"), be("i-2", "Dead")) is None  # not confirmed yet: nothing to tell
    down = r.step(be("i-1"), be("i-2", "Dead"))
    assert down is not None
    assert down.severity == "warning"
    assert [(t.kind, t.previous_status, t.current_status) for t in down.transitions] == [
        ("down", None, "Dead")
    ]


def test_a_baseline_backend_confirmed_later_is_not_added() -> None:
    r = Runner(Thresholds(2, 2, 3, 0))
    r.step(be("i-1"), be("i-2", "Unknown"))
    assert r.step(be("i-1"), be("i-2")) is None
    assert r.unit(K2) == ("Alive", "Alive")


def test_added_dead_backend_with_threshold_one_is_just_down() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"))
    n = r.step(be("i-1"), be("i-2", "Dead"))
    assert n is not None
    assert [(t.kind, t.previous_status) for t in n.transitions] == [("down", None)]


def test_removing_the_last_healthy_backend_is_critical() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    r.step(be("i-1", "Dead"), be("i-2"))
    assert r.step(be("i-1", "Dead")) is None  # i-2 absent once
    n = r.step(be("i-1", "Dead"))
    assert n is not None
    assert n.severity == "critical"
    assert [t.kind for t in n.transitions] == ["removed"]


def test_a_listener_left_without_backends_is_a_warning() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2", listener="lsn-2"))
    r.step(be("i-1"))
    n = r.step(be("i-1"))
    assert n is not None
    assert (n.severity, [t.kind for t in n.transitions]) == ("warning", ["removed"])
    assert n.summary == "lb-one: 1 backend removed; no backend left on name-lsn-2."


def test_a_listener_target_applies_to_its_own_listener_only() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    both = frozenset({"lsn-1", "lsn-2"})
    r.step(be("i-1"), be("i-2", listener="lsn-2"), listener_filter=both)
    # lsn-1's answer carries an lsn-2 row: it is not lsn-1's to report, and changes nothing.
    n = r.step(be("i-1", "Dead"), be("i-2", listener="lsn-2"), listener_filter=both)
    assert n is not None
    assert [(t.listener_id, t.kind) for t in n.transitions] == [("lsn-1", "down")]
    assert r.state is not None
    assert set(r.state.backends) == {K1, "lsn-2|i-2|10.0.0.3|80"}


def test_a_listener_no_longer_polled_has_its_backends_removed_as_unmonitored() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2", listener="lsn-2"), be("i-3", listener="lsn-3"))
    # LOAD_BALANCER_IDS went from the whole load balancer to lb-1/lsn-1 and lb-1/lsn-2.
    n = r.step(
        be("i-1", "Dead"),
        be("i-2", listener="lsn-2"),
        listener_filter=frozenset({"lsn-1", "lsn-2"}),
    )
    assert n is not None
    assert [(t.listener_id, t.kind, t.reason, t.since) for t in n.transitions] == [
        ("lsn-1", "down", None, "2024-05-01T12:02:00.000Z"),
        ("lsn-3", "removed", "unmonitored", "2024-05-01T12:02:00.000Z"),
    ]
    assert n.severity == "critical"  # lsn-1 has nothing healthy left; the removal is info
    assert r.state is not None
    assert set(r.state.backends) == {K1, "lsn-2|i-2|10.0.0.3|80"}


def test_empty_load_balancer_baseline_then_backends_are_added() -> None:
    r = Runner()
    assert r.step() is None
    n = r.step(be("i-1"))
    assert n is not None
    assert [t.kind for t in n.transitions] == ["added"]


# -- staleness, immutability, ids, steady state -----------------------------------------------


def test_stale_observation_is_ignored() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.apply(observation(5, be("i-1")))
    previous = r.state
    for minute in (5, 4):
        evaluation = apply_observation(
            previous, observation(minute, be("i-1", "Dead")), r.thresholds, now=at(minute)
        )
        assert evaluation.new_state is previous
        assert evaluation.notification is None
        assert evaluation.transitions == ()
        assert not evaluation.changed


def test_failure_older_than_the_last_applied_observation_is_stale() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    r.apply(observation(5, be("i-1")))
    assert apply_observation(r.state, failure(4), r.thresholds, now=at(4)).new_state is r.state
    r.apply(failure(6))
    again = apply_observation(r.state, failure(6), r.thresholds, now=at(6))
    assert again.new_state is r.state
    assert again.notification is None
    late = apply_observation(r.state, observation(6, be("i-1")), r.thresholds, now=at(6))
    assert late.new_state is r.state


def test_previous_state_is_never_mutated() -> None:
    r = Runner(Thresholds(1, 1, 1, 30))
    r.step(be("i-1", detail={80: "Alive", 443: "Alive"}), be("i-2"))
    before = r.state
    assert before is not None
    snapshot = before.to_dict()
    r.step(be("i-1", "Dead", detail={80: "Dead", 443: "Alive"}))
    r.fail()
    assert before.to_dict() == snapshot


def test_notification_ids_are_deterministic_and_sequential() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"))
    previous = r.state
    obs = observation(10, be("i-1", "Dead"))
    first = apply_observation(previous, obs, r.thresholds, now=at(10))
    second = apply_observation(previous, obs, r.thresholds, now=at(10))
    assert first.notification is not None
    assert second.notification is not None
    assert first.notification.id == second.notification.id == "lb-1#00000001"
    assert first.notification == second.notification
    assert (first.notification.observed_at, first.notification.request_id) == (
        "2024-05-01T12:10:00.000Z", "req-10"
    )  # fmt: skip
    r.state = first.new_state
    r.minute = 10
    n = r.step(be("i-1"))
    assert n is not None
    assert n.id == "lb-1#00000002"


def test_a_load_balancer_seen_again_after_its_last_word_starts_afresh_ids_counting_on() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"))
    r.step(be("i-1", "Dead"))
    assert r.state is not None
    r.state = retire(r.state, "deleted", at=at(3)).new_state
    r.minute = 3
    assert r.step(be("i-1"), be("i-2")) is None  # a new baseline: nothing to say yet
    assert r.state is not None
    assert (r.state.retired, r.state.seq) == (None, 2)
    n = r.step(be("i-1"), be("i-2", "Dead"))
    assert n is not None
    assert (n.id, [(t.kind, t.target) for t in n.transitions]) == (
        "lb-1#00000003", [("down", "i-2")]
    )  # fmt: skip


def test_steady_state_leaves_the_fingerprint_unchanged() -> None:
    r = Runner(Thresholds(3, 2, 3, 0))
    backends = (be("i-1", detail={80: "Alive", 443: "Dead"}), be("i-2", "Dead"), be("i-3"))
    for _ in range(6):
        r.step(*backends)
    assert r.state is not None
    before = r.state
    r.step(*backends)
    assert r.last is not None
    assert not r.last.changed
    assert state_fingerprint(r.state) == state_fingerprint(before)
    after = r.state.to_dict()
    expected = before.to_dict()
    assert after.pop("t") != expected.pop("t")
    assert after == expected


def test_changed_is_true_while_a_streak_grows() -> None:
    r = Runner(Thresholds(3, 3, 3, 0))
    r.step(be("i-1"))
    r.step(be("i-1", "Dead"))
    r.step(be("i-1", "Dead"))
    assert r.last is not None
    assert r.last.changed
    assert r.last.notification is None


def test_observation_of_another_load_balancer_is_refused() -> None:
    r = Runner()
    r.step(be())
    with pytest.raises(ValueError, match="lb-2"):
        apply_observation(r.state, observation(9, lb="lb-2"), r.thresholds, now=at(9))


# -- monitor failures -------------------------------------------------------------------------


def test_failures_degrade_once_then_restore_once() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"))
    health = r.state.to_dict()["b"] if r.state else None
    assert r.fail() is None
    assert r.fail() is None
    degraded = r.fail(code="AUTH_FAILED")
    assert degraded is not None
    assert (degraded.event_type, degraded.severity) == ("monitor_degraded", "warning")
    (event,) = degraded.monitor_events
    assert (event.scope, event.change, event.kind, event.code) == (
        "",
        "degraded",
        "server",
        "AUTH_FAILED",
    )
    assert event.request_id == "req-fail-4"
    assert event.consecutive_failures == 3
    assert event.since == "2024-05-01T12:02:00.000Z"  # the first failure, not the third
    assert degraded.transitions == ()
    assert r.fail() is None
    assert r.fail() is None
    assert r.state is not None
    assert r.state.monitors[""].consecutive_failures == 5
    assert r.state.monitors[""].degraded
    assert r.state.monitors[""].last_error == {  # the latest failure, stored with its time
        "kind": "server",
        "code": "INTERNAL_ERROR",
        "status": 500,
        "requestId": "req-fail-6",
        "message": "boom",
        "at": "2024-05-01T12:06:00.000Z",
    }
    assert r.state.to_dict()["b"] == health  # health state kept as is
    restored = r.step(be("i-1"))
    assert restored is not None
    assert (restored.event_type, restored.severity) == ("monitor_restored", "info")
    assert restored.monitor_restored
    (event,) = restored.monitor_events
    assert (event.change, event.consecutive_failures, event.at) == (
        "restored",
        5,
        "2024-05-01T12:07:00.000Z",
    )
    assert r.state.monitors == {}
    assert r.step(be("i-1")) is None
    assert [n.event_type for n in r.notifications] == ["monitor_degraded", "monitor_restored"]


def test_failures_below_the_threshold_reset_on_success() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"))
    r.fail()
    r.fail()
    assert r.step(be("i-1")) is None
    assert r.state is not None
    assert r.state.monitors == {}
    r.fail()
    r.fail()
    assert r.notifications == []


def test_restored_with_transitions_is_one_combined_notification() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    r.step(be("i-1"), be("i-2"))
    assert r.fail() is not None
    n = r.step(be("i-1", "Dead"), be("i-2"))
    assert n is not None
    assert (n.event_type, n.severity, n.monitor_restored) == ("health_change", "warning", True)
    assert n.summary.endswith("; monitoring restored.")
    (event,) = n.monitor_events
    assert (event.change, event.at) == ("restored", "2024-05-01T12:03:00.000Z")


def test_a_failing_listener_target_is_degraded_on_its_own() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    both = frozenset({"lsn-1", "lsn-2"})
    r.step(be("i-1"), be("i-2", listener="lsn-2"), listener_filter=both)
    lsn1 = observation(2, be("i-1", "Dead"), listener_filter="lsn-1")
    broken = failure(2, scope="lsn-2", kind="not_found", code="INVALID_LISTENER_NOT_FOUND")
    n = r.apply(dataclasses.replace(lsn1, failures=broken.failures)).notification
    assert n is not None
    assert (n.event_type, n.severity) == ("health_change", "critical")
    assert [(t.listener_id, t.kind) for t in n.transitions] == [("lsn-1", "down")]
    assert [(e.scope, e.change, e.code) for e in n.monitor_events] == [
        ("lsn-2", "degraded", "INVALID_LISTENER_NOT_FOUND")
    ]
    assert "lsn-2|i-2|10.0.0.3|80" in r.state.backends if r.state else False  # kept as it was


def test_a_degraded_listener_target_no_longer_polled_has_its_monitoring_ended() -> None:
    r = Runner(Thresholds(1, 1, 2, 0))
    three = frozenset({"lsn-1", "lsn-2", "lsn-3"})
    r.step(
        be("i-1"), be("i-2", listener="lsn-2"), be("i-3", listener="lsn-3"), listener_filter=three
    )
    others = observation(
        2, be("i-1"), be("i-3", listener="lsn-3"), listener_filter=three - {"lsn-2"}
    )
    r.apply(dataclasses.replace(others, failures=failure(2, scope="lsn-2").failures))
    lsn1 = observation(3, be("i-1"), listener_filter="lsn-1")
    both = failure(3, scope="lsn-2").failures + failure(3, scope="lsn-3").failures
    degraded = r.apply(dataclasses.replace(lsn1, failures=both)).notification
    assert degraded is not None
    assert [(e.scope, e.change) for e in degraded.monitor_events] == [("lsn-2", "degraded")]
    r.minute = 3
    n = r.step(be("i-1"), listener_filter="lsn-1")  # LOAD_BALANCER_IDS now names lsn-1 only
    assert n is not None
    assert [
        (e.scope, e.change, e.at, e.since, e.consecutive_failures) for e in n.monitor_events
    ] == [
        ("lsn-2", "ended", "2024-05-01T12:04:00.000Z", "2024-05-01T12:02:00.000Z", 2)
    ]  # lsn-3 failed once, never degraded: nothing to end
    assert (n.monitor_events[0].code, n.monitor_events[0].request_id) == (
        "INTERNAL_ERROR", "req-fail-3"
    )  # fmt: skip
    assert n.summary == "lb-one: 2 backends removed; monitoring ended for listener name-lsn-2."
    assert r.state is not None
    assert r.state.monitors == {}


def test_failure_before_any_state_then_baseline() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    degraded = r.fail()
    assert degraded is not None
    assert degraded.id == "lb-1#00000001"
    assert degraded.counts["backends"] == 0
    restored = r.step(be("i-1"), be("i-2"))
    assert restored is not None
    assert restored.event_type == "monitor_restored"


def test_a_scope_failure_keeps_what_the_api_said_apart_from_our_summary() -> None:
    error = AuthError(
        "authentication or authorization failed",
        status=401,
        code="AUTH_FAILED",
        request_id="r-9",
        detail="signature mismatch",
    )
    failure = ScopeFailure.from_error("lsn-2", error)
    assert failure == ScopeFailure("lsn-2", "auth", "AUTH_FAILED", 401, "r-9", "signature mismatch")
    assert ScopeFailure.from_error("", AuthError("no detail", status=403)).message == "no detail"
    assert failure.describe() == "auth AUTH_FAILED"
    assert dataclasses.replace(failure, code=None).describe() == "auth"
    assert dataclasses.replace(failure, code="").describe() == "auth"


def test_a_stored_error_without_a_numeric_status_is_told_without_one() -> None:
    error = {"kind": "server", "code": 7, "status": "503", "requestId": None, "message": "m"}
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"))
    assert r.state is not None
    r.state.monitors[""] = MonitorState(3, True, "2024-05-01T12:00:30.000Z", error)
    restored = r.step(be("i-1"))
    assert restored is not None
    (event,) = restored.monitor_events
    assert (event.change, event.status, event.code, event.request_id, event.message) == (
        "restored", None, "7", None, "m"
    )  # fmt: skip


# -- retirement -------------------------------------------------------------------------------


def test_a_retired_load_balancer_s_last_word_removes_every_backend_and_ends_its_monitoring() -> (
    None
):
    r = Runner(Thresholds(1, 1, 1, 0))
    both = frozenset({"lsn-1", "lsn-2"})
    r.step(be("i-1"), be("i-2", listener="lsn-2"), listener_filter=both)
    lsn1 = observation(2, be("i-1"), listener_filter="lsn-1")
    r.apply(dataclasses.replace(lsn1, failures=failure(2, scope="lsn-2").failures))
    assert r.state is not None
    previous = r.state.copy()
    last = retire(r.state, "unmonitored", at=at(10))
    assert r.state == previous  # the stored state is not touched
    n = last.notification
    assert n is not None
    assert (n.id, n.event_type, n.severity, n.retired) == (
        "lb-1#00000002", "health_change", "info", "unmonitored"
    )  # fmt: skip
    assert n.observed_at == "2024-05-01T12:10:00.000Z"
    assert [(t.listener_id, t.target, t.kind, t.reason, t.since) for t in n.transitions] == [
        ("lsn-1", "i-1", "removed", "unmonitored", "2024-05-01T12:10:00.000Z"),
        ("lsn-2", "i-2", "removed", "unmonitored", "2024-05-01T12:10:00.000Z"),
    ]
    assert last.transitions == n.transitions
    assert [(e.scope, e.change, e.at) for e in n.monitor_events] == [
        ("lsn-2", "ended", "2024-05-01T12:10:00.000Z")
    ]
    assert n.summary == (
        "lb-one: no longer monitored (not in LOAD_BALANCER_IDS); 2 backends removed; "
        "monitoring ended for listener name-lsn-2."
    )
    state = last.new_state
    assert last.changed
    assert (state.retired, state.observed_at, state.seq) == (
        "unmonitored", "2024-05-01T12:10:00.000Z", 2
    )  # fmt: skip
    assert (state.backends, state.listeners, state.monitors) == ({}, {}, {})
    again = retire(state, "deleted", at=at(11))
    assert (again.new_state, again.notification, again.transitions, again.changed) == (
        state, None, (), False
    )  # fmt: skip


def test_the_last_word_is_a_health_change_even_when_only_monitoring_ends() -> None:
    degraded = MonitorState(3, True, "2024-05-01T12:00:00.000Z", {"kind": "server"})
    previous = LbState("lb-1", "one", "2024-05-01T12:01:00.000Z", monitors={"": degraded})
    n = retire(previous, "deleted", at=at(2)).notification
    assert n is not None
    assert (n.event_type, n.severity, [e.change for e in n.monitor_events]) == (
        "health_change", "info", ["ended"]
    )  # fmt: skip
    assert n.summary == "one: load balancer deleted, no longer monitored; monitoring ended."


def test_a_retirement_is_never_stamped_before_the_last_observation() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    r.step(be("i-1"))
    r.step(be("i-1"))
    assert r.state is not None
    n = retire(r.state, "deleted", at=at(1)).notification
    assert n is not None
    assert n.observed_at == "2024-05-01T12:02:00.000Z"
    assert [t.since for t in n.transitions] == ["2024-05-01T12:02:00.000Z"]
    assert n.summary == "lb-one: load balancer deleted, no longer monitored; 1 backend removed."


def test_a_load_balancer_never_observed_is_retired_at_the_time_given() -> None:
    last = retire(LbState("lb-1", "one"), "unmonitored", at=at(5))
    assert last.notification is not None
    assert (last.notification.observed_at, last.new_state.observed_at) == (
        "2024-05-01T12:05:00.000Z", "2024-05-01T12:05:00.000Z"
    )  # fmt: skip
    assert last.notification.summary == "one: no longer monitored (not in LOAD_BALANCER_IDS)."


@pytest.mark.parametrize(("failure_t", "limit"), [(1, 2), (2, 2), (3, 3)])
def test_a_load_balancer_missing_from_discovery_is_retired_after_the_absence_limit(
    failure_t: int, limit: int
) -> None:
    r = Runner(Thresholds(failure_t, 1, 3, 0))
    r.step(be("i-1"))
    assert r.state is not None
    state = r.state
    for minute in range(2, limit + 1):
        missing = note_missing(state, r.thresholds, at=at(minute))
        assert (missing.notification, missing.transitions, missing.changed) == (None, (), True)
        assert (missing.new_state.missing, missing.new_state.retired) == (minute - 1, None)
        assert missing.new_state.observed_at == f"2024-05-01T12:{minute:02d}:00.000Z"
        state = missing.new_state
    stale = note_missing(state, r.thresholds, at=at(limit))  # another shard at the same tick
    assert (stale.new_state, stale.notification, stale.changed) == (state, None, False)
    gone = note_missing(state, r.thresholds, at=at(limit + 1))
    assert gone.notification is not None
    assert (gone.notification.retired, gone.new_state.retired) == ("deleted", "deleted")
    stamp = f"2024-05-01T12:{limit + 1:02d}:00.000Z"
    assert [(t.kind, t.reason, t.since) for t in gone.transitions] == [
        ("removed", "deleted", stamp)
    ]
    assert (gone.notification.observed_at, gone.new_state.observed_at) == (stamp, stamp)
    after = note_missing(gone.new_state, r.thresholds, at=at(limit + 2))
    assert (after.new_state, after.notification, after.changed) == (gone.new_state, None, False)


def test_a_load_balancer_listed_again_after_missing_once_starts_counting_afresh() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"))
    assert r.state is not None
    r.state = note_missing(r.state, r.thresholds, at=at(2)).new_state
    r.minute = 2
    assert r.step(be("i-1")) is None
    assert r.state.missing == 0
    r.state = note_missing(r.state, r.thresholds, at=at(4)).new_state
    assert (r.state.missing, r.state.retired) == (1, None)


# -- reminders --------------------------------------------------------------------------------


def _critical_runner(reminder_minutes: int) -> Runner:
    r = Runner(Thresholds(1, 1, 3, reminder_minutes))
    r.step(be("i-1"))
    n = r.step(be("i-1", "Dead"))
    assert n is not None
    assert n.severity == "critical"
    return r


def test_no_reminders_when_off() -> None:
    r = _critical_runner(0)
    for _ in range(10):
        assert r.step(be("i-1", "Dead"), minutes=60) is None


def test_reminders_follow_the_interval() -> None:
    r = _critical_runner(30)  # critical since minute 2
    assert r.step(be("i-1", "Dead"), minutes=29) is None  # minute 31
    reminder = r.step(be("i-1", "Dead"), minutes=1)  # minute 32
    assert reminder is not None
    assert (reminder.event_type, reminder.severity) == ("reminder", "critical")
    assert reminder.critical_listeners == ("lsn-1",)
    assert "still no healthy backend" in reminder.summary
    assert r.state is not None
    assert r.state.listeners["lsn-1"] == ListenerState(
        "2024-05-01T12:02:00.000Z", "2024-05-01T12:32:00.000Z"
    )
    assert r.step(be("i-1", "Dead"), minutes=29) is None  # minute 61
    assert r.step(be("i-1", "Dead"), minutes=1) is not None  # minute 62
    r.step(be("i-1"))
    assert r.state.listeners == {}
    assert r.step(be("i-1"), minutes=120) is None


def test_a_one_minute_reminder_interval_reminds_every_minute() -> None:
    r = _critical_runner(1)  # critical since minute 2
    reminder = r.step(be("i-1", "Dead"))
    assert reminder is not None
    assert (reminder.event_type, reminder.id, reminder.observed_at, reminder.request_id) == (
        "reminder", "lb-1#00000002", "2024-05-01T12:03:00.000Z", "req-3"
    )  # fmt: skip
    assert r.step(be("i-1", "Dead")) is not None


def test_a_listener_stored_without_its_critical_start_is_reminded_from_its_last_reminder() -> None:
    r = _critical_runner(30)
    assert r.state is not None
    r.state.listeners["lsn-1"] = ListenerState(None, "2024-05-01T12:10:00.000Z")
    assert r.step(be("i-1", "Dead"), minutes=37) is None  # minute 39
    assert r.step(be("i-1", "Dead"), minutes=1) is not None  # minute 40


def test_reminder_uses_now_not_the_observation_time() -> None:
    r = _critical_runner(30)
    r.minute += 1
    obs = observation(r.minute, be("i-1", "Dead"))
    assert r.apply(obs, now=at(r.minute) + timedelta(minutes=40)).notification is not None


def test_no_reminder_when_another_notification_goes_out() -> None:
    r = _critical_runner(30)
    other = be("i-2", listener="lsn-2")
    n = r.step(be("i-1", "Dead"), other, minutes=45)
    assert n is not None
    assert (n.event_type, n.severity) == ("health_change", "info")
    reminder = r.step(be("i-1", "Dead"), other, minutes=1)  # still due
    assert reminder is not None
    assert reminder.event_type == "reminder"


def test_critical_change_on_a_critical_listener_restarts_the_reminder_clock() -> None:
    r = Runner(Thresholds(1, 1, 3, 30))
    r.step(be("i-1"), be("i-2", "Dead"))
    r.step(be("i-1", "Dead"), be("i-2", "Dead"))  # critical at minute 2 (i-2 unconfirmed yet)
    r.step(be("i-1", "Dead"), be("i-2", "Dead"), be("i-3", "Dead"), minutes=20)  # minute 22
    assert r.notifications[-1].severity == "critical"
    assert r.step(be("i-1", "Dead"), be("i-2", "Dead"), be("i-3", "Dead"), minutes=15) is None
    assert r.step(be("i-1", "Dead"), be("i-2", "Dead"), be("i-3", "Dead"), minutes=15)


def test_no_reminder_on_failed_observations() -> None:
    r = _critical_runner(30)
    for _ in range(2):
        assert r.fail(minutes=60) is None


# -- round trips and size ---------------------------------------------------------------------

_text = st.text(max_size=12)
_status = st.sampled_from(["Alive", "Dead", "Unknown", "Close", "~odd", "A", "", "Checking"])
_opt_status = st.none() | _status
_iso = st.none() | st.just("2024-05-01T12:00:00.000Z")
_units = st.dictionaries(
    st.sampled_from(["*", "80", "443", "8080"]),
    st.builds(
        UnitState, _status, _opt_status, _opt_status, st.integers(0, 9), _iso, st.integers(0, 3)
    ),
    max_size=3,
)
_backends = st.dictionaries(
    _text,
    st.builds(
        BackendState,
        _text,
        _text,
        st.none() | _text,
        _text,
        _text,
        _units,
        st.integers(0, 3),
        st.booleans(),
    ),
    max_size=4,
)
_error = st.none() | st.dictionaries(
    st.sampled_from(["kind", "code", "status", "requestId", "message", "at"]),
    st.none() | _text | st.integers(0, 599),
)
_monitors = st.dictionaries(
    _text, st.builds(MonitorState, st.integers(0, 50), st.booleans(), _iso, _error), max_size=2
)
_states = st.builds(
    LbState,
    _text,
    _text,
    _iso,
    _backends,
    st.dictionaries(_text, st.builds(ListenerState, _iso, _iso), max_size=3),
    _monitors,
    st.integers(0, 10**8),
    st.integers(0, 3),
    st.none() | st.sampled_from(["deleted", "unmonitored"]),
    st.booleans(),
    st.dictionaries(_text, _iso, max_size=2),
)


@settings(max_examples=200)
@given(_states)
def test_state_round_trips_exactly(state: LbState) -> None:
    encoded = state.to_dict()
    assert LbState.from_dict(encoded) == state
    via_json = json.loads(json.dumps(encoded))
    assert via_json == encoded
    assert LbState.from_dict(via_json) == state
    assert LbState.from_dict(via_json).to_dict() == encoded
    assert state.copy() == state


def test_a_version_1_state_is_read_with_ip_keys_and_one_monitor() -> None:
    v1 = {
        "v": 1,
        "id": "lb-1",
        "n": "one",
        "t": "2024-05-01T12:00:00.000Z",
        "s": 7,
        "m": [2, True, "2024-05-01T11:58:00.000Z", {"kind": "server"}],
        "l": {"lsn-1": ["2024-05-01T11:50:00.000Z", None]},
        "b": {
            "lsn-1|i-1|80": [
                "lsn-1", "web", "i-1", "10.0.0.1", "80",
                {"*": ["D", "D", "D", 3, "2024-05-01T11:50:00.000Z"]},
            ]
        },
    }  # fmt: skip
    state = LbState.from_dict(v1)
    assert state == LbState(
        "lb-1",
        "one",
        "2024-05-01T12:00:00.000Z",
        backends={
            "lsn-1|i-1|10.0.0.1|80": BackendState(
                "lsn-1", "web", "i-1", "10.0.0.1", "80",
                {"*": UnitState("Dead", "Dead", "Dead", 3, "2024-05-01T11:50:00.000Z")},
            )
        },
        listeners={"lsn-1": ListenerState("2024-05-01T11:50:00.000Z", None)},
        monitors={"": MonitorState(2, True, "2024-05-01T11:58:00.000Z", {"kind": "server"})},
        seq=7,
        baselined=True,
    )  # fmt: skip
    assert LbState.from_dict(state.to_dict()) == state
    v1["l"] = {"lsn-1": [None, "2024-05-01T11:55:00.000Z"]}
    assert LbState.from_dict(v1).listeners == {
        "lsn-1": ListenerState(None, "2024-05-01T11:55:00.000Z")
    }


@pytest.mark.parametrize(
    ("stored", "monitors"),
    [
        ([0, False, None, None], {}),
        (
            [1, False, "2024-05-01T11:59:00.000Z", None],
            {"": MonitorState(1, False, "2024-05-01T11:59:00.000Z")},
        ),
        ([0, True, None, None], {"": MonitorState(0, True)}),
    ],
)
def test_a_version_1_monitor_is_kept_only_while_it_was_failing(
    stored: list[object], monitors: dict[str, MonitorState]
) -> None:
    v1 = {"v": 1, "id": "lb-1", "n": "one", "t": None, "s": 0, "m": stored, "l": {}, "b": {}}
    state = LbState.from_dict(v1)
    assert state.monitors == monitors
    assert not state.baselined  # version 1 stamped "t" on successful observations only


_transitions = st.builds(
    Transition,
    _text,
    _text,
    st.none() | _text,
    _text,
    _text,
    st.none() | st.integers(1, 65535),
    _opt_status,
    _opt_status,
    _iso,
    st.sampled_from(
        ["down", "recovered", "closed", "enabled", "added", "removed", "renumbered", "changed"]
    ),
    st.lists(st.integers(1, 65535), max_size=3).map(tuple),
    st.none() | st.integers(1, 65535),
    st.none() | st.sampled_from(["absent", "deleted", "unmonitored"]),
)
_events = st.builds(
    MonitorEvent,
    _text,
    st.sampled_from(["degraded", "restored", "ended"]),
    _text,
    _iso,
    st.integers(0, 99),
    st.none() | _text,
    st.none() | _text,
    st.none() | st.integers(100, 599),
    st.none() | _text,
    st.none() | _text,
)
_notifications = st.builds(
    Notification,
    id=_text,
    event_type=st.sampled_from(["health_change", "reminder", "monitor_degraded"]),
    severity=st.sampled_from(["critical", "warning", "info"]),
    load_balancer_id=_text,
    load_balancer_name=_text,
    observed_at=_text,
    summary=_text,
    transitions=st.lists(_transitions, max_size=4).map(tuple),
    counts=st.dictionaries(_text, st.integers(0, 100)),
    healthy_by_listener=st.lists(
        st.builds(
            ListenerHealth,
            _text,
            _text,
            st.integers(0, 9),
            st.integers(0, 9),
            st.integers(0, 9),
            st.integers(0, 9),
        ),
        max_size=3,
    ).map(tuple),
    monitor_events=st.lists(_events, max_size=2).map(tuple),
    critical_listeners=st.lists(_text, max_size=3).map(tuple),
    request_id=st.none() | _text,
    resolved=st.lists(st.builds(Resolved, _text, _iso, _iso), max_size=2).map(tuple),
    coalesced=st.integers(1, 50),
    ids=st.lists(_text, max_size=3).map(tuple),
    retired=st.none() | st.sampled_from(["deleted", "unmonitored"]),
    silenced_by=st.none() | _text,
    maintenance=st.none() | _text,
    unhealthy=st.lists(
        st.builds(
            UnitStatus,
            _text,
            _text,
            st.none() | _text,
            _text,
            _text,
            st.none() | st.integers(1, 65535),
            _status,
            _iso,
        ),
        max_size=2,
    ).map(tuple),
)


@settings(max_examples=200)
@given(_notifications)
def test_notification_round_trips_exactly(notification: Notification) -> None:
    encoded = notification.to_dict()
    via_json = json.loads(json.dumps(encoded))
    assert Notification.from_dict(via_json) == notification
    assert Notification.from_dict(via_json).to_dict() == encoded


def test_a_stored_change_of_an_unknown_kind_is_refused_by_name() -> None:
    transition = Transition(
        "lsn-1", "web", "i-1", "10.0.0.1", "80", None, "Alive", "Dead", None, "down"
    )
    data = {**transition.to_dict(), "kind": "exploded"}
    with pytest.raises(ValueError, match=r"^unknown transition kind 'exploded'$"):
        Transition.from_dict(data)
    event = MonitorEvent("", "degraded", "2024-05-01T12:00:00.000Z", None, 3)
    with pytest.raises(ValueError, match=r"^unknown monitor change 'paused'$"):
        MonitorEvent.from_dict({**event.to_dict(), "change": "paused"})


def test_a_change_stored_before_ports_renumbering_and_reasons_reads_without_them() -> None:
    transition = Transition(
        "lsn-1", "web", "i-1", "10.0.0.1", "80", None, "Alive", "Dead", None, "down"
    )
    data = transition.to_dict()
    for added_later in ("ports", "previousPort", "reason"):
        del data[added_later]
    assert Transition.from_dict(data) == transition


def test_a_notification_stored_before_its_later_fields_reads_without_them() -> None:
    n = Notification("lb-1#1", "health_change", "info", "lb-1", "one", "2024-05-01T12:00Z", "s")
    first = {"id", "eventType", "severity", "loadBalancerId", "loadBalancerName", "observedAt"}
    data = {k: v for k, v in n.to_dict().items() if k in first | {"summary"}}
    assert Notification.from_dict(data) == n  # every later field at its default
    event = MonitorEvent("", "degraded", "2024-05-01T12:02Z", "2024-05-01T12:01Z", 2)
    data = {k: v for k, v in event.to_dict().items() if v is not None or k == "since"}
    assert set(data) == {"scope", "change", "at", "since", "consecutiveFailures"}
    assert MonitorEvent.from_dict(data) == event
    health = ListenerHealth("lsn-1", "web", 2, 3)  # before partly-down and down were counted
    data = {"listenerId": "lsn-1", "listenerName": "web", "healthy": 2, "total": 3}
    assert ListenerHealth.from_dict(data) == health
    assert Resolved.from_dict({"what": "i-1"}) == Resolved("i-1", None, None)
    unit = UnitStatus("lsn-1", "web", "i-1", "10.0.0.1", "80", None, "Dead", None)
    assert UnitStatus.from_dict({k: v for k, v in unit.to_dict().items() if k != "since"}) == unit


def test_five_thousand_backends_stay_small_once_compressed() -> None:
    thresholds = Thresholds(2, 2, 3, 0)
    backends = tuple(
        be(
            f"i-{i:020d}",
            "Dead" if i % 7 == 0 else "Alive",
            listener=f"lsn-{i % 40:016d}",
            listener_name=f"listener-number-{i % 40}",
            detail={8000 + i % 3: "Alive", 9000: "Alive"} if i % 5 == 0 else None,
        )
        for i in range(5000)
    )
    state = None
    for minute in range(4):
        state = apply_observation(
            state, observation(minute, *backends), thresholds, now=at(minute)
        ).new_state
    assert state is not None
    assert len(state.backends) == 5000
    blob = zlib.compress(json.dumps(state.to_dict(), separators=(",", ":")).encode(), 6)
    assert len(blob) < 150_000
    assert LbState.from_dict(json.loads(zlib.decompress(blob))) == state


# -- a property: alerts only at the thresholds ------------------------------------------------


@settings(max_examples=150)
@given(
    st.integers(1, 4),
    st.integers(1, 4),
    st.lists(st.sampled_from(["Alive", "Dead", "Unknown"]), min_size=1, max_size=40),
)
def test_alerts_need_threshold_many_consecutive_observations(
    failure_t: int, recovery_t: int, statuses: list[str]
) -> None:
    r = Runner(Thresholds(failure_t, recovery_t, 3, 0))
    r.step(be("i-1"))
    told = "Alive"
    counted: list[str] = []  # the non-Unknown observations so far
    for status in statuses:
        if status != "Unknown":
            counted.append(status)
        n = r.step(be("i-1", status))
        if n is None:
            continue
        (t,) = n.transitions
        assert t.previous_status == told
        assert t.current_status == status != told
        need = failure_t if status == "Dead" else recovery_t
        assert counted[-need:] == [status] * need
        told = status
    assert r.unit(K1)[1] == told
