"""`zlb-health`: the command line. Each subcommand's module is imported only when it runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zlb-health", description="Health monitor for Zenlayer Load Balancer backends."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="one live DescribeBackendHealth call, printed as a table")
    check.add_argument("--load-balancer-id", required=True)
    check.add_argument("--listener-id")
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")

    emulator = sub.add_parser("emulator", help="serve the local Zenlayer API emulator")
    emulator.add_argument("--port", type=int, default=8080)
    emulator.add_argument("--host", default="127.0.0.1", help="bind address (loopback default)")
    emulator.add_argument("--scenario", help="scenario JSON file (default: the demo fleet)")
    emulator.add_argument(
        "--step-seconds",
        type=float,
        default=20.0,
        help="advance the scenario timeline one step every N seconds (0: only on request)",
    )

    demo = sub.add_parser("demo", help="run the scheduled job locally for a few cycles (make run)")
    demo.add_argument("--cycles", type=int, default=0, help="cycles to run (0: the whole script)")

    history = sub.add_parser("history", help="read snapshots and transitions back from the table")
    history.add_argument("--load-balancer-id", required=True)
    history.add_argument("--backend", help="listenerId/instanceId-or-ip/port of one backend")
    history.add_argument("--since", default="24h", help="window: 90m, 24h, 7d or an ISO time")
    history.add_argument("--until", help="end of the window (ISO time, default now)")
    history.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check":
        from zlb_health_tools.check import run_check

        return run_check(args)
    if args.command == "emulator":
        from zlb_health_tools.emulator.server import run_emulator

        return run_emulator(args)
    if args.command == "demo":
        from zlb_health_tools.demo import run_demo

        return run_demo(args)
    if args.command == "history":
        from zlb_health_tools.history import run_history

        return run_history(args)
    raise AssertionError(args.command)  # argparse rejects unknown commands first


if __name__ == "__main__":
    sys.exit(main())
