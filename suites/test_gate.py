"""The upgrade gate: what breaks in this cluster when its nodes run a CRI
runtime instead of Docker. Read-only unless --node-checks.

    pytest --cluster=existing --kubeconfig PATH -m gate   (or: crigate-gate)

Each check fails on findings that break after the switch (NO-GO) and lists
those to review; an audit that could not read everything makes the run
exit 2 (could not decide) unless something already breaks.
"""
from __future__ import annotations

import pytest

from crigate.testbed.versions import profile
from crigate.pytest_plugin import MANIFEST_OBJECTS
from crigate.gate import ruleset
from crigate.gate.audit import Audit, breaking, finalize, run_audit
from crigate.gate.inventory import Unreachable
from crigate.gate.manifests import inventory_from
from crigate.report import FINDINGS_PROP, GATE_FACTS_PROP, UNDECIDED_PROP

pytestmark = pytest.mark.gate


def undecided(request, reason: str) -> None:
    request.node.user_properties.append((UNDECIDED_PROP, reason))
    pytest.fail(reason, pytrace=False)


@pytest.fixture(scope="session")
def audit(runtime, crigate_settings, pytestconfig, request):
    """What the gate reads: the cluster's objects or, with --manifests, the files'."""
    if crigate_settings.manifests:
        objects, skipped = pytestconfig.stash[MANIFEST_OBJECTS]
        inventory = inventory_from(objects, crigate_settings.manifests_namespace)
        if skipped:
            inventory.notes.append(f"{len(skipped)} YAML document(s) that are not Kubernetes objects "
                                   f"skipped: {', '.join(skipped[:5])}" + (" ..." if len(skipped) > 5 else ""))
        return Audit(inventory)
    cluster = request.getfixturevalue("cluster")
    hosts = ({n: cluster.host(n) for n in cluster.nodes} if crigate_settings.node_checks else None)
    try:
        return run_audit(cluster.kube.api_client, hosts)
    except Unreachable as err:
        undecided(request, f"[{cluster.runtime}] {err}")


@pytest.fixture(scope="session")
def target(runtime, crigate_settings, request) -> str:
    """The runtime the nodes move to: the one under test, or the baseline's
    migration target (containerd, what EKS 1.24 runs) on the Docker baseline."""
    if crigate_settings.manifests:
        return profile(runtime).migration_target
    return request.getfixturevalue("cluster").profile.migration_target


OWN_ERROR = "crigate's own error"      # the CLI's exit 3 when it is why the gate could not decide


@pytest.fixture
def report_findings(request, audit, target, crigate_settings):
    """report_findings(area): run the area's rules, record their findings
    (located, suppressions applied) and fail on those that break and are not
    suppressed. A rule that crashes decides nothing: could not decide, named
    as crigate's own error, never a silent GO."""
    def record(area: str) -> None:
        __tracebackhide__ = True
        try:
            findings = ruleset.findings_of(area, audit, target)
        except Exception as err:           # a bug of crigate's on input it did not expect
            undecided(request, f"{OWN_ERROR} in the {area} rules: {type(err).__name__}: {err} "
                      "(please report it)")
        findings = finalize(findings, audit.inventory, crigate_settings.suppressions)
        request.node.user_properties.append((FINDINGS_PROP, [f.as_dict() for f in findings]))
        broken = breaking(findings)
        assert not broken, (f"{len(broken)} finding(s) break after the switch:\n"
                            + "\n".join(f"- {f.line()}" for f in broken))
    return record


def test_audit_read_everything(audit, target, request):
    request.node.user_properties.append((GATE_FACTS_PROP, {
        "target_runtime": target,
        "notes": audit.inventory.notes, "node_facts": audit.node_facts,
        "nodes": audit.inventory.node_runtimes()}))
    if audit.inventory.denied:
        undecided(request, "the audit could not read everything; missing permission(s): "
                  + "; ".join(audit.inventory.denied)
                  + " (grant the crigate-gate ClusterRole: crigate-gate --print-rbac)")


def test_no_docker_socket_mounts(report_findings):
    report_findings("docker_socket_mounts")


def test_no_docker_data_mounts(report_findings):
    report_findings("docker_data_mounts")


def test_no_docker_env(report_findings):
    report_findings("docker_env")


def test_no_docker_cli_calls(report_findings):
    report_findings("docker_cli")


def test_log_shippers_read_cri_logs(report_findings):
    report_findings("log_shippers")


def test_node_agents_support_cri(report_findings):
    report_findings("node_agents")


def test_pods_made_from_configuration_need_no_docker(report_findings):
    """CI runners, workflow engines, node configurators and security profiles:
    couplings held in configuration, not in a pod that runs now."""
    report_findings("runtime_configured_pods")


def test_nodes_ready_to_switch(report_findings):
    report_findings("nodes")


def test_gpu_runtime_classes(report_findings):
    report_findings("gpu")


def test_node_docker_config(crigate_settings, report_findings):
    if not crigate_settings.node_checks:
        pytest.skip("node files not read: run with --node-checks (creates a short-lived "
                    "privileged debug pod per node)")
    report_findings("node_files")
