"""`zlb-health test-alert`: one clearly marked test message through the stack's topic, so that
whoever subscribed sees email and SMS arrive before a real outage does.

The message has the three renditions of a real one (README, Notifications), each marked TEST,
naming the stack and region, and the message attributes subscription filter policies see:
`event_type` `test`, `severity` (info unless --severity says otherwise: a subscription that
takes only critical messages is tested with --severity critical), `load_balancer_id` `*`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final, TextIO

from zlb_health.adapters.publisher import PublishError, SnsPublisher
from zlb_health.engine.notifications import INFO, Notification
from zlb_health.engine.render import SMS_MAX, SUBJECT_MAX, Origin, RenderedMessage, document
from zlb_health.engine.state import iso
from zlb_health.engine.text import ascii_text, ascii_token, clip
from zlb_health_tools.awsenv import CliError, aws_failure, client, describe_stack, region_from
from zlb_health_tools.cli import EXIT_OK, EXIT_USAGE

TEST_EVENT: Final = "test"
_TOPIC_ARN = re.compile(r"^arn:[a-z-]+:sns:(?P<region>[a-z0-9-]+):\d{12}:[A-Za-z0-9_.-]{1,256}$")
_KMS_HINT: Final = (
    " (the topic is encrypted with the stack's KMS key: the caller needs kms:GenerateDataKey "
    "and kms:Decrypt on it)"
)


def build_test_message(
    origin: Origin, *, sent_at: datetime, topic_arn: str, severity: str = INFO
) -> RenderedMessage:
    """The SNS message: subject, JSON (the schema of real messages, `"test": true`), email, SMS."""
    stack = ascii_token(origin.stack, "zlb-health", 24)
    where = f" in {origin.region}" if origin.region else ""
    at = iso(sent_at)
    summary = f"Test message from zlb-health stack {origin.stack}{where}: no action needed."
    notification = Notification(
        id=f"test#{sent_at:%Y%m%dT%H%M%S}",
        event_type=TEST_EVENT,
        severity=severity,
        load_balancer_id="*",
        load_balancer_name="zlb-health test message",
        observed_at=at,
        summary=summary,
    )
    data = {**document(notification, origin, 0), "test": True}
    region = f" from {ascii_text(origin.region, 20)}" if origin.region else ""
    sms = (
        f"ZLB {ascii_token(origin.stack, 'zlb-health', 16)} TEST: zlb-health test alert{region}. "
        "Real alerts will reach this phone too. No action needed."
    )
    return RenderedMessage(
        subject=clip(
            ascii_text(f"ZLB TEST [{stack}]: test message, no action needed"), SUBJECT_MAX
        ),
        message={
            "default": json.dumps(data, separators=(",", ":")),
            "email": _email(origin, at=at, topic_arn=topic_arn),
            "sms": clip(ascii_text(sms), SMS_MAX),
        },
        attributes={"event_type": TEST_EVENT, "severity": severity, "load_balancer_id": "*"},
    )


def _email(origin: Origin, *, at: str, topic_arn: str) -> str:
    lines = [
        "TEST MESSAGE - no action needed",
        "",
        f"This is a test of zlb-health's notifications, sent by `zlb-health test-alert` at {at}.",
        "Nothing is wrong with any load balancer.",
        "",
        "If you can read this, the stack's topic reaches you: health alerts (a backend down, a",
        "listener without a healthy backend, monitoring degraded) will arrive here the same way,",
        'with subjects starting "ZLB CRITICAL", "ZLB WARNING" or "ZLB INFO".',
        "",
        f"Topic: {topic_arn}",
        'Message attributes: event_type "test", load_balancer_id "*" (for filter policies).',
        origin.sentence(),
    ]
    return "\n".join(lines) + "\n"


def topic_region(topic_arn: str, *, source: str) -> str:
    match = _TOPIC_ARN.match(topic_arn)
    if match is None:
        raise CliError(f"{source}: not an SNS topic ARN: {topic_arn!r}", EXIT_USAGE)
    return match.group("region")


def resolve_topic(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[str, str, str]:
    """(topic ARN, its region, the stack's name for the message).

    --topic-arn, else --stack-name's TopicArn output, else TOPIC_ARN. The stack's name is
    --stack-name, else STACK_NAME, else the function's own default (`zlb-health`).
    """
    stack_name = (args.stack_name or "").strip()
    name = stack_name or env.get("STACK_NAME", "").strip() or "zlb-health"
    topic = (args.topic_arn or "").strip()
    if topic:
        return topic, topic_region(topic, source="--topic-arn"), name
    if stack_name:
        stack = describe_stack(stack_name, region_from(env))
        topic = stack.output("TopicArn")
        return topic, topic_region(topic, source=f"stack {stack_name}'s TopicArn output"), name
    topic = env.get("TOPIC_ARN", "").strip()
    if not topic:
        raise CliError(
            "TOPIC_ARN is not set (the stack's topic; or --topic-arn, or --stack-name)", EXIT_USAGE
        )
    return topic, topic_region(topic, source="TOPIC_ARN"), name


def run_test_alert(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Exit 0 when SNS accepted the message, 1 when it did not, 2 for a usage error."""
    env = os.environ if env is None else env
    try:
        topic, region, stack = resolve_topic(args, env)
        rendered = build_test_message(
            Origin(stack, region),
            sent_at=datetime.now(UTC),
            topic_arn=topic,
            severity=args.severity,
        )
        publisher = SnsPublisher(topic, client=client("sns", region))
        try:
            message_id = publisher.publish(
                subject=rendered.subject, message=rendered.message, attributes=rendered.attributes
            )
        except PublishError as error:
            failure = aws_failure(error, f"publishing to {topic}")
            hint = _KMS_HINT if error.code.startswith("KMS") else ""
            raise CliError(f"{failure}{hint}", failure.code) from None
    except CliError as error:
        err.write(f"error: {error}\n")
        return error.code
    out.write(
        f"sent a test message to {topic} (MessageId {message_id})\n"
        f"  subject: {rendered.subject}\n"
        f"  SMS:     {rendered.message['sms']}\n"
        f"  attributes: "
        + " ".join(f"{k}={v}" for k, v in rendered.attributes.items())
        + "\nCheck that every subscriber got it. No email? Confirm the subscription (SNS sent a "
        "link). No SMS? See README, Deployment step 4 (sandbox, origination identity).\n"
    )
    return EXIT_OK
