"""The office's recorded decisions on the results (SQLAlchemy 2, typed; voting/schema.py gathers every
package's tables for Alembic's migrations)."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Text,
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
