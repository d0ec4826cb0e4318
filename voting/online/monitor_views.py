"""The review office's monitoring of the online round: turnout by evaluator category,
reminders to those who have not voted, the close, the online scores and the
publication of the final lists.

Turnout is counts only: the pages never say who has voted, and the tallies appear
only once the round is closed (no running results while evaluators still vote).
Admins act; operators and auditors read; liaisons get 403."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from scoring import columns as C
from scoring.components import fmt
from scoring.rounding import display_text
from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.core.forms import EmptyForm
from voting.survey.links import wording
from voting.survey.models import Choice, RoundStatus
from voting.online.models import OnlineRound
from voting.online import ballots, evaluators
from voting.scores import scorecards
from voting.web.common import ADMIN, OFFICE, current_campaign, local_time, score_figure, scorecard
from voting.web.confirm import Confirmation, ask

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
    context = {"campaign": campaign, "online": online, "action": EmptyForm(formdata=None), "confirm": {}}
    if online is not None:
        context.update(turnout=evaluators.turnout(session, online), is_open=ballots.is_open(online),
                       ballots_in=ballots.ballots_in(session, online))
        card = None
        if online.status is RoundStatus.closed:
            card = scorecard(campaign)  # worked out once per change, not per view
            context.update(card=card, lists=scorecards.final_lists(session, campaign, card) if card.network_held else None,
                           **_scores(session, online, card))
        if current_user.role in ADMIN:  # the buttons, each with what it will do
            if context["is_open"]:
                context["confirm"]["remind"] = remind_confirmation(session, online)
            if online.status is RoundStatus.open:
                context["confirm"]["close"] = close_confirmation(session, online)
            if card is not None and card.network_held:
                context["confirm"]["publish"] = publish_confirmation(session, online, card)
    return render_template("online/online_monitor.html", **context)


def _scores(session, online: OnlineRound, card) -> dict:
    """Each candidate's counts and online score, in the ballot's order: the round's
    ballots, the NET counts stored as a component (a file or a hand entry), and their
    sum, from which the scoring computed the score (scorecards.year_inputs); each row's
    formula with its numbers. `scores` (the rows), `imported` (any imported counts),
    `sums` (the columns' totals)."""
    # A closed round's ballots no longer change (its close is audited): counted once.
    counts = score_figure(online.campaign, "online tallies", lambda: ballots.tallies(session, online))
    imported = score_figure(online.campaign, "imported NET counts",
                            lambda: scorecards.imported_network_counts(session, online.campaign))
    settings = card.settings
    by_id = card.sections.set_index("section_id") if "section_id" in card.sections else None
    none = dict.fromkeys(Choice, 0)
    rows = []
    for candidate in ballots.ballot_candidates(session, online.campaign_id):
        # Keyed by the choice's name ("satisfied", …), as the template reads them.
        own = {c.value: n for c, n in counts.get(candidate.section_id, none).items()}
        other = {c.value: n for c, n in imported.get(candidate.section_id, none).items()}
        both = {choice: own[choice] + other[choice] for choice in own}
        found = by_id is not None and candidate.section_id in by_id.index
        network = by_id.at[candidate.section_id, C.NETWORK] if found else None
        rows.append({
            "section_id": candidate.section_id, "unit": candidate.unit, "section": candidate.section,
            "own": own, "imported": other, "counts": both, "votes": sum(both.values()),
            "network": network, "total": by_id.at[candidate.section_id, C.TOTAL] if found else None,
            "formula": _formula(both, network, settings) if found else "",
        })
    sums = {part: {c.value: sum(r[part][c.value] for r in rows) for c in Choice}
            for part in ("own", "imported", "counts")}
    return {"scores": rows, "imported": bool(imported), "sums": sums, "votes": sum(r["votes"] for r in rows)}


def _formula(counts: dict[str, int], network, settings) -> str:
    """How the scoring made the online score (scoring.votes.network_scores), with its
    numbers: (满意 × weight + 基本满意 × weight) ÷ 票数 × network_points."""
    votes = sum(counts.values())
    if not votes:
        return "无票，按 0 分计"
    satisfied = f"满意 {counts['satisfied']}"
    if settings.weight_satisfied != 1:
        satisfied = f"{fmt(settings.weight_satisfied)} × {satisfied}"
    return (f"（{satisfied} + {fmt(settings.weight_basic)} × 基本满意 {counts['basic']}） ÷ 票数 {votes}"
            f" × {fmt(settings.network_points)} = {display_text(network)}")


# ---- the irreversible steps, each with what its confirmation says ---------------------------
# One function per step makes its Confirmation, for the page's button (and its dialog)
# and again for the POST (the confirmation page): the numbers are worked out here only.
# Each raises the DomainError the step itself would (a 400 with its reason).


def _turnout_fact(session, online: OnlineRound) -> str:
    total = evaluators.turnout(session, online)[-1]
    rate = f"{100 * total.rate:.1f}%" if total.rate is not None else "—"
    return (f"参评情况：{total.evaluators} 位评价人中已有 {total.voted} 位投票（参评率 {rate}），"
            f"还有 {total.evaluators - total.voted} 位未投票。")


def remind_confirmation(session, online: OnlineRound) -> Confirmation:
    """提醒: what evaluators.remind does."""
    evaluators.check_remindable(online)
    due = evaluators.reminders_due(session, online)
    if due:
        reminded = (f"将给其中 {due} 位尚未投票、也未提醒过的评价人各写入一条提醒短信，由发送进程陆续发出；"
                    "短信写明登录地址和账号，不含密码。")
    else:
        reminded = "没有需要提醒的评价人：这次不会写入任何短信。"
    return Confirmation(
        title="提醒尚未评价的评价人",
        facts=[_turnout_fact(session, online), reminded,
               "每位评价人只提醒一次：已提醒过的、账号已锁定的和还没有发账号的评价人这次不发。"],
        button="提醒尚未评价的评价人", action=url_for(".remind"), back=url_for(".monitor"),
        warning="短信一经发出无法收回。", id="confirm-remind",
    )


def close_confirmation(session, online: OnlineRound) -> Confirmation:
    """结束网络评价: what ballots.close does."""
    ballots.check_closable(online)
    n = ballots.ballots_in(session, online)
    imported = sum(sum(c.values()) for c in scorecards.imported_network_counts(session, online.campaign).values())
    scored = f"已收到的 {n} 张选票随即计票：计票结果即各候选科室的网络评价分，计入总成绩和拟定的评议结果"
    if imported:
        scored += f"（另有导入的网络评价票数 {imported} 票，一并计分）"
    return Confirmation(
        title="结束网络评价",
        facts=[
            _turnout_fact(session, online),
            f"原定截止时间 {local_time(online.closes_at)}"
            + ("：现在结束即提前截止。" if ballots.is_open(online) else "：已过截止时间。"),
            "结束后不再接受选票：尚未投票的评价人不能再投票，也不能再发提醒或重发密码。",
            scored + "。",
        ],
        button="结束网络评价", action=url_for(".close"), back=url_for(".monitor"),
        warning="结束后不能重新开始网络评价，这一步不可撤销。", id="confirm-close",
    )


def _list_sizes(lists: dict[str, list]) -> str:
    return (f"满意单位 {len(lists['satisfied'])} 个、不满意单位 {len(lists['unsatisfied'])} 个、"
            f"最不满意单位 {len(lists['most_unsatisfied'])} 个")


def publish_confirmation(session, online: OnlineRound, card) -> Confirmation:
    """公布评议结果 / 重新公布: what scorecards.publish does, with the lists as decided now."""
    scorecards.check_publishable(online, card)
    lists = scorecards.final_lists(session, online.campaign, card)
    public = url_for("ballot.results", year=online.campaign.year)
    facts = [
        f"公布的名单：{_list_sizes(lists)}（最不满意单位同时列在不满意单位中）。",
        f"名单按评议办现在的决定公布在公开的评议结果页面 {public}：任何人不用登录即可查看；页面只列单位和科室，不显示分数和票数。",
    ]
    again = online.published_at is not None
    if again:
        previous = online.published or {}
        same = all(previous.get(name) == items for name, items in lists.items())
        before = _list_sizes({name: previous.get(name, []) for name in lists})
        facts.append(f"替换 {local_time(online.published_at)} 公布的名单（{before}）"
                     + ("：名单没有变化。" if same else "：名单有变化。"))
    button = "重新公布评议结果" if again else "公布评议结果"
    return Confirmation(
        title=button, facts=facts, button=button, action=url_for(".publish"), back=url_for(".monitor"),
        warning="公布后无法撤回：公开页面随即显示这些名单；以后评议办的决定有变化，须重新公布才会更新。",
        id="confirm-publish",
    )


def _act(act, done: str, confirmation):
    """A button's POST: the CSRF token, the round, the step confirmed
    (`confirmation(session, online)` makes what to ask), one service call, one commit."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = get_session()
    online = _round()
    if (answer := ask(confirmation(session, online))) is not None:
        return answer
    result = act(session, online)
    flash(done.format(result=result), "info")
    return redirect(url_for(".monitor"), 303)


@bp.post("/monitor/remind")
@roles_required(*ADMIN)
def remind():
    """Once per evaluator who has not voted: an SMS with where to log in (no password)."""
    words = wording(current_app, request.url_root)
    return _act(
        lambda session, online: evaluators.remind(
            session, online, sign=words.sign, login_link=f"{words.link_base}/e/login", timezone_name=words.timezone,
            actor=current_user.username,
        ),
        "已为 {result} 位尚未评价的评价人写入提醒短信（每人只提醒一次，短信中不含密码）。",
        remind_confirmation,
    )


@bp.post("/monitor/close")
@roles_required(*ADMIN)
def close():
    return _act(
        lambda session, online: ballots.close(session, online, actor=current_user.username),
        "网络评价已结束，共收到 {result} 张选票；网络评价得分已计入综合评价。",
        close_confirmation,
    )


@bp.post("/monitor/publish")
@roles_required(*ADMIN)
def publish():
    return _act(
        lambda session, online: scorecards.publish(session, online, actor=current_user.username),
        "评议结果已公布。",
        lambda session, online: publish_confirmation(session, online, _card_to_publish(online)),
    )


def _card_to_publish(online: OnlineRound):
    """The scorecard the lists would be published from, for the confirmation's words
    only (scorecards.publish works the lists out again in its own transaction, so the
    score cache is not read for a write); its reason (400) when the round is not closed
    yet, before a scorecard is worked out for nothing."""
    scorecards.check_publishable(online)
    return scorecard(online.campaign)
