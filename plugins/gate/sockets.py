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
    CRI_DOCKERD_SOCKET,
    CRI_SOCKET_NAMES,
    CRI_SOCKET_PATHS,
    DOCKER_API_SOCKETS,
    DOCKER_DATA,
    DOCKER_EXEC_ROOT,
    DOCKER_SOCKET_PATHS,
    DOCKERSHIM_SOCKET,
    KUBELET_LOG_DIRS,
    normalize,
)

from . import agents, rules
from .endpoints import Landing, Reference, is_docker_socket_path, is_pipe, landing, line_of, node_hosts, references
from .family import family
from .findings import REVIEW, Finding, PodTemplate
from .inventory import Inventory
from .podtext import Text, container_texts
from .rules import is_under, node_addresses

# hostPath types the kubelet checks before it starts the pod
# (kubernetes.io/docs/concepts/storage/volumes/#hostpath-volume-types)
MUST_EXIST = ("Socket", "File", "Directory", "CharDevice", "BlockDevice")


@dataclass(frozen=True)
class Use:
    text: Text
    ref: Reference
    land: Landing | None

    def chain(self) -> str:
        through = (f" -> mount {self.land.mount_path} -> hostPath {self.land.host_path}" if self.land else "")
        return f"{self.text.chain(self.ref.line)} names {self.ref.spelled}{through}"


def docker_uses(template: PodTemplate, container: dict, texts: list[Text]) -> list[Use]:
    """References to a Docker socket (comment lines left out) that reach the
    node's through a mount."""
    pipes = [h for h, _ in template.host_paths(container) if is_pipe(h)]
    uses = []
    for text in texts:
        for ref in references(text.code):
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
    explicit: bool = False  # mounted on its own or named through a mount: not only inside /run
    named: bool = False     # named by the container's command, env or config, through a mount

    def __bool__(self) -> bool:
        return bool(self.words)


CRI_NAMED = re.compile(r"(?:/[\w.@+-]+)*/(?:" + "|".join(re.escape(n) for n in CRI_SOCKET_NAMES) + r")\b")


def under_host_root(template: PodTemplate, container: dict, path: str) -> Landing | None:
    """Where a node path named as such (`--cri /run/containerd/containerd.sock`)
    lands when the program adds its host-root prefix (Falco's HOST_ROOT=/host,
    an agent's /hostfs): a mount at PREFIX + path."""
    for _, mount in template.host_paths(container):
        mounted = str(mount.get("mountPath", "")).rstrip("/")
        if mounted != path and mounted.endswith(path) and mounted[:-len(path)].count("/") == 1:
            return landing(template, container, mounted)
    return None


def is_cri_socket(host_path: str) -> bool:
    """A CRI runtime's socket on the node, not the containerd embedded in Docker."""
    path = normalize(host_path)
    return path.endswith(tuple("/" + n for n in CRI_SOCKET_NAMES)) and not is_under(path, DOCKER_EXEC_ROOT)


def cri_in_reach(template: PodTemplate, container: dict, texts: list[Text]) -> CriReach:
    """A CRI socket the container can use instead of Docker's: one it names
    through a mount, one mounted on its own (or its runtime's directory), or
    one only inside a directory that holds Docker's too (not explicit)."""
    for text in texts:
        for named in CRI_NAMED.finditer(text.code):
            land = landing(template, container, named.group(0)) or under_host_root(template, container,
                                                                                 named.group(0))
            if land and is_cri_socket(land.host_path):
                return CriReach(f"{text.origin} (names {named.group(0)})", True, True)
    reach = CriReach()
    for host_path, _ in template.host_paths(container):
        path = normalize(host_path)
        if is_cri_socket(path):
            return CriReach(f"hostPath {host_path}", True)
        held = [s for s in CRI_SOCKET_PATHS if path != "/" and is_under(s, path)]
        if held:       # /run/containerd is the runtime's own directory; /run holds Docker's too
            own = not any(is_under(d, path) for d in DOCKER_SOCKET_PATHS)
            reach = CriReach(f"hostPath {host_path} (holds {held[0]})", own) if own or not reach else reach
    chosen = engine_settings(texts, docker=False)
    if reach and chosen:        # the product is told to use the CRI runtime whose socket it reaches
        text, m = chosen[0]
        return CriReach(f"{reach.words}, chosen by {text.chain(line_of(text.code, m.start('key')))} "
                        f"({m.group('key')}={m.group('value')})", True)
    return reach


def set_for_cri(template: PodTemplate, inventory: Inventory) -> bool:
    """A container of the template names a CRI socket that reaches the node's
    through a mount, and none names Docker's: the program is set to use CRI."""
    named = False
    for container in template.containers():
        texts = container_texts(template, container, inventory)
        if docker_uses(template, container, texts):
            return False
        named = named or cri_in_reach(template, container, texts).named
    return named


def hostpath_type(template: PodTemplate, mount: dict) -> str:
    return (template.volume(mount.get("name", "")).get("hostPath") or {}).get("type") or ""


def _mount_words(host_path: str, mount: dict, kind: str) -> str:
    typed = f"type {kind}" if kind else "no type"
    return f"hostPath {host_path} ({typed}) at {mount.get('mountPath')}"


CRI_AT_DOCKER_PATHS = (normalize(DOCKERSHIM_SOCKET), CRI_DOCKERD_SOCKET)   # CRI, served by Docker


def exact_case(path: str, kind: str, mine: list[Use], beside: CriReach, ready: bool | None) -> str | None:
    """The docker-socket-mount case for a mount of the socket itself; None: nothing to report."""
    if path == normalize(DOCKERSHIM_SOCKET):
        return "beside-cri" if beside.explicit else "dockershim"    # typed or used alike: a CRI client
    if path == CRI_DOCKERD_SOCKET:
        return "beside-cri" if beside.explicit else "cri-dockerd"
    if kind in MUST_EXIST:
        return "typed"
    if mine and not beside.explicit:
        return "used"
    if beside:
        return None if ready else "beside-cri"    # a CRI-ready agent with a CRI socket: its vendor's setup
    return "agent-without-cri" if ready else ""


def judge(template: PodTemplate, container: dict, inventory: Inventory, runtime_words: dict) -> list[Finding]:
    texts = container_texts(template, container, inventory)
    uses = docker_uses(template, container, texts)
    beside = cri_in_reach(template, container, texts)
    ready = agents.image_cri_ready(str(container.get("image", "")))
    findings = []
    ref = f"{template.ref}/{container.get('name')}"
    for host_path, mount in template.host_paths(container):
        path = normalize(host_path)
        kind = hostpath_type(template, mount)
        exact = path in DOCKER_SOCKET_PATHS or path == CRI_DOCKERD_SOCKET or is_pipe(host_path)
        mine = [u for u in uses if u.land is None or (u.land.volume == mount.get("name")
                                                      and u.land.mount_path.rstrip("/") ==
                                                      (mount.get("mountPath") or "").rstrip("/"))]
        words = _mount_words(host_path, mount, kind)
        if exact:
            case = exact_case(path, kind, mine, beside, ready)
            if case is None:
                continue
            depends = words + (f"; {mine[0].chain()}" if mine and case in ("used", "typed") else "")
            depends += f"; also in reach: {beside.words}" if case == "beside-cri" else ""
            findings.append(family("docker-socket-mount").finding(ref, depends, case=case, **runtime_words))
        elif mine:           # a directory (/run, /var, /) through which something names the socket
            reached = normalize(mine[0].land.host_path)
            depends = f"{words}, through which {mine[0].chain()}"
            if reached in CRI_AT_DOCKER_PATHS:
                case = "beside-cri" if beside.explicit else ("dockershim" if reached == CRI_AT_DOCKER_PATHS[0]
                                                             else "cri-dockerd")
                findings.append(family("docker-socket-mount").finding(ref, depends, case=case, **runtime_words))
                continue
            case = "beside-cri" if beside.explicit else "uses-socket"
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


# A setting that makes Docker the product's runtime: a key or flag named the
# container runtime (optionally in a dotted namespace: agent.runtime) whose whole
# value, on that line, is docker or dockershim (`--container-runtime=docker`,
# `CONTAINER_RUNTIME=docker`, `runtime: docker`). A list (`docker,containerd`), a
# path (`docker/compose`), a nested table (`runtime:` then `docker:` below) and
# other names ending in runtime (`python_runtime`) are not it.
RUNTIME_SETTING = re.compile(
    r"(?im)(?:^|[\s\"'{,-])(?P<key>(?:--?)?(?:[\w-]+\.)*(?:container[-_]?runtime|runtime)(?:[-_]?(?:type|name|engine))?)"
    r"[\"']?(?:[ \t]*[:=][ \t]*| )[\"']?(?P<value>docker|dockershim)[\"']?[ \t]*"
    r"(?:}|$|,[ \t]*[\w\"'-]+[ \t]*[:=])")       # the line's end, or the next key of an inline map


# A setting that picks the engine a product talks to, named for what it picks
# (`WOODPECKER_BACKEND=docker`, `AGENT_RUNTIME: docker`, `engine.kind: dockerd`,
# `--executor docker`), whose whole value on its line is one engine's name. The
# key says "runtime, engine, backend or executor" (then maybe type/kind/name/mode):
# a bare `REGISTRY_TYPE` or `LOG_TYPE` says nothing of containers. Even so it may
# not be about containers, so a Docker value counts only where Docker's default
# socket reaches the node's through a mount (default_socket_landing), and a CRI
# value only as the CRI socket in reach being chosen (cri_in_reach). Key length is
# bounded: the pattern stays linear on long texts.
ENGINE_SETTING = re.compile(
    r"(?im)(?:^|[\s\"'{,])(?P<key>(?:--?)?(?:[\w-]{1,40}[._-])?(?:runtime|engine|backend|executor)"
    r"(?:[._-]?(?:type|kind|name|mode))?)"
    r"[\"']?(?:[ \t]*[:=][ \t]*| )[\"']?(?P<value>docker|dockerd|moby|cri|cri-o|crio|containerd)[\"']?[ \t]*"
    r"(?:}|$|,[ \t]*[\w\"'-]+[ \t]*[:=])")
DOCKER_ENGINES = ("docker", "dockerd", "moby")


def engine_settings(texts: list[Text], docker: bool) -> list[tuple[Text, re.Match]]:
    """Engine settings whose value is Docker's (docker=True) or a CRI runtime's."""
    return [(t, m) for t in texts for m in ENGINE_SETTING.finditer(t.code)
            if (m.group("value").lower() in DOCKER_ENGINES) is docker]


def default_socket_landing(template: PodTemplate, container: dict) -> tuple[str, Landing] | None:
    """Docker's default socket path in the container (dockerd's default -H,
    /var/run/docker.sock, or /run/docker.sock where /var/run links /run), where
    it reaches the node's through a directory mount (a mount of the socket itself
    is docker-socket-mount's to judge)."""
    for path in DOCKER_API_SOCKETS:
        land = landing(template, container, path)
        if land and is_docker_socket_path(land.host_path) and land.mount_path.rstrip("/") != path:
            return path, land
    return None


def settings(template: PodTemplate, container: dict, inventory: Inventory) -> list[Finding]:
    """Settings that pick Docker as the runtime, and the node's Docker daemon named
    over TCP (a pod that runs its own daemon, Docker-in-Docker, is left out)."""
    if rules.runs_own_docker(template):
        return []
    findings = []
    ref = f"{template.ref}/{container.get('name')}"
    local = node_hosts(template, container, node_addresses(inventory))
    texts = container_texts(template, container, inventory)
    named = set()
    for text in texts:
        for m in RUNTIME_SETTING.finditer(text.code):
            named.add((text.origin, line_of(text.code, m.start("key"))))
            findings.append(family("docker-runtime-setting").finding(
                ref, f"{text.chain(line_of(text.code, m.start('key')))} sets {m.group('key')} to "
                f"{m.group('value')}"))
    reached = default_socket_landing(template, container)
    beside = cri_in_reach(template, container, texts) if reached else CriReach()
    for text, m in engine_settings(texts, docker=True) if reached else ():
        line = line_of(text.code, m.start("key"))
        if (text.origin, line) not in named:
            named.add((text.origin, line))
            also = f"; also in reach: {beside.words}" if beside.explicit else ""
            findings.append(family("docker-runtime-setting").finding(
                ref, f"{text.chain(line)} sets {m.group('key')} to {m.group('value')}, and Docker's "
                f"default socket {reached[0]} reaches the node's through hostPath {reached[1].host_path}{also}",
                case="default-socket", severity=REVIEW if beside.explicit else ""))
    for text in texts:
        if text.env_name in rules.DOCKER_ENV:
            continue           # DOCKER_HOST and friends: docker-env says so
        for r in references(text.code):
            if r.host and r.host in local:
                findings.append(family("docker-tcp-endpoint").finding(
                    ref, f"{text.chain(r.line)} names {r.spelled}, the node's Docker daemon"))
    return findings


def runtime_settings(inventory: Inventory) -> list[Finding]:
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
                kind = hostpath_type(t, mount)
                uses = [(x, m) for x in texts for m in re.finditer(r"(?:/[\w.*@+-]+)+", x.code)
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
                    depends += f"; {text.chain(line_of(text.code, m.start()))} names {m.group(0)}"
                findings.append(family("docker-data-mount").finding(
                    f"{t.ref}/{c.get('name')}", depends, case=case, **runtime_words))
    return findings
