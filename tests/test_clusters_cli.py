"""The test bed's CLI: bad input gets the valid choices; doctor says what to fix."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from crigate.testbed import gobuild, kindconfig, versions


def clusters_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crigate.testbed", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


@pytest.mark.parametrize("args, expected", [
    (["up", "--runtime", "rkt"], "unknown runtime 'rkt': `up` creates a cluster of one runtime: "
                                 "containerd, cri-o, docker"),
    (["up", "--runtime", "all"], "`up` creates a cluster of one runtime"),
    (["build", "--runtime", "all,rkt"], "unknown runtime 'rkt'; valid: containerd, cri-o, docker, all"),
    (["up", "--runtime", "containerd", "--workers", "containerd:0"], "COUNT must be 1 to 16"),
    (["up", "--runtime", "containerd", "--workers", "rkt:2"], "unknown runtime 'rkt'"),
    (["build", "--k8s", "1.99"], "unknown Kubernetes version '1.99'; valid: " + ", ".join(versions.KUBERNETES_MINORS)),
])
def test_unknown_choice_lists_the_valid_ones(args, expected):
    done = clusters_cli(*args)
    assert done.returncode == 2 and expected in done.stderr, done.stderr


def test_doctor_without_docker_prints_the_fix_and_fails():
    done = clusters_cli("doctor", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert done.returncode == 1, done.stdout
    assert "[FAIL] docker engine" in done.stdout and "fix: run `python -m crigate.testbed build`" in done.stdout


def test_build_takes_comma_separated_runtimes():
    from crigate.testbed.cli import parser
    args = parser().parse_args(["build", "--runtime", "all,docker,containerd"])
    assert args.runtime == ["containerd", "cri-o", "docker"]


def test_kubernetes_minor_accepts_patch_and_v_prefix():
    assert versions.kubernetes_release("v1.33.2").minor == "1.33"
    assert versions.kubernetes_release("1.24").staging_version.startswith("v0.24.")


def test_build_module_points_every_staging_module_at_its_release():
    upstream = ("module k8s.io/kubernetes\n\ngo 1.24.0\n\ngodebug default=go1.24\n\nreplace (\n"
                "\tk8s.io/api => ./staging/src/k8s.io/api\n"
                "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n)\n")
    release = versions.KubernetesRelease("1.33", "v1.33.13", "")
    go_mod = gobuild.kubernetes_build_module(release, upstream)
    assert "require k8s.io/kubernetes v1.33.13" in go_mod
    assert "\tk8s.io/api => k8s.io/api v0.33.13" in go_mod
    assert "\tk8s.io/client-go => k8s.io/client-go v0.33.13" in go_mod
    assert "godebug default=go1.24" in go_mod and "./staging" not in go_mod


@pytest.mark.parametrize("runtime_name", versions.NODE_RUNTIMES)
def test_kind_config_points_kubeadm_at_the_runtime_socket(runtime_name):
    release = versions.kubernetes_release("1.33")
    profile = release.profile(runtime_name)
    config = kindconfig.kind_config(profile, release, f"crigate-node:1.33-{runtime_name}")
    assert config.count(f"criSocket: {profile.cri_socket}") == 2      # init and join
    assert "skipPhases: [addon/kube-proxy, addon/coredns]" in config


def test_workers_take_a_count_per_runtime():
    from crigate.testbed.cli import parser
    args = parser().parse_args(["up", "--runtime", "containerd", "--workers", "containerd:3,cri-o"])
    assert args.workers == ["containerd"] * 3 + ["cri-o"]
