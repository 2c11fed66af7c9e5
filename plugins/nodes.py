"""Which nodes a runtime's checks run on: Ready nodes (optionally those a
label selector picks) whose status reports that runtime. A cluster mid-way
through a migration has several; `--runtime auto` checks each runtime found."""
from __future__ import annotations

from crigate.testbed.runtimes import detection_order
from kubernetes import client

# Labels that name a node's group, first found wins: EKS managed node groups,
# eksctl, Karpenter, GKE, AKS; kind and kubeadm nodes have none.
NODE_GROUP_LABELS = ("eks.amazonaws.com/nodegroup", "alpha.eksctl.io/nodegroup-name",
                     "karpenter.sh/nodepool", "cloud.google.com/gke-nodepool",
                     "kubernetes.azure.com/agentpool")


def runtime_version(node: client.V1Node) -> str:
    return node.status.node_info.container_runtime_version if node.status.node_info else ""


def runtime_of(node: client.V1Node) -> str | None:
    """The runtime a node reports (containerd://2.4.2 -> containerd), None if unknown."""
    version = runtime_version(node)
    return next((p.runtime for p in detection_order() if version.startswith(p.scheme)), None)


def is_ready(node: client.V1Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def node_group(node: client.V1Node) -> str:
    labels = node.metadata.labels or {}
    return next((labels[k] for k in NODE_GROUP_LABELS if k in labels), "")


def describe(node: client.V1Node) -> dict:
    return {"runtime_version": runtime_version(node), "group": node_group(node),
            "ready": is_ready(node)}


def runtimes_present(nodes: list[client.V1Node]) -> tuple[str, ...]:
    """Runtimes of the Ready nodes, in crigate's order; ValueError names a node
    whose runtime crigate does not know."""
    unknown = [f"{n.metadata.name} ({runtime_version(n) or 'no runtime reported'})"
               for n in nodes if is_ready(n) and runtime_of(n) is None]
    if unknown:
        raise ValueError(f"nodes with a runtime crigate has no profile for: {', '.join(unknown)}")
    found = {runtime_of(n) for n in nodes if is_ready(n)}
    order = [p.runtime for p in sorted(detection_order(), key=lambda p: p.baseline)]
    return tuple(r for r in order if r in found)


def of_runtime(nodes: list[client.V1Node], runtime: str) -> list[str]:
    """Names of the Ready nodes that run runtime."""
    return [n.metadata.name for n in nodes if is_ready(n) and runtime_of(n) == runtime]


def not_ready(nodes: list[client.V1Node], runtime: str | None = None) -> dict[str, str]:
    """Nodes (of runtime, when given) that are not Ready -> why, from their Ready condition."""
    found = {}
    for node in nodes:
        if is_ready(node) or (runtime and runtime_of(node) != runtime):
            continue
        ready = next((c for c in node.status.conditions or [] if c.type == "Ready"), None)
        found[node.metadata.name] = (
            f"node is not Ready (Ready={ready.status}, {ready.reason or 'no reason'}: "
            f"{(ready.message or '').strip()[:200]}, since {ready.last_transition_time})"
            if ready else "node reports no Ready condition")
    return found
