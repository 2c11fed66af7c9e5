#!/usr/bin/env python3
"""Benchmark: how long `crigate-gate --manifests FILE` takes end to end on a
one-object file (target, crigate issue 19: median under 0.5 s on this 2-core
VM), and whether the direct engine path still gives, on every corpus case
(tests/corpus), the findings, verdict and exit code the case expects.

    python bench/gate_startup.py [--runs 10] [--no-corpus]

Each run is a fresh subprocess (`python -m crigate.gate.cli`), so interpreter
start and imports count, as they do for a user in CI.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import figures  # noqa: E402  (bench/figures.py, beside this script)
from crigate.gate import engine  # noqa: E402
from crigate.gate.audit import manifests_audit  # noqa: E402
from crigate.gate.manifests import read_objects  # noqa: E402

from tests.corpus.cases import CLEAN_DEPLOYMENT, NAMESPACE, cases  # noqa: E402

TARGET_S = 0.5


def gate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crigate.gate.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def startup_median(runs: int, folder: Path) -> float:
    manifest = folder / "one.yaml"
    manifest.write_text(CLEAN_DEPLOYMENT)
    times = []
    for _ in range(runs):
        started = time.monotonic()
        done = gate("--manifests", str(manifest), f"--report-dir={folder / 'r'}")
        times.append(time.monotonic() - started)
        if done.returncode != 0:
            raise SystemExit(f"crigate-gate exited {done.returncode} on a clean object: {done.stderr}")
    return statistics.median(times)


def said(findings) -> set[tuple]:
    return {(f["check"], f["severity"], f["object"], f["depends_on"], f["location"]) for f in findings}


def corpus_mismatches(folder: Path) -> list[str]:
    """Each case through the CLI next to the rules run in process and the case's header."""
    wrong = []
    for case in cases():
        audit = manifests_audit(read_objects([str(case.path)]), [], NAMESPACE)
        expected = said(f.as_dict() for f in engine.decide(audit, "containerd").findings)
        code = 1 if any(e.severity == "breaks" for e in case.expected) else 0
        done = gate("--manifests", str(case.path), f"--namespace={NAMESPACE}", "-o", "json",
                    f"--report-dir={folder / 'c'}")
        doc = json.loads(done.stdout or "{}")
        if said(doc.get("findings", [])) != expected:
            wrong.append(f"{case.id}: findings differ")
        if (done.returncode, doc.get("verdict")) != (code, ("GO", "NO-GO")[code]):
            wrong.append(f"{case.id}: exit {done.returncode} verdict {doc.get('verdict')}, expected "
                         f"{code} {('GO', 'NO-GO')[code]}")
    return wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-corpus", action="store_true", help="only the start-up time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        median = startup_median(args.runs, folder)
        print(f"crigate-gate --manifests (one object): median {median:.3f} s over {args.runs} runs "
              f"(target < {TARGET_S} s)", flush=True)
        wrong = [] if args.no_corpus else corpus_mismatches(folder)
    if not args.no_corpus:
        print(f"corpus: {len(cases()) - len({w.split(':')[0] for w in wrong})} of {len(cases())} cases "
              "give the expected findings, verdict and exit code")
    for line in wrong:
        print(f"  {line}")
    return 1 if wrong or median >= TARGET_S else 0


if __name__ == "__main__":
    sys.exit(figures.run_and_record("gate-startup", main))
