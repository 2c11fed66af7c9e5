"""bench/figures.py: a bench script rewrites only its own section of docs/figures.md."""
from __future__ import annotations

import datetime
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_figures", REPO / "bench" / "figures.py")
figures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figures)

DAY = datetime.date(2026, 12, 2)
DOCUMENT = """# Measured figures

## Soak
Regenerate: `make soak N=10`.

<!-- figures:soak -->
old soak figure

measured 2026-12-01 on vm (2 cores)
<!-- /figures:soak -->

## Gate bench
<!-- figures:gate-bench -->
gate: 2.44 s
<!-- /figures:gate-bench -->
trailing text
"""


def write(tmp_path: Path, text: str = DOCUMENT) -> Path:
    path = tmp_path / "figures.md"
    path.write_text(text)
    return path


def test_record_replaces_only_its_block(tmp_path, monkeypatch):
    monkeypatch.delenv(figures.SKIP_ENV, raising=False)
    path = write(tmp_path)
    figures.record("soak", "new soak figure", path=path, today=DAY, on="vm (2 cores, cgroup v1)")
    text = path.read_text()
    assert "old soak figure" not in text and "measured 2026-12-01" not in text
    assert ("<!-- figures:soak -->\nnew soak figure\n\nmeasured 2026-12-02 on vm (2 cores, cgroup v1)\n"
            "<!-- /figures:soak -->") in text
    before, after = DOCUMENT.split("<!-- figures:soak -->")[0], DOCUMENT.split("<!-- /figures:soak -->")[1]
    assert text.startswith(before) and text.endswith(after), "text outside the soak block changed"


def test_record_twice_gives_the_same_file(tmp_path, monkeypatch):
    monkeypatch.delenv(figures.SKIP_ENV, raising=False)
    path = write(tmp_path)
    figures.record("gate-bench", "gate: 2.1 s", path=path, today=DAY, on="vm")
    once = path.read_text()
    figures.record("gate-bench", "gate: 2.1 s", path=path, today=DAY, on="vm")
    assert path.read_text() == once
    assert once.count("<!-- figures:gate-bench -->") == 1 and "old soak figure" in once


def test_a_new_section_is_appended(tmp_path, monkeypatch):
    monkeypatch.delenv(figures.SKIP_ENV, raising=False)
    path = write(tmp_path)
    figures.record("run-bench", "| phase | s |", path=path, today=DAY, on="vm")
    text = path.read_text()
    assert text.startswith(DOCUMENT.rstrip("\n"))
    assert text.endswith("<!-- figures:run-bench -->\n| phase | s |\n\nmeasured 2026-12-02 on vm\n"
                         "<!-- /figures:run-bench -->\n")


def test_no_record_leaves_the_file_alone(tmp_path, monkeypatch):
    path = write(tmp_path)
    assert figures.record("soak", "x", path=path, no_record=True) is None
    monkeypatch.setenv(figures.SKIP_ENV, "1")
    assert figures.record("soak", "x", path=path) is None
    assert path.read_text() == DOCUMENT


def test_an_unclosed_block_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(figures.SKIP_ENV, raising=False)
    path = write(tmp_path, "<!-- figures:soak -->\nold\n")
    with pytest.raises(ValueError, match="has no <!-- /figures:soak -->"):
        figures.record("soak", "new", path=path, today=DAY, on="vm")
    assert path.read_text() == "<!-- figures:soak -->\nold\n"


def test_the_machine_line_names_cores_memory_kernel_and_cgroup():
    line = figures.measured_line(DAY)
    assert line.startswith("measured 2026-12-02 on ")
    assert " cores, " in line and "kernel " in line and "cgroup v" in line


def test_the_repository_figures_file_has_a_closed_block_per_section():
    text = (REPO / "docs" / "figures.md").read_text()
    begins = [line for line in text.splitlines() if line.startswith("<!-- figures:")]
    assert begins, "docs/figures.md has no sections"
    for begin in begins:
        section = begin.removeprefix("<!-- figures:").removesuffix(" -->")
        assert text.count(begin) == 1 and text.count(f"<!-- /figures:{section} -->") == 1, section
        block = text.split(begin)[1].split(f"<!-- /figures:{section} -->")[0]
        assert "\nmeasured " in block, f"section {section} says neither when nor where it was measured"
