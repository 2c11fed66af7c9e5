"""Node-level access on an existing cluster: a short-lived privileged debug pod
per node with the host's root at /host, driven as a testinfra host whose
commands are exec'd through the API and run under `chroot /host`."""
from __future__ import annotations

import re
import threading
import uuid

import testinfra.host
import yaml
from crigate.testbed.images import BUSYBOX_IMAGE, image_in_repo
from kubernetes import client
from kubernetes.stream import stream as exec_stream
from kubernetes.stream.ws_client import ERROR_CHANNEL
from testinfra.backend.base import BaseBackend

from .expectations import CGROUP_LOST
from .kube import MANAGED_BY, Kube, PodFailed

DEBUG_IMAGE = "busybox:1.36"        # must be pullable by the cluster's nodes
DEBUG_NAMESPACE = "default"
DEBUG_POD_DEADLINE_S = 3600         # the pod ends itself if crigate dies
READY_TIMEOUT_S = 120
EXEC_TIMEOUT_S = 120           # one command on a node
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


class HostRootBackend(BaseBackend):
    """`exec` into the debug pod through the API (the client's websocket; no
    kubectl process per command), then chroot into the node's root. When the
    debug container can no longer be exec'd into (CGROUP_LOST), replace() gives
    a fresh debug pod and the command runs again, once."""

    NAME = "crigate-debug-pod"
    EXEC_FAILED = 255        # the exec itself failed (no exit code from the command), as kubectl says

    def __init__(self, core: client.CoreV1Api, namespace: str, name: str, replace=None, **kwargs):
        self.core, self.namespace, self.name, self.replace = core, namespace, name, replace
        super().__init__(f"{namespace}/{name}", **kwargs)

    def run(self, command, *args, **kwargs):
        command = self.get_command(command, *args)
        result = self._exec(command)
        if result.rc == self.EXEC_FAILED and CGROUP_LOST in result.stderr and self.replace:
            self.name = self.replace()
            result = self._exec(command)
        return result

    def _exec(self, command: str):
        answer = exec_stream(self.core.connect_get_namespaced_pod_exec, self.name, self.namespace,
                             container="debug", command=["chroot", "/host", "/bin/sh", "-c", command],
                             stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False)
        try:
            answer.run_forever(timeout=EXEC_TIMEOUT_S)
            if answer.is_open():      # reading an open channel with no data would wait for ever
                return self.result(self.EXEC_FAILED, command, b"",
                                   f"no answer within {EXEC_TIMEOUT_S}s".encode())
            out, err = answer.read_stdout() or "", answer.read_stderr() or ""
            rc, problem = exit_status(answer.read_channel(ERROR_CHANNEL))
        finally:
            answer.close()
        return self.result(rc, command, out.encode(), (err + problem).encode())


def exit_status(error_channel: str) -> tuple[int, str]:
    """(exit code, what went wrong) from an exec's error channel: a Status of
    Success, or Failure with an ExitCode cause, or Failure of the exec itself.
    The exec protocols (v4, v5) always end with one: none means the stream
    was cut, and what came before it is not a whole answer."""
    status = yaml.safe_load(error_channel) if error_channel else None
    if not isinstance(status, dict):
        return HostRootBackend.EXEC_FAILED, "the exec ended without a status (connection cut)"
    if status.get("status") == "Success":
        return 0, ""
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
            return int(cause["message"]), ""
    return HostRootBackend.EXEC_FAILED, str(status.get("message", status))


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
    """A node's debug pod and the testinfra host that runs commands in it.
    kube: the run's Kube for this cluster; the host takes its own API client
    from kube's configuration (an exec swaps the client's transport for its
    length, so one client per host keeps the others' calls apart)."""

    def __init__(self, node: str, kube: Kube, namespace: str = DEBUG_NAMESPACE,
                 image: str = DEBUG_IMAGE, closing: threading.Event | None = None):
        self.node, self.namespace, self.image = node, namespace, image
        self.closing = closing or threading.Event()     # set: the run is ending, start nothing
        self.kube = kube.sharing()
        self.api = self.kube.core
        self._start()
        self.host = testinfra.host.Host(HostRootBackend(self.api, namespace, self.name, self._replace))

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
