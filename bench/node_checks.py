#!/usr/bin/env python3
"""Node checks on 1 node and on 8: does the time stay flat as nodes grow?

    python bench/node_checks.py [--workers 8] [--repeat 2] [--kubeconfig PATH] [--keep]

Makes a test-bed cluster of a control plane and --workers containerd workers
(`python -m crigate.testbed up --workers containerd:8`; or uses --kubeconfig's
cluster) and runs the node-check area (sockets) as on a cluster crigate did not
make (--cluster=existing: a debug pod per node, every command an exec through the API):
on one worker, on all workers, and on all workers one node at a time
(--node-concurrency 1, what the area cost before nodes were read together).
Prints the area's seconds (the sum of its tests' times from JUnit XML, the
median of --repeat runs), seconds per node, the ratio all/one, and a linear
projection to 100 and 500 nodes; records them in docs/figures.md (section
node-checks).
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import figures

REPO = Path(__file__).resolve().parent.parent
AREA = "sockets"
WORKER_SELECTOR = "!node-role.kubernetes.io/control-plane"
PROJECT_TO = (100, 500)


def testbed(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "crigate.testbed", *args], cwd=REPO, check=True)


def workers(kubeconfig: Path) -> list[str]:
    from crigate.kube import Kube
    nodes = Kube(kubeconfig, None).core.list_node(label_selector=WORKER_SELECTOR).items
    return sorted(n.metadata.name for n in nodes)


def area_seconds(kubeconfig: Path, selector: str, concurrency: int, out: Path) -> float:
    """The sockets area's time on the nodes selector picks: its tests' times summed."""
    from crigate.testbed.images import BUSYBOX_IMAGE
    junit = out / "junit.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-m", AREA, "--cluster=existing",
         f"--kubeconfig={kubeconfig}", "--runtime=containerd", f"--nodes={selector}",
         f"--node-concurrency={concurrency}", f"--debug-image={BUSYBOX_IMAGE}",
         f"--report-dir={out}", f"--junitxml={junit}", "-p", "no:cacheprovider", "-q"],
        cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pytest exit {done.returncode} on {selector!r}:\n{done.stdout[-3000:]}")
    return sum(float(case.get("time", 0)) for case in ET.parse(junit).iter("testcase"))


def node_cpu_seconds(cluster_nodes: list[str]) -> float:
    """CPU the node containers used so far (cgroup v1 cpuacct; v2 cpu.stat)."""
    from crigate.testbed.engine import docker
    total = 0.0
    for node in cluster_nodes:
        ident = docker("inspect", "-f", "{{.Id}}", node).stdout.strip()
        v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{ident}/cpuacct.usage")
        v2 = Path(f"/sys/fs/cgroup/system.slice/docker-{ident}.scope/cpu.stat")
        if v1.exists():
            total += int(v1.read_text()) / 1e9
        elif v2.exists():
            total += int(v2.read_text().split()[1]) / 1e6
    return total


def measure_steps(steps: dict, names: list[str], every: list[str], figures_of: dict) -> None:
    import resource

    from crigate.nodereads import across_nodes
    for step, work in steps.items():
        wall, cpu, nodes_cpu = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF), node_cpu_seconds(every)
        failed = across_nodes(names, work, what=step).failed
        after = resource.getrusage(resource.RUSAGE_SELF)
        figures_of[step] = (time.monotonic() - wall, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
                            node_cpu_seconds(every) - nodes_cpu)
        if failed:
            raise SystemExit(f"{step}: {failed}")


def phases(kubeconfig: Path, names: list[str], every: list[str]) -> dict[str, float]:
    """The node checks' work on `names` in this process, phase by phase: wall
    seconds, this process's CPU and the node containers' CPU for each."""
    import resource

    from crigate.nodefacts import gather
    from crigate.providers import ExistingClusterProvider
    from crigate.suites.test_sockets import node_facts_request
    from crigate.testbed.images import BUSYBOX_IMAGE
    provider = ExistingClusterProvider("containerd", kubeconfig, None, debug_image=BUSYBOX_IMAGE)
    provider.create()
    steps = {"debug pods Running": lambda node: provider.node_host(node),
             "facts read (one exec each)": lambda node: gather(provider.node_host(node), node,
                                                                node_facts_request(provider.profile))}
    figures_of = {}
    try:
        measure_steps(steps, names, every, figures_of)
    except BaseException:
        provider.delete()
        raise
    wall, cpu, nodes_cpu = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF), node_cpu_seconds(every)
    provider.delete()
    after = resource.getrusage(resource.RUSAGE_SELF)
    figures_of["debug pods deleted"] = (time.monotonic() - wall, after.ru_utime + after.ru_stime - cpu.ru_utime
                                        - cpu.ru_stime, node_cpu_seconds(every) - nodes_cpu)
    return figures_of


def breakdown(kubeconfig: Path, repeat: int) -> list[tuple[str, int, tuple, tuple]]:
    """Per phase: (phase, nodes, (wall, client cpu, node cpu) on 1 node, the same on all workers)."""
    from crigate.testbed.kindcluster import node_containers
    names = workers(kubeconfig)
    every = node_containers(names[0].rsplit("-worker", 1)[0]) or names     # kind names nodes <cluster>-worker<N>
    runs = {count: [phases(kubeconfig, names[:count], every) for _ in range(repeat)] for count in (1, len(names))}
    rows = []
    for step in runs[1][0]:
        one = tuple(statistics.median(r[step][i] for r in runs[1]) for i in range(3))
        many = tuple(statistics.median(r[step][i] for r in runs[len(names)]) for i in range(3))
        rows.append((step, len(names), one, many))
    return rows


def measure(kubeconfig: Path, repeat: int) -> list[tuple[str, int, int, float]]:
    names = workers(kubeconfig)
    runs = [("one node", f"kubernetes.io/hostname={names[0]}", 1, 16),
            ("every worker, together", WORKER_SELECTOR, len(names), 16),
            ("every worker, one at a time", WORKER_SELECTOR, len(names), 1)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="crigate-node-checks-") as tmp:
        for label, selector, count, concurrency in runs:
            times = [area_seconds(kubeconfig, selector, concurrency, Path(tmp) / f"{count}-{concurrency}-{i}")
                     for i in range(repeat)]
            rows.append((label, count, concurrency, statistics.median(times)))
            print(f"{label}: {count} nodes, concurrency {concurrency}: {times}", file=sys.stderr)
    return rows


def breakdown_lines(rows) -> list[str]:
    n = rows[0][1]
    lines = ["", "Where the time goes (in one process, median of the runs): wall seconds, crigate's own CPU "
             "seconds, and the CPU seconds the node containers used "
             "(their cgroups; the control plane, API server and etcd, included):", "",
             f"| phase | 1 node: wall / crigate CPU / nodes CPU | {n} nodes: wall / crigate CPU / nodes CPU |",
             "|---|---|---|"]
    for step, _, one, many in rows:
        lines.append(f"| {step} | {one[0]:.2f} / {one[1]:.2f} / {one[2]:.2f} | "
                     f"{many[0]:.2f} / {many[1]:.2f} / {many[2]:.2f} |")
    nodes_cpu = sum(many[2] for *_, many in rows) / n
    client_cpu = sum(many[1] for *_, many in rows) / n
    lines += ["", f"Per node, the nodes spent {nodes_cpu:.2f} CPU s (the debug pod's sandbox and container, "
              f"the exec) and crigate {client_cpu:.2f} CPU s. Here all {n + 1} nodes share the 2 cores, so "
              f"{n} nodes' own work alone takes at least {n * nodes_cpu / 2:.2f} s of wall time; on a cluster "
              "each node does that work on its own CPUs, and what grows with the nodes is crigate's share "
              f"and the API server's: {client_cpu:.2f} CPU s per node here."]
    return lines


def report(rows, repeat: int, wall: float) -> str:
    (_, _, _, one), (_, n, _, many), (_, _, _, serial) = rows
    slope = (many - one) / (n - 1)
    lines = [f"Sockets area (6 node checks) on an existing-cluster run (--cluster=existing: a debug pod "
             "per node, commands exec'd through the API), test-bed cluster of a control plane and "
             f"{n} containerd workers; median of {repeat} runs; {wall:.0f} s in all.", "",
             "| nodes | nodes at once | area (s) | s per node |", "|---|---|---|---|"]
    lines += [f"| {count} | {conc} | {secs:.1f} | {secs / count:.2f} |" for _, count, conc, secs in rows]
    lines += ["", f"Ratio {n} nodes / 1 node: **{many / one:.2f}** (target < 1.5); one node at a time it "
              f"was {serial / one:.2f}.",
              "Linear projection from these two points (each further node adds "
              f"{slope:.2f} s here, where 2 cores run every kubelet, the API server and each "
              "exec): " + ", ".join(f"{k} nodes ~{one + slope * (k - 1):.0f} s" for k in PROJECT_TO) + "."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--kubeconfig", type=Path, help="use this cluster instead of making one")
    parser.add_argument("--keep", action="store_true", help="leave the cluster made here")
    figures.add_option(parser)
    args = parser.parse_args()
    started = time.monotonic()
    name, kubeconfig = None, args.kubeconfig
    if kubeconfig is None:
        name = f"crigate-bench-nodes-{secrets.token_hex(3)}"
        kubeconfig = Path(tempfile.gettempdir()) / f"{name}.kubeconfig"
        testbed("up", "--runtime", "containerd", "--workers", f"containerd:{args.workers}",
                "--name", name, "--kubeconfig", str(kubeconfig))
    try:
        rows = measure(kubeconfig, args.repeat)
        split = breakdown(kubeconfig, args.repeat)
    finally:
        if name and not args.keep:
            testbed("down", "--name", name)
    text = report(rows, args.repeat, time.monotonic() - started) + "\n" + "\n".join(breakdown_lines(split))
    print(text)
    figures.record("node-checks", text, no_record=args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
