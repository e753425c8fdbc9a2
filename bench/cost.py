"""Monthly AWS cost of the monitor, from measured figures, and of the managed alternatives.

PRICES are us-east-1 public list prices as stated in the performance issue and used on
PRICES_DATE (not re-read from the AWS pages that day): assumptions to check against
https://aws.amazon.com/pricing/ before relying on the totals. Free tiers are ignored except
where noted (Scheduler's 14M invocations, CloudWatch's first 3 dashboards, X-Ray's 100k
traces).

What a month costs depends on the deployment's parameters (`Options`): the defaults are change-
only snapshots with a 60-minute heartbeat, no per-load-balancer metrics and one shard. Per-run
figures come from workload A (bench/workloads.py): a steady run (nothing changed, no snapshot
due: the tick's claim and finish, the state read), the heartbeat run (every load balancer's
snapshot due: its snapshot and the STATE item that remembers it) and a run with
PER_LB_METRICS=true (its EMF bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PRICES_DATE = "2026-11-23"
RUNS_PER_MONTH = 43_200  # rate(1 minute), 30 days
HOURS_PER_MONTH = 720
BACKENDS_PER_LB = 25
PRICES = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_per_request": 0.20 / 1e6,
    "ddb_write_request_unit": 0.625 / 1e6,
    "ddb_read_request_unit": 0.125 / 1e6,
    "ddb_storage_gb_month": 0.25,
    "scheduler_per_invocation": 1.00 / 1e6,  # after 14M free per month
    "scheduler_free_invocations": 14e6,
    "secret_month": 0.40,
    "secret_per_call": 0.05 / 10_000,
    "sns_email_per_message": 2.00 / 100_000,
    "sns_sms_per_message_us": 0.00645,
    "logs_ingest_gb": 0.50,
    "custom_metric_month": 0.30,  # first 10k metrics, prorated by the hour
    "alarm_standard_month": 0.10,  # per standard-resolution alarm metric
    "dashboard_month": 3.00,  # beyond the account's first 3 (free)
    "xray_per_trace": 5.00 / 1e6,  # traces recorded, after 100k free per month
    "xray_free_traces": 100_000,
    "kms_key_month": 1.00,
    "kms_per_request": 0.03 / 10_000,
    "route53_health_check_non_aws": 0.75,
    "synthetics_canary_run": 0.0012,
}
LAMBDA_FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, proportionally less below
PLATFORM_LOG_BYTES = 350  # START/END/REPORT lines Lambda adds per invocation (approximate)
DDB_ITEM_OVERHEAD = 100  # bytes DynamoDB adds per stored item (storage billing)
TICK_ITEM_BYTES = 120  # TICK#<shard> items (PK, SK, owner, leaseUntil, done, expiresAt)
TICK_TTL_DAYS = 2  # adapters/store.py TICK_TTL
SECRET_MAX_AGE_MINUTES = 5  # powertools max_age=300 in adapters/secrets.py
NOTIFICATIONS_PER_DAY = 5  # assumption: "a few" state changes a day
# Assumption: each notification follows runs that changed the load balancer's state (the
# failure threshold's streak, 2 by default): each such run writes its snapshot and STATE item,
# as a heartbeat does.
CHANGE_RUNS_PER_NOTIFICATION = 2
# Assumption for the health lines (`record: lb_health`, printed only for load balancers that
# are not all healthy): this share of load-balancer-minutes is not all healthy.
UNHEALTHY_SHARE = 0.02
METRICS_PER_LB = 6  # PER_LB_METRICS=true: Alive, Dead, Unknown, ApiLatency, ApiErrors, Sent
HEARTBEAT_METRICS_PER_SHARD = 1  # RunsCompleted {service, FunctionName, Shard}
DEFAULT_HEARTBEAT_MINUTES = 60


@dataclass(frozen=True)
class Options:
    """The parameters that change the bill (template.yaml)."""

    per_lb_metrics: bool = False  # PerLoadBalancerMetrics
    heartbeat_minutes: int = DEFAULT_HEARTBEAT_MINUTES  # SnapshotHeartbeatMinutes
    shards: int = 1  # Shards
    sms: bool = False  # NotificationPhoneNumber (US numbers)

    def label(self) -> str:
        parts = []
        if self.per_lb_metrics:
            parts.append("`PerLoadBalancerMetrics=true`")
        if self.heartbeat_minutes != DEFAULT_HEARTBEAT_MINUTES:
            parts.append(f"`SnapshotHeartbeatMinutes={self.heartbeat_minutes}`")
        if self.shards != 1:
            parts.append(f"`Shards={self.shards}`")
        if self.sms:
            parts.append("SMS alerts (US)")
        return ", ".join(parts) or "defaults"


DEFAULT = Options()
# The rows of the README's table: the defaults, then each richer option on its own.
OPTIONS = (
    DEFAULT,
    Options(per_lb_metrics=True),
    Options(heartbeat_minutes=1),
    Options(shards=4),
    Options(sms=True),
)


@dataclass(frozen=True)
class PerRun:
    """Measured (or extrapolated) figures of the runs at a given fleet size (one shard)."""

    load_balancers: int
    duration_s: float  # steady run
    cpu_s: float
    wru: float  # steady run, table + GSI (the tick's claim and finish)
    rru: float
    log_bytes: float  # steady run, all healthy: log lines + EMF (RunsCompleted)
    heartbeat_duration_s: float  # the heartbeat run's extra wall time over a steady run
    heartbeat_cpu_s: float
    heartbeat_wru: float  # the heartbeat run's extra WRU (every snapshot + STATE item)
    snapshot_item_bytes: float
    state_item_bytes: float
    per_lb_metrics_log_bytes: float  # extra log bytes of a run with PER_LB_METRICS=true
    measured: bool


@dataclass(frozen=True)
class Fixed:
    """Per-run figures that do not grow with the fleet (a run of any shard pays them)."""

    wru: float
    rru: float
    duration_s: float


@dataclass(frozen=True)
class Deployment:
    """What the template creates that is billed by the month (counted from template.yaml)."""

    alarm_conditions: tuple[int, ...]  # per alarm: it exists when Shards > this (0: always)
    dashboards: int
    health_line_bytes: int  # one `lb_health` line as the function prints it

    def alarms(self, shards: int) -> int:
        return sum(1 for needs in self.alarm_conditions if shards > needs)


def deployment_from_template(template: dict[str, Any], health_line_bytes: int) -> Deployment:
    """Alarms and dashboards as template.yaml declares them: an alarm under condition
    UsesShardK exists when Shards > K (the watchdog of shard K)."""
    conditions = []
    dashboards = 0
    for resource in template["Resources"].values():
        kind = resource.get("Type")
        if kind == "AWS::CloudWatch::Alarm":
            condition = resource.get("Condition", "")
            if condition and not condition.startswith("UsesShard"):
                raise ValueError(f"an alarm under condition {condition}: teach bench/cost.py")
            conditions.append(int(condition.removeprefix("UsesShard") or 0))
        elif kind == "AWS::CloudWatch::Dashboard":
            dashboards += 1
    return Deployment(tuple(sorted(conditions)), dashboards, health_line_bytes)


def lambda_duration(seconds: float, cpu_s: float, memory_mb: int) -> float:
    """Measured wall time, or the CPU time stretched by Lambda's CPU share if that is longer."""
    share = min(1.0, memory_mb / LAMBDA_FULL_VCPU_MB)
    return max(seconds, cpu_s / share)


def monthly(
    per_run: PerRun,
    memory_mb: int,
    *,
    deployment: Deployment,
    fixed: Fixed,
    options: Options = DEFAULT,
    ttl_days: int = 30,
) -> dict[str, float]:
    p = PRICES
    runs = RUNS_PER_MONTH
    lbs = per_run.load_balancers
    extra_shards = options.shards - 1
    invocations = runs * options.shards
    # A share 1/heartbeat of the runs is a heartbeat run for each load balancer (with
    # SnapshotHeartbeatMinutes=1, every run).
    heartbeat_share = 1 / options.heartbeat_minutes
    notifications = NOTIFICATIONS_PER_DAY * 30
    change_runs = notifications * CHANGE_RUNS_PER_NOTIFICATION
    per_lb_heartbeat_wru = per_run.heartbeat_wru / max(1, lbs)

    # All shards' runs of one tick together: the fleet's cycle, plus each extra shard's fixed
    # part (its tick claim, fleet and state reads, discovery).
    wall = (
        per_run.duration_s
        + heartbeat_share * per_run.heartbeat_duration_s
        + extra_shards * fixed.duration_s
    )
    cpu = per_run.cpu_s + heartbeat_share * per_run.heartbeat_cpu_s
    billed = math.ceil(lambda_duration(wall, cpu, memory_mb) * 1000) / 1000  # 1 ms billing
    wru = (
        runs * (per_run.wru + heartbeat_share * per_run.heartbeat_wru)
        + runs * extra_shards * fixed.wru
        + change_runs * per_lb_heartbeat_wru
    )
    rru = runs * (per_run.rru + extra_shards * fixed.rru)
    snapshots_kept = (lbs * runs * heartbeat_share + change_runs) * ttl_days / 30
    stored_bytes = (
        snapshots_kept * (per_run.snapshot_item_bytes + DDB_ITEM_OVERHEAD)
        + lbs * (per_run.state_item_bytes + DDB_ITEM_OVERHEAD)
        + options.shards * TICK_TTL_DAYS * 1440 * (TICK_ITEM_BYTES + DDB_ITEM_OVERHEAD)
    )
    secret_calls = invocations / SECRET_MAX_AGE_MINUTES  # a warm container per shard
    log_bytes = (
        invocations * PLATFORM_LOG_BYTES
        + runs * per_run.log_bytes
        + runs * extra_shards * per_run.log_bytes  # another shard prints the same run lines
        + runs * lbs * UNHEALTHY_SHARE * deployment.health_line_bytes
        + (runs * per_run.per_lb_metrics_log_bytes if options.per_lb_metrics else 0.0)
    )
    # RunsCompleted per shard all month; NotificationsSent exists in the hours with a
    # notification (at most one hour each); the other run metrics only while a run fails,
    # skips or has rows it cannot read (none assumed).
    metric_months = (
        HEARTBEAT_METRICS_PER_SHARD * options.shards
        + min(HOURS_PER_MONTH, notifications) / HOURS_PER_MONTH
    )
    if options.per_lb_metrics:
        metric_months += METRICS_PER_LB * lbs
    # KMS: Secrets Manager decrypts per GetSecretValue; SNS asks for a data key per publish
    # (cached up to 5 min); CloudWatch Logs re-uses data keys (~1 request / 5 min assumed).
    kms_requests = secret_calls + notifications + runs / 5
    sns = notifications * (
        p["sns_sms_per_message_us"] if options.sms else p["sns_email_per_message"]
    )
    return {
        "Lambda duration": runs * billed * memory_mb / 1024 * p["lambda_gb_second_arm64"],
        "Lambda requests": invocations * p["lambda_per_request"],
        "DynamoDB writes": wru * p["ddb_write_request_unit"],
        "DynamoDB reads": rru * p["ddb_read_request_unit"],
        "DynamoDB storage": stored_bytes / 1e9 * p["ddb_storage_gb_month"],
        "Scheduler": max(0.0, invocations - p["scheduler_free_invocations"])
        * p["scheduler_per_invocation"],
        "Secrets Manager (secret)": p["secret_month"] + secret_calls * p["secret_per_call"],
        "SNS (SMS, US)" if options.sms else "SNS (email)": sns,
        "CloudWatch Logs": log_bytes / 1e9 * p["logs_ingest_gb"],
        "CloudWatch custom metrics": metric_months * p["custom_metric_month"],
        "CloudWatch alarms": deployment.alarms(options.shards) * p["alarm_standard_month"],
        "CloudWatch dashboard (first 3 free)": max(0, deployment.dashboards - 3)
        * p["dashboard_month"],
        "KMS (key)": p["kms_key_month"] + kms_requests * p["kms_per_request"],
        "X-Ray (100k traces free)": max(0.0, invocations - p["xray_free_traces"])
        * p["xray_per_trace"],
    }


def total(lines: dict[str, float]) -> float:
    return sum(lines.values())


def alternatives(load_balancers: int) -> dict[str, float]:
    backends = load_balancers * BACKENDS_PER_LB
    return {
        "Route 53 health checks": backends * PRICES["route53_health_check_non_aws"],
        "CloudWatch Synthetics": backends * RUNS_PER_MONTH * PRICES["synthetics_canary_run"],
    }


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares line through the points: (intercept, slope)."""
    if len(xs) == 1:
        return 0.0, ys[0] / xs[0]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return my - slope * mx, slope


PER_RUN_KEYS = (
    "wall",
    "cpu",
    "wru",
    "rru",
    "log_bytes",
    "hb_wall",
    "hb_cpu",
    "hb_wru",
    "snapshot_item_bytes",
    "state_item_bytes",
    "per_lb_log_bytes",
)


def _per_run(load_balancers: int, values: dict[str, float], *, measured: bool) -> PerRun:
    return PerRun(
        load_balancers,
        values["wall"],
        values["cpu"],
        values["wru"],
        values["rru"],
        values["log_bytes"],
        max(0.0, values["hb_wall"]),
        max(0.0, values["hb_cpu"]),
        values["hb_wru"],
        values["snapshot_item_bytes"],
        values["state_item_bytes"],
        values["per_lb_log_bytes"],
        measured=measured,
    )


def per_run_at(points: list[dict[str, Any]], load_balancers: int) -> PerRun:
    """The measured point for this size, or a straight-line extrapolation from all points
    (item sizes: those of the largest size measured)."""
    for point in points:
        if point["lbs"] == load_balancers:
            return _per_run(load_balancers, point, measured=True)
    xs = [float(p["lbs"]) for p in points]
    values: dict[str, float] = {}
    for key in PER_RUN_KEYS:
        if key.endswith("item_bytes"):
            values[key] = float(points[-1][key])
            continue
        intercept, slope = fit(xs, [float(p[key]) for p in points])
        values[key] = max(0.0, intercept + slope * load_balancers)
    return _per_run(load_balancers, values, measured=False)


def fixed_per_run(points: list[dict[str, Any]]) -> Fixed:
    """The intercepts of the steady-run lines: what a run costs with no load balancer."""
    xs = [float(p["lbs"]) for p in points]
    return Fixed(
        *(max(0.0, fit(xs, [float(p[key]) for p in points])[0]) for key in ("wru", "rru", "wall"))
    )
