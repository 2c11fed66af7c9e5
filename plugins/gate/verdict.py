"""The gate's answer: findings per area, what could not be read, and the
verdict they make. The NO-GO rule lives here and nowhere else."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

from .findings import BREAKS, Finding

OWN_ERROR = "crigate's own error"
INTERRUPTED = "interrupted (Ctrl-C) before every check ran"


class Kind(Enum):
    """(word in reports, exit code of crigate-gate). A crashed rule is a
    verdict of its own: reports say UNDECIDED (the JSON schema's words), the
    exit code says whose fault it is."""
    GO = ("GO", 0)
    NO_GO = ("NO-GO", 1)
    UNDECIDED = ("UNDECIDED", 2)
    OWN_ERROR = ("UNDECIDED", 3)

    @property
    def word(self) -> str:
        return self.value[0]

    @property
    def exit_code(self) -> int:
        return self.value[1]


@dataclass(frozen=True)
class RuleCrash:
    """A rule raised on input it did not expect: a bug of crigate's."""
    area: str
    error: str          # "KeyError: 'name'"

    @property
    def reason(self) -> str:
        return f"{OWN_ERROR} in the {self.area} rules: {self.error} (please report it)"


@dataclass(frozen=True)
class AreaResult:
    """One area's findings (located, suppressions applied), or its crash."""
    area: str
    findings: tuple[Finding, ...] = ()
    crash: RuleCrash | None = None

    def breaking(self) -> list[Finding]:
        return breaking(self.findings)


def breaking(findings) -> list[Finding]:
    """What makes the verdict NO-GO: findings that break and nobody suppressed."""
    return [f for f in findings if f.severity == BREAKS and not f.suppressed]


def finding_order(f: Finding) -> tuple:
    """Counted breaks first, then review, then suppressed; by check and object."""
    return (bool(f.suppressed), f.severity != BREAKS, f.check, f.object)


@dataclass(frozen=True)
class Verdict:
    target: str                                    # runtime the nodes move to
    areas: tuple[AreaResult, ...] = ()
    unread: tuple[str, ...] = ()                   # what could not be read, and why
    notes: tuple[str, ...] = ()                    # what was not read by design, and why
    nodes: dict[str, str] = field(default_factory=dict)       # node -> containerRuntimeVersion
    node_facts: dict[str, dict] = field(default_factory=dict)  # node -> what --node-checks saw
    interrupted: bool = False

    @property
    def findings(self) -> list[Finding]:
        return sorted((f for a in self.areas for f in a.findings), key=finding_order)

    @property
    def crashes(self) -> list[RuleCrash]:
        return [a.crash for a in self.areas if a.crash]

    def area(self, name: str) -> AreaResult:
        return next((a for a in self.areas if a.area == name), AreaResult(name))

    @property
    def reasons(self) -> list[str]:
        """Why the gate could not decide, in words (empty when it could)."""
        return [*self.unread, *(c.reason for c in self.crashes), *([INTERRUPTED] if self.interrupted else [])]

    @property
    def kind(self) -> Kind:
        if self.interrupted:
            return Kind.UNDECIDED             # a partial audit decides nothing
        if breaking(self.findings):
            return Kind.NO_GO                 # what breaks decides, whatever else went wrong
        if self.crashes:
            return Kind.OWN_ERROR
        return Kind.UNDECIDED if self.unread else Kind.GO

    def also_unread(self, *reasons: str) -> Verdict:
        """The verdict with these reasons added, each one not already said
        (alone or inside a reason given before)."""
        new = tuple(r for r in dict.fromkeys(reasons) if not any(r in said for said in self.reasons))
        return replace(self, unread=self.unread + new) if new else self

    def as_dict(self) -> dict:
        """Plain data (JSON, xdist): from_dict gives the Verdict back."""
        return {"target": self.target, "unread": list(self.unread), "notes": list(self.notes),
                "nodes": dict(self.nodes), "node_facts": dict(self.node_facts),
                "interrupted": self.interrupted,
                "areas": [{"area": a.area, "findings": [f.as_dict() for f in a.findings],
                           "crash": a.crash and {"area": a.crash.area, "error": a.crash.error}}
                          for a in self.areas]}

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        areas = tuple(AreaResult(a["area"], tuple(Finding(**f) for f in a["findings"]),
                                 RuleCrash(**a["crash"]) if a.get("crash") else None)
                      for a in d.get("areas", []))
        return cls(d["target"], areas, tuple(d.get("unread", ())), tuple(d.get("notes", ())),
                   dict(d.get("nodes", {})), dict(d.get("node_facts", {})), bool(d.get("interrupted")))
