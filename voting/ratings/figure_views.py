"""好差评数据: the office's page of the citizen ratings' figures (voting/ratings/figures.py)
and their two imports (voting/ratings/imports.py).

- GET /office/ratings/figures/?from=2024-05&to=2024-07&kind=section|window|unit: the
  figures of every section, window or unit over the months (one month by default, the
  current one), a bar chart of 好评率, and the imports' forms;
- GET …/figures.xlsx with the same query: the same table as Excel, percentages as
  numbers in a % format, "—" where there is no data;
- POST …/served and …/hotline: the 办件数 and 12345 回访 files (administrators), every bad
  row listed (422) and nothing stored; …/served-template.xlsx and …/hotline-template.xlsx
  their templates.

The office's staff (administrators, operators, auditors) read; administrators import.
The lookups are the services'; a refusal is shown on the page with its status and
nothing is stored (the request rolls back on an error status, voting/core/db.py)."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from voting.core.db import get_session
from voting.core.errors import DomainError, ImportRejected, NotFoundError
from voting.core.forms import Form
from voting.core.numbers import INT_MAX
from voting.lists.models import Campaign
from voting.office import exports, import_templates
from voting.ratings import figures as F
from voting.ratings import imports
from voting.ratings.models import HOTLINE_LEVEL_LABELS
from voting.ratings.ratings import LEVELS
from voting.schemes import assessments
from voting.schemes.models import Assessment
from voting.staff.auth import roles_required
from voting.staff.models import Role
from voting.web.common import ADMIN, FILE_TYPES, OFFICE, SHOWN_ERRORS, current_campaign, read_upload

bp = Blueprint("rating_figures", __name__, url_prefix="/office/ratings/figures")

NO_ASSESSMENT = ""  # the served form's choice for "no window rows"
PERCENT = "0.00%"


# ---- forms --------------------------------------------------------------------------------------------


class ServedForm(Form):
    assessment = SelectField("窗口所属的考核", choices=[], validate_choice=False,
                             description="文件中填写“窗口”的行，窗口名称须是这项考核的考核对象；只有参评科室的行时不用选择")
    file = FileField("办件数文件（xlsx 或 csv）", validators=[FileRequired("请选择文件"), FILE_TYPES], id="served-file")

    known: dict[str, Assessment]

    def validate_assessment(self, field: SelectField) -> None:
        if (field.data or "") != NO_ASSESSMENT and field.data not in self.known:
            raise ValidationError("没有这项考核：请从列表中选择")


class HotlineForm(Form):
    file = FileField("12345 热线回访文件（xlsx 或 csv）", validators=[FileRequired("请选择文件"), FILE_TYPES],
                     id="hotline-file")


def _served_form(bound: bool = True) -> ServedForm:
    form = ServedForm() if bound else ServedForm(formdata=None)
    listed = assessments.assessments(get_session())
    form.known = {str(a.id): a for a in listed}
    form.assessment.choices = [SelectChoice(NO_ASSESSMENT, "不选（文件中只有参评科室）")] + [
        SelectChoice(str(a.id), a.name) for a in listed]
    return form


# ---- the query --------------------------------------------------------------------------------------------


def _campaign() -> Campaign | None:
    try:
        return current_campaign()
    except NotFoundError:
        return None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _choice() -> tuple[list[str], str, dict[str, str]]:
    """The months and the kind the query asks for (FiguresError, 400, for a bad one),
    and the query to keep in the page's links."""
    current = F.this_month(_now(), current_app.config["TIMEZONE"])
    first = request.args.get("from", "") or current
    last = request.args.get("to", "") or first
    kind = request.args.get("kind", "") or F.SECTION
    if kind not in F.KINDS:
        raise F.FiguresError("层级应为 科室（section）、窗口（window）或 单位（unit）。")
    months = F.month_span(first, last)
    return months, kind, {"from": months[0], "to": months[-1], "kind": kind}


# ---- the page -----------------------------------------------------------------------------------------------


def _render(*, status: int = 200, served_form: ServedForm | None = None, hotline_form: HotlineForm | None = None,
            rejected: ImportRejected | None = None, rejected_kind: str | None = None):
    campaign = _campaign()
    problem = None
    table = chart = None
    query: dict[str, str] = {}
    try:
        months, kind, query = _choice()
    except DomainError as error:
        problem, status = str(error), max(status, error.status)
        current = F.this_month(_now(), current_app.config["TIMEZONE"])
        months, kind = [current], F.SECTION
    else:
        table = F.figure_table(get_session(), campaign, kind, months, _now())
        chart = F.good_rate_chart(table)
    return render_template(
        "ratings/figures.html", campaign=campaign, table=table, chart=chart, problem=problem, months=months,
        kind=kind, kinds=F.KINDS, query=query, levels=LEVELS, admin=current_user.role == Role.admin,
        served_form=served_form or _served_form(bound=False), hotline_form=hotline_form or HotlineForm(formdata=None),
        rejected=rejected, rejected_kind=rejected_kind, shown=rejected.errors[:SHOWN_ERRORS] if rejected else [],
        hotline_levels=list(HOTLINE_LEVEL_LABELS.values()), no_data=F.NO_DATA,
    ), status


@bp.get("/")
@roles_required(*OFFICE)
def index():
    return _render()


def _back(months: list[str], kind: str):
    return redirect(url_for(".index", **{"from": months[0], "to": months[-1], "kind": kind}), 303)


@bp.post("/served")
@roles_required(*ADMIN)
def import_served():
    """The 办件数 of windows and sections: all stored, or none with every bad row listed."""
    form = _served_form()
    if not form.validate_on_submit():
        return _render(served_form=form, status=400)
    data, filename = read_upload(form.file)
    chosen = form.known.get(form.assessment.data or "")
    try:
        summary = imports.import_served(get_session(), data, filename, current_user.username,
                                        campaign=_campaign(), assessment=chosen)
    except ImportRejected as error:
        return _render(served_form=form, rejected=error, rejected_kind="served", status=422)
    flash(imports.summary_text(summary, "办件数"), "info")
    return _back(summary.months, F.WINDOW if chosen is not None else F.SECTION)


@bp.post("/hotline")
@roles_required(*ADMIN)
def import_hotline():
    """A unit's 12345 revisits (回访数, 满意数) by month and level."""
    form = HotlineForm()
    if not form.validate_on_submit():
        return _render(hotline_form=form, status=400)
    campaign = _campaign()
    if campaign is None:
        form.file.errors.append("还没有评议活动：12345 热线回访按单位导入，请先建立评议活动并导入参评科室名单。")
        return _render(hotline_form=form, status=409)
    data, filename = read_upload(form.file)
    try:
        summary = imports.import_hotline(get_session(), data, filename, current_user.username, campaign=campaign)
    except ImportRejected as error:
        return _render(hotline_form=form, rejected=error, rejected_kind="hotline", status=422)
    flash(imports.summary_text(summary, "12345 热线回访"), "info")
    return _back(summary.months, F.UNIT)


# ---- Excel ----------------------------------------------------------------------------------------------------


def _download(data: bytes, name: str):
    response = send_file(io.BytesIO(data), mimetype=exports.XLSX, as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "no-store"
    return response


def _percent(ratio: F.Ratio) -> object:
    """A rate as the sheet holds it: the shown percentage as a number, or "—"."""
    fraction = ratio.fraction
    return F.NO_DATA if fraction is None else fraction


def _sheet(table: F.FigureTable) -> exports.Sheet:
    kind = table.kind
    places = {F.SECTION: [exports.Column("单位"), exports.Column("科室")],
              F.WINDOW: [exports.Column("考核"), exports.Column("窗口"), exports.Column("所属单位")],
              F.UNIT: [exports.Column("单位")]}[kind]
    columns = [*places, *(exports.Column(name) for name in LEVELS.values()), exports.Column("评价数"),
               exports.Column("好评率", PERCENT), exports.Column("差评数"), exports.Column("差评整改率（按时）", PERCENT),
               exports.Column("回访满意率", PERCENT), exports.Column("办件数"), exports.Column("主动评价率", PERCENT)]
    if table.hotline:
        columns += [exports.Column("12345省级件回访满意率", PERCENT), exports.Column("12345市级件回访满意率", PERCENT)]

    def cells(figures: F.Figures, hotline: bool = True) -> list[object]:
        found = [*(figures.levels[level] for level in LEVELS), figures.total, _percent(figures.good), figures.poor,
                 _percent(figures.rectified), _percent(figures.verdicts),
                 figures.served if figures.served is not None else F.NO_DATA, _percent(figures.active)]
        if table.hotline:
            found += [_percent(figures.province), _percent(figures.city)] if hotline else [None, None]
        return found

    rows: list[list[object]] = []
    for row in table.rows:
        names = {F.SECTION: [row.group, row.name], F.WINDOW: [row.group, row.name, row.extra],
                 F.UNIT: [row.name]}[kind]
        rows.append([*names, *cells(row.figures)])
    rows.append(["合计", *[None] * (len(places) - 1), *cells(table.total, hotline=kind == F.UNIT)])
    notes = ["好评率 =（非常满意 + 满意 + 基本满意）÷ 评价数；差评整改率 = 按时整改的差评 ÷ 已到整改期限或已整改的差评；"
             "回访满意率 = 对处理结果满意的差评 ÷ 作出评价的差评；主动评价率 = 评价数 ÷ 办件数（只计导入了办件数的月份）。",
             "“—”表示没有数据（分母为 0）。百分比四舍五入保留两位小数。"]
    if kind == F.WINDOW:
        notes.append("12345 热线回访满意率为窗口所属单位的数据。")
    return exports.Sheet(name=f"{F.KINDS[kind]}好差评数据", title=f"{table.label}好差评数据（按{F.KINDS[kind]}）",
                         columns=columns, rows=rows, notes=notes)


@bp.get("/figures.xlsx")
@roles_required(*OFFICE)
def export():
    """The page's table as Excel."""
    months, kind, _ = _choice()
    campaign = _campaign()
    table = F.figure_table(get_session(), campaign, kind, months, _now())
    at = _now().astimezone(ZoneInfo(current_app.config["TIMEZONE"]))
    data = exports.workbook([_sheet(table)], year=campaign.year if campaign else None, at=at)
    return _download(data, f"好差评数据-{F.KINDS[kind]}-{months[0]}至{months[-1]}.xlsx")


# ---- templates ---------------------------------------------------------------------------------------------


def _served_spec() -> import_templates.Spec:
    return import_templates.Spec(
        "served", "办件数", "好差评数据 · 导入办件数", imports.SERVED_COLUMNS,
        example={"window": "", "unit": "县示例局", "section": "示例科", "month": "2024-05", "served": 120},
        rules={
            "window": "窗口绩效考核的窗口名称，与考核对象名单一致（上传时在页面上选择考核）；填写窗口时不填单位名称和科室",
            "unit": "参评科室所在单位，与参评科室名单中的单位名称一致；与“科室”一起填写，不填窗口",
            "section": "与参评科室名单中的科室名称一致",
            "month": "如 2024-05（也可写 2024/5、2024年5月）",
            "served": f"当月办件数，0 到 {INT_MAX} 的整数",
        },
        need={"window": "窗口必填", "unit": "科室必填", "section": "科室必填"},
        general=[
            "每个窗口或科室每月一行；主动评价率 = 当月计入的评价数 ÷ 当月办件数。",
            "再次导入同一窗口或科室同一月份的办件数，替换原有的；文件中没有的窗口、科室和月份保持不变。",
        ],
    )


def _hotline_spec() -> import_templates.Spec:
    levels = list(HOTLINE_LEVEL_LABELS.values())
    return import_templates.Spec(
        "hotline", "12345热线回访", "好差评数据 · 导入12345热线回访", imports.HOTLINE_COLUMNS,
        example={"unit": "县示例局", "month": "2024-05", "level": levels[0], "revisits": 20, "satisfied": 19},
        rules={
            "unit": "与参评科室名单中的单位名称一致",
            "month": "如 2024-05（也可写 2024/5、2024年5月）",
            "level": "只能填：" + " 或 ".join(levels),
            "revisits": f"当月回访件数，0 到 {INT_MAX} 的整数",
            "satisfied": "回访中满意的件数，不大于回访数",
        },
        choices={"level": levels},
        general=[
            "每个单位每月每个级别一行；回访满意率 = 满意数 ÷ 回访数，由平台计算，多个月合计时按件数相加。",
            "只有百分比时，请填写它所依据的件数（如 7 件回访中 6 件满意：回访数 7，满意数 6）。",
            "再次导入同一单位同一月份同一级别的数据，替换原有的；文件中没有的单位、月份和级别保持不变。",
        ],
    )


@bp.get("/served-template.xlsx")
@roles_required(*OFFICE)
def served_template():
    spec = _served_spec()
    return _download(import_templates.build(spec), f"{spec.title}-导入模板.xlsx")


@bp.get("/hotline-template.xlsx")
@roles_required(*OFFICE)
def hotline_template():
    spec = _hotline_spec()
    return _download(import_templates.build(spec), f"{spec.title}-导入模板.xlsx")
