"""Read template.yaml (the SAM stack): the table, the function and its schedule.

`make run` and the integration tests build their local table with `table_create_kwargs`, so
the table they use is the one the stack deploys. The template is not part of the installed
package: it is found from the working directory (a checkout of the project) or given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_NAME = "template.yaml"

TABLE_TYPE = "AWS::DynamoDB::Table"
FUNCTION_TYPE = "AWS::Serverless::Function"

# Short tag -> long form. !Ref and !Condition map to plain keys, the rest to "Fn::X".
_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "FindInMap": "Fn::FindInMap",
    "Base64": "Fn::Base64",
    "ImportValue": "Fn::ImportValue",
    "GetAZs": "Fn::GetAZs",
    "Cidr": "Fn::Cidr",
}


class TemplateLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short intrinsic-function tags."""


def _construct(key: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if key == "Fn::GetAtt" and isinstance(value, str):
                # !GetAtt Resource.Attribute is short for ["Resource", "Attribute"].
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


for _tag, _key in _TAGS.items():
    TemplateLoader.add_constructor(f"!{_tag}", _construct(_key))


class TemplateError(ValueError):
    """The template is missing or unreadable; the message says where it looked and what to do."""


def find_template(start: str | Path | None = None) -> Path:
    """template.yaml in `start` (default: the working directory) or its nearest parent."""
    here = Path.cwd() if start is None else Path(start)
    here = here.resolve()
    for folder in (here, *here.parents):
        candidate = folder / TEMPLATE_NAME
        if candidate.is_file():
            return candidate
    raise TemplateError(
        f"no {TEMPLATE_NAME} in {here} or its parents: run from a checkout of zlb-health "
        "or pass --template PATH"
    )


def load_template(path: str | Path | None = None) -> dict[str, Any]:
    """Parse `path` (default: find_template()) into plain dicts."""
    target = find_template() if path is None else Path(path)
    try:
        with target.open(encoding="utf-8") as handle:
            # TemplateLoader is a SafeLoader with CloudFormation's tags added.
            document = yaml.load(handle, Loader=TemplateLoader)  # noqa: S506  # nosec B506
    except OSError as error:
        raise TemplateError(f"cannot read {target}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise TemplateError(f"{target} is not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{target} is not a CloudFormation template")
    return document


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource.get("Type") == resource_type
    }


def _single(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources_of_type(template, resource_type)
    if len(found) != 1:
        raise ValueError(f"expected exactly one {resource_type}, found {sorted(found)}")
    return next(iter(found.items()))


def table_resource(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of the stack's one DynamoDB table."""
    return _single(template, TABLE_TYPE)


def function_resource(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of the stack's one function."""
    return _single(template, FUNCTION_TYPE)


def table_create_kwargs(template: dict[str, Any], table_name: str) -> dict[str, Any]:
    """boto3 `create_table` keyword arguments for the template's table, named `table_name`."""
    props = table_resource(template)[1]["Properties"]
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": [dict(key) for key in props["KeySchema"]],
        "AttributeDefinitions": [dict(a) for a in props["AttributeDefinitions"]],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    indexes = props.get("GlobalSecondaryIndexes") or []
    if indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index["IndexName"],
                "KeySchema": [dict(key) for key in index["KeySchema"]],
                "Projection": dict(index["Projection"]),
            }
            for index in indexes
        ]
    return kwargs


def ttl_attribute(template: dict[str, Any]) -> str:
    """The table's TTL attribute name (enabled in the template)."""
    spec = table_resource(template)[1]["Properties"]["TimeToLiveSpecification"]
    if spec.get("Enabled") is not True:
        raise ValueError("the table's TTL is not enabled")
    name: str = spec["AttributeName"]
    return name


def function_properties(template: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = function_resource(template)[1]["Properties"]
    return props


def function_handler(template: dict[str, Any]) -> str:
    handler: str = function_properties(template)["Handler"]
    return handler


def function_environment(template: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = function_properties(template)["Environment"]["Variables"]
    return variables


def function_environment_names(template: dict[str, Any]) -> set[str]:
    return set(function_environment(template))


MAX_SHARDS = 8  # template.yaml's Shards parameter, MaxValue


def schedule_event(template: dict[str, Any], shard: int = 0) -> dict[str, Any]:
    """Properties of shard `shard`'s schedule (an AWS::Scheduler::Schedule, ShardSchedule<i>)."""
    resource = template.get("Resources", {}).get(f"ShardSchedule{shard}")
    if not isinstance(resource, dict) or resource.get("Type") != "AWS::Scheduler::Schedule":
        raise ValueError(f"no schedule ShardSchedule{shard} in the template")
    props: dict[str, Any] = resource["Properties"]
    return props


def schedule_input(
    template: dict[str, Any], shard: int = 0, shards: int | None = None
) -> dict[str, Any]:
    """Shard `shard`'s schedule Input, parsed, with `${Shards}` the given number (default: the
    parameter's default). Scheduler's placeholders such as <aws.scheduler.execution-id> kept."""
    raw = schedule_event(template, shard)["Target"]["Input"]
    if isinstance(raw, dict) and set(raw) == {"Fn::Sub"} and isinstance(raw["Fn::Sub"], str):
        count = shards if shards is not None else template["Parameters"]["Shards"]["Default"]
        raw = raw["Fn::Sub"].replace("${Shards}", str(int(count)))
    if not isinstance(raw, str) or "${" in raw:
        raise TypeError("a schedule's Input must be JSON text (with at most ${Shards} in it)")
    document = json.loads(raw)
    if not isinstance(document, dict):
        raise TypeError("the schedule's Input is not a JSON object")
    return document
