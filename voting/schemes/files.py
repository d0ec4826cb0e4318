"""Schemes and their data as files (docs/schemes.md): a scheme's YAML, the built-in
schemes of the four seed documents, and a folder of entities, items and comparison
figures read into the frames `scoring.schemes` takes. A bad row anywhere: every bad
cell of every file listed, nothing scored (BundleRejected, as for the bundle)."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from scoring.engine import InputError
from scoring.schemes import columns as S
from scoring.schemes.engine import COMPARISON_COLUMNS, ENTITY_COLUMNS, RECORD_COLUMNS, check_inputs
from scoring.schemes.exact import NotExact, to_milli
from scoring.schemes.scheme import KINDS, Scheme, load_scheme
from voting.components.bundle import BundleRejected
from voting.core.errors import DomainError, ImportRejected, RowError
from voting.core.numbers import INT_MAX, whole_number
from voting.core.tables import ROW, Column, read_table

BUILTIN = {"enyang": "恩阳区", "miyi": "米易县", "jinjiang": "晋江市", "genhe": "根河市"}
KIND_OF_LABEL = {**{label: kind for kind, label in KINDS.items()}, **{kind: kind for kind in KINDS},
                 "镇": "town", "街道": "town", "镇（街道）": "town", "单位": "department", "员工": "staff"}

ENTITY_FILE = [
    Column("order", ("序号", "order", "no"), required=False),
    Column("group", ("分组", "group"), required=False),
    Column("entity", ("对象", "entity", "名称", "被考核单位", "窗口")),
    Column("kind", ("类型", "kind", "type"), required=False),
    Column("window", ("所属窗口", "window"), required=False),
    Column("unit", ("单位", "所属单位", "unit"), required=False),
]
ITEM_FILE = [
    Column("entity", ("对象", "entity", "名称", "被考核单位", "窗口")),
    Column("period", ("期间", "period"), required=False),
    Column("indicator", ("指标", "indicator")),
    Column("date", ("日期", "date"), required=False),
    Column("count", ("数量", "count"), required=False),
    Column("value", ("数值", "value"), required=False),
    Column("points", ("分值", "points"), required=False),
    Column("note", ("说明", "note", "原因"), required=False),
]
COMPARISON_FILE = [
    Column("entity", ("对象", "entity", "名称")),
    Column("period", ("期间", "period"), required=False),
    Column("indicator", ("指标", "indicator")),
    Column("place", ("比较方", "place")),
    Column("value", ("数值", "value")),
]
# What the tables hold (voting/schemes/models.py) and the scores add up safely: a cell
# past one of these is its row's error.
MAX_POINTS = 10**9  # thousandths: a record's 分值, a million points either way
MAX_FIGURE = 10**15  # thousandths: a record's 数值 when it is a figure
MAX_COUNT = 1_000_000  # a record's 数量
TEXT_LIMITS = {"entity": 200, "window": 200, "value": 60, "note": 500}
# An entities file's 单位, by name, in the frame parse_entities returns when the file has
# the column (the engine's columns do not hold it: a unit is the platform's, not the scheme's).
UNIT = "unit"
_PERIOD = re.compile(r"(\d{4})(?:-(\d{2})|-Q([1-4])|-H([12]))?")


class SchemeNotFound(DomainError):
    status = 404


@dataclass
class SchemeData:
    """A folder's frames for `scoring.schemes.engine.score`."""

    entities: pd.DataFrame
    records: pd.DataFrame
    comparison: pd.DataFrame


def builtin_folder() -> Path:
    return Path(str(resources.files("voting.data") / "schemes"))


def read_scheme(reference: str) -> Scheme:
    """A built-in scheme by its name (enyang, miyi, jinjiang, genhe) or a YAML file's path."""
    path = builtin_folder() / f"{reference}.yaml" if reference in BUILTIN else Path(reference)
    if not path.is_file():
        raise SchemeNotFound(f"没有方案“{reference}”：应为内置方案 {'、'.join(BUILTIN)} 之一，或一个 YAML 文件的路径")
    return load_scheme(path.read_text(encoding="utf-8"), path.name)


def period_label(text: str) -> str:
    """"2020-07", "2023-Q1", "2021-H2" or "2021" as written; ValueError otherwise."""
    cleaned = str(text).strip().upper()
    match = _PERIOD.fullmatch(cleaned)
    if not match or (match.group(2) and not 1 <= int(match.group(2)) <= 12):
        raise ValueError(f"“{text}”不是期间：应为 2020-07（月）、2023-Q1（季度）、2021-H2（半年）或 2021（年度）")
    return cleaned


def _text(cells: dict, key: str, errors: list[RowError], row: int, where: str) -> str:
    """A cell's text, stripped; longer than its column holds: its row's error."""
    text = (cells.get(key) or "").strip()
    most = TEXT_LIMITS.get(key)
    if most is not None and len(text) > most:
        errors.append(RowError(row, where, f"超过 {most} 个字"))
    return text


def _whole(text: str, most: int = INT_MAX) -> int | None:
    """A whole number from 0 to `most` in any script's decimal digits (an office's
    full-width １２), or None; never a superscript (² is a digit, not a decimal)."""
    return whole_number(unicodedata.normalize("NFKC", text), most) if text.isdecimal() else None


def _within(figure: int | None, most: int, errors: list[RowError], row: int, where: str, what: str) -> None:
    """A figure (thousandths) past `most` in size: its row's error."""
    if figure is not None and abs(figure) > most:
        errors.append(RowError(row, where, f"{what}数字太大：应在 -{most // 1000} 到 {most // 1000} 之间"))


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in (".xlsx", ".csv"):
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    return None


def read_data(scheme: Scheme, folder: Path, period: str | None = None) -> SchemeData:
    """The folder's entities, items (of `period`, when given) and comparison figures,
    checked against the scheme: BundleRejected listing every bad cell of every file."""
    if not folder.is_dir():
        raise SchemeNotFound(f"没有目录 {folder}")
    rejected: list[ImportRejected] = []
    frames: dict[str, pd.DataFrame] = {}
    for stem, reader in (("entities", parse_entities), ("items", parse_items), ("comparison", parse_comparison)):
        path = _find(folder, stem)
        if path is None:
            if stem == "entities":
                rejected.append(ImportRejected("entities.csv", [RowError(0, "", "目录中没有对象名单 entities.csv 或 entities.xlsx")]))
            frames[stem] = pd.DataFrame(columns=ENTITY_COLUMNS if stem == "entities" else
                                        RECORD_COLUMNS if stem == "items" else COMPARISON_COLUMNS)
            continue
        try:
            frames[stem] = reader(scheme, path.read_bytes(), path.name, period)
        except ImportRejected as error:
            rejected.append(error)
    if not rejected:
        try:
            check_inputs(scheme, frames["entities"], frames["items"])
        except InputError as error:
            name = (_find(folder, "items") or Path("items.csv")).name
            rejected.append(ImportRejected(name, [RowError(row or 0, "", message) for row, message in error.problems]))
    if rejected:
        raise BundleRejected(folder, rejected)
    return SchemeData(frames["entities"], frames["items"], frames["comparison"])


def _period_of(cells: dict, errors: list[RowError], row: int, where: str, period: str | None) -> str | None:
    text = (cells.get("period") or "").strip()
    if not text:
        if period is None:
            errors.append(RowError(row, where, "没有期间：请填写期间，或在命令中给出 --period"))
        return period
    try:
        return period_label(text)
    except ValueError as error:
        errors.append(RowError(row, where, str(error)))
        return None


def parse_entities(scheme: Scheme, data: bytes, filename: str, period: str | None = None, *,
                   units: Collection[str] | None = None) -> pd.DataFrame:
    """The entities of an entities file, in the engine's columns (`period` unused), and
    UNIT (the 单位 as written, "" for none) when the file has that column; with `units`,
    a 单位 that is none of these names is an error of its cell."""
    table = read_table(data, filename, ENTITY_FILE)
    has_unit = bool(table.where("unit"))
    rows: list[dict] = []
    errors: list[RowError] = []
    only_group = scheme.groups[0].id if len(scheme.groups) == 1 else None
    only_kind = scheme.kinds[0] if len(scheme.kinds) == 1 else None
    for cells in table.frame.to_dict("records"):
        row = int(cells[ROW])
        name = _text(cells, "entity", errors, row, table.where("entity"))
        group_text = (cells.get("group") or "").strip()
        group = scheme.group(group_text) if group_text else None
        if group_text and group is None:
            errors.append(RowError(row, table.where("group"), f"方案中没有分组“{group_text}”：可用的有 "
                                   + "、".join(g.name for g in scheme.groups)))
        elif not group_text and only_group is None:
            errors.append(RowError(row, table.where("group"), "方案有多个分组：请填写分组"))
        kind_text = (cells.get("kind") or "").strip()
        kind = KIND_OF_LABEL.get(kind_text) if kind_text else only_kind
        if kind is None:
            errors.append(RowError(row, table.where("kind"), f"类型“{kind_text}”应为 窗口、部门、镇街 或 人员"
                                   if kind_text else "方案考核多种对象：请填写类型"))
        order_text = (cells.get("order") or "").strip()
        order = _whole(order_text) if order_text else row
        if order is None:
            errors.append(RowError(row, table.where("order"), f"序号“{order_text[:20]}”应为整数" if not order_text.isdigit()
                                   else f"“{order_text[:20]}”应为 0 到 {INT_MAX} 的整数"))
        if not name:
            errors.append(RowError(row, table.where("entity"), "对象名称为空"))
        unit = (cells.get("unit") or "").strip()
        if unit and units is not None and unit not in units:
            shown = unit if len(unit) <= 50 else unit[:50] + "…"
            errors.append(RowError(row, table.where("unit"), f"当前评议活动中没有名为“{shown}”的单位：名称应与单位名单完全一致"))
        rows.append({S.ENTITY: name, S.GROUP: group.id if group else only_group, S.KIND: kind, S.ORDER: order or 0,
                     S.WINDOW: _text(cells, "window", errors, row, table.where("window")), UNIT: unit})
    if errors:
        raise ImportRejected(filename, errors, len(rows))
    return pd.DataFrame(rows, columns=[*ENTITY_COLUMNS, UNIT] if has_unit else ENTITY_COLUMNS)


def parse_items(scheme: Scheme, data: bytes, filename: str, period: str | None, *,
                strict: bool = False, known: Collection[str] | None = None) -> pd.DataFrame:
    """The records of an items file (of `period` when given: rows of other periods are
    left out, or with `strict` each one is an error), in the engine's columns; with
    `known`, a row naming another entity is an error of its cell."""
    table = read_table(data, filename, ITEM_FILE)
    rows: list[dict] = []
    errors: list[RowError] = []
    for cells in table.frame.to_dict("records"):
        row = int(cells[ROW])
        found = _period_of(cells, errors, row, table.where("period"), period)
        if period is not None and found is not None and found != period:
            if strict:
                errors.append(RowError(row, table.where("period"), f"期间 {found} 不是所选的 {period}"))
            continue
        name = _text(cells, "entity", errors, row, table.where("entity"))
        if known is not None and name not in known:
            errors.append(RowError(row, table.where("entity"), f"对象“{name}”不在对象名单中"))
        reference = (cells.get("indicator") or "").strip()
        indicator = scheme.indicator(reference)
        if indicator is None:
            errors.append(RowError(row, table.where("indicator"), f"方案中没有指标“{reference}”"))
        count_text = (cells.get("count") or "").strip() or "1"
        count = _whole(count_text, MAX_COUNT)
        if count is None:
            errors.append(RowError(row, table.where("count"), f"数量“{count_text[:20]}”应为不小于 0 的整数"
                                   if not count_text.isdigit() else f"“{count_text[:20]}”应为 0 到 {MAX_COUNT} 的整数"))
        value_text = _text(cells, "value", errors, row, table.where("value"))
        value = figure_of(value_text)
        _within(value, MAX_FIGURE, errors, row, table.where("value"), "数值")
        points_text = (cells.get("points") or "").strip()
        points = None
        try:
            points = to_milli(points_text) if points_text else None
        except NotExact as error:
            errors.append(RowError(row, table.where("points"), f"分值{error}"))
        _within(points, MAX_POINTS, errors, row, table.where("points"), "分值")
        rows.append({S.PERIOD: found, S.ENTITY: name, S.INDICATOR: indicator.id if indicator else reference,
                     S.COUNT: count or 0, S.VALUE: value, S.LEVEL: value_text, S.POINTS: points,
                     S.NOTE: _text(cells, "note", errors, row, table.where("note")), S.ROW: row})
    if errors:
        raise ImportRejected(filename, errors, len(rows))
    frame = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    return frame.astype({S.VALUE: "Int64", S.POINTS: "Int64", S.COUNT: "int64", S.ROW: "int64"})


def figure_of(text: str) -> int | None:
    """A 数值 that is a figure (85.71%, 1040) in thousandths; None for a level's name."""
    try:
        return to_milli(text) if text else None
    except NotExact:
        return None


def parse_comparison(scheme: Scheme, data: bytes, filename: str, period: str | None) -> pd.DataFrame:
    """Other places' figures for `rank` indicators, in the engine's columns."""
    table = read_table(data, filename, COMPARISON_FILE)
    rows: list[dict] = []
    errors: list[RowError] = []
    for cells in table.frame.to_dict("records"):
        row = int(cells[ROW])
        found = _period_of(cells, errors, row, table.where("period"), period)
        if period is not None and found is not None and found != period:
            continue
        reference = (cells.get("indicator") or "").strip()
        indicator = scheme.indicator(reference)
        if indicator is None or indicator.rule.kind != "rank":
            errors.append(RowError(row, table.where("indicator"), f"方案中没有对比名次的指标“{reference}”"))
        value_text = (cells.get("value") or "").strip()
        try:
            value = to_milli(value_text)
        except NotExact as error:
            errors.append(RowError(row, table.where("value"), f"数值{error}"))
            value = 0
        rows.append({S.PERIOD: found, S.ENTITY: (cells.get("entity") or "").strip(),
                     S.INDICATOR: indicator.id if indicator else reference,
                     S.PLACE: (cells.get("place") or "").strip(), S.OTHER: value})
    if errors:
        raise ImportRejected(filename, errors, len(rows))
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS).astype({S.OTHER: "int64"})
