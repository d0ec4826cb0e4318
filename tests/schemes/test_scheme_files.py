"""Scheme files and data folders: loading errors name the line and field; bad data
rows are listed with file, row and column, nothing scored; `pingyi scheme` commands
print the JSON of docs/schemes.md and clear errors."""
from __future__ import annotations

import json
import shutil

import pytest

from scoring.schemes.scheme import SchemeError, load_scheme
from tests.scores.test_bundle_cli import pingyi
from voting.components.bundle import BundleRejected
from voting.schemes.files import BUILTIN, builtin_folder, read_data, read_scheme

GOOD = """\
name: '测试'
kinds: [window]
period: month
modules:
  - id: m
    name: '模块'
    indicators:
      - {id: x, name: '事项', rule: observed}
"""


@pytest.mark.parametrize("seed", sorted(BUILTIN))
def test_builtin_schemes_load(seed):
    scheme = read_scheme(seed)
    assert scheme.indicators and scheme.name


@pytest.mark.parametrize("text, line, where, message", [
    (GOOD.replace("period: month", "period: week"), 3, "period", "“week”不可用"),
    (GOOD.replace("rule: observed", "rule: {kind: per_event, cap: -1}"), 8, "modules[0].indicators[0].rule",
     "需要 points"),
    (GOOD.replace("rule: observed", "rule: {kind: fixed, point: 1}"), 8, "modules[0].indicators[0].rule.point",
     "不认识的键"),
    (GOOD.replace("rule: observed", "rule: {kind: fixed, points: 0.0001}"), 8,
     "modules[0].indicators[0].rule.points", "小数超过 3 位"),
    (GOOD.replace("kinds: [window]", "kinds: [window, shop]"), 2, "kinds[1]", "“shop”不可用"),
    (GOOD + "      - {id: x, name: '重复', rule: observed}\n", 9, "modules[0].indicators[1].id", "重复"),
    (GOOD.replace("    name: '模块'\n", ""), 5, "modules[0]", "缺少 name"),
    ("name: [unclosed\n", 2, "", "YAML 格式错误"),
])
def test_scheme_errors_name_line_and_field(text, line, where, message):
    with pytest.raises(SchemeError) as caught:
        load_scheme(text, "x.yaml")
    found = [(at, w, m) for at, w, m in caught.value.problems if message in m]
    assert found and found[0][:2] == (line, where), caught.value.problems


def csv_row(*cells: str) -> str:
    """A row of items.csv (对象, 期间, 指标, 日期, 数量, 数值, 分值, 说明)."""
    return ",".join([*cells, *[""] * (8 - len(cells))])


def test_bad_data_rows_are_all_listed_and_nothing_is_scored(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(builtin_folder() / "enyang", folder)
    items = (folder / "items.csv").read_text(encoding="utf-8").splitlines()
    items.insert(3, csv_row("不存在的镇", "2021-H2", "sanhua"))
    items.insert(4, csv_row("登科街道", "2021-H2", "sanhua", "", "二"))
    items.insert(5, csv_row("登科街道", "2021-13", "sanhua"))
    (folder / "items.csv").write_text("\n".join(items) + "\n", encoding="utf-8")
    with pytest.raises(BundleRejected) as caught:
        read_data(read_scheme("enyang"), folder)
    messages = [str(error) for rejected in caught.value.files for error in rejected.errors]
    assert any("第 5 行" in m and "数量“二”" in m for m in messages), messages
    assert any("第 6 行" in m and "不是期间" in m for m in messages), messages


def test_unknown_entity_is_named_with_its_row(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(builtin_folder() / "enyang", folder)
    with open(folder / "items.csv", "a", encoding="utf-8") as file:
        file.write(csv_row("不存在的镇", "2021-H2", "sanhua") + "\n")
    rows = len((folder / "items.csv").read_text(encoding="utf-8").splitlines())
    with pytest.raises(BundleRejected) as caught:
        read_data(read_scheme("enyang"), folder)
    assert [str(e) for e in caught.value.files[0].errors] == [f"第 {rows} 行：对象“不存在的镇”不在对象名单中"]


def test_reproduce_prints_the_json_object(tmp_path):
    done = pingyi("scheme", "reproduce", "enyang", "--json", cwd=tmp_path, instance=tmp_path / "instance")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["scheme"] and data["period"] == "2021-H2" and data["warnings"] == []
    first = data["entities"][0]
    assert set(first) == {"group", "entity", "total", "rounded", "rank", "tied", "modules", "items", "vetoed", "flags"}
    assert (first["group"], first["entity"], first["total"], first["rank"]) == ("镇（街道）", "文治街道", 105.1, 1)
    assert sum(item["points"] * 1000 for item in first["items"]) == pytest.approx(5100)


def test_score_command_reports_bad_files_and_exits_1(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(builtin_folder() / "enyang", folder)
    (folder / "entities.csv").unlink()
    done = pingyi("scheme", "score", "enyang", str(folder), "--period", "2021-H2", cwd=tmp_path,
                  instance=tmp_path / "instance")
    assert done.returncode == 1
    assert "目录中没有对象名单 entities.csv" in done.stderr and "Traceback" not in done.stderr


def test_score_command_with_a_scheme_file_and_a_bad_period(tmp_path):
    scheme = tmp_path / "s.yaml"
    scheme.write_text(GOOD.replace("period: month", "period: fortnight"), encoding="utf-8")
    done = pingyi("scheme", "score", str(scheme), str(tmp_path), cwd=tmp_path, instance=tmp_path / "instance")
    assert done.returncode == 1 and "s.yaml 第 3 行，period：“fortnight”不可用" in done.stderr
    done = pingyi("scheme", "score", "miyi", str(builtin_folder() / "miyi"), "--period", "2020-7", cwd=tmp_path,
                  instance=tmp_path / "instance")
    assert done.returncode == 1 and "不是期间" in done.stderr and "Traceback" not in done.stderr


def test_score_command_writes_the_workbook(tmp_path):
    out = tmp_path / "名次表.xlsx"
    done = pingyi("scheme", "reproduce", "jinjiang", "--out", str(out), cwd=tmp_path, instance=tmp_path / "instance")
    assert done.returncode == 0, done.stderr
    assert out.is_file() and "已写入" in done.stdout and "2023年第1季度" in done.stdout


def test_a_number_too_large_for_a_scheme_is_refused():
    with pytest.raises(SchemeError) as caught:
        load_scheme(GOOD.replace("period: month", "period: month\nbase: 1e20"), "big.yaml")
    assert any(where == "base" and "过大" in message for _, where, message in caught.value.problems)


@pytest.mark.parametrize("seed", sorted(BUILTIN))
def test_a_period_with_no_records_or_no_entities_scores(seed):
    import pandas as pd

    from scoring.schemes.engine import RECORD_COLUMNS, score
    from voting.schemes.files import parse_entities

    scheme = read_scheme(seed)
    people = parse_entities(scheme, (builtin_folder() / seed / "entities.csv").read_bytes(), "entities.csv")
    none = pd.DataFrame(columns=RECORD_COLUMNS).astype({"value": "Int64", "points": "Int64", "count": "int64"})
    result = score(scheme, people, none, periods=["2023-01"])
    sums = result.items.groupby("entity")["points"].sum()
    assert len(result.table) == len(people)
    assert all(total == scheme.base + int(sums.get(entity, 0))
               for entity, total in zip(result.table["entity"], result.table["total"]))
    assert score(scheme, people.iloc[0:0], none, periods=["2023-01"]).table.empty
