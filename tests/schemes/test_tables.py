"""The published tables as Excel: each seed's workbook holds its shapes (汇总表 with the
title, signature lines and the written reasons; 名次表 with module and detail columns;
加减分明细; 指标表; 图表) and the figures the reproduction asserts."""
from __future__ import annotations

from openpyxl import load_workbook

from tests.schemes.test_reproduce import reproduce
from voting.schemes.tables import write_tables


def workbook(seed, tmp_path):
    result = reproduce(seed)
    period = result.table["period"].iloc[0]
    write_tables(result, period, tmp_path / f"{seed}.xlsx")
    return load_workbook(tmp_path / f"{seed}.xlsx")


def rows(sheet):
    return [row for row in sheet.iter_rows(values_only=True)]


def test_enyang_summary_is_the_published_shape(tmp_path):
    book = workbook("enyang", tmp_path)
    assert book.sheetnames == ["汇总表", "名次表", "加减分明细", "指标表", "图表"]
    found = rows(book["汇总表"])
    assert found[0][0] == "巴中市恩阳区2021年下半年目标绩效考核亮牌情况汇总表（政务服务）"
    assert found[1][0].startswith("区委分管领导审核意见") and "年　　月　　日" in found[3][0]
    header = found.index(("序号", "被考核单位", "加扣分原因及分值", "得分", "排名"))
    body = [row for row in found[header + 1:] if isinstance(row[0], int)]
    assert len(body) == 60
    by_name = {row[1]: row for row in body}
    assert by_name["关公镇"][3] == 105.1 and by_name["关公镇"][4] == "1"
    assert "报送先进经验做法信息1篇加0.1分" in by_name["关公镇"][2]
    assert by_name["区扶贫开发局"][2] == "无加扣分" and by_name["区扶贫开发局"][3] == 100
    assert [row[0] for row in found if row[0] in ("镇（街道）", "区级部门")] == ["镇（街道）", "区级部门"]


def test_jinjiang_ranking_has_modules_details_and_flags(tmp_path):
    found = rows(workbook("jinjiang", tmp_path)["名次表"])
    header = found[1]
    assert header[:10] == ("名次", "分组", "对象", "人员表现", "人员进驻", "业务规范", "窗口规范", "评价管理", "奖励分",
                           "总分")
    first, ninth = found[2], found[10]
    assert first[2] == "公安出入境" and first[9] == 107.56 and first[header.index("一票否决")] == "√"
    assert first[header.index("评优")] is None
    assert ninth[2] == "文化和旅游" and ninth[9] == 103.85  # 103.845 half up
    assert "满意率（一）" in header and header.count("一票否决") == 1


def test_miyi_details_and_indicator_table(tmp_path):
    book = workbook("miyi", tmp_path)
    details = rows(book["加减分明细"])
    assert details[0][0] == "2020年7月各窗口（单位）考核加减分明细表"
    start = details.index(next(row for row in details if row[1] == "市场监管局"))
    block = details[start + 1:start + 4]
    assert [row[3] for row in block] == ["+0.2", "-2", "+2"]
    indicators = rows(book["指标表"])
    assert indicators[1] == ("一级指标", "二级指标", "分值", "具体考核内容", "计分规则", "责任科室")
    charts = book["图表"]
    assert len(charts._charts) == 3  # one ranking per group
