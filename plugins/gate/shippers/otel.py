"""OpenTelemetry Collector filelog receivers, YAML.

What each shape does was checked against the real collector on test-bed nodes
(tests/testbed/test_otel_corpus.py runs every corpus configuration; the
container operator's source: opentelemetry-collector-contrib
pkg/stanza/operator/parser/container/parser.go, v0.165.1)."""
from __future__ import annotations

from crigate.facts import POD_LOG_DIR

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


def cri_regex(op: dict) -> bool:
    return op.get("type") == "regex_parser" and bool(CRI_LINE.search(str(op.get("regex", ""))))


def container_operator_skips_recombine(op: dict, receiver: dict, paths: list[str]) -> bool:
    """The container operator joins P chunks only after it has read pod metadata
    from log.file.path (add_metadata_from_filepath, on by default): without
    include_file_path, or on a path outside /var/log/pods, that step fails and
    the entry goes on unjoined."""
    if op.get("type") != "container" or docker_format(op) or op.get("add_metadata_from_filepath") is False:
        return False
    return receiver.get("include_file_path") is not True or \
        any(reads_container_logs(p) and not p.startswith(POD_LOG_DIR + "/") for p in paths)


def partial_lines_unjoined(receiver: dict, ops: list[dict], paths: list[str]) -> bool:
    """CRI lines parsed, but a line longer than the runtime's chunk arrives in pieces."""
    if not any(reads_container_logs(p) for p in paths):
        return False
    containers = [op for op in ops if op.get("type") == "container" and not docker_format(op)]
    if containers:
        return all(container_operator_skips_recombine(op, receiver, paths) for op in containers)
    return any(cri_regex(op) for op in ops) and not any(op.get("type") == "recombine" for op in ops)


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
    elif partial_lines_unjoined(receiver, ops, paths):
        found.append(problem("otel-cri-partial-lines", f"OTel {name} on {', '.join(paths)}: "
                             "CRI partial lines (P) not joined"))
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
