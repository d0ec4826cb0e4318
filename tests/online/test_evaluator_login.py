"""The evaluators' login, on SQLite and PostgreSQL: the one-time password
opens a fresh session; a wrong login name and a wrong password get the same answer,
which says how many tries this browser has left (the same for both, try after try and
cookie jar after cookie jar); five wrong passwords lock the account in the database
(whatever cookies the guesser uses), a resend does not reset the count and a reissue
does; an idle session ends; a ballot already in is said so; the login is rate-limited
per account and per address."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support.online_pool import PUBLIC_URL, issue, make_round, passwords, pooled_round
from voting.survey.links import wording
from voting.online.models import BallotCast, Evaluator, OnlineRound
from voting.survey.models import RoundStatus
from voting.core.models import utcnow
from voting.online import evaluators

WRONG = "账号或密码不正确"
LOCKED = "账号已锁定"


@pytest.fixture
def online(db, campaign) -> OnlineRound:
    return pooled_round(db, campaign, reps=2)  # 2 representatives, 4 service objects


@pytest.fixture
def secrets(app, db, online) -> dict[str, str]:
    return issue(app, db, online)


@pytest.fixture
def account(secrets) -> tuple[str, str]:
    return sorted(secrets.items())[0]


def text(response) -> str:
    return response.get_data(as_text=True)


def in_session(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


def attempt(client, login: str, password: str):
    return client.post("/e/login", data={"login": login, "password": password})


def evaluator(db, login: str) -> Evaluator:
    db.rollback()
    db.expire_all()
    return db.scalar(select(Evaluator).where(Evaluator.login == login))


def test_the_login_page_is_a_plain_form_in_chinese(client):
    page = client.get("/e/login")
    body = text(page)
    assert page.status_code == 200 and "网络评价登录" in body and '<html lang="zh-CN">' in body
    assert '<form id="evaluator-login"' in body and 'method="post"' in body and 'type="password"' in body
    assert 'name="viewport"' in body and "<script" not in body  # no JavaScript needed
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"


def test_the_right_password_logs_in_to_the_ballot(client, db, online, account):
    login, password = account
    response = attempt(client, login.lower(), password.lower())  # typed in lower case: the same
    assert response.status_code == 303 and response.headers["Location"].endswith("/e/ballot")
    session = in_session(client)
    assert session["evaluator"] == evaluator(db, login).id and isinstance(session["evaluator"], int)
    assert abs(session["evaluator_seen"] - time.time()) < 120
    # Logged in, the login page hands over to the ballot.
    assert client.get("/e/login").status_code == 303


def test_a_fresh_session_at_login(client, db, online, account):
    with client.session_transaction() as session:
        session.update({"invitation": 7, "evaluator": 99999, "_user_id": "1", "anything": "else"})
    assert attempt(client, *account).status_code == 303
    session = in_session(client)
    assert set(session) <= {"evaluator", "evaluator_seen", "evaluator_login", "csrf_token", "_flashes"}
    assert session["evaluator"] == evaluator(db, account[0]).id


def test_a_wrong_name_and_a_wrong_password_look_the_same(client, db, online, account):
    login, password = account
    unknown = attempt(client, "ZZZZZZZZ", password)
    wrong = attempt(client, login, "WRONGPASS2")
    assert unknown.status_code == wrong.status_code == 401
    assert WRONG in text(unknown) and WRONG in text(wrong)
    assert text(unknown).replace("ZZZZZZZZ", login) == text(wrong)
    assert "evaluator" not in in_session(client)
    assert evaluator(db, login).failed_logins == 1


def tries_left(response) -> int | None:
    found = re.findall(r"还可以再试 (\d+) 次", text(response))
    assert len(found) <= 1
    return int(found[0]) if found else None


def test_a_wrong_password_says_how_many_tries_are_left(client, db, online, account):
    login, _ = account
    # Typed in lower case or with a space, it is the same login name: the same count.
    typed = (login, login.lower(), f"{login[:4]} {login[4:]}", login)
    answers = [attempt(client, name, "WRONGPASS2") for name in typed]
    assert [a.status_code for a in answers] == [401] * 4
    assert [tries_left(a) for a in answers] == [4, 3, 2, 1]
    assert ("账号或密码不正确，请核对短信后重新输入。还可以再试 3 次；连续输错 5 次账号将被锁定"
            "（在别的手机或浏览器上输错的也算在内）。") in text(answers[1])
    assert 'role="alert"' in text(answers[1])
    assert evaluator(db, login).failed_logins == 4
    # The 5th: the database locks the account, and says so (no count).
    locked = attempt(client, login, "WRONGPASS2")
    assert locked.status_code == 423 and LOCKED in text(locked) and tries_left(locked) is None
    assert evaluator(db, login).locked_at is not None


def test_the_tries_left_do_not_tell_which_logins_exist(app, db, online, secrets):
    """The count comes from the browser's session, per login name typed, never from the
    account: an unknown name counts down exactly as a real one does. (A count from the
    database would tell them apart: a real one's goes down across cookie jars.)"""
    (first, _), (second, _) = sorted(secrets.items())[:2]
    unknown = "ZZZZZZZZ"
    # In one cookie jar each: the same answers, try after try.
    real_jar, unknown_jar = app.test_client(), app.test_client()
    for left in (4, 3, 2, 1):
        real, fake = attempt(real_jar, first, "WRONGPASS2"), attempt(unknown_jar, unknown, "WRONGPASS2")
        assert real.status_code == fake.status_code == 401
        assert tries_left(real) == left and text(fake).replace(unknown, first) == text(real)
    # The unknown name's 5th: no count left to show, only the rule (a real account's 5th
    # is the database's lock, 423, as it was before the count was shown).
    fifth = attempt(unknown_jar, unknown, "WRONGPASS2")
    assert fifth.status_code == 401 and WRONG in text(fifth) and tries_left(fifth) is None
    assert "连续输错 5 次账号将被锁定" in text(fifth)
    # A new cookie jar for every try: the same answers again, while the real account's
    # count in the database goes up (the message says tries elsewhere count too).
    for _ in range(3):
        real, fake = attempt(app.test_client(), second, "WRONGPASS2"), attempt(app.test_client(), unknown, "WRONGPASS2")
        assert real.status_code == fake.status_code == 401 and tries_left(real) == tries_left(fake) == 4
        assert text(fake).replace(unknown, second) == text(real)
    assert evaluator(db, second).failed_logins == 3 and evaluator(db, unknown) is None
    # The session keeps a keyed digest of the names typed, not the names.
    held = in_session(real_jar)["evaluator_tries"]
    assert [n for _, n in held] == [4] and first not in repr(held) and first.lower() not in repr(held)


def test_the_session_counts_a_few_login_names_only(client, online):
    for c in "23456789":
        assert tries_left(attempt(client, f"ABCDEFG{c}", "WRONGPASS2")) == 4
    held = in_session(client)["evaluator_tries"]
    assert len(held) == 4 and all(n == 1 for _, n in held)  # the latest four names
    assert tries_left(attempt(client, "ABCDEFG9", "WRONGPASS2")) == 3
    assert tries_left(attempt(client, "ABCDEFG2", "WRONGPASS2")) == 4  # dropped: counted afresh


def test_six_wrong_passwords_lock_the_account_also_across_new_cookie_jars(app, db, online, account):
    login, password = account
    statuses, bodies = [], []
    for _ in range(6):
        response = attempt(app.test_client(), login, "WRONGPASS2")  # a new cookie jar each time
        statuses.append(response.status_code)
        bodies.append(text(response))
    assert statuses == [401, 401, 401, 401, 423, 423]
    assert all(WRONG in b for b in bodies[:4]) and all(LOCKED in b for b in bodies[4:])
    found = evaluator(db, login)
    assert found.failed_logins == 5 and found.locked_at is not None
    right = attempt(app.test_client(), login, password)  # the right password no longer opens it
    assert right.status_code == 423 and LOCKED in text(right)
    assert evaluator(db, login).failed_logins == 5


def test_a_right_password_clears_earlier_slips(client, db, online, account):
    login, password = account
    for _ in range(3):
        attempt(client, login, "WRONGPASS2")
    assert evaluator(db, login).failed_logins == 3
    assert len(in_session(client)["evaluator_tries"]) == 1
    assert attempt(client, login, password).status_code == 303
    assert evaluator(db, login).failed_logins == 0
    assert "evaluator_tries" not in in_session(client)  # the fresh session drops the browser's count


def test_a_resend_does_not_reset_the_count(app, db, online, account):
    login, _ = account
    for _ in range(3):
        assert attempt(app.test_client(), login, "WRONGPASS2").status_code == 401
    evaluators.resend(db, online, evaluator(db, login), wording(app, PUBLIC_URL))
    db.commit()
    new = passwords(db, online)[login]
    assert evaluator(db, login).failed_logins == 3
    assert [attempt(app.test_client(), login, "WRONGPASS2").status_code for _ in range(2)] == [401, 423]
    assert attempt(app.test_client(), login, new).status_code == 423


def test_a_reissue_unlocks_with_a_new_password(app, db, online, account):
    login, old = account
    for _ in range(5):
        attempt(app.test_client(), login, "WRONGPASS2")
    assert evaluator(db, login).locked_at is not None
    evaluators.reissue(db, online, evaluator(db, login), wording(app, PUBLIC_URL))
    db.commit()
    new = passwords(db, online)[login]
    assert attempt(app.test_client(), login, old).status_code == 401  # the old one is gone
    assert attempt(app.test_client(), login, new).status_code == 303
    assert evaluator(db, login).failed_logins == 0


# Both pages that read the logged-in evaluator (evaluator.logged_in) end a session
# alike: the login page and the ballot page.
READS = ["/e/login", "/e/ballot"]


def still_in(client, page: str) -> bool:
    """Whether `page` still finds the evaluator logged in."""
    response = client.get(page)
    if page == "/e/login":  # a logged-in evaluator is sent on to the ballot
        return response.status_code == 303
    if response.status_code == 303:
        assert response.headers["Location"].endswith("/e/login")
        return False
    assert response.status_code == 200 and 'name="csrf_token"' in text(response)
    return True


@pytest.mark.parametrize("page", READS)
def test_a_new_password_ends_a_session_opened_with_the_old_one(app, db, online, account, page):
    client = app.test_client()
    login, _ = account
    assert attempt(client, *account).status_code == 303
    assert still_in(client, page)
    time.sleep(0.01)  # the reissue happens after the login
    evaluators.reissue(db, online, evaluator(db, login), wording(app, PUBLIC_URL))
    db.commit()
    assert not still_in(client, page)
    assert "evaluator" not in in_session(client)


@pytest.mark.parametrize("page", READS)
def test_an_idle_session_ends(client, app, db, online, account, page):
    assert attempt(client, *account).status_code == 303
    idle = app.config["EVALUATOR_IDLE_MINUTES"] * 60
    with client.session_transaction() as session:
        session["evaluator_seen"] = int(time.time()) - idle + 60  # a minute to go
    assert still_in(client, page)  # and the clock restarts
    assert in_session(client)["evaluator_seen"] > time.time() - 120
    with client.session_transaction() as session:
        session["evaluator_seen"] = int(time.time()) - idle - 1
    assert not still_in(client, page)
    assert "evaluator" not in in_session(client)
    login_page = client.get("/e/login")
    assert login_page.status_code == 200 and "网络评价登录" in text(login_page)


@pytest.mark.parametrize("page", READS)
def test_a_locked_account_ends_its_session(client, db, online, account, page):
    assert attempt(client, *account).status_code == 303
    found = evaluator(db, account[0])
    found.locked_at = utcnow()
    db.commit()
    assert not still_in(client, page) and "evaluator" not in in_session(client)


def test_after_the_ballot_a_login_says_it_is_in(client, db, online, account):
    found = evaluator(db, account[0])
    db.add(BallotCast(evaluator_id=found.id, round_id=online.id, cast_hour=utcnow().replace(minute=0, second=0, microsecond=0)))
    db.commit()
    response = attempt(client, *account)
    assert response.status_code == 409 and "选票已经提交" in text(response)
    assert "evaluator" not in in_session(client)
    # While the password is live, a wrong one still says only that it is wrong.
    wrong = attempt(client, account[0], "WRONGPASS2")
    assert wrong.status_code == 401 and "选票已经提交" not in text(wrong) and WRONG in text(wrong)
    # The ballot consumes the password (services.ballots): the login still says why.
    found = evaluator(db, account[0])
    found.password_hash = None
    db.commit()
    for password in (account[1], "WRONGPASS2"):
        again = attempt(client, account[0], password)
        assert again.status_code == 409 and "选票已经提交" in text(again)
    assert attempt(client, "ZZZZZZZZ", account[1]).status_code == 401


def test_no_login_before_the_accounts_go_out_or_after_the_close(client, app, db, campaign):
    online = make_round(db, campaign)
    assert attempt(client, "ABCDEFGH", "ABCDEFGHJK").status_code == 401  # nobody has a password yet
    evaluators.import_representatives(db, online, "姓名,类别,手机号码\n张三,基层干部,14700000001\n".encode(), "r.csv")
    db.commit()
    secrets = issue(app, db, online)
    [(login, password)] = secrets.items()
    online = db.get(OnlineRound, online.id)
    online.status = RoundStatus.draft
    db.commit()
    assert attempt(client, login, password).status_code == 403
    online.status, online.closes_at = RoundStatus.open, utcnow() - timedelta(seconds=1)
    db.commit()
    over = attempt(client, login, password)
    assert over.status_code == 410 and "已经截止" in text(over)
    assert "evaluator" not in in_session(client)


def test_logout(client, online, account):
    assert attempt(client, *account).status_code == 303
    out = client.post("/e/logout")
    assert out.status_code == 303 and out.headers["Location"].endswith("/e/login")
    assert "evaluator" not in in_session(client)
    assert "您已退出登录" in text(client.get("/e/login"))


def test_an_empty_form_is_refused(client, online):
    response = client.post("/e/login", data={"login": "", "password": ""})
    assert response.status_code == 422 and "请输入短信中的账号" in text(response)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_login_needs_the_csrf_token(client, online, account, app_config):
    refused = attempt(client, *account)
    assert refused.status_code == 400 and "页面已过期" in text(refused)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text(client.get("/e/login"))).group(1)
    response = client.post("/e/login", data={"login": account[0], "password": account[1], "csrf_token": token})
    assert response.status_code == 303


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "EVALUATOR_LOGIN_LIMIT": "3 per minute"}])
def test_logins_are_limited_per_account_first(client, db, online, secrets, app_config):
    (first, _), (second, password) = sorted(secrets.items())[:2]
    statuses = [attempt(client, first, "WRONGPASS2").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert "过于频繁" in text(attempt(client, first.lower(), "WRONGPASS2"))  # the same account, typed otherwise
    assert evaluator(db, first).failed_logins == 3  # refused before the password is checked
    # Another evaluator behind the same carrier address is not held up.
    assert attempt(client, second, password).status_code == 303


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "EVALUATOR_ADDRESS_LIMIT": "5 per minute"}])
def test_logins_are_limited_per_address_too(client, online, app_config):
    statuses = [attempt(client, f"ABCDEFG{c}", "WRONGPASS2").status_code for c in "23456789"[:6]]
    assert statuses == [401] * 5 + [429]


def test_the_evaluators_address_leads_to_the_login_then_to_the_ballot(client, online, account):
    out = client.get("/e/")
    assert out.status_code == 303 and out.headers["Location"].endswith("/e/login")  # not logged in
    assert attempt(client, *account).status_code == 303
    page = client.get("/e/")
    assert page.status_code == 303 and page.headers["Location"].endswith("/e/ballot")
