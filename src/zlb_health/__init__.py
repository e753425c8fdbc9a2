"""zlb-health: health monitor for Zenlayer Load Balancer backends."""

__version__ = "0.1.0"
