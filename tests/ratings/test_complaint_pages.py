"""The office's complaint queue (voting/ratings/complaint_views.py) and the unit's page
(voting/ratings/unit_views.py), on SQLite and PostgreSQL: the queue lists the undecided
first with time, unit and section, level, categories and the text as typed, filtered by
status and unit, a page at a time; an administrator decides (有效 or 无效, a reason),
undoes a decision (confirmed first) and sets the text the unit sees, each form with its
CSRF token; an operator reads and changes nothing; a liaison is refused the office's
pages (403) and sees on its own page its unit's complaints and windows' 差评 by day,
with the office's text or the text without the phone, and the decision: never the
phone, the time of day, the rating's number or another unit's."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, login
from tests.ratings.support import places
from tests.security.common import changed, csrf_of, snapshot, staff_login
from tests.support.web import text
from voting.audit.models import AuditEntry
from voting.components.models import PlatformEvent
from voting.lists.models import Campaign, HistoryResult, Result, Section, Unit
from voting.ratings import codes, complaint_views, complaints, redact, unit_views
from voting.ratings import ratings as r
from voting.ratings.models import ComplaintDecision
from voting.staff import users
from voting.staff.models import Role

FORBIDDEN = "您的账号没有访问这个页面的权限。"
PHONE = "13812345678"
MORNING = datetime(2021, 6, 1, 2, 7, tzinfo=timezone.utc)  # 10:07 in Asia/Shanghai
SHOWN_TIME = "2021-06-01 10:07"
TEXT = f"价格科的人让我跑了三趟，张三说下周再来。电话 {PHONE}"
OTHER_TEXT = "预算科的人不接电话，另一个单位的事"
QUEUE = "/office/ratings/complaints/"


@pytest.fixture
def world(db):
    """Two units with a section each (the first also has a window), a complaint of each
    section and a window's 差评; an operator and a liaison of each unit."""
    section, window = places(db)
    campaign = db.get(Campaign, section.unit.campaign_id)
    other_unit = Unit(campaign_id=campaign.id, name="县财政局", number=2)
    other = Section(unit=other_unit, name="预算科", number=1)
    db.add_all([other_unit, other])
    db.flush()
    window.unit_id = section.unit_id
    made = {}
    for name, place, level, note, now in (
        ("ours", codes.issue(db, actor="admin", section_id=section.id), 1, TEXT, MORNING),
        ("theirs", codes.issue(db, actor="admin", section_id=other.id), 2, OTHER_TEXT, MORNING.replace(hour=3)),
        ("window", codes.issue(db, actor="admin", entity_id=window.id), 2, f"窗口排队太久 {PHONE}", MORNING.replace(hour=4)),
    ):
        made[name] = r.submit_rating(db, place, level, ["repeat_visits", "attitude"], note, phone=PHONE,
                                     device=f"device-{name}-0123456789", network="203.0.113.7", now=now).rating_id
    users.create_user(db, "operator1", PASSWORD, Role.operator)
    users.create_user(db, "liaison1", PASSWORD, Role.liaison, unit=section.unit)
    users.create_user(db, "liaison2", PASSWORD, Role.liaison, unit=other_unit)
    db.commit()
    return {"campaign": campaign, "section": section, "other": other, "window": window, **made}


def client_of(app, username: str):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def decision(db, rating_id: int) -> ComplaintDecision | None:
    db.expire_all()
    return db.scalar(select(ComplaintDecision).where(ComplaintDecision.rating_id == rating_id))


def row_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr id="complaint-(\d+)"', page)]


# ---- the office's queue ------------------------------------------------------------------------------


def test_the_queue_lists_the_complaints_with_the_text_as_typed(admin_client, db, world):
    page = admin_client.get(QUEUE)
    assert page.status_code == 200
    html = text(page)
    assert row_ids(html) == [world["ours"], world["theirs"]]  # the window's 差评 is not a complaint
    for shown in (SHOWN_TIME, "县发改局 · 价格科", "县财政局 · 预算科", "非常不满意", "不满意", "态度不好、多次跑", TEXT, OTHER_TEXT):
        assert shown in html, shown
    assert "窗口排队太久" not in html
    assert re.search(r'id="complaint-counts">.*?<b>2</b>未认定', html, re.S)
    # One complaint's page: the text as typed, and what the unit will see.
    detail = text(admin_client.get(f"{QUEUE}{world['ours']}"))
    assert TEXT in detail and redact.for_unit(TEXT) in detail and "decide-form" in detail and "unit-text-form" in detail
    assert "自动隐去手机号码等数字和电子邮箱后的内容" in detail


def test_the_queue_filters_and_pages(admin_client, db, world, monkeypatch):
    admin_client.post(f"{QUEUE}{world['theirs']}/decide", data={"verdict": "invalid", "reason": "不属实"})
    unit_id = world["section"].unit_id
    assert row_ids(text(admin_client.get(QUEUE))) == [world["ours"], world["theirs"]]
    assert row_ids(text(admin_client.get(f"{QUEUE}?status=undecided"))) == [world["ours"]]
    assert row_ids(text(admin_client.get(f"{QUEUE}?status=invalid"))) == [world["theirs"]]
    assert row_ids(text(admin_client.get(f"{QUEUE}?status=valid"))) == []
    assert row_ids(text(admin_client.get(f"{QUEUE}?unit={unit_id}"))) == [world["ours"]]
    assert row_ids(text(admin_client.get(f"{QUEUE}?unit={world['other'].unit_id}&status=undecided"))) == []
    # A value the page does not offer is ignored, and said so.
    odd = admin_client.get(f"{QUEUE}?status=all&unit=999999&page=x")
    assert odd.status_code == 200 and row_ids(text(odd)) == [world["ours"], world["theirs"]]
    assert "地址中的参数 status（“all”）不是本页可选的值，已忽略" in text(odd)
    # Pages keep the filters.
    monkeypatch.setattr(complaint_views, "PER_PAGE", 1)
    first = text(admin_client.get(QUEUE))
    assert row_ids(first) == [world["ours"]] and "第 1 / 2 页" in first
    assert row_ids(text(admin_client.get(f"{QUEUE}?page=2"))) == [world["theirs"]]
    assert row_ids(text(admin_client.get(f"{QUEUE}?page=9"))) == [world["theirs"]]  # past the end: the last
    filtered = text(admin_client.get(f"{QUEUE}?unit={unit_id}"))
    assert row_ids(filtered) == [world["ours"]] and "第 1 / 2 页" not in filtered


# ---- deciding and undoing ------------------------------------------------------------------------------


def test_an_admin_decides_undoes_confirmed_and_decides_again(admin_client, db, world):
    path = f"{QUEUE}{world['ours']}"
    before = snapshot(db)
    for data, message in (({"verdict": "valid"}, "请填写认定理由"), ({"reason": "属实"}, "请选择有效或无效"),
                          ({"verdict": "valid", "reason": "理" * 201}, "认定理由最多 200 个字")):
        refused = admin_client.post(f"{path}/decide", data=data)
        assert refused.status_code == 400 and message in text(refused), data
    assert changed(before, snapshot(db)) == []
    done = admin_client.post(f"{path}/decide", data={"verdict": "valid", "reason": "经调取录像核实，情况属实。"})
    assert done.status_code == 303 and done.headers["Location"].endswith(path)
    page = text(admin_client.get(path))
    assert "有效</span>" in page and "经调取录像核实，情况属实。" in page and "有效投诉扣 1 分" in page
    assert "已将县发改局 · 价格科的投诉" in page and "undo-form" in page and "decide-form" not in page
    assert decision(db, world["ours"]).valid is True
    assert db.scalar(select(func.count()).select_from(PlatformEvent)) == 1
    # Deciding again: 409, said on the page.
    before = snapshot(db)
    again = admin_client.post(f"{path}/decide", data={"verdict": "invalid", "reason": "改为无效"})
    assert again.status_code == 409 and "这件投诉已经认定为有效（admin）：要改变认定，请先撤销认定。" in text(again)
    # Undo: a reason, then the confirmation page (nothing changed), then the confirmed POST.
    empty = admin_client.post(f"{path}/undo", data={"reason": " "})
    assert empty.status_code == 400 and "请填写撤销" in text(empty)
    asked = admin_client.post(f"{path}/undo", data={"reason": "单位提出异议，复核有误。"})
    assert asked.status_code == 200 and "请确认：撤销投诉认定" in text(asked)
    assert "同时删除这件投诉在网络监督投诉平台的有效投诉扣分（1 分）" in text(asked)
    assert 'name="confirmed" value="1"' in text(asked) and 'name="reason" value="单位提出异议，复核有误。"' in text(asked)
    assert changed(before, snapshot(db)) == []
    undone = admin_client.post(f"{path}/undo", data={"reason": "单位提出异议，复核有误。", "confirmed": "1"})
    assert undone.status_code == 303
    assert decision(db, world["ours"]).valid is None
    assert db.scalar(select(func.count()).select_from(PlatformEvent)) == 0
    assert "decide-form" in text(admin_client.get(path))
    # Undoing an undecided complaint: 409, nothing stored.
    before = snapshot(db)
    twice = admin_client.post(f"{path}/undo", data={"reason": "再撤销", "confirmed": "1"})
    assert twice.status_code == 409 and "还没有认定，无需撤销" in text(twice)
    assert changed(before, snapshot(db)) == []
    assert admin_client.post(f"{path}/decide", data={"verdict": "invalid", "reason": "复核后不属实"}).status_code == 303
    assert decision(db, world["ours"]).valid is False
    actions = list(db.scalars(select(AuditEntry.action).where(AuditEntry.action.like("rating.complaint%"))
                              .order_by(AuditEntry.id)))
    assert actions == ["rating.complaint_decide", "rating.complaint_undo", "rating.complaint_decide"]


def test_an_exempt_sections_complaint_is_refused_on_the_page(admin_client, db, world):
    for year in (2019, 2020):
        db.add(HistoryResult(year=year, unit_name="县发改局", section_name="价格科", result=Result.satisfied))
    db.commit()
    before = snapshot(db)
    refused = admin_client.post(f"{QUEUE}{world['ours']}/decide", data={"verdict": "valid", "reason": "属实"})
    assert refused.status_code == 400 and "县发改局 价格科 免评，不计入此项" in text(refused)
    assert changed(before, snapshot(db)) == []


def test_the_unit_text_is_set_on_the_page(app, admin_client, db, world):
    path = f"{QUEUE}{world['ours']}"
    assert admin_client.post(f"{path}/unit-text", data={"text": "价格科的人让我跑了三趟，某某说下周再来。"}).status_code == 303
    assert decision(db, world["ours"]).unit_text == "价格科的人让我跑了三趟，某某说下周再来。"
    page = text(admin_client.get(path))
    assert "评议办修改过的内容" in page and "已保存投诉" in page
    refused = admin_client.post(f"{path}/unit-text", data={"text": ""})
    assert refused.status_code == 400 and "请填写单位可见内容" in text(refused)
    # The unit reads the office's version: "张三" is gone.
    unit_page = text(client_of(app, "liaison1").get("/office/unit-ratings/"))
    assert "某某说下周再来" in unit_page and "张三" not in unit_page


def form_token(html: str, form_id: str) -> str:
    """The CSRF token the form `form_id` carries (its first field)."""
    found = re.search(rf'id="{form_id}">\s*<input id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found, f"{form_id} carries no CSRF token"
    return found.group(1)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_every_form_carries_its_csrf_token(app, db, admin, world, app_config):
    client = app.test_client()
    staff_login(client, "admin")
    path = f"{QUEUE}{world['ours']}"
    html = text(client.get(path))
    token = form_token(html, "decide-form")
    assert form_token(html, "unit-text-form") == token
    before = snapshot(db)
    for action, data in (("decide", {"verdict": "valid", "reason": "属实"}), ("unit-text", {"text": "已隐去"})):
        refused = client.post(f"{path}/{action}", data=data)
        assert refused.status_code == 400 and "页面已过期或表单校验失败（CSRF）" in text(refused)
    assert changed(before, snapshot(db)) == []
    assert client.post(f"{path}/decide", data={"verdict": "valid", "reason": "属实", "csrf_token": token}).status_code == 303
    html = text(client.get(path))
    refused = client.post(f"{path}/undo", data={"reason": "复核", "confirmed": "1"})
    assert refused.status_code == 400 and decision(db, world["ours"]).valid is True
    asked = client.post(f"{path}/undo", data={"reason": "复核", "csrf_token": form_token(html, "undo-form")})
    assert asked.status_code == 200 and "请确认：撤销投诉认定" in text(asked)
    confirmed = client.post(f"{path}/undo", data={"reason": "复核", "confirmed": "1", "csrf_token": csrf_of(text(asked))})
    assert confirmed.status_code == 303 and decision(db, world["ours"]).valid is None


# ---- who may ------------------------------------------------------------------------------------------


def test_an_operator_reads_a_liaison_and_a_visitor_are_refused(app, db, world):
    ours = world["ours"]
    reads = [QUEUE, f"{QUEUE}{ours}", f"{QUEUE}?status=valid"]
    changes = [(f"{QUEUE}{ours}/decide", {"verdict": "valid", "reason": "属实"}),
               (f"{QUEUE}{ours}/undo", {"reason": "复核", "confirmed": "1"}),
               (f"{QUEUE}{ours}/unit-text", {"text": "改写"})]
    before = snapshot(db)
    operator = client_of(app, "operator1")
    for path in reads:
        assert operator.get(path).status_code == 200, path
    page = text(operator.get(f"{QUEUE}{ours}"))
    assert TEXT in page and "decide-form" not in page and "unit-text-form" not in page
    liaison = client_of(app, "liaison1")
    visitor = app.test_client()
    for path in reads:
        response = liaison.get(path)
        assert response.status_code == 403 and FORBIDDEN in text(response), path
        assert TEXT not in text(response)
        assert visitor.get(path).status_code in (302, 401), path
    for path, data in changes:
        assert operator.post(path, data=data).status_code == 403, path
        assert liaison.post(path, data=data).status_code == 403, path
        assert visitor.post(path, data=data).status_code in (302, 401), path
    assert changed(before, snapshot(db)) == []
    # The unit's page is the liaisons': the office is refused it.
    assert operator.get("/office/unit-ratings/").status_code == 403


def test_unknown_ids_are_404(admin_client, db, world):
    before = snapshot(db)
    for rating_id in (999_999, world["window"]):
        for method, suffix, data in (("GET", "", {}), ("POST", "/decide", {"verdict": "valid", "reason": "属实"}),
                                     ("POST", "/undo", {"reason": "复核", "confirmed": "1"}),
                                     ("POST", "/unit-text", {"text": "x"})):
            response = admin_client.open(f"{QUEUE}{rating_id}{suffix}", method=method, data=data)
            assert response.status_code == 404 and f"本年度没有编号为 {rating_id} 的投诉。" in text(response)
    assert changed(before, snapshot(db)) == []


# ---- the unit's page -----------------------------------------------------------------------------------


def test_the_unit_sees_its_own_complaints_and_window_poor_ratings_and_nothing_of_who(app, admin_client, db, world):
    admin_client.post(f"{QUEUE}{world['ours']}/decide", data={"verdict": "valid", "reason": "经核实属实，扣 1 分。"})
    liaison = client_of(app, "liaison1")
    response = liaison.get("/office/unit-ratings/")
    assert response.status_code == 200
    page = text(response)
    for shown in ("2021-06-01", "价格科", "窗口：公安局窗口", "非常不满意", "态度不好、多次跑", "价格科的人让我跑了三趟",
                  redact.REMOVED, "有效</span>", "经核实属实，扣 1 分。", "窗口排队太久", "窗口差评，不认定"):
        assert shown in page, shown
    # Never the phone, the time of day, the rating's number, another unit's.
    for hidden in (PHONE, "1381234", "10:07", SHOWN_TIME, "预算科", OTHER_TEXT, "县财政局", "编号"):
        assert hidden not in page, hidden
    assert f"complaint-{world['ours']}" not in page and "/office/ratings/complaints" not in page
    # The other unit's liaison: its own only; the address cannot ask for another unit.
    theirs = text(client_of(app, "liaison2").get(f"/office/unit-ratings/?unit={world['section'].unit_id}"))
    assert OTHER_TEXT in theirs and "价格科" not in theirs and "窗口排队太久" not in theirs and PHONE not in theirs


def test_the_unit_page_pages(app, db, world, monkeypatch):
    monkeypatch.setattr(unit_views, "PER_PAGE", 1)
    liaison = client_of(app, "liaison1")
    first = text(liaison.get("/office/unit-ratings/"))
    assert "第 1 / 2 页" in first and "窗口排队太久" in first and "价格科的人" not in first  # the latest first
    second = text(liaison.get("/office/unit-ratings/?page=2"))
    assert "价格科的人" in second and "窗口排队太久" not in second
    assert complaints.unit_counts(db, world["section"].unit_id) == {"undecided": 1, "valid": 0, "invalid": 0, "window": 1}
