"""The citizen ratings' figures (好差评数据, docs/rules.md §7.7): per section, per window (an entity of
a window assessment), per unit (its sections and the windows given to it,
`AssessedEntity.unit_id`) and per month (the local month of `Rating.day`), over one month
or a range of months; and the records a window assessment takes from them
(`fill_from_figures`).

The figures, from the counted ratings only (a duplicate or a rating over a limit is
stored uncounted and never shows here):

- the ratings by level (5 非常满意 … 1 非常不满意) and their total (评价数);
- 好评率 = (非常满意 + 满意 + 基本满意) ÷ 评价数: the national 好差评 counts the first three
  levels as 好评, 不满意 and 非常不满意 as 差评;
- 差评数: the counted ratings of level 2 or 1;
- 差评整改率（按时）: of the follow-up cases of the months' 差评 (the month of the rating,
  not of the case's steps), those rectified (`rectified_at`) by their due time
  (`due_at`) ÷ those whose outcome is known, that is rectified on time, or past their
  due time (rectified late, or not at all) at `now`. A case still open and not yet due
  counts in neither: the running month is not marked down for cases the unit still has
  days to rectify, and a case rectified early does not wait for its due time to count.
  A case closed without a rectification (the call-back found nothing to put right) is
  not rectified: once due it counts against the rate, so the unit records what it did;
- 回访满意率 = the cases whose citizen said the handling was satisfactory ÷ the cases
  with a verdict (no answer: not counted);
- 主动评价率 = counted ratings ÷ served cases (办件数, imported per section or window and
  month, `ServedCount`), over the (place, month) cells that have a served count: a
  month without one is left out of both sides, never read as 0 cases. A unit's adds up
  its sections' and windows' cells;
- 12345 热线回访满意率, 省级件 and 市级件 = 满意数 ÷ 回访数 as imported per unit and month
  (`HotlineRate`), counts not percentages: a quarter's rate is its months' counts added
  up, not the mean of their rates. A unit figure only: a section shows none; a window
  in an assessment takes its unit's.

Arithmetic: integer numerators and denominators (`Ratio`); a percentage is shown half up
to two decimals (4 ÷ 7 → 57.14%), and a figure whose denominator is 0 is "—" (no data),
never 0% or 100%. A longer period's figure is the sum of its months' numerators over the
sum of their denominators.

Records for schemes (`fill_from_figures`): an indicator with `figure:` (scoring/schemes/
scheme.py, FIGURES) gets, for each entity of the period's assessment it applies to, a
record whose 数值 is the entity's figure over the period's months: a window's own
(its ratings, cases and served counts, by the entity's id), and for the 12345 rates the
figure of the unit the entity is given to (none: no record). A rate is written floored
to thousandths of a percent ("57.142%"): the scheme's lines (100% → +2) then compare as
the exact rate would (99.9996% is not 100%), where the page's two decimals would round it
up; 差评数 is written as the count and as the record's 数量, and none at all when it is 0
(no 差评 is no event: a per_event, escalating or count-band rule gives what a record of 0
would, and a fixed rule would otherwise award its points for nothing). The records are marked
(`recorded_by` = FILLED_BY, which no staff username can be: those are ASCII) and a new
fill replaces the period's earlier marked records. It writes no record where the figure
is "—", none beside a record the office entered itself for that entity and indicator
(the office's own stands: a rate's record with its observed points would otherwise be
outdone by a later one without them), and none that the scheme's rule cannot take (a
rate below the lowest line of a rule whose points below it are observed needs the
office's points): each left out and why is in the summary the page shows. A closed
period, or one rolled up from others, is refused.

Queries: four, whatever the county's size (the ratings grouped by place, month and
level; the cases of the months' 差评; the served counts; the hotline counts), then the
figures in Python by the pure functions below (`cell_tallies`, `figures_of`)."""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from markupsafe import Markup
from sqlalchemy import delete, extract, func, select
from sqlalchemy.orm import Session

from scoring.engine import InputError
from scoring.schemes import columns as S
from scoring.schemes.engine import ENTITY_COLUMNS, RECORD_COLUMNS, check_inputs
from scoring.schemes.exact import text as milli_text
from scoring.schemes.exact import to_milli
from scoring.schemes.rollup import months_of
from scoring.schemes.scheme import FIGURES, Indicator, Scheme
from voting.audit import audit
from voting.core.clock import aware
from voting.core.errors import DomainError
from voting.core.models import utcnow
from voting.core.svg import GRID, MUTED, SMALL, WIDTH, esc, fit, notice, num, svg, text
from voting.lists.models import Campaign, Section, Unit
from voting.ratings.models import FollowupCase, HotlineLevel, HotlineRate, Rating, ServedCount
from voting.ratings.ratings import LEVELS, POOR
from voting.schemes import assessments
from voting.schemes.models import AssessedEntity, Assessment, AssessmentPeriod, AssessmentRecord

NO_DATA = "—"
GOOD = frozenset({5, 4, 3})  # 好评：非常满意、满意、基本满意
SHOWN_LEVELS = tuple(LEVELS)  # 5 … 1, best first, as the page lists them
GOOD_RATE, POOR_COUNT, RECTIFIED_RATE, REVISIT_RATE, ACTIVE_RATE, PROVINCE_RATE, CITY_RATE = FIGURES
FILLED_BY = "好差评取数"  # AssessmentRecord.recorded_by of the records fill_from_figures writes
MAX_MONTHS = 60  # the longest range a table covers
SECTION, WINDOW, UNIT = "section", "window", "unit"
KINDS = {SECTION: "科室", WINDOW: "窗口", UNIT: "单位"}
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits only: \d takes other scripts'


class FiguresError(DomainError):
    status = 400


class FillRefused(DomainError):
    status = 409


# ---- the pure part: exact ratios and the figures of rows -------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """numerator ÷ denominator, exactly; no denominator: no data."""

    numerator: int = 0
    denominator: int = 0

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.numerator + other.numerator, self.denominator + other.denominator)

    @property
    def known(self) -> bool:
        return self.denominator > 0

    @property
    def hundredths(self) -> int | None:
        """The percentage in hundredths, rounded half up: 4 ÷ 7 → 5714 (57.14%)."""
        if not self.denominator:
            return None
        return (2 * 10_000 * self.numerator + self.denominator) // (2 * self.denominator)

    @property
    def fraction(self) -> float | None:
        """The percentage as shown, as a fraction (0.5714) for a spreadsheet's % format."""
        hundredths = self.hundredths
        return None if hundredths is None else hundredths / 10_000

    @property
    def floored_milli(self) -> int | None:
        """The percentage in thousandths, rounded down (4 ÷ 7 → 57142): what a scheme's
        record takes, so that a line compares as the exact rate would."""
        return None if not self.denominator else self.numerator * 100_000 // self.denominator

    def __str__(self) -> str:
        hundredths = self.hundredths
        return NO_DATA if hundredths is None else f"{hundredths // 100}.{hundredths % 100:02d}%"


@dataclass(frozen=True)
class Tally:
    """What figures are made of, for a place and a month, or added up over places and
    months: the counted ratings by level (index level − 1), and the ratios' counts."""

    levels: tuple[int, ...] = (0, 0, 0, 0, 0)
    rectified: Ratio = Ratio()  # cases rectified by their due time ÷ cases whose outcome is known
    verdicts: Ratio = Ratio()  # cases the citizen was satisfied with ÷ cases with a verdict
    active: Ratio = Ratio()  # counted ratings ÷ served cases, in the months with a served count
    province: Ratio = Ratio()  # 12345 省级件：满意数 ÷ 回访数
    city: Ratio = Ratio()  # 12345 市级件

    def __add__(self, other: Tally) -> Tally:
        return Tally(tuple(a + b for a, b in zip(self.levels, other.levels)), self.rectified + other.rectified,
                     self.verdicts + other.verdicts, self.active + other.active, self.province + other.province,
                     self.city + other.city)


EMPTY = Tally()


def add_up(tallies: Iterable[Tally]) -> Tally:
    total = EMPTY
    for tally in tallies:
        total = total + tally
    return total


@dataclass(frozen=True)
class Figures:
    """A place's figures over its months (see the module)."""

    levels: dict[int, int]  # level (5 … 1) → counted ratings
    total: int  # 评价数
    good: Ratio  # 好评率
    poor: int  # 差评数
    rectified: Ratio  # 差评整改率（按时）
    verdicts: Ratio  # 回访满意率
    active: Ratio  # 主动评价率
    province: Ratio  # 12345 省级件回访满意率
    city: Ratio  # 12345 市级件回访满意率

    @property
    def served(self) -> int | None:
        """The served cases behind 主动评价率 (None: none imported)."""
        return self.active.denominator if self.active.known else None

    def of(self, name: str) -> Ratio | int:
        """The figure named as a scheme names it (FIGURES)."""
        if name == POOR_COUNT:
            return self.poor
        rates: dict[str, Ratio] = {GOOD_RATE: self.good, RECTIFIED_RATE: self.rectified, REVISIT_RATE: self.verdicts,
                                   ACTIVE_RATE: self.active, PROVINCE_RATE: self.province, CITY_RATE: self.city}
        return rates[name]


def figures_of(tally: Tally) -> Figures:
    levels = {level: tally.levels[level - 1] for level in SHOWN_LEVELS}
    total = sum(levels.values())
    return Figures(levels=levels, total=total, good=Ratio(sum(levels[level] for level in GOOD), total),
                   poor=sum(levels[level] for level in POOR), rectified=tally.rectified, verdicts=tally.verdicts,
                   active=tally.active, province=tally.province, city=tally.city)


@dataclass(frozen=True)
class RatingCount:
    """Counted ratings of a place ("section:12", "entity:5") in a month at a level."""

    place: str
    month: str
    level: int
    count: int


@dataclass(frozen=True)
class CaseRow:
    """The follow-up case of a 差评 of a place, by the month of the rating."""

    place: str
    month: str
    due_at: datetime
    rectified_at: datetime | None
    satisfied: bool | None


@dataclass(frozen=True)
class ServedRow:
    place: str
    month: str
    served: int


@dataclass(frozen=True)
class HotlineRow:
    unit_id: int
    month: str
    level: HotlineLevel
    revisits: int
    satisfied: int


def unit_place(unit_id: int) -> str:
    """A unit's key among the places (its 12345 counts)."""
    return f"unit:{unit_id}"


def case_outcome(case: CaseRow, now: datetime) -> tuple[bool, bool]:
    """(whether the case's on-time outcome is known at `now`, whether it was rectified
    on time): rectified by its due time, or past its due time."""
    due = aware(case.due_at)
    rectified = aware(case.rectified_at)
    on_time = rectified is not None and rectified <= due
    return on_time or aware(now) > due, on_time


def cell_tallies(ratings: Iterable[RatingCount], cases: Iterable[CaseRow], served: Iterable[ServedRow],
                 hotline: Iterable[HotlineRow], now: datetime) -> dict[tuple[str, str], Tally]:
    """Each (place, month)'s tally from the rows (a unit's 12345 counts under
    `unit_place`)."""
    levels: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 5)
    for row in ratings:
        levels[(row.place, row.month)][row.level - 1] += row.count
    rectified: dict[tuple[str, str], Ratio] = defaultdict(Ratio)
    verdicts: dict[tuple[str, str], Ratio] = defaultdict(Ratio)
    for case in cases:
        key = (case.place, case.month)
        known, on_time = case_outcome(case, now)
        rectified[key] += Ratio(int(on_time), int(known))
        if case.satisfied is not None:
            verdicts[key] += Ratio(int(case.satisfied), 1)
    counts = {(row.place, row.month): row.served for row in served}
    lines: dict[tuple[str, str], dict[HotlineLevel, Ratio]] = defaultdict(dict)
    for line in hotline:
        lines[(unit_place(line.unit_id), line.month)][line.level] = Ratio(line.satisfied, line.revisits)
    found = {}
    for key in {*levels, *rectified, *verdicts, *counts, *lines}:
        rated = levels.get(key, [0] * 5)
        by_level = lines.get(key, {})
        found[key] = Tally(
            levels=tuple(rated), rectified=rectified.get(key, Ratio()), verdicts=verdicts.get(key, Ratio()),
            active=Ratio(sum(rated), counts[key]) if key in counts else Ratio(),
            province=by_level.get(HotlineLevel.province, Ratio()), city=by_level.get(HotlineLevel.city, Ratio()))
    return found


def tally_of(cells: Mapping[tuple[str, str], Tally], places: Iterable[str], months: Sequence[str]) -> Tally:
    """The places' cells of the months added up."""
    return add_up(cells[(place, month)] for place in places for month in months if (place, month) in cells)


# ---- months ---------------------------------------------------------------------------------------------


def month_of(text: str) -> str:
    """"2024-05" as written, checked; FiguresError otherwise."""
    cleaned = (text or "").strip()
    match = _MONTH.fullmatch(cleaned)
    if not match or not 2000 <= int(match.group(1)) <= 2100 or not 1 <= int(match.group(2)) <= 12:
        shown = cleaned if len(cleaned) <= 20 else cleaned[:20] + "…"
        raise FiguresError(f"“{shown}”不是月份：应为 2024-05 这样的年份和月份（2000–2100 年）。")
    return cleaned


def month_span(first: str, last: str) -> list[str]:
    """The months from `first` to `last` (both "2024-05", checked), at most MAX_MONTHS."""
    first, last = month_of(first), month_of(last)
    if last < first:
        raise FiguresError(f"结束月份 {last} 早于开始月份 {first}。")
    (y1, m1), (y2, m2) = (map(int, first.split("-")), map(int, last.split("-")))
    count = (y2 - y1) * 12 + m2 - m1 + 1
    if count > MAX_MONTHS:
        raise FiguresError(f"一次最多统计 {MAX_MONTHS} 个月，现在选了 {count} 个月。")
    return [f"{(y1 * 12 + m1 - 1 + i) // 12}-{(m1 - 1 + i) % 12 + 1:02d}" for i in range(count)]


def this_month(now: datetime, zone: str) -> str:
    """The local month of `now`."""
    return aware(now).astimezone(ZoneInfo(zone)).strftime("%Y-%m")


def _bounds(months: Sequence[str]) -> tuple[date, date]:
    """The first day of the first month and the first day after the last."""
    year, month = map(int, months[0].split("-"))
    last_year, last_month = map(int, months[-1].split("-"))
    after = date(last_year + last_month // 12, last_month % 12 + 1, 1)
    return date(year, month, 1), after


def _month(year: Any, month: Any) -> str:
    return f"{int(year):04d}-{int(month):02d}"


# ---- the query service ------------------------------------------------------------------------------------


def cells(session: Session, months: Sequence[str], now: datetime) -> dict[tuple[str, str], Tally]:
    """Every place's tally of each of `months` (sorted, consecutive): four queries."""
    first, after = _bounds(months)
    year, month = extract("year", Rating.day), extract("month", Rating.day)
    ratings = [RatingCount(place, _month(y, m), int(level), int(count)) for place, y, m, level, count in session.execute(
        select(Rating.place, year, month, Rating.level, func.count())
        .where(Rating.counted.is_(True), Rating.day >= first, Rating.day < after)
        .group_by(Rating.place, year, month, Rating.level))]
    cases = [CaseRow(place, f"{day:%Y-%m}", due_at, rectified_at, satisfied)
             for place, day, due_at, rectified_at, satisfied in session.execute(
                 select(Rating.place, Rating.day, FollowupCase.due_at, FollowupCase.rectified_at,
                        FollowupCase.citizen_satisfied)
                 .join(Rating, Rating.id == FollowupCase.rating_id)
                 .where(Rating.day >= first, Rating.day < after))]
    served = [ServedRow(place, month_label, count) for place, month_label, count in session.execute(
        select(ServedCount.place, ServedCount.month, ServedCount.served).where(ServedCount.month.in_(list(months))))]
    hotline = [HotlineRow(unit_id, month_label, level, revisits, satisfied)
               for unit_id, month_label, level, revisits, satisfied in session.execute(
                   select(HotlineRate.unit_id, HotlineRate.month, HotlineRate.level, HotlineRate.revisits,
                          HotlineRate.satisfied).where(HotlineRate.month.in_(list(months))))]
    return cell_tallies(ratings, cases, served, hotline, now)


@dataclass(frozen=True)
class Row:
    """One place of a table: its key ("section:12", "entity:5", "unit:3"), its name, what
    it belongs to (a section's unit, a window's assessment and unit), its figures."""

    key: str
    name: str
    group: str
    figures: Figures
    extra: str = ""  # a window's unit


@dataclass(frozen=True)
class FigureTable:
    kind: str  # SECTION, WINDOW or UNIT
    months: list[str]
    rows: list[Row]
    total: Figures  # every place of the table together

    @property
    def hotline(self) -> bool:
        """Whether the table shows the 12345 figures (a unit's)."""
        return self.kind in (UNIT, WINDOW)

    @property
    def label(self) -> str:
        return months_text(self.months)


def months_text(months: Sequence[str]) -> str:
    """"2024年5月" or "2024年5月至2024年7月"."""
    def one(label: str) -> str:
        year, month = label.split("-")
        return f"{year}年{int(month)}月"

    return one(months[0]) if len(months) == 1 else f"{one(months[0])}至{one(months[-1])}"


def _sections(session: Session, campaign: Campaign) -> list[tuple[Unit, Section]]:
    return [(unit, section) for unit, section in session.execute(
        select(Unit, Section).join(Section, Section.unit_id == Unit.id).where(Unit.campaign_id == campaign.id)
        .order_by(Unit.number, Unit.id, Section.number, Section.id)).all()]


def _windows(session: Session) -> list[tuple[AssessedEntity, str, str]]:
    """Every entity of every assessment (the newest assessment first), its assessment's
    name and its unit's ("" for none)."""
    rows = session.execute(
        select(AssessedEntity, Assessment.name, Unit.name).join(Assessment, Assessment.id == AssessedEntity.assessment_id)
        .outerjoin(Unit, Unit.id == AssessedEntity.unit_id)
        .order_by(Assessment.created_at.desc(), Assessment.id.desc(), AssessedEntity.position, AssessedEntity.id))
    return [(entity, assessment, unit or "") for entity, assessment, unit in rows.all()]


def _unit_members(session: Session, campaign: Campaign) -> tuple[list[Unit], dict[int, list[str]]]:
    """The campaign's units in order, and each unit's places: its sections and the
    entities given to it."""
    units = list(session.scalars(select(Unit).where(Unit.campaign_id == campaign.id).order_by(Unit.number, Unit.id)))
    members: dict[int, list[str]] = {unit.id: [] for unit in units}
    for unit_id, section_id in session.execute(
            select(Section.unit_id, Section.id).join(Unit, Unit.id == Section.unit_id)
            .where(Unit.campaign_id == campaign.id)):
        members[unit_id].append(f"section:{section_id}")
    if units:
        for linked, entity_id in session.execute(select(AssessedEntity.unit_id, AssessedEntity.id)
                                                 .where(AssessedEntity.unit_id.in_(list(members)))):
            if linked is not None:
                members[linked].append(f"entity:{entity_id}")
    return units, members


def figure_table(session: Session, campaign: Campaign | None, kind: str, months: Sequence[str],
                 now: datetime) -> FigureTable:
    """The figures of every place of `kind` (SECTION: the campaign's sections; WINDOW:
    every assessment's entities, with their units' 12345 figures; UNIT: the campaign's
    units) over `months`, and of them all together."""
    if kind not in KINDS:
        raise FiguresError("层级应为 科室、窗口 或 单位。")
    months = list(months)
    found = cells(session, months, now)
    rows: list[Row] = []
    tallies: list[Tally] = []
    if kind == SECTION and campaign is not None:
        for unit, section in _sections(session, campaign):
            tally = tally_of(found, [f"section:{section.id}"], months)
            tallies.append(tally)
            rows.append(Row(f"section:{section.id}", section.name, unit.name, figures_of(tally)))
    elif kind == WINDOW:
        for entity, assessment, unit_name in _windows(session):
            tallies.append(tally_of(found, [f"entity:{entity.id}"], months))  # the total: no unit's 12345 twice
            rows.append(Row(f"entity:{entity.id}", entity.name, assessment,
                            figures_of(_window_tally(found, entity, months)), unit_name))
    elif kind == UNIT and campaign is not None:
        units, members = _unit_members(session, campaign)
        for unit in units:
            tally = tally_of(found, [*members[unit.id], unit_place(unit.id)], months)
            tallies.append(tally)
            rows.append(Row(unit_place(unit.id), unit.name, "", figures_of(tally)))
    return FigureTable(kind, months, rows, figures_of(add_up(tallies)))


def entity_figures(session: Session, entities: Sequence[AssessedEntity], months: Sequence[str],
                   now: datetime) -> dict[int, Figures]:
    """Each entity's figures over `months`: its own ratings, cases and served counts,
    and its unit's 12345 counts (none without a unit)."""
    found = cells(session, months, now)
    return {entity.id: figures_of(_window_tally(found, entity, months)) for entity in entities}


def _window_tally(found: Mapping[tuple[str, str], Tally], entity: AssessedEntity, months: Sequence[str]) -> Tally:
    """A window's own tally, with the 12345 counts of its unit (none without one)."""
    own = tally_of(found, [f"entity:{entity.id}"], months)
    hotline = tally_of(found, [unit_place(entity.unit_id)], months) if entity.unit_id is not None else EMPTY
    return Tally(own.levels, own.rectified, own.verdicts, own.active, hotline.province, hotline.city)


# ---- records for a window assessment --------------------------------------------------------------------


@dataclass
class FillSummary:
    """What `fill_from_figures` did: records written and replaced, and the pairs left
    out (entity, indicator, why)."""

    period: str
    written: int = 0
    replaced: int = 0
    kept: list[tuple[str, str]] = field(default_factory=list)  # the office's own record stands
    no_data: list[tuple[str, str]] = field(default_factory=list)  # the figure is "—"
    zero: list[tuple[str, str]] = field(default_factory=list)  # 差评数 0: no event, no record
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # the rule cannot take it: why

    def message(self) -> str:
        said = f"已从好差评数据取数：写入 {self.written} 条记录"
        said += f"（替换此前取数的 {self.replaced} 条）" if self.replaced else ""
        said += "。"
        if self.kept:
            said += f"{len(self.kept)} 项已有人工录入的记录，保留人工记录，未取数。"
        if self.no_data:
            said += f"{len(self.no_data)} 项没有数据（—），未写入。"
        if self.zero:
            said += f"{len(self.zero)} 项差评数为 0，不需要记录。"
        for entity, indicator, why in self.refused:
            said += f"“{entity}”的“{indicator}”未写入：{why}。"
        return said


def _value(figure: Ratio | int) -> tuple[str, int]:
    """A record's 数值 and 数量 for a figure."""
    if isinstance(figure, Ratio):
        return milli_text(figure.floored_milli or 0) + "%", 1
    return str(figure), figure


def _note(name: str, figures: Figures) -> str:
    """What the figure is made of, in the record's 说明 (the items quote it)."""
    figure = figures.of(name)
    if name == POOR_COUNT:
        return f"{name} {figure} 件（评价 {figures.total} 件）"
    assert isinstance(figure, Ratio)
    parts = {
        GOOD_RATE: f"好评 {figure.numerator} 件，评价 {figure.denominator} 件",
        RECTIFIED_RATE: f"按时整改 {figure.numerator} 件，应整改 {figure.denominator} 件",
        REVISIT_RATE: f"满意 {figure.numerator} 件，评价处理结果 {figure.denominator} 件",
        ACTIVE_RATE: f"评价 {figure.numerator} 件，办件 {figure.denominator} 件",
        PROVINCE_RATE: f"满意 {figure.numerator} 件，回访 {figure.denominator} 件",
        CITY_RATE: f"满意 {figure.numerator} 件，回访 {figure.denominator} 件",
    }
    return f"{name} {figure}（{parts[name]}）"


def _lock(session: Session, period: AssessmentPeriod) -> None:
    """One fill (or record change) of the period at a time: its row locked until the
    transaction ends (PostgreSQL; SQLite writes one at a time anyway)."""
    session.execute(select(AssessmentPeriod.id).where(AssessmentPeriod.id == period.id).with_for_update())


def fill_from_figures(session: Session, period: AssessmentPeriod, actor: str, *,
                      now: datetime | None = None) -> FillSummary:
    """Write the period's records of every indicator with `figure:` from the ratings'
    figures of the period's months (see the module), replacing the earlier filled
    ones; audited. Flush, never commit. FillRefused (409) for a closed period,
    FiguresError for a rolled-up one or a scheme without such indicators."""
    now = now or utcnow()
    assessment = session.get(Assessment, period.assessment_id)
    if assessment is None:
        raise FiguresError("没有这个考核。")
    if period.closed_at is not None:
        raise FillRefused(f"期间 {period.label} 已结束考核，不能从好差评取数：请先重新开启这一期。")
    if assessments.is_rolled_up(assessment, period):
        raise FiguresError(f"期间 {period.label} 由各考核期汇总而成：请在各考核期分别取数。")
    scheme = assessments.scheme_of(assessment)
    indicators = [indicator for indicator in scheme.indicators if indicator.figure]
    if not indicators:
        raise FiguresError("方案中没有取自好差评数据的指标（指标的 figure 项）。")
    _lock(session, period)
    entities = assessments.entities(session, assessment)
    months = months_of(period.label)
    figures = entity_figures(session, entities, months, now)
    filled = AssessmentRecord.period_id == period.id, AssessmentRecord.recorded_by == FILLED_BY
    replaced = session.scalar(select(func.count()).select_from(AssessmentRecord).where(*filled)) or 0
    session.execute(delete(AssessmentRecord).where(*filled).execution_options(synchronize_session="fetch"))
    own = {(entity_id, indicator) for entity_id, indicator in session.execute(
        select(AssessmentRecord.entity_id, AssessmentRecord.indicator).where(AssessmentRecord.period_id == period.id))}
    summary = FillSummary(period.label, replaced=replaced)
    wanted: list[tuple[AssessedEntity, Indicator, str, int, str]] = []
    for entity in entities:
        for indicator in indicators:
            if not indicator.applies_to(entity.kind):
                continue
            if (entity.id, indicator.id) in own:
                summary.kept.append((entity.name, indicator.name))
                continue
            figure = figures[entity.id].of(indicator.figure)
            if isinstance(figure, Ratio) and not figure.known:
                summary.no_data.append((entity.name, indicator.name))
                continue
            if figure == 0 and not isinstance(figure, Ratio):
                summary.zero.append((entity.name, indicator.name))
                continue
            value, count = _value(figure)
            wanted.append((entity, indicator, value, count, _note(indicator.figure, figures[entity.id])))
    refused = _refused(scheme, entities, period.label, wanted)
    stored = []
    for number, (entity, indicator, value, count, note) in enumerate(wanted, start=1):
        if number in refused:
            summary.refused.append((entity.name, indicator.name, refused[number]))
            continue
        stored.append(AssessmentRecord(period_id=period.id, entity_id=entity.id, indicator=indicator.id, count=count,
                                       value=value, note=note, recorded_by=FILLED_BY, recorded_at=now))
    session.add_all(stored)
    session.flush()
    summary.written = len(stored)
    audit.record(session, "assessment.records_fill", actor=actor, detail={
        "assessment": assessment.name, "period": period.label, "months": [months[0], months[-1]],
        "indicators": [indicator.id for indicator in indicators], "written": summary.written,
        "replaced": summary.replaced, "kept": len(summary.kept), "no_data": len(summary.no_data),
        "zero": len(summary.zero), "refused": len(summary.refused)})
    return summary


def _refused(scheme: Scheme, entities: Sequence[AssessedEntity], label: str,
             wanted: Sequence[tuple[AssessedEntity, Indicator, str, int, str]]) -> dict[int, str]:
    """The records (by their number, from 1) the scheme's rules cannot take, and why
    (the engine's own check, as an entered record is checked)."""
    if not wanted:
        return {}
    people = pd.DataFrame([{S.ENTITY: e.name, S.GROUP: e.group_id, S.KIND: e.kind, S.ORDER: e.position,
                            S.WINDOW: e.window} for e in entities], columns=ENTITY_COLUMNS)
    records = pd.DataFrame([{S.PERIOD: label, S.ENTITY: entity.name, S.INDICATOR: indicator.id, S.COUNT: count,
                             S.VALUE: to_milli(value), S.LEVEL: value, S.POINTS: None, S.NOTE: note, S.ROW: number}
                            for number, (entity, indicator, value, count, note) in enumerate(wanted, start=1)],
                           columns=RECORD_COLUMNS).astype({S.VALUE: "Int64", S.POINTS: "Int64", S.COUNT: "int64"})
    try:
        check_inputs(scheme, people, records)
    except InputError as error:
        found: dict[int, str] = {}
        for row, message in error.problems:
            if row:
                found[int(row)] = "；".join([found[int(row)], message]) if int(row) in found else message
        return found
    return {}


# ---- the chart ------------------------------------------------------------------------------------------

CHART_NAME_RIGHT = 150.0
CHART_BAR_LEFT = 154.0
CHART_BAR_RIGHT = WIDTH - 58.0
CHART_ROW = 20.0
BAR_COLOUR = "#0072b2"


def good_rate_chart(table: FigureTable) -> Markup:
    """好评率 of each place with ratings as horizontal bars on one 0–100% scale, the
    highest first (ties in the table's order), each with its percentage and its count of
    ratings; the places without ratings are left out, and the summary says how many."""
    title = f"{months_text(table.months)}各{KINDS[table.kind]}好评率"
    shown = [row for row in table.rows if row.figures.good.known]
    if not shown:
        return notice(title, "所选月份还没有计入的评价", "chart-good-rate")
    ranked = sorted(enumerate(shown), key=lambda pair: (-(pair[1].figures.good.hundredths or 0), pair[0]))
    top = 28.0
    body = []
    for tick in range(0, 101, 25):
        x = CHART_BAR_LEFT + tick / 100 * (CHART_BAR_RIGHT - CHART_BAR_LEFT)
        bottom = top + len(ranked) * CHART_ROW
        body.append(f'<line x1="{num(x)}" y1="{num(top)}" x2="{num(x)}" y2="{num(bottom)}" stroke="{GRID}" '
                    f'stroke-width="1"/>')
        body.append(text(x, top - 8, f"{tick}%", size=SMALL, anchor="middle", fill=MUTED))
    for i, (_, row) in enumerate(ranked):
        y0 = top + i * CHART_ROW
        rate = row.figures.good
        width = (rate.hundredths or 0) / 10_000 * (CHART_BAR_RIGHT - CHART_BAR_LEFT)
        name = f"{row.group} · {row.name}" if table.kind == SECTION else row.name
        tip = f"{name}：好评率 {rate}（好评 {rate.numerator} 件，评价 {rate.denominator} 件）"
        body.append(
            f'<g class="bar" data-place="{esc(row.key)}" data-rate="{esc(rate)}"><title>{esc(tip)}</title>'
            + text(4, y0 + 14, fit(name, CHART_NAME_RIGHT - 4, 12), size=12, cls="name")
            + f'<rect x="{num(CHART_BAR_LEFT)}" y="{num(y0 + 4)}" width="{num(width)}" height="12" fill="{BAR_COLOUR}"/>'
            + text(CHART_BAR_LEFT + width + 3, y0 + 14, f"{rate}", size=SMALL, cls="rate")
            + "</g>")
    bottom = top + len(ranked) * CHART_ROW
    left_out = len(table.rows) - len(shown)
    summary = f"{len(shown)} 个{KINDS[table.kind]}有评价"
    best, worst = ranked[0][1], ranked[-1][1]
    summary += f"，最高 {best.name}（{best.figures.good}），最低 {worst.name}（{worst.figures.good}）"
    if left_out:
        summary += f"；另有 {left_out} 个没有评价，未画出"
    body.append(text(4, bottom + 18, fit("好评率 =（非常满意 + 满意 + 基本满意）÷ 评价数", WIDTH - 8, SMALL),
                     size=SMALL, fill=MUTED, cls="axis-title"))
    return svg(bottom + 28, title, summary, body, "chart-good-rate")
