"""The append-only audit log: every score-affecting action, each entry
chained to the one before by its hash (models.AuditEntry).

`record` appends one entry inside the caller's transaction (the caller commits, so an
action and its entry land together or not at all); `verify` walks the chain and names
the first broken entry; `entries` pages the log for the audit page. On PostgreSQL a
trigger (migration b32274280f18) refuses any UPDATE, DELETE or TRUNCATE of the table."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from voting.audit.models import AuditEntry
from voting.core.models import utcnow

GENESIS = "0" * 64
# PostgreSQL: one appender at a time (a transaction-scoped advisory lock), so that two
# transactions never both read the same head; the unique prev_hash refuses a fork anyway.
_LOCK_KEY = 0x61756469  # "audi"


def _moment(value: datetime) -> str:
    """The entry's time as hashed: UTC, microseconds (SQLite hands times back naive)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, campaign_id: int | None, detail: dict) -> str:
    content = json.dumps(
        {"prev": prev_hash, "at": _moment(at), "actor": actor, "action": action, "campaign": campaign_id, "detail": detail},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def record(
    session: Session, action: str, *, actor: str, campaign_id: int | None = None, detail: dict | None = None,
) -> AuditEntry:
    """Append an entry (in the session's transaction). `actor`: the staff user's
    username, or "cli", "system". `detail`: JSON-able facts of the action (ids, file
    names, counts, reasons), never a phone number, password or token."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    head = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS
    detail = json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str))  # as the JSON column gives it back
    at = utcnow()
    entry = AuditEntry(
        at=at, actor=actor, action=action, campaign_id=campaign_id, detail=detail, prev_hash=head,
        hash=entry_hash(head, at, actor, action, campaign_id, detail),
    )
    session.add(entry)
    session.flush()
    return entry


# What each action is called on the audit page. An action not listed shows its own name.
ACTION_LABELS = {
    "sections.import": "导入参评科室名单",
    "history.import": "导入往年评议结果",
    "objects.import": "导入服务对象名单",
    "component.import": "导入评分数据",
    "component.entry_add": "录入一条评分数据",
    "component.entry_delete": "删除一条评分数据",
    "supervisor.save": "填报主管单位评分",
    "inspection.unreported_add": "补录应报未报科室",  # voting/components/deductions.py
    "inspection.unreported_undo": "撤销应报未报补录",
    "inspection.discretionary_add": "记录影响评议工作扣分",
    "inspection.discretionary_undo": "撤销影响评议工作扣分",
    "commitment.save": "填写服务承诺表",
    "commitment.import": "导入服务承诺表",
    "staff_contact.add": "在工作人员联系表中添加一人",
    "staff_contact.edit": "修改工作人员联系表中的一人",
    "staff_contact.delete": "从工作人员联系表中删除一人",
    "staff_contact.import": "导入工作人员联系表",
    "result.decide": "记录评议结果决定",
    "result.undo": "撤销评议结果决定",
    "consequence.done": "登记结果运用措施完成",
    "consequence.undo": "撤销结果运用措施的完成登记",
    "candidates.fix": "确定候选名单",
    "candidates.unfix": "撤销候选名单",
    "campaign.settings": "修改活动设置",
    "round.create": "建立调查轮次",
    "round.open": "开始调查（发出邀请）",
    "round.remind": "发送提醒短信",
    "round.close": "结束调查",
    "round.cancel": "取消调查",
    "round.invite_late": "补发邀请（名单在开始后报送）",
    "online.create": "建立网络评价轮次",
    "online.import": "导入网络评价人员名单",
    "online.sample": "抽取服务对象评价人",
    "online.issue": "发放网络评价账号",
    "online.resend": "重发网络评价账号短信",
    "online.reissue": "重新开放网络评价账号",
    "online.remind": "发送网络评价提醒",
    "online.close": "结束网络评价",
    "online.publish": "公布评议结果",
    "retention.erase": "按保存期限删除个人信息",
    "user.unlock": "解锁工作人员账号",
    "user.end_sessions": "结束账号的全部登录",
    "users.liaisons": "建立各单位联络员账号",
    "user.phone": "登记联络员手机号码",
    "deadline.set": "设定报送截止日期",
    "deadline.remind": "提醒联络员报送",
    "integrity.check": "运行名单真实性检查",
    "integrity.decide": "记录名单核查结论",
    "assessment.create": "建立窗口绩效考核",
    "assessment.entities": "导入考核对象",
    "assessment.period_open": "建立考核期间",
    "assessment.records_import": "导入考核记录",
    "assessment.record_add": "录入一条考核记录",
    "assessment.record_delete": "删除一条考核记录",
    "assessment.period_close": "结束考核期间",
    "assessment.period_reopen": "重新开启考核期间",
    "assessment.unit_link": "指定考核对象的所属单位",
    "assessment.unit_unlink": "取消考核对象的所属单位",
    "rating_code.issue": "生成评议二维码",
    "rating_code.revoke": "停用评议二维码",
    "rating_code.reissue": "重新生成评议二维码",
    "followup.callback": "记录差评回访",
    "followup.rectify": "记录差评整改",
    "followup.close": "办结差评",
    "rating.complaint_decide": "认定评议二维码投诉",
    "rating.complaint_undo": "撤销投诉认定",
    "rating.complaint_unit_text": "修改投诉的单位可见内容",
    "rating.served_import": "导入办件数",
    "rating.hotline_import": "导入12345热线回访",
    "assessment.records_fill": "从好差评数据取数",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


@dataclass
class BrokenEntry:
    """The first entry at which the chain does not hold."""

    id: int
    message: str  # in Chinese, for the page and the command line


@dataclass
class Verification:
    checked: int  # entries walked, up to and including the broken one
    broken: BrokenEntry | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def get_entry(session: Session, entry_id: int) -> AuditEntry | None:
    return session.get(AuditEntry, entry_id)


def verify(session: Session) -> Verification:
    """Walk the log in id order: each entry's hash must be that of its content, and its
    prev_hash the hash of the entry before it (GENESIS for the first). Stops at the
    first entry that breaks either. (A chain cannot show that entries were cut off its
    end: compare the count with an earlier verification for that.)"""
    checked = 0
    prev_id, prev_hash = None, GENESIS
    # Columns, not entities: what the database holds now, not what the session remembers.
    columns = (AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.campaign_id,
               AuditEntry.detail, AuditEntry.prev_hash, AuditEntry.hash)
    for entry in session.execute(select(*columns).order_by(AuditEntry.id).execution_options(yield_per=1000)):
        checked += 1
        if entry.hash != entry_hash(entry.prev_hash, entry.at, entry.actor, entry.action, entry.campaign_id, entry.detail):
            return Verification(checked, BrokenEntry(entry.id, f"第 {entry.id} 条记录的内容与其哈希不符（记录被改动）"))
        if entry.prev_hash != prev_hash:
            if prev_id is None:
                message = f"第 {entry.id} 条记录是现存的第一条，但它的前一哈希不是链首（之前有记录被删除）"
            else:
                message = f"第 {entry.id} 条记录的前一哈希与第 {prev_id} 条不符（中间有记录被删除或插入）"
            return Verification(checked, BrokenEntry(entry.id, message))
        prev_id, prev_hash = entry.id, entry.hash
    return Verification(checked)


@dataclass
class EntryPage:
    entries: list[AuditEntry]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(math.ceil(self.total / self.per_page), 1)


def entries(
    session: Session, *, campaign_id: int | None = None, action: str | None = None, actor: str | None = None,
    since: datetime | None = None, until: datetime | None = None, page: int = 1, per_page: int = 50,
) -> EntryPage:
    """One page of the log, newest first; with `campaign_id`, that campaign's entries;
    with `action` or `actor`, those of that action or that user; with `since` (from,
    inclusive) or `until` (before, exclusive), those of that time (aware datetimes)."""
    query = select(AuditEntry)
    if campaign_id is not None:
        query = query.where(AuditEntry.campaign_id == campaign_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    # In UTC: SQLite keeps the times as UTC text without a zone, and compares them as text.
    if since is not None:
        query = query.where(AuditEntry.at >= since.astimezone(timezone.utc))
    if until is not None:
        query = query.where(AuditEntry.at < until.astimezone(timezone.utc))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = min(max(page, 1), max(math.ceil(total / per_page), 1))  # past the last page: the last
    found = session.scalars(query.order_by(AuditEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    return EntryPage(list(found), total, page, per_page)
