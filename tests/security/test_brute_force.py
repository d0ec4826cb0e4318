"""Guessing an evaluator's password, on SQLite and PostgreSQL. The single
cases (new cookie jars; one resend) are in tests/online/test_evaluator_login.py; here the
combination: every guess from a fresh cookie jar, resends in between, the old and the
resent passwords mixed in. The count lives in the database: it survives every resend,
and after five the account is locked whatever the jar, the right password included."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.online_pool import PUBLIC_URL, issue, passwords, pooled_round
from tests.security.common import changed, snapshot
from voting.survey.links import wording
from voting.online.models import Evaluator
from voting.online import evaluators
from tests.support.web import in_session, text

WRONG = "账号或密码不正确"
LOCKED = "账号已锁定"


def evaluator(db, login: str) -> Evaluator:
    db.rollback()
    db.expire_all()
    return db.scalar(select(Evaluator).where(Evaluator.login == login))


@pytest.mark.parametrize("resend_after", [(1, 3), (2, 4), (4,)])
def test_guesses_from_rotating_jars_with_resends_lock_after_five(app, db, campaign, resend_after):
    online = pooled_round(db, campaign, reps=2)
    secrets = issue(app, db, online)
    (login, first), (other_login, other_password) = sorted(secrets.items())[:2]
    sent = [first]  # every password this account was sent, the newest last
    statuses, jars = [], []
    for guess in range(1, 6):
        jar = app.test_client()  # a new cookie jar for every guess
        jars.append(jar)
        # Guess with a wrong password, or with one of the account's own earlier
        # passwords (voided by the resend): both are wrong, both count.
        tried = "WRONGPASS2" if guess % 2 or len(sent) == 1 else sent[0]
        response = jar.post("/e/login", data={"login": login, "password": tried})
        statuses.append(response.status_code)
        assert (WRONG if response.status_code == 401 else LOCKED) in text(response)
        assert "evaluator" not in in_session(jar)
        assert evaluator(db, login).failed_logins == guess
        if guess in resend_after:
            evaluators.resend(db, online, evaluator(db, login), wording(app, PUBLIC_URL))
            db.commit()
            sent.append(passwords(db, online)[login])
            assert sent[-1] != sent[-2]
            assert evaluator(db, login).failed_logins == guess  # the resend keeps the count
    assert statuses == [401, 401, 401, 401, 423]
    locked = evaluator(db, login)
    assert locked.failed_logins == 5 and locked.locked_at is not None

    # Locked: the newest password, an older one, a wrong one, from new jars and from
    # the jars already used: 423, no session, and nothing more stored.
    before = snapshot(db)
    for jar in [app.test_client(), *jars[:2]]:
        for password in (sent[-1], sent[0], "WRONGPASS2"):
            response = jar.post("/e/login", data={"login": login.lower(), "password": password})
            assert response.status_code == 423 and LOCKED in text(response)
            assert "evaluator" not in in_session(jar)
            assert jar.get("/e/ballot").headers["Location"] == "/e/login"
    assert changed(before, snapshot(db)) == []
    # The other account is not held up by this one's lock.
    assert app.test_client().post("/e/login", data={"login": other_login, "password": other_password}).status_code == 303
