#!/usr/bin/env python3
"""On crigate's corpus (tests/corpus), what the gate finds next to what the
Detector for Docker Socket's approach finds, family group by family group.

    python bench/corpus_compare.py

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
