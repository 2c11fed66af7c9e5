"""crigate-gate over a fleet of real clusters in one run: the session's cluster
seeded with a Docker coupling, a second test-bed cluster left clean, and a
context whose API server is down. One verdict per cluster, the fleet's exit
code the worst of them, the unreachable one named and undecided alone."""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from crigate.testbed.images import BUSYBOX_IMAGE
from crigate.testbed.ports import free_port

from .gate_seeds import container, host_path, pod_spec, workload

pytestmark = pytest.mark.testbed
REPO = Path(__file__).resolve().parents[2]


def run_testbed(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "crigate.testbed", *args], cwd=REPO, check=True, timeout=900)


def merged_kubeconfig(path: Path, named: dict[str, Path], down: str) -> Path:
    """One kubeconfig: a context per name -> kubeconfig file (its current context),
    and `down`, the first one's credentials at an address nothing answers."""
    doc = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for name, source in named.items():
        one = yaml.safe_load(source.read_text())
        ctx = next(c for c in one["contexts"] if c["name"] == one["current-context"])["context"]
        cluster = next(c for c in one["clusters"] if c["name"] == ctx["cluster"])
        user = next(u for u in one["users"] if u["name"] == ctx["user"])
        doc["clusters"].append({"name": name, "cluster": cluster["cluster"]})
        doc["users"].append({"name": name, "user": user["user"]})
        doc["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    first = next(iter(named))
    doc["clusters"].append({"name": down, "cluster": {"server": f"https://127.0.0.1:{free_port()}",
                                                      "insecure-skip-tls-verify": True}})
    doc["contexts"].append({"name": down, "context": {"cluster": down, "user": first}})
    doc["current-context"] = first
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def fleet(cluster, kubectl, tmp_path_factory):
    if cluster.runtime != "containerd":
        pytest.skip("the fleet is read once, from the containerd worker (its cluster is one of three)")
    folder = tmp_path_factory.mktemp("fleet")
    clean_name = f"crigate-fleet-{secrets.token_hex(3)}"
    clean_config = folder / "clean.kubeconfig"
    namespace = f"fleet-seed-{secrets.token_hex(3)}"     # not crigate-labelled: audited
    seed = workload("DaemonSet", "log-agent", pod_spec(
        [container(image=BUSYBOX_IMAGE, mounts=[("docker-sock", "/var/run/docker.sock")])],
        volumes=[host_path("docker-sock", "/var/run/docker.sock")]))
    kubectl("create", "namespace", namespace)
    try:
        kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(seed))
        try:            # a failed or killed `up` deletes what it made; `down` makes sure
            run_testbed("up", "--runtime", "containerd", "--name", clean_name, "--kubeconfig", str(clean_config))
            config = merged_kubeconfig(folder / "fleet.kubeconfig",
                                       {"coupled": cluster.provider.kubeconfig()[0], "clean": clean_config},
                                       down="down")
            done = subprocess.run(
                [sys.executable, "-m", "crigate.gate.cli", f"--kubeconfig={config}", "--all-contexts",
                 "--runtime=containerd", "-o", "json", f"--report-dir={folder / 'report'}"],
                cwd=REPO, capture_output=True, text=True, timeout=600)
        finally:
            run_testbed("down", "--name", clean_name)
    finally:
        kubectl("delete", "namespace", namespace, "--wait=true", timeout=180)
    return done, folder / "report", namespace


def test_the_fleet_is_no_go_with_one_verdict_per_cluster(fleet):
    done, _, namespace = fleet
    assert done.returncode == 1, f"expected the fleet NO-GO (exit 1):\n{done.stderr[-3000:]}"
    doc = json.loads(done.stdout)
    clusters = {c["context"]: c for c in doc["clusters"]}
    assert {name: c["verdict"] for name, c in clusters.items()} == {
        "clean": "GO", "coupled": "NO-GO", "down": "UNDECIDED"}, done.stderr[-3000:]
    coupled = {(f["cluster"], f["check"], f["object"]) for f in doc["findings"] if f["severity"] == "breaks"}
    assert ("coupled", "docker-socket-mount", f"DaemonSet/{namespace}/log-agent/main") in coupled, coupled
    assert not [f for f in doc["findings"] if f["cluster"] == "clean" and f["severity"] == "breaks"]


def test_the_unreachable_cluster_is_named_and_undecided_alone(fleet):
    done, _, _ = fleet
    doc = json.loads(done.stdout)
    (reason,) = {c["context"]: c for c in doc["clusters"]}["down"]["undecided"]
    assert "down" in reason and "unreachable" in reason, reason
    assert "read 3 of 3 clusters" in done.stderr, done.stderr[-2000:]


def test_the_reports_open_with_the_fleet_table(fleet):
    _, report, _ = fleet
    md = (report / "report.md").read_text().splitlines()
    assert md[0] == "# crigate gate, fleet of 3 clusters: NO-GO", md[:3]
    rows = [[cell.strip() for cell in line.split("|")[1:3]] for line in md if line.startswith("| `")]
    assert rows[:3] == [["`coupled`", "NO-GO"], ["`clean`", "GO"], ["`down`", "UNDECIDED"]], md[:10]
    page = (report / "report.html").read_text()
    assert page.index('<table class="fleet">') < page.index("<section")
