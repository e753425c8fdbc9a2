"""Credentials from Secrets Manager (moto's server over HTTP), in every documented shape."""

from __future__ import annotations

import json
import os

import boto3
import pytest

from zlb_health.adapters.secrets import (
    CredentialsError,
    SecretCredentials,
    credentials_from_environment,
)
from zlb_health.config import ConfigError
from zlb_health.zenlayer.credentials import AccessKey, BearerToken, Credentials
from zlb_health_tools.localaws import LocalAws

pytestmark = pytest.mark.integration


def credentials_from_secret(arn: str) -> Credentials:
    """What the handler does: the secret read through powertools' provider, then parsed."""
    return SecretCredentials(arn).get()


def make_secret(local_aws: LocalAws, value: str) -> str:
    client = boto3.client("secretsmanager", endpoint_url=local_aws.url, region_name="us-east-1")
    name = f"zlb-secret-{os.urandom(4).hex()}"
    return client.create_secret(Name=name, SecretString=value)["ARN"]


def test_access_key_and_token_shapes(local_aws: LocalAws) -> None:
    key_arn = make_secret(
        local_aws, json.dumps({"accessKeyId": "id-1", "accessKeyPassword": "pw-1"})
    )
    token_arn = make_secret(local_aws, json.dumps({"token": "tok-1"}))
    assert credentials_from_secret(key_arn) == AccessKey("id-1", "pw-1")
    assert credentials_from_secret(token_arn) == BearerToken("tok-1")


def test_the_stacks_placeholder_says_what_to_do(local_aws: LocalAws) -> None:
    arn = make_secret(local_aws, json.dumps({"placeholder": "replace", "placeholderId": "x"}))
    with pytest.raises(CredentialsError, match="put-secret-value"):
        credentials_from_secret(arn)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not json at all", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"accessKeyId": "only-the-id"}), "expected"),
    ],
)
def test_malformed_secrets_are_named_without_their_value(
    local_aws: LocalAws, value: str, problem: str
) -> None:
    arn = make_secret(local_aws, value)
    with pytest.raises(CredentialsError, match=problem) as caught:
        credentials_from_secret(arn)
    assert value not in str(caught.value)


def test_a_missing_secret_is_a_clear_error(local_aws: LocalAws) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"
    with pytest.raises(CredentialsError, match="could not read the credentials secret"):
        credentials_from_secret(missing)


def test_local_runs_take_credentials_from_the_environment() -> None:
    assert credentials_from_environment({"ZENLAYER_API_TOKEN": "t"}) == BearerToken("t")
    assert credentials_from_environment(
        {"ZENLAYER_ACCESS_KEY_ID": "a", "ZENLAYER_ACCESS_KEY_PASSWORD": "b"}
    ) == AccessKey("a", "b")
    with pytest.raises(ConfigError, match="ZENLAYER_CREDENTIALS_SECRET_ARN"):
        credentials_from_environment({"ZENLAYER_ACCESS_KEY_ID": "a"})
