"""The review office's monitoring of the online round: turnout by evaluator category,
reminders to those who have not voted, the close, the online scores and the
publication of the final lists (issue 5).

Turnout is counts only: the pages never say who has voted, and the tallies appear
only once the round is closed (no running results while evaluators still vote).
Admins act; operators and auditors read; liaisons get 403."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from scoring import columns as C
from voting.auth import roles_required
from voting.db import get_session
from voting.forms import EmptyForm
from voting.links import wording
from voting.models import Choice, OnlineRound, RoundStatus
from voting.services import ballots
from voting.views.common import ADMIN, OFFICE, current_campaign, score_figure, scorecard

bp = Blueprint("online_monitor", __name__, url_prefix="/office/online")


def _round() -> OnlineRound:
    online = ballots.online_round(get_session(), current_campaign())
    if online is None:
        abort(404)
    return online


@bp.get("/monitor")
@roles_required(*OFFICE)
def monitor():
    session = get_session()
    campaign = current_campaign()
    online = ballots.online_round(session, campaign)
    context = {"campaign": campaign, "online": online, "action": EmptyForm(formdata=None)}
    if online is not None:
        context.update(turnout=ballots.turnout(session, online), is_open=ballots.is_open(online),
                       ballots_in=ballots.ballots_in(session, online))
        if online.status is RoundStatus.closed:
            card = scorecard(campaign)  # worked out once per change, not per view
            context.update(card=card, scores=_scores(session, online, card),
                           lists=ballots.final_lists(session, campaign, card) if card.network_held else None)
    return render_template("online_monitor.html", **context)


def _scores(session, online: OnlineRound, card) -> list[dict]:  # noqa: ANN001
    """Each candidate's tallies and online score, in the ballot's order."""
    # A closed round's ballots no longer change (its close is audited): counted once.
    counts = score_figure(online.campaign, "online tallies", lambda: ballots.tallies(session, online))
    by_id = card.sections.set_index("section_id") if "section_id" in card.sections else None
    rows = []
    for candidate in ballots.ballot_candidates(session, online.campaign_id):
        c = counts.get(candidate.section_id, dict.fromkeys(Choice, 0))
        found = by_id is not None and candidate.section_id in by_id.index
        rows.append({
            "section_id": candidate.section_id, "unit": candidate.unit, "section": candidate.section,
            "satisfied": c[Choice.satisfied], "basic": c[Choice.basic], "unsatisfied": c[Choice.unsatisfied],
            "network": by_id.at[candidate.section_id, C.NETWORK] if found else None,
            "total": by_id.at[candidate.section_id, C.TOTAL] if found else None,
        })
    return rows


def _act(act, done: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = get_session()
    result = act(session, _round())
    session.commit()
    flash(done.format(result=result), "info")
    return redirect(url_for(".monitor"), 303)


@bp.post("/monitor/remind")
@roles_required(*ADMIN)
def remind():
    """Once per evaluator who has not voted: an SMS with where to log in (no password)."""
    words = wording(current_app, request.url_root)
    return _act(
        lambda session, online: ballots.remind(
            session, online, sign=words.sign, login_link=f"{words.link_base}/e/login", timezone_name=words.timezone,
            actor=current_user.username,
        ),
        "已为 {result} 位尚未评价的评价人写入提醒短信(每人只提醒一次,短信中不含密码)。",
    )


@bp.post("/monitor/close")
@roles_required(*ADMIN)
def close():
    return _act(
        lambda session, online: ballots.close(session, online, actor=current_user.username),
        "网络评价已结束,共收到 {result} 张选票;网络评价得分已计入综合评价。",
    )


@bp.post("/monitor/publish")
@roles_required(*ADMIN)
def publish():
    return _act(
        lambda session, online: ballots.publish(session, online, actor=current_user.username),
        "评议结果已公布。",
    )
