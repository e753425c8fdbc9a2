"""The dead man's switch through the real handler: only a completed run says it ran.

template.yaml's MonitorNotRunningAlarm treats a gap in RunsCompleted as breaching (the template
test checks it watches exactly what `emit_heartbeat` writes); here: which runs write it.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tests.integration.handler_rig import Rig, listener, vm, world

from zlb_health import handler
from zlb_health.adapters.secrets import CredentialsError

pytestmark = pytest.mark.integration


def heartbeats(output: str) -> list[dict[str, Any]]:
    blobs = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    return [b for b in blobs if handler.HEARTBEAT_METRIC in b]


def one_listener() -> dict[str, Any]:
    return world([listener("lsn-a", [vm("vm-1", "10.0.0.1")])])


def test_a_completed_run_beats_once_with_its_function_name(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    r = rig(one_listener(), POWERTOOLS_METRICS_DISABLED="false")
    capsys.readouterr()
    r.tick()
    (beat,) = heartbeats(capsys.readouterr().out)
    assert beat[handler.HEARTBEAT_METRIC] == [1.0]
    assert beat[handler.HEARTBEAT_DIMENSION] == "zlb-health-local"  # FakeContext's name


def test_a_run_that_cannot_reach_the_api_still_beats_and_says_so_itself(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    """Wrong Zenlayer credentials: the monitor announces monitor_degraded through the topic, so
    the watchdog (which is about runs not running) stays quiet."""
    r = rig(
        one_listener(),
        POWERTOOLS_METRICS_DISABLED="false",
        ZENLAYER_ACCESS_KEY_PASSWORD="wrong-password",
        MONITOR_FAILURE_THRESHOLD="1",
    )
    capsys.readouterr()
    r.tick()
    assert len(heartbeats(capsys.readouterr().out)) == 1
    assert [m["attributes"]["event_type"] for m in r.inbox.messages()] == ["monitor_degraded"]


def test_a_run_that_could_not_save_what_it_saw_does_not_beat(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run gets to its end, but its state writes failed: the invocation fails (the errors
    alarm) and no heartbeat claims that all is well."""
    r = rig(one_listener(), POWERTOOLS_METRICS_DISABLED="false")

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError"}}, "TransactWriteItems")

    store_client = handler.get_runtime().store.client
    store_client.meta.events.register("before-call.dynamodb.TransactWriteItems", refuse)
    capsys.readouterr()
    with pytest.raises(handler.RunIncompleteError):
        r.tick()
    assert heartbeats(capsys.readouterr().out) == []


def test_a_deleted_secret_fails_the_run_without_a_beat(
    rig: Rig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    r = rig(one_listener(), POWERTOOLS_METRICS_DISABLED="false")
    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(Name="zlb-watchdog", SecretString='{"token": "t"}')["ARN"]
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    monkeypatch.setenv("ZENLAYER_CREDENTIALS_SECRET_ARN", arn)
    handler._runtime = None
    capsys.readouterr()
    with pytest.raises(CredentialsError, match="secret"):
        r.tick()
    assert heartbeats(capsys.readouterr().out) == []
