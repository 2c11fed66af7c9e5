"""The families of Docker couplings the gate knows: plugins/gate/families/*.toml,
one [[family]] per check id, with what it is, why it breaks, the fix and the
sources it was learned from. Loaded once; every rule words its findings from
here and every report format describes its checks from here."""
from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

DIRECTORY = Path(__file__).with_name("families")


@dataclass(frozen=True)
class Family:
    id: str
    group: str
    what: str
    breaks: str
    fix: str
    severity: str
    sources: tuple[str, ...]

    def as_dict(self) -> dict:
        return {**asdict(self), "sources": list(self.sources)}


@cache
def known(directory: Path = DIRECTORY) -> dict[str, Family]:
    """check id -> Family, from every TOML file in directory."""
    found = {}
    for path in sorted(directory.glob("*.toml")):
        for entry in tomllib.loads(path.read_text()).get("family", []):
            found[entry["id"]] = Family(**{**entry, "sources": tuple(entry["sources"])})
    return found


def of_group(group: str) -> dict[str, Family]:
    return {k: f for k, f in known().items() if f.group == group}
