"""服务承诺表（附件4）and 工作人员联系表（附件5）: the liaisons' pages for their own unit,
the office's overview of who has filled both (voting/commitments/commitments.py).

Who: a liaison reads and fills the own unit's forms only (another unit's page, form,
file or person: 403; an id of another campaign or none: 404); the review office's
administrators read and fill every unit's, and upload county-wide files; auditors read;
operators have no business here (403). No number is ever shown in full, not even to
whoever typed it: a number field is empty on the form, the stored value shown masked
beside it, and left empty it keeps that value.
"""
from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from voting.commitments import commitments, sheets
from voting.commitments.commitments import CONTACT_NUMBERS, CONTACT_TEXTS, NUMBERS, TEXTS, Change, ContactChange
from voting.commitments.models import StaffRole
from voting.commitments.phones import RULES, NumberError, read_number
from voting.core.db import get_session
from voting.core.errors import DomainError, ImportRejected
from voting.core.forms import Form
from voting.core.numbers import whole_number
from voting.lists.models import Unit
from voting.staff.auth import roles_required
from voting.staff.models import Role
from voting.web.common import ADMIN, FILE_TYPES, SHOWN_ERRORS, current_campaign, own_unit_id, read_upload
from voting.web.confirm import ConfirmForm, Confirmation, ask

bp = Blueprint("commitments", __name__, url_prefix="/office/commitments")

READERS = (Role.admin, Role.auditor, Role.liaison)
EDITORS = (Role.admin, Role.liaison)
OFFICE_READERS = (Role.admin, Role.auditor)
KEEP = "留空则保留已保存的号码；号码不回显。"


def _number_fields(form_class: type, numbers: dict) -> None:
    """A text box and a 清除 box for each number (filled in by the class's caller)."""
    for name, (label, kind) in numbers.items():
        setattr(form_class, name, StringField(label, validators=[Length(max=40, message=f"{label}太长")],
                                              description=RULES[kind]))
        setattr(form_class, f"clear_{name}", BooleanField(f"清除已保存的{label}"))


class CommitmentForm(Form):
    """附件4 of one section."""

    address = StringField("办公地址（具体门牌）", validators=[Length(max=TEXTS["address"][1],
                                                                   message=f"办公地址不超过 {TEXTS['address'][1]} 字")])
    head_name = StringField("主要负责人", validators=[Length(max=50, message="主要负责人姓名不超过 50 字")])
    liaison_name = StringField("联络员", validators=[Length(max=50, message="联络员姓名不超过 50 字")])
    duties = TextAreaField("工作职责", validators=[Length(max=TEXTS["duties"][1],
                                                      message=f"工作职责不超过 {TEXTS['duties'][1]} 字")])
    commitment = TextAreaField("服务承诺", validators=[Length(max=TEXTS["commitment"][1],
                                                         message=f"服务承诺不超过 {TEXTS['commitment'][1]} 字")])


_number_fields(CommitmentForm, NUMBERS)


class ContactForm(Form):
    """One person of 附件5."""

    role = SelectField("有关人员", choices=[SelectChoice(r.value, r.label) for r in StaffRole])
    # Checked against the unit's sections in the view (another unit's id: 404).
    section = SelectField("责任科室（主要负责人、工作人员必选；分管领导不选）", choices=[], validate_choice=False)
    name = StringField("姓名", validators=[InputRequired("请填写姓名"), Length(max=50, message="姓名不超过 50 字")])
    post = StringField("职务", validators=[Length(max=100, message="职务不超过 100 字")])


_number_fields(ContactForm, CONTACT_NUMBERS)


class UploadForm(Form):
    file = FileField("填好的表（xlsx 或 csv）", validators=[FileRequired("请选择文件"), FILE_TYPES])


def _text(value: str | None) -> str:
    return (value or "").replace("\r\n", "\n").strip()


def _read_numbers(form: Form, numbers: dict, change: Change) -> bool:
    """The numbers typed into `form` onto `change`; False (the field's error set) when
    one is not a number its field takes."""
    fine = True
    for name, (label, kind) in numbers.items():
        typed = (getattr(form, name).data or "").strip()
        if typed:
            try:
                change.numbers[name] = read_number(typed, kind, label)
            except NumberError as error:
                getattr(form, name).errors = [str(error)]
                fine = False
        elif getattr(form, f"clear_{name}").data:
            change.cleared.add(name)
    return fine


def _blank_numbers(form: Form, numbers: dict) -> None:
    """Never send a typed number back to the browser."""
    for name in numbers:
        getattr(form, name).data = ""
        getattr(form, name).raw_data = []


# ---- who may see what -------------------------------------------------------------------------


def _may_see(unit_id: int) -> None:
    if current_user.role == Role.liaison and own_unit_id() != unit_id:
        abort(403)


def _unit(unit_id: int) -> Unit:
    unit = commitments.get_unit(get_session(), current_campaign(), unit_id)
    if unit is None:
        abort(404)
    _may_see(unit.id)
    return unit


def _can_edit() -> bool:
    return current_user.role in EDITORS


# ---- the office's overview and a unit's page ---------------------------------------------------


@bp.get("/")
@roles_required(*READERS)
def index():
    if current_user.role == Role.liaison:
        if own_unit_id() is None:
            abort(403)
        return redirect(url_for(".unit_page", unit_id=own_unit_id()))
    campaign = current_campaign()
    rows = commitments.campaign_status(get_session(), campaign)
    return render_template("commitments/index.html", campaign=campaign, rows=rows, upload=UploadForm(formdata=None))


def _unit_page(unit: Unit, contact_form: ContactForm | None = None, status: int = 200,
               upload: UploadForm | None = None, **context):
    forms = commitments.unit_forms(get_session(), unit)
    if contact_form is None:
        contact_form = _contact_form(unit, formdata=None)
    return render_template("commitments/unit.html", unit=unit, forms=forms, contact_form=contact_form,
                           upload=upload or UploadForm(formdata=None), can_edit=_can_edit(), keep=KEEP,
                           confirm_form=ConfirmForm(formdata=None), confirmations={
                               c.id: _delete_confirmation(c) for c in forms.contacts}, **context), status


@bp.get("/<int:unit_id>")
@roles_required(*READERS)
def unit_page(unit_id: int):
    return _unit_page(_unit(unit_id))


# ---- 附件4: one section's form ------------------------------------------------------------------


def _section(section_id: int):
    section = commitments.get_section(get_session(), current_campaign(), section_id)
    if section is None:
        abort(404)
    _may_see(section.unit_id)
    return section


def _section_page(section, form: CommitmentForm, status: int = 200):
    stored = commitments.section_form(get_session(), section)
    _blank_numbers(form, NUMBERS)
    return render_template("commitments/section.html", section=section, stored=stored, form=form,
                           numbers=list(NUMBERS), can_edit=_can_edit(), keep=KEEP), status


@bp.get("/sections/<int:section_id>")
@roles_required(*READERS)
def section_form(section_id: int):
    section = _section(section_id)
    stored = commitments.section_form(get_session(), section)
    return _section_page(section, CommitmentForm(formdata=None, **stored.texts))


@bp.post("/sections/<int:section_id>/save")
@roles_required(*EDITORS)
def save_section(section_id: int):
    section = _section(section_id)
    form = CommitmentForm()
    if not form.validate_on_submit():
        return _section_page(section, form, 422)
    change = Change(texts={name: _text(getattr(form, name).data) for name in TEXTS})
    if not _read_numbers(form, NUMBERS, change):
        return _section_page(section, form, 422)
    try:
        changed = commitments.save_commitment(get_session(), section, change, actor=current_user.username,
                                              user_id=current_user.id)
    except DomainError as error:
        form.commitment.errors = [str(error)]
        return _section_page(section, form, 422)
    flash(f"已保存{section.name}的服务承诺表：修改了{'、'.join(changed)}。" if changed
          else f"{section.name}的服务承诺表没有改动。", "info")
    return redirect(url_for(".unit_page", unit_id=section.unit_id))


# ---- 附件5: the unit's people -------------------------------------------------------------------

NO_SECTION = ""


def _contact_form(unit: Unit, **kwargs) -> ContactForm:
    form = ContactForm(**kwargs)
    form.section.choices = [SelectChoice(NO_SECTION, "—（不属于某个科室）")] + [
        SelectChoice(str(s.id), s.name) for s in unit.sections]
    return form


def _contact_change(unit: Unit, form: ContactForm, valid: bool) -> ContactChange | None:
    """The form as a change, or None (the fields' errors set; `valid`: the form's own
    validation passed). A section id that is not one of the unit's (a tampered form): 404."""
    chosen = form.section.data or NO_SECTION
    section_id = None
    if chosen != NO_SECTION:
        section_id = whole_number(chosen)
        if section_id is None or section_id not in {s.id for s in unit.sections}:
            abort(404)
    role = StaffRole(form.role.data) if form.role.data in StaffRole._value2member_map_ else StaffRole.staff
    change = ContactChange(role=role, section_id=section_id,
                           texts={name: _text(getattr(form, name).data) for name in CONTACT_TEXTS})
    numbers_fine = _read_numbers(form, CONTACT_NUMBERS, change)  # every field's error shown at once
    return change if valid and numbers_fine else None


def _contact_refused(form: ContactForm, error: DomainError) -> None:
    target = form.section if "科室" in str(error) else form.name
    target.errors = [*target.errors, str(error)]


@bp.post("/<int:unit_id>/staff")
@roles_required(*EDITORS)
def add_contact(unit_id: int):
    unit = _unit(unit_id)
    form = _contact_form(unit)
    change = _contact_change(unit, form, form.validate_on_submit())
    if change is None:
        _blank_numbers(form, CONTACT_NUMBERS)
        return _unit_page(unit, form, 422, contact_errors=True)
    try:
        commitments.add_contact(get_session(), unit, change, actor=current_user.username, user_id=current_user.id)
    except DomainError as error:
        _contact_refused(form, error)
        _blank_numbers(form, CONTACT_NUMBERS)
        return _unit_page(unit, form, 422, contact_errors=True)
    flash(f"已添加{change.role.label}“{change.texts['name']}”。", "info")
    return redirect(url_for(".unit_page", unit_id=unit.id) + "#staff")


def _contact(contact_id: int):
    contact = commitments.get_contact(get_session(), current_campaign(), contact_id)
    if contact is None:
        abort(404)
    _may_see(contact.unit_id)
    return contact


def _contact_page(contact, form: ContactForm, status: int = 200):
    _blank_numbers(form, CONTACT_NUMBERS)
    return render_template("commitments/contact.html", contact=contact, row=commitments.contact_row(contact),
                           form=form, numbers=list(CONTACT_NUMBERS), can_edit=_can_edit(), keep=KEEP), status


@bp.get("/staff/<int:contact_id>")
@roles_required(*READERS)
def contact_page(contact_id: int):
    contact = _contact(contact_id)
    form = _contact_form(contact.unit, formdata=None, role=contact.role.value, name=contact.name, post=contact.post,
                         section=str(contact.section_id) if contact.section_id else NO_SECTION)
    return _contact_page(contact, form)


@bp.post("/staff/<int:contact_id>/save")
@roles_required(*EDITORS)
def save_contact(contact_id: int):
    contact = _contact(contact_id)
    form = _contact_form(contact.unit)
    change = _contact_change(contact.unit, form, form.validate_on_submit())
    if change is None:
        return _contact_page(contact, form, 422)
    try:
        changed = commitments.edit_contact(get_session(), contact, change, actor=current_user.username,
                                           user_id=current_user.id)
    except DomainError as error:
        _contact_refused(form, error)
        return _contact_page(contact, form, 422)
    flash(f"已保存：修改了{'、'.join(changed)}。" if changed else "没有改动。", "info")
    return redirect(url_for(".unit_page", unit_id=contact.unit_id) + "#staff")


def _delete_confirmation(row: commitments.ContactRow) -> Confirmation:
    where = f"（{row.section}）" if row.section else ""
    return Confirmation(title="删除工作人员", facts=[f"从工作人员联系表中删除{row.role.label}{where}“{row.name}”及其电话号码。"],
                        button="删除", action=url_for(".delete_contact", contact_id=row.id),
                        back=request.path, warning="删除后不能恢复，需要时请重新添加。", id=f"confirm-delete-{row.id}")


@bp.post("/staff/<int:contact_id>/delete")
@roles_required(*EDITORS)
def delete_contact(contact_id: int):
    contact = _contact(contact_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    row = commitments.contact_row(contact)
    confirmation = _delete_confirmation(row)
    confirmation.back = url_for(".unit_page", unit_id=contact.unit_id)
    if (page := ask(confirmation, form)) is not None:
        return page
    unit_id = contact.unit_id
    commitments.delete_contact(get_session(), contact, actor=current_user.username)
    flash(f"已删除{row.role.label}“{row.name}”。", "info")
    return redirect(url_for(".unit_page", unit_id=unit_id) + "#staff")


# ---- Excel: download and upload ------------------------------------------------------------------

SHEETS = {"commitments": ("服务承诺表", sheets.commitments_workbook, sheets.import_commitments),
          "staff": ("工作人员联系表", sheets.staff_workbook, sheets.import_staff)}


def _download(units: list[Unit], which: str, name: str):
    title, build, _ = SHEETS[which]
    data = build(get_session(), units)
    return send_file(io.BytesIO(data), mimetype=sheets.XLSX, as_attachment=True, download_name=f"{name}-{title}.xlsx")


@bp.get("/<int:unit_id>/commitments.xlsx")
@roles_required(*READERS)
def unit_commitments_file(unit_id: int):
    unit = _unit(unit_id)
    return _download([unit], "commitments", unit.name)


@bp.get("/<int:unit_id>/staff.xlsx")
@roles_required(*READERS)
def unit_staff_file(unit_id: int):
    unit = _unit(unit_id)
    return _download([unit], "staff", unit.name)


@bp.get("/all/commitments.xlsx")
@roles_required(*OFFICE_READERS)
def county_commitments_file():
    campaign = current_campaign()
    return _download(commitments.campaign_units(get_session(), campaign), "commitments", f"{campaign.year}年度全县")


@bp.get("/all/staff.xlsx")
@roles_required(*OFFICE_READERS)
def county_staff_file():
    campaign = current_campaign()
    return _download(commitments.campaign_units(get_session(), campaign), "staff", f"{campaign.year}年度全县")


def _upload(which: str, unit: Unit | None):
    title, _, store = SHEETS[which]
    form = UploadForm()
    campaign = current_campaign()

    def again(status: int, **context):
        if unit is None:
            rows = commitments.campaign_status(get_session(), campaign)
            return render_template("commitments/index.html", campaign=campaign, rows=rows, upload=form,
                                   upload_which=which, **context), status
        return _unit_page(unit, upload_which=which, upload=form, **context)[0], status

    if not form.validate_on_submit():
        return again(400)
    data, filename = read_upload(form.file)
    try:
        done = store(get_session(), campaign, data, filename, unit=unit, actor=current_user.username,
                     user_id=current_user.id)
    except ImportRejected as error:
        return again(422, rejected=error, shown=error.errors[:SHOWN_ERRORS], rejected_title=title)
    where = "、".join(done.units) if len(done.units) <= 3 else f"{len(done.units)} 个单位"
    flash(f"已导入{title}（{filename}）：{where}共 {done.rows} 行，替换原有的 {done.removed} 行。", "info")
    return redirect(url_for(".unit_page", unit_id=unit.id) if unit else url_for(".index"))


@bp.post("/<int:unit_id>/import/commitments")
@roles_required(*EDITORS)
def import_unit_commitments(unit_id: int):
    return _upload("commitments", _unit(unit_id))


@bp.post("/<int:unit_id>/import/staff")
@roles_required(*EDITORS)
def import_unit_staff(unit_id: int):
    return _upload("staff", _unit(unit_id))


@bp.post("/import/commitments")
@roles_required(*ADMIN)
def import_county_commitments():
    return _upload("commitments", None)


@bp.post("/import/staff")
@roles_required(*ADMIN)
def import_county_staff():
    return _upload("staff", None)
