"""`zlb-health check`: one live DescribeBackendHealth call, printed as a table or JSON.

Configuration comes from the environment (ZENLAYER_API_ENDPOINT, ZENLAYER_ACCESS_KEY_ID +
ZENLAYER_ACCESS_KEY_PASSWORD or ZENLAYER_API_TOKEN). Any failure is one line on stderr and a
non-zero exit, as for every subcommand (cli.py): 2 for usage or configuration problems (nothing
is sent), 1 when the API call failed. Never a traceback, never a secret.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, TextIO
from urllib.parse import urlsplit

from zlb_health.adapters.secrets import credentials_from_environment
from zlb_health.config import DEFAULT_ENDPOINT, ConfigError, is_valid_id, validate_endpoint
from zlb_health.zenlayer.client import ZenlayerClient
from zlb_health.zenlayer.credentials import Credentials
from zlb_health.zenlayer.errors import ZenlayerError
from zlb_health.zenlayer.models import BackendHealth, BackendHealthResult

ACTION = "DescribeBackendHealth"
OVERALL_DEADLINE_SECONDS = 25.0
EXIT_OK = 0
EXIT_API = 1
EXIT_CONFIG = 2
_HEADERS = (
    "LISTENER",
    "PROTOCOL",
    "LISTENER PORT",
    "TARGET",
    "BACKEND PORT",
    "WEIGHT",
    "STATUS",
    "DETAIL",
)


class _UsageError(Exception):
    pass


def run_check(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    env = os.environ if env is None else env
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        endpoint = _endpoint(env)
        credentials = _credentials(env)
        lb_id, listener_id = _ids(args)
    except (_UsageError, ConfigError) as exc:
        err.write(f"error: {exc}\n")
        return EXIT_CONFIG
    try:
        client = ZenlayerClient(endpoint=endpoint, credentials=credentials)
        deadline = time.monotonic() + OVERALL_DEADLINE_SECONDS
        result = client.describe_backend_health(lb_id, listener_id, deadline=deadline)
    except ZenlayerError as exc:
        if exc.action is None:
            exc.action = ACTION
        err.write(f"error: {exc.one_line()}\n")
        return EXIT_API
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        err.write(f"error: {ACTION} failed (unexpected): {type(exc).__name__}\n")
        return EXIT_API
    if getattr(args, "json", False):
        out.write(render_json(result, lb_id, listener_id) + "\n")
    else:
        out.write(render_table(result))
    return EXIT_OK


def _endpoint(env: Mapping[str, str]) -> str:
    raw = env.get("ZENLAYER_API_ENDPOINT", "").strip() or DEFAULT_ENDPOINT
    # Refuse user info before validate_endpoint, whose message would echo the raw URL.
    try:
        parts = urlsplit(raw)
        has_userinfo = "@" in parts.netloc
    except ValueError:
        raise ConfigError("ZENLAYER_API_ENDPOINT", "is not a valid URL") from None
    if has_userinfo:
        raise ConfigError("ZENLAYER_API_ENDPOINT", "must not carry user info")
    return validate_endpoint(raw)


def _credentials(env: Mapping[str, str]) -> Credentials:
    try:
        return credentials_from_environment(env)
    except ConfigError:
        raise _UsageError(
            "credentials missing: set ZENLAYER_ACCESS_KEY_ID and ZENLAYER_ACCESS_KEY_PASSWORD, "
            "or ZENLAYER_API_TOKEN"
        ) from None


def _ids(args: argparse.Namespace) -> tuple[str, str | None]:
    lb_id = str(getattr(args, "load_balancer_id", "") or "").strip()
    listener_id = getattr(args, "listener_id", None)
    if not is_valid_id(lb_id):
        raise _UsageError("--load-balancer-id: not a valid load balancer id")
    if listener_id is not None:
        listener_id = str(listener_id).strip()
        if not is_valid_id(listener_id):
            raise _UsageError("--listener-id: not a valid listener id")
    return lb_id, listener_id


# -- rendering ----------------------------------------------------------------------------


def _printable(value: str) -> str:
    """Server text goes to a terminal: no control characters or escape sequences."""
    return "".join(ch if ch.isprintable() else "?" for ch in value)


def _detail(backend: BackendHealth) -> str:
    return " ".join(f"{d.port}:{d.health_status}" for d in backend.health_status_detail) or "-"


def _row(b: BackendHealth) -> tuple[str, ...]:
    listener = f"{b.listener_name} ({b.listener_id})" if b.listener_name else b.listener_id
    target = b.instance_id or b.private_ip_address
    if b.instance_id and b.private_ip_address:
        target = f"{b.instance_id} ({b.private_ip_address})"
    backend_port = str(b.backend_port) if b.backend_port is not None else "-"
    return tuple(
        _printable(cell)
        for cell in (
            listener,
            b.protocol or "-",
            b.listener_port or "-",
            target,
            backend_port,
            str(b.weight) if b.weight is not None else "-",
            b.health_status,
            _detail(b),
        )
    )


def _sort_key(b: BackendHealth) -> tuple[str, str, str, int]:
    return (b.listener_name, b.listener_id, b.target, b.backend_port or 0)


def summary_line(result: BackendHealthResult) -> str:
    counts = Counter(b.health_status for b in result.backends)
    total = len(result.backends)
    parts = ", ".join(f"{n} {_printable(status)}" for status, n in sorted(counts.items()))
    noun = "backend" if total == 1 else "backends"
    text = f"{total} {noun}" + (f": {parts}" if parts else "")
    rid = _printable(result.request_id) if result.request_id else "-"
    return f"{text} (requestId={rid}, {result.latency_ms:.0f} ms)"


def render_table(result: BackendHealthResult) -> str:
    rows: Sequence[tuple[str, ...]] = [_row(b) for b in sorted(result.backends, key=_sort_key)]
    lines: list[str] = []
    if rows:
        widths = [max(len(_HEADERS[i]), *(len(r[i]) for r in rows)) for i in range(len(_HEADERS))]
        for cells in (_HEADERS, *rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    else:
        lines.append("no backends")
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


def backend_json(b: BackendHealth) -> dict[str, Any]:
    return {
        "listenerId": b.listener_id,
        "listenerName": b.listener_name,
        "protocol": b.protocol,
        "listenerPort": b.listener_port,
        "instanceId": b.instance_id,
        "privateIpAddress": b.private_ip_address,
        "backendPort": b.backend_port,
        "weight": b.weight,
        "healthStatus": b.health_status,
        "healthStatusDetail": [
            {"port": d.port, "healthStatus": d.health_status} for d in b.health_status_detail
        ],
    }


def render_json(result: BackendHealthResult, load_balancer_id: str, listener_id: str | None) -> str:
    doc = {
        "requestId": result.request_id,
        "loadBalancerId": load_balancer_id,
        "listenerId": listener_id,
        "latencyMs": round(result.latency_ms, 1),
        "backends": [backend_json(b) for b in result.backends],
    }
    return json.dumps(doc, indent=2)
