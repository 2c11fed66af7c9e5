"""crigate's options: one group, bad values rejected before anything starts."""
from __future__ import annotations

import subprocess
import sys

import pytest

from crigate.testbed.versions import KUBERNETES_MINORS
from crigate.scheduling import runtime_of, scope_of

@pytest.mark.parametrize("args, message", [
    (["--runtime", "rkt"], "--runtime 'rkt' is not a runtime crigate knows; valid: containerd, cri-o, docker, all"),
    (["--k8s-version", "1.19"], "unknown Kubernetes version '1.19'; valid: " + ", ".join(KUBERNETES_MINORS)),
    (["--cluster", "minikube"], "--cluster 'minikube': valid: kind, existing"),
    (["--cluster", "existing"], "--cluster=existing needs --kubeconfig PATH"),
    (["--cluster", "existing", "--kubeconfig", "/nonexistent"], "--kubeconfig /nonexistent: no such file"),
    (["--node-image", "cri-o"], "expected RUNTIME=IMAGE"),
    (["--latency-pods", "1"], "--latency-pods 1: need at least 2"),
    (["--latency-slo", "0"], "must be a positive number of seconds"),
    (["--runtime", "all", "--kind-image", "img:1"], "--kind-image names one node image, for one runtime"),
    (["--kind-bin", "/nonexistent/kind"], "--kind-bin /nonexistent/kind: no such file"),
    (["--kind-kubectl-bin", "/nonexistent/kubectl"], "--kind-kubectl-bin /nonexistent/kubectl: no such file"),
    (["--runtime", "auto"], "--runtime auto reads the runtimes from the nodes of an existing cluster"),
    (["--runtime", "auto,cri-o"], "--runtime auto reads the runtimes from the nodes; give it alone"),
    (["--nodes", "pool=a"], "--nodes selects nodes of an existing cluster"),
    (["--image-repo", "https://r.example/crigate"], "expected HOST[:PORT][/PREFIX] in lower case"),
    (["--image-repo", "R.example/Crigate"], "expected HOST[:PORT][/PREFIX] in lower case"),
])
def test_bad_values_are_usage_errors_naming_the_valid_ones(pytester, args, message):
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_options_live_in_one_crigate_group(pytester):
    help_text = pytester.runpytest("--help").stdout.str()
    group = help_text.split("crigate: CRI runtime conformance:", 1)[1].split("\n\n", 1)[0]
    for option in ("--runtime", "--k8s-version", "--cluster", "--context", "--node-image",
                   "--report-dir", "--latency-pods", "--latency-slo"):
        assert option in group, f"{option} missing from the crigate group"
    kind_group = help_text.split("\nkind:", 1)[1].split("\n\n", 1)[0]
    for option in ("--kubeconfig", "--keep-cluster", "--kind-bin", "--kind-kubectl-bin", "--kind-image"):
        assert option in kind_group and f"\n  {option}" not in group, f"{option}: expected in pytest-kind-ng's group only"


@pytest.mark.parametrize("form", ["space", "equals"])
def test_options_parse_from_another_directory_in_both_forms(tmp_path, form):
    """The plugin is an installed entry point: `--report-dir DIR` with an
    existing DIR is an option value, not pytest's rootdir."""
    existing = tmp_path / "reports"
    existing.mkdir()
    (tmp_path / "test_one.py").write_text("def test_one(runtime):\n    pass\n")
    value = ["--report-dir", str(existing)] if form == "space" else [f"--report-dir={existing}"]
    done = subprocess.run([sys.executable, "-m", "pytest", "test_one.py", "--runtime", "cri-o", *value,
                           "-p", "no:cacheprovider", "-q"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, f"expected exit 0, observed {done.returncode}: {done.stdout[-800:]}{done.stderr[-800:]}"
    assert (existing / "results.json").is_file(), f"expected results.json in {existing}, observed none"


@pytest.mark.parametrize("nodeid, expected", [
    ("suites/test_logs.py::test_x[cri-o]", "cri-o"),
    ("suites/test_logs.py::test_x[containerd]", "containerd"),
    ("tests/test_g.py::test_where[cri-o-3]", "cri-o"),
    ("tests/testbed/test_gate.py::test_clean[cri-o-containerd-socket-user]", "cri-o"),
    ("tests/testbed/test_gate.py::test_clean[containerd-docker-registry]", "containerd"),
    ("tests/test_g.py::test_where[2-docker]", None),
    ("tests/plugin/test_stats.py::test_median", None),
    ("tests/test_g.py::test_p[cri-old]", None),
])
def test_scheduler_reads_the_runtime_from_the_nodeid(nodeid, expected):
    assert runtime_of(nodeid) == expected
    assert scope_of(nodeid) == (f"runtime:{expected}" if expected else nodeid.split("::")[0])


def test_runtime_parametrizes_tests_with_runtime_ids(pytester):
    pytester.makepyfile(test_ids="def test_check(runtime):\n    pass\n")
    result = pytester.runpytest("--runtime", "all", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["test_ids.py::test_check[[]containerd[]]",
                                 "test_ids.py::test_check[[]cri-o[]]"])


def test_runtime_is_repeatable_and_deduplicated(pytester):
    pytester.makepyfile(test_ids="def test_check(runtime):\n    pass\n")
    result = pytester.runpytest("--runtime", "cri-o", "--runtime", "cri-o",
                                "--collect-only", "-q")
    assert result.stdout.str().count("test_check[") == 1


def test_runtime_id_leads_the_test_id(pytester):
    pytester.makepyfile(test_ids="""
        import pytest
        @pytest.mark.parametrize("name", ["containerd-socket-user"])
        def test_check(runtime, name):
            pass
    """)
    result = pytester.runpytest("--runtime", "cri-o", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["test_ids.py::test_check[[]cri-o-containerd-socket-user[]]"])


def test_each_runtime_stays_on_one_xdist_worker(pytester):
    pytester.makepyfile(test_groups="""
        import os, pytest
        @pytest.mark.parametrize("i", range(4))
        def test_where(runtime, i, record_property):
            with open(f"{runtime}.workers", "a") as f:
                f.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
    """)
    result = pytester.runpytest_subprocess("--runtime", "all", "-n", "2",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
    for runtime in ("containerd", "cri-o"):
        workers = set((pytester.path / f"{runtime}.workers").read_text().split())
        assert len(workers) == 1, f"{runtime} ran on {workers}"


def test_a_cluster_that_cannot_be_reached_is_one_line_exit_2(pytester, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "
                          "'https://127.0.0.1:9'}}]\nusers: [{name: u, user: {token: t}}]\n"
                          "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n")
    result = pytester.runpytest_subprocess("--cluster=existing", f"--kubeconfig={kubeconfig}",
                                           "--runtime=auto")
    assert result.ret == 2          # could not decide, as crigate-gate; checked before anything runs
    said = [line for line in result.outlines + result.errlines if line.strip()]
    assert len(said) == 1 and "https://127.0.0.1:9 (context x) is unreachable" in said[0], said


@pytest.mark.parametrize("kubeconfig_text, says", [
    ("a: [", "not valid YAML"),
    ("apiVersion: v1\nkind: Config\n", "holds no contexts"),
    ("apiVersion: v1\nkind: Config\ncontexts: [{name: x, context: {}}]\n", "no current context"),
])
def test_a_broken_kubeconfig_is_one_line_saying_what_to_do(pytester, tmp_path, kubeconfig_text, says):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text)
    result = pytester.runpytest_subprocess("--cluster=existing", f"--kubeconfig={kubeconfig}")
    said = [line for line in result.outlines + result.errlines if line.strip()]
    assert result.ret == 2 and len(said) == 1 and says in said[0], said


def test_print_rbac_prints_the_suites_clusterrole_and_exits(pytester):
    result = pytester.runpytest("--print-rbac")
    assert result.ret == 0
    assert "name: crigate-suites" in result.stdout.str() and "secrets" not in result.stdout.str()
