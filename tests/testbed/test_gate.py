"""The upgrade gate on real test-bed clusters: clean first (GO, with only the
shipped ClusterRole), then one namespace it may not read (exit 2), then
seeded with offending workloads and their clean twins (NO-GO, exit 1)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml
from crigate.facts import MANAGED_BY_SELECTOR
from crigate.gate.inventory import READ_ONLY_RESOURCES
from crigate.gate.rules import KUBEADM_CRI_ANNOTATION
from crigate.testbed.images import BUSYBOX_IMAGE

from .gate_seeds import CLEAN_TWINS, EXPECTED, seeds
from .identity import GATE_CLUSTERROLE as CLUSTERROLE
from .identity import service_account_kubeconfig, shipped_role_kubeconfig
from .runs import reaped

pytestmark = pytest.mark.testbed
REPO = Path(__file__).resolve().parents[2]
STALE_DAEMON_JSON = {"registry-mirrors": ["https://mirror.example"],
                     "insecure-registries": ["10.0.0.5:5000"],
                     "log-opts": {"max-size": "10m"}, "default-runtime": "nvidia"}


def run_gate(kubeconfig: Path, runtime: str, report_dir: Path, *extra: str) -> tuple[int, str, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "crigate.gate.cli", f"--kubeconfig={kubeconfig}",
         f"--runtime={runtime}", f"--report-dir={report_dir}", f"--debug-image={BUSYBOX_IMAGE}",
         *extra], cwd=REPO, capture_output=True, text=True, timeout=300)
    results = report_dir / "results.json"
    doc = json.loads(results.read_text())["gate"].get(runtime, {}) if results.exists() else {}
    return done.returncode, done.stdout + done.stderr, doc


def test_clean_cluster_is_go_with_only_the_shipped_clusterrole(cluster, kubectl, gate_identity,
                                                               tmp_path):
    kubeconfig = shipped_role_kubeconfig(cluster, kubectl, tmp_path, gate_identity())
    code, output, gate = run_gate(kubeconfig, cluster.runtime, tmp_path / "report")
    assert code == 0, f"expected GO (exit 0) on a clean cluster:\n{output[-3000:]}"
    assert gate["verdict"] == "GO" and not gate["undecided"], gate
    assert not [f for f in gate["findings"] if f["severity"] == "breaks"], gate["findings"]
    assert "crigate-gate: GO" in output


def test_unreadable_namespace_means_could_not_decide(cluster, kubectl, gate_identity, tmp_path):
    """Namespaced read everywhere but one namespace: exit 2, naming the permission."""
    name = gate_identity()
    hidden = f"gate-hidden-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", hidden)
    try:
        kubectl.apply(CLUSTERROLE.read_text())
        kubectl("create", "clusterrole", name, "--verb=list",
                "--resource=namespaces,nodes,runtimeclasses.node.k8s.io")
        kubectl("create", "clusterrolebinding", name, f"--clusterrole={name}",
                f"--serviceaccount=default:{name}")
        namespaces = kubectl("get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}").split()
        for namespace in namespaces:
            if namespace != hidden:
                kubectl("create", "rolebinding", name, "-n", namespace, "--clusterrole=crigate-gate",
                        f"--serviceaccount=default:{name}")
                kubectl("label", "rolebinding", name, "-n", namespace, f"crigate-test={name}")
        kubeconfig = service_account_kubeconfig(cluster, kubectl, tmp_path, name)
        code, output, gate = run_gate(kubeconfig, cluster.runtime, tmp_path / "report")
    finally:
        kubectl("delete", "namespace", hidden, "--wait=true", timeout=180)
    assert code == 2, f"expected exit 2 (could not decide):\n{output[-3000:]}"
    assert gate["verdict"] == "UNDECIDED", gate
    assert f"list pods (apiGroup 'core') in namespace {hidden}" in output, output[-3000:]
    assert "could not decide" in output


@pytest.fixture(scope="module")
def seeded(cluster, kubectl, tmp_path_factory):
    """Offending workloads and clean twins in a plain namespace; the gate run on it."""
    namespace = f"gate-seeds-{uuid.uuid4().hex[:6]}"      # not crigate-labelled: audited
    suffix = namespace.rsplit("-", 1)[1]
    node = cluster.nodes[0]
    annotation = kubectl.json("get", "node", node)["metadata"]["annotations"].get(
        KUBEADM_CRI_ANNOTATION, "")
    items = seeds() + [
        {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
         "metadata": {"name": f"legacy-gpu-{suffix}"}, "handler": "nvidia-docker"},
        {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
         "metadata": {"name": f"gpu-{suffix}"}, "handler": "nvidia"}]
    # each step's undo registered as it is done; on the way out every undo runs
    # (later audits need a clean cluster), the first failure raised after
    with ExitStack() as undo:
        kubectl("create", "namespace", namespace)
        undo.callback(kubectl, "delete", "namespace", namespace, "--wait=true", timeout=180)
        undo.callback(kubectl, "delete", "runtimeclass", f"legacy-gpu-{suffix}", f"gpu-{suffix}",
                      "--ignore-not-found")
        kubectl("apply", "-n", namespace, "-f", "-",
                input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        undo.callback(kubectl, "annotate", "node", node, "--overwrite",
                      f"{KUBEADM_CRI_ANNOTATION}={annotation}")
        kubectl("annotate", "node", node, "--overwrite",
                f"{KUBEADM_CRI_ANNOTATION}=/var/run/dockershim.sock")
        undo.callback(subprocess.run, ["docker", "exec", node, "rm", "-f", "/etc/docker/daemon.json"],
                      check=True)
        subprocess.run(["docker", "exec", "-i", node, "sh", "-c", "mkdir -p /etc/docker && cat > "
                        "/etc/docker/daemon.json"], input=json.dumps(STALE_DAEMON_JSON), text=True,
                       check=True)
        report = tmp_path_factory.mktemp("gate-seeded")
        yield namespace, suffix, node, run_gate(cluster.provider.kubeconfig()[0], cluster.runtime,
                                                report, "--node-checks")


def reported(findings: list[dict], kind: str, namespace: str, name: str) -> list[dict]:
    ref = f"{kind}/{namespace}/{name}"
    return [f for f in findings if f["object"] == ref or f["object"].startswith((ref + "/", ref + "["))]


def test_seeded_cluster_is_no_go(seeded):
    namespace, _, _, (code, output, gate) = seeded
    assert code == 1, f"expected NO-GO (exit 1):\n{output[-3000:]}"
    assert gate["verdict"] == "NO-GO"
    assert "crigate-gate: NO-GO" in output


@pytest.mark.parametrize("rule,kind,name", EXPECTED, ids=[f"{r}:{n}" for r, _, n in EXPECTED])
def test_offending_workload_is_found(seeded, rule, kind, name):
    namespace, _, _, (_, output, gate) = seeded
    found = [f for f in reported(gate["findings"], kind, namespace, name) if f["check"] == rule]
    assert found, (f"{kind}/{namespace}/{name}: expected a {rule} finding, observed "
                   f"{[(f['check'], f['object']) for f in gate['findings']]}")
    assert all(f["remediation"] and f["why"] for f in found)


@pytest.mark.parametrize("name", CLEAN_TWINS)
def test_clean_twin_is_not_found(seeded, name):
    namespace, _, _, (_, _, gate) = seeded
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod", "ConfigMap"):
        assert not reported(gate["findings"], kind, namespace, name), (
            f"{kind}/{namespace}/{name} is a clean twin, observed findings "
            f"{reported(gate['findings'], kind, namespace, name)}")


def test_node_facts_are_found(seeded):
    _, suffix, node, (_, _, gate) = seeded
    by_check = {}
    for f in gate["findings"]:
        by_check.setdefault(f["check"], []).append(f)
    assert any(f["object"] == f"Node/{node}" for f in by_check.get("kubeadm-cri-socket", [])), gate
    daemon = " ".join(f["depends_on"] for f in by_check.get("docker-daemon-config", []))
    for key in STALE_DAEMON_JSON:
        assert key in daemon, f"Node/{node}: daemon.json {key} expected as a finding, observed {daemon!r}"
    handlers = [f["object"] for f in by_check.get("runtime-class-handler", [])
                if f["severity"] == "breaks"]
    assert f"RuntimeClass/legacy-gpu-{suffix}" in handlers, gate["findings"]
    assert f"RuntimeClass/gpu-{suffix}" not in handlers, "handler nvidia is configured on the test bed"
    others = [f for f in gate["findings"] if f["object"].startswith("Node/")
              and not f["object"].startswith(f"Node/{node}")]
    assert not others, f"only {node} was staged; observed {others}"


def test_the_clusterrole_names_every_resource_the_audit_reads():
    rules = [r for doc in yaml.safe_load_all(CLUSTERROLE.read_text())
             if doc["metadata"]["name"] == "crigate-gate" for r in doc["rules"]]
    granted = {(group, resource) for r in rules for group in r["apiGroups"]
               for resource in r["resources"] if "list" in r["verbs"]}
    needed = {(r.group, r.plural) for r in READ_ONLY_RESOURCES}
    assert needed <= granted, f"missing from clusterrole.yaml: {needed - granted}"


def test_ctrl_c_during_node_checks_leaves_no_debug_pod(cluster, tmp_path):
    """The debug image cannot be pulled here, so the pod waits in Pending while
    Ctrl-C arrives; the gate must still delete it."""
    if missing := cluster.capabilities.missing("builds_nodes", "leaves a debug pod Pending on "
                                               "purpose, in a cluster of crigate's own"):
        pytest.skip(missing)
    selector = MANAGED_BY_SELECTOR
    debug_pods = lambda: cluster.kube.core.list_namespaced_pod(  # noqa: E731
        "default", label_selector=selector).items
    assert not debug_pods()
    with reaped([sys.executable, "-m", "crigate.gate.cli", f"--kubeconfig={cluster.provider.kubeconfig()[0]}",
                 f"--runtime={cluster.runtime}", f"--report-dir={tmp_path}", "--node-checks",
                 "--debug-image=crigate.local/not-pullable:0"], cwd=REPO) as run:
        deadline = time.monotonic() + 60
        while not debug_pods():      # seen within the second or so before its pull fails
            assert run.poll() is None and time.monotonic() < deadline, "no debug pod was created"
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=60)
    assert run.returncode == 2, f"expected exit 2 (could not decide) after Ctrl-C:\n{output[-2000:]}"
    deadline = time.monotonic() + 30
    while [p for p in debug_pods() if not p.metadata.deletion_timestamp]:
        assert time.monotonic() < deadline, f"debug pod left after Ctrl-C: {output[-2000:]}"
        time.sleep(0.5)


def test_a_debug_pod_the_node_cannot_pull_is_could_not_decide(cluster, tmp_path):
    """A node the gate cannot read is the environment's fault: exit 2 naming
    the debug pod and the fix, never 3 (crigate's own error), never GO."""
    code, output, doc = run_gate(cluster.provider.kubeconfig()[0], cluster.runtime, tmp_path,
                                 "--node-checks", "--debug-image=crigate.local/not-pullable:0")
    assert code == 2, f"expected exit 2 (could not decide), observed {code}:\n{output[-2000:]}"
    assert "could not be reached" in output and "--debug-image" in output, output[-2000:]
    assert doc.get("verdict") == "UNDECIDED", doc
