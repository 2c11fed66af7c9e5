#!/usr/bin/env python3
"""Benchmark: crigate-gate, `--runtime auto` planning and the per-node table on a
cluster of kwok fake nodes (crigate issue 21): wall time and peak memory at two
sizes, to show memory grows less than linearly with the objects.

    python bench/kwok_gate.py [--scales 0.2 1] [--before PYTHON] [--no-record]

Each size gets its own cluster (crigate.testbed.kwokcluster: etcd, kube-apiserver
and kwok on loopback), filled by crigate.testbed.kwokload (scale 1: 2,000 nodes in
five node groups with mixed runtimes, 50,000 pods, 20,000 ConfigMaps), stopped
and removed after. The gate runs as a subprocess under /usr/bin/time (wall
seconds, peak RSS); first on the empty cluster (its start-up cost), then on the
filled one. --before PYTHON also runs another checkout's gate (e.g. main's venv
before the inventory was streamed) on the same cluster.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import figures  # noqa: E402  (bench/figures.py, beside this script)
from crigate import nodes as node_facts  # noqa: E402
from crigate import render  # noqa: E402
from crigate.kube import Kube  # noqa: E402
from crigate.testbed import kwokcluster, kwokload  # noqa: E402


def timed(cmd: list[str], cwd: Path = REPO) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MiB, exit code, stdout) of cmd, by /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        run = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%e %M", *cmd], cwd=cwd,
                             capture_output=True, text=True)
        wall, rss_kib = report.read().split()[-2:]
    return float(wall), int(rss_kib) / 1024, run.returncode, run.stdout


def gate(python: str, kubeconfig: Path, folder: Path) -> dict:
    wall, rss, rc, out = timed([python, "-m", "crigate.gate.cli", f"--kubeconfig={kubeconfig}",
                                "--output", "json", f"--report-dir={folder}"], cwd=folder)
    if rc not in (0, 1):
        raise RuntimeError(f"crigate-gate ({python}) exited {rc}: {out[-2000:]}")
    doc = json.loads(out)
    return {"wall": wall, "rss": rss, "rc": rc, "verdict": doc["verdict"], "findings": len(doc["findings"]),
            "breaks": doc["summary"]["breaks"]}


def planning(kubeconfig: Path) -> dict:
    """`pytest suites --cluster existing --runtime auto --collect-only` (the runtimes
    read from the nodes), and in-process the per-node facts and table the cluster
    fixture and report build from the same node list."""
    wall, rss, rc, out = timed([sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider",
                                "--cluster", "existing", f"--kubeconfig={kubeconfig}", "--runtime", "auto",
                                "--collect-only", "-q"])
    if rc != 0:
        raise RuntimeError(f"--runtime auto --collect-only exited {rc}: {out[-2000:]}")
    started = time.monotonic()
    listed = Kube(kubeconfig, None).core.list_node().items
    runtimes = node_facts.runtimes_present(listed)
    checked = {r: node_facts.of_runtime(listed, r) for r in runtimes}
    groups = {n.metadata.name: node_facts.node_group(n) for n in listed}
    versions = {n.metadata.name: node_facts.runtime_version(n) for n in listed}
    rows = [{"node": node, "checked_as": runtime, "runtime_version": versions[node], "group": groups[node],
             "checks": {"test_node_runtime": "passed"}, "failed": []}
            for runtime, names in checked.items() for node in names]
    table = render.nodes_markdown(rows)
    html = render.nodes_html(rows)
    return {"collect_wall": wall, "collect_rss": rss, "table_seconds": time.monotonic() - started,
            "runtimes": {r: len(n) for r, n in checked.items()}, "rows": len(rows),
            "table_lines": len(table), "html_bytes": len(html)}


def one_size(scale: float, before: str | None) -> dict:
    size = kwokload.FULL.scaled(scale)
    cluster = kwokcluster.up()
    try:
        with tempfile.TemporaryDirectory() as folder:
            empty = gate(sys.executable, cluster.kubeconfig, Path(folder))
            api = Kube(cluster.kubeconfig, None).api_client
            filled = kwokload.populate(api, size, say=lambda line: print(f"  {line}", file=sys.stderr))
            settled = kwokload.wait_settled(api, say=lambda line: print(f"  {line}", file=sys.stderr))
            servers = cluster.rss_mib()
            after = gate(sys.executable, cluster.kubeconfig, Path(folder))
            old = gate(before, cluster.kubeconfig, Path(folder)) if before else None
            plan = planning(cluster.kubeconfig)
    finally:
        cluster.stop()
    return {"scale": scale, "size": size, "filled": filled, "settled": settled, "servers": servers,
            "empty": empty, "gate": after, "before": old, "plan": plan}


def main() -> int:
    from crigate.cancel import sigterm_interrupts
    sigterm_interrupts()          # SIGTERM stops the kwok cluster as Ctrl-C does
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs=2, default=(0.2, 1.0),
                        help="two fractions of the full size (2,000 nodes, 50,000 pods, 20,000 ConfigMaps)")
    parser.add_argument("--before", help="a Python whose crigate is the one to compare with "
                                         "(e.g. /work/main/.venv/bin/python)")
    figures.add_option(parser)
    args = parser.parse_args()
    if args.no_record:
        figures.os.environ[figures.SKIP_ENV] = "1"
    results = [one_size(s, args.before) for s in sorted(args.scales)]
    for r in results:
        size, filled, g, e, p = r["size"], r["filled"], r["gate"], r["empty"], r["plan"]
        servers = ", ".join(f"{k} {v:.0f} MiB" for k, v in r["servers"].items())
        print(f"scale {r['scale']:g}: {size.nodes} fake nodes, {filled.pods} pods, {filled.config_maps} "
              f"ConfigMaps ({filled.objects} objects written in {filled.seconds:.0f} s, {filled.rate():.0f}/s; "
              f"kwok settled them in {r['settled']:.0f} s; {servers})")
        print(f"  crigate-gate: **{g['wall']:.1f} s, peak RSS {g['rss']:.0f} MiB** "
              f"({g['verdict']}, {g['findings']} findings, {g['breaks']} that break); "
              f"on the empty cluster {e['wall']:.1f} s, {e['rss']:.0f} MiB")
        if r["before"]:
            b = r["before"]
            print(f"  the same cluster, gate before streaming ({args.before}): {b['wall']:.1f} s, "
                  f"peak RSS {b['rss']:.0f} MiB, {b['verdict']}, {b['findings']} findings")
        print(f"  --runtime auto --collect-only: {p['collect_wall']:.1f} s, peak RSS {p['collect_rss']:.0f} MiB; "
              f"runtimes {p['runtimes']}; per-node table ({p['rows']} rows, markdown and html) "
              f"built in {p['table_seconds']:.1f} s")
    small, big = results
    objects = big["filled"].objects / small["filled"].objects
    rss = big["gate"]["rss"] / small["gate"]["rss"]
    above = ((big["gate"]["rss"] - big["empty"]["rss"]) / max(1.0, small["gate"]["rss"] - small["empty"]["rss"]))
    print(f"objects x{objects:.1f} -> gate peak RSS x{rss:.2f} (above its start-up RSS x{above:.2f}), "
          f"wall time x{big['gate']['wall'] / small['gate']['wall']:.2f}")
    if rss >= objects:
        print("memory grew at least linearly with the objects", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(figures.run_and_record("kwok-gate", main))
