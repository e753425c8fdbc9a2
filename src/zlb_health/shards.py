"""Which shard watches a load balancer: a stable hash of its id, modulo the number of shards.

Every load balancer belongs to exactly one shard for a given number of shards, in discovery mode
and with LOAD_BALANCER_IDS alike; the assignment depends on nothing but the id, so it is the same
in every run, process and Python version (no `hash()`, which is salted per process). State is
kept per load balancer, never per shard: changing the number of shards moves load balancers
between schedules without losing or repeating anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def shard_of(load_balancer_id: str, shards: int) -> int:
    if shards < 1:
        raise ValueError("shards must be at least 1")
    digest = hashlib.sha256(load_balancer_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


@dataclass(frozen=True, slots=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count} does not exist")

    @property
    def key(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, load_balancer_id: str) -> bool:
        return self.count == 1 or shard_of(load_balancer_id, self.count) == self.index
