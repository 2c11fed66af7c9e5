"""One audit per cluster: read the inventory, optionally visit the nodes, and
hand each rule what it needs."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from crigate.facts import MANAGED_BY_KEY, MANAGED_BY_SELECTOR, MANAGED_BY_VALUE

from . import customresources, nodecheck, suppress
from .apiretry import Retrier
from .findings import Finding
from .inventory import NAMESPACES, Inventory, Reader, read_inventory
from .manifests import Located, inventory_from, locate


@dataclass
class Audit:
    inventory: Inventory
    node_handlers: dict[str, set[str]] = field(default_factory=dict)
    node_findings: list[Finding] = field(default_factory=list)
    node_facts: dict[str, dict] = field(default_factory=dict)
    platform: str = "auto"        # --platform: eks, gke, aks, generic, or auto (detected from the nodes)
    target_version: str = ""      # --target-version: the minor the nodes run after the switch ("" = theirs)


def drop_crigate_objects(inventory: Inventory, crigate_namespaces: set[str]) -> None:
    """crigate's own namespaces and debug pods are not the user's workloads."""
    key, value = MANAGED_BY_KEY, MANAGED_BY_VALUE
    inventory.templates = [t for t in inventory.templates if t.namespace not in crigate_namespaces
                           and t.labels.get(key) != value]
    inventory.config_maps = {k: v for k, v in inventory.config_maps.items()
                             if k[0] not in crigate_namespaces}
    inventory.runtime_classes = [rc for rc in inventory.runtime_classes
                                 if (rc["metadata"].get("labels") or {}).get(key) != value]
    inventory.events = [e for e in inventory.events
                        if e.get("metadata", {}).get("namespace") not in crigate_namespaces]


def crigate_namespaces(reader: Reader) -> set[str]:
    from kubernetes import client
    try:
        found = reader.get(NAMESPACES.path(), {"labelSelector": MANAGED_BY_SELECTOR},
                           what=f"{NAMESPACES.rbac(None)} labelled {MANAGED_BY_SELECTOR}")
    except client.ApiException:
        return set()
    return {n["metadata"]["name"] for n in found.get("items") or []}


def run_audit(api_client, hosts: dict | None = None, retrier: Retrier | None = None) -> Audit:
    """hosts: node name -> testinfra host, given only with --node-checks;
    retrier: how the reads survive faults (default: apiretry's budget)."""
    reader = Reader(api_client, retrier)
    inventory = read_inventory(api_client, reader)
    customresources.read(reader, inventory)
    drop_crigate_objects(inventory, crigate_namespaces(reader))
    if said := reader.retrier.summary():        # the faults met, in the verdict's notes
        inventory.notes.append(said)
    audit = Audit(inventory)
    for node, host in (hosts or {}).items():
        audit.node_handlers[node] = nodecheck.runtime_handlers(host)
        audit.node_findings.extend(nodecheck.daemon_json(host, node))
        audit.node_facts[node] = nodecheck.facts(host)
        audit.node_findings.extend(nodecheck.facts_findings(node, audit.node_facts[node]))
    return audit


def finalize(findings: list[Finding], inventory: Inventory, suppressions=()) -> list[Finding]:
    """Findings with the file:line of their object (manifests) and the
    suppressions that match them marked."""
    located = [replace(f, location=locate(f.object, inventory.locations)) if inventory.locations else f
               for f in findings]
    return suppress.apply(located, list(suppressions))


def manifests_audit(objects: list[Located], skipped: list[str], namespace: str = "default") -> Audit:
    """The audit of manifest objects (manifests.read_objects); documents that
    are not Kubernetes objects are named in a note."""
    inventory = inventory_from(objects, namespace)
    if skipped:
        inventory.notes.append(f"{len(skipped)} YAML document(s) that are not Kubernetes objects "
                               f"skipped: {', '.join(skipped[:5])}" + (" ..." if len(skipped) > 5 else ""))
    return Audit(inventory)
