"""The public rating page (评议二维码扫码后打开的页面): `/r/<token>`, what a code's QR
code holds (voting/ratings/codes.py signs it, voting/ratings/views.py prints it on the
posters). A citizen opens it on a phone, often in a chat app's browser: the page is
light (the citizens' stylesheet, a small one of its own, an optional script) and works
the same without JavaScript on a 320-pixel screen.

- `GET /r/<token>`: the place (the section or the window, its unit; a case code's
  reference) and the form: the five levels, what went wrong (a 差评's categories; with
  JavaScript shown only once a 差评 is chosen, without it always shown), a text, an
  optional phone number. Writes nothing to the database (a QR scanner's preview opens
  the address too); it gives the browser its rating cookie (`DEVICE_COOKIE`, random,
  a year), which the rating's per-device limit counts by.
- `POST /r/<token>`: the form checked (ratings.checked_*: the form again with the
  message and the citizen's choices, 400). Without a phone the rating is stored
  (ratings.submit_scanned, which reads the code with the rating's first statement) and
  the browser sent to the thanks (303). With one, a code is
  sent (verification.request_code: a refused send is the form again, 429, with its
  message) and the second step shown: the masked number, the code's box, "重新获取验证码"
  and "不验证手机，直接提交评价"; the rating travels sealed in a hidden field
  (voting/ratings/pending.py), stored only when the citizen is done.
- `POST /r/<token>/confirm`: the step's three buttons. The code checked
  (verification.check_code: a wrong try is counted and kept, `keep_writes`, before the
  refusal is shown, 400, or 429 once the day's tries are used), then the rating stored
  with the confirmed phone (303 to the thanks); a new code sent; or the rating stored
  without the phone.
- `GET /r/<token>/thanks`: ratings.THANKS, or THANKS_POOR after a 差评, the same
  whether the rating counted or not; it reads nothing (a refresh stores nothing twice).

An address that is not one of ours is a 404, a stopped code a 410 (on every page but
the thanks, which checks the signature only), each with its message for the citizen.
The blueprint's CSRF check, refusal of a repeated field (the categories are one field
each for that reason), `no-referrer` and `no-store` headers and error pages are the
public pages' (voting/web/public.py).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from sms.phones import PhoneError, mask_phone, normalize_phone
from voting.core import db
from voting.core.db import get_session
from voting.core.errors import DomainError
from voting.core.extensions import limiter
from voting.core.models import utcnow
from voting.ratings import codes, pending, places, ratings, verification
from voting.ratings.models import RATING_TEXT_MAX, RatingCode
from voting.ratings.pending import PendingRating
from voting.ratings.verification import CodeRefusedError, TooManyRequestsError, VerificationSettings
from voting.web.public import make_public, message_page

bp = Blueprint("ratings", __name__)

ADDRESS_LIMIT = "600 per minute"  # generous: many phones share one carrier address
DEVICE_LIMIT = "30 per minute"  # the submits of one rating cookie
TOO_MANY = "操作过于频繁，请稍等一分钟后再试。"

DEVICE_COOKIE = "rating_device"
DEVICE_COOKIE_PATH = "/r/"
DEVICE_COOKIE_AGE = timedelta(days=365)
CATEGORY_FIELD = "category_"  # one checkbox field per category: category_attitude, …
PHONE_FIELD_MAX = 32  # a number with +86, spaces and dashes; anything longer is not one
TEXT_ECHO_MAX = 4 * RATING_TEXT_MAX  # what the form shows again of a text too long
PRIVACY = "评价可以匿名。填写的手机号码只用于核实和回访，被评单位看不到您的手机号码。"
_MINUTES = int(verification.VALIDITY.total_seconds() // 60)
SENT = f"验证码已发送至 {{phone}}，{_MINUTES} 分钟内有效。"
RESENT = f"新的验证码已发送至 {{phone}}，{_MINUTES} 分钟内有效，之前的验证码已失效。"
CHOOSE_ACTION = "请点击“确认并提交评价”“重新获取验证码”或“不验证手机，直接提交评价”中的一项。"


make_public(
    bp, message_page,
    csrf_message="页面已过期，请重新扫描窗口张贴的二维码。",
    unexpected_message="系统暂时出现问题，请稍后重新扫描二维码再试。",
)


@bp.errorhandler(codes.UnknownCodeError)
def _unknown(error: codes.UnknownCodeError):
    return message_page(404, "二维码无效", str(error))


@bp.errorhandler(codes.RevokedCodeError)
def _revoked(error: codes.RevokedCodeError):
    return message_page(410, "二维码已停用", str(error))


# ---- the device cookie and the limits' keys --------------------------------------------------

def _device() -> str | None:
    value = request.cookies.get(DEVICE_COOKIE)
    return value if value and ratings.valid_device(value) else None


def _remember_device(response):
    """Give the browser its rating cookie if it has none (not a database write)."""
    if _device() is None:
        response.set_cookie(DEVICE_COOKIE, secrets.token_urlsafe(24), max_age=int(DEVICE_COOKIE_AGE.total_seconds()),
                            path=DEVICE_COOKIE_PATH, secure=request.is_secure, httponly=True, samesite="Lax")
    return response


def _device_key() -> str:
    return f"rating-device:{_device()}"


# ---- reading the form ------------------------------------------------------------------------

@dataclass(frozen=True)
class RateInput:
    """The form as sent (what the page shows again) and, when it is right, its checked
    values (`level` …); `problems` the messages of what is wrong."""

    level: str = ""
    categories: tuple[str, ...] = ()
    text: str = ""
    phone: str = ""
    problems: tuple[str, ...] = ()
    checked: tuple[int, list[str], str, str | None] | None = None  # level, categories, text, phone


def _read_form() -> RateInput:
    form = request.form
    raw_level = form.get("level", "")
    chosen = [name[len(CATEGORY_FIELD):] for name, value in form.items() if name.startswith(CATEGORY_FIELD) and value]
    raw_text = form.get("text", "")
    raw_phone = form.get("phone", "").strip()
    shown = RateInput(level=raw_level[:2], categories=tuple(c for c in chosen if c in ratings.CATEGORIES),
                      text=raw_text[:TEXT_ECHO_MAX], phone=raw_phone[:PHONE_FIELD_MAX])
    problems: list[str] = []
    level: int | None = None
    categories: list[str] = []
    text = ""
    phone: str | None = None
    try:
        level = ratings.checked_level(raw_level)
    except DomainError as error:
        problems.append(str(error))
    if level is not None:  # the categories asked for depend on the level
        try:
            categories = ratings.checked_categories(level, chosen)
        except DomainError as error:
            problems.append(str(error))
    try:
        text = ratings.checked_text(raw_text)
    except DomainError as error:
        problems.append(str(error))
    if raw_phone:
        try:
            if len(raw_phone) > PHONE_FIELD_MAX:
                raise PhoneError("不是有效的手机号码")
            phone = normalize_phone(raw_phone)
        except PhoneError as error:
            problems.append(f"手机号码有误：{error}。")
    if problems or level is None:
        return replace(shown, problems=tuple(problems))
    return replace(shown, checked=(level, categories, text, phone))


# ---- pages -----------------------------------------------------------------------------------

def _rating_settings() -> ratings.RatingSettings:
    return ratings.RatingSettings.from_config(current_app.config)


def _verification_settings() -> VerificationSettings:
    return VerificationSettings.from_config(current_app.config)


def _form_page(token: str, place: places.Place, shown: RateInput, status: int = 200, error: str | None = None):
    problems = shown.problems + ((error,) if error else ())
    response = current_app.make_response((render_template(
        "ratings/rate.html", token=token, place=place, form=shown,
        problems=problems, levels=list(ratings.LEVELS.items()), categories=list(ratings.CATEGORIES.items()),
        poor=sorted(ratings.POOR), category_field=CATEGORY_FIELD, text_max=RATING_TEXT_MAX, privacy=PRIVACY,
    ), status))
    return _remember_device(response)


def _step_page(token: str, code: RatingCode, rating: PendingRating, *, status: int = 200, sent: str = SENT,
               error: str | None = None):
    session = get_session()
    return render_template(
        "ratings/rate_confirm.html", token=token, code=code, place=places.place_of(session, code),
        sealed=pending.seal(session, code, rating, utcnow()), sent=sent.format(phone=mask_phone(rating.phone)),
        error=error, poor=rating.level in ratings.POOR,
    ), status


def _store(token: str, code: RatingCode, level: int, categories: list[str] | tuple[str, ...], text: str,
           phone: str | None):
    """The rating stored (counted or not, the citizen is not told), then the thanks."""
    ratings.submit_rating(get_session(), code, level, categories, text, phone=phone, device=_device(),
                          network=request.remote_addr, now=utcnow(), settings=_rating_settings())
    return _to_thanks(token, level)


def _to_thanks(token: str, level: int):
    return redirect(url_for(".thanks", token=token, poor=1 if level in ratings.POOR else None), 303)


# ---- the routes ------------------------------------------------------------------------------

@bp.get("/r/<token>")
@limiter.limit(ADDRESS_LIMIT, error_message=TOO_MANY)
def rate(token: str):
    """The form for a live code; 404 for an unknown address, 410 for a stopped code."""
    return _form_page(token, places.scanned(get_session(), token), RateInput())


@bp.post("/r/<token>")
@limiter.limit(ADDRESS_LIMIT, error_message=TOO_MANY)
@limiter.limit(DEVICE_LIMIT, key_func=_device_key, exempt_when=lambda: _device() is None, error_message=TOO_MANY)
def rate_submit(token: str):
    """Store the rating (no phone), or send the phone its code and ask for it."""
    session = get_session()
    shown = _read_form()
    if shown.checked is None:
        code = codes.code_from_token(session, token)  # an unknown or stopped code before the form's mistakes
        return _form_page(token, places.place_of(session, code), shown, 400)
    level, categories, text, phone = shown.checked
    if phone is None:  # stored at once, the code read (404, 410) by the rating's first statement
        ratings.submit_scanned(session, token, level, categories, text, device=_device(), network=request.remote_addr,
                               now=utcnow(), settings=_rating_settings())
        return _to_thanks(token, level)
    code = codes.code_from_token(session, token)
    try:
        verification.request_code(session, phone, request.remote_addr, utcnow(), _verification_settings())
    except DomainError as error:  # a limit reached (429), a number that is not a mainland mobile
        return _form_page(token, places.place_of(session, code), shown, error.status, str(error))
    return _step_page(token, code, PendingRating(level, tuple(categories), text, phone))


@bp.post("/r/<token>/confirm")
@limiter.limit(ADDRESS_LIMIT, error_message=TOO_MANY)
@limiter.limit(DEVICE_LIMIT, key_func=_device_key, exempt_when=lambda: _device() is None, error_message=TOO_MANY)
def rate_confirm(token: str):
    """The second step's buttons: confirm the code (the default: the Enter key),
    resend it, or submit without the phone."""
    session = get_session()
    code = codes.code_from_token(session, token)
    now = utcnow()
    rating = pending.open_sealed(session, code, request.form.get("pending"), now)
    action = request.form.get("action", "confirm")
    if action == "skip":
        return _store(token, code, rating.level, rating.categories, rating.text, None)
    if action == "resend":
        try:
            verification.request_code(session, rating.phone, request.remote_addr, now, _verification_settings())
        except DomainError as error:
            return _step_page(token, code, rating, status=error.status, error=str(error))
        return _step_page(token, code, rating, sent=RESENT)
    if action != "confirm":
        return _step_page(token, code, rating, status=400, error=CHOOSE_ACTION)
    try:
        verification.check_code(session, rating.phone, request.form.get("code", "")[:64], now,
                                _verification_settings())
    except (CodeRefusedError, TooManyRequestsError) as error:
        db.keep_writes()  # the wrong try counts (docs/rules.md §7.2)
        return _step_page(token, code, rating, status=error.status, error=str(error))
    return _store(token, code, rating.level, rating.categories, rating.text, rating.phone)


@bp.get("/r/<token>/thanks")
@limiter.limit(ADDRESS_LIMIT, error_message=TOO_MANY)
def thanks(token: str):
    """The thanks, the same whether the rating counted or not; reads nothing but the
    address's signature."""
    codes.rating_tokens().read(token)
    poor = request.args.get("poor") == "1"
    return render_template("ratings/rate_thanks.html", message=ratings.THANKS_POOR if poor else ratings.THANKS)

