"""The campaign and its lists: units, sections, earlier years' results, service-object
lists (SQLAlchemy 2, typed; voting/schema.py gathers every
package's tables for Alembic's migrations)."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scoring.settings import RuleSettings
from voting.core.models import Base, enum_column, utcnow
from voting.core.vault import (
    HASH_LENGTH,
    EncryptedPhone,
    keep_hash,
    phone_hash_default,
)


class RoundKind(str, enum.Enum):
    H1 = "H1"  # half-year
    H2 = "H2"  # year-end
    R = "R"  # 复评: next June, the year's 不满意单位 only (docs/rules.md §2.19); not part of the year's score

    @property
    def label(self) -> str:
        """The evaluation round's name (半年度, 年终, 复评); the period it surveys (上半年, 下半年) is rounds.ROUND_NAMES."""
        return {"H1": "半年度", "H2": "年终", "R": "复评"}[self.value]

    @property
    def title(self) -> str:
        """What the round is, as its pages head it."""
        return {"H1": "上半年服务对象调查", "H2": "下半年服务对象调查", "R": "上年不满意单位复评"}[self.value]

    @property
    def scored(self) -> bool:
        """Whether the round's votes are the year's 服务对象评价 (H1, H2); the 复评's are not."""
        return self is not RoundKind.R


class Result(str, enum.Enum):
    satisfied = "satisfied"
    unsatisfied = "unsatisfied"
    most_unsatisfied = "most_unsatisfied"

    @property
    def label(self) -> str:
        return RESULT_LABELS[self]


RESULT_LABELS = {
    Result.satisfied: "满意单位",
    Result.unsatisfied: "不满意单位",
    Result.most_unsatisfied: "最不满意单位",
}


class Campaign(Base):
    """One year's evaluation, with every rule number of docs/rules.md §2 stored on it."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict] = mapped_column(JSON, default=lambda: RuleSettings().to_dict())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When the retention command erased its citizens' and evaluators' personal data
    # (voting/office/retention.py); the aggregates stay.
    personal_data_erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    units: Mapped[list[Unit]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="Unit.number"
    )

    @property
    def rules(self) -> RuleSettings:
        return RuleSettings.from_dict(self.settings)


class Unit(Base):
    """A county office or state enterprise (单位) in one campaign."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    number: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))

    campaign: Mapped[Campaign] = relationship(back_populates="units")
    sections: Mapped[list[Section]] = relationship(
        back_populates="unit", cascade="all, delete-orphan", order_by="Section.number"
    )


class Section(Base):
    """An evaluated section (参评科室)."""

    __tablename__ = "section"
    __table_args__ = (UniqueConstraint("unit_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    number: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    # 管理执法类: must report at least 100 penalized service objects (docs/rules.md §3.4).
    is_enforcement: Mapped[bool] = mapped_column(Boolean, default=False)
    # 应报未报 (docs/rules.md §2.7): a section found missing from the list and added during
    # the year (补录) takes part from then on; when it was found, and why. None / "" for a
    # section of the imported list.
    listed_late_on: Mapped[date | None] = mapped_column(Date)
    late_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    unit: Mapped[Unit] = relationship(back_populates="sections")


class HistoryResult(Base):
    """An earlier year's result, by names: earlier years need not be campaigns here."""

    __tablename__ = "history_result"
    __table_args__ = (UniqueConstraint("year", "unit_name", "section_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    unit_name: Mapped[str] = mapped_column(String(100))
    section_name: Mapped[str] = mapped_column(String(200))
    result: Mapped[Result] = mapped_column(enum_column(Result, "result"))


class ObjectImport(Base):
    """One accepted service-object file: who sent it, when, and what it held."""

    __tablename__ = "object_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    round: Mapped[RoundKind] = mapped_column(enum_column(RoundKind, "round_kind"))
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows_read: Mapped[int] = mapped_column(Integer)
    stored: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    # What the uploader is shown afterwards: per-section counts and duplicate rows.
    report: Mapped[dict] = mapped_column(JSON, default=dict)


class SectionList(Base):
    """The current service-object list of one section for one round (replaced whole by
    a new upload), with the 100-penalized confirmation of docs/rules.md §3.4."""

    __tablename__ = "section_list"

    section_id: Mapped[int] = mapped_column(
        ForeignKey("section.id", ondelete="CASCADE"), primary_key=True
    )
    round: Mapped[RoundKind] = mapped_column(enum_column(RoundKind, "round_kind"), primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("object_import.id", ondelete="CASCADE"))
    objects: Mapped[int] = mapped_column(Integer)
    penalized: Mapped[int] = mapped_column(Integer)
    all_penalized_reported: Mapped[bool] = mapped_column(Boolean, default=False)

    section: Mapped[Section] = relationship()
    upload: Mapped[ObjectImport] = relationship()


class ServiceObject(Base):
    """A citizen or company a section served (服务对象), for one round."""

    __tablename__ = "service_object"
    __table_args__ = (UniqueConstraint("section_id", "round", "phone_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"))
    round: Mapped[RoundKind] = mapped_column(enum_column(RoundKind, "round_kind"))
    import_id: Mapped[int] = mapped_column(
        ForeignKey("object_import.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    org_title: Mapped[str] = mapped_column(String(200), default="")
    # 11 national digits, sealed at rest (voting/core/vault.py) and found by phone_hash;
    # shown only through sms.phones.mask_phone. None once erased (retention).
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)
    phone_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=phone_hash_default, index=True)
    matter: Mapped[str] = mapped_column(Text)
    penalized: Mapped[bool] = mapped_column(Boolean, default=False)
    source_row: Mapped[int] = mapped_column(Integer)


# The phone's keyed hash kept in step (voting/core/vault.py).
keep_hash(ServiceObject)
