"""`make run` on its first run: a light venv of its own, visible progress, the demo's story
and nothing else (no EMF metric lines), then a second run that installs nothing.

The venv goes to a temporary folder (RUN_VENV=...), so this is a first run every time.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# Development tools that make run's venv has no use for.
DEV_ONLY = ("pytest", "mypy", "ruff", "hypothesis", "bandit", "zenlayercloud")


def make_env(tmp: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "PYENV_ROOT", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith(("PIP_", "UV_"))}
    env["AWS_CONFIG_FILE"] = str(tmp / "no-aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp / "no-aws-credentials")
    return env  # no ZENLAYER_* credentials: the demo uses the emulator


def _is_metric_blob(line: str) -> bool:
    try:
        document = json.loads(line)
    except ValueError:
        return False
    # EMF blobs and health lines are CloudWatch's to read, not the person's at the terminal.
    return isinstance(document, dict) and ("_aws" in document or "record" in document)


def test_first_make_run(tmp_path: Path) -> None:
    venv = tmp_path / "venv-run"
    run = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "run", f"RUN_VENV={venv}"],
        env=make_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    steps = [line for line in lines if line.startswith("make run: [")]
    assert [step[:15] for step in steps] == [
        "make run: [1/3]",
        "make run: [2/3]",
        "make run: [3/3]",
    ]
    assert any(line.strip().startswith("Installed ") for line in lines), run.stdout[:2000]
    demo = lines[lines.index("make run: zlb-health demo") + 1 :]
    assert any("lb-web" in line for line in demo)  # the emulator's demo fleet, polled
    assert [line for line in lines if _is_metric_blob(line)] == []
    assert "Traceback" not in run.stdout + run.stderr

    site = next((venv / "lib").glob("python3*/site-packages"))
    installed = {path.name.lower() for path in site.iterdir()}
    assert "moto" in installed
    assert [name for name in DEV_ONLY if any(i.startswith(name) for i in installed)] == []

    again = subprocess.run(
        ["make", "--no-print-directory", "-n", "-C", str(REPO), "run", f"RUN_VENV={venv}"],
        env=make_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "-m venv" not in again.stdout  # the second run goes straight to the demo
    assert f"{venv}/bin/zlb-health demo" in again.stdout
