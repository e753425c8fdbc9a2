"""zlb-health benchmarks: `make bench` (or `.venv/bin/python bench/run.py --help`).

Runs the workloads, prints the results table and writes docs/benchmarks.md. Figures, not
pass/fail: the exit status is 0 whether or not a target is met.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import harness, report, workloads  # noqa: E402
from bench.harness import create_secret, loadavg  # noqa: E402
from bench.moto_server import MotoProcess  # noqa: E402

# The sharded workload: a fleet one invocation cannot poll in its API budget at 50 ms and
# concurrency 16 (about 12,000 at best), over this many shards.
SHARDED_FLEET = 10_000
SHARDS = 8
ALL = ("a", "b", "c", "shards", "cold", "mem")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--only",
        default=",".join(ALL),
        help="comma-separated subset of: a, b, c, shards, cold, mem (default: all; cost needs a)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small scale for development (does not write docs/benchmarks.md unless --output)",
    )
    parser.add_argument("--output", type=Path, help="markdown report path")
    parser.add_argument("--json", type=Path, help="also write the raw figures as JSON here")
    parser.add_argument("--runs", type=int, help="measured runs per configuration (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up runs (default 2)")
    parser.add_argument(
        "--python",
        choices=("lambda", "bench"),
        default="lambda",
        help="function process: the sam build bundle on .venv-lambda313's python3.13 (default, "
        "as Lambda runs it) or src/ on the bench's own interpreter (development only)",
    )
    parser.add_argument(
        "--moto-deepcopy",
        action="store_true",
        help="keep moto's whole-table deep copy per TransactWriteItems (slow first runs)",
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the naive SDK script")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="wait up to this many seconds for the 1-minute load average to drop below 1.5",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile one extra run per workload (/tmp/zlb-bench-profiles)",
    )
    return parser.parse_args(argv)


def template_memory_mb() -> int:
    from zlb_health_tools.template import FUNCTION_TYPE, load_template

    for resource in load_template()["Resources"].values():
        if resource.get("Type") == FUNCTION_TYPE:
            return int(resource["Properties"].get("MemorySize", 128))
    return 128


def wait_quiet(limit_s: float, log: Any) -> None:
    deadline = time.monotonic() + limit_s
    while loadavg() >= 1.5 and time.monotonic() < deadline:
        log(f"  load average {loadavg():.2f}; waiting for < 1.5")
        time.sleep(20)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    selected = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = selected - set(ALL)
    if unknown:
        raise SystemExit(f"unknown workloads: {sorted(unknown)}")
    quick = args.quick
    runs = args.runs or (2 if quick else 5)
    warmup = args.warmup
    profile_dir = workloads.profile_dir_for(args.profile)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    code = harness.Code.choose(args.python)
    log(f"function code: {code}")
    results: dict[str, Any] = {
        "code": code,
        "machine": report.machine(),
        "quick": quick,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "memory_mb": template_memory_mb(),
    }
    wait_quiet(args.wait_quiet, log)
    results["machine"]["loadavg_start"] = loadavg()  # after the wait: when the workloads start
    with MotoProcess(moto_deepcopy=args.moto_deepcopy) as aws:
        os.environ.update(aws.env())  # this process's boto3 calls (stack, secret) go to moto
        secret = create_secret(aws)
        if "a" in selected:
            log("workload A")
            results["a"] = workloads.workload_a(
                aws,
                secret,
                sizes=[10, 40] if quick else [10, 100, 200],
                warmup=warmup,
                runs=runs,
                naive=not args.no_naive,
                profile_dir=profile_dir,
                log=log,
            )
        if "b" in selected:
            log("workload B")
            results["b"] = workloads.workload_b(
                aws, secret, backends=500 if quick else 5000, profile_dir=profile_dir, log=log
            )
        if "c" in selected:
            log("workload C")
            results["c"] = workloads.workload_c(
                aws,
                secret,
                load_balancers=60 if quick else 1050,
                warmup=warmup,
                runs=runs,
                profile_dir=profile_dir,
                log=log,
            )
        if "shards" in selected:
            log("sharded fleet")
            results["shards"] = workloads.workload_shards(
                aws,
                secret,
                load_balancers=2000 if quick else SHARDED_FLEET,
                shards=4 if quick else SHARDS,
                warmup=warmup,
                runs=2 if quick else 3,
                log=log,
            )
        if "cold" in selected:
            log("cold start")
            results["cold"] = workloads.cold_start(aws, secret, repeats=3 if quick else 7, log=log)
        if "mem" in selected:
            log("memory")
            results["mem"] = workloads.memory_study(
                aws, secret, sizes=[10, 40] if quick else [10, 200], runs=6, log=log
            )
    results["finished_loadavg"] = loadavg()
    results["deployment"] = deployment()
    write_outputs(args, results, log)
    return 0


def write_outputs(args: argparse.Namespace, results: dict[str, Any], log: Any) -> None:
    """The console table; docs/benchmarks.md (or --output) and README.md's cost table; JSON."""
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    rows = report.targets(results)
    print(report.console_table(rows))
    docs = REPO / "docs" / "benchmarks.md"
    output = args.output or (None if args.quick else docs)
    if output is None:
        return
    output.write_text(report.markdown(results, rows), encoding="utf-8")
    log(f"wrote {output}")
    if "a" in results and output == docs:
        rewrite_readme_costs(REPO / "README.md", report.readme_cost_table(results))
        log("rewrote README.md's cost table")


README_BEGIN = "<!-- cost-table:begin (make bench writes this part) -->"
README_END = "<!-- cost-table:end -->"


def rewrite_readme_costs(readme: Path, lines: list[str]) -> None:
    """Replace what is between the cost table's markers in README.md's "## Costs" section."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_BEGIN), text.find(README_END)
    costs = text.find("\n## Costs\n")
    if costs < 0 or not costs < start < end or text.find("\n## ", costs + 1) < end:
        raise SystemExit(f"{readme}: no {README_BEGIN} ... {README_END} in its ## Costs section")
    body = "\n".join(lines)
    readme.write_text(
        text[: start + len(README_BEGIN)] + "\n" + body + "\n" + text[end:], encoding="utf-8"
    )


def deployment() -> dict[str, Any]:
    """What template.yaml bills by the month (alarms, dashboards) and one health line's size."""
    from bench import cost
    from zlb_health_tools.template import load_template

    found = cost.deployment_from_template(load_template(), workloads.health_line_bytes())
    return {
        "alarm_conditions": list(found.alarm_conditions),
        "dashboards": found.dashboards,
        "health_line_bytes": found.health_line_bytes,
    }


if __name__ == "__main__":
    sys.exit(main())
