"""Zenlayer credentials from Secrets Manager (cached by powertools) or, locally, the environment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3

from zlb_health.config import ConfigError
from zlb_health.zenlayer.credentials import Credentials, credentials_from_mapping

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient


class CredentialsError(Exception):
    """The credentials could not be fetched or are not in the documented shape."""


class SecretCredentials:
    """The credentials secret, read through powertools' SecretsProvider (cached for
    POWERTOOLS_PARAMETERS_MAX_AGE seconds, 5 minutes in the template and by default).

    Built once per container with the container's boto3 client: powertools' module-level
    `get_secret` would create a whole new boto3 session on the first call of each container.
    """

    def __init__(self, secret_arn: str, *, client: SecretsManagerClient | None = None) -> None:
        # Imported here: only deployed runs (with a secret ARN) need the parameters utility.
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self.secret_arn = secret_arn
        self._provider = SecretsProvider(boto3_client=client or boto3.client("secretsmanager"))

    def get(self) -> Credentials:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            # Cached for POWERTOOLS_PARAMETERS_MAX_AGE seconds (the template: 300).
            raw = self._provider.get(self.secret_arn)
        except GetParameterError as error:
            # The cause names the AWS error code only; the secret value never reaches here.
            # powertools raises GetParameterError inside its `except` without `from`, so the
            # AWS error is the implicit __context__, not __cause__ (which gave "(NoneType)").
            cause = error.__cause__ or error.__context__
            raise CredentialsError(
                f"could not read the credentials secret ({type(cause).__name__})"
            ) from None
        return _parse_secret(raw, self.secret_arn)


def _parse_secret(raw: object, secret_arn: str) -> Credentials:
    if not isinstance(raw, str | bytes):
        raise CredentialsError("the credentials secret is not JSON")
    try:
        document = json.loads(raw)
    except ValueError:
        raise CredentialsError("the credentials secret is not JSON") from None
    if not isinstance(document, dict):
        raise CredentialsError("the credentials secret is not a JSON object")
    if "placeholder" in document:
        raise CredentialsError(
            "the credentials secret still holds the placeholder the stack created: store "
            '{"accessKeyId": "...", "accessKeyPassword": "..."} or {"token": "..."} with '
            f"aws secretsmanager put-secret-value --secret-id {secret_arn}"
        )
    try:
        return credentials_from_mapping(document, source="credentials secret")
    except ValueError as error:
        raise CredentialsError(str(error)) from None


def credentials_from_environment(env: Mapping[str, str]) -> Credentials:
    """Local runs: the key pair or the token from the environment, surrounding blanks ignored."""
    values = {
        "accessKeyId": env.get("ZENLAYER_ACCESS_KEY_ID", "").strip(),
        "accessKeyPassword": env.get("ZENLAYER_ACCESS_KEY_PASSWORD", "").strip(),
        "token": env.get("ZENLAYER_API_TOKEN", "").strip(),
    }
    try:
        return credentials_from_mapping(dict(values), source="environment")
    except ValueError:
        raise ConfigError(
            "ZENLAYER_CREDENTIALS_SECRET_ARN",
            "is not set, and neither ZENLAYER_ACCESS_KEY_ID with ZENLAYER_ACCESS_KEY_PASSWORD "
            "nor ZENLAYER_API_TOKEN is",
        ) from None
