"""crigate's options: one group, bad values rejected before anything starts."""
from __future__ import annotations

import subprocess
import sys

import pytest
from crigate.options import MEASUREMENT_SIZES, measurement_size
from crigate.scheduling import runtime_of, scope_of
from crigate.testbed.versions import KUBERNETES_MINORS


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
    (["--measure", "huge"], "invalid choice: 'huge' (choose from 'quick', 'full')"),
    (["--measure", "full", "--latency-pods", "1"], "--latency-pods 1: need at least 2"),
    (["--latency-burst-rounds", "0"], "--latency-burst and --latency-burst-rounds need at least 1"),
    (["--cri-bench", "-1"], "--cri-bench 0 or more"),
    (["--evented-pleg", "yes"], "invalid choice: 'yes' (choose from 'on', 'off')"),
    (["--api-retry-budget", "0"], "--api-retry-budget 0: expected a positive number of seconds"),
    (["--api-timeout", "-2"], "--api-timeout -2: expected a positive number of seconds"),
])
def test_bad_values_are_usage_errors_naming_the_valid_ones(pytester, args, message):
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_quick_is_the_default_size_and_smaller_than_full():
    quick, full = MEASUREMENT_SIZES["quick"], MEASUREMENT_SIZES["full"]
    assert measurement_size("quick") == quick and quick.overridden == ()
    assert not quick.evented_pleg and full.evented_pleg
    for size in ("latency_burst", "latency_burst_rounds", "cri_bench"):
        assert getattr(quick, size) < getattr(full, size), size
    assert quick.latency_pods >= 20, "the SLO's p99 needs 20 pods or more (TESTBED-NOTES)"


def test_full_is_what_the_baseline_measured():
    full = measurement_size("full")
    assert (full.latency_pods, full.latency_burst, full.latency_burst_rounds, full.cri_bench,
            full.evented_pleg) == (40, 30, 5, 20, True)


def test_each_size_option_overrides_the_preset_and_is_named():
    size = measurement_size("quick", latency_pods=None, latency_burst=30, latency_burst_rounds=None,
                            cri_bench=0, evented_pleg=True)
    assert (size.size, size.latency_pods, size.latency_burst, size.cri_bench, size.evented_pleg) == (
        "quick", 20, 30, 0, True)
    assert size.overridden == ("--latency-burst", "--cri-bench", "--evented-pleg")
    assert size.text.startswith("quick (--latency-burst, --cri-bench, --evented-pleg given): 20 pods")
    assert "critest benchmark off" in size.text


def test_an_option_given_at_the_presets_value_is_no_override():
    assert measurement_size("full", cri_bench=20, evented_pleg=True).overridden == ()
    assert measurement_size("full", evented_pleg=False).overridden == ("--evented-pleg",)


MEASURED = """
def test_size(runtime, crigate_settings):
    m = crigate_settings.measurement
    print("SIZE", m.size, m.latency_pods, m.latency_burst, m.latency_burst_rounds, m.cri_bench, m.evented_pleg)
"""


@pytest.mark.parametrize("args, expected", [
    ([], "SIZE quick 20 5 1 3 False"),
    (["--measure=full"], "SIZE full 40 30 5 20 True"),
    (["--measure=full", "--evented-pleg=off", "--latency-pods=25"], "SIZE full 25 30 5 20 False"),
    (["--evented-pleg=on", "--cri-bench=0"], "SIZE quick 20 5 1 0 True"),
])
def test_measure_resolves_from_the_command_line(pytester, args, expected):
    pytester.makepyfile(test_measured=MEASURED)
    result = pytester.runpytest("-s", "--report-dir", "out", *args)
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"*{expected}"])


def test_the_report_says_which_size_ran(pytester):
    import json
    pytester.makepyfile(test_measured=MEASURED)
    pytester.runpytest("--report-dir", "out", "--measure=full", "--cri-bench=4")
    doc = json.loads((pytester.path / "out" / "results.json").read_text())
    assert doc["measurement"] == {"size": "full", "latency_pods": 40, "latency_burst": 30,
                                  "latency_burst_rounds": 5, "cri_bench": 4, "evented_pleg": True, "oci_runtimes": True,
                                  "overridden": ["--cri-bench"]}
    md = (pytester.path / "out" / "report.md").read_text()
    assert "Measurement size: full (--cri-bench given): 40 pods one at a time, burst 30 x 5" in md


def test_options_live_in_one_crigate_group(pytester):
    help_text = pytester.runpytest("--help").stdout.str()
    group = help_text.split("crigate: CRI runtime conformance:", 1)[1].split("\n\n", 1)[0]
    for option in ("--runtime", "--k8s-version", "--cluster", "--context", "--node-image",
                   "--report-dir", "--latency-pods", "--latency-slo", "--measure", "--evented-pleg"):
        assert option in group, f"{option} missing from the crigate group"
    kind_group = help_text.split("\nkind:", 1)[1].split("\n\n", 1)[0]
    for option in ("--kubeconfig", "--keep-cluster", "--kind-bin", "--kind-kubectl-bin", "--kind-image"):
        assert option in kind_group and f"\n  {option}" not in group, (
            f"{option}: expected in pytest-kind-ng's group only")


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
    assert done.returncode == 0, (
        f"expected exit 0, observed {done.returncode}: {done.stdout[-800:]}{done.stderr[-800:]}")
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
