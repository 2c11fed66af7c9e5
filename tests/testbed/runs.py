"""How the test bed's own tests run crigate in a subprocess."""
from __future__ import annotations

import signal
import subprocess
from contextlib import contextmanager

# the performance measurements on a small N: they must run, not take minutes; the
# SLO is wide, since these runs check permissions and leftovers, not speed (they
# share 2 cores with the other worker, which may be creating a cluster)
SMALL_PERF = ("--latency-burst=3", "--latency-burst-rounds=1", "--cri-bench=2", "--latency-slo=120")


@contextmanager
def reaped(args: list[str], **popen_kwargs):
    """A child run that does not outlive the test: if the test fails while it
    runs, it gets Ctrl-C (so it deletes what it made), then SIGKILL."""
    run = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           **popen_kwargs)
    try:
        yield run
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            try:
                run.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                run.kill()
                run.communicate()
