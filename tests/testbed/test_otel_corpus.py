"""The gate against the real OpenTelemetry Collector: every collector
configuration in the corpus runs on a test-bed node (crigate's distribution,
clusters/programs/otelcol) over a logger's file, and the gate's verdict on the
file agrees with what the collector did.

    the collector returned every line intact  <=>  the gate has no finding on the file

"Intact": each line the logger wrote exported once, body and stream, the long
line (40000 bytes, in P chunks in the file: 16 KiB on containerd, 8 KiB on
CRI-O) whole. A gate finding of any
severity counts as "flagged": `otel-cri-partial-lines` is review, since long
lines arrive in pieces but short lines are fine.

Each configuration is run as written, except where the test must observe it
(plugins/otelcollector.py observed_config says what and why): include globs
narrowed to the logger's own file, start_at beginning, no storage extension,
processors dropped, the file exporter instead of the corpus' exporters.
The gate judges a move to a CRI runtime, so this runs where the node's pod
logs are CRI files (not on the Docker baseline)."""
from __future__ import annotations

import time

import pytest
from crigate import otelcollector
from crigate.kube import container_id
from crigate.suites.test_logs import EXPECTED_LINES, LONG_LINE, container_log_link, pod_log_path, stepped_logger
from crigate.testbed.images import OTELCOL_IMAGE

from tests.corpus.cases import cases
from tests.plugin.test_corpus import offline_findings

pytestmark = pytest.mark.testbed
OTEL_CASES = [c for c in cases() if otelcollector.configs_in(c.path.read_text())]
NOTHING_ARRIVES_S = 20     # a configuration that reads no file: how long it is given


@pytest.fixture(scope="module")
def logger_on_node(cluster, module_namespace):
    if cluster.profile.pod_logs_docker_json:
        pytest.skip("the gate judges a move to a CRI runtime; this node's pod logs are Docker "
                    "json-file (run with --runtime containerd or cri-o)")
    pod = stepped_logger(cluster, module_namespace, "logger", "steps", len(LONG_LINE))
    files = otelcollector.logger_log_files(pod_log_path(pod, "logger"), container_log_link(pod, "logger"),
                                           container_id(pod, "logger"))
    return pod.spec.node_name, files


@pytest.fixture(scope="module")
def wait_s(cluster, module_namespace, logger_on_node) -> float:
    """The harness proven first: crigate's CRI-ready configuration, observed the
    same way, returns every line intact (else no "not intact" below would mean
    anything). A configuration that reads nothing is given three times as long
    as this one took, at least NOTHING_ARRIVES_S."""
    node, files = logger_on_node
    observed = otelcollector.observed_config(
        otelcollector.collector_config({"filelog": otelcollector.CRI_READY_RECEIVER}), files)
    started = time.monotonic()
    records = otelcollector.collect(
        cluster.kube, cluster.host(node), module_namespace, "otelcol-harness", node, OTELCOL_IMAGE,
        observed.config, otelcollector.host_dirs(False),
        lambda r: otelcollector.logger_done(r, EXPECTED_LINES[-1][1]), timeout=120)
    took = time.monotonic() - started
    result = otelcollector.delivery(EXPECTED_LINES, records, LONG_LINE)
    assert result.every_line and result.long_line_whole, (
        f"node {node}: the harness itself: the CRI-ready configuration expected every line intact, "
        f"observed {result.summary()}")
    return max(NOTHING_ARRIVES_S, 3 * took)


@pytest.mark.parametrize("case", OTEL_CASES, ids=lambda c: c.id)
def test_gate_agrees_with_the_collector(cluster, module_namespace, logger_on_node, wait_s, case):
    node, files = logger_on_node
    flagged = sorted({f"{f['check']} ({f['severity']})" for f in offline_findings([case.path])})
    for i, found in enumerate(otelcollector.configs_in(case.path.read_text())):
        observed = otelcollector.observed_config(found.config, files)
        records = otelcollector.collect(
            cluster.kube, cluster.host(node), module_namespace, f"otelcol-{i}-{case.path.stem}"[:63].rstrip("-"),
            node, OTELCOL_IMAGE, observed.config, otelcollector.host_dirs(False),
            lambda r: otelcollector.logger_done(r, EXPECTED_LINES[-1][1]), timeout=wait_s)
        result = otelcollector.delivery(EXPECTED_LINES, records, LONG_LINE)
        intact = result.every_line and result.long_line_whole
        assert intact != bool(flagged), (
            f"{case.path.name} ({found.where}) on node {node}: the gate says "
            f"{', '.join(flagged) if flagged else 'nothing'}, the collector returned "
            f"{'every line intact' if intact else 'lines not intact'}: {result.summary()}; "
            f"rewritten to observe it: {'; '.join(observed.rewrites)}")
