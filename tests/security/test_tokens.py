"""Link tokens that are not genuine, on SQLite and PostgreSQL: one character
changed, truncated, signed for another purpose, signed with a key rotated out of
SECRET_KEY_FALLBACKS (400), while a key still in the fallbacks opens (303); an expired
link (410). Nothing is stored and the browser holds no invitation."""
from __future__ import annotations

from datetime import timedelta

import pytest
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer

from sms.tokens import LINK_PURPOSE, LinkTokens
from tests.support.citizens import invitations, link_path, open_round
from tests.conftest import make_app
from tests.security.common import changed, snapshot
from voting.core.models import utcnow
from tests.support.web import in_session, text

INVALID = "链接无效：可能不完整或被改动过。请直接点击短信中的链接，不要手工修改。"
EXPIRED = "评价已截止，链接已失效。感谢您的关注。"
NO_INVITATION = "没有找到您的评价邀请"
SECRET = "test secret"  # the key tests.conftest gives the app


@pytest.fixture
def invitation(app, db, campaign):
    return invitations(db, open_round(app, db, campaign))[0]


def payload(invitation, closes=None) -> list:
    expires = closes or utcnow() + timedelta(days=1)
    return [invitation.id, invitation.round_id, invitation.nonce, int(expires.timestamp())]


def refused(client, db, token: str, status: int, message: str) -> None:
    """The link is refused with `status` and `message`; nothing stored, nothing opened."""
    before = snapshot(db)
    response = client.get(f"/v/{token}")
    assert response.status_code == status and message in text(response)
    assert response.headers["Cache-Control"] == "no-store" and "Traceback" not in text(response)
    assert "invitation" not in in_session(client)
    vote = client.post("/v", data={"choice": "satisfied"})
    assert vote.status_code == 400 and NO_INVITATION in text(vote)
    assert changed(before, snapshot(db)) == []


def one_char_changed(token: str, at: int) -> str:
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]


@pytest.mark.parametrize("where", ["payload", "signature"])
def test_a_link_with_one_character_changed_is_400(client, db, invitation, where):
    token = link_path(db, invitation).removeprefix("/v/")
    payload_end, _ = token.split(".")
    at = len(payload_end) // 2 if where == "payload" else len(payload_end) + 1 + 3
    refused(client, db, one_char_changed(token, at), 400, INVALID)


@pytest.mark.parametrize("cut", [1, 5, 30])
def test_a_truncated_link_is_400(client, db, invitation, cut):
    token = link_path(db, invitation).removeprefix("/v/")
    refused(client, db, token[:-cut], 400, INVALID)


@pytest.mark.parametrize("serializer", ["timed-other-salt", "other-salt", "no-salt-given", "wrong-shape"])
def test_a_link_signed_with_the_key_for_another_purpose_is_400(client, db, invitation, serializer):
    """The platform's own key, but another salt (another purpose) or a payload that
    is not a link's: never accepted."""
    token = {
        "timed-other-salt": lambda: URLSafeTimedSerializer(SECRET, salt="other").dumps(payload(invitation)),
        "other-salt": lambda: URLSafeSerializer(SECRET, salt="pingyi.password-reset").dumps(payload(invitation)),
        "no-salt-given": lambda: URLSafeSerializer(SECRET).dumps(payload(invitation)),
        "wrong-shape": lambda: URLSafeSerializer(SECRET, salt=LINK_PURPOSE).dumps(
            {"invitation": invitation.id, "nonce": invitation.nonce}),
    }[serializer]()
    refused(client, db, token, 400, INVALID)


def test_a_key_rotated_out_of_the_fallbacks_no_longer_opens_one_still_in_them_does(database_url, tmp_path, db, invitation):
    """SECRET_KEY "newest", SECRET_KEY_FALLBACKS ["middle"]: the first key (the one the
    invitation's SMS was signed with) has been dropped."""
    rotated = make_app(database_url, tmp_path, SECRET_KEY="newest", SECRET_KEY_FALLBACKS=["middle"])
    try:
        closes = invitation.survey_round.closes_at
        expires = closes if closes.tzinfo else closes.replace(tzinfo=utcnow().tzinfo)

        def signed(key: str) -> str:
            return LinkTokens(key).issue(invitation.id, invitation.round_id, expires, nonce=invitation.nonce)[0]

        refused(rotated.test_client(), db, link_path(db, invitation).removeprefix("/v/"), 400, INVALID)
        refused(rotated.test_client(), db, signed(SECRET), 400, INVALID)
        refused(rotated.test_client(), db, signed("a key this platform never had"), 400, INVALID)
        before = snapshot(db)
        for key in ("middle", "newest"):
            client = rotated.test_client()
            response = client.get(f"/v/{signed(key)}")
            assert response.status_code == 303 and response.headers["Location"] == "/v"
            assert in_session(client)["invitation"] == invitation.id
        assert changed(before, snapshot(db)) == []  # opening writes nothing
    finally:
        rotated.extensions["pingyi.engine"].dispose()


@pytest.mark.parametrize("ago", [timedelta(seconds=1), timedelta(days=30)])
def test_an_expired_link_is_410(app, client, db, invitation, ago):
    token, _ = LinkTokens(SECRET).issue(invitation.id, invitation.round_id, utcnow() - ago, nonce=invitation.nonce)
    refused(client, db, token, 410, EXPIRED)
