"""A service centre's window assessments (窗口绩效考核, docs/schemes.md): the assessment
with its scheme's text, the entities it assesses, its periods and the records of each
period (SQLAlchemy 2, typed; voting/schema.py gathers every package's tables)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from voting.core.models import Base, utcnow


class Assessment(Base):
    """One office's assessment run by a scheme: the scheme's YAML as it was loaded
    (a built-in's copy, or the office's own file), so that a later edit of a built-in
    never changes past results."""

    __tablename__ = "assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    scheme_text: Mapped[str] = mapped_column(Text)
    scheme_source: Mapped[str] = mapped_column(String(200))  # "builtin:jinjiang" or the file's name
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))


class AssessedEntity(Base):
    """A window, department, town or staff member the assessment scores."""

    __tablename__ = "assessed_entity"
    __table_args__ = (UniqueConstraint("assessment_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    group_id: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)  # 序号
    window: Mapped[str] = mapped_column(String(200), default="")  # a staff member's window
    # The unit (单位) whose liaison sees this entity's scores and items; none: the office only.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"), index=True)


class AssessmentPeriod(Base):
    """A period of the scheme's (2023-Q1…) or a longer one rolled up from them; records
    are taken while it is open, and closing it fixes its results (reopening is audited)."""

    __tablename__ = "assessment_period"
    __table_args__ = (UniqueConstraint("assessment_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(10))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(80))


class AssessmentRecord(Base):
    """One event or measure of an entity in a period (docs/schemes.md §2, items.csv):
    the indicator, the count, the value as written, the points as given (thousandths;
    an observed rule's input), the evidence, and who recorded it when."""

    __tablename__ = "assessment_record"
    __table_args__ = (CheckConstraint("count >= 0", name="count"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_period.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("assessed_entity.id", ondelete="CASCADE"), index=True)
    indicator: Mapped[str] = mapped_column(String(60))
    on: Mapped[date | None] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=1)
    value: Mapped[str] = mapped_column(String(60), default="")
    points: Mapped[int | None] = mapped_column(BigInteger)  # thousandths, as given
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ComparisonFigure(Base):
    """Another place's figure of a `rank` indicator for an entity's period (comparison.csv)."""

    __tablename__ = "assessment_comparison"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_period.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("assessed_entity.id", ondelete="CASCADE"), index=True)
    indicator: Mapped[str] = mapped_column(String(60))
    place: Mapped[str] = mapped_column(String(60))
    figure: Mapped[int] = mapped_column(BigInteger)  # thousandths
