"""Typed results of the zlb actions the monitor uses.

Parsing is strict about what it relies on and lenient about the rest: unknown fields are
ignored and unknown status strings are kept as they are (never dropped, never guessed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

ALIVE: Final = "Alive"
DEAD: Final = "Dead"
UNKNOWN: Final = "Unknown"
CLOSE: Final = "Close"
KNOWN_STATUSES: Final = frozenset({ALIVE, DEAD, UNKNOWN, CLOSE})


# The two row types are NamedTuples, not frozen dataclasses: as immutable, and built in about a
# fifth of the time (a frozen dataclass sets each field through object.__setattr__), which
# matters at one of each per backend and port of every answer.


class PortHealth(NamedTuple):
    port: int
    health_status: str


class BackendHealth(NamedTuple):
    """One ListenerBackendHealth entry."""

    listener_id: str
    listener_name: str
    protocol: str
    listener_port: str
    instance_id: str | None
    private_ip_address: str
    backend_port: int | None
    weight: int | None
    health_status: str
    health_status_detail: tuple[PortHealth, ...] = ()

    @property
    def target(self) -> str:
        """The instance id, or the private IP for IP-only backends."""
        return self.instance_id or self.private_ip_address

    @property
    def effective_port(self) -> str:
        """The backend port, or the listener port(s) it follows when absent."""
        return str(self.backend_port) if self.backend_port is not None else self.listener_port


@dataclass(frozen=True, slots=True)
class BackendHealthResult:
    request_id: str
    backends: tuple[BackendHealth, ...]
    latency_ms: float = 0.0
    invalid_rows: tuple[str, ...] = ()  # what was wrong with each row skipped or taken as Unknown


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    load_balancer_id: str
    load_balancer_name: str = ""
    region_id: str = ""
    status: str = ""
    listener_count: int | None = None
    backend_server_count: int | None = None


@dataclass(frozen=True, slots=True)
class HealthCheck:
    enabled: bool
    check_type: str | None = None
    check_delay_loop: int | None = None
    check_retry: int | None = None
    fail_open: bool | None = None


@dataclass(frozen=True, slots=True)
class Listener:
    listener_id: str
    listener_name: str = ""
    protocol: str = ""
    listener_port: str = ""
    health_check: HealthCheck | None = None
