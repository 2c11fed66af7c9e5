"""Filebeat / Elastic Agent inputs and processors, YAML.

Filebeat puts paths and parsers on the input (`filebeat.inputs[]`). Elastic
Agent's standalone policy (agent.yml) puts them on the input's `streams[]`,
which take the input's `type` (filestream, or `logfile` for the log input):
elastic/elastic-agent deploy/helm/elastic-agent/templates/integrations/
_kubernetes/_kubernetes_logs_containers.tpl, and its standalone manifests."""
from __future__ import annotations

from ..configtext import load_yaml, walk
from .common import Problem, as_list, path_problem, problem, reads_container_logs

INPUT_TYPES = ("docker", "container", "log", "logfile", "filestream")


def is_input(node: dict) -> bool:
    return node.get("type") in INPUT_TYPES and any(
        k in node for k in ("paths", "containers", "containers.ids", "containers.paths"))


def inputs(doc) -> list[dict]:
    """Every input in a parsed document; an Elastic Agent stream as an input of
    its input's type."""
    found = []
    for node in walk(doc):
        if not isinstance(node, dict) or node.get("type") not in INPUT_TYPES:
            continue
        if is_input(node):
            found.append(node)
        streams = [{"type": node["type"], **s} for s in as_list(node.get("streams"))
                   if isinstance(s, dict) and s.get("type") in (None, node["type"])]
        found += [s for s in streams if is_input(s)]
    return found


def parsers(node: dict) -> dict[str, dict]:
    """filestream parsers by name: {"container": {...}, "ndjson": {...}}."""
    found = {}
    for entry in as_list(node.get("parsers")):
        if isinstance(entry, dict):
            found.update({k: v if isinstance(v, dict) else {} for k, v in entry.items()})
    return found


def decodes_json(node: dict) -> bool:
    return "ndjson" in parsers(node) or isinstance(node.get("json"), dict) or any(
        str(k).startswith("json.") for k in node)


def input_problems(node: dict) -> list[Problem]:
    kind, paths = node["type"], [str(p) for p in as_list(node.get("paths"))]
    where = f"Filebeat {kind} input on {', '.join(paths) or 'containers.ids'}"
    if kind == "docker":
        return [problem("filebeat-docker-input", where)]
    found = [p for path in paths for p in path_problem(f"Filebeat {kind} input", path)]
    container = node if kind == "container" else parsers(node).get("container")
    if container is not None and str(container.get("format", "auto")).lower() == "docker":
        found.append(problem("filebeat-docker-format", f"{where} with format: docker"))
    elif (container is None and kind in ("log", "logfile", "filestream") and decodes_json(node)
          and any(reads_container_logs(p) for p in paths)):
        found.append(problem("filebeat-json-decoding", f"{where} decoded as JSON"))
    return found


def docker_metadata(node) -> bool:
    return isinstance(node, list) and any(
        isinstance(p, dict) and "add_docker_metadata" in p for p in node)


def problems(text: str) -> list[Problem]:
    if "paths" not in text and "containers" not in text and "add_docker_metadata" not in text:
        return []
    found = []
    for doc in load_yaml(text):
        for node in inputs(doc):
            found.extend(p for p in input_problems(node) if p not in found)
        for node in walk(doc):
            if isinstance(node, dict) and docker_metadata(node.get("processors")):
                found.append(problem("filebeat-docker-metadata", "Filebeat processor add_docker_metadata"))
    return found
