"""The gate's rules: each reads the inventory and returns findings.

Every rule names what the object depends on and the evidence; why that breaks
once the nodes run a CRI runtime, and the fix, are its family's words
(families/*.toml), filled in for the target runtime.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from crigate.facts import DOCKER_ENDPOINT, GPU_RESOURCE
from crigate.testbed.runtimes import DOCKER
from crigate.testbed.versions import profile

from . import logconfig
from .endpoints import LOCAL_HOSTS
from .family import family
from .findings import Finding, PodTemplate, unnumbered
from .inventory import Inventory
from .podtext import exec_commands
from .shell import command_calls, docker_calls, env_scripts, looks_like_script

DOCKER_ENV = ("DOCKER_HOST", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY")
GPU_ENV = ("NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES")
KUBEADM_CRI_ANNOTATION = "kubeadm.alpha.kubernetes.io/cri-socket"


def is_under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def cri_tools(runtime: str) -> str:
    target = profile(runtime)
    return f"the CRI socket {target.cri_socket} with {target.cli_tools}"


def where(template: PodTemplate, container: dict | None = None) -> str:
    return template.ref + (f"/{container['name']}" if container else "")


def runs_own_docker(template: PodTemplate) -> bool:
    """Docker-in-Docker: the pod brings its own daemon, so nothing depends on the node."""
    for c in template.containers():
        argv = " ".join([*c.get("command", []), *c.get("args", [])])
        if "dind" in c.get("image", "") or re.search(r"(^|/|\s)dockerd(\s|$)", argv):
            return True
    return False


def containers(inventory: Inventory, *, skip_dind: bool = False):
    """(template, container) for each container of each pod template; skip_dind
    leaves out pods that run their own Docker daemon."""
    for t in inventory.templates:
        if not (skip_dind and runs_own_docker(t)):
            yield from ((t, c) for c in t.containers())


def _env_names(template: PodTemplate, container: dict, inventory: Inventory) -> dict[str, str]:
    names = {e["name"]: "env" for e in container.get("env", []) if e.get("name") in DOCKER_ENV}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef", {}).get("name")
        data = inventory.config_map(template.namespace, ref) if ref else {}
        names.update({f"{source.get('prefix', '')}{k}": f"ConfigMap {ref}"
                      for k in data if f"{source.get('prefix', '')}{k}" in DOCKER_ENV})
    return names




def remote_docker_host(value: str, node_addresses: frozenset[str] = frozenset()) -> str:
    """The host a DOCKER_HOST names when it is neither local, nor a node's
    address, nor resolved per node (`$(NODE_IP)`), else "": a daemon elsewhere
    (a Docker-in-Docker Service, a build host) does not go away with the
    node's Docker."""
    value = value.strip()
    if "$(" in value or "${" in value:
        return ""
    parsed = urlsplit(value)
    if parsed.scheme not in ("tcp", "http", "https", "ssh"):
        return ""
    host = parsed.hostname or ""
    return "" if host in LOCAL_HOSTS or host in node_addresses else host


def node_addresses(inventory: Inventory) -> frozenset[str]:
    """Every address and host name the nodes report (read once per node list:
    rules ask for each container)."""
    return inventory.node_addresses()


def remote_daemon_of(template: PodTemplate, container: dict, inventory: Inventory) -> str:
    """The remote host of the container's DOCKER_HOST (an env value or an
    envFrom ConfigMap's), or ""."""
    values = [str(e.get("value", "")) for e in container.get("env", []) if e.get("name") == "DOCKER_HOST"]
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef", {}).get("name")
        data = inventory.config_map(template.namespace, ref) if ref else {}
        values += [str(v) for k, v in data.items() if f"{source.get('prefix', '')}{k}" == "DOCKER_HOST"]
    if not values:
        return ""
    nodes = node_addresses(inventory)      # only where there is a DOCKER_HOST: it reads every node
    return next((remote_docker_host(v, nodes) for v in values if remote_docker_host(v, nodes)), "")


def docker_env(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for t, c in containers(inventory, skip_dind=True):
        names = _env_names(t, c, inventory)
        remote = remote_daemon_of(t, c, inventory)
        if remote:
            findings.append(family("docker-remote-daemon").finding(
                where(t, c), f"DOCKER_HOST on {remote}, a Docker daemon that is not the node's"))
        elif names:
            listed = ", ".join(f"{k} (from {v})" for k, v in sorted(names.items()))
            findings.append(family("docker-env").finding(where(t, c), listed,
                                                         cri_tools=cri_tools(runtime)))
    return findings


def docker_cli(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for t, c in containers(inventory, skip_dind=True):
        if remote_daemon_of(t, c, inventory):
            continue          # its daemon is elsewhere: docker_env says so, for review
        calls = command_calls(c.get("command", []), c.get("args", []))
        sources = ["command/args"] if calls else []
        for origin, command in exec_commands(c):           # hooks and exec probes run commands too
            found = command_calls([str(w) for w in command], [])
            if found:
                calls.extend(found)
                sources.append(origin)
        for name in t.configmap_names(c):
            for key, value in inventory.config_map(t.namespace, name).items():
                if looks_like_script(key, value):
                    found = docker_calls(value)
                    if found:
                        calls.extend(found)
                        sources.append(f"ConfigMap {name} key {key}")
        for origin, script in env_scripts(t.spec, c):
            if found := docker_calls(script):
                calls.extend(found)
                sources.append(origin)
        if calls:
            findings.append(family("docker-cli").finding(
                where(t, c), f"the docker CLI ({'; '.join(calls[:3])}) in {', '.join(sources)}",
                cri_tools=cri_tools(runtime)))
    return findings


def config_map_users(inventory: Inventory, namespace: str, name: str) -> list[str]:
    """The templates that mount or read the ConfigMap; for one of several
    definitions read from manifests (NAME@N, manifests.definitions) that none
    names, those that name NAME."""
    for wanted in dict.fromkeys((name, unnumbered(name))):
        users = [t.ref for t in inventory.templates if t.namespace == namespace
                 and any(wanted in t.configmap_names(c) for c in t.containers())]
        if users:
            return users
    return []


def log_shippers(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for (namespace, name), data in sorted(inventory.config_maps.items()):
        users = None        # the templates that use it, looked for only when it has a problem
        for key, value in sorted(data.items()):
            for problem in logconfig.problems(value):
                if users is None:
                    users = config_map_users(inventory, namespace, name)
                used = f" (used by {', '.join(users)})" if users else ""
                findings.append(family(problem.check).finding(
                    f"ConfigMap/{namespace}/{name}[{key}]{used}", problem.depends_on,
                    severity=problem.severity))
    return findings


def handlers_on_nodes(inventory: Inventory, from_node_checks: dict[str, set[str]]) -> dict[str, set[str]]:
    """Runtime handlers each node is known to provide: node status (1.30+), node checks."""
    known = {n: set(h) for n, h in from_node_checks.items()}
    for node in inventory.nodes:
        reported = node.get("status", {}).get("runtimeHandlers") or []
        if reported:
            known.setdefault(node["metadata"]["name"], set()).update(
                h.get("name") or "runc" for h in reported)     # "" is the default handler
    return known


def gpu_runtime(inventory: Inventory, runtime: str,
                node_handlers: dict[str, set[str]] | None = None) -> list[Finding]:
    findings = []
    known = handlers_on_nodes(inventory, node_handlers or {})
    for rc in inventory.runtime_classes:
        name, handler = rc["metadata"]["name"], rc.get("handler", "")
        failed = [e for e in inventory.events if f'"{handler}"' in e.get("message", "")
                  or f"handler {handler}" in e.get("message", "")]
        provided = [n for n, h in known.items() if handler in h]
        if failed or (known and not provided):
            evidence = (f"sandbox creation failed: {failed[0].get('message', '')[:200]}" if failed
                        else f"nodes report handlers {sorted(set().union(*known.values()))}")
            findings.append(family("runtime-class-handler").finding(
                f"RuntimeClass/{name}", f"handler {handler!r}", evidence=evidence,
                handler=repr(handler), runtime=runtime,
                nvidia_ctk_runtime=profile(runtime).nvidia_ctk_runtime))
        elif not known and inventory.nodes:      # nodes read, none says: unknown (offline: no nodes, no claim)
            findings.append(family("runtime-class-handler").finding(
                f"RuntimeClass/{name}", f"handler {handler!r}", case="unknown"))
    docker_nodes = [n for n, v in inventory.node_runtimes().items() if v.startswith(DOCKER.scheme)]
    for t in inventory.templates:
        if t.spec.get("runtimeClassName"):
            continue
        for c in t.containers():
            limits = {**c.get("resources", {}).get("limits", {}),
                      **c.get("resources", {}).get("requests", {})}
            env = {e.get("name") for e in c.get("env", [])}
            relied_on_docker = (GPU_RESOURCE in limits and docker_nodes) or (
                env & set(GPU_ENV) and GPU_RESOURCE not in limits)
            if relied_on_docker:
                findings.append(family("gpu-default-runtime").finding(
                    where(t, c), f"{GPU_RESOURCE} or NVIDIA_VISIBLE_DEVICES without a runtimeClassName",
                    runtime=runtime))
    return findings


def node_runtime(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    docker_nodes = []
    versions = inventory.node_runtimes()
    for node in inventory.nodes:
        name = node["metadata"]["name"]
        annotation = (node["metadata"].get("annotations") or {}).get(KUBEADM_CRI_ANNOTATION, "")
        if re.search(DOCKER_ENDPOINT, annotation):
            findings.append(family("kubeadm-cri-socket").finding(
                f"Node/{name}", f"annotation {KUBEADM_CRI_ANNOTATION}={annotation}",
                cri_socket=profile(runtime).cri_socket, node=name, annotation=KUBEADM_CRI_ANNOTATION))
        endpoint = inventory.kubelet_configs.get(name, {}).get("containerRuntimeEndpoint", "")
        if re.search(DOCKER_ENDPOINT, endpoint):
            findings.append(family("kubelet-runtime-endpoint").finding(
                f"Node/{name}", f"kubelet containerRuntimeEndpoint {endpoint}",
                runtime=runtime, cri_socket=profile(runtime).cri_socket))
        version = versions[name]
        if version.startswith(DOCKER.scheme):
            docker_nodes.append(f"{name} ({version})")
    if docker_nodes:
        findings.append(family("docker-nodes").finding(
            f"{len(docker_nodes)} of {len(inventory.nodes)} nodes",
            ", ".join(docker_nodes[:5]) + (" ..." if len(docker_nodes) > 5 else ""), runtime=runtime))
    return findings

