"""A pod that cannot start fails its check at once, naming the pod, what
stops it and what to do, instead of waiting out the timeout (real clusters)."""
from __future__ import annotations

import time

import pytest
from crigate import workloads
from crigate.kube import PodFailed

pytestmark = pytest.mark.testbed


def test_an_image_the_node_cannot_pull_fails_at_once_naming_the_fix(cluster, namespace):
    manifest = workloads.pod("unpullable", [workloads.container("c0", "crigate.local/not-pushed:1")])
    started = time.monotonic()
    with pytest.raises(PodFailed) as failed:
        cluster.kube.run_pod(namespace, manifest, timeout=120)
    message = str(failed.value)
    print(f"[{cluster.runtime}] failed after {time.monotonic() - started:.1f}s: {message}")
    assert f"pod {namespace}/unpullable on node " in message
    assert "crigate.local/not-pushed:1" in message
    assert "ErrImagePull" in message or "ImagePullBackOff" in message
    assert "python -m crigate.testbed images push --registry REPO" in message and "--image-repo" in message
    assert "within 120s" not in message          # the stuck reason, not the timeout


def test_a_pod_no_node_can_take_fails_at_once_naming_the_scheduler(cluster, namespace):
    manifest = workloads.sleeper_pod("nowhere", nodeSelector={"crigate.test/no-such-label": "x"})
    with pytest.raises(PodFailed) as failed:
        cluster.kube.run_pod(namespace, manifest, timeout=120)
    message = str(failed.value)
    assert "Unschedulable" in message and "node affinity/selector" in message, message
    assert "within 120s" not in message


def test_image_repo_rewrites_every_image_of_crigates_pods(cluster, namespace):
    """What --image-repo does to a manifest, on the API server's copy."""
    from crigate.kube import Kube
    kube = Kube(*cluster.provider.kubeconfig(), image_repo="registry.invalid:5000/crigate")
    created = kube.create_pod(namespace, workloads.sleeper_pod("remapped", containers=2))
    assert [c.image for c in created.spec.containers] == ["registry.invalid:5000/crigate/busybox:1"] * 2
    kube.core.delete_namespaced_pod("remapped", namespace, grace_period_seconds=0)
