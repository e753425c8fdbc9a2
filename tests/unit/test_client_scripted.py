"""ZenlayerClient against a scripted pool (no sockets): defaults, limits, retries and error mapping.

test_client.py drives the client over real HTTP; here the injected pool answers from a script
(or raises urllib3's own exceptions), so every limit can be tested exactly at its value and one
past it, and every clock is injected.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import urllib3
from tests.unit.conftest import FakeTime
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from zlb_health.zenlayer import client as client_module
from zlb_health.zenlayer import errors
from zlb_health.zenlayer.client import ZenlayerClient
from zlb_health.zenlayer.credentials import AccessKey, BearerToken, credentials_from_mapping
from zlb_health.zenlayer.models import HealthCheck, Listener, LoadBalancer

KEY_ID = "AKID-scripted"
PASSWORD = "pw-scripted-0123456789"
ENDPOINT = "https://console.zenlayer.com"


def response(status: int = 200, body: Any = b"", headers: dict[str, str] | None = None) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    # Content-Length is what the server announced; the body may differ (the size-limit tests).
    return urllib3.HTTPResponse(
        body=io.BytesIO(data),
        status=status,
        headers=headers or {},
        preload_content=False,
        enforce_content_length=False,
    )


def ok(fields: dict[str, Any], request_id: str = "req-ok") -> Any:
    return response(200, {"requestId": request_id, "response": {"requestId": request_id, **fields}})


def fail(status: int, code: str | None = None, message: str | None = None, **headers: str) -> Any:
    body: dict[str, Any] = {"requestId": "req-err"}
    if code is not None:
        body["code"] = code
    if message is not None:
        body["message"] = message
    return response(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


class ScriptedPool:
    """Stands in for urllib3.PoolManager: answers (or raises) from a script, records requests."""

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.script: list[Any] = []
        self.default: Callable[[], Any] | None = None
        self.requests: list[dict[str, Any]] = []
        self.takes = 0.0  # seconds each request takes on the clock

    def push(self, *items: Any) -> None:
        self.script.extend(items)

    def request(self, method: str, url: str, **kw: Any) -> Any:
        self.requests.append({"method": method, "url": url, **kw})
        self.clock.now += self.takes
        item = self.script.pop(0) if self.script else self.default and self.default()
        if isinstance(item, BaseException):
            raise item
        return item


@pytest.fixture
def clock(fake_time: FakeTime) -> FakeTime:
    return fake_time


@pytest.fixture
def pool(clock: FakeTime) -> ScriptedPool:
    return ScriptedPool(clock)


@pytest.fixture
def make(pool: ScriptedPool, clock: FakeTime) -> Callable[..., ZenlayerClient]:
    def build(**kw: Any) -> ZenlayerClient:
        options: dict[str, Any] = {
            "endpoint": ENDPOINT,
            "credentials": AccessKey(KEY_ID, PASSWORD),
            "pool": pool,
            "clock": clock.clock,
            "sleep": clock.sleep,
            "rng": lambda: 1.0,
            "wall_clock": lambda: 1_700_000_000.5,
        }
        options.update(kw)
        return ZenlayerClient(**options)

    return build


def raised(client: ZenlayerClient, **kw: Any) -> errors.ZenlayerError:
    with pytest.raises(errors.ZenlayerError) as info:
        client.describe_backend_health("lb-1", **kw)
    return info.value


# -- defaults ---------------------------------------------------------------------------------


def test_defaults_4_attempts_half_second_doubling_3s_connect_10s_read(
    pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.default = lambda: fail(500, "INTERNAL_ERROR")
    client = ZenlayerClient(
        endpoint=ENDPOINT,
        credentials=AccessKey(KEY_ID, PASSWORD),
        pool=pool,  # type: ignore[arg-type]
        clock=clock.clock,
        sleep=clock.sleep,
        rng=lambda: 1.0,
    )
    with pytest.raises(errors.ServerError):
        client.describe_backend_health("lb-1")
    assert len(pool.requests) == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]
    timeouts = {(r["timeout"].connect_timeout, r["timeout"].read_timeout) for r in pool.requests}
    assert timeouts == {(3.0, 10.0)}


def test_the_backoff_is_capped_at_8_seconds_by_default(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.default = lambda: fail(503)
    raised(make(max_attempts=7))
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_the_jitter_scales_the_backoff(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.default = lambda: fail(503)
    raised(make(rng=lambda: 0.25, backoff_base=2.0, backoff_cap=100.0))
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_the_default_pool_keeps_16_connections_per_host_and_urllib3_defaults_for_tls() -> None:
    client = ZenlayerClient(endpoint=ENDPOINT, credentials=BearerToken("tok-0123"))
    # No cert_reqs / ssl_context / assert_hostname: urllib3 verifies certificate and hostname.
    kw = client._pool.connection_pool_kw
    assert sorted(kw) == ["maxsize", "retries"]
    assert kw["maxsize"] == 16
    assert kw["retries"].total is False


@pytest.mark.parametrize(("asked", "kept"), [(1, 1), (0, 1), (64, 64)])
def test_the_pool_keeps_at_least_one_connection(asked: int, kept: int) -> None:
    client = ZenlayerClient(
        endpoint=ENDPOINT, credentials=BearerToken("tok-0123"), pool_maxsize=asked
    )
    assert client._pool.connection_pool_kw["maxsize"] == kept


def test_bodies_up_to_32_mib_are_read_by_default(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    body = json.dumps({"requestId": "r", "response": {"backends": []}}).encode()
    pool.push(response(200, body, {"Content-Length": str(32 * 1024 * 1024)}))
    assert (
        ZenlayerClient(
            endpoint=ENDPOINT,
            credentials=BearerToken("tok-0123"),
            pool=pool,  # type: ignore[arg-type]
        )
        .describe_backend_health("lb-1")
        .backends
        == ()
    )
    pool.push(response(200, body, {"Content-Length": str(32 * 1024 * 1024 + 1)}))
    error = raised(make())
    assert error.message == "response body larger than 33554432 bytes"


# -- constructor checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"connect_timeout": 0}, "timeouts must be positive"),
        ({"read_timeout": 0}, "timeouts must be positive"),
        ({"max_response_bytes": 0}, "max_response_bytes must be positive"),
        ({"endpoint": "ftp://console.zenlayer.com"}, "endpoint must be an http(s) URL with a host"),
        ({"endpoint": "https://"}, "endpoint must be an http(s) URL with a host"),
        ({"endpoint": "https://u:p@h"}, "endpoint must not carry user info, a query or a fragment"),
        (
            {"endpoint": "https://h/?a=1"},
            "endpoint must not carry user info, a query or a fragment",
        ),
        ({"endpoint": "https://h/#f"}, "endpoint must not carry user info, a query or a fragment"),
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any], message: str) -> None:
    kw: dict[str, Any] = {"endpoint": ENDPOINT, "credentials": BearerToken("tok-0123"), **options}
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ZenlayerClient(**kw)


def test_the_smallest_valid_options_are_accepted(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.push(response(200, b'{"response":{"backends":[]}}'))
    client = make(max_attempts=1, connect_timeout=0.001, read_timeout=0.001, max_response_bytes=28)
    assert client.describe_backend_health("lb-1").backends == ()


@pytest.mark.parametrize(
    ("endpoint", "url", "host"),
    [
        (" https://console.zenlayer.com/ ", "https://console.zenlayer.com/api/v2/zlb",
         "console.zenlayer.com"),
        ("https://h:443", "https://h/api/v2/zlb", "h"),
        ("http://h:80/", "http://h/api/v2/zlb", "h"),
        ("https://h:8443", "https://h:8443/api/v2/zlb", "h:8443"),
        ("http://h:443", "http://h:443/api/v2/zlb", "h:443"),
        ("https://h/prefix//", "https://h/prefix/api/v2/zlb", "h"),
    ],
)  # fmt: skip
def test_the_url_and_the_signed_host(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, endpoint: str, url: str, host: str
) -> None:
    pool.push(ok({"backends": []}))
    client = make(endpoint=endpoint)
    client.describe_backend_health("lb-1")
    assert client.url == url
    assert pool.requests[0]["url"] == url
    assert pool.requests[0]["headers"]["Host"] == host


def test_the_repr_shows_the_url_and_no_secret() -> None:
    client = ZenlayerClient(endpoint=ENDPOINT, credentials=AccessKey(KEY_ID, PASSWORD))
    assert repr(client) == (
        "ZenlayerClient(url='https://console.zenlayer.com/api/v2/zlb', "
        "credentials=AccessKey(access_key_id='AKID-scripted', access_key_password=***))"
    )


# -- the request ------------------------------------------------------------------------------


def test_the_request_as_sent(make: Callable[..., ZenlayerClient], pool: ScriptedPool) -> None:
    pool.push(ok({"backends": []}))
    make().describe_backend_health("lb-1")
    (sent,) = pool.requests
    headers = sent.pop("headers")
    timeout = sent.pop("timeout")
    assert sent == {
        "method": "POST",
        "url": "https://console.zenlayer.com/api/v2/zlb",
        "body": b'{"loadBalancerId":"lb-1"}',
        "retries": False,
        "redirect": False,
        "preload_content": False,
    }
    assert (timeout.connect_timeout, timeout.read_timeout) == (3.0, 10.0)
    signature = headers.pop("Authorization").rpartition(", Signature=")[2]
    assert len(signature) == 64
    assert headers == {
        "Host": "console.zenlayer.com",
        "Content-Type": "application/json",
        "X-ZC-Action": "DescribeBackendHealth",
        "X-ZC-Version": "2025-04-01",
        "X-ZC-Service": "zlb",
        "X-ZC-Timestamp": "1700000000",
        "X-ZC-Signature-Method": "ZC2-HMAC-SHA256",
        "User-Agent": "zlb-health/0.1.0",
    }


def test_a_token_is_sent_as_a_bearer_and_nothing_is_signed(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(ok({"backends": []}))
    make(credentials=BearerToken("tok-0123456789")).describe_backend_health("lb-1")
    headers = pool.requests[0]["headers"]
    assert headers["Authorization"] == "Bearer tok-0123456789"
    assert "X-ZC-Signature-Method" not in headers
    assert headers["X-ZC-Action"] == "DescribeBackendHealth"  # control: headers were captured


def test_latency_is_the_time_the_request_took_in_milliseconds(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.takes = 0.25
    pool.push(ok({"backends": []}))
    assert make().describe_backend_health("lb-1").latency_ms == 250.0


def test_the_deadline_shortens_both_timeouts(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.push(ok({"backends": []}))
    make().describe_backend_health("lb-1", deadline=clock.now + 1.5)
    timeout = pool.requests[0]["timeout"]
    assert (timeout.connect_timeout, timeout.read_timeout) == (1.5, 1.5)


def test_a_deadline_later_than_the_timeouts_leaves_them(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.push(ok({"backends": []}))
    make().describe_backend_health("lb-1", deadline=clock.now + 60)
    timeout = pool.requests[0]["timeout"]
    assert (timeout.connect_timeout, timeout.read_timeout) == (3.0, 10.0)


# -- transport failures -----------------------------------------------------------------------

TRANSPORT = [
    (NewConnectionError(None, "refused"), "could not connect"),  # type: ignore[arg-type]
    (ConnectTimeoutError("slow"), "connect timeout"),
    (ReadTimeoutError(None, "u", "slow"), "read timeout"),  # type: ignore[arg-type]
    (SSLError("bad cert"), "TLS error"),
    (ProtocolError("reset"), "connection reset or closed before a complete response"),
    (MaxRetryError(None, "u", ReadTimeoutError(None, "u", "x")), "read timeout"),  # type: ignore[arg-type]
    (MaxRetryError(None, "u", None), "transport failure (MaxRetryError)"),  # type: ignore[arg-type]
    (ConnectionResetError("reset"), "transport failure (ConnectionResetError)"),
]


@pytest.mark.parametrize(("exc", "message"), TRANSPORT, ids=[m for _, m in TRANSPORT])
def test_transport_failures_are_named(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, exc: Exception, message: str
) -> None:
    pool.push(exc)
    error = raised(make(max_attempts=1))
    assert type(error) is errors.TransportError
    assert (error.message, error.action, error.status) == (message, "DescribeBackendHealth", None)
    assert error.__cause__ is exc
    assert error.retryable is True


def test_a_transport_failure_is_retried(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.push(ProtocolError("reset"), ok({"backends": []}, request_id="second"))
    assert make().describe_backend_health("lb-1").request_id == "second"
    assert clock.sleeps == [0.5]


# -- the response body limit ------------------------------------------------------------------

BODY = b'{"requestId":"r","response":{"backends":[]}}'  # 44 bytes


@pytest.mark.parametrize("announced", [None, "44"])
def test_a_body_exactly_at_the_limit_is_read(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, announced: str | None
) -> None:
    assert len(BODY) == 44
    pool.push(response(200, BODY, {"Content-Length": announced} if announced else {}))
    assert make(max_response_bytes=44).describe_backend_health("lb-1").request_id == "r"


@pytest.mark.parametrize("announced", [None, "45", " 45 "])
def test_a_body_one_byte_over_the_limit_is_malformed(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, announced: str | None
) -> None:
    body = BODY if announced else BODY + b" "
    headers = {"X-ZC-Request-Id": "hdr-big"} | ({"Content-Length": announced} if announced else {})
    pool.push(response(200, body, headers))
    error = raised(make(max_response_bytes=44))
    assert type(error) is errors.MalformedResponseError
    assert (error.message, error.status, error.request_id, error.action) == (
        "response body larger than 44 bytes",
        200,
        "hdr-big",
        "DescribeBackendHealth",
    )


def test_an_oversized_body_is_not_retried(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.default = lambda: response(200, BODY + b" ")
    raised(make(max_response_bytes=44))
    assert len(pool.requests) == 1


# -- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [lambda: fail(429), lambda: response(429, b"<html>Too Many Requests</html>"),
     lambda: response(429, b"")],
    ids=["json-without-code", "html-from-a-proxy", "empty"],
)  # fmt: skip
def test_a_bare_429_from_a_proxy_is_throttling_and_retried(
    make: Callable[..., ZenlayerClient],
    pool: ScriptedPool,
    clock: FakeTime,
    reply: Callable[[], Any],
) -> None:
    pool.push(reply(), ok({"backends": []}, request_id="after"))
    assert make().describe_backend_health("lb-1").request_id == "after"
    assert clock.sleeps == [0.5]


def test_a_bare_429_that_persists_is_a_throttled_error(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.default = lambda: response(429, b"<html>slow down</html>")
    error = raised(make())
    assert type(error) is errors.ThrottledError
    assert (error.message, error.status, error.code) == ("request rate limited", 429, None)
    assert len(pool.requests) == 4


@pytest.mark.parametrize(
    ("value", "sleep"),
    [("3", 3.0), (" 2.5 ", 2.5), ("60", 60.0), ("61", 60.0), ("3600", 60.0), ("0", 0.5),
     ("-1", 0.5), ("nan", 0.5), ("inf", 0.5), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.5)],
)  # fmt: skip
def test_retry_after_is_a_minimum_wait_clamped_to_60_seconds(
    make: Callable[..., ZenlayerClient],
    pool: ScriptedPool,
    clock: FakeTime,
    value: str,
    sleep: float,
) -> None:
    """Without a deadline; the backoff (here 0.5 s) applies when Retry-After is unusable."""
    pool.push(fail(429, "REQUEST_LIMIT_EXCEEDED", Retry_After=value), ok({"backends": []}))
    make().describe_backend_health("lb-1")
    assert clock.sleeps == [sleep]


def test_retry_after_shorter_than_the_backoff_leaves_the_backoff(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.push(fail(503, Retry_After="1"), ok({"backends": []}))
    make(backoff_base=4.0).describe_backend_health("lb-1")
    assert clock.sleeps == [4.0]


def test_a_wait_ending_exactly_at_the_deadline_is_not_started(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.default = lambda: fail(500, "INTERNAL_ERROR")
    error = raised(make(), deadline=clock.now + 0.5)
    assert type(error) is errors.DeadlineExceededError
    assert clock.sleeps == []
    assert len(pool.requests) == 1


def test_a_wait_ending_just_before_the_deadline_is_taken(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.push(fail(500, "INTERNAL_ERROR"), ok({"backends": []}, request_id="in-time"))
    result = make().describe_backend_health("lb-1", deadline=clock.now + 0.5001)
    assert result.request_id == "in-time"
    assert clock.sleeps == [0.5]


def test_the_deadline_error_tells_the_attempts_and_the_last_error(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.default = lambda: fail(500, "INTERNAL_ERROR", "db down")
    error = raised(make(), deadline=clock.now + 1.2)
    assert type(error) is errors.DeadlineExceededError
    assert error.message == (
        "deadline leaves no time to retry after 2 attempt(s); "
        "last error (server): server error (HTTP 500)"
    )
    assert (error.status, error.code, error.request_id, error.action) == (
        500,
        "INTERNAL_ERROR",
        "req-err",
        "DescribeBackendHealth",
    )
    assert error.retryable is False


def test_a_deadline_reached_while_waiting_stops_before_the_next_attempt(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.takes = 0.3
    pool.default = lambda: fail(500, "INTERNAL_ERROR")
    error = raised(make(), deadline=clock.now + 0.9)
    # attempt 1 ends at +0.3, the 0.5 s wait ends at +0.8, attempt 2 ends at +1.1: past it.
    assert len(pool.requests) == 2
    assert error.message.startswith("deadline leaves no time to retry after 2 attempt(s)")


def test_a_deadline_already_passed_sends_nothing(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    error = raised(make(), deadline=clock.now)
    assert type(error) is errors.DeadlineExceededError
    assert error.message == "deadline passed before the first attempt"
    assert error.action == "DescribeBackendHealth"
    assert error.__cause__ is None
    assert pool.requests == []


def test_a_deadline_passed_after_a_failure_chains_the_failure(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.takes = 1.0
    pool.default = lambda: fail(500, "INTERNAL_ERROR")
    error = raised(make(rng=lambda: 0.0), deadline=clock.now + 1.0)
    assert error.message.startswith("deadline leaves no time to retry after 1 attempt(s)")
    assert type(error.__cause__) is errors.ServerError


def test_the_last_attempt_raises_the_error_itself(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.default = lambda: fail(502)
    error = raised(make(max_attempts=2))
    assert type(error) is errors.ServerError
    assert len(pool.requests) == 2
    assert clock.sleeps == [0.5]


# -- status and code mapping ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "headers", "cls", "message"),
    [
        (403, None, {"cf-mitigated": " Challenge "}, errors.ClientRequestError,
         "network security challenge (cf-mitigated)"),
        (403, None, {"cf-mitigated": "block"}, errors.AuthError,
         "authentication or authorization failed"),
        (401, None, {"cf-mitigated": "challenge"}, errors.AuthError,
         "authentication or authorization failed"),
        (400, "request_limit_exceeded", {}, errors.ThrottledError, "request rate limited"),
        (500, "REQUEST_LIMIT_EXCEEDED", {}, errors.ThrottledError, "request rate limited"),
        (500, "AUTH_FAILED", {}, errors.ServerError, "server error (HTTP 500)"),
        (599, None, {}, errors.ServerError, "server error (HTTP 599)"),
        (499, None, {}, errors.ClientRequestError, "request rejected"),
        (404, "TOKEN_EXPIRED", {}, errors.AuthError, "authentication or authorization failed"),
        (404, None, {}, errors.NotFoundError, "resource not found"),
        (400, "listener_not_found", {}, errors.NotFoundError, "resource not found"),
        (451, None, {}, errors.ClientRequestError, "blocked by policy"),
        (299, None, {}, errors.ClientRequestError, "request rejected"),
        (300, None, {}, errors.ClientRequestError, "unexpected redirect"),
        (399, None, {}, errors.ClientRequestError, "unexpected redirect"),
        (400, None, {}, errors.ClientRequestError, "request rejected"),
    ],
)  # fmt: skip
def test_status_and_code_decide_the_error(  # noqa: PLR0917 - one argument per column
    make: Callable[..., ZenlayerClient],
    pool: ScriptedPool,
    status: int,
    code: str | None,
    headers: dict[str, str],
    cls: type[errors.ZenlayerError],
    message: str,
) -> None:
    body: dict[str, Any] = {"requestId": "rid"} | ({"code": code} if code else {})
    pool.push(response(status, body, headers))
    error = raised(make(max_attempts=1))
    assert type(error) is cls
    assert (error.message, error.status, error.code, error.request_id) == (
        message,
        status,
        code,
        "rid",
    )


@pytest.mark.parametrize(
    "code",
    ["AUTH_FAILED", "INVALID_TOKEN", "UNAUTHORIZED", "ACCESS_DENIED", "PERMISSION_DENIED",
     "SIGNATURE_FAILURE", "INVALID_TIMESTAMP", "NOT_AUTHORIZED", "TOKEN_EXPIRED",
     "INVALID_ACCESS_KEY", "invalid_signature"],
)  # fmt: skip
def test_auth_codes_on_a_400_are_auth_errors(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, code: str
) -> None:
    pool.push(fail(400, code))
    assert type(raised(make())) is errors.AuthError


def test_an_unknown_400_code_is_a_rejected_request(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(fail(400, "INVALID_PARAMETER"))
    assert type(raised(make())) is errors.ClientRequestError


@pytest.mark.parametrize(
    ("status", "code", "retried"),
    [(500, None, True), (429, None, True), (401, None, False), (404, None, False),
     (400, "INVALID_PARAMETER", False), (200, "AUTH_FAILED", False)],
)  # fmt: skip
def test_only_throttling_and_server_errors_are_retried(
    make: Callable[..., ZenlayerClient],
    pool: ScriptedPool,
    status: int,
    code: str | None,
    retried: bool,
) -> None:
    pool.default = lambda: fail(status, code)
    raised(make(max_attempts=2))
    assert len(pool.requests) == (2 if retried else 1)


# -- what the server said, cleaned ------------------------------------------------------------


def test_the_apis_message_is_kept_apart_as_detail(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(fail(400, "INVALID_PARAMETER", "pageSize out of range"))
    error = raised(make())
    assert (error.message, error.detail) == ("request rejected", "pageSize out of range")
    assert error.one_line() == (
        "DescribeBackendHealth failed (client): request rejected "
        "(API said: pageSize out of range) http=400 code=INVALID_PARAMETER requestId=req-err"
    )


def test_the_apis_message_is_cut_at_200_characters(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(fail(400, "X", "m" * 200), fail(400, "X", "m" * 201))
    assert raised(make()).detail == "m" * 200
    assert raised(make()).detail == "m" * 200 + "..."


def test_server_strings_are_cut_at_256_characters_and_made_printable(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(
        response(400, {"requestId": "r" * 256, "code": "A\x1bB\nC"}),
        response(400, {"requestId": "r" * 257}),
        response(400, {"requestId": "\x1b" + "r" * 255}),
        response(400, {"requestId": "\x1b" + "r" * 256}),
    )
    first = raised(make())
    assert (first.request_id, first.code) == ("r" * 256, "A?B?C")
    assert raised(make()).request_id == "r" * 256 + "..."
    # Not printable: each character checked; at the limit nothing is cut, one over is.
    assert raised(make()).request_id == "?" + "r" * 255
    assert raised(make()).request_id == "?" + "r" * 255 + "..."


@pytest.mark.parametrize(
    ("body", "detail"),
    [(b"<html>bad gateway</html>", "non-JSON (HTML) body"),
     (b" " * 255 + b"<html>", "non-JSON (HTML) body"),
     (b" " * 256 + b"<html>", None),
     (b"bad gateway", None),
     (b"", None)],
    ids=["html", "html-after-255-spaces", "html-after-256-spaces", "text", "empty"],
)  # fmt: skip
def test_an_html_error_page_is_named_as_such(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, body: bytes, detail: str | None
) -> None:
    pool.push(response(502, body))
    assert raised(make(max_attempts=1)).detail == detail


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"<!DOCTYPE html>", "HTTP 200 body is not a JSON object (HTML from a proxy?)"),
     (b"plain", "HTTP 200 body is not a JSON object"),
     (b'{"requestId": "r"}', "HTTP 200 body lacks a `response` object"),
     (b'{"requestId": "r", "response": null}', "HTTP 200 body lacks a `response` object"),
     (b'{"requestId": "r", "response": "x"}', "HTTP 200 body lacks a `response` object")],
)  # fmt: skip
def test_a_200_that_is_not_an_answer_is_malformed(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, body: bytes, message: str
) -> None:
    pool.push(response(200, body, {"X-ZC-Request-Id": "hdr"}))
    error = raised(make())
    assert type(error) is errors.MalformedResponseError
    assert (error.message, error.status, error.action) == (message, 200, "DescribeBackendHealth")


def test_a_200_error_envelope_without_response_is_classified_by_its_code(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(response(200, {"requestId": "r", "code": "INVALID_TOKEN", "response": None}))
    error = raised(make())
    assert type(error) is errors.AuthError
    assert (error.status, error.code) == (200, "INVALID_TOKEN")


@pytest.mark.parametrize(
    ("body", "headers", "request_id"),
    [({"requestId": "env", "response": {"requestId": "inner", "backends": []}}, {}, "inner"),
     ({"requestId": "env", "response": {"backends": []}}, {"X-ZC-Request-Id": "hdr"}, "env"),
     ({"response": {"backends": []}}, {"X-ZC-Request-Id": "hdr"}, "hdr"),
     ({"response": {"backends": []}}, {}, "")],
    ids=["response", "envelope", "header", "none"],
)  # fmt: skip
def test_the_request_id_comes_from_the_response_then_envelope_then_header(
    make: Callable[..., ZenlayerClient],
    pool: ScriptedPool,
    body: dict[str, Any],
    headers: dict[str, str],
    request_id: str,
) -> None:
    pool.push(response(200, body, headers))
    assert make().describe_backend_health("lb-1").request_id == request_id


def test_an_error_without_a_body_request_id_takes_the_headers(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(response(400, {"code": "X"}, {"X-ZC-Request-Id": "hdr-only"}))
    assert raised(make()).request_id == "hdr-only"


def test_secrets_echoed_by_the_server_are_scrubbed_longest_first(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    # The key id is a prefix of the password: scrubbing it first would leave the password's tail.
    creds = AccessKey("AKID", "AKID-and-more-secret")
    pool.push(
        response(401, {"requestId": "r", "code": "AUTH_FAILED",
                       "message": "got AKID-and-more-secret from AKID"})
    )  # fmt: skip
    assert raised(make(credentials=creds)).detail == "got *** from ***"


def test_secrets_shorter_than_4_characters_are_not_scrubbed(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(response(401, {"code": "AUTH_FAILED", "message": "key AKI, token abcd"}))
    assert raised(make(credentials=AccessKey("AKI", "abcd"))).detail == "key AKI, token ***"


@pytest.mark.parametrize("key_id", ["AKID-1", "AKID-Signature=1"])
def test_the_signature_echoed_alone_is_scrubbed(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, key_id: str
) -> None:
    def echo() -> Any:
        signature = pool.requests[-1]["headers"]["Authorization"].rpartition("Signature=")[2]
        assert len(signature) == 64
        return response(401, {"code": "AUTH_FAILED", "message": f"expected {signature}"})

    pool.default = echo
    assert raised(make(credentials=AccessKey(key_id, PASSWORD))).detail == "expected ***"


def test_a_token_echoed_by_the_server_is_scrubbed(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(response(401, {"code": "INVALID_TOKEN", "message": "token tok-0123456789 expired"}))
    error = raised(make(credentials=BearerToken("tok-0123456789")))
    assert error.detail == "token *** expired"


# -- the other actions ------------------------------------------------------------------------


def lb(n: int) -> dict[str, Any]:
    return {"loadBalancerId": f"lb-{n}"}


def test_load_balancers_are_asked_1000_per_page_by_default(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(ok({"totalCount": 1, "dataSet": [lb(1)]}))
    make().describe_load_balancers()
    assert json.loads(pool.requests[0]["body"]) == {"pageSize": 1000, "pageNum": 1}
    assert pool.requests[0]["headers"]["X-ZC-Action"] == "DescribeLoadBalancers"


@pytest.mark.parametrize(("size", "ok_"), [(0, False), (1, True), (1000, True), (1001, False)])
def test_the_page_size_is_between_1_and_1000(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, size: int, ok_: bool
) -> None:
    pool.default = lambda: ok({"totalCount": 0, "dataSet": []})
    if ok_:
        assert make().describe_load_balancers(page_size=size) == []
    else:
        with pytest.raises(ValueError, match=r"^page_size must be between 1 and 1000$"):
            make().describe_load_balancers(page_size=size)
        assert pool.requests == []


def test_paging_stops_once_the_total_is_collected(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(
        ok({"totalCount": 2, "dataSet": [lb(1)]}),
        ok({"totalCount": 2, "dataSet": [lb(2)]}),
        ok({"totalCount": 2, "dataSet": [lb(3)]}),
    )
    lbs = make().describe_load_balancers(page_size=1)
    assert [x.load_balancer_id for x in lbs] == ["lb-1", "lb-2"]
    assert len(pool.requests) == 2


def test_an_entry_repeated_across_pages_is_kept_once(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(
        ok({"totalCount": 3, "dataSet": [lb(1), lb(2)]}),
        ok({"totalCount": 3, "dataSet": [lb(2), lb(3)]}),
    )
    lbs = make().describe_load_balancers(page_size=2)
    assert [x.load_balancer_id for x in lbs] == ["lb-1", "lb-2", "lb-3"]


def test_a_page_without_a_total_is_the_only_page(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(ok({"dataSet": [lb(1), lb(2)]}), ok({"dataSet": [lb(3)]}))
    lbs = make().describe_load_balancers(page_size=2)
    assert [x.load_balancer_id for x in lbs] == ["lb-1", "lb-2"]
    assert len(pool.requests) == 1


def test_more_pages_than_the_limit_is_malformed(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MAX_PAGES", 3)
    counter = iter(range(1, 100))
    pool.default = lambda: ok({"totalCount": 1000, "dataSet": [lb(next(counter))]})
    error = raised_lbs(make())
    assert error.message == "more than 3 pages of load balancers"
    assert len(pool.requests) == 3


def raised_lbs(client: ZenlayerClient) -> errors.ZenlayerError:
    with pytest.raises(errors.MalformedResponseError) as info:
        client.describe_load_balancers(page_size=1)
    return info.value


def test_load_balancer_fields(make: Callable[..., ZenlayerClient], pool: ScriptedPool) -> None:
    full = {
        "loadBalancerId": "lb-1",
        "loadBalancerName": "web",
        "regionId": "HKG",
        "status": "Running",
        "listenerCount": 2,
        "backendServerCount": 3,
    }
    pool.push(ok({"totalCount": 2, "dataSet": [full, lb(2)]}))
    assert make().describe_load_balancers() == [
        LoadBalancer("lb-1", "web", "HKG", "Running", 2, 3),
        LoadBalancer("lb-2", "", "", "", None, None),
    ]


@pytest.mark.parametrize(
    ("page", "message"),
    [({"dataSet": [{"loadBalancerName": "x"}]},
      "dataSet[0].loadBalancerId: missing or not a string"),
     ({"dataSet": [lb(1), 5]}, "dataSet[1]: not an object"),
     ({"dataSet": "lb-1"}, "dataSet: missing or not a list"),
     ({"dataSet": [lb(1)], "totalCount": "1"}, "response.totalCount: not an integer"),
     ({"dataSet": [dict(lb(1), regionId=1)]}, "dataSet[0].regionId: not a string"),
     ({"dataSet": [dict(lb(1), listenerCount=True)]}, "dataSet[0].listenerCount: not an integer")],
)  # fmt: skip
def test_a_bad_load_balancer_page_names_the_field(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, page: dict[str, Any], message: str
) -> None:
    pool.push(ok(page, request_id="rid-lb"))
    error = raised_lbs(make())
    assert (error.message, error.status, error.request_id, error.action) == (
        message,
        200,
        "rid-lb",
        "DescribeLoadBalancers",
    )


def test_an_empty_load_balancer_list(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    pool.push(ok({"totalCount": 0}))
    assert make().describe_load_balancers() == []


def test_listeners_in_either_list_field(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    listener = {
        "listenerId": "lsn-1",
        "listenerName": "web",
        "protocol": "TCP",
        "port": 80,
        "healthCheck": {"enabled": True, "checkType": "HTTP_GET", "checkDelayLoop": 5,
                        "checkRetry": 3, "failOpen": True},
    }  # fmt: skip
    pool.push(
        ok({"listeners": [listener]}, request_id="r1"),
        ok({"listenerSet": [listener, {"listenerId": "lsn-2", "healthCheck": {}}]}),
    )
    client = make()
    expected = Listener("lsn-1", "web", "TCP", "80", HealthCheck(True, "HTTP_GET", 5, 3, True))
    assert client.describe_listeners("lb-1") == [expected]
    assert client.describe_listeners("lb-1") == [
        expected,
        Listener("lsn-2", "", "", "", HealthCheck(enabled=False)),
    ]
    assert json.loads(pool.requests[0]["body"]) == {"loadBalancerId": "lb-1"}
    assert pool.requests[0]["headers"]["X-ZC-Action"] == "DescribeListeners"


@pytest.mark.parametrize(
    ("fields", "message"),
    [({}, "listeners: missing or not a list"),
     ({"listeners": None, "listenerSet": []}, "listeners: missing or not a list"),
     ({"listenerSet": None}, "listenerSet: missing or not a list"),
     ({"listeners": [{"listenerId": "l", "port": True}]}, "listeners[0].port: not a string"),
     ({"listeners": [{"listenerId": "l", "healthCheck": []}]},
      "listeners[0].healthCheck: not an object"),
     ({"listeners": [{"listenerId": "l", "healthCheck": {"enabled": "yes"}}]},
      "listeners[0].healthCheck.enabled: not a boolean"),
     ({"listeners": [{"listenerId": "l", "healthCheck": {"checkRetry": "3"}}]},
      "listeners[0].healthCheck.checkRetry: not an integer")],
)  # fmt: skip
def test_a_bad_listener_answer_names_the_field(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, fields: dict[str, Any], message: str
) -> None:
    pool.push(ok(fields, request_id="rid-l"))
    with pytest.raises(errors.MalformedResponseError) as info:
        make().describe_listeners("lb-1")
    error = info.value
    assert (error.message, error.request_id, error.action) == (
        message,
        "rid-l",
        "DescribeListeners",
    )


# -- errors and credentials -------------------------------------------------------------------


def test_one_line_without_an_action_names_the_api() -> None:
    error = errors.ServerError("boom", status=503)
    assert error.one_line() == "Zenlayer API failed (server): boom http=503"
    assert str(error) == error.one_line()


def test_one_line_leaves_out_a_detail_that_repeats_the_message() -> None:
    error = errors.NotFoundError("gone", detail="gone", action="DescribeListeners")
    assert error.one_line() == "DescribeListeners failed (not_found): gone"


def test_an_error_keeps_every_field_and_its_message_as_args() -> None:
    error = errors.AuthError(
        "no", status=401, code="C", request_id="r", action="A", detail="the API's words"
    )
    assert error.args == ("no",)
    assert (error.message, error.status, error.code, error.request_id, error.action) == (
        "no",
        401,
        "C",
        "r",
        "A",
    )
    assert error.detail == "the API's words"


def test_token_repr_hides_the_token() -> None:
    assert repr(BearerToken("tok-0123456789")) == "BearerToken(token=***)"


@pytest.mark.parametrize(
    "values",
    [{"accessKeyId": "AK"}, {"accessKeyPassword": "pw"},
     {"accessKeyId": "", "accessKeyPassword": "pw"}, {"accessKeyId": "AK", "accessKeyPassword": ""},
     {"token": ""}, {"accessKeyId": 1, "accessKeyPassword": "pw"},
     {"accessKeyId": "AK", "accessKeyPassword": 2}, {"token": 3}],
)  # fmt: skip
def test_incomplete_credentials_are_refused_without_echoing_values(
    values: dict[str, object],
) -> None:
    message = (
        "the secret: expected {'accessKeyId', 'accessKeyPassword'} or {'token'} "
        "as non-empty strings"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        credentials_from_mapping(values, source="the secret")


def test_a_token_wins_over_an_access_key() -> None:
    values: dict[str, object] = {"token": "tok-1", "accessKeyId": "AK", "accessKeyPassword": "pw"}
    assert credentials_from_mapping(values, source="s") == BearerToken("tok-1")
    del values["token"]
    assert credentials_from_mapping(values, source="s") == AccessKey("AK", "pw")


# -- smaller edges ----------------------------------------------------------------------------


def test_an_empty_code_is_no_code(make: Callable[..., ZenlayerClient], pool: ScriptedPool) -> None:
    pool.push(response(400, {"requestId": "r", "code": ""}))
    assert raised(make()).code is None


def test_an_oversleep_past_the_deadline_stops_before_the_next_attempt(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    def oversleep(seconds: float) -> None:
        clock.now += seconds + 1.0  # a loaded machine wakes late

    pool.default = lambda: fail(500, "INTERNAL_ERROR")
    error = raised(make(sleep=oversleep), deadline=clock.now + 1.0)
    assert len(pool.requests) == 1
    assert error.message == (
        "deadline leaves no time to retry after 1 attempt(s); "
        "last error (server): server error (HTTP 500)"
    )
    assert type(error.__cause__) is errors.ServerError


@pytest.mark.parametrize(
    "send",
    [lambda c, d: c.call("DescribeX", {}, deadline=d),
     lambda c, d: c.describe_listeners("lb-1", deadline=d),
     lambda c, d: c.describe_load_balancers(deadline=d)],
    ids=["call", "describe_listeners", "describe_load_balancers"],
)  # fmt: skip
def test_every_action_honours_the_deadline(
    make: Callable[..., ZenlayerClient],
    pool: ScriptedPool,
    clock: FakeTime,
    send: Callable[[ZenlayerClient, float], Any],
) -> None:
    with pytest.raises(errors.DeadlineExceededError):
        send(make(), clock.now)
    assert pool.requests == []


class CountingResponse:
    """A response whose reads are recorded (urllib3's own buffers them)."""

    def __init__(self, body: bytes) -> None:
        self.status = 200
        self.headers = urllib3.HTTPHeaderDict()
        self.body = body
        self.reads: list[int | None] = []
        self.closed = self.released = False

    def read(self, amt: int | None = None) -> bytes:
        self.reads.append(amt)
        return self.body if amt is None else self.body[:amt]

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        self.released = True


def test_at_most_one_byte_past_the_limit_is_read(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    reply = CountingResponse(BODY + b" " * 1000)
    pool.push(reply)
    raised(make(max_response_bytes=44))
    assert reply.reads == [45]
    assert (reply.closed, reply.released) == (True, True)


def test_the_connection_is_released_after_a_good_answer(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    reply = CountingResponse(BODY)
    pool.push(reply)
    make().describe_backend_health("lb-1")
    assert (reply.closed, reply.released) == (False, True)


def test_a_one_byte_limit_is_valid() -> None:
    client = ZenlayerClient(
        endpoint=ENDPOINT, credentials=BearerToken("tok-0123"), max_response_bytes=1
    )
    assert client.url == "https://console.zenlayer.com/api/v2/zlb"


def test_only_trailing_slashes_leave_the_base_path(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool
) -> None:
    assert make(endpoint="https://h/apiX/").url == "https://h/apiX/api/v2/zlb"


def test_the_default_pool_caches_4_hosts() -> None:
    client = ZenlayerClient(endpoint=ENDPOINT, credentials=BearerToken("tok-0123"))
    assert client._pool.pools._maxsize == 4


def test_a_retry_after_below_a_second_still_counts(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, clock: FakeTime
) -> None:
    pool.push(fail(429, Retry_After="0.5"), ok({"backends": []}))
    make(rng=lambda: 0.0).describe_backend_health("lb-1")
    assert clock.sleeps == [0.5]


def test_the_page_limit_error_names_the_action(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MAX_PAGES", 1)
    pool.push(ok({"totalCount": 5, "dataSet": [lb(1)]}))
    assert raised_lbs(make()).action == "DescribeLoadBalancers"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [("loadBalancerName", 1, "not a string"), ("status", 1, "not a string"),
     ("backendServerCount", "3", "not an integer")],
)  # fmt: skip
def test_a_load_balancer_field_of_the_wrong_type_is_named(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, field: str, value: Any, problem: str
) -> None:
    pool.push(ok({"dataSet": [dict(lb(1), **{field: value})]}))
    assert raised_lbs(make()).message == f"dataSet[0].{field}: {problem}"


@pytest.mark.parametrize(
    ("listener", "message"),
    [({"listenerId": "l", "listenerName": 1}, "listeners[0].listenerName: not a string"),
     ({"listenerId": "l", "protocol": 1}, "listeners[0].protocol: not a string"),
     ("l", "listeners[0]: not an object"),
     ({"listenerId": "l", "healthCheck": {"checkType": 1}},
      "listeners[0].healthCheck.checkType: not a string"),
     ({"listenerId": "l", "healthCheck": {"checkDelayLoop": "5"}},
      "listeners[0].healthCheck.checkDelayLoop: not an integer"),
     ({"listenerId": "l", "healthCheck": {"failOpen": 0}},
      "listeners[0].healthCheck.failOpen: not a boolean")],
)  # fmt: skip
def test_a_listener_field_of_the_wrong_type_is_named(
    make: Callable[..., ZenlayerClient], pool: ScriptedPool, listener: Any, message: str
) -> None:
    pool.push(ok({"listeners": [listener]}))
    with pytest.raises(errors.MalformedResponseError) as info:
        make().describe_listeners("lb-1")
    assert info.value.message == message
