"""The SMS outbox: each message with its state, and the console sender's copies (SQLAlchemy 2, typed; voting/schema.py gathers every
package's tables for Alembic's migrations)."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from voting.core.models import Base, enum_column, utcnow
from voting.core.vault import (
    HASH_LENGTH,
    EncryptedPhone,
    keep_hash,
    phone_hash_default,
)


class OutboxStatus(str, enum.Enum):
    pending = "pending"  # waiting to be sent (maybe not before `not_before`)
    sending = "sending"  # claimed by a dispatch worker, until its lease ends
    sent = "sent"  # the provider accepted it
    delivered = "delivered"  # the provider's status callback says it arrived
    undelivered = "undelivered"  # the provider could not deliver it
    failed = "failed"  # refused for good, or out of attempts
    void = "void"  # never sent: what it announced ended first (its survey round closed or was cancelled)

    @property
    def label(self) -> str:
        return OUTBOX_STATUS_LABELS[self]


OUTBOX_STATUS_LABELS = {
    OutboxStatus.pending: "待发送",
    OutboxStatus.sending: "发送中",
    OutboxStatus.sent: "已发送",
    OutboxStatus.delivered: "已送达",
    OutboxStatus.undelivered: "未送达",
    OutboxStatus.failed: "发送失败",
    OutboxStatus.void: "已作废",
}


class OutboxMessage(Base):
    """One SMS to send, written in the same transaction as what it announces (an
    invitation, a reminder), so that nothing is announced without its message and no
    message goes out for something that was rolled back. Dispatch workers claim rows
    with a lease (`claimed_at`, `claimed_by`; on PostgreSQL with SKIP LOCKED), send
    them and record the outcome; a worker that dies leaves its claimed rows to be
    claimed again when the lease ends."""

    __tablename__ = "sms_outbox"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Idempotency: one message per key ("invite:42", "remind:42"). Twilio's API takes
    # no idempotency key, so a send that timed out after Twilio received it may, when
    # retried, arrive twice.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    # The survey round an invitation or reminder belongs to: it goes only while that
    # round takes answers (outbox.claim voids it otherwise).
    round_id: Mapped[int | None] = mapped_column(ForeignKey("survey_round.id", ondelete="SET NULL"), index=True)
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)  # None once erased (retention)
    phone_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=phone_hash_default, index=True)
    template: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(enum_column(OutboxStatus, "outbox_status"), default=OutboxStatus.pending, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # The sender that sent it ("aliyun", "tencent", "twilio", "console") and its id
    # there (Alibaba's BizId is one per call: a receipt names it with the number).
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # When the worker handed it to the provider, before the call: a worker that dies
    # between this and the outcome leaves it uncertain, never sent a second time.
    handed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(Text, default="")
    # The carrier's reason when a receipt says it did not arrive ("MK:0001 …").
    delivery_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConsoleMessage(Base):
    """What the console sender "delivered": the demo's stand-in for a phone, shown on
    the review office's outbox page so a newcomer can open the citizens' links. One row
    per send, duplicates included (a crash test counts them)."""

    __tablename__ = "sms_console"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    phone: Mapped[str] = mapped_column(EncryptedPhone)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# The phone's keyed hash kept in step (voting/core/vault.py).
keep_hash(OutboxMessage)
