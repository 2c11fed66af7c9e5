"""Files from Debian packages of another architecture (busybox-static:arm64 for
the arm64 busybox image): downloaded with apt-get, unpacked into the cache with
dpkg-deb, never installed."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from . import cache, host
from .progress import step


def candidate_version(package: str, arch: str) -> str:
    shown = subprocess.run(["apt-cache", "show", "--no-all-versions", f"{package}:{arch}"],
                           capture_output=True, text=True)
    versions = [line.split(":", 1)[1].strip() for line in shown.stdout.splitlines()
                if line.startswith("Version:")]
    if shown.returncode != 0 or not versions:
        raise host.HostError(f"apt knows no {package}:{arch} ({host.last_line(shown.stderr)})")
    return versions[0]


def package_file(package: str, arch: str, path: str, alternative: str = "") -> Path:
    """path (relative, as the package installs it) from package:arch, cached per version."""
    host.ensure_foreign_architecture(arch, alternative)
    version = candidate_version(package, arch)
    unpacked = cache.component(f"debs-{arch}", f"{package}_{version.replace(':', '%3a')}")
    if not (unpacked / path).is_file():
        _download_and_unpack(package, arch, version, unpacked, alternative)
    if not (unpacked / path).is_file():
        raise host.HostError(f"{package}:{arch} {version} has no /{path}")
    return unpacked / path


def _download_and_unpack(package: str, arch: str, version: str, unpacked: Path,
                         alternative: str) -> None:
    cache.root().mkdir(parents=True, exist_ok=True)
    with step(f"download {package}:{arch} {version}"), \
            tempfile.TemporaryDirectory(dir=cache.root()) as tmp:
        got = subprocess.run(["apt-get", "download", "-qq", f"{package}:{arch}={version}"], cwd=tmp,
                             capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if got.returncode != 0 or not debs:
            raise host.HostError(f"apt-get download {package}:{arch}={version} failed "
                                 f"({host.last_line(got.stderr)})" + (f"; {alternative}" if alternative else ""))
        root = Path(tmp) / "root"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True, capture_output=True)
        shutil.rmtree(unpacked, ignore_errors=True)
        unpacked.parent.mkdir(parents=True, exist_ok=True)
        root.rename(unpacked)
