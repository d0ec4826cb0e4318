"""Staff accounts and their roles (SQLAlchemy 2, typed; voting/schema.py gathers every
package's tables for Alembic's migrations)."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.core.models import Base, enum_column, utcnow
from voting.core.vault import (
    EncryptedPhone,
)

if TYPE_CHECKING:
    from voting.lists.models import Unit


class Role(str, enum.Enum):
    admin = "admin"  # 评议办管理员
    operator = "operator"  # 评议办工作人员（电话调查等）
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
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The second factor (voting/staff/auth.py): the TOTP secret (base32) once enrolled, and
    # the last 30-second time step whose code logged in (a code is good once).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Guessing (voting/staff/users.py, LoginPolicy): wrong passwords and codes in a
    # row, the earliest moment the next attempt is taken, and the lock that only an
    # admin lifts. A login attempt is counted before its password is checked.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The generation of the account's sessions: part of the id every session (and a
    # remember cookie) carries, so that raising it ends all of them at once.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A liaison's mobile, for the office's deadline reminders (voting/deadlines/deadlines.py):
    # sealed at rest like every phone, shown masked.
    phone: Mapped[str | None] = mapped_column(EncryptedPhone)

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
        # Flask-Login's "alternative token": a session made before the epoch was
        # raised names an epoch that no longer loads (voting/staff/auth.py, _load_user).
        return f"{self.id}:{self.session_epoch}"
