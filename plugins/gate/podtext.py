"""Everything a container can read or run, as text with where it comes from.

A coupling hides wherever a program takes its settings: its command and args,
its env (literal, from a ConfigMap key, or a whole ConfigMap), the commands of
its lifecycle hooks and exec probes, and the ConfigMap files mounted into it.
Each Text names its chain (ConfigMap key -> volume -> file in the container),
so a finding can say which line to change.
"""
from __future__ import annotations

from dataclasses import dataclass

from .findings import PodTemplate
from .inventory import Inventory

HOOKS = ("postStart", "preStop")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
COMMENTS = ("#", "//", ";")


@dataclass(frozen=True)
class Text:
    origin: str       # where the text is, e.g. "args", "env DOCKER_HOST", "ConfigMap/ns/cm[key]"
    text: str
    file: str = ""    # the file the container reads it from, for mounted ConfigMaps

    @property
    def code(self) -> str:
        """The text with comment lines blanked (#, //, ;), lines kept in place:
        a commented-out sample setting is not a use."""
        return "\n".join("" if line.lstrip().startswith(COMMENTS) else line for line in self.text.split("\n"))

    @property
    def env_name(self) -> str:
        """The variable's name for an env text, else ""."""
        return self.origin.split()[1] if self.origin.startswith("env ") else ""

    def chain(self, line: int = 0) -> str:
        at = f" line {line}" if line and self.text.count("\n") else ""
        return f"{self.origin}{at}" + (f" (mounted as {self.file})" if self.file else "")


def exec_commands(container: dict) -> list[tuple[str, list]]:
    found = []
    for hook in HOOKS:
        command = (((container.get("lifecycle") or {}).get(hook) or {}).get("exec") or {}).get("command")
        if command:
            found.append((f"lifecycle.{hook}", command))
    for probe in PROBES:
        command = ((container.get(probe) or {}).get("exec") or {}).get("command")
        if command:
            found.append((f"{probe}.exec", command))
    return found


def _env_texts(template: PodTemplate, container: dict, inventory: Inventory) -> list[Text]:
    texts = []
    for env in container.get("env") or []:
        if not isinstance(env, dict):
            continue
        name, value = env.get("name", ""), env.get("value")
        ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
        if value is not None:
            texts.append(Text(f"env {name}", f"{name}={value}"))
        elif ref:
            data = inventory.config_map(template.namespace, ref.get("name", ""))
            if ref.get("key") in data:
                texts.append(Text(f"env {name} from ConfigMap/{template.namespace}/{ref['name']}"
                                  f"[{ref['key']}]", f"{name}={data[ref['key']]}"))
    for source in container.get("envFrom") or []:
        if not isinstance(source, dict):
            continue
        ref = (source.get("configMapRef") or {}).get("name")
        prefix = source.get("prefix", "")
        for key, value in sorted(inventory.config_map(template.namespace, ref).items() if ref else ()):
            texts.append(Text(f"env {prefix}{key} from ConfigMap/{template.namespace}/{ref}[{key}]",
                              f"{prefix}{key}={value}"))
    return texts


def _configmap_volume_files(volume: dict) -> list[tuple[str, str, str]]:
    """(ConfigMap name, key, path under the mount) for a configMap or projected volume."""
    sources = [volume["configMap"]] if "configMap" in volume else [
        s["configMap"] for s in (volume.get("projected") or {}).get("sources", []) if "configMap" in s]
    files = []
    for source in sources:
        if not isinstance(source, dict):
            continue          # shapes.py names fields of other types; nothing to read here
        items = source.get("items")
        if isinstance(items, list) and items:
            files += [(source.get("name", ""), i.get("key", ""), i.get("path", i.get("key", "")))
                      for i in items if isinstance(i, dict)]
        else:
            files.append((source.get("name", ""), "*", ""))
    return files


def _file_texts(template: PodTemplate, container: dict, inventory: Inventory) -> list[Text]:
    texts = []
    for mount in container.get("volumeMounts", []):
        volume = template.volume(mount.get("name", ""))
        mount_path, sub = mount.get("mountPath", "").rstrip("/"), mount.get("subPath", "")
        for name, key, path in _configmap_volume_files(volume):
            data = inventory.config_map(template.namespace, name)
            for k, value in sorted(data.items()):
                file = path if key != "*" else k
                if (key != "*" and k != key) or (sub and file != sub) or not isinstance(value, str):
                    continue
                where = mount_path if sub else f"{mount_path}/{file}"
                texts.append(Text(f"ConfigMap/{template.namespace}/{name}[{k}]", value,
                                  f"{where} via volume {mount.get('name')}"))
    return texts


def container_texts(template: PodTemplate, container: dict, inventory: Inventory) -> list[Text]:
    """Every text the container runs or reads, with its origin."""
    texts = []
    argv = [str(a) for a in [*container.get("command", []), *container.get("args", [])]]
    if argv:
        texts.append(Text("command/args", " ".join(argv)))
    texts += [Text(origin, " ".join(str(a) for a in command)) for origin, command in exec_commands(container)]
    return texts + _env_texts(template, container, inventory) + _file_texts(template, container, inventory)
