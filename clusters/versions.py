"""Pinned versions (versions.toml) and the choices users may pass."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .runtimes import BASELINE_RUNTIMES, NODE_RUNTIMES, PROFILES, RUNTIMES, RuntimeProfile

PINS = tomllib.loads((Path(__file__).with_name("versions.toml")).read_text())

__all__ = ["BASELINE_RUNTIMES", "NODE_RUNTIMES", "RUNTIMES", "profile"]
KUBERNETES_MINORS = tuple(PINS["kubernetes"])
DEFAULT_KUBERNETES = PINS["defaults"]["kubernetes"]


class UnknownChoice(ValueError):
    """A user-given value that is not one of the valid choices."""


@dataclass(frozen=True)
class KubernetesRelease:
    minor: str           # "1.33"
    version: str         # "v1.33.13"
    go_toolchain: str    # "" = the machine's Go
    cri_o: str = ""      # the CRI-O release built for this minor
    profiles: tuple[tuple[str, str], ...] = ()   # runtime -> node profile overrides

    def profile(self, runtime: str) -> RuntimeProfile:
        """The node profile (clusters/runtimes.py) this minor gives runtime."""
        return PROFILES[dict(self.profiles).get(runtime) or PINS["profiles"][runtime]]

    def at_least(self, minor: str) -> bool:
        """at_least("1.35"): this release is Kubernetes 1.35 or newer."""
        def key(text):
            return tuple(int(p) for p in text.split("."))
        return key(self.minor) >= key(minor)

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
    return KubernetesRelease(minor, pin["version"], pin.get("go_toolchain", ""), pin["cri_o"],
                             tuple(sorted(pin.get("profiles", {}).items())))


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


def profile(runtime: str, minor: str | None = None) -> RuntimeProfile:
    """runtime's profile on a Kubernetes minor (default: the default minor). What
    users and the suites see is the same for every profile of one runtime."""
    return kubernetes_release(minor).profile(runtime)
