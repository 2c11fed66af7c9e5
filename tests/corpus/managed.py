"""The managed-cluster corpus (managed/<set>/): a provider's own add-ons of one
era, one file per add-on, and per object the highest severity crigate should
report once the nodes run containerd instead of Docker Engine.

    # crigate-corpus: what the add-on is, and its version
    # source: where each fact was read (one line per source)
    # outcome: Kind/name SEVERITY   -- why, with the source's evidence

SEVERITY is `breaks`, `review` or `none` (no finding on the object). The
coupled/clean loader (cases.py) reads only */*.yaml, never these files.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .cases import CORPUS

MANAGED = CORPUS / "managed"
SEVERITIES = ("none", "review", "breaks")          # lowest first
HEADER = re.compile(r"^#\s*(crigate-corpus|source|outcome):\s*(.*)$")
OUTCOME = re.compile(r"^(?P<kind>[A-Za-z]+)/(?P<name>\S+)\s+(?P<severity>\S+)\s*(?:--\s*(?P<why>.*))?$")


@dataclass(frozen=True)
class Outcome:
    kind: str
    name: str
    severity: str
    why: str

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class ManagedCase:
    path: Path
    what: str = ""
    sources: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)     # outcome lines that do not parse

    @property
    def set_name(self) -> str:
        return self.path.parent.name

    @property
    def id(self) -> str:
        return f"{self.set_name}/{self.path.stem}"


def read_managed(path: Path) -> ManagedCase:
    case = ManagedCase(path)
    for line in path.read_text().splitlines():
        if line.strip() == "---":
            break
        found = HEADER.match(line.strip())
        if not found:
            continue
        key, value = found.group(1), found.group(2).strip()
        if key == "crigate-corpus":
            case.what = value
        elif key == "source":
            case.sources.append(value)
        else:
            parsed = OUTCOME.match(value)
            if parsed and parsed["severity"] in SEVERITIES:
                case.outcomes.append(Outcome(parsed["kind"], parsed["name"], parsed["severity"],
                                             (parsed["why"] or "").strip()))
            else:
                case.malformed.append(value)
    return case


def managed_sets() -> list[str]:
    return sorted(p.name for p in MANAGED.iterdir() if p.is_dir())


def managed_cases() -> list[ManagedCase]:
    return [read_managed(p) for p in sorted(MANAGED.glob("*/*.yaml"))]
