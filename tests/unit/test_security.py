"""Security properties: TLS verified, plain http only on loopback, emulator on loopback,
every API answer bounded and type-checked before the monitor uses it."""

from __future__ import annotations

import datetime as dt
import inspect
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from zlb_health import handler
from zlb_health.config import ConfigError, load_config, validate_endpoint
from zlb_health.zenlayer import client as client_module
from zlb_health.zenlayer.client import (
    MAX_BACKENDS,
    MAX_DETAIL_ENTRIES,
    MAX_STRING,
    ZenlayerClient,
    parse_backends,
    parse_listeners,
    parse_load_balancer_page,
)
from zlb_health.zenlayer.credentials import AccessKey, BearerToken
from zlb_health.zenlayer.errors import MalformedResponseError, TransportError
from zlb_health_tools.cli import build_parser
from zlb_health_tools.emulator.server import Emulator

KEY = AccessKey("AKID-sec", "sec-password-0123456789")

# -- TLS --------------------------------------------------------------------------------------


class _TlsServer:
    """HTTPS on 127.0.0.1 with a self-signed certificate (valid for 127.0.0.1 and localhost)."""

    def __init__(self, tmp: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "zlb-test")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.cert_path = tmp / "cert.pem"
        key_path = tmp / "key.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.dumps({"requestId": "r", "response": {"backends": []}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[_TlsServer]:
    server = _TlsServer(tmp_path)
    yield server
    server.close()


def test_the_client_verifies_certificates_by_default(tls_server: _TlsServer) -> None:
    client = ZenlayerClient(endpoint=tls_server.url, credentials=KEY, max_attempts=1)
    with pytest.raises(TransportError, match="TLS error"):
        client.describe_backend_health("lb-1")


def test_the_handlers_pool_verifies_certificates(
    tls_server: _TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    runtime = handler.build_runtime(
        {"TABLE_NAME": "t", "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t"}
    )
    # No TLS option is set, so urllib3's defaults (verify certificate and hostname) apply ...
    tls_options = {"cert_reqs", "ssl_context", "assert_hostname", "ca_certs", "assert_fingerprint"}
    assert tls_options & runtime.pool.connection_pool_kw.keys() == set()
    assert runtime.pool.connection_pool_kw["maxsize"] == 8  # control: the handler's own pool
    # ... and they refuse the self-signed certificate.
    client = ZenlayerClient(
        endpoint=tls_server.url, credentials=KEY, pool=runtime.pool, max_attempts=1
    )
    with pytest.raises(TransportError, match="TLS error"):
        client.describe_backend_health("lb-1")


def test_the_same_server_is_accepted_once_its_certificate_is_trusted(
    tls_server: _TlsServer,
) -> None:
    """Control: the failures above are certificate verification, not a broken server."""
    pool = urllib3.PoolManager(ca_certs=str(tls_server.cert_path), retries=False)
    client = ZenlayerClient(endpoint=tls_server.url, credentials=KEY, pool=pool, max_attempts=1)
    assert client.describe_backend_health("lb-1").backends == ()


# -- plain http only on loopback --------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("https://console.zenlayer.com", "https://console.zenlayer.com"),
        ("https://10.0.0.5:8443/prefix/", "https://10.0.0.5:8443/prefix"),
        ("http://127.0.0.1:8080//", "http://127.0.0.1:8080"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://api.example.com/zenX/", "https://api.example.com/zenX"),  # only slashes go
    ],
)
def test_endpoints_allowed(endpoint: str, expected: str) -> None:
    assert validate_endpoint(endpoint) == expected


LOOPBACK_ONLY = "ZENLAYER_API_ENDPOINT: plain http is only allowed for a loopback emulator"


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://console.zenlayer.com", LOOPBACK_ONLY),
        ("http://10.0.0.5:8080", LOOPBACK_ONLY),
        ("http://127.0.0.2:8080", LOOPBACK_ONLY),  # loopback range, but not a host we allow
        ("http://localhost.example.com", LOOPBACK_ONLY),
        ("http://127.0.0.1.nip.io", LOOPBACK_ONLY),
        ("http://127.0.0.1@evil.example.com", LOOPBACK_ONLY),  # the host is evil.example.com
        ("ftp://127.0.0.1", "ZENLAYER_API_ENDPOINT: must be an http(s) URL, got 'ftp://127.0.0.1'"),
        ("console.zenlayer.com", "ZENLAYER_API_ENDPOINT: must be an http(s) URL, got "
         "'console.zenlayer.com'"),
        ("https://", "ZENLAYER_API_ENDPOINT: must be an http(s) URL, got 'https://'"),
        ("https://console.zenlayer.com/?x=1",
         "ZENLAYER_API_ENDPOINT: must not carry a query or fragment"),
        ("https://console.zenlayer.com/#top",
         "ZENLAYER_API_ENDPOINT: must not carry a query or fragment"),
    ],
)  # fmt: skip
def test_endpoints_refused(endpoint: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_endpoint(endpoint)
    assert str(caught.value) == message


def test_the_function_refuses_plain_http_to_a_remote_host() -> None:
    env = {
        "TABLE_NAME": "t",
        "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
        "ZENLAYER_API_ENDPOINT": "http://console.zenlayer.com",
    }
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    assert str(caught.value) == LOOPBACK_ONLY


# -- the emulator binds loopback --------------------------------------------------------------


def test_the_emulator_binds_loopback_by_default() -> None:
    assert inspect.signature(Emulator).parameters["host"].default == "127.0.0.1"
    with Emulator(log_requests=False) as emulator:
        assert emulator._server is not None
        assert emulator._server.server_address[0] == "127.0.0.1"
        assert emulator.url.startswith("http://127.0.0.1:")
    args = build_parser().parse_args(["emulator"])
    assert args.host == "127.0.0.1"


# -- API input is bounded and typed before use ------------------------------------------------


def entry(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "listenerId": "lsn-1",
        "listenerName": "web",
        "protocol": "TCP",
        "listenerPort": "80",
        "instanceId": "vm-1",
        "privateIpAddress": "10.0.0.1",
        "backendPort": 8080,
        "weight": 100,
        "healthStatus": "Alive",
    }
    base.update(overrides)
    return base


LONG = "x" * (MAX_STRING + 1)


# Rows that name no usable backend: skipped (and noted), never the whole answer.
UNUSABLE_ROWS = {
    "long_instance_id": entry(instanceId=LONG),
    "long_listener_id": entry(listenerId=LONG),
    "long_listener_name": entry(listenerName=LONG),
    "long_listener_port": entry(listenerPort=LONG),
    "port_string": entry(backendPort="8080"),
    "port_bool": entry(backendPort=True),
    "weight_float": entry(weight=1.5),
    "instance_list": entry(instanceId=["vm-1"]),
    "listener_missing": entry(listenerId=None),
    "no_target": entry(instanceId=None, privateIpAddress=None),
    "entry_string": "vm-1",
}
# Rows that name a backend but whose health is unusable: kept, as Unknown (no data).
UNUSABLE_HEALTH = {
    "long_status": entry(healthStatus=LONG),
    "status_int": entry(healthStatus=1),
    "status_missing": entry(healthStatus=None),
    "detail_object": entry(healthStatusDetail={"port": 1}),
    "detail_port_string": entry(healthStatusDetail=[{"port": "80", "healthStatus": "Alive"}]),
    "detail_status_int": entry(healthStatusDetail=[{"port": 80, "healthStatus": 7}]),
    "detail_not_objects": entry(healthStatusDetail=["Alive"]),
    "too_many_details": entry(
        healthStatusDetail=[{"port": 1, "healthStatus": "Alive"}] * (MAX_DETAIL_ENTRIES + 1)
    ),
}
GOOD = entry(instanceId="vm-good", privateIpAddress="10.0.0.9", healthStatus="Dead")


@pytest.mark.parametrize("row", UNUSABLE_ROWS.values(), ids=UNUSABLE_ROWS.keys())
def test_a_row_naming_no_backend_is_skipped_and_the_rest_used(row: Any) -> None:
    backends, notes = parse_backends({"backends": [row, GOOD]}, request_id="req-1")
    assert [(b.instance_id, b.health_status) for b in backends] == [("vm-good", "Dead")]
    (note,) = notes
    assert note.startswith("backends[0]")
    assert note.endswith("(row skipped)")
    assert LONG not in note  # the offending value is never echoed whole


@pytest.mark.parametrize("row", UNUSABLE_HEALTH.values(), ids=UNUSABLE_HEALTH.keys())
def test_a_row_with_unusable_health_is_no_data(row: dict[str, Any]) -> None:
    backends, notes = parse_backends({"backends": [row, GOOD]}, request_id="req-1")
    assert [(b.instance_id, b.health_status, b.health_status_detail) for b in backends] == [
        ("vm-1", "Unknown", ()),
        ("vm-good", "Dead", ()),
    ]
    (note,) = notes
    assert note.startswith("backends[0]")
    assert note.endswith("(status taken as Unknown)")
    assert LONG not in note


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ({"backends": ["vm-1"]},
         "backends: none of the 1 rows names a backend: backends[0]: not an object (row skipped)"),
        ({"backends": [entry(instanceId=None, privateIpAddress=None)] * 2},
         "backends: none of the 2 rows names a backend: backends[0]: has neither "
         "privateIpAddress nor instanceId (row skipped)"),
        ({"backends": {"vm-1": "Alive"}}, "backends: missing or not a list"),
        ({"backends": None}, "backends: missing or not a list"),
        ({}, "backends: missing or not a list"),
        ({"backends": [entry()] * (MAX_BACKENDS + 1)}, "backends: more than 100000 entries"),
    ],
    ids=[
        "only_row_unusable",
        "every_row_unusable",
        "backends_object",
        "backends_null",
        "backends_missing",
        "too_many_backends",
    ],
)  # fmt: skip
def test_an_answer_not_of_the_documented_shape_is_malformed(
    response: dict[str, Any], message: str
) -> None:
    with pytest.raises(MalformedResponseError) as raised:
        parse_backends(response, request_id="req-1")
    assert raised.value.message == message
    assert raised.value.action == "DescribeBackendHealth"
    assert raised.value.status == 200
    assert raised.value.request_id == "req-1"


def test_exactly_the_maximum_number_of_rows_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    # The limits' values are pinned by test_bounds_are_what_the_docs_say; small ones here.
    monkeypatch.setattr(client_module, "MAX_BACKENDS", 3)
    backends, notes = parse_backends({"backends": [entry()] * 3}, request_id="r")
    assert (len(backends), notes) == (3, ())
    with pytest.raises(MalformedResponseError) as raised:
        parse_backends({"backends": [entry()] * 4}, request_id="r")
    assert raised.value.message == "backends: more than 3 entries"


def test_exactly_the_maximum_number_of_port_details_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "MAX_DETAIL_ENTRIES", 2)
    detail = [{"port": 1, "healthStatus": "Alive"}]
    (backend,), notes = parse_backends(
        {"backends": [entry(healthStatusDetail=detail * 2)]}, request_id="r"
    )
    assert (len(backend.health_status_detail), notes) == (2, ())
    (backend,), notes = parse_backends(
        {"backends": [entry(healthStatusDetail=detail * 3)]}, request_id="r"
    )
    assert notes == (
        "backends[0].healthStatusDetail: more than 2 entries (status taken as Unknown)",
    )


def test_a_string_of_exactly_256_characters_is_accepted() -> None:
    (backend,), _ = parse_backends({"backends": [entry(instanceId="i" * 256)]}, request_id="r")
    assert backend.instance_id == "i" * 256


def test_long_strings_are_never_echoed_in_the_error() -> None:
    with pytest.raises(MalformedResponseError) as raised:
        parse_backends({"backends": [entry(instanceId=LONG)]}, request_id="r")
    assert LONG not in str(raised.value)
    assert "backends[0].instanceId" in str(raised.value)
    backends, notes = parse_backends({"backends": [entry(instanceId=LONG), GOOD]}, request_id="r")
    assert len(backends) == 1
    assert "backends[0].instanceId" in notes[0]


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ({"dataSet": [{"loadBalancerId": LONG}]},
         "dataSet[0].loadBalancerId: longer than 256 characters"),
        ({"dataSet": [{"loadBalancerId": 5}]}, "dataSet[0].loadBalancerId: not a string"),
        ({"dataSet": "lb-1"}, "dataSet: missing or not a list"),
        ({"dataSet": [{"loadBalancerId": "lb-1"}], "totalCount": "1"},
         "response.totalCount: not an integer"),
        ({"dataSet": [{}] * (MAX_BACKENDS + 1)}, "dataSet: more than 100000 entries"),
    ],
)  # fmt: skip
def test_bad_load_balancer_pages_are_malformed(response: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedResponseError) as raised:
        parse_load_balancer_page(response, request_id="r")
    assert (raised.value.message, raised.value.action) == (message, "DescribeLoadBalancers")


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ({"listeners": [{"listenerId": LONG}]},
         "listeners[0].listenerId: longer than 256 characters"),
        ({"listeners": [{"listenerId": "l", "healthCheck": {"enabled": "yes"}}]},
         "listeners[0].healthCheck.enabled: not a boolean"),
        ({"listeners": [{"listenerId": "l", "healthCheck": []}]},
         "listeners[0].healthCheck: not an object"),
        ({"listeners": None}, "listeners: missing or not a list"),
        ({"listeners": [{"listenerId": "l"}] * (MAX_BACKENDS + 1)},
         "listeners: more than 100000 entries"),
    ],
)  # fmt: skip
def test_bad_listener_answers_are_malformed(response: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedResponseError) as raised:
        parse_listeners(response, request_id="r")
    assert (raised.value.message, raised.value.action) == (message, "DescribeListeners")


def test_bounds_are_what_the_docs_say() -> None:
    assert (MAX_STRING, MAX_BACKENDS, MAX_DETAIL_ENTRIES) == (256, 100_000, 65_536)
    assert client_module.MAX_PAGES == 10_000


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,  # nesting deep enough to exhaust the JSON parser's recursion
        b'{"requestId": "r", "response": ' + b"[" * 100_000 + b"}",
        b'{"requestId": "r", "response": "backends"}',
        b'{"requestId": "r", "response": {"backends": [' + b"1," * 10 + b"1]}}",
    ],
    ids=["deep_array", "deep_response", "response_string", "entries_ints"],
)
def test_hostile_bodies_over_http_are_malformed(body: bytes, stub: Any) -> None:
    stub.push(stub.Reply(200, body))
    client = ZenlayerClient(
        endpoint=stub.endpoint, credentials=AccessKey(stub.key_id, stub.password), max_attempts=1
    )
    with pytest.raises(MalformedResponseError):
        client.describe_backend_health("lb-1")


def test_credentials_never_show_in_reprs() -> None:
    token = BearerToken("tok-secret-value-123")
    assert repr(KEY) == "AccessKey(access_key_id='AKID-sec', access_key_password=***)"
    assert repr(token) == "BearerToken(token=***)"
    client = ZenlayerClient(endpoint="https://console.zenlayer.com", credentials=KEY)
    assert repr(client) == (
        "ZenlayerClient(url='https://console.zenlayer.com/api/v2/zlb', "
        "credentials=AccessKey(access_key_id='AKID-sec', access_key_password=***))"
    )
