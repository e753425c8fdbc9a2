"""Shared fixtures: a scripted local Zenlayer API stub on 127.0.0.1 (real HTTP, real sockets).

The stub checks signatures with the emulator's reference verifier (emulator/signature.py,
written from the vendor's docs and pinned to the vendor's vector and the official SDK), never
with the client's own signing module: a wrong signature must not be "verified" by the same
mistake.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import Phase, settings

from zlb_health_tools.emulator import signature

# Under `make mutation` (tools/zlb_health_tools/mutation.py sets ZLB_MUTATION=1): the same
# examples, as many, but a property test stops at its first failing example instead of
# shrinking it to a minimal one (a mutant is detected either way; shrinking a failure of a
# mutated from_dict took about a minute per mutant), and no example database, so no mutant's
# result depends on the failures of the mutants run before it.
settings.register_profile(
    "mutation", phases=(Phase.explicit, Phase.reuse, Phase.generate), database=None
)
if os.environ.get("ZLB_MUTATION"):
    settings.load_profile("mutation")

TEST_KEY_ID = "AKID-test-0001"
TEST_PASSWORD = "pw-Gu5t9xGARNpq86cd98joQYCN3-secret"
TEST_TOKEN = "tok-0123456789abcdef-secret"


@dataclass
class Reply:
    """One scripted answer. `body` may be bytes, str or a JSON-able object."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hold: bool = False  # never answer (until the stub closes): the read-timeout test
    reset: bool = False  # close the socket (RST) without answering


def ok(response: dict[str, Any], request_id: str = "req-ok") -> Reply:
    return Reply(200, {"requestId": request_id, "response": {"requestId": request_id, **response}})


def fail(status: int, code: str | None, request_id: str = "req-err", message: str = "") -> Reply:
    body: dict[str, Any] = {"requestId": request_id, "message": message or "failed"}
    if code is not None:
        body["code"] = code
    return Reply(status, body)


@dataclass
class Seen:
    action: str | None
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None  # None: not signed with ZC2-HMAC-SHA256

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class StubServer:
    """Answers POSTs from a script of Replies (or callables), recording what it saw."""

    Reply = Reply
    ok = staticmethod(ok)
    fail = staticmethod(fail)
    key_id = TEST_KEY_ID
    token = TEST_TOKEN

    def __init__(self) -> None:
        self.script: list[Reply | Callable[[Seen], Reply]] = []
        self.default: Reply | None = None
        self.seen: list[Seen] = []
        self.password = TEST_PASSWORD
        self._lock = threading.Lock()
        self.stop = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                stub.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def push(self, *replies: Reply | Callable[[Seen], Reply]) -> None:
        with self._lock:
            self.script.extend(replies)

    def _verify(self, headers: dict[str, str], body: bytes) -> bool | None:
        auth = signature.parse_authorization(headers.get("authorization", ""))
        if auth is None:
            return None
        return auth.credential == TEST_KEY_ID and signature.signature_matches(
            auth,
            password=self.password,
            timestamp=headers.get("x-zc-timestamp", ""),
            content_type=headers.get("content-type", ""),
            host=headers.get("host", ""),
            body=body,
        )

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length", "0"))
        body = h.rfile.read(length)
        headers = {k.lower(): v for k, v in h.headers.items()}
        seen = Seen(headers.get("x-zc-action"), headers, body, self._verify(headers, body))
        with self._lock:
            self.seen.append(seen)
            item = self.script.pop(0) if self.script else self.default
        if item is None:
            item = fail(500, "STUB_SCRIPT_EMPTY")
        reply = item(seen) if callable(item) else item
        if reply.hold:
            self.stop.wait()
            return
        if reply.reset:
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        if isinstance(reply.body, bytes):
            data = reply.body
        elif isinstance(reply.body, str):
            data = reply.body.encode("utf-8")
        elif reply.body is None:
            data = b""
        else:
            data = json.dumps(reply.body).encode("utf-8")
        h.send_response(reply.status)
        content_type = "application/json"
        if data.lstrip().startswith(b"<"):
            content_type = "text/html"
        h.send_header("Content-Type", reply.headers.get("Content-Type", content_type))
        for key, value in reply.headers.items():
            if key != "Content-Type":
                h.send_header(key, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class FakeTime:
    """A monotonic clock that only moves when the client sleeps (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
