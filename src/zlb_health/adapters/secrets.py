"""Zenlayer credentials from Secrets Manager (cached by powertools) or, locally, the environment."""

from __future__ import annotations

import json
from collections.abc import Mapping

from zlb_health.config import ConfigError
from zlb_health.zenlayer.credentials import Credentials, credentials_from_mapping

SECRET_MAX_AGE_SECONDS = 300


class CredentialsError(Exception):
    """The credentials could not be fetched or are not in the documented shape."""


def credentials_from_secret(secret_arn: str) -> Credentials:
    # Imported here: powertools' parameters module pulls in boto3 clients we only need here.
    from aws_lambda_powertools.utilities import parameters

    try:
        raw = parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
    except parameters.exceptions.GetParameterError as error:
        # The cause names the AWS error code only; the secret value never reaches here.
        # powertools raises GetParameterError inside its `except` without `from`, so the AWS
        # error is the implicit __context__, not __cause__ (which gave "(NoneType)").
        cause = error.__cause__ or error.__context__
        raise CredentialsError(
            f"could not read the credentials secret ({type(cause).__name__})"
        ) from None
    try:
        document = json.loads(raw)
    except (TypeError, ValueError):
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
    values = {
        "accessKeyId": env.get("ZENLAYER_ACCESS_KEY_ID", ""),
        "accessKeyPassword": env.get("ZENLAYER_ACCESS_KEY_PASSWORD", ""),
        "token": env.get("ZENLAYER_API_TOKEN", ""),
    }
    try:
        return credentials_from_mapping(dict(values), source="environment")
    except ValueError:
        raise ConfigError(
            "ZENLAYER_CREDENTIALS_SECRET_ARN",
            "is not set, and neither ZENLAYER_ACCESS_KEY_ID with ZENLAYER_ACCESS_KEY_PASSWORD "
            "nor ZENLAYER_API_TOKEN is",
        ) from None
