"""Shared fixtures for tests that talk to local servers over real HTTP.

Fixtures:
- `emulator`: a started Emulator with the demo fleet and the demo credentials (function scope).
- `make_emulator(scenario=None, **kwargs)`: build and start one from a dict scenario (default:
  `minimal_scenario()`) or a Scenario; every one is stopped at teardown.
- `scenario_dict(**top_level_overrides)`: a fresh copy of `minimal_scenario()`.
- `rig(scenario, **env)`: a `HandlerRig` (the real Lambda handler, tick by tick) on an emulator
  serving `scenario` (see handler_rig.world), with the function's environment plus `env`.
- `http`: a urllib3 PoolManager without retries; `signed_post(emu, action, params, **kw)`: a raw
  request signed with signing.py (kw: key_id, password, timestamp, content_type, and
  timeout for urllib3); `sign(url, action, body, **kw)`: just the signed headers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import urllib3
from tests.conftest import Inbox
from tests.integration.handler_rig import HandlerRig, Rig, rig_emulator

from zlb_health import handler
from zlb_health.zenlayer import signing
from zlb_health_tools.emulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_PASSWORD,
    Emulator,
    Scenario,
    demo_scenario,
)
from zlb_health_tools.stack import LocalStack

API_VERSION = "2025-04-01"


def minimal_scenario(**overrides: Any) -> dict[str, Any]:
    """One load balancer, one listener, two backends; keys in `overrides` replace the top level."""
    data: dict[str, Any] = {
        "loadBalancers": [
            {
                "loadBalancerId": "lb-1",
                "listeners": [
                    {
                        "listenerId": "lsn-1",
                        "listenerName": "tcp-80",
                        "protocol": "TCP",
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
                    }
                ],
            }
        ]
    }
    data.update(overrides)
    return data


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(demo_scenario(), log_requests=False) as emu:
        yield emu


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def build(scenario: Mapping[str, Any] | Scenario | None = None, **kwargs: Any) -> Emulator:
        if scenario is None:
            scenario = minimal_scenario()
        if not isinstance(scenario, Scenario):
            scenario = Scenario.from_dict(scenario)
        kwargs.setdefault("log_requests", False)
        emu = Emulator(scenario, **kwargs).start()
        started.append(emu)
        return emu

    yield build
    for emu in started:
        emu.stop()


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=5))
    yield pool
    pool.clear()


def signed_headers(
    url: str,
    action: str,
    body: bytes,
    *,
    key_id: str = DEMO_ACCESS_KEY_ID,
    password: str = DEMO_ACCESS_KEY_PASSWORD,
    timestamp: int | None = None,
    content_type: str = "application/json; charset=utf-8",
) -> dict[str, str]:
    host = url.split("://", 1)[1].split("/", 1)[0]
    ts = int(time.time()) if timestamp is None else timestamp
    sig = signing.signature(
        access_key_password=password, timestamp=ts, content_type=content_type, host=host, body=body
    )
    return {
        "Content-Type": content_type,
        "Host": host,
        "X-ZC-Action": action,
        "X-ZC-Version": API_VERSION,
        "X-ZC-Timestamp": str(ts),
        "X-ZC-Signature-Method": signing.ALGORITHM,
        "Authorization": signing.authorization_header(access_key_id=key_id, signature_hex=sig),
    }


def signed_post(
    pool: urllib3.PoolManager,
    emu: Emulator,
    action: str,
    params: Mapping[str, Any] | None = None,
    **sign_kwargs: Any,
) -> urllib3.BaseHTTPResponse:
    timeout = sign_kwargs.pop("timeout", None)
    body = json.dumps(params or {}).encode("utf-8")
    headers = signed_headers(emu.url, action, body, **sign_kwargs)
    if timeout is not None:
        return pool.request("POST", emu.api_url, body=body, headers=headers, timeout=timeout)
    return pool.request("POST", emu.api_url, body=body, headers=headers)


@pytest.fixture
def scenario_dict() -> Callable[..., dict[str, Any]]:
    return minimal_scenario


@pytest.fixture(name="signed_post")
def signed_post_fixture(
    http: urllib3.PoolManager,
) -> Callable[..., urllib3.BaseHTTPResponse]:
    def post(
        emu: Emulator, action: str, params: Mapping[str, Any] | None = None, **kw: Any
    ) -> urllib3.BaseHTTPResponse:
        return signed_post(http, emu, action, params, **kw)

    return post


@pytest.fixture
def sign() -> Callable[..., dict[str, str]]:
    return signed_headers


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch, stack: LocalStack, inbox: Inbox) -> Iterator[Rig]:
    emulators: list[Emulator] = []

    def build(scenario: dict[str, Any], **env: str) -> HandlerRig:
        emulator = rig_emulator(scenario).start()
        emulators.append(emulator)
        return HandlerRig(monkeypatch, stack, emulator, inbox, **env)

    yield build
    handler._runtime = None
    for emulator in emulators:
        emulator.stop()
