"""Suppressions: findings a person has looked at and accepted, each with a
reason. A suppressed finding stays in every report, marked, and no longer
counts toward the verdict.

    --suppress CHECK[=OBJECT-GLOB][:REASON]
    --suppress-file PATH: one per line, the same syntax; `#` starts a comment

OBJECT-GLOB is matched (fnmatch) against the finding's object, e.g.
`docker-socket-mount=DaemonSet/monitoring/*`.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .findings import Finding, unnumbered

SPEC = re.compile(r"^(?P<check>[a-z0-9][a-z0-9-]*|\*)(?:=(?P<glob>[^:]+))?(?::(?P<reason>.+))?$")


class SuppressionError(ValueError):
    pass


@dataclass(frozen=True)
class Suppression:
    check: str
    glob: str = "*"
    reason: str = ""
    origin: str = "--suppress"    # where it was given: --suppress, or FILE:LINE

    def matches(self, finding: Finding) -> bool:
        """The object as the report shows it, or one it contains (a workload
        and its containers), or a glob; `[` in objects is literal. An earlier
        definition read from manifests (NAME@N) is matched by NAME too."""
        if self.check not in ("*", finding.check):
            return False
        return any(self.glob in ("*", obj) or obj.startswith(tuple(self.glob + c for c in "/[ :"))
                   or fnmatch.fnmatchcase(obj.replace("[", "(").replace("]", ")"),
                                          self.glob.replace("[", "(").replace("]", ")"))
                   for obj in dict.fromkeys((finding.object, unnumbered(finding.object))))

    def label(self) -> str:
        return f"{self.reason or 'no reason given'} ({self.origin})"


def parse(spec: str, origin: str = "--suppress") -> Suppression:
    found = SPEC.match(spec.strip())
    if not found:
        raise SuppressionError(f"{origin}: {spec!r} is not CHECK[=OBJECT-GLOB][:REASON] "
                               "(e.g. docker-socket-mount=DaemonSet/ci/*:builds move to kaniko in Q3)")
    return Suppression(found["check"], (found["glob"] or "*").strip(),
                       (found["reason"] or "").strip(), origin)


def read_file(path: Path) -> list[Suppression]:
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise SuppressionError(f"ignore file {path}: {err.strerror or err}") from None
    found = []
    for number, line in enumerate(lines, 1):
        text = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()     # "JIRA-#12" stays
        if text:
            found.append(parse(text, f"{path}:{number}"))
    return found


def given(specs: list[str], path: Path | None, known: set[str]) -> list[Suppression]:
    """--suppress specs then --suppress-file lines, parsed once for crigate-gate
    and the pytest plugin alike; a check the gate does not have (a typo that
    would never match) is refused."""
    found = [parse(spec) for spec in specs] + (read_file(path) if path else [])
    unknown = unknown_checks(found, known)
    if unknown:
        raise SuppressionError(f"{unknown[0].origin}: no check {unknown[0].check!r} "
                               "(crigate-gate --list-checks names them all)")
    return found


def apply(findings: list[Finding], suppressions: list[Suppression]) -> list[Finding]:
    """findings, those a suppression matches marked with its reason (first match)."""
    marked = []
    for finding in findings:
        rule = next((s for s in suppressions if s.matches(finding)), None)
        marked.append(replace(finding, suppressed=rule.label()) if rule else finding)
    return marked


def unknown_checks(suppressions: list[Suppression], known: set[str]) -> list[Suppression]:
    """Suppressions of checks the gate does not have (typos never match)."""
    return [s for s in suppressions if s.check != "*" and s.check not in known]


def unused(findings: list[Finding], suppressions: list[Suppression]) -> list[Suppression]:
    """Suppressions that matched nothing: stale, worth removing."""
    return [s for s in suppressions if not any(s.matches(f) for f in findings)]
