"""OpenTelemetry Collector filelog receivers, YAML."""
from __future__ import annotations

from ..configtext import load_yaml, walk
from .common import CRI_LINE, Problem, as_list, path_problem, problem, reads_container_logs


def operators(receiver: dict) -> list[dict]:
    return [op for op in as_list(receiver.get("operators")) if isinstance(op, dict)]


def handles_cri(ops: list[dict]) -> bool:
    """A container operator (auto or CRI format), or a regex_parser written for CRI lines."""
    return any(op.get("type") == "container" and not docker_format(op)
               or op.get("type") == "regex_parser" and CRI_LINE.search(str(op.get("regex", "")))
               for op in ops)


def docker_format(op: dict) -> bool:
    return op.get("type") == "container" and str(op.get("format", "")).lower() == "docker"


def receiver_problems(name: str, receiver: dict) -> list[Problem]:
    paths = [str(p) for p in as_list(receiver.get("include"))]
    found = [p for path in paths for p in path_problem(f"OTel {name}", path)]
    ops = operators(receiver)
    if any(docker_format(op) for op in ops):
        found.append(problem("otel-container-docker-format", f"OTel {name}: container operator format docker"))
    elif (any(op.get("type") == "json_parser" for op in ops) and not handles_cri(ops)
          and any(reads_container_logs(p) for p in paths)):
        found.append(problem("otel-json-parser-container-logs",
                             f"OTel {name} on {', '.join(paths)} parsed by json_parser"))
    return found


def problems(text: str) -> list[Problem]:
    if "filelog" not in text:
        return []
    found = []
    for doc in load_yaml(text):
        for node in walk(doc):
            receivers = node.get("receivers") if isinstance(node, dict) else None
            if isinstance(receivers, dict):
                found += [p for name, r in receivers.items()
                          if str(name).split("/")[0] == "filelog" and isinstance(r, dict)
                          for p in receiver_problems(str(name), r)]
    return found
