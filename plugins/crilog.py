"""The CRI log format, and the Docker JSON format log shippers used to expect.

CRI (kubelet, CRI logging spec): one entry per line,
    <RFC3339Nano timestamp> <stdout|stderr> <F|P> <message>
where P marks a partial chunk of a longer line and F the chunk that ends it.
Docker's json-file driver wrote {"log": "...\\n", "stream": "...", "time": "..."}.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

CRI_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) "
    r"(?P<stream>stdout|stderr) (?P<tag>[FP]) (?P<message>.*)$")


@dataclass(frozen=True)
class CriLogEntry:
    time: str
    stream: str
    partial: bool
    message: str


def parse_cri(line: str) -> CriLogEntry | None:
    """A CRI log line, or None when the line is not one (what a CRI parser does)."""
    match = CRI_LINE.match(line)
    if not match:
        return None
    return CriLogEntry(match["time"], match["stream"], match["tag"] == "P", match["message"])


def parse_docker_json(line: str) -> dict | None:
    """A Docker json-file record, or None (what fluent-bit's `Parser docker` gets)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or not {"log", "stream", "time"} <= record.keys():
        return None
    return record


def parse_any(line: str) -> CriLogEntry | None:
    """A CRI line, or a Docker json-file record read as one (what the kubelet
    accepts from both layouts): for waiting on a log file whatever its format."""
    entry = parse_cri(line)
    if entry is not None:
        return entry
    record = parse_docker_json(line)
    if record is None:
        return None
    text = str(record["log"])
    return CriLogEntry(str(record["time"]), str(record["stream"]), not text.endswith("\n"),
                       text.removesuffix("\n"))


def join_partials(entries: list[CriLogEntry]) -> list[tuple[str, str, int]]:
    """Reassemble lines: (stream, full message, number of chunks) per logical line.
    Entries a CRI parser could not read (None) are dropped, as a CRI reader does."""
    lines, pending = [], {}
    for entry in filter(None, entries):
        chunks = pending.setdefault(entry.stream, [])
        chunks.append(entry.message)
        if not entry.partial:
            lines.append((entry.stream, "".join(chunks), len(chunks)))
            pending[entry.stream] = []
    return lines
