"""Excel exports of the office's tables (voting/office/export_views.py), on SQLite and
PostgreSQL: each downloaded as its page's readers would, opened with openpyxl, its
header and rows checked against the data; no mobile number in full anywhere in the
file; text that looks like a formula comes back as text; the pages' role checks; GET
only, and a download changes nothing."""
from __future__ import annotations

import io
import random
import re
import zipfile
from datetime import datetime, timezone

import openpyxl
import pytest
from sqlalchemy import select, update

from sms.phones import mask_phone
from tests.support.ballots import PASSWORD as EVALUATOR_PASSWORD
from tests.support.ballots import cast_ballots, evaluators, open_online_round
from tests.conftest import PASSWORD, login
from tests.security.common import changed, snapshot
from tests.survey.test_rounds import TOKENS, WORDING
from tests.survey.test_rounds_web import PRICE, upload
from tests.survey.test_sms_inbound import PLANNING, REFORM, open_survey
from voting.demo.campaign import synth_objects
from voting.survey.models import Channel, Choice, Invitation
from voting.online.models import Evaluator
from voting.outbox.models import OutboxMessage
from voting.staff.models import Role
from voting.lists.models import RoundKind, Section, ServiceObject, Unit
from voting.audit import audit
from voting.office import exports
from voting.lists import history, objects
from voting.outbox import outbox
from voting.survey import rounds, votes
from voting.staff import users
from voting.online.evaluators import turnout
from voting.office import export_views

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PHONE = re.compile(rb"(?<![0-9.])1[3-9][0-9]{9}(?![0-9])")  # not the fraction of a date serial (46363.13845…)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
A, B, C = "13812345678", "13987654321", "15011112222"
OTHER_UNIT = ("县经信局", "投资规划科")
EXPORTS = ("/office/export/sections.xlsx", "/office/export/rounds/{round_id}.xlsx", "/office/export/online.xlsx",
           "/office/export/evaluators.xlsx", "/office/export/phone.xlsx", "/office/export/outbox.xlsx",
           "/office/export/audit.xlsx")


# ---- reading an export --------------------------------------------------------------------------


def download(client, path: str) -> tuple[openpyxl.Workbook, bytes]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response.mimetype == XLSX and response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = response.get_data()
    check_file(data)
    return openpyxl.load_workbook(io.BytesIO(data)), data


def check_file(data: bytes) -> None:
    """No mobile number in full in any part of the file, and no cell a formula or a text
    that a spreadsheet would run as one."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            assert PHONE.findall(archive.read(name)) == [], name
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), name
    book = openpyxl.load_workbook(io.BytesIO(data))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_STARTS), (sheet.title, cell.coordinate, cell.value)
                    assert not PHONE.search(cell.value.encode()), (sheet.title, cell.coordinate)


def table(sheet) -> tuple[list[str], list[list]]:
    """The header (the row above the frozen panes) and the rows below it."""
    header_row = int(sheet.freeze_panes[1:]) - 1
    rows = [list(r) for r in sheet.iter_rows(min_row=header_row, values_only=True)]
    return rows[0], rows[1:]


def notes(sheet) -> list[str]:
    """The lines between the title and the header."""
    header_row = int(sheet.freeze_panes[1:]) - 1
    return [sheet.cell(row=n, column=1).value for n in range(2, header_row)]


def contents(data: bytes) -> bytes:
    """Every part of the file, uncompressed."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def make_user(db, name: str, role: Role, unit: Unit | None = None) -> None:
    users.create_user(db, name, PASSWORD, role, unit)
    db.commit()


def as_user(app, name: str):
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client


# ---- the helper ---------------------------------------------------------------------------------


def test_the_workbook_has_a_title_a_bold_bordered_frozen_filtered_header_and_prints_landscape():
    at = datetime(2021, 6, 30, 9, 15, tzinfo=timezone.utc)
    data = exports.workbook([exports.Sheet(
        "参评科室", "参评科室（2 个）", [exports.Column("单位"), exports.Column("人数", "0"), exports.Column("时间")],
        iter([["县发改局", 3, datetime(2021, 6, 30, 1, 0)], ["\x01=1+1", None, None]]), ["一行说明"],
    )], year=2021, at=at)
    check_file(data)
    sheet = openpyxl.load_workbook(io.BytesIO(data))["参评科室"]
    assert sheet["A1"].value == "参评科室（2 个） · 2021 年度 · 导出于 2021-06-30 09:15" and sheet["A1"].font.b
    assert sheet["A2"].value == "一行说明"
    header, rows = table(sheet)
    assert header == ["单位", "人数", "时间"] and sheet.freeze_panes == "A4" and sheet.auto_filter.ref == "A3:C5"
    assert all(sheet.cell(row=3, column=j).font.b and sheet.cell(row=3, column=j).border.bottom.style == "thin"
               for j in (1, 2, 3))
    # A control character dropped does not uncover the formula; a naive time is UTC.
    assert rows == [["县发改局", 3, datetime(2021, 6, 30, 1, 0)], ["'=1+1", None, None]]
    assert sheet["C4"].number_format == exports.TIME_FORMAT
    assert sheet.column_dimensions["A"].width >= 10
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
    assert sheet.page_setup.fitToHeight == 0 and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == "$3:$3" and "&P" in sheet.oddFooter.center.text
    assert "&N" in sheet.oddFooter.center.text and "2021" in sheet.oddHeader.center.text


@pytest.mark.parametrize("value, shown", [
    ("=1+1", "'=1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("+1", "'+1"), ("-1", "'-1"), ("\t=1", "'\t=1"),
    ("#N/A", "#N/A"), ("电话 13812345678 王", "电话 138****5678 王"), ("订单 913812345678", "订单 913812345678"),
])
def test_text_cells_are_neutralised_and_numbers_in_text_masked(value, shown):
    data = exports.workbook([exports.Sheet("表", "表", [exports.Column("内容")], [[value]])], year=None,
                            at=datetime(2021, 1, 1, tzinfo=timezone.utc))
    cell = openpyxl.load_workbook(io.BytesIO(data))["表"]["A3"]
    assert cell.value == shown and cell.data_type == "s"


# ---- 参评科室 -------------------------------------------------------------------------------------


def test_sections_export_has_the_pages_columns_and_a_liaison_only_the_own_unit(app, admin_client, db, campaign):
    upload(db, campaign)  # 12 service objects for 县发改局 价格科, H1
    price = db.scalar(select(Section).join(Unit).where(Unit.name == PRICE[0], Section.name == PRICE[1]))
    db.execute(update(Section).where(Section.id == price.id).values(name="=1+1"))
    db.commit()
    book, _ = download(admin_client, "/office/export/sections.xlsx")
    assert book.sheetnames == ["参评科室"]
    sheet = book["参评科室"]
    assert sheet["A1"].value.startswith("参评科室（363 个） · 2021 年度 · 导出于 ")
    header, rows = table(sheet)
    assert header == ["单位序号", "单位", "科室序号", "科室", "类别", "状态", "H1 服务对象", "H1 全部上报处罚对象",
                      "H2 服务对象", "H2 全部上报处罚对象"]
    statuses = history.section_statuses(db, campaign).to_dict("records")
    assert len(rows) == len(statuses) == 363
    for row, s in zip(rows, statuses):
        assert row[1] == s["unit"] and row[2] == (None if s["section_no"] != s["section_no"] else s["section_no"])
        assert row[3] == ("'=1+1" if s["id"] == price.id else s["section"])
        assert row[4] == ("管理执法类" if s["is_enforcement"] else None)
        assert row[6] == (12 if s["id"] == price.id else "未报") and row[8] == "未报"

    # A liaison: the own unit's sections only, as the page.
    unit = price.unit
    make_user(db, "liaison", Role.liaison, unit)
    book, _ = download(as_user(app, "liaison"), "/office/export/sections.xlsx")
    _, rows = table(book["参评科室"])
    assert {r[1] for r in rows} == {unit.name} and len(rows) == len(unit.sections)


# ---- 调查进度 -------------------------------------------------------------------------------------


@pytest.fixture
def progress_round(db, campaign):
    """A round over 县发改局 价格科 (12 invited, 6 answers: 5 满意, 1 不满意) and
    县公安局 治安大队 (8 invited, none)."""
    upload(db, campaign)
    frame = synth_objects(random.Random(4), 8)
    frame.insert(0, "科室", "治安大队")
    frame.insert(0, "单位名称", "县公安局")
    objects.import_objects(db, campaign, RoundKind.H1, frame.to_csv(index=False).encode(), "o2.csv",
                           all_penalized_reported=True)
    survey = rounds.create_round(db, campaign, RoundKind.H1, datetime(2099, 1, 1, tzinfo=timezone.utc), 12)
    rounds.open_round(db, campaign, survey, TOKENS, WORDING)
    price = db.scalars(select(Invitation).where(Invitation.section.has(name=PRICE[1])).order_by(Invitation.id)).all()
    for invitation, choice in zip(price[:6], [Choice.satisfied] * 5 + [Choice.unsatisfied]):
        votes.cast_vote(db, invitation.id, choice, Channel.link, comment="=1+1")
    db.commit()
    return survey


def test_round_progress_by_section_and_by_unit(admin_client, db, campaign, progress_round):
    book, _ = download(admin_client, f"/office/export/rounds/{progress_round.id}.xlsx")
    assert book.sheetnames == ["各科室进度", "各单位进度"]
    header, rows = table(book["各科室进度"])
    assert header == ["单位", "科室", "邀请", "已发出", "已送达", "失败", "已打开", "已评价", "回复率", "满意",
                      "基本满意", "不满意"]
    expected = rounds.section_progress(db, progress_round)
    assert len(rows) == len(expected) == 2
    for row, r in zip(rows, expected.to_dict("records")):
        assert row[:2] == [r["unit"], r["section"]]
        assert row[2:8] == [r[c] for c in ("invited", "sent", "delivered", "failed", "opened", "voted")]
        assert row[8] == pytest.approx(r["rate"]) and row[9:] == [r["satisfied"], r["basic"], r["unsatisfied"]]
    assert rows[0][:2] == list(PRICE) and rows[0][2] == 12 and rows[0][7] == 6 and rows[0][8] == pytest.approx(0.5)
    assert book["各科室进度"]["I" + str(int(book["各科室进度"].freeze_panes[1:]))].number_format == "0.0%"
    header, units = table(book["各单位进度"])
    assert header[:2] == ["单位", "科室数"] and header[2:] == ["邀请", "已发出", "已送达", "失败", "已打开", "已评价",
                                                         "回复率", "满意", "基本满意", "不满意"]
    assert [u[:3] for u in units] == [["县发改局", 1, 12], ["县公安局", 1, 8]]
    assert units[0][7:] == [6, pytest.approx(0.5), 5, 0, 1] and units[1][7:] == [0, 0, 0, 0, 0]
    assert "已评价 6（回复率 30.0%）" in notes(book["各单位进度"])[-1]
    # The votes' comments are not exported at all.
    assert "=1+1" not in str([list(r) for s in book.worksheets for r in s.iter_rows(values_only=True)])


def test_a_liaison_gets_the_own_unit_with_small_counts_as_below_5_and_no_rate(app, db, campaign, progress_round):
    make_user(db, "liaison", Role.liaison, db.scalar(select(Unit).where(Unit.name == PRICE[0])))
    client = as_user(app, "liaison")
    book, data = download(client, f"/office/export/rounds/{progress_round.id}.xlsx")
    header, rows = table(book["各科室进度"])
    assert "回复率" not in header
    # invited 12, sent 0, delivered 0, failed 0, opened 0, voted 6, 满意 5, 基本满意 <5, 不满意 <5: as the page
    assert rows == [[*PRICE, 12, 0, 0, 0, 0, 6, 5, "<5", "<5"]]
    _, units = table(book["各单位进度"])
    assert units == [["县发改局", 1, 12, 0, 0, 0, 0, 6, 5, "<5", "<5"]]
    assert "治安大队".encode() not in contents(data) and "县公安局".encode() not in contents(data)  # another unit's
    assert "少于 5 的评价人数显示为“<5”" in notes(book["各科室进度"])[0]
    # Another campaign's round, or none: 404, as the page.
    assert client.get("/office/export/rounds/999999.xlsx").status_code == 404


# ---- 网络评价 -------------------------------------------------------------------------------------


def test_online_turnout_and_evaluators(app, admin_client, db, campaign, monkeypatch):
    online = open_online_round(db, campaign)
    first = evaluators(db, online)[0]
    db.execute(update(Evaluator).where(Evaluator.id == first.id).values(name="=1+1"))
    db.commit()
    cast_ballots(db, online, 2)

    book, _ = download(admin_client, "/office/export/online.xlsx")
    header, rows = table(book["参评情况"])
    assert header == ["评价人类别", "评价人", "已提交", "参评率", "已提醒"]
    expected = [[t.label, t.evaluators, t.voted, t.rate, t.reminded] for t in turnout(db, online)]
    assert [r[:3] + r[4:] for r in rows] == [e[:3] + e[4:] for e in expected]
    assert [r[3] for r in rows] == [pytest.approx(e[3]) for e in expected] and rows[-1][:3] == ["合计", 6, 2]
    assert "只含人数" in notes(book["参评情况"])[0]

    book, data = download(admin_client, "/office/export/evaluators.xlsx")
    header, rows = table(book["评价人"])
    assert header == ["类别", "姓名", "手机", "账号", "账号短信", "密码发出", "输错次数", "状态"]
    pool = evaluators(db, online)
    assert len(rows) == len(pool) == 6
    assert {r[1] for r in rows} == {"'=1+1", *(e.name for e in pool[1:])}
    assert {r[2] for r in rows} == {mask_phone(e.phone) for e in pool}
    assert {r[3] for r in rows} == {e.login for e in pool}
    assert sorted(r[7] or "" for r in rows) == ["", "", "", "", "已投票", "已投票"]
    monkeypatch.setattr(export_views, "CHUNK", 4)  # read a page at a time, every page
    assert table(download(admin_client, "/office/export/evaluators.xlsx")[0]["评价人"])[1] == rows
    for secret in (EVALUATOR_PASSWORD, *(e.password_hash for e in pool if e.password_hash)):
        assert secret.encode() not in contents(data)


def test_the_online_exports_without_an_online_round_are_404(admin_client, db, campaign):
    for path in ("/office/export/online.xlsx", "/office/export/evaluators.xlsx"):
        response = admin_client.get(path)
        assert response.status_code == 404 and "尚未设立网络评价" in response.get_data(as_text=True)


# ---- 电话调查 -------------------------------------------------------------------------------------


def test_phone_list_masks_every_number_and_filters_by_unit(app, db, campaign, monkeypatch):
    open_survey(app, db, campaign, [(PLANNING, "张三", A), (REFORM, "李四", B), (OTHER_UNIT, "王五", C)])
    db.execute(update(ServiceObject).where(ServiceObject.name == "李四").values(name="@SUM(A1)"))
    db.commit()
    make_user(db, "operator", Role.operator)
    client = as_user(app, "operator")
    book, data = download(client, "/office/export/phone.xlsx")
    header, rows = table(book["电话调查"])
    assert header == ["单位", "科室", "服务对象", "事项", "手机", "短信"]
    assert rows == [
        [*PLANNING, "张三", f"{PLANNING[1]}业务办理", mask_phone(A), "待发送"],
        [*REFORM, "'@SUM(A1)", f"{REFORM[1]}业务办理", mask_phone(B), "待发送"],
        [*OTHER_UNIT, "王五", f"{OTHER_UNIT[1]}业务办理", mask_phone(C), "待发送"],
    ]
    for number in (A, B, C):
        assert number.encode() not in contents(data)
    # Read a page at a time (here 2 rows), every page.
    monkeypatch.setattr(export_views, "CHUNK", 2)
    book, _ = download(client, "/office/export/phone.xlsx")
    assert table(book["电话调查"])[1] == rows
    other = db.scalar(select(Unit).where(Unit.name == OTHER_UNIT[0]))
    book, _ = download(client, f"/office/export/phone.xlsx?unit={other.id}")
    assert [r[2] for r in table(book["电话调查"])[1]] == ["王五"]
    assert client.get("/office/export/phone.xlsx?unit=x").status_code == 400


# ---- 短信发件箱 -----------------------------------------------------------------------------------


def test_outbox_masks_phones_and_the_secrets_of_waiting_messages(app, admin_client, db, campaign):
    open_survey(app, db, campaign, [(PLANNING, "张三", A), (REFORM, "李四", B)])
    first = db.scalar(select(Invitation).order_by(Invitation.id))
    link = db.get(OutboxMessage, first.message_id).params["link"]  # …/v/<token>
    db.execute(update(OutboxMessage).where(OutboxMessage.id == first.message_id).values(last_error="=1+1"))
    db.commit()
    book, data = download(admin_client, "/office/export/outbox.xlsx")
    assert book.sheetnames == ["短信", "状态统计"]
    header, rows = table(book["短信"])
    assert header == ["编号", "手机", "模板", "状态", "尝试", "下次发送", "发送时间", "服务商", "最后错误", "未送达原因", "内容"]
    messages = outbox.recent(db, campaign.id)
    assert [r[0] for r in rows] == [m.id for m in messages] and len(rows) == 2
    assert {r[1] for r in rows} == {mask_phone(A), mask_phone(B)} and {r[3] for r in rows} == {"待发送"}
    assert {r[8] for r in rows} == {"'=1+1", None}
    assert all(isinstance(r[5], datetime) for r in rows)  # a waiting message's next try
    # The stored text still holds the link (the message is waiting); the export does not.
    assert link in db.get(OutboxMessage, first.message_id).text
    assert link.encode() not in contents(data) and link.rsplit("/", 1)[1].encode() not in contents(data)
    assert all("/v/******" in r[10] and "张三" not in r[10] for r in rows)
    _, counts = table(book["状态统计"])
    assert ["待发送", 2] in counts and counts[-1] == ["合计", 2]


# ---- 审计日志 -------------------------------------------------------------------------------------


def test_audit_log_as_the_page_filtered_by_campaign(app, admin_client, db, campaign):
    audit.record(db, "result.decide", actor="@SUM(A1)", campaign_id=campaign.id,
                 detail={"=cmd": "x", "reason": "=1+1", "section_ids": [1, 2]})
    audit.record(db, "component.import", actor="admin", detail={"filename": "votes.csv"})
    db.commit()
    book, _ = download(admin_client, "/office/export/audit.xlsx")
    sheet = book["审计日志"]
    header, rows = table(sheet)
    assert header == ["编号", "时间", "操作人", "操作", "年度", "内容", "详情"]
    entries = audit.entries(db, page=1, per_page=1000).entries
    assert [r[0] for r in rows] == [e.id for e in entries] and len(rows) == 3  # with the campaign fixture's
    newest, no_campaign = rows[1], rows[0]
    assert newest[2:5] + newest[6:] == ["'@SUM(A1)", "记录评议结果决定", 2021, "'=cmd：x；理由：=1+1；科室编号：[1, 2]"]
    assert isinstance(newest[1], datetime)
    section_names = [f"{s.unit.name} · {s.name}" for s in (db.get(Section, 1), db.get(Section, 2))]
    assert newest[5].startswith("记录评议结果决定。") and "科室：" + "、".join(section_names) in newest[5]  # names, not ids
    assert no_campaign[5] == "导入评分数据。文件：votes.csv。"
    assert no_campaign[2:5] + no_campaign[6:] == ["admin", "导入评分数据", None, "文件：votes.csv"]
    assert notes(sheet)[0] == "审计日志完整：共 3 条，哈希链逐条核对无误。"
    assert "全部年度，3 条" in sheet["A1"].value

    book, _ = download(admin_client, f"/office/export/audit.xlsx?campaign={campaign.id}")
    _, rows = table(book["审计日志"])
    assert [r[0] for r in rows] == [e.id for e in entries if e.campaign_id == campaign.id]
    assert "2021 年度，2 条" in book["审计日志"]["A1"].value


# ---- who may download, and how ------------------------------------------------------------------


@pytest.fixture
def everything(app, db, campaign, admin):
    """Something behind every export: a survey round, an online round, audit entries."""
    survey = open_survey(app, db, campaign, [(PLANNING, "张三", A), (OTHER_UNIT, "王五", C)])
    open_online_round(db, campaign)
    unit = db.scalar(select(Unit).where(Unit.name == PLANNING[0]))
    for role in (Role.operator, Role.auditor):
        make_user(db, role.value, role)
    make_user(db, "liaison", Role.liaison, unit)
    return {"round_id": survey.id}


# The roles of each export's page: (path, those who may).
ALLOWED = {
    "/office/export/sections.xlsx": {"admin", "operator", "auditor", "liaison"},
    "/office/export/rounds/{round_id}.xlsx": {"admin", "operator", "auditor", "liaison"},
    "/office/export/online.xlsx": {"admin", "operator", "auditor"},
    "/office/export/evaluators.xlsx": {"admin", "operator", "auditor"},
    "/office/export/phone.xlsx": {"admin", "operator"},
    "/office/export/outbox.xlsx": {"admin", "operator", "auditor"},
    "/office/export/audit.xlsx": {"admin", "auditor"},
}


def test_each_export_has_its_pages_role_check_and_changes_nothing(app, db, everything):
    assert set(ALLOWED) == set(EXPORTS)
    anonymous = app.test_client().get(EXPORTS[0])
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    for name in ("admin", "operator", "auditor", "liaison"):
        client = as_user(app, name)
        for path, allowed in ALLOWED.items():
            path = path.format(**everything)
            before = snapshot(db)
            if name in allowed:
                download(client, path)
            else:
                assert client.get(path).status_code == 403, (name, path)
            assert changed(before, snapshot(db)) == [], (name, path)


def test_exports_answer_get_only(app, db, everything):
    client = as_user(app, "admin")
    for path in EXPORTS:
        path = path.format(**everything)
        for method in ("POST", "PUT", "DELETE"):
            response = client.open(path, method=method)
            assert response.status_code == 405, (method, path)


def test_the_pages_link_their_exports(app, admin_client, db, campaign, everything):
    for page, link in (("/office/sections", "/office/export/sections.xlsx"),
                       ("/office/phone/", "/office/export/phone.xlsx"),
                       ("/office/outbox", "/office/export/outbox.xlsx"),
                       ("/office/audit/", "/office/export/audit.xlsx")):
        html = admin_client.get(page).get_data(as_text=True)
        assert f'href="{link}"' in html and "下载 Excel" in html, page
    unit = db.scalar(select(Unit).where(Unit.name == PLANNING[0]))
    assert f'href="/office/export/phone.xlsx?unit={unit.id}"' in admin_client.get(
        f"/office/phone/?unit={unit.id}").get_data(as_text=True)
    assert f'href="/office/export/audit.xlsx?campaign={campaign.id}"' in admin_client.get(
        f"/office/audit/?campaign={campaign.id}").get_data(as_text=True)
