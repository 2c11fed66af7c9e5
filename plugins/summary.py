"""One markdown matrix from several results.json files (e.g. the nightly
runtime x Kubernetes jobs): check x "runtime / Kubernetes" -> outcome.

    python -m crigate.summary reports/*/results.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .render import FAILING_OUTCOMES, SYMBOLS


def columns_and_cells(docs: list[dict]) -> tuple[list[str], list[str], dict]:
    cells, columns = {}, []
    for doc in docs:
        for r in doc["results"]:
            column = f"{r['runtime']} / {doc['kubernetes_minor']}"
            if column not in columns:
                columns.append(column)
            cells[(r["check"], column)] = r["outcome"]
    checks = sorted({check for check, _ in cells})
    return checks, sorted(columns), cells


def summary(docs: list[dict]) -> str:
    checks, columns, cells = columns_and_cells(docs)
    bad = sorted({c for c, o in cells.items() if o in FAILING_OUTCOMES})
    lines = [f"# crigate nightly: {'FAIL' if bad else 'PASS'}", "",
             "| check | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for check in checks:
        row = [SYMBOLS.get(cells.get((check, col), ""), "-") for col in columns]
        lines.append(f"| `{check}` | " + " | ".join(row) + " |")
    for doc in docs:
        for runtime, s in sorted(doc.get("latency", {}).items()):
            lines.append(f"\nlatency {runtime} / {doc['kubernetes_minor']}: p50 {s['p50']:.3f} s, "
                         f"p99 {s['p99']:.3f} s (n={s['n']})")
    return "\n".join(lines) + "\n"


def main(paths: list[str]) -> int:
    found = [Path(p) for p in paths if Path(p).is_file()]
    if not found:
        print("# crigate nightly: no results.json found (every job stopped before its checks)")
        return 1
    print(summary([json.loads(p.read_text()) for p in found]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
