"""The gate's engine: one entry, a typed Verdict whose kind gives the exit
code, and an import graph that keeps pytest, the kubernetes client and the
plugin's reporter out of the offline gate."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from crigate.gate import cli, engine, ruleset
from crigate.gate.audit import Audit
from crigate.gate.findings import REVIEW, Finding
from crigate.gate.inventory import Inventory
from crigate.gate.verdict import INTERRUPTED, AreaResult, Kind, Verdict

REPO = Path(__file__).resolve().parents[2]
GATE = REPO / "plugins/gate"
# What the engine must never import: the layers above it, and pytest itself.
ABOVE_THE_ENGINE = ("crigate.pytest_plugin", "crigate.report", "crigate.render", "crigate.options",
                    "crigate.suites", "suites", "pytest", "_pytest")
NOT_OFFLINE = ("kubernetes", "pytest", "testinfra", "crigate.pytest_plugin", "crigate.report",
               "crigate.render", "crigate.suites")
BREAKING = Finding("docker-socket-mount", "DaemonSet/ns/agent/main", "hostPath /var/run/docker.sock",
                   "the socket is gone", "use crictl")


def imported_names(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it, relative imports resolved."""
    package = "crigate." + ".".join(path.relative_to(REPO / "plugins").parent.parts)
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("path", sorted(GATE.rglob("*.py")), ids=lambda p: str(p.relative_to(GATE)))
def test_no_gate_module_imports_what_sits_above_the_engine(path):
    bad = sorted(n for n in imported_names(path)
                 if any(n == a or n.startswith(a + ".") for a in ABOVE_THE_ENGINE))
    assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_the_offline_gate_loads_neither_pytest_nor_the_kubernetes_client(tmp_path):
    (tmp_path / "web.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
                                       "spec: {containers: [{name: web, image: nginx}]}\n")
    probe = ("import sys\nfrom crigate.gate import cli\n"
             f"code = cli.main(['--manifests', {str(tmp_path / 'web.yaml')!r}, "
             f"'--report-dir', {str(tmp_path / 'r')!r}])\n"
             f"print(code, sorted(m for m in {NOT_OFFLINE!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "0 []", done.stdout + done.stderr


@pytest.fixture
def crashing_area(monkeypatch):
    """docker_env's rules raise, as on input they did not expect."""
    def crash(audit, target):
        raise KeyError("name")
    monkeypatch.setitem(ruleset.AREAS, "docker_env", (crash,))


@pytest.fixture
def breaking_area(monkeypatch):
    monkeypatch.setitem(ruleset.AREAS, "docker_socket_mounts", (lambda audit, target: [BREAKING],))


def test_a_clean_audit_is_go():
    verdict = engine.decide(Audit(Inventory()), "containerd")
    assert verdict.kind is Kind.GO and verdict.kind.exit_code == 0 and not verdict.reasons
    assert [a.area for a in verdict.areas] == list(ruleset.AREAS)


def test_a_rule_that_crashes_is_own_error_as_a_type_never_go(crashing_area):
    verdict = engine.decide(Audit(Inventory()), "containerd")
    assert verdict.kind is Kind.OWN_ERROR and verdict.kind.exit_code == 3
    (crash,) = verdict.crashes
    assert (crash.area, crash.error) == ("docker_env", "KeyError: 'name'")
    assert verdict.reasons == [crash.reason] and crash.reason.startswith("crigate's own error in the docker_env")


def test_what_breaks_decides_even_beside_a_crash(crashing_area, breaking_area):
    verdict = engine.decide(Audit(Inventory()), "containerd")
    assert verdict.kind is Kind.NO_GO and verdict.area("docker_socket_mounts").breaking() == [BREAKING]


def test_suppressed_findings_do_not_count(breaking_area):
    from crigate.gate import suppress
    verdict = engine.decide(Audit(Inventory()), "containerd", [suppress.parse("docker-socket-mount:later")])
    assert verdict.kind is Kind.GO and verdict.findings[0].suppressed == "later (--suppress)"


def test_denied_reads_make_it_undecided_naming_the_permission():
    verdict = engine.decide(Audit(Inventory(denied=["list pods (apiGroup 'core') in namespace x"])), "cri-o")
    assert verdict.kind is Kind.UNDECIDED and verdict.kind.exit_code == 2
    assert "missing permission(s): list pods (apiGroup 'core') in namespace x" in verdict.reasons[0]


def test_an_interrupted_audit_decides_nothing(breaking_area):
    verdict = Verdict("containerd", (AreaResult("x", (BREAKING,)),), interrupted=True)
    assert verdict.kind is Kind.UNDECIDED and verdict.reasons == [INTERRUPTED]


def test_the_verdict_travels_as_plain_data_and_comes_back_equal(crashing_area):
    review = Finding("node-agent", "DaemonSet/ns/dd", "Datadog", "may read Docker", "upgrade", REVIEW)
    verdict = engine.decide(Audit(Inventory(notes=["no events"])), "containerd")
    verdict = Verdict(verdict.target, verdict.areas + (AreaResult("extra", (BREAKING, review)),),
                      ("denied",), verdict.notes, {"n1": "docker://20.10"}, {"n1": {"daemon_json": True}})
    assert Verdict.from_dict(verdict.as_dict()) == verdict
    assert verdict.findings == [BREAKING, review]        # breaks first


def test_exit_codes_come_from_the_verdict_and_ctrl_c_is_2(monkeypatch, tmp_path, capsys):
    (tmp_path / "web.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {}\n")
    args = ["--manifests", str(tmp_path / "web.yaml"), "--report-dir", str(tmp_path / "r")]
    for kind in Kind:
        monkeypatch.setattr(engine, "decide", lambda audit, target, rules, kind=kind: verdict_of(kind))
        assert cli.main(args) == kind.exit_code, kind

    def interrupted(*_):
        raise KeyboardInterrupt
    monkeypatch.setattr(engine, "decide", interrupted)
    assert cli.main(args) == 2 and "interrupted" in capsys.readouterr().err


def verdict_of(kind: Kind) -> Verdict:
    from crigate.gate.verdict import RuleCrash
    return {Kind.GO: Verdict("containerd"),
            Kind.NO_GO: Verdict("containerd", (AreaResult("a", (BREAKING,)),)),
            Kind.UNDECIDED: Verdict("containerd", unread=("denied",)),
            Kind.OWN_ERROR: Verdict("containerd", (AreaResult("a", crash=RuleCrash("a", "E: x")),))}[kind]


class FakeApiServer:
    """An API server answering the gate's reads from a dict of path -> items;
    paths in `forbidden` answer 403, other unknown lists are empty."""

    def __init__(self, items: dict[str, list], forbidden: set[str] = frozenset()):
        import http.server
        import json
        import threading
        import urllib.parse
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path, _, query = self.path.partition("?")
                selected = [] if "labelSelector" in query else served.items.get(path, [])   # crigate's own: none
                asked = dict(urllib.parse.parse_qsl(query))       # pages: limit=N, continue=OFFSET
                start, limit = int(asked.get("continue", 0)), int(asked.get("limit", 0)) or len(selected) + 1
                more = {"continue": str(start + limit)} if start + limit < len(selected) else {}
                status, body = 200, {"kind": "List", "metadata": more, "items": selected[start:start + limit]}
                if path.rstrip("/") == "/version":
                    body = {"major": "1", "minor": "30", "gitVersion": "v1.30.0", "gitCommit": "x",
                            "gitTreeState": "clean", "buildDate": "2024-01-01T00:00:00Z",
                            "goVersion": "go1.22", "compiler": "gc", "platform": "linux/amd64"}
                elif path in served.forbidden or path.endswith("/proxy/configz"):
                    status, body = 403, {"kind": "Status", "code": 403, "reason": "Forbidden"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.items, self.forbidden = items, forbidden
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kubeconfig(self, folder: Path) -> Path:
        path = folder / "kubeconfig"
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: "
            f"{{server: 'http://127.0.0.1:{self.server.server_port}'}}}}]\n"
            "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n")
        return path


SOCKET_DS = {"metadata": {"name": "agent", "namespace": "mon"}, "spec": {"template": {"spec": {
    "containers": [{"name": "main", "image": "agent:1", "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
    "volumes": [{"name": "s", "hostPath": {"path": "/var/run/docker.sock"}}]}}}}
DOCKER_NODE = {"metadata": {"name": "n1"}, "status": {"nodeInfo": {"containerRuntimeVersion": "docker://20.10.24"}}}


@pytest.mark.parametrize("daemonsets, code, verdict", [([SOCKET_DS], 1, "NO-GO"), ([], 2, "UNDECIDED")])
def test_cluster_mode_reads_through_the_api_and_decides_through_the_engine(tmp_path, daemonsets, code, verdict):
    """Pods forbidden everywhere: could not decide, naming the permission,
    unless something already breaks."""
    api = FakeApiServer({"/apis/apps/v1/daemonsets": daemonsets, "/api/v1/nodes": [DOCKER_NODE],
                         "/api/v1/namespaces": [{"metadata": {"name": "mon"}}]},
                        forbidden={"/api/v1/pods", "/api/v1/namespaces/mon/pods"})
    done = subprocess.run([sys.executable, "-m", "crigate.gate.cli", f"--kubeconfig={api.kubeconfig(tmp_path)}",
                           "-o", "json", f"--report-dir={tmp_path / 'r'}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    api.server.shutdown()
    assert done.returncode == code, done.stderr
    import json
    doc = json.loads(done.stdout)
    assert doc["verdict"] == verdict and doc["source"]["kubeconfig"].endswith("kubeconfig")
    assert any("list pods (apiGroup 'core') in namespace mon" in r for r in doc["undecided"]), doc["undecided"]
    assert {f["check"] for f in doc["findings"]} == {"docker-nodes"} | (
        {"docker-socket-mount"} if daemonsets else set())
    assert "kubelet config of the nodes not read: not permitted (get nodes/proxy)" in doc["notes"], doc["notes"]
    gate = json.loads((tmp_path / "r/results.json").read_text())["gate"]["containerd"]
    assert gate["verdict"] == verdict and gate["nodes"] == {"n1": "docker://20.10.24"}
