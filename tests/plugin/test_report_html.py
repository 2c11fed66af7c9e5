"""report.html, opened in headless Chromium: what a person sees."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .test_report import CHECKS

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium")
    assert path, "chromium is not installed; `python -m crigate.testbed build` installs Debian's chromium"
    return path


@pytest.fixture
def report_html(pytester):
    pytester.makepyfile(test_fake_checks=CHECKS)
    pytester.runpytest("--runtime", "all", "--report-dir", "out")
    return pytester.path / "out" / "report.html"


def browse(chromium: str, tmp_path, *args: str) -> str:
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_browser_shows_verdict_matrix_latency_and_failures(chromium, report_html, tmp_path):
    dom = browse(chromium, tmp_path, "--dump-dom", report_html.as_uri())
    assert re.search(r'<span id="verdict" class="verdict-FAIL">FAIL</span>', dom)
    row = re.search(r"<tr><th class=\"check\">fake_checks::test_fails_on_cri_o</th>(.*?)</tr>", dom, re.S)
    assert row and re.findall(r">(PASS|FAIL)</td>", row.group(1)) == ["PASS", "FAIL"], row
    for runtime in ("containerd", "cri-o"):
        block = re.search(rf'<div class="runtime-latency" id="latency-{runtime}">(.*?)</svg>', dom, re.S)
        assert block and block.group(1).count("<circle") == 20, f"latency strip for {runtime}"
    assert "expected CRI format, observed Docker JSON" in dom
    assert "no node advertises nvidia.com/gpu" in dom


def test_browser_renders_a_screenshot(chromium, report_html, tmp_path):
    shot = tmp_path / "report.png"
    browse(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1100,1400", report_html.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_browser_shows_the_gate_verdict_findings_and_checklist(chromium, pytester, tmp_path):
    from .test_gate_verdict import GATE
    pytester.makepyfile(test_fake_gate=GATE.format(mode="breaks"))
    pytester.runpytest("--report-dir", "out")
    dom = browse(chromium, tmp_path, "--dump-dom", (pytester.path / "out/report.html").as_uri())
    assert '<span id="verdict" class="verdict-NO-GO">NO-GO</span>' in dom
    section = re.search(r'<section class="gate" id="gate-containerd">(.*?)</section>', dom, re.S)
    assert section, "gate section for containerd"
    rows = re.findall(r'<tr class="(breaks|review)">', section.group(1))
    assert rows == ["breaks", "review"], rows          # blocking findings first
    assert "DaemonSet/mon/agent/main" in section.group(1) and "use crictl" in section.group(1)
    assert section.group(1).count('type="checkbox"') >= 5
    assert 'id="latency"' not in dom, "a gate-only report has no latency section"


def test_browser_shows_the_docker_baseline_and_both_latency_ratios(chromium, pytester, tmp_path):
    pytester.makepyfile(test_fake_checks=CHECKS)
    pytester.runpytest("--runtime", "containerd,docker", "--report-dir", "out")
    dom = browse(chromium, tmp_path, "--dump-dom", (pytester.path / "out/report.html").as_uri())
    assert "<th>docker (baseline)</th>" in dom and 'id="baseline"' in dom
    ratios = re.findall(r'<p class="ratio">(.*?):', dom)
    assert ratios == ["create to Ready", "create to the runtime's container start"], ratios


PERF_CHECKS = """
import pytest
from crigate import phases
from crigate.records import Burst, Latency

pytestmark = pytest.mark.latency

def test_latency(runtime, record_measurement):
    scale = {"docker": 1.0, "containerd": 0.8}[runtime]
    samples = [round(scale * (0.6 + 0.02 * i), 3) for i in range(20)]
    pods = [{"create_to_schedule": 0.01, "schedule_to_sandbox": 0.3 * scale, "sandbox_to_container": 0.1,
             "container_to_run": 0.05, "run_to_watch": s - 0.46 * scale - 0.16, "pod_startup": s} for s in samples]
    record_measurement(Latency(samples=samples, phases=pods, phase_summary=phases.summarize(pods)))

def test_burst(runtime, record_measurement):
    scale = {"docker": 1.0, "containerd": 0.8}[runtime]
    record_measurement(Burst(rounds=[
        {"pods": 5, "ready_s": [scale * (1 + i / 10) for i in range(5)], "all_ready_s": 2 * scale,
         "runtime_cpu_s": 3 * scale, "kubelet_cpu_s": 1.0, "runtime_peak_mb": 200.0, "kubelet_peak_mb": 90.0}],
        steady={"runtime_cpu_cores": [0.05] * 3, "runtime_rss_mb": [150.0 * scale] * 3}))
"""


def test_browser_shows_the_ecdf_and_the_phase_bars(chromium, pytester, tmp_path):
    pytester.makepyfile(test_fake_perf=PERF_CHECKS)
    pytester.runpytest("--runtime", "containerd,docker", "--report-dir", "out")
    dom = browse(chromium, tmp_path, "--dump-dom", (pytester.path / "out/report.html").as_uri())
    section = re.search(r'<section id="performance">(.*?)</section>', dom, re.S)
    assert section, "no performance section"
    lines = re.findall(r'<polyline class="ecdf-line" data-runtime="([a-z-]+)"', section.group(1))
    assert sorted(lines) == ["containerd", "containerd", "docker", "docker"]
    bars = re.findall(r'<rect class="phase" data-runtime="([a-z-]+)" data-phase="([a-z_]+)"', section.group(1))
    assert {r for r, _ in bars} == {"containerd", "docker"} and len(bars) == 10
    assert "Ratios to the docker baseline" in section.group(1)
    assert "2018 blog: containerd CPU -68.13%" in section.group(1)
