"""`pingyi bundle score` on a generated bundle of the real 363 sections: the JSON of
docs/rules.md §6, the Excel report, and a bad file's message and exit status."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook


SHEETS = ["日常评价", "候选名单", "网络评价", "综合评价", "满意单位", "不满意单位", "单位考绩"]


def pingyi(*args, cwd: Path, instance: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("pingyi")
    env = {**os.environ, "PINGYI_INSTANCE_PATH": str(instance)}
    env.pop("DATABASE_URL", None)
    return subprocess.run([str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_json_is_the_spec_object(bundle_dir, tmp_path):
    done = pingyi("bundle", "score", str(bundle_dir), "--json", cwd=tmp_path, instance=tmp_path / "instance")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["year"] == 2021 and isinstance(data["warnings"], list)
    assert len(data["sections"]) == 363
    keys = {"unit", "section", "service", "platform", "supervisor", "inspection", "daily", "network",
            "bonus", "total", "shortlist", "result", "warnings", "exempt"}
    assert all(set(s) == keys for s in data["sections"])
    exempt = [s for s in data["sections"] if s["exempt"]]
    assert len(exempt) == 8 and all(s["daily"] is None and s["total"] is None for s in exempt)
    shortlisted = [s for s in data["sections"] if s["shortlist"]]
    assert len(shortlisted) == 110
    assert {s["shortlist"] for s in shortlisted} == {"satisfied_candidate", "unsatisfied_candidate", "previous_unsatisfied"}
    assert all(s["network"] is not None for s in shortlisted)
    assert all(s["network"] is None and s["result"] is None for s in data["sections"] if not s["shortlist"])
    results = [s["result"] for s in data["sections"] if s["result"]]
    assert results.count("satisfied") == 10 and results.count("most_unsatisfied") == 3
    for s in shortlisted:
        assert s["total"] == pytest.approx(s["daily"] + s["network"] + s["bonus"])
    # No database was set up: the instance folder holds no database file.
    assert not list((tmp_path / "instance").glob("*.sqlite*"))


def test_excel_report_follows_the_stages(bundle_dir, tmp_path):
    out = tmp_path / "report.xlsx"
    done = pingyi("bundle", "score", str(bundle_dir), "--out", str(out), cwd=tmp_path, instance=tmp_path / "instance")
    assert done.returncode == 0, done.stderr
    assert "已写入" in done.stdout
    book = load_workbook(out)
    assert book.sheetnames[: len(SHEETS)] == SHEETS
    daily = book["日常评价"]
    assert daily.freeze_panes is not None
    assert daily.max_row == 364  # header + 363 sections


def test_a_bad_file_names_file_row_and_column_and_exits_non_zero(bundle_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for path in bundle_dir.iterdir():
        (bad / path.name).write_bytes(path.read_bytes())
    lines = (bad / "inspection.csv").read_text(encoding="utf-8-sig").splitlines()
    parts = lines[1].split(",")
    parts[2] = "省级查实"
    lines[1] = ",".join(parts)
    (bad / "inspection.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    done = pingyi("bundle", "score", str(bad), "--json", cwd=tmp_path, instance=tmp_path / "instance")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "inspection.csv" in done.stderr and "第 2 行" in done.stderr and "C 列（类型）" in done.stderr
    assert "Traceback" not in done.stderr


def _edit_csv(path: Path, row: int, column: int, value: str) -> None:
    """Set one cell of a bundle CSV (`row` as Excel numbers it, `column` from 0)."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    parts = lines[row - 1].split(",")
    parts[column] = value
    lines[row - 1] = ",".join(parts)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")


def test_every_bad_file_is_reported_at_once_and_nothing_is_written(bundle_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for path in bundle_dir.iterdir():
        (bad / path.name).write_bytes(path.read_bytes())
    _edit_csv(bad / "votes.csv", 3, 3, "很多")
    _edit_csv(bad / "inspection.csv", 2, 2, "省级查实")
    _edit_csv(bad / "bonus.csv", 4, 5, "去年")
    out = tmp_path / "report.xlsx"
    done = pingyi("bundle", "score", str(bad), "--out", str(out), cwd=tmp_path, instance=tmp_path / "instance")
    assert done.returncode == 1
    assert done.stdout == "" and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == f"错误：目录 {bad} 中有 3 个文件有错误（votes.csv、inspection.csv、bonus.csv），未评分，未写入任何结果。"
    # Each file's summary, then its rows: file, row, column and the reason.
    for name, where, reason in (
        ("votes.csv", "第 3 行，D 列（满意）", "满意“很多”无效"),
        ("inspection.csv", "第 2 行，C 列（类型）", "类型“省级查实”无效"),
        ("bonus.csv", "第 4 行，F 列（日期）", "日期“去年”无效"),
    ):
        heading = next(i for i, line in enumerate(lines) if line.startswith(f"  文件 {name} 有 1 处错误"))
        assert lines[heading + 1].startswith(f"    {where}：{reason}"), lines
    # All or nothing: no report, and no database either (the bundle needs none).
    assert not out.exists()
    assert not list((tmp_path / "instance").glob("*.sqlite*"))


def test_a_missing_directory(tmp_path):
    done = pingyi("bundle", "score", str(tmp_path / "nowhere"), "--json", cwd=tmp_path, instance=tmp_path / "instance")
    assert done.returncode != 0 and "Traceback" not in done.stderr
