"""ZenlayerClient against a real local HTTP stub: signing, error mapping, retries, parsing."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.conftest import FakeTime

from zlb_health.zenlayer import errors
from zlb_health.zenlayer.client import ZenlayerClient, parse_backends
from zlb_health.zenlayer.credentials import AccessKey, BearerToken
from zlb_health.zenlayer.models import BackendHealth, HealthCheck, PortHealth

# The seed document's own example response: a comma is missing after privateIpAddress.
SEED_BODY = """{
  "requestId": "T23120DD8-C59C-4919-8F73-E3F3892D3CDC",
  "response": {
    "requestId": "T23120DD8-C59C-4919-8F73-E3F3892D3CDC",
    "backends": [
      {
        "listenerId": "<listenerId>",
        "protocol": "TCP",
        "instanceId": "<instanceId>",
        "backendPort": 1,
        "listenerName": "Listener-TCP-01",
        "weight": 100,
        "listenerPort": "8080",
        "privateIpAddress": "10.0.0.1"
        "healthStatus": "Alive"
      }
    ]
  }
}"""

WALL = 1_700_000_000.0


def backend(**overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
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
    entry.update(overrides)
    return {k: v for k, v in entry.items() if v is not None}


@pytest.fixture
def make_client(stub: Any, fake_time: FakeTime) -> Any:
    def make(**kw: Any) -> ZenlayerClient:
        options: dict[str, Any] = {
            "endpoint": stub.endpoint,
            "credentials": AccessKey(stub.key_id, stub.password),
            "clock": fake_time.clock,
            "sleep": fake_time.sleep,
            "rng": lambda: 0.5,
            "wall_clock": lambda: WALL,
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
        }
        options.update(kw)
        return ZenlayerClient(**options)

    return make


# -- the request on the wire -----------------------------------------------------------------


def test_signed_request_headers_and_body(stub: Any, make_client: Any) -> None:
    stub.push(stub.ok({"backends": [backend()]}, request_id="req-1"))
    result = make_client().describe_backend_health("lb-1")

    assert result.request_id == "req-1"
    [seen] = stub.seen
    assert seen.signature_ok is True
    h = seen.headers
    assert h["content-type"] == "application/json"
    assert h["x-zc-action"] == "DescribeBackendHealth"
    assert h["x-zc-version"] == "2025-04-01"
    assert h["x-zc-service"] == "zlb"
    assert h["x-zc-timestamp"] == str(int(WALL))
    assert h["x-zc-signature-method"] == "ZC2-HMAC-SHA256"
    assert h["user-agent"].startswith("zlb-health/")
    assert h["host"] == f"127.0.0.1:{stub.port}"
    assert h["authorization"].startswith(f"ZC2-HMAC-SHA256 Credential={stub.key_id}, ")
    assert seen.body == b'{"loadBalancerId":"lb-1"}'


def test_wrong_password_fails_server_side_verification(stub: Any, make_client: Any) -> None:
    stub.push(stub.ok({"backends": []}))
    make_client(credentials=AccessKey(stub.key_id, "not-the-password")).describe_backend_health(
        "lb-1"
    )
    assert stub.seen[0].signature_ok is False


def test_listener_id_is_sent_when_given(stub: Any, make_client: Any) -> None:
    stub.push(stub.ok({"backends": []}))
    make_client().describe_backend_health("lb-1", "lsn-9")
    assert stub.seen[0].payload == {"loadBalancerId": "lb-1", "listenerId": "lsn-9"}


def test_bearer_token_auth(stub: Any, make_client: Any) -> None:
    stub.push(stub.ok({"backends": []}))
    make_client(credentials=BearerToken(stub.token)).describe_backend_health("lb-1")
    [seen] = stub.seen
    assert seen.headers["authorization"] == f"Bearer {stub.token}"
    assert "x-zc-signature-method" not in seen.headers
    assert seen.signature_ok is None


def test_call_returns_response_and_request_id(stub: Any, make_client: Any) -> None:
    stub.push(stub.ok({"anything": 1}, request_id="req-call"))
    response, request_id = make_client().call("DescribeSomething", {"a": [1, 2]})
    assert response == {"requestId": "req-call", "anything": 1}
    assert request_id == "req-call"
    assert stub.seen[0].action == "DescribeSomething"
    assert stub.seen[0].body == b'{"a":[1,2]}'


# -- error mapping ---------------------------------------------------------------------------

HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"

ERROR_CASES = [
    # (id, status, body, headers, class, code, request id)
    ("429", 429, {"requestId": "r1", "code": "REQUEST_LIMIT_EXCEEDED"}, {},
     errors.ThrottledError, "REQUEST_LIMIT_EXCEEDED", "r1"),
    ("limit-code-400", 400, {"requestId": "r2", "code": "REQUEST_LIMIT_EXCEEDED"}, {},
     errors.ThrottledError, "REQUEST_LIMIT_EXCEEDED", "r2"),
    ("401", 401, {"requestId": "r3", "code": "AUTH_FAILED"}, {},
     errors.AuthError, "AUTH_FAILED", "r3"),
    ("403", 403, {"requestId": "r4", "code": "FORBIDDEN"}, {},
     errors.AuthError, "FORBIDDEN", "r4"),
    ("signature-code", 400, {"requestId": "r5", "code": "SIGNATURE_DOES_NOT_MATCH"}, {},
     errors.AuthError, "SIGNATURE_DOES_NOT_MATCH", "r5"),
    ("token-code", 400, {"requestId": "r6", "code": "INVALID_TOKEN"}, {},
     errors.AuthError, "INVALID_TOKEN", "r6"),
    ("timestamp-code", 400, {"requestId": "r7", "code": "INVALID_TIMESTAMP"}, {},
     errors.AuthError, "INVALID_TIMESTAMP", "r7"),
    ("cf-challenge", 403, "<html>Just a moment...</html>", {"cf-mitigated": "challenge"},
     errors.ClientRequestError, None, None),
    ("404", 404, {"requestId": "r8", "code": "RESOURCE_NOT_FOUND"}, {},
     errors.NotFoundError, "RESOURCE_NOT_FOUND", "r8"),
    ("not-found-code", 400, {"requestId": "r9", "code": "INVALID_LOAD_BALANCER_NOT_FOUND"}, {},
     errors.NotFoundError, "INVALID_LOAD_BALANCER_NOT_FOUND", "r9"),
    ("500", 500, {"requestId": "r10", "code": "INTERNAL_ERROR"}, {},
     errors.ServerError, "INTERNAL_ERROR", "r10"),
    ("502-html", 502, HTML, {}, errors.ServerError, None, None),
    ("503-html-rid", 503, HTML, {"X-ZC-Request-Id": "hdr-1"}, errors.ServerError, None, "hdr-1"),
    ("451", 451, "blocked", {}, errors.ClientRequestError, None, None),
    ("400", 400, {"requestId": "r11", "code": "INVALID_PARAMETER"}, {},
     errors.ClientRequestError, "INVALID_PARAMETER", "r11"),
    ("302", 302, "", {"Location": "https://elsewhere.example/"},
     errors.ClientRequestError, None, None),
    ("200-not-json", 200, "not json at all", {}, errors.MalformedResponseError, None, None),
    ("200-html", 200, "<!DOCTYPE html><html>proxy login</html>", {"X-ZC-Request-Id": "hdr-2"},
     errors.MalformedResponseError, None, "hdr-2"),
    ("200-truncated", 200, '{"requestId": "x", "response": {"backends": [', {},
     errors.MalformedResponseError, None, None),
    ("200-array", 200, "[1, 2]", {}, errors.MalformedResponseError, None, None),
    ("200-no-response", 200, {"requestId": "r12"}, {}, errors.MalformedResponseError, None, "r12"),
    ("200-response-list", 200, {"requestId": "r13", "response": []}, {},
     errors.MalformedResponseError, None, "r13"),
    ("200-seed-example", 200, SEED_BODY, {}, errors.MalformedResponseError, None, None),
    ("200-no-backends", 200, {"requestId": "r14", "response": {"requestId": "r14"}}, {},
     errors.MalformedResponseError, None, "r14"),
    ("200-backends-not-list", 200, {"requestId": "r15", "response": {"backends": {}}}, {},
     errors.MalformedResponseError, None, "r15"),
    ("200-error-envelope", 200, {"requestId": "r16", "code": "AUTH_FAILED"}, {},
     errors.AuthError, "AUTH_FAILED", "r16"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "code", "request_id"),
    [pytest.param(*case[1:], id=case[0]) for case in ERROR_CASES],
)
def test_error_mapping(  # noqa: PLR0917 - one argument per parametrized column
    stub: Any,
    make_client: Any,
    fake_time: FakeTime,
    status: int,
    body: Any,
    headers: dict[str, str],
    cls: type[errors.ZenlayerError],
    code: str | None,
    request_id: str | None,
) -> None:
    stub.push(stub.Reply(status, body, headers))
    with pytest.raises(errors.ZenlayerError) as info:
        make_client(max_attempts=1).describe_backend_health("lb-1")
    exc = info.value
    assert type(exc) is cls
    assert exc.status == status
    assert exc.code == code
    assert exc.request_id == request_id
    assert exc.action == "DescribeBackendHealth"
    assert "\n" not in str(exc)
    assert fake_time.sleeps == []


def test_oversized_response_is_malformed(stub: Any, make_client: Any) -> None:
    stub.push(stub.ok({"backends": [backend(listenerName="x" * 200)] * 10}))
    with pytest.raises(errors.MalformedResponseError, match="larger than 500 bytes"):
        make_client(max_response_bytes=500).describe_backend_health("lb-1")


# -- transport failures ----------------------------------------------------------------------


def test_connection_reset_is_transport_error(stub: Any, make_client: Any) -> None:
    stub.push(stub.Reply(reset=True))
    with pytest.raises(errors.TransportError) as info:
        make_client(max_attempts=1).describe_backend_health("lb-1")
    assert type(info.value) is errors.TransportError
    assert info.value.message == "connection reset or closed before a complete response"


def test_read_timeout_is_transport_error(stub: Any, make_client: Any) -> None:
    stub.push(stub.Reply(hold=True))  # never answers: no race with the timeout
    with pytest.raises(errors.TransportError) as info:
        make_client(max_attempts=1, read_timeout=0.2).describe_backend_health("lb-1")
    assert info.value.message == "read timeout"


def test_connect_failure_is_transport_error(closed_port: int, fake_time: FakeTime) -> None:
    client = ZenlayerClient(
        endpoint=f"http://127.0.0.1:{closed_port}",
        credentials=BearerToken("tok-secret-value"),
        max_attempts=2,
        connect_timeout=0.5,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        rng=lambda: 1.0,
    )
    with pytest.raises(errors.TransportError) as info:
        client.describe_backend_health("lb-1")
    assert type(info.value) is errors.TransportError
    assert info.value.message == "could not connect"
    assert fake_time.sleeps == [0.5]  # retried once, then gave up


# -- secrets never leak ----------------------------------------------------------------------


@pytest.mark.parametrize("use_token", [False, True], ids=["access-key", "bearer"])
def test_errors_never_carry_secrets(stub: Any, make_client: Any, use_token: bool) -> None:
    def echo(seen: Any) -> Any:
        # A hostile or buggy server echoes every secret it was sent into the error fields.
        auth = seen.headers["authorization"]
        everything = f"{auth} {stub.password} {stub.token}"
        return stub.Reply(
            401,
            {"requestId": f"rid {auth}", "code": f"AUTH_FAILED {stub.password}",
             "message": "x" * 150 + everything},
        )  # fmt: skip

    stub.push(echo)
    creds = BearerToken(stub.token) if use_token else AccessKey(stub.key_id, stub.password)
    client = make_client(credentials=creds)
    with pytest.raises(errors.AuthError) as info:
        client.describe_backend_health("lb-1")
    exc = info.value
    auth = stub.seen[0].headers["authorization"]
    secrets = [stub.token] if use_token else [stub.password, auth.rpartition("Signature=")[2]]
    # What the server echoed is kept, each secret replaced (so the absence checks below look at
    # real text).
    # (The stub's password is no secret of a token request: it stays.)
    code = f"AUTH_FAILED {stub.password}" if use_token else "AUTH_FAILED ***"
    assert (exc.code, exc.request_id) == (code, "rid ***")
    assert exc.detail is not None
    assert exc.detail.startswith("x" * 150 + "*** ")
    texts = [str(exc), repr(exc), exc.detail, exc.one_line(), repr(client)]
    for text in texts:
        for secret in secrets:
            assert secret not in text
        assert auth not in text


def test_transport_error_text_has_no_secret(closed_port: int) -> None:
    client = ZenlayerClient(
        endpoint=f"http://127.0.0.1:{closed_port}",
        credentials=AccessKey("AKID-x", "very-secret-password"),
        max_attempts=1,
    )
    with pytest.raises(errors.TransportError) as info:
        client.describe_backend_health("lb-1")
    assert str(info.value) == "DescribeBackendHealth failed (transport): could not connect"
    assert "very-secret-password" not in str(info.value)
    assert "very-secret-password" not in repr(info.value)
    assert "Signature" not in str(info.value)


# -- retries and the deadline ----------------------------------------------------------------


def test_retries_retryable_errors_with_jittered_backoff(
    stub: Any, make_client: Any, fake_time: FakeTime
) -> None:
    stub.push(
        stub.fail(500, "INTERNAL_ERROR"),
        stub.Reply(reset=True),
        stub.fail(429, "REQUEST_LIMIT_EXCEEDED"),
        stub.ok({"backends": [backend()]}, request_id="finally"),
    )
    result = make_client(rng=lambda: 0.5, backoff_base=0.5).describe_backend_health("lb-1")
    assert result.request_id == "finally"
    assert len(stub.seen) == 4
    assert fake_time.sleeps == [0.25, 0.5, 1.0]  # rng * base * 2**(attempt-1)
    assert all(seen.signature_ok for seen in stub.seen)


def test_backoff_is_capped_and_last_error_raised(
    stub: Any, make_client: Any, fake_time: FakeTime
) -> None:
    stub.default = stub.fail(503, "UNAVAILABLE", request_id="last")
    with pytest.raises(errors.ServerError) as info:
        make_client(rng=lambda: 1.0, backoff_base=0.5, backoff_cap=0.75).describe_backend_health(
            "lb-1"
        )
    assert info.value.request_id == "last"
    assert len(stub.seen) == 4
    assert fake_time.sleeps == [0.5, 0.75, 0.75]


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, "AUTH_FAILED", errors.AuthError),
        (404, "RESOURCE_NOT_FOUND", errors.NotFoundError),
        (400, "INVALID_PARAMETER", errors.ClientRequestError),
    ],
)
def test_non_retryable_errors_are_not_retried(  # noqa: PLR0917 - one per parametrized column
    stub: Any,
    make_client: Any,
    fake_time: FakeTime,
    status: int,
    code: str,
    cls: type[errors.ZenlayerError],
) -> None:
    stub.default = stub.fail(status, code)
    with pytest.raises(cls):
        make_client().describe_backend_health("lb-1")
    assert len(stub.seen) == 1
    assert fake_time.sleeps == []


def test_malformed_is_not_retried(stub: Any, make_client: Any, fake_time: FakeTime) -> None:
    stub.default = stub.Reply(200, "<html>proxy</html>")
    with pytest.raises(errors.MalformedResponseError):
        make_client().describe_backend_health("lb-1")
    assert len(stub.seen) == 1


def test_deadline_stops_retries(stub: Any, make_client: Any, fake_time: FakeTime) -> None:
    stub.default = stub.fail(500, "INTERNAL_ERROR", request_id="rid-500")
    deadline = fake_time.now + 1.2
    with pytest.raises(errors.DeadlineExceededError) as info:
        make_client(rng=lambda: 1.0, backoff_base=0.5).describe_backend_health(
            "lb-1", deadline=deadline
        )
    # attempt 1, sleep 0.5, attempt 2, a 1.0 s wait would cross the deadline: stop.
    assert len(stub.seen) == 2
    assert fake_time.sleeps == [0.5]
    exc = info.value
    assert (exc.status, exc.code, exc.request_id) == (500, "INTERNAL_ERROR", "rid-500")
    assert isinstance(exc.__cause__, errors.ServerError)
    assert fake_time.now < deadline


def test_retry_after_beyond_deadline(stub: Any, make_client: Any, fake_time: FakeTime) -> None:
    throttled = stub.fail(429, "REQUEST_LIMIT_EXCEEDED", request_id="rid-429")
    throttled.headers["Retry-After"] = "30"
    stub.push(throttled)
    with pytest.raises(errors.DeadlineExceededError) as info:
        make_client().describe_backend_health("lb-1", deadline=fake_time.now + 10)
    assert info.value.status == 429
    assert info.value.request_id == "rid-429"
    assert fake_time.sleeps == []


# -- parsing ---------------------------------------------------------------------------------


def test_backend_parsing_is_lenient_about_the_rest(stub: Any, make_client: Any) -> None:
    stub.push(
        stub.ok(
            {
                "backends": [
                    backend(
                        healthStatus="Dead",
                        healthStatusDetail=[
                            {"port": 80, "healthStatus": "Alive", "extra": 1},
                            {"port": 443, "healthStatus": "Dead"},
                        ],
                        someNewField={"nested": True},
                    ),
                    backend(
                        instanceId=None,
                        backendPort=None,
                        listenerPort="10000-10005",
                        healthStatus="Degraded",
                    ),
                    backend(privateIpAddress=None, healthStatus="Close", weight=None),
                ],
                "futureTopLevel": [1, 2, 3],
            }
        )
    )
    result = make_client().describe_backend_health("lb-1")
    first, second, third = result.backends
    assert first.health_status == "Dead"
    assert first.health_status_detail == (PortHealth(80, "Alive"), PortHealth(443, "Dead"))
    assert second.instance_id is None
    assert second.backend_port is None
    assert second.target == "10.0.0.1"
    assert second.effective_port == "10000-10005"
    assert second.health_status == "Degraded"  # unknown status kept verbatim
    assert second.health_status_detail == ()
    assert third.private_ip_address == ""
    assert third.target == "vm-1"
    assert third.weight is None


SKIPPED = "(row skipped)"
UNKNOWN = "(status taken as Unknown)"


@pytest.mark.parametrize(
    ("entry", "note"),
    [
        ("not an object", f"backends[1]: not an object {SKIPPED}"),
        (backend(listenerId=None), f"backends[1].listenerId: missing or not a string {SKIPPED}"),
        (backend(instanceId=None, privateIpAddress=None),
         f"backends[1]: has neither privateIpAddress nor instanceId {SKIPPED}"),
        (backend(listenerName="n" * 257),
         f"backends[1].listenerName: longer than 256 characters {SKIPPED}"),
        (backend(backendPort="80"), f"backends[1].backendPort: not an integer {SKIPPED}"),
        (backend(privateIpAddress=5), f"backends[1].privateIpAddress: not a string {SKIPPED}"),
        (backend(protocol=5), f"backends[1].protocol: not a string {SKIPPED}"),
        (backend(listenerPort=[80]), f"backends[1].listenerPort: not a string {SKIPPED}"),
        (backend(weight="1"), f"backends[1].weight: not an integer {SKIPPED}"),
        (backend(healthStatus=None),
         f"backends[1].healthStatus: missing or not a string {UNKNOWN}"),
        (backend(healthStatus=1), f"backends[1].healthStatus: not a string {UNKNOWN}"),
        (backend(healthStatusDetail={"port": 80}),
         f"backends[1].healthStatusDetail: missing or not a list {UNKNOWN}"),
        (backend(healthStatusDetail=[{"port": "80", "healthStatus": "Alive"}]),
         f"backends[1].healthStatusDetail[0].port: not an integer {UNKNOWN}"),
        (backend(healthStatusDetail=[{"healthStatus": "Alive"}]),
         f"backends[1].healthStatusDetail[0].port: missing or not an integer {UNKNOWN}"),
        (backend(healthStatusDetail=[{"port": 80}]),
         f"backends[1].healthStatusDetail[0].healthStatus: missing or not a string {UNKNOWN}"),
        (backend(healthStatusDetail=["x"]),
         f"backends[1].healthStatusDetail[0]: not an object {UNKNOWN}"),
    ],
)  # fmt: skip
def test_a_bad_backend_row_is_noted_and_the_others_kept(
    stub: Any, make_client: Any, entry: Any, note: str
) -> None:
    stub.push(stub.ok({"backends": [backend(), entry]}, request_id="rid-bad"))
    result = make_client().describe_backend_health("lb-1")
    assert result.backends[0] == parse_one(backend())
    assert result.invalid_rows == (note,)
    if note.endswith(SKIPPED):
        assert len(result.backends) == 1
    else:
        assert [(b.health_status, b.health_status_detail) for b in result.backends[1:]] == [
            ("Unknown", ())
        ]


def test_absent_optional_fields_are_empty_or_none() -> None:
    row = {"listenerId": "lsn-1", "privateIpAddress": "10.0.0.1", "healthStatus": "Alive"}
    assert parse_one(row) == BackendHealth(
        listener_id="lsn-1",
        listener_name="",
        protocol="",
        listener_port="",
        instance_id=None,
        private_ip_address="10.0.0.1",
        backend_port=None,
        weight=None,
        health_status="Alive",
    )


def test_an_answer_whose_rows_all_name_no_backend_is_malformed(stub: Any, make_client: Any) -> None:
    stub.push(stub.ok({"backends": ["x", backend(listenerId=None)]}, request_id="rid-bad"))
    with pytest.raises(errors.MalformedResponseError) as info:
        make_client().describe_backend_health("lb-1")
    assert info.value.message == (
        "backends: none of the 2 rows names a backend: backends[0]: not an object (row skipped)"
    )
    assert info.value.request_id == "rid-bad"


def parse_one(row: dict[str, Any]) -> Any:
    (only,), _notes = parse_backends({"backends": [row]}, request_id=None)
    return only


def test_describe_load_balancers_follows_all_pages(stub: Any, make_client: Any) -> None:
    def lb(n: int) -> dict[str, Any]:
        return {
            "loadBalancerId": f"lb-{n}",
            "loadBalancerName": f"n{n}",
            "regionId": "HKG",
            "status": "Running",
            "listenerCount": 2,
            "backendServerCount": 3,
            "tags": {},
        }

    stub.push(
        stub.ok({"totalCount": 5, "dataSet": [lb(1), lb(2)]}),
        stub.ok({"totalCount": 5, "dataSet": [lb(3), lb(4)]}),
        stub.ok({"totalCount": 5, "dataSet": [lb(5)]}),
    )
    lbs = make_client().describe_load_balancers(page_size=2)
    assert [x.load_balancer_id for x in lbs] == ["lb-1", "lb-2", "lb-3", "lb-4", "lb-5"]
    assert lbs[0].region_id == "HKG"
    assert lbs[0].listener_count == 2
    assert [s.payload for s in stub.seen] == [
        {"pageSize": 2, "pageNum": 1},
        {"pageSize": 2, "pageNum": 2},
        {"pageSize": 2, "pageNum": 3},
    ]
    assert {s.action for s in stub.seen} == {"DescribeLoadBalancers"}


def test_describe_load_balancers_stops_on_empty_page(stub: Any, make_client: Any) -> None:
    stub.push(
        stub.ok({"totalCount": 10, "dataSet": [{"loadBalancerId": "lb-1"}]}),
        stub.ok({"totalCount": 10, "dataSet": []}),
    )
    lbs = make_client().describe_load_balancers(page_size=1)
    assert [x.load_balancer_id for x in lbs] == ["lb-1"]
    assert len(stub.seen) == 2


def test_describe_load_balancers_requires_an_id(stub: Any, make_client: Any) -> None:
    stub.push(stub.ok({"totalCount": 1, "dataSet": [{"loadBalancerName": "x"}]}))
    with pytest.raises(errors.MalformedResponseError, match=r"dataSet\[0\]\.loadBalancerId"):
        make_client().describe_load_balancers()


def test_describe_listeners(stub: Any, make_client: Any) -> None:
    # Field names as in the official SDK (zenlayercloud.zlb.v20250401 DescribeListenersResponse).
    stub.push(
        stub.ok(
            {
                "listeners": [
                    {
                        "listenerId": "lsn-1",
                        "listenerName": "web",
                        "protocol": "TCP",
                        "port": "80,443",
                        "scheduler": "wrr",
                        "healthCheck": {
                            "enabled": True,
                            "checkType": "TCP_CHECK",
                            "checkDelayLoop": 5,
                            "checkRetry": 3,
                            "failOpen": False,
                            "checkPort": 80,
                        },
                    },
                    {"listenerId": "lsn-2", "port": 53, "healthCheck": {"enabled": False}},
                    {"listenerId": "lsn-3"},
                ]
            }
        )
    )
    listeners = make_client().describe_listeners("lb-1")
    assert stub.seen[0].payload == {"loadBalancerId": "lb-1"}
    assert stub.seen[0].action == "DescribeListeners"
    first, second, third = listeners
    assert first.listener_port == "80,443"
    assert first.health_check == HealthCheck(
        enabled=True, check_type="TCP_CHECK", check_delay_loop=5, check_retry=3, fail_open=False
    )
    assert second.listener_port == "53"
    assert second.health_check == HealthCheck(enabled=False)
    assert third.health_check is None
