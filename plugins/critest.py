"""critest (the CRI validation suite from cri-tools) on a test-bed node.

The kubelet is stopped while critest runs: it would otherwise kill critest's
sandboxes as pods it does not know. Images come from the node's store
(crigate's busybox and web images); specs that pull from registry.k8s.io
cannot run offline and are skipped by name.
"""
from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from crigate.testbed.engine import docker
from crigate.testbed.images import BUSYBOX_IMAGE, WEB_IMAGE

NODE_BINARY = "/usr/local/bin/critest"
NODE_REPORT = "/tmp/crigate-critest/junit.xml"
NODE_IMAGES_FILE = "/tmp/crigate-critest/images.yaml"
FOCUS = r"\[Conformance\]"
# Describe blocks whose specs pull fixed images from registry.k8s.io.
OFFLINE_SKIP = ("Image Manager", "Multiple Containers",
                # cri-tools 1.37: pull fixed images from gcr.io / registry.k8s.io
                # (pkg/validate/image_consistency.go, image_id_consistency.go)
                "Image Consistency", "Image Identifier Consistency")
GROUPS = ("Runtime info", "PodSandbox", "Container", "Networking", "Streaming")
TIMEOUT_S = 600
# inside the node too: a timed-out `docker exec` would leave critest running there
IN_NODE_TIMEOUT = ("timeout", str(TIMEOUT_S))


@dataclass(frozen=True)
class Spec:
    group: str
    name: str
    outcome: str          # passed, failed, skipped
    message: str = ""


def group_of(name: str) -> str:
    """'[It] [k8s.io] Container runtime should ...' -> 'Container'."""
    text = name.split("[k8s.io] ", 1)[-1]
    return max((g for g in (*GROUPS, *OFFLINE_SKIP) if text.startswith(g)), key=len, default="other")


def parse_junit(xml_text: str) -> list[Spec]:
    specs = []
    for case in ET.fromstring(xml_text).iter("testcase"):
        name = case.get("name", "")
        if name.startswith(("[BeforeSuite]", "[AfterSuite]", "[SynchronizedBeforeSuite]")):
            outcome = "failed" if case.find("failure") is not None else None
            if outcome:
                specs.append(Spec("suite", name, outcome, _message(case)))
            continue
        failure = case.find("failure") if case.find("failure") is not None else case.find("error")
        outcome = ("failed" if failure is not None else
                   "skipped" if case.find("skipped") is not None else "passed")
        specs.append(Spec(group_of(name), name.removeprefix("[It] "), outcome, _message(case)))
    return specs


def _message(case) -> str:
    node = case.find("failure") if case.find("failure") is not None else case.find("error")
    text = (node.get("message") or node.text or "") if node is not None else ""
    return " ".join(text.split())[:500]


def kubelet_healthy(kube, node: str) -> bool:
    try:
        return kube.node_proxy(node, "healthz").strip() == "ok"
    except Exception:                 # not listening yet
        return False


def wait_kubelet_back(kube, node: str, since: float, timeout: float = 120) -> None:
    """After a kubelet restart: its /healthz answers and the node posts a
    Ready heartbeat newer than the restart (the Node object alone stays Ready
    for the node-monitor grace period while the kubelet is down)."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kubelet_healthy(kube, node):
            ready = next((c for c in kube.core.read_node(node).status.conditions or []
                          if c.type == "Ready"), None)
            if ready and ready.status == "True" and ready.last_heartbeat_time.timestamp() >= since:
                return
        time.sleep(1)
    raise AssertionError(f"node {node}: kubelet not back (healthz ok, Ready heartbeat after the restart) "
                         f"within {timeout:.0f}s")


@contextmanager
def kubelet_stopped(node: str, kube=None):
    """The node's kubelet stopped for the block, started again after it, also
    after a failure; with kube, waited for until it is back."""
    docker("exec", node, "systemctl", "stop", "kubelet")
    try:
        yield
    finally:
        since = time.time()
        docker("exec", node, "systemctl", "start", "kubelet")
        if kube is not None:
            wait_kubelet_back(kube, node, since - 1)


def run_on_node(node: str, critest: Path, endpoint: str, focus: str = FOCUS,
                skip: tuple[str, ...] = OFFLINE_SKIP, default_image: str = BUSYBOX_IMAGE,
                kube=None) -> list[Spec]:
    """Copy critest into the node container, run it with the kubelet stopped, parse its JUnit."""
    install(node, critest, default_image, f"rm -f {NODE_REPORT}")
    with kubelet_stopped(node, kube):
        run = docker("exec", node, *IN_NODE_TIMEOUT, NODE_BINARY, f"--runtime-endpoint={endpoint}",
                     f"--image-endpoint={endpoint}", f"--test-images-file={NODE_IMAGES_FILE}",
                     f"--ginkgo.focus={focus}", f"--ginkgo.skip={'|'.join(map(re.escape, skip))}",
                     f"--ginkgo.junit-report={NODE_REPORT}", "--ginkgo.no-color",
                     check=False, timeout=TIMEOUT_S + 30)
    report = docker("exec", node, "cat", NODE_REPORT, check=False)
    if report.returncode != 0:
        raise AssertionError(f"node {node}: critest wrote no report (rc={run.returncode}): "
                             f"{(run.stdout + run.stderr)[-1500:]}")
    return parse_junit(report.stdout)


BENCH_DIR = "/tmp/crigate-critest/bench"
BENCH_PARAMS = "/tmp/crigate-critest/bench-params.yaml"
# Image benchmarks pull fixed images from a registry: skipped offline.
BENCH_SKIP = "Image"


def benchmark_params(lifecycles: int) -> str:
    """critest's --benchmarking-params-file (cri-tools pkg/framework: YAML with
    podsNumber, containersNumber, their *Parallel and *TimeoutSeconds)."""
    return (f"containersNumber: {lifecycles}\ncontainersNumberParallel: 1\n"
            "containerBenchmarkTimeoutSeconds: 60\n"
            f"podsNumber: {lifecycles}\npodsNumberParallel: 1\npodBenchmarkTimeoutSeconds: 60\n"
            "podContainerStartBenchmarkTimeoutSeconds: 60\n")


def parse_benchmark(name: str, text: str) -> dict:
    """One of critest's benchmark files (cri-tools pkg/benchmark/util.go,
    LifecycleBenchmarksResultsSet: operationsNames, datapoints[].
    operationsDurationsNs) -> {operation: [seconds per lifecycle]}."""
    doc = json.loads(text)
    names = doc.get("operationsNames") or []
    found = {op: [] for op in names}
    for point in doc.get("datapoints") or []:
        for op, ns in zip(names, point.get("operationsDurationsNs") or [], strict=False):
            found[op].append(round(ns / 1e9, 6))
    return {"file": name, "operations": found}


def benchmark_on_node(node: str, critest: Path, endpoint: str, lifecycles: int,
                      default_image: str = BUSYBOX_IMAGE, kube=None, handler: str = "") -> list[dict]:
    """critest -benchmark in the node container, the kubelet stopped; its files
    parsed. handler: the runtime handler its sandboxes use ("" = the default)."""
    install(node, critest, default_image, f"rm -rf {BENCH_DIR} && mkdir -p {BENCH_DIR}")
    docker("exec", "-i", node, "sh", "-c", f"cat > {BENCH_PARAMS}", input=benchmark_params(lifecycles))
    with kubelet_stopped(node, kube):
        run = docker("exec", node, *IN_NODE_TIMEOUT, NODE_BINARY, "-benchmark", f"--runtime-endpoint={endpoint}",
                     f"--image-endpoint={endpoint}", f"--test-images-file={NODE_IMAGES_FILE}",
                     f"--benchmarking-params-file={BENCH_PARAMS}",
                     f"--benchmarking-output-dir={BENCH_DIR}", f"--ginkgo.skip={BENCH_SKIP}",
                     *([f"--runtime-handler={handler}"] if handler else []),
                     "--ginkgo.no-color", check=False, timeout=TIMEOUT_S + 30)
    listed = docker("exec", node, "sh", "-c", f"ls {BENCH_DIR}/*.json", check=False).stdout.split()
    if not listed:
        raise AssertionError(f"node {node}: critest -benchmark wrote no results (rc={run.returncode}): "
                             f"{(run.stdout + run.stderr)[-1500:]}")
    return [parse_benchmark(Path(f).name, docker("exec", node, "cat", f).stdout) for f in sorted(listed)]


def check_benchmark(results: list[dict], node: str, runtime: str, lifecycles: int) -> None:
    """Every operation of every lifecycle critest benchmarked has its figure."""
    __tracebackhide__ = True
    short = {f"{r['file']}:{op}": len(v) for r in results for op, v in r["operations"].items()
             if len(v) < lifecycles}
    assert results and not short, (f"node {node} ({runtime}): expected {lifecycles} samples of every "
                                   f"critest benchmark operation, observed {short or 'no results'}")


def install(node: str, critest: Path, default_image: str, prepare: str) -> None:
    """critest and its images file into the node container; prepare: its output dir."""
    docker("cp", str(critest), f"{node}:{NODE_BINARY}")
    images = f"defaultTestContainerImage: {default_image}\nwebServerTestImage: {WEB_IMAGE}\n"
    docker("exec", "-i", node, "sh", "-c", f"mkdir -p {Path(NODE_REPORT).parent} && {prepare} && "
           f"cat > {NODE_IMAGES_FILE}", input=images)


def check_group(specs: list[Spec], group: str, node: str, runtime: str) -> None:
    __tracebackhide__ = True
    ran = [s for s in specs if s.group == group and s.outcome != "skipped"]
    failed = [s for s in ran if s.outcome == "failed"]
    broken = [s for s in specs if s.group == "suite"]
    assert not broken, f"node {node} ({runtime}): critest suite setup failed: {broken[0].message}"
    assert ran, f"node {node} ({runtime}): critest ran no spec of group {group!r}"
    assert not failed, (f"node {node} ({runtime}): {len(failed)} of {len(ran)} critest specs of "
                        f"{group!r} failed, expected all to pass:\n"
                        + "\n".join(f"- {s.name}: {s.message}" for s in failed))
