"""名单核查: the list-integrity flags for the review office (voting/integrity/integrity.py).

The page lists the flags by section with their evidence (masked phones and names, list
rows, counts), filtered by kind and status; the review office's administrators run the
checks (a background job) and mark each flag 已排除 or 已处理 with a note (audited).
Operators and auditors read. Liaisons never see a flag (403). Nothing here changes a
score.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from voting import tasks
from voting.core import db
from voting.core.db import get_session
from voting.core.errors import DomainError
from voting.core.forms import EmptyForm, Form
from voting.integrity import integrity
from voting.integrity.models import FLAG_KIND_LABELS, FlagKind, FlagStatus
from voting.jobs import jobs
from voting.jobs import views as job_views
from voting.staff.auth import roles_required
from voting.web.common import ADMIN, OFFICE, current_campaign, local_time

bp = Blueprint("integrity", __name__, url_prefix="/office/integrity")

DECISIONS = [SelectChoice(FlagStatus.cleared.value, "已排除（核查无问题）"),
             SelectChoice(FlagStatus.acted.value, "已处理（已责令改正或另行处理）")]


class DecisionForm(Form):
    status = RadioField("核查结论", choices=DECISIONS,
                        validators=[InputRequired("请选择核查结论：已排除或已处理")])
    note = TextAreaField("核查说明", validators=[
        DataRequired("请填写核查说明：核查了什么、结论如何"),
        Length(max=integrity.NOTE_MAX, message=f"核查说明不超过 {integrity.NOTE_MAX} 字")])


def _choice(name: str, kind: type[FlagKind] | type[FlagStatus], label: str):
    value = request.args.get(name, "")
    if value == "":
        return None
    try:
        return kind(value)
    except ValueError:
        raise DomainError(f"地址中的参数 {name}（{label}）不是可选的值，请从页面上的筛选重新选择。") from None


def _when(value: str) -> str:
    try:
        return local_time(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return ""


def _render(form: DecisionForm | None = None, form_flag: int | None = None, status: int = 200):
    session = get_session()
    campaign = current_campaign()
    kind = _choice("kind", FlagKind, "提示类别")
    state = _choice("status", FlagStatus, "核查状态")
    rows = integrity.listing(session, campaign, kind, state)
    latest = jobs.latest(session, tasks.INTEGRITY_CHECK, campaign.id)
    return render_template(
        "integrity/flags.html", campaign=campaign, rows=rows, counts=integrity.counts(session, campaign),
        kinds=list(FlagKind), statuses=list(FlagStatus), kind=kind, state=state, kind_labels=FLAG_KIND_LABELS,
        latest=latest, latest_state=job_views.state(latest) if latest else None, run_form=EmptyForm(formdata=None),
        form=form, form_flag=form_flag, blank=DecisionForm(formdata=None), when=_when,
        can_decide=current_user.role.value == "admin",
    ), status


@bp.get("/")
@roles_required(*OFFICE)
def index():
    return _render()


@bp.post("/check")
@roles_required(*ADMIN)
def check():
    """运行检查: the checks as a background job; its page shows the progress."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    job = tasks.integrity_check_job(get_session(), current_campaign(), current_user.username)
    db.after_commit(lambda: jobs.wake(current_app, job.id))
    return redirect(url_for("jobs.page", job_id=job.id), 303)


@bp.post("/<int:flag_id>/decide")
@roles_required(*ADMIN)
def decide(flag_id: int):
    """Mark a flag 已排除 or 已处理, with the note (audited); a bad form is shown again (400)."""
    form = DecisionForm()
    session = get_session()
    campaign = current_campaign()
    integrity.get_flag(session, campaign, flag_id)  # 404 before reading the form
    if not form.validate_on_submit():
        return _render(form, flag_id, 400)
    flag = integrity.decide(session, campaign, flag_id, FlagStatus(form.status.data), form.note.data,
                            actor=current_user.username)
    flash(f"已记录核查结论：{flag.kind.label}（{flag.round.value}）{flag.status.label}。核查提示不影响任何评分。", "info")
    return redirect(url_for(".index", _anchor=f"flag-{flag.id}"), 303)
