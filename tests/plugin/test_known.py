"""Known differences are XFAIL with their reason on the runtime x version they
concern, plain failures elsewhere, and fail the run once they pass (strict)."""
from __future__ import annotations

import json

from plugins import known

PLUGIN = ("-p", "plugins.crigate")


def fake_logs_check(fails_on: str) -> str:
    return f"""
def test_kubectl_logs_match_the_file(runtime):
    assert runtime != "{fails_on}", "pod p: expected `kubectl logs` to return the log file's lines"
"""


def outcomes(pytester, *args: str) -> dict[str, dict]:
    pytester.runpytest(*PLUGIN, "--runtime", "all", "--report-dir", "out", *args)
    doc = json.loads((pytester.path / "out/results.json").read_text())
    return {r["runtime"]: r for r in doc["results"]}


def test_known_difference_is_xfail_with_its_reason(pytester):
    pytester.makepyfile(test_logs=fake_logs_check("cri-o"))
    found = outcomes(pytester, "--k8s-version", "1.24")
    assert found["cri-o"]["outcome"] == "xfailed"
    assert "known difference on cri-o with Kubernetes 1.24" in found["cri-o"]["message"]
    assert found["containerd"]["outcome"] == "passed"


def test_same_failure_on_another_version_is_a_failure(pytester):
    pytester.makepyfile(test_logs=fake_logs_check("cri-o"))
    assert outcomes(pytester, "--k8s-version", "1.33")["cri-o"]["outcome"] == "failed"


def test_strict_known_difference_that_passes_fails_the_run(pytester, monkeypatch):
    monkeypatch.setitem(known.KNOWN_DIFFERENCES, ("logs::test_kubectl_logs_match_the_file", "cri-o", "1.24"),
                        ("a deterministic difference", True))
    pytester.makepyfile(test_logs=fake_logs_check("nothing"))
    result = pytester.runpytest(*PLUGIN, "--runtime", "all", "--k8s-version", "1.24")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*known difference on cri-o*"])


def test_timing_dependent_known_difference_may_pass(pytester):
    pytester.makepyfile(test_logs=fake_logs_check("nothing"))
    result = pytester.runpytest(*PLUGIN, "--runtime", "all", "--k8s-version", "1.24")
    result.assert_outcomes(passed=1, xpassed=1)
