"""The gate's inventory from manifest files instead of a cluster: what
`kubectl apply -f` would create, read offline (pull-request CI).

Files, directories (their *.yaml, *.yml and *.json, recursively) or `-` for
stdin; multi-document YAML, `List` kinds (`kubectl get -o yaml` output) and
the output of `helm template` / `kustomize build`. Each object keeps the file
and line it starts on (and helm's `# Source:` template) so a finding can say
where to fix it. Secrets are skipped unread, as on a cluster.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from .inventory import WORKLOADS, Inventory, pod_templates, templates_from

SUFFIXES = (".yaml", ".yml", ".json")
HELM_SOURCE = re.compile(r"^#\s*Source:\s*(\S+)")


class ManifestError(ValueError):
    """A manifest crigate cannot read: names the file and line."""


@dataclass(frozen=True)
class Located:
    obj: dict
    path: str
    line: int
    template: str = ""      # helm's `# Source:` comment above the document

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" + (f" ({self.template})" if self.template else "")


def manifest_files(paths: list[str]) -> list[str]:
    """Each path, a directory expanded to its manifest files in sorted order."""
    files = []
    for given in paths:
        path = Path(given)
        if given == "-":
            files.append(given)
        elif path.is_dir():
            files.extend(str(p) for p in sorted(path.rglob("*")) if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(given)
        else:
            raise ManifestError(f"{given}: no such file or directory (give manifest files, "
                                "directories, or - for stdin)")
    return files


def helm_sources(text: str) -> dict[int, str]:
    """line number (1-based) -> the helm template named by a `# Source:` comment on it."""
    return {n: m.group(1) for n, line in enumerate(text.splitlines(), 1)
            if (m := HELM_SOURCE.match(line.strip()))}


def is_kubernetes_object(obj) -> bool:
    return isinstance(obj, dict) and bool(obj.get("kind")) and bool(obj.get("apiVersion"))


def documents(text: str, path: str, skipped: list[str] | None = None) -> list[Located]:
    """Every object in one file, with the line it starts on; List items one by
    one. Documents that are not Kubernetes objects go to skipped (file:line)."""
    skipped = [] if skipped is None else skipped
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)     # libyaml when PyYAML has it
    sources = helm_sources(text)
    found = []
    try:
        while loader.check_node():
            node = loader.get_node()
            obj = loader.construct_document(node)
            line = node.start_mark.line + 1
            if not is_kubernetes_object(obj):
                if obj is not None:           # an Ansible play, a values file: not for the gate
                    skipped.append(f"{path}:{line}")
                continue
            template = next((sources[n] for n in sorted(sources, reverse=True) if n <= line), "")
            items = list_items(node, obj)
            found.extend(Located(o, path, ln, template) for o, ln in items) if items is not None \
                else found.append(Located(obj, path, line, template))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise ManifestError(f"{where}: not valid YAML: {getattr(err, 'problem', err)}") from None
    finally:
        loader.dispose()
    return found


def list_items(node: yaml.Node, obj: dict) -> list[tuple[dict, int]] | None:
    """(item, line) of a `kind: List` (or FooList) document; None for other kinds."""
    if not (str(obj.get("kind", "")).endswith("List") and isinstance(obj.get("items"), list)):
        return None
    items_node = next((v for k, v in node.value if getattr(k, "value", None) == "items"), None)
    lines = [n.start_mark.line + 1 for n in getattr(items_node, "value", [])]
    return [(item, lines[i] if i < len(lines) else node.start_mark.line + 1)
            for i, item in enumerate(obj["items"]) if isinstance(item, dict)]


def read_objects(paths: list[str], stdin=None, skipped: list[str] | None = None) -> list[Located]:
    objects = []
    for path in manifest_files(paths):
        if path == "-":
            text, shown = (stdin or sys.stdin).read(), "<stdin>"
        else:
            try:
                text, shown = Path(path).read_text(), path
            except (OSError, UnicodeDecodeError) as err:
                raise ManifestError(f"{path}: cannot read: {err}") from None
        objects.extend(documents(text, shown, skipped))
    return objects


def inventory_from(objects: list[Located], namespace: str = "default") -> Inventory:
    """The Inventory a cluster holding these objects would give the gate;
    objects without metadata.namespace land in `namespace`, as with kubectl."""
    inventory = Inventory()
    objects = list({_identity(o.obj, namespace): o for o in objects}.values())   # kubectl: the last wins
    for located in objects:
        obj, kind = located.obj, str(located.obj.get("kind", ""))
        meta = obj.get("metadata") or {}
        if not isinstance(meta, dict) or not meta.get("name"):
            continue            # generateName objects and fragments: nothing to name a finding by
        meta = {**meta, "namespace": meta.get("namespace") or namespace}
        obj = {**obj, "metadata": meta}
        if kind in WORKLOADS or kind == "Pod":
            made = (templates_from(kind, [obj], WORKLOADS[kind][1]) if kind in WORKLOADS
                    else pod_templates([obj]))
            inventory.templates.extend(made)
            inventory.locations.update({t.ref: located.where for t in made})
            continue
        if kind == "ConfigMap":
            inventory.config_maps[(meta["namespace"], meta["name"])] = {
                str(k): str(v) for k, v in (obj.get("data") or {}).items()}
            inventory.locations[f"ConfigMap/{meta['namespace']}/{meta['name']}"] = located.where
        elif kind in ("Node", "RuntimeClass"):       # cluster-scoped
            (inventory.nodes if kind == "Node" else inventory.runtime_classes).append(obj)
            inventory.locations[f"{kind}/{meta['name']}"] = located.where
        # anything else (Secrets: never read; Services, CRDs...) holds nothing the rules read
    inventory.notes.append("read from manifests: no nodes, events or kubelet configs unless given")
    return inventory


def _identity(obj: dict, namespace: str) -> tuple:
    meta = obj.get("metadata") or {}
    unnamed = id(obj) if not meta.get("name") else 0
    return (obj.get("kind"), meta.get("namespace") or namespace, meta.get("name"), unnamed)


def locate(object_ref: str, locations: dict[str, str]) -> str:
    """The file:line of the object a finding names (`Kind/ns/name[/container]`,
    `ConfigMap/ns/name[key] ...`): the longest known ref it starts with."""
    best = ""
    for ref in locations:
        if (object_ref == ref or object_ref.startswith((ref + "/", ref + "[", ref + " "))) \
                and len(ref) > len(best):
            best = ref
    return locations.get(best, "")
