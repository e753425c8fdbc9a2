"""The environment contract: every invalid value names its variable and says what is wrong."""

from __future__ import annotations

import re

import pytest

from zlb_health.config import ConfigError, Target, load_config, parse_targets, validate_endpoint

BASE = {"TABLE_NAME": "t", "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t"}


def test_defaults() -> None:
    config = load_config(BASE)
    assert config.api_url == "https://console.zenlayer.com/api/v2/zlb"
    assert config.targets == ()
    assert (config.thresholds.failure, config.thresholds.recovery) == (2, 2)
    assert config.thresholds.monitor_failure == 3
    assert config.thresholds.reminder_minutes == 0
    assert (config.api_concurrency, config.snapshot_ttl_days) == (8, 30)
    assert config.max_messages_per_run == 10
    assert config.per_lb_metrics is True
    assert config.credentials_secret_arn is None


def test_targets_are_load_balancers_or_listeners() -> None:
    assert parse_targets(" lb-1 , lb-2/lsn-9,") == (Target("lb-1"), Target("lb-2", "lsn-9"))


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("TABLE_NAME", "", "is required"),
        ("TOPIC_ARN", "my-topic", "SNS topic ARN"),
        ("FAILURE_THRESHOLD", "0", "between 1 and 100"),
        ("RECOVERY_THRESHOLD", "two", "must be an integer"),
        ("MONITOR_FAILURE_THRESHOLD", "101", "between 1 and 100"),
        ("REMINDER_INTERVAL_MINUTES", "-5", "between 0 and 10080"),
        ("MAX_MESSAGES_PER_RUN", "1", "between 2 and 100"),
        ("API_CONCURRENCY", "65", "between 1 and 64"),
        ("SNAPSHOT_TTL_DAYS", "0", "between 1 and 3650"),
        ("PER_LB_METRICS", "yes", "true or false"),
        ("LOAD_BALANCER_IDS", "lb-1/a/b", "lbId or lbId/listenerId"),
        ("LOAD_BALANCER_IDS", "lb-1,lb-1", "same target twice"),
        ("ZENLAYER_API_ENDPOINT", "ftp://x", "http(s) URL"),
        ("ZENLAYER_API_ENDPOINT", "http://api.example.com", "loopback"),
        ("ZENLAYER_CREDENTIALS_SECRET_ARN", "my-secret", "Secrets Manager ARN"),
    ],
)
def test_an_invalid_value_names_the_variable(name: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)) as caught:
        load_config({**BASE, name: value})
    assert caught.value.variable == name
    assert str(caught.value).startswith(f"{name}: ")


def test_plain_http_only_for_loopback() -> None:
    assert validate_endpoint("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert validate_endpoint("https://console.zenlayer.com") == "https://console.zenlayer.com"
    with pytest.raises(ConfigError):
        validate_endpoint("http://10.0.0.1:8080")


def test_per_load_balancer_metrics_can_be_turned_off() -> None:
    assert load_config({**BASE, "PER_LB_METRICS": "False"}).per_lb_metrics is False
