"""The upgrade gate: what breaks in this cluster when its nodes run a CRI
runtime instead of Docker. Read-only unless --node-checks.

    pytest --cluster=existing --kubeconfig PATH -m gate   (or: crigate-gate)

Each check fails on findings that break after the switch (NO-GO) and lists
those to review; an audit that could not read everything makes the run
exit 2 (could not decide) unless something already breaks.
"""
from __future__ import annotations

import pytest
from crigate.gate import engine
from crigate.gate.apiretry import Retrier
from crigate.gate.audit import manifests_audit, run_audit
from crigate.gate.inventory import Unreachable, reading_client
from crigate.gate.verdict import Verdict
from crigate.pytest_plugin import MANIFEST_OBJECTS
from crigate.records import GateVerdict
from crigate.testbed.versions import profile

pytestmark = [pytest.mark.gate, pytest.mark.usefixtures("record_verdict")]
RECORDED = pytest.StashKey[set]()      # runtimes whose Verdict went with a report


@pytest.fixture(scope="session")
def audit(runtime, crigate_settings, pytestconfig, request):
    """What the gate reads: the cluster's objects or, with --manifests, the files'."""
    if crigate_settings.manifests:
        objects, skipped = pytestconfig.stash[MANIFEST_OBJECTS]
        return manifests_audit(objects, skipped, crigate_settings.manifests_namespace)
    cluster = request.getfixturevalue("cluster")
    hosts = ({n: cluster.host(n) for n in cluster.nodes} if crigate_settings.node_checks else None)
    try:
        retrier = Retrier(crigate_settings.api_retry_budget, crigate_settings.api_timeout)
        kubeconfig, context = cluster.provider.kubeconfig()      # the CLI's client: retries its own
        return run_audit(reading_client(kubeconfig, context), hosts, retrier)
    except Unreachable as err:          # every check errors with it: could not decide
        pytest.fail(f"[{cluster.runtime}] {err}", pytrace=False)


@pytest.fixture(scope="session")
def target(runtime, crigate_settings, request) -> str:
    """The runtime the nodes move to: the one under test, or the baseline's
    migration target (containerd, what EKS 1.24 runs) on the Docker baseline."""
    if crigate_settings.manifests:
        return profile(runtime).migration_target
    return request.getfixturevalue("cluster").profile.migration_target


@pytest.fixture(scope="session")
def verdict(audit, target, crigate_settings) -> Verdict:
    """The engine's Verdict, the same crigate-gate prints; each check below
    shows one area of it."""
    audit.platform, audit.target_version = crigate_settings.platform, crigate_settings.target_version
    return engine.decide(audit, target, crigate_settings.suppressions)


@pytest.fixture
def record_verdict(request, verdict, runtime, record_measurement) -> None:
    """The Verdict goes to the reporter once per runtime, with the first gate check's report."""
    recorded = request.config.stash.setdefault(RECORDED, set())
    if runtime not in recorded:
        recorded.add(runtime)
        record_measurement(GateVerdict(verdict.as_dict()))


@pytest.fixture
def report_findings(verdict):
    """report_findings(area): fail on the area's findings that break and are
    not suppressed. A rule that crashed decides nothing: could not decide,
    named as crigate's own error, never a silent GO."""
    def check(area: str) -> None:
        __tracebackhide__ = True
        result = verdict.area(area)
        if result.crash:
            pytest.fail(result.crash.reason, pytrace=False)
        broken = result.breaking()
        assert not broken, (f"{len(broken)} finding(s) break after the switch:\n"
                            + "\n".join(f"- {f.line()}" for f in broken))
    return check


def test_audit_read_everything(verdict):
    if verdict.unread:
        pytest.fail("; ".join(verdict.unread), pytrace=False)


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
