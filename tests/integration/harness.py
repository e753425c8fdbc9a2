"""Shared helpers for the check-cycle tests: a fleet builder, a controllable clock, a Harness.

The Harness runs the real Monitor against the emulator (real HTTP) and moto's server (real
HTTP); the wall clock is the test's (`Clock`, one minute per scheduled run) and the emulator's
timeline moves one step per run. Tests use it through a module-level fixture:

    @pytest.fixture
    def harness_for(stack: LocalStack) -> Iterator[Callable[..., Harness]]:
        yield from harness_factory(stack)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from zlb_health.adapters import aws
from zlb_health.adapters.publisher import SnsPublisher
from zlb_health.adapters.store import HealthStore
from zlb_health.config import load_config
from zlb_health.monitor import ONE_SHARD, Monitor, RunReport
from zlb_health.shards import Shard
from zlb_health.zenlayer.client import ZenlayerClient
from zlb_health.zenlayer.credentials import AccessKey, Credentials
from zlb_health_tools.emulator.scenario import Scenario
from zlb_health_tools.emulator.server import Emulator
from zlb_health_tools.stack import LocalStack

KEY = AccessKey("test-key", "test-key-password")


def backend(instance: str, ip: str) -> dict[str, Any]:
    return {"instanceId": instance, "privateIpAddress": ip, "backendPort": 80, "weight": 100}


def fleet(timeline: list[dict[str, Any]], faults: list[dict[str, Any]] | None = None) -> Scenario:
    listener = {
        "listenerId": "lsn-a",
        "listenerName": "web",
        "protocol": "TCP",
        "listenerPort": "80",
        "healthCheck": {"enabled": True, "checkType": "TCP_CHECK"},
    }
    return Scenario.from_dict(
        {
            "steps": 20,
            "loadBalancers": [
                {
                    "loadBalancerId": "lb-a",
                    "loadBalancerName": "alpha",
                    "listeners": [
                        {
                            **listener,
                            "backends": [backend("vm-1", "10.0.0.1"), backend("vm-2", "10.0.0.2")],
                        },
                    ],
                },
                {
                    "loadBalancerId": "lb-b",
                    "loadBalancerName": "beta",
                    "listeners": [
                        {
                            **listener,
                            "listenerId": "lsn-b",
                            "backends": [backend("vm-9", "10.0.0.9")],
                        },
                    ],
                },
            ],
            "timeline": timeline,
            "faults": faults or [],
        }
    )


def status(
    step: int, instance: str, health: str, lb: str = "lb-a", lsn: str = "lsn-a"
) -> dict[str, Any]:
    return {
        "step": step,
        "action": "set_status",
        "loadBalancerId": lb,
        "listenerId": lsn,
        "backend": instance,
        "healthStatus": health,
    }


class Clock:
    """Wall time the test moves on: one minute per scheduled run."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: float = 1) -> None:
        self.now += timedelta(minutes=minutes)


class Harness:
    def __init__(
        self,
        emulator: Emulator,
        stack: LocalStack,
        *,
        client_options: dict[str, Any] | None = None,
        **env: str,
    ) -> None:
        self.emulator = emulator
        self.stack = stack
        self.clock = Clock()
        self.config = load_config(
            {
                "TABLE_NAME": stack.table_name,
                "TOPIC_ARN": stack.topic_arn,
                "ZENLAYER_API_ENDPOINT": emulator.url,
                "FAILURE_THRESHOLD": "2",
                "RECOVERY_THRESHOLD": "2",
                "MONITOR_FAILURE_THRESHOLD": "2",
                **env,
            }
        )
        self.client_options = client_options or {}
        self.client = self.make_client()
        # The function's own client settings (timeouts, one botocore retry policy).
        self.sns = aws.client("sns", endpoint_url=stack.endpoint_url, region_name=stack.region)
        self.dynamodb = aws.client(
            "dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region
        )
        self.store = HealthStore(stack.table_name, ttl_days=7, client=self.dynamodb)
        self.runs = 0

    def make_client(
        self, *, endpoint: str | None = None, credentials: Credentials = KEY, **options: Any
    ) -> ZenlayerClient:
        """A client like the harness's own (same test-friendly retry settings) with overrides."""
        settings: dict[str, Any] = {
            "max_attempts": 2,
            "backoff_base": 0.001,
            # Generous: a loaded CI machine must not turn a slow answer into a failure.
            "read_timeout": 15.0,
            **self.client_options,
            **options,
        }
        return ZenlayerClient(
            endpoint=endpoint or self.emulator.url, credentials=credentials, **settings
        )

    def new_store(self, **kwargs: Any) -> HealthStore:
        """A second store on the same table, with its own DynamoDB client (for interleaving)."""
        client = aws.client(
            "dynamodb", endpoint_url=self.stack.endpoint_url, region_name=self.stack.region
        )
        return HealthStore(self.stack.table_name, ttl_days=7, client=client, **kwargs)

    def monitor(
        self,
        *,
        client: ZenlayerClient | None = None,
        store: HealthStore | None = None,
        publisher: SnsPublisher | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> Monitor:
        extra: dict[str, Any] = {} if monotonic is None else {"monotonic": monotonic}
        return Monitor(
            config=self.config,
            client=client or self.client,
            store=store or self.store,
            publisher=publisher or SnsPublisher(self.config.topic_arn, client=self.sns),
            clock=self.clock,
            **extra,
        )

    def run(
        self,
        monitor: Monitor | None = None,
        *,
        api_deadline: float = float("inf"),
        scheduled_time: datetime | None = None,
        advance: bool = True,
        shard: Shard = ONE_SHARD,
    ) -> RunReport:
        """One scheduled run at the current step, then time and the timeline move on."""
        self.runs += 1
        report = (monitor or self.monitor()).run_once(
            run_id=f"run-{self.runs}",
            api_deadline=api_deadline,
            lease_until=(self.clock() + timedelta(seconds=50)).timestamp(),
            scheduled_time=scheduled_time,
            shard=shard,
        )
        if advance:
            self.clock.tick()
            self.emulator.advance()
        return report


def harness_factory(stack: LocalStack) -> Iterator[Callable[..., Harness]]:
    """The body of a `harness_for` fixture: build Harnesses, stop their emulators at teardown."""
    emulators: list[Emulator] = []

    def build(scenario: Scenario, **env: Any) -> Harness:
        credentials = env.pop("emulator_credentials", None) or [KEY]
        emulator = Emulator(scenario, credentials=credentials, log_requests=False)
        emulator.start()
        emulators.append(emulator)
        return Harness(emulator, stack, **env)

    yield build
    for emulator in emulators:
        emulator.stop()


def summarize(
    message: dict[str, Any],
) -> tuple[str, str, str, list[tuple[str | None, str | None, str | None]]]:
    body = message["body"]
    return (
        message["attributes"]["event_type"],
        message["attributes"]["severity"],
        message["attributes"]["load_balancer_id"],
        [(t["instanceId"], t["previousStatus"], t["currentStatus"]) for t in body["transitions"]],
    )
