"""差评回访: what the office's and the units' case pages read (voting/ratings/case_views.py),
the office's closing with the citizen's SMS, and the link in it (voting/ratings/verdict_views.py).

**Lists.** The office's list has every case, the open ones first (the earliest due
first, so the longest overdue lead), then the closed ones (the latest closed first),
filtered by state (未办结, 已超期, 已办结) and unit, a page at a time; a unit's list
has the cases of its own places only: a section of the unit, or a window that the
office gave to the unit (a window given to no unit is the office's alone, as
followups.unit_of says). Each row carries its clock: the due day (the last local day
of the working days allowed, `预计` when the holiday calendar did not know its year),
whether the case is overdue (open and past the end of that day) and by how many
working days (the days after the due day up to today, holidays and weekends not
counted, make-up working days counted).

**The citizen's verdict.** When the office closes a case whose citizen gave a phone
(confirmed by an SMS code), `close_case` puts an SMS in the outbox, in the same
transaction (template FOLLOWUP_VERDICT, sms/templates.py): a link to the public page
`/r/case/<token>` that asks whether the handling satisfied them. The token is signed
with itsdangerous under the app's SECRET_KEY (SECRET_KEY_FALLBACKS still read) and a
salt of its own (`PURPOSE`), so that no other signed token of the platform (a rating
code, a vote link) passes for one; it carries the case's id and a random 128-bit nonce
kept on the case (`verdict_nonce`, compared in constant time): nothing personal. The
link is good until the end of the local day `RATING_VERDICT_LINK_DAYS` (30) days after
the closing (410 afterwards) and answers once: the first answer stands (a second is
refused, 409, and changes nothing).

**The phone is cleared.** The case kept the citizen's number, sealed, only for this
SMS: once the SMS is in the outbox the case's `phone` is cleared (set to null). The
outbox row keeps the number, sealed, as it keeps every message's (voting/outbox), and
its token is masked once the message is sent (the template's secret). The audit entry
of the closing says whether the SMS went, never the number.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import Select, case as when, func, select
from sqlalchemy.orm import Session

from sms.templates import FOLLOWUP_VERDICT, places, shorten
from sms.tokens import new_nonce, same_nonce
from voting.core.clock import aware, end_of_day, local_day
from voting.core.errors import DomainError, NotFoundError
from voting.lists.models import Campaign, Section, Unit
from voting.outbox.outbox import enqueue
from voting.ratings import followups
from voting.ratings.codes import IdTokens
from voting.ratings.models import FollowupCase, Rating
from voting.ratings.ratings import CATEGORIES, LEVELS
from voting.ratings.workdays import working_days_between
from voting.schemes.models import AssessedEntity, Assessment

PURPOSE = "pingyi.followup-verdict"
VERDICT_PATH = "/r/case/"  # the public page's address (voting/ratings/verdict_views.py)
VERDICT_DAYS = 30  # RATING_VERDICT_LINK_DAYS: how long after the closing the link answers
PLACE_MAX = 24  # the place as the SMS names it (sms/templates.py MATTER_MAX)

# The states the lists filter by (the query string's `status`).
OPEN, OVERDUE, CLOSED = "open", "overdue", "closed"
STATES = {OPEN: "未办结", OVERDUE: "已超期", CLOSED: "已办结"}


# ---- the clock and the rows ------------------------------------------------------------------

@dataclass(frozen=True)
class Clock:
    """A case's clock as the pages show it: `due_day` the last local day allowed
    (`estimated`: counted Monday to Friday in a year the calendar does not know),
    `overdue`, and the working days past `due_day` up to today (`days_over`, 0 when not
    overdue; `over_estimated` as `estimated`)."""

    due_day: date
    estimated: bool
    overdue: bool
    days_over: int
    over_estimated: bool


def due_day(case: FollowupCase, zone: str) -> date:
    """The last local day of the case's clock (`due_at` is that day's end: the next
    day's first moment)."""
    return (aware(case.due_at).astimezone(ZoneInfo(zone)) - timedelta(microseconds=1)).date()


def clock(case: FollowupCase, now: datetime, zone: str) -> Clock:
    day = due_day(case, zone)
    if not followups.is_overdue(case, now):
        return Clock(day, bool(case.due_estimated), False, 0, False)
    over = working_days_between(day, local_day(now, zone))
    return Clock(day, bool(case.due_estimated), True, max(over.days, 0), over.estimated)


@dataclass(frozen=True)
class CaseRow:
    """A case with its rating, its place in words (`place`: the section's or the
    window's name; `unit`: its unit, or for a window given to no unit its assessment's
    name), the unit's id (None for such a window) and its clock."""

    case: FollowupCase
    rating: Rating
    place: str
    unit: str
    unit_id: int | None
    clock: Clock

    @property
    def level(self) -> str:
        return LEVELS.get(self.rating.level, str(self.rating.level))

    @property
    def categories(self) -> list[str]:
        return [CATEGORIES.get(key, key) for key in self.rating.categories or []]

    @property
    def state(self) -> str:
        if self.case.closed_at is not None:
            return STATES[CLOSED]
        return STATES[OVERDUE] if self.clock.overdue else STATES[OPEN]


def _unit_id() -> Any:
    """The unit a case is of, in SQL: its section's, or its window's (null for a window
    given to no unit); the query must outer-join Section and AssessedEntity."""
    return func.coalesce(Section.unit_id, AssessedEntity.unit_id)


def _joined(query: Select) -> Select:
    return (query.select_from(FollowupCase).join(Rating, Rating.id == FollowupCase.rating_id)
            .outerjoin(Section, Section.id == FollowupCase.section_id)
            .outerjoin(AssessedEntity, AssessedEntity.id == FollowupCase.entity_id))


def _names(session: Session, cases: Sequence[FollowupCase]) -> dict[int, tuple[str, str, int | None]]:
    """Each case's (place, unit, unit id) by the case's id, in two queries."""
    section_ids = {c.section_id for c in cases if c.section_id is not None}
    entity_ids = {c.entity_id for c in cases if c.entity_id is not None}
    sections: dict[int, tuple[str, str, int | None]] = {}
    if section_ids:
        sections = {s.id: (s.name, unit.name, unit.id) for s, unit in session.execute(
            select(Section, Unit).join(Unit, Unit.id == Section.unit_id).where(Section.id.in_(section_ids)))}
    windows: dict[int, tuple[str, str, int | None]] = {}
    if entity_ids:
        rows = session.execute(select(AssessedEntity, Assessment.name, Unit.name)
                               .join(Assessment, Assessment.id == AssessedEntity.assessment_id)
                               .outerjoin(Unit, Unit.id == AssessedEntity.unit_id)
                               .where(AssessedEntity.id.in_(entity_ids)))
        windows = {e.id: (e.name, unit_name or assessment_name, e.unit_id) for e, assessment_name, unit_name in rows}
    found = {}
    for c in cases:
        named = sections.get(c.section_id) if c.section_id is not None else windows.get(c.entity_id)  # type: ignore[arg-type]
        found[c.id] = named or ("（已删除）", "", None)
    return found


def _rows(session: Session, pairs: Sequence[tuple[FollowupCase, Rating]], now: datetime, zone: str) -> list[CaseRow]:
    names = _names(session, [c for c, _ in pairs])
    return [CaseRow(c, r, *names[c.id], clock(c, now, zone)) for c, r in pairs]


def _where(query: Select, now: datetime, state: str, unit_id: int | None) -> Select:
    if state == OPEN:
        query = query.where(FollowupCase.closed_at.is_(None))
    elif state == OVERDUE:
        query = query.where(FollowupCase.closed_at.is_(None), FollowupCase.due_at < now.astimezone(timezone.utc))
    elif state == CLOSED:
        query = query.where(FollowupCase.closed_at.is_not(None))
    if unit_id is not None:
        query = query.where(_unit_id() == unit_id)
    return query


def list_cases(session: Session, now: datetime, zone: str, *, state: str = "", unit_id: int | None = None,
               limit: int = 50, offset: int = 0) -> tuple[list[CaseRow], int]:
    """A page of cases (the module's docstring: open first, the earliest due first;
    then the closed, the latest closed first) and how many there are in all; `state`
    one of STATES or "" (all), `unit_id` a unit's only (a liaison's list, or the
    office's filter)."""
    if state and state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    is_open = FollowupCase.closed_at.is_(None)
    query = _where(_joined(select(FollowupCase, Rating)), now, state, unit_id).order_by(
        when((is_open, 0), else_=1), when((is_open, FollowupCase.due_at)), FollowupCase.closed_at.desc(),
        FollowupCase.id.desc())
    pairs = [(c, r) for c, r in session.execute(query.limit(limit).offset(offset))]
    total = session.scalar(_where(_joined(select(func.count(FollowupCase.id))), now, state, unit_id)) or 0
    return _rows(session, pairs, now, zone), total


def overdue_count(session: Session, now: datetime, unit_id: int | None = None) -> int:
    """How many open cases are past their due time (a unit's only, with `unit_id`)."""
    return session.scalar(_where(_joined(select(func.count(FollowupCase.id))), now, OVERDUE, unit_id)) or 0


@dataclass(frozen=True)
class UnitChoice:
    id: int
    name: str


def unit_choices(session: Session) -> list[UnitChoice]:
    """The units that have cases, for the office's filter (a unit of an earlier year
    named with its year)."""
    having = _joined(select(_unit_id())).where(_unit_id().is_not(None)).distinct()
    rows = session.execute(select(Unit.id, Unit.name, Campaign.year).join(Campaign, Campaign.id == Unit.campaign_id)
                           .where(Unit.id.in_(having)).order_by(Campaign.year.desc(), Unit.number, Unit.id)).all()
    latest = max((year for _, _, year in rows), default=None)
    return [UnitChoice(unit_id, name if year == latest else f"{name}（{year} 年度）") for unit_id, name, year in rows]


def _row(session: Session, case_id: int, now: datetime, zone: str) -> CaseRow:
    found = session.execute(_joined(select(FollowupCase, Rating)).where(FollowupCase.id == case_id)).first()
    if found is None:
        raise NotFoundError(f"没有编号为 {case_id} 的差评回访。")
    case, rating = found
    return _rows(session, [(case, rating)], now, zone)[0]


def office_case(session: Session, case_id: int, now: datetime, zone: str) -> CaseRow:
    """A case for the office's page; NotFoundError for none."""
    return _row(session, case_id, now, zone)


def unit_case(session: Session, case_id: int, unit_id: int | None, now: datetime, zone: str) -> CaseRow:
    """A case of the unit's own places; another unit's is not found, as one that does
    not exist (404: a unit learns nothing of the others')."""
    row = _row(session, case_id, now, zone)
    if unit_id is None or row.unit_id != unit_id:
        raise NotFoundError(f"没有编号为 {case_id} 的差评回访。")
    return row


# ---- the verdict's link --------------------------------------------------------------------

class UnknownLinkError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("没有找到这个评价链接：链接可能不完整或被改动过。请核对短信中的链接后重新打开。")


class ExpiredLinkError(DomainError):
    status = 410

    def __init__(self, days: int) -> None:
        super().__init__(f"这个评价链接已过期（办结后 {days} 天内有效），不能再评价。感谢您对我们工作的关注！")


class VerdictGivenError(DomainError):
    status = 409

    def __init__(self) -> None:
        super().__init__("您已经评价过这次处理结果，评价已记录，不能更改。感谢您的反馈！")


class VerdictTokens(IdTokens):
    """Verdict links: a closed case's id and its verdict nonce."""

    salt = PURPOSE
    unknown = UnknownLinkError

    def sign(self, case: FollowupCase) -> str:
        if not case.verdict_nonce:
            raise ValueError("the case has no verdict nonce")
        return self.dumps(case.id, case.verdict_nonce)


def verdict_tokens(app: Flask | None = None) -> VerdictTokens:
    return VerdictTokens.of_app(app)


@dataclass(frozen=True)
class VerdictSettings:
    """`address`: the link's fixed part ("https://pingyi.example.gov.cn/r/case/");
    `sign`: the SMS signature; `timezone`: the local day the link ends with; `days`:
    how long after the closing it answers."""

    address: str
    sign: str = "县千人评议办"  # SMS_SIGN
    timezone: str = "Asia/Shanghai"  # TIMEZONE
    days: int = VERDICT_DAYS  # RATING_VERDICT_LINK_DAYS

    @classmethod
    def from_config(cls, config: Mapping[str, Any], base: str) -> VerdictSettings:
        """The settings of an app whose public address is `base` (PUBLIC_URL, or the
        address the page was asked on)."""
        days = int(config.get("RATING_VERDICT_LINK_DAYS", VERDICT_DAYS))
        if days < 1:
            raise ValueError(f"RATING_VERDICT_LINK_DAYS must be at least 1, not {days}")
        return cls(address=base.rstrip("/") + VERDICT_PATH, sign=str(config.get("SMS_SIGN", cls.sign)),
                   timezone=str(config.get("TIMEZONE", cls.timezone)), days=days)


def link_ends(case: FollowupCase, settings: VerdictSettings) -> datetime:
    """When the case's link stops answering: the end of the local day `days` days after
    the closing (UTC)."""
    if case.closed_at is None:
        raise ValueError("the case is not closed")
    return end_of_day(local_day(aware(case.closed_at), settings.timezone) + timedelta(days=settings.days),
                      settings.timezone)


def _last_day(case: FollowupCase, settings: VerdictSettings) -> date:
    return local_day(aware(case.closed_at), settings.timezone) + timedelta(days=settings.days)  # type: ignore[arg-type]


def _sms_place(case: FollowupCase, place: str, unit: str) -> str:
    """The place as the SMS names it: a section with its unit (the shortest of
    sms.templates.places), a window by its own name; at most PLACE_MAX characters."""
    named = places(unit, place)[-1] if case.section_id is not None and unit else place
    return shorten(named, PLACE_MAX)


def close_case(session: Session, case_id: int, *, actor: str, now: datetime, settings: VerdictSettings,
               tokens: VerdictTokens) -> tuple[FollowupCase, bool]:
    """The office closes the case (followups.close_case: once the call-back is recorded;
    audited) and, when the citizen gave a phone, asks their verdict by SMS and clears
    the case's phone (the module's docstring). (the case, whether the SMS went)."""

    def ask(case: FollowupCase) -> bool:
        if not case.phone:
            return False
        place, unit, _ = _names(session, [case])[case.id]
        case.verdict_nonce = new_nonce()
        last = _last_day(case, settings)
        enqueue(session, key=f"followup-verdict:{case.id}", phone=case.phone, template=FOLLOWUP_VERDICT,
                params={"sign": settings.sign, "place": _sms_place(case, place, unit), "address": settings.address,
                        "token": tokens.sign(case), "closes": f"{last.month}月{last.day}日"},
                not_before=now)
        case.phone = None
        return True

    case = followups.close_case(session, case_id, actor=actor, now=now, ask_verdict=ask)
    return case, case.verdict_nonce is not None


def case_from_token(session: Session, token: str, tokens: VerdictTokens) -> FollowupCase:
    """The closed case a verdict link names; UnknownLinkError (404) for a link that is not
    one of ours or whose nonce is not the case's."""
    case_id, nonce = tokens.read(token)
    case = session.get(FollowupCase, case_id, populate_existing=True)
    if case is None or case.closed_at is None or not case.verdict_nonce or not same_nonce(nonce, case.verdict_nonce):
        raise UnknownLinkError()
    return case


def check_open(case: FollowupCase, now: datetime, settings: VerdictSettings) -> None:
    """ExpiredLinkError (410) once the link's time is over."""
    if now.astimezone(timezone.utc) >= link_ends(case, settings):
        raise ExpiredLinkError(settings.days)


def answer(session: Session, token: str, satisfied: bool, *, now: datetime, settings: VerdictSettings,
           tokens: VerdictTokens) -> FollowupCase:
    """The citizen's verdict from the link (flush): recorded once; UnknownLinkError,
    VerdictGivenError (409: answered before, nothing changes), ExpiredLinkError (410)."""
    case = case_from_token(session, token, tokens)
    if case.citizen_satisfied is not None:
        raise VerdictGivenError()
    check_open(case, now, settings)
    if not followups.answer_verdict(session, case.id, satisfied=satisfied, now=now):
        raise VerdictGivenError()  # another answer came first, a moment ago
    return case


def place_of(session: Session, case: FollowupCase) -> tuple[str, str]:
    """The case's place and unit in words (for the verdict page)."""
    place, unit, _ = _names(session, [case])[case.id]
    return place, unit

