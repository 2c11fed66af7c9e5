"""The gate and `--runtime auto` on a small cluster of kwok fake nodes: node
groups whose nodes report docker://, containerd:// and cri-o://, a few hundred
pods bound to them, the corpus' couplings; nothing left behind after."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from crigate import nodes
from crigate.kube import Kube
from crigate.testbed import kwokcluster, kwokload

pytestmark = pytest.mark.testbed
REPO = Path(__file__).resolve().parents[2]
SMALL = kwokload.Size(nodes=50, pods=400, config_maps=60)


@pytest.fixture(scope="module")
def kwok(tmp_path_factory):
    cluster = kwokcluster.up(workdir=tmp_path_factory.mktemp("kwok") / "cluster")
    try:
        api = Kube(cluster.kubeconfig, None).api_client
        filled = kwokload.populate(api, SMALL, say=lambda line: None)
        kwokload.wait_settled(api, timeout=300, say=lambda line: None)
        yield cluster, filled
    finally:
        started = dict(cluster.processes)      # stop() forgets them; they are looked at after it
        cluster.stop()
        leftover = [name for name, p in started.items() if p.poll() is None]
        assert not leftover, f"kwok cluster: processes still running after stop(): {leftover}"
        assert not cluster.workdir.exists(), f"kwok cluster: {cluster.workdir} still there after stop()"


def docker_nodes(cluster) -> list[str]:
    listed = Kube(cluster.kubeconfig, None).core.list_node().items
    return sorted(n.metadata.name for n in listed if nodes.runtime_of(n) == "docker")


def test_kwok_nodes_are_ready_in_their_groups_with_the_runtime_they_were_given(kwok):
    cluster, filled = kwok
    listed = Kube(cluster.kubeconfig, None).core.list_node().items
    assert len(listed) == filled.nodes == SMALL.nodes
    seen = {(nodes.node_group(n), nodes.runtime_version(n)) for n in listed}
    expected = {(g.name, g.runtime_version) for g in kwokload.NODE_GROUPS}
    assert seen == expected, f"node groups and runtimes: expected {sorted(expected)}, observed {sorted(seen)}"
    unready = [n.metadata.name for n in listed if not nodes.is_ready(n)]
    assert not unready, f"fake nodes kwok did not make Ready: {unready}"


def test_gate_says_no_go_and_names_the_docker_nodes_and_couplings(kwok, tmp_path):
    cluster, _ = kwok
    done = subprocess.run([sys.executable, "-m", "crigate.gate.cli", f"--kubeconfig={cluster.kubeconfig}",
                           "--output", "json", f"--report-dir={tmp_path}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, f"crigate-gate: expected exit 1 (NO-GO), observed {done.returncode}: " \
                                 f"{done.stderr[-2000:]}"
    doc = json.loads(done.stdout)
    objects = {f["object"] for f in doc["findings"]}
    wanted = ["DaemonSet/monitoring/log-agent", "Pod/team-000/bare-00000"]
    for ref in wanted:
        assert any(o.startswith(ref) for o in objects), \
            f"gate on the kwok cluster: expected a finding on {ref}, observed objects {sorted(objects)[:20]}"
    docker = docker_nodes(cluster)
    assert docker, "the kwok cluster has no node reporting docker://"
    reported = {n for n, version in doc["nodes"].items() if version.startswith("docker://")}
    assert reported == set(docker), f"nodes the gate reports on docker://: expected {docker}, " \
                                    f"observed {sorted(reported)}"


def test_runtime_auto_plans_each_runtime_on_its_own_fake_nodes(kwok):
    cluster, _ = kwok
    listed = Kube(cluster.kubeconfig, None).core.list_node().items
    found = nodes.runtimes_present(listed)
    assert set(found) == {"docker", "containerd", "cri-o"}, f"--runtime auto: observed {found}"
    assert nodes.of_runtime(listed, "docker") == docker_nodes(cluster)
    done = subprocess.run([sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "--cluster",
                           "existing", f"--kubeconfig={cluster.kubeconfig}", "--runtime", "auto",
                           "--collect-only", "-q"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"--runtime auto --collect-only: exit {done.returncode}: {done.stdout[-2000:]}"
    for runtime in found:
        assert f"[{runtime}]" in done.stdout, \
            f"--runtime auto on the kwok cluster: no check collected for {runtime}: {done.stdout[-1500:]}"
