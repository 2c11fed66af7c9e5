"""A cluster mid-way through a migration, as users bring it: a containerd
control plane, a Docker worker and a CRI-O worker, whose nodes hold none of
crigate's workload images and pull them from a real registry (Debian's
docker-registry on kind's network) after `python -m crigate.testbed images push`.
`pytest suites --cluster=existing --runtime auto --image-repo ...` checks each
node against the runtime it reports."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from crigate.testbed import kindcluster, registry
from crigate.testbed.engine import docker
from crigate.testbed.ports import free_port
from crigate.testbed.versions import kubernetes_release
from crigate.waiting import until

from .conftest import Kubectl
from .runs import SMALL_PERF
from .test_docker_baseline import MUST_FAIL, MUST_PASS
from .test_suites_on_existing import crigate_leftovers

pytestmark = pytest.mark.testbed
REPO = Path(__file__).resolve().parents[2]
NODE_REPO = f"{registry.NODE_ADDRESS}/crigate"
WORKERS = ("docker", "cri-o")


@pytest.fixture(scope="module")
def mixed(crigate_settings):
    release = kubernetes_release(crigate_settings.k8s_minor)
    if not release.at_least("1.31"):
        pytest.skip(f"nodes of several runtimes need Kubernetes 1.31+ (this run: {release.minor})")
    name = f"crigate-mixed-{uuid.uuid4().hex[:6]}"
    push_address = registry.up(free_port())
    try:
        pushed = subprocess.run([sys.executable, "-m", "crigate.testbed", "images", "push", "--registry",
                                 f"{push_address}/crigate", "--insecure"], cwd=REPO,
                                capture_output=True, text=True, timeout=600)
        assert pushed.returncode == 0, pushed.stderr
        cluster = kindcluster.up(release, "containerd", name, workers=WORKERS, workloads=False)
        yield {"cluster": cluster, "push": push_address,
               "kubectl": Kubectl(kindcluster.kubectl_bin(release), cluster.kubeconfig)}
    finally:
        kindcluster.delete(name)
        registry.down()


def suites(mixed, report_dir: Path, *args: str, timeout: float = 900) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "--cluster=existing",
         f"--kubeconfig={mixed['cluster'].kubeconfig}", f"--image-repo={NODE_REPO}",
         f"--report-dir={report_dir}", "-p", "no:cacheprovider", *SMALL_PERF, *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout)
    results = report_dir / "results.json"
    assert results.exists(), done.stdout[-4000:] + done.stderr[-2000:]
    return done, json.loads(results.read_text())


@pytest.fixture(scope="module")
def auto_run(mixed, tmp_path_factory):
    before = crigate_leftovers(mixed["kubectl"])
    done, doc = suites(mixed, tmp_path_factory.mktemp("mixed"), "--runtime=auto", "--node-checks",
                       "--latency-pods=3", "-n", "2")
    return {"done": done, "doc": doc, "before": before}


def outcomes(doc: dict, runtime: str) -> dict[str, dict]:
    return {r["check"]: r for r in doc["results"] if r["runtime"] == runtime}


def test_nodes_hold_no_workload_image_and_report_their_runtimes(mixed):
    nodes = mixed["kubectl"].json("get", "nodes")["items"]
    versions = sorted(n["status"]["nodeInfo"]["containerRuntimeVersion"].split("://")[0] for n in nodes)
    assert versions == ["containerd", "cri-o", "docker"]
    for n in nodes:
        names = [name for image in n["status"].get("images", []) for name in image.get("names", [])]
        assert not [i for i in names if i.startswith("crigate.local/")], (n["metadata"]["name"], names)


def test_auto_checks_each_runtime_on_its_own_nodes(auto_run):
    doc = auto_run["doc"]
    assert set(doc["clusters"]) == {"containerd", "docker", "cri-o"}
    for runtime, cluster in doc["clusters"].items():
        checked = cluster["nodes_checked"]
        assert len(checked) == 1 and cluster["node_runtimes"][checked[0]].startswith(
            {"containerd": "containerd://", "docker": "docker://", "cri-o": "cri-o://"}[runtime])
    per_node = {r["node"]: r for r in doc["nodes"]}
    assert len(per_node) == 3 and all(r["checks"] for r in per_node.values())
    for runtime, cluster in doc["clusters"].items():
        row = per_node[cluster["nodes_checked"][0]]
        assert row["checked_as"] == runtime, row
        # pod checks too, under the node their pods ran on: logs and namespaces deploy pods
        pod_checks = {c for c in row["checks"] if "log" in c or "namespace" in c}
        assert pod_checks, (runtime, sorted(row["checks"]))


def test_cri_nodes_pass_every_area_but_the_gate(auto_run):
    # one test for both (not parametrized): an id like [cri-o] would send it to that
    # runtime's xdist worker, away from this module's cluster (plugins/scheduling.py)
    for node_runtime in ("containerd", "cri-o"):
        results = outcomes(auto_run["doc"], node_runtime)
        bad = {c: r["message"][:300] for c, r in results.items()
               if r["outcome"] not in ("passed", "skipped", "xfailed") and r["area"] != "gate"}
        assert not bad, (node_runtime, bad)
        for area in ("sockets", "logs", "namespaces", "latency", "gpu"):
            assert any(r["area"] == area and r["outcome"] == "passed" for r in results.values()), (
                node_runtime, area)


def test_the_docker_node_fails_as_the_docker_baseline_does(auto_run):
    results = outcomes(auto_run["doc"], "docker")
    for check, fragments in MUST_FAIL.items():
        assert results[check]["outcome"] == "failed", (check, results[check])
        for fragment in fragments:
            assert fragment in results[check]["message"], (check, fragment, results[check]["message"])
    for check in MUST_PASS:
        assert results[check]["outcome"] == "passed", (check, results[check])


def test_the_gate_reports_the_docker_node(auto_run, mixed):
    gate = auto_run["doc"]["gate"]["containerd"]
    assert gate["verdict"] == "NO-GO"
    docker_node = f"{mixed['cluster'].name}-worker"
    found = {f["check"]: f for f in gate["findings"]}
    assert "docker-nodes" in found and docker_node in found["docker-nodes"]["depends_on"], found
    assert found["kubelet-runtime-endpoint"]["object"] == f"Node/{docker_node}"


def test_the_run_leaves_nothing_behind(auto_run, mixed):
    assert crigate_leftovers(mixed["kubectl"]) == auto_run["before"]


def test_an_image_missing_from_the_registry_fails_its_check_naming_the_fix(mixed, auto_run, tmp_path):
    registry.delete_image(mixed["push"], "crigate/logger", "1")
    worker = f"{mixed['cluster'].name}-worker2"        # the CRI-O node, as a new node would be: no copy
    image = f"{NODE_REPO}/logger:1"

    def remove() -> tuple[bool, str]:
        """(still there, what crictl rmi said)"""
        said = docker("exec", worker, "crictl", "rmi", image, check=False).stderr.strip()
        return docker("exec", worker, "crictl", "inspecti", image, check=False).returncode == 0, said
    # CRI-O keeps an image while a container still uses it
    until(remove, lambda seen: not seen[0], f"node {worker}: {image} removed")
    started = time.monotonic()
    done, doc = suites(mixed, tmp_path, "--runtime=cri-o", f"--nodes=kubernetes.io/hostname={worker}",
                       "-k", "test_pod_log_file_is_under_var_log_pods")
    elapsed = time.monotonic() - started
    [result] = doc["results"]
    print(f"missing image: the check failed {elapsed:.1f}s after the run started")
    assert result["outcome"] == "error", result
    assert f"{NODE_REPO}/logger:1" in result["message"] and "ImagePull" in result["message"]
    assert "python -m crigate.testbed images push --registry REPO" in result["message"]
