"""Staff sessions and headers (their hardening), on SQLite and PostgreSQL: cookies
in production, the security headers and content security policy on every staff page
(the public pages keep their own), the idle and absolute timeouts (a fake clock), the
salted scrypt password hashes, and the second factor (TOTP) for the review office's
admins: enrolment, the two-step login, a code good once, the pending state's 5 minutes,
wrong codes against the login rate limit, REQUIRE_OFFICE_2FA, `users reset-2fa`."""
from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from tests.conftest import PASSWORD, login, make_app
from tests.security.world import build, url_of
from voting.staff import auth
from voting import create_app
from voting.staff.auth import STAFF_HEADERS
from voting.core.extensions import csrf
from voting.schema import Base
from voting.staff.models import Role, User
from voting.core.resources import resource_dir
from voting.staff import users
from voting.web.public import SECURITY_HEADERS
from tests.support.web import text

T0 = 1_800_000_000.0  # a multiple of 30: the TOTP step starts here
STRONG_KEY = "k" * 40


class Clock:
    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(auth, "now", fake)
    return fake


def location(response) -> str:
    return response.headers.get("Location", "")


# ---- cookies -------------------------------------------------------------------------


def production_app(database_url: str, tmp_path: Path, **overrides):
    return make_app(database_url, tmp_path, PRODUCTION=True, SECRET_KEY=STRONG_KEY, PHONE_KEY=STRONG_KEY, **overrides)


def test_production_cookies_are_secure_httponly_and_lax(database_url, tmp_path):
    app = production_app(database_url, tmp_path)
    config = app.config
    assert config["SESSION_COOKIE_SECURE"] is True and config["REMEMBER_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True and config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax" and config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    Base.metadata.create_all(app.extensions["pingyi.engine"])
    with app.app_context():
        from voting.core.db import get_session

        users.create_user(get_session(), "admin", PASSWORD, Role.admin)
        get_session().commit()
    response = app.test_client().post("/login", data={"username": "admin", "password": PASSWORD},
                                      base_url="https://localhost")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    app.extensions["pingyi.engine"].dispose()


def test_cookies_outside_production_and_the_operators_own_choice(tmp_path, monkeypatch):
    app = make_app("sqlite://", tmp_path)
    assert app.config["SESSION_COOKIE_SECURE"] is False and app.config["REMEMBER_COOKIE_SECURE"] is False
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    overridden = production_app("sqlite://", tmp_path, SESSION_COOKIE_SECURE=False)
    assert overridden.config["SESSION_COOKIE_SECURE"] is False and overridden.config["REMEMBER_COOKIE_SECURE"] is True
    # The same from the environment, as an operator sets it.
    monkeypatch.setenv("PINGYI_INSTANCE_PATH", str(tmp_path / "env-instance"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite'}")
    for name, value in (("PRODUCTION", "true"), ("SECRET_KEY", STRONG_KEY), ("PHONE_KEY", STRONG_KEY)):
        monkeypatch.setenv(f"FLASK_{name}", value)
    assert create_app().config["SESSION_COOKIE_SECURE"] is True
    monkeypatch.setenv("FLASK_SESSION_COOKIE_SECURE", "false")
    assert create_app().config["SESSION_COOKIE_SECURE"] is False


# ---- headers -------------------------------------------------------------------------


def _public(app, endpoint: str) -> bool:
    return csrf.is_public(app, endpoint)


def _staff_headers_missing(response, production: bool) -> list[str]:
    expected = dict(STAFF_HEADERS)
    if production:
        expected["Strict-Transport-Security"] = auth.HSTS
    return [name for name, value in expected.items() if response.headers.get(name) != value]


@pytest.mark.parametrize("app_config", [{}, {"PRODUCTION": True, "SECRET_KEY": STRONG_KEY, "PHONE_KEY": STRONG_KEY}])
def test_every_staff_page_carries_the_security_headers(app, db, campaign, admin, app_config):
    production = bool(app_config)
    world = build(app, db, campaign, admin)
    params = world.params(db)
    client = app.test_client()
    # Logged out: the login page, and the redirect to it.
    for path in ("/login", "/office/", "/healthz", "/office/no-such-page"):
        response = client.get(path)
        assert _staff_headers_missing(response, production) == [], path
    assert login(client, "admin").status_code == 302
    checked, failures = [], []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or _public(app, rule.endpoint):
            continue
        path = url_of(app, rule, params, method="GET")
        response = client.get(path)
        missing = _staff_headers_missing(response, production)
        if missing or response.status_code >= 500:
            failures.append(f"GET {path}: {response.status_code}, missing {missing}")
        checked.append(rule.rule)
    assert failures == [], "\n".join(failures)
    assert len(checked) >= 30 and "/office/users/" in checked and "/office/account/2fa" in checked
    # A POST's answer too (a redirect, a page with a form error).
    response = client.post("/office/users/", data={"username": "x", "role": "king", "unit": "0"})
    assert response.status_code == 400 and _staff_headers_missing(response, production) == []


@pytest.mark.parametrize("app_config", [{"PRODUCTION": True, "SECRET_KEY": STRONG_KEY, "PHONE_KEY": STRONG_KEY}])
def test_public_pages_keep_their_own_headers(app, client, app_config):
    for path in ("/", "/c", "/e/login", "/receipt"):  # "/": the public landing page
        response = client.get(path)
        assert response.status_code == 200, path
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
        assert "X-Content-Type-Options" not in response.headers and "Strict-Transport-Security" not in response.headers


def test_the_templates_need_nothing_the_policy_forbids():
    """No inline <script>, <style>, style="…" or on…= handler: CSP 'self' would block it."""
    found = []
    folder = resource_dir("templates")
    for template in sorted(folder.rglob("*.html")):
        source = template.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"<style\b", r"\sstyle=", r"\son[a-z]+\s*=", r"javascript:"):
            found += [f"{template.relative_to(folder)}: {m.group(0)}" for m in re.finditer(pattern, source, re.IGNORECASE)]
    assert found == []


# ---- timeouts ------------------------------------------------------------------------


def _seen(client) -> int:
    with client.session_transaction() as session:
        return session[auth.SEEN]


def test_an_idle_staff_session_ends(clock, client, admin):
    assert login(client, "admin").status_code == 302
    clock.advance(30)
    assert client.get("/office/").status_code == 200
    assert _seen(client) == int(T0)  # not rewritten within the minute
    clock.advance(29 * 60)
    assert client.get("/office/").status_code == 200
    assert _seen(client) == int(T0) + 30 + 29 * 60  # rewritten: more than a minute later
    clock.advance(30 * 60)  # exactly the limit: still in
    assert client.get("/office/users/").status_code == 200
    clock.advance(30 * 60 + 1)
    response = client.get("/office/users/")
    assert response.status_code == 302 and location(response) == "/login?next=/office/users/"
    page = client.get(location(response))
    assert "超过 30 分钟没有操作" in text(page) and "请重新登录" in text(page)
    # Logged out for good: the next page asks for the login again, the login lands back.
    assert location(client.get("/office/")).startswith("/login")
    assert login(client, "admin").status_code == 302 and client.get("/office/").status_code == 200


def test_a_staff_session_ends_after_the_absolute_limit(clock, client, admin, app):
    app.config["STAFF_ABSOLUTE_HOURS"] = 2
    assert login(client, "admin").status_code == 302
    for _ in range(5):  # busy: a page every 25 minutes, 125 minutes in all
        clock.advance(25 * 60)
        if clock.now - T0 <= 2 * 3600:
            assert client.get("/office/").status_code == 200
    response = client.get("/office/")
    assert response.status_code == 302 and location(response).startswith("/login")
    assert "登录已超过 2 小时" in text(client.get("/login"))


def test_an_expired_staff_session_does_not_stop_a_public_page(clock, client, admin):
    assert login(client, "admin").status_code == 302
    clock.advance(31 * 60)
    assert client.get("/c").status_code == 200  # the citizen's code page, not the login
    assert location(client.get("/office/")).startswith("/login")


def test_a_session_without_its_times_is_not_a_login(clock, client, admin):
    assert login(client, "admin").status_code == 302
    with client.session_transaction() as session:
        del session[auth.LOGIN_AT]
    response = client.get("/office/")
    assert location(response).startswith("/login") and "请重新登录" in text(client.get(location(response)))


# ---- passwords -----------------------------------------------------------------------


def test_staff_passwords_are_salted_scrypt_hashes(db):
    first = users.create_user(db, "first", PASSWORD, Role.operator)
    second = users.create_user(db, "second", PASSWORD, Role.operator)
    db.commit()
    assert first.password_hash.startswith("scrypt:") and second.password_hash.startswith("scrypt:")
    assert first.password_hash != second.password_hash  # salted
    assert PASSWORD not in first.password_hash
    assert check_password_hash(first.password_hash, PASSWORD) and check_password_hash(second.password_hash, PASSWORD)


# ---- the second factor ---------------------------------------------------------------


def code(secret: str, moment: float) -> str:
    return pyotp.TOTP(secret).at(moment)


def wrong_code(secret: str, moment: float) -> str:
    """A 6-digit code of none of the steps a login accepts at `moment`."""
    near = {code(secret, moment + offset) for offset in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def enrol(client, clock: Clock) -> str:
    """Enrol the logged-in admin through the page; the secret."""
    page = client.get("/office/account/2fa")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="totp-secret"[^>]*>([^<]+)<', text(page)).group(1).replace(" ", "")
    uri = re.search(r'id="totp-uri"[^>]*>([^<]+)<', text(page)).group(1).replace("&amp;", "&")
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    refused = client.post("/office/account/2fa/enrol", data={"code": wrong_code(secret, clock.now)})
    assert refused.status_code == 400 and "验证码不正确" in text(refused)
    assert client.get("/office/account/2fa").get_data(as_text=True).count(secret[:4]) >= 1  # the same secret again
    response = client.post("/office/account/2fa/enrol", data={"code": code(secret, clock.now)})
    assert response.status_code == 302 and location(response) == "/office/"
    assert "两步验证已启用" in text(client.get("/office/"))
    return secret


def test_an_admin_enrols_and_then_logs_in_with_password_and_code(clock, app, admin_client, db, admin):
    secret = enrol(admin_client, clock)
    stored = db.get(User, admin.id)
    db.refresh(stored)
    assert stored.totp_secret == secret and stored.totp_last_step == int(T0 // 30)
    assert "已启用" in text(admin_client.get("/office/account/2fa"))
    assert "两步验证" in text(admin_client.get("/office/users/"))

    browser = app.test_client()
    response = login(browser, "admin")
    assert response.status_code == 302 and location(response) == "/login/2fa"
    assert location(browser.get("/office/")).startswith("/login")  # the password alone is no login
    page = browser.get("/login/2fa")
    assert page.status_code == 200 and "6 位验证码" in text(page)
    # The code that enrolled is used: refused, and so is a wrong one.
    response = browser.post("/login/2fa/verify", data={"code": code(secret, clock.now)})
    assert response.status_code == 401 and "已经用过" in text(response)
    response = browser.post("/login/2fa/verify", data={"code": "12345"})
    assert response.status_code == 401 and "6 位数字" in text(response)
    clock.advance(30)
    response = browser.post("/login/2fa/verify", data={"code": code(secret, clock.now)})
    assert response.status_code == 302 and location(response) == "/office/"
    assert browser.get("/office/").status_code == 200
    # That code again, in another browser with the right password: refused.
    other = app.test_client()
    assert login(other, "admin").status_code == 302
    response = other.post("/login/2fa/verify", data={"code": code(secret, clock.now)})
    assert response.status_code == 401 and "已经用过" in text(response)
    # A phone a step behind still works (the next step's code is not yet used).
    clock.advance(60)
    response = other.post("/login/2fa/verify", data={"code": code(secret, clock.now - 30)})
    assert response.status_code == 302


def test_the_half_login_expires_and_wrong_codes_are_few(clock, app, admin_client, admin):
    secret = enrol(admin_client, clock)
    browser = app.test_client()
    assert login(browser, "admin").status_code == 302
    clock.advance(5 * 60 + 1)
    response = browser.post("/login/2fa/verify", data={"code": code(secret, clock.now)})
    assert response.status_code == 302 and location(response).startswith("/login")
    assert "验证已过期" in text(browser.get("/login"))
    assert location(browser.get("/login/2fa")).startswith("/login")
    # Five wrong codes: the password must be typed again.
    assert login(browser, "admin").status_code == 302
    wrong = wrong_code(secret, clock.now)
    statuses = [browser.post("/login/2fa/verify", data={"code": wrong}).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 302]
    response = browser.post("/login/2fa/verify", data={"code": code(secret, clock.now)})
    assert response.status_code == 302 and location(response).startswith("/login")
    assert location(browser.get("/office/")).startswith("/login")


def test_the_next_page_survives_the_second_step(clock, app, admin_client, admin):
    secret = enrol(admin_client, clock)
    clock.advance(30)
    browser = app.test_client()
    response = browser.post("/login?next=/office/users/", data={"username": "admin", "password": PASSWORD})
    assert location(response) == "/login/2fa?next=/office/users/"
    page = text(browser.get(location(response)))
    assert 'action="/login/2fa/verify?next=/office/users/"' in page
    response = browser.post("/login/2fa/verify?next=/office/users/", data={"code": code(secret, clock.now)})
    assert location(response) == "/office/users/"


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "4 per minute"}])
def test_wrong_codes_count_against_the_login_rate_limit(clock, app, db, admin, app_config):
    admin.totp_secret = secret = pyotp.random_base32()
    db.commit()
    browser = app.test_client()
    assert login(browser, "admin").status_code == 302  # 1
    wrong = wrong_code(secret, clock.now)
    statuses = [browser.post("/login/2fa/verify", data={"code": wrong}).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]  # 2, 3, 4: the budget is spent
    refused = login(browser, "admin")
    assert refused.status_code == 429 and "过于频繁" in text(refused)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "4 per minute"}])
def test_a_right_code_does_not_count_against_the_limit(clock, app, db, admin, app_config):
    admin.totp_secret = secret = pyotp.random_base32()
    db.commit()
    for _ in range(3):
        browser = app.test_client()
        assert login(browser, "admin").status_code == 302
        clock.advance(30)
        assert browser.post("/login/2fa/verify", data={"code": code(secret, clock.now)}).status_code == 302


def test_only_admins_enrol(clock, app, db, admin):
    users.create_user(db, "op", PASSWORD, Role.operator)
    db.commit()
    client = app.test_client()
    assert login(client, "op").status_code == 302
    assert client.get("/office/account/2fa").status_code == 403
    assert client.post("/office/account/2fa/enrol", data={"code": "123456"}).status_code == 403
    assert client.get("/office/account/2fa/enrol").status_code == 405


@pytest.mark.parametrize("app_config", [{"REQUIRE_OFFICE_2FA": True}])
def test_required_second_factor_sends_an_admin_to_enrol_first(clock, app, db, admin_client, admin, app_config):
    users.create_user(db, "op", PASSWORD, Role.operator)
    db.commit()
    for path in ("/office/", "/office/users/", "/office/scores/"):
        response = admin_client.get(path)
        assert response.status_code == 302 and location(response) == "/office/account/2fa", path
    assert "请先启用两步验证" in text(admin_client.get("/office/account/2fa"))
    operator = app.test_client()
    assert login(operator, "op").status_code == 302 and operator.get("/office/").status_code == 200
    enrol(admin_client, clock)
    assert admin_client.get("/office/users/").status_code == 200


def test_reset_2fa_from_the_command_line(clock, app, db, admin, runner):
    admin.totp_secret = pyotp.random_base32()
    admin.totp_last_step = 5
    db.commit()
    result = runner.invoke(args=["users", "reset-2fa", "admin"])
    assert result.exit_code == 0 and "已取消 admin 的两步验证" in result.output
    db.expire_all()
    stored = db.scalar(select(User).where(User.username == "admin"))
    assert stored.totp_secret is None and stored.totp_last_step is None
    client = app.test_client()
    assert login(client, "admin").status_code == 302 and client.get("/office/").status_code == 200
    result = runner.invoke(args=["users", "reset-2fa", "admin"])
    assert result.exit_code == 0 and "没有启用两步验证" in result.output
    result = runner.invoke(args=["users", "reset-2fa", "nobody"])
    assert result.exit_code == 1 and "没有账号 nobody" in result.output


def test_a_code_typed_full_width_or_spaced_is_read(clock, app, db, admin):
    admin.totp_secret = secret = pyotp.random_base32()
    db.commit()
    browser = app.test_client()
    assert login(browser, "admin").status_code == 302
    response = browser.post("/login/2fa/verify", data={"code": "٠١٢٣٤٥"})  # other digits: refused, no error
    assert response.status_code == 401 and "6 位数字" in text(response)
    typed = code(secret, clock.now)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in typed[:3]) + " " + typed[3:]
    assert browser.post("/login/2fa/verify", data={"code": full_width}).status_code == 302
