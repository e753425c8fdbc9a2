"""No credential, token, signature or Authorization header ever leaves the process.

Everything runs at DEBUG (root logger, powertools, the zlb_health loggers): the real handler
with Secrets Manager secrets (a good access key, a wrong password, a wrong token, a good
token), API failures (5xx, invalid JSON, HTML, auth errors, and a hostile proxy that echoes
the request's Authorization value and the password back in its error text), the `check` CLI
failing and succeeding, and the emulator logging every request. Then every byte that left is
searched: stdout/stderr (capfd), log records with their extra fields (caplog), every DynamoDB
item (zlib blobs decompressed), every SNS message, the handler's return values, and the CLI
output.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import logging
import os
import re
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from tests.conftest import Inbox

from zlb_health import handler
from zlb_health.zenlayer.client import ZenlayerClient
from zlb_health.zenlayer.credentials import AccessKey, BearerToken
from zlb_health_tools import check
from zlb_health_tools.check import run_check
from zlb_health_tools.demo import FakeContext
from zlb_health_tools.emulator.scenario import Scenario
from zlb_health_tools.emulator.server import ApiError, Emulator
from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration

KEY_ID = "leak-test-key-id"
PASSWORD = "Pa55-leak-test-9f8e7d6c5b4a"
WRONG_PASSWORD = "Wr0ng-leak-test-1a2b3c4d5e"
TOKEN = "tok-leak-test-0a1b2c3d4e5f"
WRONG_TOKEN = "tok-wrong-leak-test-6789abcd"
SECRETS = (PASSWORD, WRONG_PASSWORD, TOKEN, WRONG_TOKEN)


class RecordingEmulator(Emulator):
    """Records each Authorization value it receives; can act as a proxy that echoes it."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario, credentials=[AccessKey(KEY_ID, PASSWORD), BearerToken(TOKEN)])
        self.authorizations: list[str] = []
        self.echo = False

    def _authenticate(self, headers: dict[str, str], body: bytes) -> None:
        auth = headers.get("authorization", "")
        self.authorizations.append(auth)
        super()._authenticate(headers, body)
        if self.echo:
            # What a broken proxy could echo: the request's own Authorization value and, for a
            # signed request, even that key's password (never a secret the client did not use).
            echoed = auth
            if not auth.startswith("Bearer "):
                echoed += f" (secret {PASSWORD})"
            raise ApiError(403, "ACCESS_DENIED", f"proxy: upstream refused {echoed}")


def scenario() -> Scenario:
    backend = {"privateIpAddress": "10.0.0.1", "instanceId": "vm-1", "backendPort": 80}
    return Scenario.from_dict(
        {
            "steps": 12,
            "loadBalancers": [
                {
                    "loadBalancerId": "lb-1",
                    "listeners": [
                        {"listenerId": "lsn-1", "listenerPort": "80", "backends": [backend]}
                    ],
                },
                {
                    "loadBalancerId": "lb-2",
                    "listeners": [
                        {"listenerId": "lsn-2", "listenerPort": "80", "backends": [backend]}
                    ],
                },
            ],
            "timeline": [
                {
                    "step": 1,
                    "action": "set_status",
                    "loadBalancerId": "lb-1",
                    "listenerId": "lsn-1",
                    "backend": "vm-1",
                    "healthStatus": "Dead",
                }
            ],
            "faults": [
                {"type": "server_error", "loadBalancerId": "lb-2", "fromStep": 1, "toStep": 2},
                {"type": "malformed", "loadBalancerId": "lb-2", "fromStep": 3, "toStep": 3},
                {"type": "html", "loadBalancerId": "lb-2", "fromStep": 4, "toStep": 4},
                {"type": "truncated", "loadBalancerId": "lb-2", "fromStep": 5, "toStep": 5},
            ],
        }
    )


@pytest.fixture
def debug_everywhere(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)  # the root logger
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("zlb_health"):
            caplog.set_level(logging.DEBUG, logger=name)
    level = handler.logger.log_level
    handler.logger.setLevel("DEBUG")
    handler._runtime = None
    # Retries without real backoff sleeps (the test owns time), in the handler and the CLI.
    quick = functools.partial(ZenlayerClient, sleep=lambda _s: None)
    monkeypatch.setattr(handler, "ZenlayerClient", quick)
    monkeypatch.setattr(check, "ZenlayerClient", quick)
    yield
    handler.logger.setLevel(level)
    handler._runtime = None


def make_secret(local_aws: LocalAws, document: dict[str, str]) -> str:
    sm = boto3.client("secretsmanager", endpoint_url=local_aws.url, region_name="us-east-1")
    return sm.create_secret(
        Name=f"zlb-leak-{os.urandom(4).hex()}", SecretString=json.dumps(document)
    )["ARN"]


def table_text(stack: LocalStack) -> str:
    """Every item of the table as text, zlib blobs (state, outbox, events, rows) inflated."""
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region)
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "B":
                    parts.append(zlib.decompress(inner).decode("utf-8"))
                else:
                    parts.append(str(key))
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)
        else:
            parts.append(str(value))

    items = dynamodb.scan(TableName=stack.table_name)["Items"]
    assert any(i["SK"]["S"] == "STATE" for i in items)
    assert any(i["SK"]["S"].startswith("EVENT#") for i in items)
    assert any(i["SK"]["S"].startswith("SNAP#") for i in items)
    walk(items)
    return "\n".join(parts)


def test_no_secret_signature_or_authorization_header_leaks_anywhere(  # noqa: PLR0915, PLR0917 - one scenario, every leak path in turn
    monkeypatch: pytest.MonkeyPatch,
    debug_everywhere: None,
    stack: LocalStack,
    local_aws: LocalAws,
    inbox: Inbox,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    good_key = make_secret(local_aws, {"accessKeyId": KEY_ID, "accessKeyPassword": PASSWORD})
    bad_key = make_secret(local_aws, {"accessKeyId": KEY_ID, "accessKeyPassword": WRONG_PASSWORD})
    good_token = make_secret(local_aws, {"token": TOKEN})
    bad_token = make_secret(local_aws, {"token": WRONG_TOKEN})
    returned: list[Any] = []
    minute = 0

    emulator = RecordingEmulator(scenario())
    with emulator:

        def invoke(secret_arn: str, runs: int = 1) -> None:
            nonlocal minute
            monkeypatch.setenv("ZENLAYER_CREDENTIALS_SECRET_ARN", secret_arn)
            handler._runtime = None  # a new container for a new configuration
            for _ in range(runs):
                event = {
                    "source": "zlb-health.schedule",
                    "scheduledTime": f"2026-11-23T12:{minute:02d}:00Z",
                }
                returned.append(handler.lambda_handler(event, FakeContext()))
                minute += 1
                emulator.advance()

        for name, value in {
            **stack.function_env(),
            "ZENLAYER_API_ENDPOINT": emulator.url,
            "LOAD_BALANCER_IDS": "lb-1,lb-2",
            "FAILURE_THRESHOLD": "2",
            "MONITOR_FAILURE_THRESHOLD": "2",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }.items():
            monkeypatch.setenv(name, value)

        invoke(good_key, runs=6)  # lb-1 goes down; lb-2: 5xx, invalid JSON, HTML, truncated
        invoke(bad_key, runs=2)  # 401 SIGNATURE_FAILURE: monitor degraded
        invoke(good_token)  # restored, with a bearer token
        invoke(bad_token, runs=2)  # 401 INVALID_TOKEN: degraded again
        invoke(good_key)  # restored
        emulator.echo = True
        invoke(good_key)  # a proxy echoes the Authorization value and the secrets
        invoke(good_token)  # ... and the degraded message carries its (scrubbed) text
        emulator.echo = False
        invoke(good_key)

        # The CLI: failing (wrong password, wrong token, echoing proxy), then succeeding.
        cli_out, cli_err = io.StringIO(), io.StringIO()
        codes = []
        args = argparse.Namespace(load_balancer_id="lb-1", listener_id=None, json=True)
        for env in (
            {"ZENLAYER_ACCESS_KEY_ID": KEY_ID, "ZENLAYER_ACCESS_KEY_PASSWORD": WRONG_PASSWORD},
            {"ZENLAYER_API_TOKEN": WRONG_TOKEN},
            {"ZENLAYER_ACCESS_KEY_ID": KEY_ID, "ZENLAYER_ACCESS_KEY_PASSWORD": PASSWORD},
            {"ZENLAYER_API_TOKEN": TOKEN},
        ):
            emulator.echo = "ZENLAYER_API_TOKEN" in env and env["ZENLAYER_API_TOKEN"] == TOKEN
            codes.append(
                run_check(
                    args,
                    env={"ZENLAYER_API_ENDPOINT": emulator.url, **env},
                    out=cli_out,
                    err=cli_err,
                )
            )
        emulator.echo = False
        codes.append(
            run_check(
                args,
                env={"ZENLAYER_API_ENDPOINT": emulator.url, "ZENLAYER_API_TOKEN": TOKEN},
                out=cli_out,
                err=cli_err,
            )
        )

    # The scenario really exercised what it claims to.
    assert codes == [1, 1, 0, 1, 0]  # a failed API call exits 1 (cli.py)
    assert len(cli_err.getvalue().strip().splitlines()) == 3  # one line per failure
    messages = inbox.messages()
    kinds = [m["attributes"]["event_type"] for m in messages]
    assert "health_change" in kinds
    assert kinds.count("monitor_degraded") >= 3
    degraded_text = json.dumps([m for m in messages if "degraded" in json.dumps(m)])
    assert "SIGNATURE_FAILURE" in degraded_text
    assert "INVALID_TOKEN" in degraded_text
    assert "proxy: upstream refused ***" in degraded_text  # the echo arrived, scrubbed
    signatures = {
        m.group(1)
        for auth in emulator.authorizations
        if (m := re.search(r"Signature=([0-9a-f]{64})", auth))
    }
    # Signed requests were captured (how many distinct depends on the clock: a signature is
    # the same for the same body within one second), so the search below has needles.
    assert signatures
    assert any(a.startswith("Bearer ") for a in emulator.authorizations)

    # Everything that left the process, in one haystack.
    captured = capfd.readouterr()
    records = "\n".join(
        f"{r.getMessage()} {r.__dict__!r} {r.exc_text or ''}" for r in caplog.records
    )
    haystack = "\n".join(
        [
            captured.out,
            captured.err,
            caplog.text,
            records,
            json.dumps(returned),
            cli_out.getvalue(),
            cli_err.getvalue(),
            table_text(stack),
            json.dumps(messages),
        ]
    )
    assert '"level":"DEBUG"' in captured.out or "DEBUG" in caplog.text  # DEBUG was on
    assert "emulator: 401 DescribeBackendHealth" in captured.err  # the emulator's own log
    for needle in (*SECRETS, *signatures, "Authorization"):
        assert needle not in haystack, f"leaked: {needle[:6]}..."
    for auth in emulator.authorizations:
        assert auth not in haystack
    # botocore would log whole request headers and bodies at DEBUG: the handler keeps it quiet.
    assert logging.getLogger("botocore").getEffectiveLevel() >= logging.INFO
