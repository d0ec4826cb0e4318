"""The audit log in words: each entry as the sentence a clerk or an auditor reads,
names in place of ids, values as words, times in the office's zone.

An entry's stored detail never changes (the hash chain covers it: voting/audit/audit.py);
only how it is shown does. So the names are looked up when the log is read (`look_up`,
a few queries for a whole page of entries), from what the detail holds: a section
deleted since shows the name the detail kept, if it kept one.

Each action has its describer; an entry whose detail lacks what its describer needs
(an entry written before the detail had that key) and an action without one are shown
by `_generic`: every key by its label, every value in words. A description is a list of
parts, text and `Link`s; the pages turn a link into an address (the service says what
it points at, the view where that is), the Excel export keeps the text.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring import labels as L
from voting.components.models import COMPONENT_KIND_LABELS, ComponentKind
from voting.online.models import EVALUATOR_KIND_LABELS, Evaluator, EvaluatorKind
from voting.audit.models import AuditEntry
from voting.survey.models import InviteMode, SurveyRound
from voting.lists.models import ObjectImport, Result, RoundKind, Section, Unit
from voting.audit.audit import action_label
from voting.office.retention import STEP_LABELS
from voting.survey.rounds import ROUND_NAMES

# A list up to this long is named in the sentence; a longer one is counted, and the
# entry's page lists it.
INLINE = 3
NOT_LISTED = "不列入任何名单"  # a result of None, as the scores pages say it
_CHUNK = 1000  # ids per IN (…) of a look-up

# The details' keys as the generic rendering (and the entry's page) names them; a key
# not listed shows as it is stored.
DETAIL_LABELS = {
    "filename": "文件", "rows": "行数", "rows_read": "读取行数", "stored": "保存", "replaced": "替换原有",
    "added": "新增", "removed": "删除", "changed": "修改", "unchanged": "未变", "updated": "更新",
    "sections": "科室", "objects_lost": "一并删除的服务对象", "removed_sections": "删除的科室",
    "changed_sections": "修改的科室", "unmatched": "不在名单中的行", "years": "年度", "import_id": "导入编号",
    "round": "轮次", "round_id": "轮次编号", "duplicates": "重复行", "all_penalized_reported": "确认已全部上报处罚对象的科室",
    "kind": "数据类别", "exempt_skipped": "免评未导入", "entry_id": "记录编号", "section_id": "科室编号",
    "section": "科室", "values": "内容", "note": "备注", "unit_id": "单位编号", "unit": "单位", "scores": "评分",
    "result": "决定", "proposed": "系统拟定", "previous": "原决定", "reason": "理由", "undone_result": "撤销的决定",
    "undone_reason": "撤销的理由", "candidates": "候选科室数", "lists": "各类候选", "section_ids": "科室编号",
    "changes": "改动", "invitations": "邀请", "sections_without_list": "无名单科室", "reminders": "提醒",
    "closes_at": "截止时间", "sample_size": "抽样人数", "seed": "抽样种子", "mode": "邀请方式",
    "reminder_after_hours": "提醒间隔（小时）", "voided_messages": "作废的短信", "sent_messages": "已发出的短信",
    "user_id": "账号编号", "username": "账号", "failed_logins": "输错密码次数", "locked": "已锁定",
    "accounts": "账号", "by_kind": "各类人数", "evaluator_id": "评价人编号", "was_locked": "原已锁定",
    "reminded": "提醒人数", "ballots": "选票", "evaluators": "评价人", "service_objects": "服务对象",
    "representatives": "代表", "target": "规则要求的服务对象", "objects": "服务对象", "penalized": "处罚对象",
    "fields": "修改的项", "contact_id": "人员编号", "unit_ids": "单位编号", "unit_names": "单位",
    "score": "评分", "from": "原值", "to": "新值", "previous_unit": "原单位", "units": "所属单位变动", **{result.value: result.label for result in Result},
    **{name: label for name, label in STEP_LABELS.items() if name not in ("service_objects", "evaluators")},
}
# The rule settings a clerk is likely to change, in words; any other shows its name.
SETTING_LABELS = {
    "sms_window_start": "短信发送时段开始", "sms_window_end": "短信发送时段结束", "sms_daily_cap": "每个号码每天短信上限",
    "max_objects_per_section": "每个科室服务对象上限", "min_penalized_objects": "管理执法类科室处罚对象下限",
    "exemption_years": "免评所需连续满意年数", "blend_min_votes": "折算票数下限", "shortlist_satisfied": "满意候选数",
    "shortlist_unsatisfied": "不满意候选数", "final_satisfied": "满意单位数", "final_unsatisfied": "不满意单位数",
    "final_most_unsatisfied": "最不满意单位数", "ballot_satisfied": "每张选票满意数", "ballot_unsatisfied": "每张选票不满意数",
    "evaluator_service_object_share": "网络评价服务对象占比",
}
_RESULTS = {result.value: result.label for result in Result}


# ---- what a description is made of ----------------------------------------------------------

@dataclass(frozen=True)
class Link:
    """A part of a description that points at a page. `target`: "entry" (the entry's
    own page), "object_import" (an import's report), "survey_round", "online_round";
    `campaign_id`: the campaign whose pages show it (they show the current one only).
    An `aside` link ("查看") is left out of the plain text."""

    text: str
    target: str
    id: int | None = None
    campaign_id: int | None = None
    aside: bool = False


Part = str | Link


@dataclass
class Description:
    parts: list[Part]

    def __str__(self) -> str:
        return "".join(part if isinstance(part, str) else "" if part.aside else part.text for part in self.parts)


@dataclass
class Listing:
    """What an entry touched, one row each, for the entry's page."""

    title: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class Names:
    """The names behind the ids of some entries' details (`look_up`), and the office's
    clock (`local_time`: a stored UTC time as the pages show it)."""

    local_time: Callable[[datetime | None], str]
    sections: dict[int, str] = field(default_factory=dict)  # "县公安局 · 户政科"
    units: dict[int, str] = field(default_factory=dict)
    survey_rounds: dict[int, tuple[RoundKind, int]] = field(default_factory=dict)  # kind, campaign id
    object_imports: dict[int, int] = field(default_factory=dict)  # import id: campaign id
    evaluators: dict[int, str] = field(default_factory=dict)  # "账号 ab12cd（基层干部）"


# ---- looking the names up ---------------------------------------------------------------------

def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _detail(entry: AuditEntry) -> dict:
    """The entry's detail; `record` stores a dict, but the page must not fail on an entry
    that holds anything else."""
    return entry.detail if isinstance(entry.detail, dict) else {}


def _ids(values: object) -> list[int]:
    return [v for v in values if _is_id(v)] if isinstance(values, list) else []


def _listed_ids(values: object) -> list[int]:
    """The section ids of a list of dicts ({"section_id": …, …}: an import's sections,
    a unit's scores)."""
    return [v["section_id"] for v in values if isinstance(v, dict) and _is_id(v.get("section_id"))] \
        if isinstance(values, list) else []


def section_ids(entry: AuditEntry) -> list[int]:
    """Every section the entry's detail names, in its order."""
    detail = _detail(entry)
    found = [detail["section_id"]] if _is_id(detail.get("section_id")) else []
    for key in ("section_ids", "all_penalized_reported"):
        found += _ids(detail.get(key))
    for key in ("sections", "scores"):
        found += _listed_ids(detail.get(key))
    return list(dict.fromkeys(found))


def _wanted_sections(entry: AuditEntry, whole_lists: bool) -> list[int]:
    """The sections whose names the entry's sentence shows (a list longer than INLINE
    is only counted), or, with `whole_lists`, its page."""
    if whole_lists:
        return section_ids(entry)
    detail = _detail(entry)
    found = [detail["section_id"]] if _is_id(detail.get("section_id")) else []
    for key in ("section_ids", "all_penalized_reported"):
        if len(ids := _ids(detail.get(key))) <= INLINE:
            found += ids
    for key in ("sections", "scores"):
        if len(ids := _listed_ids(detail.get(key))) <= INLINE:
            found += ids
    return found


def _chunks(ids: set[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start:start + _CHUNK]


def look_up(
    session: Session, entries: Iterable[AuditEntry], local_time: Callable[[datetime | None], str], *,
    whole_lists: bool = False,
) -> Names:
    """The names the entries' descriptions need: one query per kind of id (in chunks),
    whatever the number of entries. `whole_lists`: every section of every list (the
    entry's page), not only those a sentence names."""
    sections: set[int] = set()
    units: set[int] = set()
    survey_rounds: set[int] = set()
    imports: set[int] = set()
    evaluators: set[int] = set()
    for entry in entries:
        detail = _detail(entry)
        sections.update(_wanted_sections(entry, whole_lists))
        if _is_id(detail.get("unit_id")):
            units.add(detail["unit_id"])
        if _is_id(detail.get("round_id")) and entry.action.startswith("round."):
            survey_rounds.add(detail["round_id"])
        if _is_id(detail.get("import_id")) and entry.action == "objects.import":
            imports.add(detail["import_id"])
        if _is_id(detail.get("evaluator_id")):
            evaluators.add(detail["evaluator_id"])
    names = Names(local_time)
    for chunk in _chunks(sections):
        names.sections.update(
            (sid, f"{unit} · {section}") for sid, unit, section in
            session.execute(select(Section.id, Unit.name, Section.name).join(Unit).where(Section.id.in_(chunk)))
        )
    for chunk in _chunks(units):
        names.units.update(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(chunk))).all())
    for chunk in _chunks(survey_rounds):
        names.survey_rounds.update(
            (rid, (kind, campaign_id)) for rid, kind, campaign_id in
            session.execute(select(SurveyRound.id, SurveyRound.kind, SurveyRound.campaign_id)
                            .where(SurveyRound.id.in_(chunk)))
        )
    for chunk in _chunks(imports):
        names.object_imports.update(
            session.execute(select(ObjectImport.id, ObjectImport.campaign_id).where(ObjectImport.id.in_(chunk))).all()
        )
    for chunk in _chunks(evaluators):
        names.evaluators.update(
            (eid, f"账号 {login}（{kind.label}）") for eid, login, kind in
            session.execute(select(Evaluator.id, Evaluator.login, Evaluator.kind).where(Evaluator.id.in_(chunk)))
        )
    return names


# ---- values in words ------------------------------------------------------------------------------

def _number(value: object) -> str:
    """A count or a score as the pages write it: 3, 4.5, not 3.0."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _yes_no(value: object) -> str:
    return "是" if value else "否"


def _result(code: object) -> str:
    """A result (Result's value), None being no list at all."""
    return NOT_LISTED if code is None else _RESULTS.get(str(code), str(code))


def _time(names: Names, value: object) -> str:
    """A time the detail holds as ISO text (UTC), in the office's zone."""
    try:
        return names.local_time(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def _quoted(text: object) -> str:
    return f"“{text}”"


def _section(names: Names, section_id: object, stored: object = None) -> str:
    """A section by its id: its unit and name now, else the name the detail kept."""
    if _is_id(section_id) and section_id in names.sections:
        return names.sections[section_id]
    if stored:
        return str(stored)
    return f"已删除的科室（编号 {section_id}）" if section_id is not None else "（未记下的科室）"


def _unit(names: Names, unit_id: object, stored: object = None) -> str:
    if _is_id(unit_id) and unit_id in names.units:
        return names.units[unit_id]
    return str(stored) if stored else f"已删除的单位（编号 {unit_id}）"


def _see(entry: AuditEntry) -> Link:
    return Link("查看", "entry", entry.id, aside=True)


def _many(entry: AuditEntry, names: list[str], counter: str = "个科室") -> list[Part]:
    """A few names, or how many with a link to the entry's page that lists them."""
    if len(names) <= INLINE:
        return ["、".join(names) if names else "无"]
    return [f"{len(names)} {counter}", _see(entry)]


def _sections(entry: AuditEntry, names: Names, ids: list[int]) -> list[Part]:
    return _many(entry, [_section(names, sid) for sid in ids])


def _named(entry: AuditEntry, items: list[str], lead: str) -> list[Part]:
    """"<lead>:甲、乙" for a few, "<lead>共 37 个(查看)" for more."""
    if len(items) <= INLINE:
        return [f"{lead}：{'、'.join(items)}"]
    return [f"{lead}共 {len(items)} 个", _see(entry)]


def _survey_round(names: Names, entry: AuditEntry) -> Part:
    """"上半年服务对象调查(H1)", pointing at the round's page while the round is there."""
    detail = _detail(entry)
    round_id = detail["round_id"] if _is_id(detail.get("round_id")) else None
    known = names.survey_rounds.get(round_id) if round_id is not None else None
    kind, campaign_id = known or (detail.get("round"), entry.campaign_id)
    code = kind.value if isinstance(kind, RoundKind) else str(kind)
    try:
        text = f"{RoundKind(code).title}（{code}）"
    except ValueError:
        text = f"服务对象调查（{code}）"
    if round_id in names.survey_rounds:
        return Link(text, "survey_round", round_id, campaign_id)
    return text


def _online_round(entry: AuditEntry) -> Link:
    return Link("网络评价", "online_round", None, entry.campaign_id)


def _list_kind(code: object) -> str:
    """An objects list's round: "上半年(H1)"."""
    try:
        return f"{ROUND_NAMES[RoundKind(code)]}（{code}）"
    except ValueError:
        return str(code)


def _vote_round(code: object) -> str:
    if code == "NET":
        return "网络评价"
    return _list_kind(code)


def _component_values(kind: str, values: dict) -> str:
    """One component row (its model's attributes, as the detail keeps them) in words."""
    if kind == ComponentKind.votes.value:
        return (f"{_vote_round(values['round'])} 满意 {values['satisfied']} 票、基本满意 {values['basic']} 票、"
                f"不满意 {values['unsatisfied']} 票")
    if kind == ComponentKind.platform.value:
        return (f"{L.label(L.PLATFORMS, values['platform'])} {L.label(L.ITEMS, values['item'])} "
                f"扣 {_number(values['deduction'])} 分（{L.label(L.ROLES, values.get('role') or 'lead')}）")
    if kind == ComponentKind.inspection.value:
        words = [L.label(L.INSPECTION_KINDS, values["kind"])]
        if values.get("serious"):
            words.append("情节严重")
        if values.get("person"):
            words.append(L.label(L.PERSONS, values["person"]))
            words.append("发生在评议年度" if values.get("current_year") else "发生在以往年度")
        if values.get("date"):
            words.append(f"日期 {values['date']}")
        return "，".join(words)
    if kind == ComponentKind.bonus.value:
        level = L.label(L.BONUS_LEVELS.get(values["kind"], {}), values["level"])
        return f"{L.label(L.BONUS_KINDS, values['kind'])} {level} {_quoted(values['matter'])}（{values['date']}）"
    raise KeyError(kind)


def _kind_label(kind: object) -> str:
    try:
        return COMPONENT_KIND_LABELS[ComponentKind(kind)]
    except ValueError:
        return str(kind)


def _about(*facts: str) -> str:
    """"(文件“a.csv”,2019 年度)": the facts given, in brackets, or nothing."""
    given = [fact for fact in facts if fact]
    return f"（{'，'.join(given)}）" if given else ""


def _file(detail: dict) -> str:
    return f"文件{_quoted(detail['filename'])}" if detail.get("filename") else ""


# ---- one describer per action ----------------------------------------------------------------------

Describer = Callable[[AuditEntry, Names], list[Part]]
DESCRIBERS: dict[str, Describer] = {}


def describes(action: str) -> Callable[[Describer], Describer]:
    def register(describer: Describer) -> Describer:
        DESCRIBERS[action] = describer
        return describer
    return register


@describes("sections.import")
def _sections_import(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    parts: list[Part] = [
        f"导入参评科室名单{_about(_file(d))}：名单共 {d['sections']} 个科室，其中新增 {d['added']} 个、修改 {d['changed']} 个、"
        f"删除 {d['removed']} 个、未变 {d['unchanged']} 个。"
    ]
    for key, what in (("removed_sections", "删除"), ("changed_sections", "修改")):
        if d.get(key):
            parts += [*_named(entry, [str(name) for name in d[key]], f"{what}的科室"), "。"]
    if d.get("objects_lost"):
        parts.append(f"随删除的科室一并删除服务对象 {d['objects_lost']} 人。")
    return parts


@describes("history.import")
def _history_import(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    years = "、".join(str(y) for y in d.get("years") or [])
    parts: list[Part] = [
        f"导入往年评议结果{_about(_file(d), f'{years} 年度' if years else '')}：共 {d['rows']} 行，新增 {d['added']} 条、"
        f"更新 {d['updated']} 条、未变 {d['unchanged']} 条。"
    ]
    if d.get("unmatched"):
        parts.append(f"其中 {d['unmatched']} 行的科室不在本年度参评科室名单中。")
    return parts


@describes("objects.import")
def _objects_import(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    listed = _listed_ids(d["sections"])
    parts: list[Part] = [
        f"导入{_list_kind(d['round'])}服务对象名单{_about(_file(d))}：读取 {d['rows_read']} 行，保存 {d['stored']} 人，"
        f"重复 {d['duplicates']} 行（未重复保存）；", *_named(entry, [_section(names, sid) for sid in listed], "涉及科室"),
        "。",
    ]
    confirmed = _ids(d.get("all_penalized_reported"))
    if confirmed:
        parts += [*_named(entry, [_section(names, sid) for sid in confirmed], "确认已全部上报处罚对象的科室"), "。"]
    import_id = d.get("import_id")
    if import_id in names.object_imports:
        parts.append(Link("查看导入结果", "object_import", import_id, names.object_imports[import_id], aside=True))
    return parts


@describes("component.import")
def _component_import(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    text = (f"导入评分数据“{_kind_label(d['kind'])}”{_about(_file(d))}：共 {d['rows']} 行，保存 {d['stored']} 条，"
            f"替换原有 {d['replaced']} 条")
    if d.get("exempt_skipped"):
        text += f"；{d['exempt_skipped']} 行属于免评科室，未导入"
    return [text + "。"]


def _note(detail: dict) -> str:
    return f"；备注：{detail['note']}" if detail.get("note") else ""


@describes("component.entry_add")
def _entry_add(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"录入一条{_kind_label(d['kind'])}数据：{_section(names, d['section_id'], d.get('section'))}，"
            f"{_component_values(d['kind'], d['values'])}{_note(d)}。"]


@describes("component.entry_delete")
def _entry_delete(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    values = d["values"]
    if values.get("import_id") is not None:
        source = f"原由文件导入，第 {values['source_row']} 行" if values.get("source_row") else "原由文件导入"
    elif values.get("created_at"):
        source = f"原于 {_time(names, values['created_at'])} 手工录入"
    else:
        source = "原为手工录入"
    return [f"删除一条{_kind_label(d['kind'])}数据：{_section(names, d['section_id'], d.get('section'))}，"
            f"{_component_values(d['kind'], values)}（{source}）{_note(values)}。"]


@describes("supervisor.save")
def _supervisor_save(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    scores = d["scores"]
    unit = _unit(names, d.get("unit_id"), d.get("unit"))
    if len(scores) <= INLINE:
        shown = "、".join(f"{s['section']} {float(s['score']):.1f} 分" for s in scores)
        return [f"填报{unit}的主管单位评分：{shown}。"]
    return [f"填报{unit}的主管单位评分：共 {len(scores)} 个科室", _see(entry), "。"]


def _fields(d: dict) -> str:
    return "、".join(str(f) for f in d["fields"]) if d["fields"] else "无"


@describes("commitment.save")
def _commitment_save(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    section = _section(names, d["section_id"], f"{d['unit']} · {d['section']}" if d.get("section") else None)
    return [f"填写{section}的服务承诺表（附件4）：修改了{_fields(d)}。"]


def _person(names: Names, d: dict) -> str:
    """"县发改局工作人员联系表中的主要负责人（价格科，编号 7）"."""
    where = f"{d['section']}，" if d.get("section") else ""
    return f"{_unit(names, d.get('unit_id'), d.get('unit'))}工作人员联系表（附件5）中的{d['role']}（{where}编号 {d['contact_id']}）"


@describes("staff_contact.add")
def _staff_contact_add(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"添加{_person(names, d)}：填写了{_fields(d)}。"]


@describes("staff_contact.edit")
def _staff_contact_edit(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"修改{_person(names, d)}：修改了{_fields(d)}。"]


@describes("staff_contact.delete")
def _staff_contact_delete(entry: AuditEntry, names: Names) -> list[Part]:
    return [f"删除{_person(names, entry.detail)}。"]


def _forms_import(entry: AuditEntry, what: str, removed: str) -> list[Part]:
    d = entry.detail
    units = _many(entry, [str(u) for u in d["unit_names"]], "个单位")
    parts: list[Part] = [f"导入{what}（文件“{d['filename']}”）：替换{' ' if len(d['unit_names']) > INLINE else ''}",
                         *units, f"的表，共 {d['rows']} 行"]
    return [*parts, removed.format(d["removed"]) if d["removed"] else "", "。"]


@describes("commitment.import")
def _commitment_import(entry: AuditEntry, names: Names) -> list[Part]:
    return _forms_import(entry, "服务承诺表（附件4）", "；文件中没有的 {} 个科室的表已删除")


@describes("staff_contact.import")
def _staff_contact_import(entry: AuditEntry, names: Names) -> list[Part]:
    return _forms_import(entry, "工作人员联系表（附件5）", "；原有的 {} 人已替换")


# The review office's own inspection deductions (voting/components/deductions.py).
def _points(detail: dict) -> str:
    return _number(detail["points"])


@describes("inspection.unreported_add")
def _unreported_add(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    kind = "，管理执法类" if d.get("is_enforcement") else ""
    return [f"补录应报未报科室：{_section(names, d['section_id'], d.get('section'))}（{d['found_on']} 发现{kind}），"
            f"列入参评；本单位参评科室各扣监督检查 {_points(d)} 分：", *_sections(entry, names, _ids(d['section_ids'])),
            f"。事由：{d['reason']}。"]


@describes("inspection.unreported_undo")
def _unreported_undo(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"撤销应报未报补录：从参评科室名单中删除{d['section']}，并删除它引起的 {d['events']} 条应报未报扣分"
            f"（原于 {d['found_on']} 补录，事由：{d['reason']}）。"]


@describes("inspection.discretionary_add")
def _discretionary_add(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"记录{_unit(names, d.get('unit_id'), d.get('unit'))}的影响评议工作扣分：每个科室扣监督检查 {_points(d)} 分，科室：",
            *_sections(entry, names, _ids(d['section_ids'])), f"。事由：{d['reason']}。"]


@describes("inspection.discretionary_undo")
def _discretionary_undo(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"撤销{_unit(names, d.get('unit_id'), d.get('unit'))}的影响评议工作扣分（每个科室 {_points(d)} 分），科室：",
            *_sections(entry, names, _ids(d['section_ids'])), f"。原事由：{d['reason']}。"]


@describes("result.decide")
def _result_decide(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    section = _section(names, d["section_id"], d.get("section"))
    result, proposed = d["result"], d.get("proposed")
    if result == proposed:
        text = f"确认{section}的评议结果为“{_result(result)}”（与系统拟定相同）"
    else:
        text = f"将{section}的评议结果由系统拟定的“{_result(proposed)}”改为“{_result(result)}”"
    # `previous` is None both before any decision and after one of no list: only a
    # list is certain enough to name.
    if d.get("previous") is not None:
        text += f"，此前的决定为“{_result(d['previous'])}”"
    return [f"{text}。理由：{d['reason']}。"]


@describes("result.undo")
def _result_undo(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    section = _section(names, d["section_id"], d.get("section"))
    reason = f"，理由：{d['undone_reason']}" if d.get("undone_reason") else ""
    return [f"撤销对{section}的评议结果决定（原决定为“{_result(d['undone_result'])}”{reason}），恢复为系统拟定的结果。"]


def _consequence_where(d: dict) -> str:
    """The unit, and the section when the consequence is a section's: "县发改局 · 价格科"."""
    return str(d.get("unit") or "") + (f" · {d['section']}" if d.get("section") else "")


@describes("consequence.done")
def _consequence_done(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    note = f"；备注：{d['note']}" if d.get("note") else ""
    return [f"登记结果运用措施完成：{_consequence_where(d)}，“{d['measure']}”，{d['done_on']} 由{d['done_by']}完成{note}。"]


@describes("consequence.undo")
def _consequence_undo(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"撤销结果运用措施的完成登记：{_consequence_where(d)}，“{d['measure']}”（原登记为 {d['done_on']} 由{d['done_by']}完成）。"]


@describes("candidates.fix")
def _candidates_fix(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    lists = "、".join(f"{L.label(L.SHORTLISTS, code)} {n} 个" for code, n in (d.get("lists") or {}).items())
    parts: list[Part] = [f"确定候选名单：共 {d['candidates']} 个科室{f'（{lists}）' if lists else ''}"]
    ids = _ids(d.get("section_ids"))
    if ids and len(ids) <= INLINE:
        parts.append("：" + "、".join(_section(names, sid) for sid in ids))
    elif ids:
        parts.append(_see(entry))
    return [*parts, "。此后候选名单不再随日常评分变动。"]


@describes("candidates.unfix")
def _candidates_unfix(entry: AuditEntry, names: Names) -> list[Part]:
    return [f"撤销已确定的候选名单（共 {entry.detail['candidates']} 个科室），候选名单重新随日常评分变动。"]


@describes("campaign.settings")
def _campaign_settings(entry: AuditEntry, names: Names) -> list[Part]:
    changes = entry.detail["changes"]
    shown = "；".join(
        f"{SETTING_LABELS.get(name) or f'规则设置 {name} '}由 {_number(change['from'])} 改为 {_number(change['to'])}"
        for name, change in changes.items()
    )
    return [f"修改活动设置：{shown}。"]


@describes("round.create")
def _round_create(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    mode = InviteMode(d["mode"]).label
    return ["建立", _survey_round(names, entry),
            f"：邀请方式为{mode}，每个科室抽样 {d['sample_size']} 人，抽样种子 {d['seed']}，截止 {_time(names, d['closes_at'])}，"
            f"未评价者在短信发出 {d['reminder_after_hours']} 小时后提醒一次。"]


@describes("round.open")
def _round_open(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    text = f"：向 {d['sections']} 个科室的服务对象发出 {d['invitations']} 份邀请，短信写入发件箱"
    if d.get("sections_without_list"):
        text += f"；{d['sections_without_list']} 个科室还没有服务对象名单，名单报送后补发邀请"
    return ["开始", _survey_round(names, entry), text + "。"]


@describes("round.remind")
def _round_remind(entry: AuditEntry, names: Names) -> list[Part]:
    return ["为", _survey_round(names, entry), f"中尚未评价的 {entry.detail['reminders']} 位服务对象写入提醒短信。"]


@describes("round.close")
def _round_close(entry: AuditEntry, names: Names) -> list[Part]:
    voided = entry.detail["voided_messages"]
    return ["结束", _survey_round(names, entry), f"，不再接受评价；尚未发出的 {voided} 条短信作废。" if voided
            else "，不再接受评价。"]


@describes("round.cancel")
def _round_cancel(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return ["取消", _survey_round(names, entry),
            f"：已有邀请 {d['invitations']} 份，已发出短信 {d['sent_messages']} 条，尚未发出的 {d['voided_messages']} 条短信作废。"]


@describes("round.invite_late")
def _round_invite_late(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [_survey_round(names, entry),
            f"开始后报送名单的 {d['sections']} 个科室：补发 {d['invitations']} 份邀请，短信写入发件箱。"]


@describes("online.create")
def _online_create(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return ["建立", _online_round(entry), f"：截止 {_time(names, d['closes_at'])}，服务对象抽样种子 {d['seed']}。"]


@describes("online.import")
def _online_import(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    kinds = "、".join(f"{EVALUATOR_KIND_LABELS[EvaluatorKind(k)]} {n} 人" for k, n in (d.get("by_kind") or {}).items())
    return [f"导入网络评价代表名单{_about(_file(d))}：共 {d['rows']} 人{f'（{kinds}）' if kinds else ''}。"]


@describes("online.sample")
def _online_sample(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    text = (f"从候选科室的服务对象名单中抽取 {d['added']} 名服务对象作为网络评价人（抽样种子 {d['seed']}）；"
            f"现有服务对象 {d['service_objects']} 名、代表 {d['representatives']} 名")
    if d.get("target") is not None:
        text += f"，规则要求服务对象 {d['target']} 名"
    return [text + "。"]


@describes("online.issue")
def _online_issue(entry: AuditEntry, names: Names) -> list[Part]:
    return [f"向 {entry.detail['accounts']} 位网络评价人发出账号和一次性密码短信。"]


def _evaluator(names: Names, evaluator_id: Any) -> str:  # a detail's value
    return names.evaluators.get(evaluator_id, f"（编号 {evaluator_id}）")


@describes("online.resend")
def _online_resend(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"为评价人{_evaluator(names, d['evaluator_id'])}重发密码短信（此前已输错密码 {d['failed_logins']} 次，"
            "重发不清零）。"]


@describes("online.reissue")
def _online_reissue(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    locked = "（原已锁定）" if d.get("was_locked") else ""
    return [f"重新开通评价人{_evaluator(names, d['evaluator_id'])}的账号{locked}：解除锁定，输错次数清零，重发密码短信。"]


@describes("online.remind")
def _online_remind(entry: AuditEntry, names: Names) -> list[Part]:
    return [f"向 {entry.detail['reminded']} 位尚未投票的网络评价人发送提醒短信。"]


@describes("online.close")
def _online_close(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return ["结束", _online_round(entry), f"：{d['evaluators']} 位评价人，共收到 {d['ballots']} 张选票。"]


@describes("online.publish")
def _online_publish(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    lists = "、".join(f"{label} {d[code]} 个" for code, label in _RESULTS.items() if code in d)
    if not lists:
        raise KeyError("lists")
    return [f"公布评议结果：{lists}。"]


@describes("user.unlock")
def _user_unlock(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    before = ("已锁定，" if d.get("locked") else "") + f"输错密码 {d.get('failed_logins', 0)} 次"
    return [f"解锁工作人员账号 {d['username']}（此前{before}），可以重新登录。"]


@describes("user.end_sessions")
def _user_end_sessions(entry: AuditEntry, names: Names) -> list[Part]:
    return [f"结束工作人员账号 {entry.detail['username']} 在所有设备上的登录。"]


@describes("users.liaisons")
def _users_liaisons(entry: AuditEntry, names: Names) -> list[Part]:
    accounts = [str(a) for a in entry.detail["accounts"]]
    if len(accounts) <= INLINE:
        return [f"为 {len(accounts)} 个单位建立联络员账号：{'、'.join(accounts)}。"]
    return [f"为 {len(accounts)} 个单位建立联络员账号", _see(entry), "。"]


@describes("retention.erase")
def _retention_erase(entry: AuditEntry, names: Names) -> list[Part]:
    counts = "、".join(f"{STEP_LABELS.get(name, name)} {n} 条" for name, n in entry.detail.items())
    return [f"按保存期限删除个人信息（{counts}）：姓名、号码等已清空，票数、评分和名单不变。"]


@describes("user.phone")
def _user_phone(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    unit = f"（{d['unit']}）" if d.get("unit") else ""
    return [f"{'登记' if d['set'] else '删除'}联络员账号 {d['user']}{unit}的手机号码。"]


@describes("assessment.create")
def _assessment_create(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    source = d["source"].removeprefix("builtin:")
    text = f"建立窗口绩效考核“{d['assessment']}”，方案“{d['scheme']}”（{'内置方案 ' + source if d['source'].startswith('builtin:') else '文件“' + source + '”'}）"
    return [text + ("，载入示例数据。" if d.get("examples") else "。")]


@describes("assessment.entities")
def _assessment_entities(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    parts: list[Part] = [f"导入考核“{d['assessment']}”的考核对象{_about(_file(d))}：共 {d['rows']} 个，其中新增 {d['added']} 个"]
    if "units" in d:  # the file had a 单位 column
        moved = [_moved(change) for change in d["units"]]
        parts += ["；", *_named(entry, moved, "所属单位有变动的对象")] if moved else ["；所属单位没有变动"]
    return [*parts, "。"]


def _moved(change: dict) -> str:
    """"公安局窗口（县公安局，原为不指定）": an entity's unit as an import set it."""
    return f"{change['entity']}（{change['unit'] or '不指定单位'}，原为{change['previous_unit'] or '不指定'}）"


@describes("assessment.period_open")
def _assessment_period_open(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"建立考核“{d['assessment']}”的期间 {d['period']}。"]


@describes("assessment.records_import")
def _assessment_records_import(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"导入考核“{d['assessment']}”{d['period']} 的记录{_about(_file(d))}：共 {d['records']} 条。"]


def _assessment_values(d: dict) -> str:
    parts = [f"{d['entity']}，{d['indicator']}"]
    if d.get("count") not in (None, 1):
        parts.append(f"数量 {d['count']}")
    if d.get("value"):
        parts.append(f"数值 {d['value']}")
    if d.get("points") not in (None, ""):
        parts.append(f"分值 {d['points']}")
    if d.get("note"):
        parts.append(f"说明：{d['note']}")
    return "，".join(parts)


@describes("assessment.record_add")
def _assessment_record_add(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"录入考核“{d['assessment']}”{d['period']} 的一条记录：{_assessment_values(d)}。"]


@describes("assessment.record_delete")
def _assessment_record_delete(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    shown = dict(d, points=None if d.get("points") is None else _milli_text(d["points"]))
    return [f"删除考核“{d['assessment']}”{d['period']} 的一条记录：{_assessment_values(shown)}；原因：{d['reason']}。"]


def _milli_text(milli: object) -> str:
    from scoring.schemes.exact import text

    return text(int(str(milli)))


@describes("assessment.period_close")
def _assessment_period_close(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"结束考核“{d['assessment']}”的期间 {d['period']}：此后记录不能再改，除非重新开启。"]


@describes("assessment.period_reopen")
def _assessment_period_reopen(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"重新开启考核“{d['assessment']}”的期间 {d['period']}；原因：{d['reason']}。"]


@describes("assessment.unit_link")
def _assessment_unit_link(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    before = f"（原为“{d['previous_unit']}”）" if d.get("previous_unit") else ""
    return [f"将考核“{d['assessment']}”的对象“{d['entity']}”指定给单位“{_unit(names, d['unit_id'], d['unit'])}”{before}："
            "该单位的联络员可以查看这个对象的得分、名次和加减分明细。"]


@describes("assessment.unit_unlink")
def _assessment_unit_unlink(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"取消考核“{d['assessment']}”的对象“{d['entity']}”所属的单位“{_unit(names, d['unit_id'], d['unit'])}”："
            "该单位的联络员不再能查看这个对象的得分。"]


def _rating_place(d: dict, names: Names) -> str:
    """"科室“县发改局 · 价格科”" or "窗口“公安局窗口”", and "的一件办件" for a case's code."""
    where = (f"科室“{_section(names, d['section_id'], d.get('section'))}”" if d.get("section_id") is not None
             else f"窗口“{d.get('entity') or '已删除的窗口'}”")
    return where + ("的一件办件" if d.get("kind") == "case" else "")


@describes("rating_code.issue")
def _rating_code_issue(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"为{_rating_place(d, names)}生成评议二维码（编号 {d['code_id']}）。"]


@describes("rating_code.revoke")
def _rating_code_revoke(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"停用{_rating_place(d, names)}的评议二维码（编号 {d['code_id']}），此后扫码不能再评价；原因：{d['reason']}。"]


@describes("rating_code.reissue")
def _rating_code_reissue(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"重新生成{_rating_place(d, names)}的评议二维码：停用编号 {d['code_id']}，新编号 {d['new_code_id']}，"
            f"原二维码此后不能再评价；原因：{d['reason']}。"]


def _case(d: dict, names: Names) -> str:
    """"差评（编号 3，科室“县发改局 · 价格科”）", and "，已超过整改时限" when it was late."""
    late = "，已超过整改时限" if d.get("overdue") is True else ""
    return f"差评（编号 {int(d['case_id'])}，{_rating_place(d, names)}{late}）"


@describes("followup.callback")
def _followup_callback(entry: AuditEntry, names: Names) -> list[Part]:
    return [f"记录{_case(entry.detail, names)}的回访情况。"]


@describes("followup.rectify")
def _followup_rectify(entry: AuditEntry, names: Names) -> list[Part]:
    return [f"记录{_case(entry.detail, names)}的整改情况。"]


@describes("followup.close")
def _followup_close(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"办结{_case(d, names)}" + ("。" if d.get("rectified") else "，未记录整改情况。")]


def _complaint(d: dict, names: Names) -> str:
    """"投诉（编号 7，科室“县发改局 · 价格科”）"."""
    return f"投诉（编号 {int(d['rating_id'])}，科室“{_section(names, d['section_id'], d.get('section'))}”）"


@describes("rating.complaint_decide")
def _rating_complaint_decide(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    if d.get("valid"):
        return [f"认定{_complaint(d, names)}为有效，扣网络监督投诉平台 {_number(d.get('deduction'))} 分；"
                f"理由：{d['reason']}。"]
    return [f"认定{_complaint(d, names)}为无效，不扣分；理由：{d['reason']}。"]


@describes("rating.complaint_undo")
def _rating_complaint_undo(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    was = "有效，删除其扣分" if d.get("was_valid") else "无效"
    return [f"撤销{_complaint(d, names)}的认定（原认定为{was}）；原因：{d['reason']}。"]


@describes("rating.complaint_unit_text")
def _rating_complaint_unit_text(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    if d.get("default"):
        return [f"恢复{_complaint(d, names)}的单位可见内容为自动隐去个人信息后的原文。"]
    return [f"修改{_complaint(d, names)}的单位可见内容：改写为 {d['length']} 个字。"]


def _months(d: dict) -> str:
    months = [str(m) for m in d.get("months") or []]
    if not months:
        return ""
    return f"{months[0]}至{months[-1]}" if len(months) > 1 and months[0] != months[-1] else months[0]


@describes("rating.served_import")
def _rating_served_import(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    where = f"考核“{d['assessment']}”的窗口" if d.get("assessment") else "科室"
    return [f"导入{where}办件数{_about(_file(d), _months(d))}：共 {d['rows']} 行，新增 {d['added']} 个，"
            f"替换 {d['replaced']} 个。"]


@describes("rating.hotline_import")
def _rating_hotline_import(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    return [f"导入12345热线回访满意情况{_about(_file(d), _months(d))}：{d['units']} 个单位，共 {d['rows']} 行，"
            f"新增 {d['added']} 个，替换 {d['replaced']} 个。"]


@describes("assessment.records_fill")
def _assessment_records_fill(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    skipped = [f"{what} {d[key]} 项" for key, what in (("kept", "已手工录入"), ("no_data", "无数据"), ("zero", "为零"),
                                                    ("refused", "不符合指标要求")) if d.get(key)]
    return [f"从好差评数据为考核“{d['assessment']}”的期间 {d['period']} 取数：写入 {d['written']} 条记录，"
            f"替换原取数 {d['replaced']} 条" + (f"；未取数：{'，'.join(skipped)}" if skipped else "") + "。"]


@describes("deadline.set")
def _deadline_set(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    text = f"设定“{d['what']}”的报送截止日期为 {d['due_on']}，截止前 {d['remind_days']} 天提醒尚未报送的单位联络员"
    if isinstance(d.get("previous"), dict):
        text += f"（原为 {d['previous']['due_on']}，提前 {d['previous']['remind_days']} 天）"
    return [text + "。"]


@describes("deadline.remind")
def _deadline_remind(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    parts: list[Part] = [f"提醒尚未报送“{d['what']}”的单位（截止 {d['due_on']}）：向 {d['units']} 个单位的联络员发出 "
                         f"{d['messages']} 条短信"]
    if d.get("unreachable"):
        parts += ["；", *_named(entry, [str(u) for u in d["unreachable"]], "未能提醒的单位（联络员没有登记手机号码）")]
    return [*parts, "。"]


# The list-integrity flags' kinds and statuses (voting/integrity/models.py) as the entries
# name them: kept here, as the stored entries do not change.
_INTEGRITY_KINDS = {"staff_phone": "工作人员号码", "shared_phone": "多科室重复号码", "copied_list": "沿用去年名单",
                    "sequential_run": "连号", "repeated_name": "同名多次", "answer_burst": "集中作答"}
_INTEGRITY_STATUSES = {"open": "待核查", "cleared": "已排除", "acted": "已处理"}


@describes("integrity.check")
def _integrity_check(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    against = f"，对照 {d['last_year']} 年度名单" if d.get("last_year") else "，没有去年的名单可对照"
    gone = d["removed"] + d["stale"]
    text = (f"运行名单真实性检查（服务对象 {d['objects']} 人、网上评价 {d['votes']} 票{against}）：发现 {d['found']} 条提示，"
            f"其中新增 {d['new']} 条、更新 {d['refreshed']} 条、已有结论且证据未变 {d['kept']} 条、证据变化重新待核查 {d['reopened']} 条")
    if gone:
        text += f"；{gone} 条不再发现（已有结论的 {d['stale']} 条保留）"
    return [text + "。核查提示不改变评分。"]


@describes("integrity.decide")
def _integrity_decide(entry: AuditEntry, names: Names) -> list[Part]:
    d = entry.detail
    kind = _INTEGRITY_KINDS.get(d["kind"], d["kind"])
    status = _INTEGRITY_STATUSES.get(d["status"], d["status"])
    previous = _INTEGRITY_STATUSES.get(d["previous"], d["previous"])
    return [f"将{_section(names, d['section_id'], d.get('section'))} {d['round']} 轮的“{kind}”核查提示标记为“{status}”"
            f"（原为“{previous}”）。核查说明：{d['note']}。"]


# ---- the generic rendering -------------------------------------------------------------------------

def _value(entry: AuditEntry, names: Names, key: str, value: Any) -> list[Part]:
    """A detail's value in words, by what its key says it is."""
    if key == "section_id" and _is_id(value):
        return [_section(names, value)]
    if key in ("section_ids", "all_penalized_reported") and isinstance(value, list):
        return _sections(entry, names, _ids(value))
    if key == "unit_id" and _is_id(value):
        return [_unit(names, value)]
    if key == "round_id" and entry.action.startswith("round."):
        return [_survey_round(names, entry)]
    if key == "round_id" and entry.action.startswith("online."):
        return [_online_round(entry)]
    if key == "import_id" and _is_id(value) and value in names.object_imports:
        return [Link("查看导入结果", "object_import", value, names.object_imports[value])]
    if key == "evaluator_id" and _is_id(value):
        return [_evaluator(names, value)]
    if key in ("result", "proposed", "previous", "undone_result") and (value is None or isinstance(value, str)):
        return [_result(value)]
    if key.endswith("_at") and isinstance(value, str):
        return [_time(names, value)]
    if value is None:
        return ["无"]
    if isinstance(value, bool):
        return [_yes_no(value)]
    if isinstance(value, (int, float)):
        return [_number(value)]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        if any(isinstance(v, (dict, list)) for v in value):
            return [f"{len(value)} 项"]
        return _many(entry, [_number(v) if not isinstance(v, bool) else _yes_no(v) for v in value], "项")
    if isinstance(value, dict):
        return ["、".join(f"{DETAIL_LABELS.get(k, k)} {Description(_value(entry, names, k, v))}" for k, v in value.items())]
    return [json.dumps(value, ensure_ascii=False, default=str)]


# A key whose id the generic rendering shows as a name: its label says so.
_NAMED_LABELS = {"section_id": "科室", "section_ids": "科室", "unit_id": "单位", "round_id": "轮次",
                 "import_id": "导入", "evaluator_id": "评价人"}


def _generic(entry: AuditEntry, names: Names) -> list[Part]:
    """"<操作>。<项>:<值>;…": every key by its label, every value in words."""
    parts: list[Part] = [action_label(entry.action), "。"]
    for n, (key, value) in enumerate(_detail(entry).items()):
        shown = _value(entry, names, key, value)
        named = key in _NAMED_LABELS and not (_is_id(value) and shown == [_number(value)])  # an id it could not name
        label = _NAMED_LABELS[key] if named else DETAIL_LABELS.get(key, key)
        parts += ["；" if n else "", f"{label}：", *shown]
    if _detail(entry):
        parts.append("。")
    return parts


def describe(entry: AuditEntry, names: Names) -> Description:
    """The entry as a sentence (or a few): its action's describer, or the generic
    rendering when there is none or the detail lacks what it needs."""
    describer = DESCRIBERS.get(entry.action)
    if describer is not None and isinstance(entry.detail, dict):
        try:
            return Description(describer(entry, names))
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # an entry of another shape (an older one): every key as it is
    return Description(_generic(entry, names))


# ---- the entry's page: what it touched, and the record as stored ----------------------------------

def listing(entry: AuditEntry, names: Names) -> Listing | None:
    """The sections (or accounts) the entry touched, one row each; None if it names
    none. `names` from look_up(…, whole_lists=True)."""
    try:
        return _listing(entry, names)
    except (KeyError, TypeError, ValueError, AttributeError):  # another shape: its sections only
        return _sections_listing(entry, names)


def _sections_listing(entry: AuditEntry, names: Names) -> Listing | None:
    ids = section_ids(entry)
    if not ids:
        return None
    return Listing(f"涉及的科室（{len(ids)} 个）", ["科室"], [[_section(names, sid)] for sid in ids])


def _listing(entry: AuditEntry, names: Names) -> Listing | None:
    d = _detail(entry)
    if entry.action == "objects.import" and isinstance(d.get("sections"), list):
        confirmed = set(_ids(d.get("all_penalized_reported")))
        rows = [[_section(names, s.get("section_id")), _number(s.get("objects", "")), _number(s.get("penalized", "")),
                 _yes_no(s.get("section_id") in confirmed)] for s in d["sections"] if isinstance(s, dict)]
        return Listing(f"涉及的科室（{len(rows)} 个）", ["科室", "服务对象", "处罚对象", "确认已全部上报处罚对象"], rows)
    if entry.action == "supervisor.save" and isinstance(d.get("scores"), list):
        rows = [[_section(names, s.get("section_id"), s.get("section")), f"{float(s.get('score', 0)):.1f}"]
                for s in d["scores"] if isinstance(s, dict)]
        return Listing(f"评分的科室（{len(rows)} 个）", ["科室", "评分"], rows)
    if entry.action == "sections.import":
        rows = [[str(name), what] for key, what in (("removed_sections", "删除"), ("changed_sections", "修改"))
                for name in d.get(key) or []]
        return Listing(f"删除和修改的科室（{len(rows)} 个）", ["科室", "变动"], rows) if rows else None
    if entry.action == "users.liaisons" and isinstance(d.get("accounts"), list):
        return Listing(f"建立的联络员账号（{len(d['accounts'])} 个）", ["账号"], [[str(a)] for a in d["accounts"]])
    if entry.action == "assessment.entities" and isinstance(d.get("units"), list) and d["units"]:
        rows = [[str(c.get("entity", "")), str(c.get("unit") or "不指定单位"), str(c.get("previous_unit") or "不指定单位")]
                for c in d["units"] if isinstance(c, dict)]
        return Listing(f"所属单位有变动的对象（{len(rows)} 个）", ["对象", "单位", "原单位"], rows)
    if entry.action == "deadline.remind" and isinstance(d.get("unreachable"), list):
        return Listing(f"未能提醒的单位（{len(d['unreachable'])} 个）", ["单位"], [[str(u)] for u in d["unreachable"]])
    return _sections_listing(entry, names)


def stored(entry: AuditEntry) -> list[tuple[str, str]]:
    """The detail as stored, key by key (its label) with the value as JSON, for an
    auditor who checks the sentence against the record."""
    if not isinstance(entry.detail, dict):
        return [("内容", json.dumps(entry.detail, ensure_ascii=False))]
    return [(DETAIL_LABELS.get(key, key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for key, value in entry.detail.items()]


ACTORS = {"cli": "命令行", "system": "系统"}


def actor_label(actor: str) -> str:
    """Who acted: a staff user's name as it is; the command line and the system in words."""
    return f"{ACTORS[actor]}（{actor}）" if actor in ACTORS else actor
