"""`zlb-health demo` (`make run`): the real scheduled handler, cycle by cycle, on a terminal.

Default: the Zenlayer API emulator with its demo fleet, and a local AWS (moto's server over
HTTP) holding the stack's table and topic, created from template.yaml's own definitions.
With ZENLAYER_ACCESS_KEY_ID + ZENLAYER_ACCESS_KEY_PASSWORD (or ZENLAYER_API_TOKEN) in the
environment it polls the real Zenlayer API instead; storage and notifications stay local.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import LocalStack, create_local_stack, drain_queue, subscribe_queue
from zlb_health_tools.template import TemplateError, load_template, schedule_input

REAL_API_INTERVAL_SECONDS = 60.0
LAMBDA_TIMEOUT_SECONDS = 50.0
RULE = "-" * 78


def real_credentials_in(env: Mapping[str, str]) -> bool:
    return bool(
        (env.get("ZENLAYER_ACCESS_KEY_ID") and env.get("ZENLAYER_ACCESS_KEY_PASSWORD"))
        or env.get("ZENLAYER_API_TOKEN")
    )


@dataclass
class FakeContext:
    """The parts of the Lambda context the handler uses."""

    timeout_seconds: float = LAMBDA_TIMEOUT_SECONDS
    function_name: str = "zlb-health-local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:zlb-health-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int(max(0.0, self.timeout_seconds - (time.monotonic() - self._started)) * 1000)


# EventBridge Scheduler's context attributes, as it fills them into the schedule's Input.
SCHEDULER_PLACEHOLDERS: dict[str, Callable[[datetime], str]] = {
    "<aws.scheduler.scheduled-time>": lambda tick: tick.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "<aws.scheduler.execution-id>": lambda _tick: str(uuid.uuid4()),
    "<aws.scheduler.attempt-number>": lambda _tick: "1",
}


def scheduled_event(schedule: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """What the template's schedule delivers for the tick `now` (events/scheduled.json's shape):
    built from the template, so an installed zlb-health needs no events/ folder."""
    return {
        key: SCHEDULER_PLACEHOLDERS[value](now)
        if isinstance(value, str) and value in SCHEDULER_PLACEHOLDERS
        else value
        for key, value in schedule.items()
    }


def without_metric_lines(out: TextIO, call: Callable[..., Any], *args: Any) -> Any:
    """Run `call(*args)`, passing on what it prints except powertools' EMF metric blobs: CloudWatch
    reads those in Lambda; on a terminal they are noise (powertools prints the ColdStart one
    even with POWERTOOLS_METRICS_DISABLED)."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            return call(*args)
    finally:  # what it printed before failing is shown too
        for line in printed.getvalue().splitlines(keepends=True):
            if not _is_metric_blob(line):
                out.write(line)


def _is_metric_blob(line: str) -> bool:
    try:
        document = json.loads(line)
    except ValueError:
        return False
    return isinstance(document, dict) and "_aws" in document


def print_fleet(out: TextIO, store: Any, lb_ids: list[str], tick: datetime) -> None:
    """This tick's snapshot of each load balancer, read back from the table."""
    for lb_id in lb_ids:
        snapshots = store.snapshots(lb_id, tick, tick + timedelta(seconds=59))
        if not snapshots:
            out.write(f"  {lb_id}: no snapshot\n")
            continue
        latest = snapshots[-1]
        if not latest.ok:
            error = latest.error or {}
            out.write(
                f"  {lb_id}: CHECK FAILED ({error.get('kind')}"
                f"{' ' + str(error.get('code')) if error.get('code') else ''}); "
                "last known state kept\n"
            )
            continue
        c = latest.counts
        out.write(
            f"  {lb_id}: {c.get('backends', 0)} backends, {c.get('alive', 0)} Alive, "
            f"{c.get('dead', 0)} Dead, {c.get('unknown', 0)} Unknown, "
            f"{c.get('close', 0)} Close  ({latest.latency_ms or 0:.0f} ms, "
            f"requestId {latest.request_id})\n"
        )
        listeners: dict[str, list[str]] = {}
        for listener_id, name, instance, ip, port, status, detail in latest.rows:
            ports = " ".join(f"{p}:{s}" for p, s in detail) if detail else ""
            shown = f"{instance or ip}:{port} {status}" + (
                f" [{ports}]" if ports and status != "Alive" else ""
            )
            listeners.setdefault(f"{name} ({listener_id})", []).append(shown)
        for listener, backends in listeners.items():
            out.write(f"      {listener}: " + ", ".join(backends) + "\n")


def print_messages(out: TextIO, published: list[dict[str, Any]], delivered: int) -> None:
    if not published:
        out.write("  notifications: none\n")
        return
    out.write(
        f"  notifications: {len(published)} published "
        f"({delivered} seen by the SQS test subscriber)\n"
    )
    for message in published:
        attrs = message["attributes"]
        out.write(
            f"\n  >> SNS message  event_type={attrs['event_type']} "
            f"severity={attrs['severity']} load_balancer_id={attrs['load_balancer_id']}\n"
        )
        out.write(f"  [SMS, {len(message['sms'])} chars] {message['sms']}\n")
        out.write(f"  [EMAIL] Subject: {message['subject']}\n")
        for line in message["email"].splitlines():
            out.write(f"  | {line}\n")


def run_demo(
    args: argparse.Namespace, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    try:
        template = load_template(getattr(args, "template", None))
        schedule = schedule_input(template)
    except TemplateError as error:
        err.write(f"error: {error}\n")
        return 2
    real_api = real_credentials_in(os.environ)
    # Quiet, local-only settings; set before the handler module is first imported.
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "zlb-health")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ZlbHealth")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines
    logging.getLogger("zlb_health").setLevel(logging.ERROR)  # the cycle output says it all
    with LocalAws() as aws:
        os.environ.update(aws.env())
        stack = create_local_stack(aws.url, prefix="zlb-health-demo", template=template)
        queue_url = subscribe_queue(stack)
        if real_api:
            return _run(args, out, stack, queue_url, schedule, emulator=None)
        from zlb_health_tools.emulator.demo import demo_scenario
        from zlb_health_tools.emulator.server import Emulator

        with Emulator(demo_scenario(), log_requests=False) as emulator:
            return _run(args, out, stack, queue_url, schedule, emulator=emulator)


def _run(  # noqa: PLR0917
    args: argparse.Namespace,
    out: TextIO,
    stack: LocalStack,
    queue_url: str,
    schedule: Mapping[str, Any],
    emulator: Any,
) -> int:
    env = os.environ
    env.update(stack.function_env())
    env.setdefault("FAILURE_THRESHOLD", "2")
    env.setdefault("RECOVERY_THRESHOLD", "2")
    env.setdefault("MONITOR_FAILURE_THRESHOLD", "3")
    if emulator is not None:
        from zlb_health_tools.emulator.server import DEMO_ACCESS_KEY

        env["ZENLAYER_API_ENDPOINT"] = emulator.url
        env["ZENLAYER_ACCESS_KEY_ID"] = DEMO_ACCESS_KEY.access_key_id
        env["ZENLAYER_ACCESS_KEY_PASSWORD"] = DEMO_ACCESS_KEY.access_key_password
        cycles = args.cycles or emulator.scenario.steps
        source = f"the Zenlayer API emulator at {emulator.url} (demo fleet)"
    else:
        cycles = args.cycles or 3
        source = (
            f"the REAL Zenlayer API at {env.get('ZENLAYER_API_ENDPOINT') or 'console.zenlayer.com'}"
        )

    from zlb_health import handler
    from zlb_health.adapters.publisher import SnsPublisher

    published: list[dict[str, Any]] = []

    class RecordingPublisher(SnsPublisher):
        """Keeps a copy of exactly what is handed to SNS, to show it on the terminal."""

        def publish(
            self, *, subject: str, message: Mapping[str, str], attributes: Mapping[str, str]
        ) -> str:
            message_id = super().publish(subject=subject, message=message, attributes=attributes)
            published.append({"subject": subject, **message, "attributes": dict(attributes)})
            return message_id

    runtime = handler.build_runtime(env)
    runtime.publisher = RecordingPublisher(runtime.config.topic_arn)
    handler._runtime = runtime

    out.write(
        f"zlb-health demo: {cycles} scheduled runs of the real Lambda handler\n"
        f"  API:   {source}\n"
        f"  AWS:   local moto server at {stack.endpoint_url} (table {stack.table_name}, "
        f"topic {stack.topic_arn.rsplit(':', 1)[-1]})\n"
        f"  rules: FAILURE_THRESHOLD={runtime.config.thresholds.failure} "
        f"RECOVERY_THRESHOLD={runtime.config.thresholds.recovery} "
        f"MONITOR_FAILURE_THRESHOLD={runtime.config.thresholds.monitor_failure}\n"
    )
    # Each cycle is one scheduled tick: a minute apart on the schedule's clock, as in AWS, even
    # though the emulator lets the demo run them back to back (observations are dated by tick).
    first_tick = datetime.now(UTC).replace(second=0, microsecond=0)
    lb_ids: list[str] = []
    for cycle in range(1, cycles + 1):
        published.clear()
        step = f" (emulator step {emulator.step})" if emulator is not None else ""
        tick = (
            (first_tick + timedelta(minutes=cycle - 1))
            if emulator is not None
            else (datetime.now(UTC).replace(microsecond=0))
        )
        out.write(f"\n{RULE}\ncycle {cycle}/{cycles}{step}  scheduled time {tick:%H:%M:%S} UTC\n")
        summary = without_metric_lines(
            out, handler.lambda_handler, scheduled_event(schedule, tick), FakeContext()
        )
        lb_ids = sorted({*lb_ids, *runtime.store.known_load_balancers()})
        print_fleet(out, runtime.store, lb_ids, tick)
        if summary["failed"] or summary["skipped"]:
            out.write(
                f"  not checked this run: failed {summary['failed']}, "
                f"skipped {summary['skipped']}\n"
            )
        print_messages(out, published, len(drain_queue(stack, queue_url)))
        if emulator is not None:
            emulator.advance()
        elif cycle < cycles:
            time.sleep(REAL_API_INTERVAL_SECONDS)

    out.write(f"\n{RULE}\nhistory read back from the table:\n")
    from zlb_health_tools.history import render_history

    started, end = first_tick - timedelta(minutes=1), tick + timedelta(minutes=1)
    for lb_id in lb_ids:
        render_history(
            lb_id,
            runtime.store.snapshots(lb_id, started, end),
            runtime.store.events(lb_id, started, end),
            backend=None,
            out=out,
        )
    out.write(f"\n{RULE}\ndone: {cycles} runs. Next: `make test`, or deploy (README).\n")
    return 0
