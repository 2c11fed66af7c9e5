"""What the shipper parsers share: the family table, log paths, comment stripping."""
from __future__ import annotations

import re
from dataclasses import dataclass

from crigate.facts import DOCKER_CONTAINER_LOGS as DOCKER_LOGS  # Docker's json-file logs
from crigate.facts import KUBELET_LOG_DIRS as CONTAINER_LOGS  # the kubelet's paths, CRI format

from .. import family

GROUP = "log shippers"

CRI_LINE = re.compile(r"stdout\|stderr")                # a regex written for CRI lines


@dataclass(frozen=True)
class Problem:
    depends_on: str
    why: str
    remediation: str
    check: str = "log-shipper-config"     # the finding's check id: a family id in log_shippers.toml
    severity: str = "breaks"


def families() -> dict[str, family.Family]:
    """The log shippers' families (families/log_shippers.toml)."""
    return family.of_group(GROUP)


def problem(check: str, depends_on: str, severity: str | None = None) -> Problem:
    """A Problem worded from the family table."""
    family = families()[check]
    return Problem(depends_on, family.breaks, family.fix, check, severity or family.severity)


def reads_docker_dir(path: str) -> bool:
    return DOCKER_LOGS in path


def reads_container_logs(path: str) -> bool:
    return any(p in path for p in CONTAINER_LOGS)


def path_problem(tool: str, path: str) -> list[Problem]:
    return [problem("docker-log-path", f"{tool} reading {path}")] if reads_docker_dir(path) else []


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def strip_comments(text: str, line: tuple[str, ...] = ("#",), block: bool = False,
                   quotes: str = "\"'") -> str:
    """Text without comments, leaving quoted strings alone ("http://x" keeps its //).
    `line`: markers that start a comment to the end of the line; `block`: /* */ too;
    `quotes`: the characters that open a string."""
    out, i, quote = [], 0, None
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and quote != "`" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in quotes:
            quote = ch
            out.append(ch)
        elif block and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
            continue
        elif any(text.startswith(m, i) for m in line):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def body_of(text: str, open_brace: int) -> str:
    """The text between the brace at `open_brace` and its match (strings skipped)."""
    depth, i, quote = 0, open_brace, False
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_brace + 1:i]
        i += 1
    return text[open_brace + 1:]


def drop_comment_lines(text: str) -> str:
    """Text without whole-line `#` comments (fluent-bit classic, fluentd)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
