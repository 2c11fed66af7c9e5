"""Node agents known to have depended on Docker Engine (agents.toml).

An agent is recognised by its image repository, never by a substring of an
object's name (aws-node-termination-handler is not the VPC CNI `aws-node`).
Its image tag is compared with the first version its vendor says works
without Docker Engine: at or above it there is nothing to report.
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .family import family
from .findings import BREAKS, Finding, PodTemplate
from .inventory import Inventory
from .podtext import container_texts

AGENTS_FILE = Path(__file__).with_name("agents.toml")
VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)")


@dataclass(frozen=True)
class Agent:
    vendor: str
    images: tuple[str, ...]    # image repositories, matched by whole path components from the end
    severity: str
    remediation: str
    source: str
    breaks_when_config_has: str = ""
    cri_ready_since: str = ""
    versioned: tuple[str, ...] = ()   # images whose tag is the version cri_ready_since counts (all if empty)


@cache
def load(path: Path = AGENTS_FILE) -> tuple[Agent, ...]:
    table = tomllib.loads(path.read_text())
    return tuple(Agent(**{**entry, "images": tuple(entry["images"]),
                          "versioned": tuple(entry.get("versioned", ()))}) for entry in table["agent"])


def repository(image: str) -> tuple[list[str], str]:
    """An image reference's repository path components (registry dropped) and its tag."""
    name, _, _digest = image.partition("@")
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]                 # a registry host
    return parts, tag


def version(tag: str) -> tuple[int, ...] | None:
    found = VERSION.match(tag)
    return tuple(int(p) for p in found.group(1).split(".")) if found else None


def matches(image: str, repositories: tuple[str, ...]) -> bool:
    parts, _ = repository(image)
    return any(parts[-len(want.split("/")):] == want.split("/") for want in repositories)


@dataclass(frozen=True)
class Match:
    agent: Agent
    image: str

    @property
    def ready(self) -> bool | None:
        """True when the tag is at or above the CRI-ready version, None when unknown
        (no tag, no version known, or a floating tag such as `7` that spans it)."""
        have, since = version(repository(self.image)[1]), version(self.agent.cri_ready_since)
        if not since or not have or not matches(self.image, self.agent.versioned or self.agent.images):
            return None
        if len(have) < len(since) and have == since[:len(have)]:
            return None
        return have >= since[:len(have)] if len(have) < len(since) else have >= since


def match_image(image: str, table: tuple[Agent, ...] | None = None) -> Match | None:
    return next((Match(a, image) for a in (table if table is not None else load()) if matches(image, a.images)),
                None)


def match(template: PodTemplate, table: tuple[Agent, ...] | None = None) -> Match | None:
    """The first container of the template whose image is a known agent's."""
    found = (match_image(str(c.get("image", "")), table) for c in template.containers())
    return next((m for m in found if m), None)


def image_cri_ready(image: str) -> bool | None:
    """Whether this container image is a known agent at a CRI-ready version (None: not known)."""
    found = match_image(image)
    return found.ready if found else None


def config_enables(template: PodTemplate, inventory: Inventory, text: str) -> bool:
    return any(text in t.text for c in template.containers() for t in container_texts(template, c, inventory))


def node_agents(inventory: Inventory, runtime: str, table: tuple[Agent, ...] | None = None,
                set_for_cri: Callable[[PodTemplate, Inventory], bool] | None = None) -> list[Finding]:
    """Known agents not known to be CRI-ready; one whose version says nothing
    is left out when set_for_cri finds it already pointed at a CRI socket
    (sockets.set_for_cri: named through a mount, Docker's named nowhere)."""
    findings = []
    for t in inventory.templates:
        found = match(t, table)
        if not found:
            continue
        agent = found.agent
        enabled = agent.breaks_when_config_has and config_enables(t, inventory, agent.breaks_when_config_has)
        if found.ready and not enabled:
            continue
        if found.ready is None and not enabled and set_for_cri and set_for_cri(t, inventory):
            continue
        severity, depends = agent.severity, f"{agent.vendor} ({found.image}), an agent that needed changes"
        if found.ready is False:
            depends += (f"; this version is older than {agent.cri_ready_since}, the first its vendor says "
                        "works without Docker Engine")
        elif found.ready is None and agent.cri_ready_since:
            depends += f"; its tag does not say whether it is {agent.cri_ready_since} or later"
        if enabled:
            severity = BREAKS
            depends += f" (its config enables {agent.breaks_when_config_has})"
        findings.append(family("node-agent").finding(    # severity: agents.toml's, or the config's
            t.ref, depends, severity=severity, source=agent.source, agent_fix=agent.remediation))
    return findings
