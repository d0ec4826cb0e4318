"""The exchange files (docs/rules.md §6), read into the frames `scoring` takes.

One `parse_…` function per component file (votes, platform, supervisor, inspection,
bonus): bytes in, a DataFrame in `scoring.columns` codes out, or ImportRejected listing
every bad row (row number, column, reason) — nothing partial. The web and CLI imports
of each component and the offline bundle (`read_bundle`, a folder of such files scored
in one command) share them. The bundle checks every file before it gives up, and
BundleRejected lists each bad file with its rows: one run shows all there is to fix.

Every frame carries C.UNIT and C.SECTION (folded like the sections list) and C.ROW,
the file's own row number, which the scoring explanations quote.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, cast

import pandas as pd

from scoring import columns as C
from scoring import labels as L
from scoring.engine import InputError, Scorecard, YearInputs, score_year
from scoring.history import history_flags
from scoring.settings import PINGYANG_2021, RuleSettings
from scoring.supervisor import score_problem, tier_problems
from voting.core.errors import DomainError, ImportRejected, RowError
from voting.core.numbers import whole_number
from voting.lists.history import parse_history
from voting.lists.sections import parse_sections
from voting.core.tables import ROW, Column, Table, fold, read_table

Key = tuple[str, str]
# A data row of `read_table`'s frame: the columns' keys -> the cell's text, ROW -> its row number.
Record = dict[str, Any]

_UNIT = Column("unit", ("单位名称", "unit", "unitname", "单位"))
_SECTION = Column("section", ("科室", "section", "sectionname", "科室名称"))

VOTES_COLUMNS = [
    _UNIT,
    _SECTION,
    Column("round", ("轮次", "round")),
    Column("satisfied", ("满意", "satisfied")),
    Column("basic", ("基本满意", "basic", "basicallysatisfied")),
    Column("unsatisfied", ("不满意", "unsatisfied")),
]
PLATFORM_COLUMNS = [
    _UNIT,
    _SECTION,
    Column("platform", ("平台", "platform")),
    Column("item", ("项目", "item")),
    # A file of 网络监督 complaints only may leave out 扣分 (one point each) and 承办.
    Column("deduction", ("扣分", "deduction"), required=False),
    Column("role", ("承办", "role"), required=False),
]
SUPERVISOR_COLUMNS = [_UNIT, _SECTION, Column("score", ("分值", "score", "分数"))]
INSPECTION_COLUMNS = [
    _UNIT,
    _SECTION,
    Column("type", ("类型", "type", "kind")),
    # A file of verified problems only may leave out the case columns, and the reverse.
    Column("serious", ("严重", "serious", "情节严重"), required=False),
    Column("person", ("人员", "person"), required=False),
    Column("current_year", ("本年度", "current_year", "currentyear"), required=False),
    Column("date", ("日期", "date"), required=False),
    # The review office's deductions (应报未报, 影响评议工作; docs/rules.md §6.8): a file of
    # findings only leaves them out.
    Column("deduction", ("扣分", "deduction"), required=False),
    Column("reason", ("事由", "reason", "原因"), required=False),
    Column("missing", ("应报未报科室", "missing_section", "missing"), required=False),
]
BONUS_COLUMNS = [
    _UNIT,
    _SECTION,
    Column("type", ("类型", "type", "kind")),
    Column("level", ("级别", "level")),
    Column("matter", ("事项", "matter")),
    Column("date", ("日期", "date")),
]

_COUNTS = (("satisfied", C.VOTES_S), ("basic", C.VOTES_B), ("unsatisfied", C.VOTES_U))
_COUNT_TEXT = re.compile(r"([0-9]+)(\.0*)?")  # the number itself: voting.core.numbers
_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_DATE_TEXT = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"  # 2021-03-15, 2021/3/15, 2021.3.15
    r"(?:(?:\s+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"  # Excel's 2021-03-15 00:00:00
)
_DATE_CHINESE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")

# The frames' columns in order (C.ROW last); an absent file gives an empty frame.
FRAME_COLUMNS = {
    "votes": [C.UNIT, C.SECTION, C.ROUND, C.VOTES_S, C.VOTES_B, C.VOTES_U, C.ROW],
    "platform": [C.UNIT, C.SECTION, C.PLATFORM, C.ITEM, C.DEDUCTION, C.ROLE, C.ROW],
    "supervisor": [C.UNIT, C.SECTION, C.SCORE, C.ROW],
    "inspection": [C.UNIT, C.SECTION, C.KIND, C.SERIOUS, C.PERSON, C.CURRENT_YEAR, C.DATE, C.DEDUCTION, C.REASON,
                   C.MISSING, C.ROW],
    "bonus": [C.UNIT, C.SECTION, C.KIND, C.LEVEL, C.MATTER, C.DATE, C.ROW],
}
_DTYPES = {
    C.VOTES_S: "int64",
    C.VOTES_B: "int64",
    C.VOTES_U: "int64",
    C.DEDUCTION: "float64",
    C.SCORE: "float64",
    C.SERIOUS: "bool",
    C.CURRENT_YEAR: "bool",
    C.DATE: "datetime64[ns]",
    C.ROW: "int64",
}


def _options(table: dict) -> str:
    """“H1、H2 或 NET”: the shown label of every code."""
    names = [L.label(table, code) for code in table]
    return names[0] if len(names) == 1 else "、".join(names[:-1]) + " 或 " + names[-1]


def _frame(kind: str, records: list[dict[str, Any]]) -> pd.DataFrame:
    columns = FRAME_COLUMNS[kind]
    data = {}
    for column in columns:
        values = [record[column] for record in records]
        dtype = _DTYPES.get(column, object)
        if column == C.DATE:
            values = [pd.NaT if value is None else pd.Timestamp(value) for value in values]
        data[column] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data, columns=columns)


def empty_frame(kind: str) -> pd.DataFrame:
    """The frame of a component with no events (`kind` as in FRAME_COLUMNS)."""
    return _frame(kind, [])


class _Reader:
    """Walks a table's data rows and collects every bad cell of the file."""

    def __init__(self, data: bytes, filename: str, columns: list[Column], known: Collection[Key] | None):
        self.filename = filename
        self.table: Table = read_table(data, filename, columns)
        self.known = known
        self.errors: list[RowError] = []

    def records(self) -> list[Record]:
        return self.table.frame.to_dict("records")

    def error(self, row: int, key: str, reason: str) -> None:
        self.errors.append(RowError(row, self.table.where(key), reason))

    def section(self, record: Record) -> Key | None:
        """(unit, section), folded like the sections list, if both are there and the
        section is on the year's list."""
        row = record[ROW]
        unit, section = fold(record["unit"]), fold(record["section"])
        if not unit:
            self.error(row, "unit", "单位名称为空")
        if not section:
            self.error(row, "section", "科室为空")
        if not (unit and section):
            return None
        if self.known is not None and (unit, section) not in self.known:
            self.errors.append(RowError(row, "", f"单位名称/科室 {unit}/{section} 不在参评科室名单中"))
            return None
        return unit, section

    def choice(self, record: Record, key: str, label: str, table: dict) -> Any:
        """The code of a labelled cell (None, with an error, if empty or unknown)."""
        text = record[key]
        code = L.lookup(table).get(fold(text).lower()) if fold(text) else None
        if code is None:
            shown = f"{label}为空" if not fold(text) else f"{label}“{text}”无效"
            self.error(record[ROW], key, f"{shown}：应为 {_options(table)}")
        return code

    def yes_no(self, record: Record, key: str, label: str) -> bool | None:
        # YES_NO's codes are True and False.
        code = cast("bool | None", L.lookup(L.YES_NO).get(fold(record[key]).lower()))
        if code is None:
            self.error(record[ROW], key, f"{label}“{record[key]}”无效：应为 是 或 否")
        return code

    def count(self, record: Record, key: str, label: str) -> int | None:
        """A non-negative whole number within the count columns' range
        (voting.core.numbers); Excel's "12.0" is one, and so are full-width digits (`fold`)."""
        text = fold(record[key])
        match = _COUNT_TEXT.fullmatch(text)
        number = whole_number(match.group(1)) if match else None
        if number is None:
            shown = f"{label}为空" if not text else f"{label}“{record[key]}”无效"
            self.error(record[ROW], key, f"{shown}：应为非负整数（没有票填 0）")
        return number

    def number(self, record: Record, key: str, label: str) -> float | None:
        """A finite decimal number, or None (with an error) when the cell is not one.
        Call only for a non-empty cell."""
        text = fold(record[key])
        if not _NUMBER_TEXT.fullmatch(text) or not math.isfinite(float(text)):
            self.error(record[ROW], key, f"{label}“{record[key]}”不是数字")
            return None
        return float(text)

    def date(self, record: Record, key: str, label: str) -> dt.date | None:
        """An ISO date (also Excel's "2021-03-15 00:00:00", 2021/3/15, 2021年3月15日).
        Call only for a non-empty cell."""
        # Not `fold`: it would glue the date to Excel's time of day.
        text = unicodedata.normalize("NFKC", record[key]).strip()
        match = _DATE_TEXT.fullmatch(text) or _DATE_CHINESE.fullmatch(text)
        try:
            if match is None:
                raise ValueError
            return dt.date(*(int(part) for part in match.groups()))
        except ValueError:
            self.error(record[ROW], key, f"{label}“{record[key]}”无效：应为 2021-03-15 这样的日期")
            return None

    def duplicate(self, seen: dict, key: object, row: int, what: str) -> bool:
        """True (with an error naming the earlier row) if `key` was seen before."""
        earlier = seen.setdefault(key, row)
        if earlier != row:
            self.errors.append(RowError(row, "", f"{what}与第 {earlier} 行重复"))
            return True
        return False

    def done(self) -> None:
        if self.errors:
            raise ImportRejected(self.filename, self.errors, len(self.table.frame))


def parse_votes(data: bytes, filename: str, known: Collection[Key] | None = None) -> pd.DataFrame:
    """votes.csv: vote counts per section and round (H1, H2, NET). One row per
    section and round: a second one would count its votes twice."""
    reader = _Reader(data, filename, VOTES_COLUMNS, known)
    records: list[Record] = []
    seen: dict[object, int] = {}
    for record in reader.records():
        row, bad = record[ROW], len(reader.errors)
        key = reader.section(record)
        round_code = reader.choice(record, "round", "轮次", L.ROUNDS)
        counts = {code: reader.count(record, name, label) for (name, code), label in zip(_COUNTS, ("满意", "基本满意", "不满意"))}
        if key and round_code and reader.duplicate(seen, (*key, round_code), row, f"{key[0]} {key[1]} {L.label(L.ROUNDS, round_code)} 轮次的票数"):
            continue
        if len(reader.errors) == bad:
            key = cast(Key, key)  # no new error: section() gave the key
            records.append({C.UNIT: key[0], C.SECTION: key[1], C.ROUND: round_code, **counts, C.ROW: row})
    reader.done()
    return _frame("votes", records)


def _deduction_problem(item: str, value: float, settings: RuleSettings) -> str | None:
    """Why a deduction does not fit its item (docs/rules.md §2.5 平台办理), or None."""
    s = settings
    name = L.label(L.ITEMS, item)
    if item == C.COMPLAINT:
        if not 0 < value <= s.network_supervision_points:
            return f"{name}扣分 {value:g} 超出范围：应大于 0 且不超过 {s.network_supervision_points:g}"
        return None
    low, high = {
        C.CONDUCT: (s.conduct_deduction_min, s.conduct_deduction_max),
        C.HANDLING: (s.handling_late, s.handling_poor_max),
    }[item]
    if not low <= value <= high:
        return f"{name}扣分 {value:g} 超出范围：应在 {low:g} 到 {high:g} 之间"
    return None


def parse_platform(
    data: bytes,
    filename: str,
    known: Collection[Key] | None = None,
    *,
    settings: RuleSettings = PINGYANG_2021,
) -> pd.DataFrame:
    """platform.csv: one row per deduction on a complaint platform. 作风投诉 3–5,
    办理评价 1–5 (协办 takes half, in scoring), 有效投诉 one point unless stated."""
    reader = _Reader(data, filename, PLATFORM_COLUMNS, known)
    records = []
    for record in reader.records():
        row, bad = record[ROW], len(reader.errors)
        key = reader.section(record)
        platform = reader.choice(record, "platform", "平台", L.PLATFORMS)
        item = reader.choice(record, "item", "项目", L.ITEMS)
        if platform and item and item not in L.PLATFORM_ITEMS[platform]:
            allowed = "、".join(L.label(L.ITEMS, code) for code in L.PLATFORM_ITEMS[platform])
            reader.error(row, "item", f"项目“{record['item']}”不属于{L.label(L.PLATFORMS, platform)}平台：应为 {allowed}")
            item = None
        role = reader.choice(record, "role", "承办", L.ROLES) if fold(record["role"]) else C.LEAD
        if role == C.CO and item and item != C.HANDLING:
            reader.error(row, "role", f"协办只适用于办理评价，{L.label(L.ITEMS, item)}不分主办、协办")
        deduction = None
        if not fold(record["deduction"]):
            if item == C.COMPLAINT:
                deduction = settings.network_supervision_per_complaint
            elif item:
                reader.error(row, "deduction", f"{L.label(L.ITEMS, item)}的扣分为空")
        else:
            deduction = reader.number(record, "deduction", "扣分")
            if deduction is not None and item:
                problem = _deduction_problem(item, deduction, settings)
                if problem:
                    reader.error(row, "deduction", problem)
        if len(reader.errors) == bad:
            key = cast(Key, key)  # no new error: section() gave the key
            records.append({C.UNIT: key[0], C.SECTION: key[1], C.PLATFORM: platform, C.ITEM: item,
                            C.DEDUCTION: deduction, C.ROLE: role, C.ROW: row})
    reader.done()
    return _frame("platform", records)


def parse_supervisor(
    data: bytes,
    filename: str,
    known: Collection[Key] | None = None,
    *,
    settings: RuleSettings = PINGYANG_2021,
    exempt: Collection[Key] = (),
    tiers: bool = True,
) -> pd.DataFrame:
    """supervisor.csv: each unit's score of its sections, one decimal, 0–5, one row
    per section; the scores of a unit's participating (non-`exempt`) sections in the
    file must keep the tier distribution (docs/rules.md §2.6), else the whole file is refused.
    Rows of exempt sections are returned (the caller drops them) but not counted.
    `tiers` False skips the distribution: for a caller that cannot know which
    sections are exempt, where counting them all would refuse good files."""
    reader = _Reader(data, filename, SUPERVISOR_COLUMNS, known)
    records: list[Record] = []
    seen: dict[object, int] = {}
    for record in reader.records():
        row, bad = record[ROW], len(reader.errors)
        key = reader.section(record)
        score = None
        if not fold(record["score"]):
            reader.error(row, "score", "分值为空")
        else:
            score = reader.number(record, "score", "分值")
            problem = score_problem(score, settings) if score is not None else None
            if problem:
                reader.error(row, "score", problem)
        if key and reader.duplicate(seen, key, row, f"{key[0]} {key[1]} 的分值"):
            continue
        if len(reader.errors) == bad:
            key = cast(Key, key)  # no new error: section() gave the key
            records.append({C.UNIT: key[0], C.SECTION: key[1], C.SCORE: score, C.ROW: row})
    reader.done()
    frame = _frame("supervisor", records)
    if not tiers:
        return frame
    exempt = set(exempt)
    counted = frame[[(u, s) not in exempt for u, s in zip(frame[C.UNIT], frame[C.SECTION])]]
    problems = tier_problems(counted, settings)
    if problems:
        raise ImportRejected(filename, [RowError(0, "", p.message) for p in problems], len(reader.table.frame))
    return frame


REASON_MAX = 300  # the database column's size (InspectionEvent.reason)
_DEDUCTION_TEXT = re.compile(r"(\d{1,3})(\.\d{1,2})?")  # 2, 0.5, 1.25: at most two decimals


def deduction_problem(text: str, settings: RuleSettings) -> tuple[float | None, str | None]:
    """A discretionary deduction (影响评议工作) as typed: (points, None), or (None, why not).
    More than 0, at most the component's points, at most two decimals."""
    folded = fold(text)
    full = settings.inspection_points
    if not folded:
        return None, "影响评议工作须填写扣分"
    match = _DEDUCTION_TEXT.fullmatch(folded)
    if match is None:
        return None, f"扣分“{text[:50]}”无效：应为大于 0 的数字，最多两位小数，如 2 或 0.5"
    value = float(folded)
    if not 0 < value <= full:
        return None, f"扣分 {value:g} 超出范围：应大于 0 且不超过 {full:g}（监督检查满分）"
    return value, None


def parse_inspection(
    data: bytes, filename: str, known: Collection[Key] | None = None, *, settings: RuleSettings = PINGYANG_2021
) -> pd.DataFrame:
    """inspection.csv: verified problems (县级查实 / 市级查实 / 投诉查实, 严重 optional,
    日期 optional) and cases (立案查处: 人员, 本年度 and the filing date required).
    Dates outside the case window are not errors: scoring excludes them and says why.
    The review office's deductions, one row per section deducted: 应报未报 (事由 and
    应报未报科室, a section of the same unit on the list, required; the points are the
    setting) and 影响评议工作 (扣分 and 事由 required); 日期 optional, no window."""
    reader = _Reader(data, filename, INSPECTION_COLUMNS, known)
    records = []
    for record in reader.records():
        row, bad = record[ROW], len(reader.errors)
        key = reader.section(record)
        kind = reader.choice(record, "type", "类型", L.INSPECTION_KINDS)
        serious = reader.yes_no(record, "serious", "严重")
        current: bool | None  # None: yes_no has recorded the error
        person, current, date = None, False, None
        deduction, reason, missing = None, "", ""
        if kind == C.CASE:
            if serious:
                reader.error(row, "serious", "情节严重只适用于查实问题，立案查处按人员和年度扣分")
            person = reader.choice(record, "person", "人员", L.PERSONS)
            if not fold(record["current_year"]):
                reader.error(row, "current_year", "立案查处须填写本年度（是 / 否）：问题是否发生在评议年度")
            else:
                current = reader.yes_no(record, "current_year", "本年度")
            if not fold(record["date"]):
                reader.error(row, "date", "立案查处须填写立案日期")
        elif kind:
            for name, label in (("person", "人员"), ("current_year", "本年度")):
                if fold(record[name]):
                    reader.error(row, name, f"{label}只适用于立案查处，{L.label(L.INSPECTION_KINDS, kind)}应留空")
        if kind in L.OFFICE_DEDUCTIONS:
            deduction, reason, missing = _office_deduction(reader, record, kind, key, settings)
            if serious:
                reader.error(row, "serious", f"情节严重只适用于查实问题，{L.label(L.INSPECTION_KINDS, kind)}应留空或填否")
        elif kind:
            for name, label in (("deduction", "扣分"), ("reason", "事由"), ("missing", "应报未报科室")):
                if fold(record[name]):
                    reader.error(row, name, f"{label}只适用于应报未报和影响评议工作，{L.label(L.INSPECTION_KINDS, kind)}应留空")
        if fold(record["date"]):
            date = reader.date(record, "date", "日期")
        if len(reader.errors) == bad:
            key = cast(Key, key)  # no new error: section() gave the key
            records.append({C.UNIT: key[0], C.SECTION: key[1], C.KIND: kind, C.SERIOUS: bool(serious),
                            C.PERSON: person, C.CURRENT_YEAR: bool(current), C.DATE: date,
                            C.DEDUCTION: deduction, C.REASON: reason, C.MISSING: missing, C.ROW: row})
    reader.done()
    return _frame("inspection", records)


def _office_deduction(
    reader: _Reader, record: Record, kind: str, key: Key | None, settings: RuleSettings
) -> tuple[float | None, str, str]:
    """(扣分, 事由, 应报未报科室) of a 应报未报 or 影响评议工作 row, each bad cell recorded."""
    row, label = record[ROW], L.label(L.INSPECTION_KINDS, kind)
    reason = " ".join(record["reason"].split())  # as typed (full-width punctuation kept), spaces collapsed
    if not reason:
        reader.error(row, "reason", f"{label}须填写事由")
    elif len(reason) > REASON_MAX:
        reader.error(row, "reason", f"事由过长：{len(reason)} 个字，最多 {REASON_MAX} 个字")
    deduction, missing = None, fold(record["missing"])
    if kind == C.DISCRETIONARY:
        deduction, problem = deduction_problem(record["deduction"], settings)
        if problem:
            reader.error(row, "deduction", problem)
        if missing:
            reader.error(row, "missing", "应报未报科室只适用于应报未报，影响评议工作应留空")
    else:
        if fold(record["deduction"]):
            reader.error(row, "deduction", f"应报未报的扣分由规则设置决定（每个科室 {settings.unreported_deduction:g} 分），扣分应留空")
        if not missing:
            reader.error(row, "missing", "应报未报须填写应报未报科室：被发现应报未报、已补录参评的科室")
        elif key is not None and reader.known is not None and (key[0], missing) not in reader.known:
            reader.error(row, "missing", f"应报未报科室“{missing}”不是 {key[0]} 在参评科室名单中的科室")
    return deduction, reason, missing


MATTER_MAX = 300  # the database column's size (BonusItem.matter)


def parse_bonus(data: bytes, filename: str, known: Collection[Key] | None = None) -> pd.DataFrame:
    """bonus.csv: commendations (国家级 / 省部级 / 市厅级) and publicity (中央 / 省级 /
    市级), each with its matter (the same matter counts once, at its highest level) and
    date. Dates outside the bonus window are not errors: scoring excludes them."""
    reader = _Reader(data, filename, BONUS_COLUMNS, known)
    records = []
    for record in reader.records():
        row, bad = record[ROW], len(reader.errors)
        key = reader.section(record)
        kind = reader.choice(record, "type", "类型", L.BONUS_KINDS)
        level = None
        if kind:
            level = reader.choice(record, "level", f"{L.label(L.BONUS_KINDS, kind)}级别", L.BONUS_LEVELS[kind])
        matter = fold(record["matter"])
        if not matter:
            reader.error(row, "matter", "事项为空：同一事项只按最高级别加分一次，须写明事项")
        elif len(matter) > MATTER_MAX:
            reader.error(row, "matter", f"事项过长：{len(matter)} 个字，最多 {MATTER_MAX} 个字")
        date = None
        if not fold(record["date"]):
            reader.error(row, "date", "日期为空：只有加分期限内的事项才加分")
        else:
            date = reader.date(record, "date", "日期")
        if len(reader.errors) == bad:
            key = cast(Key, key)  # no new error: section() gave the key
            records.append({C.UNIT: key[0], C.SECTION: key[1], C.KIND: kind, C.LEVEL: level,
                            C.MATTER: matter, C.DATE: date, C.ROW: row})
    reader.done()
    return _frame("bonus", records)


# ---- the offline bundle ----------------------------------------------------------------

BUNDLE_FILES = ("sections", "history", "votes", "platform", "supervisor", "inspection", "bonus")
_SUFFIXES = (".csv", ".xlsx")
# What could not be checked because a file the others depend on is bad.
_UNCHECKED_SECTIONS = "参评科室名单有错误，其他文件中的单位名称/科室是否在名单中未核对"
_UNCHECKED_TIERS = "无法确定免评科室（参评科室名单或往年结果有错误，或评议年度未定），主管单位评分的档次分布未核对"


class BundleRejected(DomainError):
    """At least one file of a bundle is bad: every bad file (an ImportRejected each,
    with every bad row), in the bundle's file order, and what could not be checked
    because of them (`unchecked`). Nothing was scored and nothing written."""

    status = 422

    def __init__(self, directory: Path, files: list[ImportRejected], unchecked: list[str] | None = None):
        self.files = files
        self.unchecked = unchecked or []
        names = "、".join(error.filename for error in files)
        super().__init__(f"目录 {directory} 中有 {len(files)} 个文件有错误（{names}），未评分，未写入任何结果。")


def _bundle_files(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """stem -> file of the bundle, and warnings about spreadsheets that are none of them."""
    if not directory.is_dir():
        raise DomainError(f"找不到评议数据目录 {directory}")
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        raise DomainError(f"无法读取目录 {directory}：{exc.strerror or exc}") from None
    found: dict[str, list[Path]] = {}
    warnings = []
    for path in entries:
        # Excel's lock files (~$votes.xlsx) and hidden files are not data.
        if path.name.startswith(("~$", ".")) or path.suffix.lower() not in _SUFFIXES or not path.is_file():
            continue
        stem = path.stem.lower()
        if stem in BUNDLE_FILES:
            found.setdefault(stem, []).append(path)
        else:
            expected = "、".join(f"{name}.csv" for name in BUNDLE_FILES)
            warnings.append(f"目录中的 {path.name} 不是评议数据文件，已忽略（文件名应为 {expected}，或相应的 .xlsx）")
    files = {}
    for stem, paths in found.items():
        if len(paths) > 1:
            names = " 和 ".join(p.name for p in paths)
            raise DomainError(f"目录 {directory} 中同时有 {names}，同一数据只能有一个文件")
        files[stem] = paths[0]
    if "sections" not in files:
        raise DomainError(f"目录 {directory} 中缺少参评科室名单 sections.xlsx 或 sections.csv")
    if "votes" not in files:
        raise DomainError(f"目录 {directory} 中缺少投票数据 votes.csv（或 votes.xlsx）")
    return files, warnings


def _read(path: Path) -> bytes:
    """The file's bytes; an unreadable file is a bad file like any other."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImportRejected(path.name, [RowError(0, "", f"无法读取文件：{exc.strerror or exc}")]) from None


class _Checks:
    """Reads the bundle's files one by one and keeps every rejected one, so that a bad
    file does not hide the next one's problems."""

    def __init__(self, files: dict[str, Path]):
        self.files = files
        self.rejected: list[ImportRejected] = []

    def parse(self, kind: str, parser: Callable[[bytes, str], Any]) -> Any:
        """What `parser` makes of the bundle's `kind` file, or None if it is bad."""
        path = self.files[kind]
        try:
            return parser(_read(path), path.name)
        except ImportRejected as error:
            self.rejected.append(error)
            return None


def _history_frame(rows: list) -> pd.DataFrame:
    history = pd.DataFrame(
        [(y, u, s, r.value) for _, y, u, s, r in rows], columns=[C.YEAR, C.UNIT, C.SECTION, C.RESULT]
    )
    history[C.YEAR] = history[C.YEAR].astype("int64")
    return history


def read_bundle(
    directory: Path, year: int | None = None, settings: RuleSettings = PINGYANG_2021
) -> tuple[YearInputs, list[str]]:
    """A year's inputs from a folder of exchange files (docs/rules.md §6), and warnings (Chinese).

    sections and votes are required; history, platform, supervisor, inspection and
    bonus are optional (missing: no events of that kind). The year is `year`, else the
    year after the latest history row. Rows about exempt (免评) sections are dropped,
    each with a warning. Every file is checked, even after a bad one; any bad file
    raises BundleRejected listing them all. The others' checks that need a bad file
    (the section list, the exempt sections) are skipped and named instead of
    reporting rows that are only wrong because of it."""
    directory = Path(directory)
    files, warnings = _bundle_files(directory)
    if year is None and "history" not in files:
        raise DomainError("无法确定评议年度：请用 --year 指定，或提供 history.csv")
    checks = _Checks(files)

    listed = checks.parse("sections", parse_sections)
    sections = None
    if listed is not None:
        sections = pd.DataFrame([(s.unit, s.section) for s in listed], columns=[C.UNIT, C.SECTION])
    history = _history_frame([])
    if "history" in files:
        rows = checks.parse("history", parse_history)
        history = None if rows is None else _history_frame(rows)
    if year is None and history is not None and not history.empty:
        year = int(history[C.YEAR].max()) + 1
    if year is not None and history is not None:
        later = sorted(set(history.loc[history[C.YEAR] >= year, C.YEAR]))
        if later:
            shown = "、".join(str(y) for y in later)
            warnings.append(f"{files['history'].name} 中有 {shown} 年度的结果，不早于评议年度 {year}，对本年度评议不起作用")

    known = None if sections is None else set(zip(sections[C.UNIT], sections[C.SECTION]))
    exempt, tiers = set(), False
    if sections is not None and history is not None and year is not None:
        flags = history_flags(sections, history, year, settings)
        exempt, tiers = set(zip(flags.loc[flags[C.EXEMPT], C.UNIT], flags.loc[flags[C.EXEMPT], C.SECTION])), True

    parsers = {
        "votes": lambda data, name: parse_votes(data, name, known),
        "platform": lambda data, name: parse_platform(data, name, known, settings=settings),
        "supervisor": lambda data, name: parse_supervisor(data, name, known, settings=settings, exempt=exempt,
                                                          tiers=tiers),
        "inspection": lambda data, name: parse_inspection(data, name, known, settings=settings),
        "bonus": lambda data, name: parse_bonus(data, name, known),
    }
    frames = {}
    for kind, parse in parsers.items():
        if kind not in files:
            frames[kind] = empty_frame(kind)
            continue
        frame = checks.parse(kind, parse)
        if frame is None:
            continue
        name = files[kind].name
        of_exempt = pd.Series(
            [(u, s) in exempt for u, s in zip(frame[C.UNIT], frame[C.SECTION])], index=frame.index, dtype=bool
        )
        for unit, section, row in frame.loc[of_exempt, [C.UNIT, C.SECTION, C.ROW]].itertuples(index=False):
            warnings.append(f"{name} 第 {row} 行：{unit} {section} 免评（连续两年满意单位），其{L.SOURCES[kind]}数据不计")
        frames[kind] = frame[~of_exempt].reset_index(drop=True)

    if checks.rejected:
        unchecked = []
        if known is None:
            unchecked.append(_UNCHECKED_SECTIONS)
        if not tiers and "supervisor" in files:
            unchecked.append(_UNCHECKED_TIERS)
        raise BundleRejected(directory, checks.rejected, unchecked)
    if year is None:
        raise DomainError("无法确定评议年度：请用 --year 指定，或提供 history.csv")
    inputs = YearInputs(year=year, sections=sections, history=history, **frames)
    return inputs, warnings


def score_bundle(
    directory: Path, year: int | None = None, settings: RuleSettings = PINGYANG_2021
) -> Scorecard:
    """Read and score a bundle; the reading warnings come first in the card's warnings.
    A problem the scoring finds in a file's rows (a NET vote for a section that is not
    shortlisted) is reported against that file, like any bad row (BundleRejected)."""
    inputs, warnings = read_bundle(directory, year, settings)
    try:
        card = score_year(inputs, settings)
    except InputError as error:
        files, _ = _bundle_files(Path(directory))
        name = files[error.source].name if error.source in files else error.source
        rejected = ImportRejected(name, [RowError(row or 0, "", message) for row, message in error.problems])
        raise BundleRejected(Path(directory), [rejected]) from None
    card.warnings[:0] = warnings
    return card


def _number(value: Any) -> float | None:
    """A number cell of the scorecard's frame (NaN or None: not applicable)."""
    return None if value is None or pd.isna(value) else float(value)


def scorecard_json(card: Scorecard) -> dict[str, Any]:
    """The object docs/rules.md §6.12 describes: unrounded scores, null where not applicable."""
    sections = []
    for record in card.sections.to_dict("records"):
        exempt = bool(record[C.EXEMPT])
        item: dict[str, Any] = {"unit": record[C.UNIT], "section": record[C.SECTION], "exempt": exempt}
        for key, column in (
            ("service", C.SERVICE), ("platform", C.PLATFORM_SCORE), ("supervisor", C.SUPERVISOR),
            ("inspection", C.INSPECTION), ("daily", C.DAILY), ("network", C.NETWORK),
            ("bonus", C.BONUS), ("total", C.TOTAL),
        ):
            item[key] = None if exempt else _number(record[column])
        item["shortlist"] = record[C.SHORTLIST] or None
        item["result"] = record[C.RESULT] or None
        item["warnings"] = list(record[C.WARNINGS])
        sections.append(item)
    return {"year": card.year, "sections": sections, "warnings": list(card.warnings)}
