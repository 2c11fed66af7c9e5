"""Assemble crigate-node:<k8s>-<runtime> images from the Debian root.

The node tree (clusters/node/common, then each layer the runtime profile
names) mirrors the node's filesystem. Control-plane, pause and workload images are preloaded
into the runtime's own store, so a cluster starts with zero pulls:
containerd's content store through a throwaway containerd on the host,
CRI-O's containers-storage through the host's skopeo.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from crigate.facts import DOCKER_DATA

from . import cache, gobuild, images, programs, rootfs, runtimes
from .engine import docker
from .progress import run_logged, say, step
from .runtimes import RuntimeProfile
from .versions import KubernetesRelease

NODE_TREE = Path(__file__).with_name("node")
NODE_REPOSITORY = "crigate-node"
# Nodes without crigate's workload images: they pull them (--image-repo), as
# nodes of clusters crigate did not build do.
BARE_REPOSITORY = "crigate-node-bare"
ENTRYPOINT = '["/usr/local/bin/crigate-entrypoint", "/sbin/init"]'
KIND_LABEL_VERSION = "crigate.kubernetes-version"
NODE_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def node_image_ref(release: KubernetesRelease, runtime: str, workloads: bool = True) -> str:
    return f"{NODE_REPOSITORY if workloads else BARE_REPOSITORY}:{release.minor}-{runtime}"


def is_node_image(ref: str) -> bool:
    return ref.partition(":")[0] in (NODE_REPOSITORY, BARE_REPOSITORY)


def runtime_of_ref(ref: str) -> str:
    """crigate-node:1.37-cri-o -> cri-o"""
    return ref.rpartition(":")[2].partition("-")[2]


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_size}:{int(st.st_mtime)}"


def build_node_image(release: KubernetesRelease, runtime: str, workloads: bool = True) -> str:
    """Build (or reuse) the node image for release on runtime; return its ref.
    workloads=False leaves crigate's workload images out (the node pulls them)."""
    ref = node_image_ref(release, runtime, workloads)
    profile = release.profile(runtime)
    k8s_bin = gobuild.build_kubernetes(release)
    binaries = {f"usr/bin/{c}": k8s_bin / c for c in ("kubeadm", "kubelet", "kubectl")}
    binaries["usr/local/bin/crictl"] = gobuild.build_crictl() / "crictl"
    binaries["usr/local/libexec/crigate/oci-wrapper"] = programs.oci_wrapper()
    built = {b.component: gobuild.BUILDERS[b.component](release) for b in profile.built}
    for b in profile.built:
        binaries.update({f"{b.dest}/{name}": built[b.component] / name for name in b.binaries})
    layers = [NODE_TREE / "common", *(NODE_TREE / layer for layer in profile.node_tree)]
    preload = images.control_plane_images(k8s_bin, release.version)
    if workloads:
        preload += images.workload_images()
    pause_image = images.kubeadm_images(k8s_bin / "kubeadm", release.version)["pause"]
    base = rootfs.base_rootfs()
    fingerprint = cache.fingerprint(
        str(base), *layers, release.version, profile.id,
        *(_stat_key(b) for b in binaries.values()),
        *(images.image_label(r) or r for r in preload))
    if images.image_label(ref) == fingerprint:
        return ref
    with step(f"node image {ref}"):
        stage = cache.root() / "stage" / ref.replace(":", "-")
        try:
            _stage_root(base, stage, profile, layers, release, binaries, pause_image)
            _preload(stage, profile, [images.saved_archive(r) for r in preload],
                     built.get("containerd"))
            _import(stage, ref, fingerprint, release)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return ref


def _stage_root(base: Path, stage: Path, profile: RuntimeProfile, layers: list[Path],
                release: KubernetesRelease, binaries: dict[str, Path], pause_image: str) -> None:
    """Copy the Debian root, purge other profiles' packages, lay the node tree's
    layers on top in order (a later layer's file replaces an earlier one's)."""
    shutil.rmtree(stage, ignore_errors=True)
    stage.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(stage)], check=True)
    rootfs.purge_packages(stage, runtimes.packages_to_purge(profile))
    for tree in layers:
        for src in sorted(tree.rglob("*")):
            dest = stage / src.relative_to(tree)
            if src.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.unlink(missing_ok=True)
            text = src.read_bytes().replace(b"@PAUSE_IMAGE@", pause_image.encode())
            dest.write_bytes(text)
            dest.chmod(src.stat().st_mode & 0o777)
    for dest, src in binaries.items():
        target = stage / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        target.chmod(0o755)
    (stage / "kind").mkdir(exist_ok=True)
    (stage / "kind/version").write_text(release.version + "\n")
    (stage / "var/log/crigate").mkdir(parents=True, exist_ok=True)
    subprocess.run(["chroot", str(stage), "systemctl", "enable", "kubelet.service",
                    *profile.units], check=True, capture_output=True)


def _preload(stage: Path, profile: RuntimeProfile, archives: list[Path],
             containerd_bin: Path | None) -> None:
    log = cache.logs() / f"preload-{profile.id}.log"
    if profile.preload == "ctr-import":
        _preload_containerd(stage, archives, log, containerd_bin)
    elif profile.preload == "docker-load":
        _preload_docker(stage, archives, log)
    elif profile.preload == "containers-storage":
        _preload_containers_storage(stage, archives, log)
    else:
        raise ValueError(f"profile {profile.id}: unknown preload {profile.preload!r}")


# containerd 2.x splits CRI into several plugins; none is wanted in a daemon
# that only imports content (NRI would make /var/run/nri/nri.sock on the host).
IMPORT_ONLY_DISABLED = ("io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images",
                        "io.containerd.cri.v1.runtime",
                        "io.containerd.podsandbox.controller.v1.podsandbox", "io.containerd.nri.v1.nri")


def _preload_containerd(stage: Path, archives: list[Path], log: Path,
                        containerd_bin: Path | None) -> None:
    """Import into the node's content store through a throwaway containerd of
    the node's own build (the host's Debian containerd for profiles that use it)."""
    containerd = str(containerd_bin / "containerd") if containerd_bin else "containerd"
    ctr = str(containerd_bin / "ctr") if containerd_bin else "ctr"
    # 2.x imports through the Transfer API by default, which names images
    # without digests; --local is the 1.6 behaviour (digests, labels, all platforms).
    local = ["--local"] if containerd_bin else []
    with tempfile.TemporaryDirectory(prefix="crigate-containerd-") as tmp:
        socket = f"{tmp}/containerd.sock"
        config = Path(tmp, "config.toml")
        config.write_text(
            "version = 2\n"
            f'root = "{stage}/var/lib/containerd"\nstate = "{tmp}/state"\n'
            f"disabled_plugins = {json.dumps(list(IMPORT_ONLY_DISABLED))}\n"
            f'[grpc]\n  address = "{socket}"\n')
        with log.open("ab") as out:
            daemon = subprocess.Popen([containerd, "--config", str(config)], stdout=out,
                                      stderr=out, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(socket):
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"temporary containerd did not start; see {log}")
                time.sleep(0.2)
            for archive in archives:
                run_logged([ctr, "--address", socket, "-n", "k8s.io", "images", "import", *local,
                            "--label", "io.cri-containerd.pinned=pinned", "--no-unpack",
                            "--all-platforms", "--digests", str(archive)], log, title="ctr import")
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)


def _preload_docker(stage: Path, archives: list[Path], log: Path) -> None:
    """`docker load` into the node's /var/lib/docker through a throwaway dockerd
    on the host, in a network namespace of its own: with no bridge, dockerd
    deletes any `docker0` it sees, and the host engine's must stay."""
    host_bridge = Path("/sys/class/net/docker0")
    had_bridge = host_bridge.exists()
    with tempfile.TemporaryDirectory(prefix="crigate-dockerd-") as tmp:
        host = f"unix://{tmp}/docker.sock"
        Path(tmp, "daemon.json").write_text("{}\n")      # not the host engine's config
        with log.open("ab") as out:
            daemon = subprocess.Popen(
                ["unshare", "--net", "dockerd", "--data-root", str(stage / DOCKER_DATA.lstrip("/")),
                 "--exec-root", f"{tmp}/exec",
                 "--pidfile", f"{tmp}/dockerd.pid", "--host", host, "--bridge", "none",
                 "--iptables=false", "--ip-masq=false", "--storage-driver", "overlay2",
                 "--config-file", f"{tmp}/daemon.json"],
                stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while subprocess.run(["docker", "-H", host, "version"], capture_output=True).returncode:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"temporary dockerd did not start; see {log}")
                time.sleep(0.5)
            for archive in archives:
                run_logged(["docker", "-H", host, "load", "-q", "-i", str(archive)], log,
                           title="docker load")
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
        subprocess.run(["umount", "-R", str(stage / DOCKER_DATA.lstrip("/") / "overlay2")], capture_output=True)
    if had_bridge and not host_bridge.exists():
        raise RuntimeError("the host engine's docker0 bridge went away while preloading the Docker "
                           "node's images; restart the host's dockerd to get it back")


def _preload_containers_storage(stage: Path, archives: list[Path], log: Path) -> None:
    graph = stage / "var/lib/containers/storage"
    with tempfile.TemporaryDirectory(prefix="crigate-storage-") as runroot:
        for archive in archives:
            run_logged(["skopeo", "copy", "--quiet", f"docker-archive:{archive}",
                        f"containers-storage:[overlay@{graph}+{runroot}]" + _archive_ref(archive)],
                       log, title="skopeo copy")
        # Unmount anything containers/storage left mounted under the stage.
        subprocess.run(["umount", "-R", str(graph / "overlay")], capture_output=True)


def _archive_ref(archive: Path) -> str:
    import tarfile
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    return manifest[0]["RepoTags"][0]


def _import(stage: Path, ref: str, fingerprint: str, release: KubernetesRelease) -> None:
    """docker import the staged root, then add what import cannot set (STOPSIGNAL)
    with a metadata-only build on top of it."""
    rootfs_ref = f"{ref}-rootfs"
    tar = subprocess.Popen(["tar", "--numeric-owner", "--xattrs", "-C", str(stage), "-cf", "-", "."],
                           stdout=subprocess.PIPE)
    try:
        subprocess.run(["docker", "import", "-", rootfs_ref], stdin=tar.stdout, check=True,
                       capture_output=True)
    finally:
        tar.stdout.close()
        tar.wait()
    dockerfile = "\n".join([
        f"FROM {rootfs_ref}",
        f"ENTRYPOINT {ENTRYPOINT}",
        "STOPSIGNAL SIGRTMIN+3",          # systemd's clean shutdown
        "ENV container=docker",
        f"ENV {NODE_PATH}",
        f"LABEL {images.FINGERPRINT_LABEL}={fingerprint} {KIND_LABEL_VERSION}={release.version}",
    ]) + "\n"
    subprocess.run(["docker", "build", "-q", "-t", ref, "-"], input=dockerfile, text=True,
                   check=True, capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    docker("rmi", rootfs_ref, check=False)    # the layer stays, as the image's parent
    say(f"    built {ref}")
