"""Configuration from the environment, validated once per container.

The names and meanings are the runtime contract (README, "Configuration"). Any invalid value
raises ConfigError naming the variable, so an invocation fails before it starts a partial run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_ENDPOINT = "https://console.zenlayer.com"

# Every variable the deployed function reads (the template sets exactly these; a test checks).
ENV_VARS = frozenset(
    {
        "ZENLAYER_API_ENDPOINT",
        "ZENLAYER_CREDENTIALS_SECRET_ARN",
        "LOAD_BALANCER_IDS",
        "TABLE_NAME",
        "TOPIC_ARN",
        "FAILURE_THRESHOLD",
        "RECOVERY_THRESHOLD",
        "MONITOR_FAILURE_THRESHOLD",
        "REMINDER_INTERVAL_MINUTES",
        "MAX_MESSAGES_PER_RUN",
        "API_CONCURRENCY",
        "SNAPSHOT_TTL_DAYS",
        "SNAPSHOT_HEARTBEAT_MINUTES",
        "PER_LB_METRICS",
        "STACK_NAME",
    }
)
# Local runs only, when no secret ARN is given.
LOCAL_CREDENTIAL_VARS = (
    "ZENLAYER_ACCESS_KEY_ID",
    "ZENLAYER_ACCESS_KEY_PASSWORD",
    "ZENLAYER_API_TOKEN",
)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def is_valid_id(value: str) -> bool:
    """A load balancer or listener id as the API shapes them (letters, digits, ._:-)."""
    return bool(_ID.match(value))


_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class ConfigError(ValueError):
    """An environment variable is missing or invalid; the message names it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Target:
    """One monitored load balancer, optionally narrowed to one listener."""

    load_balancer_id: str
    listener_id: str | None = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    failure: int = 2
    recovery: int = 2
    monitor_failure: int = 3
    reminder_minutes: int = 0  # 0: reminders off


@dataclass(frozen=True, slots=True)
class Config:
    endpoint: str
    credentials_secret_arn: str | None
    targets: tuple[Target, ...]  # empty: discover every load balancer
    table_name: str
    topic_arn: str
    thresholds: Thresholds
    api_concurrency: int
    snapshot_ttl_days: int
    per_lb_metrics: bool  # six CloudWatch custom metrics per load balancer (they cost)
    max_messages_per_run: int
    stack_name: str = "zlb-health"  # named in every message, so stacks can share an inbox
    # A load balancer's snapshot is written when what was seen changed, and at least this often
    # (1: every run, as before); history counts a snapshot until the next one.
    snapshot_heartbeat_minutes: int = 60


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(name, f"must be between {minimum} and {maximum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in {"true", "false"}:
        raise ConfigError(name, f"must be true or false, got {raw!r}")
    return raw == "true"


def parse_targets(raw: str, *, variable: str = "LOAD_BALANCER_IDS") -> tuple[Target, ...]:
    targets: list[Target] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        lb_id, _, listener_id = item.partition("/")
        if not is_valid_id(lb_id) or (listener_id and not is_valid_id(listener_id)):
            raise ConfigError(variable, f"{item!r} is not of the form lbId or lbId/listenerId")
        targets.append(Target(lb_id, listener_id or None))
    if len(set(targets)) != len(targets):
        raise ConfigError(variable, "lists the same target twice")
    return tuple(targets)


def validate_endpoint(raw: str, *, variable: str = "ZENLAYER_API_ENDPOINT") -> str:
    """HTTPS always; plain HTTP only for loopback (the local emulator)."""
    parts = urlsplit(raw)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ConfigError(variable, f"must be an http(s) URL, got {raw!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ConfigError(variable, "plain http is only allowed for a loopback emulator")
    if parts.query or parts.fragment:
        raise ConfigError(variable, "must not carry a query or fragment")
    return raw.rstrip("/")


def load_config(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    table = env.get("TABLE_NAME", "").strip()
    if not table:
        raise ConfigError("TABLE_NAME", "is required")
    topic = env.get("TOPIC_ARN", "").strip()
    if not topic.startswith("arn:"):
        raise ConfigError("TOPIC_ARN", "is required and must be an SNS topic ARN")
    secret_arn = env.get("ZENLAYER_CREDENTIALS_SECRET_ARN", "").strip() or None
    if secret_arn is not None and not secret_arn.startswith("arn:"):
        raise ConfigError("ZENLAYER_CREDENTIALS_SECRET_ARN", "must be a Secrets Manager ARN")
    return Config(
        endpoint=validate_endpoint(
            env.get("ZENLAYER_API_ENDPOINT", "").strip() or DEFAULT_ENDPOINT
        ),
        credentials_secret_arn=secret_arn,
        targets=parse_targets(env.get("LOAD_BALANCER_IDS", "")),
        table_name=table,
        topic_arn=topic,
        thresholds=Thresholds(
            failure=_int(env, "FAILURE_THRESHOLD", 2, minimum=1, maximum=100),
            recovery=_int(env, "RECOVERY_THRESHOLD", 2, minimum=1, maximum=100),
            monitor_failure=_int(env, "MONITOR_FAILURE_THRESHOLD", 3, minimum=1, maximum=100),
            reminder_minutes=_int(env, "REMINDER_INTERVAL_MINUTES", 0, minimum=0, maximum=10080),
        ),
        api_concurrency=_int(env, "API_CONCURRENCY", 8, minimum=1, maximum=64),
        snapshot_ttl_days=_int(env, "SNAPSHOT_TTL_DAYS", 30, minimum=1, maximum=3650),
        per_lb_metrics=_bool(env, "PER_LB_METRICS", default=False),
        max_messages_per_run=_int(env, "MAX_MESSAGES_PER_RUN", 10, minimum=2, maximum=100),
        stack_name=env.get("STACK_NAME", "").strip() or "zlb-health",
        snapshot_heartbeat_minutes=_int(
            env, "SNAPSHOT_HEARTBEAT_MINUTES", 60, minimum=1, maximum=1440
        ),
    )
