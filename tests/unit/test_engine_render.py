"""Rendering one notification: JSON contract, email text, SMS and subject limits."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from engine_helpers import Runner, be
from hypothesis import given, settings
from hypothesis import strategies as st

from zlb_health.config import Thresholds
from zlb_health.engine.notifications import ListenerHealth, Notification, Scalar, Transition
from zlb_health.engine.render import (
    MESSAGE_BUDGET,
    SMS_MAX,
    SUBJECT_MAX,
    RenderedMessage,
    ascii_text,
    render,
)

CONTRACT_KEYS = {
    "schemaVersion",
    "eventType",
    "severity",
    "loadBalancerId",
    "loadBalancerName",
    "observedAt",
    "summary",
    "transitions",
    "counts",
    "id",
}
TRANSITION_KEYS = {
    "listenerId",
    "listenerName",
    "instanceId",
    "privateIpAddress",
    "backendPort",
    "port",
    "previousStatus",
    "currentStatus",
    "since",
}


def _db_outage() -> Notification:
    r = Runner(Thresholds(1, 1, 3, 0))
    db = partial(be, listener="lsn-0001", listener_name="lsn-db", port=5432)
    r.step(db("i-db1"), db("i-db2"), be("i-web", listener="lsn-0002"))
    n = r.step(db("i-db1", "Dead"), db("i-db2", "Dead"), be("i-web", listener="lsn-0002"))
    assert n is not None
    return n


def _assert_sms(text: str) -> None:
    assert len(text) <= SMS_MAX
    assert all(" " <= c <= "~" for c in text), text


def _assert_subject(subject: str) -> None:
    assert 0 < len(subject) <= SUBJECT_MAX
    assert all(" " <= c <= "~" for c in subject), subject


def _doc(message: RenderedMessage) -> dict[str, Any]:
    doc = json.loads(message.message["default"])
    assert isinstance(doc, dict)
    return doc


def test_json_default_follows_the_contract() -> None:
    n = _db_outage()
    m = render(n)
    assert set(m.message) == {"default", "email", "sms"}
    doc = _doc(m)
    assert set(doc) >= CONTRACT_KEYS
    assert doc["schemaVersion"] == 1
    assert (doc["eventType"], doc["severity"], doc["loadBalancerId"], doc["id"]) == (
        "health_change",
        "critical",
        "lb-1",
        "lb-1#00000001",
    )
    transitions = doc["transitions"]
    assert isinstance(transitions, list)
    assert len(transitions) == 2
    for t in transitions:
        assert set(t) >= TRANSITION_KEYS
        assert t["port"] is None
        assert (t["previousStatus"], t["currentStatus"], t["backendPort"]) == (
            "Alive",
            "Dead",
            5432,
        )
    assert doc["transitionsOmitted"] == 0
    assert doc["counts"] == n.counts
    assert doc["criticalListeners"] == [{"listenerId": "lsn-0001", "listenerName": "lsn-db"}]
    assert m.attributes == {
        "event_type": "health_change",
        "severity": "critical",
        "load_balancer_id": "lb-1",
    }


def test_a_backend_following_the_listener_port_has_null_backend_port() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("10.0.0.9", port=None, listener_port="8000-8001"), be("i-2"))
    n = r.step(be("10.0.0.9", "Dead", port=None, listener_port="8000-8001"), be("i-2"))
    assert n is not None
    (t,) = _doc(render(n))["transitions"]
    assert (t["backendPort"], t["listenerPort"], t["instanceId"]) == (None, "8000-8001", None)


def test_port_is_set_only_for_per_port_changes() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive", 443: "Alive"}), be("i-2"))
    n = r.step(be(status="Dead", detail={80: "Alive", 443: "Dead"}), be("i-2"))
    assert n is not None
    (t,) = _doc(render(n))["transitions"]
    assert t["port"] == 443
    assert t["backendPort"] == 80
    assert "port 443" in render(n).message["email"]
    assert render(n).message["sms"] == "ZLB WARN lb-one: DOWN 1: i-1:443"


def test_sms_names_the_lb_the_severity_and_what_went_down() -> None:
    assert render(_db_outage()).message["sms"] == (
        "ZLB CRIT lb-one: lsn-db NO healthy backend. DOWN 2: i-db1:5432,i-db2:5432"
    )


def test_subject() -> None:
    subject = render(_db_outage()).subject
    _assert_subject(subject)
    assert subject.startswith("ZLB CRITICAL: lb-one: 2 backends down")


def test_email_says_what_where_since_and_what_is_still_healthy() -> None:
    email = render(_db_outage()).message["email"]
    for expected in (
        "severity CRITICAL",
        "DOWN: i-db1 (10.0.0.5) port 5432 on listener lsn-db (lsn-0001): Alive -> Dead",
        "since 2024-05-01T12:02:00.000Z",
        "Listeners with NO healthy backend:",
        "lsn-db (lsn-0001): 0 of 2 backends healthy  <-- NO HEALTHY BACKEND",
        "name-lsn-0002 (lsn-0002): 1 of 1 backends healthy",
        "Notification id: lb-1#00000001",
        "Load balancer id: lb-1",
        "Observed at: 2024-05-01T12:02:00.000Z; requestId: req-2",
    ):
        assert expected in email, expected


def test_monitor_messages() -> None:
    r = Runner(Thresholds(1, 1, 2, 0))
    r.step(be())
    r.fail()
    degraded = r.fail(code="AUTH_FAILED")
    assert degraded is not None
    m = render(degraded)
    assert m.message["sms"] == (
        "ZLB WARN lb-one: monitoring degraded, 2 failed API calls (server AUTH_FAILED). See email."
    )
    assert "requestId req-fail-3" in m.message["email"]
    assert "Last known health, per listener" in m.message["email"]
    assert _doc(m)["monitor"] == degraded.monitor
    restored = r.step(be())
    assert restored is not None
    m = render(restored)
    assert m.message["sms"] == "ZLB INFO lb-one: monitoring restored."
    assert m.attributes["event_type"] == "monitor_restored"
    assert "Monitoring restored at 2024-05-01T12:04:00.000Z" in m.message["email"]


def test_restored_with_changes_says_so() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    r.step(be(), be("i-2"))
    r.fail()
    n = r.step(be(status="Dead"), be("i-2"))
    assert n is not None
    m = render(n)
    assert _doc(m)["monitorRestored"] is True
    assert m.message["sms"].endswith("Monitor OK.")
    assert "monitoring restored" in m.subject


def test_reminder_message() -> None:
    r = Runner(Thresholds(1, 1, 3, 10))
    r.step(be(listener_name="lsn-db"))
    r.step(be(status="Dead", listener_name="lsn-db"))
    reminder = r.step(be(status="Dead", listener_name="lsn-db"), minutes=10)
    assert reminder is not None
    assert render(reminder).message["sms"] == (
        "ZLB CRIT lb-one: REMINDER lsn-db still NO healthy backend."
    )


def test_transitions_are_capped_with_a_count_of_the_rest() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(*(be(f"i-{i}") for i in range(250)))
    n = r.step(*(be(f"i-{i}", "Dead") for i in range(250)))
    assert n is not None
    assert len(n.transitions) == 250
    m = render(n)
    doc = _doc(m)
    assert len(doc["transitions"]) == 200
    assert doc["transitionsOmitted"] == 50
    assert "... and 50 more changes" in m.message["email"]
    assert m.message["sms"].endswith(" more")
    _assert_sms(m.message["sms"])


def test_subject_falls_back_to_the_id_for_names_without_ascii() -> None:
    n = _db_outage()
    n = Notification.from_dict({**n.to_dict(), "loadBalancerName": "\u6570\u636e\u5e93"})
    n = Notification.from_dict({**n.to_dict(), "summary": "\u6570\u636e\u5e93: 2 backends down."})
    assert render(n).subject == "ZLB CRITICAL: lb-1: 2 backends down."


def test_ascii_text() -> None:
    assert ascii_text("Caf\u00e9 \u2013 Z\u00fcrich \u2713\n\tprod") == "Cafe Zurich prod"
    assert ascii_text("数据库") == ""
    assert ascii_text("abcdefghij", 8) == "abcde..."


# -- properties -------------------------------------------------------------------------------

_names = st.text(min_size=0, max_size=80)
_ids = st.text(min_size=1, max_size=64)
_scalars: st.SearchStrategy[Scalar] = st.none() | st.text(max_size=80) | st.integers()


@st.composite
def _big_notifications(draw: st.DrawFn) -> Notification:
    count = draw(st.integers(0, 60))
    listeners = draw(st.lists(st.tuples(_ids, _names), min_size=1, max_size=5))
    transitions = []
    for i in range(count):
        lid, lname = listeners[i % len(listeners)]
        transitions.append(
            Transition(
                listener_id=lid,
                listener_name=lname,
                instance_id=draw(st.none() | _ids),
                private_ip_address=draw(_names),
                backend_port=draw(st.text(max_size=20)),
                port=draw(st.none() | st.integers(1, 65535)),
                previous_status=draw(st.sampled_from([None, "Alive", "Dead", "Close"])),
                current_status=draw(st.sampled_from([None, "Alive", "Dead", "Close"])),
                since="2024-05-01T12:00:00.000Z",
                kind=draw(
                    st.sampled_from(
                        ["down", "recovered", "closed", "enabled", "added", "removed", "changed"]
                    )
                ),
            )
        )
    return Notification(
        id=draw(_ids),
        event_type=draw(
            st.sampled_from(["health_change", "reminder", "monitor_degraded", "monitor_restored"])
        ),
        severity=draw(st.sampled_from(["critical", "warning", "info"])),
        load_balancer_id=draw(_ids),
        load_balancer_name=draw(_names),
        observed_at="2024-05-01T12:00:00.000Z",
        summary=draw(st.text(max_size=300)),
        transitions=tuple(transitions),
        counts={"alive": 1, "dead": count},
        healthy_by_listener=tuple(ListenerHealth(lid, name, 0, 3) for lid, name in listeners),
        monitor=draw(st.none() | st.fixed_dictionaries({"kind": _scalars, "code": _scalars})),
        monitor_restored=draw(st.booleans()),
        critical_listeners=tuple(lid for lid, _ in listeners[: draw(st.integers(0, 5))]),
        request_id=draw(st.none() | _ids),
    )


@settings(max_examples=60, deadline=None)
@given(_big_notifications())
def test_sms_and_subject_limits_hold_for_anything(n: Notification) -> None:
    m = render(n)
    _assert_sms(m.message["sms"])
    _assert_subject(m.subject)
    assert "\n" not in m.subject
    doc = _doc(m)
    assert doc["id"] == n.id
    assert len(doc["transitions"]) == len(n.transitions)


@settings(max_examples=50, deadline=None)
@given(
    st.text(min_size=30, max_size=80),
    st.text(min_size=30, max_size=80),
    st.lists(st.text(min_size=20, max_size=60), min_size=50, max_size=50),
)
def test_sms_fits_for_fifty_changed_backends_with_long_unicode_names(
    lb_name: str, listener_name: str, targets: list[str]
) -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.lb = "lb-" + "x" * 60
    first = [
        be(f"i-{i}-{t}", listener_name=listener_name, port=65535) for i, t in enumerate(targets)
    ]
    r.step(*first)
    n = r.step(
        *(
            be(f"i-{i}-{t}", "Dead", listener_name=listener_name, port=65535)
            for i, t in enumerate(targets)
        )
    )
    assert n is not None
    assert len(n.transitions) == 50
    n = Notification.from_dict({**n.to_dict(), "loadBalancerName": lb_name})
    sms = render(n).message["sms"]
    _assert_sms(sms)
    assert sms.startswith("ZLB CRIT ")
    assert "NO healthy backend." in sms
    assert "DOWN 50:" in sms
    assert "more" in sms


def test_huge_notification_stays_within_the_sns_limit() -> None:
    long = "\u00e9\u4e2d" * 200
    transitions = tuple(
        Transition(
            f"lsn-{i}{long}", long, f"i-{i}{long}", long, "80", i, "Alive", "Dead", None, "down"
        )
        for i in range(5000)
    )
    n = Notification(
        id="lb#1",
        event_type="health_change",
        severity="critical",
        load_balancer_id="lb",
        load_balancer_name=long,
        observed_at="2024-05-01T12:00:00.000Z",
        summary=long,
        transitions=transitions,
        healthy_by_listener=tuple(ListenerHealth(f"l{i}", long, 0, 1) for i in range(5000)),
        critical_listeners=tuple(f"l{i}" for i in range(5000)),
    )
    m = render(n)
    assert len(json.dumps(m.message).encode()) <= MESSAGE_BUDGET
    assert _doc(m)["transitionsOmitted"] == 5000 - len(_doc(m)["transitions"])
    _assert_sms(m.message["sms"])
