"""`python -m crigate.testbed images push` puts every image crigate deploys into a
real registry (Debian's docker-registry on loopback), where a client that
knows nothing of the local engine finds them: one image index per image,
holding linux/amd64 and linux/arm64 (Graviton node groups)."""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest
from crigate.testbed import cli, host, images, ocilayout, registry
from crigate.testbed.images import WORKLOAD_IMAGES, image_in_repo
from crigate.testbed.ports import free_port

pytestmark = pytest.mark.testbed     # builds and pushes the test bed's images (skopeo, Go)


REPO_ROOT = Path(__file__).resolve().parents[1]
BOTH_PLATFORMS = {"linux/amd64", "linux/arm64"}
# ELF e_machine values (System V gABI; Linux <elf.h>): EM_X86_64, EM_AARCH64.
ELF_MACHINES = {"amd64": 62, "arm64": 183}
PT_INTERP = 3          # program header naming a dynamic loader: absent from a static binary


def clusters_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crigate.testbed", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600)


def skopeo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)


def platforms_in_index(ref: str) -> set[str]:
    """os/architecture of each manifest in the image index ref names."""
    __tracebackhide__ = True
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}")
    assert raw.returncode == 0, f"{ref}: {raw.stderr}"
    index = json.loads(raw.stdout)
    assert index.get("mediaType") == "application/vnd.oci.image.index.v1+json", \
        f"{ref}: expected an OCI image index, got {index.get('mediaType')}"
    return {f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index["manifests"]}


def inspect_for_arch(ref: str, arch: str) -> dict:
    __tracebackhide__ = True
    done = skopeo("inspect", "--tls-verify=false", "--override-arch", arch, f"docker://{ref}")
    assert done.returncode == 0, f"{ref} ({arch}): {done.stderr}"
    return json.loads(done.stdout)


def unpacked_image(ref: str, arch: str, into: Path) -> Path:
    """The one layer of ref's arch image, as pulled from the registry, unpacked into a directory."""
    pulled = into / "pulled"
    done = skopeo("copy", "--quiet", "--src-tls-verify=false", "--override-arch", arch,
                  f"docker://{ref}", f"dir:{pulled}")
    assert done.returncode == 0, f"{ref} ({arch}): {done.stderr}"
    (layer,) = json.loads((pulled / "manifest.json").read_text())["layers"]
    rootfs = into / "rootfs"
    with tarfile.open(pulled / layer["digest"].split(":", 1)[1]) as tar:
        tar.extractall(rootfs, filter="tar")
    return rootfs


def elf_header(path: Path) -> tuple[int, bool]:
    """(e_machine, has a PT_INTERP program header) of a 64-bit little-endian ELF file.
    Offsets of the ELF-64 header (gABI): e_machine 0x12, e_phoff 0x20, e_phentsize
    0x36, e_phnum 0x38; p_type opens each program header."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2, f"{path}: not a 64-bit ELF file"

    def field(at: int, size: int) -> int:
        return int.from_bytes(data[at:at + size], "little")

    phoff, phentsize, phnum = field(0x20, 8), field(0x36, 2), field(0x38, 2)
    types = {field(phoff + i * phentsize, 4) for i in range(phnum)}
    return field(0x12, 2), PT_INTERP in types


@pytest.fixture(scope="module")
def loopback_registry(tmp_path_factory):
    with registry.running(f"127.0.0.1:{free_port()}", tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture(scope="module")
def pushed_repo(loopback_registry) -> str:
    """Every image pushed once with the default platforms; the repo they are in."""
    repo = f"{loopback_registry}/crigate"
    done = clusters_cli("images", "push", "--registry", repo, "--insecure")
    assert done.returncode == 0, done.stderr
    assert f"--image-repo {repo}" in done.stdout + done.stderr
    return repo


@pytest.fixture(scope="module")
def arm64_rootfs(pushed_repo, tmp_path_factory) -> dict[str, Path]:
    """Each workload image's arm64 files, as a node would get them from the registry."""
    return {image: unpacked_image(image_in_repo(image, pushed_repo), "arm64",
                                  tmp_path_factory.mktemp(image.split("/")[1].replace(":", "_")))
            for image in WORKLOAD_IMAGES}


@pytest.fixture(scope="module")
def qemu_aarch64() -> str:
    """Debian's qemu-user-static, installed for these checks if missing."""
    try:
        host.ensure_packages(host.QEMU_USER["arm64"], "running arm64 binaries on this amd64 host")
    except host.HostError as err:
        pytest.skip(f"{err} (the arm64 files were still checked to be static aarch64 ELF)")
    return shutil.which("qemu-aarch64-static")


def test_push_puts_every_image_in_the_registry_as_an_index_of_both_platforms(pushed_repo):
    for image in WORKLOAD_IMAGES:
        pushed = image_in_repo(image, pushed_repo)
        assert platforms_in_index(pushed) == BOTH_PLATFORMS, pushed


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_a_client_asking_for_an_architecture_gets_that_image(pushed_repo, arch):
    for image in WORKLOAD_IMAGES:
        pushed = image_in_repo(image, pushed_repo)
        found = inspect_for_arch(pushed, arch)
        assert (found["Os"], found["Architecture"]) == ("linux", arch), pushed


def test_the_pushed_amd64_images_are_the_ones_the_test_bed_preloads(pushed_repo):
    for spec in images.workload_specs():
        pushed = image_in_repo(spec.ref, pushed_repo)
        label = inspect_for_arch(pushed, "amd64")["Labels"][images.FINGERPRINT_LABEL]
        assert label == spec.fingerprint(), f"{pushed}: fingerprint {label}, local spec {spec.fingerprint()}"


def test_the_arm64_images_hold_static_aarch64_binaries(arm64_rootfs):
    binaries = {images.LOGGER_IMAGE: "logger", images.HTTP_ECHO_IMAGE: "http-echo",
                images.WEB_IMAGE: "http-echo", images.BUSYBOX_IMAGE: "bin/busybox",
                images.OTELCOL_IMAGE: "otelcol"}
    for image, path in binaries.items():
        machine, dynamic = elf_header(arm64_rootfs[image] / path)
        assert machine == ELF_MACHINES["arm64"], f"{image} /{path}: e_machine {machine}, expected aarch64"
        assert not dynamic, f"{image} /{path}: dynamically linked, but the image has no libc"


def test_arm64_busybox_runs_under_qemu_with_every_applet_linked(arm64_rootfs, qemu_aarch64):
    rootfs = arm64_rootfs[images.BUSYBOX_IMAGE]
    echo = subprocess.run([qemu_aarch64, rootfs / "bin/busybox", "echo", "ok"], capture_output=True,
                          text=True, timeout=30)
    assert echo.stdout == "ok\n", echo.stderr
    listed = subprocess.run([qemu_aarch64, rootfs / "bin/busybox", "--list"], capture_output=True,
                            text=True, timeout=30).stdout.split()
    linked = {p.name for p in (rootfs / "bin").iterdir() if p.is_symlink()}
    assert linked <= set(listed), f"symlinks to applets arm64 busybox lacks: {sorted(linked - set(listed))}"


def test_arm64_logger_writes_its_lines_under_qemu(arm64_rootfs, qemu_aarch64):
    done = subprocess.run([qemu_aarch64, arm64_rootfs[images.LOGGER_IMAGE] / "logger", "--long", "30",
                           "--exit", "3"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines()[:2] == ["crigate stdout line 1", "crigate stdout line 2"]
    assert done.stdout.endswith("crigate done\n") and done.stderr == "crigate stderr line 1\n"


def test_arm64_http_echo_answers_under_qemu(arm64_rootfs, qemu_aarch64):
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen([qemu_aarch64, arm64_rootfs[images.HTTP_ECHO_IMAGE] / "http-echo", address],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://{address}/healthz", timeout=2) as response:
                    assert response.read() == b"ok\n"
                    break
            except OSError:
                assert server.poll() is None, f"http-echo exited: {server.stderr.read()}"
                assert time.monotonic() < deadline, f"http-echo did not answer on {address} within 20 s"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_amd64_alone_pushes_an_index_of_that_platform(loopback_registry):
    repo = f"{loopback_registry}/amd64-only"
    done = clusters_cli("images", "push", "--registry", repo, "--insecure", "--platforms", "linux/amd64")
    assert done.returncode == 0, done.stderr
    for image in WORKLOAD_IMAGES:
        assert platforms_in_index(image_in_repo(image, repo)) == {"linux/amd64"}


def test_an_unknown_platform_is_refused_with_the_valid_ones():
    done = clusters_cli("images", "push", "--registry", "127.0.0.1:1/x", "--platforms", "linux/s390x")
    assert done.returncode == 2
    assert "linux/s390x" in done.stderr and "linux/amd64, linux/arm64" in done.stderr


def test_a_missing_cross_compiler_says_what_to_install_in_one_line(monkeypatch, capsys):
    real_which = shutil.which
    monkeypatch.setattr(host.shutil, "which", lambda cmd, *a, **k: None if cmd in (
        "aarch64-linux-gnu-gcc", "apt-get") else real_which(cmd, *a, **k))
    assert cli.main(["images", "push", "--registry", "127.0.0.1:1/x", "--insecure"]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1, error
    assert "apt-get install gcc-aarch64-linux-gnu" in error and "--platforms linux/amd64" in error


def test_push_to_nothing_says_what_to_do(tmp_path):
    done = clusters_cli("images", "push", "--registry", f"127.0.0.1:{free_port()}/crigate", "--insecure")
    assert done.returncode == 1
    assert "skopeo could not push crigate.local/logger:1" in done.stderr
    assert "skopeo login" in done.stderr


def test_image_in_repo_rewrites_only_crigate_images():
    assert image_in_repo("crigate.local/logger:1", "r.example:5000/p/") == "r.example:5000/p/logger:1"
    assert image_in_repo("busybox:1.36", "r.example:5000/p") == "busybox:1.36"


def test_the_oci_layout_is_content_addressed(tmp_path):
    layer = images._layer(images.ImageSpec("crigate.local/t:1", {"bin/pgrep": images.PGREP}))
    layout = ocilayout.write_layout(tmp_path, "1", [ocilayout.PlatformImage("arm64", layer)])
    blobs = {f"sha256:{p.name}": p.read_bytes() for p in (tmp_path / "blobs" / "sha256").iterdir()}
    for data in blobs.values():
        assert ocilayout.sha256(data) in blobs
    (tagged,) = json.loads((layout / "index.json").read_text())["manifests"]
    assert tagged["annotations"] == {"org.opencontainers.image.ref.name": "1"}
    (entry,) = json.loads(blobs[tagged["digest"]])["manifests"]
    assert entry["platform"] == {"architecture": "arm64", "os": "linux"}
    manifest = json.loads(blobs[entry["digest"]])
    config = json.loads(blobs[manifest["config"]["digest"]])
    assert config["rootfs"]["diff_ids"] == [ocilayout.sha256(layer)]     # digest of the uncompressed tar
    assert gzip.decompress(blobs[manifest["layers"][0]["digest"]]) == layer
    assert all(d["size"] == len(blobs[d["digest"]]) for d in (tagged, entry, manifest["config"]))


def test_deleting_a_pushed_image_removes_every_platform(loopback_registry):
    repo = f"{loopback_registry}/deletable"
    done = clusters_cli("images", "push", "--registry", repo, "--insecure")
    assert done.returncode == 0, done.stderr
    registry.delete_image(loopback_registry, "deletable/logger", "1")
    for arch in ("amd64", "arm64"):
        found = skopeo("inspect", "--tls-verify=false", "--override-arch", arch, f"docker://{repo}/logger:1")
        assert found.returncode != 0, f"{repo}/logger:1 still gives an {arch} image after delete_image"
