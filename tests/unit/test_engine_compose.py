"""The one-sentence summary of a notification (also the email's subject) and its rendering."""

from __future__ import annotations

from zlb_health.engine.compose import EMPTY_VIEW, View, compose
from zlb_health.engine.notifications import (
    ListenerHealth,
    MonitorEvent,
    Notification,
    Transition,
    UnitStatus,
)
from zlb_health.engine.render import render

AT = "2024-05-01T12:00:00.000Z"


def _compose(**fields: object) -> Notification:
    return compose(  # type: ignore[arg-type]
        notification_id="lb-1#00000001",
        subject_id="lb-1",
        subject_name="shop",
        at=AT,
        **{"view": EMPTY_VIEW, **fields},
    )


def _down(listener: str, port: int | None = None, name: str = "") -> Transition:
    return Transition(listener, name, "i-1", "10.0.0.1", "80", port, "Alive", "Dead", AT, "down")


def _degraded(scope: str, kind: str | None, code: str | None) -> MonitorEvent:
    return MonitorEvent(scope, "degraded", AT, AT, 3, kind, code, 503, "r-1")


def test_monitoring_degraded_names_the_listener_and_the_error_even_when_unknown() -> None:
    n = _compose(events=(_degraded("lsn-9", None, None),))
    assert n.summary == (
        "shop: monitoring degraded for listener lsn-9 after 3 failed API calls in a row (error)."
    )
    subject = render(n).subject  # ASCII names, clipped below SNS's 100 characters
    assert subject == (
        "ZLB WARNING [zlb-health]: shop: monitoring degraded for listener lsn-9 after 3 failed "
        "API calls..."
    )
    assert len(subject) <= 99
    n = _compose(events=(_degraded("", "auth", "AUTH_FAILED"),))
    assert n.summary == (
        "shop: monitoring degraded after 3 failed API calls in a row (auth AUTH_FAILED)."
    )
    n = _compose(events=(_degraded("", "server", ""),))
    assert n.summary == "shop: monitoring degraded after 3 failed API calls in a row (server)."


def test_a_summary_names_three_listeners_and_counts_the_others() -> None:
    def critical(count: int) -> str:
        ids = [f"lsn-{i}" for i in range(1, count + 1)]
        view = View({}, tuple(ListenerHealth(lid, f"web{lid[-1]}", 0, 1) for lid in ids), ids)
        return _compose(view=view, transitions=tuple(map(_down, ids))).summary

    assert critical(3) == ("shop: 3 backends down; no healthy backend left on web1, web2, web3.")
    assert critical(4) == (
        "shop: 4 backends down; no healthy backend left on web1, web2, web3 and 1 more."
    )
    assert critical(6) == (
        "shop: 6 backends down; no healthy backend left on web1, web2, web3 and 3 more."
    )


def test_changes_of_single_ports_are_counted_as_backend_ports() -> None:
    n = _compose(transitions=(_down("lsn-1", 80), _down("lsn-1", 443)))
    assert n.summary == "shop: 2 backend ports down."
    n = _compose(transitions=(_down("lsn-1", 80), _down("lsn-1")))
    assert n.summary == "shop: 2 backend ports down."  # one of them a port: ports
    assert _compose(transitions=(_down("lsn-1"),)).summary == "shop: 1 backend down."


def test_a_notification_with_nothing_to_say_says_so() -> None:
    assert _compose().summary == "shop: nothing changed."


def test_a_reminder_names_the_listeners_still_without_a_healthy_backend() -> None:
    view = View({}, (ListenerHealth("lsn-1", "web", 0, 2),), ("lsn-1",))
    n = _compose(view=view, reminder=True)
    assert (n.event_type, n.severity) == ("reminder", "critical")
    assert n.summary == "shop: reminder, still no healthy backend on web."


def test_the_end_of_maintenance_counts_what_is_down_and_what_is_not_checked() -> None:
    def unit(instance: str, status: str) -> UnitStatus:
        return UnitStatus("lsn-1", "web", instance, "10.0.0.1", "80", None, status, AT)

    n = _compose(maintenance="sil-1", unhealthy=(unit("i-1", "Dead"), unit("i-2", "Close")))
    assert n.summary == ("shop: maintenance ended, 1 still down, 1 with health check disabled.")
    n = _compose(maintenance="sil-1", unhealthy=(unit("i-2", "Close"),))
    assert (n.summary, n.severity) == (
        "shop: maintenance ended, 1 with health check disabled.", "info"
    )  # fmt: skip
