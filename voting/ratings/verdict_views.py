"""The citizen's verdict on the handling of their 差评 (回访满意度): `/r/case/<token>`, the
page the SMS links to that the office's closing of the case sends (voting/ratings/cases.py).

- GET shows the place (the section or the window, its unit) and asks
  "您对这次差评的处理结果是否满意？" with two buttons, 满意 and 不满意, each a POST of the
  same form: no JavaScript, a light page (the citizens' stylesheet only) that fits a
  320-pixel screen. GET writes nothing (a link previewer opens the address too); once
  answered it says the answer is recorded.
- POST records the answer once (cases.answer, followups.answer_verdict: one conditional
  UPDATE): a second answer, or the second of two at once, changes nothing and is told
  so (409); then the page is shown again (303), saying the answer is recorded.
- A link that is not one of ours, garbled, or signed for another purpose (a rating
  code's, a vote link's) is a 404; a link past its time (RATING_VERDICT_LINK_DAYS, 30
  days after the closing) a 410; each with its message for the citizen.

The case's phone is not kept for this page: the closing clears it once the SMS is in
the outbox (cases.py says so); the page needs only the token.

The blueprint's CSRF check, refusal of a repeated field, `no-referrer` and `no-store`
headers and error pages are the public pages' (voting/web/public.py).
"""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from voting.core.db import get_session
from voting.core.extensions import limiter
from voting.core.models import utcnow
from voting.ratings import cases
from voting.ratings.models import FollowupCase
from voting.ratings.views import public_base
from voting.web.public import make_public, message_page

bp = Blueprint("rating_verdict", __name__)

LINK_LIMIT = "600 per minute"  # generous: many phones share one carrier address
TOO_MANY = "操作过于频繁，请稍等一分钟后再试。"
QUESTION = "您对这次差评的处理结果是否满意？"
ANSWERS = {"satisfied": True, "unsatisfied": False}
CHOOSE = "请点击“满意”或“不满意”。"


make_public(
    bp, message_page,
    csrf_message="页面已过期，请重新点击短信中的链接后再评价。",
    unexpected_message="系统暂时出现问题，请稍后重新点击短信中的链接再试。",
)


def _settings() -> cases.VerdictSettings:
    return cases.VerdictSettings.from_config(current_app.config, public_base())


def _answered(case: FollowupCase) -> str:
    return f"您的评价已记录：{'满意' if case.citizen_satisfied else '不满意'}。感谢您的反馈！"


@bp.get("/r/case/<token>")
@limiter.limit(LINK_LIMIT, error_message=TOO_MANY)
def verdict(token: str):
    """The question, or that it was answered; 404 for an unknown link, 410 past its time."""
    session = get_session()
    settings = _settings()
    case = cases.case_from_token(session, token, cases.verdict_tokens())
    place, unit = cases.place_of(session, case)
    if case.citizen_satisfied is not None:
        return render_template("ratings/verdict.html", place=place, unit=unit, message=_answered(case), token=None)
    cases.check_open(case, utcnow(), settings)
    return render_template("ratings/verdict.html", place=place, unit=unit, question=QUESTION, token=token,
                           message=None)


@bp.post("/r/case/<token>")
@limiter.limit(LINK_LIMIT, error_message=TOO_MANY)
def answer(token: str):
    """Record the answer once, then show the link's page again (which says it is
    recorded): a reload asks nothing twice."""
    chosen = request.form.get("answer", "")
    session = get_session()
    tokens, settings = cases.verdict_tokens(), _settings()
    if chosen not in ANSWERS:
        case = cases.case_from_token(session, token, tokens)  # an unknown link stays a 404
        if case.citizen_satisfied is not None:
            raise cases.VerdictGivenError()
        cases.check_open(case, utcnow(), settings)
        place, unit = cases.place_of(session, case)
        return render_template("ratings/verdict.html", place=place, unit=unit, question=QUESTION, token=token,
                               message=None, error=CHOOSE), 400
    cases.answer(session, token, ANSWERS[chosen], now=utcnow(), settings=settings, tokens=tokens)
    return redirect(url_for(".verdict", token=token), 303)

