"""The kind cluster config for a crigate node image."""
from __future__ import annotations

from .runtimes import RuntimeProfile
from .versions import KubernetesRelease

# kube-proxy and CoreDNS images are not built (no pulls, and the suites need
# neither Services nor cluster DNS), so kubeadm skips those addons. kind's own
# skipPhases list (preflight, addon/kube-proxy) is replaced by this patch (kind
# merges patches as JSON merge patches; lists are replaced whole), so kubeadm
# init runs its preflight checks, and these are the ones known to fail here:
#  - ImagePull: kubeadm before 1.26 or so pre-pulls the skipped addons' images;
#    every image it really needs is preloaded.
#  - SystemVerification: from 1.35 on, the system validator reports cgroup v1
#    as an error (k8s.io/system-validators, cgroup_validator_linux.go); the
#    kubelet runs on it with failCgroupV1: false.
SKIPPED_KUBEADM_PHASES = ("addon/kube-proxy", "addon/coredns")
IGNORED_PREFLIGHT_ERRORS = ("ImagePull", "SystemVerification")
# Since 1.35 the kubelet refuses cgroup v1 hosts unless failCgroupV1 is false
# (KEP-5573; pkg/kubelet/apis/config/v1beta1/defaults.go); the field exists from 1.31.
FAIL_CGROUP_V1_SINCE = "1.31"


def kind_config(profile: RuntimeProfile, release: KubernetesRelease, image: str) -> str:
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
    criSocket: {profile.cri_socket}
    ignorePreflightErrors: [{ignored}]
- |
  kind: JoinConfiguration
  nodeRegistration:
    criSocket: {profile.cri_socket}
""" + kubelet_patch(profile, release)


def kubelet_patch(profile: RuntimeProfile, release: KubernetesRelease) -> str:
    settings = []
    if profile.cgroup_driver != "systemd":       # kind's template says systemd
        settings.append(f"cgroupDriver: {profile.cgroup_driver}")
    if release.at_least(FAIL_CGROUP_V1_SINCE):
        settings.append("failCgroupV1: false")
    gates = [f"{gate}: {str(on).lower()}" for gate, on, since in profile.kubelet_feature_gates
             if release.at_least(since)]
    if gates:
        settings.append("featureGates: {" + ", ".join(gates) + "}")
    if not settings:
        return ""
    return "- |\n  kind: KubeletConfiguration\n" + "".join(f"  {s}\n" for s in settings)
