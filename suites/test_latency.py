"""Pod start latency: N pods, one at a time after a discarded warm-up, image
present. Latency runs from the create call to the watch event that shows the
pod Ready, on the client's monotonic clock; never from second-precision API
timestamps. Passes when p99 <= --latency-slo (upstream SLO: 5 s).

Each pod's start is split into phases (plugins/phases.py) at the watch's
scheduled event and the runtime's own CRI timestamps. A burst then starts
--latency-burst pods at once while the node's cost (runtime daemons and
shims, kubelet: plugins/nodecost.py) is read from /proc; critest's
benchmark mode measures the runtime alone. Figures are recorded for the
report; the checks assert what must hold whatever the timing. How much is
measured: --measure (quick by default, full for the baseline) and the size
options, plugins/options.py."""
from __future__ import annotations

import json
import re
import time

import pytest
from crigate import critest, evented_pleg, nodecost, phases, stats, workloads
from crigate.expectations import CRUN_HANDLER
from crigate.kube import container_id, pod_reached
from crigate.oci import oci_runtime_of, read_runtime_class
from crigate.records import Burst, CriBench, EventedPleg, Latency, OciRuntimes
from crigate.testbed import gobuild
from kubernetes import watch

pytestmark = pytest.mark.latency

PACE_S = 1.0               # one create per second (TESTBED-NOTES)
SLI_METRIC = "kubelet_pod_start_sli_duration_seconds"


def timed_pod_start(kube, namespace: str, name: str, node_selector: dict,
                    timeout: float = 120, **spec) -> tuple[float, int, int]:
    """(seconds from create call to the Ready watch event, wall-clock ns at
    create, wall-clock ns of the watch event that first showed it scheduled)."""
    version = kube.core.list_namespaced_pod(namespace, limit=1).metadata.resource_version
    wall_ns = time.time_ns()
    started = time.monotonic()
    scheduled_ns = 0
    kube.create_pod(namespace, workloads.sleeper_pod(name, nodeSelector=node_selector, **spec))
    stream = watch.Watch()
    for event in stream.stream(kube.core.list_namespaced_pod, namespace, resource_version=version,
                               field_selector=f"metadata.name={name}", timeout_seconds=int(timeout)):
        seen_ns = wall_ns + int((time.monotonic() - started) * 1e9)
        if not scheduled_ns and event["object"].spec.node_name:
            scheduled_ns = seen_ns
        if pod_reached(event["object"], "Ready"):
            elapsed = time.monotonic() - started
            stream.stop()
            kube.remember_node(event["object"])
            return elapsed, wall_ns, scheduled_ns or seen_ns
    raise AssertionError(f"pod {namespace}/{name}: not Ready within {timeout}s; events: "
                         f"{kube.event_messages(namespace, name)}")


def _ns(value) -> int:
    return int(value) if str(value).isdigit() else _rfc3339_ns(str(value))


def runtime_container_ns(host, cid: str) -> tuple[int, int]:
    """(createdAt, startedAt) of a container as its runtime recorded them (crictl, ns)."""
    status = json.loads(host.run("crictl inspect %s", cid).stdout)["status"]
    return _ns(status["createdAt"]), _ns(status["startedAt"])


def runtime_sandbox_ns(host, pod) -> int:
    """When the runtime created the pod's sandbox (PodSandboxStatus.createdAt, ns)."""
    ids = host.run("crictl pods -q --name %s --namespace %s", pod.metadata.name,
                   pod.metadata.namespace).stdout.split()
    assert ids, f"pod {pod.metadata.namespace}/{pod.metadata.name}: crictl lists no sandbox"
    return _ns(json.loads(host.run("crictl inspectp %s", ids[0]).stdout)["status"]["createdAt"])


def _rfc3339_ns(text: str) -> int:
    from datetime import datetime
    base, _, frac = text.rstrip("Z").partition(".")
    frac, tz = re.match(r"(\d*)(.*)", frac).groups()
    seconds = datetime.fromisoformat(base + (tz or "+00:00")).timestamp()
    return int(seconds) * 10**9 + int((frac or "0").ljust(9, "0")[:9])


def node_clock_offset(host, tries: int = 5) -> tuple[int, int]:
    """(ns the node's clock is ahead of this machine's, +/- ns it is known to):
    the node's time read between two local readings, the tightest of a few
    (how NTP bounds an offset by the round trip). On a real cluster the two
    clocks differ by up to a few hundred ms; the test bed's share one kernel."""
    best = None
    for _ in range(tries):
        before = time.time_ns()
        answer = host.run("date +%s%N").stdout.strip()
        after = time.time_ns()
        assert answer.isdigit(), f"node clock: expected `date +%s%N` to print ns, observed {answer!r}"
        half = (after - before) // 2
        if best is None or half < best[1]:
            best = (int(answer) - (before + half), half)
    return best


def kubelet_sli(kube, node: str) -> dict | None:
    """Sum and count of the kubelet's pod start SLI histogram (1.26+), or None."""
    text = kube.node_proxy(node, "metrics")
    found = {}
    for kind in ("sum", "count"):
        m = re.search(rf"^{SLI_METRIC}_{kind}(?:{{[^}}]*}})? (\S+)$", text, re.M)
        if m:
            found[kind] = float(m.group(1))
    return found if len(found) == 2 else None


def check_p99_within_slo(runtime: str, samples: list[float], slo: float) -> stats.LatencySummary:
    __tracebackhide__ = True
    summary = stats.summarize(samples)
    assert summary.p99 <= slo, (
        f"runtime {runtime}: pod start latency p99 expected <= {slo}s, observed {summary.p99:.3f}s "
        f"(n={summary.n}, p50={summary.p50:.3f}s, max={summary.max:.3f}s)")
    return summary


def check_runtime_start_inside_window(runtime: str, windows: list[tuple[int, int, int]],
                                      offset_ns: int = 0, uncertainty_ns: int = 0) -> None:
    """The runtime's container start (node clock, less the node's measured offset)
    must fall between the create call and the Ready event (this machine's clock),
    give or take what the offset is known to."""
    __tracebackhide__ = True
    outside = [(i, (s - offset_ns - c) / 1e9, (r - c) / 1e9) for i, (c, s, r) in enumerate(windows)
               if not c - uncertainty_ns <= s - offset_ns <= r + uncertainty_ns]
    assert not outside, (f"runtime {runtime}: expected each container's startedAt between its "
                         f"create call and Ready event (node clock offset {offset_ns / 1e6:+.1f} ms "
                         f"+/- {uncertainty_ns / 1e6:.1f} ms), observed (pod, started s, ready s) "
                         f"{outside[:3]}")


def pin_to(kube, node: str) -> dict:
    return {"kubernetes.io/hostname": kube.core.read_node(node).metadata.labels.get(
        "kubernetes.io/hostname", node)}


def measured_pod(kube, namespace: str, host, name: str, pinned: dict, offset_ns: int,
                 **spec) -> tuple[float, tuple, dict]:
    """One pod started and deleted: (create->Ready seconds, its (create, runtime
    start, Ready) ns window, its phases)."""
    elapsed, created_ns, scheduled_ns = timed_pod_start(kube, namespace, name, pinned, **spec)
    ready_ns = created_ns + int(elapsed * 1e9)
    pod = kube.core.read_namespaced_pod(name, namespace)
    container_ns, started_ns = runtime_container_ns(host, container_id(pod, "c0"))
    pod_phases = phases.PodTimes.from_node(
        created_ns, scheduled_ns, ready_ns, sandbox=runtime_sandbox_ns(host, pod),
        container_created=container_ns, started=started_ns, offset_ns=offset_ns).phases()
    kube.core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    time.sleep(max(0.0, PACE_S - elapsed))
    return round(elapsed, 4), (created_ns, started_ns, ready_ns), pod_phases


def one_at_a_time(kube, namespace: str, host, node: str, n: int, offset_ns: int,
                  prefix: str = "latency") -> tuple[list[float], list[tuple], list[dict]]:
    """n pods started one after another on node, after a discarded warm-up:
    (create->Ready seconds, (create, runtime start, Ready) ns windows, phases)."""
    pinned = pin_to(kube, node)
    timed_pod_start(kube, namespace, f"{prefix}-warmup", pinned)         # discarded
    samples, windows, pod_phases = [], [], []
    for i in range(n):
        elapsed, window, found = measured_pod(kube, namespace, host, f"{prefix}-{i}", pinned, offset_ns)
        samples.append(elapsed)
        windows.append(window)
        pod_phases.append(found)
    return samples, windows, pod_phases


@pytest.fixture(autouse=True)
def quiet_node(cluster):
    """Measure on a node that is no longer removing other checks' pods (their
    namespaces are deleted without waiting)."""
    cluster.kube.settle()


def test_pod_start_latency_p99_within_slo(cluster, module_namespace, crigate_settings, record_measurement):
    kube = cluster.kube
    node = cluster.nodes[0]          # every pod on one node: its kubelet's SLI, its clock
    host = cluster.host(node)
    offset_ns, uncertainty_ns = node_clock_offset(host)
    sli_before = kubelet_sli(kube, node)
    samples, windows, pod_phases = one_at_a_time(kube, module_namespace, host, node,
                                                 crigate_settings.measurement.latency_pods, offset_ns)
    sli_after = kubelet_sli(kube, node)
    sli = None
    if sli_before and sli_after and sli_after["count"] > sli_before["count"]:
        sli = {"pods": sli_after["count"] - sli_before["count"],
               "mean_s": (sli_after["sum"] - sli_before["sum"]) / (sli_after["count"] - sli_before["count"])}
    record_measurement(Latency(
        samples=samples, kubelet_sli=sli,
        low_level_runtime=cluster.profile.low_level_runtime, runtime_profile=cluster.profile.id,
        node=node, node_clock_offset_ms=round(offset_ns / 1e6, 3),
        node_clock_uncertainty_ms=round(uncertainty_ns / 1e6, 3),
        runtime_start_after_create_s=[round((s - offset_ns - c) / 1e9, 4) for c, s, _ in windows],
        phases=pod_phases, phase_summary=phases.summarize(pod_phases)))
    check_runtime_start_inside_window(cluster.runtime, windows, offset_ns, uncertainty_ns)
    check_phases_in_order(cluster.runtime, pod_phases)
    check_p99_within_slo(cluster.runtime, samples, crigate_settings.latency_slo)


def check_phases_in_order(runtime: str, pods: list[dict[str, float]]) -> None:
    """The runtime created the sandbox before the container, and the container
    before starting it: its own clock, no cross-clock tolerance needed."""
    __tracebackhide__ = True
    bad = [(i, p) for i, p in enumerate(pods)
           if p["sandbox_to_container"] < 0 or p["container_to_run"] < 0]
    assert not bad, (f"runtime {runtime}: expected sandbox created <= container created <= started "
                     f"for every pod, observed (pod, phases) {bad[:2]}")


def burst_round(kube, namespace: str, node: str, count: int, profile, host,
                timeout: float = 300) -> dict:
    """Start count pods at once on node; each pod's create->Ready, the time until
    all were Ready, and what the runtime and the kubelet spent meanwhile."""
    names = [f"burst-{i}" for i in range(count)]
    hostname = pin_to(kube, node)
    version = kube.core.list_namespaced_pod(namespace, limit=1).metadata.resource_version
    before = nodecost.take(host, (*profile.cost_processes, *nodecost.KUBELET))
    started = time.monotonic()
    created = {}
    for name in names:
        kube.create_pod(namespace, workloads.sleeper_pod(name, nodeSelector=hostname))
        created[name] = time.monotonic()
    ready = {}
    stream = watch.Watch()
    for event in stream.stream(kube.core.list_namespaced_pod, namespace, resource_version=version,
                               timeout_seconds=int(timeout)):
        pod = event["object"]
        if pod.metadata.name in created and pod.metadata.name not in ready and pod_reached(pod, "Ready"):
            ready[pod.metadata.name] = time.monotonic()
            if len(ready) == count:
                stream.stop()
    all_ready_s = time.monotonic() - started
    after = nodecost.take(host, (*profile.cost_processes, *nodecost.KUBELET))
    missing = sorted(set(names) - set(ready))
    assert not missing, (f"node {node}: expected {count} pods started at once all Ready within "
                         f"{timeout}s, observed {len(missing)} not Ready: {missing[:5]}")
    return {"pods": count, "ready_s": [round(ready[n] - created[n], 4) for n in names],
            "all_ready_s": round(all_ready_s, 3),
            "runtime_cpu_s": nodecost.cpu_between(before, after, profile.cost_processes),
            "kubelet_cpu_s": nodecost.cpu_between(before, after, nodecost.KUBELET),
            "runtime_peak_mb": round(after.peak_mb(profile.cost_processes), 1),
            "kubelet_peak_mb": round(after.peak_mb(nodecost.KUBELET), 1)}


def steady_state(host, profile, window_s: float = 5.0) -> dict:
    """CPU (cores, averaged over one window) and memory (PSS, MB, at its end)
    of the runtime and the kubelet with the burst's pods running. One window:
    samples one second apart from the same processes are not independent."""
    names = (*profile.cost_processes, *nodecost.KUBELET)
    first, started = nodecost.take(host, names), time.monotonic()
    time.sleep(window_s)
    last, elapsed = nodecost.take(host, names), time.monotonic() - started
    return {"runtime_cpu_cores": [round(nodecost.cpu_between(first, last, profile.cost_processes) / elapsed, 4)],
            "kubelet_cpu_cores": [round(nodecost.cpu_between(first, last, nodecost.KUBELET) / elapsed, 4)],
            "runtime_rss_mb": [round(last.rss_mb(profile.cost_processes), 1)],
            "kubelet_rss_mb": [round(last.rss_mb(nodecost.KUBELET), 1)]}


def test_burst_of_pods_all_become_ready(cluster, crigate_settings, record_measurement):
    """--latency-burst pods at once, --latency-burst-rounds times; after each,
    the node at steady state with those pods running (one window per round:
    the rounds are the independent samples the ratios' intervals come from)."""
    node = cluster.nodes[0]
    host = cluster.host(node)
    profile = cluster.profile
    found = nodecost.take(host, (*profile.cost_processes, *nodecost.KUBELET))
    assert found.cpu_s(profile.cost_processes) > 0 and found.cpu_s(nodecost.KUBELET) > 0, (
        f"node {node}: expected processes {profile.cost_processes} and the kubelet in /proc, "
        f"observed {sorted({p.comm for p in found.processes.values()})}")
    rounds, steady, size = [], {}, crigate_settings.measurement
    for _ in range(size.latency_burst_rounds):
        with cluster.kube.namespace(prefix="crigate-burst") as namespace:
            rounds.append(burst_round(cluster.kube, namespace, node, size.latency_burst, profile, host))
            for key, values in steady_state(host, profile).items():     # one window per round
                steady.setdefault(key, []).extend(values)
    record_measurement(Burst(node=node, rounds=rounds, steady=steady,
                             cost_processes=list(profile.cost_processes)))


def test_runtime_alone_cri_benchmark(cluster, crigate_settings, record_measurement):
    """critest -benchmark: pod sandbox and container lifecycles straight on the
    CRI socket, without the kubelet (test bed only; the kubelet is stopped
    meanwhile and the node waited for until Ready again)."""
    lifecycles = crigate_settings.measurement.cri_bench
    if lifecycles == 0:
        pytest.skip("--cri-bench 0; give --cri-bench N (or --measure=full) to run critest's benchmark")
    if missing := cluster.capabilities.missing("may_restart_kubelet", "critest's benchmark stops the kubelet"):
        pytest.skip(f"{missing}; on your own node: critest -benchmark --runtime-endpoint SOCKET")
    node = cluster.nodes[0]
    results = critest.benchmark_on_node(node, gobuild.build_critest() / "critest",
                                        cluster.profile.cri_socket, lifecycles, kube=cluster.kube)
    record_measurement(CriBench(results))
    critest.check_benchmark(results, node, cluster.runtime, lifecycles)


def test_evented_pleg_start_latency(cluster, crigate_settings, record_measurement):
    """The same one-at-a-time pods with the kubelet's EventedPLEG gate on and
    the runtime sending CRI container events: how much of create->Ready is the
    kubelet's 1 s relist. Test bed only (reconfigures and restarts the kubelet,
    and the runtime where its events need a setting; restored after)."""
    if not crigate_settings.measurement.evented_pleg:
        pytest.skip(f"measured with --measure=full or --evented-pleg=on (this run: "
                    f"--measure={crigate_settings.measurement.size}); it restarts the kubelet twice")
    profile = cluster.profile
    if not profile.container_events:
        pytest.skip(f"{profile.id} sends no CRI container events; the kubelet would keep relisting")
    if missing := cluster.capabilities.missing("may_change_node_config", "EventedPLEG reconfigures "
                                               "and restarts the kubelet"):
        pytest.skip(f"{missing}; on your nodes: kubelet featureGates EventedPLEG=true "
                    "(kubernetes.io/docs/tasks/administer-cluster/switch-to-evented-pleg/)")
    node = cluster.nodes[0]
    host = cluster.host(node)
    with evented_pleg.enabled(host, profile, cluster.kube, node):
        evented_pleg.check_connected(cluster.kube, node)
        offset_ns, uncertainty_ns = node_clock_offset(host)
        with cluster.kube.namespace(prefix="crigate-evented") as namespace:
            samples, windows, pod_phases = one_at_a_time(cluster.kube, namespace, host, node,
                                                         crigate_settings.measurement.latency_pods, offset_ns,
                                                         prefix="evented")
    record_measurement(EventedPleg(samples=samples, phases=pod_phases,
                                   phase_summary=phases.summarize(pod_phases)))
    check_runtime_start_inside_window(cluster.runtime, windows, offset_ns, uncertainty_ns)
    check_phases_in_order(cluster.runtime, pod_phases)


def test_crun_against_runc(cluster, crigate_settings, record_measurement):
    """Pods one at a time, alternately with runc (no RuntimeClass) and crun
    (RuntimeClass crun), on one node, and critest's benchmark with each handler:
    the seeds' claim that crun starts containers about 48% faster, measured
    under each CRI runtime (the ratios are in the report, set beside the claim;
    no timing is asserted). Both handlers go through the test bed's oci-wrapper."""
    if not crigate_settings.measurement.oci_runtimes:
        pytest.skip(f"measured with --measure=full or --oci-runtimes=on (this run: "
                    f"--measure={crigate_settings.measurement.size})")
    if not cluster.profile.runtime_class_handlers:
        pytest.skip(f"{cluster.runtime} routes no pod by RuntimeClass handler (cri-dockerd refuses them)")
    if read_runtime_class(cluster.kube, CRUN_HANDLER) is None:
        pytest.skip(f"no RuntimeClass {CRUN_HANDLER}: this cluster publishes no crun handler (the test "
                    "bed's containerd and CRI-O nodes do)")
    kube, node = cluster.kube, cluster.nodes[0]
    host = cluster.host(node)
    offset_ns, uncertainty_ns = node_clock_offset(host)
    pinned = pin_to(kube, node)
    classes = {"runc": {}, CRUN_HANDLER: {"runtimeClassName": CRUN_HANDLER}}
    measured = {h: {"samples": [], "phases": [], "windows": []} for h in classes}
    with kube.namespace(prefix="crigate-oci") as namespace:
        for handler, spec in classes.items():          # a warm-up each, discarded
            timed_pod_start(kube, namespace, f"{handler}-warmup", pinned, **spec)
        for i in range(crigate_settings.measurement.latency_pods):
            for handler, spec in (classes.items() if i % 2 == 0 else reversed(classes.items())):
                elapsed, window, found = measured_pod(kube, namespace, host, f"{handler}-{i}", pinned,
                                                      offset_ns, **spec)
                measured[handler]["samples"].append(elapsed)
                measured[handler]["windows"].append(window)
                measured[handler]["phases"].append(found)
        if oci_runtime_of(host, container_id(kube.run_pod(namespace, workloads.sleeper_pod(
                "default-handler", nodeSelector=pinned)), "c0"))[0] == CRUN_HANDLER:
            pytest.skip(f"node {node}: the default runtime is crun too; nothing to compare")
    bench = {}
    if crigate_settings.measurement.cri_bench and not cluster.capabilities.missing("may_restart_kubelet", ""):
        for handler in classes:
            bench[handler] = critest.benchmark_on_node(
                node, gobuild.build_critest() / "critest", cluster.profile.cri_socket,
                crigate_settings.measurement.cri_bench, kube=kube,
                handler="" if handler == "runc" else handler)
    record_measurement(OciRuntimes(handlers={
        h: {"samples": m["samples"], "phases": m["phases"], "phase_summary": phases.summarize(m["phases"]),
            "cri_bench": bench.get(h, [])} for h, m in measured.items()}))
    for handler, m in measured.items():
        check_runtime_start_inside_window(f"{cluster.runtime} ({handler})", m["windows"], offset_ns, uncertainty_ns)
        check_phases_in_order(f"{cluster.runtime} ({handler})", m["phases"])
