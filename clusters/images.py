"""Container images the test bed builds locally, and the workload images
`python -m crigate.testbed images push` puts in a registry.

Every image is one layer assembled from a file map and given to `docker
import`, labelled with a fingerprint of its inputs so an unchanged image is
never rebuilt. Control-plane images carry the exact names kubeadm asks for.
Pushed images are image indexes (amd64 and arm64 by default), written as an
OCI layout from the same file maps with each platform's binaries.
"""
from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import cache, debs, gobuild, host, ocilayout, programs
from .engine import docker
from .progress import step

FINGERPRINT_LABEL = "crigate.fingerprint"
PATH_ENV = "PATH=/usr/local/bin:/usr/bin:/bin"
BUSYBOX = Path("/bin/busybox")   # Debian's busybox-static
PGREP = Path(__file__).with_name("programs") / "pgrep"

# Images the suites' workloads use (pods set imagePullPolicy: IfNotPresent),
# named under a registry that does not exist: the test bed preloads them, other
# clusters pull them from where `python -m crigate.testbed images push` put them.
LOCAL_REGISTRY = "crigate.local"
LOGGER_IMAGE = f"{LOCAL_REGISTRY}/logger:1"
HTTP_ECHO_IMAGE = f"{LOCAL_REGISTRY}/http-echo:1"
BUSYBOX_IMAGE = f"{LOCAL_REGISTRY}/busybox:1"
WEB_IMAGE = f"{LOCAL_REGISTRY}/web:1"      # http-echo on port 80: critest's web server image
# crigate's OpenTelemetry Collector (clusters/programs/otelcol): filelog in, file out
OTELCOL_IMAGE = f"{LOCAL_REGISTRY}/otelcol:1"
WORKLOAD_IMAGES = (LOGGER_IMAGE, HTTP_ECHO_IMAGE, BUSYBOX_IMAGE, WEB_IMAGE, OTELCOL_IMAGE)
# What `images push` builds (--platforms): EKS runs amd64 and Graviton (arm64) node groups.
PUSH_PLATFORMS = ("linux/amd64", "linux/arm64")
HOST_PLATFORM_ONLY = "or pass --platforms linux/amd64"


def image_in_repo(image: str, repo: str) -> str:
    """crigate.local/logger:1 -> REPO/logger:1; other images stay as they are."""
    prefix = LOCAL_REGISTRY + "/"
    return f"{repo.rstrip('/')}/{image[len(prefix):]}" if image.startswith(prefix) else image


@dataclass
class ImageSpec:
    ref: str
    files: dict[str, Path] = field(default_factory=dict)      # path in image -> host file
    symlinks: dict[str, str] = field(default_factory=dict)   # path in image -> target
    entrypoint: list[str] | None = None
    env: tuple[str, ...] = (PATH_ENV,)

    def fingerprint(self) -> str:
        return cache.fingerprint(self.ref, json.dumps(self.entrypoint), *self.env,
                                 *(f"{k}->{v}" for k, v in sorted(self.symlinks.items())),
                                 *(f"{k}:{cache.fingerprint(v)}" for k, v in sorted(self.files.items())))


def image_label(ref: str, label: str = FINGERPRINT_LABEL) -> str | None:
    out = docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', ref,
                 check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def _layer(spec: ImageSpec) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dirs = {str(Path(p).parent) for p in [*spec.files, *spec.symlinks]} | {"tmp"}
        for d in sorted(dirs):
            parts = Path(d.lstrip("/")).parts
            for i in range(1, len(parts) + 1):
                info = tarfile.TarInfo("/".join(parts[:i]))
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if parts[:i] == ("tmp",) else 0o755
                if info.name not in tar.getnames():
                    tar.addfile(info)
        for dest, src in sorted(spec.files.items()):
            tar.add(str(src), arcname=dest.lstrip("/"))
        for dest, target in sorted(spec.symlinks.items()):
            info = tarfile.TarInfo(dest.lstrip("/"))
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


def ensure_image(spec: ImageSpec) -> str:
    """Build spec's image unless one with the same fingerprint exists; return its ref."""
    fingerprint = spec.fingerprint()
    if image_label(spec.ref) == fingerprint:
        return spec.ref
    changes = [f"ENV {e}" for e in spec.env] + [f"LABEL {FINGERPRINT_LABEL}={fingerprint}"]
    if spec.entrypoint:
        changes.append(f"ENTRYPOINT {json.dumps(spec.entrypoint)}")
    args = ["docker", "import"]
    for change in changes:
        args += ["--change", change]
    subprocess.run(args + ["-", spec.ref], input=_layer(spec), check=True, capture_output=True)
    return spec.ref


def saved_archive(ref: str) -> Path:
    """`docker save` of ref, cached by image ID (for ctr / skopeo imports)."""
    image_id = docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()
    path = cache.root() / "archives" / f"{image_id.split(':')[-1][:16]}.tar"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        docker("save", "-o", str(path.with_suffix(".partial")), ref)
        path.with_suffix(".partial").rename(path)
    return path


def kubeadm_images(kubeadm: Path, version: str) -> dict[str, str]:
    """Component name -> image ref, as `kubeadm config images list` prints them."""
    out = subprocess.run([str(kubeadm), "config", "images", "list", "--kubernetes-version",
                          version], check=True, capture_output=True, text=True).stdout.split()
    return {ref.rsplit("/", 1)[-1].split(":")[0]: ref for ref in out}


def control_plane_images(kubernetes_bin: Path, version: str) -> list[str]:
    """kube-apiserver, -controller-manager, -scheduler, etcd and pause, as kubeadm names them.

    kube-proxy and CoreDNS are not built: the test bed's kind config skips
    those kubeadm addons (the suites need neither Services nor cluster DNS).
    """
    wanted = kubeadm_images(kubernetes_bin / "kubeadm", version)
    specs = []
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        binary = kubernetes_bin / component
        specs.append(ImageSpec(wanted[component], {f"usr/local/bin/{component}": binary},
                               entrypoint=[f"/usr/local/bin/{component}"]))
    etcd_version = "v" + wanted["etcd"].rsplit(":", 1)[1].split("-")[0]
    etcd = gobuild.build_etcd(etcd_version) / "etcd"
    specs.append(ImageSpec(wanted["etcd"], {"usr/local/bin/etcd": etcd},
                           entrypoint=["/usr/local/bin/etcd"]))
    specs.append(pause_spec(wanted["pause"]))
    with step(f"control-plane images for Kubernetes {version}"):
        return [ensure_image(spec) for spec in specs]


def pause_spec(ref: str) -> ImageSpec:
    return ImageSpec(ref, {"pause": programs.pause()}, entrypoint=["/pause"])


def busybox(arch: str = programs.HOST_ARCH) -> Path:
    """Debian's static busybox for arch: the host's own, or unpacked from busybox-static:arch."""
    if arch == programs.HOST_ARCH:
        return BUSYBOX
    return debs.package_file("busybox-static", arch, "bin/busybox", alternative=HOST_PLATFORM_ONLY)


def workload_specs(arch: str = programs.HOST_ARCH) -> list[ImageSpec]:
    """The workload images' specs, with binaries for arch (the host's: what the test bed preloads)."""
    # Applet names from the host's busybox (it cannot run another arch's binary);
    # Debian builds every architecture from one configuration, tests/test_images_push.py
    # compares the arm64 list under qemu.
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    http_echo = programs.go_program("http-echo", arch)
    return [
        ImageSpec(LOGGER_IMAGE, {"logger": programs.c_program("logger", arch)}, entrypoint=["/logger"]),
        ImageSpec(HTTP_ECHO_IMAGE, {"http-echo": http_echo}, entrypoint=["/http-echo"]),
        ImageSpec(WEB_IMAGE, {"http-echo": http_echo}, entrypoint=["/http-echo", ":80"]),
        ImageSpec(BUSYBOX_IMAGE, {"bin/busybox": busybox(arch), "bin/pgrep": PGREP},
                  symlinks={f"bin/{a}": "busybox" for a in applets if a not in ("busybox", "pgrep")},
                  entrypoint=None),
        ImageSpec(OTELCOL_IMAGE, {"otelcol": programs.go_program("otelcol", arch)},
                  entrypoint=["/otelcol"]),
    ]


def workload_images() -> list[str]:
    specs = workload_specs()
    with step("workload images (logger, http-echo, web, busybox, otelcol)"):
        return [ensure_image(spec) for spec in specs]


def architecture(platform: str) -> str:
    """linux/arm64 -> arm64, for the platforms push can build."""
    if platform not in PUSH_PLATFORMS:
        raise PushError(f"cannot build images for {platform!r}; choose from {', '.join(PUSH_PLATFORMS)}")
    return platform.split("/", 1)[1]


def ensure_cross_toolchain(arch: str) -> None:
    """The C cross compiler for arch's static programs (installed on first use)."""
    if arch in host.CROSS_TOOLCHAINS:
        host.ensure_packages(host.CROSS_TOOLCHAINS[arch], f"building linux/{arch} images",
                             alternative=HOST_PLATFORM_ONLY)


def platform_image(spec: ImageSpec, arch: str) -> ocilayout.PlatformImage:
    """spec as an OCI image of arch: the same layer and settings `docker import` gives it."""
    settings: dict = {"Env": list(spec.env), "Labels": {FINGERPRINT_LABEL: spec.fingerprint()}}
    if spec.entrypoint:
        settings["Entrypoint"] = spec.entrypoint
    return ocilayout.PlatformImage(arch, _layer(spec), settings)


def push(repo: str, *, tls_verify: bool = True,
         platforms: tuple[str, ...] = PUSH_PLATFORMS) -> list[str]:
    """Push every image crigate deploys (workloads and the debug pod's busybox) to
    repo as image indexes holding one image per platform; return the pushed refs.
    Each is written as an OCI layout and copied with `skopeo copy --all`.
    Credentials come from skopeo's usual places (`skopeo login REGISTRY`,
    containers' auth.json or ~/.docker/config.json)."""
    arches = [architecture(p) for p in platforms]
    host.ensure_packages(host.PUSH_PACKAGES, "images push")     # no engine: nothing comes from it
    for arch in arches:
        ensure_cross_toolchain(arch)
    specs_per_arch = {arch: workload_specs(arch) for arch in arches}
    pushed = []
    with tempfile.TemporaryDirectory(prefix="crigate-oci-") as layouts:
        for specs in zip(*specs_per_arch.values(), strict=True):     # one image, its spec for each arch
            ref, tag = specs[0].ref, specs[0].ref.rsplit(":", 1)[1]
            target = image_in_repo(ref, repo)
            layout = ocilayout.write_layout(Path(layouts) / ref.rsplit("/", 1)[1].replace(":", "_"), tag,
                                            [platform_image(s, a) for s, a in zip(specs, arches, strict=True)])
            with step(f"push {ref} ({', '.join(platforms)}) -> {target}"):
                copy_layout(layout, tag, ref, target, tls_verify)
            pushed.append(target)
    return pushed


def copy_layout(layout: Path, tag: str, ref: str, target: str, tls_verify: bool) -> None:
    # skopeo-copy(1): --all copies the index and every image in it, not just the host's.
    done = subprocess.run(
        ["skopeo", "copy", "--all", "--quiet", f"--dest-tls-verify={str(tls_verify).lower()}",
         f"oci:{layout}:{tag}", f"docker://{target}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise PushError(f"skopeo could not push {ref} to {target}: {done.stderr.strip()[:400]}"
                        " (log in with `skopeo login REGISTRY`; an http registry needs --insecure)")


class PushError(RuntimeError):
    pass
