"""template.yaml against the code and the runtime contract: these fail when either drifts."""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from zlb_health import config as zlb_config
from zlb_health import handler
from zlb_health.monitor import LoadBalancerReport, RunReport
from zlb_health.shards import Shard
from zlb_health_tools.template import (
    MAX_SHARDS,
    function_environment,
    function_environment_names,
    function_handler,
    function_properties,
    function_resource,
    load_template,
    resources_of_type,
    schedule_event,
    schedule_input,
    table_create_kwargs,
    table_resource,
    ttl_attribute,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
SRC = REPO_ROOT / "src"
SCHEDULED_EVENT = REPO_ROOT / "events" / "scheduled.json"
POWERTOOLS_ENV = {
    "POWERTOOLS_SERVICE_NAME": "zlb-health",
    "POWERTOOLS_METRICS_NAMESPACE": "ZlbHealth",
    "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
    "POWERTOOLS_PARAMETERS_MAX_AGE": "300",
}
LOCAL_ONLY_CREDENTIAL_VARS = frozenset(
    {"ZENLAYER_ACCESS_KEY_ID", "ZENLAYER_ACCESS_KEY_PASSWORD", "ZENLAYER_API_TOKEN"}
)
PER_LOAD_BALANCER_METRICS = frozenset(
    {"BackendsAlive", "BackendsDead", "BackendsUnknown", "ApiLatency", "ApiErrors"}
    | {"NotificationsSent"}
)
BASE_ENV = {"TABLE_NAME": "zlb-health-test", "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t"}
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_CREDENTIAL_NAME = re.compile(r"(?i)(password|secret|token|access.?key|credential|api.?key)")
_CREDENTIAL_VALUE = re.compile(
    r"(AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|^(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9+/=_-]{20,}$"  # long opaque token-like strings
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="module")
def function_id(template: dict[str, Any]) -> str:
    return function_resource(template)[0]


def parameter(template: dict[str, Any], name: str) -> dict[str, Any]:
    params: dict[str, Any] = template["Parameters"]
    assert name in params, f"template has no parameter {name}"
    value: dict[str, Any] = params[name]
    return value


def the_resource(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources_of_type(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def rate_seconds(expression: str) -> int:
    match = _RATE.match(expression)
    assert match, f"not a rate() expression: {expression!r}"
    unit = match.group(2).rstrip("s")
    return int(match.group(1)) * _UNIT_SECONDS[unit]


def env_parameter_refs(template: dict[str, Any]) -> dict[str, str]:
    """Environment variable -> the parameter it is a plain !Ref of."""
    params = template["Parameters"]
    return {
        name: value["Ref"]
        for name, value in function_environment(template).items()
        if isinstance(value, dict) and value.get("Ref") in params
    }


def strings_in(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings_in(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings_in(value)]
    return []


# --- the function -------------------------------------------------------------------------


def test_handler_is_the_lambda_entry_point(template: dict[str, Any]) -> None:
    handler = function_handler(template)
    assert handler == "zlb_health.handler.lambda_handler"
    assert function_properties(template)["CodeUri"] == "src/"
    module, _, name = handler.rpartition(".")
    path = SRC / Path(*module.split(".")).with_suffix(".py")
    if not path.exists():
        pytest.skip(f"{path} is not written yet")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert name in defined, f"{path} defines no top-level {name}()"


def test_runtime_architecture_and_tracing(template: dict[str, Any]) -> None:
    props = function_properties(template)
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Tracing"] == "Active"
    assert isinstance(props["MemorySize"], int)
    assert 128 <= props["MemorySize"] <= 10240


def test_timeout_is_below_the_default_schedule_interval(template: dict[str, Any]) -> None:
    props = function_properties(template)
    schedule = schedule_event(template)
    assert schedule["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    default = parameter(template, "ScheduleExpression")["Default"]
    assert default == "rate(1 minute)"
    assert props["Timeout"] < rate_seconds(default)
    assert props["Timeout"] < 60


def test_one_run_at_a_time_unless_the_account_cannot_reserve(template: dict[str, Any]) -> None:
    props = function_properties(template)
    param = parameter(template, "ReservedConcurrency")
    assert str(param["Default"]) == "1"
    assert {str(v) for v in param["AllowedValues"]} == {"0", "1"}
    # One run at a time per shard: as many reserved executions as there are shards.
    assert props["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReserveConcurrency", {"Ref": "Shards"}, {"Ref": "AWS::NoValue"}]
    }
    condition = template["Conditions"]["ReserveConcurrency"]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "0"]}]}
    # Scheduler invokes asynchronously: no stale Lambda-side retries piling up behind a run.
    assert props["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert props["EventInvokeConfig"]["MaximumEventAgeInSeconds"] <= 60


def test_logs_are_json_into_a_retained_encrypted_log_group(template: dict[str, Any]) -> None:
    props = function_properties(template)
    group_id, group = the_resource(template, "AWS::Logs::LogGroup")
    assert props["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": {"Ref": group_id}}
    assert group["Properties"]["RetentionInDays"] == 30
    assert "KmsKeyId" in group["Properties"]
    # The key policy lets CloudWatch Logs use the key for exactly this log group's name.
    group_name = group["Properties"]["LogGroupName"]["Fn::Sub"]
    key = the_resource(template, "AWS::KMS::Key")[1]
    arns = [
        s["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"]
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if "ArnEquals" in s.get("Condition", {})
    ]
    assert arns, "the key policy does not let CloudWatch Logs encrypt the log group"
    assert all(arn.endswith(f":log-group:{group_name}") for arn in arns)


# --- environment --------------------------------------------------------------------------


class _RecordingEnv(dict[str, str]):
    """An environment that remembers every variable the code asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def variables_load_config_reads() -> frozenset[str]:
    env = _RecordingEnv(dict(BASE_ENV))
    zlb_config.load_config(env)
    return frozenset(env.read)


def test_environment_is_exactly_what_the_code_reads(template: dict[str, Any]) -> None:
    names = function_environment_names(template)
    read = variables_load_config_reads()
    assert read == zlb_config.ENV_VARS
    powertools = {name for name in names if name.startswith("POWERTOOLS_")}
    assert names - powertools == read
    assert powertools == set(POWERTOOLS_ENV)


def test_environment_values_come_from_the_stack(template: dict[str, Any]) -> None:
    env = function_environment(template)
    table_id = table_resource(template)[0]
    topic_id = the_resource(template, "AWS::SNS::Topic")[0]
    secret_id = the_resource(template, "AWS::SecretsManager::Secret")[0]
    assert env["TABLE_NAME"] == {"Ref": table_id}
    assert env["TOPIC_ARN"] == {"Ref": topic_id}
    assert env["STACK_NAME"] == {"Ref": "AWS::StackName"}  # every message names its stack
    assert env["ZENLAYER_CREDENTIALS_SECRET_ARN"] == {
        "Fn::If": ["CreateCredentialsSecret", {"Ref": secret_id}, {"Ref": "CredentialsSecretArn"}]
    }
    for name, value in POWERTOOLS_ENV.items():
        assert env[name] == value
    refs = env_parameter_refs(template)
    assert refs == {
        "ZENLAYER_API_ENDPOINT": "ZenlayerApiEndpoint",
        "LOAD_BALANCER_IDS": "LoadBalancerIds",
        "FAILURE_THRESHOLD": "FailureThreshold",
        "RECOVERY_THRESHOLD": "RecoveryThreshold",
        "MONITOR_FAILURE_THRESHOLD": "MonitorFailureThreshold",
        "REMINDER_INTERVAL_MINUTES": "ReminderIntervalMinutes",
        "MAX_MESSAGES_PER_RUN": "MaxMessagesPerRun",
        "API_CONCURRENCY": "ApiConcurrency",
        "SNAPSHOT_TTL_DAYS": "SnapshotTtlDays",
        "SNAPSHOT_HEARTBEAT_MINUTES": "SnapshotHeartbeatMinutes",
        "PER_LB_METRICS": "PerLoadBalancerMetrics",
        "POWERTOOLS_LOG_LEVEL": "LogLevel",
    }


def test_parameter_defaults_are_the_code_defaults(template: dict[str, Any]) -> None:
    env = dict(BASE_ENV)
    for name, param in env_parameter_refs(template).items():
        if name in zlb_config.ENV_VARS:
            env[name] = str(template["Parameters"][param]["Default"])
    assert zlb_config.load_config(env) == zlb_config.load_config(BASE_ENV)
    assert parameter(template, "ZenlayerApiEndpoint")["Default"] == zlb_config.DEFAULT_ENDPOINT


def _number_parameters() -> list[tuple[str, str]]:
    template = load_template(TEMPLATE_PATH)
    return sorted(
        (name, param)
        for name, param in env_parameter_refs(template).items()
        if template["Parameters"][param]["Type"] == "Number"
    )


@pytest.mark.parametrize(("variable", "param_name"), _number_parameters())
def test_parameter_ranges_are_the_code_ranges(
    template: dict[str, Any], variable: str, param_name: str
) -> None:
    param = parameter(template, param_name)
    low, high = param["MinValue"], param["MaxValue"]
    for accepted in (low, high, param["Default"]):
        try:
            zlb_config.load_config({**BASE_ENV, variable: str(accepted)})
        except zlb_config.ConfigError as error:
            pytest.fail(f"{param_name} allows {accepted}, the code refuses it: {error}")
    for rejected in (low - 1, high + 1):
        with pytest.raises(zlb_config.ConfigError) as caught:
            zlb_config.load_config({**BASE_ENV, variable: str(rejected)})
        assert caught.value.variable == variable


def test_load_balancer_ids_pattern_accepts_what_the_code_accepts(
    template: dict[str, Any],
) -> None:
    pattern = re.compile(parameter(template, "LoadBalancerIds")["AllowedPattern"])
    for good in ("", "lb-1", "lb-1/lsn-2", "lb-1, lb-2/lsn-3", "lb.a:b_c-9"):
        assert pattern.fullmatch(good), good
        zlb_config.parse_targets(good)
    for bad in ("lb 1", "/lsn", "lb-1/", "lb-1,", "lb-1/lsn/x"):
        assert not pattern.fullmatch(bad), bad


def test_no_credential_in_parameters_environment_or_template(template: dict[str, Any]) -> None:
    for name, param in template["Parameters"].items():
        default = str(param.get("Default", ""))
        assert not _CREDENTIAL_VALUE.search(default), f"{name} default looks like a credential"
        if _CREDENTIAL_NAME.search(name):
            assert name.endswith("Arn"), f"{name}: pass credentials as a secret ARN only"
            assert default == "", f"{name} must not have a default"
    env = function_environment(template)
    assert not set(env) & LOCAL_ONLY_CREDENTIAL_VARS
    for name, value in env.items():
        if _CREDENTIAL_NAME.search(name):
            assert name.endswith("_ARN"), f"{name}: the environment carries secret ARNs only"
        for text in strings_in(value):
            assert not _CREDENTIAL_VALUE.search(text), f"{name} looks like a credential"
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    assert not re.search(r"^\s*SecretString:", text, re.MULTILINE), "no secret value in here"
    assert not re.search(r"(AKIA|ASIA)[0-9A-Z]{16}", text)


def test_created_secret_is_a_generated_placeholder(template: dict[str, Any]) -> None:
    _, secret = the_resource(template, "AWS::SecretsManager::Secret")
    assert secret["Condition"] == "CreateCredentialsSecret"
    assert template["Conditions"]["CreateCredentialsSecret"] == {
        "Fn::Equals": [{"Ref": "CredentialsSecretArn"}, ""]
    }
    props = secret["Properties"]
    assert props["Name"] == {"Fn::Sub": "zlb-health/${AWS::StackName}/zenlayer-credentials"}
    generated = props["GenerateSecretString"]
    placeholder = json.loads(generated["SecretStringTemplate"])
    # Neither shape the code accepts, so an unconfigured stack fails loudly, not with junk.
    assert not {"accessKeyId", "accessKeyPassword", "token"} & set(placeholder)
    assert generated["GenerateStringKey"] not in {"accessKeyId", "accessKeyPassword", "token"}


# --- schedule -----------------------------------------------------------------------------


def test_schedule_input_matches_the_sample_event(template: dict[str, Any]) -> None:
    expected = schedule_input(template)
    sample = json.loads(SCHEDULED_EVENT.read_text(encoding="utf-8"))
    assert set(sample) == set(expected)
    assert expected == {
        "source": "zlb-health.schedule",
        "scheduledTime": "<aws.scheduler.scheduled-time>",
        "executionId": "<aws.scheduler.execution-id>",
        "attemptNumber": "<aws.scheduler.attempt-number>",
        "shard": 0,
        "shards": 1,
    }
    assert (sample["shard"], sample["shards"]) == (0, 1)
    for key, value in sample.items():
        assert "<aws." not in str(value), f"{key}: the sample carries concrete values"


def uses_shard(template: dict[str, Any], shard: int, shards: int) -> bool:
    """Evaluate template.yaml's UsesShard<i> conditions for a value of Shards."""

    def holds(condition: Any) -> bool:
        if "Fn::Not" in condition:
            return not holds(condition["Fn::Not"][0])
        if "Fn::And" in condition:
            return all(holds(c) for c in condition["Fn::And"])
        if "Fn::Equals" in condition:
            left, right = condition["Fn::Equals"]
            assert left == {"Ref": "Shards"}
            return str(shards) == right
        if "Condition" in condition:
            return holds(template["Conditions"][condition["Condition"]])
        raise AssertionError(condition)

    return shard == 0 or holds(template["Conditions"][f"UsesShard{shard}"])


def test_shards_each_have_a_schedule_and_a_watchdog(template: dict[str, Any]) -> None:
    """Shards N: exactly the schedules of shards 0..N-1 exist, each telling its run which
    shard of N it is, each with its own dead man's switch."""
    param = parameter(template, "Shards")
    assert (param["Default"], param["MinValue"], param["MaxValue"]) == (1, 1, MAX_SHARDS)
    resources = template["Resources"]
    for shards in range(1, MAX_SHARDS + 1):
        used = [i for i in range(MAX_SHARDS) if uses_shard(template, i, shards)]
        assert used == list(range(shards)), shards
        for i in used:
            assert schedule_input(template, i, shards)["shard"] == i
            assert schedule_input(template, i, shards)["shards"] == shards
    for i in range(MAX_SHARDS):
        schedule = resources[f"ShardSchedule{i}"]
        watchdog = resources["MonitorNotRunningAlarm" + (f"Shard{i}" if i else "")]
        assert schedule.get("Condition") == watchdog.get("Condition")
        assert schedule.get("Condition") == (f"UsesShard{i}" if i else None)
        dims = {d["Name"]: d["Value"] for d in watchdog["Properties"]["Dimensions"]}
        assert dims["Shard"] == str(i)
        props = schedule["Properties"]
        assert props["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
        assert props["State"] == "ENABLED"
        assert props["Target"]["Arn"] == {"Fn::GetAtt": [function_resource(template)[0], "Arn"]}


def test_sample_event_is_accepted_by_the_code() -> None:
    events = pytest.importorskip("zlb_health.events")
    sample = json.loads(SCHEDULED_EVENT.read_text(encoding="utf-8"))
    parsed = events.parse_scheduled_event(sample)
    assert parsed.execution_id == sample["executionId"]
    assert parsed.attempt == int(sample["attemptNumber"])
    assert parsed.scheduled_time is not None


def test_schedule_retries_once_into_an_encrypted_dead_letter_queue(
    template: dict[str, Any], function_id: str
) -> None:
    queue_id, queue = the_resource(template, "AWS::SQS::Queue")
    for i in range(MAX_SHARDS):
        props = schedule_event(template, i)
        assert "Name" not in props, "a fixed schedule name would clash between stacks"
        target = props["Target"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
        assert target["RoleArn"] == {"Fn::GetAtt": ["ScheduleRole", "Arn"]}
    props = queue["Properties"]
    assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props
    # The schedules' role may invoke the function and feed the dead-letter queue, nothing else.
    role = template["Resources"]["ScheduleRole"]["Properties"]
    statements = [st for pol in role["Policies"] for st in pol["PolicyDocument"]["Statement"]]
    assert {(st["Action"], json.dumps(st["Resource"])) for st in statements} == {
        (
            "lambda:InvokeFunction",
            json.dumps({"Fn::GetAtt": [function_resource(template)[0], "Arn"]}),
        ),
        ("sqs:SendMessage", json.dumps({"Fn::GetAtt": [queue_id, "Arn"]})),
    }


# --- table --------------------------------------------------------------------------------


def test_table_is_durable_encrypted_on_demand_with_ttl(template: dict[str, Any]) -> None:
    _, table = table_resource(template)
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert ttl_attribute(template) == "expiresAt"
    assert "TableName" not in props, "let CloudFormation name the table (stacks can coexist)"


def test_table_keys_and_index(template: dict[str, Any]) -> None:
    kwargs = table_create_kwargs(template, "t")
    assert kwargs["TableName"] == "t"
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert kwargs["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    assert {(a["AttributeName"], a["AttributeType"]) for a in kwargs["AttributeDefinitions"]} == {
        ("PK", "S"),
        ("SK", "S"),
        ("GSI1PK", "S"),
        ("GSI1SK", "S"),
    }
    assert kwargs["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "GSI1",
            "KeySchema": [
                {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]


def test_table_kwargs_create_a_real_table(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**table_create_kwargs(template, "zlb-health-template-test"))
        client.update_time_to_live(
            TableName="zlb-health-template-test",
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute(template)},
        )
        table = client.describe_table(TableName="zlb-health-template-test")["Table"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["GSI1"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


# --- notifications ------------------------------------------------------------------------


def test_subscriptions_exist_only_when_their_parameter_is_set(template: dict[str, Any]) -> None:
    subscriptions = resources_of_type(template, "AWS::SNS::Subscription")
    by_protocol = {s["Properties"]["Protocol"]: s for s in subscriptions.values()}
    assert set(by_protocol) == {"email", "sms"}
    for protocol, param_name in (
        ("email", "NotificationEmail"),
        ("sms", "NotificationPhoneNumber"),
    ):
        subscription = by_protocol[protocol]
        assert subscription["Properties"]["Endpoint"] == {"Ref": param_name}
        assert parameter(template, param_name)["Default"] == ""
        assert "Condition" in subscription, f"the {protocol} subscription is unconditional"
        condition = template["Conditions"][subscription["Condition"]]
        assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": param_name}, ""]}]}


def test_phone_number_parameter_is_e164_or_empty(template: dict[str, Any]) -> None:
    pattern = re.compile(parameter(template, "NotificationPhoneNumber")["AllowedPattern"])
    for good in ("", "+14155550100", "+447700900123"):
        assert pattern.fullmatch(good), good
    for bad in ("4155550100", "+0123", "+1 415 555 0100", "+1234567890123456"):
        assert not pattern.fullmatch(bad), bad


def test_topic_policy_allows_publish_only_from_the_function_and_alarms(
    template: dict[str, Any], function_id: str
) -> None:
    topic_id, topic = the_resource(template, "AWS::SNS::Topic")
    assert "DisplayName" not in topic["Properties"], "SNS would prefix it to every SMS"
    _, policy = the_resource(template, "AWS::SNS::TopicPolicy")
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    for statement in allows:
        assert as_list(statement["Action"]) == ["sns:Publish"]
        assert statement["Resource"] == {"Ref": topic_id}
    principals = [s["Principal"] for s in allows]
    assert sorted(principals, key=json.dumps) == sorted(
        [
            {"AWS": {"Fn::GetAtt": [f"{function_id}Role", "Arn"]}},
            {"Service": "cloudwatch.amazonaws.com"},
        ],
        key=json.dumps,
    )
    (alarms,) = [s for s in allows if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert alarms["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert any(
        s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        and "sns:Publish" in as_list(s["Action"])
        for s in denies
    ), "the topic must refuse publishing without TLS"


def test_topic_key_lets_alarms_publish_to_the_encrypted_topic(template: dict[str, Any]) -> None:
    key_id, key = the_resource(template, "AWS::KMS::Key")
    _, topic = the_resource(template, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    for service in ("cloudwatch.amazonaws.com", "sns.amazonaws.com"):
        (statement,) = [s for s in statements if s["Principal"] == {"Service": service}]
        assert set(as_list(statement["Action"])) == {"kms:GenerateDataKey*", "kms:Decrypt"}


def test_alarms_notify_the_topic(template: dict[str, Any], function_id: str) -> None:
    topic_id = the_resource(template, "AWS::SNS::Topic")[0]
    queue_id = the_resource(template, "AWS::SQS::Queue")[0]
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    watched = {}
    for alarm_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic_id}]
        if alarm_id.startswith("MonitorNotRunningAlarm"):
            continue  # the watchdogs: below
        watched[(props["Namespace"], props["MetricName"])] = props["Dimensions"]
        assert props["TreatMissingData"] == "notBreaching"
        assert props["ComparisonOperator"] == "GreaterThanThreshold"
        assert props["Threshold"] == 0
    assert watched[("AWS/Lambda", "Errors")] == [
        {"Name": "FunctionName", "Value": {"Ref": function_id}}
    ]
    assert watched[("AWS/SQS", "ApproximateNumberOfMessagesVisible")] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]


def alarm_names(alarm: dict[str, Any]) -> list[str]:
    name = alarm["Properties"]["AlarmName"]
    if "Fn::If" in name:
        return [choice["Fn::Sub"] for choice in name["Fn::If"][1:]]
    return [name["Fn::Sub"]]


def test_alarm_names_read_well_in_an_sms(template: dict[str, Any]) -> None:
    """CloudWatch's SMS names the alarm: short, plain ASCII, and starting with the stack."""
    for alarm_id, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").items():
        for name in alarm_names(alarm):
            assert name.startswith("${AWS::StackName} - "), alarm_id
            words = name.removeprefix("${AWS::StackName} - ")
            assert words.isascii(), alarm_id
            assert len(words) <= 40, (alarm_id, words)
            assert words == words.lower(), (alarm_id, words)
        assert "zlb-health" in alarm["Properties"]["AlarmDescription"]["Fn::Sub"], alarm_id


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def report(**fields: Any) -> RunReport:
    run = RunReport(run_id="r", started_at=datetime(2026, 11, 23, tzinfo=UTC))
    for name, value in fields.items():
        setattr(run, name, value)
    return run


@pytest.mark.parametrize("shard", [0, 3])
def test_the_watchdog_alarms_within_15_minutes_when_runs_stop(
    template: dict[str, Any], function_id: str, capsys: pytest.CaptureFixture[str], shard: int
) -> None:
    """Each shard's dead man's switch watches exactly the metric that shard's completed runs
    emit, treats no data as breaching (a stopped schedule sends nothing at all), and says OK
    again after."""
    topic_id = the_resource(template, "AWS::SNS::Topic")[0]
    alarm_id = "MonitorNotRunningAlarm" + (f"Shard{shard}" if shard else "")
    props = resources_of_type(template, "AWS::CloudWatch::Alarm")[alarm_id]["Properties"]
    handler.emit_run_metrics(
        report(), function_name="zlb-prod-monitor", shard=Shard(shard, 4), completed=True
    )
    (blob,) = emitted(capsys)
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    (dimensions,) = directive["Dimensions"]
    assert (
        directive["Namespace"]
        == props["Namespace"]
        == POWERTOOLS_ENV["POWERTOOLS_METRICS_NAMESPACE"]
    )
    assert [m["Name"] for m in directive["Metrics"]] == [props["MetricName"]]
    assert blob[props["MetricName"]] == [1.0]
    assert sorted(dimensions) == sorted(d["Name"] for d in props["Dimensions"])
    by_name = {d["Name"]: d["Value"] for d in props["Dimensions"]}
    assert by_name["FunctionName"] == {"Ref": function_id}
    assert blob["FunctionName"] == "zlb-prod-monitor"
    assert by_name["Shard"] == blob["Shard"] == str(shard)
    assert by_name["service"] == blob["service"] == POWERTOOLS_ENV["POWERTOOLS_SERVICE_NAME"]
    assert props["TreatMissingData"] == "breaching"
    assert (props["Statistic"], props["ComparisonOperator"], props["Threshold"]) == (
        "Sum", "LessThanThreshold", 1
    )  # fmt: skip
    window = props["Period"] * props["EvaluationPeriods"]
    assert props["DatapointsToAlarm"] == props["EvaluationPeriods"]
    assert window <= 15 * 60
    # Every window holds at least one run of the default schedule, several in fact.
    default = parameter(template, "ScheduleExpression")["Default"]
    assert props["Period"] >= 5 * rate_seconds(default)
    assert props["OKActions"] == props["AlarmActions"] == [{"Ref": topic_id}]


def test_an_incomplete_run_sends_no_heartbeat_but_says_what_is_wrong(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler.emit_run_metrics(
        report(notifications_pending=2), function_name="f", shard=Shard(), completed=False
    )
    (blob,) = emitted(capsys)
    assert blob["NotificationsPending"] == [2.0]
    assert "RunsCompleted" not in blob


def test_the_skipped_alarm_watches_what_a_run_that_skips_emits(
    template: dict[str, Any], function_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    props = resources_of_type(template, "AWS::CloudWatch::Alarm")["LoadBalancersSkippedAlarm"][
        "Properties"
    ]
    run = report()
    run.load_balancers["lb-1"] = LoadBalancerReport("lb-1", skipped=True)
    handler.emit_run_metrics(run, function_name="f", shard=Shard(), completed=True)
    trouble, _heartbeat = emitted(capsys)
    (directive,) = trouble["_aws"]["CloudWatchMetrics"]
    assert (directive["Namespace"], trouble[props["MetricName"]]) == ("ZlbHealth", [1.0])
    assert sorted(directive["Dimensions"][0]) == sorted(d["Name"] for d in props["Dimensions"])
    assert {d["Name"]: d["Value"] for d in props["Dimensions"]}["FunctionName"] == {
        "Ref": function_id
    }
    assert props["TreatMissingData"] == "notBreaching"  # the metric exists only while it happens


# --- permissions --------------------------------------------------------------------------


def test_function_policy_names_only_this_stacks_resources(template: dict[str, Any]) -> None:
    table_id = table_resource(template)[0]
    topic_id = the_resource(template, "AWS::SNS::Topic")[0]
    key_id = the_resource(template, "AWS::KMS::Key")[0]
    secret_id = the_resource(template, "AWS::SecretsManager::Secret")[0]
    statements = [
        statement
        for policy in function_properties(template)["Policies"]
        for statement in policy["Statement"]
    ]
    grants: dict[str, Any] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "*" not in strings_in(statement["Resource"]), statement
        for action in as_list(statement["Action"]):
            assert "*" not in action, action
            grants[action] = statement["Resource"]
    table_arns = [
        {"Fn::GetAtt": [table_id, "Arn"]},
        {"Fn::Sub": f"${{{table_id}.Arn}}/index/*"},
    ]
    dynamodb = {a for a in grants if a.startswith("dynamodb:")}
    assert dynamodb == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
    }
    assert all(grants[a] == table_arns for a in dynamodb)
    assert grants["sns:Publish"] == {"Ref": topic_id}
    assert grants["kms:GenerateDataKey"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert grants["kms:Decrypt"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert grants["secretsmanager:GetSecretValue"] == {
        "Fn::If": ["CreateCredentialsSecret", {"Ref": secret_id}, {"Ref": "CredentialsSecretArn"}]
    }
    assert set(grants) == dynamodb | {
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "secretsmanager:GetSecretValue",
    }


# --- dashboard and outputs ----------------------------------------------------------------


def dashboard_body(template: dict[str, Any], *, per_lb_metrics: bool) -> dict[str, Any]:
    """The dashboard as deployed with PerLoadBalancerMetrics on or off (${...} left as names)."""
    _, dashboard = the_resource(template, "AWS::CloudWatch::Dashboard")
    body, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    condition, when_on, when_off = variables["PerLoadBalancerWidgets"]["Fn::If"]
    assert condition == "PerLbMetrics"
    widgets = when_on["Fn::Sub"] if per_lb_metrics else when_off
    text = body.replace("${PerLoadBalancerWidgets}", widgets)
    document: dict[str, Any] = json.loads(re.sub(r"\$\{([^}!]+)\}", r"\1", text))
    return document


def widget_queries(document: dict[str, Any]) -> list[str]:
    return [w["properties"]["query"] for w in document["widgets"] if w["type"] == "log"]


def test_the_dashboard_shows_each_load_balancers_health_from_the_logs(
    template: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a custom metric per load balancer, the per-load-balancer widgets query the lines
    the handler prints for each load balancer that is not all healthy: every field a query
    uses is in those lines."""
    run = report()
    run.load_balancers["lb-1"] = LoadBalancerReport(
        "lb-1", ok=True, counts={"backends": 4, "alive": 1, "dead": 2, "partial": 1, "close": 1}
    )
    run.load_balancers["lb-2"] = LoadBalancerReport("lb-2", ok=False, error_kind="server")
    run.load_balancers["lb-3"] = LoadBalancerReport(
        "lb-3", ok=True, counts={"backends": 2, "alive": 2}
    )
    handler.emit_health_lines(run)
    lines = {line["lb"]: line for line in emitted(capsys)}
    assert set(lines) == {"lb-1", "lb-2"}  # lb-3 is all healthy: nothing to say
    assert lines["lb-1"] == {
        "record": "lb_health", "lb": "lb-1", "ok": True, "backends": 4, "alive": 1,
        "dead": 1, "partial": 1, "unknown": 0, "close": 1, "error": None,
    }  # fmt: skip
    assert (lines["lb-2"]["ok"], lines["lb-2"]["error"]) == (False, "server")
    fields = set(lines["lb-1"]) | {"@timestamp"}
    document = dashboard_body(template, per_lb_metrics=False)
    per_lb = [q for q in widget_queries(document) if 'record = "lb_health"' in q]
    assert len(per_lb) == 3
    for query in per_lb:
        assert query.startswith("SOURCE 'FunctionLogGroup' | ")
        used = set(re.findall(r"\b(?:max|latest)\(([^)]*)\)", query))
        used = {f.strip() for u in used for f in re.split(r"[+-]", u)}
        assert used <= fields, used - fields
        assert query.endswith(", lb") or " by lb " in query
    assert not [w for w in document["widgets"] if "LoadBalancerId" in json.dumps(w)]


def test_the_dashboard_run_widgets_read_what_runs_log_and_emit(template: dict[str, Any]) -> None:
    document = dashboard_body(template, per_lb_metrics=False)
    (runs,) = [q for q in widget_queries(document) if "run finished" in q]
    summary = set(report().summary()) | {"durationMs", "shard"}
    assert set(re.findall(r"max\((\w+)\)", runs)) <= summary
    handler_code = (SRC / "zlb_health" / "handler.py").read_text(encoding="utf-8")
    assert '"durationMs"' in handler_code
    assert '"run finished"' in handler_code
    metrics = json.dumps([w for w in document["widgets"] if w["type"] == "metric"])
    for name in ("RunsCompleted", "LoadBalancersSkipped", "LoadBalancersFailed"):
        assert name in metrics
        assert f'"{name}"' in handler_code


def test_per_load_balancer_metric_widgets_only_with_the_parameter(
    template: dict[str, Any],
) -> None:
    searched: set[str] = set()
    for widget in dashboard_body(template, per_lb_metrics=True)["widgets"]:
        for line in widget.get("properties", {}).get("metrics", []):
            expression = line[0].get("expression", "") if isinstance(line[0], dict) else ""
            match = re.fullmatch(
                r"SEARCH\('\{ZlbHealth,LoadBalancerId,service\} "
                r"MetricName=\"(\w+)\"', '\w+', \d+\)",
                expression,
            )
            if match:
                searched.add(match.group(1))
    assert searched == PER_LOAD_BALANCER_METRICS
    code = (SRC / "zlb_health" / "handler.py").read_text(encoding="utf-8")
    assert sorted(m for m in searched if f'"{m}"' not in code) == []
    assert parameter(template, "PerLoadBalancerMetrics")["Default"] == "false"


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert set(outputs) == {
        "TopicArn",
        "TableName",
        "FunctionName",
        "DashboardUrl",
        "CredentialsSecretArn",
    }
    dashboard_id = the_resource(template, "AWS::CloudWatch::Dashboard")[0]
    assert outputs["DashboardUrl"]["Value"] == {
        "Fn::Sub": "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home"
        "?region=${AWS::Region}#dashboards:name=${" + dashboard_id + "}"
    }
