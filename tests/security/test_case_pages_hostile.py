"""Hostile input on the 差评回访 pages and the citizen's verdict page (voting/ratings/case_views.py,
verdict_views.py), on SQLite and PostgreSQL: a 10 MB text, a text one past its limit, a
NUL byte, a field sent twice, unknown and hostile ids and tokens. Each is refused with
its Chinese message and the exact status (400, 404, 409, 413), never a 500 and never a
trace, and nothing is stored; a text within its limit (SQL-looking, zero-width,
right-to-left) is stored as given."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from tests.conftest import PASSWORD, login
from tests.ratings.support import places
from tests.security.common import changed, snapshot
from tests.security.test_text_input import HUGE, NUL, RTL, SQL, TOO_LARGE, ZERO_WIDTH, assert_clean, page
from voting.core.errors_web import NUL_REFUSED
from voting.ratings import cases, codes, followups, verdict_views
from voting.ratings import ratings as r
from voting.ratings.models import FollowupCase
from voting.staff import users
from voting.staff.models import Role

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)
NOT_FOUND = "您要找的页面不存在，或已被删除。"
OFFICE = "/office/rating-cases"
UNIT = "/office/unit-rating-cases"


def twice(name: str) -> str:
    return f"提交的内容中“{name}”出现了 2 次，每项只能提交一次。请刷新页面后重新提交。"


@pytest.fixture
def world(app, db, admin, monkeypatch):
    """An open 差评 of the section (with a phone), a closed one with its verdict link, an
    administrator's browser and the unit's liaison's."""
    monkeypatch.setattr(verdict_views, "utcnow", lambda: NOW + timedelta(days=1))
    section, _ = places(db)
    code = codes.issue(db, actor="admin", section_id=section.id)
    users.create_user(db, "liaison1", PASSWORD, Role.liaison, unit=section.unit)
    found = []
    for device, phone in (("a" * 20, "13812345678"), ("b" * 20, "13912345678")):  # one counted rating a phone a day
        thanks = r.submit_rating(db, code, 1, ["attitude"], "态度不好。", phone=phone, device=device,
                                 network="203.0.113.7", now=NOW)
        found.append(db.scalars(select(FollowupCase).where(FollowupCase.rating_id == thanks.rating_id)).one())
    open_case, closed = found
    followups.record_callback(db, closed.id, actor="admin", finding="已回访。", now=NOW)
    tokens = cases.verdict_tokens(app)
    cases.close_case(db, closed.id, actor="admin", now=NOW, settings=cases.VerdictSettings(address="https://x/r/case/"),
                     tokens=tokens)
    db.commit()
    staff, liaison = app.test_client(), app.test_client()
    assert login(staff, "admin").status_code == 302 and login(liaison, "liaison1").status_code == 302
    return {"open": open_case, "closed": closed, "token": tokens.sign(closed), "staff": staff, "liaison": liaison}


def refused(response, status: int, message: str, db, before) -> None:
    body = page(response)
    assert (response.status_code, message in body) == (status, True), (response.status_code, body[-600:])
    assert_clean(body)
    assert changed(before, snapshot(db)) == []


def forms(world) -> list[tuple[str, str, str]]:
    """(who, path, the text field) of every form with a text."""
    case_id = world["open"].id
    return [("staff", f"{OFFICE}/{case_id}/callback", "finding"), ("liaison", f"{UNIT}/{case_id}/rectify", "rectification")]


def test_a_huge_text_a_nul_and_one_past_the_limit_are_refused(app, db, world):
    for who, path, name in forms(world):
        client = world[who]
        before = snapshot(db)
        refused(client.post(path, data={name: HUGE}), 413, TOO_LARGE, db, before)
        refused(client.post(path, data={name: NUL}), 400, NUL_REFUSED, db, before)
        refused(client.post(path, data={name: "改" * 1001}), 400, "最多 1000 个字", db, before)
        refused(client.post(path, data={name: " \u200b "}), 400, "请填写", db, before)


@pytest.mark.parametrize("kind, value", [("sql", SQL), ("zero width", ZERO_WIDTH), ("right-to-left", RTL)])
def test_text_within_its_limit_is_stored_as_given(app, db, world, kind, value):
    case_id = world["open"].id
    assert world["staff"].post(f"{OFFICE}/{case_id}/callback", data={"finding": value}).status_code == 303
    assert world["liaison"].post(f"{UNIT}/{case_id}/rectify", data={"rectification": value}).status_code == 303
    db.rollback()
    db.expire_all()
    case = db.get(FollowupCase, case_id)
    expected = followups.checked_text(value, 1000)
    assert (case.callback_finding, case.rectification) == (expected, expected)


def test_a_field_sent_twice_is_refused(app, db, world):
    case_id = world["open"].id
    before = snapshot(db)
    for who, path, name in forms(world):
        data = MultiDict([(name, "第一次。"), (name, "第二次。")])
        refused(world[who].post(path, data=data), 400, twice(name), db, before)
    data = MultiDict([("confirmed", "1"), ("confirmed", "1")])
    refused(world["staff"].post(f"{OFFICE}/{case_id}/close", data=data), 400, twice("confirmed"), db, before)
    data = MultiDict([("answer", "satisfied"), ("answer", "unsatisfied")])
    refused(app.test_client().post(f"/r/case/{world['token']}", data=data), 400, twice("answer"), db, before)


@pytest.mark.parametrize("bad", ["999999", str(2**31), str(2**64), "-1", "abc", "１２", "9" * 5000])
def test_unknown_and_hostile_ids_are_404(app, db, world, bad):
    before = snapshot(db)
    for who, method, path, data in [
        ("staff", "GET", f"{OFFICE}/{bad}", None), ("staff", "POST", f"{OFFICE}/{bad}/callback", {"finding": "x"}),
        ("staff", "POST", f"{OFFICE}/{bad}/close", {"confirmed": "1"}), ("liaison", "GET", f"{UNIT}/{bad}", None),
        ("liaison", "POST", f"{UNIT}/{bad}/rectify", {"rectification": "x"}),
    ]:
        response = world[who].open(path, method=method, data=data)
        message = "没有编号为 999999 的差评回访" if bad == "999999" else NOT_FOUND
        refused(response, 404, message, db, before)


def test_a_closed_case_refuses_every_step_with_409(app, db, world):
    case_id = world["closed"].id
    before = snapshot(db)
    refused(world["staff"].post(f"{OFFICE}/{case_id}/callback", data={"finding": "再回访。"}), 409, "已经办结", db, before)
    refused(world["staff"].post(f"{OFFICE}/{case_id}/close", data={"confirmed": "1"}), 409, "已经办结", db, before)
    refused(world["liaison"].post(f"{UNIT}/{case_id}/rectify", data={"rectification": "整改。"}), 409, "已经办结", db,
            before)


@pytest.mark.parametrize("bad", ["x", "A" * 5000, "%00", "..%2F..", "WzEsIngiXQ", "WzEsIngiXQ.", "<script>"])
def test_hostile_verdict_tokens_are_404(app, client, db, world, bad):
    before = snapshot(db)
    message = NOT_FOUND if "%2F" in bad else "没有找到这个评价链接"  # a slash: no such page at all
    for method, data in (("GET", None), ("POST", {"answer": "satisfied"})):
        refused(client.open(f"/r/case/{bad}", method=method, data=data), 404, message, db, before)


def test_hostile_verdict_forms_are_refused(app, client, db, world):
    token = world["token"]
    before = snapshot(db)
    refused(client.post(f"/r/case/{token}", data={"answer": HUGE}), 413, "内容太大", db, before)
    refused(client.post(f"/r/case/{token}", data={"answer": NUL}), 400, "空字符", db, before)
    refused(client.post(f"/r/case/{token}", data={"answer": SQL}), 400, "请点击“满意”或“不满意”", db, before)
    refused(client.get(f"/r/case/{token}?answer=%00"), 400, "空字符", db, before)
