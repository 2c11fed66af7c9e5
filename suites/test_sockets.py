"""Runtime identity and sockets: the node runs the runtime it claims, through
its CRI socket, with no Docker or dockershim left behind."""
from __future__ import annotations

import json
import re

import pytest
from crigate.expectations import DOCKER_PROCESSES, KUBELET_CONFIG_FILES
from crigate.facts import DOCKER_RUNTIME_REFERENCE, DOCKER_SOCKETS
from crigate.nodefacts import FactsRequest, NodeFacts, gather
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


def node_facts_request(profile: RuntimeProfile) -> FactsRequest:
    """Everything this area asks of a node, read in one command (nodefacts)."""
    return FactsRequest(paths=(*DOCKER_SOCKETS, *KUBELET_CONFIG_FILES),
                        processes=(*DOCKER_PROCESSES, "kubelet"), programs=("crictl",),
                        commands=(("cri_version", f"crictl --runtime-endpoint {profile.cri_socket} version"),))


def read_node(host, node: str, profile: RuntimeProfile) -> NodeFacts:
    return gather(host, node, node_facts_request(profile))


def kubelet_flag(facts: NodeFacts, flag: str) -> str:
    """A flag's value on the running kubelet's command line ('' when absent)."""
    for kubelet in facts.running("kubelet"):
        args = kubelet.argv
        for i, arg in enumerate(args):
            if arg.startswith(f"{flag}="):
                return arg.split("=", 1)[1]
            if arg == flag and i + 1 < len(args):
                return args[i + 1]
    return ""


def check_kubelet_endpoint(kube, node: str, profile: RuntimeProfile, facts: NodeFacts | None = None) -> None:
    """The endpoint is kubelet config since 1.27 (containerRuntimeEndpoint), a
    flag (--container-runtime-endpoint) before; configz first, then the flag."""
    __tracebackhide__ = True
    expected = profile.cri_socket
    observed = kubelet_config(kube, node).get("containerRuntimeEndpoint", "")
    source = "kubelet config containerRuntimeEndpoint"
    if not observed and facts is not None:
        observed, source = kubelet_flag(facts, "--container-runtime-endpoint"), \
            "kubelet flag --container-runtime-endpoint"
    assert observed.replace("unix://", "") == expected.replace("unix://", ""), (
        f"node {node}: {source} expected {expected}, observed {observed!r}")


def check_socket_answers_cri(facts: NodeFacts, node: str, profile: RuntimeProfile) -> None:
    """facts: read for profile (read_node(host, node, profile))."""
    __tracebackhide__ = True
    if not facts.has_program("crictl"):
        pytest.skip(f"node {node}: crictl is not installed; install cri-tools on the node to "
                    "ask its CRI socket directly")
    socket = profile.cri_socket
    answer = facts.answer("cri_version")
    assert answer.rc == 0, (f"node {node}: CRI socket {socket} expected to answer `crictl version`, "
                            f"observed rc={answer.rc}: {answer.output}")
    name = next((line.split(":", 1)[1].strip() for line in answer.output.splitlines()
                 if line.startswith("RuntimeName:")), "")
    assert name == profile.crictl_name, (
        f"node {node}: CRI socket {socket} expected RuntimeName {profile.crictl_name}, "
        f"observed {name!r}")


def check_no_docker_sockets(facts: NodeFacts, node: str) -> None:
    __tracebackhide__ = True
    present = [path for path in DOCKER_SOCKETS if facts.exists(path)]
    assert not present, f"node {node}: expected no Docker/dockershim socket, observed {present}"


def check_no_docker_processes(facts: NodeFacts, node: str) -> None:
    __tracebackhide__ = True
    running = [f"{p.comm} (pid {p.pid})" for name in DOCKER_PROCESSES for p in facts.running(name)]
    assert not running, f"node {node}: expected no Docker daemon, observed {running}"


def docker_references(text: str) -> list[str]:
    return [m.group(0) for m in re.finditer(DOCKER_RUNTIME_REFERENCE, text, re.IGNORECASE)]


def check_kubelet_mentions_no_docker(facts: NodeFacts, node: str) -> None:
    __tracebackhide__ = True
    mentions, read = [], []
    for path in KUBELET_CONFIG_FILES:
        text = facts.text(path)
        if text is not None:
            read.append(path)
            mentions += [f"{path}: {ref}" for ref in docker_references(text)]
    for kubelet in facts.running("kubelet"):
        read.append(f"kubelet pid {kubelet.pid}")
        mentions += [f"kubelet command line: {ref}" for ref in docker_references(kubelet.args)]
    assert read, (f"node {node}: expected a running kubelet or its files {list(KUBELET_CONFIG_FILES)} "
                  "to read, observed neither")
    assert not mentions, (f"node {node}: expected no kubelet flag or config that makes Docker the "
                          f"runtime, observed {mentions}")


@pytest.fixture(scope="module")
def facts(cluster):
    """Each node's facts for this area, all nodes read at once, one command each."""
    return cluster.read_nodes(node_facts_request(cluster.profile), "sockets facts")


def test_node_reports_the_runtime_scheme(cluster, every_node):
    every_node(lambda node: check_runtime_version(cluster.kube.core.read_node(node), cluster.profile))


def test_kubelet_uses_the_runtime_socket(cluster, facts, every_node):
    every_node(lambda node: check_kubelet_endpoint(cluster.kube, node, cluster.profile, facts.of(node)))


def test_runtime_socket_answers_cri(cluster, facts, every_node):
    every_node(lambda node: check_socket_answers_cri(facts.of(node), node, cluster.profile))


def test_no_docker_or_dockershim_socket(facts, every_node):
    every_node(lambda node: check_no_docker_sockets(facts.of(node), node))


def test_no_docker_daemon_runs(facts, every_node):
    every_node(lambda node: check_no_docker_processes(facts.of(node), node))


def test_kubelet_flags_and_config_do_not_mention_docker(facts, every_node):
    every_node(lambda node: check_kubelet_mentions_no_docker(facts.of(node), node))
