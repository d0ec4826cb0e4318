"""Review office (评议办) and unit liaison pages: overview, sections, imports."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, NumberRange

from scoring import columns as C
from sms.phones import mask_phone
from voting import uploads
from voting.auth import roles_required
from voting.forms import EmptyForm, Form, WholeNumberField
from voting.db import get_session
from voting.errors import DomainError, ImportRejected, NotFoundError
from voting.jobs import later, wake
from voting.models import ObjectImport, RoundKind, Section, ServiceObject
from voting.services import campaigns, history, objects, overview, sections
from voting.tasks import INVITE_LATE, import_objects_job
from voting.views.common import (
    ADMIN, FILE_TYPES, STAFF, UPLOADERS, current_campaign as _campaign, own_unit_id as _own_unit_id,
    read_upload as _read_upload, rejected as _rejected, score_figure,
)
from voting.views.public import PUBLIC_BLUEPRINTS

bp = Blueprint("office", __name__, url_prefix="/office")


class CampaignForm(Form):
    year = WholeNumberField("年度", validators=[DataRequired("请填写年度"), NumberRange(2000, 2100, "年度应在 2000–2100 之间")])


@bp.get("/")
@roles_required(*STAFF)
def dashboard():
    session = get_session()
    try:
        campaign = _campaign()
    except NotFoundError:
        return render_template("dashboard.html", campaign=None, form=CampaignForm())
    statuses = history.section_statuses(session, campaign)
    unit_id = _own_unit_id()
    if unit_id is not None:
        statuses = statuses[statuses["unit_id"] == unit_id]
    lists = objects.section_lists(session, campaign)
    ids = set(statuses["id"])
    coverage = {
        kind: sum(1 for (sid, k) in lists if k == kind and sid in ids) for kind in RoundKind
    }
    uploads = session.scalars(
        select(ObjectImport).where(ObjectImport.campaign_id == campaign.id)
        .order_by(ObjectImport.created_at.desc()).limit(10)
    ).all()
    if unit_id is not None:
        uploads = [u for u in uploads if _import_units(u) <= {unit_id}]
    return render_template(
        "dashboard.html",
        campaign=campaign,
        units=statuses["unit_id"].nunique(),
        sections=len(statuses),
        exempt=int(statuses[C.EXEMPT].sum()),
        previous_unsatisfied=int(statuses[C.PREVIOUS_UNSATISFIED].sum()),
        evaluated=int((~statuses[C.EXEMPT]).sum()),
        coverage=coverage,
        uploads=uploads,
        form=None,
        overview=overview.overview(session, campaign, unit_id),
        kinds=list(RoundKind),
    )


@bp.post("/campaigns")
@roles_required(*ADMIN)
def create_campaign():
    form = CampaignForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for(".dashboard"))
    campaigns.create_campaign(get_session(), form.year.data)
    get_session().commit()
    flash(f"已建立 {form.year.data} 年度评议活动。", "info")
    return redirect(url_for(".dashboard"))


def _import_units(upload: ObjectImport) -> set[int]:
    session = get_session()
    ids = [row[0] for row in upload.report.get("sections", [])]
    if not ids:
        return set()
    return set(session.scalars(select(Section.unit_id).where(Section.id.in_(ids))))


@bp.get("/sections")
@roles_required(*STAFF)
def section_list():
    session = get_session()
    campaign = _campaign()
    statuses = history.section_statuses(session, campaign)
    unit_id = _own_unit_id()
    if unit_id is not None:
        statuses = statuses[statuses["unit_id"] == unit_id]
    lists = objects.section_lists(session, campaign)
    return render_template(
        "sections.html", campaign=campaign, rows=statuses.to_dict("records"), lists=lists, rounds=list(RoundKind)
    )


@bp.get("/sections/<int:section_id>/<round_kind>")
@roles_required(*STAFF)
def section_objects(section_id: int, round_kind: str):
    """One section's list for one round, phone numbers masked."""
    session = get_session()
    campaign = _campaign()
    statuses = history.section_statuses(session, campaign).set_index("id")
    if section_id not in statuses.index or round_kind not in RoundKind.__members__:
        abort(404)
    section = statuses.loc[section_id]
    unit_id = _own_unit_id()
    if unit_id is not None and section["unit_id"] != unit_id:
        abort(403)
    rows = session.scalars(
        select(ServiceObject)
        .where(ServiceObject.section_id == section_id, ServiceObject.round == RoundKind(round_kind))
        .order_by(ServiceObject.source_row)
    ).all()
    return render_template(
        "section_objects.html", section=section, section_id=section_id, round=RoundKind(round_kind), rows=rows,
        mask_phone=mask_phone,
    )


# ---- sections list (Annex 1) -------------------------------------------------------

class SectionsUploadForm(Form):
    file = FileField("参评科室名单(xlsx 或 csv)", validators=[FileRequired("请选择文件"), FILE_TYPES])


class SectionsConfirmForm(Form):
    payload = HiddenField(validators=[DataRequired()])


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="sections-preview")


@bp.route("/import/sections", methods=["GET", "POST"])
@roles_required(*ADMIN)
def import_sections():
    form = SectionsUploadForm()
    campaign = _campaign()
    if not form.validate_on_submit():
        return render_template("import_sections.html", form=form, campaign=campaign), 400 if form.errors else 200
    data, filename = _read_upload(form.file)
    try:
        listed = sections.parse_sections(data, filename)
    except ImportRejected as error:
        return _rejected("import_sections.html", error, form=form, campaign=campaign)
    diff = sections.diff_sections(get_session(), campaign, listed)
    payload = _serializer().dumps(
        {"campaign": campaign.id, "fingerprint": diff.fingerprint, "sections": sections.listed_to_json(listed),
         "filename": filename}
    )
    return render_template(
        "import_sections_preview.html", diff=diff, campaign=campaign, filename=filename,
        confirm=SectionsConfirmForm(payload=payload), total=len(listed),
    )


@bp.post("/import/sections/confirm")
@roles_required(*ADMIN)
def confirm_sections():
    form = SectionsConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        payload = _serializer().loads(form.payload.data)
    except BadSignature:
        abort(400)
    campaign = _campaign()
    if payload.get("campaign") != campaign.id:
        raise DomainError("预览针对的是另一个评议活动,请重新上传。")
    listed = sections.listed_from_json(payload["sections"])
    diff = sections.apply_sections(get_session(), campaign, listed, payload["fingerprint"],
                                   filename=payload.get("filename", ""), actor=current_user.username)
    get_session().commit()
    if diff.is_empty:
        flash("名单与现有名单相同,没有任何改动。", "info")
    else:
        flash(
            f"已更新参评科室名单:新增 {len(diff.added)} 个,删除 {len(diff.removed)} 个,修改 {len(diff.changed)} 个。",
            "info",
        )
    return redirect(url_for(".section_list"))


# ---- history --------------------------------------------------------------------------

class HistoryUploadForm(Form):
    file = FileField("往年评议结果(history.csv 或 xlsx)", validators=[FileRequired("请选择文件"), FILE_TYPES])


class HistoryConfirmForm(Form):
    payload = HiddenField(validators=[DataRequired()])


# How long a preview may be confirmed: the file's rows travel in the signed token,
# and a preview left open for a day should be looked at again, not stored.
HISTORY_PREVIEW_SECONDS = 3600
HISTORY_EXPIRED = "预览已超过 1 小时,已失效:请重新上传文件并核对后再确认。未保存任何数据。"
HISTORY_FORGED = "预览数据无效(可能被改动过):请重新上传文件并核对后再确认。未保存任何数据。"


def _history_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="history-preview")


@bp.route("/import/history", methods=["GET", "POST"])
@roles_required(*ADMIN)
def import_history():
    """往年评议结果: what is stored now, by year; an upload is checked and previewed
    against it, and stored only by `confirm_history`."""
    form = HistoryUploadForm()
    campaign = _campaign()
    stored = history.stored_history(get_session(), campaign)
    if not form.validate_on_submit():
        return render_template("import_history.html", form=form, stored=stored), 400 if form.errors else 200
    data, filename = _read_upload(form.file)
    try:
        parsed = history.parse_history(data, filename)
    except ImportRejected as error:
        return _rejected("import_history.html", error, form=form, stored=stored)
    preview = history.preview_history(get_session(), campaign, parsed)
    payload = _history_serializer().dumps(
        {"campaign": campaign.id, "fingerprint": preview.fingerprint, "rows": history.parsed_to_json(parsed),
         "filename": filename}
    )
    return render_template(
        "import_history.html", form=form, stored=stored, preview=preview, filename=filename,
        confirm=HistoryConfirmForm(payload=payload),
    )


@bp.post("/import/history/confirm")
@roles_required(*ADMIN)
def confirm_history():
    form = HistoryConfirmForm()
    if not form.validate_on_submit():
        raise DomainError(HISTORY_FORGED)
    try:
        payload = _history_serializer().loads(form.payload.data, max_age=HISTORY_PREVIEW_SECONDS)
    except SignatureExpired:
        raise DomainError(HISTORY_EXPIRED) from None
    except BadSignature:
        raise DomainError(HISTORY_FORGED) from None
    campaign = _campaign()
    if payload.get("campaign") != campaign.id:
        raise DomainError("预览针对的是另一个评议活动,请重新上传。")
    filename = payload.get("filename", "")
    summary = history.store_history(get_session(), campaign, history.parsed_from_json(payload["rows"]),
                                    payload["fingerprint"], filename=filename, actor=current_user.username)
    get_session().commit()
    flash(
        f"已导入 {filename}:共 {summary.rows} 行,新增 {summary.added},更新 {summary.updated},未变 {summary.unchanged}。",
        "info",
    )
    for row, unit, section in summary.unmatched[:50]:
        flash(f"第 {row} 行:“{unit} {section}”不在本年度参评科室名单中(已保存,请核对名称)", "warning")
    return redirect(url_for(".import_history"))


# ---- service objects ------------------------------------------------------------------

MULTI = "0"


class ObjectsUploadForm(Form):
    round_kind = SelectField("轮次", choices=[SelectChoice(k.value, f"{k.value} {k.label}") for k in RoundKind])
    section = SelectField("科室", choices=[])
    all_penalized_reported = BooleanField("已全部上报处罚对象(管理执法类科室本年被处罚的服务对象不足 100 个、已全部报送时勾选)")
    file = FileField("服务对象名单(xlsx 或 csv)", validators=[FileRequired("请选择文件"), FILE_TYPES])


def _objects_form(campaign) -> ObjectsUploadForm:  # noqa: ANN001
    form = ObjectsUploadForm()
    statuses = history.section_statuses(get_session(), campaign)
    unit_id = _own_unit_id()
    if unit_id is not None:
        statuses = statuses[statuses["unit_id"] == unit_id]
    statuses = statuses[~statuses[C.EXEMPT]]
    form.section.choices = [SelectChoice(MULTI, "文件内含“单位名称”和“科室”列(可含多个科室)")] + [
        SelectChoice(str(r["id"]), f"{r['unit']} · {r['section']}") for r in statuses.to_dict("records")
    ]
    # A round that has ended takes no list: the form does not offer it (a post for it
    # from an older page is told why, by _round_refused).
    form.ended = {kind: refusal for kind in RoundKind
                  if (refusal := objects.round_refusal(get_session(), campaign, kind))}
    if request.method == "GET":
        form.round_kind.choices = [c for c in form.round_kind.choices if RoundKind(c.value) not in form.ended]
    return form


def _round_refused(form: ObjectsUploadForm, campaign, section_id: int | None) -> str | None:  # noqa: ANN001
    """Why the chosen round (and section) takes no list now, said before the file is read."""
    return objects.round_refusal(get_session(), campaign, RoundKind(form.round_kind.data),
                                 [section_id] if section_id is not None else [])


@bp.route("/import/objects", methods=["GET", "POST"])
@roles_required(*UPLOADERS)
def import_objects():
    campaign = _campaign()
    form = _objects_form(campaign)
    if not form.validate_on_submit():
        return render_template("import_objects.html", form=form), 400 if form.errors else 200
    section_id = None if form.section.data == MULTI else int(form.section.data)
    if refusal := _round_refused(form, campaign, section_id):
        form.round_kind.errors = [refusal]
        return render_template("import_objects.html", form=form), 422
    if uploads.is_big(current_app, form.file.data):
        # A big file is read by a background job, not by this request (memory, time):
        # saved now, its progress, then its result or its bad rows, on the job's page.
        storage = form.file.data
        job = import_objects_job(
            get_session(), campaign, RoundKind(form.round_kind.data), storage.filename or "upload",
            upload=uploads.save_upload(current_app, storage), section_id=section_id, unit_id=_own_unit_id(),
            all_penalized_reported=form.all_penalized_reported.data, uploaded_by_id=current_user.id,
            actor=current_user.username,
        )
        get_session().commit()
        wake(current_app._get_current_object(), job.id)
        return redirect(url_for("jobs.page", job_id=job.id))
    data, filename = _read_upload(form.file)
    try:
        summary = objects.import_objects(
            get_session(), campaign, RoundKind(form.round_kind.data), data, filename,
            section_id=section_id, unit_id=_own_unit_id(),
            all_penalized_reported=form.all_penalized_reported.data, uploaded_by=current_user,
            actor=current_user.username,
        )
    except ImportRejected as error:
        return _rejected("import_objects.html", error, form=form)
    except DomainError as error:  # the round changed while the file was read: nothing stored
        get_session().rollback()
        form.round_kind.errors = [str(error)]
        return render_template("import_objects.html", form=form), 422
    get_session().commit()
    flash(f"已导入 {filename}:读取 {summary.rows_read} 行,保存 {summary.stored} 人,重复 {len(summary.duplicates)} 行。", "info")
    if summary.late_round_id is not None:
        later(current_app._get_current_object(), INVITE_LATE, round_id=summary.late_round_id)
        flash(f"{form.round_kind.data} 轮调查正在进行:这些科室的邀请短信即将按本轮的抽样规则写入发件箱并发出。", "info")
    return redirect(url_for(".import_report", import_id=summary.import_id))


@bp.get("/imports/<int:import_id>")
@roles_required(*STAFF)
def import_report(import_id: int):
    upload = get_session().get(ObjectImport, import_id)
    if upload is None or upload.campaign_id != _campaign().id:  # the pages work on one campaign
        abort(404)
    unit_id = _own_unit_id()
    if unit_id is not None and not _import_units(upload) <= {unit_id}:
        abort(403)
    return render_template("import_report.html", upload=upload)


@bp.app_context_processor
def _forms():
    # formdata=None: an error page (413, bad multipart) must not read the request body.
    # The public pages (citizens, evaluators, ballots) have no staff menu: no form (and
    # no CSRF token) built for them.
    if request.blueprint in PUBLIC_BLUEPRINTS:
        return {}
    return {"logout_form": EmptyForm(formdata=None), "campaign_stage": _campaign_stage}


def _campaign_stage() -> tuple[int, str] | None:
    """The campaign the staff pages work on and its stage (名单, 调查, …), for the menu:
    worked out once per audited change (every step of the workflow is audited), not per
    page; None without a campaign or a login."""
    if not current_user.is_authenticated:
        return None
    try:
        campaign = _campaign()
    except NotFoundError:
        return None
    stage = score_figure(campaign, "stage", lambda: overview.overview(get_session(), campaign).stage)
    return campaign.year, stage
