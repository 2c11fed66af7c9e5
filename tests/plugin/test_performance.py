"""Performance evidence: phases, node cost, critest's benchmark files, the
ratios to the Docker baseline and --latency-max-ratio, on recorded data
(the /proc samples were taken on the test bed's nodes)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from crigate import critest, evented_pleg, nodecost, performance, perfrender, phases
from crigate.options import RatioLimit, _ratio_limits

DATA = Path(__file__).with_name("data")


def test_phases_split_the_start_at_each_clock():
    times = phases.PodTimes.from_node(
        created=1_000_000_000, scheduled=1_010_000_000, ready=1_900_000_000,
        sandbox=1_300_000_000 + 5_000_000, container_created=1_500_000_000 + 5_000_000,
        started=1_600_000_000 + 5_000_000, offset_ns=5_000_000)       # the node runs 5 ms ahead
    found = times.phases()
    assert found == {"create_to_schedule": 0.01, "schedule_to_sandbox": 0.29, "sandbox_to_container": 0.2,
                     "container_to_run": 0.1, "run_to_watch": 0.3, "schedule_to_run": 0.59,
                     "pod_startup": 0.9}
    chain = sum(found[p] for p, _, _ in phases.CHAIN)
    assert chain == pytest.approx(found["pod_startup"])
    summary = phases.summarize([found, {**found, "run_to_watch": 1.3}])
    assert summary["run_to_watch"]["n"] == 2 and summary["run_to_watch"]["p50"] == pytest.approx(0.8)


@pytest.mark.parametrize("recorded, names, daemons", [
    ("nodecost-containerd-2.4.2.txt", ("containerd", "containerd-shim"), {"containerd"}),
    ("nodecost-docker-20.10.txt", ("dockerd", "containerd", "containerd-shim", "cri-dockerd"),
     {"dockerd", "containerd", "cri-dockerd"}),
    ("nodecost-cri-o-1.37.1.txt", ("crio", "conmon"), {"crio"}),
])
def test_proc_samples_recorded_on_the_test_bed_parse(recorded, names, daemons):
    sample = nodecost.parse((DATA / recorded).read_text())
    comms = {p.comm for p in sample.processes.values()}
    assert daemons <= comms and "kubelet" in comms
    assert sample.cpu_s(names) > 0 and sample.rss_mb(names) > 10
    assert sample.peak_mb(nodecost.KUBELET) >= sample.rss_mb(nodecost.KUBELET)


def test_cpu_between_counts_new_processes_from_their_start():
    before = nodecost.parse("tck 100\ncontainerd 10 100 50 VmHWM: 1000 VmRSS: 900\n")
    after = nodecost.parse("tck 100\ncontainerd 10 150 60 VmHWM: 1200 VmRSS: 1000\n"
                           "containerd-shim 20 5 5 VmHWM: 100 VmRSS: 100\n"
                           "kubelet 30 500 500 VmHWM: 1 VmRSS: 1\n")
    assert nodecost.cpu_between(before, after, ("containerd", "containerd-shim")) == pytest.approx(0.7)
    assert nodecost.cpu_between(before, after, nodecost.KUBELET) == pytest.approx(10.0)


def test_critest_benchmark_file_parses():
    doc = {"operationsNames": ["CreatePod", "StatusPod", "StopPod", "RemovePod"], "numParallel": 1,
           "datapoints": [{"sampleIndex": i, "startTime": 0, "endTime": 0, "metaInfo": {},
                           "operationsDurationsNs": [120_000_000 + i, 1_000_000, 40_000_000, 9_000_000]}
                          for i in range(3)]}
    parsed = critest.parse_benchmark("pod_benchmark_data.json", json.dumps(doc))
    assert parsed["operations"]["CreatePod"] == [0.12, 0.12, 0.12]
    critest.check_benchmark([parsed], "node", "containerd", 3)
    with pytest.raises(AssertionError, match="expected 4 samples"):
        critest.check_benchmark([parsed], "node", "containerd", 4)
    assert "podsNumber: 5" in critest.benchmark_params(5)


def recorded_runs() -> tuple[dict, dict, dict]:
    """Two runtimes as the latency checks record them: containerd ~25% faster."""
    latency = {
        "docker": {"samples": [1.0, 1.1, 1.2, 1.0, 1.1, 0.9, 1.2, 1.0],
                   "phases": [{"run_to_watch": 0.6, "pod_startup": 1.0}] * 8},
        "containerd": {"samples": [0.75, 0.8, 0.85, 0.75, 0.8, 0.7, 0.85, 0.8],
                       "phases": [{"run_to_watch": 0.55, "pod_startup": 0.8}] * 8},
    }
    bursts = {r: {"rounds": [{"pods": 3, "ready_s": [f, f * 1.1, f * 1.2], "all_ready_s": f * 3,
                              "runtime_cpu_s": cpu, "kubelet_cpu_s": 2.0, "runtime_peak_mb": 100.0,
                              "kubelet_peak_mb": 90.0}] * 2,
                  "steady": {"runtime_cpu_cores": [cpu / 10] * 5, "runtime_rss_mb": [mb] * 5}}
              for r, f, cpu, mb in (("docker", 1.0, 3.0, 200.0), ("containerd", 0.8, 1.0, 120.0))}
    benches = {"containerd": [{"file": "pod_benchmark_data.json", "operations": {"CreatePod": [0.1, 0.12]}}]}
    return latency, bursts, benches


def test_ratios_to_the_baseline_sit_beside_the_published_claims():
    doc = performance.document(*recorded_runs())
    ratios = {r["metric"]: r for r in doc["ratios_to_baseline"]}
    startup = ratios["pod_startup"]
    assert startup["a"] == "containerd" and startup["b"] == "docker"
    assert 0.7 < startup["median_ratio"] < 0.8 and startup["significant"]
    assert startup["claim"] == 0.8 and "seeds" in startup["claim_source"]
    assert ratios["burst_runtime_cpu_s"]["median_ratio"] == pytest.approx(1 / 3, abs=1e-3)
    assert "68.13" in ratios["burst_runtime_cpu_s"]["claim_source"]
    assert doc["runtimes"]["containerd"]["burst"]["rounds"] == 2
    assert doc["runtimes"]["containerd"]["cri_bench"]["CreatePod"]["n"] == 2


def test_max_ratio_fails_only_beyond_the_interval():
    latency, bursts, benches = recorded_runs()
    slow = performance.document(latency, bursts, benches,
                                [RatioLimit("docker", "containerd", "pod_startup", 1.1)])
    assert slow["limits"][0]["exceeded"] is True            # docker ~1.33x containerd
    loose = performance.document(latency, bursts, benches,
                                 [RatioLimit("docker", "containerd", "pod_startup", 1.5)])
    assert loose["limits"][0]["exceeded"] is False
    missing = performance.document(latency, bursts, benches,
                                   [RatioLimit("cri-o", "containerd", "pod_startup", 1.2)])
    assert missing["limits"][0]["exceeded"] is None and "no pod_startup samples" in missing["limits"][0]["reason"]


def test_max_ratio_specs():
    (limit,) = _ratio_limits(["cri-o/containerd:run_to_watch=1.5"])
    assert (limit.a, limit.b, limit.phase, limit.limit) == ("cri-o", "containerd", "run_to_watch", 1.5)
    assert _ratio_limits(["containerd/docker=1.2"])[0].phase == "pod_startup"
    for bad in ("containerd=1.2", "rkt/docker=1", "containerd/docker:nap=1"):
        with pytest.raises(pytest.UsageError):
            _ratio_limits([bad])


def test_report_section_draws_an_ecdf_per_runtime_and_phase_bars():
    latency, bursts, benches = recorded_runs()
    for r in latency.values():
        r["phase_summary"] = phases.summarize(r["phases"])
    page = perfrender.performance_html(performance.document(latency, bursts, benches))
    assert page.count('class="ecdf-line"') == 4                  # one-at-a-time and burst, 2 runtimes
    assert 'data-phase="run_to_watch"' in page
    lines = [line for line, _ in perfrender.performance_lines(performance.document(latency, bursts, benches))]
    assert any(line.startswith("ratio containerd/docker pod create to Ready") for line in lines)


def test_evented_pleg_connection_is_read_from_the_kubelets_metrics():
    text = ("# TYPE kubelet_evented_pleg_connection_success_count counter\n"
            "kubelet_evented_pleg_connection_success_count 2\n"
            "kubelet_evented_pleg_connection_error_count 0\n")
    assert evented_pleg.connections(text) == 2
    assert evented_pleg.connections("kubelet_evented_pleg_connection_success_count_total 1\n") == 1
    assert evented_pleg.connections("kubelet_pleg_relist_duration_seconds_count 40\n") == 0


def test_evented_pleg_effect_is_the_ratio_to_relisting():
    latency, bursts, benches = recorded_runs()
    evented = {"containerd": {"samples": [0.3, 0.32, 0.31, 0.29],
                              "phases": [{"run_to_watch": 0.05, "pod_startup": 0.3}] * 4,
                              "phase_summary": {}}}
    doc = performance.document(latency, bursts, benches, evented=evented)
    effect = {e["metric"]: e for e in doc["evented_pleg"]}
    assert effect["pod_startup"]["evented_p50"] < effect["pod_startup"]["relist_p50"]
    assert effect["run_to_watch"]["median_ratio"] == pytest.approx(0.05 / 0.55, abs=1e-3)
    assert doc["runtimes"]["containerd"]["evented_pleg"]["pod_startup"]["n"] == 4


def test_only_runtimes_that_send_events_get_the_gate():
    from crigate.testbed.runtimes import PROFILES
    sending = {p.id for p in PROFILES.values() if p.container_events}
    assert sending == {"containerd-2", "cri-o"}        # containerd 1.6 and cri-dockerd send none
    path, text = PROFILES["cri-o"].container_events_dropin
    assert path.startswith("/etc/crio/crio.conf.d/") and "enable_pod_events = true" in text


@pytest.mark.parametrize("recorded, operations", [
    ("critest-bench-containerd-2.4.2-pod_benchmark_data.json", ["CreatePod", "StatusPod", "StopPod", "RemovePod"]),
    ("critest-bench-containerd-2.4.2-container_benchmark_data.json",
     ["CreateContainer", "StartContainer", "StatusContainer", "StopContainer", "RemoveContainer"]),
])
def test_critest_benchmark_files_recorded_on_the_test_bed_parse(recorded, operations):
    """Files critest 1.37 -benchmark wrote on a containerd 2.4.2 test-bed node (--cri-bench 5)."""
    parsed = critest.parse_benchmark(recorded, (DATA / recorded).read_text())
    assert list(parsed["operations"]) == operations
    assert all(len(v) == 5 and all(0 < s < 5 for s in v) for v in parsed["operations"].values())
    critest.check_benchmark([parsed], "node", "containerd", 5)


def test_phase_order_check_fails_when_the_runtime_started_before_it_created():
    from suites.test_latency import check_phases_in_order
    good = {"sandbox_to_container": 0.1, "container_to_run": 0.05}
    check_phases_in_order("containerd", [good])
    with pytest.raises(AssertionError, match="runtime containerd: expected sandbox created <= container"):
        check_phases_in_order("containerd", [good, {**good, "container_to_run": -0.02}])


def test_crun_over_runc_under_each_runtime_beside_the_claims():
    runc = {"samples": [1.0, 1.1, 0.9, 1.0, 1.05], "cri_bench": []}
    crun = {"samples": [0.8, 0.85, 0.75, 0.8, 0.82], "cri_bench": []}
    doc = performance.document({}, {}, {}, oci={"cri-o": {"handlers": {"runc": runc, "crun": crun}}})
    [startup] = [r for r in doc["oci_runtimes"] if r["metric"] == "pod_startup"]
    assert (startup["a"], startup["b"]) == ("cri-o crun", "cri-o runc")
    assert startup["median_ratio"] == 0.8 and startup["ci"] and startup["ci"][1] < 1
    assert {c["ratio"] for c in startup["claims"]} == {0.52, 0.506}
    assert any("crun/runc pod create to Ready" in line for line, _ in perfrender.performance_lines(doc))
    table = perfrender.performance_markdown(doc)
    assert any(line.startswith("| cri-o | pod create to Ready, one at a time |") for line in table)
