"""--node-checks: what only the node shows, read through a testinfra host
(a short-lived debug pod on existing clusters)."""
from __future__ import annotations

import json
import re

from plugins.expectations import DOCKER_CONTAINER_LOGS, DOCKER_SOCKETS

from .findings import BREAKS, REVIEW, Finding

DAEMON_JSON = "/etc/docker/daemon.json"
# daemon.json key -> (severity, where it goes on a CRI node)
DAEMON_SETTINGS = {        # key -> (severity, the fix)
    "registry-mirrors": (BREAKS, "move it to containerd's registry hosts.toml under /etc/containerd/certs.d "
                                 "(config_path) or CRI-O's mirrors in /etc/containers/registries.conf"),
    "insecure-registries": (BREAKS, "move it to a containerd hosts.toml with skip_verify = true, or "
                                    "`insecure = true` in CRI-O's registries.conf"),
    "default-runtime": (BREAKS, "move it to containerd's default_runtime_name in the CRI plugin (or a "
                                "RuntimeClass on the pods), or CRI-O's default_runtime"),
    "runtimes": (BREAKS, "move each one to a runtime handler in the containerd/CRI-O config, with a "
                         "RuntimeClass pointing at it"),
    "log-opts": (REVIEW, "move it to the kubelet's containerLogMaxSize / containerLogMaxFiles"),
    "log-driver": (REVIEW, "nothing to move: the kubelet writes CRI logs under /var/log/pods; ship "
                           "them from there"),
    "data-root": (REVIEW, "size the disk for containerd's root (/var/lib/containerd) or CRI-O's "
                          "storage root instead"),
    "bip": (REVIEW, "nothing to move: CRI nodes have no docker0 bridge; pods use the CNI network"),
}
CONFIG_FILES = {
    "containerd": ("/etc/containerd/config.toml", "/etc/containerd/conf.d/*.toml"),
    "cri-o": ("/etc/crio/crio.conf", "/etc/crio/crio.conf.d/*"),
}
# Table headers that declare a handler: containerd's ...runtimes.NAME] (or
# ...runtimes.NAME.options]), CRI-O's [crio.runtime.runtimes.NAME]; NAME may be quoted.
_NAME = r"(?:\"([^\"]+)\"|([\w-]+))"
HANDLER_PATTERNS = {
    "containerd": re.compile(r"runtimes\." + _NAME + r"(?:\.options)?\]"),
    "cri-o": re.compile(r"\[crio\.runtime\.runtimes\." + _NAME + r"\]"),
}
SOCKETS = (("cri-o", "/var/run/crio/crio.sock"), ("docker", "/var/run/dockershim.sock"),
           ("docker", "/var/run/docker.sock"), ("containerd", "/run/containerd/containerd.sock"))
DEFAULT_HANDLERS = {"containerd": {"runc"}, "cri-o": {"runc", "crun"}, "docker": {"runc"}}


def daemon_json(host, node: str) -> list[Finding]:
    file = host.file(DAEMON_JSON)
    if not file.exists:
        return []
    try:
        settings = json.loads(file.content_string or "{}")
    except ValueError as err:
        return [Finding("docker-daemon-config", f"Node/{node}:{DAEMON_JSON}", "an unreadable "
                        "daemon.json", f"it is not JSON ({err})", "fix or remove it", REVIEW)]
    findings = []
    for key, value in settings.items():
        if key not in DAEMON_SETTINGS:
            continue
        severity, fix = DAEMON_SETTINGS[key]
        if key == "runtimes" and "nvidia" not in value:
            severity = REVIEW
        findings.append(Finding(
            "docker-daemon-config", f"Node/{node}:{DAEMON_JSON}", f"{key} = {json.dumps(value)}",
            "Docker's daemon.json is not read by CRI runtimes, so the setting is lost at the switch",
            fix, severity))
    return findings


def runtime_of(host) -> str:
    """The runtime the kubelet most likely uses: by socket (Docker nodes also run
    containerd underneath), then by config file."""
    for runtime, socket in SOCKETS:
        if host.file(socket).is_socket:
            return runtime
    for runtime, (main, _) in CONFIG_FILES.items():
        if host.file(main).exists or host.file(main + ".d").exists:
            return runtime
    return "docker"


def runtime_handlers(host) -> set[str]:
    runtime = runtime_of(host)
    if runtime == "docker":
        return set(DEFAULT_HANDLERS["docker"])
    main, extra = CONFIG_FILES[runtime]
    text = host.run("cat %s %s 2>/dev/null; true" % (main, extra)).stdout
    declared = {quoted or bare for quoted, bare in HANDLER_PATTERNS[runtime].findall(text)}
    return set(DEFAULT_HANDLERS[runtime]) | declared


def facts(host) -> dict:
    logs = host.run("ls %s 2>/dev/null | wc -l", DOCKER_CONTAINER_LOGS).stdout.strip()
    return {"docker_sockets": [s for s in DOCKER_SOCKETS if host.file(s).exists],
            "docker_container_log_dirs": int(logs or 0),
            "daemon_json": host.file(DAEMON_JSON).exists,
            "runtime_config": runtime_of(host)}


def facts_findings(node: str, found: dict) -> list[Finding]:
    """What the node's state says about the switch; to review, not blocking."""
    findings = []
    if found["docker_sockets"]:
        findings.append(Finding(
            "docker-on-node", f"Node/{node}", f"Docker serving {', '.join(found['docker_sockets'])}",
            "Docker is still installed, so workloads that use it keep working until the node is "
            "replaced and then stop", "find its users with the checks above before replacing the "
            "node; do not install Docker on the new nodes", REVIEW))
    if found["docker_container_log_dirs"]:
        findings.append(Finding(
            "docker-logs-on-node", f"Node/{node}:{DOCKER_CONTAINER_LOGS}",
            f"{found['docker_container_log_dirs']} container log directories",
            "log readers of this directory see nothing on a CRI node",
            "read /var/log/pods (CRI format) instead", REVIEW))
    return findings
