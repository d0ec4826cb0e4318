"""Hostile input on the public rating page (voting/ratings/citizen_views.py), on SQLite
and PostgreSQL: NUL bytes, 10 MB, huge values under the size limit, fields sent twice,
levels that are not 1–5 (other scripts' digits, 2**64, text), made-up categories, a
forged or garbled sealed rating, codes that are not six digits, unknown and garbled
addresses, the wrong methods, a junk rating cookie, a stale form token. Each is refused
with a Chinese message and the exact status (400, 404, 405, 413), never a 500 nor a
trace, and nothing is stored (not even a counted try); SQL-looking text is just text."""
from __future__ import annotations

import html
import re
import time

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from tests.ratings.support import places
from tests.security.common import changed, csrf_of, snapshot
from tests.support.web import text
from voting.core.errors_web import NUL_REFUSED
from voting.ratings import codes, ratings
from voting.ratings.citizen_views import DEVICE_COOKIE
from voting.ratings.models import PhoneVerification, Rating

PHONE = "13812345678"
HUGE = "长" * (10 * 1024 * 1024 // 3)  # 10 MB of UTF-8
BIG = "9" * 200_000  # under the form's size limit
TOO_LARGE = "提交的内容超过大小上限"
NOT_ALLOWED = "这个地址不接受这种请求方式。"
UNKNOWN = "没有找到这个评议二维码"
RATING_CSRF = "页面已过期，请重新扫描窗口张贴的二维码。"
CHOOSE_LEVEL = "请选择一个评价等级"
PENDING = re.compile(r'name="pending" value="([^"]+)"')
LEVELS = {
    "2**64": str(2**64), "2**31": str(2**31), "zero": "0", "six": "6", "negative": "-1", "decimal": "5.0",
    "superscript two": "²", "Arabic-Indic three": "٣", "full-width five": "５", "text": "abc", "true": "true",
    "5,000 digits": "9" * 5000, "empty": "", "space": " ", "SQL": "5 OR 1=1",
}


@pytest.fixture
def code(db):
    section, _ = places(db)
    found = codes.issue(db, actor="admin", section_id=section.id)
    db.commit()
    return found


@pytest.fixture
def path(app, code) -> str:
    return f"/r/{codes.token_for(code, codes.rating_tokens(app))}"


def page(response) -> str:
    return html.unescape(text(response))


def refused(response, status: int, message: str, db, before) -> None:
    body = page(response)
    shown = (response.status_code, " ".join(re.sub(r"<[^>]+>", " ", body).split())[:600])
    assert response.status_code == status, shown
    assert message in body, shown
    assert "Traceback" not in body and "psycopg" not in body and "sqlalchemy" not in body.lower(), shown
    assert changed(before, snapshot(db)) == []


def ratings_stored(db) -> list[Rating]:
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(Rating).order_by(Rating.id)))


def step(client, path: str) -> str:
    """The second step, its sealed rating."""
    response = client.post(path, data={"level": "5", "phone": PHONE})
    assert response.status_code == 200, page(response)[:2000]
    return PENDING.search(text(response)).group(1)


# ---- the form ---------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["level", "text", "phone", "category_slow", "category_x\x00", "csrf_token"])
def test_a_nul_byte_is_refused(client, db, path, field):
    before = snapshot(db)
    data = {"level": "2", "category_slow": "1", "text": "慢", field: "1\x00"}
    refused(client.post(path, data=data), 400, NUL_REFUSED, db, before)


@pytest.mark.parametrize("field", ["level", "text", "phone", "category_slow"])
def test_10_mb_is_refused(client, db, path, field):
    before = snapshot(db)
    refused(client.post(path, data={"level": "3", field: HUGE}), 413, TOO_LARGE, db, before)


@pytest.mark.parametrize("field, message", [
    ("level", CHOOSE_LEVEL), ("text", "文字太长：最多 500 个字，现在是 200000 个字。"), ("phone", "手机号码有误："),
])
def test_a_huge_value_under_the_limit_is_refused_and_not_echoed_whole(client, db, path, field, message):
    before = snapshot(db)
    response = client.post(path, data={"level": "3", field: BIG})
    refused(response, 400, message, db, before)
    assert len(response.get_data()) < 20_000  # the page does not echo 200 KB back


@pytest.mark.parametrize("kind", list(LEVELS))
def test_a_level_that_is_not_one_of_the_five_is_refused(client, db, path, kind):
    before = snapshot(db)
    refused(client.post(path, data={"level": LEVELS[kind], "text": "好"}), 400, CHOOSE_LEVEL, db, before)


@pytest.mark.parametrize("name", ["category_bribes", "category___class__", "category_attitude\u200b",
                                  "category_ATTITUDE", "category_slow/../fees"])
def test_a_made_up_category_is_refused(client, db, path, name):
    before = snapshot(db)
    refused(client.post(path, data={"level": "1", "category_slow": "1", name: "1"}), 400,
            "不满意的原因只能从列出的选项中选择。", db, before)


@pytest.mark.parametrize("name", ["level", "text", "phone", "category_slow", "csrf_token"])
def test_a_field_sent_twice_is_refused(client, db, path, name):
    data = MultiDict({"csrf_token": "a token", "level": "2", "category_slow": "1", "text": "慢", "phone": PHONE})
    data.add(name, {"level": "5", "text": "快", "phone": "13900000000"}.get(name, "1"))
    before = snapshot(db)
    refused(client.post(path, data=data), 400, f"提交的内容中“{name}”出现了 2 次", db, before)


@pytest.mark.parametrize("kind, value", [
    ("SQL", "'); DROP TABLE rating; -- \" OR 1=1 /*"), ("zero width", "很\u200b好\u200c\u200d\ufeff"),
    ("right-to-left", "\u202e好很\u202c"), ("script", "<script>alert(1)</script>"), ("CRLF", "第一行\r\n第二行"),
])
def test_hostile_text_is_stored_as_the_service_cleans_it(client, db, path, kind, value):
    response = client.post(path, data={"level": "5", "text": value})
    assert response.status_code == 303, page(response)[:2000]
    [rating] = ratings_stored(db)
    assert rating.text == ratings.checked_text(value)
    assert "<script>" not in ratings.checked_text(value) or kind == "script"


def test_a_hostile_phone_is_refused_and_sends_nothing(client, db, path):
    before = snapshot(db)
    for phone in ("13812345678' OR 1=1", "+1 415 555 0100", "1381234567８9", "１３８", "<b>138</b>", "138 1234 5678 9"):
        response = client.post(path, data={"level": "5", "phone": phone})
        refused(response, 400, "手机号码有误：", db, before)


# ---- the second step --------------------------------------------------------------------------

@pytest.mark.parametrize("value, status, message", [
    ("p1.abc\x00", 400, NUL_REFUSED), (HUGE, 413, TOO_LARGE), ("p1." + "A" * 7000, 400, "请重新填写评价"),
    ("p1.长长长", 400, "请重新填写评价"), ("p1.AAAA\n", 400, "请重新填写评价"), ("null", 400, "请重新填写评价"),
])
def test_a_garbled_sealed_rating_is_refused(client, db, path, value, status, message):
    step(client, path)
    before = snapshot(db)
    for action in ("confirm", "resend", "skip"):
        response = client.post(f"{path}/confirm", data={"pending": value, "code": "123456", "action": action})
        refused(response, status, message, db, before)


@pytest.mark.parametrize("typed", ["abc", "12345", "1234567", "9" * 5000, "12 34 5", "-12345", "٣٣٣٣٣٣", "", "1２3"])
def test_a_code_that_is_not_six_digits_counts_no_try(client, db, path, typed):
    sealed = step(client, path)
    before = snapshot(db)
    response = client.post(f"{path}/confirm", data={"pending": sealed, "code": typed, "action": "confirm"})
    refused(response, 400, "验证码应为 6 位数字。", db, before)
    assert [row.tries for row in db.scalars(select(PhoneVerification))] == [0]


def test_an_unknown_action_is_refused(client, db, path):
    sealed = step(client, path)
    before = snapshot(db)
    for action in ("delete", "", "CONFIRM", "skip\u200b"):
        response = client.post(f"{path}/confirm", data={"pending": sealed, "code": "123456", "action": action})
        refused(response, 400, "请点击“确认并提交评价”", db, before)


def test_the_step_s_fields_sent_twice_are_refused(client, db, path):
    sealed = step(client, path)
    before = snapshot(db)
    for name, second in (("pending", sealed), ("code", "654321"), ("action", "skip")):
        data = MultiDict({"pending": sealed, "code": "123456", "action": "confirm"})
        data.add(name, second)
        refused(client.post(f"{path}/confirm", data=data), 400, f"提交的内容中“{name}”出现了 2 次", db, before)


# ---- addresses, methods, cookies ----------------------------------------------------------------

@pytest.mark.parametrize("token", ["x", "x" * 5000, "WzEsImFiYyJd.c2lnbmF0dXJl", "%2e%2e", "%E9%95%BF", "WzEsImFiYyJd",
                                   "'%20OR%201=1", "%5B1%2C%22a%22%5D"])
def test_an_unknown_address_is_a_404_everywhere(client, db, code, token):
    before = snapshot(db)
    for response in (client.get(f"/r/{token}"), client.post(f"/r/{token}", data={"level": "5"}),
                     client.post(f"/r/{token}/confirm", data={"pending": "p1.AAAA", "action": "skip"}),
                     client.get(f"/r/{token}/thanks")):
        refused(response, 404, UNKNOWN, db, before)


def test_an_address_with_slashes_is_no_route_of_ours(client, db, path):
    before = snapshot(db)
    for url in ("/r/..%2f..%2fetc", f"{path}/x", f"{path}/confirm/x", "/r/", "/r"):
        refused(client.get(url), 404, "您要找的页面不存在", db, before)


def test_a_null_byte_in_the_address_or_its_query_is_refused(client, db, path):
    before = snapshot(db)
    refused(client.get(f"{path[:-2]}%00x"), 404, UNKNOWN, db, before)
    refused(client.get(f"{path}?level=%00"), 400, NUL_REFUSED, db, before)
    refused(client.get(f"{path}/thanks?poor=%00"), 400, NUL_REFUSED, db, before)


def test_the_wrong_methods_are_405(client, db, path):
    before = snapshot(db)
    for method in ("PUT", "PATCH", "DELETE"):
        for url in (path, f"{path}/confirm", f"{path}/thanks"):
            refused(client.open(url, method=method, data={"level": "5"}), 405, NOT_ALLOWED, db, before)
    refused(client.get(f"{path}/confirm?pending=p1.x&action=skip"), 405, NOT_ALLOWED, db, before)
    refused(client.post(f"{path}/thanks", data={"level": "5"}), 405, NOT_ALLOWED, db, before)


def test_a_get_with_the_form_in_the_query_stores_nothing(client, db, path):
    before = snapshot(db)
    for url in (f"{path}?level=5&text=x&phone={PHONE}", f"{path}/thanks?level=1&poor=1", f"{path}/thanks?poor=abc"):
        response = client.get(url)
        assert response.status_code == 200 and " checked" not in text(response)
        assert response.headers["Cache-Control"] == "no-store"
    assert changed(before, snapshot(db)) == []


@pytest.mark.parametrize("value", ["x" * 3000, "short", "a b", "長い値", "../../etc", "\"quoted\""])
def test_a_junk_rating_cookie_is_replaced_and_rating_still_works(app, db, path, value):
    client = app.test_client()
    client.set_cookie(DEVICE_COOKIE, value, path="/r/")
    response = client.get(path)
    fresh = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(DEVICE_COOKIE + "=")]
    assert response.status_code == 200 and len(fresh) == 1
    client.set_cookie(DEVICE_COOKIE, value, path="/r/")  # the browser kept the junk after all
    assert client.post(path, data={"level": "4"}).status_code == 303
    assert [r.counted for r in ratings_stored(db)] == [True]


# ---- the form's token -------------------------------------------------------------------------

@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True, "WTF_CSRF_TIME_LIMIT": 1}])
def test_a_stale_or_missing_form_token_is_the_chinese_page(app, db, path, app_config):
    client = app.test_client()
    token = csrf_of(text(client.get(path)))
    before = snapshot(db)
    refused(client.post(path, data={"level": "5"}), 400, RATING_CSRF, db, before)  # none
    refused(client.post(path, data={"level": "5", "csrf_token": "forged"}), 400, RATING_CSRF, db, before)
    other = app.test_client()
    refused(other.post(path, data={"level": "5", "csrf_token": token}), 400, RATING_CSRF, db, before)  # another browser's
    time.sleep(2.1)  # the token is past its time now
    refused(client.post(path, data={"level": "5", "csrf_token": token}), 400, RATING_CSRF, db, before)
    refused(client.post(f"{path}/confirm", data={"pending": "p1.AAAA", "action": "skip", "csrf_token": token}), 400,
            RATING_CSRF, db, before)
    fresh = csrf_of(text(client.get(path)))
    assert client.post(path, data={"level": "5", "csrf_token": fresh}).status_code == 303
