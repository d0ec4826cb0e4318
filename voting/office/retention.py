"""Retention: erase citizens' and evaluators' personal data of a finished campaign,
keeping every aggregate.

A campaign is finished when its final lists are published (the online round's
`published_at`); RETENTION_DAYS after that, `pingyi retention erase` blanks what names
a person: the service objects' names, organisations, phone numbers and matters, the
invitations' numbers, link nonces and codes (no old link or code works again), the
votes' free-text comments, the evaluators' names, numbers and password hashes, the SMS
outbox's numbers, texts and parameters, and the console sender's copies. It keeps what the
scores are made of and what the office reports: every vote's choice, channel, section
and time, the evaluators' categories (turnout), the ballots, the import summaries, the
audit log. The rows stay, so counts, scores and lists are unchanged.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, CursorResult, Delete, Update, delete, func, select, update
from sqlalchemy.orm import Session

from voting.commitments.models import SectionCommitment, StaffContact
from voting.core.clock import aware
from voting.lists.models import Campaign, Section, ServiceObject, Unit
from voting.outbox.models import ConsoleMessage, OutboxMessage, OutboxStatus
from voting.online.models import Evaluator, OnlineRound
from voting.survey.models import Invitation, SurveyRound, Vote
from voting.core.models import utcnow
from voting.audit import audit


@dataclass
class Due:
    """A campaign and where it stands for retention."""

    campaign: Campaign
    published_at: datetime | None
    erased_at: datetime | None
    due_at: datetime | None  # published_at + the retention time

    def is_due(self, now: datetime) -> bool:
        return self.erased_at is None and self.due_at is not None and self.due_at <= now

    def state(self, now: datetime) -> str:
        if self.erased_at is not None:
            return f"已于 {self.erased_at:%Y-%m-%d} 删除个人信息"
        if self.published_at is None:
            return "结果尚未公布，不删除"
        if cast(datetime, self.due_at) > now:  # set with published_at (campaigns_due)
            return f"保留至 {self.due_at:%Y-%m-%d}"
        return "已到期，可删除"


STEP_LABELS = {
    "service_objects": "服务对象", "invitations": "调查邀请", "comments": "留言", "vote_networks": "投票网络标识",
    "evaluators": "评价人",
    "console_messages": "演示短信", "sms_messages": "短信",
    "staff_contacts": "工作人员联系表", "section_commitments": "服务承诺表的负责人和电话",
}


@dataclass
class Erased:
    year: int
    counts: dict[str, int] = field(default_factory=dict)


def campaigns_due(session: Session, days: int) -> list[Due]:
    """Every campaign with its retention state, oldest first."""
    rows = session.execute(
        select(Campaign, OnlineRound.published_at)
        .outerjoin(OnlineRound, OnlineRound.campaign_id == Campaign.id)
        .order_by(Campaign.year)
    ).all()
    found = []
    for campaign, published_at in rows:
        published = aware(published_at) if published_at else None
        erased = aware(campaign.personal_data_erased_at) if campaign.personal_data_erased_at else None
        found.append(Due(campaign, published, erased, published + timedelta(days=days) if published else None))
    return found


def erase(session: Session, campaign: Campaign, *, actor: str, now: datetime | None = None,
          progress: Callable[..., None] | None = None) -> Erased:
    """Blank the campaign's personal data (flush; the caller commits once: all or
    nothing) and say so in the audit log, with the counts. Each kind of row is one
    UPDATE (or DELETE) over the whole campaign; `progress(done=, total=, stage=)` hears
    the rows done of the rows to do (a job's progress bar: voting/jobs/jobs.py)."""
    now = now or utcnow()
    report = progress or (lambda **_: None)
    sections = select(Section.id).join(Unit).where(Unit.campaign_id == campaign.id).scalar_subquery()
    units = select(Unit.id).where(Unit.campaign_id == campaign.id).scalar_subquery()
    rounds = select(SurveyRound.id).where(SurveyRound.campaign_id == campaign.id).scalar_subquery()
    online = select(OnlineRound.id).where(OnlineRound.campaign_id == campaign.id).scalar_subquery()
    outbox_keys = select(OutboxMessage.key).where(OutboxMessage.campaign_id == campaign.id).scalar_subquery()
    result = Erased(campaign.year)
    steps: dict[str, Update | Delete] = {
        "service_objects": update(ServiceObject).where(ServiceObject.section_id.in_(sections))
        .values(name="", org_title="", phone=None, phone_hash=None, matter=""),
        "invitations": update(Invitation).where(Invitation.round_id.in_(rounds))
        .values(phone=None, phone_hash=None, nonce="", code=None, code_hash=None),
        "comments": update(Vote).where(Vote.round_id.in_(rounds), Vote.comment != "").values(comment=""),
        # the web votes' network hashes (the answer-burst check, voting/integrity)
        "vote_networks": update(Vote).where(Vote.round_id.in_(rounds), Vote.network.is_not(None)).values(network=None),
        "evaluators": update(Evaluator).where(Evaluator.round_id.in_(online))
        .values(name="", phone=None, phone_hash=None, password_hash=None),
        # The console sender's copies first: they are found by the outbox's keys.
        "console_messages": delete(ConsoleMessage).where(ConsoleMessage.key.in_(outbox_keys)),
        "sms_messages": update(OutboxMessage).where(OutboxMessage.campaign_id == campaign.id)
        .values(phone=None, phone_hash=None, text="", params={}),
        # The units' staff (附件5, 附件4): their numbers served this year's list checks only; the
        # duties, commitments and addresses (public, shown to citizens) stay.
        "staff_contacts": update(StaffContact).where(StaffContact.unit_id.in_(units))
        .values(name="", post="", office_phone=None, phone=None, phone_hash=None, qq=None),
        "section_commitments": update(SectionCommitment).where(SectionCommitment.section_id.in_(sections))
        .values(head_name="", head_phone=None, head_short=None, liaison_name="", liaison_phone=None, liaison_short=None),
    }
    report(done=0, total=0, stage="清点")
    total = sum(
        session.execute(
            # Every step has its WHERE (its campaign's rows).
            select(func.count()).select_from(statement.table).where(cast(ColumnElement[bool], statement.whereclause))
        ).scalar_one()
        for statement in steps.values()
    )
    report(done=0, total=total, stage="删除个人信息")
    done = 0
    for name, statement in steps.items():
        # An UPDATE's or DELETE's result is a CursorResult, which has the rowcount.
        executed = cast(CursorResult, session.execute(statement.execution_options(synchronize_session=False)))
        result.counts[name] = executed.rowcount
        done += result.counts[name]
        report(done=min(done, total), stage=f"删除个人信息：{STEP_LABELS[name]}")
    # A message never sent cannot be sent any more: no number to send it to.
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id,
               OutboxMessage.status.in_([OutboxStatus.pending, OutboxStatus.sending]))
        .values(status=OutboxStatus.failed, last_error="个人信息已按保存期限删除")
        .execution_options(synchronize_session=False)
    )
    campaign.personal_data_erased_at = now
    audit.record(session, "retention.erase", actor=actor, campaign_id=campaign.id, detail=result.counts)
    session.flush()
    session.expire_all()
    return result
