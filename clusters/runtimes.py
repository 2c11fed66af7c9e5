"""What a runtime is: one RuntimeProfile per node runtime, and nothing about
runtimes anywhere else.

A profile holds everything that differs between runtimes: what the node
reports (scheme, CRI socket, crictl's RuntimeName), how the test bed builds
its node (Debian packages or binaries built from Go modules, systemd units,
node-tree layers, how images are preloaded, cgroup driver), what it can do
(capabilities the suites ask for) and the words the gate uses in its fixes.

A runtime name (what users pass to --runtime) may have several profiles, one
per build of it: containerd 1.6 from Debian and containerd 2.x from its module.
Which one a Kubernetes minor gets is pinned in versions.toml ([profiles] and
each minor's `profiles`); facts that users and the suites see are the same for
all profiles of one runtime.

Adding a runtime: a profile here, a node tree under clusters/node/<layer>, and
its pins in versions.toml (README, "Adding a runtime").
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Built:
    """Binaries built from a Go module (clusters/gobuild.py BUILDERS[component])
    that land in the node at dest."""
    component: str
    binaries: tuple[str, ...]
    dest: str = "usr/local/bin"


@dataclass(frozen=True)
class RuntimeProfile:
    id: str                     # the profile: "containerd-2"
    runtime: str                # the runtime users pass to --runtime: "containerd"
    # --- what the node reports and serves
    scheme: str                 # node.status.nodeInfo.containerRuntimeVersion prefix
    cri_socket: str             # the CRI endpoint the kubelet must use
    crictl_name: str            # RuntimeName that `crictl version` reports
    node_sockets: tuple[str, ...]   # sockets whose presence on a node means this runtime
    config_files: tuple[str, ...] = ()     # where runtime handlers are declared (globs)
    handler_table: str = ""     # regex of a table header declaring handler NAME (group: name)
    default_handlers: frozenset[str] = frozenset({"runc"})   # handlers it has unconfigured
    # --- the test bed's node
    packages: tuple[str, ...] = ()         # Debian packages the node keeps
    built: tuple[Built, ...] = ()          # binaries built from Go modules
    units: tuple[str, ...] = ()            # systemd units enabled on the node
    node_tree: tuple[str, ...] = ()        # layers under clusters/node/, after common/
    preload: str = ""           # "ctr-import" | "containers-storage" | "docker-load"
    cgroup_driver: str = "systemd"         # the kubelet's (and runtime's) cgroup driver
    kubelet_feature_gates: tuple[tuple[str, bool, str], ...] = ()   # (gate, on, from minor)
    handlers: tuple[str, ...] = ("runc",)  # handlers the test bed's node configures
    low_level_runtime: str = "runc"        # what the default handler runs
    # --- capabilities (suites branch on these, never on names)
    containerd_namespaces: bool = False    # pods in containerd's k8s.io namespace (ctr answers)
    runtime_class_handlers: bool = True    # RuntimeClass handlers route pods
    baseline: bool = False      # the old setup crigate compares against, not a migration target
    # the kubelet's /var/log/pods files are links to Docker json-file logs under
    # /var/lib/docker/containers (dockershim, cri-dockerd), not CRI-format files
    # the runtime writes: Docker-era log shippers' configurations read them
    pod_logs_docker_json: bool = False
    # --- the gate's words
    gate_target: str = ""       # the runtime a node of this one migrates to ("" = itself)
    cli_tools: str = "crictl"   # what replaces `docker` on such a node
    nvidia_ctk_runtime: str = ""    # `nvidia-ctk runtime configure --runtime=` value
    journal_units: tuple[str, ...] = field(default=())   # units whose journal explains a failure
    # what the runtime costs its node: process names (comm, 15 chars at most)
    # of its daemons and per-container shims, summed for CPU and memory
    cost_processes: tuple[str, ...] = ()
    # CRI container events (GetContainerEvents, the kubelet's EventedPLEG):
    # whether the runtime sends them, and the (path, text) of the drop-in that
    # turns them on where they are a setting (its units are then restarted)
    container_events: bool = False
    container_events_dropin: tuple[str, str] = ()

    def built_binary(self, name: str) -> Built | None:
        return next((b for b in self.built if name in b.binaries), None)

    @property
    def migration_target(self) -> str:
        return self.gate_target or self.runtime


# containerd: the CRI plugin serves on containerd's main socket and keeps pods
# in its k8s.io namespace (containerd docs/cri/config.md).
CONTAINERD_1_6 = RuntimeProfile(
    id="containerd-1.6", runtime="containerd",
    scheme="containerd://", cri_socket="unix:///run/containerd/containerd.sock",
    crictl_name="containerd", node_sockets=("/run/containerd/containerd.sock",),
    config_files=("/etc/containerd/config.toml", "/etc/containerd/conf.d/*.toml"),
    # ...runtimes.NAME] or ...runtimes.NAME.options], NAME bare or quoted
    handler_table=r"runtimes\.(?:\"([^\"]+)\"|'([^']+)'|([\w-]+))(?:\.options)?\]",
    packages=("containerd", "crun"), units=("containerd.service",), node_tree=("containerd",),
    preload="ctr-import", handlers=("runc", "crun", "nvidia"), containerd_namespaces=True,
    cli_tools="crictl, or `ctr -n k8s.io` / nerdctl", nvidia_ctk_runtime="containerd",
    journal_units=("kubelet", "containerd"),
    cost_processes=("containerd", "containerd-shim"))    # containerd-shim-runc-v2, truncated

# containerd 2.x built from github.com/containerd/containerd/v2: config version
# 3 (the node tree's containerd-2 layer), its own unit, ctr from the same build.
CONTAINERD_2 = replace(
    CONTAINERD_1_6, id="containerd-2", packages=("crun",),
    container_events=True,            # containerd 1.7+: the CRI plugin streams container events
    built=(Built("containerd", ("containerd", "containerd-shim-runc-v2", "ctr")),),
    node_tree=("containerd", "containerd-2"))

# CRI-O's default listen path (crio.conf [crio.api] listen); pods' namespaces
# are pinned by pinns; crun and runc both configured (CRI-O defaults to crun).
CRI_O = RuntimeProfile(
    id="cri-o", runtime="cri-o",
    scheme="cri-o://", cri_socket="unix:///var/run/crio/crio.sock", crictl_name="cri-o",
    node_sockets=("/var/run/crio/crio.sock",),
    config_files=("/etc/crio/crio.conf", "/etc/crio/crio.conf.d/*"),
    handler_table=r"\[crio\.runtime\.runtimes\.(?:\"([^\"]+)\"|'([^']+)'|([\w-]+))\]",
    default_handlers=frozenset({"runc", "crun"}),
    packages=("conmon", "crun", "skopeo"),      # skopeo loads images into containers-storage
    built=(Built("cri-o", ("crio", "pinns")),), units=("crio.service",), node_tree=("cri-o",),
    preload="containers-storage", handlers=("runc", "crun", "nvidia"),
    nvidia_ctk_runtime="crio", journal_units=("kubelet", "crio"),
    cost_processes=("crio", "conmon"),
    # CRI-O sends events when enable_pod_events is set (crio.conf [crio.runtime])
    container_events=True,
    container_events_dropin=("/etc/crio/crio.conf.d/90-crigate-pod-events.conf",
                             "[crio.runtime]\nenable_pod_events = true\n"))

# Docker's sockets: the Engine API (docker.sock) and dockershim's CRI endpoint,
# which the kubelet served itself until 1.24 (KEP-2221, "Removing dockershim
# from kubelet", kubernetes/enhancements keps/sig-node/2221-remove-dockershim).
# Everything else that names them imports these (crigate.facts).
DOCKER_SOCKET = "/var/run/docker.sock"
DOCKERSHIM_SOCKET = "/var/run/dockershim.sock"

# The baseline: Docker Engine 20.10 (Debian, on containerd 1.6) behind
# cri-dockerd (Mirantis), which reports RuntimeName "docker" and versions as
# docker://<engine version>. cgroupfs, as Docker's default and dockershim-era
# nodes: with systemd on cgroup v1, systemd prunes the devices cgroup of
# Docker's scopes whenever a sibling pod slice goes away (exec then fails).
DOCKER = RuntimeProfile(
    id="docker", runtime="docker",
    scheme="docker://", cri_socket="unix:///run/cri-dockerd.sock", crictl_name="docker",
    node_sockets=(DOCKERSHIM_SOCKET, DOCKER_SOCKET),
    packages=("docker.io", "containerd"),
    built=(Built("cri-dockerd", ("cri-dockerd",)),),
    units=("containerd.service", "docker.service", "cri-docker.service"), node_tree=("docker",),
    preload="docker-load", cgroup_driver="cgroupfs", containerd_namespaces=True,
    # cri-dockerd (0.3.x and 0.4.x, cmd/server.go) hands out streaming URLs
    # without a scheme ("//[::]:PORT/cri/exec/..."). From 1.36 the kubelet
    # translates WebSocket exec/attach to SPDY itself (ExtendWebSocketsToKubelet,
    # beta, on), and client-go's SPDY dialer takes a scheme other than "http"
    # for TLS: exec fails with "server gave HTTP response to HTTPS client".
    # With the gate off, the API server translates and the kubelet proxies the
    # URL as http, as before.
    kubelet_feature_gates=(("ExtendWebSocketsToKubelet", False, "1.30"),),
    runtime_class_handlers=False,      # cri-dockerd: "RuntimeHandler nvidia not supported"
    baseline=True, gate_target="containerd", pod_logs_docker_json=True,
    journal_units=("kubelet", "docker", "cri-docker"),
    # dockershim's place: the engine, its containerd and shims, and cri-dockerd
    cost_processes=("dockerd", "containerd", "containerd-shim", "cri-dockerd", "docker-proxy"))

PROFILES = {p.id: p for p in (CONTAINERD_1_6, CONTAINERD_2, CRI_O, DOCKER)}

RUNTIMES = tuple(dict.fromkeys(p.runtime for p in PROFILES.values() if not p.baseline))
BASELINE_RUNTIMES = tuple(dict.fromkeys(p.runtime for p in PROFILES.values() if p.baseline))
NODE_RUNTIMES = RUNTIMES + BASELINE_RUNTIMES


def profiles_of(runtime: str) -> list[RuntimeProfile]:
    return [p for p in PROFILES.values() if p.runtime == runtime]


def all_packages() -> set[str]:
    return {pkg for p in PROFILES.values() for pkg in p.packages}


def packages_to_purge(profile: RuntimeProfile) -> tuple[str, ...]:
    """Other profiles' Debian packages, except those this one needs too."""
    return tuple(sorted(all_packages() - set(profile.packages)))


def detection_order() -> list[RuntimeProfile]:
    """One profile per runtime, the baseline first: Docker nodes run containerd
    underneath, so Docker's sockets are looked for before containerd's."""
    firsts = {p.runtime: p for p in reversed(PROFILES.values())}
    return sorted(firsts.values(), key=lambda p: not p.baseline)
