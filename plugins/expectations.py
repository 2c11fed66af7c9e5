"""What the suites expect of a node with or without Docker: constants with
their sources. Facts the gate shares (Docker's sockets and data root, the
kubelet's log directories, the GPU resource) live in crigate.facts; what each
runtime is lives in clusters/runtimes.py (RuntimeProfile)."""
from __future__ import annotations

# What the docker CLI says when no daemon answers (docker/cli, client errors).
DOCKER_UNREACHABLE = "Cannot connect to the Docker daemon"
DOCKER_PROCESSES = ("dockerd", "docker-containerd", "cri-dockerd")

# Kubelet files that carry its flags and config (kubeadm's layout).
KUBELET_CONFIG_FILES = ("/var/lib/kubelet/kubeadm-flags.env", "/var/lib/kubelet/config.yaml")

# Runtimes split lines longer than this into P(artial) chunks ending with an F(ull) one;
# containerd's default max_container_log_line_size; CRI-O/conmon use smaller chunks.
CRI_LOG_CHUNK_BYTES = 16 * 1024

# containerd namespaces: the CRI plugin keeps pods in k8s.io; Docker (moby) in moby.
CONTAINERD_CRI_NAMESPACE = "k8s.io"
DOCKER_CONTAINERD_NAMESPACE = "moby"

# The stand-in for the NVIDIA runtime on the test bed records each container here.
NVIDIA_HANDLER = "nvidia"
NVIDIA_HANDLER_LOG = "/var/log/crigate/nvidia-handler.log"

# A real second OCI runtime: the test bed's nodes configure handler crun (Debian's
# crun) and publish RuntimeClass crun. Which runtime ran a container shows in its
# state directory, <state root>/<container id>/: runc keeps state.json there
# (opencontainers/runc libcontainer, stateFilename), crun a file named status
# (containers/crun src/libcrun/status.c); the state roots differ per CRI runtime.
CRUN_HANDLER = "crun"
OCI_STATE_FILES = {"runc": "state.json", "crun": "status"}
STATE_SEARCH_ROOT, STATE_SEARCH_DEPTH = "/run", 6

# runc's words when a container's own cgroup went away under it. On this
# cgroup v1 host, CRI-O nodes (systemd cgroup driver) move a privileged
# container's processes out of its devices cgroup when systemd re-realizes the
# slices above it (seen after a neighbouring pod was deleted); every exec into
# it fails from then on, while new containers start fine. This matches systemd
# trimming the devices cgroup of privileged containers (DevicePolicy=auto) on
# cgroup v1: systemd/systemd#37044, which upstream no longer fixes.
CGROUP_LOST = "error adding pid"
