"""The corpus offline: every coupled shape gives exactly the findings its
header expects, every clean twin gives none; the same audit code the suite
runs on a cluster (tests/testbed/test_gate_corpus.py compares the two)."""
from __future__ import annotations

from pathlib import Path

import pytest
from crigate.gate import engine, outputs
from crigate.gate.audit import manifests_audit
from crigate.gate.manifests import read_objects

from tests.corpus.cases import NAMESPACE, cases

CASES = cases()
TARGET = "containerd"


def offline_findings(paths, namespace: str = NAMESPACE, platform: str = "auto") -> list[dict]:
    audit = manifests_audit(read_objects([str(p) for p in paths]), [], namespace)
    audit.platform = platform
    return [f.as_dict() for f in engine.decide(audit, TARGET).findings]     # what crigate-gate decides on


def test_the_corpus_is_large_enough():
    coupled = [c for c in CASES if c.coupled]
    clean = [c for c in CASES if not c.coupled]
    assert len(coupled) >= 40 and len(clean) >= 20, (len(coupled), len(clean))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_header_is_complete(case):
    assert case.what and case.family and case.sources, case.path
    assert case.family in outputs.families(), f"{case.path}: family {case.family!r} not in families/"
    if case.coupled:
        assert case.expected and not case.clean_declared, f"{case.path}: a coupled shape expects findings"
    else:      # a look-alike: nothing, or at most `review` (a person checks the remote end)
        assert case.clean_declared != bool(case.expected), f"{case.path}: `expect: none` or review lines"
        assert all(e.severity == "review" for e in case.expected), f"{case.path}: a clean twin never breaks"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_gives_exactly_the_expected_findings(case):
    found = offline_findings([case.path])
    missing = [e for e in case.expected if not any(e.matches(f, NAMESPACE) for f in found)]
    unexpected = [f"{f['check']} {f['severity']} {f['object']}" for f in found
                  if not any(e.matches(f, NAMESPACE) for e in case.expected)]
    assert not missing and not unexpected, (f"{case.path.name}: expected {case.expected}, "
                                            f"missing {missing}, unexpected {unexpected}")


RUNNING_NOTHING = {"Deployment": "replicas", "StatefulSet": "replicas", "CronJob": "suspend", "Job": "suspend"}
KINDS = ("Deployment", "DaemonSet", "StatefulSet", "CronJob", "Job", "ConfigMap", "PodTemplate")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_objects_apply_and_run_nothing(case):
    """The runner places objects (no namespace), names are unique (file stem
    first), and nothing they describe starts a container on a test-bed node."""
    assert case.path.stem.startswith(case.family), f"{case.path.name}: named <family-id>-<short>"
    assert_objects_run_nothing(case.path, KINDS)


def assert_objects_run_nothing(path: Path, kinds: tuple[str, ...]) -> None:
    """The runner places objects (no namespace), names start with the file's stem,
    and nothing they describe starts a container on a test-bed node."""
    for located in read_objects([str(path)]):
        obj = located.obj
        kind, meta, spec = obj["kind"], obj["metadata"], obj.get("spec", {})
        where = f"{path.name}: {kind}/{meta.get('name')}"
        assert "namespace" not in meta and meta["name"].startswith(path.stem), where
        assert kind in kinds, where
        if kind in RUNNING_NOTHING:
            assert spec.get(RUNNING_NOTHING[kind]) in (0, True), f"{where}: must run nothing"
        if kind in ("Deployment", "DaemonSet", "StatefulSet"):
            assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items(), where
        if kind == "DaemonSet":
            assert spec["template"]["spec"].get("nodeSelector") == {"crigate.test/no-such-node": "true"}, where


def test_every_finding_is_located_in_its_file():
    for case in CASES:
        for f in offline_findings([case.path]):
            assert f["location"].startswith(f"{case.path}:"), (case.path, f)


def test_every_family_has_what_breaks_fix_and_a_source():
    for check, family in outputs.families().items():
        assert family.get("what") and family.get("breaks") and family.get("fix"), check
        assert family.get("sources") and family.get("severity") in ("breaks", "review", "none"), check
        assert family.get("group"), check


def test_the_gate_docs_hold_the_family_table():
    readme = (Path(__file__).resolve().parents[2] / "docs" / "gate.md").read_text()
    assert outputs.families_markdown() in readme, "refresh it: crigate-gate --list-checks"
