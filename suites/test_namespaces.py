"""Namespaces: where each runtime keeps pod containers (containerd's k8s.io,
not Docker's moby; CRI-O's visible to crictl, none to Docker), and the Linux
namespaces a pod's containers share."""
from __future__ import annotations

import json

import pytest
from crigate import workloads
from crigate.expectations import CONTAINERD_CRI_NAMESPACE, DOCKER_CONTAINERD_NAMESPACE, DOCKER_UNREACHABLE
from crigate.facts import DOCKER_API_SOCKETS
from crigate.kube import container_id
from crigate.testbed.images import LOGGER_IMAGE

pytestmark = pytest.mark.namespaces

SHARED_KINDS = ("net", "ipc", "uts")


# --- node-side facts --------------------------------------------------------

def ctr_list(host, namespace: str, what: str) -> list[str]:
    out = host.run("ctr -n %s %s ls -q", namespace, what)
    assert out.rc == 0, f"ctr -n {namespace} {what} ls failed: {out.stderr.strip()}"
    return out.stdout.split()


def crictl_json(host, *args: str) -> dict:
    out = host.run("crictl " + " ".join(["%s"] * len(args)), *args)
    assert out.rc == 0, f"crictl {' '.join(args)} failed: {out.stderr.strip()}"
    return json.loads(out.stdout)


def container_pid(host, cid: str) -> int:
    return int(crictl_json(host, "inspect", cid)["info"]["pid"])


SPEC_TYPES = {"network": "net", "ipc": "ipc", "uts": "uts", "pid": "pid"}


def pid_namespaces(host, pid: int, kinds=("net", "ipc", "uts", "pid")) -> dict[str, str]:
    """kind -> namespace id ("net:[4026532]") of a process on the node."""
    return {k: host.run("readlink /proc/%s/ns/%s", str(pid), k).stdout.strip() for k in kinds}


def sandbox_namespaces(host, pod) -> dict[str, str]:
    """kind -> namespace id of the pod sandbox, as its runtime holds it: the
    infra process's (containerd reports its pid; under cri-dockerd it is the
    pause container's, from Docker) or, where CRI-O drops the infra container,
    the namespace files pinns pinned (compared by inode)."""
    m = pod.metadata
    ids = host.run("crictl pods -q --name %s --namespace %s", m.name, m.namespace).stdout.split()
    assert ids, f"pod {m.namespace}/{m.name}: crictl lists no sandbox"
    info = crictl_json(host, "inspectp", ids[0]).get("info", {})
    if info.get("pid"):
        return pid_namespaces(host, int(info["pid"]))
    found = {}
    for ns in info.get("runtimeSpec", {}).get("linux", {}).get("namespaces", []):
        kind = SPEC_TYPES.get(ns.get("type"))
        if kind and ns.get("path"):
            inode = host.run("stat -L -c %%i %s", ns["path"]).stdout.strip()
            found[kind] = f"{kind}:[{inode}]"
    if not found and host.exists("docker"):     # cri-dockerd: the sandbox is Docker's pause container
        pid = host.run("docker inspect --format '{{.State.Pid}}' %s", ids[0]).stdout.strip()
        if pid.isdigit() and int(pid) > 0:
            return pid_namespaces(host, int(pid))
    assert found, (f"pod {m.namespace}/{m.name}: sandbox {ids[0][:12]} shows neither pid nor pinned "
                   "namespaces, nor is it a Docker container")
    return found


# --- checks -----------------------------------------------------------------

def check_containers_in_cri_namespace(host, node: str, ids: list[str]) -> None:
    __tracebackhide__ = True
    listed = set(ctr_list(host, CONTAINERD_CRI_NAMESPACE, "containers"))
    missing = [i[:12] for i in ids if i not in listed]
    assert not missing, (f"node {node}: expected containers {missing} in containerd namespace "
                         f"{CONTAINERD_CRI_NAMESPACE}, observed {len(listed)} others there")


def check_moby_namespace_empty(host, node: str) -> None:
    __tracebackhide__ = True
    held = {what: ctr_list(host, DOCKER_CONTAINERD_NAMESPACE, what) for what in ("containers", "images")}
    assert not any(held.values()), (f"node {node}: expected containerd namespace "
                                    f"{DOCKER_CONTAINERD_NAMESPACE} (Docker's) empty, observed {held}")


def check_image_in_cri_namespace(host, node: str, image: str) -> None:
    __tracebackhide__ = True
    images = ctr_list(host, CONTAINERD_CRI_NAMESPACE, "images")
    assert any(ref.endswith(image) for ref in images), (
        f"node {node}: expected image {image} in containerd namespace {CONTAINERD_CRI_NAMESPACE}, "
        f"observed {len(images)} images, none matching")


def check_visible_to_crictl(host, node: str, ids: list[str]) -> None:
    __tracebackhide__ = True
    listed = host.run("crictl ps -a -q --no-trunc").stdout.split()
    missing = [i[:12] for i in ids if i not in listed]
    assert not missing, f"node {node}: expected crictl to list containers {missing}, observed it does not"


def check_none_visible_to_docker(host, node: str) -> str:
    """Docker holds no container on the node, established one of two ways:
    no Docker engine to ask (no docker CLI and no Docker API socket, or a CLI
    that finds no daemon), or `docker ps -a` listing nothing. Anything else
    (a socket with no CLI to ask it, a CLI that fails otherwise) fails: the
    answer is unknown. Returns the evidence."""
    __tracebackhide__ = True
    sockets = [path for path in DOCKER_API_SOCKETS if host.file(path).exists]
    if not host.exists("docker"):
        assert not sockets, (f"node {node}: expected no Docker engine or a docker CLI to ask it, "
                             f"observed Docker API socket(s) {sockets} and no docker CLI")
        return "no docker CLI and no Docker API socket"
    answer = host.run("docker ps -a -q --no-trunc")
    if answer.rc != 0:
        assert DOCKER_UNREACHABLE in answer.stderr and not sockets, (
            f"node {node}: expected `docker ps -a` to list no containers or to find no Docker "
            f"daemon, observed rc={answer.rc}: {answer.stderr.strip()[:200]!r}"
            + (f" with Docker API socket(s) {sockets}" if sockets else ""))
        return "docker CLI finds no Docker daemon"
    listed = answer.stdout.split()
    assert not listed, f"node {node}: expected Docker to see no containers, observed {listed[:5]}"
    return "docker ps -a lists no containers"


def check_shares_namespaces(node: str, what: str, observed: dict, reference: dict,
                            kinds=SHARED_KINDS) -> None:
    __tracebackhide__ = True
    differ = {k: (observed.get(k), reference.get(k)) for k in kinds}
    differ = {k: v for k, v in differ.items() if v[0] != v[1] or not v[0]}
    assert not differ, f"node {node}: {what}: expected shared {', '.join(kinds)}, observed {differ}"


def check_process_visible(host, node: str, from_cid: str, marker: str) -> None:
    __tracebackhide__ = True
    ps = host.run("crictl exec %s ps", from_cid)
    assert marker in ps.stdout, (f"node {node}: expected container {from_cid[:12]} to see "
                                 f"process '{marker}' (shareProcessNamespace), observed:\n{ps.stdout}")


# --- tests ------------------------------------------------------------------

@pytest.fixture(scope="module")
def pair(cluster, module_namespace):
    """A pod of two containers sharing one process namespace."""
    pod = cluster.kube.run_pod(module_namespace, workloads.sleeper_pod(
        "pair", containers=2, shareProcessNamespace=True))
    return pod, cluster.host(pod.spec.node_name)


def test_pod_containers_live_in_the_runtimes_store(cluster, pair):
    pod, host = pair
    ids = [container_id(pod, c) for c in ("c0", "c1")]
    if cluster.profile.containerd_namespaces:     # containerd, also the one under Docker
        check_containers_in_cri_namespace(host, pod.spec.node_name, ids)
    check_visible_to_crictl(host, pod.spec.node_name, ids)


def test_docker_sees_no_pod_container(cluster, pair):
    pod, host = pair
    check_none_visible_to_docker(host, pod.spec.node_name)
    if cluster.profile.containerd_namespaces:     # containerd is there (also under Docker)
        check_moby_namespace_empty(host, pod.spec.node_name)


def test_pod_images_are_in_the_k8s_io_namespace(cluster, pair):
    if not cluster.profile.containerd_namespaces:
        pytest.skip(f"{cluster.runtime} keeps no images in containerd namespaces; nothing to check")
    pod, host = pair
    check_image_in_cri_namespace(host, pod.spec.node_name, LOGGER_IMAGE.split("/", 1)[1])


def test_containers_share_net_ipc_uts_with_the_sandbox(cluster, pair):
    pod, host = pair
    sandbox = sandbox_namespaces(host, pod)
    for name in ("c0", "c1"):
        check_shares_namespaces(pod.spec.node_name, f"container {name} of pod pair",
                                pid_namespaces(host, container_pid(host, container_id(pod, name))),
                                sandbox)


def test_host_network_pod_shares_the_nodes_net_namespace(cluster, module_namespace):
    pod = cluster.kube.run_pod(module_namespace, workloads.sleeper_pod("hostnet", hostNetwork=True))
    host = cluster.host(pod.spec.node_name)
    check_shares_namespaces(pod.spec.node_name, "hostNetwork pod hostnet vs node",
                            pid_namespaces(host, container_pid(host, container_id(pod, "c0"))),
                            pid_namespaces(host, 1), kinds=("net",))


def test_shared_process_namespace_shows_the_other_containers_processes(cluster, pair):
    pod, host = pair
    check_process_visible(host, pod.spec.node_name, container_id(pod, "c0"), "sleep 3601")
