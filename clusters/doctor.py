"""`python -m crigate.testbed doctor`: can a cluster be created here, and if not, why."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import cache, engine, nodeimage
from .versions import RUNTIMES, kubernetes_release

MIN_FREE_GIB = 10          # node images + Go caches + a cluster's /var volume
MIN_INOTIFY_INSTANCES = 512  # kind's known-issues advice for several nodes


@dataclass
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    blocking: bool = True


def _free_gib(path: Path) -> float:
    path.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(path)
    return usage.free / 2**30


def run_checks(k8s: str | None = None) -> list[Finding]:
    release = kubernetes_release(k8s)
    found: list[Finding] = []
    version = engine.server_version()
    if version:
        found.append(Finding("docker engine", True, f"server {version}"))
        if engine.lacks_cap_sys_resource():
            runtime = engine.default_runtime()
            found.append(Finding(
                "privileged containers", runtime == engine.RUNTIME_NAME,
                f"CAP_SYS_RESOURCE missing; default runtime {runtime!r}",
                f"restart the engine with `python -m crigate.testbed build` (it registers "
                f"{engine.RUNTIME_NAME})"))
    else:
        found.append(Finding(
            "docker engine", False, "no Docker engine answers on the docker socket"
            + ("" if shutil.which("docker") else " (no docker CLI either)"),
            "run `python -m crigate.testbed build` (installs Debian's docker.io and starts dockerd "
            "with crigate's runtime wrapper) or start your own engine"))
    free = _free_gib(cache.root())
    found.append(Finding("disk", free >= MIN_FREE_GIB, f"{free:.1f} GiB free under {cache.root()}",
                         f"free at least {MIN_FREE_GIB} GiB or set CRIGATE_CACHE to a larger disk"))
    cgroup2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    found.append(Finding("cgroups", True, "v2" if cgroup2 else "v1 (Kubernetes <= 1.33 only)",
                         blocking=False))
    try:
        instances = int(Path("/proc/sys/fs/inotify/max_user_instances").read_text())
    except OSError:
        instances = 0
    found.append(Finding("inotify", instances >= MIN_INOTIFY_INSTANCES,
                         f"max_user_instances={instances}",
                         f"sysctl -w fs.inotify.max_user_instances={MIN_INOTIFY_INSTANCES}",
                         blocking=False))
    found.append(Finding("root", os.geteuid() == 0, f"uid {os.geteuid()}",
                         "run as root (the test bed runs debootstrap, chroot and dockerd)"))
    for tool in ("go", "gcc", "debootstrap", "skopeo", "containerd", "ctr"):
        found.append(Finding(f"tool {tool}", bool(shutil.which(tool)),
                             shutil.which(tool) or "not on PATH",
                             "run `python -m crigate.testbed build` (it installs Debian's packages)"
                             if tool != "go" else "install Go 1.22+", blocking=tool == "go"))
    for runtime in RUNTIMES:
        ref = nodeimage.node_image_ref(release, runtime)
        built = bool(version) and engine.docker("image", "inspect", ref, check=False).returncode == 0
        found.append(Finding(f"node image {runtime}", built, ref if built else f"{ref} not built",
                             f"python -m crigate.testbed build --runtime {runtime} --k8s {release.minor}"))
    return found


def report(findings: list[Finding]) -> int:
    for f in findings:
        mark = "ok  " if f.ok else ("FAIL" if f.blocking else "warn")
        print(f"[{mark}] {f.name}: {f.detail}")
        if not f.ok and f.fix:
            print(f"       fix: {f.fix}")
    blocking = [f for f in findings if not f.ok and f.blocking]
    print("ready: a cluster can be created" if not blocking
          else f"not ready: {len(blocking)} problem(s) above")
    return 0 if not blocking else 1
