"""The survey round's irreversible steps in headless Chromium, CSRF on: with
JavaScript a dialog says what the step will do and nothing happens until it is
confirmed there; without JavaScript the button leads to a confirmation page that says
the same, whose own button acts."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.support.browser import TIMEOUT_MS, log_in, shot
from tests.conftest import PASSWORD
from tests.survey.test_rounds import CLOSES, NOW, PRICE, TOKENS, WORDING, upload
from voting.survey.models import Invitation, RoundStatus, SurveyRound
from voting.outbox.models import OutboxMessage, OutboxStatus
from voting.lists.models import RoundKind
from voting.survey import rounds

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


def status(db, survey_id: int) -> RoundStatus:
    """The round's status now, the test's read transaction ended (on SQLite an open one
    would keep the app's job from writing)."""
    db.rollback()
    found = db.scalar(select(SurveyRound.status).where(SurveyRound.id == survey_id))
    db.rollback()
    return found


def test_the_start_asks_in_a_dialog_and_sends_only_once_confirmed(page, admin, db, campaign):
    upload(db, campaign, PRICE, 8)
    survey = rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 5, now=NOW)
    db.commit()
    log_in(page, "admin", PASSWORD)
    page.goto(f"/office/rounds/{survey.id}")
    page.click("text=开始发送：抽样并发出邀请短信")
    dialog = page.locator("#confirm-open")
    assert dialog.is_visible()
    text = dialog.inner_text()
    assert "向 1 个科室的服务对象写入 5 条邀请短信" in text and "还有 362 个参评科室" in text
    shot(page, "round-open-dialog")
    # 取消 closes it; nothing was sent.
    dialog.locator("button:has-text('取消')").click()
    assert not dialog.is_visible()
    assert status(db, survey.id) is RoundStatus.draft
    # Confirming without ticking the consequence: the browser keeps the dialog open.
    page.click("text=开始发送：抽样并发出邀请短信")
    dialog.locator("button:has-text('确认')").click()
    assert dialog.is_visible() and status(db, survey.id) is RoundStatus.draft
    dialog.locator("input[name=acknowledged]").check()
    with page.expect_navigation():
        dialog.locator("button:has-text('确认')").click()
    assert "/office/jobs/" in page.url
    assert status(db, survey.id) is RoundStatus.open, page.locator("main").inner_text()
    assert db.scalar(select(func.count()).select_from(Invitation)) == 5


def test_without_javascript_the_cancel_leads_to_a_confirmation_page(browser, live_server, admin, db, campaign):
    upload(db, campaign, PRICE, 8)
    survey = rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 5, now=NOW)
    rounds.open_round(db, campaign, survey, TOKENS, WORDING)
    db.commit()
    context = browser.new_context(base_url=live_server, java_script_enabled=False, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        log_in(page, "admin", PASSWORD)
        page.goto(f"/office/rounds/{survey.id}")
        assert not page.locator("#confirm-cancel").is_visible()  # the dialog stays shut without a script
        with page.expect_navigation():
            page.click("form[data-confirm=confirm-cancel] button")
        assert page.url.endswith(f"/office/rounds/{survey.id}/cancel")
        body = page.locator("main").inner_text()
        assert "请确认：取消 H1 轮调查" in body and "尚未发出的 5 条短信将作废" in body
        assert status(db, survey.id) is RoundStatus.open
        shot(page, "round-cancel-page")
        page.locator("input[name=acknowledged]").check()
        with page.expect_navigation():
            page.click("main form button[type=submit]")
        assert status(db, survey.id) is RoundStatus.cancelled
        assert "本轮调查已取消" in page.locator("main").inner_text()
        assert {m.status for m in db.scalars(select(OutboxMessage))} == {OutboxStatus.void}
    finally:
        context.close()
