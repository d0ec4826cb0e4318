"""The review office's pages of the online round: the round, its evaluator pool,
the accounts. The review office's admins act; its operators and auditors read.
Phones are shown masked everywhere."""
from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import DateTimeLocalField
from wtforms.validators import DataRequired

from sms.phones import mask_phone
from voting.core import db
from voting.jobs import jobs
from voting import tasks
from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.core.errors import DomainError, ImportRejected
from voting.core.forms import EmptyForm, Form
from voting.survey.links import wording
from voting.online.models import EVALUATOR_KIND_LABELS, EvaluatorKind
from voting.survey.models import RoundStatus
from voting.online import ballots, evaluators
from voting.office import listings
from voting.online.evaluators import MAX_FAILED_LOGINS, REPRESENTATIVE_KINDS
from voting.scores.scorecards import candidates_fixed
from voting.web.common import (
    ADMIN,
    FILE_TYPES,
    OFFICE,
    SHOWN_ERRORS,
    current_campaign,
    local_time,
    query_number,
    read_upload,
)
from voting.web.confirm import Confirmation, ask
from voting.web.listing import QueryFilters, paged

bp = Blueprint("online", __name__, url_prefix="/office/online")
# Each row carries its buttons' confirmation dialogs (重发密码, 重新开通): 200 rows made
# a page of half a megabyte.
PAGE_SIZE = 50


class OnlineRoundForm(Form):
    closes_at = DateTimeLocalField("截止时间", format="%Y-%m-%dT%H:%M", validators=[DataRequired("请填写截止时间")])


class PoolForm(Form):
    file = FileField("代表名单（xlsx 或 csv）", validators=[FileRequired("请选择文件"), FILE_TYPES])


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def _pool_filter(filters: QueryFilters) -> listings.EvaluatorFilter:
    """The evaluator list's search and filters from the query string."""
    kind = filters.choice("kind", {k.value for k in EvaluatorKind})
    return listings.EvaluatorFilter(text=filters.text("q"), kind=EvaluatorKind(kind) if kind else None,
                                    state=filters.choice("status", listings.EVALUATOR_STATES))


def _place(page: int | None) -> dict:
    """Where the list is (its page and filters), for the links and redirects back to
    it: a button on page 3 of the locked accounts returns there. `page` is read by
    common.query_number (400 when it is not a number), as before the list had filters."""
    filters = QueryFilters()
    _pool_filter(filters)
    return {"page": page, **filters.keep}


def _render(round_form: OnlineRoundForm | None = None, pool_form: PoolForm | None = None, status: int = 200,
            rejected: ImportRejected | None = None):
    session = get_session()
    campaign = current_campaign()
    online = ballots.online_round(session, campaign)
    context = {}
    if online is None:
        if round_form is None:
            default_close = (datetime.now(_zone()) + timedelta(days=14)).replace(hour=18, minute=0, second=0, microsecond=0)
            round_form = OnlineRoundForm(formdata=None, closes_at=default_close.replace(tzinfo=None))
        context.update(fixed=candidates_fixed(session, campaign) is not None)
    else:
        filters = QueryFilters()
        where = _pool_filter(filters)
        rows, page = paged(
            lambda limit, offset: listings.evaluators(session, online, where, limit=limit, offset=offset),
            PAGE_SIZE, query_number("page", 1),
        )
        place = {"page": page.number, **filters.keep}
        context.update(
            mix=evaluators.mix(session, online), sms=evaluators.sms_counts(session, online), rows=rows, page=page,
            where=where, keep=filters.keep, ignored=filters.ignored, states=listings.EVALUATOR_STATES,
            is_open=ballots.is_open(online), changeable=evaluators.is_changeable(online),
            resend_confirmation=lambda row: resend_confirmation(row, place),
            reissue_confirmation=lambda row: reissue_confirmation(row, row.locked, place), issue_confirmation=None,
        )
        if current_user.role in ADMIN and context["changeable"] and context["sms"]["unsent"]:
            with contextlib.suppress(DomainError):  # nothing to issue after all: no button
                context["issue_confirmation"] = issue_confirmation(session, online, place)
    return render_template(
        "online/online.html", campaign=campaign, online=online, round_form=round_form,
        pool_form=pool_form or PoolForm(formdata=None), action=EmptyForm(formdata=None), mask_phone=mask_phone,
        rejected=rejected, shown=rejected.errors[:SHOWN_ERRORS] if rejected else [],
        kinds=[(k, EVALUATOR_KIND_LABELS[k]) for k in (*REPRESENTATIVE_KINDS, EvaluatorKind.service_object)],
        representative_labels="、".join(EVALUATOR_KIND_LABELS[k] for k in REPRESENTATIVE_KINDS), **context,
    ), status


@bp.get("/")
@roles_required(*OFFICE)
def index():
    return _render()


@bp.post("/")
@roles_required(*ADMIN)
def create():
    form = OnlineRoundForm()
    if not form.validate_on_submit():
        return _render(round_form=form, status=422)
    closes_at = form.closes_at.data.replace(tzinfo=_zone()).astimezone(timezone.utc)
    session = get_session()
    try:
        online = evaluators.create_round(session, current_campaign(), closes_at, actor=current_user.username)
    except DomainError as error:
        form.closes_at.errors = [str(error)]
        if ballots.online_round(session, current_campaign()) is not None:
            flash(str(error), "error")  # the page shows the round, not the form
        return _render(round_form=form, status=422)
    flash(f"已建立网络评价（抽样种子 {online.seed}）。请导入代表名单，再抽取服务对象。", "info")
    return redirect(url_for(".index"), 303)


@bp.post("/pool")
@roles_required(*ADMIN)
def import_pool():
    form = PoolForm()
    if not form.validate_on_submit():
        return _render(pool_form=form, status=400)
    session = get_session()
    online = evaluators.require_round(session, current_campaign())
    data, filename = read_upload(form.file)
    try:
        summary = evaluators.import_representatives(session, online, data, filename, actor=current_user.username)
    except ImportRejected as error:
        return _render(pool_form=form, status=422, rejected=error)
    parts = "、".join(f"{kind.label} {n} 人" for kind, n in summary.by_kind.items())
    flash(f"已导入 {filename}：{summary.stored} 名代表（{parts}）。", "info")
    return redirect(url_for(".index"), 303)


# ---- the irreversible steps, each with what its confirmation says ---------------------------
# One function per step makes its Confirmation, for the page's button (and its dialog)
# and again for the POST (the confirmation page): the numbers are worked out here only.


def issue_confirmation(session, online, place: dict) -> Confirmation:
    """发送账号短信: what evaluators.issue_accounts does. Raises the DomainError that
    issuing would (nothing to issue, the round over)."""
    waiting = evaluators.check_issuable(session, online)
    by_kind = evaluators.waiting_by_kind(session, online)
    parts = "、".join(f"{EVALUATOR_KIND_LABELS[kind]} {n} 人" for kind, n in by_kind.items())
    starts = online.status is RoundStatus.draft
    facts = [f"为尚未发过账号的 {waiting} 位评价人（{parts}）各生成一个账号和一次性密码，"
             "把含账号和密码的短信写入发件箱，由发送进程陆续发出。"]
    if starts:
        facts += [
            f"网络评价随即开始（状态由“{RoundStatus.draft.label}”变为“{RoundStatus.open.label}”）："
            f"评价人收到短信即可登录投票，截止时间 {local_time(online.closes_at)}。",
            "开始后候选名单不能再撤销；截止前仍可补充评价人，补充的评价人要再点本按钮发送账号。",
        ]
    else:
        facts.append(f"网络评价已在进行中（截止时间 {local_time(online.closes_at)}）：这些评价人收到短信即可登录投票；"
                     "已有账号的评价人不受影响，原密码照常有效。")
    return Confirmation(
        title="发送账号短信并开始网络评价" if starts else "发送账号短信",
        facts=facts,
        button=f"发送账号短信（{waiting} 人）{'并开始网络评价' if starts else ''}",
        action=url_for(".issue", **place), back=url_for(".index", **place),
        warning="短信一经发出无法收回" + (f"；网络评价开始后不能退回“{RoundStatus.draft.label}”。" if starts else "。"),
        id="confirm-issue",
    )


def _whose(row) -> str:
    return f"账号 {row.login}（{row.name}，手机 {mask_phone(row.phone)}）。"


def _new_password(row) -> str:
    """What a resend and a reissue both do (evaluators._send_password)."""
    return (f"生成新的一次性密码，短信写入发件箱，发往 {mask_phone(row.phone)}；"
            "原密码立即作废，发件箱中尚未发出的旧密码短信不再发出。")


_CHECK_WHO = "原密码作废后不能恢复。请先核实来人确为评价人本人：新密码只发往名单上的这个号码。"


def resend_confirmation(row, place: dict) -> Confirmation:
    """重发密码 to one evaluator (an Evaluator or a PoolRow): what evaluators.resend does."""
    left = max(0, MAX_FAILED_LOGINS - row.failed_logins)
    return Confirmation(
        title=f"为账号 {row.login} 重发密码",
        facts=[
            _whose(row), _new_password(row),
            f"密码输错次数不清零：现为 {row.failed_logins} 次，再输错 {left} 次账号即锁定。",
        ],
        button="重发密码", action=url_for(".resend", evaluator_id=row.id, **place), back=url_for(".index", **place),
        warning=_CHECK_WHO,
        id=f"confirm-resend-{row.id}",
    )


def reissue_confirmation(row, locked: bool, place: dict) -> Confirmation:
    """重新开通 one evaluator's account: what evaluators.reissue does."""
    return Confirmation(
        title=f"重新开通账号 {row.login}",
        facts=[
            _whose(row),
            "解除锁定（该账号现已锁定）。" if locked else "该账号目前没有锁定。",
            f"密码输错次数由 {row.failed_logins} 次清零：重新有 {MAX_FAILED_LOGINS} 次机会。",
            _new_password(row),
        ],
        button="重新开通", action=url_for(".reissue", evaluator_id=row.id, **place), back=url_for(".index", **place),
        warning=_CHECK_WHO,
        id=f"confirm-reissue-{row.id}",
    )


def _act(act, done: str, confirmation=None):
    """A button's POST: the CSRF token, the round, the step confirmed (when
    `confirmation(session, online)` makes what to ask), one service call, one commit."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = get_session()
    online = evaluators.require_round(session, current_campaign())
    back = redirect(url_for(".index", **_place(query_number("page"))), 303)
    try:
        if confirmation is not None and (answer := ask(confirmation(session, online))) is not None:
            return answer
        result = act(session, online)
    except DomainError as error:
        db.discard_writes()  # refused: the page it goes back to says why, nothing of the step stays
        flash(str(error), "error")
        return back
    flash(done.format(result=result), "info")
    return back


@bp.post("/sample")
@roles_required(*ADMIN)
def sample():
    def act(session, online):
        summary = evaluators.sample_service_objects(session, online, actor=current_user.username)
        for reason in summary.mix.reasons:
            flash(reason, "warning")
        return summary

    return _act(act, "已抽取 {result.added} 名服务对象；现有服务对象 {result.mix.service_objects} 名、代表 {result.mix.representatives} 名。")


@bp.post("/accounts")
@roles_required(*ADMIN)
def issue():
    """Every waiting evaluator's account and SMS: a background job (voting/tasks.py),
    whose page shows its progress; nothing to issue is said here at once."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    place = _place(query_number("page"))
    back = redirect(url_for(".index", **place), 303)
    session = get_session()
    online = evaluators.require_round(session, current_campaign())
    try:
        if (answer := ask(issue_confirmation(session, online, place))) is not None:
            return answer
        job = tasks.issue_accounts_job(session, online, request.url_root, current_user.username)
    except DomainError as error:
        db.discard_writes()  # refused: the page it goes back to says why, nothing of the step stays
        flash(str(error), "error")
        return back
    db.after_commit(lambda: jobs.wake(current_app, job.id))
    return redirect(url_for("jobs.page", job_id=job.id), 303)


@bp.post("/evaluators/<int:evaluator_id>/resend")
@roles_required(*ADMIN)
def resend(evaluator_id: int):
    def confirmation(session, online):
        evaluator = evaluators.get_evaluator(session, online, evaluator_id)
        evaluators.check_resendable(session, online, evaluator)
        return resend_confirmation(evaluator, _place(query_number("page")))

    def act(session, online):
        evaluator = evaluators.get_evaluator(session, online, evaluator_id)
        evaluators.resend(session, online, evaluator, wording(current_app, request.url_root), actor=current_user.username)
        return evaluator.login

    return _act(act, "已为账号 {result} 生成新密码并写入短信发件箱（原密码作废；输错次数不清零）。", confirmation)


@bp.post("/evaluators/<int:evaluator_id>/reissue")
@roles_required(*ADMIN)
def reissue(evaluator_id: int):
    def confirmation(session, online):
        evaluator = evaluators.get_evaluator(session, online, evaluator_id)
        evaluators.check_resendable(session, online, evaluator, reissue=True)
        return reissue_confirmation(evaluator, evaluator.locked_at is not None, _place(query_number("page")))

    def act(session, online):
        evaluator = evaluators.get_evaluator(session, online, evaluator_id)
        evaluators.reissue(session, online, evaluator, wording(current_app, request.url_root), actor=current_user.username)
        return evaluator.login

    return _act(act, "已重新开通账号 {result}：解除锁定、输错次数清零，新密码短信已写入发件箱。", confirmation)
