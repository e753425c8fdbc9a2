"""`zlb-health` as a user runs it: exit 0 success, 1 runtime failure, 2 usage error, the same
for every subcommand, and an expected failure is one line on stderr, never a traceback.

Each case is a real process with an environment built from nothing (no ~/.aws, no instance
metadata), so what it prints is what a fresh shell shows.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import LocalStack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("check", "emulator", "demo", "history", "status", "test-alert")


def base_env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def zlb(
    *argv: str, env: Mapping[str, str], cwd: Path = REPO, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zlb_health_tools.cli", *argv],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The process exited `code` with exactly one `error: ...` line naming `words`."""
    err = result.stderr
    assert "Traceback" not in err + result.stdout, err
    assert result.returncode == code, (result.returncode, err)
    assert err.startswith("error: "), err
    assert err.endswith("\n"), err
    assert err.count("\n") == 1, err
    for word in words:
        assert word in err, (word, err)
    return err


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_exits_0(command: str, tmp_path: Path) -> None:
    result = zlb(command, "--help", env=base_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "exit codes:" in result.stdout
    assert "environment:" in result.stdout


def test_version_exits_0(tmp_path: Path) -> None:
    result = zlb("--version", env=base_env(tmp_path))
    assert result.returncode == 0
    assert result.stdout.startswith("zlb-health ")


def test_argparse_usage_error_exits_2(tmp_path: Path) -> None:
    result = zlb("history", env=base_env(tmp_path))  # --load-balancer-id missing
    assert result.returncode == 2
    assert "--load-balancer-id" in result.stderr
    assert "Traceback" not in result.stderr


# -- history


def test_history_with_only_aws_region_set(tmp_path: Path) -> None:
    result = zlb(
        "history", "--load-balancer-id", "lb-1", env=base_env(tmp_path, AWS_REGION="us-east-1")
    )
    one_line_error(result, 2, "TABLE_NAME")


def test_history_without_a_region(tmp_path: Path) -> None:
    result = zlb("history", "--load-balancer-id", "lb-1", env=base_env(tmp_path, TABLE_NAME="t"))
    one_line_error(result, 2, "AWS_REGION")


def test_history_without_credentials(tmp_path: Path) -> None:
    env = base_env(tmp_path, TABLE_NAME="t", AWS_REGION="us-east-1")
    one_line_error(zlb("history", "--load-balancer-id", "lb-1", env=env), 2, "credentials")


@pytest.mark.parametrize("region", [{}, {"AWS_REGION": "us-east-1"}])
def test_history_with_an_unknown_profile(tmp_path: Path, region: dict[str, str]) -> None:
    env = base_env(tmp_path, TABLE_NAME="t", AWS_PROFILE="no-such-profile", **region)
    one_line_error(zlb("history", "--load-balancer-id", "lb-1", env=env), 2, "no-such-profile")


def test_history_when_aws_is_unreachable(tmp_path: Path, closed_port: int) -> None:
    env = base_env(
        tmp_path,
        TABLE_NAME="t",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port}",
        AWS_MAX_ATTEMPTS="1",
    )
    one_line_error(zlb("history", "--load-balancer-id", "lb-1", env=env), 1, "reading t")


def test_history_of_a_table_that_does_not_exist(tmp_path: Path, local_aws: LocalAws) -> None:
    env = base_env(tmp_path, TABLE_NAME="no-such-table", AWS_REGION="us-east-1", **local_aws.env())
    result = zlb("history", "--load-balancer-id", "lb-1", env=env)
    one_line_error(result, 1, "ResourceNotFoundException")


def test_history_reads_an_empty_table_with_table_name_option(
    tmp_path: Path, local_aws: LocalAws, stack: LocalStack
) -> None:
    env = base_env(tmp_path, AWS_REGION="us-east-1", **local_aws.env())
    result = zlb(
        "history", "--load-balancer-id", "lb-1", "--table-name", stack.table_name, "--json",
        env=env,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["snapshots"] == 0


# -- check


def test_check_without_credentials(tmp_path: Path) -> None:
    result = zlb("check", "--load-balancer-id", "lb-1", env=base_env(tmp_path))
    one_line_error(result, 2, "credentials missing")


def test_check_when_the_api_is_unreachable(tmp_path: Path, closed_port: int) -> None:
    env = base_env(
        tmp_path,
        ZENLAYER_API_ENDPOINT=f"http://127.0.0.1:{closed_port}",
        ZENLAYER_API_TOKEN="demo-token",
    )
    one_line_error(zlb("check", "--load-balancer-id", "lb-1", env=env), 1, "transport")


# -- emulator


def test_emulator_with_a_bad_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.json"
    scenario.write_text('{"loadBalancers": []}', encoding="utf-8")
    result = zlb("emulator", "--scenario", str(scenario), "--port", "0", env=base_env(tmp_path))
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1


def test_emulator_on_a_port_in_use(tmp_path: Path, busy_port: int) -> None:
    result = zlb("emulator", "--port", str(busy_port), env=base_env(tmp_path), timeout=30)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


# -- demo


def test_demo_outside_a_checkout(tmp_path: Path) -> None:
    result = zlb("demo", env=base_env(tmp_path), cwd=tmp_path)
    one_line_error(result, 2, "template.yaml", "--template")


def test_demo_with_a_template_that_is_not_there(tmp_path: Path) -> None:
    result = zlb("demo", "--template", str(tmp_path / "nope.yaml"), env=base_env(tmp_path))
    one_line_error(result, 2, "nope.yaml")


def test_demo_with_an_invalid_setting(tmp_path: Path) -> None:
    result = zlb("demo", env=base_env(tmp_path, FAILURE_THRESHOLD="often"))
    one_line_error(result, 2, "FAILURE_THRESHOLD")
