"""Fixtures for the test bed's own tests: one real kind cluster per runtime."""
from __future__ import annotations

import json
import subprocess

import pytest

from clusters import kindcluster
from clusters.versions import RUNTIMES, kubernetes_release


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
def release():
    return kubernetes_release()


@pytest.fixture(scope="session", params=RUNTIMES)
def testbed(request, release):
    """A fresh cluster per runtime, deleted afterwards (also when tests fail)."""
    runtime = request.param
    name = f"crigate-testbed-{runtime}"
    if name in kindcluster.existing_clusters():
        kindcluster.delete(name)
    cluster = kindcluster.up(release, runtime, name=name)
    yield cluster
    kindcluster.delete(name)


@pytest.fixture(scope="session")
def kubectl(testbed, release):
    return Kubectl(kindcluster.kubectl_bin(release), testbed.kubeconfig)
