"""`zlb-health silence add | list | expire` against the stack's table on moto's server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import boto3
import pytest

from zlb_health_tools import cli
from zlb_health_tools.silence import run_silence
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def silence(stack: LocalStack, *argv: str, now: datetime = NOW) -> tuple[int, str, str]:
    args = cli.build_parser().parse_args(["silence", *argv])
    out, err = io.StringIO(), io.StringIO()
    env = {**os.environ, "TABLE_NAME": stack.table_name}
    code = run_silence(args, env=env, out=out, err=err, now=now)
    return code, out.getvalue(), err.getvalue()


def silence_items(stack: LocalStack) -> list[dict]:
    items = boto3.client("dynamodb").scan(TableName=stack.table_name)["Items"]
    return [i for i in items if i["PK"]["S"] == "SILENCE"]


def test_add_list_expire(stack: LocalStack) -> None:
    code, out, err = silence(
        stack, "add", "--load-balancer-id", "lb-web", "--for", "2h", "--comment", "kernel upgrade"
    )
    assert (code, err) == (0, "")
    first = out.strip()
    assert first.startswith("sil-")
    code, out, _ = silence(
        stack,
        *("add", "--load-balancer-id", "*", "--cron", "0 2 * * 2#2", "--duration", "3h"),
        *("--timezone", "Europe/Berlin", "--comment", "patch Tuesday", "--author", "ana"),
        "--json",
    )
    assert code == 0
    recurring = json.loads(out)
    assert (recurring["cron"], recurring["duration_minutes"], recurring["author"]) == (
        "0 2 * * 2#2", 180, "ana"
    )  # fmt: skip
    assert recurring["ends"] is None  # recurs for ever

    code, out, _ = silence(stack, "list", "--json")
    listed = {s["id"]: s for s in json.loads(out)}
    assert code == 0
    assert listed[first]["state"] == "active"
    assert listed[first]["author"] == "moto"  # moto's caller identity: user/moto
    assert listed[first]["ends"] == "2026-11-23T14:00:00+00:00"
    assert listed[recurring["id"]]["state"] == "between windows"  # Monday noon in Berlin
    code, text, _ = silence(stack, "list")
    assert f"{first}  active" in text
    assert "'kernel upgrade' by moto" in text
    assert "cron '0 2 * * 2#2' for 180 min (Europe/Berlin)" in text

    later = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
    assert silence(stack, "expire", first, now=later) == (
        0, f"{first} expired at 2026-11-23T12:30:00.000Z\n", ""
    )  # fmt: skip
    # Expiring again does not move the end.
    code, out, _ = silence(
        stack, "expire", first, "--json", now=datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    )
    assert (code, json.loads(out)) == (0, {"id": first, "expiredAt": "2026-11-23T12:30:00.000Z"})
    code, out, _ = silence(stack, "list", "--json", now=later)
    assert [s["id"] for s in json.loads(out)] == [recurring["id"]]
    code, out, _ = silence(stack, "list", "--all", "--json", now=later)
    assert {s["id"]: s["state"] for s in json.loads(out)} == {
        first: "expired",
        recurring["id"]: "between windows",
    }


def test_expire_names_an_unknown_silence(stack: LocalStack) -> None:
    code, out, err = silence(stack, "expire", "sil-nope")
    assert (code, out) == (1, "")
    assert err == "error: no silence 'sil-nope' (silence list --all shows them)\n"


def test_settings_that_are_missing_or_wrong_exit_2_and_write_nothing(stack: LocalStack) -> None:
    args = cli.build_parser().parse_args(["silence", "list"])
    err = io.StringIO()
    env = {k: v for k, v in os.environ.items() if k != "TABLE_NAME"}
    assert run_silence(args, env=env, out=io.StringIO(), err=err) == 2
    assert "TABLE_NAME" in err.getvalue()
    code, _, err_text = silence(
        stack, "add", "--load-balancer-id", "*", "--until-healthy", "--comment", "x"
    )
    assert code == 2
    assert "--until-healthy: name the load balancer" in err_text
    code, _, err_text = silence(
        stack, "add", "--load-balancer-id", "lb", "--for", "1h", "--until", "2026-11-24T00:00Z",
        "--comment", "x",
    )  # fmt: skip
    assert code == 2
    assert "--until or --for, not both" in err_text
    code, _, err_text = silence(
        stack, "add", "--load-balancer-id", "lb", "--for", "ninety minutes", "--comment", "x"
    )
    assert code == 2
    assert "--for: expected 90m, 2h, 3d or 1w" in err_text
    code, _, err_text = silence(
        stack, "add", "--load-balancer-id", "lb", "--until", "2026-11-24 00:00", "--comment", "x"
    )
    assert code == 2
    assert "--until: give a time zone" in err_text
    assert silence_items(stack) == []


def test_the_installed_command_refuses_bad_input_with_one_line_and_exit_2(
    stack: LocalStack,
) -> None:
    env = {**os.environ, "TABLE_NAME": stack.table_name}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "zlb_health_tools.cli",
            "silence",
            "add",
            "--load-balancer-id",
            "lb-1",
            "--for",
            "40d",
            "--comment",
            "too long",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "longer than 30 days" in result.stderr
    assert "Traceback" not in result.stderr
    assert silence_items(stack) == []


def test_stack_name_of_no_such_stack_is_a_one_line_failure(stack: LocalStack) -> None:
    args = cli.build_parser().parse_args(["silence", "list", "--stack-name", "no-such-stack"])
    err = io.StringIO()
    env = {k: v for k, v in os.environ.items() if k != "TABLE_NAME"}
    assert run_silence(args, env=env, out=io.StringIO(), err=err) == 1
    assert err.getvalue().startswith("error: looking up stack no-such-stack in ")
    assert err.getvalue().count("\n") == 1
