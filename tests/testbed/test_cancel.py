"""Cancelled the way CI systems cancel, at each point of a run: SIGINT or
SIGTERM to the pytest controller alone or to its whole process group, or its
xdist worker killed (SIGKILL); while the cluster is created, during a check,
in the latency area, and while the cluster is deleted. Afterwards no cluster,
node container or command of that run is left.

Each run has its own CRIGATE_RUN_TOKEN, so its cluster is known by name and
the runs can go side by side. Each waits for its phase by what the phase does
on the machine (node containers, the run's namespaces and pods, kind's delete),
never by a sleep; the delete is made to last (a kind wrapper that waits before
running the real kind delete) so a signal lands inside it every time."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crigate.kube import Kube, run_selector
from crigate.providers import cluster_name
from crigate.testbed import kindcluster, teardown

from .runs import SMALL_PERF

pytestmark = pytest.mark.testbed
REPO = Path(__file__).resolve().parents[2]
RUNTIME = "containerd"
PHASE_TIMEOUT_S = 300       # a cluster made on 2 cores shared with the other worker's runs
END_TIMEOUT_S = 300         # what the cancelled run takes to delete what it made

SIGNALS = {   # name -> (signal, whom)
    "sigint-controller": (signal.SIGINT, "controller"),
    "sigterm-controller": (signal.SIGTERM, "controller"),
    "sigint-group": (signal.SIGINT, "group"),
    "sigterm-group": (signal.SIGTERM, "group"),
    "sigkill-worker": (signal.SIGKILL, "worker"),
}


class Run:
    """A `pytest suites/...` run on the test bed, in its own process group."""

    def __init__(self, tmp_path: Path, args: list[str]):
        self.token = secrets.token_hex(4)
        self.cluster = cluster_name(RUNTIME, self.token)
        self.marker = tmp_path / "kind-delete-started"
        kind = tmp_path / "kind"          # the real kind, made to wait before a delete
        kind.write_text(f"#!/bin/sh\nif [ \"$1\" = delete ]; then touch {self.marker}; sleep 4; fi\n"
                        f"exec {kindcluster.kind_bin()} \"$@\"\n")
        kind.chmod(0o755)
        self.log = tmp_path / "run.log"       # a file, not a pipe: a pipe nobody reads fills and blocks the run
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pytest", *args, f"--runtime={RUNTIME}", "-n", "1",
                 "--max-worker-restart=0", f"--kind-bin={kind}", "-p", "no:cacheprovider",
                 f"--report-dir={tmp_path / 'report'}"],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, "CRIGATE_RUN_TOKEN": self.token})

    def wait_for(self, phase: str, reached) -> None:
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        while not reached(self):
            if self.process.poll() is not None or time.monotonic() > deadline:
                out = self.end()
                said = [line for line in out.splitlines() if "ERROR" in line or "failed" in line]
                pytest.fail(f"run {self.token} never reached {phase} (exit {self.process.returncode}):\n"
                            + "\n".join(said[:20]) + f"\n...\n{out[-2000:]}")
            time.sleep(0.3)

    def send(self, signum: int, whom: str) -> None:
        if whom == "group":
            os.killpg(self.process.pid, signum)
        elif whom == "worker":
            os.kill(self.worker_pid(), signum)
        else:
            self.process.send_signal(signum)

    def worker_pid(self) -> int:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid and "python" in stat:
                    return int(entry.name)
        raise AssertionError(f"run {self.token}: no xdist worker under pid {self.process.pid}")

    def end(self) -> str:
        try:
            self.process.wait(timeout=END_TIMEOUT_S)
            return self.log.read_text(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return self.log.read_text(errors="replace") + f"\n(test: run still going after {END_TIMEOUT_S}s, killed)"

    def kube(self) -> Kube | None:
        path = kindcluster.default_kubeconfig(self.cluster)
        return Kube(path, None) if path.is_file() else None


def nodes_exist(run: Run) -> bool:
    return bool(kindcluster.node_containers(run.cluster))


def labelled(what: str):
    def reached(run: Run) -> bool:
        try:
            kube = run.kube()
            if kube is None:
                return False
            listing = kube.core.list_namespace if what == "namespace" else kube.core.list_pod_for_all_namespaces
            return bool(listing(label_selector=run_selector(run.token)).items)
        except Exception:          # the API server is not up yet
            return False
    return reached


def deleting(run: Run) -> bool:
    return run.marker.exists()


PHASES = {   # name -> (what the run runs, how the test knows it is there)
    "create": (["suites/test_sockets.py"], nodes_exist),
    "check": (["suites/test_namespaces.py"], labelled("namespace")),
    "latency": (["suites/test_latency.py", *SMALL_PERF], labelled("pod")),
    "teardown": (["suites/test_sockets.py", "-k", "runtime_scheme"], deleting),
}


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("how", SIGNALS)
def test_a_cancelled_run_leaves_nothing(how, phase, tmp_path):
    signum, whom = SIGNALS[how]
    args, reached = PHASES[phase]
    run = Run(tmp_path, args)
    try:
        run.wait_for(phase, reached)
        if phase == "create":
            time.sleep(2)      # kind is inside `create cluster` (the nodes exist, kubeadm runs)
        run.send(signum, whom)
        out = run.end()
    finally:
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()
    assert run.process.returncode != 0, f"a cancelled run exited 0:\n{out[-3000:]}"
    left = kindcluster.node_containers(run.cluster)
    strays = teardown.stray_commands(run.cluster)
    listed = run.cluster in kindcluster.existing_clusters()
    for name in left:                          # leave the machine clean for the next test
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)
    assert not (left or strays or listed), (
        f"{how} {phase}: cluster {run.cluster} expected gone, observed node containers {left}, "
        f"commands {strays}, listed by kind: {listed}\n{out[-3000:]}")
