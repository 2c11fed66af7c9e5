"""The performance section for people: terminal lines, markdown tables, and
in report.html an ECDF of pod start latency per runtime and stacked bars of
each runtime's median phases (inline SVG, no scripts)."""
from __future__ import annotations

import html as html_lib

from . import phases

CHAIN = [p for p, _, _ in phases.CHAIN]
COLORS = {"create_to_schedule": "#9aa5b1", "schedule_to_sandbox": "#4e79a7",
          "sandbox_to_container": "#59a14f", "container_to_run": "#edc948", "run_to_watch": "#e15759"}
RUNTIME_COLORS = ("#4e79a7", "#e15759", "#59a14f", "#b07aa1", "#f28e2b")


def interval(r: dict) -> str:
    return f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]" if r.get("ci") else f"(n={min(r['n'])}: no interval)"


def _ratio_text(r: dict) -> str:
    claim = f"; claimed {r['claim']:.2f} ({r['claim_source']})" if "claim" in r else ""
    return f"{r['a']}/{r['b']} {r['label']}: {r['median_ratio']:.3f} {interval(r)}{claim}"


def performance_lines(perf: dict) -> list[tuple[str, bool]]:
    """(line, is it bad) for the terminal summary."""
    lines = []
    for runtime, section in perf.get("runtimes", {}).items():
        phase = section.get("phases") or {}
        if phase:
            lines.append((f"phases [{runtime}] p50/p90/p99 s: " + ", ".join(
                f"{p}={phase[p]['p50']:.3f}/{phase[p]['p90']:.3f}/{phase[p]['p99']:.3f}"
                for p in CHAIN if p in phase), False))
        burst = section.get("burst")
        if burst:
            steady = section.get("steady", {})
            lines.append((f"burst [{runtime}] {burst['pods']} pods x {burst['rounds']}: create->Ready "
                          f"p50={burst['ready_s']['p50']:.3f}s p99={burst['ready_s']['p99']:.3f}s, all Ready "
                          f"{'/'.join(f'{v:.2f}' for v in burst['all_ready_s'])}s; CPU s runtime "
                          f"{'/'.join(f'{v:.2f}' for v in burst['runtime_cpu_s'])} kubelet "
                          f"{'/'.join(f'{v:.2f}' for v in burst['kubelet_cpu_s'])}; peak MB runtime "
                          f"{burst['runtime_peak_mb']:.0f} kubelet {burst['kubelet_peak_mb']:.0f}; steady "
                          f"runtime {steady.get('runtime_cpu_cores', 0):.3f} cores "
                          f"{steady.get('runtime_rss_mb', 0):.0f} MB, kubelet "
                          f"{steady.get('kubelet_cpu_cores', 0):.3f} cores "
                          f"{steady.get('kubelet_rss_mb', 0):.0f} MB", False))
        bench = section.get("cri_bench")
        if bench:
            lines.append((f"critest benchmark [{runtime}] p50: " + ", ".join(
                f"{op}={v['p50'] * 1000:.1f}ms" for op, v in bench.items() if v.get("n")), False))
    for r in perf.get("ratios_to_baseline", []):
        lines.append((f"ratio {_ratio_text(r)}", False))
    for r in perf.get("evented_pleg", []):
        lines.append((f"EventedPLEG {r['label']}: {r['a']} p50 {r['evented_p50']:.3f}s vs {r['b']} "
                      f"{r['relist_p50']:.3f}s, ratio {r['median_ratio']:.3f} {interval(r)}", False))
    for r in perf.get("oci_runtimes", []):
        lines.append((f"crun/runc {r['label']}: {r['a']} p50 {r['crun_p50']:.4f}s vs {r['b']} "
                      f"{r['runc_p50']:.4f}s, ratio {r['median_ratio']:.3f} {interval(r)}", False))
    for limit in perf.get("limits", []):
        if limit["exceeded"] is None:
            lines.append((f"--latency-max-ratio {limit['limit']}: not checked: {limit['reason']}", True))
        else:
            lines.append((f"--latency-max-ratio {limit['limit']}: {limit['median_ratio']:.3f} "
                          f"[{limit['ci'][0]:.3f}, {limit['ci'][1]:.3f}] "
                          f"{'EXCEEDED' if limit['exceeded'] else 'within'}", bool(limit["exceeded"])))
    return lines


def performance_markdown(perf: dict) -> list[str]:
    runtimes = perf.get("runtimes", {})
    if not runtimes:
        return []
    lines = ["", "## Performance", "", "Phase medians (s), one pod at a time:", "",
             "| runtime | " + " | ".join(CHAIN) + " | pod_startup p50 / p99 |",
             "|---|" + "---|" * (len(CHAIN) + 1)]
    for runtime, section in runtimes.items():
        phase = section.get("phases") or {}
        if phase:
            total = phase.get("pod_startup", {})
            lines.append(f"| {runtime} | " + " | ".join(f"{phase[p]['p50']:.3f}" if p in phase else "-"
                                                       for p in CHAIN)
                         + f" | {total.get('p50', 0):.3f} / {total.get('p99', 0):.3f} |")
    bursts = [(r, s) for r, s in runtimes.items() if s.get("burst")]
    if bursts:
        lines += ["", "Burst and node cost:", "",
                  "| runtime | pods x rounds | create->Ready p50 / p99 (s) | all Ready (s) | runtime CPU s | "
                  "kubelet CPU s | runtime peak / steady MB | kubelet peak / steady MB | "
                  "steady CPU cores runtime / kubelet |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for runtime, s in bursts:
            b, st = s["burst"], s.get("steady", {})
            lines.append(
                f"| {runtime} | {b['pods']} x {b['rounds']} | {b['ready_s']['p50']:.3f} / {b['ready_s']['p99']:.3f} | "
                f"{', '.join(f'{v:.2f}' for v in b['all_ready_s'])} | "
                f"{', '.join(f'{v:.2f}' for v in b['runtime_cpu_s'])} | "
                f"{', '.join(f'{v:.2f}' for v in b['kubelet_cpu_s'])} | "
                f"{b['runtime_peak_mb']:.0f} / {st.get('runtime_rss_mb', 0):.0f} | "
                f"{b['kubelet_peak_mb']:.0f} / {st.get('kubelet_rss_mb', 0):.0f} | "
                f"{st.get('runtime_cpu_cores', 0):.3f} / {st.get('kubelet_cpu_cores', 0):.3f} |")
    benches = [(r, s["cri_bench"]) for r, s in runtimes.items() if s.get("cri_bench")]
    if benches:
        lines += ["", "The runtime alone (critest -benchmark), p50 / p99 ms:", "",
                  "| runtime | operation | p50 | p99 | n |", "|---|---|---|---|---|"]
        for runtime, bench in benches:
            lines += [f"| {runtime} | {op} | {v['p50'] * 1000:.2f} | {v['p99'] * 1000:.2f} | {v['n']} |"
                      for op, v in bench.items() if v.get("n")]
    if perf.get("ratios_to_baseline"):
        lines += ["", f"Ratios to the {perf['baseline']} baseline (median ratio, 95% bootstrap interval; "
                  "below 1: faster or cheaper than Docker):", "",
                  "| runtime | measure | ratio | 95% CI | published claim |", "|---|---|---|---|---|"]
        for r in perf["ratios_to_baseline"]:
            claim = f"{r['claim']:.2f} ({r['claim_source']})" if "claim" in r else ""
            lines.append(f"| {r['a']} | {r['label']} | {r['median_ratio']:.3f} | {interval(r)} | {claim} |")
    if perf.get("evented_pleg"):
        lines += ["", "The kubelet's EventedPLEG on, the same pods one at a time (how much is the 1 s relist):", "",
                  "| runtime | measure | relist p50 (s) | EventedPLEG p50 (s) | ratio | 95% CI |",
                  "|---|---|---|---|---|---|"]
        for r in perf["evented_pleg"]:
            lines.append(f"| {r['a'].split()[0]} | {r['label']} | {r['relist_p50']:.3f} | {r['evented_p50']:.3f} | "
                         f"{r['median_ratio']:.3f} | {interval(r)} |")
    if perf.get("oci_runtimes"):
        claims = "; ".join(f"{c['ratio']:.3f}: {c['source']}" for c in perf["oci_runtimes"][0]["claims"])
        lines += ["", "crun over runc under each CRI runtime (median ratio, 95% bootstrap interval; below 1: "
                  f"crun faster). Published: {claims}.", "",
                  "| runtime | measure | runc p50 (s) | crun p50 (s) | ratio | 95% CI |", "|---|---|---|---|---|---|"]
        for r in perf["oci_runtimes"]:
            lines.append(f"| {r['a'].split()[0]} | {r['label']} | {r['runc_p50']:.4f} | {r['crun_p50']:.4f} | "
                         f"{r['median_ratio']:.3f} | {interval(r)} |")
    for limit in perf.get("limits", []):
        state = ("not checked: " + limit["reason"] if limit["exceeded"] is None else
                 f"{limit['median_ratio']:.3f} [{limit['ci'][0]:.3f}, {limit['ci'][1]:.3f}]: "
                 + ("**exceeded**" if limit["exceeded"] else "within"))
        lines.append(f"- `--latency-max-ratio {limit['limit']}`: {state}")
    return lines


def ecdf_svg(samples: dict[str, list[float]], width: int = 560, height: int = 240) -> str:
    """Step ECDF per runtime: x seconds, y fraction of pods Ready by then."""
    series = {r: sorted(v) for r, v in samples.items() if v}
    if not series:
        return ""
    top = max(v[-1] for v in series.values()) * 1.05 or 1.0
    left, bottom = 40, height - 30
    x = lambda s: left + (width - left - 10) * s / top  # noqa: E731
    y = lambda f: bottom - (bottom - 10) * f  # noqa: E731
    parts = [f'<svg class="ecdf" width="{width}" height="{height}" role="img" '
             'aria-label="ECDF of pod start latency per runtime">',
             f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="#333"/>',
             f'<line x1="{left}" y1="10" x2="{left}" y2="{bottom}" stroke="#333"/>',
             f'<text x="{width - 10}" y="{height - 5}" text-anchor="end" font-size="11">seconds '
             f'(0 to {top:.2f})</text>',
             f'<text x="5" y="15" font-size="11">1.0</text><text x="5" y="{bottom}" font-size="11">0</text>']
    for i, (runtime, values) in enumerate(series.items()):
        color = RUNTIME_COLORS[i % len(RUNTIME_COLORS)]
        points, n = [f"{x(0):.1f},{y(0):.1f}"], len(values)
        for k, v in enumerate(values):
            points += [f"{x(v):.1f},{y(k / n):.1f}", f"{x(v):.1f},{y((k + 1) / n):.1f}"]
        parts.append(f'<polyline class="ecdf-line" data-runtime="{html_lib.escape(runtime)}" fill="none" '
                     f'stroke="{color}" stroke-width="2" points="{" ".join(points)}"/>')
        parts.append(f'<text x="{width - 120}" y="{30 + 15 * i}" fill="{color}" font-size="12">'
                     f'{html_lib.escape(runtime)} (n={n})</text>')
    return "".join(parts) + "</svg>"


def phase_bars_svg(runtimes: dict[str, dict], width: int = 560) -> str:
    """One stacked bar per runtime: its median of each phase of the chain."""
    rows = [(r, s["phases"]) for r, s in runtimes.items() if s.get("phases")]
    if not rows:
        return ""
    total = max(sum(max(p.get(c, {}).get("p50", 0), 0) for c in CHAIN) for _, p in rows) or 1.0
    left, bar, gap = 90, 22, 10
    height = len(rows) * (bar + gap) + 40
    parts = [f'<svg class="phase-bars" width="{width}" height="{height}" role="img" '
             'aria-label="median phases of pod start per runtime">']
    for i, (runtime, phase) in enumerate(rows):
        top, at = 10 + i * (bar + gap), float(left)
        parts.append(f'<text x="5" y="{top + 15}" font-size="12">{html_lib.escape(runtime)}</text>')
        for c in CHAIN:
            seconds = max(phase.get(c, {}).get("p50", 0), 0)
            w = (width - left - 10) * seconds / total
            parts.append(f'<rect class="phase" data-runtime="{html_lib.escape(runtime)}" data-phase="{c}" '
                         f'x="{at:.1f}" y="{top}" width="{w:.1f}" height="{bar}" fill="{COLORS[c]}">'
                         f'<title>{c}: {seconds:.3f} s</title></rect>')
            at += w
    legend_y = height - 12
    for k, c in enumerate(CHAIN):
        parts.append(f'<rect x="{left + k * 95}" y="{legend_y - 9}" width="10" height="10" fill="{COLORS[c]}"/>'
                     f'<text x="{left + k * 95 + 13}" y="{legend_y}" font-size="10">{c}</text>')
    return "".join(parts) + "</svg>"


def performance_html(perf: dict) -> str:
    runtimes = perf.get("runtimes", {})
    if not runtimes:
        return ""
    ecdf = ecdf_svg({r: s.get("pod_startup", []) for r, s in perf.get("samples", {}).items()})
    burst = ecdf_svg({r: s.get("burst_ready_s", []) for r, s in perf.get("samples", {}).items()})
    table = html_lib.escape("\n".join(performance_markdown(perf)))
    return ('<section id="performance"><h2>Performance</h2>'
            + (f"<h3>Pod start latency, one at a time (ECDF)</h3>{ecdf}" if ecdf else "")
            + (f"<h3>Burst: each pod's create to Ready (ECDF)</h3>{burst}" if burst else "")
            + f"<h3>Where the time goes (median phases)</h3>{phase_bars_svg(runtimes)}"
            + f"<h3>Figures</h3><pre>{table}</pre></section>")
