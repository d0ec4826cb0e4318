"""The overview (概况): the campaign's stage in the menu, the next step, the workflow's
steps with their numbers, and what each unit still has to send."""
from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import PASSWORD, login
from tests.survey.test_rounds import CLOSES, NOW, PRICE, upload
from voting.staff.models import Role
from voting.lists.models import RoundKind, Unit
from voting.office import overview
from voting.survey import rounds
from voting.staff import users
from tests.support.web import text


def test_the_steps_count_what_is_there_and_the_first_missing_is_next(db, campaign):
    seen = overview.overview(db, campaign)
    assert seen.next_step.title == "导入往年评议结果" and seen.stage == "名单"
    assert seen.steps[0].done and "共 363 个科室" in seen.steps[0].said
    taking_part = sum(u.sections for u in seen.units)
    upload(db, campaign, PRICE, 6)
    seen = overview.overview(db, campaign)
    h1 = next(s for s in seen.steps if s.title == "报送 H1 轮服务对象名单")
    assert not h1.done and h1.said.startswith(f"1 / {taking_part} 个科室已报送H1轮服务对象名单")
    fgj = next(u for u in seen.units if u.unit == PRICE[0])
    assert fgj.lists[RoundKind.H1] == 1 and fgj.missing(RoundKind.H1) == fgj.sections - 1
    assert sum(u.missing(RoundKind.H1) for u in seen.units) == taking_part - 1
    survey = rounds.create_round(db, campaign, RoundKind.H1, CLOSES, 5, now=NOW)
    db.commit()
    step = next(s for s in overview.overview(db, campaign).steps if s.title == "H1 轮服务对象调查")
    assert not step.done and step.said == "H1 轮调查：未开始。" and step.params == {"round_id": survey.id}


def test_the_overview_page_and_the_menu_show_the_stage_and_the_next_step(admin_client, db, campaign):
    upload(db, campaign, PRICE, 6)
    page = text(admin_client.get("/office/"))
    assert "2021 年度 · 当前：名单" in page  # the menu, on every staff page
    assert "下一步：导入往年评议结果" in page
    row = re.search(r"<tr><td>县发改局</td>.*?</tr>", page, re.S).group(0)
    assert "（缺" in row  # its other sections have no list yet
    assert "2021 年度 · 当前：名单" in text(admin_client.get("/office/rounds/"))


def test_a_liaison_sees_the_own_units_row_and_steps_only(client, db, campaign):
    unit = db.scalar(select(Unit).where(Unit.name == PRICE[0]))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    db.commit()
    login(client, "liaison")
    page = text(client.get("/office/"))
    assert page.count("<tr><td>") == 1 and "<tr><td>县发改局</td>" in page
    assert "下一步：报送 H1 轮服务对象名单" in page and "导入往年评议结果" not in page
