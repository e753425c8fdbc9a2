"""Rendering one notification: JSON contract, email text, SMS and subject limits, wording."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from engine_helpers import Runner, at, be, failure, observation
from hypothesis import given, settings
from hypothesis import strategies as st

from zlb_health.config import Thresholds
from zlb_health.engine.coalesce import coalesce
from zlb_health.engine.notifications import (
    ListenerHealth,
    MonitorEvent,
    Notification,
    Resolved,
    Transition,
    UnitStatus,
)
from zlb_health.engine.render import (
    MESSAGE_BUDGET,
    Origin,
    RenderedMessage,
    fill,
    render,
    render_group,
)
from zlb_health.engine.rules import retire
from zlb_health.engine.text import ascii_text

SMS_PART = 160  # characters of one plain-ASCII SMS part
SNS_SUBJECT = 99  # SNS requires a subject shorter than 100 characters
SNS_MESSAGE = 262_144  # bytes SNS accepts in one Publish
PROD = Origin("zlb-prod", "eu-west-1")

CONTRACT_KEYS = {
    "schemaVersion",
    "eventType",
    "severity",
    "loadBalancerId",
    "observedAt",
    "summary",
    "transitions",
    "counts",
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
}


def _db_outage() -> Notification:
    r = Runner(Thresholds(1, 1, 3, 0))
    db = partial(be, listener="lsn-0001", listener_name="lsn-db", port=5432)
    r.step(db("i-db1"), db("i-db2"), be("i-web", listener="lsn-0002"))
    n = r.step(db("i-db1", "Dead"), db("i-db2", "Dead"), be("i-web", listener="lsn-0002"))
    assert n is not None
    return n


def _sms_ok(text: str) -> bool:
    return len(text) <= SMS_PART and all(" " <= c <= "~" for c in text)


def _subject_ok(subject: str) -> bool:
    return 0 < len(subject) <= SNS_SUBJECT and all(" " <= c <= "~" for c in subject)


def _doc(message: RenderedMessage) -> dict[str, Any]:
    doc = json.loads(message.message["default"])
    assert isinstance(doc, dict)
    return doc


# -- the JSON rendition ---------------------------------------------------------------------------


def test_json_default_follows_the_contract_and_names_its_source() -> None:
    n = _db_outage()
    m = render(n, PROD)
    assert set(m.message) == {"default", "email", "sms"}
    doc = _doc(m)
    assert m.message["default"] == json.dumps(doc, separators=(",", ":"))  # compact: bytes count
    assert set(doc) >= CONTRACT_KEYS
    assert doc["schemaVersion"] == 1
    assert (doc["eventType"], doc["severity"], doc["loadBalancerId"], doc["id"]) == (
        "health_change",
        "critical",
        "lb-1",
        "lb-1#00000001",
    )
    assert doc["source"] == {"stack": "zlb-prod", "region": "eu-west-1"}
    assert (doc["coalesced"], doc["ids"]) == (1, ["lb-1#00000001"])
    transitions = doc["transitions"]
    assert len(transitions) == 2
    for t in transitions:
        assert set(t) >= TRANSITION_KEYS
        assert (t["port"], t["ports"], t["previousStatus"], t["currentStatus"]) == (
            None,
            [],
            "Alive",
            "Dead",
        )
        assert t["backendPort"] == 5432
    assert doc["transitionsOmitted"] == 0
    assert doc["counts"] == n.counts
    assert doc["criticalListeners"] == [{"listenerId": "lsn-0001", "listenerName": "lsn-db"}]
    assert doc["healthyByListener"][0] == {
        "listenerId": "lsn-0001",
        "listenerName": "lsn-db",
        "healthy": 0,
        "partial": 0,
        "down": 2,
        "total": 2,
    }
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
    m = render(n)
    (t,) = _doc(m)["transitions"]
    assert (t["port"], t["backendPort"]) == (443, 80)
    assert "port 443 on listener" in m.message["email"]
    assert m.message["sms"] == "ZLB zlb-health WARN lb-one: DOWN 1: i-1:443"


def test_a_whole_backend_change_names_the_checked_ports() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={8080: "Alive"}), be("i-2"))
    n = r.step(be(status="Dead", detail={8080: "Dead"}), be("i-2"))
    assert n is not None
    m = render(n)
    (t,) = _doc(m)["transitions"]
    assert (t["port"], t["ports"], t["backendPort"]) == (None, [8080], 80)
    assert "i-1 (10.0.0.3) port 8080 on listener" in m.message["email"]
    assert m.message["sms"] == "ZLB zlb-health WARN lb-one: DOWN 1: i-1:8080"


# -- SMS ---------------------------------------------------------------------------------------


def test_sms_names_the_stack_the_lb_the_severity_and_what_went_down() -> None:
    assert render(_db_outage(), PROD).message["sms"] == (
        "ZLB zlb-prod CRIT lb-one: lsn-db NO healthy backend. DOWN 2: i-db1:5432,i-db2:5432"
    )


def test_sms_names_the_listener_when_a_change_spans_several() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1", listener="lsn-a"), be("i-1", listener="lsn-b"))
    n = r.step(be("i-1", "Dead", listener="lsn-a"), be("i-1", "Dead", listener="lsn-b"))
    assert n is not None
    assert render(n).message["sms"] == (
        "ZLB zlb-health CRIT lb-one: name-lsn-a +1 listeners NO healthy backend. "
        "DOWN 2: name-lsn-a/i-1:80,name-lsn-b/i-1:80"
    )


def test_sms_items_are_clipped_one_by_one() -> None:
    n = Notification(
        id="lb-1#00000003",
        event_type="health_change",
        severity="warning",
        load_balancer_id="lb-1",
        load_balancer_name="lb-one",
        observed_at="2024-05-01T12:03:00.000Z",
        summary="lb-one: 2 backends down.",
        transitions=(
            Transition("lsn-1", "web", None, "10.0.0.9", "", None, "Alive", "Dead", None, "down"),
            Transition(
                "lsn-1", "web", "i-0123456789abcdef01234", "10.0.0.1", "80", None, "Alive",
                "Dead", None, "down", ports=(80, 443, 8080, 9090),
            ),
        ),
    )  # fmt: skip
    assert render(n).message["sms"] == (
        "ZLB zlb-health WARN lb-one: DOWN 2: 10.0.0.9:?,i-0123456789abcdef0...:80,443,8..."
    )  # no port known: "?"; a target clipped to 22 characters, the ports to 11


def test_sms_items_of_several_listeners_name_each_listener_in_12_characters() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    a = partial(be, listener="lsn-a", listener_name="orders-api-production")
    b = partial(be, listener="lsn-b", listener_name="")
    r.step(a("i-1"), a("i-2"), b("10.0.0.9"), b("i-3"))
    n = r.step(a("i-1", "Dead"), a("i-2"), b("10.0.0.9", "Dead"), b("i-3"))
    assert n is not None
    assert render(n).message["sms"] == (
        "ZLB zlb-health WARN lb-one: DOWN 2: orders-ap.../i-1:80,lsn-b/10.0.0.9:80"
    )  # a listener without a name goes by its id


def test_sms_of_a_degraded_monitor_clips_the_error_to_40_characters() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    r.step(be())
    n = r.fail(code="INVALID_LOAD_BALANCER_LISTENER_NOT_FOUND")
    assert n is not None
    assert render(n).message["sms"] == (
        "ZLB zlb-health WARN lb-one: Monitoring degraded, 1 failed API calls "
        "(server INVALID_LOAD_BALANCER_LISTENER...)."
    )


def test_sms_of_a_renumbered_port_says_where_it_moved() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be(detail={80: "Alive"}), be("i-2"))
    r.step(be(status="Dead", detail={80: "Dead"}), be("i-2"))
    n = r.step(be(status="Dead", detail={8080: "Dead"}), be("i-2"))
    assert n is not None
    assert [(t.kind, t.previous_port, t.port) for t in n.transitions] == [("renumbered", 80, 8080)]
    m = render(n)
    assert m.message["sms"] == "ZLB zlb-health INFO lb-one: MOVED 1: i-1:8080"
    assert "PORT RENUMBERED: i-1 (10.0.0.3) port 8080 (was 80)" in m.message["email"]


def test_monitor_messages() -> None:
    r = Runner(Thresholds(1, 1, 2, 0))
    r.step(be())
    r.fail()
    degraded = r.fail(code="AUTH_FAILED")
    assert degraded is not None
    m = render(degraded)
    assert m.message["sms"] == (
        "ZLB zlb-health WARN lb-one: Monitoring degraded, 2 failed API calls (server AUTH_FAILED)."
    )
    email = m.message["email"]
    assert (
        "\nMonitoring of the load balancer degraded since 2024-05-01T12:02:00.000Z, "
        "after 2 failed API calls in a row.\n"
    ) in email
    assert "Last error: server AUTH_FAILED, HTTP 500, requestId req-fail-3" in email
    assert "Zenlayer said: boom" in email
    assert "Last known health, per listener" in email
    assert (_doc(m)["monitor"]["since"], _doc(m)["monitor"]["restoredAt"]) == (
        "2024-05-01T12:02:00.000Z", None
    )  # fmt: skip
    restored = r.step(be())
    assert restored is not None
    m = render(restored)
    assert m.message["sms"] == "ZLB zlb-health INFO lb-one: Monitoring restored."
    assert m.attributes["event_type"] == "monitor_restored"
    assert "restored at 2024-05-01T12:04:00.000Z" in m.message["email"]
    assert _doc(m)["monitor"]["restoredAt"] == "2024-05-01T12:04:00.000Z"


def test_a_degraded_listener_is_named() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    r.step(be(), listener_filter="lsn-1")
    obs = failure(2, scope="lsn-1", kind="not_found", code="INVALID_LISTENER_NOT_FOUND")
    n = r.apply(obs).notification
    assert n is not None
    m = render(n)
    assert m.message["sms"] == (
        "ZLB zlb-health WARN lb-one: Monitoring name-lsn-1 degraded, 1 failed API calls "
        "(not_found INVALID_LISTENER_NOT_FOUND)."
    )
    assert "Monitoring of listener name-lsn-1 (lsn-1) degraded" in m.message["email"]


def test_the_end_of_monitoring_of_a_listener_never_named_gives_its_id() -> None:
    ended = MonitorEvent(
        "lsn-9", "ended", "2024-05-01T12:09:00.000Z", "2024-05-01T12:01:00.000Z", 2
    )
    n = Notification(
        id="lb-1#00000007",
        event_type="monitor_restored",
        severity="info",
        load_balancer_id="lb-1",
        load_balancer_name="lb-one",
        observed_at="2024-05-01T12:09:00.000Z",
        summary="lb-one: monitoring of lsn-9 ended.",
        monitor_events=(ended,),
    )
    m = render(n)
    assert m.message["sms"] == "ZLB zlb-health INFO lb-one: Monitoring lsn-9 ended."
    assert m.message["email"] == (
        "Monitoring restored - severity INFO\n"
        "\n"
        "lb-one: monitoring of lsn-9 ended.\n"
        "\n"
        "Load balancer: lb-one (lb-1)\n"
        "\n"
        "Monitoring of listener lsn-9 ended at 2024-05-01T12:09:00.000Z "
        "(it was degraded since 2024-05-01T12:01:00.000Z).\n"
        "Last error: -\n"
        "\n"
        "Notification id: lb-1#00000007\n"
        "Load balancer id: lb-1\n"
        "Observed at: 2024-05-01T12:09:00.000Z; requestId: -\n"
        "Sent by zlb-health stack zlb-health.\n"
    )


def test_restored_with_changes_says_so() -> None:
    r = Runner(Thresholds(1, 1, 1, 0))
    r.step(be(), be("i-2"))
    r.fail()
    n = r.step(be(status="Dead"), be("i-2"))
    assert n is not None
    m = render(n)
    assert _doc(m)["monitorRestored"] is True
    assert m.message["sms"] == "ZLB zlb-health WARN lb-one: DOWN 1: i-1:80 Monitoring restored."
    assert m.subject == ("ZLB WARNING [zlb-health]: lb-one: 1 backend down; monitoring restored.")


@pytest.mark.parametrize(
    ("name", "shown"),
    [("lsn-db", "lsn-db"), ("orders-api-production", "orders-api-produc...")],  # 20 at most
)
def test_reminder_message(name: str, shown: str) -> None:
    r = Runner(Thresholds(1, 1, 3, 10))
    r.step(be(listener_name=name))
    r.step(be(status="Dead", listener_name=name))
    reminder = r.step(be(status="Dead", listener_name=name), minutes=10)
    assert reminder is not None
    assert render(reminder).message["sms"] == (
        f"ZLB zlb-health CRIT lb-one: REMINDER {shown} still NO healthy backend."
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
    assert _sms_ok(m.message["sms"])


# -- subjects ------------------------------------------------------------------------------------


def test_subject_names_severity_stack_and_what_happened() -> None:
    assert render(_db_outage(), PROD).subject == (
        "ZLB CRITICAL [zlb-prod]: lb-one: 2 backends down; no healthy backend left on lsn-db."
    )


def test_the_load_balancer_name_takes_40_subject_and_24_sms_characters() -> None:
    n = replace(_db_outage(), load_balancer_name="payments-gateway-production-eu-west-1-blue")
    assert render(n).subject == (
        "ZLB CRITICAL [zlb-health]: payments-gateway-production-eu-west-1...: 2 backends down; "
        "no healthy..."
    )  # the name clipped to 40 characters, the subject to 99
    assert render(n).message["sms"].startswith("ZLB zlb-health CRIT payments-gateway-prod...: ")


def test_the_stack_is_named_in_16_sms_characters_and_24_of_the_subject() -> None:
    m = render(_db_outage(), Origin("zlb-production-eu-west-1-blue", "eu-west-1"))
    assert m.message["sms"].startswith("ZLB zlb-productio... CRIT lb-one: ")
    assert m.subject.startswith("ZLB CRITICAL [zlb-production-eu-wes...]: lb-one: ")
    m = render(_db_outage(), Origin("\u751f\u4ea7", ""))  # no ASCII at all: the default name
    assert m.message["sms"].startswith("ZLB zlb-health CRIT lb-one: ")
    assert m.subject.startswith("ZLB CRITICAL [zlb-health]: lb-one: ")


def test_subject_falls_back_to_ids_for_names_without_ascii() -> None:
    n = _db_outage()
    data = n.to_dict()
    data["loadBalancerName"] = "\u6570\u636e\u5e93"
    data["healthyByListener"][0]["listenerName"] = "\u03a9\u03bc\u03ad\u03b3\u03b1"
    for t in data["transitions"]:
        t["listenerName"] = "\u03a9\u03bc\u03ad\u03b3\u03b1"
    m = render(Notification.from_dict(data))
    assert m.subject == (
        "ZLB CRITICAL [zlb-health]: lb-1: 2 backends down; no healthy backend left on lsn-0001."
    )
    assert m.message["sms"].startswith("ZLB zlb-health CRIT lb-1: lsn-0001 NO healthy backend.")


# -- email ---------------------------------------------------------------------------------------


def test_email_says_what_where_since_and_how_each_listener_serves() -> None:
    assert render(_db_outage(), PROD).message["email"] == (
        "Backend health changed - severity CRITICAL\n"
        "\n"
        "lb-one: 2 backends down; no healthy backend left on lsn-db.\n"
        "\n"
        "Load balancer: lb-one (lb-1)\n"
        "\n"
        "What changed:\n"
        "  - DOWN: i-db1 (10.0.0.5) port 5432 on listener lsn-db (lsn-0001): Alive -> Dead, "
        "since 2024-05-01T12:02:00.000Z\n"
        "  - DOWN: i-db2 (10.0.0.5) port 5432 on listener lsn-db (lsn-0001): Alive -> Dead, "
        "since 2024-05-01T12:02:00.000Z\n"
        "\n"
        "Listeners with NO healthy backend:\n"
        "  - lsn-db (lsn-0001)\n"
        "\n"
        "Health now, per listener (healthy: every checked port Alive):\n"
        "  - lsn-db (lsn-0001): 0 of 2 backends healthy  <-- NO HEALTHY BACKEND\n"
        "  - name-lsn-0002 (lsn-0002): 1 of 1 backends healthy\n"
        "\n"
        "Backends: 3 (1 healthy, 0 partly down, 2 down, 0 health check off, 0 unknown) "
        "on 2 listeners, 1 without a healthy backend.\n"
        "\n"
        "Notification id: lb-1#00000001\n"
        "Load balancer id: lb-1\n"
        "Observed at: 2024-05-01T12:02:00.000Z; requestId: req-2\n"
        "Sent by zlb-health stack zlb-prod in eu-west-1.\n"
    )


def test_the_email_lists_two_hundred_changes_and_listeners_and_counts_the_rest() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(*(be(f"i-{i}", listener=f"lsn-{i:03d}") for i in range(200)))
    n = r.step(*(be(f"i-{i}", "Dead", listener=f"lsn-{i:03d}") for i in range(200)))
    assert n is not None
    assert (len(n.transitions), len(n.healthy_by_listener)) == (200, 200)
    m = render(n)
    assert m.message["email"].count("\n  - DOWN: ") == 200
    assert " more changes" not in m.message["email"]
    assert " more listeners." not in m.message["email"]
    assert (len(_doc(m)["healthyByListener"]), _doc(m)["listenersOmitted"]) == (200, 0)
    n = replace(n, healthy_by_listener=(*n.healthy_by_listener, ListenerHealth("lsn-x", "", 1, 1)))
    m = render(n)
    assert m.message["email"].count(" backends healthy") == 200
    assert "\n  ... and 1 more listeners.\n" in m.message["email"]
    assert (len(_doc(m)["healthyByListener"]), _doc(m)["listenersOmitted"]) == (200, 1)


def test_email_of_an_added_backend_says_it_had_no_status_before() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"))
    n = r.step(be("i-1"), be("i-9"))
    assert n is not None
    assert (
        "\n  - ADDED: i-9 (10.0.0.3) port 80 on listener name-lsn-1 (lsn-1): none -> Alive, "
        "since 2024-05-01T12:02:00.000Z\n"
    ) in render(n).message["email"]


def test_one_port_down_counts_as_partly_down_everywhere() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    two = {80: "Alive", 443: "Alive"}
    r.step(be(detail=two), be("i-2", detail=two))
    n = r.step(be(status="Dead", detail={80: "Alive", 443: "Dead"}), be("i-2", detail=two))
    assert n is not None
    m = render(n)
    assert "name-lsn-1 (lsn-1): 1 of 2 backends healthy, 1 partly down" in m.message["email"]
    assert (
        "\nBackends: 2 (1 healthy, 1 partly down, 0 down, 0 health check off, 0 unknown) "
        "on 1 listener.\n"  # one listener, and it has a healthy backend
    ) in m.message["email"]
    assert _doc(m)["healthyByListener"][0] == {
        "listenerId": "lsn-1",
        "listenerName": "name-lsn-1",
        "healthy": 1,
        "partial": 1,
        "down": 0,
        "total": 2,
    }
    assert (n.counts["alive"], n.counts["partial"], n.counts["dead"]) == (1, 1, 0)


def test_what_came_and_went_while_alerts_were_delayed_is_in_the_email_only() -> None:
    n = Notification(
        id="lb-1#00000009",
        event_type="health_change",
        severity="info",
        load_balancer_id="lb-1",
        load_balancer_name="one",
        observed_at="2024-05-01T12:09:00.000Z",
        summary="one: 1 problem came and went while alerts were delayed.",
        resolved=(
            Resolved(
                "i-1 on listener web: down and back",
                "2024-05-01T12:02:00.000Z",
                "2024-05-01T12:05:00.000Z",
            ),
        ),
        coalesced=7,
        ids=tuple(f"lb-1#0000000{i}" for i in range(3, 10)),
    )
    m = render(n)
    assert (
        "\n\nWhile alerts were delayed (already over):\n"
        "  - i-1 on listener web: down and back, from 2024-05-01T12:02:00.000Z "
        "to 2024-05-01T12:05:00.000Z\n"
    ) in m.message["email"]
    assert "Notification id: lb-1#00000009 (stands for 7 notifications)" in m.message["email"]
    two = render(replace(n, coalesced=2, resolved=(Resolved("i-2: down and back", "t0", None),)))
    assert "\nNotification id: lb-1#00000009 (stands for 2 notifications)\n" in two.message["email"]
    assert "  - i-2: down and back, from t0 to ?\n" in two.message["email"]  # still open
    assert "\nNotification id: lb-1#00000009\n" in render(replace(n, coalesced=1)).message["email"]
    assert m.message["sms"] == (
        "ZLB zlb-health INFO one: 1 problem(s) came and went while alerts were delayed. See email."
    )
    assert _doc(m)["coalesced"] == 7


def test_sms_says_which_listener_has_no_backend_left_unless_the_load_balancer_is_gone() -> None:
    r = Runner(Thresholds(1, 1, 3, 0))
    r.step(be("i-1"), be("i-2", listener="lsn-2"))
    r.step(be("i-1"))
    emptied = r.step(be("i-1"))
    assert emptied is not None
    assert render(emptied).message["sms"] == (
        "ZLB zlb-health WARN lb-one: name-lsn-2 has NO backend left. REMOVED 1: i-2:80"
    )
    assert r.state is not None
    last = retire(r.state, "unmonitored", at=at(4)).notification
    assert last is not None
    net = coalesce([emptied, last])
    assert net is not None
    assert render(net).message["sms"] == (
        "ZLB zlb-health INFO lb-one: no longer monitored. "
        "REMOVED 2: name-lsn-2/i-2:80,name-lsn-1/i-1:80"
    )


def test_sms_tells_every_monitoring_news_and_what_came_and_went() -> None:
    restored = [MonitorEvent(lsn, "restored", "t1", "t0", 0) for lsn in ("lsn-a", "lsn-b")]
    n = Notification(
        id="lb-1#00000005",
        event_type="monitor_restored",
        severity="info",
        load_balancer_id="lb-1",
        load_balancer_name="lb-one",
        observed_at="2024-05-01T12:05:00.000Z",
        summary="lb-one: monitoring restored.",
        monitor_events=tuple(restored),
        resolved=(Resolved("i-1: down and back", "t0", "t1"),),
    )
    assert render(n).message["sms"] == (
        "ZLB zlb-health INFO lb-one: Monitoring lsn-a restored. Monitoring lsn-b restored. "
        "1 problem(s) came and went while alerts were delayed. See email."
    )


def test_a_deleted_load_balancer_says_so() -> None:
    n = Notification(
        id="lb-1#00000004",
        event_type="health_change",
        severity="info",
        load_balancer_id="lb-1",
        load_balancer_name="one",
        observed_at="2024-05-01T12:09:00.000Z",
        summary="one: load balancer deleted, no longer monitored; 1 backend removed.",
        transitions=(
            Transition(
                "lsn-1", "web", "i-1", "10.0.0.1", "80", None, "Dead", None,
                "2024-05-01T12:09:00.000Z", "removed", reason="deleted",
            ),
        ),
        retired="deleted",
    )  # fmt: skip
    m = render(n)
    assert m.message["sms"] == (
        "ZLB zlb-health INFO one: deleted, no longer monitored. REMOVED 1: i-1:80"
    )
    assert "Dead -> none (the load balancer was deleted)" in m.message["email"]


# -- the end of a maintenance window -------------------------------------------------------------

ENDED_AT = "2026-11-23T13:00:00.000Z"


def _maintenance_ended(*unhealthy: UnitStatus, **fields: Any) -> Notification:
    return Notification(
        id="lb-1#00000002~end",
        event_type="maintenance_ended",
        severity="warning",
        load_balancer_id="lb-1",
        load_balancer_name="lb-one",
        observed_at=ENDED_AT,
        summary="lb-one: maintenance sil-9 ended.",
        maintenance="sil-9",
        unhealthy=unhealthy,
        **fields,
    )


def _dead(target: str, port: int | None = None, backend_port: str = "80") -> UnitStatus:
    instance = target if target.startswith("i-") else None
    ip = "10.0.0.1" if instance else target
    return UnitStatus("lsn-1", "web", instance, ip, backend_port, port, "Dead", None)


def test_the_end_of_maintenance_lists_what_is_still_unhealthy() -> None:
    n = _maintenance_ended(
        replace(_dead("i-1"), since="2026-11-23T12:10:00.000Z"),
        _dead("10.0.0.9", 443),
        UnitStatus("lsn-2", "lsn-2", "i-3", "10.0.0.3", "80", None, "Close", None),
        _dead("10.0.0.7", backend_port="8000-8001"),
        counts={
            **{"alive": 0, "partial": 0, "dead": 3, "close": 1, "unknown": 0, "backends": 4},
            **{"listeners": 2, "listenersWithoutHealthyBackend": 1},
        },
        request_id="req-9",
    )
    m = render(n)
    assert m.message["sms"] == (
        "ZLB zlb-health WARN lb-one: maintenance ended. "
        "Still DOWN 3: i-1:80,10.0.0.9:443,10.0.0.7:8000-8001"
    )  # a health check turned off is not down
    assert m.message["email"] == (
        "Maintenance ended - severity WARNING\n"
        "\n"
        "lb-one: maintenance sil-9 ended.\n"
        "\n"
        "Load balancer: lb-one (lb-1)\n"
        "\n"
        "Silence sil-9 is over; alerts are back on.\n"
        "\n"
        "Unhealthy now (what the silence covered):\n"
        "  - DEAD: i-1 (10.0.0.1) port 80 on listener web (lsn-1), since 2026-11-23T12:10:00.000Z\n"
        "  - DEAD: 10.0.0.9 port 443 on listener web (lsn-1)\n"
        "  - CLOSE: i-3 (10.0.0.3) port 80 on listener lsn-2\n"
        "  - DEAD: 10.0.0.7 port 8000-8001 on listener web (lsn-1)\n"
        "\n"
        "Backends: 4 (0 healthy, 0 partly down, 3 down, 1 health check off, 0 unknown) "
        "on 2 listeners, 1 without a healthy backend.\n"
        "\n"
        "Notification id: lb-1#00000002~end\n"
        "Load balancer id: lb-1\n"
        "Observed at: 2026-11-23T13:00:00.000Z; requestId: req-9\n"
        "Sent by zlb-health stack zlb-health.\n"
    )
    long = _maintenance_ended(
        _dead("i-" + "x" * 30, None, ""), _dead("10.0.0.7", None, "1-9,20-29,40")
    )
    clipped = " Still DOWN 2: i-xxxxxxxxxxxxxxxxx...:?,10.0.0.7:1-9,20-2..."
    assert render(long).message["sms"].endswith(clipped)  # a target clipped to 22, a port to 11


def test_the_json_of_the_end_of_maintenance_names_the_silence_and_what_is_unhealthy() -> None:
    over = Resolved("i-2: down and back", "t0", "t1")
    n = _maintenance_ended(_dead("i-1"), resolved=(over,), request_id="req-9")
    assert _doc(render(n)) == {
        "schemaVersion": 1,
        "id": "lb-1#00000002~end",
        "ids": ["lb-1#00000002~end"],
        "coalesced": 1,
        "eventType": "maintenance_ended",
        "severity": "warning",
        "loadBalancerId": "lb-1",
        "loadBalancerName": "lb-one",
        "observedAt": ENDED_AT,
        "requestId": "req-9",
        "source": {"stack": "zlb-health", "region": ""},
        "summary": "lb-one: maintenance sil-9 ended.",
        "transitions": [],
        "transitionsOmitted": 0,
        "counts": {},
        "criticalListeners": [],
        "healthyByListener": [],
        "listenersOmitted": 0,
        "monitor": None,
        "monitorEvents": [],
        "monitorRestored": False,
        "resolved": [{"what": "i-2: down and back", "started": "t0", "ended": "t1"}],
        "retired": None,
        "maintenance": "sil-9",
        "unhealthy": [_dead("i-1").to_dict()],
        "unhealthyOmitted": 0,
    }


def test_still_down_items_are_shown_only_with_room_left_for_a_count() -> None:
    # 60 characters up to "Still DOWN 4:", then three items of 25: 138.
    long = [_dead("i-" + c * 20) for c in "abc"]
    at_limit = render(_maintenance_ended(*long, _dead("i-1234"))).message["sms"]
    assert len(at_limit) == 148  # + " +99999 more" is 160: one SMS part
    assert at_limit.endswith(",i-cccccccccccccccccccc:80,i-1234:80")
    one_over = render(_maintenance_ended(*long, _dead("i-12345"))).message["sms"]
    assert one_over.endswith(",i-cccccccccccccccccccc:80 +1 more")
    many = render(_maintenance_ended(*(_dead(f"i-{i:03d}") for i in range(40)))).message["sms"]
    assert many == (
        "ZLB zlb-health WARN lb-one: maintenance ended. Still DOWN 40: "
        + ",".join(f"i-{i:03d}:80" for i in range(9))
        + " +31 more"
    )  # 61 + 9 items of 9 + 12 for the count: 154, and a tenth item would not leave that room
    assert len(many) <= SMS_PART


def test_still_down_keeps_to_one_sms_part_even_past_99999_more() -> None:
    # The room kept for the count is " +99999 more"; " +100000 more" is one character longer.
    down = [_dead(f"i-{i:06d}") for i in range(100_006)]
    n = replace(_maintenance_ended(*down), load_balancer_name="l" * 17)
    sms = render(n).message["sms"]
    assert sms.endswith(",i-000004:80,i-000005:80 +100000...")  # clipped at 160, then trimmed
    assert _sms_ok(sms)


def test_the_end_of_maintenance_with_nothing_down_tells_what_changed() -> None:
    recovered = Transition(
        "lsn-1", "web", "i-1", "10.0.0.1", "80", None, "Dead", "Alive", None, "recovered"
    )
    n = _maintenance_ended(
        UnitStatus("lsn-1", "web", "i-3", "10.0.0.3", "80", None, "Close", None),
        transitions=(recovered,),
        resolved=(Resolved("i-2 on listener web: down and back", None, ENDED_AT),),
    )
    m = render(n)
    assert m.message["sms"] == "ZLB zlb-health WARN lb-one: maintenance ended. UP 1: i-1:80"
    email = m.message["email"]
    assert (
        "\nWhat differs from the start of the window:\n"
        "  - RECOVERED: i-1 (10.0.0.1) port 80 on listener web (lsn-1): Dead -> Alive\n"
    ) in email
    assert (
        "\nDuring the window (already over):\n"
        "  - i-2 on listener web: down and back, from ? to 2026-11-23T13:00:00.000Z\n"
    ) in email


def test_the_email_lists_two_hundred_unhealthy_backends_and_counts_the_rest() -> None:
    units = [_dead(f"i-{i:03d}") for i in range(201)]
    m = render(_maintenance_ended(*units[:200]))
    assert m.message["email"].count("\n  - DEAD: ") == 200
    assert "more." not in m.message["email"]
    assert (len(_doc(m)["unhealthy"]), _doc(m)["unhealthyOmitted"]) == (200, 0)
    m = render(_maintenance_ended(*units))
    assert m.message["email"].count("\n  - DEAD: ") == 200
    assert "\n  ... and 1 more.\n" in m.message["email"]
    assert (len(_doc(m)["unhealthy"]), _doc(m)["unhealthyOmitted"]) == (200, 1)


def test_ascii_text() -> None:
    assert ascii_text("Caf\u00e9 \u2013 Z\u00fcrich \u2713\n\tprod") == "Cafe Zurich prod"
    assert ascii_text("\u6570\u636e\u5e93") == ""
    assert ascii_text("abcdefghij", 8) == "abcde..."


# -- limits: literals, boundaries, and anything ---------------------------------------------------


def test_an_sms_exactly_at_the_limit_is_kept_and_one_over_is_clipped() -> None:
    at_limit = fill("x" * 150, [], "y" * 10)
    assert at_limit == "x" * 150 + "y" * 10  # 160: one SMS part, untouched
    one_over = fill("x" * 151, [], "y" * 10)
    assert one_over == "x" * 151 + "y" * 6 + "..."  # clipped to 160
    assert len(one_over) == 160


def test_sms_items_leave_room_for_the_monitoring_news_after_them() -> None:
    items = [f"vm-{i:02d}:80" for i in range(30)]
    text = fill("ZLB s WARN lb:", [("DOWN", items)], " Monitoring restored.")
    assert text.endswith(" more Monitoring restored.")  # whole, after the count
    assert len(text) <= 160


def test_an_sms_item_exactly_at_the_room_left_is_kept_and_one_over_is_counted() -> None:
    # 137 + " DOWN 1:" (8) + " ab" (3) = 148, which leaves " +99999 more" (12): 160.
    assert fill("x" * 137, [("DOWN", ["ab"])], "") == "x" * 137 + " DOWN 1: ab"
    assert fill("x" * 138, [("DOWN", ["ab"])], "") == "x" * 138 + " +1 more"  # no empty head


def test_a_kind_whose_first_item_does_not_fit_leaves_room_for_the_next_kind() -> None:
    text = fill("x" * 120, [("DOWN", ["a" * 40]), ("UP", ["b:80", "c:80"])], "")
    assert text == "x" * 120 + " UP 2: b:80,c:80 +1 more"


def test_the_count_adds_up_every_item_not_shown_of_every_kind() -> None:
    down = [f"d{i:02d}:80" for i in range(30)]
    groups = [("DOWN", down), ("UP", ["u1:80", "u2:80", "u3:80"]), ("ADDED", ["a1:80", "a2:80"])]
    assert fill("x" * 100, groups, "") == (
        "x" * 100 + " DOWN 30: d00:80,d01:80,d02:80,d03:80,d04:80 +30 more"
    )  # 25 down, 3 up and 2 added not shown


def test_sms_items_that_do_not_fit_become_a_count() -> None:
    items = [f"vm-{i:02d}:80" for i in range(30)]
    text = fill("ZLB s WARN lb:", [("DOWN", items)], "")
    assert text.startswith("ZLB s WARN lb: DOWN 30: vm-00:80,vm-01:80,")
    shown = text.split(": ", 2)[2].split(" +")[0].split(",")
    assert text.endswith(f" +{30 - len(shown)} more")
    assert len(text) <= 160


KINDS = ("down", "recovered", "closed", "enabled", "added", "removed", "renumbered", "changed")
_names = st.text(min_size=0, max_size=80)
_ids = st.text(min_size=1, max_size=64)


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
                kind=draw(st.sampled_from(KINDS)),
                ports=tuple(draw(st.lists(st.integers(1, 65535), max_size=4))),
                previous_port=draw(st.none() | st.integers(1, 65535)),
            )
        )
    events = [
        MonitorEvent(
            draw(st.sampled_from(["", "discovery", *(lid for lid, _ in listeners)])),
            draw(st.sampled_from(["degraded", "restored", "ended"])),
            "2024-05-01T12:00:00.000Z",
            None,
            draw(st.integers(0, 10**6)),
            draw(st.none() | _names),
            draw(st.none() | _names),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
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
        monitor_events=tuple(events),
        critical_listeners=tuple(lid for lid, _ in listeners[: draw(st.integers(0, 5))]),
        request_id=draw(st.none() | _ids),
        resolved=tuple(Resolved(draw(_names), None, None) for _ in range(draw(st.integers(0, 3)))),
        retired=draw(st.none() | st.sampled_from(["deleted", "unmonitored"])),
    )


@settings(max_examples=80, deadline=None)
@given(_big_notifications(), st.text(max_size=40), st.text(max_size=20))
def test_sms_and_subject_limits_hold_for_anything(n: Notification, stack: str, region: str) -> None:
    m = render(n, Origin(stack, region))
    assert _sms_ok(m.message["sms"]), m.message["sms"]
    assert _subject_ok(m.subject), m.subject
    assert "\n" not in m.subject
    doc = _doc(m)
    assert doc["id"] == n.id
    assert len(doc["transitions"]) == len(n.transitions)
    assert len(m.sns_message().encode("utf-8")) <= SNS_MESSAGE


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
    assert _sms_ok(sms)
    assert sms.startswith("ZLB zlb-health CRIT ")
    assert "NO healthy backend." in sms
    assert "DOWN 50:" in sms
    assert sms.endswith(" more")


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
    assert len(m.sns_message().encode("utf-8")) <= SNS_MESSAGE
    doc = _doc(m)
    assert 0 < len(doc["transitions"]) < 200  # shrunk from the first attempt's 200
    assert doc["transitionsOmitted"] == 5000 - len(doc["transitions"])
    assert _sms_ok(m.message["sms"])


def test_a_notification_too_big_even_without_its_lists_is_sent_marked_truncated() -> None:
    n = replace(
        _db_outage(), summary="\u00e9" * 120_000, coalesced=2, ids=("lb-1#0", "lb-1#00000001")
    )
    m = render(n)
    doc = _doc(m)
    assert doc["truncated"] is True
    assert (doc["transitions"], doc["transitionsOmitted"], doc["ids"]) == ([], 2, [n.id])
    assert _doc(render(replace(n, summary="")))["ids"] == ["lb-1#0", "lb-1#00000001"]
    assert _sms_ok(m.message["sms"])
    assert _subject_ok(m.subject)
    alone = _doc(render_group([n], digest=False))  # a group of one is that notification's
    assert (alone["truncated"], alone["loadBalancerIds"], alone["transitions"]) == (
        True, ["lb-1"], []
    )  # fmt: skip
    assert "truncated" not in _doc(render(_db_outage()))
    assert "truncated" not in _doc(render_group([_db_outage()], digest=False))
    news = replace(
        n,
        monitor_events=tuple(
            MonitorEvent(f"lsn-{i}", "restored", "2024-05-01T12:02:00.000Z", "t0", 2)
            for i in (1, 2)
        ),
        resolved=(
            Resolved("i-7: down and back", "t0", "t1"),
            Resolved("i-8: down and back", "t0", "t1"),
        ),
    )
    email = render(news).message["email"]  # the first of each, not the rest
    assert "\nMonitoring of listener lsn-1 restored at " in email
    assert "\n  - i-7: down and back, from t0 to t1\n" in email
    assert "lsn-2" not in email
    assert "i-8" not in email
    ended = replace(_maintenance_ended(_dead("i-0"), _dead("i-1")), summary=n.summary)
    email = render(ended).message["email"]  # still names the first unhealthy backend
    assert (
        "\n  - DEAD: i-0 (10.0.0.1) port 80 on listener web (lsn-1)\n  ... and 1 more.\n" in email
    )


def test_a_message_exactly_at_the_budget_is_kept_whole_and_one_byte_over_is_shrunk() -> None:
    down = Transition("lsn-1", "web", "i-1", "10.0.0.1", "80", None, "Alive", "Dead", None, "down")
    base = replace(_db_outage(), transitions=(down,) * 200)

    def padded(extra: int) -> Notification:  # a count only the JSON shows: one byte a character
        return replace(base, counts={**base.counts, "p" * extra: 0})

    pad = 1 + MESSAGE_BUDGET - render(padded(1)).size
    at_budget = render(padded(pad))
    assert at_budget.size == MESSAGE_BUDGET
    assert len(_doc(at_budget)["transitions"]) == 200  # the first attempt, whole
    one_over = render(padded(pad + 1))
    assert len(_doc(one_over)["transitions"]) == 100  # the next, shorter one


def test_the_engine_helpers_build_what_they_say() -> None:
    obs = observation(3, be("i-1"), listener_filter=frozenset({"lsn-1", "lsn-2"}))
    assert [a.scope for a in obs.answers] == ["lsn-1", "lsn-2"]
    assert [len(a.backends) for a in obs.answers] == [1, 0]
