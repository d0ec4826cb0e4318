"""The exchange files (docs/rules.md §6): each component file's reader (codes, types, every bad
row with its row and column) and `read_bundle` over a folder. Pure: no app, no
database."""
from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest

from scoring import columns as C
from scoring.engine import score_year
from scoring.settings import PINGYANG_2021, RuleSettings
from scoring.supervisor import tier_problems
from tests.conftest import xlsx_bytes
from voting.core.errors import DomainError, ImportRejected, RowError
from voting.components import bundle
from voting.components.bundle import (
    parse_bonus,
    parse_inspection,
    parse_platform,
    parse_supervisor,
    parse_votes,
    read_bundle,
)

VOTES = ["单位名称", "科室", "轮次", "满意", "基本满意", "不满意"]
PLATFORM = ["单位名称", "科室", "平台", "项目", "扣分", "承办"]
SUPERVISOR = ["单位名称", "科室", "分值"]
INSPECTION = ["单位名称", "科室", "类型", "严重", "人员", "本年度", "日期"]
BONUS = ["单位名称", "科室", "类型", "级别", "事项", "日期"]
KNOWN = {("甲局", "一科"), ("甲局", "二科"), ("甲局", "三科"), ("乙局", "一科")}


def _csv(header: list[str], rows: list[tuple], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def _rejected(parse, header, rows, **kwargs) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        parse(_csv(header, rows), "in.csv", **kwargs)
    assert caught.value.filename == "in.csv"
    return caught.value


def _only_error(parse, header, rows, **kwargs) -> RowError:
    errors = _rejected(parse, header, rows, **kwargs).errors
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


# ---- votes -----------------------------------------------------------------------------


def test_votes_good_path():
    rows = [
        ("甲局", "一科", "H1", "12.0", "3", "0"),
        ("甲 局", "一科", "下半年", "40", "0", "2"),  # names folded like the sections list
        ("乙局", "一科", "net", "7", "1", "1"),
    ]
    frame = parse_votes(_csv(VOTES, rows), "votes.csv", KNOWN)
    assert frame.columns.tolist() == [C.UNIT, C.SECTION, C.ROUND, C.VOTES_S, C.VOTES_B, C.VOTES_U, C.ROW]
    assert frame[C.ROUND].tolist() == [C.H1, C.H2, C.NET]
    assert frame[C.UNIT].tolist() == ["甲局", "甲局", "乙局"]
    assert frame[C.VOTES_S].tolist() == [12, 40, 7]
    assert frame[C.VOTES_U].tolist() == [0, 2, 1]
    assert frame[C.ROW].tolist() == [2, 3, 4]
    for column in (C.VOTES_S, C.VOTES_B, C.VOTES_U, C.ROW):
        assert frame[column].dtype == "int64"


def test_votes_english_headers():
    header = ["unit", "section", "round", "satisfied", "basic", "unsatisfied"]
    frame = parse_votes(_csv(header, [("甲局", "一科", "H2", 1, 2, 3)]), "votes.csv")
    assert frame[[C.ROUND, C.VOTES_S, C.VOTES_B, C.VOTES_U]].values.tolist() == [[C.H2, 1, 2, 3]]


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (("甲局", "一科", "H1", "1.5", "0", "0"), "D 列（满意）", "满意“1.5”无效：应为非负整数"),
        (("甲局", "一科", "H1", "1", "-1", "0"), "E 列（基本满意）", "基本满意“-1”无效"),
        (("甲局", "一科", "H1", "1", "0", "abc"), "F 列（不满意）", "不满意“abc”无效"),
        (("甲局", "一科", "H1", "", "0", "0"), "D 列（满意）", "满意为空"),
        (("甲局", "一科", "H3", "1", "0", "0"), "C 列（轮次）", "轮次“H3”无效：应为 H1、H2 或 NET"),
        (("", "一科", "H1", "1", "0", "0"), "A 列（单位名称）", "单位名称为空"),
        (("甲局", "", "H1", "1", "0", "0"), "B 列（科室）", "科室为空"),
        (("丙局", "一科", "H1", "1", "0", "0"), "", "单位名称/科室 丙局/一科 不在参评科室名单中"),
    ],
)
def test_votes_bad_cell(row, column, reason):
    # A good row first: the bad one is the file's row 3.
    error = _only_error(parse_votes, VOTES, [("甲局", "二科", "H1", 1, 1, 1), row], known=KNOWN)
    assert (error.row, error.column) == (3, column)
    assert reason in error.reason


def test_votes_every_bad_row_is_listed_and_nothing_returned():
    rows = [("甲局", "一科", "H1", "x", 0, 0), ("甲局", "二科", "H1", 1, 0, 0), ("甲局", "三科", "H4", 1, 0, "-2")]
    rejected = _rejected(parse_votes, VOTES, rows)
    assert [(e.row, e.column) for e in rejected.errors] == [(2, "D 列（满意）"), (4, "C 列（轮次）"), (4, "F 列（不满意）")]
    assert rejected.rows_read == 3 and rejected.bad_rows == 2


def test_votes_same_section_and_round_twice_names_the_earlier_row():
    rows = [("甲局", "一科", "H1", 10, 0, 0), ("甲局", "一科", "H2", 10, 0, 0), ("甲局", "一科", "上半年", 5, 0, 0)]
    error = _only_error(parse_votes, VOTES, rows)
    assert error.row == 4
    # 上半年 is H1: the same round as row 2
    assert error.reason == "甲局 一科 H1 轮次的票数与第 2 行重复"


def test_votes_header_only_is_no_votes():
    frame = parse_votes(_csv(VOTES, []), "votes.csv")
    assert frame.empty and frame[C.VOTES_S].dtype == "int64"


def test_votes_from_xlsx_and_gbk_csv():
    rows = [("甲局", "一科", "H1", 12, 3, 0), ("乙局", "一科", "H2", 5, 0, 1)]
    sheet = pd.DataFrame(rows, columns=VOTES)
    from_xlsx = parse_votes(xlsx_bytes(sheet), "votes.xlsx", KNOWN)
    from_gbk = parse_votes(_csv(VOTES, rows, encoding="gbk"), "votes.csv", KNOWN)
    for frame in (from_xlsx, from_gbk):
        assert frame[[C.UNIT, C.ROUND, C.VOTES_S, C.VOTES_U]].values.tolist() == [["甲局", C.H1, 12, 0], ["乙局", C.H2, 5, 1]]
        assert frame[C.ROW].tolist() == [2, 3]


# ---- platform --------------------------------------------------------------------------


def test_platform_good_path():
    rows = [
        ("甲局", "一科", "投诉举报", "作风投诉", "3", ""),
        ("甲局", "一科", "统一政务咨询投诉举报平台", "办理评价", "2", "协办"),
        ("甲局", "一科", "投诉举报", "办理评价", "5", "主办"),
        ("甲局", "二科", "网络监督", "有效投诉", "", ""),
        ("甲局", "二科", "网络监督", "有效投诉", "2.5", ""),
    ]
    frame = parse_platform(_csv(PLATFORM, rows), "platform.csv", KNOWN)
    assert frame.columns.tolist() == [C.UNIT, C.SECTION, C.PLATFORM, C.ITEM, C.DEDUCTION, C.ROLE, C.ROW]
    assert frame[C.PLATFORM].tolist() == [C.HOTLINE, C.HOTLINE, C.HOTLINE, C.SUPERVISION_NET, C.SUPERVISION_NET]
    assert frame[C.ITEM].tolist() == [C.CONDUCT, C.HANDLING, C.HANDLING, C.COMPLAINT, C.COMPLAINT]
    assert frame[C.ROLE].tolist() == [C.LEAD, C.CO, C.LEAD, C.LEAD, C.LEAD]
    # an empty 扣分 on a valid complaint is the setting's one point
    assert frame[C.DEDUCTION].tolist() == [3.0, 2.0, 5.0, 1.0, 2.5]
    assert frame[C.DEDUCTION].dtype == "float64"
    assert frame[C.ROW].tolist() == [2, 3, 4, 5, 6]


def test_platform_without_deduction_and_role_columns():
    header = ["unit", "section", "platform", "item"]
    frame = parse_platform(_csv(header, [("甲局", "一科", "网络监督", "有效投诉")]), "platform.csv")
    assert frame[[C.DEDUCTION, C.ROLE]].values.tolist() == [[1.0, C.LEAD]]


def test_platform_complaint_default_follows_the_settings():
    rows = [("甲局", "一科", "网络监督", "有效投诉", "", "")]
    frame = parse_platform(_csv(PLATFORM, rows), "p.csv", settings=RuleSettings(network_supervision_per_complaint=0.5))
    assert frame[C.DEDUCTION].tolist() == [0.5]


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (("投诉举报", "作风投诉", "2", ""), "E 列（扣分）", "作风投诉扣分 2 超出范围：应在 3 到 5 之间"),
        (("投诉举报", "作风投诉", "5.5", ""), "E 列（扣分）", "作风投诉扣分 5.5 超出范围"),
        (("投诉举报", "作风投诉", "", ""), "E 列（扣分）", "作风投诉的扣分为空"),
        (("投诉举报", "办理评价", "0.5", ""), "E 列（扣分）", "办理评价扣分 0.5 超出范围：应在 1 到 5 之间"),
        (("投诉举报", "办理评价", "6", "协办"), "E 列（扣分）", "办理评价扣分 6 超出范围"),
        (("投诉举报", "办理评价", "", ""), "E 列（扣分）", "办理评价的扣分为空"),
        (("投诉举报", "办理评价", "abc", ""), "E 列（扣分）", "扣分“abc”不是数字"),
        (("网络监督", "有效投诉", "0", ""), "E 列（扣分）", "有效投诉扣分 0 超出范围：应大于 0 且不超过 5"),
        (("网络监督", "有效投诉", "-1", ""), "E 列（扣分）", "有效投诉扣分 -1 超出范围"),
        (("网络监督", "有效投诉", "6", ""), "E 列（扣分）", "有效投诉扣分 6 超出范围"),
        (("网络监督", "作风投诉", "3", ""), "D 列（项目）", "项目“作风投诉”不属于网络监督平台：应为 有效投诉"),
        (("投诉举报", "有效投诉", "1", ""), "D 列（项目）", "不属于投诉举报平台：应为 作风投诉、办理评价"),
        (("投诉举报", "作风投诉", "3", "协办"), "F 列（承办）", "协办只适用于办理评价"),
        (("网络监督", "有效投诉", "", "协办"), "F 列（承办）", "协办只适用于办理评价"),
        (("投诉举报", "办理评价", "2", "代办"), "F 列（承办）", "承办“代办”无效：应为 主办 或 协办"),
        (("微信", "有效投诉", "1", ""), "C 列（平台）", "平台“微信”无效：应为 投诉举报 或 网络监督"),
        (("投诉举报", "", "1", ""), "D 列（项目）", "项目为空"),
    ],
)
def test_platform_bad_cell(row, column, reason):
    rows = [("甲局", "一科", "投诉举报", "作风投诉", "4", ""), ("甲局", "一科", *row)]
    error = _only_error(parse_platform, PLATFORM, rows, known=KNOWN)
    assert (error.row, error.column) == (3, column)
    assert reason in error.reason


# ---- supervisor ------------------------------------------------------------------------


def test_supervisor_good_path_keeps_the_tier_rule():
    rows = [("甲局", "一科", "4.5"), ("甲局", "二科", "3.9"), ("甲局", "三科", "2"), ("乙局", "一科", "5")]
    frame = parse_supervisor(_csv(SUPERVISOR, rows), "supervisor.csv", KNOWN)
    assert frame.columns.tolist() == [C.UNIT, C.SECTION, C.SCORE, C.ROW]
    assert frame[C.SCORE].tolist() == [4.5, 3.9, 2.0, 5.0]
    assert frame[C.SCORE].dtype == "float64"
    assert frame[C.ROW].tolist() == [2, 3, 4, 5]


@pytest.mark.parametrize(
    ("score", "reason"),
    [
        ("5.5", "分值 5.5 超出范围：应在 0 到 5 之间"),
        ("-1", "分值 -1 超出范围"),
        ("3.25", "分值 3.25 只能保留一位小数"),
        ("优秀", "分值“优秀”不是数字"),
        ("", "分值为空"),
    ],
)
def test_supervisor_bad_score(score, reason):
    error = _only_error(parse_supervisor, SUPERVISOR, [("乙局", "一科", "4"), ("甲局", "一科", score)], known=KNOWN)
    assert (error.row, error.column) == (3, "C 列（分值）")
    assert reason in error.reason


def test_supervisor_one_row_per_section():
    rows = [("甲局", "一科", "4"), ("甲局", "二科", "3"), ("甲局", "一科", "4")]
    error = _only_error(parse_supervisor, SUPERVISOR, rows)
    assert error.row == 4 and "甲局 一科 的分值与第 2 行重复" in error.reason


def test_supervisor_unknown_section():
    error = _only_error(parse_supervisor, SUPERVISOR, [("甲局", "四科", "4")], known=KNOWN)
    assert (error.row, error.column) == (2, "")
    assert error.reason == "单位名称/科室 甲局/四科 不在参评科室名单中"


def test_supervisor_breaking_the_tiers_is_refused_with_each_problem():
    # n = 3: exactly one section per tier; three 优秀 is two too many and leaves two tiers empty.
    rows = [("甲局", "一科", "4"), ("甲局", "二科", "4.5"), ("甲局", "三科", "5"), ("乙局", "一科", "3")]
    rejected = _rejected(parse_supervisor, SUPERVISOR, rows)
    scores = pd.DataFrame({C.UNIT: ["甲局"] * 3, C.SCORE: [4, 4.5, 5]})
    expected = [p.message for p in tier_problems(scores, PINGYANG_2021)]
    assert len(expected) == 3
    assert [(e.row, e.column) for e in rejected.errors] == [(0, "")] * 3
    assert sorted(e.reason for e in rejected.errors) == sorted(expected)
    assert any(e.reason == "甲局：优秀档有 3 个科室，应为 1 个，多了 2 个" for e in rejected.errors)


def test_supervisor_tiers_count_only_participating_sections():
    # Two sections both 优秀 break the rule (at most one per tier) ...
    rows = [("甲局", "一科", "4.5"), ("甲局", "二科", "4.2")]
    with pytest.raises(ImportRejected):
        parse_supervisor(_csv(SUPERVISOR, rows), "s.csv")
    # ... unless one of them is exempt: it is returned, but not counted.
    frame = parse_supervisor(_csv(SUPERVISOR, rows), "s.csv", exempt={("甲局", "二科")})
    assert frame[C.SECTION].tolist() == ["一科", "二科"]


# ---- inspection ------------------------------------------------------------------------


def test_inspection_good_path():
    rows = [
        ("甲局", "一科", "县级查实", "是", "", "", ""),
        ("甲局", "一科", "市级查实", "否", "", "", "2021-05-01"),
        ("甲局", "二科", "投诉查实", "", "", "", ""),
        ("甲局", "二科", "立案查处", "否", "副职", "是", "2021-03-15"),
        ("乙局", "一科", "立案查处", "", "集体", "否", "2020/12/1"),
    ]
    frame = parse_inspection(_csv(INSPECTION, rows), "inspection.csv", KNOWN)
    assert frame.columns.tolist() == [C.UNIT, C.SECTION, C.KIND, C.SERIOUS, C.PERSON, C.CURRENT_YEAR, C.DATE,
                                      C.DEDUCTION, C.REASON, C.MISSING, C.ROW]
    assert frame[C.KIND].tolist() == [C.COUNTY, C.CITY_LEVEL, C.VERIFIED_COMPLAINT, C.CASE, C.CASE]
    assert frame[C.SERIOUS].tolist() == [True, False, False, False, False]
    assert frame[C.PERSON].tolist() == [None, None, None, C.DEPUTY, C.COLLECTIVE]
    assert frame[C.CURRENT_YEAR].tolist() == [False, False, False, True, False]
    assert frame[C.DATE].dtype == "datetime64[ns]"
    assert pd.isna(frame[C.DATE].iloc[0])
    assert frame[C.DATE].iloc[1:].tolist() == [
        pd.Timestamp("2021-05-01"), pd.NaT, pd.Timestamp("2021-03-15"), pd.Timestamp("2020-12-01")
    ]
    assert frame[C.SERIOUS].dtype == bool and frame[C.CURRENT_YEAR].dtype == bool


@pytest.mark.parametrize("text", ["2021-03-15", "2021-03-15 00:00:00", "2021/3/15", "2021-3-15", "2021年3月15日"])
def test_inspection_date_forms(text):
    frame = parse_inspection(_csv(INSPECTION, [("甲局", "一科", "立案查处", "", "其他工作人员", "是", text)]), "i.csv")
    assert frame[C.DATE].tolist() == [pd.Timestamp("2021-03-15")]
    assert frame[C.PERSON].tolist() == [C.STAFF]


def test_inspection_case_outside_the_window_is_not_an_error():
    frame = parse_inspection(_csv(INSPECTION, [("甲局", "一科", "立案查处", "", "主要负责人", "是", "2015-01-01")]), "i.csv")
    assert frame[C.DATE].tolist() == [pd.Timestamp("2015-01-01")]


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (("立案查处", "是", "副职", "是", "2021-03-15"), "D 列（严重）", "情节严重只适用于查实问题"),
        (("立案查处", "", "", "是", "2021-03-15"), "E 列（人员）", "人员为空"),
        (("立案查处", "", "局长", "是", "2021-03-15"), "E 列（人员）", "人员“局长”无效：应为 主要负责人、副职、其他工作人员 或 集体"),
        (("立案查处", "", "副职", "", "2021-03-15"), "F 列（本年度）", "立案查处须填写本年度"),
        (("立案查处", "", "副职", "也许", "2021-03-15"), "F 列（本年度）", "本年度“也许”无效：应为 是 或 否"),
        (("立案查处", "", "副职", "是", ""), "G 列（日期）", "立案查处须填写立案日期"),
        (("立案查处", "", "副职", "是", "2021-02-30"), "G 列（日期）", "日期“2021-02-30”无效"),
        (("立案查处", "", "副职", "是", "15/03/2021"), "G 列（日期）", "日期“15/03/2021”无效"),
        (("县级查实", "", "副职", "", ""), "E 列（人员）", "人员只适用于立案查处，县级查实应留空"),
        (("投诉查实", "", "", "否", ""), "F 列（本年度）", "本年度只适用于立案查处，投诉查实应留空"),
        (("市级查实", "严重", "", "", ""), "D 列（严重）", "严重“严重”无效：应为 是 或 否"),
        (("市级查实", "", "", "", "昨天"), "G 列（日期）", "日期“昨天”无效"),
        (("约谈", "", "", "", ""), "C 列（类型）", "类型“约谈”无效：应为 县级查实、市级查实、投诉查实、立案查处、应报未报 或 影响评议工作"),
    ],
)
def test_inspection_bad_cell(row, column, reason):
    rows = [("甲局", "一科", "县级查实", "", "", "", ""), ("甲局", "一科", *row)]
    error = _only_error(parse_inspection, INSPECTION, rows, known=KNOWN)
    assert (error.row, error.column) == (3, column)
    assert reason in error.reason


def test_inspection_from_xlsx_with_real_dates():
    sheet = pd.DataFrame(
        [("甲局", "一科", "立案查处", "否", "副职", "是", dt.datetime(2021, 3, 15)),
         ("甲局", "一科", "县级查实", "是", None, None, None)],
        columns=INSPECTION,
    )
    frame = parse_inspection(xlsx_bytes(sheet), "inspection.xlsx", KNOWN)
    assert frame[C.KIND].tolist() == [C.CASE, C.COUNTY]
    assert frame[C.DATE].iloc[0] == pd.Timestamp("2021-03-15")
    assert frame[C.SERIOUS].tolist() == [False, True]
    assert frame[C.ROW].tolist() == [2, 3]


# ---- bonus -----------------------------------------------------------------------------


def test_bonus_good_path():
    rows = [
        ("甲局", "一科", "表彰", "国家级", "抗疫 先进集体", "2021-06-01"),
        ("甲局", "一科", "表彰", "省部级", "抗疫先进集体", "2021/5/1"),
        ("乙局", "一科", "宣传", "中央", "经验做法", "2021-07-01 00:00:00"),
        ("乙局", "一科", "宣传", "市级", "经验做法", "2010-07-01"),  # outside the window: scoring's business
    ]
    frame = parse_bonus(_csv(BONUS, rows), "bonus.csv", KNOWN)
    assert frame.columns.tolist() == [C.UNIT, C.SECTION, C.KIND, C.LEVEL, C.MATTER, C.DATE, C.ROW]
    assert frame[C.KIND].tolist() == [C.COMMENDATION, C.COMMENDATION, C.PUBLICITY, C.PUBLICITY]
    assert frame[C.LEVEL].tolist() == [C.NATIONAL, C.PROVINCIAL, C.CENTRAL, C.CITY]
    # the matter is folded, so the same deed written twice is recognised as one
    assert frame[C.MATTER].tolist() == ["抗疫先进集体", "抗疫先进集体", "经验做法", "经验做法"]
    assert frame[C.DATE].tolist() == [pd.Timestamp(d) for d in ("2021-06-01", "2021-05-01", "2021-07-01", "2010-07-01")]


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (("表彰", "中央", "某事", "2021-06-01"), "D 列（级别）", "表彰级别“中央”无效：应为 国家级、省部级 或 市厅级"),
        (("宣传", "国家级", "某事", "2021-06-01"), "D 列（级别）", "宣传级别“国家级”无效：应为 中央、省级 或 市级"),
        (("宣传", "", "某事", "2021-06-01"), "D 列（级别）", "宣传级别为空"),
        (("表彰", "国家级", "  ", "2021-06-01"), "E 列（事项）", "事项为空"),
        (("表彰", "国家级", "奖" * 301, "2021-06-01"), "E 列（事项）", "事项过长：301 个字，最多 300 个字"),
        (("表彰", "国家级", "某事", ""), "F 列（日期）", "日期为空"),
        (("表彰", "国家级", "某事", "2021-13-01"), "F 列（日期）", "日期“2021-13-01”无效"),
        (("奖金", "国家级", "某事", "2021-06-01"), "C 列（类型）", "类型“奖金”无效：应为 表彰 或 宣传"),
    ],
)
def test_bonus_bad_cell(row, column, reason):
    rows = [("甲局", "一科", "表彰", "市厅级", "另一事", "2021-01-01"), ("甲局", "一科", *row)]
    error = _only_error(parse_bonus, BONUS, rows, known=KNOWN)
    assert (error.row, error.column) == (3, column)
    assert reason in error.reason


# ---- shared behaviour ------------------------------------------------------------------

GOOD_ROWS = {
    parse_votes: (VOTES, ("H1", 1, 0, 0)),
    parse_platform: (PLATFORM, ("投诉举报", "作风投诉", 3, "")),
    parse_supervisor: (SUPERVISOR, ("4",)),
    parse_inspection: (INSPECTION, ("县级查实", "", "", "", "")),
    parse_bonus: (BONUS, ("表彰", "国家级", "某事", "2021-06-01")),
}


@pytest.mark.parametrize("parse", list(GOOD_ROWS), ids=lambda f: f.__name__)
def test_every_reader_refuses_sections_not_on_the_list(parse):
    header, rest = GOOD_ROWS[parse]
    rows = [("甲局", "一科", *rest), ("乙局", "二科", *rest)]
    error = _only_error(parse, header, rows, known=KNOWN)
    assert (error.row, error.column, error.reason) == (3, "", "单位名称/科室 乙局/二科 不在参评科室名单中")
    # Without a list, any section is taken.
    assert len(parse(_csv(header, rows), "in.csv")) == 2


@pytest.mark.parametrize("parse", list(GOOD_ROWS), ids=lambda f: f.__name__)
def test_every_reader_names_a_missing_header(parse):
    error = _only_error(parse, ["单位名称", "科室"], [("甲局", "一科")])
    assert error.row == 0 and "找不到表头" in error.reason


# ---- read_bundle -----------------------------------------------------------------------

SECTIONS_ROWS = [("甲局", "一科"), ("甲局", "二科"), ("甲局", "三科"), ("乙局", "一科")]
HISTORY_ROWS = [(2019, "甲局", "三科", "满意单位"), (2020, "甲局", "三科", "满意单位"), (2020, "乙局", "一科", "不满意单位")]


def _write(directory: Path, name: str, header: list[str], rows: list[tuple]) -> None:
    if name.endswith(".xlsx"):
        (directory / name).write_bytes(xlsx_bytes(pd.DataFrame(rows, columns=header)))
    else:
        (directory / name).write_bytes(_csv(header, rows))


def _minimal(directory: Path, history: bool = True) -> None:
    _write(directory, "sections.csv", ["单位名称", "科室"], SECTIONS_ROWS)
    _write(directory, "votes.csv", VOTES, [("甲局", "一科", "H1", 30, 0, 0), ("乙局", "一科", "H1", 20, 5, 5)])
    if history:
        _write(directory, "history.csv", ["年度", "单位名称", "科室", "结果"], HISTORY_ROWS)


def test_bundle_full(tmp_path):
    _minimal(tmp_path)
    _write(tmp_path, "platform.csv", PLATFORM, [("甲局", "一科", "投诉举报", "作风投诉", 3, ""),
                                                 ("甲局", "三科", "网络监督", "有效投诉", "", "")])
    # 甲局 三科 is exempt: its 优秀 is neither counted in the tiers nor kept.
    _write(tmp_path, "supervisor.csv", SUPERVISOR, [("甲局", "一科", "4.5"), ("甲局", "二科", "3.5"),
                                                    ("甲局", "三科", "4.8"), ("乙局", "一科", "2")])
    _write(tmp_path, "inspection.csv", INSPECTION, [("乙局", "一科", "立案查处", "", "副职", "是", "2021-03-15")])
    _write(tmp_path, "bonus.csv", BONUS, [("甲局", "二科", "宣传", "省级", "经验", "2021-06-01")])

    inputs, warnings = read_bundle(tmp_path)

    assert inputs.year == 2021  # the year after the latest history row
    assert list(zip(inputs.sections[C.UNIT], inputs.sections[C.SECTION])) == SECTIONS_ROWS
    assert inputs.history[C.RESULT].tolist() == [C.SATISFIED, C.SATISFIED, C.UNSATISFIED]
    assert inputs.history[C.YEAR].tolist() == [2019, 2020, 2020]
    assert len(inputs.votes) == 2
    assert inputs.platform[C.SECTION].tolist() == ["一科"]
    assert inputs.supervisor[C.SECTION].tolist() == ["一科", "二科", "一科"]
    assert inputs.inspection[C.PERSON].tolist() == [C.DEPUTY]
    assert inputs.bonus[C.LEVEL].tolist() == [C.PROVINCIAL]
    assert inputs.decisions is None
    assert warnings == [
        "platform.csv 第 3 行：甲局 三科 免评（连续两年满意单位），其平台办理数据不计",
        "supervisor.csv 第 4 行：甲局 三科 免评（连续两年满意单位），其主管单位评分数据不计",
    ]
    # What the bundle gives is what the engine takes.
    card = score_year(inputs, PINGYANG_2021)
    scored = card.sections.set_index([C.UNIT, C.SECTION])
    assert bool(scored.at[("甲局", "三科"), C.EXEMPT])
    assert scored.at[("乙局", "一科"), C.INSPECTION] == 10.0
    assert scored.at[("甲局", "一科"), C.SUPERVISOR] == 4.5


def test_bundle_with_only_the_required_files(tmp_path):
    _minimal(tmp_path, history=False)
    inputs, warnings = read_bundle(tmp_path, 2021)
    assert inputs.year == 2021 and warnings == []
    assert inputs.history.empty and inputs.history.columns.tolist() == [C.YEAR, C.UNIT, C.SECTION, C.RESULT]
    for kind in ("platform", "supervisor", "inspection", "bonus"):
        frame = getattr(inputs, kind)
        assert frame.empty
        assert frame.columns.tolist() == bundle.FRAME_COLUMNS[kind]
    assert inputs.inspection[C.DATE].dtype == "datetime64[ns]"
    card = score_year(inputs, PINGYANG_2021)
    assert (card.sections[C.SUPERVISOR] == 0).all()


def test_bundle_given_year_wins_over_history(tmp_path):
    _minimal(tmp_path)
    inputs, warnings = read_bundle(tmp_path, year=2020)
    assert inputs.year == 2020
    assert warnings == ["history.csv 中有 2020 年度的结果，不早于评议年度 2020，对本年度评议不起作用"]


def test_bundle_without_year_or_history(tmp_path):
    _minimal(tmp_path, history=False)
    with pytest.raises(DomainError, match="无法确定评议年度：请用 --year 指定，或提供 history.csv"):
        read_bundle(tmp_path)


def test_bundle_from_xlsx_files(tmp_path):
    _write(tmp_path, "sections.xlsx", ["单位名称", "科室"], SECTIONS_ROWS)
    _write(tmp_path, "votes.xlsx", VOTES, [("甲局", "一科", "H1", 30, 0, 0)])
    _write(tmp_path, "bonus.xlsx", BONUS, [("甲局", "一科", "表彰", "国家级", "某事", dt.datetime(2021, 6, 1))])
    inputs, _ = read_bundle(tmp_path, 2021)
    assert inputs.votes[C.VOTES_S].tolist() == [30]
    assert inputs.bonus[C.DATE].tolist() == [pd.Timestamp("2021-06-01")]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["sections.csv", "sections.xlsx", "votes.csv"], "同时有 sections.csv 和 sections.xlsx"),
        (["sections.csv", "votes.csv", "votes.xlsx"], "同时有 votes.csv 和 votes.xlsx"),
        (["sections.csv", "votes.csv", "bonus.csv", "bonus.xlsx"], "同时有 bonus.csv 和 bonus.xlsx"),
        (["votes.csv"], "缺少参评科室名单 sections.xlsx 或 sections.csv"),
        (["sections.csv"], "缺少投票数据 votes.csv"),
    ],
)
def test_bundle_file_set(tmp_path, files, message):
    headers = {"sections": ["单位名称", "科室"], "votes": VOTES, "bonus": BONUS}
    for name in files:
        _write(tmp_path, name, headers[name.split(".")[0]], [])
    with pytest.raises(DomainError, match=message):
        read_bundle(tmp_path, 2021)


def test_bundle_missing_directory(tmp_path):
    with pytest.raises(DomainError, match="找不到评议数据目录"):
        read_bundle(tmp_path / "nowhere", 2021)


def test_bundle_unreadable_file_is_named(tmp_path, monkeypatch):
    _minimal(tmp_path)
    original = Path.read_bytes

    def read_bytes(self):
        if self.name == "votes.csv":
            raise PermissionError(13, "Permission denied")
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(bundle.BundleRejected) as caught:
        read_bundle(tmp_path)
    assert [(f.filename, [str(e) for e in f.errors]) for f in caught.value.files] == [
        ("votes.csv", ["文件：无法读取文件：Permission denied"])
    ]


def _rejected_files(directory: Path, year: int | None = None) -> bundle.BundleRejected:
    with pytest.raises(bundle.BundleRejected) as caught:
        read_bundle(directory, year)
    return caught.value


def _listing(rejected: bundle.BundleRejected) -> dict[str, list[str]]:
    return {f.filename: [str(e) for e in f.errors] for f in rejected.files}


def test_bundle_bad_file_is_rejected_by_name(tmp_path):
    _minimal(tmp_path)
    _write(tmp_path, "inspection.csv", INSPECTION, [("丙局", "一科", "县级查实", "", "", "", "")])
    rejected = _rejected_files(tmp_path)
    assert _listing(rejected) == {"inspection.csv": ["第 2 行：单位名称/科室 丙局/一科 不在参评科室名单中"]}
    assert str(rejected) == f"目录 {tmp_path} 中有 1 个文件有错误（inspection.csv），未评分，未写入任何结果。"
    assert rejected.unchecked == [] and rejected.status == 422


def test_bundle_reports_every_bad_file_at_once(tmp_path):
    """Three different bad files: each is named with every bad row and column, in the
    bundle's file order; the good ones are not mentioned."""
    _minimal(tmp_path)
    _write(tmp_path, "votes.csv", VOTES, [("甲局", "一科", "H1", "x", 0, 0), ("乙局", "一科", "H3", 1, 0, 0)])
    _write(tmp_path, "platform.csv", PLATFORM, [("甲局", "一科", "投诉举报", "作风投诉", 3, "")])  # good
    _write(tmp_path, "inspection.csv", INSPECTION, [("丙局", "一科", "县级查实", "", "", "", "")])
    _write(tmp_path, "bonus.csv", BONUS, [("甲局", "二科", "宣传", "省级", "", "2021-06-01"),
                                           ("甲局", "二科", "表彰", "国家级", "某事", "昨天")])
    rejected = _rejected_files(tmp_path)
    assert _listing(rejected) == {
        "votes.csv": ["第 2 行，D 列（满意）：满意“x”无效：应为非负整数（没有票填 0）",
                      "第 3 行，C 列（轮次）：轮次“H3”无效：应为 H1、H2 或 NET"],
        "inspection.csv": ["第 2 行：单位名称/科室 丙局/一科 不在参评科室名单中"],
        "bonus.csv": ["第 2 行，E 列（事项）：事项为空：同一事项只按最高级别加分一次，须写明事项",
                      "第 3 行，F 列（日期）：日期“昨天”无效：应为 2021-03-15 这样的日期"],
    }
    assert str(rejected) == f"目录 {tmp_path} 中有 3 个文件有错误（votes.csv、inspection.csv、bonus.csv），未评分，未写入任何结果。"
    assert [f.rows_read for f in rejected.files] == [2, 1, 2]


def test_a_bad_section_list_does_not_hide_the_other_files(tmp_path):
    """The other files' own cells are still checked; whether their sections are on the
    list is not (every row would be "not on the list"), and the report says so."""
    _minimal(tmp_path)
    _write(tmp_path, "sections.csv", ["单位名称", "科室"], [*SECTIONS_ROWS, ("乙局", "")])
    _write(tmp_path, "votes.csv", VOTES, [("丙局", "一科", "H1", 1, 0, 0), ("甲局", "一科", "H1", -1, 0, 0)])
    rejected = _rejected_files(tmp_path)
    listing = _listing(rejected)
    assert list(listing) == ["sections.csv", "votes.csv"]
    assert listing["sections.csv"] == ["第 6 行，B 列（科室）：科室名称为空"]
    assert listing["votes.csv"] == ["第 3 行，D 列（满意）：满意“-1”无效：应为非负整数（没有票填 0）"]
    assert rejected.unchecked == ["参评科室名单有错误，其他文件中的单位名称/科室是否在名单中未核对"]


def test_bundle_supervisor_tiers_ignore_exempt_sections(tmp_path):
    _minimal(tmp_path)
    # 甲局 has three sections, one exempt (三科): n = 2, so at most one per tier.
    _write(tmp_path, "supervisor.csv", SUPERVISOR, [("甲局", "一科", "4.5"), ("甲局", "二科", "4.1")])
    assert _listing(_rejected_files(tmp_path)) == {
        "supervisor.csv": ["文件：甲局：优秀档有 2 个科室，应为 0 到 1 个，多了 1 个"]
    }


def test_a_bad_history_skips_the_tiers_it_decides(tmp_path):
    """Without the history the exempt sections are unknown: the supervisor scores'
    tiers are not checked (counting 三科 would refuse a good file), their cells are."""
    _minimal(tmp_path)
    _write(tmp_path, "history.csv", ["年度", "单位名称", "科室", "结果"], [*HISTORY_ROWS, (2020, "甲局", "二科", "优秀")])
    _write(tmp_path, "supervisor.csv", SUPERVISOR, [("甲局", "一科", "4.5"), ("甲局", "二科", "3.5"),
                                                    ("甲局", "三科", "4.8"), ("乙局", "一科", "abc")])
    rejected = _rejected_files(tmp_path, 2021)
    assert _listing(rejected) == {
        "history.csv": ["第 5 行，D 列（结果）：结果“优秀”无效：应为 满意单位、不满意单位 或 最不满意单位"],
        "supervisor.csv": ["第 5 行，C 列（分值）：分值“abc”不是数字"],
    }
    assert rejected.unchecked == [
        "无法确定免评科室（参评科室名单或往年结果有错误，或评议年度未定），主管单位评分的档次分布未核对"
    ]


def test_bundle_warns_about_other_spreadsheets_and_skips_lock_files(tmp_path):
    _minimal(tmp_path)
    _write(tmp_path, "vote.csv", VOTES, [])
    (tmp_path / "~$votes.xlsx").write_bytes(b"lock")
    (tmp_path / "notes.txt").write_text("not data")
    _, warnings = read_bundle(tmp_path)
    assert len(warnings) == 1
    assert warnings[0].startswith("目录中的 vote.csv 不是评议数据文件，已忽略")
