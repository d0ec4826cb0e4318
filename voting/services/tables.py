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
        if suffix != ".xlsx":
            raise ImportRejected(filename, [RowError(0, "", "只接受 .xlsx 或 .csv 文件")])
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise ImportRejected(filename, [RowError(0, "", "不是有效的 xlsx 文件(文件可能已损坏或只是改了扩展名)")])
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
        try:
            rows = list(csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            raise ImportRejected(filename, [RowError(0, "", f"CSV 格式错误:{exc}")]) from None
        width = max((len(r) for r in rows), default=0)
        return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=str)
    raise ImportRejected(filename, [RowError(0, "", "只接受 .xlsx 或 .csv 文件")])


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
