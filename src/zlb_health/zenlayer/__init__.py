"""Zenlayer Cloud API v2 client for the load balancer service (zlb)."""

from typing import Final

API_PATH: Final = "/api/v2/zlb"
API_VERSION: Final = "2025-04-01"
