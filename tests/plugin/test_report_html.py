"""report.html, opened in headless Chromium: what a person sees."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

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


CLUSTER_FACTS = Path(__file__).parent / "data" / "cluster-facts.json"   # kind clusters and an EKS-like mixed one
RECORDED_CLUSTERS = """
import json
from crigate.records import Cluster

def test_cluster_facts(runtime, record_measurement):
    record_measurement(Cluster(json.loads({facts!r})[runtime]))

def test_watch_answers(runtime):    # a failure message with a long unbreakable URL, as the API client gives
    assert runtime != "cri-o", ("node ip-10-0-100-20.eu-west-1.compute.internal: watch failed: GET "
        "https://127.0.0.1:40123/api/v1/namespaces/crigate-latency-3f9a1c/pods?labelSelector=app%3Dcrigate-"
        "logger%2Cpod-template-hash%3D7d9f8c6b5&resourceVersion=123456&timeoutSeconds=120&watch=true: 410 Gone")
"""
WINDOW_PX = 1300


@pytest.fixture
def realistic_report(pytester):
    """Checks, latency and the cluster facts a real run records, three runtimes."""
    pytester.makepyfile(test_fake_checks=CHECKS, test_fake_perf=PERF_CHECKS.replace(
        '{"docker": 1.0, "containerd": 0.8}[runtime]', '{"docker": 1.0}.get(runtime, 0.8)'),
        test_clusters=RECORDED_CLUSTERS.format(facts=CLUSTER_FACTS.read_text()))
    pytester.runpytest("--runtime", "containerd,cri-o,docker", "--report-dir", "out")
    return pytester.path / "out" / "report.html"


def scroll_width(chromium: str, page: Path, tmp_path, window_px: int) -> int:
    """document's scrollWidth in a window window_px wide (a script added to a copy)."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace(
        "</body>", "<script>document.body.dataset.scrollWidth = "
                   "document.documentElement.scrollWidth</script></body>"))
    dom = browse(chromium, tmp_path, f"--window-size={window_px},900", "--dump-dom", probe.as_uri())
    found = re.search(r'data-scroll-width="(\d+)"', dom)
    assert found, "the probe script did not run"
    return int(found.group(1))


def test_report_fits_a_1300_pixel_window_without_sideways_scrolling(chromium, realistic_report, tmp_path):
    width = scroll_width(chromium, realistic_report, tmp_path, WINDOW_PX)
    assert width <= WINDOW_PX, f"report.html: expected scrollWidth <= {WINDOW_PX} px, observed {width} px"


def test_a_report_too_wide_is_seen_as_such(chromium, tmp_path):
    """The width check can fail: an unbreakable line wider than the window."""
    page = tmp_path / "wide.html"
    page.write_text(f"<!doctype html><html><body><pre>{'x' * 400}</pre></body></html>")
    assert scroll_width(chromium, page, tmp_path, WINDOW_PX) > WINDOW_PX


def test_report_opens_with_what_was_run_in_words(chromium, realistic_report, tmp_path):
    dom = browse(chromium, tmp_path, "--dump-dom", realistic_report.as_uri())
    first = re.search(r"</h1>\s*<section id=\"(.*?)\"><h2>(.*?)</h2>(.*?)</section>", dom, re.S)
    assert first and first.group(1) == "what-ran" and first.group(2) == "What was run", first
    table = first.group(3)
    assert re.findall(r"<tr><th>(.*?)</th>", table) == [
        "runtime", "cluster", "node image", "Kubernetes", "runtime version", "low-level runtime",
        "nodes checked", "measurement size"]
    assert re.search(r"<th>runtime</th><th>containerd</th><th>cri-o</th><th>docker \(baseline\)</th>", table)
    for raw in ("node_image_id", "runtime_profile", "node_runtimes", "{'", "['"):
        assert raw not in table, f"run table: raw key or Python literal {raw!r} shown"
    facts = json.loads(CLUSTER_FACTS.read_text())
    image_id = facts["containerd"]["node_image_id"]
    assert f'title="crigate-node:1.37-containerd {image_id}"' in table, "full image id in the title"
    assert f"crigate-node:1.37-containerd ({image_id[:19]}...)" in table
    assert "9: ip-10-0-100-20.eu-west-1.compute.internal" in table and "and 6 more" in table
    assert "<td>cri-o://1.37.1</td>" in table, "only the checked nodes' runtime version"
    assert "quick: 20 pods one at a time, burst 5 x 1, critest benchmark 3, EventedPLEG off" in table
