"""The README stays a user's guide: short, and every docs/ link in it leads somewhere."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MAX_LINES = 300
DOCS_LINK = re.compile(r"\]\((docs/[^)#\s]+)(?:#[^)\s]*)?\)")


def test_the_readme_is_at_most_300_lines():
    lines = README.read_text().count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines, more than {MAX_LINES}: move reference text to docs/"


def test_every_docs_link_in_the_readme_exists():
    links = DOCS_LINK.findall(README.read_text())
    assert links, "README.md links to nothing under docs/"
    missing = sorted({link for link in links if not (REPO / link).is_file()})
    assert not missing, f"README.md links to docs that do not exist: {missing}"
