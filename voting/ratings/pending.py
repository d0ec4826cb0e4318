"""A rating waiting for its phone's SMS code: the rating page's second step
(voting/ratings/citizen_views.py) carries it in a hidden form field from the POST that
sent the code to the POST that confirms it (or resends the code, or submits without
the phone), so that nothing of it is stored before the citizen is done.

**Sealed.** The field is the rating (the code's id, the level, the 差评's categories,
the text, the phone number and when it was sealed) as JSON, encrypted and
authenticated with AES-256-GCM under the platform's phone key (PhoneVault.seal,
voting/core/vault.py: the key from PHONE_KEY, never in the database nor in the page),
with associated data of its own that names the code: the page's source shows no phone
number, and a citizen who changes a single character (another phone, another level,
another code's address, a phone or a code sealed in the database) is refused. It lasts
`LIFETIME` (30 minutes, enough for the 10-minute code and a resend); each step seals it
anew. A refused one is a 400 that asks to fill in the rating again (`PendingError`).

Nothing in the field is trusted beyond who made it: the rating is checked again when
it is submitted (ratings.submit_rating), and the phone counts only once its code is
confirmed (verification.check_code), whose tries and sends have their own limits.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from voting.core.errors import DomainError
from voting.core.vault import VaultError, vault_of
from voting.ratings.models import RatingCode

LIFETIME = timedelta(minutes=30)
SEALED_MAX = 8192  # 500 characters of text, three bytes each, and the rest, in base64: about 2,300
_AAD = b"pingyi pending rating v1:"  # apart from the phones and the codes sealed in the database
_SEALED = re.compile(r"p1\.[A-Za-z0-9_-]+={0,2}")  # as PhoneVault.seal writes it: nothing after the padding


class PendingError(DomainError):
    """A pending rating that cannot be read: changed, cut short, another code's, or too old."""

    def __init__(self, message: str = "页面内容有误或已过期，请重新填写评价。") -> None:
        super().__init__(message)


EXPIRED = f"验证页面已超过 {int(LIFETIME.total_seconds() // 60)} 分钟，为保护您的信息，请重新填写评价。"


@dataclass(frozen=True)
class PendingRating:
    """What the citizen filled in, checked, waiting for the phone's confirmation."""

    level: int
    categories: tuple[str, ...]
    text: str
    phone: str  # normalised, 11 digits


def _aad(code: RatingCode) -> bytes:
    return _AAD + str(int(code.id)).encode()


def seal(session: Session, code: RatingCode, pending: PendingRating, now: datetime) -> str:
    """The hidden field's value for `pending` at `code` (`now` aware)."""
    payload = {"l": pending.level, "c": list(pending.categories), "t": pending.text, "p": pending.phone,
               "at": int(now.astimezone(timezone.utc).timestamp())}
    return vault_of(session).seal(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), _aad(code))


def open_sealed(session: Session, code: RatingCode, sealed: object, now: datetime) -> PendingRating:
    """The rating sealed in `sealed` for `code`; PendingError (400) for anything else,
    or for one sealed more than LIFETIME before `now`."""
    if not isinstance(sealed, str) or len(sealed) > SEALED_MAX or not _SEALED.fullmatch(sealed):
        raise PendingError()
    try:
        payload = json.loads(vault_of(session).open(sealed, _aad(code)))
    except (VaultError, ValueError, TypeError):  # a bad tag, bad base64, a short nonce, not UTF-8, not JSON
        raise PendingError() from None
    if not isinstance(payload, dict):
        raise PendingError()
    level, categories, text, phone, at = (payload.get(k) for k in ("l", "c", "t", "p", "at"))
    if not (isinstance(level, int) and isinstance(categories, list) and all(isinstance(c, str) for c in categories)
            and isinstance(text, str) and isinstance(phone, str) and isinstance(at, int)):
        raise PendingError()
    age = now.astimezone(timezone.utc) - datetime.fromtimestamp(at, timezone.utc)
    if age > LIFETIME or age < -timedelta(minutes=5):
        raise PendingError(EXPIRED)
    return PendingRating(level, tuple(categories), text, phone)
