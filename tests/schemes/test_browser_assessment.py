"""A window assessment's period page in a real headless Chromium, CSRF on: the admin
adds a record through the form and sees the entity's total change; a refused record
keeps what was typed and says why; an entity's items open in their <details> without
a script; closing the period asks first (a dialog with JavaScript, a confirmation page
without) and the form is gone afterwards."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.support.browser import TIMEOUT_MS, log_in, shot
from voting.schemes import assessments as A
from voting.schemes.models import AssessedEntity, AssessmentPeriod, AssessmentRecord

pytestmark = pytest.mark.browser

ENTITY = "婚姻登记中心"  # 106.745 → 106.75, second; bonus 8.4 of at most 20
BONUS = "other_bonus"  # 其他奖励分: observed, the 分值 as given
NOTE = "获市级表彰，加0.5分"


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def jinjiang(db, admin):
    created = A.create_assessment(db, "晋江一季度", builtin="jinjiang", with_examples=True, actor="admin")
    db.commit()
    return created


def entity_id(db, assessment) -> int:
    return db.scalar(select(AssessedEntity.id).where(AssessedEntity.assessment_id == assessment.id,
                                                     AssessedEntity.name == ENTITY))


def stored(db) -> int:
    db.rollback()  # a fresh snapshot: the server committed in its own session
    found = db.scalar(select(func.count()).select_from(AssessmentRecord))
    db.rollback()
    return found


def closed(db) -> bool:
    db.rollback()
    found = db.scalar(select(AssessmentPeriod.closed_at)) is not None
    db.rollback()
    return found


def path(assessment) -> str:
    return f"/office/assessments/{assessment.id}/periods/2023-Q1"


def fill_record(page, points: str) -> None:
    page.select_option("#entity", ENTITY)
    page.select_option("#indicator", BONUS)
    page.fill("#points", points)
    page.fill("#note", NOTE)
    page.fill("#on", "2023-03-15")


def submit(page):
    with page.expect_navigation() as navigation:
        page.click("#record-form button[type=submit]")
    return navigation.value


def add_and_close(page, db, assessment, javascript: bool) -> None:
    records = stored(db)
    log_in(page, "admin", PASSWORD)
    page.goto(path(assessment))
    eid = entity_id(db, assessment)
    total = page.locator(f"#total-{eid}")
    assert total.inner_text() == "106.75"
    assert page.locator(f"#entity-{eid} td.rank").inner_text() == "2"

    # Refused: an observed lump needs its 分值. What was typed stays, the reason is said.
    fill_record(page, "")
    response = submit(page)
    assert response.status == 400
    assert page.locator("#record-errors").inner_text() == "指标“其他奖励分”的分值据实录入：请填写分值"
    assert page.locator("#entity").input_value() == ENTITY and page.locator("#note").input_value() == NOTE
    assert stored(db) == records

    page.fill("#points", "0.5")
    response = submit(page)
    assert response.status == 200 and page.url.endswith(f"{path(assessment)}#records")
    assert f"已录入一条记录：{ENTITY} · 其他奖励分。" in page.locator(".flash").all_inner_texts()
    assert total.inner_text() == "107.25"  # 106.745 + 0.5, half up
    assert stored(db) == records + 1
    row = page.locator("#record-list tr", has_text=NOTE)
    assert row.count() == 1 and "2023-03-15" in row.inner_text() and "0.5" in row.inner_text()

    # The explanation opens without a script: the new item is there with its points.
    items = page.locator(f"#items-{eid}")
    assert not items.locator("li", has_text=NOTE).is_visible()
    items.locator("summary").click()
    assert items.locator("li", has_text=NOTE).is_visible()
    assert "+0.5 分" in items.locator("li", has_text=NOTE).inner_text()
    shot(page, f"assessment-period-{'js' if javascript else 'nojs'}")

    # Closing asks first.
    page.click("form[data-confirm=confirm-close] button")
    if javascript:
        dialog = page.locator("#confirm-close")
        assert dialog.is_visible() and "现有" in dialog.inner_text()
        assert not closed(db)
        with page.expect_navigation():
            dialog.locator("button:has-text('确认')").click()
    else:
        page.wait_for_url("**/close")
        assert "请确认：结束2023年第1季度的考核" in page.locator("main").inner_text()
        assert not closed(db)
        with page.expect_navigation():
            page.click(".confirm-page button[type=submit]")
    assert closed(db)
    assert "已结束" in page.locator("#period-status").inner_text()
    assert page.locator("#record-form").count() == 0 and page.locator("#reopen-form").count() == 1


def test_the_admin_adds_a_record_and_sees_the_total_change(page, db, jinjiang):
    add_and_close(page, db, jinjiang, javascript=True)


def test_without_javascript_the_same_forms_work(browser, live_server, db, jinjiang):
    context = browser.new_context(base_url=live_server, java_script_enabled=False,
                                  viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        add_and_close(page, db, jinjiang, javascript=False)
    finally:
        context.close()
