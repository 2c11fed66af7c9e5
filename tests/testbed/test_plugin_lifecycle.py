"""The plugin on real clusters: existing-cluster mode, and nothing left behind
after Ctrl-C or a crashed xdist worker."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crigate.pytest_plugin import TOKEN
from crigate.testbed import kindcluster
from crigate.testbed.images import BUSYBOX_IMAGE

from .runs import reaped

pytestmark = pytest.mark.testbed
REPO = Path(__file__).resolve().parents[2]
# pytester points HOME at its temp dir; the test bed's caches (and Go's) live under the real one.
REAL_HOME = os.path.expanduser("~")


def crigate_clusters(runtime: str) -> set[str]:
    prefix = f"{kindcluster.CLUSTER_PREFIX}-{runtime}-"
    return {c for c in kindcluster.existing_clusters() if c.startswith(prefix)}


@pytest.fixture
def other_runs_clusters(pytestconfig):
    """crigate clusters of runs started by the test, not this session's own
    (which another worker may be creating right now)."""
    own = f"-{pytestconfig.stash[TOKEN]}"
    return lambda: {c for c in crigate_clusters("containerd") if not c.endswith(own)}


def test_existing_cluster_mode_checks_through_debug_pods(cluster, tmp_path):
    if missing := cluster.capabilities.missing("images_preloaded", "points --cluster=existing at "
                                               "this cluster, with a debug image it cannot pull"):
        pytest.skip(missing)
    kubeconfig, _ = cluster.provider.kubeconfig()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/test_sockets.py", "--cluster=existing",
         f"--kubeconfig={kubeconfig}", f"--runtime={cluster.runtime}", f"--debug-image={BUSYBOX_IMAGE}",
         f"--report-dir={tmp_path}", "-p", "no:cacheprovider", "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["clusters"][cluster.runtime]["provider"] == "existing"
    assert {r["outcome"] for r in doc["results"]} == {"passed"}, doc["results"]
    left = cluster.kube.core.list_namespaced_pod(
        "default", label_selector="app.kubernetes.io/managed-by=crigate").items
    assert not left, f"debug pods left behind: {[p.metadata.name for p in left]}"


# Both runs below watch the set of crigate clusters: keep them off each other's way.
@pytest.mark.xdist_group("cluster-lifecycle")
def test_ctrl_c_while_a_cluster_is_created_leaves_no_cluster(other_runs_clusters, tmp_path):
    before = other_runs_clusters()
    with reaped([sys.executable, "-m", "pytest", "suites/test_sockets.py", "--runtime=containerd",
                 "-p", "no:cacheprovider", "-q", f"--report-dir={tmp_path}"], cwd=REPO) as run:
        deadline = time.monotonic() + 120
        while not (created := other_runs_clusters() - before):
            assert run.poll() is None and time.monotonic() < deadline, "no cluster was being created"
            time.sleep(0.5)
        time.sleep(3)                              # kind is now inside `create cluster`
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=120)
    assert run.returncode != 0, output[-2000:]
    left = created & other_runs_clusters()
    assert not left, f"cluster {left} left after Ctrl-C:\n{output[-2000:]}"


@pytest.mark.xdist_group("cluster-lifecycle")
def test_crashed_worker_leaves_no_cluster(pytester, monkeypatch, other_runs_clusters):
    monkeypatch.setenv("HOME", REAL_HOME)
    pytester.makepyfile(test_crash="""
        import os
        def test_crash(cluster):
            os._exit(3)      # the worker dies holding a cluster
    """)
    before = other_runs_clusters()
    created: set[str] = set()
    with reaped([sys.executable, "-m", "pytest", "--runtime=containerd", "-n", "1",
                 "--max-worker-restart=0", "-p", "no:cacheprovider"], cwd=pytester.path) as run:
        deadline = time.monotonic() + 600         # a cluster created and deleted on 2 busy cores
        while run.poll() is None:                  # note every cluster the run makes
            created |= other_runs_clusters() - before
            assert time.monotonic() < deadline, "the crashed run did not finish in 600s"
            time.sleep(0.5)
        output = run.stdout.read()
    assert "worker 'gw0' crashed while running" in output, output[-2000:]
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, output[-2000:]
    assert created, f"the worker created no cluster:\n{output[-2000:]}"
    left = created & other_runs_clusters()
    assert not left, f"the crashed worker's cluster {left} was left behind:\n{output[-2000:]}"
