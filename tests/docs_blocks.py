"""The shell blocks of the project's Markdown, and how tests/integration/test_docs_commands.py
runs them (README, "Developing and testing", states the convention):

- a fenced block with language `sh` or `bash` is run as written, in a fresh shell from the
  repository root, with .venv/bin on PATH (as after `make venv` and `. .venv/bin/activate`);
- `console` blocks are shown, never run: they need an AWS account, real credentials or a
  deployed stack;
- an HTML comment on the line before a `sh` block adjusts it:
  `<!-- docs-test: needs local-aws -->` (a local AWS holding the stack's table and topic, with
  TABLE_NAME, TOPIC_ARN, AWS_REGION and placeholder credentials exported, standing in for a
  deployed stack), `<!-- docs-test: needs emulator -->` (the Zenlayer API emulator with its demo
  fleet, ZENLAYER_API_ENDPOINT and the demo credentials exported; both may be given, comma
  separated), or `<!-- docs-test: skip: REASON -->`.

A marker anywhere else, or one this module does not know, is an error: a typo must not turn a
block's test off in silence.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_LANGUAGES = frozenset({"sh", "bash"})
NEEDS = frozenset({"local-aws", "emulator"})
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<body>.*?)\s*-->\s*$")


class MarkerError(ValueError):
    pass


@dataclass(frozen=True)
class Block:
    path: str  # relative to the repository
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    needs: frozenset[str] = field(default_factory=frozenset)
    skip: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def runnable(self) -> bool:
        return self.language in RUN_LANGUAGES and self.skip is None


def markdown_files(root: Path = REPO) -> list[Path]:
    """The tracked Markdown files (a fresh clone's), else every one outside hidden folders."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "*.md"],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout.decode()
        names = [name for name in listed.split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        names = [
            str(path.relative_to(root))
            for path in root.rglob("*.md")
            if not any(part.startswith(".") for part in path.relative_to(root).parts)
        ]
    return sorted(root / name for name in names if (root / name).is_file())


def _parse_marker(body: str, where: str) -> tuple[frozenset[str], str | None]:
    if body.startswith("skip:"):
        reason = body.removeprefix("skip:").strip()
        if not reason:
            raise MarkerError(f"{where}: `docs-test: skip:` needs a reason")
        return frozenset(), reason
    if body.startswith("needs "):
        needs = frozenset(item.strip() for item in body.removeprefix("needs ").split(","))
        unknown = needs - NEEDS
        if unknown:
            raise MarkerError(
                f"{where}: unknown docs-test need {sorted(unknown)} ({sorted(NEEDS)})"
            )
        return needs, None
    raise MarkerError(f"{where}: unknown docs-test marker {body!r} (needs ... or skip: ...)")


def blocks_in(text: str, path: str) -> list[Block]:
    """Every fenced block of one Markdown text, with its docs-test marker applied."""
    lines = text.splitlines()
    blocks: list[Block] = []
    marker: tuple[int, str] | None = None  # (line index, body) of a pending marker
    index = 0
    while index < len(lines):
        line = lines[index]
        found = _MARKER.match(line)
        if found:
            if marker is not None:
                raise MarkerError(f"{path}:{marker[0] + 1}: docs-test marker not before a block")
            marker = (index, found.group("body"))
            index += 1
            continue
        opening = _FENCE.match(line)
        if not opening:
            if marker is not None and line.strip():
                raise MarkerError(f"{path}:{marker[0] + 1}: docs-test marker not before a block")
            index += 1
            continue
        start = index + 1  # 1-based line of the opening fence
        indent, fence = opening.group("indent"), opening.group("fence")
        language = (opening.group("info").split() or [""])[0].lower()
        body: list[str] = []
        index += 1
        while index < len(lines):
            closing = _FENCE.match(lines[index])
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                break
            content = lines[index]
            body.append(content[len(indent) :] if content.startswith(indent) else content.lstrip())
            index += 1
        index += 1  # past the closing fence (or the end of the file)
        needs: frozenset[str] = frozenset()
        skip = None
        if marker is not None:
            where = f"{path}:{start}"
            if language not in RUN_LANGUAGES:
                raise MarkerError(f"{where}: docs-test marker before a {language or 'plain'} block")
            needs, skip = _parse_marker(marker[1], where)
            marker = None
        blocks.append(Block(path, start, language, "\n".join(body) + "\n", needs, skip))
    if marker is not None:
        raise MarkerError(f"{path}:{marker[0] + 1}: docs-test marker not before a block")
    return blocks


def shell_blocks(root: Path = REPO) -> list[Block]:
    """The `sh`/`bash` blocks of every Markdown file, the skipped ones included."""
    found: list[Block] = []
    for path in markdown_files(root):
        relative = str(path.relative_to(root))
        text = path.read_text(encoding="utf-8")
        found.extend(b for b in blocks_in(text, relative) if b.language in RUN_LANGUAGES)
    return found
