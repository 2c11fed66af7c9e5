"""The test bed's own small programs (clusters/programs/*), built with Go or gcc."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from . import cache

SOURCES = Path(__file__).with_name("programs")


def _build(name: str, build) -> Path:
    src = SOURCES / name
    out = cache.component("programs", cache.fingerprint(src)) / name
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        build(src, out.with_suffix(".partial"))
        out.with_suffix(".partial").rename(out)
    return out


def _go(src: Path, out: Path) -> None:
    subprocess.run(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out), "."],
                   cwd=src, check=True, env={**os.environ, "CGO_ENABLED": "0"})


def _c(src: Path, out: Path) -> None:
    subprocess.run(["gcc", "-static", "-Os", "-s", "-o", str(out), *sorted(map(str, src.glob("*.c")))],
                   check=True)


def oci_wrapper() -> Path:
    return _build("oci-wrapper", _go)


def pause() -> Path:
    return _build("pause", _c)


def go_program(name: str) -> Path:
    return _build(name, _go)


def c_program(name: str) -> Path:
    return _build(name, _c)
