"""Zenlayer credentials. Their repr never shows a secret, so they are safe to log by accident."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AccessKey:
    """Signs each request with ZC2-HMAC-SHA256."""

    access_key_id: str
    access_key_password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"AccessKey(access_key_id={self.access_key_id!r}, access_key_password=***)"


@dataclass(frozen=True, slots=True)
class BearerToken:
    """A personal access token, sent as `Authorization: Bearer <token>`."""

    token: str = field(repr=False)

    def __repr__(self) -> str:
        return "BearerToken(token=***)"


Credentials = AccessKey | BearerToken


def credentials_from_mapping(values: dict[str, object], *, source: str) -> Credentials:
    """Build credentials from the secret's JSON or the local-run environment variables.

    `source` names where the values came from, for the error message; values never appear in it.
    """
    key_id = values.get("accessKeyId")
    password = values.get("accessKeyPassword")
    token = values.get("token")
    if isinstance(token, str) and token:
        return BearerToken(token)
    if isinstance(key_id, str) and key_id and isinstance(password, str) and password:
        return AccessKey(key_id, password)
    raise ValueError(
        f"{source}: expected {{'accessKeyId', 'accessKeyPassword'}} or {{'token'}} "
        "as non-empty strings"
    )
