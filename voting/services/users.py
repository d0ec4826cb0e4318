"""Staff accounts."""
from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from voting.errors import DomainError
from voting.models import Role, Unit, User

_USERNAME = re.compile(r"[A-Za-z0-9_.\-]{2,64}")
# Checked against when the username is unknown, so that both paths take as long.
_DUMMY_HASH = generate_password_hash("not a password")
MIN_PASSWORD = 10


class UserExistsError(DomainError):
    status = 409


def create_user(
    session: Session, username: str, password: str, role: Role, unit: Unit | None = None, display_name: str = ""
) -> User:
    if not _USERNAME.fullmatch(username):
        raise DomainError("用户名只能用 2–64 个字母、数字、点、下划线或连字符")
    if len(password) < MIN_PASSWORD:
        raise DomainError(f"密码至少 {MIN_PASSWORD} 位")
    if role == Role.liaison and unit is None:
        raise DomainError("单位联络员必须指定所属单位")
    if role != Role.liaison and unit is not None:
        raise DomainError("只有单位联络员属于某个单位")
    if session.scalar(select(User).where(User.username == username)):
        raise UserExistsError(f"用户名 {username} 已存在")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=generate_password_hash(password),  # scrypt, salted
        role=role,
        unit=unit,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def new_password() -> str:
    """A random initial password, shown once to whoever creates the account."""
    return secrets.token_urlsafe(12)


def set_active(session: Session, user: User, active: bool, acting: User) -> None:
    if user.id == acting.id and not active:
        raise DomainError("不能停用自己的账号")
    user.active = active
    session.flush()


def reset_password(session: Session, user: User) -> str:
    password = new_password()
    user.password_hash = generate_password_hash(password)
    session.flush()
    return password
