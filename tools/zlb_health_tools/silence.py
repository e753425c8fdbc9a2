"""`zlb-health silence add | list | expire`: maintenance silences in the stack's table.

Bad input is refused with one line naming the problem (exit 2) before anything is written; a
failed AWS call is one line too (exit 1). The monitor reads the silences on every run (one
query) and judges them by each run's scheduled tick (engine/maintenance.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from zlb_health.engine.maintenance import Backend, Silence, SilenceError, parse_time
from zlb_health.engine.state import iso, parse_iso
from zlb_health_tools.awsenv import CliError, aws_failure, client
from zlb_health_tools.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from zlb_health_tools.tableref import resolve_table

_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
DEFAULT_ACK_MAX = timedelta(hours=24)


def add_arguments(
    parser: argparse.ArgumentParser, table_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """`silence`'s own subcommands (cli.py adds the parser itself, and the table options)."""
    where = argparse.ArgumentParser(add_help=False)
    table_options(where)
    where.add_argument("--json", action="store_true", help="print JSON instead of text")
    sub = parser.add_subparsers(
        dest="silence_command", required=True, metavar="ACTION", help="add, list or expire"
    )
    add = sub.add_parser(
        "add",
        parents=[where],
        help="silence a load balancer, a listener or a backend for a while",
        description="Hold back the alerts of what the silence matches over [--from, --until): "
        "still observed and recorded, told once in a maintenance_ended message when it ends. "
        "Prints the new silence's id.",
        epilog="examples:\n"
        "  silence add --load-balancer-id lb-web --for 2h --comment 'kernel upgrade'\n"
        "  silence add --load-balancer-id lb-db --backend lsn-db/vm-db-1/5432 --until-healthy "
        "--comment 'on it'\n"
        "  silence add --load-balancer-id '*' --cron '0 2 * * 2#2' --duration 3h "
        "--timezone Europe/Berlin --comment 'patch Tuesday'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument(
        "--load-balancer-id", required=True, metavar="ID", help="a load balancer id, or '*' for all"
    )
    add.add_argument("--listener-id", metavar="ID", help="only this listener")
    add.add_argument("--backend", metavar="L/T/P", help="only this backend: LISTENER/TARGET/PORT")
    add.add_argument(
        "--from", dest="starts", metavar="ISO", help="start, ISO 8601 with a zone (default: now)"
    )
    add.add_argument("--until", metavar="ISO", help="end, ISO 8601 with a zone (exclusive)")
    add.add_argument(
        "--for", dest="for_", metavar="DURATION", help="length instead of --until: 90m, 2h, 3d, 1w"
    )
    add.add_argument(
        "--until-healthy",
        action="store_true",
        help="an acknowledgement: ends by itself once everything it matches is healthy again "
        "(at most --for, default 24h; needs a specific --load-balancer-id)",
    )
    add.add_argument(
        "--cron", metavar="EXPR", help="a recurring window: 5-field cron; '2#2' = 2nd Tuesday"
    )
    add.add_argument(
        "--duration", metavar="DURATION", help="with --cron: each window's length (90m, 2h, 2d)"
    )
    add.add_argument(
        "--timezone", default="UTC", metavar="TZ", help="with --cron: an IANA zone (default UTC)"
    )
    add.add_argument(
        "--comment", required=True, metavar="TEXT", help="why (shown in list and history)"
    )
    add.add_argument("--author", metavar="NAME", help="who (default: your AWS identity)")
    listing = sub.add_parser(
        "list",
        parents=[where],
        help="active and future silences",
        description="Active and future silences, with how many changes each has held back.",
    )
    listing.add_argument("--all", action="store_true", help="expired silences too")
    expire = sub.add_parser(
        "expire",
        parents=[where],
        help="end a silence now",
        description="End a silence now: its maintenance_ended message follows on the next run.",
    )
    expire.add_argument("id", help="the silence's id (silence list shows them)")


def run_silence(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    now: datetime | None = None,
) -> int:
    env = os.environ if env is None else env
    now = now or datetime.now(UTC)
    from zlb_health.adapters.store import HealthStore, StoreError  # botocore: only when run

    try:
        silence = _new_silence(args, now) if args.silence_command == "add" else None
        target = resolve_table(args, env)
        store = HealthStore(target.table, client=client("dynamodb", target.region))
        if silence is not None:
            author = args.author or _caller(target.region, env)
            _add(store, Silence.from_dict({**silence.to_dict(), "author": author}), args, out)
            return EXIT_OK
        stored = store.load_silences()
        if args.silence_command == "list":
            _list(stored, now, show_all=args.all, as_json=args.json, out=out)
            return EXIT_OK
        return _expire(store, stored, args.id, now, as_json=args.json, out=out)
    except SilenceError as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE
    except CliError as error:
        err.write(f"error: {error}\n")
        return error.code
    except StoreError as error:
        failure = aws_failure(error, f"silence {args.silence_command}")
        err.write(f"error: {failure}\n")
        return failure.code


def _add(store: Any, silence: Silence, args: argparse.Namespace, out: TextIO) -> None:
    if not store.put_silence(silence):
        raise CliError(f"a silence {silence.id} exists already", EXIT_FAILURE)
    out.write(json.dumps(silence.to_dict()) + "\n" if args.json else silence.id + "\n")


def _usage(message: str) -> CliError:
    return CliError(message, EXIT_USAGE)


def parse_duration(raw: str, option: str) -> timedelta:
    match = _DURATION.match(raw.strip())
    if not match:
        raise _usage(f"{option}: expected 90m, 2h, 3d or 1w, got {raw!r}")
    return timedelta(minutes=int(match.group(1)) * _UNIT_MINUTES[match.group(2)])


def _new_silence(args: argparse.Namespace, now: datetime) -> Silence:
    starts = parse_time(args.starts, "--from") if args.starts else now
    length = parse_duration(args.for_, "--for") if args.for_ else None
    if args.until and length:
        raise _usage("give --until or --for, not both")
    ends = parse_time(args.until, "--until") if args.until else None
    if length is not None:
        ends = starts + length
    if args.until_healthy:
        if args.load_balancer_id.strip() == "*":
            raise _usage("--until-healthy: name the load balancer (not '*')")
        ends = ends or starts + DEFAULT_ACK_MAX
    if args.duration and not args.cron:
        raise _usage("--duration goes with --cron")
    duration = parse_duration(args.duration, "--duration") if args.duration else None
    return Silence(
        id=f"sil-{uuid.uuid4().hex[:8]}",
        load_balancer_id=args.load_balancer_id.strip(),
        listener_id=args.listener_id,
        backend=Backend.parse(args.backend) if args.backend else None,
        starts=starts.isoformat(),
        ends=ends.isoformat() if ends else None,
        until_healthy=args.until_healthy,
        cron=args.cron,
        duration_minutes=int(duration.total_seconds() // 60) if duration else None,
        timezone=args.timezone,
        comment=args.comment,
        author="?",  # filled in once the input is known good (it may need an AWS call)
        created_at=now.isoformat(),
    )


def _caller(region: str, env: Mapping[str, str]) -> str:
    """The AWS identity's name (the last part of its ARN), else the login name."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        arn = str(client("sts", region).get_caller_identity()["Arn"])
    except (BotoCoreError, ClientError, CliError):
        return env.get("USER", "") or "unknown"
    return arn.rsplit("/", 1)[-1] or arn


def _state(s: Silence, now: datetime) -> str:
    if s.active_at(now):
        return "active"
    if s.expired_at is not None and datetime.fromisoformat(s.expired_at) <= now:
        return "expired"
    if datetime.fromisoformat(s.starts) > now:
        return "future"
    if s.ends is not None and datetime.fromisoformat(s.ends) <= now:
        return "ended"
    return "between windows" if s.cron else "ended"


def _list(
    stored: list[tuple[Silence, int]], now: datetime, *, show_all: bool, as_json: bool, out: TextIO
) -> None:
    rows = [
        (s, matched, _state(s, now))
        for s, matched in sorted(stored, key=lambda pair: (pair[0].starts, pair[0].id))
    ]
    if not show_all:
        rows = [r for r in rows if r[2] in ("active", "future", "between windows")]
    if as_json:
        out.write(
            json.dumps([{**s.to_dict(), "state": state, "matched": m} for s, m, state in rows])
            + "\n"
        )
        return
    if not rows:
        out.write("no silences" + (" (--all shows expired ones)" if not show_all else "") + "\n")
        return
    for s, matched, state in rows:
        scope = s.load_balancer_id + (f"/{s.listener_id}" if s.listener_id else "")
        scope += f" backend {s.backend}" if s.backend else ""
        if s.cron:
            window = f"cron '{s.cron}' for {s.duration_minutes} min ({s.timezone})"
            window += f", from {s.starts}" + (f" until {s.ends}" if s.ends else ", for ever")
        else:
            window = f"{s.starts} -> {s.ends}" + (" or healthy again" if s.until_healthy else "")
        out.write(
            f"{s.id}  {state:<15} {scope}\n    {window}\n"
            f"    {s.comment!r} by {s.author}; held back {matched} change(s) so far\n"
        )


def _expire(
    store: Any,
    stored: list[tuple[Silence, int]],
    silence_id: str,
    now: datetime,
    *,
    as_json: bool,
    out: TextIO,
) -> int:
    found = [s for s, _ in stored if s.id == silence_id]
    if not found:
        raise CliError(f"no silence {silence_id!r} (silence list --all shows them)", EXIT_FAILURE)
    expired_at = found[0].expired_at
    if expired_at is None or parse_iso(expired_at) > now:
        expired_at = iso(now)
        if not store.expire_silence(found[0], expired_at):
            raise CliError(f"silence {silence_id!r} is gone, or ended meanwhile", EXIT_FAILURE)
    if as_json:
        out.write(json.dumps({"id": silence_id, "expiredAt": expired_at}) + "\n")
    else:
        out.write(f"{silence_id} expired at {expired_at}\n")
    return EXIT_OK
