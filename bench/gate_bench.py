#!/usr/bin/env python3
"""Benchmark: crigate-gate on a cluster holding ~N objects, and on the same
objects as manifests; prints wall seconds for each (target, issue 14: under
10 s for ~1000 objects on this 2-core machine).

    python bench/gate_bench.py [--objects 1000] [--kubeconfig K] [--runs 3]

Without --kubeconfig it makes a one-node containerd test-bed cluster and
deletes it after. The objects: the corpus' shapes (tests/corpus) repeated
under new names, half of them ConfigMaps, none of them running (Deployments
at 0 replicas, DaemonSets that select no node, suspended CronJobs).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import figures  # noqa: E402  (bench/figures.py, beside this script)
from crigate.testbed import kindcluster  # noqa: E402
from crigate.testbed.versions import kubernetes_release  # noqa: E402

from tests.corpus.cases import CORPUS  # noqa: E402


def corpus_objects() -> list[dict]:
    objects = []
    for path in sorted(CORPUS.glob("*/*.yaml")):
        objects.extend(o for o in yaml.safe_load_all(path.read_text()) if o)
    return objects


def copies(n: int) -> list[dict]:
    """n objects: the corpus' objects renamed round after round."""
    shapes, made, round_ = corpus_objects(), [], 0
    while len(made) < n:
        for obj in shapes:
            if len(made) == n:
                break
            copy = yaml.safe_load(yaml.safe_dump(obj))
            copy["metadata"]["name"] = f"{copy['metadata']['name'][:40]}-r{round_}"
            made.append(copy)
        round_ += 1
    return made


def timed(cmd: list[str]) -> tuple[float, int]:
    started = time.monotonic()
    rc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    return time.monotonic() - started, rc


def gate(*args: str) -> list[str]:
    return [sys.executable, "-m", "crigate.gate.cli", "--output", "json", *args]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kubeconfig", type=Path, help="an existing cluster (default: make a test bed)")
    args = parser.parse_args()
    release = kubernetes_release(None)
    cluster = None
    if args.kubeconfig is None:
        started = time.monotonic()
        cluster = kindcluster.up(release, "containerd", f"crigate-bench-{uuid.uuid4().hex[:4]}")
        args.kubeconfig = cluster.kubeconfig
        print(f"cluster create: {time.monotonic() - started:.1f} s", flush=True)
    kubectl = str(kindcluster.kubectl_bin(release))
    namespace = f"gate-bench-{uuid.uuid4().hex[:6]}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            manifest = Path(folder) / "objects.yaml"
            manifest.write_text(yaml.safe_dump_all(copies(args.objects)))
            subprocess.run([kubectl, "--kubeconfig", str(args.kubeconfig), "create", "namespace", namespace],
                           check=True, capture_output=True)
            started = time.monotonic()
            subprocess.run([kubectl, "--kubeconfig", str(args.kubeconfig), "apply", "-n", namespace,
                            "--server-side", "-f", str(manifest)], check=True, capture_output=True, timeout=900)
            print(f"applied {args.objects} objects in {time.monotonic() - started:.1f} s", flush=True)
            listed = subprocess.run([kubectl, "--kubeconfig", str(args.kubeconfig), "get",
                                     "deploy,ds,sts,rs,job,cronjob,cm,pods,podtemplates", "-A",
                                     "--no-headers"], capture_output=True, text=True).stdout
            print(f"cluster holds {len(listed.splitlines())} objects the gate reads", flush=True)
            for label, cmd in (
                    ("cluster", gate(f"--kubeconfig={args.kubeconfig}", f"--report-dir={folder}/c")),
                    ("manifests", gate("--manifests", str(manifest), f"--report-dir={folder}/m"))):
                times = []
                for _ in range(args.runs):
                    seconds, rc = timed(cmd)
                    if rc not in (0, 1):
                        print(f"{label}: crigate-gate exited {rc}", file=sys.stderr)
                        return 1
                    times.append(seconds)
                print(f"crigate-gate on {label}: median {statistics.median(times):.2f} s, "
                      f"max {max(times):.2f} s over {args.runs} runs (target < 10 s)", flush=True)
    finally:
        subprocess.run([kubectl, "--kubeconfig", str(args.kubeconfig), "delete", "namespace", namespace,
                        "--wait=false"], capture_output=True)
        if cluster is not None:
            kindcluster.delete(cluster.name)
    return 0


if __name__ == "__main__":
    sys.exit(figures.run_and_record("gate-bench", main))
