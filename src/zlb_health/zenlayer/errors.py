"""Errors raised by the Zenlayer API client.

    ZenlayerError                  every client failure; carries status, code, request_id
    ├── TransportError             no usable HTTP answer: connect/read timeout, reset  (retryable)
    │   └── DeadlineExceededError  the caller's deadline left no time for (another) attempt
    ├── ApiStatusError             the API answered with an error envelope
    │   ├── ThrottledError         429 / REQUEST_LIMIT_EXCEEDED                       (retryable)
    │   ├── AuthError              401/403, bad signature, expired timestamp, wrong token
    │   ├── NotFoundError          the load balancer or listener does not exist
    │   ├── ServerError            5xx                                               (retryable)
    │   └── ClientRequestError     any other 4xx
    └── MalformedResponseError     not JSON, HTML from a proxy, missing `response`, bad shapes

Errors are matched by class, never by message text. `message` is ours (what failed); `detail` is
what the API itself said (its `message` field, scrubbed and truncated), kept apart so that neither
repeats the other. No error ever holds a credential, a signature or an Authorization header.
"""

from __future__ import annotations


class ZenlayerError(Exception):
    """Base class. `retryable` tells the retry loop whether another attempt may help."""

    retryable = False
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        action: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.status = status
        self.code = code
        self.request_id = request_id
        self.action = action

    def one_line(self) -> str:
        """The single line the CLI prints and the logs carry."""
        bits = [f"{self.action or 'Zenlayer API'} failed ({self.kind}): {self.message}"]
        if self.detail and self.detail != self.message:
            bits[0] += f" (API said: {self.detail})"
        if self.status is not None:
            bits.append(f"http={self.status}")
        if self.code:
            bits.append(f"code={self.code}")
        if self.request_id:
            bits.append(f"requestId={self.request_id}")
        return " ".join(bits)

    def __str__(self) -> str:
        return self.one_line()


class TransportError(ZenlayerError):
    retryable = True
    kind = "transport"


class DeadlineExceededError(TransportError):
    retryable = False
    kind = "deadline"


class ApiStatusError(ZenlayerError):
    kind = "api"


class ThrottledError(ApiStatusError):
    retryable = True
    kind = "throttled"


class AuthError(ApiStatusError):
    kind = "auth"


class NotFoundError(ApiStatusError):
    kind = "not_found"


class ServerError(ApiStatusError):
    retryable = True
    kind = "server"


class ClientRequestError(ApiStatusError):
    kind = "client"


class MalformedResponseError(ZenlayerError):
    kind = "malformed"
