"""oci-wrapper edits the OCI spec as the engine hands it over, then execs the runtime."""
from __future__ import annotations

import json
import subprocess

import pytest
from crigate.testbed import programs

pytestmark = pytest.mark.testbed     # the wrapper is a Go program the test bed builds

SPEC = {"ociVersion": "1.0.2", "linux": {"resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
                                                      "memory": {"limit": 1}}}, "process": {
    "oomScoreAdj": -998,
    "capabilities": {s: ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"]
                     for s in ("bounding", "effective", "permitted")}},
    "root": {"path": "rootfs"}}


def run_wrapper(tmp_path, *options, verb=("create", "--bundle")):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(SPEC))
    argv_file = tmp_path / "argv"
    runtime = tmp_path / "fake-runtime"
    runtime.write_text(f"#!/bin/sh\necho \"$@\" > {argv_file}\n")
    runtime.chmod(0o755)
    subprocess.run([str(programs.oci_wrapper()), "--runtime", str(runtime), *options, "--",
                    "--root", "/run/x", *verb, str(bundle), "ctr-1"], check=True)
    return json.loads((bundle / "config.json").read_text()), argv_file.read_text().split()


def test_drops_capability_and_raises_oom_score(tmp_path):
    spec, argv = run_wrapper(tmp_path, "--drop-cap", "CAP_SYS_RESOURCE", "--min-oom-score-adj", "0")
    for name, caps in spec["process"]["capabilities"].items():
        assert caps == ["CAP_CHOWN", "CAP_NET_ADMIN"], f"capabilities.{name}: observed {caps}"
    assert spec["process"]["oomScoreAdj"] == 0
    assert argv == ["--root", "/run/x", "create", "--bundle", str(tmp_path / "bundle"), "ctr-1"]


def test_leaves_spec_alone_without_options(tmp_path):
    spec, _ = run_wrapper(tmp_path)
    assert spec["process"]["oomScoreAdj"] == -998
    assert "CAP_SYS_RESOURCE" in spec["process"]["capabilities"]["bounding"]


def test_sets_the_spec_version_an_older_runtime_knows(tmp_path):
    spec, _ = run_wrapper(tmp_path, "--oci-version", "1.1.0")
    assert spec["ociVersion"] == "1.1.0" and spec["process"]["oomScoreAdj"] == -998
    (tmp_path / "again").mkdir()
    assert run_wrapper(tmp_path / "again")[0]["ociVersion"] == SPEC["ociVersion"]


def test_drops_a_resource_the_runtime_cannot_apply(tmp_path):
    spec, _ = run_wrapper(tmp_path, "--drop-resource", "hugepageLimits")
    assert spec["linux"]["resources"] == {"memory": {"limit": 1}}


def test_records_each_created_container(tmp_path):
    record = tmp_path / "log" / "handler.log"
    run_wrapper(tmp_path, "--record", str(record))
    line = record.read_text()
    assert "create container=ctr-1" in line and "bundle=" in line, line


def test_bounding_only_keeps_capabilities_this_process_has(tmp_path):
    spec, _ = run_wrapper(tmp_path, "--bounding-only")
    bounding = int(next(line for line in open("/proc/self/status")
                        if line.startswith("CapBnd:")).split()[1], 16)
    kept = spec["process"]["capabilities"]["bounding"]
    assert ("CAP_SYS_RESOURCE" in kept) == bool(bounding >> 24 & 1), kept
    assert "CAP_CHOWN" in kept and "CAP_NET_ADMIN" in kept, kept
