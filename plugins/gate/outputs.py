"""The gate's verdict for machines and people: text, json, sarif, junit, markdown.

Every format is rendered from one document, the gate section of results.json
(`gate_document`), so they cannot disagree. JSON follows
plugins/gate/gate-output.schema.json (SCHEMA below names its version).
"""
from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from .. import render
from . import family

SCHEMA = "crigate-gate/v1"
FORMATS = ("text", "json", "sarif", "junit", "markdown")
INFO_URI = "https://github.com/crigate/crigate#the-upgrade-gate"
# SARIF 2.1.0 (OASIS): result.level is one of none|note|warning|error;
# suppressions[].kind "external" marks a suppression kept outside the source.
SARIF_VERSION = "2.1.0"
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
        lines.append(f"[{label}] {f['check']}: {f['object']}{at}\n    depends on: {f['depends_on']}\n"
                     f"    why: {f['why']}\n    fix: {f['remediation']}")
    lines += [f"could not decide: {r}" for r in doc["undecided"]]
    return "\n".join(lines) + "\n"


def as_json(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def markdown(doc: dict) -> str:
    gate = {**doc, "findings": doc["findings"]}
    return "\n".join(["# crigate gate", *render.gate_markdown({doc["target_runtime"]: gate})]) + "\n"


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
                                      f"Fix: {f['remediation']}"},
                  "locations": [_sarif_location(f)]}
        if f.get("suppressed"):
            result["suppressions"] = [{"kind": "external", "justification": f["suppressed"]}]
        results.append(result)
    run = {"tool": {"driver": {"name": "crigate-gate", "informationUri": INFO_URI, "rules": rules}},
           "results": results,
           "properties": {"verdict": doc["verdict"], "targetRuntime": doc["target_runtime"],
                          "undecided": doc["undecided"]}}
    return json.dumps({"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}, indent=2) + "\n"


def junit(doc: dict) -> str:
    """One testcase per finding (classname: the check): breaks fail, review
    passes with its text, suppressed is skipped with the reason; could-not-
    decide is an error."""
    suite = ET.Element("testsuite", name="crigate-gate")
    failures = errors = skipped = 0
    for f in doc["findings"]:
        case = ET.SubElement(suite, "testcase", classname=f"crigate-gate.{f['check']}", name=f["object"])
        message = f"depends on {f['depends_on']}; {f['why']}. Fix: {f['remediation']}"
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
        case = ET.SubElement(suite, "testcase", classname="crigate-gate", name="could not decide")
        ET.SubElement(case, "error", message=reason).text = reason
        errors += 1
    if not len(suite):
        ET.SubElement(suite, "testcase", classname="crigate-gate", name=f"verdict {doc['verdict']}")
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    root = ET.Element("testsuites", name="crigate-gate")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


RENDERERS = {"text": text, "json": as_json, "sarif": sarif, "junit": junit, "markdown": markdown}


def render_as(fmt: str, doc: dict) -> str:
    return RENDERERS[fmt](doc)
