"""Vector sources, TOML or YAML (or JSON)."""
from __future__ import annotations

import tomllib

from ..configtext import load_yaml
from .common import Problem, as_list, path_problem, problem

DOCKER_SOURCES = ("docker_logs", "docker")   # `docker` is the source's former name


def documents(text: str) -> list:
    try:
        return [tomllib.loads(text)]
    except tomllib.TOMLDecodeError:
        return load_yaml(text)


def problems(text: str) -> list[Problem]:
    if "sources" not in text:
        return []
    found = []
    for doc in documents(text):
        sources = doc.get("sources") if isinstance(doc, dict) else None
        for name, source in (sources.items() if isinstance(sources, dict) else ()):
            if not isinstance(source, dict):
                continue
            kind = source.get("type")
            if kind in DOCKER_SOURCES:
                found.append(problem("vector-docker-logs-source", f'Vector source {name} (type "{kind}")'))
            elif kind == "file":
                found += [p for path in as_list(source.get("include"))
                          for p in path_problem(f"Vector file source {name}", str(path))]
    return found
