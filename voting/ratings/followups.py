"""The follow-up of a 差评 (差评回访整改): each counted 差评 opens a case
(voting/ratings/ratings.py, `open_case`) due a number of working days later
(RATING_FOLLOW_UP_WORKING_DAYS, 5 by default, voting/ratings/workdays.py).

The office calls the citizen back (回访) and records what it found (`record_callback`);
the unit of the rated section or window records its rectification (整改,
`record_rectification`: only its own unit's cases, another unit's are "not found", so
that a unit learns nothing of the others'); the office closes the case once the call-back
is recorded (`close_case`; voting/ratings/cases.py closes with the SMS that asks the
citizen's verdict, and clears the case's phone once that SMS is in the outbox); the
citizen's verdict on the handling, from the page that SMS links to, is stored once by
`record_verdict` (`answer_verdict`: the first answer stands, however many come at once).
A case is overdue when it is not closed and its due time has passed (`is_overdue`,
`overdue`). The staff's steps are audited by the case's id and place only: no phone
number, no finding or rectification text (the audit log is kept for ever, and a
citizen's complaint may name people); the closing says whether the verdict SMS went.
The citizen's verdict is not audited (it is no staff step; it stays on the case). Every
step flushes and never commits.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from voting.audit import audit
from voting.core.clock import aware, in_utc
from voting.core.errors import DomainError, NotFoundError
from voting.lists.models import Section
from voting.ratings.models import FOLLOWUP_TEXT_MAX, FollowupCase
from voting.ratings.ratings import checked_text
from voting.schemes.models import AssessedEntity


class CaseClosedError(DomainError):
    status = 409

    def __init__(self) -> None:
        super().__init__("这件差评已经办结，不能再修改。")


def get_case(session: Session, case_id: int) -> FollowupCase:
    case = session.get(FollowupCase, case_id)
    if case is None:
        raise NotFoundError(f"没有编号为 {case_id} 的差评回访。")
    return case


def _open_case(session: Session, case_id: int) -> FollowupCase:
    case = get_case(session, case_id)
    if case.closed_at is not None:
        raise CaseClosedError()
    return case


def unit_of(session: Session, case: FollowupCase) -> int | None:
    """The unit (单位) whose case it is: the section's, or the window's (None for a window
    not linked to a unit: only the office handles it)."""
    if case.section_id is not None:
        section = session.get(Section, case.section_id)
        return section.unit_id if section is not None else None
    entity = session.get(AssessedEntity, case.entity_id)
    return entity.unit_id if entity is not None else None


def is_overdue(case: FollowupCase, now: datetime) -> bool:
    return case.closed_at is None and in_utc(now) > aware(case.due_at)


def overdue(session: Session, now: datetime, *, unit_id: int | None = None) -> list[FollowupCase]:
    """The open cases past their due time, the longest overdue first; with `unit_id`,
    that unit's only."""
    cases = session.scalars(select(FollowupCase).where(FollowupCase.closed_at.is_(None),
                                                       FollowupCase.due_at < in_utc(now))
                            .order_by(FollowupCase.due_at, FollowupCase.id)).all()
    if unit_id is None:
        return list(cases)
    return [case for case in cases if unit_of(session, case) == unit_id]


def _detail(session: Session, case: FollowupCase, now: datetime) -> dict:
    """The audit detail: the case, its place by id and name, whether it was late."""
    detail: dict = {"case_id": case.id, "rating_id": case.rating_id}
    if case.section_id is not None:
        section = session.get(Section, case.section_id)
        detail |= {"section_id": case.section_id,
                   "section": f"{section.unit.name} · {section.name}" if section is not None else None}
    else:
        entity = session.get(AssessedEntity, case.entity_id)
        detail |= {"entity_id": case.entity_id, "entity": entity.name if entity is not None else None}
    detail["overdue"] = in_utc(now) > aware(case.due_at)
    return detail


def _required(value: str | None, what: str) -> str:
    cleaned = checked_text(value, FOLLOWUP_TEXT_MAX)
    if not cleaned:
        raise DomainError(f"请填写{what}。")
    return cleaned


def record_callback(session: Session, case_id: int, *, actor: str, finding: str, now: datetime) -> FollowupCase:
    """The office's call-back (回访) of an open case and what it found; recording it
    again replaces it (audited each time)."""
    now = in_utc(now)
    finding = _required(finding, "回访情况")
    case = _open_case(session, case_id)
    case.callback_at, case.callback_by, case.callback_finding = now, actor, finding
    session.flush()
    audit.record(session, "followup.callback", actor=actor, detail=_detail(session, case, now))
    return case


def record_rectification(session: Session, case_id: int, *, unit_id: int, actor: str, text: str,
                         now: datetime) -> FollowupCase:
    """The unit's rectification (整改) of an open case of its own section or window;
    another unit's case is not found (404, as a case that does not exist)."""
    now = in_utc(now)
    text = _required(text, "整改情况")
    case = get_case(session, case_id)
    if unit_of(session, case) != unit_id:
        raise NotFoundError(f"没有编号为 {case_id} 的差评回访。")
    if case.closed_at is not None:
        raise CaseClosedError()
    case.rectified_at, case.rectified_by, case.rectification = now, actor, text
    session.flush()
    audit.record(session, "followup.rectify", actor=actor, detail={**_detail(session, case, now), "unit_id": unit_id})
    return case


def close_case(session: Session, case_id: int, *, actor: str, now: datetime,
               ask_verdict: Callable[[FollowupCase], bool] | None = None) -> FollowupCase:
    """The office closes a case whose call-back is recorded (the rectification is not
    required: a call-back may find nothing to rectify). `ask_verdict(case)`, called once
    the case is closed, asks the citizen's verdict (voting/ratings/cases.py) and says
    whether it did: the audit entry records that, never the number."""
    now = in_utc(now)
    case = _open_case(session, case_id)
    if case.callback_at is None:
        raise DomainError("请先记录回访情况，再办结。")
    case.closed_at, case.closed_by = now, actor
    session.flush()
    asked = ask_verdict(case) if ask_verdict is not None else False
    session.flush()
    audit.record(session, "followup.close", actor=actor,
                 detail={**_detail(session, case, now), "rectified": case.rectified_at is not None,
                         "verdict_sms": asked})
    return case


def answer_verdict(session: Session, case_id: int, *, satisfied: bool, now: datetime) -> bool:
    """The citizen's verdict on the handling of a closed case, once: whether this answer
    was recorded (False: an earlier one stands and nothing changes). One conditional
    UPDATE, so that two answers at once record one."""
    case = get_case(session, case_id)
    if case.closed_at is None:
        raise DomainError("这件差评还没有办结，不能评价处理结果。")
    done = session.execute(
        update(FollowupCase).where(FollowupCase.id == case.id, FollowupCase.citizen_satisfied.is_(None))
        .values(citizen_satisfied=satisfied, citizen_answered_at=in_utc(now))
        .execution_options(synchronize_session=False))
    session.refresh(case, ["citizen_satisfied", "citizen_answered_at"])
    return bool(getattr(done, "rowcount", 0) == 1)


def record_verdict(session: Session, case_id: int, *, satisfied: bool, now: datetime) -> FollowupCase:
    """The citizen's verdict on the handling of a closed case (from the page the closing's
    SMS links to), once: a later answer does not change it."""
    answer_verdict(session, case_id, satisfied=satisfied, now=now)
    return get_case(session, case_id)
