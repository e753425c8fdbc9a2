"""The docs-test convention's parser (tests/docs_blocks.py): which blocks run, and how."""

from __future__ import annotations

import pytest
from tests.docs_blocks import MarkerError, blocks_in, shell_blocks

DOC = """\
# Title

```sh
echo plain
```

<!-- docs-test: needs local-aws -->
```sh
zlb-health history --load-balancer-id lb-1
```

1. In a list:

   ```bash
   echo indented
     echo more
   ```

```console
sam deploy --guided
```

<!-- docs-test: skip: needs a browser -->
```sh
open http://example.invalid
```

<!-- docs-test: needs emulator, local-aws -->
~~~sh
echo both
~~~

```json
{"not": "shell"}
```
"""


def test_blocks_their_languages_lines_and_markers() -> None:
    blocks = blocks_in(DOC, "doc.md")
    assert [(b.line, b.language, sorted(b.needs), b.skip) for b in blocks] == [
        (3, "sh", [], None),
        (8, "sh", ["local-aws"], None),
        (14, "bash", [], None),
        (19, "console", [], None),
        (24, "sh", [], "needs a browser"),
        (29, "sh", ["emulator", "local-aws"], None),
        (33, "json", [], None),
    ]
    assert [b.where for b in blocks if b.runnable] == [
        "doc.md:3",
        "doc.md:8",
        "doc.md:14",
        "doc.md:29",
    ]


def test_block_text_loses_the_list_indentation_only() -> None:
    indented = blocks_in(DOC, "doc.md")[2]
    assert indented.text == "echo indented\n  echo more\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<!-- docs-test: nedds local-aws -->\n```sh\nx\n```\n", "unknown docs-test marker"),
        ("<!-- docs-test: needs aws -->\n```sh\nx\n```\n", "unknown docs-test need"),
        ("<!-- docs-test: skip: -->\n```sh\nx\n```\n", "needs a reason"),
        ("<!-- docs-test: skip: x -->\n```console\nx\n```\n", "before a console block"),
        ("<!-- docs-test: skip: x -->\nsome prose\n```sh\nx\n```\n", "not before a block"),
        ("```sh\nx\n```\n<!-- docs-test: skip: at the end -->\n", "not before a block"),
    ],
)
def test_a_marker_that_would_turn_a_test_off_by_mistake_is_an_error(
    text: str, message: str
) -> None:
    with pytest.raises(MarkerError, match=message):
        blocks_in(text, "doc.md")


def test_the_repository_s_docs_follow_the_convention() -> None:
    """Every Markdown file parses; its shell blocks are what the docs test runs."""
    blocks = shell_blocks()
    assert blocks
    assert {b.path for b in blocks} >= {"README.md", "docs/emulator.md"}
