"""`zlb-health test-alert`'s message, pure: marked TEST in the subject, the SMS (one ASCII
part) and the email; the JSON of real messages with `"test": true`; the attributes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from zlb_health.engine.render import Origin
from zlb_health_tools.awsenv import CliError
from zlb_health_tools.testalert import build_test_message, topic_region

SENT = datetime(2026, 11, 23, 19, 42, 5, tzinfo=UTC)
TOPIC = "arn:aws:sns:eu-west-1:123456789012:zlb-prod-AlertTopic-1A2B3C"


def test_the_test_message_is_marked_test_in_every_rendition() -> None:
    rendered = build_test_message(Origin("zlb-prod", "eu-west-1"), sent_at=SENT, topic_arn=TOPIC)
    assert rendered.subject == "ZLB TEST [zlb-prod]: test message, no action needed"
    sms = rendered.message["sms"]
    assert sms == (
        "ZLB zlb-prod TEST: zlb-health test alert from eu-west-1. Real alerts will reach this "
        "phone too. No action needed."
    )
    assert len(sms) <= 160
    assert sms.isascii()
    assert rendered.attributes == {
        "event_type": "test",
        "severity": "info",
        "load_balancer_id": "*",
    }
    email = rendered.message["email"]
    assert email.startswith("TEST MESSAGE - no action needed\n")
    assert f"Topic: {TOPIC}\n" in email
    assert email.endswith("Sent by zlb-health stack zlb-prod in eu-west-1.\n")
    document = json.loads(rendered.message["default"])
    assert {k: document[k] for k in ("schemaVersion", "eventType", "severity", "test")} == {
        "schemaVersion": 1,
        "eventType": "test",
        "severity": "info",
        "test": True,
    }
    assert document["observedAt"] == "2026-11-23T19:42:05.000Z"
    assert document["source"] == {"stack": "zlb-prod", "region": "eu-west-1"}
    assert (document["transitions"], document["counts"]) == ([], {})


def test_a_long_or_foreign_stack_name_keeps_the_sms_one_ascii_part() -> None:
    rendered = build_test_message(
        Origin("zlb-" + "Überwachung" * 10, "ap-southeast-2"),
        sent_at=SENT,
        topic_arn=TOPIC,
        severity="critical",
    )
    sms = rendered.message["sms"]
    assert sms.startswith("ZLB zlb-Uberwachu... TEST: ")  # clipped as in real SMS heads
    assert len(sms) <= 160
    assert sms.isascii()
    assert len(rendered.subject) <= 99
    assert rendered.subject.isascii()
    assert rendered.attributes["severity"] == "critical"


def test_the_topic_region_comes_from_its_arn() -> None:
    assert topic_region(TOPIC, source="TOPIC_ARN") == "eu-west-1"
    with pytest.raises(CliError) as caught:
        topic_region("arn:aws:sqs:eu-west-1:123456789012:q", source="TOPIC_ARN")
    assert caught.value.code == 2
    assert str(caught.value) == (
        "TOPIC_ARN: not an SNS topic ARN: 'arn:aws:sqs:eu-west-1:123456789012:q'"
    )
