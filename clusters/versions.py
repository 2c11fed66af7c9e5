"""Pinned versions (versions.toml) and the choices users may pass."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

PINS = tomllib.loads((Path(__file__).with_name("versions.toml")).read_text())

RUNTIMES = ("containerd", "cri-o")          # the CRI runtimes: what "all" means
BASELINE_RUNTIMES = ("docker",)             # Docker Engine via cri-dockerd: the old setup
NODE_RUNTIMES = RUNTIMES + BASELINE_RUNTIMES
KUBERNETES_MINORS = tuple(PINS["kubernetes"])
DEFAULT_KUBERNETES = PINS["defaults"]["kubernetes"]


class UnknownChoice(ValueError):
    """A user-given value that is not one of the valid choices."""


@dataclass(frozen=True)
class KubernetesRelease:
    minor: str           # "1.33"
    version: str         # "v1.33.13"
    go_toolchain: str    # "" = the machine's Go

    @property
    def staging_version(self) -> str:
        """k8s.io/<staging> modules are published as v0.<minor>.<patch>."""
        _, minor, patch = self.version.lstrip("v").split(".")
        return f"v0.{minor}.{patch}"


def kubernetes_release(minor: str | None = None) -> KubernetesRelease:
    minor = (minor or DEFAULT_KUBERNETES).lstrip("v")
    if minor.count(".") == 2:                      # accept 1.33.13 as well as 1.33
        minor = minor.rsplit(".", 1)[0]
    if minor not in PINS["kubernetes"]:
        raise UnknownChoice(
            f"unknown Kubernetes version {minor!r}; valid: {', '.join(KUBERNETES_MINORS)}"
            " (pinned in clusters/versions.toml)")
    pin = PINS["kubernetes"][minor]
    return KubernetesRelease(minor, pin["version"], pin.get("go_toolchain", ""))


def parse_runtimes(values: list[str]) -> list[str]:
    """Runtime names from values like 'all', 'cri-o' or 'all,docker' (in order,
    no repeats); 'all' means the CRI runtimes. UnknownChoice names a bad one."""
    chosen: list[str] = []
    for value in values:
        for name in value.split(","):
            if name == "all":
                chosen.extend(RUNTIMES)
            elif name in NODE_RUNTIMES:
                chosen.append(name)
            else:
                raise UnknownChoice(name)
    return list(dict.fromkeys(chosen))


def tool_version(name: str) -> str:
    return PINS["tools"][name]
