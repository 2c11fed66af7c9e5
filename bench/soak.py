#!/usr/bin/env python3
"""Soak: the conformance job N times; prints, per check x runtime, in how many
runs it failed, and how many runs failed at all. A verdict worth having is the
same every run: the target is 0 failed runs in 10 (a figure, not a test).

    python bench/soak.py --runs 10 [--out reports/soak] -- --runtime all -n 2

Arguments after `--` go to `pytest suites` (each run writes its reports to
OUT/run-<i>). Exit status: 0 when no run failed, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import figures

REPO = Path(__file__).resolve().parent.parent
FAILING = ("failed", "error")        # plugins/render.py FAILING_OUTCOMES, without importing crigate


def one_run(index: int, out: Path, pytest_args: list[str]) -> dict:
    report_dir = out / f"run-{index}"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "suites", *pytest_args,
                           f"--report-dir={report_dir}", "-p", "no:cacheprovider", "-q"],
                          cwd=REPO, capture_output=True, text=True)
    results_file = report_dir / "results.json"
    results = json.loads(results_file.read_text())["results"] if results_file.is_file() else []
    return {"rc": done.returncode, "seconds": time.monotonic() - started, "results": results,
            "tail": done.stdout[-1500:] if done.returncode else ""}


def failure_table(runs: list[dict]) -> Counter:
    failed = Counter()
    for run in runs:
        for r in run["results"]:
            if r["outcome"] in FAILING:
                failed[(r["check"], r["runtime"])] += 1
    return failed


def soak_markdown(runs: list[dict], table: Counter, pytest_args: list[str]) -> str:
    seconds = [r["seconds"] for r in runs]
    counts = sorted({len(r["results"]) for r in runs})
    results = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    lines = [f"`bench/soak.py --runs {len(runs)} -- {' '.join(pytest_args)}`: "
             f"**{sum(r['rc'] != 0 for r in runs)} of {len(runs)} runs failed**, "
             f"{results} results per run, "
             f"{min(seconds):.0f}-{max(seconds):.0f} s per run, {sum(seconds):.0f} s in all."]
    if table:
        lines += ["", "| check | runtime | failed runs |", "|---|---|---|"]
        lines += [f"| `{check}` | {runtime} | {n}/{len(runs)} |" for (check, runtime), n in sorted(table.items())]
    else:
        lines.append(f"Every check x runtime failed in 0 of {len(runs)} runs.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ours, pytest_args = argv, ["--runtime", "all", "-n", "2"]
    if "--" in argv:
        ours, pytest_args = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="how many runs (default 10)")
    parser.add_argument("--out", type=Path, default=REPO / "reports/soak", help="report directory")
    figures.add_option(parser)
    args = parser.parse_args(ours)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = []
    for i in range(1, args.runs + 1):
        run = one_run(i, args.out, pytest_args)
        runs.append(run)
        bad = sum(r["outcome"] in FAILING for r in run["results"])
        print(f"soak run {i}/{args.runs}: exit {run['rc']}, {len(run['results'])} results, "
              f"{bad} failed, {run['seconds']:.0f} s", flush=True)
        if run["rc"] not in (0, 1) or not run["results"]:
            print(f"  run {i} produced no verdict (exit {run['rc']}):\n{run['tail']}", flush=True)
    failed_runs = sum(r["rc"] != 0 for r in runs)
    table = failure_table(runs)
    checks = sorted({k for r in runs for k in ((x["check"], x["runtime"]) for x in r["results"])})
    print(f"\nsoak: {failed_runs} of {len(runs)} runs failed "
          f"(pytest {' '.join(pytest_args)}); wall {sum(r['seconds'] for r in runs):.0f} s")
    print(f"{'check':60} {'runtime':12} failed runs")
    for check, runtime in checks:
        print(f"{check:60} {runtime:12} {table.get((check, runtime), 0)}/{len(runs)}")
    figures.record("soak", soak_markdown(runs, table, pytest_args), no_record=args.no_record)
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
