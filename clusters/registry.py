"""A real image registry on this machine: Debian's docker-registry (CNCF
distribution 2.8), for clusters that pull crigate's images instead of having
them preloaded. Plain http on the address given (loopback by default)."""
from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from . import cache
from .host import HostError

REGISTRY_BINARY = "docker-registry"      # Debian package docker-registry
START_TIMEOUT_S = 30


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
                        "(or run `python -m clusters build`, which installs it)")
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
        daemon.terminate()
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
