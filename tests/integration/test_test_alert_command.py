"""`zlb-health test-alert` through the stack's topic to a subscriber (an SQS queue), over real
HTTP to moto's server: marked TEST, attributes for filter policies, the stack named."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests.conftest import Inbox
from tests.integration.operator_helpers import aws_shell_env, deploy_stand_in
from tests.integration.test_cli_contract import one_line_error, zlb

from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration


@pytest.fixture
def aws_env(tmp_path: Path, local_aws: LocalAws) -> dict[str, str]:
    return aws_shell_env(tmp_path, local_aws)


def test_test_alert_reaches_the_subscribers_marked_test(
    stack: LocalStack, inbox: Inbox, aws_env: dict[str, str]
) -> None:
    env = {**aws_env, "TOPIC_ARN": stack.topic_arn, "STACK_NAME": "zlb-prod"}
    result = zlb("test-alert", env=env)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout.startswith(f"sent a test message to {stack.topic_arn} (MessageId ")
    (message,) = inbox.messages()
    assert message["subject"] == "ZLB TEST [zlb-prod]: test message, no action needed"
    assert message["attributes"] == {
        "event_type": "test",
        "severity": "info",
        "load_balancer_id": "*",
    }
    body = message["body"]  # what SQS subscribers get: the JSON rendition
    assert (body["eventType"], body["test"], body["source"]) == (
        "test",
        True,
        {"stack": "zlb-prod", "region": "us-east-1"},
    )
    assert (
        "  SMS:     ZLB zlb-prod TEST: zlb-health test alert from us-east-1. Real alerts will "
        "reach this phone too. No action needed.\n"
    ) in result.stdout


def test_test_alert_through_the_stack_name(
    stack: LocalStack, inbox: Inbox, aws_env: dict[str, str]
) -> None:
    name = f"zlb-ops-{uuid.uuid4().hex[:8]}"
    deploy_stand_in(stack, name, TableName=stack.table_name, TopicArn=stack.topic_arn)
    result = zlb("test-alert", "--stack-name", name, "--severity", "critical", env=aws_env)
    assert result.returncode == 0, result.stderr
    (message,) = inbox.messages()
    assert message["subject"] == f"ZLB TEST [{name}]: test message, no action needed"
    assert message["attributes"]["severity"] == "critical"


def test_test_alert_failures_are_one_line(aws_env: dict[str, str], stack: LocalStack) -> None:
    one_line_error(zlb("test-alert", env=aws_env), 2, "TOPIC_ARN", "--topic-arn")
    one_line_error(zlb("test-alert", "--topic-arn", "my-topic", env=aws_env), 2, "--topic-arn")
    gone = stack.topic_arn + "-gone"
    result = zlb("test-alert", "--topic-arn", gone, env=aws_env)
    one_line_error(result, 1, f"publishing to {gone} failed")
    one_line_error(zlb("test-alert", "--stack-name", "no-such-stack", env=aws_env), 1, "no-such")
