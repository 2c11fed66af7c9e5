"""Objects that set up the nodes to come: a node provisioner's templates
(Karpenter's node classes and provisioners, Cluster API's kubeadm config
templates, eksctl's ClusterConfig, a cloud's machine templates). The nodes
they make are set up by what they say, so what they say about Docker breaks
the nodes of the next scale-up or upgrade, which no pod of today shows.

Read by shape, for any kind that describes no pods:
- node scripts: string values under a key naming user data, commands, a
  script, bootstrap or file content (userData, preKubeadmCommands,
  preBootstrapCommands, files[].content, startupScript), and lists of strings
  under such keys, one script;
- runtime settings: a key naming the container runtime set to docker, dockerd
  or dockershim (`containerRuntime: dockerd`, kubeletExtraArgs
  `container-runtime: docker`), or a CRI endpoint key naming Docker's sockets
  (`criSocket: /var/run/dockershim.sock`, cri-dockerd's);
- files written to the node: a mapping with a `path` under /etc/docker.
Sources: Cluster API KubeadmConfigSpec (files, preKubeadmCommands,
nodeRegistration.criSocket, kubeletExtraArgs)
https://cluster-api.sigs.k8s.io/tasks/bootstrap/kubeadm-bootstrap/;
Karpenter v1alpha5 kubeletConfiguration.containerRuntime (dockerd|containerd)
https://karpenter.sh/v0.31/concepts/provisioners/; eksctl nodeGroups
containerRuntime and preBootstrapCommands https://eksctl.io/usage/schema/.
"""
from __future__ import annotations

import re

from crigate.facts import CRI_DOCKERD_SOCKET, DOCKER_SOCKET_PATHS, normalize

from .configured import DOCKER_CERTS_DIR, DOCKER_CONFIG_DIR, command_words, restarts_docker, writes_docker_file
from .embedded import MAX_DEPTH
from .family import family
from .findings import REVIEW, Finding
from .rules import is_under

SCRIPT_KEY = re.compile(r"(?i)user[-_]?data|commands?$|script|bootstrap|^content$")
RUNTIME_KEY = re.compile(r"(?i)^(?:container[-_]?runtime|runtime)$")
ENDPOINT_KEY = re.compile(r"(?i)^(?:cri[-_]?socket|container[-_]?runtime[-_]?endpoint)$")
DOCKER_RUNTIMES = ("docker", "dockerd", "dockershim")
# words of a Kubernetes node's setup: the kubelet, kubeadm's join, a bootstrap script
NODE_SETUP = re.compile(r"(?i)kubelet|kubeadm|node[-_]?registration|bootstrap|join[-_]?configuration|"
                        r"container[-_]?runtime|cri[-_]?socket")


def sets_up_nodes(field_name: str) -> bool:
    """A field name that says it holds what nodes are set up with."""
    return bool(SCRIPT_KEY.search(field_name) or RUNTIME_KEY.match(field_name) or ENDPOINT_KEY.match(field_name))


def leaves(node, path: str = "", depth: int = 0):
    """(field path, key, value) of every scalar in the object, lists of strings
    under a script key as one script."""
    if depth > MAX_DEPTH:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value) \
                    and SCRIPT_KEY.search(str(key)):
                yield where, str(key), "\n".join(value)
            elif isinstance(value, (dict, list)):
                yield from leaves(value, where, depth + 1)
            elif isinstance(value, str):
                yield where, str(key), value
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from leaves(item, f"{path}[{i}]", depth + 1)


def written_files(node, path: str = "", depth: int = 0):
    """(field path, file path) of each mapping that writes a file under /etc/docker."""
    if depth > MAX_DEPTH:
        return
    if isinstance(node, dict):
        target = node.get("path")
        if isinstance(target, str) and is_under(normalize(target), DOCKER_CONFIG_DIR) and (
                "content" in node or "contentFrom" in node):
            yield path or "(top)", target
        for key, value in node.items():
            yield from written_files(value, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from written_files(item, f"{path}[{i}]", depth + 1)


def is_docker_endpoint(value: str) -> bool:
    path = normalize(value.strip().removeprefix("unix://"))
    return path in DOCKER_SOCKET_PATHS or path == CRI_DOCKERD_SOCKET


def sets_up_kubernetes_nodes(body: dict) -> bool:
    """Whether anything in the object speaks of a Kubernetes node's setup."""
    return any(NODE_SETUP.search(where) or NODE_SETUP.search(value) for where, _, value in leaves(body))


def findings_of(ref: str, obj: dict, runtime: str) -> list[Finding]:
    """What the object tells the nodes it sets up about Docker. Scripts in an
    object that says nothing of a Kubernetes node's setup (a virtual machine's
    cloud-init, a cloud instance) are for review: they may run elsewhere."""
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    severity = "" if sets_up_kubernetes_nodes(body) else REVIEW
    found = []
    for where, key, value in leaves(body):
        if RUNTIME_KEY.match(key) and value.strip().lower() in DOCKER_RUNTIMES:
            found.append(family("node-template-runtime").finding(ref, f"{where}: {value}", runtime=runtime))
        elif ENDPOINT_KEY.match(key) and is_docker_endpoint(value):
            found.append(family("node-template-runtime").finding(ref, f"{where}: {value}", runtime=runtime))
        elif SCRIPT_KEY.search(key):
            if any(restarts_docker(words) for words in command_words(value)):
                found.append(family("docker-service-restart").finding(
                    ref, f"a restart of the Docker service in {where}, a script the nodes run", runtime=runtime,
                    severity=severity))
            if writes_docker_file(value, "/etc/docker/daemon.json"):
                found.append(family("docker-daemon-config").finding(
                    ref, f"a write to /etc/docker/daemon.json in {where}, a script the nodes run",
                    severity=severity))
            elif writes_docker_file(value, DOCKER_CERTS_DIR):
                found.append(family("docker-registry-certs").finding(
                    ref, f"a write under {DOCKER_CERTS_DIR} in {where}, a script the nodes run"))
    for where, target in written_files(body):
        check = "docker-registry-certs" if is_under(normalize(target), DOCKER_CERTS_DIR) else "docker-daemon-config"
        found.append(family(check).finding(ref, f"{where} writes {target} on the nodes it sets up"))
    return list(dict.fromkeys(found))


def find(inventory, runtime: str) -> list[Finding]:
    return [f for ref, obj in inventory.node_templates for f in findings_of(ref, obj, runtime)]
