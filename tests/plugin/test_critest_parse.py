"""critest's JUnit report, as recorded from a real run on a CRI-O test-bed node
(focus "port mapping": one spec passed, one failed, the rest skipped)."""
from __future__ import annotations

from pathlib import Path

import pytest
from crigate import critest

RECORDED = Path(__file__).with_name("data") / "critest-junit-cri-o-port-mapping.xml"


@pytest.fixture(scope="module")
def specs():
    return critest.parse_junit(RECORDED.read_text())


def test_groups_and_outcomes(specs):
    ran = [(s.group, s.outcome) for s in specs if s.outcome != "skipped"]
    assert sorted(ran) == [("Networking", "failed"), ("Networking", "passed")]
    assert {s.group for s in specs} >= {"Container", "PodSandbox", "Image Manager", "Networking"}


def test_failed_group_names_node_spec_and_observed(specs):
    with pytest.raises(AssertionError) as caught:
        critest.check_group(specs, "Networking", "node-1", "cri-o")
    message = str(caught.value)
    assert "node node-1 (cri-o): 1 of 2 critest specs of 'Networking' failed" in message
    assert "host port and container port" in message and "127.0.0.1:12000" in message


def test_a_group_that_ran_nothing_is_not_a_pass(specs):
    with pytest.raises(AssertionError, match="ran no spec of group 'Streaming'"):
        critest.check_group(specs, "Streaming", "node-1", "cri-o")


def test_group_of():
    assert critest.group_of("[It] [k8s.io] Container runtime should support basic operations") == "Container"
    assert critest.group_of("[It] [k8s.io] Multiple Containers [Conformance] when ...") == "Multiple Containers"
    assert critest.group_of("[It] [k8s.io] Security Context NamespaceOption") == "other"
