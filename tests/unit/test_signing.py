"""ZC2-HMAC-SHA256: the vendor's own test vector pins the formula down."""

from __future__ import annotations

import hashlib

from zlb_health.zenlayer import signing

VECTOR_PASSWORD = "Gu5t9xGARNpq86cd98joQYCN3"
VECTOR_TIMESTAMP = 1673361177
VECTOR_HOST = "console.zenlayer.com"
VECTOR_CONTENT_TYPE = "application/json; charset=utf-8"
VECTOR_BODY = b'{"pageSize":10,"pageNum":1,"zoneId":"HKG-A"}'
VECTOR_SIGNATURE = "efb356c32e55c781e10dc676da59462c22596d82e91c57803666243379555b2f"


def test_vendor_vector() -> None:
    assert (
        signing.signature(
            access_key_password=VECTOR_PASSWORD,
            timestamp=VECTOR_TIMESTAMP,
            content_type=VECTOR_CONTENT_TYPE,
            host=VECTOR_HOST,
            body=VECTOR_BODY,
        )
        == VECTOR_SIGNATURE
    )


def test_canonical_request_layout() -> None:
    canonical = signing.canonical_request(
        content_type="application/json", host="h:8080", body=b"{}"
    )
    assert canonical == (
        "POST\n/\n\ncontent-type:application/json\nhost:h:8080\n\ncontent-type;host\n"
        + hashlib.sha256(b"{}").hexdigest()
    )
    sts = signing.string_to_sign(timestamp=7, canonical=canonical)
    assert sts.split("\n") == [
        "ZC2-HMAC-SHA256",
        "7",
        hashlib.sha256(canonical.encode()).hexdigest(),
    ]


def test_any_change_changes_the_signature() -> None:
    base = {
        "access_key_password": VECTOR_PASSWORD,
        "timestamp": VECTOR_TIMESTAMP,
        "content_type": VECTOR_CONTENT_TYPE,
        "host": VECTOR_HOST,
        "body": VECTOR_BODY,
    }
    variants = [
        {"access_key_password": VECTOR_PASSWORD + "x"},
        {"timestamp": VECTOR_TIMESTAMP + 1},
        {"content_type": "application/json"},
        {"host": VECTOR_HOST + ":8443"},
        {"body": VECTOR_BODY + b" "},
    ]
    for change in variants:
        args = {**base, **change}
        assert signing.signature(**args) != VECTOR_SIGNATURE, change


def test_authorization_header_format() -> None:
    header = signing.authorization_header(access_key_id="AKID1", signature_hex="abc123")
    assert header == (
        "ZC2-HMAC-SHA256 Credential=AKID1, SignedHeaders=content-type;host, Signature=abc123"
    )


def test_parse_authorization_header_round_trip() -> None:
    header = signing.authorization_header(access_key_id="AKID1", signature_hex=VECTOR_SIGNATURE)
    assert signing.parse_authorization_header(header) == {
        "Credential": "AKID1",
        "SignedHeaders": "content-type;host",
        "Signature": VECTOR_SIGNATURE,
    }


def test_parse_authorization_header_rejects_other_schemes() -> None:
    assert signing.parse_authorization_header("Bearer abc") is None
    assert signing.parse_authorization_header("ZC2-HMAC-SHA256 Credential=a") is None
    assert signing.parse_authorization_header("ZC2-HMAC-SHA256 garbage") is None


def test_signatures_match() -> None:
    assert signing.signatures_match(VECTOR_SIGNATURE, VECTOR_SIGNATURE)
    assert not signing.signatures_match(VECTOR_SIGNATURE, VECTOR_SIGNATURE[:-1] + "0")
    assert not signing.signatures_match(VECTOR_SIGNATURE, "non-ascii-\u00e9")
