"""--node-checks: what only the node shows, read through a testinfra host
(a short-lived debug pod on existing clusters)."""
from __future__ import annotations

import json
import re

from crigate.facts import DOCKER_CONTAINER_LOGS, DOCKER_SOCKETS
from crigate.testbed import runtimes

from .family import family
from .findings import BREAKS, Finding

DAEMON_JSON = "/etc/docker/daemon.json"
DAEMON_CONFIG = "docker-daemon-config"     # the family; one case per daemon.json key it reports
UNREADABLE = "unreadable"                  # its case for a daemon.json that is not JSON


def daemon_json(host, node: str) -> list[Finding]:
    file = host.file(DAEMON_JSON)
    if not file.exists:
        return []
    where = f"Node/{node}:{DAEMON_JSON}"
    try:
        settings = json.loads(file.content_string or "{}")
    except ValueError as err:
        return [family(DAEMON_CONFIG).finding(where, f"an unreadable daemon.json (not JSON: {err})",
                                              case=UNREADABLE)]
    keys = [k for k in family(DAEMON_CONFIG).cases if k != UNREADABLE]
    findings = []
    for key, value in settings.items():
        if key not in keys:
            continue
        # Extra runtimes are for review, except nvidia's: GPU pods started with it.
        severity = BREAKS if key == "runtimes" and "nvidia" in value else ""
        findings.append(family(DAEMON_CONFIG).finding(
            where, f"{key} = {json.dumps(value)}", case=key, severity=severity))
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
        text = host.run(f"cat {' '.join(profile.config_files)} 2>/dev/null; true").stdout
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
        findings.append(family("docker-on-node").finding(
            f"Node/{node}", f"Docker serving {', '.join(found['docker_sockets'])}"))
    if found["docker_container_log_dirs"]:
        findings.append(family("docker-logs-on-node").finding(
            f"Node/{node}:{DOCKER_CONTAINER_LOGS}",
            f"{found['docker_container_log_dirs']} container log directories"))
    return findings
