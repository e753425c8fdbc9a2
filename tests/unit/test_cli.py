"""The command line's conventions, read from its parser and its modules: every subcommand and
option explains itself, and each subcommand's help names every environment variable its
module reads (derived from the code, so a new variable without help fails here)."""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from zlb_health_tools import cli
from zlb_health_tools.demo import scheduled_event, without_metric_lines
from zlb_health_tools.template import (
    TemplateError,
    find_template,
    load_template,
    schedule_input,
)

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools" / "zlb_health_tools"
# The module each subcommand runs (what its environment variables are read by).
MODULES = {
    # check reads its credentials the way the function does locally (one shared helper).
    "check": [
        TOOLS / "check.py",
        TOOLS.parents[1] / "src" / "zlb_health" / "adapters" / "secrets.py",
    ],
    "emulator": [TOOLS / "emulator" / "server.py"],
    "demo": [TOOLS / "demo.py"],
    "history": [
        TOOLS / "history.py",
        TOOLS / "awsenv.py",
        TOOLS / "tableref.py",
        TOOLS / "timeline.py",
    ],
    "status": [TOOLS / "status.py", TOOLS / "awsenv.py", TOOLS / "tableref.py", TOOLS / "fleet.py"],
    "test-alert": [TOOLS / "testalert.py", TOOLS / "awsenv.py"],
    "silence": [TOOLS / "silence.py", TOOLS / "awsenv.py", TOOLS / "tableref.py"],
}
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")
_ENV_READERS = frozenset({"get", "setdefault", "getenv", "pop"})


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def silence_actions() -> dict[str, argparse.ArgumentParser]:
    parser = subparsers()["silence"]
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def env_vars_read(path: Path) -> set[str]:
    """Names in `x.get("NAME")`, `x.setdefault("NAME", ...)`, `x["NAME"]` calls of a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        key: ast.expr | None = None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _ENV_READERS
            and node.args
        ):
            key = node.args[0]
        elif isinstance(node, ast.Subscript):
            key = node.slice
        if (
            isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and _ENV_NAME.match(key.value)
        ):
            found.add(key.value)
    return found


def test_every_subcommand_has_a_module_here() -> None:
    assert set(subparsers()) == set(MODULES)


@pytest.mark.parametrize("command", sorted(MODULES))
def test_subcommand_describes_itself_and_its_options(command: str) -> None:
    parser = subparsers()[command]
    assert len(parser.description or "") > 40
    assert "environment:" in (parser.epilog or "")
    assert "exit codes:" in (parser.epilog or "")
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help not in {None, "", argparse.SUPPRESS}, action.option_strings


@pytest.mark.parametrize("command", sorted(MODULES))
def test_help_names_every_environment_variable_the_command_reads(command: str) -> None:
    read = set().union(*(env_vars_read(path) for path in MODULES[command]))
    assert read, f"no environment variable found in {command}'s module: is the scan broken?"
    help_text = subparsers()[command].format_help()
    assert sorted(name for name in read if name not in help_text) == []


def test_the_scan_sees_environment_reads() -> None:
    assert env_vars_read(TOOLS / "awsenv.py") >= {"AWS_REGION", "AWS_DEFAULT_REGION"}
    assert env_vars_read(TOOLS / "tableref.py") == {"TABLE_NAME"}
    assert env_vars_read(TOOLS / "status.py") >= {"FAILURE_THRESHOLD", "RECOVERY_THRESHOLD"}
    assert env_vars_read(TOOLS / "testalert.py") >= {"TOPIC_ARN", "STACK_NAME"}
    assert "ZENLAYER_API_ENDPOINT" in env_vars_read(TOOLS / "check.py")
    assert "ZENLAYER_API_TOKEN" in env_vars_read(MODULES["check"][1])


def test_json_on_every_command_that_prints_records() -> None:
    """check, status, history and silence add/list print data; emulator (a server log), demo
    (a story) and test-alert (what it sent) do not."""
    for command, parser in subparsers().items():
        options = {s for a in parser._actions for s in a.option_strings}
        assert ("--json" in options) == (command in {"check", "history", "status"}), command
    for action in ("add", "list"):  # silence's own subcommands print records
        options = {s for a in silence_actions()[action]._actions for s in a.option_strings}
        assert "--json" in options, action


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"zlb-health \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nope"],
        ["check"],
        ["check", "--load-balancer-id"],
        ["history", "--bogus"],
        ["status", "--table-name", "t", "--stack-name", "s"],  # one or the other
        ["history", "--load-balancer-id", "lb", "--table-name", "t", "--stack-name", "s"],
        ["test-alert", "--severity", "loud"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == cli.EXIT_USAGE
    assert "Traceback" not in capsys.readouterr().err


def test_demo_without_the_local_extra_says_which_extra_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "missing_modules", lambda modules: ["moto", "yaml"])
    assert cli.main(["demo"]) == cli.EXIT_FAILURE
    err = capsys.readouterr().err
    assert err == (
        "error: demo needs the 'local' extra (missing: moto, yaml): "
        "pip install 'zlb-health[local]'\n"
    )


def test_missing_modules_finds_what_is_not_importable() -> None:
    assert cli.missing_modules(["json", "no_such_module_zlb"]) == ["no_such_module_zlb"]


# -- the template and the demo's event, without a source checkout's layout


def test_find_template_walks_up_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text("Resources: {}\n", encoding="utf-8")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_template(deep) == tmp_path / "template.yaml"


def test_a_missing_template_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        find_template(tmp_path)
    assert "--template" in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(TemplateError, match="cannot read"):
        load_template(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("Resources: [\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="not valid YAML") as caught:
        load_template(tmp_path / "bad.yaml")
    assert "\n" not in str(caught.value)


def test_the_demo_event_is_events_scheduled_json_for_its_tick() -> None:
    """Built from the template's schedule, so an installed zlb-health needs no events/ folder;
    the sample event in events/ is the same document for another tick."""
    sample = json.loads((REPO / "events" / "scheduled.json").read_text(encoding="utf-8"))
    schedule = schedule_input(load_template(REPO / "template.yaml"))
    tick = datetime(2025, 11, 23, 19, 30, tzinfo=UTC)
    event = scheduled_event(schedule, tick)
    assert event == {**sample, "executionId": event["executionId"]}
    assert event["executionId"] != scheduled_event(schedule, tick)["executionId"]


def test_the_demo_passes_on_output_but_not_lines_for_cloudwatch() -> None:
    emf = {"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "RunsCompleted": [1.0]}
    health = {"record": "lb_health", "lb": "lb-1", "ok": True, "dead": 1}

    def handler(value: int) -> int:
        print(json.dumps(emf))
        print(json.dumps(health, separators=(",", ":")))
        print("a line the handler printed")
        print('{"level": "ERROR", "message": "a JSON log line"}')
        return value * 2

    out = io.StringIO()
    assert without_metric_lines(out, handler, 21) == 42
    assert out.getvalue() == (
        'a line the handler printed\n{"level": "ERROR", "message": "a JSON log line"}\n'
    )
