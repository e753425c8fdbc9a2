"""The local Zenlayer API emulator: `POST /api/v2/zlb`, verified and answered like the vendor.

Standard library only. Each request is checked in this order:
path and method, X-ZC-Action, X-ZC-Version, Authorization (token or ZC2-HMAC-SHA256 over the
exact received body, Content-Type and Host, with X-ZC-Timestamp within +/-300 s), JSON body,
then the scenario's faults, then the action itself. Error codes: docs/emulator.md.

Nothing secret is ever logged: one stderr line per request (status, action, load balancer,
step, fault).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import urlsplit

from zlb_health.zenlayer import API_PATH, API_VERSION
from zlb_health.zenlayer.credentials import AccessKey, BearerToken, Credentials
from zlb_health_tools.emulator import signature
from zlb_health_tools.emulator.demo import demo_scenario
from zlb_health_tools.emulator.scenario import (
    ACTIONS,
    BACKEND_HEALTH,
    Fault,
    FleetLookupError,
    Scenario,
    ScenarioError,
    load_scenario,
)
from zlb_health_tools.served import Served

TIMESTAMP_TOLERANCE_SECONDS: Final = 300
MAX_BODY_BYTES: Final = 1024 * 1024
DEFAULT_PAGE_SIZE: Final = 20
MAX_PAGE_SIZE: Final = 1000

DEMO_ACCESS_KEY_ID: Final = "demo-access-key"
DEMO_ACCESS_KEY_PASSWORD: Final = "demo-access-key-password"  # noqa: S105 - documented demo value
DEMO_TOKEN: Final = "demo-token"  # noqa: S105 - documented demo value
DEMO_ACCESS_KEY: Final = AccessKey(DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_PASSWORD)
DEMO_BEARER_TOKEN: Final = BearerToken(DEMO_TOKEN)


def demo_credentials() -> list[Credentials]:
    """What the emulator accepts unless told otherwise (documented, not secret)."""
    return [DEMO_ACCESS_KEY, DEMO_BEARER_TOKEN]


# The seed's own example response, missing comma included (a client must call it malformed).
_SEED_MALFORMED = """{
  "requestId": "%(rid)s",
  "response": {
    "requestId": "%(rid)s",
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
}
"""

_HTML_PAGE = (
    "<html>\r\n<head><title>%(status)d %(reason)s</title></head>\r\n<body>\r\n"
    "<center><h1>%(status)d %(reason)s</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)

_SERVER_ERROR_CODES: Final = {
    500: "INTERNAL_SERVER_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}
_LIST_FIELDS: Final = {
    "DescribeBackendHealth": "backends",
    "DescribeListeners": "listeners",
    "DescribeLoadBalancers": "dataSet",
}


def bad_row(kind: str, template: dict[str, Any]) -> Any:
    """One defective row of a `bad_rows` fault, derived from `template` (a real row of the
    answer, else an invented one) so that it differs from a usable row only by its defect."""
    if kind == "not_object":
        return "emulator: not a backend object"
    row = copy.deepcopy(template)
    if kind == "no_identity":
        row.pop("instanceId", None)
        row.pop("privateIpAddress", None)
    elif kind == "no_status":
        row.pop("healthStatus", None)
    elif kind == "no_listener":
        row.pop("listenerId", None)
    elif kind == "bad_detail":
        detail = row.get("healthStatusDetail")
        if detail:
            del detail[0]["port"]
        else:  # Close or Unknown rows have no detail: give them a defective one
            row["healthStatusDetail"] = [{"healthStatus": row["healthStatus"]}]
    else:
        raise ValueError(f"bad_row: unknown kind {kind!r}")
    return row


def duplicate_row(row: dict[str, Any], status: str) -> dict[str, Any]:
    """A copy of `row` reporting `status`, in its healthStatusDetail too (`duplicate_rows`)."""
    dup = copy.deepcopy(row)
    dup["healthStatus"] = status
    for entry in dup.get("healthStatusDetail", ()):
        entry["healthStatus"] = status
    return dup


class ApiError(Exception):
    """An error envelope to send: HTTP status, vendor-style code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    hold_seconds: float = 0.0  # wait first (timeout fault), then drop


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _error_reply(request_id: str, err: ApiError) -> _Reply:
    body = _dumps({"requestId": request_id, "code": err.code, "message": err.message})
    return _Reply(err.status, body, headers={"X-ZC-Request-Id": request_id})


class Emulator(Served):
    """The emulator as a context manager; serves from a daemon thread.

    `step` is the timeline step: `advance()` moves it on; with `step_seconds > 0` it also moves
    one step every `step_seconds` of `clock()` since `start()`.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: list[Credentials] | None = None,
        step_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
        log_requests: bool = True,
    ) -> None:
        self.scenario = scenario if scenario is not None else demo_scenario()
        self._host = host
        self._port = port
        creds = credentials if credentials is not None else demo_credentials()
        self._keys = {
            c.access_key_id: c.access_key_password for c in creds if isinstance(c, AccessKey)
        }
        self._tokens = {c.token for c in creds if isinstance(c, BearerToken)}
        if not self._keys and not self._tokens:
            raise ValueError("Emulator: at least one credential is needed")
        self.step_seconds = step_seconds
        self.clock = clock
        self.log_requests = log_requests
        self.request_log: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._manual_steps = 0
        self._started_at = clock()
        self._fault_counts: dict[tuple[int, int], int] = {}
        # Fault sampling, not cryptography.
        self._rng = random.Random(self.scenario.seed)  # nosec B311
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self._host, self._port), _Handler)
        server.emulator = self
        self._server = server
        self._started_at = self.clock()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name="zlb-emulator",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # ends held (timeout-fault) requests
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("Emulator is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._host if ":" not in self._host else f"[{self._host}]"
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PATH

    @property
    def access_key_ids(self) -> list[str]:
        return sorted(self._keys)

    # ------------------------------------------------------------------ timeline

    @property
    def step(self) -> int:
        with self._lock:
            step = self._manual_steps
        if self.step_seconds > 0:
            step += max(0, int((self.clock() - self._started_at) // self.step_seconds))
        return step

    def advance(self, steps: int = 1) -> None:
        if steps < 0:
            raise ValueError("advance: steps must be >= 0")
        with self._lock:
            self._manual_steps += steps

    def load_balancer_ids(self) -> list[str]:
        """The load balancers that exist now, in DescribeLoadBalancers order."""
        return self.scenario.load_balancer_ids_at(self.step)

    def ground_truth(self) -> dict[str, list[dict[str, Any]]]:
        """lbId -> backends exactly as a fault-free DescribeBackendHealth reports them now,
        for every load balancer that exists now (faults never show here)."""
        step = self.step  # once: with step_seconds the clock may move on meanwhile
        return {
            lb_id: self.scenario.describe_backend_health(step, lb_id)
            for lb_id in self.scenario.load_balancer_ids_at(step)
        }

    def ground_truth_for(
        self, load_balancer_id: str, listener_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The backends a fault-free DescribeBackendHealth with these parameters answers now.

        Raises `FleetLookupError` (a LookupError; `.code` is the 404 code the API answers) when
        the load balancer or the listener does not exist now.
        """
        return self.scenario.describe_backend_health(self.step, load_balancer_id, listener_id)

    # ------------------------------------------------------------------ request handling

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[_Reply, dict[str, Any]]:
        """Answer one request. `headers` keys are lower-case. Returns the reply and log entry."""
        request_id = new_request_id()
        step = self.step
        entry: dict[str, Any] = {
            "requestId": request_id,
            "action": headers.get("x-zc-action"),
            "loadBalancerId": None,
            "listenerId": None,
            "status": None,
            "fault": None,
            "step": step,
        }
        try:
            reply = self._handle(
                method=method,
                path=path,
                headers=headers,
                body=body,
                request_id=request_id,
                step=step,
                entry=entry,
            )
        except ApiError as err:
            reply = _error_reply(request_id, err)
        except Exception as exc:  # noqa: BLE001 - any bug answers 500, the server keeps going
            reply = _error_reply(
                request_id, ApiError(500, "INTERNAL_ERROR", f"emulator error: {type(exc).__name__}")
            )
        entry["status"] = None if reply.drop else reply.status
        with self._lock:
            self.request_log.append(entry)
        if self.log_requests:
            fault = f" fault={entry['fault']}" if entry["fault"] else ""
            status = "dropped" if reply.drop else str(reply.status)
            target = entry["loadBalancerId"] or "-"
            if entry["listenerId"]:
                target += f"/{entry['listenerId']}"
            print(
                f"emulator: {status} {entry['action'] or '-'} {target} step={step}{fault}",
                file=sys.stderr,
                flush=True,
            )
        return reply, entry

    def _handle(  # noqa: PLR0912, PLR0915 - the documented checks, in the documented order
        self,
        *,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        request_id: str,
        step: int,
        entry: dict[str, Any],
    ) -> _Reply:
        if urlsplit(path).path.rstrip("/") != API_PATH:
            raise ApiError(404, "NOT_FOUND", f"no API at {urlsplit(path).path}; use {API_PATH}")
        if method != "POST":
            raise ApiError(405, "METHOD_NOT_ALLOWED", "only POST is supported")
        if body is None:
            raise ApiError(400, "INVALID_PARAMETER", "request body missing or too large")
        action = headers.get("x-zc-action")
        if not action:
            raise ApiError(400, "UNSUPPORTED_ACTION", "header X-ZC-Action is missing")
        if action not in ACTIONS:
            raise ApiError(400, "UNSUPPORTED_ACTION", f"action {action} is not supported")
        version = headers.get("x-zc-version")
        if not version:
            raise ApiError(400, "INVALID_PARAMETER", "header X-ZC-Version is missing")
        if version != API_VERSION:
            raise ApiError(400, "INVALID_PARAMETER", f"X-ZC-Version must be {API_VERSION}")
        self._authenticate(headers, body)
        try:
            params = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "INVALID_PARAMETER", "request body is not valid JSON") from exc
        if not isinstance(params, dict):
            raise ApiError(400, "INVALID_PARAMETER", "request body must be a JSON object")
        raw_lb_id = params.get("loadBalancerId")
        lb_id = raw_lb_id if isinstance(raw_lb_id, str) else None
        entry["loadBalancerId"] = lb_id
        raw_listener_id = params.get("listenerId")
        listener_id = (
            raw_listener_id
            if action == BACKEND_HEALTH and isinstance(raw_listener_id, str)
            else None
        )
        entry["listenerId"] = listener_id

        fault = self._pick_fault(step, action, lb_id, listener_id, entry)
        if fault is not None:
            early = self._early_fault_reply(fault, request_id)
            if early is not None:
                return early

        response = self._dispatch(action, params, step)
        if fault is not None and fault.type in ("missing_backends", "empty_backends"):
            list_field = _LIST_FIELDS[action]
            if fault.type == "missing_backends":
                response.pop(list_field, None)
            else:
                response[list_field] = []
        elif fault is not None and fault.type == "bad_rows":
            rows = response["backends"]
            assert lb_id is not None  # noqa: S101 - the request was answered, so it named one
            template = rows[0] if rows else self.scenario.invented_row(step, lb_id, listener_id)
            rows.extend(bad_row(kind, template) for kind in fault.row_kinds)
        elif fault is not None and fault.type == "duplicate_rows":
            rows = response["backends"]
            rows.extend(duplicate_row(row, fault.health_status) for row in rows[: fault.row_count])
        envelope: dict[str, Any] = {
            "requestId": request_id,
            "response": {"requestId": request_id, **response},
        }
        payload = _dumps(envelope)
        if fault is not None and fault.type == "truncated":
            payload = payload[: max(1, len(payload) // 2)]
        elif fault is not None and fault.type == "oversized":
            pad = max(0, fault.bytes - len(payload) - len(',"padding":""'))
            envelope["padding"] = " " * pad
            payload = _dumps(envelope)
        return _Reply(200, payload, headers={"X-ZC-Request-Id": request_id})

    def _authenticate(self, headers: dict[str, str], body: bytes) -> None:
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer "):
            if auth[len("Bearer ") :].strip() not in self._tokens:
                raise ApiError(401, "INVALID_TOKEN", "the token is not valid")
            return
        parts = signature.parse_authorization(auth)
        if parts is None:
            raise ApiError(401, "SIGNATURE_FAILURE", "Authorization header missing or malformed")
        password = self._keys.get(parts.credential)
        if password is None:
            raise ApiError(401, "INVALID_ACCESS_KEY", "the access key id is not valid")
        if parts.signed_headers != signature.SIGNED_HEADERS:
            raise ApiError(401, "SIGNATURE_FAILURE", "SignedHeaders must be content-type;host")
        raw_timestamp = headers.get("x-zc-timestamp", "")
        try:
            timestamp = int(raw_timestamp)
        except ValueError as exc:
            raise ApiError(401, "INVALID_TIMESTAMP", "X-ZC-Timestamp missing or bad") from exc
        if abs(self.clock() - timestamp) > TIMESTAMP_TOLERANCE_SECONDS:
            raise ApiError(
                401,
                "INVALID_TIMESTAMP",
                f"X-ZC-Timestamp is more than {TIMESTAMP_TOLERANCE_SECONDS} s from server time",
            )
        # Checked against the independent reference (emulator/signature.py), never against the
        # client's own signer: a mistake there must not be "verified" by the same mistake.
        if not signature.signature_matches(
            parts,
            password=password,
            timestamp=raw_timestamp,
            content_type=headers.get("content-type", ""),
            host=headers.get("host", ""),
            body=body,
        ):
            raise ApiError(401, "SIGNATURE_FAILURE", "the signature does not match")

    # ------------------------------------------------------------------ faults

    def _pick_fault(
        self,
        step: int,
        action: str,
        lb_id: str | None,
        listener_id: str | None,
        entry: dict[str, Any],
    ) -> Fault | None:
        """Latency faults all apply (sleeping); the first other fault that fires is returned."""
        timeline_step = self.scenario.fault_step(step)
        applied: list[str] = []
        chosen: Fault | None = None
        for fault in self.scenario.faults:
            if not fault.active(timeline_step, action, lb_id, listener_id):
                continue
            if fault.type != "latency" and chosen is not None:
                continue
            with self._lock:
                key = (fault.index, step)
                seen = self._fault_counts.get(key, 0)
                self._fault_counts[key] = seen + 1
                fires = (fault.count is None or seen < fault.count) and (
                    fault.fraction >= 1.0 or self._rng.random() < fault.fraction
                )
            if not fires:
                continue
            applied.append(fault.type)
            if fault.type == "latency":
                self._stopping.wait(fault.latency_ms / 1000.0)
            else:
                chosen = fault
        entry["fault"] = ",".join(applied) or None
        return chosen

    def _early_fault_reply(self, fault: Fault, request_id: str) -> _Reply | None:
        """Faults that replace the answer; None for those that alter a real answer."""
        rid = {"X-ZC-Request-Id": request_id}
        if fault.type == "throttle":
            return _error_reply(
                request_id, ApiError(429, "REQUEST_LIMIT_EXCEEDED", "request limit exceeded")
            )
        if fault.type == "server_error":
            code = _SERVER_ERROR_CODES[fault.status]
            return _error_reply(request_id, ApiError(fault.status, code, "server error"))
        if fault.type == "not_found" and fault.listener_id is not None:
            return _error_reply(
                request_id, ApiError(404, "INVALID_LISTENER_NOT_FOUND", "listener not found")
            )
        if fault.type == "not_found":
            return _error_reply(
                request_id,
                ApiError(404, "INVALID_LOAD_BALANCER_NOT_FOUND", "load balancer not found"),
            )
        if fault.type == "timeout":
            return _Reply(0, b"", drop=True, hold_seconds=fault.seconds)
        if fault.type == "reset":
            return _Reply(0, b"", drop=True)
        if fault.type == "malformed":
            body = (_SEED_MALFORMED % {"rid": request_id}).encode("utf-8")
            return _Reply(200, body, headers=rid)
        if fault.type == "html":
            reason = "OK" if fault.status == 200 else "Bad Gateway"
            page = _HTML_PAGE % {"status": fault.status, "reason": reason}
            return _Reply(fault.status, page.encode("utf-8"), "text/html")
        return None

    # ------------------------------------------------------------------ actions

    def _dispatch(self, action: str, params: dict[str, Any], step: int) -> dict[str, Any]:
        try:
            if action == "DescribeBackendHealth":
                return self._describe_backend_health(params, step)
            if action == "DescribeListeners":
                return self._describe_listeners(params, step)
            return self._describe_load_balancers(params, step)
        except FleetLookupError as exc:
            raise ApiError(404, exc.code, f"{exc.kind} {exc.ident} not found") from exc

    @staticmethod
    def _required_id(params: dict[str, Any], key: str) -> str:
        value = params.get(key)
        if not isinstance(value, str) or not value:
            raise ApiError(400, "INVALID_PARAMETER", f"{key} is required (a string)")
        return value

    @staticmethod
    def _optional_str_list(params: dict[str, Any], key: str) -> list[str] | None:
        value = params.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError(400, "INVALID_PARAMETER", f"{key} must be a list of strings")
        return value

    def _describe_backend_health(self, params: dict[str, Any], step: int) -> dict[str, Any]:
        lb_id = self._required_id(params, "loadBalancerId")
        listener_id = params.get("listenerId")
        if listener_id is not None and (not isinstance(listener_id, str) or not listener_id):
            raise ApiError(400, "INVALID_PARAMETER", "listenerId must be a string")
        return {"backends": self.scenario.describe_backend_health(step, lb_id, listener_id)}

    def _describe_listeners(self, params: dict[str, Any], step: int) -> dict[str, Any]:
        lb_id = self._required_id(params, "loadBalancerId")
        ids = self._optional_str_list(params, "listenerIds")
        protocol = params.get("protocol")
        if protocol is not None and not isinstance(protocol, str):
            raise ApiError(400, "INVALID_PARAMETER", "protocol must be a string")
        return {"listeners": self.scenario.describe_listeners(step, lb_id, ids, protocol)}

    def _describe_load_balancers(self, params: dict[str, Any], step: int) -> dict[str, Any]:
        page_size = params.get("pageSize", DEFAULT_PAGE_SIZE)
        page_num = params.get("pageNum", 1)
        for key, value, hi in (("pageSize", page_size, MAX_PAGE_SIZE), ("pageNum", page_num, None)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ApiError(400, "INVALID_PARAMETER", f"{key} must be an integer >= 1")
            if hi is not None and value > hi:
                raise ApiError(400, "INVALID_PARAMETER", f"{key} must be at most {hi}")
        ids = self._optional_str_list(params, "loadBalancerIds")
        if ids is not None and len(ids) > 100:
            raise ApiError(400, "INVALID_PARAMETER", "loadBalancerIds takes at most 100 ids")
        region = params.get("regionId")
        name = params.get("loadBalancerName")
        rows = [
            lb
            for lb in self.scenario.describe_load_balancers(step)
            if (ids is None or lb["loadBalancerId"] in ids)
            and (not isinstance(region, str) or lb["regionId"] == region)
            and (not isinstance(name, str) or name in lb["loadBalancerName"])
        ]
        start = (page_num - 1) * page_size
        return {"totalCount": len(rows), "dataSet": rows[start : start + page_size]}


# ---------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._drop: set[int] = set()
        super().__init__(address, handler)

    def mark_drop(self, request: socket.socket) -> None:
        request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._drop.add(id(request))

    def shutdown_request(self, request: Any) -> None:
        if id(request) in self._drop:
            self._drop.discard(id(request))
            self.close_request(request)  # no FIN first: with SO_LINGER 0 the peer gets a reset
            return
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return  # the client went away; nothing to report
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "zlb-emulator"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this
    # Headers and body go out in separate writes: with Nagle on, the body waits ~40 ms for the
    # client's delayed ACK on every keep-alive response.
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _read_body(self) -> bytes | None:
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            self.close_connection = True
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            return None
        return self.rfile.read(length)

    def _serve(self, method: str) -> None:
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        emulator = self.server.emulator
        reply, _ = emulator.handle(method, self.path, headers, body)
        if reply.drop:
            if reply.hold_seconds > 0:
                emulator._stopping.wait(reply.hold_seconds)
            self.close_connection = True
            self.server.mark_drop(self.connection)
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # Emulator.handle logs one safe line per request


# ---------------------------------------------------------------------- CLI


def credentials_from_env(env: dict[str, str] | None = None) -> tuple[list[Credentials], bool]:
    """The credentials the CLI accepts: the client's variables, else the demo ones (True)."""
    values = dict(os.environ) if env is None else env
    creds: list[Credentials] = []
    key_id = values.get("ZENLAYER_ACCESS_KEY_ID", "").strip()
    password = values.get("ZENLAYER_ACCESS_KEY_PASSWORD", "").strip()
    token = values.get("ZENLAYER_API_TOKEN", "").strip()
    if key_id and password:
        creds.append(AccessKey(key_id, password))
    if token:
        creds.append(BearerToken(token))
    if creds:
        return creds, False
    return demo_credentials(), True


def run_emulator(args: argparse.Namespace) -> int:
    """`zlb-health emulator`: serve until Ctrl-C."""
    try:
        scenario = load_scenario(args.scenario) if args.scenario else demo_scenario()
    except ScenarioError as exc:
        print(f"zlb-health emulator: {exc}", file=sys.stderr)
        return 2
    creds, demo = credentials_from_env()
    step_seconds = float(getattr(args, "step_seconds", 0.0) or 0.0)
    emulator = Emulator(
        scenario,
        host=args.host,
        port=args.port,
        credentials=creds,
        step_seconds=step_seconds,
    )
    try:
        emulator.start()
    except OSError as exc:
        print(
            f"zlb-health emulator: cannot listen on {args.host}:{args.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    key_ids = ", ".join(emulator.access_key_ids) or "(none)"
    print(f"Zenlayer API emulator listening on {emulator.url} (API at {emulator.api_url})")
    print(f"  export ZENLAYER_API_ENDPOINT={emulator.url}")
    if demo:
        print(
            "  no ZENLAYER_* credentials set: accepting the demo credentials "
            f"ZENLAYER_ACCESS_KEY_ID={DEMO_ACCESS_KEY_ID} "
            f"ZENLAYER_ACCESS_KEY_PASSWORD=<the documented demo password> "
            "or ZENLAYER_API_TOKEN=<the documented demo token> (docs/emulator.md)"
        )
    else:
        token_note = " and the configured ZENLAYER_API_TOKEN" if emulator._tokens else ""
        print(f"  accepting access key id: {key_ids}{token_note}")
    pace = f"one step every {step_seconds:g} s" if step_seconds > 0 else "step fixed at 0"
    print(
        f"  scenario: {args.scenario or 'built-in demo'}, {len(scenario.load_balancer_ids)} "
        f"load balancers, {scenario.steps} timeline steps ({scenario.after_timeline} after), "
        f"{pace}. Ctrl-C to stop.",
        flush=True,
    )
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("\nemulator stopped", file=sys.stderr)
        return 0
    finally:
        emulator.stop()
