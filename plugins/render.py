"""results.json -> report.md and a self-contained report.html."""
from __future__ import annotations

import html as html_lib
import statistics

from crigate.testbed.versions import BASELINE_RUNTIMES

from . import perfrender, records
from .gate.outputs import GATE_CSS, gate_html, gate_markdown  # the gate's sections: one writer for both paths
from .options import MeasurementSize

SYMBOLS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIP",
           "xfailed": "XFAIL", "xpassed": "XPASS"}
COLORS = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#cf222e", "skipped": "#9a6700",
          "xfailed": "#6e7781", "xpassed": "#8250df"}


# What was run: one column per runtime, one row per fact; the size is the run's, one cell
RUN_FACTS = ("cluster", "node image", "Kubernetes", "runtime version", "low-level runtime", "nodes checked")
RUN_SIZE = "measurement size"
SHOWN_NODES = 3          # node names listed in the run table; all of them in its title
SHORT_ID = 19            # "sha256:" and 12 hex digits, as docker shows an image id


def short(value: str, keep: int = SHORT_ID) -> str:
    return value if len(value) <= keep else value[:keep] + "..."


def measurement_text(doc: dict) -> str:
    size = doc.get("measurement")
    return MeasurementSize.from_dict(size).text if size else "-"


def run_columns(doc: dict) -> dict[str, dict[str, tuple[str, str]]]:
    """What was run, in words: runtime -> fact -> (shown text, full text)."""
    latency = doc.get("latency", {})
    columns = {}
    for runtime in sorted(set(doc.get("clusters", {})) | {r["runtime"] for r in doc["results"]}):
        facts = doc.get("clusters", {}).get(runtime, {})
        checked = facts.get("nodes_checked") or list(facts.get("node_runtimes", {}))
        versions = sorted({v for n, v in facts.get("node_runtimes", {}).items() if n in checked})
        image, image_id = facts.get("node_image", ""), facts.get("node_image_id", "")
        cluster = " ".join(x for x in (facts.get("provider"), facts.get("cluster")) if x)
        kubernetes = (facts.get("kubernetes") or ", ".join(facts.get("kubelet_versions", []))
                      or f"{doc['kubernetes_minor']} (asked for)")
        low_level = facts.get("low_level_runtime") or latency.get(runtime, {}).get("low_level_runtime")
        shown_nodes = ", ".join(checked[:SHOWN_NODES]) + (f" and {len(checked) - SHOWN_NODES} more"
                                                          if len(checked) > SHOWN_NODES else "")
        columns[runtime] = {
            "cluster": (cluster or "-", facts.get("kubeconfig", cluster)),
            "node image": ((f"{image} ({short(image_id)})" if image_id else image) or "-",
                           f"{image} {image_id}".strip()),
            "Kubernetes": (kubernetes, kubernetes),
            "runtime version": (", ".join(versions) or "-", ", ".join(versions)),
            "low-level runtime": (low_level or "-", low_level or ""),
            "nodes checked": (f"{len(checked)}: {shown_nodes}" if checked else "-", ", ".join(checked))}
    return columns


BASELINE_NOTE = ("docker (baseline) is Docker Engine behind cri-dockerd, the setup being left: "
                 "its FAILs on socket, log and namespace checks show what those checks detect.")


def baseline_note(runtimes) -> str:
    return BASELINE_NOTE if any(r in BASELINE_RUNTIMES for r in runtimes) else ""


def runtime_label(runtime: str) -> str:
    """Column heading; the Docker baseline is marked, its failures are the point."""
    return f"{runtime} (baseline)" if runtime in BASELINE_RUNTIMES else runtime


def _matrix(doc: dict) -> tuple[list[str], list[str], dict]:
    cells = {(r["check"], r["runtime"]): r for r in doc["results"]}
    runtimes = sorted({r["runtime"] for r in doc["results"]})
    checks = sorted({r["check"] for r in doc["results"]})
    return checks, runtimes, cells


SEVERITY = ("failed", "error", "xpassed", "skipped", "xfailed")
# Outcomes that fail the run, as pytest's exit status counts them: a strict
# XPASS arrives as "failed"; a non-strict XPASS (timing-dependent known
# difference) is news, not a failure. Every verdict (report.md, report.html,
# the nightly summary, the exit status) reads this one tuple.
FAILING_OUTCOMES = ("failed", "error")


def run_failed(results) -> bool:
    return any(r["outcome"] in FAILING_OUTCOMES for r in results)


def not_passed(doc: dict) -> list[dict]:
    """Results that did not pass, failures first."""
    return sorted((r for r in doc["results"] if r["outcome"] != "passed"),
                  key=lambda r: (SEVERITY.index(r["outcome"]) if r["outcome"] in SEVERITY else 9,
                                 r["check"], r["runtime"]))


def verdict(doc: dict) -> str:
    return "FAIL" if run_failed(doc["results"]) else "PASS"


def gate_only(doc: dict) -> bool:
    return bool(doc.get("gate")) and all(r["area"] == "gate" for r in doc["results"])


def title(doc: dict) -> tuple[str, str]:
    """(heading text, verdict word): the gate's verdict for a gate run, else PASS/FAIL."""
    if gate_only(doc):
        verdicts = [g["verdict"] for g in doc["gate"].values()]
        word = next((v for v in ("NO-GO", "UNDECIDED") if v in verdicts), "GO")
        return "crigate gate", word
    return "crigate report", verdict(doc)


def markdown(doc: dict) -> str:
    checks, runtimes, cells = _matrix(doc)
    heading, word = title(doc)
    lines = [f"# {heading}: {word}", "", "## What was run", ""]
    columns = run_columns(doc)
    lines += ["| runtime | " + " | ".join(map(runtime_label, columns)) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {fact} | " + " | ".join(c[fact][0].replace("|", "\\|") for c in columns.values()) + " |"
              for fact in RUN_FACTS]
    lines += ["", f"Measurement size: {measurement_text(doc)}.", "",
              f"Latency SLO: p99 <= {doc['latency_slo_s']} s.", ""]
    lines += ["| check | " + " | ".join(map(runtime_label, runtimes)) + " |",
              "|---|" + "---|" * len(runtimes)]
    for check in checks:
        row = [SYMBOLS.get(cells[(check, r)]["outcome"], "") if (check, r) in cells else "-"
               for r in runtimes]
        lines.append(f"| `{check}` | " + " | ".join(row) + " |")
    if baseline_note(runtimes):
        lines += ["", baseline_note(runtimes)]
    if doc["latency"]:
        lines += ["", "## Pod start latency (create call to Ready watch event)", "",
                  "| runtime | n | p50 s | p90 s | p99 s | max s | p50 95% CI | runtime start p50 s |",
                  "|---|---|---|---|---|---|---|---|"]
        for runtime, s in sorted(doc["latency"].items()):
            started = s.get("runtime_start_after_create_s") or []
            lines.append(f"| {runtime} | {s['n']} | {s['p50']:.3f} | {s['p90']:.3f} | {s['p99']:.3f} | "
                         f"{s['max']:.3f} | [{s['p50_ci'][0]:.3f}, {s['p50_ci'][1]:.3f}] | "
                         + (f"{statistics.median(started):.3f} |" if started else "- |"))
        for c in doc["latency_comparisons"]:
            lines.append(f"\n{c['label']}: "
                         f"median({c['a']}) / median({c['b']}) = {c['median_ratio']:.3f}, 95% CI "
                         f"[{c['ci'][0]:.3f}, {c['ci'][1]:.3f}]: "
                         + ("significant" if c["significant"] else "not significant"))
    lines += nodes_markdown(doc.get("nodes", []))
    lines += perfrender.performance_markdown(doc.get("performance", {}))
    for kind in records.RECORDS.values():
        lines += kind.markdown(doc)
    lines += gate_markdown(doc.get("gate", {}))
    problems = not_passed(doc)
    if problems:
        lines += ["", "## Not passed", ""]
        for r in problems:
            lines.append(f"- **{r['outcome']}** `{r['check']}` [{r['runtime']}]: {r['message']}")
    return "\n".join(lines) + "\n"


def nodes_markdown(rows: list[dict]) -> list[str]:
    """Per node, grouped by node group then runtime: the checks that ran there
    (node checks, and pod checks whose pods it ran) and those it failed."""
    if not rows:
        return []
    lines = ["", "## Per node", "", "| node | group | runtime | checked as | checks | failed |",
             "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r.get("group", ""), r.get("runtime_version", ""), r["node"])):
        failed = ", ".join(f"`{c}`" for c in r["failed"]) or "none"
        lines.append(f"| `{r['node']}` | {r.get('group') or '-'} | {r.get('runtime_version', '')} | "
                     f"{runtime_label(r['checked_as'])} | {len(r['checks'])} | {failed} |")
    return lines


def _latency_svg(samples: list[float], summary: dict, slo: float, width=560, height=70) -> str:
    """A strip plot of every sample with p50/p99 ticks and the SLO line."""
    top = max(max(samples), slo) * 1.05
    x = lambda v: 10 + (width - 20) * v / top  # noqa: E731
    dots = "".join(f'<circle cx="{x(v):.1f}" cy="{30 + (i % 5) * 5}" r="3" fill="#0969da" '
                   f'fill-opacity="0.6"><title>{v:.3f}s</title></circle>' for i, v in enumerate(samples))
    # p50's label sits left of its tick, p99's right, so close values stay readable
    ticks = "".join(f'<line x1="{x(summary[k]):.1f}" x2="{x(summary[k]):.1f}" y1="18" y2="58" '
                    f'stroke="{c}" stroke-width="2"/><text x="{x(summary[k]) + dx:.1f}" y="14" '
                    f'font-size="10" text-anchor="{anchor}">{k} {summary[k]:.2f}s</text>'
                    for k, c, dx, anchor in (("p50", "#1a7f37", -3, "end"),
                                             ("p99", "#9a6700", 3, "start")))
    slo_line = (f'<line x1="{x(slo):.1f}" x2="{x(slo):.1f}" y1="8" y2="62" stroke="#cf222e" '
                f'stroke-dasharray="4 3"/><text x="{x(slo) - 40:.1f}" y="68" font-size="10" '
                f'fill="#cf222e">SLO {slo}s</text>')
    return (f'<svg class="latency" width="{width}" height="{height}" role="img" '
            f'aria-label="latency samples">{slo_line}{ticks}{dots}</svg>')


def nodes_html(rows: list[dict]) -> str:
    if not rows:
        return ""
    e = html_lib.escape
    body = "".join(
        f'<tr class="{"breaks" if r["failed"] else "review"}"><td><code>{e(r["node"])}</code></td>'
        f'<td>{e(r.get("group") or "-")}</td><td>{e(r.get("runtime_version", ""))}</td>'
        f'<td>{e(runtime_label(r["checked_as"]))}</td><td>{len(r["checks"])}</td>'
        f'<td>{e(", ".join(r["failed"]) or "none")}</td></tr>'
        for r in sorted(rows, key=lambda r: (r.get("group", ""), r.get("runtime_version", ""), r["node"])))
    return ('<h2>Per node</h2><table id="nodes"><tr><th>node</th><th>group</th><th>runtime</th>'
            f"<th>checked as</th><th>checks</th><th>failed</th></tr>{body}</table>")


def run_html(doc: dict) -> str:
    e = html_lib.escape
    columns = run_columns(doc)
    cell = lambda shown, full: (f'<td title="{e(full)}">{e(shown)}</td>' if full != shown  # noqa: E731
                                else f"<td>{e(shown)}</td>")
    head = "<tr><th>runtime</th>" + "".join(f"<th>{e(runtime_label(r))}</th>" for r in columns) + "</tr>"
    body = "".join(f"<tr><th>{e(fact)}</th>" + "".join(cell(*c[fact]) for c in columns.values()) + "</tr>"
                   for fact in RUN_FACTS)
    size = f'<tr><th>{RUN_SIZE}</th><td colspan="{max(len(columns), 1)}">{e(measurement_text(doc))}</td></tr>'
    return f'<table id="run">{head}{body}{size}</table>'


# the run's own rules, after the gate's (gate.outputs.GATE_CSS: page, tables, findings, verdict colours)
REPORT_CSS = """table#run{table-layout:fixed;width:100%} table#run th{text-align:left;vertical-align:top}
table#run tr>th:first-child{width:10em}
table#run td{text-align:left;font-weight:normal;overflow-wrap:anywhere;vertical-align:top}
td,th{overflow-wrap:anywhere} pre{overflow-wrap:anywhere}
th.check{text-align:left;font-family:monospace;font-weight:normal}
td{text-align:center;font-weight:bold} pre{white-space:pre-wrap;background:#f6f8fa;padding:.5em}
tr.breaks td{text-align:left;font-weight:normal} tr.review td{text-align:left;font-weight:normal}
.verdict-PASS{color:#1a7f37} .verdict-FAIL{color:#cf222e}"""


def html(doc: dict) -> str:
    e = html_lib.escape
    checks, runtimes, cells = _matrix(doc)
    head = "".join(f"<th>{e(runtime_label(r))}</th>" for r in runtimes)
    rows = []
    for check in checks:
        tds = []
        for r in runtimes:
            cell = cells.get((check, r))
            if cell is None:
                tds.append("<td>-</td>")
                continue
            o = cell["outcome"]
            tds.append(f'<td class="{o}" style="color:{COLORS.get(o, "#000")}" '
                       f'title="{e(cell["message"])}">{SYMBOLS.get(o, o)}</td>')
        rows.append(f"<tr><th class=check>{e(check)}</th>{''.join(tds)}</tr>")
    latency = ""
    for runtime, s in sorted(doc["latency"].items()):
        latency += (f'<div class="runtime-latency" id="latency-{e(runtime)}"><h3>{e(runtime)}</h3>'
                    f"<p>n={s['n']} p50={s['p50']:.3f}s p90={s['p90']:.3f}s p99={s['p99']:.3f}s "
                    f"max={s['max']:.3f}s; p50 95% CI [{s['p50_ci'][0]:.3f}, {s['p50_ci'][1]:.3f}]</p>"
                    + _latency_svg(s["samples_s"], s, doc["latency_slo_s"]) + "</div>")
    for c in doc["latency_comparisons"]:
        latency += (f"<p class=ratio>{e(c['label'])}: "
                    f"median({e(c['a'])}) / median({e(c['b'])}) = "
                    f"{c['median_ratio']:.3f}, 95% CI [{c['ci'][0]:.3f}, {c['ci'][1]:.3f}]: "
                    + ("significant" if c["significant"] else "not significant") + "</p>")
    problems = "".join(f'<li class="{r["outcome"]}"><b>{SYMBOLS.get(r["outcome"], r["outcome"])}</b> '
                       f'<code>{e(r["check"])}</code> [{e(r["runtime"])}]<pre>{e(r["message"])}</pre></li>'
                       for r in not_passed(doc))
    heading, v = title(doc)
    latency = latency or "<p>not measured in this run</p>"
    latency_section = "" if gate_only(doc) else f'<h2>Pod start latency</h2><div id="latency">{latency}</div>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{heading}: {v}</title>
<style>
{GATE_CSS}
{REPORT_CSS}
</style></head><body>
<h1>{heading}: <span id="verdict" class="verdict-{v}">{v}</span></h1>
<section id="what-ran"><h2>What was run</h2>{run_html(doc)}
<p>Latency SLO: p99 &le; {doc['latency_slo_s']} s.</p></section>
<h2>Checks &times; runtime</h2>
<table id="matrix"><tr><th>check</th>{head}</tr>{''.join(rows)}</table>
{f'<p id="baseline">{e(baseline_note(runtimes))}</p>' if baseline_note(runtimes) else ""}
{latency_section}
{nodes_html(doc.get("nodes", []))}
{perfrender.performance_html(doc.get("performance", {}))}
{"".join(kind.html(doc) for kind in records.RECORDS.values())}
{gate_html(doc.get("gate", {}))}
<h2>Not passed</h2><ul id="problems">{problems or '<li>none</li>'}</ul>
</body></html>
"""
