"""What keeps a kind cluster from going away: stray commands of a killed
`kind create`, and frozen cgroups (clusters/teardown.py)."""
from __future__ import annotations

import os

from crigate.testbed import teardown


def fake_process(proc, pid: int, *argv: str) -> None:
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")


def test_commands_naming_the_clusters_nodes_are_strays(tmp_path):
    fake_process(tmp_path, 101, "/usr/bin/docker", "run", "--name", "crigate-containerd-ab12-control-plane")
    fake_process(tmp_path, 102, "/root/.cache/crigate/kind/kind", "create", "cluster",
                 "--name=crigate-containerd-ab12")
    fake_process(tmp_path, 103, "/usr/bin/docker", "run", "--name", "crigate-containerd-ab123-control-plane")
    fake_process(tmp_path, 104, "/usr/bin/python3", "-m", "crigate.testbed", "up",
                 "--name", "crigate-containerd-ab12")        # not kind or docker: never stopped
    fake_process(tmp_path, 105, "/bin/sh", "/home/u/.asdf/shims/kind", "delete", "cluster",
                 "--name", "crigate-containerd-ab12")       # a shim or wrapper script: the kind it runs
    fake_process(tmp_path, 106, "/bin/sh", "-c", "echo crigate-containerd-ab12")   # a shell, not kind
    fake_process(tmp_path, os.getpid(), "/usr/bin/docker", "crigate-containerd-ab12")   # this process
    assert teardown.stray_commands("crigate-containerd-ab12", tmp_path) == [101, 102, 105]


def test_frozen_cgroups_of_a_container_are_found_and_thawed(tmp_path, monkeypatch):
    monkeypatch.setattr(teardown, "FREEZER_V1", tmp_path / "freezer")
    monkeypatch.setattr(teardown, "CGROUP_V2", tmp_path / "unified")
    pod = tmp_path / "freezer" / "docker" / "abc" / "kubelet" / "pod1" / "ctr"
    pod.mkdir(parents=True)
    (pod / "freezer.state").write_text("FROZEN\n")
    (pod.parent / "freezer.state").write_text("THAWED\n")
    assert teardown.frozen_cgroups("abc") == [pod / "freezer.state"]
    assert teardown.thaw("abc") == 1
    assert (pod / "freezer.state").read_text() == "THAWED"
    assert teardown.frozen_cgroups("abc") == [] and teardown.frozen_cgroups("other") == []
