"""ZC2-HMAC-SHA256, checked against references outside this project.

Two implementations live here: the client's signer (`zlb_health.zenlayer.signing`) and the
server-side reference the emulator and the unit stub verify with
(`zlb_health_tools.emulator.signature`). Neither is checked against the other: each is pinned
to the vendor's published test vector and to the official SDK's signer
(`zenlayercloud-sdk-python`, `AbstractClient._build_zc2_authorization`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from zenlayercloud.common.credential import Credential
from zenlayercloud.common.request import BaseRequest
from zenlayercloud.zlb.v20250401.zlb_client import ZlbClient

from zlb_health.zenlayer import signing
from zlb_health_tools.emulator import signature as reference

# The vendor's test vector (shared spec, "Signature ZC2-HMAC-SHA256").
VECTOR_PASSWORD = "Gu5t9xGARNpq86cd98joQYCN3"
VECTOR_TIMESTAMP = 1673361177
VECTOR_HOST = "console.zenlayer.com"
VECTOR_CONTENT_TYPE = "application/json; charset=utf-8"
VECTOR_BODY = b'{"pageSize":10,"pageNum":1,"zoneId":"HKG-A"}'
VECTOR_SIGNATURE = "efb356c32e55c781e10dc676da59462c22596d82e91c57803666243379555b2f"


@dataclass(frozen=True)
class Req:
    """The inputs of one signature: the vector's unless changed."""

    password: str = VECTOR_PASSWORD
    timestamp: int = VECTOR_TIMESTAMP
    content_type: str = VECTOR_CONTENT_TYPE
    host: str = VECTOR_HOST
    body: bytes = VECTOR_BODY


# Requests that differ from the vector in one input each (and a non-ASCII body).
VARIANTS = {
    "vector": Req(),
    "password": Req(password=VECTOR_PASSWORD + "x"),
    "timestamp": Req(timestamp=VECTOR_TIMESTAMP + 1),
    "content_type": Req(content_type="application/json"),
    "host_port": Req(host=VECTOR_HOST + ":8443"),
    "body": Req(body=VECTOR_BODY + b" "),
    "utf8_body": Req(body='{"loadBalancerName":"web-\u00e9\u4e2d"}'.encode()),
}


def sdk_authorization(key_id: str, req: Req) -> str:
    """The Authorization value the official SDK builds for this request."""
    client = ZlbClient(Credential(key_id, req.password))
    sdk_req = BaseRequest(method="POST", uri="/api/v2/zlb")
    sdk_req.header["x-zc-timestamp"] = str(req.timestamp)
    sdk_req.set_host(req.host)
    sdk_req.set_content_type(req.content_type)
    sdk_req.data = req.body.decode("utf-8")
    value: str = client._build_zc2_authorization(sdk_req)
    return value


def client_signature(req: Req) -> str:
    return signing.signature(
        access_key_password=req.password,
        timestamp=req.timestamp,
        content_type=req.content_type,
        host=req.host,
        body=req.body,
    )


def reference_accepts(auth: reference.Authorization, req: Req) -> bool:
    return reference.signature_matches(
        auth,
        password=req.password,
        timestamp=str(req.timestamp),
        content_type=req.content_type,
        host=req.host,
        body=req.body,
    )


# -- the vendor's vector --------------------------------------------------------------------


def test_the_client_signer_reproduces_the_vendor_vector() -> None:
    assert client_signature(Req()) == VECTOR_SIGNATURE


def test_the_reference_reproduces_the_vendor_vector() -> None:
    expected = reference.expected_signature(
        password=VECTOR_PASSWORD,
        timestamp=str(VECTOR_TIMESTAMP),
        content_type=VECTOR_CONTENT_TYPE,
        host=VECTOR_HOST,
        body=VECTOR_BODY,
    )
    assert expected == VECTOR_SIGNATURE


def test_the_sdk_reproduces_the_vendor_vector() -> None:
    """Control: the SDK helper below signs what the vendor documents."""
    assert sdk_authorization("AKID", Req()).endswith(f"Signature={VECTOR_SIGNATURE}")


# -- agreement with the official SDK on other requests -------------------------------------


@pytest.mark.parametrize("req", VARIANTS.values(), ids=VARIANTS.keys())
def test_the_client_builds_the_sdks_authorization_header(req: Req) -> None:
    header = signing.authorization_header(
        access_key_id="AKID-1", signature_hex=client_signature(req)
    )
    assert header == sdk_authorization("AKID-1", req)


@pytest.mark.parametrize("req", VARIANTS.values(), ids=VARIANTS.keys())
def test_the_reference_accepts_the_sdks_header(req: Req) -> None:
    auth = reference.parse_authorization(sdk_authorization("AKID-1", req))
    assert auth is not None
    assert (auth.credential, auth.signed_headers) == ("AKID-1", "content-type;host")
    assert reference_accepts(auth, req)


def test_every_signed_input_changes_the_signature() -> None:
    signatures = {client_signature(req) for req in VARIANTS.values()}
    assert len(signatures) == len(VARIANTS)


# -- the reference refuses what does not sign the request -----------------------------------


@pytest.mark.parametrize("req", list(VARIANTS.values())[1:], ids=list(VARIANTS)[1:])
def test_the_reference_refuses_the_vector_signature_over_other_values(req: Req) -> None:
    auth = reference.Authorization("AKID", "content-type;host", VECTOR_SIGNATURE)
    assert reference_accepts(auth, Req())  # control
    assert not reference_accepts(auth, req)


def test_the_reference_refuses_other_signed_headers() -> None:
    auth = reference.Authorization("AKID", "content-type;host;x-zc-timestamp", VECTOR_SIGNATURE)
    assert not reference_accepts(auth, Req())


@pytest.mark.parametrize(
    "value",
    ["Bearer abc", "ZC2-HMAC-SHA256 Credential=a", "ZC2-HMAC-SHA256 garbage",
     "zc2-hmac-sha256 Credential=a, SignedHeaders=content-type;host, Signature=b"],
)  # fmt: skip
def test_the_reference_parses_only_zc2_authorization_values(value: str) -> None:
    assert reference.parse_authorization(value) is None


# -- the client signer's pieces ---------------------------------------------------------------


def test_canonical_request_layout() -> None:
    canonical = signing.canonical_request(
        content_type="application/json", host="h:8080", body=b"{}"
    )
    assert canonical == (
        "POST\n/\n\ncontent-type:application/json\nhost:h:8080\n\ncontent-type;host\n"
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"  # sha256 of b"{}"
    )


def test_string_to_sign_layout() -> None:
    canonical = "POST\n/\n\ncontent-type:application/json\nhost:h:8080\n\ncontent-type;host\n"
    canonical += "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    assert signing.string_to_sign(timestamp=7, canonical=canonical) == (
        "ZC2-HMAC-SHA256\n7\nba39c6830487f7082691dd993f9bf476cfc6687df040e32416bdbab186e924bb"
    )


def test_authorization_header_format() -> None:
    header = signing.authorization_header(access_key_id="AKID1", signature_hex="abc123")
    assert header == (
        "ZC2-HMAC-SHA256 Credential=AKID1, SignedHeaders=content-type;host, Signature=abc123"
    )
