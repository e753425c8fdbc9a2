"""DynamoDB adapter: one table holds states, snapshots, events and tick markers (README, Storage).

    PK              SK                       GSI1PK        GSI1SK             what
    LB#<lb>         STATE                    LATEST        <lb>               state + outbox
    LB#*            STATE                    -             -                  the fleet
    LB#<lb>         SNAP#<observedAt>        -             -                  a snapshot (TTL)
    LB#<lb>         EVENT#<observedAt>#<id>  EVENTS#<day>  <observedAt>#<lb>  a notification
    TICK#<i>/<n>    <tick>                   -             -                  a run's tick (TTL)
    SILENCE         <silenceId>              -             -                  a maintenance silence

Ownership of a change is decided by a conditional write on the STATE item's `version`:
whoever moves it from v to v+1 owns the notification created by that change. Undelivered
notifications live in the STATE item's `outbox` until SNS has accepted them. Each carries a claim
(the run that may publish it) and a lease, so a crashed run's work passes to the next. Claims are
all or nothing per subject: a run claims a subject's outbox only when no other run holds a live
claim on any of it, and what it claims is merged into its net effect (`coalesce`), so messages
about one load balancer can never be delivered out of order, and the outbox never grows past
one entry per run in flight however long SNS is down.

Every AWS failure leaves this module as a `StoreError` naming the operation and the AWS error
code; a lost condition (another run moved first) is an answer (`None` / `False`), not an error.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from zlb_health.adapters import aws
from zlb_health.adapters.aws import Deadline
from zlb_health.engine.coalesce import coalesce
from zlb_health.engine.maintenance import Silence
from zlb_health.engine.notifications import Notification
from zlb_health.engine.state import FLEET_ID, FleetState, LbState, SubjectState, iso, parse_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

STATE_SK: Final = "STATE"
LATEST_INDEX_PK: Final = "LATEST"
GSI1: Final = "GSI1"
BATCH_GET_LIMIT: Final = 100  # DynamoDB's BatchGetItem maximum
BATCH_WRITE_LIMIT: Final = 25  # DynamoDB's BatchWriteItem maximum
SNAPSHOT_WRITERS: Final = 4  # BatchWriteItem requests in flight at once
TICK_TTL: Final = timedelta(days=2)
SILENCE_PK: Final = "SILENCE"
_CONDITION_FAILED: Final = frozenset({"ConditionalCheckFailedException", "ConditionalCheckFailed"})


class StoreError(Exception):
    """DynamoDB refused or failed an operation the run cannot do without."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"DynamoDB {operation} failed: {code}")
        self.operation = operation
        self.code = code


def compress(document: Any) -> bytes:
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode("utf-8"), 6)


def decompress(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


def lb_pk(subject_id: str) -> str:
    return f"LB#{subject_id}"


@dataclass(slots=True)
class PendingNotification:
    notification: Notification
    claim: str | None
    lease_until: float  # epoch seconds; after it another run may take the claim over
    held: str | None = None  # held back by this silence until it ends: never claimable

    def claimable(self, now: float) -> bool:
        return self.held is None and (self.claim is None or self.lease_until <= now)


@dataclass(frozen=True, slots=True)
class Outbound:
    """What one commit adds: notifications to deliver, notifications a silence holds back,
    and the silences that ended (their held entries leave the outbox: the maintenance_ended
    notification among `deliver` tells their net effect)."""

    deliver: tuple[Notification, ...] = ()
    held: tuple[Notification, ...] = ()
    released: tuple[str, ...] = ()

    @classmethod
    def of(cls, notification: Notification | Outbound | None) -> Outbound:
        if isinstance(notification, Outbound):
            return notification
        return cls((notification,) if notification is not None else ())

    @property
    def history(self) -> tuple[Notification, ...]:
        return (*self.deliver, *self.held)


@dataclass(slots=True)
class StoredState:
    """A subject's STATE item: a load balancer (`LbState`) or the fleet (`FleetState`)."""

    load_balancer_id: str
    version: int  # 0: no STATE item yet
    state: SubjectState | None
    outbox: dict[str, PendingNotification] = field(default_factory=dict)

    def claimed_by(self, run_id: str) -> list[Notification]:
        return [p.notification for _, p in sorted(self.outbox.items()) if p.claim == run_id]

    def blocked(self, now: float, run_id: str) -> bool:
        """Another run holds a live claim on part of the outbox: leave it all to that run."""
        return any(_claimed_elsewhere(p, now, run_id) for p in self.outbox.values())

    def deliverable(self, now: float, run_id: str) -> bool:
        """Something is waiting to be sent (held entries wait for their silence instead)."""
        waiting = any(p.held is None for p in self.outbox.values())
        return waiting and not self.blocked(now, run_id)


def _claimed_elsewhere(pending: PendingNotification, now: float, run_id: str) -> bool:
    return pending.held is None and not pending.claimable(now) and pending.claim != run_id


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one run saw of one load balancer (or why it saw nothing)."""

    load_balancer_id: str
    observed_at: datetime
    ok: bool
    request_id: str | None
    latency_ms: float | None
    rows: tuple[tuple[Any, ...], ...] = ()  # see backend_rows() in the monitor
    counts: dict[str, int] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    invalid_rows: int = 0
    # Written when what was seen changed, and at least every `heartbeat_minutes` (None: an
    # older item, written every run): until the next snapshot, what it saw still held.
    heartbeat_minutes: int | None = None


class HealthStore:
    def __init__(
        self,
        table_name: str,
        *,
        ttl_days: int = 30,
        client: DynamoDBClient | None = None,
    ) -> None:
        self.table_name = table_name
        self.ttl = timedelta(days=ttl_days)
        self._client: DynamoDBClient = client or aws.client("dynamodb")
        self.write_requests = 0
        self.read_requests = 0
        self.items_written = 0
        self.bytes_written = 0
        # Decoded states kept for the next read, with the bytes each came from. A warm
        # container reads most STATE items back exactly as it wrote them, and decoding them
        # (zlib, JSON, from_dict) cost as much CPU as the engine's steady work. A hit is the
        # same bytes, so the same state; it is shared, which is safe because nothing changes a
        # state read from the store in place (the engine copies: rules.apply_observation), and
        # the soak checks that after every step (`states_changed_in_place`). Only the last
        # read of several subjects is kept (`load_states`): memory for one shard's states.
        self._decoded: dict[str, tuple[bytes, LbState]] = {}

    @property
    def client(self) -> DynamoDBClient:
        return self._client

    # -- reads ---------------------------------------------------------------------------

    def load_states(
        self, subject_ids: Sequence[str], *, deadline: Deadline | None = None
    ) -> dict[str, StoredState]:
        """Every subject's STATE item (a fresh empty one when none is stored).

        A read of several subjects (a run reads its shard's) replaces the decoded states kept
        for the next read, so a container that serves several shards in turn keeps one shard's,
        never the whole fleet's; a read of one subject (a retried commit's) adds to them."""
        found = {sid: StoredState(sid, 0, None) for sid in subject_ids}
        ids = list(dict.fromkeys(subject_ids))
        kept = {} if len(ids) > 1 else self._decoded
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            keys: list[dict[str, Any]] = [
                {"PK": {"S": lb_pk(sid)}, "SK": {"S": STATE_SK}}
                for sid in ids[start : start + BATCH_GET_LIMIT]
            ]
            request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                _check(deadline, "BatchGetItem")
                response = self._call(
                    "BatchGetItem", self._client.batch_get_item, RequestItems=request
                )
                self.read_requests += 1
                for item in response.get("Responses", {}).get(self.table_name, []):
                    stored = self._stored_state(item, kept)
                    found[stored.load_balancer_id] = stored
                request = response.get("UnprocessedKeys") or {}
        self._decoded = kept
        return found

    def known_load_balancers(self) -> list[str]:
        """Load balancers with a stored state (the LATEST index)."""
        items = self._query_all(
            IndexName=GSI1,
            KeyConditionExpression="GSI1PK = :latest",
            ExpressionAttributeValues={":latest": {"S": LATEST_INDEX_PK}},
            ProjectionExpression="GSI1SK",
        )
        return [item["GSI1SK"]["S"] for item in items]

    def latest_states(self) -> list[StoredState]:
        """Every load balancer's STATE item, from the LATEST index (one paginated query)."""
        items = self._query_all(
            IndexName=GSI1,
            KeyConditionExpression="GSI1PK = :latest",
            ExpressionAttributeValues={":latest": {"S": LATEST_INDEX_PK}},
        )
        kept: dict[str, tuple[bytes, LbState]] = {}
        states = [self._stored_state(item, kept) for item in items]
        self._decoded = kept
        return states

    def states_changed_in_place(self) -> list[str]:
        """The load balancers whose kept decoded state no longer equals its bytes (a bug:
        the next run would start from it); the soak asserts there are none."""
        return [
            lb_id
            for lb_id, (blob, state) in sorted(self._decoded.items())
            if _decoded_state(lb_id, blob) != state
        ]

    def _stored_state(
        self, item: dict[str, Any], kept: dict[str, tuple[bytes, LbState]]
    ) -> StoredState:
        """The item as a StoredState, its state decoded unless kept from its bytes; the state
        is kept in `kept` for the next read."""
        subject_id = item["loadBalancerId"]["S"]
        blob: bytes = item["state"]["B"]
        known = self._decoded.get(subject_id)
        state = known[1] if known and known[0] == blob else _decoded_state(subject_id, blob)
        if isinstance(state, LbState):
            kept[subject_id] = (blob, state)
        return _stored_state_from_item(item, state)

    def snapshots(self, load_balancer_id: str, start: datetime, end: datetime) -> list[Snapshot]:
        """The snapshots in [start, end], and the one before `start` when none is at `start`
        (what held then: snapshots are written on change and at the heartbeat, not every run)."""
        low = f"SNAP#{iso(start)}"
        items = self._query_range(load_balancer_id, low, f"SNAP#{iso(end)}")
        if not items or items[0]["SK"]["S"] > low:
            before = self._query_all(
                KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
                ExpressionAttributeValues={
                    ":pk": {"S": lb_pk(load_balancer_id)},
                    ":low": {"S": "SNAP#"},
                    ":high": {"S": low},
                },
                ScanIndexForward=False,
                Limit=1,
                pages=1,
            )
            items = [i for i in before if i["SK"]["S"] < low] + items
        return [_snapshot_from_item(item) for item in items]

    def events(self, load_balancer_id: str, start: datetime, end: datetime) -> list[Notification]:
        items = self._query_range(
            load_balancer_id, f"EVENT#{iso(start)}", f"EVENT#{iso(end)}\uffff"
        )
        return [Notification.from_dict(decompress(item["notification"]["B"])) for item in items]

    def recent_events(self, day: datetime) -> list[Notification]:
        """Every subject's notifications of one UTC day, newest first (GSI1)."""
        items = self._query_all(
            IndexName=GSI1,
            KeyConditionExpression="GSI1PK = :day",
            ExpressionAttributeValues={":day": {"S": f"EVENTS#{day.date().isoformat()}"}},
            ScanIndexForward=False,
        )
        return [Notification.from_dict(decompress(item["notification"]["B"])) for item in items]

    def _query_range(self, load_balancer_id: str, low: str, high: str) -> list[dict[str, Any]]:
        return self._query_all(
            KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": lb_pk(load_balancer_id)},
                ":low": {"S": low},
                ":high": {"S": high},
            },
        )

    def _query_all(self, *, pages: int | None = None, **query: Any) -> list[dict[str, Any]]:
        """Every item of a Query on this table, following LastEvaluatedKey (at most `pages`
        pages when given: with a Limit, the first items only)."""
        kwargs: dict[str, Any] = {"TableName": self.table_name, **query}
        items: list[dict[str, Any]] = []
        read = 0
        while True:
            response = self._call("Query", self._client.query, **kwargs)
            self.read_requests += 1
            read += 1
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response or (pages is not None and read >= pages):
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- ticks ---------------------------------------------------------------------------

    def claim_tick(
        self, shard: str, tick: datetime, *, run_id: str, lease_until: float, now: float
    ) -> bool:
        """Record that `run_id` observes this tick. False when another delivery of the same
        tick already did (or still does): that delivery is the tick's one observation.

        A run that died mid-way (its lease over, never finished) is taken over, so a crash does
        not cost the tick; a finished one never is.
        """
        return self._conditional(
            "PutItem",
            self._client.put_item,
            TableName=self.table_name,
            Item={
                "PK": {"S": f"TICK#{shard}"},
                "SK": {"S": iso(tick)},
                "owner": {"S": run_id},
                "leaseUntil": {"N": repr(lease_until)},
                "done": {"BOOL": False},
                "expiresAt": {"N": str(int((tick + TICK_TTL).timestamp()))},
            },
            ConditionExpression=("attribute_not_exists(PK) OR (done = :no AND leaseUntil < :now)"),
            ExpressionAttributeValues={":no": {"BOOL": False}, ":now": {"N": repr(now)}},
        )

    def finish_tick(self, shard: str, tick: datetime, *, run_id: str) -> None:
        finished = self._conditional(
            "UpdateItem",
            self._client.update_item,
            TableName=self.table_name,
            Key={"PK": {"S": f"TICK#{shard}"}, "SK": {"S": iso(tick)}},
            UpdateExpression="SET done = :yes",
            ConditionExpression="#owner = :run",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":yes": {"BOOL": True}, ":run": {"S": run_id}},
        )
        if not finished:
            logger.warning("another run took this tick over", extra={"tick": iso(tick)})

    # -- writes --------------------------------------------------------------------------

    def put_snapshots(
        self, snapshots: Iterable[Snapshot], *, deadline: Deadline | None = None
    ) -> None:
        """One item per load balancer, 25 to a request, a few requests at once.

        Overwrites are harmless: a duplicate run of the same tick writes the same key.
        """
        requests = [{"PutRequest": {"Item": self._snapshot_item(s)}} for s in snapshots]
        batches = [
            requests[start : start + BATCH_WRITE_LIMIT]
            for start in range(0, len(requests), BATCH_WRITE_LIMIT)
        ]
        self.items_written += len(requests)

        def write(batch: list[dict[str, Any]]) -> int:
            return self._write_batch(batch, deadline)

        if len(batches) <= 1:
            self.write_requests += sum(map(write, batches))
            return
        with ThreadPoolExecutor(max_workers=min(SNAPSHOT_WRITERS, len(batches))) as pool:
            self.write_requests += sum(pool.map(write, batches))

    def _write_batch(self, batch_items: list[dict[str, Any]], deadline: Deadline | None) -> int:
        """BatchWriteItem until nothing is left unprocessed; returns the requests made."""
        batch: dict[str, Any] = {self.table_name: batch_items}
        requests = 0
        while batch:
            _check(deadline, "BatchWriteItem")
            response = self._call(
                "BatchWriteItem", self._client.batch_write_item, RequestItems=batch
            )
            requests += 1
            batch = response.get("UnprocessedItems") or {}
        return requests

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
        """Write the new state if nobody else moved it since `stored` was read.

        New notifications join the outbox (held ones under their silence). Unless another run
        holds a live claim there, every claimable notification is merged into its net effect
        and claimed by `run_id`. Every new notification is also written to the history. Returns
        the state as written, or None when another run got there first (the caller reloads and
        re-evaluates).
        """
        outbound = Outbound.of(notification)
        outbox = next_outbox(stored, outbound, run_id=run_id, lease_until=lease_until, now=now)
        written = StoredState(stored.load_balancer_id, stored.version + 1, new_state, outbox)
        if stored.version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(stored.version)}},
            }
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table_name, "Item": self._state_item(written), **condition}}
        ]
        actions += [
            {"Put": {"TableName": self.table_name, "Item": self._event_item(n)}}
            for n in outbound.history
        ]
        if not self._conditional(
            "TransactWriteItems", self._client.transact_write_items, TransactItems=actions
        ):
            return None
        self.items_written += len(actions)
        return written

    def settle(
        self,
        load_balancer_id: str,
        *,
        delivered: Sequence[str],
        released: Sequence[str],
        run_id: str,
    ) -> bool:
        """Remove delivered notifications and give back the claim on undelivered ones.

        Conditional on this run still holding every claim. Bumps `version`, so a concurrent run
        holding an older copy of the outbox cannot write it back.
        """
        if not delivered and not released:
            return True
        names: dict[str, str] = {"#outbox": "outbox"}
        values: dict[str, Any] = {":run": {"S": run_id}, ":one": {"N": "1"}}
        removes: list[str] = []
        sets: list[str] = ["version = version + :one"]
        conditions: list[str] = []
        for index, notification_id in enumerate([*delivered, *released]):
            names[f"#n{index}"] = notification_id
            conditions.append(f"#outbox.#n{index}.claim = :run")
            if index < len(delivered):
                removes.append(f"#outbox.#n{index}")
            else:
                sets.append(f"#outbox.#n{index}.claim = :none")
                values[":none"] = {"NULL": True}
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return self._conditional(
            "UpdateItem",
            self._client.update_item,
            TableName=self.table_name,
            Key={"PK": {"S": lb_pk(load_balancer_id)}, "SK": {"S": STATE_SK}},
            UpdateExpression=expression,
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def forget(self, stored: StoredState) -> bool:
        """Delete a retired load balancer's state once its last word is delivered."""
        return self._conditional(
            "DeleteItem",
            self._client.delete_item,
            TableName=self.table_name,
            Key={"PK": {"S": lb_pk(stored.load_balancer_id)}, "SK": {"S": STATE_SK}},
            ConditionExpression="version = :expected",
            ExpressionAttributeValues={":expected": {"N": str(stored.version)}},
        )

    # -- silences ------------------------------------------------------------------------

    def put_silence(self, silence: Silence) -> bool:
        """Store a new silence; False when one with its id exists already."""
        item: dict[str, Any] = {
            "PK": {"S": SILENCE_PK},
            "SK": {"S": silence.id},
            "silence": {"S": json.dumps(silence.to_dict(), separators=(",", ":"))},
            "matched": {"N": "0"},
        }
        if silence.ends is not None:
            # Kept past its end for `silence list --all` and history, then DynamoDB drops it.
            item["expiresAt"] = {"N": self._expires_at(parse_iso(silence.ends))}
        return self._conditional(
            "PutItem",
            self._client.put_item,
            TableName=self.table_name,
            Item=item,
            ConditionExpression="attribute_not_exists(PK)",
        )

    def load_silences(self) -> list[tuple[Silence, int]]:
        """Every stored silence and how many changes it has held back, in one query."""
        items = self._query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": SILENCE_PK}},
        )
        return [
            (
                Silence.from_dict(
                    {
                        **json.loads(i["silence"]["S"]),
                        **({"expired_at": i["expiredAt"]["S"]} if "expiredAt" in i else {}),
                    }
                ),
                int(i.get("matched", {}).get("N", "0")),
            )
            for i in items
        ]

    def expire_silence(self, silence: Silence, at: str) -> bool:
        """End a silence early, at `at` (fixed-width ISO, `iso()`); False when it does not
        exist or ended earlier already (the earliest end wins: `silence expire` and an
        acknowledgement's own end may race)."""
        ended = dataclasses.replace(silence, expired_at=at)
        return self._conditional(
            "UpdateItem",
            self._client.update_item,
            TableName=self.table_name,
            Key={"PK": {"S": SILENCE_PK}, "SK": {"S": silence.id}},
            UpdateExpression="SET silence = :silence, expiredAt = :at",
            ConditionExpression="attribute_exists(PK) AND "
            "(attribute_not_exists(expiredAt) OR expiredAt > :at)",
            ExpressionAttributeValues={
                ":silence": {"S": json.dumps(ended.to_dict(), separators=(",", ":"))},
                ":at": {"S": at},
            },
        )

    def count_silenced(self, silence_id: str, changes: int) -> None:
        """What `silence list` shows as matched so far (only written when it holds something)."""
        self._call(
            "UpdateItem",
            self._client.update_item,
            TableName=self.table_name,
            Key={"PK": {"S": SILENCE_PK}, "SK": {"S": silence_id}},
            UpdateExpression="ADD matched :n",
            ExpressionAttributeValues={":n": {"N": str(changes)}},
        )
        self.write_requests += 1

    # -- items ---------------------------------------------------------------------------

    def _expires_at(self, moment: datetime) -> str:
        return str(int((moment + self.ttl).timestamp()))

    def _state_item(self, stored: StoredState) -> dict[str, Any]:
        assert stored.state is not None  # noqa: S101 - commit always writes a state
        state_blob = compress(stored.state.to_dict())
        outbox = {
            notification_id: {
                "M": {
                    "notification": {"B": compress(pending.notification.to_dict())},
                    "claim": {"S": pending.claim} if pending.claim else {"NULL": True},
                    "leaseUntil": {"N": repr(pending.lease_until)},
                    **({"held": {"S": pending.held}} if pending.held else {}),
                }
            }
            for notification_id, pending in stored.outbox.items()
        }
        item = {
            "PK": {"S": lb_pk(stored.load_balancer_id)},
            "SK": {"S": STATE_SK},
            "loadBalancerId": {"S": stored.load_balancer_id},
            "version": {"N": str(stored.version)},
            "state": {"B": state_blob},
            "outbox": {"M": outbox},
            "updatedAt": {"S": iso(datetime.now(UTC))},
        }
        if isinstance(stored.state, LbState) and not stored.state.retired:
            # The LATEST index lists the load balancers being watched (status, discovery).
            item["GSI1PK"] = {"S": LATEST_INDEX_PK}
            item["GSI1SK"] = {"S": stored.load_balancer_id}
        self.bytes_written += len(state_blob)
        return item

    def _event_item(self, notification: Notification) -> dict[str, Any]:
        observed = parse_iso(notification.observed_at)
        blob = compress(notification.to_dict())
        self.bytes_written += len(blob)
        return {
            "PK": {"S": lb_pk(notification.load_balancer_id)},
            "SK": {"S": f"EVENT#{iso(observed)}#{notification.id}"},
            "GSI1PK": {"S": f"EVENTS#{observed.date().isoformat()}"},
            "GSI1SK": {"S": f"{iso(observed)}#{notification.load_balancer_id}"},
            "eventType": {"S": notification.event_type},
            "severity": {"S": notification.severity},
            "summary": {"S": notification.summary},
            "notification": {"B": blob},
            "expiresAt": {"N": self._expires_at(observed)},
            **({"silence": {"S": notification.silenced_by}} if notification.silenced_by else {}),
        }

    def _snapshot_item(self, snapshot: Snapshot) -> dict[str, Any]:
        blob = compress([list(row) for row in snapshot.rows])
        self.bytes_written += len(blob)
        item: dict[str, Any] = {
            "PK": {"S": lb_pk(snapshot.load_balancer_id)},
            "SK": {"S": f"SNAP#{iso(snapshot.observed_at)}"},
            "ok": {"BOOL": snapshot.ok},
            "rows": {"B": blob},
            "counts": {"M": {k: {"N": str(v)} for k, v in snapshot.counts.items()}},
            "expiresAt": {"N": self._expires_at(snapshot.observed_at)},
        }
        if snapshot.request_id:
            item["requestId"] = {"S": snapshot.request_id}
        if snapshot.latency_ms is not None:
            item["latencyMs"] = {"N": f"{snapshot.latency_ms:.1f}"}
        if snapshot.error:
            item["error"] = {"S": json.dumps(snapshot.error, separators=(",", ":"))}
        if snapshot.invalid_rows:
            item["invalidRows"] = {"N": str(snapshot.invalid_rows)}
        if snapshot.heartbeat_minutes is not None:
            item["heartbeatMinutes"] = {"N": str(snapshot.heartbeat_minutes)}
        return item

    # -- the error boundary ----------------------------------------------------------------

    def _conditional(self, operation: str, method: Callable[..., Any], **kwargs: Any) -> bool:
        """One conditional write; False when its condition did not hold (another run won)."""
        try:
            self._call(operation, method, **kwargs)
        except StoreError as error:
            if error.code in _CONDITION_FAILED:
                return False
            raise
        finally:
            self.write_requests += 1
        return True

    def _call(self, operation: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        """One DynamoDB call; botocore's own retry policy (adapters.aws) is the only one."""
        try:
            return method(**kwargs)
        except ClientError as error:
            raise StoreError(operation, _error_code(error)) from error
        except BotoCoreError as error:
            raise StoreError(operation, type(error).__name__) from error


def _check(deadline: Deadline | None, operation: str) -> None:
    if deadline is not None and not deadline.allows_call():
        raise StoreError(operation, "RunDeadline")


def _error_code(error: ClientError) -> str:
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons", [])
        if not reasons or any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
            return "ConditionalCheckFailed"
    return code or "Unknown"


def next_outbox(
    stored: StoredState,
    outbound: Outbound,
    *,
    run_id: str,
    lease_until: float,
    now: float,
) -> dict[str, PendingNotification]:
    """Live foreign claims stay; the rest (and the new notifications) merge into one entry,
    claimed by this run unless another run is still delivering part of the outbox. Held
    notifications merge per silence and wait, unclaimed, until their silence is released."""
    live = {k: p for k, p in stored.outbox.items() if _claimed_elsewhere(p, now, run_id)}
    held: dict[str, list[Notification]] = {}
    free: list[Notification] = []
    for key, pending in sorted(stored.outbox.items()):
        if pending.held is not None:
            if pending.held not in outbound.released:
                held.setdefault(pending.held, []).append(pending.notification)
        elif key not in live:
            free.append(pending.notification)
    for n in outbound.held:
        held.setdefault(n.silenced_by or "", []).append(n)
    outbox = dict(live)
    for silence_id, notifications in sorted(held.items()):
        merged = coalesce(notifications)
        if merged is not None:
            outbox[merged.id] = PendingNotification(merged, None, 0.0, held=silence_id)
    merged = coalesce([*free, *outbound.deliver])
    if merged is not None:
        claim = None if live else run_id
        outbox[merged.id] = PendingNotification(merged, claim, lease_until if claim else 0.0)
    return outbox


def _decoded_state(subject_id: str, blob: bytes) -> SubjectState:
    document = decompress(blob)
    return FleetState.from_dict(document) if subject_id == FLEET_ID else LbState.from_dict(document)


def _stored_state_from_item(item: dict[str, Any], state: SubjectState) -> StoredState:
    """The item as a StoredState, with its state (decoded from the item's bytes)."""
    outbox: dict[str, PendingNotification] = {}
    for notification_id, entry in item.get("outbox", {}).get("M", {}).items():
        fields = entry["M"]
        outbox[notification_id] = PendingNotification(
            Notification.from_dict(decompress(fields["notification"]["B"])),
            fields.get("claim", {}).get("S"),
            float(fields.get("leaseUntil", {}).get("N", "0")),
            fields.get("held", {}).get("S"),
        )
    return StoredState(item["loadBalancerId"]["S"], int(item["version"]["N"]), state, outbox)


def _snapshot_from_item(item: dict[str, Any]) -> Snapshot:
    return Snapshot(
        load_balancer_id=item["PK"]["S"].removeprefix("LB#"),
        observed_at=parse_iso(item["SK"]["S"].removeprefix("SNAP#")),
        ok=item["ok"]["BOOL"],
        request_id=item.get("requestId", {}).get("S"),
        latency_ms=float(item["latencyMs"]["N"]) if "latencyMs" in item else None,
        rows=tuple(tuple(row) for row in decompress(item["rows"]["B"])),
        counts={k: int(v["N"]) for k, v in item.get("counts", {}).get("M", {}).items()},
        error=json.loads(item["error"]["S"]) if "error" in item else None,
        invalid_rows=int(item.get("invalidRows", {}).get("N", "0")),
        heartbeat_minutes=int(item["heartbeatMinutes"]["N"])
        if "heartbeatMinutes" in item
        else None,
    )
