"""crigate's own corpus of Docker couplings (coupled/) and their look-alikes
(clean/): one file per shape, its expectations in the header.

    # crigate-corpus: what the shape is
    # family: the family id (plugins/gate/families/*.toml)
    # source: where the shape was learned from
    # expect: CHECK SEVERITY Kind/name      (one per finding; `none` for clean files)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).parent
HEADER = re.compile(r"^#\s*(crigate-corpus|family|source|expect):\s*(.*)$")
NAMESPACE = "crigate-corpus"      # where the runner puts every object (files name none)
# one object coupled to nothing: the smallest clean input (CLI tests, start-up bench)
CLEAN_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
"""


@dataclass(frozen=True)
class Expected:
    check: str
    severity: str
    ref: str               # Kind/name

    def matches(self, finding: dict, namespace: str) -> bool:
        kind, _, name = self.ref.partition("/")
        return (finding["check"] == self.check and finding["severity"] == self.severity
                and finding["object"].startswith(f"{kind}/{namespace}/{name}"))


@dataclass
class Case:
    path: Path
    what: str = ""
    family: str = ""
    sources: list[str] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    clean_declared: bool = False

    @property
    def coupled(self) -> bool:
        return self.path.parent.name == "coupled"

    @property
    def id(self) -> str:
        return f"{self.path.parent.name}/{self.path.stem}"


def read_case(path: Path) -> Case:
    case = Case(path)
    for line in path.read_text().splitlines():
        found = HEADER.match(line.strip())
        if not found:
            if line.strip() == "---":
                break
            continue
        key, value = found.groups()
        if key == "crigate-corpus":
            case.what = value
        elif key == "family":
            case.family = value.strip()
        elif key == "source":
            case.sources.append(value.strip())
        elif value.strip() == "none":
            case.clean_declared = True
        else:
            check, severity, ref = value.split()
            case.expected.append(Expected(check, severity, ref))
    return case


def cases() -> list[Case]:
    return [read_case(p) for p in sorted(CORPUS.glob("*/*.yaml"))]
