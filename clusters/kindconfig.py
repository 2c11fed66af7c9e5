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
#  - CRI, ContainerRuntimeVersion: on cgroup v1 the node's entrypoint tells kind
#    it booted before systemd has started the runtime (crigate-entrypoint says
#    why), as kind's own node image does, so kubeadm may ask the CRI socket a
#    moment too early; the kubelet waits for the runtime and kubeadm for the
#    control plane (a runtime that never comes up fails there, with the nodes'
#    journals in the error).
SKIPPED_KUBEADM_PHASES = ("addon/kube-proxy", "addon/coredns")
RUNTIME_PREFLIGHT_CHECKS = ("CRI", "ContainerRuntimeVersion")     # joins ignore these too
IGNORED_PREFLIGHT_ERRORS = ("ImagePull", "SystemVerification", *RUNTIME_PREFLIGHT_CHECKS)
# Since 1.35 the kubelet refuses cgroup v1 hosts unless failCgroupV1 is false
# (KEP-5573; pkg/kubelet/apis/config/v1beta1/defaults.go); the field exists from 1.31.
FAIL_CGROUP_V1_SINCE = "1.31"


# Nodes of several runtimes in one cluster share one kubelet configuration;
# the kubelet takes each runtime's cgroup driver from the CRI (RuntimeConfig,
# KubeletCgroupDriverFromCRI: on from 1.31, GA 1.34) where the runtime reports
# it, and the configured one elsewhere (cri-dockerd).
MIXED_RUNTIMES_SINCE = "1.31"

# The test bed has one control plane: leader election gives it nothing, and on two
# busy cores a controller-manager that misses its lease renewal (10 s) exits and
# waits out a crash back-off, so namespaces get no ServiceAccount for a minute
# or more (seen in CI). Both components run without it here.
UNELECTED_COMPONENTS = ("controllerManager", "scheduler")
# kind v0.32 writes kubeadm's v1beta4 API (extraArgs a list of {name, value}) from
# Kubernetes 1.36 and v1beta3 (extraArgs a map) before (clusters/versions.toml,
# [tools] kind); a merge patch replaces a list whole, so the list keeps kind's own
# controller-manager argument (enable-hostpath-provisioner).
KUBEADM_V1BETA4_SINCE = "1.36"
KIND_CONTROLLER_MANAGER_ARGS = {"enable-hostpath-provisioner": "true"}


def kind_config(profile: RuntimeProfile, release: KubernetesRelease, image: str) -> str:
    """One control-plane node."""
    return cluster_config(release, [(profile, image)])


def cluster_config(release: KubernetesRelease, nodes: list[tuple[RuntimeProfile, str]]) -> str:
    """A control plane (the first node) and a worker per further node, each
    joined through its own runtime's CRI socket."""
    (first, first_image), workers = nodes[0], nodes[1:]
    if len({p.id for p, _ in nodes}) > 1 and not release.at_least(MIXED_RUNTIMES_SINCE):
        raise ValueError(f"nodes of several runtimes need Kubernetes {MIXED_RUNTIMES_SINCE}+ (the "
                         f"kubelet reads each runtime's cgroup driver from the CRI); {release.minor} "
                         "cannot")
    phases = ", ".join(SKIPPED_KUBEADM_PHASES)
    ignored = ", ".join(IGNORED_PREFLIGHT_ERRORS)
    lines = ["kind: Cluster", "apiVersion: kind.x-k8s.io/v1alpha4", "networking:",
             "  kubeProxyMode: none", "nodes:", "- role: control-plane", f"  image: {first_image}"]
    for profile, image in workers:
        lines += ["- role: worker", f"  image: {image}", "  kubeadmConfigPatches:", "  - |",
                  "    kind: JoinConfiguration", "    nodeRegistration:",
                  f"      criSocket: {profile.cri_socket}",
                  f"      ignorePreflightErrors: [{', '.join(RUNTIME_PREFLIGHT_CHECKS)}]"]
    lines += ["kubeadmConfigPatches:", "- |", "  kind: InitConfiguration", f"  skipPhases: [{phases}]",
              "  nodeRegistration:", f"    criSocket: {first.cri_socket}",
              f"    ignorePreflightErrors: [{ignored}]",
              "- |", "  kind: JoinConfiguration", "  nodeRegistration:",
              f"    criSocket: {first.cri_socket}",
              f"    ignorePreflightErrors: [{', '.join(RUNTIME_PREFLIGHT_CHECKS)}]"]
    lines += control_plane_patch(release)
    return "\n".join(lines) + "\n" + kubelet_patch([p for p, _ in nodes], release)


def control_plane_patch(release: KubernetesRelease) -> list[str]:
    """The ClusterConfiguration patch: no leader election (UNELECTED_COMPONENTS)."""
    lines = ["- |", "  kind: ClusterConfiguration"]
    for component in UNELECTED_COMPONENTS:
        args = {**(KIND_CONTROLLER_MANAGER_ARGS if component == "controllerManager" else {}),
                "leader-elect": "false"}
        lines += [f"  {component}:", "    extraArgs:"]
        if release.at_least(KUBEADM_V1BETA4_SINCE):
            lines += [f"    - {{name: {k}, value: \"{v}\"}}" for k, v in args.items()]
        else:
            lines += [f"      {k}: \"{v}\"" for k, v in args.items()]
    return lines


def kubelet_patch(profiles: list[RuntimeProfile], release: KubernetesRelease) -> str:
    """The cluster's KubeletConfiguration: what any of its nodes' profiles needs."""
    settings = []
    drivers = {p.cgroup_driver for p in profiles} - {"systemd"}     # kind's template says systemd
    if drivers:
        settings.append(f"cgroupDriver: {drivers.pop()}")
    if release.at_least(FAIL_CGROUP_V1_SINCE):
        settings.append("failCgroupV1: false")
    gates = {gate: on for p in profiles for gate, on, since in p.kubelet_feature_gates
             if release.at_least(since)}
    if gates:
        settings.append("featureGates: {" + ", ".join(f"{g}: {str(on).lower()}"
                                                      for g, on in sorted(gates.items())) + "}")
    if not settings:
        return ""
    return "- |\n  kind: KubeletConfiguration\n" + "".join(f"  {s}\n" for s in settings)
