"""Grafana Alloy / Agent Flow configs (River syntax): loki.process stages and sources."""
from __future__ import annotations

import re

from .common import DOCKER_LOGS, Problem, body_of, problem, strip_comments

BLOCK = re.compile(r'(?m)^\s*([a-z_][\w.]*)\s*(?:"([^"]*)")?\s*\{')
PATH_ATTR = re.compile(r'(?:"__path__"|__path__|\bpath|\breplacement)\s*=\s*"([^"]*)"')


def blocks(text: str) -> list[tuple[str, str, str]]:
    """(name, label, body) of each top-level block."""
    found, pos = [], 0
    while (m := BLOCK.search(text, pos)):
        body = body_of(text, m.end() - 1)
        found.append((m.group(1), m.group(2) or "", body))
        pos = m.end() + len(body)
    return found


def problems(text: str) -> list[Problem]:
    if not re.search(r"\b(loki|discovery|local)\.[a-z_.]+\s*\"", text):
        return []
    river = strip_comments(text, line=("//",), block=True, quotes='"`')
    found = []
    for name, label, body in blocks(river):
        ref = f'{name} "{label}"'
        if name == "loki.process":
            stages = {n for n, _, _ in blocks(body)}
            if "stage.docker" in stages and "stage.cri" not in stages:
                found.append(problem("alloy-docker-stage", f"{ref}: stage.docker without stage.cri"))
        elif name in ("loki.source.docker", "discovery.docker"):
            found.append(problem("alloy-docker-source", f"{ref} (the Docker daemon)"))
        found += [problem("docker-log-path", f"{ref} reading {path}")
                  for path in PATH_ATTR.findall(body) if DOCKER_LOGS in path]
    return found
