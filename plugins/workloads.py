"""Pod manifests the suites deploy; images are the test bed's local ones."""
from __future__ import annotations

from crigate.testbed.images import BUSYBOX_IMAGE, LOGGER_IMAGE

from .kube import MANAGED_BY

PULL_POLICY = "IfNotPresent"


def container(name: str, image: str, *, command=None, args=None, privileged=False) -> dict:
    spec = {"name": name, "image": image, "imagePullPolicy": PULL_POLICY}
    if command:
        spec["command"] = command
    if args:
        spec["args"] = args
    if privileged:
        spec["securityContext"] = {"privileged": True}
    return spec


def pod(name: str, containers: list[dict], *, restart: str = "Never", **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": dict(MANAGED_BY)},
            "spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": 0,
                     "containers": containers, **spec}}


LOGGER_NEXT_STEP = ["/logger", "--next"]    # exec'd in a stepped logger: write the next step


def logger_pod(name: str = "logger", *, long_bytes: int = 40000, exit_code: int | None = None,
               restart: str = "Never", mode: str | None = None, **spec) -> dict:
    """clusters/programs/logger: mode None writes everything at once, "steps" one
    step per LOGGER_NEXT_STEP, "interleave" stages a stderr line inside a stdout one."""
    args = ["--long", str(long_bytes)] + (["--exit", str(exit_code)] if exit_code is not None else [])
    args += [f"--{mode}"] if mode else []
    return pod(name, [container("logger", LOGGER_IMAGE, args=args)], restart=restart, **spec)


def sleeper_pod(name: str, containers: int = 1, **spec) -> dict:
    """Busybox containers that sleep, each with a marker in its command line."""
    return pod(name, [container(f"c{i}", BUSYBOX_IMAGE,
                                command=["sleep", f"{3600 + i}"]) for i in range(containers)], **spec)
