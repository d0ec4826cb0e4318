"""The list-integrity flags (docs/rules.md §3.11: 严禁少报、漏报、瞒报、假报 and 拉票买票) (SQLAlchemy 2,
typed; voting/schema.py gathers every package's tables for Alembic's migrations).

A flag is a hint for the review office, with its evidence; it changes no score. One
flag per section, round and kind (the unique key): its evidence lists every item found
(each number, run, name or burst), so re-running the checks refreshes the one row and
never adds a second (voting/integrity/integrity.py, `store`).
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.core.models import Base, enum_column, utcnow
from voting.lists.models import RoundKind

if TYPE_CHECKING:
    from voting.lists.models import Section


class FlagKind(str, enum.Enum):
    staff_phone = "staff_phone"  # a service object's phone is one of the unit's staff phones
    shared_phone = "shared_phone"  # a number listed in many sections or units
    copied_list = "copied_list"  # the list repeats the section's list of last year
    sequential_run = "sequential_run"  # consecutive numbers in a list
    repeated_name = "repeated_name"  # one name many times in a list
    answer_burst = "answer_burst"  # many votes in minutes from one network

    @property
    def label(self) -> str:
        return FLAG_KIND_LABELS[self]


FLAG_KIND_LABELS = {
    FlagKind.staff_phone: "工作人员号码",
    FlagKind.shared_phone: "多科室重复号码",
    FlagKind.copied_list: "沿用去年名单",
    FlagKind.sequential_run: "连号",
    FlagKind.repeated_name: "同名多次",
    FlagKind.answer_burst: "集中作答",
}


class FlagStatus(str, enum.Enum):
    open = "open"  # 待核查
    cleared = "cleared"  # 已排除: checked, nothing wrong
    acted = "acted"  # 已处理: checked, the office acted (outside the platform)

    @property
    def label(self) -> str:
        return {"open": "待核查", "cleared": "已排除", "acted": "已处理"}[self.value]


class IntegrityFlag(Base):
    """One kind of fault found in one section's list (or its votes) of one round."""

    __tablename__ = "integrity_flag"
    __table_args__ = (UniqueConstraint("section_id", "round", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"))
    round: Mapped[RoundKind] = mapped_column(enum_column(RoundKind, "round_kind"))
    kind: Mapped[FlagKind] = mapped_column(enum_column(FlagKind, "integrity_kind"))
    # Masked phones, masked names, list rows, counts and times only (checks.py).
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    # SHA-256 of what the evidence is about (phone hashes, counts): a decision stands
    # while it is unchanged.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # False once the latest check no longer finds it (kept for its decision).
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[FlagStatus] = mapped_column(enum_column(FlagStatus, "integrity_status"), default=FlagStatus.open)
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The decision set aside when the evidence changed: {status, note, by, at}.
    previous: Mapped[dict | None] = mapped_column(JSON)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    times_found: Mapped[int] = mapped_column(Integer, default=1)

    section: Mapped[Section] = relationship()
