"""The review office's own deductions from the inspection component (监督检查, docs/rules.md
§2.7), each recorded for a unit with its reason, confirmed and audited:

- 应报未报（《实施细则》二）: a section that should have been listed and was not is added
  when found (`add_unreported`: the Section, marked late, and one 应报未报 event for every
  participating section of its unit, the new one included, in one transaction); each
  event costs its section the campaign's `unreported_deduction` (1 point). Undone as a
  mistake (`undo_unreported`): the events and the section, refused once the section
  has a service-object list, invitations or votes.
- 影响评议工作（七（二））: a discretionary deduction of the points the office gives, for
  all or some of a unit's participating sections (`add_discretionary`), undone whole
  (`undo_discretionary`).

Exempt (免评) sections are not evaluated: they take neither (as `add_entry` refuses
them). The events of one finding or decision share a `batch`. The scoring reads them
with the other inspection events (`inspection_frame`); a file can carry them too
(docs/rules.md §6.8), so an offline bundle scores them the same.
"""
from __future__ import annotations

import math
import re
import unicodedata
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, aliased

from scoring import columns as C
from scoring.components import evaluation_window
from voting.audit import audit
from voting.components.bundle import deduction_problem
from voting.components.components import _lock
from voting.components.models import REASON_MAX, InspectionEvent, PlatformEvent, SupervisorScore, VoteCount, BonusItem
from voting.core.errors import DomainError, NotFoundError
from voting.lists import sections as section_lists
from voting.lists.history import section_statuses
from voting.lists.models import Campaign, Section, Unit
from voting.staff.models import User
from voting.core.tables import fold

OFFICE_KINDS = (C.UNREPORTED, C.DISCRETIONARY)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Conflict(DomainError):
    """The step cannot be taken as things stand (a name already listed, a section in use)."""

    status = 409


class Invalid(DomainError):
    """A value typed into the form that is not acceptable; `field` names the form's field."""

    status = 422

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def checked_reason(text: str | None) -> str:
    """The reason as stored: spaces collapsed; required, at most REASON_MAX characters."""
    reason = " ".join((text or "").split())  # as typed (full-width punctuation kept), spaces collapsed
    if not reason:
        raise Invalid("reason", "请填写事由")
    if len(reason) > REASON_MAX:
        raise Invalid("reason", f"事由过长：{len(reason)} 个字，最多 {REASON_MAX} 个字")
    if any(unicodedata.category(ch) == "Cc" for ch in reason):
        raise Invalid("reason", "事由中有控制字符，请删去")
    return reason


def checked_points(text: str | None, campaign: Campaign) -> float:
    """A discretionary deduction as typed (more than 0, at most the component's 20 points,
    at most two decimals: the file reader's own rule)."""
    points, problem = deduction_problem((text or "")[:100], campaign.rules)
    if problem or points is None or not math.isfinite(points):
        raise Invalid("points", problem or "扣分无效")
    return points


def checked_found_on(text: str | None, campaign: Campaign, today: date) -> date:
    """When a section was found missing (2021-08-16 as a date field sends it): within the
    evaluation year (from the start of the case window, 1 December of the year before)
    and not after today."""
    typed = (text or "").strip()
    if not typed:
        raise Invalid("found_on", "请填写发现日期")
    try:
        if not _ISO_DATE.fullmatch(typed):
            raise ValueError
        found_on = date.fromisoformat(typed)
    except ValueError:
        raise Invalid("found_on", f"发现日期“{typed[:20]}”无效：应为 2021-08-16 这样的日期") from None
    start, _ = evaluation_window(campaign.year, campaign.rules)
    if found_on > today:
        raise Invalid("found_on", f"发现日期 {found_on:%Y-%m-%d} 晚于今天")
    if found_on < start.date():
        raise Invalid("found_on", f"发现日期 {found_on:%Y-%m-%d} 早于本年度评议期（{start:%Y-%m-%d} 起）")
    return found_on


def _unit(session: Session, campaign: Campaign, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None or unit.campaign_id != campaign.id:
        raise NotFoundError("本年度没有这个单位")
    return unit


def _participating(session: Session, campaign: Campaign, unit_id: int) -> pd.DataFrame:
    """The unit's sections that are evaluated (not exempt), in list order."""
    statuses = section_statuses(session, campaign)
    return statuses[(statuses["unit_id"] == unit_id) & ~statuses[C.EXEMPT].astype(bool)]


def units(session: Session, campaign: Campaign) -> list[tuple[int, str]]:
    """(id, name) of the campaign's units, in list order: the forms' choices."""
    return [(uid, name) for uid, name in session.execute(
        select(Unit.id, Unit.name).where(Unit.campaign_id == campaign.id).order_by(Unit.number, Unit.name)
    ).all()]


def unit_sections(session: Session, campaign: Campaign) -> list[dict]:
    """Every participating section (id, unit_id, unit, section): the discretionary form's choices."""
    statuses = section_statuses(session, campaign)
    statuses = statuses[~statuses[C.EXEMPT].astype(bool)]
    return [{"id": int(r["id"]), "unit_id": int(r["unit_id"]), "unit": r["unit"], "section": r["section"]}
            for r in statuses.to_dict("records")]


# ---- 应报未报 --------------------------------------------------------------------------------


@dataclass
class UnreportedPlan:
    """What adding a section found missing will do, for its confirmation."""

    unit: Unit
    name: str
    deducted: list[str]  # the unit's participating sections, the new one last
    points: float


def plan_unreported(session: Session, campaign: Campaign, unit_id: int, name: str) -> UnreportedPlan:
    """Check the unit and the name (not already listed) and say what the step will do."""
    unit = _unit(session, campaign, unit_id)
    folded = fold(name or "")
    if not folded:
        raise Invalid("name", "请填写科室名称")
    if len(folded) > section_lists.MAX_SECTION_NAME:
        raise Invalid("name", f"科室名称超过 {section_lists.MAX_SECTION_NAME} 字")
    if any(unicodedata.category(ch) == "Cc" for ch in folded):
        raise Invalid("name", "科室名称中有控制字符，请删去")
    if session.scalar(select(Section.id).where(Section.unit_id == unit.id, Section.name == folded)) is not None:
        raise Conflict(f"{unit.name} 已有科室“{folded}”，已在参评科室名单中，无需补录")
    deducted = [*_participating(session, campaign, unit.id)["section"], folded]
    return UnreportedPlan(unit, folded, deducted, campaign.rules.unreported_deduction)


def add_unreported(
    session: Session, campaign: Campaign, unit_id: int, name: str, is_enforcement: bool, found_on: str,
    reason: str, entered_by: User | None, *, today: date, actor: str = "system",
) -> tuple[Section, list[InspectionEvent]]:
    """Add the section found missing (marked late) and one 应报未报 event for every
    participating section of its unit, the new one included, in the caller's transaction."""
    plan = plan_unreported(session, campaign, unit_id, name)
    found = checked_found_on(found_on, campaign, today)
    reason = checked_reason(reason)
    _lock(session, campaign)
    plan = plan_unreported(session, campaign, unit_id, name)  # again, under the lock
    section = section_lists.add_late_section(session, plan.unit, plan.name, is_enforcement, found, reason)
    deducted = _participating(session, campaign, plan.unit.id)  # the new section is not exempt: no history
    batch = uuid.uuid4().hex
    events = [
        InspectionEvent(section_id=int(sid), kind=C.UNREPORTED, serious=False, date=found, reason=reason,
                        missing_section_id=section.id, batch=batch,
                        created_by_id=entered_by.id if entered_by else None)
        for sid in deducted["id"]
    ]
    session.add_all(events)
    session.flush()
    audit.record(session, "inspection.unreported_add", actor=actor, campaign_id=campaign.id, detail={
        "section_id": section.id, "section": f"{plan.unit.name} {section.name}", "unit_id": plan.unit.id,
        "unit": plan.unit.name, "is_enforcement": bool(is_enforcement), "found_on": found.isoformat(),
        "reason": reason, "points": plan.points, "section_ids": [int(sid) for sid in deducted["id"]], "batch": batch,
    })
    return section, events


def late_section(session: Session, campaign: Campaign, section_id: int) -> Section:
    """A section of the campaign that was added late (404 otherwise)."""
    section = session.get(Section, section_id)
    if section is None or section.unit.campaign_id != campaign.id:
        raise NotFoundError("本年度没有这个科室")
    if section.listed_late_on is None:
        raise NotFoundError(f"{section.unit.name} {section.name} 不是应报未报补录的科室，不能撤销补录")
    return section


@dataclass
class UndoPlan:
    section: Section
    events: int  # the 应报未报 events it caused
    deducted: list[str]  # the sections that lose the deduction
    in_use: list[str]  # what the section already has (then the undo is refused)


def plan_undo_unreported(session: Session, campaign: Campaign, section_id: int) -> UndoPlan:
    section = late_section(session, campaign, section_id)
    rows = session.execute(
        select(Section.name).join(InspectionEvent, InspectionEvent.section_id == Section.id)
        .where(InspectionEvent.missing_section_id == section.id, InspectionEvent.kind == C.UNREPORTED)
        .order_by(Section.number, Section.name)
    ).scalars().all()
    return UndoPlan(section, len(rows), list(rows), _in_use(session, section.id))


def _in_use(session: Session, section_id: int) -> list[str]:
    """What a late section holds besides its 应报未报 deductions, in words (removing it
    would take them away): lists, invitations, votes, component rows, a supervisor score."""
    found = section_lists.section_usage(session, section_id)
    others = (
        (VoteCount, "票数"), (PlatformEvent, "平台办理扣分"), (BonusItem, "加分项"), (SupervisorScore, "主管单位评分"),
    )
    for model, what in others:
        count = session.scalar(select(func.count()).select_from(model).where(model.section_id == section_id))
        if count:
            found.append(f"{what} {count} 条")
    own = session.scalar(select(func.count()).select_from(InspectionEvent).where(
        InspectionEvent.section_id == section_id, InspectionEvent.kind.not_in(OFFICE_KINDS)))
    if own:
        found.append(f"监督检查记录 {own} 条")
    return found


def undo_unreported(session: Session, campaign: Campaign, section_id: int, *, actor: str = "system") -> UndoPlan:
    """Undo a late listing entered by mistake: its 应报未报 events and the section itself.
    Refused (409) once the section holds a list, invitations, votes or other data."""
    _lock(session, campaign)
    plan = plan_undo_unreported(session, campaign, section_id)
    section = plan.section
    if plan.in_use:
        raise Conflict(
            f"{section.unit.name} {section.name} 已有{'、'.join(plan.in_use)}，不能撤销补录。"
            "如确系误录，请先删除这些数据；如只是扣分有误，请在“监督检查”页面另行处理。"
        )
    detail = {
        "section_id": section.id, "section": f"{section.unit.name} {section.name}", "unit_id": section.unit_id,
        "unit": section.unit.name, "found_on": section.listed_late_on.isoformat() if section.listed_late_on else None,
        "reason": section.late_reason, "events": plan.events,
        "section_ids": [int(sid) for sid in session.scalars(
            select(InspectionEvent.section_id).where(InspectionEvent.missing_section_id == section.id))],
    }
    session.execute(delete(InspectionEvent).where(InspectionEvent.missing_section_id == section.id))
    session.delete(section)
    session.flush()
    audit.record(session, "inspection.unreported_undo", actor=actor, campaign_id=campaign.id, detail=detail)
    return plan


# ---- 影响评议工作 ----------------------------------------------------------------------------


@dataclass
class DiscretionaryPlan:
    unit: Unit
    points: float
    sections: list[tuple[int, str]]  # (id, name) of the sections deducted


def plan_discretionary(
    session: Session, campaign: Campaign, unit_id: int, section_ids: Collection[int] | None, points: float
) -> DiscretionaryPlan:
    """The unit's participating sections `section_ids` (all of them when None or empty);
    a section that is not one of them is refused, an exempt one by name."""
    unit = _unit(session, campaign, unit_id)
    participating = _participating(session, campaign, unit.id)
    names = dict(zip(participating["id"].astype(int), participating["section"]))
    if not names:
        raise Invalid("sections", f"{unit.name} 没有参评（不免评）的科室")
    chosen = list(dict.fromkeys(int(sid) for sid in section_ids or ()))
    wrong = [sid for sid in chosen if sid not in names]
    if wrong:
        raise Invalid("sections", f"所选科室中有 {len(wrong)} 个不是 {unit.name} 的参评科室（免评科室不扣分）")
    ordered = [sid for sid in names if not chosen or sid in chosen]
    return DiscretionaryPlan(unit, points, [(sid, names[sid]) for sid in ordered])


def add_discretionary(
    session: Session, campaign: Campaign, unit_id: int, points: str, reason: str,
    section_ids: Collection[int] | None, entered_by: User | None, *, today: date, actor: str = "system",
) -> list[InspectionEvent]:
    """A discretionary deduction (影响评议工作) of `points` (as typed) for each chosen section."""
    checked = checked_points(points, campaign)
    reason = checked_reason(reason)
    _lock(session, campaign)
    plan = plan_discretionary(session, campaign, unit_id, section_ids, checked)
    batch = uuid.uuid4().hex
    events = [
        InspectionEvent(section_id=sid, kind=C.DISCRETIONARY, serious=False, date=today, deduction=checked,
                        reason=reason, batch=batch, created_by_id=entered_by.id if entered_by else None)
        for sid, _ in plan.sections
    ]
    session.add_all(events)
    session.flush()
    audit.record(session, "inspection.discretionary_add", actor=actor, campaign_id=campaign.id, detail={
        "unit_id": plan.unit.id, "unit": plan.unit.name, "points": checked, "reason": reason,
        "date": today.isoformat(), "section_ids": [sid for sid, _ in plan.sections], "batch": batch,
    })
    return events


@dataclass
class Decision:
    """One recorded discretionary deduction (its events), as the inspection page lists it."""

    first_id: int  # the id of its first event: its address
    batch: str
    unit_id: int
    unit: str
    points: float
    reason: str
    on: date | None
    sections: list[str]
    entered_by: str
    created_at: datetime


def discretionary_decisions(session: Session, campaign: Campaign) -> list[Decision]:
    """The discretionary deductions recorded by form, newest first."""
    rows = session.execute(
        select(InspectionEvent, Unit.id, Unit.name, Section.name, User)
        .join(Section, InspectionEvent.section_id == Section.id)
        .join(Unit, Section.unit_id == Unit.id)
        .outerjoin(User, InspectionEvent.created_by_id == User.id)
        .where(Unit.campaign_id == campaign.id, InspectionEvent.kind == C.DISCRETIONARY,
               InspectionEvent.batch.is_not(None))
        .order_by(InspectionEvent.id)
    ).all()
    found: dict[str, Decision] = {}
    for event, unit_id, unit, section, user in rows:
        batch = str(event.batch)
        if batch not in found:
            found[batch] = Decision(event.id, batch, unit_id, unit, float(event.deduction or 0), event.reason,
                                    event.date, [], (user.display_name or user.username) if user else "",
                                    event.created_at)
        found[batch].sections.append(section)
    return sorted(found.values(), key=lambda d: d.first_id, reverse=True)


def decision(session: Session, campaign: Campaign, entry_id: int) -> Decision:
    """The discretionary deduction whose first event is `entry_id` (404 otherwise)."""
    for found in discretionary_decisions(session, campaign):
        if found.first_id == entry_id:
            return found
    raise NotFoundError("没有这条影响评议工作扣分")


def undo_discretionary(session: Session, campaign: Campaign, entry_id: int, *, actor: str = "system") -> Decision:
    """Remove one recorded discretionary deduction (all its sections' events)."""
    _lock(session, campaign)
    found = decision(session, campaign, entry_id)
    ids = list(session.scalars(select(InspectionEvent.section_id).where(InspectionEvent.batch == found.batch)))
    session.execute(delete(InspectionEvent).where(InspectionEvent.batch == found.batch))
    session.flush()
    audit.record(session, "inspection.discretionary_undo", actor=actor, campaign_id=campaign.id, detail={
        "unit_id": found.unit_id, "unit": found.unit, "points": found.points, "reason": found.reason,
        "section_ids": [int(sid) for sid in ids], "batch": found.batch,
    })
    return found


# ---- what the scoring reads -------------------------------------------------------------------


def inspection_frame(session: Session, campaign: Campaign) -> pd.DataFrame:
    """Every inspection event of the campaign in `scoring`'s frame: the findings' columns,
    DEDUCTION, REASON and MISSING (the name of the section found missing), and ROW (the
    file's row, None for a form's)."""
    missing = aliased(Section)
    rows: Sequence = session.execute(  # in the order the other events are read (scores/scorecards.py)
        select(Unit.name, Section.name, InspectionEvent.kind, InspectionEvent.serious, InspectionEvent.person,
               InspectionEvent.current_year, InspectionEvent.date, InspectionEvent.deduction, InspectionEvent.reason,
               missing.name, InspectionEvent.source_row)
        .join(Section, InspectionEvent.section_id == Section.id)
        .join(Unit, Section.unit_id == Unit.id)
        .outerjoin(missing, InspectionEvent.missing_section_id == missing.id)
        .where(Unit.campaign_id == campaign.id)
        .order_by(InspectionEvent.section_id, InspectionEvent.kind, InspectionEvent.serious, InspectionEvent.person,
                  InspectionEvent.current_year, InspectionEvent.date, InspectionEvent.source_row, InspectionEvent.id)
    ).all()
    frame = pd.DataFrame(rows, columns=[C.UNIT, C.SECTION, C.KIND, C.SERIOUS, C.PERSON, C.CURRENT_YEAR, C.DATE,
                                        C.DEDUCTION, C.REASON, C.MISSING, C.ROW])
    frame[C.CURRENT_YEAR] = frame[C.CURRENT_YEAR].fillna(False).astype(bool)
    frame[C.REASON] = frame[C.REASON].fillna("")
    frame[C.MISSING] = frame[C.MISSING].fillna("")
    return frame
