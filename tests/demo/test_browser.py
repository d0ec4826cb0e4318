"""The pages in a real headless Chromium, against a live server, on SQLite and
PostgreSQL, with CSRF protection on: log in, upload service objects (rejected, then
accepted), import the sections list through its preview, a liaison's limits, and the
phone-width layout."""
from __future__ import annotations

import re

import pandas as pd
import pytest
from sqlalchemy import func, select

from tests.support.browser import log_in, new_page, shot
from tests.conftest import PASSWORD, SECTIONS_XLSX, xlsx_bytes
from voting.lists.models import ObjectImport, Section, ServiceObject, Unit
from voting.staff.models import Role
from voting.staff import users

pytestmark = pytest.mark.browser

OBJECT_COLUMNS = ["单位名称", "科室", "姓名", "单位(职务)", "手机号码", "事项内容(处罚类案件名称)", "是否处罚对象"]
# Non-enforcement sections of the real 2021 list.
PRICE = ("县发改局", "价格科")
PLANNING = ("县发改局", "发展规划综合科")


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


def section_id(db, unit: str, section: str) -> int:
    return db.scalar(select(Section.id).join(Unit).where(Unit.name == unit, Section.name == section))


def count(db, model) -> int:
    db.rollback()  # a fresh snapshot: the server committed in its own session
    return db.scalar(select(func.count()).select_from(model))


def write_xlsx(path, rows: list[list[str]], columns: list[str] = OBJECT_COLUMNS):
    path.write_bytes(xlsx_bytes(pd.DataFrame(rows, columns=columns)))
    return path


def submit(page, selector: str = "form.panel button[type=submit]"):
    """Click a form's submit button; the response of the navigation it causes."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    return navigation.value


def flashes(page) -> list[str]:
    return page.locator(".flash").all_inner_texts()


def test_admin_logs_in_and_sees_dashboard(page, campaign, admin):
    page.goto("/office/")
    assert "/login" in page.url  # not logged in: sent to the login form
    shot(page, "login")
    log_in(page, "admin", PASSWORD)
    assert page.url.endswith("/office/")
    assert page.locator("h1").inner_text() == "2021年度千人评机关中层科室活动"
    cards = [re.sub(r"\s+", " ", text).strip() for text in page.locator(".card").all_inner_texts()]
    assert "363 科室" in cards
    shot(page, "dashboard")
    submit(page, "form.who button")  # logging out is a POST with its CSRF token
    assert "/login" in page.url
    assert "已退出登录。" in flashes(page)
    page.goto("/office/sections")
    assert "/login" in page.url


def test_wrong_password_stays_on_login(page, campaign, admin):
    page.goto("/login")
    page.fill("#username", "admin")
    page.fill("#password", "not the password")
    response = submit(page)
    assert response.status == 401
    assert "用户名或密码错误。" in flashes(page)


def test_form_with_bad_csrf_token_gets_chinese_400(page, campaign, admin):
    page.goto("/login")
    page.eval_on_selector("#csrf_token", "input => input.value = 'forged'")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    assert submit(page).status == 400
    assert page.locator("h1").inner_text() == "请求无效"
    assert "CSRF" in page.locator("main").inner_text()
    page.goto("/office/")
    assert "/login" in page.url  # not logged in


def test_object_upload_rejected_then_accepted(page, db, campaign, admin, tmp_path):
    log_in(page, "admin", PASSWORD)
    page.goto("/office/import/objects")
    bad = write_xlsx(tmp_path / "bad.xlsx", [
        [*PRICE, "张三", "某公司（经理）", "13812345678", "价格咨询", "否"],  # row 2: good
        [*PRICE, "李四", "个体户", "1381234567", "价格咨询", "否"],  # row 3: 10 digits
        [*PRICE, "", "个体户", "13912345678", "价格咨询", "否"],  # row 4: no name
        [*PRICE, "王五", "个体户", "13712345678", "价格咨询", "可能"],  # row 5: not 是/否
        ["县发改局", "没有这个科", "赵六", "个体户", "13612345678", "价格咨询", "否"],  # row 6
    ])
    page.select_option("#round_kind", "H1")
    page.select_option("#section", "0")
    page.set_input_files("#file", str(bad))
    response = submit(page)
    assert response.status == 422
    table = page.locator("#import-errors")
    caption = table.locator("caption").inner_text()
    assert "有 4 处错误" in caption and "未导入任何数据" in caption
    rows = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]
    assert [(r[0], r[1]) for r in rows] == [
        ("3", "E 列（手机号码）"),
        ("4", "C 列（姓名）"),
        ("5", "G 列（是否处罚对象）"),
        ("6", "B 列（科室）"),
    ]
    assert "10 位" in rows[0][2] and "可能" in rows[2][2] and "没有这个科" in rows[3][2]
    assert "1381234567" not in page.content()  # even a rejected number is shown masked
    shot(page, "upload-errors")
    assert count(db, ServiceObject) == 0
    assert count(db, ObjectImport) == 0

    good = write_xlsx(tmp_path / "good.xlsx", [
        [*PRICE, "张三", "某公司（经理）", "13812345678", "价格咨询", "否"],
        [*PRICE, "李四", "个体户", "139 1234 5679", "价格咨询", "是"],
        [*PRICE, "张三", "某公司（经理）", "+86 138-1234-5678", "价格咨询", "否"],  # row 4: duplicate of row 2
        [*PLANNING, "王五", "某村村委会（主任）", "13712345670", "项目申报", "否"],
    ])
    page.select_option("#round_kind", "H1")
    page.select_option("#section", "0")
    page.set_input_files("#file", str(good))
    response = submit(page)
    assert response.status == 200
    assert re.search(r"/office/imports/\d+$", page.url)
    assert page.locator("#rows-read").inner_text() == "4"
    assert page.locator("#stored").inner_text() == "3"
    assert page.locator("#duplicates").inner_text() == "1"
    assert page.locator("#duplicate-rows tbody td").all_inner_texts() == ["4", "2", "县发改局 价格科"]
    assert "已导入 good.xlsx：读取 4 行，保存 3 人，重复 1 行。" in flashes(page)
    shot(page, "report")
    assert count(db, ServiceObject) == 3

    response = page.goto(f"/office/sections/{section_id(db, *PRICE)}/H1")
    assert response.status == 200
    html = page.content()
    assert "138****5678" in html and "139****5679" in html
    assert "13812345678" not in html and "13912345679" not in html
    assert page.locator("tbody tr").count() == 2
    page.goto("/office/sections")
    # The sections page links the list of each section that has one.
    assert page.locator(f"a[href='/office/sections/{section_id(db, *PRICE)}/H1']").inner_text() == "2"
    shot(page, "sections")


def test_sections_import_preview_and_confirm(page, db, campaign, admin, tmp_path):
    log_in(page, "admin", PASSWORD)
    page.goto("/office/import/sections")
    page.set_input_files("#file", str(SECTIONS_XLSX))
    assert submit(page).status == 200
    assert page.locator("#no-change").is_visible()
    assert page.locator("#diff").count() == 0
    submit(page, "form[action$='/import/sections/confirm'] button[type=submit]")
    assert page.url.endswith("/office/sections")
    assert "名单与现有名单相同，没有任何改动。" in flashes(page)

    frame = pd.read_excel(SECTIONS_XLSX, dtype=str, engine="openpyxl")
    frame = frame[~((frame["单位名称"] == PRICE[0]) & (frame["科室"] == PRICE[1]))]
    added = pd.DataFrame([{"单位序号": "1", "单位名称": "县发改局", "科室序号": "15", "科室": "数字经济科"}])
    frame = pd.concat([frame, added], ignore_index=True)
    changed = tmp_path / "sections-changed.xlsx"
    changed.write_bytes(xlsx_bytes(frame))
    page.goto("/office/import/sections")
    page.set_input_files("#file", str(changed))
    assert submit(page).status == 200
    rows = [row.locator("td").all_inner_texts()[:3] for row in page.locator("#diff tbody tr").all()]
    assert rows == [["新增", "县发改局", "数字经济科"], ["删除", "县发改局", "价格科"]]
    submit(page, "form[action$='/import/sections/confirm'] button[type=submit]")
    assert page.url.endswith("/office/sections")
    assert "已更新参评科室名单：新增 1 个，删除 1 个，修改 0 个。" in flashes(page)
    assert "（363 个）" in page.locator("h1").inner_text()
    cells = page.locator("tbody td:nth-child(4)").all_inner_texts()
    assert "数字经济科" in cells and "价格科" not in cells
    db.rollback()
    assert section_id(db, "县发改局", "数字经济科") is not None


def test_liaison_sees_own_unit_only(page, db, campaign, admin):
    police = db.scalar(select(Unit).where(Unit.campaign_id == campaign.id, Unit.name == "县公安局"))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, police)
    own = len(police.sections)
    db.commit()
    log_in(page, "liaison", PASSWORD)
    assert page.url.endswith("/office/")
    page.goto("/office/sections")
    units = page.locator("tbody td:nth-child(2)").all_inner_texts()
    assert len(units) == own > 0
    assert set(units) == {"县公安局"}
    # No admin-only links in the menu.
    assert page.locator("nav a", has_text="导入科室名单").count() == 0

    response = page.goto(f"/office/sections/{section_id(db, *PRICE)}/H1")
    assert response.status == 403
    assert page.locator("h1").inner_text() == "无权访问"
    assert "您的账号没有访问这个页面的权限。" in page.locator("main").inner_text()
    response = page.goto("/office/import/sections")
    assert response.status == 403


def page_width(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth")


def test_phone_width_has_no_horizontal_scroll(browser, live_server, db, campaign, admin):
    page = new_page(browser, live_server, width=360, height=640)
    try:
        page.goto("/login")
        assert page_width(page) <= 361
        log_in(page, "admin", PASSWORD)
        assert page.url.endswith("/office/")
        assert page_width(page) <= 361
        # The wide sections table scrolls inside its own box: neither the page widens
        # nor are its cells squeezed to a character per line.
        page.goto("/office/sections")
        assert page_width(page) <= 361
        assert page.locator("tbody tr").first.bounding_box()["height"] < 60
    finally:
        page.context.close()
