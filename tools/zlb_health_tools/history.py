"""`zlb-health history`: snapshots and transitions read back from the table, with availability."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from zlb_health.adapters.store import HealthStore, Snapshot, StoreError
from zlb_health.engine.notifications import Notification

_WINDOW = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class UsageError(ValueError):
    pass


def parse_moment(raw: str, *, now: datetime, option: str) -> datetime:
    match = _WINDOW.match(raw.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option}: expected 90m, 24h, 7d or an ISO time, got {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(slots=True)
class Availability:
    backend: str  # listenerId/target/port
    observations: int = 0
    alive: int = 0
    dead: int = 0
    other: int = 0
    last_status: str = ""

    @property
    def percent(self) -> float | None:
        # Unknown/Close carry no health data: availability is Alive over Alive + Dead.
        known = self.alive + self.dead
        return 100.0 * self.alive / known if known else None


def backend_label(row: Sequence[Any]) -> str:
    listener_id, _name, instance_id, ip, port = row[0], row[1], row[2], row[3], row[4]
    return f"{listener_id}/{instance_id or ip}/{port}"


def availability(snapshots: Sequence[Snapshot], backend: str | None = None) -> list[Availability]:
    table: dict[str, Availability] = {}
    for snapshot in snapshots:
        if not snapshot.ok:
            continue
        for row in snapshot.rows:
            label = backend_label(row)
            if backend and label != backend:
                continue
            entry = table.setdefault(label, Availability(label))
            status = str(row[5])
            entry.observations += 1
            entry.last_status = status
            if status == "Alive":
                entry.alive += 1
            elif status == "Dead":
                entry.dead += 1
            else:
                entry.other += 1
    return [table[label] for label in sorted(table)]


def render_history(
    lb_id: str,
    snapshots: Sequence[Snapshot],
    events: Sequence[Notification],
    *,
    backend: str | None,
    out: TextIO,
) -> None:
    failed = sum(1 for s in snapshots if not s.ok)
    out.write(f"{lb_id}: {len(snapshots)} snapshots ({failed} failed checks)")
    if snapshots:
        out.write(
            f", {snapshots[0].observed_at:%Y-%m-%d %H:%M:%S} .. "
            f"{snapshots[-1].observed_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    out.write("\n")
    rows = availability(snapshots, backend)
    if rows:
        width = max(len(r.backend) for r in rows)
        out.write(f"  {'backend':<{width}}  availability  alive  dead  other  last\n")
        for r in rows:
            pct = "n/a" if r.percent is None else f"{r.percent:6.2f}%"
            out.write(
                f"  {r.backend:<{width}}  {pct:>12}  {r.alive:>5}  {r.dead:>4}  "
                f"{r.other:>5}  {r.last_status}\n"
            )
    out.write(
        f"  transitions ({len(events)} notifications):\n"
        if events
        else "  no notifications in this window\n"
    )
    by_type: dict[str, int] = defaultdict(int)
    for event in events:
        by_type[event.event_type] += 1
        picked = [
            t
            for t in event.transitions
            if backend is None
            or f"{t.listener_id}/{t.instance_id or t.private_ip_address}/{t.backend_port}"
            == backend
        ]
        if backend and not picked and event.transitions:
            continue
        out.write(
            f"    {event.observed_at}  {event.event_type:<16} {event.severity:<8} {event.summary}\n"
        )


def run_history(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Exit 0, 1 when reading the table failed, 2 for a bad argument or a missing setting."""
    env = os.environ if env is None else env
    table = (getattr(args, "table_name", None) or env.get("TABLE_NAME", "")).strip()
    if not table:
        err.write("error: TABLE_NAME is not set (the stack's table; or --table-name)\n")
        return 2
    now = datetime.now(UTC)
    try:
        start = parse_moment(args.since, now=now, option="--since")
        end = parse_moment(args.until, now=now, option="--until") if args.until else now
    except UsageError as error:
        err.write(f"error: {error}\n")
        return 2
    import boto3
    from botocore.exceptions import NoCredentialsError, ProfileNotFound

    # boto3 reads AWS_DEFAULT_REGION and the profile; Lambda and many shells set AWS_REGION.
    try:
        region = (
            env.get("AWS_REGION", "").strip()
            or env.get("AWS_DEFAULT_REGION", "").strip()
            or boto3.session.Session().region_name
        )
    except ProfileNotFound as error:
        err.write(f"error: {error} (AWS_PROFILE)\n")
        return 2
    if not region:
        err.write(
            "error: no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a region in the "
            "AWS profile)\n"
        )
        return 2
    try:
        client = boto3.client("dynamodb", region_name=region)
        store = HealthStore(table, ttl_days=1, client=client)
        snapshots = store.snapshots(args.load_balancer_id, start, end)
        events = store.events(args.load_balancer_id, start, end)
    except ProfileNotFound as error:
        err.write(f"error: {error} (AWS_PROFILE)\n")
        return 2
    except StoreError as error:
        cause = error.__cause__
        if isinstance(cause, ProfileNotFound):
            err.write(f"error: {cause} (AWS_PROFILE)\n")
            return 2
        if isinstance(cause, NoCredentialsError):
            err.write(
                "error: no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (see README, The command line)\n"
            )
            return 2
        detail = " ".join(str(cause or error).split())
        name = type(cause).__name__ if cause is not None else error.code
        err.write(f"error: reading {table} in {region} failed: {name}: {detail}\n")
        return 1
    if args.json:
        json.dump(
            {
                "loadBalancerId": args.load_balancer_id,
                "snapshots": len(snapshots),
                "availability": [
                    {
                        "backend": r.backend,
                        "percent": r.percent,
                        "alive": r.alive,
                        "dead": r.dead,
                        "other": r.other,
                        "lastStatus": r.last_status,
                    }
                    for r in availability(snapshots, args.backend)
                ],
                "events": [e.to_dict() for e in events],
            },
            out,
            indent=2,
        )
        out.write("\n")
        return 0
    render_history(args.load_balancer_id, snapshots, events, backend=args.backend, out=out)
    return 0
