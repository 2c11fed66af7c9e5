"""Log shipper configs that assume Docker's json-file logs.

Docker wrote /var/lib/docker/containers/<id>/<id>-json.log, one JSON object
per line, and /var/log/containers pointed there. CRI runtimes write
`<time> <stream> <P|F> <text>` lines under /var/log/pods. A tail input on
either path parsed as JSON (fluent-bit `Parser docker`, `Docker_Mode On`;
fluentd `@type json` / `format json`) drops or garbles every line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

DOCKER_LOGS = "/var/lib/docker/containers"
CONTAINER_LOGS = ("/var/log/containers", "/var/log/pods")
FLUENT_BIT_FIX = ("use `multiline.parser docker, cri` on the tail input (fluent-bit 1.8+), or a "
                  "regex parser for `<time> <stream> <logtag> <message>`; read "
                  "/var/log/containers/*.log")
FLUENTD_FIX = ("parse with a CRI parser (fluent-plugin-parser-cri `@type cri`, or a regexp "
               "`^(?<time>.+) (?<stream>stdout|stderr) (?<logtag>[FP]) (?<log>.*)$`), "
               "path /var/log/containers/*.log")


@dataclass(frozen=True)
class Problem:
    depends_on: str
    why: str
    remediation: str
    check: str = "log-shipper-config"     # the finding's check id (a family in families/)
    severity: str = "breaks"


def _reads_docker_dir(path: str) -> bool:
    return DOCKER_LOGS in path


def _reads_container_logs(path: str) -> bool:
    return any(p in path for p in CONTAINER_LOGS)


def _tail_problems(path: str, json_parser: str | None, tool: str, fix: str) -> list[Problem]:
    if _reads_docker_dir(path):
        return [Problem(f"{tool} tail on {path}",
                        "CRI runtimes write nothing under /var/lib/docker/containers", fix)]
    if json_parser and _reads_container_logs(path):
        return [Problem(f"{tool} tail on {path} parsed as Docker JSON ({json_parser})",
                        "CRI log lines are not JSON, so every record fails to parse", fix)]
    return []


def fluent_bit_sections(text: str) -> list[tuple[str, dict[str, str]]]:
    sections, current = [], None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if raw.strip().startswith("#") else raw.strip()
        if not line:
            continue
        header = re.fullmatch(r"\[([A-Za-z_]+)\]", line)
        if header:
            current = {}
            sections.append((header.group(1).upper(), current))
        elif current is not None and not line.startswith("@"):
            key, _, value = line.partition(" ")
            current[key.lower()] = value.strip()
    return sections


def fluent_bit_input(settings: dict[str, str]) -> list[Problem]:
    if settings.get("name", "").lower() != "tail":
        return []
    multiline = settings.get("multiline.parser", "")
    json_parser = None
    if "cri" not in multiline.lower():
        if settings.get("parser", "").lower() == "docker":
            json_parser = "Parser docker"
        elif settings.get("docker_mode", "").lower() in ("on", "true"):
            json_parser = "Docker_Mode On"
        elif "docker" in multiline.lower():
            json_parser = "multiline.parser docker"
    return _tail_problems(settings.get("path", ""), json_parser, "fluent-bit", FLUENT_BIT_FIX)


def fluent_bit_yaml(text: str) -> list[Problem]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    inputs = (doc or {}).get("pipeline", {}).get("inputs", []) if isinstance(doc, dict) else []
    problems = []
    for entry in inputs if isinstance(inputs, list) else []:
        if isinstance(entry, dict):
            flat = {str(k).lower(): ", ".join(v) if isinstance(v, list) else str(v)
                    for k, v in entry.items()}
            problems.extend(fluent_bit_input(flat))
    return problems


def fluentd_sources(text: str) -> list[str]:
    return re.findall(r"<source>(.*?)</source>", text, flags=re.S)


def fluentd_source(block: str) -> list[Problem]:
    body = "\n".join(line.split("#", 1)[0] for line in block.splitlines())
    if not re.search(r"@type\s+tail\b", body):
        return []
    path = (re.search(r"^\s*path\s+(\S+)", body, flags=re.M) or [None, ""])[1]
    parse_type = re.search(r"<parse>.*?@type\s+(\S+)", body, flags=re.S)
    legacy = re.search(r"^\s*format\s+(\S+)", body, flags=re.M)
    kind = (parse_type.group(1) if parse_type else legacy.group(1) if legacy else "")
    json_parser = None
    if kind == "json" or (kind == "multi_format" and "cri" not in body
                          and not re.search(r"stdout\|stderr", body)):
        json_parser = f"@type {kind}" if parse_type else f"format {kind}"
    return _tail_problems(path, json_parser, "fluentd", FLUENTD_FIX)


def problems(text: str) -> list[Problem]:
    """Docker-log assumptions in one config file (fluent-bit classic or YAML, fluentd)."""
    found = []
    for section, settings in fluent_bit_sections(text):
        if section == "INPUT":
            found.extend(fluent_bit_input(settings))
    if "pipeline:" in text:
        found.extend(fluent_bit_yaml(text))
    for block in fluentd_sources(text):
        found.extend(fluentd_source(block))
    return found
