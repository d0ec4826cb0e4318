"""Staff login (Flask-Login), roles, the login rate limit (Flask-Limiter; both
extensions are voting/core/extensions.py's), and the staff session's hardening:

- Timeouts: a staff session ends after STAFF_IDLE_MINUTES without a request and, in
  any case, STAFF_ABSOLUTE_HOURS after the login; the next page is the login page with
  the reason. The session keeps `staff_login_at` and `staff_seen` (epoch seconds);
  `staff_seen` is rewritten at most once a minute, not on every request.
- The second factor (TOTP, RFC 6238) for the review office's admins: each enrols on
  /office/account/2fa (the secret shown as text, as an otpauth:// URI and as a QR
  code of that URI, inline SVG, for an authenticator app, confirmed with a current
  code). Once enrolled, the password alone does not log in: it leaves a
  half-logged-in state in the session (`staff_2fa`, good for 5 minutes and 5 codes)
  and /login/2fa asks for the 6-digit code. A code is good once: the time step it
  belongs to is stored on the user and a code of that step or an earlier one is
  refused. Wrong codes count against the login rate limit (one budget with the
  password form). REQUIRE_OFFICE_2FA: an admin without the second
  factor sees the enrolment page before anything else. `pingyi users reset-2fa NAME`
  removes it.
- Headers: every response that is not one of the public pages' (those set their own,
  voting/web/public.py; voting/core/extensions.py records which requests are public)
  gets a content security policy (scripts and styles from this site only: the
  templates carry no inline script, style or event handler),
  X-Frame-Options DENY, nosniff, Referrer-Policy same-origin, and in production HSTS.
- Guessing (voting/staff/users.py, LoginPolicy; the settings STAFF_LOGIN_*): besides
  the per-address rate limit, every account counts its wrong passwords and codes in
  the database, whatever address they come from: after a few the next attempt must
  wait (429, the time to come back named; nothing is checked meanwhile), after more
  the account is locked (423) until an admin unlocks it (users page, `pingyi users
  unlock NAME`). A name with no active account gets the same answers at the same
  points, counted in the rate-limit storage: the answers never tell whether an
  account exists.
- Ending sessions on the server: the id a session (or a remember cookie) carries is
  "user id:session epoch" (User.get_id); logout, a password reset, deactivating or
  reactivating, and an admin's "end all logins" raise the account's epoch, and the
  user loader refuses a session of an earlier one, so every copy of an old cookie
  stops working at once. A session also needs its login time (LOGIN_AT): a remember
  cookie alone is no login. The CSRF token is made anew at each login.
- `next`: where a login goes afterwards is only ever a path of this site
  (`local_path`), read as a browser would read it.
"""
from __future__ import annotations

import hmac
import re
import time
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import wraps
from urllib.parse import unquote, urlsplit

import pyotp
import segno
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_required, login_user, logout_user
from limits.storage import Storage, storage_from_string
from markupsafe import Markup
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from voting.core import db
from voting.core.db import get_session
from voting.core.extensions import csrf, limiter, login_manager
from voting.core.forms import EmptyForm, Form
from voting.staff.models import Role, User
from voting.staff import users

bp = Blueprint("auth", __name__)

# The staff session's own keys (besides Flask-Login's).
LOGIN_AT = "staff_login_at"
SEEN = "staff_seen"
PENDING = "staff_2fa"  # {"user": id, "at": epoch seconds, "tries": wrong codes so far}
ENROL_SECRET = "staff_2fa_secret"  # the secret shown on the enrolment page, until confirmed
STAFF_KEYS = (LOGIN_AT, SEEN, PENDING, ENROL_SECRET)
SEEN_EVERY = 60  # seconds: `staff_seen` is not rewritten more often
PENDING_SECONDS = 5 * 60
PENDING_TRIES = 5
SECOND_FACTOR_ROLES = (Role.admin,)
TOTP_ISSUER = "千人评议平台"
QR_TITLE = "两步验证二维码：用手机验证器扫描，添加本平台的账号"
LOGIN_ENDPOINTS = {"auth.login", "auth.second_step", "auth.verify_code"}
# What an admin who must enrol first may still open.
ENROL_ENDPOINTS = {"auth.two_factor", "auth.enrol", "auth.logout", "auth.login", "auth.second_step",
                   "auth.verify_code", "static"}

STAFF_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000"

LOGIN_LIMIT_MESSAGE = "登录尝试过于频繁，请稍后再试。"
ENDED = "您的登录已在服务器上结束（例如在别处退出了登录、密码被重设、账号被停用，或管理员结束了该账号的全部登录），请重新登录。"
_SESSION_ID = re.compile(r"([0-9]{1,18}):([0-9]{1,18})")


def now() -> float:
    """The clock of staff sessions, TOTP codes and login waits (the tests replace it)."""
    return time.time()


def _moment() -> datetime:
    return datetime.fromtimestamp(now(), timezone.utc)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """The user a session names, if that session may still stand: an active account,
    the session made in its current epoch (see User.get_id), and made by a login here
    (a remember cookie alone carries no login time)."""
    found = _SESSION_ID.fullmatch(user_id)
    if found is None or not _number(session.get(LOGIN_AT)):
        return None
    return users.session_user(get_session(), int(found.group(1)), int(found.group(2)))


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its signing serializer made once per set of keys
    rather than twice per request (making one JSON-encodes a probe object each time)."""

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        made = getattr(self, "_made", None)
        if made is None or made[0] != keys:
            made = self._made = (keys, super().get_signing_serializer(app))
        return made[1]


def login_policy(config) -> users.LoginPolicy:  # a Flask config
    """The STAFF_LOGIN_* settings; ConfigError, naming the setting, when they cannot work."""
    from voting.core.config import ConfigError

    def number(name: str, kind: type, low: float, high: float, why: str = "") -> float:
        value = config.get(name)
        try:
            found = kind(value)
        except (TypeError, ValueError):
            found = None
        if (isinstance(value, bool) or found is None or found != float(value) or not low <= found <= high):
            raise ConfigError(f"FLASK_{name} 应为 {low:g} 到 {high:g} 之间的{'整数' if kind is int else '数'}{why}，"
                              f"现在是 {value!r}")
        return found

    lock = number("STAFF_LOGIN_LOCK_FAILURES", int, 1, users.MAX_LOCK_FAILURES,
                  "（NIST SP 800-63B 5.2.2：同一账号连续失败不超过 100 次）")
    longest = number("STAFF_LOGIN_MAX_DELAY_SECONDS", float, 0, 24 * 3600)
    return users.LoginPolicy(
        free_failures=number("STAFF_LOGIN_FREE_FAILURES", int, 0, lock),
        delay_seconds=number("STAFF_LOGIN_DELAY_SECONDS", float, 0, longest),
        max_delay_seconds=longest,
        lock_failures=lock,
        zone=config["TIMEZONE"],
    )


def init_app(app: Flask) -> None:
    """The staff session on `app`, whose extensions (voting/core/extensions.py) the app
    factory has initialised."""
    # Read once, refused at start-up rather than at the first wrong password.
    app.extensions["pingyi.login_policy"] = login_policy(app.config)
    app.extensions["pingyi.login_strangers"] = _Strangers.of(app)
    app.session_interface = SessionInterface()
    app.before_request(_staff_session)
    app.after_request(_staff_headers)
    app.register_blueprint(bp)


def _public_request() -> bool:
    """A citizen's or an evaluator's page, or a webhook: their blueprints and views are
    exempt from the global CSRF check (voting/web/public.py, voting/outbox/views.py),
    which records them as public (voting/core/extensions.py), and set their own headers."""
    return csrf.is_public(current_app, request.endpoint)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _end_staff_session() -> None:
    logout_user()
    for key in STAFF_KEYS:
        session.pop(key, None)


def _staff_session():
    """Before every request of a browser with a staff login: the timeouts, then (with
    REQUIRE_OFFICE_2FA) the enrolment an admin still owes."""
    if request.endpoint == "static" or "_user_id" not in session:
        return None
    config = current_app.config
    moment = now()
    login_at, seen = session.get(LOGIN_AT), session.get(SEEN)
    public = _public_request()
    if not _number(login_at) or not _number(seen):
        reason = "登录状态已失效，请重新登录。"
    elif moment - login_at > float(config["STAFF_ABSOLUTE_HOURS"]) * 3600:
        reason = f"登录已超过 {config['STAFF_ABSOLUTE_HOURS']} 小时，为了安全，请重新登录。"
    elif moment - seen > float(config["STAFF_IDLE_MINUTES"]) * 60:
        reason = f"超过 {config['STAFF_IDLE_MINUTES']} 分钟没有操作，为了安全，请重新登录。"
    else:
        reason = None
    if reason:
        _end_staff_session()
        if public or request.endpoint in LOGIN_ENDPOINTS:
            return None  # a citizen's page goes on; the login pages show themselves
        flash(reason, "info")
        return redirect(url_for("auth.login", next=_here()))
    if public:
        return None  # a citizen's page opened in the same browser is no staff activity
    if not current_user.is_authenticated:
        # Ended on the server (the epoch was raised) or the account is gone or off.
        _end_staff_session()
        if request.endpoint in LOGIN_ENDPOINTS:
            return None
        flash(ENDED, "info")
        return redirect(url_for("auth.login", next=_here()))
    if moment - seen >= SEEN_EVERY:
        session[SEEN] = int(moment)
    if (config["REQUIRE_OFFICE_2FA"] and request.endpoint not in ENROL_ENDPOINTS
            and current_user.is_authenticated and current_user.role in SECOND_FACTOR_ROLES
            and not current_user.totp_secret):
        flash("请先启用两步验证（评议办管理员必须启用），再使用其他页面。", "info")
        return redirect(url_for("auth.two_factor"))
    return None


def _here() -> str | None:
    """Where to come back to after the login: this page, for a GET."""
    return request.full_path.rstrip("?") if request.method == "GET" else None


def _staff_headers(response):
    if _public_request() or "Content-Security-Policy" in response.headers:
        return response  # a public page's own headers (voting/web/public.py), unchanged
    for name, value in STAFF_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config.get("PRODUCTION"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


class LoginForm(Form):
    username = StringField("用户名", validators=[DataRequired("请填写用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请填写密码"), Length(max=256)])


def _digits(value: str | None) -> str | None:
    """Without spaces, full-width digits (a Chinese input method's) as ASCII ones."""
    return "".join(unicodedata.normalize("NFKC", value).split()) if value else value


class CodeForm(Form):
    code = StringField(
        "验证码（验证器中的 6 位数字）",
        filters=[_digits],
        validators=[DataRequired("请填写验证码"), Regexp(r"^[0-9]{6}$", message="验证码是 6 位数字")],
    )


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


# One budget per client address for the password form and the code form: every
# password tried counts, and every wrong code.
_login_attempts = limiter.shared_limit(_login_limit, scope="staff-login", methods=["POST"],
                                       error_message=LOGIN_LIMIT_MESSAGE)
_code_attempts = limiter.shared_limit(_login_limit, scope="staff-login", methods=["POST"],
                                      error_message=LOGIN_LIMIT_MESSAGE,
                                      deduct_when=lambda _response: bool(g.get("wrong_code")))


@bp.route("/login", methods=["GET", "POST"])
@_login_attempts
def login():
    if current_user.is_authenticated:
        return redirect(url_for("office.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = users.authenticate(get_session(), form.username.data, form.password.data, policy(), _moment(),
                                      current_app.extensions["pingyi.login_strangers"])
        except users.LoginRefusedError as error:
            db.keep_writes()  # a failure counts although the login fails
            return _refused(error, "staff/login.html", form=form)
        if user.totp_secret:
            session.pop(ENROL_SECRET, None)
            session[PENDING] = {"user": user.id, "epoch": user.session_epoch, "at": int(now()), "tries": 0}
            return redirect(url_for("auth.second_step", next=_safe_next()))
        _log_in(user)
        return redirect(_safe_next() or url_for("office.dashboard"))
    status = 400 if request.method == "POST" else 200
    return render_template("staff/login.html", form=form), status


def policy() -> users.LoginPolicy:
    """This app's STAFF_LOGIN_* settings, as read at start-up."""
    return current_app.extensions["pingyi.login_policy"]


def _refused(error: users.LoginRefusedError, template: str, **context):
    flash(str(error), "error")
    response = make_response(render_template(template, **context), error.status)
    if isinstance(error, users.LoginDelayedError):
        response.headers["Retry-After"] = str(error.seconds)
    return response


def _log_in(user: User) -> None:
    session.pop(PENDING, None)
    # A CSRF token made anew (flask_wtf makes one when the session has none): one seen
    # before the login, or planted in the browser, is not the logged-in session's.
    token_name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(token_name, None)
    g.pop(token_name, None)
    login_user(user)
    session[LOGIN_AT] = session[SEEN] = int(now())


# What browsers take out of a URL before reading it (the WHATWG URL standard): ASCII
# tab and newlines anywhere, C0 controls and spaces at either end. `/\t/evil.example`
# is `//evil.example` to a browser.
_BROWSER_DROPS = re.compile(r"[\t\n\r]")
_C0_OR_SPACE = "".join(chr(code) for code in range(0x21))


def local_path(target: object) -> str | None:
    """`target` (a `next` parameter) as a path of this site, or None. Read as a browser
    reads a Location header (what it drops, dropped), it must start with one "/" and
    hold no scheme, no host, no backslash (a browser reads it as "/"), no control,
    format (zero-width) or non-ASCII space character; and it must stay so once
    NFKC-folded (a full-width "／" is "/") and once percent-decoded again (for a proxy
    that decodes twice)."""
    if not isinstance(target, str):
        return None
    cleaned = _BROWSER_DROPS.sub("", target).strip(_C0_OR_SPACE)
    if all(_plain_path(form) for form in (cleaned, unicodedata.normalize("NFKC", cleaned), unquote(cleaned))):
        return cleaned
    return None


def _plain_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return False
    if not value.isprintable():  # Cc (C0, DEL, C1), Cf (zero-width), Zs but " " (NBSP), Zl, Zp, Co, Cn
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def _safe_next() -> str | None:
    return local_path(request.args.get("next"))


class _Strangers:
    """Failed attempts at names with no active account (users.StrangerAttempts), in the
    rate-limit storage: Redis in production, shared by every worker and server. A name
    is kept only as a keyed hash (a password typed into the name field must not sit in
    Redis), for KEEP_SECONDS after its first failure."""

    KEEP_SECONDS = 7 * 24 * 3600
    EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
    MICROSECOND = timedelta(microseconds=1)

    def __init__(self, storage: Storage, prefix: str, key: bytes) -> None:
        self.storage, self.prefix, self.key = storage, prefix, key

    @classmethod
    def of(cls, app: Flask) -> _Strangers:
        """In the storage the app's rate limits use, keyed by its secret key."""
        config = app.config
        storage = storage_from_string(config.get("RATELIMIT_STORAGE_URI") or "memory://",
                                      **config.get("RATELIMIT_STORAGE_OPTIONS", {}))
        key = hmac.new(str(app.secret_key).encode(), b"staff login names", "sha256").digest()
        return cls(storage, config.get("RATELIMIT_KEY_PREFIX") or "", key)

    def _keys(self, name: str) -> tuple[str, str]:
        digest = hmac.new(self.key, name.encode("utf-8", "surrogatepass"), "sha256").hexdigest()[:32]
        return f"{self.prefix}staff-name:{digest}:failures", f"{self.prefix}staff-name:{digest}:due"

    def state(self, name: str) -> tuple[int, datetime | None]:
        failures_key, due_key = self._keys(name)
        due = self.storage.get(due_key)
        return self.storage.get(failures_key), self.EPOCH + due * self.MICROSECOND if due else None

    def failed(self, name: str, policy: users.LoginPolicy, now: datetime) -> int:
        failures_key, due_key = self._keys(name)
        failures = self.storage.incr(failures_key, self.KEEP_SECONDS)
        due = now + timedelta(seconds=policy.wait_after(failures))
        # The storage keeps counters only: the due time as microseconds since 1970,
        # exact, so that its wait reads to the second as an account's does.
        self.storage.clear(due_key)
        self.storage.incr(due_key, self.KEEP_SECONDS, amount=(due - self.EPOCH) // self.MICROSECOND)
        return failures


def _pending_user() -> User | None:
    """The user who gave the right password and owes the code, if still in time."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not _number(pending.get("at")) or not isinstance(pending.get("user"), int):
        return None
    if not 0 <= now() - pending["at"] <= PENDING_SECONDS or pending.get("tries", 0) >= PENDING_TRIES:
        return None
    user = users.session_user(get_session(), pending["user"], pending.get("epoch"))
    if user is None or not user.totp_secret:
        return None  # gone, off, or its sessions ended since the password (a reset)
    return user


def _start_over(message: str):
    session.pop(PENDING, None)
    flash(message, "info")
    return redirect(url_for("auth.login", next=_safe_next()))


EXPIRED = "验证已过期，请重新输入用户名和密码。"


@bp.get("/login/2fa")
def second_step():
    if current_user.is_authenticated:
        return redirect(url_for("office.dashboard"))
    if _pending_user() is None:
        return _start_over(EXPIRED)
    return _code_page(CodeForm())


def _code_action() -> str:
    return url_for("auth.verify_code", next=_safe_next())


def _code_page(form: CodeForm, status: int = 200):
    return render_template("staff/login_2fa.html", form=form, action=_code_action()), status


def totp_step(secret: str, code: str, moment: float, last_step: int | None) -> tuple[int | None, bool]:
    """The time step whose code `code` is (this step, or one either side for a phone's
    clock that is a little off), and whether it matched only an already used step."""
    totp = pyotp.TOTP(secret)
    current = int(moment // totp.interval)
    used = False
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if last_step is not None and step <= last_step:
                used = True
                continue
            return step, False
    return None, used


@bp.post("/login/2fa/verify")
@_code_attempts
def verify_code():
    if current_user.is_authenticated:
        return redirect(url_for("office.dashboard"))
    user = _pending_user()
    if user is None:
        return _start_over(EXPIRED)
    form = CodeForm()
    step, used, failed = None, False, None
    if form.validate_on_submit():
        database, moment = get_session(), _moment()
        try:
            users.claim_attempt(database, user, policy(), moment)  # a code counts as a password does
        except users.AccountLockedError as error:
            return _start_over(str(error))
        except users.LoginDelayedError as error:
            return _refused(error, "staff/login_2fa.html", form=form, action=_code_action())
        step, used = totp_step(user.totp_secret, form.code.data, now(), user.totp_last_step)
        if step is not None and not users.claim_totp_step(database, user, step):
            step, used = None, True  # another request used this code a moment ago
        if step is not None:
            users.attempt_succeeded(database, user)
            _log_in(user)
            return redirect(_safe_next() or url_for("office.dashboard"))
        failed = users.attempt_failed(database, user, policy(), moment)
        db.keep_writes()  # the wrong code counts although the page says it was wrong (401)
        if isinstance(failed, users.AccountLockedError):
            return _start_over(str(failed))
    g.wrong_code = True
    pending = dict(session[PENDING])
    pending["tries"] = pending.get("tries", 0) + 1
    session[PENDING] = pending
    if pending["tries"] >= PENDING_TRIES:
        return _start_over("验证码错误次数过多，请重新输入用户名和密码。")
    if used:
        flash("这个验证码已经用过了，请等验证器显示下一个验证码后再输入。", "error")
    elif not form.errors:
        flash("验证码不正确，请输入验证器中当前显示的 6 位数字。", "error")
    if isinstance(failed, users.LoginFailedError) and failed.notice:
        flash(failed.notice, "error")
    return _code_page(form, 401)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    if EmptyForm().validate_on_submit():
        # Every session of the account ends, not only this browser's: a copy of this
        # cookie (saved, stolen) must not outlive the logout.
        users.end_sessions(get_session(), current_user._get_current_object())
        _end_staff_session()
        flash("已退出登录。", "info")
    return redirect(url_for("auth.login"))


# ---- enrolment ---------------------------------------------------------------------


def _may_enrol() -> None:
    if current_user.role not in SECOND_FACTOR_ROLES:
        abort(403)


def enrolment_qr(uri: str) -> Markup:
    """The provisioning URI as a QR code in inline <svg> markup, for the phone's
    authenticator to scan. Drawn here and put in the page itself: the secret goes to
    no other server and into no image URL (which an access log or a cache would keep),
    and needs no script; the markup has no style attribute, so the staff CSP allows it.
    Its <title> is the text alternative; the page also shows the secret as text."""
    code = segno.make(uri, error="m", micro=False)
    return Markup(code.svg_inline(scale=4, border=4, dark="#000", light="#fff", title=QR_TITLE,
                                  svgclass="qr", lineclass=None))


def _enrol_page(form: CodeForm, status: int = 200):
    user = current_user
    if user.totp_secret:
        page = render_template("staff/account_2fa.html", enrolled=True)
    else:
        secret = session.get(ENROL_SECRET)
        if not isinstance(secret, str) or not secret:
            secret = session[ENROL_SECRET] = pyotp.random_base32()
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)
        grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
        page = render_template("staff/account_2fa.html", enrolled=False, secret=grouped, uri=uri, qr=enrolment_qr(uri),
                               form=form)
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"  # the secret: never in a cache
    return response


@bp.get("/office/account/2fa")
@login_required
def two_factor():
    """两步验证: the state, or the secret to enrol with."""
    _may_enrol()
    return _enrol_page(CodeForm(formdata=None))


@bp.post("/office/account/2fa/enrol")
@login_required
def enrol():
    _may_enrol()
    if current_user.totp_secret:
        flash("两步验证已经启用。", "info")
        return redirect(url_for("auth.two_factor"))
    secret = session.get(ENROL_SECRET)
    if not isinstance(secret, str) or not secret:
        flash("页面已过期，请重新打开两步验证页面。", "error")
        return redirect(url_for("auth.two_factor"))
    form = CodeForm()
    if not form.validate_on_submit():
        return _enrol_page(form, 400)
    step, _ = totp_step(secret, form.code.data, now(), None)
    if step is None:
        flash("验证码不正确：请检查验证器中添加的密钥和手机的时间，再输入当前显示的 6 位数字。", "error")
        return _enrol_page(form, 400)
    users.enrol_second_factor(get_session(), current_user._get_current_object(), secret, step)
    session.pop(ENROL_SECRET, None)
    flash("两步验证已启用：以后登录时，输入密码后还要输入验证器中的 6 位验证码。", "info")
    return redirect(url_for("office.dashboard"))


def roles_required(*roles: Role) -> Callable:
    """The view needs a logged-in user with one of `roles`; anyone else gets 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
