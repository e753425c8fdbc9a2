"""The real handler: configuration, Secrets Manager, and concurrent invocations in processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.conftest import Inbox

from zlb_health import handler
from zlb_health.config import ConfigError
from zlb_health.zenlayer.credentials import AccessKey
from zlb_health_tools.demo import FakeContext
from zlb_health_tools.emulator.scenario import Scenario
from zlb_health_tools.emulator.server import Emulator
from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KEY = AccessKey("handler-key", "handler-key-password-123")
EVENT = json.loads((REPO / "events" / "scheduled.json").read_text())


def tick_event(minute: int) -> dict[str, Any]:
    """The scheduled event of the n-th one-minute tick (each tick has its own scheduled time)."""
    return {
        **EVENT,
        "scheduledTime": f"2026-11-23T12:{minute:02d}:00Z",
        "executionId": f"exec-{minute}",
    }


def scenario(latency_ms: float = 0) -> Scenario:
    backends = [
        {
            "instanceId": f"vm-{i}",
            "privateIpAddress": f"10.1.0.{i}",
            "backendPort": 80,
            "weight": 10,
        }
        for i in range(1, 4)
    ]
    faults = (
        [{"type": "latency", "loadBalancerId": "*", "latencyMs": latency_ms}] if latency_ms else []
    )
    return Scenario.from_dict(
        {
            "steps": 10,
            "loadBalancers": [
                {
                    "loadBalancerId": f"lb-{n}",
                    "loadBalancerName": f"fleet-{n}",
                    "listeners": [
                        {
                            "listenerId": f"lsn-{n}",
                            "listenerName": "tcp",
                            "protocol": "TCP",
                            "listenerPort": "80",
                            "healthCheck": {"enabled": True},
                            "backends": backends,
                        }
                    ],
                }
                for n in (1, 2)
            ],
            "timeline": [
                {
                    "step": 1,
                    "action": "set_status",
                    "loadBalancerId": "lb-1",
                    "listenerId": "lsn-1",
                    "backend": "vm-1",
                    "healthStatus": "Dead",
                },
                {
                    "step": 4,
                    "action": "set_status",
                    "loadBalancerId": "lb-1",
                    "listenerId": "lsn-1",
                    "backend": "vm-1",
                    "healthStatus": "Alive",
                },
            ],
            "faults": faults,
        }
    )


@pytest.fixture
def secret_arn(local_aws: LocalAws) -> str:
    sm = boto3.client("secretsmanager", endpoint_url=local_aws.url, region_name="us-east-1")
    return sm.create_secret(
        Name=f"zlb-test-{os.urandom(4).hex()}",
        SecretString=json.dumps(
            {"accessKeyId": KEY.access_key_id, "accessKeyPassword": KEY.access_key_password}
        ),
    )["ARN"]


def function_env(stack: LocalStack, emulator: Emulator, secret: str) -> dict[str, str]:
    return {
        **stack.function_env(),
        "ZENLAYER_API_ENDPOINT": emulator.url,
        "ZENLAYER_CREDENTIALS_SECRET_ARN": secret,
        "FAILURE_THRESHOLD": "2",
        "RECOVERY_THRESHOLD": "2",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "zlb-health",
        "POWERTOOLS_METRICS_NAMESPACE": "ZlbHealth",
    }


@pytest.fixture
def fresh_runtime() -> Iterator[None]:
    handler._runtime = None
    yield
    handler._runtime = None


def test_invalid_configuration_fails_the_invocation_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, fresh_runtime: None, stack: LocalStack
) -> None:
    monkeypatch.setenv("TABLE_NAME", stack.table_name)
    monkeypatch.setenv("TOPIC_ARN", stack.topic_arn)
    monkeypatch.setenv("FAILURE_THRESHOLD", "zero")
    with pytest.raises(ConfigError, match="FAILURE_THRESHOLD"):
        handler.lambda_handler(EVENT, FakeContext())


def test_handler_reads_credentials_from_secrets_manager_and_reports(  # noqa: PLR0917
    monkeypatch: pytest.MonkeyPatch,
    fresh_runtime: None,
    stack: LocalStack,
    secret_arn: str,
    inbox: Inbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Emulator(scenario(), credentials=[KEY]) as emulator:
        for name, value in function_env(stack, emulator, secret_arn).items():
            monkeypatch.setenv(name, value)
        summaries = []
        for minute in range(3):
            summaries.append(handler.lambda_handler(tick_event(minute), FakeContext()))
            emulator.advance()
    assert [s["checked"] for s in summaries] == [2, 2, 2]
    assert [s["messagesPublished"] for s in summaries] == [0, 0, 1]
    (message,) = inbox.messages()
    assert message["attributes"]["load_balancer_id"] == "lb-1"
    output = capsys.readouterr().out
    # The watchdog's heartbeat per completed run, and a health line while lb-1 is not healthy.
    assert output.count('"RunsCompleted":[1.0]') == 3
    assert '{"record":"lb_health","lb":"lb-1","ok":true,"backends":3,"alive":2,"dead":1,' in output
    assert KEY.access_key_password not in output


def test_concurrent_invocations_in_separate_processes_notify_each_change_once(
    stack: LocalStack, secret_arn: str, inbox: Inbox, local_aws: LocalAws
) -> None:
    """Three overlapping invocations per scheduled tick (think duplicate deliveries)."""
    with Emulator(scenario(latency_ms=150), credentials=[KEY]) as emulator:
        env = {
            **os.environ,
            **local_aws.env(),
            **function_env(stack, emulator, secret_arn),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        per_tick: list[list[dict[str, Any]]] = []
        for minute in range(7):
            processes = [
                subprocess.Popen(
                    [
                        sys.executable,
                        str(REPO / "tests" / "integration" / "invoke_handler.py"),
                        json.dumps(tick_event(minute)),
                    ],
                    env=env,
                    cwd=REPO,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(3)
            ]
            for process in processes:
                stdout, stderr = process.communicate(timeout=120)
                assert process.returncode == 0, stderr
                assert "SUMMARY " in stdout
            per_tick.append(inbox.messages())
            emulator.advance()
    kinds = [
        [(m["attributes"]["event_type"], m["attributes"]["severity"]) for m in tick]
        for tick in per_tick
    ]
    # vm-1: Dead at steps 1-3 (alert once the 2nd Dead is seen), Alive from step 4 (recovery
    # once the 2nd Alive is seen). Exactly one message per change, whoever sent it.
    assert kinds == [
        [],
        [],
        [("health_change", "warning")],
        [],
        [],
        [("health_change", "info")],
        [],
    ]
