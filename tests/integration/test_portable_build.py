"""The build on a machine with or without python3.13 (src/python313.mk, src/Makefile, Makefile).

The detection is exercised with stand-in interpreters: shell scripts that answer like a
python3.13 that works, or like a pyenv shim whose version is not selected (exit 127). The
fallback build is the real src/Makefile recipe with no python3.13 at all, as `sam build` runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# What make, the detection and the build recipe call; linked alone into a folder so that no
# python3.13 of this machine's own PATH is seen.
TOOLS = ("sh", "bash", "make", "ls", "sort", "cp", "rm", "find", "mkdir", "uname")
SHIM_NOT_SELECTED = 'echo "pyenv: python3.13: command not found" >&2; exit 127'


def fake_python(path: Path, *, works: bool) -> Path:
    """An executable answering the detection's probe: prints its own path, or fails like a
    pyenv shim for a version that is not selected."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = (
        f'echo "{path}"' if works else 'echo "pyenv: python3.13: command not found" >&2; exit 127'
    )
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def outer_make_removed() -> dict[str, str]:
    """This environment without what a make running pytest passes on (its command line's
    variables would override the ones a test sets)."""
    return {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}


def system_path(tmp: Path) -> str:
    folder = tmp / "system-bin"
    if not folder.is_dir():
        folder.mkdir()
        for tool in TOOLS:
            found = shutil.which(tool)
            if found:
                (folder / tool).symlink_to(found)
    return str(folder)


def detect(tmp: Path, *, path: str, pyenv_root: Path) -> str:
    env = {"PATH": path, "HOME": str(tmp), "PYENV_ROOT": str(pyenv_root)}
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(REPO), "print-python313"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_no_python313_anywhere(tmp_path: Path) -> None:
    assert detect(tmp_path, path=system_path(tmp_path), pyenv_root=tmp_path / "no-pyenv") == ""


def test_a_python313_on_path_comes_first(tmp_path: Path) -> None:
    on_path = fake_python(tmp_path / "bin" / "python3.13", works=True)
    fake_python(tmp_path / "pyenv" / "versions" / "3.13.5" / "bin" / "python3.13", works=True)
    found = detect(
        tmp_path, path=f"{on_path.parent}:{system_path(tmp_path)}", pyenv_root=tmp_path / "pyenv"
    )
    assert found == str(on_path)


def test_a_shim_that_fails_falls_through_to_the_newest_pyenv_313(tmp_path: Path) -> None:
    shim = fake_python(tmp_path / "shims" / "python3.13", works=False)
    versions = tmp_path / "pyenv" / "versions"
    for version in ("3.13.2", "3.13.10", "3.12.9"):
        fake_python(versions / version / "bin" / "python3.13", works=True)
    found = detect(
        tmp_path, path=f"{shim.parent}:{system_path(tmp_path)}", pyenv_root=tmp_path / "pyenv"
    )
    assert found == str(versions / "3.13.10" / "bin" / "python3.13")


def test_the_end_of_make_test_says_what_it_skipped_without_python313() -> None:
    skipped = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(REPO), "report-skipped", "PY313="],
        env=outer_make_removed(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "NOT EVERYTHING RAN: no python3.13" in skipped
    assert "WITHOUT precompiled .pyc" in skipped
    assert "+165 ms" in skipped
    assert "test_built_artifact.py" in skipped
    assert ".venv-lambda313" in skipped
    everything = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(REPO), "report-skipped",
         "PY313=/opt/python3.13"],
        env=outer_make_removed(), capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert everything == ""


@pytest.mark.parametrize(("required", "code"), [("1", 2), ("true", 2), ("", 0)])
def test_ci_refuses_the_short_path(required: str, code: int) -> None:
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(REPO), "require-python313", "PY313=",
         f"REQUIRE_PY313={required}"],
        env=outer_make_removed(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == code, result.stderr
    assert ("REQUIRE_PY313" in result.stderr) == bool(code)


def test_the_fallback_build_ships_the_bundle_without_bytecode_and_says_so(tmp_path: Path) -> None:
    """src/Makefile as sam build runs it (a copy of src/, ARTIFACTS_DIR), with no python3.13:
    pip runs on python3 for the function's platform; no bytecode, and a warning naming the cost."""
    source = tmp_path / "src"
    shutil.copytree(REPO / "src", source, ignore=shutil.ignore_patterns("__pycache__"))
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    python3 = tmp_path / "bin" / "python3"
    python3.parent.mkdir()
    python3.symlink_to(sys.executable)  # this venv's python: has pip, is not 3.13
    env = {
        **{k: v for k, v in os.environ.items() if k.startswith(("PIP_", "HOME", "LANG"))},
        "PATH": f"{python3.parent}:{system_path(tmp_path)}",
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "ARTIFACTS_DIR": str(artifact),
    }
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(source), "build-MonitorFunction"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    warning = [line for line in result.stdout.splitlines() if "WARNING" in line]
    assert len(warning) == 1, result.stdout
    assert "no python3.13" in warning[0]
    assert "WITHOUT precompiled bytecode" in warning[0]
    assert "+165 ms" in warning[0]
    assert (artifact / "zlb_health" / "handler.py").is_file()
    assert (artifact / "aws_lambda_powertools").is_dir()
    assert list(artifact.rglob("*.pyc")) == []
    assert "compileall" not in result.stdout


def test_the_python313_tests_skip_loudly_without_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
         "tests/integration/test_built_artifact.py", "-k", "bytecode"],
        cwd=REPO,
        env={**outer_make_removed(), "PY313": ""},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, result.stdout[-3000:]
    assert "NO PYTHON 3.13 on this machine" in skipped[0]
