"""Rating addresses (评议二维码): what the QR code at a section's or a window's counter,
or on one case's receipt, points at.

An address is a token signed with itsdangerous under the app's SECRET_KEY (any of
SECRET_KEY_FALLBACKS still read, as the citizens' vote links) and a salt of its own
(`PURPOSE`), so that no other signed token of the platform (a vote link, the section
list's preview) passes for one. It carries the code's id and its random nonce, nothing
personal and nothing about the place. The nonce, kept with the code (sms.tokens'
128-bit `new_nonce`, compared in constant time), makes the address unguessable even to
someone holding the key; issuing again (`reissue`) gives a new nonce and so a new
address; revoking is at once, since every scan reads the code's row.

A scan is refused with a message for the citizen: an address that is unknown, forged,
cut short or garbled by a scanner (404, `UnknownCodeError`), or a code that was stopped
(410, `RevokedCodeError`). Issuing, revoking and reissuing are audited (the case's
reference is not written in the audit log, which is kept for ever: only the code's id).
"""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar, Self

from flask import Flask, current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sms.tokens import new_nonce, same_nonce
from voting.audit import audit
from voting.core.errors import DomainError, NotFoundError
from voting.core.models import utcnow
from voting.lists.models import Section
from voting.ratings.models import CASE_REF_MAX, CodeKind, RatingCode
from voting.schemes.models import AssessedEntity

PURPOSE = "pingyi.rating-code"
TOKEN_MAX = 256  # a genuine token is about 60 characters (a verdict link's 70)
REASON_MAX = 200
REISSUED = "重新生成二维码"


class UnknownCodeError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("没有找到这个评议二维码：地址可能不完整或被改动过。请重新扫描窗口张贴的二维码，或向窗口工作人员询问。")


class RevokedCodeError(DomainError):
    status = 410

    def __init__(self) -> None:
        super().__init__("此二维码已停用，不能再用于评价。请扫描窗口现在张贴的二维码，或向窗口工作人员询问。")


class AlreadyLiveError(DomainError):
    """A second live code for a section's or a window's counter (409)."""

    status = 409


class IdTokens:
    """Sign and read tokens of a row's id and random nonce ("[12, "k3…"]") with the
    platform's keys (newest last) under a salt of their own (`salt`), so that no other
    signed token of the platform reads as one; anything else is refused with `unknown`.
    Rating addresses (RatingTokens) and verdict links (voting/ratings/cases.py) are such."""

    salt: ClassVar[str]
    unknown: ClassVar[type[Exception]]

    def __init__(self, keys: str | Sequence[str]) -> None:
        keys = [keys] if isinstance(keys, str) else list(keys)
        if not keys or not all(keys):
            raise ValueError("at least one non-empty key is needed")
        self._serializer = URLSafeSerializer(keys, salt=self.salt)

    @classmethod
    def of_app(cls, app: Flask | None = None) -> Self:
        """With the app's keys (the current app's by default): SECRET_KEY signs, it and
        SECRET_KEY_FALLBACKS read."""
        config = (app or current_app).config
        return cls([*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"]])

    def dumps(self, row_id: int, nonce: str) -> str:
        return self._serializer.dumps([int(row_id), nonce])

    def read(self, token: str) -> tuple[int, str]:
        """(id, nonce) of a genuine token; `unknown` otherwise."""
        if not isinstance(token, str) or not token or len(token) > TOKEN_MAX:
            raise self.unknown()
        try:
            payload = self._serializer.loads(token)
        except (BadSignature, UnicodeError, ValueError):
            raise self.unknown() from None
        if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)
                and not isinstance(payload[0], bool) and isinstance(payload[1], str)):
            raise self.unknown()
        return payload[0], payload[1]


class RatingTokens(IdTokens):
    """Rating addresses: a code's id and nonce."""

    salt = PURPOSE
    unknown = UnknownCodeError

    def sign(self, code: RatingCode) -> str:
        return self.dumps(code.id, code.nonce)


def rating_tokens(app: Flask | None = None) -> RatingTokens:
    """The app's rating addresses (the current app's by default)."""
    return RatingTokens.of_app(app)


# ---- issuing ---------------------------------------------------------------------------------

def _clean(text: str) -> str:
    """Width-folded, without control characters or spaces at the ends."""
    folded = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] != "C").strip()


def _place(session: Session, section_id: int | None, entity_id: int | None) -> dict:
    """The audit detail naming the place, checking that it exists."""
    if (section_id is None) == (entity_id is None):
        raise DomainError("评议二维码须属于一个科室或一个窗口（二者选一）。")
    if section_id is not None:
        section = session.get(Section, section_id)
        if section is None:
            raise NotFoundError(f"没有编号为 {section_id} 的科室。")
        return {"section_id": section.id, "section": f"{section.unit.name} · {section.name}"}
    entity = session.get(AssessedEntity, entity_id)
    if entity is None:
        raise NotFoundError(f"没有编号为 {entity_id} 的窗口。")
    return {"entity_id": entity.id, "entity": entity.name}


def _already_live(session: Session, kind: CodeKind, section_id: int | None, entity_id: int | None) -> None:
    """A counter's place has one live code (its poster); a case code is one of many."""
    if kind == CodeKind.case:
        return
    live = session.scalar(select(RatingCode.id).where(
        RatingCode.revoked_at.is_(None), RatingCode.kind == kind,
        RatingCode.section_id == section_id if section_id is not None else RatingCode.entity_id == entity_id).limit(1))
    if live is not None:
        raise AlreadyLiveError(
            f"这个{kind.label}已有在用的评议二维码（编号 {live}）：要换新的，请用“重新生成”，旧海报随即停用。")


def _new(session: Session, kind: CodeKind, section_id: int | None, entity_id: int | None,
         case_ref: str | None, actor: str) -> tuple[RatingCode, dict]:
    place = _place(session, section_id, entity_id)
    code = RatingCode(kind=kind, section_id=section_id, entity_id=entity_id, case_ref=case_ref, nonce=new_nonce(),
                      created_by=actor, created_at=utcnow())
    try:
        with session.begin_nested():  # a lost race for the counter's one live code: refused, the rest kept
            session.add(code)
    except IntegrityError:
        raise AlreadyLiveError(f"这个{kind.label}刚刚已由别人生成了评议二维码：请刷新页面查看。") from None
    return code, place


def issue(session: Session, *, actor: str, section_id: int | None = None, entity_id: int | None = None,
          case_ref: str | None = None) -> RatingCode:
    """A new code for a section's counter (`section_id`), a window (`entity_id`), or,
    with `case_ref` (办件编号), for one case of either (flush; audited). A counter has
    one live code: a second is refused (AlreadyLiveError, 409; `reissue` replaces it)."""
    kind = CodeKind.window if entity_id is not None else CodeKind.section
    if case_ref is not None:
        case_ref = _clean(case_ref)
        if not case_ref:
            raise DomainError("请填写办件编号。")
        if len(case_ref) > CASE_REF_MAX:
            raise DomainError(f"办件编号太长：最多 {CASE_REF_MAX} 个字符。")
        kind = CodeKind.case
    _already_live(session, kind, section_id, entity_id)
    code, place = _new(session, kind, section_id, entity_id, case_ref, actor)
    audit.record(session, "rating_code.issue", actor=actor, detail={"code_id": code.id, "kind": kind.value, **place})
    return code


def checked_reason(reason: str) -> str:
    """A revoking reason as it is stored (width-folded, trimmed); DomainError when it is
    empty or too long."""
    reason = _clean(reason)
    if not reason:
        raise DomainError("请填写停用二维码的原因。")
    if len(reason) > REASON_MAX:
        raise DomainError(f"原因太长：最多 {REASON_MAX} 个字符。")
    return reason


def find_code(session: Session, code_id: int) -> RatingCode:
    """A code by its id, live or stopped; NotFoundError for none."""
    code = session.get(RatingCode, code_id)
    if code is None:
        raise NotFoundError(f"没有编号为 {code_id} 的评议二维码。")
    return code


def _live(session: Session, code_id: int) -> RatingCode:
    code = find_code(session, code_id)
    if code.revoked_at is not None:
        raise DomainError(f"评议二维码 {code_id} 已经停用。")
    return code


def _stop(code: RatingCode, actor: str, reason: str, now: datetime) -> None:
    code.revoked_at, code.revoked_by, code.revoke_reason = now, actor, reason


def revoke(session: Session, code_id: int, *, actor: str, reason: str) -> RatingCode:
    """Stop a code at once: its address is refused from the next scan (flush; audited)."""
    reason = checked_reason(reason)
    code = _live(session, code_id)
    _stop(code, actor, reason, utcnow())
    session.flush()
    audit.record(session, "rating_code.revoke", actor=actor,
                 detail={"code_id": code.id, "kind": code.kind.value, **_place(session, code.section_id, code.entity_id),
                         "reason": reason})
    return code


def reissue(session: Session, code_id: int, *, actor: str, reason: str = REISSUED) -> RatingCode:
    """Stop a code and give its place (and case) a new one with a new nonce, so a new
    address: the old printout is refused from now on (flush; audited once)."""
    reason = checked_reason(reason)
    old = _live(session, code_id)
    _stop(old, actor, reason, utcnow())
    code, place = _new(session, old.kind, old.section_id, old.entity_id, old.case_ref, actor)
    audit.record(session, "rating_code.reissue", actor=actor,
                 detail={"code_id": old.id, "new_code_id": code.id, "kind": code.kind.value, **place, "reason": reason})
    return code


# ---- scanning --------------------------------------------------------------------------------

def token_for(code: RatingCode, tokens: RatingTokens | None = None) -> str:
    """The address token of a code, for its QR code or its SMS."""
    return (tokens or rating_tokens()).sign(code)


def code_from_token(session: Session, token: str, tokens: RatingTokens | None = None) -> RatingCode:
    """The live code a scanned address names; UnknownCodeError (404) for an address
    that is not one of ours, or whose nonce is not the code's (an address from before a
    reissue is stopped with its code, so this means a made-up one); RevokedCodeError
    (410) for a stopped code."""
    code_id, nonce = (tokens or rating_tokens()).read(token)
    return live_code(session.get(RatingCode, code_id, populate_existing=True), nonce)


def live_code(code: RatingCode | None, nonce: str) -> RatingCode:
    """`code` if the address's `nonce` is its own and it is live (code_from_token's checks)."""
    if code is None:
        raise UnknownCodeError()
    check_live(nonce, code.nonce, code.revoked_at)
    return code


def check_live(nonce: str, own_nonce: str, revoked_at: datetime | None) -> None:
    """UnknownCodeError unless the address's `nonce` is the code's own; RevokedCodeError
    for a stopped code."""
    if not same_nonce(nonce, own_nonce):
        raise UnknownCodeError()
    if revoked_at is not None:
        raise RevokedCodeError()
