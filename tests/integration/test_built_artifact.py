"""The `sam build` artifact itself, run under Python 3.13 with nothing but boto3 beside it.

`make test` builds the artifact (`make build`) and the interpreter (`make lambda-venv`:
.venv-lambda313, python3.13 with boto3 only, standing in for the Lambda python3.13 runtime)
before pytest. On a machine with no python3.13 (the Makefile's detection, src/python313.mk,
finds none) the tests that need it are skipped, saying so; everywhere else they fail, never
skip, when the artifact or the interpreter is missing. Each scheduled tick is one fresh
process (a cold start) of artifact_driver.py, isolated from this repository: `-s -P -B`,
PYTHONPATH and LAMBDA_TASK_ROOT = the artifact, a temporary working directory and a fresh
environment holding only what the template gives the function, what the Lambda runtime sets,
and the local AWS endpoint and placeholder credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.conftest import Inbox

from zlb_health.zenlayer.credentials import AccessKey
from zlb_health_tools.emulator.scenario import Scenario
from zlb_health_tools.emulator.server import Emulator
from zlb_health_tools.localaws import REGION, LocalAws
from zlb_health_tools.stack import LocalStack
from zlb_health_tools.template import (
    function_environment,
    function_handler,
    function_properties,
    function_resource,
    load_template,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(REPO / "template.yaml")
FUNCTION_ID = function_resource(TEMPLATE)[0]
ARTIFACT = REPO / ".aws-sam" / "build" / FUNCTION_ID
LAMBDA_VENV = REPO / ".venv-lambda313"
LAMBDA_PYTHON = LAMBDA_VENV / "bin" / "python"
DRIVER = Path(__file__).with_name("artifact_driver.py")
KEY = AccessKey("artifact-key", "artifact-key-password-456")
EVENT = json.loads((REPO / "events" / "scheduled.json").read_text(encoding="utf-8"))
# What pip installs for boto3 in .venv-lambda313 (and the Lambda runtime provides likewise).
BOTO3_AND_ITS_DEPENDENCIES = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
    "pip",
}


def python313() -> str:
    """The python3.13 the Makefile builds with (its own detection), or "" when there is none."""
    found = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(REPO), "print-python313"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return found.stdout.strip()


NO_PYTHON_313 = (
    "NO PYTHON 3.13 on this machine (not on PATH, none in pyenv): the bundle was built without "
    "its bytecode and is not run under Python 3.13; install Python 3.13 to run this test"
)
needs_python313 = pytest.mark.skipif(not python313(), reason=NO_PYTHON_313)


def tick_event(minute: int) -> dict[str, Any]:
    return {
        **EVENT,
        "scheduledTime": f"2026-11-23T13:{minute:02d}:00Z",
        "executionId": f"artifact-exec-{minute}",
    }


def scenario() -> Scenario:
    """lb-1 with three backends; vm-1 turns Dead at step 1 and stays Dead."""
    backends = [
        {"instanceId": f"vm-{i}", "privateIpAddress": f"10.2.0.{i}", "backendPort": 80}
        for i in range(1, 4)
    ]
    return Scenario.from_dict(
        {
            "steps": 6,
            "loadBalancers": [
                {
                    "loadBalancerId": "lb-1",
                    "loadBalancerName": "fleet-1",
                    "listeners": [
                        {
                            "listenerId": "lsn-1",
                            "listenerName": "tcp",
                            "protocol": "TCP",
                            "listenerPort": "80",
                            "healthCheck": {"enabled": True},
                            "backends": backends,
                        }
                    ],
                }
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
        }
    )


def _source_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def artifact() -> Path:
    """The built function folder; fails (never skips) when it is missing or stale."""
    if not (ARTIFACT / "zlb_health" / "handler.py").is_file():
        pytest.fail(f"no sam build artifact at {ARTIFACT}: run `make build` first")
    built = _source_files(ARTIFACT / "zlb_health")
    source = _source_files(REPO / "src" / "zlb_health")
    if built != source:
        changed = sorted(
            name for name in built.keys() | source.keys() if built.get(name) != source.get(name)
        )
        pytest.fail(f"the artifact differs from src/ (e.g. {changed[:5]}): run `make build` again")
    return ARTIFACT


@pytest.fixture(scope="module")
def lambda_python() -> Path:
    if not LAMBDA_PYTHON.is_file():
        pytest.fail(
            f"no Python 3.13 Lambda stand-in at {LAMBDA_VENV}: run `make lambda-venv` "
            "(`make test` does it)"
        )
    return LAMBDA_PYTHON


@pytest.fixture
def secret_arn(local_aws: LocalAws) -> str:
    sm = boto3.client("secretsmanager", endpoint_url=local_aws.url, region_name=REGION)
    return sm.create_secret(
        Name=f"zlb-artifact-{os.urandom(4).hex()}",
        SecretString=json.dumps(
            {"accessKeyId": KEY.access_key_id, "accessKeyPassword": KEY.access_key_password}
        ),
    )["ARN"]


def template_function_env(overrides: dict[str, str]) -> dict[str, str]:
    """The template's Environment.Variables: parameters at their defaults, `overrides` for the
    resources (table, topic, secret) and the endpoint. Every variable must get a value."""
    parameters = TEMPLATE["Parameters"]
    env: dict[str, str] = {}
    for name, value in function_environment(TEMPLATE).items():
        if name in overrides:
            env[name] = overrides[name]
        elif isinstance(value, str):
            env[name] = value
        elif isinstance(value, dict) and value.get("Ref") in parameters:
            env[name] = str(parameters[value["Ref"]]["Default"])
        elif value == {"Ref": "AWS::StackName"}:
            env[name] = "zlb-health-artifact"
        else:
            raise AssertionError(f"no local value for the function's {name}: {value!r}")
    return env


def process_env(
    home: Path, local_aws: LocalAws, stack: LocalStack, emulator: Emulator, secret: str
) -> dict[str, str]:
    props = function_properties(TEMPLATE)
    function = template_function_env(
        {
            **stack.function_env(),
            "ZENLAYER_API_ENDPOINT": emulator.url,
            "ZENLAYER_CREDENTIALS_SECRET_ARN": secret,
            "FAILURE_THRESHOLD": "2",
        }
    )
    return {
        # Nothing inherited from this process: no PYTHON*, no ~/.aws, no repository paths.
        "PATH": f"{LAMBDA_PYTHON.parent}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": str(ARTIFACT),
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        # What the Lambda runtime sets.
        "LAMBDA_TASK_ROOT": str(ARTIFACT),
        "_HANDLER": function_handler(TEMPLATE),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": "zlb-health-artifact",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props["MemorySize"]),
        "FUNCTION_TIMEOUT_SECONDS": str(props["Timeout"]),
        **local_aws.env(),
        **function,
    }


def invoke(env: dict[str, str], cwd: Path, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
    # -s: no user site; -P: the driver's folder (the repository) is not put on sys.path;
    # -B: no __pycache__ written into the artifact (it would be deployed with it).
    process = subprocess.run(
        [str(LAMBDA_PYTHON), "-s", "-P", "-B", str(DRIVER), json.dumps(event)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output
    (line,) = [x for x in process.stdout.splitlines() if x.startswith("RESULT ")]
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result, output


def test_artifact_holds_the_function_and_its_dependencies_but_not_boto3(artifact: Path) -> None:
    top_level = {path.name for path in artifact.iterdir()}
    assert {"zlb_health", "aws_lambda_powertools", "urllib3"} <= top_level
    # The runtime provides boto3/botocore; a bundled copy would shadow it and bloat cold starts.
    assert not top_level & {"boto3", "botocore", "s3transfer"}
    assert not [p for p in top_level if p.startswith(("boto3-", "botocore-", "aws_xray_sdk"))]
    # Pure Python only: built on any host, it runs on the template's arm64 unchanged.
    assert list(artifact.rglob("*.so")) == []


@needs_python313
def test_the_artifact_ships_bytecode_for_python_313(artifact: Path) -> None:
    """Lambda's code folder is read-only: without .pyc every cold start compiles everything."""
    sources = [p for p in artifact.rglob("*.py") if "__pycache__" not in p.parts]
    missing = [
        p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.cpython-313.pyc").is_file()
    ]
    assert sources
    assert missing == [], (
        f"{len(missing)} modules without bytecode (built without python3.13?): run `make build`"
    )


@needs_python313
def test_built_artifact_runs_on_python_313_and_notifies_a_scripted_failure(  # noqa: PLR0917
    artifact: Path,
    lambda_python: Path,
    local_aws: LocalAws,
    stack: LocalStack,
    secret_arn: str,
    inbox: Inbox,
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "task"
    workdir.mkdir()
    pycs_before = sorted(artifact.rglob("*.pyc"))
    results, outputs, delivered = [], [], []
    with Emulator(scenario(), credentials=[KEY], log_requests=False) as emulator:
        env = process_env(tmp_path, local_aws, stack, emulator, secret_arn)
        for minute in range(4):  # emulator steps 0..3: vm-1 Dead from step 1
            result, output = invoke(env, workdir, tick_event(minute))
            results.append(result)
            outputs.append(output)
            delivered.append(inbox.messages())
            emulator.advance()

    first = results[0]
    assert first["version"][:2] == [3, 13], first["version"]
    assert Path(first["prefix"]).resolve() == LAMBDA_VENV.resolve()
    for name in ("zlb_health", "zlb_health.handler", "aws_lambda_powertools", "urllib3"):
        assert Path(first["modules"][name]).resolve().is_relative_to(artifact.resolve()), name
    for name in ("boto3", "botocore"):
        assert Path(first["modules"][name]).resolve().is_relative_to(LAMBDA_VENV.resolve()), name
    assert first["foreign_modules"] == []
    assert str(REPO / "src") not in first["sys_path"]
    assert str(REPO) not in first["sys_path"]
    site = {name for name, where in first["distributions"] if not where.startswith(str(artifact))}
    assert site <= BOTO3_AND_ITS_DEPENDENCIES, site  # no zlb-health editable install, no moto

    summaries = [r["summary"] for r in results]
    assert [s["checked"] for s in summaries] == [1, 1, 1, 1]
    assert [s["failed"] for s in summaries] == [[], [], [], []]
    assert [s["skipped"] for s in summaries] == [[], [], [], []]
    assert [s["messagesPublished"] for s in summaries] == [0, 0, 1, 0]
    assert [s["messagesFailed"] for s in summaries] == [0, 0, 0, 0]
    assert [s["notificationsPending"] for s in summaries] == [0, 0, 0, 0]
    assert [s["discoveryError"] for s in summaries] == [None] * 4

    # vm-1 is Dead from step 1: the 2nd Dead observation (FAILURE_THRESHOLD=2) alerts, once.
    assert [len(tick) for tick in delivered] == [0, 0, 1, 0]
    (message,) = delivered[2]
    assert message["attributes"] == {
        "event_type": "health_change",
        "severity": "warning",
        "load_balancer_id": "lb-1",
    }
    assert [
        (t["instanceId"], t["previousStatus"], t["currentStatus"])
        for t in message["body"]["transitions"]
    ] == [("vm-1", "Alive", "Dead")]

    # The watchdog's heartbeat (EMF) from every run; a health line while vm-1 is Dead.
    assert ['"RunsCompleted":[1.0]' in output for output in outputs] == [True] * 4
    health = '{"record":"lb_health","lb":"lb-1","ok":true,"backends":3,"alive":2,"dead":1,'
    assert [health in output for output in outputs] == [False, True, True, True]
    assert not any(KEY.access_key_password in output for output in outputs)
    # Running it added no bytecode to what would be deployed (the build precompiles it all).
    assert sorted(artifact.rglob("*.pyc")) == pycs_before
