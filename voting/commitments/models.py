"""The units' forms of docs/rules.md §3.10 (附件4 服务承诺表, 附件5 工作人员联系表) (SQLAlchemy 2,
typed; voting/schema.py gathers every package's tables for Alembic's migrations).

Every phone here is sealed at rest like the citizens' (voting/core/vault.py) and shown to
no one: the staff phones serve only the list-integrity checks, which compare their keyed
hashes (PhoneVault.lookup) with the service objects' `phone_hash`.
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.core.models import Base, enum_column, utcnow
from voting.core.vault import HASH_LENGTH, EncryptedPhone, keep_hash, phone_hash_default

if TYPE_CHECKING:
    from voting.lists.models import Section, Unit


class SectionCommitment(Base):
    """附件4 参评科室服务承诺表: one per section, filled by its unit's liaison. The duties
    and the commitment are shown to citizens on the voting page; the phones to no one."""

    __tablename__ = "section_commitment"

    section_id: Mapped[int] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(200), default="")  # 办公地址(具体门牌)
    head_name: Mapped[str] = mapped_column(String(50), default="")  # 主要负责人
    head_phone: Mapped[str | None] = mapped_column(EncryptedPhone)  # 联系电话
    head_short: Mapped[str | None] = mapped_column(EncryptedPhone)  # 短号
    liaison_name: Mapped[str] = mapped_column(String(50), default="")  # 联络员
    liaison_phone: Mapped[str | None] = mapped_column(EncryptedPhone)
    liaison_short: Mapped[str | None] = mapped_column(EncryptedPhone)
    duties: Mapped[str] = mapped_column(Text, default="")  # 工作职责
    commitment: Mapped[str] = mapped_column(Text, default="")  # 服务承诺
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    section: Mapped[Section] = relationship()


class StaffRole(str, enum.Enum):
    leader = "leader"  # 分管领导
    head = "head"  # 责任科室主要负责人
    liaison = "liaison"  # 联络员
    staff = "staff"  # 工作人员 (the staff who serve)

    @property
    def label(self) -> str:
        return {"leader": "分管领导", "head": "主要负责人", "liaison": "联络员", "staff": "工作人员"}[self.value]


class StaffContact(Base):
    """附件5 工作人员联系表: one person of a unit, of one of its sections (责任科室) or of
    the unit as a whole (a 分管领导: section_id None). `phone_hash` is the keyed hash
    that the list-integrity checks compare with the service objects' phones."""

    __tablename__ = "staff_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("section.id", ondelete="CASCADE"), index=True)
    role: Mapped[StaffRole] = mapped_column(enum_column(StaffRole, "staff_role"))
    name: Mapped[str] = mapped_column(String(50))  # 姓名
    post: Mapped[str] = mapped_column(String(100), default="")  # 职务
    office_phone: Mapped[str | None] = mapped_column(EncryptedPhone)  # 办公电话
    # 手机号码: 11 national digits (sms.phones), sealed; found by phone_hash.
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)
    phone_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=phone_hash_default, index=True)
    qq: Mapped[str | None] = mapped_column(EncryptedPhone)  # QQ号码, sealed as a phone is
    source_row: Mapped[int | None] = mapped_column(Integer)  # the row of an imported file
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit] = relationship()
    section: Mapped[Section | None] = relationship()


# The mobile's keyed hash kept in step (voting/core/vault.py).
keep_hash(StaffContact)
