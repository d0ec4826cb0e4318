"""Chinese text keeps its full-width punctuation (，：；（）！？): the converter in .ci/
finds nothing left to convert in the pages, messages, SMS texts and tests."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_ascii_punctuation_is_left_in_chinese_text():
    run = subprocess.run([sys.executable, str(ROOT / ".ci" / "fullwidth.py"), str(ROOT), "--dry-run", "--diff"],
                         capture_output=True, text=True, check=True, timeout=120)
    assert run.stdout.rstrip().endswith("would change 0 files, 0 lines"), run.stdout[-4000:]
