"""The runtime registry (clusters/runtimes.py) is the one place that says what
a runtime is: every profile is complete, every pin names a profile, and no
suite, gate rule or node-image step branches on a runtime's name."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from crigate.testbed import gobuild, kindconfig, runtimes
from crigate.testbed.nodeimage import NODE_TREE
from crigate.testbed.versions import KUBERNETES_MINORS, PINS, kubernetes_release, profile

ROOT = Path(__file__).resolve().parents[2]
# Code that must ask profiles, never names: suites, the gate, the node image.
# (plugins/gate/logconfig.py is left out: "docker" there is a log format's name.)
NAME_FREE = [*ROOT.glob("suites/*.py"),
             *(p for p in ROOT.glob("plugins/gate/*.py") if p.name != "logconfig.py"),
             ROOT / "clusters/nodeimage.py", ROOT / "clusters/kindconfig.py",
             ROOT / "clusters/rootfs.py", ROOT / "clusters/kindcluster.py"]
NAME_TEST = re.compile(r"""(==|!=|\bin)\s*\(?["'](containerd|cri-o|docker)["']"""
                       r"""|["'](containerd|cri-o|docker)["']\s*(==|!=)""")


@pytest.mark.parametrize("p", runtimes.PROFILES.values(), ids=lambda p: p.id)
def test_each_profile_is_complete(p):
    assert p.scheme.endswith("://") and p.cri_socket.startswith("unix:///")
    assert p.node_sockets and p.units and p.node_tree and p.preload
    for layer in p.node_tree:
        assert (NODE_TREE / layer).is_dir(), f"profile {p.id}: no node tree layer {layer}"
    for built in p.built:
        assert built.component in gobuild.BUILDERS, f"profile {p.id}: nothing builds {built.component}"
    assert p.packages or p.built, f"profile {p.id} installs no runtime"
    if p.config_files:
        assert re.compile(p.handler_table).groups >= 1


@pytest.mark.parametrize("minor", KUBERNETES_MINORS)
@pytest.mark.parametrize("name", runtimes.NODE_RUNTIMES)
def test_every_minor_gives_every_runtime_a_profile(minor, name):
    release = kubernetes_release(minor)
    assert release.profile(name).runtime == name
    assert release.cri_o.startswith("v1.")


def test_containerd_2_is_the_default_and_debian_1_6_stays_on_1_24():
    assert profile("containerd").id == "containerd-2"
    assert profile("containerd", "1.24").id == "containerd-1.6"
    assert PINS["tools"]["containerd"].startswith("v2.")


def test_profiles_of_one_runtime_agree_on_what_users_see():
    for runtime in runtimes.NODE_RUNTIMES:
        seen = {(p.scheme, p.cri_socket, p.crictl_name, p.containerd_namespaces,
                 p.runtime_class_handlers, p.cli_tools) for p in runtimes.profiles_of(runtime)}
        assert len(seen) == 1, f"{runtime}: profiles differ in {seen}"


def test_the_baseline_is_looked_for_first_on_a_node():
    order = [p.runtime for p in runtimes.detection_order()]
    assert order[0] == "docker" and sorted(order) == sorted(runtimes.NODE_RUNTIMES)


def test_handler_tables_name_quoted_and_bare_handlers():
    text = ("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia]\n"
            "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.\"kata-qemu\".options]\n"
            "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'gvisor']\n")
    found = {next(filter(None, g)) for g in re.findall(profile("containerd").handler_table, text)}
    assert found == {"nvidia", "kata-qemu", "gvisor"}
    crio = '[crio.runtime.runtimes.crun]\n[crio.runtime.runtimes."nvidia"]\n'
    assert {next(filter(None, g)) for g in re.findall(profile("cri-o").handler_table, crio)} == {
        "crun", "nvidia"}


def test_no_runtime_names_in_checks_gate_or_node_images():
    offenders = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
                 for path in NAME_FREE for n, line in enumerate(path.read_text().splitlines(), 1)
                 if NAME_TEST.search(line)]
    assert not offenders, "branch on a profile's capability instead:\n" + "\n".join(offenders)


@pytest.mark.parametrize("minor, fail_cgroup_v1", [("1.24", False), ("1.33", True), ("1.37", True)])
def test_kind_config_lets_the_kubelet_run_on_cgroup_v1(minor, fail_cgroup_v1):
    release = kubernetes_release(minor)
    doc = yaml.safe_load(kindconfig.kind_config(release.profile("cri-o"), release, "img"))
    patches = [yaml.safe_load(p) for p in doc["kubeadmConfigPatches"]]
    init = next(p for p in patches if p["kind"] == "InitConfiguration")
    assert init["nodeRegistration"]["criSocket"] == "unix:///var/run/crio/crio.sock"
    assert "SystemVerification" in init["nodeRegistration"]["ignorePreflightErrors"]
    kubelet = [p for p in patches if p["kind"] == "KubeletConfiguration"]
    assert bool(kubelet and kubelet[0].get("failCgroupV1") is False) == fail_cgroup_v1


@pytest.mark.parametrize("minor", ["1.24", "1.35", "1.36", "1.37"])
def test_the_control_plane_runs_without_leader_election(minor):
    """One control plane: a lease missed on busy cores must not restart the controller-manager."""
    release = kubernetes_release(minor)
    doc = yaml.safe_load(kindconfig.kind_config(release.profile("containerd"), release, "img"))
    cluster = next(yaml.safe_load(p) for p in doc["kubeadmConfigPatches"] if "ClusterConfiguration" in p)
    for component in ("controllerManager", "scheduler"):
        args = cluster[component]["extraArgs"]
        if isinstance(args, list):           # kubeadm v1beta4 (kind writes it from 1.36)
            assert release.at_least("1.36"), (minor, args)
            args = {a["name"]: a["value"] for a in args}
        assert args["leader-elect"] == "false", (minor, component, args)
    assert cluster["controllerManager"]["extraArgs"] and "enable-hostpath-provisioner" in str(cluster)


def test_the_entrypoint_tells_kind_about_cgroup_v1():
    """kind waits 30 s for `detected cgroup v1` or systemd's multi-user target."""
    entrypoint = (ROOT / "clusters/node/common/usr/local/bin/crigate-entrypoint").read_text()
    assert 'log "detected cgroup v1"' in entrypoint


def test_the_docker_baseline_kubelet_runs_on_cgroupfs():
    release = kubernetes_release("1.37")
    doc = yaml.safe_load(kindconfig.kind_config(release.profile("docker"), release, "img"))
    kubelet = next(yaml.safe_load(p) for p in doc["kubeadmConfigPatches"]
                   if "KubeletConfiguration" in p)
    assert kubelet == {"kind": "KubeletConfiguration", "cgroupDriver": "cgroupfs",
                       "failCgroupV1": False, "featureGates": {"ExtendWebSocketsToKubelet": False}}
    old = kubernetes_release("1.24")          # a gate the kubelet does not know yet is an error
    assert "featureGates" not in kindconfig.kind_config(old.profile("docker"), old, "img")


@pytest.mark.parametrize("line", ['if cluster.runtime != "cri-o":', "if runtime == 'containerd':",
                                  'x = a if "docker" == runtime else b',
                                  'if runtime in ("containerd", "docker"):'])
def test_the_name_check_sees_a_branch_on_a_name(line):
    assert NAME_TEST.search(line)
