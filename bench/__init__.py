"""zlb-health benchmark suite: `make bench` (bench/run.py) writes docs/benchmarks.md."""
