"""The kind cluster config for a crigate node image."""
from __future__ import annotations

RUNTIME_SOCKETS = {
    "containerd": "unix:///run/containerd/containerd.sock",
    "cri-o": "unix:///var/run/crio/crio.sock",
    "docker": "unix:///run/cri-dockerd.sock",        # the Docker baseline, through cri-dockerd
}
# kube-proxy and CoreDNS images are not built (no pulls, and the suites need
# neither Services nor cluster DNS), so kubeadm skips those addons.
SKIPPED_KUBEADM_PHASES = ("addon/kube-proxy", "addon/coredns")
# kubeadm before 1.26 or so still pre-pulls the skipped addons' images in its
# preflight phase; every image it really needs is preloaded, so a failed pull
# there is only about the addons it will not install.
IGNORED_PREFLIGHT_ERRORS = ("ImagePull",)
# The Docker baseline runs on cgroupfs, as Docker's default and dockershim-era
# nodes did: with the systemd driver on cgroup v1, systemd prunes the devices
# cgroup of Docker's container scopes whenever a sibling pod slice goes away,
# and exec into those containers then fails.
KUBELET_CGROUP_DRIVER = {"docker": "cgroupfs"}


def kind_config(runtime: str, image: str) -> str:
    socket = RUNTIME_SOCKETS[runtime]
    phases = ", ".join(SKIPPED_KUBEADM_PHASES)
    ignored = ", ".join(IGNORED_PREFLIGHT_ERRORS)
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
    ignorePreflightErrors: [{ignored}]
- |
  kind: JoinConfiguration
  nodeRegistration:
    criSocket: {socket}
""" + _kubelet_patch(runtime)


def _kubelet_patch(runtime: str) -> str:
    driver = KUBELET_CGROUP_DRIVER.get(runtime)
    return f"""\
- |
  kind: KubeletConfiguration
  cgroupDriver: {driver}
""" if driver else ""
