"""The follow-up of a 差评 (voting/ratings/followups.py), on SQLite and PostgreSQL: the
office's call-back, the rectification by the rated place's own unit only, closing after
the call-back, the citizen's verdict once, the overdue flags and listing, and the audit
log's sentences, with no phone number or complaint text in it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from voting.audit import audit
from voting.audit.models import AuditEntry
from voting.core.clock import short_local_time
from voting.core.errors import DomainError, NotFoundError
from voting.lists.models import Unit
from voting.office import audit_text
from voting.ratings import codes
from voting.ratings import followups as f
from voting.ratings import ratings as r
from voting.ratings.models import FollowupCase

from tests.ratings.support import places

PHONE = "13812345678"
# Monday 1 June 2026, 10:00 in Shanghai: due Monday 8 June (1–5 June and 8 June are working days, the 5th is 8 June).
MORNING = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)
DUE = datetime(2026, 6, 8, 16, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(db):
    """A 差评 of the section (unit 县发改局), one of the window (linked to no unit), and
    another unit."""
    section, window = places(db)
    other = Unit(campaign_id=section.unit.campaign_id, name="县林业局", number=2)
    db.add(other)
    db.flush()
    section_code = codes.issue(db, actor="admin", section_id=section.id)
    window_code = codes.issue(db, actor="admin", entity_id=window.id)
    first = r.submit_rating(db, section_code, 1, ["attitude"], "工作人员态度生硬。", phone=PHONE, device="a" * 20,
                            network="203.0.113.7", now=MORNING)
    second = r.submit_rating(db, window_code, 2, ["slow"], "", device="b" * 20, network="203.0.113.7",
                             now=MORNING + timedelta(days=1))
    db.commit()
    cases = {c.rating_id: c for c in db.scalars(select(FollowupCase))}
    return {"section_case": cases[first.rating_id], "window_case": cases[second.rating_id], "unit": section.unit,
            "other": other, "window": window}


def sentences(db) -> list[str]:
    found = list(db.scalars(select(AuditEntry).where(AuditEntry.action.like("followup.%")).order_by(AuditEntry.id)))
    names = audit_text.look_up(db, found, lambda moment: short_local_time(moment, "Asia/Shanghai") if moment else "")
    return [str(audit_text.describe(entry, names)) for entry in found]


def test_callback_rectification_close_and_verdict(db, world):
    case = world["section_case"]
    assert case.due_at.replace(tzinfo=timezone.utc) == DUE and not f.is_overdue(case, MORNING)
    f.record_callback(db, case.id, actor="office1", finding="已致电市民，属实。", now=MORNING + timedelta(hours=3))
    f.record_rectification(db, case.id, unit_id=world["unit"].id, actor="lly001", text="已对窗口人员批评教育。",
                           now=MORNING + timedelta(days=2))
    with pytest.raises(DomainError, match="还没有办结"):
        f.record_verdict(db, case.id, satisfied=True, now=MORNING + timedelta(days=2))
    f.close_case(db, case.id, actor="office1", now=MORNING + timedelta(days=3))
    db.commit()
    assert case.callback_by == "office1" and case.rectified_by == "lly001" and case.closed_by == "office1"
    assert not f.is_overdue(case, DUE + timedelta(days=30))
    with pytest.raises(f.CaseClosedError) as closed:
        f.record_callback(db, case.id, actor="office1", finding="再次回访。", now=MORNING + timedelta(days=4))
    assert closed.value.status == 409
    f.record_verdict(db, case.id, satisfied=False, now=MORNING + timedelta(days=4))
    f.record_verdict(db, case.id, satisfied=True, now=MORNING + timedelta(days=5))  # the first answer stands
    assert case.citizen_satisfied is False
    place = f"编号 {case.id}，科室“县发改局 · 价格科”"
    assert sentences(db) == [f"记录差评（{place}）的回访情况。", f"记录差评（{place}）的整改情况。", f"办结差评（{place}）。"]
    details = [entry.detail for entry in db.scalars(select(AuditEntry).where(AuditEntry.action.like("followup.%")))]
    logged = repr(details)
    assert PHONE not in logged and "态度生硬" not in logged and "批评教育" not in logged and "属实" not in logged
    assert audit.action_label("followup.close") == "办结差评"


def test_only_the_place_s_own_unit_rectifies(db, world):
    case = world["section_case"]
    for unit_id in (world["other"].id, 9999):
        with pytest.raises(NotFoundError, match=f"没有编号为 {case.id} 的差评回访"):
            f.record_rectification(db, case.id, unit_id=unit_id, actor="lly002", text="整改。", now=MORNING)
    window_case = world["window_case"]  # a window linked to no unit: no unit's case
    with pytest.raises(NotFoundError):
        f.record_rectification(db, window_case.id, unit_id=world["unit"].id, actor="lly001", text="整改。", now=MORNING)
    world["window"].unit_id = world["other"].id
    db.flush()
    f.record_rectification(db, window_case.id, unit_id=world["other"].id, actor="lly002", text="已增设窗口。",
                           now=MORNING + timedelta(days=10))
    db.commit()
    assert sentences(db) == [f"记录差评（编号 {window_case.id}，窗口“公安局窗口”，已超过整改时限）的整改情况。"]
    assert db.scalar(select(AuditEntry.detail).where(AuditEntry.action == "followup.rectify"))["unit_id"] == world["other"].id
    with pytest.raises(NotFoundError):
        f.record_callback(db, 9999, actor="office1", finding="x", now=MORNING)


def test_closing_needs_the_callback_and_texts_are_checked(db, world):
    case = world["section_case"]
    with pytest.raises(DomainError, match="请先记录回访情况"):
        f.close_case(db, case.id, actor="office1", now=MORNING)
    with pytest.raises(DomainError, match="请填写回访情况"):
        f.record_callback(db, case.id, actor="office1", finding="  ", now=MORNING)
    with pytest.raises(DomainError, match="最多 1000 个字"):
        f.record_rectification(db, case.id, unit_id=world["unit"].id, actor="lly001", text="改" * 1001, now=MORNING)
    f.record_callback(db, case.id, actor="office1", finding="市民反映不属实。", now=DUE + timedelta(hours=1))
    f.close_case(db, case.id, actor="office1", now=DUE + timedelta(hours=2))
    db.commit()
    assert sentences(db)[-1] == f"办结差评（编号 {case.id}，科室“县发改局 · 价格科”，已超过整改时限），未记录整改情况。"


def test_overdue_cases_are_flagged_and_listed(db, world):
    section_case, window_case = world["section_case"], world["window_case"]
    assert window_case.due_at.replace(tzinfo=timezone.utc) == DUE + timedelta(days=1)
    assert f.overdue(db, DUE) == [] and not f.is_overdue(section_case, DUE)
    just_after = DUE + timedelta(seconds=1)  # 00:00:01 on Tuesday 9 June in Shanghai
    assert f.is_overdue(section_case, just_after) and not f.is_overdue(window_case, just_after)
    assert f.overdue(db, just_after) == [section_case]
    later = DUE + timedelta(days=2)
    assert f.overdue(db, later) == [section_case, window_case]
    assert f.overdue(db, later, unit_id=world["unit"].id) == [section_case]
    assert f.overdue(db, later, unit_id=world["other"].id) == []
    f.record_callback(db, section_case.id, actor="office1", finding="已回访。", now=later)
    f.close_case(db, section_case.id, actor="office1", now=later)
    db.commit()
    assert f.overdue(db, later) == [window_case] and not f.is_overdue(section_case, later)
