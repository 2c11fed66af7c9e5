"""Debian packages the host needs to build the test bed and push its images (installed if missing)."""
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
# Installed only when needed. Command or file -> package, like HOST_PACKAGES.
PUSH_PACKAGES = {"skopeo": "skopeo", "gcc": "gcc", "/bin/busybox": "busybox-static"}   # images push
CROSS_TOOLCHAINS = {   # `images push --platforms linux/arm64`: static arm64 C programs
    "arm64": {"aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu",
              "/usr/aarch64-linux-gnu/lib/libc.a": "libc6-dev-arm64-cross"},
}
QEMU_USER = {"arm64": {"qemu-aarch64-static": "qemu-user-static"}}   # tests run arm64 binaries


class HostError(RuntimeError):
    pass


def missing_packages() -> list[str]:
    missing = [pkg for cmd, pkg in HOST_PACKAGES.items() if not shutil.which(cmd)
               and not (cmd == "busybox" and os.path.exists("/bin/busybox"))]
    missing += [pkg for path, pkg in HEADERS.items() if not os.path.exists(path)]
    return missing


def missing_from(provides: dict[str, str]) -> list[str]:
    """Packages of provides (command or absolute file -> package) not on this host."""
    return sorted({pkg for what, pkg in provides.items()
                   if not (os.path.exists(what) if what.startswith("/") else shutil.which(what))})


def ensure_host_packages() -> None:
    missing = missing_packages()
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise HostError(f"missing host packages {missing} and no apt-get to install them")
    apt_get_install(missing, lambda stderr: f"apt-get install {' '.join(missing)} failed (need root "
                                            f"and the Debian mirror):\n{stderr[-1000:]}")


def ensure_packages(provides: dict[str, str], purpose: str, alternative: str = "") -> None:
    """Install what provides names if missing; a failure is one line naming the packages
    to install by hand (and the alternative, if the caller has one)."""
    missing = missing_from(provides)
    if not missing:
        return
    fix = f"run `apt-get install {' '.join(missing)}` as root" + (f", {alternative}" if alternative else "")
    if not shutil.which("apt-get"):
        raise HostError(f"{purpose} needs Debian packages {' '.join(missing)}: {fix}")
    apt_get_install(missing, lambda stderr: f"{purpose} needs Debian packages {' '.join(missing)} and "
                                            f"installing them failed ({last_line(stderr)}): {fix}")


def apt_get_install(packages: list[str], failure_message) -> None:
    """apt-get update + install; on failure raise HostError(failure_message(stderr))."""
    with step(f"install Debian packages: {' '.join(packages)}"):
        done = subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                              f"apt-get install -y -qq {' '.join(packages)}", shell=True,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise HostError(failure_message(done.stderr))


def ensure_foreign_architecture(arch: str, alternative: str = "") -> None:
    """Let apt download arch's packages (`dpkg --add-architecture`); nothing of arch is installed."""
    if not shutil.which("dpkg"):
        raise HostError(f"Debian's {arch} packages need dpkg and apt-get (a Debian host)"
                        + (f"; {alternative}" if alternative else ""))
    if arch in subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True,
                              text=True).stdout.split():
        return
    with step(f"add Debian architecture {arch}"):
        done = subprocess.run(f"dpkg --add-architecture {arch} && apt-get update -qq", shell=True,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise HostError(f"could not add Debian architecture {arch} ({last_line(done.stderr)}): run "
                            f"`dpkg --add-architecture {arch} && apt-get update` as root"
                            + (f", {alternative}" if alternative else ""))


def last_line(text: str) -> str:
    return (text.strip().splitlines() or ["no output"])[-1][:200]
