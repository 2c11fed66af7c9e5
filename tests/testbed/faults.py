"""The faults crigate-gate is run through on a real test-bed API server, and
how each run goes: one table for tests/testbed/test_faults.py and
bench/faults.py (which writes the figures of docs/faults.md).

TCP faults come from Toxiproxy (crigate.testbed.toxiproxy; toxics and their
attributes from its README), HTTP answers from crigate's own fault proxy
(crigate.testbed.faultproxy). Each case says what the gate must give: the
clean run's verdict ("clean", and the same findings), or could not decide
(exit 2) naming what it could not read.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from crigate.facts import MANAGED_BY_SELECTOR
from crigate.gate.inventory import PAGE_SIZE
from crigate.testbed.faultproxy import Fault, FaultProxy, Upstream
from crigate.testbed.toxiproxy import Toxiproxy, api_address, kubeconfig_through

from .gate_seeds import seeds

REPO = Path(__file__).resolve().parents[2]
PAGED_CONFIG_MAPS = PAGE_SIZE + 200     # more than the gate's page: the ConfigMap list comes in two pages
CLEAN, UNDECIDED = "clean", "could not decide"
# What crigate may create in a cluster carries the managed-by label (crigate.facts);
# after every run none of these may hold one.
LEFTOVER_KINDS = ("pods,namespaces,configmaps,serviceaccounts,roles,rolebindings,clusterroles,"
                  "clusterrolebindings,runtimeclasses.node.k8s.io")


@dataclass(frozen=True)
class FaultCase:
    id: str
    fault: str                      # the fault, in the table's words
    injected: str                   # how it is injected
    expect: str                     # CLEAN or UNDECIDED
    names: str = ""                 # what an undecided verdict must name
    met: str = ""                   # what the verdict's notes must say was met and retried
    toxic: Callable[[dict], dict] | None = None     # sizes -> Toxiproxy toxic (type, attributes)
    http: tuple[Fault, ...] = ()    # the fault proxy's faults (copied for each run)
    args: tuple[str, ...] = ()      # more crigate-gate options


CASES = (
    FaultCase("latency", "100 ms (+/- 50 ms) on every answer", "Toxiproxy `latency` downstream", CLEAN,
              toxic=lambda sizes: {"type": "latency", "latency": 100, "jitter": 50}),
    FaultCase("bandwidth", "answers at 64 KB/s", "Toxiproxy `bandwidth` downstream, rate 64", CLEAN,
              toxic=lambda sizes: {"type": "bandwidth", "rate": 64}),
    FaultCase("closed-mid-list", "each connection closed after 1.5x the largest answer, so lists break "
              "in the middle and the paged ConfigMap list between its pages",
              "Toxiproxy `limit_data` downstream", CLEAN, met="connection",
              toxic=lambda sizes: {"type": "limit_data", "bytes": int(sizes["largest"] * 1.5)}),
    # reset_peer waits for a connection's first bytes, then resets it 1 s later without
    # passing them on (toxics/reset_peer.go): no TLS handshake completes; resets in the
    # middle of an answer are limit_data's (FIN) and the fault proxy's cut (RST)
    FaultCase("reset", "every connection reset (TCP RST) 1 s after the server's first bytes, "
              "which never arrive", "Toxiproxy `reset_peer` downstream, timeout 1000", UNDECIDED,
              names="unreachable", toxic=lambda sizes: {"type": "reset_peer", "timeout": 1000}),
    FaultCase("blackhole", "the API server stops answering: nothing gets through",
              "Toxiproxy `timeout` downstream, timeout 0", UNDECIDED, names="unreachable",
              toxic=lambda sizes: {"type": "timeout", "timeout": 0}),
    FaultCase("429-retry-after", "HTTP 429, Retry-After: 2, to the first two pod lists",
              "fault proxy", CLEAN, met="HTTP 429 x2", http=(Fault(429, r"/pods$", retry_after="2", times=2),)),
    FaultCase("500-page-2", "HTTP 500 to the ConfigMap list's second page", "fault proxy", CLEAN,
              met="HTTP 500", http=(Fault(500, r"/configmaps$", continued=True),)),
    FaultCase("503-twice", "HTTP 503 to the ConfigMap list's second page, twice", "fault proxy", CLEAN,
              met="HTTP 503 x2", http=(Fault(503, r"/configmaps$", continued=True, times=2),)),
    FaultCase("503-always", "HTTP 503 to every pod list", "fault proxy; --api-retry-budget 10", UNDECIDED,
              names="could not read: list pods (apiGroup 'core') cluster-wide: HTTP 503",
              http=(Fault(503, r"/pods$", times=0),), args=("--api-retry-budget=10",)),
    FaultCase("429-beyond-budget", "HTTP 429 to every pod list, Retry-After: 3600", "fault proxy", UNDECIDED,
              names="asked to retry after 3600 s", http=(Fault(429, r"/pods$", retry_after="3600", times=0),)),
    FaultCase("410-continue", "HTTP 410 Gone (continue token expired) to the ConfigMap list's second page",
              "fault proxy", CLEAN, met="HTTP 410 on a continue token",
              http=(Fault(410, r"/configmaps$", continued=True),)),
    FaultCase("stall", "no answer for 8 s to the ConfigMap list's second page", "fault proxy; --api-timeout 3",
              CLEAN, met="timed out", http=(Fault("stall", r"/configmaps$", continued=True, stall_s=8),),
              args=("--api-timeout=3",)),
    FaultCase("cut-mid-page", "half of the ConfigMap list's second page, then a TCP reset", "fault proxy",
              CLEAN, met="connection", http=(Fault("cut", r"/configmaps$", continued=True),)),
)


@dataclass
class Outcome:
    code: int
    verdict: str
    undecided: list[str]
    notes: list[str]
    findings: set[tuple[str, str, str]]
    seconds: float
    injected_met: list[str] = field(default_factory=list)     # what the fault proxy did

    @property
    def said(self) -> str:
        return " ".join(self.notes)


def gate(kubeconfig: Path, runtime: str, report_dir: Path, *args: str) -> Outcome:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "crigate.gate.cli", f"--kubeconfig={kubeconfig}",
                           f"--runtime={runtime}", f"--report-dir={report_dir}", "-o", "json", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    try:
        doc = json.loads(done.stdout)
    except ValueError:          # stopped before any report: bad input or an API that never answered
        said = [line.removeprefix("crigate-gate: ") for line in done.stderr.splitlines() if line.strip()]
        doc = {"verdict": "UNDECIDED" if done.returncode == 2 else f"no JSON (exit {done.returncode})",
               "undecided": said[-1:]}
    findings = {(f["check"], f["object"], f["severity"]) for f in doc.get("findings", [])}
    return Outcome(done.returncode, doc.get("verdict", ""), doc.get("undecided", []), doc.get("notes", []),
                   findings, seconds)


def run_case(case: FaultCase, kubeconfig: Path, runtime: str, workdir: Path, sizes: dict,
             *extra: str) -> Outcome:
    """crigate-gate through the case's fault; the proxy (and Toxiproxy) gone after."""
    workdir.mkdir(parents=True, exist_ok=True)
    if case.toxic:
        toxic = dict(case.toxic(sizes))
        with Toxiproxy(api_address(kubeconfig)) as proxy:
            proxy.add(toxic.pop("type"), **toxic)
            via = kubeconfig_through(kubeconfig, f"https://{proxy.listen}", workdir / "kubeconfig")
            return gate(via, runtime, workdir / "report", *case.args, *extra)
    faults = [replace(f, hits=0) for f in case.http]        # each run counts its own hits
    with FaultProxy(Upstream.from_kubeconfig(kubeconfig), faults, workdir) as proxy:
        outcome = gate(proxy.kubeconfig(workdir / "kubeconfig"), runtime, workdir / "report", *case.args, *extra)
    outcome.injected_met = list(proxy.met)
    return outcome


def judged(case: FaultCase, outcome: Outcome, clean: Outcome) -> list[str]:
    """What is wrong with the outcome for this case ([] when it is as it must be)."""
    wrong = []
    if case.expect == CLEAN:
        if (outcome.code, outcome.verdict) != (clean.code, clean.verdict):
            wrong.append(f"expected the clean verdict {clean.verdict} (exit {clean.code}), observed "
                         f"{outcome.verdict} (exit {outcome.code}); could not read: {outcome.undecided}")
        elif outcome.findings != clean.findings:
            wrong.append(f"same verdict, other findings: missing {sorted(clean.findings - outcome.findings)}, "
                         f"added {sorted(outcome.findings - clean.findings)}")
        if case.met and case.met not in outcome.said:
            wrong.append(f"expected the notes to say {case.met!r} was met, observed {outcome.notes}")
    else:
        if outcome.code != 2 or outcome.verdict != "UNDECIDED":
            wrong.append(f"expected could not decide (exit 2), observed {outcome.verdict} (exit {outcome.code})")
        if not any(case.names in reason for reason in outcome.undecided):
            wrong.append(f"expected the verdict to name {case.names!r}, observed {outcome.undecided}")
    if case.http and not outcome.injected_met:
        wrong.append("the fault proxy never injected its fault: the run proves nothing")
    return wrong


class Bed:
    """A test-bed cluster made ready for the faults: a namespace of
    PAGED_CONFIG_MAPS ConfigMaps (lists in pages), and, when coupled, a
    namespace of the gate's seeds (NO-GO); each removed on close()."""

    def __init__(self, kubectl, kubeconfig: Path, runtime: str, workdir: Path):
        self.kubectl, self.kubeconfig, self.runtime, self.workdir = kubectl, kubeconfig, runtime, workdir
        suffix = uuid.uuid4().hex[:6]
        self.pages, self.seeded = f"gate-faults-pages-{suffix}", f"gate-faults-seeds-{suffix}"
        self.coupled = False
        self.cleans: dict[tuple, Outcome] = {}
        kubectl("create", "namespace", self.pages)
        config_maps = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"page-filler-{i}"},
                        "data": {"note": "makes the ConfigMap list longer than one page"}}
                       for i in range(PAGED_CONFIG_MAPS)]
        kubectl("create", "-n", self.pages, "-f", "-", timeout=600,
                input=json.dumps({"apiVersion": "v1", "kind": "List", "items": config_maps}))
        self.sizes = self.answer_sizes()

    def answer_sizes(self) -> dict:
        """Bytes of the largest answers the gate reads (for limit_data)."""
        sizes = {path: len(self.kubectl("get", "--raw", f"{path}?limit={PAGE_SIZE}"))
                 for path in ("/api/v1/pods", "/api/v1/configmaps", "/api/v1/events", "/api/v1/nodes")}
        return {"largest": max(sizes.values()), **sizes}

    def couple(self, coupled: bool) -> None:
        """Seeds in (NO-GO) or out (GO)."""
        if coupled == self.coupled:
            return
        if coupled:
            self.kubectl("create", "namespace", self.seeded)
            self.kubectl("apply", "-n", self.seeded, "-f", "-",
                         input=json.dumps({"apiVersion": "v1", "kind": "List", "items": seeds()}))
        else:
            self.kubectl("delete", "namespace", self.seeded, "--wait=true", timeout=300)
        self.coupled = coupled

    def clean(self, *extra: str) -> Outcome:
        """The verdict with no fault (measured once per state and options)."""
        key = (self.coupled, extra)
        if key not in self.cleans:
            self.cleans[key] = gate(self.kubeconfig, self.runtime,
                                    self.workdir / f"clean-{len(self.cleans)}", *extra)
        return self.cleans[key]

    def leftovers(self) -> list[str]:
        return self.kubectl("get", LEFTOVER_KINDS, "-A", "-l", MANAGED_BY_SELECTOR, "-o", "name").split()

    def close(self) -> None:
        if self.coupled:
            self.kubectl("delete", "namespace", self.seeded, "--wait=false", check=False)
        self.kubectl("delete", "namespace", self.pages, "--wait=true", timeout=300, check=False)
