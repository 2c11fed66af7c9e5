"""Known differences are XFAIL with their reason on the runtime x version they
concern, plain failures elsewhere, and fail the run once they pass (strict)."""
from __future__ import annotations

import json

import pytest
from crigate import known

CHECK = "logs::test_kubectl_logs_match_the_file"


def fake_logs_check(fails_on: str) -> str:
    return f"""
def test_kubectl_logs_match_the_file(runtime):
    assert runtime != "{fails_on}", "pod p: expected `kubectl logs` to return the log file's lines"
"""


@pytest.fixture
def differences(monkeypatch):
    """Replace the list with the entries a test names."""
    table: dict = {}
    monkeypatch.setattr(known, "KNOWN_DIFFERENCES", table)
    return table


def outcomes(pytester, *args: str) -> dict[str, dict]:
    pytester.runpytest("--runtime", "all", "--report-dir", "out", *args)
    doc = json.loads((pytester.path / "out/results.json").read_text())
    return {r["runtime"]: r for r in doc["results"]}


def test_known_difference_is_xfail_with_its_reason(pytester, differences):
    differences[(CHECK, "cri-o", "1.24")] = ("a timing-dependent difference", False)
    pytester.makepyfile(test_logs=fake_logs_check("cri-o"))
    found = outcomes(pytester, "--k8s-version", "1.24")
    assert found["cri-o"]["outcome"] == "xfailed"
    assert "known difference on cri-o with Kubernetes 1.24" in found["cri-o"]["message"]
    assert found["containerd"]["outcome"] == "passed"


def test_same_failure_on_another_version_is_a_failure(pytester, differences):
    differences[(CHECK, "cri-o", "1.24")] = ("a timing-dependent difference", False)
    pytester.makepyfile(test_logs=fake_logs_check("cri-o"))
    assert outcomes(pytester, "--k8s-version", "1.33")["cri-o"]["outcome"] == "failed"


def test_strict_known_difference_that_passes_fails_the_run(pytester, differences):
    differences[(CHECK, "cri-o", "1.24")] = ("a deterministic difference", True)
    pytester.makepyfile(test_logs=fake_logs_check("nothing"))
    result = pytester.runpytest("--runtime", "all", "--k8s-version", "1.24")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*known difference on cri-o*"])


def test_timing_dependent_known_difference_may_pass(pytester, differences):
    differences[(CHECK, "cri-o", "1.24")] = ("a timing-dependent difference", False)
    pytester.makepyfile(test_logs=fake_logs_check("nothing"))
    result = pytester.runpytest("--runtime", "all", "--k8s-version", "1.24")
    result.assert_outcomes(passed=1, xpassed=1)


def test_kubelet_limitation_applies_on_every_runtime_version_and_cluster(tmp_path):
    """The interleaved-line entry (runtime and minor "*") marks every runtime,
    on the test bed and on existing clusters, strict."""
    check = "logs::test_kubectl_logs_keeps_an_interleaved_line_whole"
    for runtime in ("containerd", "cri-o", "docker"):
        for minor, version_known in (("1.24", True), ("1.33", True), ("1.33", False)):
            why, strict, where = known.known_difference(check, runtime, minor, version_known)
            assert strict and where == "on every runtime and Kubernetes version"
            assert "logWriter.write" in why
    assert known.known_difference(CHECK, "cri-o", "1.33", True) is None


def test_version_bound_difference_is_not_applied_to_existing_clusters(differences):
    differences[(CHECK, "cri-o", "1.24")] = ("why", True)
    assert known.known_difference(CHECK, "cri-o", "1.24", True) is not None
    assert known.known_difference(CHECK, "cri-o", "1.24", False) is None


def test_one_verdict_everywhere_for_a_non_strict_xpass(pytester, differences):
    """pytest exits 0, and report.md, report.html and the nightly summary say
    PASS; a strict XPASS fails all four."""
    from crigate import render, summary
    differences[(CHECK, "cri-o", "1.24")] = ("a timing-dependent difference", False)
    pytester.makepyfile(test_logs=fake_logs_check("nothing"))
    result = pytester.runpytest("--runtime", "all", "--k8s-version", "1.24", "--report-dir", "out")
    assert result.ret == 0
    doc = json.loads((pytester.path / "out/results.json").read_text())
    assert render.verdict(doc) == "PASS"
    assert "crigate report: PASS" in (pytester.path / "out/report.md").read_text()
    assert 'class="verdict-PASS">PASS' in (pytester.path / "out/report.html").read_text()
    assert summary.summary([doc]).startswith("# crigate nightly: PASS")

    differences[(CHECK, "cri-o", "1.24")] = ("a deterministic difference", True)
    result = pytester.runpytest("--runtime", "all", "--k8s-version", "1.24", "--report-dir", "out2")
    assert result.ret == 1
    doc = json.loads((pytester.path / "out2/results.json").read_text())
    assert render.verdict(doc) == "FAIL"
    assert summary.summary([doc]).startswith("# crigate nightly: FAIL")
