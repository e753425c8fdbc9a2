"""`zlb-health check` against a local stub server."""

from __future__ import annotations

import argparse
import functools
import io
import json
from typing import Any

import pytest

from zlb_health.zenlayer.client import ZenlayerClient
from zlb_health_tools import check
from zlb_health_tools.check import run_check
from zlb_health_tools.cli import build_parser

BACKENDS = [
    {
        "listenerId": "lsn-web",
        "listenerName": "web",
        "protocol": "TCP",
        "listenerPort": "80,443",
        "instanceId": "vm-a",
        "privateIpAddress": "10.0.0.1",
        "weight": 100,
        "healthStatus": "Dead",
        "healthStatusDetail": [
            {"port": 80, "healthStatus": "Alive"},
            {"port": 443, "healthStatus": "Dead"},
        ],
    },
    {
        "listenerId": "lsn-web",
        "listenerName": "web",
        "protocol": "TCP",
        "listenerPort": "80,443",
        "privateIpAddress": "10.0.0.2",
        "weight": 50,
        "healthStatus": "Alive",
        "healthStatusDetail": [
            {"port": 80, "healthStatus": "Alive"},
            {"port": 443, "healthStatus": "Alive"},
        ],
    },
    {
        "listenerId": "lsn-dns",
        "listenerName": "dns",
        "protocol": "UDP",
        "listenerPort": "53",
        "instanceId": "vm-b",
        "privateIpAddress": "10.0.0.3",
        "backendPort": 5353,
        "weight": 10,
        "healthStatus": "Close",
        "newField": "ignored",
    },
]


def args_for(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["check", *argv])


def env_for(stub: Any, **extra: str) -> dict[str, str]:
    env = {
        "ZENLAYER_API_ENDPOINT": stub.endpoint,
        "ZENLAYER_ACCESS_KEY_ID": stub.key_id,
        "ZENLAYER_ACCESS_KEY_PASSWORD": stub.password,
    }
    env.update(extra)
    return env


def run(args: argparse.Namespace, env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_check(args, env=env, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_table_output(stub: Any) -> None:
    stub.push(stub.ok({"backends": BACKENDS}, request_id="req-table"))
    code, out, err = run(args_for("--load-balancer-id", "lb-1"), env_for(stub))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == [
        "LISTENER", "PROTOCOL", "LISTENER", "PORT", "TARGET", "BACKEND", "PORT", "WEIGHT",
        "STATUS", "DETAIL",
    ]  # fmt: skip
    body = lines[1:-1]
    assert len(body) == 3
    # Columns are aligned: every row's STATUS column starts where the header's does.
    status_col = lines[0].index("STATUS")
    statuses = {row[status_col:].split()[0] for row in body}
    assert statuses == {"Alive", "Dead", "Close"}
    dead = next(row for row in body if "vm-a" in row)
    assert "web (lsn-web)" in dead
    assert "80:Alive 443:Dead" in dead
    ip_only = next(row for row in body if "10.0.0.2" in row)
    assert "80:Alive 443:Alive" in ip_only
    dns = next(row for row in body if "vm-b" in row)
    assert "5353" in dns
    assert "UDP" in dns
    assert lines[-1].startswith("3 backends: 1 Alive, 1 Close, 1 Dead")
    assert "requestId=req-table" in lines[-1]
    assert stub.seen[0].signature_ok is True
    assert stub.seen[0].payload == {"loadBalancerId": "lb-1"}


def test_json_output(stub: Any) -> None:
    stub.push(stub.ok({"backends": BACKENDS}, request_id="req-json"))
    code, out, err = run(
        args_for("--load-balancer-id", "lb-1", "--listener-id", "lsn-web", "--json"),
        env_for(stub),
    )
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["requestId"] == "req-json"
    assert stub.seen[0].payload == {"loadBalancerId": "lb-1", "listenerId": "lsn-web"}
    first = doc["backends"][0]
    assert first == {
        "listenerId": "lsn-web",
        "listenerName": "web",
        "protocol": "TCP",
        "listenerPort": "80,443",
        "instanceId": "vm-a",
        "privateIpAddress": "10.0.0.1",
        "backendPort": None,
        "weight": 100,
        "healthStatus": "Dead",
        "healthStatusDetail": [
            {"port": 80, "healthStatus": "Alive"},
            {"port": 443, "healthStatus": "Dead"},
        ],
    }
    assert doc["backends"][1]["instanceId"] is None
    assert doc["backends"][2]["healthStatusDetail"] == []


def test_empty_result(stub: Any) -> None:
    stub.push(stub.ok({"backends": []}))
    code, out, _ = run(args_for("--load-balancer-id", "lb-1"), env_for(stub))
    assert code == 0
    assert out.splitlines()[0] == "no backends"
    assert out.splitlines()[1].startswith("0 backends")


def test_bearer_token_from_env(stub: Any) -> None:
    stub.push(stub.ok({"backends": []}))
    env = {"ZENLAYER_API_ENDPOINT": stub.endpoint, "ZENLAYER_API_TOKEN": stub.token}
    code, _, err = run(args_for("--load-balancer-id", "lb-1"), env)
    assert (code, err) == (0, "")
    assert stub.seen[0].headers["authorization"] == f"Bearer {stub.token}"


def test_auth_failure_is_one_line_without_secrets(stub: Any) -> None:
    def deny(seen: Any) -> Any:
        return stub.Reply(
            401,
            {"requestId": "req-401", "code": "AUTH_FAILED",
             "message": f"bad signature in {seen.headers['authorization']}"},
        )  # fmt: skip

    stub.push(deny)
    code, out, err = run(args_for("--load-balancer-id", "lb-1"), env_for(stub))
    assert code == 1  # the API call failed
    assert out == ""
    assert err.endswith("\n")
    assert err.count("\n") == 1
    assert err.startswith("error: DescribeBackendHealth failed (auth): ")
    assert "http=401" in err
    assert "code=AUTH_FAILED" in err
    assert "requestId=req-401" in err
    signature = stub.seen[0].headers["authorization"].rpartition("Signature=")[2]
    assert stub.password not in err
    assert signature not in err
    assert "Traceback" not in err


def test_server_down_is_one_line(
    closed_port: int, stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(
        check, "ZenlayerClient", functools.partial(ZenlayerClient, sleep=sleeps.append)
    )
    env = env_for(stub, ZENLAYER_API_ENDPOINT=f"http://127.0.0.1:{closed_port}")
    code, _, err = run(args_for("--load-balancer-id", "lb-1"), env)
    assert code == 1  # the API call failed
    assert err.count("\n") == 1
    assert err.startswith("error: DescribeBackendHealth failed (transport): ")
    assert len(sleeps) == 3  # the client's default 4 attempts


def test_missing_credentials(stub: Any) -> None:
    code, out, err = run(
        args_for("--load-balancer-id", "lb-1"), {"ZENLAYER_API_ENDPOINT": stub.endpoint}
    )
    assert code == 2  # usage: nothing sent
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: credentials missing")
    assert stub.seen == []


@pytest.mark.parametrize(
    "endpoint",
    ["http://console.zenlayer.com", "ftp://x", "https://user:hunter2secret@console.zenlayer.com"],
)
def test_bad_endpoint(stub: Any, endpoint: str) -> None:
    code, _, err = run(
        args_for("--load-balancer-id", "lb-1"), env_for(stub, ZENLAYER_API_ENDPOINT=endpoint)
    )
    assert code == 2
    assert err.startswith("error: ZENLAYER_API_ENDPOINT")
    assert err.count("\n") == 1
    assert "hunter2secret" not in err


def test_bad_load_balancer_id(stub: Any) -> None:
    code, _, err = run(args_for("--load-balancer-id", "lb 1;rm"), env_for(stub))
    assert code == 2
    assert "--load-balancer-id" in err
    assert stub.seen == []


def test_control_characters_from_the_server_are_not_printed(stub: Any) -> None:
    evil = dict(BACKENDS[0], listenerName="web\x1b[2J", healthStatus="Alive\x07")
    stub.push(stub.ok({"backends": [evil]}))
    code, out, _ = run(args_for("--load-balancer-id", "lb-1"), env_for(stub))
    assert code == 0
    (row,) = out.splitlines()[1:-1]
    assert "web?[2J (lsn-web)" in row  # printed, each control character as "?"
    assert "Alive?" in row
    assert "\x1b" not in out
    assert "\x07" not in out
