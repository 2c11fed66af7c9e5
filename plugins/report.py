"""Per-runtime results: terminal matrix, results.json, report.md, report.html.

Shaped like pytest's junitxml: registered once on the controller, it collects
test reports (xdist forwards them with their user_properties) and writes every
file once at session end, printing where. JUnit XML is pytest's own, pointed
at the report directory unless --junitxml is given.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from crigate.testbed.versions import profile

from . import performance, perfrender, records, render, stats
from .gate import engine
from .gate import outputs as gate_outputs
from .gate.verdict import Verdict
from .options import DEFAULT_REPORT_DIR

GATE_UNDECIDED_EXIT = 2     # pytest's own 0 (GO) and 1 (NO-GO) stand

RUNTIME_PROP, AREA_PROP = records.RUNTIME_TAG, records.AREA_TAG
AREA_MARKERS = {      # check area (pytest marker) -> what it covers
    "sockets": "runtime identity and Docker sockets",
    "logs": "log paths and format",
    "namespaces": "containerd and Linux namespaces",
    "latency": "pod start latency",
    "gpu": "GPU runtime classes",
    "gate": "upgrade gate: what breaks when the nodes leave Docker",
    "cri": "CRI validation with critest (optional: runs only when selected with -m cri)",
}
AREAS = tuple(AREA_MARKERS)
REPORTER_NAME = "crigate-reporter"


def crigate_run(config: pytest.Config) -> bool:
    """A run of crigate's checks (not some other project's tests in an
    environment where crigate's plugin is installed): --runtime or
    --report-dir given, or pytest started in crigate's own tree."""
    return bool(config.getoption("runtime") or config.getoption("report_dir") != DEFAULT_REPORT_DIR
                or (config.rootpath / "plugins" / "pytest_plugin.py").is_file())


def register(config: pytest.Config, settings) -> None:
    if config.option.xmlpath is None and not getattr(config.option, "collectonly", False) \
            and crigate_run(config):
        config.option.xmlpath = str(settings.report_dir / "junit.xml")
    config.pluginmanager.register(Reporter(config, settings), REPORTER_NAME)


def record_cluster(config: pytest.Config, runtime: str, facts: dict) -> None:
    """Called from the cluster fixture; facts travel with the next report."""
    config.stash.setdefault(_PENDING_FACTS, {})[runtime] = facts


_PENDING_FACTS = pytest.StashKey[dict]()


def check_name(nodeid: str) -> str:
    """suites/test_logs.py::test_x[containerd] -> logs::test_x"""
    path, _, name = nodeid.partition("::")
    module = Path(path).stem.removeprefix("test_")
    return f"{module}::{name.split('[', 1)[0]}"


def tag_items(items) -> None:
    """Tag each item with its runtime and area so reports carry them (xdist too)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        runtime = callspec.params.get("runtime") if callspec else None
        if runtime:
            item.user_properties.append((RUNTIME_PROP, runtime))
            area = next((m.name for m in item.iter_markers()
                         if m.name in AREAS), "")
            item.user_properties.append((AREA_PROP, area))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    facts = item.config.stash.get(_PENDING_FACTS, None)
    if facts:
        rep = outcome.get_result()
        for runtime, described in facts.items():
            rep.user_properties.append(records.Cluster({"runtime": runtime, **described}).as_property())
        facts.clear()


def _message(rep) -> str:
    if getattr(rep, "wasxfail", None):            # the reason first, then what was observed
        crash = getattr(getattr(rep, "longrepr", None), "reprcrash", None)
        return rep.wasxfail + (f"; observed: {crash.message}" if crash is not None else "")
    if rep.skipped and isinstance(rep.longrepr, tuple):
        return rep.longrepr[2].removeprefix("Skipped: ")
    crash = getattr(getattr(rep, "longrepr", None), "reprcrash", None)
    if crash is not None:
        return crash.message
    return (rep.longreprtext or "").strip().splitlines()[-1] if rep.longreprtext else ""


def observed_of(report) -> str:
    """What a passing check said it observed (the `observed` fixture), else ''."""
    return "; ".join(str(v) for k, v in report.user_properties if k == records.OBSERVED_TAG)


class Reporter:
    def __init__(self, config: pytest.Config, settings):
        self.config, self.settings = config, settings
        self.results: dict[tuple[str, str], dict] = {}
        self.collected = records.new_stores()      # record type -> its store
        self.interrupted = False                   # Ctrl-C: a gate verdict would be partial
        self.finished = False                      # sessionfinish reached: the verdicts stand
        self._gate: dict | None = None
        self.started = time.time()

    # the stores the gate verdict and the per-node table read
    clusters = property(lambda self: self.collected[records.Cluster])
    verdicts = property(lambda self: self.collected[records.GateVerdict])    # runtime -> Verdict dict
    node_results = property(lambda self: self.collected[records.NodeOutcomes])
    latency = property(lambda self: self.collected[records.Latency])

    def pytest_runtest_logreport(self, report) -> None:
        tags = dict(p for p in report.user_properties if p[0] in (RUNTIME_PROP, AREA_PROP))
        runtime = tags.get(RUNTIME_PROP)
        for record in records.rebuilt(report.user_properties):
            if (record.calls_only and report.when != "call") or (record.per_runtime and not runtime):
                continue
            record.merge(self.collected[type(record)], runtime, check_name(report.nodeid))
        if not runtime:
            return
        key = (check_name(report.nodeid), runtime)
        outcome = self._outcome(report)
        if outcome is None:
            return
        previous = self.results.get(key)
        if previous and previous["outcome"] in ("failed", "error") and outcome == "passed":
            return        # a setup/teardown error stays visible
        self.results[key] = {"check": key[0], "runtime": runtime, "area": tags.get(AREA_PROP, ""),
                             "nodeid": report.nodeid, "outcome": outcome,
                             "message": _message(report) if outcome != "passed" else observed_of(report),
                             "duration_s": round(report.duration, 3)}

    @staticmethod
    def _outcome(report) -> str | None:
        if report.when == "call":
            if hasattr(report, "wasxfail"):
                return "xfailed" if report.skipped else "xpassed"
            return report.outcome
        if report.failed:
            return "error"
        if report.skipped and report.when == "setup":
            return "skipped"
        return None

    def matrix(self) -> tuple[list[str], list[str], dict]:
        runtimes = [r for r in self.settings.runtimes if any(k[1] == r for k in self.results)]
        checks = sorted({k[0] for k in self.results})
        return checks, runtimes, {k: v["outcome"] for k, v in self.results.items()}

    def gate(self) -> dict:
        """Per runtime: GO, NO-GO or UNDECIDED, with findings and reasons;
        computed once the session has finished (exit code, files, summary)."""
        if self._gate is None or not self.finished:
            self._gate = self._verdicts()
        return self._gate

    def _verdicts(self) -> dict:
        """The engine's recorded Verdict per runtime, plus what only the run
        knows: checks that could not run, Ctrl-C; the engine's rule decides."""
        sections = {}
        for runtime in self.settings.runtimes:
            results = [r for r in self.results.values()
                       if r["runtime"] == runtime and r["area"] == "gate"]
            if not results:
                continue
            recorded = self.verdicts.get(runtime)
            verdict = (Verdict.from_dict(recorded) if recorded else engine.undecided(
                profile(runtime).migration_target, "no gate verdict was recorded: the audit did not run"))
            errors = [r["message"].removeprefix("Failed: ") for r in results if r["outcome"] == "error"]
            verdict = verdict.also_unread(*errors)
            if self.interrupted:
                verdict = replace(verdict, interrupted=True)
            sections[runtime] = gate_outputs.gate_section(verdict)
        return sections

    def per_node(self) -> list[dict]:
        """Each node checked: its runtime and group (from the cluster facts) and
        the outcome of every check that ran on each node."""
        facts = {}
        for cluster in self.clusters.values():
            for node, version in cluster.get("node_runtimes", {}).items():
                facts[node] = {"runtime_version": version,
                               "group": cluster.get("node_groups", {}).get(node, "")}
        rows = []
        for node, by_runtime in sorted(self.node_results.items()):
            for runtime, checks in sorted(by_runtime.items()):
                rows.append({"node": node, "checked_as": runtime, **facts.get(node, {}),
                             "checks": checks,
                             "failed": sorted(c for c, o in checks.items() if o in ("failed", "error"))})
        return rows

    def document(self) -> dict:
        doc = {**gate_outputs.results_header(self.started), "kubernetes_minor": self.settings.k8s_minor,
               "latency_slo_s": self.settings.latency_slo,
               "measurement": self.settings.measurement.as_dict(),
               "results": list(self.results.values())}
        for kind, store in self.collected.items():
            doc.update(kind.section(store))
        return {**doc, "gate": self.gate(), "nodes": self.per_node(), "performance": self.performance()}

    def performance(self) -> dict:
        """Computed once, at the end (bootstraps are not free)."""
        if getattr(self, "_performance", None) is None:
            got = self.collected
            self._performance = performance.document(
                got[records.Latency], got[records.Burst], got[records.CriBench],
                self.settings.max_ratios, evented=got[records.EventedPleg], oci=got[records.OciRuntimes])
        return self._performance

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session) -> None:
        self.interrupted = session.exitstatus == pytest.ExitCode.INTERRUPTED
        self.finished = True
        if not self.results:
            return
        verdicts = [g["verdict"] for g in self.gate().values()]
        if "UNDECIDED" in verdicts and "NO-GO" not in verdicts and session.exitstatus in (0, 1):
            session.exitstatus = GATE_UNDECIDED_EXIT
        # --latency-max-ratio: exceeded, or asked for and not measurable in this run
        if any(limit["exceeded"] is not False for limit in self.performance()["limits"]) \
                and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        out = Path(self.settings.report_dir)
        out.mkdir(parents=True, exist_ok=True)
        doc = self.document()
        (out / "results.json").write_text(json.dumps(doc, indent=2, default=list) + "\n")
        (out / "report.md").write_text(render.markdown(doc))
        (out / "report.html").write_text(render.html(doc))
        self.written = out

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.results:
            return
        checks, runtimes, cells = self.matrix()
        tr = terminalreporter
        tr.section("crigate: checks x runtime")
        width = max(len(c) for c in checks)
        tr.write_line(f"{'check'.ljust(width)}  " + "  ".join(r.ljust(10) for r in runtimes))
        for check in checks:
            row = "  ".join(cells.get((check, r), "-").ljust(10) for r in runtimes)
            tr.write_line(f"{check.ljust(width)}  {row}")
        for runtime, measured in self.latency.items():
            s = stats.summarize(measured["samples"])
            tr.write_line(f"latency [{runtime}] n={s.n} p50={s.p50:.3f}s p90={s.p90:.3f}s "
                          f"p99={s.p99:.3f}s max={s.max:.3f}s p50 95% CI "
                          f"[{s.p50_ci[0]:.3f}, {s.p50_ci[1]:.3f}]")
        for line, bad in perfrender.performance_lines(self.performance()):
            tr.write_line(line, red=bad, bold=bad)
        for runtime, gate in self.gate().items():
            for line, colour in gate_outputs.terminal_lines(runtime, gate):
                tr.write_line(line, **({colour: True, "bold": line[0] != " "} if colour else {}))
        if getattr(self, "written", None):
            tr.write_line(f"crigate report: {self.written}/report.html "
                          "(also results.json, report.md)")
