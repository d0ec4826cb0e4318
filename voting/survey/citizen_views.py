"""The citizens' voting pages (docs/rules.md §4): open the SMS link (or type the code),
see the unit, the section and the matter, choose one of three, done.

- `GET /v/<token>` checks the signed link and its invitation, keeps the invitation in
  the Flask session and redirects to the clean `/v`: the token never stays in the
  address bar, the history or a Referer. It writes nothing to the database, because
  SMS link previewers open links too.
- `GET /v` shows the page; `POST /v` records the one vote (votes.cast_vote: the
  database's unique constraint decides between concurrent submits) and sends to
  `/v/thanks`.
- `GET /c`, `POST /c`: code mode, the 8-character code from the SMS typed by hand.
- `POST /v/seen`: an optional beacon (static/seen.js) that marks the invitation
  opened; the pages work the same without JavaScript.

The blueprint's CSRF check, `no-referrer` and `no-store` headers and error pages are
the public pages' (voting/web/public.py).
"""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask import session as visit
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import generate_csrf
from wtforms import StringField
from wtforms.validators import InputRequired, Length, Regexp

from sms.tokens import TokenExpired, TokenInvalid, is_code, normalize_code, same_nonce
from voting.commitments import commitments
from voting.core.extensions import limiter
from voting.core import db
from voting.core.db import get_session
from voting.core.forms import Form
from voting.survey.links import link_tokens
from voting.survey.models import Channel, Choice, Invitation
from voting.survey import rounds, votes
from voting.scores import scorecards
from voting.survey.rounds import CitizenInvitation, CodeLockedError, CodeMismatchError, period
from voting.survey.votes import (
    COMMENT_MAX,
    AlreadyVotedError,
    RoundCancelledError,
    RoundClosedError,
    UnknownInvitationError,
)
from voting.web.public import make_public, message_page

bp = Blueprint("citizen", __name__)

# Keyed first by the link or the invitation; the per-address limits are generous
# because many phones share one carrier address. Typed codes are slowed per address,
# counting only wrong attempts.
LINK_LIMIT = "30 per minute"
INVITATION_LIMIT = "60 per minute"
ADDRESS_LIMIT = "600 per minute"
CODE_LIMIT = "10 per minute;60 per hour"
TOO_MANY = "操作过于频繁，请稍等一分钟后再试。"
CODE_TOO_MANY = "评价码输错次数过多，请稍后再试。如多次无法进入，请联系县千人评议办。"

CHOOSE = "请选择“满意”“基本满意”或“不满意”中的一项。"
PRIVACY = "您的评价只用于统计。被评单位看不到谁参加了评价，也看不到您的选择。"


def _comment(value: str | None) -> str | None:
    """Browsers send line breaks as CRLF but count them as one character (maxlength);
    count as the page does, and as the service stores."""
    if value is None:
        return None
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


@dataclass(frozen=True)
class VoteInput:
    """The vote form as sent: its choice, its comment (line breaks counted as the page
    counts them) and what is wrong with them. Checked by hand rather than by a WTForms
    form: two fields, and building the form and its CSRF field on the page and on the
    POST cost about 14 % of a citizen's three requests' CPU. The CSRF token, and the
    refusal of a field sent twice (two choices), are the blueprint's checks
    (voting/web/public.py)."""

    choice: str | None = None
    comment: str = ""
    problems: tuple[str, ...] = ()


def _read_vote() -> VoteInput:
    choice = request.form.get("choice")
    comment = _comment(request.form.get("comment")) or ""
    problems = []
    if choice not in Choice._value2member_map_:
        problems.append(CHOOSE)
    if len(comment) > COMMENT_MAX:
        problems.append(f"意见建议不超过 {COMMENT_MAX} 字（现在 {len(comment)} 字），请删减后再提交。")
    return VoteInput(choice, comment, tuple(problems))


def _digits(value: str | None) -> str | None:
    """Full-width digits and spaces, as phone keyboards give them, folded."""
    if value is None:
        return None
    return "".join(ch for ch in unicodedata.normalize("NFKC", value) if not ch.isspace())


class CodeForm(Form):
    code = StringField("评价码", validators=[InputRequired("请输入短信中的 8 位评价码。"), Length(max=64, message="评价码是 8 位字母和数字。")])
    phone_tail = StringField(
        "本机号码后四位", filters=[_digits],
        validators=[InputRequired("请输入收到短信的手机号码的后四位。"),
                    Regexp(r"^[0-9]{4}$", message="手机号码后四位是 4 个数字，请重新输入。")],
    )


# ---- pages -----------------------------------------------------------------------------


def _voted():
    return message_page(409, "您已评价过", str(AlreadyVotedError()))


def _closed():
    return message_page(410, "评价已截止", str(RoundClosedError()))


def _cancelled():
    return message_page(410, "本轮调查已取消", "本轮调查已由县千人评议办取消，这份邀请不再使用，无需评价。感谢您的关注！")


def _unknown_link():
    return message_page(404, "链接无效或已作废", "这个链接无效或已作废。请核对短信中的链接；如有疑问，请联系县千人评议办。")


def _no_invitation():
    if visit.get("voted"):
        return _voted()
    return message_page(400, "请重新打开短信链接", "没有找到您的评价邀请：页面可能已过期。请重新点击短信中的链接，或在评价码页面输入短信中的评价码。")


def _vote_page(invitation: CitizenInvitation, vote: VoteInput, status: int = 200, error: str | None = None):
    return render_template(
        "survey/citizen_vote.html", vote=vote, error=error, comment_max=COMMENT_MAX,
        choices=[(c.value, c.label) for c in Choice], privacy=PRIVACY,
        round_label=period(invitation.year, invitation.kind),
        unit=invitation.unit, section=invitation.section, matter=invitation.matter,
        commitment=commitments.for_citizens(get_session(), invitation.section_id),  # 附件4's duties and commitment
    ), status


def _invitation_id() -> int | None:
    """The invitation this browser holds (from its signed session cookie)."""
    invitation_id = visit.get("invitation")
    if not isinstance(invitation_id, int) or isinstance(invitation_id, bool):
        return None
    return invitation_id


def _current_invitation() -> tuple[CitizenInvitation | None, bool]:
    """The browser's invitation and whether it has a vote (None, False without one)."""
    invitation_id = _invitation_id()
    if invitation_id is None:
        return None, False
    return rounds.load_invitation(get_session(), invitation_id)


def _refusal(invitation: CitizenInvitation, voted: bool):
    """The page for an invitation that can no longer vote (votes.refusal), or None."""
    refused = votes.refusal(invitation.survey_round, voted)
    if refused is None:
        return None
    if isinstance(refused, AlreadyVotedError):
        return _voted()
    return _cancelled() if isinstance(refused, RoundCancelledError) else _closed()


def _enter(invitation: Invitation | CitizenInvitation, channel: Channel) -> None:
    """The browser now holds this invitation (in the signed session cookie), and the
    form's CSRF token, made now so that the page itself does not rewrite the cookie."""
    visit["invitation"] = invitation.id
    visit["channel"] = channel.value
    visit.pop("voted", None)
    generate_csrf()


def _done() -> None:
    visit.pop("invitation", None)
    visit.pop("channel", None)
    visit["voted"] = True


# ---- rate-limit keys -------------------------------------------------------------------


def _link_key() -> str:
    token = (request.view_args or {}).get("token", "")
    return "link:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]


def _invitation_key() -> str:
    invitation_id = visit.get("invitation")
    if isinstance(invitation_id, int):
        return f"invitation:{invitation_id}"
    return f"no-invitation:{get_remote_address()}"


def _wrong_attempt(response) -> bool:
    """A code that opened an invitation (303) does not count against the address."""
    return response.status_code != 303


make_public(
    bp, message_page,
    csrf_message="页面已过期或校验未通过，请重新点击短信中的链接（或重新输入评价码）后再提交。",
    unexpected_message="系统暂时出现问题，您的评价可能没有提交。请稍后重新点击短信中的链接再试。",
)


# ---- link ------------------------------------------------------------------------------


@bp.get("/v/<token>")
@limiter.limit(LINK_LIMIT, key_func=_link_key, error_message=TOO_MANY)
@limiter.limit(ADDRESS_LIMIT, error_message=TOO_MANY)
def open_link(token: str):
    """Check the link and hand over to the clean address; nothing is written."""
    try:
        claim = link_tokens(current_app).read(token)
    except TokenInvalid as error:
        return message_page(400, "链接无效", str(error))
    except TokenExpired as error:
        return message_page(410, "评价已截止", str(error))
    invitation, voted = rounds.load_invitation(get_session(), claim.invitation_id)
    if invitation is None or invitation.round_id != claim.round_id or not same_nonce(claim.nonce, invitation.nonce):
        return _unknown_link()
    refused = _refusal(invitation, voted)
    if refused:
        return refused
    _enter(invitation, Channel.link)
    return redirect(url_for(".vote_page"), 303)


@bp.get("/v")
@limiter.limit(INVITATION_LIMIT, key_func=_invitation_key, error_message=TOO_MANY)
@limiter.limit(ADDRESS_LIMIT, error_message=TOO_MANY)
def vote_page():
    invitation, voted = _current_invitation()
    if invitation is None:
        return _no_invitation()
    return _refusal(invitation, voted) or _vote_page(invitation, VoteInput())


@bp.post("/v")
@limiter.limit(INVITATION_LIMIT, key_func=_invitation_key, error_message=TOO_MANY)
@limiter.limit(ADDRESS_LIMIT, error_message=TOO_MANY)
def cast():
    """The vote: the form is checked first, then one statement records it if the
    invitation has none and its round is open (votes.cast_vote, which commits it by
    itself); only a refusal or a form to show again reads the invitation."""
    invitation_id = _invitation_id()
    if invitation_id is None:
        return _no_invitation()
    vote = _read_vote()
    if vote.problems:
        invitation, voted = _current_invitation()
        if invitation is None:
            return _no_invitation()
        return _refusal(invitation, voted) or _vote_page(invitation, vote, 422)
    channel = Channel.code if visit.get("channel") == Channel.code.value else Channel.link
    try:
        votes.cast_vote(get_session(), invitation_id, Choice(vote.choice), channel, vote.comment,
                        address=request.remote_addr)  # its network, hashed (the answer-burst check)
    except AlreadyVotedError:  # also the loser of a concurrent submit: the other vote stands
        _done()
        return _voted()
    except RoundClosedError:
        return _closed()
    except UnknownInvitationError:
        visit.pop("invitation", None)
        return _no_invitation()
    _done()
    return redirect(url_for(".thanks"), 303)


@bp.get("/v/thanks")
def thanks():
    return message_page(200, "感谢您的评价", "您的评价已经提交。感谢您对机关作风建设的支持！现在可以关闭这个页面了。")


@bp.post("/v/seen")
@limiter.limit(INVITATION_LIMIT, key_func=_invitation_key, error_message=TOO_MANY)
@limiter.limit(ADDRESS_LIMIT, error_message=TOO_MANY)
def seen():
    """The page was opened by a person's browser (a previewer runs no script)."""
    invitation_id = _invitation_id()
    if invitation_id is None:
        return "", 400
    rounds.mark_opened(get_session(), invitation_id)
    return "", 204


# ---- code mode -------------------------------------------------------------------------


@bp.get("/")
def home():
    """The public landing page: what the evaluation is, where to vote, check a receipt,
    read the results, and whom to call."""
    return render_template("survey/home.html", years=scorecards.published_years(get_session()))


@bp.get("/c")
def code_page():
    return render_template("survey/citizen_code.html", form=CodeForm(formdata=None), privacy=PRIVACY)


@bp.post("/c")
@limiter.limit(CODE_LIMIT, deduct_when=_wrong_attempt, error_message=CODE_TOO_MANY)
def enter_code():
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("survey/citizen_code.html", form=form, privacy=PRIVACY), 422
    if not is_code(form.code.data):
        error = "评价码是 8 位字母和数字（不含 0、O、1、I、L），请核对短信后重新输入。"
        return render_template("survey/citizen_code.html", form=form, error=error, privacy=PRIVACY), 422
    try:
        invitation = rounds.enter_code(get_session(), normalize_code(form.code.data), form.phone_tail.data)
    except (CodeMismatchError, CodeLockedError) as error:
        db.keep_writes()  # the wrong attempt counts against the code (docs/rules.md §4.4)
        return render_template("survey/citizen_code.html", form=form, error=str(error), privacy=PRIVACY), error.status
    _enter(invitation, Channel.code)
    return redirect(url_for(".vote_page"), 303)
