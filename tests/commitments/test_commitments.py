"""附件4 服务承诺表 and 附件5 工作人员联系表 (voting/commitments), on SQLite and PostgreSQL:
the numbers each field takes and their masks; a liaison fills the own unit's forms
only (another unit's page, form, file, person or a tampered section id: 403/404, nothing
stored); no number is ever in a page's HTML or a downloaded file in full, not even for
whoever typed it; a number left empty keeps the stored one; the Excel round trip, bad
files refused whole with row, column and reason; the office's overview; the citizens'
voting page showing the commitment as text; the audit sentences; the retention."""
from __future__ import annotations

import io
import json
import re

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.security.common import changed, snapshot, staff_login, workbook
from tests.support.citizens import invitations, link_path, open_round
from tests.support.web import text
from voting.audit.models import AuditEntry
from voting.commitments import commitments
from voting.commitments.models import SectionCommitment, StaffContact, StaffRole
from voting.commitments.phones import Kind, NumberError, mask_number, read_number
from voting.core.vault import vault_of
from voting.lists.models import Section, Unit
from voting.office import audit_text, retention
from voting.staff import users
from voting.staff.models import Role

FORBIDDEN = "您的账号没有访问这个页面的权限。"
NOT_FOUND = "您要找的页面不存在，或已被删除。"
# What the tests type into the number fields; none may appear in any page or file.
MOBILE, LANDLINE, SHORT, QQ = "13812345678", "0577-63765432", "661234", "987654321"
SECRETS = (MOBILE, "63765432", SHORT, QQ, "13912345678", "13712345678", "0577-63998877", "63998877", "556677")


def leaked(body: str | bytes) -> list[str]:
    """The typed numbers found in a page or a file, as typed or with their spaces and
    dashes taken out (0577-63712345 as 057763712345)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    bare = re.sub(r"[\s\-]", "", body)
    return [s for s in SECRETS if s in body or re.sub(r"\D", "", s) in bare]


@pytest.fixture
def units(db, campaign):
    """The first two units of the 2021 list (number order), a liaison of the first."""
    own, other = db.scalars(select(Unit).where(Unit.campaign_id == campaign.id).order_by(Unit.number).limit(2))
    users.create_user(db, "liaison1", PASSWORD, Role.liaison, unit=own)
    users.create_user(db, "auditor1", PASSWORD, Role.auditor)
    users.create_user(db, "operator1", PASSWORD, Role.operator)
    db.commit()
    return own, other


def as_user(app, username: str):
    client = app.test_client()
    staff_login(client, username)
    return client


def error_rows(body: str) -> list[tuple[str, str, str]]:
    """The rejected file's table of errors: (row, column, reason) each."""
    return re.findall(r'<tr><td class="num">([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>', body)


def section_data(**given) -> dict:
    data = {"address": "县行政中心3楼301室", "head_name": "王科长", "liaison_name": "李联络", "duties": "负责价格监督检查。",
            "commitment": "一次告知，限时办结。", "head_phone": "", "head_short": "", "liaison_phone": "", "liaison_short": ""}
    return {**data, **given}


def stored(db, section_id: int) -> SectionCommitment | None:
    db.expire_all()
    return db.get(SectionCommitment, section_id)


# ---- the numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "typed", "kept"), [
    (Kind.mobile, "+86 138-1234-5678", MOBILE),
    (Kind.mobile, "１３８１２３４５６７８", MOBILE),  # full-width, as phone keyboards give them
    (Kind.contact, "138 1234 5678", MOBILE),
    (Kind.contact, "0577-63765432", LANDLINE),
    (Kind.contact, "(0577)63765432", LANDLINE),
    (Kind.contact, "0577 63712345转801", "0577-63712345-801"),
    (Kind.contact, "63712345", "63712345"),
    (Kind.office, "0577-63765432", LANDLINE),
    (Kind.office, "661234", SHORT),
    (Kind.short, "661", "661"),
    (Kind.short, "661234.0", SHORT),  # a numeric Excel cell
    (Kind.qq, "987654321", QQ),
])
def test_each_field_takes_its_numbers(kind, typed, kept):
    assert read_number(typed, kind, "号码") == kept


@pytest.mark.parametrize(("kind", "typed", "message"), [
    (Kind.mobile, "1381234567", "手机号码“******4567”无效：手机号码应为 11 位，实为 10 位"),
    (Kind.mobile, "0577-63712345", "手机号码“****-****2345”无效：手机号码应为 11 位，实为 12 位"),
    (Kind.mobile, "14012345678", "手机号码“140****5678”无效：号段未分配给可收短信的手机"),
    (Kind.contact, "12345", "联系电话“***45”无效：应为手机号码（11 位）或固定电话（如 0577-63712345）"),
    (Kind.office, MOBILE, "办公电话“138****5678”无效：应为固定电话（如 0577-63712345）或 3–6 位短号；手机号码请填在“手机号码”栏"),
    (Kind.short, "12", "纪委短号“**”无效：应为3–6 位数字的短号"),
    (Kind.short, "1234567", "纪委短号“***4567”无效：应为3–6 位数字的短号"),
    (Kind.qq, "0123456", "QQ号码“***3456”无效：应为5–11 位数字，不以 0 开头"),
])
def test_a_number_a_field_does_not_take_is_refused_masked(kind, typed, message):
    label = {Kind.mobile: "手机号码", Kind.contact: "联系电话", Kind.office: "办公电话", Kind.short: "纪委短号",
             Kind.qq: "QQ号码"}[kind]
    with pytest.raises(NumberError) as refused:
        read_number(typed, kind, label)
    assert str(refused.value) == message


def test_masks_keep_only_the_last_digits():
    assert mask_number(MOBILE) == "138****5678"
    assert mask_number(LANDLINE) == "****-****5432"
    assert mask_number("63712345") == "****2345"
    assert mask_number(SHORT) == "****34"
    assert mask_number("661") == "*61"
    assert mask_number(QQ) == "*****4321"
    assert mask_number(None) == mask_number("") == ""


# ---- 附件4: a section's form ------------------------------------------------------------------------


def test_a_liaison_fills_a_section_and_never_sees_a_number_again(app, db, units):
    own, _ = units
    section = own.sections[0]
    client = as_user(app, "liaison1")
    assert client.get("/office/commitments/").headers["Location"].endswith(f"/office/commitments/{own.id}")
    page = client.get(f"/office/commitments/sections/{section.id}")
    assert page.status_code == 200 and section.name in text(page)

    sent = section_data(head_phone=MOBILE, head_short=SHORT, liaison_phone=LANDLINE, liaison_short="556677")
    response = client.post(f"/office/commitments/sections/{section.id}/save", data=sent)
    assert response.status_code == 302
    saved = stored(db, section.id)
    assert (saved.head_phone, saved.head_short, saved.liaison_phone, saved.liaison_short) == (
        MOBILE, SHORT, LANDLINE, "556677")
    assert (saved.address, saved.commitment) == ("县行政中心3楼301室", "一次告知，限时办结。")

    for path in (f"/office/commitments/{own.id}", f"/office/commitments/sections/{section.id}"):
        body = text(client.get(path))
        assert leaked(body) == [], path
    form = text(client.get(f"/office/commitments/sections/{section.id}"))
    assert "138****5678" in form and "****34" in form and "****-****5432" in form and "****77" in form
    assert "留空则保留已保存的号码" in form

    # Empty number fields keep the stored numbers; a ticked 清除 removes one.
    response = client.post(f"/office/commitments/sections/{section.id}/save",
                           data=section_data(commitment="首问负责。", clear_head_short="y"))
    assert response.status_code == 302
    saved = stored(db, section.id)
    assert (saved.head_phone, saved.head_short, saved.liaison_phone, saved.commitment) == (
        MOBILE, None, LANDLINE, "首问负责。")
    flashed = text(client.get(f"/office/commitments/{own.id}"))
    assert "已保存" in flashed and "修改了服务承诺、主要负责人纪委短号" in flashed

    entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "commitment.save").order_by(AuditEntry.id)).all()
    assert [e.detail["fields"] for e in entries] == [
        ["办公地址", "主要负责人", "联络员", "工作职责", "服务承诺", "主要负责人联系电话", "主要负责人纪委短号", "联络员联系电话",
         "联络员纪委短号"],
        ["服务承诺", "主要负责人纪委短号"],
    ]
    assert leaked(json.dumps([e.detail for e in entries], ensure_ascii=False)) == []
    names = audit_text.look_up(db, entries, str)
    assert str(audit_text.describe(entries[1], names)) == (
        f"填写{own.name} · {section.name}的服务承诺表（附件4）：修改了服务承诺、主要负责人纪委短号。")
    # Saving the same again changes nothing and records nothing.
    assert client.post(f"/office/commitments/sections/{section.id}/save",
                       data=section_data(commitment="首问负责。")).status_code == 302
    assert db.query(AuditEntry).filter_by(action="commitment.save").count() == 2


@pytest.mark.parametrize(("field", "value", "message"), [
    ("head_phone", "12345", "主要负责人联系电话“***45”无效：应为手机号码（11 位）或固定电话（如 0577-63712345）"),
    ("head_short", "12", "主要负责人纪委短号“**”无效：应为3–6 位数字的短号"),
    ("liaison_phone", "1381234567", "联络员联系电话“******4567”无效"),
    ("address", "号" * 201, "办公地址不超过 200 字"),
    ("commitment", "诺" * 2001, "服务承诺不超过 2000 字"),
])
def test_a_bad_field_is_named_and_nothing_is_stored(app, db, units, field, value, message):
    own, _ = units
    section = own.sections[0]
    client = as_user(app, "liaison1")
    before = snapshot(db)
    # A valid number typed beside the bad field is not sent back either.
    data = section_data(**{"liaison_short": "556677", field: value})
    response = client.post(f"/office/commitments/sections/{section.id}/save", data=data)
    body = text(response)
    assert response.status_code == 422 and message in body
    assert "未保存，请按下面的提示修改后重新提交" in body and leaked(body) == [] and 'value="556677"' not in body
    assert changed(before, snapshot(db)) == []


# ---- who may see what ------------------------------------------------------------------------------


def refused(client, db, method: str, path: str, status: int, message: str, data: dict | None = None,
            **options) -> None:
    before = snapshot(db)
    response = client.open(path, method=method, data=data or {}, **options)
    assert (response.status_code, message in text(response)) == (status, True), (method, path, response.status_code)
    assert changed(before, snapshot(db)) == [], (method, path)


def test_a_liaison_reaches_only_the_own_unit(app, db, units):
    own, other = units
    theirs = other.sections[0]
    contact = StaffContact(unit_id=other.id, section_id=theirs.id, role=StaffRole.head, name="赵科长", phone="13912345678")
    db.add(contact)
    db.commit()
    client = as_user(app, "liaison1")
    assert client.get(f"/office/commitments/{own.id}").status_code == 200
    upload_data = workbook([["参评科室名称", "服务承诺"], [theirs.name, "承诺"]])
    for method, path in [
        ("GET", f"/office/commitments/{other.id}"), ("GET", f"/office/commitments/sections/{theirs.id}"),
        ("POST", f"/office/commitments/sections/{theirs.id}/save"), ("GET", f"/office/commitments/staff/{contact.id}"),
        ("POST", f"/office/commitments/staff/{contact.id}/save"), ("POST", f"/office/commitments/staff/{contact.id}/delete"),
        ("POST", f"/office/commitments/{other.id}/staff"), ("GET", f"/office/commitments/{other.id}/commitments.xlsx"),
        ("GET", f"/office/commitments/{other.id}/staff.xlsx"), ("GET", "/office/commitments/all/commitments.xlsx"),
        ("GET", "/office/commitments/all/staff.xlsx"),
    ]:
        refused(client, db, method, path, 403, FORBIDDEN,
                {**section_data(commitment="改掉"), "name": "改名", "role": "head", "section": str(theirs.id),
                 "confirmed": "1"} if method == "POST" else None)
    for path in (f"/office/commitments/{other.id}/import/commitments", f"/office/commitments/{other.id}/import/staff",
                 "/office/commitments/import/commitments", "/office/commitments/import/staff"):
        refused(client, db, "POST", path, 403, FORBIDDEN, {"file": (io.BytesIO(upload_data), "x.xlsx")},
                content_type="multipart/form-data")
    # The own unit's add form with another unit's section (a tampered <select>): 404.
    refused(client, db, "POST", f"/office/commitments/{own.id}/staff", 404, NOT_FOUND,
            {"role": "head", "section": str(theirs.id), "name": "钱某"})
    # An id that is no section, unit or person: 404.
    for path in ("/office/commitments/sections/999999", "/office/commitments/999999", "/office/commitments/staff/999999"):
        refused(client, db, "GET", path, 404, NOT_FOUND)
    # A liaison's own file naming another unit is refused, row by row.
    data = workbook([["单位名称", "参评科室名称", "服务承诺"], [other.name, theirs.name, "承诺"]])
    before = snapshot(db)
    response = client.post(f"/office/commitments/{own.id}/import/commitments",
                           data={"file": (io.BytesIO(data), "a.xlsx")}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert error_rows(text(response)) == [
        ("2", "A 列（单位名称）", f"单位名称“{other.name}”不是本单位（{own.name}）：只能上传本单位的表")]
    assert changed(before, snapshot(db)) == []


def test_operators_have_no_access_and_auditors_only_read(app, db, units):
    own, _ = units
    section = own.sections[0]
    operator = as_user(app, "operator1")
    for path in ("/office/commitments/", f"/office/commitments/{own.id}", f"/office/commitments/sections/{section.id}"):
        refused(operator, db, "GET", path, 403, FORBIDDEN)
    auditor = as_user(app, "auditor1")
    assert auditor.get("/office/commitments/").status_code == 200
    page = text(auditor.get(f"/office/commitments/sections/{section.id}"))
    assert "只读" in page and "commitment-form" in page and "<button type=\"submit\">保存" not in page
    assert auditor.get("/office/commitments/all/staff.xlsx").status_code == 200
    refused(auditor, db, "POST", f"/office/commitments/sections/{section.id}/save", 403, FORBIDDEN, section_data())
    refused(auditor, db, "POST", f"/office/commitments/{own.id}/staff", 403, FORBIDDEN, {"role": "leader", "name": "甲"})


def test_an_id_of_another_campaign_is_404(app, db, units, admin):
    from tests.conftest import SECTIONS_CSV
    from voting.lists import campaigns, sections

    older = campaigns.create_campaign(db, 2020)
    sections.apply_sections(db, older, sections.parse_sections(SECTIONS_CSV.read_bytes(), SECTIONS_CSV.name))
    db.commit()
    old_unit = db.scalars(select(Unit).where(Unit.campaign_id == older.id).limit(1)).one()
    contact = StaffContact(unit_id=old_unit.id, role=StaffRole.leader, name="旧人")
    db.add(contact)
    db.commit()
    client = as_user(app, "admin")
    for method, path in [("GET", f"/office/commitments/{old_unit.id}"),
                         ("GET", f"/office/commitments/sections/{old_unit.sections[0].id}"),
                         ("POST", f"/office/commitments/sections/{old_unit.sections[0].id}/save"),
                         ("GET", f"/office/commitments/staff/{contact.id}"),
                         ("POST", f"/office/commitments/staff/{contact.id}/delete")]:
        refused(client, db, method, path, 404, NOT_FOUND, {"confirmed": "1"} if method == "POST" else None)


# ---- 附件5: the unit's people ---------------------------------------------------------------------------


def test_people_are_added_edited_and_deleted_their_numbers_masked(app, db, units):
    own, _ = units
    section = own.sections[0]
    client = as_user(app, "liaison1")
    response = client.post(f"/office/commitments/{own.id}/staff", data={
        "role": "head", "section": str(section.id), "name": "王科长", "post": "科长", "office_phone": "0577-63998877",
        "phone": MOBILE, "qq": QQ})
    assert response.status_code == 302
    contact = db.scalars(select(StaffContact)).one()
    assert (contact.role, contact.section_id, contact.phone, contact.office_phone, contact.qq) == (
        StaffRole.head, section.id, MOBILE, "0577-63998877", QQ)
    assert contact.phone_hash == vault_of(db).lookup(MOBILE)  # what the list checks compare
    page = text(client.get(f"/office/commitments/{own.id}"))
    assert "王科长" in page and "138****5678" in page and "*****4321" in page and "****-****8877" in page
    assert leaked(page) == [] and leaked(text(client.get(f"/office/commitments/staff/{contact.id}"))) == []

    # A 分管领导 belongs to no section; a 主要负责人 to one: refused, named, nothing stored.
    before = snapshot(db)
    bad = client.post(f"/office/commitments/staff/{contact.id}/save",
                      data={"role": "leader", "section": str(section.id), "name": "王科长", "phone": "13712345678"})
    assert bad.status_code == 422 and "分管领导不属于某个科室：请将责任科室留空" in text(bad) and leaked(text(bad)) == []
    bad = client.post(f"/office/commitments/{own.id}/staff", data={"role": "staff", "section": "", "name": "某人"})
    assert bad.status_code == 422 and "工作人员须选择所在的责任科室" in text(bad)
    bad = client.post(f"/office/commitments/{own.id}/staff", data={"role": "liaison", "section": "", "name": "",
                                                                   "office_phone": MOBILE})
    assert bad.status_code == 422 and "请填写姓名" in text(bad) and "手机号码请填在“手机号码”栏" in text(bad)
    assert changed(before, snapshot(db)) == []

    # Edited with the numbers left empty: they stay; the 手机号码 changed: its hash too.
    assert client.post(f"/office/commitments/staff/{contact.id}/save", data={
        "role": "head", "section": str(section.id), "name": "王主任", "post": "主任"}).status_code == 302
    db.expire_all()
    contact = db.get(StaffContact, contact.id)
    assert (contact.name, contact.phone, contact.qq) == ("王主任", MOBILE, QQ)
    assert client.post(f"/office/commitments/staff/{contact.id}/save", data={
        "role": "head", "section": str(section.id), "name": "王主任", "post": "主任", "phone": "13712345678",
        "clear_qq": "y"}).status_code == 302
    db.expire_all()
    contact = db.get(StaffContact, contact.id)
    assert (contact.phone, contact.qq, contact.phone_hash) == ("13712345678", None, vault_of(db).lookup("13712345678"))

    # Deleting asks first (the page without JavaScript), then deletes.
    before = snapshot(db)
    asked = client.post(f"/office/commitments/staff/{contact.id}/delete", data={})
    assert asked.status_code == 200 and "删除工作人员" in text(asked) and changed(before, snapshot(db)) == []
    assert client.post(f"/office/commitments/staff/{contact.id}/delete", data={"confirmed": "1"}).status_code == 302
    assert db.scalars(select(StaffContact)).all() == []

    entries = db.scalars(select(AuditEntry).where(AuditEntry.action.like("staff_contact.%")).order_by(AuditEntry.id)).all()
    names = audit_text.look_up(db, entries, str)
    where = f"{own.name}工作人员联系表（附件5）中的主要负责人（{section.name}，编号 {contact.id}）"
    assert [str(audit_text.describe(e, names)) for e in entries] == [
        f"添加{where}：填写了姓名、职务、办公电话、手机号码、QQ号码。",
        f"修改{where}：修改了姓名、职务。",
        f"修改{where}：修改了手机号码、QQ号码。",
        f"删除{where}。",
    ]
    assert leaked(json.dumps([e.detail for e in entries], ensure_ascii=False)) == []


# ---- Excel ------------------------------------------------------------------------------------------------


def rows_of(data: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    return [[c.value if c.value is not None else "" for c in row] for row in sheet.iter_rows()]


def xlsx(rows: list[list]) -> bytes:
    return workbook(rows)


def upload(client, path: str, data: bytes, name: str = "表.xlsx"):
    return client.post(path, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_the_commitments_file_round_trip(app, db, units):
    own, _ = units
    first, second = own.sections[0], own.sections[1]
    client = as_user(app, "liaison1")
    client.post(f"/office/commitments/sections/{first.id}/save", data=section_data(head_phone=MOBILE, head_short=SHORT))
    downloaded = client.get(f"/office/commitments/{own.id}/commitments.xlsx")
    assert downloaded.status_code == 200 and leaked(downloaded.data) == []
    rows = rows_of(downloaded.data)
    assert rows[0] == ["单位名称", "参评科室名称", "办公地址(具体门牌)", "主要负责人", "主要负责人联系电话", "主要负责人纪委短号",
                       "联络员", "联络员联系电话", "联络员纪委短号", "工作职责", "服务承诺"]
    assert [r[1] for r in rows[1:]] == [s.name for s in own.sections]
    assert rows[1][:4] == [own.name, first.name, "县行政中心3楼301室", "王科长"] and rows[1][4:6] == ["", ""]
    # Filled in: a commitment for every section, a landline for the second; the first's
    # numbers left blank (kept).
    for row in rows[1:]:
        row[10] = f"{row[1]}：办事不过夜。"
    rows[2][7], rows[2][8] = LANDLINE, "556677"
    response = upload(client, f"/office/commitments/{own.id}/import/commitments", xlsx(rows))
    assert response.status_code == 302, text(response)[:3000]
    assert f"共 {len(own.sections)} 行" in text(client.get(f"/office/commitments/{own.id}"))
    one, two = stored(db, first.id), stored(db, second.id)
    assert (one.head_phone, one.head_short, one.commitment) == (MOBILE, SHORT, f"{first.name}：办事不过夜。")
    assert (two.liaison_phone, two.liaison_short) == (LANDLINE, "556677")
    page = text(client.get(f"/office/commitments/{own.id}"))
    assert "尚有" not in page and leaked(page) == []
    # A file without a section replaces the unit's rows: that section's 附件4 is gone.
    assert upload(client, f"/office/commitments/{own.id}/import/commitments", xlsx(rows[:2])).status_code == 302
    assert stored(db, second.id) is None and stored(db, first.id).head_phone == MOBILE
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "commitment.import").order_by(AuditEntry.id.desc())
                       ).first()
    assert str(audit_text.describe(entry, audit_text.look_up(db, [entry], str))) == (
        f"导入服务承诺表（附件4）（文件“表.xlsx”）：替换{own.name}的表，共 1 行；文件中没有的 {len(own.sections) - 1} 个科室的表已删除。")


def test_the_staff_file_round_trip(app, db, units):
    own, _ = units
    client = as_user(app, "liaison1")
    rows = rows_of(client.get(f"/office/commitments/{own.id}/staff.xlsx").data)
    assert rows[0] == ["单位名称", "有关人员", "责任科室", "姓名", "职务", "办公电话", "手机号码", "QQ号码"]
    # The seed's rows to fill: 分管领导, each section's 主要负责人, 联络员.
    assert [(r[1], r[2]) for r in rows[1:]] == [("分管领导", "")] + [("主要负责人", s.name) for s in own.sections] + [
        ("联络员", "")]
    rows[1][3:8] = ["周局长", "副局长", "0577-63998877", "13912345678", ""]
    rows[2][3:8] = ["王科长", "科长", "", MOBILE, QQ]
    rows[-1][3:8] = ["李联络", "科员", "556677", "", ""]
    response = upload(client, f"/office/commitments/{own.id}/import/staff", xlsx(rows))
    assert response.status_code == 302, text(response)[:3000]
    people = {c.name: c for c in db.scalars(select(StaffContact))}
    assert set(people) == {"周局长", "王科长", "李联络"}  # the rows left unfilled are skipped
    assert (people["王科长"].role, people["王科长"].section_id, people["王科长"].phone, people["王科长"].qq) == (
        StaffRole.head, own.sections[0].id, MOBILE, QQ)
    assert people["李联络"].office_phone == "556677" and people["周局长"].section_id is None
    # Downloaded again: the people, no number; uploaded as it is: the numbers stay.
    again = client.get(f"/office/commitments/{own.id}/staff.xlsx").data
    assert leaked(again) == [] and [r[3] for r in rows_of(again)[1:]] == ["周局长", "王科长", "李联络"]
    assert upload(client, f"/office/commitments/{own.id}/import/staff", again).status_code == 302
    db.expire_all()
    people = {c.name: c for c in db.scalars(select(StaffContact))}
    assert (people["王科长"].phone, people["王科长"].qq, people["周局长"].phone) == (MOBILE, QQ, "13912345678")
    assert people["王科长"].phone_hash == vault_of(db).lookup(MOBILE)


def test_bad_files_are_refused_whole_with_every_bad_row(app, db, units):
    own, other = units
    client = as_user(app, "liaison1")
    first = own.sections[0].name
    before = snapshot(db)
    header = ["参评科室名称", "主要负责人联系电话", "纪委短号", "服务承诺"]  # 纪委短号 alone is no column of ours
    data = xlsx([["参评科室名称", "主要负责人联系电话", "主要负责人纪委短号", "服务承诺"],
                 [first, "12345", "", "承诺"],  # a bad phone
                 ["没有这个科", "", "", "承诺"],  # an unknown section
                 [first, "", "12", "承诺"]])  # a bad short number, and the section twice
    response = upload(client, f"/office/commitments/{own.id}/import/commitments", data, "bad.xlsx")
    body = text(response)
    assert response.status_code == 422
    assert "文件 bad.xlsx 有 4 处错误，读取 3 行，其中 3 行有错误；未导入任何数据。" in body
    assert error_rows(body) == [
        ("2", "B 列（主要负责人联系电话）", "主要负责人联系电话“***45”无效：应为手机号码（11 位）或固定电话（如 0577-63712345）"),
        ("3", "A 列（参评科室名称）", f"{own.name}没有名为“没有这个科”的参评科室"),
        ("4", "A 列（参评科室名称）", f"{first}与第 2 行重复：每个科室一行"),
        ("4", "C 列（主要负责人纪委短号）", "主要负责人纪委短号“**”无效：应为3–6 位数字的短号"),
    ]
    # Wrong columns: no header found.
    response = upload(client, f"/office/commitments/{own.id}/import/commitments", xlsx([header[1:], ["1", "2", "3"]]))
    assert response.status_code == 422 and "找不到表头，表头须包含：参评科室名称" in text(response)
    # 附件5: an unknown role, a 主要负责人 without a section, a bad mobile, no name.
    data = xlsx([["有关人员", "责任科室", "姓名", "手机号码"],
                 ["科长", "", "甲", ""], ["主要负责人", "", "乙", ""], ["联络员", "", "丙", "1381234567"],
                 ["工作人员", first, "", "13912345678"]])
    response = upload(client, f"/office/commitments/{own.id}/import/staff", data, "staff.csv.xlsx")
    body = text(response)
    assert response.status_code == 422
    assert error_rows(body) == [
        ("2", "A 列（有关人员）", "有关人员“科长”无效：应为分管领导、主要负责人、联络员、工作人员"),
        ("3", "B 列（责任科室）", "主要负责人须填写责任科室"),
        ("4", "D 列（手机号码）", "手机号码“******4567”无效：手机号码应为 11 位，实为 10 位"),
        ("5", "C 列（姓名）", "姓名为空"),
    ]
    assert leaked(body) == []
    assert changed(before, snapshot(db)) == []


def test_the_office_uploads_a_county_file_and_sees_who_has_filled_both(app, db, units, admin):
    own, other = units
    client = as_user(app, "admin")
    page = text(client.get("/office/commitments/"))
    assert "个单位中，<b>0</b> 个已填齐两张表" in page
    rows = rows_of(client.get("/office/commitments/all/commitments.xlsx").data)
    assert len(rows) == 1 + db.query(Section).join(Unit).filter(Unit.campaign_id == own.campaign_id).count()
    mine = [r for r in rows[1:] if r[0] in (own.name, other.name)]
    for row in mine:
        row[10] = "承诺"
    response = upload(client, "/office/commitments/import/commitments", xlsx([rows[0], *mine]), "全县.xlsx")
    assert response.status_code == 302, text(response)[:2000]
    staff = [["单位名称", "有关人员", "责任科室", "姓名"], [own.name, "分管领导", "", "周局长"], [own.name, "联络员", "", "李联络"],
             *[[own.name, "主要负责人", s.name, f"{s.name}科长"] for s in own.sections], [other.name, "联络员", "", "钱联络"]]
    assert upload(client, "/office/commitments/import/staff", xlsx(staff)).status_code == 302
    status = {r.unit_id: r for r in commitments.campaign_status(db, own.campaign)}
    assert status[own.id].done and status[own.id].committed == len(own.sections)
    assert status[other.id].commitments_done and not status[other.id].staff_done
    assert status[other.id].staff_missing[0] == "分管领导"
    page = text(client.get("/office/commitments/"))
    assert "个单位中，<b>1</b> 个已填齐两张表" in page
    assert f'href="/office/commitments/{own.id}"' in page and "已填齐" in page
    # A county file must name the units.
    before = snapshot(db)
    response = upload(client, "/office/commitments/import/commitments", xlsx([["参评科室名称", "服务承诺"], ["办公室", "x"]]))
    assert response.status_code == 422 and "全县的文件须有“单位名称”列" in text(response)
    assert changed(before, snapshot(db)) == []


# ---- the citizens' page ---------------------------------------------------------------------------------


def test_the_voting_page_shows_the_commitment_as_text(app, db, campaign, admin):
    survey = open_round(app, db, campaign, sections=2, per_section=1)
    first, second = invitations(db, survey)[:2]
    section = db.get(Section, first.section_id)
    commitments.save_commitment(db, section, commitments.Change(texts={
        "duties": "负责<b>户籍</b>管理。", "commitment": "<script>document.title=1</script>限时办结。"}, numbers={"head_phone": MOBILE}),
        actor="admin", user_id=None)
    long = "承诺" * 100
    commitments.save_commitment(db, db.get(Section, second.section_id), commitments.Change(texts={"commitment": long}),
                                actor="admin", user_id=None)
    db.commit()
    citizen = app.test_client()
    assert citizen.get(link_path(db, first)).status_code == 303
    page = text(citizen.get("/v"))
    assert "&lt;script&gt;document.title=1&lt;/script&gt;限时办结。" in page and "<script>document" not in page
    assert "负责&lt;b&gt;户籍&lt;/b&gt;管理。" in page and 'id="commitment-pledge"' in page and "<details" not in page
    assert leaked(page) == [] and "138****5678" not in page  # the numbers are for no citizen
    other = app.test_client()
    assert other.get(link_path(db, second)).status_code == 303
    page = text(other.get("/v"))
    assert '<details id="commitment-pledge"><summary>该科室的服务承诺（点击展开）</summary>' in page and long in page
    assert 'id="commitment-duties"' not in page  # no duties written: nothing shown


def test_a_section_without_a_commitment_shows_none(app, db, campaign, admin):
    survey = open_round(app, db, campaign, sections=1, per_section=1)
    citizen = app.test_client()
    assert citizen.get(link_path(db, invitations(db, survey)[0])).status_code == 303
    page = text(citizen.get("/v"))
    assert citizen.get("/v").status_code == 200 and 'id="commitment"' not in page


def test_the_citizens_text_is_read_once_a_minute(app, db, units):
    own, _ = units
    section = own.sections[0]
    with app.app_context():
        from voting.core.db import get_session

        session = get_session()
        assert commitments.for_citizens(session, section.id, now=1000.0) is None
        db.add(SectionCommitment(section_id=section.id, commitment="新承诺", duties=""))  # another process
        db.commit()
        assert commitments.for_citizens(session, section.id, now=1030.0) is None
        assert commitments.for_citizens(session, section.id, now=1061.0) == commitments.CitizenText("", "新承诺")


# ---- retention --------------------------------------------------------------------------------------------


def test_the_retention_erases_the_staff_names_and_numbers_and_keeps_the_commitments(db, units):
    own, _ = units
    section = own.sections[0]
    commitments.save_commitment(db, section, commitments.Change(
        texts={"head_name": "王科长", "commitment": "限时办结。", "address": "3楼"},
        numbers={"head_phone": MOBILE, "liaison_short": SHORT}), actor="admin", user_id=None)
    db.add(StaffContact(unit_id=own.id, role=StaffRole.leader, name="周局长", post="副局长", phone="13912345678", qq=QQ))
    db.commit()
    done = retention.erase(db, own.campaign, actor="test")
    db.commit()
    assert (done.counts["staff_contacts"], done.counts["section_commitments"]) == (1, 1)
    contact = db.scalars(select(StaffContact)).one()
    assert (contact.name, contact.post, contact.phone, contact.phone_hash, contact.qq) == ("", "", None, None, None)
    kept = stored(db, section.id)
    assert (kept.head_name, kept.head_phone, kept.liaison_short) == ("", None, None)
    assert (kept.commitment, kept.address) == ("限时办结。", "3楼")
