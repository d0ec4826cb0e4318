"""Confirming a citizen's phone by a 6-digit SMS code (the window ratings).

`request_code` sends a code; `check_code` checks what the citizen typed. Both take the
time (`now`, aware) and the settings (`VerificationSettings.from_config(app.config)`);
both flush and never commit, and `check_code`'s counted wrong try must be committed
even though it raises: a page calls `keep_writes()` (voting/core/db.py) before showing
the refusal, or a guesser's tries would be rolled back with the request.

**The code.** Six digits from the system's CSPRNG (`secrets.randbelow`), valid
`VALIDITY` (10 minutes: the registered SMS template says so), good once. A new code
for the phone ends the phone's earlier ones.

**Stored as a keyed hash only.** A row keeps "hmac-sha256$salt$mac": an HMAC-SHA256 of
a random per-row salt and the code under a key derived from PHONE_KEY
(`PhoneVault.password_mac`, the key the evaluators' one-time passwords use, the salt
prefixed so that the two never meet), which lives in the environment, never in the
database. A plain hash of a 6-digit code would be no protection at all: whoever reads
the database (a dump, a backup) tries the 10^6 codes offline in well under a second, and
so would a slow hash (scrypt at 50 ms a try is 14 hours for all codes, less than a
day for a code that needs 10 minutes to be worth it, and far less on a GPU). Without
the key a dump gives nothing to try codes against. What limits guessing online is the
count of wrong tries below. The code is also a secret parameter of its SMS template
(sms/templates.py): the outbox row holds it only until the message is sent or fails
for good, then masked.

**Wrong tries.** At most `max_tries` (5) wrong tries per phone per local day (the
office's time zone), whatever the number of codes: a new code starts from the count of
the phone's earlier codes of the same day (the tries of a code made the day before do
not carry over). Only the newest code of a phone can be tried. A try is counted by
one UPDATE … SET tries = tries + 1 WHERE the code is the newest, unused, unexpired and
tries < max_tries, before the code is compared (in constant time): no read-then-write,
so on PostgreSQL a hundred tries at once count at most five, each waiting on the row's
lock and seeing the count the one before left; once the tries are used, even the right
code is refused, uncompared, until the next day. The right code does not count as a
wrong try (its count is given back when the code is marked used).

**Send limits** (settings of the app, defaults here): one code per phone a minute
(`RATING_SMS_PHONE_INTERVAL_SECONDS` = 60), five per phone a local day
(`RATING_SMS_PHONE_DAILY` = 5), thirty per network an hour (`RATING_SMS_NETWORK_HOURLY`
= 30: a service hall's Wi-Fi or a carrier's NAT puts many citizens behind one address;
raise it for a busy hall). `RATING_SMS_MAX_TRIES` (5) is the wrong tries' limit. A
refused send stores nothing and says, in Chinese, when to try again (429, with the
time in `retry_at`). The network is the client's address (IPv4) or its /64 (IPv6),
kept only as a keyed hash (`PhoneVault.lookup`, prefixed): the database holds no
address.
"""
from __future__ import annotations

import hmac
import ipaddress
import math
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from sms.phones import PhoneError, normalize_phone
from sms.templates import VERIFICATION_CODE, VERIFICATION_VALIDITY
from voting.core.clock import aware, day_bounds, in_utc
from voting.core.errors import DomainError
from voting.core.vault import PhoneVault, vault_of
from voting.outbox.outbox import enqueue
from voting.ratings.models import PhoneVerification

VALIDITY = VERIFICATION_VALIDITY  # written in the registered SMS template: not a setting
CODE_DIGITS = 6
SCHEME = "hmac-sha256"
_SALT_PREFIX = "phone-verification:"  # apart from the evaluators' salts under the same key
_NETWORK_PREFIX = "network:"  # apart from the phones' hashes under the same key


@dataclass(frozen=True)
class VerificationSettings:
    sign: str = "县千人评议办"  # SMS_SIGN
    timezone: str = "Asia/Shanghai"  # TIMEZONE: the local day of the daily limits
    phone_interval: timedelta = timedelta(seconds=60)
    phone_daily: int = 5
    network_hourly: int = 30
    max_tries: int = 5

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> VerificationSettings:
        default = cls()
        return cls(
            sign=str(config.get("SMS_SIGN", default.sign)),
            timezone=str(config.get("TIMEZONE", default.timezone)),
            phone_interval=timedelta(seconds=float(config.get("RATING_SMS_PHONE_INTERVAL_SECONDS",
                                                              default.phone_interval.total_seconds()))),
            phone_daily=int(config.get("RATING_SMS_PHONE_DAILY", default.phone_daily)),
            network_hourly=int(config.get("RATING_SMS_NETWORK_HOURLY", default.network_hourly)),
            max_tries=int(config.get("RATING_SMS_MAX_TRIES", default.max_tries)),
        )


DEFAULTS = VerificationSettings()


class TooManyRequestsError(DomainError):
    """A send or a try refused for now; `retry_at` (UTC) is when it may come again."""

    status = 429

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class CodeRefusedError(DomainError):
    """A typed code that confirms nothing: none sent, expired, used or malformed."""


class WrongCodeError(CodeRefusedError):
    """A wrong code, counted; `left`: the wrong tries the phone has left today."""

    def __init__(self, left: int) -> None:
        super().__init__(f"验证码不正确，今天还可以再试 {left} 次。" if left else
                         "验证码不正确。今天输错的次数已达上限，请明天再获取验证码。")
        self.left = left


# ---- helpers ---------------------------------------------------------------------------------

def _local_clock(moment: datetime, settings: VerificationSettings) -> str:
    local = moment.astimezone(ZoneInfo(settings.timezone))
    return f"{local.hour:02d}:{local.minute:02d}"


def _phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except PhoneError as error:
        raise DomainError(f"手机号码有误：{error}。") from None


def network_of(address: str | None) -> str:
    """What the per-network limit counts by: an IPv4 address itself (an IPv4-mapped IPv6
    one too), an IPv6 address's /64 (one subscriber's prefix), or "unknown"."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def network_hash(vault: PhoneVault, address: str | None) -> str:
    return vault.lookup(_NETWORK_PREFIX + network_of(address))


def hash_code(vault: PhoneVault, code: str) -> str:
    salt = secrets.token_hex(8)
    return f"{SCHEME}${salt}${vault.password_mac(_SALT_PREFIX + salt, code)}"


def code_matches(vault: PhoneVault, stored: str, code: str) -> bool:
    """`code` is the one `stored` was made from (compared in constant time)."""
    scheme, _, rest = stored.partition("$")
    salt, _, mac = rest.partition("$")
    return scheme == SCHEME and hmac.compare_digest(vault.password_mac(_SALT_PREFIX + salt, code), mac)


def new_code() -> str:
    """Six digits, uniform, from the system's CSPRNG."""
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def _lock_phone(session: Session, phone_hash: str) -> None:
    """PostgreSQL: one send per phone at a time (until the transaction ends), so that two
    requests at once cannot both pass the per-phone limits. SQLite writes one at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(phone_hash[:15], 16)})


def _tries_today(session: Session, phone_hash: str, day_start: datetime) -> int:
    return session.scalar(select(func.coalesce(func.max(PhoneVerification.tries), 0)).where(
        PhoneVerification.phone_hash == phone_hash, PhoneVerification.created_at >= day_start)) or 0


def _out_of_tries(settings: VerificationSettings, day_end: datetime) -> TooManyRequestsError:
    return TooManyRequestsError(
        f"验证码今天已输错 {settings.max_tries} 次，为保护您的手机号码，今天不能再验证，请明天再试。", day_end)


# ---- sending ---------------------------------------------------------------------------------

def request_code(session: Session, phone: str, network: str | None, now: datetime,
                 settings: VerificationSettings = DEFAULTS) -> PhoneVerification:
    """Send a new code to `phone` from the client address `network` (request.remote_addr
    behind the configured proxies): the row (flush; its SMS in the outbox in the same
    transaction). Refused, storing nothing: a number that is not a mainland mobile
    (400), a limit reached (TooManyRequestsError, 429, saying when to try again)."""
    now = in_utc(now)
    number = _phone(phone)
    vault = vault_of(session)
    phone_hash, net = vault.lookup(number), network_hash(vault, network)
    _lock_phone(session, phone_hash)
    day_start, day_end = day_bounds(now, settings.timezone)
    mine = select(PhoneVerification.created_at).where(PhoneVerification.phone_hash == phone_hash)
    last = session.scalar(mine.order_by(PhoneVerification.created_at.desc()).limit(1))
    if last is not None:
        last = aware(last)
        if now < last + settings.phone_interval:
            wait = math.ceil((last + settings.phone_interval - now).total_seconds())
            raise TooManyRequestsError(f"获取验证码太频繁：请 {wait} 秒后再试。", last + settings.phone_interval)
    today = session.scalar(select(func.count()).select_from(mine.where(
        PhoneVerification.created_at >= day_start).subquery())) or 0
    if today >= settings.phone_daily:
        raise TooManyRequestsError(f"这个手机号码今天已获取 {today} 次验证码，达到上限，请明天再试。", day_end)
    hour_ago = now - timedelta(hours=1)
    recent = select(PhoneVerification.created_at).where(PhoneVerification.network == net,
                                                        PhoneVerification.created_at > hour_ago)
    busy = session.scalar(select(func.count()).select_from(recent.subquery())) or 0
    if busy >= settings.network_hourly:
        oldest = session.scalar(recent.order_by(PhoneVerification.created_at).limit(1))
        retry_at = aware(oldest) + timedelta(hours=1) if oldest else now
        raise TooManyRequestsError(
            f"您所在的网络获取验证码太频繁，请于 {_local_clock(retry_at, settings)} 后再试，或换用手机流量。", retry_at)
    if _tries_today(session, phone_hash, day_start) >= settings.max_tries:
        raise _out_of_tries(settings, day_end)
    # The phone's earlier codes end now (expired as they were made, so that no try at
    # any time takes them); their rows are locked until this transaction ends, so the
    # count read next includes every try made on them.
    session.execute(update(PhoneVerification).where(
        PhoneVerification.phone_hash == phone_hash, PhoneVerification.used_at.is_(None),
        PhoneVerification.expires_at > PhoneVerification.created_at,
    ).values(expires_at=PhoneVerification.created_at).execution_options(synchronize_session=False))
    code = new_code()
    row = PhoneVerification(phone_hash=phone_hash, code_hash=hash_code(vault, code), created_at=now,
                            expires_at=now + VALIDITY, tries=_tries_today(session, phone_hash, day_start), network=net)
    session.add(row)
    session.flush()
    enqueue(session, key=f"verify:{row.id}", phone=number, template=VERIFICATION_CODE,
            params={"sign": settings.sign, "code": code}, not_before=now)
    return row


# ---- checking --------------------------------------------------------------------------------

def _typed(code: str) -> str:
    typed = "".join(ch for ch in unicodedata.normalize("NFKC", code or "") if not ch.isspace())
    if len(typed) != CODE_DIGITS or not typed.isascii() or not typed.isdigit():
        raise CodeRefusedError(f"验证码应为 {CODE_DIGITS} 位数字。")
    return typed


def check_code(session: Session, phone: str, code: str, now: datetime,
               settings: VerificationSettings = DEFAULTS) -> PhoneVerification:
    """The phone's newest code, now used, when `code` is it; otherwise raises (flush; the
    caller commits the counted try even then: see the module's docstring):
    WrongCodeError (a wrong try, counted), TooManyRequestsError (the day's wrong tries
    used: refused uncompared), CodeRefusedError (no code sent, expired, used, or not
    six digits: nothing counted)."""
    now = in_utc(now)
    number = _phone(phone)
    typed = _typed(code)
    vault = vault_of(session)
    phone_hash = vault.lookup(number)
    newest = (select(PhoneVerification.id).where(PhoneVerification.phone_hash == phone_hash)
              .order_by(PhoneVerification.id.desc()).limit(1).scalar_subquery())
    counted = session.execute(
        update(PhoneVerification).where(
            PhoneVerification.id == newest, PhoneVerification.used_at.is_(None), PhoneVerification.expires_at > now,
            PhoneVerification.tries < settings.max_tries,
        ).values(tries=PhoneVerification.tries + 1)
        .returning(PhoneVerification.id, PhoneVerification.code_hash, PhoneVerification.tries)
        .execution_options(synchronize_session=False)
    ).first()
    if counted is None:
        raise _why_not(session, phone_hash, now, settings)
    row_id, stored, tries = counted
    if not code_matches(vault, stored, typed):
        raise WrongCodeError(max(0, settings.max_tries - tries))
    used = session.execute(update(PhoneVerification).where(
        PhoneVerification.id == row_id, PhoneVerification.used_at.is_(None),
    ).values(used_at=now, tries=PhoneVerification.tries - 1).execution_options(synchronize_session=False))
    if not getattr(used, "rowcount", 0):  # the same code, used by a try that came at the same moment
        raise CodeRefusedError("这个验证码已经用过，请重新获取。")
    row = session.get(PhoneVerification, row_id, populate_existing=True)
    assert row is not None
    return row


def _why_not(session: Session, phone_hash: str, now: datetime, settings: VerificationSettings) -> DomainError:
    """Why the phone's newest code took no try (read after the UPDATE found nothing)."""
    row = session.scalars(select(PhoneVerification).where(PhoneVerification.phone_hash == phone_hash)
                          .order_by(PhoneVerification.id.desc()).limit(1)
                          .execution_options(populate_existing=True)).first()
    if row is None:
        return CodeRefusedError("请先获取验证码。")
    if row.used_at is not None:
        return CodeRefusedError("这个验证码已经用过，请重新获取。")
    if row.tries >= settings.max_tries:
        return _out_of_tries(settings, day_bounds(now, settings.timezone)[1])
    return CodeRefusedError(f"验证码已过期（{int(VALIDITY.total_seconds() // 60)} 分钟内有效），请重新获取。")
