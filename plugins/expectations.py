"""What a node looks like with or without Docker, and where the kubelet
keeps logs: constants with their sources. What each runtime is lives in
clusters/runtimes.py (RuntimeProfile)."""
from __future__ import annotations

# Sockets whose presence means Docker or dockershim is still on the node
# (dockershim served /var/run/dockershim.sock; Docker serves docker.sock; /run
# and /var/run are the same directory on systemd hosts but checked both).
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/var/run/dockershim.sock")
DOCKER_API_SOCKETS = DOCKER_SOCKETS[:2]          # the Engine API; dockershim.sock spoke CRI
# What the docker CLI says when no daemon answers (docker/cli, client errors).
DOCKER_UNREACHABLE = "Cannot connect to the Docker daemon"
DOCKER_PROCESSES = ("dockerd", "docker-containerd", "cri-dockerd")
DOCKER_CONTAINER_LOGS = "/var/lib/docker/containers"

# A kubelet flag or config value that makes Docker the runtime: dockershim's
# --container-runtime=docker and --docker-* flags (removed in 1.24), or an
# endpoint on docker.sock / dockershim.sock / cri-dockerd.sock. Plain "docker"
# elsewhere (kind's provider-id kind://docker/...) is not a runtime reference.
DOCKER_RUNTIME_REFERENCE = (r"--container-runtime[= ]+docker\b|--docker[-\w]*|dockershim"
                            r"|docker\.sock|cri-dockerd")
# Kubelet files that carry its flags and config (kubeadm's layout).
KUBELET_CONFIG_FILES = ("/var/lib/kubelet/kubeadm-flags.env", "/var/lib/kubelet/config.yaml")

# CRI log layout (kubelet, pkg/kubelet/kuberuntime/helpers / kuberuntime_container.go):
#   /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restartCount>.log
#   /var/log/containers/<pod>_<namespace>_<container>-<containerID>.log -> the above
POD_LOG_DIR = "/var/log/pods"
CONTAINER_LOG_DIR = "/var/log/containers"
# Runtimes split lines longer than this into P(artial) chunks ending with an F(ull) one;
# containerd's default max_container_log_line_size; CRI-O/conmon use smaller chunks.
CRI_LOG_CHUNK_BYTES = 16 * 1024

# containerd namespaces: the CRI plugin keeps pods in k8s.io; Docker (moby) in moby.
CONTAINERD_CRI_NAMESPACE = "k8s.io"
DOCKER_CONTAINERD_NAMESPACE = "moby"

# The stand-in for the NVIDIA runtime on the test bed records each container here.
NVIDIA_HANDLER = "nvidia"
NVIDIA_HANDLER_LOG = "/var/log/crigate/nvidia-handler.log"
GPU_RESOURCE = "nvidia.com/gpu"

# runc's words when a container's own cgroup went away under it. On this
# cgroup v1 host, CRI-O nodes (systemd cgroup driver) move a privileged
# container's processes out of its devices cgroup when systemd re-realizes the
# slices above it (seen after a neighbouring pod was deleted); every exec into
# it fails from then on, while new containers start fine. This matches systemd
# trimming the devices cgroup of privileged containers (DevicePolicy=auto) on
# cgroup v1: systemd/systemd#37044, which upstream no longer fixes.
CGROUP_LOST = "error adding pid"
