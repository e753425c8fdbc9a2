"""Zenlayer Cloud API v2 client for the zlb service, on urllib3 alone.

One `ZenlayerClient` per container: it owns a connection pool that is reused across calls and
threads. Every call signs a fresh request, maps the outcome onto the classes in `errors`, and
retries only retryable failures (transport, throttling, 5xx) with capped exponential backoff and
full jitter, never starting an attempt or a sleep past the caller's deadline.

Nothing this module raises carries a credential, a signature or a request header: messages are
built from status, code, request id and (scrubbed, truncated) server text only.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import parse_url

from zlb_health import __version__
from zlb_health.zenlayer import API_PATH, API_VERSION, signing
from zlb_health.zenlayer.credentials import AccessKey, BearerToken, Credentials
from zlb_health.zenlayer.errors import (
    AuthError,
    ClientRequestError,
    DeadlineExceededError,
    MalformedResponseError,
    NotFoundError,
    ServerError,
    ThrottledError,
    TransportError,
    ZenlayerError,
)
from zlb_health.zenlayer.models import (
    UNKNOWN,
    BackendHealth,
    BackendHealthResult,
    HealthCheck,
    Listener,
    LoadBalancer,
    PortHealth,
)

SERVICE: Final = "zlb"
CONTENT_TYPE: Final = "application/json"
USER_AGENT: Final = f"zlb-health/{__version__}"
REQUEST_ID_HEADER: Final = "X-ZC-Request-Id"

MAX_BACKENDS: Final = 100_000
MAX_STRING: Final = 256
MAX_DETAIL_ENTRIES: Final = 65_536
MAX_PAGES: Final = 10_000
MAX_RETRY_AFTER: Final = 60.0  # seconds; a longer Retry-After is clamped (no deadline case)
_MAX_SERVER_MESSAGE: Final = 200
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_THROTTLE_CODES: Final = frozenset({"REQUEST_LIMIT_EXCEEDED"})
_AUTH_CODES: Final = frozenset(
    {"AUTH_FAILED", "INVALID_TOKEN", "UNAUTHORIZED", "ACCESS_DENIED", "PERMISSION_DENIED"}
)
_AUTH_CODE_PARTS: Final = ("SIGNATURE", "TIMESTAMP", "AUTH", "TOKEN", "ACCESS_KEY")


@dataclass(frozen=True, slots=True)
class _Reply:
    response: dict[str, Any]
    request_id: str
    latency_ms: float


class _AttemptError(Exception):
    """Internal: one failed attempt, with the server's Retry-After (seconds) if it gave one."""

    def __init__(self, error: ZenlayerError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


class ZenlayerClient:
    """Client for `POST <endpoint>/api/v2/zlb`. Thread-safe: calls share only the pool."""

    def __init__(
        self,
        *,
        endpoint: str,
        credentials: Credentials,
        pool: urllib3.PoolManager | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        wall_clock: Callable[[], float] = time.time,
        max_response_bytes: int = 32 * 1024 * 1024,
        pool_maxsize: int = 16,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be positive")
        url = parse_url(endpoint.strip())
        if url.scheme not in _DEFAULT_PORTS or not url.host:
            raise ValueError("endpoint must be an http(s) URL with a host")
        if url.auth or url.query or url.fragment:
            raise ValueError("endpoint must not carry user info, a query or a fragment")
        base_path = (url.path or "").rstrip("/")
        host = url.host
        if url.port is not None and url.port != _DEFAULT_PORTS[url.scheme]:
            host = f"{host}:{url.port}"
        self._host = host
        self._url = f"{url.scheme}://{host}{base_path}{API_PATH}"
        self._credentials = credentials
        self._pool = (
            pool
            if pool is not None
            else urllib3.PoolManager(num_pools=4, maxsize=max(1, pool_maxsize), retries=False)
        )
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._wall_clock = wall_clock
        self._max_response_bytes = max_response_bytes
        self._secrets = _secret_strings(credentials)

    def __repr__(self) -> str:
        return f"ZenlayerClient(url={self._url!r}, credentials={self._credentials!r})"

    @property
    def url(self) -> str:
        return self._url

    # -- public actions -------------------------------------------------------------------

    def call(
        self, action: str, payload: dict[str, Any], *, deadline: float | None = None
    ) -> tuple[dict[str, Any], str]:
        """Send one action (with retries). Returns the `response` object and the request id."""
        reply = self._call(action, payload, deadline=deadline)
        return reply.response, reply.request_id

    def describe_backend_health(
        self,
        load_balancer_id: str,
        listener_id: str | None = None,
        *,
        deadline: float | None = None,
    ) -> BackendHealthResult:
        payload: dict[str, Any] = {"loadBalancerId": load_balancer_id}
        if listener_id is not None:
            payload["listenerId"] = listener_id
        action = "DescribeBackendHealth"
        reply = self._call(action, payload, deadline=deadline)
        backends, notes = parse_backends(reply.response, action=action, request_id=reply.request_id)
        return BackendHealthResult(
            request_id=reply.request_id,
            backends=backends,
            latency_ms=reply.latency_ms,
            invalid_rows=notes,
        )

    def describe_load_balancers(
        self, *, page_size: int = 1000, deadline: float | None = None
    ) -> list[LoadBalancer]:
        """Every load balancer of the account, following all pages."""
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        action = "DescribeLoadBalancers"
        collected: list[LoadBalancer] = []
        seen: set[str] = set()
        for page_num in range(1, MAX_PAGES + 1):
            reply = self._call(
                action, {"pageSize": page_size, "pageNum": page_num}, deadline=deadline
            )
            total, page = parse_load_balancer_page(
                reply.response, action=action, request_id=reply.request_id
            )
            for lb in page:
                # A list that shifts between pages may repeat an entry: keep the first.
                if lb.load_balancer_id not in seen:
                    seen.add(lb.load_balancer_id)
                    collected.append(lb)
            if not page or len(collected) >= total:
                return collected
        raise MalformedResponseError(
            f"more than {MAX_PAGES} pages of load balancers", action=action
        )

    def describe_listeners(
        self, load_balancer_id: str, *, deadline: float | None = None
    ) -> list[Listener]:
        action = "DescribeListeners"
        reply = self._call(action, {"loadBalancerId": load_balancer_id}, deadline=deadline)
        return parse_listeners(reply.response, action=action, request_id=reply.request_id)

    # -- retry loop -----------------------------------------------------------------------

    def _call(self, action: str, payload: dict[str, Any], *, deadline: float | None) -> _Reply:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        last: _AttemptError | None = None
        for attempt in range(1, self._max_attempts + 1):
            connect_timeout = self._connect_timeout
            read_timeout = self._read_timeout
            if deadline is not None:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise self._deadline_exceeded(action, attempt - 1, last) from (
                        last.error if last else None
                    )
                connect_timeout = min(connect_timeout, remaining)
                read_timeout = min(read_timeout, remaining)
            try:
                return self._attempt(action, body, connect_timeout, read_timeout)
            except _AttemptError as failed:
                last = failed
            error = last.error
            if not error.retryable or attempt >= self._max_attempts:
                raise error from last.__cause__
            wait = self._rng() * min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
            if last.retry_after is not None:
                wait = max(wait, min(last.retry_after, MAX_RETRY_AFTER))
            if deadline is not None and self._clock() + wait >= deadline:
                raise self._deadline_exceeded(action, attempt, last) from error
            self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _deadline_exceeded(
        self, action: str, attempts: int, last: _AttemptError | None
    ) -> DeadlineExceededError:
        if last is None:
            return DeadlineExceededError("deadline passed before the first attempt", action=action)
        error = last.error
        return DeadlineExceededError(
            f"deadline leaves no time to retry after {attempts} attempt(s); "
            f"last error ({error.kind}): {error.message}",
            status=error.status,
            code=error.code,
            request_id=error.request_id,
            action=action,
        )

    # -- one attempt ----------------------------------------------------------------------

    def _headers(self, action: str, body: bytes) -> dict[str, str]:
        timestamp = int(self._wall_clock())
        headers = {
            "Host": self._host,
            "Content-Type": CONTENT_TYPE,
            "X-ZC-Action": action,
            "X-ZC-Version": API_VERSION,
            "X-ZC-Service": SERVICE,
            "X-ZC-Timestamp": str(timestamp),
            "User-Agent": USER_AGENT,
        }
        creds = self._credentials
        if isinstance(creds, AccessKey):
            sig = signing.signature(
                access_key_password=creds.access_key_password,
                timestamp=timestamp,
                content_type=CONTENT_TYPE,
                host=self._host,
                body=body,
            )
            headers["X-ZC-Signature-Method"] = signing.ALGORITHM
            headers["Authorization"] = signing.authorization_header(
                access_key_id=creds.access_key_id, signature_hex=sig
            )
        else:
            headers["Authorization"] = f"Bearer {creds.token}"
        return headers

    def _attempt(
        self, action: str, body: bytes, connect_timeout: float, read_timeout: float
    ) -> _Reply:
        headers = self._headers(action, body)
        started = self._clock()
        try:
            resp = self._pool.request(
                "POST",
                self._url,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
                retries=False,
                redirect=False,
                preload_content=False,
            )
            try:
                status = resp.status
                resp_headers = {k.lower(): v for k, v in resp.headers.items()}
                data = self._read_bounded(resp, action)
            finally:
                resp.release_conn()
        except _AttemptError:
            raise
        except (HTTPError, OSError) as exc:
            raise _AttemptError(_transport_error(exc, action)) from exc
        latency_ms = (self._clock() - started) * 1000.0
        return self._interpret(
            action, status, resp_headers, data, latency_ms, sent_auth=headers["Authorization"]
        )

    def _read_bounded(self, resp: urllib3.BaseHTTPResponse, action: str) -> bytes:
        limit = self._max_response_bytes
        length = resp.headers.get("Content-Length", "").strip()
        if not (length.isdigit() and int(length) > limit):
            data = resp.read(limit + 1)
            if len(data) <= limit:
                return data
        resp.close()  # drop the connection rather than drain an oversized body
        raise _AttemptError(
            MalformedResponseError(
                f"response body larger than {limit} bytes",
                status=resp.status,
                request_id=_header_request_id(resp.headers),
                action=action,
            )
        )

    def _interpret(
        self,
        action: str,
        status: int,
        headers: Mapping[str, str],
        data: bytes,
        latency_ms: float,
        *,
        sent_auth: str,
    ) -> _Reply:
        # Whatever the server echoes back is scrubbed of every secret this request carried
        # (credentials, the Authorization value, the signature) before it reaches an error.
        secrets = [*self._secrets, sent_auth, sent_auth.rpartition("Signature=")[2]]

        def clean(value: object, limit: int = MAX_STRING) -> str | None:
            return _clean_str(_scrub(value, secrets), limit=limit)

        doc = _json_object(data)
        header_rid = clean(headers.get(REQUEST_ID_HEADER.lower()))
        request_id = header_rid
        code: str | None = None
        server_message: str | None = None
        if doc is not None:
            request_id = clean(doc.get("requestId")) or header_rid
            code = clean(doc.get("code"))
            server_message = clean(doc.get("message"), _MAX_SERVER_MESSAGE)
        if status == 200:
            reply = _success(action, doc, data, request_id, header_rid, code, latency_ms)
            if reply is not None:
                return reply
        raise _AttemptError(
            self._status_error(
                action,
                status,
                headers=headers,
                code=code,
                request_id=request_id,
                server_message=server_message,
                data=data,
            ),
            retry_after=_retry_after(headers.get("retry-after")),
        )

    def _status_error(
        self,
        action: str,
        status: int,
        *,
        headers: Mapping[str, str],
        code: str | None,
        request_id: str | None,
        server_message: str | None,
        data: bytes,
    ) -> ZenlayerError:
        kw: dict[str, Any] = {
            "status": status,
            "code": code,
            "request_id": request_id,
            "action": action,
            "detail": server_message,
        }
        if server_message is None and data and _looks_like_html(data):
            kw["detail"] = "non-JSON (HTML) body"
        upper = (code or "").upper()
        if status == 403 and headers.get("cf-mitigated", "").strip().lower() == "challenge":
            return ClientRequestError("network security challenge (cf-mitigated)", **kw)
        if status == 429 or upper in _THROTTLE_CODES:
            return ThrottledError("request rate limited", **kw)
        if status >= 500:
            return ServerError(f"server error (HTTP {status})", **kw)
        if status in (401, 403) or _is_auth_code(upper):
            return AuthError("authentication or authorization failed", **kw)
        if status == 404 or "NOT_FOUND" in upper:
            return NotFoundError("resource not found", **kw)
        if status == 451:
            return ClientRequestError("blocked by policy", **kw)
        if 300 <= status < 400:
            return ClientRequestError("unexpected redirect", **kw)
        return ClientRequestError("request rejected", **kw)


# -- helpers ------------------------------------------------------------------------------


def _success(  # noqa: PLR0917 - the parts of one HTTP 200 answer
    action: str,
    doc: dict[str, Any] | None,
    data: bytes,
    request_id: str | None,
    header_rid: str | None,
    code: str | None,
    latency_ms: float,
) -> _Reply | None:
    """An HTTP 200 answer's `response`; None when it is an error envelope (classified by its
    code like any error status)."""
    if doc is None:
        raise _AttemptError(
            MalformedResponseError(
                "HTTP 200 body is not a JSON object"
                + (" (HTML from a proxy?)" if _looks_like_html(data) else ""),
                status=200,
                request_id=header_rid,
                action=action,
            )
        )
    response = doc.get("response")
    if response is None and code is not None:
        return None
    if not isinstance(response, dict):
        raise _AttemptError(
            MalformedResponseError(
                "HTTP 200 body lacks a `response` object",
                status=200,
                request_id=request_id,
                action=action,
            )
        )
    rid = _clean_str(response.get("requestId")) or request_id or ""
    return _Reply(response=response, request_id=rid, latency_ms=latency_ms)


def _secret_strings(credentials: Credentials) -> tuple[str, ...]:
    if isinstance(credentials, BearerToken):
        values = [credentials.token]
    else:
        values = [credentials.access_key_password, credentials.access_key_id]
    return tuple(v for v in values if len(v) >= 4)


def _scrub(value: object, secrets: list[str]) -> object:
    if not isinstance(value, str):
        return value
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            value = value.replace(secret, "***")
    return value


def _transport_error(exc: BaseException, action: str) -> TransportError:
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, NewConnectionError):
        message = "could not connect"
    elif isinstance(exc, ConnectTimeoutError):
        message = "connect timeout"
    elif isinstance(exc, ReadTimeoutError):
        message = "read timeout"
    elif isinstance(exc, SSLError):
        message = "TLS error"
    elif isinstance(exc, ProtocolError):
        message = "connection reset or closed before a complete response"
    else:
        message = f"transport failure ({type(exc).__name__})"
    return TransportError(message, action=action)


def _header_request_id(headers: Mapping[str, str]) -> str | None:
    return _clean_str(headers.get(REQUEST_ID_HEADER))


def _clean_str(value: object, *, limit: int = MAX_STRING) -> str | None:
    """A printable, bounded version of a server-provided string (None if not a string)."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) <= limit and value.isprintable():
        return value  # the usual case, without a pass per character
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in value[:limit])
    return cleaned + ("..." if len(value) > limit else "")


def _json_object(data: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def _looks_like_html(data: bytes) -> bool:
    return data[:256].lstrip().startswith(b"<")


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date is not honoured; the backoff still applies
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _is_auth_code(code: str) -> bool:
    if not code:
        return False
    return code in _AUTH_CODES or any(part in code for part in _AUTH_CODE_PARTS)


# -- response parsing (strict about what is relied on, lenient about the rest) -------------


class _Shape:
    """Field accessors that raise MalformedResponseError naming the offending path."""

    def __init__(self, action: str, request_id: str | None) -> None:
        self.action = action
        self.request_id = request_id

    def fail(self, where: str, problem: str) -> MalformedResponseError:
        return MalformedResponseError(
            f"{where}: {problem}", status=200, request_id=self.request_id, action=self.action
        )

    def as_obj(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "not an object")
        return value

    def as_list(self, value: object, where: str, *, limit: int) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, "missing or not a list")
        if len(value) > limit:
            raise self.fail(where, f"more than {limit} entries")
        return value

    def req_str(self, entry: Mapping[str, Any], key: str, where: str) -> str:
        value = self.opt_str(entry, key, where)
        if value is None:
            raise self.fail(f"{where}.{key}", "missing or not a string")
        return value

    def opt_str(self, entry: Mapping[str, Any], key: str, where: str) -> str | None:
        value = entry.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}", "not a string")
        if len(value) > MAX_STRING:
            raise self.fail(f"{where}.{key}", f"longer than {MAX_STRING} characters")
        return value

    def opt_int(self, entry: Mapping[str, Any], key: str, where: str) -> int | None:
        value = entry.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{where}.{key}", "not an integer")
        return value

    def opt_bool(self, entry: Mapping[str, Any], key: str, where: str) -> bool | None:
        value = entry.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", "not a boolean")
        return value

    def port_str(self, entry: Mapping[str, Any], key: str, where: str) -> str:
        """A listener port: a string ("80", "80,443", "10000-10005") or an integer."""
        value = entry.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.opt_str(entry, key, where) or ""


def parse_backends(
    response: Mapping[str, Any], *, action: str = "DescribeBackendHealth", request_id: str | None
) -> tuple[tuple[BackendHealth, ...], tuple[str, ...]]:
    """The answer's backends, and a note for each row that could not be used as it is.

    Only an answer that is not the documented shape (no `backends` list, or rows none of which
    names a backend) is malformed. A row that names no backend (not an object, no listenerId,
    neither instanceId nor privateIpAddress) is skipped; a row that names one but whose status
    or per-port detail is unusable is kept as Unknown ("no data"): one bad row never blinds
    the rest of the load balancer, and never passes for a removal or an outage.
    """
    shape = _Shape(action, request_id)
    raw = shape.as_list(response.get("backends"), "backends", limit=MAX_BACKENDS)
    out: list[BackendHealth] = []
    notes: list[str] = []
    for index, item in enumerate(raw):
        where = f"backends[{index}]"
        try:
            identity = _parse_identity(shape, item, where)
        except MalformedResponseError as error:
            notes.append(f"{error.message} (row skipped)")
            continue
        try:
            status, detail = _parse_health(shape, item, where)
        except MalformedResponseError as error:
            notes.append(f"{error.message} (status taken as Unknown)")
            status, detail = UNKNOWN, ()
        out.append(BackendHealth(*identity, status, detail))
    if raw and not out:
        raise shape.fail("backends", f"none of the {len(raw)} rows names a backend: {notes[0]}")
    return tuple(out), tuple(notes)


_Identity = tuple[str, str, str, str, str | None, str, int | None, int | None]


def _parse_identity(shape: _Shape, item: object, where: str) -> _Identity:
    """A row's identity fields, in BackendHealth's order (its status follows them): one
    object built per row, as this runs for every backend of every answer."""
    entry = shape.as_obj(item, where)
    instance_id = shape.opt_str(entry, "instanceId", where) or None
    private_ip = shape.opt_str(entry, "privateIpAddress", where) or ""
    if instance_id is None and not private_ip:
        raise shape.fail(where, "has neither privateIpAddress nor instanceId")
    return (
        shape.req_str(entry, "listenerId", where),
        shape.opt_str(entry, "listenerName", where) or "",
        shape.opt_str(entry, "protocol", where) or "",
        shape.port_str(entry, "listenerPort", where),
        instance_id,
        private_ip,
        shape.opt_int(entry, "backendPort", where),
        shape.opt_int(entry, "weight", where),
    )


def _parse_health(shape: _Shape, item: object, where: str) -> tuple[str, tuple[PortHealth, ...]]:
    entry = shape.as_obj(item, where)
    status = shape.req_str(entry, "healthStatus", where)
    details: list[PortHealth] = []
    raw_detail = entry.get("healthStatusDetail")
    if raw_detail is not None:
        detail_where = f"{where}.healthStatusDetail"
        for d_index, d_item in enumerate(
            shape.as_list(raw_detail, detail_where, limit=MAX_DETAIL_ENTRIES)
        ):
            d_where = f"{detail_where}[{d_index}]"
            d_entry = shape.as_obj(d_item, d_where)
            port = shape.opt_int(d_entry, "port", d_where)
            if port is None:
                raise shape.fail(f"{d_where}.port", "missing or not an integer")
            details.append(PortHealth(port, shape.req_str(d_entry, "healthStatus", d_where)))
    return status, tuple(details)


def parse_load_balancer_page(
    response: Mapping[str, Any],
    *,
    action: str = "DescribeLoadBalancers",
    request_id: str | None,
) -> tuple[int, list[LoadBalancer]]:
    """One DescribeLoadBalancers page: (totalCount, the page's load balancers)."""
    shape = _Shape(action, request_id)
    total = shape.opt_int(response, "totalCount", "response")
    raw_set = response.get("dataSet")
    raw = [] if raw_set is None else shape.as_list(raw_set, "dataSet", limit=MAX_BACKENDS)
    page: list[LoadBalancer] = []
    for index, item in enumerate(raw):
        where = f"dataSet[{index}]"
        entry = shape.as_obj(item, where)
        page.append(
            LoadBalancer(
                load_balancer_id=shape.req_str(entry, "loadBalancerId", where),
                load_balancer_name=shape.opt_str(entry, "loadBalancerName", where) or "",
                region_id=shape.opt_str(entry, "regionId", where) or "",
                status=shape.opt_str(entry, "status", where) or "",
                listener_count=shape.opt_int(entry, "listenerCount", where),
                backend_server_count=shape.opt_int(entry, "backendServerCount", where),
            )
        )
    if total is None:
        total = len(page)  # no count given: this page is all there is
    return total, page


def parse_listeners(
    response: Mapping[str, Any], *, action: str = "DescribeListeners", request_id: str | None
) -> list[Listener]:
    """DescribeListeners: the SDK (zenlayercloud.zlb.v20250401) names the list `listeners`."""
    shape = _Shape(action, request_id)
    key = "listeners" if "listeners" in response or "listenerSet" not in response else "listenerSet"
    raw = shape.as_list(response.get(key), key, limit=MAX_BACKENDS)
    out: list[Listener] = []
    for index, item in enumerate(raw):
        where = f"{key}[{index}]"
        entry = shape.as_obj(item, where)
        health_check: HealthCheck | None = None
        raw_hc = entry.get("healthCheck")
        if raw_hc is not None:
            hc_where = f"{where}.healthCheck"
            hc = shape.as_obj(raw_hc, hc_where)
            health_check = HealthCheck(
                enabled=bool(shape.opt_bool(hc, "enabled", hc_where)),
                check_type=shape.opt_str(hc, "checkType", hc_where),
                check_delay_loop=shape.opt_int(hc, "checkDelayLoop", hc_where),
                check_retry=shape.opt_int(hc, "checkRetry", hc_where),
                fail_open=shape.opt_bool(hc, "failOpen", hc_where),
            )
        out.append(
            Listener(
                listener_id=shape.req_str(entry, "listenerId", where),
                listener_name=shape.opt_str(entry, "listenerName", where) or "",
                protocol=shape.opt_str(entry, "protocol", where) or "",
                listener_port=shape.port_str(entry, "port", where),
                health_check=health_check,
            )
        )
    return out
