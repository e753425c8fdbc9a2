"""Lambda entry point: parse the event, build the run once per container, run one cycle.

X-Ray: the function runs with active tracing (template.yaml), which traces each invocation.
The X-Ray SDK (powertools' Tracer) is left out on purpose: it pulls a second botocore (~30 MB)
into the bundle, shadowing the runtime's boto3 and slowing every cold start.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import urllib3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from zlb_health.adapters import aws
from zlb_health.adapters.aws import Deadline
from zlb_health.adapters.publisher import SnsPublisher
from zlb_health.adapters.secrets import SecretCredentials, credentials_from_environment
from zlb_health.adapters.store import HealthStore
from zlb_health.config import Config, load_config
from zlb_health.engine.render import Origin
from zlb_health.events import parse_scheduled_event
from zlb_health.monitor import Monitor, RunReport
from zlb_health.shards import Shard
from zlb_health.zenlayer.client import ZenlayerClient
from zlb_health.zenlayer.credentials import Credentials

# The template sets both (the dashboard and alarms are built on the namespace); the defaults
# are the same names, for local runs.
SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "") or "zlb-health"
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "") or "ZlbHealth"

logger = Logger(service=SERVICE_NAME)
# The domain modules log through the standard library: give them the same JSON format.
copy_config_to_registered_loggers(source_logger=logger, include={"zlb_health"})

# botocore logs whole response bodies at DEBUG, GetSecretValue's included: never let it.
for _noisy in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_noisy).setLevel(max(logging.INFO, logging.getLogger(_noisy).level))

# A run keeps every load balancer's decoded state alive while it polls: tens of thousands of
# container objects that CPython's default young generation (2,000 allocations) makes the
# collector walk again and again, holding the GIL while the poll's answers wait. Ten times that
# collects the same garbage, a tenth as often (bench, 200 LBs of 25 backends: collector time
# per run about 40 ms -> 18 ms).
YOUNG_GENERATION = 20_000
gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])

# Time kept back from the API phase to save state and publish, whatever the function timeout.
MIN_RESERVE_SECONDS = 3.0
MAX_RESERVE_SECONDS = 12.0
# The run ends this long before Lambda would stop it (logging and metrics still to flush).
END_MARGIN_SECONDS = 1.0
# The watchdog's metric (template.yaml's MonitorNotRunningAlarm*): 1 per completed run, with
# the function's name as a dimension so that stacks in one account never vouch for each other,
# and the shard's index, so that one shard's schedule cannot vouch for another's.
HEARTBEAT_METRIC = "RunsCompleted"
HEARTBEAT_DIMENSION = "FunctionName"
SHARD_DIMENSION = "Shard"


@dataclass(slots=True)
class Runtime:
    """What one container builds once and reuses: configuration, pools and AWS clients."""

    config: Config
    store: HealthStore
    publisher: SnsPublisher
    pool: urllib3.PoolManager
    secret: SecretCredentials | None  # None: local run, credentials from the environment
    origin: Origin
    client: ZenlayerClient | None = None
    credentials: Credentials | None = None

    def zenlayer_client(self, credentials: Credentials) -> ZenlayerClient:
        # A rotated secret gives new credentials: rebuild the client, keep the pool.
        if self.client is None or credentials != self.credentials:
            self.client = ZenlayerClient(
                endpoint=self.config.endpoint, credentials=credentials, pool=self.pool
            )
            self.credentials = credentials
        return self.client


_runtime: Runtime | None = None


def build_runtime(env: Mapping[str, str]) -> Runtime:
    config = load_config(env)
    return Runtime(
        config=config,
        store=HealthStore(
            config.table_name, ttl_days=config.snapshot_ttl_days, client=aws.client("dynamodb")
        ),
        publisher=SnsPublisher(config.topic_arn),  # its client on first publish
        pool=urllib3.PoolManager(num_pools=4, maxsize=config.api_concurrency, block=True),
        secret=(
            SecretCredentials(config.credentials_secret_arn, client=aws.client("secretsmanager"))
            if config.credentials_secret_arn
            else None
        ),
        origin=Origin(config.stack_name, env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", ""))),
    )


def get_runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - one Runtime per container, built on first use
    if _runtime is None:
        _runtime = build_runtime(os.environ)
    return _runtime


def fetch_credentials(runtime: Runtime) -> Credentials:
    if runtime.secret is not None:
        return runtime.secret.get()
    return credentials_from_environment(os.environ)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    scheduled = parse_scheduled_event(event)
    runtime = get_runtime()  # invalid configuration fails here, before any work
    credentials = fetch_credentials(runtime)
    run_id = f"{context.aws_request_id}/{uuid.uuid4().hex[:8]}"
    logger.append_keys(run_id=run_id, execution_id=scheduled.execution_id)

    remaining = context.get_remaining_time_in_millis() / 1000.0
    reserve = min(MAX_RESERVE_SECONDS, max(MIN_RESERVE_SECONDS, remaining * 0.25))
    monitor = Monitor(
        config=runtime.config,
        client=runtime.zenlayer_client(credentials),
        store=runtime.store,
        publisher=runtime.publisher,
        origin=runtime.origin,
    )
    started = time.monotonic()
    report = monitor.run_once(
        run_id=run_id,
        api_deadline=started + remaining - reserve,
        # Past the invocation's own end nobody can still be publishing these.
        lease_until=time.time() + remaining + 1.0,
        scheduled_time=scheduled.scheduled_time,
        shard=scheduled.shard,
        deadline=Deadline(started + remaining - END_MARGIN_SECONDS),
    )
    duration_ms = (time.monotonic() - started) * 1000.0
    completed = not report.store_errors
    emit_run_metrics(report, function_name=context.function_name, shard=scheduled.shard,
                     completed=completed)  # fmt: skip
    if runtime.config.per_lb_metrics:
        emit_load_balancer_metrics(report)
    emit_health_lines(report)
    summary = report.summary()
    logger.info(
        "run finished",
        extra={**summary, "durationMs": round(duration_ms, 1), "shard": scheduled.shard.key},
    )
    if not completed:
        # The run ended cleanly, but what it saw is not all saved or delivered: fail the
        # invocation so the errors alarm says so (the next run picks up what is pending).
        raise RunIncompleteError(report.store_errors)
    return summary


class RunIncompleteError(RuntimeError):
    """DynamoDB failed part of the run; what is pending stays pending for the next one."""

    def __init__(self, errors: list[str]) -> None:
        shown = "; ".join(errors[:5]) + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
        super().__init__(f"run incomplete: {shown}")


# -- what the run tells CloudWatch ---------------------------------------------------------------
# Custom metrics are billed per metric and hour they exist in, so a run publishes only what
# must be alarmed on: the heartbeat always, the rest only while it is not zero. How each load
# balancer is doing goes to the logs (emit_health_lines), which the dashboard queries.


def _metrics(function_name: str) -> EphemeralMetrics:
    blob = EphemeralMetrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
    blob.add_dimension(HEARTBEAT_DIMENSION, function_name)
    return blob


def emit_run_metrics(
    report: RunReport, *, function_name: str, shard: Shard, completed: bool
) -> None:
    """The dead man's switch (RunsCompleted, per shard: only a run that got to its end says it
    ran; a disabled schedule, a deleted secret, a broken deployment or a run that always fails
    all leave a gap), and what is wrong with the run, only while something is."""
    trouble = _metrics(function_name)
    for name, value in (
        ("LoadBalancersSkipped", len(report.skipped)),
        ("LoadBalancersFailed", len(report.failed)),
        ("NotificationsPending", report.notifications_pending),
        ("InvalidRows", report.invalid_rows),
        ("NotificationsSent", report.messages_published),
    ):
        if value:
            trouble.add_metric(name, MetricUnit.Count, value)
    if trouble.metric_set:
        trouble.flush_metrics()
    if completed:
        heartbeat = _metrics(function_name)
        heartbeat.add_dimension(SHARD_DIMENSION, str(shard.index))
        heartbeat.add_metric(HEARTBEAT_METRIC, MetricUnit.Count, 1)
        heartbeat.flush_metrics()


def emit_load_balancer_metrics(report: RunReport) -> None:
    """PER_LB_METRICS: six custom metrics per load balancer (about $1.80 each a month)."""
    for lb_id, lb in sorted(report.load_balancers.items()):
        if lb.skipped:
            continue
        per_lb = EphemeralMetrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
        per_lb.add_dimension("LoadBalancerId", lb_id)
        if lb.ok:
            per_lb.add_metric("BackendsAlive", MetricUnit.Count, lb.counts.get("alive", 0))
            per_lb.add_metric("BackendsDead", MetricUnit.Count, lb.counts.get("dead", 0))
            per_lb.add_metric("BackendsUnknown", MetricUnit.Count, lb.counts.get("unknown", 0))
            per_lb.add_metric("ApiLatency", MetricUnit.Milliseconds, lb.latency_ms or 0.0)
        per_lb.add_metric("ApiErrors", MetricUnit.Count, 0 if lb.ok else 1)
        per_lb.add_metric("NotificationsSent", MetricUnit.Count, lb.messages_published)
        per_lb.flush_metrics()


HEALTH_RECORD = "lb_health"


def emit_health_lines(report: RunReport, out: TextIO | None = None) -> None:
    """One compact JSON line per load balancer that is not all healthy (or whose check
    failed), for the dashboard's Logs Insights widgets: a load balancer that prints nothing
    was all healthy. Nothing secret: ids and counts."""
    out = out or sys.stdout
    for lb_id, lb in sorted(report.load_balancers.items()):
        if lb.skipped:
            continue
        counts = lb.counts
        partial = counts.get("partial", 0)
        down = counts.get("dead", 0) - partial
        not_alive = down + partial + counts.get("unknown", 0) + counts.get("close", 0)
        if lb.ok and not not_alive:
            continue
        record = {
            "record": HEALTH_RECORD,
            "lb": lb_id,
            "ok": lb.ok,
            "backends": counts.get("backends", 0),
            "alive": counts.get("alive", 0),
            "dead": down,
            "partial": partial,
            "unknown": counts.get("unknown", 0),
            "close": counts.get("close", 0),
            "error": lb.error_kind,
        }
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
