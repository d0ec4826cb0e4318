"""Complaints (投诉) from the rating codes (评议二维码, docs/rules.md §2.5 网络监督投诉平台):
a **complaint** is a counted 差评 (level 2 or 1) of a section of the campaign's list. A
window's 差评 is not one: window assessments are not part of the Pingyang scoring.

The review office decides each complaint once, 有效 (valid) or 无效 (not valid), with a
reason (`decide`). A valid one becomes a 网络监督 有效投诉 deduction of its section (a
platform component entry made by components.add_entry, so an exempt section is refused
with its message and the entry is audited as every component entry is), of the
campaign's `network_supervision_per_complaint` points. Undoing a decision (`undo`, with
a reason) deletes that entry through components.delete_entry. The database keeps one
decision per rating (complaint_decision.rating_id is unique, and a decision is taken by
an UPDATE that only an undecided row matches), so two administrators deciding at once
get one decision and a 409.

The unit of the section sees its complaints (`unit_ratings`): the day, the section, the
level, the categories, the text as the office set it for the unit (`set_unit_text`) or
else without what redact.for_unit removes, and the decision with its reason; never
who, the time of day, a phone, a device or a network, nor the rating's number. It sees
its windows' counted 差评 too (a window the office gave to the unit), without decision.

The audit log (kept for ever) names the rating by its number and the section, the
decision and the office's reasons; never the citizen's text nor the unit's version of it.
Every step flushes and never commits.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import CursorResult, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scoring import columns as C
from voting.audit import audit
from voting.components import components
from voting.components.models import ComponentKind, PlatformEvent
from voting.core.errors import DomainError, NotFoundError
from voting.core.models import utcnow
from voting.lists.models import Campaign, Section, Unit
from voting.ratings import redact
from voting.ratings.models import COMPLAINT_REASON_MAX, RATING_TEXT_MAX, ComplaintDecision, Rating
from voting.ratings.ratings import CATEGORIES, LEVELS, POOR, checked_text
from voting.schemes.models import AssessedEntity
from voting.staff.models import User

UNIT_TEXT_MAX = RATING_TEXT_MAX
# The queue's filter (the page's values and words).
UNDECIDED, VALID, INVALID = "undecided", "valid", "invalid"
STATUSES = {UNDECIDED: "未认定", VALID: "有效", INVALID: "无效"}
SOURCE = "评议二维码"


class AlreadyDecidedError(DomainError):
    status = 409


class NotDecidedError(DomainError):
    status = 409


def verdict_label(valid: bool | None) -> str:
    return STATUSES[UNDECIDED if valid is None else VALID if valid else INVALID]


def level_label(level: int) -> str:
    return LEVELS.get(level, str(level))


def category_labels(categories: Sequence[Any] | None) -> list[str]:
    return [CATEGORIES.get(str(key), str(key)) for key in categories or ()]


def unit_text_of(rating: Rating, decision: ComplaintDecision | None) -> str:
    """What the unit reads of the rating's text: the office's version, or the text
    without the digit runs and addresses that redact.for_unit removes."""
    if decision is not None and decision.unit_text is not None:
        return decision.unit_text
    return redact.for_unit(rating.text)


def unit_text_for(session: Session, rating: Rating) -> str:
    """What the unit reads of any rating's text (a complaint's as the office set it):
    for the other pages a unit reads a rating on (its 差评's follow-up case)."""
    decision = session.scalar(select(ComplaintDecision).where(ComplaintDecision.rating_id == rating.id))
    return unit_text_of(rating, decision)


@dataclass(frozen=True)
class Complaint:
    """A complaint as the office's pages show it: the rating (its text as typed), its
    decision row (None before anything was recorded), the section and its unit."""

    rating: Rating
    decision: ComplaintDecision | None
    section: str
    unit: str

    @property
    def decided(self) -> bool:
        return self.decision is not None and self.decision.valid is not None

    @property
    def valid(self) -> bool | None:
        return self.decision.valid if self.decision is not None else None

    @property
    def status(self) -> str:
        return verdict_label(self.valid)

    @property
    def level(self) -> str:
        return level_label(self.rating.level)

    @property
    def categories(self) -> list[str]:
        return category_labels(self.rating.categories)

    @property
    def unit_text(self) -> str:
        return unit_text_of(self.rating, self.decision)

    @property
    def unit_text_set(self) -> bool:
        return self.decision is not None and self.decision.unit_text is not None

    @property
    def place(self) -> str:
        return f"{self.unit} · {self.section}"


# ---- reading ---------------------------------------------------------------------------------

def _is_complaint() -> tuple[Any, ...]:
    return Rating.counted.is_(True), Rating.level.in_(sorted(POOR)), Rating.section_id.is_not(None)


def _status_condition(status: str) -> Any:
    if status == UNDECIDED:
        return or_(ComplaintDecision.id.is_(None), ComplaintDecision.valid.is_(None))
    return ComplaintDecision.valid.is_(status == VALID)


def _complaints_query(campaign_id: int) -> Any:
    return (select(Rating, ComplaintDecision, Section.name, Unit.name)
            .join(Section, Section.id == Rating.section_id)
            .join(Unit, Unit.id == Section.unit_id)
            .outerjoin(ComplaintDecision, ComplaintDecision.rating_id == Rating.id)
            .where(Unit.campaign_id == campaign_id, *_is_complaint()))


def complaints(session: Session, campaign_id: int, *, status: str = "", unit_id: int | None = None,
               limit: int | None = None, offset: int = 0) -> tuple[list[Complaint], int]:
    """The campaign's complaints and how many there are, narrowed by `status` (one of
    STATUSES, "" for all) and `unit_id`: the undecided first, the oldest of them first
    (a queue), then the decided, the latest decision first."""
    query = _complaints_query(campaign_id)
    if status:
        query = query.where(_status_condition(status))
    if unit_id is not None:
        query = query.where(Unit.id == unit_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    undecided = or_(ComplaintDecision.id.is_(None), ComplaintDecision.valid.is_(None))
    rows = session.execute(query.order_by(
        case((undecided, 0), else_=1), case((undecided, Rating.created_at), else_=None),
        ComplaintDecision.decided_at.desc(), Rating.id).limit(limit).offset(offset)).all()
    return [Complaint(rating, decision, section, unit) for rating, decision, section, unit in rows], total


def status_counts(session: Session, campaign_id: int, *, unit_id: int | None = None) -> dict[str, int]:
    """The campaign's complaints by status (STATUSES' keys), of one unit with `unit_id`."""
    status = case((ComplaintDecision.valid.is_(True), VALID), (ComplaintDecision.valid.is_(False), INVALID),
                  else_=UNDECIDED)
    query = (select(status, func.count())
             .select_from(Rating)
             .join(Section, Section.id == Rating.section_id)
             .join(Unit, Unit.id == Section.unit_id)
             .outerjoin(ComplaintDecision, ComplaintDecision.rating_id == Rating.id)
             .where(Unit.campaign_id == campaign_id, *_is_complaint()))
    if unit_id is not None:
        query = query.where(Unit.id == unit_id)
    found = {key: 0 for key in STATUSES}
    for key, count in session.execute(query.group_by(status)).all():
        found[key] = count
    return found


def units(session: Session, campaign_id: int) -> list[Unit]:
    """The campaign's units in their order (the queue's filter)."""
    return list(session.scalars(select(Unit).where(Unit.campaign_id == campaign_id).order_by(Unit.number, Unit.id)))


def get_complaint(session: Session, campaign: Campaign | None, rating_id: int) -> Complaint:
    """A complaint of the campaign by its rating's number; NotFoundError for anything
    else (no such rating, a window's, a better level, one not counted, another year's)."""
    if campaign is not None:
        row = session.execute(_complaints_query(campaign.id).where(Rating.id == rating_id)).first()
        if row is not None:
            return Complaint(*row)
    raise NotFoundError(f"本年度没有编号为 {rating_id} 的投诉。")


@dataclass(frozen=True)
class Deduction:
    """A valid complaint's deduction entry (网络监督 有效投诉)."""

    entry_id: int
    points: str  # as entered, "1", "0.5"


def deduction_of(session: Session, campaign: Campaign, found: Complaint) -> Deduction | None:
    """The deduction entry a valid complaint made; None for none (not valid, or the
    entry deleted on the components' page since)."""
    if found.decision is None or found.decision.platform_event_id is None:
        return None
    entry = components.get_entry(session, campaign, ComponentKind.platform, found.decision.platform_event_id)
    return Deduction(entry.id, f"{entry.deduction:g}") if isinstance(entry, PlatformEvent) else None


# ---- deciding --------------------------------------------------------------------------------

def checked_reason(value: str | None, what: str = "认定理由") -> str:
    """A reason as stored: without control characters, trimmed; required, at most
    COMPLAINT_REASON_MAX characters."""
    cleaned = " ".join(checked_text(value, limit=len(value or "")).split())
    if not cleaned:
        raise DomainError(f"请填写{what}。")
    if len(cleaned) > COMPLAINT_REASON_MAX:
        raise DomainError(f"{what}太长：最多 {COMPLAINT_REASON_MAX} 个字，现在是 {len(cleaned)} 个字。")
    return cleaned


def _detail(found: Complaint) -> dict:
    """The audit detail naming the complaint: its number and section (never its text)."""
    return {"rating_id": found.rating.id, "section_id": found.rating.section_id, "section": found.place,
            "level": found.rating.level}


def _decided_message(decision: ComplaintDecision) -> str:
    return (f"这件投诉已经认定为{verdict_label(decision.valid)}（{decision.decided_by}）：要改变认定，"
            "请先撤销认定。")


def _take(session: Session, found: Complaint, values: dict) -> ComplaintDecision:
    """Record the decision on the complaint's row, which only an undecided row takes: a
    new row (the unique rating_id refuses a second), or the row holding only the
    unit's text (an UPDATE that a decided row does not match). A lost race: 409."""
    lost = AlreadyDecidedError("这件投诉刚刚已由别人认定：请刷新页面查看。")
    if found.decision is None:
        decision = ComplaintDecision(rating_id=found.rating.id, **values)
        try:
            with session.begin_nested():
                session.add(decision)
        except IntegrityError:
            raise lost from None
        return decision
    result = session.execute(
        update(ComplaintDecision)
        .where(ComplaintDecision.id == found.decision.id, ComplaintDecision.valid.is_(None))
        .values(**values).execution_options(synchronize_session=False))
    if not isinstance(result, CursorResult) or result.rowcount != 1:
        raise lost
    session.expire(found.decision)
    return found.decision


def decide(session: Session, campaign: Campaign, rating_id: int, *, valid: bool, reason: str,
           entered_by: User | None, actor: str, now: datetime | None = None) -> ComplaintDecision:
    """Decide a complaint 有效 (`valid`) or 无效, with `reason` (flush; audited as
    rating.complaint_decide). A valid one's deduction is a 网络监督 有效投诉 entry of the
    section, made by components.add_entry (audited as component.entry_add). Refused,
    with nothing written: an empty or too long reason (400), a complaint decided
    already (AlreadyDecidedError, 409), an exempt section (add_entry's message, 400)."""
    reason = checked_reason(reason)
    found = get_complaint(session, campaign, rating_id)
    if found.decision is not None and found.decided:
        raise AlreadyDecidedError(_decided_message(found.decision))
    values = {"valid": valid, "reason": reason, "decided_by": actor, "decided_at": now or utcnow()}
    deduction = campaign.rules.network_supervision_per_complaint
    with session.begin_nested():  # a refusal below (an exempt section) leaves nothing behind
        decision = _take(session, found, values)
        event_id = None
        if valid:
            event = components.add_entry(
                session, campaign, ComponentKind.platform, int(found.rating.section_id or 0),
                {"platform": C.SUPERVISION_NET, "item": C.COMPLAINT, "deduction": deduction, "role": C.LEAD},
                entered_by, f"{SOURCE}评价（编号 {found.rating.id}）经评议办认定为有效投诉", actor=actor)
            event_id = decision.platform_event_id = event.id
            session.flush()
        audit.record(session, "rating.complaint_decide", actor=actor, campaign_id=campaign.id, detail={
            **_detail(found), "valid": valid, "reason": reason, "entry_id": event_id,
            "deduction": deduction if valid else None})
    return decision


def undo(session: Session, campaign: Campaign, rating_id: int, *, reason: str, actor: str) -> ComplaintDecision:
    """Undo a complaint's decision, with `reason` (flush; audited as
    rating.complaint_undo): a valid one's deduction entry is deleted through
    components.delete_entry (audited as component.entry_delete; one deleted on the
    components' page already is gone). The unit's text stays. NotDecidedError (409)
    for an undecided complaint, and for one undone at the same moment by someone else."""
    reason = checked_reason(reason, "撤销理由")
    found = get_complaint(session, campaign, rating_id)
    decision = found.decision
    if decision is None or decision.valid is None:
        raise NotDecidedError("这件投诉还没有认定，无需撤销。")
    was = {"valid": decision.valid, "reason": decision.reason, "decided_by": decision.decided_by}
    event_id = decision.platform_event_id
    with session.begin_nested():
        result = session.execute(
            update(ComplaintDecision)
            .where(ComplaintDecision.id == decision.id, ComplaintDecision.valid.is_not(None),
                   ComplaintDecision.decided_by == decision.decided_by,
                   ComplaintDecision.decided_at == decision.decided_at)
            .values(valid=None, reason=None, decided_by=None, decided_at=None, platform_event_id=None)
            .execution_options(synchronize_session=False))
        if not isinstance(result, CursorResult) or result.rowcount != 1:
            raise NotDecidedError("这件投诉的认定刚刚已由别人撤销或改变：请刷新页面查看。")
        session.expire(decision)
        if event_id is not None:
            components.delete_entry(session, campaign, ComponentKind.platform, event_id, actor=actor)
        audit.record(session, "rating.complaint_undo", actor=actor, campaign_id=campaign.id, detail={
            **_detail(found), "was_valid": was["valid"], "was_reason": was["reason"], "was_decided_by": was["decided_by"],
            "entry_id": event_id, "reason": reason})
    return decision


def checked_unit_text(value: str | None) -> str:
    cleaned = checked_text(value, limit=max(len(value or ""), 1))
    if not cleaned:
        raise DomainError(f"请填写单位可见内容；不让单位看到任何文字时，可填写“{redact.REMOVED}”。")
    if len(cleaned) > UNIT_TEXT_MAX:
        raise DomainError(f"单位可见内容太长：最多 {UNIT_TEXT_MAX} 个字，现在是 {len(cleaned)} 个字。")
    return cleaned


def set_unit_text(session: Session, campaign: Campaign, rating_id: int, *, text: str, actor: str) -> ComplaintDecision:
    """The text the unit sees of a complaint (单位可见内容), decided or not (flush;
    audited as rating.complaint_unit_text, without the text). The text that redact.for_unit
    gives is the default: setting it stores nothing of its own (null)."""
    cleaned = checked_unit_text(text)
    found = get_complaint(session, campaign, rating_id)
    own = None if cleaned == redact.for_unit(found.rating.text) else cleaned
    decision = found.decision
    if decision is None:
        decision = ComplaintDecision(rating_id=found.rating.id, unit_text=own)
        try:
            with session.begin_nested():
                session.add(decision)
        except IntegrityError:
            raise AlreadyDecidedError("这件投诉刚刚已由别人修改：请刷新页面后重试。") from None
    else:
        decision.unit_text = own
        session.flush()
    audit.record(session, "rating.complaint_unit_text", actor=actor, campaign_id=campaign.id,
                 detail={**_detail(found), "default": own is None, "length": len(cleaned)})
    return decision


# ---- the unit's view ---------------------------------------------------------------------------

@dataclass(frozen=True)
class UnitRating:
    """A 差评 as its unit sees it: no time of day, no number, nothing of who."""

    day: date
    kind: str  # 科室 or 窗口
    place: str
    level: str
    categories: list[str]
    text: str
    complaint: bool  # a section's: decided by the office
    verdict: str | None  # 有效 / 无效 / 未认定 for a complaint; None for a window's 差评
    verdict_reason: str | None


def _unit_where(unit_id: int) -> Any:
    sections = select(Section.id).where(Section.unit_id == unit_id)
    entities = select(AssessedEntity.id).where(AssessedEntity.unit_id == unit_id)
    return and_(Rating.counted.is_(True), Rating.level.in_(sorted(POOR)),
                or_(Rating.section_id.in_(sections), Rating.entity_id.in_(entities)))


def unit_ratings(session: Session, unit_id: int, *, limit: int | None = None,
                 offset: int = 0) -> tuple[list[UnitRating], int]:
    """The counted 差评 of the unit's sections (its complaints, with their decisions)
    and of the windows given to the unit, the latest day first, and how many."""
    where = _unit_where(unit_id)
    total = session.scalar(select(func.count()).select_from(Rating).where(where)) or 0
    rows = session.execute(
        select(Rating.day, Rating.section_id, Section.name, AssessedEntity.name, Rating.level, Rating.categories,
               Rating.text, ComplaintDecision.valid, ComplaintDecision.reason, ComplaintDecision.unit_text)
        .outerjoin(Section, Section.id == Rating.section_id)
        .outerjoin(AssessedEntity, AssessedEntity.id == Rating.entity_id)
        .outerjoin(ComplaintDecision, ComplaintDecision.rating_id == Rating.id)
        .where(where)
        .order_by(Rating.day.desc(), Rating.id.desc())
        .limit(limit).offset(offset)).all()
    found = []
    for day, section_id, section, window, level, categories, text, valid, reason, unit_text in rows:
        complaint = section_id is not None
        found.append(UnitRating(
            day=day, kind="科室" if complaint else "窗口", place=(section if complaint else window) or "",
            level=level_label(level), categories=category_labels(categories),
            text=unit_text if complaint and unit_text is not None else redact.for_unit(text), complaint=complaint,
            verdict=verdict_label(valid) if complaint else None, verdict_reason=reason if complaint else None))
    return found, total


def unit_counts(session: Session, unit_id: int) -> dict[str, int]:
    """The unit's complaints by status (STATUSES' keys) and its windows' 差评 ("window")."""
    status = case((Rating.section_id.is_(None), "window"), (ComplaintDecision.valid.is_(True), VALID),
                  (ComplaintDecision.valid.is_(False), INVALID), else_=UNDECIDED)
    found = {key: 0 for key in (*STATUSES, "window")}
    for key, count in session.execute(
            select(status, func.count()).select_from(Rating)
            .outerjoin(ComplaintDecision, ComplaintDecision.rating_id == Rating.id)
            .where(_unit_where(unit_id)).group_by(status)).all():
        found[key] = count
    return found
