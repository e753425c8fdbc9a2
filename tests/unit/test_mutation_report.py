"""`make mutation`'s scoring: which survivors count, and how docs/mutation.md explains them."""

from __future__ import annotations

import pytest

from zlb_health_tools.mutation import (
    Explanation,
    module_of,
    mutated_line,
    only_mutate_globs,
    parse_explanations,
    parse_results,
    score_modules,
    update_results_table,
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
