"""One-time link tokens and typed codes for citizens' invitations (docs/rules.md §4.3, §4.4).

A link token is an itsdangerous-signed, URL-safe string that names one invitation and
its round, carries a 128-bit random nonce and the round's closing time. The signature
makes it unforgeable without the key; the nonce, kept with the invitation in the
database, makes it unguessable to someone who has the key but not the database. The
platform checks the nonce (`same_nonce`, in constant time) and tracks the single use.
A token is refused as:

- `TokenInvalid`: tampered, truncated, signed for another purpose, or by no key this
  platform holds (a rotated-out key);
- `TokenExpired`: genuine, but its round has closed.

Keys rotate: `LinkTokens` takes a list of keys, newest last; tokens are signed with the
newest and read with any, so links sent before a rotation keep working until their
round closes.

Codes (`new_code`) are what a citizen types where carriers refuse links ("code mode")
or replies with when several invitations are open: short, from a CSPRNG, in an alphabet
without look-alikes (no 0/O, 1/I/L), read back case- and width-insensitively.
"""
from __future__ import annotations

import hmac
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from itsdangerous import BadSignature, URLSafeSerializer

NONCE_BYTES = 16  # 128 bits
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 symbols, no 0/O/1/I/L
LINK_PURPOSE = "pingyi.vote-link"


class TokenError(ValueError):
    """A token that does not open anything; the message is Chinese, for the page."""


class TokenInvalid(TokenError):
    def __init__(self) -> None:
        super().__init__("链接无效：可能不完整或被改动过。请直接点击短信中的链接，不要手工修改。")


class TokenExpired(TokenError):
    def __init__(self) -> None:
        super().__init__("评价已截止，链接已失效。感谢您的关注。")


@dataclass(frozen=True)
class LinkClaim:
    """What a genuine token says: check the invitation's nonce and its single use in
    the database before trusting it."""

    invitation_id: int
    round_id: int
    nonce: str
    expires_at: datetime


def new_nonce() -> str:
    """128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(NONCE_BYTES)


def same_nonce(claimed: str, stored: str) -> bool:
    """Whether a token's nonce is the invitation's, compared in constant time."""
    return hmac.compare_digest(claimed.encode("utf-8"), stored.encode("utf-8"))


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("expires_at must carry a time zone")
    return int(moment.timestamp())


class LinkTokens:
    """Issue and read link tokens with the platform's keys (newest last)."""

    def __init__(self, keys: str | Sequence[str], purpose: str = LINK_PURPOSE):
        keys = [keys] if isinstance(keys, str) else list(keys)
        if not keys or not all(keys):
            raise ValueError("at least one non-empty key is needed")
        # itsdangerous signs with the last key and verifies with any of them.
        self._serializer = URLSafeSerializer(keys, salt=purpose)

    def issue(self, invitation_id: int, round_id: int, expires_at: datetime, nonce: str | None = None) -> tuple[str, str]:
        """(token, nonce): keep the nonce with the invitation."""
        nonce = nonce or new_nonce()
        token = self._serializer.dumps([int(invitation_id), int(round_id), nonce, _epoch(expires_at)])
        return token, nonce

    def read(self, token: str, now: datetime | None = None) -> LinkClaim:
        """The claim of a genuine, unexpired token; `TokenInvalid` or `TokenExpired`.
    Check `same_nonce(claim.nonce, invitation.nonce)` before trusting it."""
        if not isinstance(token, str) or not token or len(token) > 512:
            raise TokenInvalid()
        try:
            payload = self._serializer.loads(token)
        except (BadSignature, UnicodeError, ValueError):
            raise TokenInvalid() from None
        if not (
            isinstance(payload, list) and len(payload) == 4
            and all(isinstance(v, int) and not isinstance(v, bool) for v in (payload[0], payload[1], payload[3]))
            and isinstance(payload[2], str)
        ):
            raise TokenInvalid()
        invitation_id, round_id, nonce, expires = payload
        expires_at = datetime.fromtimestamp(expires, timezone.utc)
        if (now or datetime.now(timezone.utc)) >= expires_at:
            raise TokenExpired()
        return LinkClaim(invitation_id, round_id, nonce, expires_at)


# Random bytes below this map onto the alphabet evenly (byte % 31); the rest are drawn again.
_EVEN_BYTES = 256 - 256 % len(CODE_ALPHABET)


def new_code(length: int = 8) -> str:
    """A code to type or reply with; 8 symbols carry about 39.6 bits, enough against
    guessing when attempts are locked per code and slowed per address. One call to
    the system's CSPRNG per code, uniform over the alphabet (a round makes 40,000)."""
    symbols: list[str] = []
    while len(symbols) < length:
        symbols += [CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in secrets.token_bytes(2 * length) if b < _EVEN_BYTES]
    return "".join(symbols[:length])


def normalize_code(text: str) -> str:
    """What a person typed, as the code it means: width-folded, upper-case, without
    spaces or dashes (an SMS keyboard may give full-width or lower-case letters)."""
    folded = unicodedata.normalize("NFKC", text or "").upper()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-_")


def is_code(text: str, length: int = 8) -> bool:
    code = normalize_code(text)
    return len(code) == length and all(ch in CODE_ALPHABET for ch in code)
