"""Shared by the operator commands' tests: a fresh shell's environment pointed at the local AWS,
a stand-in for a deployed stack (CloudFormation outputs), a terminal-like stream."""

from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
from tests.integration.test_cli_contract import base_env

from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import LocalStack


def aws_shell_env(tmp: Path, local_aws: LocalAws) -> dict[str, str]:
    """A fresh shell's environment pointed at the local AWS (no TABLE_NAME, no TOPIC_ARN)."""
    return base_env(tmp, AWS_REGION="us-east-1", **local_aws.env())


def deploy_stand_in(stack: LocalStack, name: str, **outputs: str) -> None:
    """A CloudFormation stack in the local AWS whose outputs name the test's table and topic,
    as a deployed zlb-health stack's do, with a FailureThreshold parameter of 3."""
    template = {
        "Parameters": {"FailureThreshold": {"Type": "Number", "Default": 2}},
        "Resources": {
            "Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-marker"}}
        },
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation = boto3.client(
        "cloudformation", endpoint_url=stack.endpoint_url, region_name=stack.region
    )
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "FailureThreshold", "ParameterValue": "3"}],
    )


class Tty(io.StringIO):
    """A stream that says it is a terminal (progress and colour are for terminals only)."""

    def isatty(self) -> bool:
        return True
