"""Runtime identity and sockets: the node runs the runtime it claims, through
its CRI socket, with no Docker or dockershim left behind."""
from __future__ import annotations

import json
import re

import pytest
from crigate.expectations import DOCKER_PROCESSES, KUBELET_CONFIG_FILES
from crigate.facts import DOCKER_RUNTIME_REFERENCE, DOCKER_SOCKETS
from crigate.testbed.runtimes import RuntimeProfile

pytestmark = pytest.mark.sockets


def check_runtime_version(node, profile: RuntimeProfile) -> None:
    __tracebackhide__ = True
    expected = profile.scheme
    observed = node.status.node_info.container_runtime_version
    assert observed.startswith(expected), (
        f"node {node.metadata.name}: nodeInfo.containerRuntimeVersion expected {expected}..., "
        f"observed {observed}")


def kubelet_config(kube, node: str) -> dict:
    return json.loads(kube.node_proxy(node, "configz"))["kubeletconfig"]


def kubelet_flag(host, flag: str) -> str:
    """A flag's value on the running kubelet's command line ('' when absent)."""
    args = host.run("cat /proc/$(pidof kubelet)/cmdline | tr '\\0' '\\n'").stdout.splitlines()
    for i, arg in enumerate(args):
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
    return ""


def check_kubelet_endpoint(kube, node: str, profile: RuntimeProfile, host=None) -> None:
    """The endpoint is kubelet config since 1.27 (containerRuntimeEndpoint), a
    flag (--container-runtime-endpoint) before; configz first, then the flag."""
    __tracebackhide__ = True
    expected = profile.cri_socket
    observed = kubelet_config(kube, node).get("containerRuntimeEndpoint", "")
    source = "kubelet config containerRuntimeEndpoint"
    if not observed and host is not None:
        observed, source = kubelet_flag(host, "--container-runtime-endpoint"), \
            "kubelet flag --container-runtime-endpoint"
    assert observed.replace("unix://", "") == expected.replace("unix://", ""), (
        f"node {node}: {source} expected {expected}, observed {observed!r}")


def check_socket_answers_cri(host, node: str, profile: RuntimeProfile) -> None:
    __tracebackhide__ = True
    if not host.exists("crictl"):
        pytest.skip(f"node {node}: crictl is not installed; install cri-tools on the node to "
                    "ask its CRI socket directly")
    socket = profile.cri_socket
    answer = host.run("crictl --runtime-endpoint %s version", socket)
    assert answer.rc == 0, (f"node {node}: CRI socket {socket} expected to answer `crictl version`, "
                            f"observed rc={answer.rc}: {answer.stderr.strip()}")
    name = next((line.split(":", 1)[1].strip() for line in answer.stdout.splitlines()
                 if line.startswith("RuntimeName:")), "")
    assert name == profile.crictl_name, (
        f"node {node}: CRI socket {socket} expected RuntimeName {profile.crictl_name}, "
        f"observed {name!r}")


def check_no_docker_sockets(host, node: str) -> None:
    __tracebackhide__ = True
    present = [path for path in DOCKER_SOCKETS if host.file(path).exists]
    assert not present, f"node {node}: expected no Docker/dockershim socket, observed {present}"


def check_no_docker_processes(host, node: str) -> None:
    __tracebackhide__ = True
    running = [f"{p.comm} (pid {p.pid})" for name in DOCKER_PROCESSES
               for p in host.process.filter(comm=name)]
    assert not running, f"node {node}: expected no Docker daemon, observed {running}"


def docker_references(text: str) -> list[str]:
    return [m.group(0) for m in re.finditer(DOCKER_RUNTIME_REFERENCE, text, re.IGNORECASE)]


def check_kubelet_mentions_no_docker(host, node: str) -> None:
    __tracebackhide__ = True
    mentions, read = [], []
    for path in KUBELET_CONFIG_FILES:
        f = host.file(path)
        if f.exists:
            read.append(path)
            mentions += [f"{path}: {ref}" for ref in docker_references(f.content_string)]
    for kubelet in host.process.filter(comm="kubelet"):
        read.append(f"kubelet pid {kubelet.pid}")
        mentions += [f"kubelet command line: {ref}" for ref in docker_references(kubelet.args)]
    assert read, (f"node {node}: expected a running kubelet or its files {list(KUBELET_CONFIG_FILES)} "
                  "to read, observed neither")
    assert not mentions, (f"node {node}: expected no kubelet flag or config that makes Docker the "
                          f"runtime, observed {mentions}")


def test_node_reports_the_runtime_scheme(cluster, every_node):
    every_node(lambda node: check_runtime_version(cluster.kube.core.read_node(node), cluster.profile))


def test_kubelet_uses_the_runtime_socket(cluster, every_node):
    every_node(lambda node: check_kubelet_endpoint(cluster.kube, node, cluster.profile,
                                                   cluster.host(node)))


def test_runtime_socket_answers_cri(cluster, every_node):
    every_node(lambda node: check_socket_answers_cri(cluster.host(node), node, cluster.profile))


def test_no_docker_or_dockershim_socket(cluster, every_node):
    every_node(lambda node: check_no_docker_sockets(cluster.host(node), node))


def test_no_docker_daemon_runs(cluster, every_node):
    every_node(lambda node: check_no_docker_processes(cluster.host(node), node))


def test_kubelet_flags_and_config_do_not_mention_docker(cluster, every_node):
    every_node(lambda node: check_kubelet_mentions_no_docker(cluster.host(node), node))
