"""The test bed gives real clusters on each runtime that run local images offline."""
from __future__ import annotations

import json
import time

import pytest
from crigate.pytest_plugin import TOKEN
from crigate.testbed import images, kindcluster
from crigate.testbed.engine import docker

pytestmark = pytest.mark.testbed

SCHEMES = {"containerd": "containerd://", "cri-o": "cri-o://"}
LOGGER_LINES = ["crigate stdout line 1", "crigate stdout line 2", "crigate stderr line 1"]


def pod_manifest(name: str, image: str, *, privileged: bool = False,
                 runtime_class: str | None = None, args: list[str] | None = None) -> str:
    extra = f"  runtimeClassName: {runtime_class}\n" if runtime_class else ""
    security = "    securityContext: {privileged: true}\n" if privileged else ""
    arg_line = f"    args: {args}\n" if args else ""
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\n"
            f"spec:\n{extra}  restartPolicy: Never\n  containers:\n  - name: main\n"
            f"    image: {image}\n    imagePullPolicy: Never\n{arg_line}{security}")


def wait_running(kubectl, name: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        pod = kubectl.json("get", "pod", name)
        if pod["status"].get("phase") == "Running":
            return pod
        if time.monotonic() > deadline:
            events = kubectl("get", "events", "--field-selector", f"involvedObject.name={name}")
            pytest.fail(f"pod {name}: expected Running within {timeout}s, observed phase "
                        f"{pod['status'].get('phase')}; events:\n{events}")
        time.sleep(0.5)


def test_node_is_ready_and_reports_its_runtime(cluster, kubectl):
    wide = kubectl("get", "nodes", "-o", "wide")
    header, *rows = wide.splitlines()
    runtime_column = header.index("CONTAINER-RUNTIME")   # columns are aligned; OS-IMAGE has spaces
    assert rows, f"cluster {cluster.provider.name}: expected a node, observed none"
    for row in rows:
        node, status = row.split()[:2]
        runtime = row[runtime_column:].split()[0]
        assert status == "Ready", f"node {node}: expected Ready, observed {status}"
        assert runtime.startswith(SCHEMES[cluster.runtime]), (
            f"node {node}: expected CONTAINER-RUNTIME {SCHEMES[cluster.runtime]}..., observed {runtime}")


def test_cluster_started_without_pulling_any_image(cluster, kubectl):
    events = kubectl.json("get", "events", "-A")["items"]
    # Failed/BackOff count when they are about an image: a static pod restarted
    # under load (lost leader election) gives BackOff too, and is not a pull
    pulls = [f"{e['involvedObject']['name']}: {e['message']}" for e in events
             if e.get("reason") in ("Pulling", "ErrImagePull")
             or (e.get("reason") in ("Failed", "BackOff") and "image" in (e.get("message") or "").lower())]
    assert not pulls, f"cluster {cluster.provider.name}: expected no image pulls, observed:\n" + "\n".join(pulls)


def test_pod_from_local_workload_image_logs_its_exact_output(cluster, kubectl):
    kubectl.apply(pod_manifest("logger", images.LOGGER_IMAGE, args=["--long", "64"]))
    wait_running(kubectl, "logger")
    expected_long = "crigate long line " + "x" * (64 - len("crigate long line "))
    expected = sorted(LOGGER_LINES + [expected_long, "crigate done"])
    deadline = time.monotonic() + 20       # stdout and stderr reach the log in either order
    while sorted(observed := kubectl("logs", "logger").splitlines()) != expected \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sorted(observed) == expected, (
        f"pod default/logger on {cluster.runtime}: expected the logger's lines, observed {observed}")


def test_privileged_pod_runs(cluster, kubectl):
    kubectl.apply(pod_manifest("privileged", images.BUSYBOX_IMAGE, privileged=True,
                               args=["sleep", "3600"]).replace("    args:", "    command:"))
    wait_running(kubectl, "privileged")
    caps = kubectl("exec", "privileged", "--", "grep", "CapEff", "/proc/self/status")
    assert caps.split()[1] != "0000000000000000", f"privileged pod: expected capabilities, observed {caps}"


def test_nvidia_runtime_class_is_routed_to_its_handler(cluster, kubectl):
    kubectl.apply("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: nvidia}\n"
                  "handler: nvidia\n")
    kubectl.apply(pod_manifest("gpu-routed", images.LOGGER_IMAGE, runtime_class="nvidia"))
    pod = wait_running(kubectl, "gpu-routed")
    container_id = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    node = pod["spec"]["nodeName"]
    record = docker("exec", node, "cat", "/var/log/crigate/nvidia-handler.log").stdout
    assert container_id in record, (
        f"node {node}: expected /var/log/crigate/nvidia-handler.log to record container "
        f"{container_id[:12]} of pod default/gpu-routed, observed:\n{record}")


def test_down_leaves_nothing_behind(release, pytestconfig):
    # the session's token in the name: a cluster left by a failure here is swept at the end
    name = f"{kindcluster.CLUSTER_PREFIX}-teardown-{pytestconfig.stash[TOKEN]}"
    try:
        cluster = kindcluster.up(release, "containerd", name=name)
        volumes = [m["Name"] for node in cluster.nodes
                   for m in json.loads(docker("inspect", node).stdout)[0]["Mounts"] if m.get("Name")]
        assert volumes, f"cluster {name}: expected its nodes to have a /var volume"
    finally:
        kindcluster.delete(name)
    left = {
        "containers": docker("ps", "-a", "--filter",
                             f"label={kindcluster.KIND_CLUSTER_LABEL}={name}", "-q").stdout.split(),
        "volumes": [v for v in volumes if docker("volume", "inspect", v, check=False).returncode == 0],
    }
    if not kindcluster.existing_clusters():
        left["network"] = [n for n in docker("network", "ls", "--format", "{{.Name}}").stdout.split()
                           if n == kindcluster.KIND_NETWORK]
    assert not any(left.values()), f"after deleting cluster {name}, expected nothing left, observed {left}"
