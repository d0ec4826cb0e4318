"""The office's rating-code pages (voting/ratings/views.py) and the public rating
address (voting/ratings/citizen_views.py), on SQLite and PostgreSQL: an administrator
issues, stops (with a reason, confirmed) and reissues (confirmed) codes, each audited;
a second live code for a counter is refused (409), a refusal stores nothing; a case
code's address and QR code are shown once; the posters download as PDF, one page a
live code, their QR codes the absolute addresses; an operator reads and changes
nothing, a liaison and an anonymous visitor are refused; the public address names the
place of a live code, is a 410 once the code is stopped and a 404 when garbled."""
from __future__ import annotations

import io
import re

import pypdf
import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, login
from tests.ratings.support import places
from tests.ratings.test_posters import drawn_matrix
from tests.security.common import changed, snapshot
from tests.support.web import text
from voting.audit.models import AuditEntry
from voting.ratings import codes
from voting.ratings.models import RatingCode
from voting.ratings.posters import qr_matrix
from voting.staff import users
from voting.staff.models import Role

PUBLIC_URL = "https://pingyi.example.gov.cn"


@pytest.fixture
def app_config():
    return {"PUBLIC_URL": PUBLIC_URL}


@pytest.fixture
def place(db):
    return places(db)


def actions(db) -> list[str]:
    db.rollback()
    return [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def live(db) -> list[RatingCode]:
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(RatingCode).where(RatingCode.revoked_at.is_(None)).order_by(RatingCode.id)))


def token_of(app, code: RatingCode) -> str:
    return codes.token_for(code, codes.rating_tokens(app))


def pdf_pages(response) -> list[pypdf.PageObject]:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return list(pypdf.PdfReader(io.BytesIO(response.get_data())).pages)


def test_an_admin_issues_a_section_and_a_window_code_and_downloads_their_posters(app, admin_client, db, place):
    section, window = place
    page = admin_client.get("/office/ratings/")
    assert page.status_code == 200 and "价格科" in text(page) and "公安局窗口" in text(page)
    assert admin_client.post(f"/office/ratings/sections/{section.id}/issue").status_code == 303
    assert admin_client.post(f"/office/ratings/windows/{window.id}/issue").status_code == 303
    at_section, at_window = live(db)
    assert (at_section.section_id, at_window.entity_id) == (section.id, window.id)
    assert actions(db) == ["rating_code.issue", "rating_code.issue"]
    assert f"编号 {at_section.id}" in text(admin_client.get("/office/ratings/"))
    # A second live code for the same counter: 409, nothing stored.
    before = snapshot(db)
    again = admin_client.post(f"/office/ratings/sections/{section.id}/issue")
    assert again.status_code == 409 and "已有在用的评议二维码" in text(again)
    assert changed(before, snapshot(db)) == []
    # The posters: one, the unit's, every section's, the assessment's windows'.
    [one] = pdf_pages(admin_client.get(f"/office/ratings/codes/{at_section.id}/poster.pdf"))
    address = f"{PUBLIC_URL}/r/{token_of(app, at_section)}"
    assert "价格科" in one.extract_text() and "县发改局" in one.extract_text() and address in one.extract_text()
    assert drawn_matrix(one) == qr_matrix(address)
    assert len(pdf_pages(admin_client.get(f"/office/ratings/units/{section.unit_id}/posters.pdf"))) == 1
    assert len(pdf_pages(admin_client.get("/office/ratings/sections/posters.pdf"))) == 1
    [windows] = pdf_pages(admin_client.get(f"/office/ratings/assessments/{window.assessment_id}/posters.pdf"))
    assert "公安局窗口" in windows.extract_text() and "对本窗口的服务进行评价，可匿名" in windows.extract_text()
    assert drawn_matrix(windows) == qr_matrix(f"{PUBLIC_URL}/r/{token_of(app, at_window)}")
    # The public address names the place.
    public = app.test_client().get(f"/r/{token_of(app, at_section)}")
    assert public.status_code == 200
    assert "价格科" in text(public) and "县发改局" in text(public) and "非常满意" in text(public)
    assert public.headers["Cache-Control"] == "no-store" and "退出" not in text(public)


def test_stopping_a_code_is_confirmed_audited_and_stops_its_address(app, admin_client, db, place):
    section, _ = place
    code = codes.issue(db, actor="admin", section_id=section.id)
    db.commit()
    token, path = token_of(app, code), f"/office/ratings/codes/{code.id}/revoke"
    assert "停用二维码" in text(admin_client.get(f"/office/ratings/codes/{code.id}"))
    before = snapshot(db)
    # No reason: 400; a reason but not confirmed: the confirmation page; nothing stored.
    empty = admin_client.post(path, data={"reason": "  "})
    assert empty.status_code == 400 and "请填写停用二维码的原因" in text(empty)
    asked = admin_client.post(path, data={"reason": "海报被覆盖"})
    assert asked.status_code == 200 and "请确认：停用评议二维码" in text(asked) and "停用原因：海报被覆盖" in text(asked)
    assert 'name="confirmed" value="1"' in text(asked) and 'name="reason" value="海报被覆盖"' in text(asked)
    assert changed(before, snapshot(db)) == []
    assert app.test_client().get(f"/r/{token}").status_code == 200
    done = admin_client.post(path, data={"reason": "海报被覆盖", "confirmed": "1"})
    assert done.status_code == 303
    assert live(db) == [] and db.get(RatingCode, code.id).revoke_reason == "海报被覆盖"
    assert actions(db) == ["rating_code.issue", "rating_code.revoke"]
    gone = app.test_client().get(f"/r/{token}")
    assert gone.status_code == 410 and "此二维码已停用，不能再用于评价。" in text(gone)
    # Its poster is no longer printed; stopping it again is refused; nothing stored.
    before = snapshot(db)
    poster = admin_client.get(f"/office/ratings/codes/{code.id}/poster.pdf")
    assert poster.status_code == 410 and "已停用" in text(poster)
    assert admin_client.post(path, data={"reason": "再停", "confirmed": "1"}).status_code == 409
    assert admin_client.post(f"/office/ratings/codes/{code.id}/reissue", data={"confirmed": "1"}).status_code == 409
    assert changed(before, snapshot(db)) == []


def test_reissuing_is_confirmed_and_gives_a_new_address(app, admin_client, db, place):
    _, window = place
    old = codes.issue(db, actor="admin", entity_id=window.id)
    db.commit()
    old_token, path = token_of(app, old), f"/office/ratings/codes/{old.id}/reissue"
    before = snapshot(db)
    asked = admin_client.post(path)
    assert asked.status_code == 200 and "请确认：重新生成评议二维码" in text(asked)
    assert changed(before, snapshot(db)) == []
    assert admin_client.post(path, data={"confirmed": "1"}).status_code == 303
    [new] = live(db)
    assert new.id != old.id and new.entity_id == window.id
    assert actions(db) == ["rating_code.issue", "rating_code.reissue"]
    assert app.test_client().get(f"/r/{old_token}").status_code == 410
    fresh = app.test_client().get(f"/r/{token_of(app, new)}")
    assert fresh.status_code == 200 and "公安局窗口" in text(fresh) and "本中心考核" in text(fresh)


def test_a_case_code_is_shown_once_with_its_qr_code(app, admin_client, db, place):
    section, _ = place
    before = snapshot(db)
    for data, status, message in [
        ({"place": "", "case_ref": "A-1"}, 400, "请选择科室或窗口"),
        ({"place": "s-x", "case_ref": "A-1"}, 400, "请选择科室或窗口"),
        ({"place": "s-99999", "case_ref": "A-1"}, 404, "本年度没有编号为 99999 的科室"),
        ({"place": f"s-{section.id}", "case_ref": "X" * 65}, 400, "办件编号最多 64 个字符"),
        ({"place": f"s-{section.id}", "case_ref": " "}, 400, "请填写办件编号"),
    ]:
        refused = admin_client.post("/office/ratings/cases", data=data)
        assert (refused.status_code, message in text(refused)) == (status, True), data
    assert changed(before, snapshot(db)) == []
    shown = admin_client.post("/office/ratings/cases", data={"place": f"s-{section.id}", "case_ref": "PY2026-00012"})
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    [code] = live(db)
    address = f"{PUBLIC_URL}/r/{token_of(app, code)}"
    assert code.case_ref == "PY2026-00012" and address in text(shown) and '<svg' in text(shown)
    assert actions(db) == ["rating_code.issue"]
    # Not shown again: neither on the list nor on the code's page; no poster.
    assert address not in text(admin_client.get("/office/ratings/"))
    assert address not in text(admin_client.get(f"/office/ratings/codes/{code.id}"))
    assert admin_client.get(f"/office/ratings/codes/{code.id}/poster.pdf").status_code == 404
    scanned = app.test_client().get(f"/r/{token_of(app, code)}")
    assert scanned.status_code == 200 and "PY2026-00012" in text(scanned)


def test_an_operator_reads_a_liaison_and_a_visitor_are_refused(app, db, place):
    section, window = place
    code = codes.issue(db, actor="admin", section_id=section.id)
    users.create_user(db, "operator1", PASSWORD, Role.operator)
    users.create_user(db, "liaison1", PASSWORD, Role.liaison, unit=section.unit)
    db.commit()
    reads = ["/office/ratings/", f"/office/ratings/codes/{code.id}", f"/office/ratings/codes/{code.id}/poster.pdf",
             f"/office/ratings/units/{section.unit_id}/posters.pdf", "/office/ratings/sections/posters.pdf",
             f"/office/ratings/assessments/{window.assessment_id}/posters.pdf"]
    changes = [(f"/office/ratings/sections/{section.id}/issue", {}), (f"/office/ratings/windows/{window.id}/issue", {}),
               ("/office/ratings/cases", {"place": f"s-{section.id}", "case_ref": "A-1"}),
               (f"/office/ratings/codes/{code.id}/revoke", {"reason": "x", "confirmed": "1"}),
               (f"/office/ratings/codes/{code.id}/reissue", {"confirmed": "1"})]
    before = snapshot(db)
    operator = app.test_client()
    assert login(operator, "operator1").status_code == 302
    for path in reads:
        assert operator.get(path).status_code == 200, path
    page = text(operator.get("/office/ratings/"))
    assert "生成二维码" not in page and "case-form" not in page
    assert "revoke-form" not in text(operator.get(f"/office/ratings/codes/{code.id}"))
    liaison = app.test_client()
    assert login(liaison, "liaison1").status_code == 302
    visitor = app.test_client()
    for path in reads:
        assert liaison.get(path).status_code == 403, path
        assert visitor.get(path).status_code in (302, 401), path
    for path, data in changes:
        assert operator.post(path, data=data).status_code == 403, path
        assert liaison.post(path, data=data).status_code == 403, path
        assert visitor.post(path, data=data).status_code in (302, 401), path
    assert changed(before, snapshot(db)) == []


def test_a_garbled_address_is_404_with_the_message(app, client, db, place):
    section, _ = place
    code = codes.issue(db, actor="admin", section_id=section.id)
    db.commit()
    token = token_of(app, code)
    for bad in (token[:-2], "x", token.replace(".", "..")):
        response = client.get(f"/r/{bad}")
        assert response.status_code == 404 and "没有找到这个评议二维码" in text(response), bad
        assert re.search(r"代码 404", text(response))
