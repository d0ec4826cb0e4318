"""The audit log in words (voting/office/audit_text.py): each entry as a sentence with names
in place of ids, values as words (a result of None is 不列入任何名单), times in the
office's zone; long lists counted, with a link to the entry's page that names them.
The stored detail does not change (the hash chain covers it): only how it is shown.

Then the pages: the log reads as sentences and filters by action, actor and local
dates (kept across pages; a bad parameter is a 400 in Chinese, never a 500); an
entry's page lists what it touched; only admins and auditors read either; the Excel
export carries the sentence next to the details as stored.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from tests.conftest import PASSWORD, login
from tests.audit.test_audit import FDG, PRICE, objects_csv
from tests.office.test_exports import download, notes, table
from voting.audit.models import AuditEntry
from voting.staff.models import Role
from voting.lists.models import RoundKind, Section, Unit
from voting.audit import audit
from voting.office import audit_text
from voting.staff import users
from voting.web.common import local_time

ZONE = ZoneInfo("Asia/Shanghai")  # config.TIMEZONE, the tests' too
SECTIONS = {11: "县公安局 · 户政科", 12: "县公安局 · 治安科", 13: "县发改局 · 价格科", 14: "县发改局 · 综合科"}


def shanghai(value: datetime | None) -> str:
    """common.local_time without an app: the tests' zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def names(**more) -> audit_text.Names:
    """What look_up would find: four sections, a unit, an H1 round and an import of
    campaign 1, one evaluator."""
    return audit_text.Names(
        shanghai, sections=dict(SECTIONS), units={5: "县发改局"}, survey_rounds={3: (RoundKind.H1, 1)},
        object_imports={9: 1}, evaluators={21: "账号 ab12cd（基层干部）"}, **more,
    )


def entry(action: str, detail: dict, entry_id: int = 8, campaign_id: int | None = 1) -> AuditEntry:
    return AuditEntry(id=entry_id, action=action, detail=detail, campaign_id=campaign_id, actor="admin")


def said(action: str, detail: dict, found: audit_text.Names | None = None) -> audit_text.Description:
    return audit_text.describe(entry(action, detail), found or names())


def links(description: audit_text.Description) -> list[audit_text.Link]:
    return [part for part in description.parts if isinstance(part, audit_text.Link)]


# ---- one sentence per action ---------------------------------------------------------------------

# (action, detail as the service records it, the sentence). The details are those the
# services write (see tests/audit/test_audit.py for what each action records).
SENTENCES = [
    ("sections.import",
     {"filename": "新名单.csv", "sections": 362, "added": 0, "removed": 1, "changed": 0, "unchanged": 362,
      "objects_lost": 4, "removed_sections": ["县发改局 价格科"], "changed_sections": []},
     "导入参评科室名单（文件“新名单.csv”）：名单共 362 个科室，其中新增 0 个、修改 0 个、删除 1 个、未变 362 个。"
     "删除的科室：县发改局 价格科。随删除的科室一并删除服务对象 4 人。"),
    ("sections.import",
     {"filename": "", "sections": 363, "added": 363, "removed": 0, "changed": 0, "unchanged": 0, "objects_lost": 0,
      "removed_sections": [], "changed_sections": []},
     "导入参评科室名单：名单共 363 个科室，其中新增 363 个、修改 0 个、删除 0 个、未变 0 个。"),
    ("history.import",
     {"filename": "往年.csv", "rows": 2, "added": 2, "updated": 0, "unchanged": 0, "unmatched": 1, "years": [2019, 2020]},
     "导入往年评议结果（文件“往年.csv”，2019、2020 年度）：共 2 行，新增 2 条、更新 0 条、未变 0 条。"
     "其中 1 行的科室不在本年度参评科室名单中。"),
    ("objects.import",
     {"import_id": 9, "filename": "对象.csv", "round": "H1", "rows_read": 8, "stored": 8, "duplicates": 0,
      "sections": [{"section_id": 13, "objects": 8, "penalized": 0}], "all_penalized_reported": [13]},
     "导入上半年（H1）服务对象名单（文件“对象.csv”）：读取 8 行，保存 8 人，重复 0 行（未重复保存）；涉及科室：县发改局 · 价格科。"
     "确认已全部上报处罚对象的科室：县发改局 · 价格科。"),
    ("component.import",
     {"kind": "votes", "import_id": 4, "filename": "votes.csv", "rows": 2, "stored": 2, "replaced": 0, "exempt_skipped": 1},
     "导入评分数据“投票汇总”（文件“votes.csv”）：共 2 行，保存 2 条，替换原有 0 条；1 行属于免评科室，未导入。"),
    ("component.entry_add",
     {"kind": "bonus", "entry_id": 3, "section_id": 13, "section": "县发改局 价格科",
      "values": {"kind": "commendation", "level": "national", "matter": "全国先进集体", "date": "2021-05-01"},
      "note": "文件第 3 号"},
     "录入一条加分项数据：县发改局 · 价格科，表彰 国家级 “全国先进集体”（2021-05-01）；备注：文件第 3 号。"),
    ("component.entry_add",
     {"kind": "votes", "entry_id": 3, "section_id": 13, "section": "县发改局 价格科",
      "values": {"round": "H1", "satisfied": 30, "basic": 5, "unsatisfied": 1}, "note": ""},
     "录入一条投票汇总数据：县发改局 · 价格科，上半年（H1） 满意 30 票、基本满意 5 票、不满意 1 票。"),
    ("component.entry_add",
     {"kind": "platform", "entry_id": 3, "section_id": 13, "section": "县发改局 价格科",
      "values": {"platform": "hotline", "item": "conduct", "deduction": 3.0, "role": "lead"}, "note": ""},
     "录入一条平台办理数据：县发改局 · 价格科，投诉举报 作风投诉 扣 3 分（主办）。"),
    ("component.entry_add",
     {"kind": "inspection", "entry_id": 3, "section_id": 13, "section": "县发改局 价格科",
      "values": {"kind": "case", "serious": False, "person": "deputy", "current_year": True, "date": "2021-03-15"},
      "note": ""},
     "录入一条监督检查数据：县发改局 · 价格科，立案查处，副职，发生在评议年度，日期 2021-03-15。"),
    ("component.entry_delete",  # section 77 is gone since: the name the detail kept
     {"kind": "bonus", "entry_id": 3, "section_id": 77, "section": "县发改局 价格科",
      "values": {"kind": "commendation", "level": "national", "matter": "全国先进集体", "date": "2021-05-01",
                 "source_row": None, "note": "", "created_at": "2021-05-02 01:30:00.123456+00:00", "import_id": None,
                 "created_by_id": 1}},
     "删除一条加分项数据：县发改局 价格科，表彰 国家级 “全国先进集体”（2021-05-01）（原于 2021-05-02 09:30 手工录入）。"),
    ("component.entry_delete",
     {"kind": "votes", "entry_id": 3, "section_id": 13, "section": "县发改局 价格科",
      "values": {"round": "H2", "satisfied": 1, "basic": 0, "unsatisfied": 2, "source_row": 7, "note": "",
                 "created_at": "2021-05-02 01:30:00", "import_id": 4, "created_by_id": None}},
     "删除一条投票汇总数据：县发改局 · 价格科，下半年（H2） 满意 1 票、基本满意 0 票、不满意 2 票（原由文件导入，第 7 行）。"),
    ("supervisor.save",
     {"unit_id": 5, "unit": "县发改局",
      "scores": [{"section_id": 13, "section": "价格科", "score": 4.5}, {"section_id": 14, "section": "综合科", "score": 4.0}]},
     "填报县发改局的主管单位评分：价格科 4.5 分、综合科 4.0 分。"),
    ("inspection.unreported_add",  # voting/components/deductions.py
     {"section_id": 14, "section": "县发改局 综合科", "unit_id": 5, "unit": "县发改局", "is_enforcement": True,
      "found_on": "2021-08-16", "reason": "年中检查发现未列入名单", "points": 1.0, "section_ids": [13, 14],
      "batch": "ab" * 16},
     "补录应报未报科室：县发改局 · 综合科（2021-08-16 发现，管理执法类），列入参评；本单位参评科室各扣监督检查 1 分："
     "县发改局 · 价格科、县发改局 · 综合科。事由：年中检查发现未列入名单。"),
    ("inspection.unreported_undo",
     {"section_id": 77, "section": "县发改局 综合科", "unit_id": 5, "unit": "县发改局", "found_on": "2021-08-16",
      "reason": "年中检查发现未列入名单", "events": 2, "section_ids": [13, 77]},
     "撤销应报未报补录：从参评科室名单中删除县发改局 综合科，并删除它引起的 2 条应报未报扣分（原于 2021-08-16 补录，事由：年中检查发现未列入名单）。"),
    ("inspection.discretionary_add",
     {"unit_id": 5, "unit": "县发改局", "points": 2.5, "reason": "材料迟报两周", "date": "2021-10-08",
      "section_ids": [13, 14], "batch": "cd" * 16},
     "记录县发改局的影响评议工作扣分：每个科室扣监督检查 2.5 分，科室：县发改局 · 价格科、县发改局 · 综合科。事由：材料迟报两周。"),
    ("inspection.discretionary_undo",
     {"unit_id": 5, "unit": "县发改局", "points": 2.0, "reason": "材料迟报两周", "section_ids": [13],
      "batch": "cd" * 16},
     "撤销县发改局的影响评议工作扣分（每个科室 2 分），科室：县发改局 · 价格科。原事由：材料迟报两周。"),
    ("result.decide",
     {"section_id": 13, "section": "县发改局 价格科", "result": None, "proposed": "satisfied", "previous": None,
      "reason": "县评议领导小组会议决定"},
     "将县发改局 · 价格科的评议结果由系统拟定的“满意单位”改为“不列入任何名单”。理由：县评议领导小组会议决定。"),
    ("result.decide",
     {"section_id": 13, "section": "县发改局 价格科", "result": "satisfied", "proposed": "satisfied",
      "previous": "unsatisfied", "reason": "复议后维持"},
     "确认县发改局 · 价格科的评议结果为“满意单位”（与系统拟定相同），此前的决定为“不满意单位”。理由：复议后维持。"),
    ("result.decide",
     {"section_id": 13, "section": "县发改局 价格科", "result": "unsatisfied", "proposed": None, "previous": None,
      "reason": "群众反映集中"},
     "将县发改局 · 价格科的评议结果由系统拟定的“不列入任何名单”改为“不满意单位”。理由：群众反映集中。"),
    ("result.undo",
     {"section_id": 13, "section": "县发改局 价格科", "undone_result": None, "undone_reason": "复议"},
     "撤销对县发改局 · 价格科的评议结果决定（原决定为“不列入任何名单”，理由：复议），恢复为系统拟定的结果。"),
    ("consequence.done",
     {"key": "rectify|县发改局|价格科", "kind": "rectify", "measure": "限期整改", "unit": "县发改局", "section": "价格科",
      "done_on": "2022-02-20", "done_by": "县发改局", "note": "整改报告已报送"},
     "登记结果运用措施完成：县发改局 · 价格科，“限期整改”，2022-02-20 由县发改局完成；备注：整改报告已报送。"),
    ("consequence.done",
     {"key": "party_score|县发改局|", "kind": "party_score", "measure": "党建考核", "unit": "县发改局", "section": None,
      "done_on": "2022-01-10", "done_by": "机关工委", "note": ""},
     "登记结果运用措施完成：县发改局，“党建考核”，2022-01-10 由机关工委完成。"),
    ("consequence.undo",
     {"key": "rectify|县发改局|价格科", "kind": "rectify", "measure": "限期整改", "unit": "县发改局", "section": "价格科",
      "done_on": "2022-02-20", "done_by": "县发改局", "note": ""},
     "撤销结果运用措施的完成登记：县发改局 · 价格科，“限期整改”（原登记为 2022-02-20 由县发改局完成）。"),
    ("candidates.fix",
     {"candidates": 2, "lists": {"satisfied_candidate": 1, "previous_unsatisfied": 1}, "section_ids": [11, 13]},
     "确定候选名单：共 2 个科室（满意候选 1 个、上年不满意单位 1 个）：县公安局 · 户政科、县发改局 · 价格科。"
     "此后候选名单不再随日常评分变动。"),
    ("candidates.unfix", {"candidates": 110},
     "撤销已确定的候选名单（共 110 个科室），候选名单重新随日常评分变动。"),
    ("campaign.settings",
     {"changes": {"sms_daily_cap": {"from": 5, "to": 6}, "weight_basic": {"from": 0.6, "to": 0.5}}},
     "修改活动设置：每个号码每天短信上限由 5 改为 6；规则设置 weight_basic 由 0.6 改为 0.5。"),
    ("round.create",
     {"round_id": 3, "round": "H1", "closes_at": "2099-06-30T10:00:00+00:00", "sample_size": 5, "seed": 42,
      "mode": "link", "reminder_after_hours": 48},
     "建立上半年服务对象调查（H1）：邀请方式为短信链接，每个科室抽样 5 人，抽样种子 42，截止 2099-06-30 18:00，"
     "未评价者在短信发出 48 小时后提醒一次。"),
    ("round.open",
     {"round_id": 3, "round": "H1", "sections": 1, "invitations": 5, "sections_without_list": 362},
     "开始上半年服务对象调查（H1）：向 1 个科室的服务对象发出 5 份邀请，短信写入发件箱；"
     "362 个科室还没有服务对象名单，名单报送后补发邀请。"),
    ("round.remind", {"round_id": 3, "round": "H1", "reminders": 7},
     "为上半年服务对象调查（H1）中尚未评价的 7 位服务对象写入提醒短信。"),
    ("round.close", {"round_id": 3, "round": "H1", "voided_messages": 5},
     "结束上半年服务对象调查（H1），不再接受评价；尚未发出的 5 条短信作废。"),
    ("round.close", {"round_id": 3, "round": "H1", "voided_messages": 0},
     "结束上半年服务对象调查（H1），不再接受评价。"),
    ("round.cancel",  # round 4 is not there to look up: its kind as the detail kept it
     {"round_id": 4, "round": "H2", "invitations": 5, "voided_messages": 3, "sent_messages": 2},
     "取消下半年服务对象调查（H2）：已有邀请 5 份，已发出短信 2 条，尚未发出的 3 条短信作废。"),
    ("round.invite_late", {"round_id": 3, "round": "H1", "sections": 2, "invitations": 10},
     "上半年服务对象调查（H1）开始后报送名单的 2 个科室：补发 10 份邀请，短信写入发件箱。"),
    ("online.create", {"round_id": 1, "seed": 7, "closes_at": "2021-12-20T10:00:00+00:00"},
     "建立网络评价：截止 2021-12-20 18:00，服务对象抽样种子 7。"),
    ("online.import", {"round_id": 1, "filename": "代表.csv", "rows": 30, "by_kind": {"deputy": 10, "cadre": 20}},
     "导入网络评价代表名单（文件“代表.csv”）：共 30 人（两代表一委员 10 人、基层干部 20 人）。"),
    ("online.sample",
     {"round_id": 1, "seed": 7, "added": 56, "service_objects": 56, "representatives": 30, "target": 56},
     "从候选科室的服务对象名单中抽取 56 名服务对象作为网络评价人（抽样种子 7）；现有服务对象 56 名、代表 30 名，"
     "规则要求服务对象 56 名。"),
    ("online.issue", {"round_id": 1, "accounts": 86}, "向 86 位网络评价人发出账号和一次性密码短信。"),
    ("online.resend", {"round_id": 1, "evaluator_id": 21, "failed_logins": 2},
     "为评价人账号 ab12cd（基层干部）重发密码短信（此前已输错密码 2 次，重发不清零）。"),
    ("online.reissue", {"round_id": 1, "evaluator_id": 21, "was_locked": True},
     "重新开通评价人账号 ab12cd（基层干部）的账号（原已锁定）：解除锁定，输错次数清零，重发密码短信。"),
    ("online.remind", {"reminded": 40}, "向 40 位尚未投票的网络评价人发送提醒短信。"),
    ("online.close", {"ballots": 80, "evaluators": 86}, "结束网络评价：86 位评价人，共收到 80 张选票。"),
    ("online.publish", {"satisfied": 10, "unsatisfied": 10, "most_unsatisfied": 3},
     "公布评议结果：满意单位 10 个、不满意单位 10 个、最不满意单位 3 个。"),
    ("user.unlock", {"user_id": 2, "username": "zhang", "failed_logins": 5, "locked": True},
     "解锁工作人员账号 zhang（此前已锁定，输错密码 5 次），可以重新登录。"),
    ("user.end_sessions", {"user_id": 2, "username": "zhang"}, "结束工作人员账号 zhang 在所有设备上的登录。"),
    ("users.liaisons", {"accounts": ["lly001", "lly002"]}, "为 2 个单位建立联络员账号：lly001、lly002。"),
    ("retention.erase",
     {"service_objects": 100, "invitations": 50, "comments": 3, "evaluators": 86, "console_messages": 0,
      "sms_messages": 200},
     "按保存期限删除个人信息（服务对象 100 条、调查邀请 50 条、留言 3 条、评价人 86 条、演示短信 0 条、短信 200 条）："
     "姓名、号码等已清空，票数、评分和名单不变。"),
    ("user.phone", {"user": "lly001", "unit": "县发改局", "set": True}, "登记联络员账号 lly001（县发改局）的手机号码。"),
    ("deadline.set",
     {"kind": "list_h1", "what": "H1 轮服务对象名单", "due_on": "2021-06-10", "remind_days": 3,
      "previous": {"due_on": "2021-06-05", "remind_days": 2}},
     "设定“H1 轮服务对象名单”的报送截止日期为 2021-06-10，截止前 3 天提醒尚未报送的单位联络员（原为 2021-06-05，提前 2 天）。"),
    ("deadline.remind",
     {"kind": "supervisor", "what": "主管单位评价", "due_on": "2021-11-10", "units": 3, "messages": 4,
      "unreachable": ["县林业局"]},
     "提醒尚未报送“主管单位评价”的单位（截止 2021-11-10）：向 3 个单位的联络员发出 4 条短信；"
     "未能提醒的单位（联络员没有登记手机号码）：县林业局。"),
    ("commitment.save", {"unit_id": 5, "unit": "县发改局", "section_id": 13, "section": "价格科",
                         "fields": ["服务承诺", "主要负责人联系电话"]},
     "填写县发改局 · 价格科的服务承诺表（附件4）：修改了服务承诺、主要负责人联系电话。"),
    ("commitment.save", {"unit_id": 99, "unit": "县林业局", "section_id": 77, "section": "办公室", "fields": ["办公地址"]},
     "填写县林业局 · 办公室的服务承诺表（附件4）：修改了办公地址。"),
    ("staff_contact.add", {"unit_id": 5, "unit": "县发改局", "contact_id": 7, "role": "主要负责人", "section_id": 13,
                           "section": "价格科", "fields": ["姓名", "手机号码"]},
     "添加县发改局工作人员联系表（附件5）中的主要负责人（价格科，编号 7）：填写了姓名、手机号码。"),
    ("staff_contact.edit", {"unit_id": 5, "unit": "县发改局", "contact_id": 7, "role": "分管领导", "section_id": None,
                            "section": None, "fields": ["手机号码"]},
     "修改县发改局工作人员联系表（附件5）中的分管领导（编号 7）：修改了手机号码。"),
    ("staff_contact.delete", {"unit_id": 5, "unit": "县发改局", "contact_id": 7, "role": "联络员", "section_id": None,
                              "section": None},
     "删除县发改局工作人员联系表（附件5）中的联络员（编号 7）。"),
    ("commitment.import", {"filename": "承诺.xlsx", "unit_ids": [5], "unit_names": ["县发改局"], "rows": 3, "removed": 1},
     "导入服务承诺表（附件4）（文件“承诺.xlsx”）：替换县发改局的表，共 3 行；文件中没有的 1 个科室的表已删除。"),
    ("staff_contact.import", {"filename": "全县.xlsx", "unit_ids": [1, 2, 3, 4], "unit_names": ["甲", "乙", "丙", "丁"],
                              "rows": 40, "removed": 12},
     "导入工作人员联系表（附件5）（文件“全县.xlsx”）：替换 4 个单位的表，共 40 行；原有的 12 人已替换。"),
    ("integrity.check",
     {"found": 6, "new": 4, "refreshed": 1, "kept": 1, "reopened": 0, "removed": 1, "stale": 1,
      "by_kind": {"staff_phone": 1, "sequential_run": 5}, "objects": 1200, "votes": 36, "last_year": 2020},
     "运行名单真实性检查（服务对象 1200 人、网上评价 36 票，对照 2020 年度名单）：发现 6 条提示，其中新增 4 条、更新 1 条、"
     "已有结论且证据未变 1 条、证据变化重新待核查 0 条；2 条不再发现（已有结论的 1 条保留）。核查提示不改变评分。"),
    ("integrity.check",
     {"found": 0, "new": 0, "refreshed": 0, "kept": 0, "reopened": 0, "removed": 0, "stale": 0, "by_kind": {},
      "objects": 0, "votes": 0, "last_year": None},
     "运行名单真实性检查（服务对象 0 人、网上评价 0 票，没有去年的名单可对照）：发现 0 条提示，其中新增 0 条、更新 0 条、"
     "已有结论且证据未变 0 条、证据变化重新待核查 0 条。核查提示不改变评分。"),
    ("integrity.decide",
     {"flag_id": 4, "section_id": 13, "section": "县发改局 价格科", "round": "H1", "kind": "sequential_run",
      "status": "cleared", "previous": "open", "note": "经核实为同一企业的总机分机"},
     "将县发改局 · 价格科 H1 轮的“连号”核查提示标记为“已排除”（原为“待核查”）。核查说明：经核实为同一企业的总机分机。"),
    ("assessment.create",
     {"assessment": "2023年窗口考核", "scheme": "晋江市行政服务中心窗口季度绩效考核", "source": "builtin:jinjiang",
      "examples": True},
     "建立窗口绩效考核“2023年窗口考核”，方案“晋江市行政服务中心窗口季度绩效考核”（内置方案 jinjiang），载入示例数据。"),
    ("assessment.create",
     {"assessment": "本中心考核", "scheme": "本中心方案", "source": "方案.yaml", "examples": False},
     "建立窗口绩效考核“本中心考核”，方案“本中心方案”（文件“方案.yaml”）。"),
    ("assessment.entities", {"assessment": "本中心考核", "filename": "对象.xlsx", "rows": 25, "added": 3},
     "导入考核“本中心考核”的考核对象（文件“对象.xlsx”）：共 25 个，其中新增 3 个。"),
    ("assessment.entities",
     {"assessment": "本中心考核", "filename": "对象.csv", "rows": 3, "added": 0,
      "units": [{"entity": "公安局窗口", "unit": "县发改局", "previous_unit": None},
                {"entity": "税务局窗口", "unit": None, "previous_unit": "县税务局"}]},
     "导入考核“本中心考核”的考核对象（文件“对象.csv”）：共 3 个，其中新增 0 个；"
     "所属单位有变动的对象：公安局窗口（县发改局，原为不指定）、税务局窗口（不指定单位，原为县税务局）。"),
    ("assessment.entities", {"assessment": "本中心考核", "filename": "对象.csv", "rows": 3, "added": 0, "units": []},
     "导入考核“本中心考核”的考核对象（文件“对象.csv”）：共 3 个，其中新增 0 个；所属单位没有变动。"),
    ("assessment.unit_link",
     {"assessment": "本中心考核", "entity": "公安局窗口", "unit_id": 5, "unit": "发改局", "previous_unit": "县公安局"},
     "将考核“本中心考核”的对象“公安局窗口”指定给单位“县发改局”（原为“县公安局”）："
     "该单位的联络员可以查看这个对象的得分、名次和加减分明细。"),
    ("assessment.unit_link",
     {"assessment": "本中心考核", "entity": "公安局窗口", "unit_id": 99, "unit": "县林业局", "previous_unit": None},
     "将考核“本中心考核”的对象“公安局窗口”指定给单位“县林业局”：该单位的联络员可以查看这个对象的得分、名次和加减分明细。"),
    ("assessment.unit_unlink", {"assessment": "本中心考核", "entity": "公安局窗口", "unit_id": 5, "unit": "县发改局"},
     "取消考核“本中心考核”的对象“公安局窗口”所属的单位“县发改局”：该单位的联络员不再能查看这个对象的得分。"),
    ("assessment.period_open", {"assessment": "本中心考核", "period": "2023-Q1"}, "建立考核“本中心考核”的期间 2023-Q1。"),
    ("assessment.records_import", {"assessment": "本中心考核", "period": "2023-Q1", "filename": "一季度.csv",
                                   "records": 201},
     "导入考核“本中心考核”2023-Q1 的记录（文件“一季度.csv”）：共 201 条。"),
    ("assessment.record_add",
     {"assessment": "本中心考核", "period": "2023-03", "record": 7, "entity": "公安局窗口", "indicator": "领导带班",
      "count": 2, "value": "", "points": "", "note": "3月2日、9日未带班"},
     "录入考核“本中心考核”2023-03 的一条记录：公安局窗口，领导带班，数量 2，说明：3月2日、9日未带班。"),
    ("assessment.record_delete",
     {"assessment": "本中心考核", "period": "2023-03", "record": 7, "entity": "公安局窗口", "indicator": "other",
      "count": 1, "value": "", "points": -1500, "note": "通报", "reason": "重复录入"},
     "删除考核“本中心考核”2023-03 的一条记录：公安局窗口，other，分值 -1.5，说明：通报；原因：重复录入。"),
    ("assessment.period_close", {"assessment": "本中心考核", "period": "2023-03"},
     "结束考核“本中心考核”的期间 2023-03：此后记录不能再改，除非重新开启。"),
    ("assessment.period_reopen", {"assessment": "本中心考核", "period": "2023-03", "reason": "补录投诉"},
     "重新开启考核“本中心考核”的期间 2023-03；原因：补录投诉。"),
    ("rating_code.issue", {"code_id": 4, "kind": "section", "section_id": 13, "section": "县发改局 · 价格科"},
     "为科室“县发改局 · 价格科”生成评议二维码（编号 4）。"),
    ("rating_code.issue", {"code_id": 5, "kind": "case", "entity_id": 2, "entity": "公安局窗口"},
     "为窗口“公安局窗口”的一件办件生成评议二维码（编号 5）。"),
    ("rating_code.revoke", {"code_id": 4, "kind": "section", "section_id": 99, "section": "县林业局 · 办公室",
                            "reason": "二维码被覆盖"},
     "停用科室“县林业局 · 办公室”的评议二维码（编号 4），此后扫码不能再评价；原因：二维码被覆盖。"),
    ("rating_code.reissue", {"code_id": 4, "new_code_id": 6, "kind": "window", "entity_id": 2, "entity": "公安局窗口",
                             "reason": "重新生成二维码"},
     "重新生成窗口“公安局窗口”的评议二维码：停用编号 4，新编号 6，原二维码此后不能再评价；原因：重新生成二维码。"),
    ("followup.callback", {"case_id": 3, "rating_id": 7, "section_id": 13, "section": "县发改局 · 价格科",
                           "overdue": False},
     "记录差评（编号 3，科室“县发改局 · 价格科”）的回访情况。"),
    ("followup.rectify", {"case_id": 3, "rating_id": 7, "entity_id": 2, "entity": "公安局窗口", "overdue": True,
                          "unit_id": 5},
     "记录差评（编号 3，窗口“公安局窗口”，已超过整改时限）的整改情况。"),
    ("followup.close", {"case_id": 3, "rating_id": 7, "section_id": 13, "section": "县发改局 · 价格科",
                        "overdue": False, "rectified": True},
     "办结差评（编号 3，科室“县发改局 · 价格科”）。"),
    ("followup.close", {"case_id": 4, "rating_id": 8, "entity_id": 2, "entity": "公安局窗口", "overdue": True,
                        "rectified": False},
     "办结差评（编号 4，窗口“公安局窗口”，已超过整改时限），未记录整改情况。"),
    ("rating.complaint_decide", {"rating_id": 7, "section_id": 13, "section": "县发改局 · 价格科", "level": 1,
                                 "valid": True, "reason": "窗口确有推诿", "entry_id": 3, "deduction": 1.0},
     "认定投诉（编号 7，科室“县发改局 · 价格科”）为有效，扣网络监督投诉平台 1 分；理由：窗口确有推诿。"),
    ("rating.complaint_decide", {"rating_id": 8, "section_id": 13, "section": "县发改局 · 价格科", "level": 2,
                                 "valid": False, "reason": "与窗口服务无关", "entry_id": None, "deduction": None},
     "认定投诉（编号 8，科室“县发改局 · 价格科”）为无效，不扣分；理由：与窗口服务无关。"),
    ("rating.complaint_undo", {"rating_id": 7, "section_id": 13, "section": "县发改局 · 价格科", "level": 1,
                               "was_valid": True, "was_reason": "窗口确有推诿", "was_decided_by": "admin",
                               "entry_id": 3, "reason": "复核后不属实"},
     "撤销投诉（编号 7，科室“县发改局 · 价格科”）的认定（原认定为有效，删除其扣分）；原因：复核后不属实。"),
    ("rating.complaint_unit_text", {"rating_id": 7, "section_id": 13, "section": "县发改局 · 价格科", "level": 1,
                                    "default": False, "length": 13},
     "修改投诉（编号 7，科室“县发改局 · 价格科”）的单位可见内容：改写为 13 个字。"),
    ("rating.complaint_unit_text", {"rating_id": 7, "section_id": 13, "section": "县发改局 · 价格科", "level": 1,
                                    "default": True, "length": 20},
     "恢复投诉（编号 7，科室“县发改局 · 价格科”）的单位可见内容为自动隐去个人信息后的原文。"),
    ("rating.served_import", {"filename": "办件数.xlsx", "rows": 24, "added": 20, "replaced": 4,
                              "months": ["2024-05", "2024-06"], "assessment": "本中心考核", "windows": 24, "sections": 0},
     "导入考核“本中心考核”的窗口办件数（文件“办件数.xlsx”，2024-05至2024-06）：共 24 行，新增 20 个，替换 4 个。"),
    ("rating.served_import", {"filename": "s.csv", "rows": 3, "added": 3, "replaced": 0, "months": ["2024-05"],
                              "assessment": None, "windows": 0, "sections": 3},
     "导入科室办件数（文件“s.csv”，2024-05）：共 3 行，新增 3 个，替换 0 个。"),
    ("rating.hotline_import", {"filename": "12345.xlsx", "rows": 8, "added": 8, "replaced": 0,
                               "months": ["2024-05"], "units": 4},
     "导入12345热线回访满意情况（文件“12345.xlsx”，2024-05）：4 个单位，共 8 行，新增 8 个，替换 0 个。"),
    ("assessment.records_fill", {"assessment": "恩阳区考核", "period": "2024-H1", "months": ["2024-01", "2024-06"],
                                 "indicators": ["a1"], "written": 30, "replaced": 2, "kept": 1, "no_data": 3,
                                 "zero": 0, "refused": 0},
     "从好差评数据为考核“恩阳区考核”的期间 2024-H1 取数：写入 30 条记录，替换原取数 2 条；未取数：已手工录入 1 项，无数据 3 项。"),
]


@pytest.mark.parametrize("action, detail, sentence", SENTENCES, ids=[f"{a}-{n}" for n, (a, _, _) in enumerate(SENTENCES)])
def test_each_action_reads_as_a_sentence(action, detail, sentence):
    assert str(said(action, detail)) == sentence


def recorded_actions() -> set[str]:
    """Every action the code records: each `audit.record(session, "…"` in voting/ and
    sms/, and the round steps that survey/round_views.py names for its `_act`."""
    root = Path(__file__).resolve().parents[2]
    found = set()
    for path in [*(root / "voting").rglob("*.py"), *(root / "sms").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'audit\.record\(\s*\w+,\s*"([\w.]+)"', text))
        if path.name == "round_views.py" and path.parent.name == "survey":
            found |= set(re.findall(r'"(round\.\w+)",\s*lambda', text))
    return found


def test_every_recorded_action_has_a_label_a_describer_and_a_sentence_here():
    actions = recorded_actions()
    assert {"sections.import", "result.decide", "round.cancel", "online.publish", "retention.erase"} <= actions
    assert actions <= set(audit.ACTION_LABELS), actions - set(audit.ACTION_LABELS)
    assert actions <= set(audit_text.DESCRIBERS), actions - set(audit_text.DESCRIBERS)
    assert actions <= {action for action, _, _ in SENTENCES}


def test_a_null_result_is_no_list_at_all():
    decided = str(said("result.decide", {"section_id": 13, "result": None, "proposed": "most_unsatisfied",
                                         "previous": None, "reason": "领导小组决定"}))
    assert "“不列入任何名单”" in decided and "最不满意单位" in decided and "None" not in decided and "null" not in decided
    generic = str(said("result.later", {"result": None, "proposed": "satisfied"}))
    assert generic == "result.later。决定：不列入任何名单；系统拟定：满意单位。"


def test_names_in_place_of_ids_and_what_the_detail_kept_for_a_deleted_section():
    detail = {"section_id": 13, "section": "县发改局 价格科", "undone_result": "satisfied", "undone_reason": "复议"}
    assert "县发改局 · 价格科" in str(said("result.undo", detail))
    gone = str(said("result.undo", {**detail, "section_id": 999}))
    assert "县发改局 价格科" in gone and "999" not in gone
    unknown = str(said("candidates.fix", {"candidates": 1, "lists": {}, "section_ids": [999]}))
    assert "已删除的科室（编号 999）" in unknown


def test_a_long_list_is_counted_with_a_link_to_the_entry_page():
    listed = [{"section_id": 100 + n, "objects": 10, "penalized": 0} for n in range(37)]
    detail = {"import_id": 9, "filename": "全县.xlsx", "round": "H2", "rows_read": 370, "stored": 370, "duplicates": 0,
              "sections": listed, "all_penalized_reported": []}
    described = said("objects.import", detail)
    assert str(described) == ("导入下半年（H2）服务对象名单（文件“全县.xlsx”）：读取 370 行，保存 370 人，重复 0 行（未重复保存）；"
                              "涉及科室共 37 个。")
    assert links(described) == [audit_text.Link("查看", "entry", 8, aside=True),
                                audit_text.Link("查看导入结果", "object_import", 9, 1, aside=True)]
    fixed = said("candidates.fix", {"candidates": 110, "lists": {"satisfied_candidate": 110},
                                    "section_ids": list(range(100, 210))})
    assert str(fixed) == "确定候选名单：共 110 个科室（满意候选 110 个）。此后候选名单不再随日常评分变动。"
    assert links(fixed) == [audit_text.Link("查看", "entry", 8, aside=True)]
    liaisons = said("users.liaisons", {"accounts": [f"lly{n:03}" for n in range(60)]})
    assert str(liaisons) == "为 60 个单位建立联络员账号。" and links(liaisons)[0].target == "entry"


def test_a_round_names_its_page_while_it_is_there():
    opened = said("round.open", {"round_id": 3, "round": "H1", "sections": 1, "invitations": 5, "sections_without_list": 0})
    assert links(opened) == [audit_text.Link("上半年服务对象调查（H1）", "survey_round", 3, 1)]
    cancelled = said("round.cancel", {"round_id": 4, "round": "H2", "invitations": 0, "voided_messages": 0,
                                      "sent_messages": 0})
    assert links(cancelled) == []


def test_an_entry_of_another_shape_reads_key_by_key():
    """A detail its describer cannot read (an older entry, a hand-made one) falls back
    to every key by its label, the ids still as names, the values in words."""
    odd = said("result.decide", {"=cmd": "x", "reason": "=1+1", "section_ids": [11, 12]})
    assert str(odd) == "记录评议结果决定。=cmd：x；理由：=1+1；科室：县公安局 · 户政科、县公安局 · 治安科。"
    new = said("someday.new", {"section_id": 13, "unit_id": 5, "round_id": 3, "closes_at": "2021-12-20T10:00:00+00:00",
                               "ok": True, "gone": False, "note": None, "rows": [{"a": 1}, {"a": 2}],
                               "counts": {"added": 2}})
    assert str(new) == ("someday.new。科室：县发改局 · 价格科；单位：县发改局；轮次编号：3；截止时间：2021-12-20 18:00；ok：是；"
                        "gone：否；备注：无；行数：2 项；counts：新增 2。")
    assert str(said("online.sample", {})) == "抽取服务对象评价人。"


ODD_VALUES = [None, [], {}, "", "x", 0, -3, 2.5, True, [None, {"a": []}], {"section_id": "x"}, [1, "a", None],
              [{"section_id": [1]}], "2021-13-45T99:00", 10**30]
KEYS = {key for _, detail, _ in SENTENCES for key in detail} | {"sections", "scores", "values", "lists", "changes"}


@pytest.mark.parametrize("action", [*sorted(audit_text.DESCRIBERS), "no.such"])
def test_no_detail_breaks_the_page(action):
    """Whatever an entry holds (an older shape, a hand-made one), it is described and
    listed: the page and the export never fail on one entry."""
    details = [{key: value for key in KEYS} for value in ODD_VALUES]
    details += [{key: value} for key in KEYS for value in ODD_VALUES]
    for detail in [*details, None, ["not", "a", "dict"], "text"]:
        odd = entry(action, detail)
        assert str(audit_text.describe(odd, names()))
        audit_text.listing(odd, names())
        assert audit_text.stored(odd) or not odd.detail


def test_listings_name_what_an_entry_touched():
    found = names()
    imported = entry("objects.import", {"import_id": 9, "filename": "a.csv", "round": "H1", "rows_read": 3, "stored": 3,
                                        "duplicates": 0, "all_penalized_reported": [12],
                                        "sections": [{"section_id": 11, "objects": 1, "penalized": 0},
                                                     {"section_id": 12, "objects": 2, "penalized": 2}]})
    assert audit_text.listing(imported, found) == audit_text.Listing(
        "涉及的科室（2 个）", ["科室", "服务对象", "处罚对象", "确认已全部上报处罚对象"],
        [["县公安局 · 户政科", "1", "0", "否"], ["县公安局 · 治安科", "2", "2", "是"]])
    scored = entry("supervisor.save", {"unit_id": 5, "unit": "县发改局", "scores": [
        {"section_id": 13, "section": "价格科", "score": 4.5}, {"section_id": 77, "section": "旧科", "score": 3}]})
    assert audit_text.listing(scored, found).rows == [["县发改局 · 价格科", "4.5"], ["旧科", "3.0"]]
    units = entry("assessment.entities", {"assessment": "本中心考核", "rows": 2, "added": 0, "units": [
        {"entity": "公安局窗口", "unit": "县公安局", "previous_unit": None}]})
    assert audit_text.listing(units, found) == audit_text.Listing(
        "所属单位有变动的对象（1 个）", ["对象", "单位", "原单位"], [["公安局窗口", "县公安局", "不指定单位"]])
    changed = entry("sections.import", {"removed_sections": ["县发改局 价格科"], "changed_sections": ["县公安局 户政科"]})
    assert audit_text.listing(changed, found).rows == [["县发改局 价格科", "删除"], ["县公安局 户政科", "修改"]]
    fixed = entry("candidates.fix", {"candidates": 2, "lists": {}, "section_ids": [14, 11]})
    assert audit_text.listing(fixed, found) == audit_text.Listing(
        "涉及的科室（2 个）", ["科室"], [["县发改局 · 综合科"], ["县公安局 · 户政科"]])
    assert audit_text.listing(entry("online.issue", {"accounts": 3}), found) is None


def test_actors_in_words():
    assert audit_text.actor_label("cli") == "命令行（cli）"
    assert audit_text.actor_label("system") == "系统（system）"
    assert audit_text.actor_label("admin") == "admin"


# ---- names looked up from the database -------------------------------------------------------------

def section_id(db, unit: str, section: str) -> int:
    return db.scalar(select(Section.id).join(Unit).where(Unit.name == unit, Section.name == section))


def test_names_are_looked_up_in_a_few_queries_and_times_in_the_app_zone(app, db, campaign):
    ids = list(db.scalars(select(Section.id).order_by(Section.id).limit(60)))
    unit = db.scalar(select(Unit).where(Unit.name == FDG))
    price = section_id(db, FDG, PRICE)
    found = [
        *(audit.record(db, "result.decide", actor="admin", campaign_id=campaign.id, detail={
            "section_id": sid, "section": "", "result": None, "proposed": None, "previous": None, "reason": "r"})
          for sid in ids[:50]),
        audit.record(db, "candidates.fix", actor="admin", campaign_id=campaign.id,
                     detail={"candidates": 60, "lists": {}, "section_ids": ids}),
        audit.record(db, "supervisor.save", actor="admin", campaign_id=campaign.id,
                     detail={"unit_id": unit.id, "unit": "", "scores": [{"section_id": price, "section": PRICE, "score": 4.5}]}),
        audit.record(db, "online.create", actor="admin", campaign_id=campaign.id,
                     detail={"round_id": 1, "seed": 1, "closes_at": "2021-12-20T10:00:00+00:00"}),
    ]
    db.commit()
    statements = []
    engine = app.extensions["pingyi.engine"]
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        with app.app_context():
            looked_up = audit_text.look_up(db, found, local_time)
            described = [str(audit_text.describe(e, looked_up)) for e in found]
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert len(statements) == 2  # sections, units: one each for the whole page
    assert set(looked_up.sections) == set(ids[:50])  # the long list is only counted
    first = db.execute(select(Unit.name, Section.name).join(Unit).where(Section.id == ids[0])).one()
    assert described[0] == f"确认{first[0]} · {first[1]}的评议结果为“不列入任何名单”（与系统拟定相同）。理由：r。"
    assert described[50] == "确定候选名单：共 60 个科室。此后候选名单不再随日常评分变动。"
    assert described[51] == f"填报{FDG}的主管单位评分：{PRICE} 4.5 分。"
    assert described[52] == "建立网络评价：截止 2021-12-20 18:00，服务对象抽样种子 1。"
    whole = audit_text.look_up(db, found[50:51], local_time, whole_lists=True)
    assert set(whole.sections) == set(ids)


# ---- the page ------------------------------------------------------------------------------------------

def cells(html: str) -> dict[int, str]:
    """Each row's 内容 cell by the entry's id."""
    return {int(i): cell for i, cell in re.findall(
        r'<tr>\s*<td>(\d+)</td>.*?<td class="said">(.*?)</td>', html, re.DOTALL)}


def test_the_page_shows_names_and_words_not_ids(admin_client, db, campaign):
    response = admin_client.post("/office/import/objects", content_type="multipart/form-data",
                                 data={"round_kind": "H1", "section": "0", "file": (BytesIO(objects_csv()), "对象.csv")})
    assert response.status_code == 302
    imported = db.scalar(select(AuditEntry).where(AuditEntry.action == "objects.import"))
    price = section_id(db, FDG, PRICE)
    decided = audit.record(db, "result.decide", actor="admin", campaign_id=campaign.id, detail={
        "section_id": price, "section": f"{FDG} {PRICE}", "result": None, "proposed": "satisfied", "previous": None,
        "reason": "县评议领导小组会议决定"})
    fixed = audit.record(db, "candidates.fix", actor="admin", campaign_id=campaign.id, detail={
        "candidates": 5, "lists": {"satisfied_candidate": 5},
        "section_ids": list(db.scalars(select(Section.id).order_by(Section.id).limit(5)))})
    db.commit()
    html = admin_client.get("/office/audit/").get_data(as_text=True)
    shown = cells(html)
    assert shown[decided.id].startswith(f"将{FDG} · {PRICE}的评议结果由系统拟定的“满意单位”改为“不列入任何名单”。")
    assert shown[imported.id].startswith("导入上半年（H1）服务对象名单（文件“对象.csv”）：读取 8 行，保存 8 人")
    assert f"涉及科室：{FDG} · {PRICE}。" in shown[imported.id]
    assert f'（<a href="/office/imports/{imported.detail["import_id"]}">查看导入结果</a>）' in shown[imported.id]
    assert f'共 5 个科室（满意候选 5 个）（<a href="/office/audit/{fixed.id}#audit-listing">查看</a>）' in shown[fixed.id]
    for entry_id, cell in shown.items():
        assert f'<a class="muted" href="/office/audit/{entry_id}">详情</a>' in cell
        text = re.sub(r"<[^>]+>", "", cell)
        assert "编号" not in text and "null" not in text and "None" not in text, text
        assert not re.search(r"section_id|import_id|[{}\[\]]", text), text
    assert str(price) not in re.sub(r"<[^>]+>", "", shown[decided.id])
    assert "<td>系统（system）</td>" in html  # the campaign fixture's list, applied by a service call
    assert audit.verify(db).ok  # shown in words, stored as it was


def test_the_entry_page_lists_the_sections_by_name(admin_client, db, campaign):
    ids = list(db.scalars(select(Section.id).order_by(Section.id).limit(5)))
    expected = [f"{u} · {s}" for u, s in db.execute(
        select(Unit.name, Section.name).join(Unit).where(Section.id.in_(ids)).order_by(Section.id))]
    fixed = audit.record(db, "candidates.fix", actor="admin", campaign_id=campaign.id,
                         detail={"candidates": 5, "lists": {"satisfied_candidate": 5}, "section_ids": ids})
    db.commit()
    html = admin_client.get(f"/office/audit/{fixed.id}").get_data(as_text=True)
    assert "<h1>确定候选名单</h1>" in html
    assert "确定候选名单：共 5 个科室（满意候选 5 个）" in html and "2021 年度" in html
    listing = html.split('id="audit-listing"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<td>(.*?)</td>", listing) == expected
    stored = html.split('id="audit-stored"', 1)[1]
    assert f"[{', '.join(map(str, ids))}]" in stored and fixed.hash in stored and fixed.prev_hash in stored
    assert admin_client.get("/office/audit/999999").status_code == 404
    assert admin_client.get("/office/audit/99999999999").status_code == 404


def at(moment: datetime):
    """Record with the log's clock at `moment`."""
    return lambda: moment


def test_filters_narrow_the_log_and_survive_paging(admin_client, db, campaign, monkeypatch):
    late_evening = datetime(2021, 5, 1, 15, 30, tzinfo=timezone.utc)  # 23:30 on 1 May in the office
    past_midnight = datetime(2021, 5, 1, 16, 30, tzinfo=timezone.utc)  # 00:30 on 2 May in the office
    monkeypatch.setattr(audit, "utcnow", at(late_evening))
    imports = [audit.record(db, "component.import", actor="admin", campaign_id=campaign.id,
                            detail={"kind": "votes", "filename": f"v{n}.csv", "rows": 1, "stored": 1, "replaced": 0,
                                    "exempt_skipped": 0}).id for n in range(55)]
    monkeypatch.setattr(audit, "utcnow", at(past_midnight))
    decisions = [audit.record(db, "result.undo", actor="zhang", campaign_id=campaign.id,
                              detail={"section_id": section_id(db, FDG, PRICE), "section": "",
                                      "undone_result": None, "undone_reason": "r"}).id for _ in range(2)]
    other = audit.record(db, "component.import", actor="zhang", detail={"kind": "bonus", "filename": "b.csv", "rows": 1,
                                                                      "stored": 1, "replaced": 0, "exempt_skipped": 0}).id
    db.commit()

    def listed(query: str) -> list[int]:
        response = admin_client.get(f"/office/audit/?{query}")
        assert response.status_code == 200, query
        return [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)</td>", response.get_data(as_text=True))]

    assert listed("action=result.undo") == decisions[::-1]
    assert listed("actor=zhang") == [other, *decisions[::-1]]
    assert listed("actor=zhang&action=component.import") == [other]
    assert listed(f"actor=zhang&campaign={campaign.id}") == decisions[::-1]
    # Local dates: 00:30 on 2 May is the 2nd in the office, though the 1st in UTC.
    assert listed("from=2021-05-02&to=2021-05-02") == [other, *decisions[::-1]]
    assert listed("from=2021-05-01&to=2021-05-01&actor=zhang") == []
    assert listed("to=2021-05-01") == imports[::-1][:50]
    assert listed("actor=nobody") == []
    assert "没有符合条件的记录" in admin_client.get("/office/audit/?actor=nobody").get_data(as_text=True)

    # The filters stay on the pager's links and on the export's.
    html = admin_client.get("/office/audit/?action=component.import&actor=admin&to=2021-05-01").get_data(as_text=True)
    assert "共 <b>55</b> 条记录符合所选条件，第 1 / 2 页" in html
    assert '<option value="component.import" selected>导入评分数据</option>' in html
    assert 'value="admin"' in html and 'value="2021-05-01"' in html
    following = re.search(r'<a href="([^"]+)">下一页', html).group(1).replace("&amp;", "&")
    assert following.startswith("/office/audit/?") and "page=2" in following
    assert {"action=component.import", "actor=admin", "to=2021-05-01"} <= set(following.split("?", 1)[1].split("&"))
    assert listed(following.split("?", 1)[1]) == imports[::-1][50:]
    export = re.search(r'id="export-audit" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert export.startswith("/office/export/audit.xlsx?") and "actor=admin" in export and "page" not in export


@pytest.mark.parametrize("query, named", [
    ("from=2021-13-01", "from"), ("to=yesterday", "to"), ("from=2021-5-1", "from"), ("from=２０２１-05-01", "from"),
    ("from=2021-05-02&to=2021-05-01", "from"), ("page=abc", "page"), ("page=-1", "page"), ("campaign=x", "campaign"),
])
def test_bad_parameters_are_a_400_naming_them(admin_client, db, query, named):
    paths = ("/office/audit/",) if named == "page" else ("/office/audit/", "/office/export/audit.xlsx")  # no pages
    for path in paths:
        response = admin_client.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        assert f"参数 {named}" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["action=no.such", "action=" + "x" * 300, "actor=" + "名" * 100, "from=0001-01-01",
                                   "to=9999-12-31", "page=99999", "page=0", "campaign=99999", "action=&actor=&from=&to="])
def test_odd_but_harmless_parameters_show_the_page(admin_client, db, campaign, query):
    response = admin_client.get(f"/office/audit/?{query}")
    assert response.status_code == 200, query
    assert "审计日志完整" in response.get_data(as_text=True)


def test_a_page_past_the_last_shows_the_last(admin_client, db, campaign):
    html = admin_client.get("/office/audit/?page=7").get_data(as_text=True)
    assert len(re.findall(r"<tr>\s*<td>\d+</td>", html)) == 1  # the campaign fixture's entry


def test_only_admins_and_auditors_read_the_log_and_its_entries(client, db, campaign):
    unit = db.scalar(select(Unit).where(Unit.name == FDG))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    for role in (Role.operator, Role.auditor, Role.admin):
        users.create_user(db, role.value, PASSWORD, role)
    db.commit()
    first = db.scalar(select(AuditEntry.id))
    pages = ("/office/audit/?action=sections.import", f"/office/audit/{first}")
    for path in pages:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    for username, status in (("liaison", 403), ("operator", 403), ("auditor", 200), ("admin", 200)):
        login(client, username)
        for path in pages:
            assert client.get(path).status_code == status, (username, path)
        client.post("/logout")


def test_the_export_carries_the_sentence_next_to_the_details(admin_client, db, campaign):
    price = section_id(db, FDG, PRICE)
    decided = audit.record(db, "result.decide", actor="admin", campaign_id=campaign.id, detail={
        "section_id": price, "section": f"{FDG} {PRICE}", "result": None, "proposed": "satisfied", "previous": None,
        "reason": "县评议领导小组会议决定"})
    audit.record(db, "component.import", actor="zhang", detail={"filename": "votes.csv"})
    fixed = audit.record(db, "candidates.fix", actor="admin", campaign_id=campaign.id, detail={
        "candidates": 5, "lists": {}, "section_ids": list(db.scalars(select(Section.id).order_by(Section.id).limit(5)))})
    db.commit()
    book, _ = download(admin_client, "/office/export/audit.xlsx")
    header, rows = table(book["审计日志"])
    assert header == ["编号", "时间", "操作人", "操作", "年度", "内容", "详情"]
    by_id = {row[0]: row for row in rows}
    assert by_id[decided.id][2:6] == [
        "admin", "记录评议结果决定", 2021,
        f"将{FDG} · {PRICE}的评议结果由系统拟定的“满意单位”改为“不列入任何名单”。理由：县评议领导小组会议决定。"]
    assert f"科室编号：{price}" in by_id[decided.id][6] and "决定：null" in by_id[decided.id][6]  # the record as stored
    assert by_id[1][2] == "系统（system）" and by_id[1][5].startswith("导入参评科室名单：名单共 363 个科室")
    assert by_id[fixed.id][5] == "确定候选名单：共 5 个科室。此后候选名单不再随日常评分变动。"  # no "(查看)" link

    book, _ = download(admin_client, "/office/export/audit.xlsx?actor=admin&action=result.decide")
    sheet = book["审计日志"]
    _, rows = table(sheet)
    assert [row[0] for row in rows] == [decided.id]
    assert "筛选：操作：记录评议结果决定；操作人：admin。" in notes(sheet)
