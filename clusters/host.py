"""Debian packages the host needs to build the test bed (installed if missing)."""
from __future__ import annotations

import os
import shutil
import subprocess

from .progress import step

# command -> Debian package that provides it
HOST_PACKAGES = {
    "dockerd": "docker.io",        # engine for kind nodes (brings containerd, runc)
    "debootstrap": "debootstrap",  # node root
    "skopeo": "skopeo",            # CRI-O image preload
    "busybox": "busybox-static",   # workload image with a shell
    "gcc": "gcc",                  # pause, logger, pinns
    "pkg-config": "pkg-config",    # CRI-O's cgo
    "chromium": "chromium",        # tests open report.html in headless Chromium
    "docker-registry": "docker-registry",   # a real registry for clusters that pull crigate's images
}
HEADERS = {"/usr/include/seccomp.h": "libseccomp-dev"}


class HostError(RuntimeError):
    pass


def missing_packages() -> list[str]:
    missing = [pkg for cmd, pkg in HOST_PACKAGES.items() if not shutil.which(cmd)
               and not (cmd == "busybox" and os.path.exists("/bin/busybox"))]
    missing += [pkg for path, pkg in HEADERS.items() if not os.path.exists(path)]
    return missing


def ensure_host_packages() -> None:
    missing = missing_packages()
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise HostError(f"missing host packages {missing} and no apt-get to install them")
    with step(f"install Debian packages: {' '.join(missing)}"):
        done = subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                              f"apt-get install -y -qq {' '.join(missing)}", shell=True,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise HostError(f"apt-get install {' '.join(missing)} failed (need root and the "
                            f"Debian mirror):\n{done.stderr[-1000:]}")
