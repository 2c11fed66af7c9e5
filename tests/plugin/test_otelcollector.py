"""crigate's OpenTelemetry Collector, offline: its pins, the configurations
found in manifests, how one is rewritten to be observed, and how what it
exported is compared with what the logger wrote (recorded data; the collector
itself runs in suites/test_logs.py and tests/testbed/test_otel_corpus.py)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from crigate import otelcollector as oc
from crigate.suites.test_logs import EXPECTED_LINES, LONG_LINE, check_collector_returns_every_line
from crigate.testbed.versions import tool_version

from tests.corpus.cases import cases

GO_MOD = Path(__file__).resolve().parents[2] / "clusters/programs/otelcol/go.mod"
FILES = oc.logger_log_files("/var/log/pods/ns_logger_u1/logger/0.log",
                            "/var/log/containers/logger_ns_logger-abc.log", "abc")


def test_go_mod_requires_the_pinned_collector_versions():
    direct = dict(re.findall(r"^\s+(\S+) (v\S+)$", GO_MOD.read_text(), re.M))
    wanted = {"go.opentelemetry.io/collector/otelcol": tool_version("otelcol"),
              "go.opentelemetry.io/collector/component": tool_version("otelcol_stable"),
              "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver":
                  tool_version("otelcol_contrib"),
              "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter":
                  tool_version("otelcol_contrib")}
    assert {m: direct.get(m) for m in wanted} == wanted
    assert re.search(r"^go 1\.26\b", GO_MOD.read_text(), re.M), "the machine's Go is 1.26"


CONFIG = {"receivers": {"filelog": {"include": ["/var/log/pods/*/*/*.log"]}},
          "exporters": {"debug": {}}, "service": {"pipelines": {"logs": {"receivers": ["filelog"],
                                                                          "exporters": ["debug"]}}}}


def test_configs_are_found_in_configmaps_operator_resources_and_helm_values():
    as_text = json.dumps(CONFIG)
    manifests = "\n---\n".join([
        json.dumps({"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"relay.yaml": as_text}}),
        json.dumps({"kind": "OpenTelemetryCollector", "metadata": {"name": "cr"}, "spec": {"config": CONFIG}}),
        json.dumps({"kind": "OpenTelemetryCollector", "metadata": {"name": "cr2"}, "spec": {"config": as_text}}),
        json.dumps({"mode": "daemonset", "config": CONFIG}),      # Helm values
        json.dumps({"kind": "ConfigMap", "metadata": {"name": "other"}, "data": {"x": "receivers: {otlp: {}}"}}),
    ])
    found = oc.configs_in(manifests)
    assert [f.where for f in found] == ["ConfigMap/cm.data.relay.yaml", "OpenTelemetryCollector/cr.spec.config",
                                        "OpenTelemetryCollector/cr2.spec.config", "?/?.config"]
    assert all(f.config == CONFIG for f in found)


def test_observed_config_narrows_includes_to_the_logger_and_swaps_the_exporter():
    config = {"receivers": {
        "filelog/pods": {"include": ["/var/log/pods/*/*/*.log", "/var/log/containers/*.log",
                                     "/var/lib/docker/containers/*/*-json.log", "/var/log/app/*.log"],
                         "storage": "file_storage", "operators": [{"type": "container"}]},
        "otlp": {}},
        "processors": {"batch": {}}, "exporters": {"otlphttp": {}},
        "service": {"pipelines": {"logs": {"receivers": ["filelog/pods", "otlp"], "processors": ["batch"],
                                           "exporters": ["otlphttp"]}}}}
    observed = oc.observed_config(config, FILES)
    receiver = observed.config["receivers"]["filelog/pods"]
    assert receiver["include"] == [FILES["/var/log/pods"], FILES["/var/log/containers"],
                                   FILES["/var/lib/docker/containers"], "/var/log/app/*.log"]
    assert receiver["start_at"] == "beginning" and "storage" not in receiver
    assert receiver["operators"] == [{"type": "container"}], "operators are never rewritten"
    assert list(observed.config["receivers"]) == ["filelog/pods"]
    assert observed.config["service"]["pipelines"]["logs"] == {"receivers": ["filelog/pods"],
                                                               "exporters": [oc.FILE_EXPORTER]}
    assert "processors" not in observed.config
    assert any("otlp dropped" in r for r in observed.rewrites), observed.rewrites


def otlp_line(*records: tuple[str, dict]) -> str:
    logs = [{"body": {"stringValue": body},
             "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()]}
            for body, attrs in records]
    return json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": logs}]}]})


def cri_ready_export() -> str:
    return "".join(otlp_line((text + "\n" * (i == 0), {"log.iostream": stream})) + "\n"
                   for i, (stream, text) in enumerate(EXPECTED_LINES))


def test_every_line_intact_passes():
    records = oc.exported_records(cri_ready_export())
    result = oc.delivery(EXPECTED_LINES, records, LONG_LINE)
    assert result.every_line and result.long_line_whole and result.intact == len(EXPECTED_LINES)
    check_collector_returns_every_line("n1", "cri-ready", result)


def test_raw_cri_lines_fail_with_counts():
    """What the Docker-era configuration exports on a CRI node: the file's lines unparsed."""
    raw = [f"2026-01-01T00:00:00.0Z {stream} F {text}" for stream, text in EXPECTED_LINES]
    records = oc.exported_records("".join(otlp_line((line, {})) + "\n" for line in raw))
    result = oc.delivery(EXPECTED_LINES, records, LONG_LINE)
    assert result.intact == 0 and len(result.missing) == 5
    with pytest.raises(AssertionError, match=r"5 records exported for 5 lines written, 0 intact"):
        check_collector_returns_every_line("n1", "docker-era", result)


def test_a_long_line_in_chunks_fails():
    chunks = [LONG_LINE[:16384], LONG_LINE[16384:32768], LONG_LINE[32768:]]
    lines = [line for line in EXPECTED_LINES if line[1] != LONG_LINE] + [("stdout", c) for c in chunks]
    records = oc.exported_records("".join(otlp_line((t, {"stream": s})) + "\n" for s, t in lines))
    result = oc.delivery(EXPECTED_LINES, records, LONG_LINE)
    assert result.intact == 4 and not result.long_line_whole
    with pytest.raises(AssertionError, match=r"long line whole: no"):
        check_collector_returns_every_line("n1", "router", result)


def test_the_pod_mounts_node_dirs_read_only_and_writes_to_its_empty_dir():
    pod = oc.pod_manifest("c", "crigate.local/otelcol:1", "n1", oc.collector_config({}),
                          oc.host_dirs(docker_json_logs=True))
    mounts = pod["spec"]["containers"][0]["volumeMounts"]
    assert [(m["mountPath"], m.get("readOnly", False)) for m in mounts] == [
        ("/var/log", True), ("/var/lib/docker/containers", True), (oc.OUT_DIR, False)]
    assert pod["spec"]["nodeName"] == "n1"
    assert oc.host_dirs(docker_json_logs=False) == ["/var/log"]


def test_the_corpus_covers_the_filelog_shapes_people_use():
    """json_parser, regex routes (with and without recombine), the container
    operator (auto, docker, containerd, crio), on /var/log/pods,
    /var/log/containers and /var/lib/docker/containers."""
    texts = [c.path.read_text() for c in cases() if oc.configs_in(c.path.read_text())]

    def some(*needles, without: str = ""):
        return any(all(n in t for n in needles) and not (without and without in t) for t in texts)
    shapes = {
        "json_parser on /var/log/pods": some("type: json_parser", "/var/log/pods/"),
        "json_parser on /var/log/containers": some("type: json_parser", "/var/log/containers/"),
        "json_parser on /var/lib/docker/containers": some("type: json_parser", "/var/lib/docker/containers/"),
        "router, CRI regex, no recombine": some("type: router", "stdout|stderr", without="type: recombine"),
        "router, CRI regex and recombine": some("type: router", "stdout|stderr", "type: recombine"),
        **{f"container, format {f}": some("type: container", f"format: {f}")
           for f in ("docker", "containerd", "crio")},
        "container, format detected": some("type: container", without="format:"),
        "container on /var/log/containers": some("type: container", "/var/log/containers/"),
    }
    assert all(shapes.values()), f"shapes without a corpus file: {[s for s, ok in shapes.items() if not ok]}"


@pytest.mark.parametrize("pattern, selected", [
    ("/var/log/pods/*/*/*.log", True),
    ("/var/log/pods/*.log", False),                 # one level: reads nothing in /var/log/pods
    ("/var/log/pods/**/*.log", True),
    ("/var/log/pods/ns_pod_uid/*/*.log", False),
    ("/var/log/pods/*/logger/0.lo?", True),
])
def test_an_include_glob_matches_one_segment_per_star(pattern, selected):
    from crigate.otelcollector import glob_selects
    assert glob_selects(pattern, "/var/log/pods/ns_logger_1234/logger/0.log") is selected


def test_a_line_the_exporter_is_still_writing_is_left_for_later():
    whole = cri_ready_export()
    assert len(oc.exported_records(whole + whole[:40])) == len(oc.exported_records(whole))
