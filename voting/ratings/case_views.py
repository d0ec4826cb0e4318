"""差评回访: the office's and the units' pages of the follow-up cases (voting/ratings/followups.py,
voting/ratings/cases.py).

The review office (administrators change; operators and auditors read):
- /office/rating-cases/: every case, the open ones first, each overdue one flagged
  已超期 with its due day and the working days it is over; filtered by state (未办结,
  已超期, 已办结) and unit, a page at a time;
- /office/rating-cases/<id>: one case: its place and unit, the rating's day, time and
  level, what went wrong (categories and the text as the citizen typed it), the phone
  masked (138****5678, never in full), the clock (预计 when the holiday calendar did not
  know the year), the call-back, the rectification, the closing and the citizen's
  verdict; an administrator records the call-back (回访情况, again replaces it) and
  closes the case (办结: irreversible, confirmed first, voting/web/confirm.py). Closing a
  case whose citizen gave a phone sends the SMS that asks their verdict and clears the
  case's phone (voting/ratings/cases.py).

A unit's liaison (its own unit's cases only: a section of the unit, or a window the
office gave to the unit):
- /office/unit-rating-cases/: the unit's cases with their overdue flags;
- /office/unit-rating-cases/<id>: the day of the rating (no time of day), its level,
  categories and text as a unit may read it (the office's 单位可见内容 when it set one
  on the complaint's page, else voting/ratings/redact.py `for_unit`),
  never the phone nor anything of who; whether the office called back (not what the
  citizen told it); the form to record the rectification (整改情况, again replaces
  it) while the case is open. Another unit's case is 404, as one that does not exist.

The office's pages are closed to liaisons (403), the units' to the office. Every change
is one service call, audited by the service (no phone, no text of the citizen's in the
audit log); a refusal is shown on the page with its status and stores nothing. A field
sent twice is refused (400), as on the public pages.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from sms.phones import mask_phone
from voting.core.db import get_session
from voting.core.errors import DomainError
from voting.core.forms import Form
from voting.core.models import utcnow
from voting.ratings import cases, complaints, followups
from voting.ratings.models import FOLLOWUP_TEXT_MAX
from voting.ratings.views import public_base
from voting.staff.auth import roles_required
from voting.staff.models import Role
from voting.web.common import ADMIN, OFFICE, own_unit_id
from voting.web.confirm import ConfirmForm, Confirmation, ask
from voting.web.listing import QueryFilters, paged
from voting.web.public import refuse_repeated_fields

bp = Blueprint("rating_cases", __name__)
bp.before_request(refuse_repeated_fields)

OFFICE_PATH = "/office/rating-cases"
UNIT_PATH = "/office/unit-rating-cases"
PER_PAGE = 50


class CallbackForm(Form):
    finding = TextAreaField("回访情况", validators=[
        DataRequired("请填写回访情况"), Length(max=FOLLOWUP_TEXT_MAX, message=f"回访情况最多 {FOLLOWUP_TEXT_MAX} 个字")],
        description="如：已于某日致电群众核实，反映情况属实／部分属实／不属实，群众的意见。")


class RectifyForm(Form):
    rectification = TextAreaField("整改情况", validators=[
        DataRequired("请填写整改情况"), Length(max=FOLLOWUP_TEXT_MAX, message=f"整改情况最多 {FOLLOWUP_TEXT_MAX} 个字")],
        description="如：已对窗口工作人员批评教育，调整了叫号流程。")


# ---- helpers ----------------------------------------------------------------------------------


def _zone() -> str:
    return current_app.config["TIMEZONE"]


def _is_admin() -> bool:
    return current_user.role == Role.admin


def _close_confirmation(row: cases.CaseRow) -> Confirmation:
    facts = [f"{row.unit} · {row.place}的差评（编号 {row.case.id}）将办结：此后不能再修改回访情况，单位也不能再填写整改情况。"]
    if row.case.rectified_at is None:
        facts.append("单位尚未填写整改情况。")
    if row.case.phone:
        facts.append("将向群众发送短信，请其评价处理结果是否满意；短信发出后，这件差评不再保存群众的手机号码。")
    else:
        facts.append("群众没有留下手机号码，不发送满意度评价短信。")
    return Confirmation(
        title=f"办结差评（编号 {row.case.id}）", facts=facts, button="办结",
        action=url_for(".close", case_id=row.case.id), back=url_for(".office_case", case_id=row.case.id),
        warning="办结后不能撤销。", id=f"close-{row.case.id}",
    )


def _render_office_case(case_id: int, *, callback_form: CallbackForm | None = None, error: str | None = None,
                        status: int = 200):
    row = cases.office_case(get_session(), case_id, utcnow(), _zone())
    form = callback_form or CallbackForm(formdata=None, finding=row.case.callback_finding or "")
    open_ = row.case.closed_at is None
    return render_template(
        "ratings/case_office.html", row=row, phone=mask_phone(row.case.phone), admin=_is_admin(), open=open_,
        callback_form=form, confirm_form=ConfirmForm(formdata=None),
        close=_close_confirmation(row) if open_ and row.case.callback_at is not None else None, error=error,
    ), status


def _render_unit_case(case_id: int, *, form: RectifyForm | None = None, error: str | None = None, status: int = 200):
    session = get_session()
    row = cases.unit_case(session, case_id, own_unit_id(), utcnow(), _zone())
    return render_template(
        "ratings/case_unit.html", row=row, text=complaints.unit_text_for(session, row.rating),
        form=form or RectifyForm(formdata=None, rectification=row.case.rectification or ""),
        open=row.case.closed_at is None, error=error,
    ), status


# ---- the office -------------------------------------------------------------------------------


@bp.get(f"{OFFICE_PATH}/")
@roles_required(*OFFICE)
def office_list():
    """Every case, the open ones first, overdue ones flagged; filtered by state and unit."""
    session = get_session()
    now, zone = utcnow(), _zone()
    filters = QueryFilters()
    units = cases.unit_choices(session)
    state = filters.choice("status", cases.STATES)
    unit_id = filters.number("unit", {u.id for u in units})
    rows, page = paged(lambda limit, offset: cases.list_cases(session, now, zone, state=state, unit_id=unit_id,
                                                              limit=limit, offset=offset), PER_PAGE, filters.page())
    return render_template("ratings/cases_office.html", rows=rows, page=page, keep=filters.keep,
                           ignored=filters.ignored, states=cases.STATES, state=state, units=units, unit_id=unit_id,
                           overdue=cases.overdue_count(session, now))


@bp.get(f"{OFFICE_PATH}/<int:case_id>")
@roles_required(*OFFICE)
def office_case(case_id: int):
    return _render_office_case(case_id)


@bp.post(f"{OFFICE_PATH}/<int:case_id>/callback")
@roles_required(*ADMIN)
def callback(case_id: int):
    """Record (or record again) what the call-back found."""
    form = CallbackForm()
    if not form.validate_on_submit():
        return _render_office_case(case_id, callback_form=form, status=400)
    try:
        followups.record_callback(get_session(), case_id, actor=current_user.username, finding=form.finding.data or "",
                                  now=utcnow())
    except DomainError as error:
        form.finding.errors.append(str(error))  # a closed case (409) shows no form: said above it too
        return _render_office_case(case_id, callback_form=form, error=str(error) if error.status == 409 else None,
                                   status=error.status)
    flash(f"已记录差评（编号 {case_id}）的回访情况。", "info")
    return redirect(url_for(".office_case", case_id=case_id), 303)


@bp.post(f"{OFFICE_PATH}/<int:case_id>/close")
@roles_required(*ADMIN)
def close(case_id: int):
    """Close the case (confirmed first) and, when the citizen gave a phone, send the SMS
    that asks their verdict."""
    row = cases.office_case(get_session(), case_id, utcnow(), _zone())
    if row.case.closed_at is not None:
        return _render_office_case(case_id, error=str(followups.CaseClosedError()), status=409)
    if row.case.callback_at is None:
        return _render_office_case(case_id, error="请先记录回访情况，再办结。", status=400)
    if (page := ask(_close_confirmation(row), ConfirmForm())) is not None:
        return page
    settings = cases.VerdictSettings.from_config(current_app.config, public_base())
    try:
        _, asked = cases.close_case(get_session(), case_id, actor=current_user.username, now=utcnow(),
                                    settings=settings, tokens=cases.verdict_tokens())
    except DomainError as error:
        return _render_office_case(case_id, error=str(error), status=error.status)
    then = "已向群众发送短信，请其评价处理结果。" if asked else "群众没有留下手机号码，未发送满意度评价短信。"
    flash(f"差评（编号 {case_id}）已办结。{then}", "info")
    return redirect(url_for(".office_case", case_id=case_id), 303)


# ---- a unit -----------------------------------------------------------------------------------


@bp.get(f"{UNIT_PATH}/")
@roles_required(Role.liaison)
def unit_list():
    """The unit's own cases, the open ones first, overdue ones flagged."""
    session = get_session()
    now, zone = utcnow(), _zone()
    unit_id = own_unit_id()
    filters = QueryFilters()
    state = filters.choice("status", cases.STATES)
    if unit_id is None:
        rows, page = paged(lambda limit, offset: ([], 0), PER_PAGE, filters.page())
        overdue = 0
    else:
        rows, page = paged(lambda limit, offset: cases.list_cases(session, now, zone, state=state, unit_id=unit_id,
                                                                  limit=limit, offset=offset), PER_PAGE, filters.page())
        overdue = cases.overdue_count(session, now, unit_id)
    return render_template("ratings/cases_unit.html", rows=rows, page=page, keep=filters.keep, ignored=filters.ignored,
                           states=cases.STATES, state=state, overdue=overdue)


@bp.get(f"{UNIT_PATH}/<int:case_id>")
@roles_required(Role.liaison)
def unit_case(case_id: int):
    return _render_unit_case(case_id)


@bp.post(f"{UNIT_PATH}/<int:case_id>/rectify")
@roles_required(Role.liaison)
def rectify(case_id: int):
    """Record (or record again) the unit's rectification of an open case of its own."""
    unit_id = own_unit_id()
    cases.unit_case(get_session(), case_id, unit_id, utcnow(), _zone())  # another unit's: 404 before anything
    form = RectifyForm()
    if not form.validate_on_submit():
        return _render_unit_case(case_id, form=form, status=400)
    try:
        followups.record_rectification(get_session(), case_id, unit_id=unit_id or 0, actor=current_user.username,
                                       text=form.rectification.data or "", now=utcnow())
    except DomainError as error:
        form.rectification.errors.append(str(error))
        return _render_unit_case(case_id, form=form, error=str(error) if error.status == 409 else None,
                                 status=error.status)
    flash(f"已记录差评（编号 {case_id}）的整改情况。", "info")
    return redirect(url_for(".unit_case", case_id=case_id), 303)
