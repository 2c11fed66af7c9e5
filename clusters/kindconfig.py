"""The kind cluster config for a crigate node image."""
from __future__ import annotations

RUNTIME_SOCKETS = {
    "containerd": "unix:///run/containerd/containerd.sock",
    "cri-o": "unix:///var/run/crio/crio.sock",
}
# kube-proxy and CoreDNS images are not built (no pulls, and the suites need
# neither Services nor cluster DNS), so kubeadm skips those addons.
SKIPPED_KUBEADM_PHASES = ("addon/kube-proxy", "addon/coredns")


def kind_config(runtime: str, image: str) -> str:
    socket = RUNTIME_SOCKETS[runtime]
    phases = ", ".join(SKIPPED_KUBEADM_PHASES)
    return f"""\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  kubeProxyMode: none
nodes:
- role: control-plane
  image: {image}
kubeadmConfigPatches:
- |
  kind: InitConfiguration
  skipPhases: [{phases}]
  nodeRegistration:
    criSocket: {socket}
- |
  kind: JoinConfiguration
  nodeRegistration:
    criSocket: {socket}
"""
