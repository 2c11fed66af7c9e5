"""Node-level access on an existing cluster: a short-lived privileged debug pod
per node with the host's root at /host, driven through testinfra's kubectl
backend with every command run under `chroot /host`."""
from __future__ import annotations

import re
import shlex
import threading
import uuid
from pathlib import Path

import testinfra.host
from crigate.testbed.images import BUSYBOX_IMAGE, image_in_repo
from kubernetes import client
from testinfra.backend.kubectl import KubectlBackend

from .expectations import CGROUP_LOST
from .kube import MANAGED_BY, Kube, PodFailed

DEBUG_IMAGE = "busybox:1.36"        # must be pullable by the cluster's nodes
DEBUG_NAMESPACE = "default"
DEBUG_POD_DEADLINE_S = 3600         # the pod ends itself if crigate dies
READY_TIMEOUT_S = 120
# HOST[:PORT][/PATH], lower case, as a registry reference starts (distribution's reference grammar).
IMAGE_REPO = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._/-][a-z0-9]+)*)*$")


class DebugPodError(RuntimeError):
    """A node's debug pod did not start: the node cannot be read (not a bug of crigate's)."""


def image_repo(value: str | None) -> str | None:
    """--image-repo checked: ValueError saying what a valid one looks like."""
    if value is None:
        return None
    repo = value.rstrip("/")
    if not IMAGE_REPO.match(repo):
        raise ValueError(f"--image-repo {value!r}: expected HOST[:PORT][/PREFIX] in lower "
                         "case without a scheme or tag, e.g. 123456789012.dkr.ecr."
                         "eu-west-1.amazonaws.com/crigate or 127.0.0.1:5000/crigate")
    return repo


def debug_image(given: str | None, repo: str | None) -> str:
    """The debug pod's image: --debug-image, else crigate's busybox from --image-repo, else DEBUG_IMAGE."""
    if given and given != DEBUG_IMAGE:
        return given
    return image_in_repo(BUSYBOX_IMAGE, repo) if repo else DEBUG_IMAGE


class HostRootBackend(KubectlBackend):
    """kubectl exec into the debug pod, then chroot into the node's root. When
    the debug container can no longer be exec'd into (CGROUP_LOST), replace()
    gives a fresh debug pod and the command runs again, once."""

    replace = None      # set by DebugPodHost: () -> the new pod's name

    def get_command(self, command, *args):
        return "chroot /host /bin/sh -c " + shlex.quote(super().get_command(command, *args))

    def run(self, command, *args, **kwargs):
        result = super().run(command, *args, **kwargs)
        if result.rc == 255 and CGROUP_LOST in result.stderr and self.replace:
            self.name = self.replace()
            result = super().run(command, *args, **kwargs)
        return result


def debug_pod_manifest(node: str, name: str, image: str = DEBUG_IMAGE) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
        "spec": {
            "nodeName": node, "hostPID": True, "hostNetwork": True, "hostIPC": True,
            # OnFailure: the kubelet retries a start that failed for a passing reason
            # (a cgroup not yet there under systemd on cgroup v1) instead of failing the pod.
            "restartPolicy": "OnFailure", "activeDeadlineSeconds": DEBUG_POD_DEADLINE_S,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "debug", "image": image, "command": ["sleep", "3600"],
                            "securityContext": {"privileged": True},
                            "volumeMounts": [{"name": "host", "mountPath": "/host"}]}],
            "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
        },
    }


def container_problem(pod) -> str:
    """', debug: <reason>: <message>' from the container's waiting or terminated state."""
    for status in pod.status.container_statuses or []:
        for state in (status.state.waiting, status.state.terminated, status.last_state.terminated):
            if state and state.reason:
                return f", {status.name}: {state.reason}: {(state.message or '')[:300]}"
    return ""


class DebugPodHost:
    def __init__(self, node: str, kubeconfig: Path, context: str | None,
                 namespace: str = DEBUG_NAMESPACE, image: str = DEBUG_IMAGE,
                 image_repo: str | None = None, closing: threading.Event | None = None):
        self.node, self.namespace, self.image = node, namespace, image
        self.closing = closing or threading.Event()     # set: the run is ending, start nothing
        self.kube = Kube(kubeconfig, context, image_repo=image_repo)
        self.api = self.kube.core
        self._start()
        backend = HostRootBackend(self.name, namespace=namespace, container="debug",
                                  kubeconfig=str(kubeconfig), context=context)
        backend.replace = self._replace
        self.host = testinfra.host.Host(backend)

    def _start(self) -> None:
        self.name = f"crigate-debug-{uuid.uuid4().hex[:8]}"
        try:     # Ctrl-C may land after the API server made the pod, before its answer is read
            self._refuse_if_closing()
            self.kube.create_pod(self.namespace, debug_pod_manifest(self.node, self.name, self.image))
            self._wait_running()
            self._refuse_if_closing()
        except BaseException:
            self.close()
            raise

    def _refuse_if_closing(self) -> None:
        if self.closing.is_set():
            raise DebugPodError(f"node {self.node}: the run is ending; no debug pod started")

    def _replace(self) -> str:
        self.close()
        self._start()
        return self.name

    def _wait_running(self) -> None:
        try:
            self.kube.wait_pod(self.namespace, self.name, until="Running", timeout=READY_TIMEOUT_S)
            return
        except PodFailed as failed:
            pod = self.api.read_namespaced_pod(self.name, self.namespace)
            seen = str(failed)
        raise DebugPodError(f"debug pod {self.namespace}/{self.name} on node {self.node} did not "
                           f"start (phase {pod.status.phase}{container_problem(pod)}; {seen}); "
                           "node checks need a privileged pod whose image the node can pull "
                           "(--debug-image IMAGE, or --image-repo REPO after `python -m crigate.testbed "
                           "images push --registry REPO`)")

    def close(self) -> None:
        try:
            self.api.delete_namespaced_pod(self.name, self.namespace, grace_period_seconds=0)
        except client.ApiException as err:
            if err.status != 404:
                raise
