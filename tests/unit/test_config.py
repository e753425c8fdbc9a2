"""The environment contract: every invalid value names its variable and says what is wrong.

Endpoint validation (https, plain http on loopback only) is tested in test_security.py.
"""

from __future__ import annotations

import pytest

from zlb_health.config import (
    Config,
    ConfigError,
    Target,
    Thresholds,
    load_config,
    parse_targets,
    validate_endpoint,
)

TOPIC = "arn:aws:sns:us-east-1:123456789012:t"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:zlb-AbCdEf"
BASE = {"TABLE_NAME": "t", "TOPIC_ARN": TOPIC}


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    assert str(caught.value).startswith(f"{caught.value.variable}: ")
    return str(caught.value)


def test_only_the_table_and_topic_are_required_and_the_rest_defaults() -> None:
    assert load_config(BASE) == Config(
        endpoint="https://console.zenlayer.com",
        credentials_secret_arn=None,
        targets=(),
        table_name="t",
        topic_arn=TOPIC,
        thresholds=Thresholds(failure=2, recovery=2, monitor_failure=3, reminder_minutes=0),
        api_concurrency=8,
        snapshot_ttl_days=30,
        per_lb_metrics=False,
        max_messages_per_run=10,
        stack_name="zlb-health",
        snapshot_heartbeat_minutes=60,
    )


def test_every_variable_is_read_and_trimmed() -> None:
    env = {
        "ZENLAYER_API_ENDPOINT": " https://api.example.com/zen/ ",
        "ZENLAYER_CREDENTIALS_SECRET_ARN": f" {SECRET} ",
        "LOAD_BALANCER_IDS": "lb-1,lb-2/lsn-9",
        "TABLE_NAME": " table-1 ",
        "TOPIC_ARN": f" {TOPIC} ",
        "FAILURE_THRESHOLD": " 4 ",
        "RECOVERY_THRESHOLD": "5",
        "MONITOR_FAILURE_THRESHOLD": "6",
        "REMINDER_INTERVAL_MINUTES": "60",
        "MAX_MESSAGES_PER_RUN": "20",
        "API_CONCURRENCY": "16",
        "SNAPSHOT_TTL_DAYS": "7",
        "SNAPSHOT_HEARTBEAT_MINUTES": " 15 ",
        "PER_LB_METRICS": " TRUE ",
        "STACK_NAME": " zlb-prod ",
    }
    assert load_config(env) == Config(
        endpoint="https://api.example.com/zen",
        credentials_secret_arn=SECRET,
        targets=(Target("lb-1"), Target("lb-2", "lsn-9")),
        table_name="table-1",
        topic_arn=TOPIC,
        thresholds=Thresholds(failure=4, recovery=5, monitor_failure=6, reminder_minutes=60),
        api_concurrency=16,
        snapshot_ttl_days=7,
        per_lb_metrics=True,
        max_messages_per_run=20,
        stack_name="zlb-prod",
        snapshot_heartbeat_minutes=15,
    )


def test_without_an_argument_the_process_environment_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TABLE_NAME", "from-process-env")
    monkeypatch.setenv("TOPIC_ARN", TOPIC)
    assert load_config().table_name == "from-process-env"


def test_the_endpoint_loses_its_trailing_slash() -> None:
    config = load_config({**BASE, "ZENLAYER_API_ENDPOINT": "http://127.0.0.1:8080/"})
    assert config.endpoint == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TOPIC_ARN": TOPIC}, "TABLE_NAME: is required"),
        ({**BASE, "TABLE_NAME": "  "}, "TABLE_NAME: is required"),
        ({"TABLE_NAME": "t"}, "TOPIC_ARN: is required and must be an SNS topic ARN"),
        ({**BASE, "TOPIC_ARN": "my-topic"}, "TOPIC_ARN: is required and must be an SNS topic ARN"),
        (
            {**BASE, "ZENLAYER_CREDENTIALS_SECRET_ARN": "my-secret"},
            "ZENLAYER_CREDENTIALS_SECRET_ARN: must be a Secrets Manager ARN",
        ),
    ],
    ids=["table-absent", "table-blank", "topic-absent", "topic-not-arn", "secret-not-arn"],
)
def test_required_names_and_arns(env: dict[str, str], message: str) -> None:
    assert refusal(env) == message


# (variable, minimum, maximum): the documented ranges (README, "Configuration").
INTEGER_RANGES = [
    ("FAILURE_THRESHOLD", 1, 100),
    ("RECOVERY_THRESHOLD", 1, 100),
    ("MONITOR_FAILURE_THRESHOLD", 1, 100),
    ("REMINDER_INTERVAL_MINUTES", 0, 10080),
    ("MAX_MESSAGES_PER_RUN", 2, 100),
    ("API_CONCURRENCY", 1, 64),
    ("SNAPSHOT_TTL_DAYS", 1, 3650),
    ("SNAPSHOT_HEARTBEAT_MINUTES", 1, 1440),
]
FIELD_OF = {
    "FAILURE_THRESHOLD": lambda c: c.thresholds.failure,
    "RECOVERY_THRESHOLD": lambda c: c.thresholds.recovery,
    "MONITOR_FAILURE_THRESHOLD": lambda c: c.thresholds.monitor_failure,
    "REMINDER_INTERVAL_MINUTES": lambda c: c.thresholds.reminder_minutes,
    "MAX_MESSAGES_PER_RUN": lambda c: c.max_messages_per_run,
    "API_CONCURRENCY": lambda c: c.api_concurrency,
    "SNAPSHOT_TTL_DAYS": lambda c: c.snapshot_ttl_days,
    "SNAPSHOT_HEARTBEAT_MINUTES": lambda c: c.snapshot_heartbeat_minutes,
}


@pytest.mark.parametrize(("name", "minimum", "maximum"), INTEGER_RANGES)
def test_an_integer_is_accepted_exactly_at_both_ends_of_its_range(
    name: str, minimum: int, maximum: int
) -> None:
    for value in (minimum, maximum):
        assert FIELD_OF[name](load_config({**BASE, name: str(value)})) == value


@pytest.mark.parametrize(("name", "minimum", "maximum"), INTEGER_RANGES)
def test_an_integer_one_outside_its_range_is_refused(name: str, minimum: int, maximum: int) -> None:
    for value in (minimum - 1, maximum + 1):
        assert refusal({**BASE, name: str(value)}) == (
            f"{name}: must be between {minimum} and {maximum}, got {value}"
        )


def test_an_integer_that_is_not_one_is_refused() -> None:
    assert refusal({**BASE, "RECOVERY_THRESHOLD": "two"}) == (
        "RECOVERY_THRESHOLD: must be an integer, got 'two'"
    )


@pytest.mark.parametrize(("raw", "expected"), [("true", True), (" True ", True), ("FALSE", False)])
def test_per_load_balancer_metrics_is_a_case_insensitive_boolean(raw: str, expected: bool) -> None:
    assert load_config({**BASE, "PER_LB_METRICS": raw}).per_lb_metrics is expected


def test_per_load_balancer_metrics_refuses_anything_else() -> None:
    assert refusal({**BASE, "PER_LB_METRICS": "Yes"}) == (
        "PER_LB_METRICS: must be true or false, got 'yes'"
    )


def test_blank_stack_name_is_the_default() -> None:
    assert load_config({**BASE, "STACK_NAME": "   "}).stack_name == "zlb-health"


# -- LOAD_BALANCER_IDS --------------------------------------------------------------------------


def test_targets_are_load_balancers_or_listeners_and_blank_items_are_skipped() -> None:
    assert parse_targets(" lb-1 ,, lb-2/lsn-9,") == (Target("lb-1"), Target("lb-2", "lsn-9"))


def test_a_trailing_slash_without_a_listener_means_the_whole_load_balancer() -> None:
    assert parse_targets("lb-1/") == (Target("lb-1"),)


def test_no_targets_means_discover_every_load_balancer() -> None:
    assert parse_targets(" , ") == ()


@pytest.mark.parametrize(
    "raw",
    [
        "lb-1/a/b",
        "lb 1",
        "-lb",
        "/lsn-1",
        "a" * 129,
        "lb-1/" + "a" * 129,
    ],
)
def test_a_malformed_target_is_refused_naming_it(raw: str) -> None:
    assert refusal({**BASE, "LOAD_BALANCER_IDS": raw}) == (
        f"LOAD_BALANCER_IDS: {raw!r} is not of the form lbId or lbId/listenerId"
    )


def test_ids_may_be_128_characters_of_letters_digits_and_dot_underscore_colon_dash() -> None:
    lb_id = "L" + "b0._:-" * 21 + "z"
    assert len(lb_id) == 128
    assert parse_targets(f"{lb_id}/{lb_id}") == (Target(lb_id, lb_id),)


def test_the_same_target_twice_is_refused() -> None:
    assert refusal({**BASE, "LOAD_BALANCER_IDS": "lb-1/l,lb-2,lb-1/l"}) == (
        "LOAD_BALANCER_IDS: lists the same target twice"
    )


def test_a_load_balancer_and_one_of_its_listeners_are_different_targets() -> None:
    assert parse_targets("lb-1,lb-1/l") == (Target("lb-1"), Target("lb-1", "l"))


def test_parse_targets_names_the_variable_it_was_given() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_targets("lb 1", variable="--load-balancer-id")
    assert caught.value.variable == "--load-balancer-id"


def test_validate_endpoint_names_the_variable_it_was_given() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_endpoint("ftp://x", variable="--endpoint")
    assert str(caught.value) == "--endpoint: must be an http(s) URL, got 'ftp://x'"
