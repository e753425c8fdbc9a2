"""`zlb-health history`: snapshots and transitions read back from the table: availability and a
timeline strip per backend (when, not only how much), grouped by listener, and what was sent."""

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
from typing import Any, Final, TextIO

from zlb_health.adapters.store import HealthStore, Snapshot, StoreError
from zlb_health.engine.maintenance import Silence
from zlb_health.engine.notifications import Notification
from zlb_health.engine.state import parse_iso
from zlb_health_tools.awsenv import CliError, aws_failure, client
from zlb_health_tools.cli import EXIT_USAGE
from zlb_health_tools.tableref import resolve_table, table_source
from zlb_health_tools.timeline import LEGEND, Buckets, Strip, classify, paint, use_colour

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
    listener_id: str = ""
    listener_name: str = ""
    observations: int = 0
    alive: int = 0
    dead: int = 0
    other: int = 0
    maintenance: int = 0  # observations under a silence: left out of the percentage
    last_status: str = ""

    @property
    def percent(self) -> float | None:
        # Unknown/Close carry no health data: availability is Alive over Alive + Dead.
        known = self.alive + self.dead
        return 100.0 * self.alive / known if known else None


@dataclass(frozen=True, slots=True)
class Silences:
    """The silences of one load balancer: which one covered a backend at a moment."""

    load_balancer_id: str
    silences: Sequence[Silence] = ()

    def covering(self, row: Sequence[Any], moment: datetime) -> Silence | None:
        listener_id, instance_id, ip, port = str(row[0]), row[2], str(row[3]), str(row[4])
        targets = [t for t in (instance_id, ip) if t]
        return next(
            (
                s
                for s in self.silences
                if s.matches(self.load_balancer_id, listener_id, targets, port)
                and s.active_at(moment)
            ),
            None,
        )


NO_SILENCES: Final = Silences("")


def backend_label(row: Sequence[Any]) -> str:
    listener_id, _name, instance_id, ip, port = row[0], row[1], row[2], row[3], row[4]
    return f"{listener_id}/{instance_id or ip}/{port}"


def availability(
    snapshots: Sequence[Snapshot],
    backend: str | None = None,
    silences: Silences = NO_SILENCES,
) -> list[Availability]:
    table: dict[str, Availability] = {}
    for snapshot in snapshots:
        if not snapshot.ok:
            continue
        for row in snapshot.rows:
            label = backend_label(row)
            if backend and label != backend:
                continue
            entry = table.setdefault(label, Availability(label, str(row[0])))
            entry.listener_name = str(row[1])  # the latest name wins
            status = str(row[5])
            entry.observations += 1
            entry.last_status = status
            if silences.covering(row, snapshot.observed_at) is not None:
                entry.maintenance += 1
            elif status == "Alive":
                entry.alive += 1
            elif status == "Dead":
                entry.dead += 1
            else:
                entry.other += 1
    return [table[label] for label in sorted(table)]


def strips(
    snapshots: Sequence[Snapshot],
    buckets: Buckets,
    backend: str | None = None,
    silences: Silences = NO_SILENCES,
) -> dict[str, Strip]:
    """Every backend's timeline. A failed check observed nothing: it marks every backend."""
    found: dict[str, Strip] = {}
    failed: list[datetime] = []
    for snapshot in snapshots:
        if not snapshot.ok:
            failed.append(snapshot.observed_at)
            continue
        for row in snapshot.rows:
            label = backend_label(row)
            if backend and label != backend:
                continue
            strip = found.setdefault(label, Strip(buckets))
            if silences.covering(row, snapshot.observed_at) is not None:
                strip.add(snapshot.observed_at, "maintenance")
            else:
                strip.add(
                    snapshot.observed_at, classify(str(row[5]), row[6] if len(row) > 6 else None)
                )
    for strip in found.values():
        for moment in failed:
            strip.add(moment, "failed")
    return found


def window_of(snapshots: Sequence[Snapshot]) -> tuple[datetime, datetime]:
    if not snapshots:
        now = datetime.now(UTC)
        return now, now
    return snapshots[0].observed_at, snapshots[-1].observed_at


def render_history(
    lb_id: str,
    snapshots: Sequence[Snapshot],
    events: Sequence[Notification],
    *,
    backend: str | None,
    out: TextIO,
    window: tuple[datetime, datetime] | None = None,
    colour: bool = False,
    legend: bool = True,
    silences: Silences = NO_SILENCES,
) -> None:
    failed = sum(1 for s in snapshots if not s.ok)
    out.write(f"{lb_id}: {len(snapshots)} snapshots ({failed} failed checks)")
    if snapshots:
        out.write(
            f", {snapshots[0].observed_at:%Y-%m-%d %H:%M:%S} .. "
            f"{snapshots[-1].observed_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    out.write("\n")
    buckets = Buckets.over(*(window or window_of(snapshots)))
    rows = availability(snapshots, backend, silences)
    if rows:
        found = strips(snapshots, buckets, backend, silences)
        _backend_table(rows, found, buckets, out, colour=colour)
        if legend:
            out.write(f"  timeline: {LEGEND}\n")
        under = sum(r.maintenance for r in rows)
        if under:
            ids = ", ".join(s.id for s in used_silences(snapshots, backend, silences))
            out.write(
                f"  maintenance: {under} observations under a silence ({ids}) are left out of "
                "the availability percentage\n"
            )
    _transitions(events, backend, out)


def _backend_table(
    rows: Sequence[Availability],
    found: Mapping[str, Strip],
    buckets: Buckets,
    out: TextIO,
    *,
    colour: bool,
) -> None:
    """Per listener (by name), each backend: its timeline, availability and counts."""
    width = max(len(r.backend) for r in rows)
    strip_width = max(buckets.count + 2, len("timeline"))
    out.write(f"  timeline {buckets.describe()}\n")
    out.write(
        f"  {'backend':<{width}}  {'timeline':<{strip_width}}  availability  alive  dead  "
        "other  maint  last\n"
    )
    listener = None
    for r in rows:
        if r.listener_id != listener:
            listener = r.listener_id
            name = f"{r.listener_name} ({r.listener_id})" if r.listener_name else r.listener_id
            out.write(f"  listener {name}\n")
        text = found[r.backend].text()
        shown = paint(text) if colour else text
        padding = " " * (strip_width - len(text) - 2)
        pct = "n/a" if r.percent is None else f"{r.percent:6.2f}%"
        out.write(
            f"  {r.backend:<{width}}  |{shown}|{padding}  {pct:>12}  {r.alive:>5}  {r.dead:>4}  "
            f"{r.other:>5}  {r.maintenance:>5}  {r.last_status}\n"
        )


def _transitions(events: Sequence[Notification], backend: str | None, out: TextIO) -> None:
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
        held = f"[held back by {event.silenced_by}, not sent] " if event.silenced_by else ""
        out.write(
            f"    {event.observed_at}  {event.event_type:<16} {event.severity:<8} "
            f"{held}{event.summary}\n"
        )


class PageProgress:
    """Progress on stderr while a read pages through a long window: on a terminal only, and
    only once a read takes more than one page (a short window prints nothing). A botocore
    `after-call.dynamodb.Query` handler, so it sees every page the store asks for."""

    def __init__(
        self, err: TextIO, lb_id: str, start: datetime, end: datetime, *, enabled: bool
    ) -> None:
        self.err = err
        self.lb_id = lb_id
        self.start, self.end = start, end
        self.enabled = enabled
        self.pages = 0
        self.items = 0
        self.width = 0  # of the line shown, to clear it

    def on_page(self, parsed: Mapping[str, Any], **_: Any) -> None:
        self.pages += 1
        self.items += len(parsed.get("Items", []))
        last = parsed.get("LastEvaluatedKey")
        if not self.enabled or last is None:
            return
        self.show(
            progress_line(
                self.lb_id, last, (self.start, self.end), pages=self.pages, items=self.items
            )
        )

    def show(self, line: str) -> None:
        self.err.write("\r" + line.ljust(self.width))
        self.err.flush()
        self.width = len(line)

    def done(self) -> None:
        if self.width:
            self.err.write("\r" + " " * self.width + "\r")
            self.err.flush()
            self.width = 0


def progress_line(
    lb_id: str,
    last_key: Mapping[str, Any],
    window: tuple[datetime, datetime],
    *,
    pages: int,
    items: int,
) -> str:
    """`reading lb-a snapshots: up to 2026-11-23 12:03 (50%), 3 pages, 6 items`: how far the
    read is into the window, from the sort key (`SNAP#<time>`, `EVENT#<time>#<id>`) it reached."""
    kind, _, rest = str(last_key.get("SK", {}).get("S", "")).partition("#")
    what = {"SNAP": "snapshots", "EVENT": "notifications"}.get(kind, "items")
    try:
        reached = parse_iso(rest.split("#", 1)[0])
    except ValueError:
        return f"reading {lb_id} {what}: {pages} pages, {items} items"
    start, end = window
    span = (end - start).total_seconds()
    done = (
        100.0 if span <= 0 else max(0.0, min(100.0, 100 * (reached - start).total_seconds() / span))
    )
    return (
        f"reading {lb_id} {what}: up to {reached:%Y-%m-%d %H:%M} ({done:.0f}%), "
        f"{pages} page{'s' if pages > 1 else ''}, {items} items"
    )


def history_document(
    lb_id: str,
    snapshots: Sequence[Snapshot],
    events: Sequence[Notification],
    *,
    backend: str | None,
    window: tuple[datetime, datetime],
    silences: Silences = NO_SILENCES,
) -> dict[str, Any]:
    buckets = Buckets.over(*window)
    found = strips(snapshots, buckets, backend, silences)
    return {
        "loadBalancerId": lb_id,
        "window": {"start": _iso(window[0]), "end": _iso(window[1])},
        "snapshots": len(snapshots),
        "timeline": {
            "start": _iso(buckets.start),
            "end": _iso(buckets.end),
            "bucketSeconds": int(buckets.step.total_seconds()),
            "buckets": buckets.count,
            "states": [
                "healthy",
                "partial",
                "down",
                "close",
                "unknown",
                "failed",
                "maintenance",
                None,
            ],
        },
        "availability": [
            {
                "backend": r.backend,
                "listenerId": r.listener_id,
                "listenerName": r.listener_name,
                "percent": r.percent,
                "alive": r.alive,
                "dead": r.dead,
                "other": r.other,
                "maintenance": r.maintenance,
                "lastStatus": r.last_status,
                "timeline": found[r.backend].states(),
            }
            for r in availability(snapshots, backend, silences)
        ],
        # Observations under these were counted as maintenance, not in `percent`.
        "silences": [s.to_dict() for s in used_silences(snapshots, backend, silences)],
        "events": [e.to_dict() for e in events],
    }


def used_silences(
    snapshots: Sequence[Snapshot], backend: str | None, silences: Silences
) -> list[Silence]:
    """The silences that covered at least one observation shown."""
    used: dict[str, Silence] = {}
    for snapshot in snapshots:
        for row in snapshot.rows if snapshot.ok else ():
            if backend and backend_label(row) != backend:
                continue
            found = silences.covering(row, snapshot.observed_at)
            if found is not None:
                used.setdefault(found.id, found)
    return [used[k] for k in sorted(used)]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_history(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    dynamodb: Any = None,
) -> int:
    """Exit 0, 1 when reading the table failed, 2 for a bad argument or a missing setting.

    `dynamodb`: a client to read with (tests); by default one the standard boto3 way."""
    env = os.environ if env is None else env
    try:
        return _history(args, env, out, err, dynamodb)
    except CliError as error:
        err.write(f"error: {error}\n")
        return error.code


def _history(
    args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO, dynamodb: Any
) -> int:
    now = datetime.now(UTC)
    table_source(args, env)  # a missing table is said first, then a bad window, then the rest
    try:
        start = parse_moment(args.since, now=now, option="--since")
        end = parse_moment(args.until, now=now, option="--until") if args.until else now
    except UsageError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    target = resolve_table(args, env)
    dynamodb = dynamodb or client("dynamodb", target.region)
    progress = PageProgress(err, args.load_balancer_id, start, end, enabled=err.isatty())
    dynamodb.meta.events.register("after-call.dynamodb.Query", progress.on_page)
    try:
        store = HealthStore(target.table, ttl_days=1, client=dynamodb)
        snapshots = store.snapshots(args.load_balancer_id, start, end)
        events = store.events(args.load_balancer_id, start, end)
        silences = Silences(
            args.load_balancer_id,
            [s for s, _ in store.load_silences() if s.matches_load_balancer(args.load_balancer_id)],
        )
    except StoreError as error:
        raise aws_failure(error, f"reading {target.table} in {target.region}") from None
    finally:
        progress.done()
        dynamodb.meta.events.unregister("after-call.dynamodb.Query", progress.on_page)
    if args.json:
        document = history_document(
            args.load_balancer_id,
            snapshots,
            events,
            backend=args.backend,
            window=(start, end),
            silences=silences,
        )
        json.dump(document, out, indent=2)
        out.write("\n")
        return 0
    render_history(
        args.load_balancer_id,
        snapshots,
        events,
        backend=args.backend,
        out=out,
        window=(start, end),
        colour=use_colour(out, env),
        silences=silences,
    )
    return 0
