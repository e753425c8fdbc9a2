"""boto3 clients with explicit timeouts and one retry policy, so every AWS call fits the run.

botocore's defaults (60 s connect and read timeouts, legacy retries up to 10 attempts for
DynamoDB) outlive a 50 s function: one hung call would let Lambda kill the run mid-write. Here a
call takes at most `WORST_CALL_SECONDS` (two attempts of connect + read, and botocore's backoff
in between), and the run starts a call only when that much time is left (`Deadline`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import boto3
from botocore.config import Config

CONNECT_TIMEOUT: Final = 1.0
READ_TIMEOUT: Final = 2.0
ATTEMPTS: Final = 2  # botocore "standard" mode: the call and one retry, with jittered backoff
WORST_CALL_SECONDS: Final = ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT) + 1.0

CLIENT_CONFIG: Final = Config(
    connect_timeout=CONNECT_TIMEOUT,
    read_timeout=READ_TIMEOUT,
    retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
)


def client(service: str, **kwargs: Any) -> Any:
    """A boto3 client the standard way (AWS_* variables apply) with this module's limits."""
    return boto3.client(service, config=CLIENT_CONFIG, **kwargs)  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True)
class Deadline:
    """The end of the run on the monotonic clock: no AWS call starts that could outlive it."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    @classmethod
    def never(cls) -> Deadline:
        return cls(float("inf"))

    def remaining(self) -> float:
        return self.at - self.clock()

    def allows_call(self) -> bool:
        return self.remaining() >= WORST_CALL_SECONDS
