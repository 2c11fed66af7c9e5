"""Facts about Docker nodes, the kubelet and crigate's own objects that more
than one part of crigate needs, each defined once with its source. What each
runtime is (its sockets included) lives in clusters/runtimes.py; this module
derives from it and imports nothing heavy, so the gate's offline mode and the
suites can both use it. tests/plugin/test_facts_once.py fails when one of
these values is written out anywhere else."""
from __future__ import annotations

from crigate.testbed.runtimes import DOCKER, DOCKER_SOCKET, DOCKERSHIM_SOCKET, PROFILES

# /var/run is a symlink to /run on systemd hosts (FHS 3.0 §5.13, systemd's
# tmpfiles.d/var.conf): a hostPath may name either.
VAR_RUN, RUN = "/var/run", "/run"


def normalize(path: str) -> str:
    """The path with /var/run spelled /run and no trailing slash."""
    path = path.rstrip("/") or "/"
    return RUN + path[len(VAR_RUN):] if path == VAR_RUN or path.startswith(VAR_RUN + "/") else path


# Sockets whose presence means Docker or dockershim is still on the node;
# /run and /var/run are the same directory on systemd hosts but checked both.
DOCKER_SOCKETS = (DOCKER_SOCKET, normalize(DOCKER_SOCKET), DOCKERSHIM_SOCKET)
DOCKER_API_SOCKETS = DOCKER_SOCKETS[:2]          # the Engine API; dockershim.sock spoke CRI
# The same sockets as a hostPath resolves them (what the gate compares mounts with).
DOCKER_SOCKET_PATHS = (normalize(DOCKER_SOCKET), normalize(DOCKERSHIM_SOCKET))
DOCKER_SOCKET_NAME = DOCKER_SOCKET.rsplit("/", 1)[1]      # what a config or script names
# cri-dockerd's CRI socket (the Docker baseline's endpoint), as a hostPath names it.
CRI_DOCKERD_SOCKET = normalize(DOCKER.cri_socket.removeprefix("unix://"))
# dockerd's exec root (`dockerd --exec-root`, default /var/run/docker; docs.docker.com
# "dockerd" reference): its embedded containerd's socket lives below it and goes with Docker.
DOCKER_EXEC_ROOT = normalize("/var/run/docker")
# The CRI runtimes' own sockets (not Docker's), as a hostPath resolves them, and
# their file names, which distributions keep under other directories too
# (k3s: /run/k3s/containerd/containerd.sock).
CRI_SOCKET_PATHS = tuple(sorted({normalize(s) for p in PROFILES.values() if not p.baseline
                                 for s in p.node_sockets}))
CRI_SOCKET_NAMES = tuple(sorted({s.rsplit("/", 1)[1] for s in CRI_SOCKET_PATHS}))

# Docker's data root and its json-file logs (docs.docker.com, "Docker daemon
# configuration": data-root; "JSON File logging driver":
# <data-root>/containers/<id>/<id>-json.log).
DOCKER_DATA = "/var/lib/docker"
DOCKER_CONTAINER_LOGS = f"{DOCKER_DATA}/containers"

# A CRI endpoint that is Docker: dockershim's socket, docker.sock, or
# cri-dockerd's (Mirantis/cri-dockerd serves unix:///run/cri-dockerd.sock).
DOCKER_ENDPOINT = r"dockershim|docker\.sock|cri-dockerd"
# A kubelet flag or config value that makes Docker the runtime: dockershim's
# --container-runtime=docker and --docker-* flags (removed in 1.24), or a
# Docker endpoint. Plain "docker" elsewhere (kind's provider-id
# kind://docker/...) is not a runtime reference.
DOCKER_RUNTIME_REFERENCE = r"--container-runtime[= ]+docker\b|--docker[-\w]*|" + DOCKER_ENDPOINT

# The first Kubernetes minor without dockershim (KEP-2221, "Removing dockershim
# from kubelet"): a cluster still on Docker moves to a CRI runtime at this
# release at the latest.
DOCKERSHIM_REMOVED_IN = "1.24"

# CRI log layout (kubelet, pkg/kubelet/kuberuntime/helpers / kuberuntime_container.go):
#   /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restartCount>.log
#   /var/log/containers/<pod>_<namespace>_<container>-<containerID>.log -> the above
POD_LOG_DIR = "/var/log/pods"
CONTAINER_LOG_DIR = "/var/log/containers"
KUBELET_LOG_DIRS = (CONTAINER_LOG_DIR, POD_LOG_DIR)

# The extended resource the NVIDIA device plugin advertises
# (NVIDIA/k8s-device-plugin, README "Enabling GPU Support in Kubernetes").
GPU_RESOURCE = "nvidia.com/gpu"

# The label on every object crigate creates (Kubernetes' recommended labels,
# kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/),
# and on the test bed's registry container.
MANAGED_BY_KEY, MANAGED_BY_VALUE = "app.kubernetes.io/managed-by", "crigate"
MANAGED_BY = {MANAGED_BY_KEY: MANAGED_BY_VALUE}
MANAGED_BY_SELECTOR = f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE}"
