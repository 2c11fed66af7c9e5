"""A fleet in one run: the gate over several kubeconfig contexts, a few at a
time, one verdict per cluster and one for the fleet.

Each cluster is read by its own call (its own kubernetes Configuration and
ApiClient, never the client's global default): a tool that cached its client
kept reporting the first cluster for every one after it.
"""
from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass

from .verdict import AreaResult, Kind, RuleCrash, Verdict

PARALLEL = 4            # clusters read at the same time (threads: the reads wait on the network)
READ = "cluster read"   # the area named when reading a cluster crashed (a bug of crigate's)

# The fleet's verdict: the first of these that any cluster has. It is the
# single-cluster rule (verdict.Verdict.kind) one level up: a cluster where
# something breaks makes the fleet NO-GO even when another cluster could not
# be read, as a finding that breaks decides a cluster whose other parts could
# not be read; the fleet cannot go while one cluster is known to break, and
# every unread cluster is still named. Then crigate's own error before could
# not decide: a bug must be reported, not retried. GO only when all are GO.
FLEET_ORDER = (Kind.NO_GO, Kind.OWN_ERROR, Kind.UNDECIDED, Kind.GO)


def fleet_kind(kinds) -> Kind:
    """The fleet's verdict from its clusters' (an empty fleet decides nothing)."""
    kinds = set(kinds)
    return next((k for k in FLEET_ORDER if k in kinds), Kind.UNDECIDED)


@dataclass(frozen=True)
class ClusterVerdict:
    context: str
    verdict: Verdict


def crashed(target: str, err: Exception) -> Verdict:
    """A cluster whose read raised what crigate did not expect: its own error."""
    return Verdict(target, (AreaResult(READ, crash=RuleCrash(READ, f"{type(err).__name__}: {err}")),))


def read_fleet(contexts: list[str], read_one: Callable[[str], Verdict], target: str,
               progress: Callable[[ClusterVerdict, int, int], None],
               parallel: int | None = None) -> list[ClusterVerdict]:
    """read_one(context) for each context, `parallel` (default PARALLEL) at a
    time; the verdicts in the order of contexts. A cluster that raises is that
    cluster's error only. Ctrl-C cancels the clusters not yet started and is
    raised; those in flight finish (their debug pods go). progress(cluster,
    n read, of N) after each."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel or PARALLEL),
                                                 thread_name_prefix="crigate-fleet")
    futures = {pool.submit(read_one, c): c for c in contexts}
    verdicts: dict[str, Verdict] = {}
    try:
        for done in concurrent.futures.as_completed(futures):
            context = futures[done]
            try:
                verdicts[context] = done.result()
            except Exception as err:           # a bug of crigate's on this cluster alone
                verdicts[context] = crashed(target, err)
            progress(ClusterVerdict(context, verdicts[context]), len(verdicts), len(contexts))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [ClusterVerdict(c, verdicts[c]) for c in contexts]
