"""The public rating page in a real headless Chromium on a phone, 320 and 360 pixels
wide, with JavaScript on and off, CSRF on: the scanned address, a rating, the thanks; a
差评 with its categories (with JavaScript shown only once a 差评 is chosen) and a phone
confirmed by its SMS code; a stopped code's message. No page scrolls sideways."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from sms.templates import VERIFICATION_CODE
from tests.ratings.support import places
from tests.support.browser import TIMEOUT_MS, fits, shot
from voting.core.vault import vault_of
from voting.outbox.models import OutboxMessage
from voting.ratings import codes, ratings
from voting.ratings.models import FollowupCase, Rating

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("width", [320, 360]),
              pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])]

PHONE = "13812345678"
HEIGHT = 640


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def spot(db):
    section, _ = places(db)
    code = codes.issue(db, actor="admin", section_id=section.id)
    db.commit()
    return code


def phone_page(browser, base_url: str, width: int, javascript: bool):
    """A touch phone `width` pixels wide, a fresh context (no cookies)."""
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": HEIGHT}, locale="zh-CN",
                                  is_mobile=True, has_touch=True, java_script_enabled=javascript)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def rows(db) -> list[Rating]:
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(Rating).order_by(Rating.id)))


def sent_code(db) -> str:
    db.rollback()
    db.expire_all()
    return db.scalars(select(OutboxMessage).where(OutboxMessage.template == VERIFICATION_CODE)
                      .order_by(OutboxMessage.id.desc())).first().params["code"]


def address(app, code) -> str:
    return f"/r/{codes.token_for(code, codes.rating_tokens(app))}"


def test_scan_rate_and_thanks(browser, live_server, app, db, spot, width, javascript):
    page = phone_page(browser, live_server, width, javascript)
    try:
        response = page.goto(address(app, spot))
        assert response.status == 200 and page.inner_text("#rate-place") == "价格科"
        assert fits(page, width)
        shot(page, f"rate-{'js' if javascript else 'nojs'}", widths=(width,))
        # What went wrong is asked for a 差评 only: with JavaScript hidden until one is chosen.
        assert page.is_visible("#rate-categories") is not javascript
        assert [c["name"] for c in page.context.cookies() if c["name"] == "rating_device"] == ["rating_device"]
        page.click("label[for=level-4]")
        assert page.is_checked("#level-4")
        page.fill("#text", "窗口人员很耐心")
        with page.expect_navigation():
            page.click("#rate-form button[type=submit]")
        assert page.url.endswith("/thanks") and ratings.THANKS in page.inner_text("main")
        assert fits(page, width)
        [rating] = rows(db)
        assert (rating.level, rating.text, rating.counted, rating.phone_hash) == (4, "窗口人员很耐心", True, None)
        page.reload()  # the thanks again: nothing stored twice
        assert ratings.THANKS in page.inner_text("main") and len(rows(db)) == 1
    finally:
        page.context.close()


def test_a_poor_rating_with_a_confirmed_phone(browser, live_server, app, db, spot, width, javascript):
    page = phone_page(browser, live_server, width, javascript)
    try:
        page.goto(address(app, spot))
        page.click("label[for=level-1]")
        assert page.is_visible("#rate-categories")
        assert fits(page, width)
        if javascript:  # a better level hides them again, and they are not sent
            page.click("label[for=level-3]")
            assert not page.is_visible("#rate-categories")
            page.click("label[for=level-1]")
        page.click("label[for=category-attitude]")
        page.click("label[for=category-slow]")
        page.fill("#text", "等了一个小时")
        page.fill("#phone", PHONE)
        with page.expect_navigation():
            page.click("#rate-form button[type=submit]")
        assert "验证码已发送至 138****5678" in page.inner_text("#rate-sent")
        assert PHONE not in page.content() and rows(db) == []
        assert page.get_attribute("#code", "inputmode") == "numeric"
        assert page.get_attribute("#code", "autocomplete") == "one-time-code"
        assert fits(page, width)
        shot(page, f"rate-confirm-{'js' if javascript else 'nojs'}", widths=(width,))
        # A wrong code first: refused, counted, the step again.
        code = sent_code(db)
        page.fill("#code", f"{(int(code) + 1) % 10 ** 6:06d}")
        with page.expect_navigation() as wrong:
            page.click("#confirm-form button[value=confirm]")
        assert wrong.value.status == 400 and "验证码不正确" in page.inner_text("#rate-error") and fits(page, width)
        page.fill("#code", code)
        with page.expect_navigation():
            page.click("#confirm-form button[value=confirm]")
        assert page.url.endswith("/thanks?poor=1") and ratings.THANKS_POOR in page.inner_text("main")
        [rating] = rows(db)
        assert (rating.level, rating.categories, rating.text) == (1, ["attitude", "slow"], "等了一个小时")
        assert rating.phone_hash == vault_of(db).lookup(PHONE) and rating.counted
        case = db.scalars(select(FollowupCase)).one()
        assert case.rating_id == rating.id and case.phone == PHONE
    finally:
        page.context.close()


def test_a_stopped_code_says_so(browser, live_server, app, db, spot, width, javascript):
    path = address(app, spot)
    codes.revoke(db, spot.id, actor="admin", reason="海报损坏")
    db.commit()
    page = phone_page(browser, live_server, width, javascript)
    try:
        response = page.goto(path)
        assert response.status == 410 and "此二维码已停用" in page.inner_text("main")
        assert page.locator("form").count() == 0 and fits(page, width)
    finally:
        page.context.close()
