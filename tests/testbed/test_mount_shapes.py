"""Measured on each CRI runtime: a typed hostPath on a Docker path stops the
pod; an untyped one starts it with an empty directory at the path. These are
the facts behind the gate's `certain` and `likely` (families/core.toml); the
Docker baseline's side is in test_docker_baseline.py."""
from __future__ import annotations

import uuid

import pytest
from crigate.facts import DOCKER_DATA, DOCKER_SOCKET, MANAGED_BY_SELECTOR

from .mount_shapes import SHAPES, node_paths, observe, remove_made_directories

pytestmark = pytest.mark.testbed
# on a node that never ran Docker: what each shape does
ON_A_CRI_NODE = {
    (DOCKER_SOCKET, "Socket"): (False, "is not a socket file"),
    (DOCKER_SOCKET, "File"): (False, "is not a file"),
    (DOCKER_SOCKET, ""): (True, "directory 0"),
    (DOCKER_SOCKET, "DirectoryOrCreate"): (True, "directory 0"),
    (DOCKER_DATA, "Directory"): (False, "is not a directory"),
    (f"{DOCKER_DATA}/containers", ""): (True, "directory 0"),
}


@pytest.fixture(scope="module")
def shapes_on_node(cluster, kubectl):
    """(node, namespace) for the probes; afterwards the namespace goes and so do
    the directories the runtime made."""
    node = kubectl("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").strip()
    candidates = tuple(sorted({s.path for s in SHAPES} | {DOCKER_DATA}))
    before = node_paths(node, candidates)
    namespace = f"crigate-shapes-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    kubectl("label", "namespace", namespace, MANAGED_BY_SELECTOR)
    try:
        yield node, namespace
    finally:
        kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=120s", check=False, timeout=180)
        remove_made_directories(node, sorted(node_paths(node, candidates) - before))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.id)
def test_a_docker_path_mount_on_a_cri_node(cluster, kubectl, shapes_on_node, shape):
    node, namespace = shapes_on_node
    started, says = ON_A_CRI_NODE[(shape.path, shape.type)]
    observed = observe(kubectl, shape, node, namespace)
    assert observed.started is started and says in observed.found, (
        f"node {node} ({cluster.runtime}), hostPath {shape.id}: expected "
        f"{'a started pod that sees' if started else 'a FailedMount event saying'} {says!r}, observed {observed}")
