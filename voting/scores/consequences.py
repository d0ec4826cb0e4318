"""结果运用: what the published results set in motion (scoring/consequences.py computes the
consequences; docs/rules.md §2.16), the office's record of when each was carried out,
the notice to each unit as a Word document and the county committee's table.

The results are final once the review office has published the lists and the decided
lists are still the published ones: a decision changed after publishing makes them not
final until they are published again (NotFinal, 409), so that nobody acts on lists the
public has not seen. Every consequence is computed again from the published lists when
it is asked for; only the records are stored (ConsequenceRecord), each under its
consequence's key, and a record is made and undone with an audit entry.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.shared import Pt
from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring import columns as C
from scoring import consequences as Q
from scoring.engine import Scorecard
from voting.audit import audit
from voting.core.documents import official_font, ruled_table
from voting.core.errors import DomainError, NotFoundError
from voting.lists.models import Campaign, Unit
from voting.online.ballots import online_round
from voting.scores.models import ConsequenceRecord
from voting.scores.reevaluation import outcomes_of_year
from voting.scores.scorecards import PUBLISHED_LISTS, final_lists
from voting.staff.models import User

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DONE_BY_MAX = 100
NOTE_MAX = 500


class NotFinal(DomainError):
    """The results are not final: nothing follows from them yet."""

    status = 409


class RecordError(DomainError):
    """A record the state of the consequence does not allow (already recorded, waiting on the 复评)."""

    status = 409


@dataclass
class UnitConsequences:
    """One unit of the final results: its sections' results, its consequences and its 考绩 points."""

    unit_id: int
    name: str
    results: list[Q.SectionResult]
    rows: list[Q.Consequence]
    points: float

    @property
    def results_text(self) -> str:
        return "；".join(f"{r.section}（{r.label}）" for r in self.results)


@dataclass
class Final:
    """The consequences of a campaign's published results, with the office's records."""

    campaign: Campaign
    published_at: datetime
    published_on: date  # the publication's day in the office's zone
    units: list[UnitConsequences]
    records: dict[str, ConsequenceRecord]
    # Records whose consequence the published lists no longer give (the lists were
    # published again differently): shown apart, and can be undone.
    orphans: list[ConsequenceRecord] = field(default_factory=list)

    @property
    def rows(self) -> list[Q.Consequence]:
        return [row for unit in self.units for row in unit.rows]

    def unit(self, unit_id: int) -> UnitConsequences | None:
        return next((u for u in self.units if u.unit_id == unit_id), None)

    def find(self, key: str) -> Q.Consequence | None:
        return next((row for row in self.rows if row.key == key), None)

    def unit_id_of(self, name: str) -> int | None:
        return next((u.unit_id for u in self.units if u.name == name), None)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _published_sets(lists: dict) -> dict[str, set[tuple[str, str]]]:
    return {result.value: {(str(u), str(s)) for u, s in lists.get(result.value, [])} for result in PUBLISHED_LISTS}


def final_results(session: Session, campaign: Campaign, card: Scorecard, zone: str) -> Final:
    """The consequences of the campaign's published results (NotFinal when there are
    none yet, or when the decided lists are no longer the published ones)."""
    online = online_round(session, campaign)
    if online is None or online.published_at is None or online.published is None:
        raise NotFinal("评议结果尚未公布：评议办公布满意单位、不满意单位和最不满意单位名单后，才有结果运用。")
    if _published_sets(final_lists(session, campaign, card)) != _published_sets(online.published):
        raise NotFinal("评议结果公布后，评议办的决定又有变动，尚未重新公布：重新公布评议结果后，才按新的名单生成结果运用。")
    published_at = _aware(online.published_at)
    published_on = published_at.astimezone(ZoneInfo(zone)).date()
    sections = card.sections
    ranks = Q.satisfied_ranks(sections, card.settings)
    listed = sections[sections[C.RESULT].isin(list(Q.RESULT_LABELS))]
    previous = {(u, s) for u, s, flag in zip(sections[C.UNIT], sections[C.SECTION], sections[C.PREVIOUS_UNSATISFIED])
                if not pd.isna(flag) and bool(flag)}
    rows = session.execute(
        select(Unit.id, Unit.name).where(Unit.campaign_id == campaign.id).order_by(Unit.number.asc().nulls_last(), Unit.name)
    ).all()
    unit_ids = {name: uid for uid, name in rows}
    unit_order = {name: i for i, (_, name) in enumerate(rows)}
    section_order = {key: i for i, key in enumerate(zip(sections[C.UNIT], sections[C.SECTION]))}
    results = sorted(
        (Q.SectionResult(str(u), str(s), str(r), ranks.get((str(u), str(s))))
         for u, s, r in zip(listed[C.UNIT], listed[C.SECTION], listed[C.RESULT])),
        key=lambda r: (unit_order.get(r.unit, len(unit_order)), section_order.get((r.unit, r.section), 0)),
    )
    found = Q.consequences(results, previous, card.settings, year=campaign.year, published=published_on,
                           reevaluation=outcomes_of_year(session, campaign, card))
    points = Q.unit_points(found)
    units = [
        UnitConsequences(unit_ids[name], name, [r for r in results if r.unit == name],
                         [row for row in found if row.unit == name], points.get(name, 0.0))
        for name in dict.fromkeys(r.unit for r in results)
    ]
    records = {r.key: r for r in session.scalars(
        select(ConsequenceRecord).where(ConsequenceRecord.campaign_id == campaign.id).order_by(ConsequenceRecord.id))}
    keys = {row.key for row in found}
    return Final(campaign, published_at, published_on, units, {k: r for k, r in records.items() if k in keys},
                 [r for k, r in records.items() if k not in keys])


def is_final(session: Session, campaign: Campaign, card: Scorecard, zone: str) -> Final | str:
    """The final results, or the sentence saying why there are none."""
    try:
        return final_results(session, campaign, card, zone)
    except NotFinal as error:
        return str(error)


# ---- the office's records ---------------------------------------------------------------------------


def _detail(row: Q.Consequence | None, record: ConsequenceRecord) -> dict:
    return {
        "key": record.key, "kind": record.kind, "measure": Q.KINDS.get(record.kind, record.kind),
        "unit": row.unit if row else record.key.split("|")[1],
        "section": (row.section if row else record.key.split("|")[2]) or None,
        "done_on": record.done_on.isoformat(), "done_by": record.done_by, "note": record.note,
    }


def record_done(session: Session, final: Final, key: str, *, done_on: date, done_by: str, note: str,
                today: date, user: User | None, actor: str) -> ConsequenceRecord:
    """Record that the consequence `key` was carried out on `done_on` by `done_by`."""
    row = final.find(key)
    if row is None:
        raise NotFoundError("没有这项结果运用措施（评议结果可能已重新公布），请回到结果运用页面重新选择。")
    if row.status != Q.APPLIES:
        raise RecordError(f"这项措施现在{row.status_label}（{row.note}），不能登记完成。")
    done_by, note = (done_by or "").strip(), (note or "").strip()
    if not done_by:
        raise DomainError("请填写执行单位或经办人")
    if len(done_by) > DONE_BY_MAX or len(note) > NOTE_MAX:
        raise DomainError(f"执行单位或经办人不超过 {DONE_BY_MAX} 字，备注不超过 {NOTE_MAX} 字")
    if done_on < final.published_on:
        raise DomainError(f"完成日期 {done_on.isoformat()} 早于评议结果公布日期 {final.published_on.isoformat()}，请检查")
    if done_on > today:
        raise DomainError(f"完成日期 {done_on.isoformat()} 晚于今天（{today.isoformat()}），请在完成后再登记")
    existing = session.scalar(select(ConsequenceRecord).where(
        ConsequenceRecord.campaign_id == final.campaign.id, ConsequenceRecord.key == key))
    if existing is not None:
        raise RecordError(f"这项措施已于 {existing.done_on.isoformat()} 登记完成；如需更正，请先撤销这条登记。")
    record = ConsequenceRecord(
        campaign_id=final.campaign.id, unit_id=final.unit_id_of(row.unit), key=key, kind=row.kind, done_on=done_on,
        done_by=done_by, note=note, recorded_by_id=user.id if user else None,
    )
    session.add(record)
    session.flush()
    audit.record(session, "consequence.done", actor=actor, campaign_id=final.campaign.id, detail=_detail(row, record))
    return record


def undo_record(session: Session, campaign: Campaign, key: str, *, actor: str) -> dict:
    """Take back the record of the consequence `key`; returns what it said."""
    record = session.scalar(select(ConsequenceRecord).where(
        ConsequenceRecord.campaign_id == campaign.id, ConsequenceRecord.key == key))
    if record is None:
        raise NotFoundError("这项措施没有完成登记，无需撤销。")
    detail = _detail(None, record)
    session.delete(record)
    session.flush()
    audit.record(session, "consequence.undo", actor=actor, campaign_id=campaign.id, detail=detail)
    return detail


def find_record(session: Session, campaign: Campaign, key: str) -> ConsequenceRecord | None:
    return session.scalar(select(ConsequenceRecord).where(
        ConsequenceRecord.campaign_id == campaign.id, ConsequenceRecord.key == key))


def status_text(row: Q.Consequence, record: ConsequenceRecord | None) -> str:
    """How a consequence stands, in words: 已完成 with its day, 待执行, 待复评结果, 不再执行."""
    if record is not None:
        return f"已完成（{record.done_on.isoformat()}）"
    return "待执行" if row.status == Q.APPLIES else row.status_label


# ---- the county committee's table ---------------------------------------------------------------------

COMMITTEE_HEADERS = ("单位", "参评科室及评议结果", "考绩加减分", "结果运用措施")


def committee_rows(final: Final) -> list[list[str]]:
    """One row per unit with a section on a list: its sections and results, its 考绩
    points added up, and its measures, numbered, each with who carries it out."""
    return [
        [u.name, u.results_text, Q.signed(u.points), measures_text(u.rows)]
        for u in final.units
    ]


def measures_text(rows: Sequence[Q.Consequence]) -> str:
    lines = []
    for i, row in enumerate(rows, start=1):
        where = f"{row.section}：" if row.section else ""
        limit = f"，{row.time_limit}" if row.time_limit else ""
        state = "" if row.status == Q.APPLIES else f"，{row.status_label}"
        lines.append(f"{i}. {where}{row.text}（{row.party}{limit}{state}）")
    return "\n".join(lines)


# ---- the notices (Word) -------------------------------------------------------------------------------


NOTICE_MEASURE_HEADERS = ("序号", "科室", "措施", "责任主体", "时限", "说明")
NOTICE_RESULT_HEADERS = ("序号", "科室", "评议结果")


def notice_title(final: Final) -> str:
    return f"关于{final.campaign.name}结果运用的通知"


def _notice(document: Any, final: Final, unit: UnitConsequences, office: str, today: date) -> None:
    heading = document.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = heading.add_run(notice_title(final))
    run.bold, run.font.size = True, Pt(22)
    document.add_paragraph(f"{unit.name}：")
    published = final.published_on
    document.add_paragraph(
        f"根据“千人评议”活动实施细则关于结果运用的规定，现将{published.year}年{published.month}月{published.day}日"
        f"公布的{final.campaign.name}评议结果中你单位参评科室的结果及其运用事项通知如下。")
    document.add_paragraph("一、评议结果")
    ruled_table(document, NOTICE_RESULT_HEADERS,
           ([str(i), r.section, r.label] for i, r in enumerate(unit.results, start=1)))
    document.add_paragraph(f"你单位年度考绩合计{Q.points_text(unit.points)}（各科室加减分累加）。")
    document.add_paragraph("二、结果运用事项")
    ruled_table(document, NOTICE_MEASURE_HEADERS, (
        [str(i), row.section or "（单位）", row.text, row.party, row.time_limit or "—",
         "；".join(part for part in (row.note, _state(row)) if part)]
        for i, row in enumerate(unit.rows, start=1)))
    rectify = [row for row in unit.rows if row.kind == Q.RECTIFY and row.deadline is not None]
    closing = "请你单位对照上述事项抓好落实。"
    if rectify:
        names = "、".join(row.section or "" for row in rectify)
        closing += f"列为整改单位的{names}，须于{rectify[0].time_limit}完成整改，并将整改情况书面报送{office}。"
    document.add_paragraph(closing)
    for text in (office, f"{today.year}年{today.month}月{today.day}日"):
        document.add_paragraph(text).alignment = WD_ALIGN_PARAGRAPH.RIGHT


def _state(row: Q.Consequence) -> str:
    """A measure's state when it is not simply to carry out, unless its note says it already."""
    return "" if row.status == Q.APPLIES or row.status_label in row.note else row.status_label


def notices_docx(final: Final, units: Sequence[UnitConsequences], office: str, today: date) -> bytes:
    """The notices of `units` as one Word document, each on its own pages."""
    document = Document()
    official_font(document)
    for i, unit in enumerate(units):
        if i:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        _notice(document, final, unit, office, today)
    document.core_properties.title = notice_title(final)
    document.core_properties.author = office
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
