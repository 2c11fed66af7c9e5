"""Measured figures live in one file, docs/figures.md; each bench script
replaces its own section there at the end of a run.

A section is the text between `<!-- figures:NAME -->` and
`<!-- /figures:NAME -->`; record() replaces only that text (the heading and
the "regenerate with" line above it stay) and ends it with the date and the
machine it was measured on. A section not yet in the file is appended.

Skip recording with `--no-record` (add_option) or CRIGATE_NO_RECORD=1, e.g.
for a trial run on another machine.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIGURES = REPO / "docs" / "figures.md"
SKIP_ENV = "CRIGATE_NO_RECORD"
MACHINE_ENV = "CRIGATE_MACHINE"          # a name for the machine, e.g. "the 2-core development VM"
SECTION_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
UNIFIED_CGROUP = Path("/sys/fs/cgroup/cgroup.controllers")     # present only on a cgroup v2 host


def begin_marker(section: str) -> str:
    return f"<!-- figures:{section} -->"


def end_marker(section: str) -> str:
    return f"<!-- /figures:{section} -->"


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def machine() -> str:
    """This machine in words: name (cores, memory, kernel, cgroup version)."""
    name = os.environ.get(MACHINE_ENV) or socket.gethostname()
    memory = memory_gib()
    parts = [f"{os.cpu_count()} cores",
             f"{memory:.1f} GiB memory" if memory else "memory unknown",
             f"kernel {platform.release()}",
             "cgroup v2" if UNIFIED_CGROUP.exists() else "cgroup v1"]
    return f"{name} ({', '.join(parts)})"


def measured_line(today: datetime.date | None = None, on: str | None = None) -> str:
    return f"measured {(today or datetime.date.today()).isoformat()} on {on or machine()}"


def replace_section(document: str, section: str, markdown: str, stamp: str) -> str:
    """document with SECTION's block holding markdown and stamp; everything else as it was."""
    if not SECTION_NAME.match(section):
        raise ValueError(f"figures section {section!r}: lower-case letters, digits and dashes only")
    block = f"{begin_marker(section)}\n{markdown.strip()}\n\n{stamp}\n{end_marker(section)}"
    begin, end = begin_marker(section), end_marker(section)
    start = document.find(begin)
    if start < 0:
        return document.rstrip("\n") + f"\n\n{block}\n"
    stop = document.find(end, start)
    if stop < 0:
        raise ValueError(f"{begin} has no {end} after it")
    return document[:start] + block + document[stop + len(end):]


def recording_wanted(no_record: bool = False) -> bool:
    return not no_record and os.environ.get(SKIP_ENV, "") in ("", "0")


def record(section: str, markdown: str, *, no_record: bool = False, path: Path = FIGURES,
           today: datetime.date | None = None, on: str | None = None) -> Path | None:
    """Replace SECTION in docs/figures.md with markdown and the measured-on line.

    Returns the file written, or None when recording is switched off."""
    if not recording_wanted(no_record):
        return None
    document = path.read_text() if path.exists() else "# Measured figures\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(replace_section(document, section, markdown, measured_line(today, on)))
    print(f"figures: section {section!r} of {path} rewritten", file=sys.stderr)
    return path


def add_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-record", action="store_true",
                        help=f"do not rewrite this script's section of docs/figures.md "
                             f"(also: {SKIP_ENV}=1)")


class _Tee:
    """stdout that also keeps what was written."""

    def __init__(self, stream):
        self.stream, self.lines = stream, []

    def write(self, text: str) -> int:
        self.lines.append(text)
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def run_and_record(section: str, main) -> int:
    """Run main(); when it exits 0, record what it printed as SECTION (a list of lines)."""
    tee = _Tee(sys.stdout)
    sys.stdout = tee
    try:
        rc = main()
    finally:
        sys.stdout = tee.stream
    printed = [line for line in "".join(tee.lines).splitlines() if line.strip()]
    if rc == 0 and printed:
        record(section, "\n".join(f"- {line.strip()}" for line in printed))
    return rc
