"""下载模板: every import page offers an .xlsx template of its file. A template holds
exactly the importer's columns (from the importer's own definitions), one example row
marked 【示例】, the rules on a 填写说明 sheet with the campaign's numbers, a text-formatted
phone column, and no cell a spreadsheet would run as a formula.

The example row is valid in every cell but carries the mark: uploaded untouched, a
template is refused through every real import page, the row named, and nothing is
stored. Filled in, it imports (the round trips below)."""
from __future__ import annotations

import csv
import html
import io
import re

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select

from scoring.settings import RuleSettings
from tests.conftest import PASSWORD, login
from tests.support.online_pool import make_round
from voting.core.errors import ImportRejected
from voting.components.models import (
    BonusItem,
    ComponentImport,
    ComponentKind,
    InspectionEvent,
    PlatformEvent,
    SupervisorScore,
    VoteCount,
)
from voting.online.models import Evaluator
from voting.lists.models import HistoryResult, ObjectImport, RoundKind, Section, ServiceObject, Unit
from voting.staff.models import Role
from voting.components import bundle, components
from voting.lists import campaigns, history, objects, sections
from voting.online import evaluators
from voting.office import import_templates
from voting.staff import users
from voting.lists.history import section_statuses
from voting.office.import_templates import NOTES_SHEET, Spec
from voting.lists.sections import ListedSection
from voting.core.tables import EXAMPLE_MARK, EXAMPLE_REFUSED, Column

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What each importer reads, imported from the importer (not from the template module).
IMPORTER_COLUMNS = {
    "sections": sections.COLUMNS,
    "history": history.COLUMNS,
    "objects": objects.COLUMNS,
    "votes": bundle.VOTES_COLUMNS,
    "platform": bundle.PLATFORM_COLUMNS,
    "inspection": bundle.INSPECTION_COLUMNS,
    "bonus": bundle.BONUS_COLUMNS,
    "supervisor": bundle.SUPERVISOR_COLUMNS,
    "representatives": evaluators.COLUMNS,
}
NAMES = list(IMPORTER_COLUMNS)
KINDS = [k.value for k in ComponentKind]
PHONES = {"objects": "phone", "representatives": "phone"}
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
STORED = (Section, HistoryResult, ServiceObject, ObjectImport, VoteCount, PlatformEvent, InspectionEvent, BonusItem,
          SupervisorScore, ComponentImport, Evaluator)


# ---- helpers ----------------------------------------------------------------------------------

def client_of(app, username: str):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def download(client, name: str) -> bytes:
    response = client.get(f"/office/templates/{name}.xlsx")
    assert response.status_code == 200, response.status_code
    return response.data


def open_book(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def header(data: bytes) -> list[str]:
    return [cell.value for cell in open_book(data).worksheets[0][1]]


def fill(data: bytes, rows: list[dict]) -> bytes:
    """The template filled in as an office does: the example row overwritten, more rows
    below; each row by header, a missing column left empty."""
    book = open_book(data)
    sheet = book.worksheets[0]
    labels = [cell.value for cell in sheet[1]]
    for i, row in enumerate(rows, start=2):
        for j, label in enumerate(labels, start=1):
            value = row.get(label)
            cell = sheet.cell(row=i, column=j)
            cell.value = None if value in (None, "") else value  # cell(value=None) would keep the example's
            if isinstance(value, str):
                cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def unmarked(data: bytes) -> bytes:
    """The template with only the mark taken off its example row."""
    book = open_book(data)
    for cell in book.worksheets[0][2]:
        if isinstance(cell.value, str) and cell.value.startswith(EXAMPLE_MARK):
            cell.value = cell.value.removeprefix(EXAMPLE_MARK)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def counts(db) -> dict[str, int]:
    db.expire_all()
    return {model.__name__: db.scalar(select(func.count()).select_from(model)) for model in STORED}


def error_rows(page: str) -> list[tuple[str, str, str]]:
    table = re.search(r'<table class="errors" id="import-errors">(.*?)</table>', page, re.S)
    assert table, "no error table on the page"
    return [tuple(html.unescape(c) for c in row) for row in
            re.findall(r'<tr><td class="num">([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>', table.group(1))]


def marked_column(name: str) -> str:
    """How a refusal names the column of the mark: "B 列(单位名称)"."""
    labels = [c.label for c in IMPORTER_COLUMNS[name]]
    template = import_templates.SPECS[name](RuleSettings(), 2021)
    index = [c.key for c in IMPORTER_COLUMNS[name]].index(template.marked)
    return f"{get_column_letter(index + 1)} 列（{labels[index]}）"


def real_sections(db, campaign, n: int = 2) -> list[dict]:
    """Participating (non-exempt) sections of two different units."""
    statuses = section_statuses(db, campaign)
    first = statuses.drop_duplicates("unit_id").head(n)
    return first.to_dict("records")


@pytest.fixture
def staff(db, campaign, admin):
    """admin, operator, auditor and a liaison of the first unit."""
    unit = db.scalar(select(Unit).where(Unit.campaign_id == campaign.id).order_by(Unit.id))
    users.create_user(db, "operator", PASSWORD, Role.operator)
    users.create_user(db, "auditor", PASSWORD, Role.auditor)
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    db.commit()


# ---- what a template holds ----------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_a_template_holds_the_importers_columns_the_example_and_the_rules(app, db, campaign, staff, name):
    response = client_of(app, "admin").get(f"/office/templates/{name}.xlsx")
    assert response.status_code == 200
    assert response.mimetype == XLSX
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" in response.headers
    book = open_book(response.data)
    assert book.sheetnames[1] == NOTES_SHEET and len(book.sheetnames) == 2
    sheet, notes = book.worksheets

    columns = IMPORTER_COLUMNS[name]
    assert [cell.value for cell in sheet[1]] == [c.label for c in columns]
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    for j in range(1, len(columns) + 1):
        assert sheet.column_dimensions[get_column_letter(j)].width >= 10
    # One example row, marked, and nothing below it.
    example = [cell.value for cell in sheet[2]]
    assert sheet.max_row == 2
    assert sum(isinstance(v, str) and v.startswith(EXAMPLE_MARK) for v in example) == 1
    assert any("示例" in str(v) for v in example)

    if name in PHONES:
        letter = get_column_letter([c.key for c in columns].index(PHONES[name]) + 1)
        assert sheet.column_dimensions[letter].number_format == "@"  # every cell typed in later
        phone_cell = sheet[f"{letter}2"]
        assert phone_cell.number_format == "@" and phone_cell.data_type == "s"
        assert re.fullmatch(r"1[3-9]\d{9}", phone_cell.value)

    # 填写说明: every column with whether it is needed and its rule; the general rules.
    lines = [[cell.value for cell in row] for row in notes.iter_rows()]
    rows_by_label = {line[0]: line for line in lines if line[0] in {c.label for c in columns}}
    assert set(rows_by_label) == {c.label for c in columns}
    for column in columns:
        needed, rule = rows_by_label[column.label][1], rows_by_label[column.label][2]
        assert needed == "必填" if column.required else needed != "必填"
        assert rule
    text = "\n".join(str(v) for line in lines for v in line if v is not None)
    assert "第 2 行是示例" in text and EXAMPLE_MARK in text and "整个文件不导入" in text

    # No cell a spreadsheet would run as a formula.
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                assert cell.data_type in ("s", "n"), (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(DANGEROUS), (ws.title, cell.coordinate, cell.value)


def test_the_notes_take_their_numbers_from_the_campaigns_rules(app, db, campaign, staff):
    client = client_of(app, "admin")

    def notes(name: str) -> str:
        sheet = open_book(download(client, name))[NOTES_SHEET]
        return "\n".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)

    text = notes("objects")
    assert "每个科室每轮最多 500 人" in text and "须至少含 100 个本年被处罚的服务对象" in text
    assert "优秀 4–5，良好 3–3.9，一般 低于 3" in notes("supervisor")
    assert "作风投诉 3–5 分" in notes("platform")
    assert "只计 2020 年 12 月 1 日至 2021 年 11 月 30 日之间的事项" in notes("bonus")

    campaigns.change_settings(db, campaign, {"max_objects_per_section": 300, "min_penalized_objects": 80,
                                             "supervisor_excellent_min": 4.2})
    db.commit()
    text = notes("objects")
    assert "每个科室每轮最多 300 人" in text and "须至少含 80 个本年被处罚的服务对象" in text
    assert "500 人" not in text and "100 个" not in text
    assert "优秀 4.2–5" in notes("supervisor")


def test_every_cell_is_neutralised_against_formulas():
    """Text that starts like a formula, wherever it stands, is written as inert text."""
    template = Spec(
        "t", "测试名单", "测试页", [Column("unit", ("单位名称",)), Column("matter", ("事项",), required=False)],
        example={"unit": "=HYPERLINK(\"http://evil.example\")", "matter": "@SUM(A1:A2)"},
        rules={"unit": "-1", "matter": "+1"}, general=["=1+1"],
    )
    book = open_book(import_templates.build(template))
    seen = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type == "s" and not cell.value.startswith(DANGEROUS), cell.value
                    seen.append(cell.value)
    assert "'@SUM(A1:A2)" in seen and "'-1" in seen and "'+1" in seen
    assert EXAMPLE_MARK + '=HYPERLINK("http://evil.example")' in seen


# ---- who may download -------------------------------------------------------------------------

ALLOWED = {
    "admin": set(NAMES),
    "operator": {*KINDS, "representatives"},
    "auditor": {*KINDS, "representatives"},
    "liaison": {"objects"},  # supervisor scores: the 主管单位评价 form, no file
}


@pytest.mark.parametrize("username", list(ALLOWED))
def test_each_template_is_open_to_the_roles_of_its_import_page(app, db, campaign, staff, username):
    client = client_of(app, username)
    got = {name: client.get(f"/office/templates/{name}.xlsx").status_code for name in NAMES}
    assert got == {name: 200 if name in ALLOWED[username] else 403 for name in NAMES}
    assert client.get("/office/templates/passwords.xlsx").status_code == 404
    assert client.get("/office/templates/objects.csv").status_code == 404


def test_a_liaison_reads_the_objects_page_and_its_template_but_not_the_offices(app, db, campaign, staff):
    client = client_of(app, "liaison")
    page = client.get("/office/import/objects").get_data(as_text=True)
    assert 'href="/office/templates/objects.xlsx"' in page
    assert client.get("/office/import/sections").status_code == 403
    assert client.get("/office/templates/sections.xlsx").status_code == 403
    assert client.get("/office/templates/history.xlsx").status_code == 403
    assert client.get("/office/templates/supervisor.xlsx").status_code == 403
    assert client.get("/office/supervisor/").status_code == 302  # the form, not a file


def test_anonymous_is_sent_to_login_and_a_post_is_405(app, db, campaign, staff):
    anonymous = app.test_client()
    response = anonymous.get("/office/templates/objects.xlsx")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    client = client_of(app, "admin")
    for name in NAMES:
        assert client.post(f"/office/templates/{name}.xlsx").status_code == 405
    assert counts(db)["Section"] == 363


# ---- the link on every import page ---------------------------------------------------------------

def test_every_import_page_links_its_template(app, db, campaign, staff):
    make_round(db, campaign)
    admin = client_of(app, "admin")
    pages = {
        "/office/import/sections": ["sections"],
        "/office/import/history": ["history"],
        "/office/import/objects": ["objects"],
        "/office/online/": ["representatives"],
        "/office/components/": KINDS,
        **{f"/office/components/{kind}": [kind] for kind in KINDS},
    }
    for path, names in pages.items():
        page = admin.get(path).get_data(as_text=True)
        for name in names:
            assert f'href="/office/templates/{name}.xlsx"' in page, (path, name)
            assert "下载模板" in page
    # The component pages, read-only for an auditor, offer the template too.
    auditor = client_of(app, "auditor")
    page = auditor.get("/office/components/votes").get_data(as_text=True)
    assert 'href="/office/templates/votes.xlsx"' in page


# ---- the untouched template is refused --------------------------------------------------------------

UPLOADS = {
    "sections": ("/office/import/sections", {}),
    "history": ("/office/import/history", {}),
    "objects": ("/office/import/objects", {"round_kind": "H1", "section": "0"}),
    **{kind: (f"/office/components/{kind}/import", {}) for kind in KINDS},
    "representatives": ("/office/online/pool", {}),
}


@pytest.mark.parametrize("name", NAMES)
def test_an_untouched_template_is_refused_naming_its_example_row(app, db, campaign, staff, name):
    if name == "representatives":
        make_round(db, campaign)
    client = client_of(app, "admin")
    data = download(client, name)
    before = counts(db)
    path, form = UPLOADS[name]
    response = client.post(path, data={**form, "file": (io.BytesIO(data), f"{name}.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert error_rows(response.get_data(as_text=True)) == [("2", marked_column(name), EXAMPLE_REFUSED)]
    assert counts(db) == before


def test_an_untouched_objects_template_for_a_chosen_section_is_refused_too(app, db, campaign, staff):
    """One section chosen on the page: the example's made-up section would be another
    reason, but the example row is what the page names."""
    own = db.scalar(select(Unit.id).where(Unit.campaign_id == campaign.id).order_by(Unit.id))
    statuses = section_statuses(db, campaign)
    section = statuses[statuses["unit_id"] == own].iloc[0]
    client = client_of(app, "liaison")
    data = download(client, "objects")
    response = client.post("/office/import/objects", data={
        "round_kind": "H1", "section": str(section["id"]), "file": (io.BytesIO(data), "objects.xlsx"),
    }, content_type="multipart/form-data")
    assert response.status_code == 422
    assert error_rows(response.get_data(as_text=True)) == [("2", marked_column("objects"), EXAMPLE_REFUSED)]
    assert counts(db)["ServiceObject"] == 0


@pytest.mark.parametrize("name", [n for n in NAMES if n != "representatives"])
def test_the_example_row_is_valid_but_for_its_mark(db, campaign, name):
    """With the mark taken off, the example imports as it stands (its made-up section on
    a campaign's list): it shows values the importer takes."""
    other = campaigns.create_campaign(db, 2030)
    sections.apply_sections(db, other, [ListedSection(1, "县示例局", 1, "示例科", False)])
    db.commit()
    data = unmarked(import_templates.build(import_templates.spec(name, other)))
    if name == "sections":
        assert sections.parse_sections(data, "sections.xlsx") == [ListedSection(1, "县示例局", 1, "示例科", False)]
    elif name == "history":
        summary = history.import_history(db, other, data, "history.xlsx")
        assert (summary.added, summary.unmatched) == (1, [])
    elif name == "objects":
        summary = objects.import_objects(db, other, RoundKind.H1, data, "objects.xlsx")
        assert (summary.rows_read, summary.stored) == (1, 1)
        assert db.scalar(select(ServiceObject.phone)) == "13800000000"
    else:
        summary = components.import_component(db, other, ComponentKind(name), data, f"{name}.xlsx")
        assert (summary.rows, summary.stored, summary.warnings) == (1, 1, [])


def test_the_representatives_example_is_valid_but_for_its_mark(app, db, campaign, staff):
    online = make_round(db, campaign)
    data = unmarked(download(client_of(app, "admin"), "representatives"))
    summary = evaluators.import_representatives(db, online, data, "reps.xlsx")
    assert summary.stored == 1
    assert db.scalar(select(Evaluator.phone)) == "13900000000"


# ---- the mark in the reader --------------------------------------------------------------------------

def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def test_the_reader_refuses_every_marked_row_and_only_a_mark_at_the_start():
    rows = [["单位名称", "科室"], ["县发改局", "价格科"], [f"{EXAMPLE_MARK}县示例局", "示例科"], ["县公安局", "治安大队"],
            ["县财政局", f"{EXAMPLE_MARK}预算科"]]
    with pytest.raises(ImportRejected) as caught:
        sections.parse_sections(_csv(rows), "sections.csv")
    assert [(e.row, e.column, e.reason) for e in caught.value.errors] == [
        (3, "A 列（单位名称）", EXAMPLE_REFUSED), (5, "B 列（科室）", EXAMPLE_REFUSED),
    ]
    # The mark inside a name is no mark.
    listed = sections.parse_sections(_csv([["单位名称", "科室"], [f"县{EXAMPLE_MARK}局", "价格科"]]), "sections.csv")
    assert [s.unit for s in listed] == [f"县{EXAMPLE_MARK}局"]


# ---- round trips: a template filled in imports -------------------------------------------------------

def test_a_filled_sections_template_imports(app, db, campaign, staff):
    data = download(client_of(app, "admin"), "sections")
    filled = fill(data, [
        {"单位序号": 1, "单位名称": "县发改局", "科室序号": 1, "科室": "价格科", "类别": ""},
        {"单位序号": None, "单位名称": "", "科室序号": 2, "科室": "发展规划综合科"},  # the unit from the row above
        {"单位序号": 2, "单位名称": "县公安局", "科室序号": 3, "科室": "治安大队", "类别": "管理执法类"},
    ])
    listed = sections.parse_sections(filled, "参评科室名单.xlsx")
    assert listed == [
        ListedSection(1, "县发改局", 1, "价格科", False),
        ListedSection(1, "县发改局", 2, "发展规划综合科", False),
        ListedSection(2, "县公安局", 3, "治安大队", True),
    ]
    other = campaigns.create_campaign(db, 2030)
    sections.apply_sections(db, other, listed)
    db.commit()
    names = db.execute(select(Unit.name, Section.name).join(Section).where(Unit.campaign_id == other.id)
                       .order_by(Section.number)).all()
    assert [tuple(n) for n in names] == [("县发改局", "价格科"), ("县发改局", "发展规划综合科"), ("县公安局", "治安大队")]


def test_a_filled_history_template_imports(app, db, campaign, staff):
    first, second = real_sections(db, campaign)
    data = download(client_of(app, "admin"), "history")
    filled = fill(data, [
        {"年度": 2019, "单位名称": first["unit"], "科室": first["section"], "结果": "满意单位"},
        {"年度": "2020年", "单位名称": second["unit"], "科室": second["section"], "结果": "不满意单位"},
    ])
    summary = history.import_history(db, campaign, filled, "往年评议结果.xlsx")
    db.commit()
    assert (summary.rows, summary.added, summary.unmatched) == (2, 2, [])
    stored = db.execute(select(HistoryResult.year, HistoryResult.section_name).order_by(HistoryResult.year)).all()
    assert [tuple(r) for r in stored] == [(2019, first["section"]), (2020, second["section"])]


def test_a_filled_objects_template_imports_with_its_phones_as_typed(app, db, campaign, staff):
    first, second = real_sections(db, campaign)
    data = download(client_of(app, "admin"), "objects")
    filled = fill(data, [
        {"单位名称": first["unit"], "科室": first["section"], "姓名": "王芳", "单位(职务)": "某商贸有限公司（法定代表人）",
         "手机号码": "13800138000", "事项内容(处罚类案件名称)": "咨询价格政策", "是否处罚对象": "否"},
        {"单位名称": first["unit"], "科室": first["section"], "姓名": "李强", "手机号码": "+86 139-0013-9000",
         "事项内容(处罚类案件名称)": "违反治安管理处罚案", "是否处罚对象": "是"},
        {"单位名称": second["unit"], "科室": second["section"], "姓名": "赵敏", "手机号码": "150 0015 0000",
         "事项内容(处罚类案件名称)": "办理许可"},
    ])
    summary = objects.import_objects(db, campaign, RoundKind.H1, filled, "服务对象名单.xlsx")
    db.commit()
    assert (summary.rows_read, summary.stored, summary.duplicates) == (3, 3, [])
    stored = db.execute(select(ServiceObject.name, ServiceObject.phone, ServiceObject.penalized)
                        .order_by(ServiceObject.source_row)).all()
    assert [tuple(r) for r in stored] == [("王芳", "13800138000", False), ("李强", "13900139000", True),
                                          ("赵敏", "15000150000", False)]


@pytest.mark.parametrize("kind", KINDS)
def test_a_filled_component_template_imports_through_its_page(app, db, campaign, staff, kind):
    client = client_of(app, "admin")
    data = download(client, kind)
    example = dict(zip(header(data), [c.value for c in open_book(data).worksheets[0][2]]))
    if kind == "supervisor":
        # Every participating section of one unit, the tiers kept (4.5, 3.5, 2.5 in turn).
        statuses = section_statuses(db, campaign)
        unit_id = statuses["unit_id"].value_counts().index[0]
        rows = [{"单位名称": r["unit"], "科室": r["section"], "分值": (4.5, 3.5, 2.5)[i % 3]}
                for i, r in enumerate(statuses[statuses["unit_id"] == unit_id].to_dict("records"))]
    else:
        rows = [{**example, "单位名称": r["unit"], "科室": r["section"]} for r in real_sections(db, campaign)]
    response = client.post(f"/office/components/{kind}/import",
                           data={"file": (io.BytesIO(fill(data, rows)), f"{kind}.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 302, error_rows(response.get_data(as_text=True))
    assert counts(db)["ComponentImport"] == 1
    model = {"votes": "VoteCount", "platform": "PlatformEvent", "inspection": "InspectionEvent", "bonus": "BonusItem",
             "supervisor": "SupervisorScore"}[kind]
    assert counts(db)[model] == len(rows)


def test_a_filled_representatives_template_imports_through_the_online_page(app, db, campaign, staff):
    make_round(db, campaign)
    client = client_of(app, "admin")
    data = download(client, "representatives")
    filled = fill(data, [{"姓名": "代表甲", "类别": "两代表一委员", "手机号码": "14700000001"},
                         {"姓名": "代表乙", "类别": "民营企业家", "手机号码": "147 0000 0002"}])
    response = client.post("/office/online/pool", data={"file": (io.BytesIO(filled), "代表名单.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    db.expire_all()
    assert sorted(db.scalars(select(Evaluator.phone))) == ["14700000001", "14700000002"]
