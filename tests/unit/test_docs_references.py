"""Every test the docs name as proof exists: a guarantee is never backed by a renamed test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/guarantees.md")
# `integration/test_x.py::test_y` (paths relative to tests/, or from the repository root), and
# the `::test_z` / `...::test_z` that follow one in the same cell, which name the same file.
_CELL = re.compile(
    r"`(?:tests/)?((?:unit|integration)/test_\w+\.py)(?:::(\w+))?[^`]*`|`(?:\.\.\.)?::(\w+)"
)


def references() -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for doc in DOCS:
        for line_no, line in enumerate((REPO / doc).read_text().splitlines(), 1):
            current = None
            for path, name, follower in _CELL.findall(line):
                if path:
                    current = path
                    if name:
                        found.append((f"{doc}:{line_no}", path, name))
                elif follower and current:
                    found.append((f"{doc}:{line_no}", current, follower))
    return found


def test_the_docs_name_tests() -> None:
    assert len(references()) > 40


@pytest.mark.parametrize(("where", "path", "name"), references())
def test_every_named_test_exists(where: str, path: str, name: str) -> None:
    source = (REPO / "tests" / path).read_text()
    assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"{where}: {path}::{name} is gone"
