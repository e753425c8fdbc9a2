"""In-memory stand-ins for the monitor's ports (src/zlb_health/ports.py).

They keep the adapters' contracts -- conditional writes on `version`, all-or-nothing claims and
merged outboxes (the store's own `next_outbox`), tick claims with leases, typed errors -- so the
use case's logic is tested in milliseconds; the HTTP tests (emulator, moto's server) stay as the
integration layer that proves the adapters keep the same contracts.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zlb_health.adapters.aws import Deadline
from zlb_health.adapters.publisher import PublishError
from zlb_health.adapters.store import Outbound, Snapshot, StoredState, StoreError, next_outbox
from zlb_health.engine.maintenance import Silence
from zlb_health.engine.notifications import Notification
from zlb_health.engine.state import LbState, SubjectState
from zlb_health.zenlayer.errors import NotFoundError, ZenlayerError
from zlb_health.zenlayer.models import BackendHealth, BackendHealthResult, LoadBalancer, PortHealth


def row(
    instance: str,
    status: str = "Alive",
    *,
    listener: str = "lsn-1",
    ip: str | None = None,
    port: int = 80,
    detail: dict[int, str] | None = None,
) -> BackendHealth:
    return BackendHealth(
        listener_id=listener,
        listener_name=f"name-{listener}",
        protocol="TCP",
        listener_port=str(port),
        instance_id=instance,
        private_ip_address=ip or f"10.0.0.{sum(map(ord, instance)) % 250}",
        backend_port=port,
        weight=100,
        health_status=status,
        health_status_detail=tuple(PortHealth(p, s) for p, s in (detail or {}).items()),
    )


@dataclass
class FakeApi:
    """A fleet you set by hand: `fleet[lb] = [rows]`; failures by (lb, listener or None)."""

    fleet: dict[str, list[BackendHealth]] = field(default_factory=dict)
    failures: dict[tuple[str, str | None], ZenlayerError] = field(default_factory=dict)
    discovery_error: ZenlayerError | None = None
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def describe_load_balancers(
        self, *, page_size: int = 1000, deadline: float | None = None
    ) -> list[LoadBalancer]:
        self.calls.append(("DescribeLoadBalancers", None))
        if self.discovery_error is not None:
            raise self.discovery_error
        return [LoadBalancer(lb, f"name-{lb}") for lb in self.fleet]

    def describe_backend_health(
        self,
        load_balancer_id: str,
        listener_id: str | None = None,
        *,
        deadline: float | None = None,
    ) -> BackendHealthResult:
        self.calls.append((load_balancer_id, listener_id))
        failure = self.failures.get((load_balancer_id, listener_id))
        if failure is not None:
            raise failure
        if load_balancer_id not in self.fleet:
            raise NotFoundError("resource not found", status=404, code="NOT_FOUND")
        rows = self.fleet[load_balancer_id]
        if listener_id is not None:
            rows = [r for r in rows if r.listener_id == listener_id]
        return BackendHealthResult(f"req-{len(self.calls)}", tuple(rows), 1.0)


@dataclass
class InMemoryStore:
    """The table: STATE items with outboxes, snapshots and tick claims, kept as copies."""

    items: dict[str, StoredState] = field(default_factory=dict)
    snapshots: list[Snapshot] = field(default_factory=list)
    ticks: dict[tuple[str, str], tuple[str, float, bool]] = field(default_factory=dict)
    failing: dict[str, str] = field(default_factory=dict)  # operation -> AWS error code
    calls: list[str] = field(default_factory=list)
    before_commit: Any = None  # called with the subject id before each commit (interleaving)
    history: list[Notification] = field(default_factory=list)  # the EVENT items
    silences: dict[str, Silence] = field(default_factory=dict)
    matched: dict[str, int] = field(default_factory=dict)

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        if operation in self.failing:
            raise StoreError(operation, self.failing[operation])

    def load_states(
        self, subject_ids: Sequence[str], *, deadline: Deadline | None = None
    ) -> dict[str, StoredState]:
        self._call("BatchGetItem")
        return {
            sid: copy.deepcopy(self.items.get(sid, StoredState(sid, 0, None)))
            for sid in subject_ids
        }

    def known_load_balancers(self) -> list[str]:
        self._call("Query")
        return sorted(
            sid
            for sid, s in self.items.items()
            if isinstance(s.state, LbState) and not s.state.retired
        )

    def claim_tick(
        self, shard: str, tick: datetime, *, run_id: str, lease_until: float, now: float
    ) -> bool:
        self._call("PutItem")
        key = (shard, tick.isoformat())
        held = self.ticks.get(key)
        if held is not None and (held[2] or held[1] >= now):
            return False
        self.ticks[key] = (run_id, lease_until, False)
        return True

    def finish_tick(self, shard: str, tick: datetime, *, run_id: str) -> None:
        self._call("UpdateItem")
        key = (shard, tick.isoformat())
        owner, lease, _done = self.ticks[key]
        if owner == run_id:
            self.ticks[key] = (owner, lease, True)

    def put_snapshots(
        self, snapshots: Iterable[Snapshot], *, deadline: Deadline | None = None
    ) -> None:
        self._call("BatchWriteItem")
        self.snapshots.extend(snapshots)

    def commit(
        self,
        stored: StoredState,
        new_state: SubjectState,
        notification: Notification | Outbound | None,
        *,
        run_id: str,
        lease_until: float,
        now: float,
    ) -> StoredState | None:
        if self.before_commit is not None:
            self.before_commit(stored.load_balancer_id)
        self._call("TransactWriteItems")
        current = self.items.get(stored.load_balancer_id)
        if (current.version if current else 0) != stored.version:
            return None
        outbound = Outbound.of(notification)
        outbox = next_outbox(stored, outbound, run_id=run_id, lease_until=lease_until, now=now)
        written = StoredState(stored.load_balancer_id, stored.version + 1, new_state, outbox)
        self.items[stored.load_balancer_id] = copy.deepcopy(written)
        self.history.extend(outbound.history)
        return written

    def settle(
        self,
        load_balancer_id: str,
        *,
        delivered: Sequence[str],
        released: Sequence[str],
        run_id: str,
    ) -> bool:
        if not delivered and not released:
            return True
        self._call("UpdateItem")
        stored = self.items[load_balancer_id]
        ids = [*delivered, *released]
        if any(i not in stored.outbox or stored.outbox[i].claim != run_id for i in ids):
            return False
        for i in delivered:
            del stored.outbox[i]
        for i in released:
            stored.outbox[i].claim = None
        stored.version += 1
        return True

    def forget(self, stored: StoredState) -> bool:
        self._call("DeleteItem")
        current = self.items.get(stored.load_balancer_id)
        if current is None or current.version != stored.version:
            return False
        del self.items[stored.load_balancer_id]
        return True

    def load_silences(self) -> list[tuple[Silence, int]]:
        self._call("Query")
        return [(s, self.matched.get(s.id, 0)) for s in self.silences.values()]

    def expire_silence(self, silence: Silence, at: str) -> bool:
        self._call("UpdateItem")
        if silence.id not in self.silences:
            return False
        self.silences[silence.id] = dataclasses.replace(silence, expired_at=at)
        return True

    def count_silenced(self, silence_id: str, changes: int) -> None:
        self._call("UpdateItem")
        self.matched[silence_id] = self.matched.get(silence_id, 0) + changes


@dataclass
class FakePublisher:
    """What SNS accepted, in order; `down` refuses every message, `fail_next` the next N."""

    published: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    fail_next: int = 0

    def publish(
        self, *, subject: str, message: Mapping[str, str], attributes: Mapping[str, str]
    ) -> str:
        if self.down or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            raise PublishError("Throttling")
        self.published.append({"subject": subject, **message, "attributes": dict(attributes)})
        return f"msg-{len(self.published)}"

    def take(self) -> list[dict[str, Any]]:
        out, self.published = self.published, []
        return out
