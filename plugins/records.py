"""What checks record for the report: one typed record per kind of
measurement or gate fact, in the spirit of pytest's record_property.

A check calls the `record_measurement` fixture with a record, e.g.
`record_measurement(Latency(samples=[...]))`. The record travels as a user
property (its key, plain JSON data), so xdist carries it to the controller,
where the Reporter rebuilds it by key (`rebuilt`) and lets it merge itself
into its own store. results.json, report.md and report.html take what each
record type adds (`section`, `markdown`, `html`).

Adding a measurement touches this module only: a dataclass decorated with
@recorded, with its key and fields and, where the defaults do not fit, how
it merges, what it adds to results.json and how a person reads it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar

from . import stats

# Every check's identity, tagged at collection (not records: the Reporter keys results by them)
RUNTIME_TAG = "crigate_runtime"
AREA_TAG = "crigate_area"
OBSERVED_TAG = "crigate_observed"     # what a check saw when it passed (the observed fixture)

RECORDS: dict[str, type[Record]] = {}      # user-property key -> record type


def recorded(cls: type[Record]) -> type[Record]:
    """Register a record type under its key (one key, one type)."""
    assert cls.key not in RECORDS, f"record key {cls.key} is taken by {RECORDS[cls.key].__name__}"
    RECORDS[cls.key] = cls
    return cls


@dataclass
class Record:
    """One fact a check recorded. Defaults: the data is the dataclass's
    fields; the store holds, per runtime, the last one recorded; nothing is
    added to the report files."""
    key: ClassVar[str]
    calls_only: ClassVar[bool] = True      # count it from the test's call only (not setup/teardown)
    per_runtime: ClassVar[bool] = True     # dropped from a check that has no runtime

    def data(self):
        """Plain JSON-able data: what crosses xdist."""
        return asdict(self)

    @classmethod
    def from_data(cls, data) -> Record:
        return cls(**data)

    def as_property(self) -> tuple[str, object]:
        return self.key, self.data()

    @classmethod
    def new_store(cls):
        return {}

    def merge(self, store, runtime: str | None, check: str) -> None:
        store[runtime] = self.data()

    @classmethod
    def section(cls, store) -> dict:
        """Top-level keys this record type adds to results.json."""
        return {}

    @staticmethod
    def markdown(doc: dict) -> list[str]:
        """Lines of report.md, read from results.json's document."""
        return []

    @staticmethod
    def html(doc: dict) -> str:
        """A block of report.html, read from results.json's document."""
        return ""


@dataclass
class ValueRecord(Record):
    """A record of one field, carried as that field's value (a list or a
    mapping as the report files keep it), not as a mapping of fields."""

    def data(self):
        return getattr(self, fields(self)[0].name)

    @classmethod
    def from_data(cls, data) -> ValueRecord:
        return cls(data)


def rebuilt(user_properties: Iterable[tuple[str, object]]) -> list[Record]:
    """The records among a report's user properties (other properties pass by)."""
    return [RECORDS[key].from_data(value) for key, value in user_properties if key in RECORDS]


def new_stores() -> dict[type[Record], object]:
    return {cls: cls.new_store() for cls in RECORDS.values()}


# Latency measures compared across runtimes (ratio of medians, bootstrap CI):
# the verdict's measure, and the runtime's own share of it (create call to the
# container's startedAt), which leaves out the kubelet's status sync.
COMPARED_METRICS = {"ready_s": "create to Ready",
                    "runtime_start_after_create_s": "create to the runtime's container start"}


@recorded
@dataclass
class Latency(Record):
    """Pods one at a time: create->Ready seconds, and what explains them."""
    key: ClassVar[str] = "crigate_latency"
    samples: list[float]
    runtime_start_after_create_s: list[float] = field(default_factory=list)
    phases: list[dict] = field(default_factory=list)
    phase_summary: dict = field(default_factory=dict)
    kubelet_sli: dict | None = None
    low_level_runtime: str = ""
    runtime_profile: str = ""
    node: str = ""
    node_clock_offset_ms: float | None = None
    node_clock_uncertainty_ms: float | None = None

    @classmethod
    def section(cls, store: dict[str, dict]) -> dict:
        latency = {runtime: {"samples_s": m["samples"], **stats.summarize(m["samples"]).as_dict(),
                             **{k: v for k, v in m.items() if k != "samples"}}
                   for runtime, m in store.items()}
        comparisons = []
        runtimes = list(store)
        for i, a in enumerate(runtimes):
            for b in runtimes[i + 1:]:
                for metric, label in COMPARED_METRICS.items():
                    xs, ys = _metric(store[a], metric), _metric(store[b], metric)
                    if not xs or not ys:
                        continue
                    ratio = stats.median_ratio(xs, ys)
                    comparisons.append({"a": a, "b": b, "metric": metric, "label": label,
                                        "median_ratio": ratio.ratio, "ci": ratio.ci,
                                        "significant": ratio.significant})
        return {"latency": latency, "latency_comparisons": comparisons}


def _metric(measured: dict, metric: str) -> list[float]:
    return measured["samples"] if metric == "ready_s" else measured.get(metric) or []


@recorded
@dataclass
class Burst(Record):
    """Pods started at once, round after round, and what the node spent."""
    key: ClassVar[str] = "crigate_burst"
    rounds: list[dict]
    steady: dict = field(default_factory=dict)
    node: str = ""
    cost_processes: list[str] = field(default_factory=list)


@recorded
@dataclass
class CriBench(ValueRecord):
    """critest -benchmark: per file, per operation, seconds."""
    key: ClassVar[str] = "crigate_cri_bench"
    results: list[dict]


@recorded
@dataclass
class OciRuntimes(Record):
    """The same pods one at a time, alternately with runc (no RuntimeClass) and
    crun (RuntimeClass crun), and critest's benchmark with each handler."""
    key: ClassVar[str] = "crigate_oci_runtimes"
    handlers: dict = field(default_factory=dict)   # handler -> {samples, phases, phase_summary, cri_bench}


@recorded
@dataclass
class EventedPleg(Record):
    """Pods one at a time with the kubelet's EventedPLEG on."""
    key: ClassVar[str] = "crigate_evented_pleg"
    samples: list[float]
    phases: list[dict] = field(default_factory=list)
    phase_summary: dict = field(default_factory=dict)


@recorded
@dataclass
class NodeOutcomes(ValueRecord):
    """node -> outcome of one check on each node it ran on."""
    key: ClassVar[str] = "crigate_node_results"
    outcomes: dict[str, str]

    def merge(self, store, runtime, check) -> None:      # node -> runtime -> check -> outcome
        for node, outcome in self.outcomes.items():
            store.setdefault(node, {}).setdefault(runtime, {})[check] = outcome


@recorded
@dataclass
class Cluster(ValueRecord):
    """What a runtime's cluster is (provider facts, node versions): the
    cluster fixture records it; it rides on the next report."""
    key: ClassVar[str] = "crigate_cluster"
    calls_only: ClassVar[bool] = False
    per_runtime: ClassVar[bool] = False
    facts: dict        # "runtime" and the provider's facts

    def merge(self, store, runtime, check) -> None:
        store[self.facts["runtime"]] = self.facts

    @classmethod
    def section(cls, store) -> dict:
        return {"clusters": store}


@recorded
@dataclass
class GateVerdict(ValueRecord):
    """The gate engine's Verdict (crigate.gate.verdict.Verdict.as_dict), once
    per runtime: the reporter adds only what the run alone knows."""
    key: ClassVar[str] = "crigate_gate_verdict"
    calls_only: ClassVar[bool] = False
    verdict: dict
