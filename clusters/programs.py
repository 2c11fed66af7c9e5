"""The test bed's own small programs (clusters/programs/*), built with Go or gcc,
for this amd64 host or, cross-compiled, for arm64 (images pushed for Graviton nodes)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from . import cache
from .progress import step

SOURCES = Path(__file__).with_name("programs")
HOST_ARCH = "amd64"
C_COMPILERS = {"amd64": "gcc", "arm64": "aarch64-linux-gnu-gcc"}   # Debian: gcc-aarch64-linux-gnu


def _build(name: str, build, arch: str = HOST_ARCH) -> Path:
    src = SOURCES / name
    folder = "programs" if arch == HOST_ARCH else f"programs-{arch}"   # host builds keep their keys
    out = cache.component(folder, cache.fingerprint(src)) / name
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        with step(f"build {name} ({arch}) from clusters/programs/{name}"):
            build(src, out.with_suffix(".partial"), arch)
        out.with_suffix(".partial").rename(out)
    return out


def _go(src: Path, out: Path, arch: str) -> None:
    subprocess.run(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out), "."],
                   cwd=src, check=True, env={**os.environ, "CGO_ENABLED": "0", "GOARCH": arch})


def _c(src: Path, out: Path, arch: str) -> None:
    subprocess.run([C_COMPILERS[arch], "-static", "-Os", "-s", "-o", str(out),
                    *sorted(map(str, src.glob("*.c")))], check=True)


def oci_wrapper() -> Path:
    return _build("oci-wrapper", _go)


def pause() -> Path:
    return _build("pause", _c)


def go_program(name: str, arch: str = HOST_ARCH) -> Path:
    return _build(name, _go, arch)


def c_program(name: str, arch: str = HOST_ARCH) -> Path:
    return _build(name, _c, arch)
