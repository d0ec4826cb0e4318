"""报送截止日期: the office's deadlines for the units and the reminders to their liaisons
(voting/deadlines/deadlines.py).

The page shows, per deadline, its date (the rules' until the office sets one), when it
reminds by itself, and the units still owing with how many sections and whether a
liaison can be reached. The review office's administrators set a date and remind at
once (confirmed with the numbers); the other staff read; a liaison sees the dates and
the own unit only.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import DateField
from wtforms.validators import InputRequired, NumberRange

from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.core.errors import DomainError
from voting.core.forms import Form, WholeNumberField
from voting.deadlines.models import DeadlineKind
from voting.core.models import utcnow
from voting.deadlines import deadlines
from voting.office.overview import overview
from voting.tasks import login_url
from voting.web.common import ADMIN, STAFF, current_campaign, own_unit_id
from voting.web.confirm import ConfirmForm, Confirmation, ask

bp = Blueprint("deadlines", __name__, url_prefix="/office/deadlines")


class DeadlineForm(Form):
    due_on = DateField("截止日期", validators=[InputRequired("请填写截止日期（如 2021-10-10）")],
                       format="%Y-%m-%d")
    remind_days = WholeNumberField("提前几天自动提醒", validators=[
        InputRequired("请填写提前提醒的天数（0 表示截止当天提醒）"),
        NumberRange(0, deadlines.MAX_REMIND_DAYS, f"提前提醒的天数应在 0 到 {deadlines.MAX_REMIND_DAYS} 之间")])


def _kind(name: str) -> DeadlineKind:
    try:
        return DeadlineKind(name)
    except ValueError:
        abort(404)


def _today() -> date:
    return deadlines.local_today(current_app.config["TIMEZONE"], utcnow())


def remind_confirmation(kind: DeadlineKind, plan: deadlines.Plan, owing: list[deadlines.Owing]) -> Confirmation:
    reachable = [o for o in owing if o.reachable]
    people = sum(len(o.liaisons) for o in reachable)
    facts = [f"{kind.label}{plan.due_on.month}月{plan.due_on.day}日截止：{len(owing)} 个单位尚未报齐。",
             f"向其中 {len(reachable)} 个单位的 {people} 位联络员各发一条提醒短信（今天已提醒过的不再重复）。"
             if people else "没有可提醒的联络员：请先在“账号”页登记联络员的手机号码。"]
    unreachable = [o.unit for o in owing if not o.reachable]
    if unreachable:
        facts.append(f"{len(unreachable)} 个单位没有登记手机号码的联络员，不会收到提醒：" + "、".join(unreachable[:10])
                     + ("等。" if len(unreachable) > 10 else "。"))
    return Confirmation(title=f"提醒报送{kind.label}", facts=facts, button="发送提醒短信",
                        action=url_for("deadlines.remind", kind=kind.value), back=url_for("deadlines.index"),
                        id=f"confirm-remind-{kind.value}")


def _render(forms: dict[DeadlineKind, DeadlineForm] | None = None, status: int = 200):
    session = get_session()
    campaign = current_campaign()
    plans = deadlines.plans(session, campaign)
    unit_id = own_unit_id()
    units = overview(session, campaign).units
    rows = {}
    confirmations = {}
    for kind, plan in plans.items():
        owing = deadlines.owing(session, campaign, kind, units)
        if unit_id is not None:
            owing = [o for o in owing if o.unit_id == unit_id]
        rows[kind] = owing
        confirmations[kind] = remind_confirmation(kind, plan, owing)
    forms = forms or {}
    for kind, plan in plans.items():
        forms.setdefault(kind, DeadlineForm(formdata=None, prefix=kind.value, due_on=plan.due_on,
                                            remind_days=plan.remind_days))
    return render_template("deadlines/deadlines.html", campaign=campaign, plans=plans, rows=rows, forms=forms,
                           confirmations=confirmations, today=_today(), still_owed={
                               k: deadlines.still_owed(session, campaign, k) for k in plans},
                           confirm_form=ConfirmForm(formdata=None)), status


@bp.get("/")
@roles_required(*STAFF)
def index():
    return _render()


@bp.post("/<kind>")
@roles_required(*ADMIN)
def save(kind: str):
    """Set one deadline's date and lead time; a bad value is shown on the form (400)."""
    deadline_kind = _kind(kind)
    form = DeadlineForm(prefix=deadline_kind.value)
    if not form.validate_on_submit():
        return _render({deadline_kind: form}, 400)
    session = get_session()
    try:
        deadlines.set_deadline(session, current_campaign(), deadline_kind, form.due_on.data, form.remind_days.data,
                               current_user.username)
    except DomainError as error:
        form.due_on.errors = [str(error)]
        return _render({deadline_kind: form}, 400)
    due = form.due_on.data
    flash(f"已设定：{deadline_kind.label}{due.month}月{due.day}日截止，提前 {form.remind_days.data} 天自动提醒未报齐单位的联络员。",
          "info")
    return redirect(url_for(".index"))


@bp.post("/<kind>/remind")
@roles_required(*ADMIN)
def remind(kind: str):
    """Remind the liaisons of the units still owing, once confirmed."""
    deadline_kind = _kind(kind)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    session = get_session()
    campaign = current_campaign()
    plan = deadlines.plans(session, campaign)[deadline_kind]
    if (page := ask(remind_confirmation(deadline_kind, plan, deadlines.owing(session, campaign, deadline_kind)),
                    form)) is not None:
        return page
    done = deadlines.remind(session, campaign, deadline_kind, due_on=plan.due_on, today=_today(),
                            sign=current_app.config["SMS_SIGN"], login_url=login_url(current_app, request.host_url),
                            actor=current_user.username)
    said = f"已向 {done.units} 个单位的联络员写入 {done.messages} 条提醒短信，由发送进程发出。"
    if done.already:
        said += f"{done.already} 位联络员今天已提醒过，未重复发送。"
    if done.unreachable:
        said += f"{len(done.unreachable)} 个单位没有登记手机号码的联络员，未能提醒。"
    flash(said, "info")
    return redirect(url_for(".index"))
