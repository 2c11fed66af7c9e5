"""Which rules make up the gate, by area. engine.decide runs them all, for
crigate-gate and the gate suite alike (whose checks show one area each), so a
cluster and its manifests give the same findings."""
from __future__ import annotations

from collections.abc import Callable

from . import agents, configured, dockerwatch, nodetemplates, rules, shipper_env, sockets
from .audit import Audit
from .findings import Finding

Rule = Callable[[Audit, str], list[Finding]]


def _on_inventory(rule) -> Rule:
    return lambda audit, target: rule(audit.inventory, target)


AREAS: dict[str, tuple[Rule, ...]] = {
    "docker_socket_mounts": (lambda audit, target: sockets.socket_mounts(
        audit.inventory, {"cri_tools": rules.cri_tools(target)}),),
    "docker_data_mounts": (lambda audit, target: sockets.data_mounts(
        audit.inventory, {"cri_tools": rules.cri_tools(target)}),),
    "docker_env": (_on_inventory(rules.docker_env),
                   lambda audit, target: sockets.runtime_settings(audit.inventory)),
    "docker_cli": (_on_inventory(rules.docker_cli),),
    "log_shippers": (_on_inventory(rules.log_shippers), _on_inventory(shipper_env.find)),
    "node_agents": (lambda audit, target: agents.node_agents(
        audit.inventory, target, set_for_cri=sockets.set_for_cri), _on_inventory(dockerwatch.find)),
    "runtime_configured_pods": tuple(_on_inventory(r) for r in configured.RULES),
    "nodes": (_on_inventory(rules.node_runtime), _on_inventory(nodetemplates.find)),
    "gpu": (lambda audit, target: rules.gpu_runtime(audit.inventory, target, audit.node_handlers),),
    "node_files": (lambda audit, target: list(audit.node_findings),),
}


def findings_of(area: str, audit: Audit, target: str) -> list[Finding]:
    return [f for rule in AREAS[area] for f in rule(audit, target)]
