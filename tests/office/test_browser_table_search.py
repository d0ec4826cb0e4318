"""The long tables' GET forms in headless Chromium, on SQLite and PostgreSQL, with CSRF
on: the sections page searched, filtered and paged with the filters kept; and the
objects upload's section typed from its <datalist> (voting/web/listing.py,
voting/core/forms.py LabelField)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.support.browser import log_in, shot
from tests.conftest import PASSWORD
from tests.demo.test_browser import count, submit, write_xlsx
from voting.lists.models import ObjectImport, ServiceObject
from voting.lists.sections import sections_frame

pytestmark = pytest.mark.browser

PRICE = ("县发改局", "价格科")


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


def shown(page) -> list[tuple[str, str]]:
    """(unit, section) of the sections table's rows."""
    rows = page.locator("#sections tbody tr")
    return [(row.locator("td").nth(1).inner_text(), row.locator("td").nth(3).inner_text()) for row in rows.all()]


def test_the_sections_page_is_searched_and_paged_with_its_filters(page, db, campaign, admin):
    frame = sections_frame(db, campaign)
    log_in(page, "admin", PASSWORD)
    page.goto("/office/sections")
    assert "共 363 个科室，第 1 / 8 页" in page.locator("#sections-total").inner_text()

    page.fill("#q", "价格科")
    submit(page, "#sections-filter button[type=submit]")
    assert shown(page) == [PRICE] and "q=" in page.url
    assert page.locator("#sections-total").inner_text().startswith("共 1 个科室")

    # "科" in the ordinary sections: several pages, the pager keeping both filters.
    page.fill("#q", "科")
    page.select_option("#kind", "other")
    submit(page, "#sections-filter button[type=submit]")
    wanted = frame[(frame["unit"] + frame["section"]).str.contains("科")]
    pages = -(-len(wanted) // 50)
    assert f"共 {len(wanted)} 个科室，第 1 / {pages} 页" in page.locator("#sections-total").inner_text()
    assert shown(page) == list(zip(wanted["unit"], wanted["section"]))[:50]
    with page.expect_navigation():
        page.click(".pager a[rel=next]")
    assert f"第 2 / {pages} 页" in page.locator("#sections-total").inner_text()
    assert shown(page) == list(zip(wanted["unit"], wanted["section"]))[50:100]
    assert page.input_value("#q") == "科" and page.input_value("#kind") == "other"  # still filtered
    shot(page, "sections-search")
    with page.expect_navigation():
        page.locator(".pager a", has_text="最后一页").click()
    assert f"第 {pages} / {pages} 页" in page.locator("#sections-total").inner_text()
    assert shown(page) == list(zip(wanted["unit"], wanted["section"]))[50 * (pages - 1):]

    # A unit, then everything again.
    page.select_option("#unit", label="县公安局")
    page.fill("#q", "")
    submit(page, "#sections-filter button[type=submit]")
    assert {unit for unit, _ in shown(page)} == {"县公安局"} and len(shown(page)) == 25
    with page.expect_navigation():
        page.click("#sections-clear")
    assert len(shown(page)) == 50 and page.input_value("#unit") == ""


def test_the_section_is_typed_with_the_datalist_and_a_wrong_name_is_refused(page, db, campaign, admin, tmp_path):
    log_in(page, "admin", PASSWORD)
    page.goto("/office/import/objects")
    assert page.input_value("#section") == "typed"
    labels = page.locator("#section_name-labels option")
    assert labels.count() == 363 and labels.nth(5).get_attribute("value") == " · ".join(PRICE)
    good = write_xlsx(tmp_path / "one.xlsx", [["张三", "某公司", "13812345678", "价格咨询", "否"]],
                      columns=["姓名", "单位(职务)", "手机号码", "事项内容(处罚类案件名称)", "是否处罚对象"])

    page.fill("#section_name", "县发改局 · 没有这个科")
    page.set_input_files("#file", str(good))
    response = submit(page)
    assert response.status == 400
    assert page.locator(".field-error").first.inner_text().startswith("没有名为“县发改局 · 没有这个科”的科室")
    assert count(db, ObjectImport) == 0

    page.fill("#section_name", " · ".join(PRICE))
    page.set_input_files("#file", str(good))
    response = submit(page)
    assert response.status == 200 and re.search(r"/office/imports/\d+$", page.url)
    db.rollback()
    frame = sections_frame(db, campaign)
    price = frame[(frame["unit"] == PRICE[0]) & (frame["section"] == PRICE[1])]["id"].iloc[0]
    assert db.scalars(select(ServiceObject.section_id)).all() == [price]
