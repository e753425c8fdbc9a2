"""SNS adapter: one Publish per planned message, with the contract's message attributes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from zlb_health.adapters import aws

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient


class PublishError(Exception):
    """SNS did not accept a message; it stays pending and the next run tries again."""

    def __init__(self, code: str) -> None:
        super().__init__(f"SNS Publish failed: {code}")
        self.code = code


class SnsPublisher:
    def __init__(self, topic_arn: str, *, client: SNSClient | None = None) -> None:
        self.topic_arn = topic_arn
        # Without a client given, it is created on first use: most runs publish nothing, and
        # creating a boto3 client is a good part of a cold start (docs/benchmarks.md).
        self._client: SNSClient | None = client

    @property
    def client(self) -> SNSClient:
        if self._client is None:
            self._client = aws.client("sns")
        return self._client

    def publish(
        self, *, subject: str, message: Mapping[str, str], attributes: Mapping[str, str]
    ) -> str:
        """Publish one message (`default`, `email`, `sms` renditions); returns the MessageId."""
        kwargs: dict[str, Any] = {
            "TopicArn": self.topic_arn,
            "MessageStructure": "json",
            "Message": json.dumps(dict(message)),
            "Subject": subject,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            },
        }
        try:
            response = self.client.publish(**kwargs)
        except ClientError as error:
            raise PublishError(str(error.response.get("Error", {}).get("Code", "?"))) from error
        except BotoCoreError as error:
            raise PublishError(type(error).__name__) from error
        return str(response["MessageId"])
