"""Report writing from recorded results: matrix, results.json, report.md, report.html."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pytest
from crigate import records

CHECKS = """
import pytest

from crigate import records
from crigate.records import Latency

pytestmark = pytest.mark.logs

def test_passes(runtime, observed):
    observed(f"node n1: 5 records exported for 5 lines written on {runtime}")

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


RECORD_EXAMPLES = [
    records.Latency(samples=[1.0, 1.1], runtime_start_after_create_s=[0.5, 0.6], kubelet_sli=None,
                    node="n1", node_clock_offset_ms=0.2),
    records.Burst(rounds=[{"pods": 5, "ready_s": [1.0] * 5}], steady={"runtime_rss_mb": [150.0]}),
    records.CriBench([{"file": "pod_benchmark_data.json", "operations": {"CreatePod": [0.1, 0.2]}}]),
    records.EventedPleg(samples=[0.4, 0.5]),
    records.OciRuntimes(handlers={"runc": {"samples": [0.5, 0.6]}, "crun": {"samples": [0.4, 0.5]}}),
    records.NodeOutcomes({"n1": "passed", "n2": "failed"}),
    records.Cluster({"runtime": "cri-o", "provider": "kind", "node_runtimes": {"n1": "cri-o://1.37.1"}}),
    records.GateVerdict({"target": "containerd", "findings": [{"check": "docker-socket", "object": "Pod/a/b"}],
                         "unread": ["list pods in namespace secret-ns"]}),
]


def test_every_record_type_has_an_example_and_its_own_key():
    assert sorted(type(r).__name__ for r in RECORD_EXAMPLES) == sorted(c.__name__ for c in records.RECORDS.values())


@pytest.mark.parametrize("record", RECORD_EXAMPLES, ids=lambda r: type(r).__name__)
def test_a_record_survives_json_and_is_rebuilt_by_its_key(record):
    key, data = record.as_property()
    carried = json.loads(json.dumps([[key, data], ["other", 1]]))     # what xdist and the report carry
    assert records.rebuilt(carried) == [record]


CLUSTER_AND_NODES = """
from crigate.records import Cluster, NodeOutcomes

def test_cluster(runtime, record_measurement):
    record_measurement(Cluster({"runtime": runtime, "provider": "kind", "cluster": f"crigate-{runtime}-1",
                                "node_runtimes": {f"{runtime}-n1": runtime + "://1"}}))
    record_measurement(NodeOutcomes({f"{runtime}-n1": "passed"}))
"""


def test_records_reach_the_controller_through_xdist(pytester):
    pytester.makepyfile(test_fake_checks=CHECKS, test_fake_cluster=CLUSTER_AND_NODES)
    result = pytester.runpytest_subprocess("--runtime", "all", "-n", "2", "--report-dir", "out",
                                           "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = json.loads((pytester.path / "out/results.json").read_text())
    assert doc["latency"]["containerd"]["samples_s"] == [1.0 + 0.01 * i for i in range(20)]
    assert doc["latency"]["cri-o"]["runtime_start_after_create_s"][0] == 0.65
    assert sorted(doc["clusters"]) == ["containerd", "cri-o"]
    assert [(n["node"], n["checks"]) for n in doc["nodes"]] == [
        ("containerd-n1", {"fake_cluster::test_cluster": "passed"}),
        ("cri-o-n1", {"fake_cluster::test_cluster": "passed"})]


NEW_MEASUREMENT = """
from crigate.records import ImagePull

def test_pull(runtime, record_measurement):
    record_measurement(ImagePull(image="busybox:1.36", seconds=0.25))
"""


@pytest.fixture
def image_pull_record():
    """A measurement added the way a contributor would: one record type, in crigate.records."""
    @records.recorded
    @dataclass
    class ImagePull(records.Record):
        key: ClassVar[str] = "crigate_image_pull"
        image: str
        seconds: float

        @classmethod
        def section(cls, store):
            return {"image_pull": store}

        @staticmethod
        def markdown(doc):
            return ["", "## Image pull", ""] + [f"- {r}: {m['image']} in {m['seconds']} s"
                                               for r, m in sorted(doc["image_pull"].items())]

    records.ImagePull = ImagePull
    yield ImagePull
    del records.RECORDS[ImagePull.key], records.ImagePull


def test_a_new_measurement_is_one_record_type(pytester, image_pull_record):
    pytester.makepyfile(test_fake_pull=NEW_MEASUREMENT)
    pytester.runpytest("--runtime", "all", "--report-dir", "out")
    doc = json.loads((pytester.path / "out/results.json").read_text())
    assert doc["image_pull"] == {"containerd": {"image": "busybox:1.36", "seconds": 0.25},
                                 "cri-o": {"image": "busybox:1.36", "seconds": 0.25}}
    assert "- cri-o: busybox:1.36 in 0.25 s" in (pytester.path / "out/report.md").read_text()


def test_a_passing_check_keeps_what_it_observed_as_its_message(reported):
    _, out = reported
    results = json.loads((out / "results.json").read_text())["results"]
    passed = {r["runtime"]: r["message"] for r in results if r["check"].endswith("test_passes")}
    assert passed == {"containerd": "node n1: 5 records exported for 5 lines written on containerd",
                      "cri-o": "node n1: 5 records exported for 5 lines written on cri-o"}
