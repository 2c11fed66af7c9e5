"""crigate's options: one group, bad values rejected before anything starts."""
from __future__ import annotations

import pytest

PLUGIN = ("-p", "plugins.crigate")


@pytest.mark.parametrize("args, message", [
    (["--runtime", "rkt"], "--runtime 'rkt' is not a runtime crigate knows; valid: containerd, cri-o, docker, all"),
    (["--k8s-version", "1.19"], "unknown Kubernetes version '1.19'; valid: 1.33, 1.24"),
    (["--cluster", "minikube"], "--cluster 'minikube': valid: kind, existing"),
    (["--cluster", "existing"], "--cluster=existing needs --kubeconfig PATH"),
    (["--cluster", "existing", "--kubeconfig", "/nonexistent"], "--kubeconfig /nonexistent: no such file"),
    (["--node-image", "cri-o"], "expected RUNTIME=IMAGE"),
    (["--latency-pods", "1"], "--latency-pods 1: need at least 2"),
    (["--latency-slo", "0"], "must be a positive number of seconds"),
])
def test_bad_values_are_usage_errors_naming_the_valid_ones(pytester, args, message):
    result = pytester.runpytest(*PLUGIN, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_options_live_in_one_crigate_group(pytester):
    help_text = pytester.runpytest(*PLUGIN, "--help").stdout.str()
    group = help_text.split("crigate: CRI runtime conformance:", 1)[1].split("\n\n", 1)[0]
    for option in ("--runtime", "--k8s-version", "--cluster", "--kubeconfig", "--context",
                   "--keep-cluster", "--kind-bin", "--node-image", "--report-dir",
                   "--latency-pods", "--latency-slo"):
        assert option in group, f"{option} missing from the crigate group"


def test_runtime_parametrizes_tests_with_runtime_ids(pytester):
    pytester.makepyfile(test_ids="def test_check(runtime):\n    pass\n")
    result = pytester.runpytest(*PLUGIN, "--runtime", "all", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["test_ids.py::test_check[[]containerd[]]",
                                 "test_ids.py::test_check[[]cri-o[]]"])


def test_runtime_is_repeatable_and_deduplicated(pytester):
    pytester.makepyfile(test_ids="def test_check(runtime):\n    pass\n")
    result = pytester.runpytest(*PLUGIN, "--runtime", "cri-o", "--runtime", "cri-o",
                                "--collect-only", "-q")
    assert result.stdout.str().count("test_check[") == 1


def test_each_runtime_stays_on_one_xdist_worker(pytester):
    pytester.makepyfile(test_groups="""
        import os, pytest
        @pytest.mark.parametrize("i", range(4))
        def test_where(runtime, i, record_property):
            with open(f"{runtime}.workers", "a") as f:
                f.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
    """)
    result = pytester.runpytest_subprocess(*PLUGIN, "--runtime", "all", "-n", "2",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
    for runtime in ("containerd", "cri-o"):
        workers = set((pytester.path / f"{runtime}.workers").read_text().split())
        assert len(workers) == 1, f"{runtime} ran on {workers}"
