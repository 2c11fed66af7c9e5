"""CRI validation: critest (cri-tools' conformance suite for CRI runtimes),
run against the node's CRI socket; one check per critest group.

Optional area: deselected unless selected with `-m cri`. Test bed only: the
kubelet is stopped while critest runs (about 30 s per runtime).
"""
from __future__ import annotations

import pytest
from crigate import critest
from crigate.testbed import gobuild

pytestmark = pytest.mark.cri


@pytest.fixture(scope="session")
def critest_specs(cluster):
    if missing := cluster.capabilities.missing("may_restart_kubelet", "critest stops the kubelet"):
        pytest.skip(f"{missing}; on your own node: critest --runtime-endpoint SOCKET")
    node = cluster.nodes[0]
    specs = critest.run_on_node(node, gobuild.build_critest() / "critest",
                                cluster.profile.cri_socket, kube=cluster.kube)
    return node, specs


def check(critest_specs, cluster, group: str) -> None:
    __tracebackhide__ = True
    node, specs = critest_specs
    critest.check_group(specs, group, node, cluster.runtime)


def test_runtime_info(critest_specs, cluster):
    check(critest_specs, cluster, "Runtime info")


def test_pod_sandbox(critest_specs, cluster):
    check(critest_specs, cluster, "PodSandbox")


def test_container(critest_specs, cluster):
    check(critest_specs, cluster, "Container")


def test_networking(critest_specs, cluster):
    check(critest_specs, cluster, "Networking")


def test_streaming(critest_specs, cluster):
    check(critest_specs, cluster, "Streaming")

