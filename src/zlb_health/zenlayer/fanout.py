"""A bounded worker pool: run one call per item, at most `max_workers` at a time.

Every item gets exactly one Outcome, in the order of the items: a result, the exception its call
raised (one failure never stops the others), or `started=False` with DeadlineExceededError when the
deadline had passed before a worker reached it. `on_outcome`, when given, also receives each
Outcome as soon as it is made (on the worker's thread), so a caller can act on early results
while later calls are still in flight. Work already in flight is not interrupted; the
work function is expected to honour the same deadline itself (the client does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from zlb_health.zenlayer.errors import DeadlineExceededError

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T, R]):
    item: T
    result: R | None = None
    error: Exception | None = None
    started: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None


def fan_out(
    items: Sequence[T],
    work: Callable[[T], R],
    *,
    max_workers: int,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_outcome: Callable[[Outcome[T, R]], None] | None = None,
) -> list[Outcome[T, R]]:
    """Call `work(item)` for every item on at most `max_workers` threads; never raises for one."""
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    if not items:
        return []

    def run(item: T) -> Outcome[T, R]:
        outcome = attempt(item)
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    def attempt(item: T) -> Outcome[T, R]:
        if deadline is not None and clock() >= deadline:
            return Outcome(
                item,
                error=DeadlineExceededError("deadline passed before this item was started"),
                started=False,
            )
        try:
            return Outcome(item, result=work(item))
        except Exception as exc:  # noqa: BLE001 - captured per item by design
            return Outcome(item, error=exc)

    workers = min(max_workers, len(items))
    # The executor never runs more than `workers` threads, so at most that many calls are in
    # flight; `map` keeps the order of the items.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zlb-fanout") as pool:
        return list(pool.map(run, items))
