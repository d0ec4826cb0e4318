"""Votes by SMS reply (docs/rules.md §4): `POST /sms/inbound`, Twilio's signed webhook,
on SQLite and PostgreSQL. The rounds and invitations are made by the real services
(a small service-object list, `create_round`, `open_round`); the requests are signed
with twilio's own RequestValidator. The matching itself, without HTTP:
tests/survey/test_sms_replies.py."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from sms.webhook import NOT_UNDERSTOOD
from voting.survey.links import link_tokens, wording
from voting.survey.models import Channel, Choice, Invitation, SurveyRound, Vote
from voting.lists.models import RoundKind, Section, Unit
from voting.core.models import utcnow
from voting.lists import objects
from voting.survey import rounds, sms_replies
from voting.survey.votes import cast_vote, has_vote
from voting.core.vault import vault_of

TOKEN = "0123456789abcdef0123456789abcdef"
URL = "http://localhost/sms/inbound"
CITIZEN = "13812345678"
NEIGHBOUR = "13912345678"
PLANNING = ("县发改局", "发展规划综合科")
REFORM = ("县发改局", "经济体制综合改革科")
NO_INVITATION = "未找到您待评价的邀请。如有疑问，请联系县千人评议办。感谢您的关注！"


# ---- helpers ---------------------------------------------------------------------------

def objects_csv(rows: list[tuple[tuple[str, str], str, str]]) -> bytes:
    """A service-object list: ((unit, section), name, phone) per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["单位名称", "科室", "姓名", "手机号码", "事项内容"])
    for (unit, section), name, phone in rows:
        writer.writerow([unit, section, name, phone, f"{section}业务办理"])
    return buffer.getvalue().encode("utf-8")


def open_survey(app, db, campaign, rows, kind=RoundKind.H1, size=10) -> SurveyRound:
    """Import the list, then create and open a round of `kind` (`size` per section) over it."""
    objects.import_objects(db, campaign, kind, objects_csv(rows), f"{kind.value}.csv", all_penalized_reported=True)
    now = utcnow()
    survey = rounds.create_round(db, campaign, kind, now + timedelta(days=20), size, now=now)
    rounds.open_round(db, campaign, survey, link_tokens(app), wording(app), now)
    db.commit()
    return survey


def closed_and_current(app, db, campaign) -> tuple[Invitation, Invitation]:
    """The citizen's invitation of a closed H1 round and of an open H2 round, their
    codes different."""
    first = open_survey(app, db, campaign, [(PLANNING, "张三", CITIZEN)], RoundKind.H1)
    old = invitation_of(db, CITIZEN, PLANNING)
    rounds.close_round(db, first)
    db.commit()
    open_survey(app, db, campaign, [(REFORM, "张三", CITIZEN)], RoundKind.H2)
    current = db.scalar(select(Invitation).where(Invitation.round_id != first.id))
    if old.code == current.code:  # one chance in 31^8
        pytest.skip("the two rounds drew the same code")
    return old, current


def invitation_of(db, phone: str, place: tuple[str, str]) -> Invitation:
    return db.scalar(
        select(Invitation).join(Section, Invitation.section_id == Section.id).join(Unit)
        .where(Invitation.phone_hash == vault_of(db).lookup(phone), Unit.name == place[0], Section.name == place[1])
    )


def votes(db) -> list[Vote]:
    db.expire_all()
    return db.scalars(select(Vote).order_by(Vote.id)).all()


def signed_headers(params: dict, token: str = TOKEN) -> dict:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(URL, params)}


def reply(client, body: str, sender: str = "+86" + CITIZEN):
    """A reply as Twilio posts it, signed."""
    params = {"From": sender, "To": "+8610690000", "Body": body, "MessageSid": "SM" + "a" * 32}
    return client.post("/sms/inbound", data=params, headers=signed_headers(params))


def answer(response) -> str:
    """The text of the TwiML answer (and that it is one)."""
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return root.findtext("Message")


@pytest.fixture
def signed(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_ENV", {"TWILIO_AUTH_TOKEN": TOKEN})


@pytest.fixture
def one_invitation(app, db, campaign, signed):
    """The citizen has one invitation (发展规划综合科); a neighbour another."""
    open_survey(app, db, campaign, [(PLANNING, "张三", CITIZEN), (PLANNING, "李四", NEIGHBOUR)])
    return invitation_of(db, CITIZEN, PLANNING)


@pytest.fixture
def two_invitations(app, db, campaign, signed):
    """The citizen has two invitations of one round (two sections); a neighbour one."""
    open_survey(app, db, campaign, [(PLANNING, "张三", CITIZEN), (REFORM, "张三", CITIZEN), (REFORM, "李四", NEIGHBOUR)])
    return invitation_of(db, CITIZEN, PLANNING), invitation_of(db, CITIZEN, REFORM)


# ---- one invitation --------------------------------------------------------------------

def test_a_signed_reply_records_an_sms_vote_and_names_unit_and_section(client, db, one_invitation):
    text = answer(reply(client, "1"))
    assert text == "已收到您对县发改局发展规划综合科的评价：满意。感谢您的参与！"
    [vote] = votes(db)
    assert vote.invitation_id == one_invitation.id and vote.section_id == one_invitation.section_id
    assert vote.choice == Choice.satisfied and vote.channel == Channel.sms and vote.operator_id is None
    # The neighbour's invitation is untouched.
    assert has_vote(db, invitation_of(db, NEIGHBOUR, PLANNING)) is False


@pytest.mark.parametrize("body, choice", [("３", Choice.unsatisfied), ("基本满意", Choice.basic), (" 2。", Choice.basic)])
def test_full_width_digits_and_words_are_votes_too(client, db, one_invitation, body, choice):
    text = answer(reply(client, body))
    assert f"县发改局发展规划综合科的评价：{choice.label}。" in text
    assert [(v.choice, v.channel) for v in votes(db)] == [(choice, Channel.sms)]


def test_the_sender_number_is_matched_however_twilio_writes_it(client, db, one_invitation):
    # Twilio sends E.164; the same phone written with spaces still finds the invitation.
    assert "发展规划综合科" in answer(reply(client, "1", sender="+86 138 1234 5678"))
    assert len(votes(db)) == 1


def test_unsigned_or_tampered_replies_get_403_and_change_nothing(app, client, db, one_invitation):
    params = {"From": "+86" + CITIZEN, "Body": "1"}
    assert client.post("/sms/inbound", data=params).status_code == 403
    tampered = client.post("/sms/inbound", data={**params, "Body": "3"}, headers=signed_headers(params))
    assert tampered.status_code == 403
    other_sender = client.post("/sms/inbound", data={**params, "From": "+86" + NEIGHBOUR}, headers=signed_headers(params))
    assert other_sender.status_code == 403
    wrong_key = client.post("/sms/inbound", data=params, headers=signed_headers(params, token="f" * 32))
    assert wrong_key.status_code == 403
    assert client.get("/sms/inbound").status_code == 405
    assert votes(db) == []
    # Without a configured token nothing is ever signed well enough.
    app.config["SMS_ENV"] = {"TWILIO_AUTH_TOKEN": ""}
    assert client.post("/sms/inbound", data=params, headers=signed_headers(params)).status_code == 403
    assert votes(db) == []


def test_a_second_reply_is_told_the_invitation_was_answered(client, db, one_invitation):
    assert "满意" in answer(reply(client, "1"))
    text = answer(reply(client, "3"))
    assert "这份邀请已经评价过了" in text
    assert [(v.invitation_id, v.choice) for v in votes(db)] == [(one_invitation.id, Choice.satisfied)]


def test_unknown_and_foreign_senders_are_answered_politely(client, db, one_invitation):
    assert answer(reply(client, "1", sender="+8613700000000")) == NO_INVITATION
    assert answer(reply(client, "1", sender="+14155550100")) == NO_INVITATION  # not a mainland mobile
    assert answer(reply(client, "1", sender="")) == NO_INVITATION
    assert votes(db) == []


@pytest.mark.parametrize("body, message", [
    ("你好", NOT_UNDERSTOOD),
    ("", NOT_UNDERSTOOD),
    ("1 3", "请只选择一项：回复 1、2 或 3。"),
    ("ABCDEFGH K7M4Q9PX 1", "回复中有多个评价码，请只回复一个评价码和您的选择。"),
])
def test_a_reply_that_is_not_a_vote_gets_the_reason_and_changes_nothing(client, db, one_invitation, body, message):
    assert answer(reply(client, body)) == message
    assert votes(db) == []


def test_a_wrong_code_with_one_invitation_is_not_a_vote_for_it(client, db, one_invitation):
    # A code the sender was never sent may be a typo for another invitation: no guess.
    text = answer(reply(client, "K7M4Q9PX 2" if one_invitation.code != "K7M4Q9PX" else "ABCDEFGH 2"))
    assert text.startswith("评价码不正确。") and "您有 1 份待评价的邀请" in text
    assert votes(db) == []
    text = answer(reply(client, f"{one_invitation.code.lower()} 2"))
    assert "发展规划综合科的评价：基本满意" in text
    assert [v.choice for v in votes(db)] == [Choice.basic]


# ---- several invitations ---------------------------------------------------------------

def test_several_open_invitations_without_a_code_get_the_instruction(client, db, two_invitations):
    planning, reform = two_invitations
    neighbour = invitation_of(db, NEIGHBOUR, REFORM)
    text = answer(reply(client, "2"))
    assert text.startswith("您有 2 份待评价的邀请，请回复评价码和选择，如 K7M4Q9PX 1")
    # Nothing about the invitations (or anyone else's) in the answer.
    for secret in (planning.code, reform.code, neighbour.code, "发展规划综合科", "经济体制综合改革科", NEIGHBOUR):
        assert secret not in text
    unknown = "ABCDEFGH" if "ABCDEFGH" not in (planning.code, reform.code, neighbour.code) else "K7M4Q9PX"
    text = answer(reply(client, f"{unknown} 2"))
    assert text.startswith("评价码不正确。您有 2 份待评价的邀请")
    # The neighbour's code is not the citizen's.
    assert answer(reply(client, f"{neighbour.code} 2")).startswith("评价码不正确。")
    assert votes(db) == []


def test_the_code_picks_the_invitation_and_answers_each_once(client, db, two_invitations):
    planning, reform = two_invitations
    text = answer(reply(client, f"{reform.code.lower()},2"))
    assert text == "已收到您对县发改局经济体制综合改革科的评价：基本满意。感谢您的参与！"
    assert [(v.invitation_id, v.choice, v.channel) for v in votes(db)] == [(reform.id, Choice.basic, Channel.sms)]
    # The same code again: already answered, even though another invitation is open.
    assert "这份邀请已经评价过了" in answer(reply(client, f"3 {reform.code}"))
    # Code first or last, full-width too.
    fullwidth = planning.code.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    assert "发展规划综合科的评价：不满意" in answer(reply(client, f"{fullwidth} ３"))
    assert sorted((v.invitation_id, v.choice) for v in votes(db)) == sorted(
        [(reform.id, Choice.basic), (planning.id, Choice.unsatisfied)])
    assert "这份邀请已经评价过了" in answer(reply(client, "1"))
    assert len(votes(db)) == 2


# ---- closed rounds and races -----------------------------------------------------------

def test_after_the_round_closes_a_reply_stores_nothing(client, db, one_invitation):
    rounds.close_round(db, db.get(SurveyRound, one_invitation.round_id))
    db.commit()
    assert answer(reply(client, "1")) == NO_INVITATION
    assert votes(db) == []


def test_a_past_closing_time_closes_the_round_for_replies(client, db, one_invitation):
    db.get(SurveyRound, one_invitation.round_id).closes_at = utcnow() - timedelta(minutes=1)
    db.commit()
    assert answer(reply(client, "2")) == NO_INVITATION
    assert votes(db) == []


def test_the_code_of_a_closed_rounds_invitation_says_closed(app, client, db, campaign, signed):
    old, current = closed_and_current(app, db, campaign)
    assert "评价已截止" in answer(reply(client, f"{old.code} 1"))
    assert votes(db) == []
    assert "经济体制综合改革科的评价：满意" in answer(reply(client, "1"))
    assert [v.invitation_id for v in votes(db)] == [current.id]


def test_a_vote_by_another_channel_between_lookup_and_insert_wins(app, client, db, one_invitation, monkeypatch):
    """The database decides: the link vote that lands first stays, the reply is told."""
    real = sms_replies.open_invitations

    def racing(session, phone, now=None):
        found = real(session, phone, now)
        other = app.extensions["pingyi.sessions"]()
        cast_vote(other, one_invitation.id, Choice.unsatisfied, Channel.link)
        other.commit()
        other.close()
        return found

    monkeypatch.setattr(sms_replies, "open_invitations", racing)
    assert "这份邀请已经评价过了" in answer(reply(client, "1"))
    assert [(v.choice, v.channel) for v in votes(db)] == [(Choice.unsatisfied, Channel.link)]


def test_a_round_closed_between_lookup_and_insert_takes_no_vote(app, client, db, one_invitation, monkeypatch):
    real = sms_replies.open_invitations

    def racing(session, phone, now=None):
        found = real(session, phone, now)
        other = app.extensions["pingyi.sessions"]()
        rounds.close_round(other, other.get(SurveyRound, one_invitation.round_id))
        other.commit()
        other.close()
        return found

    monkeypatch.setattr(sms_replies, "open_invitations", racing)
    assert "评价已截止" in answer(reply(client, "1"))
    assert votes(db) == []


# ---- rate limits -------------------------------------------------------------------------

@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_replies_are_rate_limited_per_sender_and_forgeries_do_not_count(client, db, one_invitation, app_config):
    # Unsigned posts in the citizen's name are refused and do not use up the allowance.
    for _ in range(25):
        assert client.post("/sms/inbound", data={"From": "+86" + CITIZEN, "Body": "1"}).status_code == 403
    for _ in range(19):
        assert answer(reply(client, "你好"))
    assert "发展规划综合科" in answer(reply(client, "1"))  # the 20th signed reply
    assert reply(client, "2").status_code == 429
    assert reply(client, "2", sender="+86 138-1234-5678").status_code == 429  # the same phone, written otherwise
    assert answer(reply(client, "1", sender="+86" + NEIGHBOUR)).startswith("已收到")  # another sender
    assert db.scalar(select(func.count()).select_from(Vote)) == 2
