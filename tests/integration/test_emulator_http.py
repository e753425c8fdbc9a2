"""The emulator over raw HTTP (urllib3 + signing.py): envelopes, auth, faults, timeline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import urllib3

from zlb_health.zenlayer.credentials import AccessKey, BearerToken
from zlb_health_tools.emulator import (
    DEMO_ACCESS_KEY_PASSWORD,
    DEMO_TOKEN,
    Emulator,
    Scenario,
    ScenarioError,
    generate_fleet,
    load_scenario,
)
from zlb_health_tools.emulator.server import credentials_from_env, run_emulator

pytestmark = pytest.mark.integration

Post = Callable[..., urllib3.BaseHTTPResponse]
Make = Callable[..., Emulator]
Sign = Callable[..., dict[str, str]]


def body_of(resp: urllib3.BaseHTTPResponse) -> dict[str, Any]:
    data = json.loads(resp.data)
    assert isinstance(data, dict)
    return data


def backends_by_key(backends: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(b["listenerId"], b.get("instanceId") or b["privateIpAddress"]): b for b in backends}


# --------------------------------------------------------------------------- happy path


def test_describe_backend_health_envelope_and_shapes(emulator: Emulator, signed_post: Post) -> None:
    resp = signed_post(emulator, "DescribeBackendHealth", {"loadBalancerId": "lb-db"})
    assert resp.status == 200
    body = body_of(resp)
    rid = body["requestId"]
    assert rid == body["response"]["requestId"] == resp.headers["X-ZC-Request-Id"]
    assert rid == rid.upper()
    backends = body["response"]["backends"]
    assert backends == emulator.ground_truth()["lb-db"]
    by_key = backends_by_key(backends)
    vm = by_key[("lsn-db-tcp", "vm-db-1")]
    assert vm == {
        "listenerId": "lsn-db-tcp",
        "listenerName": "postgres",
        "protocol": "TCP",
        "listenerPort": "5432",
        "instanceId": "vm-db-1",
        "privateIpAddress": "10.0.3.31",
        "backendPort": 5432,
        "weight": 100,
        "healthStatus": "Alive",
        "healthStatusDetail": [{"port": 5432, "healthStatus": "Alive"}],
    }
    ip_only = by_key[("lsn-db-tcp", "10.0.3.40")]
    assert "instanceId" not in ip_only
    assert "backendPort" not in ip_only  # follows the listener port
    assert ip_only["healthStatusDetail"] == [{"port": 5432, "healthStatus": "Alive"}]


def test_request_ids_are_unique(emulator: Emulator, signed_post: Post) -> None:
    ids = {
        body_of(signed_post(emulator, "DescribeBackendHealth", {"loadBalancerId": "lb-web"}))[
            "requestId"
        ]
        for _ in range(5)
    }
    assert len(ids) == 5


def test_listener_filter_and_unknown_ids(emulator: Emulator, signed_post: Post) -> None:
    resp = signed_post(
        emulator,
        "DescribeBackendHealth",
        {"loadBalancerId": "lb-web", "listenerId": "lsn-web-https"},
    )
    backends = body_of(resp)["response"]["backends"]
    assert {b["listenerId"] for b in backends} == {"lsn-web-https"}
    assert len(backends) == 3

    resp = signed_post(emulator, "DescribeBackendHealth", {"loadBalancerId": "lb-nope"})
    assert resp.status == 404
    err = body_of(resp)
    assert err["code"] == "INVALID_LOAD_BALANCER_NOT_FOUND"
    assert set(err) == {"requestId", "code", "message"}

    resp = signed_post(
        emulator, "DescribeBackendHealth", {"loadBalancerId": "lb-web", "listenerId": "lsn-x"}
    )
    assert resp.status == 404
    assert body_of(resp)["code"] == "INVALID_LISTENER_NOT_FOUND"

    resp = signed_post(emulator, "DescribeBackendHealth", {})
    assert resp.status == 400
    assert body_of(resp)["code"] == "INVALID_PARAMETER"


def test_describe_listeners(emulator: Emulator, signed_post: Post) -> None:
    resp = signed_post(emulator, "DescribeListeners", {"loadBalancerId": "lb-web"})
    listeners = body_of(resp)["response"]["listeners"]
    assert [lsn["listenerId"] for lsn in listeners] == ["lsn-web-http", "lsn-web-https"]
    assert listeners[0]["port"] == "80"
    assert listeners[0]["healthCheck"] == {
        "enabled": True,
        "checkType": "HTTP_GET",
        "checkDelayLoop": 5,
        "checkRetry": 3,
        "failOpen": False,
    }
    resp = signed_post(
        emulator,
        "DescribeListeners",
        {"loadBalancerId": "lb-web", "listenerIds": ["lsn-web-https"]},
    )
    assert [lsn["listenerId"] for lsn in body_of(resp)["response"]["listeners"]] == [
        "lsn-web-https"
    ]


def test_pagination_of_describe_load_balancers(make_emulator: Make, signed_post: Post) -> None:
    emu = make_emulator(generate_fleet(45, 1, 2))
    seen: list[str] = []
    for page in (1, 2, 3, 4):
        resp = signed_post(emu, "DescribeLoadBalancers", {"pageSize": 20, "pageNum": page})
        data = body_of(resp)["response"]
        assert data["totalCount"] == 45
        seen.extend(lb["loadBalancerId"] for lb in data["dataSet"])
    assert seen == [f"lb-{i:04d}" for i in range(1, 46)]

    default = body_of(signed_post(emu, "DescribeLoadBalancers", {}))["response"]
    assert len(default["dataSet"]) == 20
    lb = default["dataSet"][0]
    assert lb == {
        "loadBalancerId": "lb-0001",
        "loadBalancerName": "bench-0001",
        "regionId": "asia-east-1",
        "status": "Running",
        "listenerCount": 1,
        "backendServerCount": 2,
        "tags": [],
    }
    filtered = body_of(
        signed_post(emu, "DescribeLoadBalancers", {"loadBalancerIds": ["lb-0002", "lb-0044", "x"]})
    )["response"]
    assert filtered["totalCount"] == 2
    assert [lb["loadBalancerId"] for lb in filtered["dataSet"]] == ["lb-0002", "lb-0044"]

    for bad in ({"pageSize": 1001}, {"pageSize": 0}, {"pageNum": 0}, {"pageSize": "20"}):
        resp = signed_post(emu, "DescribeLoadBalancers", bad)
        assert resp.status == 400, bad
        assert body_of(resp)["code"] == "INVALID_PARAMETER"
    assert signed_post(emu, "DescribeLoadBalancers", {"pageSize": 1000}).status == 200


# --------------------------------------------------------------------------- verification


def test_timestamp_skew_is_refused(make_emulator: Make, signed_post: Post) -> None:
    now = 1_700_000_000.0
    emu = make_emulator(clock=lambda: now)
    params = {"loadBalancerId": "lb-1"}
    for ts in (int(now) - 300, int(now) + 300):
        assert signed_post(emu, "DescribeBackendHealth", params, timestamp=ts).status == 200
    for ts in (int(now) - 301, int(now) + 301):
        resp = signed_post(emu, "DescribeBackendHealth", params, timestamp=ts)
        assert resp.status == 401
        assert body_of(resp)["code"] == "INVALID_TIMESTAMP"


def test_wrong_secret_and_unknown_key_are_refused(emulator: Emulator, signed_post: Post) -> None:
    params = {"loadBalancerId": "lb-web"}
    resp = signed_post(emulator, "DescribeBackendHealth", params, password="not-the-password")
    assert resp.status == 401
    assert body_of(resp)["code"] == "SIGNATURE_FAILURE"
    resp = signed_post(emulator, "DescribeBackendHealth", params, key_id="someone-else")
    assert resp.status == 401
    assert body_of(resp)["code"] == "INVALID_ACCESS_KEY"


def test_signature_is_checked_over_what_was_received(
    emulator: Emulator, http: urllib3.PoolManager, sign: Sign
) -> None:
    def _raw_signed(emu: Emulator, body: bytes, **kw: Any) -> dict[str, str]:
        return sign(emu.url, "DescribeBackendHealth", body, **kw)

    signed_body = b'{"loadBalancerId":"lb-web"}'
    headers = _raw_signed(emulator, signed_body)
    ok = http.request("POST", emulator.api_url, body=signed_body, headers=headers)
    assert ok.status == 200
    # Same signature, other body bytes (whitespace only): refused.
    other = http.request(
        "POST", emulator.api_url, body=b'{"loadBalancerId": "lb-web"}', headers=headers
    )
    assert other.status == 401
    assert body_of(other)["code"] == "SIGNATURE_FAILURE"
    # Content-Type sent differs from the one signed: refused.
    changed = dict(headers, **{"Content-Type": "application/json"})
    resp = http.request("POST", emulator.api_url, body=signed_body, headers=changed)
    assert body_of(resp)["code"] == "SIGNATURE_FAILURE"
    # The plain `application/json` works when that is what was signed.
    plain = _raw_signed(emulator, signed_body, content_type="application/json")
    assert http.request("POST", emulator.api_url, body=signed_body, headers=plain).status == 200
    # Host sent differs from the one signed (no port): refused.
    wrong_host = dict(headers, Host="127.0.0.1")
    resp = http.request("POST", emulator.api_url, body=signed_body, headers=wrong_host)
    assert body_of(resp)["code"] == "SIGNATURE_FAILURE"


def test_bearer_token(emulator: Emulator, http: urllib3.PoolManager) -> None:
    base = {
        "Content-Type": "application/json",
        "X-ZC-Action": "DescribeBackendHealth",
        "X-ZC-Version": "2025-04-01",
    }
    body = b'{"loadBalancerId":"lb-api"}'
    ok = http.request(
        "POST",
        emulator.api_url,
        body=body,
        headers=dict(base, Authorization=f"Bearer {DEMO_TOKEN}"),
    )
    assert ok.status == 200
    assert body_of(ok)["response"]["backends"] == emulator.ground_truth()["lb-api"]
    bad = http.request(
        "POST", emulator.api_url, body=body, headers=dict(base, Authorization="Bearer nope")
    )
    assert bad.status == 401
    assert body_of(bad)["code"] == "INVALID_TOKEN"
    missing = http.request("POST", emulator.api_url, body=body, headers=base)
    assert missing.status == 401
    assert body_of(missing)["code"] == "SIGNATURE_FAILURE"


def test_explicit_credentials(make_emulator: Make, signed_post: Post) -> None:
    emu = make_emulator(credentials=[AccessKey("ak-1", "secret-1"), BearerToken("tok")])
    params = {"loadBalancerId": "lb-1"}
    assert signed_post(emu, "DescribeBackendHealth", params).status == 401  # demo key not accepted
    resp = signed_post(emu, "DescribeBackendHealth", params, key_id="ak-1", password="secret-1")
    assert resp.status == 200


def test_headers_actions_and_body_are_checked(
    emulator: Emulator, http: urllib3.PoolManager, signed_post: Post, sign: Sign
) -> None:
    def _raw_signed(emu: Emulator, body: bytes) -> dict[str, str]:
        return sign(emu.url, "DescribeBackendHealth", body)

    resp = signed_post(emulator, "CreateLoadBalancer", {})
    assert resp.status == 400
    assert body_of(resp)["code"] == "UNSUPPORTED_ACTION"

    body = b'{"loadBalancerId":"lb-web"}'
    headers = _raw_signed(emulator, body)
    no_action = {k: v for k, v in headers.items() if k != "X-ZC-Action"}
    resp = http.request("POST", emulator.api_url, body=body, headers=no_action)
    assert (resp.status, body_of(resp)["code"]) == (400, "UNSUPPORTED_ACTION")
    no_version = {k: v for k, v in headers.items() if k != "X-ZC-Version"}
    resp = http.request("POST", emulator.api_url, body=body, headers=no_version)
    assert (resp.status, body_of(resp)["code"]) == (400, "INVALID_PARAMETER")

    bad_json = b'{"loadBalancerId": '
    resp = http.request(
        "POST", emulator.api_url, body=bad_json, headers=_raw_signed(emulator, bad_json)
    )
    assert (resp.status, body_of(resp)["code"]) == (400, "INVALID_PARAMETER")

    resp = http.request("GET", emulator.api_url)
    assert resp.status == 405
    resp = http.request("POST", emulator.url + "/api/v2/zec", body=body, headers=headers)
    assert resp.status == 404


# --------------------------------------------------------------------------- faults


def fault_scenario(scenario_dict: Callable[..., dict[str, Any]], **fault: Any) -> Scenario:
    return Scenario.from_dict(scenario_dict(faults=[dict({"loadBalancerId": "lb-1"}, **fault)]))


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"type": "throttle"}, 429, "REQUEST_LIMIT_EXCEEDED"),
        ({"type": "server_error"}, 500, "INTERNAL_SERVER_ERROR"),
        ({"type": "server_error", "status": 503}, 503, "SERVICE_UNAVAILABLE"),
        ({"type": "not_found"}, 404, "INVALID_LOAD_BALANCER_NOT_FOUND"),
    ],
)
def test_error_envelope_faults(
    *,
    make_emulator: Make,
    signed_post: Post,
    scenario_dict: Callable[..., dict[str, Any]],
    fault: dict[str, Any],
    status: int,
    code: str,
) -> None:
    emu = make_emulator(fault_scenario(scenario_dict, **fault))
    resp = signed_post(emu, "DescribeBackendHealth", {"loadBalancerId": "lb-1"})
    assert resp.status == status
    body = body_of(resp)
    assert body["code"] == code
    assert body["requestId"] == resp.headers["X-ZC-Request-Id"]
    assert emu.request_log[-1]["fault"] == fault["type"]
    assert emu.request_log[-1]["status"] == status


@pytest.mark.parametrize("fault_type", ["malformed", "truncated"])
def test_invalid_json_faults(
    make_emulator: Make,
    signed_post: Post,
    scenario_dict: Callable[..., dict[str, Any]],
    fault_type: str,
) -> None:
    emu = make_emulator(fault_scenario(scenario_dict, type=fault_type))
    resp = signed_post(emu, "DescribeBackendHealth", {"loadBalancerId": "lb-1"})
    assert resp.status == 200
    assert resp.data
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.data)
    if fault_type == "malformed":
        assert b'"privateIpAddress": "10.0.0.1"\n        "healthStatus"' in resp.data


@pytest.mark.parametrize("status", [200, 502])
def test_html_fault(
    make_emulator: Make,
    signed_post: Post,
    scenario_dict: Callable[..., dict[str, Any]],
    status: int,
) -> None:
    emu = make_emulator(fault_scenario(scenario_dict, type="html", status=status))
    resp = signed_post(emu, "DescribeBackendHealth", {"loadBalancerId": "lb-1"})
    assert resp.status == status
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.data.startswith(b"<html>")


def test_missing_and_empty_backends_faults(
    make_emulator: Make, signed_post: Post, scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    emu = make_emulator(fault_scenario(scenario_dict, type="missing_backends"))
    body = body_of(signed_post(emu, "DescribeBackendHealth", {"loadBalancerId": "lb-1"}))
    assert "backends" not in body["response"]
    assert body["response"]["requestId"] == body["requestId"]

    emu = make_emulator(fault_scenario(scenario_dict, type="empty_backends"))
    body = body_of(signed_post(emu, "DescribeBackendHealth", {"loadBalancerId": "lb-1"}))
    assert body["response"]["backends"] == []


def test_oversized_fault(
    make_emulator: Make, signed_post: Post, scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    emu = make_emulator(fault_scenario(scenario_dict, type="oversized", bytes=100_000))
    resp = signed_post(emu, "DescribeBackendHealth", {"loadBalancerId": "lb-1"})
    assert resp.status == 200
    assert len(resp.data) >= 100_000
    assert len(body_of(resp)["response"]["backends"]) == 2


def test_latency_fault_still_answers(
    make_emulator: Make, signed_post: Post, scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    emu = make_emulator(fault_scenario(scenario_dict, type="latency", latencyMs=20))
    resp = signed_post(emu, "DescribeBackendHealth", {"loadBalancerId": "lb-1"})
    assert resp.status == 200
    assert emu.request_log[-1]["fault"] == "latency"


def test_reset_fault_closes_without_answer(
    make_emulator: Make, signed_post: Post, scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    emu = make_emulator(fault_scenario(scenario_dict, type="reset"))
    with pytest.raises(urllib3.exceptions.ProtocolError):
        signed_post(emu, "DescribeBackendHealth", {"loadBalancerId": "lb-1"})
    assert emu.request_log[-1]["status"] is None
    assert emu.request_log[-1]["fault"] == "reset"


def test_timeout_fault_outlasts_the_read_timeout(
    make_emulator: Make, signed_post: Post, scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    emu = make_emulator(fault_scenario(scenario_dict, type="timeout", seconds=30))
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        signed_post(
            emu,
            "DescribeBackendHealth",
            {"loadBalancerId": "lb-1"},
            timeout=urllib3.Timeout(connect=2, read=0.3),
        )
    # stop() (fixture teardown) releases the held request at once.


def test_count_scripts_two_throttles_then_success(
    make_emulator: Make, signed_post: Post, scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    emu = make_emulator(fault_scenario(scenario_dict, type="throttle", count=2))
    params = {"loadBalancerId": "lb-1"}
    statuses = [signed_post(emu, "DescribeBackendHealth", params).status for _ in range(3)]
    assert statuses == [429, 429, 200]
    emu.advance()  # the count is per step
    statuses = [signed_post(emu, "DescribeBackendHealth", params).status for _ in range(3)]
    assert statuses == [429, 429, 200]


def test_fault_step_range_fraction_and_scope(
    make_emulator: Make, signed_post: Post, scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    data = scenario_dict(
        faults=[
            {"type": "server_error", "loadBalancerId": "lb-1", "fromStep": 1, "toStep": 2},
            {"type": "throttle", "fraction": 0.0},
        ]
    )
    emu = make_emulator(data)
    params = {"loadBalancerId": "lb-1"}
    seen = []
    for _ in range(4):
        seen.append(signed_post(emu, "DescribeBackendHealth", params).status)
        emu.advance()
    assert seen == [200, 500, 500, 200]
    # A fault naming a load balancer never hits the account-level DescribeLoadBalancers.
    emu2 = make_emulator(scenario_dict(faults=[{"type": "server_error", "loadBalancerId": "lb-1"}]))
    assert signed_post(emu2, "DescribeLoadBalancers", {}).status == 200
    assert signed_post(emu2, "DescribeListeners", params).status == 500
    # `actions` narrows a fault to some actions.
    emu3 = make_emulator(
        scenario_dict(faults=[{"type": "throttle", "actions": ["DescribeListeners"]}])
    )
    assert signed_post(emu3, "DescribeBackendHealth", params).status == 200
    assert signed_post(emu3, "DescribeListeners", params).status == 429


# --------------------------------------------------------------------------- timeline


def test_demo_timeline(emulator: Emulator, signed_post: Post) -> None:
    def health(lb: str) -> dict[tuple[str, str], dict[str, Any]]:
        resp = signed_post(emulator, "DescribeBackendHealth", {"loadBalancerId": lb})
        assert resp.status == 200, (emulator.step, lb)
        return backends_by_key(body_of(resp)["response"]["backends"])

    truth0 = emulator.ground_truth()
    assert all(b["healthStatus"] == "Alive" for bs in truth0.values() for b in bs)

    emulator.advance()  # step 1: one port of vm-api-1 is Dead
    api = health("lb-api")[("lsn-api-tcp", "vm-api-1")]
    assert "backendPort" not in api
    assert api["healthStatus"] == "Dead"
    assert api["healthStatusDetail"] == [
        {"port": 8000, "healthStatus": "Alive"},
        {"port": 8001, "healthStatus": "Dead"},
    ]

    emulator.advance()  # step 2: vm-web-2 Dead on http only
    web = health("lb-web")
    assert web[("lsn-web-http", "vm-web-2")]["healthStatus"] == "Dead"
    assert web[("lsn-web-https", "vm-web-2")]["healthStatus"] == "Alive"

    emulator.advance()  # step 3: lb-api outage
    resp = signed_post(emulator, "DescribeBackendHealth", {"loadBalancerId": "lb-api"})
    assert resp.status == 503
    assert signed_post(emulator, "DescribeBackendHealth", {"loadBalancerId": "lb-db"}).status == 200

    emulator.advance(2)  # step 5: the lb-db listener has no healthy backend
    db = health("lb-db")
    assert {b["healthStatus"] for b in db.values()} == {"Dead"}
    assert (
        signed_post(emulator, "DescribeBackendHealth", {"loadBalancerId": "lb-api"}).status == 503
    )

    emulator.advance()  # step 6: API back
    assert health("lb-api")[("lsn-api-tcp", "vm-api-1")]["healthStatus"] == "Alive"

    emulator.advance(4)  # step 10 loops to step 0
    assert emulator.step == 10
    assert emulator.ground_truth() == truth0


def test_timeline_events(make_emulator: Make, scenario_dict: Callable[..., dict[str, Any]]) -> None:
    common = {"loadBalancerId": "lb-1", "listenerId": "lsn-1"}
    data = scenario_dict(
        timeline=[
            dict(common, step=1, action="set_health_check", enabled=False),
            dict(common, step=2, action="set_health_check", enabled=True),
            dict(
                common,
                step=2,
                action="add_backend",
                backendSpec={
                    "privateIpAddress": "10.0.0.9",
                    "ports": [81, 82],
                    "healthStatus": "Unknown",
                },
            ),
            dict(common, step=3, action="remove_backend", backend="vm-1"),
            dict(
                common,
                step=3,
                action="set_status",
                backend="10.0.0.9",
                port=82,
                healthStatus="Alive",
            ),
        ]
    )
    emu = make_emulator(data)

    def now() -> dict[str, dict[str, Any]]:
        return {b.get("instanceId") or b["privateIpAddress"]: b for b in emu.ground_truth()["lb-1"]}

    emu.advance()
    closed = now()
    assert {b["healthStatus"] for b in closed.values()} == {"Close"}
    assert all("healthStatusDetail" not in b for b in closed.values())
    emu.advance()
    added = now()["10.0.0.9"]
    assert added["healthStatus"] == "Unknown"
    assert "healthStatusDetail" not in added
    emu.advance()
    state = now()
    assert set(state) == {"vm-2", "10.0.0.9"}
    assert state["10.0.0.9"]["healthStatus"] == "Unknown"  # Alive + Unknown
    emu.advance(5)  # held at the last step
    assert now() == state


def test_step_seconds_follow_the_clock(make_emulator: Make) -> None:
    now = [1000.0]
    emu = make_emulator(step_seconds=20, clock=lambda: now[0])
    assert emu.step == 0
    now[0] += 41
    assert emu.step == 2
    emu.advance()
    assert emu.step == 3


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda d: d["loadBalancers"][0]["listeners"][0]["backends"][1].update(weight="x"),
            "loadBalancers[0].listeners[0].backends[1].weight",
        ),
        (
            lambda d: d["loadBalancers"][0]["listeners"][0]["backends"][0].pop("privateIpAddress"),
            "loadBalancers[0].listeners[0].backends[0].privateIpAddress",
        ),
        (
            lambda d: d["loadBalancers"][0]["listeners"][0].update(listenerPort="80-"),
            "loadBalancers[0].listeners[0].listenerPort",
        ),
        (
            lambda d: d["loadBalancers"][0]["listeners"][0]["backends"][0].update(
                healthStatus="alive"
            ),
            "loadBalancers[0].listeners[0].backends[0].healthStatus",
        ),
        (lambda d: d["loadBalancers"][0].update(colour="red"), "loadBalancers[0].colour"),
        (lambda d: d.update(faults=[{"type": "throttle"}, {"type": "explode"}]), "faults[1].type"),
        (
            lambda d: d.update(faults=[{"type": "throttle", "loadBalancerId": "lb-9"}]),
            "faults[0].loadBalancerId",
        ),
        (lambda d: d.update(faults=[{"type": "html", "status": 404}]), "faults[0].status"),
        (lambda d: d.update(faults=[{"type": "throttle", "fraction": 2}]), "faults[0].fraction"),
        (
            lambda d: d.update(
                timeline=[
                    {
                        "step": 1,
                        "action": "set_status",
                        "loadBalancerId": "lb-1",
                        "listenerId": "lsn-1",
                        "backend": "vm-7",
                        "healthStatus": "Dead",
                    }
                ]
            ),
            "timeline[0].backend",
        ),
        (
            lambda d: d.update(
                timeline=[
                    {
                        "step": 1,
                        "action": "set_status",
                        "loadBalancerId": "lb-1",
                        "listenerId": "lsn-1",
                        "backend": "vm-1",
                        "port": 9,
                        "healthStatus": "Dead",
                    }
                ]
            ),
            "timeline[0].port",
        ),
        (
            lambda d: d.update(
                timeline=[
                    {
                        "step": 1,
                        "action": "set_status",
                        "loadBalancerId": "lb-1",
                        "listenerId": "lsn-9",
                        "backend": "vm-1",
                        "healthStatus": "Dead",
                    }
                ]
            ),
            "timeline[0].listenerId",
        ),
        (lambda d: d.update(afterTimeline="rewind"), "afterTimeline"),
    ],
)
def test_scenario_validation_names_the_field(
    scenario_dict: Callable[..., dict[str, Any]],
    mutate: Callable[[dict[str, Any]], Any],
    field: str,
) -> None:
    data = scenario_dict()
    mutate(data)
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data)
    assert info.value.field == field
    assert field in str(info.value)


def test_load_scenario_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad\.json: not valid JSON"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.json")


def test_generate_fleet_is_stable() -> None:
    one = generate_fleet(3, 2, 4, latency_ms=5)
    two = generate_fleet(3, 2, 4, latency_ms=5)
    assert one.to_dict() == two.to_dict()
    backends = one.describe_backend_health(0, "lb-0003")
    assert len(backends) == 8
    assert backends[0]["instanceId"] == "vm-0003-01-0001"
    assert one.faults[0].type == "latency"


# --------------------------------------------------------------------------- logging and CLI


def test_log_lines_hold_no_secrets(
    make_emulator: Make, signed_post: Post, capfd: pytest.CaptureFixture[str]
) -> None:
    emu = make_emulator(log_requests=True)
    signed_post(emu, "DescribeBackendHealth", {"loadBalancerId": "lb-1"})
    signed_post(emu, "DescribeBackendHealth", {"loadBalancerId": "lb-1"}, password="wrong-pw")
    err = capfd.readouterr().err
    assert "200 DescribeBackendHealth lb-1" in err
    assert "401 DescribeBackendHealth" in err
    assert DEMO_ACCESS_KEY_PASSWORD not in err
    assert "wrong-pw" not in err
    assert "Signature" not in err
    assert "10.0.0.1" not in err  # no bodies either


def test_credentials_from_env() -> None:
    creds, demo = credentials_from_env({})
    assert demo
    assert creds[0] == AccessKey("demo-access-key", DEMO_ACCESS_KEY_PASSWORD)
    creds, demo = credentials_from_env(
        {
            "ZENLAYER_ACCESS_KEY_ID": "ak",
            "ZENLAYER_ACCESS_KEY_PASSWORD": "pw",
            "ZENLAYER_API_TOKEN": "t",
        }
    )
    assert not demo
    assert creds == [AccessKey("ak", "pw"), BearerToken("t")]


def test_run_emulator_prints_url_and_key_id_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_ID", "my-key-id")
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_PASSWORD", "my-very-secret")
    monkeypatch.delenv("ZENLAYER_API_TOKEN", raising=False)

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("zlb_health_tools.emulator.server.time.sleep", interrupt)
    args = argparse.Namespace(port=0, host="127.0.0.1", scenario=None, step_seconds=20.0)
    assert run_emulator(args) == 0
    out = capsys.readouterr()
    assert "http://127.0.0.1:" in out.out
    assert "my-key-id" in out.out
    assert "my-very-secret" not in out.out + out.err


def test_run_emulator_rejects_a_bad_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    path = tmp_path / "s.json"
    path.write_text(json.dumps({"loadBalancers": []}), encoding="utf-8")
    args = argparse.Namespace(port=0, host="127.0.0.1", scenario=str(path), step_seconds=0.0)
    assert run_emulator(args) == 2
    assert "loadBalancers" in capsys.readouterr().err


def test_documented_example_scenario_is_valid() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"
    text = doc.read_text(encoding="utf-8")
    block = text.split("```json\n", 1)[1].split("```", 1)[0]
    scenario = Scenario.from_dict(json.loads(block))
    assert scenario.steps == 6
    backends = scenario.describe_backend_health(2, "lb-1")
    assert backends[0]["healthStatusDetail"][1] == {"port": 8001, "healthStatus": "Dead"}
    assert {b["healthStatus"] for b in scenario.describe_backend_health(4, "lb-1")} == {"Close"}
