"""Create the stack's table and topic in a local AWS (moto), from template.yaml's definitions."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import boto3

from zlb_health_tools.template import load_template, table_create_kwargs, ttl_attribute


@dataclass(frozen=True, slots=True)
class LocalStack:
    table_name: str
    topic_arn: str
    region: str
    endpoint_url: str

    def function_env(self) -> dict[str, str]:
        return {"TABLE_NAME": self.table_name, "TOPIC_ARN": self.topic_arn}


def create_local_stack(
    endpoint_url: str,
    *,
    region: str = "us-east-1",
    prefix: str = "zlb-health",
    template: dict[str, Any] | None = None,
) -> LocalStack:
    template = template or load_template()
    suffix = uuid.uuid4().hex[:8]
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region)
    table_name = f"{prefix}-{suffix}"
    dynamodb.create_table(**table_create_kwargs(template, table_name))
    dynamodb.get_waiter("table_exists").wait(TableName=table_name)
    dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute(template)},
    )
    sns = boto3.client("sns", endpoint_url=endpoint_url, region_name=region)
    topic_arn = sns.create_topic(Name=f"{prefix}-alerts-{suffix}")["TopicArn"]
    return LocalStack(table_name, topic_arn, region, endpoint_url)


def subscribe_queue(stack: LocalStack) -> str:
    """An SQS queue subscribed to the topic: how tests and the demo see what SNS delivered."""
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint_url, region_name=stack.region)
    sns = boto3.client("sns", endpoint_url=stack.endpoint_url, region_name=stack.region)
    queue_url = sqs.create_queue(QueueName=f"{stack.table_name}-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=stack.topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


def drain_queue(stack: LocalStack, queue_url: str) -> list[dict[str, Any]]:
    """Every SNS envelope waiting in the queue (deleted once read)."""
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint_url, region_name=stack.region)
    envelopes: list[dict[str, Any]] = []
    while True:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages = response.get("Messages", [])
        if not messages:
            return envelopes
        for message in messages:
            envelopes.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
