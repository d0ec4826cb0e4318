"""主管单位评价 in a real headless Chromium, with CSRF on: the live tier panel as the
liaison types (the server's wording, no submit needed), the row checks, a save, the
phone width, and the same form without JavaScript, where the server's check answers."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from scoring.settings import RuleSettings
from scoring.supervisor import TierProblem, score_problem
from tests.support.browser import TIMEOUT_MS, log_in, new_page, shot
from tests.conftest import PASSWORD
from voting.staff.models import Role
from voting.lists.models import Section, Unit
from voting.components.models import SupervisorScore
from voting.staff import users

pytestmark = pytest.mark.browser

NDRC = "县发改局"  # 14 sections: each tier holds 4 or 5
GOOD_SET = [5.0, 4.8, 4.5, 4.2, 4.0, 3.9, 3.5, 3.3, 3.0, 3.1, 2.9, 2.0, 1.5, 0.0]
BREAKING_SET = [5.0, 4.8, 4.5, 4.2, 4.0, 4.1, 3.9, 3.5, 3.3, 3.0, 3.1, 2.9, 2.0, 1.5]  # 6 / 5 / 3
OVER = TierProblem(NDRC, "优秀", 6, 4, 5).message
UNDER = TierProblem(NDRC, "一般", 3, 4, 5).message


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def ndrc(db, campaign) -> Unit:
    unit = db.scalar(select(Unit).where(Unit.campaign_id == campaign.id, Unit.name == NDRC))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    db.commit()
    return unit


def section_ids(db, unit: Unit) -> list[int]:
    return list(db.scalars(select(Section.id).where(Section.unit_id == unit.id).order_by(Section.number, Section.name)))


def stored(db, unit: Unit) -> dict[int, float]:
    db.rollback()  # a fresh snapshot: the server committed in its own session
    return dict(db.execute(
        select(SupervisorScore.section_id, SupervisorScore.score).join(Section).where(Section.unit_id == unit.id)
    ).all())


def type_scores(page, ids: list[int], values) -> None:
    for sid, value in zip(ids, values):
        page.fill(f"#score-{sid}", str(value))


def problems(page) -> list[str]:
    return page.locator("#tier-problems li").all_inner_texts()


def submit(page):
    with page.expect_navigation() as navigation:
        page.click("#supervisor-sheet button[type=submit]")
    return navigation.value


def test_live_panel_while_typing_then_save(page, db, ndrc):
    ids = section_ids(db, ndrc)
    assert len(ids) == len(GOOD_SET)
    log_in(page, "liaison", PASSWORD)
    page.goto("/office/supervisor/")
    assert page.url.endswith(f"/office/supervisor/{ndrc.id}")  # straight to their unit
    form_url = page.url
    assert page.locator("#tier-panel").get_attribute("aria-live") == "polite"
    assert page.locator("#tier-status").inner_text() == "还有 14 个科室未填写有效分值。"

    # Six 优秀 already overfill the tier before the rest is typed.
    type_scores(page, ids[:6], BREAKING_SET[:6])
    assert problems(page) == [OVER]
    assert page.locator("#tier-status").inner_text() == "还有 8 个科室未填写有效分值。"
    assert page.locator(f"#tier-{ids[5]}").inner_text() == "优秀"
    assert page.locator(".tier-count[data-tier='优秀'] b").inner_text() == "6"

    type_scores(page, ids[6:], BREAKING_SET[6:])
    assert problems(page) == [OVER, UNDER]  # the same words as the server's check
    assert page.locator(f"#tier-{ids[13]}").inner_text() == "一般"
    assert page.locator(".tier-count[data-tier='一般'] b").inner_text() == "3"
    assert page.url == form_url and stored(db, ndrc) == {}  # nothing was submitted
    shot(page, "supervisor-breaking")

    # A bad value is flagged at its row, worded as the server words it.
    rules = RuleSettings()
    page.fill(f"#score-{ids[0]}", "4.55")
    assert page.locator(f"#error-{ids[0]}").inner_text() == score_problem(4.55, rules)
    assert page.locator(f"#score-{ids[0]}").get_attribute("aria-invalid") == "true"
    assert page.locator(f"#tier-{ids[0]}").inner_text() == "—"
    page.fill(f"#score-{ids[0]}", "5.5")
    assert page.locator(f"#error-{ids[0]}").inner_text() == score_problem(5.5, rules)
    page.fill(f"#score-{ids[0]}", "")
    assert page.locator(f"#error-{ids[0]}").inner_text() == "请填写分值"
    assert page.locator("#tier-status").inner_text() == "还有 1 个科室未填写有效分值。"

    # Fixed: the panel says the set is fine and no row is flagged.
    type_scores(page, ids, GOOD_SET)
    assert problems(page) == []
    assert page.locator("#tier-status").inner_text() == "档次比例符合要求。"
    assert page.locator(".score-row.invalid").count() == 0
    assert page.locator(f"#error-{ids[0]}").is_hidden()
    assert page.locator(f"#tier-{ids[5]}").inner_text() == "良好"

    response = submit(page)
    assert response.status == 200
    assert page.url == form_url
    assert "已保存 14 个科室的主管单位评分" in page.locator(".flash").all_inner_texts()
    assert stored(db, ndrc) == dict(zip(ids, GOOD_SET))
    assert page.locator(f"#score-{ids[0]}").input_value() == "5.0"
    assert page.locator("#tier-status").inner_text() == "档次比例符合要求。"
    # Not before the submit: Chromium's full-page screenshot leaves the page scrolling
    # on the next focus change, and the click then misses its button.
    shot(page, "supervisor-saved")


def test_server_refusal_keeps_values_and_the_panel(page, db, ndrc):
    ids = section_ids(db, ndrc)
    log_in(page, "liaison", PASSWORD)
    page.goto(f"/office/supervisor/{ndrc.id}")
    type_scores(page, ids, BREAKING_SET)
    response = submit(page)  # the script does not stop a submit: the server decides
    assert response.status == 422
    assert page.locator("#form-errors li").all_inner_texts() == [OVER, UNDER]
    assert problems(page) == [OVER, UNDER]
    assert [page.locator(f"#score-{sid}").input_value() for sid in ids] == [str(v) for v in BREAKING_SET]
    assert stored(db, ndrc) == {}


def test_phone_width_has_no_horizontal_scroll(browser, live_server, db, ndrc):
    page = new_page(browser, live_server, width=360, height=640)
    try:
        log_in(page, "liaison", PASSWORD)
        page.goto(f"/office/supervisor/{ndrc.id}")
        ids = section_ids(db, ndrc)
        type_scores(page, ids, BREAKING_SET)
        page.fill(f"#score-{ids[13]}", "4.55")  # a row message too
        assert problems(page) == [OVER]
        assert page.locator(f"#error-{ids[13]}").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        # Name, input and tier of a row sit side by side, the input wide enough to use.
        box = page.locator(f"#score-{ids[2]}").bounding_box()
        assert box["width"] >= 80 and box["x"] + box["width"] <= 360
        shot(page, "supervisor-phone", widths=(360,))
    finally:
        page.context.close()


def test_without_javascript_the_server_answers(browser, live_server, db, ndrc):
    context = browser.new_context(
        base_url=live_server, java_script_enabled=False, viewport={"width": 1280, "height": 800}, locale="zh-CN"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        log_in(page, "liaison", PASSWORD)
        page.goto(f"/office/supervisor/{ndrc.id}")
        ids = section_ids(db, ndrc)
        type_scores(page, ids, BREAKING_SET)
        assert problems(page) == []  # no script: the panel stays as the server drew it
        response = submit(page)
        assert response.status == 422
        assert page.locator("#form-errors li").all_inner_texts() == [OVER, UNDER]
        assert problems(page) == [OVER, UNDER]  # the server draws the panel too
        assert stored(db, ndrc) == {}

        page.fill(f"#score-{ids[0]}", "4.55")
        assert submit(page).status == 422
        assert page.locator(f"#error-{ids[0]}").inner_text() == score_problem(4.55, RuleSettings())

        type_scores(page, ids, GOOD_SET)
        assert submit(page).status == 200
        assert "已保存 14 个科室的主管单位评分" in page.locator(".flash").all_inner_texts()
        assert stored(db, ndrc) == dict(zip(ids, GOOD_SET))
    finally:
        context.close()
