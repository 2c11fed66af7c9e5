"""Container images the test bed builds locally; no registry is ever contacted.

Every image is one layer assembled from a file map and given to `docker
import`, labelled with a fingerprint of its inputs so an unchanged image is
never rebuilt. Control-plane images carry the exact names kubeadm asks for.
"""
from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import cache, gobuild, programs
from .engine import docker
from .progress import step

FINGERPRINT_LABEL = "crigate.fingerprint"
PATH_ENV = "PATH=/usr/local/bin:/usr/bin:/bin"
BUSYBOX = Path("/bin/busybox")   # Debian's busybox-static
PGREP = Path(__file__).with_name("programs") / "pgrep"

# Images the suites' workloads use (pods set imagePullPolicy: IfNotPresent),
# named under a registry that does not exist: the test bed preloads them, other
# clusters pull them from where `python -m clusters images push` put them.
LOCAL_REGISTRY = "crigate.local"
LOGGER_IMAGE = f"{LOCAL_REGISTRY}/logger:1"
HTTP_ECHO_IMAGE = f"{LOCAL_REGISTRY}/http-echo:1"
BUSYBOX_IMAGE = f"{LOCAL_REGISTRY}/busybox:1"
WEB_IMAGE = f"{LOCAL_REGISTRY}/web:1"      # http-echo on port 80: critest's web server image
WORKLOAD_IMAGES = (LOGGER_IMAGE, HTTP_ECHO_IMAGE, BUSYBOX_IMAGE, WEB_IMAGE)


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


def workload_images() -> list[str]:
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    specs = [
        ImageSpec(LOGGER_IMAGE, {"logger": programs.c_program("logger")}, entrypoint=["/logger"]),
        ImageSpec(HTTP_ECHO_IMAGE, {"http-echo": programs.go_program("http-echo")},
                  entrypoint=["/http-echo"]),
        ImageSpec(WEB_IMAGE, {"http-echo": programs.go_program("http-echo")},
                  entrypoint=["/http-echo", ":80"]),
        ImageSpec(BUSYBOX_IMAGE, {"bin/busybox": BUSYBOX, "bin/pgrep": PGREP},
                  symlinks={f"bin/{a}": "busybox" for a in applets if a not in ("busybox", "pgrep")},
                  entrypoint=None),
    ]
    with step("workload images (logger, http-echo, web, busybox)"):
        return [ensure_image(spec) for spec in specs]


def push(repo: str, *, tls_verify: bool = True) -> list[str]:
    """Copy every image crigate deploys (workloads and the debug pod's busybox)
    to repo with skopeo, from the local engine; return the pushed refs.
    Credentials come from skopeo's usual places (`skopeo login REGISTRY`,
    containers' auth.json or ~/.docker/config.json). linux/amd64 only: the
    images hold static amd64 binaries built on this machine."""
    pushed = []
    for ref in workload_images():
        target = image_in_repo(ref, repo)
        with step(f"push {ref} -> {target}"):
            done = subprocess.run(
                ["skopeo", "copy", "--quiet", f"--dest-tls-verify={str(tls_verify).lower()}",
                 f"docker-daemon:{ref}", f"docker://{target}"], capture_output=True, text=True)
            if done.returncode != 0:
                raise PushError(f"skopeo could not push {ref} to {target}: {done.stderr.strip()[:400]}"
                                " (log in with `skopeo login REGISTRY`; an http registry needs --insecure)")
        pushed.append(target)
    return pushed


class PushError(RuntimeError):
    pass
