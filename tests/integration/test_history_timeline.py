"""`zlb-health history` against a table filled by real monitor runs, over real HTTP: when each
backend was down (the timeline, as text and as data), progress while it pages, --stack-name."""

from __future__ import annotations

import argparse
import io
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.integration.harness import Harness, fleet, harness_factory, status
from tests.integration.operator_helpers import Tty, aws_shell_env, deploy_stand_in
from tests.integration.test_cli_contract import one_line_error, zlb

from zlb_health_tools.history import run_history
from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration


@pytest.fixture
def harness_for(stack: LocalStack) -> Iterator[Callable[..., Harness]]:
    yield from harness_factory(stack)


def history_args(**overrides: Any) -> argparse.Namespace:
    values: dict[str, Any] = {
        "load_balancer_id": "lb-a",
        "backend": None,
        "since": "2026-11-23T12:00:00Z",
        "until": "2026-11-23T12:04:00Z",
        "json": False,
        "table_name": None,
        "stack_name": None,
    }
    return argparse.Namespace(**{**values, **overrides})


def test_history_shows_when_a_backend_was_down(
    harness_for: Callable[..., Harness], stack: LocalStack
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead"), status(3, "vm-1", "Alive")]))
    for _ in range(5):  # 12:00 .. 12:04; vm-1: Alive, Dead, Dead, Alive, Alive
        h.run()
    env = {"TABLE_NAME": stack.table_name, "AWS_REGION": stack.region}
    out, err = io.StringIO(), io.StringIO()
    assert run_history(history_args(json=True), env=env, out=out, err=err) == 0, err.getvalue()
    document = json.loads(out.getvalue())
    assert document["timeline"] == {
        "start": "2026-11-23T12:00:00Z",
        "end": "2026-11-23T12:05:00Z",
        "bucketSeconds": 60,
        "buckets": 5,
        "states": ["healthy", "partial", "down", "close", "unknown", "failed", "maintenance", None],
    }
    timelines = {a["backend"]: (a["listenerName"], a["timeline"]) for a in document["availability"]}
    assert timelines == {
        "lsn-a/vm-1/80": ("web", ["healthy", "down", "down", "healthy", "healthy"]),
        "lsn-a/vm-2/80": ("web", ["healthy"] * 5),
    }
    out = io.StringIO()
    assert run_history(history_args(), env=env, out=out, err=err) == 0
    assert "  listener web (lsn-a)\n" in out.getvalue()
    assert "  lsn-a/vm-1/80  |.##..|         60.00%      3     2      0      0  Alive\n" in (
        out.getvalue()
    )
    assert err.getvalue() == ""  # not a terminal: no progress


def test_history_shows_progress_while_it_pages_on_a_terminal(
    harness_for: Callable[..., Harness], stack: LocalStack
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead")]))
    for _ in range(5):
        h.run()
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region)

    def two_per_page(params: dict[str, Any], **_: Any) -> None:
        params["Limit"] = 2  # a long window's many pages, in a small table

    dynamodb.meta.events.register("provide-client-params.dynamodb.Query", two_per_page)
    env = {"TABLE_NAME": stack.table_name, "AWS_REGION": stack.region}
    out, err = io.StringIO(), Tty()
    assert run_history(history_args(), env=env, out=out, err=err, dynamodb=dynamodb) == 0
    shown = [part for part in err.getvalue().split("\r") if part.strip()]
    assert shown == [
        "reading lb-a snapshots: up to 2026-11-23 12:01 (25%), 1 page, 2 items",
        "reading lb-a snapshots: up to 2026-11-23 12:03 (75%), 2 pages, 4 items",
    ]
    assert err.getvalue().endswith("\r" + " " * len(shown[-1]) + "\r")  # cleared at the end
    assert "  lsn-a/vm-1/80  |.####|" in out.getvalue()  # the same result, however paged


def test_history_finds_the_table_through_the_stack(
    harness_for: Callable[..., Harness], stack: LocalStack, tmp_path: Path, local_aws: LocalAws
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead")]))
    for _ in range(3):
        h.run()
    name = f"zlb-ops-{uuid.uuid4().hex[:8]}"
    deploy_stand_in(stack, name, TableName=stack.table_name, TopicArn=stack.topic_arn)
    env = aws_shell_env(tmp_path, local_aws)
    window = ("--since", "2026-11-23T12:00:00Z", "--until", "2026-11-23T12:02:00Z")
    result = zlb(
        "history", "--load-balancer-id", "lb-a", *window, "--stack-name", name, "--json", env=env
    )
    assert result.returncode == 0, result.stderr
    by_backend = {a["backend"]: a["timeline"] for a in json.loads(result.stdout)["availability"]}
    assert by_backend["lsn-a/vm-1/80"] == ["healthy", "down", "down"]
    missing = zlb("history", "--load-balancer-id", "lb-a", "--stack-name", "nope", env=env)
    one_line_error(missing, 1, "looking up stack nope in us-east-1", "ValidationError")
