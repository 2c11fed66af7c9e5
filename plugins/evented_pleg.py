"""The kubelet's EventedPLEG on a test-bed node, for one measurement.

With the gate on, the kubelet learns of container state changes from the
runtime's CRI event stream (GetContainerEvents) instead of its 1 s relist; a
runtime that sends no events leaves it relisting (Kubernetes docs, "Switching
from Polling to CRI Event-based Updates to Container Status"; alpha in 1.26,
still alpha and off by default in 1.37). The node's kubelet config and, where
the runtime needs a setting (CRI-O: enable_pod_events), its drop-in are
changed, the services restarted, and everything put back afterwards.
"""
from __future__ import annotations

import re
import shlex
import time
from contextlib import contextmanager

from . import critest

KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
BACKUP = "/var/lib/kubelet/config.yaml.crigate-before-evented-pleg"
GATE = "EventedPLEG"
# counters: "the number of times a streaming client was obtained to receive CRI events"
CONNECTED = re.compile(r"^kubelet_evented_pleg_connection_success_count(?:_total)?(?:\{[^}]*\})? (\S+)$", re.M)
CONNECT_TIMEOUT_S = 60

# featureGates: EventedPLEG: true, added to the kubelet's config (or to its
# featureGates map when it has one), the original kept once (a backup left by
# a run that was killed is the original); run on the node with sh.
ENABLE_GATE = (
    f"[ -e {BACKUP} ] || cp {KUBELET_CONFIG} {BACKUP}; cp {BACKUP} {KUBELET_CONFIG} && "
    f"if grep -q '^featureGates:' {KUBELET_CONFIG}; then "
    f"sed -i 's/^featureGates:.*/featureGates:\\n  {GATE}: true/' {KUBELET_CONFIG}; "
    f"else printf 'featureGates:\\n  {GATE}: true\\n' >> {KUBELET_CONFIG}; fi")
RESTORE_GATE = f"[ ! -e {BACKUP} ] || mv {BACKUP} {KUBELET_CONFIG}"


def _run(host, command: str, what: str) -> None:
    done = host.run(command)
    assert done.rc == 0, f"{what}: rc {done.rc}: {done.stderr.strip()[:300]}"


@contextmanager
def enabled(host, profile, kube, node: str):
    """The node's kubelet with EventedPLEG on and the runtime sending events,
    for the block; put back afterwards, also after a failure (restore errors
    are raised, not swallowed), the kubelet waited for until it is back."""
    path, text = profile.container_events_dropin or ("", "")
    units = list(profile.units) if path else []
    try:
        if path:
            _run(host, f"printf %s {shlex.quote(text)} > {path}", f"write {path}")
        _run(host, ENABLE_GATE, f"enable {GATE} in {KUBELET_CONFIG}")
        restart(host, kube, node, units)
        yield
    finally:
        _run(host, RESTORE_GATE, f"restore {KUBELET_CONFIG}")
        if path:
            _run(host, f"rm -f {path}", f"remove {path}")
        restart(host, kube, node, units)


def restart(host, kube, node: str, units: list[str]) -> None:
    since = time.time() - 1
    for unit in [*units, "kubelet"]:
        _run(host, f"systemctl restart {unit}", f"restart {unit}")
    critest.wait_kubelet_back(kube, node, since)


def connections(metrics_text: str) -> float:
    found = CONNECTED.search(metrics_text)
    return float(found.group(1)) if found else 0.0


def check_connected(kube, node: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """The kubelet holds a CRI event stream (its own metric says so), so the
    measurement is of evented PLEG, not of a silent fallback to relisting."""
    __tracebackhide__ = True
    deadline, seen = time.monotonic() + timeout, 0.0
    while time.monotonic() < deadline:
        try:
            seen = connections(kube.node_proxy(node, "metrics"))
        except Exception:          # the kubelet is still restarting
            seen = 0.0
        if seen > 0:
            return
        time.sleep(1)
    raise AssertionError(f"node {node}: expected kubelet_evented_pleg_connection_success_count > 0 "
                         f"within {timeout:.0f}s of enabling {GATE}, observed {seen:g}")
