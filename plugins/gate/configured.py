"""Docker couplings held in configuration rather than in pod specs.

- pods that CI runners and workflow engines create later from a ConfigMap
  (GitLab Runner, Jenkins, Argo Workflows, Airflow/Spark pod templates, Drone);
- DaemonSets that configure or drive Docker Engine on the node;
- security profiles that only Docker Engine provides;
- look-alikes: a GitLab Docker executor on a remote daemon (review).

What each family is, why it breaks, its fix and sources: families/*.toml.
Each detector here finds one family and has a look-alike that yields nothing.
"""
from __future__ import annotations

import re
import shlex
import tomllib

from crigate.facts import DOCKER_DATA, DOCKER_SOCKET, DOCKER_SOCKET_PATHS, normalize

from . import embedded, family
from .configtext import load_yaml, mappings
from .findings import REVIEW, Finding, PodTemplate
from .inventory import Inventory
from .rules import containers, cri_tools, is_under, node_addresses, remote_docker_host, where
from .shell import DOCKER_COMMANDS, docker_calls, env_scripts, looks_like_script

# The words CI configs and init scripts use for Docker: an executor, a service
# name (names of a tool's settings, not crigate runtimes: see clusters/runtimes.py)
DOCKER_EXECUTOR = "docker"
DOCKER_SERVICE = "docker"


FAMILIES = family.known()


def finding(check: str, obj: str, depends_on: str, severity: str = "", **words: str) -> Finding:
    """A finding worded by its family; words fill the family's {placeholders}."""
    return FAMILIES[check].finding(obj, depends_on, severity=severity, **words)


# ---------------------------------------------------------------- shared readers

def is_docker_socket(path: str) -> bool:
    path = path.strip()
    return normalize(path[len("unix://"):] if path.startswith("unix://") else path) in DOCKER_SOCKET_PATHS


def is_docker_host_path(path: str) -> bool:
    """Docker's socket or data root, as a hostPath names it."""
    return is_docker_socket(path) or is_under(normalize(path), DOCKER_DATA)


def config_values(inventory: Inventory):
    """(namespace, name, key, text) of every ConfigMap value, sorted."""
    for (namespace, name), data in sorted(inventory.config_maps.items()):
        for key, value in sorted(data.items()):
            if isinstance(value, str):
                yield namespace, name, key, value


def cm_ref(namespace: str, name: str, key: str) -> str:
    return f"ConfigMap/{namespace}/{name}[{key}]"


def docker_host_paths(spec: dict) -> list[str]:
    """hostPath volumes of a pod spec that are Docker's socket or data root."""
    volumes = spec.get("volumes") if isinstance(spec, dict) else None
    paths = [(v.get("hostPath") or {}).get("path", "") for v in volumes or [] if isinstance(v, dict)]
    return [p for p in paths if isinstance(p, str) and is_docker_host_path(p)]


def pod_specs(document) -> list[dict]:
    """Pod specs described anywhere in a config document, by shape: a Pod, a
    PodTemplate, a workload, a bare {spec: {containers}}, a CI controller's
    pod patch (embedded.pod_specs)."""
    if isinstance(document, list):
        document = {"items": document}
    return [spec for _, spec in embedded.pod_specs(document)] if isinstance(document, dict) else []


# ---------------------------------------------------------------- b: pods made from config

def gitlab_runners(text: str) -> list[dict]:
    """The [[runners]] tables of a GitLab Runner config.toml."""
    if "[[runners]]" not in text:
        return []
    try:
        runners = tomllib.loads(text).get("runners", [])
    except tomllib.TOMLDecodeError:
        return []
    return [r for r in runners if isinstance(r, dict)] if isinstance(runners, list) else []


def find_gitlab_runner_docker_executor(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for namespace, name, key, text in config_values(inventory):
        for runner in gitlab_runners(text):
            if runner.get("executor") != DOCKER_EXECUTOR:
                continue
            label = f"GitLab runner {runner['name']!r}" if runner.get("name") else "GitLab runner"
            label += ' executor = "docker"'
            host = str((runner.get("docker") or {}).get("host", ""))
            remote = remote_docker_host(host, node_addresses(inventory))
            if remote:
                findings.append(finding("docker-remote-daemon", cm_ref(namespace, name, key),
                                        f"{label} with [runners.docker] host {host}"))
            elif not host or is_docker_socket(host):
                findings.append(finding("gitlab-runner-docker-executor", cm_ref(namespace, name, key),
                                        f"{label} on {host or 'the default ' + DOCKER_SOCKET}"))
    return findings


def gitlab_host_paths(runner: dict) -> list[str]:
    volumes = ((runner.get("kubernetes") or {}).get("volumes") or {})
    entries = [*(volumes.get("host_path") or []), *(volumes.get("host_paths") or [])]
    return [str(v.get("host_path") or v.get("path") or v.get("mount_path") or "")
            for v in entries if isinstance(v, dict)]


def find_gitlab_runner_host_docker_socket(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for namespace, name, key, text in config_values(inventory):
        for runner in gitlab_runners(text):
            if runner.get("executor") != "kubernetes":
                continue
            sockets = [p for p in gitlab_host_paths(runner) if is_docker_socket(p)]
            if sockets:
                findings.append(finding(
                    "gitlab-runner-host-docker-socket", cm_ref(namespace, name, key),
                    f"[[runners.kubernetes.volumes.host_path]] {sockets[0]} in every job pod"))
    return findings


def jenkins_docker_mounts(document) -> list[str]:
    """docker.sock/var/lib/docker mounts in Jenkins pod templates: hostPathVolume
    entries (JCasC) and the raw pod of a template's `yaml:` field."""
    found = []
    for node in mappings(document):
        volume = node.get("hostPathVolume")
        if isinstance(volume, dict) and is_docker_host_path(str(volume.get("hostPath", ""))):
            found.append(f"hostPathVolume {volume.get('hostPath')}")
        raw = node.get("yaml")
        if isinstance(raw, str) and "hostPath" in raw:
            for spec in (s for d in load_yaml(raw) for s in pod_specs(d)):
                found.extend(f"template yaml hostPath {p}" for p in docker_host_paths(spec))
    return found


def find_jenkins_agent_docker_socket(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for namespace, name, key, text in config_values(inventory):
        if "hostPathVolume" not in text and "yaml" not in text:
            continue
        mounts = [m for d in load_yaml(text) for m in jenkins_docker_mounts(d)]
        if mounts:
            findings.append(finding("jenkins-agent-docker-socket", cm_ref(namespace, name, key),
                                    f"Jenkins agent pod template with {mounts[0]}"))
    return findings


def argo_executor_settings(data: dict) -> list[tuple[str, str]]:
    """(ConfigMap key, executor) of each executor an Argo controller config selects:
    top-level keys (Argo 3.x), or inside the single `config` key (2.x)."""
    layers = [("", data)]
    if isinstance(data.get("config"), str):
        layers += [("config", d) for d in load_yaml(data["config"]) if isinstance(d, dict)]
    found = []
    for key, layer in layers:
        single = layer.get("containerRuntimeExecutor")
        if isinstance(single, str):
            found.append((key or "containerRuntimeExecutor", single.strip()))
        many = layer.get("containerRuntimeExecutors")
        if isinstance(many, str):            # a top-level key holds YAML text
            many = next(iter(load_yaml(many)), None)
        for entry in many if isinstance(many, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                found.append((key or "containerRuntimeExecutors", entry["name"].strip()))
    return found


def find_argo_docker_executor(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for (namespace, name), data in sorted(inventory.config_maps.items()):
        for key, executor in argo_executor_settings(data):
            if executor == DOCKER_EXECUTOR:
                findings.append(finding("argo-docker-executor", cm_ref(namespace, name, key),
                                        "Argo Workflows containerRuntimeExecutor docker"))
    return findings


# A host path volume in a pod template kept as XML (the Jenkins Kubernetes
# plugin's pod templates: <hostPath>/var/run/docker.sock</hostPath>); other
# formats that are not YAML or JSON say too little to tell a template from a
# policy's test data.
HOST_PATH_NAMED = re.compile(r"(?i)<host[-_]?path>\s*(/[\w./-]+)\s*</host[-_]?path>")


def find_configured_pod_docker_socket(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for namespace, name, key, text in config_values(inventory):
        if "hostPath" not in text or "containers" not in text:
            continue
        documents = load_yaml(text)
        paths = [p for d in documents for s in pod_specs(d) for p in docker_host_paths(s)]
        if not any(isinstance(d, (dict, list)) for d in documents):       # XML
            paths = [m.group(1) for m in HOST_PATH_NAMED.finditer(text) if is_docker_host_path(m.group(1))]
        if paths:
            findings.append(finding("configured-pod-docker-socket", cm_ref(namespace, name, key),
                                    f"a pod template in the ConfigMap mounting hostPath {paths[0]}"))
    return findings


def docker_hosts(template: PodTemplate, container: dict, inventory: Inventory) -> list[str]:
    """DOCKER_HOST values a container gets: env, and envFrom ConfigMaps (with prefix)."""
    values = [str(e.get("value", "")) for e in container.get("env", [])
              if e.get("name") == "DOCKER_HOST" and "value" in e]
    for source in container.get("envFrom", []):
        ref = (source.get("configMapRef") or {}).get("name")
        data = inventory.config_map(template.namespace, ref) if ref else {}
        values += [str(v) for k, v in data.items() if f"{source.get('prefix', '')}{k}" == "DOCKER_HOST"]
    return values


def find_drone_runner_docker(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for t, c in containers(inventory, skip_dind=True):
        if "drone-runner-docker" in c.get("image", "") and not any(
                remote_docker_host(h, node_addresses(inventory)) for h in docker_hosts(t, c, inventory)):
            findings.append(finding("drone-runner-docker", where(t, c),
                                    f"image {c.get('image')} (pipelines as Docker containers)"))
    return findings


# ---------------------------------------------------------------- c: node configurators

DOCKER_CONFIG_DIR = "/etc/docker"
DOCKER_CERTS_DIR = "/etc/docker/certs.d"
DOCKER_UNITS = ("/etc/systemd/system/docker.service.d", "/etc/systemd/system/docker.service",
                "/lib/systemd/system/docker.service", "/usr/lib/systemd/system/docker.service",
                "/etc/systemd/system/docker.socket")
WRITES = re.compile(r">|\btee\b|\bcp\b|\bmv\b|\binstall\b|\bsed\s+-i|\bln\b|\bcat\s*<<")
SYSTEMCTL_ACTIONS = {"restart", "reload", "start", "stop", "try-restart", "reload-or-restart",
                     "try-reload-or-restart", "kill"}
DOCKER_UNIT_NAMES = {"docker", "docker.service", "docker.socket", "dockerd"}
NSENTER_VALUE_OPTIONS = {"-t", "--target", "-S", "--setuid", "-G", "--setgid"}
SHELLS = ("sh", "bash", "ash", "dash", "zsh")
SHELL_KEYWORDS = {"then", "do", "else", "elif", "if", "while", "until", "!", "time", "sudo", "exec",
                  "nohup", "timeout", "env", "command"}
_SEGMENTS = re.compile(r"\|\||&&|[;|&`(){}]|\$\(")


def scripts(template: PodTemplate, container: dict, inventory: Inventory) -> list[tuple[str, str]]:
    """(where, text) of what the container runs: command/args, mounted ConfigMap
    scripts, and scripts held in env where the pod can act on its node (shell.env_scripts)."""
    found = []
    argv = [str(a) for a in [*container.get("command", []), *container.get("args", [])]]
    shell_flag = next((i for i, w in enumerate(argv[1:-1], 1) if re.fullmatch(r"-\w*c\w*", w)), 0)
    if argv and argv[0].rsplit("/", 1)[-1] in SHELLS and shell_flag:
        found.append(("command/args", argv[shell_flag + 1]))        # sh -c SCRIPT
    elif argv:
        found.append(("command/args", shlex.join(argv)))
    for name in template.configmap_names(container):
        for key, value in sorted(inventory.config_map(template.namespace, name).items()):
            if looks_like_script(key, value):
                found.append((f"ConfigMap {name} key {key}", value))
    return found + env_scripts(template.spec, container)


def command_words(script: str):
    """The words of each simple command of a script, comments dropped."""
    for line in script.splitlines():
        if line.strip().startswith("#"):
            continue
        for segment in _SEGMENTS.split(line):
            try:
                words = shlex.split(segment, comments=True)
            except ValueError:
                words = segment.split("#", 1)[0].split()
            while words and (words[0] in SHELL_KEYWORDS or re.fullmatch(r"\w+=\S*", words[0])):
                words = words[1:]                       # `do nsenter ...`, `FOO=1 chroot ...`
            if words:
                yield words


def restarts_docker(words: list[str]) -> bool:
    names = [w.rsplit("/", 1)[-1] for w in words]
    for i, word in enumerate(names):
        rest = [w for w in names[i + 1:] if not w.startswith("-")]
        if word == "systemctl" and rest and rest[0] in SYSTEMCTL_ACTIONS and DOCKER_UNIT_NAMES & set(rest[1:]):
            return True
        if word == "service" and len(rest) > 1 and rest[0] == DOCKER_SERVICE and rest[1] in SYSTEMCTL_ACTIONS:
            return True
        if word in ("pkill", "killall") and "dockerd" in rest:
            return True
    return False


def host_command(words: list[str]) -> list[str]:
    """The command that `nsenter ...` or `chroot DIR` runs on the host ([] otherwise)."""
    tool, rest = words[0].rsplit("/", 1)[-1], words[1:]
    if tool == "nsenter":
        if "--" in rest:
            return rest[rest.index("--") + 1:]
        i = 0
        while i < len(rest) and rest[i].startswith("-"):
            i += 2 if rest[i] in NSENTER_VALUE_OPTIONS else 1
        return rest[i:]
    if tool == "chroot":
        operands = [i for i, w in enumerate(rest) if not w.startswith("-")]
        return rest[operands[0] + 1:] if operands else []
    return []


def runs_docker_on_host(words: list[str]) -> bool:
    inner = host_command(words)
    if not inner:
        return False
    if inner[0].rsplit("/", 1)[-1] in DOCKER_COMMANDS:
        return True
    if inner[0].rsplit("/", 1)[-1] in SHELLS and "-c" in inner[1:-1]:
        script = " ".join(inner[inner.index("-c") + 1:]).strip("'\"")   # quotes cut by a | split
        return bool(docker_calls(script))
    return False


def writes_docker_file(script: str, path: str) -> bool:
    return any(path.lstrip("/") in line and WRITES.search(line)
               for line in script.splitlines() if not line.strip().startswith("#"))


def script_findings(inventory: Inventory, check: str, matches, says: str, **words: str) -> list[Finding]:
    """A finding per container one of whose scripts has a command that matches."""
    findings = []
    for t, c in containers(inventory):
        hits = [src for src, text in scripts(t, c, inventory) if any(matches(w) for w in command_words(text))]
        if hits:
            findings.append(finding(check, where(t, c), f"{says} in {', '.join(hits)}", **words))
    return findings


def find_docker_service_restart(inventory: Inventory, runtime: str) -> list[Finding]:
    return script_findings(inventory, "docker-service-restart", restarts_docker,
                           "a restart of the Docker service", runtime=runtime)


def find_host_docker_command(inventory: Inventory, runtime: str) -> list[Finding]:
    return script_findings(inventory, "host-docker-command", runs_docker_on_host,
                           "the docker CLI run on the host (nsenter/chroot)",
                           cri_tools=cri_tools(runtime))


def find_docker_daemon_config(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for t, c in containers(inventory):
        mounts = [(p, m) for p, m in t.host_paths(c) if is_under(normalize(p), DOCKER_CONFIG_DIR)
                  and not is_under(normalize(p), DOCKER_CERTS_DIR)]
        writers = [src for src, text in scripts(t, c, inventory)
                   if writes_docker_file(text, "/etc/docker/daemon.json")]
        writable = [p for p, m in mounts if not m.get("readOnly")]
        if writable or writers:
            what = (f"hostPath {writable[0]} mounted writable" if writable
                    else f"a write to /etc/docker/daemon.json in {writers[0]}")
            findings.append(finding("docker-daemon-config", where(t, c), what))
        elif mounts:
            findings.append(finding("docker-daemon-config", where(t, c),
                                    f"hostPath {mounts[0][0]} mounted read-only (reads Docker's config)",
                                    severity=REVIEW))
    return findings


def find_docker_registry_certs(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for t, c in containers(inventory):
        mounts = [p for p, _ in t.host_paths(c) if is_under(normalize(p), DOCKER_CERTS_DIR)]
        writers = [src for src, text in scripts(t, c, inventory)
                   if writes_docker_file(text, DOCKER_CERTS_DIR)]
        if mounts or writers:
            findings.append(finding("docker-registry-certs", where(t, c),
                                    f"hostPath {mounts[0]}" if mounts
                                    else f"a write under {DOCKER_CERTS_DIR} in {writers[0]}"))
    return findings


def find_docker_unit_dropin(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for t, c in containers(inventory):
        units = [p for p, _ in t.host_paths(c) if any(is_under(normalize(p), u) for u in DOCKER_UNITS)]
        if units:
            findings.append(finding("docker-unit-dropin", where(t, c), f"hostPath {units[0]}"))
    return findings


# ---------------------------------------------------------------- d: security profiles

SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_CONTAINER = "container.apparmor.security.beta.kubernetes.io/"
DOCKER_APPARMOR = ("localhost/docker-default", "docker-default")


def annotated(template: PodTemplate, key: str) -> str:
    """The finding object for an annotation: the pod, or the container it names."""
    for prefix in (SECCOMP_CONTAINER, APPARMOR_CONTAINER):
        if key.startswith(prefix):
            return f"{template.ref}/{key[len(prefix):]}"
    return template.ref


def find_seccomp_docker_default(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for t in inventory.templates:
        for key, value in sorted((t.annotations or {}).items()):
            if (key == SECCOMP_POD or key.startswith(SECCOMP_CONTAINER)) and str(value).strip() == "docker/default":
                findings.append(finding("seccomp-docker-default", annotated(t, key),
                                        f"annotation {key}: docker/default"))
    return findings


def apparmor_fields(template: PodTemplate):
    """(object, appArmorProfile) of the pod and each container (securityContext, 1.30+)."""
    pod = (template.spec.get("securityContext") or {}).get("appArmorProfile")
    if pod:
        yield template.ref, pod
    for c in template.containers():
        profile = (c.get("securityContext") or {}).get("appArmorProfile")
        if profile:
            yield where(template, c), profile


def find_apparmor_docker_default(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for t in inventory.templates:
        for key, value in sorted((t.annotations or {}).items()):
            if key.startswith(APPARMOR_CONTAINER) and str(value).strip() in DOCKER_APPARMOR:
                findings.append(finding("apparmor-docker-default", annotated(t, key),
                                        f"annotation {key}: {value}"))
        for obj, profile in apparmor_fields(t):
            if profile.get("type") == "Localhost" and profile.get("localhostProfile") == "docker-default":
                findings.append(finding("apparmor-docker-default", obj,
                                        "securityContext.appArmorProfile Localhost docker-default"))
    return findings


# ---------------------------------------------------------------- e: not node-coupled
# A pod's DOCKER_HOST on a remote daemon is rules.docker_env's (docker-remote-daemon,
# review); GitLab's [runners.docker] host is reported by the executor rule above.


RULES = (
    find_gitlab_runner_docker_executor,     # also reports docker-remote-daemon for remote hosts
    find_gitlab_runner_host_docker_socket,
    find_jenkins_agent_docker_socket,
    find_argo_docker_executor,
    find_configured_pod_docker_socket,
    find_drone_runner_docker,
    find_docker_daemon_config,
    find_docker_registry_certs,
    find_docker_unit_dropin,
    find_docker_service_restart,
    find_host_docker_command,
    find_seccomp_docker_default,
    find_apparmor_docker_default,
)


def configured_findings(inventory: Inventory, runtime: str) -> list[Finding]:
    return [f for rule in RULES for f in rule(inventory, runtime)]
