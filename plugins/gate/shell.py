"""Find calls of the docker CLI in commands and shell scripts, not mentions.

A word counts when it is in command position: first word of a line or of a
command after ; && || | $( ` or a keyword (then, do, sudo, exec, xargs...).
Comments are dropped; `docker-registry`, `docker.io/x` or `registry:2` are
other words and never match.
"""
from __future__ import annotations

import re
import shlex

DOCKER_COMMANDS = ("docker", "docker-compose", "nvidia-docker")
_SEPARATORS = re.compile(r"\|\||&&|[;|&`(){}]|\$\(")
_PREFIXES = {"then", "do", "else", "elif", "if", "while", "until", "!", "time", "sudo", "exec",
             "xargs", "nohup", "env", "command", "watch", "timeout"}


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment, comments=True)
    except ValueError:                       # unbalanced quotes: plain split, comments cut
        return segment.split("#", 1)[0].split()


def docker_calls(script: str) -> list[str]:
    """The lines of a script that run a Docker CLI, stripped."""
    calls = []
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        for segment in _SEPARATORS.split(stripped):
            words = _words(segment)
            while words and (words[0] in _PREFIXES or re.fullmatch(r"\w+=\S*", words[0])
                             or (words[0].startswith("-") and len(words) > 1)):
                words = words[1:]
            if words and words[0].rsplit("/", 1)[-1] in DOCKER_COMMANDS:
                calls.append(stripped)
                break
    return calls


def command_calls(command: list[str], args: list[str]) -> list[str]:
    """Docker CLI calls in a container's command+args (exec form or `sh -c`)."""
    argv = [*command, *args]
    if not argv:
        return []
    if argv[0].rsplit("/", 1)[-1] in DOCKER_COMMANDS:
        return [" ".join(argv)]
    calls = []
    for i, word in enumerate(argv):                 # sh -c SCRIPT, bash -lc SCRIPT
        if word.startswith("-") and "c" in word.lstrip("-") and i + 1 < len(argv):
            calls.extend(docker_calls(argv[i + 1]))
    return calls


def looks_like_script(key: str, value: str) -> bool:
    return key.endswith((".sh", ".bash")) or value.lstrip().startswith("#!")


SCRIPT_NAME = re.compile(r"(?i)script|command|cmd\b|entrypoint")


def env_holds_script(name: str, value: str) -> bool:
    """An env value a program runs as a script: named so (STARTUP_SCRIPT, the
    node-setup images that run it on the host through hostPID), or a #! file."""
    return looks_like_script(name, value) or bool(SCRIPT_NAME.search(name) and value.strip())


def env_scripts(pod_spec: dict, container: dict) -> list[tuple[str, str]]:
    """(origin, script) of the scripts a container holds in env, when the pod
    can act on its node (hostPID, or a privileged container): a script in a
    plain pod's env may be meant for pods it starts elsewhere (a CI runner's
    pre-build script runs in its job pods)."""
    context = container.get("securityContext") if isinstance(container.get("securityContext"), dict) else {}
    if not (pod_spec.get("hostPID") is True or context.get("privileged") is True):
        return []
    return [(f"env {env.get('name')}", env["value"]) for env in container.get("env") or []
            if isinstance(env, dict) and isinstance(env.get("value"), str)
            and env_holds_script(str(env.get("name", "")), env["value"])]
