"""ZC2-HMAC-SHA256 request signing, exactly as the vendor documents it.

Shared by the client (to sign) and the emulator (to verify), so both sides agree by
construction and the vendor's own test vector pins the formula down.
"""

from __future__ import annotations

import hashlib
import hmac

ALGORITHM = "ZC2-HMAC-SHA256"
SIGNED_HEADERS = "content-type;host"


def canonical_request(*, content_type: str, host: str, body: bytes) -> str:
    # The canonical headers end with a newline and an empty line follows them.
    return "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            SIGNED_HEADERS,
            hashlib.sha256(body).hexdigest(),
        ]
    )


def string_to_sign(*, timestamp: int, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{digest}"


def signature(
    *, access_key_password: str, timestamp: int, content_type: str, host: str, body: bytes
) -> str:
    canonical = canonical_request(content_type=content_type, host=host, body=body)
    message = string_to_sign(timestamp=timestamp, canonical=canonical)
    return hmac.new(
        access_key_password.encode("utf-8"), message.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def authorization_header(*, access_key_id: str, signature_hex: str) -> str:
    return (
        f"{ALGORITHM} Credential={access_key_id}, "
        f"SignedHeaders={SIGNED_HEADERS}, Signature={signature_hex}"
    )
