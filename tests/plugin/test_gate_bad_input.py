"""Bad input never gives GO: fields of another type than Kubernetes gives
them, alias bombs and oversized files are "could not decide" (exit 2), named
by file:line (or Kind/namespace/name from the API) and field path, before any
rule runs; what breaks elsewhere still decides NO-GO."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from crigate.gate import engine, manifests, shapes
from crigate.gate.audit import Audit
from crigate.gate.inventory import PODS, Reader
from crigate.gate.manifests import ManifestError, documents, inventory_from
from crigate.gate.verdict import Kind

from tests.plugin.test_gate_engine import DOCKER_NODE, SOCKET_DS, FakeApiServer

REPO = Path(__file__).resolve().parents[2]
SOCKET_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: mon}
spec:
  containers:
  - name: main
    image: agent:1
    volumeMounts: [{name: s, mountPath: /s}]
  volumes: [{name: s, hostPath: {path: /var/run/docker.sock}}]
"""
STRING_CONTAINERS = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: web\n"


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs" shape: each level is nine aliases of the one below (~600 bytes)."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "x:",
             "  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join([*lines, f"data: {{k: *a{levels - 1}}}"]) + "\n"


def gate(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crigate.gate.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


def test_an_alias_bomb_is_refused_at_once_in_one_line(tmp_path):
    (tmp_path / "bomb.yaml").write_text(alias_bomb())
    assert len(alias_bomb()) < 700
    # unbounded, this file kept the gate busy past 60 s and 670 MB; the timeout only says "not that"
    done = gate("--manifests", str(tmp_path / "bomb.yaml"), f"--report-dir={tmp_path / 'r'}", timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
    assert f"{tmp_path / 'bomb.yaml'}:1: YAML aliases expand" in done.stderr
    assert "without anchors and aliases" in done.stderr


def test_aliases_below_the_bound_are_read_as_written():
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n"
            "  - &c {name: a, image: nginx, env: [{name: X, value: '1'}]}\n  - *c\n")
    (pod,) = documents(text, "p.yaml")
    assert pod.obj["spec"]["containers"][1] == {"name": "a", "image": "nginx", "env": [{"name": "X", "value": "1"}]}


def test_an_alias_that_holds_itself_is_refused():
    with pytest.raises(ManifestError, match=r"p.yaml:1: a YAML alias refers to the node that holds it"):
        documents("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &d {k: *d}\n", "p.yaml")


def test_a_file_over_the_size_bound_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(manifests, "MAX_FILE_BYTES", 100)
    (tmp_path / "big.yaml").write_text(STRING_CONTAINERS * 5)
    with pytest.raises(ManifestError, match=r"big.yaml: larger than .* refused unread"):
        manifests.read_objects([str(tmp_path / "big.yaml")])
    import io
    with pytest.raises(ManifestError, match=r"<stdin>: larger than"):
        manifests.read_objects(["-"], stdin=io.StringIO(STRING_CONTAINERS * 5))


def test_a_pod_whose_containers_is_a_string_names_file_line_and_field(tmp_path):
    (tmp_path / "pod.yaml").write_text(STRING_CONTAINERS)
    done = gate("--manifests", str(tmp_path / "pod.yaml"), f"--report-dir={tmp_path / 'r'}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert (f"could not decide: {tmp_path / 'pod.yaml'}:5: Pod/default/web: spec.containers: "
            "expected a list, found a string") in done.stdout


def test_a_list_whose_items_is_a_number_is_undecided(tmp_path):
    (tmp_path / "list.yaml").write_text("apiVersion: v1\nkind: List\nitems: 3\n")
    done = gate("--manifests", str(tmp_path / "list.yaml"), "-o", "json", f"--report-dir={tmp_path / 'r'}")
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["undecided"] == [
        f"{tmp_path / 'list.yaml'}:3: List/default/?: items: expected a list, found a number"]


def test_the_good_items_of_a_list_are_still_audited_beside_a_bad_one():
    text = "apiVersion: v1\nkind: List\nitems:\n- 3\n- " + SOCKET_POD.replace("\n", "\n  ")
    verdict = decide_on(text)
    assert verdict.kind is Kind.NO_GO
    assert [f.check for f in verdict.findings] == ["docker-socket-mount"]
    assert verdict.unread == ("l.yaml:4: List/default/?: items[0]: expected a mapping, found a number",)


def test_a_wrong_typed_object_beside_a_coupled_one_is_no_go_naming_both(tmp_path):
    (tmp_path / "pod.yaml").write_text(STRING_CONTAINERS)
    (tmp_path / "agent.yaml").write_text(SOCKET_POD)
    done = gate("--manifests", str(tmp_path), "-o", "json", f"--report-dir={tmp_path / 'r'}")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"] == "NO-GO"
    assert [(f["check"], f["object"]) for f in doc["findings"]] == [("docker-socket-mount", "Pod/mon/agent/main")]
    assert doc["undecided"] == [f"{tmp_path / 'pod.yaml'}:5: Pod/default/web: spec.containers: "
                                "expected a list, found a string"]


def decide_on(text: str):
    return engine.decide(Audit(inventory_from(documents(text, "l.yaml"))), "containerd")


@pytest.mark.parametrize("spec, named", [
    ("containers: [{image: nginx}]", "spec.containers[0].name: missing, required: a string"),
    ("containers: [{name: a}]\n  volumes: {s: {hostPath: {path: /x}}}",
     "spec.volumes: expected a list, found a mapping"),
    ("containers: [{name: a, env: [DOCKER_HOST]}]", "spec.containers[0].env[0]: expected a mapping, found a string"),
    ("containers: [{name: a, command: [sh, -c, 1]}]",
     "spec.containers[0].command[2]: expected a string, found a number"),
    ("containers: [{name: a, volumeMounts: [{name: s, readOnly: 'yes'}]}]",
     "spec.containers[0].volumeMounts[0].readOnly: expected true or false, found a string"),
    ("initContainers: [null]\n  containers: [{name: a}]", "spec.initContainers[0]: expected a mapping, found null"),
])
def test_each_wrong_shape_is_named_by_its_field(spec, named):
    verdict = decide_on(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: web}}\nspec:\n  {spec}\n")
    assert verdict.kind is Kind.UNDECIDED and not verdict.crashes
    assert verdict.unread[0].split(": ", 2)[2] == named, verdict.unread


def test_metadata_that_is_not_a_mapping_is_named():
    verdict = decide_on("apiVersion: v1\nkind: ConfigMap\nmetadata: cm\ndata: {a: b}\n")
    assert verdict.unread == ("l.yaml:3: ConfigMap/default/?: metadata: expected a mapping, found a string",)


def test_nulls_are_unset_as_the_api_server_reads_them():
    """helm renders empty blocks as null (`env:`); kubectl accepts them: GO, not undecided."""
    verdict = decide_on("apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: null}\nspec:\n"
                        "  volumes:\n  containers:\n  - name: a\n    env:\n    envFrom: null\n")
    assert verdict.kind is Kind.GO, verdict.reasons


def example(table: dict, wrong_at: str = "") -> dict:
    """An object with a value at every path of the table: of the right type,
    except at wrong_at (a number where a string goes, a string elsewhere)."""
    obj: dict = {}
    for spec in sorted(table, key=lambda s: len(shapes.TOKEN.findall(s))):
        tokens = shapes.TOKEN.findall(spec)
        if not tokens:
            continue
        expect = table[spec].type
        value = {list: [], dict: {}, str: "x", bool: True}[expect]
        if spec == wrong_at:
            value = 7 if expect is str else "text"
        parent = obj
        for token in tokens[:-1]:
            if not isinstance(parent, (dict, list)):
                break                                 # below the wrong one: not reached
            parent = parent[0] if token == "[]" else parent["k"] if token == "*" else parent[token]
        if not isinstance(parent, (dict, list)):
            continue
        if tokens[-1] == "[]":
            parent.append(value)
        else:
            parent["k" if tokens[-1] == "*" else tokens[-1]] = value
    return obj


CHECKED = [(kind, spec) for kind in ("Pod", "Deployment", "CronJob", "ConfigMap", "Node", "RuntimeClass")
           for spec in shapes.table_of(kind) if spec]


@pytest.mark.parametrize("kind", sorted({k for k, _ in CHECKED}))
def test_an_object_of_the_right_types_everywhere_has_no_problem(kind):
    assert shapes.problems(example(shapes.table_of(kind)), kind) == []


@pytest.mark.parametrize("kind, spec", CHECKED, ids=[f"{k}:{s}" for k, s in CHECKED])
def test_a_wrong_type_at_any_path_the_gate_reads_is_undecided_never_go_nor_a_crash(kind, spec):
    obj = example(shapes.table_of(kind), wrong_at=spec)
    if spec != "kind":
        obj["kind"] = kind
    if not spec.startswith("metadata"):
        obj["metadata"].update(name="o", namespace="ns")
    verdict = decide_on(json.dumps(obj))
    assert verdict.kind is Kind.UNDECIDED and not verdict.crashes, (spec, verdict.reasons)
    wanted = spec.replace("[]", "[0]").replace("*", "k")
    assert any(f": {wanted}: expected" in r for r in verdict.unread), (spec, verdict.unread)


def test_from_the_api_a_wrong_typed_object_is_named_by_kind_namespace_name_and_field(tmp_path):
    broken = {"metadata": {"name": "web", "namespace": "team"},
              "spec": {"template": {"spec": {"containers": "web"}}}}
    api = FakeApiServer({"/apis/apps/v1/deployments": [broken], "/apis/apps/v1/daemonsets": [SOCKET_DS],
                         "/api/v1/nodes": [DOCKER_NODE]})
    try:
        done = gate(f"--kubeconfig={api.kubeconfig(tmp_path)}", "-o", "json", f"--report-dir={tmp_path / 'r'}")
        assert done.returncode == 1, done.stderr              # the socket mount still decides
        doc = json.loads(done.stdout)
        assert "docker-socket-mount" in {f["check"] for f in doc["findings"]}
        assert doc["undecided"] == ["Deployment/team/web: spec.template.spec.containers: expected a list, "
                                    "found a string (as the API returned it)"]
        api.items["/apis/apps/v1/daemonsets"] = []
        done = gate(f"--kubeconfig={api.kubeconfig(tmp_path)}", "-o", "json", f"--report-dir={tmp_path / 'r'}")
        assert done.returncode == 2 and json.loads(done.stdout)["verdict"] == "UNDECIDED", done.stderr
    finally:
        api.server.shutdown()


@pytest.mark.parametrize("page", [[1, 2], {"items": 3}, {"items": ["pod"]}])
def test_an_answer_that_is_not_a_list_of_objects_is_unreadable_not_empty(monkeypatch, page):
    reader = Reader(api_client=None)
    monkeypatch.setattr(reader, "get", lambda path, params=None, what="": page)
    assert reader.read(PODS, "Pod") == []
    assert len(reader.unreadable) == 1 and "(as the API returned it)" in reader.unreadable[0]
    assert reader.unreadable[0].startswith(("GET /api/v1/pods: the answer is not a list", "Pod/?/?: "))

