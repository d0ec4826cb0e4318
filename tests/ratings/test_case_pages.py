"""The 差评回访 pages (voting/ratings/case_views.py), on SQLite and PostgreSQL: the office
records the call-back and closes the case (confirmed first), which puts the citizen's
verdict SMS with its link in the outbox and clears the case's phone; every step audited
without the phone or the citizen's text; the unit's liaison sees its own cases only (a
day, no time of day; the text without phone-like digits; never the phone) and records
the rectification; another unit's case is 404, the office's pages 403 to a liaison and
the units' to the office; an operator reads and changes nothing; the overdue flags
count working days (a holiday and its make-up day, a fixed `now`), 预计 past the years
the holiday calendar knows; the office's lists filter and page."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from sms.templates import FOLLOWUP_VERDICT, SCRUBBED, scrub
from tests.conftest import PASSWORD, login
from tests.ratings.support import places
from tests.security.common import changed, snapshot
from tests.support.web import text
from voting.audit.models import AuditEntry
from voting.lists.models import Unit
from voting.outbox.models import OutboxMessage
from voting.ratings import case_views, cases, codes, verdict_views
from voting.ratings import views as rating_views
from voting.ratings import ratings as r
from voting.ratings.models import FollowupCase
from voting.staff import users
from voting.staff.models import Role

PUBLIC_URL = "https://pingyi.example.gov.cn"
PHONE = "13812345678"
TYPED = "工作人员态度生硬，让我打电话 139-1234-5678 再来。"
# Monday 1 June 2026, 10:00 in Shanghai: due at the end of Monday 8 June.
MORNING = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)
DUE = datetime(2026, 6, 8, 16, 0, tzinfo=timezone.utc)
OFFICE = "/office/rating-cases"
UNIT = "/office/unit-rating-cases"


@pytest.fixture
def app_config():
    return {"PUBLIC_URL": PUBLIC_URL}


@pytest.fixture
def clock(monkeypatch):
    """The pages' `now`, set by the test."""
    now = {"now": MORNING + timedelta(hours=1)}
    monkeypatch.setattr(case_views, "utcnow", lambda: now["now"])
    monkeypatch.setattr(rating_views, "utcnow", lambda: now["now"])
    monkeypatch.setattr(verdict_views, "utcnow", lambda: now["now"])
    return now


def rate(db, code, level: int = 1, *, phone: str | None = PHONE, text: str = TYPED, now: datetime = MORNING,
         device: str = "a" * 20) -> FollowupCase:
    thanks = r.submit_rating(db, code, level, ["attitude", "slow"], text, phone=phone, device=device,
                             network="203.0.113.7", now=now)
    db.commit()
    return db.scalars(select(FollowupCase).where(FollowupCase.rating_id == thanks.rating_id)).one()


@pytest.fixture
def world(db):
    """A 差评 of the section (unit 县发改局) with a phone, one of the window (given to no
    unit) without, another unit; a liaison of each unit, an operator."""
    section, window = places(db)
    other = Unit(campaign_id=section.unit.campaign_id, name="县林业局", number=2)
    db.add(other)
    db.flush()
    section_code = codes.issue(db, actor="admin", section_id=section.id)
    window_code = codes.issue(db, actor="admin", entity_id=window.id)
    users.create_user(db, "liaison1", PASSWORD, Role.liaison, unit=section.unit)
    users.create_user(db, "liaison2", PASSWORD, Role.liaison, unit=other)
    users.create_user(db, "operator1", PASSWORD, Role.operator)
    db.commit()
    return {"section": section, "window": window, "unit": section.unit, "other": other,
            "section_case": rate(db, section_code), "window_case": rate(db, window_code, 2, phone=None, text="",
                                                                        device="b" * 20),
            "section_code": section_code, "window_code": window_code}


def client_of(app, username: str):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def audit_of(db, action_prefix: str = "followup.") -> list[AuditEntry]:
    db.rollback()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action.like(f"{action_prefix}%")).order_by(AuditEntry.id)))


def fresh(db, case_id: int) -> FollowupCase:
    db.rollback()
    db.expire_all()
    return db.get(FollowupCase, case_id)


def test_the_office_calls_back_and_closes_with_the_citizens_sms(app, admin_client, db, world, clock):
    case = world["section_case"]
    listed = admin_client.get(f"{OFFICE}/")
    assert listed.status_code == 200 and "价格科" in text(listed) and "公安局窗口" in text(listed)
    assert "2026-06-08" in text(listed) and "已超期" not in text(listed).split('id="cases"')[1]
    page = admin_client.get(f"{OFFICE}/{case.id}")
    shown = text(page)
    assert page.status_code == 200 and "138****5678" in shown and PHONE not in shown
    assert "139-1234-5678" in shown  # the text as typed: the office reads it whole
    assert "态度不好、效率低" in shown and "非常不满意" in shown and "2026-06-01 10:00" in shown
    assert "截止 2026-06-08" in shown and "预计" not in shown
    assert 'id="callback-form"' in shown and "请先记录回访情况，再办结。" in shown

    # Closing before the call-back, or an empty finding: refused, nothing stored.
    before = snapshot(db)
    early = admin_client.post(f"{OFFICE}/{case.id}/close", data={"confirmed": "1"})
    assert early.status_code == 400 and "请先记录回访情况" in text(early)
    empty = admin_client.post(f"{OFFICE}/{case.id}/callback", data={"finding": "   "})
    assert empty.status_code == 400 and "请填写回访情况" in text(empty)
    assert changed(before, snapshot(db)) == []

    done = admin_client.post(f"{OFFICE}/{case.id}/callback", data={"finding": "已致电群众核实，反映属实。"})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"{OFFICE}/{case.id}")
    assert fresh(db, case.id).callback_finding == "已致电群众核实，反映属实。"
    assert "已致电群众核实" in text(admin_client.get(f"{OFFICE}/{case.id}"))

    # The closing asks first: the confirmation says an SMS goes; nothing stored yet.
    before = snapshot(db)
    asked = admin_client.post(f"{OFFICE}/{case.id}/close")
    assert asked.status_code == 200 and "请确认：办结差评" in text(asked) and "将向群众发送短信" in text(asked)
    assert 'name="confirmed" value="1"' in text(asked)
    assert changed(before, snapshot(db)) == []
    clock["now"] = MORNING + timedelta(days=2)
    closed = admin_client.post(f"{OFFICE}/{case.id}/close", data={"confirmed": "1"})
    assert closed.status_code == 303
    after = fresh(db, case.id)
    assert after.closed_by == "admin" and after.phone is None and after.verdict_nonce
    [message] = db.scalars(select(OutboxMessage)).all()
    token = cases.verdict_tokens(app).sign(after)
    link = f"{PUBLIC_URL}/r/case/{token}"
    assert message.template == FOLLOWUP_VERDICT and message.phone == PHONE
    assert message.params["token"] == token and message.params["address"] == f"{PUBLIC_URL}/r/case/"
    assert message.text == (f"【县千人评议办】您对县发改局价格科提出的意见已办理完毕，请打开 {link} 评价处理结果是否满意，"
                            "有效期至7月3日。")
    assert scrub(FOLLOWUP_VERDICT, message.params)[1].endswith(f"/r/case/{SCRUBBED} 评价处理结果是否满意，有效期至7月3日。")
    # The link answers; the page says the SMS went and no longer has the number.
    assert app.test_client().get(f"/r/case/{token}").status_code == 200
    page = text(admin_client.get(f"{OFFICE}/{case.id}"))
    assert "已发送满意度评价短信" in page and "138****5678" not in page and "已发短信，群众尚未评价" in page
    assert 'id="callback-form"' not in page and "close-form" not in page

    # Audited: the call-back and the closing (with the SMS), no phone and no text.
    entries = audit_of(db)
    assert [e.action for e in entries] == ["followup.callback", "followup.close"]
    assert entries[1].detail["verdict_sms"] is True and entries[1].actor == "admin"
    logged = repr([e.detail for e in entries])
    for secret in (PHONE, "5678", "态度生硬", "反映属实", token):
        assert secret not in logged

    # A closed case takes no more steps: 409, nothing stored.
    before = snapshot(db)
    again = admin_client.post(f"{OFFICE}/{case.id}/close", data={"confirmed": "1"})
    assert again.status_code == 409 and "已经办结" in text(again)
    late = admin_client.post(f"{OFFICE}/{case.id}/callback", data={"finding": "再次回访。"})
    assert late.status_code == 409 and "已经办结" in text(late)
    assert changed(before, snapshot(db)) == []


def test_a_case_without_a_phone_closes_without_an_sms(app, admin_client, db, world, clock):
    case = world["window_case"]
    assert "未留" in text(admin_client.get(f"{OFFICE}/{case.id}"))
    assert admin_client.post(f"{OFFICE}/{case.id}/callback", data={"finding": "无法联系群众，已查看监控。"}).status_code == 303
    asked = admin_client.post(f"{OFFICE}/{case.id}/close")
    assert "群众没有留下手机号码，不发送满意度评价短信。" in text(asked) and "单位尚未填写整改情况。" in text(asked)
    assert admin_client.post(f"{OFFICE}/{case.id}/close", data={"confirmed": "1"}).status_code == 303
    after = fresh(db, case.id)
    assert after.closed_at is not None and after.verdict_nonce is None
    assert db.scalars(select(OutboxMessage)).all() == []
    assert audit_of(db)[-1].detail["verdict_sms"] is False


def test_the_unit_sees_its_own_cases_without_who_and_records_the_rectification(app, db, world, clock):
    case, window_case = world["section_case"], world["window_case"]
    liaison = client_of(app, "liaison1")
    listed = liaison.get(f"{UNIT}/")
    assert listed.status_code == 200 and "价格科" in text(listed)
    assert "公安局窗口" not in text(listed)  # a window given to no unit: the office's alone
    page = liaison.get(f"{UNIT}/{case.id}")
    shown = text(page)
    assert page.status_code == 200 and "态度不好、效率低" in shown and "非常不满意" in shown
    assert "工作人员态度生硬，让我打电话 〔已隐去〕 再来。" in shown
    assert "2026-06-01" in shown and not re.search(r"\d{1,2}:\d{2}", shown)  # the day, no time of day
    for personal in (PHONE, "138****", "5678", "139-1234", "case-phone", "手机号码："):
        assert personal not in shown, personal
    # The rectification: empty refused; recorded and audited; shown to the office.
    before = snapshot(db)
    empty = liaison.post(f"{UNIT}/{case.id}/rectify", data={"rectification": ""})
    assert empty.status_code == 400 and "请填写整改情况" in text(empty)
    assert changed(before, snapshot(db)) == []
    done = liaison.post(f"{UNIT}/{case.id}/rectify", data={"rectification": "已对窗口人员批评教育。"})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"{UNIT}/{case.id}")
    assert fresh(db, case.id).rectified_by == "liaison1"
    assert [e.action for e in audit_of(db)] == ["followup.rectify"]
    assert "批评教育" not in repr(audit_of(db)[0].detail)
    shown = text(liaison.get(f"{UNIT}/{case.id}"))
    assert "已对窗口人员批评教育。" in shown and not re.search(r"\d{1,2}:\d{2}", shown)
    # A window the office gives to the unit: its case becomes the unit's.
    world["window"].unit_id = world["unit"].id
    db.merge(world["window"])
    db.commit()
    assert "公安局窗口" in text(liaison.get(f"{UNIT}/"))
    assert liaison.get(f"{UNIT}/{window_case.id}").status_code == 200


def test_another_units_liaison_gets_404_and_the_office_pages_403(app, admin, db, world, clock):
    case = world["section_case"]
    other = client_of(app, "liaison2")
    before = snapshot(db)
    assert other.get(f"{UNIT}/").status_code == 200 and "价格科" not in text(other.get(f"{UNIT}/"))
    for method, path, data in [("GET", f"{UNIT}/{case.id}", None),
                               ("POST", f"{UNIT}/{case.id}/rectify", {"rectification": "别的单位的整改。"}),
                               ("GET", f"{UNIT}/999999", None),
                               ("POST", f"{UNIT}/999999/rectify", {"rectification": "整改。"})]:
        response = other.open(path, method=method, data=data)
        assert response.status_code == 404 and "没有编号为" in text(response), (method, path)
        assert "价格科" not in text(response) and "态度生硬" not in text(response)
    for client in (other, client_of(app, "liaison1")):
        for method, path, data in [("GET", f"{OFFICE}/", None), ("GET", f"{OFFICE}/{case.id}", None),
                                   ("POST", f"{OFFICE}/{case.id}/callback", {"finding": "x"}),
                                   ("POST", f"{OFFICE}/{case.id}/close", {"confirmed": "1"})]:
            response = client.open(path, method=method, data=data)
            assert response.status_code == 403 and "没有访问这个页面的权限" in text(response), (method, path)
    # The units' pages are the liaisons': the office gets 403, a visitor the login.
    for client in (client_of(app, "admin"), client_of(app, "operator1")):
        for method, path, data in [("GET", f"{UNIT}/", None), ("GET", f"{UNIT}/{case.id}", None),
                                   ("POST", f"{UNIT}/{case.id}/rectify", {"rectification": "x"})]:
            assert client.open(path, method=method, data=data).status_code == 403, (method, path)
    visitor = app.test_client()
    for path in (f"{OFFICE}/", f"{OFFICE}/{case.id}", f"{UNIT}/", f"{UNIT}/{case.id}"):
        assert visitor.get(path).status_code in (302, 401), path
    assert changed(before, snapshot(db)) == []


def test_an_operator_reads_and_changes_nothing(app, admin, db, world, clock):
    case = world["section_case"]
    operator = client_of(app, "operator1")
    before = snapshot(db)
    assert operator.get(f"{OFFICE}/").status_code == 200
    page = operator.get(f"{OFFICE}/{case.id}")
    assert page.status_code == 200 and "138****5678" in text(page)
    assert 'id="callback-form"' not in text(page) and "close-form" not in text(page)
    for path, data in ((f"{OFFICE}/{case.id}/callback", {"finding": "x"}), (f"{OFFICE}/{case.id}/close", {"confirmed": "1"})):
        assert operator.post(path, data=data).status_code == 403, path
    assert changed(before, snapshot(db)) == []


def test_overdue_is_counted_in_working_days_across_a_holiday(app, admin_client, db, world, clock):
    """A 差评 on Monday 22 September 2025 is due on Sunday 28 September (a make-up working
    day before the National Day holiday, 1–8 October); on Thursday 9 October it is 3
    working days over (29 and 30 September, 9 October), not 11 days."""
    rated = datetime(2025, 9, 22, 2, 0, tzinfo=timezone.utc)
    late = rate(db, world["section_code"], 2, phone=None, text="", now=rated, device="c" * 20)
    clock["now"] = datetime(2025, 9, 28, 15, 59, tzinfo=timezone.utc)  # 23:59 on the 28th in Shanghai
    row = text(admin_client.get(f"{OFFICE}/")).split(f'id="case-{late.id}"')[1].split("</tr>")[0]
    assert "2025-09-28" in row and "已超期" not in row and "办理中" in row
    clock["now"] = datetime(2025, 10, 1, 2, 0, tzinfo=timezone.utc)  # the holiday's first day
    row = text(admin_client.get(f"{OFFICE}/")).split(f'id="case-{late.id}"')[1].split("</tr>")[0]
    assert "已超期</span> 2 个工作日" in row
    clock["now"] = datetime(2025, 10, 9, 2, 0, tzinfo=timezone.utc)
    listed = text(admin_client.get(f"{OFFICE}/"))
    row = listed.split(f'id="case-{late.id}"')[1].split("</tr>")[0]
    assert "已超期</span> 3 个工作日" in row
    assert "已超期 1 件" in listed  # the 2026 cases are not due yet
    page = text(admin_client.get(f"{OFFICE}/{late.id}"))
    assert "截止 2025-09-28" in page and "超过 3 个工作日" in page
    # The overdue filter; the unit's list flags it too.
    overdue = text(admin_client.get(f"{OFFICE}/?status=overdue"))
    assert f'id="case-{late.id}"' in overdue and f'id="case-{world["section_case"].id}"' not in overdue
    unit = text(client_of(app, "liaison1").get(f"{UNIT}/"))
    assert "已超期 1 件" in unit and "已超期</span> 3 个工作日" in unit.split(f'id="case-{late.id}"')[1]
    # The rating codes' page counts them.
    index = admin_client.get("/office/ratings/")
    assert "已超期 1 件" in text(index)


def test_a_year_the_calendar_does_not_know_is_marked_estimated(app, admin_client, db, world, clock):
    later = rate(db, world["section_code"], 1, phone=None, text="", now=datetime(2031, 3, 3, 2, 0, tzinfo=timezone.utc),
                 device="d" * 20)
    clock["now"] = datetime(2031, 3, 3, 3, 0, tzinfo=timezone.utc)
    page = text(admin_client.get(f"{OFFICE}/{later.id}"))
    assert "截止 2031-03-10（预计）" in page and "暂按周一至周五计算" in page


def test_the_office_list_filters_by_state_and_unit_and_pages(app, admin_client, db, world, clock, monkeypatch):
    section_case, window_case = world["section_case"], world["window_case"]
    admin_client.post(f"{OFFICE}/{window_case.id}/callback", data={"finding": "已回访。"})
    admin_client.post(f"{OFFICE}/{window_case.id}/close", data={"confirmed": "1"})

    def ids(query: str = "") -> list[int]:
        return [int(n) for n in re.findall(r'<tr id="case-(\d+)"', text(admin_client.get(f"{OFFICE}/{query}")))]

    assert ids() == [section_case.id, window_case.id]  # the open one first
    assert ids("?status=open") == [section_case.id] and ids("?status=closed") == [window_case.id]
    assert ids("?status=overdue") == []
    assert ids(f"?unit={world['unit'].id}") == [section_case.id]
    assert ids(f"?unit={world['other'].id}") == [section_case.id, window_case.id]  # a unit with no case: not offered
    assert "地址中的参数 unit" in text(admin_client.get(f"{OFFICE}/?unit={world['other'].id}"))
    assert "地址中的参数 status" in text(admin_client.get(f"{OFFICE}/?status=nonsense"))
    monkeypatch.setattr(case_views, "PER_PAGE", 1)
    assert ids() == [section_case.id] and ids("?page=2") == [window_case.id] and ids("?page=9") == [window_case.id]
    assert "下一页" in text(admin_client.get(f"{OFFICE}/"))
