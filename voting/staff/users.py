"""Staff accounts (the roles of docs/rules.md §1.3): creating and listing them, their
passwords and second factor, how guessing a password is slowed and then stopped
(LoginPolicy), and how all sessions of an account end at once (`end_sessions`).
Nothing here commits: the request or the CLI command does."""
from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn, Protocol, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from sms.phones import PhoneError, normalize_phone
from voting.core.clock import aware
from voting.core.errors import DomainError, NotFoundError
from voting.staff.models import Role, User
from voting.lists.models import Unit
from voting.audit import audit

_USERNAME = re.compile(r"[A-Za-z0-9_.\-]{2,64}")
# Checked against when the username is unknown, so that both paths take as long.
_DUMMY_HASH = generate_password_hash("not a password")
MIN_PASSWORD = 10
# NIST SP 800-63B §5.2.2: no more than 100 consecutive failed attempts on one account.
MAX_LOCK_FAILURES = 100


class UserExistsError(DomainError):
    status = 409


class LoginRefusedError(DomainError):
    """A staff login attempt (a password or a second-factor code) that did not log in."""


class LoginFailedError(LoginRefusedError):
    """A wrong name or password, one message for both; `notice` says how long the next
    attempt must wait when it must."""

    status = 401

    def __init__(self, notice: str = "") -> None:
        self.notice = notice
        super().__init__("用户名或密码错误。" + notice)


class LoginDelayedError(LoginRefusedError):
    """The account's next attempt is not due yet: refused without checking anything."""

    status = 429

    def __init__(self, message: str, seconds: int) -> None:
        self.seconds = seconds  # for Retry-After
        super().__init__(message)


class AccountLockedError(LoginRefusedError):
    status = 423


@dataclass(frozen=True)
class LoginPolicy:
    """How guessing one account's password is slowed, then stopped, whatever address
    the guesses come from: after `free_failures` wrong passwords or codes in a row the
    next attempt waits `delay_seconds`, twice as long after each further failure (at
    most `max_delay_seconds`); `lock_failures` in a row lock the account until an admin
    unlocks it. From the settings STAFF_LOGIN_* (voting/core/config.py), read and checked by
    voting.staff.auth.login_policy."""

    free_failures: int = 5
    delay_seconds: float = 30.0
    max_delay_seconds: float = 15 * 60.0
    lock_failures: int = 20
    zone: str = "Asia/Shanghai"  # the clock the messages name the time in

    def wait_after(self, failures: int) -> float:
        """Seconds the next attempt waits after `failures` failures in a row."""
        if failures < self.free_failures:
            return 0.0
        doublings = min(failures - self.free_failures, 60)  # past 2**60 only the cap matters
        return min(self.delay_seconds * 2.0 ** doublings, self.max_delay_seconds)

    def locked_message(self) -> str:
        return (f"该账号已连续 {self.lock_failures} 次登录失败，为了安全已被锁定："
                "请联系评议办系统管理员在“工作人员账号”页面解锁后再登录。")

    def wait_message(self, until: datetime, now: datetime, failures: int | None = None) -> tuple[str, int]:
        """What to tell someone who must wait until `until`, and the seconds (at least 1)."""
        seconds = max(1, math.ceil((until - now).total_seconds()))
        clock = until.astimezone(ZoneInfo(self.zone)).strftime("%H:%M:%S")
        wait = f"{seconds} 秒" if seconds < 60 else f"{math.ceil(seconds / 60)} 分钟"
        told = f"该账号已连续 {failures} 次登录失败，" if failures else "该账号登录失败次数过多，"
        return f"{told}为了账号安全，请在 {clock}（{wait}后）再试。", seconds


class StrangerAttempts(Protocol):
    """Where attempts at names with no active account are counted (voting/staff/auth.py keeps
    them in the rate-limit storage), so that those names are refused exactly as an
    account would be: the answers never tell whether an account exists."""

    def state(self, name: str) -> tuple[int, datetime | None]:
        """The failures in a row at `name`, and when the next attempt is due."""

    def failed(self, name: str, policy: LoginPolicy, now: datetime) -> int:
        """Count a failure at `name` and set when the next attempt is due; the count."""


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


def accounts(session: Session) -> list[User]:
    """Every staff account, by role, then name (the users page)."""
    return list(session.scalars(select(User).order_by(User.role, User.username)))


def get_user(session: Session, user_id: int) -> User | None:
    """The account with this id, if there is one (active or not)."""
    return session.get(User, user_id)


def user_named(session: Session, username: str) -> User:
    """The account of this user name; NotFoundError if there is none."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"没有账号 {username}")
    return user


def find_unit(session: Session, campaign_id: int, name: str) -> Unit | None:
    """The campaign's unit of this name, for a liaison's account."""
    return session.scalar(select(Unit).where(Unit.campaign_id == campaign_id, Unit.name == name))


def campaign_units(session: Session, campaign_id: int) -> list[Unit]:
    """The campaign's units, a liaison account's choices, by number, then name."""
    return list(session.scalars(select(Unit).where(Unit.campaign_id == campaign_id).order_by(Unit.number, Unit.name)))


def units_without_liaison(session: Session, campaign_id: int) -> list[Unit]:
    """The campaign's units that have no active liaison account, in the list's order."""
    staffed = select(User.unit_id).where(User.role == Role.liaison, User.active.is_(True), User.unit_id.is_not(None))
    return list(session.scalars(
        select(Unit).where(Unit.campaign_id == campaign_id, Unit.id.not_in(staffed)).order_by(Unit.number, Unit.id)
    ))


def create_liaisons(session: Session, campaign_id: int) -> list[tuple[User, str]]:
    """One liaison account for each unit without an active one (flush; the caller
    commits), named liaison-<unit number> (another number appended if that name is
    taken), each with a new password: the accounts and their passwords, for the slips
    printed once (the passwords are stored only as hashes)."""
    made = []
    for unit in units_without_liaison(session, campaign_id):
        base = f"liaison-{unit.number if unit.number is not None else unit.id}"
        name, n = base, 1
        while session.scalar(select(User.id).where(User.username == name)) is not None:
            n += 1
            name = f"{base}-{n}"
        password = new_password()
        made.append((create_user(session, name, password, Role.liaison, unit, f"{unit.name}联络员"), password))
    return made


# ---- logging in ------------------------------------------------------------------------


def _refusal(policy: LoginPolicy, failures: int, next_at: datetime | None, locked: bool,
             now: datetime) -> LoginRefusedError | None:
    """Why an attempt is not taken now, if it is not: the same rule for an account and
    for a name without one."""
    if locked or failures >= policy.lock_failures:
        return AccountLockedError(policy.locked_message())
    next_at = aware(next_at)
    if next_at is not None and next_at > now:
        return LoginDelayedError(*policy.wait_message(next_at, now))
    return None


def _failure(policy: LoginPolicy, failures: int, now: datetime) -> LoginRefusedError:
    """The answer to the `failures`-th failure in a row: the same for an account and
    for a name without one."""
    if failures >= policy.lock_failures:
        return AccountLockedError(policy.locked_message())
    wait = policy.wait_after(failures)
    if not wait:
        return LoginFailedError()
    message, _ = policy.wait_message(now + timedelta(seconds=wait), now, failures)
    return LoginFailedError(message)


def authenticate(
    session: Session, username: str, password: str, policy: LoginPolicy, now: datetime, strangers: StrangerAttempts,
) -> User:
    """The active account with this name and password, or a named error:
    LoginFailedError, LoginDelayedError (too soon after failures: nothing checked),
    AccountLockedError. The caller commits whatever the outcome: a failure is counted
    although the request fails. A name with no active account gets the same answers
    at the same points (`strangers` counts its failures) after the same password hash
    check. With a second factor, the password alone neither counts as a failure nor
    resets the count: the code does (`claim_attempt`, `attempt_failed`)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        _stranger(strangers, username, password, policy, now)
    claim_attempt(session, user, policy, now)
    if not check_password_hash(user.password_hash, password):
        raise attempt_failed(session, user, policy, now)
    if user.totp_secret:
        # Handed back: the attempt that counts is the code's, so that the password,
        # typed again after wrong codes, cannot wipe them out.
        session.execute(update(User).where(User.id == user.id, User.failed_logins > 0)
                        .values(failed_logins=User.failed_logins - 1, next_login_at=None)
                        .execution_options(synchronize_session=False))
    else:
        attempt_succeeded(session, user)
    return user


def _stranger(
    strangers: StrangerAttempts, username: str, password: str, policy: LoginPolicy, now: datetime,
) -> NoReturn:
    failures, next_at = strangers.state(username)
    refusal = _refusal(policy, failures, next_at, False, now)
    if refusal is not None:
        raise refusal
    check_password_hash(_DUMMY_HASH, password)
    raise _failure(policy, strangers.failed(username, policy, now), now)


def claim_attempt(session: Session, user: User, policy: LoginPolicy, now: datetime) -> None:
    """Count one attempt at `user` before its password or code is checked, or refuse
    it (AccountLockedError, LoginDelayedError) without checking anything. One atomic
    UPDATE counts it, and only while the account is neither locked nor waiting; the
    row then stays locked to this transaction (PostgreSQL's row lock, SQLite's write
    lock) until the caller commits, so that a concurrent attempt waits for this one's
    outcome and then finds the wait it set: however many arrive at once, one password
    is checked per due attempt."""
    for _ in range(2):
        failures = session.execute(
            update(User)
            .where(User.id == user.id, User.locked_at.is_(None), User.failed_logins < policy.lock_failures,
                   or_(User.next_login_at.is_(None), User.next_login_at <= now))
            .values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if failures is not None:
            # Due again only after the wait this attempt would earn by failing; an
            # attempt that succeeds lifts it.
            session.execute(update(User).where(User.id == user.id)
                            .values(next_login_at=now + timedelta(seconds=policy.wait_after(failures)))
                            .execution_options(synchronize_session=False))
            return
        row = session.execute(
            select(User.failed_logins, User.next_login_at, User.locked_at).where(User.id == user.id)
        ).one()
        refusal = _refusal(policy, row.failed_logins, row.next_login_at, row.locked_at is not None, now)
        if refusal is not None:
            raise refusal
        # Neither locked nor waiting any more (an admin unlocked it meanwhile): again.
    raise LoginDelayedError("该账号正在登录，请稍后再试。", 1)


def attempt_failed(session: Session, user: User, policy: LoginPolicy, now: datetime) -> LoginRefusedError:
    """The claimed attempt was wrong: it stays counted, and the one that reaches
    `lock_failures` locks the account. The error to answer with."""
    failures = session.execute(select(User.failed_logins).where(User.id == user.id)).scalar_one()  # under the claim's row lock
    if failures >= policy.lock_failures:
        session.execute(update(User).where(User.id == user.id, User.locked_at.is_(None)).values(locked_at=now)
                        .execution_options(synchronize_session=False))
    return _failure(policy, failures, now)


def attempt_succeeded(session: Session, user: User) -> None:
    """The claimed attempt logged in: the failures before it no longer count."""
    session.execute(update(User).where(User.id == user.id).values(failed_logins=0, next_login_at=None)
                    .execution_options(synchronize_session=False))


def claim_totp_step(session: Session, user: User, step: int) -> bool:
    """Store `step` as the user's last used second-factor time step, unless it already
    is (or a later one is): one UPDATE, so that two requests with the same code cannot
    both log in. False when another request claimed it first."""
    # An UPDATE's result is a CursorResult, which has the rowcount.
    result = cast(CursorResult, session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ))
    return result.rowcount == 1


def is_locked(user: User, policy: LoginPolicy) -> bool:
    return user.locked_at is not None or user.failed_logins >= policy.lock_failures


def unlock(session: Session, user: User, actor: str) -> bool:
    """Lift the lock and the wait, forget the failures (an admin's act, audited). False
    when there was nothing to lift."""
    failures, locked = user.failed_logins, user.locked_at is not None
    if not failures and not locked and user.next_login_at is None:
        return False
    user.failed_logins, user.next_login_at, user.locked_at = 0, None, None
    session.flush()
    audit.record(session, "user.unlock", actor=actor,
                 detail={"user_id": user.id, "username": user.username, "failed_logins": failures, "locked": locked})
    return True


# ---- sessions and passwords --------------------------------------------------------------


def session_user(session: Session, user_id: int, epoch: object) -> User | None:
    """The account a staff session names, if that session may still stand: active,
    and the session made in the account's current `epoch` (see User.get_id)."""
    user = session.get(User, user_id)
    if user is None or not user.active or user.session_epoch != epoch:
        return None
    return user


def end_sessions(session: Session, user: User) -> None:
    """Every session of `user` ends at its next request (voting/staff/auth.py checks the
    epoch each session was made in). Raised in the database, not from the value this
    session read, so that two raises at once both count."""
    user.session_epoch = User.session_epoch + 1
    session.flush()


def end_all_sessions(session: Session, user: User, actor: str) -> None:
    """An admin ends every login of `user` (a lost laptop, a shared computer): audited."""
    end_sessions(session, user)
    audit.record(session, "user.end_sessions", actor=actor, detail={"user_id": user.id, "username": user.username})


def enrol_second_factor(session: Session, user: User, secret: str, step: int) -> None:
    """The second factor confirmed: `secret` is the account's from now on, and the time
    step of the code that confirmed it is used."""
    user.totp_secret = secret
    user.totp_last_step = step
    session.flush()


def reset_second_factor(session: Session, user: User) -> bool:
    """Turn the account's second factor off (a lost phone): the next login asks for the
    password alone, and the user can enrol again. False when it was not on."""
    if not user.totp_secret:
        return False
    user.totp_secret = None
    user.totp_last_step = None
    return True


def new_password() -> str:
    """A random initial password, shown once to whoever creates the account."""
    return secrets.token_urlsafe(12)


def set_active(session: Session, user: User, active: bool, acting: User) -> None:
    """Deactivating ends the account's sessions, and so does reactivating: a session
    from before it was deactivated stays ended."""
    if user.id == acting.id and not active:
        raise DomainError("不能停用自己的账号")
    user.active = active
    end_sessions(session, user)


def reset_password(session: Session, user: User) -> str:
    """A new random password; every session of the account ends. The count of failed
    logins stays: lifting a lock is `unlock`, an act of its own."""
    password = new_password()
    user.password_hash = generate_password_hash(password)
    end_sessions(session, user)
    return password


def set_phone(session: Session, user: User, raw: str, actor: str) -> None:
    """Record (or, with an empty value, remove) a liaison's mobile for the deadline
    reminders, audited without the number. Only liaisons are reminded, so only their
    accounts hold a phone."""
    if user.role is not Role.liaison:
        raise DomainError("只有单位联络员的账号登记手机号码（用于报送提醒）")
    raw = (raw or "").strip()
    try:
        phone = normalize_phone(raw) if raw else None
    except PhoneError as error:
        raise DomainError(f"{user.username} 的手机号码：{error}") from None
    user.phone = phone
    audit.record(session, "user.phone", actor=actor, detail={"user": user.username, "unit": user.unit.name if user.unit else "",
                                                             "set": phone is not None})
