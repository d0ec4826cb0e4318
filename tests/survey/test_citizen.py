"""The citizens' voting pages (docs/rules.md §4), on SQLite and PostgreSQL: the link
hands over to the clean /v without writing anything, the page, the one vote, every
refused link with its status, code mode, the opened beacon, rate limits, CSRF, and 200
concurrent submits of one invitation (PostgreSQL)."""
from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sms.tokens import LinkTokens, new_nonce
from tests.support.citizens import invitations, link_path, open_round, sms_params, vote_count, votes
from voting.survey.links import link_tokens
from voting.survey.models import Channel, Choice, Invitation, InviteMode, SurveyRound, Vote
from voting.outbox.models import OutboxMessage
from voting.core.models import utcnow
from voting.survey import rounds
from voting.survey.votes import COMMENT_MAX, cast_vote
from tests.support.web import in_session, text

THANKS = "感谢您的评价"
VOTED = "已经评价过了"
CHOOSE = "请选择“满意”“基本满意”或“不满意”中的一项"


@pytest.fixture
def survey(app, db, campaign) -> SurveyRound:
    return open_round(app, db, campaign)


@pytest.fixture
def invitation(db, survey) -> Invitation:
    return invitations(db, survey)[0]


def private(response) -> bool:
    return response.headers.get("Referrer-Policy") == "no-referrer" and response.headers.get("Cache-Control") == "no-store"


def rows(db) -> dict[str, list]:
    """Every row of the tables a citizen's page could touch."""
    db.rollback()
    return {
        model.__tablename__: [tuple(row) for row in db.execute(select(model.__table__).order_by(model.__table__.c.id))]
        for model in (SurveyRound, Invitation, Vote, OutboxMessage)
    }


def opened(client, db, invitation: Invitation) -> None:
    """The citizen tapped the SMS link."""
    response = client.get(link_path(db, invitation))
    assert response.status_code == 303 and response.headers["Location"] == "/v"


def one_char_changed(token: str) -> str:
    at = len(token) // 3  # inside the payload: the last base64 character may carry padding bits only
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]


# ---- the link --------------------------------------------------------------------------


def test_link_hands_over_to_the_clean_page_and_writes_nothing(client, db, invitation):
    before = rows(db)
    response = client.get(link_path(db, invitation))
    assert response.status_code == 303 and response.headers["Location"] == "/v"
    assert private(response)
    assert in_session(client)["invitation"] == invitation.id and in_session(client)["channel"] == "link"
    assert rows(db) == before and vote_count(db) == 0
    # The previewer's view, and anyone's second look: still nothing written.
    page = client.get("/v")
    assert page.status_code == 200 and private(page)
    assert rows(db) == before and vote_count(db) == 0


def test_page_shows_the_unit_section_matter_and_round(client, db, invitation):
    opened(client, db, invitation)
    response = client.get("/v")
    body = text(response)
    assert response.status_code == 200 and private(response)
    assert invitation.section.unit.name in body and invitation.section.name in body
    assert invitation.service_object.matter in body
    assert "2021年上半年" in body
    for choice in Choice:
        assert f'value="{choice.value}"' in body and f"<span>{choice.label}</span>" in body
    assert " checked" not in body  # none preselected
    assert f'maxlength="{COMMENT_MAX}"' in body
    assert "看不到谁参加了评价" in body  # the privacy line
    assert "citizen.css" in body and "短信发件箱" not in body  # the citizens' own layout, not the staff nav
    assert "<script>" not in body  # no inline script


def test_the_page_sets_no_cookie_once_the_link_has_set_the_session(client, db, invitation):
    """The link sets the one session cookie (invitation and form token together); the
    page itself rewrites nothing and sends no staff remember-cookie deletion."""
    link = client.get(link_path(db, invitation))
    assert [c.split("=")[0] for c in link.headers.getlist("Set-Cookie")] == ["session"]
    assert {"invitation", "csrf_token"} <= set(in_session(client))
    for _ in range(2):
        page = client.get("/v")
        assert page.status_code == 200 and page.headers.getlist("Set-Cookie") == []
        assert f'value="{in_session(client)["csrf_token"]}"' not in text(page)  # the signed form, not the raw token


def test_a_vote_is_recorded_once_by_link(client, db, invitation):
    opened(client, db, invitation)
    response = client.post("/v", data={"choice": "satisfied", "comment": "  办事很快，态度很好  "})
    assert response.status_code == 303 and response.headers["Location"] == "/v/thanks" and private(response)
    thanks = client.get("/v/thanks")
    assert thanks.status_code == 200 and THANKS in text(thanks) and private(thanks)
    [vote] = votes(db)
    assert (vote.invitation_id, vote.section_id, vote.round_id) == (invitation.id, invitation.section_id, invitation.round_id)
    assert vote.choice == Choice.satisfied and vote.channel == Channel.link and vote.comment == "办事很快，态度很好"
    assert "invitation" not in in_session(client)
    # Back to the page, or the form sent again: already voted, still one vote.
    assert client.get("/v").status_code == 409
    again = client.post("/v", data={"choice": "unsatisfied"})
    assert again.status_code == 409 and VOTED in text(again)
    assert [(v.id, v.choice) for v in votes(db)] == [(vote.id, Choice.satisfied)]


def test_second_click_on_the_link_says_already_voted(app, client, db, invitation):
    opened(client, db, invitation)
    assert client.post("/v", data={"choice": "basic"}).status_code == 303
    again = app.test_client().get(link_path(db, invitation))
    assert again.status_code == 409 and VOTED in text(again) and private(again)
    assert "invitation" not in in_session(client) and vote_count(db) == 1


def test_a_second_submit_from_another_tab_is_409_and_one_vote_stays(app, db, invitation):
    first, second = app.test_client(), app.test_client()
    opened(first, db, invitation)
    opened(second, db, invitation)
    assert first.post("/v", data={"choice": "unsatisfied"}).status_code == 303
    late = second.post("/v", data={"choice": "satisfied"})
    assert late.status_code == 409 and VOTED in text(late) and private(late)
    [vote] = votes(db)
    assert vote.choice == Choice.unsatisfied


def test_an_invitation_answered_by_sms_reply_opens_as_already_voted(client, db, invitation):
    cast_vote(db, invitation.id, Choice.basic, Channel.sms)
    db.commit()
    response = client.get(link_path(db, invitation))
    assert response.status_code == 409 and VOTED in text(response)
    assert "invitation" not in in_session(client)


# ---- refused links ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tampered", "truncated", "wrong-purpose", "old-key", "garbage"])
def test_a_link_that_is_not_genuine_is_400(app, client, db, invitation, kind):
    token = link_path(db, invitation).removeprefix("/v/")
    survey = invitation.survey_round
    expires = survey.closes_at if survey.closes_at.tzinfo else survey.closes_at.replace(tzinfo=utcnow().tzinfo)
    forged = {
        "tampered": lambda: one_char_changed(token),
        "truncated": lambda: token[:-5],
        "wrong-purpose": lambda: LinkTokens(app.config["SECRET_KEY"], purpose="other").issue(
            invitation.id, survey.id, expires, nonce=invitation.nonce)[0],
        "old-key": lambda: LinkTokens("a key this platform never had").issue(
            invitation.id, survey.id, expires, nonce=invitation.nonce)[0],
        "garbage": lambda: "not-a-token",
    }[kind]()
    assert forged != token
    before = rows(db)
    response = client.get(f"/v/{forged}")
    assert response.status_code == 400 and private(response)
    assert "链接无效" in text(response) and "Traceback" not in text(response)
    assert "invitation" not in in_session(client) and rows(db) == before


def test_an_expired_link_is_410(app, client, db, invitation):
    token, _ = link_tokens(app).issue(invitation.id, invitation.round_id, utcnow() - timedelta(minutes=1), nonce=invitation.nonce)
    response = client.get(f"/v/{token}")
    assert response.status_code == 410 and "已截止" in text(response) and private(response)
    assert "invitation" not in in_session(client)


def test_a_round_past_its_close_is_410_everywhere(client, db, invitation):
    opened(client, db, invitation)  # opened while the round was open
    db.execute(update(SurveyRound).where(SurveyRound.id == invitation.round_id).values(closes_at=utcnow() - timedelta(minutes=1)))
    db.commit()
    link = client.get(link_path(db, invitation))  # the token itself still reads
    assert link.status_code == 410 and "已截止" in text(link)
    assert client.get("/v").status_code == 410
    late = client.post("/v", data={"choice": "satisfied"})
    assert late.status_code == 410 and "已截止" in text(late)
    assert vote_count(db) == 0


def test_a_round_closed_by_the_office_is_410(client, db, invitation):
    opened(client, db, invitation)
    rounds.close_round(db, invitation.survey_round)
    db.commit()
    assert client.post("/v", data={"choice": "satisfied"}).status_code == 410
    assert client.get(link_path(db, invitation)).status_code == 410
    assert vote_count(db) == 0


@pytest.mark.parametrize("kind", ["unknown-invitation", "other-nonce", "other-round"])
def test_a_genuine_link_to_nothing_is_404(app, client, db, invitation, kind):
    survey = invitation.survey_round
    closes = utcnow() + timedelta(days=1)
    invitation_id, round_id, nonce = {
        "unknown-invitation": (10**6, survey.id, invitation.nonce),
        "other-nonce": (invitation.id, survey.id, new_nonce()),
        "other-round": (invitation.id, survey.id + 1, invitation.nonce),
    }[kind]
    token, _ = link_tokens(app).issue(invitation_id, round_id, closes, nonce=nonce)
    response = client.get(f"/v/{token}")
    assert response.status_code == 404 and "链接无效或已作废" in text(response) and private(response)
    assert "invitation" not in in_session(client)


def test_a_link_signed_with_a_fallback_key_still_opens(database_url, tmp_path, db, invitation):
    from tests.conftest import make_app

    rotated = make_app(database_url, tmp_path, SECRET_KEY="the new key", SECRET_KEY_FALLBACKS=["test secret"])
    response = rotated.test_client().get(link_path(db, invitation))
    assert response.status_code == 303
    rotated.extensions["pingyi.engine"].dispose()


# ---- the form --------------------------------------------------------------------------


@pytest.mark.parametrize("data", [{}, {"choice": ""}, {"choice": "great"}, {"choice": "满意"}, {"comment": "很好"}])
def test_without_one_of_the_three_choices_nothing_is_stored(client, db, invitation, data):
    opened(client, db, invitation)
    response = client.post("/v", data=data)
    assert response.status_code == 422 and CHOOSE in text(response) and private(response)
    assert invitation.section.name in text(response)  # the page again
    assert vote_count(db) == 0 and in_session(client)["invitation"] == invitation.id


def test_a_comment_too_long_is_422_and_keeps_the_choice(client, db, invitation):
    opened(client, db, invitation)
    response = client.post("/v", data={"choice": "basic", "comment": "长" * (COMMENT_MAX + 1)})
    assert response.status_code == 422 and f"不超过 {COMMENT_MAX} 字" in text(response)
    assert 'value="basic" required checked' in text(response)
    assert vote_count(db) == 0


def test_a_comment_counts_line_breaks_as_the_browser_does(client, db, invitation):
    comment = "甲" * (COMMENT_MAX // 2 - 1) + "\r\n" + "乙" * (COMMENT_MAX // 2)  # 500 on the page, 501 in the POST
    opened(client, db, invitation)
    assert client.post("/v", data={"choice": "basic", "comment": comment}).status_code == 303
    [vote] = votes(db)
    assert len(vote.comment) == COMMENT_MAX and "\r" not in vote.comment


def test_without_an_invitation_in_the_session(client, db, invitation):
    page = client.get("/v")
    assert page.status_code == 400 and "短信中的链接" in text(page) and private(page)
    post = client.post("/v", data={"choice": "satisfied"})
    assert post.status_code == 400 and vote_count(db) == 0


def test_a_get_never_votes(client, db, invitation):
    link = client.get(link_path(db, invitation) + "?choice=satisfied&comment=x")
    assert link.status_code == 303
    page = client.get("/v?choice=satisfied&comment=x")
    assert page.status_code == 200 and " checked" not in text(page)
    assert client.get("/v/thanks?choice=satisfied").status_code == 200
    assert vote_count(db) == 0


# ---- code mode -------------------------------------------------------------------------


@pytest.fixture
def code_round(app, db, campaign) -> SurveyRound:
    return open_round(app, db, campaign, sections=1, per_section=2, mode=InviteMode.code)


def test_the_code_page(client):
    response = client.get("/c")
    body = text(response)
    assert response.status_code == 200 and private(response)
    assert 'autocomplete="one-time-code"' in body and 'inputmode="text"' in body and "大写" in body


def test_a_code_as_typed_on_a_phone_opens_the_page_and_votes_by_code(client, db, code_round):
    invitation = invitations(db, code_round)[0]
    code = sms_params(db, invitation)["code"]
    assert code == invitation.code and "link" not in sms_params(db, invitation)
    # Lower case, a dash, full-width characters and spaces, as phone keyboards give them.
    typed = " " + code[:4].lower() + "-" + "".join(chr(ord(c) + 0xFEE0) for c in code[4:]) + " "
    # The phone's last four digits, full-width too.
    tail = "".join(chr(ord(c) + 0xFEE0) for c in invitation.phone[-4:])
    response = client.post("/c", data={"code": typed, "phone_tail": tail})
    assert response.status_code == 303 and response.headers["Location"] == "/v" and private(response)
    page = client.get("/v")
    assert page.status_code == 200 and invitation.service_object.matter in text(page)
    assert client.post("/v", data={"choice": "unsatisfied"}).status_code == 303
    [vote] = votes(db)
    assert vote.invitation_id == invitation.id and vote.channel == Channel.code and vote.choice == Choice.unsatisfied
    # The same code again: already voted.
    assert client.post("/c", data={"code": code, "phone_tail": invitation.phone[-4:]}).status_code == 303
    assert client.get("/v").status_code == 409


@pytest.mark.parametrize("typed, tail, message", [
    ("ABCDEFGH", "1234", "评价码或手机号码后四位不正确"),  # well-formed, no such invitation
    ("hello", "1234", "评价码是 8 位字母和数字"),
    ("0O1IL0O1", "1234", "评价码是 8 位字母和数字"),  # letters the codes never use
    ("", "1234", "请输入短信中的 8 位评价码"),
    ("ABCDEFGH", "", "请输入收到短信的手机号码的后四位"),
    ("ABCDEFGH", "12a4", "手机号码后四位是 4 个数字"),
    ("ABCDEFGH", "12345", "手机号码后四位是 4 个数字"),
])
def test_a_wrong_code_is_422_and_opens_nothing(client, db, code_round, typed, tail, message):
    before = rows(db)
    if any(i.code == typed for i in invitations(db, code_round)):
        pytest.skip("the random codes drew the one under test")
    response = client.post("/c", data={"code": typed, "phone_tail": tail})
    assert response.status_code == 422 and message in text(response) and private(response)
    assert "invitation" not in in_session(client) and rows(db) == before


def test_a_code_of_a_closed_round_opens_nothing(client, db, code_round):
    invitation = invitations(db, code_round)[0]
    rounds.close_round(db, code_round)
    db.commit()
    response = client.post("/c", data={"code": invitation.code, "phone_tail": invitation.phone[-4:]})
    assert response.status_code == 422 and "评价码或手机号码后四位不正确" in text(response)


def test_wrong_phone_digits_lock_the_code_after_five_tries_whoever_types_them(app, db, code_round):
    """The lock is the code's, in the database: new cookie jars do not reset it, the
    right digits after it do not open, the other codes stay open."""
    invitation, other = invitations(db, code_round)[:2]
    wrong = "0000" if invitation.phone[-4:] != "0000" else "1111"
    statuses = []
    for _ in range(rounds.CODE_TRIES):
        response = app.test_client().post("/c", data={"code": invitation.code, "phone_tail": wrong})
        statuses.append(response.status_code)
    assert statuses == [422] * (rounds.CODE_TRIES - 1) + [423]
    locked = app.test_client().post("/c", data={"code": invitation.code, "phone_tail": invitation.phone[-4:]})
    assert locked.status_code == 423 and "已锁定" in text(locked) and "回复短信" in text(locked) and private(locked)
    db.rollback()
    row = db.get(Invitation, invitation.id)
    assert row.code_failures == rounds.CODE_TRIES and row.code_locked_at is not None and vote_count(db) == 0
    assert app.test_client().post("/c", data={"code": other.code, "phone_tail": other.phone[-4:]}).status_code == 303
    # The office lifts the lock; the right digits open again.
    rounds.unlock_code(db, row)
    db.commit()
    client = app.test_client()
    assert client.post("/c", data={"code": invitation.code, "phone_tail": invitation.phone[-4:]}).status_code == 303
    assert client.post("/v", data={"choice": "basic"}).status_code == 303 and vote_count(db) == 1


def test_wrong_digits_below_the_limit_still_let_the_right_ones_in(client, db, code_round):
    invitation = invitations(db, code_round)[0]
    wrong = "0000" if invitation.phone[-4:] != "0000" else "1111"
    for _ in range(rounds.CODE_TRIES - 1):
        assert client.post("/c", data={"code": invitation.code, "phone_tail": wrong}).status_code == 422
    assert client.post("/c", data={"code": invitation.code, "phone_tail": invitation.phone[-4:]}).status_code == 303
    assert in_session(client)["invitation"] == invitation.id


# ---- the opened beacon -----------------------------------------------------------------


def test_the_beacon_marks_the_invitation_opened_once(client, db, invitation):
    opened(client, db, invitation)
    assert client.post("/v/seen").status_code == 204
    db.rollback()
    first = db.get(Invitation, invitation.id).opened_at
    assert first is not None
    assert client.post("/v/seen").status_code == 204
    db.rollback()
    assert db.get(Invitation, invitation.id).opened_at == first and vote_count(db) == 0


def test_the_beacon_without_an_invitation_does_nothing(client, db, invitation):
    assert client.post("/v/seen").status_code == 400
    db.rollback()
    assert db.get(Invitation, invitation.id).opened_at is None


def test_the_page_sends_the_beacon_from_an_external_script(client, db, invitation):
    opened(client, db, invitation)
    body = text(client.get("/v"))
    assert re.search(r'<script src="/static/seen\.js" defer></script>', body)
    assert 'data-seen="/v/seen"' in body
    script = client.get("/static/seen.js")
    assert script.status_code == 200 and b"sendBeacon" in script.data


# ---- rate limits -----------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_wrong_codes_are_slowed_per_address(client, db, code_round, app_config):
    statuses = [client.post("/c", data={"code": "ABCDEFGH", "phone_tail": "1234"}).status_code for _ in range(11)]
    assert statuses == [422] * 10 + [429]
    right = invitations(db, code_round)[0]
    refused = client.post("/c", data={"code": right.code, "phone_tail": right.phone[-4:]})
    assert refused.status_code == 429 and "过于频繁" in text(refused) and private(refused)
    assert "invitation" not in in_session(client)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_right_codes_do_not_count_against_the_address(client, db, code_round, app_config):
    right = invitations(db, code_round)[0]
    typed = {"code": right.code, "phone_tail": right.phone[-4:]}
    assert [client.post("/c", data=typed).status_code for _ in range(12)] == [303] * 12


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_a_link_is_limited_by_its_token_not_by_the_shared_address(client, db, survey, app_config):
    first, second = invitations(db, survey)[:2]
    statuses = [client.get(link_path(db, first)).status_code for _ in range(31)]
    assert statuses == [303] * 30 + [429]
    # Another citizen behind the same carrier address is not held up.
    assert client.get(link_path(db, second)).status_code == 303


# ---- CSRF ------------------------------------------------------------------------------


def csrf_token(body: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_posts_need_the_csrf_token(client, db, invitation, app_config):
    opened(client, db, invitation)
    page = text(client.get("/v"))
    refused = client.post("/v", data={"choice": "satisfied"})
    assert refused.status_code == 400 and "页面已过期" in text(refused) and private(refused)
    assert client.post("/v/seen").status_code == 400
    assert client.post("/c", data={"code": invitation.code, "phone_tail": invitation.phone[-4:]}).status_code == 400
    assert vote_count(db) == 0 and db.get(Invitation, invitation.id).opened_at is None
    # With the token the page carries (and no Referer, as the page's no-referrer policy
    # makes browsers send, also over HTTPS): accepted.
    token = csrf_token(page)
    assert client.post("/v/seen", data={"csrf_token": token}, base_url="https://localhost").status_code == 204
    accepted = client.post("/v", data={"choice": "satisfied", "csrf_token": token}, base_url="https://localhost")
    assert accepted.status_code == 303
    assert [v.choice for v in votes(db)] == [Choice.satisfied]


# ---- concurrency -----------------------------------------------------------------------


def test_two_hundred_parallel_submits_make_one_vote(app, db, invitation):
    """The view does not look for an earlier vote before it writes: the one INSERT
    and the unique constraint decide between all 200."""
    if app.extensions["pingyi.engine"].dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the concurrent-submit race is a PostgreSQL test")
    clients = [app.test_client() for _ in range(200)]
    for c in clients:
        opened(c, db, invitation)
    start = threading.Barrier(len(clients), timeout=60)

    def submit(pair):
        i, c = pair
        start.wait()
        return c.post("/v", data={"choice": list(Choice)[i % 3].value}).status_code

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        statuses = Counter(pool.map(submit, enumerate(clients)))
    assert statuses[303] == 1 and set(statuses) == {303, 409}, statuses
    [vote] = votes(db)
    assert vote.invitation_id == invitation.id
