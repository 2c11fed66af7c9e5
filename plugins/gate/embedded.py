"""Pods described inside objects of other kinds: CI tasks, workflow templates,
operators' custom resources. A Tekton Task's `steps`, an Argo Workflow
template's `container` or `script`, a Knative Service's or an operator's
embedded PodSpec all become containers the same way, and mount the node the
same way, so the gate finds them by shape, not by kind:

- a container is a mapping with a string `image` and one of a container's
  fields (name, command, args, script, source, env, volumeMounts, workingDir),
  or, where a controller supplies the image (an Actions runner's spec, a CI
  agent's pod patch), volumeMounts beside a name or the volumes they mount;
- a mapping that holds containers (a list of them, or one) is read as a pod
  spec: those containers, its own fields (hostNetwork, runtimeClassName, ...),
  and the nearest `volumes` list, its own or an enclosing mapping's (Tekton's
  and Argo's volumes sit beside the steps or the templates), and the volumes
  of a container-shaped spec itself (actions-runner-controller's RunnerSpec).

configured.py reads pod specs described inside ConfigMap values (a CI
controller's pod patch, a pod template file) with the same pod_specs.

A `script` or `source` (Tekton steps, Argo script templates) is the program
the container runs, so it is read as `sh -c <script>` when no command is given.
Sources: Tekton Task spec (steps, sidecars, volumes, script)
https://tekton.dev/docs/pipelines/tasks/; Argo Workflows templates (container,
script.source, spec.volumes) https://argo-workflows.readthedocs.io/en/latest/fields/.
"""
from __future__ import annotations

from . import shapes
from .findings import PodTemplate

CONTAINER_FIELDS = ("name", "command", "args", "script", "source", "env", "volumeMounts", "workingDir")
PROGRAM_FIELDS = ("script", "source")
MAX_DEPTH = 40          # objects nest far less; deeper input is not walked


def is_container(node) -> bool:
    """A string image beside a container's fields; or, without an image (a
    controller fills it in: an Actions runner, a CI agent's pod patch), volume
    mounts beside a name or beside the volumes they mount."""
    if not isinstance(node, dict):
        return False
    if isinstance(node.get("image"), str):
        return any(k in node for k in CONTAINER_FIELDS)
    return isinstance(node.get("volumeMounts"), list) and (
        isinstance(node.get("name"), str) or isinstance(node.get("volumes"), list))


def as_container(node: dict, fallback_name: str) -> dict:
    """The container as a PodSpec holds it: a name, a program as a command."""
    container = {**node, "name": node.get("name") if isinstance(node.get("name"), str) else fallback_name}
    program = next((node[k] for k in PROGRAM_FIELDS if isinstance(node.get(k), str)), None)
    if program is not None and not node.get("command"):
        container["command"] = ["sh", "-c", program]
    return container


def held_containers(node: dict) -> dict[str, list[dict]]:
    """field -> the containers right under it (a list of them, or one)."""
    held = {}
    for key, value in node.items():
        items = value if isinstance(value, list) else [value]
        containers = [item for item in items if is_container(item)]
        if containers:
            held[str(key)] = containers
    return held


def pod_specs(obj: dict) -> list[tuple[str, dict]]:
    """(field path, pod spec) for each mapping in obj that holds containers."""
    found: list[tuple[str, dict]] = []

    def visit(node, where: str, volumes, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        if isinstance(node, list):
            for i, item in enumerate(node):
                visit(item, f"{where}[{i}]", volumes, depth + 1)
            return
        if not isinstance(node, dict):
            return
        if isinstance(node.get("volumes"), list):
            volumes = node["volumes"]
        held = held_containers(node)
        if held:
            owner = node.get("name") if isinstance(node.get("name"), str) else ""
            containers = [as_container(c, owner or key) for key, cs in held.items() for c in cs]
            spec = {k: v for k, v in node.items() if k not in held}
            own = [v for c in containers if isinstance(c.get("volumes"), list) for v in c["volumes"]]
            found.append((where or "(top)", {**spec, "containers": containers,
                                             "volumes": [*(volumes or []), *own]}))
        for key, value in node.items():
            if key not in held and key != "volumes":
                visit(value, f"{where}.{key}" if where else str(key), volumes, depth + 1)

    visit({k: v for k, v in obj.items() if k not in ("metadata", "status")}, "", None, 0)
    return found


def templates(obj: dict) -> tuple[list[PodTemplate], list[str]]:
    """The pods obj describes as PodTemplates of its kind and name (metadata
    with its namespace filled in), and, in words, each mapping shaped like a
    pod whose fields have other types than a pod's (not read: the shape was a
    guess, a Helm values block or a policy's data may look so; the callers say
    so in a note, not as could-not-decide)."""
    meta, kind = obj["metadata"], str(obj.get("kind"))
    made, unreadable = [], []
    for field_path, spec in pod_specs(obj):
        found = shapes.problems({"spec": spec}, "Pod")
        if found:
            unreadable.append(f"{shapes.described(shapes.ref_of(obj), found)} (the pod described at {field_path})")
            continue
        made.append(PodTemplate(kind, meta.get("namespace", ""), meta["name"], spec,
                                meta.get("labels") or {}, meta.get("annotations") or {}))
    return made, unreadable



def named(items: list[str], most: int) -> str:
    """The first `most` items, and how many more."""
    return ", ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")


def read_as_pods_note(refs: list[str], where: str) -> str:
    return f"read as pods: the containers inside {named(refs, 5)} ({where} that describe pods: crigate.gate.embedded)"
