"""Build the binaries Debian lacks from their published Go modules.

Each build lands in ~/.cache/crigate/<component>/<version>/bin and is skipped
when all its binaries are already there. Go's own build and module caches make
a rebuild after a version bump incremental.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from . import cache
from .progress import run_logged, step
from .versions import PINS, KubernetesRelease, tool_version

CONTAINERD_COMMANDS = ("containerd", "containerd-shim-runc-v2", "ctr")
# containerd's Makefile tags for a build without the optional snapshotters.
CONTAINERD_TAGS = "urfave_cli_no_docs no_btrfs no_devmapper no_zfs"
KUBERNETES_COMMANDS = ("kubeadm", "kubelet", "kubectl", "kube-apiserver",
                       "kube-controller-manager", "kube-scheduler")

# Build tags that drop CRI-O's cgo dependencies on gpgme, btrfs and devicemapper.
CRIO_TAGS = ("containers_image_openpgp containers_image_ostree_stub exclude_graphdriver_btrfs "
             "btrfs_noversion exclude_graphdriver_devicemapper seccomp")


def _go_env(toolchain: str = "", cgo: bool = False) -> dict:
    env = {"CGO_ENABLED": "1" if cgo else "0", "GOFLAGS": "-mod=mod -buildvcs=false"}
    if toolchain:
        env["GOTOOLCHAIN"] = toolchain
    return env


def _have(bin_dir: Path, names) -> bool:
    return all((bin_dir / n).is_file() for n in names)


def _module_go_mod(module: str, version: str, workdir: Path, env: dict) -> str:
    """The go.mod of module@version, fetched through the module proxy."""
    out = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"],
                         cwd=workdir, env={**os.environ, **env}, check=True,
                         capture_output=True, text=True).stdout
    gomod = re.search(r'"GoMod":\s*"([^"]+)"', out).group(1)
    return Path(gomod).read_text()


def kubernetes_build_module(release: KubernetesRelease, upstream_go_mod: str) -> str:
    """A go.mod that requires k8s.io/kubernetes and points each staging module
    (replaced by a local path upstream) at its published v0.Y.Z release."""
    staging = sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/", upstream_go_mod, re.M)))
    go_line = re.search(r"^go (\S+)", upstream_go_mod, re.M).group(1)
    godebug = re.search(r"^godebug .*$", upstream_go_mod, re.M)
    lines = ["module crigate.local/kubernetes-build", "", f"go {go_line}"]
    if godebug:
        lines.append(godebug.group(0))
    lines += ["", f"require k8s.io/kubernetes {release.version}", "", "replace ("]
    lines += [f"\t{m} => {m} {release.staging_version}" for m in staging]
    lines.append(")")
    return "\n".join(lines) + "\n"


def _version_ldflags(release: KubernetesRelease) -> str:
    major, minor, _ = release.version.lstrip("v").split(".")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = {"gitVersion": release.version, "gitMajor": major, "gitMinor": minor,
              "gitTreeState": "clean", "gitCommit": "0" * 40, "buildDate": stamp}
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.{k}={v}" for k, v in fields.items()]
    return " ".join(flags)


def build_with_module(name: str, version: str, go_mod: str, packages: dict[str, str], *,
                      ldflags: str = "-s -w", toolchain: str = "", note: str = "",
                      tags: str = "") -> Path:
    """Build packages (binary name -> package) from a generated module that requires them."""
    home = cache.component(name, version)
    bin_dir = home / "bin"
    binaries = list(packages)
    if _have(bin_dir, binaries):
        return bin_dir
    src = home / "build-module"
    src.mkdir(parents=True, exist_ok=True)
    env = _go_env(toolchain)
    with step(f"build {name} {version} ({', '.join(binaries)}){note}"):
        (src / "go.mod").write_text(go_mod)
        (src / "go.sum").unlink(missing_ok=True)
        partial = home / "bin.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        # One `go build` for all packages shares work; -o DIR names binaries by package.
        out = partial / binaries[0] if len(packages) == 1 else partial
        run_logged(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(out),
                    *(["-tags", tags] if tags else []), *packages.values()],
                   cache.logs() / f"{name}-{version}.log", env=env, cwd=src, title=f"go build {name}")
        shutil.rmtree(bin_dir, ignore_errors=True)
        partial.rename(bin_dir)
    return bin_dir


def build_kubernetes(release: KubernetesRelease) -> Path:
    home = cache.component("kubernetes", release.version)
    if _have(home / "bin", KUBERNETES_COMMANDS):
        return home / "bin"
    home.mkdir(parents=True, exist_ok=True)
    probe = home / "probe"
    probe.mkdir(exist_ok=True)
    (probe / "go.mod").write_text("module crigate.local/probe\n")
    upstream = _module_go_mod("k8s.io/kubernetes", release.version, probe,
                              _go_env(release.go_toolchain))
    return build_with_module(
        "kubernetes", release.version, kubernetes_build_module(release, upstream),
        {c: f"k8s.io/kubernetes/cmd/{c}" for c in KUBERNETES_COMMANDS},
        ldflags=_version_ldflags(release), toolchain=release.go_toolchain,
        note="; tens of minutes cold on 2 cores")


def build_etcd(version: str) -> Path:
    """etcd's server module replaces its siblings with local paths, but requires
    their published releases too: a module of ours that requires it builds."""
    go_mod = ("module crigate.local/etcd-build\n\ngo 1.22\n\n"
              f"require go.etcd.io/etcd/server/v3 {version}\n")
    return build_with_module("etcd", version, go_mod, {"etcd": "go.etcd.io/etcd/server/v3"})


def go_install(name: str, package: str, version: str, binaries: tuple[str, ...],
               *, cgo: bool = False, tags: str = "", ldflags: str = "-s -w") -> Path:
    """`go install package@version` into the component's cache dir."""
    home = cache.component(name, version)
    bin_dir = home / "bin"
    if _have(bin_dir, binaries):
        return bin_dir
    with step(f"build {name} {version} from {package}"):
        cmd = ["go", "install", "-trimpath", "-ldflags", ldflags]
        if tags:
            cmd += ["-tags", tags]
        env = {**_go_env(cgo=cgo), "GOBIN": str(bin_dir), "GOFLAGS": "-buildvcs=false"}
        run_logged(cmd + [f"{package}@{version}"], cache.logs() / f"{name}-{version}.log",
                   env=env, title=f"go install {name}")
    return bin_dir


def build_kind() -> Path:
    return go_install("kind", "sigs.k8s.io/kind", tool_version("kind"), ("kind",))


def _escape(module: str) -> str:
    """Module path as the proxy protocol spells it (upper case -> !lower)."""
    return "".join(f"!{c.lower()}" if c.isupper() else c for c in module)


def module_source(module: str, version: str) -> Path:
    """Unpack module@version's source zip from the configured GOPROXY.

    Used where `go install pkg@v` cannot work: the proxy here serves some
    modules' zips but answers 403 for their .mod file or version list.
    """
    dest = cache.root() / "src" / f"{module.replace('/', '_')}@{version}"
    tree = dest / f"{module}@{version}"
    if (tree / "go.mod").is_file():
        return tree
    proxies = subprocess.run(["go", "env", "GOPROXY"], capture_output=True, text=True,
                             check=True).stdout.strip()
    urls = [p for p in re.split(r"[,|]", proxies) if p.startswith("http")]
    if not urls:
        raise RuntimeError(f"GOPROXY={proxies!r} names no proxy to fetch {module} from")
    url = f"{urls[0].rstrip('/')}/{_escape(module)}/@v/{version}.zip"
    with step(f"fetch {module}@{version} source from the module proxy"):
        partial = dest.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        archive = partial / "module.zip"
        with urllib.request.urlopen(url, timeout=300) as response, archive.open("wb") as out:
            shutil.copyfileobj(response, out)
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(partial)
        archive.unlink()
        shutil.rmtree(dest, ignore_errors=True)
        partial.rename(dest)
    return tree


def replacements(module: str, version: str) -> dict[str, str]:
    """Pinned stand-ins for dependencies of module@version the proxy refuses."""
    return PINS.get("replacements", {}).get(f"{module}@{version}", {})


def build_in_module(name: str, module: str, version: str, packages: dict[str, str], *,
                    cgo: bool = False, tags: str = "", ldflags: str = "-s -w") -> Path:
    """Build packages (binary name -> package dir) inside module@version's own tree."""
    bin_dir = cache.component(name, version) / "bin"
    if _have(bin_dir, packages):
        return bin_dir
    tree = module_source(module, version)
    with step(f"build {name} {version} ({', '.join(packages)})"):
        env = _go_env(cgo=cgo)
        for dependency, served in replacements(module, version).items():
            run_logged(["go", "mod", "edit", f"-replace={dependency}={dependency}@{served}"],
                       cache.logs() / f"{name}-{version}.log", env=env, cwd=tree,
                       title=f"go mod edit {dependency}")
        for binary, package in packages.items():
            cmd = ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(bin_dir / binary)]
            if tags:
                cmd += ["-tags", tags]
            run_logged(cmd + [package], cache.logs() / f"{name}-{version}.log", env=env,
                       cwd=tree, title=f"go build {binary}")
    return bin_dir


def build_crictl() -> Path:
    version = tool_version("crictl")
    return build_in_module("crictl", "sigs.k8s.io/cri-tools", version, {"crictl": "./cmd/crictl"},
                           ldflags=f"-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version={version}")


def build_critest() -> Path:
    """critest, the CRI validation suite: a Go test binary (`go test -c`) in the
    same cri-tools module as crictl."""
    version = tool_version("critest")
    bin_dir = cache.component("critest", version) / "bin"
    if _have(bin_dir, ["critest"]):
        return bin_dir
    tree = module_source("sigs.k8s.io/cri-tools", version)
    with step(f"build critest {version} (go test -c ./cmd/critest)"):
        run_logged(["go", "test", "-c", "-trimpath", "-ldflags",
                    f"-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version={version}",
                    "-o", str(bin_dir / "critest"), "./cmd/critest"],
                   cache.logs() / f"critest-{version}.log", env=_go_env(), cwd=tree,
                   title="go test -c critest")
    return bin_dir


def build_cri_dockerd() -> Path:
    """cri-dockerd (Mirantis): the CRI shim that lets a 1.24+ kubelet drive Docker
    Engine, for the Docker baseline."""
    version = tool_version("cri_dockerd")
    return build_in_module("cri-dockerd", "github.com/Mirantis/cri-dockerd", version,
                           {"cri-dockerd": "."},
                           ldflags=f"-s -w -X github.com/Mirantis/cri-dockerd/cmd/version.Version="
                                   f"{version.lstrip('v')}")


def build_actionlint() -> Path:
    version = tool_version("actionlint")
    return build_in_module("actionlint", "github.com/rhysd/actionlint", version,
                           {"actionlint": "./cmd/actionlint"},
                           ldflags=f"-s -w -X github.com/rhysd/actionlint.version={version}")


def build_toxiproxy() -> Path:
    """Toxiproxy's server and CLI (Shopify), the TCP-level faults the gate's
    fault tests put in front of a test-bed API server (latency, bandwidth,
    resets, timeouts; README "Toxics")."""
    version = tool_version("toxiproxy")
    module = "github.com/Shopify/toxiproxy/v2"
    return build_in_module("toxiproxy", module, version,
                           {"toxiproxy-server": "./cmd/server", "toxiproxy-cli": "./cmd/cli"},
                           ldflags=f"-s -w -X {module}.Version={version}")


def build_kwok() -> Path:
    """kwok, the controller that keeps fake nodes and their pods alive for the
    big-cluster bench (sigs.k8s.io/kwok: no replace directives, a plain install)."""
    version = tool_version("kwok")
    return go_install("kwok", "sigs.k8s.io/kwok/cmd/kwok", version, ("kwok",))


def build_containerd() -> Path:
    """containerd 2.x, its runc shim and ctr: static (no cgo, so no btrfs), from a
    module of ours that requires github.com/containerd/containerd/v2 (its go.mod
    has no replace directives). Tags and version variables as in its Makefile."""
    version = tool_version("containerd")
    module = "github.com/containerd/containerd/v2"
    go_mod = f"module crigate.local/containerd-build\n\ngo 1.26\n\nrequire {module} {version}\n"
    stamp = " ".join(f"-X {module}/version.{k}={v}" for k, v in
                     (("Version", version), ("Revision", version), ("Package", module)))
    return build_with_module(
        "containerd", version, go_mod,
        {c: f"{module}/cmd/{c}" for c in CONTAINERD_COMMANDS},
        ldflags=f"-s -w {stamp}", tags=CONTAINERD_TAGS)


def build_crio(version: str) -> Path:
    """crio (cgo, libseccomp) and pinns (a small static C program in the same module)."""
    module = "github.com/cri-o/cri-o"
    bin_dir = build_in_module(
        "cri-o", module, version, {"crio": "./cmd/crio"}, cgo=True, tags=CRIO_TAGS)
    if not (bin_dir / "pinns").is_file():
        sources = sorted(str(p) for p in (module_source(module, version) / "pinns" / "src").glob("*.c"))
        with step("build pinns (static C)"):
            run_logged(["gcc", "-static", "-O2", "-s", "-o", str(bin_dir / "pinns"), *sources],
                       cache.logs() / f"cri-o-{version}.log", title="gcc pinns")
    return bin_dir


# Built.component (clusters/runtimes.py) -> the build that makes its binaries.
BUILDERS = {
    "containerd": lambda release: build_containerd(),
    "cri-o": lambda release: build_crio(release.cri_o),
    "cri-dockerd": lambda release: build_cri_dockerd(),
}
