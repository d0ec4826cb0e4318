"""`pip install .` must carry what the app needs at run time: the top-level templates/
and migrations/ (inside the voting package), and the section list for the demo."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_carries_templates_migrations_and_data(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("pingyi-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {f"voting/templates/{p.relative_to(ROOT / 'templates')}" for p in (ROOT / "templates").rglob("*") if p.is_file()}
    migrations = {f"voting/migrations/{p.relative_to(ROOT / 'migrations')}" for p in (ROOT / "migrations").rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts}
    assert templates and templates <= names
    assert migrations and migrations <= names
    assert {"voting/data/pingyang-2021-sections.csv", "voting/data/pingyang-2021-sections.xlsx"} <= names
    schemes = {f"voting/data/{p.relative_to(ROOT / 'voting/data')}" for p in (ROOT / "voting/data/schemes").rglob("*")
               if p.suffix in (".yaml", ".csv")}
    assert len(schemes) >= 4 + 8 and schemes <= names  # the built-in schemes and their seeds' items
    assert not any(name.startswith(("templates/", "migrations/", "tests/")) for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "pingyi = voting.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
