"""Monthly AWS cost of the monitor, from measured figures, and of the managed alternatives.

PRICES are us-east-1 public list prices as stated in the performance issue and used on
PRICES_DATE (not re-read from the AWS pages that day): assumptions to check against
https://aws.amazon.com/pricing/ before relying on the totals. Free tiers are ignored except
where noted (Scheduler's 14M invocations, CloudWatch's first 10k metrics price band, X-Ray's
100k traces).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PRICES_DATE = "2026-11-23"
RUNS_PER_MONTH = 43_200  # rate(1 minute), 30 days
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
    "custom_metric_month": 0.30,  # first 10k metrics
    "kms_key_month": 1.00,
    "kms_per_request": 0.03 / 10_000,
    "route53_health_check_non_aws": 0.75,
    "synthetics_canary_run": 0.0012,
}
LAMBDA_FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, proportionally less below
PLATFORM_LOG_BYTES = 350  # START/END/REPORT lines Lambda adds per invocation (approximate)
DDB_ITEM_OVERHEAD = 100  # bytes DynamoDB adds per stored item (storage billing)
SECRET_MAX_AGE_MINUTES = 5  # powertools max_age=300 in adapters/secrets.py
NOTIFICATIONS_PER_DAY = 5  # assumption: "a few" state changes a day
METRICS_PER_LB = 6
METRICS_PER_RUN = 6 + 1  # + powertools' ColdStart metric (capture_cold_start_metric=True)


@dataclass(frozen=True)
class PerRun:
    """Measured (or extrapolated) figures of one steady-state run at a given fleet size."""

    load_balancers: int
    duration_s: float
    cpu_s: float
    wru: float
    rru: float
    log_bytes: float
    snapshot_item_bytes: float  # per load balancer
    measured: bool


def lambda_duration(per_run: PerRun, memory_mb: int) -> float:
    """Measured wall time, or the CPU time stretched by Lambda's CPU share if that is longer."""
    share = min(1.0, memory_mb / LAMBDA_FULL_VCPU_MB)
    return max(per_run.duration_s, per_run.cpu_s / share)


def monthly(per_run: PerRun, memory_mb: int, ttl_days: int = 30) -> dict[str, float]:
    p = PRICES
    runs = RUNS_PER_MONTH
    duration = math.ceil(lambda_duration(per_run, memory_mb) * 1000) / 1000  # 1 ms billing
    stored_items = per_run.load_balancers * runs * ttl_days / 30
    storage_gb = stored_items * (per_run.snapshot_item_bytes + DDB_ITEM_OVERHEAD) / 1e9
    secret_calls = runs / SECRET_MAX_AGE_MINUTES
    notifications = NOTIFICATIONS_PER_DAY * 30
    logs_gb = runs * (per_run.log_bytes + PLATFORM_LOG_BYTES) / 1e9
    metrics = METRICS_PER_LB * per_run.load_balancers + METRICS_PER_RUN
    # KMS: Secrets Manager decrypts per GetSecretValue; SNS asks for a data key per publish
    # (cached up to 5 min); CloudWatch Logs re-uses data keys (~1 request / 5 min assumed).
    kms_requests = secret_calls + notifications + runs / 5
    return {
        "Lambda duration": runs * duration * memory_mb / 1024 * p["lambda_gb_second_arm64"],
        "Lambda requests": runs * p["lambda_per_request"],
        "DynamoDB writes": runs * per_run.wru * p["ddb_write_request_unit"],
        "DynamoDB reads": runs * per_run.rru * p["ddb_read_request_unit"],
        "DynamoDB storage": storage_gb * p["ddb_storage_gb_month"],
        "Scheduler": max(0.0, runs - p["scheduler_free_invocations"])
        * p["scheduler_per_invocation"],
        "Secrets Manager": p["secret_month"] + secret_calls * p["secret_per_call"],
        "SNS (email)": notifications * p["sns_email_per_message"],
        "SNS (SMS, US)": notifications * p["sns_sms_per_message_us"],
        "CloudWatch Logs": logs_gb * p["logs_ingest_gb"],
        "EMF custom metrics": metrics * p["custom_metric_month"],
        "KMS": p["kms_key_month"] + kms_requests * p["kms_per_request"],
        "X-Ray (100k traces free)": 0.0,
    }


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


def per_run_at(points: list[dict[str, Any]], load_balancers: int) -> PerRun:
    """The measured point for this size, or a straight-line extrapolation from all points."""
    for point in points:
        if point["lbs"] == load_balancers:
            return PerRun(
                load_balancers,
                point["wall"],
                point["cpu"],
                point["wru"],
                point["rru"],
                point["log_bytes"],
                point["snapshot_item_bytes"],
                measured=True,
            )
    xs = [float(p["lbs"]) for p in points]

    def line(key: str) -> float:
        intercept, slope = fit(xs, [float(p[key]) for p in points])
        return max(0.0, intercept + slope * load_balancers)

    return PerRun(
        load_balancers,
        line("wall"),
        line("cpu"),
        line("wru"),
        line("rru"),
        line("log_bytes"),
        points[-1]["snapshot_item_bytes"],
        measured=False,
    )
