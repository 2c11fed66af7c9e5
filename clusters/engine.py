"""The host's Docker engine: reuse a running one, else start Debian's dockerd.

This VM's processes lack CAP_SYS_RESOURCE, so `docker run --privileged` (every
kind node) fails in runc unless the engine's default runtime is the
oci-wrapper, which drops that capability from the spec before runc sees it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from . import host, programs
from .progress import say, step

DAEMON_JSON = Path("/etc/docker/daemon.json")
WRAPPER_DIR = Path("/usr/local/libexec/crigate")
RUNTIME_NAME = "crigate-runc"
DOCKERD_LOG = Path("/var/log/crigate/dockerd.log")
CAP_SYS_RESOURCE = 24


class EngineError(RuntimeError):
    """The engine cannot be used; the message says what to do."""


class DockerCommandError(subprocess.CalledProcessError):
    """A failed `docker ...`, its output in the message (a bare exit status says nothing)."""

    def __str__(self) -> str:
        said = "\n".join(s.strip() for s in (self.stdout, self.stderr) if s and s.strip())
        return f"{super().__str__()}\n{said[-2000:]}" if said else super().__str__()


def docker(*args: str, check: bool = True, capture: bool = True, timeout: float | None = 120,
           input: str | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], text=True, timeout=timeout, capture_output=capture,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)
    if check and done.returncode:
        raise DockerCommandError(done.returncode, done.args, done.stdout, done.stderr)
    return done


def server_version() -> str | None:
    """The engine's version, or None when no engine answers."""
    if not shutil.which("docker"):
        return None
    try:
        out = docker("version", "--format", "{{.Server.Version}}", check=False, timeout=20)
    except subprocess.TimeoutExpired:
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def lacks_cap_sys_resource() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return not int(line.split()[1], 16) >> CAP_SYS_RESOURCE & 1
    return False


def default_runtime() -> str:
    return docker("info", "--format", "{{.DefaultRuntime}}", check=False).stdout.strip()


def ensure_engine() -> str:
    """Make a Docker engine usable for privileged kind nodes; return its version."""
    version = server_version()
    if version:
        if lacks_cap_sys_resource() and default_runtime() != RUNTIME_NAME:
            raise EngineError(
                f"the running Docker engine ({version}) uses runtime {default_runtime()!r}, "
                "but this machine lacks CAP_SYS_RESOURCE, so privileged kind nodes will fail. "
                "Stop that engine and run `python -m crigate.testbed build` to start one with the "
                f"{RUNTIME_NAME} wrapper, or register {WRAPPER_DIR}/runc as its default runtime.")
        return version
    with step("start a Docker engine (Debian docker.io)"):
        host.ensure_host_packages()   # docker.io, among others
        _install_wrapper()
        _configure_daemon()
        _start_dockerd()
    return server_version() or ""


def _install_wrapper() -> None:
    WRAPPER_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy2(programs.oci_wrapper(), WRAPPER_DIR / "oci-wrapper")
    script = WRAPPER_DIR / "runc"
    script.write_text("#!/bin/sh\n# Docker's default runtime on hosts without CAP_SYS_RESOURCE.\n"
                      f"exec {WRAPPER_DIR}/oci-wrapper --runtime {shutil.which('runc') or '/usr/bin/runc'}"
                      " --bounding-only -- \"$@\"\n")
    script.chmod(0o755)


def _configure_daemon() -> None:
    config = json.loads(DAEMON_JSON.read_text()) if DAEMON_JSON.exists() else {}
    config.setdefault("runtimes", {})[RUNTIME_NAME] = {"path": str(WRAPPER_DIR / "runc")}
    if lacks_cap_sys_resource():
        config["default-runtime"] = RUNTIME_NAME
    DAEMON_JSON.parent.mkdir(parents=True, exist_ok=True)
    DAEMON_JSON.write_text(json.dumps(config, indent=2) + "\n")


def _start_dockerd() -> None:
    # kind's known issues: nodes need more inotify instances than the default.
    for key, value in (("fs/inotify/max_user_instances", "512"),
                       ("fs/inotify/max_user_watches", "524288")):
        try:
            Path("/proc/sys", key).write_text(value)
        except OSError as err:
            say(f"    warning: could not raise {key}: {err}")
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with DOCKERD_LOG.open("ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server_version():
            return
        time.sleep(0.5)
    raise EngineError(f"dockerd did not answer within 60 s; see {DOCKERD_LOG}")
