"""Which table a command that reads the stack's table uses: --table-name, else the stack named
by --stack-name (its TableName output), else TABLE_NAME."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zlb_health_tools.awsenv import CliError, StackInfo, describe_stack, region_from
from zlb_health_tools.cli import EXIT_USAGE


@dataclass(frozen=True, slots=True)
class TableTarget:
    table: str
    region: str
    stack: StackInfo | None  # when the table was found through --stack-name


def table_source(args: Any, env: Mapping[str, str]) -> tuple[str, str]:
    """(table, stack name), one of them set: --table-name, else --stack-name, else TABLE_NAME.

    The options win over the environment (a TABLE_NAME exported for another stack must not be
    read when a stack is named). Checked before anything else, so a missing setting is said
    first.
    """
    table = (getattr(args, "table_name", None) or "").strip()
    stack_name = (getattr(args, "stack_name", None) or "").strip()
    if not table and not stack_name:
        table = env.get("TABLE_NAME", "").strip()
        if not table:
            raise CliError(
                "TABLE_NAME is not set (the stack's table; or --table-name, or --stack-name)",
                EXIT_USAGE,
            )
    return table, stack_name


def resolve_table(args: Any, env: Mapping[str, str]) -> TableTarget:
    """The stack's table and region; the stack itself when it was named (--stack-name)."""
    table, stack_name = table_source(args, env)
    region = region_from(env)
    if table:
        return TableTarget(table, region, None)
    stack = describe_stack(stack_name, region)
    return TableTarget(stack.output("TableName"), region, stack)
