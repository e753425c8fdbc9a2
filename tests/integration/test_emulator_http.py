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
    FleetLookupError,
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

    emulator.advance(4)  # step 10: the maintenance scene, vm-web-1 Dead on http
    web = health("lb-web")
    assert web[("lsn-web-http", "vm-web-1")]["healthStatus"] == "Dead"
    assert web[("lsn-web-https", "vm-web-1")]["healthStatus"] == "Alive"

    emulator.advance(7)  # step 17 loops to step 0
    assert emulator.step == 17
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


# --------------------------------------------------------------------------- fleet shapes


def two_listener_scenario(**top: Any) -> dict[str, Any]:
    """lb-1 with lsn-a (vm-1, vm-2 on backendPort 8080) and lsn-b (vm-3 following port 81)."""
    data: dict[str, Any] = {
        "loadBalancers": [
            {
                "loadBalancerId": "lb-1",
                "listeners": [
                    {
                        "listenerId": "lsn-a",
                        "listenerPort": "80",
                        "backends": [
                            {
                                "instanceId": "vm-1",
                                "privateIpAddress": "10.0.0.1",
                                "backendPort": 8080,
                            },
                            {
                                "instanceId": "vm-2",
                                "privateIpAddress": "10.0.0.2",
                                "backendPort": 8080,
                            },
                        ],
                    },
                    {
                        "listenerId": "lsn-b",
                        "listenerPort": "81",
                        "backends": [{"instanceId": "vm-3", "privateIpAddress": "10.0.0.3"}],
                    },
                ],
            }
        ]
    }
    data.update(top)
    return data


def health(post: Post, emu: Emulator, lb_id: str, listener_id: str | None = None) -> Any:
    """The HTTP answer of DescribeBackendHealth: its rows on 200, else (status, code)."""
    params = {"loadBalancerId": lb_id}
    if listener_id is not None:
        params["listenerId"] = listener_id
    resp = post(emu, "DescribeBackendHealth", params)
    if resp.status != 200:
        return resp.status, body_of(resp)["code"]
    return body_of(resp)["response"]["backends"]


def detail(row: dict[str, Any]) -> list[tuple[int, str]]:
    return [(d["port"], d["healthStatus"]) for d in row.get("healthStatusDetail", [])]


def test_set_ports_renumbers_adds_and_drops_ports(make_emulator: Make, signed_post: Post) -> None:
    at = {"loadBalancerId": "lb-1", "listenerId": "lsn-a", "action": "set_ports"}
    data = two_listener_scenario(
        timeline=[
            dict(at, step=1, backend="vm-1", ports=[9090]),  # renumbered 8080 -> 9090
            dict(at, step=2, backend="vm-1", ports=[9090, 9091]),  # 9091 appears: Alive
            {
                "step": 3,
                "action": "set_status",
                "loadBalancerId": "lb-1",
                "listenerId": "lsn-a",
                "backend": "vm-1",
                "port": 9090,
                "healthStatus": "Dead",
            },
            dict(at, step=4, backend="vm-1", ports=[9091, 9092], healthStatus="Unknown"),
            dict(at, step=5, backend="vm-1", ports=[9093]),  # mixed before: the new port Alive
            {
                "step": 1,
                "action": "set_status",
                "loadBalancerId": "lb-1",
                "listenerId": "lsn-a",
                "backend": "vm-2",
                "healthStatus": "Dead",
            },
            dict(at, step=2, backend="vm-2", ports=[80, 8080]),  # 80 takes the common Dead
        ]
    )
    emu = make_emulator(data)
    expected = [
        [(8080, "Alive")],
        [(9090, "Alive")],
        [(9090, "Alive"), (9091, "Alive")],
        [(9090, "Dead"), (9091, "Alive")],
        [],  # Alive + Unknown: the backend reports Unknown, without detail
        [(9093, "Alive")],
    ]
    for step, ports in enumerate(expected):
        rows = health(signed_post, emu, "lb-1", "lsn-a")
        assert detail(rows[0]) == ports, step
        assert rows[0]["backendPort"] == 8080  # the backend itself is not renumbered
        assert rows == emu.ground_truth_for("lb-1", "lsn-a")
        if step == 4:
            assert rows[0]["healthStatus"] == "Unknown"
            state = emu.scenario.fleet_at(4)[0].listeners[0].backends[0].port_status
            assert state == {9091: "Alive", 9092: "Unknown"}
        if step == 2:
            assert detail(rows[1]) == [(80, "Dead"), (8080, "Dead")]
        emu.advance()


def test_add_and_remove_load_balancers(make_emulator: Make, signed_post: Post) -> None:
    spec = {
        "loadBalancerId": "lb-2",
        "loadBalancerName": "late",
        "listeners": [
            {
                "listenerId": "lsn-2",
                "listenerPort": "443",
                "backends": [{"instanceId": "vm-9", "privateIpAddress": "10.0.9.9"}],
            }
        ],
    }
    data = two_listener_scenario(
        timeline=[
            {"step": 1, "action": "add_load_balancer", "loadBalancerSpec": spec},
            {"step": 2, "action": "remove_load_balancer", "loadBalancerId": "lb-1"},
            {
                "step": 3,
                "action": "add_load_balancer",
                "loadBalancerId": "lb-1",
                "loadBalancerSpec": {"loadBalancerId": "lb-1", "loadBalancerName": "back"},
            },
        ],
        faults=[{"type": "throttle", "loadBalancerId": "lb-2", "fromStep": 4}],
    )
    emu = make_emulator(data)

    def listed() -> list[str]:
        resp = signed_post(emu, "DescribeLoadBalancers", {})
        return [lb["loadBalancerId"] for lb in body_of(resp)["response"]["dataSet"]]

    assert listed() == emu.load_balancer_ids() == ["lb-1"]
    emu.advance()
    assert listed() == emu.load_balancer_ids() == ["lb-1", "lb-2"]
    rows = health(signed_post, emu, "lb-2")
    assert [r["instanceId"] for r in rows] == ["vm-9"]
    assert emu.ground_truth() == {"lb-1": health(signed_post, emu, "lb-1"), "lb-2": rows}

    emu.advance()  # step 2: lb-1 removed
    assert listed() == emu.load_balancer_ids() == ["lb-2"]
    not_found = (404, "INVALID_LOAD_BALANCER_NOT_FOUND")
    assert health(signed_post, emu, "lb-1") == not_found
    assert health(signed_post, emu, "lb-1", "lsn-a") == not_found
    resp = signed_post(emu, "DescribeListeners", {"loadBalancerId": "lb-1"})
    assert (resp.status, body_of(resp)["code"]) == not_found
    assert set(emu.ground_truth()) == {"lb-2"}
    with pytest.raises(FleetLookupError) as info:
        emu.ground_truth_for("lb-1")
    assert info.value.code == "INVALID_LOAD_BALANCER_NOT_FOUND"
    assert "'lb-1' not found at step 2" in str(info.value)

    emu.advance()  # step 3: lb-1 is back, last in the list, with no listener
    assert listed() == emu.load_balancer_ids() == ["lb-2", "lb-1"]
    assert health(signed_post, emu, "lb-1") == []
    assert health(signed_post, emu, "lb-1", "lsn-a") == (404, "INVALID_LISTENER_NOT_FOUND")
    emu.advance()  # a fault may name a load balancer only the timeline adds
    assert health(signed_post, emu, "lb-2") == (429, "REQUEST_LIMIT_EXCEEDED")
    assert emu.ground_truth()["lb-2"] == rows  # faults never show in the ground truth


def test_add_and_remove_listeners(make_emulator: Make, signed_post: Post) -> None:
    data = two_listener_scenario(
        timeline=[
            {
                "step": 1,
                "action": "add_listener",
                "loadBalancerId": "lb-1",
                "listenerSpec": {
                    "listenerId": "lsn-c",
                    "listenerPort": "8000-8001",
                    "healthCheck": {"enabled": False},
                    "backends": [{"privateIpAddress": "10.0.0.7"}],
                },
            },
            {
                "step": 2,
                "action": "remove_listener",
                "loadBalancerId": "lb-1",
                "listenerId": "lsn-a",
            },
        ]
    )
    emu = make_emulator(data)

    def listener_ids() -> list[str]:
        resp = signed_post(emu, "DescribeListeners", {"loadBalancerId": "lb-1"})
        return [lsn["listenerId"] for lsn in body_of(resp)["response"]["listeners"]]

    emu.advance()
    assert listener_ids() == ["lsn-a", "lsn-b", "lsn-c"]
    added = health(signed_post, emu, "lb-1", "lsn-c")
    assert added == [
        {
            "listenerId": "lsn-c",
            "listenerName": "lsn-c",
            "protocol": "TCP",
            "listenerPort": "8000-8001",
            "privateIpAddress": "10.0.0.7",
            "weight": 100,
            "healthStatus": "Close",
        }
    ]
    emu.advance()  # lsn-a removed
    assert listener_ids() == ["lsn-b", "lsn-c"]
    assert health(signed_post, emu, "lb-1", "lsn-a") == (404, "INVALID_LISTENER_NOT_FOUND")
    rows = health(signed_post, emu, "lb-1")
    assert [(r["listenerId"], r.get("instanceId")) for r in rows] == [
        ("lsn-b", "vm-3"),
        ("lsn-c", None),
    ]
    assert emu.ground_truth() == {"lb-1": rows}
    with pytest.raises(LookupError, match="listener 'lsn-a' not found at step 2"):
        emu.ground_truth_for("lb-1", "lsn-a")


def test_one_instance_with_two_ips_on_one_listener(
    make_emulator: Make, signed_post: Post, scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    backends = [
        {"instanceId": "vm-1", "privateIpAddress": "10.0.0.1", "backendPort": 8080},
        {"instanceId": "vm-1", "privateIpAddress": "10.0.0.2", "backendPort": 8080},
        {"privateIpAddress": "10.0.0.1", "backendPort": 8080},  # IP-only beside vm-1's IP
    ]
    at = {"step": 1, "loadBalancerId": "lb-1", "listenerId": "lsn-1", "action": "set_status"}
    data = scenario_dict(
        timeline=[
            dict(at, backend="vm-1@10.0.0.2", healthStatus="Dead"),
            dict(at, backend="@10.0.0.1", healthStatus="Unknown"),
            dict(at, backend="10.0.0.2", backendPort=8080, healthStatus="Dead"),
        ]
    )
    data["loadBalancers"][0]["listeners"][0]["backends"] = backends
    emu = make_emulator(data)
    rows = health(signed_post, emu, "lb-1")
    assert [(r.get("instanceId"), r["privateIpAddress"]) for r in rows] == [
        ("vm-1", "10.0.0.1"),
        ("vm-1", "10.0.0.2"),
        (None, "10.0.0.1"),
    ]
    emu.advance()
    assert [r["healthStatus"] for r in health(signed_post, emu, "lb-1")] == [
        "Alive",
        "Dead",
        "Unknown",
    ]
    resp = signed_post(emu, "DescribeLoadBalancers", {})
    assert body_of(resp)["response"]["dataSet"][0]["backendServerCount"] == 2  # vm-1, 10.0.0.1


@pytest.mark.parametrize(
    ("backends", "event", "message"),
    [
        (
            [
                {"instanceId": "vm-1", "privateIpAddress": "10.0.0.1", "backendPort": 8080},
                {"instanceId": "vm-1", "privateIpAddress": "10.0.0.2", "backendPort": 8080},
            ],
            {"backend": "vm-1"},
            "'vm-1' is ambiguous in listener 'lsn-1' at step 1: it matches "
            "vm-1@10.0.0.1 backendPort 8080, vm-1@10.0.0.2 backendPort 8080; "
            "name it as 'instanceId@privateIpAddress'",
        ),
        (
            [
                {"instanceId": "vm-1", "privateIpAddress": "10.0.0.1", "backendPort": 8080},
                {"privateIpAddress": "10.0.0.1", "backendPort": 8080},
            ],
            {"backend": "10.0.0.1", "backendPort": 8080},
            "matches vm-1@10.0.0.1 backendPort 8080, @10.0.0.1 backendPort 8080; name it as "
            "'instanceId@privateIpAddress' ('@ip' for an IP-only backend)",
        ),
        (
            [
                {"instanceId": "vm-1", "privateIpAddress": "10.0.0.1", "backendPort": 8080},
                {"instanceId": "vm-1", "privateIpAddress": "10.0.0.1", "backendPort": 9090},
            ],
            {"backend": "vm-1@10.0.0.1"},
            "backendPort 8080, vm-1@10.0.0.1 backendPort 9090; add 'backendPort'",
        ),
        (
            [{"instanceId": "vm-1", "privateIpAddress": "10.0.0.1", "backendPort": 8080}],
            {"backend": "vm-1@10.0.0.9"},
            "no backend 'vm-1@10.0.0.9' in listener 'lsn-1' at step 1",
        ),
    ],
)
def test_ambiguous_backend_references_say_what_is_ambiguous(
    scenario_dict: Callable[..., dict[str, Any]],
    backends: list[dict[str, Any]],
    event: dict[str, Any],
    message: str,
) -> None:
    data = scenario_dict(
        timeline=[
            dict(
                event,
                step=1,
                action="remove_backend",
                loadBalancerId="lb-1",
                listenerId="lsn-1",
            )
        ]
    )
    data["loadBalancers"][0]["listeners"][0]["backends"] = backends
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data)
    assert info.value.field == "timeline[0].backend"
    assert message in str(info.value)


def test_same_instance_ip_and_port_twice_is_refused(
    scenario_dict: Callable[..., dict[str, Any]],
) -> None:
    data = scenario_dict()
    backends = data["loadBalancers"][0]["listeners"][0]["backends"]
    backends.append(dict(backends[0], weight=5))
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data)
    assert info.value.field == "loadBalancers[0].listeners[0].backends[2]"
    assert "duplicate backend vm-1@10.0.0.1 backendPort 8080" in str(info.value)


# --------------------------------------------------------------------------- listener + row faults


def test_listener_scoped_faults(make_emulator: Make, signed_post: Post) -> None:
    data = two_listener_scenario(
        steps=3,
        faults=[
            {"type": "not_found", "loadBalancerId": "lb-1", "listenerId": "lsn-b", "toStep": 0},
            {
                "type": "server_error",
                "status": 503,
                "loadBalancerId": "lb-1",
                "listenerId": "lsn-b",
                "fromStep": 1,
                "toStep": 1,
            },
        ],
    )
    emu = make_emulator(data)
    truth_a = emu.ground_truth_for("lb-1", "lsn-a")
    for fault, failure in (
        ("not_found", (404, "INVALID_LISTENER_NOT_FOUND")),
        ("server_error", (503, "SERVICE_UNAVAILABLE")),
    ):
        assert health(signed_post, emu, "lb-1", "lsn-b") == failure
        assert emu.request_log[-1]["listenerId"] == "lsn-b"
        assert emu.request_log[-1]["fault"] == fault
        assert health(signed_post, emu, "lb-1", "lsn-a") == truth_a
        # Requests without that listenerId are unaffected.
        assert health(signed_post, emu, "lb-1") == emu.ground_truth()["lb-1"]
        listeners = {"loadBalancerId": "lb-1", "listenerIds": ["lsn-b"]}
        assert signed_post(emu, "DescribeListeners", listeners).status == 200
        emu.advance()
    assert len(health(signed_post, emu, "lb-1", "lsn-b")) == 1


def test_bad_rows_fault_appends_defective_rows(make_emulator: Make, signed_post: Post) -> None:
    data = two_listener_scenario(faults=[{"type": "bad_rows", "loadBalancerId": "lb-1"}])
    emu = make_emulator(data)
    truth = emu.ground_truth()["lb-1"]
    rows = health(signed_post, emu, "lb-1")
    assert emu.request_log[-1]["fault"] == "bad_rows"
    assert rows[: len(truth)] == truth  # the real rows: intact, first, in order
    no_identity, no_status, no_listener, not_object, bad_detail = rows[len(truth) :]
    first = truth[0]
    assert no_identity == {
        k: v for k, v in first.items() if k not in ("instanceId", "privateIpAddress")
    }
    assert no_status == {k: v for k, v in first.items() if k != "healthStatus"}
    assert no_listener == {k: v for k, v in first.items() if k != "listenerId"}
    assert isinstance(not_object, str)
    assert bad_detail == dict(first, healthStatusDetail=[{"healthStatus": "Alive"}])
    # A chosen subset, in the order given; DescribeListeners is never altered.
    emu2 = make_emulator(
        two_listener_scenario(faults=[{"type": "bad_rows", "rows": ["not_object", "no_status"]}])
    )
    rows = health(signed_post, emu2, "lb-1", "lsn-b")
    assert rows[0] == emu2.ground_truth_for("lb-1", "lsn-b")[0]
    assert rows[1] == "emulator: not a backend object"
    assert rows[2] == {k: v for k, v in rows[0].items() if k != "healthStatus"}
    assert len(rows) == 3
    resp = signed_post(emu2, "DescribeListeners", {"loadBalancerId": "lb-1"})
    assert len(body_of(resp)["response"]["listeners"]) == 2


def test_bad_rows_without_real_rows_invent_an_identity(
    make_emulator: Make, signed_post: Post
) -> None:
    data = two_listener_scenario(faults=[{"type": "bad_rows", "rows": ["no_status", "bad_detail"]}])
    data["loadBalancers"][0]["listeners"][1]["backends"] = []
    emu = make_emulator(data)
    rows = health(signed_post, emu, "lb-1", "lsn-b")
    assert rows == [
        {
            "listenerId": "lsn-b",
            "listenerName": "lsn-b",
            "protocol": "TCP",
            "listenerPort": "81",
            "instanceId": "vm-emulator-invented",
            "privateIpAddress": "192.0.2.1",
            "weight": 100,
            "healthStatusDetail": [{"port": 81, "healthStatus": "Alive"}],
        },
        {
            "listenerId": "lsn-b",
            "listenerName": "lsn-b",
            "protocol": "TCP",
            "listenerPort": "81",
            "instanceId": "vm-emulator-invented",
            "privateIpAddress": "192.0.2.1",
            "weight": 100,
            "healthStatus": "Alive",
            "healthStatusDetail": [{"healthStatus": "Alive"}],
        },
    ]
    assert emu.ground_truth_for("lb-1", "lsn-b") == []
    # A load balancer without listeners: the invented row names an invented listener.
    bare = {"loadBalancers": [{"loadBalancerId": "lb-1"}], "faults": [{"type": "bad_rows"}]}
    rows = health(signed_post, make_emulator(bare), "lb-1")
    assert rows[1]["listenerId"] == "lsn-emulator-invented"
    assert rows[1]["privateIpAddress"] == "192.0.2.1"
    assert "healthStatus" not in rows[1]


def test_duplicate_rows_fault(make_emulator: Make, signed_post: Post) -> None:
    emu = make_emulator(two_listener_scenario(faults=[{"type": "duplicate_rows"}]))
    truth = emu.ground_truth()["lb-1"]
    rows = health(signed_post, emu, "lb-1")
    assert rows[:3] == truth
    assert len(rows) == 6
    for real, dup in zip(truth, rows[3:], strict=True):
        assert dup == dict(
            real,
            healthStatus="Dead",
            healthStatusDetail=[
                {"port": d["port"], "healthStatus": "Dead"} for d in real["healthStatusDetail"]
            ],
        )
    emu2 = make_emulator(
        two_listener_scenario(
            faults=[{"type": "duplicate_rows", "rows": 1, "healthStatus": "Close"}]
        )
    )
    rows = health(signed_post, emu2, "lb-1", "lsn-a")
    assert [(r["instanceId"], r["healthStatus"]) for r in rows] == [
        ("vm-1", "Alive"),
        ("vm-2", "Alive"),
        ("vm-1", "Close"),
    ]
    assert rows[2]["healthStatusDetail"] == [{"port": 8080, "healthStatus": "Close"}]
    assert emu2.ground_truth_for("lb-1", "lsn-a") == rows[:2]


# --------------------------------------------------------------------------- shape validation


def _event(**fields: Any) -> dict[str, Any]:
    return dict({"step": 1, "loadBalancerId": "lb-1", "listenerId": "lsn-a"}, **fields)


@pytest.mark.parametrize(
    ("top", "field", "message"),
    [
        # set_ports
        (
            {"timeline": [_event(action="set_ports", backend="vm-1", ports=[])]},
            "timeline[0].ports",
            "at least one port",
        ),
        (
            {"timeline": [_event(action="set_ports", backend="vm-1", ports=[80, 80])]},
            "timeline[0].ports[1]",
            "duplicate port 80",
        ),
        (
            {"timeline": [_event(action="set_ports", backend="vm-1", ports=[0])]},
            "timeline[0].ports[0]",
            "1-65535",
        ),
        (
            {"timeline": [_event(action="set_ports", backend="vm-1")]},
            "timeline[0].ports",
            "required field is missing (set_ports)",
        ),
        (
            {"timeline": [_event(action="set_ports", backend="vm-1", ports=[80], port=80)]},
            "timeline[0].port",
            "not used by action 'set_ports'",
        ),
        (
            {
                "timeline": [
                    _event(action="set_ports", backend="vm-1", ports=[80], healthStatus="Close")
                ]
            },
            "timeline[0].healthStatus",
            "expected one of",
        ),
        (
            {"timeline": [_event(action="set_ports", backend="vm-9", ports=[80])]},
            "timeline[0].backend",
            "no backend 'vm-9'",
        ),
        # an event field the action does not use
        (
            {"timeline": [_event(action="set_health_check", enabled=False, backend="vm-1")]},
            "timeline[0].backend",
            "not used by action 'set_health_check'",
        ),
        # add_load_balancer / remove_load_balancer
        (
            {
                "timeline": [
                    {
                        "step": 1,
                        "action": "add_load_balancer",
                        "loadBalancerSpec": {"loadBalancerId": "lb-1"},
                    }
                ]
            },
            "timeline[0].loadBalancerSpec.loadBalancerId",
            "'lb-1' already exists at step 1",
        ),
        (
            {
                "timeline": [
                    {
                        "step": 1,
                        "action": "add_load_balancer",
                        "loadBalancerSpec": {
                            "loadBalancerId": "lb-2",
                            "listeners": [
                                {
                                    "listenerId": "l",
                                    "listenerPort": "80",
                                    "backends": [{"privateIpAddress": "10.0.0.1", "weight": -1}],
                                }
                            ],
                        },
                    }
                ]
            },
            "timeline[0].loadBalancerSpec.listeners[0].backends[0].weight",
            "between 0 and 10000",
        ),
        (
            {
                "timeline": [
                    {
                        "step": 1,
                        "action": "add_load_balancer",
                        "loadBalancerId": "lb-3",
                        "loadBalancerSpec": {"loadBalancerId": "lb-2"},
                    }
                ]
            },
            "timeline[0].loadBalancerId",
            "differs from loadBalancerSpec.loadBalancerId 'lb-2'",
        ),
        (
            {"timeline": [{"step": 1, "action": "add_load_balancer"}]},
            "timeline[0].loadBalancerSpec",
            "required field is missing",
        ),
        (
            {"timeline": [{"step": 1, "action": "remove_load_balancer", "loadBalancerId": "lb-9"}]},
            "timeline[0].loadBalancerId",
            "no load balancer 'lb-9' at step 1",
        ),
        (
            {
                "timeline": [
                    {"step": 1, "action": "remove_load_balancer", "loadBalancerId": "lb-1"},
                    {"step": 2, "action": "remove_load_balancer", "loadBalancerId": "lb-1"},
                ]
            },
            "timeline[1].loadBalancerId",
            "no load balancer 'lb-1' at step 2",
        ),
        (
            {"timeline": [_event(action="remove_load_balancer")]},
            "timeline[0].listenerId",
            "not used by action 'remove_load_balancer'",
        ),
        (
            {
                "timeline": [
                    {"step": 1, "action": "remove_load_balancer", "loadBalancerId": "lb-1"},
                    _event(step=2, action="set_health_check", enabled=False),
                ]
            },
            "timeline[1].loadBalancerId",
            "no load balancer 'lb-1' at step 2",
        ),
        # add_listener / remove_listener
        (
            {
                "timeline": [
                    {
                        "step": 1,
                        "action": "add_listener",
                        "loadBalancerId": "lb-1",
                        "listenerSpec": {"listenerId": "lsn-b", "listenerPort": "82"},
                    }
                ]
            },
            "timeline[0].listenerSpec.listenerId",
            "'lsn-b' already exists in 'lb-1' at step 1",
        ),
        (
            {
                "timeline": [
                    {
                        "step": 1,
                        "action": "add_listener",
                        "loadBalancerId": "lb-1",
                        "listenerSpec": {"listenerId": "lsn-c"},
                    }
                ]
            },
            "timeline[0].listenerSpec.listenerPort",
            "required field is missing",
        ),
        (
            {"timeline": [{"step": 1, "action": "remove_listener", "loadBalancerId": "lb-1"}]},
            "timeline[0].listenerId",
            "required field is missing (remove_listener)",
        ),
        (
            {"timeline": [_event(action="remove_listener", listenerId="lsn-z")]},
            "timeline[0].listenerId",
            "no listener 'lsn-z' in 'lb-1' at step 1",
        ),
        (
            {
                "timeline": [
                    _event(action="remove_listener"),
                    _event(step=2, action="set_status", backend="vm-1", healthStatus="Dead"),
                ]
            },
            "timeline[1].listenerId",
            "no listener 'lsn-a' in 'lb-1' at step 2",
        ),
        # listener-scoped faults
        (
            {"faults": [{"type": "throttle", "listenerId": "lsn-a"}]},
            "faults[0].listenerId",
            "needs its loadBalancerId",
        ),
        (
            {"faults": [{"type": "throttle", "loadBalancerId": "lb-1", "listenerId": "lsn-z"}]},
            "faults[0].listenerId",
            "no listener 'lsn-z' in 'lb-1' at any step",
        ),
        (
            {
                "faults": [
                    {
                        "type": "throttle",
                        "loadBalancerId": "lb-1",
                        "listenerId": "lsn-a",
                        "actions": ["DescribeBackendHealth", "DescribeListeners"],
                    }
                ]
            },
            "faults[0].actions[1]",
            "a fault with a listenerId applies to DescribeBackendHealth only",
        ),
        # bad_rows / duplicate_rows
        (
            {"faults": [{"type": "bad_rows", "rows": []}]},
            "faults[0].rows",
            "expected at least one of",
        ),
        (
            {"faults": [{"type": "bad_rows", "rows": ["no_status", "nope"]}]},
            "faults[0].rows[1]",
            "expected one of ['no_identity'",
        ),
        (
            {"faults": [{"type": "bad_rows", "rows": ["no_status", "no_status"]}]},
            "faults[0].rows[1]",
            "duplicate row kind 'no_status'",
        ),
        ({"faults": [{"type": "bad_rows", "rows": 2}]}, "faults[0].rows", "expected a list"),
        (
            {"faults": [{"type": "bad_rows", "healthStatus": "Dead"}]},
            "faults[0].healthStatus",
            "not used by fault type 'bad_rows'",
        ),
        (
            {"faults": [{"type": "bad_rows", "actions": ["DescribeListeners"]}]},
            "faults[0].actions[0]",
            "fault type 'bad_rows' applies to DescribeBackendHealth only",
        ),
        (
            {"faults": [{"type": "duplicate_rows", "rows": 0}]},
            "faults[0].rows",
            "expected an integer >= 1",
        ),
        (
            {"faults": [{"type": "duplicate_rows", "rows": ["no_status"]}]},
            "faults[0].rows",
            "expected an integer",
        ),
        (
            {"faults": [{"type": "duplicate_rows", "healthStatus": "dead"}]},
            "faults[0].healthStatus",
            "expected one of ['Alive', 'Dead', 'Unknown', 'Close']",
        ),
        (
            {"faults": [{"type": "throttle", "rows": 1}]},
            "faults[0].rows",
            "not used by fault type 'throttle'",
        ),
        (
            {"faults": [{"type": "throttle", "latencyMs": 5}]},
            "faults[0].latencyMs",
            "not used by fault type 'throttle'",
        ),
    ],
)
def test_shape_validation_names_the_field(top: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(two_listener_scenario(**top))
    assert info.value.field == field
    assert f"{field}: " in str(info.value)
    assert message in str(info.value)


def test_shapes_added_by_the_timeline_can_be_named_later() -> None:
    """Faults and events may name load balancers and listeners that only the timeline adds."""
    data = two_listener_scenario(
        timeline=[
            {
                "step": 1,
                "action": "add_load_balancer",
                "loadBalancerSpec": {"loadBalancerId": "lb-2"},
            },
            {
                "step": 2,
                "action": "add_listener",
                "loadBalancerId": "lb-2",
                "listenerId": "lsn-x",
                "listenerSpec": {"listenerId": "lsn-x", "listenerPort": "80"},
            },
            {
                "step": 3,
                "action": "add_backend",
                "loadBalancerId": "lb-2",
                "listenerId": "lsn-x",
                "backendSpec": {"privateIpAddress": "10.0.0.5"},
            },
        ],
        faults=[{"type": "not_found", "loadBalancerId": "lb-2", "listenerId": "lsn-x"}],
    )
    scenario = Scenario.from_dict(data)
    assert scenario.load_balancer_ids == ["lb-1"]
    assert scenario.load_balancer_ids_at(1) == ["lb-1", "lb-2"]
    assert [b["privateIpAddress"] for b in scenario.describe_backend_health(3, "lb-2")] == [
        "10.0.0.5"
    ]
    # The spec in the scenario is not shared with the states built from it.
    assert scenario.describe_backend_health(1, "lb-2") == []


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


def test_documented_shapes_example_does_what_the_doc_says(
    make_emulator: Make, signed_post: Post
) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"
    blocks = doc.read_text(encoding="utf-8").split("```json\n")[1:]
    assert len(blocks) == 2
    emu = make_emulator(json.loads(blocks[1].split("```", 1)[0]))
    assert health(signed_post, emu, "lb-1", "lsn-b") == (503, "SERVICE_UNAVAILABLE")
    emu.advance()  # step 1: vm-1's second IP renumbered 80 -> 8080
    rows = health(signed_post, emu, "lb-1", "lsn-a")
    assert [detail(r) for r in rows] == [[(80, "Alive")], [(8080, "Alive")]]
    emu.advance()  # step 2: lsn-c added, two defective rows after the real ones
    rows = health(signed_post, emu, "lb-1")
    assert rows[:4] == emu.ground_truth()["lb-1"]
    assert "healthStatus" not in rows[4]
    assert isinstance(rows[5], str)
    emu.advance()  # step 3: lsn-b gone, the first row doubled as Dead
    rows = health(signed_post, emu, "lb-1")
    assert [(r["listenerId"], r["healthStatus"]) for r in rows] == [
        ("lsn-a", "Alive"),
        ("lsn-a", "Alive"),
        ("lsn-c", "Dead"),
        ("lsn-a", "Dead"),
    ]
    emu.advance()
    assert emu.load_balancer_ids() == ["lb-1", "lb-2"]
    emu.advance()
    assert emu.load_balancer_ids() == ["lb-1"]
