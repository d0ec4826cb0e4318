"""The survey rounds' tables: rounds, invitations, votes, the phone survey's calls (SQLAlchemy 2, typed; voting/schema.py gathers every
package's tables for Alembic's migrations)."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.core.models import Base, enum_column, utcnow
from voting.core.vault import (
    HASH_LENGTH,
    EncryptedCode,
    EncryptedPhone,
    code_hash_default,
    keep_hash,
    phone_hash_default,
)
from voting.lists.models import RoundKind

if TYPE_CHECKING:
    from voting.lists.models import Campaign, Section, ServiceObject


class RoundStatus(str, enum.Enum):
    draft = "draft"  # set up, nothing sent
    open = "open"  # invitations sent, votes taken until closes_at
    closed = "closed"  # no more votes
    cancelled = "cancelled"  # a survey round called off before any answer (it may be set up again)

    @property
    def label(self) -> str:
        return {"draft": "未开始", "open": "进行中", "closed": "已结束", "cancelled": "已取消"}[self.value]


class InviteMode(str, enum.Enum):
    link = "link"  # the SMS carries a one-time link
    code = "code"  # the SMS carries an 8-character code to type at a fixed address

    @property
    def label(self) -> str:
        return {"link": "短信链接", "code": "评价码"}[self.value]


class Channel(str, enum.Enum):
    link = "link"  # the web page, opened from the link
    code = "code"  # the web page, reached by typing the code
    sms = "sms"  # an SMS reply
    phone = "phone"  # an operator's phone survey

    @property
    def label(self) -> str:
        return {"link": "短信链接", "code": "评价码", "sms": "短信回复", "phone": "电话调查"}[self.value]


class Choice(str, enum.Enum):
    satisfied = "satisfied"
    basic = "basic"
    unsatisfied = "unsatisfied"

    @property
    def label(self) -> str:
        return {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}[self.value]


class SurveyRound(Base):
    """One round of the citizen survey of a campaign (H1, H2, or in June the 复评 of last
    year's 不满意单位): its sample, its invitations and their votes. The sample is
    reproducible from `seed`."""

    __tablename__ = "survey_round"
    __table_args__ = (
        # One live round of each kind a year; a cancelled one may be set up again.
        Index("uq_survey_round_live_kind", "campaign_id", "kind", unique=True,
              sqlite_where=text("status != 'cancelled'"), postgresql_where=text("status != 'cancelled'")),
        CheckConstraint("sample_size > 0", name="sample_size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RoundKind] = mapped_column(enum_column(RoundKind, "round_kind"))
    status: Mapped[RoundStatus] = mapped_column(enum_column(RoundStatus, "round_status"), default=RoundStatus.draft)
    mode: Mapped[InviteMode] = mapped_column(enum_column(InviteMode, "invite_mode"), default=InviteMode.link)
    sample_size: Mapped[int] = mapped_column(Integer)  # invitations per section (all when fewer)
    seed: Mapped[int] = mapped_column(Integer)
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reminder_after_hours: Mapped[int] = mapped_column(Integer, default=48)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The address its links were written with when it opened (PUBLIC_URL, or the office's
    # own address without one): invitations sent later (a late list) use it too.
    link_base: Mapped[str | None] = mapped_column(String(255))

    campaign: Mapped[Campaign] = relationship()


class Invitation(Base):
    """One sampled service object invited to evaluate one section in one round. A link
    works only with both the link token's nonce (kept here) and the signing key (kept
    out of the database): a database dump makes no working links, nor does the key
    alone. `code` is what the citizen types (code mode) or replies with when several
    invitations are open: sealed like the phone, found by `code_hash` (voting/core/vault.py),
    since with a guessed phone ending it would open a vote."""

    __tablename__ = "invitation"
    __table_args__ = (UniqueConstraint("round_id", "service_object_id"), UniqueConstraint("round_id", "code_hash"))

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_round.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    # RESTRICT: a list cannot be replaced under invitations already sent.
    service_object_id: Mapped[int] = mapped_column(ForeignKey("service_object.id", ondelete="RESTRICT"))
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)  # None once erased (retention)
    phone_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=phone_hash_default, index=True)
    nonce: Mapped[str] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(EncryptedCode)  # None once erased (retention)
    code_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=code_hash_default)
    # The invitation's SMS (and the reminder's, once sent): delivery status for the
    # office's per-section counts.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("sms_outbox.id", ondelete="SET NULL"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("sms_outbox.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Code mode: the code is typed with the last four digits of the phone that got it;
    # wrong digits count here and CODE_TRIES of them lock the code on the web (an SMS
    # reply from that phone and the phone survey still work; the office can unlock).
    code_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    code_locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    survey_round: Mapped[SurveyRound] = relationship()
    section: Mapped[Section] = relationship()
    service_object: Mapped[ServiceObject] = relationship()


class Vote(Base):
    """A citizen's vote: one per invitation, whatever the channel (the unique
    constraint decides between concurrent submits). Units see only counts."""

    __tablename__ = "vote"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id", ondelete="CASCADE"), unique=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_round.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    choice: Mapped[Choice] = mapped_column(enum_column(Choice, "choice"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    comment: Mapped[str] = mapped_column(Text, default="")
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A web vote's client network (IPv4 /24, IPv6 /48) as a keyed hash (votes.vote_network),
    # for the answer-burst check (voting/integrity); no address is stored. None for SMS
    # and phone votes, and once erased (retention).
    network: Mapped[str | None] = mapped_column(String(HASH_LENGTH))


class CallOutcome(str, enum.Enum):
    no_answer = "no_answer"  # rang out, busy, switched off
    refused = "refused"  # answered, declined the survey
    wrong_number = "wrong_number"  # not in service, or not the person served

    @property
    def label(self) -> str:
        return {"no_answer": "未接通", "refused": "拒访", "wrong_number": "空号或错号"}[self.value]


class CallAttempt(Base):
    """A phone-survey call that recorded no answer, and why: the list shows each
    invitation's last outcome and how many calls, so operators do not redial blindly.
    (A call that got an answer is the vote itself, channel 电话调查.)"""

    __tablename__ = "call_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[CallOutcome] = mapped_column(enum_column(CallOutcome, "call_outcome"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# The phone's keyed hash kept in step (voting/core/vault.py).
keep_hash(Invitation)
