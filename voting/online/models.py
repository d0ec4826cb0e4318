"""The online round's tables: candidates, evaluators, the sealed waiting ballots and the
ballot box, kept apart from who cast them (SQLAlchemy 2, typed; voting/schema.py gathers every
package's tables for Alembic's migrations)."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scoring import columns as C
from voting.core.models import Base, enum_column, one_of, utcnow
from voting.core.vault import (
    HASH_LENGTH,
    EncryptedPhone,
    keep_hash,
    phone_hash_default,
)
from voting.survey.models import Choice, RoundStatus

if TYPE_CHECKING:
    from voting.lists.models import Campaign
    from voting.staff.models import User


class Candidate(Base):
    """The candidate list (候选名单) as the review office fixed it before the online
    round: from then on the candidates do not move when a daily-stage figure is
    corrected (the scores do; the pages say where the list would now differ)."""

    __tablename__ = "candidate"
    __table_args__ = (
        one_of("list", (C.SATISFIED_CANDIDATE, C.UNSATISFIED_CANDIDATE, C.PREVIOUS_UNSATISFIED), "list"),
    )

    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    list: Mapped[str] = mapped_column(String(32))
    fixed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    fixed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    fixed_by: Mapped[User | None] = relationship()


class EvaluatorKind(str, enum.Enum):
    deputy = "deputy"  # 两代表一委员
    cadre = "cadre"  # 基层干部
    entrepreneur = "entrepreneur"  # 民营企业家
    inspector = "inspector"  # 特约监察员
    business_monitor = "business_monitor"  # 营商环境监督员
    service_object = "service_object"  # 服务对象, sampled from the candidates' lists

    @property
    def label(self) -> str:
        return EVALUATOR_KIND_LABELS[self]


EVALUATOR_KIND_LABELS = {
    EvaluatorKind.deputy: "两代表一委员",
    EvaluatorKind.cadre: "基层干部",
    EvaluatorKind.entrepreneur: "民营企业家",
    EvaluatorKind.inspector: "特约监察员",
    EvaluatorKind.business_monitor: "营商环境监督员",
    EvaluatorKind.service_object: "服务对象",
}


class OnlineRound(Base):
    """The campaign's one online evaluation round (网络评价) over the fixed candidate
    list: its evaluators, their accounts and the secret ballots."""

    __tablename__ = "online_round"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), unique=True)
    status: Mapped[RoundStatus] = mapped_column(enum_column(RoundStatus, "round_status"), default=RoundStatus.draft)
    seed: Mapped[int] = mapped_column(Integer)  # the service-object sample's
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The final lists as the review office published them (the public /results page
    # shows this copy, so a later change shows only once published again).
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published: Mapped[dict | None] = mapped_column(JSON)

    campaign: Mapped[Campaign] = relationship()


class Evaluator(Base):
    """One evaluator of the online round and their one account: a login name and a
    one-time password, stored only as a salted hash, sent by SMS through the outbox.
    Five wrong passwords lock the account (`failed_logins`, `locked_at`); a resend does
    not reset the count, a reissue by the review office does. Nothing here says how
    the evaluator voted: see BallotCast and Ballot."""

    __tablename__ = "evaluator"
    __table_args__ = (
        UniqueConstraint("round_id", "phone_hash"),
        UniqueConstraint("login"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("online_round.id", ondelete="CASCADE"), index=True)
    kind: Mapped[EvaluatorKind] = mapped_column(enum_column(EvaluatorKind, "evaluator_kind"))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)  # None once erased (retention)
    phone_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=phone_hash_default)
    # A sampled service object: the list row it came from (RESTRICT: that list cannot
    # be replaced under the round). None for imported representatives.
    service_object_id: Mapped[int | None] = mapped_column(ForeignKey("service_object.id", ondelete="RESTRICT"))
    source_row: Mapped[int | None] = mapped_column(Integer)  # the imported file's row
    login: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("sms_outbox.id", ondelete="SET NULL"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("sms_outbox.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    online_round: Mapped[OnlineRound] = relationship()


class BallotCast(Base):
    """"Has voted": one row per evaluator whose ballot is in (the primary key makes it
    one ballot per evaluator), written in the same transaction as the ballot's sealed
    PendingBallot. It names no ballot; its time is rounded to the hour (the turnout)."""

    __tablename__ = "ballot_cast"

    evaluator_id: Mapped[int] = mapped_column(ForeignKey("evaluator.id", ondelete="CASCADE"), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("online_round.id", ondelete="CASCADE"), index=True)
    cast_hour: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PendingBallot(Base):
    """A ballot on its way into the ballot box: written, sealed (AES-GCM under a key
    derived from PHONE_KEY, which the database never holds), in the transaction that
    writes its evaluator's BallotCast, so the two share that transaction's traces
    (PostgreSQL's xmin, the order of writes). A move takes at least
    ballots.BATCH of them at a time, in a shuffled order, into Ballot and deletes them
    (voting/online/ballots.py, "the ballot box")."""

    __tablename__ = "pending_ballot"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("online_round.id", ondelete="CASCADE"), index=True)
    sealed: Mapped[str] = mapped_column(Text)


class Ballot(Base):
    """A secret ballot in the ballot box: no evaluator, no session, no time, a random
    id, written by a move of a shuffled batch (`batch`: the move's number in the round)
    in a transaction of its own. `receipt` is the hash of the ballot's marks and a
    random salt, which the evaluator keeps to check on a public page that it is
    counted."""

    __tablename__ = "ballot"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("online_round.id", ondelete="CASCADE"), index=True)
    receipt: Mapped[str] = mapped_column(String(64), unique=True)
    # The receipt's salt: an auditor can recompute every receipt from its ballot's marks.
    salt: Mapped[str] = mapped_column(String(32))
    batch: Mapped[int] = mapped_column(Integer, default=0)


class BallotMark(Base):
    """One candidate's rating on one ballot."""

    __tablename__ = "ballot_mark"

    ballot_id: Mapped[str] = mapped_column(ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), primary_key=True)
    choice: Mapped[Choice] = mapped_column(enum_column(Choice, "choice"))


# The phone's keyed hash kept in step (voting/core/vault.py).
keep_hash(Evaluator)
