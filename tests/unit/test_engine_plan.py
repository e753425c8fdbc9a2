"""Planning a run's messages: monitor groups, the cap, the digest, coverage of every id."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zlb_health.engine.notifications import MonitorEvent, Notification, Transition
from zlb_health.engine.plan import PlannedMessage, plan_messages
from zlb_health.engine.render import Origin, render_group

SMS_PART = 160  # characters of one plain-ASCII SMS part
SNS_SUBJECT = 99  # SNS requires a subject shorter than 100 characters
SNS_MESSAGE = 262_144  # bytes SNS accepts in one Publish
PROD = Origin("zlb-prod", "eu-west-1")


def _n(
    lb: str,
    seq: int = 1,
    *,
    event_type: str = "health_change",
    severity: str = "warning",
    minute: int = 0,
) -> Notification:
    return Notification(
        id=f"{lb}#{seq:08d}",
        event_type=event_type,
        severity=severity,
        load_balancer_id=lb,
        load_balancer_name=f"name-{lb}",
        observed_at=f"2024-05-01T12:{minute:02d}:00.000Z",
        summary=f"name-{lb}: something {event_type}.",
        counts={"alive": 1, "dead": 1, "backends": 2},
        monitor_events=(
            MonitorEvent(
                "",
                "degraded" if event_type == "monitor_degraded" else "restored",
                f"2024-05-01T12:{minute:02d}:00.000Z",
                "2024-05-01T11:58:00.000Z",
                3,
                "server",
                "E",
                503,
                f"r-{lb}",
            ),
        )
        if event_type.startswith("monitor")
        else (),
    )


def _ids(planned: list[PlannedMessage]) -> list[str]:
    return [i for p in planned for i in p.notification_ids]


def _doc(p: PlannedMessage) -> dict[str, Any]:
    doc = json.loads(p.rendered.message["default"])
    assert isinstance(doc, dict)
    return doc


def test_one_message_per_notification_within_the_cap() -> None:
    ns = [_n("lb-a"), _n("lb-b", severity="critical"), _n("lb-c", severity="info")]
    planned = plan_messages(ns, cap=3)
    assert [p.notification_ids for p in planned] == [
        ("lb-b#00000001",),
        ("lb-a#00000001",),
        ("lb-c#00000001",),
    ]
    assert [p.rendered.attributes["load_balancer_id"] for p in planned] == ["lb-b", "lb-a", "lb-c"]


def test_monitor_degraded_notifications_are_one_message() -> None:
    ns = [_n(f"lb-{i}", event_type="monitor_degraded") for i in range(5)]
    ns.append(_n("lb-x"))
    planned = plan_messages(ns, cap=10)
    assert len(planned) == 2
    group = planned[0]
    assert group.notification_ids == tuple(f"lb-{i}#00000001" for i in range(5))
    assert group.rendered.attributes == {
        "event_type": "monitor_degraded",
        "severity": "warning",
        "load_balancer_id": "*",
    }
    doc = _doc(group)
    assert doc["loadBalancerIds"] == [f"lb-{i}" for i in range(5)]
    assert len(doc["loadBalancers"]) == 5
    assert group.rendered.message["sms"] == (
        "ZLB zlb-health WARN: monitoring degraded for 5 load balancers: "
        "name-lb-0,name-lb-1,name-lb-2 +2 more."
    )
    assert "r-lb-3" in group.rendered.message["email"]


def test_a_single_degraded_load_balancer_keeps_its_id() -> None:
    planned = plan_messages([_n("lb-a", event_type="monitor_degraded")], cap=5)
    (p,) = planned
    assert p.rendered.attributes["load_balancer_id"] == "lb-a"
    assert _doc(p)["loadBalancerIds"] == ["lb-a"]
    assert p.rendered.message["sms"] == (
        "ZLB zlb-health WARN name-lb-a: Monitoring degraded, 3 failed API calls (server E)."
    )


def test_restored_notifications_are_one_message_too() -> None:
    ns = [_n(f"lb-{i}", event_type="monitor_restored", severity="info") for i in range(3)]
    (p,) = plan_messages(ns, cap=5)
    assert p.rendered.attributes["event_type"] == "monitor_restored"
    assert p.rendered.attributes["load_balancer_id"] == "*"
    assert "digest" not in _doc(p)


def test_with_both_monitor_groups_and_room_for_one_more_the_rest_is_a_digest() -> None:
    ns = [
        _n("lb-d", event_type="monitor_degraded"),
        _n("lb-r", event_type="monitor_restored", severity="info"),
        _n("lb-x", severity="critical"),
        _n("lb-y"),
    ]
    planned = plan_messages(ns, cap=3)
    assert [p.notification_ids for p in planned] == [
        ("lb-d#00000001",),
        ("lb-r#00000001",),
        ("lb-x#00000001", "lb-y#00000001"),
    ]
    assert [p.rendered.attributes["event_type"] for p in planned] == [
        "monitor_degraded", "monitor_restored", "health_change"
    ]  # fmt: skip
    assert [_doc(p).get("digest", False) for p in planned] == [False, False, True]


def test_both_monitor_groups_alone_fit_a_cap_of_two() -> None:
    ns = [
        _n("lb-d", event_type="monitor_degraded"),
        _n("lb-r", event_type="monitor_restored", severity="info"),
        _n("lb-s", event_type="monitor_restored", severity="info"),
    ]
    planned = plan_messages(ns, cap=2)
    assert [p.notification_ids for p in planned] == [
        ("lb-d#00000001",),
        ("lb-r#00000001", "lb-s#00000001"),
    ]
    assert [p.rendered.attributes["event_type"] for p in planned] == [
        "monitor_degraded", "monitor_restored"
    ]  # fmt: skip
    assert "digest" not in _doc(planned[1])
    assert _doc(planned[1])["loadBalancerIds"] == ["lb-r", "lb-s"]
    (one,) = plan_messages(ns[1:2], cap=2)
    assert _doc(one)["loadBalancerIds"] == ["lb-r"]  # a group of one is still a group


def test_every_planned_message_says_which_stack_sent_it() -> None:
    ns = [
        _n("lb-d", event_type="monitor_degraded"),
        _n("lb-r", event_type="monitor_restored", severity="info"),
        _n("lb-x", severity="critical"),
        _n("lb-y"),
        _n("lb-z", severity="info"),
    ]
    planned = plan_messages(ns, cap=4, origin=Origin("zlb-prod", "eu-west-1"))
    assert [len(p.notification_ids) for p in planned] == [1, 1, 1, 2]
    for p in planned:
        assert p.rendered.message["email"].endswith(
            "\nSent by zlb-health stack zlb-prod in eu-west-1.\n"
        )
        assert p.rendered.message["sms"].startswith("ZLB zlb-prod")
        assert _doc(p)["source"] == {"stack": "zlb-prod", "region": "eu-west-1"}


def test_beyond_the_cap_the_most_severe_go_alone_and_the_rest_in_a_digest() -> None:
    severities = ["info"] * 20 + ["warning"] * 12 + ["critical"] * 5
    ns = [_n(f"lb-{i:02d}", severity=s, minute=i) for i, s in enumerate(severities)]
    planned = plan_messages(ns, cap=5)
    assert len(planned) == 5
    alone = planned[:4]
    assert [p.rendered.attributes["severity"] for p in alone] == ["critical"] * 4
    assert [p.notification_ids[0] for p in alone] == [f"lb-{i}#00000001" for i in (32, 33, 34, 35)]
    digest = planned[-1]
    assert len(digest.notification_ids) == 33
    assert digest.rendered.attributes == {
        "event_type": "health_change",
        "severity": "critical",
        "load_balancer_id": "*",
    }
    doc = _doc(digest)
    assert doc["digest"] is True
    assert len(doc["loadBalancerIds"]) == 33
    assert digest.rendered.message["sms"] == (
        "ZLB zlb-health: 33 load balancers changed: 1 crit, 12 warn, 20 info. See email."
    )
    assert digest.rendered.subject == (
        "ZLB CRITICAL [zlb-health]: 33 load balancers changed: 1 critical, 12 warning, 20 info."
    )


def test_digest_event_type_is_the_highest_priority_present() -> None:
    ns = [_n(f"lb-{i}", event_type="reminder", severity="critical") for i in range(4)]
    ns.append(_n("lb-z", severity="info"))
    planned = plan_messages(ns, cap=2)
    assert len(planned) == 2
    assert planned[-1].rendered.attributes["event_type"] == "health_change"


def test_groups_count_against_the_cap() -> None:
    ns = [_n("lb-d", event_type="monitor_degraded")]
    ns += [_n(f"lb-{i}", severity="critical") for i in range(5)]
    planned = plan_messages(ns, cap=4)
    assert len(planned) == 4
    assert planned[0].rendered.attributes["event_type"] == "monitor_degraded"
    assert _doc(planned[-1]).get("digest") is True


def test_cap_of_two_folds_restored_into_the_digest() -> None:
    ns = [
        _n("lb-d", event_type="monitor_degraded"),
        _n("lb-r", event_type="monitor_restored", severity="info"),
        _n("lb-x"),
    ]
    planned = plan_messages(ns, cap=2)
    assert len(planned) == 2
    assert set(planned[1].notification_ids) == {"lb-r#00000001", "lb-x#00000001"}


def test_a_digest_of_one_is_sent_as_is() -> None:
    ns = [_n(f"lb-{i}") for i in range(3)]
    planned = plan_messages(ns, cap=2)
    assert len(planned) == 2
    ns.append(_n("lb-9"))
    assert [len(p.notification_ids) for p in plan_messages(ns, cap=3)] == [1, 1, 2]


def test_cap_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^cap must be at least 2$"):
        plan_messages([_n("lb-a")], cap=1)


def test_nothing_to_plan() -> None:
    assert plan_messages([], cap=5) == []


_notification_lists = st.lists(
    st.builds(
        _n,
        st.sampled_from([f"lb-{i}" for i in range(12)]),
        st.integers(1, 50),
        event_type=st.sampled_from(
            ["health_change", "reminder", "monitor_degraded", "monitor_restored"]
        ),
        severity=st.sampled_from(["critical", "warning", "info"]),
        minute=st.integers(0, 59),
    ),
    max_size=40,
    unique_by=lambda n: n.id,
)


@settings(max_examples=200, deadline=None)
@given(_notification_lists, st.integers(2, 12), st.randoms(use_true_random=False))
def test_every_notification_is_in_exactly_one_message(
    notifications: list[Notification], cap: int, rnd: object
) -> None:
    planned = plan_messages(notifications, cap=cap)
    ids = _ids(planned)
    assert Counter(ids) == Counter(n.id for n in notifications)
    assert len(planned) <= cap
    for p in planned:
        m = p.rendered
        assert len(m.message["sms"]) <= SMS_PART
        assert all(" " <= c <= "~" for c in m.message["sms"])
        assert len(m.subject) <= SNS_SUBJECT
        assert set(m.attributes) == {"event_type", "severity", "load_balancer_id"}
        assert json.loads(m.message["default"])["schemaVersion"] == 1
        if json.loads(m.message["default"]).get("digest"):
            assert len(p.notifications) >= 2  # a digest of one would just be that message
    shuffled = list(notifications)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert plan_messages(shuffled, cap=cap) == planned
    kinds = Counter(
        p.rendered.attributes["event_type"]
        for p in planned
        if p.rendered.attributes["event_type"] == "monitor_degraded"
    )
    assert kinds["monitor_degraded"] <= 1


def test_a_whole_fleet_degraded_is_one_message_within_the_sns_limit() -> None:
    """10,000 load balancers degraded at once (a whole-API outage of a large fleet)."""
    ns = [_n(f"lb-{i:05d}-{'x' * 40}", event_type="monitor_degraded") for i in range(10_000)]
    (p,) = plan_messages(ns, cap=10, origin=Origin("zlb-prod", "eu-west-1"))
    assert len(p.notification_ids) == 10_000  # every one is settled by this message
    size = len(p.rendered.sns_message().encode("utf-8"))
    assert size <= SNS_MESSAGE
    doc = _doc(p)
    assert len(doc["ids"]) + doc["idsOmitted"] == 10_000
    assert len(doc["loadBalancerIds"]) + doc["loadBalancerIdsOmitted"] == 10_000
    assert len(doc["loadBalancers"]) + doc["loadBalancersOmitted"] == 10_000
    assert p.rendered.message["sms"].startswith(
        "ZLB zlb-prod WARN: monitoring degraded for 10000 load balancers: "
    )


def test_a_group_of_long_names_is_shrunk_until_it_fits() -> None:
    long_name = "\u4e2d" * 250  # three bytes each in UTF-8, escaped six in JSON
    ns = [
        Notification(
            id=f"lb-{i}#1",
            event_type="monitor_degraded",
            severity="warning",
            load_balancer_id=f"lb-{i}",
            load_balancer_name=long_name,
            observed_at="2024-05-01T12:00:00.000Z",
            summary=long_name * 4,
        )
        for i in range(3000)
    ]
    (p,) = plan_messages(ns, cap=10)
    assert len(p.rendered.sns_message().encode("utf-8")) <= SNS_MESSAGE
    doc = _doc(p)
    entries = len(doc["loadBalancers"])
    assert 0 < entries < 200  # fewer than the first attempt's 200 entries
    assert entries + doc["loadBalancersOmitted"] == 3000
    # The other lists shrink with the entries: ten ids each (at most 100), 2 n + 1 in the email.
    assert (len(doc["ids"]), len(doc["loadBalancerIds"])) == (10 * entries, 10 * entries)
    assert p.rendered.message["email"].count("\n  - [WARNING] ") == 2 * entries + 1


# -- how a group and a digest read (render_group) -------------------------------------------------


def test_a_monitor_group_lists_its_load_balancers_most_severe_first() -> None:
    ns = [
        _n("lb-b", event_type="monitor_degraded", minute=3),
        _n("lb-a", event_type="monitor_degraded", severity="critical", minute=5),
        _n("lb-c", event_type="monitor_degraded", minute=1),
    ]
    m = render_group(ns, digest=False, origin=PROD)
    assert m.subject == "ZLB CRITICAL [zlb-prod]: Monitoring degraded for 3 load balancers."
    assert m.message["sms"] == (
        "ZLB zlb-prod CRIT: monitoring degraded for 3 load balancers: "
        "name-lb-a,name-lb-b,name-lb-c."
    )
    assert m.message["email"] == (
        "Monitoring degraded - severity CRITICAL\n"
        "\n"
        "Monitoring degraded for 3 load balancers.\n"
        "\n"
        "Load balancers (most severe first):\n"
        "  - [CRITICAL] name-lb-a: something monitor_degraded.\n"
        "      id lb-a#00000001, load balancer lb-a, observed 2024-05-01T12:05:00.000Z, "
        "error server E, HTTP 503, requestId r-lb-a\n"
        "  - [WARNING] name-lb-c: something monitor_degraded.\n"
        "      id lb-c#00000001, load balancer lb-c, observed 2024-05-01T12:01:00.000Z, "
        "error server E, HTTP 503, requestId r-lb-c\n"
        "  - [WARNING] name-lb-b: something monitor_degraded.\n"
        "      id lb-b#00000001, load balancer lb-b, observed 2024-05-01T12:03:00.000Z, "
        "error server E, HTTP 503, requestId r-lb-b\n"
        "\n"
        "Sent by zlb-health stack zlb-prod in eu-west-1.\n"
    )
    doc = json.loads(m.message["default"])
    assert m.message["default"] == json.dumps(doc, separators=(",", ":"))  # compact: bytes count
    entries = doc.pop("loadBalancers")
    assert doc == {
        "schemaVersion": 1,
        "id": "lb-a#00000001",
        "ids": ["lb-a#00000001", "lb-c#00000001", "lb-b#00000001"],
        "idsOmitted": 0,
        "coalesced": 3,
        "eventType": "monitor_degraded",
        "severity": "critical",
        "loadBalancerId": "*",
        "loadBalancerIds": ["lb-a", "lb-b", "lb-c"],
        "loadBalancerIdsOmitted": 0,
        "observedAt": "2024-05-01T12:05:00.000Z",  # the latest
        "source": {"stack": "zlb-prod", "region": "eu-west-1"},
        "summary": "Monitoring degraded for 3 load balancers.",
        "transitions": [],
        "transitionsOmitted": 0,
        "counts": {"alive": 3, "dead": 3, "backends": 6},
        "loadBalancersOmitted": 0,
    }
    assert [e["loadBalancerId"] for e in entries] == ["lb-a", "lb-c", "lb-b"]
    assert m.attributes == {
        "event_type": "monitor_degraded",
        "severity": "critical",
        "load_balancer_id": "*",
    }


def test_each_load_balancer_of_a_group_has_an_entry_with_its_own_news() -> None:
    restored = _n("lb-a", event_type="monitor_restored", severity="info")
    events = tuple(
        replace(restored.monitor_events[0], at=f"2024-05-01T12:{i:02d}:00.000Z") for i in range(21)
    )
    n = replace(
        restored,
        coalesced=2,
        transitions=tuple(
            Transition(
                "lsn-1", "web", f"i-{i}", "10.0.0.1", "80", None, "Alive", "Dead", None, "down"
            )
            for i in range(3)
        ),
        critical_listeners=tuple(f"lsn-{i:02d}" for i in range(21)),
        monitor_events=events,
    )
    doc = json.loads(render_group([n, _n("lb-b")], digest=True).message["default"])
    assert doc["coalesced"] == 3  # each notification counts the ones it stands for
    assert doc["transitionsOmitted"] == 3  # a group lists no transitions, only how many
    entry = doc["loadBalancers"][1]
    restored_at = {"restoredAt": "2024-05-01T12:00:00.000Z"}
    assert (
        entry
        == {
            "id": "lb-a#00000001",
            "eventType": "monitor_restored",
            "severity": "info",
            "loadBalancerId": "lb-a",
            "loadBalancerName": "name-lb-a",
            "observedAt": "2024-05-01T12:00:00.000Z",
            "summary": "name-lb-a: something monitor_restored.",
            "transitionCount": 3,
            "counts": {"alive": 1, "dead": 1, "backends": 2},
            "criticalListeners": [f"lsn-{i:02d}" for i in range(20)],  # at most 20 each
            "monitor": {**events[0].to_dict(), **restored_at},
            "monitorEvents": [{**e.to_dict(), "restoredAt": e.at} for e in events[:20]],
            "monitorRestored": True,
        }
    )
    assert doc["loadBalancers"][0]["monitor"] is None  # lb-b: no monitoring news


def test_a_group_names_three_load_balancers_in_its_sms_and_counts_the_rest() -> None:
    ns = [_n(f"lb-{i}", event_type="monitor_degraded") for i in range(4)]
    three = render_group(ns[:3], digest=False).message["sms"]
    assert three == (
        "ZLB zlb-health WARN: monitoring degraded for 3 load balancers: "
        "name-lb-0,name-lb-1,name-lb-2."
    )
    four = render_group(ns, digest=False).message["sms"]
    assert four == (
        "ZLB zlb-health WARN: monitoring degraded for 4 load balancers: "
        "name-lb-0,name-lb-1,name-lb-2 +1 more."
    )


def test_a_group_names_a_load_balancer_by_any_of_its_notifications_or_else_by_id() -> None:
    unnamed = replace(
        _n("lb-a", event_type="monitor_restored", severity="info"), load_balancer_name=""
    )
    later = replace(unnamed, id="lb-a#00000002", load_balancer_name="shop")
    other = replace(
        _n("lb-b", event_type="monitor_restored", severity="info"), load_balancer_name=""
    )
    m = render_group([unnamed, later, other], digest=False)
    assert m.message["sms"] == (
        "ZLB zlb-health INFO: monitoring restored for 2 load balancers: shop,lb-b."
    )


def test_a_group_s_sms_names_the_stack_in_16_characters_and_each_load_balancer_in_20() -> None:
    long = Origin("zlb-production-eu-west-1-blue", "eu-west-1")
    ns = [
        replace(
            _n("lb-a", event_type="monitor_degraded"), load_balancer_name="payments-gateway-prod"
        ),
        _n("lb-b", event_type="monitor_degraded"),
    ]
    assert render_group(ns, digest=False, origin=long).message["sms"] == (
        "ZLB zlb-productio... WARN: monitoring degraded for 2 load balancers: "
        "payments-gateway-...,name-lb-b."
    )
    assert render_group(ns, digest=True, origin=long).message["sms"] == (
        "ZLB zlb-productio...: 2 load balancers changed: 0 crit, 2 warn, 0 info. See email."
    )
    chinese = Origin("\u751f\u4ea7", "")  # no ASCII at all: the default name
    assert (
        render_group(ns, digest=True, origin=chinese)
        .message["sms"]
        .startswith("ZLB zlb-health: 2 load balancers changed: ")
    )
    assert (
        render_group(ns, digest=False, origin=chinese)
        .message["sms"]
        .startswith("ZLB zlb-health WARN: monitoring degraded for 2 load balancers: ")
    )


def test_a_group_of_one_load_balancer_says_so_and_keeps_its_id() -> None:
    first = _n("lb-a", event_type="monitor_restored", severity="info")
    m = render_group([first, replace(first, id="lb-a#00000002")], digest=False)
    assert m.subject == "ZLB INFO [zlb-health]: Monitoring restored for 1 load balancer."
    assert m.message["sms"] == (
        "ZLB zlb-health INFO: monitoring restored for 1 load balancer: name-lb-a."
    )
    assert m.attributes["load_balancer_id"] == "lb-a"
    assert json.loads(m.message["default"])["loadBalancerId"] == "lb-a"


def test_the_digest_counts_each_load_balancer_once_at_its_worst() -> None:
    ns = [
        _n("lb-a", 1, severity="warning"),
        _n("lb-a", 2, severity="critical"),
        _n("lb-a", 3, severity="info"),
        _n("lb-b", severity="info"),
        _n("lb-c", 1, severity="info"),
        _n("lb-c", 2, severity="warning"),
    ]
    m = render_group(ns, digest=True, origin=PROD)
    assert m.subject == (
        "ZLB CRITICAL [zlb-prod]: 3 load balancers changed: 1 critical, 1 warning, 1 info."
    )
    assert m.message["sms"] == (
        "ZLB zlb-prod: 3 load balancers changed: 1 crit, 1 warn, 1 info. See email."
    )
    assert m.message["email"].endswith(
        "\n\nToo many load balancers changed in this run for one message each.\n"
        "\nSent by zlb-health stack zlb-prod in eu-west-1.\n"
    )
    assert (
        "  - [INFO] name-lb-b: something health_change.\n"
        "      id lb-b#00000001, load balancer lb-b, observed 2024-05-01T12:00:00.000Z\n"
    ) in m.message["email"]  # no error, no request id: nothing more to say
    assert json.loads(m.message["default"])["digest"] is True
    one = render_group([_n("lb-a", 1), _n("lb-a", 2, severity="info")], digest=True)
    assert one.message["sms"] == (
        "ZLB zlb-health: 1 load balancer changed: 0 crit, 1 warn, 0 info. See email."
    )
    assert one.subject == (
        "ZLB WARNING [zlb-health]: 1 load balancer changed: 0 critical, 1 warning, 0 info."
    )


def test_a_digest_ranks_a_reminder_before_monitoring_news() -> None:
    ns = [
        _n("lb-a", event_type="monitor_restored", severity="info"),
        _n("lb-b", event_type="reminder", severity="info"),
        _n("lb-c", event_type="monitor_degraded", severity="info"),
    ]
    m = render_group(ns, digest=True)
    assert m.attributes["event_type"] == "reminder"  # before monitoring news
    assert m.message["email"].startswith(
        "Reminder: listener still without a healthy backend - severity INFO\n"
    )


def test_the_same_severity_goes_by_time_then_id_and_the_email_gives_the_request() -> None:
    ns = [
        replace(_n("lb-b", minute=2), request_id="req-b"),
        replace(_n("lb-c", minute=1), request_id="req-c"),
        replace(_n("lb-a", minute=2), request_id="req-a"),
    ]
    m = render_group(ns, digest=True)
    assert json.loads(m.message["default"])["ids"] == [
        "lb-c#00000001", "lb-a#00000001", "lb-b#00000001"
    ]  # fmt: skip
    assert (
        "      id lb-c#00000001, load balancer lb-c, observed 2024-05-01T12:01:00.000Z, "
        "requestId req-c\n"
    ) in m.message["email"]


def test_a_group_adds_up_the_latest_counts_of_each_load_balancer() -> None:
    ns = [
        replace(_n("lb-a", 1, minute=5), counts={"alive": 2, "backends": 2}),
        replace(_n("lb-a", 3, minute=4), counts={"dead": 7, "backends": 7}),
        replace(_n("lb-a", 2, minute=5), counts={"alive": 1, "dead": 1, "backends": 2}),
        replace(_n("lb-b", minute=0), counts={"alive": 4, "backends": 4}),
    ]
    doc = json.loads(render_group(ns, digest=True).message["default"])
    assert doc["counts"] == {"alive": 5, "dead": 1, "backends": 6}  # lb-a#2 (latest) and lb-b


def test_a_long_group_lists_what_fits_and_counts_the_rest() -> None:
    ns = [_n(f"lb-{i:03d}", severity="info") for i in range(402)]
    m = render_group(ns, digest=True)
    doc = json.loads(m.message["default"])
    assert (len(doc["ids"]), doc["idsOmitted"]) == (100, 302)
    assert (len(doc["loadBalancerIds"]), doc["loadBalancerIdsOmitted"]) == (402, 0)
    assert (len(doc["loadBalancers"]), doc["loadBalancersOmitted"]) == (200, 202)
    email = m.message["email"]
    assert email.count("\n  - [INFO] ") == 401
    assert "\n  ... and 1 more (see the JSON message).\n" in email
    hundred = json.loads(render_group(ns[:100], digest=True).message["default"])
    assert (len(hundred["ids"]), hundred["idsOmitted"]) == (100, 0)
    listed = render_group(ns[:401], digest=True).message["email"]
    assert listed.count("\n  - [INFO] ") == 401
    assert "more (see the JSON message)" not in listed


def test_a_group_too_big_even_without_its_lists_is_sent_marked_truncated() -> None:
    huge = Origin("zlb-prod", "r" * 120_000)  # named in the JSON and in the email
    m = render_group([_n("lb-a"), _n("lb-b", severity="info")], digest=True, origin=huge)
    doc = json.loads(m.message["default"])
    assert doc["truncated"] is True
    assert (doc["ids"], doc["idsOmitted"]) == ([], 2)
    assert (doc["loadBalancerIds"], doc["loadBalancerIdsOmitted"]) == ([], 2)
    assert (doc["loadBalancers"], doc["loadBalancersOmitted"]) == ([], 2)
    assert (
        "\nLoad balancers (most severe first):\n  ... and 2 more (see the JSON message).\n"
    ) in m.message["email"]
    assert m.message["sms"] == (
        "ZLB zlb-prod: 2 load balancers changed: 0 crit, 1 warn, 1 info. See email."
    )


def test_a_group_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^nothing to render$"):
        render_group([], digest=True)
