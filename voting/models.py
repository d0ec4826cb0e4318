"""The data model (SQLAlchemy 2, typed). Alembic migrations in `migrations/` follow it."""
from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from scoring.settings import RuleSettings

# Explicit constraint names, so that migrations behave the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # Stored as the value, checked by a CHECK constraint, same on both databases.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda k: [m.value for m in k],
        validate_strings=True,
    )


class RoundKind(str, enum.Enum):
    H1 = "H1"  # half-year
    H2 = "H2"  # year-end

    @property
    def label(self) -> str:
        return {"H1": "半年度", "H2": "年终"}[self.value]


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


class Role(str, enum.Enum):
    admin = "admin"  # 评议办管理员
    operator = "operator"  # 评议办工作人员(电话调查等)
    liaison = "liaison"  # 单位联络员: one unit only
    auditor = "auditor"  # 审计: reads, never writes

    @property
    def label(self) -> str:
        return {
            "admin": "评议办管理员",
            "operator": "评议办工作人员",
            "liaison": "单位联络员",
            "auditor": "审计员",
        }[self.value]


class Campaign(Base):
    """One year's evaluation, with every rule number of SPEC §2 stored on it."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict] = mapped_column(JSON, default=lambda: RuleSettings().to_dict())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

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
    # 管理执法类: must report at least 100 penalized service objects (SPEC §3).
    is_enforcement: Mapped[bool] = mapped_column(Boolean, default=False)

    unit: Mapped[Unit] = relationship(back_populates="sections")


class HistoryResult(Base):
    """An earlier year's result, by names: earlier years need not be campaigns here."""

    __tablename__ = "history_result"
    __table_args__ = (UniqueConstraint("year", "unit_name", "section_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    unit_name: Mapped[str] = mapped_column(String(100))
    section_name: Mapped[str] = mapped_column(String(200))
    result: Mapped[Result] = mapped_column(_enum(Result, "result"))


class ObjectImport(Base):
    """One accepted service-object file: who sent it, when, and what it held."""

    __tablename__ = "object_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    round: Mapped[RoundKind] = mapped_column(_enum(RoundKind, "round_kind"))
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
    a new upload), with the 100-penalized confirmation of SPEC §3."""

    __tablename__ = "section_list"

    section_id: Mapped[int] = mapped_column(
        ForeignKey("section.id", ondelete="CASCADE"), primary_key=True
    )
    round: Mapped[RoundKind] = mapped_column(_enum(RoundKind, "round_kind"), primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("object_import.id", ondelete="CASCADE"))
    objects: Mapped[int] = mapped_column(Integer)
    penalized: Mapped[int] = mapped_column(Integer)
    all_penalized_reported: Mapped[bool] = mapped_column(Boolean, default=False)

    section: Mapped[Section] = relationship()
    upload: Mapped[ObjectImport] = relationship()


class ServiceObject(Base):
    """A citizen or company a section served (服务对象), for one round."""

    __tablename__ = "service_object"
    __table_args__ = (UniqueConstraint("section_id", "round", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"))
    round: Mapped[RoundKind] = mapped_column(_enum(RoundKind, "round_kind"))
    import_id: Mapped[int] = mapped_column(
        ForeignKey("object_import.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    org_title: Mapped[str] = mapped_column(String(200), default="")
    # 11 national digits; shown only through sms.phones.mask_phone.
    phone: Mapped[str] = mapped_column(String(11), index=True)
    matter: Mapped[str] = mapped_column(Text)
    penalized: Mapped[bool] = mapped_column(Boolean, default=False)
    source_row: Mapped[int] = mapped_column(Integer)


class User(Base):
    """A staff account: review office, operator, unit liaison (one unit) or auditor."""

    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint("role != 'liaison' OR unit_id IS NOT NULL", name="liaison_has_unit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    unit: Mapped[Unit | None] = relationship()

    # Flask-Login's user protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)
