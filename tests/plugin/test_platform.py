"""The platform's own facts: detection from nodes, the facts' shape and
sources, keeps()'s version bounds, and docs/platforms.md in step with the data."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from crigate.gate import platform
from crigate.gate.platform import COUPLINGS, GENERIC, PLATFORMS, Fact, detect, keeps

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "platforms.md"


def node(name: str, provider_id: str = "", **labels: str) -> dict:
    """A Node as the API returns it (camelCase)."""
    return {"metadata": {"name": name, "labels": dict(labels)}, "spec": {"providerID": provider_id}}


def eks(name: str, **labels: str) -> dict:
    return node(name, f"aws:///us-east-1a/i-0{name}", **labels)


NODEGROUP = {"eks.amazonaws.com/nodegroup": "ng-1"}


def test_the_toml_parses_with_every_platform():
    table = tomllib.loads(platform.DATA.read_text())
    assert list(table) == ["eks", "gke", "aks", GENERIC]
    assert platform.choices() == ("eks", "gke", "aks", "generic")


def test_detection_from_provider_id_and_labels():
    found, evidence = detect([eks("a", **NODEGROUP), eks("b", **NODEGROUP), eks("c")])
    assert found == "eks"
    assert evidence == ("3 of 3 nodes point at Amazon EKS "
                        "(providerID aws://... on 3, label eks.amazonaws.com/nodegroup on 2)")


def test_detection_from_provider_id_alone_says_it_names_the_cloud():
    """kops or kubeadm nodes on GCE carry gce:// too: no managed node image's facts apply."""
    found, evidence = detect([node("a", "gce://proj/us-central1-a/gke-a"), node("b", "gce://proj/zone/b")])
    assert found == "generic"
    assert evidence.startswith("2 of 2 nodes point at Google Kubernetes Engine (providerID gce://... on 2)")
    assert "providerID only" in evidence and "--platform gke" in evidence


@pytest.mark.parametrize("labels, expected", [
    ({"cloud.google.com/gke-nodepool": "default-pool"}, "gke"),
    ({"kubernetes.azure.com/agentpool": "nodepool1", "kubernetes.azure.com/cluster": "MC_rg"}, "aks"),
    ({"eks.amazonaws.com/compute-type": "auto"}, "eks"),
])
def test_detection_from_labels_only(labels, expected):
    found, evidence = detect([node("a", **labels), node("b", **labels)])
    assert found == expected, evidence
    assert "providerID only" not in evidence


def test_mixed_platforms_are_generic_and_say_so():
    found, evidence = detect([eks("a"), node("b", "azure:///subscriptions/x/vm-b")])
    assert found == GENERIC
    assert evidence == ("nodes of more than one platform (Amazon EKS on 1, Azure Kubernetes Service on 1): "
                        "generic")


def test_one_node_that_matches_nothing_makes_it_generic():
    found, evidence = detect([eks("a", **NODEGROUP), node("onprem-1", "kind://docker/x/onprem-1")])
    assert found == GENERIC
    assert "1 of 2 nodes point at Amazon EKS" in evidence and "match no platform (onprem-1)" in evidence


def test_one_node_that_points_at_two_platforms_is_generic():
    found, evidence = detect([node("odd", "aws:///zone/i-1", **{"kubernetes.azure.com/cluster": "c"})])
    assert found == GENERIC
    assert "more than one platform" in evidence


def test_nodes_of_no_known_platform_are_generic():
    assert detect([node("a", "kind://docker/kind/a"), node("b")]) == (
        GENERIC, "none of 2 nodes has the providerID or labels of a known platform")


def test_no_nodes_read_is_generic_without_evidence():
    assert detect([]) == (GENERIC, "")


def test_nodes_missing_spec_or_metadata_do_not_crash():
    assert detect([{}, {"metadata": {"name": "x"}}])[0] == GENERIC


def facts() -> list[Fact]:
    return [f for p in PLATFORMS.values() for f in (*p.facts, *p.not_kept)]


@pytest.mark.parametrize("fact", facts(), ids=lambda f: f"{f.platform}-{f.coupling}")
def test_every_fact_has_a_valid_coupling_reason_versions_and_source(fact):
    assert fact.coupling in COUPLINGS
    assert fact.reason.strip() and fact.holds_for.strip() and fact.source.strip()
    assert platform.minor(fact.since) >= (1, 19), fact.since
    assert fact.versions.startswith(f"Kubernetes {fact.since}")


def test_every_platform_but_generic_says_how_it_is_detected():
    for p in PLATFORMS.values():
        if p.id != GENERIC:
            assert p.provider_ids and p.labels and p.detection_sources, p.id
    assert not PLATFORMS[GENERIC].facts


def test_keeps_within_and_outside_the_versions():
    assert keeps("eks", "nvidia-default-runtime", "1.24").source
    assert keeps("eks", "nvidia-default-runtime", "v1.31.2-eks-7f9249a").platform == "eks"
    assert keeps("eks", "nvidia-default-runtime", "1.23") is None
    assert keeps("gke", "docker-cli", "1.30.5-gke.1014001").coupling == "docker-cli"


def test_keeps_nothing_the_data_does_not_say():
    assert keeps("eks", "docker-api-socket", "1.24") is None      # checked: not kept
    assert keeps("aks", "docker-cli", "1.30") is None
    assert keeps(GENERIC, "nvidia-default-runtime", "1.30") is None
    assert all(keeps(p, "docker-json-log-paths") is None for p in platform.choices())


def test_keeps_offline_returns_the_fact_with_its_versions():
    fact = keeps("aks", "nvidia-default-runtime")
    assert fact.versions == "Kubernetes 1.24 and later" and fact.until_text == "no end announced"


def test_a_fact_with_an_until_stops_there():
    fact = Fact("eks", "docker-cli", "r", "AL2", since="1.24", until="1.25", source="s")
    assert fact.holds_at("1.24") and not fact.holds_at("1.25") and not fact.holds_at("1.23")
    assert fact.versions == "Kubernetes 1.24" and fact.until_text == "until Kubernetes 1.25"
    assert Fact("eks", "docker-cli", "r", "AL2", "1.24", "1.27", "s").versions == "Kubernetes 1.24 to 1.26"


@pytest.mark.parametrize("call, message", [
    (lambda: keeps("openshift", "docker-cli"), "platform 'openshift': expected one of eks, gke, aks, generic"),
    (lambda: keeps("eks", "docker-sock"), "coupling 'docker-sock': expected one of docker-api-socket"),
    (lambda: keeps("eks", "nvidia-default-runtime", "latest"), "Kubernetes version 'latest'"),
])
def test_bad_arguments_name_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("entry, message", [
    ('coupling = "docker-sock"\nreason = "r"\nholds_for = "h"\nsince = "1.24"\nsource = "s"\n',
     "coupling must be one of"),
    ('coupling = "docker-cli"\nreason = "r"\nholds_for = "h"\nsince = "1.24"\n', "needs source"),
    ('coupling = "docker-cli"\nreason = "r"\nholds_for = "h"\nsince = "1.24"\nuntil = "1.24"\nsource = "s"\n',
     "until 1.24 is not after since 1.24"),
])
def test_a_bad_fact_is_an_error(tmp_path, entry, message):
    data = tmp_path / "platforms.toml"
    data.write_text(f'[x]\nname = "X"\n[[x.keeps]]\n{entry}[generic]\nname = "g"\n')
    with pytest.raises(ValueError, match=message):
        platform.load(data)


def test_the_docs_hold_every_fact_and_detection_key():
    text = DOCS.read_text()
    for fact in facts():
        assert f"{fact.platform}: {fact.coupling}" in text, f"docs/platforms.md lacks {fact.platform}: {fact.coupling}"
        assert fact.source in text, f"docs/platforms.md lacks the source of {fact.platform}: {fact.coupling}"
    for p in PLATFORMS.values():
        for key in (*p.provider_ids, *p.labels):
            assert f"`{key}`" in text, f"docs/platforms.md lacks {p.id}'s {key}"


def test_the_module_imports_nothing_heavy():
    tree = ast.parse(Path(platform.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "re", "tomllib", "collections", "dataclasses", "pathlib", "crigate.facts"}, \
        imported


def test_facts_are_judged_at_the_release_the_nodes_switch_by():
    from crigate.gate import platform_review

    def nodes(*versions):
        return [{"status": {"nodeInfo": {"kubeletVersion": v}}} for v in versions]
    assert platform_review.kubernetes_minor(nodes("v1.23.17-eks-1", "v1.22.9")) == "1.24"   # switch at 1.24
    assert platform_review.kubernetes_minor(nodes("v1.30.2", "v1.29.0")) == "1.29"
    assert platform_review.kubernetes_minor([]) is None
