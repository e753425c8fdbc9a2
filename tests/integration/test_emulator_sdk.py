"""The official SDK (zenlayercloud-sdk-python) against the emulator.

The SDK signs, the emulator verifies (signatures agree); the emulator answers, the SDK's own
models parse (payloads agree). The SDK speaks plain http when `Config(scheme="http")` and
`domain="127.0.0.1:<port>"`: it sends that domain as the Host header and signs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from zenlayercloud.common.config import Config
from zenlayercloud.common.credential import Credential, TokenCredential
from zenlayercloud.common.excpetion.zenlayer_cloud_sdk_exception import (
    ZenlayerCloudSdkException,
)
from zenlayercloud.zlb.v20250401 import models
from zenlayercloud.zlb.v20250401.zlb_client import ZlbClient

from zlb_health_tools.emulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_PASSWORD,
    DEMO_TOKEN,
    Emulator,
    Scenario,
)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


def sdk_client(emu: Emulator, credential: Any = None, **config: Any) -> ZlbClient:
    cred = credential or Credential(DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_PASSWORD)
    domain = emu.url.split("://", 1)[1]
    return ZlbClient(cred, Config(scheme="http", domain=domain, request_timeout=10, **config))


def without_none(value: Any) -> Any:
    """The SDK model's serialize() keeps absent optional fields as None: drop them to compare."""
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value


def test_describe_backend_health_payloads_agree(emulator: Emulator) -> None:
    client = sdk_client(emulator)
    emulator.advance()  # step 1: per-port detail on lb-api
    for lb_id in ("lb-web", "lb-api", "lb-db"):
        request = models.DescribeBackendHealthRequest()
        request.loadBalancerId = lb_id
        response = client.DescribeBackendHealth(request)
        assert isinstance(response, models.DescribeBackendHealthResponse)
        assert response.requestId
        parsed = [without_none(b.serialize(allow_none=True)) for b in response.backends]
        assert parsed == emulator.ground_truth()[lb_id]

    request = models.DescribeBackendHealthRequest()
    request.loadBalancerId = "lb-api"
    request.listenerId = "lsn-api-tcp"
    vm1 = client.DescribeBackendHealth(request).backends[0]
    assert vm1.instanceId == "vm-api-1"
    assert vm1.healthStatus == "Dead"
    assert vm1.backendPort is None
    assert [(d.port, d.healthStatus) for d in vm1.healthStatusDetail] == [
        (8000, "Alive"),
        (8001, "Dead"),
    ]


def test_describe_load_balancers_and_listeners_payloads_agree(emulator: Emulator) -> None:
    client = sdk_client(emulator)
    request = models.DescribeLoadBalancersRequest()
    request.pageSize = 2
    request.pageNum = 2
    page = client.DescribeLoadBalancers(request)
    assert page.totalCount == 3
    assert [lb.loadBalancerId for lb in page.dataSet] == ["lb-db"]
    lb = page.dataSet[0]
    assert (lb.loadBalancerName, lb.regionId, lb.status) == ("db-proxy", "asia-east-1", "Running")
    assert (lb.listenerCount, lb.backendServerCount) == (1, 3)

    request_l = models.DescribeListenersRequest()
    request_l.loadBalancerId = "lb-api"
    listeners = client.DescribeListeners(request_l).listeners
    assert len(listeners) == 1
    lsn = listeners[0]
    assert (lsn.listenerId, lsn.protocol, lsn.port) == ("lsn-api-tcp", "TCP", "8000-8001")
    hc = lsn.healthCheck
    assert (hc.enabled, hc.checkType, hc.checkDelayLoop, hc.checkRetry, hc.failOpen) == (
        True,
        "TCP_CHECK",
        3,
        2,
        False,
    )


def test_sdk_signatures_are_verified(emulator: Emulator) -> None:
    # Every SDK call above and here passes the emulator's ZC2-HMAC-SHA256 check.
    client = sdk_client(emulator)
    request = models.DescribeBackendHealthRequest()
    request.loadBalancerId = "lb-db"
    client.DescribeBackendHealth(request)
    assert emulator.request_log[-1]["status"] == 200


def test_wrong_password_is_refused(emulator: Emulator) -> None:
    client = sdk_client(emulator, Credential(DEMO_ACCESS_KEY_ID, "wrong-password"))
    request = models.DescribeBackendHealthRequest()
    request.loadBalancerId = "lb-web"
    with pytest.raises(ZenlayerCloudSdkException) as info:
        client.DescribeBackendHealth(request)
    assert info.value.code == "SIGNATURE_FAILURE"
    assert info.value.request_id
    assert emulator.request_log[-1]["status"] == 401


def test_unknown_load_balancer_surfaces_the_code(emulator: Emulator) -> None:
    request = models.DescribeBackendHealthRequest()
    request.loadBalancerId = "lb-missing"
    with pytest.raises(ZenlayerCloudSdkException) as info:
        sdk_client(emulator).DescribeBackendHealth(request)
    assert info.value.code == "INVALID_LOAD_BALANCER_NOT_FOUND"


def test_token_credential(emulator: Emulator) -> None:
    client = sdk_client(emulator, TokenCredential(DEMO_TOKEN))
    request = models.DescribeBackendHealthRequest()
    request.loadBalancerId = "lb-web"
    assert len(client.DescribeBackendHealth(request).backends) == 6


def test_sdk_retries_the_emulators_throttle(
    make_emulator: Callable[..., Emulator], scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    emu = make_emulator(
        Scenario.from_dict(scenario_dict(faults=[{"type": "throttle", "count": 2}]))
    )
    client = sdk_client(emu, rate_limit_retry_duration=lambda _index: 0)
    request = models.DescribeBackendHealthRequest()
    request.loadBalancerId = "lb-1"
    assert len(client.DescribeBackendHealth(request).backends) == 2
    assert [e["status"] for e in emu.request_log] == [429, 429, 200]


def test_sdk_parses_the_fleet_shapes(
    make_emulator: Callable[..., Emulator], scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    """One instance under two IPs, renumbered ports, a load balancer the timeline adds, and
    duplicated rows: the SDK's models take them all."""
    data = scenario_dict(
        timeline=[
            {
                "step": 1,
                "action": "set_ports",
                "loadBalancerId": "lb-1",
                "listenerId": "lsn-1",
                "backend": "vm-1@10.0.0.1",
                "ports": [8080, 9090],
            },
            {
                "step": 1,
                "action": "add_load_balancer",
                "loadBalancerSpec": {"loadBalancerId": "lb-2", "loadBalancerName": "late"},
            },
        ],
        faults=[{"type": "duplicate_rows", "loadBalancerId": "lb-1", "rows": 1}],
    )
    data["loadBalancers"][0]["listeners"][0]["backends"][1]["instanceId"] = "vm-1"
    emu = make_emulator(data)
    emu.advance()
    client = sdk_client(emu)
    request = models.DescribeBackendHealthRequest()
    request.loadBalancerId = "lb-1"
    rows = client.DescribeBackendHealth(request).backends
    parsed = [without_none(b.serialize(allow_none=True)) for b in rows]
    truth = emu.ground_truth()["lb-1"]
    assert parsed[:2] == truth
    assert [(b.instanceId, b.privateIpAddress, b.healthStatus) for b in rows] == [
        ("vm-1", "10.0.0.1", "Alive"),
        ("vm-1", "10.0.0.2", "Alive"),
        ("vm-1", "10.0.0.1", "Dead"),
    ]
    assert [(d.port, d.healthStatus) for d in rows[0].healthStatusDetail] == [
        (8080, "Alive"),
        (9090, "Alive"),
    ]
    lbs = client.DescribeLoadBalancers(models.DescribeLoadBalancersRequest()).dataSet
    assert [(lb.loadBalancerId, lb.listenerCount) for lb in lbs] == [("lb-1", 1), ("lb-2", 0)]


def test_sdk_and_bad_rows(
    make_emulator: Callable[..., Emulator], scenario_dict: Callable[..., dict[str, Any]]
) -> None:
    """Object rows with a defect parse (the missing fields come out None); a row that is not an
    object crashes the SDK's model (`str.get`): a client built on it must guard its own parse."""
    usable = ["no_identity", "no_status", "no_listener", "bad_detail"]
    emu = make_emulator(scenario_dict(faults=[{"type": "bad_rows", "rows": usable}]))
    request = models.DescribeBackendHealthRequest()
    request.loadBalancerId = "lb-1"
    rows = sdk_client(emu).DescribeBackendHealth(request).backends
    assert len(rows) == 6
    no_identity, no_status, no_listener, bad_detail = rows[2:]
    assert (no_identity.instanceId, no_identity.privateIpAddress) == (None, None)
    assert no_status.healthStatus is None
    assert no_listener.listenerId is None
    assert bad_detail.healthStatusDetail[0].port is None

    emu2 = make_emulator(scenario_dict(faults=[{"type": "bad_rows", "rows": ["not_object"]}]))
    with pytest.raises(AttributeError):
        sdk_client(emu2).DescribeBackendHealth(request)
