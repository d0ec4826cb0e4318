"""The review office's survey-round pages: set up, open (invitations and SMS in one
transaction), live progress, reminders, close; who may do what."""
from __future__ import annotations

import random
import re
from datetime import datetime, timezone

from sqlalchemy import func, select

from tests.conftest import PASSWORD, login
from voting.demo.campaign import synth_objects
from voting.survey.models import Channel, Choice, Invitation, RoundStatus, SurveyRound
from voting.outbox.models import OutboxMessage, OutboxStatus
from voting.staff.models import Role
from voting.lists.models import RoundKind, Unit
from voting.lists import objects
from voting.survey import rounds
from voting.staff import users
from voting.survey.votes import cast_vote

PRICE = ("县发改局", "价格科")


def upload(db, campaign, count=12):
    frame = synth_objects(random.Random(3), count)
    frame.insert(0, "科室", PRICE[1])
    frame.insert(0, "单位名称", PRICE[0])
    objects.import_objects(db, campaign, RoundKind.H1, frame.to_csv(index=False).encode(), "o.csv")
    db.commit()


def count(db, model) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


FORM = {"kind": "H1", "closes_at": "2099-06-30T18:00", "sample_size": "5", "mode": "link", "reminder_after_hours": "48"}


def test_set_up_open_follow_and_close_a_round(admin_client, db, campaign):
    upload(db, campaign)
    assert "新建调查轮次" in admin_client.get("/office/rounds/").get_data(as_text=True)
    response = admin_client.post("/office/rounds/", data=FORM)
    assert response.status_code == 303
    survey = db.scalar(select(SurveyRound))
    assert survey.status == RoundStatus.draft and survey.sample_size == 5 and count(db, Invitation) == 0
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "开始发送" in page and f"抽样种子 {survey.seed}" in page

    # The first POST (no JavaScript) asks first, in numbers, and does nothing.
    asked = admin_client.post(f"/office/rounds/{survey.id}/open").get_data(as_text=True)
    assert "请确认：开始发送 H1 轮调查" in asked and "向 1 个科室的服务对象写入 5 条邀请短信" in asked
    assert "还有 362 个参评科室（分属 44 个单位）没有本轮服务对象名单" in asked
    assert count(db, Invitation) == 0
    # Confirmed without ticking the consequence: asked again, still nothing.
    unticked = admin_client.post(f"/office/rounds/{survey.id}/open", data={"confirmed": "1"})
    assert unticked.status_code == 422 and "请先勾选确认框" in unticked.get_data(as_text=True)
    assert count(db, Invitation) == 0
    response = admin_client.post(f"/office/rounds/{survey.id}/open", data={"confirmed": "1", "acknowledged": "y"})
    assert response.status_code == 303 and response.headers["Location"].startswith("/office/jobs/")
    assert count(db, Invitation) == 5 and count(db, OutboxMessage) == 5
    # The job's page: done, what it did, the sections left out by name, the way back.
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已完成" in page and "1 个科室共 5 份邀请" in page and f'href="/office/rounds/{survey.id}"' in page
    assert "没有本轮名单、未发出邀请的科室（362 个）" in page and "<li>县发改局 发展规划综合科</li>" in page
    page = admin_client.get(f"/office/rounds/{survey.id}").get_data(as_text=True)
    assert "进行中" in page and 'http-equiv="refresh"' in page and "价格科" in page

    invitation = db.scalars(select(Invitation)).first()
    cast_vote(db, invitation.id, Choice.satisfied, Channel.link)
    db.commit()
    page = admin_client.get(f"/office/rounds/{survey.id}").get_data(as_text=True)
    assert "20.0%" in page  # 1 of 5

    asked = admin_client.post(f"/office/rounds/{survey.id}/remind").get_data(as_text=True)
    assert "向 0 位尚未评价" in asked  # nothing sent yet: nobody is due
    confirmed = {"confirmed": "1"}
    assert admin_client.post(f"/office/rounds/{survey.id}/remind", data=confirmed).status_code == 303
    assert count(db, OutboxMessage) == 5
    asked = admin_client.post(f"/office/rounds/{survey.id}/close").get_data(as_text=True)
    assert "现已评价 1 人，共邀请 5 人，回复率 20.0%" in asked and "尚未发出的 5 条短信将作废" in asked
    assert db.get(SurveyRound, survey.id).status == RoundStatus.open
    assert admin_client.post(f"/office/rounds/{survey.id}/close", data=confirmed).status_code == 303
    db.expire_all()
    assert db.get(SurveyRound, survey.id).status == RoundStatus.closed
    # The messages that had not gone never will.
    assert {m.status for m in db.scalars(select(OutboxMessage))} == {OutboxStatus.void}
    # Opening again is refused with a clear message, nothing added.
    response = admin_client.post(f"/office/rounds/{survey.id}/open")
    assert response.status_code == 400 and "不能再次开始" in response.get_data(as_text=True)
    assert count(db, Invitation) == 5


def test_bad_round_settings_are_refused_with_a_message(admin_client, db, campaign):
    for change, message in (({"closes_at": "2001-01-01T10:00"}, "截止时间必须晚于现在"),
                            ({"sample_size": "0"}, "抽样人数应在 1 到 500 之间"),
                            ({"closes_at": ""}, "请填写截止时间"),
                            ({"kind": "H9"}, "")):
        response = admin_client.post("/office/rounds/", data={**FORM, **change})
        assert response.status_code == 422 and message in response.get_data(as_text=True), change
    assert count(db, SurveyRound) == 0
    admin_client.post("/office/rounds/", data=FORM)
    response = admin_client.post("/office/rounds/", data=FORM)
    assert response.status_code == 422 and "已有 H1 轮调查" in response.get_data(as_text=True)


def test_readers_see_and_only_the_admin_acts(client, db, campaign):
    upload(db, campaign)
    survey = rounds.create_round(db, campaign, RoundKind.H1, datetime(2099, 1, 1, tzinfo=timezone.utc), 5)
    unit = db.scalar(select(Unit).where(Unit.name == PRICE[0]))
    users.create_user(db, "operator", PASSWORD, Role.operator)
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    db.commit()
    login(client, "operator")
    page = client.get(f"/office/rounds/{survey.id}").get_data(as_text=True)
    assert "开始发送：抽样" not in page and "尚未开始" in page
    for path in (f"/office/rounds/{survey.id}/open", "/office/rounds/"):
        assert client.post(path, data=FORM).status_code == 403
    assert count(db, Invitation) == 0
    client.post("/logout")
    login(client, "liaison")
    assert client.get("/office/rounds/999999").status_code == 404
    assert client.post(f"/office/rounds/{survey.id}/open").status_code == 403
    assert count(db, Invitation) == 0


def test_a_liaison_sees_only_the_units_sections_with_small_counts_hidden(client, db, campaign):
    upload(db, campaign)
    other = ("县公安局", "治安大队")
    frame = synth_objects(random.Random(4), 8)
    frame.insert(0, "科室", other[1])
    frame.insert(0, "单位名称", other[0])
    objects.import_objects(db, campaign, RoundKind.H1, frame.to_csv(index=False).encode(), "o2.csv",
                           all_penalized_reported=True)
    survey = rounds.create_round(db, campaign, RoundKind.H1, datetime(2099, 1, 1, tzinfo=timezone.utc), 12)
    from tests.survey.test_rounds import TOKENS, WORDING

    rounds.open_round(db, campaign, survey, TOKENS, WORDING)
    price = db.scalars(select(Invitation).join(Invitation.section).where(Invitation.section.has(name=PRICE[1]))).all()
    for invitation, choice in zip(price[:6], [Choice.satisfied] * 5 + [Choice.unsatisfied]):
        cast_vote(db, invitation.id, choice, Channel.link)
    unit = db.scalar(select(Unit).where(Unit.name == PRICE[0]))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    db.commit()
    login(client, "liaison")
    page = client.get(f"/office/rounds/{survey.id}").get_data(as_text=True)
    assert "价格科" in page and "治安大队" not in page and "县公安局" not in page.split("<main>", 1)[1]
    row = page.split("价格科", 1)[1].split("</tr>", 1)[0]
    cells = [c.strip() for c in re.findall(r'<td class="num">([^<]*)</td>', row)]
    # invited 12, sent 0, delivered 0, failed 0, opened 0, voted 6, no rate, 满意 5, 基本满意 <5, 不满意 <5
    assert cells == ["12", "0", "0", "0", "0", "6", "", "5", "&lt;5", "&lt;5"], cells
    assert "开始发送" not in page and "结束本轮调查" not in page
    index = client.get("/office/rounds/").get_data(as_text=True)
    assert ">12</td>" in index and ">6</td>" in index  # the unit's own totals only
