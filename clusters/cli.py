"""python -m crigate.testbed {doctor,build,up,down,kwok,list,registry,images}"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import doctor, engine, gobuild, host, images, kindcluster, kwokcluster, kwokload, nodeimage, registry
from .progress import say
from .versions import (
    DEFAULT_KUBERNETES,
    KUBERNETES_MINORS,
    NODE_RUNTIMES,
    RUNTIMES,
    UnknownChoice,
    kubernetes_release,
    parse_runtimes,
)

MAX_WORKERS = 16     # kind nodes on one machine: each is a container with its own kubelet


def _runtimes(value: str) -> list[str]:
    """'all', one runtime, or a comma-separated list ('all,docker')."""
    try:
        return parse_runtimes([value])
    except UnknownChoice as bad:
        raise argparse.ArgumentTypeError(
            f"unknown runtime {str(bad)!r}; valid: {', '.join(NODE_RUNTIMES)}, all (comma-separated)") from None


def _workers(value: str) -> list[str]:
    """'docker,cri-o' or 'containerd:8' (RUNTIME[:COUNT], comma-separated): one name per worker."""
    workers = []
    for part in value.split(","):
        name, _, count = part.partition(":")
        if count and not (count.isdigit() and 0 < int(count) <= MAX_WORKERS):
            raise argparse.ArgumentTypeError(
                f"--workers {part!r}: COUNT must be 1 to {MAX_WORKERS}, e.g. containerd:8")
        workers += _runtimes(name) * (int(count) if count else 1)
    return workers


def _one_runtime(value: str) -> list[str]:
    if value not in NODE_RUNTIMES:
        raise argparse.ArgumentTypeError(
            f"unknown runtime {value!r}: `up` creates a cluster of one runtime: {', '.join(NODE_RUNTIMES)}")
    return [value]


def _platforms(value: str) -> tuple[str, ...]:
    """Comma-separated OS/ARCH values images push can build."""
    chosen = tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
    unknown = [p for p in chosen if p not in images.PUSH_PLATFORMS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown platform {', '.join(unknown) or value!r}; valid: {', '.join(images.PUSH_PLATFORMS)} "
            "(comma-separated)")
    return chosen


def _k8s(value: str) -> str:
    try:
        return kubernetes_release(value).minor
    except UnknownChoice as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m crigate.testbed",
                                  description="crigate test bed: kind clusters on containerd and CRI-O, "
                                              "built offline")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check whether a cluster can be created here").add_argument(
        "--k8s", type=_k8s, default=DEFAULT_KUBERNETES, help="Kubernetes minor to check images for")
    build = sub.add_parser("build", help="build tools and node images (idempotent)")
    build.add_argument("--runtime", type=_runtimes, default=list(RUNTIMES),
                       help=f"{', '.join(NODE_RUNTIMES)} or all (= {', '.join(RUNTIMES)}; "
                            "docker is the Docker Engine baseline; default: all)")
    build.add_argument("--k8s", type=_k8s, default=DEFAULT_KUBERNETES,
                       help=f"Kubernetes minor: {', '.join(KUBERNETES_MINORS)} "
                            f"(default {DEFAULT_KUBERNETES})")
    up = sub.add_parser("up", help="create a one-node cluster and wait until it is Ready")
    up.add_argument("--runtime", type=_one_runtime, required=True, help=", ".join(NODE_RUNTIMES))
    up.add_argument("--k8s", type=_k8s, default=DEFAULT_KUBERNETES)
    up.add_argument("--name", help="cluster name (default crigate-<runtime>)")
    up.add_argument("--kubeconfig", type=Path, help="where to write the kubeconfig")
    up.add_argument("--keep-on-failure", action="store_true",
                    help="leave a cluster that failed to come up, for debugging")
    up.add_argument("--workers", type=_workers, default=[], metavar="RUNTIMES",
                    help="add a worker per runtime listed (comma-separated, e.g. docker,cri-o: "
                         "a cluster mid-way through a migration); RUNTIME:COUNT adds COUNT of them "
                         "(containerd:8: many nodes for node checks)")
    up.add_argument("--pull", action="store_true",
                    help="nodes without crigate's workload images: they pull them from a registry "
                         "(python -m crigate.testbed registry up; images push; --image-repo)")
    registry_cmd = sub.add_parser("registry", help="a registry on kind's network the nodes pull from")
    registry_verbs = registry_cmd.add_subparsers(dest="verb", required=True)
    registry_up = registry_verbs.add_parser("up", help="start it (push to 127.0.0.1:PORT)")
    registry_up.add_argument("--port", type=int, default=5000)
    registry_verbs.add_parser("down", help="stop and remove it")
    down = sub.add_parser("down", help="delete clusters and what they left behind")
    which = down.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", help="cluster to delete")
    which.add_argument("--all", action="store_true", help="every crigate cluster")
    sub.add_parser("list", help="crigate clusters and node images")
    kwok = sub.add_parser("kwok", help="a cluster of kwok fake nodes, filled, in the foreground until Ctrl-C")
    kwok.add_argument("--scale", type=float, default=0.2,
                      help="of 2,000 nodes in mixed-runtime groups, 50,000 pods, 20,000 ConfigMaps (default 0.2)")
    kwok.add_argument("--k8s", type=_k8s, default=DEFAULT_KUBERNETES, help="kube-apiserver's minor")
    pushing = sub.add_parser("images", help="the images crigate deploys, for clusters that pull them")
    verbs = pushing.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", help="print the image refs the suites deploy")
    push = verbs.add_parser("push", help="copy them to a registry the cluster's nodes can pull from")
    push.add_argument("--registry", required=True, metavar="REPO",
                      help="HOST[:PORT][/PREFIX]; then run pytest with --image-repo REPO")
    push.add_argument("--insecure", action="store_true",
                      help="the registry speaks plain http (or has a certificate this host does not trust)")
    push.add_argument("--platforms", type=_platforms, default=images.PUSH_PLATFORMS,
                      metavar="OS/ARCH,...",
                      help=f"platforms in each pushed image index (default {','.join(images.PUSH_PLATFORMS)}; "
                           "arm64 is cross-compiled and installs Debian's gcc-aarch64-linux-gnu)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (engine.EngineError, host.HostError, kindcluster.ClusterError, UnknownChoice,
            images.PushError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_doctor(args) -> int:
    return doctor.report(doctor.run_checks(args.k8s))


def cmd_build(args) -> int:
    started = time.monotonic()
    release = kubernetes_release(args.k8s)
    host.ensure_host_packages()
    engine.ensure_engine()
    for runtime in args.runtime:
        nodeimage.build_node_image(release, runtime)
    gobuild.build_kind()
    gobuild.build_critest()        # the optional `-m cri` area
    gobuild.build_actionlint()     # lints .github/workflows in crigate's own tests
    gobuild.build_toxiproxy()      # TCP faults in front of the API (tests/testbed/test_faults.py)
    say(f"build finished in {time.monotonic() - started:.1f}s: "
        + ", ".join(nodeimage.node_image_ref(release, r) for r in args.runtime))
    return 0


def cmd_up(args) -> int:
    release = kubernetes_release(args.k8s)
    runtime = args.runtime[0]
    started = time.monotonic()
    cluster = kindcluster.up(release, runtime, args.name, args.kubeconfig, args.keep_on_failure,
                             workers=tuple(args.workers), workloads=not args.pull)
    say(f"cluster {cluster.name} ready in {time.monotonic() - started:.1f}s "
        f"(nodes: {', '.join(cluster.nodes)})")
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    return 0


def cmd_down(args) -> int:
    names = ([c["name"] for c in kindcluster.crigate_clusters()] if args.all else [args.name])
    for name in names:
        kindcluster.delete(name)
    if not names:
        say("no crigate clusters")
    return 0


def cmd_kwok(args) -> int:
    """etcd, kube-apiserver and kwok on loopback (no Docker engine, no kind), filled
    by kwokload; stopped and removed on Ctrl-C or SIGTERM."""
    from crigate.cancel import sigterm_interrupts
    sigterm_interrupts()
    cluster = kwokcluster.up(kubernetes_release(args.k8s))
    try:
        from kubernetes import config as kube_config
        api = kube_config.new_client_from_config(str(cluster.kubeconfig))
        kwokload.populate(api, kwokload.FULL.scaled(args.scale), say=say)
        kwokload.wait_settled(api, say=say)
        print(f"export KUBECONFIG={cluster.kubeconfig}", flush=True)
        say("kwok cluster up; Ctrl-C stops it and removes its folder")
        while all(p.poll() is None for p in cluster.processes.values()):
            time.sleep(5)
        say(f"a process of the kwok cluster exited; logs in {cluster.workdir}")
        return 1
    finally:
        cluster.stop(keep=any(p.poll() is not None for p in cluster.processes.values()))


def cmd_list(args) -> int:
    clusters = kindcluster.crigate_clusters() if engine.server_version() else []
    for c in clusters:
        print(f"{c['name']}\t{c['runtime']}\t{c['image']}\t{c['state']}\t{','.join(c['nodes'])}")
    if not clusters:
        print("no crigate clusters")
    return 0


def cmd_registry(args) -> int:
    if args.verb == "down":
        registry.down()
        return 0
    address = registry.up(args.port)
    say(f"registry {registry.CONTAINER} up: push with `python -m crigate.testbed images push --registry "
        f"{address}/crigate --insecure`; nodes pull it as {registry.NODE_ADDRESS}: run the suites "
        f"with --image-repo {registry.NODE_ADDRESS}/crigate")
    return 0


def cmd_images(args) -> int:
    if args.verb == "list":
        print("\n".join(images.WORKLOAD_IMAGES))
        return 0
    pushed = images.push(args.registry, tls_verify=not args.insecure, platforms=args.platforms)
    say(f"pushed {len(pushed)} images ({', '.join(args.platforms)}); run the suites with "
        f"--image-repo {args.registry}")
    return 0


COMMANDS = {"doctor": cmd_doctor, "build": cmd_build, "up": cmd_up, "down": cmd_down, "kwok": cmd_kwok,
            "list": cmd_list, "images": cmd_images, "registry": cmd_registry}
