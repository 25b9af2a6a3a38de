"""Run every benchmark, print a table, optionally write JSON. Never fails on timing."""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import traceback

import torch

SUITES = ["bench.app_latency", "bench.engine_speed", "bench.sweep_speed", "bench.shrink_speed",
          "bench.startup", "bench.sessions_memory", "bench.soak", "bench.browser_latency", "bench.drag_preview", "bench.workshop"]


def print_table(rows: list[dict]) -> None:
    print(f"{'benchmark':<58} {'median':>10} {'min':>10} {'max':>10} {'unit':<5} {'target':<14} result")
    for row in rows:
        verdict = {True: "PASS", False: "FAIL", None: "-"}[row.get("passed")]
        print(f"{row['name']:<58} {row['median']:>10.3f} {row['min']:>10.3f} {row['max']:>10.3f} "
              f"{row['unit']:<5} {row.get('target') or '':<14} {verdict}")


def machine() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(), "cores": __import__("os").cpu_count()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run, for CI")
    parser.add_argument("--json", metavar="FILE", help="also write results as JSON to FILE")
    parser.add_argument("--only", help="comma list of suite names (e.g. app_latency,startup)")
    args = parser.parse_args(argv)
    wanted = [f"bench.{n.strip()}" for n in args.only.split(",")] if args.only else SUITES
    rows, errors = [], []
    for suite in wanted:
        try:
            module = importlib.import_module(suite)
        except ModuleNotFoundError as err:
            if err.name == suite:
                errors.append(f"{suite}: not found")
                continue
            raise
        try:
            rows.extend(module.run(quick=args.quick))
        except Exception:  # a broken benchmark is reported, the others still run  # noqa: BLE001
            errors.append(f"{suite}: {traceback.format_exc()}")
    print_table(rows)
    for error in errors:
        print(f"ERROR {error}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "quick": args.quick, "results": rows, "errors": errors}, f, indent=2)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
