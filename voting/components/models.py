"""The daily-stage components' tables: the imported files and the entries of votes,
platform, inspection and bonus events, the units' 主管单位评价 (SQLAlchemy 2, typed; voting/schema.py gathers every
package's tables for Alembic's migrations)."""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scoring import columns as C
from voting.core.models import Base, enum_column, one_of, utcnow

if TYPE_CHECKING:
    from voting.lists.models import Section
    from voting.staff.models import User


class ComponentKind(str, enum.Enum):
    votes = "votes"
    platform = "platform"
    supervisor = "supervisor"
    inspection = "inspection"
    bonus = "bonus"

    @property
    def label(self) -> str:
        return COMPONENT_KIND_LABELS[self]


COMPONENT_KIND_LABELS = {
    ComponentKind.votes: "投票汇总",
    ComponentKind.platform: "平台办理",
    ComponentKind.supervisor: "主管单位评价",
    ComponentKind.inspection: "监督检查",
    ComponentKind.bonus: "加分项",
}


class ComponentImport(Base):
    """One accepted component file. Its rows replace those of the earlier file of the
    same kind (single entries made in a form stay)."""

    __tablename__ = "component_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    kind: Mapped[ComponentKind] = mapped_column(enum_column(ComponentKind, "component_kind"))
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows: Mapped[int] = mapped_column(Integer)
    # Warnings shown afterwards (rows about exempt sections, which are not stored).
    report: Mapped[dict] = mapped_column(JSON, default=dict)

    uploaded_by: Mapped[User | None] = relationship()


class _Entry:
    """Where a component row came from: a file (import and row) or a form (who, when)."""

    source_row: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VoteCount(_Entry, Base):
    """Vote counts of one section and round from a file (a phone survey run outside
    the platform, an earlier system); the platform's own votes are counted with them (scorecards)."""

    __tablename__ = "vote_count"
    __table_args__ = (
        UniqueConstraint("section_id", "round"),
        one_of("round", (C.H1, C.H2, C.NET), "round"),
        CheckConstraint("satisfied >= 0 AND basic >= 0 AND unsatisfied >= 0", name="counts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    round: Mapped[str] = mapped_column(String(3))
    satisfied: Mapped[int] = mapped_column(Integer)
    basic: Mapped[int] = mapped_column(Integer)
    unsatisfied: Mapped[int] = mapped_column(Integer)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class PlatformEvent(_Entry, Base):
    """A deduction on a complaint platform (平台办理)."""

    __tablename__ = "platform_event"
    __table_args__ = (
        one_of("platform", (C.HOTLINE, C.SUPERVISION_NET), "platform"),
        one_of("item", (C.CONDUCT, C.HANDLING, C.COMPLAINT), "item"),
        one_of("role", (C.LEAD, C.CO), "role"),
        CheckConstraint("deduction > 0", name="deduction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    item: Mapped[str] = mapped_column(String(16))
    deduction: Mapped[float] = mapped_column(Float)
    role: Mapped[str] = mapped_column(String(8), default=C.LEAD)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    section: Mapped[Section] = relationship()


REASON_MAX = 300  # characters of a deduction's reason (InspectionEvent.reason)


class InspectionEvent(_Entry, Base):
    """A verified problem or a disciplinary case (监督检查), or one of the review office's
    own deductions from the component (docs/rules.md §2.7): 应报未报 (`missing_section_id`:
    the section found missing, of the same unit; the points are the campaign's setting
    `unreported_deduction`) and 影响评议工作 (`deduction`: the points given). Both carry
    their `reason`; the events recorded together (one finding, one decision, for the
    sections of a unit) share a `batch`, by which they are undone."""

    __tablename__ = "inspection_event"
    __table_args__ = (
        one_of("kind", (C.COUNTY, C.CITY_LEVEL, C.VERIFIED_COMPLAINT, C.CASE, C.UNREPORTED, C.DISCRETIONARY), "kind"),
        CheckConstraint("deduction IS NULL OR deduction > 0", name="deduction"),
        CheckConstraint("kind != 'discretionary' OR deduction IS NOT NULL", name="discretionary_deduction"),
        CheckConstraint("kind != 'unreported' OR missing_section_id IS NOT NULL", name="unreported_section"),
        CheckConstraint(
            "person IS NULL OR person IN ('principal', 'deputy', 'staff', 'collective')", name="person"
        ),
        CheckConstraint(
            "kind != 'case' OR (person IS NOT NULL AND current_year IS NOT NULL AND date IS NOT NULL)",
            name="case_details",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    person: Mapped[str | None] = mapped_column(String(16))
    current_year: Mapped[bool | None] = mapped_column(Boolean)
    date: Mapped[date | None] = mapped_column(Date)
    # The review office's deductions (C.UNREPORTED, C.DISCRETIONARY); NULL / "" for the findings.
    deduction: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(REASON_MAX), default="", server_default="")
    missing_section_id: Mapped[int | None] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    batch: Mapped[str | None] = mapped_column(String(32), index=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    section: Mapped[Section] = relationship(foreign_keys="InspectionEvent.section_id")
    missing_section: Mapped[Section | None] = relationship(foreign_keys="InspectionEvent.missing_section_id")


class BonusItem(_Entry, Base):
    """A commendation or a publicity item (加分项)."""

    __tablename__ = "bonus_item"
    __table_args__ = (
        one_of("kind", (C.COMMENDATION, C.PUBLICITY), "kind"),
        one_of("level", (C.NATIONAL, C.PROVINCIAL, C.CITY, C.CENTRAL), "level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    matter: Mapped[str] = mapped_column(String(300))
    date: Mapped[date] = mapped_column(Date)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    section: Mapped[Section] = relationship()


class SupervisorScore(Base):
    """主管单位评价: the unit's score of its own section, one decimal."""

    __tablename__ = "supervisor_score"
    __table_args__ = (CheckConstraint("score >= 0", name="score"),)

    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("component_import.id", ondelete="SET NULL"))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
