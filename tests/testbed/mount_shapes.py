"""What each hostPath shape on a Docker path does on a real node: whether the
pod starts and what the container finds at the path. The gate's wording
(families/core.toml: docker-socket-mount, docker-data-mount) rests on these.

A shape is (hostPath, type). The probe pod prints what is at /probe; a pod the
kubelet refuses shows a FailedMount event instead. Directories a runtime
creates for an untyped mount are removed again (only those that were not there).
"""
from __future__ import annotations

import json
import subprocess
import time
import uuid
from dataclasses import dataclass

from crigate.facts import DOCKER_DATA, DOCKER_SOCKET, MANAGED_BY
from crigate.testbed.images import BUSYBOX_IMAGE

PROBE = ('if [ -S /probe ]; then echo socket; elif [ -d /probe ]; then echo "directory $(ls -A /probe | wc -l)"; '
         'elif [ -f /probe ]; then echo file; else echo missing; fi; sleep 3600')


@dataclass(frozen=True)
class Shape:
    path: str
    type: str = ""        # "" = no type

    @property
    def id(self) -> str:
        return f"{self.path} type {self.type or '(none)'}"


SHAPES = (Shape(DOCKER_SOCKET, "Socket"), Shape(DOCKER_SOCKET, "File"), Shape(DOCKER_SOCKET),
          Shape(DOCKER_SOCKET, "DirectoryOrCreate"), Shape(DOCKER_DATA, "Directory"),
          Shape(f"{DOCKER_DATA}/containers"))


@dataclass(frozen=True)
class Observed:
    started: bool
    found: str            # what the container saw at the path ("socket", "directory 0"...), or the event


def pod(shape: Shape, node: str, namespace: str) -> dict:
    host = {"path": shape.path, **({"type": shape.type} if shape.type else {})}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"shape-{uuid.uuid4().hex[:6]}", "namespace": namespace, "labels": dict(MANAGED_BY)},
            "spec": {"nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "probe", "image": BUSYBOX_IMAGE, "command": ["sh", "-c", PROBE],
                                     "volumeMounts": [{"name": "shape", "mountPath": "/probe"}]}],
                     "volumes": [{"name": "shape", "hostPath": host}]}}


def observe(kubectl, shape: Shape, node: str, namespace: str, timeout: float = 120) -> Observed:
    """Start the probe and wait for its answer or the kubelet's refusal."""
    manifest = pod(shape, node, namespace)
    kubectl.apply(json.dumps(manifest))
    name = manifest["metadata"]["name"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = kubectl("logs", "-n", namespace, name, check=False).strip()
        if logs:
            return Observed(True, logs.splitlines()[0])
        events = kubectl("get", "events", "-n", namespace, "--field-selector",
                         f"involvedObject.name={name},reason=FailedMount", "-o",
                         "jsonpath={.items[*].message}", check=False).strip()
        if events:
            return Observed(False, events[:200])
        time.sleep(1)
    raise AssertionError(f"pod {namespace}/{name} ({shape.id}) on node {node}: expected the probe's answer "
                         f"or a FailedMount event within {timeout}s, observed neither")


def node_paths(node: str, paths: tuple[str, ...]) -> set[str]:
    """Which of paths exist on the node (a test-bed node is a container)."""
    found = set()
    for path in paths:
        if subprocess.run(["docker", "exec", node, "test", "-e", path], capture_output=True).returncode == 0:
            found.add(path)
    return found


def remove_made_directories(node: str, made: list[str]) -> None:
    """rmdir what a runtime created for an untyped mount (deepest first; never a socket or a full directory)."""
    for path in sorted(made, key=len, reverse=True):
        subprocess.run(["docker", "exec", node, "sh", "-c", f'[ -d "{path}" ] && rmdir "{path}"'],
                       capture_output=True)
