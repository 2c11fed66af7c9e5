"""Where a runtime's cluster comes from: the local test bed or an existing cluster.

A provider promises a reachable API server (kubeconfig + context), the names
of the cluster's nodes, and a testinfra host per node for node-level checks.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import testinfra

from crigate.testbed import kindcluster
from crigate.testbed.runtimes import RuntimeProfile
from crigate.testbed.versions import kubernetes_release, profile

from crigate.testbed.engine import docker

from .nodehost import DEBUG_IMAGE, DebugPodHost


class ClusterProvider(Protocol):
    runtime: str
    name: str
    profile: RuntimeProfile     # what the runtime is and can do (clusters/runtimes.py)

    def create(self) -> None:
        """Make the cluster usable; raise with what to fix when it cannot be."""

    def delete(self) -> None:
        """Remove what create() made (nothing for an existing cluster); idempotent."""

    def kubeconfig(self) -> tuple[Path, str | None]:
        """Path of the kubeconfig and the context to use (None: its current one)."""

    def node_host(self, node: str) -> testinfra.host.Host:
        """A testinfra host whose commands and files are the node's own."""

    def describe(self) -> dict:
        """Facts for the report: provider, cluster name, node image."""


@contextmanager
def timed(path: Path | None, runtime: str, phase: str):
    """Append {runtime, phase, seconds} to path (JSON lines; xdist workers share it)."""
    started = time.monotonic()
    yield
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps({"runtime": runtime, "phase": phase,
                                  "seconds": round(time.monotonic() - started, 2)}) + "\n")


class TestBedProvider:
    """A one-node kind cluster on the locally built node image (or the user's)."""

    def __init__(self, runtime: str, k8s_minor: str, session_token: str, *, keep: bool = False,
                 kind_bin: Path | None = None, node_image: str | None = None,
                 timings: Path | None = None, kubectl_bin: Path | None = None):
        self.runtime, self.timings = runtime, timings
        self.release = kubernetes_release(k8s_minor)
        self.profile = self.release.profile(runtime)
        self.name = f"{kindcluster.CLUSTER_PREFIX}-{runtime}-{session_token}"
        self.keep, self.kind_bin, self.node_image = keep, kind_bin, node_image
        self.kubectl_bin = kubectl_bin
        self.cluster: kindcluster.Cluster | None = None

    def create(self) -> None:
        with timed(self.timings, self.runtime, "create"):
            self.cluster = kindcluster.up(self.release, self.runtime, self.name,
                                          keep_on_failure=self.keep, image=self.node_image,
                                          kind_path=self.kind_bin, kubectl_path=self.kubectl_bin)

    def delete(self) -> None:
        if not self.keep and self.cluster:
            with timed(self.timings, self.runtime, "delete"):
                kindcluster.delete(self.name, self.kind_bin)
            self.cluster = None

    def kubeconfig(self) -> tuple[Path, str | None]:
        return self.cluster.kubeconfig, None

    def node_host(self, node: str) -> testinfra.host.Host:
        return testinfra.get_host(f"docker://{node}")

    def describe(self) -> dict:
        image = self.cluster.image if self.cluster else self.node_image
        image_id = docker("image", "inspect", "--format", "{{.Id}}", image, check=False).stdout.strip()
        return {"provider": "kind", "cluster": self.name, "node_image": image,
                "node_image_id": image_id, "kubernetes": self.release.version,
                "runtime_profile": self.profile.id}


class ExistingClusterProvider:
    """A cluster the user already has; crigate creates nothing in it except,
    for node checks, a short-lived debug pod per node."""

    def __init__(self, runtime: str, kubeconfig: Path, context: str | None,
                 debug_image: str = DEBUG_IMAGE, image_repo: str | None = None):
        self.runtime, self.path, self.context = runtime, kubeconfig, context
        self.profile = profile(runtime)      # one runtime's profiles agree on what users see
        self.debug_image, self.image_repo = debug_image, image_repo
        self.name = context or "existing"
        self.hosts: dict[str, DebugPodHost] = {}

    def create(self) -> None:
        if not os.access(self.path, os.R_OK):
            raise RuntimeError(f"kubeconfig {self.path} is not readable")
        # testinfra's kubectl backend runs `kubectl` from PATH; fall back to the test bed's.
        if not shutil.which("kubectl"):
            built = kindcluster.built_kubectl_dir()
            if built:
                os.environ["PATH"] = f"{built}{os.pathsep}{os.environ['PATH']}"

    def delete(self) -> None:
        for host in self.hosts.values():
            host.close()
        self.hosts.clear()

    def kubeconfig(self) -> tuple[Path, str | None]:
        return self.path, self.context

    def node_host(self, node: str) -> testinfra.host.Host:
        if node not in self.hosts:
            self.hosts[node] = DebugPodHost(node, self.path, self.context, image=self.debug_image,
                                            image_repo=self.image_repo)
        return self.hosts[node].host

    def describe(self) -> dict:
        return {"provider": "existing", "cluster": self.name, "kubeconfig": str(self.path)}
