"""The real Lambda handler, driven tick by tick against the emulator and moto's server.

`HandlerRig` sets the function's environment (as the template would), invokes
`zlb_health.handler.lambda_handler` with the scheduled event of each one-minute tick, moves the
emulator's timeline one step per tick, and reads what SNS delivered through a subscribed SQS
queue. SNS outages are injected into the handler's own SNS client (botocore `before-call`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.conftest import Inbox

from zlb_health import handler
from zlb_health.zenlayer.credentials import AccessKey
from zlb_health_tools.demo import FakeContext
from zlb_health_tools.emulator.scenario import Scenario
from zlb_health_tools.emulator.server import Emulator
from zlb_health_tools.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]
SCHEDULED_EVENT = json.loads((REPO / "events" / "scheduled.json").read_text())
KEY_ID = "rig-access-key"
KEY_PASSWORD = "rig-access-key-password"  # a test credential for the emulator


def tick_time(minute: int) -> str:
    hour, minute = divmod(minute, 60)
    return f"2026-11-23T{12 + hour:02d}:{minute:02d}:00Z"


def scheduler_event(minute: int) -> dict[str, Any]:
    """What EventBridge Scheduler delivers for the n-th one-minute tick."""
    return {
        **SCHEDULED_EVENT,
        "scheduledTime": tick_time(minute),
        "executionId": f"exec-{minute}",
    }


class HandlerRig:
    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        stack: LocalStack,
        emulator: Emulator,
        inbox: Inbox,
        **env: str,
    ) -> None:
        self.stack = stack
        self.emulator = emulator
        self.inbox = inbox
        self.minute = 0
        settings = {
            **stack.function_env(),
            "ZENLAYER_API_ENDPOINT": emulator.url,
            "ZENLAYER_ACCESS_KEY_ID": KEY_ID,
            "ZENLAYER_ACCESS_KEY_PASSWORD": KEY_PASSWORD,
            "FAILURE_THRESHOLD": "2",
            "RECOVERY_THRESHOLD": "2",
            "MONITOR_FAILURE_THRESHOLD": "2",
            "POWERTOOLS_METRICS_DISABLED": "true",
            **env,
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        handler._runtime = None
        self._sns_down = False
        # Every message handed to SNS, all renditions (SQS subscribers only see `default`).
        self.published: list[dict[str, Any]] = []
        runtime = handler.get_runtime()
        runtime.publisher.client.meta.events.register(
            "before-parameter-build.sns.Publish", self._publish
        )

    def _publish(self, params: dict[str, Any], **_: Any) -> None:
        if self._sns_down:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "down"}}, "Publish")
        renditions = json.loads(params["Message"])
        self.published.append(
            {
                "subject": params.get("Subject"),
                "sms": renditions["sms"],
                "email": renditions["email"],
                "body": json.loads(renditions["default"]),
                "attributes": {
                    name: value["StringValue"]
                    for name, value in params.get("MessageAttributes", {}).items()
                },
            }
        )

    def sns(self, *, up: bool) -> None:
        self._sns_down = not up

    def tick(self, *, event: dict[str, Any] | None = None, advance: bool = True) -> dict[str, Any]:
        """One scheduled invocation at the current minute; then time and the timeline move on."""
        summary: dict[str, Any] = handler.lambda_handler(
            event if event is not None else scheduler_event(self.minute), FakeContext()
        )
        if advance:
            self.minute += 1
            self.emulator.advance()
        return summary

    def ticks(self, count: int) -> list[list[dict[str, Any]]]:
        """`count` ticks; the messages delivered after each."""
        delivered = []
        for _ in range(count):
            self.tick()
            delivered.append(self.inbox.messages())
        return delivered


def rig_emulator(scenario: Scenario | dict[str, Any]) -> Emulator:
    if not isinstance(scenario, Scenario):
        scenario = Scenario.from_dict(scenario)
    return Emulator(scenario, credentials=[AccessKey(KEY_ID, KEY_PASSWORD)], log_requests=False)


def transitions(message: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(kind, instance, port, previous, current) of every transition in a delivered message."""
    return [
        (
            t["kind"],
            t["instanceId"] or t["privateIpAddress"],
            t["port"],
            t["previousStatus"],
            t["currentStatus"],
        )
        for t in message["body"].get("transitions", [])
    ]


def kinds(batches: list[list[dict[str, Any]]]) -> list[list[tuple[str, str]]]:
    return [
        [(m["attributes"]["event_type"], m["attributes"]["severity"]) for m in batch]
        for batch in batches
    ]


# -- worlds: the scenario a rig's emulator serves ---------------------------------------------


def vm(name: str, ip: str, **extra: Any) -> dict[str, Any]:
    return {"instanceId": name, "privateIpAddress": ip, **extra}


def listener(lsn: str, backends: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "listenerId": lsn,
        "listenerName": lsn,
        "listenerPort": "80",
        "backends": backends,
        **extra,
    }


def world(
    listeners: list[dict[str, Any]],
    timeline: list[dict[str, Any]] | None = None,
    faults: list[dict[str, Any]] | None = None,
    *,
    lb: str = "lb-1",
    steps: int = 40,
) -> dict[str, Any]:
    return {
        "steps": steps,
        "loadBalancers": [{"loadBalancerId": lb, "loadBalancerName": lb, "listeners": listeners}],
        "timeline": timeline or [],
        "faults": faults or [],
    }


def set_status(step: int, backend: str, health: str, lsn: str = "lsn-a", **extra: Any) -> dict:
    return {
        "step": step,
        "action": "set_status",
        "loadBalancerId": "lb-1",
        "listenerId": lsn,
        "backend": backend,
        "healthStatus": health,
        **extra,
    }


Rig = Callable[..., HandlerRig]
