"""`zlb-health status` against a table filled by real monitor runs, over real HTTP (the
emulator, moto's server): exit 0 healthy, 1 unhealthy, 2 usage; --json; --stack-name."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.harness import Harness, fleet, harness_factory, status
from tests.integration.operator_helpers import aws_shell_env, deploy_stand_in
from tests.integration.test_cli_contract import one_line_error, zlb

from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration


@pytest.fixture
def harness_for(stack: LocalStack) -> Iterator[Callable[..., Harness]]:
    yield from harness_factory(stack)


@pytest.fixture
def aws_env(tmp_path: Path, local_aws: LocalAws) -> dict[str, str]:
    return aws_shell_env(tmp_path, local_aws)


def test_status_of_a_healthy_fleet_exits_0(
    harness_for: Callable[..., Harness], stack: LocalStack, aws_env: dict[str, str]
) -> None:
    h = harness_for(fleet([]))
    h.run()
    h.run()
    result = zlb("status", env={**aws_env, "TABLE_NAME": stack.table_name})
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "HEALTHY: 0 critical, 0 warning, 2 ok"
    assert lines[3:5] == [
        "OK        alpha (lb-a): 2 of 2 backends healthy on 1 listener",
        "OK        beta (lb-b): 1 of 1 backends healthy on 1 listener",
    ]
    assert lines[-2:] == [
        "discovery (DescribeLoadBalancers): ok",
        "active silences: none",
    ]


def test_status_exits_1_with_the_critical_listener_first(
    harness_for: Callable[..., Harness], stack: LocalStack, aws_env: dict[str, str]
) -> None:
    # lb-a loses both backends (critical); lb-b's only backend is Dead once (held back).
    timeline = [
        status(1, "vm-1", "Dead"),
        status(1, "vm-2", "Dead"),
        status(2, "vm-9", "Dead", "lb-b", "lsn-b"),
    ]
    h = harness_for(fleet(timeline))
    for _ in range(3):
        h.run()
    env = {**aws_env, "TABLE_NAME": stack.table_name}
    text = zlb("status", env=env)
    assert text.returncode == 1, text.stderr
    assert text.stdout.splitlines()[1:9] == [
        "UNHEALTHY: 1 critical, 0 warning, 1 ok",
        "",
        "CRITICAL  alpha (lb-a): 0 of 2 backends healthy on 1 listener",
        "  listener web (lsn-a): 0 of 2 healthy, 2 down  NO HEALTHY BACKEND since "
        "2026-11-23T12:02:00.000Z",
        "    DOWN vm-1:80 since 2026-11-23T12:01:00.000Z",
        "    DOWN vm-2:80 since 2026-11-23T12:01:00.000Z",
        "  monitoring: ok",
        "OK        beta (lb-b): 1 of 1 backends healthy on 1 listener",
    ]
    assert "  about to alert: vm-9:80 Dead since 2026-11-23T12:02:00.000Z, 1 of 2 before " in (
        text.stdout
    )

    as_json = zlb("status", "--json", env=env)
    assert as_json.returncode == 1
    document = json.loads(as_json.stdout)
    assert (document["healthy"], document["table"], document["stack"]) == (
        False,
        stack.table_name,
        None,
    )
    assert [(lb["loadBalancerId"], lb["level"]) for lb in document["loadBalancers"]] == [
        ("lb-a", "critical"),
        ("lb-b", "ok"),
    ]
    assert document["loadBalancers"][0]["counts"]["listenersWithoutHealthyBackend"] == 1
    assert document["loadBalancers"][1]["heldBack"] == [
        {
            "kind": "down",
            "what": "vm-9:80",
            "status": "Dead",
            "count": 1,
            "threshold": 2,
            "since": "2026-11-23T12:02:00.000Z",
            "text": "vm-9:80 Dead, 1 of 2 before alerting",
        }
    ]
    assert document["discovery"]["monitoring"]["degraded"] is False


def test_status_shows_degraded_monitoring_and_undelivered_messages(
    harness_for: Callable[..., Harness], stack: LocalStack, aws_env: dict[str, str]
) -> None:
    outage = {"type": "server_error", "loadBalancerId": "lb-b", "fromStep": 1, "toStep": 9}
    h = harness_for(fleet([], faults=[{**outage, "status": 503}]))
    h.run()
    h.run()
    silent = h.monitor()
    silent._publish = lambda *a, **k: None  # type: ignore[method-assign]  # claimed, never sent
    h.run(silent)  # lb-b's second failure: degraded, its message left in the outbox
    result = zlb("status", "--table-name", stack.table_name, env=aws_env)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "UNHEALTHY: 0 critical, 1 warning, 1 ok; 1 notification pending"
    assert lines[3] == "WARNING   beta (lb-b): 1 of 1 backends healthy on 1 listener"
    assert lines[5].startswith(
        "  monitoring: DEGRADED since 2026-11-23T12:01:00.000Z, 2 failed API calls in a row "
        "(server "
    )
    assert lines[6:8] == [
        "  pending notifications (not delivered yet): 1",
        "    2026-11-23T12:02:00.000Z  monitor_degraded warning: beta: monitoring degraded "
        "after 2 failed API calls in a row (server SERVICE_UNAVAILABLE).",
    ]


def test_status_usage_errors_exit_2_in_one_line(aws_env: dict[str, str]) -> None:
    one_line_error(zlb("status", env=aws_env), 2, "TABLE_NAME", "--stack-name")
    both = zlb("status", "--table-name", "t", "--stack-name", "s", env=aws_env)
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr
    no_region = {k: v for k, v in aws_env.items() if "REGION" not in k}
    one_line_error(zlb("status", "--table-name", "t", env=no_region), 2, "AWS_REGION")


def test_status_of_a_table_that_does_not_exist_exits_1(aws_env: dict[str, str]) -> None:
    result = zlb("status", "--table-name", "no-such-table", env=aws_env)
    one_line_error(result, 1, "reading no-such-table in us-east-1", "ResourceNotFoundException")


def test_status_finds_the_table_and_thresholds_through_the_stack(
    harness_for: Callable[..., Harness], stack: LocalStack, aws_env: dict[str, str]
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead")]))
    h.run()
    h.run()
    name = f"zlb-ops-{uuid.uuid4().hex[:8]}"
    deploy_stand_in(stack, name, TableName=stack.table_name, TopicArn=stack.topic_arn)
    result = zlb("status", "--stack-name", name, "--json", env=aws_env)
    assert result.returncode == 0, result.stderr  # vm-1 Dead once: held, nothing unhealthy
    document = json.loads(result.stdout)
    assert (document["stack"], document["table"]) == (name, stack.table_name)
    assert document["thresholds"]["failure"] == 3  # the stack's parameter, not the default
    (held,) = document["loadBalancers"][0]["heldBack"]
    assert held["text"] == "vm-1:80 Dead, 1 of 3 before alerting"


def test_status_names_a_missing_stack_or_output_in_one_line(
    stack: LocalStack, aws_env: dict[str, str]
) -> None:
    missing = zlb("status", "--stack-name", "no-such-stack", env=aws_env)
    one_line_error(missing, 1, "looking up stack no-such-stack in us-east-1", "ValidationError")
    name = f"zlb-other-{uuid.uuid4().hex[:8]}"
    deploy_stand_in(stack, name, Something="else")
    no_output = zlb("status", "--stack-name", name, env=aws_env)
    one_line_error(no_output, 1, f"stack {name} in us-east-1", "has no TableName output")


def test_status_shows_a_deleted_load_balancer_until_its_last_word_is_delivered(
    harness_for: Callable[..., Harness], stack: LocalStack, aws_env: dict[str, str]
) -> None:
    h = harness_for(
        fleet([{"step": 1, "action": "remove_load_balancer", "loadBalancerId": "lb-b"}])
    )
    h.run()
    silent = h.monitor()
    silent._publish = lambda *a, **k: None  # type: ignore[method-assign]  # SNS never reached
    for _ in range(3):  # lb-b missing from two listings: retired, its last word pending
        h.run(silent)
    document = json.loads(
        zlb("status", "--json", "--table-name", stack.table_name, env=aws_env).stdout
    )
    retired = [lb for lb in document["loadBalancers"] if lb["retired"]]
    assert [(lb["loadBalancerId"], lb["retired"]) for lb in retired] == [("lb-b", "deleted")]
    assert [p["eventType"] for p in retired[0]["pendingNotifications"]] == ["health_change"]
    h.run()  # delivered; a run forgets what was delivered when it started
    document = json.loads(
        zlb("status", "--json", "--table-name", stack.table_name, env=aws_env).stdout
    )
    assert [
        (lb["loadBalancerId"], lb["pendingNotifications"]) for lb in document["loadBalancers"]
    ] == [
        ("lb-a", []),
        ("lb-b", []),
    ]
    h.run()  # forgotten: gone from status too
    document = json.loads(
        zlb("status", "--json", "--table-name", stack.table_name, env=aws_env).stdout
    )
    assert [lb["loadBalancerId"] for lb in document["loadBalancers"]] == ["lb-a"]
