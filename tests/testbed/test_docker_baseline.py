"""The Docker baseline proves the suites detect the old setup: on a real
Docker Engine node (kubelet -> cri-dockerd -> dockerd), the socket, log-path
and namespace checks fail, each with a message naming node, expected and
observed; the checks that hold for any runtime still pass there."""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from crigate.facts import DOCKER_DATA, DOCKER_SOCKET, MANAGED_BY_SELECTOR
from crigate.providers import cluster_name
from crigate.testbed import kindcluster
from crigate.testbed.images import BUSYBOX_IMAGE
from crigate.testbed.versions import kubernetes_release

from .conftest import Kubectl
from .mount_shapes import SHAPES, observe

pytestmark = pytest.mark.testbed
REPO = Path(__file__).resolve().parents[2]

# check -> fragments its failure message must hold on a Docker node
MUST_FAIL = {
    "sockets::test_no_docker_or_dockershim_socket": ("expected no Docker/dockershim socket",
                                                     "/var/run/docker.sock"),
    "sockets::test_no_docker_daemon_runs": ("expected no Docker daemon", "dockerd"),
    "sockets::test_kubelet_flags_and_config_do_not_mention_docker": ("cri-dockerd",),
    "logs::test_pod_log_file_is_under_var_log_pods": ("observed a symlink to /var/lib/docker/containers/",),
    "logs::test_every_line_is_cri_format": ("expected every line in CRI format", '{"log":'),
    "logs::test_long_line_arrives_as_partial_chunks": ("expected the 40000-byte line, observed none",
                                                       "lines are not CRI format"),
    "logs::test_var_log_containers_links_to_the_pod_log": ("observed /var/lib/docker/containers/",),
    "logs::test_restarted_container_logs_to_1_log": ("1.log (a regular file), observed a symlink to "
                                                     "/var/lib/docker/containers/",),
    "logs::test_kubectl_logs_match_the_file": ("expected CRI log lines in the file to compare with `kubectl logs`",
                                               "not CRI format"),
    "logs::test_stderr_written_mid_line_lands_between_the_stdout_chunks": ("expected every line in CRI format",),
    "logs::test_nothing_under_var_lib_docker_containers": ("expected nothing under /var/lib/docker/containers",),
    "logs::test_docker_json_log_shipper_reads_nothing": ("expected a Docker JSON parser to read 0",),
    # the container operator parses Docker's json-file but does not join its 16 KiB
    # records (it recombines CRI P/F chunks only: container.md, parser.go)
    "logs::test_cri_ready_otel_collector_config_returns_every_line": ("4 intact", "long line whole: no"),
    "namespaces::test_pod_containers_live_in_the_runtimes_store": ("in containerd namespace k8s.io",),
    "namespaces::test_docker_sees_no_pod_container": ("expected Docker to see no containers",),
    "namespaces::test_pod_images_are_in_the_k8s_io_namespace": ("in containerd namespace k8s.io",),
    # Docker gives each container its own UTS namespace (cri-dockerd: UTSMode "" unless hostNetwork);
    # containerd and CRI-O share the sandbox's.
    "namespaces::test_containers_share_net_ipc_uts_with_the_sandbox": ("expected shared net, ipc, uts",
                                                                       "observed {'uts'"),
}
# What the gate finds on a Docker node (before any workload is seeded).
GATE_MUST_FIND = {"kubelet-runtime-endpoint", "docker-nodes", "docker-daemon-config", "docker-on-node",
                  "docker-logs-on-node"}
# kubeadm annotates nodes with their CRI socket only before 1.34: from then on it
# keeps the socket in the node's /var/lib/kubelet/instance-config.yaml
# (kubeadm feature NodeLocalCRISocket: beta, on, in 1.34; GA in 1.36).
KUBEADM_ANNOTATES_CRI_SOCKET_BEFORE = "1.34"
# Checks about the pod itself, which Docker satisfies as well.
MUST_PASS = (
    "sockets::test_node_reports_the_runtime_scheme",
    "sockets::test_runtime_socket_answers_cri",
    "sockets::test_kubelet_uses_the_runtime_socket",
    "namespaces::test_host_network_pod_shares_the_nodes_net_namespace",
    # what the Docker-era collector configuration was written for
    "logs::test_docker_era_otel_collector_config_returns_every_line",
)


@pytest.fixture(scope="module")
def docker_run(tmp_path_factory, pytestconfig):
    """One run of the three areas on a fresh Docker-baseline cluster, kept for
    the gate test below and deleted afterwards."""
    out = tmp_path_factory.mktemp("docker-baseline")
    k8s = pytestconfig.getoption("--k8s-version")
    token = secrets.token_hex(4)          # the run's own cluster, known by name
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "suites", "--runtime=docker", f"--k8s-version={k8s}",
             "-m", "sockets or logs or namespaces", f"--report-dir={out}", "--keep-cluster",
             "-p", "no:cacheprovider", "-q"],
            cwd=REPO, capture_output=True, text=True, timeout=900,
            env={**os.environ, "CRIGATE_RUN_TOKEN": token})
        assert (out / "results.json").exists(), f"no results.json; pytest said:\n{done.stdout[-4000:]}"
        doc = json.loads((out / "results.json").read_text())
        doc["returncode"], doc["output"] = done.returncode, done.stdout[-4000:]
        yield doc
    finally:
        kindcluster.delete(cluster_name("docker", token))


def outcomes(doc: dict) -> dict[str, dict]:
    return {r["check"]: r for r in doc["results"] if r["runtime"] == "docker"}


def test_the_baseline_node_runs_docker_engine(docker_run):
    cluster = docker_run["clusters"]["docker"]
    assert any(str(v).startswith("docker://") for v in cluster.get("node_runtimes", {}).values()), cluster
    assert docker_run["returncode"] == 1, docker_run["output"]


@pytest.mark.parametrize("check", sorted(MUST_FAIL))
def test_check_fails_on_docker_with_a_clear_message(docker_run, check):
    result = outcomes(docker_run).get(check)
    assert result, f"{check} did not run on the Docker node:\n{docker_run['output']}"
    assert result["outcome"] == "failed", f"{check} on Docker: expected failed, observed {result}"
    message = result["message"]
    assert re.search(r"(node crigate-docker-|pod crigate-\w+/)", message), f"{check}: names no node or pod: {message}"
    for fragment in MUST_FAIL[check]:
        assert fragment in message, f"{check}: {fragment!r} not in: {message}"


@pytest.mark.parametrize("check", MUST_PASS)
def test_runtime_neutral_check_passes_on_docker(docker_run, check):
    result = outcomes(docker_run).get(check)
    assert result and result["outcome"] == "passed", f"{check} on Docker: expected passed, observed {result}"


def test_gate_on_the_docker_node_is_no_go(docker_run, tmp_path):
    """The gate on the old setup itself: a real cri-dockerd node, read through
    the API (configz) and a debug pod (--node-checks)."""
    name = docker_run["clusters"]["docker"]["cluster"]
    done = subprocess.run(
        [sys.executable, "-m", "crigate.gate.cli", f"--kubeconfig={kindcluster.default_kubeconfig(name)}",
         "--runtime=containerd", "--node-checks", f"--debug-image={BUSYBOX_IMAGE}",
         f"--report-dir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    gate = json.loads((tmp_path / "results.json").read_text())["gate"]["containerd"]
    found = {f["check"]: f for f in gate["findings"]}
    must_find = set(GATE_MUST_FIND)
    if not kubernetes_release(docker_run["kubernetes_minor"]).at_least(KUBEADM_ANNOTATES_CRI_SOCKET_BEFORE):
        must_find.add("kubeadm-cri-socket")
    assert must_find <= set(found), f"expected {sorted(must_find)}, observed {sorted(found)}"
    assert "cri-dockerd.sock" in found["kubelet-runtime-endpoint"]["depends_on"]
    assert "docker://" in found["docker-nodes"]["depends_on"]


# On the Docker node the same shapes (tests/testbed/test_mount_shapes.py has the CRI side):
# the socket and the data root are there, so what stops a pod on a CRI node works here.
ON_A_DOCKER_NODE = {
    (DOCKER_SOCKET, "Socket"): (True, "socket"),
    (DOCKER_SOCKET, "File"): (False, "is not a file"),
    (DOCKER_SOCKET, ""): (True, "socket"),
    (DOCKER_SOCKET, "DirectoryOrCreate"): (False, "is not a directory"),
    (DOCKER_DATA, "Directory"): (True, "directory"),
    (f"{DOCKER_DATA}/containers", ""): (True, "directory"),
}


def test_docker_path_mounts_on_the_docker_node(docker_run):
    name = docker_run["clusters"]["docker"]["cluster"]
    kubectl = Kubectl(str(kindcluster.kubectl_bin(kubernetes_release(docker_run["kubernetes_minor"]))),
                      kindcluster.default_kubeconfig(name))
    node = kubectl("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").strip()
    namespace = f"crigate-shapes-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    kubectl("label", "namespace", namespace, MANAGED_BY_SELECTOR)
    try:
        wrong = []
        for shape in SHAPES:
            started, says = ON_A_DOCKER_NODE[(shape.path, shape.type)]
            observed = observe(kubectl, shape, node, namespace)
            if observed.started is not started or says not in observed.found:
                wrong.append(f"hostPath {shape.id}: expected started={started} {says!r}, observed {observed}")
        assert not wrong, f"node {node} (Docker): " + "; ".join(wrong)
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)
