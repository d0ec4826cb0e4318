"""结果运用: what the published results set in motion (voting/scores/consequences.py,
scoring/consequences.py; docs/rules.md §2.16).

The review office (administrators record; operators and auditors read):
- /office/scores/consequences/: every consequence, filtered by unit and kind, with how
  it stands (待执行, 已完成 with its day, 待复评结果, 不再执行); an administrator records
  one as done (the form /record?key=…, sent to /records: the day, who carried it out, a note) and undoes a record
  (/undo, confirmed first). Both are audited;
- /office/scores/consequences/committee: the county committee's table, one row per
  unit (its sections and results, its 考绩 points, its measures) as a printable A4
  document with the data version, and as Excel (committee.xlsx);
- /office/scores/consequences/units/<id>/notice.docx: a unit's notice (通知) in Word;
  notices.docx: every unit's notice in one document, to print.

A unit's liaison: /office/unit-consequences/ (its own unit's consequences, read only)
and /office/unit-consequences/notice.docx (its own notice); never another unit's.

Until the results are final (published, and the decided lists still the published
ones) the pages say why and offer nothing; the downloads and the record answer 409.
"""
from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from wtforms import DateField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from scoring import consequences as Q
from voting.core.db import get_session
from voting.core.errors import DomainError, NotFoundError
from voting.core.forms import Form
from voting.core.models import utcnow
from voting.office.exports import XLSX, Column, Sheet, workbook
from voting.scores import consequences as service
from voting.scores.views import PrintTable, _document, _printed_card
from voting.staff.auth import roles_required
from voting.staff.models import Role
from voting.web.common import ADMIN, OFFICE, current_campaign, own_unit_id, scorecard
from voting.web.confirm import ConfirmForm, Confirmation, ask
from voting.web.listing import QueryFilters
from voting.web.public import refuse_repeated_fields

bp = Blueprint("consequences", __name__)
bp.before_request(refuse_repeated_fields)

OFFICE_PATH = "/office/scores/consequences"
UNIT_PATH = "/office/unit-consequences"


class RecordForm(Form):
    key = HiddenField(validators=[DataRequired("缺少要登记的措施，请回到结果运用页面重新选择")])
    done_on = DateField("完成日期", format="%Y-%m-%d",
                        validators=[InputRequired("请填写完成日期（如 2022-01-15）")])
    done_by = StringField("执行单位或经办人", validators=[
        DataRequired("请填写执行单位或经办人"),
        Length(max=service.DONE_BY_MAX, message=f"执行单位或经办人不超过 {service.DONE_BY_MAX} 字")])
    note = TextAreaField("备注", validators=[
        Optional(), Length(max=service.NOTE_MAX, message=f"备注不超过 {service.NOTE_MAX} 字")],
        description="如：县委办发〔2022〕3号通报；约谈记录存档。")


# ---- helpers -------------------------------------------------------------------------------------------


def _zone() -> str:
    return current_app.config["TIMEZONE"]


def _today() -> date:
    return utcnow().astimezone(ZoneInfo(_zone())).date()


def _final() -> service.Final | str:
    campaign = current_campaign()
    return service.is_final(get_session(), campaign, scorecard(campaign), _zone())


def _must_be_final() -> service.Final:
    campaign = current_campaign()
    return service.final_results(get_session(), campaign, scorecard(campaign), _zone())


def _download(data: bytes, mimetype: str, filename: str):
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=filename)
    response.headers["Cache-Control"] = "no-store"
    return response


def _undo_confirmation(row: Q.Consequence | None, record, back: str) -> Confirmation:
    what = f"{row.unit}{' · ' + row.section if row and row.section else ''}：{row.text}" if row else record.key
    return Confirmation(
        title="撤销完成登记", button="撤销登记", action=url_for(".undo"), back=back,
        facts=[f"措施：{what}。", f"登记的完成日期 {record.done_on.isoformat()}，执行单位或经办人：{record.done_by}。",
               "撤销后这项措施重新显示为待执行，撤销记入审计日志。"],
        id=f"undo-{record.id}", extra={"key": record.key},
    )


def _office_page(final: service.Final | str):
    campaign = current_campaign()
    if isinstance(final, str):
        return render_template("scores/consequences.html", campaign=campaign, final=None, reason=final)
    filters = QueryFilters()
    unit_id = filters.number("unit", {u.unit_id for u in final.units})
    kind = filters.choice("kind", Q.KINDS)
    rows = [row for u in final.units if unit_id is None or u.unit_id == unit_id for row in u.rows
            if not kind or row.kind == kind]
    back = url_for(".index", **filters.keep)
    undo = {key: _undo_confirmation(final.find(key), record, back) for key, record in final.records.items()}
    undo.update({r.key: _undo_confirmation(None, r, back) for r in final.orphans})
    done = sum(1 for row in final.rows if row.key in final.records)
    applies = sum(1 for row in final.rows if row.status == Q.APPLIES)
    return render_template(
        "scores/consequences.html", campaign=campaign, final=final, reason=None, rows=rows, units=final.units,
        kinds=Q.KINDS, unit_id=unit_id, kind=kind, ignored=filters.ignored, keep=filters.keep,
        status=service.status_text, undo=undo, confirm_form=ConfirmForm(formdata=None),
        admin=current_user.role == Role.admin, done=done, applies=applies, settings=campaign.rules, signed=Q.signed,
    )


def _record_page(final: service.Final, key: str, form: RecordForm | None = None, status: int = 200,
                 error: str | None = None):
    row = final.find(key)
    if row is None:
        raise NotFoundError("没有这项结果运用措施（评议结果可能已重新公布），请回到结果运用页面重新选择。")
    form = form or RecordForm(formdata=None, key=key, done_on=_today())
    return render_template("scores/consequence_record.html", campaign=final.campaign, final=final, row=row, form=form,
                           record=final.records.get(key), error=error), status


# ---- the office ---------------------------------------------------------------------------------------


@bp.get(f"{OFFICE_PATH}/")
@roles_required(*OFFICE)
def index():
    """Every consequence, filtered by unit and kind, with how it stands."""
    return _office_page(_final())


@bp.get(f"{OFFICE_PATH}/record")
@roles_required(*ADMIN)
def record_form():
    """The form that records one consequence (`key` in the query string) as done."""
    return _record_page(_must_be_final(), request.args.get("key", ""))


@bp.post(f"{OFFICE_PATH}/records")
@roles_required(*ADMIN)
def record():
    final = _must_be_final()
    form = RecordForm()
    key = form.key.data or ""
    if not form.validate_on_submit():
        if not key:
            raise NotFoundError("缺少要登记的措施，请回到结果运用页面重新选择。")
        return _record_page(final, key, form, 422)
    try:
        service.record_done(get_session(), final, key, done_on=form.done_on.data, done_by=form.done_by.data or "",
                            note=form.note.data or "", today=_today(), user=current_user, actor=current_user.username)
    except NotFoundError:
        raise
    except service.RecordError as error:
        return _record_page(final, key, form, error.status, str(error))
    except DomainError as error:
        form.done_on.errors = [*form.done_on.errors, str(error)]
        return _record_page(final, key, form, 422)
    row = final.find(key)
    assert row is not None  # record_done found it
    flash(f"已登记完成：{row.unit}{' · ' + row.section if row.section else ''}，{row.kind_label}"
          f"（{form.done_on.data.isoformat()}）。", "info")
    return redirect(url_for(".index", unit=final.unit_id_of(row.unit)), 303)


@bp.post(f"{OFFICE_PATH}/undo")
@roles_required(*ADMIN)
def undo():
    """Undo the record of one consequence (confirmed first)."""
    key = request.form.get("key", "")
    session = get_session()
    campaign = current_campaign()
    found = service.find_record(session, campaign, key)
    if found is None:
        raise NotFoundError("这项措施没有完成登记，无需撤销。")
    final = _final()
    row = final.find(key) if not isinstance(final, str) else None
    if (page := ask(_undo_confirmation(row, found, url_for(".index")), ConfirmForm())) is not None:
        return page
    detail = service.undo_record(session, campaign, key, actor=current_user.username)
    flash(f"已撤销完成登记：{detail['unit']}{' · ' + detail['section'] if detail['section'] else ''}，"
          f"{detail['measure']}。", "info")
    return redirect(url_for(".index"), 303)


@bp.get(f"{OFFICE_PATH}/committee")
@roles_required(*OFFICE)
def committee():
    """The county committee's table as a printable document."""
    campaign, card, version = _printed_card()
    final = service.final_results(get_session(), campaign, card, _zone())
    s = card.settings
    columns = (("单位", False, 14), ("参评科室及评议结果", False, 24), ("考绩加减分", True, 8), ("结果运用措施", False, 49))
    rows = service.committee_rows(final)
    published = final.published_on
    intro = [
        f"根据{published.year}年{published.month}月{published.day}日公布的评议结果，列出有科室列入满意单位、"
        f"不满意单位或最不满意单位名单的 {len(rows)} 个单位；其余单位没有结果运用事项。",
        f"考绩：每个满意单位科室{Q.points_text(s.effect_satisfied)}，不满意单位科室{Q.points_text(s.effect_unsatisfied)}，"
        f"最不满意单位科室{Q.points_text(s.effect_most_unsatisfied)}，同一单位累加。"
        f"不满意单位限期整改的期限为公布之日起 {s.rectification_days} 日。",
    ]
    waiting = sum(1 for row in final.rows if row.kind == Q.REASSIGN and row.status == Q.PENDING)
    notes = [f"{waiting} 个不满意单位尚无复评结果：复评整改合格前不得提拔和平级调动的限制有效，刚性调整待复评结果。"] if waiting else []
    table = PrintTable(f"各单位结果运用（{len(rows)} 个单位）", columns, rows)
    return _document(campaign, version, f"{campaign.name}结果运用汇总表", "consequences.index", [table], intro, notes)


@bp.get(f"{OFFICE_PATH}/committee.xlsx")
@roles_required(*OFFICE)
def committee_xlsx():
    final = _must_be_final()
    at = datetime.now(ZoneInfo(_zone()))
    sheet = Sheet(
        name="结果运用", title=f"{final.campaign.name}结果运用汇总表",
        columns=[Column("单位", width=16), Column("参评科室及评议结果", width=36), Column("考绩加减分", width=10),
                 Column("结果运用措施", width=90)],
        rows=[[u.name, u.results_text, u.points, service.measures_text(u.rows)] for u in final.units],
        notes=[f"评议结果公布日期：{final.published_on.isoformat()}；考绩加减分为各科室加减分之和。"],
    )
    data = workbook([sheet], year=final.campaign.year, at=at)
    return _download(data, XLSX, f"{final.campaign.year}年度结果运用汇总表.xlsx")


@bp.get(f"{OFFICE_PATH}/units/<int:unit_id>/notice.docx")
@roles_required(*OFFICE)
def notice(unit_id: int):
    final = _must_be_final()
    unit = final.unit(unit_id)
    if unit is None:
        raise NotFoundError("这个单位没有科室列入评议结果名单，没有结果运用通知。")
    data = service.notices_docx(final, [unit], current_app.config["OFFICE_NAME"], _today())
    return _download(data, service.DOCX, f"{final.campaign.year}年度结果运用通知（{unit.name}）.docx")


@bp.get(f"{OFFICE_PATH}/notices.docx")
@roles_required(*OFFICE)
def notices():
    final = _must_be_final()
    data = service.notices_docx(final, final.units, current_app.config["OFFICE_NAME"], _today())
    return _download(data, service.DOCX, f"{final.campaign.year}年度结果运用通知（全部单位）.docx")


# ---- a unit --------------------------------------------------------------------------------------------


@bp.get(f"{UNIT_PATH}/")
@roles_required(Role.liaison)
def unit_page():
    """The liaison's own unit's consequences, read only."""
    final = _final()
    campaign = current_campaign()
    if isinstance(final, str):
        return render_template("scores/consequences_unit.html", campaign=campaign, final=None, reason=final, unit=None)
    return render_template("scores/consequences_unit.html", campaign=campaign, final=final, reason=None,
                           unit=final.unit(own_unit_id() or 0), status=service.status_text, signed=Q.signed)


@bp.get(f"{UNIT_PATH}/notice.docx")
@roles_required(Role.liaison)
def unit_notice():
    final = _must_be_final()
    unit = final.unit(own_unit_id() or 0)
    if unit is None:
        raise NotFoundError("本单位没有科室列入评议结果名单，没有结果运用通知。")
    data = service.notices_docx(final, [unit], current_app.config["OFFICE_NAME"], _today())
    return _download(data, service.DOCX, f"{final.campaign.year}年度结果运用通知（{unit.name}）.docx")

