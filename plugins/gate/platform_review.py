"""A coupling the target platform keeps working is review, saying why and until when.

Which platform fact a finding leans on is its family's data (`platform_couplings`
in families/*.toml: every one must be kept); the facts, their versions and
sources are platforms.toml's (plugins/gate/platform.py).
"""
from __future__ import annotations

from dataclasses import replace

from crigate.facts import DOCKERSHIM_REMOVED_IN

from . import platform
from .findings import BREAKS, REVIEW, Finding

AUTO = "auto"


def resolve(chosen: str, nodes: list[dict]) -> tuple[str, str]:
    """The platform id and why: the one chosen (--platform), or detected from the nodes."""
    if chosen and chosen != AUTO:
        return chosen, "--platform"
    found, evidence = platform.detect(nodes)
    return found, evidence or "no nodes read"


def kubernetes_minor(nodes: list[dict]) -> str | None:
    """The Kubernetes minor the nodes run after the switch: the oldest kubelet's
    (a fact must hold for all), or the first without dockershim when that is
    later (the switch happens there at the latest); None offline."""
    versions = []
    for node in nodes:
        version = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
        try:
            versions.append(platform.minor(version))
        except ValueError:
            continue
    if not versions:
        return None
    return "{}.{}".format(*max(min(versions), platform.minor(DOCKERSHIM_REMOVED_IN)))


def apply(findings: list[Finding], platform_id: str, minor: str | None) -> list[Finding]:
    kept = []
    for f in findings:
        couplings = f.platform_couplings if f.severity == BREAKS else ()
        facts = [platform.keeps(platform_id, c, minor) for c in couplings]
        if couplings and all(facts):
            fact = facts[0]
            f = replace(f, severity=REVIEW, certainty=(
                f"kept by the platform: {fact.reason} ({fact.holds_for}; {fact.versions}, "
                f"{fact.until_text}; source: {fact.source}); without it: {f.certainty or 'breaks'}"))
        kept.append(f)
    return kept
