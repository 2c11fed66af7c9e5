"""The platform a cluster runs on and what its node images keep working after
the switch to containerd: plugins/gate/platforms.toml, one table per platform
id with how its nodes are recognised and its facts, each with its source and
the versions it holds for (docs/platforms.md is the same in prose).

detect(nodes) names the platform from the nodes' providerID and labels;
keeps(platform, coupling, minor) gives the fact when that platform keeps a
coupling working, which the gate then reports as review, saying why and until
when. Imports nothing heavy: the gate's offline mode uses it."""
from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from crigate.facts import DOCKER_CONTAINER_LOGS, DOCKER_SOCKET, DOCKERSHIM_SOCKET, GPU_RESOURCE

DATA = Path(__file__).with_name("platforms.toml")
GENERIC = "generic"

# The couplings a platform fact may name, and what "kept" means for each.
COUPLINGS = {
    "docker-api-socket": f"{DOCKER_SOCKET} still answers on containerd nodes (Docker Engine runs beside "
                         "containerd), though that daemon sees none of the Kubernetes pods",
    "docker-cli": "the docker binary is on the node image",
    "dockershim-cri-socket": f"{DOCKERSHIM_SOCKET} still answers CRI on containerd nodes "
                             "(linked to containerd's socket)",
    "nvidia-default-runtime": "GPU node images make the NVIDIA runtime containerd's default, so pods using "
                              f"{GPU_RESOURCE} without a runtimeClassName still get GPUs",
    "docker-json-log-paths": f"{DOCKER_CONTAINER_LOGS} still holds the containers' logs",
}

MINOR = re.compile(r"v?(\d+)\.(\d+)(?!\d)")
FACT_FIELDS = ("coupling", "reason", "holds_for", "since", "source")


def minor(version: str) -> tuple[int, int]:
    """(1, 24) from "1.24", "v1.24.17" or "1.24.17-eks-5e0fdde"."""
    found = MINOR.match(version.strip())
    if not found:
        raise ValueError(f"Kubernetes version {version!r}: expected a minor like 1.24 or v1.24.17")
    return int(found.group(1)), int(found.group(2))


@dataclass(frozen=True)
class Fact:
    """What one platform's node images do for one coupling on containerd."""
    platform: str
    coupling: str
    reason: str         # one sentence: what the image does, what still breaks
    holds_for: str      # the node image families it holds (and does not hold) for
    since: str          # first Kubernetes minor it was checked for
    until: str          # first minor it no longer holds for; "" while the source still says it
    source: str

    def holds_at(self, kubernetes_minor: str) -> bool:
        at = minor(kubernetes_minor)
        return minor(self.since) <= at and (not self.until or at < minor(self.until))

    @property
    def versions(self) -> str:
        """The Kubernetes minors it holds for, in words."""
        if not self.until:
            return f"Kubernetes {self.since} and later"
        major, last = minor(self.until)
        last_minor = f"{major}.{last - 1}"
        return f"Kubernetes {self.since}" + ("" if last_minor == self.since else f" to {last_minor}")

    @property
    def until_text(self) -> str:
        return f"until Kubernetes {self.until}" if self.until else "no end announced"


@dataclass(frozen=True)
class Platform:
    id: str
    name: str
    provider_ids: tuple[str, ...]    # spec.providerID prefixes: the cloud
    labels: tuple[str, ...]          # label keys only this managed service sets
    facts: tuple[Fact, ...]          # couplings its node images keep working
    not_kept: tuple[Fact, ...]       # couplings checked and not kept (documentation)
    detection_sources: tuple[str, ...]


def _fact(platform: str, entry: dict, kept: bool) -> Fact:
    where = f"platforms.toml [{platform}] {entry.get('coupling', '?')}"
    missing = [f for f in FACT_FIELDS if not str(entry.get(f, "")).strip()]
    if missing:
        raise ValueError(f"{where}: needs {', '.join(missing)}")
    if entry["coupling"] not in COUPLINGS:
        raise ValueError(f"{where}: coupling must be one of {sorted(COUPLINGS)}")
    unknown = set(entry) - {*FACT_FIELDS, "until"}
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}")
    if not kept and entry.get("until"):
        raise ValueError(f"{where}: a not_kept fact has no until")
    fact = Fact(platform=platform, until=entry.get("until", ""), **{f: entry[f] for f in FACT_FIELDS})
    if fact.until and minor(fact.until) <= minor(fact.since):
        raise ValueError(f"{where}: until {fact.until} is not after since {fact.since}")
    return fact


def load(path: Path = DATA) -> dict[str, Platform]:
    """platform id -> Platform, in the file's order."""
    found = {}
    for pid, table in tomllib.loads(path.read_text()).items():
        keeps = tuple(_fact(pid, entry, kept=True) for entry in table.get("keeps", []))
        twice = [c for c, n in Counter(f.coupling for f in keeps).items() if n > 1]
        if twice:
            raise ValueError(f"platforms.toml [{pid}]: {twice} kept twice; one fact per coupling")
        found[pid] = Platform(pid, table["name"], tuple(table.get("provider_ids", [])),
                              tuple(table.get("labels", [])), keeps,
                              tuple(_fact(pid, e, kept=False) for e in table.get("not_kept", [])),
                              tuple(table.get("detection_sources", [])))
    if GENERIC not in found or found[GENERIC].facts:
        raise ValueError(f"{path}: needs a [{GENERIC}] platform that keeps nothing")
    return found


PLATFORMS = load()


def choices() -> tuple[str, ...]:
    """The --platform values: eks, gke, aks, generic."""
    return tuple(PLATFORMS)


def platform(platform_id: str) -> Platform:
    if platform_id not in PLATFORMS:
        raise ValueError(f"platform {platform_id!r}: expected one of {', '.join(choices())}")
    return PLATFORMS[platform_id]


def _signals(node: dict) -> dict[str, list[str]]:
    """platform id -> what on this node points at it."""
    provider_id = (node.get("spec") or {}).get("providerID") or ""
    labels = (node.get("metadata") or {}).get("labels") or {}
    found = {}
    for p in PLATFORMS.values():
        seen = [f"providerID {prefix}..." for prefix in p.provider_ids if provider_id.startswith(prefix)]
        seen += [f"label {key}" for key in p.labels if key in labels]
        if seen:
            found[p.id] = seen
    return found


def detect(nodes: list[dict]) -> tuple[str, str]:
    """The platform id of these nodes (API dicts) and the evidence in words.
    generic when none matches, when they disagree or when some match nothing;
    evidence "" when no nodes were read."""
    if not nodes:
        return GENERIC, ""
    total = len(nodes)
    per_node = [((n.get("metadata") or {}).get("name", "?"), _signals(n)) for n in nodes]
    ids = Counter(pid for _, signals in per_node for pid in signals)
    if not ids:
        return GENERIC, f"none of {total} nodes has the providerID or labels of a known platform"
    if len(ids) > 1:
        seen = ", ".join(f"{PLATFORMS[pid].name} on {n}" for pid, n in ids.items())
        return GENERIC, f"nodes of more than one platform ({seen}): generic"
    (pid, matched), = ids.items()
    name = PLATFORMS[pid].name
    signals = Counter(s for _, found in per_node for s in found.get(pid, []))
    what = ", ".join(f"{s} on {n}" for s, n in signals.items())
    if matched < total:
        others = [node for node, found in per_node if not found]
        return GENERIC, (f"{matched} of {total} nodes point at {name} ({what}); "
                         f"{total - matched} match no platform ({', '.join(others)}): generic")
    evidence = f"{total} of {total} nodes point at {name} ({what})"
    if not any(s.startswith("label ") for s in signals):
        # a providerID names the cloud, not the managed service: kops or kubeadm nodes
        # on that cloud run other images, which none of the platform's facts are about
        return GENERIC, (f"{evidence}; providerID only: nodes on that cloud, not necessarily {name}'s "
                         f"node images: generic (give --platform {pid} if they are)")
    return pid, evidence


def minor_text(version: str) -> str:
    """"1.24" from any spelling minor() reads; ValueError names what it expected."""
    return "{}.{}".format(*minor(version))


def keeps(platform_id: str, coupling: str, kubernetes_minor: str | None = None) -> Fact | None:
    """The fact when the platform keeps the coupling working at that
    Kubernetes minor; None when no fact says so or the minor is outside the
    fact's versions. Without a minor (offline) the fact itself, whose
    versions say when it holds."""
    if coupling not in COUPLINGS:
        raise ValueError(f"coupling {coupling!r}: expected one of {', '.join(COUPLINGS)}")
    fact = next((f for f in platform(platform_id).facts if f.coupling == coupling), None)
    if fact is None or kubernetes_minor is None:
        return fact
    return fact if fact.holds_at(kubernetes_minor) else None
