"""The public rating page (voting/ratings/citizen_views.py), on SQLite and PostgreSQL:
the scanned address shows the place and the form and gives the browser its rating
cookie, writing nothing; a rating without a phone is stored and the browser sent to the
thanks, which a refresh does not resubmit; a wrong form is shown again with its message
and the citizen's choices, nothing stored; with a phone, the SMS code is sent and the
second step asks for it, the rating sealed in the page (no phone number in its source,
a changed or old one refused): the right code stores the rating with the phone and its
follow-up case, a wrong one is counted and kept, a new code can be asked for, and the
rating can go without the phone; a case code counts one rating; a stopped code is a
410 on every step."""
from __future__ import annotations

import html
import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from sms.templates import VERIFICATION_CODE
from tests.ratings.support import at_once, places
from tests.security.common import changed, snapshot
from tests.support.web import text
from voting.core.models import utcnow
from voting.core.vault import vault_of
from voting.outbox.models import OutboxMessage
from voting.ratings import citizen_views, codes, pending, ratings
from voting.ratings.citizen_views import DEVICE_COOKIE
from voting.ratings.models import FollowupCase, PhoneVerification, Rating, RatingCode

PHONE = "13812345678"
MASKED = "138****5678"
PENDING = re.compile(r'name="pending" value="([^"]+)"')


@pytest.fixture
def spots(db):
    """Codes of a section, a window and one case of the section."""
    section, window = places(db)
    found = (codes.issue(db, actor="admin", section_id=section.id), codes.issue(db, actor="admin", entity_id=window.id),
             codes.issue(db, actor="admin", section_id=section.id, case_ref="BJ-2026-0001"))
    db.commit()
    return found


def token_of(app, code: RatingCode) -> str:
    return codes.token_for(code, codes.rating_tokens(app))


def page(response) -> str:
    return html.unescape(text(response))


def rows(db) -> list[Rating]:
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(Rating).order_by(Rating.id)))


def cases(db) -> list[FollowupCase]:
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(FollowupCase).order_by(FollowupCase.id)))


def sms_codes(db) -> list[str]:
    """The codes sent, oldest first, as their SMS carry them."""
    db.rollback()
    db.expire_all()
    return [m.params["code"] for m in db.scalars(select(OutboxMessage).where(
        OutboxMessage.template == VERIFICATION_CODE).order_by(OutboxMessage.id))]


def tries(db) -> list[int]:
    db.rollback()
    db.expire_all()
    return [row.tries for row in db.scalars(select(PhoneVerification).order_by(PhoneVerification.id))]


def sealed_of(response) -> str:
    found = PENDING.search(text(response))
    assert found, page(response)[:2000]
    return found.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def opened(client, app, code: RatingCode):
    path = f"/r/{token_of(app, code)}"
    response = client.get(path)
    assert response.status_code == 200, page(response)[:2000]
    return path, response


def with_phone(client, app, code: RatingCode, level: str = "2", **fields):
    """The form sent with the phone: the second step (200)."""
    path, _ = opened(client, app, code)
    data = {"level": level, "text": "等了很久", "phone": PHONE, **fields}
    if level in ("1", "2") and not any(k.startswith("category_") for k in fields):
        data["category_slow"] = "1"
    step = client.post(path, data=data)
    assert step.status_code == 200, page(step)[:3000]
    return path, step


# ---- the page ---------------------------------------------------------------------------------

def test_the_page_shows_the_place_and_the_form_sets_the_cookie_and_writes_nothing(app, client, db, spots):
    section, window, case = spots
    before = snapshot(db)
    path, response = opened(client, app, section)
    body = page(response)
    assert "价格科" in body and "县发改局" in body
    for label in ratings.LEVELS.values():
        assert f"<span>{label}</span>" in body
    assert body.count('type="radio" name="level"') == 5 and " checked" not in body
    for key, label in ratings.CATEGORIES.items():
        assert f'name="category_{key}"' in body and label in body
    assert "请至少选择一项" in body and 'id="rate-categories" hidden' not in body  # shown without JavaScript
    assert 'maxlength="500"' in body and 'name="phone"' in body
    assert "<style" not in body and "http://" not in body.replace("http://localhost", "")
    cookie = response.headers["Set-Cookie"] if DEVICE_COOKIE in response.headers.get("Set-Cookie", "") else next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith(DEVICE_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/r/" in cookie and "Max-Age=31536000" in cookie
    assert "Secure" not in cookie  # http here; https gives Secure (below)
    value = client.get_cookie(DEVICE_COOKIE, path="/r/").value
    assert ratings.valid_device(value) and len(value) >= 32
    # A browser that has one keeps it.
    again = client.get(path)
    assert not any(c.startswith(DEVICE_COOKIE) for c in again.headers.getlist("Set-Cookie"))
    assert client.get_cookie(DEVICE_COOKIE, path="/r/").value == value
    assert "办件编号：BJ-2026-0001" in page(client.get(f"/r/{token_of(app, case)}"))
    assert "公安局窗口" in page(client.get(f"/r/{token_of(app, window)}"))
    secure = app.test_client().get(path, base_url="https://localhost")
    assert any(c.startswith(DEVICE_COOKIE) and "Secure" in c for c in secure.headers.getlist("Set-Cookie"))
    assert changed(before, snapshot(db)) == []


def test_a_rating_without_a_phone_goes_to_the_thanks_and_a_refresh_stores_nothing(app, client, db, spots):
    section = spots[0]
    path, _ = opened(client, app, section)
    device = client.get_cookie(DEVICE_COOKIE, path="/r/").value
    response = client.post(path, data={"level": "5", "text": "办事很快"})
    assert response.status_code == 303
    thanks = response.headers["Location"]
    assert thanks.endswith(f"{path}/thanks")
    [rating] = rows(db)
    assert (rating.level, rating.text, rating.counted, rating.phone_hash, rating.case_code_id) == (5, "办事很快", True, None,
                                                                                                  None)
    assert rating.device == ratings.device_hash(vault_of(db), device, "127.0.0.1")
    assert cases(db) == []
    before = snapshot(db)
    for _ in range(2):  # the thanks, and its refresh
        shown = client.get(thanks)
        assert shown.status_code == 200 and ratings.THANKS in page(shown)
    assert changed(before, snapshot(db)) == [] and len(rows(db)) == 1


def test_a_poor_rating_without_a_phone_opens_its_case_and_says_so(app, client, db, spots):
    path, _ = opened(client, app, spots[1])
    response = client.post(path, data={"level": "1", "category_attitude": "1", "category_fees": "1", "text": "态度差"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/thanks?poor=1")
    assert ratings.THANKS_POOR in page(client.get(response.headers["Location"]))
    [rating] = rows(db)
    assert rating.categories == ["attitude", "fees"] and rating.entity_id == spots[1].entity_id
    [case] = cases(db)
    assert case.rating_id == rating.id and case.phone is None


@pytest.mark.parametrize("data, message", [
    ({"level": "2", "text": "排队太久"}, "请至少选择一项不满意的原因。"),
    ({"text": "排队太久", "category_slow": "1"}, "请选择一个评价等级"),
    ({"level": "6"}, "请选择一个评价等级"),
    ({"level": "5", "category_slow": "1"}, "只有选择“不满意”或“非常不满意”时才需要选择不满意的原因。"),
    ({"level": "1", "category_slow": "1", "category_bribes": "1"}, "不满意的原因只能从列出的选项中选择。"),
    ({"level": "3", "text": "长" * 501}, "文字太长：最多 500 个字，现在是 501 个字。"),
    ({"level": "3", "phone": "12345"}, "手机号码有误："),
])
def test_a_wrong_form_is_shown_again_with_its_message_and_the_choices_kept(app, client, db, spots, data, message):
    path, _ = opened(client, app, spots[0])
    before = snapshot(db)
    response = client.post(path, data=data)
    body = page(response)
    assert response.status_code == 400 and message in body, body[:3000]
    if data.get("level") in {"1", "2", "3", "5"}:
        assert f'value="{data["level"]}" required checked' in body
    if "category_slow" in data:
        assert 'id="category-slow" value="1" checked' in body
    if data.get("text"):
        assert f">{data['text']}</textarea>" in body
    if data.get("phone"):
        assert f'value="{data["phone"]}"' in body
    assert changed(before, snapshot(db)) == [] and sms_codes(db) == []


# ---- with a phone -----------------------------------------------------------------------------

def test_a_confirmed_phone_is_stored_with_the_rating_and_its_case(app, client, db, spots):
    path, step = with_phone(client, app, spots[0], level="2", category_attitude="1")
    body = page(step)
    assert f"验证码已发送至 {MASKED}" in body and PHONE not in text(step) and "5678" in body
    assert 'inputmode="numeric"' in body and 'autocomplete="one-time-code"' in body
    assert "重新获取验证码" in body and "不验证手机，直接提交评价" in body
    assert rows(db) == []  # nothing of the rating is stored yet
    [code] = sms_codes(db)
    response = client.post(f"{path}/confirm", data={"pending": sealed_of(step), "code": code, "action": "confirm"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/thanks?poor=1")
    [rating] = rows(db)
    assert rating.phone_hash == vault_of(db).lookup(PHONE) and rating.counted
    assert (rating.level, rating.categories, rating.text) == (2, ["attitude"], "等了很久")
    [case] = cases(db)
    assert case.rating_id == rating.id and case.phone == PHONE
    # The code was used: the same page sent again stores nothing more.
    before = snapshot(db)
    again = client.post(f"{path}/confirm", data={"pending": sealed_of(step), "code": code})
    assert again.status_code == 400 and "验证码" in page(again)
    assert changed(before, snapshot(db)) == []


def test_the_enter_key_confirms_and_full_width_digits_are_read(app, client, db, spots):
    path, step = with_phone(client, app, spots[0], level="4")
    code = sms_codes(db)[0].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    response = client.post(f"{path}/confirm", data={"pending": sealed_of(step), "code": code})  # no button: Enter
    assert response.status_code == 303 and response.headers["Location"].endswith("/thanks")
    assert [r.phone_hash is not None for r in rows(db)] == [True] and cases(db) == []


def test_a_wrong_code_is_counted_and_kept_and_the_right_one_still_works(app, client, db, spots):
    path, step = with_phone(client, app, spots[0])
    [code] = sms_codes(db)
    sealed = sealed_of(step)
    refused = client.post(f"{path}/confirm", data={"pending": sealed, "code": wrong(code), "action": "confirm"})
    body = page(refused)
    assert refused.status_code == 400 and "验证码不正确，今天还可以再试 4 次。" in body, body[:3000]
    assert f"验证码已发送至 {MASKED}" in body and PHONE not in text(refused)
    assert tries(db) == [1] and rows(db) == []  # the try kept although the answer is a refusal
    response = client.post(f"{path}/confirm", data={"pending": sealed_of(refused), "code": code})
    assert response.status_code == 303 and len(rows(db)) == 1 and rows(db)[0].phone_hash is not None


def test_the_day_s_wrong_tries_used_is_a_429(app, client, db, spots):
    path, step = with_phone(client, app, spots[0])
    [code] = sms_codes(db)
    sealed = sealed_of(step)
    for left in (4, 3, 2, 1):
        response = client.post(f"{path}/confirm", data={"pending": sealed, "code": wrong(code)})
        assert response.status_code == 400 and f"还可以再试 {left} 次" in page(response)
    last = client.post(f"{path}/confirm", data={"pending": sealed, "code": wrong(code)})
    assert last.status_code == 400 and "今天输错的次数已达上限" in page(last)
    used = client.post(f"{path}/confirm", data={"pending": sealed, "code": code})
    assert used.status_code == 429 and "今天不能再验证" in page(used)
    assert tries(db) == [5] and rows(db) == []
    # The rating can still go, without the phone.
    skipped = client.post(f"{path}/confirm", data={"pending": sealed, "action": "skip"})
    assert skipped.status_code == 303 and [r.phone_hash for r in rows(db)] == [None]


@pytest.mark.parametrize("app_config", [{"RATING_SMS_PHONE_INTERVAL_SECONDS": 0}])
def test_a_new_code_can_be_asked_for_and_ends_the_first(app, client, db, spots, app_config):
    path, step = with_phone(client, app, spots[0], level="5")
    resent = client.post(f"{path}/confirm", data={"pending": sealed_of(step), "action": "resend"})
    assert resent.status_code == 200 and f"新的验证码已发送至 {MASKED}" in page(resent)
    first, second = sms_codes(db)
    if first != second:
        old = client.post(f"{path}/confirm", data={"pending": sealed_of(resent), "code": first})
        assert old.status_code == 400 and rows(db) == []
    response = client.post(f"{path}/confirm", data={"pending": sealed_of(resent), "code": second})
    assert response.status_code == 303 and rows(db)[0].phone_hash == vault_of(db).lookup(PHONE)


def test_a_resend_within_the_minute_is_a_429_and_the_step_stays(app, client, db, spots):
    path, step = with_phone(client, app, spots[0])
    before = snapshot(db)
    response = client.post(f"{path}/confirm", data={"pending": sealed_of(step), "action": "resend"})
    body = page(response)
    assert response.status_code == 429 and "获取验证码太频繁：请" in body and "秒后再试" in body
    assert f"验证码已发送至 {MASKED}" in body and sealed_of(response)
    assert changed(before, snapshot(db)) == []
    # A second form with the same phone within the minute: the form again, kept, 429.
    again = client.post(path, data={"level": "3", "text": "还行", "phone": PHONE})
    assert again.status_code == 429 and "获取验证码太频繁" in page(again)
    assert f'value="{PHONE}"' in page(again) and 'value="3" required checked' in page(again)
    assert changed(before, snapshot(db)) == []


def test_the_rating_can_go_without_the_phone(app, client, db, spots):
    path, step = with_phone(client, app, spots[0], level="1", category_other="1")
    response = client.post(f"{path}/confirm", data={"pending": sealed_of(step), "action": "skip", "code": ""})
    assert response.status_code == 303 and response.headers["Location"].endswith("/thanks?poor=1")
    [rating] = rows(db)
    assert rating.phone_hash is None and rating.counted and rating.categories == ["other"]
    [case] = cases(db)
    assert case.phone is None


def test_a_changed_or_foreign_or_old_pending_rating_is_refused(app, client, db, spots, monkeypatch):
    path, step = with_phone(client, app, spots[0])
    sealed = sealed_of(step)
    [code] = sms_codes(db)
    _, other_step = with_phone(client, app, spots[1], phone="13912345678")  # another code's
    flipped = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    vault = vault_of(db)
    forged = [flipped, sealed[:-8], sealed + "AAAA", "", "p1.", "p1.!!!!", "x" * 9000, vault.seal(PHONE),
              sealed_of(other_step), "p1." + "A" * 40]
    before = snapshot(db)
    for value in forged:
        for action in ("confirm", "skip", "resend"):
            response = client.post(f"{path}/confirm", data={"pending": value, "code": code, "action": action})
            assert response.status_code == 400 and "请重新填写评价" in page(response), (value[:20], action)
    assert changed(before, snapshot(db)) == [] and rows(db) == []
    # Older than 30 minutes: refused, saying why.
    later = utcnow() + pending.LIFETIME + timedelta(minutes=1)
    monkeypatch.setattr(citizen_views, "utcnow", lambda: later)
    old = client.post(f"{path}/confirm", data={"pending": sealed, "action": "skip"})
    assert old.status_code == 400 and pending.EXPIRED in page(old) and rows(db) == []


# ---- case codes, stopped codes ----------------------------------------------------------------

def test_a_case_code_counts_one_rating(app, db, spots):
    case_code = spots[2]
    for n, level in enumerate(("5", "4")):
        client = app.test_client()  # another phone each time
        path, _ = opened(client, app, case_code)
        response = client.post(path, data={"level": level}, environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"})
        assert response.status_code == 303 and ratings.THANKS in page(client.get(response.headers["Location"]))
    first, second = rows(db)
    assert (first.counted, second.counted) == (True, False)
    assert first.case_code_id == second.case_code_id == case_code.id
    # The section's own code is not a case's: its ratings count as before.
    client = app.test_client()
    path, _ = opened(client, app, spots[0])
    assert client.post(path, data={"level": "5"}).status_code == 303
    assert [r.counted for r in rows(db)] == [True, False, True] and rows(db)[2].case_code_id is None


def test_a_case_code_s_second_poor_rating_opens_no_case(app, db, spots):
    for n in range(2):
        client = app.test_client()
        path, _ = opened(client, app, spots[2])
        data = {"level": "1", "category_attitude": "1"}
        assert client.post(path, data=data, environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"}).status_code == 303
    assert [r.counted for r in rows(db)] == [True, False] and len(cases(db)) == 1


def test_a_hundred_ratings_of_one_case_at_once_count_once_on_postgresql(app, db, spots):
    case_code = spots[2]  # loaded, detached: read only by the threads

    def attempt(session, n: int) -> str:
        return ratings.submit_rating(session, case_code, 1, ["slow"], "", device=f"device-{n:03d}-abcdefghij",
                                     network=f"198.51.100.{n}", now=utcnow()).message

    outcomes = at_once(app, db, attempt, "SQLite serialises writers: the parallel submits are a PostgreSQL test")
    assert outcomes == {ratings.THANKS_POOR: 100}
    assert Counter(r.counted for r in rows(db)) == {True: 1, False: 99} and len(cases(db)) == 1


def test_a_stopped_code_is_a_410_on_every_step(app, client, db, spots):
    section = spots[0]
    path, step = with_phone(client, app, section)
    [code] = sms_codes(db)
    codes.revoke(db, section.id, actor="admin", reason="海报损坏")
    db.commit()
    before = snapshot(db)
    for response in (client.get(path), client.post(path, data={"level": "5"}),
                     client.post(f"{path}/confirm", data={"pending": sealed_of(step), "code": code}),
                     client.post(f"{path}/confirm", data={"pending": sealed_of(step), "action": "skip"})):
        assert response.status_code == 410 and "此二维码已停用" in page(response) and "二维码已停用" in page(response)
    assert changed(before, snapshot(db)) == [] and rows(db) == []


def test_an_unknown_address_is_a_404_on_every_step(app, client, db, spots):
    token = token_of(app, spots[0])
    before = snapshot(db)
    for bad in (token[:-3] + "xyz", "abc", "x" * 300):
        for response in (client.get(f"/r/{bad}"), client.post(f"/r/{bad}", data={"level": "5"}),
                         client.post(f"/r/{bad}/confirm", data={"pending": "p1.x", "action": "skip"}),
                         client.get(f"/r/{bad}/thanks")):
            assert response.status_code == 404 and "没有找到这个评议二维码" in page(response)
    assert changed(before, snapshot(db)) == []
