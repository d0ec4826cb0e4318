"""评议二维码: the office's pages for the rating codes (voting/ratings/codes.py) and
their printable posters (voting/ratings/posters.py).

- /office/ratings/: the current campaign's sections by unit and each window
  assessment's windows, each with its live code (or none), the posters to download
  (one, a unit's, every section's, an assessment's windows'), an administrator's
  buttons to issue a code, and the form to make a case code (办件二维码);
- /office/ratings/codes/<id>: one code: its place, who issued it and when, whether it
  is stopped and why; an administrator stops it (with a reason) or issues it again,
  each confirmed first (voting/web/confirm.py): the printed poster stops at once.
- a case code's address and QR code are shown once, on the page that made it (and
  on the page that reissued it); a case code has no poster: it goes on the case's
  receipt or into an SMS.

The office's staff read; administrators change. Every change is one service call,
audited by the service; a refusal is shown on the page with its status and nothing is
stored (the request rolls back on an error status, voting/core/db.py).

The addresses are absolute: FLASK_PUBLIC_URL (the address citizens reach, as the SMS
links use) or, without it, the address this page was asked on.
"""
from __future__ import annotations

import io

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from markupsafe import Markup
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from voting.core.db import get_session
from voting.core.errors import DomainError, NotFoundError
from voting.core.forms import EmptyForm, Form
from voting.lists.models import Campaign, Section
from voting.core.models import utcnow
from voting.ratings import cases, codes, places, posters
from voting.ratings.models import CASE_REF_MAX, CodeKind, RatingCode
from voting.schemes.models import AssessedEntity
from voting.staff.auth import roles_required
from voting.staff.models import Role
from voting.web.common import ADMIN, OFFICE, current_campaign
from voting.web.confirm import ConfirmForm, Confirmation, ask

bp = Blueprint("rating_codes", __name__, url_prefix="/office/ratings")

PDF = "application/pdf"
RATE_PATH = "/r/"  # the public rating page's address (voting/ratings/citizen_views.py)
QR_TITLE = "评议二维码"


# ---- forms ------------------------------------------------------------------------------------


class CaseForm(Form):
    place = SelectField("科室或窗口", choices=[], validate_choice=False,
                        validators=[DataRequired("请选择科室或窗口")])
    case_ref = StringField("办件编号", validators=[
        DataRequired("请填写办件编号"), Length(max=CASE_REF_MAX, message=f"办件编号最多 {CASE_REF_MAX} 个字符")])


class RevokeForm(Form):
    reason = StringField("停用原因", validators=[
        DataRequired("请填写停用二维码的原因"), Length(max=codes.REASON_MAX, message=f"原因最多 {codes.REASON_MAX} 个字")],
        description="如：海报损坏、窗口撤并、二维码被覆盖或被调换")


# ---- helpers ----------------------------------------------------------------------------------


def _is_admin() -> bool:
    return current_user.role == Role.admin


def public_base() -> str:
    return (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")


def address_of(code: RatingCode) -> str:
    """The code's full rating address (absolute), what its QR code holds."""
    return f"{public_base()}{RATE_PATH}{codes.token_for(code)}"


def qr_svg(address: str) -> Markup:
    """The address's QR code as inline <svg> (no script, no style attribute: the
    staff pages' CSP allows it), the same matrix as the poster's."""
    code = segno.make(address, error=posters.QR_ERROR, micro=False)
    return Markup(code.svg_inline(scale=4, border=posters.QR_BORDER, dark="#000", light="#fff", title=QR_TITLE,
                                  svgclass="qr", lineclass=None))


def _campaign() -> Campaign | None:
    try:
        return current_campaign()
    except NotFoundError:
        return None


def _section(section_id: int) -> Section:
    """A section of the current campaign (404 for another year's)."""
    campaign = _campaign()
    return places.find_section(get_session(), campaign.id if campaign is not None else None, section_id)


def _entity(entity_id: int) -> AssessedEntity:
    return places.find_entity(get_session(), entity_id)


def _code(code_id: int) -> RatingCode:
    return codes.find_code(get_session(), code_id)


def _place_choices(campaign: Campaign | None) -> list[tuple[str, str]]:
    session = get_session()
    choices = [("", "请选择科室或窗口")]
    if campaign is not None:
        for unit, sections in places.sections_by_unit(session, campaign.id):
            choices += [(f"s-{s.id}", f"{unit.name} · {s.name}") for s in sections]
    for assessment, entities in places.assessments_with_entities(session):
        choices += [(f"w-{e.id}", f"{assessment.name} · {e.name}") for e in entities]
    return choices


def _case_form(campaign: Campaign | None, bound: bool = True) -> CaseForm:
    form = CaseForm() if bound else CaseForm(formdata=None)
    form.place.choices = _place_choices(campaign)
    return form


def _render_index(*, case_form: CaseForm | None = None, error: str | None = None, status: int = 200):
    session = get_session()
    campaign = _campaign()
    units = places.sections_by_unit(session, campaign.id) if campaign else []
    windows = places.assessments_with_entities(session)
    by_section, by_entity = places.live_codes(
        session, section_ids=[s.id for _, sections in units for s in sections],
        entity_ids=[e.id for _, entities in windows for e in entities])
    case_codes = places.live_case_codes(session)
    return render_template(
        "ratings/index.html", campaign=campaign, units=units, windows=windows, by_section=by_section,
        by_entity=by_entity, case_codes=case_codes, case_places=places.places_of(session, case_codes),
        admin=_is_admin(), form=EmptyForm(), case_form=case_form or _case_form(campaign, bound=False), error=error,
        overdue_cases=cases.overdue_count(session, utcnow()),
    ), status


def _shown_once(code: RatingCode, status: int = 200):
    """A case code's address and QR code: shown on this page only."""
    address = address_of(code)
    page = render_template("ratings/case.html", code=code, place=places.place_of(get_session(), code),
                           address=address, qr=qr_svg(address))
    response = current_app.make_response((page, status))
    response.headers["Cache-Control"] = "no-store"
    return response


def _revoke_confirmation(code: RatingCode, place: places.Place, reason: str) -> Confirmation:
    return Confirmation(
        title=f"停用评议二维码（编号 {code.id}）",
        facts=[f"{place.unit} · {place.name}的{code.kind.label}二维码（编号 {code.id}）将立即停用：已张贴或已发出的二维码，"
               "扫码后只显示“此二维码已停用”。", f"停用原因：{reason}"],
        button="停用二维码", action=url_for(".revoke", code_id=code.id), back=url_for(".code", code_id=code.id),
        warning="停用后不能恢复；需要时请重新生成二维码，并打印、张贴新的海报。", id=f"revoke-{code.id}",
        extra={"reason": reason},
    )


def _reissue_confirmation(code: RatingCode, place: places.Place) -> Confirmation:
    then = ("新的二维码只在下一页显示一次，请发给办事群众或打印在回执上。" if code.kind == CodeKind.case
            else "请下载新的海报，打印后替换窗口张贴的旧海报。")
    return Confirmation(
        title=f"重新生成评议二维码（编号 {code.id}）",
        facts=[f"{place.unit} · {place.name}的{code.kind.label}二维码（编号 {code.id}）将立即停用，"
               "已张贴或已发出的旧二维码扫码后只显示“此二维码已停用”。", f"同时生成一个新的二维码。{then}"],
        button="重新生成二维码", action=url_for(".reissue", code_id=code.id), back=url_for(".code", code_id=code.id),
        warning="旧二维码停用后不能恢复。", id=f"reissue-{code.id}",
    )


def _render_code(code: RatingCode, *, revoke_form: RevokeForm | None = None, error: str | None = None,
                 status: int = 200):
    place = places.place_of(get_session(), code)
    live = code.revoked_at is None
    return render_template(
        "ratings/code.html", code=code, place=place, live=live, admin=_is_admin(),
        revoke_form=revoke_form or RevokeForm(formdata=None), confirm_form=ConfirmForm(formdata=None),
        reissue=_reissue_confirmation(code, place) if live else None, error=error,
    ), status


def _pdf(data: bytes, name: str):
    response = send_file(io.BytesIO(data), mimetype=PDF, as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "no-store"
    return response


def _posters(found: list[RatingCode]) -> list[posters.Poster]:
    named = places.places_of(get_session(), found)
    base, tokens = public_base(), codes.rating_tokens()
    return [posters.Poster(code_id=code.id, kind=named[code.id].kind, place=named[code.id].name,
                           unit=named[code.id].unit, address=f"{base}{RATE_PATH}{tokens.sign(code)}")
            for code in found if code.id in named]


# ---- pages ------------------------------------------------------------------------------------


@bp.get("/")
@roles_required(*OFFICE)
def index():
    return _render_index()


@bp.get("/codes/<int:code_id>")
@roles_required(*OFFICE)
def code(code_id: int):
    return _render_code(_code(code_id))


@bp.post("/sections/<int:section_id>/issue")
@roles_required(*ADMIN)
def issue_section(section_id: int):
    section = _section(section_id)
    try:
        made = codes.issue(get_session(), actor=current_user.username, section_id=section.id)
    except DomainError as error:
        return _render_index(error=str(error), status=error.status)
    flash(f"已为{section.unit.name} · {section.name}生成评议二维码（编号 {made.id}），请下载海报打印张贴。", "info")
    return redirect(url_for(".index", _anchor=f"section-{section.id}"), 303)


@bp.post("/windows/<int:entity_id>/issue")
@roles_required(*ADMIN)
def issue_window(entity_id: int):
    entity = _entity(entity_id)
    try:
        made = codes.issue(get_session(), actor=current_user.username, entity_id=entity.id)
    except DomainError as error:
        return _render_index(error=str(error), status=error.status)
    flash(f"已为{entity.name}生成评议二维码（编号 {made.id}），请下载海报打印张贴。", "info")
    return redirect(url_for(".index", _anchor=f"window-{entity.id}"), 303)


@bp.post("/cases")
@roles_required(*ADMIN)
def issue_case():
    """A case code (办件二维码): its address and QR code shown once."""
    campaign = _campaign()
    form = _case_form(campaign)
    if not form.validate_on_submit():
        return _render_index(case_form=form, status=400)
    kind, _, number = (form.place.data or "").partition("-")
    if kind not in ("s", "w") or not number.isascii() or not number.isdigit() or len(number) > 9:
        form.place.errors.append("请选择科室或窗口")
        return _render_index(case_form=form, status=400)
    try:
        if kind == "s":
            made = codes.issue(get_session(), actor=current_user.username, section_id=_section(int(number)).id,
                               case_ref=form.case_ref.data)
        else:
            made = codes.issue(get_session(), actor=current_user.username, entity_id=_entity(int(number)).id,
                               case_ref=form.case_ref.data)
    except DomainError as error:
        field = form.place if isinstance(error, NotFoundError) else form.case_ref
        field.errors.append(str(error))
        return _render_index(case_form=form, status=error.status)
    return _shown_once(made)


@bp.post("/codes/<int:code_id>/revoke")
@roles_required(*ADMIN)
def revoke(code_id: int):
    """Stop a code at once, with the reason; confirmed first."""
    found = _code(code_id)
    form = RevokeForm()
    if not form.validate_on_submit():
        return _render_code(found, revoke_form=form, status=400)
    if found.revoked_at is not None:
        return _render_code(found, error=f"评议二维码 {found.id} 已经停用。", status=409)
    try:
        reason = codes.checked_reason(form.reason.data or "")
    except DomainError as error:
        form.reason.errors.append(str(error))
        return _render_code(found, revoke_form=form, status=error.status)
    if (page := ask(_revoke_confirmation(found, places.place_of(get_session(), found), reason))) is not None:
        return page
    try:
        codes.revoke(get_session(), found.id, actor=current_user.username, reason=reason)
    except DomainError as error:
        form.reason.errors.append(str(error))
        return _render_code(found, revoke_form=form, status=error.status)
    flash(f"评议二维码（编号 {found.id}）已停用：扫码后显示“此二维码已停用”。请撤下已张贴的海报。", "info")
    return redirect(url_for(".code", code_id=found.id), 303)


@bp.post("/codes/<int:code_id>/reissue")
@roles_required(*ADMIN)
def reissue(code_id: int):
    """Stop a code and issue its place a new one; confirmed first."""
    found = _code(code_id)
    if found.revoked_at is not None:
        return _render_code(found, error=f"评议二维码 {found.id} 已经停用，不能再重新生成。", status=409)
    if (page := ask(_reissue_confirmation(found, places.place_of(get_session(), found)), ConfirmForm())) is not None:
        return page
    made = codes.reissue(get_session(), found.id, actor=current_user.username)
    if made.kind == CodeKind.case:
        return _shown_once(made)
    flash(f"已重新生成评议二维码（新编号 {made.id}），旧二维码（编号 {found.id}）已停用。请下载新海报，替换张贴的旧海报。", "info")
    return redirect(url_for(".code", code_id=made.id), 303)


# ---- posters ----------------------------------------------------------------------------------


@bp.get("/codes/<int:code_id>/poster.pdf")
@roles_required(*OFFICE)
def poster(code_id: int):
    """One live counter code's poster."""
    found = places.live_code(get_session(), code_id)
    if found.kind == CodeKind.case:
        raise NotFoundError("办件二维码没有海报：它只在生成时显示一次。")
    return _pdf(posters.write_posters(_posters([found])), f"评议二维码-{found.id}.pdf")


@bp.get("/units/<int:unit_id>/posters.pdf")
@roles_required(*OFFICE)
def unit_posters(unit_id: int):
    """The posters of a unit's sections (their live codes), one a page."""
    campaign = _campaign()
    if campaign is None:
        raise NotFoundError(f"本年度没有编号为 {unit_id} 的单位。")
    unit, sections = places.unit_sections(get_session(), campaign.id, unit_id)
    by_section, _ = places.live_codes(get_session(), section_ids=[s.id for s in sections])
    found = [by_section[s.id] for s in sections if s.id in by_section]
    return _pdf(posters.write_posters(_posters(found), f"{unit.name}评议二维码海报"), f"评议二维码-{unit.name}.pdf")


@bp.get("/sections/posters.pdf")
@roles_required(*OFFICE)
def section_posters():
    """Every section's poster (their live codes), unit by unit."""
    campaign = _campaign()
    units = places.sections_by_unit(get_session(), campaign.id) if campaign else []
    ordered = [s.id for _, sections in units for s in sections]
    by_section, _ = places.live_codes(get_session(), section_ids=ordered)
    found = [by_section[i] for i in ordered if i in by_section]
    year = f"{campaign.year}年度" if campaign else ""
    return _pdf(posters.write_posters(_posters(found), f"{year}全部科室评议二维码海报"), f"评议二维码-{year}全部科室.pdf")


@bp.get("/assessments/<int:assessment_id>/posters.pdf")
@roles_required(*OFFICE)
def window_posters(assessment_id: int):
    """The posters of an assessment's windows (their live codes)."""
    assessment, entities = places.assessment_entities(get_session(), assessment_id)
    _, by_entity = places.live_codes(get_session(), entity_ids=[e.id for e in entities])
    found = [by_entity[e.id] for e in entities if e.id in by_entity]
    return _pdf(posters.write_posters(_posters(found), f"{assessment.name}窗口评议二维码海报"),
                f"评议二维码-{assessment.name}.pdf")
