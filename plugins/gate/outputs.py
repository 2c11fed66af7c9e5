"""The gate's verdict for machines and people: text, json, sarif, junit,
markdown, html, and the report files; crigate-gate and the pytest plugin's
reporter both write through these.

A Verdict becomes one section of results.json (`gate_section`); every format
is rendered from that section (`gate_document`), so they cannot disagree.
JSON follows plugins/gate/gate-output.schema.json (SCHEMA below names its
version).
"""
from __future__ import annotations

import html as html_lib
import json
import platform
import time
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree as ET

from . import family
from .checklist import CHECKLIST
from .verdict import Verdict

SCHEMA = "crigate-gate/v1"
FORMATS = ("text", "json", "sarif", "junit", "markdown", "html")
INFO_URI = "https://github.com/crigate/crigate#the-upgrade-gate"
# SARIF 2.1.0 (OASIS): result.level is one of none|note|warning|error;
# suppressions[].kind "external" marks a suppression kept outside the source.
SARIF_VERSION = "2.1.0"
def sure_text(f: dict) -> str:
    """The finding's certainty as a sentence ("" when it has none)."""
    return f"Certainty: {f['certainty']}. " if f.get("certainty") else ""


def sure_md(f: dict) -> str:
    return f" (certainty: {f['certainty']})" if f.get("certainty") else ""


SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVEL = {"breaks": "error", "review": "warning"}


def families() -> dict[str, dict]:
    """check id -> its family (what, breaks, fix, sources) as a dict."""
    return {k: f.as_dict() for k, f in family.known().items()}


def families_markdown() -> str:
    """The families the gate knows, as a table (crigate-gate --list-checks)."""
    cell = lambda t: str(t).replace("|", "\\|")  # noqa: E731
    rows = ["| group | check | severity | what | why it breaks | fix | source |",
            "|---|---|---|---|---|---|---|"]
    for check, f in sorted(families().items(), key=lambda kv: (kv[1].get("group", ""), kv[0])):
        sources = " ".join(f"[{i + 1}]({u})" for i, u in enumerate(f.get("sources", [])))
        rows.append(f"| {cell(f.get('group', ''))} | `{check}` | {f.get('severity', '')} | "
                    f"{cell(f.get('what', ''))} | {cell(f.get('breaks', ''))} | {cell(f.get('fix', ''))} | "
                    f"{sources} |")
    return "\n".join(rows) + "\n"


def gate_section(verdict: Verdict) -> dict:
    """The Verdict as results.json's gate entry for one runtime."""
    return {"verdict": verdict.kind.word, "target_runtime": verdict.target,
            "findings": [f.as_dict() for f in verdict.findings], "undecided": verdict.reasons,
            "notes": list(verdict.notes), "node_facts": dict(verdict.node_facts),
            "nodes": dict(verdict.nodes),
            "checklist": [{"item": i, "check": c} for i, c in CHECKLIST]}


def gate_document(gate: dict, source: dict) -> dict:
    """The versioned document every format renders: gate is one runtime's
    entry of results.json's "gate"; source says what was audited."""
    findings = gate.get("findings", [])
    counted = [f for f in findings if not f.get("suppressed")]
    return {
        "schema": SCHEMA, "verdict": gate.get("verdict", "UNDECIDED"),
        "target_runtime": gate.get("target_runtime", ""), "source": source,
        "summary": {"breaks": sum(f["severity"] == "breaks" for f in counted),
                    "review": sum(f["severity"] == "review" for f in counted),
                    "suppressed": len(findings) - len(counted)},
        "findings": findings, "undecided": gate.get("undecided", []),
        "notes": gate.get("notes", []), "nodes": gate.get("nodes", {}),
        "checklist": gate.get("checklist", []),
    }


def text(doc: dict) -> str:
    s = doc["summary"]
    lines = [f"crigate-gate: {doc['verdict']} (target {doc['target_runtime']}): {s['breaks']} break, "
             f"{s['review']} to review, {s['suppressed']} suppressed"]
    for f in doc["findings"]:
        label = f"suppressed: {f['suppressed']}" if f.get("suppressed") else f["severity"]
        at = f"\n    at: {f['location']}" if f.get("location") else ""
        sure = f"\n    certainty: {f['certainty']}" if f.get("certainty") else ""
        lines.append(f"[{label}] {f['check']}: {f['object']}{at}\n    depends on: {f['depends_on']}\n"
                     f"    why: {f['why']}{sure}\n    fix: {f['remediation']}")
    lines += [f"could not decide: {r}" for r in doc["undecided"]]
    return "\n".join(lines) + "\n"


def as_json(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def severity_label(f: dict) -> str:
    return f"suppressed ({f['severity']}: {f['suppressed']})" if f.get("suppressed") else f["severity"]


def located(f: dict) -> str:
    return f" at `{f['location']}`" if f.get("location") else ""


def gate_markdown(gates: dict, heading: str = "Upgrade gate") -> list[str]:
    """Markdown lines of each runtime's gate section (report.md of both paths)."""
    lines = []
    for runtime, g in sorted(gates.items()):
        lines += ["", f"## {heading}, target {runtime}: {g['verdict']}", ""]
        for reason in g["undecided"]:
            lines.append(f"- **could not decide**: {reason}")
        for note in g.get("notes", []):
            lines.append(f"- not read: {note}")
        if g.get("nodes"):
            lines.append("- nodes: " + ", ".join(f"`{n}` {v}" for n, v in sorted(g["nodes"].items())))
        if g["findings"]:
            lines += ["", "| severity | object | depends on | why it breaks | fix |", "|---|---|---|---|---|"]
            cell = lambda t: str(t).replace("|", "\\|")  # noqa: E731
            lines += [f"| {severity_label(f)} | `{cell(f['object'])}`{located(f)} | {cell(f['depends_on'])} | "
                      f"{cell(f['why'])}{sure_md(f)} | {cell(f['remediation'])} |" for f in g["findings"]]
        lines += ["", "Check by hand (the API cannot show these):", ""]
        lines += [f"- [ ] **{c['item']}**: {c['check']}" for c in g["checklist"]]
    return lines


def gate_html(gates: dict, heading: str = "Upgrade gate", anchor: str = "gate") -> str:
    """HTML sections of each runtime's gate section (report.html of both paths)."""
    e = html_lib.escape
    parts = []
    for runtime, g in sorted(gates.items()):
        rows = "".join(f'<tr class="{"suppressed" if f.get("suppressed") else e(f["severity"])}">'
                       f'<td>{e(severity_label(f))}</td>'
                       f'<td><code>{e(f["object"])}</code>{e(located(f).replace("`", ""))}</td>'
                       f'<td>{e(f["depends_on"])}</td>'
                       f'<td>{e(f["why"])}{e(sure_md(f))}</td><td>{e(f["remediation"])}</td></tr>'
                       for f in g["findings"])
        reasons = "".join(f"<li>could not decide: {e(r)}</li>" for r in g["undecided"])
        reasons += "".join(f"<li>not read: {e(n)}</li>" for n in g.get("notes", []))
        if g.get("nodes"):
            reasons += "<li>nodes: " + ", ".join(f"<code>{e(n)}</code> {e(v)}"
                                                 for n, v in sorted(g["nodes"].items())) + "</li>"
        checklist = "".join(f"<li><input type=checkbox> <b>{e(c['item'])}</b>: {e(c['check'])}</li>"
                            for c in g["checklist"])
        parts.append(
            f'<section class="gate" id="{e(anchor)}-{e(runtime)}"><h2>{e(heading)}, target {e(runtime)}: '
            f'<span class="gate-verdict">{e(g["verdict"])}</span></h2><ul>{reasons}</ul>'
            + (f'<table class="findings"><tr><th>severity</th><th>object</th><th>depends on</th>'
               f'<th>why it breaks</th><th>fix</th></tr>{rows}</table>' if rows else
               "<p>no findings</p>")
            + f"<h3>Check by hand</h3><ul class=checklist>{checklist}</ul></section>")
    return "".join(parts)


GATE_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}
table{border-collapse:collapse} td,th{border:1px solid #d0d7de;padding:.3em .8em}
tr.breaks td{color:#cf222e} .verdict-GO{color:#1a7f37} .verdict-NO-GO{color:#cf222e}
.verdict-UNDECIDED{color:#9a6700} table.findings{table-layout:fixed;width:100%}
table.findings td{overflow-wrap:anywhere;vertical-align:top} table.findings th:first-child{width:5em}"""


def markdown(doc: dict) -> str:
    return "\n".join([f"# crigate gate: {doc['verdict']}",
                      *gate_markdown({doc["target_runtime"]: doc})]) + "\n"


def html(doc: dict) -> str:
    """A self-contained page of one gate document (crigate-gate's report.html)."""
    v = html_lib.escape(doc["verdict"])
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>crigate gate: {v}'
            f"</title>\n<style>\n{GATE_CSS}\n</style></head><body>\n"
            f'<h1>crigate gate: <span id="verdict" class="verdict-{v}">{v}</span></h1>\n'
            f"{gate_html({doc['target_runtime']: doc})}\n</body></html>\n")


def _sarif_location(f: dict) -> dict:
    where = f.get("location", "")
    path, _, rest = where.partition(":")
    line = rest.split(" ", 1)[0]
    if path and line.isdigit():
        return {"physicalLocation": {"artifactLocation": {"uri": path},
                                     "region": {"startLine": int(line)}},
                "logicalLocations": [{"fullyQualifiedName": f["object"]}]}
    return {"logicalLocations": [{"fullyQualifiedName": f["object"]}]}


def sarif(doc: dict) -> str:
    return sarif_log([sarif_run(doc)])


def sarif_log(runs: list[dict]) -> str:
    return json.dumps({"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": runs}, indent=2) + "\n"


def sarif_run(doc: dict) -> dict:
    """One SARIF run of one gate document."""
    known = families()
    checks = sorted({f["check"] for f in doc["findings"]})
    rules = []
    for check in checks:
        family = known.get(check, {})
        example = next(f for f in doc["findings"] if f["check"] == check)
        rules.append({"id": check,
                      "shortDescription": {"text": family.get("what") or example["depends_on"]},
                      "fullDescription": {"text": family.get("breaks") or example["why"]},
                      "help": {"text": family.get("fix") or example["remediation"]},
                      "properties": {"sources": family.get("sources", [])}})
    results = []
    for f in doc["findings"]:
        result = {"ruleId": f["check"], "level": SARIF_LEVEL.get(f["severity"], "note"),
                  "message": {"text": f"{f['object']}: depends on {f['depends_on']}; {f['why']}. "
                                      f"{sure_text(f)}Fix: {f['remediation']}"},
                  "locations": [_sarif_location(f)]}
        if f.get("suppressed"):
            result["suppressions"] = [{"kind": "external", "justification": f["suppressed"]}]
        results.append(result)
    run = {"tool": {"driver": {"name": "crigate-gate", "informationUri": INFO_URI, "rules": rules}},
           "results": results,
           "properties": {"verdict": doc["verdict"], "targetRuntime": doc["target_runtime"],
                          "undecided": doc["undecided"]}}
    return run


def junit(doc: dict) -> str:
    """One testcase per finding (classname: the check): breaks fail, review
    passes with its text, suppressed is skipped with the reason; could-not-
    decide is an error."""
    return junit_xml([junit_suite(doc)])


def junit_xml(suites: list[ET.Element]) -> str:
    root = ET.Element("testsuites", name="crigate-gate")
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def junit_suite(doc: dict, name: str = "crigate-gate") -> ET.Element:
    """One gate document as a testsuite; name is also its testcases' classname prefix."""
    suite = ET.Element("testsuite", name=name)
    failures = errors = skipped = 0
    for f in doc["findings"]:
        case = ET.SubElement(suite, "testcase", classname=f"{name}.{f['check']}", name=f["object"])
        message = f"depends on {f['depends_on']}; {f['why']}. {sure_text(f)}Fix: {f['remediation']}"
        if f.get("location"):
            case.set("file", f["location"].split(":", 1)[0])
        if f.get("suppressed"):
            ET.SubElement(case, "skipped", message=f"suppressed: {f['suppressed']}")
            skipped += 1
        elif f["severity"] == "breaks":
            ET.SubElement(case, "failure", message=message, type="breaks").text = message
            failures += 1
        else:
            ET.SubElement(case, "system-out").text = f"review: {message}"
    for reason in doc["undecided"]:
        case = ET.SubElement(suite, "testcase", classname=name, name="could not decide")
        ET.SubElement(case, "error", message=reason).text = reason
        errors += 1
    if not len(suite):
        ET.SubElement(suite, "testcase", classname=name, name=f"verdict {doc['verdict']}")
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    return suite


RENDERERS = {"text": text, "json": as_json, "sarif": sarif, "junit": junit, "markdown": markdown,
             "html": html}


def render_as(fmt: str, doc: dict) -> str:
    return (FLEET_RENDERERS if "clusters" in doc else RENDERERS)[fmt](doc)


def terminal_lines(runtime: str, gate: dict) -> list[tuple[str, str]]:
    """(line, colour: green, red or "") of one runtime's gate section, for
    pytest's terminal summary."""
    counted = [f for f in gate["findings"] if not f.get("suppressed")]
    breaks = [f for f in counted if f["severity"] == "breaks"]
    lines = [(f"crigate gate [{runtime}]: {gate['verdict']}: {len(breaks)} finding(s) break after the "
              f"switch, {len(counted) - len(breaks)} to review, {len(gate['findings']) - len(counted)} "
              "suppressed", "green" if gate["verdict"] == "GO" else "red")]
    for f in gate["findings"]:
        shown = "suppressed" if f.get("suppressed") else f["severity"]
        at = f" ({f['location']})" if f.get("location") else ""
        lines += [(f"  [{shown}] {f['object']}{at}: {f['depends_on']}", ""),
                  (f"      why: {f['why']}", ""),
                  *([(f"      certainty: {f['certainty']}", "")] if f.get("certainty") else []),
                  (f"      fix: {f['remediation']}", "")]
    return lines + [(f"  could not decide: {reason}", "red") for reason in gate["undecided"]]


def area_results(verdict: Verdict, runtime: str) -> list[dict]:
    """results.json's results: one per area, `gate::<area>`."""
    return [{"check": f"gate::{a.area}", "runtime": runtime, "area": "gate",
             "outcome": "failed" if a.crash or a.breaking() else "passed",
             "message": a.crash.reason if a.crash else "; ".join(f.line() for f in a.breaking())}
            for a in verdict.areas]


def results_header(started: float | None) -> dict:
    """What every results.json opens with (crigate-gate's and the pytest plugin's)."""
    return {"crigate": "results/v1", "started": started or time.time(), "finished": time.time(),
            "host": platform.node()}


def write_results(report_dir: Path, results: list[dict], gate: dict, clusters: dict | None,
                  started: float | None, **more) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "results.json").write_text(json.dumps({
        **results_header(started), "clusters": clusters or {}, "results": results,
        "gate": gate, **more}, indent=2) + "\n")


def write_reports(report_dir: Path, runtime: str, verdict: Verdict, source: dict,
                  clusters: dict | None = None, started: float | None = None) -> dict:
    """crigate-gate's files: results.json (its `gate` section as the pytest
    plugin writes it), report.md, report.html and junit.xml; returns the
    gate document every format renders."""
    section = gate_section(verdict)
    doc = gate_document(section, source)
    write_results(report_dir, area_results(verdict, runtime), {runtime: section}, clusters, started)
    for name, fmt in (("report.md", markdown), ("report.html", html), ("junit.xml", junit)):
        (report_dir / name).write_text(fmt(doc))
    return doc


# A fleet (crigate-gate --context A --context B, --all-contexts): one v1
# document whose verdict, findings, reasons and notes are the fleet's, each
# naming its cluster, plus `clusters`, each cluster's own verdict; every
# format renders each cluster as it renders one (cluster_documents).

def fleet_document(clusters: list, source: dict) -> dict:
    """clusters: fleet.ClusterVerdict in the order given; source:
    {kubeconfig, contexts}."""
    from .fleet import fleet_kind
    docs = {c.context: gate_document(gate_section(c.verdict), {"kubeconfig": source["kubeconfig"],
                                                               "context": c.context}) for c in clusters}
    kinds = {c.context: c.verdict.kind for c in clusters}
    first = next(iter(docs.values()))
    return {
        "schema": SCHEMA, "verdict": fleet_kind(kinds.values()).word,
        "target_runtime": first["target_runtime"], "source": source,
        "summary": {k: sum(d["summary"][k] for d in docs.values()) for k in first["summary"]},
        "findings": [{**f, "cluster": ctx} for ctx, d in docs.items() for f in d["findings"]],
        "undecided": [f"{ctx}: {r}" for ctx, d in docs.items() for r in d["undecided"]],
        "notes": [f"{ctx}: {n}" for ctx, d in docs.items() for n in d["notes"]],
        "nodes": {f"{ctx}/{n}": v for ctx, d in docs.items() for n, v in d["nodes"].items()},
        "checklist": first["checklist"],
        "clusters": [{"context": ctx, "verdict": d["verdict"], "exit_code": kinds[ctx].exit_code,
                      "summary": d["summary"], "undecided": d["undecided"], "notes": d["notes"],
                      "nodes": d["nodes"]} for ctx, d in docs.items()],
    }


def cluster_documents(doc: dict) -> list[tuple[str, dict]]:
    """(context, that cluster's gate document) of a fleet document, in order."""
    return [(c["context"], {
        "schema": doc["schema"], "verdict": c["verdict"], "target_runtime": doc["target_runtime"],
        "source": {"kubeconfig": doc["source"].get("kubeconfig"), "context": c["context"]},
        "summary": c["summary"], "findings": [f for f in doc["findings"] if f.get("cluster") == c["context"]],
        "undecided": c["undecided"], "notes": c["notes"], "nodes": c["nodes"], "checklist": doc["checklist"],
    }) for c in doc["clusters"]]


def node_runtimes(nodes: dict[str, str]) -> str:
    """"containerd://1.7.2 x2, docker://20.10.24 x1" (how many nodes run each)."""
    counts = Counter(nodes.values())
    return ", ".join(f"{v or 'unknown'} x{n}" for v, n in sorted(counts.items())) or "none read"


FLEET_COLUMNS = ("cluster", "verdict", "breaks", "review", "node runtimes")


def fleet_rows(doc: dict) -> list[tuple[str, ...]]:
    return [(c["context"], c["verdict"] + ("" if c["exit_code"] < 3 else " (crigate's own error)"),
             str(c["summary"]["breaks"]), str(c["summary"]["review"]), node_runtimes(c["nodes"]))
            for c in doc["clusters"]]


def fleet_heading(doc: dict) -> str:
    return f"fleet of {len(doc['clusters'])} clusters: {doc['verdict']}"


def fleet_text(doc: dict) -> str:
    s = doc["summary"]
    lines = [f"crigate-gate: {fleet_heading(doc)} (target {doc['target_runtime']}): {s['breaks']} break, "
             f"{s['review']} to review, {s['suppressed']} suppressed"]
    lines += [f"  {ctx}: {verdict}, {breaks} break, {review} to review; nodes: {runtimes}"
              for ctx, verdict, breaks, review, runtimes in fleet_rows(doc)]
    for ctx, cluster in cluster_documents(doc):
        lines += ["", f"== cluster {ctx} ==", text(cluster).rstrip("\n")]
    return "\n".join(lines) + "\n"


def fleet_markdown(doc: dict) -> str:
    cell = lambda t: str(t).replace("|", "\\|")  # noqa: E731
    lines = [f"# crigate gate, {fleet_heading(doc)}", "", "| " + " | ".join(FLEET_COLUMNS) + " |",
             "|" + "---|" * len(FLEET_COLUMNS)]
    lines += [f"| `{cell(ctx)}` | " + " | ".join(cell(v) for v in rest) + " |" for ctx, *rest in fleet_rows(doc)]
    for ctx, cluster in cluster_documents(doc):
        lines += gate_markdown({cluster["target_runtime"]: cluster}, heading=f"Cluster `{ctx}`: upgrade gate")
    return "\n".join(lines) + "\n"


def fleet_html(doc: dict) -> str:
    e = html_lib.escape
    v = e(doc["verdict"])
    rows = "".join(f'<tr><td><code>{e(ctx)}</code></td><td class="verdict-{e(c["verdict"])}">{e(verdict)}</td>'
                   + "".join(f"<td>{e(x)}</td>" for x in rest) + "</tr>"
                   for c, (ctx, verdict, *rest) in zip(doc["clusters"], fleet_rows(doc), strict=True))
    sections = "".join(gate_html({cluster["target_runtime"]: cluster}, heading=f"Cluster {ctx}: upgrade gate",
                                 anchor=f"gate-{ctx}") for ctx, cluster in cluster_documents(doc))
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>crigate gate: {v}'
            f"</title>\n<style>\n{GATE_CSS}\n</style></head><body>\n"
            f'<h1>crigate gate, fleet of {len(doc["clusters"])} clusters: '
            f'<span id="verdict" class="verdict-{v}">{v}</span></h1>\n'
            f'<table class="fleet"><tr>{"".join(f"<th>{c}</th>" for c in FLEET_COLUMNS)}</tr>{rows}</table>\n'
            f"{sections}\n</body></html>\n")


def fleet_sarif(doc: dict) -> str:
    """One run per cluster; the cluster in the run's automationDetails (its
    own category, SARIF 2.1.0 3.17) and in each result's properties."""
    runs = []
    for ctx, cluster in cluster_documents(doc):
        run = sarif_run(cluster)
        run["automationDetails"] = {"id": f"crigate-gate/{ctx}/"}
        run["properties"]["cluster"] = ctx
        for result in run["results"]:
            result["properties"] = {"cluster": ctx}
        runs.append(run)
    return sarif_log(runs)


def fleet_junit(doc: dict) -> str:
    """One testsuite per cluster, named crigate-gate[<context>]."""
    return junit_xml([junit_suite(cluster, f"crigate-gate[{ctx}]") for ctx, cluster in cluster_documents(doc)])


FLEET_RENDERERS = {"text": fleet_text, "json": as_json, "sarif": fleet_sarif, "junit": fleet_junit,
                   "markdown": fleet_markdown, "html": fleet_html}


def write_fleet_reports(report_dir: Path, runtime: str, clusters: list, source: dict,
                        described: dict | None = None, started: float | None = None) -> dict:
    """write_reports for a fleet: results.json's gate section is the fleet's
    (findings naming their cluster), `fleet` holds each cluster's section, a
    result per area and cluster; returns the fleet document."""
    doc = fleet_document(clusters, source)
    gate = {k: doc[k] for k in ("verdict", "target_runtime", "findings", "undecided", "notes", "nodes", "checklist")}
    gate["node_facts"] = {f"{c.context}/{n}": facts for c in clusters for n, facts in c.verdict.node_facts.items()}
    results = [{**r, "cluster": c.context} for c in clusters for r in area_results(c.verdict, runtime)]
    write_results(report_dir, results, {runtime: gate}, described, started,
                  fleet={c.context: gate_section(c.verdict) for c in clusters})
    for name, fmt in (("report.md", fleet_markdown), ("report.html", fleet_html), ("junit.xml", fleet_junit)):
        (report_dir / name).write_text(fmt(doc))
    return doc
