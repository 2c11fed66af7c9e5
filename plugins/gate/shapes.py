"""The Kubernetes types of every field the gate's rules and inventory read,
as one table (path -> expected type), and the check of an object against it.

An object whose fields have other types (a `containers` that is a string, a
container without a name) is one the gate cannot decide on: the check names
the field, and the object is left out of the audit (could not decide), never
read as if it were empty. Types from the Kubernetes API reference (core/v1
PodSpec, Container, Volume, EnvVar, ObjectMeta, Node, ConfigMap; node.k8s.io/v1
RuntimeClass): https://kubernetes.io/docs/reference/kubernetes-api/

Paths: `a.b` a field, `a[]` each element of the list `a`, `a.*` each value of
the mapping `a`. A null where the table has a field counts as unset, as the
API server treats it (the key is dropped); a null list element is a problem.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from .inventory import WORKLOADS


@dataclass(frozen=True)
class Expect:
    type: type
    required: bool = False


LIST, MAPPING, STRING, BOOL = Expect(list), Expect(dict), Expect(str), Expect(bool)
NAME = Expect(str, required=True)

CONTAINER = {
    "": MAPPING, "name": NAME, "image": STRING,
    "command": LIST, "command[]": STRING, "args": LIST, "args[]": STRING,
    "env": LIST, "env[]": MAPPING, "env[].name": NAME, "env[].value": STRING,
    "env[].valueFrom": MAPPING, "env[].valueFrom.configMapKeyRef": MAPPING,
    "env[].valueFrom.configMapKeyRef.name": STRING, "env[].valueFrom.configMapKeyRef.key": STRING,
    "envFrom": LIST, "envFrom[]": MAPPING, "envFrom[].prefix": STRING,
    "envFrom[].configMapRef": MAPPING, "envFrom[].configMapRef.name": STRING,
    "volumeMounts": LIST, "volumeMounts[]": MAPPING, "volumeMounts[].name": STRING,
    "volumeMounts[].mountPath": STRING, "volumeMounts[].subPath": STRING,
    "volumeMounts[].subPathExpr": STRING, "volumeMounts[].readOnly": BOOL,
    "resources": MAPPING, "resources.limits": MAPPING, "resources.requests": MAPPING,
    "securityContext": MAPPING, "securityContext.appArmorProfile": MAPPING,
    "securityContext.appArmorProfile.type": STRING,
    "securityContext.appArmorProfile.localhostProfile": STRING,
}
POD_SPEC = {
    "": MAPPING, "runtimeClassName": STRING,
    "volumes": LIST, "volumes[]": MAPPING, "volumes[].name": STRING,
    "volumes[].hostPath": MAPPING, "volumes[].hostPath.path": STRING,
    "volumes[].configMap": MAPPING, "volumes[].configMap.name": STRING,
    "volumes[].projected": MAPPING, "volumes[].projected.sources": LIST,
    "volumes[].projected.sources[]": MAPPING, "volumes[].projected.sources[].configMap": MAPPING,
    "volumes[].projected.sources[].configMap.name": STRING,
    "securityContext": MAPPING, "securityContext.appArmorProfile": MAPPING,
    "securityContext.appArmorProfile.type": STRING,
    "securityContext.appArmorProfile.localhostProfile": STRING,
    **{f"{group}[]{'.' if path else ''}{path}": t
       for group in ("containers", "initContainers", "ephemeralContainers")
       for path, t in CONTAINER.items()},
    "containers": LIST, "initContainers": LIST, "ephemeralContainers": LIST,
}
METADATA = {
    "kind": STRING, "apiVersion": STRING, "metadata": MAPPING, "metadata.name": STRING,
    "metadata.namespace": STRING, "metadata.labels": MAPPING, "metadata.labels.*": STRING,
    "metadata.annotations": MAPPING, "metadata.annotations.*": STRING,
    "metadata.ownerReferences": LIST, "metadata.ownerReferences[]": MAPPING,
    "metadata.ownerReferences[].kind": STRING,
}


def under(prefix: str, table: dict[str, Expect]) -> dict[str, Expect]:
    return {".".join(p for p in (prefix, path) if p): t for path, t in table.items()}


def workload(where: tuple[str, ...]) -> dict[str, Expect]:
    """Each level down to the pod spec a mapping, the template's annotations, the spec."""
    levels = {".".join(where[:n]): MAPPING for n in range(1, len(where))}
    template = ".".join(where[:-1])
    return {**levels, **under(template, {"metadata": MAPPING, "metadata.annotations": MAPPING,
                                         "metadata.annotations.*": STRING}),
            **under(".".join(where), POD_SPEC)}


SCHEMA: dict[str, dict[str, Expect]] = {     # kind -> path -> type, for what the gate reads
    **{kind: workload(where) for kind, (_, where) in WORKLOADS.items()},
    "Pod": under("spec", POD_SPEC),
    "ConfigMap": {"data": MAPPING, "data.*": STRING},
    "Node": {"status": MAPPING, "status.nodeInfo": MAPPING,
             "status.nodeInfo.containerRuntimeVersion": STRING,
             "status.addresses": LIST, "status.addresses[]": MAPPING, "status.addresses[].address": STRING,
             "status.runtimeHandlers": LIST, "status.runtimeHandlers[]": MAPPING,
             "status.runtimeHandlers[].name": STRING},
    "RuntimeClass": {"handler": STRING},
    "Event": {"reason": STRING, "message": STRING},
    "List": {"items": LIST, "items[]": MAPPING},          # also FooList (kubectl get -o yaml)
}
WORDS = {list: "a list", dict: "a mapping", str: "a string", bool: "true or false",
         int: "a number", float: "a number", type(None): "null"}
TOKEN = re.compile(r"\[\]|[^.\[\]]+")


def table_of(kind: str) -> dict[str, Expect]:
    own = SCHEMA.get("List" if kind.endswith("List") else kind, {})
    return {**METADATA, **own}


def found_words(value) -> str:
    return WORDS.get(type(value), type(value).__name__)


def shown(path: list) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def values_at(obj, tokens: list[str], path: list | None = None):
    """(concrete path, parent, key, value) for each value the tokens name;
    levels of a wrong type yield nothing (their own path reports them)."""
    path = path or []
    if not tokens:
        return
    token, rest = tokens[0], tokens[1:]
    if token == "[]":
        pairs = enumerate(obj) if isinstance(obj, list) else ()
    elif token == "*":
        pairs = list(obj.items()) if isinstance(obj, dict) else ()
    else:
        pairs = [(token, obj[token])] if isinstance(obj, dict) and token in obj else ()
    for key, value in pairs:
        if rest:
            yield from values_at(value, rest, [*path, key])
        else:
            yield [*path, key], obj, key, value


@cache
def compiled(kind: str, named: bool) -> tuple[tuple[list[str], Expect], ...]:
    """The kind's table as (path tokens, type), parents before their fields."""
    table = {**table_of(kind), **({"metadata.name": NAME} if named else {})}
    paths = sorted((TOKEN.findall(spec), expect) for spec, expect in table.items() if spec)
    return tuple(sorted(paths, key=lambda item: len(item[0])))


def problems(obj: dict, kind: str, named: bool = False) -> list[tuple[list, str]]:
    """(field path, what is wrong) for each field of obj whose type is not the
    one Kubernetes gives it; nulls at known fields are dropped (unset). named:
    metadata.name is required (objects read from the API always have one)."""
    found = []
    for tokens, expect in compiled(kind, named):
        if expect.required:
            for parent_path, _, _, parent in values_at(obj, tokens[:-1]) if tokens[:-1] else [([], None, None, obj)]:
                if isinstance(parent, dict) and parent.get(tokens[-1]) is None:
                    found.append(([*parent_path, tokens[-1]], f"missing, required: {WORDS[expect.type]}"))
        for path, parent, key, value in list(values_at(obj, tokens)):
            if value is None and isinstance(parent, dict):
                del parent[key]                   # null: unset, as the API server reads it
            elif not isinstance(value, expect.type):
                found.append((path, f"expected {WORDS[expect.type]}, found {found_words(value)}"))
    return found


def ref_of(obj: dict, namespace: str = "", kind: str = "") -> str:
    """Kind/namespace/name as far as the object's own fields can tell (API
    list items carry no kind: the list's is given)."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    parts = [obj.get("kind") or kind, meta.get("namespace") or namespace, meta.get("name")]
    return "/".join(p if isinstance(p, str) and p else "?" for p in parts)


def described(ref: str, found: list[tuple[list, str]], limit: int = 3) -> str:
    """`Pod/default/web: spec.containers: expected a list, found a string` (the first few)."""
    said = "; ".join(f"{shown(path)}: {what}" for path, what in found[:limit])
    return f"{ref}: {said}" + (f" (and {len(found) - limit} more)" if len(found) > limit else "")
