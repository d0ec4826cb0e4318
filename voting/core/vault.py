"""Phone numbers and invitation codes at rest: encrypted, and found by a keyed hash.

Every stored phone number is sealed with AES-256-GCM (a fresh 96-bit nonce per value,
so the same number sealed twice differs) under a key derived from PHONE_KEY, which
comes from the environment (FLASK_PHONE_KEY) and never from the database: a dump of
the database shows no phone number. Looking a number up (an SMS reply's sender, the
one-invitation-per-phone rules, a phone's daily cap) goes through `phone_hash`, an
HMAC-SHA256 of the 11 digits under a second key derived from the same PHONE_KEY;
only someone holding the key can compute it, so the hash column does not give the
numbers away to a dictionary of the 10^10 mainland mobiles either.

The model columns are of type `EncryptedPhone`: the ORM and Core statements seal on
the way in and open on the way out, so code reads `invitation.phone` as before. The
key travels with the engine (`attach`): each app, and each test's app, its own. The
bulk path (voting/core/db.py, bulk_insert) applies the columns' types too.

Invitation codes (what a citizen types in code mode, or replies with) are kept the
same way, sealed under their own associated data and found by `code_lookup`, an HMAC
under a third derived key: a code in the database would, with a guessed phone ending,
open a vote (`EncryptedCode`, `code_hash_default`). The online round's one-time
passwords are checked by `password_mac`, an HMAC under a fourth.

Changing PHONE_KEY makes the stored numbers and codes unreadable (and the one-time
passwords not yet used unverifiable): keep it with the
database's backups, and apart from them.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, Engine, String, event, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

_PREFIX = "p1."  # the format's version: nonce and ciphertext in URL-safe base64
_AAD = b"pingyi phone v1"
_CODE_AAD = b"pingyi code v1"  # a sealed code cannot be passed off as a phone, nor back
HASH_LENGTH = 32  # hex digits kept of the HMAC: 128 bits
SEALED_LENGTH = 80  # "p1." + base64 of 12 + 11 + 16 bytes is 55 characters; room to spare


_REFUSED = {
    operators.eq, operators.ne, operators.lt, operators.le, operators.gt, operators.ge, operators.in_op,
    operators.not_in_op, operators.like_op, operators.not_like_op, operators.ilike_op, operators.not_ilike_op,
    operators.startswith_op, operators.endswith_op, operators.contains_op, operators.between_op,
}


class VaultError(RuntimeError):
    """A phone number cannot be sealed or opened (no key, or the wrong key)."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"pingyi", info=purpose).derive(secret.encode())


class PhoneVault:
    def __init__(self, key: str) -> None:
        if not key:
            raise VaultError("PHONE_KEY 为空")
        self._aead = AESGCM(_derive(key, b"phone encryption"))
        self._hash_key = _derive(key, b"phone lookup")
        self._code_key = _derive(key, b"code lookup")
        self._password_key = _derive(key, b"one-time password")

    def seal(self, phone: str, aad: bytes = _AAD) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, phone.encode(), aad)
        return _PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def open(self, sealed: str, aad: bytes = _AAD) -> str:
        if not sealed.startswith(_PREFIX):
            raise VaultError("不是加密保存的值")
        raw = base64.urlsafe_b64decode(sealed[len(_PREFIX):])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], aad).decode()
        except InvalidTag:
            raise VaultError("加密保存的手机号码或评价码无法解密：PHONE_KEY 与加密时所用的不同") from None

    def lookup(self, phone: str) -> str:
        """The keyed hash a phone is found by."""
        return hmac.new(self._hash_key, phone.encode(), hashlib.sha256).hexdigest()[:HASH_LENGTH]

    def code_lookup(self, code: str) -> str:
        """The keyed hash an invitation code (normalised, sms.tokens.normalize_code) is
        found by."""
        return hmac.new(self._code_key, code.encode(), hashlib.sha256).hexdigest()[:HASH_LENGTH]

    def password_mac(self, salt: str, password: str) -> str:
        """The keyed hash a one-time password (an evaluator's) is checked against:
        HMAC-SHA256 under a key of its own, over the row's salt and the password
        (voting/online/evaluators.py says why no slow hash)."""
        return hmac.new(self._password_key, f"{salt}:{password}".encode(), hashlib.sha256).hexdigest()


def attach(engine: Engine, vault: PhoneVault) -> None:
    """Give `engine`'s statements the key: every EncryptedPhone value bound or read
    through it is sealed or opened with `vault`."""
    engine.dialect.pingyi_vault = vault  # type: ignore[attr-defined]


def vault_of(bind: Session | Connection | Engine | Dialect) -> PhoneVault:
    if isinstance(bind, Session):
        bind = bind.get_bind()
    dialect = bind if isinstance(bind, Dialect) else bind.dialect
    vault = getattr(dialect, "pingyi_vault", None)
    if vault is None:
        raise VaultError("数据库连接没有配置 PHONE_KEY，无法读写手机号码")
    return vault


class _Sealed(TypeDecorator):
    """A column sealed in the database and plain in Python; None stays None (erased
    by the retention command). Sealed values differ each time, so comparing them in SQL
    would silently match nothing: it is refused (compare the keyed hash instead)."""

    impl = String(SEALED_LENGTH)
    cache_ok = True
    aad = _AAD
    refusal = "加密的值不能在 SQL 中比较"

    class comparator_factory(TypeDecorator.Comparator):  # noqa: N801 - SQLAlchemy's name
        def operate(self, op, *other, **kwargs):
            if op in _REFUSED:
                raise VaultError(self.type.refusal)
            return super().operate(op, *other, **kwargs)

        def reverse_operate(self, op, other, **kwargs):
            if op in _REFUSED:
                raise VaultError(self.type.refusal)
            return super().reverse_operate(op, other, **kwargs)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else vault_of(dialect).seal(value, self.aad)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else vault_of(dialect).open(value, self.aad)


class EncryptedPhone(_Sealed):
    """A phone number column."""

    cache_ok = True
    refusal = "加密的手机号码不能在 SQL 中比较：请比较 phone_hash(PhoneVault.lookup)"


class EncryptedCode(_Sealed):
    """An invitation code column."""

    cache_ok = True
    aad = _CODE_AAD
    refusal = "加密的评价码不能在 SQL 中比较：请比较 code_hash(PhoneVault.code_lookup)"


def phone_hash_default(context) -> str | None:  # SQLAlchemy's execution context
    """The `phone_hash` column's default: the keyed hash of the row's `phone`, so that
    every insert (ORM, Core, executemany) stores a number it can be found by."""
    phone = context.get_current_parameters().get("phone")
    return None if phone is None else vault_of(context.dialect).lookup(phone)


def code_hash_default(context) -> str | None:  # SQLAlchemy's execution context
    """The `code_hash` column's default, as `phone_hash_default` for phones."""
    code = context.get_current_parameters().get("code")
    return None if code is None else vault_of(context.dialect).code_lookup(code)


def keep_hash(model: type) -> None:
    """Keep `model.phone_hash` in step when the ORM changes `model.phone` (the insert
    is `phone_hash_default`'s)."""

    def _changed(_mapper: Mapper, connection: Connection, target: object) -> None:
        if inspect(target).attrs["phone"].history.has_changes():
            value = target.phone  # type: ignore[attr-defined]
            target.phone_hash = None if value is None else vault_of(connection).lookup(value)  # type: ignore[attr-defined]

    event.listen(model, "before_update", _changed)
