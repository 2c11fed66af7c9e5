"""`python -m clusters images push` puts every image crigate deploys into a
real registry (Debian's docker-registry on loopback), where a client that
knows nothing of the local engine finds them."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from clusters import registry
from clusters.images import WORKLOAD_IMAGES, image_in_repo

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clusters_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clusters", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def loopback_registry(tmp_path_factory):
    with registry.running(f"127.0.0.1:{free_port()}", tmp_path_factory.mktemp("registry")) as address:
        yield address


def test_push_puts_every_image_in_the_registry(loopback_registry):
    repo = f"{loopback_registry}/crigate"
    done = clusters_cli("images", "push", "--registry", repo, "--insecure")
    assert done.returncode == 0, done.stderr
    assert f"--image-repo {repo}" in done.stdout + done.stderr
    for image in WORKLOAD_IMAGES:
        pushed = image_in_repo(image, repo)
        inspect = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{pushed}"],
                                 capture_output=True, text=True)
        assert inspect.returncode == 0, f"{pushed}: {inspect.stderr}"
        assert json.loads(inspect.stdout)["Architecture"] == "amd64"


def test_push_to_nothing_says_what_to_do(tmp_path):
    done = clusters_cli("images", "push", "--registry", f"127.0.0.1:{free_port()}/crigate", "--insecure")
    assert done.returncode == 1
    assert "skopeo could not push crigate.local/logger:1" in done.stderr
    assert "skopeo login" in done.stderr


def test_image_in_repo_rewrites_only_crigate_images():
    assert image_in_repo("crigate.local/logger:1", "r.example:5000/p/") == "r.example:5000/p/logger:1"
    assert image_in_repo("busybox:1.36", "r.example:5000/p") == "busybox:1.36"
