"""ZC2-HMAC-SHA256 verification as a server does it, written from the vendor's documentation.

This is the reference that the emulator and the unit tests' stub server check signatures
against. It is deliberately a second implementation, independent of the client's signer
(`zlb_health.zenlayer.signing`): a verifier built on the signer would accept whatever the signer
gets wrong. It is itself pinned to the vendor's published test vector and compared with the
official SDK's signer (`zenlayercloud-sdk-python`) in tests/unit/test_signing.py.

Standard library only, like the rest of the emulator.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

SCHEME: Final = "ZC2-HMAC-SHA256"
SIGNED_HEADERS: Final = "content-type;host"


@dataclass(frozen=True, slots=True)
class Authorization:
    """`ZC2-HMAC-SHA256 Credential=<id>, SignedHeaders=<list>, Signature=<hex>`."""

    credential: str
    signed_headers: str
    signature: str


def parse_authorization(value: str) -> Authorization | None:
    """The three fields of a ZC2-HMAC-SHA256 Authorization value; None if it is anything else."""
    scheme, _, rest = value.partition(" ")
    if scheme != SCHEME:
        return None
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, field_value = item.strip().partition("=")
        if not sep:
            return None
        fields[name] = field_value
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return Authorization(fields["Credential"], fields["SignedHeaders"], fields["Signature"])


def expected_signature(
    *, password: str, timestamp: str, content_type: str, host: str, body: bytes
) -> str:
    """The signature the server computes: the documented formula, step by step.

    `timestamp`, `content_type` and `host` are the header values exactly as received.
    """
    canonical_request = (
        "POST\n"  # method
        "/\n"  # canonical URI
        "\n"  # canonical query string (empty)
        f"content-type:{content_type}\nhost:{host}\n"  # canonical headers, newline-terminated
        "\n"  # the empty line after them
        f"{SIGNED_HEADERS}\n" + hashlib.sha256(body).hexdigest()
    )
    string_to_sign = (
        f"{SCHEME}\n{timestamp}\n" + hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    )
    mac = hmac.new(password.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()


def signature_matches(
    auth: Authorization, *, password: str, timestamp: str, content_type: str, host: str, body: bytes
) -> bool:
    """Whether `auth` signs this request (SignedHeaders must be exactly content-type;host)."""
    if auth.signed_headers != SIGNED_HEADERS:
        return False
    expected = expected_signature(
        password=password, timestamp=timestamp, content_type=content_type, host=host, body=body
    )
    given = auth.signature.encode("utf-8")
    return hmac.compare_digest(expected.encode("ascii"), given)
