"""crigate-gate over a fleet (--context A --context B, --all-contexts): one
verdict per cluster, the fleet's exit code, each cluster read with its own
client, and every format naming the cluster. Fake API servers, no cluster."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from crigate.gate import cli, fleet, outputs
from crigate.gate.verdict import Kind, Verdict
from crigate.testbed.ports import free_port

from tests.plugin.test_gate_cli import check_against_schema
from tests.plugin.test_gate_engine import DOCKER_NODE, SOCKET_DS, FakeApiServer

CONTAINERD_NODE = {"metadata": {"name": "n-clean"},
                   "status": {"nodeInfo": {"containerRuntimeVersion": "containerd://1.7.2"}}}
NAMESPACES = [{"metadata": {"name": "mon"}}]


def kubeconfig(folder: Path, servers: dict[str, str]) -> Path:
    """One kubeconfig with a context (and cluster) per name -> server address."""
    names = list(servers)
    clusters = "".join(f"- {{name: {n}, cluster: {{server: '{a}'}}}}\n" for n, a in servers.items())
    contexts = "".join(f"- {{name: {n}, context: {{cluster: {n}, user: u}}}}\n" for n in names)
    path = folder / "kubeconfig"
    path.write_text(f"apiVersion: v1\nkind: Config\ncurrent-context: {names[0]}\nclusters:\n{clusters}"
                    f"users: [{{name: u, user: {{token: t}}}}]\ncontexts:\n{contexts}")
    return path


def address(api: FakeApiServer) -> str:
    return f"http://127.0.0.1:{api.server.server_port}"


@pytest.fixture(scope="module")
def servers():
    """clean: a containerd node, nothing coupled; coupled: a DaemonSet on
    docker.sock and a Docker node; down: nothing listens."""
    clean = FakeApiServer({"/api/v1/nodes": [CONTAINERD_NODE], "/api/v1/namespaces": NAMESPACES})
    coupled = FakeApiServer({"/apis/apps/v1/daemonsets": [SOCKET_DS], "/api/v1/nodes": [DOCKER_NODE],
                             "/api/v1/namespaces": NAMESPACES})
    yield {"clean": address(clean), "coupled": address(coupled), "down": f"http://127.0.0.1:{free_port()}"}
    clean.server.shutdown()
    coupled.server.shutdown()


def gate(*args: str) -> tuple[int, str, str]:
    """crigate-gate in this process (so a client kept between clusters would show)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def run_fleet(folder: Path, servers: dict, names: list[str], *more: str) -> tuple[int, dict, str]:
    config = kubeconfig(folder, {n: servers[n] for n in names})
    contexts = [a for n in names for a in ("--context", n)]
    code, out, err = gate(f"--kubeconfig={config}", *contexts, "-o", "json",
                          f"--report-dir={folder / 'r'}", *more)
    return code, (json.loads(out) if out else {}), err


@pytest.fixture(scope="module")
def three(servers, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fleet")
    return (folder, *run_fleet(folder, servers, ["clean", "coupled", "down"]))


def by_cluster(doc: dict) -> dict[str, dict]:
    return {c["context"]: c for c in doc["clusters"]}


def test_one_verdict_per_cluster_and_a_break_anywhere_makes_the_fleet_no_go(three):
    _, code, doc, err = three
    assert code == 1, err
    clusters = by_cluster(doc)
    assert list(clusters) == ["clean", "coupled", "down"]          # the order given, not the order read
    assert {c: (v["verdict"], v["exit_code"]) for c, v in clusters.items()} == {
        "clean": ("GO", 0), "coupled": ("NO-GO", 1), "down": ("UNDECIDED", 2)}
    assert doc["verdict"] == "NO-GO" and doc["source"]["contexts"] == ["clean", "coupled", "down"]
    assert {(f["cluster"], f["check"]) for f in doc["findings"]} == {
        ("coupled", "docker-socket-mount"), ("coupled", "docker-nodes")}
    assert doc["summary"]["breaks"] == clusters["coupled"]["summary"]["breaks"] == 1
    assert "read 3 of 3 clusters" in err and "fleet NO-GO" in err.splitlines()[-1], err


def test_an_unreachable_cluster_is_undecided_alone_and_named(three):
    _, _, doc, _ = three
    (reason,) = by_cluster(doc)["down"]["undecided"]
    assert "unreachable" in reason and "context down" in reason, reason
    assert doc["undecided"] == [f"down: {reason}"]
    assert not by_cluster(doc)["clean"]["undecided"] and by_cluster(doc)["clean"]["nodes"] == {
        "n-clean": "containerd://1.7.2"}


def test_the_fleet_document_validates_against_the_schema(three):
    _, _, doc, _ = three
    check_against_schema(doc)
    schema = json.loads(Path(outputs.__file__).with_name("gate-output.schema.json").read_text())
    assert set(doc) <= set(schema["properties"]), set(doc) - set(schema["properties"])
    item = schema["properties"]["clusters"]["items"]
    assert all(set(c) <= set(item["properties"]) for c in doc["clusters"])
    assert all(set(f) <= set(schema["properties"]["findings"]["items"]["properties"]) for f in doc["findings"])


def test_every_format_and_report_names_each_cluster(three):
    folder, _, doc, _ = three
    for fmt in outputs.FORMATS:
        rendered = outputs.render_as(fmt, doc)
        for context in ("clean", "coupled", "down"):
            assert context in rendered, (fmt, context)
    sarif = json.loads(outputs.render_as("sarif", doc))
    assert [r["automationDetails"]["id"] for r in sarif["runs"]] == [
        "crigate-gate/clean/", "crigate-gate/coupled/", "crigate-gate/down/"]
    assert {r["properties"]["cluster"] for r in sarif["runs"][1]["results"]} == {"coupled"}
    suites = ET.fromstring((folder / "r/junit.xml").read_text()).findall("testsuite")
    assert [(s.get("name"), s.get("failures"), s.get("errors")) for s in suites] == [
        ("crigate-gate[clean]", "0", "0"), ("crigate-gate[coupled]", "1", "0"), ("crigate-gate[down]", "0", "1")]
    md = (folder / "r/report.md").read_text().splitlines()
    assert md[0] == "# crigate gate, fleet of 3 clusters: NO-GO"
    assert md[2:6] == ["| cluster | verdict | breaks | review | node runtimes |", "|---|---|---|---|---|",
                       "| `clean` | GO | 0 | 0 | containerd://1.7.2 x1 |",
                       "| `coupled` | NO-GO | 1 | 1 | docker://20.10.24 x1 |"]
    page = (folder / "r/report.html").read_text()
    assert page.index('<table class="fleet">') < page.index("<section"), "the fleet table opens the page"
    assert 'id="gate-coupled-containerd"' in page
    results = json.loads((folder / "r/results.json").read_text())
    assert results["gate"]["containerd"]["verdict"] == "NO-GO"
    assert {c: s["verdict"] for c, s in results["fleet"].items()} == {
        "clean": "GO", "coupled": "NO-GO", "down": "UNDECIDED"}


@pytest.mark.parametrize("parallel", [1, 4])
@pytest.mark.parametrize("names", [["clean", "coupled"], ["coupled", "clean"]])
def test_each_cluster_is_read_with_its_own_client(servers, tmp_path, monkeypatch, parallel, names):
    """The trap of tools that cached one client: every cluster after the first
    reported as the first. Here each gives its own verdict and nodes, in
    either order, one after another or side by side, and the kubernetes
    client's global default configuration is never set."""
    from kubernetes import client
    before = client.Configuration.get_default_copy().host
    monkeypatch.setattr(fleet, "PARALLEL", parallel)
    code, doc, err = run_fleet(tmp_path, servers, names)
    clusters = by_cluster(doc)
    assert code == 1, err
    assert (clusters["clean"]["verdict"], clusters["coupled"]["verdict"]) == ("GO", "NO-GO")
    assert (clusters["clean"]["nodes"], clusters["coupled"]["nodes"]) == (
        {"n-clean": "containerd://1.7.2"}, {"n1": "docker://20.10.24"})
    assert client.Configuration.get_default_copy().host == before


def test_clean_beside_unreachable_could_not_decide(servers, tmp_path):
    code, doc, err = run_fleet(tmp_path, servers, ["clean", "down"])
    assert code == 2 and doc["verdict"] == "UNDECIDED", err


def test_all_contexts_reads_every_context_of_the_kubeconfig(servers, tmp_path):
    config = kubeconfig(tmp_path, {n: servers[n] for n in ("coupled", "clean")})
    code, out, err = gate(f"--kubeconfig={config}", "--all-contexts", "-o", "json", f"--report-dir={tmp_path / 'r'}")
    doc = json.loads(out)
    assert code == 1, err
    assert [c["context"] for c in doc["clusters"]] == doc["source"]["contexts"] == ["coupled", "clean"]


def test_one_context_keeps_the_single_cluster_document(servers, tmp_path):
    config = kubeconfig(tmp_path, {n: servers[n] for n in ("clean", "coupled")})
    code, out, err = gate(f"--kubeconfig={config}", "--context", "coupled", "-o", "json",
                          f"--report-dir={tmp_path / 'r'}")
    doc = json.loads(out)
    assert code == 1, err
    assert "clusters" not in doc and doc["source"] == {"kubeconfig": str(config), "context": "coupled"}
    assert "cluster" not in doc["findings"][0] and "read 1 of" not in err


@pytest.mark.parametrize("args, says", [
    (["--all-contexts", "--context", "clean"], "leave out --context"),
    (["--context", "a", "--context", "b", "--manifests", "x.yaml"], "--manifests audits files"),
])
def test_contradicting_options_are_refused_in_one_line(servers, tmp_path, args, says):
    config = kubeconfig(tmp_path, {"clean": servers["clean"]})
    code, out, err = gate(f"--kubeconfig={config}", f"--report-dir={tmp_path / 'r'}", *args)
    assert (code, out) == (2, "") and says in err, err


# The fleet's verdict: NO-GO > crigate's own error > could not decide > GO.
@pytest.mark.parametrize("kinds, fleet_is", [
    ([Kind.GO, Kind.GO], Kind.GO),
    ([Kind.GO, Kind.UNDECIDED], Kind.UNDECIDED),
    ([Kind.UNDECIDED, Kind.OWN_ERROR, Kind.GO], Kind.OWN_ERROR),
    ([Kind.OWN_ERROR, Kind.NO_GO], Kind.NO_GO),
    ([Kind.UNDECIDED, Kind.NO_GO, Kind.GO], Kind.NO_GO),
    ([], Kind.UNDECIDED),
])
def test_the_fleet_verdict_follows_the_single_cluster_order(kinds, fleet_is):
    assert fleet.fleet_kind(kinds) is fleet_is


def test_a_cluster_whose_read_crashes_is_crigates_error_alone():
    def read_one(context: str) -> Verdict:
        if context == "b":
            raise KeyError("metadata")
        return Verdict("containerd")
    seen = []
    done = fleet.read_fleet(["a", "b", "c"], read_one, "containerd", lambda c, n, total: seen.append((n, total)))
    assert [(c.context, c.verdict.kind) for c in done] == [("a", Kind.GO), ("b", Kind.OWN_ERROR), ("c", Kind.GO)]
    assert "crigate's own error in the cluster read rules: KeyError" in done[1].verdict.reasons[0]
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]
