"""The gate's one entry: decide(audit, target, suppressions) -> Verdict.

crigate-gate and the gate suite both call it; it imports nothing from the
pytest plugin, the suites or the plugin's reports above it.
"""
from __future__ import annotations

from . import platform_review, ruleset
from .audit import Audit, finalize
from .verdict import AreaResult, RuleCrash, Verdict

RBAC_HINT = "grant the crigate-gate ClusterRole: crigate-gate --print-rbac"


def decide(audit: Audit, target: str, suppressions=()) -> Verdict:
    """Every area's rules on the audit; a rule that crashes costs its area
    (a RuleCrash, never a silent GO), not the others."""
    areas = []
    nodes = audit.inventory.nodes
    platform_id, why = platform_review.resolve(audit.platform, nodes)
    minor = audit.target_version or platform_review.kubernetes_minor(nodes)
    for area in ruleset.AREAS:
        try:
            found = ruleset.findings_of(area, audit, target)
        except Exception as err:           # a bug of crigate's on input it did not expect
            areas.append(AreaResult(area, crash=RuleCrash(area, f"{type(err).__name__}: {err}")))
            continue
        found = platform_review.apply(found, platform_id, minor)
        areas.append(AreaResult(area, tuple(finalize(found, audit.inventory, suppressions))))
    denied = audit.inventory.denied
    unread = (("the audit could not read everything; missing permission(s): " + "; ".join(denied)
               + f" ({RBAC_HINT})",) if denied else ())
    unread += tuple(audit.inventory.unreadable)        # objects whose fields have other types
    at = f"; its facts judged at Kubernetes {minor}" if minor else "; offline: each fact for the versions it holds for"
    notes = (*audit.inventory.notes, f"platform: {platform_id} ({why}{at})")
    return Verdict(target, tuple(areas), unread, notes,
                   audit.inventory.node_runtimes(), dict(audit.node_facts))


def undecided(target: str, reason: str) -> Verdict:
    """No audit to decide from (API unreachable, bad input): why, as a Verdict."""
    return Verdict(target, unread=(reason,))
