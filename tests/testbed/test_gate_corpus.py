"""The corpus on a real test-bed cluster: applied as it is, audited by
crigate-gate through the API, the findings on its objects are exactly those
`crigate-gate --manifests` gives for the same files offline."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.corpus.cases import CORPUS, cases

pytestmark = pytest.mark.testbed
REPO = Path(__file__).resolve().parents[2]


def gate_json(*args: str) -> tuple[int, dict, str]:
    done = subprocess.run([sys.executable, "-m", "plugins.gate.cli", "--output", "json", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    return done.returncode, json.loads(done.stdout or "{}"), done.stderr


def comparable(findings: list[dict], namespace: str) -> set[tuple]:
    """What a finding says, without where it was read from."""
    return {(f["check"], f["severity"], f["object"], f["depends_on"]) for f in findings
            if f"/{namespace}/" in f["object"]}


@pytest.fixture(scope="module")
def corpus_namespace(cluster, kubectl):
    namespace = f"gate-corpus-{uuid.uuid4().hex[:6]}"      # not crigate-labelled: audited
    kubectl("create", "namespace", namespace)
    yield namespace
    kubectl("delete", "namespace", namespace, "--wait=false")


def test_cluster_and_manifests_give_identical_findings(cluster, kubectl, corpus_namespace, tmp_path):
    kubectl("apply", "-n", corpus_namespace, "-R", "-f", str(CORPUS), timeout=300)
    kubeconfig = str(cluster.provider.kubeconfig()[0])
    code, on_cluster, err = gate_json(f"--kubeconfig={kubeconfig}", f"--runtime={cluster.runtime}",
                                      f"--report-dir={tmp_path / 'cluster'}")
    assert code == 1 and on_cluster.get("verdict") == "NO-GO", err[-2000:]
    code, offline, err = gate_json("--manifests", str(CORPUS), f"--namespace={corpus_namespace}",
                                   f"--runtime={cluster.runtime}", f"--report-dir={tmp_path / 'files'}")
    assert code == 1 and offline.get("verdict") == "NO-GO", err[-2000:]
    live, files = comparable(on_cluster["findings"], corpus_namespace), comparable(offline["findings"],
                                                                                  corpus_namespace)
    assert live == files, (f"only on the cluster: {sorted(live - files)[:10]}\n"
                           f"only in the files: {sorted(files - live)[:10]}")
    expected = sum(len(c.expected) for c in cases())
    assert len(files) >= expected, (len(files), expected)
