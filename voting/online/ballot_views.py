"""The online round's ballot, its receipt, the public receipt check and the published
results (docs/rules.md §1 steps 6-7, §4).

- `GET /e/ballot` (logged-in evaluator, see voting.online.evaluator_views): every candidate in
  a neutral order, each 满意 / 基本满意 / 不满意 with 基本满意 preselected, each row
  with an anchor (candidate-<section id>). From static/ballot.js: live counters in a
  bar at the bottom of the screen that refuse one 满意 or 不满意 too many as it is
  picked, the list of the picks with links to their rows, and a draft kept across
  reloads; the page works without it (the counts then checked here only).
  `POST /e/ballot` stores the one ballot (ballots.store_ballot), logs the evaluator
  out and sends to `/e/done`, which shows the receipt code (and, with the script, a
  button that copies it).
- `GET /receipt` shows a form; `POST /receipt` says whether a receipt's ballot is in
  (never its marks). The code goes in the form's body, not the address, so it stays
  out of access logs, the history and the Referer: nothing on the server ties the
  address that checked a receipt to a ballot.
- `GET /results/<year>`: the final lists as the review office published them.

Secrecy: nothing here logs, and the ballot carries no session: after a ballot the
browser's session keeps only the receipt code, on the evaluator's own phone.

Every response says `Referrer-Policy: no-referrer` and `Cache-Control: no-store`; as on
the citizens' pages, the blueprint checks the CSRF token with their check, without
Flask-WTF's strict Referer rule (a page that sends no Referer would fail it on HTTPS).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask import session as visit
from flask_limiter.util import get_remote_address
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from sms.tokens import normalize_code
from voting.core import db
from voting.jobs import jobs
from voting.core.extensions import limiter
from voting.core.db import get_session
from voting.core.errors import DomainError
from voting.core.forms import Form
from voting.survey.models import Choice
from voting.core.numbers import whole_number
from voting.online import ballots
from voting.scores import scorecards
from voting.online.ballots import AlreadyCastError, BadChoiceError, BallotInvalidError, NoCandidatesError
from voting.tasks import MOVE_BALLOTS
from voting.online.evaluator_views import LoggedIn, logged_in
from voting.web.public import make_public

bp = Blueprint("ballot", __name__)

LOGIN_PATH = "/e/login"
FIELD = "c"  # a candidate's field: c<section id>
BALLOT_LIMIT = "60 per minute"
RECEIPT_LIMIT = "30 per minute;300 per hour"
TOO_MANY = "操作过于频繁，请稍等一分钟后再试。"
# What holds (README, "Secrecy: its limits"): a ballot is sealed until 20 or more wait,
# then shuffled with them into the box without name, account or time.
PRIVACY = ("您的选票与您的账号分开保存：选票先加密封存，待收齐至少 20 张后与其他选票一起打乱顺序放入票箱，"
           "票箱中的选票没有您的姓名、账号和提交时间。此后评议办和管理数据库的人都只能知道它是同一批 20 张以上选票中的一张，"
           "查不出哪一张是您的。")


# ---- the blueprint's own CSRF check, headers and error pages ---------------------------------


def _page(status: int, title: str, message: str, link: tuple[str, str] | None = None):
    return render_template("online/ballot_message.html", title=title, message=message, status=status, link=link), status


make_public(
    bp, _page,
    csrf_message="页面已过期或校验未通过，请刷新页面后重新提交。",
    # Logged with the path only: never the form (a ballot) nor the session (an evaluator).
    unexpected_message="系统暂时出现问题，您的选票可能没有提交。请稍后重新登录查看；如已提交，登录时会提示。",
)


def _evaluator_key() -> str:
    evaluator_id = visit.get("evaluator")
    return f"evaluator:{evaluator_id}" if isinstance(evaluator_id, int) else f"no-evaluator:{get_remote_address()}"


# ---- the ballot ---------------------------------------------------------------------------------


def _already():
    return _page(409, "选票已提交", str(AlreadyCastError()), (url_for(".receipt_check"), "查询回执"))


def _sent() -> list[tuple[int, str]]:
    """The form's candidate fields (c<section id>) as sent. A name of FIELD and digits
    of any script is one; its id is read as every number from outside is
    (voting.core.numbers), so "c²", "c٣" or an id past the id columns' range is refused
    (400) rather than guessed at. A field sent twice is refused before this
    (voting.web.public)."""
    sent = []
    for key, value in request.form.items():
        if not (key.startswith(FIELD) and key[len(FIELD):].isdigit()):
            continue  # the CSRF token
        section_id = whole_number(key[len(FIELD):])
        if section_id is None:
            raise DomainError(f"选票中的“{key[:40]}”不是有效的候选科室，请刷新页面后重新提交。")
        sent.append((section_id, value))
    return sent


def _read_marks() -> list[tuple[int, Choice]]:
    """The sent marks; a value that is not one of the three choices is refused (the
    service refuses a candidate sent twice, or one not on the ballot, by name)."""
    try:
        return [(sid, Choice(value)) for sid, value in _sent()]
    except ValueError:
        raise BadChoiceError() from None


def _rows(candidates: tuple[ballots.BallotCandidate, ...], chosen: dict[int, str]) -> Markup:
    """The ballot's rows of three radio buttons (templates/online/ballot_rows.html), `chosen`
    checked, else 基本满意. Rendered apart from the page so that the untouched ballot's
    rows are made once per candidate list and kept (_candidates), not on every page:
    their 330 inputs take about 2 ms of template work, more than the rest of the page.
    No context processor runs for them."""
    template = current_app.jinja_env.get_template("online/ballot_rows.html")
    return Markup(template.render(candidates=candidates, chosen=chosen, preselected=Choice.basic.value,
                                  choices=[(c.value, c.label) for c in Choice], field=FIELD))


def _ballot_page(round_id: int, year: int, evaluator_id: int, listed: _Listed, rules, chosen: dict[int, str],
                 error: str | None = None, status: int = 200):
    candidates = listed.candidates
    if chosen:
        counts = {c.value: 0 for c in Choice}
        for candidate in candidates:
            counts[chosen.get(candidate.section_id, Choice.basic.value)] += 1
        rows = _rows(candidates, chosen)
    else:  # every evaluator of the round gets the same untouched ballot: made once per list
        counts = {c.value: len(candidates) if c is Choice.basic else 0 for c in Choice}
        rows = listed.fresh_rows
    return render_template(
        "online/ballot.html", year=year, candidates=candidates, rows=rows, rules=rules, chosen=chosen, counts=counts,
        choices=[(c.value, c.label) for c in Choice], field=FIELD, error=error, privacy=PRIVACY,
        draft_key=f"ballot-draft:{round_id}:{evaluator_id}", restore=error is None,
    ), status


# The candidate list of an open round, per process: fixed before the round opens and
# never changed while it is open (scorecards.unfix_candidates refuses), so the ids a
# ballot is checked against cannot go stale. The names and the order come from the
# section list, which the office could re-import meanwhile: re-read after this long.
CANDIDATES_FRESH_SECONDS = 60.0


@dataclass(frozen=True)
class _Listed:
    read_at: float  # time.monotonic()
    candidates: tuple[ballots.BallotCandidate, ...]
    fresh_rows: Markup  # the untouched ballot's rows


def _candidates(online: ballots.SeatRound) -> _Listed:
    cache = current_app.extensions.setdefault("pingyi.ballot_candidates", {})
    now = time.monotonic()
    held = cache.get(online.id)
    if held is None or now - held.read_at > CANDIDATES_FRESH_SECONDS:
        listed = tuple(ballots.ballot_candidates(get_session(), online.campaign_id))
        if not listed:
            raise NoCandidatesError()
        held = cache[online.id] = _Listed(now, listed, _rows(listed, {}))
    return held


@bp.route("/e/ballot", methods=["GET", "POST"])
@limiter.limit(BALLOT_LIMIT, key_func=_evaluator_key, error_message=TOO_MANY)
def ballot_page():
    # The evaluator as plain columns, one statement without a transaction or a lock
    # (evaluator.logged_in, ballots.seat_of): a POST's store decides again in the database. None also
    # when the round is not open: the login page says why.
    seat = logged_in()
    if seat is None:
        return redirect(LOGIN_PATH, 303)
    if seat.has_voted:  # as read; concurrent submits: store_ballot
        return _already()
    online = seat.online
    listed = _candidates(online)
    rules = ballots.ballot_rules(online.rules, len(listed.candidates))
    if request.method == "GET":
        return _ballot_page(online.id, online.year, seat.id, listed, rules, {})
    return _cast_ballot(seat, listed, rules)


def _cast_ballot(seat: LoggedIn, listed: _Listed, rules: ballots.BallotRules):
    """The marks checked here, then ballots.store_ballot, where the database decides
    whether the round still takes the ballot and whether it is the evaluator's first."""
    online = seat.online
    try:
        chosen = ballots.check_marks(listed.candidates, rules, _read_marks())
    except BallotInvalidError as error:
        sent = {sid: value for sid, value in _sent() if value in Choice._value2member_map_}  # shown again
        return _ballot_page(online.id, online.year, seat.id, listed, rules, sent, str(error), 422)
    try:
        stored = ballots.store_ballot(get_session(), seat.id, online.id, chosen)
    except AlreadyCastError:  # also the loser of concurrent submits: the first ballot stands
        return _already()
    if stored.move_due:  # enough sealed ballots wait: a worker moves them into the ballot box
        app = current_app._get_current_object()
        db.after_commit(lambda: jobs.later(app, MOVE_BALLOTS, round_id=online.id))
    receipt = stored.receipt
    # The evaluator's part is over: the browser keeps only the receipt.
    for key in ("evaluator", "evaluator_seen", "evaluator_login"):
        visit.pop(key, None)
    visit["receipt"] = receipt
    return redirect(url_for(".done"), 303)


@bp.get("/e/done")
def done():
    receipt = visit.get("receipt")
    if not isinstance(receipt, str) or not ballots.is_receipt(receipt):
        return _page(404, "没有回执", "这里只在提交选票后显示回执码。如已提交，可在回执查询页查询。",
                     (url_for(".receipt_check"), "查询回执"))
    return render_template("online/ballot_done.html", receipt=ballots.grouped(receipt))


# ---- the public receipt check -------------------------------------------------------------------


class ReceiptForm(Form):
    code = StringField("回执码", validators=[InputRequired("请输入 16 位回执码。"), Length(max=64, message="回执码是 16 位字母和数字。")])


def _is_get() -> bool:
    return request.method == "GET"


@bp.route("/receipt", methods=["GET", "POST"])
@limiter.limit(RECEIPT_LIMIT, exempt_when=_is_get, error_message="查询过于频繁，请稍后再试。")
def receipt_check():
    """GET: the form; POST: whether that receipt's ballot is in. Changes nothing."""
    if request.method == "GET":
        return render_template("online/receipt_check.html", form=ReceiptForm(formdata=None))
    form = ReceiptForm()
    if not form.validate_on_submit():
        return render_template("online/receipt_check.html", form=form), 422
    if not ballots.is_receipt(form.code.data):
        error = "回执码是 16 位字母和数字（不含 0、O、1、I、L），请核对后重新输入。"
        return render_template("online/receipt_check.html", form=form, error=error), 422
    found = ballots.check_receipt(get_session(), form.code.data)
    if found is None:
        error = "没有找到这个回执码。请核对后重新输入；如确认无误，请联系县千人评议办。"
        return render_template("online/receipt_check.html", form=form, error=error), 404
    return render_template("online/receipt_check.html", form=ReceiptForm(formdata=None), found=found,
                           code=ballots.grouped(normalize_code(form.code.data)))


# ---- the published results ----------------------------------------------------------------------


@bp.get("/results/<int:year>")
def results(year: int):
    campaign, online = scorecards.published_results(get_session(), year)
    lists = [(result.label, online.published.get(result.value, [])) for result in scorecards.PUBLISHED_LISTS]
    return render_template("online/results.html", campaign=campaign, online=online, lists=lists)
