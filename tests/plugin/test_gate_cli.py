"""crigate-gate offline (--manifests): formats on stdout, logs on stderr,
exit codes, suppressions, manifests from files, directories, stdin, Lists
and helm template output."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from crigate.gate import suppress
from crigate.gate.manifests import ManifestError, documents, inventory_from, locate

from tests.corpus.cases import CLEAN_DEPLOYMENT as CLEAN_DEPLOY

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "plugins/gate/gate-output.schema.json").read_text())

SOCKET_DS = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: monitoring}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: main
        image: example/agent:1
        volumeMounts: [{name: sock, mountPath: /var/run/docker.sock}]
      volumes: [{name: sock, hostPath: {path: /var/run/docker.sock}}]
"""


def gate(*args: str, stdin: str | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crigate.gate.cli", *args], input=stdin, cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


@pytest.fixture
def manifests(tmp_path):
    (tmp_path / "agent.yaml").write_text(SOCKET_DS)
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps/web.yml").write_text(CLEAN_DEPLOY)
    return tmp_path


def check_against_schema(doc: dict, schema: dict = SCHEMA) -> None:
    """The schema's required fields and types (a small check, no validator dependency)."""
    for key in schema.get("required", []):
        assert key in doc, f"missing {key}"
    for key, prop in schema.get("properties", {}).items():
        if key not in doc:
            continue
        if "enum" in prop:
            assert doc[key] in prop["enum"], (key, doc[key])
        if "const" in prop:
            assert doc[key] == prop["const"], key
        if prop.get("type") == "object":
            check_against_schema(doc[key], prop)
        if prop.get("type") == "array" and "items" in prop and prop["items"].get("type") == "object":
            for item in doc[key]:
                check_against_schema(item, prop["items"])


def test_no_go_json_on_stdout_names_file_and_line(manifests, tmp_path):
    done = gate("--manifests", str(manifests), "--output", "json", f"--report-dir={tmp_path / 'r'}")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)              # stdout is the document and nothing else
    check_against_schema(doc)
    assert doc["verdict"] == "NO-GO" and doc["summary"]["breaks"] == 1
    (finding,) = doc["findings"]
    assert finding["object"] == "DaemonSet/monitoring/agent/main"
    assert finding["location"] == f"{manifests / 'agent.yaml'}:1"
    assert "crigate-gate: NO-GO" in done.stderr


def test_clean_manifests_are_go(tmp_path):
    (tmp_path / "web.yaml").write_text(CLEAN_DEPLOY)
    done = gate("--manifests", str(tmp_path / "web.yaml"), f"--report-dir={tmp_path / 'r'}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("crigate-gate: GO")


def test_stdin_and_list_kind(tmp_path):
    listed = ("apiVersion: v1\nkind: List\nitems:\n"
              + "".join("- " + line.replace("\n", "\n  ") + "\n" for line in [SOCKET_DS.rstrip()]))
    done = gate("--manifests", "-", "-o", "json", f"--report-dir={tmp_path / 'r'}", stdin=listed)
    assert done.returncode == 1, done.stderr
    (finding,) = json.loads(done.stdout)["findings"]
    assert finding["location"] == "<stdin>:4"


def test_helm_template_output_names_the_template(tmp_path):
    rendered = "---\n# Source: agent/templates/daemonset.yaml\n" + SOCKET_DS
    (objects,) = documents(rendered, "rendered.yaml")
    assert objects.where == "rendered.yaml:3 (agent/templates/daemonset.yaml)"


def test_suppression_with_reason_is_shown_and_not_counted(manifests, tmp_path):
    ignore = tmp_path / "ignore"
    ignore.write_text("# accepted until the agent upgrade\n"
                      "docker-socket-mount=DaemonSet/monitoring/*:agent 7.40 moves to containerd.sock\n")
    done = gate("--manifests", str(manifests), "-o", "json", f"--suppress-file={ignore}",
                f"--report-dir={tmp_path / 'r'}")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["summary"] == {"breaks": 0, "review": 0, "suppressed": 1}
    assert doc["findings"][0]["suppressed"] == f"agent 7.40 moves to containerd.sock ({ignore}:2)"


@pytest.mark.parametrize("fmt", ["text", "markdown", "sarif", "junit"])
def test_every_format_carries_the_finding(manifests, tmp_path, fmt):
    done = gate("--manifests", str(manifests), "-o", fmt, f"--report-dir={tmp_path / 'r'}")
    assert done.returncode == 1, done.stderr
    assert "DaemonSet/monitoring/agent/main" in done.stdout
    if fmt == "sarif":
        run = json.loads(done.stdout)["runs"][0]
        (result,) = run["results"]
        assert result["level"] == "error" and result["ruleId"] == "docker-socket-mount"
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region == {"startLine": 1}
        assert run["tool"]["driver"]["rules"][0]["properties"]["sources"]
    if fmt == "junit":
        suite = ET.fromstring(done.stdout).find("testsuite")
        assert suite.get("failures") == "1" and suite.get("tests") == "1"


def test_bad_yaml_is_one_line_with_file_and_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("kind: Deployment\nmetadata: {name: [\n")
    done = gate("--manifests", str(tmp_path / "bad.yaml"), f"--report-dir={tmp_path / 'r'}")
    assert done.returncode == 2
    assert f"{tmp_path / 'bad.yaml'}:3: not valid YAML" in done.stderr
    assert done.stdout == ""


def test_missing_path_and_bad_ignore_are_exit_2(tmp_path):
    done = gate("--manifests", str(tmp_path / "nope.yaml"), f"--report-dir={tmp_path / 'r'}")
    assert done.returncode == 2 and "no such file or directory" in done.stderr
    done = gate("--manifests", str(tmp_path), "--suppress", "Not A Spec")
    assert done.returncode == 2 and "CHECK[=OBJECT-GLOB][:REASON]" in done.stderr


def test_unparsable_kubeconfig_is_one_line_exit_2(tmp_path):
    (tmp_path / "kubeconfig").write_text("clusters: [\n")
    done = gate(f"--kubeconfig={tmp_path / 'kubeconfig'}")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not valid YAML" in done.stderr, done.stderr


def test_suppression_specs():
    rule = suppress.parse("docker-cli=CronJob/ops/*:cleanup moves to crictl")
    assert (rule.check, rule.glob, rule.reason) == ("docker-cli", "CronJob/ops/*", "cleanup moves to crictl")
    assert suppress.parse("docker-env").glob == "*"
    with pytest.raises(suppress.SuppressionError):
        suppress.parse("=x")


def test_locate_picks_the_object_a_finding_names():
    locations = {"ConfigMap/ns/fb": "a.yaml:3", "ConfigMap/ns/fb-2": "a.yaml:9", "DaemonSet/ns/fb": "b.yaml:1"}
    assert locate("ConfigMap/ns/fb[fluent-bit.conf] (used by DaemonSet/ns/fb)", locations) == "a.yaml:3"
    assert locate("DaemonSet/ns/fb/main", locations) == "b.yaml:1"
    assert locate("Node/x", locations) == ""


def test_objects_without_a_namespace_take_the_given_one():
    (located,) = documents(CLEAN_DEPLOY, "web.yaml")
    inventory = inventory_from([located], "team-a")
    assert inventory.templates[0].ref == "Deployment/team-a/web"
    skipped = []
    assert documents("- an ansible play\n---\nreplicas: 3\n", "play.yaml", skipped) == []
    assert skipped == ["play.yaml:1", "play.yaml:3"]
    with pytest.raises(ManifestError, match="play.yaml:3: not valid YAML"):
        documents("a: 1\nb: [\n", "play.yaml")


def test_an_object_given_twice_counts_once_the_last_as_kubectl_would():
    first, second = documents(CLEAN_DEPLOY, "base.yaml") + documents(SOCKET_DS.replace(
        "kind: DaemonSet", "kind: DaemonSet").replace("agent, namespace: monitoring", "agent"), "x.yaml")
    again = documents(CLEAN_DEPLOY.replace("nginx:1.27", "nginx:1.28"), "overlay.yaml")[0]
    inventory = inventory_from([first, second, again], "default")
    webs = [t for t in inventory.templates if t.ref == "Deployment/default/web"]
    assert len(webs) == 1 and webs[0].spec["containers"][0]["image"] == "nginx:1.28"
    assert inventory.locations["Deployment/default/web"] == "overlay.yaml:1"


def test_a_field_of_the_wrong_type_is_could_not_decide_never_go(manifests, tmp_path):
    """A manifest the API server would refuse (env not a list) must not turn
    the verdict into GO: bad input, exit 2, the field named before any rule
    runs (a rule that crashes is exit 3: test_gate_engine)."""
    (manifests / "odd.yaml").write_text(CLEAN_DEPLOY.replace("web", "odd").replace(
        "containers: [{name: odd, image: nginx:1.27}]", "containers: [{name: odd, image: nginx:1.27, env: notalist}]"))
    done = gate("--manifests", str(manifests / "odd.yaml"), "-o", "json", f"--report-dir={tmp_path / 'r'}")
    doc = json.loads(done.stdout)
    assert done.returncode == 2, done.stderr
    assert doc["verdict"] == "UNDECIDED"
    assert doc["undecided"] == [f"{manifests / 'odd.yaml'}:10: Deployment/default/odd: spec.template.spec."
                                "containers[0].env: expected a list, found a string"], doc["undecided"]
    # what breaks still decides: the socket mount next to it is NO-GO
    done = gate("--manifests", str(manifests), "-o", "json", f"--report-dir={tmp_path / 'r2'}")
    assert done.returncode == 1 and json.loads(done.stdout)["summary"]["breaks"] == 1


def test_an_old_report_is_never_read_as_this_runs_verdict(manifests, tmp_path):
    report = tmp_path / "r"
    report.mkdir()
    (report / "results.json").write_text('{"gate": {"containerd": {"verdict": "GO", "findings": []}}}')
    done = gate("--manifests", str(manifests), "-o", "json", f"--report-dir={report}")
    assert done.returncode == 1 and json.loads(done.stdout)["verdict"] == "NO-GO"


def test_suppressing_the_object_as_the_report_shows_it(tmp_path):
    config = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fb}\ndata:\n  fluent-bit.conf: |\n"
              "    [INPUT]\n        Name tail\n        Path /var/log/containers/*.log\n        Parser docker\n")
    (tmp_path / "fb.yaml").write_text(config)
    (tmp_path / "ignore").write_text(
        "fluent-bit-docker-parser=ConfigMap/default/fb[fluent-bit.conf]:moves to cri in JIRA-#12  # team\n"
        "docker-env=Deployment/default/gone:stale\n")
    done = gate("--manifests", str(tmp_path / "fb.yaml"), "-o", "json", f"--suppress-file={tmp_path / 'ignore'}",
                f"--report-dir={tmp_path / 'r'}")
    assert done.returncode == 0, done.stderr
    (finding,) = json.loads(done.stdout)["findings"]
    assert finding["suppressed"].startswith("moves to cri in JIRA-#12 (")
    assert "suppression matched nothing (stale?): docker-env=Deployment/default/gone" in done.stderr


def test_a_suppression_of_a_check_that_does_not_exist_is_refused(manifests):
    done = gate("--manifests", str(manifests), "--suppress", "docker-sock-mount:typo")
    assert done.returncode == 2 and "no check 'docker-sock-mount'" in done.stderr
