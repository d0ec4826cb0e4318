"""The office's deadlines for the units, and the SMS reminders to the liaisons of the
units still owing (README, "Deadlines and reminders").

The rules give the dates (H1 lists by 6月10日, H2 lists by 10月10日, the supervisor
scores by 11月10日, "具体时间以通知为准"); the office sets this year's. A set deadline
reminds by itself once, `remind_days` before its date (the job workers' minute sweep,
voting/tasks.py); the office can also remind at once from the deadlines page. Either
way a liaison gets at most one reminder a day for one deadline: the outbox key names the
deadline, the liaison and the local day. Only the liaisons of units that still owe
something are reminded, and only those with a phone on their account; the page names
the units nobody can be reminded at.

Nothing is owed any more once it can no longer be given: a round's lists after that
round was closed, the supervisor scores after the candidate list was fixed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from sms.templates import LIAISON_REMINDER
from voting.core.errors import DomainError
from voting.lists.models import Campaign, RoundKind
from voting.deadlines.models import Deadline, DeadlineKind
from voting.outbox.models import OutboxMessage
from voting.staff.models import Role, User
from voting.survey.models import RoundStatus, SurveyRound
from voting.audit import audit
from voting.outbox import outbox
from voting.scores import scorecards
from voting.office.overview import UnitRow, overview

# The rules' dates (month, day) in the campaign's year.
RULE_DATES = {DeadlineKind.list_h1: (6, 10), DeadlineKind.list_h2: (10, 10), DeadlineKind.supervisor: (11, 10)}
ROUND_OF = {DeadlineKind.list_h1: RoundKind.H1, DeadlineKind.list_h2: RoundKind.H2}
REMIND_DAYS = 3
MAX_REMIND_DAYS = 60


@dataclass(frozen=True)
class Plan:
    """A deadline as the page shows it: the stored one, or the rules' date unsaved."""

    kind: DeadlineKind
    due_on: date
    remind_days: int
    saved: bool
    auto_reminded_for: date | None = None

    @property
    def reminder_day(self) -> date:
        return self.due_on - timedelta(days=self.remind_days)

    def due_in(self, today: date) -> str:
        """How far off the date is, as the pages say it."""
        days = (self.due_on - today).days
        return "今天截止" if days == 0 else f"还有 {days} 天" if days > 0 else f"已过 {-days} 天"


@dataclass
class Owing:
    """A unit that still owes something for a deadline: how many of its sections."""

    unit_id: int
    unit: str
    missing: int
    sections: int
    liaisons: list[User] = field(default_factory=list)  # active, with a phone

    @property
    def reachable(self) -> bool:
        return bool(self.liaisons)


@dataclass
class Reminded:
    messages: int = 0  # written to the outbox now
    units: int = 0  # units with at least one liaison reminded now
    already: int = 0  # liaisons already reminded today for this deadline
    unreachable: list[str] = field(default_factory=list)  # units owing with no liaison phone


def plans(session: Session, campaign: Campaign) -> dict[DeadlineKind, Plan]:
    """Every kind's deadline: the office's, else the rules' date (not yet set)."""
    stored = {d.kind: d for d in session.scalars(select(Deadline).where(Deadline.campaign_id == campaign.id))}
    shown = {}
    for kind, (month, day) in RULE_DATES.items():
        d = stored.get(kind)
        shown[kind] = (Plan(kind, d.due_on, d.remind_days, True, d.auto_reminded_for) if d is not None
                       else Plan(kind, date(campaign.year, month, day), REMIND_DAYS, False))
    return shown


def set_deadline(session: Session, campaign: Campaign, kind: DeadlineKind, due_on: date, remind_days: int,
                 actor: str) -> Deadline:
    """Set (or change) a deadline, audited. A date outside the campaign's year, or a lead
    time outside 0–60 days, is refused."""
    if due_on.year != campaign.year:
        raise DomainError(f"截止日期应在 {campaign.year} 年内，填的是 {due_on:%Y-%m-%d}")
    if not 0 <= remind_days <= MAX_REMIND_DAYS:
        raise DomainError(f"提前提醒的天数应在 0 到 {MAX_REMIND_DAYS} 之间，填的是 {remind_days}")
    deadline = session.scalar(select(Deadline).where(Deadline.campaign_id == campaign.id, Deadline.kind == kind)
                              .with_for_update())
    previous = None if deadline is None else (deadline.due_on.isoformat(), deadline.remind_days)
    if deadline is None:
        deadline = Deadline(campaign_id=campaign.id, kind=kind)
        session.add(deadline)
    deadline.due_on, deadline.remind_days = due_on, remind_days
    session.flush()
    detail: dict[str, Any] = {"kind": kind.value, "what": kind.label, "due_on": due_on.isoformat(),
                              "remind_days": remind_days}
    if previous is not None:
        detail["previous"] = {"due_on": previous[0], "remind_days": previous[1]}
    audit.record(session, "deadline.set", actor=actor, campaign_id=campaign.id, detail=detail)
    return deadline


def still_owed(session: Session, campaign: Campaign, kind: DeadlineKind) -> bool:
    """Whether the thing can still be given (see the module's docstring)."""
    if kind is DeadlineKind.supervisor:
        return scorecards.candidates_fixed(session, campaign) is None
    survey = session.scalar(select(SurveyRound).where(
        SurveyRound.campaign_id == campaign.id, SurveyRound.kind == ROUND_OF[kind],
        SurveyRound.status != RoundStatus.cancelled))
    return survey is None or survey.status is not RoundStatus.closed


def _missing(row: UnitRow, kind: DeadlineKind) -> int:
    return row.sections - row.supervisor if kind is DeadlineKind.supervisor else row.missing(ROUND_OF[kind])


def owing(session: Session, campaign: Campaign, kind: DeadlineKind, units: list[UnitRow] | None = None) -> list[Owing]:
    """The units that still owe `kind`, each with its liaisons that can be reminded;
    empty once nothing can be given any more. `units`: the overview's table, when the
    caller has it already (a page showing every deadline reads it once)."""
    if not still_owed(session, campaign, kind):
        return []
    units = overview(session, campaign).units if units is None else units
    rows = [Owing(r.unit_id, r.unit, _missing(r, kind), r.sections) for r in units]
    rows = [r for r in rows if r.missing > 0]
    by_unit = {r.unit_id: r for r in rows}
    if by_unit:
        for user in session.scalars(select(User).where(
                User.role == Role.liaison, User.active.is_(True), User.unit_id.in_(by_unit)).order_by(User.id)):
            if user.phone:
                by_unit[cast(int, user.unit_id)].liaisons.append(user)  # the query's unit_id.in_(): not None
    return rows


def _what_is_missing(kind: DeadlineKind, missing: int) -> str:
    return f"{missing}个科室未评分" if kind is DeadlineKind.supervisor else f"{missing}个科室未报送"


def remind(session: Session, campaign: Campaign, kind: DeadlineKind, *, due_on: date, today: date, sign: str,
           login_url: str, actor: str) -> Reminded:
    """Write a reminder to the outbox for each liaison (with a phone) of each unit still
    owing `kind`, at most one per liaison and deadline a day; audited when any went.
    Under the deadline's row lock (when it is set), as the automatic reminder is, so
    that the two never write the same message at once."""
    session.scalar(select(Deadline.id).where(Deadline.campaign_id == campaign.id, Deadline.kind == kind)
                   .with_for_update())
    done = Reminded()
    for row in owing(session, campaign, kind):
        if not row.reachable:
            done.unreachable.append(row.unit)
            continue
        wrote = 0
        for user in row.liaisons:
            key = f"deadline:{campaign.id}:{kind.value}:{user.id}:{today.isoformat()}"
            params = {"sign": sign, "unit": row.unit, "what": kind.label, "missing": _what_is_missing(kind, row.missing),
                      "due": f"{due_on.month}月{due_on.day}日", "link": login_url}
            before = session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key))
            if before is not None:
                done.already += 1
                continue
            # owing() lists the liaisons with a phone only.
            outbox.enqueue(session, key=key, phone=cast(str, user.phone), template=LIAISON_REMINDER, params=params,
                           campaign_id=campaign.id)
            wrote += 1
        done.messages += wrote
        done.units += wrote > 0
    if done.messages:
        audit.record(session, "deadline.remind", actor=actor, campaign_id=campaign.id, detail={
            "kind": kind.value, "what": kind.label, "due_on": due_on.isoformat(), "units": done.units,
            "messages": done.messages, "unreachable": done.unreachable})
    return done


def local_today(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def due_automatic(session: Session, today: date) -> list[int]:
    """The ids of set deadlines whose automatic reminder is due today or was missed
    since its day (no worker ran), up to the deadline itself."""
    candidates = session.scalars(select(Deadline).where(Deadline.due_on >= today))
    due = []
    for d in candidates:
        day = d.due_on - timedelta(days=d.remind_days)
        if day <= today and d.auto_reminded_for != day:
            due.append(d.id)
    return due


def remind_automatically(session: Session, deadline_id: int, *, today: date, sign: str, login_url: str) -> Reminded | None:
    """The automatic reminder of one deadline, under its row lock so that two workers
    do it once; None when another worker did it first."""
    deadline = session.scalar(select(Deadline).where(Deadline.id == deadline_id).with_for_update())
    if deadline is None:
        return None
    day = deadline.due_on - timedelta(days=deadline.remind_days)
    if deadline.auto_reminded_for == day or not day <= today <= deadline.due_on:
        return None
    campaign = session.get_one(Campaign, deadline.campaign_id)  # the deadline's foreign key holds a campaign
    done = remind(session, campaign, deadline.kind, due_on=deadline.due_on, today=today, sign=sign,
                  login_url=login_url, actor="system")
    deadline.auto_reminded_for = day
    return done
