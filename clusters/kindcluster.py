"""Create, delete and list the test bed's kind clusters.

Cluster lifecycle goes through pytest-kind-ng's KindCluster, given the test
bed's own kind and kubectl (so it downloads nothing), the node image, crigate's
kind config and a name unique to the session (so it never reuses a cluster).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pytest_kind import KindCluster

from . import cache, gobuild, nodeimage, teardown
from .engine import docker, ensure_engine
from .kindconfig import cluster_config
from .progress import say, step
from .runtimes import PROFILES
from .versions import KubernetesRelease

CLUSTER_PREFIX = "crigate"
KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"
KIND_NETWORK = "kind"
READY_TIMEOUT_S = 180


@dataclass
class Cluster:
    name: str
    runtime: str
    image: str
    kubeconfig: Path
    nodes: list[str]


def default_name(runtime: str) -> str:
    return f"{CLUSTER_PREFIX}-{runtime}"


def default_kubeconfig(name: str) -> Path:
    return cache.root() / "kubeconfigs" / f"{name}.yaml"


def kind_is_built(override: Path | None = None) -> bool:
    """True when a kind binary is there without building one."""
    return bool(override) or (cache.component("kind", gobuild.tool_version("kind")) / "bin/kind").is_file()


def kind_bin(override: Path | None = None) -> str:
    """The kind binary: the user's, or the test bed's (built if missing)."""
    return str(override) if override else str(gobuild.build_kind() / "kind")


def built_kubectl_dir() -> Path | None:
    """A directory holding a kubectl the test bed already built, if any."""
    found = sorted(cache.root().glob("kubernetes/*/bin/kubectl"))
    return found[-1].parent if found else None


def kubectl_bin(release: KubernetesRelease) -> str:
    return str(gobuild.build_kubernetes(release) / "kubectl")


def kind_cluster(name: str, kubeconfig: Path | None = None, image: str | None = None,
                 kind_path: Path | None = None, kubectl_path: Path | None = None) -> KindCluster:
    """pytest-kind-ng's KindCluster on crigate's binaries. Its constructor makes
    .pytest-kind/<name> in the working directory for downloads and a default
    kubeconfig (pytest_kind/cluster.py, KindCluster.__init__); crigate passes
    both paths, so that directory is removed again at once."""
    made = not Path(".pytest-kind", name).exists()
    cluster = KindCluster(name, kubeconfig, image=image, kind_path=Path(kind_bin(kind_path)),
                          kubectl_path=kubectl_path)
    if made:
        shutil.rmtree(cluster.path, ignore_errors=True)
        try:
            cluster.path.parent.rmdir()        # .pytest-kind, when nothing else is in it
        except OSError:
            pass
    return cluster


def _kind(*args: str, timeout: float = 600, kind_path: Path | None = None
          ) -> subprocess.CompletedProcess:
    return subprocess.run([kind_bin(kind_path), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def node_containers(name: str) -> list[str]:
    out = docker("ps", "-a", "--filter", f"label={KIND_CLUSTER_LABEL}={name}",
                 "--format", "{{.Names}}").stdout.split()
    return sorted(out)


def up(release: KubernetesRelease, runtime: str, name: str | None = None,
       kubeconfig: Path | None = None, keep_on_failure: bool = False, *,
       image: str | None = None, kind_path: Path | None = None,
       kubectl_path: Path | None = None, workers: tuple[str, ...] = (),
       workloads: bool = True) -> Cluster:
    """Create a cluster whose control plane runs runtime, with a worker per
    runtime in workers (each joined through its own CRI socket), and wait
    until every node is Ready.

    image and kind_path replace the test bed's node image and kind binary
    (bring your own). workloads=False: nodes without crigate's workload images,
    which then pull them (--image-repo). On any failure (or Ctrl-C) the
    half-made cluster is deleted unless keep_on_failure is set.
    """
    ensure_engine()
    image = image or nodeimage.build_node_image(release, runtime, workloads)
    nodes = [(release.profile(runtime), image)] + [
        (release.profile(w), nodeimage.build_node_image(release, w, workloads)) for w in workers]
    try:
        config = cluster_config(release, nodes)
    except ValueError as err:
        raise ClusterError(str(err)) from None
    name = name or default_name(runtime)
    kubeconfig = Path(kubeconfig or default_kubeconfig(name)).resolve()
    if name in existing_clusters(kind_path):
        raise ClusterError(f"cluster {name!r} already exists; delete it with "
                           f"`python -m crigate.testbed down --name {name}` or pick another --name")
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    kubectl = Path(kubectl_path or kubectl_bin(release))
    try:
        shape = runtime + "".join(f" + {w} worker" for w in workers)
        with step(f"create cluster {name} ({shape}, Kubernetes {release.version})"):
            # each node's image is in the config: `kind --image` would put one on every node
            cluster = kind_cluster(name, kubeconfig, None, kind_path, kubectl)
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="crigate-kind-") as cfg:
                cfg.write(config)
                cfg.flush()
                try:
                    cluster.create(config_file=cfg.name)
                except subprocess.CalledProcessError as failed:
                    raise ClusterError(f"kind create cluster {name} failed (exit {failed.returncode}; "
                                       "kind's own output is above)" + _node_diagnostics(name)) from None
            _wait_ready(kubectl, kubeconfig, name)
            if workers:      # kind untaints only a lone control plane; here it is its runtime's node
                _untaint_control_plane(kubectl, kubeconfig)
            _apply_node_manifests(name)
    except BaseException:
        if not keep_on_failure:
            teardown.stop_stray_commands(name)     # a killed `kind create` leaves docker calls running
            try:
                delete(name, kind_path, settle_s=STRAY_SETTLE_S)
            except ClusterError as left:           # said; the create's own failure (or Ctrl-C) stands
                say(str(left))
        raise
    return Cluster(name, runtime, image, kubeconfig, node_containers(name))


CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane:NoSchedule"


def _untaint_control_plane(kubectl_path: Path, kubeconfig: Path) -> None:
    subprocess.run([str(kubectl_path), "--kubeconfig", str(kubeconfig), "taint", "nodes", "--all",
                    f"{CONTROL_PLANE_TAINT}-"], capture_output=True, text=True)


def _wait_ready(kubectl_path: Path, kubeconfig: Path, name: str) -> None:
    """Ready means pods can be created: every node Ready and the default
    namespace's ServiceAccount made by the controller-manager."""
    kubectl = [str(kubectl_path), "--kubeconfig", str(kubeconfig)]
    deadline = time.monotonic() + READY_TIMEOUT_S
    waited = subprocess.run([*kubectl, "wait", "--for=condition=Ready", "nodes", "--all",
                             f"--timeout={READY_TIMEOUT_S}s"], capture_output=True, text=True)
    if waited.returncode != 0:
        raise ClusterError(f"nodes of {name} not Ready within {READY_TIMEOUT_S}s: "
                           f"{waited.stderr.strip()}" + _node_diagnostics(name))
    # `kubectl wait --for=create` needs kubectl 1.31+; the test bed also runs 1.24
    while subprocess.run([*kubectl, "get", "serviceaccount", "default", "-n", "default"],
                         capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            raise ClusterError(f"cluster {name}: no default ServiceAccount after "
                               f"{READY_TIMEOUT_S}s; is kube-controller-manager running?"
                               + _node_diagnostics(name))
        time.sleep(0.5)


NODE_MANIFESTS = ("/kind/manifests/runtime-classes.yaml",)   # the test bed's own, after kind's


def _apply_node_manifests(name: str) -> None:
    """Apply the node image's extra manifests from the control-plane node."""
    node = next(n for n in node_containers(name) if "control-plane" in n)
    for manifest in NODE_MANIFESTS:
        applied = docker("exec", node, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf",
                         "apply", "-f", manifest, check=False)
        if applied.returncode != 0:
            raise ClusterError(f"cluster {name}: kubectl apply -f {manifest} on {node} failed: "
                               f"{applied.stderr.strip()}")


def _node_diagnostics(name: str) -> str:
    """The last journal lines of the kubelet and runtime on each node."""
    lines = []
    for node in node_containers(name):
        for unit in dict.fromkeys(u for p in PROFILES.values() for u in p.journal_units):
            out = docker("exec", node, "journalctl", "-u", unit, "--no-pager", "-n", "15",
                         check=False)
            if out.returncode == 0 and "No entries" not in out.stdout:
                lines.append(f"--- {node}: journalctl -u {unit} (last 15)\n{out.stdout.strip()}")
    return ("\n" + "\n".join(lines)) if lines else ""


class ClusterError(RuntimeError):
    pass


def existing_clusters(kind_path: Path | None = None) -> list[str]:
    out = _kind("get", "clusters", kind_path=kind_path)
    return [c for c in out.stdout.split() if c]


def crigate_clusters() -> list[dict]:
    """Clusters made from crigate node images: name, runtime, image, nodes."""
    found = []
    for name in existing_clusters():
        nodes = node_containers(name)
        if not nodes:
            continue
        info = json.loads(docker("inspect", nodes[0]).stdout)[0]
        image = info["Config"]["Image"]
        if not nodeimage.is_node_image(image):
            continue
        found.append({"name": name, "runtime": nodeimage.runtime_of_ref(image),
                      "image": image, "nodes": nodes,
                      "state": info["State"]["Status"]})
    return found


# Docker's answer to `rm` while another removal of the container runs (a stopped
# run's `kind delete` still going): wait for that one instead of failing.
REMOVAL_UNDER_WAY = "is already in progress"
REMOVAL_WAIT_S = 60.0
STRAY_SETTLE_S = 5.0      # after an interrupted create: no node container may appear for this long


def delete(name: str, kind_path: Path | None = None, *, settle_s: float = 0.0) -> None:
    """Delete cluster name, its node containers and volumes; then the kind
    network if no cluster uses it any more. settle_s: keep watching that long
    for a node container that a stray command still makes. Raises
    ClusterError naming what is left (never "done" while a node remains)."""
    with step(f"delete cluster {name}"):
        with tempfile.TemporaryDirectory(prefix="crigate-kind-") as scratch:
            try:      # its kubeconfig is not ours to edit: kind cleans a scratch one
                kind_cluster(name, Path(scratch) / "kubeconfig", kind_path=kind_path).delete()
            except subprocess.CalledProcessError:
                pass     # nothing to delete, or half-made: the containers go below
        _remove_nodes(name)
        quiet_until = time.monotonic() + settle_s
        while time.monotonic() < quiet_until:
            time.sleep(0.5)
            if node_containers(name):
                _remove_nodes(name)
                quiet_until = time.monotonic() + settle_s
    _remove_idle_network()


def _remove_nodes(name: str) -> None:
    """Remove every node container of the cluster; a frozen cgroup (v1) is
    thawed and the removal tried again; what still stands is named."""
    for node in node_containers(name):
        removed = docker("rm", "-f", "-v", node, check=False)
        if removed.returncode == 0:
            continue
        if REMOVAL_UNDER_WAY in removed.stderr:      # another delete (a stopped run's) is removing it
            _wait_removed(node)
            continue
        ident = docker("inspect", "-f", "{{.Id}}", node, check=False).stdout.strip()
        if ident and teardown.thaw(ident):
            docker("rm", "-f", "-v", node, check=False)
    left = node_containers(name)
    if left:
        raise ClusterError(f"cluster {name}: node container(s) {', '.join(left)} could not be removed; "
                           f"see `docker inspect {left[0]}`, then `docker rm -f {' '.join(left)}` "
                           "(on cgroup v1, write THAWED to its frozen freezer.state files first)")


def _wait_removed(node: str, timeout: float = REMOVAL_WAIT_S) -> None:
    """Until Docker has finished removing node (up to timeout; what stands after is named by the caller)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and docker("inspect", node, check=False).returncode == 0:
        time.sleep(0.5)


def _remove_idle_network() -> None:
    if docker("network", "inspect", KIND_NETWORK, check=False).returncode != 0:
        return
    if not docker("ps", "-a", "--filter", f"network={KIND_NETWORK}", "-q").stdout.strip():
        docker("network", "rm", KIND_NETWORK, check=False)
