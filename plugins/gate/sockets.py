"""Docker sockets within a container's reach, judged from the evidence.

What a mount does on a CRI node decides the severity (measured per runtime by
tests/testbed/test_mount_shapes.py; wording in families/core.toml):
- a hostPath whose type demands something at the path (Socket, File...): the
  kubelet refuses to start the pod (breaks, certain);
- an untyped one: the runtime makes an empty directory and the pod starts, so
  what breaks is the use. A command, env value or mounted config file that
  names the socket through this mount is the use (breaks, certain: the chain is
  named); with a CRI socket in reach too the program may use either (review);
  with no use in sight the mount is there for a reason (breaks, likely) unless
  the image is an agent whose vendor says that version works without Docker.
A config file that names the socket is reported as well: it is the file to change.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from crigate.facts import (
    CRI_SOCKET_NAMES,
    CRI_SOCKET_PATHS,
    DOCKER_DATA,
    DOCKER_SOCKET_PATHS,
    DOCKERSHIM_SOCKET,
    KUBELET_LOG_DIRS,
    normalize,
)

from . import agents
from .endpoints import Landing, Reference, is_docker_socket_path, is_pipe, landing, line_of, node_hosts, references
from .family import family
from .findings import Finding, PodTemplate
from .inventory import Inventory
from .podtext import Text, container_texts
from .rules import node_addresses

# hostPath types the kubelet checks before it starts the pod
# (kubernetes.io/docs/concepts/storage/volumes/#hostpath-volume-types)
MUST_EXIST = ("Socket", "File", "Directory", "CharDevice", "BlockDevice")


def is_under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


@dataclass(frozen=True)
class Use:
    text: Text
    ref: Reference
    land: Landing | None

    def chain(self) -> str:
        through = (f" -> mount {self.land.mount_path} -> hostPath {self.land.host_path}" if self.land else "")
        return f"{self.text.chain(self.ref.line)} names {self.ref.spelled}{through}"


def docker_uses(template: PodTemplate, container: dict, texts: list[Text]) -> list[Use]:
    """References to a Docker socket that reach the node's through a mount."""
    pipes = [h for h, _ in template.host_paths(container) if is_pipe(h)]
    uses = []
    for text in texts:
        for ref in references(text.text):
            if ref.path:
                land = landing(template, container, ref.path)
                if land and is_docker_socket_path(land.host_path):
                    uses.append(Use(text, ref, land))
            elif not ref.host and pipes:
                uses.append(Use(text, ref, None))
    return uses


@dataclass(frozen=True)
class CriReach:
    words: str = ""         # the CRI socket in reach, in words ("" when none)
    explicit: bool = False  # mounted on its own or named: not only inside /run with everything else

    def __bool__(self) -> bool:
        return bool(self.words)


def cri_in_reach(template: PodTemplate, container: dict, texts: list[Text]) -> CriReach:
    """A CRI socket the container can use instead of Docker's."""
    for text in texts:
        if any(name in text.text for name in CRI_SOCKET_NAMES):
            return CriReach(f"{text.origin} (names a CRI socket)", True)
    reach = CriReach()
    for host_path, _ in template.host_paths(container):
        path = normalize(host_path)
        if path.endswith(tuple("/" + n for n in CRI_SOCKET_NAMES)):
            return CriReach(f"hostPath {host_path}", True)
        held = [s for s in CRI_SOCKET_PATHS if path != "/" and is_under(s, path)]
        if held:       # /run/containerd is the runtime's own directory; /run holds Docker's too
            own = not any(is_under(d, path) for d in DOCKER_SOCKET_PATHS)
            reach = CriReach(f"hostPath {host_path} (holds {held[0]})", own) if own or not reach else reach
    return reach


def _mount_words(host_path: str, mount: dict, kind: str) -> str:
    typed = f"type {kind}" if kind else "no type"
    return f"hostPath {host_path} ({typed}) at {mount.get('mountPath')}"


def judge(template: PodTemplate, container: dict, inventory: Inventory, runtime_words: dict) -> list[Finding]:
    texts = container_texts(template, container, inventory)
    uses = docker_uses(template, container, texts)
    beside = cri_in_reach(template, container, texts)
    ready = agents.cri_ready(template)
    findings = []
    ref = f"{template.ref}/{container.get('name')}"
    for host_path, mount in template.host_paths(container):
        path = normalize(host_path)
        kind = (template.volume(mount.get("name", "")).get("hostPath") or {}).get("type") or ""
        exact = path in DOCKER_SOCKET_PATHS or is_pipe(host_path)
        parent = not exact and path != "/" and any(is_under(s, path) for s in DOCKER_SOCKET_PATHS)
        mine = [u for u in uses if u.land is None or is_under(normalize(u.land.host_path), path)]
        words = _mount_words(host_path, mount, kind)
        if exact:
            if path == normalize(DOCKERSHIM_SOCKET) and not beside.explicit:
                case = "dockershim"       # a CRI socket at dockershim's path: typed or used alike
            elif kind in MUST_EXIST:
                case = "typed"
            elif mine and not beside.explicit:
                case = "used"
            elif beside:
                case = "beside-cri"
            elif ready:
                continue       # the vendor says this version works without Docker Engine
            else:
                case = ""
            depends = words + (f"; {mine[0].chain()}" if mine and case in ("used", "typed") else "")
            depends += f"; also in reach: {beside.words}" if case == "beside-cri" else ""
            findings.append(family("docker-socket-mount").finding(ref, depends, case=case, **runtime_words))
        elif parent:
            if not mine:
                continue      # /run holds every socket of the node: the mount alone says nothing of Docker
            case = "uses-socket" if not beside.explicit else ""
            depends = f"{words}, which holds {next(s for s in DOCKER_SOCKET_PATHS if is_under(s, path))}"
            depends += f"; {mine[0].chain()}" if mine else ""
            findings.append(family("docker-socket-parent-mount").finding(ref, depends, case=case,
                                                                         **runtime_words))
    findings += config_files(template, container, uses, beside)
    return findings


def config_files(template: PodTemplate, container: dict, uses: list[Use], beside: CriReach) -> list[Finding]:
    """The mounted config files that name the socket: the lines to change (a
    file that names it is used whatever the agent's version)."""
    findings, seen = [], set()
    for use in uses:
        if not use.text.file or use.text.origin in seen:
            continue
        seen.add(use.text.origin)
        reader = f"{template.ref}/{container.get('name')}"
        findings.append(family("docker-endpoint-config").finding(
            use.text.origin, f"{use.chain()}, read by {reader}", case="beside-cri" if beside.explicit else ""))
    return findings


def socket_mounts(inventory: Inventory, runtime_words: dict) -> list[Finding]:
    return [f for t in inventory.templates for c in t.containers() for f in judge(t, c, inventory, runtime_words)]


# A setting that makes Docker the product's runtime: a key or flag whose name is
# the container runtime and whose value is docker or dockershim
# (`--container-runtime=docker`, `CONTAINER_RUNTIME=docker`, `runtime: docker`).
RUNTIME_SETTING = re.compile(
    r"(?im)(?P<key>(?:--?|\b)(?:[\w.]*[-_.])?(?:container[-_.]?runtime|runtime)(?:[-_.]?(?:type|name|engine))?)"
    r"[\"']?\s*(?:[:=]|\s)\s*[\"']?(?P<value>docker|dockershim)(?![\w.-])")


def settings(template: PodTemplate, container: dict, inventory: Inventory) -> list[Finding]:
    """Settings that pick Docker as the runtime, and the node's Docker daemon named over TCP."""
    findings = []
    ref = f"{template.ref}/{container.get('name')}"
    local = node_hosts(template, container, node_addresses(inventory))
    for text in container_texts(template, container, inventory):
        for m in RUNTIME_SETTING.finditer(text.text):
            findings.append(family("docker-runtime-setting").finding(
                ref, f"{text.chain(line_of(text.text, m.start()))} sets {m.group('key').strip()} to "
                f"{m.group('value')}"))
        if text.origin.startswith("env "):
            continue           # DOCKER_HOST and friends: docker-env says so
        for r in references(text.text):
            if r.host and r.host in local:
                findings.append(family("docker-tcp-endpoint").finding(
                    ref, f"{text.chain(r.line)} names {r.spelled}, the node's Docker daemon"))
    return findings


def runtime_settings(inventory: Inventory, runtime_words: dict) -> list[Finding]:
    return [f for t in inventory.templates for c in t.containers() for f in settings(t, c, inventory)]


def data_mounts(inventory: Inventory, runtime_words: dict) -> list[Finding]:
    """hostPath mounts under Docker's data root, judged like the sockets: a type
    that demands the directory stops the pod; otherwise what breaks is a use.
    Beside the kubelet's log directories it is the leftover of reading
    /var/log/containers, whose links pointed into it on Docker nodes: the log
    config's parser is what breaks, and the log-shipper rules judge it."""
    findings = []
    for t in inventory.templates:
        for c in t.containers():
            texts = container_texts(t, c, inventory)
            mounted = [normalize(h) for h, _ in t.host_paths(c)]
            logs = any(is_under(d, m) for m in mounted for d in KUBELET_LOG_DIRS if m != "/")
            for host_path, mount in t.host_paths(c):
                if not is_under(normalize(host_path), DOCKER_DATA):
                    continue
                kind = (t.volume(mount.get("name", "")).get("hostPath") or {}).get("type") or ""
                uses = [(x, m) for x in texts for m in re.finditer(r"(?:/[\w.*@+-]+)+", x.text)
                        if (land := landing(t, c, m.group(0))) and is_under(normalize(land.host_path), DOCKER_DATA)]
                if kind in MUST_EXIST:
                    case = "typed"
                elif uses:
                    case = "used"
                elif logs:
                    continue
                else:
                    case = ""
                depends = _mount_words(host_path, mount, kind)
                if uses:
                    text, m = uses[0]
                    depends += f"; {text.chain(line_of(text.text, m.start()))} names {m.group(0)}"
                findings.append(family("docker-data-mount").finding(
                    f"{t.ref}/{c.get('name')}", depends, case=case, **runtime_words))
    return findings
