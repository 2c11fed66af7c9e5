"""What the gate reports: findings about objects, and the pod templates they
are found in."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

BREAKS = "breaks"      # fails after the switch: NO-GO until fixed
REVIEW = "review"      # may fail: a person must look (does not block)

# An object defined several ways in the manifests given is read each way; every
# way but the last as NAME@N (manifests.definitions). `@` is never in a
# Kubernetes name, so the suffix cannot clash with one.
DEFINITION_NUMBER = re.compile(r"@\d+(?=[/\[ ]|$)")


def numbered(name: str, number: int) -> str:
    return f"{name}@{number}"


def unnumbered(text: str) -> str:
    """A name or object ref with its definition numbers taken off."""
    return DEFINITION_NUMBER.sub("", text)


@dataclass(frozen=True)
class Finding:
    check: str               # rule that found it, e.g. "docker-socket-mount"
    object: str              # Kind/namespace/name[/container]
    depends_on: str          # what it relies on that goes away
    why: str                 # why that breaks on a CRI runtime
    remediation: str
    severity: str = BREAKS
    location: str = ""       # file:line of the object, when read from manifests
    suppressed: str = ""     # why it is ignored (--suppress / --suppress-file); "" when it counts
    certainty: str = ""      # what makes it certain or not: the evidence it rests on (families/*.toml)
    platform_couplings: tuple[str, ...] = ()   # platform facts that would keep it working (not reported)

    def as_dict(self) -> dict:
        found = asdict(self)
        del found["platform_couplings"]
        return found

    def line(self) -> str:
        return (f"{self.object}: depends on {self.depends_on}; {self.why}. "
                f"Fix: {self.remediation}")


@dataclass
class PodTemplate:
    """A pod spec as the API holds it (camelCase dict), with the object it comes from."""
    kind: str
    namespace: str
    name: str
    spec: dict
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)   # the object's, then its pod template's

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    def containers(self) -> list[dict]:
        return [*self.spec.get("initContainers", []), *self.spec.get("containers", []),
                *self.spec.get("ephemeralContainers", [])]

    def volume(self, name: str) -> dict:
        return next((v for v in self.spec.get("volumes", []) if v.get("name") == name), {})

    def host_paths(self, container: dict) -> list[tuple[str, dict]]:
        """(host path the container sees, its volumeMount) for each hostPath mount."""
        found = []
        for mount in container.get("volumeMounts", []):
            host_path = self.volume(mount.get("name", "")).get("hostPath")
            if host_path:
                path = host_path.get("path", "").rstrip("/") or "/"
                sub = mount.get("subPath") or mount.get("subPathExpr") or ""
                found.append((f"{path}/{sub}".rstrip("/") if sub else path, mount))
        return found

    def configmap_names(self, container: dict) -> list[str]:
        """ConfigMaps the container reads: mounted volumes, envFrom, env valueFrom."""
        names = []
        for mount in container.get("volumeMounts", []):
            volume = self.volume(mount.get("name", ""))
            if "configMap" in volume:
                names.append(volume["configMap"].get("name", ""))
            for source in volume.get("projected", {}).get("sources", []):
                if "configMap" in source:
                    names.append(source["configMap"].get("name", ""))
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                names.append(source["configMapRef"].get("name", ""))
        for env in container.get("env", []):
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
            if ref:
                names.append(ref.get("name", ""))
        return [n for n in names if n]
