"""Fixtures shared by every test: a local AWS (moto's server over HTTP) and the stack in it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zlb_health_tools.localaws import LocalAws
from zlb_health_tools.stack import LocalStack, create_local_stack, drain_queue, subscribe_queue
from zlb_health_tools.template import load_template

# The repository's own template, wherever pytest runs from.
TEMPLATE = load_template(Path(__file__).resolve().parents[1] / "template.yaml")


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        saved = {key: os.environ.get(key) for key in aws.env()}
        os.environ.update(aws.env())
        yield aws
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def stack(local_aws: LocalAws) -> LocalStack:
    """A fresh table (from template.yaml's definition) and topic for each test."""
    return create_local_stack(local_aws.url, template=TEMPLATE)


class Inbox:
    """What SNS delivered, seen through an SQS queue subscribed to the topic."""

    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack
        self._queue_url = subscribe_queue(stack)

    def messages(self) -> list[dict[str, Any]]:
        envelopes = drain_queue(self._stack, self._queue_url)
        return [
            {
                "body": json.loads(envelope["Message"]),
                "attributes": {
                    name: attr["Value"]
                    for name, attr in envelope.get("MessageAttributes", {}).items()
                },
                "subject": envelope.get("Subject"),
            }
            for envelope in envelopes
        ]


@pytest.fixture
def inbox(stack: LocalStack) -> Inbox:
    return Inbox(stack)
