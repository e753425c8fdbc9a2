"""A local AWS for `make run` and the tests: moto's server over real HTTP on loopback.

moto's threaded server is not safe under concurrent requests (its dicts change while other
threads iterate them), so every request goes through one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from zlb_health_tools.served import Served

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
REGION = "us-east-1"
# moto accepts any credentials; these are placeholders, never real ones.
_PLACEHOLDER = "testing"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": _PLACEHOLDER, "AWS_SECRET_ACCESS_KEY": _PLACEHOLDER}


class _Serialized:
    def __init__(self, app: Callable[[Environ, StartResponse], Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        with self._lock:
            # Drain the body inside the lock: moto reads lazily.
            return list(self._app(environ, start_response))


def client_env(url: str) -> dict[str, str]:
    """The standard boto3 variables that point every client at the moto server at `url`."""
    return {"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": REGION, **FAKE_CREDENTIALS}


class LocalAws(Served):
    """Context manager: `with LocalAws() as aws: aws.url, aws.env()`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"  # noqa: S101
        return f"http://{self._host}:{self._server.server_port}"

    def env(self) -> dict[str, str]:
        """The standard boto3 variables that point every client at this server."""
        return client_env(self.url)

    def start(self) -> LocalAws:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        app = _Serialized(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._host, self._port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
