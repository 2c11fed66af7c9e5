#!/usr/bin/env python3
"""crigate-gate over a fleet in one run: three test-bed clusters (one with a
Docker coupling) and a context whose API server is down.

    python bench/fleet_gate.py [--keep]

Makes the clusters (`python -m crigate.testbed up`: containerd, cri-o,
containerd), applies a DaemonSet that mounts docker.sock to the first, writes
one kubeconfig with a context per cluster plus `down`, and times
`crigate-gate --all-contexts` against the same clusters read one run at a
time. Prints each cluster's verdict and the fleet's; records them in
docs/figures.md (section fleet-gate). The clusters are deleted at the end.
"""
from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import figures
import yaml
from crigate.testbed.ports import free_port

REPO = Path(__file__).resolve().parent.parent
CLUSTERS = (("coupled", "containerd"), ("clean-cri-o", "cri-o"), ("clean", "containerd"))
COUPLING = {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "log-agent", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "log-agent"}},
                     "template": {"metadata": {"labels": {"app": "log-agent"}}, "spec": {
                         "nodeSelector": {"crigate.bench/none": "true"},     # read, never run
                         "containers": [{"name": "agent", "image": "crigate.local/busybox:1",
                                         "volumeMounts": [{"name": "sock", "mountPath": "/var/run/docker.sock"}]}],
                         "volumes": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]}}}}


def testbed(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "crigate.testbed", *args], cwd=REPO, check=True)


def kubectl() -> str:
    from crigate.testbed.kindcluster import kubectl_bin
    from crigate.testbed.versions import DEFAULT_KUBERNETES, kubernetes_release
    return kubectl_bin(kubernetes_release(DEFAULT_KUBERNETES))


def fleet_kubeconfig(path: Path, named: dict[str, Path]) -> Path:
    doc = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for name, source in named.items():
        one = yaml.safe_load(source.read_text())
        ctx = next(c for c in one["contexts"] if c["name"] == one["current-context"])["context"]
        doc["clusters"].append({"name": name, "cluster": next(
            c for c in one["clusters"] if c["name"] == ctx["cluster"])["cluster"]})
        doc["users"].append({"name": name, "user": next(u for u in one["users"] if u["name"] == ctx["user"])["user"]})
        doc["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    doc["clusters"].append({"name": "down", "cluster": {"server": f"https://127.0.0.1:{free_port()}",
                                                        "insecure-skip-tls-verify": True}})
    doc["contexts"].append({"name": "down", "context": {"cluster": "down", "user": next(iter(named))}})
    doc["current-context"] = next(iter(named))
    path.write_text(yaml.safe_dump(doc))
    return path


def gate(kubeconfig: Path, *contexts: str) -> tuple[float, int, dict]:
    chosen = [a for c in contexts for a in ("--context", c)] or ["--all-contexts"]
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "crigate.gate.cli", f"--kubeconfig={kubeconfig}", *chosen,
                           "--runtime=containerd", "-o", "json", "--report-dir", tempfile.mkdtemp()],
                          cwd=REPO, capture_output=True, text=True)
    return time.monotonic() - started, done.returncode, json.loads(done.stdout) if done.stdout else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the clusters")
    figures.add_option(parser)
    args = parser.parse_args()
    token = secrets.token_hex(3)
    folder = Path(tempfile.mkdtemp(prefix="crigate-fleet-"))
    made, configs = [], {}
    try:
        for context, runtime in CLUSTERS:
            name = f"crigate-bench-fleet-{context}-{token}"
            configs[context] = folder / f"{context}.kubeconfig"
            testbed("up", "--runtime", runtime, "--name", name, "--kubeconfig", str(configs[context]))
            made.append(name)
        subprocess.run([kubectl(), "--kubeconfig", str(configs["coupled"]), "apply", "-f", "-"],
                       input=json.dumps(COUPLING), text=True, check=True, capture_output=True)
        merged = fleet_kubeconfig(folder / "fleet.kubeconfig", configs)
        one_by_one = {c: gate(merged, c) for c in [*configs, "down"]}
        wall, code, doc = gate(merged)
    finally:
        if not args.keep:
            for name in made:
                testbed("down", "--name", name)
    verdicts = {c["context"]: c["verdict"] for c in doc.get("clusters", [])}
    lines = [f"`crigate-gate --all-contexts` over {len(verdicts)} contexts: three test-bed clusters "
             "(containerd with a DaemonSet on docker.sock, CRI-O, containerd) and one whose API server is "
             f"down: **{wall:.1f} s**, exit {code}, fleet {doc.get('verdict')}; the same contexts one run "
             f"each: {sum(t for t, _, _ in one_by_one.values()):.1f} s in all.", "",
             "| context | verdict | exit (alone) | seconds (alone) |", "|---|---|---|---|"]
    lines += [f"| {c} | {verdicts.get(c, '?')} | {rc} | {t:.1f} |" for c, (t, rc, _) in one_by_one.items()]
    text = "\n".join(lines)
    print(text)
    figures.record("fleet-gate", text, no_record=args.no_record)
    return 0 if code == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
