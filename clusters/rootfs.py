"""The Debian root every node image starts from, made with debootstrap.

One debootstrap holds every runtime profile's Debian packages; each node
image copies it and purges the other profiles' packages, which needs no network.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from . import cache, runtimes
from .progress import run_logged, step
from .versions import PINS

COMMON_PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "iproute2", "iptables", "procps", "kmod",
    "conntrack", "socat", "ethtool", "containernetworking-plugins", "runc", "libseccomp2",
    "ca-certificates", "less",
)
# Units a container has no use for; getty would fight kind over the tty.
MASKED_UNITS = ("getty.target", "console-getty.service", "systemd-firstboot.service",
                "systemd-modules-load.service", "apt-daily.timer", "apt-daily-upgrade.timer",
                "e2scrub_reap.service")


class RootfsError(RuntimeError):
    pass


def debian_mirror() -> str:
    """The Debian archive this machine's apt uses (deb822 or one-line sources)."""
    suite = PINS["debian"]["suite"]
    texts = [p.read_text() for p in Path("/etc/apt").glob("sources.list*") if p.is_file()]
    texts += [p.read_text() for p in Path("/etc/apt/sources.list.d").glob("*.sources")]
    texts += [p.read_text() for p in Path("/etc/apt/sources.list.d").glob("*.list")]
    for text in texts:
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and suite in suites.group(1).split():
                return uris.group(1)
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == suite:
                return parts[1]
    raise RootfsError(f"no apt source for Debian {suite} in /etc/apt; add one so debootstrap "
                      "can fetch packages")


def base_rootfs() -> Path:
    """A minbase Debian root with both runtimes' packages; cached by package list."""
    packages = sorted(set(COMMON_PACKAGES) | runtimes.all_packages())
    key = cache.fingerprint(PINS["debian"]["suite"], *packages, *MASKED_UNITS)
    home = cache.component("rootfs", f"{PINS['debian']['suite']}-{key}")
    root = home / "root"
    if (home / "done").exists():
        return root
    shutil.rmtree(home, ignore_errors=True)
    debs = cache.root() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    with step(f"debootstrap Debian {PINS['debian']['suite']} node root (about a minute)"):
        run_logged(["debootstrap", "--variant=minbase", f"--cache-dir={debs}",
                    "--include=" + ",".join(packages), PINS["debian"]["suite"], str(root),
                    debian_mirror()], cache.logs() / "debootstrap.log", title="debootstrap")
        _trim(root)
        (home / "done").touch()
    return root


def _trim(root: Path) -> None:
    """Remove what a node never reads, and mask units a container does not want."""
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
                "usr/share/locale", "usr/share/info"):
        target = root / sub
        if target.is_dir():
            shutil.rmtree(target)
            target.mkdir()
    for unit in MASKED_UNITS:
        link = root / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    # The entrypoint writes a fresh machine-id per node.
    (root / "etc/machine-id").write_text("crigate-template\n")


def purge_packages(root: Path, packages: tuple[str, ...]) -> None:
    """dpkg --purge inside root (offline); used to drop the other runtimes."""
    installed = [p for p in packages if (root / f"var/lib/dpkg/info/{p}.list").exists()]
    if installed:
        subprocess.run(["chroot", str(root), "dpkg", "--purge", *installed], check=True,
                       capture_output=True, text=True)
