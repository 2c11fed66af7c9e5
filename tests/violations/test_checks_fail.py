"""Every check, seen failing on a real node or workload that violates it.

Each test breaks a real test-bed node or deploys an offending workload, runs
the suite's own check function against it and expects the AssertionError
(with node/object, expected, observed in the message). Violations are undone.
"""
from __future__ import annotations

import secrets
import subprocess
import time
import uuid
from contextlib import contextmanager

import pytest
import testinfra
from crigate import critest, workloads
from crigate.crilog import CriLogEntry, join_partials, parse_cri
from crigate.expectations import CRUN_HANDLER, NVIDIA_HANDLER
from crigate.kube import container_id
from crigate.providers import DOCKER_EXEC
from crigate.testbed.engine import docker
from crigate.testbed.images import BUSYBOX_IMAGE
from crigate.testbed.versions import RUNTIMES, profile
from crigate.waiting import until

from suites import test_gpu as gpu
from suites import test_latency as latency
from suites import test_logs as logs
from suites import test_namespaces as namespaces
from suites import test_sockets as sockets

pytestmark = pytest.mark.violations



@contextmanager
def fails_with(*fragments: str):
    """The block must raise AssertionError whose message holds every fragment."""
    with pytest.raises(AssertionError) as caught:
        yield
    for fragment in fragments:
        assert fragment in str(caught.value), f"{fragment!r} not in: {caught.value}"


@pytest.fixture(scope="module")
def node(cluster):
    for capability, want in (("may_change_node_config", True), ("may_restart_kubelet", True),
                             ("nodes_reached_by", DOCKER_EXEC)):
        if missing := cluster.capabilities.missing(capability, "violations are staged on the "
                                                   "node by docker exec", want):
            pytest.skip(missing)
    name = cluster.nodes[0]
    return name, cluster.host(name)


def node_sh(node_name: str, script: str, detach: bool = False) -> None:
    """A shell script on the node; a failure names the script and what it said."""
    docker("exec", *(["-d"] if detach else []), node_name, "sh", "-c", script)


@pytest.fixture(scope="module")
def logger(cluster, module_namespace):
    return logs.stepped_logger(cluster, module_namespace, "logger", "steps", logs.LONG_LINE_BYTES)


def node_file_exists(host, path: str, what: str) -> None:
    until(lambda: host.file(path).exists, bool, f"{what}: {path} on the node")


def node_process_runs(host, comm: str) -> None:
    until(lambda: host.process.filter(comm=comm), bool, f"process {comm} on the node")


@contextmanager
def docker_sock_served(name: str, host):
    """A listening /run/docker.sock on the node (socat), removed afterwards."""
    node_sh(name, "socat UNIX-LISTEN:/run/docker.sock,fork /dev/null", detach=True)
    try:
        node_file_exists(host, "/run/docker.sock", "socat's socket")
        yield
    finally:
        node_sh(name, "pkill -x socat; rm -f /run/docker.sock")


@pytest.fixture(scope="module")
def docker_json_lines():
    """Real json-file log lines, written by the host's Docker engine."""
    cid = f"crigate-json-logs-{uuid.uuid4().hex[:6]}"    # named: removed even if `run` fails half-way
    try:
        subprocess.run(["docker", "run", "-d", "--name", cid, "--network", "none", "--log-driver",
                        "json-file", "crigate.local/logger:1", "--long", "100", "--exit", "0"],
                       check=True, capture_output=True, text=True)
        subprocess.run(["docker", "wait", cid], check=True, capture_output=True)
        path = subprocess.run(["docker", "inspect", "--format", "{{.LogPath}}", cid], check=True,
                              capture_output=True, text=True).stdout.strip()
        with open(path) as f:
            return f.read().splitlines()
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)


# --- sockets ----------------------------------------------------------------

def test_runtime_scheme_check_fails_on_a_node_reporting_docker(cluster, node):
    name, _ = node
    body = {"status": {"nodeInfo": {"containerRuntimeVersion": "docker://20.10.24"}}}
    # the Node as patched: the kubelet restores the field on its next status update
    patched = cluster.kube.core.patch_node_status(name, body)
    with fails_with(name, "docker://20.10.24"):
        sockets.check_runtime_version(patched, cluster.profile)


def test_endpoint_and_cri_checks_fail_for_another_runtimes_socket(cluster, node):
    name, host = node
    other = next(profile(r) for r in RUNTIMES if r != cluster.runtime)
    with fails_with(name, "expected " + other.cri_socket):
        sockets.check_kubelet_endpoint(cluster.kube, name, other, sockets.read_node(host, name, other))
    with fails_with(name, "expected to answer"):
        sockets.check_socket_answers_cri(sockets.read_node(host, name, other), name, other)


def test_docker_socket_check_fails_when_docker_sock_exists(cluster, node):
    name, host = node
    with docker_sock_served(name, host), fails_with(name, "/run/docker.sock"):
        sockets.check_no_docker_sockets(sockets.read_node(host, name, cluster.profile), name)


def test_docker_process_check_fails_when_dockerd_runs(cluster, node):
    name, host = node
    # kind mounts /tmp noexec; a copy of sleep named dockerd stands in for the daemon
    node_sh(name, "cp /bin/sleep /usr/local/bin/dockerd && exec /usr/local/bin/dockerd 300", detach=True)
    try:
        node_process_runs(host, "dockerd")
        with fails_with(name, "dockerd"):
            sockets.check_no_docker_processes(sockets.read_node(host, name, cluster.profile), name)
    finally:
        node_sh(name, "pkill -x dockerd; rm -f /usr/local/bin/dockerd")


def test_kubelet_config_check_fails_where_there_is_no_kubelet_to_read(cluster, node):
    """A node whose kubelet is stopped and whose kubelet files are gone: the
    check has nothing to read, which must not pass as "no Docker mentioned".
    The kubelet comes back, Ready, before the next test asks the node anything."""
    name, host = node
    files = " ".join(sockets.KUBELET_CONFIG_FILES)
    with critest.kubelet_stopped(name, cluster.kube):
        try:
            node_sh(name, f"mkdir -p /tmp/kubelet-aside && mv {files} /tmp/kubelet-aside/")
            until(lambda: host.process.filter(comm="kubelet"), lambda running: not running,
                  f"node {name}: kubelet stopped")
            with fails_with(name, "expected a running kubelet or its files", "observed neither"):
                sockets.check_kubelet_mentions_no_docker(sockets.read_node(host, name, cluster.profile), name)
        finally:
            node_sh(name, "mv /tmp/kubelet-aside/* /var/lib/kubelet/ 2>/dev/null || true")


def test_kubelet_config_check_fails_on_dockershim_flags(cluster, node):
    name, host = node
    flags = "/var/lib/kubelet/kubeadm-flags.env"
    node_sh(name, f"cp {flags} /tmp/flags.bak && echo 'KUBELET_EXTRA_ARGS=--container-runtime=docker "
                  f"--docker-endpoint=unix:///var/run/docker.sock' >> {flags}")
    try:
        with fails_with(name, "--container-runtime=docker", "--docker-endpoint"):
            sockets.check_kubelet_mentions_no_docker(sockets.read_node(host, name, cluster.profile), name)
    finally:
        node_sh(name, f"mv /tmp/flags.bak {flags}")


# --- logs -------------------------------------------------------------------

def test_log_file_and_symlink_checks_fail_when_they_are_removed(cluster, node, logger):
    name, host = node
    path = logs.pod_log_path(logger, "logger")
    link = logs.container_log_link(logger, "logger")
    node_sh(name, f"rm {link}")
    try:
        with fails_with(name, link, "observed nothing"):
            logs.check_container_log_symlink(host, name, link, path)
    finally:
        node_sh(name, f"ln -s {path} {link}")
    # Beside the real file, not in its place: the kubelet reopens a missing
    # container log within seconds, which would race a removed or replaced one.
    missing, docker_layout = f"{path}.missing", f"{path}.dockershim"
    with fails_with(name, missing, "observed nothing"):
        logs.check_pod_log_file(host, name, missing)
    node_sh(name, f"ln -s {path} {docker_layout}")      # dockershim's layout: a link to the real file
    try:
        with fails_with(name, docker_layout, f"observed a symlink to {path}"):
            logs.check_pod_log_file(host, name, docker_layout)
    finally:
        node_sh(name, f"rm -f {docker_layout}")


def test_cri_format_and_shipper_checks_fail_on_docker_json_logs(docker_json_lines):
    with fails_with("expected every line in CRI format"):
        logs.check_cri_format("docker-host", "json-file", docker_json_lines)
    with fails_with("expected a Docker JSON parser to read 0"):
        logs.check_log_shipper_break("docker-host", "json-file", docker_json_lines)


def test_shipper_and_kubectl_logs_checks_fail_on_an_empty_log():
    with fails_with("docker-host", "observed an empty file"):
        logs.check_log_shipper_break("docker-host", "empty.log", [])
    with fails_with("pod empty", "expected CRI log lines in the file", "observed none readable"):
        logs.check_kubectl_logs_match_file("empty", [], [])


def test_interleave_check_fails_when_the_streams_do_not_meet(cluster, node, logger):
    """The stepped logger's file: its stderr line is not inside a stdout line."""
    name, host = node
    path = logs.pod_log_path(logger, "logger")
    entries = [parse_cri(line) for line in host.file(path).content_string.splitlines()]
    with fails_with(name, path, "expected stdout P chunk(s), the stderr line"):
        logs.check_interleaved_order(name, path, entries)


def test_long_line_check_fails_when_the_line_is_not_split(cluster, node, logger):
    name, host = node
    path = logs.pod_log_path(logger, "logger")
    entries = [parse_cri(line) for line in host.file(path).content_string.splitlines()]
    # what a runtime that never splits would write: each logical line as one F entry
    unsplit = [CriLogEntry("2026-01-01T00:00:00Z", stream, False, text)
               for stream, text, _ in join_partials(entries)]
    with fails_with(name, "P...P F chunks"):
        logs.check_long_line_split(name, path, unsplit, logs.LONG_LINE)


def test_docker_container_logs_check_fails_when_docker_logs_exist(node):
    name, host = node
    node_sh(name, "mkdir -p /var/lib/docker/containers/abc && echo '{}' > "
                  "/var/lib/docker/containers/abc/abc-json.log")
    try:
        with fails_with(name, "abc-json.log"):
            logs.check_no_docker_container_logs(host, name)
    finally:
        node_sh(name, "rm -rf /var/lib/docker")


def test_kubectl_logs_check_fails_on_different_output(cluster, node, logger, module_namespace):
    name, host = node
    entries = [parse_cri(line) for line in
               host.file(logs.pod_log_path(logger, "logger")).content_string.splitlines()]
    api_lines = cluster.kube.logs(module_namespace, "logger").splitlines()
    with fails_with("expected `kubectl logs` to return the log file's lines", "tampered"):
        logs.check_kubectl_logs_match_file("logger", api_lines[:-1] + ["tampered"], entries)


# --- namespaces -------------------------------------------------------------

def test_containerd_namespace_checks_fail_on_a_container_in_moby(cluster, node):
    if not cluster.profile.containerd_namespaces:
        pytest.skip(f"{cluster.runtime} keeps no containers in containerd namespaces")
    name, host = node
    # The container runs on the CRI image's snapshot, mounted read-write: no
    # export/import round trip (`ctr images import` of a fresh export failed
    # once in 75 with "short read" while another cluster was being created).
    # A fresh mount point each time: the snapshot key is its path, and a key
    # just removed may still be taken ("already exists").
    rootfs = f"/tmp/crigate-moby-{secrets.token_hex(3)}"
    node_sh(name, f"mkdir -p {rootfs} && "
                  f"ctr -n k8s.io images mount --rw {BUSYBOX_IMAGE} {rootfs} >/dev/null && "
                  f"ctr -n moby run -d --rootfs {rootfs} crigate-moby /bin/sleep 300")
    try:
        with fails_with(name, "moby", "crigate-moby"):
            namespaces.check_moby_namespace_empty(host, name)
        with fails_with(name, "k8s.io"):
            namespaces.check_containers_in_cri_namespace(host, name, ["crigate-moby"])
        with fails_with(name, "crictl to list"):
            namespaces.check_visible_to_crictl(host, name, ["crigate-moby"])
        with fails_with(name, "crigate.local/absent:1"):
            namespaces.check_image_in_cri_namespace(host, name, "crigate.local/absent:1")
    finally:
        node_sh(name, "ctr -n moby tasks rm -f crigate-moby; ctr -n moby containers rm crigate-moby; "
                      f"ctr -n k8s.io images unmount --rm {rootfs}; rmdir {rootfs} || true")


def test_docker_visibility_check_fails_where_docker_runs_containers(cluster):
    host = testinfra.get_host("local://")         # this machine: Docker runs the kind nodes
    with fails_with("this-machine", "expected Docker to see no containers"):
        namespaces.check_none_visible_to_docker(host, "this-machine")


def test_docker_visibility_check_fails_when_docker_cannot_be_asked(node):
    """A Docker API socket with no CLI to ask it, then a CLI that fails for
    another reason than a missing daemon: the answer is unknown, not a pass."""
    name, host = node
    with docker_sock_served(name, host), \
            fails_with(name, "observed Docker API socket(s)", "/run/docker.sock']", "and no docker CLI"):
        namespaces.check_none_visible_to_docker(host, name)
    node_sh(name, "printf '#!/bin/sh\\necho \"permission denied while trying to connect\" >&2\\nexit 1\\n' "
                  "> /usr/local/bin/docker && chmod +x /usr/local/bin/docker")
    try:
        with fails_with(name, "expected `docker ps -a` to list no containers or to find no Docker daemon",
                        "permission denied"):
            namespaces.check_none_visible_to_docker(host, name)
    finally:
        node_sh(name, "rm -f /usr/local/bin/docker")


def test_namespace_checks_fail_across_pods(cluster, node, module_namespace):
    name, host = node
    kube = cluster.kube
    lone = kube.run_pod(module_namespace, workloads.sleeper_pod("lone", containers=2))
    other = kube.run_pod(module_namespace, workloads.sleeper_pod("other"))
    with fails_with(name, "expected shared net"):
        namespaces.check_shares_namespaces(
            name, "container c0 of lone vs sandbox of other",
            namespaces.pid_namespaces(host, namespaces.container_pid(host, container_id(lone, "c0"))),
            namespaces.sandbox_namespaces(host, other))
    with fails_with(name, "sleep 3601"):
        namespaces.check_process_visible(host, name, container_id(lone, "c0"), "sleep 3601")


# --- latency ----------------------------------------------------------------

def test_latency_checks_fail_on_slow_or_inconsistent_samples(cluster, module_namespace):
    samples = [latency.timed_pod_start(cluster.kube, module_namespace, f"slow-{i}", {})[0]
               for i in range(3)]
    with fails_with(cluster.runtime, "p99 expected <= 0.001s"):
        latency.check_p99_within_slo(cluster.runtime, samples, 0.001)
    created, ready = time.time_ns(), time.time_ns() + 10**9
    with fails_with(cluster.runtime, "startedAt between"):
        latency.check_runtime_start_inside_window(cluster.runtime, [(created, created - 10**9, ready)])


def test_latency_window_check_uses_the_measured_node_clock_offset(cluster, node):
    """A node clock 400 ms ahead: its startedAt is past the Ready event unless the
    offset is taken off; with the offset measured (here: the test bed's, ~0) the
    real node passes."""
    name, host = node
    offset, uncertainty = latency.node_clock_offset(host)
    # one kernel, one clock: the node's reading lies between the two local ones
    assert abs(offset) <= uncertainty + 1, f"node {name}: offset {offset} ns +/- {uncertainty} on one clock"
    created, ready = time.time_ns(), time.time_ns() + 10**9
    skewed = [(created, created + 8 * 10**8 + 4 * 10**8, ready)]      # started 0.8 s in, clock +0.4 s
    with fails_with(cluster.runtime, "startedAt between", "offset +0.0 ms"):
        latency.check_runtime_start_inside_window(cluster.runtime, skewed)
    latency.check_runtime_start_inside_window(cluster.runtime, skewed, 4 * 10**8, 10**6)


# --- gpu --------------------------------------------------------------------

def test_gpu_checks_fail_when_routing_is_wrong(cluster, node, module_namespace):
    name, host = node
    kube = cluster.kube
    plain = kube.run_pod(module_namespace, workloads.sleeper_pod("not-routed"))
    with fails_with(name, "expected handler 'nvidia' to record"):
        gpu.check_handler_recorded(host, name, container_id(plain, "c0"), "not-routed")
    with fails_with("observed phase Running"):
        gpu.check_failure_names_handler(kube, module_namespace, "not-routed", "crigate-unconfigured")
    rc = kube.node_api.create_runtime_class({"metadata": {"name": "crigate-mislabelled",
                                                          "labels": {"app.kubernetes.io/managed-by": "crigate"}},
                                             "handler": "runc"})
    try:
        with fails_with("crigate-mislabelled", "expected handler 'nvidia'"):
            gpu.check_runtime_class_handler(rc, "crigate-mislabelled", NVIDIA_HANDLER)
    finally:
        kube.node_api.delete_runtime_class("crigate-mislabelled")


CRUN_WRAPPER = "/usr/local/libexec/crigate/crun"


def test_crun_routing_check_fails_when_the_handler_runs_runc(cluster, node, module_namespace):
    """The node's crun handler quietly runs runc: the pod starts, and the check,
    reading the runtime's state on the node, says runc ran it."""
    name, host = node
    saved = host.file(CRUN_WRAPPER).content_string
    node_sh(name, f"sed -i 's#--runtime /usr/bin/crun#--runtime /usr/sbin/runc#' {CRUN_WRAPPER}")
    try:
        pod = cluster.kube.run_pod(module_namespace, workloads.sleeper_pod(
            "crun-is-runc", runtimeClassName=CRUN_HANDLER, nodeName=name))
        with fails_with(name, "expected container", "run by crun", "observed runc's state"):
            gpu.check_ran_with(host, name, container_id(pod, "c0"), "crun-is-runc", CRUN_HANDLER)
    finally:
        docker("exec", "-i", name, "sh", "-c", f"cat > {CRUN_WRAPPER}", input=saved)


def test_runtime_class_check_fails_when_the_cluster_has_none(cluster, node):
    """The test bed publishes RuntimeClass nvidia; without it the check fails
    (it never creates the object it asserts)."""
    kube = cluster.kube
    saved = kube.node_api.read_runtime_class(NVIDIA_HANDLER)
    kube.node_api.delete_runtime_class(NVIDIA_HANDLER)
    try:
        with fails_with(f"RuntimeClass {NVIDIA_HANDLER}", "observed none"):
            gpu.check_runtime_class_handler(gpu.cluster_runtime_class(cluster), NVIDIA_HANDLER,
                                            NVIDIA_HANDLER)
    finally:
        kube.node_api.create_runtime_class({"metadata": {"name": NVIDIA_HANDLER,
                                                         "labels": saved.metadata.labels},
                                            "handler": saved.handler})


def test_critest_group_fails_when_the_runtime_cannot_run_its_specs(cluster, node):
    """A default image without a shell: critest's exec specs fail, and so does the check."""
    from crigate.testbed import gobuild
    from crigate.testbed.images import LOGGER_IMAGE

    name, _ = node
    specs = critest.run_on_node(name, gobuild.build_critest() / "critest", cluster.profile.cri_socket,
                                focus=r"execSync \[Conformance\]", default_image=LOGGER_IMAGE,
                                kube=cluster.kube)
    with fails_with(f"node {name} ({cluster.runtime})", "critest specs of 'Container' failed", "execSync"):
        critest.check_group(specs, "Container", name, cluster.runtime)
