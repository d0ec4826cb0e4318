"""The online ballot in a real headless Chromium on a 360×640 phone, with CSRF on: log
in with the SMS account; the counters in the bar at the bottom of the screen refuse the
11th 满意 or 不满意 as it is tapped (or picked with the keyboard) and say why; the list
of the picks links to their rows; a wrong count is held back before sending; the draft
kept over a reload; a valid ballot sent, the receipt shown and copied by its button,
and the public receipt check saying it is received and, once the round is closed,
counted. The page at 320 px too. Without JavaScript the server refuses 11 满意 and
keeps the choices, and there is no copy button. The whole workflow once more with the account as
it really arrives: issued by the services, handed by the dispatcher to the console
sender, the password read off the review office's 短信发件箱 page; after the ballot a
second login with that account is refused."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from sms.templates import SCRUBBED
from tests.support.ballots import (
    PASSWORD,
    ballots_in,
    candidates,
    counts,
    evaluators,
    fix_candidates,
    open_online_round,
)
from tests.support.browser import PHONE_WIDTH as WIDTH
from tests.support.browser import fits, new_page, phone, shot
from tests.support.browser import log_in as staff_log_in
from tests.conftest import PASSWORD as STAFF_PASSWORD
from tests.support.online_pool import ANY_TIME, csv_of, reps_frame
from voting import sms_sender
from voting.survey.links import wording
from voting.online import ballots
from voting.online.models import Evaluator, OnlineRound
from voting.outbox.models import OutboxMessage
from voting.core.models import utcnow
from voting.online.evaluators import create_round, import_representatives, issue_accounts
from voting.outbox.outbox import dispatch

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


def checked(page, section_id: int) -> str:
    """The value of the row's checked radio."""
    return page.locator(f"input[name=c{section_id}]:checked").get_attribute("value")


def on_screen(page, selector: str) -> bool:
    """Whether the top of the element is on the screen, above the bar at the bottom
    (or, for a part of the bar, the whole of it on the screen)."""
    return page.evaluate(
        """s => {
            const element = document.querySelector(s);
            const box = element.getBoundingClientRect();
            const tally = document.getElementById("ballot-tally");
            if (tally.contains(element)) return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight + 1;
            const bar = tally.getBoundingClientRect();
            return box.top >= 0 && box.top < bar.top && bar.bottom <= window.innerHeight + 1;
        }""", selector)


def picked_list(page, kind: str) -> list[tuple[str, str]]:
    """The list of the picks of `kind`: (link target, text) per item."""
    links = page.locator(f"#picked-{kind} a")
    return [(links.nth(i).get_attribute("href"), links.nth(i).inner_text()) for i in range(links.count())]


def row_text(page, section_id: int) -> str:
    return page.inner_text(f"#candidate-{section_id} legend")


def stored(db) -> dict[int, str]:
    """The marks of the one ballot in (sealed or in the ballot box)."""
    [(_, chosen)] = ballots_in(db) or [("", {})]
    return chosen


def test_a_ballot_on_a_phone(browser, live_server, app, db, campaign):
    online = open_online_round(db, campaign)
    voter = evaluators(db, online)[0]
    found = [c.section_id for c in candidates(db, online)]
    page = phone(browser, live_server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    try:
        log_in(page, live_server, voter.login)
        assert page.locator("input[type=radio]:checked").count() == len(found)
        assert page.locator("input[value=basic]:checked").count() == len(found)
        assert page.is_visible("#ballot-tally") and page.inner_text("#count-satisfied") == "0"
        assert page.get_attribute("#tally-message", "aria-live") == "assertive"
        assert fits(page)
        shot(page, "ballot", widths=(WIDTH,))

        # 10 满意 and 10 不满意: both counters full.
        for sid in found[:10]:
            mark(page, sid, "satisfied")
        for sid in found[11:21]:
            mark(page, sid, "unsatisfied")
        assert page.inner_text("#count-satisfied") == "10" and page.inner_text("#count-unsatisfied") == "10"
        assert "is-done" in page.get_attribute("#tally-satisfied", "class")
        assert "is-done" in page.get_attribute("#tally-unsatisfied", "class")
        assert page.inner_text("#tally-message") == ""

        # The 11th 满意 is refused as it is tapped: the row stays 基本满意, the counter at
        # 10, and the bar (on the screen, over the rows) says why.
        mark(page, found[10], "satisfied")
        assert checked(page, found[10]) == "basic"
        assert page.inner_text("#count-satisfied") == "10"
        assert "is-over" not in page.get_attribute("#tally-satisfied", "class")
        assert page.inner_text("#tally-message") == (
            "满意已选满 10 个：如需改选，请先把另一个选了满意的科室改为基本满意。")
        assert on_screen(page, "#tally-message") and on_screen(page, "#tally-satisfied")
        assert on_screen(page, f"#candidate-{found[10]}")  # the bar does not cover the row tapped
        # The 11th 不满意 too, also from a row that was 满意 (it stays 满意).
        mark(page, found[0], "unsatisfied")
        assert checked(page, found[0]) == "satisfied"
        assert page.inner_text("#count-unsatisfied") == "10" and page.inner_text("#count-satisfied") == "10"
        assert page.inner_text("#tally-message").startswith("不满意已选满 10 个：")
        # With the keyboard: the arrow from 基本满意 to 满意 is refused the same way.
        page.focus(f"#c{found[10]}-basic")
        page.keyboard.press("ArrowLeft")
        assert checked(page, found[10]) == "basic" and page.inner_text("#count-satisfied") == "10"
        assert page.inner_text("#tally-message").startswith("满意已选满 10 个：")
        # A pick that fits clears the message.
        mark(page, found[0], "basic")
        assert page.inner_text("#count-satisfied") == "9" and page.inner_text("#tally-message") == ""

        # 9 满意: the check before sending holds the form back.
        page.locator("#ballot-form button[type=submit]").tap()
        page.wait_for_selector("#ballot-check:not([hidden])")
        assert "“满意”须恰好选 10 个，现在选了 9 个" in page.inner_text("#ballot-check")
        assert page.url == f"{live_server}/e/ballot" and counts(db) == (0, 0, 0)

        # A reload keeps the draft of this tab.
        page.reload()
        assert page.locator("input[value=satisfied]:checked").count() == 9
        assert page.inner_text("#count-satisfied") == "9" and checked(page, found[0]) == "basic"
        mark(page, found[10], "satisfied")
        assert page.inner_text("#count-satisfied") == "10" and page.is_hidden("#ballot-check")

        # The list of the picks, from the bar, in the ballot's order, each linking to its row.
        assert page.is_hidden("#picked") and page.get_attribute("#picked-toggle", "aria-expanded") == "false"
        page.locator("#picked-toggle").tap()
        assert page.is_visible("#picked") and page.get_attribute("#picked-toggle", "aria-expanded") == "true"
        satisfied = found[1:11]
        assert picked_list(page, "satisfied") == [(f"#candidate-{sid}", row_text(page, sid)) for sid in satisfied]
        assert picked_list(page, "unsatisfied") == [
            (f"#candidate-{sid}", row_text(page, sid)) for sid in found[11:21]]
        assert page.inner_text("#picked-satisfied-count") == "10" and fits(page)
        shot(page, "ballot-picked", widths=(WIDTH,))
        # The first 满意 is far up the page: its link goes there, closes the list and puts
        # the focus on the row's choice; the address gets no #candidate-… (history).
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        assert not on_screen(page, f"#candidate-{found[1]}")
        page.locator("#picked-satisfied a").first.tap()
        assert on_screen(page, f"#candidate-{found[1]}") and page.is_hidden("#picked")
        assert page.url == f"{live_server}/e/ballot"
        assert page.evaluate("document.activeElement.id") == f"c{found[1]}-satisfied"
        assert "is-jumped" in page.get_attribute(f"#candidate-{found[1]}", "class")
        # Changed there: the list follows.
        mark(page, found[1], "basic")
        mark(page, found[0], "satisfied")
        page.locator("#picked-toggle").tap()
        assert [href for href, _ in picked_list(page, "satisfied")] == [
            f"#candidate-{sid}" for sid in [found[0], *found[2:11]]]
        # Escape closes it, back to its button.
        page.focus("#picked-satisfied a >> nth=0")
        page.keyboard.press("Escape")
        assert page.is_hidden("#picked") and page.evaluate("document.activeElement.id") == "picked-toggle"

        # At 320 px: nothing wider than the screen, the bar's list included.
        page.set_viewport_size({"width": 320, "height": 568})
        assert fits(page, 320)
        page.locator("#picked-toggle").tap()
        assert fits(page, 320) and on_screen(page, "#picked-toggle")
        shot(page, "ballot-picked-320", widths=(320,))
        page.locator("#picked-toggle").tap()
        page.set_viewport_size({"width": WIDTH, "height": 640})

        with page.expect_navigation():
            page.locator("#ballot-form button[type=submit]").tap()
        assert page.url == f"{live_server}/e/done" and "选票已提交" in page.inner_text("h1")
        receipt = page.inner_text("#receipt")
        assert re.fullmatch(r"(\w{4} ){3}\w{4}", receipt) and fits(page)
        want = {sid: "basic" for sid in found} | {sid: "satisfied" for sid in [found[0], *found[2:11]]} | {
            sid: "unsatisfied" for sid in found[11:21]}
        assert stored(db) == want
        assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('ballot-draft:')).length") == 0

        # The receipt's copy button puts the code on the clipboard and says so.
        assert page.is_visible("#copy-receipt") and page.inner_text("#copy-status") == ""
        page.locator("#copy-receipt").tap()
        page.wait_for_function("document.getElementById('copy-status').textContent.includes('已复制')")
        assert page.evaluate("navigator.clipboard.readText()") == receipt
        shot(page, "ballot-done", widths=(WIDTH, 320))

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


def test_the_copy_button_falls_back_to_selecting_the_code(browser, live_server, app, db, campaign):
    """Where the clipboard API is missing (older in-app browsers), the button copies
    the selected code by the old command, or leaves it selected for the phone's own 复制."""
    online = open_online_round(db, campaign)
    voter = evaluators(db, online)[2]
    found = [c.section_id for c in candidates(db, online)]
    page = phone(browser, live_server)
    try:
        log_in(page, live_server, voter.login)
        for sid in found[:10]:
            mark(page, sid, "satisfied")
        for sid in found[10:20]:
            mark(page, sid, "unsatisfied")
        with page.expect_navigation():
            page.locator("#ballot-form button[type=submit]").tap()
        receipt = page.inner_text("#receipt")
        # No clipboard API, and an old command that refuses: the code is left selected.
        page.evaluate("""() => {
            Object.defineProperty(navigator, "clipboard", { value: undefined, configurable: true });
            document.execCommand = () => false;
        }""")
        page.locator("#copy-receipt").tap()
        assert "已选中回执码" in page.inner_text("#copy-status")
        assert page.evaluate("window.getSelection().toString()") == receipt
        # The old command that works: 已复制.
        page.evaluate("document.execCommand = command => command === 'copy'")
        page.locator("#copy-receipt").tap()
        assert page.inner_text("#copy-status") == "已复制回执码。"
    finally:
        page.context.close()


def test_without_javascript_the_server_checks_the_counts(browser, live_server, app, db, campaign):
    online = open_online_round(db, campaign)
    voter = evaluators(db, online)[1]
    found = [c.section_id for c in candidates(db, online)]
    page = phone(browser, live_server, javascript=False)
    try:
        log_in(page, live_server, voter.login)
        assert page.is_hidden("#ballot-tally") and page.is_hidden("#picked-toggle")  # no bar without the script
        for sid in found[:11]:
            mark(page, sid, "satisfied", javascript=False)
        for sid in found[11:20]:
            mark(page, sid, "unsatisfied", javascript=False)
        with page.expect_navigation() as refused:
            page.click("#ballot-form button[type=submit]")
        assert refused.value.status == 422
        assert "“满意”须恰好选 10 个，现在选了 11 个" in page.inner_text("#ballot-error")
        assert page.locator("input[value=satisfied]:checked").count() == 11  # the choices are kept
        assert counts(db) == (0, 0, 0) and fits(page) and page.is_hidden("#ballot-tally")

        mark(page, found[10], "unsatisfied", javascript=False)
        with page.expect_navigation():
            page.click("#ballot-form button[type=submit]")
        assert page.url == f"{live_server}/e/done"
        assert counts(db) == (1, len(found), 1)
        assert re.fullmatch(r"(\w{4} ){3}\w{4}", page.inner_text("#receipt"))
        assert page.is_hidden("#copy-receipt") and page.is_hidden("#copy-line")  # no copy without the script
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

        # The 11th 满意: the live check refuses it as it is tapped ...
        for sid in found[11:21]:
            mark(page, sid, "unsatisfied")
        for sid in found[:11]:
            mark(page, sid, "satisfied")
        assert page.inner_text("#count-satisfied") == "10" and checked(page, found[10]) == "basic"
        assert "满意已选满 10 个" in page.inner_text("#tally-message")
        # ... and the server refuses 11 when they are sent all the same (set and sent
        # by a script, past the page's checks), keeping the choices.
        with page.expect_navigation() as refused:
            page.evaluate(f"""() => {{
                document.getElementById("c{found[10]}-satisfied").checked = true;
                document.getElementById("ballot-form").submit();
            }}""")
        assert refused.value.status == 422
        assert "“满意”须恰好选 10 个，现在选了 11 个" in page.inner_text("#ballot-error")
        assert page.locator("input[value=satisfied]:checked").count() == 11
        assert counts(db) == (0, 0, 0)
        # The counters show the 11 (not refused: they came back from the server), and
        # refuse a 12th.
        assert page.inner_text("#count-satisfied") == "11"
        assert "is-over" in page.get_attribute("#tally-satisfied", "class")
        mark(page, found[21], "satisfied")
        assert checked(page, found[21]) == "basic" and page.inner_text("#count-satisfied") == "11"

        # A valid ballot: 10 满意, 10 不满意, the rest 基本满意.
        mark(page, found[10], "basic")
        assert page.inner_text("#count-satisfied") == "10" and page.inner_text("#count-unsatisfied") == "10"
        assert page.inner_text("#tally-message") == ""
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
