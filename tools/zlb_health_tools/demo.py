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
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TextIO

from zlb_health.config import Thresholds
from zlb_health.engine.state import FLEET_ID
from zlb_health_tools.fleet import Held, blips, held_back
from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import LocalStack, create_local_stack, drain_queue, subscribe_queue
from zlb_health_tools.template import TemplateError, load_template, schedule_input

REAL_API_INTERVAL_SECONDS = 60.0
LAMBDA_TIMEOUT_SECONDS = 50.0
RULE = "-" * 78

if TYPE_CHECKING:
    from zlb_health.adapters.store import HealthStore, StoredState


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
    """Run `call(*args)`, passing on what it prints except the lines written for CloudWatch (EMF
    metric blobs, health lines): on a terminal they are noise (the story says it better)."""
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
    # EMF blobs, and the per-load-balancer health lines the dashboard's log widgets read.
    return isinstance(document, dict) and ("_aws" in document or "record" in document)


def print_fleet(out: TextIO, store: Any, lb_ids: list[str], tick: datetime) -> None:
    """Each load balancer's latest snapshot, read back from the table (written this tick when
    what the run saw changed, else the one that still holds: snapshots are change-only)."""
    for lb_id in lb_ids:
        snapshots = store.snapshots(lb_id, tick, tick + timedelta(seconds=59))
        if not snapshots:
            out.write(f"  {lb_id}: no snapshot\n")
            continue
        latest = snapshots[-1]
        if latest.observed_at < tick:
            out.write(
                f"  {lb_id}: unchanged since {latest.observed_at:%H:%M:%S} UTC (no new snapshot)\n"
            )
            continue
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


def print_messages(
    out: TextIO, published: list[dict[str, Any]], delivered: int, *, show_json: bool = False
) -> bool:
    """Each message as email and SMS subscribers get it; with `show_json`, the first one's JSON
    rendition (SQS, Lambda, HTTP subscribers) too. Returns whether the JSON was shown."""
    if not published:
        out.write("  notifications: none\n")
        return False
    out.write(
        f"  notifications: {len(published)} published "
        f"({delivered} seen by the SQS test subscriber)\n"
    )
    for index, message in enumerate(published):
        attrs = message["attributes"]
        out.write(
            f"\n  >> SNS message  event_type={attrs['event_type']} "
            f"severity={attrs['severity']} load_balancer_id={attrs['load_balancer_id']}\n"
        )
        out.write(f"  [SMS, {len(message['sms'])} chars] {message['sms']}\n")
        out.write(f"  [EMAIL] Subject: {message['subject']}\n")
        for line in message["email"].splitlines():
            out.write(f"  | {line}\n")
        if show_json and index == 0:  # every message has one; once is enough to see it
            out.write("  [JSON, as SQS, Lambda and HTTP subscribers get it; shown once]\n")
            for line in json.dumps(json.loads(message["default"]), indent=2).splitlines():
                out.write(f"  | {line}\n")
    return show_json


@dataclass
class Story:
    """What the cycles add up to: changes held below their threshold (why nothing was sent),
    blips (held changes that came back, never sent), and the totals at the end."""

    thresholds: Thresholds
    clock: Callable[[], float] = time.monotonic
    held: list[Held] = field(default_factory=list)
    blips: int = 0
    silenced: int = 0  # changes a maintenance silence held back
    severities: Counter[str] = field(default_factory=Counter)
    json_shown: bool = False
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def messages(self, published: list[dict[str, Any]]) -> None:
        self.severities.update(m["attributes"]["severity"] for m in published)

    def maintenance(
        self, out: TextIO, store: HealthStore, lb_ids: list[str], tick: datetime
    ) -> None:
        """What a silence held back in this run: recorded in the history, not sent."""
        for lb_id in lb_ids:
            for event in store.events(lb_id, tick, tick):
                if event.silenced_by is None:
                    continue
                self.silenced += len(event.transitions) + len(event.monitor_events)
                out.write(
                    f"  held back by maintenance {event.silenced_by} (recorded, not sent): "
                    f"{event.summary}\n"
                )

    def cycle(self, out: TextIO, states: list[StoredState]) -> None:
        """Say what is held back now, and which held changes came back (suppressed)."""
        came_back = blips(self.held, states)
        self.blips += len(came_back)
        self.held = [h for stored in states for h in held_back(stored, self.thresholds)]
        if self.held:
            out.write("  below threshold, not sent yet:\n")
        for held in self.held:
            out.write(f"    {_subject(held)}: {held.sentence()}\n")
        for held in came_back:
            out.write(f"  blip, suppressed: {_subject(held)}: {_came_back(held)}\n")

    def totals(self, out: TextIO, runs: int) -> None:
        sent = sum(self.severities.values())
        by_severity = ", ".join(
            f"{self.severities[s]} {s}" for s in ("critical", "warning", "info")
        )
        out.write(
            f"totals after {runs} runs:\n"
            f"  messages sent: {sent} ({by_severity})\n"
            f"  blips suppressed: {self.blips} (changes that came back before their threshold: "
            "nothing sent)\n"
            f"  held back by maintenance: {self.silenced} changes (told once, when it ended)\n"
            f"  elapsed: {self.clock() - self.started:.1f} s\n"
        )


def _subject(held: Held) -> str:
    if held.load_balancer_id == FLEET_ID:
        return "discovery"
    return held.load_balancer_name or held.load_balancer_id


def _came_back(held: Held) -> str:
    runs = f"{held.count} run{'s' if held.count > 1 else ''}"
    if held.kind == "down":
        return f"{held.what} was Dead for {runs} (threshold {held.threshold}), Alive again"
    if held.kind == "recovery":
        return f"{held.what} was Alive for {runs} (threshold {held.threshold}), Dead again"
    scope = f"{held.what}: " if held.what else ""
    return f"{scope}API calls failed {runs} (threshold {held.threshold}), working again"


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
    cycles, source = _configure(args, stack, emulator)
    from zlb_health import handler

    published: list[dict[str, Any]] = []
    runtime = handler.build_runtime(os.environ)
    runtime.publisher = _recording_publisher(runtime.config.topic_arn, published)
    handler._runtime = runtime
    story = Story(runtime.config.thresholds)

    _print_header(out, cycles, source, stack, runtime.config.thresholds)
    # Each cycle is one scheduled tick: a minute apart on the schedule's clock, as in AWS, even
    # though the emulator lets the demo run them back to back (observations are dated by tick).
    first_tick = datetime.now(UTC).replace(second=0, microsecond=0)
    if emulator is not None:
        _schedule_maintenance(out, stack, first_tick)
    lb_ids: list[str] = []
    tick = first_tick
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
        delivered = len(drain_queue(stack, queue_url))
        story.json_shown |= print_messages(
            out, published, delivered, show_json=not story.json_shown
        )
        story.messages(published)
        story.maintenance(out, runtime.store, lb_ids, tick)
        story.cycle(out, [*runtime.store.latest_states(), _fleet(runtime.store)])
        if emulator is not None:
            emulator.advance()
        elif cycle < cycles:
            time.sleep(REAL_API_INTERVAL_SECONDS)

    _print_history(out, runtime.store, lb_ids, (first_tick, tick))
    out.write(f"\n{RULE}\n")
    story.totals(out, cycles)
    out.write(f"\n{RULE}\ndone: {cycles} runs. Next: `make test`, or deploy (README).\n")
    return 0


# The demo fleet's maintenance (emulator/demo.py, steps 10-13): lb-web's http listener.
MAINTENANCE_STEPS: Final = (10, 14)


def _schedule_maintenance(out: TextIO, stack: LocalStack, first_tick: datetime) -> None:
    """Add the silence the demo story needs, with the real command (`zlb-health silence add`)."""
    from zlb_health_tools import cli
    from zlb_health_tools.silence import run_silence

    starts, ends = (first_tick + timedelta(minutes=step) for step in MAINTENANCE_STEPS)
    argv = ["silence", "add", "--load-balancer-id", "lb-web", "--listener-id", "lsn-web-http"]
    argv += ["--from", f"{starts:%Y-%m-%dT%H:%M:%SZ}", "--until", f"{ends:%Y-%m-%dT%H:%M:%SZ}"]
    argv += ["--comment", "rolling restart of web-http", "--author", "demo"]
    added, err = io.StringIO(), io.StringIO()
    env = {**os.environ, "TABLE_NAME": stack.table_name}
    if run_silence(cli.build_parser().parse_args(argv), env=env, out=added, err=err) != 0:
        raise RuntimeError(f"the demo's silence was refused: {err.getvalue().strip()}")
    first, last = MAINTENANCE_STEPS[0] + 1, MAINTENANCE_STEPS[1]
    out.write(
        f"  maintenance: silence {added.getvalue().strip()} on web-frontend's lsn-web-http for "
        f"cycles {first}-{last} ({starts:%H:%M}-{ends:%H:%M} UTC), added with\n"
        f"         zlb-health {' '.join(_quoted(a) for a in argv)}\n"
    )


def _quoted(arg: str) -> str:
    return f"'{arg}'" if " " in arg else arg


def _configure(args: argparse.Namespace, stack: LocalStack, emulator: Any) -> tuple[int, str]:
    """The function's environment for this demo: (cycles to run, where the API is)."""
    env = os.environ
    env.update(stack.function_env())
    env.setdefault("FAILURE_THRESHOLD", "2")
    env.setdefault("RECOVERY_THRESHOLD", "2")
    env.setdefault("MONITOR_FAILURE_THRESHOLD", "3")
    if emulator is None:
        endpoint = env.get("ZENLAYER_API_ENDPOINT") or "console.zenlayer.com"
        return args.cycles or 3, f"the REAL Zenlayer API at {endpoint}"
    from zlb_health_tools.emulator.server import DEMO_ACCESS_KEY

    env["ZENLAYER_API_ENDPOINT"] = emulator.url
    env["ZENLAYER_ACCESS_KEY_ID"] = DEMO_ACCESS_KEY.access_key_id
    env["ZENLAYER_ACCESS_KEY_PASSWORD"] = DEMO_ACCESS_KEY.access_key_password
    source = f"the Zenlayer API emulator at {emulator.url} (demo fleet)"
    return args.cycles or emulator.scenario.steps, source


def _recording_publisher(topic_arn: str, published: list[dict[str, Any]]) -> Any:
    from zlb_health.adapters.publisher import SnsPublisher

    class RecordingPublisher(SnsPublisher):
        """Keeps a copy of exactly what is handed to SNS, to show it on the terminal."""

        def publish(
            self, *, subject: str, message: Mapping[str, str], attributes: Mapping[str, str]
        ) -> str:
            message_id = super().publish(subject=subject, message=message, attributes=attributes)
            published.append({"subject": subject, **message, "attributes": dict(attributes)})
            return message_id

    return RecordingPublisher(topic_arn)


def _fleet(store: HealthStore) -> StoredState:
    """The fleet's STATE item (discovery's monitoring), for what it holds back."""
    return store.load_states([FLEET_ID])[FLEET_ID]


def _print_header(
    out: TextIO, cycles: int, source: str, stack: LocalStack, thresholds: Thresholds
) -> None:
    out.write(
        f"zlb-health demo: {cycles} scheduled runs of the real Lambda handler\n"
        f"  API:   {source}\n"
        f"  AWS:   local moto server at {stack.endpoint_url} (table {stack.table_name}, "
        f"topic {stack.topic_arn.rsplit(':', 1)[-1]})\n"
        f"  rules: FAILURE_THRESHOLD={thresholds.failure} "
        f"RECOVERY_THRESHOLD={thresholds.recovery} "
        f"MONITOR_FAILURE_THRESHOLD={thresholds.monitor_failure}\n"
    )


def _print_history(
    out: TextIO, store: HealthStore, lb_ids: list[str], ticks: tuple[datetime, datetime]
) -> None:
    out.write(f"\n{RULE}\nhistory read back from the table:\n")
    from zlb_health_tools.history import Silences, render_history

    started, end = ticks  # the first run and the last one (history counts its minute)
    silences = [s for s, _matched in store.load_silences()]
    for lb_id in lb_ids:
        render_history(
            lb_id,
            store.snapshots(lb_id, started, end),
            store.events(lb_id, started, end),
            backend=None,
            out=out,
            window=(started, end),
            now=end + timedelta(minutes=1),  # the demo's ticks run ahead of the clock
            legend=lb_id == lb_ids[-1],
            silences=Silences(lb_id, [s for s in silences if s.matches_load_balancer(lb_id)]),
        )
