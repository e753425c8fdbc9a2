"""fan_out: bounded concurrency, per-item outcomes in item order, deadline reporting."""

from __future__ import annotations

import threading

import pytest

from zlb_health.zenlayer.errors import DeadlineExceededError
from zlb_health.zenlayer.fanout import Outcome, fan_out


class ConcurrencyProbe:
    """Counts calls in flight; each call waits until enough peers arrived (or none can)."""

    def __init__(self, max_workers: int, total: int) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.calls = 0
        # Every wave of `max_workers` calls meets at the barrier, so the pool is saturated
        # whenever it can be: a too-lax bound would show up as peak > max_workers.
        self.expected = min(max_workers, total)
        self.barrier = threading.Barrier(self.expected) if total % self.expected == 0 else None

    def __call__(self, item: int) -> int:
        with self.lock:
            self.in_flight += 1
            self.calls += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            if self.barrier is not None:
                self.barrier.wait(timeout=10)
            return item * 2
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.mark.parametrize(
    ("max_workers", "total", "peak"), [(1, 5, 1), (3, 12, 3), (4, 8, 4), (8, 40, 8), (16, 3, 3)]
)
def test_at_most_max_workers_in_flight(max_workers: int, total: int, peak: int) -> None:
    probe = ConcurrencyProbe(max_workers, total)
    outcomes = fan_out(list(range(total)), probe, max_workers=max_workers)
    assert probe.calls == total
    assert probe.peak == peak
    assert [o.result for o in outcomes] == [i * 2 for i in range(total)]


def test_work_runs_on_named_pool_threads() -> None:
    names = fan_out([1, 2], lambda _: threading.current_thread().name, max_workers=2)
    assert [o.result.startswith("zlb-fanout_") for o in names if o.result] == [True, True]


def test_order_and_per_item_failures() -> None:
    def work(item: str) -> str:
        if item.startswith("bad"):
            raise ValueError(f"no {item}")
        return item.upper()

    items = ["a", "bad1", "b", "bad2", "c"]
    outcomes = fan_out(items, work, max_workers=2)
    assert [o.item for o in outcomes] == items
    assert [o.result for o in outcomes] == ["A", None, "B", None, "C"]
    assert [type(o.error).__name__ if o.error else None for o in outcomes] == [
        None,
        "ValueError",
        None,
        "ValueError",
        None,
    ]
    assert all(o.started for o in outcomes)
    assert [o.ok for o in outcomes] == [True, False, True, False, True]
    assert str(outcomes[1].error) == "no bad1"


def test_each_outcome_is_handed_over_as_it_is_made() -> None:
    """`on_outcome` sees every outcome, started or not, before fan_out returns them all."""
    now = [0.0]
    seen: list[Outcome[str, str]] = []

    def work(item: str) -> str:
        now[0] = 10.0 if item == "b" else now[0]  # "b" uses up the time: "c" is not started
        if item == "b":
            raise ValueError("no b")
        return item.upper()

    outcomes = fan_out(
        ["a", "b", "c"],
        work,
        max_workers=1,
        deadline=5.0,
        clock=lambda: now[0],
        on_outcome=seen.append,
    )
    assert seen == outcomes
    assert [(o.item, o.result, o.started) for o in seen] == [
        ("a", "A", True),
        ("b", None, True),
        ("c", None, False),
    ]


def test_items_after_the_deadline_are_reported_not_started() -> None:
    now = [0.0]
    started: list[int] = []

    def work(item: int) -> int:
        started.append(item)
        now[0] = 10.0  # the first call uses up all the time
        return item

    outcomes = fan_out([1, 2, 3], work, max_workers=1, deadline=5.0, clock=lambda: now[0])
    assert started == [1]
    assert outcomes[0] == Outcome(1, result=1)
    for outcome in outcomes[1:]:
        assert outcome.started is False
        assert outcome.result is None
        assert type(outcome.error) is DeadlineExceededError
        assert outcome.error.message == "deadline passed before this item was started"
    assert [o.item for o in outcomes] == [1, 2, 3]


@pytest.mark.parametrize(("now", "started"), [(0.999, [True, True]), (1.0, [False, False])])
def test_an_item_is_started_only_before_the_deadline(now: float, started: list[bool]) -> None:
    calls: list[int] = []
    outcomes = fan_out([1, 2], calls.append, max_workers=4, deadline=1.0, clock=lambda: now)
    assert [o.started for o in outcomes] == started
    assert len(calls) == started.count(True)


def test_no_items_no_outcomes() -> None:
    assert fan_out([], lambda x: x, max_workers=3) == []


@pytest.mark.parametrize(("max_workers", "valid"), [(0, False), (1, True)])
def test_max_workers_is_at_least_1(max_workers: int, valid: bool) -> None:
    if valid:
        assert fan_out([1], lambda x: x, max_workers=max_workers) == [Outcome(1, result=1)]
    else:
        with pytest.raises(ValueError, match=r"^max_workers must be at least 1$"):
            fan_out([1], lambda x: x, max_workers=max_workers)


def test_outcome_is_frozen() -> None:
    outcome: Outcome[int, int] = Outcome(1, result=2)
    with pytest.raises(AttributeError):
        outcome.result = 3  # type: ignore[misc]
