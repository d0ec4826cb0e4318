"""The audit log page (issue 5): the chain's verification, then the entries, newest
first. For the review office's administrators and the auditors; read only."""
from __future__ import annotations

import json

from flask import Blueprint, render_template
from sqlalchemy import select

from voting.auth import roles_required
from voting.db import get_session
from voting.models import Campaign, Role
from voting.services import audit
from voting.views.common import query_number

bp = Blueprint("audit", __name__, url_prefix="/office/audit")
READERS = (Role.admin, Role.auditor)
PER_PAGE = 50
# The details' keys as the page shows them; a key not listed shows as it is stored.
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
    "reminder_after_hours": "提醒间隔(小时)",
}


def _shown(value) -> str:  # noqa: ANN001
    """A detail's value as text: strings as they are, the rest as JSON (Chinese kept)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@bp.get("/")
@roles_required(*READERS)
def index():
    session = get_session()
    campaign_id = query_number("campaign")
    page = audit.entries(session, campaign_id=campaign_id, page=query_number("page", 1),
                         per_page=PER_PAGE)
    campaigns = session.execute(select(Campaign.id, Campaign.year).order_by(Campaign.year.desc())).all()
    return render_template(
        "audit.html", verification=audit.verify(session), page=page, campaign_id=campaign_id,
        campaigns=campaigns, years=dict(campaigns), label=audit.action_label, key_label=DETAIL_LABELS.get,
        shown=_shown,
    )
