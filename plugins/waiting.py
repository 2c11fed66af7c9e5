"""Waiting for node state: one helper, so every wait on a node reads the same.

API state is waited for with the kubernetes client's watch (plugins/kube.py);
what only the node shows (a log file's contents, a socket, a process) is read
again until it holds. A wait that runs out says what it waited for and what it
saw last, never just "timeout".
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

NODE_WAIT_S = 60.0          # generous: a wait that holds returns at once
POLL_S = (0.05, 0.1, 0.2, 0.5)   # back off to 0.5 s between reads


def until(observe: Callable[[], T], holds: Callable[[T], bool], what: str,
          timeout: float = NODE_WAIT_S) -> T:
    """Call observe() until holds(its value); return that value. Raise
    AssertionError naming `what` and the last value seen when time runs out."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        observed = observe()
        if holds(observed):
            return observed
        if time.monotonic() > deadline:
            shown = repr(observed)
            raise AssertionError(f"{what}: expected within {timeout:.0f}s, last observed "
                                 f"{shown[:300]}{'...' if len(shown) > 300 else ''}")
        time.sleep(POLL_S[min(attempt, len(POLL_S) - 1)])
        attempt += 1
