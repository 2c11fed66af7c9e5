"""GPU runtime classes: a RuntimeClass routes pods to its handler (what
nvidia-docker's default runtime used to do implicitly), an unconfigured
handler fails loudly, and GPU nodes expose devices to pods that ask.

Two handlers prove routing: `crun`, a real second OCI runtime, shown on the
node by its own state files; and `nvidia`, on the test bed a stand-in that
records the containers it creates and runs runc (no GPU here), on GPU clusters
the NVIDIA runtime itself."""
from __future__ import annotations

import pytest
from crigate import workloads
from crigate.expectations import CRUN_HANDLER, NVIDIA_HANDLER, NVIDIA_HANDLER_LOG, OCI_STATE_FILES, STATE_SEARCH_ROOT
from crigate.facts import GPU_RESOURCE
from crigate.kube import container_id, object_labels
from crigate.oci import oci_runtime_of, read_runtime_class
from crigate.testbed.images import BUSYBOX_IMAGE
from kubernetes import client

pytestmark = pytest.mark.gpu

MISSING_HANDLER = "crigate-unconfigured"
EVENT_TIMEOUT_S = 60


def gpu_nodes(cluster) -> list[str]:
    """The nodes under test that advertise a GPU."""
    return [n.metadata.name for n in cluster.kube.nodes() if n.metadata.name in cluster.nodes
            and int((n.status.allocatable or {}).get(GPU_RESOURCE, "0")) > 0]


def cluster_runtime_class(cluster) -> client.V1RuntimeClass | None:
    """The cluster's own RuntimeClass for the NVIDIA handler; crigate never makes
    it. The test bed publishes one (its nodes configure the handler); a cluster
    with GPU nodes must have one; elsewhere its absence is skipped."""
    rc = read_runtime_class(cluster.kube, NVIDIA_HANDLER)
    if rc is None and not cluster.capabilities.nvidia_stand_in and not gpu_nodes(cluster):
        pytest.skip(f"no RuntimeClass {NVIDIA_HANDLER} and no node advertises {GPU_RESOURCE}: "
                    "nothing here routes pods to the NVIDIA runtime; run on a cluster with a GPU "
                    "node pool to check it")
    return rc


def check_handler_recorded(host, node: str, cid: str, pod_name: str) -> None:
    __tracebackhide__ = True
    f = host.file(NVIDIA_HANDLER_LOG)
    record = f.content_string if f.exists else ""
    assert cid in record, (f"node {node}: expected handler {NVIDIA_HANDLER!r} to record container "
                           f"{cid[:12]} of pod {pod_name} in {NVIDIA_HANDLER_LOG}, observed "
                           f"{len(record.splitlines())} records without it")


def check_failure_names_handler(kube, namespace: str, pod: str, handler: str) -> None:
    """An event on the pod names the handler (watched), and the pod never runs."""
    __tracebackhide__ = True
    running = kube.core.read_namespaced_pod(pod, namespace).status.phase == "Running"
    assert not running, (f"pod {namespace}/{pod}: expected to fail for handler {handler!r}, "
                         "observed phase Running")
    event = kube.watch_until(kube.core.list_namespaced_event, lambda e: handler in (e.message or ""),
                             namespace=namespace, field_selector=f"involvedObject.name={pod}",
                             timeout=EVENT_TIMEOUT_S)
    assert event is not None, (f"pod {namespace}/{pod}: expected an event naming handler {handler!r} "
                               f"within {EVENT_TIMEOUT_S}s, observed {kube.event_messages(namespace, pod)}")


def check_runtime_class_handler(rc, name: str, handler: str) -> None:
    __tracebackhide__ = True
    assert rc is not None, (f"RuntimeClass {name}: expected it with handler {handler!r}, observed "
                            "none; create it where nodes configure the handler (the NVIDIA GPU "
                            "operator does)")
    assert rc.handler == handler, (f"RuntimeClass {rc.metadata.name}: expected handler "
                                   f"{handler!r}, observed {rc.handler!r}")


def test_nvidia_runtime_class_exists(cluster):
    check_runtime_class_handler(cluster_runtime_class(cluster), NVIDIA_HANDLER, NVIDIA_HANDLER)


def test_pod_with_nvidia_runtime_class_runs_on_that_handler(cluster, namespace):
    check_runtime_class_handler(cluster_runtime_class(cluster), NVIDIA_HANDLER, NVIDIA_HANDLER)
    pod = cluster.kube.run_pod(namespace, workloads.sleeper_pod("routed", runtimeClassName=NVIDIA_HANDLER))
    if missing := cluster.capabilities.missing("nvidia_stand_in", "the pod runs; proving which "
                                               f"handler started it reads {NVIDIA_HANDLER_LOG}"):
        pytest.skip(missing)
    node = pod.spec.node_name
    check_handler_recorded(cluster.host(node), node, container_id(pod, "c0"), f"{namespace}/routed")


def check_ran_with(host, node: str, cid: str, pod_name: str, want: str) -> str:
    """The container's state on the node is want's (OCI_STATE_FILES); returns what was seen."""
    __tracebackhide__ = True
    ran, files = oci_runtime_of(host, cid)
    assert ran == want, (f"node {node}, pod {pod_name}: expected container {cid[:13]} run by {want} "
                         f"(its {OCI_STATE_FILES[want]} under {STATE_SEARCH_ROOT}), observed "
                         f"{ran or 'no single runtime'}'s state: {files or 'none'}")
    return ran


def test_crun_runtime_class_runs_pods_with_crun(cluster, namespace):
    """A pod naming RuntimeClass crun is run by crun, one naming none by the
    default runtime, each established from the node's runtime state."""
    if not cluster.profile.runtime_class_handlers:
        pytest.skip(f"{cluster.runtime} routes no pod by RuntimeClass handler (cri-dockerd refuses them)")
    rc = read_runtime_class(cluster.kube, CRUN_HANDLER)
    if rc is None:
        pytest.skip(f"no RuntimeClass {CRUN_HANDLER}: this cluster publishes no crun handler (the test "
                    "bed's containerd and CRI-O nodes do)")
    check_runtime_class_handler(rc, CRUN_HANDLER, CRUN_HANDLER)
    routed = cluster.kube.run_pod(namespace, workloads.sleeper_pod("crun", runtimeClassName=CRUN_HANDLER))
    node = routed.spec.node_name
    plain = cluster.kube.run_pod(namespace, workloads.sleeper_pod("plain", nodeName=node))
    host = cluster.host(node)
    check_ran_with(host, node, container_id(routed, "c0"), f"{namespace}/crun", CRUN_HANDLER)
    default, _ = oci_runtime_of(host, container_id(plain, "c0"))
    if default == CRUN_HANDLER:
        pytest.skip(f"node {node}: the default runtime is crun too, so routing cannot be told apart here")
    check_ran_with(host, node, container_id(plain, "c0"), f"{namespace}/plain", "runc")


def test_unconfigured_handler_fails_with_an_event_naming_it(cluster, namespace):
    name = f"{MISSING_HANDLER}-{namespace}"      # made for this check, deleted after it
    cluster.kube.node_api.create_runtime_class({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                                                "metadata": {"name": name, "labels": object_labels()},
                                                "handler": MISSING_HANDLER})
    try:
        cluster.kube.create_pod(namespace, workloads.sleeper_pod("unrouted", runtimeClassName=name))
        check_failure_names_handler(cluster.kube, namespace, "unrouted", MISSING_HANDLER)
    finally:
        cluster.kube.node_api.delete_runtime_class(name)


def test_gpu_pod_sees_the_device(cluster, namespace):
    on_nodes = gpu_nodes(cluster)
    if not on_nodes:
        pytest.skip(f"no node advertises {GPU_RESOURCE}; run on a GPU node pool (NVIDIA device "
                    "plugin installed) to check that pods see their device")
    manifest = workloads.pod("gpu", [{**workloads.container("main", BUSYBOX_IMAGE,
                                                             command=["sh", "-c", "ls /dev/nvidia*"]),
                                      "resources": {"limits": {GPU_RESOURCE: 1}}}],
                             runtimeClassName=NVIDIA_HANDLER)
    cluster.kube.run_pod(namespace, manifest, until="Succeeded")
    listing = cluster.kube.logs(namespace, "gpu")
    assert "/dev/nvidia0" in listing, (f"pod {namespace}/gpu on {on_nodes}: expected /dev/nvidia0, "
                                       f"observed {listing.split()}")
