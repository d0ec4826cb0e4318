"""The score pages in headless Chromium with CSRF on: the table sorts in the page
without a reload, a section's breakdown, a decision through its form, and the pages at
a phone's width."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from scoring import columns as C
from scoring.rounding import display_text
from tests.support.browser import log_in, new_page, shot
from tests.conftest import PASSWORD
from voting.scores.models import ResultDecision

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


BUNDLE_SEED = 5  # the example year (tests/conftest.py bundle_dir)


@pytest.fixture
def scored(year, offline_year):
    """The example year loaded, as the offline scoring scores it."""
    return offline_year


def first_cells(page, column: int, n: int = 5) -> list[str]:
    return page.locator(f"table.sortable tbody tr td:nth-child({column})").all_inner_texts()[:n]


def test_daily_table_sorts_in_the_page(page, admin, scored):
    log_in(page, "admin", PASSWORD)
    page.goto("/office/scores/")
    participating = scored[~scored[C.EXEMPT].astype(bool)]
    loads = []  # documents fetched from the server (history.replaceState fetches none)
    page.on("request", lambda request: loads.append(request.url) if request.resource_type == "document" else None)
    # 日常评价 is the 12th column; the first click sorts high to low.
    page.click("table.sortable th:nth-child(12) a")
    shown = [float(v) for v in first_cells(page, 12, len(participating))]
    assert shown == sorted(shown, reverse=True) and len(shown) == len(participating)
    page.click("table.sortable th:nth-child(12) a")
    shown = [float(v) for v in first_cells(page, 12, len(participating))]
    assert shown == sorted(shown)
    assert shown[0] == float(display_text(participating[C.DAILY].astype(float).min()))
    assert loads == []  # sorted in the page, no reload
    assert "sort=daily" in page.url and page.get_attribute("table.sortable th:nth-child(12)", "aria-sort") == "ascending"
    shot(page, "scores-daily")


def test_a_decision_through_the_form(page, admin, db, scored):
    log_in(page, "admin", PASSWORD)
    unit, name = scored.loc[scored[C.RESULT] == C.UNSATISFIED, [C.UNIT, C.SECTION]].iloc[0]
    page.goto("/office/scores/final")
    with page.expect_navigation():
        page.click(f"text={unit} {name}")
    assert page.locator("h1").inner_text() == f"{unit} · {name}"
    page.select_option("#result", C.SATISFIED)
    with page.expect_navigation() as navigation:
        page.click("form.panel button[type=submit]")
    assert navigation.value.status == 422  # no reason: nothing stored
    assert "请填写理由" in page.content()
    page.select_option("#result", C.SATISFIED)
    page.fill("#reason", "县评议领导小组复核后决定")
    with page.expect_navigation():
        page.click("form.panel button[type=submit]")
    assert "已记录评议办决定" in page.locator(".flash").first.inner_text()
    assert "由 不满意单位 改为 满意单位：县评议领导小组复核后决定" in page.content()
    db.rollback()
    assert db.scalar(select(func.count()).select_from(ResultDecision)) == 1
    shot(page, "scores-section")


@pytest.mark.parametrize("path", ["/office/scores/", "/office/scores/shortlist", "/office/scores/final",
                                  "/office/scores/units"])
def test_score_pages_fit_a_phone(browser, live_server, admin, scored, path):
    phone = new_page(browser, live_server, width=360, height=640)
    try:
        log_in(phone, "admin", PASSWORD)
        phone.goto(path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        phone.context.close()
