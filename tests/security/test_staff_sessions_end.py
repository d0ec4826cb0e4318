"""Ending staff sessions on the server, on SQLite and PostgreSQL. The session is a signed
cookie: a copy of it (saved, stolen) is as good as the browser's own until the account's
session epoch is raised (voting/staff/auth.py): by a logout, a password reset, deactivating and
reactivating, an admin's "end all logins". Each case replays a cookie saved before and
is sent to the login page; a remember cookie alone is no login either. And the CSRF
token is made anew at each login."""
from __future__ import annotations

import pyotp
import pytest
from flask_login.utils import encode_cookie
from sqlalchemy import select

from tests.conftest import PASSWORD, login
from tests.security.common import csrf_of
from tests.support.web import text
from voting.staff import auth
from voting.staff.auth import ENDED
from voting.audit.models import AuditEntry
from voting.staff.models import Role, User
from voting.staff import users


@pytest.fixture
def operator(db):
    user = users.create_user(db, "op", PASSWORD, Role.operator)
    db.commit()
    return user


def logged_in_as(app, username: str):
    browser = app.test_client()
    assert login(browser, username).status_code == 302
    assert browser.get("/office/").status_code == 200
    return browser


def saved(browser) -> str:
    """The session cookie's value, as someone who copied it keeps it."""
    return browser.get_cookie("session").value


def replayed(app, cookie: str):
    """A staff page opened with a copy of a session cookie, in another browser."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief, thief.get("/office/")


def assert_sent_to_login(app, cookie: str) -> None:
    thief, response = replayed(app, cookie)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login"), response.status_code
    assert ENDED in text(thief.get(response.headers["Location"]))
    assert thief.get("/office/").headers["Location"].startswith("/login")  # and stays out


def test_a_cookie_copied_before_logout_no_longer_works(app, db, admin):
    browser = logged_in_as(app, "admin")
    other = logged_in_as(app, "admin")  # the same account in a second browser
    cookie = saved(browser)
    assert replayed(app, cookie)[1].status_code == 200  # a copy works while the login stands
    assert browser.post("/logout").status_code == 302
    assert_sent_to_login(app, cookie)
    assert other.get("/office/").headers["Location"].startswith("/login")  # every session of the account
    assert logged_in_as(app, "admin").get("/office/users/").status_code == 200  # a new login works


def test_a_password_reset_ends_the_accounts_sessions(app, db, admin, operator):
    boss = logged_in_as(app, "admin")
    victim = logged_in_as(app, "op")
    cookie = saved(victim)
    response = boss.post(f"/office/users/{operator.id}/password")
    assert response.status_code == 200
    assert_sent_to_login(app, cookie)
    assert victim.get("/office/").status_code == 302
    assert boss.get("/office/").status_code == 200  # the admin's own login stands


def test_deactivating_and_reactivating_ends_the_accounts_sessions(app, db, admin, operator):
    boss = logged_in_as(app, "admin")
    cookie = saved(logged_in_as(app, "op"))
    assert boss.post(f"/office/users/{operator.id}/active").status_code == 302  # off
    assert replayed(app, cookie)[1].status_code == 302
    assert boss.post(f"/office/users/{operator.id}/active").status_code == 302  # on again
    assert_sent_to_login(app, cookie)
    assert logged_in_as(app, "op").get("/office/").status_code == 200


def test_an_admin_ends_every_login_of_an_account(app, db, admin, operator):
    boss = logged_in_as(app, "admin")
    first, second = logged_in_as(app, "op"), logged_in_as(app, "op")
    cookie = saved(first)
    page = text(boss.get("/office/users/"))
    assert f'action="/office/users/{operator.id}/sessions"' in page and "结束全部登录" in page
    assert boss.get(f"/office/users/{operator.id}/sessions").status_code == 405
    response = boss.post(f"/office/users/{operator.id}/sessions")
    assert response.status_code == 302 and "已结束 op 的全部登录" in text(boss.get(response.headers["Location"]))
    assert_sent_to_login(app, cookie)
    assert second.get("/office/").headers["Location"].startswith("/login")
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.end_sessions"))
    assert entry.actor == "admin" and entry.detail == {"user_id": operator.id, "username": "op"}
    assert boss.get("/office/").status_code == 200
    # The admin's own: this browser too, said on the login page.
    response = boss.post(f"/office/users/{admin.id}/sessions")
    assert response.headers["Location"] == "/login" and "已结束您本人的全部登录" in text(boss.get("/login"))
    assert boss.get("/office/").status_code == 302
    # Only the review office's admins end logins.
    operator_browser = logged_in_as(app, "op")
    assert operator_browser.post(f"/office/users/{admin.id}/sessions").status_code == 403


def test_unlocking_keeps_the_accounts_sessions(app, db, admin, operator):
    victim = logged_in_as(app, "op")
    stored = db.get(User, operator.id)
    stored.failed_logins = 3
    db.commit()
    boss = logged_in_as(app, "admin")
    assert boss.post(f"/office/users/{operator.id}/unlock").status_code == 302
    assert victim.get("/office/").status_code == 200


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_new_routes_need_the_csrf_token(app, db, admin, operator, app_config):
    boss = app.test_client()
    page = text(boss.get("/login"))
    boss.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_of(page)})
    victim = app.test_client()
    token = csrf_of(text(victim.get("/login")))
    victim.post("/login", data={"username": "op", "password": PASSWORD, "csrf_token": token})
    victim_cookie = saved(victim)
    assert boss.post(f"/office/users/{operator.id}/sessions").status_code == 400
    assert replayed(app, victim_cookie)[1].status_code == 200  # a forged request ends nothing
    token = csrf_of(text(boss.get("/office/users/")))
    assert boss.post(f"/office/users/{operator.id}/sessions", data={"csrf_token": token}).status_code == 302
    assert_sent_to_login(app, victim_cookie)


def test_a_remember_cookie_alone_is_no_login(app, db, admin):
    """The app sets no remember cookie; one made with the app's key (what Flask-Login
    would load on its own) opens nothing: a session needs its login time and epoch."""
    with app.test_request_context():
        remembered = encode_cookie(admin.get_id())
    browser = app.test_client()
    browser.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), remembered)
    response = browser.get("/office/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert browser.get("/office/users/").status_code == 302


def test_a_half_login_ends_with_a_password_reset(app, db, admin, operator, monkeypatch):
    """The password given, the code not yet: a reset in between voids the half-login."""
    monkeypatch.setattr(auth, "now", lambda: 1_800_000_000.0)
    stored = db.get(User, operator.id)
    stored.totp_secret = secret = pyotp.random_base32()
    db.commit()
    browser = app.test_client()
    assert login(browser, "op").headers["Location"] == "/login/2fa"
    boss = logged_in_as(app, "admin")
    assert boss.post(f"/office/users/{operator.id}/password").status_code == 200
    response = browser.post("/login/2fa/verify", data={"code": pyotp.TOTP(secret).at(1_800_000_000.0)})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert "验证已过期" in text(browser.get("/login")) and browser.get("/office/").status_code == 302


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_csrf_token_is_made_anew_at_login(app, db, admin, app_config):
    browser = app.test_client()
    before_token = csrf_of(text(browser.get("/login")))
    with browser.session_transaction() as session:
        before = session["csrf_token"]
    response = browser.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": before_token})
    assert response.status_code == 302
    after_token = csrf_of(text(browser.get("/office/users/")))
    with browser.session_transaction() as session:
        after = session["csrf_token"]
    assert after != before and after_token != before_token
    # The token of the login page (perhaps planted by someone else) no longer passes.
    assert browser.post("/logout", data={"csrf_token": before_token}).status_code == 400
    assert browser.get("/office/").status_code == 200
    assert browser.post("/logout", data={"csrf_token": after_token}).status_code == 302
