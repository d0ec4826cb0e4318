"""Excel downloads of the review office's long tables (voting/office/exports.py):
each the table of one page, with that page's role check and its rows (a liaison's
own unit only where the page does so), read only (GET), never cached.

- /office/export/sections.xlsx: 参评科室 (the sections page)
- /office/export/sections/<id>/<round>.xlsx: one section's service-object list for a
  round as the section's page shows it (phones masked): how a liaison checks what the
  unit sent
- /office/export/rounds/<id>.xlsx: a survey round's progress by section and by unit
  (a liaison: the own unit's sections, counts of answers below 5 as "<5", no rate,
  as the round's page)
- /office/export/online.xlsx: 网络评价参评情况 (turnout per category, the monitor page)
- /office/export/evaluators.xlsx: the online round's evaluators (the online page:
  phones masked, never a password)
- /office/export/phone.xlsx: 电话调查 (phones masked, even for the operators who may
  reveal one on its page); ?unit= as the page
- /office/export/outbox.xlsx: 短信发件箱 (phones masked, texts with their secrets masked),
  the latest OUTBOX_ROWS messages, and the counts by status
- /office/export/audit.xlsx: 审计日志, ?campaign= as the page; the latest AUDIT_ROWS
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, send_file
from flask_login import current_user

from sms.phones import mask_phone
from sms.templates import scrub
from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.core.errors import NotFoundError
from voting.lists.models import Campaign, RoundKind
from voting.outbox.models import OutboxStatus
from voting.staff.models import Role
from voting.audit import audit
from voting.office import audit_text
from voting.online import ballots, evaluators
from voting.lists import campaigns, history, objects
from voting.outbox import outbox
from voting.survey import rounds
from voting.lists.sections import get_section, unit_section_ids
from voting.office.exports import PERCENT_FORMAT, XLSX, Column, Sheet, workbook
from voting.office.audit_views import DETAIL_LABELS, READERS, filters as audit_filters
from voting.web.common import OFFICE, STAFF, current_campaign, local_time, own_unit_id, query_number
from voting.survey.phone_views import CALLERS
from voting.survey.rounds import UNIT_MIN_COUNT

bp = Blueprint("exports", __name__, url_prefix="/office/export")

# The longest tables are cut to their latest rows, so that an export stays well within
# a web request (gunicorn's 30 s): openpyxl, without lxml, writes some 40,000 cells a
# second, and 10,000 messages with their texts took 3 s to read and write. A note
# above the table says when rows were left out.
OUTBOX_ROWS = 10_000
AUDIT_ROWS = 20_000
CHUNK = 2_000  # rows read at a time from a paged service
T = TypeVar("T")


def _download(sheets: list[Sheet], name: str, year: int | None):
    at = datetime.now(ZoneInfo(current_app.config["TIMEZONE"]))
    data = workbook(sheets, year=year, at=at)
    response = send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                         download_name=f"{name}-{at:%Y%m%d-%H%M}.xlsx")
    response.headers["Cache-Control"] = "no-store"  # names and masked numbers: no copy in a cache
    return response


def _unit_scope() -> int | None:
    """A liaison's unit (403 for a liaison left without one); None for the office."""
    unit_id = own_unit_id()
    if unit_id is None and current_user.role == Role.liaison:
        abort(403)
    return unit_id


def _number(value: object) -> int | None:
    """A list number as the page shows it: none for a missing (NaN) one."""
    return None if value is None or value != value else int(value)


def _every(fetch: Callable[[int], tuple[list[T], int]]) -> tuple[Iterator[T], int]:
    """Every row of a paged service (`fetch(offset)`: a page of CHUNK rows from there,
    and how many in all), read a page at a time as the sheet is written; and how many."""
    first, total = fetch(0)

    def rows() -> Iterator[T]:
        page, offset = first, 0
        while page:
            yield from page
            offset += len(page)
            page = fetch(offset)[0] if offset < total else []

    return rows(), total


def _cut(shown: int, total: int) -> list[str]:
    """The note of a table cut to its latest rows."""
    return [f"只含最近的 {shown} 条（共 {total} 条）。"] if total > shown else []


# ---- 参评科室 -------------------------------------------------------------------------------


@bp.get("/sections.xlsx")
@roles_required(*STAFF)
def sections():
    """The sections page's columns: numbers, names, 管理执法类, 免评 / 上年不满意, and per
    round the size of the section's list (未报 for a section that owes one)."""
    session = get_session()
    campaign = current_campaign()
    statuses = history.section_statuses(session, campaign)
    unit_id = _unit_scope()
    if unit_id is not None:
        statuses = statuses[statuses["unit_id"] == unit_id]
    lists = objects.section_lists(session, campaign)
    columns = [Column("单位序号", "0"), Column("单位"), Column("科室序号", "0"), Column("科室"), Column("类别"),
               Column("状态")]
    kinds = rounds.year_rounds(statuses)  # the 复评 only when last year had 不满意单位
    for kind in kinds:
        columns += [Column(f"{kind.value} 服务对象", "0"), Column(f"{kind.value} 全部上报处罚对象")]

    def rows() -> Iterator[list]:
        for s in statuses.to_dict("records"):
            row = [_number(s["unit_no"]), s["unit"], _number(s["section_no"]), s["section"],
                   "管理执法类" if s["is_enforcement"] else "",
                   "、".join(tag for tag, on in (("免评", s["exempt"]), ("上年不满意", s["previous_unsatisfied"])) if on)]
            for kind in kinds:
                found = lists.get((s["id"], kind))
                if found is not None:
                    row += [found.objects, "已确认" if found.all_penalized_reported else ""]
                else:
                    owes = not s["exempt"] and (kind.scored or s["previous_unsatisfied"])
                    row += ["未报" if owes else "", ""]
            yield row

    sheet = Sheet("参评科室", f"参评科室（{len(statuses)} 个）", columns, rows())
    return _download([sheet], f"参评科室-{campaign.year}", campaign.year)


@bp.get("/sections/<int:section_id>/<round_kind>.xlsx")
@roles_required(*STAFF)
def section_objects(section_id: int, round_kind: str):
    """One section's list for one round: the rows as stored, in the file's order, with
    the file's own row numbers, phones masked (the page's columns)."""
    session = get_session()
    campaign = current_campaign()
    section = get_section(session, section_id)
    if section is None or section.unit.campaign_id != campaign.id or round_kind not in RoundKind.__members__:
        abort(404)
    unit_id = _unit_scope()
    if unit_id is not None and section.unit_id != unit_id:
        abort(403)
    kind = RoundKind(round_kind)
    listed = objects.section_objects(session, section_id, kind)
    columns = [Column("原行号", "0"), Column("姓名"), Column("单位(职务)"), Column("手机号码"), Column("事项内容"),
               Column("处罚对象")]
    rows = ([o.source_row, o.name, o.org_title, mask_phone(o.phone), o.matter, "是" if o.penalized else "否"]
            for o in listed)
    title = f"{section.unit.name} · {section.name} · {kind.value} 服务对象（{len(listed)} 人）"
    sheet = Sheet("服务对象", title, columns, rows, notes=["手机号码隐去中间四位。"])
    return _download([sheet], f"服务对象-{section.unit.name}-{section.name}-{kind.value}", campaign.year)


# ---- 调查进度 -------------------------------------------------------------------------------

_COUNTS = ("invited", "sent", "delivered", "failed", "opened")
_ANSWERS = ("voted", "satisfied", "basic", "unsatisfied")  # a unit sees these below 5 as "<5"
_HEADERS = {"invited": "邀请", "sent": "已发出", "delivered": "已送达", "failed": "失败", "opened": "已打开",
            "voted": "已评价", "satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}


def _answers(value: int, unit_view: bool) -> int | str:
    """A count of answers as a unit may see it (the round page's `unit_count`)."""
    return f"<{UNIT_MIN_COUNT}" if unit_view and int(value) < UNIT_MIN_COUNT else int(value)


def _progress_columns(first: list[Column], unit_view: bool) -> list[Column]:
    columns = first + [Column(_HEADERS[c], "0") for c in (*_COUNTS, "voted")]
    if not unit_view:
        columns.append(Column("回复率", PERCENT_FORMAT))
    return columns + [Column(_HEADERS[c], "0") for c in _ANSWERS[1:]]


def _progress_row(first: list, figures: dict, unit_view: bool) -> list:
    row = first + [int(figures[c]) for c in _COUNTS] + [_answers(figures["voted"], unit_view)]
    if not unit_view:
        row.append(figures["voted"] / figures["invited"] if figures["invited"] else None)
    return row + [_answers(figures[c], unit_view) for c in _ANSWERS[1:]]


@bp.get("/rounds/<int:round_id>.xlsx")
@roles_required(*OFFICE, Role.liaison)
def round_progress(round_id: int):
    """The round page's table by section (rounds.section_progress), and its sums by
    unit. A liaison gets the own unit's sections only, the counts of answers below
    UNIT_MIN_COUNT as "<5" and no reply rate, as on the page."""
    session = get_session()
    campaign = current_campaign()
    unit_id = _unit_scope()
    survey = rounds.get_round(session, campaign, round_id)
    progress = rounds.section_progress(session, survey)
    if unit_id is not None:
        own = unit_section_ids(session, unit_id)
        progress = progress[progress["section_id"].isin(own)]
    unit_view = unit_id is not None
    records = progress.to_dict("records")
    by_unit: dict[str, dict] = {}  # in the sections' order: the units' own
    for r in records:
        sums = by_unit.setdefault(r["unit"], {"sections": 0, **dict.fromkeys((*_COUNTS, *_ANSWERS), 0)})
        sums["sections"] += 1
        for column in (*_COUNTS, *_ANSWERS):
            sums[column] += int(r[column])
    totals = {column: sum(s[column] for s in by_unit.values()) for column in (*_COUNTS, *_ANSWERS)}
    rate = f"（回复率 {100 * totals['voted'] / totals['invited']:.1f}%）" if totals["invited"] and not unit_view else ""
    summary = (f"合计：邀请 {totals['invited']}，已发出 {totals['sent']}，已送达 {totals['delivered']}，"
               f"发送失败 {totals['failed']}，已打开 {totals['opened']}，"
               f"已评价 {_answers(totals['voted'], unit_view)}{rate}。")
    notes = [f"邀请方式：{survey.mode.label}；每个科室抽样 {survey.sample_size} 人；状态：{survey.status.label}。", summary]
    if unit_view:
        notes.insert(0, f"只含本单位参评科室；少于 {UNIT_MIN_COUNT} 的评价人数显示为“<{UNIT_MIN_COUNT}”，回复率不显示，以免推知个人的评价。")
    name = f"{survey.kind.title}（{survey.kind.value}）"
    sheets = [
        Sheet("各科室进度", f"{name} · 各科室进度", _progress_columns([Column("单位"), Column("科室")], unit_view),
              [_progress_row([r["unit"], r["section"]], r, unit_view) for r in records], notes),
        Sheet("各单位进度", f"{name} · 各单位进度", _progress_columns([Column("单位"), Column("科室数", "0")], unit_view),
              [_progress_row([unit, sums["sections"]], sums, unit_view) for unit, sums in by_unit.items()], notes),
    ]
    return _download(sheets, f"调查进度-{survey.kind.value}-{campaign.year}", campaign.year)


# ---- 网络评价 -------------------------------------------------------------------------------


def _online_round(campaign: Campaign):
    online = ballots.online_round(get_session(), campaign)
    if online is None:
        raise NotFoundError(f"{campaign.year} 年度尚未设立网络评价，没有可导出的内容。")
    return online


@bp.get("/online.xlsx")
@roles_required(*OFFICE)
def online_turnout():
    """网络评价参评情况: counts per evaluator category and in total (evaluators.turnout), as
    the monitor page: never who has voted."""
    session = get_session()
    campaign = current_campaign()
    online = _online_round(campaign)
    columns = [Column("评价人类别"), Column("评价人", "0"), Column("已提交", "0"), Column("参评率", PERCENT_FORMAT),
               Column("已提醒", "0")]
    rows = [[t.label, t.evaluators, t.voted, t.rate, t.reminded] for t in evaluators.turnout(session, online)]
    when = [f"截止 {local_time(online.closes_at)}"]
    if online.opened_at:
        when.append(f"{local_time(online.opened_at)} 开始")
    if online.closed_at:
        when.append(f"{local_time(online.closed_at)} 结束")
    notes = [f"状态：{online.status.label}；{';'.join(when)}。只含人数，不含谁已评价、谁未评价。"]
    sheet = Sheet("参评情况", "网络评价各类评价人参评情况", columns, rows, notes)
    return _download([sheet], f"网络评价参评情况-{campaign.year}", campaign.year)


@bp.get("/evaluators.xlsx")
@roles_required(*OFFICE)
def online_evaluators():
    """The online page's evaluator list (evaluators.pool): category, name, phone
    masked, account name, its SMS, when the password went out, wrong passwords and the
    page's state (已投票 / 已锁定). Never a password or its hash."""
    session = get_session()
    campaign = current_campaign()
    online = _online_round(campaign)
    columns = [Column("类别"), Column("姓名"), Column("手机"), Column("账号"), Column("账号短信"), Column("密码发出"),
               Column("输错次数", "0"), Column("状态")]
    pool, total = _every(lambda offset: evaluators.pool(session, online, limit=CHUNK, offset=offset))
    rows = ([r.kind.label, r.name, mask_phone(r.phone), r.login, r.sms.label if r.sms else "未发", r.issued_at,
             r.failed_logins, "已投票" if r.voted else "已锁定" if r.locked else ""] for r in pool)
    sheet = Sheet("评价人", f"网络评价评价人（{total} 人）", columns, rows,
                  ["手机号码隐去中间四位；不含密码。"])
    return _download([sheet], f"网络评价评价人-{campaign.year}", campaign.year)


# ---- 电话调查 -------------------------------------------------------------------------------


@bp.get("/phone.xlsx")
@roles_required(*CALLERS)
def phone_list():
    """The phone survey's list (rounds.unanswered), every page of it, ?unit= as the
    page; the numbers masked: the full one is shown only on one invitation's page,
    after "拨打"."""
    session = get_session()
    campaign = current_campaign()
    where = rounds.PhoneFilter(unit_id=query_number("unit"))
    columns = [Column("单位"), Column("科室"), Column("服务对象"), Column("事项"), Column("手机"), Column("短信")]
    listed, total = _every(lambda offset: rounds.unanswered(session, campaign, where, limit=CHUNK, offset=offset))
    rows = ([r.unit, r.section, r.name, r.matter, mask_phone(r.phone), r.sms.label if r.sms else "—"] for r in listed)
    sheet = Sheet("电话调查", f"电话调查：待电话调查的邀请（{total} 份）", columns, rows,
                  ["进行中的调查轮次里尚未评价的邀请（短信未送达或未回复）。手机号码隐去中间四位。"])
    return _download([sheet], f"电话调查-{campaign.year}", campaign.year)


# ---- 短信发件箱 -----------------------------------------------------------------------------


def _message_text(message) -> str:
    """A message's text with whatever opens a vote or a login masked (sms.templates.scrub):
    an outbox row keeps the secret until its message is sent (a waiting or a voided
    one still holds it)."""
    scrubbed = scrub(message.template, message.params or {})
    return scrubbed[1] if scrubbed is not None else message.text


@bp.get("/outbox.xlsx")
@roles_required(*OFFICE)
def outbox_messages():
    """The outbox page's columns for the latest OUTBOX_ROWS messages (phones masked), with
    each text (secrets masked); and the count of every message by status."""
    session = get_session()
    try:
        campaign = current_campaign()
    except NotFoundError:
        campaign = None
    campaign_id = campaign.id if campaign else None
    counts = outbox.status_counts(session, campaign_id)
    total = sum(counts.values())
    messages = outbox.recent(session, campaign_id, limit=OUTBOX_ROWS)
    columns = [Column("编号", "0"), Column("手机"), Column("模板"), Column("状态"), Column("尝试", "0"),
               Column("下次发送"), Column("发送时间"), Column("服务商"), Column("最后错误"), Column("未送达原因"),
               Column("内容", width=60)]
    rows = ([m.id, mask_phone(m.phone), m.template, m.status.label, m.attempts,
             m.not_before if m.status is OutboxStatus.pending else None, m.sent_at, m.provider or "", m.last_error,
             m.delivery_error, _message_text(m)]
            for m in messages)
    notes = ["手机号码隐去中间四位；短信内容中的链接、评价码和密码已隐去。", *_cut(len(messages), total)]
    year = campaign.year if campaign else None
    return _download([
        Sheet("短信", f"短信发件箱（{total} 条）", columns, rows, notes),
        Sheet("状态统计", "短信发件箱 · 各状态条数", [Column("状态"), Column("条数", "0")],
              [[status.label, n] for status, n in counts.items()] + [["合计", total]]),
    ], "短信发件箱" + (f"-{year}" if year else ""), year)


# ---- 审计日志 -------------------------------------------------------------------------------


def _detail(detail: dict) -> str:
    """The audit page's 详情: "label:value" pairs, a value that is not text as JSON."""
    def shown(value: object) -> str:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return "；".join(f"{DETAIL_LABELS.get(key, key)}：{shown(value)}" for key, value in (detail or {}).items())


@bp.get("/audit.xlsx")
@roles_required(*READERS)
def audit_log():
    """The audit page's columns for every entry (the latest AUDIT_ROWS), newest first,
    filtered as the page (?campaign=, action=, actor=, from=, to=): each entry's
    sentence (voting/office/audit_text.py) next to its details as stored; the chain's
    verification above the table."""
    session = get_session()
    chosen = audit_filters()
    found = audit.entries(session, **chosen.arguments(), page=1, per_page=AUDIT_ROWS)
    names = audit_text.look_up(session, found.entries, local_time)
    years = dict(campaigns.years(session))
    verification = audit.verify(session)
    checked = (f"审计日志完整：共 {verification.checked} 条，哈希链逐条核对无误。" if verification.ok
               else f"审计日志已被破坏：{verification.broken.message}。")
    columns = [Column("编号", "0"), Column("时间"), Column("操作人"), Column("操作"), Column("年度", "0"),
               Column("内容", width=80), Column("详情", width=80)]
    rows = ([e.id, e.at, audit_text.actor_label(e.actor), audit.action_label(e.action), years.get(e.campaign_id),
             str(audit_text.describe(e, names)), _detail(e.detail)]
            for e in found.entries)
    campaign_id = chosen.campaign_id
    year = years.get(campaign_id) if campaign_id is not None else None
    which = "全部年度" if campaign_id is None else f"{year} 年度" if year else "所选评议活动"
    title = f"审计日志（{which}，{found.total} 条）"
    narrowed = [f"操作：{audit.action_label(chosen.action)}" if chosen.action else "",
                f"操作人：{chosen.actor}" if chosen.actor else "",
                f"日期：{chosen.since or '…'} 至 {chosen.until or '…'}" if chosen.since or chosen.until else ""]
    notes = [checked, *_cut(len(found.entries), found.total)]
    if any(narrowed):
        notes.append("筛选：" + "；".join(n for n in narrowed if n) + "。")
    sheet = Sheet("审计日志", title, columns, rows, notes)
    return _download([sheet], "审计日志" + (f"-{year}" if year else ""), None)
