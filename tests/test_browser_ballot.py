"""The online ballot in a real headless Chromium on a 360×640 phone, with CSRF on: log
in with the SMS account, 11 满意 held back by the live counters, the draft kept over a
reload, a valid ballot sent, the receipt shown, and the public receipt check saying it
is received and, once the round is closed, counted. Without JavaScript the server
refuses 11 满意 and keeps the choices. The whole workflow once more with the account as
it really arrives: issued by the services, handed by the dispatcher to the console
sender, the password read off the review office's 短信发件箱 page; after the ballot a
second login with that account is refused."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from sms.templates import SCRUBBED
from tests.ballots import (
    PASSWORD,
    ballots_in,
    candidates,
    counts,
    evaluators,
    fix_candidates,
    open_online_round,
)
from tests.browser import PHONE_WIDTH as WIDTH
from tests.browser import fits, new_page, phone, shot
from tests.browser import log_in as staff_log_in
from tests.conftest import PASSWORD as STAFF_PASSWORD
from tests.online_pool import ANY_TIME, csv_of, reps_frame
from voting import sms_sender
from voting.links import wording
from voting.services import ballots
from voting.models import (
    Evaluator,
    OnlineRound,
    OutboxMessage,
    utcnow,
)
from voting.services.evaluators import (
    create_round,
    import_representatives,
    issue_accounts,
)
from voting.services.outbox import dispatch

pytestmark = pytest.mark.browser

@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


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
    """The marks of the one ballot in (sealed or in the ballot box)."""
    [(_, chosen)] = ballots_in(db) or [("", {})]
    return chosen


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
        db.rollback()
        ballots.close(db, db.get(OnlineRound, online.id), actor="test")  # the sealed ballot goes into the box
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


# The account SMS as the console sender "delivered" it (sms/templates.py ONLINE_ACCOUNT).
ACCOUNT_SMS = re.compile(r"(\S+/e/login) 账号 ([2-9A-Z]{8}) 密码 ([2-9A-Z]{10})")


def test_the_workflow_with_the_password_from_the_console_outbox(browser, live_server, app, db, campaign, admin):
    # The office's part, through the real services: the round over 30 fixed candidates,
    # two representatives, their accounts issued (the SMS written to the outbox).
    fix_candidates(db, campaign)
    db.commit()
    online = create_round(db, campaign, utcnow() + timedelta(days=7), seed=3)
    import_representatives(db, online, csv_of(reps_frame(2)), "reps.csv")
    db.commit()
    assert issue_accounts(db, online, wording(app, live_server)) == 2
    db.commit()
    voter = evaluators(db, online)[0]
    found = [c.section_id for c in candidates(db, online)]
    assert len(found) == 30

    # The dispatcher hands the SMS to the app's own console sender, as the demo's worker does.
    assert dispatch(app.extensions["pingyi.sessions"], sms_sender(app), "w1", ANY_TIME).sent == 2

    # The review office reads what the console "delivered" on the 短信发件箱 page.
    office = new_page(browser, live_server)
    try:
        staff_log_in(office, "admin", STAFF_PASSWORD)
        office.goto("/office/outbox")
        row = office.locator("#console-messages tbody tr", has_text=f"账号 {voter.login}")
        assert row.count() == 1
        assert "****" in row.locator("td").nth(1).inner_text() and voter.phone not in office.content()
        link, login, password = ACCOUNT_SMS.search(row.locator("td").nth(2).inner_text()).groups()
    finally:
        office.context.close()
    assert link == f"{live_server}/e/login" and login == voter.login
    # The outbox row itself no longer holds the password: only the console's copy does.
    db.expire_all()
    sent = db.get(OutboxMessage, db.get(Evaluator, voter.id).message_id)
    assert password not in sent.text and sent.params["password"] == SCRUBBED

    page = phone(browser, live_server)
    try:
        # The link and the account from the SMS, typed as a phone keyboard gives them.
        page.goto(link)
        page.fill("#login", login.lower())
        page.fill("#password", password.lower())
        with page.expect_navigation():
            page.click("#evaluator-login button[type=submit]")
        assert page.url == f"{live_server}/e/ballot"
        assert page.locator("input[value=basic]:checked").count() == len(found)

        # 11 满意: the live check holds the form back ...
        for sid in found[:11]:
            mark(page, sid, "satisfied")
        for sid in found[11:21]:
            mark(page, sid, "unsatisfied")
        assert page.inner_text("#count-satisfied") == "11"
        page.locator("#ballot-form button[type=submit]").tap()
        page.wait_for_selector("#ballot-check:not([hidden])")
        assert "“满意”须恰好选 10 个,现在选了 11 个" in page.inner_text("#ballot-check")
        assert page.url == f"{live_server}/e/ballot" and counts(db) == (0, 0, 0)
        # ... and the server refuses it when it is sent all the same (form.submit()
        # skips the page's check), keeping the choices.
        with page.expect_navigation() as refused:
            page.evaluate("document.getElementById('ballot-form').submit()")
        assert refused.value.status == 422
        assert "“满意”须恰好选 10 个,现在选了 11 个" in page.inner_text("#ballot-error")
        assert page.locator("input[value=satisfied]:checked").count() == 11
        assert counts(db) == (0, 0, 0)

        # A valid ballot: 10 满意, 10 不满意, the rest 基本满意.
        mark(page, found[10], "basic")
        assert page.inner_text("#count-satisfied") == "10" and page.inner_text("#count-unsatisfied") == "10"
        with page.expect_navigation():
            page.locator("#ballot-form button[type=submit]").tap()
        assert page.url == f"{live_server}/e/done" and "选票已提交" in page.inner_text("h1")
        receipt = page.inner_text("#receipt")
        assert re.fullmatch(r"(\w{4} ){3}\w{4}", receipt)
        assert counts(db) == (1, len(found), 1)
        assert [r for r, _ in ballots_in(db)] == [receipt.replace(" ", "")]
        want = {sid: "basic" for sid in found} | {sid: "satisfied" for sid in found[:10]} | {
            sid: "unsatisfied" for sid in found[11:21]}
        assert stored(db) == want
    finally:
        page.context.close()

    # A second login with the same account, from a fresh phone: refused, nothing opened.
    again = phone(browser, live_server)
    try:
        again.goto(link)
        again.fill("#login", login)
        again.fill("#password", password)
        with again.expect_navigation() as second:
            again.click("#evaluator-login button[type=submit]")
        assert second.value.status == 409
        assert again.url == f"{live_server}/e/login"
        assert "您的选票已经提交" in again.inner_text("main")
        again.goto("/e/ballot")
        assert again.url == f"{live_server}/e/login"
        assert counts(db) == (1, len(found), 1)
    finally:
        again.context.close()
