"""The results: targets table (console and markdown) and docs/benchmarks.md."""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass
from typing import Any

from bench import cost

MB = 1024  # ru_maxrss is in KB on Linux
HEARTBEAT_MINUTES = 60  # SNAPSHOT_HEARTBEAT_MINUTES' default
RSS_TARGET_MB = 120
CYCLE_FACTOR = 1.5
CYCLE_FACTOR_A = 1.25  # issue 12 raised workload A's target from 1.5x
COLD_FACTOR = 1.25
CPU_TARGET_S = 0.5  # our reading of "well under a second"
PHASE_NAMES = {
    "credentials": "credentials (cached secret)",
    "tick": "tick claim and finish (PutItem + UpdateItem)",
    "load_fleet": "fleet registry read (BatchGetItem)",
    "silences": "silences (Query)",
    "discovery": "discovery (DescribeLoadBalancers)",
    "poll": "poll (DescribeBackendHealth fan-out)",
    "load_states": "load states (BatchGetItem, overlaps poll)",
    "put_snapshots": "put snapshots (BatchWriteItem)",
    "commit": "commit changed states",
    "publish": "publish (SNS)",
    "emit_metrics": "EMF metrics and health lines",
}


@dataclass
class Row:
    target: str
    goal: str
    measured: str
    met: bool | None  # None: a figure, no target
    note: str
    short: str = ""  # one-line cause for the summary table


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
        "loadavg_start": os.getloadavg()[0],
    }


def _phases(phases: dict[str, float]) -> str:
    parts = [
        f"{name} {seconds:.3f}s"
        for name, seconds in phases.items()
        if seconds >= 0.0005 and not name.startswith("sum_")
    ]
    summed = [
        f"{name.removeprefix('sum_')} {seconds:.3f}s"
        for name, seconds in phases.items()
        if name.startswith("sum_")
    ]
    return ", ".join(parts) + (f" (summed over threads: {', '.join(summed)})" if summed else "")


def _largest_size(a: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    size = max(int(s) for s in a["sizes"])
    return size, a["sizes"][size] if size in a["sizes"] else a["sizes"][str(size)]


def _sizes(a: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return sorted((int(s), p) for s, p in a["sizes"].items())


def _floor_note(floor: dict[str, Any] | None, limit: float) -> str:
    if not floor:
        return ""
    return (
        f"; the same calls with no client work (`bench/floor.py`) take {floor['wall']:.3f}s "
        f"= {floor['wall'] / limit:.2f}x the bound on this machine"
    )


def _floor_sentence(floor: dict[str, Any] | None) -> str:
    if not floor:
        return ""
    return (
        f": the same {floor['calls']} calls made with no client work at all (`bench/floor.py`: "
        f"signed, pooled, the body read and not parsed; median of {len(floor['passes'])} "
        f"passes) take {floor['wall']:.3f}s, {floor['wall'] / floor['limit']:.2f}x the bound, "
        "which is what the stand-ins leave for any client on this machine"
    )


def _cycle_cause(point: dict[str, Any], limit: float, floor: dict[str, Any] | None) -> str:
    phases = point["phases"]
    poll = phases.get("poll", 0.0)
    rest = point["wall"] - poll
    outside = {
        k: v
        for k, v in phases.items()
        if k not in {"poll", "load_states"} and not k.startswith("sum_")
    }
    heaviest = max(outside, key=lambda k: outside[k]) if outside else "-"
    return (
        f"poll phase {poll:.3f}s = {poll / limit:.2f}x the latency bound; the other "
        f"{rest:.3f}s is mostly {PHASE_NAMES.get(heaviest, heaviest)} "
        f"({outside.get(heaviest, 0.0):.3f}s){_floor_note(floor, limit)}"
    )


def _cycle_short(point: dict[str, Any], limit: float, floor: dict[str, Any] | None) -> str:
    phases = point["phases"]
    poll = phases.get("poll", 0.0)
    floor_part = f"; bare calls {floor['wall'] / limit:.2f}x" if floor else ""
    return (
        f"poll {poll:.2f}s ({poll / limit:.2f}x the bound: emulator + moto share the 2 cores "
        f"with the function{floor_part}), store/commit/EMF after it {point['wall'] - poll:.2f}s"
    )


def _mem_point(results: dict[str, Any], variant: str) -> dict[str, Any] | None:
    mem = results.get("mem") or {}
    points = [p for p in mem.get("points", []) if p["variant"] == variant]
    return max(points, key=lambda p: p["lbs"]) if points else None


def targets(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    a = results.get("a")
    if a:
        size, point = _largest_size(a)
        limit = point["limit"]
        ratio = point["wall"] / limit
        rows.append(
            Row(
                f"A cycle time, {size} LBs x 25 backends, 50 ms API, concurrency 16",
                f"<= {CYCLE_FACTOR_A}x ceil({size}/16) x 50 ms = {CYCLE_FACTOR_A * limit:.3f}s",
                f"{point['wall']:.3f}s median of {point['runs']} (x{ratio:.2f} of {limit:.2f}s)",
                ratio <= CYCLE_FACTOR_A,
                _cycle_cause(point, limit, a.get("floor")),
                _cycle_short(point, limit, a.get("floor")),
            )
        )
        naive = a.get("naive")
        if naive:
            rows.append(
                Row(
                    f"A naive sequential SDK script, {naive['lbs']} LBs",
                    "figure (ours side by side)",
                    f"{naive['wall']:.2f}s = {naive['wall'] / point['wall']:.1f}x ours",
                    None,
                    f"{naive['api_calls']} sequential DescribeBackendHealth + "
                    f"{naive['put_items']} PutItem; cpu {naive['cpu']:.2f}s, "
                    f"rss {naive['maxrss_kb'] / MB:.0f} MB",
                )
            )
        items_ok = all(p["items_written"] <= s for s, p in _sizes(a))
        hb = point["heartbeat"]
        rows.append(
            Row(
                "A DynamoDB items written per steady run",
                "<= 1 per LB",
                ", ".join(f"{p['items_written']} @ {s}" for s, p in _sizes(a))
                + " (+ the tick's own item)",
                items_ok,
                "change-only snapshots: a steady run writes no snapshot and no STATE item, only "
                f"its tick (PutItem + UpdateItem: {point['wru']:.0f} WRU + "
                f"{point['gsi_wru']:.0f} GSI WRU per run). The heartbeat run (every "
                f"{HEARTBEAT_MINUTES} minutes per LB) writes {hb['items_written']} items at "
                f"{size} LBs (a snapshot of {hb['snapshot_bytes'] / max(1, hb['snapshots']):.0f}"
                f" B and the STATE item of {hb['state_bytes'] / max(1, hb['states']):.0f} B that "
                f"remembers it): {hb['wru']:.0f} WRU + {hb['gsi_wru']:.0f} GSI WRU",
            )
        )
        trips_ok = all(
            p["ddb_writes"] <= 2 + math.ceil(p["snapshots"] / 25)
            and p["ddb_reads"] <= 2 + math.ceil(s / 100)
            for s, p in _sizes(a)
        )
        rows.append(
            Row(
                "A DynamoDB round trips per steady run",
                "writes 2 (tick claim, finish) + ceil(snapshots/25); "
                "reads 2 (fleet, silences) + ceil(LBs/100)",
                ", ".join(f"{p['ddb_writes']}w+{p['ddb_reads']}r @ {s}" for s, p in _sizes(a)),
                trips_ok,
                f"{point['rru']:.0f} RRU per run (consistent BatchGetItem of the fleet and "
                "STATE items, one Query of the silences)",
            )
        )
        plain = _mem_point(results, "plain")
        rows.append(
            Row(
                f"A peak RSS of the function process, {size} LBs",
                f"<= {RSS_TARGET_MB} MB",
                f"{point['maxrss_kb'] / MB:.1f} MB",
                point["maxrss_kb"] / MB <= RSS_TARGET_MB,
                "VmHWM of the function process after the runs (bench instrumentation included); "
                + ", ".join(f"{p['maxrss_kb'] / MB:.0f} MB @ {s}" for s, p in _sizes(a))
                + (
                    f"; without the instrumentation {plain['maxrss_kb'] / MB:.1f} MB @ "
                    f"{plain['lbs']}"
                    if plain
                    else ""
                )
                + ". The earlier 125.8 MB was ru_maxrss, which after vfork + exec reports the "
                "bench process's own peak (see Memory)",
                "the old 125.8 MB was the bench process's RSS (ru_maxrss inherited across "
                "vfork+exec), not the function's",
            )
        )
    b = results.get("b")
    if b:
        found = b["change_messages"] >= 1 and b["change_mentions_backend"]
        rows.append(
            Row(
                f"B one LB x {b['backends']} backends: run, snapshot, change found",
                "completes, stored, 1 change",
                f"snapshot item {b['snapshot_item_bytes'] / 1000:.1f} kB; "
                f"{b['change_transitions']} transition, {b['change_messages']} message",
                found and b["change_transitions"] == 1,
                f"FAILURE_THRESHOLD=1; {b['changed_backend']} turned Dead at step 1",
            )
        )
        rows.append(
            Row(
                f"B our CPU time for the change run ({b['backends']} backends)",
                f"well under a second (we read: <= {CPU_TARGET_S}s)",
                f"{b['change_cpu']:.3f}s (steady run {b['steady']['cpu']:.3f}s)",
                b["change_cpu"] <= CPU_TARGET_S,
                f"wall {b['change_wall']:.3f}s: {_phases(b['change_phases'])}",
            )
        )
    c = results.get("c")
    if c:
        ratio = c["wall"] / c["limit"]
        rows.append(
            Row(
                f"C discovery + poll, {c['load_balancers']} LBs x 1 backend",
                f"<= {CYCLE_FACTOR}x ({c['pages']} pages + ceil({c['load_balancers']}/16)) "
                f"x 50 ms = {CYCLE_FACTOR * c['limit']:.2f}s",
                f"{c['wall']:.3f}s median of {c['runs']} (x{ratio:.2f} of {c['limit']:.2f}s); "
                f"{c['pages']} pages of {c['page_size']}",
                ratio <= CYCLE_FACTOR,
                _cycle_cause(c, c["limit"], None),
                _cycle_short(c, c["limit"], None),
            )
        )
    sharded = results.get("shards")
    if sharded:
        rows.append(shards_row(sharded))
    cold = results.get("cold")
    if cold:
        split = cold["handler_split"]
        extra = cold["handler"] - cold["bare"]
        rows.append(
            Row(
                f"Cold start on Python {cold.get('function_python', '?')}: process start to "
                "first handler result",
                f"<= {COLD_FACTOR}x bare boto3 + 3 clients",
                f"{cold['handler']:.3f}s vs {cold['bare']:.3f}s (x{cold['ratio']:.2f})",
                cold["ratio"] <= COLD_FACTOR,
                f"median of {cold['repeats']}, both on {cold.get('python_cmd', 'python')}; in "
                f"the handler process: import {split['import']:.3f}s, first invocation "
                f"{split['first_invoke']:.3f}s"
                + (
                    f"; the bundle without its bytecode {cold['nobytecode']:.3f}s "
                    f"(x{cold['nobytecode_ratio']:.2f})"
                    if "nobytecode" in cold
                    else ""
                ),
                f"+{extra * 1000:.0f} ms over bare: powertools + zlb_health imports and the "
                "first cycle's round trips (secret, state read, API, snapshot write)",
            )
        )
    if a and "deployment" in results:
        rows += cost_rows(results)
    return rows


def shards_row(sharded: dict[str, Any]) -> Row:
    per_shard = sharded["per_shard"]
    worst = max(per_shard, key=lambda p: p["wall"] / p["limit"])
    n, lbs = sharded["shards"], sharded["load_balancers"]
    return Row(
        f"Sharded: {lbs:,} LBs x 1 backend over {n} shards (discovery), each shard its own "
        "invocation",
        f"every shard <= {CYCLE_FACTOR}x (pages + ceil(its LBs/16)) x 50 ms",
        f"worst shard {worst['wall']:.3f}s vs {worst['limit']:.2f}s (x{sharded['worst_ratio']:.2f}"
        f"); shards of {min(p['lbs'] for p in per_shard):,}-{max(p['lbs'] for p in per_shard):,}"
        " LBs",
        sharded["worst_ratio"] <= CYCLE_FACTOR,
        "per shard (cycle / bound): "
        + ", ".join(f"{p['wall']:.2f}/{p['limit']:.2f}s" for p in per_shard)
        + f"; worst shard: {_cycle_cause(worst, worst['limit'], None)}",
        _cycle_short(worst, worst["limit"], None),
    )


def _mark(met: bool | None) -> str:
    return "figure" if met is None else ("met" if met else "NOT MET")


def console_table(rows: list[Row]) -> str:
    headers = ("target", "goal", "measured", "result")
    table = [headers, *[(r.target, r.goal, r.measured, _mark(r.met)) for r in rows]]
    widths = [max(len(str(line[i])) for line in table) for i in range(len(headers))]
    lines = []
    for index, line in enumerate(table):
        lines.append("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(line)))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_table(headers: list[str], body: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out.extend("| " + " | ".join(str(c) for c in row) + " |" for row in body)
    return out


def _money(value: float) -> str:
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.4f}"


FLEET = (10, 100, 1000)
COST_TARGETS = {10: 3.0, 100: 5.0, 1000: 30.0}  # issue 12, default deployment, email alerts


def cost_points(a: dict[str, Any]) -> list[dict[str, Any]]:
    """Per fleet size measured in workload A: the steady run, the heartbeat run's extra and
    the PER_LB_METRICS=true run's extra log bytes."""
    points = []
    for size, p in _sizes(a):
        hb = p["heartbeat"]
        per_lb = p["per_lb_metrics"]
        steady_bytes = p["log_bytes"] + p["emf_bytes"]
        points.append(
            {
                "lbs": size,
                "wall": p["wall"],
                "cpu": p["cpu"],
                "wru": p["wru"] + p["gsi_wru"],
                "rru": p["rru"],
                "log_bytes": steady_bytes,
                "hb_wall": hb["wall"] - p["wall"],
                "hb_cpu": hb["cpu"] - p["cpu"],
                "hb_wru": hb["wru"] + hb["gsi_wru"] - p["wru"] - p["gsi_wru"],
                "hb_items": hb["items_written"],
                "snapshot_item_bytes": hb["snapshot_bytes"] / max(1, hb["snapshots"]),
                "state_item_bytes": hb["state_bytes"] / max(1, hb["states"]),
                "per_lb_log_bytes": per_lb["log_bytes"] + per_lb["emf_bytes"] - steady_bytes,
            }
        )
    return points


def _deployment(results: dict[str, Any]) -> cost.Deployment:
    d = results["deployment"]
    return cost.Deployment(tuple(d["alarm_conditions"]), d["dashboards"], d["health_line_bytes"])


def cost_model(results: dict[str, Any]) -> dict[str, Any]:
    """Monthly bills per fleet size and option, at the template's memory."""
    points = cost_points(results["a"])
    memory = results.get("memory_mb", 256)
    deployment = _deployment(results)
    fixed = cost.fixed_per_run(points)
    per_run = [cost.per_run_at(points, n) for n in FLEET]
    bills = {
        option: [
            cost.monthly(r, memory, deployment=deployment, fixed=fixed, options=option)
            for r in per_run
        ]
        for option in cost.OPTIONS
    }
    return {
        "points": points,
        "per_run": per_run,
        "fixed": fixed,
        "deployment": deployment,
        "memory": memory,
        "bills": bills,
        "totals": {o: [cost.total(b) for b in bs] for o, bs in bills.items()},
    }


def cost_rows(results: dict[str, Any]) -> list[Row]:
    model = cost_model(results)
    rows = []
    for index, n in enumerate(FLEET):
        bill = model["bills"][cost.DEFAULT][index]
        total = cost.total(bill)
        top = sorted(bill.items(), key=lambda kv: -kv[1])[:3]
        measured = "" if model["per_run"][index].measured else " (extrapolated)"
        rows.append(
            Row(
                f"Cost per month, defaults, {n:,} LBs x 25 backends{measured}",
                f"<= {_money(COST_TARGETS[n])}",
                _money(total),
                total <= COST_TARGETS[n],
                "largest lines: " + ", ".join(f"{k} {_money(v)}" for k, v in top),
                "largest: " + ", ".join(f"{k} {_money(v)}" for k, v in top[:2]),
            )
        )
    return rows


def readme_cost_table(results: dict[str, Any]) -> list[str]:
    """The README's "## Costs" table and the sentence after it (between its markers)."""
    model = cost_model(results)
    totals = model["totals"]
    alternatives = [cost.alternatives(n) for n in FLEET]
    body = []
    for option, values in totals.items():
        label = (
            "zlb-health, defaults" if option == cost.DEFAULT else f"zlb-health, {option.label()}"
        )
        body.append([label, *[_money(v) for v in values]])
    for name, what in (
        ("Route 53 health checks", "one per backend (25 per LB)"),
        ("CloudWatch Synthetics", "one canary per backend per minute"),
    ):
        body.append([f"{name}, {what}", *[_money(alt[name]) for alt in alternatives]])
    default = model["bills"][cost.DEFAULT]
    fixed_names = (
        "KMS (key)",
        "Secrets Manager (secret)",
        "CloudWatch alarms",
        "CloudWatch custom metrics",
    )
    fixed = [sum(b[k] for k in fixed_names) for b in default]
    return [
        *_md_table_plain(
            ["per month", *[f"{n:,} LBs" for n in FLEET]],
            body,
        ),
        "",
        f"With the defaults, {_money(fixed[0])} of it is fixed whatever the fleet: the KMS key "
        f"(${cost.PRICES['kms_key_month']:.2f}), the credentials secret "
        f"(${cost.PRICES['secret_month']:.2f}), "
        f"{model['deployment'].alarms(1)} alarms (${cost.PRICES['alarm_standard_month']:.2f} "
        "each) and the RunsCompleted watchdog metric; what grows with the fleet is mostly "
        f"the state reads (DynamoDB reads {_money(default[-1]['DynamoDB reads'])} and writes "
        f"{_money(default[-1]['DynamoDB writes'])} at {FLEET[-1]:,} load balancers) and the "
        f"function's duration ({_money(default[-1]['Lambda duration'])}).",
    ]


def _md_table_plain(headers: list[str], body: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    out.extend("| " + " | ".join(str(c) for c in row) + " |" for row in body)
    return out


def cost_section(results: dict[str, Any]) -> list[str]:
    model = cost_model(results)
    points = model["points"]
    per_run: list[cost.PerRun] = model["per_run"]
    fixed: cost.Fixed = model["fixed"]
    deployment: cost.Deployment = model["deployment"]
    memory = model["memory"]
    intercept, slope = cost.fit([p["lbs"] for p in points], [p["wall"] for p in points])
    tags = ["" if r.measured else " (extrap.)" for r in per_run]
    flat = [
        "## Cost per month (us-east-1, one run a minute = 43,200 runs)",
        "",
        f"Prices are us-east-1 list prices as stated in the performance issue, used on "
        f"{cost.PRICES_DATE} (constants in `bench/cost.py`), not re-read from AWS that day: "
        "**assumptions to check** before quoting. Per-run figures are measured in workload A "
        "(medians of the steady runs; sizes not measured are a straight-line fit over the "
        f"measured sizes: steady cycle time = {intercept:.3f} s + {slope * 1000:.2f} ms per "
        "LB): a **steady run** (nothing changed and no snapshot due: the tick's claim and "
        "finish, the fleet, state and silence reads, no snapshot), the **heartbeat run** "
        f"(measured by moving the schedule {cost.DEFAULT_HEARTBEAT_MINUTES} minutes on: every "
        "load balancer's snapshot is due, and the STATE item that remembers when is "
        f"committed), its extra amortised over SnapshotHeartbeatMinutes runs, and one run "
        "with PER_LB_METRICS=true on the same table (its extra EMF bytes). Lambda duration "
        "is the cycle time, or the CPU seconds stretched by Lambda's CPU share (memory / "
        f"{cost.LAMBDA_FULL_VCPU_MB} MB of a vCPU) when that is longer; the template's "
        f"MemorySize ({memory} MB, arm64).",
        "",
        *_md_table(
            ["per run", *[f"{n} LBs{tag}" for n, tag in zip(FLEET, tags, strict=True)]],
            [
                ["steady cycle time (s)", *[f"{r.duration_s:.3f}" for r in per_run]],
                ["steady CPU (s)", *[f"{r.cpu_s:.3f}" for r in per_run]],
                ["steady DynamoDB WRU (table + GSI)", *[f"{r.wru:.0f}" for r in per_run]],
                ["steady DynamoDB RRU", *[f"{r.rru:.0f}" for r in per_run]],
                ["steady log + EMF bytes (all healthy)", *[f"{r.log_bytes:,.0f}" for r in per_run]],
                [
                    "heartbeat run: extra WRU (snapshot + STATE + GSI)",
                    *[f"{r.heartbeat_wru:,.0f}" for r in per_run],
                ],
                [
                    "heartbeat run: extra wall / CPU (s)",
                    *[f"{r.heartbeat_duration_s:.3f} / {r.heartbeat_cpu_s:.3f}" for r in per_run],
                ],
                [
                    "snapshot / STATE item bytes",
                    *[f"{r.snapshot_item_bytes:.0f} / {r.state_item_bytes:.0f}" for r in per_run],
                ],
                [
                    "PER_LB_METRICS=true: extra EMF bytes",
                    *[f"{r.per_lb_metrics_log_bytes:,.0f}" for r in per_run],
                ],
            ],
        ),
        "",
        f"Fixed per run (intercepts of the steady lines, what each extra shard adds): "
        f"{fixed.wru:.1f} WRU, {fixed.rru:.1f} RRU, {fixed.duration_s:.3f} s.",
    ]
    default = model["bills"][cost.DEFAULT]
    body = [[name, *[_money(b[name]) for b in default]] for name in default[0]]
    body.append(
        ["**total (defaults, email alerts)**", *[f"**{_money(cost.total(b))}**" for b in default]]
    )
    body.append(["target (issue 12)", *[f"<= {_money(COST_TARGETS[n])}" for n in FLEET]])
    flat += ["", "### The default deployment, line by line", ""]
    flat += _md_table(["item", *[f"{n:,} LBs" for n in FLEET]], body)
    option_rows = []
    for option, totals in model["totals"].items():
        delta = [t - d for t, d in zip(totals, model["totals"][cost.DEFAULT], strict=True)]
        option_rows.append(
            [
                option.label(),
                *[
                    f"{_money(t)}" + ("" if option == cost.DEFAULT else f" (+{_money(d)})")
                    for t, d in zip(totals, delta, strict=True)
                ],
            ]
        )
    flat += [
        "",
        "### Each option on its own (total per month, and what it adds to the defaults)",
        "",
        *_md_table(["parameters", *[f"{n:,} LBs" for n in FLEET]], option_rows),
        "",
        f"`PerLoadBalancerMetrics=true`: {cost.METRICS_PER_LB} custom metrics per load balancer "
        f"(${cost.PRICES['custom_metric_month']:.2f} each a month) and their EMF bytes in the "
        "logs. `SnapshotHeartbeatMinutes=1`: every run is a heartbeat run (a snapshot and a "
        "STATE commit per load balancer per minute; history at one-minute resolution is the "
        "same either way, see `tools/zlb_health_tools/spans.py`). `Shards=4`: 3 more "
        "schedules, watchdog alarms and RunsCompleted metrics, and each shard's fixed per-run "
        "reads and writes. SMS: the notifications as US SMS instead of email.",
    ]
    alternatives = [cost.alternatives(n) for n in FLEET]
    flat += [
        "",
        "### The managed alternatives for the same backends (25 per LB)",
        "",
        *_md_table(
            ["service", *[f"{n:,} LBs ({n * 25:,} backends)" for n in FLEET]],
            [[name, *[_money(alt[name]) for alt in alternatives]] for name in alternatives[0]],
        ),
        "",
        "Route 53: one health check per backend at $0.75/month (non-AWS endpoint, basic). "
        "Synthetics: one canary per backend, one run a minute, $0.0012 per run.",
        "",
        f"Assumed: {cost.NOTIFICATIONS_PER_DAY} notifications/day, each after "
        f"{cost.CHANGE_RUNS_PER_NOTIFICATION} runs that changed its load balancer's state (a "
        "snapshot and a STATE commit each, as in a heartbeat); "
        f"{cost.UNHEALTHY_SHARE:.0%} of load-balancer-minutes not all healthy, each printing "
        f"one `lb_health` line of {deployment.health_line_bytes} B (rendered by the "
        "function's `emit_health_lines` for 25 backends, one down; the steady all-healthy run "
        "prints none, measured); the run metrics other than RunsCompleted exist only while "
        "something is wrong (none assumed; NotificationsSent one metric-hour per "
        "notification); GetSecretValue every "
        f"{cost.SECRET_MAX_AGE_MINUTES} min per warm container; KMS: one Decrypt per "
        "GetSecretValue, one data key per SNS publish, ~1 request / 5 min for the encrypted "
        f"log group; {cost.PLATFORM_LOG_BYTES} B of Lambda START/END/REPORT lines per run; "
        f"{cost.DDB_ITEM_OVERHEAD} B storage overhead per item, snapshots kept "
        f"SNAPSHOT_TTL_DAYS=30, TICK items {cost.TICK_TTL_DAYS} days; alarms counted in "
        f"template.yaml ({deployment.alarms(1)} at Shards=1, one more per shard), standard "
        f"resolution at ${cost.PRICES['alarm_standard_month']:.2f}; {deployment.dashboards} "
        "dashboard, free within the account's first 3 (else "
        f"${cost.PRICES['dashboard_month']:.2f}; its Logs Insights widgets scan the log group "
        "when viewed, $0.005 per GB, not counted); Scheduler's invocations are inside its "
        "14M free tier; X-Ray active tracing: one trace per invocation, the first 100k a month "
        "free (one shard: 43,200), then $5 per million.",
    ]
    return flat


CAPACITY_LATENCIES_MS = (50, 100, 200, 500)
CAPACITY_CONCURRENCY = (8, 16, 32, 64)  # API_CONCURRENCY: 8 is the default, 64 the maximum
ASSUMED_RATE_LIMITS = (10, 50, 200)  # requests/s: no numeric limit is documented


def shard_capacity(
    sharded: dict[str, Any], latency_s: float, concurrency: int, memory_mb: int
) -> tuple[int, int]:
    """Load balancers one shard polls within the API budget: (API-bound, CPU-bound at
    memory_mb). API: the measured slope's excess over the ideal latency / concurrency is
    assumed to hold; CPU: the measured CPU seconds per load balancer, at Lambda's CPU share."""
    budget = sharded["api_budget_s"]
    pages = max(p["pages"] for p in sharded["per_shard"])
    efficiency = sharded["slope_s_per_lb"] / sharded["ideal_slope_s_per_lb"]
    api = (budget - pages * latency_s) * concurrency / (latency_s * efficiency)
    share = min(1.0, memory_mb / cost.LAMBDA_FULL_VCPU_MB)
    cpu = budget * share / sharded["cpu_s_per_lb"]
    return int(api), int(cpu)


def _pauses(pauses: list[float]) -> str:
    return f"{len(pauses)}" + (f" (the longest {max(pauses):.2f} s)" if pauses else "")


def _gc_note(sharded: dict[str, Any]) -> str:
    """Full collections of the stand-ins' processes: the bench's (the emulator) and moto's."""
    if "bench_gc_pauses" not in sharded:
        return ""
    parts = [
        f"{name}: {_pauses(sharded[key])} in the measured ticks, "
        f"{_pauses(sharded.get(key + '_warmup', []))} in warm-up"
        for name, key in (
            ("the bench process (the emulator)", "bench_gc_pauses"),
            ("moto's process", "moto_gc_pauses"),
        )
        if key in sharded
    ]
    return f"Full garbage collections of {'; of '.join(parts)}. "


def shards_section(sharded: dict[str, Any], memory_mb: int) -> list[str]:
    per_shard = sharded["per_shard"]
    n, lbs = sharded["shards"], sharded["load_balancers"]
    latency = sharded["latency_ms"] / 1000
    concurrency = sharded["concurrency"]
    pages = max(p["pages"] for p in per_shard)
    slope = sharded["slope_s_per_lb"]
    ideal = sharded["ideal_slope_s_per_lb"]
    budget = sharded["api_budget_s"]
    one_api, one_cpu = shard_capacity(sharded, latency, concurrency, memory_mb)
    return [
        f"## Sharded fleet: {lbs:,} LBs (1 backend each) over {n} shards",
        "",
        f"Discovery mode, {sharded['latency_ms']:.0f} ms API latency, API_CONCURRENCY="
        f"{concurrency} (as workloads A and C; the emulator serves it from threads of the bench "
        "process, and more would only measure the 2 cores). Every tick runs shard 0..N-1 one "
        'after the other, each as its own invocation with `{"shard": i, "shards": N}` in the '
        "event (one warm container: each shard has the machine to itself, as each shard's "
        "Lambda would). Each shard lists the whole fleet "
        f"({pages} DescribeLoadBalancers pages of {sharded['page_size']}) and polls the load "
        "balancers the hash gives it. Warm-up: "
        f"{sharded['warmup_ticks']} ticks ({sharded['warmup_s']:.0f} s; the first ticks create "
        f"every STATE item; runs moto timed out in warm-up: {sharded.get('warmup_errors', 0)}, "
        f"their items created by the next tick), then the median of {sharded['runs']} ticks "
        f"(ticks measured again after a moto timeout: {sharded.get('measured_retries', 0)}). "
        "The function's AWS calls wait up to "
        f"{sharded.get('aws_read_timeout_s', 2.0):.0f} s for moto here instead of its 2 s read "
        "timeout (`BENCH_AWS_READ_TIMEOUT`; moto serves one request at a time): a slow call "
        "lengthens the measured cycle instead of failing the run. "
        f"{_gc_note(sharded)}"
        f"Load average when it started: {sharded['loadavg']:.2f}.",
        "",
        *_md_table(
            [
                "shard",
                "LBs",
                "cycle (median)",
                "latency bound",
                "ratio",
                "CPU",
                "API requests",
                "DynamoDB calls",
                "WRU / RRU",
                "phases",
            ],
            [
                [
                    i,
                    f"{p['lbs']:,}",
                    f"{p['wall']:.3f}s",
                    f"{p['limit']:.2f}s",
                    f"{p['wall'] / p['limit']:.2f}",
                    f"{p['cpu']:.3f}s",
                    f"{p['api_requests']:,}",
                    ", ".join(f"{k.split('.')[1]} {v}" for k, v in p["ddb_calls"].items()),
                    f"{p['wru'] + p['gsi_wru']:.0f} / {p['rru']:.0f}",
                    _phases(p["phases"]),
                ]
                for i, p in enumerate(per_shard)
            ],
        ),
        "",
        f"Latency bound per shard = (pages + ceil(its LBs / {concurrency})) x "
        f"{sharded['latency_ms']:.0f} ms. Peak RSS of the container "
        f"{sharded['maxrss_kb'] / MB:.1f} MB (it served every shard).",
        "",
        "### How many load balancers one shard handles",
        "",
        f"Measured: {slope * 1000:.2f} ms per load balancer beyond discovery (x"
        f"{slope / ideal:.2f} the ideal {sharded['latency_ms']:.0f} ms / {concurrency} = "
        f"{ideal * 1000:.2f} ms), and {sharded['cpu_s_per_lb'] * 1000:.2f} ms of CPU per load "
        "balancer (1 backend; this machine's x86 core, not Lambda's arm64). The API phase of "
        f"a run has {budget:.0f} s: the function's 50 s timeout less the handler's reserve for "
        "saving and publishing (`handler.py`: min(12 s, max(3 s, 25%))). One shard then "
        "polls, before its run skips load balancers (LoadBalancersSkipped, and its alarm):",
        "",
        *_md_table(
            ["API latency", *[f"API_CONCURRENCY={c}" for c in CAPACITY_CONCURRENCY]],
            [
                [
                    f"{ms} ms",
                    *[
                        f"{min(shard_capacity(sharded, ms / 1000, c, memory_mb)):,}"
                        for c in CAPACITY_CONCURRENCY
                    ],
                ]
                for ms in CAPACITY_LATENCIES_MS
            ],
        ),
        "",
        f"Each cell: the smaller of the API bound ((budget - {pages} pages x latency) x "
        "concurrency / (latency x the measured excess)) and the CPU bound at "
        f"{memory_mb} MB (Lambda's {min(1.0, memory_mb / cost.LAMBDA_FULL_VCPU_MB):.3f} of a "
        f"vCPU: {one_cpu:,} load balancers of 1 backend; 25 backends cost more CPU each, see "
        f"workload A). At {sharded['latency_ms']:.0f} ms and {concurrency}: {one_api:,} by "
        f"the API, {one_cpu:,} by CPU. Shards needed = fleet / that, rounded up (template "
        "maximum 8); CPU-bound cells grow with MemorySize.",
        "",
        "### What the account's API rate limit implies",
        "",
        "The Zenlayer API documents no numeric rate limit (`../shared/spec/zenlayer-api.md`: "
        "only REQUEST_LIMIT_EXCEEDED, HTTP 429, which the official SDKs retry after 1, 2 and "
        "4 s; the client here retries it within the run's deadline). So the figures below are "
        "**assumptions**, not Zenlayer's numbers. Every shard's schedule fires in the same "
        "minute, so the account sees up to Shards x API_CONCURRENCY / latency requests a "
        f"second (here {n} x {concurrency} / {sharded['latency_ms']:.0f} ms = "
        f"{n * concurrency / latency:,.0f}/s), and per minute one request per load balancer "
        f"(per listener target) plus Shards x pages ({lbs:,} + {n * pages} here). With a "
        "sustained limit of R requests a second, the fleet checked every minute is at most "
        f"R x {budget:.0f} s less the pages, whatever Shards is: more shards only help while "
        "the limit is above what they ask for; past it, lower ApiConcurrency so that Shards x "
        "ApiConcurrency / latency stays under R.",
        "",
        *_md_table(
            [
                "assumed limit",
                "load balancers per minute (all shards)",
                f"ApiConcurrency per shard at {sharded['latency_ms']:.0f} ms, {n} shards",
            ],
            [
                [
                    f"{r} requests/s",
                    f"{max(0, int(r * budget - n * pages)):,}",
                    f"<= {max(1, int(r * latency / n))}",
                ]
                for r in ASSUMED_RATE_LIMITS
            ],
        ),
        "",
    ]


def summary_table(rows: list[Row]) -> list[str]:
    return _md_table(
        ["target", "goal", "measured", "result", "cause"],
        [
            [r.target, r.goal, r.measured, f"**{_mark(r.met)}**", r.short or "-"]
            for r in rows
            if r.met is not None
        ],
    )


def markdown(results: dict[str, Any], rows: list[Row]) -> str:
    m = results["machine"]
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`bench/run.py`); do not edit by hand. Figures, not "
        "pass/fail tests: each target, the measured figure, and whether it is met.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']} ({m['platform']}), "
        f"{m['date']}. 1-minute load average: {m['loadavg_start']:.2f} at start, "
        f"{results.get('finished_loadavg', 0):.2f} at the end"
        + (" (**--quick: development scale**)" if results.get("quick") else "")
        + ".",
        "",
        f"Function process: {results.get('code', '?')}.",
        "",
        "## Summary",
        "",
        *summary_table(rows),
        "",
        "## Results",
        "",
        *_md_table(
            ["target", "goal", "measured", "result", "notes / cause"],
            [[r.target, r.goal, r.measured, f"**{_mark(r.met)}**", r.note] for r in rows],
        ),
        "",
        "## Method",
        "",
        "- **Stand-ins.** The Zenlayer API is the emulator (`zlb_health_tools.emulator`) with a "
        "`latency` fault of 50 ms on every request, served from threads of the bench process; "
        "AWS is moto's server over HTTP (`zlb_health_tools.localaws.LocalAws`) with the table "
        "created from template.yaml, in a process of its own (`bench/moto_server.py`), so the "
        "two stand-ins do not share one interpreter lock (DynamoDB and the Zenlayer API share "
        "nothing either). moto serialises every request behind one "
        "lock and is far slower per call than DynamoDB, so the store phases below are an upper "
        "bound of what AWS would take. The bench process freezes its heap before every run "
        "(`gc.freeze()`, `FunctionProcess.run`), and moto's process its own every second: "
        "unfrozen, a full garbage collection of the "
        "stand-ins' objects held every answer for seconds at 10,000 load balancers (measured: "
        "discovery stalled 8-10 s in 3 of 8 shards).",
        "- **The function** runs in its own process per configuration (`bench/worker.py`) as "
        "Lambda runs it: the `sam build` bundle (with the cpython-313 bytecode the build "
        "compiles) first on PYTHONPATH, on `.venv-lambda313/bin/python -s -P -B` (python3.13 "
        "with boto3 only, the runtime's stand-in; the repository after the bundle on "
        "PYTHONPATH for `bench.worker` alone; the bench checks that zlb_health, powertools and "
        "urllib3 come from the bundle and boto3/botocore from the 3.13 venv): the "
        "real `zlb_health.handler.lambda_handler`, a fake Lambda context, the environment the "
        "template sets (credentials from a Secrets Manager secret in moto, API_CONCURRENCY=16, "
        "explicit LOAD_BALANCER_IDS for A and B, discovery for C). Each run is its own "
        "one-minute tick. Cycle time = wall time of the handler call; CPU = "
        "`time.process_time()` delta (all threads of the function process); peak RSS = "
        "the function process's `VmHWM` (/proc/self/status) after the runs (not `ru_maxrss`: "
        "see Memory). A warm container: 2 warm-up runs (the first creates "
        "every STATE item; the engine's streak counters move them again for the next runs, so "
        "warm-up goes on until a run commits no STATE item), then the median of 5.",
        "- **Heartbeat and options** (workload A, each size): after the measured runs the "
        "schedule moves on by SNAPSHOT_HEARTBEAT_MINUTES (60) and one run is measured at "
        "which every load balancer's snapshot is due (its snapshot and the STATE item that "
        "remembers it), then a run that must be steady again; then a new container with "
        "PER_LB_METRICS=true runs twice on the same table and its EMF bytes are counted. The "
        "bench sets SNAPSHOT_HEARTBEAT_MINUTES and PER_LB_METRICS as the template's defaults "
        "do (60, false).",
        "- **DynamoDB accounting** (`bench/ddb.py`): every botocore call of the function "
        "process is counted; request units from item sizes per DynamoDB's rules (1 WRU per KB "
        "per item put, x2 in transactions, the GSI written again for items carrying its keys; "
        "1 RRU per 4 KB per item for consistent reads).",
        "- **Logs**: what the handler prints (powertools JSON logs at INFO and EMF blobs) is "
        "counted in the function process; that is what CloudWatch Logs ingests.",
        "- **Cold start**: wall time from spawning `python -m bench.worker cold` (imports the "
        "handler from the bundle, runs it once against a 1-LB emulator fleet without latency, "
        "secret in moto) to its result line, vs `python -m bench.bare` (imports boto3, creates "
        "the dynamodb, sns and secretsmanager clients); both on `.venv-lambda313/bin/python -s "
        "-P -B`, alternated, median of 7. The Lambda runtime's own bootstrap is not included "
        "in either.",
        "",
    ]
    a = results.get("a")
    if a:
        out += [
            "## Workload A: 25 backends per LB (5 listeners x 5), 50 ms API latency",
            "",
            *_md_table(
                [
                    "LBs",
                    "cycle (median)",
                    "latency bound",
                    "ratio",
                    "CPU",
                    "first run",
                    "peak RSS",
                    "DynamoDB calls",
                    "items",
                    "WRU (+GSI)",
                    "RRU",
                    "log / EMF bytes",
                ],
                [
                    [
                        s,
                        f"{p['wall']:.3f}s",
                        f"{p['limit']:.2f}s",
                        f"{p['wall'] / p['limit']:.2f}",
                        f"{p['cpu']:.3f}s",
                        f"{p['first_run_wall']:.3f}s" if p.get("first_run_wall") else "-",
                        f"{p['maxrss_kb'] / MB:.1f} MB",
                        ", ".join(f"{k.split('.')[1]} {v}" for k, v in p["ddb_calls"].items()),
                        p["items_written"],
                        f"{p['wru']:.0f} (+{p['gsi_wru']:.0f})",
                        f"{p['rru']:.0f}",
                        f"{p['log_bytes']:,} / {p['emf_bytes']:,}",
                    ]
                    for s, p in _sizes(a)
                ],
            ),
            "",
            "Where the time goes (medians; load states runs on its own thread during the poll):",
            "",
            *_md_table(
                ["LBs", "phases"],
                [[s, _phases(p["phases"])] for s, p in _sizes(a)],
            ),
            "",
            f"Load average when A started: {a['loadavg']:.2f}. Individual cycle times: "
            + "; ".join(f"{s}: " + ", ".join(f"{w:.3f}" for w in p["walls"]) for s, p in _sizes(a)),
            "",
        ]
        naive = a.get("naive")
        if naive:
            _, point = _largest_size(a)
            out += [
                f"Naive baseline (`bench/naive_sdk.py`, same emulator and moto, {naive['lbs']} "
                f"LBs): {naive['wall']:.2f}s wall, {naive['cpu']:.2f}s CPU, "
                f"{naive['api_calls']} API calls one after the other and {naive['put_items']} "
                f"PutItem calls (1 WRU each: {naive['put_items']} WRU per run vs our "
                f"{point['wru']:.0f}); ours is {naive['wall'] / point['wall']:.1f}x faster.",
                "",
            ]
    b = results.get("b")
    if b:
        st = b["steady"]
        out += [
            f"## Workload B: one LB with {b['backends']:,} backends (10 listeners x "
            f"{b['backends'] // 10})",
            "",
            *_md_table(
                ["run", "wall", "CPU", "notes"],
                [
                    [
                        "first (baseline, creates STATE)",
                        f"{b['first_wall']:.3f}s",
                        f"{b['first_cpu']:.3f}s",
                        "",
                    ],
                    [
                        "steady (median of 3)",
                        f"{st['wall']:.3f}s",
                        f"{st['cpu']:.3f}s",
                        f"{st['items_written']} items (no snapshot: nothing changed), "
                        f"{st['wru'] + st['gsi_wru']:.0f} WRU",
                    ],
                    [
                        "one backend turns Dead",
                        f"{b['change_wall']:.3f}s",
                        f"{b['change_cpu']:.3f}s",
                        f"{b['change_transitions']} transition, {b['change_messages']} message, "
                        f"{b.get('change_items', 0)} items written (snapshot, STATE, event)",
                    ],
                    [
                        "next (no change)",
                        "",
                        f"{b['after_cpu']:.3f}s",
                        f"{b['after_messages']} message",
                    ],
                ],
            ),
            "",
            f"Snapshot item written by the change run: {b['snapshot_item_bytes']:,} bytes "
            "(DynamoDB's limit is 400 KB); compressed blobs that run wrote (snapshot rows, "
            f"STATE, event): {b['snapshot_blob_bytes']:,} bytes. Peak RSS "
            f"{b['maxrss_kb'] / MB:.1f} MB. Change run phases: {_phases(b['change_phases'])}.",
            "",
        ]
    c = results.get("c")
    if c:
        out += [
            f"## Workload C: discovery of {c['load_balancers']:,} LBs (1 backend each)",
            "",
            f"{c['pages']} DescribeLoadBalancers pages of {c['page_size']} (the client's "
            f"default page size), {c.get('api_requests', 0):,} API requests per run. Cycle "
            f"{c['wall']:.3f}s median of {c['runs']} vs the latency bound {c['limit']:.2f}s "
            f"(pages x 50 ms + ceil({c['load_balancers']}/16) x 50 ms); CPU {c['cpu']:.3f}s; "
            f"peak RSS {c['maxrss_kb'] / MB:.1f} MB; DynamoDB per run: "
            + ", ".join(f"{k.split('.')[1]} {v}" for k, v in c["ddb_calls"].items())
            + f", {c['wru']:.0f} WRU, {c['rru']:.0f} RRU.",
            "",
            f"Phases: {_phases(c['phases'])}. Load average when C started: {c['loadavg']:.2f}.",
            "",
        ]
    if results.get("shards"):
        out += shards_section(results["shards"], results.get("memory_mb", 256))
    cold = results.get("cold")
    if cold:
        out += [
            "## Cold start",
            "",
            f"Handler process {cold['handler']:.3f}s, bare boto3 process {cold['bare']:.3f}s "
            f"(x{cold['ratio']:.2f}); the interpreter alone {cold['python']:.3f}s. Runs: "
            f"handler {', '.join(f'{t:.3f}' for t in cold['handler_all'])}; bare "
            f"{', '.join(f'{t:.3f}' for t in cold['bare_all'])}.",
            "",
            f"In the handler process (median): import {cold['handler_split']['import']:.3f}s, "
            f"first invocation {cold['handler_split']['first_invoke']:.3f}s (its own clock, "
            "from the first line of `bench.worker` on; the rest of the wall time is the "
            "interpreter's start). "
            + (
                f"The same bundle without its `__pycache__` (what the build shipped before "
                f"`src/Makefile` compiled it; Lambda's /var/task is read-only, so every cold "
                f"start then compiles from source): {cold['nobytecode']:.3f}s "
                f"(x{cold['nobytecode_ratio']:.2f}), import "
                f"{cold['nobytecode_split']['import']:.3f}s. "
                if "nobytecode" in cold
                else ""
            )
            + "Imported from: "
            + ", ".join(
                f"{k} `{_repo_relative(v)}`" for k, v in cold.get("origins", {}).items() if v
            )
            + ".",
            "",
            "cProfile of one cold run of the bundle (main thread; cProfile roughly doubles "
            "times, compare them with each other):",
            "",
            *_md_table(
                ["function", "calls", "cumulative s"],
                [
                    [name, int(v["calls"]), f"{v['seconds']:.3f}"]
                    for name, v in cold.get("profile", {}).items()
                ],
            ),
            "",
            "`python -X importtime` of the handler process, heaviest top-level imports "
            "(cumulative):",
            "",
            *_md_table(
                ["module", "self ms", "cumulative ms"],
                [
                    [f"`{mod}`", f"{own:.1f}", f"{cum:.1f}"]
                    for mod, own, cum in cold["handler_imports"]
                ],
            ),
            "",
            "Selected nested imports (cumulative ms): "
            + ", ".join(
                f"`{name}` {cold['handler_modules'][name]:.0f}"
                for name in (
                    "aws_lambda_powertools.logging",
                    "aws_lambda_powertools.metrics",
                    "aws_lambda_powertools.utilities.parameters",
                    "boto3",
                    "botocore.session",
                    "urllib3",
                    "zlb_health.handler",
                )
                if name in cold["handler_modules"]
            )
            + ". Self time summed by top-level package, handler process: "
            + ", ".join(
                f"`{k}` {v:.0f} ms" for k, v in list(cold.get("handler_packages", {}).items())[:8]
            )
            + "; bare process: "
            + ", ".join(
                f"`{k}` {v:.0f} ms" for k, v in list(cold.get("bare_packages", {}).items())[:5]
            )
            + ". The bare process: "
            + ", ".join(f"`{mod}` {cum:.0f} ms" for mod, _, cum in cold["bare_imports"][:3])
            + ".",
            "",
        ]
    if results.get("mem"):
        out += memory_section(results["mem"])
    out += analysis(results, rows)
    if a and "deployment" in results:
        out += cost_section(results)
        out.append("")
    return "\n".join(out)


def _repo_relative(path: str) -> str:
    marker = "/main/"
    return path.split(marker, 1)[1] if marker in path else path


def memory_section(mem: dict[str, Any]) -> list[str]:
    points = mem["points"]
    steps = [s["step"] for s in points[0]["steps"]]
    out = [
        "## Memory",
        "",
        "Resident set of the function process after each step (`VmRSS`, MB), its peak "
        "(`VmHWM`), and what `ru_maxrss` says in the same process. Fresh table per row, so "
        "run 1 creates every STATE item (TransactWriteItems). `build_runtime` is called "
        "before run 1 here to separate it. `plain` = the handler without the bench's "
        "instrumentation (no call ledger, no phase wrappers, no counting sink).",
        "",
        *_md_table(
            [
                "LBs",
                "variant",
                *steps,
                "peak (VmHWM)",
                "ru_maxrss",
                "bench process peak at spawn",
            ],
            [
                [
                    p["lbs"],
                    p["variant"],
                    *[f"{s['rss_kb'] / MB:.1f}" for s in p["steps"]],
                    f"**{p['maxrss_kb'] / MB:.1f}**",
                    f"{p['ru_maxrss_kb'] / MB:.1f}",
                    f"{p['bench_peak_kb'] / MB:.1f}",
                ]
                for p in points
            ],
        ),
        "",
    ]
    traced = next((p for p in points if p["traces"]), None)
    if traced:
        held = traced["traces"]["held"]
        out += [
            f"tracemalloc ({traced['lbs']} LBs; its own snapshots inflate that row's RSS, "
            "ignore it): what Python objects hold after the last run, by the allocating "
            "package: "
            + ", ".join(
                f"{name} {kb / 1024:.1f} MB"
                for name, kb in list(held["packages"].items())[:6]
                if kb >= 100
            )
            + ". Largest allocation sites alive then:",
            "",
            *_md_table(
                ["KB", "blocks", "allocated at (innermost first)"],
                [
                    [f"{r['kb']:,.0f}", f"{r['blocks']:,}", " < ".join(r["where"][:5])]
                    for r in held["compare"][:6]
                ],
            ),
            "",
            "Kept by run 1 beyond what `build_runtime` held (top sites): "
            + "; ".join(
                f"{r['kb']:.0f} KB at {r['where'][0]}"
                for r in traced["traces"]["first_run"]["compare"][:4]
            )
            + f". Kept by runs 3..{mem['runs']} beyond run 2: "
            + "; ".join(
                f"{r['kb']:.0f} KB at {r['where'][0]}"
                for r in traced["traces"]["steady"]["compare"][:3]
            )
            + ".",
            "",
        ]
    return out


def analysis(results: dict[str, Any], rows: list[Row]) -> list[str]:
    """Causes of missed targets and the fixes, from this run's own figures."""
    out = ["## Causes and fixes", ""]
    out.append(
        "- **moto artifact, worked around here.** moto's TransactWriteItems deep-copies the "
        "whole target table before every transaction (its rollback backup), O(table) per call: "
        "the first runs of the 1,050-LB fleet (one transaction per LB) took minutes and grew "
        "the bench process to 11 GB. The bench replaces that backup with a copy of the item "
        "dicts (`bench/harness.py: cheap_moto_transactions`; `--moto-deepcopy` keeps moto's). "
        "Steady-state runs make no transactions, so measured cycle times are unaffected."
    )
    out.append(
        "- **moto's serializer, worked around here.** moto 5 turns each DynamoDB result into "
        "its wire JSON with a generic, shape-driven serializer (about 6 ms a call, 35 times "
        "`json.dumps`): while a 200-LB run read its STATE items, moto's process took a whole "
        "core of this 2-core machine from the function and the emulator (measured with "
        "py-spy: the serializer was 58% of moto's CPU; A's state read 0.46 s). moto's process "
        "serialises DynamoDB results with `json.dumps` instead (`bench/harness.py: "
        "cheap_moto_serializer`, checked equal to moto's output before adoption); DynamoDB "
        "itself spends none of the function's CPU."
    )
    a = results.get("a")
    if a:
        size, point = _largest_size(a)
        ph = point["phases"]
        calls = ph.get("sum_api_calls", 0.0) / max(1, size)
        waves = math.ceil(size / 16)
        out.append(
            f"- **A cycle time** ({point['wall']:.3f}s vs the {point['limit']:.2f}s latency "
            f"bound, x{point['wall'] / point['limit']:.2f}, target x{CYCLE_FACTOR_A}): the poll "
            f"phase took {ph.get('poll', 0):.3f}s for {waves} waves of 16 calls, "
            f"{ph.get('poll', 0) / waves * 1000:.0f} ms a wave; each DescribeBackendHealth took "
            f"{calls * 1000:.0f} ms on average against the emulator's 50 ms. The emulator (in "
            "the bench process) and moto (in its own) share the machine's 2 cores with "
            "the function (request parsing, signing and JSON on both sides; and with whatever "
            "else runs on the machine: see the load averages), so the excess over 50 ms is "
            "mostly the stand-ins', not the API's"
            + _floor_sentence(a.get("floor"))
            + ". Outside the poll, a steady run now writes no "
            f"snapshot (change-only, heartbeat hourly): tick claim and finish "
            f"{ph.get('tick', 0):.3f}s (the fleet registry read, "
            f"{ph.get('load_fleet', 0):.3f}s, overlaps the claim), the state and silence reads "
            f"overlap the poll ({ph.get('load_states', 0):.3f}s), the engine's evaluation of "
            "every load balancer runs as each one's answer comes in, once the states are read "
            "(once per run: the snapshot decision's result is reused by the commit), the "
            f"commit phase {ph.get('commit', 0):.3f}s (no write in a steady "
            f"run), metrics and health lines {ph.get('emit_metrics', 0):.3f}s. The heartbeat run "
            f"({point['heartbeat']['wall']:.3f}s at {size} LBs, once an hour per load balancer) "
            "also writes every snapshot and STATE item."
        )
        out.append(
            f"- **First runs after deployment**: the first {point.get('warmup_runs', '?')} runs "
            "commit a STATE item per load balancer (TransactWriteItems, 2x WRU; commits per "
            f"warm-up run: {point.get('warmup_commits')}); the first run took "
            f"{point.get('first_run_wall') or 0:.3f}s. Steady-state runs commit none."
        )
        plain = _mem_point(results, "plain")
        arena = _mem_point(results, "plain, MALLOC_ARENA_MAX=2")
        instrumented = _mem_point(results, "bench-instrumented")
        text = (
            f"- **Peak RSS** ({point['maxrss_kb'] / MB:.1f} MB at {size} LBs, target "
            f"{RSS_TARGET_MB} MB). The 125.8 MB reported before was not the function's: the "
            "bench read `ru_maxrss`, and Linux carries the parent's peak RSS into a child "
            "across exec (the old mm's high-water mark goes into the child's `maxrss`; Python's "
            "subprocess uses vfork, so it is the bench process's own peak, moto and the "
            "emulator included). That is why it was already 108 MB at 10 LBs. The function's "
            "own peak is `VmHWM`."
        )
        if plain:
            steps = {s["step"]: s["rss_kb"] / MB for s in plain["steps"]}
            text += (
                f" Without the bench's instrumentation at {plain['lbs']} LBs: interpreter "
                f"{steps.get('interpreter', 0):.0f} MB, + handler import "
                f"{steps.get('import handler', 0):.0f} MB, + build_runtime (2 boto3 clients, "
                f"SecretsProvider, pool) {steps.get('build_runtime', 0):.0f} MB, run 1 "
                f"{steps.get('run 1', 0):.0f} MB, steady {plain['steps'][-1]['rss_kb'] / MB:.0f}"
                f" MB, peak {plain['maxrss_kb'] / MB:.1f} MB (its ru_maxrss said "
                f"{plain['ru_maxrss_kb'] / MB:.0f} MB, the bench process's peak "
                f"{plain['bench_peak_kb'] / MB:.0f} MB)."
            )
            if instrumented:
                text += (
                    f" The bench's instrumentation adds "
                    f"{(instrumented['maxrss_kb'] - plain['maxrss_kb']) / MB:.1f} MB."
                )
            if arena:
                text += (
                    f" MALLOC_ARENA_MAX=2: peak {arena['maxrss_kb'] / MB:.1f} MB "
                    f"({(arena['maxrss_kb'] - plain['maxrss_kb']) / MB:+.1f} MB: the 16 + 8 + 4 "
                    "pool threads' malloc arenas cost little)."
                )
            text += (
                " The biggest single holder is botocore's JSON data (endpoints, partitions and "
                "the three service models, parsed once per container) - the bare boto3 "
                "process has it too. Threads end with each run (the pools are per run), so "
                "thread stacks are not held between runs. **No src/ fix is needed**; the "
                "target is met with room to spare. Optional: `MALLOC_ARENA_MAX: 2` in the "
                "function's environment saves a few MB; not worth a template change."
            )
        out.append(text)
    cold = results.get("cold")
    if cold:
        prof = cold.get("profile", {})
        split = cold["handler_split"]
        mods = cold["handler_modules"]
        own = mods.get("zlb_health.handler", 0.0) - mods.get("boto3", 0.0)
        packages = cold.get("handler_packages", {})
        text = (
            f"- **Cold start** (x{cold['ratio']:.2f} vs x{COLD_FACTOR}, Python "
            f"{cold.get('function_python', '?')}): handler {cold['handler']:.3f}s vs bare "
            f"{cold['bare']:.3f}s, +{(cold['handler'] - cold['bare']) * 1000:.0f} ms. Both "
            f"import boto3 ({mods.get('boto3', 0):.0f} ms in the handler's -X importtime) and "
            "create clients (the bare process 3; the handler 2 on a run that publishes "
            "nothing: dynamodb and secretsmanager, the SNS client is created on the first "
            "publish); the difference is (1) what the handler imports beyond "
            f"boto3: ~{own:.0f} ms (self time: zlb_health "
            f"{packages.get('zlb_health', 0):.0f} ms, aws_lambda_powertools "
            f"{packages.get('aws_lambda_powertools', 0):.0f} ms; urllib3 is the bundle's copy, "
            "imported by botocore in place of the runtime's, so it costs the same), "
            f"and (2) the first invocation ({split['first_invoke'] * 1000:.0f} ms in "
            "process): build_runtime's 2 clients plus the "
            "first cycle's round trips to moto and the emulator: "
        )
        text += ", ".join(
            f"{name} {v['seconds']:.3f}s"
            for name, v in prof.items()
            if name.startswith(("SecretCredentials.get", "Monitor.run_once", "build_runtime"))
        )
        sessions = prof.get("boto3 Session.__init__ (sessions created)", {}).get("calls")
        resolvers = prof.get("botocore create_default_resolver (endpoints.json)", {}).get("calls")
        text += (
            f" under cProfile. One boto3 session ({sessions} created), one endpoints.json "
            f"parse ({resolvers}): the SecretsProvider now reuses the container's client. "
        )
        if "nobytecode" in cold:
            text += (
                f"The build's precompiled bytecode is worth "
                f"{(cold['nobytecode'] - cold['handler']) * 1000:.0f} ms (without it: "
                f"{cold['nobytecode']:.3f}s, x{cold['nobytecode_ratio']:.2f}). "
            )
        if cold["ratio"] > COLD_FACTOR:
            text += (
                "Not met. What is left is partly the work itself (the first "
                "cycle's round trips, which the bare process does not make) and partly "
                f"zlb_health's own import ({packages.get('zlb_health', 0):.0f} ms self time, "
                "mostly class creation: every `@dataclass` generates and `exec`s its methods "
                "at import; `zlb_health.zenlayer.models` and `zlb_health.engine.*` are the "
                "heaviest). src/ options: fewer/lighter dataclasses on the import path (e.g. "
                "`NamedTuple` or plain classes with `__slots__` for the API models), and "
                "importing the engine/render modules lazily where only a state change needs "
                "them; powertools costs "
                f"{packages.get('aws_lambda_powertools', 0):.0f} ms."
            )
        out.append(text)
    missed = [r.target for r in rows if r.met is False]
    out += ["", f"Targets not met in this run: {', '.join(missed) if missed else 'none'}.", ""]
    return out
