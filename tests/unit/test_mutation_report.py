"""`make mutation`'s scoring: which survivors count, and how docs/mutation.md explains them."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from zlb_health_tools.mutation import (
    Explanation,
    module_of,
    mutated_line,
    only_mutate_globs,
    parse_explanations,
    parse_results,
    score_modules,
    stage,
    update_results_table,
    venv_requirements,
)

CLIENT = "zlb_health.zenlayer.client.xǁZenlayerClientǁ_call__mutmut_3"
CONFIG = "zlb_health.config.x__int__mutmut_7"

DOCS = """
| mutant | mutated line | reason |
| --- | --- | --- |
| `zlb_health.config.x__int__mutmut_7` | `if not minimum < value \\| 0:` | equivalent: same set |
| `zlb_health.zenlayer.client.xǁZenlayerClientǁ_call__mutmut_3` | `x = 1` | integration: \
tests/integration/test_faults_api.py::test_a |
| not a mutant row | x | y |
"""


def test_paths_become_mutmut_globs() -> None:
    assert only_mutate_globs(["src/zlb_health/engine/", "src/zlb_health/config.py"]) == [
        "src/zlb_health/engine/*",
        "src/zlb_health/config.py",
    ]
    with pytest.raises(ValueError, match=r"^tools/x\.py: only paths under src/zlb_health"):
        only_mutate_globs(["tools/x.py"])


def test_a_mutant_belongs_to_its_source_file() -> None:
    assert module_of(CLIENT) == "src/zlb_health/zenlayer/client.py"
    assert module_of(CONFIG) == "src/zlb_health/config.py"


def test_mutmut_results_lines_are_read() -> None:
    text = f"    {CONFIG}: survived\n    {CLIENT}: killed\nnoise: here\n"
    assert parse_results(text) == {CONFIG: "survived", CLIENT: "killed"}


def test_the_survivors_table_is_read_with_escaped_pipes() -> None:
    assert parse_explanations(DOCS) == {
        CONFIG: Explanation("if not minimum < value | 0:", "equivalent: same set"),
        CLIENT: Explanation("x = 1", "integration: tests/integration/test_faults_api.py::test_a"),
    }


def test_the_mutated_line_is_the_first_added_line_of_the_diff() -> None:
    diff = "--- a.py\n+++ a.py\n@@ -1 +1 @@\n-    x = 0\n+    x = 1\n"
    assert mutated_line(diff) == "x = 1"


def test_equivalent_survivors_leave_the_denominator_and_others_count_against_the_score() -> None:
    results = {CONFIG: "survived", CLIENT: "survived", CLIENT[:-1] + "4": "killed"}
    explained = parse_explanations(DOCS)
    changed = {CONFIG: "if not minimum < value | 0:", CLIENT: "x = 1"}
    scores, unexplained, stale = score_modules(results, explained, changed)
    config, client = scores["src/zlb_health/config.py"], scores["src/zlb_health/zenlayer/client.py"]
    assert (config.killed, config.survived, config.equivalent, config.score) == (0, 0, 1, 100.0)
    assert (client.killed, client.survived, client.equivalent, client.score) == (1, 1, 0, 50.0)
    assert (unexplained, stale) == ([], [])


def test_an_explanation_of_another_mutated_line_is_stale_and_the_survivor_unexplained() -> None:
    scores, unexplained, stale = score_modules(
        {CONFIG: "survived"}, parse_explanations(DOCS), {CONFIG: "return 0"}
    )
    assert scores["src/zlb_health/config.py"].survived == 1
    assert unexplained == [CONFIG]
    assert stale == [f"{CONFIG}: docs/mutation.md names another mutated line"]


def test_an_explained_mutant_that_is_now_killed_is_reported_stale() -> None:
    _, _, stale = score_modules({CONFIG: "killed"}, parse_explanations(DOCS), {})
    assert stale == [f"{CONFIG}: listed in docs/mutation.md but now killed"]


def test_a_row_naming_a_mutant_the_run_did_not_make_is_stale_in_a_module_it_mutated() -> None:
    gone = CONFIG[:-1] + "9"
    explained = parse_explanations(DOCS)
    explained[gone] = explained[CONFIG]
    _, _, stale = score_modules({CONFIG: "killed"}, explained, {})
    assert stale == [
        f"{CONFIG}: listed in docs/mutation.md but now killed",
        f"{gone}: listed in docs/mutation.md but no longer a mutant",
    ]
    # A module this run did not mutate keeps its rows unquestioned.
    _, _, stale = score_modules(
        {"zlb_health.zenlayer.fanout.x_run__mutmut_1": "killed"}, explained, {}
    )
    assert stale == []


def test_the_results_table_keeps_the_rows_of_modules_not_run() -> None:
    before = (
        "intro\n<!-- mutation-results:begin -->\n| module | ... |\n"
        "| `src/zlb_health/engine/rules.py` | 10 | 9 | 1 | 0 | 90.0% |\n"
        "| `src/zlb_health/config.py` | 1 | 0 | 1 | 0 | 0.0% |\n"
        "<!-- mutation-results:end -->\noutro\n"
    )
    scores, _, _ = score_modules({CONFIG: "killed"}, {}, {})
    assert update_results_table(before, scores) == (
        "intro\n<!-- mutation-results:begin -->\n"
        "| module | mutants | killed | survived | equivalent | score |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |\n"
        "| `src/zlb_health/config.py` | 1 | 1 | 0 | 0 | 100.0% |\n"
        "| `src/zlb_health/engine/rules.py` | 10 | 9 | 1 | 0 | 90.0% |\n"
        "<!-- mutation-results:end -->\noutro\n"
    )


def test_the_stage_is_the_work_tree_as_git_sees_it_and_mutmut_copies_all_of_it(
    tmp_path: Path,
) -> None:
    """The unit tests read the template, events, locks and docs: a stage of src/ and tests/
    alone fails before the first mutant."""
    repo = tmp_path / "repo"
    files = {
        ".gitignore": "build/\n",
        "pyproject.toml": "[project]\nname = 'x'\n",
        "src/zlb_health/a.py": "A = 1\n",
        "tests/unit/test_a.py": "",
        "template.yaml": "Resources: {}\n",
        "events/scheduled.json": "{}\n",
        "docs/new.md": "untracked, not ignored\n",
        "build/old/stale.txt": "ignored\n",
    }
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "src", "tests", "template.yaml"], check=True)
    workdir = repo / "build" / "mutation"
    stage(repo, workdir, ["src/zlb_health/a.py"])
    staged = sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*") if p.is_file())
    assert staged == [
        ".gitignore",
        "docs/new.md",
        "events/scheduled.json",
        "pyproject.toml",
        "src/zlb_health/a.py",
        "template.yaml",
        "tests/unit/test_a.py",
    ]
    table = tomllib.loads((workdir / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    assert table["mutmut"]["only_mutate"] == ["src/zlb_health/a.py"]
    assert table["mutmut"]["also_copy"] == [".gitignore", "docs", "events", "template.yaml"]


def test_the_mutation_venv_gets_the_dev_extra_with_the_projects_own_extras_expanded() -> None:
    pyproject = {
        "project": {
            "name": "zlb-health",
            "dependencies": ["boto3>=1.34"],
            "optional-dependencies": {
                "local": ["moto[dynamodb]==5.2.5", "flask"],
                "dev": ["zlb-health[local]", "pytest==9.2.0", "flask"],
            },
        }
    }
    assert venv_requirements(pyproject) == [
        "boto3>=1.34",
        "moto[dynamodb]==5.2.5",
        "flask",
        "pytest==9.2.0",
    ]
