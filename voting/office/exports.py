"""Excel copies of the review office's long tables (参评科室, 调查进度, 网络评价参评情况,
评价人, 电话调查, 短信发件箱, 审计日志): the columns a page shows, as an .xlsx to print,
sort and hand on. The views (voting/office/export_views.py) choose the rows, as their pages
do; this writes them.

Each sheet: a title row (what the table is, the campaign's year, when it was
exported), any notes, a bold bordered header row, frozen and filtered, then the rows;
printed landscape, one page wide, the header row on every page, page numbers in the
footer.

Every text cell goes through `report.safe_text` (OWASP "CSV injection": a leading
=, +, -, @, tab or carriage return gets a quote) after the characters XML cannot hold
are dropped, and is typed a string, so that a name such as `=HYPERLINK(...)` from an
office's spreadsheet never becomes a live formula (nor `#N/A` an error value). A
mainland mobile number inside a text (a matter typed with the citizen's number in it)
is masked like the phone columns (README, "Printing and Excel": phones masked in every
export, as on every page).

Written in openpyxl's write-only mode: rows may come from a generator and are written
as they come, so a long table costs its file, not its cells in memory. A streamed
sheet's columns are written before its rows: widths are fitted to the header and the
first FIT_ROWS rows.
"""
from __future__ import annotations

import io
import math
import numbers
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from itertools import chain, islice

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from sms.phones import mask_phone
from voting.scores.report import safe_text

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0.0%"
FIT_ROWS = 200  # rows a column's width is fitted to
MAX_WIDTH = 60  # characters; longer text runs on in its cell
MAX_TEXT = 32767  # Excel's most characters in one cell
YES = "是"
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")

_TITLE_FONT = Font(bold=True, size=13)
_NOTE_FONT = Font(color="595959")
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_THIN = Side(style="thin", color="808080")
_HEADER_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)
_WRAPPED = Alignment(vertical="top", wrap_text=True)


@dataclass(frozen=True)
class Column:
    header: str
    format: str | None = None  # the number format of its numbers and times (a time: TIME_FORMAT)
    width: float | None = None  # in characters; None: fitted to the header and the first rows


@dataclass(frozen=True)
class Sheet:
    """One table. `rows`: sequences of values in the columns' order, a generator too;
    a value is text, a number, a date or time (an aware one, or a naive UTC one as
    SQLite gives it back: written in the export's zone), True ("是"), or None / False /
    NaN (an empty cell)."""

    name: str  # the sheet's tab: at most 31 characters, none of []:*?/\
    title: str  # the first row says this, then the year and the export time
    columns: Sequence[Column]
    rows: Iterable[Sequence[object]]
    notes: Sequence[str] = ()  # lines between the title and the header


def workbook(sheets: Sequence[Sheet], *, year: int | None, at: datetime) -> bytes:
    """The .xlsx of `sheets`. `year`: the campaign's (None: no campaign); `at`: the
    export's time, aware, in the zone every time of the file is written in."""
    book = Workbook(write_only=True)
    book.properties.title = sheets[0].title if sheets else "导出"
    book.properties.creator = "千人评议平台"
    for sheet in sheets:
        _write_sheet(book.create_sheet(sheet.name), sheet, year, at)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def heading(title: str, year: int | None, at: datetime) -> str:
    """A sheet's first row: "参评科室 · 2021 年度 · 导出于 2021-06-30 09:15"."""
    parts = [title] + ([f"{year} 年度"] if year is not None else []) + [f"导出于 {at:%Y-%m-%d %H:%M}"]
    return " · ".join(parts)


def text(value: object) -> str:
    """A value as a text cell holds it: no character XML cannot hold, any mobile number
    in it masked, then neutralised against formulas (report.safe_text; last, so that a
    stripped control character cannot uncover an "="), at most MAX_TEXT characters."""
    cleaned = ILLEGAL_CHARACTERS_RE.sub("", "" if value is None else str(value))
    cleaned = _PHONE_IN_TEXT.sub(lambda found: mask_phone(found.group(0)), cleaned)
    return safe_text(cleaned)[:MAX_TEXT]


def _write_sheet(ws: WriteOnlyWorksheet, sheet: Sheet, year: int | None, at: datetime) -> None:
    columns = list(sheet.columns)
    rows = iter(sheet.rows)
    first = list(islice(rows, FIT_ROWS))
    zone = at.tzinfo or timezone.utc
    last_letter = get_column_letter(max(len(columns), 1))
    header_row = 2 + len(sheet.notes)

    # What the writer puts before the rows: widths, the frozen header, row heights.
    widths: list[float] = [_width(column.header) for column in columns]
    for row in first:
        for j, value in enumerate(row[:len(columns)]):
            widths[j] = max(widths[j], _width(_plain(value, zone)))
    widths = [column.width or min(max(width + 2, 6), MAX_WIDTH) for column, width in zip(columns, widths)]
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = f"A{header_row + 1}"
    across = max(sum(widths), 1)
    title = heading(sheet.title, year, at)
    for number, line in enumerate([title, *sheet.notes], start=1):  # merged across the table, wrapped
        ws.row_dimensions[number].height = 18 * math.ceil(_width(line) / across) + (4 if number == 1 else 0)
        if len(columns) > 1:
            ws.merged_cells.add(f"A{number}:{last_letter}{number}")
    _print_setup(ws, year, header_row)

    ws.append([_styled(ws, title, _TITLE_FONT)])
    for note in sheet.notes:
        ws.append([_styled(ws, note, _NOTE_FONT)])
    header = []
    for column in columns:
        cell = _styled(ws, column.header, _HEADER_FONT, _HEADER_ALIGNMENT)
        cell.fill, cell.border = _HEADER_FILL, _HEADER_BORDER
        header.append(cell)
    ws.append(header)
    written = 0
    for row in chain(first, rows):
        ws.append([_cell(ws, value, column, zone) for value, column in zip(row, columns)])
        written += 1
    ws.auto_filter.ref = f"A{header_row}:{last_letter}{header_row + max(written, 1)}"


def _print_setup(ws: WriteOnlyWorksheet, year: int | None, header_row: int) -> None:
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as it takes
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.oddHeader.center.text = (f"{year} 年度千人评议 " if year is not None else "千人评议 ") + "&A"
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def _styled(ws: WriteOnlyWorksheet, value: str, font: Font, alignment: Alignment = _WRAPPED) -> WriteOnlyCell:
    cell = _text_cell(ws, text(value))
    cell.font, cell.alignment = font, alignment
    return cell


def _text_cell(ws: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"  # never a formula, never an error value
    return cell


def _missing(value: object) -> bool:
    return value is None or value is False or (isinstance(value, float) and math.isnan(value))


def _local(value: datetime, zone: tzinfo) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(zone).replace(tzinfo=None)


def _plain(value: object, zone: tzinfo) -> object:
    """The value as the cell holds it: None, a number, a naive local time, or text."""
    if _missing(value):
        return None
    if value is True:
        return YES
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, datetime):
        return _local(value, zone)
    if isinstance(value, date):
        return value
    return text(value)


def _cell(ws: WriteOnlyWorksheet, value: object, column: Column, zone: tzinfo) -> object:
    plain = _plain(value, zone)
    if isinstance(plain, str):
        # openpyxl types any other text a string by itself (safe_text leaves none
        # starting with "="); an error code it would make an error value.
        return _text_cell(ws, plain) if plain in ERROR_CODES else plain
    if isinstance(plain, (datetime, date)):
        cell = WriteOnlyCell(ws, value=plain)
        cell.number_format = column.format or (TIME_FORMAT if isinstance(plain, datetime) else DATE_FORMAT)
        return cell
    if plain is not None and column.format:
        cell = WriteOnlyCell(ws, value=plain)
        cell.number_format = column.format
        return cell
    return plain


def _width(value: object) -> int:
    """Characters a value takes in a cell, a Chinese one counting two."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, float):
        value = f"{value:.2f}"
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))
