"""The daily-stage components (docs/rules.md §2, §6) on the review office's pages: a file import
per kind (votes, platform, supervisor, inspection, bonus), single entries by form with
their deletion, and the list of what is stored.

A form entry is checked by the same reader as the kind's file (the row is read as a
one-row file), so both accept exactly the same values; the reader's reasons are shown
under the fields they are about."""
from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from scoring import columns as C
from scoring import labels as L
from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.core.errors import DomainError, ImportRejected
from voting.core.numbers import whole_number
from voting.core.forms import EmptyForm, Form
from voting.lists.models import Campaign
from voting.components.models import REASON_MAX, ComponentKind
from voting.staff.models import Role
from voting.components import components, deductions
from voting.web.confirm import ConfirmForm, Confirmation, ask
from voting.lists import history, sections
from voting.web.common import ADMIN, FILE_TYPES, OFFICE, current_campaign, query_number, read_upload, rejected

bp = Blueprint("components", __name__, url_prefix="/office/components")
PER_PAGE = 100  # stored rows a page shows, newest first

# The order of the pages, as the rules list the components.
KINDS = (
    ComponentKind.votes, ComponentKind.platform, ComponentKind.supervisor, ComponentKind.inspection,
    ComponentKind.bonus,
)
ABOUT = {
    ComponentKind.votes: "服务对象评价的票数（每个科室每轮一行）：例如在平台外进行的电话调查、原有系统的统计。"
    "同一科室同一轮次只保留一组票数：新导入或新录入的票数替换原有的。",
    ComponentKind.platform: "统一政务咨询投诉举报平台（作风投诉、办理评价）和网络监督投诉平台（有效投诉）的扣分，每次扣分一行。",
    ComponentKind.supervisor: "各单位对本单位参评科室的评分（一位小数，优秀、良好、一般三档比例须符合规定）。"
    "文件替换其中各单位的全部评分。",
    ComponentKind.inspection: "县级查实、市级查实、投诉查实的问题和立案查处的案件，每件一行；"
    "立案查处须填写人员、本年度和立案日期，且不按情节严重加倍。"
    "评议办的应报未报和影响评议工作扣分用本页下方和参评科室页面的表单记录；文件中也可以写，每个扣分的科室一行。",
    ComponentKind.bonus: "表彰和宣传报道，每项一行；同一事项只按最高级别加分一次，只计加分期限内的事项。",
}


def _slash(table: dict) -> str:
    return " / ".join(L.label(table, code) for code in table)


def _shown(names: tuple[str, ...]) -> str:
    """“投诉举报(统一政务咨询投诉举报平台)”: the code's label, with its long name."""
    return names[0] if len(names) == 1 else f"{names[0]}（{names[1]}）"


# What each file column takes, by the reader's column key (docs/rules.md §6).
HINTS = {
    "unit": "参评科室名单中的单位名称",
    "section": "参评科室名单中的科室",
    "round": _slash(L.ROUNDS),
    "satisfied": "票数（非负整数）",
    "basic": "票数（非负整数）",
    "unsatisfied": "票数（非负整数）",
    "platform": _slash(L.PLATFORMS),
    "item": "；".join(
        f"{L.label(L.PLATFORMS, p)}：{' / '.join(L.label(L.ITEMS, i) for i in items)}" for p, items in L.PLATFORM_ITEMS.items()
    ),
    "deduction": "扣分；有效投诉可不填（按每件规定分值）",
    "role": f"{_slash(L.ROLES)}；不填为主办，协办只用于办理评价",
    "score": "0–5，一位小数",
    "type": "",  # by kind, below
    "serious": "是 / 否；不填为否",
    "person": f"{_slash(L.PERSONS)}；仅立案查处",
    "current_year": "是 / 否：问题是否发生在评议年度；仅立案查处",
    "date": "2021-03-15",
    "level": "；".join(f"{L.label(L.BONUS_KINDS, k)}：{_slash(levels)}" for k, levels in L.BONUS_LEVELS.items()),
    "matter": "事项名称（同一事项只计一次）",
}
TYPE_HINTS = {ComponentKind.inspection: _slash(L.INSPECTION_KINDS), ComponentKind.bonus: _slash(L.BONUS_KINDS)}
DATE_HINTS = {ComponentKind.inspection: "2021-03-15；立案查处必填（立案日期）", ComponentKind.bonus: "2021-03-15（必填）"}


# The inspection file's columns of the review office's own deductions (docs/rules.md §6.8).
INSPECTION_HINTS = {
    "deduction": "仅影响评议工作：每个科室扣的分（大于 0，最多两位小数）；应报未报按规则设置扣分，留空",
    "reason": "仅应报未报和影响评议工作（必填，最多 300 字）",
    "missing": "仅应报未报：被发现应报未报、已补录参评的本单位科室（每个扣分的科室一行）",
}


def _hint(kind: ComponentKind, key: str) -> str:
    if kind is ComponentKind.inspection and key in INSPECTION_HINTS:
        return INSPECTION_HINTS[key]
    if key == "type":
        return TYPE_HINTS[kind]
    if key == "date":
        return DATE_HINTS[kind]
    return HINTS[key]


# ---- forms ------------------------------------------------------------------------------
# An entry form's value fields are named by the reader's column keys (bundle.*_COLUMNS):
# their text is written as the cells of a one-row file, and the reader's reason about a
# column comes back under the field of the same name.

def _options(table: dict) -> list[SelectChoice]:
    return [SelectChoice(names[0], _shown(names)) for names in table.values()]


NOT_A_CASE = SelectChoice("", "—（仅立案查处填写）")


def _section_field() -> SelectField:
    return SelectField("科室", choices=[], validators=[DataRequired("请选择科室")])


def _value_field(label: str, choices: list, **kwargs) -> SelectField:
    # The reader, not the form, says which values are valid (and why).
    return SelectField(label, choices=choices, validate_choice=False, **kwargs)


def _count(label: str) -> StringField:
    return StringField(label, default="0", render_kw={"inputmode": "numeric"})


def _date(label: str) -> StringField:
    return StringField(label, render_kw={"type": "date", "placeholder": "2021-03-15"})


def _note() -> StringField:
    return StringField("备注", validators=[Optional(), Length(max=500, message="备注不能超过 500 个字")])


class ComponentUploadForm(Form):
    file = FileField("文件（xlsx 或 csv）", validators=[FileRequired("请选择文件"), FILE_TYPES])


class VotesEntryForm(Form):
    section = _section_field()
    round = _value_field("轮次", _options(L.ROUNDS))
    satisfied = _count("满意")
    basic = _count("基本满意")
    unsatisfied = _count("不满意")
    note = _note()


class PlatformEntryForm(Form):
    section = _section_field()
    platform = _value_field("平台", _options(L.PLATFORMS))
    item = _value_field("项目", _options(L.ITEMS))
    deduction = StringField("扣分", render_kw={"inputmode": "decimal"}, description="有效投诉可不填（按每件规定分值扣分）")
    role = _value_field("承办", _options(L.ROLES))
    note = _note()


class InspectionEntryForm(Form):
    section = _section_field()
    # 应报未报 and 影响评议工作 are recorded for a unit on their own forms (deductions.py).
    type = _value_field("类型", _options(L.INSPECTION_FINDINGS))
    serious = _value_field("情节严重", [SelectChoice("否", "否"), SelectChoice("是", "是")], description="只适用于查实问题")
    person = _value_field("人员", [NOT_A_CASE, *_options(L.PERSONS)])
    current_year = _value_field("本年度", [NOT_A_CASE, SelectChoice("是", "是（问题发生在评议年度）"), SelectChoice("否", "否")])
    date = _date("日期")
    note = _note()


class BonusEntryForm(Form):
    section = _section_field()
    type = _value_field("类型", _options(L.BONUS_KINDS))
    level = _value_field("级别", [
        SelectChoice(names[0], _shown(names), optgroup=L.label(L.BONUS_KINDS, kind))
        for kind, levels in L.BONUS_LEVELS.items() for names in levels.values()
    ])
    matter = StringField("事项", validators=[Length(max=300, message="事项不能超过 300 个字")])
    date = _date("日期")
    note = _note()


ENTRY_FORMS = {
    ComponentKind.votes: VotesEntryForm,
    ComponentKind.platform: PlatformEntryForm,
    ComponentKind.inspection: InspectionEntryForm,
    ComponentKind.bonus: BonusEntryForm,
}
FORM_ONLY = ("csrf_token", "section", "note")


def _entry_form(kind: ComponentKind, campaign: Campaign, bound: bool = True) -> Form:
    """The kind's entry form over the campaign's participating (non-exempt) sections;
    `bound=False`: empty, whatever the request carries."""
    form = ENTRY_FORMS[kind]() if bound else ENTRY_FORMS[kind](formdata=None)
    statuses = history.section_statuses(get_session(), campaign)
    statuses = statuses[~statuses[C.EXEMPT]]
    form.section.choices = [SelectChoice("", "请选择科室")] + [
        SelectChoice(str(r["id"]), f"{r['unit']} · {r['section']}") for r in statuses.to_dict("records")
    ]
    return form


def _cells(form: Form) -> dict[str, str]:
    """The form's values as the text of the file's cells, by the reader's column key."""
    return {f.name: (f.data or "") for f in form if f.name not in FORM_ONLY}


# ---- the stored rows as shown ------------------------------------------------------------

def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("是" if value else "否")


def _day(value) -> str:
    return value.isoformat() if value else ""


# Column header and cell text of each kind's stored rows.
SHOWN = {
    ComponentKind.votes: [
        ("轮次", lambda e: L.label(L.ROUNDS, e.round)),
        ("满意", lambda e: e.satisfied),
        ("基本满意", lambda e: e.basic),
        ("不满意", lambda e: e.unsatisfied),
    ],
    ComponentKind.platform: [
        ("平台", lambda e: L.label(L.PLATFORMS, e.platform)),
        ("项目", lambda e: L.label(L.ITEMS, e.item)),
        ("扣分", lambda e: f"{e.deduction:g}"),
        ("承办", lambda e: L.label(L.ROLES, e.role)),
    ],
    ComponentKind.inspection: [
        ("类型", lambda e: L.label(L.INSPECTION_KINDS, e.kind)),
        ("情节严重", lambda e: _yes_no(e.serious)),
        ("人员", lambda e: L.label(L.PERSONS, e.person) if e.person else ""),
        ("本年度", lambda e: _yes_no(e.current_year) if e.person else ""),
        ("日期", lambda e: _day(e.date)),
        ("扣分", lambda e: f"{e.deduction:g}" if e.deduction is not None else ""),
        ("事由", lambda e: _office_reason(e)),
    ],
    ComponentKind.bonus: [
        ("类型", lambda e: L.label(L.BONUS_KINDS, e.kind)),
        ("级别", lambda e: L.label(L.BONUS_LEVELS.get(e.kind, {}), e.level)),
        ("事项", lambda e: e.matter),
        ("日期", lambda e: _day(e.date)),
    ],
}
NUMERIC = {"满意", "基本满意", "不满意", "扣分"}


def _office_reason(entry) -> str:
    """A 应报未报 or 影响评议工作 event's reason, the first naming the section found missing."""
    if entry.kind == C.UNREPORTED and entry.missing_section is not None:
        return f"应报未报科室：{entry.missing_section.name}（扣分按规则设置）；{entry.reason}"
    return entry.reason or ""


def _who(user) -> str:
    return (user.display_name or user.username) if user is not None else ""


def _kind(value: str) -> ComponentKind:
    if value not in ComponentKind.__members__:
        abort(404)
    return ComponentKind(value)


def _entry_kind(value: str) -> ComponentKind:
    kind = _kind(value)
    if kind not in ENTRY_FORMS:
        abort(404)  # supervisor scores are entered per unit on their own page
    return kind


def _kind_page(campaign: Campaign, kind: ComponentKind, *, upload_form=None, entry_form=None,
               entry_errors=(), message: str | None = None) -> dict:
    """The context of a kind's page."""
    session = get_session()
    admin = current_user.role == Role.admin
    recent = [u for u in components.imports(session, campaign) if u.kind == kind][:10]
    context = {
        "campaign": campaign, "kind": kind, "about": ABOUT[kind], "admin": admin, "recent": recent, "who": _who,
        "columns": [(c.label, c.required, _hint(kind, c.key)) for c in components.FILE_COLUMNS[kind]],
        "upload_form": upload_form or ComponentUploadForm(formdata=None),
        "entry_form": None, "entry_errors": entry_errors, "message": message,
        "delete_form": EmptyForm(formdata=None), "form_only": FORM_ONLY,
    }
    if kind is ComponentKind.supervisor:
        context["scores"] = components.supervisor_scores(session, campaign)
        return context
    if admin:
        context["entry_form"] = entry_form or _entry_form(kind, campaign, bound=False)
    if kind is ComponentKind.inspection:
        context.update(_discretionary_context(campaign, admin))
    context["headers"] = [(name, name in NUMERIC) for name, _ in SHOWN[kind]]
    total = components.count_entries(session, campaign, kind)
    pages = max(math.ceil(total / PER_PAGE), 1)
    page = min(max(query_number("page", 1), 1), pages)
    listed = components.entries_with_sources(session, campaign, kind, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    context["rows"] = [
        {"entry": entry, "unit": unit, "section": section, "filename": filename, "who": _who(user),
         "cells": [value(entry) for _, value in SHOWN[kind]]}
        for entry, unit, section, filename, user in listed
    ]
    context.update(total=total, page=page, pages=pages, per_page=PER_PAGE)
    return context


# ---- pages --------------------------------------------------------------------------------

@bp.get("/")
@roles_required(*OFFICE)
def index():
    session = get_session()
    campaign = current_campaign()
    counts = components.stored_counts(session, campaign)
    latest = {}
    for upload in components.imports(session, campaign):  # newest first
        latest.setdefault(upload.kind, upload)
    return render_template(
        "components/components.html", campaign=campaign, kinds=KINDS, counts=counts, latest=latest, who=_who
    )


@bp.get("/<kind>")
@roles_required(*OFFICE)
def kind_page(kind: str):
    component = _kind(kind)
    return render_template("components/component_kind.html", **_kind_page(current_campaign(), component))


@bp.post("/<kind>/import")
@roles_required(*ADMIN)
def import_file(kind: str):
    component = _kind(kind)
    campaign = current_campaign()
    form = ComponentUploadForm()
    if not form.validate_on_submit():
        return render_template("components/component_kind.html", **_kind_page(campaign, component, upload_form=form)), 400
    data, filename = read_upload(form.file)
    try:
        summary = components.import_component(get_session(), campaign, component, data, filename, current_user,
                                              actor=current_user.username)
    except ImportRejected as error:
        return rejected("components/component_kind.html", error, **_kind_page(campaign, component, upload_form=form))
    flash(
        f"已导入 {filename}（{component.label}）：共 {summary.rows} 行，保存 {summary.stored} 行，"
        f"替换原有 {summary.replaced} 行。",
        "info",
    )
    for warning in summary.warnings[:50]:
        flash(warning, "warning")
    if len(summary.warnings) > 50:
        flash(f"另有 {len(summary.warnings) - 50} 条提示，见下方“最近导入”。", "warning")
    return redirect(url_for(".kind_page", kind=component.value))


@bp.post("/<kind>/entries")
@roles_required(*ADMIN)
def add_entry(kind: str):
    component = _entry_kind(kind)
    campaign = current_campaign()
    session = get_session()
    form = _entry_form(component, campaign)

    def refused(general=()):
        page = _kind_page(campaign, component, entry_form=form, entry_errors=general)
        return render_template("components/component_kind.html", **page), 422

    if not form.validate_on_submit():
        return refused()
    section_id = int(form.section.data)
    try:
        values = components.entry_values(session, campaign, component, section_id, _cells(form))
    except components.EntryRejected as error:
        general = list(error.reasons.get("", []))
        for key, reasons in error.reasons.items():
            if key in ("unit", "section"):
                form.section.errors.extend(reasons)
            elif key in form:
                form[key].errors.extend(reasons)
            elif key:
                general.extend(reasons)
        return refused(general)
    components.add_entry(session, campaign, component, section_id, values, current_user, form.note.data or "",
                         actor=current_user.username)
    shown = next(choice.label for choice in form.section.choices if choice.value == form.section.data)
    flash(f"已录入{component.label}：{shown}。", "info")
    return redirect(url_for(".kind_page", kind=component.value))


@bp.post("/<kind>/entries/<int:entry_id>/delete")
@roles_required(*ADMIN)
def delete_entry(kind: str, entry_id: int):
    component = _entry_kind(kind)
    campaign = current_campaign()
    session = get_session()
    if not EmptyForm().validate_on_submit():
        abort(400)
    entry = components.get_entry(session, campaign, component, entry_id)
    if getattr(entry, "kind", None) in L.OFFICE_DEDUCTIONS and entry.import_id is None:
        message = ("这条记录是评议办记录的应报未报或影响评议工作扣分，不能单独删除："
                   "应报未报请在“参评科室”页面撤销补录，影响评议工作扣分请在本页下方整条撤销。")
        return render_template("components/component_kind.html", **_kind_page(campaign, component, message=message)), 409
    if entry.import_id is not None:
        message = (
            f"这条记录来自导入的文件（第 {entry.source_row} 行），不能单独删除："
            "请修改文件后重新导入，新文件会替换原文件的全部数据。"
        )
        return render_template("components/component_kind.html", **_kind_page(campaign, component, message=message)), 409
    section = sections.get_section(session, entry.section_id)
    shown = f"{section.unit.name} · {section.name}"
    components.delete_entry(session, campaign, component, entry_id, actor=current_user.username)
    flash(f"已删除一条手工录入的{component.label}：{shown}。", "info")
    return redirect(url_for(".kind_page", kind=component.value))


# ---- 影响评议工作: the review office's discretionary deduction (voting/components/deductions.py) ----

class DiscretionaryForm(Form):
    unit = SelectField("单位", choices=[], validate_choice=False, validators=[DataRequired("请选择单位")])
    points = StringField("每个科室扣分", validators=[DataRequired("请填写扣分"), Length(max=20, message="扣分应为大于 0 的数字")],
                         render_kw={"inputmode": "decimal", "placeholder": "如：1 或 0.5"})
    reason = TextAreaField("事由", validators=[DataRequired("请填写事由"),
                                             Length(max=REASON_MAX, message=f"事由不能超过 {REASON_MAX} 个字")],
                           description="因参评单位原因导致评议工作受到影响的情况，如：材料逾期两周未报，影响评议进度。")
    sections = SelectMultipleField("扣分的科室", choices=[], validate_choice=False,
                                   description="不选：本单位全部参评科室（免评科室不扣分）。")
    chosen = HiddenField()  # the chosen sections' ids, space-separated, as the confirmation posts them


def _discretionary_form(campaign: Campaign, bound: bool = True) -> DiscretionaryForm:
    form = DiscretionaryForm() if bound else DiscretionaryForm(formdata=None)
    session = get_session()
    form.unit.choices = [SelectChoice("", "请选择单位")] + [
        SelectChoice(str(uid), name) for uid, name in deductions.units(session, campaign)]
    form.sections.choices = [
        SelectChoice(str(r["id"]), r["section"], optgroup=r["unit"]) for r in deductions.unit_sections(session, campaign)]
    return form


def _discretionary_context(campaign: Campaign, admin: bool, form: DiscretionaryForm | None = None,
                           error: str | None = None) -> dict:
    return {
        "decisions": deductions.discretionary_decisions(get_session(), campaign),
        "discretionary_form": (form or _discretionary_form(campaign, bound=False)) if admin else None,
        "discretionary_error": error, "undo_form": EmptyForm(formdata=None),
    }


def _inspection_page(campaign: Campaign, form: DiscretionaryForm, error: str | None, status: int):
    page = _kind_page(campaign, ComponentKind.inspection)
    page.update(_discretionary_context(campaign, True, form, error))
    return render_template("components/component_kind.html", **page), status


def _local_today():
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


@bp.post("/inspection/discretionary")
@roles_required(*ADMIN)
def add_discretionary():
    """影响评议工作扣分 for a unit: what it will do, then done once confirmed."""
    campaign = current_campaign()
    session = get_session()
    form = _discretionary_form(campaign)
    if not form.validate_on_submit():
        return _inspection_page(campaign, form, None, 422)
    unit_id = whole_number(form.unit.data or "")
    typed = [*(form.sections.data or []), *filter(None, (form.chosen.data or "").split())]
    chosen = [whole_number(value) for value in typed]
    if unit_id is None:
        form.unit.errors = ["请选择单位"]
        return _inspection_page(campaign, form, None, 422)
    if any(value is None for value in chosen):
        form.sections.errors = ["所选科室无效，请重新选择"]
        return _inspection_page(campaign, form, None, 422)
    section_ids = [value for value in chosen if value is not None]
    try:
        points = deductions.checked_points(form.points.data, campaign)
        reason = deductions.checked_reason(form.reason.data)
        plan = deductions.plan_discretionary(session, campaign, unit_id, section_ids, points)
    except DomainError as error:
        field = getattr(error, "field", None)
        if field in ("points", "reason", "sections"):
            form[field].errors = [*form[field].errors, str(error)]
            return _inspection_page(campaign, form, None, error.status)
        return _inspection_page(campaign, form, str(error), error.status)
    names = [name for _, name in plan.sections]
    confirmation = Confirmation(
        title=f"影响评议工作扣分：{plan.unit.name}",
        facts=[f"{plan.unit.name} 的 {len(names)} 个科室各扣监督检查 {points:g} 分：{'、'.join(names)}。",
               f"事由：{reason}", "扣分写入这些科室的得分说明；监督检查得分最低为 0 分。"],
        button="记录扣分", action=url_for(".add_discretionary"), back=url_for(".kind_page", kind="inspection"),
        warning="这些科室的得分随之改变；如有误，可在监督检查页面撤销这条扣分。",
        id="discretionary",
        extra={"unit": form.unit.data or "", "points": form.points.data or "", "reason": form.reason.data or "",
               "chosen": " ".join(str(sid) for sid in section_ids)},
    )
    if (page := ask(confirmation, ConfirmForm())) is not None:
        return page
    events = deductions.add_discretionary(session, campaign, unit_id, form.points.data or "", form.reason.data or "",
                                          section_ids, current_user, today=_local_today(), actor=current_user.username)
    flash(f"已记录 {plan.unit.name} 的影响评议工作扣分：{len(events)} 个科室各扣 {points:g} 分。", "info")
    return redirect(url_for(".kind_page", kind="inspection"), 303)


@bp.post("/inspection/discretionary/<int:entry_id>/undo")
@roles_required(*ADMIN)
def undo_discretionary(entry_id: int):
    """Undo one recorded discretionary deduction (all its sections); confirmed first."""
    campaign = current_campaign()
    session = get_session()
    found = deductions.decision(session, campaign, entry_id)  # 404 for none
    confirmation = Confirmation(
        title=f"撤销影响评议工作扣分：{found.unit}",
        facts=[f"删除 {found.unit} 的影响评议工作扣分（每个科室 {found.points:g} 分）：{'、'.join(found.sections)}，"
               "这些科室的监督检查得分随之恢复。", f"原事由：{found.reason}"],
        button="撤销扣分", action=url_for(".undo_discretionary", entry_id=entry_id),
        back=url_for(".kind_page", kind="inspection"), warning="撤销的经过保留在审计日志中。",
        id=f"undo-discretionary-{entry_id}",
    )
    if (page := ask(confirmation, ConfirmForm())) is not None:
        return page
    deductions.undo_discretionary(session, campaign, entry_id, actor=current_user.username)
    flash(f"已撤销 {found.unit} 的影响评议工作扣分（{len(found.sections)} 个科室）。", "info")
    return redirect(url_for(".kind_page", kind="inspection"), 303)
