"""Replays, on SQLite and PostgreSQL: a vote link used again after the vote,
an evaluator's one-time password used again after the ballot, and the same link
clicked twice at once (PostgreSQL). Each: the exact status, the message, and nothing
more stored than the one vote or ballot."""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.ballots import PASSWORD, candidates, counts, evaluators, form, marks, open_online_round
from tests.support.citizens import invitations, link_path, open_round, votes
from tests.security.common import changed, snapshot
from voting.survey.models import Channel, Choice
from tests.support.web import in_session, text

VOTED = "这份邀请已经评价过了，每份邀请只能评价一次"
NO_INVITATION = "没有找到您的评价邀请"
BALLOT_IN = "您的选票已经提交，每位评价人只能投票一次，密码已失效"


@pytest.fixture
def invitation(app, db, campaign):
    return invitations(db, open_round(app, db, campaign))[0]


# ---- the vote link ------------------------------------------------------------------------------


def test_a_link_used_again_after_the_vote_is_409_and_one_vote_stays(app, client, db, invitation):
    path = link_path(db, invitation)
    assert client.get(path).status_code == 303
    stale = app.test_client()  # another tab that opened the link before the vote
    assert stale.get(path).status_code == 303
    assert client.post("/v", data={"choice": "satisfied"}).status_code == 303
    [vote] = votes(db)
    after_vote = snapshot(db)

    # The same link again: in the browser that voted, and in a fresh one.
    for again, status, message in ((client, 409, VOTED), (app.test_client(), 400, NO_INVITATION)):
        response = again.get(path)
        assert response.status_code == 409 and VOTED in text(response)
        assert "invitation" not in in_session(again)
        # Nothing opened: a POST then has no invitation to vote for (the browser that
        # voted is told so again).
        post = again.post("/v", data={"choice": "unsatisfied"})
        assert post.status_code == status and message in text(post)
    # The tab still holding the invitation: 409, the first vote stands.
    late = stale.post("/v", data={"choice": "unsatisfied"})
    assert late.status_code == 409 and VOTED in text(late)
    assert stale.get("/v").status_code == 409
    assert changed(after_vote, snapshot(db)) == []
    assert [(v.id, v.choice, v.channel) for v in votes(db)] == [(vote.id, Choice.satisfied, Channel.link)]


# ---- the evaluator's one-time password ---------------------------------------------------------


def test_a_password_used_again_after_the_ballot_is_refused_and_one_ballot_stays(app, client, db, campaign):
    online = open_online_round(db, campaign)
    voter = evaluators(db, online)[0]
    login = client.post("/e/login", data={"login": voter.login, "password": PASSWORD})
    assert login.status_code == 303 and login.headers["Location"].endswith("/e/ballot")
    data = form(marks(candidates(db, online)))
    assert client.post("/e/ballot", data=data).status_code == 303
    assert counts(db) == (1, 30, 1)
    after_ballot = snapshot(db)

    # The same login name and password again: in the same browser and in a fresh one.
    for again in (client, app.test_client()):
        response = again.post("/e/login", data={"login": voter.login, "password": PASSWORD})
        assert response.status_code == 409 and BALLOT_IN in text(response)
        assert "evaluator" not in in_session(again)
        # Not logged in: a ballot sent anyway goes back to the login, and stores nothing.
        ballot = again.post("/e/ballot", data=form(marks(candidates(db, online), offset=7)))
        assert ballot.status_code == 303 and ballot.headers["Location"] == "/e/login"
    assert changed(after_ballot, snapshot(db)) == []
    assert counts(db) == (1, 30, 1)


# ---- the same link clicked twice at once ------------------------------------------------------


def test_the_same_link_clicked_twice_in_parallel_makes_one_vote(app, db, invitation):
    if app.extensions["pingyi.engine"].dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the concurrent-click race is a PostgreSQL test")
    path = link_path(db, invitation)
    clients = [app.test_client(), app.test_client()]
    before = snapshot(db)

    def run(step):
        start = threading.Barrier(len(clients), timeout=30)

        def one(pair):
            i, c = pair
            start.wait()
            return step(i, c)

        with ThreadPoolExecutor(max_workers=len(clients)) as pool:
            return list(pool.map(one, enumerate(clients)))

    # Both GETs hand over to the page, and a GET writes nothing.
    opened = run(lambda i, c: c.get(path))
    assert [(r.status_code, r.headers["Location"]) for r in opened] == [(303, "/v")] * 2
    assert all(in_session(c)["invitation"] == invitation.id for c in clients)
    assert changed(before, snapshot(db)) == []
    # Both POSTs at once: one vote, the other a clear 409.
    choices = (Choice.satisfied, Choice.unsatisfied)
    posted = run(lambda i, c: c.post("/v", data={"choice": choices[i].value}))
    statuses = Counter(r.status_code for r in posted)
    assert statuses == Counter({303: 1, 409: 1}), statuses
    [refused] = [r for r in posted if r.status_code == 409]
    assert VOTED in text(refused)
    [winner] = [i for i, r in enumerate(posted) if r.status_code == 303]
    [vote] = votes(db)
    assert vote.invitation_id == invitation.id and vote.choice == choices[winner]
    assert changed(before, snapshot(db)) == ["vote"]
