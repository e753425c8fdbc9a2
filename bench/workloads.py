"""The workloads: each returns a plain dict of measured figures (rendered by report.py)."""

from __future__ import annotations

import math
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import (
    REPO,
    Code,
    CollectorPauses,
    FunctionProcess,
    Ticks,
    clean_env,
    code_env,
    function_env,
    latency_bound,
    loadavg,
    median,
    shard_event,
    timed_spawn,
)
from bench.moto_server import MotoProcess
from zlb_health_tools.emulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_PASSWORD,
    Emulator,
    Scenario,
    generate_fleet,
)
from zlb_health_tools.stack import create_local_stack

LATENCY_MS = 50.0
CONCURRENCY = 16
HEARTBEAT_MINUTES = 60  # SNAPSHOT_HEARTBEAT_MINUTES' default (template.yaml)


def _ids(count: int) -> list[str]:
    return [f"lb-{i:04d}" for i in range(1, count + 1)]


def _steady(runs: list[dict[str, Any]], expected_checked: int) -> dict[str, Any]:
    """Medians of the measured runs, plus per-run DynamoDB/AWS figures (identical run to run)."""
    for run in runs:
        summary = run["summary"]
        if summary["checked"] != expected_checked or summary["failed"] or summary["skipped"]:
            raise RuntimeError(f"run {run['run']} did not check every load balancer: {summary}")
    last = runs[-1]
    aws = last["aws"]
    ddb_calls = {k: v for k, v in aws["calls"].items() if k.startswith("dynamodb.")}
    ddb_trips = {k: v for k, v in aws["attempts"].items() if k.startswith("dynamodb.")}
    phases: dict[str, float] = {}
    for name in runs[0]["phases"]:
        phases[name] = median([r["phases"].get(name, 0.0) for r in runs])
    return {
        "runs": len(runs),
        "commits": sum(_commits(r) for r in runs),
        "walls": [r["wall"] for r in runs],
        "wall": median([r["wall"] for r in runs]),
        "cpu": median([r["cpu"] for r in runs]),
        "phases": phases,
        "ddb_calls": ddb_calls,
        "ddb_round_trips": sum(ddb_trips.values()),
        "ddb_reads": sum(v for k, v in ddb_trips.items() if "Get" in k or "Query" in k),
        "ddb_writes": sum(v for k, v in ddb_trips.items() if "Write" in k or "Put" in k)
        + ddb_trips.get("dynamodb.UpdateItem", 0),
        "aws_calls": aws["calls"],
        "items_written": last["store"].get("items_written", 0),
        "store_write_requests": last["store"].get("write_requests", 0),
        "store_read_requests": last["store"].get("read_requests", 0),
        "blob_bytes": last["store"].get("bytes_written", 0),
        "item_bytes": aws["item_bytes"],
        "snapshots": aws["snapshots"],
        "snapshot_bytes": aws["snapshot_bytes"],
        "states": aws.get("states", 0),
        "state_bytes": aws.get("state_bytes", 0),
        "state_writes": aws.get("state_writes", 0),
        "wru": aws["wru"],
        "gsi_wru": aws["gsi_wru"],
        "rru": aws["rru"],
        "log_bytes": last["stdout"]["log_bytes"],
        "emf_bytes": last["stdout"]["emf_bytes"],
        "log_lines": last["stdout"]["log_lines"],
        "emf_blobs": last["stdout"]["emf_blobs"],
    }


def _series(fn: FunctionProcess, ticks: Ticks, count: int, **kw: Any) -> list[dict[str, Any]]:
    return [fn.run(ticks.event(), **kw) for _ in range(count)]


def _commits(run: dict[str, Any]) -> int:
    """Writes to STATE items (commits, settles): none in a steady run. The tick's claim and
    finish (PutItem + UpdateItem on TICK#) happen every run and are not commits."""
    return int(run["aws"].get("state_writes", 0))


def _warm_up(fn: FunctionProcess, ticks: Ticks, minimum: int) -> list[dict[str, Any]]:
    """At least `minimum` runs, then on until a run commits no STATE item (steady state):
    the engine's streak counters move every STATE item for the first few runs."""
    runs = _series(fn, ticks, minimum)
    while (not runs or _commits(runs[-1])) and len(runs) < minimum + 8:
        runs.append(fn.run(ticks.event()))
    return runs


def workload_a(
    aws: MotoProcess,
    secret: str,
    *,
    sizes: list[int],
    warmup: int,
    runs: int,
    naive: bool,
    profile_dir: str | None,
    log: Any,
) -> dict[str, Any]:
    largest = max(sizes)
    out: dict[str, Any] = {
        "latency_ms": LATENCY_MS,
        "concurrency": CONCURRENCY,
        "listeners": 5,
        "backends_per_listener": 5,
        "sizes": {},
        "loadavg": loadavg(),
    }
    ticks = Ticks()
    with Emulator(generate_fleet(largest, 5, 5, latency_ms=LATENCY_MS), log_requests=False) as emu:
        for size in sizes:
            stack = create_local_stack(aws.url, prefix=f"bench-a{size}")
            env = function_env(aws, stack, emu, secret, lb_ids=_ids(size), concurrency=CONCURRENCY)
            fn = FunctionProcess(env, profile_dir)
            try:
                warm = _warm_up(fn, ticks, warmup)
                measured = _series(fn, ticks, runs)
                if profile_dir:
                    measured_profile = fn.run(ticks.event(), profile=f"a{size}")
                    del measured_profile
                heartbeat = _heartbeat_run(fn, ticks, size)
                maxrss = fn.close()
            finally:
                fn.kill()
            per_lb = _per_lb_metrics_run(
                {**env, "PER_LB_METRICS": "true"}, ticks, size, profile_dir
            )
            point = _steady(measured, size)
            point["heartbeat"] = heartbeat
            point["per_lb_metrics"] = per_lb
            point["first_run_wall"] = warm[0]["wall"] if warm else None
            point["warmup_runs"] = len(warm)
            point["warmup_commits"] = [_commits(r) for r in warm]
            point["maxrss_kb"] = maxrss
            point["limit"] = latency_bound(size, CONCURRENCY, LATENCY_MS / 1000)
            out["sizes"][size] = point
            log(
                f"  A {size} LBs: median {point['wall']:.3f}s (limit {point['limit']:.2f}s), "
                f"cpu {point['cpu']:.3f}s, rss {maxrss / 1024:.0f} MB"
            )
        out["floor"] = poll_floor(emu.url, _ids(largest), runs)
        log(f"  poll floor, {largest} LBs: median {out['floor']['wall']:.3f}s")
        if naive:
            stack = create_local_stack(aws.url, prefix="bench-naive")
            env = {
                **_client_env(emu.url, _ids(largest)),
                **aws.env(),
                "TABLE_NAME": stack.table_name,
            }
            _, result, _ = timed_spawn([sys.executable, "-m", "bench.naive_sdk"], env)
            result["lbs"] = largest
            out["naive"] = result
            log(f"  naive SDK script, {largest} LBs: {result['wall']:.2f}s")
    return out


def _client_env(emulator_url: str, lb_ids: list[str]) -> dict[str, str]:
    """The environment of a stand-alone client script (`bench/naive_sdk.py`, `bench/floor.py`):
    the emulator, its demo key and the load balancers to poll."""
    return {
        **clean_env(),
        "NO_PROXY": "127.0.0.1,localhost",
        "LOAD_BALANCER_IDS": ",".join(lb_ids),
        "BENCH_EMULATOR_URL": emulator_url,
        "BENCH_ACCESS_KEY_ID": DEMO_ACCESS_KEY_ID,
        "BENCH_ACCESS_KEY_PASSWORD": DEMO_ACCESS_KEY_PASSWORD,
    }


def poll_floor(emulator_url: str, lb_ids: list[str], passes: int) -> dict[str, Any]:
    """The poll's requests made as cheaply as a client can, same emulator and concurrency
    (`bench/floor.py`): what the stand-ins on these cores leave for any client."""
    env = {
        **_client_env(emulator_url, lb_ids),
        "BENCH_CONCURRENCY": str(CONCURRENCY),
        "BENCH_PASSES": str(passes),
    }
    _, result, _ = timed_spawn([sys.executable, "-m", "bench.floor"], env)
    result["wall"] = median(result["passes"])
    result["limit"] = latency_bound(len(lb_ids), CONCURRENCY, LATENCY_MS / 1000)
    return result


def _heartbeat_run(fn: FunctionProcess, ticks: Ticks, size: int) -> dict[str, Any]:
    """The run at which every load balancer's snapshot heartbeat is due: the schedule moves
    on by SNAPSHOT_HEARTBEAT_MINUTES (60, the default) past the measured runs, as if this
    container had been idle while others ran. Every load balancer got its last snapshot in
    the warm-up, so all are due at once (as after a deployment). Then one run more, which
    must be steady again."""
    ticks.skip(HEARTBEAT_MINUTES)
    run = fn.run(ticks.event())
    after = fn.run(ticks.event())
    if run["aws"]["snapshots"] != size or after["aws"]["snapshots"]:
        raise RuntimeError(
            f"heartbeat run wrote {run['aws']['snapshots']} snapshots for {size} LBs, the run "
            f"after it {after['aws']['snapshots']}"
        )
    point = _steady([run], size)
    point["after_items"] = after["store"].get("items_written", 0)
    return point


def _per_lb_metrics_run(
    env: dict[str, str], ticks: Ticks, size: int, profile_dir: str | None
) -> dict[str, Any]:
    """One steady run (same table) with PER_LB_METRICS=true: what its EMF costs in log bytes."""
    fn = FunctionProcess(env, profile_dir)
    try:
        fn.run(ticks.event())  # a new container's first run: build_runtime
        run = fn.run(ticks.event())
        fn.close()
    finally:
        fn.kill()
    return {
        "wall": run["wall"],
        "cpu": run["cpu"],
        "log_bytes": run["stdout"]["log_bytes"],
        "emf_bytes": run["stdout"]["emf_bytes"],
        "emf_blobs": run["stdout"]["emf_blobs"],
        "checked": run["summary"]["checked"],
        "lbs": size,
    }


def workload_b_scenario(backends: int, listeners: int = 10) -> tuple[Scenario, str]:
    """One load balancer, `backends` Alive backends over `listeners`; one turns Dead at step 1."""
    per_listener = backends // listeners
    lsns = []
    serial = 0
    for j in range(1, listeners + 1):
        rows = []
        for k in range(1, per_listener + 1):
            serial += 1
            rows.append(
                {
                    "instanceId": f"vm-{j:02d}-{k:04d}",
                    "privateIpAddress": f"10.{serial >> 16 & 255}.{serial >> 8 & 255}."
                    f"{serial & 255}",
                    "backendPort": 8080,
                }
            )
        lsns.append(
            {
                "listenerId": f"lsn-{j:02d}",
                "listenerPort": str(10000 + j),
                "backends": rows,
            }
        )
    changed = f"vm-03-{per_listener // 2:04d}"
    scenario = Scenario.from_dict(
        {
            "steps": 2,
            "loadBalancers": [
                {"loadBalancerId": "lb-big", "loadBalancerName": "big", "listeners": lsns}
            ],
            "timeline": [
                {
                    "step": 1,
                    "action": "set_status",
                    "loadBalancerId": "lb-big",
                    "listenerId": "lsn-03",
                    "backend": changed,
                    "healthStatus": "Dead",
                }
            ],
            "faults": [{"type": "latency", "latencyMs": LATENCY_MS}],
        }
    )
    return scenario, changed


def workload_b(
    aws: MotoProcess, secret: str, *, backends: int, profile_dir: str | None, log: Any
) -> dict[str, Any]:
    scenario, changed = workload_b_scenario(backends)
    ticks = Ticks()
    out: dict[str, Any] = {"backends": backends, "changed_backend": changed, "loadavg": loadavg()}
    with Emulator(scenario, log_requests=False) as emu:
        stack = create_local_stack(aws.url, prefix="bench-b")
        env = function_env(aws, stack, emu, secret, lb_ids=["lb-big"], failure_threshold=1)
        fn = FunctionProcess(env, profile_dir)
        try:
            warm = _warm_up(fn, ticks, 1)
            first = warm[0]
            steady = [fn.run(ticks.event()) for _ in range(3)]
            emu.advance()
            change = fn.run(ticks.event(), profile="b_change" if profile_dir else None)
            after = fn.run(ticks.event())
            maxrss = fn.close()
        finally:
            fn.kill()
    steady_point = _steady(steady, 1)
    published = change["published"]
    out.update(
        {
            "first_wall": first["wall"],
            "first_cpu": first["cpu"],
            "warmup_runs": len(warm),
            "steady": steady_point,
            "change_wall": change["wall"],
            "change_cpu": change["cpu"],
            "change_phases": change["phases"],
            "change_transitions": change["transitions"],
            "change_notifications": change["notifications"],
            "change_messages": change["summary"]["messagesPublished"],
            "change_mentions_backend": bool(published) and changed in str(published[0]),
            "after_cpu": after["cpu"],
            "after_messages": after["summary"]["messagesPublished"],
            # Change-only snapshots: the change run writes one (steady runs none).
            "snapshot_blob_bytes": change["store"]["bytes_written"],
            "snapshot_item_bytes": change["aws"]["snapshot_bytes"],
            "change_state_item_bytes": change["aws"].get("state_bytes", 0),
            "change_items": change["store"].get("items_written", 0),
            "maxrss_kb": maxrss,
        }
    )
    log(
        f"  B {backends} backends: change run cpu {change['cpu']:.3f}s wall "
        f"{change['wall']:.3f}s, messages {out['change_messages']}, "
        f"snapshot item {out['snapshot_item_bytes']} B"
    )
    return out


def workload_c(
    aws: MotoProcess,
    secret: str,
    *,
    load_balancers: int,
    warmup: int,
    runs: int,
    profile_dir: str | None,
    log: Any,
) -> dict[str, Any]:
    ticks = Ticks()
    page_size = 1000  # ZenlayerClient.describe_load_balancers' default, what the monitor uses
    out: dict[str, Any] = {"load_balancers": load_balancers, "loadavg": loadavg()}
    fleet = generate_fleet(load_balancers, 1, 1, latency_ms=LATENCY_MS)
    with Emulator(fleet, log_requests=False) as emu:
        stack = create_local_stack(aws.url, prefix="bench-c")
        env = function_env(aws, stack, emu, secret, lb_ids=None, concurrency=CONCURRENCY)
        fn = FunctionProcess(env, profile_dir)
        try:
            warm = _warm_up(fn, ticks, warmup)
            measured = []
            pages = []
            for index in range(runs):
                seen = len(emu.request_log)
                profile = "c" if profile_dir and index == runs - 1 else None
                measured.append(fn.run(ticks.event(), profile=profile))
                actions = Counter(e["action"] for e in emu.request_log[seen:])
                pages.append(actions["DescribeLoadBalancers"])
                out["api_requests"] = sum(actions.values())
            maxrss = fn.close()
        finally:
            fn.kill()
    point = _steady(measured, load_balancers)
    out.update(point)
    out["pages"] = max(pages)
    out["page_size"] = page_size
    out["expected_pages"] = math.ceil(load_balancers / page_size)
    out["limit"] = latency_bound(load_balancers, CONCURRENCY, LATENCY_MS / 1000, out["pages"])
    out["maxrss_kb"] = maxrss
    out["warmup_runs"] = len(warm)
    out["warmup_commits"] = [_commits(r) for r in warm]
    out["first_run_wall"] = warm[0]["wall"]
    log(
        f"  C {load_balancers} LBs, {out['pages']} pages: median {point['wall']:.3f}s "
        f"(limit {out['limit']:.2f}s)"
    )
    return out


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def parse_importtime(stderr: str) -> list[tuple[str, float, float]]:
    """Top-level imports (module, self ms, cumulative ms), heaviest first."""
    rows = []
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match and len(match.group(3)) == 1:
            rows.append((match.group(4), int(match.group(1)) / 1000, int(match.group(2)) / 1000))
    return sorted(rows, key=lambda r: -r[2])


def parse_importtime_all(stderr: str) -> dict[str, float]:
    """Cumulative ms of every module (nested too)."""
    found: dict[str, float] = {}
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            found[match.group(4)] = int(match.group(2)) / 1000
    return found


def without_bytecode(source: Path, into: Path) -> Path:
    """A copy of the bundle without its __pycache__: what the build shipped before it compiled
    the bundle (every cold start then compiles from source; /var/task is read-only)."""
    target = into / "nobytecode"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


COLD_FUNCTIONS = {
    "import zlb_health.handler": ("zlb_health/handler.py", "<module>"),
    "lambda_handler (first invocation)": ("zlb_health/handler.py", "lambda_handler"),
    "build_runtime (2 boto3 clients, pool, SecretCredentials)": (
        "zlb_health/handler.py",
        "build_runtime",
    ),
    "SecretCredentials.__init__ (powertools SecretsProvider)": (
        "zlb_health/adapters/secrets.py",
        "__init__",
    ),
    "SecretCredentials.get (first GetSecretValue)": ("zlb_health/adapters/secrets.py", "get"),
    "Monitor.run_once (the first cycle)": ("zlb_health/monitor.py", "run_once"),
    "botocore Session.create_client (all clients)": ("botocore/session.py", "create_client"),
    "botocore create_default_resolver (endpoints.json)": (
        "botocore/session.py",
        "create_default_resolver",
    ),
    "boto3 Session.__init__ (sessions created)": ("boto3/session.py", "__init__"),
}


def cold_profile(path: str) -> dict[str, dict[str, float]]:
    """Cumulative seconds (and calls) of the functions that explain the cold start."""
    import pstats

    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]
    found: dict[str, dict[str, float]] = {}
    for label, (file_suffix, function) in COLD_FUNCTIONS.items():
        calls, cumulative = 0, 0.0
        for (filename, _, name), (_, ncalls, _, cum, _) in stats.items():
            if filename.endswith(file_suffix) and name == function:
                calls += ncalls
                cumulative += cum
        if calls:
            found[label] = {"calls": calls, "seconds": cumulative}
    return found


def check_origins(found: dict[str, str | None]) -> None:
    """On the Lambda stand-in, the function's packages must come from the bundle and boto3
    from .venv-lambda313 (the runtime's), nothing from the bench's environment."""
    if not Code.lambda_runtime or Code.path is None:
        return
    venv = str(REPO / ".venv-lambda313")
    expected = {
        "zlb_health": str(Code.path),
        "aws_lambda_powertools": str(Code.path),
        "urllib3": str(Code.path),
        "boto3": venv,
        "botocore": venv,
    }
    wrong = {
        k: found.get(k) for k, root in expected.items() if not (found.get(k) or "").startswith(root)
    }
    if wrong:
        raise RuntimeError(f"function process imported from the wrong place: {wrong}")


def importtime_by_package(stderr: str) -> dict[str, float]:
    """Self ms of every imported module, summed by top-level package, heaviest first."""
    totals: dict[str, float] = {}
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            top = match.group(4).split(".", 1)[0]
            totals[top] = totals.get(top, 0.0) + int(match.group(1)) / 1000
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def _importtime(args: list[str], env: dict[str, str]) -> str:
    return timed_spawn([args[0], "-X", "importtime", *args[1:]], env)[2]


def cold_start(aws: MotoProcess, secret: str, *, repeats: int, log: Any) -> dict[str, Any]:
    ticks = Ticks()
    out: dict[str, Any] = {"repeats": repeats, "loadavg": loadavg()}
    python = list(Code.python)
    with (
        Emulator(generate_fleet(1, 1, 1), log_requests=False) as emu,
        tempfile.TemporaryDirectory(prefix="zlb-bench-") as scratch,
    ):
        stack = create_local_stack(aws.url, prefix="bench-cold")
        env = function_env(aws, stack, emu, secret, lb_ids=["lb-0001"])
        variants = {"handler": env}
        if Code.path is not None:
            variants["nobytecode"] = {
                **env,
                **code_env(without_bytecode(Code.path, Path(scratch))),
            }
        bare_env = {
            **clean_env(),
            **aws.env(),
            "PYTHONDONTWRITEBYTECODE": "1",
            **({"PYTHONPATH": str(REPO)} if Code.lambda_runtime else {}),
        }
        handler_args = [*python, "-m", "bench.worker", "cold"]
        bare_args = [*python, "-m", "bench.bare"]

        splits: dict[str, list[dict[str, float]]] = {}

        def handler(name: str) -> float:
            elapsed, result, _ = timed_spawn([*handler_args, _json(ticks.event())], variants[name])
            if result["summary"]["checked"] != 1:
                raise RuntimeError(f"cold run did not check the load balancer: {result}")
            if name == "handler":
                check_origins(result["origins"])
                out["origins"] = result["origins"]
                out["function_python"] = result["python"]
            splits.setdefault(name, []).append(result["in_process"])
            return elapsed

        # Once untimed each: the table's STATE item exists and the page cache is warm.
        for name in variants:
            handler(name)
        timed_spawn(bare_args, bare_env)
        times: dict[str, list[float]] = {name: [] for name in variants}
        bare_times = []
        for _ in range(repeats):
            for name in variants:
                times[name].append(handler(name))
            bare_times.append(timed_spawn(bare_args, bare_env)[0])
        handler_imports = _importtime([*handler_args, _json(ticks.event())], env)
        bare_imports = _importtime(bare_args, bare_env)
        profile_path = os.path.join(scratch, "cold.prof")
        timed_spawn(
            [*handler_args, _json(ticks.event())], {**env, "BENCH_COLD_PROFILE": profile_path}
        )
        out["profile"] = cold_profile(profile_path)
        python_times = [
            timed_spawn([*python, "-c", "print('{}')"], bare_env)[0] for _ in range(repeats)
        ]

    def split(name: str) -> dict[str, float]:
        runs = splits[name][1:]
        return {k: median([r[k] for r in runs]) for k in runs[0]}

    bare = median(bare_times)
    out.update(
        {
            "python_cmd": " ".join(Path(python[0]).parts[-3:-2] + tuple(python[1:])),
            "handler_split": split("handler"),
            "handler": median(times["handler"]),
            "handler_all": times["handler"],
            "bare": bare,
            "bare_all": bare_times,
            "python": median(python_times),
            "ratio": median(times["handler"]) / bare,
            "handler_imports": parse_importtime(handler_imports)[:12],
            "handler_modules": parse_importtime_all(handler_imports),
            "handler_packages": importtime_by_package(handler_imports),
            "bare_packages": importtime_by_package(bare_imports),
            "bare_imports": parse_importtime(bare_imports)[:6],
            "bare_modules": parse_importtime_all(bare_imports),
        }
    )
    if "nobytecode" in times:
        out["nobytecode"] = median(times["nobytecode"])
        out["nobytecode_all"] = times["nobytecode"]
        out["nobytecode_split"] = split("nobytecode")
        out["nobytecode_ratio"] = out["nobytecode"] / bare
    log(
        f"  cold start (Python {out.get('function_python', '?')}): handler "
        f"{out['handler']:.3f}s vs bare boto3 {bare:.3f}s (x{out['ratio']:.2f}); "
        + (f"bundle without bytecode {out['nobytecode']:.3f}s; " if "nobytecode" in out else "")
        + f"python alone {out['python']:.3f}s"
    )
    return out


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def profile_dir_for(enabled: bool) -> str | None:
    if not enabled:
        return None
    path = os.path.join(tempfile.gettempdir(), "zlb-bench-profiles")
    os.makedirs(path, exist_ok=True)
    return path


__all__ = ["REPO", "cold_start", "workload_a", "workload_b", "workload_c", "workload_shards"]


MEMORY_VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    # label: (worker mode, extra environment)
    "bench-instrumented": ("serve", {}),
    "plain": ("plain", {}),
    "plain, MALLOC_ARENA_MAX=2": ("plain", {"MALLOC_ARENA_MAX": "2"}),
    "plain, tracemalloc": ("plain", {"BENCH_TRACEMALLOC": "12"}),
}


def memory_study(
    aws: MotoProcess,
    secret: str,
    *,
    sizes: list[int],
    runs: int,
    variants: list[str] | None = None,
    log: Any,
) -> dict[str, Any]:
    """RSS of the function process step by step: interpreter, import, build_runtime, first run
    (creates every STATE item), the following runs; with and without the bench's
    instrumentation, with MALLOC_ARENA_MAX=2, and under tracemalloc (what Python holds)."""
    ticks = Ticks()
    out: dict[str, Any] = {"runs": runs, "loadavg": loadavg(), "points": []}
    largest = max(sizes)
    with Emulator(generate_fleet(largest, 5, 5, latency_ms=LATENCY_MS), log_requests=False) as emu:
        for size in sizes:
            for label in variants or list(MEMORY_VARIANTS):
                if size != largest and label != "plain":
                    continue
                mode, extra = MEMORY_VARIANTS[label]
                stack = create_local_stack(aws.url, prefix=f"bench-m{size}{os.urandom(2).hex()}")
                env = {
                    **function_env(aws, stack, emu, secret, lb_ids=_ids(size)),
                    **extra,
                }
                bench_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                fn = FunctionProcess(env, mode=mode)
                try:
                    fn.ask("build")
                    first = fn.run(ticks.event(), label="run 1")
                    walls = [first["wall"]]
                    for index in range(2, runs + 1):
                        walls.append(fn.run(ticks.event(), label=f"run {index}")["wall"])
                    memory = fn.ask("memory")
                    traces: dict[str, Any] = {}
                    if "BENCH_TRACEMALLOC" in extra:
                        last = f"run {runs}"
                        traces = {
                            "first_run": fn.ask("trace", later="run 1", earlier="build_runtime"),
                            "steady": fn.ask("trace", later=last, earlier="run 2"),
                            "held": fn.ask("trace", later=last),
                        }
                    maxrss = fn.close()
                finally:
                    fn.kill()
                point = {
                    "lbs": size,
                    "variant": label,
                    "steps": memory["steps"],
                    "traced_kb": memory["traced_kb"],
                    "origins": memory["origins"],
                    "maxrss_kb": maxrss,
                    "ru_maxrss_kb": fn.last_exit["ru_maxrss_kb"],
                    "bench_peak_kb": bench_peak_kb,
                    "walls": walls,
                    "traces": traces,
                }
                out["points"].append(point)
                log(
                    f"  memory {size} LBs, {label}: peak {maxrss / 1024:.1f} MB; "
                    + ", ".join(f"{s['step']} {s['rss_kb'] / 1024:.0f}" for s in memory["steps"])
                )
    return out


def health_line_bytes(backends: int = 25, down: int = 1) -> int:
    """Bytes of one `lb_health` line, rendered by the function's own `emit_health_lines`, for a
    load balancer of `backends` backends with `down` of them Dead (a load balancer prints one
    only while it is not all healthy)."""
    import io

    from zlb_health.handler import emit_health_lines
    from zlb_health.monitor import LoadBalancerReport, RunReport

    report = RunReport(run_id="bench", started_at=datetime.now(UTC))
    report.load_balancers["lb-0001"] = LoadBalancerReport(
        "lb-0001",
        ok=True,
        counts={
            "backends": backends,
            "alive": backends - down,
            "dead": down,
            "unknown": 0,
            "close": 0,
            "partial": 0,
        },
    )
    out = io.StringIO()
    emit_health_lines(report, out)
    return len(out.getvalue().encode("utf-8"))


def _shard_points(
    measured: list[list[dict[str, Any]]], sizes: Counter[int], load_balancers: int
) -> dict[str, Any]:
    """Per shard: medians of its measured runs and its latency bound; the per-LB slope."""
    per_shard = []
    for index in range(len(measured[0])):
        series = [t[index] for t in measured]
        point = _steady(series, sizes[index])
        point["lbs"] = sizes[index]
        point["pages"] = max(r["pages"] for r in series)
        point["api_requests"] = max(r["api_requests"] for r in series)
        point["limit"] = latency_bound(sizes[index], CONCURRENCY, LATENCY_MS / 1000, point["pages"])
        per_shard.append(point)
    worst = max(per_shard, key=lambda p: p["wall"] / p["limit"])
    latency = LATENCY_MS / 1000
    # Seconds per load balancer beyond discovery (the pages), over every shard's median run.
    polled = sum(p["wall"] - p["pages"] * latency for p in per_shard)
    return {
        "per_shard": per_shard,
        "runs": len(measured),
        "worst_ratio": worst["wall"] / worst["limit"],
        "slope_s_per_lb": polled / load_balancers,
        "ideal_slope_s_per_lb": latency / CONCURRENCY,
        "cpu_s_per_lb": sum(p["cpu"] for p in per_shard) / load_balancers,
    }


# The function's API budget: template.yaml's Timeout (50 s) less the handler's reserve for
# saving and publishing (handler.py: min(12, max(3, 25% of the remaining time))).
FUNCTION_TIMEOUT_S = 50.0
API_BUDGET_S = FUNCTION_TIMEOUT_S - min(12.0, max(3.0, FUNCTION_TIMEOUT_S * 0.25))


# moto holds one lock for every request; at 10,000 load balancers a call can wait behind the
# others' writes for longer than the function's 2 s read timeout (adapters/aws.py).
SHARDS_AWS_READ_TIMEOUT_S = 10.0


def _warm_then_measure(
    tick: Any,
    warmup: int,
    runs: int,
    out: dict[str, Any],
    *,
    bench_pauses: Callable[[], list[float]],
    moto_pauses: Callable[[], list[float]],
) -> list[list[dict[str, Any]]]:
    """Warm-up ticks, then `runs` measured ones (the sharded workload)."""
    started = time.perf_counter()
    # The first ticks create every STATE item (a transaction each); moto, slow and
    # serialised, can time a few out: those are created by the next tick, as in production.
    # Warm-up goes on until a tick commits nothing.
    warm = [tick(tolerate=True) for _ in range(warmup)]
    while any(_commits(r) or r.get("error") for r in warm[-1]) and len(warm) < warmup + 8:
        warm.append(tick(tolerate=True))
    out["warmup_errors"] = sum(bool(r.get("error")) for t in warm for r in t)
    out["warmup_ticks"] = len(warm)
    out["warmup_s"] = time.perf_counter() - started
    out["first_tick_walls"] = [r["wall"] for r in warm[0]]
    out["bench_gc_pauses_warmup"] = bench_pauses()
    out["moto_gc_pauses_warmup"] = moto_pauses()
    # A tick in which moto timed a call out (under other jobs' load) is not a measurement of
    # the function: it is counted and measured again.
    measured: list[list[dict[str, Any]]] = []
    out["measured_retries"] = 0
    while len(measured) < runs and out["measured_retries"] <= runs:
        results = tick(tolerate=True)
        if any(r.get("error") for r in results):
            out["measured_retries"] += 1
            continue
        measured.append(results)
    out["bench_gc_pauses"] = bench_pauses()
    out["moto_gc_pauses"] = moto_pauses()
    return measured


def workload_shards(
    aws: MotoProcess,
    secret: str,
    *,
    load_balancers: int,
    shards: int,
    warmup: int,
    runs: int,
    log: Any,
) -> dict[str, Any]:
    """A fleet that does not fit one invocation, in discovery mode, split over `shards`
    schedules: every tick runs each shard as its own invocation ({"shard": i, "shards": N},
    one after the other in one warm container, so each has the machine to itself, as each
    shard's Lambda would)."""
    from zlb_health.shards import shard_of

    ticks = Ticks()
    sizes = Counter(shard_of(lb, shards) for lb in _ids(load_balancers))
    out: dict[str, Any] = {
        "load_balancers": load_balancers,
        "shards": shards,
        "concurrency": CONCURRENCY,
        "latency_ms": LATENCY_MS,
        "page_size": 1000,
        "shard_sizes": [sizes[i] for i in range(shards)],
        "loadavg": loadavg(),
        "api_budget_s": API_BUDGET_S,
        "aws_read_timeout_s": SHARDS_AWS_READ_TIMEOUT_S,
    }
    fleet = generate_fleet(load_balancers, 1, 1, latency_ms=LATENCY_MS)
    with Emulator(fleet, log_requests=False) as emu:
        stack = create_local_stack(aws.url, prefix="bench-s")
        env = function_env(aws, stack, emu, secret, lb_ids=None, concurrency=CONCURRENCY)
        env["BENCH_AWS_READ_TIMEOUT"] = str(SHARDS_AWS_READ_TIMEOUT_S)
        fn = FunctionProcess(env)

        def tick(*, tolerate: bool = False) -> list[dict[str, Any]]:
            event = ticks.event()
            results = []
            for index in range(shards):
                seen = len(emu.request_log)
                run = fn.run(shard_event(event, index, shards), tolerate=tolerate)
                if run.get("error"):
                    log(f"    warm-up, shard {index}: {run['error'][:160]}")
                actions = Counter(e["action"] for e in emu.request_log[seen:])
                run["pages"] = actions["DescribeLoadBalancers"]
                run["api_requests"] = sum(actions.values())
                results.append(run)
            emu.request_log.clear()  # 10,000 entries a tick: keep the bench process small
            log("    tick: " + ", ".join(f"{r['wall']:.2f}s" for r in results))
            return results

        pauses = CollectorPauses()
        try:
            measured = _warm_then_measure(
                tick, warmup, runs, out, bench_pauses=pauses.take, moto_pauses=aws.collector_pauses
            )
            out["maxrss_kb"] = fn.close()
        finally:
            pauses.close()
            fn.kill()
    out.update(_shard_points(measured, sizes, load_balancers))
    log(
        f"  S {load_balancers} LBs over {shards} shards: per shard "
        + ", ".join(f"{p['wall']:.2f}s/{p['limit']:.2f}s" for p in out["per_shard"])
        + f"; worst x{out['worst_ratio']:.2f}; warm-up {out['warmup_s']:.0f}s"
    )
    return out
