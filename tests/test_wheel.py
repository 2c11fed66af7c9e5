"""What `pip install crigate` puts into site-packages lives under one name."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_no_top_level_package_but_crigate(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "--disable-pip-version-check", "-w", str(tmp_path), str(REPO)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel, = tmp_path.glob("crigate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"crigate"}, f"expected only crigate/ in {wheel.name}, found {sorted(top)}"
    for data in ("crigate/testbed/versions.toml", "crigate/gate/agents.toml", "crigate/suites/test_logs.py"):
        assert data in names, f"{wheel.name} lacks {data}"
