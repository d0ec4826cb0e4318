"""A field sent twice on a public form (security review, class B), on SQLite and
PostgreSQL: the citizens' vote, code and beacon, the evaluators' login and logout, the
ballot, the receipt check, the citizen's verdict on a 差评's handling, the rating page and its
phone step. Each form's fields appear once in a browser's request, and
the readers took the first of two values (two choices made a vote of the first; a
right and a wrong password, a login). Now every field sent twice, whichever, is
refused with 400 and the page's own Chinese message naming it; nothing is stored and
the browser's session is as it was."""
from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from tests.support.citizens import invitations, open_round, vote_count
from tests.security.common import changed, snapshot
from tests.support.web import text
from tests.security.world import build, form_for, session_for
from voting.survey.models import InviteMode
from voting.web.public import PUBLIC_BLUEPRINTS

# What a second value of a field is: another answer, as a tampered form would send.
OTHER = {"choice": "unsatisfied", "comment": "另一条意见", "password": "WRONGPASS2", "code": "ZZZZ ZZZZ",
         "phone_tail": "0000", "csrf_token": "another token", "answer": "unsatisfied", "level": "1",
         "category_slow": "", "text": "另一条意见", "phone": "13900000000", "pending": "p1.another", "action": "skip"}


@pytest.fixture
def world(app, db, campaign, admin):
    return build(app, db, campaign, admin)


def repeated(name: str, times: int = 2) -> str:
    return f"提交的内容中“{name}”出现了 {times} 次，每项只能提交一次。请刷新页面后重新提交。"


def session_of(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


def other(world, name: str, value: str) -> str:
    if name == "login":
        return world.evaluator_logins[1]
    if name.startswith("c") and value in ("satisfied", "basic", "unsatisfied"):  # a ballot's mark
        return "basic" if value != "basic" else "satisfied"
    return OTHER[name]


def test_every_field_of_every_public_form_sent_twice_is_refused(app, db, world):
    public = sorted({r.rule for r in app.url_map.iter_rules()
                     if "POST" in r.methods and r.endpoint.split(".")[0] in PUBLIC_BLUEPRINTS})
    assert public == ["/c", "/e/ballot", "/e/login", "/e/logout", "/r/<token>", "/r/<token>/confirm", "/r/case/<token>",
                      "/receipt", "/v", "/v/seen"]
    failures = []
    for rule in public:
        form = {"csrf_token": "a token", **form_for(world, rule)}
        fields = list(form)[:4]  # the ballot: the token and its first candidates
        for name in fields:
            client, _ = session_for(app, db, world, rule)
            held = session_of(client)
            data = MultiDict(form)
            data.add(name, other(world, name, form[name]))
            before = snapshot(db)
            response = client.post(rule, data=data)
            if response.status_code != 400 or repeated(name) not in text(response):
                failures.append(f"{rule} {name} twice: {response.status_code}")
            if changed(before, snapshot(db)):
                failures.append(f"{rule} {name} twice: stored {changed(before, snapshot(db))}")
            if session_of(client) != held:
                failures.append(f"{rule} {name} twice: the session changed")
    assert failures == [], "\n".join(failures)


def test_a_vote_with_two_choices_is_refused_and_the_invitation_still_votes_once(app, db, world):
    client, _ = session_for(app, db, world, "/v")
    data = MultiDict([("choice", "satisfied"), ("choice", "unsatisfied")])
    response = client.post("/v", data=data)
    assert response.status_code == 400 and repeated("choice") in text(response)
    assert vote_count(db) == 0
    assert client.post("/v", data={"choice": "unsatisfied"}).status_code == 303 and vote_count(db) == 1


def test_a_right_and_a_wrong_password_log_nobody_in(app, db, world):
    client, _ = session_for(app, db, world, "/e/login")
    data = MultiDict([("login", world.evaluator_logins[0]), ("password", form_for(world, "/e/login")["password"]),
                      ("password", "WRONGPASS2")])
    before = snapshot(db)
    response = client.post("/e/login", data=data)
    assert response.status_code == 400 and repeated("password") in text(response)
    assert "evaluator" not in session_of(client) and changed(before, snapshot(db)) == []


def test_a_code_sent_twice_opens_no_invitation(app, db, campaign, admin):
    survey = open_round(app, db, campaign, sections=1, per_section=2, mode=InviteMode.code)
    invitation = invitations(db, survey)[0]
    client = app.test_client()
    for data in (
        MultiDict([("code", invitation.code), ("code", "ZZZZZZZZ"), ("phone_tail", invitation.phone[-4:])]),
        MultiDict([("code", invitation.code), ("phone_tail", invitation.phone[-4:]), ("phone_tail", "0000")]),
    ):
        before = snapshot(db)
        response = client.post("/c", data=data)
        name = "code" if data.getlist("code")[1:] else "phone_tail"
        assert response.status_code == 400 and repeated(name) in text(response), name
        assert "invitation" not in session_of(client) and changed(before, snapshot(db)) == [], name  # no try counted
    assert client.post("/c", data={"code": invitation.code, "phone_tail": invitation.phone[-4:]}).status_code == 303


def test_a_ballot_mark_sent_twice_is_refused(app, db, world):
    client, _ = session_for(app, db, world, "/e/ballot")
    data = MultiDict(world.ballot)
    first = next(iter(world.ballot))
    data.add(first, other(world, first, world.ballot[first]))
    before = snapshot(db)
    response = client.post("/e/ballot", data=data)
    assert response.status_code == 400 and repeated(first) in text(response)
    assert changed(before, snapshot(db)) == [] and session_of(client)["evaluator"] == world.evaluator_ids[0]
    assert client.post("/e/ballot", data=world.ballot).status_code == 303
