"""评议二维码投诉: the review office's queue of complaints (voting/ratings/complaints.py).

- /office/ratings/complaints/: the current campaign's complaints (counted 差评 of its
  sections), the undecided first (the oldest of them first), each with its time, unit and
  section, level, what went wrong and the text as the citizen typed it, and its decision;
  filtered by status (未认定, 有效, 无效) and unit, a page at a time;
- /office/ratings/complaints/<rating_id>: one complaint: the same, the text the unit sees
  (单位可见内容), and an administrator's forms: decide it 有效 or 无效 with a reason (a
  valid one deducts from its section's 网络监督投诉平台 part at once), undo a decision
  (撤销认定, with a reason, confirmed first: voting/web/confirm.py), and set the text the
  unit sees.

Administrators change; operators and auditors read; liaisons are refused (403: their
own unit's complaints are on voting/ratings/unit_views.py). Every change is one service
call, audited by the service; a refusal is shown on the page with its status and nothing
is stored (the request rolls back on an error status, voting/core/db.py). A field sent
twice is refused (400), as on the public pages.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length

from voting.core.db import get_session
from voting.core.errors import DomainError, NotFoundError
from voting.core.forms import Form
from voting.lists.models import Campaign
from voting.ratings import complaints
from voting.ratings.models import COMPLAINT_REASON_MAX
from voting.staff.auth import roles_required
from voting.staff.models import Role
from voting.web.common import ADMIN, OFFICE, current_campaign
from voting.web.confirm import ConfirmForm, Confirmation, ask
from voting.web.listing import QueryFilters, paged
from voting.web.public import refuse_repeated_fields

bp = Blueprint("complaints", __name__, url_prefix="/office/ratings/complaints")
bp.before_request(refuse_repeated_fields)

PER_PAGE = 50
VERDICTS = [SelectChoice(complaints.VALID, "有效投诉：扣该科室网络监督投诉平台的分"),
            SelectChoice(complaints.INVALID, "无效投诉：不扣分")]
REASON_HINT = f"最多 {COMPLAINT_REASON_MAX} 个字；单位能看到认定结果和理由。"


class DecideForm(Form):
    verdict = RadioField("认定结果", choices=VERDICTS, validate_choice=False, validators=[
        DataRequired("请选择有效或无效"), AnyOf([complaints.VALID, complaints.INVALID], message="请选择有效或无效")])
    reason = TextAreaField("认定理由", validators=[
        DataRequired("请填写认定理由"),
        Length(max=COMPLAINT_REASON_MAX, message=f"认定理由最多 {COMPLAINT_REASON_MAX} 个字")],
        description="如：经调取窗口录像核实，工作人员确有推诿；或：反映的事项不属于本科室职责。" + REASON_HINT)


class UndoForm(Form):
    reason = TextAreaField("撤销理由", validators=[
        DataRequired("请填写撤销认定的理由"),
        Length(max=COMPLAINT_REASON_MAX, message=f"撤销理由最多 {COMPLAINT_REASON_MAX} 个字")],
        description="如：单位提出异议，经复核原认定有误。")


class UnitTextForm(Form):
    text = TextAreaField("单位可见内容", validators=[
        DataRequired("请填写单位可见内容"),
        Length(max=complaints.UNIT_TEXT_MAX, message=f"单位可见内容最多 {complaints.UNIT_TEXT_MAX} 个字")],
        description="单位看到的投诉内容。系统已自动隐去手机号码、身份证号码等数字和电子邮箱；"
                    "文中的姓名等能认出群众的内容，请在这里删去或改写。")


# ---- helpers ----------------------------------------------------------------------------------


def _is_admin() -> bool:
    return current_user.role == Role.admin


def _campaign() -> Campaign | None:
    try:
        return current_campaign()
    except NotFoundError:
        return None


def _undo_confirmation(found: complaints.Complaint, entry: complaints.Deduction | None,
                       reason: str) -> Confirmation:
    number = found.rating.id
    facts = [f"{found.place}的投诉（编号 {number}）已认定为{found.status}，将撤销认定，恢复为未认定。"]
    if entry is not None:
        facts.append(f"同时删除这件投诉在网络监督投诉平台的有效投诉扣分（{entry.points} 分），"
                     "该科室的平台办理得分随之恢复。")
    facts.append(f"撤销理由：{reason}")
    return Confirmation(
        title=f"撤销投诉认定（编号 {number}）", facts=facts, button="撤销认定",
        action=url_for(".undo", rating_id=number), back=url_for(".complaint", rating_id=number),
        warning="原认定及其理由此后只保留在审计日志中；撤销后可以重新认定。", id=f"undo-{number}",
        extra={"reason": reason},
    )


def _found(rating_id: int) -> tuple[Campaign, complaints.Complaint]:
    """The current campaign and its complaint `rating_id` (404 for none)."""
    campaign = _campaign()
    if campaign is None:
        raise NotFoundError(f"本年度没有编号为 {rating_id} 的投诉。")
    return campaign, complaints.get_complaint(get_session(), campaign, rating_id)


def _render_complaint(rating_id: int, *, decide_form: DecideForm | None = None, undo_form: UndoForm | None = None,
                      text_form: UnitTextForm | None = None, error: str | None = None, status: int = 200):
    campaign, found = _found(rating_id)
    entry = complaints.deduction_of(get_session(), campaign, found)
    return render_template(
        "ratings/complaint.html", c=found, entry=entry, admin=_is_admin(),
        decide_form=decide_form or DecideForm(formdata=None), undo_form=undo_form or UndoForm(formdata=None),
        text_form=text_form or UnitTextForm(formdata=None, text=found.unit_text), error=error,
    ), status


# ---- pages ------------------------------------------------------------------------------------


@bp.get("/")
@roles_required(*OFFICE)
def index():
    """The queue: the undecided first; filtered by status and unit."""
    session = get_session()
    campaign = _campaign()
    filters = QueryFilters()
    units = complaints.units(session, campaign.id) if campaign is not None else []
    status = filters.choice("status", complaints.STATUSES)
    unit_id = filters.number("unit", {u.id for u in units})
    if campaign is None:
        rows, page = paged(lambda limit, offset: ([], 0), PER_PAGE, filters.page())
        counts = dict.fromkeys(complaints.STATUSES, 0)
    else:
        rows, page = paged(lambda limit, offset: complaints.complaints(
            session, campaign.id, status=status, unit_id=unit_id, limit=limit, offset=offset), PER_PAGE, filters.page())
        counts = complaints.status_counts(session, campaign.id, unit_id=unit_id)
    return render_template("ratings/complaints.html", campaign=campaign, rows=rows, page=page, keep=filters.keep,
                           ignored=filters.ignored, statuses=complaints.STATUSES, status=status, units=units,
                           unit_id=unit_id, counts=counts)


@bp.get("/<int:rating_id>")
@roles_required(*OFFICE)
def complaint(rating_id: int):
    return _render_complaint(rating_id)


@bp.post("/<int:rating_id>/decide")
@roles_required(*ADMIN)
def decide(rating_id: int):
    """Decide the complaint 有效 or 无效, with the reason."""
    campaign, found = _found(rating_id)  # 404 before anything
    form = DecideForm()
    if not form.validate_on_submit():
        return _render_complaint(rating_id, decide_form=form, status=400)
    valid = form.verdict.data == complaints.VALID
    try:
        complaints.decide(get_session(), campaign, rating_id, valid=valid,
                          reason=form.reason.data or "", entered_by=current_user, actor=current_user.username)
    except DomainError as error:
        form.reason.errors.append(str(error))
        return _render_complaint(rating_id, decide_form=form, error=str(error), status=error.status)
    then = "已扣该科室网络监督投诉平台的分。" if valid else "不扣分。"
    flash(f"已将{found.place}的投诉（编号 {rating_id}）认定为{'有效' if valid else '无效'}，{then}", "info")
    return redirect(url_for(".complaint", rating_id=rating_id), 303)


@bp.post("/<int:rating_id>/undo")
@roles_required(*ADMIN)
def undo(rating_id: int):
    """Undo the decision (and a valid one's deduction), with the reason; confirmed first."""
    session = get_session()
    campaign, found = _found(rating_id)
    form = UndoForm()
    if not form.validate_on_submit():
        return _render_complaint(rating_id, undo_form=form, status=400)
    if not found.decided:
        return _render_complaint(rating_id, error="这件投诉还没有认定，无需撤销。", status=409)
    try:
        reason = complaints.checked_reason(form.reason.data, "撤销理由")
    except DomainError as error:
        form.reason.errors.append(str(error))
        return _render_complaint(rating_id, undo_form=form, status=error.status)
    confirmation = _undo_confirmation(found, complaints.deduction_of(session, campaign, found), reason)
    if (page := ask(confirmation, ConfirmForm())) is not None:
        return page
    try:
        complaints.undo(session, campaign, rating_id, reason=reason, actor=current_user.username)
    except DomainError as error:
        return _render_complaint(rating_id, error=str(error), status=error.status)
    flash(f"已撤销{found.place}的投诉（编号 {rating_id}）的认定，现为未认定。", "info")
    return redirect(url_for(".complaint", rating_id=rating_id), 303)


@bp.post("/<int:rating_id>/unit-text")
@roles_required(*ADMIN)
def unit_text(rating_id: int):
    """Set the text the unit sees of the complaint."""
    campaign, _ = _found(rating_id)  # 404 before anything
    form = UnitTextForm()
    if not form.validate_on_submit():
        return _render_complaint(rating_id, text_form=form, status=400)
    try:
        complaints.set_unit_text(get_session(), campaign, rating_id, text=form.text.data or "",
                                 actor=current_user.username)
    except DomainError as error:
        form.text.errors.append(str(error))
        return _render_complaint(rating_id, text_form=form, status=error.status)
    flash(f"已保存投诉（编号 {rating_id}）的单位可见内容。", "info")
    return redirect(url_for(".complaint", rating_id=rating_id), 303)
