"""DynamoDB adapter: one table holds state, snapshots and events (key schema in the README).

    PK         SK                       GSI1PK        GSI1SK               what
    LB#<lb>    STATE                    LATEST        <lb>                 latest state + outbox
    LB#<lb>    SNAP#<observedAt>        -             -                    a snapshot per run (TTL)
    LB#<lb>    EVENT#<observedAt>#<id>  EVENTS#<day>  <observedAt>#<lb>    a notification (TTL)

Ownership of a change is decided by a conditional write on the STATE item's `version`:
whoever moves it from v to v+1 owns the notification created by that change. Pending
notifications live in the STATE item's `outbox` map until SNS has accepted them; each carries
a claim (the run that may publish it) and a lease, so a crashed run's work passes to the next.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from zlb_health.engine.notifications import Notification
from zlb_health.engine.state import LbState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

STATE_SK = "STATE"
LATEST_INDEX_PK = "LATEST"
GSI1 = "GSI1"
BATCH_GET_LIMIT = 100  # DynamoDB's BatchGetItem maximum
BATCH_WRITE_LIMIT = 25  # DynamoDB's BatchWriteItem maximum
SNAPSHOT_WRITERS = 4  # BatchWriteItem requests in flight at once
# Keep the STATE item well below DynamoDB's 400 KB item limit even when SNS is down for long:
# beyond this many pending notifications the oldest are dropped (and counted) rather than
# making every later write fail.
MAX_PENDING_PER_LOAD_BALANCER = 20
_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


class StoreError(Exception):
    """DynamoDB refused or failed an operation the run cannot do without."""


def compress(document: Any) -> bytes:
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode("utf-8"), 6)


def decompress(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


def lb_pk(load_balancer_id: str) -> str:
    return f"LB#{load_balancer_id}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class PendingNotification:
    notification: Notification
    claim: str | None
    lease_until: float  # epoch seconds; after it another run may take the claim over

    def claimable(self, now: float) -> bool:
        return self.claim is None or self.lease_until <= now


@dataclass(slots=True)
class StoredState:
    load_balancer_id: str
    version: int  # 0: no STATE item yet
    state: LbState | None
    outbox: dict[str, PendingNotification] = field(default_factory=dict)

    def claimed_by(self, run_id: str) -> list[Notification]:
        return [
            pending.notification
            for _, pending in sorted(self.outbox.items())
            if pending.claim == run_id
        ]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one run saw of one load balancer (or why it saw nothing)."""

    load_balancer_id: str
    observed_at: datetime
    ok: bool
    request_id: str | None
    latency_ms: float | None
    rows: tuple[tuple[Any, ...], ...] = ()  # see backend_rows() in the service
    counts: dict[str, int] = field(default_factory=dict)
    error: dict[str, Any] | None = None


class HealthStore:
    def __init__(
        self,
        table_name: str,
        *,
        ttl_days: int,
        client: DynamoDBClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self.ttl = timedelta(days=ttl_days)
        self._client: DynamoDBClient = client or boto3.client("dynamodb")
        self._sleep = sleep
        self.write_requests = 0
        self.read_requests = 0
        self.items_written = 0
        self.bytes_written = 0

    # -- reads ---------------------------------------------------------------------------

    def load_states(self, load_balancer_ids: Sequence[str]) -> dict[str, StoredState]:
        """Every load balancer's STATE item (a fresh empty one when none is stored)."""
        found: dict[str, StoredState] = {lb: StoredState(lb, 0, None) for lb in load_balancer_ids}
        ids = list(dict.fromkeys(load_balancer_ids))
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            keys: list[dict[str, Any]] = [
                {"PK": {"S": lb_pk(lb)}, "SK": {"S": STATE_SK}}
                for lb in ids[start : start + BATCH_GET_LIMIT]
            ]
            request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(8):
                response = self._call(self._client.batch_get_item, RequestItems=request)
                self.read_requests += 1
                for item in response.get("Responses", {}).get(self.table_name, []):
                    stored = _stored_state_from_item(item)
                    found[stored.load_balancer_id] = stored
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                self._backoff(attempt)
            else:
                raise StoreError("BatchGetItem kept returning unprocessed keys")
        return found

    def known_load_balancers(self) -> list[str]:
        """Load balancers with a stored state (used when discovery itself fails)."""
        items = self._query_all(
            IndexName=GSI1,
            KeyConditionExpression="GSI1PK = :latest",
            ExpressionAttributeValues={":latest": {"S": LATEST_INDEX_PK}},
            ProjectionExpression="GSI1SK",
        )
        return [item["GSI1SK"]["S"] for item in items]

    def snapshots(self, load_balancer_id: str, start: datetime, end: datetime) -> list[Snapshot]:
        items = self._query_range(load_balancer_id, f"SNAP#{iso(start)}", f"SNAP#{iso(end)}")
        return [_snapshot_from_item(item) for item in items]

    def events(self, load_balancer_id: str, start: datetime, end: datetime) -> list[Notification]:
        items = self._query_range(
            load_balancer_id, f"EVENT#{iso(start)}", f"EVENT#{iso(end)}\uffff"
        )
        return [Notification.from_dict(decompress(item["notification"]["B"])) for item in items]

    def recent_events(self, day: datetime) -> list[Notification]:
        """Every load balancer's notifications of one UTC day, newest first (GSI1)."""
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

    def _query_all(self, **query: Any) -> list[dict[str, Any]]:
        """Every item of a Query on this table, following LastEvaluatedKey."""
        kwargs: dict[str, Any] = {"TableName": self.table_name, **query}
        items: list[dict[str, Any]] = []
        while True:
            response = self._call(self._client.query, **kwargs)
            self.read_requests += 1
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- writes --------------------------------------------------------------------------

    def put_snapshots(self, snapshots: Iterable[Snapshot]) -> None:
        """One item per load balancer, 25 to a request, a few requests at once.

        Overwrites are harmless: a duplicate run of the same tick writes the same key.
        """
        requests = [{"PutRequest": {"Item": self._snapshot_item(s)}} for s in snapshots]
        batches = [
            requests[start : start + BATCH_WRITE_LIMIT]
            for start in range(0, len(requests), BATCH_WRITE_LIMIT)
        ]
        self.items_written += len(requests)
        if len(batches) <= 1:
            self.write_requests += sum(map(self._write_batch, batches))
            return
        with ThreadPoolExecutor(max_workers=min(SNAPSHOT_WRITERS, len(batches))) as pool:
            self.write_requests += sum(pool.map(self._write_batch, batches))

    def _write_batch(self, batch_items: list[dict[str, Any]]) -> int:
        """BatchWriteItem until nothing is left unprocessed; returns the requests made."""
        batch: dict[str, Any] = {self.table_name: batch_items}
        for attempt in range(8):
            response = self._call(self._client.batch_write_item, RequestItems=batch)
            batch = response.get("UnprocessedItems") or {}
            if not batch:
                return attempt + 1
            self._backoff(attempt)
        raise StoreError("BatchWriteItem kept returning unprocessed items")

    def commit(
        self,
        stored: StoredState,
        new_state: LbState,
        notification: Notification | None,
        *,
        run_id: str,
        lease_until: float,
        now: float,
    ) -> StoredState | None:
        """Write the new state if nobody else moved it since `stored` was read.

        The new notification (if any) joins the outbox; it and every pending notification whose
        lease has run out are claimed by `run_id`. Returns the state as written, or None when
        another run got there first (the caller reloads and re-evaluates).
        """
        outbox = dict(stored.outbox)
        if notification is not None:
            outbox[notification.id] = PendingNotification(notification, None, 0.0)
        outbox = _bounded(outbox)
        for pending in outbox.values():
            if pending.claimable(now):
                pending.claim, pending.lease_until = run_id, lease_until
        written = StoredState(stored.load_balancer_id, stored.version + 1, new_state, outbox)
        state_item = self._state_item(written)
        if stored.version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(stored.version)}},
            }
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table_name, "Item": state_item, **condition}}
        ]
        if notification is not None:
            actions.append(
                {"Put": {"TableName": self.table_name, "Item": self._event_item(notification)}}
            )
        try:
            self._call(self._client.transact_write_items, TransactItems=actions)
        except ClientError as error:
            if _is_condition_failure(error):
                return None
            raise
        finally:
            self.write_requests += 1
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
        try:
            self._call(
                self._client.update_item,
                TableName=self.table_name,
                Key={"PK": {"S": lb_pk(load_balancer_id)}, "SK": {"S": STATE_SK}},
                UpdateExpression=expression,
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        finally:
            self.write_requests += 1
        return True

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
                }
            }
            for notification_id, pending in stored.outbox.items()
        }
        item = {
            "PK": {"S": lb_pk(stored.load_balancer_id)},
            "SK": {"S": STATE_SK},
            "GSI1PK": {"S": LATEST_INDEX_PK},
            "GSI1SK": {"S": stored.load_balancer_id},
            "loadBalancerId": {"S": stored.load_balancer_id},
            "version": {"N": str(stored.version)},
            "state": {"B": state_blob},
            "outbox": {"M": outbox},
            "updatedAt": {"S": iso(datetime.now(UTC))},
        }
        self.bytes_written += len(state_blob)
        return item

    def _event_item(self, notification: Notification) -> dict[str, Any]:
        observed = datetime.fromisoformat(notification.observed_at.replace("Z", "+00:00"))
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
        return item

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, operation: Callable[..., Any], **kwargs: Any) -> Any:
        """botocore already retries throttling; this adds a few patient retries on top."""
        for attempt in range(4):
            try:
                return operation(**kwargs)
            except ClientError as error:
                if _error_code(error) not in _RETRYABLE_CODES or attempt == 3:
                    raise
                self._backoff(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> None:
        self._sleep(min(2.0, 0.05 * 2**attempt))


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _is_condition_failure(error: ClientError) -> bool:
    code = _error_code(error)
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons
    return False


def _bounded(outbox: dict[str, PendingNotification]) -> dict[str, PendingNotification]:
    if len(outbox) <= MAX_PENDING_PER_LOAD_BALANCER:
        return outbox
    ordered = sorted(outbox)  # ids end in a zero-padded sequence number: oldest first
    dropped = ordered[:-MAX_PENDING_PER_LOAD_BALANCER]
    logger.error(
        "too many undelivered notifications: dropping the oldest",
        extra={"dropped": dropped, "kept": MAX_PENDING_PER_LOAD_BALANCER},
    )
    return {key: outbox[key] for key in ordered[-MAX_PENDING_PER_LOAD_BALANCER:]}


def _stored_state_from_item(item: dict[str, Any]) -> StoredState:
    outbox: dict[str, PendingNotification] = {}
    for notification_id, entry in item.get("outbox", {}).get("M", {}).items():
        fields = entry["M"]
        claim = fields.get("claim", {}).get("S")
        outbox[notification_id] = PendingNotification(
            Notification.from_dict(decompress(fields["notification"]["B"])),
            claim,
            float(fields.get("leaseUntil", {}).get("N", "0")),
        )
    return StoredState(
        load_balancer_id=item["loadBalancerId"]["S"],
        version=int(item["version"]["N"]),
        state=LbState.from_dict(decompress(item["state"]["B"])),
        outbox=outbox,
    )


def _snapshot_from_item(item: dict[str, Any]) -> Snapshot:
    observed = datetime.fromisoformat(item["SK"]["S"].removeprefix("SNAP#").replace("Z", "+00:00"))
    return Snapshot(
        load_balancer_id=item["PK"]["S"].removeprefix("LB#"),
        observed_at=observed,
        ok=item["ok"]["BOOL"],
        request_id=item.get("requestId", {}).get("S"),
        latency_ms=float(item["latencyMs"]["N"]) if "latencyMs" in item else None,
        rows=tuple(tuple(row) for row in decompress(item["rows"]["B"])),
        counts={k: int(v["N"]) for k, v in item.get("counts", {}).get("M", {}).items()},
        error=json.loads(item["error"]["S"]) if "error" in item else None,
    )
