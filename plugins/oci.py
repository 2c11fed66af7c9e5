"""Which runtime handler and which OCI runtime ran a pod, read from the cluster
and from the node (the runtime-class checks and the latency area's crun
comparison both ask)."""
from __future__ import annotations

from kubernetes import client

from .expectations import OCI_STATE_FILES, STATE_SEARCH_DEPTH, STATE_SEARCH_ROOT


def read_runtime_class(kube, name: str) -> client.V1RuntimeClass | None:
    try:
        return kube.node_api.read_runtime_class(name)
    except client.ApiException as err:
        if err.status != 404:
            raise
    return None


def oci_runtime_of(host, cid: str) -> tuple[str, list[str]]:
    """Which OCI runtime keeps the container's state on the node (runc or crun,
    "" when neither), and the state files seen."""
    names = " -o ".join(f"-path '*/{cid}/{f}'" for f in OCI_STATE_FILES.values())
    found = host.run(f"find {STATE_SEARCH_ROOT} -maxdepth {STATE_SEARCH_DEPTH} \\( {names} \\) 2>/dev/null")
    files = found.stdout.split()
    runtimes = {r for r, f in OCI_STATE_FILES.items() if any(p.endswith(f"/{cid}/{f}") for p in files)}
    return (runtimes.pop() if len(runtimes) == 1 else ""), files
