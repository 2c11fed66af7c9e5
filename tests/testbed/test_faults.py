"""crigate-gate through API faults on a real test-bed API server (issue 21:
faults survived, and said). Each fault of tests/testbed/faults.py, on the
cluster clean (GO) and seeded with Docker couplings (NO-GO): the verdict is
the clean run's, with the same findings, or could not decide (exit 2) naming
what could not be read, as the case says; the notes name the faults that
were met and retried; nothing labelled as crigate's is left after any run.
The table and its figures: docs/faults.md (bench/faults.py)."""
from __future__ import annotations

import pytest
from crigate.testbed.images import BUSYBOX_IMAGE

from .faults import CASES, Bed, judged, run_case

pytestmark = pytest.mark.testbed


@pytest.fixture(scope="module")
def bed(cluster, kubectl, tmp_path_factory):
    if missing := cluster.capabilities.missing("builds_nodes", "Toxiproxy and the fault proxy stand "
                                               "in front of a test-bed API server on this machine"):
        pytest.skip(missing)
    made = Bed(kubectl, cluster.provider.kubeconfig()[0], cluster.runtime, tmp_path_factory.mktemp("faults"))
    yield made
    made.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("coupled", [False, True], ids=["GO", "NO-GO"])    # all GO first: one seeding
def test_a_fault_gives_the_clean_verdict_or_could_not_decide_naming_what(bed, case, coupled, tmp_path):
    bed.couple(coupled)
    clean = bed.clean()
    assert clean.verdict == ("NO-GO" if coupled else "GO"), (
        f"the bed without faults: expected {'NO-GO' if coupled else 'GO'}, observed {clean.verdict} "
        f"{clean.undecided}")
    outcome = run_case(case, bed.kubeconfig, bed.runtime, tmp_path, bed.sizes)
    wrong = judged(case, outcome, clean)
    assert not wrong, f"{case.id} ({case.fault}): " + "; ".join(wrong)
    assert not bed.leftovers(), f"left after {case.id}: {bed.leftovers()}"


def test_node_checks_under_latency_leave_no_debug_pod(bed, tmp_path):
    """Debug pods made, execed into and deleted through a slow API."""
    bed.couple(True)
    extra = ("--node-checks", f"--debug-image={BUSYBOX_IMAGE}")
    clean = bed.clean(*extra)
    latency = next(c for c in CASES if c.id == "latency")
    outcome = run_case(latency, bed.kubeconfig, bed.runtime, tmp_path, bed.sizes, *extra)
    assert not judged(latency, outcome, clean), judged(latency, outcome, clean)
    assert not bed.leftovers(), f"left after --node-checks under latency: {bed.leftovers()}"
