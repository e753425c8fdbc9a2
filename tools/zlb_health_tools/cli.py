"""`zlb-health`: the command line. Each subcommand's module is imported only when it runs.

Exit codes, the same for every subcommand (see EXIT_CODES): 0 success; 1 the command ran and
something failed; 2 usage: a bad argument or a missing or invalid setting, nothing attempted;
130 interrupted. An expected failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_CODES = f"""\
exit codes: {EXIT_OK} success; {EXIT_FAILURE} the command ran and something failed (an API or AWS
call, a port in use, a missing extra); {EXIT_USAGE} usage: a bad argument or a missing or invalid
setting (environment variable, credentials, template file), nothing attempted; \
{EXIT_INTERRUPTED} interrupted."""

# What the `local` extra brings, by import name: moto's server and its WSGI server (the local
# AWS), PyYAML (template.yaml).
LOCAL_EXTRA_MODULES = ("moto", "werkzeug", "yaml")
LOCAL_EXTRA_HINT = "pip install 'zlb-health[local]'"

_CREDENTIALS_ENV = """\
  ZENLAYER_ACCESS_KEY_ID, ZENLAYER_ACCESS_KEY_PASSWORD  an access key (signed requests)
  ZENLAYER_API_TOKEN             or a personal access token (Bearer)"""


_TABLE_ENV = (
    "  TABLE_NAME                     the stack's table (or --table-name, or --stack-name)\n"
    "  AWS_REGION, AWS_DEFAULT_REGION the table's region (or the AWS profile's)\n"
    "  AWS_PROFILE, AWS_ACCESS_KEY_ID, ...  AWS credentials, the standard boto3 way\n"
    "  AWS_ENDPOINT_URL               a local AWS instead of AWS's own endpoints"
)


def _table_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--table-name", help="the stack's DynamoDB table (default: $TABLE_NAME)")
    where.add_argument(
        "--stack-name",
        help="the deployed stack: its TableName output (CloudFormation DescribeStacks)",
    )


def package_version() -> str:
    try:
        return version("zlb-health")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def _epilog(environment: str) -> str:
    return f"environment:\n{environment}\n\n{EXIT_CODES}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zlb-health",
        description="Health monitor for Zenlayer Load Balancer backends: operator and developer "
        "tools. `zlb-health COMMAND --help` describes each command.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str, environment: str) -> Any:
        return sub.add_parser(
            name,
            help=summary,
            description=description,
            epilog=_epilog(environment),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    for add in (
        _add_check,
        _add_emulator,
        _add_demo,
        _add_status,
        _add_test_alert,
        _add_history,
        _add_silence,
    ):
        add(command)
    return parser


def _add_check(command: Callable[..., Any]) -> None:
    check = command(
        "check",
        "one live DescribeBackendHealth call, printed as a table",
        "Call DescribeBackendHealth once for a load balancer and print every backend with its "
        "status (per port when the API gives the detail). On failure: one line naming what "
        "failed, the vendor's code and the requestId.",
        "  ZENLAYER_API_ENDPOINT          API base URL (default https://console.zenlayer.com;\n"
        "                                 plain http only to a loopback emulator)\n"
        + _CREDENTIALS_ENV,
    )
    check.add_argument("--load-balancer-id", required=True, help="the load balancer to check")
    check.add_argument("--listener-id", help="only this listener's backends (default: all)")
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _add_emulator(command: Callable[..., Any]) -> None:
    emulator = command(
        "emulator",
        "serve the local Zenlayer API emulator",
        "Serve a local stand-in for the Zenlayer zlb API (docs/emulator.md) until Ctrl-C: the "
        "built-in demo fleet or a scenario file, with a scripted timeline and faults.",
        _CREDENTIALS_ENV + "\n"
        "                                 the credentials it accepts (default: the documented\n"
        "                                 demo ones, docs/emulator.md)",
    )
    emulator.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    emulator.add_argument("--host", default="127.0.0.1", help="bind address (loopback default)")
    emulator.add_argument("--scenario", help="scenario JSON file (default: the demo fleet)")
    emulator.add_argument(
        "--step-seconds",
        type=float,
        default=20.0,
        help="advance the scenario timeline one step every N seconds (0: only on request)",
    )


def _add_demo(command: Callable[..., Any]) -> None:
    demo = command(
        "demo",
        "run the scheduled job locally for a few cycles (make run)",
        "Run the real Lambda handler once per simulated minute against the Zenlayer API "
        "emulator and a local AWS (moto's server) holding the stack's table and topic, created "
        "from template.yaml; print each cycle's fleet and notifications, then the history. "
        f"Needs the 'local' extra ({LOCAL_EXTRA_HINT}).",
        _CREDENTIALS_ENV + "\n"
        "                                 when set, poll the REAL API instead of the emulator\n"
        "                                 (storage and notifications stay local)\n"
        "  ZENLAYER_API_ENDPOINT          the real API's URL, with real credentials\n"
        "  FAILURE_THRESHOLD, RECOVERY_THRESHOLD, MONITOR_FAILURE_THRESHOLD\n"
        "                                 default 2, 2 and 3; the function's other settings\n"
        "                                 apply too (README, Configuration)\n"
        "  POWERTOOLS_LOG_LEVEL           default ERROR; also POWERTOOLS_SERVICE_NAME,\n"
        "                                 POWERTOOLS_METRICS_NAMESPACE,\n"
        "                                 POWERTOOLS_METRICS_DISABLED, POWERTOOLS_TRACE_DISABLED",
    )
    demo.add_argument("--cycles", type=int, default=0, help="cycles to run (0: the whole script)")
    demo.add_argument(
        "--template",
        help="the stack's template.yaml (default: template.yaml in the working directory or "
        "the nearest parent that has one)",
    )


def _add_status(command: Callable[..., Any]) -> None:
    status = command(
        "status",
        "the fleet now, from the table; exit 1 when something is unhealthy",
        "Read every watched load balancer's latest state from the stack's DynamoDB table (one "
        "query on its LATEST index) and discovery's own: each load balancer with what is down "
        "and since when, critical listeners first, monitoring, changes about to alert, "
        "notifications not delivered yet, active maintenance silences. Exit 0 when all is "
        "healthy, 1 when a backend is down, a listener has no healthy backend or monitoring is "
        "degraded (or the table could not be read), 2 for a usage error: usable from scripts "
        "and cron.",
        _TABLE_ENV + "\n"
        "  FAILURE_THRESHOLD, RECOVERY_THRESHOLD, MONITOR_FAILURE_THRESHOLD\n"
        "                                 to say how far a change is from alerting (default\n"
        "                                 2, 2, 3; with --stack-name, the stack's parameters)",
    )
    _table_options(status)
    status.add_argument("--json", action="store_true", help="print JSON instead of text")


def _add_test_alert(command: Callable[..., Any]) -> None:
    alert = command(
        "test-alert",
        "send one test message through the stack's topic (after a deployment)",
        "Publish one clearly marked TEST message to the stack's SNS topic, with the email, SMS "
        "and JSON renditions of a real alert and message attribute event_type=test, so that "
        "every subscriber sees it arrive before a real outage does. Nothing is read or "
        "written in the table.",
        "  TOPIC_ARN                      the stack's topic (or --topic-arn, or --stack-name)\n"
        "  STACK_NAME                     the stack the message names when --stack-name is not\n"
        "                                 given (default zlb-health, as the function's own)\n"
        "  AWS_REGION, AWS_DEFAULT_REGION the stack's region, for --stack-name (the message goes\n"
        "                                 to the topic's own region)\n"
        "  AWS_PROFILE, AWS_ACCESS_KEY_ID, ...  AWS credentials, the standard boto3 way\n"
        "  AWS_ENDPOINT_URL               a local AWS instead of AWS's own endpoints",
    )
    alert.add_argument("--topic-arn", help="the stack's SNS topic (default: $TOPIC_ARN)")
    alert.add_argument(
        "--stack-name",
        help="the deployed stack: its TopicArn output (CloudFormation DescribeStacks), and the "
        "name the message gives",
    )
    alert.add_argument(
        "--severity",
        choices=("info", "warning", "critical"),
        default="info",
        help="the severity attribute (default info): test a subscription whose filter policy "
        "takes only some severities",
    )


def _add_history(command: Callable[..., Any]) -> None:
    history = command(
        "history",
        "per backend: a timeline, availability and what was sent, from the table",
        "Read one load balancer's snapshots and notifications from the stack's DynamoDB table "
        "and print, per listener and backend, a timeline strip over the window (one character "
        "per time bucket: when it was down, not only how long), availability and the "
        "notifications sent. Colour on a terminal (not with NO_COLOR); progress on stderr "
        "while a long window is read.",
        _TABLE_ENV + "\n  NO_COLOR                       set: no colour on a terminal either",
    )
    history.add_argument("--load-balancer-id", required=True, help="the load balancer to read")
    history.add_argument("--backend", help="listenerId/instanceId-or-ip/port of one backend")
    history.add_argument("--since", default="24h", help="window: 90m, 24h, 7d or an ISO time")
    history.add_argument("--until", help="end of the window (ISO time, default now)")
    _table_options(history)
    history.add_argument("--json", action="store_true", help="print JSON instead of text")


def _add_silence(command: Callable[..., Any]) -> None:
    from zlb_health_tools import silence as silence_module  # argparse only: no AWS imports

    silence = command(
        "silence",
        "maintenance silences: add, list, expire",
        "Silence a load balancer, a listener or one backend for planned work: what it matches "
        "is still observed and recorded, its alerts are held back, and one maintenance_ended "
        "message says at the end what is unhealthy and what changed. Recurring windows "
        "(--cron) and acknowledgements (--until-healthy) too.",
        _TABLE_ENV
        + "\n  USER                           the author when --author is not given and AWS "
        "cannot say",
    )
    silence_module.add_arguments(silence, _table_options)


def missing_modules(modules: Sequence[str]) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


def _error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check":
        from zlb_health_tools.check import run_check

        return run_check(args)
    if args.command == "emulator":
        from zlb_health_tools.emulator.server import run_emulator

        return run_emulator(args)
    if args.command == "demo":
        missing = missing_modules(LOCAL_EXTRA_MODULES)
        if missing:
            _error(
                f"demo needs the 'local' extra (missing: {', '.join(missing)}): {LOCAL_EXTRA_HINT}"
            )
            return EXIT_FAILURE
        from zlb_health.config import ConfigError
        from zlb_health_tools.demo import run_demo

        try:
            return run_demo(args)
        except ConfigError as exc:  # the function's settings, named by the error
            _error(str(exc))
            return EXIT_USAGE
    if args.command == "status":
        from zlb_health_tools.status import run_status

        return run_status(args)
    if args.command == "test-alert":
        from zlb_health_tools.testalert import run_test_alert

        return run_test_alert(args)
    if args.command == "history":
        from zlb_health_tools.history import run_history

        return run_history(args)
    if args.command == "silence":
        from zlb_health_tools.silence import run_silence

        return run_silence(args)
    raise AssertionError(args.command)  # argparse rejects unknown commands first


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
