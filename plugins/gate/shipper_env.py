"""Log shippers whose parser is chosen by an environment variable in the pod.

The fluent/fluentd-kubernetes-daemonset images tail /var/log/containers/*.log
with `@type "#{ENV['FLUENT_CONTAINER_TAIL_PARSER_TYPE'] || 'json'}"`: unset or
`json`, every CRI line fails to parse; `cri` or a CRI regexp reads them.
"""
from __future__ import annotations

import re

from . import rules
from .findings import REVIEW, Finding, PodTemplate
from .inventory import Inventory
from .shippers.common import CRI_LINE, families, reads_container_logs

DAEMONSET_IMAGE = "fluent/fluentd-kubernetes-daemonset"
PARSER_ENV = "FLUENT_CONTAINER_TAIL_PARSER_TYPE"
IMAGE_DEFAULT = "json"      # README: "By default, these images use json parser"
CHECK = "fluentd-daemonset-parser-env"
UNRESOLVED = object()       # set from a Secret or the downward API: value unknown


def env_value(template: PodTemplate, container: dict, inventory: Inventory, name: str):
    """The variable's value in the container: None when unset, UNRESOLVED when unknown
    (env valueFrom a Secret or the downward API; envFrom Secrets are not read)."""
    value = None
    for source in container.get("envFrom", []):
        ref = (source.get("configMapRef") or {}).get("name")
        data = inventory.config_map(template.namespace, ref) if ref else {}
        prefix = source.get("prefix", "")
        value = next((v for k, v in data.items() if prefix + k == name), value)
    for env in container.get("env", []):
        if env.get("name") == name:
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
            if "value" in env:
                value = env["value"]
            elif ref:
                value = inventory.config_map(template.namespace, ref.get("name", "")).get(ref.get("key"))
            else:
                value = UNRESOLVED
    return value


def mounted_configs(template: PodTemplate, container: dict, inventory: Inventory) -> dict[str, str]:
    """key -> text of the ConfigMaps the container reads."""
    return {key: text for name in template.configmap_names(container)
            for key, text in inventory.config_map(template.namespace, name).items()}


def overrides_container_tail(configs: dict[str, str]) -> bool:
    """The pod brings its own container-log parsing instead of the image's env-driven one."""
    if "tail_container_parse.conf" in configs:
        return True
    return any(reads_container_logs(src) and re.search(r"@?type\s+[\"']?tail", src)
               for text in configs.values() for src in re.findall(r"<source>(.*?)</source>", text, re.S))


def parser_from_env(template: PodTemplate, container: dict, inventory: Inventory) -> bool:
    """Does this container's container-log parser come from PARSER_ENV?"""
    configs = mounted_configs(template, container, inventory)
    if any(f"ENV['{PARSER_ENV}']" in text or f'ENV["{PARSER_ENV}"]' in text for text in configs.values()):
        return True
    return DAEMONSET_IMAGE in container.get("image", "") and not overrides_container_tail(configs)


def verdict(value) -> str | None:
    """Severity for the parser the variable selects; None when it reads CRI lines."""
    if value is UNRESOLVED:
        return REVIEW
    parser = (value or IMAGE_DEFAULT).strip().strip("\"'")
    if parser == "cri" or CRI_LINE.search(parser):
        return None
    return families()[CHECK].severity if parser == "json" else REVIEW


def find(inventory: Inventory, runtime: str) -> list[Finding]:
    family, findings = families()[CHECK], []
    for t, c in rules.containers(inventory):
        if not parser_from_env(t, c, inventory):
            continue
        value = env_value(t, c, inventory, PARSER_ENV)
        severity = verdict(value)
        if severity is None:
            continue
        shown = ("unset (image default json)" if value is None else
                 "set from a Secret or the downward API" if value is UNRESOLVED else f"={value}")
        findings.append(family.finding(rules.where(t, c), f"{PARSER_ENV} {shown}", severity=severity))
    return findings
