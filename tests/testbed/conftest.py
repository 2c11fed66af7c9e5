"""kubectl for the test bed's own tests, on the plugin's per-runtime cluster."""
from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from crigate.testbed import kindcluster
from crigate.testbed.versions import kubernetes_release


class Kubectl:
    """kubectl bound to one cluster's kubeconfig."""

    def __init__(self, binary: str, kubeconfig):
        self.binary, self.kubeconfig = binary, str(kubeconfig)

    def __call__(self, *args: str, input: str | None = None, check: bool = True,
                 timeout: float = 120) -> str:
        done = subprocess.run([self.binary, "--kubeconfig", self.kubeconfig, *args],
                              input=input, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json"))

    def apply(self, manifest: str) -> None:
        self("apply", "-f", "-", input=manifest)


@pytest.fixture(scope="session")
def release(crigate_settings):
    return kubernetes_release(crigate_settings.k8s_minor)


@pytest.fixture(scope="session")
def kubectl(cluster, release):
    if missing := cluster.capabilities.missing("builds_nodes", "the test bed's own tests use the "
                                               "kubectl built for its nodes"):
        pytest.skip(missing)
    return Kubectl(kindcluster.kubectl_bin(release), cluster.provider.kubeconfig()[0])


@pytest.fixture
def gate_identity(kubectl):
    """ServiceAccount names made for one test; accounts and bindings removed after."""
    made = []
    yield lambda: made.append(f"crigate-test-{uuid.uuid4().hex[:6]}") or made[-1]
    for name in made:
        kubectl("delete", "clusterrolebinding,clusterrole", name, "--ignore-not-found")
        kubectl("delete", "rolebinding", "-A", "-l", f"crigate-test={name}", "--ignore-not-found")
        kubectl("delete", "serviceaccount", name, "-n", "default", "--ignore-not-found")
