"""--node-checks: what only the node shows, read through a testinfra host
(a short-lived debug pod on existing clusters)."""
from __future__ import annotations

import json
import re

from crigate.testbed import runtimes
from crigate.expectations import DOCKER_CONTAINER_LOGS, DOCKER_SOCKETS

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


def profile_of(host) -> runtimes.RuntimeProfile:
    """The runtime the kubelet most likely uses: by socket (Docker nodes also run
    containerd underneath, so the baseline is looked for first), then by the
    runtime's main config file; Docker when neither says."""
    candidates = runtimes.detection_order()
    for profile in candidates:
        if any(host.file(socket).is_socket for socket in profile.node_sockets):
            return profile
    for profile in candidates:
        main = profile.config_files[0] if profile.config_files else ""
        if main and (host.file(main).exists or host.file(main + ".d").exists):
            return profile
    return runtimes.DOCKER


def runtime_handlers(host) -> set[str]:
    """Handlers the node's runtime provides: its defaults plus each table in its
    config files that declares one."""
    profile = profile_of(host)
    declared = set()
    if profile.config_files:
        text = host.run("cat %s 2>/dev/null; true" % " ".join(profile.config_files)).stdout
        declared = {next(filter(None, groups)) for groups in
                    re.findall(profile.handler_table, text)}
    return set(profile.default_handlers) | declared


def facts(host) -> dict:
    logs = host.run("ls %s 2>/dev/null | wc -l", DOCKER_CONTAINER_LOGS).stdout.strip()
    return {"docker_sockets": [s for s in DOCKER_SOCKETS if host.file(s).exists],
            "docker_container_log_dirs": int(logs or 0),
            "daemon_json": host.file(DAEMON_JSON).exists,
            "runtime_config": profile_of(host).runtime}


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
