"""The corpus on a real test-bed cluster: applied as it is, audited by
crigate-gate through the API. Each case gives exactly its expected findings
there, and the findings on the corpus' objects are exactly those
`crigate-gate --manifests` gives for the same files offline."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from tests.corpus.cases import CORPUS, cases
from tests.corpus.managed import SEVERITIES, managed_cases

pytestmark = pytest.mark.testbed
REPO = Path(__file__).resolve().parents[2]
CASES = cases()


def gate_json(*args: str) -> tuple[int, dict, str]:
    done = subprocess.run([sys.executable, "-m", "crigate.gate.cli", "--output", "json", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    return done.returncode, json.loads(done.stdout or "{}"), done.stderr


def comparable(findings: list[dict], namespace: str) -> set[tuple]:
    """What a finding says, without where it was read from."""
    return {(f["check"], f["severity"], f["object"], f["depends_on"]) for f in findings
            if f"/{namespace}/" in f["object"]}


@pytest.fixture(scope="module")
def audited(cluster, kubectl, tmp_path_factory):
    """(namespace, findings through the API, findings from the files)."""
    namespace = f"gate-corpus-{uuid.uuid4().hex[:6]}"      # not crigate-labelled: audited
    kubectl("create", "namespace", namespace)
    try:
        kubectl("apply", "-n", namespace, "-R", "-f", str(CORPUS), timeout=300)
        out = tmp_path_factory.mktemp("corpus")
        code, live, err = gate_json(f"--kubeconfig={cluster.provider.kubeconfig()[0]}",
                                    f"--runtime={cluster.runtime}", f"--report-dir={out / 'cluster'}")
        assert code == 1 and live.get("verdict") == "NO-GO", err[-2000:]
        code, files, err = gate_json("--manifests", str(CORPUS), f"--namespace={namespace}",
                                     f"--runtime={cluster.runtime}", f"--report-dir={out / 'files'}")
        assert code == 1 and files.get("verdict") == "NO-GO", err[-2000:]
        yield namespace, live["findings"], files["findings"]
    finally:
        kubectl("delete", "namespace", namespace, "--wait=true", timeout=180)   # gone before the next audit


def test_cluster_and_manifests_give_identical_findings(audited):
    namespace, live, files = audited
    on_cluster, in_files = comparable(live, namespace), comparable(files, namespace)
    assert on_cluster == in_files, (f"only on the cluster: {sorted(on_cluster - in_files)[:10]}\n"
                                    f"only in the files: {sorted(in_files - on_cluster)[:10]}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_on_the_cluster_gives_exactly_its_findings(audited, case):
    namespace, live, _ = audited
    names = {f"{o['kind']}/{namespace}/{o['metadata']['name']}" for o in (
        d for d in yaml.safe_load_all(case.path.read_text()) if d)}
    own = [f for f in live if any(f["object"] == n or f["object"].startswith((n + "/", n + "[", n + " "))
                                  for n in names)]
    missing = [e for e in case.expected if not any(e.matches(f, namespace) for f in own)]
    unexpected = [f"{f['check']} {f['severity']} {f['object']}" for f in own
                  if not any(e.matches(f, namespace) for e in case.expected)]
    assert not missing and not unexpected, f"{case.path.name}: missing {missing}, unexpected {unexpected}"


# --------------------------------------------------------------- the managed add-ons on their platform

EKS_SET = "eks-1.23"
EKS_NODE_LABEL = "eks.amazonaws.com/nodegroup"      # set only by EKS managed node groups (docs/platforms.md)
EKS_SWITCH = "1.24"      # a 1.23 cluster's nodes leave Docker at 1.24 (the test bed runs a later minor)


def worst_on(findings: list[dict], kind: str, namespace: str, name: str) -> str:
    ref = f"{kind}/{namespace}/{name}"
    own = [f["severity"] for f in findings if not f.get("suppressed")
           and (f["object"] == ref or f["object"].startswith((ref + "/", ref + "[", ref + " ")))]
    return max(own, key=SEVERITIES.index, default="none")


@pytest.fixture(scope="module")
def eks_labelled(cluster, kubectl):
    """The test bed's nodes dressed as an EKS managed node group, for detection; undressed after."""
    kubectl("label", "nodes", "--all", f"{EKS_NODE_LABEL}=crigate-test", "--overwrite")
    try:
        yield
    finally:
        kubectl("label", "nodes", "--all", f"{EKS_NODE_LABEL}-", check=False)


@pytest.mark.parametrize("how", ["--platform=eks", "detected"])
def test_eks_add_ons_on_the_cluster_get_their_outcomes(audited, cluster, request, tmp_path, how):
    """The EKS 1.23 add-ons read through the API: nothing that keeps working on
    EKS blocks, the log shippers that break are found; --platform eks, and the
    platform detected from node labels alike."""
    namespace, _, _ = audited
    args = [f"--kubeconfig={cluster.provider.kubeconfig()[0]}", f"--runtime={cluster.runtime}",
            f"--report-dir={tmp_path}", f"--target-version={EKS_SWITCH}"]
    if how == "detected":
        request.getfixturevalue("eks_labelled")
    else:
        args.append(how)
    _, doc, err = gate_json(*args)
    assert any(n.startswith("platform: eks") and EKS_SWITCH in n for n in doc.get("notes", [])), (
        doc.get("notes"), err[-2000:])
    wrong = [f"{o.ref}: expected {o.severity}, observed {worst_on(doc['findings'], o.kind, namespace, o.name)}"
             for case in managed_cases() if case.set_name == EKS_SET for o in case.outcomes
             if worst_on(doc["findings"], o.kind, namespace, o.name) != o.severity]
    assert not wrong, "\n".join(wrong)
