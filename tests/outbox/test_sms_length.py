"""What an invitation costs where a provider bills per 70 characters: code mode's short
messages fit in one SMS for every one of the 363 real sections with a short address,
name the place as fully as the room allows, hide their code once sent, and the round's
start says how long its longest message is."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from sms.templates import (
    INVITE_CODE, INVITE_CODE_SHORT, REMINDER_CODE_SHORT, SCRUBBED, fit, places, render, scrub, segments,
)
from tests.conftest import SECTIONS_CSV
from tests.survey.test_rounds import CLOSES, NOW, PRICE, TOKENS, WORDING, upload
from voting.survey.models import InviteMode
from voting.outbox.models import OutboxMessage
from voting.lists.models import RoundKind
from voting.survey import rounds

SECTIONS = pd.read_csv(SECTIONS_CSV)
SHORT = {"sign": "县千人评议办", "address": "pyx.gov.cn/c", "code": "ABCD2345", "closes": "12月20日20:00"}


def test_segments_follow_the_carriers_count():
    assert [segments("字" * n) for n in (0, 70, 71, 134, 135)] == [1, 1, 2, 2, 3]


def test_the_place_drops_bracketed_other_names_and_keeps_a_self_named_section():
    assert places("县财政局", "综合科(平阳县非税收入收缴中心)") == ["县财政局综合科(平阳县非税收入收缴中心)", "县财政局综合科"]
    assert places("县民政局", "县社会救助综合服务中心(挂县流浪乞讨人员救助管理站)")[-1] == "县社会救助综合服务中心"
    assert places("县发改局", "价格科") == ["县发改局价格科"]


@pytest.mark.parametrize("template", [INVITE_CODE_SHORT, REMINDER_CODE_SHORT])
def test_every_real_section_fits_one_sms_with_a_short_address(template):
    for unit, section in zip(SECTIONS["单位名称"], SECTIONS["科室"]):
        params = fit(template, SHORT, unit, section)
        text = render(template, params)
        assert len(text) <= 70 and segments(text) == 1, text
        assert "ABCD2345" in text and "pyx.gov.cn/c" in text and "12月20日20:00" in text
        place = params["place"]
        # The whole name when it fits; a name cut short says so and still starts with the unit.
        assert place in places(unit, section) or (place.endswith("…") and place.startswith(unit)), place


def test_a_long_address_leaves_the_unit_named_and_the_message_in_two_parts():
    long = {**SHORT, "address": "pingyi.example.gov.cn/c"}
    params = fit(INVITE_CODE_SHORT, long, "县自然资源和规划局", "县林业种苗管理和森林病虫害防治站")
    text = render(INVITE_CODE_SHORT, params)
    assert params["place"].startswith("县自然资源和规划局") and params["place"].endswith("…")
    assert len(text) > 70 and segments(text) == 2


def test_the_long_code_invitation_takes_three_messages_the_short_one():
    long = render(INVITE_CODE, {"sign": "县千人评议办", "date": "2021年上半年", "unit": PRICE[0], "section": PRICE[1],
                                "matter": "价格认定", "address": "pyx.gov.cn/c", "code": "ABCD2345",
                                "closes": "12月20日20:00", "reply_hint": ""})
    assert segments(long) >= 2
    assert segments(render(INVITE_CODE_SHORT, fit(INVITE_CODE_SHORT, SHORT, *PRICE))) == 1


def test_a_short_messages_code_is_scrubbed_once_sent():
    params = fit(INVITE_CODE_SHORT, SHORT, *PRICE)
    kept, text = scrub(INVITE_CODE_SHORT, params)
    assert kept["code"] == SCRUBBED and "ABCD2345" not in text and "县发改局价格科" in text


def test_a_code_round_with_single_messages_writes_short_invitations_and_reminders(db, campaign):
    words = dataclasses.replace(WORDING, single=True)
    upload(db, campaign, PRICE, 3)
    survey = rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 10, InviteMode.code, now=NOW)
    rounds.open_round(db, campaign, survey, TOKENS, words, now=NOW)
    db.commit()
    messages = db.scalars(select(OutboxMessage)).all()
    assert len(messages) == 3
    for message in messages:
        assert message.template == INVITE_CODE_SHORT and len(message.text) <= 70
        assert message.params["code"] in message.text and "县发改局价格科" in message.text
        message.sent_at = NOW
    db.commit()
    later = NOW + timedelta(hours=survey.reminder_after_hours)
    assert rounds.remind(db, campaign, survey, TOKENS, words, now=later) == 3
    db.commit()
    reminders = db.scalars(select(OutboxMessage).where(OutboxMessage.template == REMINDER_CODE_SHORT)).all()
    assert len(reminders) == 3 and all(len(m.text) <= 70 and m.text.startswith("【平阳县评议办】提醒") for m in reminders)


def test_a_link_round_is_unchanged_by_the_setting(db, campaign):
    upload(db, campaign, PRICE, 2)
    survey = rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 10, InviteMode.link, now=NOW)
    rounds.open_round(db, campaign, survey, TOKENS, dataclasses.replace(WORDING, single=True), now=NOW)
    assert {m.template for m in db.scalars(select(OutboxMessage))} == {"invite_link"}


def test_the_start_says_how_long_the_longest_message_is(app, admin_client, db, campaign):
    upload(db, campaign, PRICE, 6)
    survey = rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 5, InviteMode.code, now=NOW)
    db.commit()
    ready = rounds.readiness(db, campaign, survey)
    assert "".join(ready.longest) == "县文旅集团平阳县红色旅游培训有限公司(中国工农红军挺进师纪念园、中共省一大纪念园)"
    page = admin_client.get(f"/office/rounds/{survey.id}").get_data(as_text=True)
    assert "最长的一条邀请短信" in page and "评价码方式可改为每条 70 字以内的短版" in page
    app.config["SMS_SINGLE_MESSAGE"] = True
    app.config["PUBLIC_URL"] = "https://pyx.gov.cn"
    try:
        page = admin_client.get(f"/office/rounds/{survey.id}").get_data(as_text=True)
    finally:
        app.config["SMS_SINGLE_MESSAGE"] = False
        app.config["PUBLIC_URL"] = None
    assert "按 70 字一条计费的服务商计为 1 条" in page and "可改为每条 70 字以内的短版" not in page
