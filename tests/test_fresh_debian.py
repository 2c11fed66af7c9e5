"""The README's set-up works on a fresh Debian bookworm with Debian's own python3.

A minbase bookworm root (debootstrap, cached as a tarball under
~/.cache/crigate-fresh-debian/, keyed by the package list) gets a copy of this
repository's files; inside it, as a fresh machine would, `make setup
PYTHON=/usr/bin/python3` makes .venv with Debian's python3 (no pyenv, no global
pip) and installs crigate from PyPI. Then, from any directory, pytest in that
venv loads crigate's plugin through its `pytest11` entry point and parses its
options in both `--opt value` and `--opt=value` forms; and `make setup` says
what to install when Python cannot make a virtual environment.

Needs root, debootstrap and chroot, the Debian mirror and PyPI (the host's
/etc/resolv.conf and any extra CAs in /usr/local/share/ca-certificates go into
the root, as a machine on this network would have them). About two minutes
cold (debootstrap is one), well under a minute warm.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from crigate.testbed.cache import fingerprint

REPO = Path(__file__).resolve().parents[1]
SUITE = "bookworm"               # the README's "fresh Debian bookworm machine"
DEBIAN_PYTHON = "3.11"           # bookworm's python3
PACKAGES = ("python3", "python3-venv", "make", "ca-certificates", "git")
VARIANT = "minbase"
IN_ROOT_REPO = "/root/crigate"   # where the repository's files go inside the root
REPORT_DIR = "/tmp/existing-dir"  # exists before pytest starts: the case that took it as rootdir
SBIN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# Host network settings a fresh machine on this network would have too.
NETWORK_ENV = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
               "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT")
HOST_LOCAL_CAS = Path("/usr/local/share/ca-certificates")
VENV_MISSING_MESSAGE = "cannot make a virtual environment; on Debian/Ubuntu: apt-get install python3-venv"


def _missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return ("needs root (debootstrap, chroot, bind mounts): run it as root, e.g. "
                "`sudo .venv/bin/python -m pytest tests/test_fresh_debian.py`")
    for tool in ("debootstrap", "chroot", "mount", "umount", "tar"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":" + SBIN_PATH):
            return f"needs {tool}: apt-get install debootstrap coreutils mount tar, then run it as root"
    return None


pytestmark = [pytest.mark.testbed,       # debootstrap, the Debian mirror and PyPI: minutes cold
              pytest.mark.skipif(_missing_prerequisite() is not None, reason=_missing_prerequisite() or "")]


def _tail(text: str, chars: int = 4000) -> str:
    text = text or ""
    return text if len(text) <= chars else "...\n" + text[-chars:]


def _observed(what: str, done: subprocess.CompletedProcess) -> str:
    return f"observed: exit {done.returncode} from `{what}`; output tail:\n{_tail(done.stdout)}"


def _host_run(argv: list[str], timeout: float, log: Path | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout,
                          env={**os.environ, "PATH": SBIN_PATH + ":" + os.environ.get("PATH", "")})
    if log is not None:
        log.write_text(done.stdout)
    return done


# --- the cached Debian root -------------------------------------------------------------------

def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crigate-fresh-debian"


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below path, deepest first."""
    prefix = str(path.resolve())
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def _unmount_all(path: Path) -> list[str]:
    """Unmount everything below path (lazily when busy); returns what is still mounted."""
    for point in _mounts_under(path):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True)
    return _mounts_under(path)


def _remove_tree(path: Path) -> None:
    """rm -rf that never crosses into a mount: refuses while anything is mounted below path."""
    if not path.exists():
        return
    left = _unmount_all(path)
    assert not left, f"expected nothing mounted under {path} before removing it; observed: {left}"
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


@contextmanager
def _locked(lock_file: Path):
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _debian_root_tarball() -> Path:
    """A minbase bookworm root with PACKAGES, as a tarball; made once per package list."""
    home = _cache_home()
    key = fingerprint(SUITE, VARIANT, *sorted(PACKAGES))
    tarball = home / f"{SUITE}-{VARIANT}-{key}.tar"
    with _locked(home / ".lock"):
        if tarball.is_file():
            return tarball
        from crigate.testbed.rootfs import RootfsError, debian_mirror  # the test bed's own mirror
        try:
            mirror = debian_mirror()
        except RootfsError as err:
            pytest.skip(f"no Debian mirror to debootstrap from: {err}")
        work = home / f"{tarball.stem}.building"
        _remove_tree(work)
        root = work / "root"
        debs = home / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            argv = ["debootstrap", f"--variant={VARIANT}", f"--cache-dir={debs}",
                    "--include=" + ",".join(PACKAGES), SUITE, str(root), mirror]
            done = _host_run(argv, timeout=1800, log=home / "debootstrap.log")
            assert done.returncode == 0, (
                f"expected debootstrap to make a Debian {SUITE} root from {mirror}; "
                + _observed(" ".join(argv), done) + f"\n(full log: {home / 'debootstrap.log'})")
            assert not _unmount_all(root), f"expected debootstrap to leave nothing mounted under {root}"
            for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (root / sub).glob("*"):
                    if entry.is_file():
                        entry.unlink()
            partial = work / "root.tar"
            done = _host_run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."],
                             timeout=600)
            assert done.returncode == 0, "expected tar to pack the Debian root; " + _observed("tar -c", done)
            os.replace(partial, tarball)
        finally:
            _remove_tree(work)
        print(f"[fresh-debian] debootstrap {SUITE} + tarball: {time.monotonic() - started:.0f} s "
              f"-> {tarball}")
    return tarball


# --- a throwaway copy of it -------------------------------------------------------------------

def _unpack(tarball: Path, root: Path) -> None:
    root.mkdir(parents=True)
    done = _host_run(["tar", "--numeric-owner", "-xpf", str(tarball), "-C", str(root)], timeout=600)
    assert done.returncode == 0, f"expected {tarball} to unpack into {root}; " + _observed("tar -x", done)


def _repository_files() -> list[str]:
    done = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                           "--exclude-standard"], capture_output=True, check=True)
    return sorted({name for name in done.stdout.decode().split("\0") if name})


def _copy_repository(target: Path) -> int:
    """The files a clone (plus untracked, not ignored, work) has; no .git, .venv or caches."""
    copied = 0
    for name in _repository_files():
        src, dst = REPO / name, target / name
        if not os.path.lexists(src) or (src.is_dir() and not src.is_symlink()):
            continue            # deleted in the work tree, or a submodule
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
        copied += 1
    return copied


def _prepare_network(root: Path) -> None:
    """Name resolution and the host's extra TLS trust anchors (an egress proxy's CA, if any)."""
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    shutil.copyfile("/etc/resolv.conf", resolv)
    cas = sorted(HOST_LOCAL_CAS.glob("*.crt")) if HOST_LOCAL_CAS.is_dir() else []
    if cas:
        for ca in cas:
            shutil.copyfile(ca, root / "usr/local/share/ca-certificates" / ca.name)
        done = _in_root(root, "update-ca-certificates", timeout=300)
        assert done.returncode == 0, ("expected update-ca-certificates to take the host's CAs; "
                                      + _observed("update-ca-certificates", done))


@contextmanager
def _system_mounts(root: Path):
    try:
        for name in ("proc", "sys", "dev"):
            subprocess.run(["mount", "--bind", f"/{name}", str(root / name)], check=True,
                           capture_output=True)
        yield
    finally:
        left = _unmount_all(root)
        assert not left, (f"expected /proc, /sys and /dev unmounted from {root}; "
                          f"observed still mounted: {left}")


def _in_root(root: Path, script: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """sh -c script inside the root, as a fresh login would have it: no pyenv, no host venv."""
    env = {"PATH": SBIN_PATH, "HOME": "/root"}
    env.update({k: os.environ[k] for k in NETWORK_ENV if k in os.environ})
    return subprocess.run(["chroot", str(root), "/bin/sh", "-c", script], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


@pytest.fixture
def debian_root(tmp_path):
    """A fresh bookworm root with the repository at /root/crigate and /proc, /sys, /dev mounted."""
    started = time.monotonic()
    tarball = _debian_root_tarball()
    print(f"\n[fresh-debian] cached root ready: {time.monotonic() - started:.1f} s ({tarball.name})")
    root = tmp_path / "root"
    try:
        step = time.monotonic()
        _unpack(tarball, root)
        copied = _copy_repository(root / IN_ROOT_REPO.lstrip("/"))
        print(f"[fresh-debian] unpacked root + copied {copied} repository files: "
              f"{time.monotonic() - step:.1f} s")
        with _system_mounts(root):
            _prepare_network(root)
            yield root
    finally:
        _remove_tree(root)


# --- the test ---------------------------------------------------------------------------------

def test_make_setup_on_fresh_debian_bookworm_with_debian_python3(debian_root):
    root = debian_root

    def timed(label: str, script: str, timeout: float = 300) -> subprocess.CompletedProcess:
        step = time.monotonic()
        done = _in_root(root, script, timeout)
        print(f"[fresh-debian] {label}: {time.monotonic() - step:.1f} s (exit {done.returncode})")
        return done

    python = timed("Debian's python3", "command -v python3; python3 -c 'import sys; print(sys.version)'")
    assert python.returncode == 0 and "/usr/bin/python3" in python.stdout, (
        "expected Debian's /usr/bin/python3 (and no pyenv) on PATH in the root; "
        + _observed("python3", python))

    # The README's set-up step, as `make conformance` / `make test` run it first.
    setup_cmd = f"cd {IN_ROOT_REPO} && make setup PYTHON=/usr/bin/python3"
    setup = timed("make setup PYTHON=/usr/bin/python3", setup_cmd, timeout=1800)
    assert setup.returncode == 0, (
        "expected `make setup PYTHON=/usr/bin/python3` to make .venv with Debian's python3 and "
        "install crigate into it; " + _observed(setup_cmd, setup))

    venv_python = f"{IN_ROOT_REPO}/.venv/bin/python"
    base_cmd = (f"{venv_python} -c "
                "'import sys; print(sys.base_prefix); print(\"%d.%d\" % sys.version_info[:2])'")
    base = timed("venv's base python", base_cmd)
    assert base.returncode == 0 and base.stdout.split() == ["/usr", DEBIAN_PYTHON], (
        f"expected .venv made from Debian's python {DEBIAN_PYTHON} (base_prefix /usr); "
        + _observed(base_cmd, base))

    entry_cmd = (f"cd / && {venv_python} -c 'from importlib.metadata import entry_points; "
                 "print(sorted((e.name, e.value) for e in entry_points(group=\"pytest11\")))'")
    entry = timed("pytest11 entry points", entry_cmd)
    assert entry.returncode == 0 and "('crigate', 'crigate.pytest_plugin')" in entry.stdout, (
        "expected crigate's plugin registered as pytest11 entry point crigate = crigate.pytest_plugin; "
        + _observed(entry_cmd, entry))

    # Not the repository: no conftest, no pyproject; only the entry point can bring the options.
    help_cmd = f"cd / && {venv_python} -m pytest --help"
    helped = timed("pytest --help from /", help_cmd)
    missing = [opt for opt in ("--runtime", "--report-dir") if opt not in helped.stdout]
    assert helped.returncode == 0 and not missing, (
        f"expected `pytest --help` run from / to list crigate's options (missing: {missing}); "
        + _observed(help_cmd, helped))

    for form in (f"--report-dir {REPORT_DIR}", f"--report-dir={REPORT_DIR}"):
        collect_cmd = (f"mkdir -p {REPORT_DIR} && cd {IN_ROOT_REPO} && .venv/bin/python -m pytest suites "
                       f"--collect-only -q --runtime all {form}")
        collected = timed(f"pytest suites --collect-only ({form})", collect_cmd)
        ids = [line for line in collected.stdout.splitlines() if "::" in line]
        per_runtime = {rt: sum(f"[{rt}]" in i for i in ids) for rt in ("containerd", "cri-o")}
        outside = [i for i in ids if not i.startswith("suites/")]
        assert collected.returncode == 0 and all(per_runtime.values()) and not outside, (
            f"expected exit 0 and test ids under suites/ (rootdir {IN_ROOT_REPO}, not {REPORT_DIR}) "
            f"with [containerd] and [cri-o]; ids per runtime: {per_runtime}, "
            f"ids outside suites/: {outside[:3]}; " + _observed(collect_cmd, collected))
        print(f"[fresh-debian]   {len(ids)} tests collected, per runtime {per_runtime}")

    # No Python at all: make stops before doing anything and says what to install.
    no_python_cmd = f"cd {IN_ROOT_REPO} && make setup PYTHON=/nonexistent/python3 VENV=/tmp/venv-no-python"
    no_python = timed("make setup PYTHON=/nonexistent/python3", no_python_cmd)
    assert no_python.returncode != 0 and VENV_MISSING_MESSAGE in no_python.stdout, (
        f"expected `make setup` with a missing PYTHON to fail saying {VENV_MISSING_MESSAGE!r}; "
        + _observed(no_python_cmd, no_python))
    assert not (root / "tmp/venv-no-python").exists(), (
        "expected no half-made virtual environment at /tmp/venv-no-python after the failed set-up")

    # Debian's python3 without python3-venv (what a fresh Debian has): the same message.
    purge = timed("dpkg --purge python3-venv python3.11-venv",
                  "dpkg --purge python3-venv python3.11-venv")
    assert purge.returncode == 0, ("expected python3-venv to purge offline; "
                                   + _observed("dpkg --purge", purge))
    no_venv_cmd = f"cd {IN_ROOT_REPO} && make setup PYTHON=/usr/bin/python3 VENV=/tmp/venv-no-ensurepip"
    no_venv = timed("make setup without python3-venv", no_venv_cmd)
    assert no_venv.returncode != 0 and VENV_MISSING_MESSAGE in no_venv.stdout, (
        f"expected `make setup` on Debian's python3 without python3-venv to fail saying "
        f"{VENV_MISSING_MESSAGE!r}; " + _observed(no_venv_cmd, no_venv))
