"""Planning a run's messages: monitor groups, the cap, the digest, coverage of every id."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zlb_health.engine.notifications import MonitorEvent, Notification
from zlb_health.engine.plan import PlannedMessage, plan_messages
from zlb_health.engine.render import Origin

SMS_PART = 160  # characters of one plain-ASCII SMS part
SNS_SUBJECT = 99  # SNS requires a subject shorter than 100 characters
SNS_MESSAGE = 262_144  # bytes SNS accepts in one Publish


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
    assert 0 < len(doc["loadBalancers"]) < 200  # fewer than the first attempt's 200 entries
    assert len(doc["loadBalancers"]) + doc["loadBalancersOmitted"] == 3000
