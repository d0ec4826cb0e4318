"""The office's recorded decisions on the results (SQLAlchemy 2, typed; voting/schema.py gathers every
package's tables for Alembic's migrations)."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.core.models import Base, enum_column, utcnow
from voting.lists.models import Result

if TYPE_CHECKING:
    from voting.lists.models import Section
    from voting.staff.models import User


class ResultDecision(Base):
    """The review office's confirmation or override of a proposed result, with its
    reason (the county committee decides; docs/rules.md §2.15)."""

    __tablename__ = "result_decision"
    __table_args__ = (CheckConstraint("length(reason) > 0", name="reason"),)

    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), primary_key=True)
    # None: taken off every list.
    result: Mapped[Result | None] = mapped_column(enum_column(Result, "result"))
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    section: Mapped[Section] = relationship()
    decided_by: Mapped[User | None] = relationship()


class ConsequenceRecord(Base):
    """The office's record that one consequence of the published results (结果运用,
    scoring/consequences.py) was carried out: when, by whom, a note. The consequences
    themselves are computed from the published lists; `key` names one of them
    (Consequence.key: kind, unit and section names). Removed when the office undoes it."""

    __tablename__ = "consequence_record"
    __table_args__ = (
        UniqueConstraint("campaign_id", "key"),
        CheckConstraint("length(done_by) > 0", name="done_by"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(40))
    done_on: Mapped[date] = mapped_column(Date)
    done_by: Mapped[str] = mapped_column(String(100))  # who carried it out (a body or a person)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    recorded_by: Mapped[User | None] = relationship()
