"""The ratings' two imports (Excel .xlsx or CSV, docs/rules.md §6.1: Chinese headers,
English aliases, the header below title rows, names folded, the whole file or nothing,
every bad cell named by row and column, a template's example row refused):

- **办件数** (`import_served`): the cases each window or section served in a month, the
  denominator of its 主动评价率 (voting/ratings/figures.py). Columns 窗口 (an entity of
  the window assessment chosen on the page) or 单位名称 + 科室 (a section of the
  current campaign), 月份 (2024-05; 2024/5, 2024年5月 and a date cell are read as their
  month), 办件数 (a whole number).
- **12345 热线回访** (`import_hotline`): a unit's revisits of a month and level, as the
  counts the hotline's report gives: 单位名称 (a unit of the current campaign), 月份,
  级别 (省级件 or 市级件), 回访数, 满意数. Counts, not a percentage: the rate is worked out
  exactly from them, and a quarter's or a half-year's rate adds up its months' counts
  (a mean of monthly percentages would weigh a month of 2 calls as one of 200). An
  office that has only the percentage writes the counts behind it (85.71% of 7 calls:
  回访数 7, 满意数 6).

A row replaces the stored figure of its place and month (and level): importing a month
again corrects it, and the places and months the file does not name keep theirs. A file
naming the same place and month twice is refused. Each import is audited with its
counts (rows, added, replaced, months), not its contents."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from voting.audit import audit
from voting.core.errors import ImportRejected, RowError
from voting.core.models import utcnow
from voting.core.numbers import INT_MAX, whole_number
from voting.core.tables import ROW, Column, Table, fold, read_table
from voting.lists.models import Campaign, Section, Unit
from voting.ratings.models import HOTLINE_LEVEL_LABELS, HotlineLevel, HotlineRate, ServedCount
from voting.ratings.ratings import place_of
from voting.schemes.models import AssessedEntity, Assessment

SERVED_COLUMNS = [
    Column("window", ("窗口", "window", "窗口名称"), required=False),
    Column("unit", ("单位名称", "单位", "unit", "unitname"), required=False),
    Column("section", ("科室", "section", "科室名称", "sectionname"), required=False),
    Column("month", ("月份", "month")),
    Column("served", ("办件数", "served", "办件量")),
]
HOTLINE_COLUMNS = [
    Column("unit", ("单位名称", "单位", "unit", "unitname")),
    Column("month", ("月份", "month")),
    Column("level", ("级别", "level")),
    Column("revisits", ("回访数", "revisits", "回访件数")),
    Column("satisfied", ("满意数", "satisfied", "满意件数")),
]
LEVELS_BY_TEXT = {"省级件": HotlineLevel.province, "省级": HotlineLevel.province, "province": HotlineLevel.province,
                  "市级件": HotlineLevel.city, "市级": HotlineLevel.city, "city": HotlineLevel.city}
MONTH_RULE = "应为 2024-05 这样的年份和月份"
_COUNT = re.compile(r"([0-9]+)(\.0*)?")  # Excel's 12.0 is 12
_MONTHS = (
    re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})"),  # 2024-05, 2024/5, 2024.5
    re.compile(r"([0-9]{4})年([0-9]{1,2})月?"),  # 2024年5月
    # A date cell (Excel's 2024-05-01 00:00:00), or a date typed: its month.
    re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})[-/.][0-9]{1,2}(?:(?:\s+|T)[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"),
    re.compile(r"([0-9]{4})([0-9]{2})"),  # 202405
)
_LOCK_CLASS = 0x72617469  # "rati", as voting/ratings/ratings.py
_SERVED_LOCK, _HOTLINE_LOCK = 1, 2
SHOWN_NAME = 50  # a name quoted in a message, at most this many characters


@dataclass
class ImportSummary:
    """What an import stored: its rows, how many were new and how many replaced an
    earlier figure, and the months it covered."""

    filename: str
    rows: int = 0
    added: int = 0
    replaced: int = 0
    months: list[str] = field(default_factory=list)


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN_NAME else text[:SHOWN_NAME] + "…"


class _Reader:
    """A file's data rows and every bad cell of them."""

    def __init__(self, data: bytes, filename: str, columns: list[Column]):
        self.filename = filename
        self.table: Table = read_table(data, filename, columns)
        self.errors: list[RowError] = []

    def rows(self) -> list[dict]:
        return self.table.frame.to_dict("records")

    def error(self, row: int, key: str, reason: str) -> None:
        self.errors.append(RowError(row, self.table.where(key), reason))

    def month(self, cells: dict) -> str | None:
        """The cell's month as "2024-05"."""
        text = unicodedata.normalize("NFKC", cells["month"]).strip()
        if not text:
            self.error(cells[ROW], "month", f"月份为空：{MONTH_RULE}")
            return None
        for pattern in _MONTHS:
            match = pattern.fullmatch(text)
            if match and 2000 <= int(match.group(1)) <= 2100 and 1 <= int(match.group(2)) <= 12:
                return f"{match.group(1)}-{int(match.group(2)):02d}"
        self.error(cells[ROW], "month", f"月份“{_shown(cells['month'])}”无效：{MONTH_RULE}（2000–2100 年）")
        return None

    def count(self, cells: dict, key: str, label: str) -> int | None:
        """A whole number from 0 to INT_MAX (voting/core/numbers.py); full-width digits
        fold to ASCII as in every import."""
        text = fold(cells[key])
        match = _COUNT.fullmatch(text)
        number = whole_number(match.group(1)) if match else None
        if number is None:
            shown = f"{label}为空" if not text else f"{label}“{_shown(cells[key])}”无效"
            self.error(cells[ROW], key, f"{shown}：应为 0 到 {INT_MAX} 的整数")
        return number

    def duplicate(self, seen: dict, key: object, row: int, what: str, rule: str) -> None:
        """An error naming the earlier row when `key` was seen before: `what` is the row's
        figure, `rule` what may stand once."""
        earlier = seen.setdefault(key, row)
        if earlier != row:
            self.errors.append(RowError(row, "", f"{what}与第 {earlier} 行重复：{rule}只能有一行"))

    def done(self) -> None:
        if not self.errors and not len(self.table.frame):
            self.errors.append(RowError(0, "", "表头下没有任何数据"))
        if self.errors:
            raise ImportRejected(self.filename, self.errors, len(self.table.frame))


def _take_turns(session: Session, which: int) -> None:
    """PostgreSQL: one import of a kind at a time (until the transaction ends), so that
    two at once never both insert the same place and month."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql("SELECT pg_advisory_xact_lock(CAST(:class AS integer), CAST(:key AS integer))"),
                        {"class": _LOCK_CLASS, "key": which})


def _remove_named(session: Session, model: type[ServedCount] | type[HotlineRate], keys: tuple[Any, ...],
                  named: set[tuple], months: list[str]) -> int:
    """Delete the stored rows of `model` whose `keys` (its place, month and level columns)
    the file names again (`named`): the file's rows replace them. How many there were."""
    earlier = [found[0] for found in session.execute(select(model.id, *keys).where(model.month.in_(months)))
               if tuple(found[1:]) in named]
    if earlier:
        session.execute(delete(model).where(model.id.in_(earlier)).execution_options(synchronize_session="fetch"))
    return len(earlier)


# ---- 办件数 ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    row: int
    section_id: int | None
    entity_id: int | None
    month: str
    served: int

    @property
    def place(self) -> str:
        return place_of(self.section_id, self.entity_id)


def campaign_sections(session: Session, campaign: Campaign) -> dict[tuple[str, str], int]:
    """The campaign's sections by (unit, section), as stored (folded)."""
    return {(unit, section): section_id for unit, section, section_id in session.execute(
        select(Unit.name, Section.name, Section.id).join(Section, Section.unit_id == Unit.id)
        .where(Unit.campaign_id == campaign.id))}


def assessment_windows(session: Session, assessment: Assessment) -> dict[str, int]:
    """The assessment's entities by their folded names."""
    return {fold(name): entity_id for name, entity_id in session.execute(
        select(AssessedEntity.name, AssessedEntity.id).where(AssessedEntity.assessment_id == assessment.id))}


def parse_served(data: bytes, filename: str, *, sections: Mapping[tuple[str, str], int] | None,
                 windows: Mapping[str, int] | None, year: int | None = None,
                 assessment: str | None = None) -> list[Served]:
    """The rows of a served-cases file, each naming a window of `windows` (the chosen
    assessment's, None: none chosen) or a section of `sections` (the campaign's, None:
    no campaign); ImportRejected listing every bad cell."""
    reader = _Reader(data, filename, SERVED_COLUMNS)
    found: list[Served] = []
    seen: dict = {}
    for cells in reader.rows():
        row, before = int(cells[ROW]), len(reader.errors)
        window, unit, section = fold(cells.get("window", "")), fold(cells.get("unit", "")), fold(cells.get("section", ""))
        section_id = entity_id = None
        if window and (unit or section):
            reader.error(row, "window", "窗口与单位名称、科室只填一种：窗口绩效考核的窗口填“窗口”，参评科室填“单位名称”和“科室”")
        elif window:
            if windows is None:
                reader.error(row, "window", "填写“窗口”的行须先在页面上选择窗口所属的窗口绩效考核")
            elif window not in windows:
                reader.error(row, "window", f"考核“{assessment}”中没有窗口“{_shown(cells['window'])}”")
            else:
                entity_id = windows[window]
        elif unit or section:
            if not unit:
                reader.error(row, "unit", "单位名称为空")
            if not section:
                reader.error(row, "section", "科室为空")
            if unit and section:
                if sections is None:
                    reader.error(row, "section", "还没有评议活动：参评科室的办件数须在导入参评科室名单之后导入")
                elif (unit, section) not in sections:
                    reader.error(row, "section", f"单位名称/科室 {_shown(unit)}/{_shown(section)} 不在 {year} 年度参评科室名单中")
                else:
                    section_id = sections[(unit, section)]
        else:
            reader.errors.append(RowError(row, "", "请填写窗口，或单位名称和科室"))
        month = reader.month(cells)
        served = reader.count(cells, "served", "办件数")
        if (section_id or entity_id) and month:
            name = f"窗口“{_shown(window)}”" if entity_id else f"科室 {_shown(unit)}/{_shown(section)}"
            reader.duplicate(seen, (place_of(section_id, entity_id), month), row, f"{name} {month} 的办件数",
                             "同一窗口或科室同一月份")
        if len(reader.errors) == before and month is not None and served is not None:
            found.append(Served(row, section_id, entity_id, month, served))
    reader.done()
    return found


def import_served(session: Session, data: bytes, filename: str, actor: str, *, campaign: Campaign | None,
                  assessment: Assessment | None) -> ImportSummary:
    """Store a served-cases file (see the module): each row replaces its place's count
    of its month; every bad row listed and nothing stored. Flush, never commit."""
    rows = parse_served(data, filename, sections=campaign_sections(session, campaign) if campaign else None,
                        windows=assessment_windows(session, assessment) if assessment else None,
                        year=campaign.year if campaign else None, assessment=assessment.name if assessment else None)
    _take_turns(session, _SERVED_LOCK)
    months = sorted({row.month for row in rows})
    replaced = _remove_named(session, ServedCount, (ServedCount.place, ServedCount.month),
                             {(row.place, row.month) for row in rows}, months)
    now = utcnow()
    session.add_all([ServedCount(section_id=row.section_id, entity_id=row.entity_id, place=row.place, month=row.month,
                                 served=row.served, imported_at=now, imported_by=actor) for row in rows])
    session.flush()
    summary = ImportSummary(filename, rows=len(rows), added=len(rows) - replaced, replaced=replaced, months=months)
    audit.record(session, "rating.served_import", actor=actor, campaign_id=campaign.id if campaign else None, detail={
        "filename": filename, "rows": summary.rows, "added": summary.added, "replaced": summary.replaced,
        "months": months, "assessment": assessment.name if assessment else None,
        "windows": sum(row.entity_id is not None for row in rows),
        "sections": sum(row.section_id is not None for row in rows)})
    return summary


# ---- 12345 热线回访 ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hotline:
    row: int
    unit_id: int
    month: str
    level: HotlineLevel
    revisits: int
    satisfied: int


def campaign_units(session: Session, campaign: Campaign) -> dict[str, int]:
    """The campaign's units by their (folded) names."""
    return {name: unit_id for name, unit_id in session.execute(
        select(Unit.name, Unit.id).where(Unit.campaign_id == campaign.id))}


def parse_hotline(data: bytes, filename: str, *, units: Mapping[str, int], year: int) -> list[Hotline]:
    """The rows of a 12345 revisits file, each naming a unit of `units`; ImportRejected
    listing every bad cell."""
    reader = _Reader(data, filename, HOTLINE_COLUMNS)
    found: list[Hotline] = []
    seen: dict = {}
    levels = "、".join(HOTLINE_LEVEL_LABELS.values())
    for cells in reader.rows():
        row, before = int(cells[ROW]), len(reader.errors)
        unit = fold(cells["unit"])
        if not unit:
            reader.error(row, "unit", "单位名称为空")
        elif unit not in units:
            reader.error(row, "unit", f"单位“{_shown(unit)}”不在 {year} 年度的单位名单中：名称应与参评科室名单中的单位名称一致")
        month = reader.month(cells)
        level_text = fold(cells["level"])
        level = LEVELS_BY_TEXT.get(level_text.lower())
        if level is None:
            shown = "级别为空" if not level_text else f"级别“{_shown(cells['level'])}”无效"
            reader.error(row, "level", f"{shown}：应为 {levels.replace('、', ' 或 ')}")
        revisits = reader.count(cells, "revisits", "回访数")
        satisfied = reader.count(cells, "satisfied", "满意数")
        if revisits is not None and satisfied is not None and satisfied > revisits:
            reader.error(row, "satisfied", f"满意数 {satisfied} 大于回访数 {revisits}")
        if unit in units and month and level:
            reader.duplicate(seen, (unit, month, level), row, f"{_shown(unit)} {month} {level.label}的回访数",
                             "同一单位同一月份同一级别")
        if len(reader.errors) == before:
            found.append(Hotline(row, units[unit], month or "", level or HotlineLevel.city, revisits or 0,
                                 satisfied or 0))
    reader.done()
    return found


def import_hotline(session: Session, data: bytes, filename: str, actor: str, *, campaign: Campaign) -> ImportSummary:
    """Store a 12345 revisits file (see the module): each row replaces its unit's counts
    of its month and level; every bad row listed and nothing stored. Flush, never commit."""
    rows = parse_hotline(data, filename, units=campaign_units(session, campaign), year=campaign.year)
    _take_turns(session, _HOTLINE_LOCK)
    months = sorted({row.month for row in rows})
    replaced = _remove_named(session, HotlineRate, (HotlineRate.unit_id, HotlineRate.month, HotlineRate.level),
                             {(row.unit_id, row.month, row.level) for row in rows}, months)
    now = utcnow()
    session.add_all([HotlineRate(unit_id=row.unit_id, month=row.month, level=row.level, revisits=row.revisits,
                                 satisfied=row.satisfied, imported_at=now, imported_by=actor) for row in rows])
    session.flush()
    summary = ImportSummary(filename, rows=len(rows), added=len(rows) - replaced, replaced=replaced, months=months)
    audit.record(session, "rating.hotline_import", actor=actor, campaign_id=campaign.id, detail={
        "filename": filename, "rows": summary.rows, "added": summary.added, "replaced": summary.replaced,
        "months": months, "units": len({row.unit_id for row in rows})})
    return summary


def summary_text(summary: ImportSummary, what: str) -> str:
    """The page's sentence about an import."""
    months = "、".join(summary.months[:6]) + ("等" if len(summary.months) > 6 else "")
    said = f"已导入 {summary.filename}：{summary.rows} 行{what}（{months}）"
    if summary.replaced:
        said += f"，其中 {summary.replaced} 行替换了此前导入的数据"
    return said + "。"
