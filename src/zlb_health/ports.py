"""What the monitor needs from the world, as small Protocols: the Zenlayer API, the table, the
topic. The adapters (`zenlayer.client`, `adapters.store`, `adapters.publisher`) implement them
over HTTP; `tests/fakes.py` implements them in memory, so the use case runs without servers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from zlb_health.adapters.aws import Deadline
    from zlb_health.adapters.store import Outbound, Snapshot, StoredState
    from zlb_health.engine.maintenance import Silence
    from zlb_health.engine.notifications import Notification
    from zlb_health.engine.state import SubjectState
    from zlb_health.zenlayer.models import BackendHealthResult, LoadBalancer


class HealthApi(Protocol):
    """DescribeLoadBalancers and DescribeBackendHealth; failures raise `ZenlayerError`."""

    def describe_load_balancers(
        self, *, page_size: int = ..., deadline: float | None = None
    ) -> list[LoadBalancer]: ...

    def describe_backend_health(
        self,
        load_balancer_id: str,
        listener_id: str | None = None,
        *,
        deadline: float | None = None,
    ) -> BackendHealthResult: ...


class StateStore(Protocol):
    """States with their outboxes, snapshots, tick claims; failures raise `StoreError`, a lost
    condition (another run moved first) is an answer, not an error."""

    def load_states(
        self, subject_ids: Sequence[str], *, deadline: Deadline | None = None
    ) -> dict[str, StoredState]: ...

    def known_load_balancers(self) -> list[str]: ...

    def claim_tick(
        self, shard: str, tick: datetime, *, run_id: str, lease_until: float, now: float
    ) -> bool: ...

    def finish_tick(self, shard: str, tick: datetime, *, run_id: str) -> None: ...

    def put_snapshots(
        self, snapshots: Iterable[Snapshot], *, deadline: Deadline | None = None
    ) -> None: ...

    def commit(
        self,
        stored: StoredState,
        new_state: SubjectState,
        notification: Notification | Outbound | None,
        *,
        run_id: str,
        lease_until: float,
        now: float,
    ) -> StoredState | None: ...

    def settle(
        self,
        load_balancer_id: str,
        *,
        delivered: Sequence[str],
        released: Sequence[str],
        run_id: str,
    ) -> bool: ...

    def forget(self, stored: StoredState) -> bool: ...

    def load_silences(self) -> list[tuple[Silence, int]]: ...

    def expire_silence(self, silence: Silence, at: str) -> bool: ...

    def count_silenced(self, silence_id: str, changes: int) -> None: ...


class Publisher(Protocol):
    """One SNS Publish; failures raise `PublishError`."""

    def publish(
        self, *, subject: str, message: Mapping[str, str], attributes: Mapping[str, str]
    ) -> str: ...
