"""The locks (README, "Dependencies") agree with each other, with pyproject.toml and with the
bundle's own pins, so CI, every developer and the deployed function run the same versions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "src" / "requirements.txt"
LOCKS = REPO / "requirements"
# lock file -> the .in files it is compiled from (pyproject.toml's are checked on their own)
COMPILED_FROM = {
    "sam.txt": ["sam.in"],
    "checkov.txt": ["checkov.in"],
    "uv.txt": ["uv.in"],
    "lambda313.txt": ["lambda313.in"],
    "dev.txt": ["build.in"],
    "local.txt": ["build.in"],
}
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^ ;\\]+)"
    r"(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$"
)


def pins(path: Path) -> dict[str, list[tuple[str, str | None]]]:
    """name -> [(version, marker)]: a universal lock may pin a package twice, by Python version."""
    found: dict[str, list[tuple[str, str | None]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            name = canonicalize_name(match["name"])
            found.setdefault(name, []).append((match["version"], match["marker"]))
    return found


def single_versions(path: Path) -> dict[str, str]:
    """name -> version for the packages pinned once (no Python-version split)."""
    return {name: entries[0][0] for name, entries in pins(path).items() if len(entries) == 1}


def every_pin_has_a_hash(path: Path) -> list[str]:
    """Pinned lines not followed by at least one --hash continuation line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    missing = []
    for index, line in enumerate(lines):
        if _PIN.match(line):
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if not line.rstrip().endswith("\\") or "--hash=sha256:" not in following:
                missing.append(line)
    return missing


def requirements_of(path: Path) -> list[Requirement]:
    return [
        Requirement(line)
        for raw in path.read_text(encoding="utf-8").splitlines()
        if (line := raw.split("#", 1)[0].strip())
    ]


def pyproject() -> dict[str, object]:
    with (REPO / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def _satisfied(requirement: Requirement, lock: Path) -> None:
    entries = pins(lock).get(canonicalize_name(requirement.name))
    assert entries, f"{requirement} is not in {lock.name}: run `make lock`"
    for version, _marker in entries:
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock.name} pins {requirement.name}=={version}, outside {requirement}: "
            "run `make lock`"
        )


ALL_LOCKS = [BUNDLE, *sorted(LOCKS.glob("*.txt"))]


@pytest.mark.parametrize("lock", ALL_LOCKS, ids=[p.name for p in ALL_LOCKS])
def test_every_pin_is_hash_checked(lock: Path) -> None:
    assert pins(lock), f"{lock} pins nothing"
    assert every_pin_has_a_hash(lock) == []


@pytest.mark.parametrize("lock_name", ["dev.txt", "local.txt"])
def test_the_dev_and_local_locks_pin_the_bundle_s_versions(lock_name: str) -> None:
    bundle = single_versions(BUNDLE)
    assert set(bundle) == {
        "aws-lambda-powertools",
        "urllib3",
        "jmespath",
        "typing-extensions",
        "cronsim",
        "tzdata",
    }
    lock = single_versions(LOCKS / lock_name)
    assert {name: lock.get(name) for name in bundle} == bundle


def test_local_and_lambda_locks_pin_what_dev_pins() -> None:
    """make run's venv and the Python 3.13 stand-in run the versions the tests ran."""
    dev = pins(LOCKS / "dev.txt")
    for name in ("local.txt", "lambda313.txt"):
        for package, entries in pins(LOCKS / name).items():
            assert package in dev, f"{name} pins {package}, which dev.txt does not"
            dev_versions = {version for version, _ in dev[package]}
            assert {version for version, _ in entries} <= dev_versions, (name, package)


@pytest.mark.parametrize("extra", [None, "local", "dev"])
def test_the_locks_satisfy_pyproject(extra: str | None) -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    wanted = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    lock = LOCKS / ("local.txt" if extra == "local" else "dev.txt")
    for line in wanted:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == "zlb-health":  # dev = local + test tools
            continue
        _satisfied(requirement, lock)
        if extra is None:
            _satisfied(requirement, LOCKS / "local.txt")


def test_the_bundle_satisfies_its_own_inputs_and_pyproject() -> None:
    for requirement in requirements_of(REPO / "src" / "requirements.in"):
        _satisfied(requirement, BUNDLE)
    project = pyproject()["project"]
    assert isinstance(project, dict)
    runtime = [Requirement(line) for line in project["dependencies"]]
    bundle = single_versions(BUNDLE)
    checked = [r for r in runtime if canonicalize_name(r.name) in bundle]
    assert {canonicalize_name(r.name) for r in checked} == {
        "aws-lambda-powertools",
        "urllib3",
        "cronsim",
        "tzdata",
    }
    for requirement in checked:
        version = bundle[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), (requirement, version)


@pytest.mark.parametrize("lock_name", sorted(COMPILED_FROM))
def test_each_lock_satisfies_its_inputs(lock_name: str) -> None:
    for source in COMPILED_FROM[lock_name]:
        for requirement in requirements_of(LOCKS / source):
            _satisfied(requirement, LOCKS / lock_name)


def test_the_lambda_lock_is_boto3_and_its_dependencies_only() -> None:
    """What the Lambda runtime provides (test_built_artifact.py checks the same set)."""
    assert set(pins(LOCKS / "lambda313.txt")) == {
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "python-dateutil",
        "six",
        "urllib3",
    }


def test_pre_commit_runs_the_locked_ruff() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    ruff = single_versions(LOCKS / "dev.txt")["ruff"]
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    ruff_hooks = [hook for hook in hooks if hook["id"] in {"ruff", "ruff-format"}]
    assert len(ruff_hooks) == 2
    for hook in ruff_hooks:
        assert hook["additional_dependencies"] == [f"ruff=={ruff}"], hook["id"]
