"""The citizens' voting pages in a real headless Chromium on a 360×640 phone, with CSRF
on: the SMS link lands on the clean /v, a tap on 满意, the thanks page, the link again
says already voted, no sideways scrolling; the same without JavaScript; code mode."""
from __future__ import annotations

import time

import pytest

from tests.support.browser import PHONE_HEIGHT as HEIGHT
from tests.support.browser import PHONE_WIDTH as WIDTH
from tests.support.browser import fits, new_page, phone, shot
from tests.support.citizens import invitations, link_path, open_round, votes
from voting.survey.models import Channel, Choice, Invitation, InviteMode

pytestmark = pytest.mark.browser

@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


def opened_at(db, invitation: Invitation):
    db.rollback()
    return db.get(Invitation, invitation.id).opened_at


def test_vote_by_link_on_a_phone(browser, live_server, app, db, campaign):
    survey = open_round(app, db, campaign)
    invitation = invitations(db, survey)[0]
    path = link_path(db, invitation)
    page = phone(browser, live_server)
    try:
        response = page.goto(path)
        assert response.status == 200 and page.url == f"{live_server}/v"
        assert path.removeprefix("/v/") not in page.url
        assert page.locator("#section").inner_text() == invitation.section.name
        assert page.locator("#matter").inner_text() == invitation.service_object.matter
        assert page.locator("input[name=choice]:checked").count() == 0
        assert fits(page)
        shot(page, "citizen-vote", widths=(WIDTH,))
        # The beacon (seen.js) marks the invitation opened; the GETs wrote nothing.
        deadline = time.monotonic() + 5
        while opened_at(db, invitation) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert opened_at(db, invitation) is not None and votes(db) == []

        page.locator("label[for=choice-satisfied]").tap()
        assert page.is_checked("#choice-satisfied") and not page.is_checked("#choice-basic")
        with page.expect_navigation():
            page.locator("#vote-form button[type=submit]").tap()
        assert page.url == f"{live_server}/v/thanks" and "感谢您的评价" in page.inner_text("h1")
        assert fits(page)
        [vote] = votes(db)
        assert vote.invitation_id == invitation.id and vote.choice == Choice.satisfied and vote.channel == Channel.link

        again = page.goto(path)
        assert again.status == 409 and "已经评价过了" in page.inner_text("main")
        assert fits(page) and len(votes(db)) == 1
    finally:
        page.context.close()


def test_nothing_is_sent_without_a_choice(browser, live_server, app, db, campaign):
    survey = open_round(app, db, campaign, sections=1, per_section=1)
    page = phone(browser, live_server)
    try:
        page.goto(link_path(db, invitations(db, survey)[0]))
        page.locator("#vote-form button[type=submit]").tap()  # the browser's required check holds it
        page.wait_for_timeout(300)
        assert page.url == f"{live_server}/v" and votes(db) == []
        assert page.evaluate("document.getElementById('choice-satisfied').validity.valueMissing")
    finally:
        page.context.close()


def test_vote_without_javascript(browser, live_server, app, db, campaign):
    survey = open_round(app, db, campaign)
    invitation = invitations(db, survey)[1]
    page = phone(browser, live_server, javascript=False)
    try:
        page.goto(link_path(db, invitation))
        assert page.url == f"{live_server}/v" and fits(page)
        page.click("label[for=choice-unsatisfied]")
        page.fill("#comment", "等候时间太长")
        with page.expect_navigation():
            page.click("#vote-form button[type=submit]")
        assert page.url == f"{live_server}/v/thanks" and "感谢您的评价" in page.inner_text("h1")
        [vote] = votes(db)
        assert (vote.invitation_id, vote.choice, vote.comment) == (invitation.id, Choice.unsatisfied, "等候时间太长")
        assert opened_at(db, invitation) is None  # no script, no beacon: the vote works all the same
        assert page.goto(link_path(db, invitation)).status == 409
    finally:
        page.context.close()


def test_code_mode_on_a_narrow_screen(browser, live_server, app, db, campaign):
    survey = open_round(app, db, campaign, sections=1, per_section=2, mode=InviteMode.code)
    invitation = invitations(db, survey)[0]
    page = new_page(browser, live_server, WIDTH, HEIGHT)
    try:
        page.goto("/c")
        assert fits(page)
        assert page.get_attribute("#code", "autocomplete") == "one-time-code"
        shot(page, "citizen-code", widths=(WIDTH,))
        assert page.get_attribute("#phone_tail", "inputmode") == "numeric"
        page.fill("#code", "ABCDEFGH" if invitation.code != "ABCDEFGH" else "HGFEDCBA")
        page.fill("#phone_tail", invitation.phone[-4:])
        with page.expect_navigation() as wrong:
            page.click("#code-form button[type=submit]")
        assert wrong.value.status == 422 and "评价码或手机号码后四位不正确" in page.inner_text(".alert")
        page.fill("#code", invitation.code.lower())
        page.fill("#phone_tail", invitation.phone[-4:])
        with page.expect_navigation():
            page.click("#code-form button[type=submit]")
        assert page.url == f"{live_server}/v" and page.locator("#matter").inner_text() == invitation.service_object.matter
        page.click("label[for=choice-basic]")
        with page.expect_navigation():
            page.click("#vote-form button[type=submit]")
        assert page.url == f"{live_server}/v/thanks"
        [vote] = votes(db)
        assert (vote.invitation_id, vote.choice, vote.channel) == (invitation.id, Choice.basic, Channel.code)
    finally:
        page.context.close()
