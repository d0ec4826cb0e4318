"""Complaints from the rating codes (voting/ratings/complaints.py), on SQLite and
PostgreSQL: a counted 差评 of a section is a complaint; the office decides it 有效 or 无效
with a required reason (at most 200 characters); a valid one is a 网络监督 有效投诉 entry of
the section (components.add_entry: audited, refused for an exempt section with nothing
written) of the campaign's `network_supervision_per_complaint`, which lowers the
section's platform score in the scorecard, and undoing the decision deletes it and
restores the score. One decision per rating: a second is refused (409), also when it
raced past the check (the unique index, and the UPDATE only an undecided row matches),
and a hundred at once on PostgreSQL make one. The unit's text is the office's or
redact.for_unit's; the unit's view holds nothing of who and no time of day."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from scoring import columns as C
from tests.ratings.support import at_once, places
from tests.security.common import changed, snapshot
from voting.audit.models import AuditEntry
from voting.components import components
from voting.components.models import ComponentKind, PlatformEvent
from voting.core.errors import DomainError, NotFoundError
from voting.lists import campaigns
from voting.lists.models import Campaign, HistoryResult, Result, Section, Unit
from voting.ratings import codes, complaints, redact
from voting.ratings import ratings as r
from voting.ratings.models import ComplaintDecision, Rating
from voting.schemes.models import AssessedEntity
from voting.scores import scorecards

# 2021-06-01 10:00 in Asia/Shanghai.
MORNING = datetime(2021, 6, 1, 2, 0, tzinfo=timezone.utc)
PHONE = "13812345678"
TEXT = f"窗口的人让我跑了三趟，我的电话 {PHONE}，邮箱 zhang@example.com。"


@dataclasses.dataclass
class Spots:
    campaign: Campaign
    section: Section
    window: AssessedEntity
    other: Section  # a section of another unit
    code: object  # the section's code
    window_code: object
    other_code: object


@pytest.fixture
def spots(db) -> Spots:
    section, window = places(db)
    campaign = db.get(Campaign, section.unit.campaign_id)
    other_unit = Unit(campaign_id=campaign.id, name="县财政局", number=2)
    other = Section(unit=other_unit, name="预算科", number=1)
    db.add_all([other_unit, other])
    db.flush()
    window.unit_id = section.unit_id
    found = Spots(campaign, section, window, other, codes.issue(db, actor="admin", section_id=section.id),
                  codes.issue(db, actor="admin", entity_id=window.id), codes.issue(db, actor="admin", section_id=other.id))
    db.commit()
    return found


_devices = iter(range(10_000))


def rate(db, code, level=1, text=TEXT, categories=("repeat_visits",), *, phone=None, now=MORNING) -> int:
    thanks = r.submit_rating(db, code, level, list(categories) if level in r.POOR else [], text, phone=phone,
                             device=f"device-{next(_devices):06d}-abcdefgh", network="203.0.113.7", now=now)
    db.commit()
    return thanks.rating_id


def actions(db) -> list[str]:
    return [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def last_entry(db, action: str) -> AuditEntry:
    return db.scalar(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc()).limit(1))


def events(db) -> list[PlatformEvent]:
    db.expire_all()
    return list(db.scalars(select(PlatformEvent).order_by(PlatformEvent.id)))


def decision_of(db, rating_id: int) -> ComplaintDecision | None:
    db.expire_all()
    return db.scalar(select(ComplaintDecision).where(ComplaintDecision.rating_id == rating_id))


def decide(db, spots, rating_id, valid=True, reason="经调取录像核实，情况属实。", **kwargs) -> ComplaintDecision:
    decided = complaints.decide(db, spots.campaign, rating_id, valid=valid, reason=reason, entered_by=None,
                                actor="admin", **kwargs)
    db.commit()
    return decided


def make_exempt(db, section: Section) -> None:
    """满意单位 in both previous years: exempt (免评) in 2021."""
    for year in (2019, 2020):
        db.add(HistoryResult(year=year, unit_name=section.unit.name, section_name=section.name, result=Result.satisfied))
    db.commit()


# ---- what a complaint is ----------------------------------------------------------------------------


def test_a_complaint_is_a_counted_poor_rating_of_a_section(db, spots):
    first = rate(db, spots.code, 1)
    second = rate(db, spots.code, 2, now=MORNING.replace(hour=3))
    rate(db, spots.code, 3, text="一般")  # not a 差评
    rate(db, spots.window_code, 1)  # a window's: not part of the Pingyang scoring
    other = rate(db, spots.other_code, 2, text="预算科的事")
    duplicate = rate(db, spots.code, 1, phone=PHONE)
    again = rate(db, spots.code, 1, phone=PHONE, text="同一个号码当天第二次")
    assert db.get(Rating, again).counted is False and db.get(Rating, duplicate).counted is True
    listed, total = complaints.complaints(db, spots.campaign.id)
    assert total == 4 and {c.rating.id for c in listed} == {first, second, other, duplicate}
    # The queue: the oldest undecided first.
    assert [c.rating.created_at for c in listed] == sorted(c.rating.created_at for c in listed)
    mine, total = complaints.complaints(db, spots.campaign.id, unit_id=spots.section.unit_id)
    assert total == 3 and {c.section for c in mine} == {"价格科"}
    assert complaints.status_counts(db, spots.campaign.id) == {"undecided": 4, "valid": 0, "invalid": 0}
    # Anything else is not found: a window's, a better level, an uncounted one, an unknown id,
    # one of another campaign.
    window_poor = db.scalar(select(Rating.id).where(Rating.entity_id == spots.window.id))
    better = db.scalar(select(Rating.id).where(Rating.level == 3))
    for rating_id in (window_poor, better, again, 999_999):
        with pytest.raises(NotFoundError, match=f"本年度没有编号为 {rating_id} 的投诉"):
            complaints.get_complaint(db, spots.campaign, rating_id)
    older = campaigns.create_campaign(db, 2020)
    db.commit()
    with pytest.raises(NotFoundError):
        complaints.get_complaint(db, older, first)


def test_the_queue_puts_the_undecided_first_then_the_latest_decision(db, spots):
    ids = [rate(db, spots.code, 1, now=MORNING.replace(hour=h)) for h in (1, 2, 3, 4)]
    decide(db, spots, ids[0], now=datetime(2021, 6, 2, tzinfo=timezone.utc))
    decide(db, spots, ids[2], valid=False, now=datetime(2021, 6, 3, tzinfo=timezone.utc))
    listed, _ = complaints.complaints(db, spots.campaign.id)
    assert [c.rating.id for c in listed] == [ids[1], ids[3], ids[2], ids[0]]
    assert [c.status for c in listed] == ["未认定", "未认定", "无效", "有效"]
    for status, expected in (("undecided", [ids[1], ids[3]]), ("valid", [ids[0]]), ("invalid", [ids[2]])):
        assert [c.rating.id for c in complaints.complaints(db, spots.campaign.id, status=status)[0]] == expected
    assert complaints.status_counts(db, spots.campaign.id) == {"undecided": 2, "valid": 1, "invalid": 1}
    page, total = complaints.complaints(db, spots.campaign.id, limit=2, offset=2)
    assert total == 4 and [c.rating.id for c in page] == [ids[2], ids[0]]


# ---- deciding --------------------------------------------------------------------------------------


def test_a_valid_complaint_is_a_network_supervision_deduction_of_its_section(db, spots, admin):
    rating_id = rate(db, spots.code)
    before = actions(db)
    complaints.decide(db, spots.campaign, rating_id, valid=True, reason="  经调取录像核实，\n情况属实。 ", entered_by=admin,
                      actor="admin")
    db.commit()
    decision = decision_of(db, rating_id)
    assert (decision.valid, decision.reason, decision.decided_by) == (True, "经调取录像核实， 情况属实。", "admin")
    assert decision.decided_at is not None and decision.unit_text is None
    [event] = events(db)
    assert decision.platform_event_id == event.id
    assert (event.section_id, event.platform, event.item, event.deduction, event.role) == (
        spots.section.id, C.SUPERVISION_NET, C.COMPLAINT, 1.0, C.LEAD)
    assert event.import_id is None and event.created_by_id == admin.id
    assert "评议二维码" in event.note and f"编号 {rating_id}" in event.note
    assert actions(db) == [*before, "component.entry_add", "rating.complaint_decide"]
    detail = last_entry(db, "rating.complaint_decide").detail
    assert detail == {"rating_id": rating_id, "section_id": spots.section.id, "section": "县发改局 · 价格科", "level": 1,
                      "valid": True, "reason": "经调取录像核实， 情况属实。", "entry_id": event.id, "deduction": 1.0}
    # The audit log (kept for ever) holds nothing the citizen typed.
    for entry in db.scalars(select(AuditEntry)):
        assert PHONE not in str(entry.detail) and "跑了三趟" not in str(entry.detail)
    # The component entry is one of the platform's entries, as the office's page lists them.
    [(entry, unit, section, filename, user)] = components.entries_with_sources(db, spots.campaign, ComponentKind.platform)
    assert (entry.id, unit, section, filename, user.username) == (event.id, "县发改局", "价格科", None, "admin")
    assert complaints.deduction_of(db, spots.campaign, complaints.get_complaint(db, spots.campaign, rating_id)) == \
        complaints.Deduction(event.id, "1")


def test_the_deduction_is_the_campaigns_setting(db, spots):
    spots.campaign.settings = {**spots.campaign.settings, "network_supervision_per_complaint": 0.5}
    db.commit()
    decide(db, spots, rate(db, spots.code))
    assert [e.deduction for e in events(db)] == [0.5]
    assert last_entry(db, "rating.complaint_decide").detail["deduction"] == 0.5


def test_a_complaint_found_not_valid_deducts_nothing(db, spots):
    rating_id = rate(db, spots.code)
    before = actions(db)
    decide(db, spots, rating_id, valid=False, reason="反映的事项不属于本科室职责。")
    decision = decision_of(db, rating_id)
    assert (decision.valid, decision.reason, decision.platform_event_id) == (False, "反映的事项不属于本科室职责。", None)
    assert events(db) == [] and actions(db) == [*before, "rating.complaint_decide"]
    detail = last_entry(db, "rating.complaint_decide").detail
    assert (detail["valid"], detail["entry_id"], detail["deduction"]) == (False, None, None)


@pytest.mark.parametrize("reason, message", [
    ("", "请填写认定理由。"), ("   \n ", "请填写认定理由。"), ("\x01\x02", "请填写认定理由。"),
    ("查" * 201, "认定理由太长：最多 200 个字，现在是 201 个字。"),
])
def test_a_reason_is_required_and_at_most_200_characters(db, spots, reason, message):
    rating_id = rate(db, spots.code)
    before = snapshot(db)
    with pytest.raises(DomainError) as refused:
        complaints.decide(db, spots.campaign, rating_id, valid=True, reason=reason, entered_by=None, actor="admin")
    assert str(refused.value) == message and refused.value.status == 400
    assert changed(before, snapshot(db)) == []
    # 200 characters are taken.
    decide(db, spots, rating_id, reason="查" * 200)
    assert decision_of(db, rating_id).reason == "查" * 200


def test_a_second_decision_is_refused_and_stores_nothing(db, spots):
    rating_id = rate(db, spots.code)
    decide(db, spots, rating_id)
    before = snapshot(db)
    for valid in (True, False):
        with pytest.raises(complaints.AlreadyDecidedError) as refused:
            complaints.decide(db, spots.campaign, rating_id, valid=valid, reason="再认定一次", entered_by=None, actor="admin")
        assert refused.value.status == 409
        assert str(refused.value) == "这件投诉已经认定为有效（admin）：要改变认定，请先撤销认定。"
    assert changed(before, snapshot(db)) == []
    assert len(events(db)) == 1


@pytest.mark.parametrize("unit_text_first", [False, True], ids=["no row yet", "a row with the unit's text"])
def test_a_decision_that_raced_past_the_check_is_refused_by_the_database(app, db, spots, monkeypatch, unit_text_first):
    """Two administrators decide at the same moment: both read an undecided complaint, the
    other's decision commits first. The database refuses the second: the unique rating_id
    (no row yet) or the UPDATE that only an undecided row matches (a row holding the unit's
    text), 409, and nothing of it is stored."""
    rating_id = rate(db, spots.code)
    if unit_text_first:
        complaints.set_unit_text(db, spots.campaign, rating_id, text="态度问题", actor="admin")
        db.commit()
    stale = complaints.get_complaint(db, spots.campaign, rating_id)  # read before the other's decision
    for row in (stale.rating, stale.decision):
        if row is not None:
            db.expunge(row)  # kept as read, not refreshed
    with app.extensions["pingyi.sessions"]() as other:
        complaints.decide(other, other.get(Campaign, spots.campaign.id), rating_id, valid=False, reason="先到的认定",
                          entered_by=None, actor="operator-b")
        other.commit()
    db.rollback()
    before = snapshot(db)
    monkeypatch.setattr(complaints, "get_complaint", lambda *args: stale)
    with pytest.raises(complaints.AlreadyDecidedError, match="刚刚已由别人认定") as refused:
        complaints.decide(db, spots.campaign, rating_id, valid=True, reason="后到的认定", entered_by=None, actor="admin")
    assert refused.value.status == 409
    # Nothing of the refused decision is in the session, let alone stored.
    assert db.scalar(select(func.count()).select_from(PlatformEvent)) == 0
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.actor == "admin",
                                                                      AuditEntry.action == "rating.complaint_decide")) == 0
    db.commit()
    assert changed(before, snapshot(db)) == []
    decision = decision_of(db, rating_id)
    assert (decision.valid, decision.reason, decision.decided_by) == (False, "先到的认定", "operator-b")
    assert decision.unit_text == ("态度问题" if unit_text_first else None)


def test_a_hundred_decisions_at_once_make_one_on_postgresql(app, db, spots):
    rating_id = rate(db, spots.code)
    campaign = spots.campaign  # loaded, detached: read only by the threads

    def attempt(session, n: int) -> str:
        try:
            complaints.decide(session, campaign, rating_id, valid=n % 2 == 0, reason=f"认定 {n}", entered_by=None,
                              actor=f"admin{n}")
        except complaints.AlreadyDecidedError:
            return "409"
        return "decided"

    outcomes = at_once(app, db, attempt, "SQLite serialises writers: the parallel decisions are a PostgreSQL test")
    assert outcomes == {"decided": 1, "409": 99}
    with app.extensions["pingyi.sessions"]() as session:
        decision = session.scalar(select(ComplaintDecision))
        assert session.scalar(select(func.count()).select_from(ComplaintDecision)) == 1
        assert session.scalar(select(func.count()).select_from(PlatformEvent)) == (1 if decision.valid else 0)
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "rating.complaint_decide")) == 1


def test_an_exempt_sections_complaint_cannot_be_valid_and_nothing_is_written(db, spots):
    rating_id = rate(db, spots.code)
    make_exempt(db, spots.section)
    before = snapshot(db)
    audited = db.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(DomainError) as refused:
        complaints.decide(db, spots.campaign, rating_id, valid=True, reason="属实", entered_by=None, actor="admin")
    assert str(refused.value) == "县发改局 价格科 免评，不计入此项" and refused.value.status == 400
    # Nothing left in the session either (the service's savepoint): no decision, entry or audit entry.
    assert db.scalar(select(func.count()).select_from(ComplaintDecision)) == 0
    assert db.scalar(select(func.count()).select_from(PlatformEvent)) == 0
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == audited
    db.commit()
    assert changed(before, snapshot(db)) == []
    # Not valid: no deduction, so it may be recorded.
    decide(db, spots, rating_id, valid=False, reason="免评科室，不扣分")
    assert decision_of(db, rating_id).valid is False and events(db) == []


# ---- undoing ---------------------------------------------------------------------------------------


def test_undoing_a_valid_decision_deletes_its_deduction(db, spots):
    rating_id = rate(db, spots.code)
    decided = decide(db, spots, rating_id)
    [event] = events(db)
    before = actions(db)
    complaints.undo(db, spots.campaign, rating_id, reason=" 单位提出异议，复核有误。 ", actor="admin")
    db.commit()
    decision = decision_of(db, rating_id)
    assert decision.id == decided.id
    assert (decision.valid, decision.reason, decision.decided_by, decision.decided_at, decision.platform_event_id) == (
        None, None, None, None, None)
    assert events(db) == []
    assert actions(db) == [*before, "component.entry_delete", "rating.complaint_undo"]
    assert last_entry(db, "rating.complaint_undo").detail == {
        "rating_id": rating_id, "section_id": spots.section.id, "section": "县发改局 · 价格科", "level": 1,
        "was_valid": True, "was_reason": "经调取录像核实，情况属实。", "was_decided_by": "admin", "entry_id": event.id,
        "reason": "单位提出异议，复核有误。"}
    assert last_entry(db, "component.entry_delete").detail["entry_id"] == event.id
    # Undecided again: it may be decided anew, and undone again.
    decide(db, spots, rating_id, valid=False, reason="复核后认定无效")
    assert decision_of(db, rating_id).valid is False and events(db) == []
    complaints.undo(db, spots.campaign, rating_id, reason="再次复核", actor="admin")
    db.commit()
    assert decision_of(db, rating_id).valid is None
    assert last_entry(db, "rating.complaint_undo").detail["entry_id"] is None


def test_undo_needs_a_decision_and_a_reason(db, spots):
    rating_id = rate(db, spots.code)
    with pytest.raises(complaints.NotDecidedError, match="还没有认定，无需撤销") as refused:
        complaints.undo(db, spots.campaign, rating_id, reason="撤销", actor="admin")
    assert refused.value.status == 409
    decide(db, spots, rating_id)
    before = snapshot(db)
    for reason, message in (("", "请填写撤销理由。"), ("撤" * 201, "撤销理由太长：最多 200 个字，现在是 201 个字。")):
        with pytest.raises(DomainError) as refused:
            complaints.undo(db, spots.campaign, rating_id, reason=reason, actor="admin")
        assert str(refused.value) == message
    assert changed(before, snapshot(db)) == []
    with pytest.raises(NotFoundError):
        complaints.undo(db, spots.campaign, 999_999, reason="撤销", actor="admin")


def test_a_deduction_deleted_on_the_components_page_leaves_the_decision_to_undo(db, spots):
    rating_id = rate(db, spots.code)
    decide(db, spots, rating_id)
    [event] = events(db)
    components.delete_entry(db, spots.campaign, ComponentKind.platform, event.id, actor="admin")
    db.commit()
    decision = decision_of(db, rating_id)
    assert (decision.valid, decision.platform_event_id) == (True, None)  # ON DELETE SET NULL
    assert complaints.deduction_of(db, spots.campaign, complaints.get_complaint(db, spots.campaign, rating_id)) is None
    before = actions(db)
    complaints.undo(db, spots.campaign, rating_id, reason="扣分记录已删除", actor="admin")
    db.commit()
    assert decision_of(db, rating_id).valid is None and actions(db) == [*before, "rating.complaint_undo"]


def test_a_racing_undo_is_refused(app, db, spots, monkeypatch):
    rating_id = rate(db, spots.code)
    decide(db, spots, rating_id)
    stale = complaints.get_complaint(db, spots.campaign, rating_id)
    db.expunge(stale.rating)
    db.expunge(stale.decision)  # kept as read, not refreshed
    with app.extensions["pingyi.sessions"]() as other:
        complaints.undo(other, other.get(Campaign, spots.campaign.id), rating_id, reason="先撤销", actor="b")
        other.commit()
    db.rollback()
    before = snapshot(db)
    monkeypatch.setattr(complaints, "get_complaint", lambda *args: stale)
    with pytest.raises(complaints.NotDecidedError, match="刚刚已由别人撤销或改变"):
        complaints.undo(db, spots.campaign, rating_id, reason="后撤销", actor="admin")
    db.commit()
    assert changed(before, snapshot(db)) == []


# ---- the score ---------------------------------------------------------------------------------------


def platform_score(db, campaign: Campaign, section: Section) -> tuple[float, list[str]]:
    db.expire_all()
    card = scorecards.campaign_scorecard(db, campaign)
    row = card.sections[card.sections["section_id"] == section.id].iloc[0]
    lines = card.lines
    mine = lines[(lines[C.UNIT] == section.unit.name) & (lines[C.SECTION] == section.name)
                 & (lines[C.COMPONENT] == C.PLATFORM_SCORE)]
    return float(row[C.PLATFORM_SCORE]), list(mine[C.TEXT])


def test_a_valid_complaint_lowers_the_sections_network_supervision_part_and_undoing_restores_it(db, spots):
    first, second = rate(db, spots.code), rate(db, spots.code, 2)
    full, lines = platform_score(db, spots.campaign, spots.section)
    assert full == 10.0 and "网络监督平台 有效投诉扣 1 分" not in lines
    decide(db, spots, first)
    score, lines = platform_score(db, spots.campaign, spots.section)
    assert score == pytest.approx(full - 1) and lines.count("网络监督平台 有效投诉扣 1 分") == 1
    assert platform_score(db, spots.campaign, spots.other)[0] == full  # another section: untouched
    decide(db, spots, second, valid=False, reason="不属实")
    assert platform_score(db, spots.campaign, spots.section)[0] == pytest.approx(full - 1)
    complaints.undo(db, spots.campaign, first, reason="复核有误", actor="admin")
    db.commit()
    score, lines = platform_score(db, spots.campaign, spots.section)
    assert score == full and "网络监督平台 有效投诉扣 1 分" not in lines


def test_six_valid_complaints_floor_the_part_at_zero(db, spots):
    for n in range(6):
        decide(db, spots, rate(db, spots.code, now=MORNING.replace(minute=n)))
    score, lines = platform_score(db, spots.campaign, spots.section)
    assert score == 5.0  # the hotline part's 5, the network part 5 − 6 floored at 0
    assert lines.count("网络监督平台 有效投诉扣 1 分") == 6


# ---- the unit's text -----------------------------------------------------------------------------------


def test_the_unit_sees_the_offices_text_or_the_text_without_numbers_and_addresses(db, spots):
    rating_id = rate(db, spots.code)
    found = complaints.get_complaint(db, spots.campaign, rating_id)
    assert found.unit_text == redact.for_unit(TEXT) and PHONE not in found.unit_text and "zhang@" not in found.unit_text
    assert not found.unit_text_set
    # Set before any decision: a row holding the text only.
    complaints.set_unit_text(db, spots.campaign, rating_id, text="窗口让群众多次往返。\n请核实。", actor="admin")
    db.commit()
    decision = decision_of(db, rating_id)
    assert (decision.valid, decision.unit_text) == (None, "窗口让群众多次往返。\n请核实。")
    assert complaints.get_complaint(db, spots.campaign, rating_id).unit_text == "窗口让群众多次往返。\n请核实。"
    assert complaints.unit_text_for(db, db.get(Rating, rating_id)) == "窗口让群众多次往返。\n请核实。"
    window = db.get(Rating, rate(db, spots.window_code))
    assert complaints.unit_text_for(db, window) == redact.for_unit(TEXT)
    detail = last_entry(db, "rating.complaint_unit_text").detail
    assert detail == {"rating_id": rating_id, "section_id": spots.section.id, "section": "县发改局 · 价格科", "level": 1,
                      "default": False, "length": len("窗口让群众多次往返。\n请核实。")}
    # The decision takes the same row; undoing it keeps the text.
    decide(db, spots, rating_id)
    complaints.undo(db, spots.campaign, rating_id, reason="复核", actor="admin")
    db.commit()
    assert decision_of(db, rating_id).unit_text == "窗口让群众多次往返。\n请核实。"
    # The automatic version again: nothing of the office's own.
    complaints.set_unit_text(db, spots.campaign, rating_id, text=redact.for_unit(TEXT), actor="admin")
    db.commit()
    assert decision_of(db, rating_id).unit_text is None
    assert last_entry(db, "rating.complaint_unit_text").detail["default"] is True


@pytest.mark.parametrize("text, message", [
    ("", "请填写单位可见内容；不让单位看到任何文字时，可填写“〔已隐去〕”。"), (" \u200b ", "请填写单位可见内容"),
    ("长" * 501, "单位可见内容太长：最多 500 个字，现在是 501 个字。"),
])
def test_the_unit_text_is_required_and_at_most_500_characters(db, spots, text, message):
    rating_id = rate(db, spots.code)
    before = snapshot(db)
    with pytest.raises(DomainError, match=message):
        complaints.set_unit_text(db, spots.campaign, rating_id, text=text, actor="admin")
    assert changed(before, snapshot(db)) == []


# ---- the unit's view -----------------------------------------------------------------------------------


def test_the_units_view_holds_its_own_and_nothing_of_who(db, spots):
    valid = rate(db, spots.code, 1)
    rate(db, spots.code, 2, text="没有说明", categories=("attitude", "slow"), now=datetime(2021, 6, 2, 1, tzinfo=timezone.utc))
    rate(db, spots.window_code, 1, text=f"窗口差评 {PHONE}")
    rate(db, spots.other_code, 1, text="别的单位的投诉")
    rate(db, spots.code, 4, text="很好")  # not a 差评
    decide(db, spots, valid, reason="属实")
    unit_id = spots.section.unit_id
    rows, total = complaints.unit_ratings(db, unit_id)
    assert total == 3
    assert {f.name for f in dataclasses.fields(complaints.UnitRating)} == {
        "day", "kind", "place", "level", "categories", "text", "complaint", "verdict", "verdict_reason"}
    assert [(row.day, row.kind, row.place, row.level) for row in rows] == [
        (date(2021, 6, 2), "科室", "价格科", "不满意"), (date(2021, 6, 1), "窗口", "公安局窗口", "非常不满意"),
        (date(2021, 6, 1), "科室", "价格科", "非常不满意")]
    assert rows[0].categories == ["态度不好", "效率低"] and (rows[0].verdict, rows[0].verdict_reason) == ("未认定", None)
    assert (rows[1].complaint, rows[1].verdict) == (False, None) and PHONE not in rows[1].text
    assert (rows[2].verdict, rows[2].verdict_reason, rows[2].text) == ("有效", "属实", redact.for_unit(TEXT))
    assert all("别的单位" not in row.text for row in rows)
    assert complaints.unit_counts(db, unit_id) == {"undecided": 1, "valid": 1, "invalid": 0, "window": 1}
    other, total = complaints.unit_ratings(db, spots.other.unit_id)
    assert total == 1 and [row.text for row in other] == ["别的单位的投诉"]
    page, total = complaints.unit_ratings(db, unit_id, limit=1, offset=1)
    assert total == 3 and [row.kind for row in page] == ["窗口"]
