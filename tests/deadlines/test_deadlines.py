"""The office's deadlines and the liaisons' reminders (voting/deadlines/deadlines.py,
voting/deadlines/views.py, the minute sweep in voting/tasks.py), on SQLite and
PostgreSQL: the rules' dates until the office sets its own; the units still owing,
each with the liaisons that can be reached; one reminder per liaison, deadline and
day, automatic once on its day, at once when the office confirms; nothing owed once
it cannot be given; the liaisons' phones sealed, masked and never in the audit log."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select, text

from sms.templates import LIAISON_REMINDER
from tests.conftest import login
from tests.office.test_exports import as_user, make_user
from tests.survey.test_rounds import TOKENS, WORDING
from tests.survey.test_rounds_web import PRICE, upload
from voting import tasks
from voting.core.errors import DomainError
from voting.audit.models import AuditEntry
from voting.deadlines.models import Deadline, DeadlineKind
from voting.outbox.models import OutboxMessage
from voting.staff.models import Role, User
from voting.lists.models import RoundKind, Unit
from voting.deadlines import deadlines
from voting.survey import rounds
from voting.staff import users
from voting.office.overview import overview

PHONE = "13812345678"
OTHER_PHONE = "13987654321"
SIGN = "平阳县千人评议办"
LOGIN_URL = "https://pingyi.example.cn/login"


def _unit(db, name: str) -> Unit:
    return db.scalar(select(Unit).where(Unit.name == name))


def _liaison(db, name: str, unit: Unit, phone: str | None) -> User:
    user = users.create_user(db, name, "x" * 16, Role.liaison, unit)
    if phone:
        users.set_phone(db, user, phone, "admin")
    db.commit()
    return user


def _phone(db, user: User) -> str | None:
    db.rollback()
    db.expire_all()
    return db.get(User, user.id).phone


def _reminders(db) -> list[OutboxMessage]:
    db.rollback()
    return db.scalars(select(OutboxMessage).where(OutboxMessage.template == LIAISON_REMINDER)
                      .order_by(OutboxMessage.id)).all()


def _remind(db, campaign, kind=DeadlineKind.list_h1, today=date(2021, 6, 7)):
    done = deadlines.remind(db, campaign, kind, due_on=date(2021, 6, 10), today=today, sign=SIGN,
                            login_url=LOGIN_URL, actor="admin")
    db.commit()
    return done


def test_the_rules_dates_until_the_office_sets_its_own(db, campaign):
    plans = deadlines.plans(db, campaign)
    assert {k: (p.due_on, p.saved) for k, p in plans.items()} == {
        DeadlineKind.list_h1: (date(2021, 6, 10), False), DeadlineKind.list_h2: (date(2021, 10, 10), False),
        DeadlineKind.supervisor: (date(2021, 11, 10), False)}
    deadlines.set_deadline(db, campaign, DeadlineKind.list_h2, date(2021, 10, 15), 5, "admin")
    deadlines.set_deadline(db, campaign, DeadlineKind.list_h2, date(2021, 10, 12), 2, "admin")
    db.commit()
    plan = deadlines.plans(db, campaign)[DeadlineKind.list_h2]
    assert (plan.due_on, plan.remind_days, plan.saved, plan.reminder_day) == (date(2021, 10, 12), 2, True, date(2021, 10, 10))
    assert db.scalar(select(func.count()).select_from(Deadline)) == 1
    entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "deadline.set").order_by(AuditEntry.id)).all()
    assert [e.detail["due_on"] for e in entries] == ["2021-10-15", "2021-10-12"]
    assert entries[1].detail["previous"] == {"due_on": "2021-10-15", "remind_days": 5}
    for due, days, said in ((date(2022, 1, 5), 3, "应在 2021 年内"), (date(2021, 10, 1), 61, "0 到 60 之间")):
        with pytest.raises(DomainError, match=said):
            deadlines.set_deadline(db, campaign, DeadlineKind.list_h1, due, days, "admin")
        db.rollback()


def test_the_units_owing_with_the_liaisons_that_can_be_reached(db, campaign):
    upload(db, campaign)  # 县发改局 价格科 has its H1 list
    development = _unit(db, PRICE[0])
    police = _unit(db, "县公安局")
    _liaison(db, "dev", development, PHONE)
    _liaison(db, "police", police, None)  # no phone: cannot be reminded
    owing = {o.unit: o for o in deadlines.owing(db, campaign, DeadlineKind.list_h1)}
    table = {u.unit: u for u in overview(db, campaign).units}
    assert set(owing) == {name for name, u in table.items() if u.missing(RoundKind.H1)}
    assert owing[PRICE[0]].missing == table[PRICE[0]].missing(RoundKind.H1) == table[PRICE[0]].sections - 1
    assert [u.username for u in owing[PRICE[0]].liaisons] == ["dev"] and not owing["县公安局"].reachable


def test_one_reminder_per_liaison_deadline_and_day_with_the_units_numbers(db, campaign):
    development = _unit(db, PRICE[0])
    _liaison(db, "dev", development, PHONE)
    _liaison(db, "dev2", development, OTHER_PHONE)
    _liaison(db, "police", _unit(db, "县公安局"), None)
    done = _remind(db, campaign)
    assert (done.messages, done.units, done.already) == (2, 1, 0)
    units = len(overview(db, campaign).units)
    assert len(done.unreachable) == units - 1 and "县公安局" in done.unreachable
    sent = _reminders(db)
    missing = next(u for u in overview(db, campaign).units if u.unit == PRICE[0]).missing(RoundKind.H1)
    assert [m.phone for m in sent] == [PHONE, OTHER_PHONE]
    assert sent[0].text == (f"【{SIGN}】{PRICE[0]}联络员您好：H1 轮服务对象名单尚有{missing}个科室未报送，"
                            f"6月10日截止。请登录 {LOGIN_URL} 办理。")
    again = _remind(db, campaign)  # the same day: nobody twice
    assert (again.messages, again.already) == (0, 2) and len(_reminders(db)) == 2
    assert _remind(db, campaign, today=date(2021, 6, 8)).messages == 2  # the next day: again
    entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "deadline.remind")).all()
    assert [(e.detail["messages"], e.detail["units"]) for e in entries] == [(2, 1), (2, 1)]  # none for the empty one
    assert PHONE not in str([e.detail for e in db.scalars(select(AuditEntry))])


def test_nothing_is_owed_once_it_can_no_longer_be_given(db, campaign):
    _liaison(db, "dev", _unit(db, PRICE[0]), PHONE)
    upload(db, campaign)
    survey = rounds.create_round(db, campaign, RoundKind.H1, datetime(2099, 1, 1, tzinfo=timezone.utc), 5)
    db.commit()
    assert deadlines.owing(db, campaign, DeadlineKind.list_h1)  # a draft round still takes lists
    rounds.open_round(db, campaign, survey, TOKENS, WORDING)
    db.commit()
    assert deadlines.owing(db, campaign, DeadlineKind.list_h1)  # so does an open one (late lists)
    rounds.close_round(db, survey)
    db.commit()
    assert deadlines.owing(db, campaign, DeadlineKind.list_h1) == [] and not deadlines.still_owed(
        db, campaign, DeadlineKind.list_h1)
    assert _remind(db, campaign).messages == 0
    assert deadlines.owing(db, campaign, DeadlineKind.list_h2)  # the other round's lists are still owed


def test_the_automatic_reminder_goes_once_on_its_day_or_after_a_missed_one(app, db, campaign, monkeypatch):
    _liaison(db, "dev", _unit(db, PRICE[0]), PHONE)
    deadlines.set_deadline(db, campaign, DeadlineKind.list_h1, date(2021, 6, 10), 3, "admin")
    db.commit()
    assert deadlines.due_automatic(db, date(2021, 6, 6)) == []  # before the reminder day
    clock = {"now": datetime(2021, 6, 7, 1, 0, tzinfo=timezone.utc)}  # 09:00 in Beijing on the 7th
    monkeypatch.setattr(tasks, "utcnow", lambda: clock["now"])
    with app.app_context():
        tasks.deadline_reminders(app)
        tasks.deadline_reminders(app)  # the next minute: done already
    assert len(_reminders(db)) == 1
    assert db.scalar(select(Deadline.auto_reminded_for)) == date(2021, 6, 7)
    system = db.scalars(select(AuditEntry).where(AuditEntry.action == "deadline.remind")).all()
    assert [e.actor for e in system] == ["system"]
    # A changed date reminds again, on its own day; a worker that was down catches up
    # the next day, until the deadline itself.
    deadlines.set_deadline(db, campaign, DeadlineKind.list_h1, date(2021, 6, 20), 3, "admin")
    db.commit()
    clock["now"] = datetime(2021, 6, 18, 1, 0, tzinfo=timezone.utc)
    with app.app_context():
        tasks.deadline_reminders(app)
    assert len(_reminders(db)) == 2
    clock["now"] = datetime(2021, 6, 21, 1, 0, tzinfo=timezone.utc)  # past the deadline: nothing
    deadlines.set_deadline(db, campaign, DeadlineKind.list_h1, date(2021, 6, 20), 1, "admin")
    db.commit()
    with app.app_context():
        tasks.deadline_reminders(app)
    assert len(_reminders(db)) == 2


# ---- the pages ------------------------------------------------------------------------------


def test_the_office_sets_a_date_and_bad_values_are_named(admin_client, db, campaign):
    page = admin_client.get("/office/deadlines/").get_data(as_text=True)
    assert "H1 轮服务对象名单：6月10日截止" in page and "按评议办法的日期，尚未设定" in page
    response = admin_client.post("/office/deadlines/list_h2", data={"list_h2-due_on": "2021-10-12",
                                                                     "list_h2-remind_days": "4"})
    assert response.status_code == 302
    page = admin_client.get("/office/deadlines/").get_data(as_text=True)
    assert "已设定：H2 轮服务对象名单10月12日截止，提前 4 天自动提醒" in page and "自动提醒：10月8日（截止前 4 天）" in page
    for data, said in (({"list_h1-due_on": "2022-06-10", "list_h1-remind_days": "3"}, "截止日期应在 2021 年内"),
                       ({"list_h1-due_on": "6月10日", "list_h1-remind_days": "3"}, "不是有效的日期值"),
                       ({"list_h1-due_on": "2021-06-10", "list_h1-remind_days": "99"}, "0 到 60 之间"),
                       ({"list_h1-due_on": "2021-06-10", "list_h1-remind_days": "x"}, "提前几天自动提醒")):
        response = admin_client.post("/office/deadlines/list_h1", data=data)
        assert response.status_code == 400 and said in response.get_data(as_text=True), data
    assert admin_client.post("/office/deadlines/nothing", data={}).status_code == 404
    db.rollback()
    assert {d.kind for d in db.scalars(select(Deadline))} == {DeadlineKind.list_h2}
    assert admin_client.get("/office/deadlines/list_h1").status_code == 405  # no state change on GET


def test_reminding_from_the_page_confirms_with_the_numbers_first(admin_client, db, campaign):
    _liaison(db, "dev", _unit(db, PRICE[0]), PHONE)
    asked = admin_client.post("/office/deadlines/list_h1/remind")
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "向其中 1 个单位的 1 位联络员各发一条提醒短信" in page
    assert "没有登记手机号码的联络员，不会收到提醒" in page and _reminders(db) == []
    done = admin_client.post("/office/deadlines/list_h1/remind", data={"confirmed": "1"})
    assert done.status_code == 302 and len(_reminders(db)) == 1
    assert "已向 1 个单位的联络员写入 1 条提醒短信" in admin_client.get("/office/deadlines/").get_data(as_text=True)


def test_a_liaison_reads_the_own_unit_and_cannot_act(app, db, campaign):
    development = _unit(db, PRICE[0])
    make_user(db, "liaison", Role.liaison, development)
    client = as_user(app, "liaison")
    page = client.get("/office/deadlines/").get_data(as_text=True)
    assert PRICE[0] in page and "县公安局" not in page and "发送提醒短信" not in page
    assert client.post("/office/deadlines/list_h1", data={"list_h1-due_on": "2021-06-10",
                                                          "list_h1-remind_days": "3"}).status_code == 403
    assert client.post("/office/deadlines/list_h1/remind", data={"confirmed": "1"}).status_code == 403
    assert _reminders(db) == []


def test_the_liaisons_phone_is_set_masked_refused_when_bad_and_removed(admin_client, db, campaign):
    liaison = _liaison(db, "dev", _unit(db, PRICE[0]), None)
    assert admin_client.post(f"/office/users/{liaison.id}/phone", data={"phone": "+86 138-1234-5678"}).status_code == 302
    page = admin_client.get("/office/users/").get_data(as_text=True)
    assert "138****5678" in page and PHONE not in page
    assert _phone(db, liaison) == PHONE
    stored = db.execute(text('SELECT phone FROM "user" WHERE id = :id'), {"id": liaison.id}).scalar()
    assert stored and PHONE not in stored  # sealed at rest
    for data, said in (({"phone": "1381234"}, "应为 11 位"), ({"phone": ""}, "请填写 dev 的手机号码")):
        response = admin_client.post(f"/office/users/{liaison.id}/phone", data=data)
        assert response.status_code == 400 and said in response.get_data(as_text=True)
    assert _phone(db, liaison) == PHONE
    admin = db.scalar(select(User).where(User.username == "admin"))
    response = admin_client.post(f"/office/users/{admin.id}/phone", data={"phone": PHONE})
    assert response.status_code == 400 and "只有单位联络员" in response.get_data(as_text=True)
    assert admin_client.post(f"/office/users/{liaison.id}/phone", data={"phone": "", "clear": "1"}).status_code == 302
    assert _phone(db, liaison) is None
    details = [e.detail for e in db.scalars(select(AuditEntry).where(AuditEntry.action == "user.phone"))]
    assert [d["set"] for d in details] == [True, False] and PHONE not in str(details)


def test_only_the_admin_sets_phones(app, db, campaign):
    liaison = _liaison(db, "dev", _unit(db, PRICE[0]), None)
    make_user(db, "operator", Role.operator)
    assert as_user(app, "operator").post(f"/office/users/{liaison.id}/phone", data={"phone": PHONE}).status_code == 403
    assert login(app.test_client(), "dev", "x" * 16).status_code == 302  # the liaison account works as before
    assert _phone(db, liaison) is None


def test_sections_left_over_are_the_ones_counted(db, campaign):
    """The count in the message is the unit's sections without a list: after a second
    section's list it drops by one."""
    _liaison(db, "dev", _unit(db, PRICE[0]), PHONE)
    before = next(o for o in deadlines.owing(db, campaign, DeadlineKind.list_h1) if o.unit == PRICE[0]).missing
    upload(db, campaign)
    after = next(o for o in deadlines.owing(db, campaign, DeadlineKind.list_h1) if o.unit == PRICE[0]).missing
    assert after == before - 1


def test_the_overview_shows_the_dates_still_owed_to_a_liaison(app, db, campaign):
    deadlines.set_deadline(db, campaign, DeadlineKind.list_h2, date(2021, 10, 12), 3, "admin")
    db.commit()
    make_user(db, "liaison", Role.liaison, _unit(db, PRICE[0]))
    page = as_user(app, "liaison").get("/office/").get_data(as_text=True)
    assert "H2 轮服务对象名单：10月12日截止" in page and "H1 轮服务对象名单：6月10日截止" in page
    assert "按评议办法的日期，以评议办通知为准" in page  # the H1 date was not set
    plans = deadlines.plans(db, campaign)
    assert plans[DeadlineKind.list_h2].due_in(date(2021, 10, 10)) == "还有 2 天"
    assert plans[DeadlineKind.list_h2].due_in(date(2021, 10, 12)) == "今天截止"
    assert plans[DeadlineKind.list_h2].due_in(date(2021, 10, 15)) == "已过 3 天"
