"""What the commands that reach a deployed stack share: the region, the stack's outputs and
parameters (CloudFormation DescribeStacks), and AWS failures turned into the CLI's one-line
errors with their exit status (cli.py, EXIT_CODES).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zlb_health_tools.cli import EXIT_FAILURE, EXIT_USAGE

CREDENTIALS_HINT = (
    "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(see README, The command line)"
)


class CliError(Exception):
    """An expected failure: one line for stderr (without `error: `) and the exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class StackInfo:
    name: str
    region: str
    status: str
    outputs: dict[str, str]
    parameters: dict[str, str]

    def output(self, key: str) -> str:
        value = self.outputs.get(key, "").strip()
        if not value:
            listed = ", ".join(sorted(self.outputs)) or "none"
            raise CliError(
                f"stack {self.name} in {self.region} ({self.status}) has no {key} output "
                f"(its outputs: {listed}); is it a zlb-health stack?",
                EXIT_FAILURE,
            )
        return value


def region_from(env: Mapping[str, str]) -> str:
    """AWS_REGION (Lambda's and many shells'), AWS_DEFAULT_REGION (boto3's), or the profile's."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        region = (
            env.get("AWS_REGION", "").strip()
            or env.get("AWS_DEFAULT_REGION", "").strip()
            or boto3.session.Session().region_name
        )
    except ProfileNotFound as error:
        raise CliError(f"{error} (AWS_PROFILE)", EXIT_USAGE) from None
    if not region:
        raise CliError(
            "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a region in the AWS profile)",
            EXIT_USAGE,
        )
    return region


def client(service: str, region: str) -> Any:
    """A boto3 client the standard way (AWS_* variables, the profile) in `region`."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.client(service, region_name=region)  # type: ignore[call-overload]
    except BotoCoreError as error:
        raise aws_failure(error, f"connecting to {service} in {region}") from None


def describe_stack(name: str, region: str) -> StackInfo:
    """The stack's outputs and parameters; a missing stack is a one-line error (exit 1)."""
    from botocore.exceptions import BotoCoreError, ClientError

    cloudformation = client("cloudformation", region)
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except (BotoCoreError, ClientError) as error:
        raise aws_failure(error, f"looking up stack {name} in {region}") from None
    if not stacks:  # DescribeStacks answers an error for an unknown name; be safe anyway
        raise CliError(f"stack {name} not found in {region}", EXIT_FAILURE)
    stack = stacks[0]
    return StackInfo(
        name=name,
        region=region,
        status=str(stack.get("StackStatus", "?")),
        outputs={o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])},
        parameters={
            p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
        },
    )


def aws_failure(error: BaseException, doing: str) -> CliError:
    """A failed AWS call as one line: missing credentials or an unknown profile are usage
    errors (nothing was attempted); anything else ran and failed.

    The store's and the publisher's errors wrap botocore's (`__cause__`), which says more.
    """
    from botocore.exceptions import NoCredentialsError, ProfileNotFound

    cause = error.__cause__ if error.__cause__ is not None else error
    if isinstance(cause, ProfileNotFound):
        return CliError(f"{cause} (AWS_PROFILE)", EXIT_USAGE)
    if isinstance(cause, NoCredentialsError):
        return CliError(CREDENTIALS_HINT, EXIT_USAGE)
    detail = " ".join(str(cause).split())
    return CliError(f"{doing} failed: {type(cause).__name__}: {detail}", EXIT_FAILURE)
