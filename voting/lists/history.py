"""Earlier years' results (history.csv, docs/rules.md §6.3), and what they mean for a campaign:
exempt (免评) and last year's unsatisfied.

A file is parsed (`parse_history`), previewed against what is stored
(`preview_history`: per year the counts by result, the rows that would change a stored
result, the rows naming no section of the campaign) and then stored (`store_history`),
which refuses with StaleError if the stored rows the file touches changed since the
preview (`fingerprint`). `import_history` parses and stores at once (the CLI, the
demo). Storing never deletes: a stored row the file does not name stays.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import cast

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring import columns as C
from scoring.history import history_flags
from voting.core.errors import ImportRejected, RowError, StaleError
from voting.lists.models import RESULT_LABELS, Campaign, HistoryResult, Result
from voting.core.numbers import whole_number
from voting.audit import audit
from voting.lists.sections import MAX_SECTION_NAME, MAX_UNIT_NAME, sections_frame
from voting.core.tables import ROW, Column, fold, read_table

COLUMNS = [
    Column("year", ("年度", "year")),
    Column("unit", ("单位名称", "unit", "单位")),
    Column("section", ("科室", "section", "科室名称")),
    Column("result", ("结果", "result")),
]
_RESULTS = {label: result for result, label in RESULT_LABELS.items()} | {r.value: r for r in Result}


@dataclass
class HistorySummary:
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    # Rows naming no section of the current campaign: most likely a typo, or a
    # section that has since been renamed; they are stored all the same.
    unmatched: list[tuple[int, str, str]] = field(default_factory=list)


Parsed = tuple[int, int, str, str, Result]  # (row, year, unit, section, result)
Key = tuple[int, str, str]  # (year, unit, section)


@dataclass(frozen=True)
class Replacement:
    """A row of the file that would change a stored result."""

    row: int
    year: int
    unit: str
    section: str
    stored: Result
    new: Result


@dataclass
class YearPreview:
    """One year of the file: its rows counted by result, and what storing them does."""

    year: int
    counts: dict[Result, int]
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    # Stored rows of the year that the file does not name: kept as they are.
    kept: int = 0

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


@dataclass
class HistoryPreview:
    rows: int
    years: list[YearPreview]
    replaced: list[Replacement]
    unmatched: list[tuple[int, str, str]]
    fingerprint: str  # of the stored rows the file names, as the preview saw them

    @property
    def added(self) -> int:
        return sum(y.added for y in self.years)

    @property
    def unchanged(self) -> int:
        return sum(y.unchanged for y in self.years)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.replaced)


@dataclass(frozen=True)
class StoredRow:
    unit: str
    section: str
    result: Result
    matched: bool  # names a section of the campaign


@dataclass
class StoredYear:
    """What is stored for one year: the counts by result and the rows."""

    year: int
    counts: dict[Result, int]
    rows: list[StoredRow]

    @property
    def unmatched(self) -> int:
        return sum(not row.matched for row in self.rows)


def parse_history(data: bytes, filename: str) -> list[Parsed]:
    """(row, year, unit, section, result) for every row; ImportRejected otherwise."""
    table = read_table(data, filename, COLUMNS)
    errors: list[RowError] = []
    parsed = []
    seen: dict[tuple[int, str, str], int] = {}
    for record in table.frame.to_dict("records"):
        row = record[ROW]
        bad = len(errors)
        year_text = fold(record["year"]).removesuffix(".0").removesuffix("年度").removesuffix("年")
        year = whole_number(year_text)
        if year is None or not 2000 <= year <= 2100:
            errors.append(RowError(row, table.where("year"), f"年度“{record['year']}”应为 2000–2100 之间的年份"))
        unit, section = fold(record["unit"]), fold(record["section"])
        if not unit:
            errors.append(RowError(row, table.where("unit"), "单位名称为空"))
        elif len(unit) > MAX_UNIT_NAME:  # the stored column's size: refused here, not at the store
            errors.append(RowError(row, table.where("unit"), f"单位名称超过 {MAX_UNIT_NAME} 字"))
        if not section:
            errors.append(RowError(row, table.where("section"), "科室名称为空"))
        elif len(section) > MAX_SECTION_NAME:
            errors.append(RowError(row, table.where("section"), f"科室名称超过 {MAX_SECTION_NAME} 字"))
        result = _RESULTS.get(fold(record["result"]))
        if result is None:
            errors.append(RowError(row, table.where("result"), f"结果“{record['result']}”无效：应为 满意单位、不满意单位 或 最不满意单位"))
        if len(errors) == bad:
            year, result = cast(int, year), cast(Result, result)  # no new error: both were read
            earlier = seen.setdefault((year, unit, section), row)
            if earlier != row:
                errors.append(RowError(row, "", f"{year} 年度 {unit} {section} 与第 {earlier} 行重复"))
                continue
            parsed.append((row, year, unit, section, result))
    if not parsed and not errors:
        errors.append(RowError(0, "", "表头下没有任何数据"))
    if errors:
        raise ImportRejected(filename, errors)
    return parsed


def _stored(session: Session) -> dict[Key, HistoryResult]:
    return {(h.year, h.unit_name, h.section_name): h for h in session.scalars(select(HistoryResult))}


def _known(session: Session, campaign: Campaign | None) -> set[tuple[str, str]] | None:
    """The campaign's (unit, section) names; None without a campaign (nothing to match)."""
    if campaign is None:
        return None
    frame = sections_frame(session, campaign)
    return set(zip(frame["unit"], frame["section"]))


def _fingerprint(stored: dict[Key, HistoryResult], parsed: list[Parsed]) -> str:
    """Of the stored rows the file names (absent ones too): another import of other
    years or sections in between leaves the preview true, and the fingerprint too."""
    state = []
    for _, year, unit, section, _ in parsed:
        current = stored.get((year, unit, section))
        state.append(json.dumps([year, unit, section, current.result.value if current else None], ensure_ascii=False))
    return hashlib.sha256("\n".join(sorted(state)).encode()).hexdigest()


def preview_history(session: Session, campaign: Campaign | None, parsed: list[Parsed]) -> HistoryPreview:
    """What storing `parsed` would do, changing nothing."""
    stored = _stored(session)
    known = _known(session, campaign)
    years: dict[int, YearPreview] = {}
    replaced = []
    for row, year, unit, section, result in parsed:
        tally = years.setdefault(year, YearPreview(year, dict.fromkeys(Result, 0)))
        tally.counts[result] += 1
        current = stored.get((year, unit, section))
        if current is None:
            tally.added += 1
        elif current.result != result:
            tally.replaced += 1
            replaced.append(Replacement(row, year, unit, section, current.result, result))
        else:
            tally.unchanged += 1
    named = {(year, unit, section) for _, year, unit, section, _ in parsed}
    for year, unit, section in stored:
        if year in years and (year, unit, section) not in named:
            years[year].kept += 1
    unmatched = [(row, unit, section) for row, _, unit, section, _ in parsed
                 if known is not None and (unit, section) not in known]
    return HistoryPreview(rows=len(parsed), years=sorted(years.values(), key=lambda y: y.year, reverse=True),
                          replaced=replaced, unmatched=unmatched, fingerprint=_fingerprint(stored, parsed))


def import_history(
    session: Session, campaign: Campaign | None, data: bytes, filename: str, *, actor: str = "system"
) -> HistorySummary:
    """Parse and store every row at once (a row for the same year and section
    replaces the earlier one): the CLI and the demo, which show no preview."""
    return store_history(session, campaign, parse_history(data, filename), filename=filename, actor=actor)


def store_history(
    session: Session, campaign: Campaign | None, parsed: list[Parsed], fingerprint: str | None = None,
    *, filename: str = "", actor: str = "system",
) -> HistorySummary:
    """Store every parsed row (a row for the same year and section replaces the
    earlier one). With `fingerprint` (from a preview), refuse with StaleError if the
    stored rows the file names changed since."""
    existing = _stored(session)
    if fingerprint is not None and fingerprint != _fingerprint(existing, parsed):
        raise StaleError("预览之后往年评议结果已被修改，请重新上传并核对。")
    known = _known(session, campaign)
    summary = HistorySummary(rows=len(parsed))
    for row, year, unit, section, result in parsed:
        current = existing.get((year, unit, section))
        if current is None:
            session.add(HistoryResult(year=year, unit_name=unit, section_name=section, result=result))
            summary.added += 1
        elif current.result != result:
            current.result = result
            summary.updated += 1
        else:
            summary.unchanged += 1
        if known is not None and (unit, section) not in known:
            summary.unmatched.append((row, unit, section))
    session.flush()
    audit.record(session, "history.import", actor=actor, campaign_id=campaign.id if campaign else None, detail={
        "filename": filename, "rows": summary.rows, "added": summary.added, "updated": summary.updated,
        "unchanged": summary.unchanged, "unmatched": len(summary.unmatched),
        "years": sorted({year for _, year, _, _, _ in parsed}),
    })
    return summary


def parsed_to_json(parsed: list[Parsed]) -> list[list]:
    """The parsed rows as JSON values, for the preview's signed token."""
    return [[row, year, unit, section, result.value] for row, year, unit, section, result in parsed]


def parsed_from_json(rows: list[list]) -> list[Parsed]:
    return [(row, year, unit, section, Result(result)) for row, year, unit, section, result in rows]


def stored_history(session: Session, campaign: Campaign | None) -> list[StoredYear]:
    """Every stored year, latest first: its counts by result and its rows (by result,
    then names), each marked whether it names a section of `campaign`."""
    known = _known(session, campaign)
    order = {result: i for i, result in enumerate(Result)}
    years: dict[int, list[StoredRow]] = {}
    for h in session.scalars(select(HistoryResult)):
        matched = known is None or (h.unit_name, h.section_name) in known
        years.setdefault(h.year, []).append(StoredRow(h.unit_name, h.section_name, h.result, matched))
    listed = []
    for year in sorted(years, reverse=True):
        rows = sorted(years[year], key=lambda r: (order[r.result], r.unit, r.section))
        counts = Counter(row.result for row in rows)
        listed.append(StoredYear(year, {result: counts[result] for result in Result}, rows))
    return listed


def history_frame(session: Session) -> pd.DataFrame:
    rows = session.execute(
        select(HistoryResult.year, HistoryResult.unit_name, HistoryResult.section_name, HistoryResult.result)
    ).all()
    return pd.DataFrame(
        [(y, u, s, r.value) for y, u, s, r in rows], columns=[C.YEAR, C.UNIT, C.SECTION, C.RESULT]
    )


def section_statuses(session: Session, campaign: Campaign) -> pd.DataFrame:
    """The campaign's sections (see `sections_frame`) with `exempt` and
    `previous_unsatisfied`, derived from history each time it is asked."""
    sections = sections_frame(session, campaign)
    flags = history_flags(
        sections.rename(columns={"unit": C.UNIT, "section": C.SECTION}),
        history_frame(session),
        campaign.year,
        campaign.rules,
    )
    sections[C.EXEMPT] = flags[C.EXEMPT].to_numpy()
    sections[C.PREVIOUS_UNSATISFIED] = flags[C.PREVIOUS_UNSATISFIED].to_numpy()
    return sections
