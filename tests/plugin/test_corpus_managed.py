"""The managed-cluster corpus offline: each object of a provider's own add-ons
(tests/corpus/managed/<set>/) gets, as its highest finding, exactly the
severity its header's outcome line names; none of the add-ons the sources show
to keep working blocks the switch. The gate runs as in test_corpus.py."""
from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import pytest
from crigate.gate.manifests import read_objects

from tests.corpus.cases import cases
from tests.corpus.managed import SEVERITIES, ManagedCase, managed_cases, managed_sets
from tests.plugin.test_corpus import NAMESPACE, assert_objects_run_nothing, offline_findings

MANAGED = managed_cases()
OBJECTS = [(case, outcome) for case in MANAGED for outcome in case.outcomes]
OBJECT_PARAMS = [pytest.param(case, outcome, id=f"{case.id}::{outcome.ref}") for case, outcome in OBJECTS]
# how many objects each set must hold at least (the brief: 12+ for EKS, a handful elsewhere)
MINIMUM_OBJECTS = {"eks-1.23": 12, "gke": 4, "aks": 4}
KINDS = ("Deployment", "DaemonSet", "StatefulSet", "CronJob", "Job", "ConfigMap")


# each set is judged as on its platform (crigate-gate --platform ...)
PLATFORM_OF_SET = {"eks-1.23": "eks", "gke": "gke", "aks": "aks"}


@functools.cache
def findings_of(path) -> tuple[dict, ...]:
    chosen = PLATFORM_OF_SET[Path(path).parent.name]
    return tuple(f for f in offline_findings([path], platform=chosen) if not f.get("suppressed"))


def is_on(finding: dict, kind: str, name: str) -> bool:
    """Is the finding about this object (itself, a container, a ConfigMap key)?"""
    ref = f"{kind}/{NAMESPACE}/{name}"
    return finding["object"] == ref or finding["object"].startswith((ref + "/", ref + "[", ref + " "))


def observed(case: ManagedCase, kind: str, name: str) -> tuple[str, list[str]]:
    """(highest severity crigate reports on the object, those findings)."""
    own = [f for f in findings_of(case.path) if is_on(f, kind, name)]
    worst = max((SEVERITIES.index(f["severity"]) for f in own), default=0)
    return SEVERITIES[worst], [f"{f['check']} {f['severity']} {f['object']}" for f in own]


def file_objects(case: ManagedCase) -> list[dict]:
    return [located.obj for located in read_objects([str(case.path)])]


def test_the_managed_sets_are_large_enough():
    per_set = Counter(case.set_name for case, _ in OBJECTS)
    assert set(MINIMUM_OBJECTS) <= set(managed_sets()), managed_sets()
    short = {s: per_set[s] for s, n in MINIMUM_OBJECTS.items() if per_set[s] < n}
    assert not short, f"objects per set {dict(per_set)}, expected at least {MINIMUM_OBJECTS}"


def test_the_coupled_and_clean_loader_skips_managed_files():
    assert not [c.path for c in cases() if "managed" in c.path.parts]


@pytest.mark.parametrize("case", MANAGED, ids=lambda c: c.id)
def test_header_is_complete(case):
    assert case.what, f"{case.path}: no `# crigate-corpus:` line"
    assert case.sources, f"{case.path}: no `# source:` line"
    assert all(s.startswith("http") or "/" in s.split()[0] for s in case.sources), \
        f"{case.path}: a source is neither a URL nor repo+path: {case.sources}"
    assert not case.malformed, f"{case.path}: outcome lines not `Kind/name breaks|review|none -- why`: " \
                               f"{case.malformed}"
    assert all(o.why for o in case.outcomes), f"{case.path}: an outcome line says no why"


@pytest.mark.parametrize("case", MANAGED, ids=lambda c: c.id)
def test_every_object_has_exactly_one_outcome_line(case):
    in_file = Counter(f"{o['kind']}/{o['metadata']['name']}" for o in file_objects(case))
    in_header = Counter(o.ref for o in case.outcomes)
    twice = sorted(r for r, n in (in_file + in_header).items() if in_file[r] > 1 or in_header[r] > 1)
    assert not twice, f"{case.path}: named more than once: {twice}"
    assert set(in_file) == set(in_header), (f"{case.path}: objects without an outcome line "
                                            f"{sorted(set(in_file) - set(in_header))}, outcome lines "
                                            f"without an object {sorted(set(in_header) - set(in_file))}")


@pytest.mark.parametrize("case", MANAGED, ids=lambda c: c.id)
def test_objects_apply_and_run_nothing(case):
    """As in test_corpus.py: no namespace, named after the file, nothing that
    starts a container on a test-bed node."""
    assert_objects_run_nothing(case.path, KINDS)


def test_names_are_unique_across_the_whole_corpus():
    """The test bed applies tests/corpus recursively into one namespace."""
    paths = [c.path for c in cases()] + [c.path for c in MANAGED]
    names = Counter((located.obj["kind"], located.obj["metadata"]["name"])
                    for located in read_objects([str(p) for p in paths]))
    assert not [n for n, count in names.items() if count > 1], sorted(n for n, c in names.items() if c > 1)


@pytest.mark.parametrize("case", MANAGED, ids=lambda c: c.id)
def test_every_finding_is_on_an_object_of_the_file(case):
    refs = [(o.kind, o.name) for o in case.outcomes]
    stray = [f"{f['check']} {f['object']}" for f in findings_of(case.path)
             if not any(is_on(f, kind, name) for kind, name in refs)]
    assert not stray, f"{case.path.name}: findings on no object of the file: {stray}"


@pytest.mark.parametrize(("case", "outcome"), OBJECT_PARAMS)
def test_object_gets_its_expected_severity(case, outcome):
    severity, found = observed(case, outcome.kind, outcome.name)
    assert severity == outcome.severity, (
        f"{case.path.name}: {outcome.ref} expected {outcome.severity} ({outcome.why}), "
        f"observed {severity}: {found or 'no finding'}")


@pytest.mark.parametrize("set_name", sorted(MINIMUM_OBJECTS))
def test_no_add_on_that_keeps_working_blocks(set_name):
    """Objects the sources show keep working (none) or need a look (review)
    are at most `review`: a provider's own add-ons do not make a NO-GO."""
    blocking = []
    for case, outcome in OBJECTS:
        if case.set_name == set_name and outcome.severity != "breaks":
            severity, found = observed(case, outcome.kind, outcome.name)
            if severity == "breaks":
                blocking.append(f"{case.path.name}: {outcome.ref} expected {outcome.severity}, "
                                f"observed breaks: {found}")
    assert not blocking, "\n".join(blocking)
