"""The online round's irreversible steps in headless Chromium with CSRF on: with
JavaScript the button opens a dialog with the step's numbers, 取消 closes it with
nothing done, its own button acts; without JavaScript the button leads to the
confirmation page, whose button acts (voting/web/confirm.py, templates/_confirm.html,
templates/static/confirm.js)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.support.ballots import cast_ballots, evaluators, open_online_round
from tests.support.browser import TIMEOUT_MS, log_in, shot
from tests.conftest import PASSWORD
from tests.support.online_pool import issue, pool_of, pooled_round
from voting.online.models import Evaluator, OnlineRound
from voting.outbox.models import OutboxMessage
from voting.survey.models import RoundStatus
from voting.core.models import utcnow

pytestmark = pytest.mark.browser

MONITOR = "/office/online/monitor"


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def no_js(browser, live_server):
    """An office computer with JavaScript off."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 800}, locale="zh-CN",
                                  java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def fresh(db):
    db.rollback()
    db.expire_all()  # rollback() outside a transaction expires nothing
    return db


def messages(db, like: str = "%") -> int:
    return fresh(db).scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.key.like(like)))


def round_status(db, online: OnlineRound) -> RoundStatus:
    return fresh(db).get(OnlineRound, online.id).status


# ---- with JavaScript: the dialog ------------------------------------------------------------------


def test_the_close_dialog_shows_the_turnout_cancels_and_confirms(page, admin, db, campaign):
    online = open_online_round(db, campaign)
    cast_ballots(db, online, 3)
    log_in(page, "admin", PASSWORD)
    page.goto(MONITOR)
    dialog = page.locator("dialog#confirm-close")
    assert not dialog.is_visible()
    loads = []  # documents fetched: opening and cancelling the dialog fetches none
    page.on("request", lambda request: loads.append(request.url) if request.resource_type == "document" else None)

    page.click("form[data-confirm=confirm-close] button[type=submit]")
    dialog.wait_for(state="visible")
    shown = dialog.inner_text()
    assert "6 位评价人中已有 3 位投票（参评率 50.0%），还有 3 位未投票" in shown
    closes = page.locator("body").inner_text().split("截止 ", 1)[1][:16]  # the status line's closing time
    assert f"原定截止时间 {closes}" in shown and "已收到的 3 张选票" in shown
    shot(page, "online-close-dialog")
    dialog.locator("button", has_text="取消").click()
    dialog.wait_for(state="hidden")
    assert loads == [] and page.url.endswith(MONITOR)
    assert round_status(db, online) is RoundStatus.open

    page.click("form[data-confirm=confirm-close] button[type=submit]")
    dialog.wait_for(state="visible")
    with page.expect_navigation():
        dialog.locator("button", has_text="确认：结束网络评价").click()
    assert "网络评价已结束，共收到 3 张选票" in page.locator(".flash").first.inner_text()
    assert round_status(db, online) is RoundStatus.closed


def test_the_issue_and_reissue_dialogs_act_only_when_confirmed(page, admin, app, db, campaign):
    online = pooled_round(db, campaign, reps=7)
    log_in(page, "admin", PASSWORD)
    page.goto("/office/online/")
    dialog = page.locator("dialog#confirm-issue")
    page.click("form[data-confirm=confirm-issue] button[type=submit]")
    dialog.wait_for(state="visible")
    assert "为尚未发过账号的 20 位评价人" in dialog.inner_text() and "状态由“未开始”变为“进行中”" in dialog.inner_text()
    dialog.locator("button", has_text="取消").click()
    dialog.wait_for(state="hidden")
    assert messages(db) == 0 and round_status(db, online) is RoundStatus.draft

    page.click("form[data-confirm=confirm-issue] button[type=submit]")
    with page.expect_navigation():
        dialog.locator("button", has_text="确认：发送账号短信（20 人）并开始网络评价").click()
    assert "/office/jobs/" in page.url  # the job's page (jobs run at once in the tests)
    assert messages(db, "account:%") == 20 and round_status(db, online) is RoundStatus.open

    # A locked account: its row's 重新开通 dialog names it, with the phone masked.
    locked = pool_of(db, online)[0]
    locked.failed_logins, locked.locked_at = 5, utcnow()
    db.commit()
    page.goto("/office/online/")
    dialog = page.locator(f"dialog#confirm-reissue-{locked.id}")
    page.click(f"form[data-confirm=confirm-reissue-{locked.id}] button[type=submit]")
    dialog.wait_for(state="visible")
    shown = dialog.inner_text()
    assert f"账号 {locked.login}" in shown and f"{locked.phone[:3]}****{locked.phone[-4:]}" in shown
    assert locked.phone not in shown and "解除锁定（该账号现已锁定）" in shown and "由 5 次清零" in shown
    shot(page, "online-reissue-dialog")
    dialog.locator("button", has_text="取消").click()
    dialog.wait_for(state="hidden")
    assert fresh(db).get(Evaluator, locked.id).locked_at is not None and messages(db, "account:%") == 20
    page.click(f"form[data-confirm=confirm-reissue-{locked.id}] button[type=submit]")
    with page.expect_navigation():
        dialog.locator("button", has_text="确认：重新开通").click()
    assert f"已重新开通账号 {locked.login}" in page.locator(".flash").first.inner_text()
    found = fresh(db).get(Evaluator, locked.id)
    assert (found.locked_at, found.failed_logins) == (None, 0) and messages(db, "account:%") == 21


# ---- without JavaScript: the confirmation page ----------------------------------------------------


def test_without_javascript_the_button_leads_to_the_confirmation_page(no_js, admin, db, campaign):
    page = no_js
    online = open_online_round(db, campaign)
    cast_ballots(db, online, 2)
    log_in(page, "admin", PASSWORD)
    page.goto(MONITOR)
    assert not page.locator("dialog#confirm-remind").is_visible()

    # 取消,返回: back to the monitor, nothing sent.
    with page.expect_navigation():
        page.click("form[data-confirm=confirm-remind] button[type=submit]")
    assert page.locator("h1").inner_text() == "请确认：提醒尚未评价的评价人"
    facts = page.locator(".confirm-page .confirm-facts").inner_text()
    assert "6 位评价人中已有 2 位投票（参评率 33.3%），还有 4 位未投票" in facts
    assert "将给其中 4 位尚未投票、也未提醒过的评价人各写入一条提醒短信" in facts
    shot(page, "online-remind-confirm-page")
    with page.expect_navigation():
        page.click("text=取消，返回")
    assert page.url.endswith(MONITOR) and messages(db, "online-remind:%") == 0

    # The page's button acts.
    with page.expect_navigation():
        page.click("form[data-confirm=confirm-remind] button[type=submit]")
    with page.expect_navigation():
        page.click(".confirm-page button[type=submit]")
    assert page.url.endswith(MONITOR)
    assert "已为 4 位尚未评价的评价人写入提醒短信" in page.locator(".flash").first.inner_text()
    assert messages(db, "online-remind:%") == 4

    # The close the same way.
    with page.expect_navigation():
        page.click("form[data-confirm=confirm-close] button[type=submit]")
    assert page.locator("h1").inner_text() == "请确认：结束网络评价"
    assert round_status(db, online) is RoundStatus.open
    with page.expect_navigation():
        page.click(".confirm-page button[type=submit]")
    assert round_status(db, online) is RoundStatus.closed
    assert "网络评价已结束，共收到 2 张选票" in page.locator(".flash").first.inner_text()
    assert len(evaluators(db, online)) == 6


def test_without_javascript_a_resend_asks_on_its_page(no_js, admin, app, db, campaign):
    page = no_js
    online = pooled_round(db, campaign, reps=7)
    issue(app, db, online)
    evaluator = pool_of(db, online)[1]
    before = evaluator.password_hash
    log_in(page, "admin", PASSWORD)
    page.goto("/office/online/")
    with page.expect_navigation():
        page.click(f"form[data-confirm=confirm-resend-{evaluator.id}] button[type=submit]")
    assert page.locator("h1").inner_text() == f"请确认：为账号 {evaluator.login} 重发密码"
    assert "现为 0 次，再输错 5 次账号即锁定" in page.locator(".confirm-facts").inner_text()
    assert fresh(db).get(Evaluator, evaluator.id).password_hash == before
    with page.expect_navigation():
        page.click(".confirm-page button[type=submit]")
    assert f"已为账号 {evaluator.login} 生成新密码" in page.locator(".flash").first.inner_text()
    assert fresh(db).get(Evaluator, evaluator.id).password_hash != before and messages(db, "account:%") == 21
