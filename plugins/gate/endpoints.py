"""Docker endpoints in every spelling a Docker client accepts, and where a
path inside a container lands on the node.

Docker clients take DOCKER_HOST (or a product's own setting) as
unix://<path>, a bare socket path, npipe:////./pipe/docker_engine on Windows,
or tcp://<host>:<port> (docs.docker.com, "dockerd" reference: "Daemon socket
option"; Docker's registered ports are 2375 plain and 2376 TLS, IANA service
names docker and docker-s). A path counts under any prefix (/host, /rootfs):
what it reaches is decided by the container's mounts, not by the spelling.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from crigate.facts import CRI_DOCKERD_SOCKET, DOCKER_SOCKET_PATHS, normalize

from .findings import PodTemplate

# a socket file named like Docker's API, dockershim's or cri-dockerd's, after any prefix
SOCKET = re.compile(r"(?:unix://)?(?P<path>(?:/[\w.@+-]+)*/(?P<name>docker|dockershim|cri-dockerd)\.sock)\b")
# Windows: \\.\pipe\docker_engine, //./pipe/docker_engine, npipe:////./pipe/docker_engine
PIPE = re.compile(r"(?i)(?:npipe:)?(?:\\\\|//)\.[\\/]+pipe[\\/]+(?P<name>docker_engine|dockershim)\b")
DOCKER_PORTS = ("2375", "2376")
TCP = re.compile(r"\btcp://(?P<host>\[[^\]]+\]|\$\([\w]+\)|\$\{[\w]+\}|[\w.-]+):(?P<port>\d+)")
# loopback and "any" in every spelling a URL or a Go client takes ("" = no host given)
LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]", "")
# Docker's default bridge gateway: the node itself, seen from a container on docker0
# (docs.docker.com, "Bridge network driver": default subnet 172.17.0.0/16).
DOCKER_BRIDGE_GATEWAY = "172.17.0.1"
DOCKER_PIPES = ("docker_engine", "dockershim")


@dataclass(frozen=True)
class Reference:
    spelled: str      # as written
    path: str = ""    # the socket path as the container sees it ("" for tcp and pipes)
    host: str = ""    # tcp: the host named
    line: int = 1


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def references(text: str) -> list[Reference]:
    """The Docker endpoints named in text."""
    found = [Reference(m.group(0), path=m.group("path"), line=line_of(text, m.start()))
             for m in SOCKET.finditer(text)]
    found += [Reference(m.group(0), line=line_of(text, m.start())) for m in PIPE.finditer(text)]
    found += [Reference(m.group(0), host=m.group("host"), line=line_of(text, m.start()))
              for m in TCP.finditer(text) if m.group("port") in DOCKER_PORTS]
    return found


def is_pipe(path: str) -> bool:
    return bool(PIPE.fullmatch(path.strip()))


def is_docker_socket_path(host_path: str) -> bool:
    """A host path that is Docker's (or dockershim's, or cri-dockerd's) socket, or its Windows pipe."""
    path = normalize(host_path)
    return path in DOCKER_SOCKET_PATHS or path == CRI_DOCKERD_SOCKET or is_pipe(host_path)


def node_hosts(template: PodTemplate, container: dict, node_addresses: frozenset[str]) -> set[str]:
    """Hosts that are the node itself for this container: loopback (on the host
    network), Docker's bridge gateway, a node address, or an env var the
    downward API fills with status.hostIP."""
    hosts = {DOCKER_BRIDGE_GATEWAY, *node_addresses}
    if template.spec.get("hostNetwork"):
        hosts.update(LOCAL_HOSTS)
    for env in container.get("env", []):
        field = ((env.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath", "")
        if field == "status.hostIP":
            hosts.update({f"$({env.get('name')})", f"${{{env.get('name')}}}"})
    return hosts


@dataclass(frozen=True)
class Landing:
    host_path: str     # where the container path lands on the node
    mount_path: str
    volume: str
    hostpath_type: str


def landing(template: PodTemplate, container: dict, path: str) -> Landing | None:
    """Where a path inside the container lands on the node: through the hostPath
    mount with the longest mountPath that holds it; None when it stays inside
    the container (its image, an emptyDir shared with a sidecar)."""
    best = None
    for mount in container.get("volumeMounts", []):
        mount_path = (mount.get("mountPath") or "").rstrip("/") or "/"
        if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
            if best is None or len(mount_path) > len(best[0]):
                best = (mount_path, mount)
    if best is None:
        return None
    mount_path, mount = best
    volume = template.volume(mount.get("name", ""))
    host = volume.get("hostPath")
    if not isinstance(host, dict):
        return None
    base = (host.get("path") or "").rstrip("/")
    sub = mount.get("subPath") or ""
    rest = path[len(mount_path):].lstrip("/") if mount_path != "/" else path.lstrip("/")
    parts = [p for p in (base, sub, rest) if p]
    return Landing("/" + "/".join(p.strip("/") for p in parts) if base.startswith("/") or not base
                   else "/".join(parts), mount_path, mount.get("name", ""), host.get("type") or "")
