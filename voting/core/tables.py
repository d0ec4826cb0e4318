"""Reading the spreadsheets offices send: xlsx or csv, Chinese headers (English aliases
welcome), title rows above the header, merged cells, the header repeated at page
breaks, stray spaces inside header text (`科      室`).

Every cell comes out as a stripped string, every row keeps its number in the file, so
that an error can say 第 12 行,C 列(手机号码).
"""
from __future__ import annotations

import codecs
import csv
import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain, count, islice
from pathlib import PurePath
from typing import IO, Union, overload

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from voting.core.errors import ImportRejected, RowError

ROW = "_row"  # the file's own row number of each data row
_SPACES = re.compile(r"\s+")
# How far down a title block may push the header row.
HEADER_SEARCH_ROWS = 30
# The example row of a downloaded import template (voting/office/import_templates.py)
# starts a cell with this mark. A file that still holds it is refused, the row named: an
# untouched template never stores its made-up row (a fake section, service object or
# evaluator whose phone would get an SMS).
EXAMPLE_MARK = "【示例】"
EXAMPLE_REFUSED = f"这是导入模板中的示例行（以“{EXAMPLE_MARK}”开头），请删除本行或改写为真实数据后再导入"


def fold(text: object) -> str:
    """The comparable form of a header or a name: NFKC (full-width brackets and
    digits), no white space at all."""
    if text is None:
        return ""
    return _SPACES.sub("", unicodedata.normalize("NFKC", str(text)))


def fold_series(values: pd.Series) -> pd.Series:
    """`fold` on a column, once per distinct value: unit and section names, 是/否 and
    header text repeat thousands of times in a year's lists."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    folded = np.array([fold(value) for value in uniques], dtype=object)
    return pd.Series(folded[codes], index=values.index, dtype=object)


@dataclass(frozen=True)
class Column:
    key: str
    headers: tuple[str, ...]  # folded Chinese header first, then aliases
    required: bool = True

    @property
    def label(self) -> str:
        return self.headers[0]


@dataclass
class Table:
    """Data rows as strings under the columns' keys, plus `ROW`."""

    frame: pd.DataFrame
    filename: str
    letters: dict[str, str]  # key -> "C 列(手机号码)"

    def where(self, key: str) -> str:
        return self.letters.get(key, "")


# An upload: its bytes (a small file, read by the web request), or the path of the
# file it was saved to (a big one, read by a background job), or an open binary file.
Source = Union[bytes, str, os.PathLike, IO[bytes]]
# Rows turned into a DataFrame, checked and let go at a time: the reading holds this
# many rows as Python strings, whatever the size of the file.
CHUNK_ROWS = 20_000
_READ_BYTES = 1024 * 1024


def _suffix_of(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".xlsm":
        raise ImportRejected(filename, [RowError(0, "", MACRO_REFUSED)])
    if suffix not in (".xlsx", ".csv"):
        raise ImportRejected(filename, [RowError(0, "", "只接受 .xlsx 或 .csv 文件")])
    return suffix


@overload
def _binary(source: bytes | IO[bytes]) -> IO[bytes]: ...


@overload
def _binary(source: Source) -> IO[bytes] | str | os.PathLike: ...


def _binary(source: Source) -> IO[bytes] | str | os.PathLike:
    """What zipfile and the CSV reader open: a path as it is, bytes as a file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source)
    if hasattr(source, "seek"):
        source.seek(0)
    return source


def _raw_rows(source: Source, filename: str) -> tuple[Iterator[list], int, int]:
    """The file's rows from its first (row 1), each a list of raw cell values; how many
    rows the file has (for a CSV: its line count, about that); the sheet's first used
    column (0: A)."""
    suffix = _suffix_of(filename)
    if suffix == ".xlsx":
        check_xlsx(source, filename)
        return _xlsx_rows(source, filename)
    return _csv_rows(source, filename)


def _xlsx_rows(source: Source, filename: str) -> tuple[Iterator[list], int, int]:
    from python_calamine import CalamineWorkbook

    try:
        # calamine: many times faster than openpyxl (a county's 181,500 rows in a second
        # or two instead of twenty), and its sheet is Rust's, a fraction of the size of
        # the same cells as Python objects; the rows become Python lists one at a time.
        if isinstance(source, (str, os.PathLike)):
            workbook = CalamineWorkbook.from_path(os.fspath(source))
        else:
            workbook = CalamineWorkbook.from_filelike(_binary(source))
        sheet = workbook.get_sheet_by_index(0)
    except Exception as exc:  # noqa: BLE001 (any parser failure is the file's fault, not ours)
        raise ImportRejected(filename, [RowError(0, "", f"无法读取 xlsx 文件：{type(exc).__name__}")]) from None
    if sheet.start is None:  # an empty sheet
        return iter(()), 0, 0
    # The rows start at the file's row 1, the columns at the first used one.
    return iter(sheet.iter_rows()), sheet.start[0] + sheet.height, sheet.start[1]


def _csv_rows(source: Source, filename: str) -> tuple[Iterator[list], int, int]:
    encoding, lines = _csv_encoding(source, filename)
    stream = _binary(source)
    opened = isinstance(stream, (str, os.PathLike))

    def rows() -> Iterator[list]:
        # The test `opened` made, repeated so that the type checker sees it.
        binary = open(stream, "rb") if isinstance(stream, (str, os.PathLike)) else stream  # noqa: SIM115 - closed below
        text = io.TextIOWrapper(binary, encoding=encoding, newline="")
        reader = csv.reader(text)
        try:
            yield from reader
        except csv.Error as exc:
            # The module's own limit on one cell (131,072 characters): no list's cell is
            # near it, and its English message is no use to an office.
            limit = csv.field_size_limit()
            reason = f"有单元格超过 {limit} 个字符" if "field limit" in str(exc) else str(exc)
            raise ImportRejected(filename, [RowError(reader.line_num, "", f"CSV 格式错误：{reason}")]) from None
        finally:
            text.detach()  # the caller's file stays open, ours is closed
            if opened:
                binary.close()

    return rows(), lines, 0


def _csv_encoding(source: Source, filename: str) -> tuple[str, int]:
    """Offices save CSV from Excel as UTF-8 (with BOM) or as GBK/GB18030: the first of
    these that decodes the whole file (read a chunk at a time), and its line count."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        stream, lines = _binary(source), 0
        opened = isinstance(stream, (str, os.PathLike))
        file = open(stream, "rb") if isinstance(stream, (str, os.PathLike)) else stream  # noqa: SIM115 (as `opened`)
        try:
            while chunk := file.read(_READ_BYTES):
                decoder.decode(chunk)
                lines += chunk.count(b"\n")
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        finally:
            if opened:
                file.close()
        return encoding, lines + 1
    raise ImportRejected(filename, [RowError(0, "", "无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV")])


def _cell_text(value: object) -> str:
    """A cell as text, as pandas' read_excel(dtype=str) gave it: a whole number without
    ".0" (phone numbers typed as numbers), a date as a datetime."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return str(datetime(value.year, value.month, value.day))
    return "" if value is None else str(value)

# An xlsx is a zip of XML parts. Before any parser sees one, its central directory and
# every part are checked here: a "zip bomb" (a sheet of hundreds of MB
# compressed to a few hundred KB), a macro-enabled workbook, a DTD (entity expansion,
# "billion laughs"), a part whose real content is not what its header declares.
# Limits: these defaults, or the app's XLSX_* settings (voting/core/config.py).
XLSX_MAX_UNCOMPRESSED = 256 * 1024 * 1024  # all parts together, bytes
XLSX_MAX_RATIO = 100  # uncompressed / compressed size of a part of over 1 MB
XLSX_MAX_PARTS = 2000
_RATIO_FROM = 1024 * 1024
SCAN_CHUNK = 1024 * 1024  # each part is read and searched this much at a time (not a setting)
_NOT_XLSX = "不是有效的 xlsx 文件（文件可能已损坏或只是改了扩展名）"
MACRO_REFUSED = "文件含有宏（VBA），出于安全考虑不接受含宏的工作簿；请在 Excel 中另存为“Excel 工作簿（*.xlsx）”后再上传"
_MACRO_TYPES = (b"macroenabled", b"vbaproject", b"vnd.ms-excel.macrosheet", b"vnd.ms-excel.intlmacrosheet")
_DTD_MARKERS = (b"<!doctype", b"<!entity")  # searched in lower case
# A marker split between two chunks lies within this many bytes of the earlier one's end.
_OVERLAP = max(len(marker) for marker in _MACRO_TYPES + _DTD_MARKERS) - 1


def _limit(name: str, default: int) -> int:
    from flask import current_app, has_app_context

    return int(current_app.config.get(name, default)) if has_app_context() else default


def check_xlsx(data: Source, filename: str) -> None:
    """Refuse (ImportRejected) an xlsx that is not a plain, sane workbook; read nothing
    into memory beyond one chunk of one part at a time."""

    try:
        archive = zipfile.ZipFile(_binary(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise ImportRejected(filename, [RowError(0, "", _NOT_XLSX)]) from None
    with archive:
        _check_archive(archive, filename)


def _check_archive(archive: zipfile.ZipFile, filename: str) -> None:
    def refuse(reason: str) -> ImportRejected:
        return ImportRejected(filename, [RowError(0, "", reason)])

    parts = archive.infolist()
    names = {part.filename for part in parts}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/workbook") for n in names):
        raise refuse(_NOT_XLSX)
    max_parts = _limit("XLSX_MAX_PARTS", XLSX_MAX_PARTS)
    if len(parts) > max_parts:
        raise refuse(f"xlsx 文件含有 {len(parts)} 个部件，超过 {max_parts} 个的上限，拒绝导入")
    if any(PurePath(n).name.lower() == "vbaproject.bin" or n.lower().startswith("xl/macrosheets/") for n in names):
        raise refuse(MACRO_REFUSED)
    max_total = _limit("XLSX_MAX_UNCOMPRESSED", XLSX_MAX_UNCOMPRESSED)
    declared = sum(part.file_size for part in parts)
    if declared > max_total:
        raise refuse(
            f"xlsx 文件解压后共 {declared / 2**20:.0f} MB，超过 {max_total / 2**20:.0f} MB 的上限"
            "（可能是“压缩炸弹”），拒绝导入"
        )
    max_ratio = _limit("XLSX_MAX_RATIO", XLSX_MAX_RATIO)
    for part in parts:
        if part.file_size > _RATIO_FROM and part.file_size > max_ratio * max(part.compress_size, 1):
            ratio = part.file_size / max(part.compress_size, 1)
            raise refuse(
                f"xlsx 文件中的 {part.filename} 压缩比异常（{ratio:.0f} 倍，上限 {max_ratio} 倍），"
                "可能是“压缩炸弹”，拒绝导入"
            )
    # Every part read once, in chunks: Python's zipfile stops at the declared size and
    # checks the CRC, so a part whose header lies about its size is refused here. Each
    # chunk is searched whole, with the end of the chunk before it (`_OVERLAP` bytes): the
    # parser reads the whole part, so a DTD after any amount of padding, or one that
    # straddles two chunks, is found.
    total = 0
    try:
        for part in parts:
            is_types = part.filename == "[Content_Types].xml"
            with archive.open(part) as stream:
                carried = b""
                while chunk := stream.read(SCAN_CHUNK):
                    total += len(chunk)
                    if total > max_total:
                        raise refuse(f"xlsx 文件解压后超过 {max_total / 2**20:.0f} MB 的上限，拒绝导入")
                    window = carried + chunk.lower()
                    if is_types and any(t in window for t in _MACRO_TYPES):
                        raise refuse(MACRO_REFUSED)
                    if any(m in window for m in _DTD_MARKERS):
                        raise refuse(f"xlsx 文件中的 {part.filename} 含有 DTD 或实体声明，出于安全考虑拒绝导入")
                    carried = window[-_OVERLAP:]
    except ImportRejected:
        raise
    except Exception:  # noqa: BLE001 (a bad CRC, an unknown compression, an encrypted part)
        raise refuse(_NOT_XLSX) from None


class TableStream:
    """A file's data rows, read a chunk at a time (`chunks`): the header found in the
    first HEADER_SEARCH_ROWS rows, then DataFrames of at most CHUNK_ROWS rows as
    `read_table` gives them (the columns' keys and `ROW`; repeated headers and blank
    rows left out, `fill_down` filled across chunks). A cell holding NUL, or a
    template's example row left in (EXAMPLE_MARK), refuses the file once every chunk
    was read, with every such cell or row listed. One pass only."""

    def __init__(self, source: Source, filename: str, columns: list[Column], *,
                 fill_down: tuple[str, ...] = (), chunk_rows: int | None = None):
        self.filename = filename
        self.columns = columns
        self.fill_down = fill_down
        self.chunk_rows = chunk_rows or CHUNK_ROWS
        rows, self.total, offset = _raw_rows(source, filename)
        head = list(islice(rows, HEADER_SEARCH_ROWS))
        width = max((len(r) for r in head), default=0)
        top = pd.DataFrame([[fold(_cell_text(v)) for v in r] + [""] * (width - len(r)) for r in head],
                           index=range(1, len(head) + 1), dtype=object)
        header_row, self.positions = _find_header(top, columns, filename)
        self.header_cells = {key: top.at[header_row, pos] for key, pos in self.positions.items()}
        self.letters = {
            key: f"{get_column_letter(offset + pos + 1)} 列（{self.header_cells[key] or key}）"
            for key, pos in self.positions.items()
        }
        self.rows_read = 0  # data rows given out so far
        self.rows_seen = header_row  # the file's rows looked at so far, the header's included
        self._rest: Iterator[tuple[int, list]] = chain(
            zip(range(header_row + 1, len(head) + 1), head[header_row:]), zip(count(len(head) + 1), rows)
        )

    def where(self, key: str) -> str:
        return self.letters.get(key, "")

    def chunks(self) -> Iterator[pd.DataFrame]:
        carry = {key: "" for key in self.fill_down}
        nul: list[RowError] = []
        numbers: list[int] = []
        batch: list[list] = []
        for number, row in self._rest:
            numbers.append(number)
            batch.append(row)
            if len(batch) >= self.chunk_rows:
                body = self._body(numbers, batch, carry, nul)
                numbers, batch = [], []
                if len(body):
                    yield body
        if batch:
            body = self._body(numbers, batch, carry, nul)
            if len(body):
                yield body
        self._rest = iter(())  # let the reader (its sheet) go
        if nul:
            raise ImportRejected(self.filename, nul, rows_read=self.rows_read)

    def _body(self, numbers: list[int], rows: list[list], carry: dict[str, str], nul: list[RowError]) -> pd.DataFrame:
        text = _cell_text
        width = min(len(r) for r in rows)
        body = pd.DataFrame(
            {key: [(v if v.__class__ is str else text(v)).strip() for v in (r[pos] for r in rows)] if pos < width
             else [(text(r[pos]) if pos < len(r) else "").strip() for r in rows]
             for key, pos in self.positions.items()},
            index=numbers, dtype=object,
        )
        self.rows_seen = numbers[-1]
        # Repeated header rows (page breaks) and blank rows are not data. A cell that
        # folds to the header text contains its first character: look only at those rows
        # (folding every name and phone of a large file costs seconds).
        first_key, first_text = next(iter(self.header_cells.items()))
        candidates = body.index[body[first_key].str.contains(first_text[:1], regex=False)] if first_text else body.index
        repeated = pd.Series(False, index=body.index)
        if len(candidates):
            is_header = pd.Series(True, index=candidates)
            for key, header in self.header_cells.items():
                is_header &= body.loc[candidates, key].map(fold) == header
            repeated[candidates] = is_header
        blank = (body == "").all(axis=1)
        body = body[~repeated & ~blank]
        nul.extend(_nul_cells(body, self.letters))
        nul.extend(_example_rows(body, self.letters))
        for key in self.fill_down:
            if key in body and len(body):
                body[key] = body[key].replace("", pd.NA).ffill().fillna(carry[key])
                carry[key] = body[key].iloc[-1]
        for column in self.columns:
            if column.key not in body:
                body[column.key] = ""
        body[ROW] = body.index
        self.rows_read += len(body)
        return body.reset_index(drop=True)


def stream_table(source: Source, filename: str, columns: list[Column], *, fill_down: tuple[str, ...] = (),
                 chunk_rows: int | None = None) -> TableStream:
    """The file's checks (type, xlsx safety, encoding) and its header now; its rows
    when `chunks()` is iterated."""
    return TableStream(source, filename, columns, fill_down=fill_down, chunk_rows=chunk_rows)


def read_table(
    data: Source,
    filename: str,
    columns: list[Column],
    *,
    fill_down: tuple[str, ...] = (),
) -> Table:
    """Find the header row, keep the data rows below it, name columns by key: all of
    them in one DataFrame (the small lists; the service objects stream: `stream_table`).

    `fill_down` columns take the value above when empty: a unit's number and name stand
    once in a merged cell spanning its sections.
    """
    stream = stream_table(data, filename, columns, fill_down=fill_down)
    frames = list(stream.chunks())
    if frames:
        frame = pd.concat(frames, ignore_index=True)
    else:
        keys = list(stream.positions) + [c.key for c in columns if c.key not in stream.positions]
        frame = pd.DataFrame(columns=[*keys, ROW], dtype=object)
    return Table(frame, filename, stream.letters)


def _example_rows(body: pd.DataFrame, letters: dict[str, str]) -> list[RowError]:
    """The rows of a downloaded template's example left in the file (a cell starting
    with EXAMPLE_MARK): one error per row, at its first such cell. A column is searched
    as one string first: about 1 ms per column and 20,000 rows for a file without it."""
    found: dict[int, RowError] = {}
    for key in body.columns:
        values = body[key].tolist()
        if EXAMPLE_MARK not in "\n".join(values):
            continue
        for row, value in zip(body.index.tolist(), values):
            if value.startswith(EXAMPLE_MARK) and row not in found:
                found[row] = RowError(int(row), letters[key], EXAMPLE_REFUSED)
    return list(found.values())


def _nul_cells(body: pd.DataFrame, letters: dict[str, str]) -> list[RowError]:
    """A NUL character in a cell: the whole file refused, every such cell listed.
    PostgreSQL cannot store text holding one, and no list has a use for it."""
    errors = []
    for key in body.columns:
        hit = body[key].str.contains("\x00", regex=False)
        for row in body.index[hit]:
            errors.append(RowError(int(row), letters[key], "含有空字符（NUL,\\x00），请删除后重新导入"))
    return errors

def _find_header(
    folded: pd.DataFrame, columns: list[Column], filename: str
) -> tuple[int, dict[str, int]]:
    wanted = {h.lower(): c.key for c in columns for h in c.headers}
    required = {c.key for c in columns if c.required}
    for row in folded.index:
        positions: dict[str, int] = {}
        for pos, cell in enumerate(folded.loc[row]):
            key = wanted.get(cell.lower())
            if key and key not in positions:
                positions[key] = pos
        if required <= positions.keys():
            return row, positions
    labels = "、".join(c.label for c in columns if c.required)
    raise ImportRejected(
        filename,
        [RowError(0, "", f"前 {HEADER_SEARCH_ROWS} 行中找不到表头，表头须包含：{labels}")],
    )
