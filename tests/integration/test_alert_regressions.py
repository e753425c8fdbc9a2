"""Regression tests for the alert-correctness defects of issue 10, through the real handler.

Each test drives `zlb_health.handler.lambda_handler` tick by tick (`HandlerRig`) against the
API emulator and moto's server over HTTP, and checks what subscribers received. Each was
written before its fix and seen failing on the previous engine.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from tests.integration.handler_rig import (
    Rig,
    kinds,
    listener,
    scheduler_event,
    set_status,
    tick_time,
    transitions,
    vm,
    world,
)

from zlb_health import handler
from zlb_health_tools.demo import FakeContext
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration


def words_about(batches: list[list[dict[str, Any]]], target: str, port: Any = None) -> list[Any]:
    """currentStatus of every transition about one backend (and port), in delivery order."""
    return [
        current
        for batch in batches
        for message in batch
        for _kind, who, p, _previous, current in transitions(message)
        if who == target and (port is None or p == port)
    ]


# -- 1. listener targets ----------------------------------------------------------------------


def test_a_failing_listener_target_does_not_hide_another_listeners_outage(rig: Rig) -> None:
    r = rig(
        world(
            [listener("lsn-a", [vm("vm-1", "10.0.0.1"), vm("vm-2", "10.0.0.2")])],
            [set_status(1, "vm-1", "Dead"), set_status(1, "vm-2", "Dead")],
        ),
        LOAD_BALANCER_IDS="lb-1/lsn-a,lb-1/lsn-gone",  # lsn-gone: 404 INVALID_LISTENER_NOT_FOUND
    )
    batches = r.ticks(4)
    messages = [m for batch in batches for m in batch]
    downs = [
        m
        for m in messages
        if m["attributes"]["event_type"] == "health_change"
        and m["attributes"]["severity"] == "critical"
    ]
    assert len(downs) == 1, kinds(batches)
    assert sorted(transitions(downs[0])) == [
        ("down", "vm-1", None, "Alive", "Dead"),
        ("down", "vm-2", None, "Alive", "Dead"),
    ]
    degraded = [m for m in messages if m["attributes"]["event_type"] == "monitor_degraded"]
    assert len(degraded) == 1
    assert "lsn-gone" in json.dumps(degraded[0]["body"])
    (sms,) = [p["sms"] for p in r.published if p["attributes"]["event_type"] == "monitor_degraded"]
    assert "lsn-gone" in sms, sms


# -- 2. the last word ---------------------------------------------------------------------------


def test_after_an_sns_outage_the_last_word_about_a_backend_is_its_state(rig: Rig) -> None:
    r = rig(
        world(
            [listener("lsn-a", [vm("vm-1", "10.0.0.1")])],
            [
                set_status(1, "vm-1", "Dead"),
                set_status(2, "vm-1", "Alive"),
                set_status(3, "vm-1", "Dead"),
            ],
        ),
        FAILURE_THRESHOLD="1",
        RECOVERY_THRESHOLD="1",
    )
    r.tick()  # baseline
    r.sns(up=False)
    r.ticks(3)  # Dead, Alive, Dead: all pending
    r.sns(up=True)
    batches = [r.inbox.messages(), *r.ticks(2)]
    words = words_about(batches, "vm-1")
    assert words, "nothing was delivered about vm-1"
    assert words[-1] == "Dead", words
    assert all(a != b for a, b in itertools.pairwise(words)), words


def test_a_down_backend_whose_check_was_off_and_on_again_is_not_said_to_be_back(rig: Rig) -> None:
    """Found by mutation testing's review: subscribers know vm-1 is down; during an SNS outage
    its listener's health check goes off (Close) and on again (Dead). The merged pending words
    net to "still down": saying "1 problem came and went ... down and back" would be untrue."""
    check = {"action": "set_health_check", "loadBalancerId": "lb-1", "listenerId": "lsn-a"}
    r = rig(
        world(
            [listener("lsn-a", [vm("vm-1", "10.0.0.1"), vm("vm-2", "10.0.0.2")])],
            [
                set_status(1, "vm-1", "Dead"),
                {**check, "step": 3, "enabled": False},
                {**check, "step": 4, "enabled": True},
            ],
        ),
        FAILURE_THRESHOLD="1",
        RECOVERY_THRESHOLD="1",
    )
    r.ticks(2)  # baseline; vm-1 Dead: told
    assert words_about([r.published], "vm-1") == ["Dead"]
    r.sns(up=False)
    r.ticks(3)  # 3: Close (the check is off), 4: Dead again, 5: still Dead; all pending
    r.sns(up=True)
    r.ticks(2)
    later = r.published[1:]
    assert [m["sms"] for m in later if "came and went" in m["sms"]] == []
    assert not any("down and back" in m["email"] for m in later), [m["email"] for m in later]
    assert words_about([later], "vm-1") in ([], ["Dead"])


def test_after_an_sns_outage_the_last_word_about_monitoring_is_its_state(rig: Rig) -> None:
    faults = [
        {"type": "server_error", "loadBalancerId": "lb-1", "fromStep": 1, "toStep": 1},
        {"type": "server_error", "loadBalancerId": "lb-1", "fromStep": 3},
    ]
    r = rig(
        world([listener("lsn-a", [vm("vm-1", "10.0.0.1")])], faults=faults),
        MONITOR_FAILURE_THRESHOLD="1",
    )
    r.tick()  # baseline
    r.sns(up=False)
    r.ticks(3)  # degraded, restored, degraded: all pending
    r.sns(up=True)
    batches = r.ticks(2)
    monitor_words = [
        m["attributes"]["event_type"]
        for batch in batches
        for m in batch
        if m["attributes"]["event_type"] in ("monitor_degraded", "monitor_restored")
    ]
    assert monitor_words, kinds(batches)
    assert monitor_words[-1] == "monitor_degraded", monitor_words


def test_a_long_sns_outage_loses_no_notification(rig: Rig) -> None:
    flips = [set_status(step, "vm-1", "Dead" if step % 2 else "Alive") for step in range(1, 32)]
    r = rig(
        world([listener("lsn-a", [vm("vm-1", "10.0.0.1")])], flips, steps=40),
        FAILURE_THRESHOLD="1",
        RECOVERY_THRESHOLD="1",
    )
    r.tick()  # baseline
    r.sns(up=False)
    r.ticks(31)  # 31 notifications: more than the old outbox bound of 20
    r.sns(up=True)
    batches = r.ticks(2)
    messages = [m for batch in batches for m in batch]
    assert sum(m["body"].get("coalesced", 1) for m in messages) == 31, kinds(batches)
    assert words_about(batches, "vm-1")[-1:] == ["Dead"]  # step 31 is odd: Dead


# -- 3. ports that change -----------------------------------------------------------------------


def two_ports(name: str, ip: str, ports: list[int], **extra: Any) -> dict[str, Any]:
    return {**vm(name, ip), "ports": ports, **extra}


def replace_ports(step: int, ports: list[int], health: str = "Alive") -> list[dict[str, Any]]:
    """vm-1 re-registered with other checked ports (what a port change looks like)."""
    return [
        {
            "step": step,
            "action": "remove_backend",
            "loadBalancerId": "lb-1",
            "listenerId": "lsn-a",
            "backend": "vm-1",
        },
        {
            "step": step,
            "action": "add_backend",
            "loadBalancerId": "lb-1",
            "listenerId": "lsn-a",
            "backendSpec": {**two_ports("vm-1", "10.0.0.1", ports), "healthStatus": health},
        },
    ]


def test_a_down_port_that_vanishes_while_the_backend_is_alive_is_resolved(rig: Rig) -> None:
    r = rig(
        world(
            [listener("lsn-a", [two_ports("vm-1", "10.0.0.1", [80, 443])], listenerPort="80,443")],
            [set_status(1, "vm-1", "Dead", port=443), *replace_ports(4, [80])],
        )
    )
    batches = r.ticks(8)
    assert words_about(batches, "vm-1", 443)[:1] == ["Dead"], kinds(batches)
    assert words_about(batches, "vm-1", 443)[-1] is None  # removed: the down is closed


def test_a_renumbered_port_neither_repages_nor_loses_the_recovery(rig: Rig) -> None:
    r = rig(
        world(
            [listener("lsn-a", [two_ports("vm-1", "10.0.0.1", [80])])],
            [
                set_status(1, "vm-1", "Dead"),
                *replace_ports(4, [8080], "Dead"),
                set_status(7, "vm-1", "Alive"),
            ],
        )
    )
    batches = r.ticks(11)
    every = [t for batch in batches for m in batch for t in transitions(m)]
    downs = [t for t in every if t[0] == "down"]
    assert len(downs) == 1, every
    assert [t for t in every if t[0] == "recovered"] != [], every
    last = every[-1]
    assert last[3:] == ("Dead", "Alive"), every
    assert all(t[2] != 80 or t[4] != "Dead" for t in every[1:]), every  # port 80 not re-paged


def joins_while_disabled_then_checked(*later: dict[str, Any]) -> dict[str, Any]:
    """vm-new joins lsn-a at step 1 while the listener's check is off (users hear "disabled"
    with no port named: the API gives no per-port detail for Close); the check is back on at
    step 3, vm-new's detail naming port 80."""
    return world(
        [listener("lsn-a", [vm("vm-1", "10.0.0.1")], healthCheck={"enabled": False})],
        [
            {
                "step": 1,
                "action": "add_backend",
                "loadBalancerId": "lb-1",
                "listenerId": "lsn-a",
                "backendSpec": two_ports("vm-new", "10.0.0.9", [80]),
            },
            {
                "step": 3,
                "action": "set_health_check",
                "loadBalancerId": "lb-1",
                "listenerId": "lsn-a",
                "enabled": True,
            },
            *later,
        ],
    )


def set_ports(step: int, backend: str, ports: list[int], health: str) -> dict[str, Any]:
    return {
        "step": step,
        "action": "set_ports",
        "loadBalancerId": "lb-1",
        "listenerId": "lsn-a",
        "backend": backend,
        "ports": ports,
        "healthStatus": health,
    }


def test_a_port_that_appears_after_a_word_naming_no_port_is_told_against_that_word(
    rig: Rig,
) -> None:
    """Found by the soak (SOAK_SEED=8675309): users heard "disabled" for vm-new with no port
    named. Port 80 goes down and is told by number. Port 444 then appears, Alive: users still
    hold "disabled" for every port not named since, so they must hear that port 444 is checked
    again, not silence."""
    r = rig(
        joins_while_disabled_then_checked(
            set_status(3, "vm-new", "Dead"), set_ports(6, "vm-new", [80, 444], "Alive")
        ),
        FAILURE_THRESHOLD="2",
    )
    batches = r.ticks(8)
    every = [t for batch in batches for m in batch for t in transitions(m) if t[1] == "vm-new"]
    assert [(t[2], t[4]) for t in every[:2]] == [(None, "Close"), (None, "Dead")], every
    assert words_about(batches, "vm-new", 444) == ["Alive"], every
    assert words_about(batches, "vm-new", 80) == [], every  # still down: nothing new to say


def test_a_port_renumbered_onto_one_a_portless_word_speaks_for_is_told(rig: Rig) -> None:
    """Found by the soak (SOAK_SEED=8675309) after the test above was fixed: users heard
    "disabled" for vm-new with no port named, then "enabled" for its port 80. Port 80 is
    renumbered to 81 while Alive: users still hold "disabled" for port 81, never named, so the
    move is told (port 81, was 80), not left silent as a move between healthy ports is."""
    r = rig(joins_while_disabled_then_checked(set_ports(5, "vm-new", [81], "Alive")))
    batches = r.ticks(7)
    every = [t for batch in batches for m in batch for t in transitions(m) if t[1] == "vm-new"]
    assert [(t[0], t[2], t[4]) for t in every] == [
        ("closed", None, "Close"),
        ("enabled", None, "Alive"),
        ("renumbered", 81, "Alive"),
    ], every


# -- 4. one empty answer -----------------------------------------------------------------------


def test_one_empty_answer_neither_repages_nor_turns_a_recovery_into_an_addition(rig: Rig) -> None:
    r = rig(
        world(
            [listener("lsn-a", [vm("vm-1", "10.0.0.1"), vm("vm-2", "10.0.0.2")])],
            [set_status(1, "vm-1", "Dead"), set_status(5, "vm-1", "Alive")],
            [{"type": "empty_backends", "loadBalancerId": "lb-1", "fromStep": 3, "toStep": 3}],
        )
    )
    batches = r.ticks(8)
    assert kinds(batches) == [
        [],
        [],
        [("health_change", "warning")],
        [],
        [],
        [],
        [("health_change", "info")],
        [],
    ]
    assert transitions(batches[6][0]) == [("recovered", "vm-1", None, "Dead", "Alive")]


def test_a_listener_left_without_backends_is_a_warning(rig: Rig) -> None:
    remove = {
        "step": 2,
        "action": "remove_backend",
        "loadBalancerId": "lb-1",
        "listenerId": "lsn-b",
        "backend": "vm-3",
    }
    r = rig(
        world(
            [
                listener("lsn-a", [vm("vm-1", "10.0.0.1")]),
                listener("lsn-b", [vm("vm-3", "10.0.0.3")], listenerPort="81"),
            ],
            [remove],
        )
    )
    batches = r.ticks(6)
    messages = [m for batch in batches for m in batch]
    assert [m["attributes"]["severity"] for m in messages] == ["warning"], kinds(batches)
    assert transitions(messages[0]) == [("removed", "vm-3", None, "Alive", None)]
    (published,) = r.published
    assert "lsn-b" in published["sms"], published["sms"]


# -- 5. duplicate ticks --------------------------------------------------------------------------


def test_a_late_duplicate_of_a_steady_tick_is_not_a_second_observation(rig: Rig) -> None:
    r = rig(world([listener("lsn-a", [vm("vm-1", "10.0.0.1")])], [set_status(4, "vm-1", "Dead")]))
    r.ticks(3)  # 12:00-12:02 Alive: the streak grows to its cap (3 with thresholds 2/2)
    r.tick()  # 12:03 Alive: steady, nothing to rewrite; the timeline moves on to Dead
    r.tick(event=scheduler_event(3), advance=False)  # 12:03 delivered again, now seeing Dead
    batches = r.ticks(3)  # 12:04 Dead (1st), 12:05 Dead (2nd: down), 12:06
    assert kinds(batches) == [[], [("health_change", "critical")], []]


# -- 7. a monitor that cannot monitor says so -----------------------------------------------------


def test_wrong_credentials_on_a_first_deployment_are_announced(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = rig(world([listener("lsn-a", [vm("vm-1", "10.0.0.1")])]))
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_PASSWORD", "wrong-password")
    summaries = [r.tick() for _ in range(3)]
    batches = [r.inbox.messages()]
    assert summaries[0]["discoveryError"]
    degraded = [m for m in batches[0] if m["attributes"]["event_type"] == "monitor_degraded"]
    assert len(degraded) == 1, kinds(batches)
    assert degraded[0]["attributes"]["severity"] == "warning"
    assert degraded[0]["body"]["monitor"]["kind"] == "auth", degraded[0]["body"]
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_PASSWORD", "rig-access-key-password")
    batches = r.ticks(2)
    restored = [
        m for b in batches for m in b if m["attributes"]["event_type"] == "monitor_restored"
    ]
    assert len(restored) == 1, kinds(batches)


# -- 11. text ------------------------------------------------------------------------------------


def test_a_listener_name_that_is_not_ascii_leaves_a_readable_subject(rig: Rig) -> None:
    r = rig(
        world(
            [listener("lsn-a", [vm("vm-1", "10.0.0.1")], listenerName="Ωμέγα")],
            [set_status(1, "vm-1", "Dead")],
        )
    )
    r.ticks(4)
    (message,) = r.published
    assert not message["subject"].endswith("on ."), message["subject"]
    assert "lsn-a" in message["subject"], message["subject"]


def test_one_instance_in_two_listeners_is_named_unambiguously(rig: Rig) -> None:
    r = rig(
        world(
            [
                listener("lsn-a", [vm("vm-1", "10.0.0.1", backendPort=80)]),
                listener("lsn-b", [vm("vm-1", "10.0.0.1", backendPort=80)], listenerPort="81"),
            ],
            [set_status(1, "vm-1", "Dead"), set_status(1, "vm-1", "Dead", lsn="lsn-b")],
        )
    )
    r.ticks(4)
    (message,) = r.published
    sms = message["sms"]
    assert "vm-1:80,vm-1:80" not in sms, sms
    assert "lsn-a/vm-1:80" in sms, sms
    assert "lsn-b/vm-1:80" in sms, sms


def test_degraded_since_is_the_first_failures_time(rig: Rig) -> None:
    r = rig(
        world(
            [listener("lsn-a", [vm("vm-1", "10.0.0.1")])],
            faults=[{"type": "server_error", "loadBalancerId": "lb-1", "fromStep": 1}],
        ),
        MONITOR_FAILURE_THRESHOLD="3",
    )
    r.ticks(5)
    (message,) = r.published
    assert message["attributes"]["event_type"] == "monitor_degraded"
    assert message["body"]["monitor"]["since"].startswith(tick_time(1).removesuffix("Z")), message


def test_a_whole_backend_change_names_its_checked_port(rig: Rig) -> None:
    r = rig(
        world(
            [listener("lsn-a", [two_ports("vm-1", "10.0.0.1", [8080]), vm("vm-2", "10.0.0.2")])],
            [set_status(1, "vm-1", "Dead")],
        )
    )
    r.ticks(4)
    (message,) = r.published
    assert "vm-1:8080" in message["sms"], message["sms"]
    assert "port 8080" in message["email"], message["email"]


def test_one_port_down_is_not_counted_as_healthy(rig: Rig) -> None:
    r = rig(
        world(
            [
                listener(
                    "lsn-a",
                    [
                        two_ports("vm-1", "10.0.0.1", [80, 443]),
                        two_ports("vm-2", "10.0.0.2", [80, 443]),
                    ],
                    listenerPort="80,443",
                )
            ],
            [set_status(1, "vm-1", "Dead", port=443)],
        )
    )
    r.ticks(4)
    (message,) = r.published
    email = message["email"]
    assert "2 of 2 backends healthy" not in email, email
    assert "1 of 2 backends healthy" in email, email
    assert message["body"]["healthyByListener"][0]["healthy"] == 1


def test_an_api_error_carries_the_vendors_code_and_message(rig: Rig) -> None:
    r = rig(
        world(
            [listener("lsn-a", [vm("vm-1", "10.0.0.1")])],
            faults=[{"type": "server_error", "loadBalancerId": "lb-1", "fromStep": 1}],
        )
    )
    r.ticks(4)
    (message,) = r.published
    email = message["email"]
    assert "server error: server error" not in email, email
    assert "Last error: server INTERNAL_SERVER_ERROR, HTTP 500" in email, email
    assert "Zenlayer said: server error" in email, email


def test_every_message_names_its_stack_and_region(rig: Rig) -> None:
    r = rig(
        world([listener("lsn-a", [vm("vm-1", "10.0.0.1")])], [set_status(1, "vm-1", "Dead")]),
        STACK_NAME="zlb-prod-eu",
    )
    r.ticks(4)
    (message,) = r.published
    assert message["body"]["source"] == {"stack": "zlb-prod-eu", "region": "us-east-1"}
    assert "zlb-prod-eu" in message["subject"]
    assert "Sent by zlb-health stack zlb-prod-eu in us-east-1." in message["email"]
    assert "zlb-prod-eu" in message["sms"]


# -- 12. event shapes ----------------------------------------------------------------------------


def classic_event(time: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/zlb-health"],
        "detail": {},
    }


def test_classic_scheduled_events_are_ticks(rig: Rig, stack: LocalStack) -> None:
    r = rig(world([listener("lsn-a", [vm("vm-1", "10.0.0.1")])], [set_status(1, "vm-1", "Dead")]))
    r.tick(event=classic_event(tick_time(0)))
    r.tick(event=classic_event(tick_time(0)), advance=False)  # a duplicate: not an observation
    r.tick(event=classic_event(tick_time(1)))
    assert r.inbox.messages() == []  # one Dead so far
    r.tick(event=classic_event(tick_time(2)))
    (message,) = r.inbox.messages()
    assert message["body"]["observedAt"] == "2026-11-23T12:02:00.000Z"
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region)
    keys = dynamodb.query(
        TableName=stack.table_name,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :snap)",
        ExpressionAttributeValues={":pk": {"S": "LB#lb-1"}, ":snap": {"S": "SNAP#"}},
    )["Items"]
    assert [k["SK"]["S"] for k in keys][:1] == ["SNAP#2026-11-23T12:00:00.000Z"]


def test_an_unknown_event_is_refused_naming_what_was_expected(rig: Rig) -> None:
    r = rig(world([listener("lsn-a", [vm("vm-1", "10.0.0.1")])]))
    with pytest.raises(ValueError, match="Scheduled Event") as raised:
        r.tick(event={"source": "aws.s3", "detail-type": "Object Created"})
    assert "scheduledTime" in str(raised.value)


# -- 13. AWS calls and the run's deadline ---------------------------------------------------------


def test_a_hanging_sns_endpoint_ends_the_run_before_lambda_would_kill_it(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(64)  # accepts connections (the kernel does) and never answers
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", f"http://127.0.0.1:{blackhole.getsockname()[1]}")
    r = rig(world([listener("lsn-a", [vm("vm-1", "10.0.0.1")])], [set_status(1, "vm-1", "Dead")]))
    r.ticks(2)
    context = FakeContext(timeout_seconds=25)
    result: dict[str, Any] = {}

    def invoke() -> None:
        result["summary"] = handler.lambda_handler(scheduler_event(2), context)

    worker = threading.Thread(target=invoke, daemon=True)
    worker.start()
    worker.join(timeout=25 + 10)
    try:
        assert not worker.is_alive(), "still running after the function's timeout"
        assert context.get_remaining_time_in_millis() > 0  # it ended before Lambda's deadline
        assert result["summary"]["notificationsPending"] == 1  # the down is kept for later
    finally:
        blackhole.close()


def test_dynamodb_throttling_is_retried_by_botocore_alone_within_the_deadline(rig: Rig) -> None:
    r = rig(world([listener("lsn-a", [vm("vm-1", "10.0.0.1")])], [set_status(1, "vm-1", "Dead")]))
    attempts: list[str] = []

    def throttled(request: Any, **_: Any) -> AWSResponse:
        attempts.append(request.url)
        body = json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "x"}
        ).encode()

        class Raw:
            def stream(self, **_: Any) -> Iterator[bytes]:
                yield body

        return AWSResponse(request.url, 400, {"x-amzn-errortype": "ThrottlingException"}, Raw())

    r.ticks(2)  # baseline, Dead (1)
    client = handler.get_runtime().store.client
    client.meta.events.register("before-send.dynamodb.TransactWriteItems", throttled)
    with pytest.raises(Exception, match="Throttling"):
        r.tick()  # Dead (2): the change cannot be saved; the run fails cleanly
    assert 1 < len(attempts) <= 3, len(attempts)


# -- 6. deleted load balancers -----------------------------------------------------------------


def two_load_balancers(timeline: list[dict[str, Any]], faults: list[dict[str, Any]]) -> dict:
    return {
        "steps": 40,
        "loadBalancers": [
            {"loadBalancerId": "lb-1", "listeners": [listener("lsn-a", [vm("vm-1", "10.0.0.1")])]},
            {"loadBalancerId": "lb-2", "listeners": [listener("lsn-b", [vm("vm-9", "10.0.0.9")])]},
        ],
        "timeline": timeline,
        "faults": faults,
    }


def lb2_status(step: int, health: str) -> dict[str, Any]:
    return {"step": step, "action": "set_status", "loadBalancerId": "lb-2",
            "listenerId": "lsn-b", "backend": "vm-9", "healthStatus": health}  # fmt: skip


def stored_subjects(stack: LocalStack) -> set[str]:
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region)
    items = dynamodb.scan(TableName=stack.table_name)["Items"]
    return {i["PK"]["S"] for i in items if i["SK"]["S"] == "STATE"}


def test_a_deleted_load_balancer_is_announced_once_and_then_forgotten(
    rig: Rig, stack: LocalStack
) -> None:
    remove = {"step": 3, "action": "remove_load_balancer", "loadBalancerId": "lb-2"}
    r = rig(two_load_balancers([lb2_status(1, "Dead"), remove], []))
    r.ticks(3)  # 12:02: vm-9 down
    r.sns(up=False)
    r.ticks(2)  # 12:03, 12:04: not listed twice -> deleted; the last word waits for SNS
    r.sns(up=True)
    batches = r.ticks(4)
    about_lb2 = [m for m in r.published if m["attributes"]["load_balancer_id"] == "lb-2"]
    assert [m["body"]["eventType"] for m in about_lb2] == ["health_change", "health_change"]
    last = about_lb2[-1]["body"]
    assert last["retired"] == "deleted"
    assert transitions({"body": last}) == [("removed", "vm-9", None, "Dead", None)]
    assert sum(len(b) for b in batches[1:]) == 0  # then never again
    assert "LB#lb-2" not in stored_subjects(stack)  # forgotten once its last word was out


class Died(BaseException):
    """The process dies (a Lambda timeout): nothing of the run after this point happens."""


def test_a_run_that_dies_between_forgetting_and_the_registry_does_not_bring_it_back(
    rig: Rig, stack: LocalStack
) -> None:
    """Found by the soak: a deleted load balancer is forgotten (its item deleted), the run dies
    before the registry of known load balancers says so, and the next discovery outage polled
    it from the registry: NOT_FOUND made it a new, degraded load balancer that never ended."""
    remove = {"step": 3, "action": "remove_load_balancer", "loadBalancerId": "lb-2"}
    outage = {"type": "server_error", "status": 503, "actions": ["DescribeLoadBalancers"],
              "fromStep": 6, "toStep": 9}  # fmt: skip
    r = rig(two_load_balancers([remove], [outage]), MONITOR_FAILURE_THRESHOLD="1")
    client = handler.get_runtime().store._client
    armed = {"forgotten": False}

    def forgotten(**_: Any) -> None:
        armed["forgotten"] = True

    def registry(params: dict[str, Any], **_: Any) -> None:
        item = params["TransactItems"][0].get("Put", {}).get("Item", {})
        if armed["forgotten"] and item.get("PK", {}).get("S") == "LB#*":
            armed["forgotten"] = False
            raise Died

    client.meta.events.register("after-call.dynamodb.DeleteItem", forgotten)
    client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", registry)
    for _ in range(12):
        try:
            r.tick()
        except Died:  # the run dies; the schedule goes on
            r.minute += 1
            r.emulator.advance()
    about_lb2 = [m for m in r.published if m["attributes"]["load_balancer_id"] == "lb-2"]
    assert [m["body"].get("retired") for m in about_lb2] == ["deleted"]  # its last word, once
    assert "LB#lb-2" not in stored_subjects(stack)
    degraded = [m for m in r.published if m["attributes"]["event_type"] == "monitor_degraded"]
    assert [m["attributes"]["load_balancer_id"] for m in degraded] == ["*"]  # discovery only


def test_during_a_discovery_outage_only_existing_load_balancers_are_degraded_and_all_closed(
    rig: Rig,
) -> None:
    remove = {"step": 3, "action": "remove_load_balancer", "loadBalancerId": "lb-2"}
    outage = {"type": "server_error", "status": 503, "actions": ["DescribeLoadBalancers"],
              "fromStep": 3, "toStep": 5}  # fmt: skip
    r = rig(two_load_balancers([remove], [outage]))
    r.ticks(10)
    degraded: dict[str, int] = {}
    for m in r.published:
        for entry in m["body"].get("loadBalancers", [m["body"]]):
            for event in entry.get("monitorEvents", []):
                lb = entry["loadBalancerId"]
                degraded[lb] = degraded.get(lb, 0) + (1 if event["change"] == "degraded" else -1)
    assert "lb-1" not in degraded  # it exists and answers: never degraded
    assert degraded == {"*": 0, "lb-2": 0}  # discovery and the deleted one: degraded, then closed
    (last,) = [m for m in r.published if m["body"].get("retired")]
    assert last["body"]["loadBalancerId"] == "lb-2"
    assert [e["change"] for e in last["body"]["monitorEvents"]] == ["ended"]


# -- 8. identity --------------------------------------------------------------------------------


def test_one_instance_with_two_private_ips_is_two_backends(rig: Rig) -> None:
    r = rig(
        world(
            [listener("lsn-a", [vm("vm-1", "10.0.0.1"), vm("vm-1", "10.0.0.2")])],
            [set_status(1, "vm-1@10.0.0.2", "Dead")],
        )
    )
    r.ticks(4)
    (message,) = r.published
    ((kind, _who, _port, previous, current),) = transitions(message)
    (t,) = message["body"]["transitions"]
    assert (kind, t["instanceId"], t["privateIpAddress"], previous, current) == (
        "down", "vm-1", "10.0.0.2", "Alive", "Dead"
    )  # fmt: skip


def test_duplicate_rows_resolve_to_the_worse_status_and_are_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    duplicate = {"type": "duplicate_rows", "loadBalancerId": "lb-1", "healthStatus": "Dead",
                 "fromStep": 1, "toStep": 2}  # fmt: skip
    r = rig(world([listener("lsn-a", [vm("vm-1", "10.0.0.1"), vm("vm-2", "10.0.0.2")])],
                  faults=[duplicate]))  # fmt: skip
    r.ticks(5)
    assert [transitions(m) for m in r.published] == [
        [("down", "vm-1", None, "Alive", "Dead"), ("down", "vm-2", None, "Alive", "Dead")],
        [
            ("recovered", "vm-1", None, "Dead", "Alive"),
            ("recovered", "vm-2", None, "Dead", "Alive"),
        ],
    ]
    logged = [r for r in caplog.records if "same backend" in r.getMessage()]
    assert [(r.levelname, r.load_balancer_id, r.duplicates) for r in logged] == [
        ("WARNING", "lb-1", 2),
        ("WARNING", "lb-1", 2),
    ]  # one line per run whose answer named a backend twice


# -- 9. one unusable row ------------------------------------------------------------------------


def test_a_row_naming_no_backend_is_skipped_and_the_rest_still_alerts(
    rig: Rig, stack: LocalStack
) -> None:
    bad = {"type": "bad_rows", "loadBalancerId": "lb-1", "rows": ["no_identity"], "fromStep": 1}
    r = rig(
        world(
            [listener("lsn-a", [vm("vm-1", "10.0.0.1"), vm("vm-2", "10.0.0.2")])],
            [set_status(1, "vm-1", "Dead")],
            [bad],
        )
    )
    summaries = [r.tick() for _ in range(4)]
    assert [s["invalidRows"] for s in summaries] == [0, 1, 1, 1]
    (message,) = r.published
    assert (message["attributes"]["event_type"], transitions(message)) == (
        "health_change", [("down", "vm-1", None, "Alive", "Dead")]
    )  # fmt: skip
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region)
    snapshot = dynamodb.get_item(
        TableName=stack.table_name,
        Key={"PK": {"S": "LB#lb-1"}, "SK": {"S": "SNAP#2026-11-23T12:02:00.000Z"}},
    )["Item"]
    assert (snapshot["ok"]["BOOL"], snapshot["invalidRows"]["N"]) == (True, "1")
