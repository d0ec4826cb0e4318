"""The review office's survey rounds: set a round up, open it (sample, invite, write
every SMS to the outbox), follow each section's invitations live, remind the citizens
who have not answered, close it. Each step is audited by its service
(voting/survey/rounds.py), naming the staff user."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import DateTimeLocalField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange

from sms.mainland import MAINLAND
from sms.templates import segments
from voting.jobs import jobs
from voting import sms_sender, tasks
from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.core.errors import DomainError
from voting.core.forms import EmptyForm, Form, WholeNumberField
from voting.survey.links import link_tokens, wording
from voting.survey.models import InviteMode, RoundStatus
from voting.staff.models import Role
from voting.lists.models import RoundKind
from voting.core import db
from voting.survey import rounds, votes
from voting.lists import sections
from voting.survey.rounds import UNIT_MIN_COUNT
from voting.web.common import ADMIN, OFFICE, current_campaign, local_time, own_unit_id
from voting.web.confirm import ConfirmForm, Confirmation, ask

bp = Blueprint("rounds", __name__, url_prefix="/office/rounds")
REFRESH_SECONDS = 30  # an open round's page reloads itself: counts move as people vote


class RoundForm(Form):
    kind = SelectField("轮次", choices=[SelectChoice(k.value, f"{k.value} {k.title}") for k in RoundKind])
    closes_at = DateTimeLocalField("截止时间", format="%Y-%m-%dT%H:%M", validators=[DataRequired("请填写截止时间")])
    sample_size = WholeNumberField(
        "每个科室抽样人数（名单人数少于此数时全部邀请）", default=50,
        validators=[InputRequired("请填写抽样人数"), NumberRange(1, 500, "抽样人数应在 1 到 500 之间")],
    )
    mode = SelectField("邀请方式", choices=[
        SelectChoice(InviteMode.link.value, "短信链接（点开即可评价）"),
        SelectChoice(InviteMode.code.value, "评价码（短信不含链接，市民在固定网址输入 8 位评价码；运营商拦截链接时使用）"),
    ])
    reminder_after_hours = WholeNumberField(
        "未评价者在短信发出多少小时后提醒一次", default=48,
        validators=[NumberRange(0, 1440, "提醒间隔应在 0 到 1440 小时之间")],
    )


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def _render_index(form: RoundForm, status: int = 200):
    campaign = current_campaign()
    found = rounds.rounds(get_session(), campaign)
    unit_id = _liaison_unit()
    totals = {survey.id: rounds.round_totals(get_session(), survey, unit_id) for survey in found}
    return render_template("survey/rounds.html", campaign=campaign, rounds=found, totals=totals, form=form,
                           action=EmptyForm(formdata=None), unit_view=unit_id is not None), status


@bp.get("/")
@roles_required(*OFFICE, Role.liaison)
def index():
    default_close = (datetime.now(_zone()) + timedelta(days=14)).replace(hour=18, minute=0, second=0, microsecond=0)
    # Mainland providers refuse links in template variables: code mode is their default.
    mode = InviteMode.code if sms_sender(current_app).name in MAINLAND else InviteMode.link
    return _render_index(RoundForm(formdata=None, closes_at=default_close.replace(tzinfo=None), mode=mode.value))[0]


@bp.post("/")
@roles_required(*ADMIN)
def create():
    form = RoundForm()
    if not form.validate_on_submit():
        return _render_index(form, 422)
    closes_at = form.closes_at.data.replace(tzinfo=_zone()).astimezone(timezone.utc)
    session = get_session()
    try:
        survey = rounds.create_round(
            session, current_campaign(), RoundKind(form.kind.data), closes_at, form.sample_size.data,
            InviteMode(form.mode.data), form.reminder_after_hours.data, actor=current_user.username,
        )
    except DomainError as error:
        form.kind.errors = [str(error)]
        return _render_index(form, 422)
    flash(f"已建立 {survey.kind.value} 轮调查（抽样种子 {survey.seed}），核对后点“开始发送”。", "info")
    return redirect(url_for(".detail", round_id=survey.id), 303)


@bp.get("/<int:round_id>")
@roles_required(*OFFICE, Role.liaison)
def detail(round_id: int):
    """Each section's invitations: sent, delivered, failed, opened, voted, rate. A unit
    liaison sees only the unit's own sections, with every count of answers below
    UNIT_MIN_COUNT shown as "<5" (docs/rules.md §4: a small count could reveal a person's
    vote)."""
    session = get_session()
    survey = rounds.get_round(session, current_campaign(), round_id)
    progress = rounds.section_progress(session, survey)
    unit_id = _liaison_unit()
    if unit_id is not None:
        progress = progress[progress["section_id"].isin(sections.unit_section_ids(session, unit_id))]
    totals = {column: int(progress[column].sum()) if len(progress) else 0
              for column in ("invited", "sent", "delivered", "failed", "opened", "voted")}
    sort = request.args.get("sort", "")
    sortable = ("voted", "invited", "failed") if unit_id is not None else ("rate", "voted", "invited", "failed")
    if sort in sortable and len(progress):
        progress = progress.sort_values(sort, kind="stable", na_position="last")
    campaign = current_campaign()
    ready = None
    if unit_id is None and survey.status in (RoundStatus.draft, RoundStatus.open):
        ready = rounds.readiness(session, campaign, survey)
    return render_template(
        "survey/round.html", survey=survey, rows=progress.to_dict("records"), totals=totals, action=EmptyForm(formdata=None),
        refresh=REFRESH_SECONDS if survey.status is RoundStatus.open else None, is_open=votes.is_open(survey),
        unit_view=unit_id is not None, unit_min=UNIT_MIN_COUNT, ready=ready,
        confirm=_confirmations(session, campaign, survey, ready),
    )


def _liaison_unit() -> int | None:
    """A liaison's unit (403 for a liaison left without one); None for the office."""
    unit_id = own_unit_id()
    if unit_id is None and current_user.role == Role.liaison:
        abort(403)
    return unit_id


# ---- what each irreversible step says before it acts (voting/web/confirm.py) -------------


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


@dataclass(frozen=True)
class Figures:
    """A round's counts that its confirmations quote, read once per page."""

    invited: int
    voted: int
    waiting: int  # messages not sent yet

    @classmethod
    def of(cls, session, survey) -> Figures:
        return cls(*rounds.round_totals(session, survey), rounds.waiting_messages(session, survey))


def _cost(survey, ready: rounds.Readiness) -> str:
    """How long the longest invitation is, and what that costs where a provider bills
    per 70 characters."""
    words = wording(current_app, request.url_root)
    text = rounds.longest_message(survey, link_tokens(current_app), words, *ready.longest)
    parts = segments(text)
    said = f"最长的一条邀请短信 {len(text)} 字（含签名），按 70 字一条计费的服务商计为 {parts} 条。"
    if parts > 1 and survey.mode is InviteMode.code and not words.single:
        said += "评价码方式可改为每条 70 字以内的短版（系统设置 SMS_SINGLE_MESSAGE）。"
    return said


def open_confirmation(session, campaign, survey, ready: rounds.Readiness | None = None) -> Confirmation:
    """开始发送: how many messages to how many sections, and the sections still without a
    list, by unit, with what happens to them."""
    ready = ready or rounds.readiness(session, campaign, survey)
    facts = [
        f"按每个科室抽样 {survey.sample_size} 人（名单不足的全部邀请），向 {ready.listed} 个科室的服务对象"
        f"写入 {ready.invitations} 条邀请短信（{survey.mode.label}），由发送进程在发送时段内发出。",
        f"截止时间 {local_time(survey.closes_at)}；抽样种子 {survey.seed}。",
        _cost(survey, ready),
    ]
    acknowledge = ""
    if ready.missing:
        units = ready.units_missing
        shown = "；".join(f"{u.unit} {len(u.missing)} 个" for u in units[:10])
        more = f" 等 {len(units)} 个单位" if len(units) > 10 else ""
        facts.append(f"还有 {ready.missing} 个参评科室（分属 {len(units)} 个单位）没有本轮服务对象名单：{shown}{more}。"
                     "开始后这些科室的名单仍可上传，上传后在截止前按同样的规则补发邀请；截止后上传的，本轮不再调查。")
        acknowledge = f"我已知道还有 {ready.missing} 个科室没有名单，仍要现在开始发送"
    return Confirmation(
        title=f"开始发送 {survey.kind.value} 轮调查", facts=facts, button="开始发送：抽样并发出邀请短信",
        action=url_for("rounds.open_", round_id=survey.id), back=url_for("rounds.detail", round_id=survey.id),
        warning="短信写入发件箱后即陆续发出，不能收回；本轮不能重新抽样（收到评价前可以取消本轮）。",
        acknowledge=acknowledge, id="confirm-open",
    )


def remind_confirmation(session, survey) -> Confirmation:
    due = rounds.reminders_due(session, survey)
    return Confirmation(
        title=f"提醒 {survey.kind.value} 轮尚未评价的市民",
        facts=[f"向 {due} 位尚未评价、邀请短信发出已满 {survey.reminder_after_hours} 小时的市民各写入一条提醒短信"
               "（每人只提醒一次；邀请未满时限的以后可再点一次）。"],
        button="发送提醒", action=url_for("rounds.remind", round_id=survey.id),
        back=url_for("rounds.detail", round_id=survey.id), warning="提醒短信写入发件箱后即陆续发出，不能收回。",
        id="confirm-remind",
    )


def close_confirmation(session, survey, figures: Figures | None = None) -> Confirmation:
    figures = figures or Figures.of(session, survey)
    invited, voted, waiting = figures.invited, figures.voted, figures.waiting
    facts = [f"现已评价 {voted} 人，共邀请 {invited} 人，回复率 {_percent(voted, invited)}。",
             f"原定截止时间 {local_time(survey.closes_at)}；结束后不再接受任何评价（链接、评价码、短信回复、电话调查）。"]
    if waiting:
        facts.append(f"尚未发出的 {waiting} 条短信将作废，不再发出。")
    return Confirmation(
        title=f"结束 {survey.kind.value} 轮调查", facts=facts, button="结束本轮调查",
        action=url_for("rounds.close", round_id=survey.id), back=url_for("rounds.detail", round_id=survey.id),
        warning="结束后不能重新开始，已收到的评价计入评分。", id="confirm-close",
    )


def cancel_confirmation(session, survey, figures: Figures | None = None) -> Confirmation:
    figures = figures or Figures.of(session, survey)
    invited, waiting = figures.invited, figures.waiting
    facts = [f"本轮尚未收到评价；已生成邀请 {invited} 份。"]
    if invited:
        facts.append(f"尚未发出的 {waiting} 条短信将作废；已发出的短信无法收回，其中的链接和评价码从此作废"
                     "（打开链接会看到本轮调查已取消）。")
    facts.append(f"取消后可以重新建立 {survey.kind.value} 轮调查（重新抽样、重新发送）。")
    return Confirmation(
        title=f"取消 {survey.kind.value} 轮调查", facts=facts, button="取消本轮调查",
        action=url_for("rounds.cancel", round_id=survey.id), back=url_for("rounds.detail", round_id=survey.id),
        warning="取消后本轮不能恢复。", acknowledge=f"我确认取消 {survey.kind.value} 轮调查" if invited else "",
        id="confirm-cancel",
    )


def _confirmations(session, campaign, survey, ready: rounds.Readiness | None) -> dict[str, Confirmation]:
    """The steps the round's page offers an admin now, each with its confirmation (the
    counts read once for all of them)."""
    if current_user.role != Role.admin or survey.status not in (RoundStatus.draft, RoundStatus.open):
        return {}
    figures = Figures.of(session, survey)
    found = {}
    if survey.status is RoundStatus.draft:
        found["open"] = open_confirmation(session, campaign, survey, ready)
    else:
        if votes.is_open(survey):
            found["remind"] = remind_confirmation(session, survey)
        found["close"] = close_confirmation(session, survey, figures)
    if not figures.voted:
        found["cancel"] = cancel_confirmation(session, survey, figures)
    return found


def _act(round_id: int, confirmation, act, done: str):
    """Run one round step once confirmed: `act(session, campaign, survey, actor)`, which
    puts it in the audit log (naming the staff user) in the same transaction."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for(".detail", round_id=round_id), 303)
    session = get_session()
    campaign = current_campaign()
    survey = rounds.get_round(session, campaign, round_id)
    if (page := ask(confirmation(session, campaign, survey), form)) is not None:
        return page
    result = act(session, campaign, survey, current_user.username)
    flash(done.format(result=result), "info")
    return redirect(url_for(".detail", round_id=round_id), 303)


@bp.post("/<int:round_id>/open")
@roles_required(*ADMIN)
def open_(round_id: int):
    """Sample, invite and write every SMS to the outbox, once confirmed: a background
    job (a county's 40,000 invitations outlast a web request), whose page shows its
    progress."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for(".detail", round_id=round_id), 303)
    session = get_session()
    campaign = current_campaign()
    survey = rounds.get_round(session, campaign, round_id)
    if survey.status is RoundStatus.draft and (page := ask(open_confirmation(session, campaign, survey), form)):
        return page
    job = tasks.open_round_job(session, survey, request.url_root, current_user.username)
    db.after_commit(lambda: jobs.wake(current_app, job.id))
    return redirect(url_for("jobs.page", job_id=job.id), 303)


@bp.post("/<int:round_id>/remind")
@roles_required(*ADMIN)
def remind(round_id: int):
    def act(session, campaign, survey, actor):
        base = survey.link_base or request.url_root
        return rounds.remind(session, campaign, survey, link_tokens(current_app), wording(current_app, base),
                             actor=actor)

    return _act(round_id, lambda session, campaign, survey: remind_confirmation(session, survey), act,
                "已为 {result} 位尚未评价的市民写入提醒短信（每人只提醒一次）。")


@bp.post("/<int:round_id>/close")
@roles_required(*ADMIN)
def close(round_id: int):
    return _act(round_id, lambda session, campaign, survey: close_confirmation(session, survey),
                lambda session, campaign, survey, actor: rounds.close_round(session, survey, actor=actor),
                "本轮调查已结束，不再接受评价；尚未发出的 {result} 条短信已作废。")


@bp.post("/<int:round_id>/cancel")
@roles_required(*ADMIN)
def cancel(round_id: int):
    return _act(round_id, lambda session, campaign, survey: cancel_confirmation(session, survey),
                lambda session, campaign, survey, actor: rounds.cancel_round(session, survey, actor=actor),
                "本轮调查已取消：尚未发出的 {result.voided} 条短信已作废。可以重新建立这一轮调查。")
