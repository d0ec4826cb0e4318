"""The review office's long tables, searched, filtered and read a page at a time: the
outbox (a county's 20,000 messages) and the online round's evaluators (a thousand).
Each query filters and counts in the database and reads only the page's rows; phones
stay as stored (sealed in the database, in full in the rows: the pages mask them).

A phone cannot be searched by its last four digits: the column is encrypted and its
`phone_hash` is a keyed hash of the whole number (voting/core/vault.py), so a search by
digits would have to decrypt every row. The lists are searched by what is stored in
the clear: a section, a round, a status, an evaluator's name and login.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from sms.templates import (
    FOLLOWUP_VERDICT, INVITE_CODE, INVITE_LINK, LIAISON_REMINDER, ONLINE_ACCOUNT, ONLINE_REMINDER, REMINDER_CODE,
    REMINDER_LINK, VERIFICATION_CODE,
)
from voting.online.models import BallotCast, Evaluator, EvaluatorKind, OnlineRound
from voting.survey.models import Invitation
from voting.outbox.models import OutboxMessage, OutboxStatus
from voting.lists.models import Section, Unit
from voting.online.evaluators import PoolRow, pool

# ---- the outbox -------------------------------------------------------------------------

# What a message is, as the office names it: a template's link and code variants are
# one kind.
MESSAGE_KINDS = {
    "invite": ("调查邀请", (INVITE_LINK, INVITE_CODE)),
    "remind": ("调查提醒", (REMINDER_LINK, REMINDER_CODE)),
    "account": ("网络评价账号", (ONLINE_ACCOUNT,)),
    "online_remind": ("网络评价提醒", (ONLINE_REMINDER,)),
    "liaison_remind": ("报送提醒（联络员）", (LIAISON_REMINDER,)),
    "verification": ("手机验证码（扫码评价）", (VERIFICATION_CODE,)),
    "followup_verdict": ("差评处理结果评价", (FOLLOWUP_VERDICT,)),
}
TEMPLATE_LABELS = {template: label for label, templates in MESSAGE_KINDS.values() for template in templates}


@dataclass(frozen=True)
class OutboxFilter:
    status: OutboxStatus | None = None
    kind: str = ""  # a key of MESSAGE_KINDS, or "" for all
    round_id: int | None = None  # a survey round's invitations and reminders
    unit_id: int | None = None  # the invitations (and reminders) to the unit's sections
    section_id: int | None = None


@dataclass(frozen=True)
class OutboxRow:
    """A message and, for an invitation or its reminder, the section it asks about."""

    message: OutboxMessage
    unit: str = ""
    section: str = ""


def _invited(where: OutboxFilter) -> ColumnElement[bool]:
    """Messages of invitations to the chosen unit or section, and their reminders: a
    message names its section only through its invitation."""
    invitations = (select(Invitation.message_id, Invitation.reminder_id)
                   .join(Section, Invitation.section_id == Section.id))
    if where.unit_id is not None:
        invitations = invitations.where(Section.unit_id == where.unit_id)
    if where.section_id is not None:
        invitations = invitations.where(Invitation.section_id == where.section_id)
    found = invitations.subquery()
    return or_(OutboxMessage.id.in_(select(found.c.message_id)), OutboxMessage.id.in_(select(found.c.reminder_id)))


def outbox_messages(session: Session, campaign_id: int | None, where: OutboxFilter, *, limit: int,
                    offset: int = 0) -> tuple[list[OutboxRow], int]:
    """One page of the outbox, newest first, narrowed by `where`, and how many in all:
    the campaign's messages and those of none, as outbox.recent."""
    conditions = []
    if campaign_id is not None:
        conditions.append(or_(OutboxMessage.campaign_id == campaign_id, OutboxMessage.campaign_id.is_(None)))
    if where.status is not None:
        conditions.append(OutboxMessage.status == where.status)
    if where.kind:
        conditions.append(OutboxMessage.template.in_(MESSAGE_KINDS[where.kind][1]))
    if where.round_id is not None:
        conditions.append(OutboxMessage.round_id == where.round_id)
    if where.unit_id is not None or where.section_id is not None:
        conditions.append(_invited(where))
    total = session.execute(select(func.count(OutboxMessage.id)).where(*conditions)).scalar_one()
    messages = session.scalars(
        select(OutboxMessage).where(*conditions).order_by(OutboxMessage.id.desc()).limit(limit).offset(offset)
    ).all()
    places = _places(session, [m.id for m in messages])
    return [OutboxRow(m, *places.get(m.id, ("", ""))) for m in messages], total


def _places(session: Session, message_ids: list[int]) -> dict[int, tuple[str, str]]:
    """(unit, section) of each of these messages that is an invitation or a reminder."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(Invitation.message_id, Invitation.reminder_id, Unit.name, Section.name)
        .join(Section, Invitation.section_id == Section.id).join(Unit, Section.unit_id == Unit.id)
        .where(or_(Invitation.message_id.in_(message_ids), Invitation.reminder_id.in_(message_ids)))
    ).all()
    wanted = set(message_ids)
    return {message_id: (unit, section) for first, reminder, unit, section in rows
            for message_id in (first, reminder) if message_id in wanted}


# ---- the online round's evaluators ---------------------------------------------------------

EVALUATOR_STATES = {"voted": "已投票", "not_voted": "未投票", "locked": "已锁定"}


@dataclass(frozen=True)
class EvaluatorFilter:
    text: str = ""  # part of the name or of the login
    kind: EvaluatorKind | None = None
    state: str = ""  # a key of EVALUATOR_STATES, or "" for all


def evaluators(session: Session, online: OnlineRound, where: EvaluatorFilter, *, limit: int,
               offset: int = 0) -> tuple[list[PoolRow], int]:
    """One page of the round's evaluators narrowed by `where` (evaluators.pool with the
    page's filters as conditions), and how many in all."""
    conditions = []
    if where.text:
        conditions.append(or_(Evaluator.name.icontains(where.text, autoescape=True),
                              Evaluator.login.icontains(where.text, autoescape=True)))
    if where.kind is not None:
        conditions.append(Evaluator.kind == where.kind)
    voted = select(BallotCast.evaluator_id).where(BallotCast.round_id == online.id)
    if where.state == "voted":
        conditions.append(Evaluator.id.in_(voted))
    elif where.state == "not_voted":
        conditions.append(Evaluator.id.not_in(voted))
    elif where.state == "locked":
        conditions.append(Evaluator.locked_at.is_not(None))
    return pool(session, online, limit=limit, offset=offset, where=conditions)
