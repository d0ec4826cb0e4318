"""The Excel report of one scored year (docs/rules.md §2, §6.13: what `pingyi bundle score DIR`
writes without `--json`), one sheet per stage of the year:

日常评价 → 候选名单 → 网络评价 → 综合评价 → 满意单位 / 不满意单位 → 单位考绩, then
得分明细 (every line that made a score) and 提示 (warnings and ties to resolve).

Scores are written as numbers, rounded half up in decimal arithmetic as the office
sees them (`scoring.rounding.display`), two decimals, the supervisor score one. Charts
are native Excel charts on a sheet of their own (图表, after the tables, so that a table
printed fit to the page's width is not shrunk by a chart beside it), over a hidden
sheet (图表数据) that holds their data, so that filtering a table never hides a
chart's points.

Every sheet prints on A4 (`_print_setup`): portrait when its table fits the width,
landscape otherwise, fit to one page wide, the header row repeated on every page,
borders on the table's cells, long names and texts wrapped in capped columns so that
the widest table still prints at about 9 pt, and the page number in the footer.

Every text cell goes through `safe_text`: names come from offices' spreadsheets and a
cell such as `=HYPERLINK(...)` must never become a live formula in the review office's
Excel.
"""
from __future__ import annotations

import math
import numbers
import os
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any, SupportsInt, cast

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet

from scoring import columns as C
from scoring import labels
from scoring.engine import Scorecard
from scoring.ranking import ABOVE, BELOW, BETWEEN, cutoff_zone
from scoring.rounding import display, display_text

DAILY_SHEET = "日常评价"
SHORTLIST_SHEET = "候选名单"
NETWORK_SHEET = "网络评价"
TOTAL_SHEET = "综合评价"
SATISFIED_SHEET = "满意单位"
UNSATISFIED_SHEET = "不满意单位"
UNITS_SHEET = "单位考绩"
LINES_SHEET = "得分明细"
NOTES_SHEET = "提示"
SHEETS = (
    DAILY_SHEET, SHORTLIST_SHEET, NETWORK_SHEET, TOTAL_SHEET, SATISFIED_SHEET,
    UNSATISFIED_SHEET, UNITS_SHEET, LINES_SHEET, NOTES_SHEET,
)
CHARTS_SHEET = "图表"  # after the tables: the charts, each starting a printed page
CHART_DATA_SHEET = "图表数据"  # hidden, last: the cells the charts refer to

NETWORK_NOT_HELD = "网络评价尚未进行"
EXEMPT_NOTE = "免评"
YES = "是"
VOTES = C.VOTES_IN  # Scorecard.sections

# OWASP "CSV injection": cells starting with these are read as formulas by Excel,
# LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

SCORE_FORMAT = {2: "0.00", 1: "0.0"}
COUNT_FORMAT = "0"
EFFECT_FORMAT = "+0.00;-0.00;0.00"

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_TIE_FILL = PatternFill("solid", fgColor="FFF2CC")  # rows the review office must resolve
_NOTE_FONT = Font(bold=True, color="C00000")
_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")
_HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)
_ZONE_COLOURS = ("C0504D", "A6A6A6", "4F9A44")  # below / between / above the cut-offs
_COMPONENT_COLOURS = ("4472C4", "ED7D31", "A5A5A5", "FFC000", "5B9BD5", "70AD47")
_RESULT_COLOURS = ("4F9A44", "F4B183", "C00000", "A6A6A6")


def safe_text(value: object) -> str:
    """Text that no spreadsheet will run as a formula (OWASP, "CSV injection").

    A value starting with =, +, -, @, a tab or a carriage return gets a leading single
    quote ('). The quote is part of the stored text, so it shows in the cell
    (`'=HYPERLINK(...)`): that is the price of a neutralised value that survives any
    later CSV or copy-paste round trip. Other text is unchanged; None is "".
    """
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_report(card: Scorecard, target: str | os.PathLike[str] | IO[bytes]) -> None:
    """Write the Excel report of `card` to a path or a binary file object."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = f"{card.year}年度千人评议结果"
    sheets = {title: workbook.create_sheet(title) for title in SHEETS}
    charts = workbook.create_sheet(CHARTS_SHEET)
    chart_data = workbook.create_sheet(CHART_DATA_SHEET)
    chart_data.sheet_state = "hidden"

    sections = _records(card.sections)
    candidates = _candidates(sections)
    by_total = _by_total(candidates)
    cutoffs = _cutoffs(card, sections)
    ties = {stage: {key for tie in card.ties if tie.stage == stage for key in tie.sections}
            for stage in (C.STAGE_SHORTLIST, C.STAGE_FINAL)}

    _daily_sheet(sheets[DAILY_SHEET], sections)
    _shortlist_sheet(sheets[SHORTLIST_SHEET], candidates, cutoffs, ties[C.STAGE_SHORTLIST])
    _network_sheet(sheets[NETWORK_SHEET], candidates, card.network_held)
    _total_sheet(sheets[TOTAL_SHEET], by_total, ties[C.STAGE_FINAL])
    _result_sheets(sheets[SATISFIED_SHEET], sheets[UNSATISFIED_SHEET], by_total, card.network_held)
    _units_sheet(sheets[UNITS_SHEET], _records(card.units))
    _lines_sheet(sheets[LINES_SHEET], _records(card.lines))
    _notes_sheet(sheets[NOTES_SHEET], card)
    _charts(chart_data, charts, sections, by_total, cutoffs, card)

    for title in SHEETS:
        _print_setup(sheets[title], card.year)
    _print_setup(charts, card.year, orientation="portrait", title_row=False)
    workbook.save(target)


# ---- values -------------------------------------------------------------------------

def is_missing(value: object) -> bool:
    """None, NaN, NA or NaT (a scorecard's empty cell); never a text or a list."""
    if value is None:
        return True
    if isinstance(value, (str, list, tuple, dict, set)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _shown(value: Any, decimals: int = 2) -> float | None:
    """The displayed score as a number (103.84499999999999 → 103.85), None if none."""
    if is_missing(value):
        return None
    shown = display(float(value), decimals)
    return None if shown is None else float(shown)


def _count(value: Any) -> int | None:
    return None if is_missing(value) else int(value)


def _code(value: object) -> str | None:
    return None if is_missing(value) or value == "" else str(value)


def _true(value: object) -> bool:
    return not is_missing(value) and bool(value)


def _flag(value: object) -> str:
    return YES if _true(value) else ""


def _shortlist_label(code: object) -> str:
    code = _code(code)
    return labels.label(labels.SHORTLISTS, code) if code else ""


def _result_label(code: object) -> str:
    code = _code(code)
    return labels.label(labels.RESULTS, code) if code else ""


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.reset_index(drop=True).to_dict("records")


def _key(record: Mapping[str, Any]) -> tuple[str, str]:
    return (record[C.UNIT], record[C.SECTION])


def _sorted(records: Iterable[dict], *codes: str) -> list[dict]:
    """Stable sort on ranks (or other numbers), missing ones last."""
    def key(record: dict) -> tuple:
        return tuple((1, 0) if is_missing(record.get(code)) else (0, float(record[code])) for code in codes)
    return sorted(records, key=key)


def _candidates(sections: list[dict]) -> list[dict]:
    """Shortlisted sections grouped by list (SHORTLISTS' order), by daily rank within."""
    order = {code: n for n, code in enumerate(labels.SHORTLISTS)}
    chosen = [r for r in sections if _code(r.get(C.SHORTLIST)) in order]
    chosen = _sorted(chosen, C.DAILY_RANK)
    return sorted(chosen, key=lambda r: order[r[C.SHORTLIST]])


def _by_total(candidates: list[dict]) -> list[dict]:
    """Candidates by total rank; before the online round (no totals) by daily rank."""
    return _sorted(candidates, C.TOTAL_RANK, C.DAILY_RANK)


def _cutoffs(card: Scorecard, sections: list[dict]) -> dict[str, float]:
    """The shortlist's daily-score cut-offs: Scorecard.cutoffs by list code, or (if the
    engine left one out) the lowest satisfied / highest unsatisfied candidate's score."""
    found = {}
    for code, pick in ((C.SATISFIED_CANDIDATE, min), (C.UNSATISFIED_CANDIDATE, max)):
        value = card.cutoffs.get(code)
        if value is None:
            scores = [float(r[C.DAILY]) for r in sections
                      if _code(r.get(C.SHORTLIST)) == code and not is_missing(r.get(C.DAILY))]
            value = pick(scores) if scores else math.nan
        found[code] = float(value)
    return found


def _warnings(value: Any) -> list[str]:
    if is_missing(value):
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(w) for w in value if w]


# ---- tables -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Column:
    header: str
    get: Callable[[dict], object]
    format: str | None = None  # number format; None: text
    # Text that can be long (section names, notes, explanations): the column is at most
    # this wide and its cells wrap, so that the table still prints legibly.
    wrap: int | None = None


def _text_col(header: str, code: str, wrap: int | None = None) -> _Column:
    return _Column(header, lambda r: r.get(code), wrap=wrap)


def _score_col(header: str, code: str, decimals: int = 2) -> _Column:
    return _Column(header, lambda r: _shown(r.get(code), decimals), SCORE_FORMAT[decimals])


def _count_col(header: str, code: str) -> _Column:
    return _Column(header, lambda r: _count(r.get(code)), COUNT_FORMAT)


def _flag_col(header: str, code: str) -> _Column:
    return _Column(header, lambda r: _flag(r.get(code)))


def _number_col(header: str) -> _Column:
    return _Column(header, lambda r: r["_no"], COUNT_FORMAT)


# A county's longest section name (a company with two memorials in brackets) is 35
# characters: it wraps onto two lines instead of widening every page.
_UNIT = _text_col("单位名称", C.UNIT, wrap=26)
_SECTION = _text_col("科室", C.SECTION, wrap=28)
MAX_WIDTH = 60  # any other column


def _put(sheet: Worksheet, row: int, column: int, value: object, number_format: str | None = None) -> Cell | None:
    """One cell: text neutralised and typed as a string, numbers with their format,
    nothing at all for a missing value."""
    if is_missing(value) or value == "":
        return None
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        cell.value = value
        if number_format:
            cell.number_format = number_format
    else:
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", safe_text(value))
        cell.data_type = "s"  # never a formula, never an error code such as #N/A
    return cell


def _width(value: object) -> int:
    if isinstance(value, float):
        value = f"{value:.2f}"
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def _header_width(header: str) -> int:
    """The width a header needs: on two lines (the header row wraps) when it is longer
    than the column's values, so that a narrow number column keeps a narrow width."""
    return min(_width(header), max(4, math.ceil(_width(header) / 2)))


def _header(cell: Cell) -> None:
    cell.font, cell.fill, cell.alignment = _HEADER_FONT, _HEADER_FILL, _HEADER_ALIGNMENT


def _borders(sheet: Worksheet, first_row: int, last_row: int, first_col: int, last_col: int) -> None:
    """Thin borders on every cell of a table, the empty ones too (a printed table's
    grid: Excel prints no gridlines by default)."""
    for row in sheet.iter_rows(min_row=first_row, max_row=last_row, min_col=first_col, max_col=last_col):
        for cell in row:
            cell.border = _BORDER


def _write_table(sheet: Worksheet, columns: list[_Column], records: list[dict], *, freeze: str = "A2",
                 highlight: Collection[tuple[str, str]] = frozenset()) -> int:
    """A header row and one row per record; returns the last row written."""
    widths = [_header_width(col.header) for col in columns]
    for j, col in enumerate(columns):
        _header(_put(sheet, 1, 1 + j, col.header))
    for i, record in enumerate(records, start=2):
        for j, col in enumerate(columns):
            cell = _put(sheet, i, 1 + j, col.get(record), col.format)
            if cell is not None:
                widths[j] = max(widths[j], _width(cell.value))
                if col.wrap:
                    cell.alignment = _WRAP
        if highlight and _key(record) in highlight:
            for j in range(len(columns)):
                sheet.cell(row=i, column=1 + j).fill = _TIE_FILL
    for j, (col, width) in enumerate(zip(columns, widths)):
        letter = get_column_letter(1 + j)
        sheet.column_dimensions[letter].width = min(max(width + 2, 6), col.wrap or MAX_WIDTH)
    if any(_header_width(col.header) < _width(col.header) for col in columns):
        sheet.row_dimensions[1].height = 30  # two lines
    last = 1 + len(records)
    _borders(sheet, 1, last, 1, len(columns))
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last}"
    sheet.freeze_panes = freeze
    return last


def _note(sheet: Worksheet, row: int, text: str) -> None:
    # A note's text is never empty: _put wrote the cell.
    cast(Cell, _put(sheet, row, 1, text)).font = _NOTE_FONT


# ---- printing -----------------------------------------------------------------------

# A4, in inches as Excel keeps margins; 0.5" left and right, room for the header and
# the footer's page number at the top and bottom.
A4_INCHES = (8.27, 11.69)
MARGINS = PageMargins(left=0.5, right=0.5, top=0.75, bottom=0.75, header=0.3, footer=0.3)
FOOTER = "第 &P 页，共 &N 页"
# Excel's column width unit is the width of a digit of the default font (Calibri 11:
# 7 pixels), each column having 5 pixels of padding; 96 pixels an inch.
_DIGIT_PIXELS, _PADDING_PIXELS, _PIXELS_PER_INCH = 7, 5, 96
DEFAULT_COLUMN_WIDTH = 8.43  # a column Excel was never told the width of
FONT_POINTS = 11  # the workbook's default font (Calibri 11)


def printable_pixels(orientation: str) -> float:
    """The width an A4 page leaves between the margins, in screen pixels."""
    paper = A4_INCHES[0] if orientation == "portrait" else A4_INCHES[1]
    return (paper - MARGINS.left - MARGINS.right) * _PIXELS_PER_INCH


def table_pixels(sheet: Worksheet) -> float:
    """The width of the sheet's used columns on screen (what fit-to-width scales)."""
    total = 0.0
    for j in range(1, sheet.max_column + 1):
        width = sheet.column_dimensions[get_column_letter(j)].width or DEFAULT_COLUMN_WIDTH
        total += width * _DIGIT_PIXELS + _PADDING_PIXELS
    return total


def print_scale(sheet: Worksheet) -> float:
    """The scale Excel prints the sheet at, fit to one page wide (1: full size)."""
    return min(1.0, printable_pixels(sheet.page_setup.orientation) / table_pixels(sheet))


PORTRAIT_MIN_SCALE = 0.9  # a table that prints at least this big upright stays upright


def _print_setup(sheet: Worksheet, year: int, *, orientation: str | None = None, title_row: bool = True) -> None:
    """A4, portrait if the table prints upright at (nearly) full size, else landscape;
    one page wide, as many long as it takes, the header row on every page."""
    if title_row:
        sheet.print_title_rows = "1:1"
    if orientation is None:
        upright = printable_pixels("portrait") / table_pixels(sheet) >= PORTRAIT_MIN_SCALE
        orientation = "portrait" if upright else "landscape"
    sheet.page_setup.orientation = orientation
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_margins = MARGINS
    sheet.print_options.horizontalCentered = True
    sheet.oddHeader.center.text = f"{year}年度千人评议 &A"
    sheet.oddFooter.center.text = FOOTER


# ---- sheets -------------------------------------------------------------------------

_DAILY_SCORES = (C.SERVICE_H1, C.SERVICE_H2, C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR,
                 C.INSPECTION, C.DAILY, C.DAILY_RANK, VOTES[C.H1], VOTES[C.H2])


def _daily_sheet(sheet: Worksheet, sections: list[dict]) -> None:
    """Every section of the list; exempt ones (免评) with empty scores."""
    rows = []
    for n, record in enumerate(sections, start=1):
        row = dict(record, _no=n)
        notes = _warnings(record.get(C.WARNINGS))
        if _true(record.get(C.EXEMPT)):
            row.update(dict.fromkeys(_DAILY_SCORES))
            notes = [EXEMPT_NOTE, *notes]
        row["_notes"] = ";".join(notes)
        rows.append(row)
    columns = [
        _number_col("序号"), _UNIT, _SECTION,
        _count_col("上半年票数", VOTES[C.H1]), _score_col("上半年服务对象", C.SERVICE_H1),
        _count_col("下半年票数", VOTES[C.H2]), _score_col("下半年服务对象", C.SERVICE_H2),
        _score_col("服务对象评价", C.SERVICE), _score_col("平台办理", C.PLATFORM_SCORE),
        _score_col("主管单位评价", C.SUPERVISOR, 1), _score_col("监督检查", C.INSPECTION),
        _score_col("日常评价", C.DAILY), _count_col("日常排名", C.DAILY_RANK),
        _Column("备注", lambda r: r["_notes"], wrap=30),
    ]
    # Unit and section stay in view while scrolling right through the components.
    _write_table(sheet, columns, rows, freeze="D2")


def _shortlist_sheet(sheet: Worksheet, candidates: list[dict], cutoffs: dict[str, float],
                     ties: set[tuple[str, str]]) -> None:
    columns = [
        _Column("类别", lambda r: _shortlist_label(r[C.SHORTLIST])), _UNIT, _SECTION,
        _score_col("日常评价", C.DAILY), _count_col("日常排名", C.DAILY_RANK),
    ]
    _write_table(sheet, columns, candidates, highlight=ties)
    # The cut-offs, beside the list (column G).
    counts = {code: sum(1 for r in candidates if r[C.SHORTLIST] == code) for code in labels.SHORTLISTS}
    block = [
        ("满意候选分数线（最低日常评价）", _shown(cutoffs[C.SATISFIED_CANDIDATE]), SCORE_FORMAT[2]),
        ("不满意候选分数线（最高日常评价）", _shown(cutoffs[C.UNSATISFIED_CANDIDATE]), SCORE_FORMAT[2]),
        *((f"{labels.label(labels.SHORTLISTS, code)}数", n, COUNT_FORMAT) for code, n in counts.items()),
        ("候选合计", len(candidates), COUNT_FORMAT),
    ]
    for j, header in enumerate(("分数线与人数", "数值")):
        _header(_put(sheet, 1, 7 + j, header))
    for i, (name, value, number_format) in enumerate(block, start=2):
        _put(sheet, i, 7, name)
        _put(sheet, i, 8, value, number_format)
    _borders(sheet, 1, 1 + len(block), 7, 8)
    sheet.column_dimensions["F"].width = 2  # the gap between the list and the block
    sheet.column_dimensions["G"].width = max(_width(name) for name, _, _ in block) + 2
    sheet.column_dimensions["H"].width = 10


def _network_sheet(sheet: Worksheet, candidates: list[dict], held: bool) -> None:
    columns = [
        _Column("类别", lambda r: _shortlist_label(r[C.SHORTLIST])), _UNIT, _SECTION,
        _count_col("网络评价票数", VOTES[C.NET]),
        _Column("网络评价", (lambda r: _shown(r.get(C.NETWORK))) if held else (lambda r: None), SCORE_FORMAT[2]),
    ]
    last = _write_table(sheet, columns, candidates)
    if not held:
        _note(sheet, last + 2, NETWORK_NOT_HELD)


def _total_sheet(sheet: Worksheet, by_total: list[dict], ties: set[tuple[str, str]]) -> None:
    columns = [
        _count_col("总排名", C.TOTAL_RANK), _UNIT, _SECTION,
        _score_col("日常评价", C.DAILY), _score_col("网络评价", C.NETWORK), _score_col("加分项", C.BONUS),
        _score_col("总成绩", C.TOTAL),
        _Column("拟定结果", lambda r: _result_label(r.get(C.PROPOSED))),
        _Column("最终结果", lambda r: _result_label(r.get(C.RESULT))),
        _text_col("评议办决定", C.DECISION, wrap=30),
        _flag_col("连续两年不满意", C.TWO_YEARS_UNSATISFIED), _flag_col("优秀档", C.TOP_TIER),
    ]
    _write_table(sheet, columns, by_total, highlight=ties)


def _result_sheets(satisfied: Worksheet, unsatisfied: Worksheet, by_total: list[dict], held: bool) -> None:
    """The final lists by RESULT (after the office's decisions), in total-rank order."""
    empty = NETWORK_NOT_HELD + "，尚无结果" if not held else "无"
    chosen = [dict(r, _no=n) for n, r in enumerate(
        (r for r in by_total if _code(r.get(C.RESULT)) == C.SATISFIED), start=1)]
    columns = [_number_col("序号"), _UNIT, _SECTION, _score_col("总成绩", C.TOTAL),
               _count_col("总排名", C.TOTAL_RANK), _flag_col("优秀档", C.TOP_TIER)]
    last = _write_table(satisfied, columns, chosen)
    if not chosen:
        _note(satisfied, last + 2, empty)

    bad = (C.UNSATISFIED, C.MOST_UNSATISFIED)
    chosen = [dict(r, _no=n) for n, r in enumerate(
        (r for r in by_total if _code(r.get(C.RESULT)) in bad), start=1)]
    columns = [
        _number_col("序号"), _UNIT, _SECTION, _score_col("总成绩", C.TOTAL), _count_col("总排名", C.TOTAL_RANK),
        _Column("结果", lambda r: _result_label(r.get(C.RESULT))),
        _Column("最不满意单位", lambda r: YES if r.get(C.RESULT) == C.MOST_UNSATISFIED else ""),
        _flag_col("连续两年不满意", C.TWO_YEARS_UNSATISFIED),
    ]
    last = _write_table(unsatisfied, columns, chosen)
    if not chosen:
        _note(unsatisfied, last + 2, empty)


def _units_sheet(sheet: Worksheet, units: list[dict]) -> None:
    columns = [
        _UNIT, _count_col("满意单位数", C.N_SATISFIED), _count_col("不满意单位数", C.N_UNSATISFIED),
        _count_col("最不满意单位数", C.N_MOST_UNSATISFIED),
        _Column("考绩加减分", lambda r: _shown(r.get(C.EFFECT)), EFFECT_FORMAT),
        _count_col("优秀档科室数", C.TOP_TIER),
    ]
    _write_table(sheet, columns, units)


def _source_row(value: object) -> object:
    if is_missing(value):
        return None
    if isinstance(value, numbers.Real) and float(value).is_integer():
        # The Reals a frame holds (int, float, numpy's numbers) all have __int__.
        return int(cast(SupportsInt, value))
    return str(value)


def _component_label(code: Any) -> Any:
    """COMPONENTS maps a code to one label (not a tuple), so not labels.label(); any
    other code (or None) as it is."""
    return labels.COMPONENTS.get(code, code)


def _lines_sheet(sheet: Worksheet, lines: list[dict]) -> None:
    columns = [
        _UNIT, _SECTION,
        _Column("项目", lambda r: _component_label(r.get(C.COMPONENT))),
        _text_col("说明", C.TEXT, wrap=50), _score_col("分值", C.POINTS),
        _Column("来源行", lambda r: _source_row(r.get(C.ROW)), COUNT_FORMAT),
    ]
    _write_table(sheet, columns, lines)


def _notes_sheet(sheet: Worksheet, card: Scorecard) -> None:
    rows = [{"kind": "提示", "text": w} for w in card.warnings]
    rows += [{"kind": "并列待定", "text": tie.message} for tie in card.ties]
    for round_code, mean in card.round_means.items():
        if not is_missing(mean):
            rows.append({"kind": "说明", "text": (
                f"{labels.label(labels.ROUNDS, round_code)}服务对象评价参与科室平均分 {display_text(mean)}"
                f"（不足 {card.settings.blend_min_votes} 票的科室按此折算）")})
    _write_table(sheet, [_text_col("类型", "kind"), _text_col("内容", "text", wrap=80)], rows)


# ---- charts -------------------------------------------------------------------------

_ZONES = ("不满意候选分数线及以下", "两线之间", "满意候选分数线及以上")
_COMPONENTS = (("服务对象", C.SERVICE), ("平台办理", C.PLATFORM_SCORE), ("主管单位", C.SUPERVISOR),
               ("监督检查", C.INSPECTION), ("网络评价", C.NETWORK), ("加分项", C.BONUS))
_RESULTS = (("满意单位", C.SATISFIED), ("不满意单位", C.UNSATISFIED),
            ("最不满意单位", C.MOST_UNSATISFIED), ("其他", None))
# Column of each block on the hidden chart-data sheet.
_HISTOGRAM_COL = 1  # A: 分数段, B–D: one column per zone
_CANDIDATE_COL = 6  # F: 候选, G–L: components
_RANKING_COL = 13  # M–P: totals, one column per result


def _section_name(record: Mapping[str, Any]) -> str:
    return f"{record[C.UNIT]} {record[C.SECTION]}"


_ZONE_COLUMN = {BELOW: 0, BETWEEN: 1, ABOVE: 2}  # the order of _ZONES


def _zone(value: float, cutoffs: dict[str, float], decimals: int) -> int:
    """The histogram column of a score (`scoring.ranking.cutoff_zone`)."""
    return _ZONE_COLUMN[cutoff_zone(value, cutoffs, decimals)]


def _histogram_data(data: Worksheet, sections: list[dict], cutoffs: dict[str, float], decimals: int) -> int:
    """1-point bins of the displayed daily scores, split by zone; returns the bin count."""
    scored = [float(r[C.DAILY]) for r in sections if not _true(r.get(C.EXEMPT)) and not is_missing(r.get(C.DAILY))]
    if not scored:
        return 0
    bins = [math.floor(cast(float, _shown(v))) for v in scored]  # `scored` has no missing value
    first, last = min(bins), max(bins)
    counts = [[0, 0, 0] for _ in range(first, last + 1)]
    for value, b in zip(scored, bins):
        counts[b - first][_zone(value, cutoffs, decimals)] += 1
    for j, header in enumerate(("分数段", *_ZONES)):
        _put(data, 1, _HISTOGRAM_COL + j, header)
    for i, b in enumerate(range(first, last + 1)):
        _put(data, 2 + i, _HISTOGRAM_COL, f"{b}~{b + 1}")
        for j, n in enumerate(counts[i]):
            data.cell(row=2 + i, column=_HISTOGRAM_COL + 1 + j, value=n)
    return last - first + 1


def _candidate_data(data: Worksheet, by_total: list[dict]) -> None:
    """Per candidate in total-rank order: components (stacked bar) and the total in
    the column of its result (one colour per result in the ranking chart)."""
    for j, (header, _) in enumerate((("候选", None), *_COMPONENTS)):
        _put(data, 1, _CANDIDATE_COL + j, header)
    for j, (header, _) in enumerate(_RESULTS):
        _put(data, 1, _RANKING_COL + j, header)
    results = [code for _, code in _RESULTS]
    for i, record in enumerate(by_total, start=2):
        _put(data, i, _CANDIDATE_COL, _section_name(record))
        for j, (_, code) in enumerate(_COMPONENTS, start=1):
            decimals = 1 if code == C.SUPERVISOR else 2
            _put(data, i, _CANDIDATE_COL + j, _shown(record.get(code), decimals), SCORE_FORMAT[decimals])
        result = _code(record.get(C.RESULT))
        column = results.index(result) if result in results else len(results) - 1
        _put(data, i, _RANKING_COL + column, _shown(record.get(C.TOTAL)), SCORE_FORMAT[2])


def _bar_chart(kind: str, title: str, x_title: str, y_title: str) -> BarChart:
    chart = BarChart()
    chart.type = kind
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = title
    if x_title:
        chart.x_axis.title = x_title
    chart.y_axis.title = y_title
    chart.x_axis.axPos, chart.y_axis.axPos = ("b", "l") if kind == "col" else ("l", "b")
    chart.x_axis.delete = False  # openpyxl 3.1 otherwise hides the axes in Excel
    chart.y_axis.delete = False
    return chart


def _style(chart: BarChart, categories: Reference, colours: Iterable[str]) -> None:
    """Text categories (openpyxl's set_categories would declare them numbers) and one
    colour per series."""
    for series, colour in zip(chart.series, colours):
        series.cat = AxDataSource(strRef=StrRef(f=str(categories)))
        series.graphicalProperties.solidFill = colour
        series.graphicalProperties.line.noFill = True  # an empty bin draws nothing
    chart.legend.position = "b"


_CHART_WIDTH_CM = 18.0  # a portrait A4 page's width between the margins
_ROW_CM = 15 / 72 * 2.54  # Excel's default row: 15 points
_COLUMN_CM = (DEFAULT_COLUMN_WIDTH * _DIGIT_PIXELS + _PADDING_PIXELS) / _PIXELS_PER_INCH * 2.54


def _place(sheet: Worksheet, charts: list[BarChart]) -> None:
    """The charts one below the other on their own sheet, each starting a printed page
    (a row break before it); the print area covers them all (Excel leaves out of its
    default print area what no cell reaches)."""
    row = 1
    for n, chart in enumerate(charts):
        if n:
            sheet.row_breaks.append(Break(id=row - 1))
        sheet.add_chart(chart, f"A{row}")
        row += math.ceil(chart.height / _ROW_CM) + 1
    if charts:
        columns = math.ceil(max(chart.width for chart in charts) / _COLUMN_CM)
        sheet.print_area = f"A1:{get_column_letter(columns)}{row - 1}"


def _charts(data: Worksheet, sheet: Worksheet, sections: list[dict], by_total: list[dict],
            cutoffs: dict[str, float], card: Scorecard) -> None:
    """The daily-score distribution, then each candidate's components and the final
    ranking, on the charts sheet."""
    placed = []
    decimals = card.settings.rank_decimals
    bins = _histogram_data(data, sections, cutoffs, decimals)
    if bins:
        title = (f"日常评价分布（满意候选分数线 {display_text(cutoffs[C.SATISFIED_CANDIDATE]) or '无'}，"
                 f"不满意候选分数线 {display_text(cutoffs[C.UNSATISFIED_CANDIDATE]) or '无'}）")
        chart = _bar_chart("col", title, "日常评价（分，每段含下限）", "科室数")
        chart.gapWidth = 10
        chart.add_data(Reference(data, min_col=_HISTOGRAM_COL + 1, max_col=_HISTOGRAM_COL + 3,
                                 min_row=1, max_row=1 + bins), titles_from_data=True)
        _style(chart, Reference(data, min_col=_HISTOGRAM_COL, min_row=2, max_row=1 + bins), _ZONE_COLOURS)
        chart.width, chart.height = _CHART_WIDTH_CM, 12
        placed.append(chart)

    if by_total:
        _candidate_data(data, by_total)
        n = len(by_total)
        pending = "" if card.network_held else f"（{NETWORK_NOT_HELD}）"
        height = max(8.0, 0.45 * n + 3)
        categories = Reference(data, min_col=_CANDIDATE_COL, min_row=2, max_row=1 + n)

        components = _bar_chart("bar", f"候选科室得分构成（按总排名）{pending}", "", "分")
        components.add_data(Reference(data, min_col=_CANDIDATE_COL + 1, max_col=_CANDIDATE_COL + len(_COMPONENTS),
                                      min_row=1, max_row=1 + n), titles_from_data=True)
        ranking = _bar_chart("bar", f"总成绩排名{pending}", "", "总成绩")
        ranking.add_data(Reference(data, min_col=_RANKING_COL, max_col=_RANKING_COL + len(_RESULTS) - 1,
                                   min_row=1, max_row=1 + n), titles_from_data=True)
        for chart, colours in ((components, _COMPONENT_COLOURS), (ranking, _RESULT_COLOURS)):
            _style(chart, categories, colours)
            chart.gapWidth = 40
            chart.x_axis.scaling.orientation = "maxMin"  # rank 1 at the top
            chart.y_axis.crosses = "max"  # and the value axis back at the bottom
            chart.width, chart.height = _CHART_WIDTH_CM, height
        placed += [components, ranking]
    _place(sheet, placed)
