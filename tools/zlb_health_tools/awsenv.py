"""The stack's AWS resources as the command line finds them: table, region, caller.

`TABLE_NAME` (or `--table-name`), or `--stack-name` to read the table from the stack's
outputs; the region from `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile. A missing or
invalid setting is a `UsageError` (exit 2, one line); AWS failures are the caller's to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zlb_health.adapters.store import HealthStore


class UsageError(ValueError):
    """A missing or invalid setting: exit 2, nothing attempted."""


def region(env: Mapping[str, str]) -> str:
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        found = (
            env.get("AWS_REGION", "").strip()
            or env.get("AWS_DEFAULT_REGION", "").strip()
            or boto3.session.Session().region_name
        )
    except ProfileNotFound as error:
        raise UsageError(f"{error} (AWS_PROFILE)") from None
    if not found:
        raise UsageError(
            "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a region in the AWS profile)"
        )
    return str(found)


def client(service: str, env: Mapping[str, str]) -> Any:
    import boto3

    return boto3.client(service, region_name=region(env))  # type: ignore[call-overload]


def stack_output(stack: str, output: str, env: Mapping[str, str]) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = client("cloudformation", env).describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        raise UsageError(f"--stack-name: {error.response['Error'].get('Message', error)}") from None
    except BotoCoreError as error:
        raise UsageError(f"--stack-name: {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if output not in outputs:
        raise UsageError(f"--stack-name: stack {stack!r} has no output {output!r}")
    return str(outputs[output])


def table_name(table: str | None, stack: str | None, env: Mapping[str, str]) -> str:
    if table and stack:
        raise UsageError("give --table-name or --stack-name, not both")
    if stack:
        return stack_output(stack, "TableName", env)
    found = (table or env.get("TABLE_NAME", "")).strip()
    if not found:
        raise UsageError("TABLE_NAME is not set (the stack's table; or --table-name/--stack-name)")
    return found


def table_store(*, table: str | None, stack: str | None, env: Mapping[str, str]) -> HealthStore:
    name = table_name(table, stack, env)
    return HealthStore(name, client=client("dynamodb", env))


def caller_name(env: Mapping[str, str]) -> str | None:
    """The AWS identity's name (the ARN's last part), or None when it cannot be had."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        arn = str(client("sts", env).get_caller_identity()["Arn"])
    except (BotoCoreError, ClientError, UsageError):
        return None
    return arn.rsplit("/", 1)[-1] or arn
