"""The online round's evaluators: login with the one-time password.

Contract used by voting/online/ballot_views.py: after login the Flask session holds
`evaluator` (the Evaluator's id, an int) and `evaluator_seen` (epoch seconds of the
last request, refreshed by `logged_in()`); `logged_in()` returns the logged-in
evaluator as plain columns read without a transaction (a LoggedIn), or None (absent,
idle longer than EVALUATOR_IDLE_MINUTES, locked, its password reissued since the
login, or its round not open). The session also holds `evaluator_login` (epoch
seconds of the login), which ends a session when the office sends a new password.

- `GET /e/login` the form; `POST /e/login` checks the login name and password
  (services.evaluators.authenticate): a wrong name and a wrong password get the same
  answer (401), a locked account its own (423), a ballot already in its own (409).
  The 401 says how many tries are left, counted by this browser's session per login
  name typed, never read from the account: a count from the database would tell a
  login that exists (its count goes down, across cookie jars too) from one that does
  not, which the one answer for both is there to hide.
  Success starts a fresh session (everything in the old one is dropped) and sends to
  the ballot (303).
- `GET /e/` sends to the ballot when logged in, else to the login (303).
- `POST /e/logout` ends it.

Login attempts are limited per login name first (EVALUATOR_LOGIN_LIMIT) and
generously per address (EVALUATOR_ADDRESS_LIMIT): many phones share one carrier
address. The pages work without JavaScript. Like the citizens' pages they send
`Referrer-Policy: no-referrer`, so they check the CSRF token without CSRFProtect's
Referer rule (voting/web/public.py).
"""
from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import datetime

from flask import (
    Blueprint,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as visit
from flask_limiter.util import get_remote_address
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from sms.tokens import normalize_code
from voting.core import db
from voting.core.extensions import limiter
from voting.core.clock import aware
from voting.core.db import get_session
from voting.core.errors import DomainError
from voting.core.forms import Form
from voting.online import ballots, evaluators
from voting.online.ballots import SeatRound
from voting.online.evaluators import MAX_FAILED_LOGINS, AccountLockedError, LoginFailedError
from voting.web.public import make_public, message_page

bp = Blueprint("evaluator", __name__)

SESSION_KEY = "evaluator"
SEEN_KEY = "evaluator_seen"
LOGIN_AT_KEY = "evaluator_login"
# Wrong tries from this browser: [[keyed digest of the login name typed, count], ...],
# the latest name last, at most TRIES_KEPT names (see _wrong_login).
TRIES_KEY = "evaluator_tries"
TRIES_KEPT = 4
# The idle clock restarts at most this often (the session cookie is rewritten then).
SEEN_RESOLUTION_SECONDS = 30
TOO_MANY = "登录尝试过于频繁，请稍等几分钟后再试。"
PRIVACY = "选票不记录您的姓名、账号和手机号码，被评单位看不到谁参加了评价，也看不到您的选择。"


class LoginForm(Form):
    login = StringField("账号", validators=[InputRequired("请输入短信中的账号。"), Length(max=32, message="账号是 8 位字母和数字。")])
    password = PasswordField("密码", validators=[InputRequired("请输入短信中的密码。"), Length(max=64, message="密码是 10 位字母和数字。")])


# ---- the logged-in evaluator -----------------------------------------------------------------


def _forget() -> None:
    for key in (SESSION_KEY, SEEN_KEY, LOGIN_AT_KEY):
        visit.pop(key, None)


def _session_evaluator() -> int | None:
    """The evaluator id this browser's session holds, unless it has been idle too long."""
    evaluator_id = visit.get(SESSION_KEY)
    if not isinstance(evaluator_id, int) or isinstance(evaluator_id, bool):
        return None
    seen = visit.get(SEEN_KEY)
    idle = float(current_app.config["EVALUATOR_IDLE_MINUTES"]) * 60
    if not isinstance(seen, (int, float)) or isinstance(seen, bool) or time.time() - seen > idle:
        _forget()
        return None
    return evaluator_id


def _still_valid(locked_at: datetime | None, round_open: bool, password_issued_at: datetime | None) -> bool:
    """Whether the session's evaluator, as just read, may go on (not locked, round
    open, no new password since the login); if so, the idle clock restarts."""
    logged_in = visit.get(LOGIN_AT_KEY)
    issued = aware(password_issued_at)
    if (locked_at is not None or not round_open
            # the office sent a new password since: this session was opened with the old one
            or isinstance(logged_in, (int, float)) and issued is not None and issued.timestamp() > logged_in):
        _forget()
        return False
    now = time.time()
    if now - visit[SEEN_KEY] >= SEEN_RESOLUTION_SECONDS:  # else the cookie stays as it is: no Set-Cookie
        visit[SEEN_KEY] = int(now)
    return True


@dataclass(frozen=True)
class LoggedIn:
    """The logged-in evaluator as the pages need it (from ballots.seat_of: plain
    columns, one statement, no transaction around it)."""

    id: int
    login: str
    online: SeatRound
    has_voted: bool


def logged_in() -> LoggedIn | None:
    """The logged-in evaluator (a LoggedIn), or None: absent, idle longer than
    EVALUATOR_IDLE_MINUTES, locked, its password reissued since the login, or its round
    not open. Refreshes `evaluator_seen`. Nothing is locked: a write that depends on it
    decides again in the database (ballots.store_ballot)."""
    evaluator_id = _session_evaluator()
    if evaluator_id is None:
        return None
    seat = ballots.seat_of(get_session(), evaluator_id)
    if seat is None:
        _forget()
        return None
    if not _still_valid(seat.locked_at, ballots.is_open(seat.online), seat.password_issued_at):
        return None
    return LoggedIn(seat.id, seat.login, seat.online, seat.has_voted)


# ---- rate-limit keys and limits ---------------------------------------------------------------


def _account_key() -> str:
    login = normalize_code(request.form.get("login", ""))[:32]
    return f"evaluator-login:{login}" if login else f"evaluator-login-blank:{get_remote_address()}"


def _account_limit() -> str:
    return current_app.config["EVALUATOR_LOGIN_LIMIT"]


def _address_limit() -> str:
    return current_app.config["EVALUATOR_ADDRESS_LIMIT"]


# ---- pages, headers and errors ----------------------------------------------------------------


def _login_page(form: LoginForm, status: int = 200, error: str | None = None):
    return render_template("online/evaluator_login.html", form=form, error=error, notices=get_flashed_messages(),
                           privacy=PRIVACY), status


make_public(
    bp, message_page,
    csrf_message="页面已过期，请重新输入账号和密码登录。",
    unexpected_message="系统暂时出现问题，请稍后重新登录再试。",
    csrf_page=lambda: _login_page(LoginForm(formdata=None), 400, "页面已过期，请重新输入账号和密码登录。"),
    too_many_page=lambda message: _login_page(LoginForm(formdata=None), 429, message),
)


# ---- login and logout -------------------------------------------------------------------------


def _wrong_login(message: str, login: str) -> str:
    """The answer to a wrong login name or password (one answer for both) with the
    tries left: MAX_FAILED_LOGINS less the 401s this browser's session has had for this
    login name. Only from what the browser sent, so that an unknown name and a wrong
    password still read the same, try after try and cookie jar after cookie jar. The
    database's count can be higher (tries from another phone or browser, or from an
    earlier visit whose cookie is gone): the message says those count too, and the
    lock (423) is always the database's."""
    key = current_app.secret_key
    digest = hmac.new(key.encode() if isinstance(key, str) else bytes(key or b""),
                      normalize_code(login)[:32].encode(), "sha256").hexdigest()[:16]
    held = visit.get(TRIES_KEY)
    tries = [pair for pair in held if _is_tries(pair)] if isinstance(held, list) else []
    wrong = next((n for name, n in tries if name == digest), 0) + 1
    tries = [pair for pair in tries if pair[0] != digest][-(TRIES_KEPT - 1):] + [[digest, wrong]]
    visit[TRIES_KEY] = tries
    left = MAX_FAILED_LOGINS - wrong
    rule = f"连续输错 {MAX_FAILED_LOGINS} 次账号将被锁定"
    if left > 0:
        return f"{message}还可以再试 {left} 次；{rule}（在别的手机或浏览器上输错的也算在内）。"
    return f"{message}{rule}。"


def _is_tries(pair: object) -> bool:
    return (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
            and isinstance(pair[1], int) and not isinstance(pair[1], bool) and 0 <= pair[1] < 1000)


@bp.get("/e/login")
def login_page():
    if logged_in() is not None:
        return redirect(url_for("ballot.ballot_page"), 303)
    return _login_page(LoginForm(formdata=None))


@bp.post("/e/login")
@limiter.limit(_account_limit, key_func=_account_key, error_message=TOO_MANY)
@limiter.limit(_address_limit, error_message=TOO_MANY)
def login():
    form = LoginForm()
    if not form.validate_on_submit():
        return _login_page(form, 422)
    try:
        evaluator = evaluators.authenticate(get_session(), form.login.data, form.password.data)
    except (LoginFailedError, AccountLockedError) as error:
        db.keep_writes()  # the wrong password counts, though the login fails (docs/rules.md §4.9)
        message = _wrong_login(str(error), form.login.data) if isinstance(error, LoginFailedError) else str(error)
        return _login_page(form, error.status, message)
    except DomainError as error:  # the ballot is in, or the round is not open
        _forget()
        return message_page(error.status, "无法登录", str(error))
    # A fresh session: nothing of what this browser held before (another evaluator, a
    # citizen's invitation, a staff login) carries over into the evaluator's.
    visit.clear()
    now = time.time()
    visit[SESSION_KEY] = evaluator.id
    visit[SEEN_KEY] = int(now)
    visit[LOGIN_AT_KEY] = now
    return redirect(url_for("ballot.ballot_page"), 303)


@bp.get("/e/")
def home():
    """The evaluators' address: the ballot when logged in, else the login."""
    if logged_in() is None:
        return redirect(url_for(".login_page"), 303)
    return redirect(url_for("ballot.ballot_page"), 303)


@bp.post("/e/logout")
def logout():
    _forget()
    flash("您已退出登录。")
    return redirect(url_for(".login_page"), 303)
