"""Count every AWS API call a process makes, and DynamoDB's billed request units.

Installed in the function process by patching botocore's `BaseClient._make_api_call`, so every
client is seen whichever session created it (powertools' Secrets Manager client included).
Request units follow DynamoDB's on-demand rules (https://docs.aws.amazon.com/amazondynamodb/
latest/developerguide/read-write-operations.html):

- write: ceil(item size / 1 KB) per item put (BatchWriteItem, PutItem); transactional writes
  count twice; UpdateItem is billed on the larger of the item before and after (we use the
  last size we wrote for that key); every write to an item carrying GSI1's keys writes the
  index too (projection ALL: the same size again);
- read: strongly consistent, ceil(item size / 4 KB) per item returned, 1 for an item asked for
  and not found; transactional reads twice (the function does none).

Item sizes follow the documented formula: attribute name bytes + value bytes, numbers about
1 byte per 2 significant digits + 1, maps and lists 3 bytes + 1 byte per element + contents.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

GSI_KEYS = ("GSI1PK", "GSI1SK")


def value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(inner)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum(value_size({"N": n}) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in item.items())


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return (item.get("PK", {}).get("S", ""), item.get("SK", {}).get("S", ""))


@dataclass
class Accounting:
    """What one process asked of AWS. `snapshot()` + `delta()` give per-run figures."""

    calls: Counter[str] = field(default_factory=Counter)  # "service.Operation" -> API calls
    attempts: Counter[str] = field(default_factory=Counter)  # HTTP round trips (retries too)
    wru: float = 0.0  # table write request units
    gsi_wru: float = 0.0  # index write request units
    rru: float = 0.0
    items_put: int = 0
    item_bytes: int = 0
    largest_item: int = 0
    snapshot_sizes: list[int] = field(default_factory=list)
    state_sizes: list[int] = field(default_factory=list)  # STATE items written (sizes)
    state_writes: int = 0  # write calls that touch a STATE item (commits, settles, deletes)
    _sizes: dict[tuple[str, str], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _put(self, item: dict[str, Any], factor: int) -> None:
        size = item_size(item)
        units = math.ceil(size / 1024)
        self.wru += units * factor
        if all(k in item for k in GSI_KEYS):
            self.gsi_wru += units * factor
        self.items_put += 1
        self.item_bytes += size
        self.largest_item = max(self.largest_item, size)
        if _key(item)[1].startswith("SNAP#"):
            self.snapshot_sizes.append(size)
        elif _key(item)[1] == "STATE":
            self.state_sizes.append(size)
        self._sizes[_key(item)] = size

    def before(self, service: str, operation: str, params: dict[str, Any]) -> None:  # noqa: PLR0912 - one branch per DynamoDB operation counted
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1
            if service != "dynamodb":
                return
            if operation == "BatchWriteItem":
                for requests in params.get("RequestItems", {}).values():
                    for request in requests:
                        if "PutRequest" in request:
                            self._put(request["PutRequest"]["Item"], 1)
                        else:
                            self.wru += 1
            elif operation == "PutItem":
                self._put(params["Item"], 1)
            elif operation == "TransactWriteItems":
                self.state_writes += 1
                for action in params.get("TransactItems", []):
                    if "Put" in action:
                        self._put(action["Put"]["Item"], 2)
                    else:
                        self.wru += 2
            elif operation in {"UpdateItem", "DeleteItem"}:
                key = params["Key"]
                if key["SK"]["S"] == "STATE":
                    self.state_writes += 1
                size = self._sizes.get((key["PK"]["S"], key["SK"]["S"]), 1024)
                self.wru += math.ceil(size / 1024)
                if key["SK"]["S"] == "STATE":  # STATE items carry GSI1's keys
                    self.gsi_wru += math.ceil(size / 1024)

    def after(self, service: str, operation: str, params: dict[str, Any], parsed: Any) -> None:
        with self._lock:
            retries = int(parsed.get("ResponseMetadata", {}).get("RetryAttempts", 0))
            self.attempts[f"{service}.{operation}"] += 1 + retries
            if service != "dynamodb":
                return
            if operation == "BatchGetItem":
                asked = sum(len(r.get("Keys", [])) for r in params["RequestItems"].values())
                found = [i for items in parsed.get("Responses", {}).values() for i in items]
                unprocessed = sum(
                    len(r.get("Keys", [])) for r in parsed.get("UnprocessedKeys", {}).values()
                )
                self.rru += sum(math.ceil(item_size(i) / 4096) for i in found)
                self.rru += max(0, asked - len(found) - unprocessed)  # not found: 1 each
            elif operation == "Query":
                size = sum(item_size(i) for i in parsed.get("Items", []))
                self.rru += max(1, math.ceil(size / 4096))
            elif operation == "GetItem":
                item = parsed.get("Item")
                self.rru += math.ceil(item_size(item) / 4096) if item else 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "attempts": dict(self.attempts),
                "wru": self.wru,
                "gsi_wru": self.gsi_wru,
                "rru": self.rru,
                "items_put": self.items_put,
                "item_bytes": self.item_bytes,
                "largest_item": self.largest_item,
                "snapshots": len(self.snapshot_sizes),
                "snapshot_bytes": sum(self.snapshot_sizes),
                "states": len(self.state_sizes),
                "state_bytes": sum(self.state_sizes),
                "state_writes": self.state_writes,
            }


def delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in after.items():
        if isinstance(value, dict):
            out[name] = {
                k: v - before[name].get(k, 0) for k, v in value.items() if v != before[name].get(k)
            }
        elif name == "largest_item":
            out[name] = value
        else:
            out[name] = value - before[name]
    return out


def install() -> Accounting:
    """Patch botocore so every API call of this process is accounted. Returns the ledger."""
    from botocore.client import BaseClient

    ledger = Accounting()
    original = BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        ledger.before(service, operation_name, api_params)
        try:
            parsed = original(self, operation_name, api_params)
        except Exception as error:
            response = getattr(error, "response", None) or {}
            ledger.after(service, operation_name, api_params, response)
            raise
        ledger.after(service, operation_name, api_params, parsed)
        return parsed

    BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    return ledger
