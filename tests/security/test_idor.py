"""Ids in URLs, on SQLite and PostgreSQL: a unit liaison asking for another
unit's pages (supervisor sheet, section list, import report, a window assessment none
of whose entities is the unit's) gets 403, and the office's pages are closed to them; the admin asking for an id of another campaign gets 404 where
the pages work on one campaign; an evaluator reaches nothing of another evaluator (the
ballot is by session only, /e/done shows the own receipt). Nothing is stored."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from scoring import columns as C
from tests.support.ballots import box, candidates, counts, evaluators, form, log_in, marks, open_online_round
from tests.support.citizens import invitations, open_round
from tests.conftest import PASSWORD, SECTIONS_CSV
from tests.security.common import changed, snapshot, staff_login
from tests.support.web import text
from voting.online.models import Ballot, BallotCast, OnlineRound
from voting.components.models import ComponentKind
from voting.lists.models import ObjectImport, RoundKind, Section, Unit
from voting.staff.models import Role
from voting.survey.models import RoundStatus
from voting.core.models import utcnow
from voting.lists import campaigns, sections
from voting.components import components
from voting.schemes import assessments
from voting.staff import users

FORBIDDEN = "您的账号没有访问这个页面的权限。"
NOT_FOUND = "您要找的页面不存在，或已被删除。"


@pytest.fixture
def survey(app, db, campaign):
    return open_round(app, db, campaign)


def refused(client, db, method: str, path: str, status: int, message: str, data: dict | None = None):
    before = snapshot(db)
    response = client.open(path, method=method, data=data or {})
    assert (response.status_code, message in text(response)) == (status, True), (method, path, response.status_code)
    assert changed(before, snapshot(db)) == [], (method, path)
    return response


# ---- a unit liaison ---------------------------------------------------------------------------


def test_a_liaison_reaches_only_the_own_unit(app, db, campaign, admin, survey):
    listed = invitations(db, survey)
    other_section = db.get(Section, listed[0].section_id)  # a unit with a list in the import
    other_unit = other_section.unit
    own_unit = db.scalar(select(Unit).where(Unit.campaign_id == campaign.id, Unit.id != other_unit.id,
                                            Unit.id.not_in(select(Section.unit_id).where(
                                                Section.id.in_([i.section_id for i in listed]))))
                         .order_by(Unit.number).limit(1))
    own_section = db.scalar(select(Section).where(Section.unit_id == own_unit.id).limit(1))
    users.create_user(db, "liaison1", PASSWORD, Role.liaison, unit=own_unit)
    db.commit()
    import_id = db.scalar(select(ObjectImport.id))
    client = app.test_client()
    staff_login(client, "liaison1")

    # The own unit: open.
    assert client.get(f"/office/supervisor/{own_unit.id}").status_code == 200
    assert client.get(f"/office/sections/{own_section.id}/H1").status_code == 200
    # Another unit's: 403, reading or writing.
    refused(client, db, "GET", f"/office/supervisor/{other_unit.id}", 403, FORBIDDEN)
    refused(client, db, "POST", f"/office/supervisor/{other_unit.id}", 403, FORBIDDEN,
            {f"score-{other_section.id}": "4.5"})
    refused(client, db, "GET", f"/office/sections/{other_section.id}/H1", 403, FORBIDDEN)
    refused(client, db, "GET", f"/office/imports/{import_id}", 403, FORBIDDEN)
    # The survey round: only the own unit's sections are counted.
    page = client.get(f"/office/rounds/{survey.id}")
    assert page.status_code == 200 and other_unit.name not in text(page)
    # The office's own pages and actions: 403 whatever the id.
    invitation = listed[0]
    for method, path in [
        ("GET", f"/office/scores/sections/{other_section.id}"), ("GET", f"/office/phone/{invitation.id}"),
        ("POST", f"/office/phone/{invitation.id}/call"), ("POST", f"/office/phone/{invitation.id}/unlock"),
        ("POST", f"/office/rounds/{survey.id}/close"), ("POST", f"/office/rounds/{survey.id}/remind"),
        ("POST", f"/office/rounds/{survey.id}/cancel"),
        ("POST", f"/office/scores/sections/{other_section.id}/decision"),
        ("POST", f"/office/users/{admin.id}/password"), ("POST", f"/office/users/{admin.id}/active"),
        ("GET", "/office/online/monitor"), ("GET", "/office/outbox"),
    ]:
        refused(client, db, method, path, 403, FORBIDDEN)


def test_a_liaison_reaches_only_the_own_units_window_results(app, db, campaign, admin):
    """The window assessments (voting/schemes/unit_views.py): the own unit's entities
    only; another unit's assessment is 403 whatever the period, the office's
    assessment pages and their actions too, and nothing is stored."""
    own_unit, other_unit = db.scalars(select(Unit).where(Unit.campaign_id == campaign.id).order_by(Unit.number).limit(2))
    ours = assessments.create_assessment(db, "本单位的考核", builtin="genhe", with_examples=True, actor="admin")
    theirs = assessments.create_assessment(db, "别的单位的考核", builtin="genhe", with_examples=True, actor="admin")
    for assessment, unit in ((ours, own_unit), (theirs, other_unit)):
        window = next(e for e in assessments.entities(db, assessment) if e.name == "公安局窗口")
        assessments.set_unit(db, assessment, window, unit, "admin")
    users.create_user(db, "liaison1", PASSWORD, Role.liaison, unit=own_unit)
    db.commit()
    client = app.test_client()
    staff_login(client, "liaison1")
    mine = client.get(f"/office/window-results/{ours.id}/periods/2023-03")
    assert mine.status_code == 200 and "公安局窗口" in text(mine) and "市场监管局窗口" not in text(mine)
    assert "别的单位的考核" not in text(client.get("/office/window-results/"))
    theirs_window = next(e for e in assessments.entities(db, theirs) if e.name == "公安局窗口")
    refused(client, db, "GET", f"/office/window-results/{theirs.id}/periods/2023-03", 403, FORBIDDEN)
    refused(client, db, "GET", f"/office/window-results/{theirs.id}/periods/2099-01", 403, FORBIDDEN)
    for method, path in [
        ("GET", f"/office/assessments/{theirs.id}"), ("GET", f"/office/assessments/{ours.id}/periods/2023-03"),
        ("GET", f"/office/assessments/{ours.id}/periods/2023-03/tables.xlsx"),
        ("POST", f"/office/assessments/{theirs.id}/entities/{theirs_window.id}/unit"),
        ("POST", f"/office/assessments/{ours.id}/periods/2023-03/close"),
    ]:
        refused(client, db, method, path, 403, FORBIDDEN, {"unit": str(own_unit.id), "confirmed": "1"})


# ---- the admin and an id of another campaign ---------------------------------------------------


@pytest.fixture
def older(app, db, campaign):
    """The 2020 campaign (the pages work on the latest, 2021) with a round, an entry."""
    created = campaigns.create_campaign(db, 2020)
    sections.apply_sections(db, created, sections.parse_sections(SECTIONS_CSV.read_bytes(), SECTIONS_CSV.name))
    db.commit()
    survey = open_round(app, db, created)
    invitation = invitations(db, survey)[0]
    entry = components.add_entry(db, created, ComponentKind.platform, invitation.section_id,
                                 {"platform": C.HOTLINE, "item": C.CONDUCT, "deduction": 4.0, "role": C.LEAD}, None)
    online = open_online_round(db, created, candidates=3)
    upload = ObjectImport(campaign_id=created.id, round=RoundKind.H1, filename="old.csv", rows_read=0, stored=0,
                          duplicates=0, report={})
    db.add(upload)
    db.commit()
    return {"survey": survey, "invitation": invitation, "section": invitation.section, "unit": invitation.section.unit,
            "entry": entry.id, "evaluator": evaluators(db, online)[0], "import": upload.id}


def test_an_id_of_another_campaign_is_404(app, db, campaign, admin, survey, older):
    # The current campaign's own online round (no evaluators: their logins are unique).
    db.add(OnlineRound(campaign_id=campaign.id, status=RoundStatus.open, seed=7, closes_at=utcnow() + timedelta(days=7),
                       opened_at=utcnow()))
    db.commit()
    client = app.test_client()
    staff_login(client, "admin")
    old = older
    for method, path, message in [
        ("GET", f"/office/rounds/{old['survey'].id}", "没有这个调查轮次"),
        ("POST", f"/office/rounds/{old['survey'].id}/open", "没有这个调查轮次"),
        ("POST", f"/office/rounds/{old['survey'].id}/remind", "没有这个调查轮次"),
        ("POST", f"/office/rounds/{old['survey'].id}/close", "没有这个调查轮次"),
        ("POST", f"/office/rounds/{old['survey'].id}/cancel", "没有这个调查轮次"),
        ("GET", f"/office/supervisor/{old['unit'].id}", NOT_FOUND),
        ("POST", f"/office/supervisor/{old['unit'].id}", NOT_FOUND),
        ("GET", f"/office/sections/{old['section'].id}/H1", NOT_FOUND),
        ("GET", f"/office/imports/{old['import']}", NOT_FOUND),
        ("GET", f"/office/phone/{old['invitation'].id}", NOT_FOUND),
        ("POST", f"/office/phone/{old['invitation'].id}", NOT_FOUND),
        ("POST", f"/office/phone/{old['invitation'].id}/call", NOT_FOUND),
        ("POST", f"/office/phone/{old['invitation'].id}/unlock", NOT_FOUND),
        ("POST", f"/office/components/platform/entries/{old['entry']}/delete", "没有这条记录"),
    ]:
        data = {"choice": "satisfied"} if path.endswith(str(old["invitation"].id)) else {}
        refused(client, db, method, path, 404, message, data)
    # The online round's buttons answer a refusal by a redirect to the page and a flash.
    for action in ("resend", "reissue"):
        refused(client, db, "POST", f"/office/online/evaluators/{old['evaluator'].id}/{action}", 303, "",
                {"confirmed": "1"})
        assert "没有这位评价人" in text(client.get("/office/online/"))


# ---- an evaluator ------------------------------------------------------------------------------


def test_an_evaluator_reaches_nothing_of_another(app, db, campaign):
    online = open_online_round(db, campaign)
    first, second = evaluators(db, online)[:2]
    found = candidates(db, online)
    a, b = app.test_client(), app.test_client()
    log_in(a, first)
    assert a.post("/e/ballot", data=form(marks(found))).status_code == 303
    receipt_a = re.search(r'id="receipt">([^<]+)<', text(a.get("/e/done"))).group(1)

    # B, logged in, has no receipt yet: /e/done shows none (not A's).
    log_in(b, second)
    none = b.get("/e/done")
    assert none.status_code == 404 and "没有回执" in text(none) and receipt_a not in text(none)
    page = b.get("/e/ballot")
    assert page.status_code == 200 and first.login not in text(page) and first.name not in text(page)
    assert f"ballot-draft:{online.id}:{second.id}" in text(page) and f":{first.id}\"" not in text(page)
    # An evaluator id sent with the form is not read: the ballot is B's (the session's).
    sent = {**form(marks(found, offset=4)), "evaluator": str(first.id), "evaluator_id": str(first.id)}
    assert b.post("/e/ballot", data=sent).status_code == 303
    assert counts(db)[0] == 2 and set(db.scalars(select(BallotCast.evaluator_id))) == {first.id, second.id}
    receipt_b = re.search(r'id="receipt">([^<]+)<', text(b.get("/e/done"))).group(1)
    assert receipt_b != receipt_a and receipt_a not in text(b.get("/e/done"))
    box(db, online)
    assert {r for r in db.scalars(select(Ballot.receipt))} == {receipt_a.replace(" ", ""), receipt_b.replace(" ", "")}
    # A third browser with no session: no receipt at all.
    nobody = app.test_client().get("/e/done")
    assert nobody.status_code == 404 and receipt_a not in text(nobody) and receipt_b not in text(nobody)
