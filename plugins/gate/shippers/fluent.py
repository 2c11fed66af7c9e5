"""fluent-bit (classic and YAML config) and fluentd tail inputs on container logs."""
from __future__ import annotations

import re

from ..configtext import load_yaml
from .common import CRI_LINE, Problem, as_list, drop_comment_lines, path_problem, problem, reads_container_logs

DOCKER_JSON_PARSERS = ("docker", "json")   # fluent-bit's stock parsers for json-file lines


def fluent_bit_sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """[SECTION] headers and their `Key Value` lines, keys lower-cased."""
    sections, current = [], None
    for raw in drop_comment_lines(text).splitlines():
        line = raw.strip()
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


def regex_parsers(text: str) -> set[str]:
    """Names of [PARSER]s this text defines as regex (a custom `docker` may be one)."""
    return {s.get("name", "").lower() for kind, s in fluent_bit_sections(text)
            if kind == "PARSER" and s.get("format", "").lower() == "regex"}


def docker_json_reading(settings: dict[str, str], regex_names: set[str]) -> str | None:
    """The setting that makes a tail input read Docker's JSON lines, if any."""
    multiline = settings.get("multiline.parser", "").lower()
    parser = settings.get("parser", "").lower()
    if "cri" in multiline or parser == "cri":
        return None
    if parser in DOCKER_JSON_PARSERS and parser not in regex_names:
        return f"Parser {settings['parser']}"
    if settings.get("docker_mode", "").lower() in ("on", "true"):
        return "Docker_Mode On"
    if "docker" in multiline:
        return f"multiline.parser {settings['multiline.parser']}"
    return None


def fluent_bit_input(settings: dict[str, str], regex_names: set[str] = frozenset()) -> list[Problem]:
    if settings.get("name", "").lower() != "tail":
        return []
    path = settings.get("path", "")
    found = path_problem("fluent-bit tail", path)
    reading = docker_json_reading(settings, regex_names)
    if not found and reading and reads_container_logs(path):
        found.append(problem("fluent-bit-docker-parser",
                             f"fluent-bit tail on {path} parsed as Docker JSON ({reading})"))
    return found


def yaml_inputs(doc: dict) -> list[dict[str, str]]:
    """pipeline.inputs entries, both `- name: tail` and `- tail: {...}` styles, flattened."""
    entries = (doc.get("pipeline") or {}).get("inputs") if isinstance(doc.get("pipeline"), dict) else None
    flat = []
    for entry in as_list(entries):
        if not isinstance(entry, dict):
            continue
        if len(entry) == 1 and isinstance(next(iter(entry.values())), dict):
            name, body = next(iter(entry.items()))
            entry = {"name": name, **body}
        flat.append({str(k).lower(): ", ".join(map(str, v)) if isinstance(v, list) else str(v)
                     for k, v in entry.items()})
    return flat


def fluent_bit_yaml(text: str) -> list[Problem]:
    found = []
    for doc in load_yaml(text):
        if isinstance(doc, dict):
            regex_names = {str(p.get("name", "")).lower() for p in as_list(doc.get("parsers"))
                           if isinstance(p, dict) and str(p.get("format", "")).lower() == "regex"}
            for settings in yaml_inputs(doc):
                found.extend(fluent_bit_input(settings, regex_names))
    return found


def fluent_bit(text: str) -> list[Problem]:
    regex_names = regex_parsers(text)
    found = [p for kind, s in fluent_bit_sections(text) if kind == "INPUT"
             for p in fluent_bit_input(s, regex_names)]
    if re.search(r"^pipeline:", text, flags=re.M):
        found.extend(fluent_bit_yaml(text))
    return found


def fluentd_parse_type(body: str) -> tuple[str, str]:
    """(how it was set, parser type) of a <source>: `<parse> @type X` or legacy `format X`."""
    parse = re.search(r"<parse>.*?@type\s+(\S+)", body, flags=re.S)
    legacy = re.search(r"^\s*format\s+(\S+)", body, flags=re.M)
    if parse:
        return "@type", parse.group(1).strip("\"'")
    return ("format", legacy.group(1).strip("\"'")) if legacy else ("", "")


def fluentd_source(block: str) -> list[Problem]:
    body = drop_comment_lines(block)
    if not re.search(r"^\s*@?type\s+[\"']?tail\b", body, flags=re.M):
        return []
    path = (re.search(r"^\s*path\s+(\S+)", body, flags=re.M) or [None, ""])[1].strip("\"'")
    found = path_problem("fluentd tail", path)
    how, kind = fluentd_parse_type(body)
    if kind.startswith("#{"):
        return found           # chosen by an env var in the pod: shipper_env decides
    json_only = kind == "json" or (kind == "multi_format" and "cri" not in body
                                   and not CRI_LINE.search(body))
    if not found and json_only and reads_container_logs(path):
        found.append(problem("fluentd-json-parse",
                             f"fluentd tail on {path} parsed as Docker JSON ({how} {kind})"))
    return found


def fluentd(text: str) -> list[Problem]:
    return [p for block in re.findall(r"<source>(.*?)</source>", text, flags=re.S)
            for p in fluentd_source(block)]


def problems(text: str) -> list[Problem]:
    return [*fluent_bit(text), *fluentd(text)]
