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
    assert path, "chromium is not installed; `python -m clusters build` installs Debian's chromium"
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
