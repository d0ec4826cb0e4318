"""Rating addresses (voting/ratings/codes.py), on SQLite and PostgreSQL: issued for a
section, a window or a case, audited; the signed address carries the code's id and
nonce only and reads back to its code; a forged, garbled, truncated or other-purpose
address is a 404 with a message for the citizen; a revoked code is a 410 from the next
scan; a reissued code stops the old address and gives a new one."""
from __future__ import annotations

import base64
import json

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sms.tokens import LinkTokens
from tests.ratings.support import places
from voting.audit import audit
from voting.audit.models import AuditEntry
from voting.core.errors import DomainError
from voting.ratings import codes
from voting.ratings.codes import RevokedCodeError, UnknownCodeError
from voting.ratings.models import CodeKind, RatingCode


@pytest.fixture
def tokens(app):
    return codes.rating_tokens(app)


@pytest.fixture
def place(db):
    return places(db)


def entries(db) -> list[AuditEntry]:
    return list(db.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_a_section_code_round_trips_and_is_audited(db, place, tokens):
    section, _ = place
    code = codes.issue(db, actor="admin", section_id=section.id)
    db.commit()
    assert code.kind == CodeKind.section and code.section_id == section.id and code.entity_id is None
    assert len(code.nonce) >= 22 and code.revoked_at is None
    token = codes.token_for(code, tokens)
    assert codes.code_from_token(db, token, tokens).id == code.id
    # The address carries the id and the nonce, nothing else (itsdangerous signs, it does not hide).
    payload = token.split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == [code.id, code.nonce]
    [entry] = entries(db)
    assert entry.action == "rating_code.issue" and entry.actor == "admin"
    assert entry.detail == {"code_id": code.id, "kind": "section", "section_id": section.id, "section": "县发改局 · 价格科"}
    assert audit.verify(db).ok


def test_a_window_code_and_a_case_code(db, place, tokens):
    section, window = place
    at_window = codes.issue(db, actor="admin", entity_id=window.id)
    case = codes.issue(db, actor="admin", section_id=section.id, case_ref=" ＰＹ２０２６－０００１２ ")
    db.commit()
    assert at_window.kind == CodeKind.window and at_window.entity_id == window.id and at_window.case_ref is None
    assert case.kind == CodeKind.case and case.case_ref == "PY2026-00012" and case.section_id == section.id
    assert codes.code_from_token(db, codes.token_for(case, tokens), tokens).case_ref == "PY2026-00012"
    details = [e.detail for e in entries(db)]
    assert details[0] == {"code_id": at_window.id, "kind": "window", "entity_id": window.id, "entity": "公安局窗口"}
    assert details[1]["kind"] == "case" and "PY2026" not in json.dumps(details, ensure_ascii=False)  # no case reference


def test_a_code_names_exactly_one_existing_place(db, place):
    section, window = place
    with pytest.raises(DomainError, match="二者选一"):
        codes.issue(db, actor="admin", section_id=section.id, entity_id=window.id)
    with pytest.raises(DomainError, match="二者选一"):
        codes.issue(db, actor="admin")
    with pytest.raises(DomainError, match="没有编号为 999 的科室"):
        codes.issue(db, actor="admin", section_id=999)
    with pytest.raises(DomainError, match="请填写办件编号"):
        codes.issue(db, actor="admin", section_id=section.id, case_ref=" \t")
    with pytest.raises(DomainError, match="最多 64 个字符"):
        codes.issue(db, actor="admin", section_id=section.id, case_ref="X" * 65)
    db.rollback()
    assert db.scalars(select(RatingCode)).all() == [] and entries(db) == []


@pytest.mark.parametrize("row", [
    {"kind": CodeKind.section, "section_id": "S", "entity_id": "W"},  # both places
    {"kind": CodeKind.section},  # none
    {"kind": CodeKind.case, "section_id": "S"},  # a case without its reference
    {"kind": CodeKind.section, "section_id": "S", "case_ref": "A1"},  # a reference on a section code
    {"kind": CodeKind.window, "section_id": "S"},  # a window code of a section
])
def test_the_database_refuses_a_code_of_no_single_place(db, place, row):
    section, window = place
    values = {**row, **{k: {"S": section.id, "W": window.id}[v] for k, v in row.items() if v in ("S", "W")}}
    db.add(RatingCode(nonce="n", created_by="admin", **values))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def garbled(token: str) -> list[str]:
    """A token cut short, with a character changed in its payload and in its signature,
    doubled, with spaces, and other shapes."""
    flip = {"A": "B"}.get(token[0], "A")
    # The signature's last base64 character carries two unused bits (20 bytes in 27
    # characters): changing it may decode to the same bytes. Its second to last does not.
    other = "A" if token[-2] != "A" else "B"
    return [token[:-3], token[:20], flip + token[1:], token[:-2] + other + token[-1], token + token, f" {token}",
            token.upper(),
            "", "x", "." * 10, "a" * 300]


def test_forged_garbled_and_other_purpose_addresses_are_not_found(db, place, tokens):
    section, _ = place
    code = codes.issue(db, actor="admin", section_id=section.id)
    db.commit()
    token = codes.token_for(code, tokens)
    forged = [
        *garbled(token),
        codes.RatingTokens("another key").sign(code),  # signed with a key this platform does not hold
        URLSafeSerializer("test secret", salt="pingyi.vote-link").dumps([code.id, code.nonce]),  # a vote link's salt
        URLSafeSerializer("test secret").dumps([code.id, code.nonce]),  # no salt
        LinkTokens("test secret").issue(code.id, 1, code.created_at.replace(year=2099))[0],  # a genuine vote link
        URLSafeSerializer("test secret", salt=codes.PURPOSE).dumps([code.id, "a-made-up-nonce-abcdefg"]),  # key, no nonce
        URLSafeSerializer("test secret", salt=codes.PURPOSE).dumps([code.id + 100, code.nonce]),  # no such code
        URLSafeSerializer("test secret", salt=codes.PURPOSE).dumps([True, code.nonce]),
        URLSafeSerializer("test secret", salt=codes.PURPOSE).dumps({"id": code.id}),
    ]
    for bad in forged:
        with pytest.raises(UnknownCodeError) as caught:
            codes.code_from_token(db, bad, tokens)
        assert caught.value.status == 404, bad
        assert str(caught.value) == ("没有找到这个评议二维码：地址可能不完整或被改动过。"
                                     "请重新扫描窗口张贴的二维码，或向窗口工作人员询问。")
    with pytest.raises(UnknownCodeError):
        codes.code_from_token(db, None, tokens)  # type: ignore[arg-type]
    assert codes.code_from_token(db, token, tokens).id == code.id  # the genuine one still opens


def test_an_address_signed_with_a_rotated_out_key_still_reads(app, db, place):
    section, _ = place
    code = codes.issue(db, actor="admin", section_id=section.id)
    db.commit()
    old = codes.RatingTokens("old secret").sign(code)
    rotated = codes.RatingTokens(["old secret", "test secret"])
    assert codes.code_from_token(db, old, rotated).id == code.id
    with pytest.raises(UnknownCodeError):
        codes.code_from_token(db, old, codes.rating_tokens(app))


def test_a_revoked_code_is_gone_from_the_next_scan(app, db, place, tokens):
    section, _ = place
    code = codes.issue(db, actor="admin", section_id=section.id)
    db.commit()
    token = codes.token_for(code, tokens)
    assert codes.code_from_token(db, token, tokens).revoked_at is None  # loaded in this session
    other = app.extensions["pingyi.sessions"]()
    codes.revoke(other, code.id, actor="office", reason=" 二维码被覆盖 ")
    other.commit()
    other.close()
    db.commit()  # the scanning session's next transaction
    with pytest.raises(RevokedCodeError) as caught:
        codes.code_from_token(db, token, tokens)
    assert caught.value.status == 410 and str(caught.value).startswith("此二维码已停用")
    stopped = db.get(RatingCode, code.id)
    assert (stopped.revoked_by, stopped.revoke_reason) == ("office", "二维码被覆盖")
    assert entries(db)[-1].action == "rating_code.revoke"
    assert entries(db)[-1].detail == {"code_id": code.id, "kind": "section", "section_id": section.id,
                                      "section": "县发改局 · 价格科", "reason": "二维码被覆盖"}
    with pytest.raises(DomainError, match="已经停用"):
        codes.revoke(db, code.id, actor="office", reason="再停一次")
    with pytest.raises(DomainError, match="请填写停用二维码的原因"):
        codes.revoke(db, code.id, actor="office", reason="  ")
    with pytest.raises(DomainError, match="没有编号为 999 的评议二维码"):
        codes.revoke(db, 999, actor="office", reason="x")


def test_reissuing_stops_the_old_address_and_gives_a_new_one(db, place, tokens):
    _, window = place
    old = codes.issue(db, actor="admin", section_id=None, entity_id=window.id, case_ref="A-1")
    db.commit()
    old_token = codes.token_for(old, tokens)
    new = codes.reissue(db, old.id, actor="office")
    db.commit()
    assert new.id != old.id and new.nonce != old.nonce
    assert (new.kind, new.entity_id, new.case_ref) == (CodeKind.case, window.id, "A-1")
    new_token = codes.token_for(new, tokens)
    assert new_token != old_token
    with pytest.raises(RevokedCodeError):
        codes.code_from_token(db, old_token, tokens)
    assert codes.code_from_token(db, new_token, tokens).id == new.id
    assert db.get(RatingCode, old.id).revoke_reason == codes.REISSUED
    assert [e.action for e in entries(db)] == ["rating_code.issue", "rating_code.reissue"]
    assert entries(db)[-1].detail == {"code_id": old.id, "new_code_id": new.id, "kind": "case", "entity_id": window.id,
                                      "entity": "公安局窗口", "reason": codes.REISSUED}
    assert audit.verify(db).ok


def test_the_database_keeps_one_live_code_per_counter(db, place, monkeypatch):
    """Two administrators issuing at once both pass the check before either writes: the
    partial unique index refuses the second (409), the first stays, and a stopped code
    makes room for a new one."""
    section, window = place
    monkeypatch.setattr(codes, "_already_live", lambda *args: None)  # both requests past the check
    for where in ({"section_id": section.id}, {"entity_id": window.id}):
        first = codes.issue(db, actor="admin", **where)
        db.commit()
        with pytest.raises(codes.AlreadyLiveError) as refused:
            codes.issue(db, actor="admin", **where)
        assert refused.value.status == 409 and "刚刚已由别人生成" in str(refused.value)
        db.commit()
        assert [c.id for c in db.scalars(select(RatingCode).where(RatingCode.revoked_at.is_(None),
                                                                  RatingCode.kind != CodeKind.case))
                if c.section_id == where.get("section_id") and c.entity_id == where.get("entity_id")] == [first.id]
        assert codes.reissue(db, first.id, actor="admin").id != first.id
        db.commit()
    codes.issue(db, actor="admin", section_id=section.id, case_ref="BJ-1")
    codes.issue(db, actor="admin", section_id=section.id, case_ref="BJ-2")  # a case's code is one of many
    db.commit()
