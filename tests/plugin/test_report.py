"""Report writing from recorded results: matrix, results.json, report.md, report.html."""
from __future__ import annotations

import json

import pytest


CHECKS = """
import pytest
from crigate.records import Latency

pytestmark = pytest.mark.logs

def test_passes(runtime):
    pass

def test_fails_on_cri_o(runtime):
    assert runtime != "cri-o", f"node n1: expected CRI format, observed Docker JSON"

def test_skips(runtime):
    pytest.skip("no node advertises nvidia.com/gpu")

def test_latency(runtime, record_measurement):
    samples = [1.0 + 0.01 * i for i in range(20)] if runtime == "containerd" else [1.3 + 0.01 * i for i in range(20)]
    record_measurement(Latency(samples=samples, runtime_start_after_create_s=[x / 2 for x in samples]))
"""


@pytest.fixture
def reported(pytester):
    pytester.makepyfile(test_fake_checks=CHECKS)
    result = pytester.runpytest("--runtime", "all", "--report-dir", "out")
    return result, pytester.path / "out"


def test_exit_code_is_non_zero_when_a_check_fails(reported):
    result, _ = reported
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_terminal_shows_the_matrix(reported):
    result, _ = reported
    result.stdout.fnmatch_lines(["*crigate: checks x runtime*",
                                 "fake_checks::test_fails_on_cri_o*passed*failed*",
                                 "fake_checks::test_skips*skipped*skipped*",
                                 "latency [[]containerd[]] n=20 p50=1.095s*",
                                 "crigate report: out/report.html*"])


def test_results_json_holds_outcomes_messages_and_latency(reported):
    _, out = reported
    doc = json.loads((out / "results.json").read_text())
    by_key = {(r["check"], r["runtime"]): r for r in doc["results"]}
    failed = by_key[("fake_checks::test_fails_on_cri_o", "cri-o")]
    assert failed["outcome"] == "failed" and "expected CRI format, observed Docker JSON" in failed["message"]
    assert by_key[("fake_checks::test_skips", "containerd")]["message"] == "no node advertises nvidia.com/gpu"
    assert by_key[("fake_checks::test_passes", "cri-o")]["area"] == "logs"
    assert doc["latency"]["containerd"]["n"] == 20
    comparison = doc["latency_comparisons"][0]
    assert comparison["significant"] and comparison["median_ratio"] < 1


def test_junit_xml_goes_to_the_report_dir(reported):
    _, out = reported
    assert "test_fails_on_cri_o[cri-o]" in (out / "junit.xml").read_text()


def test_markdown_report(reported):
    _, out = reported
    md = (out / "report.md").read_text()
    assert md.startswith("# crigate report: FAIL")
    assert "| `fake_checks::test_fails_on_cri_o` | PASS | FAIL |" in md
    assert "significant" in md


def test_docker_baseline_is_marked_in_the_reports(pytester):
    pytester.makepyfile(test_fake_checks=CHECKS)
    pytester.runpytest("--runtime", "containerd,docker", "--report-dir", "out")
    md = (pytester.path / "out/report.md").read_text()
    assert "| check | containerd | docker (baseline) |" in md
    assert "its FAILs on socket, log and namespace checks show what those checks detect" in md
    page = (pytester.path / "out/report.html").read_text()
    assert "<th>docker (baseline)</th>" in page and 'id="baseline"' in page
    comparisons = json.loads((pytester.path / "out/results.json").read_text())["latency_comparisons"]
    assert [(c["a"], c["b"], c["metric"]) for c in comparisons] == [
        ("containerd", "docker", "ready_s"), ("containerd", "docker", "runtime_start_after_create_s")]
    assert "create to the runtime's container start: median(containerd) / median(docker) = 0.7" in md


def test_per_node_table_groups_nodes_and_names_their_failed_checks():
    from crigate import render
    rows = [{"node": "ip-2", "checked_as": "docker", "runtime_version": "docker://20.10.24",
             "group": "legacy", "checks": {"sockets::a": "failed", "sockets::b": "passed"},
             "failed": ["sockets::a"]},
            {"node": "ip-1", "checked_as": "containerd", "runtime_version": "containerd://2.4.2",
             "group": "new", "checks": {"sockets::a": "passed"}, "failed": []}]
    lines = render.nodes_markdown(rows)
    assert lines[1] == "## Per node"
    assert lines[-2] == "| `ip-2` | legacy | docker://20.10.24 | docker (baseline) | 2 | `sockets::a` |"
    assert lines[-1] == "| `ip-1` | new | containerd://2.4.2 | containerd | 1 | none |"
    assert 'id="nodes"' in render.nodes_html(rows) and render.nodes_markdown([]) == []
