"""Gate verdicts from recorded findings: exit 0 GO, 1 NO-GO, 2 could not decide,
and the findings in the terminal, results.json and report.md."""
from __future__ import annotations

import json

import pytest

GATE = """
import pytest
from crigate.gate.findings import Finding
from crigate.gate.verdict import AreaResult, Verdict
from crigate.records import GateVerdict

pytestmark = pytest.mark.gate
MODE = {mode!r}
UNREAD = ("list pods in namespace secret-ns",) if MODE in ("undecided", "both") else ()

def test_socket_mounts(runtime, request):
    findings = []
    if MODE in ("breaks", "both"):
        findings.append(Finding("docker-socket-mount", "DaemonSet/mon/agent/main",
                                "hostPath /var/run/docker.sock", "the socket is gone", "use crictl"))
    findings.append(Finding("node-agent", "DaemonSet/mon/datadog-agent", "Datadog", "may read Docker",
                            "follow the vendor guide", "review"))
    verdict = Verdict(runtime, (AreaResult("docker_socket_mounts", tuple(findings)),), UNREAD)
    request.node.user_properties.append(GateVerdict(verdict.as_dict()).as_property())
    assert not [f for f in findings if f.severity == "breaks"], "1 finding(s) break"

def test_read_everything(runtime, request):
    if UNREAD:
        pytest.fail("missing permission: list pods in namespace secret-ns")
"""


def run(pytester, mode):
    pytester.makepyfile(test_fake_gate=GATE.format(mode=mode))
    result = pytester.runpytest("--report-dir", "out")
    doc = json.loads((pytester.path / "out/results.json").read_text())
    return result, doc["gate"]["containerd"]


def test_go_exits_0_and_lists_review_items(pytester):
    result, gate = run(pytester, "clean")
    assert result.ret == 0 and gate["verdict"] == "GO"
    result.stdout.fnmatch_lines(["*crigate gate [[]containerd[]]: GO: 0 finding(s) break*1 to review*",
                                 "*[[]review[]] DaemonSet/mon/datadog-agent: Datadog*"])


def test_no_go_exits_1_with_object_why_and_fix(pytester):
    result, gate = run(pytester, "breaks")
    assert result.ret == 1 and gate["verdict"] == "NO-GO"
    result.stdout.fnmatch_lines(["*NO-GO: 1 finding(s) break*",
                                 "*[[]breaks[]] DaemonSet/mon/agent/main: hostPath /var/run/docker.sock",
                                 "*why: the socket is gone", "*fix: use crictl"])
    assert gate["findings"][0]["severity"] == "breaks"      # blocking findings first
    assert gate["checklist"], "the EKS checklist travels with every verdict"
    report = (pytester.path / "out/report.md").read_text()
    assert "Upgrade gate, target containerd: NO-GO" in report and "- [ ] **EKS launch" in report


def test_missing_permission_exits_2_naming_it(pytester):
    result, gate = run(pytester, "undecided")
    assert result.ret == 2 and gate["verdict"] == "UNDECIDED"
    result.stdout.fnmatch_lines(["*could not decide: list pods in namespace secret-ns*"])


def test_a_breaking_finding_decides_even_when_reading_was_incomplete(pytester):
    result, gate = run(pytester, "both")
    assert result.ret == 1 and gate["verdict"] == "NO-GO" and gate["undecided"]


def test_gate_html_section(pytester):
    run(pytester, "breaks")
    html = (pytester.path / "out/report.html").read_text()
    assert 'id="gate-containerd"' in html and "NO-GO" in html and "use crictl" in html


def test_undecided_without_gate_checks_does_not_change_other_runs(pytester):
    pytester.makepyfile(test_other="import pytest\npytestmark = pytest.mark.logs\n"
                                   "def test_x(runtime):\n    assert False\n")
    result = pytester.runpytest("--report-dir", "out")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_unreachable_api_server_exits_2_once_with_the_reason(pytester):
    """A real kubernetes client against a port nothing listens on: checked once,
    up front, one line that says what to check."""
    kubeconfig = pytester.path / "unreachable.kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n")
    suite = pytester.copy_example(str(pytest.importorskip("suites").__path__[0] + "/test_gate.py"))
    result = pytester.runpytest_subprocess(str(suite), "--cluster=existing", f"--kubeconfig={kubeconfig}",
                                           "--report-dir", "out")
    assert result.ret == 2
    said = [line for line in result.outlines + result.errlines if line.strip()]
    assert len(said) == 1 and "Connection refused" in said[0] and "kubectl cluster-info" in said[0], said
