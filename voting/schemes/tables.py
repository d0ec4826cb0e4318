"""A scheme's published tables as one Excel workbook (docs/schemes.md §3), in the
shapes the seed documents print:

- 汇总表 (Enyang's 亮牌情况汇总表): per group, 序号, 被考核单位, 加扣分原因及分值 written
  out from the items, 得分, 排名, under the scheme's title and signature lines;
- 名次表 (Jinjiang's 成绩名次表): 名次, the entity, each module's points, the total,
  then a detail column per indicator (its points, or a measure's figure);
- 加减分明细 (Miyi's 各窗口考核加减分明细表): per entity, its score, then each item
  with the rule's text, the evidence and the points;
- 指标表 (Genhe's 考核任务分解表): the scheme itself, 一级指标, 二级指标, 分值,
  具体考核内容, 责任科室;
- 图表: the period's ranking as a bar chart, and each entity's months when the
  workbook holds several periods.
"""
from __future__ import annotations

import os
from typing import IO

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from scoring.schemes import exact
from scoring.schemes.columns import ENTITY, GROUP, INDICATOR, MODULE, NOTE, ORDER, PERIOD, POINTS, VALUE
from scoring.schemes.engine import FLAGS, RANK, ROUNDED, TIED, VETOED, Result, module_column
from scoring.schemes.output import explanation, period_text, title
from scoring.schemes.scheme import RULE_LABELS, Scheme

_THIN = Side(style="thin", color="000000")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="center")
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
_BOLD = Font(bold=True)


def figure(milli: int) -> float | int:
    """A cell's number: thousandths as the exact decimal (Excel keeps 15 digits)."""
    value = exact.to_decimal(int(milli))
    return int(value) if value == value.to_integral_value() else float(value)


def write_tables(result: Result, period: str, target: str | os.PathLike[str] | IO[bytes],
                 months: Result | None = None) -> None:
    """The period's tables (and, with `months`, each entity's trend) to a path or file."""
    one = result.period(period)
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = title(result, period)
    _summary(workbook.create_sheet("汇总表"), one, period)
    _ranking(workbook.create_sheet("名次表"), one, period)
    _details(workbook.create_sheet("加减分明细"), one, period)
    _indicators(workbook.create_sheet("指标表"), result.scheme)
    _charts(workbook.create_sheet("图表"), one, period, months)
    _save(workbook, target)


def write_indicator_table(scheme: Scheme, target: str | os.PathLike[str] | IO[bytes]) -> None:
    """The scheme's indicator table alone (the 考核任务分解表 offices print), as in the
    period workbook's 指标表."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = f"{scheme.name}考核任务分解表"
    _indicators(workbook.create_sheet("指标表"), scheme)
    _save(workbook, target)


def _save(workbook: Workbook, target: str | os.PathLike[str] | IO[bytes]) -> None:
    """Every sheet printed on A4, as wide as the page, numbered; then written."""
    for sheet in workbook.worksheets:
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.oddFooter.center.text = "第 &P 页，共 &N 页"
    workbook.save(target)


def _heading(sheet: Worksheet, text: str, width: int) -> int:
    sheet.cell(row=1, column=1, value=text).font = Font(bold=True, size=14)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.cell(row=1, column=1).alignment = _CENTRE
    sheet.row_dimensions[1].height = 28
    return 2


def _header(sheet: Worksheet, row: int, names: list[str]) -> None:
    for column, name in enumerate(names, 1):
        cell = sheet.cell(row=row, column=column, value=name)
        cell.font, cell.border, cell.alignment = _BOLD, _BOX, _CENTRE


def _row(sheet: Worksheet, row: int, values: list[object], wrap: tuple[int, ...] = ()) -> None:
    for column, value in enumerate(values, 1):
        cell = sheet.cell(row=row, column=column, value=value)
        cell.border = _BOX
        cell.alignment = _WRAP if column in wrap else _CENTRE


def _rank_text(row: dict) -> str:
    return f"{row[RANK]}（并列）" if row[TIED] else str(row[RANK])


def _ordered(one: Result, group: str) -> list[dict]:
    table = one.table[one.table[GROUP] == group]
    return table.sort_values([RANK, ORDER], kind="stable").to_dict("records")


def _summary(sheet: Worksheet, one: Result, period: str) -> None:
    scheme = one.scheme
    row = _heading(sheet, title(one, period), 5)
    for line in scheme.signatures:
        sheet.cell(row=row, column=1, value=line)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=5)
        row += 1
    row += 1 if scheme.signatures else 0
    _header(sheet, row, ["序号", "被考核单位", "加扣分原因及分值", "得分", "排名"])
    by_entity = dict(tuple(one.items.groupby(ENTITY, sort=False)))
    empty = one.items.iloc[0:0]
    for group in scheme.groups:
        members = _ordered(one, group.id)
        if not members:
            continue
        if len(scheme.groups) > 1:
            row += 1
            sheet.cell(row=row, column=1, value=group.name).font = _BOLD
            sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=5)
        for member in sorted(members, key=lambda m: m[ORDER]):
            row += 1
            words = explanation(by_entity.get(member[ENTITY], empty))
            if member[VETOED]:
                words += "\n一票否决：本期不参加评优。"
            _row(sheet, row, [member[ORDER], member[ENTITY], words, figure(member[ROUNDED]), _rank_text(member)],
                 wrap=(3,))
            sheet.row_dimensions[row].height = max(18, 15 * (words.count("\n") + 1))
    for column, width in zip("ABCDE", (6, 22, 60, 9, 8)):
        sheet.column_dimensions[column].width = width


def _details_of(one: Result) -> list[tuple[str, str]]:
    """The detail columns: every indicator with an item or a figure this period."""
    scheme = one.scheme
    used = set(one.items[INDICATOR]) | set(one.measures[INDICATOR])
    return [(i.id, i.name) for i in scheme.indicators if i.id in used and i.rule.kind not in ("veto", "mark")]


def _ranking(sheet: Worksheet, one: Result, period: str) -> None:
    scheme = one.scheme
    details = _details_of(one)
    flags = {flag.id: flag.name for flag in scheme.flags}
    names = ["名次", "分组", "对象", *(m.name for m in scheme.modules), "总分", *(name for _, name in details),
             "一票否决", "评优"]
    row = _heading(sheet, title(one, period), len(names))
    _header(sheet, row, names)
    points = one.items.groupby([ENTITY, INDICATOR])[POINTS].sum()
    figures = {(e, i): v for e, i, v in zip(one.measures[ENTITY], one.measures[INDICATOR], one.measures[VALUE])
               if pd.notna(v)}
    kinds = {i.id: i.rule.kind for i in scheme.indicators}
    for group in scheme.groups:
        for member in _ordered(one, group.id):
            row += 1
            cells: list[object] = [_rank_text(member), group.name, member[ENTITY]]
            cells += [figure(member[module_column(m.id)]) for m in scheme.modules]
            cells.append(figure(member[ROUNDED]))
            for indicator, _ in details:
                key = (member[ENTITY], indicator)
                if kinds[indicator] == "measure":
                    cells.append(figure(figures[key]) if key in figures else None)
                else:
                    cells.append(figure(points[key]) if key in points.index else None)
            cells.append("√" if member[VETOED] else "")
            cells.append("、".join(flags[f] for f in member[FLAGS]))
            _row(sheet, row, cells)
    sheet.freeze_panes = "D3"
    for column in range(1, len(names) + 1):
        sheet.column_dimensions[get_column_letter(column)].width = 22 if column == 3 else 10


def _details(sheet: Worksheet, one: Result, period: str) -> None:
    scheme = one.scheme
    indicators = {i.id: i for i in scheme.indicators}
    row = _heading(sheet, f"{period_text(period)}各{_kind_word(scheme)}考核加减分明细表", 4)
    by_entity = dict(tuple(one.items.groupby(ENTITY, sort=False)))
    number = 0
    for group in scheme.groups:
        for member in _ordered(one, group.id):
            number += 1
            row += 1
            sheet.cell(row=row, column=1, value=number).font = _BOLD
            sheet.cell(row=row, column=2, value=member[ENTITY]).font = _BOLD
            sheet.cell(row=row, column=3, value=f"{exact.text(member[ROUNDED])} 分").font = _BOLD
            for item in by_entity.get(member[ENTITY], one.items.iloc[0:0]).to_dict("records"):
                row += 1
                indicator = indicators.get(item[INDICATOR])
                rule = (indicator.content or indicator.name) if indicator else _module_name(scheme, item[MODULE])
                _row(sheet, row, ["●", rule, item[NOTE], exact.text(int(item[POINTS]), signed=True)], wrap=(2, 3))
    for column, width in zip("ABCD", (6, 48, 48, 10)):
        sheet.column_dimensions[column].width = width


def _module_name(scheme: Scheme, module_id: object) -> str:
    return next((m.name for m in scheme.modules if m.id == module_id), "总分")


def _kind_word(scheme: Scheme) -> str:
    return "窗口（单位）" if "window" in scheme.kinds else "单位"


def _indicators(sheet: Worksheet, scheme: Scheme) -> None:
    row = _heading(sheet, f"{scheme.name}考核任务分解表", 6)
    _header(sheet, row, ["一级指标", "二级指标", "分值", "具体考核内容", "计分规则", "责任科室"])
    for module in scheme.modules:
        first = row + 1
        for indicator in module.indicators:
            row += 1
            most = exact.text(indicator.max) if indicator.max is not None else ""
            _row(sheet, row, [None, indicator.name, most, indicator.content, RULE_LABELS[indicator.rule.kind],
                              indicator.office], wrap=(4,))
        if row < first:
            continue
        most = f"（{exact.text(module.max)}分）" if module.max is not None else ""
        sheet.cell(row=first, column=1, value=f"{module.name}{most}").alignment = _CENTRE
        if row > first:
            sheet.merge_cells(start_row=first, start_column=1, end_row=row, end_column=1)
    for column, width in zip("ABCDEF", (16, 22, 7, 60, 14, 12)):
        sheet.column_dimensions[column].width = width


def _charts(sheet: Worksheet, one: Result, period: str, months: Result | None) -> None:
    """The ranking of each group (a bar a member, best on top); with `months`, each
    entity's totals over the periods as lines (the first ten of the ranking)."""
    scheme = one.scheme
    row, anchor = 1, 1
    for group in scheme.groups:
        members = _ordered(one, group.id)
        if not members:
            continue
        sheet.cell(row=row, column=1, value=group.name)
        sheet.cell(row=row, column=2, value="得分")
        for offset, member in enumerate(reversed(members), 1):
            sheet.cell(row=row + offset, column=1, value=member[ENTITY])
            sheet.cell(row=row + offset, column=2, value=figure(member[ROUNDED]))
        chart = BarChart()
        chart.type, chart.title, chart.legend = "bar", f"{period_text(period)} {group.name}排名", None
        chart.add_data(Reference(sheet, min_col=2, min_row=row, max_row=row + len(members)), titles_from_data=True)
        chart.set_categories(Reference(sheet, min_col=1, min_row=row + 1, max_row=row + len(members)))
        chart.height, chart.width = max(7.0, 0.5 * len(members) + 2), 16
        sheet.add_chart(chart, f"D{anchor}")
        anchor += int(chart.height * 2) + 2
        row += len(members) + 2
    if months is None or months.table[PERIOD].nunique() < 2:
        return
    labels = sorted(set(months.table[PERIOD]))
    leaders = [m[ENTITY] for group in scheme.groups for m in _ordered(one, group.id)][:10]
    sheet.cell(row=row, column=1, value="期间")
    for column, entity in enumerate(leaders, 2):
        sheet.cell(row=row, column=column, value=entity)
    totals = months.table.set_index([PERIOD, ENTITY])[ROUNDED]
    for offset, label in enumerate(labels, 1):
        sheet.cell(row=row + offset, column=1, value=period_text(label))
        for column, entity in enumerate(leaders, 2):
            if (label, entity) in totals.index:
                sheet.cell(row=row + offset, column=column, value=figure(totals[(label, entity)]))
    chart = LineChart()
    chart.title = "各期得分"
    chart.add_data(Reference(sheet, min_col=2, max_col=1 + len(leaders), min_row=row, max_row=row + len(labels)),
                   titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=row + 1, max_row=row + len(labels)))
    chart.height, chart.width = 9, 18
    sheet.add_chart(chart, f"D{anchor}")

