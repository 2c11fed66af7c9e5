"""Small helpers over the official kubernetes client for one cluster."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from crigate.testbed.images import image_in_repo
from kubernetes import client, config, watch
from kubernetes.stream import stream as exec_stream

from .facts import MANAGED_BY  # on every object crigate creates

LEFTOVER_REQUEST_TIMEOUT_S = 10    # each call of the end-of-run sweep (signals are held meanwhile)
RUN_LABEL_KEY = "crigate.io/run"    # which run made an object: what a cancelled run left is found by it
_RUN: dict[str, str] = {}


def mark_run(token: str) -> None:
    """Label everything this process creates with the run's token (set once, at configure)."""
    _RUN[RUN_LABEL_KEY] = token


def object_labels() -> dict[str, str]:
    """The labels every object crigate creates carries: managed-by, and the run."""
    return {**MANAGED_BY, **_RUN}


def run_selector(token: str) -> str:
    return f"{RUN_LABEL_KEY}={token}"


class PodFailed(AssertionError):
    pass


# Container waiting reasons that do not go away by waiting: the image cannot be
# pulled (or named), or the container cannot be configured (kubelet,
# pkg/kubelet/images/types.go and kuberuntime's CreateContainerConfigError).
STUCK_WAITING = {
    "ErrImagePull": "the node cannot pull {image}",
    "ImagePullBackOff": "the node cannot pull {image}",
    "InvalidImageName": "{image} is not a valid image name",
    "ErrImageNeverPull": "{image} is not on the node and imagePullPolicy is Never",
    "CreateContainerConfigError": "the kubelet cannot configure container {container}",
}
IMAGE_FIX = ("push crigate's images to a registry the nodes can pull from "
             "(`python -m crigate.testbed images push --registry REPO`) and run with --image-repo REPO")
# Unschedulable because of these taints clears as the node becomes Ready.
TRANSIENT_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def stuck_reason(pod: client.V1Pod) -> str | None:
    """Why a pod will not start however long one waits, with what to do; None
    while it may still start."""
    for status in pod.status.container_statuses or []:
        waiting = status.state.waiting if status.state else None
        if waiting and waiting.reason in STUCK_WAITING:
            what = STUCK_WAITING[waiting.reason].format(image=status.image, container=status.name)
            fix = IMAGE_FIX if "Image" in waiting.reason else "fix what the message names"
            return (f"container {status.name}: {waiting.reason}: {what} "
                    f"({(waiting.message or '')[:200]}); {fix}")
    for condition in pod.status.conditions or []:
        message = condition.message or ""
        if (condition.type == "PodScheduled" and condition.status == "False"
                and condition.reason == "Unschedulable"
                and not any(taint in message for taint in TRANSIENT_TAINTS)):
            return (f"Unschedulable: {message[:300]}; the pod asks for nodes this cluster does "
                    "not have (check --nodes, taints and node selectors)")
    return None


class Kube:
    """The API of one cluster: core, node and raw clients, plus pod helpers."""

    def __init__(self, kubeconfig: Path | None, context: str | None = None, image_repo: str | None = None,
                 *, api_client: client.ApiClient | None = None):
        self.image_repo = image_repo     # where the nodes pull crigate's images from (--image-repo)
        self.pinned_nodes: list[str] = []     # pods go to these nodes only (pin_pods_to)
        self.pod_nodes: dict[str, set[str]] = {}   # namespace -> nodes crigate's pods ran on
        self.deleting: set[str] = set()      # namespaces deleted, not yet waited for (settle)
        self.api_client = api_client or config.new_client_from_config(str(kubeconfig), context)
        # GETs answered 429/5xx with a Retry-After are retried after it, as client-go
        # and kubectl do (kubernetes client 37: Configuration.client_go_retries, after
        # k8s.io/client-go/rest/with_retry.go); the gate's reads have their own budget
        # (crigate.gate.apiretry).
        self.api_client.configuration.client_go_retries = True
        self.core = client.CoreV1Api(self.api_client)
        self.node_api = client.NodeV1Api(self.api_client)

    def sharing(self) -> Kube:
        """A Kube for another thread: its own API client on this one's
        configuration (the kubeconfig is not read again)."""
        return Kube(None, image_repo=self.image_repo,
                    api_client=client.ApiClient(self.api_client.configuration))

    def nodes(self) -> list[client.V1Node]:
        return self.core.list_node().items

    def create_namespace(self, prefix: str = "crigate") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.core.create_namespace({"metadata": {"name": name, "labels": object_labels()}})
        try:         # pods need the namespace's default ServiceAccount, made by the controller-manager
            if not self.watch_until(self.core.list_namespaced_service_account, lambda sa: True,
                                    namespace=name, field_selector="metadata.name=default", timeout=60):
                raise AssertionError(f"namespace {name}: expected its default ServiceAccount within "
                                     "60s, observed none; is kube-controller-manager running?")
        except BaseException:            # a timeout or Ctrl-C here leaves no namespace behind
            self.delete_namespace(name)
            raise
        return name

    def watch_until(self, list_call, holds: Callable, *, namespace: str | None = None,
                    timeout: float = 120, **selectors):
        """The first object listed or watched through list_call for which holds(obj)
        is true, or None after timeout: list first, then watch from that version
        (the one way crigate waits for API state)."""
        args = (namespace,) if namespace else ()
        listed = list_call(*args, **selectors)
        for obj in listed.items:
            if holds(obj):
                return obj
        stream = watch.Watch()
        for event in stream.stream(list_call, *args, resource_version=listed.metadata.resource_version,
                                   timeout_seconds=max(1, int(timeout)), **selectors):
            if event["type"] != "DELETED" and holds(event["object"]):
                stream.stop()
                return event["object"]
        return None

    def delete_namespace(self, name: str, timeout: float = 120, *, wait: bool = True) -> None:
        """Delete the namespace and wait until it is gone, its pods with it, so
        that a run that ended has left nothing (not even a Terminating one).
        wait=False: the namespace controller finishes meanwhile (about 5 s of
        its bookkeeping after the pods are gone); settle() waits for it."""
        try:
            self.core.delete_namespace(name, grace_period_seconds=0)
        except client.ApiException as err:
            if err.status != 404:
                raise
            return
        self.deleting.add(name)
        if wait:
            self.settle(timeout)

    def settle(self, timeout: float = 120) -> None:
        """Wait until every namespace deleted so far is gone: before a
        measurement (a quiet node) and before the cluster is let go (nothing left)."""
        while self.deleting:
            name = min(self.deleting)
            self.wait_gone(self.core.list_namespace, name, timeout=timeout)
            self.deleting.discard(name)

    def wait_gone(self, list_call, name: str, *, namespace: str | None = None,
                  timeout: float = 120) -> None:
        """Watch until the object called name is deleted; AssertionError names it
        if it is still there after timeout."""
        args = (namespace,) if namespace else ()
        selector = f"metadata.name={name}"
        listed = list_call(*args, field_selector=selector)
        if not listed.items:
            return
        stream = watch.Watch()
        for event in stream.stream(list_call, *args, field_selector=selector, timeout_seconds=int(timeout),
                                   resource_version=listed.metadata.resource_version):
            if event["type"] == "DELETED":
                stream.stop()
                return
        if list_call(*args, field_selector=selector).items:
            raise AssertionError(f"{name}: expected deleted within {timeout:.0f}s, observed it still there")

    def pin_pods_to(self, nodes: list[str]) -> None:
        self.pinned_nodes = list(nodes)

    def remember_node(self, pod: client.V1Pod) -> None:
        """Note the node a pod was seen on, for the report's per-node table."""
        if pod is not None and pod.spec and pod.spec.node_name:
            self.pod_nodes.setdefault(pod.metadata.namespace, set()).add(pod.spec.node_name)

    def nodes_of_pods_in(self, namespaces: list[str]) -> set[str]:
        """Nodes that crigate's pods in these namespaces ran on: those seen
        while waiting, and those of the pods still there."""
        found = set().union(*(self.pod_nodes.get(ns, set()) for ns in namespaces))
        for namespace in namespaces:
            try:
                found.update(p.spec.node_name for p in self.core.list_namespaced_pod(namespace).items
                             if p.spec.node_name)
            except client.ApiException:
                pass          # the namespace is gone or not readable: what was seen stays
        return found

    def create_pod(self, namespace: str, manifest: dict) -> client.V1Pod:
        """Create a pod from one of crigate's manifests, its images taken from
        --image-repo when one is given and, on a cluster of several runtimes,
        kept to the nodes of the runtime under test (the one place pods are
        created)."""
        manifest = with_image_repo(manifest, self.image_repo)
        metadata = manifest.setdefault("metadata", {})
        metadata["labels"] = {**metadata.get("labels", {}), **object_labels()}
        if self.pinned_nodes:
            manifest = on_nodes(manifest, self.pinned_nodes)
        return self.core.create_namespaced_pod(namespace, manifest)

    def run_pod(self, namespace: str, manifest: dict, timeout: float = 120,
                until: str = "Ready") -> client.V1Pod:
        """Create a pod and wait (watch) until it is Ready, Running or Succeeded."""
        name = manifest["metadata"]["name"]
        self.create_pod(namespace, manifest)
        return self.wait_pod(namespace, name, until=until, timeout=timeout)

    def wait_pod(self, namespace: str, name: str, until: str | Callable = "Ready",
                 timeout: float = 120, what: str | None = None) -> client.V1Pod:
        """Watch the pod until it is Ready/Running/Succeeded/Failed (a string) or
        until(pod) holds (`what` says what that means); PodFailed names what was
        seen when it fails first, and comes at once for a pod that cannot start
        (an image it cannot pull, no node it fits on: stuck_reason)."""
        reached = until if callable(until) else (lambda pod: pod_reached(pod, until))
        failed = lambda pod: pod.status.phase == "Failed" and until != "Failed"  # noqa: E731
        stuck = lambda pod: until != "Failed" and stuck_reason(pod) is not None  # noqa: E731
        pod = self.watch_until(self.core.list_namespaced_pod,
                               lambda p: reached(p) or failed(p) or stuck(p),
                               namespace=namespace, field_selector=f"metadata.name={name}",
                               timeout=timeout)
        self.remember_node(pod)
        if pod is not None and reached(pod):
            return pod
        if pod is not None and stuck(pod):
            raise PodFailed(f"pod {namespace}/{name} on node {pod.spec.node_name or '(none)'}: "
                            f"expected {what or until}, observed {stuck_reason(pod)}")
        last = pod or self.core.read_namespaced_pod(name, namespace)
        raise PodFailed(f"pod {namespace}/{name}: expected {what or until} within {timeout}s, observed "
                        f"phase {last.status.phase}; events: {self.event_messages(namespace, name)}")

    def exec(self, namespace: str, pod: str, command: list[str], container: str | None = None) -> str:
        """Run command in a pod's container (pods/exec); its stdout and stderr."""
        # stream() swaps the client's transport while it runs: a client of its own,
        # so other threads' calls on this Kube are not sent over the websocket
        own = client.CoreV1Api(client.ApiClient(self.api_client.configuration))
        return exec_stream(own.connect_get_namespaced_pod_exec, pod, namespace,
                           container=container, command=command, stdout=True, stderr=True,
                           stdin=False, tty=False)

    def event_messages(self, namespace: str, name: str) -> list[str]:
        events = self.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={name}").items
        return [f"{e.reason}: {e.message}" for e in events]

    def logs(self, namespace: str, name: str, container: str | None = None, previous=False) -> str:
        return self.core.read_namespaced_pod_log(name, namespace, container=container,
                                                 previous=previous)

    def node_proxy(self, node: str, path: str) -> str:
        """GET a kubelet endpoint through the API server's node proxy."""
        response = self.core.connect_get_node_proxy_with_path(node, path.lstrip("/"),
                                                              _preload_content=False)
        return response.data.decode()

    @contextmanager
    def namespace(self, prefix: str = "crigate", *, wait: bool = True):
        name = self.create_namespace(prefix)
        try:
            yield name
        finally:
            self.delete_namespace(name, wait=wait)


def with_image_repo(manifest: dict, repo: str | None) -> dict:
    """manifest with every crigate image (crigate.local/NAME:TAG) as REPO/NAME:TAG."""
    if not repo:
        return manifest
    spec = dict(manifest["spec"])
    for key in ("initContainers", "containers"):
        if key in spec:
            spec[key] = [{**c, "image": image_in_repo(c["image"], repo)} for c in spec[key]]
    return {**manifest, "spec": spec}


def on_nodes(manifest: dict, names: list[str]) -> dict:
    """manifest required to schedule on one of names (node affinity on
    metadata.name; a pod that names its node already keeps it)."""
    spec = manifest["spec"]
    if spec.get("nodeName"):
        return manifest
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": list(names)}]}
    affinity = {**spec.get("affinity", {}), "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
    return {**manifest, "spec": {**spec, "affinity": affinity}}


def pod_reached(pod: client.V1Pod, until: str) -> bool:
    status = pod.status
    if until in ("Running", "Succeeded", "Failed"):
        return status.phase == until
    return any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])


def container_id(pod: client.V1Pod, container: str) -> str:
    """The runtime's container ID (no scheme) of a pod's container."""
    for status in pod.status.container_statuses or []:
        if status.name == container and status.container_id:
            return status.container_id.split("://", 1)[1]
    raise AssertionError(f"pod {pod.metadata.namespace}/{pod.metadata.name}: container "
                         f"{container} has no container ID yet")


def delete_run_leftovers(kube: Kube, token: str) -> list[str]:
    """Delete what the run `token` made and a killed process could not: its
    namespaces, pods anywhere (debug pods), RuntimeClasses. Returns what was deleted."""
    selector, timeout = run_selector(token), LEFTOVER_REQUEST_TIMEOUT_S
    deleted = []
    for ns in kube.core.list_namespace(label_selector=selector, _request_timeout=timeout).items:
        kube.delete_namespace(ns.metadata.name, wait=False)
        deleted.append(f"namespace {ns.metadata.name}")
    for pod in kube.core.list_pod_for_all_namespaces(label_selector=selector, _request_timeout=timeout).items:
        try:
            kube.core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0,
                                            _request_timeout=timeout)
        except client.ApiException as err:
            if err.status != 404:
                raise
        deleted.append(f"pod {pod.metadata.namespace}/{pod.metadata.name}")
    for rc in kube.node_api.list_runtime_class(label_selector=selector, _request_timeout=timeout).items:
        kube.node_api.delete_runtime_class(rc.metadata.name, _request_timeout=timeout)
        deleted.append(f"RuntimeClass {rc.metadata.name}")
    kube.settle()
    return deleted
