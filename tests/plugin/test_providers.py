"""Providers answer capabilities (plugins/providers.py): checks ask what a
cluster allows, never which provider made it, and a skip says what is missing
and which --cluster has it."""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import pytest
from crigate import options, providers

ROOT = Path(__file__).resolve().parents[2]
# Where a provider's name or --cluster may be looked at, with the reason.
NAME_ALLOWED = {
    "plugins/providers.py": "PROVIDERS maps each --cluster value to its provider",
    "plugins/options.py": "option parsing: --cluster's values and their validation",
    "tests/plugin/test_providers.py": "this test's own patterns",
}
NAME_BRANCH = re.compile(
    r"\bis_test_bed\b"
    r"|\bcluster[\"')\]]*\s*(==|!=|\bin\b)\s*\(?[\"'](kind|existing)[\"']"
    r"|[\"'](kind|existing)[\"']\s*(==|!=)\s*\w*\.?cluster\b"
    r"|isinstance\([^)]*\b(TestBedProvider|ExistingClusterProvider)\b")
SCANNED = ("plugins", "suites", "tests", "clusters")


def name_branches() -> list[str]:
    found = []
    for path in sorted(p for d in SCANNED for p in (ROOT / d).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in NAME_ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if NAME_BRANCH.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{rel}:{number}: {line.strip()}")
    return found


def test_no_check_branches_on_a_provider_name():
    found = name_branches()
    assert not found, ("branch on a capability (cluster.capabilities.missing(...)), not on the "
                       "provider's name or --cluster:\n" + "\n".join(found))


@pytest.mark.parametrize("line", ["if not cluster.is_test_bed:",
                                  'if settings.cluster == "existing":',
                                  "if opt('cluster') != 'kind':",
                                  'if settings.cluster in ("kind",):',
                                  'if "existing" == settings.cluster:',
                                  "if isinstance(cluster.provider, TestBedProvider):"])
def test_the_name_check_sees_a_branch_on_a_provider(line):
    assert NAME_BRANCH.search(line)


@pytest.mark.parametrize("line", ['{"apiVersion": "v1", "kind": "Pod"}',
                                  'if cluster.capabilities.builds_nodes:'])
def test_the_name_check_leaves_look_alikes(line):
    assert not NAME_BRANCH.search(line)


def test_every_cluster_value_has_a_provider():
    assert set(providers.PROVIDERS) == set(options.CLUSTER_KINDS)


@pytest.mark.parametrize("provider", providers.PROVIDERS.values(), ids=lambda p: p.__name__)
def test_each_provider_answers_every_capability(provider):
    caps = provider.capabilities
    assert set(providers.PROMISES) == {f.name for f in fields(caps)} - {"describes"}
    assert caps.nodes_reached_by in (providers.DOCKER_EXEC, providers.DEBUG_POD)
    assert caps.missing("builds_nodes", "x", caps.builds_nodes) == ""


def test_a_missing_capability_says_what_and_where_to_get_it():
    caps = providers.ExistingClusterProvider.capabilities
    message = caps.missing("may_restart_kubelet", "critest stops the kubelet")
    assert message == ("critest stops the kubelet, which needs a cluster whose kubelets checks may "
                       "stop and restart; an existing cluster is not one; run with --cluster=kind")
    assert "reaches by docker exec" in caps.missing("nodes_reached_by", "x", providers.DOCKER_EXEC)
    assert providers.TestBedProvider.capabilities.missing("may_restart_kubelet", "x") == ""


def settings(cluster: str, tmp_path: Path) -> SimpleNamespace:
    return SimpleNamespace(cluster=cluster, kubeconfig=tmp_path / "kubeconfig", context=None,
                           debug_image="busybox", image_repo=None, k8s_minor="1.33",
                           keep_cluster=True, kind_bin=None, kubectl_bin=None, node_images={})


@pytest.mark.parametrize("cluster, made", [("existing", providers.ExistingClusterProvider),
                                           ("kind", providers.TestBedProvider)])
def test_the_cluster_option_picks_the_provider(cluster, made, tmp_path):
    provider = providers.make_provider(settings(cluster, tmp_path), "containerd", "abc123",
                                       tmp_path / "timings.jsonl")
    assert type(provider) is made and provider.capabilities is made.capabilities


@pytest.fixture
def no_docker_engine(monkeypatch, tmp_path):
    """The docker CLI (where installed) pointed at a socket nothing serves: a
    machine whose engine is not started yet, as on a fresh CI machine before
    the test bed is built."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")


def test_leftovers_without_an_engine_are_nothing_to_delete(no_docker_engine, tmp_path):
    kind = tmp_path / "kind"
    kind.write_text("#!/bin/sh\nexit 1\n")
    unkept = SimpleNamespace(keep_cluster=False, kind_bin=kind, runtimes=["containerd", "cri-o"])
    providers.TestBedProvider.delete_leftovers(unkept, "abc123")     # no DockerCommandError


def test_a_session_without_clusters_ends_green_without_an_engine(pytester, no_docker_engine, tmp_path):
    kind = tmp_path / "kind"
    kind.write_text("#!/bin/sh\nexit 1\n")
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest("--kind-bin", str(kind), "--report-dir", "out")
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
