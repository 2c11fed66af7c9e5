"""The suites on a cluster crigate did not create, run as an identity that
holds only the ClusterRole crigate ships (`pytest --print-rbac`), leave
nothing behind: no object with crigate's label, no namespace, no
RuntimeClass of crigate's making."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crigate.kube import MANAGED_BY
from crigate.testbed.images import BUSYBOX_IMAGE

from .identity import service_account_kubeconfig
from .runs import SMALL_PERF, reaped

pytestmark = pytest.mark.testbed
REPO = Path(__file__).resolve().parents[2]
LABEL = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
AREAS = "sockets or logs or namespaces or gpu or latency or gate"


def print_rbac() -> str:
    done = subprocess.run([sys.executable, "-m", "pytest", "--print-rbac"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def crigate_leftovers(kubectl) -> dict[str, list[str]]:
    """Everything crigate may have made, listed across the cluster."""
    found = {}
    for kind in ("namespaces", "runtimeclasses", "clusterroles", "clusterrolebindings"):
        found[kind] = kubectl("get", kind, "-l", LABEL, "-o", "name").split()
    found["pods"] = kubectl("get", "pods", "-A", "-l", LABEL, "-o", "name").split()
    found["namespaces"] += [n for n in kubectl("get", "namespaces", "-o", "name").split()
                            if n.startswith("namespace/crigate-")]
    found["runtimeclasses"] += [r for r in kubectl("get", "runtimeclasses", "-o", "name").split()
                                if r != "runtimeclass.node.k8s.io/nvidia"]   # the test bed's own
    return {k: sorted(set(v)) for k, v in found.items() if v}


def test_every_area_runs_with_only_the_shipped_clusterrole_and_leaves_nothing(
        cluster, kubectl, gate_identity, tmp_path):
    name = gate_identity()
    manifest = print_rbac()
    kubectl.apply(manifest)
    kubectl("create", "clusterrolebinding", name, "--clusterrole=crigate-suites",
            f"--serviceaccount=default:{name}")
    kubeconfig = service_account_kubeconfig(cluster, kubectl, tmp_path, name)
    cluster.kube.settle()      # earlier checks' namespaces on this cluster are gone, not in the snapshot
    before = crigate_leftovers(kubectl)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-m", AREAS, "--cluster=existing",
         f"--kubeconfig={kubeconfig}", f"--runtime={cluster.runtime}", f"--debug-image={BUSYBOX_IMAGE}",
         "--node-checks", "--latency-pods=3", *SMALL_PERF, f"--report-dir={tmp_path / 'report'}",
         "-p", "no:cacheprovider", "-q"], cwd=REPO, capture_output=True, text=True, timeout=600)
    doc = json.loads((tmp_path / "report" / "results.json").read_text())
    denied = [r for r in doc["results"] if "forbidden" in (r.get("message") or "").lower()]
    assert not denied, f"checks that needed more than crigate-suites: {denied}"
    outcomes = {r["outcome"] for r in doc["results"]}
    assert outcomes <= {"passed", "skipped", "xfailed"}, done.stdout[-4000:]
    assert done.returncode == 0, done.stdout[-4000:]
    assert crigate_leftovers(kubectl) == before, "objects left behind by the run"
    kubectl("delete", "clusterrole", "crigate-suites", "--ignore-not-found")


def test_the_shipped_clusterrole_reads_no_secrets_and_writes_little():
    import yaml
    role = yaml.safe_load(print_rbac())
    granted = {(group, res, verb) for rule in role["rules"] for group in rule["apiGroups"]
               for res in rule["resources"] for verb in rule["verbs"]}
    assert not {g for g in granted if g[1] == "secrets"}
    writes = {(g, r) for g, r, v in granted if v in ("create", "delete", "update", "patch")}
    assert writes == {("", "namespaces"), ("", "pods"), ("", "pods/exec"),
                      ("node.k8s.io", "runtimeclasses")}, writes


def test_ctrl_c_mid_run_on_an_existing_cluster_leaves_nothing(cluster, kubectl, tmp_path):
    """SIGINT while a check's pods run: the namespaces, pods and debug pods go."""
    kubeconfig, _ = cluster.provider.kubeconfig()
    cluster.kube.settle()
    before = crigate_leftovers(kubectl)
    with reaped([sys.executable, "-m", "pytest", "suites", "-m", "logs or namespaces", "--cluster=existing",
                 f"--kubeconfig={kubeconfig}", f"--runtime={cluster.runtime}",
                 f"--debug-image={BUSYBOX_IMAGE}", f"--report-dir={tmp_path}", "-p", "no:cacheprovider",
                 "-q"], cwd=REPO) as run:
        deadline = time.monotonic() + 120
        while not crigate_leftovers(kubectl).get("pods"):
            assert run.poll() is None and time.monotonic() < deadline, "the run made no pod"
            time.sleep(0.2)
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=180)
    assert run.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert crigate_leftovers(kubectl) == before, f"left after Ctrl-C:\n{output[-3000:]}"
