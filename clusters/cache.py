"""Where built artifacts live: outside the repo, so a fresh clone stays warm."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def root() -> Path:
    base = os.environ.get("CRIGATE_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "crigate"
    return Path(base)


def component(name: str, version: str) -> Path:
    """~/.cache/crigate/<component>/<version>"""
    return root() / name / version


def logs() -> Path:
    return root() / "logs"


def fingerprint(*parts: str | bytes | Path) -> str:
    """Short digest of inputs; a changed input gives a new cache key."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            paths = sorted(p for p in part.rglob("*") if p.is_file()) if part.is_dir() else [part]
            for path in paths:
                digest.update(str(path.relative_to(part if part.is_dir() else part.parent)).encode())
                digest.update(path.read_bytes())
        else:
            digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:12]
