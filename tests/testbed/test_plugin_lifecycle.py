"""The plugin on real clusters: existing-cluster mode, and nothing left behind
after Ctrl-C or a crashed xdist worker."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crigate.providers import cluster_name
from crigate.testbed import kindcluster
from crigate.testbed.images import BUSYBOX_IMAGE

from .runs import reaped

pytestmark = pytest.mark.testbed
REPO = Path(__file__).resolve().parents[2]
# pytester points HOME at its temp dir; the test bed's caches (and Go's) live under the real one.
REAL_HOME = os.path.expanduser("~")


def own_run() -> tuple[dict, str]:
    """An environment naming a child run by its own token, and the cluster it makes:
    the test watches that cluster alone (other tests' runs go side by side)."""
    token = secrets.token_hex(4)
    return {**os.environ, "CRIGATE_RUN_TOKEN": token}, cluster_name("containerd", token)


def cluster_stands(name: str) -> bool:
    return name in kindcluster.existing_clusters() or bool(kindcluster.node_containers(name))


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


def test_ctrl_c_while_a_cluster_is_created_leaves_no_cluster(tmp_path):
    env, cluster = own_run()
    with reaped([sys.executable, "-m", "pytest", "suites/test_sockets.py", "--runtime=containerd",
                 "-p", "no:cacheprovider", "-q", f"--report-dir={tmp_path}"], cwd=REPO, env=env) as run:
        deadline = time.monotonic() + 120
        while not kindcluster.node_containers(cluster):
            assert run.poll() is None and time.monotonic() < deadline, "no cluster was being created"
            time.sleep(0.5)
        time.sleep(3)                              # kind is now inside `create cluster`
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=120)
    assert run.returncode != 0, output[-2000:]
    assert not cluster_stands(cluster), f"cluster {cluster} left after Ctrl-C:\n{output[-2000:]}"


def test_crashed_worker_leaves_no_cluster(pytester, monkeypatch):
    monkeypatch.setenv("HOME", REAL_HOME)
    pytester.makepyfile(test_crash="""
        import os
        def test_crash(cluster):
            os._exit(3)      # the worker dies holding a cluster
    """)
    env, cluster = own_run()
    made = False
    with reaped([sys.executable, "-m", "pytest", "--runtime=containerd", "-n", "1",
                 "--max-worker-restart=0", "-p", "no:cacheprovider"], cwd=pytester.path, env=env) as run:
        deadline = time.monotonic() + 600         # a cluster created and deleted on 2 busy cores
        while run.poll() is None:                  # note whether the run made its cluster
            made = made or bool(kindcluster.node_containers(cluster))
            assert time.monotonic() < deadline, "the crashed run did not finish in 600s"
            time.sleep(0.5)
        output = run.stdout.read()
    assert "worker 'gw0' crashed while running" in output, output[-2000:]
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, output[-2000:]
    assert made, f"the worker created no cluster {cluster}:\n{output[-2000:]}"
    assert not cluster_stands(cluster), f"the crashed worker's cluster {cluster} was left behind:\n{output[-2000:]}"
