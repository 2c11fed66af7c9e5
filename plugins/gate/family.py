"""The families of Docker couplings the gate knows: plugins/gate/families/*.toml,
one [[family]] per check id, with what it is, why it breaks, the fix, its
default severity and the sources it was learned from. Loaded once; every rule
words its findings from here (Family.finding) and every report format
describes its checks from here.

A family's `breaks` and `fix` may hold {placeholders} that a finding fills
(the target runtime, its CRI tools, a node's name); the [words] tables declare
them and say what each stands for when a report describes the family without
a finding. Other braces (`cri: {}`, grok's `%{message}`) are text.
A family may have [family.cases.<name>]: the wording and severity of one
situation of the same check (e.g. the handler nobody provides vs. the one
nobody can tell), overriding the family's own."""
from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path

from .findings import Finding

DIRECTORY = Path(__file__).with_name("families")
WORDED = ("breaks", "fix", "severity", "certainty", "platform_couplings")        # what a case may override
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Family:
    id: str
    group: str
    what: str
    breaks: str                 # why it breaks: a finding's `why`
    fix: str                    # a finding's `remediation`
    severity: str               # the default; a case or the rule's evidence may change it
    sources: tuple[str, ...]
    certainty: str = ""         # what makes a finding certain or not (the evidence it rests on)
    platform_couplings: tuple[str, ...] = ()   # platform facts that keep it working (platforms.toml), all needed
    cases: dict[str, dict] = field(default_factory=dict, hash=False, compare=False)

    def case(self, name: str) -> Family:
        """The family as worded for one of its cases ("" is the family itself)."""
        if not name:
            return self
        if name not in self.cases:
            raise KeyError(f"family {self.id!r} has no case {name!r} (cases: {sorted(self.cases)})")
        return replace(self, **{k: tuple(v) if isinstance(v, list) else v
                                for k, v in self.cases[name].items() if k in WORDED})

    def finding(self, obj: str, depends_on: str, *, case: str = "", severity: str = "",
                **words: str) -> Finding:
        """A finding of this family: why and fix from the data, {placeholders}
        filled from words; severity from the data unless the rule's evidence
        says otherwise."""
        worded = self.case(case)
        return Finding(self.id, obj, depends_on, fill(worded.breaks, words, self.id),
                       fill(worded.fix, words, self.id), severity or worded.severity,
                       certainty=worded.certainty, platform_couplings=worded.platform_couplings)

    def as_dict(self) -> dict:
        """The family as reports describe it: placeholders in general words."""
        described = {k: v for k, v in asdict(self).items() if k not in ("cases", "platform_couplings")}
        for key in ("breaks", "fix"):
            described[key] = fill(described[key], words(), self.id)
        return {**described, "sources": list(self.sources)}


def fill(text: str, values: dict[str, str], check: str) -> str:
    """text with each declared {placeholder} replaced by its value."""
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in words():
            return match.group(0)
        if name not in values:
            raise KeyError(f"family {check!r} needs {{{name}}}; the rule gave {sorted(values)}")
        return values[name]
    return PLACEHOLDER.sub(value, text)


def _tables(directory: Path) -> list[dict]:
    return [tomllib.loads(path.read_text()) for path in sorted(directory.glob("*.toml"))]


@cache
def known(directory: Path = DIRECTORY) -> dict[str, Family]:
    """check id -> Family, from every TOML file in directory; an id defined
    twice is an error (the two would disagree)."""
    found: dict[str, Family] = {}
    for table in _tables(directory):
        for entry in table.get("family", []):
            if entry["id"] in found:
                raise ValueError(f"family {entry['id']!r} is defined twice in {directory}")
            found[entry["id"]] = Family(**{**entry, "sources": tuple(entry["sources"]),
                                           "platform_couplings": tuple(entry.get("platform_couplings", ()))})
    return found


@cache
def words(directory: Path = DIRECTORY) -> dict[str, str]:
    """placeholder -> what it stands for in a family's description ([words] tables)."""
    return {k: v for table in _tables(directory) for k, v in table.get("words", {}).items()}


def family(check: str) -> Family:
    """The family of a check id."""
    return known()[check]


def of_group(group: str) -> dict[str, Family]:
    return {k: f for k, f in known().items() if f.group == group}
