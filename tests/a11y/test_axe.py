"""Every public page passes axe-core at WCAG 2.1 AA (tags wcag2a, wcag2aa, wcag21a,
wcag21aa) with no violation, on a touch phone 320 and 360 pixels wide with JavaScript
on, CSRF on, and none scrolls sideways (reflow, WCAG 1.4.10; tests/a11y/axe.py):

- the landing page, the 404 page, the citizens' error page (no link opened);
- the citizen's vote by link (the vote, the thanks, a used, an expired and a closed
  round's link) and by code (the code page, a wrong code, the vote);
- the QR rating pages: the form, with a 差评 chosen, refused (no category), the phone's
  step, a wrong SMS code, the thanks, a stopped code, the verdict on a closed case;
- the evaluator's login (and a wrong password), the ballot (a refused pick with the
  bar's list of the picks open, the count check holding the form), the receipt, the
  receipt check (found, malformed), an account already used; the published results.

Each test walks one flow in one app and one browser context and checks each page as it
is reached; a failure lists every violation of every page (id, impact, help, the
failing elements with their HTML and what axe says to fix). With PINGYI_SCREENSHOTS
set, each page checked is saved there too (a11y-<page>-<width>.png).
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sms.templates import VERIFICATION_CODE
from tests.a11y.axe import WIDTHS, Axe, axe_source, phone_page
from tests.ratings.support import places
from tests.support.ballots import PASSWORD, candidates, evaluators, open_online_round
from tests.support.citizens import invitations, link_path, open_round
from voting.core.models import utcnow
from voting.lists.models import Section, Unit
from voting.online.models import OnlineRound
from voting.outbox.models import OutboxMessage
from voting.ratings import cases, codes, followups
from voting.ratings.models import FollowupCase
from voting.survey import rounds
from voting.survey.links import link_tokens
from voting.survey.models import InviteMode, RoundStatus

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("width", WIDTHS)]


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture(scope="session")
def source() -> str:
    return axe_source()


@pytest.fixture
def phone(browser, live_server, width):
    page = phone_page(browser, live_server, width)
    yield page
    page.context.close()


@pytest.fixture
def axe(source, width) -> Axe:
    return Axe(source, width)


def opened(page, path: str, status: int = 200):
    response = page.goto(path)
    assert response.status == status, f"{path}: {response.status}, not {status}"
    return response


def submitted(page, selector: str, status: int = 200) -> None:
    """Click `selector` and wait for the page the form leads to."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    assert navigation.value.status == status, f"{page.url}: {navigation.value.status}, not {status}"


def test_landing_and_error_pages(phone, axe):
    opened(phone, "/")
    axe.check(phone, "landing page")
    opened(phone, "/no-such-page", 404)
    axe.check(phone, "404 page")
    opened(phone, "/v", 400)  # no invitation in the session: the citizens' own error page
    axe.check(phone, "citizen page without a link")
    axe.assert_clean()


def test_vote_by_link(phone, axe, app, db, campaign):
    survey = open_round(app, db, campaign, sections=1, per_section=3)
    first, second, third = invitations(db, survey)
    opened(phone, link_path(db, first))
    axe.check(phone, "vote page")
    phone.click("label[for=choice-satisfied]")
    submitted(phone, "#vote-form button[type=submit]")
    axe.check(phone, "thanks")
    opened(phone, link_path(db, first), 409)
    axe.check(phone, "used link")

    token, _ = link_tokens(app).issue(second.id, second.round_id, utcnow() - timedelta(minutes=1), nonce=second.nonce)
    opened(phone, f"/v/{token}", 410)
    axe.check(phone, "expired link")

    rounds.close_round(db, survey)
    db.commit()
    opened(phone, link_path(db, third), 410)
    axe.check(phone, "closed round's link")
    axe.assert_clean()


def test_vote_by_code(phone, axe, app, db, campaign):
    survey = open_round(app, db, campaign, sections=1, per_section=1, mode=InviteMode.code)
    [invitation] = invitations(db, survey)
    opened(phone, "/c")
    axe.check(phone, "code page")
    phone.fill("#code", "ABCDEFGH" if invitation.code != "ABCDEFGH" else "HGFEDCBA")
    phone.fill("#phone_tail", invitation.phone[-4:])
    submitted(phone, "#code-form button[type=submit]", 422)
    axe.check(phone, "wrong code")
    phone.fill("#code", invitation.code)
    phone.fill("#phone_tail", invitation.phone[-4:])
    submitted(phone, "#code-form button[type=submit]")
    axe.check(phone, "vote page by code")
    axe.assert_clean()


def sent_code(db) -> str:
    db.rollback()
    db.expire_all()
    return db.scalars(select(OutboxMessage).where(OutboxMessage.template == VERIFICATION_CODE)
                      .order_by(OutboxMessage.id.desc())).first().params["code"]


def test_rating_pages(phone, axe, app, db):
    section, _ = places(db)
    tokens = codes.rating_tokens(app)
    stopped = codes.issue(db, actor="admin", section_id=section.id)  # a poster's code, then stopped
    db.commit()
    stopped_path = f"/r/{codes.token_for(stopped, tokens)}"
    codes.revoke(db, stopped.id, actor="admin", reason="海报损坏")
    spot = codes.issue(db, actor="admin", section_id=section.id)  # the new poster's
    db.commit()

    opened(phone, f"/r/{codes.token_for(spot, tokens)}")
    axe.check(phone, "rating form")
    phone.click("label[for=level-1]")  # a 差评: the categories shown
    assert phone.is_visible("#rate-categories")
    axe.check(phone, "rating form with a 差评 chosen")
    submitted(phone, "#rate-form button[type=submit]", 400)  # no category: the form again, with why
    axe.check(phone, "rating form refused")
    phone.click("label[for=category-attitude]")
    phone.fill("#phone", "13812345678")
    submitted(phone, "#rate-form button[type=submit]")
    axe.check(phone, "phone step")
    code = sent_code(db)
    phone.fill("#code", f"{(int(code) + 1) % 10 ** 6:06d}")
    submitted(phone, "#confirm-form button[value=confirm]", 400)
    axe.check(phone, "wrong SMS code")
    phone.fill("#code", code)
    submitted(phone, "#confirm-form button[value=confirm]")
    axe.check(phone, "thanks after a 差评")

    opened(phone, stopped_path, 410)
    axe.check(phone, "stopped code")

    # The 差评's case called back and closed: the citizen's verdict by the SMS's link.
    case = db.scalars(select(FollowupCase)).one()
    now = utcnow()
    followups.record_callback(db, case.id, actor="admin", finding="已回访。", now=now)
    settings = cases.VerdictSettings(address="https://pingyi.example.cn/r/case/")
    verdicts = cases.verdict_tokens(app)
    case, asked = cases.close_case(db, case.id, actor="admin", now=now, settings=settings, tokens=verdicts)
    db.commit()
    assert asked
    opened(phone, f"/r/case/{verdicts.sign(case)}")
    axe.check(phone, "verdict question")
    submitted(phone, "#verdict-form button[value=satisfied]")
    axe.check(phone, "verdict recorded")
    axe.assert_clean()


def test_online_pages(phone, axe, app, db, campaign):
    online = open_online_round(db, campaign)
    voter = evaluators(db, online)[0]
    found = [c.section_id for c in candidates(db, online)]

    opened(phone, "/e/login")
    axe.check(phone, "evaluator login")
    phone.fill("#login", voter.login)
    phone.fill("#password", "WRONGPASS2")
    submitted(phone, "#evaluator-login button[type=submit]", 401)
    axe.check(phone, "wrong password")
    phone.fill("#login", voter.login)
    phone.fill("#password", PASSWORD)
    submitted(phone, "#evaluator-login button[type=submit]")
    assert phone.url.endswith("/e/ballot")
    axe.check(phone, "ballot")

    for sid in found[:10]:
        phone.click(f"label[for=c{sid}-satisfied]")
    for sid in found[10:20]:
        phone.click(f"label[for=c{sid}-unsatisfied]")
    phone.click(f"label[for=c{found[20]}-satisfied]")  # the 11th: refused, the bar says why
    assert phone.inner_text("#tally-message") != ""
    phone.click("#picked-toggle")
    axe.check(phone, "ballot with a refused pick and the list of the picks open")
    phone.click("#picked-toggle")
    phone.click(f"label[for=c{found[0]}-basic]")  # 9 满意: the check before sending holds the form
    phone.click("#ballot-form button[type=submit]")
    phone.wait_for_selector("#ballot-check:not([hidden])")
    axe.check(phone, "ballot held back by the count check")
    phone.click(f"label[for=c{found[0]}-satisfied]")
    submitted(phone, "#ballot-form button[type=submit]")
    assert phone.url.endswith("/e/done")
    axe.check(phone, "ballot done")
    receipt = phone.inner_text("#receipt")

    opened(phone, "/receipt")
    axe.check(phone, "receipt check")
    phone.fill("#code", receipt)
    submitted(phone, "#receipt-form button[type=submit]")
    axe.check(phone, "receipt found")
    phone.fill("#code", "XXXX")
    submitted(phone, "#receipt-form button[type=submit]", 422)
    axe.check(phone, "receipt code malformed")

    opened(phone, "/e/login")
    phone.fill("#login", voter.login)
    phone.fill("#password", PASSWORD)
    submitted(phone, "#evaluator-login button[type=submit]", 409)
    axe.check(phone, "account already used")

    # The round closed and its lists published (the copy the public page shows; the
    # office's publishing itself is tests/online/test_online_monitor.py's).
    names = db.execute(select(Unit.name, Section.name).join(Section.unit).where(Unit.campaign_id == campaign.id)
                       .order_by(Unit.number, Section.number).limit(15)).all()
    pairs = [[unit, section] for unit, section in names]
    db.execute(update(OnlineRound).where(OnlineRound.id == online.id).values(
        status=RoundStatus.closed, published_at=utcnow(),
        published={"satisfied": pairs[:10], "unsatisfied": pairs[10:], "most_unsatisfied": []}))
    db.commit()
    opened(phone, f"/results/{campaign.year}")
    assert "满意单位（10 个）" in phone.inner_text("main")
    axe.check(phone, "published results")
    axe.assert_clean()
