"""What keeps a kind cluster from going away, and how to clear it.

- A `kind create` killed on Ctrl-C leaves its docker CLI calls running (Python's
  subprocess kills kind alone, not its children): a `docker run` already sent
  still makes the node container after the cluster was deleted. They name the
  cluster's nodes in their arguments, so they can be found and stopped.
- On cgroup v1 a pod container interrupted in `runc init` can leave its freezer
  cgroup FROZEN; Docker then cannot kill the node container ("did not receive
  an exit event"). Writing THAWED to every FROZEN freezer.state under the node
  container's cgroup lets the kill finish (measured here, ../shared/TESTBED-NOTES.md;
  cgroup v1 freezer: Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst).
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

PROC = Path("/proc")
CLUSTER_COMMANDS = {"kind", "docker"}      # what `kind create` runs for a cluster
SHELLS = {"sh", "bash", "dash", "zsh"}
FREEZER_V1 = Path("/sys/fs/cgroup/freezer")
CGROUP_V2 = Path("/sys/fs/cgroup")


def _ancestors() -> set[int]:
    """This process and its parents: never stopped, whatever their arguments."""
    found, pid = set(), os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            stat = (PROC / str(pid) / "stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return found


def command_name(argv: list[str]) -> str:
    """The command a process runs: its program, or the script a shell runs
    (a `kind` wrapper or version-manager shim is `sh /path/to/kind ...`)."""
    program = Path(argv[0]).name
    if program in SHELLS and len(argv) > 1 and not argv[1].startswith("-"):
        return Path(argv[1]).name
    return program


def stray_commands(name: str, proc: Path = PROC) -> list[int]:
    """kind and docker processes whose arguments name cluster `name` (its
    nodes are `name-control-plane`, `name-worker`, ...)."""
    own = _ancestors()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in own:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if command_name(argv) in CLUSTER_COMMANDS and any(
                a == name or a.startswith(f"{name}-") or a.endswith(f"={name}") for a in argv[1:]):
            found.append(int(entry.name))
    return sorted(found)


def stop_stray_commands(name: str) -> list[int]:
    stopped = []
    for pid in stray_commands(name):
        try:
            os.kill(pid, signal.SIGKILL)
            stopped.append(pid)
        except ProcessLookupError:
            pass
    return stopped


def frozen_cgroups(container_id: str) -> list[Path]:
    """Freezer state files of the container's cgroups that are frozen (v1:
    freezer.state FROZEN; v2: cgroup.freeze 1)."""
    roots = [FREEZER_V1 / "docker" / container_id, CGROUP_V2 / "system.slice" / f"docker-{container_id}.scope"]
    found = []
    for root in roots:
        if not root.is_dir():
            continue
        for state in [*root.rglob("freezer.state"), *root.rglob("cgroup.freeze")]:
            try:
                value = state.read_text().strip()
            except OSError:
                continue
            if value in ("FROZEN", "FREEZING", "1"):
                found.append(state)
    return found


def thaw(container_id: str) -> int:
    """Thaw every frozen cgroup of the container; how many were thawed."""
    thawed = 0
    for state in frozen_cgroups(container_id):
        try:
            state.write_text("THAWED" if state.name == "freezer.state" else "0")
            thawed += 1
        except OSError:
            pass
    return thawed
