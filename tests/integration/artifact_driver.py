"""Invoke the BUILT function once, roughly as the Lambda python3.13 runtime would.

Standalone on purpose: tests/integration/test_built_artifact.py runs it with the
.venv-lambda313 interpreter (python3.13 + boto3 only), `-s -P -B`, PYTHONPATH and
LAMBDA_TASK_ROOT set to the sam build artifact, and a temporary working directory; nothing of
the repository is importable. Arguments: the scheduled event as JSON. Prints log and metric
lines like the function does, then one line `RESULT {json}`: the handler's summary and where
everything came from.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any


class FakeContext:
    """The Lambda context attributes the handler and powertools read."""

    def __init__(self, timeout_seconds: float) -> None:
        self._deadline = time.monotonic() + timeout_seconds
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "zlb-health-artifact")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"))
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "artifact-test"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def loaded_from_elsewhere(roots: list[Path]) -> list[str]:
    """Modules whose file lies outside the artifact and the interpreter's own prefixes
    (this script excepted)."""
    me = Path(__file__).resolve()
    foreign = []
    for name, module in sorted(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file:
            continue
        path = Path(file).resolve()
        if path != me and not any(_within(path, root) for root in roots):
            foreign.append(f"{name}: {path}")
    return foreign


def main() -> int:
    task_root = Path(os.environ["LAMBDA_TASK_ROOT"]).resolve()
    event: dict[str, Any] = json.loads(sys.argv[1])
    timeout = float(os.environ.get("FUNCTION_TIMEOUT_SECONDS", "50"))

    # Like the runtime's bootstrap: resolve _HANDLER ("module.function") by import.
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    summary = handler(event, FakeContext(timeout))

    roots = [task_root, Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()]
    watched = ("zlb_health", module_name, "aws_lambda_powertools", "urllib3", "boto3", "botocore")
    result = {
        "version": list(sys.version_info[:3]),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "sys_path": sys.path,
        "modules": {name: getattr(sys.modules.get(name), "__file__", None) for name in watched},
        "foreign_modules": loaded_from_elsewhere(roots),
        "distributions": sorted(
            {
                (dist.metadata["Name"], str(Path(str(dist.locate_file(""))).resolve()))
                for dist in importlib.metadata.distributions()
            }
        ),
        "summary": summary,
    }
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
