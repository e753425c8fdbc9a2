"""Run the real Lambda handler once in this process (tests start several side by side)."""

from __future__ import annotations

import json
import sys

from zlb_health.handler import lambda_handler
from zlb_health_tools.demo import FakeContext


def main() -> int:
    event = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    summary = lambda_handler(event, FakeContext(timeout_seconds=30))
    print("SUMMARY " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
