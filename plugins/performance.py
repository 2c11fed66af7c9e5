"""The performance section of a report: per runtime, where pod start time
goes (phases), what a burst costs (latency, node CPU and memory), what the
runtime alone does (critest's benchmark); ratios of each runtime to the
Docker baseline with bootstrap intervals, set beside published claims; and
the --latency-max-ratio limits evaluated on them.

Built from what the latency checks recorded, on the controller, so every
runtime's figures meet in one place however xdist spread the runs.
"""
from __future__ import annotations

import statistics

from . import phases, stats

# Published claims the measured ratios are set beside (containerd / Docker).
# Kubernetes blog, 2018-05-24, "Kubernetes Containerd Integration Goes GA":
# 105-pod batch, containerd 1.1 vs Docker 18.03: kubelet CPU -30.89%,
# containerd CPU -68.13%, kubelet RSS -11.30%, containerd RSS -12.78%.
# The seeds (Korean blog posts, ../shared/seeds): pod start ~20% faster.
CLAIMS = {
    "pod_startup": (0.80, "seeds: containerd starts pods ~20% faster than dockershim"),
    "burst_runtime_cpu_s": (1 - 0.6813, "2018 blog: containerd CPU -68.13% (105-pod batch)"),
    "burst_kubelet_cpu_s": (1 - 0.3089, "2018 blog: kubelet CPU -30.89%"),
    "steady_runtime_rss_mb": (1 - 0.1278, "2018 blog: containerd RSS -12.78%"),
    "steady_kubelet_rss_mb": (1 - 0.1130, "2018 blog: kubelet RSS -11.30%"),
}
# What the crun/runc ratios are set beside. "about 48% faster": the seeds (Korean
# blog posts, ../shared/seeds); crun's own README (containers/crun, "Performance"):
# 100 sequential `/bin/true` containers under podman, crun 1.69 s vs runc 3.34 s
# (-49.4%), the OCI runtime alone, no kubelet, no CRI.
OCI_CLAIMS = [(0.52, "seeds: crun starts containers about 48% faster than runc"),
              (0.506, "crun README: 100 sequential /bin/true containers, crun 1.69 s vs runc 3.34 s")]
OCI_COMPARED = ("pod_startup", "schedule_to_sandbox", "sandbox_to_container", "container_to_run", "schedule_to_run")
LABELS = {
    "pod_startup": "pod create to Ready, one at a time",
    **{p: f"phase {p}" for p in phases.PHASES if p != "pod_startup"},
    "burst_ready_s": "burst: each pod's create to Ready",
    "burst_all_ready_s": "burst: until every pod is Ready",
    "burst_runtime_cpu_s": "burst: runtime CPU seconds (daemons + shims)",
    "burst_kubelet_cpu_s": "burst: kubelet CPU seconds",
    "steady_runtime_cpu_cores": "steady state: runtime CPU (cores)",
    "steady_kubelet_cpu_cores": "steady state: kubelet CPU (cores)",
    "steady_runtime_rss_mb": "steady state: runtime RSS (MB)",
    "steady_kubelet_rss_mb": "steady state: kubelet RSS (MB)",
}


pct = stats.percentiles
# An interval from fewer independent samples than this says nothing: the
# ratio is given without one (bursts are rounds; steady state is one window).
MIN_SAMPLES_FOR_CI = 5


def samples_of(latency: dict, burst: dict, bench: list) -> dict[str, list[float]]:
    """metric -> the samples a ratio is bootstrapped from."""
    found: dict[str, list[float]] = {}
    if latency.get("samples"):
        found["pod_startup"] = list(latency["samples"])
    for phase in phases.PHASES:
        values = [p[phase] for p in latency.get("phases") or [] if phase in p]
        if values and phase != "pod_startup":
            found[phase] = values
    rounds = (burst or {}).get("rounds") or []
    if rounds:
        found["burst_ready_s"] = [s for r in rounds for s in r["ready_s"]]
        for key in ("all_ready_s", "runtime_cpu_s", "kubelet_cpu_s"):
            found[f"burst_{key}"] = [r[key] for r in rounds]
    for key, values in ((burst or {}).get("steady") or {}).items():
        found[f"steady_{key}"] = list(values)
    for result in bench or []:
        for op, values in result["operations"].items():
            if values:
                found[f"cri_{op}"] = values
    return found


def runtime_section(latency: dict, burst: dict, bench: list) -> dict:
    section = {"phases": latency.get("phase_summary") or {}}
    rounds = (burst or {}).get("rounds") or []
    if rounds:
        section["burst"] = {
            "pods": rounds[0]["pods"], "rounds": len(rounds),
            "ready_s": pct([s for r in rounds for s in r["ready_s"]]),
            "all_ready_s": [r["all_ready_s"] for r in rounds],
            "runtime_cpu_s": [r["runtime_cpu_s"] for r in rounds],
            "kubelet_cpu_s": [r["kubelet_cpu_s"] for r in rounds],
            "runtime_peak_mb": max(r["runtime_peak_mb"] for r in rounds),
            "kubelet_peak_mb": max(r["kubelet_peak_mb"] for r in rounds),
            "cost_processes": burst.get("cost_processes", []),
        }
        steady = burst.get("steady") or {}
        section["steady"] = {k: round(statistics.median(v), 4) for k, v in steady.items() if v}
    if bench:
        section["cri_bench"] = {op: pct(v) for r in bench for op, v in r["operations"].items()}
    return section


def ratio(metric: str, a: str, b: str, xs: list[float], ys: list[float]) -> dict | None:
    """median(xs)/median(ys) with a bootstrap interval when both sides have
    enough independent samples; None where a ratio means nothing (no samples,
    a zero or negative one: phases where two clocks meet, idle CPU)."""
    if not xs or not ys or min(xs) <= 0 or min(ys) <= 0:
        return None
    found = {"a": a, "b": b, "metric": metric, "label": LABELS.get(metric, metric.replace("_", " ")),
             "median_ratio": round(statistics.median(xs) / statistics.median(ys), 4),
             "ci": None, "significant": None, "n": [len(xs), len(ys)]}
    if min(len(xs), len(ys)) >= MIN_SAMPLES_FOR_CI:
        r = stats.median_ratio(xs, ys)
        found.update(ci=[round(r.ci[0], 4), round(r.ci[1], 4)], significant=r.significant)
    claim = CLAIMS.get(metric)
    if claim and b == "docker" and a.split()[0] == "containerd":     # the claims are containerd's
        found.update(claim=claim[0], claim_source=claim[1])
    return found


EVENTED_COMPARED = ("pod_startup", "run_to_watch", "schedule_to_run")


def evented_effect(runtime: str, generic: dict, evented: dict) -> list[dict]:
    """The same pods with EventedPLEG on over relisting: the relist's share."""
    found = []
    with_events, relisting = samples_of(evented, {}, []), samples_of(generic, {}, [])
    for metric in EVENTED_COMPARED:
        xs, ys = with_events.get(metric, []), relisting.get(metric, [])
        r = ratio(metric, runtime, runtime, xs, ys)
        if r:
            found.append({**r, "a": f"{runtime} EventedPLEG", "b": f"{runtime} relist",
                          "evented_p50": round(stats.percentile(xs, 50), 4),
                          "relist_p50": round(stats.percentile(ys, 50), 4)})
    return found


def oci_effect(runtime: str, handlers: dict) -> list[dict]:
    """crun over runc under one CRI runtime: pod start and its phases, and the
    runtime alone (critest's benchmark with each handler)."""
    crun, runc = handlers.get("crun") or {}, handlers.get("runc") or {}
    xs_all = samples_of(crun, {}, crun.get("cri_bench") or [])
    ys_all = samples_of(runc, {}, runc.get("cri_bench") or [])
    found = []
    for metric in sorted(set(xs_all) & set(ys_all), key=lambda m: (m not in OCI_COMPARED, m)):
        if metric not in OCI_COMPARED and not metric.startswith("cri_"):
            continue
        r = ratio(metric, runtime, runtime, xs_all[metric], ys_all[metric])
        if r:
            found.append({**r, "a": f"{runtime} crun", "b": f"{runtime} runc",
                          "crun_p50": round(stats.percentile(xs_all[metric], 50), 4),
                          "runc_p50": round(stats.percentile(ys_all[metric], 50), 4),
                          "claims": [{"ratio": c, "source": w} for c, w in OCI_CLAIMS]})
    return found


def document(latency: dict[str, dict], bursts: dict[str, dict], benches: dict[str, list],
             limits=(), baseline: str = "docker", evented: dict[str, dict] | None = None,
             oci: dict[str, dict] | None = None) -> dict:
    evented, oci = evented or {}, oci or {}
    runtimes = sorted(set(latency) | set(bursts) | set(benches) | set(oci))
    samples = {r: samples_of(latency.get(r, {}), bursts.get(r, {}), benches.get(r, [])) for r in runtimes}
    ratios = []
    if baseline in samples:
        for runtime in runtimes:
            if runtime == baseline:
                continue
            for metric, xs in samples[runtime].items():
                found = ratio(metric, runtime, baseline, xs, samples[baseline].get(metric, []))
                if found:
                    ratios.append(found)
    checked = []
    for limit in limits:
        xs = samples.get(limit.a, {}).get(limit.phase, [])
        ys = samples.get(limit.b, {}).get(limit.phase, [])
        found = ratio(limit.phase, limit.a, limit.b, xs, ys)
        if found is None:
            checked.append({"limit": limit.label, "exceeded": None,
                            "reason": f"no {limit.phase} samples of {limit.a} and {limit.b} in this run"})
            continue
        if found["ci"] is None:
            checked.append({"limit": limit.label, "exceeded": None, "reason": f"fewer than "
                            f"{MIN_SAMPLES_FOR_CI} {limit.phase} samples for an interval"})
            continue
        checked.append({"limit": limit.label, "median_ratio": found["median_ratio"], "ci": found["ci"],
                        "exceeded": found["ci"][0] > limit.limit})
    sections = {r: runtime_section(latency.get(r, {}), bursts.get(r, {}), benches.get(r, [])) for r in runtimes}
    for runtime, measured in evented.items():
        sections.setdefault(runtime, {})["evented_pleg"] = {
            "pod_startup": pct(measured.get("samples") or []), "phases": measured.get("phase_summary") or {}}
    return {"runtimes": sections,
            "samples": samples, "ratios_to_baseline": ratios, "baseline": baseline,
            "evented_pleg": [e for r, m in sorted(evented.items())
                             for e in evented_effect(r, latency.get(r, {}), m)],
            "oci_runtimes": [e for r, m in sorted(oci.items()) for e in oci_effect(r, m.get("handlers") or {})],
            "limits": checked}
