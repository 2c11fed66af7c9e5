"""Logstash pipeline configs: `file` inputs on container logs."""
from __future__ import annotations

import re

from .common import Problem, body_of, path_problem, problem, reads_container_logs, strip_comments

FILE_INPUT = re.compile(r"\bfile\s*\{")
PATHS = re.compile(r"\bpath\s*=>\s*(\[[^\]]*\]|\"[^\"]*\"|'[^']*')")
JSON_CODEC = re.compile(r"\bcodec\s*=>\s*[\"']?(json_lines|json)\b")


def input_section(conf: str) -> str:
    start = re.search(r"\binput\s*\{", conf)
    return body_of(conf, start.end() - 1) if start else ""


def problems(text: str) -> list[Problem]:
    if "=>" not in text or not re.search(r"\binput\s*\{", text):
        return []
    section, found = input_section(strip_comments(text)), []
    for m in FILE_INPUT.finditer(section):
        body = body_of(section, m.end() - 1)
        paths = re.findall(r"[\"']([^\"']+)[\"']", " ".join(PATHS.findall(body)))
        found += [p for path in paths for p in path_problem("Logstash file input", path)]
        codec = JSON_CODEC.search(body)
        if codec and not found and any(reads_container_logs(p) for p in paths):
            found.append(problem("logstash-json-codec",
                                 f"Logstash file input on {', '.join(paths)} with codec {codec.group(1)}"))
    return found
