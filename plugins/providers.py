"""Where a runtime's cluster comes from: the local test bed or an existing cluster.

A provider promises a reachable API server (kubeconfig + context), the names
of the cluster's nodes, and a testinfra host per node for node-level checks.
What else it allows (restarting the kubelet, rewriting node config, ...) it
answers in its `capabilities`; checks ask those, never the provider's name or
--cluster. PROVIDERS maps each --cluster value to its provider: the only place
that value is looked at.
"""
from __future__ import annotations

import json
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import testinfra
from crigate.testbed import engine, kindcluster
from crigate.testbed.engine import docker
from crigate.testbed.progress import say
from crigate.testbed.runtimes import RuntimeProfile
from crigate.testbed.versions import kubernetes_release, profile

from .facts import MANAGED_BY_SELECTOR
from .kube import Kube, delete_run_leftovers, run_selector
from .nodehost import DEBUG_IMAGE, DEBUG_NAMESPACE, DebugPodError, DebugPodHost
from .nodereads import across_nodes

DOCKER_EXEC = "docker exec"       # nodes are containers on this machine (testinfra docker://)
DEBUG_POD = "debug pod"           # nodes are reached through a privileged pod (commands exec'd through the API)


@dataclass(frozen=True)
class Capabilities:
    """What a provider's clusters allow; checks skip on a missing one with
    missing()'s message."""
    describes: str                    # the cluster, in words, for skip messages
    builds_nodes: bool                # crigate builds the nodes: their Kubernetes minor is --k8s
    nodes_reached_by: str             # DOCKER_EXEC or DEBUG_POD
    images_preloaded: bool            # crigate's images are on the nodes before the run
    exists_before_run: bool           # its access can (and must) be checked up front
    may_restart_kubelet: bool         # checks may stop the kubelet (critest, violations)
    may_change_node_config: bool      # checks may rewrite kubelet/runtime config (EventedPLEG)
    nvidia_stand_in: bool             # nodes run a recording stand-in for the NVIDIA handler,
                                      # and the cluster has its RuntimeClass

    def missing(self, capability: str, needed_for: str, want: object = True) -> str:
        """"" when the clusters have `capability` (== want), else a skip message
        that says what is missing and which --cluster has it."""
        if getattr(self, capability) == want:
            return ""
        having = [f"--cluster={name}" for name, provider in PROVIDERS.items()
                  if getattr(provider.capabilities, capability) == want]
        how = f"run with {' or '.join(having)}" if having else "no provider has one"
        return (f"{needed_for}, which needs {PROMISES[capability].format(want=want)}; "
                f"{self.describes} is not one; {how}")


# What each capability promises, as a skip message says it.
PROMISES = {
    "builds_nodes": "a cluster whose nodes crigate builds",
    "nodes_reached_by": "a cluster whose nodes crigate reaches by {want}",
    "images_preloaded": "a cluster whose nodes hold crigate's images before the run",
    "exists_before_run": "a cluster that exists before the run",
    "may_restart_kubelet": "a cluster whose kubelets checks may stop and restart",
    "may_change_node_config": "a cluster whose kubelet and runtime config checks may rewrite",
    "nvidia_stand_in": "a cluster whose nodes run crigate's recording stand-in for the NVIDIA handler",
}

# what a provider's delete raises when something it made is still there (named, with how to remove it)
TeardownError = kindcluster.ClusterError


class ClusterProvider(Protocol):
    runtime: str
    name: str
    profile: RuntimeProfile     # what the runtime is and can do (clusters/runtimes.py)
    capabilities: Capabilities  # what its clusters allow checks to do

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


def cluster_name(runtime: str, token: str) -> str:
    """The test-bed cluster of runtime in the run `token`."""
    return f"{kindcluster.CLUSTER_PREFIX}-{runtime}-{token}"


class TestBedProvider:
    """A one-node kind cluster on the locally built node image (or the user's)."""

    capabilities = Capabilities(
        describes="the local test bed", builds_nodes=True, nodes_reached_by=DOCKER_EXEC,
        images_preloaded=True, exists_before_run=False,
        may_restart_kubelet=True, may_change_node_config=True, nvidia_stand_in=True)

    @classmethod
    def from_settings(cls, settings, runtime: str, token: str, timings: Path) -> TestBedProvider:
        return cls(runtime, settings.k8s_minor, token, keep=settings.keep_cluster,
                   kind_bin=settings.kind_bin, kubectl_bin=settings.kubectl_bin,
                   node_image=settings.node_images.get(runtime), timings=timings)

    @staticmethod
    def delete_leftovers(settings, token: str) -> None:
        """Clusters of this session that crashed or killed workers left (controller
        only), and a `kind create` such a worker left running, which would make
        its cluster after the fact: stopped first, then the cluster deleted."""
        if settings.keep_cluster or not kindcluster.kind_is_built(settings.kind_bin):
            return
        stopped = [name for name in (cluster_name(runtime, token) for runtime in settings.runtimes)
                   if kindcluster.teardown.stop_stray_commands(name)]
        if engine.server_version() is None:      # no engine, no node containers (a unit-test run)
            return
        try:
            listed = kindcluster.existing_clusters(settings.kind_bin)
            for runtime in settings.runtimes:
                name = cluster_name(runtime, token)
                if name in stopped or name in listed or kindcluster.node_containers(name):
                    kindcluster.delete(name, settings.kind_bin, settle_s=kindcluster.STRAY_SETTLE_S)
        except engine.DockerCommandError as err:
            raise TeardownError(f"this run's kind clusters could not be listed or deleted: {err}") from err

    def __init__(self, runtime: str, k8s_minor: str, session_token: str, *, keep: bool = False,
                 kind_bin: Path | None = None, node_image: str | None = None,
                 timings: Path | None = None, kubectl_bin: Path | None = None):
        self.runtime, self.timings = runtime, timings
        self.release = kubernetes_release(k8s_minor)
        self.profile = self.release.profile(runtime)
        self.name = cluster_name(runtime, session_token)
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

    capabilities = Capabilities(
        describes="an existing cluster", builds_nodes=False, nodes_reached_by=DEBUG_POD,
        images_preloaded=False, exists_before_run=True,
        may_restart_kubelet=False, may_change_node_config=False, nvidia_stand_in=False)

    @classmethod
    def from_settings(cls, settings, runtime: str, token: str, timings: Path) -> ExistingClusterProvider:
        return cls(runtime, settings.kubeconfig, settings.context, debug_image=settings.debug_image,
                   image_repo=settings.image_repo)

    @staticmethod
    def delete_leftovers(settings, token: str) -> None:
        """What this run's processes made and could not delete themselves (a
        worker killed, SIGKILL): found by the run's label (controller only)."""
        try:
            kube = Kube(settings.kubeconfig, settings.context)
            kube.api_client.configuration.retries = False      # one try per call: signals wait meanwhile
            deleted = delete_run_leftovers(kube, token)
        except Exception as err:
            raise TeardownError(f"objects labelled {run_selector(token)} may be left on "
                                f"{settings.context or settings.kubeconfig}: {err}; remove them with "
                                f"`kubectl delete namespace,pod,runtimeclass -A -l {run_selector(token)}`") from None
        if deleted:
            say(f"crigate: removed what a stopped process of this run left: {', '.join(deleted)}")

    def __init__(self, runtime: str, kubeconfig: Path, context: str | None,
                 debug_image: str = DEBUG_IMAGE, image_repo: str | None = None):
        self.runtime, self.path, self.context = runtime, kubeconfig, context
        self.profile = profile(runtime)      # one runtime's profiles agree on what users see
        self.debug_image, self.image_repo = debug_image, image_repo
        self.name = context or "existing"
        # node checks open hosts from several threads at once (nodereads.across_nodes)
        self.hosts: dict[str, DebugPodHost] = {}
        self.node_locks: dict[str, threading.Lock] = {}
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.kube: Kube | None = None

    def create(self) -> None:
        if not os.access(self.path, os.R_OK):
            raise RuntimeError(f"kubeconfig {self.path} is not readable")
        self.kube = Kube(self.path, self.context, image_repo=self.image_repo)

    def delete(self) -> None:
        """Every debug pod goes, all at once; those still starting in other
        threads see `closing` and delete themselves. A pod that cannot be
        deleted is named."""
        self.closing.set()
        with self.lock:
            hosts = dict(self.hosts)
            self.hosts.clear()
        gone = across_nodes(hosts, lambda node: hosts[node].close(), what="debug pod removal")
        if gone.failed:
            raise TeardownError("; ".join(str(e) for e in gone.failed.values()) + "; remove what is "
                                f"left with `kubectl delete pod -n {DEBUG_NAMESPACE} -l {MANAGED_BY_SELECTOR}`")

    def kubeconfig(self) -> tuple[Path, str | None]:
        return self.path, self.context

    def node_host(self, node: str) -> testinfra.host.Host:
        with self.lock:
            lock = self.node_locks.setdefault(node, threading.Lock())
        with lock:
            if node not in self.hosts:
                host = DebugPodHost(node, self.kube, image=self.debug_image, closing=self.closing)
                with self.lock:
                    if self.closing.is_set():       # delete() ran while this pod started
                        host.close()
                        raise DebugPodError(f"node {node}: the run is ending; debug pod removed")
                    self.hosts[node] = host
            return self.hosts[node].host

    def describe(self) -> dict:
        return {"provider": "existing", "cluster": self.name, "kubeconfig": str(self.path)}


# --cluster value -> provider (options.CLUSTER_KINDS lists the same values)
PROVIDERS = {"kind": TestBedProvider, "existing": ExistingClusterProvider}


def provider_for(settings):
    """The provider class --cluster picks."""
    return PROVIDERS[settings.cluster]


def capabilities_of(settings) -> Capabilities:
    return provider_for(settings).capabilities


def make_provider(settings, runtime: str, token: str, timings: Path) -> ClusterProvider:
    return provider_for(settings).from_settings(settings, runtime, token, timings)
