"""The nightly workflow: linted by actionlint (built from its Go module), its
matrix covers every runtime and the Kubernetes versions that matter, and its
summary step merges the jobs' results.json files."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from crigate import summary
from crigate.testbed import gobuild
from crigate.testbed.versions import DEFAULT_KUBERNETES, RUNTIMES

WORKFLOW = Path(__file__).resolve().parents[1] / ".github/workflows/nightly.yml"


@pytest.fixture(scope="module")
def actionlint() -> str:
    return str(gobuild.build_actionlint() / "actionlint")


def lint(actionlint: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([actionlint, "-no-color", str(path)], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.testbed     # actionlint is built from its Go module
def test_actionlint_accepts_the_nightly_workflow(actionlint):
    done = lint(actionlint, WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.testbed
def test_actionlint_rejects_a_broken_copy(actionlint, tmp_path):
    broken = tmp_path / ".github/workflows/nightly.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "run-on:", 1)
                      .replace("${{ matrix.runtime }}", "${{ matrix.runtimes }}", 1))
    done = lint(actionlint, broken)
    assert done.returncode != 0 and "run-on" in done.stdout and "runtimes" in done.stdout, done.stdout


def test_matrix_covers_every_runtime_and_the_eks_upgrade_version():
    doc = yaml.safe_load(WORKFLOW.read_text())
    matrix = doc["jobs"]["conformance"]["strategy"]["matrix"]
    assert set(matrix["runtime"]) == set(RUNTIMES)
    assert {"1.24", DEFAULT_KUBERNETES} <= set(matrix["k8s"])
    triggers = doc[True] if True in doc else doc["on"]      # YAML 1.1 reads `on` as True
    assert "schedule" in triggers and "workflow_dispatch" in triggers


def test_baseline_job_measures_latency_against_docker_and_gates_the_summary():
    doc = yaml.safe_load(WORKFLOW.read_text())
    steps = " ".join(step.get("run", "") for step in doc["jobs"]["baseline"]["steps"])
    assert "make baseline" in steps
    makefile = (WORKFLOW.parents[2] / "Makefile").read_text()
    assert "-m latency --runtime all,docker" in makefile
    assert set(doc["jobs"]["summary"]["needs"]) == {"conformance", "baseline"}


def result_doc(minor: str, outcomes: dict[tuple[str, str], str]) -> dict:
    return {"kubernetes_minor": minor, "latency": {},
            "results": [{"check": c, "runtime": r, "outcome": o} for (c, r), o in outcomes.items()]}


def test_summary_merges_jobs_into_one_matrix(tmp_path, capsys):
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps(result_doc("1.33", {("logs::x", "containerd"): "passed"})))
    b.write_text(json.dumps(result_doc("1.24", {("logs::x", "cri-o"): "failed",
                                                ("gpu::y", "cri-o"): "skipped"})))
    assert summary.main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# crigate nightly: FAIL")
    assert "| check | containerd / 1.33 | cri-o / 1.24 |" in out
    assert "| `logs::x` | PASS | FAIL |" in out and "| `gpu::y` | - | SKIP |" in out


def test_known_differences_keep_the_summary_green(tmp_path, capsys):
    # a non-strict known difference may XFAIL or XPASS; a strict XPASS is recorded as failed
    doc = tmp_path / "a.json"
    doc.write_text(json.dumps(result_doc("1.24", {("logs::x", "cri-o"): "xfailed",
                                                  ("logs::y", "cri-o"): "xpassed"})))
    summary.main([str(doc)])
    assert capsys.readouterr().out.startswith("# crigate nightly: PASS")


def test_summary_without_results_fails(tmp_path, capsys):
    assert summary.main([str(tmp_path / "missing.json")]) == 1
