"""Small helpers over the official kubernetes client for one cluster."""
from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from kubernetes import client, config, watch


class PodFailed(AssertionError):
    pass


class Kube:
    """The API of one cluster: core, node and raw clients, plus pod helpers."""

    def __init__(self, kubeconfig: Path, context: str | None = None):
        self.api_client = config.new_client_from_config(str(kubeconfig), context)
        self.core = client.CoreV1Api(self.api_client)
        self.node_api = client.NodeV1Api(self.api_client)

    def nodes(self) -> list[client.V1Node]:
        return self.core.list_node().items

    def create_namespace(self, prefix: str = "crigate") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.core.create_namespace({"metadata": {"name": name,
                                                 "labels": {"app.kubernetes.io/managed-by": "crigate"}}})
        deadline = time.monotonic() + 60      # pods need the namespace's default ServiceAccount
        while not self.core.list_namespaced_service_account(
                name, field_selector="metadata.name=default").items:
            if time.monotonic() > deadline:
                raise AssertionError(f"namespace {name}: no default ServiceAccount after 60s")
            time.sleep(0.2)
        return name

    def delete_namespace(self, name: str) -> None:
        try:
            self.core.delete_namespace(name, grace_period_seconds=0)
        except client.ApiException as err:
            if err.status != 404:
                raise

    def run_pod(self, namespace: str, manifest: dict, timeout: float = 120,
                until: str = "Ready") -> client.V1Pod:
        """Create a pod and wait (watch) until it is Ready, Running or Succeeded."""
        name = manifest["metadata"]["name"]
        self.core.create_namespaced_pod(namespace, manifest)
        return self.wait_pod(namespace, name, until=until, timeout=timeout)

    def wait_pod(self, namespace: str, name: str, until: str = "Ready",
                 timeout: float = 120) -> client.V1Pod:
        stream = watch.Watch()
        pod = None
        for event in stream.stream(self.core.list_namespaced_pod, namespace,
                                   field_selector=f"metadata.name={name}",
                                   timeout_seconds=int(timeout)):
            pod = event["object"]
            if pod_reached(pod, until):
                stream.stop()
                return pod
            if pod.status.phase == "Failed" and until != "Failed":
                stream.stop()
                break
        raise PodFailed(f"pod {namespace}/{name}: expected {until} within {timeout}s, observed "
                        f"phase {pod.status.phase if pod else 'none'}; events: "
                        f"{self.event_messages(namespace, name)}")

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
    def namespace(self, prefix: str = "crigate"):
        name = self.create_namespace(prefix)
        try:
            yield name
        finally:
            self.delete_namespace(name)


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
