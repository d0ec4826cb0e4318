"""The ratings' imports (voting/ratings/imports.py) and the figures' page
(voting/ratings/figure_views.py), on SQLite and PostgreSQL: 办件数 of windows and
sections and 12345 revisits of units, from CSV (UTF-8, GBK) and xlsx; every kind of bad
row and column refused with its Chinese reason, row and column, and nothing stored; a
month imported again replaces its figures (audited with counts, not contents); the
templates, whose untouched example row is refused; the page's table and chart, its
Excel read back; who may read and who may import."""
from __future__ import annotations

import html
import io
from datetime import datetime, timezone

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, login
from tests.ratings.support import places
from tests.security.common import changed, snapshot, workbook
from tests.support.web import text
from voting.audit.models import AuditEntry
from voting.core.errors import ImportRejected, RowError
from voting.core.tables import EXAMPLE_REFUSED
from voting.ratings import codes, imports
from voting.ratings import ratings as r
from voting.ratings.models import HotlineLevel, HotlineRate, ServedCount
from voting.schemes.models import Assessment
from voting.staff import users
from voting.staff.models import Role

SERVED_HEADER = ["窗口", "单位名称", "科室", "月份", "办件数"]
HOTLINE_HEADER = ["单位名称", "月份", "级别", "回访数", "满意数"]
MAY = datetime(2024, 5, 6, 2, 0, tzinfo=timezone.utc)


def csv_bytes(rows: list[list[object]], encoding: str = "utf-8-sig") -> bytes:
    return "\n".join(",".join(str(cell) for cell in row) for row in rows).encode(encoding)


@pytest.fixture
def world(db):
    section, window = places(db)
    assessment = db.get(Assessment, window.assessment_id)
    return {"section": section, "window": window, "unit": section.unit, "campaign": section.unit.campaign,
            "assessment": assessment}


def served(db) -> list[tuple]:
    db.rollback()
    return [(s.place, s.month, s.served) for s in db.scalars(select(ServedCount).order_by(ServedCount.place, ServedCount.month))]


def hotline(db) -> list[tuple]:
    db.rollback()
    return [(h.unit_id, h.month, h.level, h.revisits, h.satisfied)
            for h in db.scalars(select(HotlineRate).order_by(HotlineRate.month, HotlineRate.level))]


def audits(db, action: str) -> list[dict]:
    db.rollback()
    return [e.detail for e in db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def import_served(db, world, data: bytes, filename: str, *, assessment=True):
    summary = imports.import_served(db, data, filename, "admin", campaign=world["campaign"],
                                    assessment=world["assessment"] if assessment else None)
    db.commit()
    return summary


# ---- 办件数 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "gbk", "xlsx"])
def test_served_counts_of_windows_and_sections_are_stored(db, world, fmt):
    """A section named with spaces and full-width brackets as an office types them, a
    window by its name, Excel's 12.0 and a month typed as a date, 2024/6 and 2024年7月."""
    section, window = world["section"], world["window"]
    rows = [SERVED_HEADER, ["", "县 发改局", "价格科", "2024-05", 20], ["公安局窗口", "", "", "2024-05", "4"],
            ["", "县发改局", "价格科", "2024/6", "12.0"], ["公安局窗口", "", "", "2024年7月", 0]]
    if fmt == "xlsx":
        rows[1][3] = datetime(2024, 5, 1)
        data, name = workbook(rows), "办件数.xlsx"
    else:
        data, name = csv_bytes(rows, "gb18030" if fmt == "gbk" else "utf-8-sig"), "办件数.csv"
    summary = import_served(db, world, data, name)
    assert (summary.rows, summary.added, summary.replaced, summary.months) == (4, 4, 0, ["2024-05", "2024-06", "2024-07"])
    assert served(db) == [(f"entity:{window.id}", "2024-05", 4), (f"entity:{window.id}", "2024-07", 0),
                          (f"section:{section.id}", "2024-05", 20), (f"section:{section.id}", "2024-06", 12)]
    assert audits(db, "rating.served_import") == [{
        "filename": name, "rows": 4, "added": 4, "replaced": 0, "months": ["2024-05", "2024-06", "2024-07"],
        "assessment": "本中心考核", "windows": 2, "sections": 2}]


def test_a_month_imported_again_replaces_its_counts_only(db, world):
    section, window = world["section"], world["window"]
    import_served(db, world, csv_bytes([SERVED_HEADER, ["", "县发改局", "价格科", "2024-05", 20],
                                        ["", "县发改局", "价格科", "2024-06", 30], ["公安局窗口", "", "", "2024-05", 4]]),
                  "first.csv")
    summary = import_served(db, world, csv_bytes([SERVED_HEADER, ["", "县发改局", "价格科", "2024-05", 25]]), "again.csv")
    assert (summary.rows, summary.added, summary.replaced) == (1, 0, 1)
    assert served(db) == [(f"entity:{window.id}", "2024-05", 4), (f"section:{section.id}", "2024-05", 25),
                          (f"section:{section.id}", "2024-06", 30)]
    assert [(d["rows"], d["added"], d["replaced"]) for d in audits(db, "rating.served_import")] == [(3, 3, 0), (1, 0, 1)]
    assert "25" not in repr(audits(db, "rating.served_import"))  # counts of the import, not its contents


WINDOW, UNIT, SECTION, MONTH, SERVED = ("A 列（窗口）", "B 列（单位名称）", "C 列（科室）", "D 列（月份）",
                                        "E 列（办件数）")
BAD_SERVED = [
    (["公安局窗口", "县发改局", "价格科", "2024-05", 1],
     [RowError(0, WINDOW, "窗口与单位名称、科室只填一种：窗口绩效考核的窗口填“窗口”，参评科室填“单位名称”和“科室”")]),
    (["", "", "", "2024-05", 1], [RowError(0, "", "请填写窗口，或单位名称和科室")]),
    (["没有的窗口", "", "", "2024-05", 1], [RowError(0, WINDOW, "考核“本中心考核”中没有窗口“没有的窗口”")]),
    (["", "", "价格科", "2024-05", 1], [RowError(0, UNIT, "单位名称为空")]),
    (["", "县发改局", "", "2024-05", 1], [RowError(0, SECTION, "科室为空")]),
    (["", "县发改局", "没有的科", "2024-05", 1], [RowError(0, SECTION, "单位名称/科室 县发改局/没有的科 不在 2021 年度参评科室名单中")]),
    (["", "县发改局", "价格科", "", 1], [RowError(0, MONTH, "月份为空：应为 2024-05 这样的年份和月份")]),
    (["", "县发改局", "价格科", "2024-13", 1], [RowError(0, MONTH, "月份“2024-13”无效：应为 2024-05 这样的年份和月份（2000–2100 年）")]),
    (["", "县发改局", "价格科", "五月", 1], [RowError(0, MONTH, "月份“五月”无效：应为 2024-05 这样的年份和月份（2000–2100 年）")]),
    (["", "县发改局", "价格科", "2024-05", ""], [RowError(0, SERVED, "办件数为空：应为 0 到 2147483647 的整数")]),
    (["", "县发改局", "价格科", "2024-05", "-3"], [RowError(0, SERVED, "办件数“-3”无效：应为 0 到 2147483647 的整数")]),
    (["", "县发改局", "价格科", "2024-05", "12.5"], [RowError(0, SERVED, "办件数“12.5”无效：应为 0 到 2147483647 的整数")]),
    (["", "县发改局", "价格科", "2024-05", str(2**31)],
     [RowError(0, SERVED, "办件数“2147483648”无效：应为 0 到 2147483647 的整数")]),
    (["", "县发改局", "价格科", "2024-05", "፩"], [RowError(0, SERVED, "办件数“፩”无效：应为 0 到 2147483647 的整数")]),
]


@pytest.mark.parametrize(("cells", "errors"), BAD_SERVED, ids=[e[0].reason[:12] for _, e in BAD_SERVED])
def test_a_bad_served_row_refuses_the_file_naming_row_and_column(db, world, cells, errors):
    """A good row first (April), then the bad one (row 3): nothing stored, not even the good row."""
    data = csv_bytes([SERVED_HEADER, ["", "县发改局", "价格科", "2024-04", 20], cells])
    before = snapshot(db)
    with pytest.raises(ImportRejected) as refused:
        import_served(db, world, data, "bad.csv")
    db.rollback()
    assert refused.value.errors == [RowError(3, e.column, e.reason) for e in errors]
    assert str(refused.value) == "文件 bad.csv 有 1 处错误，读取 2 行，其中 1 行有错误；未导入任何数据。"
    assert changed(before, snapshot(db)) == []


def test_served_duplicates_windows_without_an_assessment_and_no_rows(db, world):
    data = csv_bytes([SERVED_HEADER, ["", "县发改局", "价格科", "2024-05", 20], ["", "县发改局", "价格科", "2024-5", 21],
                      ["公安局窗口", "", "", "2024-05", 1]])
    with pytest.raises(ImportRejected) as refused:
        import_served(db, world, data, "dup.csv", assessment=False)
    db.rollback()
    assert refused.value.errors == [
        RowError(3, "", "科室 县发改局/价格科 2024-05 的办件数与第 2 行重复：同一窗口或科室同一月份只能有一行"),
        RowError(4, WINDOW, "填写“窗口”的行须先在页面上选择窗口所属的窗口绩效考核")]
    with pytest.raises(ImportRejected) as refused:
        import_served(db, world, csv_bytes([SERVED_HEADER]), "empty.csv")
    assert refused.value.errors == [RowError(0, "", "表头下没有任何数据")]
    with pytest.raises(ImportRejected) as refused:
        import_served(db, world, csv_bytes([["窗口", "数量"], ["公安局窗口", 1]]), "header.csv")
    assert refused.value.errors == [RowError(0, "", "前 30 行中找不到表头，表头须包含：月份、办件数")]
    db.rollback()
    assert served(db) == []


def test_sections_need_a_campaign(db, world):
    with pytest.raises(ImportRejected) as refused:
        imports.import_served(db, csv_bytes([SERVED_HEADER, ["", "县发改局", "价格科", "2024-05", 20],
                                             ["公安局窗口", "", "", "2024-05", 4]]), "x.csv", "admin",
                              campaign=None, assessment=world["assessment"])
    assert refused.value.errors == [
        RowError(2, SECTION, "还没有评议活动：参评科室的办件数须在导入参评科室名单之后导入")]


# ---- 12345 ----------------------------------------------------------------------------------------------


def import_hotline(db, world, data: bytes, filename: str):
    summary = imports.import_hotline(db, data, filename, "admin", campaign=world["campaign"])
    db.commit()
    return summary


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_hotline_counts_are_stored_and_replaced(db, world, fmt):
    unit = world["unit"]
    rows = [HOTLINE_HEADER, ["县发改局", "2024-05", "省级件", 20, 19], ["县发改局", "2024-05", "市级", 10, 10],
            ["县 发改局", "2024-06", "省级件", 0, 0]]
    data = workbook(rows) if fmt == "xlsx" else csv_bytes(rows)
    summary = import_hotline(db, world, data, f"12345.{fmt}")
    assert (summary.rows, summary.added, summary.replaced, summary.months) == (3, 3, 0, ["2024-05", "2024-06"])
    assert hotline(db) == [(unit.id, "2024-05", HotlineLevel.city, 10, 10), (unit.id, "2024-05", HotlineLevel.province, 20, 19),
                           (unit.id, "2024-06", HotlineLevel.province, 0, 0)]
    summary = import_hotline(db, world, csv_bytes([HOTLINE_HEADER, ["县发改局", "2024-05", "省级件", 21, 21]]), "again.csv")
    assert (summary.added, summary.replaced) == (0, 1)
    assert hotline(db)[1] == (unit.id, "2024-05", HotlineLevel.province, 21, 21)
    assert [(d["rows"], d["added"], d["replaced"], d["units"]) for d in audits(db, "rating.hotline_import")] == [
        (3, 3, 0, 1), (1, 0, 1, 1)]


H_UNIT, H_MONTH, H_LEVEL, H_REVISITS, H_SATISFIED = ("A 列（单位名称）", "B 列（月份）", "C 列（级别）", "D 列（回访数）",
                                                     "E 列（满意数）")
BAD_HOTLINE = [
    (["", "2024-05", "省级件", 1, 1], [RowError(0, H_UNIT, "单位名称为空")]),
    (["县林业局", "2024-05", "省级件", 1, 1],
     [RowError(0, H_UNIT, "单位“县林业局”不在 2021 年度的单位名单中：名称应与参评科室名单中的单位名称一致")]),
    (["县发改局", "2024年13月", "省级件", 1, 1],
     [RowError(0, H_MONTH, "月份“2024年13月”无效：应为 2024-05 这样的年份和月份（2000–2100 年）")]),
    (["县发改局", "2024-05", "县级件", 1, 1], [RowError(0, H_LEVEL, "级别“县级件”无效：应为 省级件 或 市级件")]),
    (["县发改局", "2024-05", "", 1, 1], [RowError(0, H_LEVEL, "级别为空：应为 省级件 或 市级件")]),
    (["县发改局", "2024-05", "市级件", "十", 1], [RowError(0, H_REVISITS, "回访数“十”无效：应为 0 到 2147483647 的整数")]),
    (["县发改局", "2024-05", "市级件", 10, ""], [RowError(0, H_SATISFIED, "满意数为空：应为 0 到 2147483647 的整数")]),
    (["县发改局", "2024-05", "市级件", 10, 11], [RowError(0, H_SATISFIED, "满意数 11 大于回访数 10")]),
    (["县发改局", "2024-05", "省级件", 5, 5],
     [RowError(0, "", "县发改局 2024-05 省级件的回访数与第 2 行重复：同一单位同一月份同一级别只能有一行")]),
]


@pytest.mark.parametrize(("cells", "errors"), BAD_HOTLINE, ids=[e[0].reason[:12] for _, e in BAD_HOTLINE])
def test_a_bad_hotline_row_refuses_the_file_naming_row_and_column(db, world, cells, errors):
    data = csv_bytes([HOTLINE_HEADER, ["县发改局", "2024-05", "省级件", 20, 19], cells])
    before = snapshot(db)
    with pytest.raises(ImportRejected) as refused:
        import_hotline(db, world, data, "bad.csv")
    db.rollback()
    assert refused.value.errors == [RowError(3, e.column, e.reason) for e in errors]
    assert changed(before, snapshot(db)) == []


# ---- the pages ------------------------------------------------------------------------------------------


def client_of(app, db, username: str, role: Role, unit=None):
    users.create_user(db, username, PASSWORD, role, unit=unit)
    db.commit()
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def page(response) -> str:
    return html.unescape(text(response))


def post_file(client, path: str, data: bytes, filename: str, **fields):
    return client.post(path, data={**fields, "file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


@pytest.fixture
def rated(db, world):
    """May 2024: the section rated 5, 4 and 2; 10 cases served; the unit's 12345."""
    code = codes.issue(db, actor="admin", section_id=world["section"].id)
    for n, level in enumerate((5, 4, 2)):
        r.submit_rating(db, code, level, ["slow"] if level == 2 else [], "", device=f"device-{n:016d}",
                        network="203.0.113.7", now=MAY)
    db.commit()
    import_served(db, world, csv_bytes([SERVED_HEADER, ["", "县发改局", "价格科", "2024-05", 10]]), "served.csv")
    import_hotline(db, world, csv_bytes([HOTLINE_HEADER, ["县发改局", "2024-05", "市级件", 8, 7]]), "h.csv")
    return world


def test_the_page_shows_the_table_and_the_chart(app, db, rated):
    client = client_of(app, db, "admin", Role.admin)
    response = client.get("/office/ratings/figures/?from=2024-05&to=2024-05&kind=section")
    body = page(response)
    assert response.status_code == 200
    assert "好差评数据 · 2024年5月" in body
    row = body[body.index(f'id="place-section-{rated["section"].id}"'):]
    row = row[:row.index("</tr>")]
    # 好评率 2 ÷ 3, 差评整改率 0 ÷ 1 (its case long past due), 办件 10, 主动评价率 3 ÷ 10
    for cell in ("66.67%", 'rectified">0.00%', ">10<", "30.00%"):
        assert cell in row, cell
    assert 'class="chart chart-good-rate"' in body and 'data-rate="66.67%"' in body
    assert 'href="/office/ratings/figures/served-template.xlsx"' in body and "下载模板" in body
    units = page(client.get("/office/ratings/figures/?from=2024-05&kind=unit"))
    assert "87.50%" in units  # 12345 市级件 7 ÷ 8
    windows = page(client.get("/office/ratings/figures/?from=2024-05&kind=window"))
    assert "公安局窗口" in windows and "所选月份还没有计入的评价" in windows
    empty = page(client.get("/office/ratings/figures/?from=2024-04&kind=section"))
    assert "—" in empty and "所选月份还没有计入的评价" in empty
    bad = client.get("/office/ratings/figures/?from=2024-13")
    assert bad.status_code == 400 and "“2024-13”不是月份" in page(bad)
    assert client.get("/office/ratings/figures/?kind=town").status_code == 400


def test_the_excel_holds_the_same_figures(app, db, rated):
    client = client_of(app, db, "auditor", Role.auditor)
    response = client.get("/office/ratings/figures/figures.xlsx?from=2024-05&to=2024-05&kind=section")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    rows = [[cell for cell in row] for row in sheet.iter_rows()]
    header = next(i for i, row in enumerate(rows) if row[0].value == "单位")
    names = [cell.value for cell in rows[header]]
    assert names == ["单位", "科室", "非常满意", "满意", "基本满意", "不满意", "非常不满意", "评价数", "好评率", "差评数",
                     "差评整改率（按时）", "回访满意率", "办件数", "主动评价率"]
    line = {name: cell for name, cell in zip(names, rows[header + 1])}
    assert [line[n].value for n in ("单位", "科室", "非常满意", "满意", "不满意", "评价数", "差评数", "办件数")] == [
        "县发改局", "价格科", 1, 1, 1, 3, 1, 10]
    assert line["好评率"].value == pytest.approx(0.6667) and line["好评率"].number_format == "0.00%"
    assert line["主动评价率"].value == pytest.approx(0.3) and line["主动评价率"].number_format == "0.00%"
    assert line["回访满意率"].value == "—"  # no verdict yet: no data
    total = {name: cell.value for name, cell in zip(names, rows[header + 2])}
    assert total["单位"] == "合计" and total["评价数"] == 3
    units = client.get("/office/ratings/figures/figures.xlsx?from=2024-05&kind=unit")
    sheet = openpyxl.load_workbook(io.BytesIO(units.data)).worksheets[0]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = next(i for i, row in enumerate(values) if row[0] == "单位")
    assert values[header][-2:] == ["12345省级件回访满意率", "12345市级件回访满意率"]
    assert values[header + 1][-2:] == ["—", pytest.approx(0.875)]


def test_imports_through_the_page_and_who_may(app, db, world):
    admin = client_of(app, db, "admin", Role.admin)
    response = post_file(admin, "/office/ratings/figures/served",
                         csv_bytes([SERVED_HEADER, ["公安局窗口", "", "", "2024-05", 4]]), "w.csv",
                         assessment=str(world["assessment"].id))
    assert response.status_code == 303 and "from=2024-05" in response.headers["Location"]
    assert "kind=window" in response.headers["Location"]
    assert served(db) == [(f"entity:{world['window'].id}", "2024-05", 4)]
    followed = page(admin.get(response.headers["Location"]))
    assert "已导入 w.csv：1 行办件数（2024-05）。" in followed
    # A window row without the assessment chosen: 422, the row named, nothing stored.
    before = snapshot(db)
    response = post_file(admin, "/office/ratings/figures/served",
                         csv_bytes([SERVED_HEADER, ["公安局窗口", "", "", "2024-06", 4]]), "w2.csv", assessment="")
    body = page(response)
    assert response.status_code == 422 and "文件 w2.csv 有 1 处错误" in body
    assert "填写“窗口”的行须先在页面上选择窗口所属的窗口绩效考核" in body and "A 列（窗口）" in body
    assert changed(before, snapshot(db)) == []
    response = post_file(admin, "/office/ratings/figures/served", b"x", "w.csv", assessment="99999")
    assert response.status_code == 400 and "没有这项考核：请从列表中选择" in page(response)
    response = post_file(admin, "/office/ratings/figures/hotline",
                         csv_bytes([HOTLINE_HEADER, ["县发改局", "2024-05", "省级件", 4, 3]]), "h.csv")
    assert response.status_code == 303 and "kind=unit" in response.headers["Location"]
    assert changed(before, snapshot(db)) == ["audit_log", "rating_hotline_rate"]

    operator = client_of(app, db, "operator", Role.operator)
    liaison = client_of(app, db, "lly001", Role.liaison, unit=world["unit"])
    before = snapshot(db)
    assert operator.get("/office/ratings/figures/").status_code == 200
    assert "由管理员导入" in page(operator.get("/office/ratings/figures/"))
    assert operator.get("/office/ratings/figures/hotline-template.xlsx").status_code == 200
    for path in ("/office/ratings/figures/served", "/office/ratings/figures/hotline"):
        assert post_file(operator, path, csv_bytes([HOTLINE_HEADER]), "x.csv").status_code == 403
    for path in ("/office/ratings/figures/", "/office/ratings/figures/figures.xlsx",
                 "/office/ratings/figures/served-template.xlsx"):
        assert liaison.get(path).status_code == 403, path
    assert app.test_client().get("/office/ratings/figures/").status_code == 302
    assert changed(before, snapshot(db)) == []


@pytest.mark.parametrize(("path", "upload", "headers"), [
    ("served-template.xlsx", "served", SERVED_HEADER),
    ("hotline-template.xlsx", "hotline", HOTLINE_HEADER),
])
def test_the_templates_and_their_example_row(app, db, world, path, upload, headers):
    client = client_of(app, db, "admin", Role.admin)
    response = client.get(f"/office/ratings/figures/{path}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    data, notes = book.worksheets
    assert [cell.value for cell in data[1]] == headers and notes.title == "填写说明"
    assert any(str(cell.value or "").startswith("【示例】") for cell in data[2])
    before = snapshot(db)
    response = post_file(client, f"/office/ratings/figures/{upload}", response.data, "模板.xlsx",
                         assessment=str(world["assessment"].id))
    body = page(response)
    assert response.status_code == 422  # the marked cell: 月份 (the served file's first required column), 单位名称
    assert f'<td class="num">2</td><td>{"D 列（月份）" if upload == "served" else "A 列（单位名称）"}</td><td>{EXAMPLE_REFUSED}</td>' in body
    assert changed(before, snapshot(db)) == []
