"""How a run ends when it is cancelled the way CI systems cancel: SIGINT or
SIGTERM, to the pytest process alone or to its whole process group.

- SIGTERM is made an interrupt like Ctrl-C (Python would otherwise end at once,
  running no teardown): GitHub Actions, GitLab and Jenkins send SIGTERM (or
  SIGINT first) to cancel a job, then SIGKILL after a grace period.
- While crigate deletes what it made, a signal is held until the delete is
  done, then raised: an interrupted delete is what leaves clusters behind.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def sigterm_interrupts() -> None:
    """SIGTERM raises KeyboardInterrupt, as SIGINT does (where no one else handles it)."""
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _interrupt)


@contextmanager
def held_signals(doing: str, *, reraise: bool = True):
    """Run the block to its end; a SIGINT/SIGTERM that comes meanwhile is said,
    then raised as KeyboardInterrupt after the block (reraise=False: the run is
    ending anyway; it is said only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []

    def hold(signum, frame):
        if not came:
            print(f"crigate: {signal.Signals(signum).name} received; finishing {doing} first",
                  file=sys.stderr, flush=True)
        came.append(signum)

    previous = {s: signal.signal(s, hold) for s in CANCEL_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if came and reraise:
        raise KeyboardInterrupt(f"signal {signal.Signals(came[0]).name} (held while {doing})")
