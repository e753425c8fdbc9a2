"""Local stand-ins and the function process: what the workloads are built from.

AWS is moto's server over HTTP in a process of its own (bench/moto_server.py), and the Zenlayer
API is the emulator, served from threads of the bench process. The function runs in its own
process (bench/worker.py), so its CPU time and memory are its own.
"""

from __future__ import annotations

import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from bench.moto_server import MotoProcess
from zlb_health_tools.emulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_PASSWORD,
    Emulator,
)
from zlb_health_tools.stack import LocalStack

REPO = Path(__file__).resolve().parents[1]
EVENT = json.loads((REPO / "events" / "scheduled.json").read_text(encoding="utf-8"))
_PROXIES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
# Our own kinds of variables: the function process gets exactly what the bench sets.
_OWN_PREFIXES = ("AWS_", "POWERTOOLS_", "ZENLAYER_", "BENCH_")
_OWN_NAMES = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONDONTWRITEBYTECODE"}


class Ticks:
    """Scheduled times one minute apart (each run is its own tick, as on the schedule)."""

    def __init__(self) -> None:
        self._next = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=6)

    def event(self) -> dict[str, Any]:
        tick, self._next = self._next, self._next + timedelta(minutes=1)
        return {
            **EVENT,
            "scheduledTime": tick.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "executionId": f"bench-{tick:%H%M}",
        }

    def skip(self, minutes: int) -> None:
        """The schedule goes on without this container for `minutes` (runs elsewhere)."""
        self._next += timedelta(minutes=minutes)


def shard_event(event: dict[str, Any], index: int, count: int) -> dict[str, Any]:
    """The schedule of shard `index` of `count` (template.yaml: each schedule's input)."""
    return {**event, "shard": index, "shards": count}


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in _PROXIES and not k.startswith(_OWN_PREFIXES) and k not in _OWN_NAMES
    }


def create_secret(aws: MotoProcess) -> str:
    client = boto3.client("secretsmanager", endpoint_url=aws.url, region_name="us-east-1")
    return client.create_secret(
        Name=f"zlb-bench-{os.urandom(4).hex()}",
        SecretString=json.dumps(
            {"accessKeyId": DEMO_ACCESS_KEY_ID, "accessKeyPassword": DEMO_ACCESS_KEY_PASSWORD}
        ),
    )["ARN"]


BUNDLE = REPO / ".aws-sam" / "build" / "MonitorFunction"
# The Lambda python3.13 runtime's stand-in (`make lambda-venv`): python3.13 with boto3 only.
LAMBDA_PYTHON = REPO / ".venv-lambda313" / "bin" / "python"
# As tests/integration/test_built_artifact.py runs the artifact: no user site, no script or
# working directory on sys.path, no bytecode written (/var/task is read-only).
LAMBDA_FLAGS = ("-s", "-P", "-B")


class Code:
    """The function process: which interpreter, and where zlb_health comes from.

    Default (`lambda`): the sam build bundle (zlb_health, powertools, urllib3, jmespath,
    typing_extensions, with the cpython-313 bytecode the build compiled) first on PYTHONPATH,
    the repository after it (for `bench.worker` only), on .venv-lambda313's python3.13, whose
    boto3/botocore stand in for the runtime's. `bench`: the bench's own interpreter with the
    editable src/ install (development only: not what Lambda runs).
    """

    path: Path | None = None
    python: tuple[str, ...] = (sys.executable,)
    lambda_runtime = False

    @classmethod
    def choose(cls, interpreter: str) -> str:
        if interpreter == "lambda":
            missing = [p for p in (BUNDLE, LAMBDA_PYTHON) if not p.exists()]
            if missing:
                raise SystemExit(
                    f"missing {', '.join(map(str, missing))}: run `make build lambda-venv` "
                    "(or pass --python bench)"
                )
            cls.path, cls.lambda_runtime = BUNDLE, True
            cls.python = (str(LAMBDA_PYTHON), *LAMBDA_FLAGS)
            probe = "import sys, boto3; print(sys.version.split()[0], boto3.__version__)"
            version = subprocess.run(
                [str(LAMBDA_PYTHON), "-s", "-c", probe], capture_output=True, text=True, check=True
            ).stdout.split()
            return (
                f"sam build bundle ({BUNDLE.relative_to(REPO)}) on Python {version[0]} "
                f"(.venv-lambda313, boto3 {version[1]})"
            )
        cls.path, cls.python, cls.lambda_runtime = None, (sys.executable,), False
        return f"src/ (editable install) on the bench's Python {sys.version.split()[0]}"


def code_env(path: Path | None = None) -> dict[str, str]:
    """PYTHONPATH for the function process: the code first, then the repository (bench.worker).
    The repository root holds no importable package other than bench (zlb_health is in src/)."""
    path = path if path is not None else Code.path
    if path is None:
        return {}
    return {"PYTHONPATH": os.pathsep.join((str(path), str(REPO)))}


def function_env(
    aws: MotoProcess,
    stack: LocalStack,
    emulator: Emulator,
    secret_arn: str,
    *,
    lb_ids: list[str] | None,
    concurrency: int = 16,
    failure_threshold: int = 2,
    heartbeat_minutes: int = 60,
    per_lb_metrics: bool = False,
) -> dict[str, str]:
    return {
        **code_env(),
        **clean_env(),
        **aws.env(),
        **stack.function_env(),
        "NO_PROXY": "127.0.0.1,localhost",
        "ZENLAYER_API_ENDPOINT": emulator.url,
        "ZENLAYER_CREDENTIALS_SECRET_ARN": secret_arn,
        "LOAD_BALANCER_IDS": ",".join(lb_ids or []),
        "API_CONCURRENCY": str(concurrency),
        "FAILURE_THRESHOLD": str(failure_threshold),
        # The template's defaults (SnapshotHeartbeatMinutes, PerLoadBalancerMetrics).
        "SNAPSHOT_HEARTBEAT_MINUTES": str(heartbeat_minutes),
        "PER_LB_METRICS": "true" if per_lb_metrics else "false",
        # As template.yaml sets them.
        "POWERTOOLS_SERVICE_NAME": "zlb-health",
        "POWERTOOLS_METRICS_NAMESPACE": "ZlbHealth",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "AWS_LAMBDA_FUNCTION_NAME": "zlb-health-bench",
        # /var/task is read-only in Lambda: nothing is compiled to disk there either.
        "PYTHONDONTWRITEBYTECODE": "1",
    }


class FunctionProcess:
    """One function container: `python -m bench.worker serve`, one command per run.

    mode "plain": the same handler without the bench's instrumentation (memory study)."""

    def __init__(
        self, env: dict[str, str], profile_dir: str | None = None, mode: str = "serve"
    ) -> None:
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self.last_exit: dict[str, Any] = {}
        args = [*Code.python, "-m", "bench.worker", mode]
        if profile_dir:
            args.append(profile_dir)
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=REPO,
            env=env,
        )

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        process = self._process
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(json.dumps(command) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=30)
            self._stderr.seek(0)
            raise RuntimeError(f"function process died:\n{self._stderr.read()[-4000:]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def run(
        self,
        event: dict[str, Any],
        profile: str | None = None,
        label: str | None = None,
        *,
        tolerate: bool = False,
    ) -> dict[str, Any]:
        """One invocation. `tolerate`: a run that raises (e.g. RunIncompleteError when moto
        times out under the first runs' writes) is reported in "error", not fatal."""
        command = {"cmd": "run", "event": event, "profile": profile, "label": label}
        # The emulator's heap in this process (its fleet) is long-lived: frozen, no full
        # collection walks it (seconds at 10,000 load balancers) while the function waits for
        # its answers. moto's process freezes its own (bench/moto_server.py).
        gc.freeze()
        return self._ask({**command, "tolerate": tolerate})

    def ask(self, cmd: str, **fields: Any) -> dict[str, Any]:
        return self._ask({"cmd": cmd, **fields})

    def close(self) -> int:
        """Ends the process; returns its peak RSS in KB (VmHWM; ru_maxrss in `last_exit`)."""
        self.last_exit = self._ask({"cmd": "exit"})
        self._process.wait(timeout=30)
        self._stderr.close()
        return int(self.last_exit["maxrss_kb"])

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)


def timed_spawn(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, Any], str]:
    """Wall time from spawning a process to its first stdout line; the line; its stderr."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    _, stderr = process.communicate(timeout=120)
    if process.returncode != 0 or not line:
        raise RuntimeError(f"{args} failed ({process.returncode}):\n{stderr[-4000:]}")
    return elapsed, json.loads(line), stderr


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def latency_bound(load_balancers: int, concurrency: int, latency_s: float, pages: int = 0) -> float:
    return pages * latency_s + math.ceil(load_balancers / concurrency) * latency_s


def loadavg() -> float:
    return os.getloadavg()[0]


class CollectorPauses:
    """A process's full (generation 2) garbage collections and how long each held the
    interpreter: the emulator serves from the bench process's threads and moto from its own
    process's, so a pause there stalls every answer of that stand-in."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started: float | None = None
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.pauses.append(time.perf_counter() - self._started)
            self._started = None

    def take(self) -> list[float]:
        """The pauses (seconds each) since the last take."""
        taken, self.pauses = self.pauses, []
        return taken

    def close(self) -> None:
        gc.callbacks.remove(self._callback)


def cheap_moto_transactions() -> None:
    """moto's TransactWriteItems deep-copies the whole target table before every transaction
    (its rollback backup): O(table size) per call, which makes the first runs of a 1,000-LB
    fleet take minutes and grows moto's process by gigabytes. The function only Puts in
    transactions (new Item objects, never mutated in place), so the backup needs its own
    top-level item dict and its own copy of the range-key dicts the transaction touches (the
    only ones it can change); the others are shared. O(hash keys) pointer copies instead of a
    deep copy of every item. Applied inside moto's bench process only (bench/moto_server.py)."""
    import copy
    import threading
    import types
    from collections import defaultdict

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    touched = threading.local()

    def deepcopy(obj: Any, memo: Any = None) -> Any:
        if isinstance(obj, Table):
            clone = copy.copy(obj)
            clone.items = defaultdict(dict, obj.items)
            for hash_value in getattr(touched, "keys", {}).get(obj.name, ()):
                rows = obj.items.get(hash_value)
                if isinstance(rows, dict):
                    clone.items[hash_value] = dict(rows)
            return clone
        return copy.deepcopy(obj, memo)

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        keys: dict[str, set[Any]] = {}
        for action in transact_items:
            _, op = next(iter(action.items()))
            table = self.tables.get(op.get("TableName"))
            attrs = op.get("Item") or op.get("Key") or {}
            if table is not None and table.hash_key_attr in attrs:
                keys.setdefault(table.name, set()).add(DynamoType(attrs[table.hash_key_attr]))
        touched.keys = keys
        try:
            original(self, transact_items)
        finally:
            touched.keys = {}

    shim = types.SimpleNamespace(**{n: getattr(copy, n) for n in ("copy", "error", "Error")})
    shim.deepcopy = deepcopy
    models.copy = shim  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def cheap_moto_queries() -> None:
    """moto answers a Query on the table's own key by listing and sorting every item of the
    table (`Table.all_items`), then keeping the partition asked for: O(table) per Query. At
    10,000 load balancers the run's one Query (the silences) held moto's lock long enough for
    the state reads beside it to time out. DynamoDB reads only the partition; so does moto
    here: during a base-table Query, all_items lists only that partition (Query filters by the
    hash key and sorts by the range key itself). Index queries are unchanged."""
    import threading

    from moto.dynamodb.models.table import Table

    local = threading.local()
    all_items = Table.all_items
    query = Table.query

    def partition_items(self: Any) -> Any:
        only = getattr(local, "partition", None)
        if only is None or only[0] is not self:
            return all_items(self)
        rows = self.items.get(only[1])
        if rows is None:
            return []
        return list(rows.values()) if self.range_key_attr else [rows]

    def partition_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
        # scan_index_forward, projection_expressions, index_name, ...): moto passes them so.
        hash_key = args[0] if args else kwargs.get("hash_key")
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        if index_name is not None or hash_key is None:
            return query(self, *args, **kwargs)
        local.partition = (self, hash_key)
        try:
            return query(self, *args, **kwargs)
        finally:
            local.partition = None

    Table.all_items = partition_items  # type: ignore[method-assign]
    Table.query = partition_query  # type: ignore[method-assign]


def cheap_moto_serializer() -> None:
    """moto 5 turns every DynamoDB result into its wire JSON with a generic, shape-driven
    serializer that walks each attribute of each item: 6 ms per call on average, and most of
    moto's CPU in workload A (a whole core while a 200-LB run reads its STATE items, taken
    from the function and the emulator on this 2-core machine). DynamoDB's results are
    already in wire form after moto's own `dynamo_to_dict` (attribute values as DynamoDB JSON),
    so `json.dumps` gives the same document, binary values base64-encoded as the serializer
    does: checked equal, parsed, over BatchGetItem, Query and PutItem results of STATE-like
    items (binary, map, list, set, null and bool attributes) before this was adopted. A result
    json cannot encode (CreateTable's and DescribeTable's datetimes) keeps moto's serializer.
    Applied inside moto's bench process only (bench/moto_server.py)."""
    import base64

    from moto.dynamodb.responses import DynamoResult

    serialize = DynamoResult.execute_result

    def wire(value: Any) -> str:
        if isinstance(value, bytes):
            return base64.b64encode(value).decode("ascii")
        raise TypeError(type(value).__name__)

    def execute_result(self: Any, context: Any) -> Any:
        try:
            body = json.dumps(self.result, default=wire)
        except TypeError:
            return serialize(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
