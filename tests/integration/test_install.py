"""zlb-health installed from a wheel into a clean venv, away from the checkout: every
subcommand works, or says in one line which extra to install.

The wheel is built from a copy of the sources (no in-tree build folders); the venv gets the
wheel and its declared dependencies only (at the dev lock's versions), then its `local` extra.
Installed with uv when make has set it up (.venv-uv), else with pip: both install what the
wheel's metadata asks for.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zlb_health_tools.emulator import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_PASSWORD

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
UV = REPO / ".venv-uv" / "bin" / "uv"
COMMANDS = ("check", "emulator", "demo", "history", "status", "test-alert")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*==[^ \\]+(?: ; [^\\]+?)?)\s*\\?$")
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def run(*argv: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    options: dict[str, object] = {"capture_output": True, "text": True, "timeout": 600}
    options.update(kwargs)
    return subprocess.run([str(a) for a in argv], check=False, **options)  # type: ignore[call-overload,no-any-return]


def install(venv: Path, *requirements: str, constraints: Path) -> None:
    if UV.is_file():
        argv: list[str | Path] = [UV, "pip", "install", "--python", venv / "bin" / "python"]
        env = {**os.environ, "UV_SYSTEM_CERTS": "1"}
    else:
        argv, env = [venv / "bin" / "python", "-m", "pip", "install", "-q"], dict(os.environ)
    result = run(*argv, "-c", constraints, *requirements, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def new_venv(path: Path) -> Path:
    created = run(sys.executable, "-m", "venv", path)
    assert created.returncode == 0, created.stderr
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, constraints): the built wheel, and the dev lock's versions as constraints."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for name in ("src", "tools"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    built = run(
        sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", tmp / "dist", source,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (built_wheel,) = (tmp / "dist").glob("zlb_health-*.whl")
    constraints = tmp / "constraints.txt"
    lock = (REPO / "requirements" / "dev.txt").read_text(encoding="utf-8").splitlines()
    constraints.write_text(
        "\n".join(m.group(1) for line in lock if (m := _PIN.match(line))) + "\n",
        encoding="utf-8",
    )
    return built_wheel, constraints


@pytest.fixture(scope="module")
def installed(
    wheel: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, Path]:
    """(venv, wheel, constraints): a venv holding the wheel without extras."""
    venv = new_venv(tmp_path_factory.mktemp("plain") / "venv")
    install(venv, str(wheel[0]), constraints=wheel[1])
    return venv, *wheel


def zlb(venv: Path, *argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(venv / "bin" / "zlb-health", *argv, env=env, cwd=cwd, timeout=120)


def test_the_plain_install_has_no_local_extra(installed: tuple[Path, Path, Path]) -> None:
    venv, _, _ = installed
    code = "import importlib.util as u; print([m for m in {!r} if u.find_spec(m)])"
    probe = run(venv / "bin" / "python", "-c", code.format(("moto", "yaml", "werkzeug")))
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr


def test_version_and_every_help(installed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    venv, wheel, _ = installed
    version = zlb(venv, "--version", env=clean_env(tmp_path), cwd=tmp_path)
    assert version.returncode == 0
    assert version.stdout.strip() == f"zlb-health {wheel.name.split('-')[1]}"
    for command in COMMANDS:
        result = zlb(venv, command, "--help", env=clean_env(tmp_path), cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr)
        assert f"usage: zlb-health {command}" in result.stdout


def test_demo_without_the_extra_names_it_in_one_line(
    installed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    venv, _, _ = installed
    result = zlb(venv, "demo", env=clean_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert re.fullmatch(
        r"error: demo needs the 'local' extra \(missing: [a-z, ]+\): "
        r"pip install 'zlb-health\[local\]'\n",
        result.stderr,
    ), result.stderr


def test_history_without_its_table_is_a_usage_error(
    installed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    venv, _, _ = installed
    env = clean_env(tmp_path, AWS_REGION="us-east-1")
    result = zlb(venv, "history", "--load-balancer-id", "lb-1", env=env, cwd=tmp_path)
    assert (result.returncode, result.stderr.count("\n")) == (2, 1), result.stderr
    assert "TABLE_NAME" in result.stderr


def test_emulator_and_check_work_without_the_extra(
    installed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    venv, _, _ = installed
    emulator = subprocess.Popen(
        [str(venv / "bin" / "zlb-health"), "emulator", "--port", "0", "--step-seconds", "0"],
        env=clean_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        first = emulator.stdout.readline()
        found = _LISTENING.search(first)
        assert found, first
        env = clean_env(
            tmp_path,
            ZENLAYER_API_ENDPOINT=found.group(1),
            ZENLAYER_ACCESS_KEY_ID=DEMO_ACCESS_KEY_ID,
            ZENLAYER_ACCESS_KEY_PASSWORD=DEMO_ACCESS_KEY_PASSWORD,
        )
        result = zlb(venv, "check", "--load-balancer-id", "lb-web", "--json", env=env, cwd=tmp_path)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    assert {b["instanceId"] for b in json.loads(result.stdout)["backends"]} >= {"vm-web-1"}


def test_demo_with_the_local_extra_from_any_folder(
    wheel: tuple[Path, Path], tmp_path: Path
) -> None:
    built, constraints = wheel
    venv = new_venv(tmp_path / "venv")
    install(venv, f"zlb-health[local] @ {built.as_uri()}", constraints=constraints)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lost = zlb(venv, "demo", env=clean_env(tmp_path), cwd=elsewhere)
    assert lost.returncode == 2
    assert lost.stderr.startswith("error: no template.yaml in ")
    assert lost.stderr.count("\n") == 1
    template = str(REPO / "template.yaml")
    demo = zlb(
        venv,
        "demo",
        "--cycles",
        "2",
        "--template",
        template,
        env=clean_env(tmp_path),
        cwd=elsewhere,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "lb-web" in demo.stdout  # the emulator's demo fleet, polled
    assert '"_aws"' not in demo.stdout
    assert "Traceback" not in demo.stdout + demo.stderr
