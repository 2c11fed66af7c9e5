"""Under xdist, each runtime's checks run on one worker, so each cluster is
created once per session.

xdist's own `--dist loadgroup` renames item nodeids ("...@group"), which pytest
9 no longer lets a plugin do, so crigate brings its scheduler through xdist's
public hook `pytest_xdist_make_scheduler`: xdist's scope scheduling, with a
test's scope being its runtime (read from the parameter id in its nodeid) or,
for a test that takes no runtime, its module (so one module's tests stay
together, as with --dist loadfile).
"""
from __future__ import annotations

import re

from crigate.testbed.versions import NODE_RUNTIMES
from xdist.scheduler import LoadScopeScheduling

# longest first, so a runtime whose name holds another's is found whole
_RUNTIME_IDS = sorted(NODE_RUNTIMES, key=len, reverse=True)
_PARAMS = re.compile(r"\[(?P<ids>.*)\]$")


def runtime_of(nodeid: str) -> str | None:
    """'suites/test_logs.py::test_x[cri-o]' -> 'cri-o'; None without a runtime id.

    The runtime is the first parameter (crigate parametrizes it before the
    test's own marks, plugins/pytest_plugin.py), so its id leads: in
    test_y[cri-o-containerd-socket-user] the runtime is cri-o, the rest is the
    test's own parameter."""
    found = _PARAMS.search(nodeid)
    if not found:
        return None
    ids = found["ids"]
    return next((r for r in _RUNTIME_IDS if ids == r or ids.startswith(f"{r}-")), None)


def scope_of(nodeid: str) -> str:
    runtime = runtime_of(nodeid)
    return f"runtime:{runtime}" if runtime else nodeid.split("::", 1)[0]


class RuntimeScheduling(LoadScopeScheduling):
    """One runtime's tests (one cluster) per worker; other tests by module."""

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)


def make_scheduler(config, log):
    """For -n N with the default distribution ("load"); other --dist modes stand."""
    if config.getvalue("dist") == "load":
        return RuntimeScheduling(config, log)
    return None
