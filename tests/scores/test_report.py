"""The Excel report of a scored year (voting.scores.report): pure, no app, no database.

The Scorecard here is built by hand (`fake_scorecard`), with the documented columns and
about 30 sections, so that the report can be checked without the engine.
"""
from __future__ import annotations

import io
import math
import random
import re

import openpyxl
import pandas as pd
import pytest
from openpyxl.chart import BarChart

from scoring import columns as C
from scoring.engine import Scorecard, Tie
from scoring.settings import RuleSettings
from voting.scores import report
from voting.scores.report import CHART_DATA_SHEET, CHARTS_SHEET, SHEETS, safe_text, write_report

SETTINGS = RuleSettings(
    shortlist_satisfied=6, shortlist_unsatisfied=6, final_satisfied=3, final_unsatisfied=3,
    final_most_unsatisfied=1, top_bonus_tier=1,
)
EVIL_UNIT = '=HYPERLINK("http://evil.example/x","点我")'
UNITS = ["县财政局", "县公安局", "县教育局", EVIL_UNIT, "县市场监管局", "县自然资源局"]
SECTIONS_PER_UNIT = 5
# The rounding example of docs/rules.md §2.17: in binary floats this sum lies just below 103.845 (round() gives
# 103.84); Excel, and the report, show 103.85.
SPEC_TOTAL = 28.095 + 10 + 29.75 + 15 + 15 + 6
EXEMPT = (0, 1)  # section indexes
PREVIOUS_UNSATISFIED = (2, 3)
SILENT = 9  # no votes in H2: a warning in 备注
HALF_UP = 7  # this section's H1 score is 20.125: 20.13 half up (Python's round gives 20.12)


def fake_scorecard(network_held: bool = True) -> Scorecard:
    rng = random.Random(2021)
    rows = []
    for u, unit in enumerate(UNITS):
        for s in range(SECTIONS_PER_UNIT):
            n = len(rows)
            name = ["办公室", "综合科", "法规科", "#N/A", "-审批科"][s] if u == 3 else f"第{s + 1}科"
            exempt = n in EXEMPT
            h1_votes, h2_votes = rng.randint(5, 80), 0 if n == SILENT else rng.randint(1, 80)
            h1 = 20.125 if n == HALF_UP else round(rng.uniform(17, 25), 3)
            h2 = round(rng.uniform(17, 25), 3)
            parts = (round(rng.uniform(6, 10), 2), round(rng.uniform(2.5, 5), 1), round(rng.uniform(12, 20), 1))
            warnings = ["下半年无人投票，按参与科室平均分计"] if h2_votes == 0 else []
            nan = math.nan
            rows.append({
                C.UNIT: unit, C.SECTION: name, C.EXEMPT: exempt, C.PREVIOUS_UNSATISFIED: n in PREVIOUS_UNSATISFIED,
                C.SERVICE_H1: nan if exempt else h1, C.SERVICE_H2: nan if exempt else h2,
                C.SERVICE: nan if exempt else h1 + h2,
                C.PLATFORM_SCORE: nan if exempt else parts[0], C.SUPERVISOR: nan if exempt else parts[1],
                C.INSPECTION: nan if exempt else parts[2],
                C.DAILY: nan if exempt else h1 + h2 + sum(parts),
                C.WARNINGS: warnings,
                "H1_votes": nan if exempt else h1_votes, "H2_votes": nan if exempt else h2_votes,
            })
    frame = pd.DataFrame(rows)
    frame["H1_votes"] = frame["H1_votes"].astype("Int64")
    frame["H2_votes"] = frame["H2_votes"].astype("Int64")
    scored = ~frame[C.EXEMPT]
    frame[C.DAILY_RANK] = frame[C.DAILY].round(6).rank(method="min", ascending=False).astype("Int64")

    # Shortlist: last year's unsatisfied first, then the highest and lowest daily scores.
    frame[C.SHORTLIST] = None
    frame.loc[frame[C.PREVIOUS_UNSATISFIED], C.SHORTLIST] = C.PREVIOUS_UNSATISFIED
    rest = frame[scored & ~frame[C.PREVIOUS_UNSATISFIED]].sort_values(C.DAILY, ascending=False)
    frame.loc[rest.index[: SETTINGS.shortlist_satisfied], C.SHORTLIST] = C.SATISFIED_CANDIDATE
    frame.loc[rest.index[-SETTINGS.shortlist_unsatisfied:], C.SHORTLIST] = C.UNSATISFIED_CANDIDATE
    candidates = frame[C.SHORTLIST].notna()
    cutoffs = {
        C.SATISFIED_CANDIDATE: frame.loc[frame[C.SHORTLIST] == C.SATISFIED_CANDIDATE, C.DAILY].min(),
        C.UNSATISFIED_CANDIDATE: frame.loc[frame[C.SHORTLIST] == C.UNSATISFIED_CANDIDATE, C.DAILY].max(),
    }

    frame[C.NETWORK] = math.nan
    frame[C.BONUS] = math.nan
    frame[C.TOTAL] = math.nan
    frame["NET_votes"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame[C.PROPOSED] = None
    frame[C.RESULT] = None
    frame[C.TOP_TIER] = False
    frame[C.TWO_YEARS_UNSATISFIED] = False
    frame[C.TOTAL_RANK] = pd.array([pd.NA] * len(frame), dtype="Int64")
    if network_held:
        frame.loc[candidates, "NET_votes"] = 120
        frame.loc[candidates, C.NETWORK] = [round(rng.uniform(6, 15), 2) for _ in range(candidates.sum())]
        frame.loc[candidates, C.BONUS] = [rng.choice([0.0, 0.5, 1.0, 3.0]) for _ in range(candidates.sum())]
        frame.loc[candidates, C.TOTAL] = frame[C.DAILY] + frame[C.NETWORK] + frame[C.BONUS]
        best = frame.loc[candidates, C.TOTAL].idxmax()
        frame.loc[best, C.TOTAL] = SPEC_TOTAL
        frame[C.TOTAL_RANK] = frame[C.TOTAL].round(6).rank(method="min", ascending=False).astype("Int64")
        order = frame[candidates].sort_values(C.TOTAL_RANK).index
        frame.loc[order[:3], C.PROPOSED] = C.SATISFIED
        frame.loc[order[-3:], C.PROPOSED] = C.UNSATISFIED
        frame.loc[order[-1:], C.PROPOSED] = C.MOST_UNSATISFIED
        frame[C.RESULT] = frame[C.PROPOSED]
        frame[C.DECISION] = None
        frame.loc[order[2], [C.RESULT, C.DECISION]] = [None, "评议办由 满意单位 改为 不列入：县委评议领导小组决定"]
        frame.loc[order[0], C.TOP_TIER] = True
        frame.loc[order[-1], C.TWO_YEARS_UNSATISFIED] = bool(frame.loc[order[-1], C.PREVIOUS_UNSATISFIED])

    lines = []
    for record in frame.to_dict("records"):
        if record[C.EXEMPT]:
            continue
        lines += [
            {C.UNIT: record[C.UNIT], C.SECTION: record[C.SECTION], C.COMPONENT: C.SERVICE,
             C.TEXT: "上半年：满意 20，基本满意 5，不满意 1", C.POINTS: record[C.SERVICE_H1], C.ROW: math.nan},
            {C.UNIT: record[C.UNIT], C.SECTION: record[C.SECTION], C.COMPONENT: C.INSPECTION,
             C.TEXT: "县级查实问题 1 个", C.POINTS: -1.0, C.ROW: 12},
        ]
    units = []
    for unit in UNITS:
        mine = frame[frame[C.UNIT] == unit]
        n_s = int((mine[C.RESULT] == C.SATISFIED).sum())
        n_u = int((mine[C.RESULT] == C.UNSATISFIED).sum())
        n_m = int((mine[C.RESULT] == C.MOST_UNSATISFIED).sum())
        units.append({C.UNIT: unit, C.N_SATISFIED: n_s, C.N_UNSATISFIED: n_u, C.N_MOST_UNSATISFIED: n_m,
                      C.EFFECT: 5.0 * n_s - 5.0 * n_u - 10.0 * n_m, C.TOP_TIER: int(mine[C.TOP_TIER].sum())})

    ties = []
    warnings = ["候选名单不足 110 个：参评科室只有 28 个，全部列入"]
    if network_held:
        tied = frame[candidates].sort_values(C.TOTAL_RANK).index[-4:-2]
        ties.append(Tie("final", C.UNSATISFIED, 3, tuple((frame.loc[i, C.UNIT], frame.loc[i, C.SECTION]) for i in tied),
                        "不满意单位第 3 名并列：依次比较各项后仍相同，请评议办确定"))
    else:
        warnings.append("网络评价尚未进行：没有 NET 轮次的票")
    return Scorecard(
        year=2021, settings=SETTINGS, sections=frame, lines=pd.DataFrame(lines), units=pd.DataFrame(units),
        warnings=warnings, ties=ties, round_means={C.H1: 21.4567, C.H2: math.nan}, cutoffs=cutoffs,
        network_held=network_held,
    )


def written(card: Scorecard) -> openpyxl.Workbook:
    buffer = io.BytesIO()
    write_report(card, buffer)
    buffer.seek(0)
    return openpyxl.load_workbook(buffer)


def table(sheet) -> list[dict]:
    """The sheet's header-row table as dicts (until the first empty first-column row)."""
    headers = [c.value for c in sheet[1]]
    rows = []
    for row in sheet.iter_rows(min_row=2, values_only=True):
        if all(v is None for v in row):
            break
        rows.append(dict(zip(headers, row)))
    return rows


def find(rows: list[dict], unit: str, section: str) -> dict:
    (row,) = [r for r in rows if r["单位名称"] == safe_text(unit) and r["科室"] == safe_text(section)]
    return row


@pytest.fixture(scope="module")
def card() -> Scorecard:
    return fake_scorecard()


@pytest.fixture(scope="module")
def book(card) -> openpyxl.Workbook:
    return written(card)


@pytest.fixture(scope="module")
def pending() -> openpyxl.Workbook:
    return written(fake_scorecard(network_held=False))


def test_sheets_in_the_order_of_the_stages(book):
    assert book.sheetnames == [
        "日常评价", "候选名单", "网络评价", "综合评价", "满意单位", "不满意单位", "单位考绩", "得分明细", "提示",
        CHARTS_SHEET, CHART_DATA_SHEET,
    ]
    assert list(SHEETS) == book.sheetnames[:-2]
    assert [ws.sheet_state for ws in book.worksheets] == ["visible"] * 10 + ["hidden"]


HEADERS = {
    "日常评价": ["序号", "单位名称", "科室", "上半年票数", "上半年服务对象", "下半年票数", "下半年服务对象",
             "服务对象评价", "平台办理", "主管单位评价", "监督检查", "日常评价", "日常排名", "备注"],
    "候选名单": ["类别", "单位名称", "科室", "日常评价", "日常排名"],
    "网络评价": ["类别", "单位名称", "科室", "网络评价票数", "网络评价"],
    "综合评价": ["总排名", "单位名称", "科室", "日常评价", "网络评价", "加分项", "总成绩", "拟定结果", "最终结果",
             "评议办决定", "连续两年不满意", "优秀档"],
    "满意单位": ["序号", "单位名称", "科室", "总成绩", "总排名", "优秀档"],
    "不满意单位": ["序号", "单位名称", "科室", "总成绩", "总排名", "结果", "最不满意单位", "连续两年不满意"],
    "单位考绩": ["单位名称", "满意单位数", "不满意单位数", "最不满意单位数", "考绩加减分", "优秀档科室数"],
    "得分明细": ["单位名称", "科室", "项目", "说明", "分值", "来源行"],
    "提示": ["类型", "内容"],
}


@pytest.mark.parametrize("title", SHEETS)
def test_headers_frozen_filtered_and_sized(book, title):
    sheet = book[title]
    headers = HEADERS[title]
    assert [c.value for c in sheet[1]][: len(headers)] == headers
    assert all(sheet.cell(row=1, column=j + 1).font.b for j in range(len(headers)))
    assert sheet.freeze_panes == ("D2" if title == "日常评价" else "A2")
    assert sheet.auto_filter.ref == f"A1:{chr(64 + len(headers))}{1 + len(table(sheet))}"
    assert all(sheet.column_dimensions[chr(65 + j)].width >= 6 for j in range(len(headers)))
    assert sheet.print_title_rows == "$1:$1"


@pytest.mark.parametrize("title", SHEETS)
def test_every_sheet_prints_on_a4_one_page_wide(book, title):
    sheet = book[title]
    setup = sheet.page_setup
    assert int(setup.paperSize) == 9  # A4
    # Upright when the table prints upright at 90 % or more, across the page otherwise.
    upright = report.printable_pixels("portrait") / report.table_pixels(sheet)
    assert setup.orientation == ("portrait" if upright >= 0.9 else "landscape")
    if title in ("日常评价", "候选名单", "综合评价"):  # 14, 5 + a side block, 12 columns
        assert setup.orientation == "landscape"
    if title in ("满意单位", "单位考绩", "提示"):
        assert setup.orientation == "portrait"
    assert (int(setup.fitToWidth), int(setup.fitToHeight)) == (1, 0)  # one page wide, as long as it takes
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == "$1:$1"  # the header row on every page
    assert sheet.oddFooter.center.text == "第 &P 页，共 &N 页"
    assert sheet.oddHeader.center.text == "2021年度千人评议 &A"
    # Fit to the width, an 11-point font prints at 9 points at the least.
    assert report.print_scale(sheet) * report.FONT_POINTS >= 9
    # Every cell of the table has its borders, the empty ones too.
    last = 1 + len(table(sheet))
    for row in sheet.iter_rows(min_row=1, max_row=last, max_col=len(HEADERS[title])):
        for cell in row:
            sides = (cell.border.left, cell.border.right, cell.border.top, cell.border.bottom)
            assert all(side.style == "thin" for side in sides), (title, cell.coordinate)
    # Nothing beside or below the table but its notes: no chart to shrink the page.
    assert sheet._charts == []


def test_long_names_wrap_in_a_capped_column(book):
    sheet = book["日常评价"]
    assert sheet.column_dimensions["C"].width <= 30  # 科室
    assert all(c.alignment.wrap_text for c in sheet["C"][1:] if c.value)
    assert sheet["A1"].alignment.wrap_text and sheet.row_dimensions[1].height == 30  # headers on two lines
    # Scores keep to one line, in a column as wide as the number.
    assert not sheet["L2"].alignment.wrap_text and sheet.column_dimensions["L"].width < 10


def test_the_charts_have_a_sheet_of_their_own_a_page_each(book):
    sheet = book[CHARTS_SHEET]
    assert sheet.page_setup.orientation == "portrait" and int(sheet.page_setup.paperSize) == 9  # A4
    assert int(sheet.page_setup.fitToWidth) == 1 and sheet.oddFooter.center.text == "第 &P 页，共 &N 页"
    starts = [chart.anchor._from.row for chart in sheet._charts]  # 0-based
    assert len(starts) == 3 and starts[0] == 0 and starts == sorted(starts)
    # A manual page break just above the second and the third chart.
    assert [b.id for b in sheet.row_breaks.brk] == starts[1:]
    assert sheet.print_area.startswith(f"'{CHARTS_SHEET}'!$A$1:$")
    last_row = int(re.search(r"(\d+)$", sheet.print_area).group(1))
    assert last_row > starts[-1]


def test_daily_sheet_lists_every_section_with_rounded_scores(book, card):
    rows = table(book["日常评价"])
    assert len(rows) == len(card.sections) == 30
    assert [r["序号"] for r in rows] == list(range(1, 31))
    half_up = rows[HALF_UP]
    assert half_up["上半年服务对象"] == 20.13
    assert book["日常评价"].cell(row=2 + HALF_UP, column=5).number_format == "0.00"
    record = card.sections.iloc[HALF_UP]
    assert half_up["日常评价"] == float(report.display(record[C.DAILY], 2))
    assert half_up["上半年票数"] == record["H1_votes"]
    assert isinstance(half_up["日常排名"], int)
    supervisor = book["日常评价"].cell(row=2 + HALF_UP, column=10)
    assert supervisor.number_format == "0.0" and supervisor.value == record[C.SUPERVISOR]
    assert rows[SILENT]["下半年票数"] == 0 and rows[SILENT]["备注"] == "下半年无人投票，按参与科室平均分计"
    assert all(r["备注"] is None for n, r in enumerate(rows) if n not in (SILENT, *EXEMPT))


def test_exempt_sections_show_mianping_and_no_scores(book):
    rows = table(book["日常评价"])
    for n in EXEMPT:
        row = rows[n]
        assert row["备注"] == "免评"
        assert row["单位名称"] and row["科室"]
        scores = [h for h in HEADERS["日常评价"] if h not in ("序号", "单位名称", "科室", "备注")]
        assert all(row[h] is None for h in scores)


def test_total_is_shown_as_excel_shows_it(book, card):
    assert round(SPEC_TOTAL, 2) == 103.84
    rows = table(book["综合评价"])
    assert rows[0]["总成绩"] == 103.85 and rows[0]["总排名"] == 1
    assert book["综合评价"]["G2"].number_format == "0.00"
    assert table(book["满意单位"])[0]["总成绩"] == 103.85


def test_shortlist_grouped_with_cutoffs(book, card):
    sheet = book["候选名单"]
    rows = table(sheet)
    categories = [r["类别"] for r in rows]
    assert categories == ["满意候选"] * 6 + ["不满意候选"] * 6 + ["上年不满意单位"] * 2
    satisfied = [r["日常排名"] for r in rows if r["类别"] == "满意候选"]
    assert satisfied == sorted(satisfied)
    block = {sheet.cell(row=i, column=7).value: sheet.cell(row=i, column=8).value for i in range(2, 8)}
    assert block["满意候选分数线（最低日常评价）"] == float(report.display(card.cutoffs[C.SATISFIED_CANDIDATE], 2))
    assert block["不满意候选分数线（最高日常评价）"] == float(report.display(card.cutoffs[C.UNSATISFIED_CANDIDATE], 2))
    assert (block["满意候选数"], block["不满意候选数"], block["上年不满意单位数"], block["候选合计"]) == (6, 6, 2, 14)


def test_network_and_final_lists(book, card):
    network = table(book["网络评价"])
    assert len(network) == 14 and all(r["网络评价票数"] == 120 and r["网络评价"] is not None for r in network)
    assert book["网络评价"].cell(row=17, column=1).value is None  # no "not held" note

    total = table(book["综合评价"])
    assert [r["总排名"] for r in total] == sorted(r["总排名"] for r in total)
    assert [r["拟定结果"] for r in total[:3]] == ["满意单位"] * 3
    assert [r["最终结果"] for r in total[:3]] == ["满意单位", "满意单位", None]
    assert total[2]["评议办决定"] == "评议办由 满意单位 改为 不列入：县委评议领导小组决定"
    assert all(r["评议办决定"] is None for r in total[3:])
    assert [r["最终结果"] for r in total[-3:]] == ["不满意单位", "不满意单位", "最不满意单位"]
    assert total[0]["优秀档"] == "是" and total[1]["优秀档"] is None

    satisfied = table(book["满意单位"])
    assert [r["序号"] for r in satisfied] == [1, 2]  # the third was taken off by the office
    unsatisfied = table(book["不满意单位"])
    assert [r["结果"] for r in unsatisfied] == ["不满意单位", "不满意单位", "最不满意单位"]
    assert [r["最不满意单位"] for r in unsatisfied] == [None, None, "是"]

    units = {r["单位名称"]: r for r in table(book["单位考绩"])}
    expected = card.units.set_index(C.UNIT)
    for unit in UNITS:
        row = units[safe_text(unit)]
        assert row["考绩加减分"] == expected.loc[unit, C.EFFECT]
        assert row["满意单位数"] == expected.loc[unit, C.N_SATISFIED]
    assert book["单位考绩"]["E2"].number_format == "+0.00;-0.00;0.00"


def test_final_tie_rows_are_highlighted_and_listed(book, card):
    (tie,) = card.ties
    sheet = book["综合评价"]
    for row in range(2, sheet.max_row + 1):
        key = (sheet.cell(row=row, column=2).value, sheet.cell(row=row, column=3).value)
        tied = key in {(safe_text(u), safe_text(s)) for u, s in tie.sections}
        assert (sheet.cell(row=row, column=1).fill.fgColor.rgb == "00FFF2CC") == tied
    notes = table(book["提示"])
    assert {"类型": "提示", "内容": card.warnings[0]} in notes
    assert {"类型": "并列待定", "内容": tie.message} in notes
    assert any(r["类型"] == "说明" and "21.46" in r["内容"] and "30 票" in r["内容"] for r in notes)
    assert not any("下半年" in r["内容"] for r in notes if r["类型"] == "说明")  # NaN mean left out


def test_explanation_lines(book, card):
    rows = table(book["得分明细"])
    assert len(rows) == len(card.lines)
    assert {r["项目"] for r in rows} == {"服务对象评价", "监督检查"}
    inspection = [r for r in rows if r["项目"] == "监督检查"]
    assert all(r["分值"] == -1 and r["来源行"] == 12 for r in inspection)
    assert all(r["来源行"] is None for r in rows if r["项目"] == "服务对象评价")


def references(chart) -> list[str]:
    return [series.val.numRef.f for series in chart.series]


def cells(book, reference: str) -> list:
    sheet, cells_ = reference.split("!")
    found = book[sheet.strip("'")][cells_.replace("$", "")]
    if not isinstance(found, tuple):
        return [found.value]
    return [c.value for row in found for c in row]


def title_text(chart) -> str:
    return "".join(run.t for p in chart.title.tx.rich.p for run in (p.r or []))


def test_daily_distribution_chart_marks_both_cutoffs(book, card):
    chart, _, _ = book[CHARTS_SHEET]._charts
    assert isinstance(chart, BarChart) and chart.type == "col" and chart.grouping == "stacked"
    assert [s.tx.strRef.f for s in chart.series] == [f"'{CHART_DATA_SHEET}'!{c}1" for c in "BCD"]
    refs = references(chart)
    bins = len(cells(book, refs[0]))
    assert refs == [f"'{CHART_DATA_SHEET}'!${c}$2:${c}${1 + bins}" for c in "BCD"]
    low, middle, high = (cells(book, ref) for ref in refs)
    daily = card.sections[C.DAILY].dropna()
    assert sum(low) + sum(middle) + sum(high) == len(daily) == 28
    cut_high, cut_low = card.cutoffs[C.SATISFIED_CANDIDATE], card.cutoffs[C.UNSATISFIED_CANDIDATE]
    assert sum(high) == (daily >= cut_high).sum() and sum(low) == (daily <= cut_low).sum()
    # Categories are the 1-point bins, from the lowest shown score's floor upwards.
    labels = cells(book, chart.series[0].cat.strRef.f)
    first = math.floor(float(report.display(daily.min(), 2)))
    assert labels == [f"{b}~{b + 1}" for b in range(first, first + bins)]
    title = title_text(chart)
    assert report.display_text(cut_high) in title and report.display_text(cut_low) in title
    colours = [s.graphicalProperties.solidFill.srgbClr for s in chart.series]
    assert colours == ["C0504D", "A6A6A6", "4F9A44"]  # below, between, above the cut-offs


def test_charts_of_the_candidates_components_and_ranking(book, card):
    _, components, ranking = book[CHARTS_SHEET]._charts
    for chart in (components, ranking):
        assert isinstance(chart, BarChart) and chart.type == "bar" and chart.grouping == "stacked"
        assert chart.x_axis.scaling.orientation == "maxMin"
        assert chart.series[0].cat.strRef.f == f"'{CHART_DATA_SHEET}'!$F$2:$F$15"
    names = cells(book, components.series[0].cat.strRef.f)
    by_rank = card.sections.dropna(subset=[C.TOTAL]).sort_values(C.TOTAL_RANK, kind="stable")
    assert names == [safe_text(f"{u} {s}") for u, s in zip(by_rank[C.UNIT], by_rank[C.SECTION])]
    total = table(book["综合评价"])
    assert [cells(book, s.tx.strRef.f)[0] for s in components.series] == [
        "服务对象", "平台办理", "主管单位", "监督检查", "网络评价", "加分项"]
    assert references(components) == [f"'{CHART_DATA_SHEET}'!${c}$2:${c}$15" for c in "GHIJKL"]
    first = [cells(book, ref)[0] for ref in references(components)]
    top = card.sections.sort_values(C.TOTAL_RANK).iloc[0]
    expected = [top[C.SERVICE], top[C.PLATFORM_SCORE], top[C.SUPERVISOR], top[C.INSPECTION], top[C.NETWORK],
                top[C.BONUS]]
    assert first == [float(report.display(v, 1 if n == 2 else 2)) for n, v in enumerate(expected)]

    assert [cells(book, s.tx.strRef.f)[0] for s in ranking.series] == ["满意单位", "不满意单位", "最不满意单位", "其他"]
    columns = [cells(book, ref) for ref in references(ranking)]
    totals = [next(v for v in row if v is not None) for row in zip(*columns)]
    assert totals == [r["总成绩"] for r in total]
    assert [sum(v is not None for v in col) for col in columns] == [2, 2, 1, 9]  # by final result


def test_formulas_are_neutralised(book):
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                assert not (isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@")))
    rows = table(book["日常评价"])
    evil = [r for r in rows if r["单位名称"] == "'" + EVIL_UNIT]
    assert len(evil) == SECTIONS_PER_UNIT
    assert {r["科室"] for r in evil} >= {"#N/A", "'-审批科"}
    # "#N/A" is text, not Excel's error value.
    sheet = book["日常评价"]
    (na,) = [c for c in sheet["C"] if c.value == "#N/A"]
    assert na.data_type == "s"


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"), ("+86 138", "'+86 138"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"), ("\rx", "'\rx"), ("县财政局", "县财政局"), ("a=b", "a=b"), ("", ""), (None, ""), (12, "12"),
    ],
)
def test_safe_text(value, safe):
    assert safe_text(value) == safe


def test_network_not_held(pending):
    sheet = pending["网络评价"]
    rows = table(sheet)
    assert len(rows) == 14 and all(r["网络评价"] is None and r["网络评价票数"] is None for r in rows)
    assert sheet.cell(row=len(rows) + 3, column=1).value == "网络评价尚未进行"
    total = table(pending["综合评价"])
    assert all(r["总成绩"] is None and r["最终结果"] is None for r in total)
    assert [r["日常评价"] for r in total] == sorted((r["日常评价"] for r in total), reverse=True)  # by daily rank
    for title in ("满意单位", "不满意单位"):
        assert table(pending[title]) == []
        assert pending[title]["A3"].value == "网络评价尚未进行，尚无结果"
    _, components, ranking = pending[CHARTS_SHEET]._charts
    assert "网络评价尚未进行" in title_text(components) and "网络评价尚未进行" in title_text(ranking)
    assert any("网络评价尚未进行" in r["内容"] for r in table(pending["提示"]))


def test_writes_to_a_path(tmp_path, card):
    target = tmp_path / "2021.xlsx"
    write_report(card, target)
    assert openpyxl.load_workbook(target).sheetnames[0] == "日常评价"
    write_report(card, str(tmp_path / "again.xlsx"))
    assert (tmp_path / "again.xlsx").stat().st_size > 0


def test_report_of_a_scored_synthetic_year():
    """The engine's own Scorecard (363 real sections, a synthetic year with its online
    round): every sheet filled, totals as displayed, cut-offs in the chart title."""
    from scoring.engine import score_year
    from scoring.settings import PINGYANG_2021
    from voting.demo.synthetic import pingyang_sections, synthetic_year

    inputs = synthetic_year(pingyang_sections(), 2021, seed=1, network=True, votes=40_000, events=400, ballots=600)
    card = score_year(inputs, PINGYANG_2021)
    book = written(card)
    assert len(table(book["日常评价"])) == len(card.sections) == 363
    total = table(book["综合评价"])
    assert len(total) == len(table(book["候选名单"])) == len(table(book["网络评价"])) == 110
    by_rank = card.sections.dropna(subset=[C.TOTAL_RANK]).sort_values(C.TOTAL_RANK, kind="stable")
    assert [r["总成绩"] for r in total] == [float(report.display(v, 2)) for v in by_rank[C.TOTAL]]
    assert len(table(book["满意单位"])) == 10 and len(table(book["不满意单位"])) == 10
    details = table(book["得分明细"])
    assert len(details) == len(card.lines)
    # Each section's daily score and each candidate's total as the sum they are.
    assert sum(r["项目"] == "日常评价" for r in details) == int((~card.sections[C.EXEMPT].astype(bool)).sum())
    totals = [r for r in details if r["项目"] == "总成绩"]
    assert len(totals) == 110 and all(re.match(r"总成绩：日常评价 [\d.]+ \+ 网络评价 [\d.]+ \+ 加分项 [\d.]+ = [\d.]+ 分$", r["说明"]) for r in totals)
    histogram, *candidates = book[CHARTS_SHEET]._charts
    for code in (C.SATISFIED_CANDIDATE, C.UNSATISFIED_CANDIDATE):
        assert report.display_text(card.cutoffs[code]) in title_text(histogram)
    counts = sum(sum(v for v in cells(book, ref) if v) for ref in references(histogram))
    assert counts == card.sections[C.DAILY].notna().sum()
    assert len(candidates) == 2
    # The county's real names (a section name of 35 characters) still print legibly.
    for title in SHEETS:
        assert report.print_scale(book[title]) * report.FONT_POINTS >= 9, title
    assert book["得分明细"].page_setup.orientation == "landscape"  # its long explanations
