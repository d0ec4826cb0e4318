"""Reading the spreadsheets offices send: xlsx or csv, Chinese headers (English aliases
welcome), title rows above the header, merged cells, the header repeated at page
breaks, stray spaces inside header text (`科      室`).

Every cell comes out as a stripped string, every row keeps its number in the file, so
that an error can say 第 12 行,C 列(手机号码).
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from voting.errors import ImportRejected, RowError

ROW = "_row"  # the file's own row number of each data row
_SPACES = re.compile(r"\s+")
# How far down a title block may push the header row.
HEADER_SEARCH_ROWS = 30


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


def _read_raw(data: bytes, filename: str) -> pd.DataFrame:
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        if suffix == ".xlsm":
            raise ImportRejected(filename, [RowError(0, "", MACRO_REFUSED)])
        if suffix != ".xlsx":
            raise ImportRejected(filename, [RowError(0, "", "只接受 .xlsx 或 .csv 文件")])
        check_xlsx(data, filename)
        try:
            # calamine reads a 180,000-row sheet many times faster than openpyxl.
            frame = pd.read_excel(
                io.BytesIO(data), header=None, dtype=str, engine="calamine", sheet_name=0
            )
        except Exception as exc:  # any parser failure is the file's fault, not ours
            raise ImportRejected(filename, [RowError(0, "", f"无法读取 xlsx 文件:{type(exc).__name__}")]) from None
        return frame
    if suffix == ".csv":
        text = _decode(data, filename)
        reader = csv.reader(io.StringIO(text))
        try:
            rows = list(reader)
        except csv.Error as exc:
            # The module's own limit on one cell (131,072 characters): no list's cell is
            # near it, and its English message is no use to an office.
            limit = csv.field_size_limit()
            reason = f"有单元格超过 {limit} 个字符" if "field limit" in str(exc) else str(exc)
            raise ImportRejected(filename, [RowError(reader.line_num, "", f"CSV 格式错误:{reason}")]) from None
        width = max((len(r) for r in rows), default=0)
        return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=str)
    raise ImportRejected(filename, [RowError(0, "", "只接受 .xlsx 或 .csv 文件")])


# An xlsx is a zip of XML parts. Before any parser sees one, its central directory and
# every part are checked here (issue 6): a "zip bomb" (a sheet of hundreds of MB
# compressed to a few hundred KB), a macro-enabled workbook, a DTD (entity expansion,
# "billion laughs"), a part whose real content is not what its header declares.
# Limits: these defaults, or the app's XLSX_* settings (voting/config.py).
XLSX_MAX_UNCOMPRESSED = 256 * 1024 * 1024  # all parts together, bytes
XLSX_MAX_RATIO = 100  # uncompressed / compressed size of a part of over 1 MB
XLSX_MAX_PARTS = 2000
_RATIO_FROM = 1024 * 1024
SCAN_CHUNK = 1024 * 1024  # each part is read and searched this much at a time (not a setting)
_NOT_XLSX = "不是有效的 xlsx 文件(文件可能已损坏或只是改了扩展名)"
MACRO_REFUSED = "文件含有宏(VBA),出于安全考虑不接受含宏的工作簿;请在 Excel 中另存为“Excel 工作簿(*.xlsx)”后再上传"
_MACRO_TYPES = (b"macroenabled", b"vbaproject", b"vnd.ms-excel.macrosheet", b"vnd.ms-excel.intlmacrosheet")
_DTD_MARKERS = (b"<!doctype", b"<!entity")  # searched in lower case
# A marker split between two chunks lies within this many bytes of the earlier one's end.
_OVERLAP = max(len(marker) for marker in _MACRO_TYPES + _DTD_MARKERS) - 1


def _limit(name: str, default: int) -> int:
    from flask import current_app, has_app_context

    return int(current_app.config.get(name, default)) if has_app_context() else default


def check_xlsx(data: bytes, filename: str) -> None:
    """Refuse (ImportRejected) an xlsx that is not a plain, sane workbook; read nothing
    into memory beyond one chunk of one part at a time."""

    def refuse(reason: str) -> ImportRejected:
        return ImportRejected(filename, [RowError(0, "", reason)])

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise refuse(_NOT_XLSX) from None
    names = {part.filename for part in parts}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/workbook") for n in names):
        raise refuse(_NOT_XLSX)
    max_parts = _limit("XLSX_MAX_PARTS", XLSX_MAX_PARTS)
    if len(parts) > max_parts:
        raise refuse(f"xlsx 文件含有 {len(parts)} 个部件,超过 {max_parts} 个的上限,拒绝导入")
    if any(PurePath(n).name.lower() == "vbaproject.bin" or n.lower().startswith("xl/macrosheets/") for n in names):
        raise refuse(MACRO_REFUSED)
    max_total = _limit("XLSX_MAX_UNCOMPRESSED", XLSX_MAX_UNCOMPRESSED)
    declared = sum(part.file_size for part in parts)
    if declared > max_total:
        raise refuse(
            f"xlsx 文件解压后共 {declared / 2**20:.0f} MB,超过 {max_total / 2**20:.0f} MB 的上限"
            "(可能是“压缩炸弹”),拒绝导入"
        )
    max_ratio = _limit("XLSX_MAX_RATIO", XLSX_MAX_RATIO)
    for part in parts:
        if part.file_size > _RATIO_FROM and part.file_size > max_ratio * max(part.compress_size, 1):
            ratio = part.file_size / max(part.compress_size, 1)
            raise refuse(
                f"xlsx 文件中的 {part.filename} 压缩比异常({ratio:.0f} 倍,上限 {max_ratio} 倍),"
                "可能是“压缩炸弹”,拒绝导入"
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
                        raise refuse(f"xlsx 文件解压后超过 {max_total / 2**20:.0f} MB 的上限,拒绝导入")
                    window = carried + chunk.lower()
                    if is_types and any(t in window for t in _MACRO_TYPES):
                        raise refuse(MACRO_REFUSED)
                    if any(m in window for m in _DTD_MARKERS):
                        raise refuse(f"xlsx 文件中的 {part.filename} 含有 DTD 或实体声明,出于安全考虑拒绝导入")
                    carried = window[-_OVERLAP:]
    except ImportRejected:
        raise
    except Exception:  # a bad CRC, an unknown compression, an encrypted part
        raise refuse(_NOT_XLSX) from None


def _decode(data: bytes, filename: str) -> str:
    # Offices save CSV from Excel as UTF-8 (with BOM) or as GBK/GB18030.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRejected(filename, [RowError(0, "", "无法识别文件编码,请另存为 UTF-8 或 GBK 编码的 CSV")])


def read_table(
    data: bytes | IO[bytes],
    filename: str,
    columns: list[Column],
    *,
    fill_down: tuple[str, ...] = (),
) -> Table:
    """Find the header row, keep the data rows below it, name columns by key.

    `fill_down` columns take the value above when empty: a unit's number and name stand
    once in a merged cell spanning its sections.
    """
    if not isinstance(data, bytes):
        data = data.read()
    raw = _read_raw(data, filename).fillna("").astype(str)
    raw.index = range(1, len(raw) + 1)  # the file's own row numbers
    top = raw.iloc[:HEADER_SEARCH_ROWS].map(fold)

    header_row, positions = _find_header(top, columns, filename)
    body = raw.loc[header_row + 1 :, list(positions.values())].copy()
    body.columns = list(positions.keys())
    body = body.apply(lambda col: col.str.strip())
    # Repeated header rows (page breaks) and blank rows are not data.
    header_cells = {key: top.at[header_row, pos] for key, pos in positions.items()}
    # A cell that folds to the header text contains its first character: look only at
    # those rows (folding every name and phone of a large file costs seconds).
    first_key, first_text = next(iter(header_cells.items()))
    candidates = body.index[body[first_key].str.contains(first_text[:1], regex=False)] if first_text else body.index
    repeated = pd.Series(False, index=body.index)
    if len(candidates):
        is_header = pd.Series(True, index=candidates)
        for key, text in header_cells.items():
            is_header &= body.loc[candidates, key].map(fold) == text
        repeated[candidates] = is_header
    blank = (body == "").all(axis=1)
    body = body[~repeated & ~blank]
    _refuse_nul(body, positions, header_cells, filename)
    for key in fill_down:
        if key in body:
            body[key] = body[key].replace("", pd.NA).ffill().fillna("")
    for column in columns:
        if column.key not in body:
            body[column.key] = ""
    body[ROW] = body.index
    letters = {
        key: f"{get_column_letter(pos + 1)} 列({header_cells[key] or key})"
        for key, pos in positions.items()
    }
    return Table(body.reset_index(drop=True), filename, letters)


def _refuse_nul(body: pd.DataFrame, positions: dict[str, int], header_cells: dict[str, str], filename: str) -> None:
    """A NUL character in a cell: the whole file refused, every such cell listed.
    PostgreSQL cannot store text holding one, and no list has a use for it."""
    errors = []
    for key in body.columns:
        hit = body[key].str.contains("\x00", regex=False)
        for row in body.index[hit]:
            where = f"{get_column_letter(positions[key] + 1)} 列({header_cells[key] or key})"
            errors.append(RowError(int(row), where, "含有空字符(NUL,\\x00),请删除后重新导入"))
    if errors:
        raise ImportRejected(filename, errors, rows_read=len(body))


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
        [RowError(0, "", f"前 {HEADER_SEARCH_ROWS} 行中找不到表头,表头须包含:{labels}")],
    )
