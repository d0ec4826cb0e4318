"""Guessing a staff password or code, on SQLite and PostgreSQL (voting/staff/users.py,
LoginPolicy; the settings STAFF_LOGIN_*): counted per account in the database, whatever
address the guesses come from; after 5 failures in a row each attempt waits (30 s,
doubling, at most 15 min; an earlier one gets 429, its password unchecked); 20 lock the
account until an admin unlocks it (page or `pingyi users unlock`, audited). A name with
no active account is answered exactly alike. Concurrent guesses lose no count and get no
extra checks. And the client address the per-address limit counts: X-Forwarded-For only
as far as FLASK_PROXY_FIX says."""
from __future__ import annotations

import re
import threading
from datetime import datetime, timezone

import pyotp
import pytest
from sqlalchemy import select, update
from werkzeug.middleware.proxy_fix import ProxyFix

from tests.conftest import PASSWORD, login, make_app
from tests.security.common import csrf_of
from tests.support.web import text
from tests.staff.test_staff_security import T0, clock  # noqa: F401 - the staff clock's fixture
from voting.core.config import ConfigError
from voting.audit.models import AuditEntry
from voting.schema import Base
from voting.staff.models import Role, User
from voting.staff import users

# T0 (tests.staff.test_staff_security) is 2027-01-15 08:00:00 UTC, 16:00:00 in Asia/Shanghai.
WRONG = "用户名或密码错误。"
WAIT = "为了账号安全，请在"
LOCKED = "已被锁定"
NEW_PASSWORD = "another horse battery"


@pytest.fixture
def hash_checks(monkeypatch):
    """How many passwords were checked (an account's or the dummy hash)."""
    checked = []
    real = users.check_password_hash

    def counting(stored: str, password: str) -> bool:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(users, "check_password_hash", counting)
    return checked


def account(db, username: str = "admin") -> User:
    db.rollback()
    db.expire_all()
    return db.scalar(select(User).where(User.username == username))


def attempt(app, username: str, password: str, address: str | None = None, client=None):
    """One login from a new browser (and, behind a proxy, a new client address), with
    the login page's CSRF token when the app asks for one."""
    client = client or app.test_client()
    headers = {"X-Forwarded-For": address} if address else {}
    data = {"username": username, "password": password}
    if app.config.get("WTF_CSRF_ENABLED", True):
        data["csrf_token"] = csrf_of(text(client.get("/login", headers=headers)))
    return client.post("/login", data=data, headers=headers)


def logged_in(client) -> bool:
    return client.get("/office/").status_code == 200


@pytest.mark.parametrize("app_config", [{"PROXY_FIX": 1, "RATELIMIT_ENABLED": True}])
def test_forty_addresses_cannot_guess_one_account(clock, app, db, admin, hash_checks, app_config):
    statuses, bodies = [], []
    for n in range(40):
        response = attempt(app, "admin", f"guess number {n}", f"203.0.113.{n + 1}")
        statuses.append(response.status_code)
        bodies.append(text(response))
    assert statuses == [401] * 5 + [429] * 35
    assert len(hash_checks) == 5  # the early ones were refused unchecked...
    assert account(db).failed_logins == 5  # ...and not counted
    assert all(WRONG in b for b in bodies[:4]) and f"已连续 5 次登录失败，{WAIT} 16:00:30（30 秒后）再试" in bodies[4]
    assert all(f"{WAIT} 16:00:30" in b for b in bodies[5:])
    # Even the right password waits, from yet another address.
    browser = app.test_client()
    response = browser.post("/login", data={"username": "admin", "password": PASSWORD},
                            headers={"X-Forwarded-For": "198.51.100.99"})
    # (Flask-Limiter's headers are on here: it raises Retry-After to its own window's end.)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 30
    assert "登录失败次数过多" in text(response) and not logged_in(browser)
    clock.advance(30)
    assert attempt(app, "admin", PASSWORD, "198.51.100.100").status_code == 302
    assert account(db).failed_logins == 0 and account(db).next_login_at is None  # the right password starts again


def test_the_wait_grows_then_the_account_locks_until_an_admin_unlocks_it(clock, app, db, admin, runner):
    waits = []
    for failure in range(1, 21):
        response = attempt(app, "admin", "wrong password")
        assert response.status_code == (423 if failure == 20 else 401), failure
        due = account(db).next_login_at.replace(tzinfo=timezone.utc)
        wait = due - datetime.fromtimestamp(clock.now, timezone.utc)
        waits.append(int(wait.total_seconds()))
        if failure < 20 and waits[-1]:
            early = attempt(app, "admin", "wrong password")
            assert early.status_code == 429 and int(early.headers["Retry-After"]) == waits[-1]
            clock.advance(waits[-1] - 1)
            assert attempt(app, "admin", PASSWORD).status_code == 429  # one second early: the right one too
            clock.advance(1)
    assert waits[:19] == [0, 0, 0, 0, 30, 60, 120, 240, 480] + [900] * 10
    locked = account(db)
    assert locked.failed_logins == 20 and locked.locked_at is not None
    assert LOCKED in text(response) and "解锁" in text(response)
    # Locked: the right password, any time later, is refused unchecked.
    clock.advance(7 * 24 * 3600)
    response = attempt(app, "admin", PASSWORD)
    assert response.status_code == 423 and LOCKED in text(response) and "工作人员账号" in text(response)
    # A password reset does not unlock: that is an act of its own.
    users.reset_password(db, locked)
    locked.password_hash = users.generate_password_hash(NEW_PASSWORD)
    db.commit()
    assert attempt(app, "admin", NEW_PASSWORD).status_code == 423
    assert account(db).failed_logins == 20
    # Unlocked from the command line: counted again from zero, and audited.
    result = runner.invoke(args=["users", "unlock", "admin"])
    assert result.exit_code == 0 and "已解锁 admin（此前连续 20 次登录失败）" in result.output
    assert account(db).failed_logins == 0 and account(db).locked_at is None
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.unlock"))
    assert entry.actor == "cli" and entry.detail["username"] == "admin" and entry.detail["failed_logins"] == 20
    browser = app.test_client()
    assert login(browser, "admin", NEW_PASSWORD).status_code == 302 and logged_in(browser)
    assert runner.invoke(args=["users", "unlock", "admin"]).output.strip() == "admin 没有被锁定，无需解锁。"
    result = runner.invoke(args=["users", "unlock", "nobody"])
    assert result.exit_code == 1 and "没有账号 nobody" in result.output


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True, "STAFF_LOGIN_LOCK_FAILURES": 3,
                                         "STAFF_LOGIN_FREE_FAILURES": 3}])
def test_an_admin_unlocks_on_the_users_page(clock, app, db, admin, app_config):
    users.create_user(db, "op", PASSWORD, Role.operator)
    db.commit()
    for _ in range(3):
        attempt(app, "op", "wrong password")
    assert attempt(app, "op", PASSWORD).status_code == 423
    boss = app.test_client()
    assert attempt(app, "admin", PASSWORD, client=boss).status_code == 302
    page = text(boss.get("/office/users/"))
    assert "已锁定（连续 3 次登录失败）" in page
    op = account(db, "op")
    assert f'action="/office/users/{op.id}/unlock"' in page
    assert boss.post(f"/office/users/{op.id}/unlock").status_code == 400  # no CSRF token: refused
    assert boss.get(f"/office/users/{op.id}/unlock").status_code == 405
    assert account(db, "op").locked_at is not None
    response = boss.post(f"/office/users/{op.id}/unlock", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302
    assert "已解锁 op" in text(boss.get("/office/users/"))
    assert account(db, "op").failed_logins == 0
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.unlock"))
    assert entry.actor == "admin" and entry.detail == {"user_id": op.id, "username": "op", "failed_logins": 3,
                                                       "locked": True}
    assert attempt(app, "op", PASSWORD).status_code == 302
    # Only the review office's admins unlock.
    operator = app.test_client()
    assert attempt(app, "op", PASSWORD, client=operator).status_code == 302
    token = csrf_of(text(operator.get("/office/")))
    response = operator.post(f"/office/users/{op.id}/unlock", data={"csrf_token": token})
    assert response.status_code == 403


def test_a_name_without_an_active_account_is_answered_alike(clock, app, db, admin, hash_checks):
    users.create_user(db, "retired", PASSWORD, Role.operator).active = False
    db.commit()

    def script(username: str) -> tuple[list, list]:
        seen, checks = [], []
        for n in range(24):
            for _ in range(2):  # the second one at once: early once the waits begin
                before = len(hash_checks)
                response = attempt(app, username, f"guess {n}")
                body = re.sub(r"<[^>]+>", " ", text(response)).replace(username, "NAME")
                seen.append((response.status_code, response.headers.get("Retry-After"), " ".join(body.split())))
                checks.append(len(hash_checks) - before)
            clock.advance(900)
        return seen, checks

    start = clock.now
    answers = {}
    for username in ("admin", "nobody", "retired"):
        clock.now = start
        answers[username] = script(username)
    assert answers["nobody"] == answers["admin"] and answers["retired"] == answers["admin"]
    # Two at once, then 15 min later: four free failures, then each pair's second is
    # early, until the 20th failure locks.
    assert [status for status, _, _ in answers["admin"][0]] == [401] * 4 + [401, 429] * 15 + [423] * 14
    assert answers["admin"][1] == [1] * 4 + [1, 0] * 15 + [1] + [0] * 13  # a hash per attempt taken, none else
    assert account(db).locked_at is not None


def a_wrong_code(secret: str, moment: float) -> str:
    near = {pyotp.TOTP(secret).at(moment + offset) for offset in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def test_wrong_codes_count_and_the_password_does_not_reset_them(clock, app, db, admin):
    admin.totp_secret = secret = pyotp.random_base32()
    db.commit()
    browser = app.test_client()

    def wrong_code() -> str:
        return a_wrong_code(secret, clock.now)

    assert login(browser, "admin").status_code == 302
    assert account(db).failed_logins == 0  # the password alone counts for nothing yet
    for failure in range(1, 5):
        response = browser.post("/login/2fa/verify", data={"code": wrong_code()})
        assert response.status_code == 401 and account(db).failed_logins == failure
    response = browser.post("/login/2fa/verify", data={"code": wrong_code()})  # the 5th: the half-login ends
    assert account(db).failed_logins == 5
    # The right password again does not wipe out the wrong codes: it waits like any attempt...
    response = login(browser, "admin")
    assert response.status_code == 429 and f"{WAIT} 16:00:30" in text(response)
    clock.advance(30)
    assert login(browser, "admin").status_code == 302 and account(db).failed_logins == 5
    response = browser.post("/login/2fa/verify", data={"code": wrong_code()})
    assert response.status_code == 401 and "验证码不正确" in text(response) and f"{WAIT} 16:01:30" in text(response)
    assert account(db).failed_logins == 6
    # ...and so does a code: even the right one, early, is refused unchecked.
    right = pyotp.TOTP(secret).at(clock.now)
    response = browser.post("/login/2fa/verify", data={"code": right})
    assert response.status_code == 429 and account(db).totp_last_step is None
    clock.advance(60)
    response = browser.post("/login/2fa/verify", data={"code": pyotp.TOTP(secret).at(clock.now)})
    assert response.status_code == 302 and logged_in(browser)
    assert account(db).failed_logins == 0


@pytest.mark.parametrize("app_config", [{"STAFF_LOGIN_LOCK_FAILURES": 2, "STAFF_LOGIN_FREE_FAILURES": 1}])
def test_wrong_codes_lock_the_account(clock, app, db, admin, app_config):
    admin.totp_secret = secret = pyotp.random_base32()
    db.commit()
    browser = app.test_client()
    assert login(browser, "admin").status_code == 302
    assert browser.post("/login/2fa/verify", data={"code": a_wrong_code(secret, clock.now)}).status_code == 401
    clock.advance(30)
    response = browser.post("/login/2fa/verify", data={"code": a_wrong_code(secret, clock.now)})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert LOCKED in text(browser.get("/login")) and account(db).locked_at is not None
    assert login(browser, "admin").status_code == 423


# ---- at the same moment ---------------------------------------------------------------------


def at_once(count: int, work) -> list:
    """`work(i)` in `count` threads released together; the results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.parametrize("app_config", [{"STAFF_LOGIN_FREE_FAILURES": 99, "STAFF_LOGIN_LOCK_FAILURES": 100}])
def test_concurrent_wrong_passwords_are_all_counted(clock, app, db, admin, app_config):
    statuses = at_once(16, lambda i: attempt(app, "admin", f"wrong {i}").status_code)
    assert statuses == [401] * 16
    assert account(db).failed_logins == 16


def test_guesses_arriving_together_when_due_get_one_check(clock, app, db, admin, hash_checks):
    db.execute(update(User).where(User.id == admin.id)
               .values(failed_logins=5, next_login_at=datetime.fromtimestamp(clock.now, timezone.utc)))
    db.commit()
    statuses = at_once(12, lambda i: attempt(app, "admin", f"wrong {i}").status_code)
    assert sorted(statuses) == [401] + [429] * 11
    assert len(hash_checks) == 1 and account(db).failed_logins == 6


# ---- the settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", [{"STAFF_LOGIN_LOCK_FAILURES": 101}, {"STAFF_LOGIN_LOCK_FAILURES": 0},
                                     {"STAFF_LOGIN_FREE_FAILURES": 21}, {"STAFF_LOGIN_DELAY_SECONDS": -1},
                                     {"STAFF_LOGIN_DELAY_SECONDS": 1000}, {"STAFF_LOGIN_FREE_FAILURES": "five"}])
def test_login_limits_that_cannot_work_stop_the_start(tmp_path, setting):
    with pytest.raises(ConfigError, match="STAFF_LOGIN_"):
        make_app("sqlite://", tmp_path, **setting)


# ---- the client address ------------------------------------------------------------------------


def built(database_url: str, tmp_path, **config):
    app = make_app(database_url, tmp_path, **config)
    Base.metadata.create_all(app.extensions["pingyi.engine"])
    return app


def _limited(app, forwarded: list[str]) -> list[int]:
    """Wrong logins (each for another unknown name: only the per-address limit of 3 a
    minute can refuse them), one per X-Forwarded-For value."""
    return [attempt(app, f"nobody{i}", "wrong password", value).status_code for i, value in enumerate(forwarded)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_forwarded_headers_are_believed_only_as_far_as_proxy_fix_says(database_url, tmp_path):
    limits = {"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}
    # A count of proxies, or no start at all.
    for value in ("yes", True, -1, 6, "1.5", [1]):
        with pytest.raises(ConfigError, match="FLASK_PROXY_FIX"):
            make_app(database_url, tmp_path, PROXY_FIX=value, **limits)
    for value, hops in ((None, 0), (False, 0), ("", 0), (0, 0), ("2", 2), (5, 5)):
        wrapped = make_app(database_url, tmp_path, PROXY_FIX=value).wsgi_app
        assert (wrapped.x_for if isinstance(wrapped, ProxyFix) else 0) == hops, value

    # No proxy: X-Forwarded-For is the client's own say, and is not read.
    app = built(database_url, tmp_path / "0", **limits)
    assert _limited(app, [f"203.0.113.{i}" for i in range(4)]) == [401, 401, 401, 429]
    # One proxy: only the entry it appended, the last, is the client's address.
    app = built(database_url, tmp_path / "1", PROXY_FIX=1, **limits)
    assert _limited(app, [f"203.0.113.{i}, 198.51.100.7" for i in range(4)]) == [401, 401, 401, 429]
    assert _limited(app, [f"198.51.100.{i}" for i in range(10, 14)]) == [401] * 4
    # Two proxies: the second entry from the right; whatever the client put before it
    # and whichever inner proxy answered, the same address.
    app = built(database_url, tmp_path / "2", PROXY_FIX=2, **limits)
    assert _limited(app, [f"203.0.113.{i}, 198.51.100.7, 10.0.0.{i}" for i in range(4)]) == [401, 401, 401, 429]
    # Fewer entries than proxies (a client that reached the inner proxy directly): the
    # connection's own address, not the forged one.
    app = built(database_url, tmp_path / "3", PROXY_FIX=2, **limits)
    assert _limited(app, [f"203.0.113.{i}" for i in range(4)]) == [401, 401, 401, 429]
