"""Earlier years' results (SPEC §6 history.csv), and what they mean for a campaign:
exempt (免评) and last year's unsatisfied."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring import columns as C
from scoring.history import history_flags
from voting.errors import ImportRejected, RowError
from voting.models import RESULT_LABELS, Campaign, HistoryResult, Result
from voting.numbers import whole_number
from voting.services import audit
from voting.services.sections import sections_frame
from voting.services.tables import ROW, Column, fold, read_table

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


def parse_history(data: bytes, filename: str) -> list[tuple[int, int, str, str, Result]]:
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
        if not section:
            errors.append(RowError(row, table.where("section"), "科室名称为空"))
        result = _RESULTS.get(fold(record["result"]))
        if result is None:
            errors.append(RowError(row, table.where("result"), f"结果“{record['result']}”无效:应为 满意单位、不满意单位 或 最不满意单位"))
        if len(errors) == bad:
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


def import_history(
    session: Session, campaign: Campaign | None, data: bytes, filename: str, *, actor: str = "system"
) -> HistorySummary:
    """Store every row (a row for the same year and section replaces the earlier one)."""
    parsed = parse_history(data, filename)
    existing = {
        (h.year, h.unit_name, h.section_name): h for h in session.scalars(select(HistoryResult))
    }
    known = set()
    if campaign is not None:
        frame = sections_frame(session, campaign)
        known = set(zip(frame["unit"], frame["section"]))
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
        if campaign is not None and (unit, section) not in known:
            summary.unmatched.append((row, unit, section))
    session.flush()
    audit.record(session, "history.import", actor=actor, campaign_id=campaign.id if campaign else None, detail={
        "filename": filename, "rows": summary.rows, "added": summary.added, "updated": summary.updated,
        "unchanged": summary.unchanged, "unmatched": len(summary.unmatched),
        "years": sorted({year for _, year, _, _, _ in parsed}),
    })
    return summary


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
