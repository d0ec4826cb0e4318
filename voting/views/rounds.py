"""The review office's survey rounds (issue 4): set a round up, open it (sample, invite,
write every SMS to the outbox), follow each section's invitations live, remind the
citizens who have not answered, close it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import DateTimeLocalField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange

from voting import jobs, tasks
from voting.auth import roles_required
from voting.db import get_session
from voting.errors import DomainError
from voting.forms import EmptyForm, Form, WholeNumberField
from voting.links import link_tokens, wording
from voting.models import InviteMode, Role, RoundKind, RoundStatus, Section
from voting.services import audit, rounds
from voting.views.common import ADMIN, OFFICE, current_campaign, own_unit_id

bp = Blueprint("rounds", __name__, url_prefix="/office/rounds")
REFRESH_SECONDS = 30  # an open round's page reloads itself: counts move as people vote
UNIT_MIN_COUNT = 5  # SPEC §4: unit-facing counts below this show as "<5"


class RoundForm(Form):
    kind = SelectField("轮次", choices=[SelectChoice(k.value, f"{k.value} {rounds.ROUND_NAMES[k]}") for k in RoundKind])
    closes_at = DateTimeLocalField("截止时间", format="%Y-%m-%dT%H:%M", validators=[DataRequired("请填写截止时间")])
    sample_size = WholeNumberField(
        "每个科室抽样人数(名单人数少于此数时全部邀请)", default=50,
        validators=[InputRequired("请填写抽样人数"), NumberRange(1, 500, "抽样人数应在 1 到 500 之间")],
    )
    mode = SelectField("邀请方式", choices=[
        SelectChoice(InviteMode.link.value, "短信链接(点开即可评价)"),
        SelectChoice(InviteMode.code.value, "评价码(短信不含链接,市民在固定网址输入 8 位评价码;运营商拦截链接时使用)"),
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
    return render_template("rounds.html", campaign=campaign, rounds=found, totals=totals, form=form,
                           action=EmptyForm(formdata=None), unit_view=unit_id is not None), status


@bp.get("/")
@roles_required(*OFFICE, Role.liaison)
def index():
    default_close = (datetime.now(_zone()) + timedelta(days=14)).replace(hour=18, minute=0, second=0, microsecond=0)
    return _render_index(RoundForm(formdata=None, closes_at=default_close.replace(tzinfo=None)))[0]


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
            InviteMode(form.mode.data), form.reminder_after_hours.data,
        )
    except DomainError as error:
        form.kind.errors = [str(error)]
        return _render_index(form, 422)
    audit.record(session, "round.create", actor=current_user.username, campaign_id=survey.campaign_id, detail={
        **_round_detail(survey), "closes_at": survey.closes_at.isoformat(), "sample_size": survey.sample_size,
        "seed": survey.seed, "mode": survey.mode.value, "reminder_after_hours": survey.reminder_after_hours,
    })
    session.commit()
    flash(f"已建立 {survey.kind.value} 轮调查(抽样种子 {survey.seed}),核对后点“开始发送”。", "info")
    return redirect(url_for(".detail", round_id=survey.id), 303)


@bp.get("/<int:round_id>")
@roles_required(*OFFICE, Role.liaison)
def detail(round_id: int):
    """Each section's invitations: sent, delivered, failed, opened, voted, rate. A unit
    liaison sees only the unit's own sections, with every count of answers below
    UNIT_MIN_COUNT shown as "<5" (SPEC §4: a small count could reveal a person's vote)."""
    session = get_session()
    survey = rounds.get_round(session, current_campaign(), round_id)
    progress = rounds.section_progress(session, survey)
    unit_id = _liaison_unit()
    if unit_id is not None:
        progress = progress[progress["section_id"].isin(_unit_sections(unit_id))]
    totals = {column: int(progress[column].sum()) if len(progress) else 0
              for column in ("invited", "sent", "delivered", "failed", "opened", "voted")}
    sort = request.args.get("sort", "")
    sortable = ("voted", "invited", "failed") if unit_id is not None else ("rate", "voted", "invited", "failed")
    if sort in sortable and len(progress):
        progress = progress.sort_values(sort, kind="stable", na_position="last")
    return render_template(
        "round.html", survey=survey, rows=progress.to_dict("records"), totals=totals, action=EmptyForm(formdata=None),
        refresh=REFRESH_SECONDS if survey.status is RoundStatus.open else None, is_open=rounds.is_open(survey),
        unit_view=unit_id is not None, unit_min=UNIT_MIN_COUNT,
    )


def _liaison_unit() -> int | None:
    """A liaison's unit (403 for a liaison left without one); None for the office."""
    unit_id = own_unit_id()
    if unit_id is None and current_user.role == Role.liaison:
        abort(403)
    return unit_id


def _unit_sections(unit_id: int) -> list[int]:
    return list(get_session().scalars(select(Section.id).where(Section.unit_id == unit_id)))


@bp.app_template_filter("unit_count")
def unit_count(value: int, unit_view: bool) -> str:
    """A count as a unit may see it: below UNIT_MIN_COUNT, "<5"."""
    return f"<{UNIT_MIN_COUNT}" if unit_view and int(value) < UNIT_MIN_COUNT else str(int(value))


def _round_detail(survey) -> dict:  # noqa: ANN001
    return {"round_id": survey.id, "round": survey.kind.value}


def _act(round_id: int, act, done: str, action: str, detail=lambda result: {}):  # noqa: ANN001
    """Run one round action and put it in the audit log (here, not in services.rounds,
    so that the log names the staff user), in the same transaction."""
    if not EmptyForm().validate_on_submit():
        return redirect(url_for(".detail", round_id=round_id), 303)
    session = get_session()
    campaign = current_campaign()
    survey = rounds.get_round(session, campaign, round_id)
    result = act(session, campaign, survey)
    audit.record(session, action, actor=current_user.username, campaign_id=campaign.id,
                 detail={**_round_detail(survey), **detail(result)})
    session.commit()
    flash(done.format(result=result), "info")
    return redirect(url_for(".detail", round_id=round_id), 303)


@bp.post("/<int:round_id>/open")
@roles_required(*ADMIN)
def open_(round_id: int):
    """Sample, invite and write every SMS to the outbox: a background job (a county's
    40,000 invitations outlast a web request), whose page shows its progress."""
    if not EmptyForm().validate_on_submit():
        return redirect(url_for(".detail", round_id=round_id), 303)
    session = get_session()
    survey = rounds.get_round(session, current_campaign(), round_id)
    job = tasks.open_round_job(session, survey, request.url_root, current_user.username)
    session.commit()
    jobs.wake(current_app, job.id)
    return redirect(url_for("jobs.page", job_id=job.id), 303)


@bp.post("/<int:round_id>/remind")
@roles_required(*ADMIN)
def remind(round_id: int):
    def act(session, campaign, survey):
        return rounds.remind(session, campaign, survey, link_tokens(current_app), wording(current_app, request.url_root))

    return _act(round_id, act, "已为 {result} 位尚未评价的市民写入提醒短信(每人只提醒一次)。",
                "round.remind", lambda reminded: {"reminders": reminded})


@bp.post("/<int:round_id>/close")
@roles_required(*ADMIN)
def close(round_id: int):
    return _act(round_id, lambda session, campaign, survey: rounds.close_round(session, survey), "本轮调查已结束,不再接受评价。",
                "round.close")
