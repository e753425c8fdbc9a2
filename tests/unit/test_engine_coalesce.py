"""Coalescing: undelivered notifications of one subject merged into their net effect."""

from __future__ import annotations

import dataclasses

from engine_helpers import Runner, at, be, failure, observation

from zlb_health.config import Thresholds
from zlb_health.engine.coalesce import coalesce
from zlb_health.engine.notifications import MonitorEvent, Notification, Resolved, UnitStatus
from zlb_health.engine.rules import retire


def _told(r: Runner, *steps: Notification | None) -> list[Notification]:
    assert all(n is not None for n in steps), steps
    return [n for n in steps if n is not None]


def _changes(n: Notification | None) -> list[tuple[str, int | None, tuple[int, ...], int | None]]:
    assert n is not None
    return [(t.kind, t.port, t.ports, t.previous_port) for t in n.transitions]


def _statuses(n: Notification | None) -> list[tuple[str | None, str | None, str | None]]:
    assert n is not None
    return [(t.previous_status, t.current_status, t.since) for t in n.transitions]


def test_nothing_pending_is_nothing_and_one_notification_is_itself() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"))
    (down,) = _told(r, r.step(be("i-1", "Dead")))
    assert coalesce([]) is None
    assert coalesce([down]) is down


def test_the_first_previous_and_the_last_current_status_make_one_transition() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    pending = _told(
        r,
        r.step(be("i-1", "Dead"), be("i-2")),  # minute 2: Alive -> Dead
        r.step(be("i-1", "Close"), be("i-2")),  # minute 3: Dead -> Close
    )
    net = coalesce(list(reversed(pending)))  # delivery order does not matter: ids do
    assert net is not None
    assert [(t.kind, t.target) for t in net.transitions] == [("closed", "i-1")]
    assert _statuses(net) == [("Alive", "Close", "2024-05-01T12:03:00.000Z")]
    assert (net.id, net.observed_at, net.request_id) == (
        "lb-1#00000002", "2024-05-01T12:03:00.000Z", "req-3"
    )  # fmt: skip
    assert (net.coalesced, net.ids) == (2, ("lb-1#00000001", "lb-1#00000002"))
    assert (net.event_type, net.severity) == ("health_change", "info")
    assert net.counts == pending[-1].counts
    assert net.healthy_by_listener == pending[-1].healthy_by_listener
    assert net.summary == "lb-one: 1 backend with health check disabled."
    assert net.resolved == ()


def test_an_outage_that_came_and_went_says_nothing_but_is_listed_as_resolved() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2", listener="lsn-2", listener_name=""))
    pending = _told(
        r,
        r.step(be("i-1", "Dead"), be("i-2", "Dead", listener="lsn-2", listener_name="")),
        r.step(be("i-1"), be("i-2", listener="lsn-2", listener_name="")),
    )
    net = coalesce(pending)
    assert net is not None
    assert net.transitions == ()
    assert net.resolved == (
        Resolved(
            "i-1 on listener name-lsn-1: down and back",
            "2024-05-01T12:02:00.000Z",
            "2024-05-01T12:03:00.000Z",
        ),
        Resolved(  # a listener without a name is named by its id
            "i-2 on listener lsn-2: down and back",
            "2024-05-01T12:02:00.000Z",
            "2024-05-01T12:03:00.000Z",
        ),
    )
    assert (net.event_type, net.severity) == ("health_change", "info")
    assert net.summary == "lb-one: 2 problems came and went while alerts were delayed."


def test_a_change_and_its_undoing_without_an_outage_leave_nothing_to_say() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    closed = r.step(be("i-1", "Close"), be("i-2"))
    enabled = r.step(be("i-1"), be("i-2"))
    assert coalesce(_told(r, closed, enabled)) is None


def test_a_backend_down_before_and_down_now_is_nothing_new_and_not_resolved() -> None:
    """Told down; then, undelivered: its check off (Close) and on (Dead), or Alive and Dead
    again. Subscribers' word (down) is still true: no "down and back", which says it is over."""
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    r.step(be("i-1", "Dead"), be("i-2"))  # told: down
    closed_and_on = _told(
        r, r.step(be("i-1", "Close"), be("i-2")), r.step(be("i-1", "Dead"), be("i-2"))
    )
    assert coalesce(closed_and_on) is None
    back_and_down = _told(r, r.step(be("i-1"), be("i-2")), r.step(be("i-1", "Dead"), be("i-2")))
    assert coalesce(back_and_down) is None


def test_the_outage_listed_as_resolved_starts_at_its_first_down() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    pending = _told(
        r,
        r.step(be("i-1", "Dead"), be("i-2")),  # minute 2: down
        r.step(be("i-1", "Close"), be("i-2")),  # minute 3: health check off
        r.step(be("i-1", "Dead"), be("i-2")),  # minute 4: down again
        r.step(be("i-1"), be("i-2")),  # minute 5: back
    )
    net = coalesce(pending)
    assert net is not None
    assert net.resolved == (
        Resolved(
            "i-1 on listener name-lsn-1: down and back",
            "2024-05-01T12:02:00.000Z",
            "2024-05-01T12:05:00.000Z",
        ),
    )


def test_a_renumbered_port_continues_its_old_ports_chain() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive"}), be("i-2"))
    down, moved, up = _told(
        r,
        r.step(be(status="Dead", detail={80: "Dead"}), be("i-2")),
        r.step(be(status="Dead", detail={8080: "Dead"}), be("i-2")),
        r.step(be(detail={8080: "Alive"}), be("i-2")),
    )
    assert _changes(moved) == [("renumbered", 8080, (), 80)]
    # Down on 80, then moved: users hear it is down, on 8080 now.
    assert _changes(coalesce([down, moved])) == [("down", 8080, (), 80)]
    assert _statuses(coalesce([down, moved])) == [("Alive", "Dead", "2024-05-01T12:02:00.000Z")]
    # Moved, then back: the recovery of the port they last heard of as 80.
    assert _changes(coalesce([moved, up])) == [("recovered", 8080, (), 80)]
    # All three: it came and went, under its new number.
    net = coalesce([down, moved, up])
    assert net is not None
    assert net.transitions == ()
    assert net.resolved == (
        Resolved(
            "i-1 port 8080 on listener name-lsn-1: down and back",
            "2024-05-01T12:02:00.000Z",
            "2024-05-01T12:04:00.000Z",
        ),
    )


def test_a_renumbering_alone_still_says_where_the_port_went() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive"}), be("i-2"))
    r.step(be(status="Dead", detail={80: "Dead"}), be("i-2"))
    moved = r.step(be(status="Dead", detail={8080: "Dead"}), be("i-2"))
    again = r.step(be(status="Dead", detail={9090: "Dead"}), be("i-2"))
    net = coalesce(_told(r, moved, again))
    assert _changes(net) == [("renumbered", 9090, (), 80)]
    assert _statuses(net) == [("Dead", "Dead", "2024-05-01T12:02:00.000Z")]


def test_a_port_renumbered_and_back_is_told_under_its_number_without_a_was() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive"}), be("i-2"))
    pending = _told(
        r,
        r.step(be(status="Dead", detail={80: "Dead"}), be("i-2")),
        r.step(be(status="Dead", detail={8080: "Dead"}), be("i-2")),
        r.step(be(status="Dead", detail={80: "Dead"}), be("i-2")),
    )
    assert _changes(pending[2]) == [("renumbered", 80, (), 8080)]
    assert _changes(coalesce(pending)) == [("down", 80, (), None)]


def test_ports_first_told_in_any_order_are_listed_in_port_order() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive", 443: "Alive"}), be("i-2"))
    pending = _told(
        r,
        r.step(be(status="Dead", detail={80: "Alive", 443: "Dead"}), be("i-2")),
        r.step(be(status="Dead", detail={80: "Close", 443: "Dead"}), be("i-2")),
    )
    assert _changes(coalesce(pending)) == [("closed", 80, (), None), ("down", 443, (), None)]


def test_a_backend_told_about_whole_and_then_one_port_keeps_every_word() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2"))
    pending = _told(
        r,
        r.step(be("i-1", "Dead"), be("i-2")),
        r.step(be("i-1"), be("i-2")),
        r.step(be("i-1", "Dead", detail={80: "Dead"}), be("i-2", "Dead")),
    )
    net = coalesce(pending)
    assert net is not None
    assert [(t.kind, t.target, t.ports) for t in net.transitions] == [
        ("down", "i-1", ()),
        ("recovered", "i-1", ()),
        ("down", "i-1", (80,)),
        ("down", "i-2", ()),  # the next backend is merged as usual
    ]
    assert net.resolved == ()


def test_a_whole_backend_change_without_a_known_start_is_told_without_one() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive", 443: "Alive"}), be("i-2"))
    pending = [
        dataclasses.replace(
            n, transitions=tuple(dataclasses.replace(t, since=None) for t in n.transitions)
        )
        for n in _told(
            r,
            r.step(be(status="Dead", detail={80: "Dead", 443: "Dead"}), be("i-2")),
            r.step(be(status="Close", detail={80: "Close", 443: "Close"}), be("i-2")),
        )
    ]
    net = coalesce(pending)
    assert _changes(net) == [("closed", None, (80, 443), None)]
    assert _statuses(net) == [("Alive", "Close", None)]


def test_ports_that_changed_together_every_time_stay_one_whole_backend_transition() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    two = {80: "Alive", 443: "Alive"}
    r.step(be(detail=two), be("i-2"))
    pending = _told(
        r,
        r.step(be(status="Dead", detail={80: "Dead", 443: "Dead"}), be("i-2")),
        r.step(be(status="Close", detail={80: "Close", 443: "Close"}), be("i-2")),
    )
    net = coalesce(pending)
    assert _changes(net) == [("closed", None, (80, 443), None)]
    assert _statuses(net) == [("Alive", "Close", "2024-05-01T12:03:00.000Z")]


def test_ports_told_apart_stay_apart() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    two = {80: "Alive", 443: "Alive"}
    r.step(be(detail=two), be("i-2"))
    pending = _told(
        r,
        r.step(be(status="Dead", detail={80: "Dead", 443: "Dead"}), be("i-2")),
        r.step(be(status="Dead", detail={80: "Dead", 443: "Close"}), be("i-2")),
    )
    net = coalesce(pending)
    assert _changes(net) == [("down", 80, (), None), ("closed", 443, (), None)]
    assert _statuses(net) == [
        ("Alive", "Dead", "2024-05-01T12:02:00.000Z"),
        ("Alive", "Close", "2024-05-01T12:03:00.000Z"),
    ]


def test_a_backend_told_about_whole_and_per_port_keeps_every_word_in_order() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(), be("i-2"))
    whole, per_port = _told(
        r,
        r.step(be(status="Dead"), be("i-2")),  # no detail: the whole backend
        r.step(be(status="Dead", detail={80: "Alive", 443: "Dead"}), be("i-2")),
    )
    assert _changes(whole) == [("down", None, (), None)]
    assert _changes(per_port) == [("recovered", 80, (), None)]
    net = coalesce([per_port, whole])
    assert net is not None
    assert net.transitions == whole.transitions + per_port.transitions


def test_monitoring_degraded_then_restored_cancels_out_and_is_listed() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    r.step(be("i-1"))
    degraded = r.fail()
    restored = r.step(be("i-1"))
    net = coalesce(_told(r, degraded, restored))
    assert net is not None
    assert net.monitor_events == ()
    assert net.resolved == (
        Resolved(
            "monitoring: degraded and restored",
            "2024-05-01T12:02:00.000Z",
            "2024-05-01T12:03:00.000Z",
        ),
    )


def test_monitoring_of_a_listener_that_came_and_went_is_named() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    r.step(be("i-1"), listener_filter="lsn-1")
    degraded = r.apply(failure(2, scope="lsn-1")).notification
    restored = r.apply(observation(3, be("i-1"), listener_filter="lsn-1")).notification
    net = coalesce(_told(r, degraded, restored))
    assert net is not None
    assert [x.what for x in net.resolved] == ["monitoring of lsn-1: degraded and restored"]


def _event(scope: str, change: str, minute: int, since: int) -> MonitorEvent:
    stamp = "2024-05-01T12:{:02d}:00.000Z"
    return MonitorEvent(scope, change, stamp.format(minute), stamp.format(since), 3)


def _monitoring(seq: int, *events: MonitorEvent) -> Notification:
    return Notification(
        f"lb-1#{seq:08d}", "monitor_degraded", "warning", "lb-1", "one",
        f"2024-05-01T12:{seq:02d}:00.000Z", "", monitor_events=events,
    )  # fmt: skip


def test_each_monitor_scope_nets_on_its_own() -> None:
    net = coalesce(
        [
            _monitoring(1, _event("", "degraded", 1, 0), _event("lsn-2", "degraded", 1, 0)),
            _monitoring(2, _event("lsn-2", "restored", 2, 0)),
            _monitoring(3, _event("lsn-3", "degraded", 3, 2), _event("lsn-3", "restored", 4, 2)),
            _monitoring(5, _event("lsn-3", "degraded", 5, 5), _event("lsn-3", "restored", 6, 5)),
        ]
    )
    assert net is not None
    assert [(e.scope, e.change) for e in net.monitor_events] == [("", "degraded")]
    assert net.resolved == (
        Resolved(
            "monitoring of lsn-2: degraded and restored",
            "2024-05-01T12:00:00.000Z",
            "2024-05-01T12:02:00.000Z",
        ),
        Resolved(  # from its first degradation to its last restoration
            "monitoring of lsn-3: degraded and restored",
            "2024-05-01T12:02:00.000Z",
            "2024-05-01T12:06:00.000Z",
        ),
    )


def test_monitoring_restored_and_degraded_again_says_nothing_and_lists_nothing() -> None:
    restored = _monitoring(1, _event("", "restored", 1, 0))
    again = _monitoring(2, _event("", "degraded", 2, 2))
    assert coalesce([restored, again]) is None


def test_the_last_word_about_monitoring_is_its_state_now() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    r.step(be("i-1"))
    degraded = r.fail()
    restored = r.step(be("i-1"))
    again = r.fail()
    back = r.step(be("i-1"))
    net = coalesce(_told(r, degraded, restored, again))
    assert net is not None
    assert [(e.change, e.at) for e in net.monitor_events] == [
        ("degraded", "2024-05-01T12:04:00.000Z")
    ]
    assert net.resolved == ()  # listed only when nothing is left to say about the scope
    assert (net.event_type, net.severity) == ("monitor_degraded", "warning")
    net = coalesce(_told(r, restored, again, back))  # degraded before the first of them
    assert net is not None
    assert [(e.change, e.at) for e in net.monitor_events] == [
        ("restored", "2024-05-01T12:05:00.000Z")
    ]
    assert net.resolved == ()  # the outage began before what is pending
    assert (net.event_type, net.severity) == ("monitor_restored", "info")


def test_a_reminder_survives_only_when_nothing_else_is_left_to_say() -> None:
    r = Runner(Thresholds(1, 1, 3, 10))
    r.step(be("i-1"), be("i-2", listener="lsn-2"))
    down = r.step(be("i-1", "Dead"), be("i-2", listener="lsn-2"))
    first = r.step(be("i-1", "Dead"), be("i-2", listener="lsn-2"), minutes=10)
    second = r.step(be("i-1", "Dead"), be("i-2", listener="lsn-2"), minutes=10)
    reminders = _told(r, first, second)
    assert [n.event_type for n in reminders] == ["reminder", "reminder"]
    net = coalesce(reminders)
    assert net is not None
    assert (net.event_type, net.severity, net.id) == ("reminder", "critical", second.id)
    assert net.coalesced == 2
    net = coalesce(_told(r, down, first))
    assert net is not None
    assert (net.event_type, net.severity) == ("health_change", "critical")
    assert "reminder" not in net.summary
    other = r.step(be("i-1", "Dead"), be("i-2", "Dead", listener="lsn-2"))
    net = coalesce(_told(r, first, other))  # the latest is no reminder
    assert net is not None
    assert (net.event_type, [t.target for t in net.transitions]) == ("health_change", ["i-2"])


def test_the_last_word_about_a_retired_load_balancer_is_kept_even_with_nothing_else() -> None:
    base = Notification(
        "lb-1#00000001", "health_change", "info", "lb-1", "one", "2024-05-01T12:01:00.000Z", ""
    )
    last = dataclasses.replace(
        base, id="lb-1#00000002", observed_at="2024-05-01T12:02:00.000Z", retired="deleted"
    )
    net = coalesce([base, last])
    assert net is not None
    assert (net.id, net.retired, net.coalesced) == ("lb-1#00000002", "deleted", 2)
    assert net.summary == "one: load balancer deleted, no longer monitored."
    assert coalesce([base, dataclasses.replace(last, retired=None)]) is None


def test_a_listener_emptied_before_the_load_balancer_was_deleted_is_no_warning() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2", listener="lsn-2"))
    r.step(be("i-1"))
    emptied = r.step(be("i-1"))
    assert emptied is not None
    assert (emptied.severity, emptied.summary) == (
        "warning", "lb-one: 1 backend removed; no backend left on name-lsn-2."
    )  # fmt: skip
    assert r.state is not None
    last = retire(r.state, "deleted", at=at(4)).notification
    assert last is not None
    net = coalesce([emptied, last])
    assert net is not None
    assert [(t.target, t.reason) for t in net.transitions] == [
        ("i-2", "absent"),
        ("i-1", "deleted"),
    ]
    assert (net.event_type, net.severity, net.retired) == ("health_change", "info", "deleted")
    assert net.summary == "lb-one: load balancer deleted, no longer monitored; 2 backends removed."


def test_what_a_maintenance_end_says_is_kept_from_the_last_one() -> None:
    still = UnitStatus("lsn-1", "web", "i-1", "10.0.0.1", "80", None, "Dead", None)
    base = Notification(
        "lb-1#00000001", "health_change", "info", "lb-1", "one", "2024-05-01T12:01:00.000Z", ""
    )
    ended = dataclasses.replace(
        base, id="lb-1#00000002", maintenance="sil-9", unhealthy=(still,), silenced_by="sil-9"
    )
    net = coalesce([base, ended])
    assert net is not None
    assert (net.event_type, net.maintenance, net.unhealthy) == (
        "maintenance_ended", "sil-9", (still,)
    )  # fmt: skip
    assert net.silenced_by == "sil-9"  # the latest's
    later = dataclasses.replace(base, id="lb-1#00000003", resolved=(Resolved("x", None, None),))
    net = coalesce([ended, later])
    assert net is not None
    assert (net.maintenance, net.unhealthy, net.silenced_by) == ("sil-9", (still,), None)


def test_at_most_fifty_resolved_are_kept_the_newest() -> None:
    pending = [
        Notification(
            f"lb-1#{i:08d}", "health_change", "info", "lb-1", "one", "2024-05-01T12:00:00.000Z",
            "", resolved=(Resolved(f"problem {i}", None, None),), coalesced=2,
        )
        for i in range(1, 62)
    ]  # fmt: skip
    net = coalesce(pending)
    assert net is not None
    assert [x.what for x in net.resolved] == [f"problem {i}" for i in range(12, 62)]
    assert net.coalesced == 122
    assert len(net.ids) == 50  # the newest ids; the count stays exact
    assert net.id == "lb-1#00000061"  # the newest gives the id
    assert net.ids[-1] == "lb-1#00000061"
