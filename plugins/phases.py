"""Where a pod's start time goes: its transitions, each from the clock that
sees it best.

- created: the client's create call (this machine's clock)
- scheduled: the watch event that first shows spec.nodeName (this machine)
- sandbox: the runtime's PodSandboxStatus.createdAt (node clock, ns)
- container created / started: ContainerStatus.createdAt / startedAt (node)
- ready: the watch event that shows the pod Ready (this machine)

Node times are moved onto this machine's clock by the measured offset. API
timestamps (conditions, events) are second-precision and are not used.
Phase names follow clusterloader2's pod startup transitions where one exists
(create_to_schedule, schedule_to_run, run_to_watch, pod_startup); the finer
ones split schedule_to_run at the runtime's own timestamps.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import stats

# the chain, in order: (phase, from, to); the finer split of schedule_to_run
CHAIN = (
    ("create_to_schedule", "created", "scheduled"),
    ("schedule_to_sandbox", "scheduled", "sandbox"),
    ("sandbox_to_container", "sandbox", "container_created"),
    ("container_to_run", "container_created", "started"),
    ("run_to_watch", "started", "ready"),
)
SUMMARY = (("schedule_to_run", "scheduled", "started"), ("pod_startup", "created", "ready"))
PHASES = tuple(p for p, _, _ in CHAIN) + tuple(p for p, _, _ in SUMMARY)


@dataclass(frozen=True)
class PodTimes:
    """One pod's transition times, ns, all on this machine's clock."""
    created: int
    scheduled: int
    sandbox: int
    container_created: int
    started: int
    ready: int

    @classmethod
    def from_node(cls, created: int, scheduled: int, ready: int, *, sandbox: int,
                  container_created: int, started: int, offset_ns: int) -> PodTimes:
        """Client times as they are; node times less the node's clock offset."""
        return cls(created, scheduled, sandbox - offset_ns, container_created - offset_ns,
                   started - offset_ns, ready)

    def phases(self) -> dict[str, float]:
        """phase -> seconds (may be slightly negative where two clocks meet)."""
        return {name: round((getattr(self, b) - getattr(self, a)) / 1e9, 4)
                for name, a, b in (*CHAIN, *SUMMARY)}


def summarize(pods: list[dict[str, float]]) -> dict[str, dict]:
    """phase -> {p50, p90, p99, n} over the pods' phase dicts."""
    found = {}
    for phase in PHASES:
        values = [p[phase] for p in pods if phase in p]
        if values:
            found[phase] = stats.percentiles(values)
    return found
