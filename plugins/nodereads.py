"""Work on many nodes at once: each node in its own thread (bounded), progress
as nodes answer, and a node that fails or does not answer in time recorded
against that node alone, never holding the others up."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

NODE_CONCURRENCY = 16       # nodes read at once: debug pods created and exec'd together
NODE_TIMEOUT_S = 300        # one node's work from its start: a debug pod's start (120 s), a command (120 s)
PROGRESS_EVERY_S = 2.0      # also how often nodes past their time are looked for


class NodeUnreadable(AssertionError):
    """A node that could not be read: its checks fail with this, naming node and reason."""


def unreadable(node: str, what: str, reason) -> NodeUnreadable:
    return NodeUnreadable(f"node {node}: {what}: could not be read: {reason}")


class NodeResults(dict):
    """node -> what the work returned, or the NodeUnreadable it met; of(node) raises the latter."""

    def of(self, node: str):
        found = self[node]
        if isinstance(found, NodeUnreadable):
            raise found
        return found

    @property
    def failed(self) -> dict[str, NodeUnreadable]:
        return {n: r for n, r in self.items() if isinstance(r, NodeUnreadable)}


def across_nodes(nodes: Iterable[str], work: Callable[[str], object], *, what: str,
                 concurrency: int = NODE_CONCURRENCY, timeout: float = NODE_TIMEOUT_S,
                 progress: Callable[[str], None] | None = None,
                 keep: tuple[type[BaseException], ...] = ()) -> NodeResults:
    """work(node) for every node, `concurrency` at a time. An exception in
    `keep` is re-raised as it is (pytest's skip, an assertion a caller reads);
    any other becomes that node's NodeUnreadable, as does a node still working
    `timeout` seconds after its work began (a node waiting for a free thread is
    not counted; its thread is left to end on its own)."""
    nodes = list(nodes)
    results = NodeResults()
    if not nodes:
        return results
    began: dict[str, float] = {}

    def timed(node: str):
        began[node] = time.monotonic()
        return work(node)

    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(nodes))),
                              thread_name_prefix="crigate-node")
    pending = {pool.submit(timed, node): node for node in nodes}
    started = said = time.monotonic()
    try:
        while pending:
            done, _ = wait(pending, timeout=PROGRESS_EVERY_S, return_when=FIRST_COMPLETED)
            for future in done:
                node = pending.pop(future)
                try:
                    results[node] = future.result()
                except keep:
                    raise
                except AssertionError as err:
                    results[node] = NodeUnreadable(str(err))
                except Exception as err:   # one node's fault is that node's, reported with it
                    results[node] = unreadable(node, what, f"{type(err).__name__}: {err}")
            now = time.monotonic()
            for future, node in list(pending.items()):
                if node in began and now - began[node] >= timeout:
                    del pending[future]
                    results[node] = unreadable(node, what, f"no answer within {timeout:g}s")
            if progress and now - started >= PROGRESS_EVERY_S and (not pending or now - said >= PROGRESS_EVERY_S):
                progress(f"crigate: {what}: {len(results)} of {len(nodes)} nodes"
                         + (f" ({len(results.failed)} unreadable)" if results.failed else ""))
                said = now
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return NodeResults((n, results[n]) for n in nodes)
