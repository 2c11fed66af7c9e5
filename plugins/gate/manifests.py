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
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from . import embedded, shapes
from .findings import numbered
from .inventory import WORKLOADS, Inventory, pod_templates, templates_from

SUFFIXES = (".yaml", ".yml", ".json")
HELM_SOURCE = re.compile(r"^#\s*Source:\s*(\S+)")
# Bounds on what one file may cost to read. Aliases share nodes while YAML is
# composed, but every reader after that walks each copy: a 600-byte "billion
# laughs" document expands to ~10^9 nodes. Kubernetes objects written with
# anchors reuse a few blocks; far below this.
MAX_ALIAS_NODES = 100_000          # nodes that aliases add to one document
MAX_FILE_BYTES = 64 * 2**20        # one manifest file (or stdin)
# kinds whose fields are never read as pods: Secrets are never read at all
NOT_POD_HOLDERS = {"Secret", "ConfigMap", "Node", "RuntimeClass", "CustomResourceDefinition", "Event"}


class ManifestError(ValueError):
    """A manifest crigate cannot read: names the file and line."""


@dataclass(frozen=True)
class Located:
    obj: dict
    path: str
    line: int
    template: str = ""      # helm's `# Source:` comment above the document
    node: yaml.Node | None = field(default=None, compare=False, repr=False)   # to locate a field

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
            line = node.start_mark.line + 1
            refuse_alias_bomb(node, f"{path}:{line}")
            obj = loader.construct_document(node)
            if not is_kubernetes_object(obj):
                if obj is not None:           # an Ansible play, a values file: not for the gate
                    skipped.append(f"{path}:{line}")
                continue
            template = next((sources[n] for n in sorted(sources, reverse=True) if n <= line), "")
            items = list_items(node, obj)
            whole = items is None or not all(isinstance(o, dict) for o, _, _ in items)
            found.extend(Located(o, path, ln, template, n) for o, ln, n in items or []
                         if isinstance(o, dict))
            if whole:                        # not a List, or one whose items shapes.problems names
                found.append(Located(obj, path, line, template, node))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise ManifestError(f"{where}: not valid YAML: {getattr(err, 'problem', err)}") from None
    except RecursionError:
        raise ManifestError(f"{path}: nested deeper than crigate reads (no Kubernetes object "
                            "is); check the file") from None
    finally:
        loader.dispose()
    return found


def refuse_alias_bomb(root: yaml.Node, where: str) -> None:
    """ManifestError when the document's aliases add more than MAX_ALIAS_NODES
    nodes, or refer to themselves; counted on the composed nodes (each once),
    so it costs as much as the document's text, never its expansion."""
    size: dict[int, int] = {}
    ancestors: set[int] = set()             # nodes whose children are being counted
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                    else node.value if isinstance(node, yaml.SequenceNode) else [])
        if done:
            size[id(node)] = min(1 + sum(size[id(c)] for c in children), 2**62)
            ancestors.discard(id(node))
            continue
        if id(node) in size:
            continue
        if id(node) in ancestors:
            raise ManifestError(f"{where}: a YAML alias refers to the node that holds it "
                                "(recursive); Kubernetes objects cannot; write it out without the alias")
        ancestors.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)
    added = size[id(root)] - len(size)
    if added > MAX_ALIAS_NODES:
        raise ManifestError(f"{where}: YAML aliases expand this document by more than "
                            f"{MAX_ALIAS_NODES:,} nodes (an alias bomb?); refused unread: write the "
                            "objects out without anchors and aliases (e.g. helm template output)")


def list_items(node: yaml.Node, obj: dict) -> list[tuple[object, int, yaml.Node | None]] | None:
    """(item, line, node) of a `kind: List` (or FooList) document; None for
    other kinds, and for a List whose items are not a list."""
    if not (isinstance(obj.get("kind"), str) and obj["kind"].endswith("List")
            and isinstance(obj.get("items"), list)):
        return None
    items_node = child_node(node, "items")
    nodes = list(getattr(items_node, "value", []))
    return [(item, (nodes[i] if i < len(nodes) else node).start_mark.line + 1,
             nodes[i] if i < len(nodes) else None) for i, item in enumerate(obj["items"])]


def child_node(node: yaml.Node | None, key) -> yaml.Node | None:
    """The node of a mapping's key or a sequence's index, if the document spells it out."""
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if getattr(k, "value", None) == key), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        return node.value[key]
    return None


def line_of(located: Located, path: list) -> int:
    """The line of the field at path (as far as the YAML spells it out), else the object's."""
    node, line = located.node, located.line
    for key in path:
        node = child_node(node, key)
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def read_objects(paths: list[str], stdin=None, skipped: list[str] | None = None) -> list[Located]:
    objects = []
    for path in manifest_files(paths):
        shown = "<stdin>" if path == "-" else path
        try:
            text = (stdin or sys.stdin).read(MAX_FILE_BYTES + 1) if path == "-" else \
                Path(path).read_text() if Path(path).stat().st_size <= MAX_FILE_BYTES else None
        except (OSError, UnicodeDecodeError) as err:
            raise ManifestError(f"{path}: cannot read: {err}") from None
        if text is None or len(text) > MAX_FILE_BYTES:
            raise ManifestError(f"{shown}: larger than {MAX_FILE_BYTES // 2**20} MiB, refused unread "
                                "(crigate.gate.manifests.MAX_FILE_BYTES); split the manifests into files")
        objects.extend(documents(text, shown, skipped))
    return objects


def inventory_from(objects: list[Located], namespace: str = "default") -> Inventory:
    """The Inventory a cluster holding these objects would give the gate;
    objects without metadata.namespace land in `namespace`, as with kubectl."""
    inventory = Inventory()
    objects = readable(objects, namespace, inventory.unreadable)
    objects = definitions(objects, namespace, inventory.notes)
    held_pods: list[str] = []
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
        elif kind not in NOT_POD_HOLDERS:
            made, unread = embedded.templates(obj)       # a shape guessed, not a kind known: notes
            inventory.notes.extend(f"{located.where}: not read as a pod: {said}" for said in unread)
            if made:
                inventory.templates.extend(made)
                inventory.locations[made[0].ref] = located.where
                held_pods.append(made[0].ref)
            else:                   # it may set up nodes instead (nodetemplates.py)
                ref = shapes.ref_of(obj)
                inventory.node_templates.append((ref, obj))
                inventory.locations[ref] = located.where
        # anything else (Secrets: never read; Services...) holds nothing the rules read
    if held_pods:
        inventory.notes.append(embedded.read_as_pods_note(held_pods, "objects of other kinds"))
    inventory.notes.append("read from manifests: no nodes, events or kubelet configs unless given")
    return inventory


def definitions(objects: list[Located], namespace: str, notes: list[str]) -> list[Located]:
    """Each object once; one defined twice the same way is read once (the
    last, as kubectl applies it). One defined in different ways (two renders,
    a kustomize base and its overlay) is read in every way, so the verdict does
    not hang on the order of the files: the last keeps its name, each earlier
    one is read as NAME@N, and a note names them all. A pod's ConfigMap is the
    one defined beside it (same directory: the same render) where that is one
    of the ways."""
    by_identity: dict[tuple, list[Located]] = {}
    for located in objects:
        by_identity.setdefault(_identity(located.obj, namespace), []).append(located)
    kept, renamed = [], {}          # (directory, namespace, ConfigMap name) -> the name it is read as
    for (kind, ns, name, _), found in by_identity.items():
        ways = []
        for located in found:
            ways = [w for w in ways if w.obj != located.obj] + [located]
        if len(ways) == 1:
            kept.append(ways[0])
            continue
        names = [numbered(name, n) for n in range(1, len(ways))] + [name]
        for way, read_as in zip(ways, names, strict=True):
            kept.append(replace(way, obj={**way.obj, "metadata": {**way.obj["metadata"], "name": read_as}}))
            if kind == "ConfigMap":
                key = (str(Path(way.path).parent), ns, name)
                renamed[key] = None if key in renamed else read_as     # two ways in one directory: by name
        notes.append(f"{kind}/{ns}/{name} is defined {len(ways)} ways ("
                     + ", ".join(f"{n}: {w.where}" for n, w in zip(names, ways, strict=True))
                     + "); each is read, and the cluster holds the one applied last")
    return [with_config_maps(located, renamed, namespace) for located in kept]


def with_config_maps(located: Located, renamed: dict, namespace: str) -> Located:
    """The object with its pods' ConfigMap names as read beside it (definitions)."""
    meta = located.obj.get("metadata") or {}
    ns = meta.get("namespace") or namespace
    directory = str(Path(located.path).parent)
    names = {name: read_as for (d, n, name), read_as in renamed.items()
             if d == directory and n == ns and read_as and read_as != name}
    if not names or located.obj.get("kind") == "ConfigMap":
        return located
    return replace(located, obj=renamed_refs(located.obj, names))


def renamed_refs(node, names: dict[str, str]):
    """A copy of node with each ConfigMap reference (volume, projected source,
    envFrom, env valueFrom) to a name in names made to the name it maps to."""
    if isinstance(node, list):
        return [renamed_refs(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {k: renamed_refs(v, names) for k, v in node.items()}
    for key in ("configMap", "configMapRef", "configMapKeyRef"):
        ref = copy.get(key)
        if isinstance(ref, dict) and ref.get("name") in names:
            copy[key] = {**ref, "name": names[ref["name"]]}
    return copy


def readable(objects: list[Located], namespace: str, unreadable: list[str]) -> list[Located]:
    """The objects whose fields have the Kubernetes types the gate reads; each
    other one named in unreadable (`file:line: Kind/ns/name: field: expected
    ..., found ...`, the line of the first wrong field) and left out."""
    kept = []
    for located in objects:
        found = shapes.problems(located.obj, str(located.obj.get("kind", "")))
        if not found:
            kept.append(located)
            continue
        at = f"{located.path}:{line_of(located, found[0][0])}" + (
            f" ({located.template})" if located.template else "")
        unreadable.append(f"{at}: {shapes.described(shapes.ref_of(located.obj, namespace), found)}")
    return kept


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
