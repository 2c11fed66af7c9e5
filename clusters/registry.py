"""A real image registry on this machine: Debian's docker-registry (CNCF
distribution 2.8), for clusters that pull crigate's images instead of having
them preloaded. Plain http.

Two ways to run it: `running()` serves on a host address (loopback) for the
length of a block; `up()` runs it as the container crigate-registry on kind's
network, published on loopback for pushes, and known to the test bed's nodes
as crigate-registry:5000 (Docker's embedded DNS; each runtime's node tree
trusts it over http)."""
from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from crigate.facts import MANAGED_BY_SELECTOR

from . import cache, images
from .engine import docker, ensure_engine
from .host import HostError
from .progress import stop

REGISTRY_BINARY = "docker-registry"      # Debian package docker-registry
START_TIMEOUT_S = 30
CONTAINER = "crigate-registry"
NODE_ADDRESS = f"{CONTAINER}:5000"      # what the test bed's nodes pull from
KIND_NETWORK = "kind"


def config_text(storage: Path, address: str) -> str:
    """distribution's config (docs/configuration.md): filesystem storage, deletes
    allowed (tests remove an image to see its check fail), http only."""
    return f"""\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: {address}
"""


def answers(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def running(address: str = "127.0.0.1:5000", root: Path | None = None):
    """Serve a registry on address while the block runs; yields the address."""
    binary = shutil.which(REGISTRY_BINARY)
    if not binary:
        raise HostError("no docker-registry binary: apt-get install docker-registry "
                        "(or run `python -m crigate.testbed build`, which installs it)")
    if answers(address):
        raise HostError(f"something already serves a registry on {address}; pick another address")
    root = root or cache.root() / "registry"
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yml"
    config.write_text(config_text(root / "storage", address))
    log = cache.logs() / "registry.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        daemon = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=out,
                                  stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not answers(address):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise HostError(f"docker-registry did not serve {address} within "
                                f"{START_TIMEOUT_S}s; see {log}")
            time.sleep(0.2)
        yield address
    finally:
        stop(daemon)


def image_spec() -> images.ImageSpec:
    """The registry as an image: Debian's binary, the libraries it links, a config."""
    binary = Path(shutil.which(REGISTRY_BINARY) or "")
    if not binary.is_file():
        raise HostError("no docker-registry binary: apt-get install docker-registry "
                        "(or run `python -m crigate.testbed build`, which installs it)")
    linked = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    libraries = [Path(p) for p in linked_libraries(linked)]
    config = cache.root() / "registry" / "container-config.yml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(config_text(Path("/var/lib/registry"), "0.0.0.0:5000"))
    files = {"usr/bin/docker-registry": binary, "etc/docker/registry/config.yml": config}
    files.update({str(lib).lstrip("/"): lib.resolve() for lib in libraries})
    return images.ImageSpec(f"{images.LOCAL_REGISTRY}/registry:1", files,
                            entrypoint=["/usr/bin/docker-registry", "serve",
                                        "/etc/docker/registry/config.yml"])


def linked_libraries(ldd_output: str) -> list[str]:
    """Absolute library paths in ldd's output."""
    return re.findall(r"(/\S+\.so[\.\d]*)", ldd_output)


def up(port: int = 5000) -> str:
    """Start the crigate-registry container (idempotent); return the address to push to."""
    ensure_engine()
    push_address = f"127.0.0.1:{port}"
    if docker("inspect", CONTAINER, check=False).returncode == 0:
        if answers(push_address):
            return push_address
        docker("rm", "-f", "-v", CONTAINER, check=False)
    image = images.ensure_image(image_spec())
    if docker("network", "inspect", KIND_NETWORK, check=False).returncode != 0:
        docker("network", "create", KIND_NETWORK)          # kind uses a network of this name as it is
    docker("run", "-d", "--name", CONTAINER, "--network", KIND_NETWORK, "-p", f"{push_address}:5000",
           "--label", MANAGED_BY_SELECTOR, image)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not answers(push_address):
        if time.monotonic() > deadline:
            logs = docker("logs", CONTAINER, check=False).stderr[-1000:]
            down()
            raise HostError(f"{CONTAINER} did not serve {push_address} within {START_TIMEOUT_S}s: {logs}")
        time.sleep(0.2)
    return push_address


def down() -> None:
    docker("rm", "-f", "-v", CONTAINER, check=False)


def delete_image(address: str, repository: str, tag: str) -> None:
    """Remove repository:tag from the registry at address (distribution's API:
    HEAD the manifest for its digest, DELETE by digest). Accepting index types
    gets the digest of what the tag names: a client that does not is answered
    with one platform's manifest, and deleting that would leave the tag behind."""
    url = f"http://{address}/v2/{repository}/manifests/{tag}"
    accept = ", ".join(("application/vnd.oci.image.index.v1+json",
                        "application/vnd.docker.distribution.manifest.list.v2+json",
                        "application/vnd.docker.distribution.manifest.v2+json",
                        "application/vnd.oci.image.manifest.v1+json"))
    head = urllib.request.Request(url, method="HEAD", headers={"Accept": accept})
    with urllib.request.urlopen(head, timeout=10) as response:
        digest = response.headers["Docker-Content-Digest"]
    delete = urllib.request.Request(f"http://{address}/v2/{repository}/manifests/{digest}",
                                    method="DELETE")
    with urllib.request.urlopen(delete, timeout=10):
        pass
