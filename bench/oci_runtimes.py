#!/usr/bin/env python3
"""crun against runc under each CRI runtime: the seeds' "about 48% faster".

    python bench/oci_runtimes.py [--runtimes all] [--pods 40] [--cri-bench 20]

Runs the latency area's crun check alone, one runtime at a time (no -n, as
`make baseline` does, so the runtimes do not share the CPUs while measured):
pods one at a time on one node, alternately without a RuntimeClass (runc) and
with RuntimeClass crun, then critest's benchmark with each handler. Prints the
crun/runc ratios with 95% bootstrap intervals beside the published claims and
records them in docs/figures.md (section oci-runtimes). `make baseline` measures
the same with everything else.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import figures

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtimes", default="all")
    parser.add_argument("--pods", type=int, default=40, help="pods per handler (default: --measure=full's 40)")
    parser.add_argument("--cri-bench", type=int, default=20, help="critest lifecycles per handler (0 skips)")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "oci-runtimes")
    figures.add_option(parser)
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    started = time.monotonic()
    rc = subprocess.run([sys.executable, "-m", "pytest", "suites/test_latency.py", "-k", "crun_against_runc",
                         "--runtime", args.runtimes, "--oci-runtimes=on", f"--latency-pods={args.pods}",
                         f"--cri-bench={args.cri_bench}", "-p", "no:cacheprovider", "-q",
                         "--report-dir", str(args.out)], cwd=REPO).returncode
    wall = time.monotonic() - started
    doc = json.loads((args.out / "results.json").read_text())
    rows = doc["performance"].get("oci_runtimes", [])
    if rc or not rows:
        print(f"pytest exit {rc}; no crun/runc figures (report: {args.out / 'report.html'})")
        return rc or 1
    claims = "; ".join(f"{c['ratio']:.3f} ({c['source']})" for c in rows[0]["claims"])
    lines = [f"{args.pods} pods per handler, alternated, one node per runtime; critest benchmark of "
             f"{args.cri_bench} per handler; both handlers through the test bed's oci-wrapper (Debian's crun "
             f"1.8.1, given the spec version and cgroup v1 limits it can apply; Debian bookworm's runc), "
             f"cgroup v1: {wall:.0f} s. Claims: {claims}.", "",
             "| runtime | measure | runc p50 (s) | crun p50 (s) | crun/runc | 95% CI |", "|---|---|---|---|---|---|"]
    for r in rows:
        ci = f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]" if r.get("ci") else f"n={min(r['n'])}: none"
        lines.append(f"| {r['a'].split()[0]} | {r['label']} | {r['runc_p50']:.4f} | {r['crun_p50']:.4f} | "
                     f"{r['median_ratio']:.3f} | {ci} |")
    print("\n".join(lines))
    figures.record("oci-runtimes", "\n".join(lines), no_record=args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
