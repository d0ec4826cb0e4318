"""Hostile text in every text field, on SQLite and PostgreSQL: SQL-looking
strings, a 10 MB string, NUL bytes, zero-width and right-to-left override characters.

Each is either stored exactly as given (within its length limit: SQL-looking text is just
text) or refused with a Chinese message and the exact status (400, 401, 404, 413, 422),
never a 500 and never partly stored. A NUL byte never reaches the database (PostgreSQL
raises on one): a form value holding one is refused with 400 before any view runs
(voting.core.errors_web.check_input), an imported cell holding one refuses the whole file
with its row and column (voting.core.tables).
"""
from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import select

from tests.support.citizens import invitations, link_path, open_round
from tests.conftest import PASSWORD, login
from tests.support.online_pool import KINDS, make_round
from tests.security.common import changed, snapshot, workbook
from tests.support.web import text
from voting.core.errors import ImportRejected, RowError
from voting.core.errors_web import NUL_REFUSED
from voting.online.models import Evaluator
from voting.lists.models import ServiceObject
from voting.staff.models import User
from voting.survey.models import Vote
from voting.online import evaluators
from voting.lists import objects
from voting.lists.sections import sections_frame
from voting.core.tables import fold

SQL = "'); DROP TABLE users; -- \" OR 1=1 /*"
ZERO_WIDTH = "张\u200b三\u200c\u200d\ufeff"
RTL = "\u202e三张\u202c\u2066x\u2069"
NUL = "张\x00三"
HUGE = "长" * (10 * 1024 * 1024 // 3)  # 10 MB of UTF-8
KEPT = {"sql": SQL, "zero width": ZERO_WIDTH, "right-to-left": RTL}  # just text
TOO_LARGE = "提交的内容超过大小上限"


def page(response) -> str:
    return html.unescape(text(response))


def assert_clean(body: str) -> None:
    assert "Traceback" not in body and 'File "' not in body and "psycopg" not in body
    assert "sqlalchemy" not in body.lower() and "Werkzeug" not in body


def refused(response, status: int, message: str, db, before) -> None:
    body = page(response)
    shown = (response.status_code, " ".join(re.sub(r"<[^>]+>", " ", body).split())[:800])
    assert response.status_code == status, shown
    assert message in body, shown
    assert_clean(body)
    assert changed(before, snapshot(db)) == []


@pytest.fixture
def staff(client, admin):
    assert login(client, "admin", PASSWORD).status_code == 302
    return client


# ---- staff login ----------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["username", "password"])
@pytest.mark.parametrize("kind", list(KEPT))
def test_staff_login_with_hostile_text_is_a_plain_failure(client, admin, db, field, kind):
    before = snapshot(db)
    data = {"username": "admin", "password": PASSWORD, field: KEPT[kind]}
    response = client.post("/login", data=data)
    if field == "username":  # no such account: nothing stored
        refused(response, 401, "用户名或密码错误。", db, before)
        return
    # A wrong password for an account counts against it (voting/staff/users.py),
    # and that count is all that changes.
    body = page(response)
    assert response.status_code == 401 and "用户名或密码错误。" in body
    assert_clean(body)
    assert changed(before, snapshot(db)) == ["user"]
    assert db.scalar(select(User.failed_logins).where(User.username == "admin")) == 1


@pytest.mark.parametrize("field", ["username", "password"])
def test_staff_login_with_a_nul_byte_is_refused(client, admin, db, field):
    before = snapshot(db)
    data = {"username": "admin", "password": PASSWORD, field: NUL}
    refused(client.post("/login", data=data), 400, NUL_REFUSED, db, before)


@pytest.mark.parametrize("field", ["username", "password"])
def test_staff_login_with_10_mb_is_413(client, admin, db, field):
    before = snapshot(db)
    data = {"username": "admin", "password": PASSWORD, field: HUGE}
    refused(client.post("/login", data=data), 413, TOO_LARGE, db, before)


@pytest.mark.parametrize("url", ["/office/rounds/?page=1%00", "/office/online/?page=%00", "/receipt?code=%00"])
def test_a_nul_byte_in_the_query_string_is_refused(staff, db, campaign, url):
    before = snapshot(db)
    refused(staff.get(url), 400, NUL_REFUSED, db, before)


def test_a_nul_byte_in_an_upload_field_or_file_name_is_refused(staff, db, campaign):
    before = snapshot(db)
    data = "单位名称,科室\n县财政局,预算科\n".encode()
    for fields, name in (({"round_kind": "H1\x00", "section": "0"}, "list.csv"), ({"round_kind": "H1", "section": "0"}, "li\x00st.csv")):
        response = staff.post("/office/import/objects", data={**fields, "file": (io.BytesIO(data), name)},
                              content_type="multipart/form-data")
        refused(response, 400, NUL_REFUSED, db, before)


# ---- evaluator login, receipt check (the public pages) --------------------------------------

@pytest.mark.parametrize("field", ["login", "password"])
@pytest.mark.parametrize("kind", list(KEPT))
def test_evaluator_login_with_hostile_text_is_a_plain_failure(client, db, campaign, field, kind):
    make_round(db, campaign, sections=1, per_section=3)
    before = snapshot(db)
    data = {"login": "abcd2345", "password": "abcdefgh23", field: KEPT[kind]}
    response = client.post("/e/login", data=data)
    if field == "login" and len(KEPT[kind]) > 32:  # the field's length limit
        refused(response, 422, "账号是 8 位字母和数字。", db, before)
    else:
        refused(response, 401, "账号或密码不正确", db, before)


@pytest.mark.parametrize("field", ["login", "password"])
def test_evaluator_login_nul_and_10_mb_refused(client, db, campaign, field):
    make_round(db, campaign, sections=1, per_section=3)
    before = snapshot(db)
    data = {"login": "abcd2345", "password": "abcdefgh23"}
    refused(client.post("/e/login", data={**data, field: NUL}), 400, NUL_REFUSED, db, before)
    refused(client.post("/e/login", data={**data, field: HUGE}), 413, TOO_LARGE, db, before)


@pytest.mark.parametrize("kind", list(KEPT))
def test_receipt_check_with_hostile_text_says_what_a_receipt_is(client, db, kind):
    before = snapshot(db)
    refused(client.post("/receipt", data={"code": KEPT[kind]}), 422,
            "回执码是 16 位字母和数字（不含 0、O、1、I、L），请核对后重新输入。", db, before)


def test_receipt_check_nul_and_10_mb_refused(client, db):
    before = snapshot(db)
    refused(client.post("/receipt", data={"code": "ABCD" + NUL}), 400, NUL_REFUSED, db, before)
    refused(client.post("/receipt", data={"code": HUGE}), 413, TOO_LARGE, db, before)


# ---- staff pages: accounts, component entries, supervisor scores, rounds, decisions -----------

@pytest.mark.parametrize("kind", list(KEPT))
def test_display_name_stored_exactly(staff, db, kind):
    response = staff.post("/office/users/", data={"username": "clerk", "display_name": KEPT[kind], "role": "operator",
                                                  "unit": "0"})
    assert response.status_code == 200, page(response)[:2000]
    db.rollback()
    assert db.scalar(select(User.display_name).where(User.username == "clerk")) == KEPT[kind]


def test_account_form_nul_and_10_mb_refused(staff, db):
    before = snapshot(db)
    for field in ("username", "display_name"):
        data = {"username": "clerk", "display_name": "办事员", "role": "operator", "unit": "0"}
        refused(staff.post("/office/users/", data={**data, field: NUL}), 400, NUL_REFUSED, db, before)
        refused(staff.post("/office/users/", data={**data, field: HUGE}), 413, TOO_LARGE, db, before)


def bonus_form(section_id: int, **values) -> dict:
    return {"section": str(section_id), "type": "表彰", "level": "市厅级", "matter": "市级先进集体", "date": "2021-03-15",
            "note": "", **values}


def first_section_id(db, campaign) -> int:
    return int(sections_frame(db, campaign).iloc[0]["id"])


@pytest.mark.parametrize("field", ["matter", "note"])
@pytest.mark.parametrize("kind", list(KEPT))
def test_component_entry_text_stored_exactly(staff, db, campaign, field, kind):
    sid = first_section_id(db, campaign)
    response = staff.post("/office/components/bonus/entries", data=bonus_form(sid, **{field: KEPT[kind]}))
    assert response.status_code == 302, page(response)[:3000]
    db.rollback()
    from voting.components.models import BonusItem

    (item,) = db.scalars(select(BonusItem)).all()
    # A matter is stored folded (NFKC, no white space: the same matter counts once,
    # voting/components/bundle.py); zero-width and direction marks are kept as given.
    assert getattr(item, field) == (fold(KEPT[kind]) if field == "matter" else KEPT[kind])


@pytest.mark.parametrize("field", ["matter", "note", "date"])
def test_component_entry_nul_and_10_mb_refused(staff, db, campaign, field):
    sid = first_section_id(db, campaign)
    before = snapshot(db)
    url = "/office/components/bonus/entries"
    refused(staff.post(url, data=bonus_form(sid, **{field: NUL})), 400, NUL_REFUSED, db, before)
    refused(staff.post(url, data=bonus_form(sid, **{field: HUGE})), 413, TOO_LARGE, db, before)


def test_component_entry_over_the_length_limit_refused(staff, db, campaign):
    sid = first_section_id(db, campaign)
    before = snapshot(db)
    url = "/office/components/bonus/entries"
    refused(staff.post(url, data=bonus_form(sid, matter="长" * 301)), 422, "事项不能超过 300 个字", db, before)
    refused(staff.post(url, data=bonus_form(sid, note="长" * 501)), 422, "备注不能超过 500 个字", db, before)


@pytest.mark.parametrize("kind", list(KEPT))
def test_supervisor_score_that_is_not_a_number_is_422(staff, db, campaign, kind):
    unit_id = int(sections_frame(db, campaign).iloc[0]["unit_id"])
    sheet = [int(i) for i in sections_frame(db, campaign).query("unit_id == @unit_id")["id"]]
    before = snapshot(db)
    data = {f"score-{sid}": "4.5" for sid in sheet}
    data[f"score-{sheet[0]}"] = KEPT[kind]
    refused(staff.post(f"/office/supervisor/{unit_id}", data=data), 422,
            f"“{KEPT[kind].strip()}”不是数字，请填写如 4.5 的分值", db, before)


def test_supervisor_score_nul_and_10_mb_refused(staff, db, campaign):
    unit_id = int(sections_frame(db, campaign).iloc[0]["unit_id"])
    sheet = [int(i) for i in sections_frame(db, campaign).query("unit_id == @unit_id")["id"]]
    before = snapshot(db)
    data = {f"score-{sid}": "4.5" for sid in sheet}
    url = f"/office/supervisor/{unit_id}"
    refused(staff.post(url, data={**data, f"score-{sheet[0]}": "4\x005"}), 400, NUL_REFUSED, db, before)
    refused(staff.post(url, data={**data, f"score-{sheet[0]}": HUGE}), 413, TOO_LARGE, db, before)


ROUND = {"kind": "H1", "closes_at": "2031-12-20T18:00", "sample_size": "50", "mode": "link", "reminder_after_hours": "48"}


@pytest.mark.parametrize("field", ["sample_size", "reminder_after_hours", "closes_at"])
@pytest.mark.parametrize("kind", list(KEPT))
def test_round_creation_with_hostile_text_is_422(staff, db, campaign, field, kind):
    before = snapshot(db)
    response = staff.post("/office/rounds/", data={**ROUND, field: KEPT[kind]})
    message = "请填写截止时间" if field == "closes_at" else "不是有效的整数。"
    refused(response, 422, message, db, before)


@pytest.mark.parametrize("field", ["sample_size", "closes_at", "kind"])
def test_round_creation_nul_and_10_mb_refused(staff, db, campaign, field):
    before = snapshot(db)
    refused(staff.post("/office/rounds/", data={**ROUND, field: "5\x000"}), 400, NUL_REFUSED, db, before)
    refused(staff.post("/office/rounds/", data={**ROUND, field: HUGE}), 413, TOO_LARGE, db, before)


@pytest.fixture
def decided_section(db, campaign, tmp_path):
    from voting.demo.campaign import load_bundle
    from voting.demo.synthetic import example_bundle

    example_bundle(tmp_path / "bundle", seed=11)
    load_bundle(db, campaign, tmp_path / "bundle")
    db.commit()
    from voting.scores.scorecards import campaign_scorecard

    card = campaign_scorecard(db, campaign)
    satisfied = card.sections[card.sections["result"] == "satisfied"] if "result" in card.sections else None
    from scoring import columns as C

    satisfied = card.sections[card.sections[C.RESULT] == C.SATISFIED].iloc[0]
    frame = sections_frame(db, campaign)
    match = frame[(frame["unit"] == satisfied[C.UNIT]) & (frame["section"] == satisfied[C.SECTION])]
    return int(match.iloc[0]["id"])


@pytest.mark.parametrize("kind", list(KEPT))
def test_decision_reason_stored_exactly(staff, db, decided_section, kind):
    from voting.scores.models import ResultDecision

    response = staff.post(f"/office/scores/sections/{decided_section}/decision", data={"result": "none", "reason": KEPT[kind]})
    assert response.status_code == 303, page(response)[:3000]
    db.rollback()
    assert db.scalar(select(ResultDecision.reason)) == KEPT[kind]


def test_decision_reason_nul_too_long_and_10_mb_refused(staff, db, decided_section):
    before = snapshot(db)
    url = f"/office/scores/sections/{decided_section}/decision"
    refused(staff.post(url, data={"result": "none", "reason": "县评议领导小组" + NUL}), 400, NUL_REFUSED, db, before)
    refused(staff.post(url, data={"result": "none", "reason": "长" * 2001}), 422, "理由不超过 2000 字", db, before)
    refused(staff.post(url, data={"result": "none", "reason": HUGE}), 413, TOO_LARGE, db, before)


# ---- the citizen's comment ------------------------------------------------------------------

@pytest.fixture
def opened(app, db, campaign, client):
    survey = open_round(app, db, campaign, sections=1, per_section=2)
    invitation = invitations(db, survey)[0]
    response = client.get(link_path(db, invitation))
    assert response.status_code == 303
    return client


@pytest.mark.parametrize("kind", list(KEPT))
def test_citizen_comment_stored_exactly(opened, db, kind):
    response = opened.post("/v", data={"choice": "satisfied", "comment": KEPT[kind]})
    assert response.status_code == 303, page(response)[:2000]
    db.rollback()
    assert db.scalar(select(Vote.comment)) == KEPT[kind].strip()


def test_citizen_comment_nul_and_10_mb_refused(opened, db):
    before = snapshot(db)
    refused(opened.post("/v", data={"choice": "satisfied", "comment": "很好" + NUL}), 400, NUL_REFUSED, db, before)
    refused(opened.post("/v", data={"choice": "satisfied", "comment": HUGE}), 413, TOO_LARGE, db, before)
    # and the vote can still be cast afterwards
    assert opened.post("/v", data={"choice": "satisfied", "comment": "很好"}).status_code == 303


# ---- imported cells -------------------------------------------------------------------------

OBJECTS_HEADER = ["单位名称", "科室", "姓名", "单位(职务)", "手机号码", "事项内容(处罚类案件名称)", "是否处罚对象"]




def csv_file(rows: list[list]) -> bytes:
    import csv

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def test_imported_names_and_matters_stored_exactly(db, campaign):
    section = sections_frame(db, campaign).iloc[0]
    values = list(KEPT.values())
    rows = [[section["unit"], section["section"], v, v, f"1381234567{i}", v, "否"] for i, v in enumerate(values)]
    objects.import_objects(db, campaign, objects.RoundKind.H1, workbook([OBJECTS_HEADER, *rows]), "o.xlsx")
    db.commit()
    got = db.execute(select(ServiceObject.name, ServiceObject.org_title, ServiceObject.matter)
                     .order_by(ServiceObject.source_row)).all()
    assert [tuple(r) for r in got] == [(v, v, v) for v in values]


def test_imported_nul_cells_refused_with_row_and_column(db, campaign):
    section = sections_frame(db, campaign).iloc[0]
    rows = [[section["unit"], section["section"], "张三", "某公司", "13812345670", "事项", "否"],
            [section["unit"], section["section"], NUL, "某公司", "13812345671", "事\x00项", "否"]]
    before = snapshot(db)
    with pytest.raises(ImportRejected) as caught:
        objects.import_objects(db, campaign, objects.RoundKind.H1, csv_file([OBJECTS_HEADER, *rows]), "o.csv")
    db.rollback()
    reason = "含有空字符（NUL,\\x00），请删除后重新导入"
    assert caught.value.errors == [RowError(3, "C 列（姓名）", reason), RowError(3, "F 列（事项内容(处罚类案件名称)）", reason)]
    assert str(caught.value) == "文件 o.csv 有 2 处错误，读取 2 行，其中 1 行有错误；未导入任何数据。"
    assert changed(before, snapshot(db)) == []


def test_imported_10_mb_cell_refused_with_row_and_column(db, campaign):
    section = sections_frame(db, campaign).iloc[0]
    rows = [[section["unit"], section["section"], HUGE, "某公司", "13812345670", "事项", "否"]]
    before = snapshot(db)
    with pytest.raises(ImportRejected) as caught:
        objects.import_objects(db, campaign, objects.RoundKind.H1, csv_file([OBJECTS_HEADER, *rows]), "o.csv")
    db.rollback()
    assert caught.value.errors == [RowError(2, "", "CSV 格式错误：有单元格超过 131072 个字符")]
    assert changed(before, snapshot(db)) == []


def test_imported_nul_refused_on_the_upload_pages(staff, db, campaign):
    """Sections, history, a component, service objects and the ratings' 办件数 and 12345
    revisits: the page names row and column."""
    section = sections_frame(db, campaign).iloc[0]
    reason = "含有空字符（NUL,\\x00），请删除后重新导入"
    files = {
        "/office/import/sections": ([["单位名称", "科室"], ["县财政局", "预算\x00科"]], "B 列（科室）", {}),
        "/office/import/history": ([["年度", "单位名称", "科室", "结果"], ["2020", "县\x00财政局", "预算科", "满意单位"]],
                                   "B 列（单位名称）", {}),
        "/office/components/bonus/import": ([["单位名称", "科室", "类型", "级别", "事项", "日期"],
                                             [section["unit"], section["section"], "表彰", "市厅级", "先进\x00集体", "2021-03-15"]],
                                            "E 列（事项）", {}),
        "/office/import/objects": ([OBJECTS_HEADER, [section["unit"], section["section"], "张\x00三", "某公司", "13812345670",
                                                     "事项", "否"]], "C 列（姓名）", {"round_kind": "H1", "section": "0"}),
        "/office/ratings/figures/served": ([["窗口", "单位名称", "科室", "月份", "办件数"],
                                            ["", section["unit"], section["section"], "2024-05", "1\x002"]],
                                           "E 列（办件数）", {"assessment": ""}),
        "/office/ratings/figures/hotline": ([["单位名称", "月份", "级别", "回访数", "满意数"],
                                             [section["unit"], "2024-05", "省级\x00件", "2", "1"]], "C 列（级别）", {}),
    }
    before = snapshot(db)
    for url, (rows, column, fields) in files.items():
        response = staff.post(url, data={**fields, "file": (io.BytesIO(csv_file(rows)), "nul.csv")},
                              content_type="multipart/form-data")
        body = page(response)
        assert response.status_code == 422, (url, body[:3000])
        assert "文件 nul.csv 有 1 处错误，读取 1 行，其中 1 行有错误；未导入任何数据。" in body, url
        assert re.search(rf'<td class="num">2</td><td>{re.escape(column)}</td><td>{re.escape(reason)}</td>', body), url
        assert_clean(body)
        assert changed(before, snapshot(db)) == [], url


def test_imported_representative_names(db, campaign):
    online = make_round(db, campaign, sections=1, per_section=3)
    rows = [["姓名", "类别", "手机号码"]] + [[v, KINDS[0], f"1470000001{i}"] for i, v in enumerate(KEPT.values())]
    evaluators.import_representatives(db, online, workbook(rows), "reps.xlsx")
    db.commit()
    # (the numbers are sealed at rest: filtered here, not in SQL)
    listed = db.execute(select(Evaluator.name, Evaluator.phone).order_by(Evaluator.source_row)).all()
    names = [name for name, phone in listed if phone.startswith("1470000001")]
    assert names == list(KEPT.values())
    before = snapshot(db)
    with pytest.raises(ImportRejected) as caught:
        evaluators.import_representatives(db, online, csv_file([["姓名", "类别", "手机号码"], [NUL, KINDS[0], "14700000020"]]),
                                          "reps.csv")
    db.rollback()
    assert caught.value.errors == [RowError(2, "A 列（姓名）", "含有空字符（NUL,\\x00），请删除后重新导入")]
    assert changed(before, snapshot(db)) == []
