"""The office's deadlines for the units (SQLAlchemy 2, typed; voting/schema.py gathers every
package's tables for Alembic's migrations)."""
from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from voting.core.models import Base, enum_column


class DeadlineKind(str, enum.Enum):
    """What the units owe the office by a date (README, "Deadlines and reminders")."""

    list_h1 = "list_h1"  # the H1 service-object lists (the rules: 6月10日)
    list_h2 = "list_h2"  # the H2 lists (10月10日)
    supervisor = "supervisor"  # the supervisor scores (主管单位评价, 11月10日)

    @property
    def label(self) -> str:
        return {"list_h1": "H1 轮服务对象名单", "list_h2": "H2 轮服务对象名单", "supervisor": "主管单位评价"}[self.value]


class Deadline(Base):
    """A date the office set for one thing the units owe, and when to remind the
    liaisons of the units still owing it: `remind_days` before the date, once
    (`auto_reminded_for` is the reminder day that was done, so a changed date or lead
    time reminds again)."""

    __tablename__ = "deadline"
    __table_args__ = (UniqueConstraint("campaign_id", "kind"),
                      CheckConstraint("remind_days >= 0 AND remind_days <= 60", name="remind_days"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DeadlineKind] = mapped_column(enum_column(DeadlineKind, "deadline_kind"))
    due_on: Mapped[date] = mapped_column(Date)
    remind_days: Mapped[int] = mapped_column(Integer, default=3)
    auto_reminded_for: Mapped[date | None] = mapped_column(Date)
