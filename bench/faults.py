#!/usr/bin/env python3
"""Benchmark: crigate-gate through each fault of tests/testbed/faults.py on a
test-bed cluster, clean (GO) and seeded with Docker couplings (NO-GO); writes
the table of docs/faults.md's figures (verdict, what the gate said, seconds)
to docs/figures.md.

    python bench/faults.py [--kubeconfig K] [--runtime containerd] [--no-record]

Without --kubeconfig it makes a one-node test-bed cluster and deletes it after.
Exits 1 when any fault gives a verdict other than its case's (the table is
then printed, not recorded).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import figures  # noqa: E402  (bench/figures.py, beside this script)
from crigate.testbed import kindcluster  # noqa: E402
from crigate.testbed.versions import kubernetes_release  # noqa: E402

from tests.testbed.conftest import Kubectl  # noqa: E402
from tests.testbed.faults import CASES, CLEAN, Bed, judged, run_case  # noqa: E402


def said(outcome, case) -> str:
    """What the gate said about the fault: the faults it met, or what it could not read."""
    if case.expect != CLEAN or outcome.code == 2:
        return "; ".join(outcome.undecided)[:160]
    met = [n.split(": ", 1)[1].split(";")[0] for n in outcome.notes if n.startswith("API faults met")]
    return f"retried: {met[0]}" if met else "nothing to retry"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, help="a test-bed cluster (default: make one)")
    parser.add_argument("--runtime", default="containerd")
    figures.add_option(parser)
    args = parser.parse_args()
    release = kubernetes_release(None)
    cluster = None
    if args.kubeconfig is None:
        cluster = kindcluster.up(release, args.runtime, f"crigate-faults-{uuid.uuid4().hex[:4]}")
        args.kubeconfig = cluster.kubeconfig
    kubectl = Kubectl(str(kindcluster.kubectl_bin(release)), args.kubeconfig)
    rows, failed = [], []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        bed = Bed(kubectl, args.kubeconfig, args.runtime, Path(folder))
        try:
            for coupled in (False, True):
                bed.couple(coupled)
                clean = bed.clean()
                rows.append(f"| none (clean run) | - | {clean.verdict} | - | {clean.seconds:.1f} |")
                for case in CASES:
                    outcome = run_case(case, args.kubeconfig, args.runtime, Path(folder) / f"{coupled}-{case.id}",
                                       bed.sizes)
                    wrong = judged(case, outcome, clean) + [f"left: {x}" for x in bed.leftovers()]
                    failed += [f"{case.id} on {clean.verdict}: {w}" for w in wrong]
                    rows.append(f"| {case.fault} | {case.injected} | {outcome.verdict} (exit {outcome.code}) | "
                                f"{said(outcome, case).replace('|', '/')} | {outcome.seconds:.1f} |")
        finally:
            bed.close()
            if cluster is not None:
                kindcluster.delete(cluster.name)
    table = ["| fault | how injected | verdict | what crigate said | seconds |", "|---|---|---|---|---|"]
    markdown = "\n".join([*table, *rows[:len(CASES) + 1], "", "On the seeded cluster (NO-GO):", "",
                          *table, *rows[len(CASES) + 1:], "",
                          f"`python bench/faults.py --runtime {args.runtime}` on Kubernetes {release.version}: "
                          f"{len(CASES)} faults x 2 clusters, each verdict as its case says, nothing labelled "
                          f"as crigate's left after any run; {time.monotonic() - started:.0f} s in all "
                          f"({bed.sizes['largest'] // 1024} KiB the largest answer)."])
    print(markdown)
    if failed:
        print("\n".join(["", "NOT AS EXPECTED:", *failed]), file=sys.stderr)
        return 1
    figures.record("faults", "On the clean cluster (GO):\n\n" + markdown, no_record=args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
