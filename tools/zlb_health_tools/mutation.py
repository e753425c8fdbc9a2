"""`make mutation`: mutation testing of the function's pure core with mutmut, unit tests only.

Standard library only, so it runs on the mutation venv's interpreter without the project being
installed there. The steps:

1. Stage a copy of the work tree's files (those git tracks, and new ones it does not ignore:
   the unit tests read the template, events, locks and docs too) in `build/mutation/` and add a
   `[tool.mutmut]` table to the staged pyproject: mutate only the paths asked for (default: the
   engine, the Zenlayer client and the configuration), run `tests/unit` only, copy the rest
   next to the mutants. The work tree is never touched; every run starts from a fresh stage, so
   no result is reused from an older run.
2. `mutmut run` there. mutmut copies the staged `src/` to `mutants/src/`, puts it first on
   `sys.path` and imports `zlb_health_tools` (never mutated) from `tools/` on PYTHONPATH.
3. Score each module: detected (killed, timeout) over all mutants that are not equivalent.
   A survivor is explained by a row of the survivors table in `docs/mutation.md`
   (`| mutant | mutated line | reason |`); a reason starting with `equivalent` takes the mutant
   out of the denominator, any other reason (the integration test that covers it) keeps it in.
   A row whose mutated line no longer matches the mutant of that name is stale: the mutant is
   then reported as unexplained.
4. Print the per-module table, rewrite the rows of the modules just mutated in the results
   table of `docs/mutation.md`, list unexplained survivors with their diffs, and exit non-zero
   when a module scores below the threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess  # nosec B404 - runs mutmut from its own venv, fixed arguments
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PATHS = ("src/zlb_health/engine", "src/zlb_health/zenlayer", "src/zlb_health/config.py")
DETECTED = frozenset({"killed", "timeout", "segfault", "caught by type check"})
UNDETECTED = frozenset({"survived", "no tests", "suspicious"})
RESULTS_BEGIN = "<!-- mutation-results:begin -->"
RESULTS_END = "<!-- mutation-results:end -->"
RESULTS_HEADER = (
    "| module | mutants | killed | survived | equivalent | score |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
)
_ROW_SPLIT = re.compile(r"(?<!\\)\|")
_MUTANT_NAME = re.compile(r"^`([\w.ǁ]+__mutmut_\d+)`$")


@dataclass(frozen=True, slots=True)
class Explanation:
    mutated_line: str
    reason: str

    @property
    def equivalent(self) -> bool:
        return self.reason.lower().startswith("equivalent")


@dataclass
class ModuleScore:
    module: str
    killed: int = 0
    survived: int = 0  # not detected and not equivalent (explained or not)
    equivalent: int = 0
    skipped: int = 0
    survivors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.killed + self.survived + self.equivalent

    @property
    def score(self) -> float:
        scored = self.killed + self.survived
        return 100.0 if scored == 0 else 100.0 * self.killed / scored

    def row(self) -> str:
        return (
            f"| `{self.module}` | {self.total} | {self.killed} | {self.survived} "
            f"| {self.equivalent} | {self.score:.1f}% |"
        )


def only_mutate_globs(paths: Iterable[str]) -> list[str]:
    """mutmut's `only_mutate` patterns for files and directories under src/."""
    globs = []
    for raw in paths:
        path = raw.rstrip("/")
        if not path.startswith("src/zlb_health"):
            raise ValueError(f"{raw}: only paths under src/zlb_health can be mutated")
        globs.append(path if path.endswith(".py") else path + "/*")
    return globs


# Unit tests of the checkout itself, which the stage is not: the installed package's version
# (the mutation venv does not install the project) and git's list of the Markdown files (the
# stage is an ignored folder). Neither runs engine, client or configuration code.
_DESELECTED = (
    "--deselect=tests/unit/test_cli.py::test_version",
    "--deselect=tests/unit/test_docs_blocks.py::test_the_repository_s_docs_follow_the_convention",
)


def mutmut_table(globs: Sequence[str], also_copy: Sequence[str] = ()) -> str:
    quoted = ", ".join(f'"{g}"' for g in globs)
    copied = ", ".join(f'"{c}"' for c in also_copy)
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f"only_mutate = [{quoted}]\n"
        # What the tests read besides src/ and tests/ (mutmut copies those two itself).
        f"also_copy = [{copied}]\n"
        'pytest_add_cli_args_test_selection = ["tests/unit"]\n'
        f"pytest_add_cli_args = {json.dumps(['-p', 'no:cacheprovider', *_DESELECTED])}\n"
        # The stage sits inside the work tree's git repository: its history says nothing here.
        "use_git_change_detection = false\n"
    )


def module_of(mutant: str) -> str:
    """`zlb_health.zenlayer.client.xǁZenlayerClientǁ_call__mutmut_3` -> its source file."""
    parts = mutant.split(".")
    index = next(i for i, part in enumerate(parts) if part.startswith(("x_", "xǁ")))
    return "src/" + "/".join(parts[:index]) + ".py"


def parse_results(text: str) -> dict[str, str]:
    """`mutmut results --all true` lines (`    name: status`) -> {name: status}."""
    results = {}
    for line in text.splitlines():
        name, sep, status = line.strip().partition(": ")
        if sep and "__mutmut_" in name:
            results[name] = status.strip()
    return results


def parse_explanations(markdown: str) -> dict[str, Explanation]:
    """Rows `| `mutant` | `mutated line` | reason |` of the survivors table(s)."""
    explained = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in _ROW_SPLIT.split(line.strip())]
        if len(cells) != 5 or cells[0] or cells[4]:
            continue
        match = _MUTANT_NAME.match(cells[1])
        if match is None:
            continue
        mutated = cells[2].strip("`").replace("\\|", "|").strip()
        explained[match.group(1)] = Explanation(mutated, cells[3])
    return explained


def mutated_line(diff: str) -> str:
    """The first added line of a mutant's diff, stripped (what the docs' table names)."""
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            return line[1:].strip()
    return ""


def score_modules(
    results: dict[str, str],
    explained: dict[str, Explanation],
    changed_lines: dict[str, str],
) -> tuple[dict[str, ModuleScore], list[str], list[str]]:
    """Per-module scores, the unexplained survivors, and the stale explanations."""
    scores: dict[str, ModuleScore] = {}
    unexplained: list[str] = []
    stale: list[str] = []
    for name, status in sorted(results.items()):
        module = module_of(name)
        score = scores.setdefault(module, ModuleScore(module))
        if status in DETECTED:
            score.killed += 1
            if name in explained:
                stale.append(f"{name}: listed in docs/mutation.md but now {status}")
            continue
        if status not in UNDETECTED:
            score.skipped += 1
            continue
        why = explained.get(name)
        if why is not None and why.mutated_line != changed_lines.get(name, ""):
            stale.append(f"{name}: docs/mutation.md names another mutated line")
            why = None
        if why is not None and why.equivalent:
            score.equivalent += 1
            continue
        score.survived += 1
        score.survivors.append(name)
        if why is None:
            unexplained.append(name)
    # A row about a module this run mutated, naming a mutant it did not make (the code is gone).
    stale += [
        f"{name}: listed in docs/mutation.md but no longer a mutant"
        for name in sorted(explained)
        if name not in results and module_of(name) in scores
    ]
    return scores, unexplained, stale


def update_results_table(markdown: str, scores: dict[str, ModuleScore]) -> str:
    """Replace the rows of the modules just scored; keep the rows of the others."""
    begin, end = markdown.find(RESULTS_BEGIN), markdown.find(RESULTS_END)
    if begin < 0 or end < begin:
        return markdown
    rows: dict[str, str] = {}
    for line in markdown[begin + len(RESULTS_BEGIN) : end].splitlines():
        cells = [cell.strip() for cell in _ROW_SPLIT.split(line.strip())]
        if len(cells) > 2 and cells[1].startswith("`"):
            rows[cells[1].strip("`")] = line.strip()
    rows.update({module: score.row() for module, score in scores.items()})
    table = "\n".join([*RESULTS_HEADER, *(rows[m] for m in sorted(rows))])
    return markdown[: begin + len(RESULTS_BEGIN)] + "\n" + table + "\n" + markdown[end:]


def venv_requirements(pyproject: dict[str, Any]) -> list[str]:
    """The project's dependencies and its dev extra, the extras it names of itself expanded (the
    mutation venv installs these, never the project: the mutated copy must be its only
    zlb_health)."""
    project = pyproject["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    own = project["name"] + "["
    out: list[str] = []

    def add(requirements: list[str]) -> None:
        for requirement in requirements:
            if requirement.startswith(own):
                for extra in requirement[len(own) :].rstrip("]").split(","):
                    add(extras[extra.strip()])
            elif requirement not in out:
                out.append(requirement)

    add([*project["dependencies"], *extras["dev"]])
    return out


def work_tree_files(repo: Path) -> list[str]:
    """The files git tracks or would add (untracked, not ignored), as they are in the work tree."""
    command = ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"]
    done = subprocess.run(  # noqa: S603  # nosec B603 - git, fixed arguments
        command, cwd=repo, capture_output=True, check=True
    )
    names = done.stdout.decode("utf-8").split("\0")
    return sorted(name for name in names if name and (repo / name).is_file())


def stage(repo: Path, workdir: Path, globs: Sequence[str]) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    text = (repo / "pyproject.toml").read_text(encoding="utf-8")
    if "[tool.mutmut]" in text:
        raise SystemExit("pyproject.toml has its own [tool.mutmut]: the stage writes that table")
    files = [name for name in work_tree_files(repo) if name != "pyproject.toml"]
    for name in files:
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, workdir / name)
    also_copy = sorted({name.split("/", 1)[0] for name in files} - {"src", "tests"})
    (workdir / "pyproject.toml").write_text(text + mutmut_table(globs, also_copy), encoding="utf-8")


def tools_env(repo: Path) -> dict[str, str]:
    """zlb_health_tools (never mutated) from the work tree; zlb_health only from the stage.
    ZLB_MUTATION: tests/unit/conftest.py's hypothesis profile (no shrinking, no database)."""
    return dict(os.environ, PYTHONPATH=str(repo / "tools"), ZLB_MUTATION="1")


def mutmut(workdir: Path, env: dict[str, str], *args: str, log: Path | None = None) -> str:
    command = [str(Path(sys.executable).with_name("mutmut")), *args]
    if log is None:
        done = subprocess.run(  # noqa: S603  # nosec B603 - our own venv's mutmut, fixed arguments
            command, cwd=workdir, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout
    with log.open("w", encoding="utf-8") as out:
        code = subprocess.run(  # noqa: S603  # nosec B603 - our own venv's mutmut, fixed arguments
            command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        ).returncode
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise SystemExit(f"mutmut {' '.join(args)} failed (exit {code}); end of {log}:\n{tail}")
    return ""


# One interpreter for every diff (`mutmut show` is one process per mutant): the same calls
# `mutmut show` makes, in mutmut's own venv, with the stage as the working directory.
_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
print(json.dumps({n: get_diff_for_mutant(n, path=find_mutant(n).path) for n in sys.argv[1:]}))
"""


def diffs(workdir: Path, env: dict[str, str], names: Sequence[str]) -> dict[str, str]:
    if not names:
        return {}
    done = subprocess.run(  # noqa: S603  # nosec B603 - our own venv's python, fixed code
        [sys.executable, "-c", _DIFFS, *names],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("paths", nargs="*", default=list(DEFAULT_PATHS))
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--min-score", type=float, default=95.0)
    parser.add_argument(
        "--report-only", action="store_true", help="score the last run again (after docs edits)"
    )
    parser.add_argument(
        "--requirements", action="store_true", help="print what the mutation venv installs"
    )
    args = parser.parse_args(argv)

    repo: Path = args.repo.resolve()
    if args.requirements:
        with (repo / "pyproject.toml").open("rb") as handle:
            print("\n".join(venv_requirements(tomllib.load(handle))))
        return 0
    workdir = repo / "build" / "mutation"
    docs = repo / "docs" / "mutation.md"
    env = tools_env(repo)
    globs = only_mutate_globs(args.paths)
    if not args.report_only:
        stage(repo, workdir, globs)
        print(f"mutating {', '.join(globs)} (unit tests only) in {workdir} ...", flush=True)
        run_args = ("run", f"--max-children={args.max_children}")
        mutmut(workdir, env, *run_args, log=workdir / "mutmut.log")

    results = parse_results(mutmut(workdir, env, "results", "--all", "true"))
    markdown = docs.read_text(encoding="utf-8") if docs.exists() else ""
    explained = parse_explanations(markdown)
    undetected = [name for name, status in results.items() if status in UNDETECTED]
    diff_of = diffs(workdir, env, undetected)
    changed = {name: mutated_line(diff) for name, diff in diff_of.items()}
    scores, unexplained, stale = score_modules(results, explained, changed)

    print("\n".join([*RESULTS_HEADER, *(scores[m].row() for m in sorted(scores))]))
    if docs.exists():
        docs.write_text(update_results_table(markdown, scores), encoding="utf-8")
    for note in stale:
        print(f"stale: {note}")
    for name in unexplained:
        print(f"\nunexplained survivor {name} ({results[name]}):\n{diff_of[name].strip()}")
    low = [s.module for s in scores.values() if s.score < args.min_score]
    if low:
        print(f"\nbelow {args.min_score:g}%: {', '.join(sorted(low))}")
        return 1
    print(f"\nevery module scores at least {args.min_score:g}% ({len(unexplained)} unexplained)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
