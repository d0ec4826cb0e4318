"""The audit log's table: one entry per score-affecting action, chained by hashes (SQLAlchemy 2, typed; voting/schema.py gathers every
package's tables for Alembic's migrations)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from voting.core.models import Base, utcnow


class AuditEntry(Base):
    """An append-only log of every score-affecting action. Each entry carries the hash
    of the one before (`prev_hash`, unique: the chain cannot fork) and its own hash over
    its content and that previous hash, so an entry changed or removed afterwards
    breaks the chain at that point (`pingyi audit verify`). No foreign keys: deleting
    a campaign or a user must not touch the log."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    campaign_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
