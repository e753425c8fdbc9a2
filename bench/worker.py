"""The function process: the real Lambda handler, driven by the bench over stdin.

`python -m bench.worker serve`: reads one JSON command per line from stdin
(`{"cmd": "run", "event": {...}}` or `{"cmd": "exit"}`) and answers one JSON line per command on
the original stdout. `python -m bench.worker cold EVENT_JSON`: imports the handler, runs it once,
prints the result and exits (the cold-start measurement; nothing else is imported).

What the handler prints (powertools' JSON logs and EMF metric blobs: what Lambda ships to
CloudWatch Logs) goes to a counting sink standing in for the runtime's stdout pipe.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import uuid
from typing import Any, TextIO


class CountingSink:
    """sys.stdout for the handler: counts bytes (log lines vs EMF blobs), writes to /dev/null."""

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self.log_bytes = 0
        self.emf_bytes = 0
        self.log_writes = 0
        self.emf_writes = 0
        self._last_emf = False
        self.encoding = "utf-8"

    def write(self, text: str) -> int:
        size = len(text.encode("utf-8"))
        emf = '"_aws"' in text or (text == "\n" and self._last_emf)
        if emf:
            self.emf_bytes += size
            self.emf_writes += text != "\n"
        else:
            self.log_bytes += size
            self.log_writes += text != "\n"
        self._last_emf = emf
        return self._target.write(text)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return False

    def counts(self) -> dict[str, int]:
        return {
            "log_bytes": self.log_bytes,
            "emf_bytes": self.emf_bytes,
            "log_lines": self.log_writes,
            "emf_blobs": self.emf_writes,
        }


class FakeContext:
    """The parts of the Lambda context the handler reads (tools' FakeContext pulls werkzeug)."""

    function_name = "zlb-health-bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:zlb-health-bench"

    def __init__(self, timeout_seconds: float = 50.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(max(0.0, self._deadline - time.monotonic()) * 1000)


def _redirect_stdout() -> tuple[TextIO, CountingSink]:
    results = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    sink = CountingSink(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - process-long
    sys.stdout = sink  # type: ignore[assignment]
    return results, sink


def cold(event: dict[str, Any]) -> None:
    started = time.perf_counter()
    results, _ = _redirect_stdout()
    profile = os.environ.get("BENCH_COLD_PROFILE")
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    from zlb_health.handler import lambda_handler

    imported = time.perf_counter()
    summary = lambda_handler(event, FakeContext())
    done = time.perf_counter()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    timings = {"import": imported - started, "first_invoke": done - imported}
    answer = {"summary": summary, "origins": origins(), "in_process": timings}
    answer["python"] = ".".join(map(str, sys.version_info[:3]))
    results.write(json.dumps(answer) + "\n")
    results.flush()


WATCHED = ("zlb_health", "aws_lambda_powertools", "urllib3", "jmespath", "boto3", "botocore")


def origins() -> dict[str, str | None]:
    """Where the function's packages were imported from (checked by the bench)."""
    return {name: getattr(sys.modules.get(name), "__file__", None) for name in WATCHED}


class Phases:
    """Wall time spent in the monitor's steps, by wrapping them (bench process only)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.last_report: Any = None

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)
        phases = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                phases.seconds[label] = (
                    phases.seconds.get(label, 0.0) + time.perf_counter() - started
                )

        setattr(owner, name, timed)


def memory() -> dict[str, int]:
    """This process's resident set now and its peak (VmRSS, VmHWM), in KB, and its threads."""
    found: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in {"VmRSS", "VmHWM", "Threads"}:
                found[name] = int(value.split()[0])
    return {"rss_kb": found["VmRSS"], "hwm_kb": found["VmHWM"], "threads": found["Threads"]}


class Tracer:
    """tracemalloc snapshots by label (BENCH_TRACEMALLOC=frames): what Python code holds."""

    def __init__(self, frames: int) -> None:
        import tracemalloc

        self._tm = tracemalloc
        self.snapshots: dict[str, Any] = {}
        if frames:
            tracemalloc.start(frames)

    @property
    def on(self) -> bool:
        return bool(self._tm.is_tracing())

    def take(self, label: str) -> None:
        if self.on:
            self.snapshots[label] = self._tm.take_snapshot().filter_traces(
                [self._tm.Filter(False, self._tm.__file__)]
            )

    def traced_kb(self) -> int:
        return self._tm.get_traced_memory()[0] // 1024 if self.on else 0

    def compare(self, later: str, earlier: str | None, top: int = 12) -> list[dict[str, Any]]:
        """The largest allocations alive at `later` and not at `earlier`, by traceback."""
        snapshot = self.snapshots[later]
        if earlier is None:
            stats = snapshot.statistics("traceback")
            rows = [(s.size, s.count, s.traceback) for s in stats]
        else:
            stats = snapshot.compare_to(self.snapshots[earlier], "traceback")
            rows = [(s.size_diff, s.count_diff, s.traceback) for s in stats]
        rows.sort(key=lambda r: -r[0])
        return [
            {
                "kb": size / 1024,
                "blocks": count,
                "where": [f"{_short(f.filename)}:{f.lineno}" for f in reversed(traceback)],
            }
            for size, count, traceback in rows[:top]
        ]

    def by_package(self, label: str) -> dict[str, float]:
        """KB alive at `label`, by the package of the allocating line (innermost frame)."""
        totals: dict[str, float] = {}
        for stat in self.snapshots[label].statistics("filename"):
            name = _package(stat.traceback[0].filename)
            totals[name] = totals.get(name, 0.0) + stat.size / 1024
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/MonitorFunction/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename.rsplit("/", 2)[-1] if "/" in filename else filename


def _package(filename: str) -> str:
    short = _short(filename)
    if short.startswith(".") or short[:2].isdigit():  # stdlib: lib/python3.13/x.py
        short = short.split("/", 1)[-1]
    head = short.split("/", 1)[0]
    return head.removesuffix(".py") if "/" in short or head.endswith(".py") else head


def serve_plain() -> None:
    """The function process without the bench's instrumentation (no call ledger, no phase
    wrappers, no counting sink): to tell the bench's own memory from the function's."""
    results = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - process-long
    tracer = Tracer(int(os.environ.get("BENCH_TRACEMALLOC", "0") or 0))
    steps = [{"step": "interpreter", **memory()}]
    from zlb_health import handler

    steps.append({"step": "import handler", **memory()})
    _command_loop(results, handler, steps, tracer, None)


def _command_loop(
    results: TextIO, handler: Any, steps: list[dict[str, Any]], tracer: Tracer, run: Any
) -> None:
    """Commands shared by both modes: build, run (plain), memory, trace, exit."""
    runs = 0
    for line in sys.stdin:
        command = json.loads(line)
        cmd = command["cmd"]
        runs += cmd == "run"
        if cmd == "exit":
            # VmHWM, not ru_maxrss: after fork/vfork + exec, Linux carries the parent's peak
            # RSS into the child's ru_maxrss (the bench process's, with moto and the emulator).
            usage = resource.getrusage(resource.RUSAGE_SELF)
            answer = {"maxrss_kb": memory()["hwm_kb"], "ru_maxrss_kb": usage.ru_maxrss}
            results.write(json.dumps(answer) + "\n")
            return
        if cmd == "build":  # build the container's runtime before the first invocation
            handler.get_runtime()
            steps.append({"step": "build_runtime", **memory()})
            tracer.take("build_runtime")
            answer: dict[str, Any] = {"ok": True}
        elif cmd == "memory":
            answer = {"steps": steps, "traced_kb": tracer.traced_kb(), "origins": origins()}
        elif cmd == "trace":
            answer = {
                "compare": tracer.compare(command["later"], command.get("earlier"))
                if tracer.on
                else [],
                "packages": tracer.by_package(command["later"]) if tracer.on else {},
            }
        elif run is not None:
            answer = run(runs, command)
        else:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            summary = handler.lambda_handler(command["event"], FakeContext())
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            answer = {"run": runs, "wall": wall, "cpu": cpu, "summary": summary}
        if cmd == "run":
            label = command.get("label") or f"run {runs}"
            steps.append({"step": label, **memory()})
            tracer.take(label)
            answer.update(steps[-1])
        results.write(json.dumps(answer) + "\n")


def serve(profile_dir: str | None) -> None:
    tracer = Tracer(int(os.environ.get("BENCH_TRACEMALLOC", "0") or 0))
    steps = [{"step": "interpreter", **memory()}]
    results, sink = _redirect_stdout()
    from bench import ddb

    ledger = ddb.install()
    from zlb_health import handler, monitor
    from zlb_health.adapters import store

    _moto_read_timeout()

    steps.append({"step": "import handler", **memory()})

    phases = Phases()
    phases.wrap(handler, "fetch_credentials", "credentials")
    phases.wrap(store.HealthStore, "claim_tick", "tick")
    phases.wrap(store.HealthStore, "finish_tick", "tick")
    phases.wrap(monitor.Monitor, "_load_fleet", "load_fleet")
    phases.wrap(monitor.Monitor, "_plan", "discovery")
    phases.wrap(monitor.Monitor, "_observe", "poll")
    phases.wrap(store.HealthStore, "load_states", "load_states")
    phases.wrap(store.HealthStore, "put_snapshots", "put_snapshots")
    phases.wrap(monitor.Monitor, "_load_silences", "silences")
    phases.wrap(monitor.Monitor, "_commit_all", "commit")
    phases.wrap(monitor.Monitor, "_publish", "publish")
    for emit in ("emit_run_metrics", "emit_load_balancer_metrics", "emit_health_lines"):
        phases.wrap(handler, emit, "emit_metrics")
    # Summed over threads (not wall time): per-call costs inside the fan-outs.
    from zlb_health.zenlayer.client import ZenlayerClient

    phases.wrap(ZenlayerClient, "describe_backend_health", "sum_api_calls")
    phases.wrap(monitor, "apply_observation", "sum_engine")
    run_once = monitor.Monitor.run_once

    def capture(self: Any, **kwargs: Any) -> Any:
        phases.last_report = run_once(self, **kwargs)
        return phases.last_report

    monitor.Monitor.run_once = capture  # type: ignore[method-assign]

    def run(runs: int, command: dict[str, Any]) -> dict[str, Any]:
        phases.seconds = {}
        before_aws = ledger.snapshot()
        before_out = sink.counts()
        store_before = _store_counters(handler)
        profiler = None
        if profile_dir and command.get("profile"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        summary, error = _invoke(handler, command)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(os.path.join(profile_dir, f"{command['profile']}.prof"))
        out = sink.counts()
        report = phases.last_report
        return {
            "run": runs,
            "wall": wall,
            "cpu": cpu,
            "summary": summary,
            "error": error,
            "phases": phases.seconds,
            "aws": ddb.delta(ledger.snapshot(), before_aws),
            "store": {k: v - store_before.get(k, 0) for k, v in _store_counters(handler).items()},
            "stdout": {k: v - before_out[k] for k, v in out.items()},
            "transitions": sum(r.transitions for r in report.load_balancers.values()),
            "notifications": sum(r.notifications_created for r in report.load_balancers.values()),
            "published": report.published,
            "api_latency_ms": _latencies(report) if summary is not None else {},
            "hwm_kb": memory()["hwm_kb"],
        }

    _command_loop(results, handler, steps, tracer, run)


def _moto_read_timeout() -> None:
    """BENCH_AWS_READ_TIMEOUT: a longer botocore read timeout than the function's 2 s, for
    fleets at which moto (one lock, far slower than DynamoDB) keeps a call queued for longer.
    A slow call still lengthens the measured cycle; it only no longer fails the run."""
    seconds = os.environ.get("BENCH_AWS_READ_TIMEOUT")
    if not seconds:
        return
    from botocore.config import Config

    from zlb_health.adapters import aws

    aws.CLIENT_CONFIG = aws.CLIENT_CONFIG.merge(Config(read_timeout=float(seconds)))  # type: ignore[misc]


def _invoke(handler: Any, command: dict[str, Any]) -> tuple[Any, str | None]:
    """The handler's result, or (with "tolerate") None and the error it raised."""
    try:
        return handler.lambda_handler(command["event"], FakeContext()), None
    except Exception as failure:
        if not command.get("tolerate"):
            raise
        return None, f"{type(failure).__name__}: {failure}"[:500]


def _latencies(report: Any) -> dict[str, float]:
    import statistics

    values = [r.latency_ms for r in report.load_balancers.values() if r.latency_ms]
    if not values:
        return {}
    return {"mean": statistics.mean(values), "max": max(values)}


def _store_counters(handler: Any) -> dict[str, int]:
    runtime = handler._runtime
    if runtime is None:
        return {}
    store = runtime.store
    return {
        "read_requests": store.read_requests,
        "write_requests": store.write_requests,
        "items_written": store.items_written,
        "bytes_written": store.bytes_written,
    }


def main() -> None:
    mode = sys.argv[1]
    if mode == "cold":
        cold(json.loads(sys.argv[2]))
    elif mode == "serve":
        serve(sys.argv[2] if len(sys.argv) > 2 else None)
    elif mode == "plain":
        serve_plain()
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
