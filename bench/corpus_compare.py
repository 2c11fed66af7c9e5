#!/usr/bin/env python3
"""On crigate's corpus (tests/corpus), what the gate finds next to what the
Detector for Docker Socket's approach finds, family group by family group;
then the gate's precision and recall family by family, over the coupled and
clean shapes and the managed clusters' own add-ons (tests/corpus/managed,
each set judged on its platform).

    python bench/corpus_compare.py

Precision and recall count what blocks: a `breaks` finding is a true
positive on an object expected to break (a coupled shape's `expect: ... breaks`,
a managed object's `outcome: ... breaks`) and a false one anywhere else; an
object expected to break that gets no `breaks` finding of its family is a
miss. "Reported" counts any finding on an object that should get none.

DDS (AWS's `kubectl dds`) starts from the pods that exist and reports volumes
whose hostPath ends in docker.sock. The corpus' workloads run no pods, so on
a cluster DDS would report nothing at all; this counts it generously, as if
every pod template had a pod. A coupled case is found when a finding that
breaks or needs review names its object; a clean twin is a false alarm when
anything that breaks is reported on it.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import figures  # noqa: E402  (bench/figures.py, beside this script)
from crigate.gate import engine, outputs  # noqa: E402
from crigate.gate.audit import manifests_audit  # noqa: E402
from crigate.gate.manifests import read_objects  # noqa: E402

from tests.corpus.cases import NAMESPACE, cases  # noqa: E402
from tests.corpus.managed import managed_cases  # noqa: E402

PLATFORM_OF_SET = {"eks-1.23": "eks", "gke": "gke", "aks": "aks"}


def dds_finds(inventory) -> bool:
    """Any pod template with a hostPath volume ending in docker.sock."""
    return any(str((v.get("hostPath") or {}).get("path", "")).rstrip("/").endswith("docker.sock")
               for t in inventory.templates for v in t.spec.get("volumes", []))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    figures.add_option(parser)
    args = parser.parse_args()
    families = outputs.families()
    rows = defaultdict(lambda: {"coupled": 0, "crigate": 0, "dds": 0, "clean": 0,
                                "crigate_false": 0, "dds_false": 0})
    for case in cases():
        audit = manifests_audit(read_objects([str(case.path)]), [], NAMESPACE)
        inventory, found = audit.inventory, engine.decide(audit, "containerd").findings
        group = families.get(case.family, {}).get("group", "?")
        row = rows[group]
        if case.coupled:
            row["coupled"] += 1
            row["crigate"] += any(e.matches(f.as_dict(), NAMESPACE) for e in case.expected for f in found)
            row["dds"] += dds_finds(inventory)
        else:
            row["clean"] += 1
            row["crigate_false"] += any(f.severity == "breaks" for f in found)
            row["dds_false"] += dds_finds(inventory)
    table = ["| family group | coupled shapes | crigate finds | DDS approach finds | clean twins | "
             "crigate false NO-GO | DDS false alarms |", "|---|---|---|---|---|---|---|"]
    total = defaultdict(int)
    for group, row in sorted(rows.items()):
        table.append(f"| {group} | {row['coupled']} | {row['crigate']} | {row['dds']} | {row['clean']} | "
                     f"{row['crigate_false']} | {row['dds_false']} |")
        for key, value in row.items():
            total[key] += value
    table.append(f"| **all** | {total['coupled']} | {total['crigate']} | {total['dds']} | {total['clean']} | "
                 f"{total['crigate_false']} | {total['dds_false']} |")
    print("\n".join(table))
    figures.record("corpus-compare", "\n".join(table), no_record=args.no_record)
    scores = precision_recall()
    print(scores)
    figures.record("corpus-precision", scores, no_record=args.no_record)
    return 0


def on(finding, ref: str) -> bool:
    obj = finding.object
    return obj == ref or obj.startswith((ref + "/", ref + "[", ref + " "))


def judged():
    """(findings, {object ref: (expected severity, family expected or "")}) per file."""
    for case in cases():
        audit = manifests_audit(read_objects([str(case.path)]), [], NAMESPACE)
        found = [f for f in engine.decide(audit, "containerd").findings if not f.suppressed]
        expected = {}
        for located in read_objects([str(case.path)]):
            kind, name = located.obj["kind"], located.obj["metadata"]["name"]
            mine = [e for e in case.expected if e.ref == f"{kind}/{name}"]
            breaks = {e.check for e in mine if e.severity == "breaks"}
            expected[f"{kind}/{NAMESPACE}/{name}"] = ("breaks" if breaks else "review" if mine else "none", breaks)
        yield found, expected
    for case in managed_cases():
        audit = manifests_audit(read_objects([str(case.path)]), [], NAMESPACE)
        audit.platform = PLATFORM_OF_SET.get(case.set_name, "auto")
        found = [f for f in engine.decide(audit, "containerd").findings if not f.suppressed]
        yield found, {f"{o.kind}/{NAMESPACE}/{o.name}": (o.severity, set()) for o in case.outcomes}


def precision_recall() -> str:
    counts = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "reported": 0})
    for found, expected in judged():
        for ref, (severity, checks) in expected.items():
            mine = [f for f in found if on(f, ref)]
            blocking = {f.check for f in mine if f.severity == "breaks"}
            for check in blocking:
                counts[check]["tp" if severity == "breaks" else "fp"] += 1
            if severity == "breaks":
                for check in (checks or ({"(any)"} if not blocking else set())) - blocking:
                    counts[check]["fn"] += 1
            if severity == "none":
                for check in {f.check for f in mine}:
                    counts[check]["reported"] += 1
    rows = ["| family | blocks rightly | blocks wrongly | missed | precision | recall | reported on harmless |",
            "|---|---|---|---|---|---|---|"]
    total = defaultdict(int)
    for check, c in sorted(counts.items()):
        rows.append(f"| {check} | {c['tp']} | {c['fp']} | {c['fn']} | {ratio(c['tp'], c['tp'] + c['fp'])} | "
                    f"{ratio(c['tp'], c['tp'] + c['fn'])} | {c['reported']} |")
        for key, value in c.items():
            total[key] += value
    rows.append(f"| **all** | {total['tp']} | {total['fp']} | {total['fn']} | "
                f"{ratio(total['tp'], total['tp'] + total['fp'])} | {ratio(total['tp'], total['tp'] + total['fn'])} | "
                f"{total['reported']} |")
    return "\n".join(rows)


def ratio(part: int, whole: int) -> str:
    return f"{part / whole:.2f}" if whole else "-"


if __name__ == "__main__":
    sys.exit(main())
