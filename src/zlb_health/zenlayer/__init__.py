"""Zenlayer Cloud API v2 client for the load balancer service (zlb)."""
