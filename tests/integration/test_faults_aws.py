"""AWS-side faults: DynamoDB throttling and conflicts, SNS failures, Secrets Manager, deadlines,
crashes mid-publish and duplicate invocations. Real HTTP to moto's server and the emulator.

Each test checks the same two promises: every notification the rules call for reaches the
topic (possibly one run late), and none reaches it twice.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError
from tests.conftest import Inbox
from tests.integration.harness import KEY, Harness, fleet, harness_factory, status, summarize

from zlb_health import handler
from zlb_health.adapters.publisher import SnsPublisher
from zlb_health.adapters.secrets import CredentialsError
from zlb_health.adapters.store import StoreError
from zlb_health.zenlayer.client import ZenlayerClient
from zlb_health_tools.demo import FakeContext
from zlb_health_tools.emulator.scenario import Scenario
from zlb_health_tools.emulator.server import Emulator
from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def harness_for(stack: LocalStack) -> Iterator[Callable[..., Harness]]:
    yield from harness_factory(stack)


class Injector:
    """botocore `before-send` hooks that answer the next N attempts of an operation with a
    DynamoDB error response, so botocore's own retry policy sees them as it would in AWS."""

    def __init__(self, client: Any, service: str) -> None:
        self.client = client
        self.service = service
        self.remaining: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.code = "ProvisionedThroughputExceededException"

    def fail(self, operation: str, times: int = 1_000_000) -> None:
        if operation not in self.remaining:
            self.client.meta.events.register(
                f"before-send.{self.service}.{operation}", self._hook(operation)
            )
        self.remaining[operation] = times

    def heal(self) -> None:
        for operation in self.remaining:
            self.remaining[operation] = 0

    def _hook(self, operation: str) -> Callable[..., AWSResponse | None]:
        def hook(request: Any, **_: Any) -> AWSResponse | None:
            if self.remaining.get(operation, 0) <= 0:
                return None
            self.remaining[operation] -= 1
            self.failed[operation] = self.failed.get(operation, 0) + 1
            body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{self.code}"})
            return AWSResponse(request.url, 400, {"x-amzn-errortype": self.code}, _Raw(body))

        return hook


class _Raw:
    def __init__(self, body: str) -> None:
        self.body = body.encode()

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def two_changes() -> Scenario:
    """vm-1 (lb-a) and vm-9 (lb-b) die at step 1: run 2 has two messages to publish."""
    return fleet([status(1, "vm-1", "Dead"), status(1, "vm-9", "Dead", lb="lb-b", lsn="lsn-b")])


def stored_state(h: Harness, lb: str) -> dict[str, Any]:
    state = h.store.load_states([lb])[lb].state
    assert state is not None
    return state.to_dict()


# -- DynamoDB throttling ----------------------------------------------------------------------


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_dynamodb_throttling_of_every_operation_is_absorbed_by_botocores_retry(
    harness_for: Callable[..., Harness], inbox: Inbox, code: str
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead"), status(4, "vm-1", "Alive")]))
    injector = Injector(h.dynamodb, "dynamodb")
    injector.code = code
    batches = []
    for _ in range(7):
        for operation in ("BatchGetItem", "BatchWriteItem", "TransactWriteItems", "UpdateItem"):
            injector.fail(operation, times=1)  # one throttle per operation per run
        report = h.run()
        assert report.checked == ["lb-a", "lb-b"]
        assert report.store_errors == []
        batches.append([summarize(m)[:3] for m in inbox.messages()])
    assert injector.failed["TransactWriteItems"] == 7  # each run commits (streaks still grow)
    assert injector.failed["UpdateItem"] == 2  # the two runs that delivered a message
    assert batches == [
        [],
        [],
        [("health_change", "warning", "lb-a")],
        [],
        [],
        [("health_change", "info", "lb-a")],
        [],
    ]


def test_persistent_throttling_of_the_commit_ends_the_run_cleanly_and_loses_nothing(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead")]))
    injector = Injector(h.dynamodb, "dynamodb")
    h.run()
    h.run()  # vm-1 Dead (1)
    injector.fail("TransactWriteItems")
    report = h.run()  # vm-1 Dead (2), but the state cannot be saved
    assert "lb-a" in {e.split(": ", 1)[0] for e in report.store_errors}
    assert all("ProvisionedThroughputExceededException" in e for e in report.store_errors)
    # botocore's two attempts per commit, and no retry loop of our own on top.
    assert injector.failed["TransactWriteItems"] == 2 * len(report.store_errors)
    injector.heal()
    assert inbox.messages() == []
    h.clock.tick()
    h.emulator.advance()
    # The unsaved observation is as if never made: the next one confirms the failure.
    report = h.run()
    assert report.messages_published == 1
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "warning", "lb-a")]
    h.run()
    assert inbox.messages() == []


def test_persistent_throttling_of_the_state_read_fails_before_anything_is_sent(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead")]))
    h.run()
    h.run()
    injector = Injector(h.dynamodb, "dynamodb")
    injector.fail("BatchGetItem")
    with pytest.raises(StoreError, match="BatchGetItem failed: ProvisionedThroughputExceeded"):
        h.run()
    injector.heal()
    h.clock.tick()
    h.emulator.advance()
    h.run()
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "warning", "lb-a")]


def test_a_settle_that_keeps_failing_means_at_least_once_never_lost(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    """DynamoDB refuses to record that SNS accepted a message: the run stops publishing at that
    point (no other message is put in the same position), and the message is sent again after
    the lease (at-least-once)."""
    h = harness_for(two_changes())
    h.run()
    h.run()
    injector = Injector(h.dynamodb, "dynamodb")
    injector.fail("UpdateItem")
    report = h.run()
    assert report.messages_published == 1
    assert report.store_errors != []
    injector.heal()
    first = [summarize(m)[:3] for m in inbox.messages()]
    assert first == [("health_change", "critical", "lb-b")]  # the most severe goes first
    h.clock.tick()  # past the run's lease
    h.run()
    assert sorted(summarize(m)[:3] for m in inbox.messages()) == [
        ("health_change", "critical", "lb-b"),  # the one duplicate: SNS had it, DynamoDB not
        ("health_change", "warning", "lb-a"),
    ]
    h.run()
    assert inbox.messages() == []


# -- conditional-check conflicts --------------------------------------------------------------


def test_two_interleaved_monitors_notify_each_change_once(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    """Monitor A reads the state, then B runs a whole cycle, then A tries to commit."""
    h = harness_for(two_changes())
    a_store = h.new_store()
    b_monitor = h.monitor()
    reports: list[Any] = []
    conflicts = 0
    for run in range(5):
        interleaved = {"done": False}

        def run_b_first(
            interleaved: dict[str, bool] = interleaved, run_id: str = f"b-{run}", **_: Any
        ) -> None:
            if not interleaved["done"]:
                interleaved["done"] = True
                reports.append(
                    b_monitor.run_once(
                        run_id=run_id,
                        api_deadline=float("inf"),
                        lease_until=(h.clock() + timedelta(seconds=50)).timestamp(),
                    )
                )

        a_store._client.meta.events.register(
            "before-call.dynamodb.TransactWriteItems", run_b_first, unique_id=f"interleave-{run}"
        )
        a_report = h.run(h.monitor(store=a_store))
        a_store._client.meta.events.unregister(
            "before-call.dynamodb.TransactWriteItems", unique_id=f"interleave-{run}"
        )
        conflicts += a_report.commit_conflicts
    assert conflicts >= 2  # A lost the race at least for the two changes
    messages = [summarize(m)[:3] for m in inbox.messages()]
    assert sorted(messages) == [
        ("health_change", "critical", "lb-b"),
        ("health_change", "warning", "lb-a"),
    ]


# -- SNS --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish"),
        ClientError({"Error": {"Code": "KMSThrottling", "Message": "injected"}}, "Publish"),
        EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com"),
    ],
    ids=["throttling", "kms_throttling", "no_connection"],
)
def test_sns_failure_of_one_message_delays_only_that_one(
    harness_for: Callable[..., Harness], inbox: Inbox, error: Exception
) -> None:
    h = harness_for(two_changes())
    h.run()
    h.run()
    calls = {"n": 0}

    def second_fails(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise error

    h.sns.meta.events.register("before-call.sns.Publish", second_fails)
    report = h.run()
    h.sns.meta.events.unregister("before-call.sns.Publish", second_fails)
    assert (report.messages_published, report.messages_failed) == (1, 1)
    assert report.notifications_pending == 1
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "critical", "lb-b")]
    retried = h.run()
    assert retried.messages_published == 1
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "warning", "lb-a")]
    for _ in range(2):
        assert h.run().messages_published == 0
    assert inbox.messages() == []


def test_sns_down_for_several_runs_delivers_everything_once_afterwards(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(
        fleet([status(1, "vm-1", "Dead"), status(3, "vm-2", "Dead"), status(5, "vm-1", "Alive")])
    )

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "x"}}, "Publish")

    h.sns.meta.events.register("before-call.sns.Publish", refuse)
    for _ in range(7):
        assert h.run().messages_published == 0
    h.sns.meta.events.unregister("before-call.sns.Publish", refuse)
    assert inbox.messages() == []
    report = h.run()
    # vm-1 went down and came back, vm-2 went down: one message takes users from what they
    # were last told (all healthy) to the truth now; vm-1's outage is in the email.
    assert report.messages_published == 1
    (message,) = inbox.messages()
    assert summarize(message) == ("health_change", "warning", "lb-a", [("vm-2", "Alive", "Dead")])
    assert message["body"]["coalesced"] == 3
    (resolved,) = message["body"]["resolved"]
    assert resolved["what"] == "vm-1 port 80 on listener web: down and back"
    h.run()
    assert inbox.messages() == []


# -- crashes and deadlines --------------------------------------------------------------------


class CrashError(Exception):
    """Stands for the process dying (Lambda timeout, out of memory)."""


class CrashingPublisher(SnsPublisher):
    def __init__(self, topic_arn: str, *, client: Any, crash_on_call: int) -> None:
        super().__init__(topic_arn, client=client)
        self.calls = 0
        self.crash_on_call = crash_on_call

    def publish(self, **kwargs: Any) -> str:
        self.calls += 1
        if self.calls == self.crash_on_call:
            raise CrashError
        return super().publish(**kwargs)


def test_crash_in_the_middle_of_publishing_resends_only_what_was_not_delivered(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(
        fleet(
            [
                status(1, "vm-1", "Dead"),
                status(1, "vm-9", "Dead", lb="lb-b", lsn="lsn-b"),
            ]
        )
    )
    h.run()
    h.run()
    crashing = CrashingPublisher(h.config.topic_arn, client=h.sns, crash_on_call=2)
    with pytest.raises(CrashError):
        h.run(h.monitor(publisher=crashing))
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "critical", "lb-b")]
    h.clock.tick()  # the crashed run never got to move time on; its lease runs out
    assert h.run().messages_published == 1
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "warning", "lb-a")]
    assert h.run().messages_published == 0
    assert inbox.messages() == []


def test_deadline_already_passed_skips_polling_and_still_delivers_pending(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(fleet([status(1, "vm-9", "Dead", lb="lb-b", lsn="lsn-b")]))
    h.run()
    h.run()

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "x"}}, "Publish")

    h.sns.meta.events.register("before-call.sns.Publish", refuse)
    assert h.run().notifications_pending == 1  # lb-b critical, pending
    h.sns.meta.events.unregister("before-call.sns.Publish", refuse)
    before = {lb: stored_state(h, lb) for lb in ("lb-a", "lb-b")}
    requests_before = len(h.emulator.request_log)

    report = h.run(api_deadline=0.0)  # a monotonic time long past

    assert sorted(report.skipped) == ["lb-a", "lb-b"]
    assert report.checked == report.failed == []
    assert len(h.emulator.request_log) == requests_before  # nothing polled
    assert {lb: stored_state(h, lb) for lb in ("lb-a", "lb-b")} == before
    assert report.messages_published == 1
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "critical", "lb-b")]
    assert report.summary()["skipped"] == ["lb-a", "lb-b"]


def test_deadline_reached_mid_run_reports_the_rest_as_skipped_and_leaves_them_alone(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(
        fleet([status(1, "vm-9", "Dead", lb="lb-b", lsn="lsn-b"), status(3, "vm-1", "Dead")]),
        LOAD_BALANCER_IDS="lb-a,lb-b",
        API_CONCURRENCY="1",
    )
    h.run()
    h.run()

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "x"}}, "Publish")

    h.sns.meta.events.register("before-call.sns.Publish", refuse)
    h.run()  # lb-b's critical alert is due but SNS refuses it: pending
    h.sns.meta.events.unregister("before-call.sns.Publish", refuse)
    lb_b_before = stored_state(h, "lb-b")

    class Monotonic:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Monotonic()

    class SlowClient(ZenlayerClient):
        """Each call "takes" 100 s of the test's monotonic clock."""

        def describe_backend_health(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().describe_backend_health(*args, **kwargs)
            finally:
                clock.now += 100.0

    slow = SlowClient(endpoint=h.emulator.url, credentials=KEY, clock=clock)
    report = h.run(h.monitor(client=slow, monotonic=clock), api_deadline=10.0)

    assert report.checked == ["lb-a"]
    assert report.skipped == ["lb-b"]
    assert report.load_balancers["lb-b"].error == "deadline reached"
    assert stored_state(h, "lb-b") == lb_b_before  # not observed: state untouched
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "critical", "lb-b")]
    # The next full run carries on: vm-1 (lb-a) Dead since step 3 is confirmed at step 4.
    h.run()
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "warning", "lb-a")]


def test_duplicate_of_the_same_tick_in_process_is_not_a_second_observation(
    harness_for: Callable[..., Harness], inbox: Inbox
) -> None:
    h = harness_for(fleet([status(1, "vm-1", "Dead")]))
    tick = h.clock()
    h.run(scheduled_time=tick)
    tick += timedelta(minutes=1)
    for _ in range(3):  # the same scheduled tick delivered three times, vm-1 Dead
        h.run(scheduled_time=tick, advance=False)
    assert inbox.messages() == []
    h.emulator.advance()
    h.run(scheduled_time=tick + timedelta(minutes=1))
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "warning", "lb-a")]


# -- the handler: Secrets Manager and duplicate deliveries in processes -----------------------


def handler_scenario() -> Scenario:
    return fleet([status(1, "vm-1", "Dead"), status(4, "vm-1", "Alive")])


def handler_env(stack: LocalStack, emulator: Emulator, secret: str) -> dict[str, str]:
    return {
        **stack.function_env(),
        "ZENLAYER_API_ENDPOINT": emulator.url,
        "ZENLAYER_CREDENTIALS_SECRET_ARN": secret,
        "LOAD_BALANCER_IDS": "lb-a,lb-b",
        "FAILURE_THRESHOLD": "2",
        "RECOVERY_THRESHOLD": "2",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "zlb-health",
        "POWERTOOLS_METRICS_NAMESPACE": "ZlbHealth",
    }


def make_secret(local_aws: LocalAws, value: str) -> str:
    sm = boto3.client("secretsmanager", endpoint_url=local_aws.url, region_name="us-east-1")
    return sm.create_secret(Name=f"zlb-test-{os.urandom(4).hex()}", SecretString=value)["ARN"]


def good_secret(local_aws: LocalAws) -> str:
    return make_secret(
        local_aws,
        json.dumps(
            {"accessKeyId": KEY.access_key_id, "accessKeyPassword": KEY.access_key_password}
        ),
    )


@pytest.fixture
def fresh_runtime() -> Iterator[None]:
    handler._runtime = None
    yield
    handler._runtime = None


def table_items(stack: LocalStack) -> list[dict[str, Any]]:
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region)
    return dynamodb.scan(TableName=stack.table_name)["Items"]


SECRET_VALUE = "hunter2-correct-horse-battery-staple"


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("missing", r"could not read the credentials secret \(ResourceNotFoundException\)"),
        ("unreachable", r"could not read the credentials secret \(EndpointConnectionError\)"),
        (f"accessKeyPassword={SECRET_VALUE}", "the credentials secret is not JSON"),
        (json.dumps([SECRET_VALUE]), "the credentials secret is not a JSON object"),
        (
            json.dumps({"accessKeyId": "k", "password": SECRET_VALUE}),
            "credentials secret: expected",
        ),
    ],
    ids=["missing", "unreachable", "not_json", "not_object", "wrong_fields"],
)
def test_secrets_manager_problem_fails_the_invocation_before_any_work(  # noqa: PLR0917
    monkeypatch: pytest.MonkeyPatch,
    fresh_runtime: None,
    stack: LocalStack,
    local_aws: LocalAws,
    inbox: Inbox,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    secret: str,
    problem: str,
) -> None:
    from aws_lambda_powertools.utilities.parameters import constants as parameters_constants

    if secret == "missing":
        arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:zlb-gone-AbCdEf"
    elif secret == "unreachable":
        arn = good_secret(local_aws)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        # powertools keeps one Secrets Manager client per process: let it build a new one.
        monkeypatch.delitem(parameters_constants.DEFAULT_PROVIDERS, "secrets", raising=False)
    else:
        arn = make_secret(local_aws, secret)
    with Emulator(handler_scenario(), credentials=[KEY], log_requests=False) as emulator:
        for name, value in handler_env(stack, emulator, arn).items():
            monkeypatch.setenv(name, value)
        with pytest.raises(CredentialsError, match=problem) as raised:
            handler.lambda_handler({}, FakeContext())
        assert emulator.request_log == []  # no partial run: the API was never called
    # Nothing (an AWS error, a parsed secret) rides along with the error.
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__
    assert table_items(stack) == []
    assert inbox.messages() == []
    output = "".join(capfd.readouterr()) + caplog.text
    assert SECRET_VALUE not in output
    assert SECRET_VALUE not in str(raised.value)


def run_handler_processes(
    events: list[dict[str, Any]], env: dict[str, str]
) -> list[dict[str, Any]]:
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(REPO / "tests" / "integration" / "invoke_handler.py"),
                json.dumps(event),
            ],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for event in events
    ]
    summaries = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        (line,) = [x for x in stdout.splitlines() if x.startswith("SUMMARY ")]
        summaries.append(json.loads(line.removeprefix("SUMMARY ")))
    return summaries


def test_duplicate_deliveries_of_the_same_tick_in_three_processes_count_once(
    stack: LocalStack, local_aws: LocalAws, inbox: Inbox
) -> None:
    """EventBridge may deliver one tick more than once, concurrently or late. vm-1 is Dead from
    step 1; FAILURE_THRESHOLD=2. Tick 1 is delivered 3 times at once, and 3 more times late
    (after the API moved on, still Dead): none of those may count as a 2nd observation."""
    arn = good_secret(local_aws)
    event = json.loads((REPO / "events" / "scheduled.json").read_text())

    def tick(minute: int) -> dict[str, Any]:
        return {
            **event,
            "scheduledTime": f"2026-11-23T12:{minute:02d}:00Z",
            "executionId": f"exec-{minute}",
        }

    with Emulator(handler_scenario(), credentials=[KEY], log_requests=False) as emulator:
        env = {
            **os.environ,
            **local_aws.env(),
            **handler_env(stack, emulator, arn),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        run_handler_processes([tick(0)], env)
        emulator.advance()
        concurrent = run_handler_processes([tick(1)] * 3, env)
        emulator.advance()  # step 2: vm-1 still Dead
        late = run_handler_processes([tick(1)] * 3, env)
        assert inbox.messages() == []
        # One delivery of tick 1 observed it; every other one only delivered what was pending.
        assert sorted(s["checked"] for s in concurrent) == [0, 0, 2]
        assert sorted(s["duplicateTick"] for s in concurrent) == [False, True, True]
        assert all(s["duplicateTick"] and s["checked"] == 0 for s in late)
        final = run_handler_processes([tick(2)], env)
    assert final[0]["messagesPublished"] == 1
    assert [summarize(m)[:3] for m in inbox.messages()] == [("health_change", "warning", "lb-a")]
    # And the table holds one snapshot per tick, whatever the number of deliveries.
    snaps = [i for i in table_items(stack) if i["SK"]["S"].startswith("SNAP#")]
    assert sorted({i["SK"]["S"] for i in snaps}) == [
        f"SNAP#2026-11-23T12:0{m}:00.000Z" for m in range(3)
    ]
    assert len(snaps) == 6  # 3 ticks x 2 load balancers
