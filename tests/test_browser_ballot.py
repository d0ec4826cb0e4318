"""The online ballot in a real headless Chromium on a 360×640 phone, with CSRF on: log
in with the SMS account, 11 满意 held back by the live counters, the draft kept over a
reload, a valid ballot sent, the receipt shown, and the public receipt check saying it
is received and, once the round is closed, counted. Without JavaScript the server
refuses 11 满意 and keeps the choices."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from tests.ballots import PASSWORD, candidates, counts, evaluators, open_online_round
from tests.browser import TIMEOUT_MS, shot
from voting.models import BallotMark, OnlineRound, RoundStatus, utcnow

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 360, 640


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


def phone(browser, base_url: str, javascript: bool = True):
    """A touch phone: a fresh context (no cookies) at 360×640."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": WIDTH, "height": HEIGHT}, locale="zh-CN",
        is_mobile=True, has_touch=True, java_script_enabled=javascript,
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def log_in(page, live_server: str, login: str) -> None:
    page.goto("/e/login")
    page.fill("#login", login.lower())
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#evaluator-login button[type=submit]")
    assert page.url == f"{live_server}/e/ballot"


def mark(page, section_id: int, choice: str, javascript: bool = True) -> None:
    label = page.locator(f"label[for=c{section_id}-{choice}]")
    if javascript:
        label.tap()
    else:
        label.click()


def stored(db) -> dict[int, str]:  # noqa: ANN001
    db.rollback()
    return {m.section_id: m.choice.value for m in db.scalars(select(BallotMark))}


def test_a_ballot_on_a_phone(browser, live_server, app, db, campaign):
    online = open_online_round(db, campaign)
    voter = evaluators(db, online)[0]
    found = [c.section_id for c in candidates(db, online)]
    page = phone(browser, live_server)
    try:
        log_in(page, live_server, voter.login)
        assert page.locator("input[type=radio]:checked").count() == len(found)
        assert page.locator("input[value=basic]:checked").count() == len(found)
        assert page.is_visible("#ballot-tally") and page.inner_text("#count-satisfied") == "0"
        assert fits(page)
        shot(page, "ballot", widths=(WIDTH,))

        # 11 满意 and 10 不满意: the counter says so and the form is not sent.
        for sid in found[:11]:
            mark(page, sid, "satisfied")
        for sid in found[11:21]:
            mark(page, sid, "unsatisfied")
        assert page.inner_text("#count-satisfied") == "11" and page.inner_text("#count-unsatisfied") == "10"
        assert "is-over" in page.get_attribute("#tally-satisfied", "class")
        assert "is-done" in page.get_attribute("#tally-unsatisfied", "class")
        page.locator("#ballot-form button[type=submit]").tap()
        page.wait_for_selector("#ballot-check:not([hidden])")
        assert "“满意”须恰好选 10 个,现在选了 11 个" in page.inner_text("#ballot-check")
        assert page.url == f"{live_server}/e/ballot" and counts(db) == (0, 0, 0)

        # A reload keeps the draft of this tab.
        page.reload()
        assert page.locator("input[value=satisfied]:checked").count() == 11
        assert page.inner_text("#count-satisfied") == "11"

        mark(page, found[10], "basic")
        assert page.inner_text("#count-satisfied") == "10" and page.is_hidden("#ballot-check")
        with page.expect_navigation():
            page.locator("#ballot-form button[type=submit]").tap()
        assert page.url == f"{live_server}/e/done" and "选票已提交" in page.inner_text("h1")
        receipt = page.inner_text("#receipt")
        assert re.fullmatch(r"(\w{4} ){3}\w{4}", receipt) and fits(page)
        shot(page, "ballot-done", widths=(WIDTH,))
        want = {sid: "basic" for sid in found} | {sid: "satisfied" for sid in found[:10]} | {
            sid: "unsatisfied" for sid in found[11:21]}
        assert stored(db) == want
        assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('ballot-draft:')).length") == 0

        # The public check, as typed.
        page.goto("/receipt")
        page.fill("#code", receipt.replace(" ", "").lower())
        with page.expect_navigation():
            page.click("#receipt-form button[type=submit]")
        assert "已收到" in page.inner_text("#receipt-found") and fits(page)
        db.execute(update(OnlineRound).where(OnlineRound.id == online.id).values(status=RoundStatus.closed, closed_at=utcnow()))
        db.commit()
        page.fill("#code", receipt)
        with page.expect_navigation():
            page.click("#receipt-form button[type=submit]")
        assert "已计入" in page.inner_text("#receipt-found")
        shot(page, "receipt", widths=(WIDTH,))

        # The browser kept only the receipt: the ballot page sends to the login.
        page.goto("/e/ballot")
        assert page.url == f"{live_server}/e/login"
    finally:
        page.context.close()


def test_without_javascript_the_server_checks_the_counts(browser, live_server, app, db, campaign):
    online = open_online_round(db, campaign)
    voter = evaluators(db, online)[1]
    found = [c.section_id for c in candidates(db, online)]
    page = phone(browser, live_server, javascript=False)
    try:
        log_in(page, live_server, voter.login)
        assert page.is_hidden("#ballot-tally")  # no counters without the script
        for sid in found[:11]:
            mark(page, sid, "satisfied", javascript=False)
        for sid in found[11:20]:
            mark(page, sid, "unsatisfied", javascript=False)
        with page.expect_navigation() as refused:
            page.click("#ballot-form button[type=submit]")
        assert refused.value.status == 422
        assert "“满意”须恰好选 10 个,现在选了 11 个" in page.inner_text("#ballot-error")
        assert page.locator("input[value=satisfied]:checked").count() == 11  # the choices are kept
        assert counts(db) == (0, 0, 0) and fits(page)

        mark(page, found[10], "unsatisfied", javascript=False)
        with page.expect_navigation():
            page.click("#ballot-form button[type=submit]")
        assert page.url == f"{live_server}/e/done"
        assert counts(db) == (1, len(found), 1)
    finally:
        page.context.close()
