"""电话调查 (docs/rules.md §4): operators list the unanswered invitations of open rounds
(numbers masked), press "call" to see one number, and record the answer with channel
phone; on SQLite and PostgreSQL."""
from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from sms.phones import mask_phone
from tests.conftest import PASSWORD, login
from tests.survey.test_sms_inbound import PLANNING, REFORM, invitation_of, open_survey, votes
from voting.survey.models import CallAttempt, CallOutcome, Channel, Choice, Invitation, SurveyRound
from voting.outbox.models import OutboxMessage, OutboxStatus
from voting.staff.models import Role, User
from voting.lists.models import Unit
from voting.core.models import utcnow
from voting.survey import rounds
from voting.staff import users
from voting.survey.votes import cast_vote
from tests.support.web import text

PRICES = ("县经信局", "投资规划科")
A, B, C = "13812345678", "13987654321", "15011112222"


def full_numbers(html: str) -> set[str]:
    """Every unmasked 11-digit mobile number in a page."""
    return set(re.findall(r"(?<!\d)1[3-9]\d{9}(?!\d)", html))


def listed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'action="/office/phone/(\d+)/call"', html)]


@pytest.fixture
def survey(app, db, campaign):
    """An open round: two invitations of 县发改局, one of another unit."""
    prices = db.scalar(select(Unit).where(Unit.name == PRICES[0]))
    assert prices is not None and any(s.name == PRICES[1] for s in prices.sections)
    return open_survey(app, db, campaign, [(PLANNING, "张三", A), (REFORM, "李四", B), (PRICES, "王五", C)])


@pytest.fixture
def operator(db, campaign) -> User:
    user = users.create_user(db, "operator", PASSWORD, Role.operator)
    db.commit()
    return user


@pytest.fixture
def operator_client(client, operator):
    assert login(client, "operator").status_code == 302
    return client


# ---- the list ----------------------------------------------------------------------------

def test_the_list_shows_unanswered_invitations_with_masked_numbers(db, survey, operator_client):
    response = operator_client.get("/office/phone/")
    html = text(response)
    assert response.status_code == 200
    assert full_numbers(html) == set()
    for number in (A, B, C):
        assert mask_phone(number) in html
    for word in ("县发改局", "发展规划综合科", "经济体制综合改革科", PRICES[1], "张三", "李四", "王五", "发展规划综合科业务办理"):
        assert word in html
    assert sorted(listed_ids(html)) == sorted(db.scalars(select(Invitation.id)).all())
    assert "共 <b>3</b> 份" in html


def test_the_list_filters_by_unit_and_leaves_out_answered_and_closed(app, db, campaign, survey, operator_client):
    prices = db.scalar(select(Unit).where(Unit.name == PRICES[0]))
    html = text(operator_client.get(f"/office/phone/?unit={prices.id}"))
    assert listed_ids(html) == [invitation_of(db, C, PRICES).id]
    assert "张三" not in html and "王五" in html
    planning = invitation_of(db, A, PLANNING)
    cast_vote(db, planning.id, Choice.satisfied, Channel.sms)
    db.commit()
    html = text(operator_client.get("/office/phone/"))
    assert planning.id not in listed_ids(html) and len(listed_ids(html)) == 2
    rounds.close_round(db, survey)
    db.commit()
    html = text(operator_client.get("/office/phone/"))
    assert listed_ids(html) == [] and "没有待电话调查的邀请" in html


def test_the_list_pages_50_at_a_time(app, db, campaign, operator_client):
    open_survey(app, db, campaign, [(PLANNING, f"对象{i}", f"136{i:08d}") for i in range(60)], size=60)
    invited = sorted(db.scalars(select(Invitation.id)).all())
    assert len(invited) == 60
    first = text(operator_client.get("/office/phone/"))
    second = text(operator_client.get("/office/phone/?page=2"))
    assert listed_ids(first) == invited[:50] and listed_ids(second) == invited[50:]
    assert "第 1 / 2 页" in first and "page=2" in first and "第 2 / 2 页" in second
    assert full_numbers(first + second) == set()
    assert listed_ids(text(operator_client.get("/office/phone/?page=0"))) == invited[:50]
    assert listed_ids(text(operator_client.get("/office/phone/?page=3"))) == []


# ---- call, then answer ---------------------------------------------------------------------

def test_the_full_number_shows_only_after_the_call_post(app, db, survey, operator_client, caplog):
    planning, reform = invitation_of(db, A, PLANNING), invitation_of(db, B, REFORM)
    page = text(operator_client.get(f"/office/phone/{planning.id}"))
    assert A not in page and mask_phone(A) in page and "张三" in page and "发展规划综合科业务办理" in page
    with caplog.at_level(logging.INFO, logger="voting.survey.phone_views"):
        response = operator_client.post(f"/office/phone/{planning.id}/call")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/office/phone/{planning.id}")
    assert any(str(planning.id) in r.getMessage() for r in caplog.records)
    assert all(A not in r.getMessage() for r in caplog.records)
    shown = operator_client.get(f"/office/phone/{planning.id}")
    page = text(shown)
    assert full_numbers(page) == {A} and f'href="tel:{A}"' in page
    assert shown.headers["Cache-Control"] == "no-store"
    # Only that invitation, only on its page, only for this operator's session.
    assert full_numbers(text(operator_client.get(f"/office/phone/{reform.id}"))) == set()
    assert full_numbers(text(operator_client.get("/office/phone/"))) == set()
    other = app.test_client()
    users.create_user(db, "operator2", PASSWORD, Role.operator)
    db.commit()
    login(other, "operator2")
    assert full_numbers(text(other.get(f"/office/phone/{planning.id}"))) == set()
    # The reveal is no GET: a GET of the call address is refused.
    assert other.get(f"/office/phone/{reform.id}/call").status_code == 405
    assert full_numbers(text(other.get(f"/office/phone/{reform.id}"))) == set()


def test_the_answer_is_recorded_with_channel_phone_and_the_operator(db, survey, operator, operator_client):
    planning = invitation_of(db, A, PLANNING)
    operator_client.post(f"/office/phone/{planning.id}/call")
    response = operator_client.post(f"/office/phone/{planning.id}", data={"choice": "basic"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/office/phone/")
    [vote] = votes(db)
    assert (vote.invitation_id, vote.choice, vote.channel, vote.operator_id) == (
        planning.id, Choice.basic, Channel.phone, operator.id)
    html = text(operator_client.get("/office/phone/"))
    assert "已记录 县发改局 发展规划综合科" in html and planning.id not in listed_ids(html)
    # Once answered the number is masked again, and no form is offered.
    page = text(operator_client.get(f"/office/phone/{planning.id}"))
    assert full_numbers(page) == set() and "已经有评价" in page and 'name="choice"' not in page
    # A second answer: 409, still one vote.
    again = operator_client.post(f"/office/phone/{planning.id}", data={"choice": "unsatisfied"})
    assert again.status_code == 409 and "已经评价过了" in text(again)
    assert operator_client.post(f"/office/phone/{planning.id}/call").status_code == 409
    assert [(v.choice, v.operator_id) for v in votes(db)] == [(Choice.basic, operator.id)]


@pytest.mark.parametrize("data", [{}, {"choice": ""}, {"choice": "very"}])
def test_an_answer_without_a_valid_choice_is_422_and_stores_nothing(db, survey, operator_client, data):
    planning = invitation_of(db, A, PLANNING)
    response = operator_client.post(f"/office/phone/{planning.id}", data=data)
    assert response.status_code == 422 and 'name="choice"' in text(response)
    assert votes(db) == []


def test_no_answer_records_nothing(db, survey, operator_client):
    planning = invitation_of(db, A, PLANNING)
    page = text(operator_client.get(f"/office/phone/{planning.id}"))
    assert 'id="no-answer"' in page and 'href="/office/phone/"' in page and 'id="call-outcome"' in page
    assert votes(db) == [] and planning.id in listed_ids(text(operator_client.get("/office/phone/")))


def test_a_closed_round_takes_no_phone_answer(db, survey, admin_client):
    planning = invitation_of(db, A, PLANNING)
    db.get(SurveyRound, survey.id).closes_at = utcnow() - timedelta(minutes=1)
    db.commit()
    response = admin_client.post(f"/office/phone/{planning.id}", data={"choice": "satisfied"})
    assert response.status_code == 410 and "已截止" in text(response)
    assert admin_client.post(f"/office/phone/{planning.id}/call").status_code == 410
    page = text(admin_client.get(f"/office/phone/{planning.id}"))
    assert full_numbers(page) == set() and "已截止" in page and 'name="choice"' not in page
    assert votes(db) == []


def test_an_unknown_invitation_is_404(survey, operator_client):
    assert operator_client.get("/office/phone/999999").status_code == 404
    assert operator_client.post("/office/phone/999999/call").status_code == 404
    assert operator_client.post("/office/phone/999999", data={"choice": "satisfied"}).status_code == 404


# ---- who may ---------------------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.liaison, Role.auditor])
def test_liaisons_and_auditors_get_403(db, survey, client, role):
    unit = db.scalar(select(Unit).where(Unit.name == PLANNING[0])) if role == Role.liaison else None
    users.create_user(db, "someone", PASSWORD, role, unit)
    db.commit()
    assert login(client, "someone").status_code == 302
    planning = invitation_of(db, A, PLANNING)
    assert client.get("/office/phone/").status_code == 403
    assert client.get(f"/office/phone/{planning.id}").status_code == 403
    assert client.post(f"/office/phone/{planning.id}/call").status_code == 403
    assert client.post(f"/office/phone/{planning.id}", data={"choice": "satisfied"}).status_code == 403
    assert votes(db) == []


def test_anonymous_visitors_are_sent_to_login(db, survey, client):
    planning = invitation_of(db, A, PLANNING)
    for response in (client.get("/office/phone/"), client.post(f"/office/phone/{planning.id}", data={"choice": "satisfied"})):
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert votes(db) == []


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_posts_without_their_csrf_token_are_refused(db, survey, client, operator, app_config):
    token = csrf_token(text(client.get("/login")))
    assert client.post("/login", data={"username": "operator", "password": PASSWORD, "csrf_token": token}).status_code == 302
    planning = invitation_of(db, A, PLANNING)
    refused = client.post(f"/office/phone/{planning.id}/call")
    assert refused.status_code == 400 and "CSRF" in text(refused)
    assert client.post(f"/office/phone/{planning.id}", data={"choice": "satisfied"}).status_code == 400
    page = text(client.get(f"/office/phone/{planning.id}"))
    assert full_numbers(page) == set() and votes(db) == []
    # With the page's own token both work.
    token = csrf_token(page)
    assert client.post(f"/office/phone/{planning.id}/call", data={"csrf_token": token}).status_code == 302
    assert full_numbers(text(client.get(f"/office/phone/{planning.id}"))) == {A}
    assert client.post(f"/office/phone/{planning.id}", data={"choice": "satisfied", "csrf_token": token}).status_code == 302
    assert [(v.choice, v.channel) for v in votes(db)] == [(Choice.satisfied, Channel.phone)]


# ---- unlocking a code (code mode) ---------------------------------------------------------


def test_an_operator_unlocks_a_locked_code_by_post_only(app, db, survey, operator_client):
    invitation = invitation_of(db, A, PLANNING)
    for _ in range(rounds.CODE_TRIES):
        with pytest.raises((rounds.CodeMismatchError, rounds.CodeLockedError)):
            rounds.enter_code(db, invitation.code, "0000")
    db.commit()
    page = text(operator_client.get(f"/office/phone/{invitation.id}"))
    assert 'id="code-locked"' in page and f"输错 {rounds.CODE_TRIES} 次" in page
    assert operator_client.get(f"/office/phone/{invitation.id}/unlock").status_code == 405
    response = operator_client.post(f"/office/phone/{invitation.id}/unlock")
    assert response.status_code == 302 and response.headers["Location"] == f"/office/phone/{invitation.id}"
    db.expire_all()
    row = db.get(Invitation, invitation.id)
    assert row.code_locked_at is None and row.code_failures == 0
    assert rounds.enter_code(db, invitation.code, A[-4:]).id == invitation.id
    assert 'id="code-locked"' not in text(operator_client.get(f"/office/phone/{invitation.id}"))


# ---- calls without an answer, and the list's filters ------------------------------------------


def test_a_call_without_an_answer_is_recorded_with_its_reason_and_shown(db, survey, operator, operator_client):
    planning = invitation_of(db, A, PLANNING)
    reform = invitation_of(db, B, REFORM)
    response = operator_client.post(f"/office/phone/{planning.id}/outcome", data={"outcome": "no_answer"})
    assert response.status_code == 302
    operator_client.post(f"/office/phone/{planning.id}/outcome", data={"outcome": "refused"})
    operator_client.post(f"/office/phone/{reform.id}/outcome", data={"outcome": "wrong_number"})
    db.rollback()
    attempts = db.scalars(select(CallAttempt).order_by(CallAttempt.id)).all()
    assert [(a.invitation_id, a.outcome, a.operator_id) for a in attempts] == [
        (planning.id, CallOutcome.no_answer, operator.id), (planning.id, CallOutcome.refused, operator.id),
        (reform.id, CallOutcome.wrong_number, operator.id)]
    assert votes(db) == []  # a call without an answer is no vote
    listed = text(operator_client.get("/office/phone/"))
    row = re.search(rf'<tr>(?:(?!</tr>).)*action="/office/phone/{planning.id}/call"', listed, re.S).group(0)
    assert "2 次，上次" in row and "拒访" in row
    page = text(operator_client.get(f"/office/phone/{planning.id}"))
    assert 'id="call-history"' in page and page.index("拒访") < page.index("未接通")  # newest first
    # Filters: never called, to call again (not refused, not a wrong number), by last outcome.
    prices = invitation_of(db, C, PRICES)
    assert listed_ids(text(operator_client.get("/office/phone/?call=none"))) == [prices.id]
    assert listed_ids(text(operator_client.get("/office/phone/?call=to_call"))) == [prices.id]
    assert listed_ids(text(operator_client.get("/office/phone/?call=wrong_number"))) == [reform.id]


def test_an_outcome_without_a_reason_or_for_an_answered_invitation_is_refused(db, survey, operator_client):
    planning = invitation_of(db, A, PLANNING)
    response = operator_client.post(f"/office/phone/{planning.id}/outcome", data={})
    assert response.status_code == 422 and "请选择未能记录回答的原因" in text(response)
    response = operator_client.post(f"/office/phone/{planning.id}/outcome", data={"outcome": "maybe"})
    assert response.status_code == 422 and "不是有效的选择" in text(response)
    cast_vote(db, planning.id, Choice.basic, Channel.link)
    db.commit()
    response = operator_client.post(f"/office/phone/{planning.id}/outcome", data={"outcome": "no_answer"})
    assert response.status_code == 409
    db.rollback()
    assert db.scalars(select(CallAttempt)).all() == []


def test_the_list_filters_by_section_within_a_unit_and_by_the_sms(db, survey, operator_client):
    planning = invitation_of(db, A, PLANNING)
    unit = db.scalar(select(Unit).where(Unit.name == PLANNING[0]))
    section_id = planning.section_id
    page = text(operator_client.get(f"/office/phone/?unit={unit.id}"))
    picker = re.search(r'<select id="section".*?</select>', page, re.S).group(0)
    assert 1 < picker.count("<option") < 30  # the unit's sections, not all 363
    assert listed_ids(text(operator_client.get(f"/office/phone/?unit={unit.id}&section={section_id}"))) == [planning.id]
    message = db.get(OutboxMessage, planning.message_id)
    message.status = OutboxStatus.failed
    db.commit()
    assert listed_ids(text(operator_client.get("/office/phone/?sms=failed"))) == [planning.id]
    # The pager keeps the filters.
    assert operator_client.get("/office/phone/?sms=nonsense&call=nonsense").status_code == 200
