"""A custom resource that describes a pod (a made-up CI system's task kind,
whose CRD keeps unknown fields as Tekton's and Argo's do) on a real test-bed
API server: the gate reads it as a pod where it may list it, and names it in a
note where the shipped ClusterRole does not let it."""
from __future__ import annotations

import json
import uuid

import pytest

from .identity import shipped_role_kubeconfig
from .test_gate import run_gate

pytestmark = pytest.mark.testbed
GROUP, PLURAL = "ci.crigate.test", "buildtasks"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced",
             "names": {"plural": PLURAL, "singular": "buildtask", "kind": "BuildTask"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {
                     "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]},
}


def build_task(namespace: str) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": "BuildTask",
            "metadata": {"name": "image-publish", "namespace": namespace},
            "spec": {"steps": [{"name": "publish", "image": "example.org/tools/docker-cli:24",
                                "script": "docker build -t registry.example.org/app . && "
                                          "docker push registry.example.org/app",
                                "volumeMounts": [{"name": "engine", "mountPath": "/var/run/docker.sock"}]}],
                     "volumes": [{"name": "engine",
                                  "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}}]}}


@pytest.fixture
def task_on_cluster(kubectl):
    namespace = f"gate-cr-{uuid.uuid4().hex[:6]}"
    kubectl("apply", "-f", "-", input=json.dumps(CRD))
    try:
        kubectl("wait", "--for=condition=Established", f"crd/{PLURAL}.{GROUP}", "--timeout=60s")
        kubectl("create", "namespace", namespace)
        try:
            kubectl("apply", "-f", "-", input=json.dumps(build_task(namespace)))
            yield namespace
        finally:
            kubectl("delete", "namespace", namespace, "--wait=true", timeout=180)
    finally:
        kubectl("delete", "crd", f"{PLURAL}.{GROUP}", "--ignore-not-found", "--wait=true", timeout=120)


def test_a_task_that_mounts_docker_sock_is_found_where_it_may_be_listed(cluster, task_on_cluster, tmp_path):
    code, output, gate = run_gate(cluster.provider.kubeconfig()[0], cluster.runtime, tmp_path / "report")
    ref = f"BuildTask/{task_on_cluster}/image-publish/publish"
    found = {(f["check"], f["severity"]) for f in gate.get("findings", []) if f["object"] == ref}
    assert ("docker-socket-mount", "breaks") in found, f"expected docker-socket-mount on {ref}:\n{output[-3000:]}"
    assert code == 1 and gate["verdict"] == "NO-GO", output[-3000:]
    assert any(f"BuildTask/{task_on_cluster}/image-publish" in n and "read as pods" in n
               for n in gate["notes"]), gate["notes"]


def test_with_only_the_shipped_clusterrole_the_task_is_named_not_read(cluster, kubectl, gate_identity,
                                                                      task_on_cluster, tmp_path):
    kubeconfig = shipped_role_kubeconfig(cluster, kubectl, tmp_path, gate_identity())
    code, output, gate = run_gate(kubeconfig, cluster.runtime, tmp_path / "report")
    assert gate.get("verdict") != "UNDECIDED", f"a custom resource it may not list is a note:\n{output[-3000:]}"
    assert not [f for f in gate["findings"] if f["object"].startswith(f"BuildTask/{task_on_cluster}/")]
    assert any(f"{PLURAL}.{GROUP}" in n and "not permitted" in n for n in gate["notes"]), gate["notes"]
