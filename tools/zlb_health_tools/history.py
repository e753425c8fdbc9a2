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
from zlb_health_tools.spans import ONE_RUN, Span, covered, minutes, spans
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
    """One backend over the window, in minutes (a snapshot counts until the next one)."""

    backend: str  # listenerId/target/port
    listener_id: str = ""
    listener_name: str = ""
    alive: float = 0.0
    dead: float = 0.0
    other: float = 0.0
    maintenance: float = 0.0  # under a silence: left out of the percentage
    last_status: str = ""

    @property
    def percent(self) -> float | None:
        # Unknown/Close carry no health data: availability is Alive over Alive + Dead.
        known = self.alive + self.dead
        return 100.0 * self.alive / known if known else None


@dataclass(frozen=True, slots=True)
class Silences:
    """The silences of one load balancer: when each covered a backend."""

    load_balancer_id: str
    silences: Sequence[Silence] = ()

    def covered(self, span: Span, row: Sequence[Any]) -> list[tuple[datetime, datetime]]:
        return covered(span.start, span.end, self.silences, self.load_balancer_id, row)

    def used(self, found: Sequence[Span], backend: str | None) -> list[Silence]:
        """The silences that covered some time of a backend shown."""
        rows = [
            (span, row)
            for span in found
            if span.snapshot.ok
            for row in span.snapshot.rows
            if not backend or backend_label(row) == backend
        ]
        return [
            silence
            for silence in sorted(self.silences, key=lambda s: s.id)
            if any(
                covered(span.start, span.end, [silence], self.load_balancer_id, row)
                for span, row in rows
            )
        ]


NO_SILENCES: Final = Silences("")


def backend_label(row: Sequence[Any]) -> str:
    listener_id, _name, instance_id, ip, port = row[0], row[1], row[2], row[3], row[4]
    return f"{listener_id}/{instance_id or ip}/{port}"


def _outside(
    span: Span, parts: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """[span.start, span.end) without `parts` (merged, inside it)."""
    out, cursor = [], span.start
    for lo, hi in parts:
        if lo > cursor:
            out.append((cursor, lo))
        cursor = max(cursor, hi)
    if cursor < span.end:
        out.append((cursor, span.end))
    return out


def availability(
    found: Sequence[Span],
    backend: str | None = None,
    silences: Silences = NO_SILENCES,
) -> list[Availability]:
    table: dict[str, Availability] = {}
    for span in found:
        if not span.snapshot.ok:
            continue  # a failed check observed nothing
        for row in span.snapshot.rows:
            label = backend_label(row)
            if backend and label != backend:
                continue
            entry = table.setdefault(label, Availability(label, str(row[0])))
            entry.listener_name = str(row[1])  # the latest name wins
            status = str(row[5])
            entry.last_status = status
            under = minutes(silences.covered(span, row))
            entry.maintenance += under
            rest = span.minutes - under
            if status == "Alive":
                entry.alive += rest
            elif status == "Dead":
                entry.dead += rest
            else:
                entry.other += rest
    return [table[label] for label in sorted(table)]


def strips(
    found: Sequence[Span],
    buckets: Buckets,
    backend: str | None = None,
    silences: Silences = NO_SILENCES,
) -> dict[str, Strip]:
    """Every backend's timeline. A failed check observed nothing: it marks every backend."""
    by_label: dict[str, Strip] = {}
    failed: list[Span] = []
    for span in found:
        if not span.snapshot.ok:
            failed.append(span)
            continue
        for row in span.snapshot.rows:
            label = backend_label(row)
            if backend and label != backend:
                continue
            strip = by_label.setdefault(label, Strip(buckets))
            under = silences.covered(span, row)
            health = classify(str(row[5]), row[6] if len(row) > 6 else None)
            for lo, hi in _outside(span, under):
                strip.cover(lo, hi, health)
            for lo, hi in under:
                strip.cover(lo, hi, "maintenance")
    for strip in by_label.values():
        for span in failed:
            strip.cover(span.start, span.end, "failed")
    return by_label


def window_spans(
    snapshots: Sequence[Snapshot], window: tuple[datetime, datetime], now: datetime | None
) -> list[Span]:
    """The snapshots' spans over a window whose end is inclusive: the run at `--until` counts
    for its minute, as the snapshot query includes it."""
    start, end = window
    return spans(snapshots, start, end + ONE_RUN, now or datetime.now(UTC))


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
    now: datetime | None = None,
) -> None:
    if window is None:  # from the first snapshot to the last one's run
        start, end = window_of(snapshots)
        buckets = Buckets.over(start, end)
    else:
        (start, end), buckets = window, Buckets.over(*window)
    shown = [s for s in snapshots if s.observed_at >= start]
    failed = sum(1 for s in shown if not s.ok)
    out.write(f"{lb_id}: {len(shown)} snapshots ({failed} failed checks)")
    if shown:
        out.write(
            f", {shown[0].observed_at:%Y-%m-%d %H:%M:%S} .. "
            f"{shown[-1].observed_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    out.write("\n")
    found = window_spans(snapshots, (start, end), now)
    rows = availability(found, backend, silences)
    if rows:
        _backend_table(rows, strips(found, buckets, backend, silences), buckets, out, colour=colour)
        if legend:
            out.write(f"  timeline: {LEGEND}\n")
            out.write(
                "  alive, dead, other, maint: minutes (a snapshot counts until the next one)\n"
            )
        under = sum(r.maintenance for r in rows)
        if under:
            ids = ", ".join(s.id for s in silences.used(found, backend))
            out.write(
                f"  maintenance: {_minutes(under)} minutes under a silence ({ids}) are left out "
                "of the availability percentage\n"
            )
    _transitions(events, backend, out)


def _minutes(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


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
            f"  {r.backend:<{width}}  |{shown}|{padding}  {pct:>12}  {_minutes(r.alive):>5}  "
            f"{_minutes(r.dead):>4}  {_minutes(r.other):>5}  {_minutes(r.maintenance):>5}  "
            f"{r.last_status}\n"
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
    now: datetime | None = None,
) -> dict[str, Any]:
    buckets = Buckets.over(*window)
    found = window_spans(snapshots, window, now)
    by_label = strips(found, buckets, backend, silences)
    return {
        "loadBalancerId": lb_id,
        "window": {"start": _iso(window[0]), "end": _iso(window[1])},
        "snapshots": sum(1 for s in snapshots if s.observed_at >= window[0]),
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
        # alive, dead, other, maintenance: minutes; a snapshot counts until the next one.
        "availability": [
            {
                "backend": r.backend,
                "listenerId": r.listener_id,
                "listenerName": r.listener_name,
                "percent": r.percent,
                "alive": round(r.alive, 2),
                "dead": round(r.dead, 2),
                "other": round(r.other, 2),
                "maintenance": round(r.maintenance, 2),
                "lastStatus": r.last_status,
                "timeline": by_label[r.backend].states(),
            }
            for r in availability(found, backend, silences)
        ],
        # Time under these was counted as maintenance, not in `percent`.
        "silences": [s.to_dict() for s in silences.used(found, backend)],
        "events": [e.to_dict() for e in events],
    }


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
        store = HealthStore(target.table, client=dynamodb)
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
