"""Hostile input on the complaint pages (voting/ratings/complaint_views.py,
voting/ratings/unit_views.py), on SQLite and PostgreSQL: a 10 MB reason, one past its
limit, NUL bytes, a field sent twice, a verdict that is not one, unknown and foreign
ids, odd query strings, SQL-looking and invisible characters. Each is refused with a
Chinese message and its status (400, 404, 413) and nothing stored, or taken as plain
text; never a 500, never a traceback."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from tests.conftest import PASSWORD, login
from tests.ratings.test_complaint_pages import QUEUE, world  # noqa: F401 (a fixture)
from tests.security.common import changed, snapshot
from tests.support.web import text
from voting.core.errors_web import NUL_REFUSED
from voting.ratings.models import ComplaintDecision, Rating

HUGE = "理" * (10 * 1024 * 1024 // 3)  # 10 MB of UTF-8
TOO_LARGE = "提交的内容超过大小上限"
SQL = "'); DROP TABLE complaint_decision; -- \" OR 1=1 /*"
INVISIBLE = "属\u200b实\u202e，\u2066核实\u2069"


def page(response) -> str:
    return html.unescape(text(response))


def refused(response, status: int, message: str, db, before) -> None:
    body = page(response)
    shown = (response.status_code, " ".join(re.sub(r"<[^>]+>", " ", body).split())[:600])
    assert response.status_code == status, shown
    assert message in body, shown
    assert "Traceback" not in body and "psycopg" not in body and "sqlalchemy" not in body.lower()
    assert changed(before, snapshot(db)) == []


def repeated(name: str, times: int = 2) -> str:
    return f"提交的内容中“{name}”出现了 {times} 次，每项只能提交一次。请刷新页面后重新提交。"


@pytest.fixture
def staff(app, admin, world):
    client = app.test_client()
    assert login(client, "admin", PASSWORD).status_code == 302
    return client


def forms(rating_id: int) -> dict[str, dict[str, str]]:
    """Each form's path and what it sends."""
    return {
        f"{QUEUE}{rating_id}/decide": {"verdict": "valid", "reason": "经核实属实。"},
        f"{QUEUE}{rating_id}/undo": {"reason": "复核有误。", "confirmed": "1"},
        f"{QUEUE}{rating_id}/unit-text": {"text": "群众反映多次往返。"},
    }


def decided(staff, rating_id: int) -> None:
    assert staff.post(f"{QUEUE}{rating_id}/decide", data={"verdict": "valid", "reason": "属实"}).status_code == 303


def test_ten_megabytes_in_any_field_is_413(staff, db, world):
    decided(staff, world["theirs"])  # so that its undo form is one to send
    for path, data in [*forms(world["ours"]).items(), *forms(world["theirs"]).items()]:
        for field in data:
            before = snapshot(db)
            refused(staff.post(path, data={**data, field: HUGE}), 413, TOO_LARGE, db, before)


@pytest.mark.parametrize("field, value, message", [
    ("reason", "理" * 201, "认定理由最多 200 个字"),
    ("reason", "", "请填写认定理由"),
    ("verdict", "", "请选择有效或无效"),
    ("verdict", "maybe", "请选择有效或无效"),
    ("verdict", "有效", "请选择有效或无效"),
    ("verdict", "VALID", "请选择有效或无效"),
])
def test_a_bad_decision_is_400_and_stores_nothing(staff, db, world, field, value, message):
    before = snapshot(db)
    data = {"verdict": "valid", "reason": "属实", field: value}
    response = staff.post(f"{QUEUE}{world['ours']}/decide", data=data)
    refused(response, 400, message, db, before)
    assert re.search(r'class="field-error">[^<]+<', text(response))  # the field says why


def test_a_bad_unit_text_or_undo_reason_is_400(staff, db, world):
    decided(staff, world["theirs"])
    for path, data, message in [
        (f"{QUEUE}{world['ours']}/unit-text", {"text": "长" * 501}, "单位可见内容最多 500 个字"),
        (f"{QUEUE}{world['ours']}/unit-text", {"text": "  "}, "请填写单位可见内容"),
        (f"{QUEUE}{world['theirs']}/undo", {"reason": "撤" * 201, "confirmed": "1"}, "撤销理由最多 200 个字"),
        (f"{QUEUE}{world['theirs']}/undo", {"reason": "\u200b\u202e", "confirmed": "1"}, "请填写撤销理由"),
    ]:
        before = snapshot(db)
        refused(staff.post(path, data=data), 400, message, db, before)


def test_a_nul_byte_anywhere_is_400(staff, db, world):
    decided(staff, world["theirs"])
    for path, data in [*forms(world["ours"]).items(), *forms(world["theirs"]).items()]:
        for field in data:
            before = snapshot(db)
            refused(staff.post(path, data={**data, field: f"属\x00{data[field]}"}), 400, NUL_REFUSED, db, before)
    before = snapshot(db)
    refused(staff.get(f"{QUEUE}?status=valid%00"), 400, NUL_REFUSED, db, before)


def test_a_field_sent_twice_is_400(staff, db, world):
    decided(staff, world["theirs"])
    for path, data in [*forms(world["ours"]).items(), *forms(world["theirs"]).items(),
                       (f"{QUEUE}{world['ours']}/decide", {"csrf_token": "a token"})]:
        for field in data:
            sent = MultiDict(data)
            sent.add(field, {"verdict": "invalid", "confirmed": "1"}.get(field, "另一个值"))
            before = snapshot(db)
            refused(staff.post(path, data=sent), 400, repeated(field), db, before)


def test_unknown_and_foreign_ids_are_404(staff, db, world):
    better = db.scalar(select(Rating.id).where(Rating.level > 2))
    ids = [999_999, 2**31 - 1, world["window"], *([better] if better else [])]
    for rating_id in ids:
        for path, data in forms(rating_id).items():
            before = snapshot(db)
            refused(staff.post(path, data=data), 404, f"本年度没有编号为 {rating_id} 的投诉。", db, before)
        before = snapshot(db)
        refused(staff.get(f"{QUEUE}{rating_id}"), 404, f"本年度没有编号为 {rating_id} 的投诉。", db, before)
    for value in ("-1", "abc", str(2**64), "١", "%E2%80%AE"):
        before = snapshot(db)
        refused(staff.get(f"{QUEUE}{value}/"), 404, "您要找的页面不存在", db, before)


def test_sql_looking_and_invisible_text_is_just_text(staff, db, world):
    assert staff.post(f"{QUEUE}{world['ours']}/decide", data={"verdict": "invalid", "reason": SQL}).status_code == 303
    assert staff.post(f"{QUEUE}{world['theirs']}/decide", data={"verdict": "invalid", "reason": INVISIBLE}).status_code == 303
    assert staff.post(f"{QUEUE}{world['ours']}/unit-text", data={"text": f"<script>alert(1)</script>{SQL}"}).status_code == 303
    db.expire_all()
    stored = {d.rating_id: d for d in db.scalars(select(ComplaintDecision))}
    assert stored[world["ours"]].reason == SQL
    assert stored[world["theirs"]].reason == "属实，核实"  # format characters (zero-width, direction) removed
    assert stored[world["ours"]].unit_text == f"<script>alert(1)</script>{SQL}"
    shown = text(staff.get(f"{QUEUE}{world['ours']}"))
    assert "<script>alert(1)</script>" not in shown and "&lt;script&gt;" in shown


@pytest.mark.parametrize("query", [
    "status=%3Cscript%3E", "unit=-1", f"unit={2**64}", "unit=%D9%A3", "page=0", "page=-5", f"page={2**64}",
    "page=%EF%BC%92", "status=valid&status=invalid", "unit=", "sort=__class__",
])
def test_odd_query_strings_show_the_queue(staff, db, world, query):
    before = snapshot(db)
    response = staff.get(f"{QUEUE}?{query}")
    body = page(response)
    assert response.status_code == 200 and "评议二维码投诉" in body and "<script>" not in text(response)
    assert "Traceback" not in body
    assert changed(before, snapshot(db)) == []


@pytest.mark.parametrize("query", ["page=abc", f"page={2**64}", "unit=1", "page=-1"])
def test_odd_query_strings_show_the_units_page(app, db, world, query):
    client = app.test_client()
    assert login(client, "liaison1", PASSWORD).status_code == 302
    before = snapshot(db)
    response = client.get(f"/office/unit-ratings/?{query}")
    assert response.status_code == 200 and "预算科" not in text(response)
    assert changed(before, snapshot(db)) == []
