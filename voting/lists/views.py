"""Review office (评议办) and unit liaison pages: overview, sections, imports."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, ValidationError

from scoring import columns as C
from sms.phones import mask_phone
from voting.core import db, uploads
from voting.staff.auth import roles_required
from voting.core.forms import LABEL_PARTS, EmptyForm, Form, LabelField, WholeNumberField
from voting.core.db import get_session
from voting.core.errors import DomainError, ImportRejected, NotFoundError
from voting.jobs.jobs import later, wake
from voting.core.numbers import whole_number
from voting.lists.models import Campaign, RoundKind
from voting.core.models import utcnow
from voting.lists import campaigns, history, objects, sections
from voting.components import deductions
from voting.components.models import REASON_MAX
from voting.web.confirm import ConfirmForm, Confirmation, ask
from voting.deadlines import deadlines
from voting.office import overview
from voting.survey import rounds
from voting.core.tables import fold
from voting.tasks import INVITE_LATE, import_objects_job
from voting.web.common import (
    ADMIN,
    FILE_TYPES,
    STAFF,
    UPLOADERS,
    current_campaign as _campaign,
    own_unit_id as _own_unit_id,
    read_upload as _read_upload,
    reevaluation_of,
    rejected as _rejected,
)
from voting.web.listing import QueryFilters, paged, sliced

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
        return render_template("lists/dashboard.html", campaign=None, form=CampaignForm())
    statuses = history.section_statuses(session, campaign)
    unit_id = _own_unit_id()
    if unit_id is not None:
        statuses = statuses[statuses["unit_id"] == unit_id]
    lists = objects.section_lists(session, campaign)
    ids = set(statuses["id"])
    kinds = rounds.year_rounds(statuses)
    owed = {kind: len(rounds.surveyed(statuses, kind)) for kind in kinds}
    coverage = {
        kind: (sum(1 for (sid, k) in lists if k == kind and sid in ids), owed[kind]) for kind in kinds
    }
    uploads = objects.recent_imports(session, campaign, 10)
    if unit_id is not None:
        uploads = [u for u in uploads if objects.import_units(session, u) <= {unit_id}]
    return render_template(
        "lists/dashboard.html",
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
        kinds=kinds,
        deadlines=[plan for plan in deadlines.plans(session, campaign).values()
                   if deadlines.still_owed(session, campaign, plan.kind)],
        today=deadlines.local_today(current_app.config["TIMEZONE"], utcnow()),
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
    flash(f"已建立 {form.year.data} 年度评议活动。", "info")
    return redirect(url_for(".dashboard"))


# ---- the sections page: search, filters, pages ---------------------------------------------

SECTIONS_PER_PAGE = 50
SECTION_KINDS = {"enforcement": "管理执法类", "other": "非管理执法类"}
# Worded unlike the table's tags (免评, 上年不满意), which a reader counts on the page.
SECTION_STATUSES = {"exempt": "免评的科室", "evaluated": "参评（不免评）的科室", "unsatisfied": "上年不满意的科室"}
# "H2-missing": sections that owe a list for H2 (not exempt, none uploaded).
SECTION_LISTS = {f"{kind.value}-{state}": f"{kind.value} {label}" for kind in RoundKind
                 for state, label in (("missing", "未报名单"), ("listed", "已报名单"))}
# "6-12", "6.12", "6 12": unit 6's section 12; a lone number is a unit's or a section's.
_NUMBERS = re.compile(r"([0-9]{1,9})(?:\s*[-./\s]\s*([0-9]{1,9}))?")


@dataclass(frozen=True)
class SectionFilter:
    text: str = ""  # part of a unit's or a section's name, or their numbers
    unit_id: int | None = None
    kind: str = ""  # a key of SECTION_KINDS, or "" for all
    status: str = ""  # a key of SECTION_STATUSES
    listed: str = ""  # a key of SECTION_LISTS


def _section_filter(filters: QueryFilters, unit_ids: set[int]) -> SectionFilter:
    return SectionFilter(
        text=filters.text("q"), unit_id=filters.number("unit", unit_ids), kind=filters.choice("kind", SECTION_KINDS),
        status=filters.choice("status", SECTION_STATUSES), listed=filters.choice("list", SECTION_LISTS),
    )


def _text_matches(statuses: pd.DataFrame, text: str) -> pd.Series:
    """The sections whose unit and section name hold `text` (width and spaces folded,
    as the imports compare names, so "县发改局 价格科" finds 价格科), or whose numbers
    it is (_NUMBERS)."""
    needle = fold(text).casefold()
    names = (statuses["unit"].map(fold) + statuses["section"].map(fold)).str.casefold()
    found = names.str.contains(needle, regex=False)
    numbers = _NUMBERS.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if numbers:
        unit_no = pd.to_numeric(statuses["unit_no"], errors="coerce")
        section_no = pd.to_numeric(statuses["section_no"], errors="coerce")
        first, second = int(numbers.group(1)), numbers.group(2)
        if second is None:
            found |= (unit_no == first) | (section_no == first)
        else:
            found |= (unit_no == first) & (section_no == int(second))
    return found


def _sections_matching(statuses: pd.DataFrame, lists: dict, where: SectionFilter) -> pd.DataFrame:
    """The sections `where` leaves, in list order."""
    keep = pd.Series(True, index=statuses.index)
    if where.unit_id is not None:
        keep &= statuses["unit_id"] == where.unit_id
    if where.kind:
        keep &= statuses["is_enforcement"].astype(bool) == (where.kind == "enforcement")
    exempt = statuses[C.EXEMPT].astype(bool)
    if where.status == "exempt":
        keep &= exempt
    elif where.status == "evaluated":
        keep &= ~exempt
    elif where.status == "unsatisfied":
        keep &= statuses[C.PREVIOUS_UNSATISFIED].astype(bool)
    if where.listed:
        code, state = where.listed.split("-")
        kind = RoundKind(code)
        has_list = statuses["id"].map(lambda section_id: (section_id, kind) in lists).astype(bool)
        owes = statuses["id"].isin(rounds.surveyed(statuses, kind)["id"])  # the 复评: last year's 不满意单位 only
        keep &= has_list if state == "listed" else ~has_list & owes
    if where.text:
        keep &= _text_matches(statuses, where.text)
    return statuses[keep]


@bp.get("/sections")
@roles_required(*STAFF)
def section_list():
    """参评科室 (a liaison: the own unit's), searched and filtered by the page's GET
    form, SECTIONS_PER_PAGE a page."""
    session = get_session()
    campaign = _campaign()
    statuses = history.section_statuses(session, campaign)
    unit_id = _own_unit_id()
    if unit_id is not None:
        statuses = statuses[statuses["unit_id"] == unit_id]
    lists = objects.section_lists(session, campaign)
    units = [{"id": int(r["unit_id"]), "name": r["unit"]}
             for r in statuses.drop_duplicates("unit_id").to_dict("records")]
    filters = QueryFilters()
    where = _section_filter(filters, {u["id"] for u in units})
    found = _sections_matching(statuses, lists, where).to_dict("records")
    for row in found:  # 应报未报补录: the date it was found (None, or NaT from pandas, for the others)
        late = row.get("listed_late_on")
        row["late_on"] = late if isinstance(late, date) and not pd.isna(late) else None
    rows, page = paged(sliced(found), SECTIONS_PER_PAGE, filters.page())
    return render_template(
        "lists/sections.html", campaign=campaign, rows=rows, page=page, listed=len(statuses), lists=lists,
        rounds=rounds.year_rounds(statuses), where=where, keep=filters.keep, ignored=filters.ignored,
        units=units if unit_id is None else None, kinds=SECTION_KINDS, statuses=SECTION_STATUSES,
        list_filters=SECTION_LISTS, admin=current_user.role in ADMIN, undo_form=EmptyForm(formdata=None),
        marks=_reevaluation_marks(campaign, statuses),
    )


def _reevaluation_marks(campaign: Campaign, statuses: pd.DataFrame) -> dict[int, list[str]]:
    """Last year's 不满意单位's 复评 marks (整改未合格, 复评仍不满意), by section id."""
    if not statuses[C.PREVIOUS_UNSATISFIED].astype(bool).any():
        return {}
    return {row.section_id: row.outcome.marks for row in reevaluation_of(campaign).rows}


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
    rows = objects.section_objects(session, section_id, RoundKind(round_kind))
    return render_template(
        "lists/section_objects.html", section=section, section_id=section_id, round=RoundKind(round_kind), rows=rows,
        mask_phone=mask_phone,
    )


# ---- sections list (Annex 1) -------------------------------------------------------

class SectionsUploadForm(Form):
    file = FileField("参评科室名单（xlsx 或 csv）", validators=[FileRequired("请选择文件"), FILE_TYPES])


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
        return render_template("lists/import_sections.html", form=form, campaign=campaign), 400 if form.errors else 200
    data, filename = _read_upload(form.file)
    try:
        listed = sections.parse_sections(data, filename)
    except ImportRejected as error:
        return _rejected("lists/import_sections.html", error, form=form, campaign=campaign)
    diff = sections.diff_sections(get_session(), campaign, listed)
    payload = _serializer().dumps(
        {"campaign": campaign.id, "fingerprint": diff.fingerprint, "sections": sections.listed_to_json(listed),
         "filename": filename}
    )
    return render_template(
        "lists/import_sections_preview.html", diff=diff, campaign=campaign, filename=filename,
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
        raise DomainError("预览针对的是另一个评议活动，请重新上传。")
    listed = sections.listed_from_json(payload["sections"])
    diff = sections.apply_sections(get_session(), campaign, listed, payload["fingerprint"],
                                   filename=payload.get("filename", ""), actor=current_user.username)
    if diff.is_empty:
        flash("名单与现有名单相同，没有任何改动。", "info")
    else:
        flash(
            f"已更新参评科室名单：新增 {len(diff.added)} 个，删除 {len(diff.removed)} 个，修改 {len(diff.changed)} 个。",
            "info",
        )
    if diff.kept_late:
        flash(f"名单中没有以下应报未报补录的科室，已保留（如系误录，请在本页撤销补录）："
              f"{'、'.join(f'{s.unit} {s.section}' for s in diff.kept_late)}。", "warning")
    return redirect(url_for(".section_list"))


# ---- history --------------------------------------------------------------------------

class HistoryUploadForm(Form):
    file = FileField("往年评议结果（history.csv 或 xlsx）", validators=[FileRequired("请选择文件"), FILE_TYPES])


class HistoryConfirmForm(Form):
    payload = HiddenField(validators=[DataRequired()])


# How long a preview may be confirmed: the file's rows travel in the signed token,
# and a preview left open for a day should be looked at again, not stored.
HISTORY_PREVIEW_SECONDS = 3600
HISTORY_EXPIRED = "预览已超过 1 小时，已失效：请重新上传文件并核对后再确认。未保存任何数据。"
HISTORY_FORGED = "预览数据无效（可能被改动过）：请重新上传文件并核对后再确认。未保存任何数据。"


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
        return render_template("lists/import_history.html", form=form, stored=stored), 400 if form.errors else 200
    data, filename = _read_upload(form.file)
    try:
        parsed = history.parse_history(data, filename)
    except ImportRejected as error:
        return _rejected("lists/import_history.html", error, form=form, stored=stored)
    preview = history.preview_history(get_session(), campaign, parsed)
    payload = _history_serializer().dumps(
        {"campaign": campaign.id, "fingerprint": preview.fingerprint, "rows": history.parsed_to_json(parsed),
         "filename": filename}
    )
    return render_template(
        "lists/import_history.html", form=form, stored=stored, preview=preview, filename=filename,
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
        raise DomainError("预览针对的是另一个评议活动，请重新上传。")
    filename = payload.get("filename", "")
    summary = history.store_history(get_session(), campaign, history.parsed_from_json(payload["rows"]),
                                    payload["fingerprint"], filename=filename, actor=current_user.username)
    flash(
        f"已导入 {filename}：共 {summary.rows} 行，新增 {summary.added}，更新 {summary.updated}，未变 {summary.unchanged}。",
        "info",
    )
    for row, unit, section in summary.unmatched[:50]:
        flash(f"第 {row} 行：“{unit} {section}”不在本年度参评科室名单中（已保存，请核对名称）", "warning")
    return redirect(url_for(".import_history"))


# ---- service objects ------------------------------------------------------------------

MULTI = "0"  # the file names its sections (单位名称, 科室 columns)
MULTI_LABEL = "文件内含“单位名称”和“科室”列（可含多个科室）"
TYPED = "typed"  # the section typed into `section_name`
# A choice of at most this many sections is a <select> (a liaison's own unit: the
# largest of a county's 44 has 25 sections); a longer one (the review office's 363) is
# typed, the sections offered in a <datalist>.
SHORT_LIST = 30


class ObjectsUploadForm(Form):
    round_kind = SelectField("轮次", choices=[SelectChoice(k.value, f"{k.value} {k.label}") for k in RoundKind])
    # Checked against `sections` (validate_section), not against the choices shown.
    section = SelectField("科室", choices=[], validate_choice=False)
    section_name = LabelField("单位和科室名称", noun="科室")
    all_penalized_reported = BooleanField("已全部上报处罚对象（管理执法类科室本年被处罚的服务对象不足 100 个、已全部报送时勾选）")
    file = FileField("服务对象名单（xlsx 或 csv）", validators=[FileRequired("请选择文件"), FILE_TYPES])

    sections: dict[int, str]  # the sections the user may upload for: {id: "单位 · 科室"}
    typed = False  # the section is typed (section_name), not picked from the <select>
    chosen: int | None = None  # the section the list is for; None: the file names its sections

    def validate_section(self, field: SelectField) -> None:
        if field.data == MULTI or (self.typed and field.data == TYPED):
            return
        section_id = whole_number(field.data or "")
        if section_id not in self.sections:
            raise ValidationError(field.gettext("Not a valid choice."))
        self.chosen = section_id

    def validate_section_name(self, field: LabelField) -> None:
        if not self.typed:
            return
        if self.section.data == TYPED:
            self.chosen = field.resolve()
            if self.chosen is None:
                raise ValidationError(f"请输入单位和科室名称，如“{next(iter(self.sections.values()))}”；"
                                      f"文件内含多个科室时，请在“科室”中选择“{MULTI_LABEL}”。")
        elif self.section.data == MULTI and (field.data or "").strip():
            raise ValidationError(f"已选择“{MULTI_LABEL}”，文件按其中的单位名称和科室导入："
                                  "只上传一个科室的名单时，请在“科室”中选择“一个科室”。")


def _objects_form(campaign) -> ObjectsUploadForm:
    """The upload form, its sections those the user may upload for (not exempt; a
    liaison's own unit's). Up to SHORT_LIST of them are picked from the <select> (with
    MULTI), as before. More are typed: a text box offers them as "单位 · 科室" in a
    <datalist>, which the browser searches as the clerk types, without JavaScript, and
    the server resolves the name (forms.LabelField); an unknown or ambiguous one is a
    form error naming what was typed, and the file is not read. The <select> then says
    only whether the list is of one section (typed) or names its own (MULTI). A
    section's id, as the <select> of an older page posts it, is still taken."""
    form = ObjectsUploadForm()
    statuses = history.section_statuses(get_session(), campaign)
    unit_id = _own_unit_id()
    if unit_id is not None:
        statuses = statuses[statuses["unit_id"] == unit_id]
    statuses = statuses[~statuses[C.EXEMPT]]
    form.sections = {int(r["id"]): f"{r['unit']}{LABEL_PARTS}{r['section']}" for r in statuses.to_dict("records")}
    form.typed = len(form.sections) > SHORT_LIST
    if form.typed:
        form.section_name.options = form.sections
        form.section.choices = [SelectChoice(TYPED, "一个科室：在下面输入单位和科室名称"), SelectChoice(MULTI, MULTI_LABEL)]
    else:
        form.section.choices = [SelectChoice(MULTI, MULTI_LABEL)] + [
            SelectChoice(str(section_id), label) for section_id, label in form.sections.items()
        ]
    # A round that has ended takes no list: the form does not offer it (a post for it
    # from an older page is told why, by _round_refused).
    form.ended = {kind: refusal for kind in RoundKind
                  if (refusal := objects.round_refusal(get_session(), campaign, kind))}
    if request.method == "GET":
        form.round_kind.choices = [c for c in form.round_kind.choices if RoundKind(c.value) not in form.ended]
    return form


def _round_refused(form: ObjectsUploadForm, campaign, section_id: int | None) -> str | None:
    """Why the chosen round (and section) takes no list now, said before the file is read."""
    return objects.round_refusal(get_session(), campaign, RoundKind(form.round_kind.data),
                                 [section_id] if section_id is not None else [])


@bp.route("/import/objects", methods=["GET", "POST"])
@roles_required(*UPLOADERS)
def import_objects():
    campaign = _campaign()
    form = _objects_form(campaign)
    if not form.validate_on_submit():
        return render_template("lists/import_objects.html", form=form), 400 if form.errors else 200
    section_id = form.chosen
    if refusal := _round_refused(form, campaign, section_id):
        form.round_kind.errors = [refusal]
        return render_template("lists/import_objects.html", form=form), 422
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
        db.after_commit(lambda: wake(current_app._get_current_object(), job.id))
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
        return _rejected("lists/import_objects.html", error, form=form)
    except DomainError as error:  # the round changed while the file was read: nothing stored
        form.round_kind.errors = [str(error)]
        return render_template("lists/import_objects.html", form=form), 422
    flash(f"已导入 {filename}：读取 {summary.rows_read} 行，保存 {summary.stored} 人，重复 {len(summary.duplicates)} 行。", "info")
    if summary.late_round_id is not None:
        late_round_id = summary.late_round_id
        db.after_commit(lambda: later(current_app._get_current_object(), INVITE_LATE, round_id=late_round_id))
        flash(f"{form.round_kind.data} 轮调查正在进行：这些科室的邀请短信即将按本轮的抽样规则写入发件箱并发出。", "info")
    return redirect(url_for(".import_report", import_id=summary.import_id))


@bp.get("/imports/<int:import_id>")
@roles_required(*STAFF)
def import_report(import_id: int):
    session = get_session()
    upload = objects.get_import(session, import_id)
    if upload is None or upload.campaign_id != _campaign().id:  # the pages work on one campaign
        abort(404)
    unit_id = _own_unit_id()
    if unit_id is not None and not objects.import_units(session, upload) <= {unit_id}:
        abort(403)
    return render_template("lists/import_report.html", upload=upload)


# ---- 应报未报: a section found missing, added during the year (voting/components/deductions.py) ----

class LateSectionForm(Form):
    unit = SelectField("单位", choices=[], validate_choice=False, validators=[DataRequired("请选择单位")])
    name = StringField("科室名称", validators=[DataRequired("请填写科室名称"),
                                            Length(max=sections.MAX_SECTION_NAME,
                                                   message=f"科室名称不能超过 {sections.MAX_SECTION_NAME} 个字")])
    is_enforcement = BooleanField("管理执法类（须报至少 100 个处罚对象）")
    found_on = StringField("发现日期", validators=[DataRequired("请填写发现日期")],
                           render_kw={"type": "date", "placeholder": "2021-08-16"})
    reason = TextAreaField("事由", validators=[DataRequired("请填写事由"),
                                             Length(max=REASON_MAX, message=f"事由不能超过 {REASON_MAX} 个字")],
                           description="如：年中检查发现该科室对外服务，未列入参评科室名单。")


def _late_form(campaign, bound: bool = True) -> LateSectionForm:
    form = LateSectionForm() if bound else LateSectionForm(formdata=None)
    form.unit.choices = [SelectChoice("", "请选择单位")] + [
        SelectChoice(str(uid), name) for uid, name in deductions.units(get_session(), campaign)]
    return form


def _local_today():
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def _late_page(campaign, form: LateSectionForm, error: str | None = None, status: int = 200):
    return render_template("lists/late_section.html", campaign=campaign, form=form, error=error,
                           points=campaign.rules.unreported_deduction), status


def _late_confirmation(campaign, form: LateSectionForm, plan: deductions.UnreportedPlan, found_on) -> Confirmation:
    points = f"{plan.points:g}"
    kind = "管理执法类，" if form.is_enforcement.data else ""
    return Confirmation(
        title=f"补录应报未报科室：{plan.unit.name} {plan.name}",
        facts=[
            f"将 {plan.unit.name} {plan.name}（{kind}{found_on:%Y-%m-%d} 发现）列入 {campaign.year} 年度参评科室名单，从此参加评议；"
            "它须像其他科室一样上传服务对象名单，已结束的调查轮次没有它的票，按该轮平均分计。",
            f"{plan.unit.name} 的 {len(plan.deducted)} 个参评科室（含新补录的科室）各扣监督检查 {points} 分："
            f"{'、'.join(plan.deducted)}。",
            f"事由：{form.reason.data}",
        ],
        button="补录并扣分", action=url_for(".late_section"), back=url_for(".late_section"),
        warning="本单位每个参评科室的得分随之改变；如系误录，可在参评科室页面撤销补录（科室还没有名单、邀请和投票时）。",
        acknowledge=f"我已核实：{plan.unit.name} 的每个参评科室都将被扣 {points} 分。",
        id="late-section",
        extra={"unit": form.unit.data or "", "name": form.name.data or "", "found_on": form.found_on.data or "",
               "reason": form.reason.data or "", "is_enforcement": "y" if form.is_enforcement.data else ""},
    )


def _refused(form: LateSectionForm, error: DomainError) -> str | None:
    """Put a service's refusal under its field; the message for the page's top otherwise."""
    name = getattr(error, "field", None)
    if name in ("name", "found_on", "reason"):
        form[name].errors = [*form[name].errors, str(error)]
        return None
    return str(error)


@bp.route("/sections/late", methods=["GET", "POST"])
@roles_required(*ADMIN)
def late_section():
    """补录应报未报科室: the form; its POST shows what it will do, and does it once confirmed."""
    campaign = _campaign()
    if request.method == "GET":
        return _late_page(campaign, _late_form(campaign, bound=False))
    form = _late_form(campaign)
    if not form.validate_on_submit():
        return _late_page(campaign, form, status=422)
    session = get_session()
    unit_id = whole_number(form.unit.data or "")
    if unit_id is None:
        form.unit.errors = ["请选择单位"]
        return _late_page(campaign, form, status=422)
    today = _local_today()
    try:
        plan = deductions.plan_unreported(session, campaign, unit_id, form.name.data or "")
        found_on = deductions.checked_found_on(form.found_on.data, campaign, today)
        deductions.checked_reason(form.reason.data)
    except DomainError as error:
        return _late_page(campaign, form, _refused(form, error), status=error.status)
    if (page := ask(_late_confirmation(campaign, form, plan, found_on), ConfirmForm())) is not None:
        return page
    try:
        section, events = deductions.add_unreported(
            session, campaign, unit_id, form.name.data or "", bool(form.is_enforcement.data), form.found_on.data or "",
            form.reason.data or "", current_user, today=today, actor=current_user.username)
    except DomainError as error:
        return _late_page(campaign, form, _refused(form, error), status=error.status)
    flash(f"已补录应报未报科室 {plan.unit.name} {section.name}，本单位 {len(events)} 个参评科室各扣监督检查 "
          f"{plan.points:g} 分。请通知该单位上传这个科室的服务对象名单。", "info")
    return redirect(url_for(".section_list", unit=plan.unit.id), 303)


@bp.post("/sections/<int:section_id>/late/undo")
@roles_required(*ADMIN)
def undo_late_section(section_id: int):
    """撤销补录 (a mistake): the section and its 应报未报 deductions; confirmed first."""
    campaign = _campaign()
    session = get_session()
    plan = deductions.plan_undo_unreported(session, campaign, section_id)  # 404 for another section
    section = plan.section
    shown = f"{section.unit.name} {section.name}"
    if plan.in_use:
        return render_template("lists/late_section_refused.html", section=shown,
                               in_use=plan.in_use), 409
    confirmation = Confirmation(
        title=f"撤销应报未报补录：{shown}",
        facts=[f"从参评科室名单中删除 {shown}（{section.listed_late_on:%Y-%m-%d} 补录，事由：{section.late_reason}）。",
               f"删除它引起的 {plan.events} 条应报未报扣分：{'、'.join(plan.deducted)} 的监督检查得分随之恢复。"],
        button="撤销补录", action=url_for(".undo_late_section", section_id=section_id),
        back=url_for(".section_list", unit=section.unit_id),
        warning="只用于纠正误录；撤销的经过保留在审计日志中。", id=f"undo-late-{section_id}",
    )
    if (page := ask(confirmation, ConfirmForm())) is not None:
        return page
    try:
        deductions.undo_unreported(session, campaign, section_id, actor=current_user.username)
    except DomainError as error:
        return render_template("lists/late_section_refused.html", section=shown, in_use=[], message=str(error)), \
            error.status
    flash(f"已撤销应报未报补录：{shown} 已从参评科室名单中删除，本单位的应报未报扣分已删除。", "info")
    return redirect(url_for(".section_list", unit=section.unit_id), 303)
