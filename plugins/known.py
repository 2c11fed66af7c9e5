"""Known differences: checks that fail on one runtime x Kubernetes version of
the test bed for a reason that is understood and outside crigate.

Each is marked xfail: the report shows XFAIL with the reason. A deterministic
one is strict, so once it passes the run turns red (XPASS strict) and the list
cannot go stale; one that depends on timing is not (XPASS is no news there).
Runtime and minor may be "*": a difference of the kubelet, on every runtime and
version seen so far. Those apply to existing clusters too; the others only to
clusters crigate builds (provider capability builds_nodes), whose version is
known before the run.
"""
from __future__ import annotations

import pytest

from .facts import POD_LOG_DIR
from .report import check_name

ANY = "*"

# (check, runtime, Kubernetes minor) -> (why, strict)
KNOWN_DIFFERENCES = {
    ("logs::test_kubectl_logs_keeps_an_interleaved_line_whole", ANY, ANY): (
        "kubelet limitation: its log reader writes each CRI entry to the stream's writer as it "
        "reads it, a P chunk without its newline, and the API's combined stream uses one writer "
        "for stdout and stderr, so a stderr line written inside a long stdout line is spliced "
        "into it (kubernetes/kubernetes pkg/kubelet/kuberuntime/logs/logs.go, logWriter.write; "
        "stdout and stderr apart only with ?stream=, KEP-3288). The log file is right; "
        f"shippers reading {POD_LOG_DIR} are not affected", True),
}


def known_difference(check: str, runtime: str | None, k8s_minor: str, version_known: bool):
    """(why, strict, where) for a known difference, or None; version_known:
    the cluster runs k8s_minor for certain (crigate built its nodes)."""
    for (name, on_runtime, minor), (why, strict) in KNOWN_DIFFERENCES.items():
        if name != check or on_runtime not in (ANY, runtime):
            continue
        if minor == ANY:
            return why, strict, "on every runtime and Kubernetes version" if on_runtime == ANY \
                else f"on {runtime}"
        if version_known and minor == k8s_minor:
            return why, strict, f"on {runtime} with Kubernetes {k8s_minor}"
    return None


def mark_known_differences(items: list, k8s_minor: str, version_known: bool) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        runtime = callspec.params.get("runtime") if callspec else None
        known = known_difference(check_name(item.nodeid), runtime, k8s_minor, version_known)
        if known:
            why, strict, where = known
            item.add_marker(pytest.mark.xfail(reason=f"known difference {where}: {why}", strict=strict))
