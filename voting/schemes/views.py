"""窗口绩效考核: the office's pages for window assessments (voting/schemes/assessments.py,
docs/schemes.md).

- /office/assessments/: the assessments; an administrator creates one by a built-in
  scheme (with its seed's data as examples, if asked) or by an uploaded YAML file, whose
  every error is listed by line and field (422, nothing stored);
- /office/assessments/<id>: the scheme's indicators, the entities (imported from a
  file, every bad row listed) with their units (单位, set or cleared one by one: the
  unit's liaison sees the entity's results, voting/schemes/unit_views.py), the periods
  and a form to open one; the indicator table alone as Excel (indicators.xlsx);
- /office/assessments/<id>/periods/<label>: the period's results per group (a ranking
  chart, voting/schemes/charts.py; rank, each module's points, the total, veto and
  flags), each entity's items in a <details>, the warnings; a longer period's trend over
  the periods it rolls up; for a period of the scheme's own kind its records, entered one by one or
  imported, removed with a reason, and the period closed (confirmed) or reopened (with
  a reason); the published tables (Excel) and the monthly report (Word) to download.

The office's staff read; administrators change. Every change is one service call,
audited by the service; a refusal is shown on the page with its status and nothing is
stored (the request rolls back on an error status, voting/core/db.py).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd
from flask import Blueprint, abort, flash, redirect, render_template, send_file, url_for
from flask_login import current_user
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from scoring.schemes import exact
from scoring.schemes.columns import ENTITY, GROUP, INDICATOR, MODULE, NOTE, ORDER, POINTS, ROW
from scoring.schemes.engine import FLAGS, RANK, ROUNDED, TIED, VETOED, Result, module_column
from scoring.schemes.output import period_text, title
from scoring.schemes.scheme import KINDS, PERIODS, RANKINGS, RULE_LABELS, Scheme
from voting.core.db import get_session
from voting.core.errors import DomainError, ImportRejected, NotFoundError
from voting.core.forms import EmptyForm, Form, WholeNumberField
from voting.lists.models import Campaign, Unit
from voting.office.exports import XLSX
from voting.ratings import figures as rating_figures
from voting.schemes import assessments, charts
from voting.schemes.files import BUILTIN, MAX_COUNT, MAX_FIGURE, MAX_POINTS
from voting.schemes.models import AssessedEntity, Assessment, AssessmentPeriod
from voting.schemes.report import write_report
from voting.schemes.tables import write_indicator_table, write_tables
from voting.staff.auth import roles_required
from voting.staff.models import Role
from voting.web.common import ADMIN, FILE_TYPES, OFFICE, SHOWN_ERRORS, current_campaign, read_upload
from voting.web.confirm import ConfirmForm, Confirmation, ask

bp = Blueprint("assessments", __name__, url_prefix="/office/assessments")

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
UPLOADED = "file"  # the scheme select's value for "the uploaded YAML file"
SOURCE_LENGTH = Assessment.__table__.c.scheme_source.type.length  # an uploaded scheme's file name, kept
NO_UNIT = "0"  # the unit select's value for "no unit: the office alone sees the entity"


# ---- forms ------------------------------------------------------------------------------------


class CreateForm(Form):
    name = StringField("考核名称", validators=[
        DataRequired("请填写考核名称"),
        Length(max=assessments.MAX_NAME, message=f"考核名称最多 {assessments.MAX_NAME} 个字")])
    scheme = SelectField("方案", choices=[
        SelectChoice("", "请选择方案"),
        *(SelectChoice(key, f"{place}（内置方案）") for key, place in BUILTIN.items()),
        SelectChoice(UPLOADED, "上传的方案文件（YAML）"),
    ], validators=[DataRequired("请选择方案")])
    file = FileField("方案文件（YAML，选择“上传的方案文件”时）",
                     validators=[FileAllowed(["yaml", "yml"], "方案文件应为 .yaml 或 .yml 文件")])
    examples = BooleanField("载入示例数据（只用于内置方案：示例文件中的对象、期间和记录）")

    def validate_file(self, field: FileField) -> None:
        given = field.data is not None and bool(getattr(field.data, "filename", ""))
        if self.scheme.data == UPLOADED and not given:
            raise ValidationError("请选择方案文件（YAML）")
        if self.scheme.data in BUILTIN and given:
            raise ValidationError("已选择内置方案，请不要同时上传方案文件；要用上传的方案，请在“方案”中选择“上传的方案文件”")


class UploadForm(Form):
    file = FileField("文件（xlsx 或 csv）", validators=[FileRequired("请选择文件"), FILE_TYPES])


class PeriodForm(Form):
    label = StringField("期间", validators=[DataRequired("请填写期间（如 2023-Q1）"),
                                          Length(max=20, message="期间最多 20 个字符")],
                        description="2020-07（月）、2023-Q1（季度）、2021-H2（半年）或 2021（年度）；"
                                    "比方案的考核期长的期间由其中各考核期的结果汇总而成")


def _within(most: int, what: str):
    """A 分值 or 数值 the tables can hold (voting/schemes/files.py); the service
    says what else is wrong with it."""

    def check(form: Form, field: StringField) -> None:
        text = (field.data or "").strip()
        try:
            milli = exact.to_milli(text) if text else 0
        except exact.NotExact:
            return
        if abs(milli) > most:
            raise ValidationError(f"{what}应在 -{most // 1000} 到 {most // 1000} 之间")

    return check


class RecordForm(Form):
    entity = SelectField("对象", choices=[], validate_choice=False, validators=[
        DataRequired("请选择对象"), Length(max=200, message="对象名称最多 200 个字")])
    indicator = SelectField("指标", choices=[], validate_choice=False, validators=[
        DataRequired("请选择指标"), Length(max=60, message="指标最多 60 个字符")])
    count = WholeNumberField("数量", default=1, validators=[
        InputRequired("请填写数量（不小于 0 的整数）"),
        NumberRange(0, MAX_COUNT, f"数量应在 0 到 {MAX_COUNT} 之间")])
    value = StringField("数值", validators=[Length(max=60, message="数值最多 60 个字"),
                                          _within(MAX_FIGURE, "数值")],
                        description="分档评定的档次名称，或比率、件数等数字（如 98.5%）；不需要时不填")
    points = StringField("分值", validators=[Length(max=20, message="分值最多 20 个字符"),
                                           _within(MAX_POINTS, "分值")],
                         description="据实录入的指标必填（如 -0.5）；按规则计分的指标不填，由规则计算")
    note = StringField("说明", validators=[Length(max=500, message="说明最多 500 个字")],
                       description="事由、依据、文号")
    on = DateField("日期", format="%Y-%m-%d", validators=[Optional()])


class DeleteForm(Form):
    reason = StringField("删除原因", validators=[DataRequired("请写明删除的原因"),
                                             Length(max=500, message="原因最多 500 个字")])


class UnitForm(Form):
    """An entity's unit: one of the current campaign's (`units`, by id as text), or none."""

    unit = SelectField("所属单位", choices=[], validate_choice=False, validators=[DataRequired("请选择单位")])

    units: dict[str, Unit]

    def validate_unit(self, field: SelectField) -> None:
        if field.data != NO_UNIT and field.data not in self.units:
            raise ValidationError("没有这个单位：请从列表中选择当前评议活动的单位")


class ReopenForm(Form):
    reason = StringField("重新开启的原因", validators=[DataRequired("请写明重新开启的原因"),
                                                Length(max=500, message="原因最多 500 个字")])


# ---- lookups ---------------------------------------------------------------------------------


def _assessment(assessment_id: int) -> Assessment:
    found = assessments.find_assessment(get_session(), assessment_id)
    if found is None:
        raise NotFoundError("没有这个考核：它可能已被删除，或链接有误。")
    return found


def _period(assessment: Assessment, label: str) -> AssessmentPeriod:
    """The assessment's period `label` as written in its address (2023-Q1); 404 for
    anything else."""
    found = assessments.find_period(get_session(), assessment, label)
    if found is None:
        raise NotFoundError(f"考核“{assessment.name}”没有这个期间。")
    return found


def _results(assessment: Assessment, period: AssessmentPeriod) -> tuple[Result, Result | None]:
    """The period's results and those of the periods it rolls up (`results_and_parts`);
    none before the assessment has entities (nothing to rank)."""
    session = get_session()
    if not assessments.entities(session, assessment):
        raise DomainError(f"考核“{assessment.name}”还没有考核对象：请先在考核页面导入对象名单，再看结果。")
    return assessments.results_and_parts(session, assessment, period)


def _entity(assessment: Assessment, entity_id: int) -> AssessedEntity:
    found = assessments.find_entity(get_session(), assessment, entity_id)
    if found is None:
        raise NotFoundError(f"考核“{assessment.name}”没有这个考核对象：它可能已被删除，或链接有误。")
    return found


def _campaign() -> Campaign | None:
    """The campaign whose units the entities are given to; None before there is one."""
    try:
        return current_campaign()
    except NotFoundError:
        return None


def _unit_form(campaign: Campaign | None, bound: bool = True) -> UnitForm:
    form = UnitForm() if bound else UnitForm(formdata=None)
    units = list(campaign.units) if campaign is not None else []
    form.units = {str(unit.id): unit for unit in units}
    form.unit.choices = [SelectChoice(NO_UNIT, "不指定（仅评议办可见）")] + [
        SelectChoice(str(unit.id), unit.name) for unit in units]
    return form


def _is_admin() -> bool:
    return current_user.role == Role.admin


# ---- what the pages show -----------------------------------------------------------------------


@dataclass
class Listed:
    assessment: Assessment
    scheme_name: str
    labels: list[str]


def _indicator_rows(scheme: Scheme) -> list[dict]:
    """The indicator table (模块, 指标, 分值, 具体考核内容, 计分规则, 责任科室), each module's
    first row carrying its cell's rowspan (voting/schemes/tables.py `_indicators`)."""
    rows = []
    for module in scheme.modules:
        most = f"（{exact.text(module.max)}分）" if module.max is not None else ""
        for index, indicator in enumerate(module.indicators):
            rows.append({
                "module": f"{module.name}{most}", "span": len(module.indicators) if index == 0 else 0,
                "name": indicator.name, "max": exact.text(indicator.max) if indicator.max is not None else "",
                "content": indicator.content, "rule": RULE_LABELS[indicator.rule.kind], "office": indicator.office,
                "kinds": "、".join(KINDS[k] for k in sorted(indicator.kinds)) if indicator.kinds else "",
            })
    return rows


def _scheme_facts(scheme: Scheme) -> list[tuple[str, str]]:
    facts = [("方案", scheme.name)]
    if scheme.source:
        facts.append(("依据", scheme.source))
    facts += [
        ("考核对象", "、".join(KINDS[k] for k in scheme.kinds)),
        ("分组", "、".join(g.name for g in scheme.groups)),
        ("考核期", PERIODS[scheme.period]),
        ("基础分", exact.text(scheme.base)),
        ("排名", RANKINGS[scheme.ranking]),
        ("总分保留", f"{scheme.decimals} 位小数（四舍五入）"),
    ]
    if scheme.floor is not None:
        facts.append(("最低分", exact.text(scheme.floor)))
    if scheme.flags:
        facts.append(("评优", "、".join(f.name for f in scheme.flags)))
    return facts


def _item_label(scheme: Scheme, item: dict, note: str) -> str:
    """What an item is about: its indicator, or its module (a start, a cap), or the
    total; nothing when the note says so already (“人员进驻 起始分”)."""
    indicator = scheme.indicator(item[INDICATOR]) if item[INDICATOR] else None
    if indicator is not None:
        return indicator.name
    module = next((m.name for m in scheme.modules if m.id == item[MODULE]), "") or "总分"
    return "" if str(note).startswith(module) else module


def _record_id(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def ranking(one: Result) -> list[dict]:
    """Per group: its name and its members in rank order, each with its cells and items
    (the liaisons' page shows their own entities' of these, voting/schemes/unit_views.py)."""
    scheme = one.scheme
    flag_names = {flag.id: flag.name for flag in scheme.flags}
    by_entity = {name: frame for name, frame in one.items.groupby(ENTITY, sort=False)}
    groups = []
    for group in scheme.groups:
        table = one.table[one.table[GROUP] == group.id].sort_values([RANK, ORDER], kind="stable")
        members = []
        for row in table.to_dict("records"):
            items = by_entity.get(row[ENTITY], one.items.iloc[0:0])
            members.append({
                "entity": row[ENTITY],
                "rank": f"{row[RANK]}（并列）" if row[TIED] else str(row[RANK]),
                "place": int(row[RANK]), "tied": bool(row[TIED]),
                "modules": [exact.text(int(row[module_column(m.id)])) for m in scheme.modules],
                "total": exact.text(int(row[ROUNDED])),
                "vetoed": bool(row[VETOED]),
                "flags": "、".join(flag_names.get(f, f) for f in row[FLAGS]),
                "lines": [{"label": _item_label(scheme, item, item[NOTE]), "note": item[NOTE],
                           "points": exact.text(int(item[POINTS]), signed=True), "record": _record_id(item[ROW])}
                          for item in items.to_dict("records")],
            })
        if members:
            groups.append({"id": group.id, "name": group.name, "members": members})
    return groups


def _render_index(form: CreateForm | None = None, status: int = 200, scheme_lines: list[str] | None = None,
                  message: str | None = None):
    session = get_session()
    listed = [Listed(a, assessments.scheme_of(a).name, [p.label for p in assessments.periods(session, a)])
              for a in assessments.assessments(session)]
    return render_template("schemes/index.html", listed=listed, admin=_is_admin(),
                           form=form or CreateForm(formdata=None), scheme_lines=scheme_lines or [],
                           message=message, period_text=period_text), status


def _unit_text(unit: Unit | None, campaign: Campaign | None) -> str:
    """An entity's unit as the overview names it: with its year when it is a unit of
    another campaign than the pages' (its liaison, if any, still sees the entity)."""
    if unit is None:
        return ""
    if campaign is None or unit.campaign_id != campaign.id:
        return f"{unit.name}（{unit.campaign.year} 年度）"
    return unit.name


def _render_overview(assessment: Assessment, *, upload_form: UploadForm | None = None,
                     period_form: PeriodForm | None = None, rejected: ImportRejected | None = None,
                     unit_form: UnitForm | None = None, unit_entity: int | None = None, status: int = 200):
    session = get_session()
    scheme = assessments.scheme_of(assessment)
    campaign = _campaign()
    periods = [{"period": p, "text": period_text(p.label), "rolled": assessments.is_rolled_up(assessment, p),
                "records": assessments.record_count(session, p)} for p in assessments.periods(session, assessment)]
    units = assessments.entity_units(session, assessment)
    entities = [{"entity": e, "group": scheme.group_name(e.group_id), "kind": KINDS.get(e.kind, e.kind),
                 "unit": _unit_text(units.get(e.id), campaign),
                 "chosen": str(e.unit_id) if e.unit_id is not None else NO_UNIT}
                for e in assessments.entities(session, assessment)]
    blank = _unit_form(campaign, bound=False)
    return render_template(
        "schemes/overview.html", assessment=assessment, scheme=scheme, facts=_scheme_facts(scheme),
        indicators=_indicator_rows(scheme), entities=entities, periods=periods, admin=_is_admin(),
        upload_form=upload_form or UploadForm(formdata=None), period_form=period_form or PeriodForm(formdata=None),
        unit_form=unit_form or blank, unit_entity=unit_entity, unit_choices=blank.unit.choices,
        campaign=campaign, rejected=rejected, shown=rejected.errors[:SHOWN_ERRORS] if rejected else [],
        builtin=assessment.scheme_source.removeprefix("builtin:") if assessment.scheme_source.startswith("builtin:")
        else None, places=BUILTIN), status


def _record_form(assessment: Assessment, scheme: Scheme, bound: bool = True) -> RecordForm:
    form = RecordForm() if bound else RecordForm(formdata=None)
    people = assessments.entities(get_session(), assessment)
    several = len(scheme.groups) > 1
    form.entity.choices = [SelectChoice("", "请选择对象")] + [
        SelectChoice(e.name, f"{e.name}（{scheme.group_name(e.group_id)}）" if several else e.name) for e in people]
    form.indicator.choices = [SelectChoice("", "请选择指标")] + [
        SelectChoice(i.id, f"{i.name}（{RULE_LABELS[i.rule.kind]}）", optgroup=m.name)
        for m in scheme.modules for i in m.indicators]
    return form


def _close_confirmation(assessment: Assessment, period: AssessmentPeriod) -> Confirmation:
    count = assessments.record_count(get_session(), period)
    shown = period_text(period.label)
    return Confirmation(
        title=f"结束{shown}的考核", button="结束考核",
        facts=[f"考核“{assessment.name}”{shown}（{period.label}）现有 {count} 条记录。",
               "结束后这一期不能再录入、导入或删除记录，名次和评优按现有记录固定下来。"],
        warning="需要修改时，管理员可以重新开启这一期（须写明原因，记入审计日志）。",
        action=url_for(".close", assessment_id=assessment.id, label=period.label),
        back=url_for(".period", assessment_id=assessment.id, label=period.label), id="confirm-close")


def _render_period(assessment: Assessment, period: AssessmentPeriod, *, status: int = 200,
                   record_form: RecordForm | None = None, record_errors: list[str] | None = None,
                   upload_form: UploadForm | None = None, rejected: ImportRejected | None = None,
                   delete_form: DeleteForm | None = None, delete_id: int | None = None,
                   reopen_form: ReopenForm | None = None, message: str | None = None):
    session = get_session()
    scheme = assessments.scheme_of(assessment)
    rolled = assessments.is_rolled_up(assessment, period)
    admin = _is_admin()
    problem = None
    groups: list[dict] = []
    figures: dict[str, charts.GroupCharts] = {}
    warnings: list[str] = []
    heading = f"{period_text(period.label)}{scheme.name}"
    try:
        result, parts = _results(assessment, period)
    except DomainError as error:
        problem = str(error)
    else:
        one = result.period(period.label)
        groups, warnings, heading = ranking(one), list(one.warnings), title(one, period.label)
        figures = charts.for_period(one, parts)
    people = {e.name: e.id for e in assessments.entities(session, assessment)}
    names = {i.id: i.name for i in scheme.indicators}
    records = [] if rolled else [
        {"record": r, "entity": name, "indicator": names.get(r.indicator, r.indicator),
         "points": exact.text(r.points) if r.points is not None else ""}
        for r, name in assessments.records(session, period)]
    writable = admin and not rolled and period.closed_at is None
    if not writable and message is None:
        # The forms are not on the page (the period is closed or rolled up): their
        # refusal is said at the top instead.
        refusals = [*(record_errors or []), *(upload_form.file.errors if upload_form else []),
                    *(delete_form.reason.errors if delete_form else [])]
        message = "；".join(refusals) or None
    return render_template(
        "schemes/period.html", assessment=assessment, period=period, scheme=scheme, label=period.label,
        shown_label=period_text(period.label), heading=heading, rolled=rolled, admin=admin, writable=writable,
        problem=problem, ranking=groups, charts=figures, modules=[m.name for m in scheme.modules], warnings=warnings,
        entity_ids=people, records=records, message=message,
        record_form=record_form or (_record_form(assessment, scheme, bound=False) if writable else None),
        record_errors=record_errors or [], upload_form=upload_form or UploadForm(formdata=None),
        rejected=rejected, shown=rejected.errors[:SHOWN_ERRORS] if rejected else [],
        delete_form=delete_form or DeleteForm(formdata=None), delete_id=delete_id,
        blank_delete=DeleteForm(formdata=None), scheme_period=PERIODS[scheme.period],
        reopen_form=reopen_form or ReopenForm(formdata=None), confirm_form=ConfirmForm(formdata=None),
        close=_close_confirmation(assessment, period) if admin and not rolled and period.closed_at is None else None,
        figure_indicators=[i.name for i in scheme.indicators if i.figure],
    ), status


def _back_to_period(assessment: Assessment, period: AssessmentPeriod, anchor: str | None = None):
    return redirect(url_for(".period", assessment_id=assessment.id, label=period.label, _anchor=anchor))


# ---- the list, and a new assessment ----------------------------------------------------------------


@bp.get("/")
@roles_required(*OFFICE)
def index():
    return _render_index()


@bp.post("/")
@roles_required(*ADMIN)
def create():
    """A new assessment by a built-in scheme (and its examples) or an uploaded YAML file."""
    form = CreateForm()
    if not form.validate_on_submit():
        return _render_index(form, 400)
    session = get_session()
    choice = form.scheme.data
    try:
        if choice in BUILTIN:
            created = assessments.create_assessment(session, form.name.data, builtin=choice,
                                                    with_examples=bool(form.examples.data),
                                                    actor=current_user.username)
        else:
            data, filename = read_upload(form.file)
            if len(filename) > SOURCE_LENGTH:
                form.file.errors.append(f"方案文件的名称最多 {SOURCE_LENGTH} 个字符，请改短后重新上传。")
                return _render_index(form, 400)
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                form.file.errors.append(f"方案文件 {filename} 不是 UTF-8 编码的文本，未建立考核。请用 UTF-8 保存后重新上传。")
                return _render_index(form, 422)
            created = assessments.create_assessment(session, form.name.data, text=text, filename=filename,
                                                    actor=current_user.username)
    except assessments.SchemeRejected as error:
        return _render_index(form, error.status, scheme_lines=error.lines, message=str(error))
    except DomainError as error:
        form.name.errors.append(str(error))
        return _render_index(form, error.status)
    scheme = assessments.scheme_of(created)
    said = f"已建立考核“{created.name}”（{scheme.name}）。"
    if choice in BUILTIN and form.examples.data:
        count = len(assessments.entities(session, created))
        labels = [p.label for p in assessments.periods(session, created)]
        said += f"已载入示例数据：{count} 个对象，期间 {'、'.join(labels)}。"
    elif choice in BUILTIN:
        said += "下一步：导入考核对象，建立期间。"
    flash(said, "info")
    return redirect(url_for(".overview", assessment_id=created.id))


# ---- an assessment -------------------------------------------------------------------------------


@bp.get("/<int:assessment_id>")
@roles_required(*OFFICE)
def overview(assessment_id: int):
    return _render_overview(_assessment(assessment_id))


@bp.post("/<int:assessment_id>/entities")
@roles_required(*ADMIN)
def import_entities(assessment_id: int):
    """The entities of an Excel/CSV file: every bad row listed (422) and nothing stored."""
    assessment = _assessment(assessment_id)
    form = UploadForm()
    if not form.validate_on_submit():
        return _render_overview(assessment, upload_form=form, status=400)
    data, filename = read_upload(form.file)
    try:
        count = assessments.import_entities(get_session(), assessment, data, filename, current_user.username,
                                            campaign=_campaign())
    except ImportRejected as error:
        return _render_overview(assessment, upload_form=form, rejected=error, status=422)
    flash(f"已导入 {filename}：{count} 个考核对象（已有的按名称更新）。", "info")
    return redirect(url_for(".overview", assessment_id=assessment.id, _anchor="entities"))


@bp.post("/<int:assessment_id>/entities/<int:entity_id>/unit")
@roles_required(*ADMIN)
def set_unit(assessment_id: int, entity_id: int):
    """Give an entity to a unit of the current campaign, whose liaison then sees its
    results and nothing of the others' (audited), or to none."""
    assessment = _assessment(assessment_id)
    entity = _entity(assessment, entity_id)
    form = _unit_form(_campaign())
    if not form.validate_on_submit():
        return _render_overview(assessment, unit_form=form, unit_entity=entity.id, status=400)
    unit = form.units.get(form.unit.data)
    try:
        assessments.set_unit(get_session(), assessment, entity, unit, current_user.username)
    except DomainError as error:
        form.unit.errors.append(str(error))
        return _render_overview(assessment, unit_form=form, unit_entity=entity.id, status=error.status)
    flash(f"已将“{entity.name}”指定给单位“{unit.name}”：该单位的联络员可以查看它的得分、名次和加减分明细。" if unit
          else f"已取消“{entity.name}”的所属单位：只有评议办可以查看它的得分。", "info")
    return redirect(url_for(".overview", assessment_id=assessment.id, _anchor=f"entity-{entity.id}"))


@bp.post("/<int:assessment_id>/periods")
@roles_required(*ADMIN)
def open_period(assessment_id: int):
    assessment = _assessment(assessment_id)
    form = PeriodForm()
    if not form.validate_on_submit():
        return _render_overview(assessment, period_form=form, status=400)
    try:
        period = assessments.open_period(get_session(), assessment, form.label.data, current_user.username)
    except DomainError as error:
        form.label.errors.append(str(error))
        return _render_overview(assessment, period_form=form, status=error.status)
    flash(f"已建立期间 {period_text(period.label)}（{period.label}）。", "info")
    return _back_to_period(assessment, period)


# ---- a period -----------------------------------------------------------------------------------


@bp.get("/<int:assessment_id>/periods/<label>")
@roles_required(*OFFICE)
def period(assessment_id: int, label: str):
    assessment = _assessment(assessment_id)
    return _render_period(assessment, _period(assessment, label))


@bp.post("/<int:assessment_id>/periods/<label>/records")
@roles_required(*ADMIN)
def add_record(assessment_id: int, label: str):
    """One record, checked as a file's row would be; the reason of a refusal on the form."""
    assessment = _assessment(assessment_id)
    found = _period(assessment, label)
    form = _record_form(assessment, assessments.scheme_of(assessment))
    if not form.validate_on_submit():
        return _render_period(assessment, found, record_form=form, status=400)
    given = assessments.RecordInput(
        entity=form.entity.data, indicator=form.indicator.data, count=form.count.data, value=form.value.data or "",
        points=form.points.data or "", note=form.note.data or "", on=form.on.data)
    try:
        assessments.add_record(get_session(), assessment, found, given, current_user.username)
    except DomainError as error:
        return _render_period(assessment, found, record_form=form, record_errors=[str(error)], status=error.status)
    indicator = assessments.scheme_of(assessment).indicator(given.indicator)
    flash(f"已录入一条记录：{given.entity} · {indicator.name if indicator else given.indicator}。", "info")
    return _back_to_period(assessment, found, "records")


@bp.post("/<int:assessment_id>/periods/<label>/records/<int:record_id>/delete")
@roles_required(*ADMIN)
def delete_record(assessment_id: int, label: str, record_id: int):
    """Remove a wrong record with the reason (the audit log keeps the record and why)."""
    assessment = _assessment(assessment_id)
    found = _period(assessment, label)
    session = get_session()
    record = assessments.record_in(session, found, record_id)
    if record is None:
        raise NotFoundError(f"{period_text(found.label)}没有这条记录：它可能已被删除。")
    form = DeleteForm()
    if not form.validate_on_submit():
        return _render_period(assessment, found, delete_form=form, delete_id=record_id, status=400)
    entity, indicator = record
    try:
        assessments.delete_record(session, assessment, found, record_id, form.reason.data, current_user.username)
    except DomainError as error:
        form.reason.errors.append(str(error))
        return _render_period(assessment, found, delete_form=form, delete_id=record_id, status=error.status)
    name = assessments.scheme_of(assessment).indicator(indicator)
    flash(f"已删除一条记录：{entity} · {name.name if name else indicator}（原因：{form.reason.data.strip()}）。", "info")
    return _back_to_period(assessment, found, "records")


@bp.post("/<int:assessment_id>/periods/<label>/import")
@roles_required(*ADMIN)
def import_records(assessment_id: int, label: str):
    """The period's records from an Excel/CSV file: all stored, or none with every bad row listed."""
    assessment = _assessment(assessment_id)
    found = _period(assessment, label)
    form = UploadForm()
    if not form.validate_on_submit():
        return _render_period(assessment, found, upload_form=form, status=400)
    data, filename = read_upload(form.file)
    try:
        count = assessments.import_records(get_session(), assessment, found, data, filename, current_user.username)
    except ImportRejected as error:
        return _render_period(assessment, found, upload_form=form, rejected=error, status=422)
    except DomainError as error:
        form.file.errors.append(str(error))
        return _render_period(assessment, found, upload_form=form, status=error.status)
    flash(f"已导入 {filename}：{count} 条记录。", "info")
    return _back_to_period(assessment, found, "records")


@bp.post("/<int:assessment_id>/periods/<label>/figures")
@roles_required(*ADMIN)
def fill_figures(assessment_id: int, label: str):
    """The records of the indicators with `figure:` from the citizen ratings' figures of
    the period's months (voting/ratings/figures.py), replacing the earlier filled ones."""
    assessment = _assessment(assessment_id)
    found = _period(assessment, label)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        summary = rating_figures.fill_from_figures(get_session(), found, current_user.username)
    except DomainError as error:
        return _render_period(assessment, found, message=str(error), status=error.status)
    flash(summary.message(), "info")
    return _back_to_period(assessment, found, "records")


@bp.post("/<int:assessment_id>/periods/<label>/close")
@roles_required(*ADMIN)
def close(assessment_id: int, label: str):
    """End the period's changes, once confirmed (voting/web/confirm.py)."""
    assessment = _assessment(assessment_id)
    found = _period(assessment, label)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if found.closed_at is not None or assessments.is_rolled_up(assessment, found):
        message = (f"{period_text(found.label)}已经结束考核。" if found.closed_at is not None
                   else f"{period_text(found.label)}由各考核期汇总而成，没有自己的记录，不需要结束。")
        return _render_period(assessment, found, message=message, status=409 if found.closed_at else 400)
    if (page := ask(_close_confirmation(assessment, found), form)) is not None:
        return page
    assessments.close_period(get_session(), assessment, found, current_user.username)
    flash(f"{period_text(found.label)}已结束考核：记录不能再修改，需要时可以重新开启。", "info")
    return _back_to_period(assessment, found)


@bp.post("/<int:assessment_id>/periods/<label>/reopen")
@roles_required(*ADMIN)
def reopen(assessment_id: int, label: str):
    """Take records again, with the reason (audited)."""
    assessment = _assessment(assessment_id)
    found = _period(assessment, label)
    form = ReopenForm()
    if not form.validate_on_submit():
        return _render_period(assessment, found, reopen_form=form, status=400)
    try:
        assessments.reopen_period(get_session(), assessment, found, form.reason.data, current_user.username)
    except DomainError as error:
        form.reason.errors.append(str(error))
        return _render_period(assessment, found, reopen_form=form, status=error.status)
    flash(f"{period_text(found.label)}已重新开启：可以修改记录，原因已记入审计日志。", "info")
    return _back_to_period(assessment, found)


# ---- downloads ----------------------------------------------------------------------------------


def _download(data: bytes, mimetype: str, name: str):
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:assessment_id>/indicators.xlsx")
@roles_required(*OFFICE)
def indicator_table(assessment_id: int):
    """The scheme's indicator table (考核任务分解表) to print."""
    assessment = _assessment(assessment_id)
    buffer = io.BytesIO()
    write_indicator_table(assessments.scheme_of(assessment), buffer)
    return _download(buffer.getvalue(), XLSX, f"{assessment.name}-指标表.xlsx")


@bp.get("/<int:assessment_id>/periods/<label>/tables.xlsx")
@roles_required(*OFFICE)
def tables(assessment_id: int, label: str):
    """The published tables (汇总表, 名次表, 加减分明细, 指标表, 图表) of the period."""
    assessment = _assessment(assessment_id)
    found = _period(assessment, label)
    result, parts = _results(assessment, found)
    buffer = io.BytesIO()
    write_tables(result, found.label, buffer, months=parts)
    return _download(buffer.getvalue(), XLSX, f"{assessment.name}-{found.label}.xlsx")


@bp.get("/<int:assessment_id>/periods/<label>/report.docx")
@roles_required(*OFFICE)
def report(assessment_id: int, label: str):
    """The period's report (政务服务月报, Miyi's shape) as Word, the office's own text left to fill in."""
    assessment = _assessment(assessment_id)
    found = _period(assessment, label)
    result, _ = _results(assessment, found)
    buffer = io.BytesIO()
    write_report(result, found.label, {}, buffer)
    return _download(buffer.getvalue(), DOCX, f"{assessment.name}-{found.label}.docx")
