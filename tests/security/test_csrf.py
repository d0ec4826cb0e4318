"""CSRF on every POST route, on SQLite and PostgreSQL, with WTF_CSRF_ENABLED:
the routes are read from the app's URL map, each filled with ids that exist and posted
by someone who may use it (the admin for the office, a citizen holding an invitation
for /v, a logged-in evaluator for /e/ballot, ...) with the form it expects: without a
token, and with a genuine token of another session, the answer is 400 with the page's
own message, and no row of any table changes. The Twilio webhooks take no CSRF token
but a signature: unsigned or wrongly signed, 403 and nothing stored."""
from __future__ import annotations

import pytest

from tests.security.common import changed, csrf_of, snapshot
from tests.support.web import text
from tests.security.world import PUSHES, TWILIO, build, csrf_message, form_for, post_rules, session_for, url_of, who

pytestmark = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True, "SMS_ENV": {"TWILIO_AUTH_TOKEN": "twilio secret"}}])


@pytest.fixture
def world(app, db, campaign, admin, app_config):
    return build(app, db, campaign, admin)


def test_every_post_route_refuses_a_missing_or_foreign_token_and_stores_nothing(app, db, world, app_config):
    params = world.params(db)
    rules = [r for r in post_rules(app) if r.rule not in TWILIO + PUSHES]
    assert len(rules) >= 40 and {who(r.rule) for r in rules} == {"admin", "citizen", "evaluator", "anonymous"}
    failures = []
    for rule in rules:
        path = url_of(app, rule, params)
        client, page = session_for(app, db, world, rule.rule)
        own = csrf_of(page)
        _, other_page = session_for(app, db, world, rule.rule, n=1)
        foreign = csrf_of(other_page)
        assert foreign != own
        for case, token in (("missing", None), ("foreign", foreign)):
            data = dict(form_for(world, rule.rule))
            if token:
                data["csrf_token"] = token
            before = snapshot(db)
            response = client.post(path, data=data)
            after = snapshot(db)
            problem = []
            if response.status_code != 400:
                problem.append(f"status {response.status_code}")
            if csrf_message(rule.rule) not in text(response):
                problem.append("message")
            if changed(before, after):
                problem.append(f"changed {changed(before, after)}")
            if problem:
                failures.append(f"{case} token: POST {path}: {', '.join(problem)}")
    assert failures == [], "\n".join(failures)


def test_the_staff_session_survives_a_refused_logout(app, db, world, app_config):
    """A forged logout does not log the admin out (and a forged one for an evaluator
    leaves the ballot reachable)."""
    client, _ = session_for(app, db, world, "/logout")
    assert client.post("/logout").status_code == 400
    assert client.get("/office/").status_code == 200
    evaluator, _ = session_for(app, db, world, "/e/logout")
    assert evaluator.post("/e/logout").status_code == 400
    assert evaluator.get("/e/ballot").status_code == 200


@pytest.mark.parametrize("path", TWILIO)
@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl"])
def test_the_twilio_webhooks_refuse_unsigned_requests(app, client, db, world, path, signature, app_config):
    invitation = world.invitations[0]
    data = {"From": f"+86{invitation.phone}", "To": "+15005550006", "Body": "1", "MessageSid": "SM" + "0" * 32,
            "MessageStatus": "delivered"}
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    before = snapshot(db)
    response = client.post(path, data=data, headers=headers)
    assert response.status_code == 403
    assert changed(before, snapshot(db)) == []


@pytest.mark.parametrize("path", PUSHES)
def test_the_mainland_pushes_do_not_exist_without_their_secret(app, client, db, world, path):
    """No PINGYI_SMS_CALLBACK_SECRET in this app: the addresses answer 404, whatever
    secret is tried, and nothing changes (tests/outbox/test_mainland_round.py has them
    configured)."""
    invitation = world.invitations[0]
    before = snapshot(db)
    for secret in ("s" * 40, "", "None"):
        url = path.replace("<provider>", "aliyun").replace("<secret>", secret)
        body = f'[{{"phone_number": "{invitation.phone}", "content": "1", "sequence_id": 1}}]'
        assert client.post(url, data=body, headers={"Content-Type": "application/json"}).status_code == 404
    assert changed(before, snapshot(db)) == []
