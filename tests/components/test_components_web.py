"""The review office's pages for the daily-stage components: a file per kind (good and
bad), single entries checked by the file readers (errors under their fields), deleting
a hand entry, and who may do what."""
from __future__ import annotations

import re
from io import BytesIO

import pandas as pd
import pytest
from sqlalchemy import func, select

from scoring import columns as C
from tests.conftest import PASSWORD, csv_bytes, login, xlsx_bytes
from voting.components.models import (
    BonusItem,
    ComponentImport,
    InspectionEvent,
    PlatformEvent,
    SupervisorScore,
    VoteCount,
)
from voting.staff.models import Role
from voting.lists.models import Section, Unit
from voting.components import components
from voting.staff import users

FDG = "县发改局"
PRICE, PLANNING = "价格科", "发展规划综合科"


def _count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def _section_id(db, section: str, unit: str = FDG) -> int:
    return db.scalar(select(Section.id).join(Unit).where(Unit.name == unit, Section.name == section))


def _upload(client, kind: str, data: bytes, filename: str, follow: bool = False):
    return client.post(
        f"/office/components/{kind}/import", data={"file": (BytesIO(data), filename)},
        content_type="multipart/form-data", follow_redirects=follow,
    )


def _field_errors(html: str, name: str) -> list[str]:
    """The error messages shown under the form field `name` (up to the next label)."""
    start = re.search(rf'<(?:input|select)[^>]*name="{name}"', html)
    assert start, f"no field {name}"
    rest = html[start.end():]
    end = rest.find("<label")
    return re.findall(r'<p class="field-error">([^<]*)</p>', rest if end < 0 else rest[:end])


# ---- files ------------------------------------------------------------------------------

GOOD_FILES = {
    "votes": (
        pd.DataFrame({"单位名称": [FDG, FDG], "科室": [PRICE, PLANNING], "轮次": ["H1", "H1"],
                      "满意": [30, 10], "基本满意": [5, 2], "不满意": [1, 0]}),
        VoteCount,
    ),
    "platform": (
        pd.DataFrame({"单位名称": [FDG, FDG], "科室": [PRICE, PLANNING], "平台": ["投诉举报", "网络监督"],
                      "项目": ["作风投诉", "有效投诉"], "扣分": ["4", ""], "承办": ["主办", ""]}),
        PlatformEvent,
    ),
    "supervisor": (
        pd.DataFrame({"单位名称": [FDG, FDG], "科室": [PRICE, PLANNING], "分值": [4.5, 3.6]}),
        SupervisorScore,
    ),
    "inspection": (
        pd.DataFrame({"单位名称": [FDG, FDG], "科室": [PRICE, PLANNING], "类型": ["立案查处", "县级查实"],
                      "严重": ["否", "是"], "人员": ["副职", ""], "本年度": ["是", ""], "日期": ["2021-03-15", ""]}),
        InspectionEvent,
    ),
    "bonus": (
        pd.DataFrame({"单位名称": [FDG, FDG], "科室": [PRICE, PLANNING], "类型": ["表彰", "宣传"],
                      "级别": ["省部级", "中央"], "事项": ["省级文明单位", "价格监测报道"], "日期": ["2021-05-01", "2021-06-01"]}),
        BonusItem,
    ),
}


@pytest.mark.parametrize("kind", list(GOOD_FILES))
def test_a_good_file_is_stored_and_summarised(admin_client, db, campaign, admin, kind):
    frame, model = GOOD_FILES[kind]
    data, filename = (xlsx_bytes(frame), f"{kind}.xlsx") if kind in ("bonus", "supervisor") else (csv_bytes(frame), f"{kind}.csv")
    response = _upload(admin_client, kind, data, filename)
    assert response.status_code == 302 and response.headers["Location"] == f"/office/components/{kind}"
    assert _count(db, model) == 2
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    label = components.ComponentKind(kind).label
    assert f"已导入 {filename}（{label}）：共 2 行，保存 2 行，替换原有 0 行。" in page
    assert filename in page and PLANNING in page  # the recent import and the stored rows
    upload = db.execute(select(ComponentImport.filename, ComponentImport.uploaded_by_id, ComponentImport.rows)).one()
    assert tuple(upload) == (filename, admin.id, 2)
    # The overview counts the rows and names the latest file and who sent it.
    overview = admin_client.get("/office/components/").get_data(as_text=True)
    row = re.search(rf'<tr id="kind-{kind}">(.*?)</tr>', overview, re.DOTALL).group(1)
    assert "2 行" in row and filename in row and "admin" in row


def test_imported_rows_show_their_file_row_and_chinese_labels(admin_client, db, campaign):
    frame, _ = GOOD_FILES["inspection"]
    assert _upload(admin_client, "inspection", csv_bytes(frame), "检查.csv").status_code == 302
    page = admin_client.get("/office/components/inspection").get_data(as_text=True)
    rows = re.search(r'<table id="stored-rows">(.*?)</table>', page, re.DOTALL).group(1)
    assert "文件 检查.csv 第 2 行" in rows and "文件 检查.csv 第 3 行" in rows
    assert "立案查处" in rows and "副职" in rows and "2021-03-15" in rows and "县级查实" in rows
    assert "删除" not in rows  # rows from a file are replaced by a new file, not deleted one by one


def test_a_long_list_of_rows_is_shown_a_page_at_a_time(admin_client, db, campaign):
    frame, _ = GOOD_FILES["platform"]
    long = pd.concat([frame.iloc[:1]] * 130, ignore_index=True)  # 130 rows of one file, newest: the last
    assert _upload(admin_client, "platform", csv_bytes(long), "long.csv").status_code == 302
    first = admin_client.get("/office/components/platform").get_data(as_text=True)
    rows = re.search(r'<table id="stored-rows">(.*?)</table>', first, re.DOTALL).group(1)
    assert "已保存的数据（130 条）" in first and rows.count("<tr>") == 1 + 100  # the header and a page
    assert "文件 long.csv 第 131 行" in rows and "第 1 / 2 页" in first and "下一页" in first
    second = admin_client.get("/office/components/platform?page=2").get_data(as_text=True)
    rows = re.search(r'<table id="stored-rows">(.*?)</table>', second, re.DOTALL).group(1)
    assert rows.count("<tr>") == 1 + 30 and "文件 long.csv 第 2 行" in rows and "上一页" in second
    # Past the last page: the last page.
    assert "第 2 / 2 页" in admin_client.get("/office/components/platform?page=9").get_data(as_text=True)


def test_a_new_file_replaces_the_earlier_file(admin_client, db, campaign):
    frame, _ = GOOD_FILES["platform"]
    _upload(admin_client, "platform", csv_bytes(frame), "platform.csv")
    response = _upload(admin_client, "platform", csv_bytes(frame.iloc[:1]), "platform.csv", follow=True)
    assert "共 1 行，保存 1 行，替换原有 2 行" in response.get_data(as_text=True)
    assert _count(db, PlatformEvent) == 1


def test_a_bad_file_is_refused_whole_with_every_bad_row(admin_client, db, campaign):
    data = (
        "单位名称,科室,平台,项目,扣分,承办\n"
        f"{FDG},{PRICE},投诉举报,作风投诉,4,主办\n"
        f"{FDG},{PRICE},投诉举报,作风投诉,9,主办\n"
        f"{FDG},没有这个科,网络监督,有效投诉,,\n"
    ).encode()
    response = _upload(admin_client, "platform", data, "platform.csv")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    errors = re.search(r'<table class="errors" id="import-errors">(.*?)</table>', page, re.DOTALL).group(1)
    assert "文件 platform.csv 有 2 处错误" in errors and "未导入任何数据" in errors
    assert re.search(r'<td class="num">3</td><td>E 列（扣分）</td><td>作风投诉扣分 9 超出范围', errors)
    assert re.search(r'<td class="num">4</td><td>—</td><td>单位名称/科室 县发改局/没有这个科 不在参评科室名单中', errors)
    assert _count(db, PlatformEvent) == 0 and _count(db, ComponentImport) == 0


def test_a_supervisor_file_that_breaks_the_tiers_is_refused(admin_client, db, campaign):
    frame = pd.DataFrame({"单位名称": [FDG, FDG], "科室": [PRICE, PLANNING], "分值": [4.5, 4.8]})
    response = _upload(admin_client, "supervisor", csv_bytes(frame), "supervisor.csv")
    assert response.status_code == 422 and "优秀档有 2 个科室" in response.get_data(as_text=True)
    assert _count(db, SupervisorScore) == 0


def test_an_upload_without_a_file_or_of_another_type_is_a_form_error(admin_client, db, campaign):
    response = admin_client.post("/office/components/votes/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "请选择文件" in response.get_data(as_text=True)
    response = _upload(admin_client, "votes", b"x", "votes.pdf")
    assert response.status_code == 400 and "只接受 .xlsx 或 .csv 文件" in response.get_data(as_text=True)
    assert _count(db, ComponentImport) == 0


def test_the_import_warns_about_exempt_sections(admin_client, db, campaign):
    from voting.lists import history

    history.import_history(db, campaign, f"年度,单位名称,科室,结果\n2019,{FDG},{PRICE},满意单位\n2020,{FDG},{PRICE},满意单位\n".encode(), "h.csv")
    db.commit()
    frame, _ = GOOD_FILES["votes"]
    page = _upload(admin_client, "votes", csv_bytes(frame), "votes.csv", follow=True).get_data(as_text=True)
    assert "保存 1 行" in page and "第 2 行：县发改局 价格科 免评（连续两年满意单位），未导入" in page
    recent = re.search(r'<table id="recent-imports">(.*?)</table>', page, re.DOTALL).group(1)
    assert "免评" in recent
    assert db.scalars(select(VoteCount.section_id)).all() == [_section_id(db, PLANNING)]
    # Nor can an exempt section be chosen in the entry form.
    assert f"{FDG} · {PRICE}<" not in page and f"{FDG} · {PLANNING}<" in page


# ---- single entries ---------------------------------------------------------------------

def _entry(client, kind: str, **fields):
    return client.post(f"/office/components/{kind}/entries", data=fields)


def test_vote_counts_entered_by_hand(admin_client, db, campaign, admin):
    sid = _section_id(db, PRICE)
    response = _entry(admin_client, "votes", section=sid, round="H2", satisfied="40", basic="3", unsatisfied="2", note="电话调查")
    assert response.status_code == 302
    stored = db.execute(select(VoteCount.section_id, VoteCount.round, VoteCount.satisfied, VoteCount.basic,
                               VoteCount.unsatisfied, VoteCount.import_id, VoteCount.created_by_id, VoteCount.note)).one()
    assert tuple(stored) == (sid, "H2", 40, 3, 2, None, admin.id, "电话调查")
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"已录入投票汇总：{FDG} · {PRICE}。" in page
    rows = re.search(r'<table id="stored-rows">(.*?)</table>', page, re.DOTALL).group(1)
    assert "手工录入 · admin" in rows and "电话调查" in rows and "删除" in rows


@pytest.mark.parametrize(
    ("counts", "field", "message"),
    [
        (("-1", "3", "2"), "satisfied", "满意“-1”无效：应为非负整数（没有票填 0）"),
        (("4", "2.5", "2"), "basic", "基本满意“2.5”无效：应为非负整数"),
        (("4", "2", ""), "unsatisfied", "不满意为空：应为非负整数"),
        (("0", "0", "0"), None, "满意、基本满意、不满意不能都为 0"),
    ],
)
def test_bad_vote_counts_are_refused_under_their_field(admin_client, db, campaign, counts, field, message):
    satisfied, basic, unsatisfied = counts
    response = _entry(admin_client, "votes", section=_section_id(db, PRICE), round="H1",
                      satisfied=satisfied, basic=basic, unsatisfied=unsatisfied)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    if field:
        assert any(message in e for e in _field_errors(page, field)), _field_errors(page, field)
    else:
        form = re.search(r'<form[^>]*id="entry-form">(.*?)</form>', page, re.DOTALL).group(1)
        assert message in form
    assert _count(db, VoteCount) == 0


def test_an_unknown_round_and_a_missing_section_are_refused(admin_client, db, campaign):
    response = _entry(admin_client, "votes", section="", round="H3", satisfied="1", basic="0", unsatisfied="0")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "请选择科室" in _field_errors(page, "section")
    response = _entry(admin_client, "votes", section=_section_id(db, PRICE), round="H3", satisfied="1", basic="0", unsatisfied="0")
    assert response.status_code == 422
    assert any("轮次“H3”无效：应为 H1、H2 或 NET" in e for e in _field_errors(response.get_data(as_text=True), "round"))
    assert _count(db, VoteCount) == 0


def test_a_hand_entry_of_votes_replaces_the_counts_of_its_round(admin_client, db, campaign):
    sid = _section_id(db, PRICE)
    _entry(admin_client, "votes", section=sid, round="H1", satisfied="10", basic="0", unsatisfied="0")
    _entry(admin_client, "votes", section=sid, round="H1", satisfied="12", basic="1", unsatisfied="0")
    assert db.execute(select(VoteCount.satisfied, VoteCount.basic)).all() == [(12, 1)]


def test_platform_entries(admin_client, db, campaign, admin):
    sid = _section_id(db, PLANNING)
    response = _entry(admin_client, "platform", section=sid, platform="投诉举报", item="办理评价", deduction="3", role="协办")
    assert response.status_code == 302
    stored = db.execute(select(PlatformEvent.platform, PlatformEvent.item, PlatformEvent.deduction, PlatformEvent.role,
                               PlatformEvent.created_by_id)).one()
    assert tuple(stored) == (C.HOTLINE, C.HANDLING, 3.0, C.CO, admin.id)
    # 有效投诉 without a deduction: one point, as in a file.
    assert _entry(admin_client, "platform", section=sid, platform="网络监督", item="有效投诉", deduction="", role="主办").status_code == 302
    assert db.scalar(select(PlatformEvent.deduction).where(PlatformEvent.item == C.COMPLAINT)) == 1.0
    page = admin_client.get("/office/components/platform").get_data(as_text=True)
    rows = re.search(r'<table id="stored-rows">(.*?)</table>', page, re.DOTALL).group(1)
    assert "办理评价" in rows and "协办" in rows and "网络监督" in rows and "有效投诉" in rows


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"platform": "网络监督", "item": "作风投诉", "deduction": "4", "role": "主办"}, "item", "项目“作风投诉”不属于网络监督平台：应为 有效投诉"),
        ({"platform": "投诉举报", "item": "作风投诉", "deduction": "9", "role": "主办"}, "deduction", "作风投诉扣分 9 超出范围：应在 3 到 5 之间"),
        ({"platform": "投诉举报", "item": "作风投诉", "deduction": "", "role": "主办"}, "deduction", "作风投诉的扣分为空"),
        ({"platform": "投诉举报", "item": "作风投诉", "deduction": "4", "role": "协办"}, "role", "协办只适用于办理评价"),
        ({"platform": "投诉举报", "item": "办理评价", "deduction": "三", "role": "主办"}, "deduction", "扣分“三”不是数字"),
    ],
)
def test_bad_platform_entries_are_refused_under_their_field(admin_client, db, campaign, fields, field, message):
    response = _entry(admin_client, "platform", section=_section_id(db, PRICE), **fields)
    assert response.status_code == 422
    assert any(message in e for e in _field_errors(response.get_data(as_text=True), field))
    assert _count(db, PlatformEvent) == 0


def test_inspection_entries(admin_client, db, campaign):
    sid = _section_id(db, PRICE)
    response = _entry(admin_client, "inspection", section=sid, type="立案查处", serious="否", person="主要负责人",
                      current_year="是", date="2021-04-01", note="县纪委 2021 第 3 号")
    assert response.status_code == 302
    response = _entry(admin_client, "inspection", section=sid, type="市级查实", serious="是", person="", current_year="", date="")
    assert response.status_code == 302
    stored = db.execute(select(InspectionEvent.kind, InspectionEvent.serious, InspectionEvent.person,
                               InspectionEvent.current_year, InspectionEvent.date, InspectionEvent.note)
                        .order_by(InspectionEvent.id)).all()
    assert [tuple(r) for r in stored] == [
        (C.CASE, False, C.PRINCIPAL, True, pd.Timestamp("2021-04-01").date(), "县纪委 2021 第 3 号"),
        (C.CITY_LEVEL, True, None, False, None, ""),
    ]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"type": "立案查处", "serious": "否", "person": "副职", "current_year": "是", "date": ""}, "date", "立案查处须填写立案日期"),
        ({"type": "立案查处", "serious": "是", "person": "副职", "current_year": "是", "date": "2021-04-01"}, "serious", "情节严重只适用于查实问题"),
        ({"type": "立案查处", "serious": "否", "person": "", "current_year": "是", "date": "2021-04-01"}, "person", "人员为空"),
        ({"type": "立案查处", "serious": "否", "person": "副职", "current_year": "", "date": "2021-04-01"}, "current_year", "立案查处须填写本年度"),
        ({"type": "县级查实", "serious": "否", "person": "副职", "current_year": "", "date": ""}, "person", "人员只适用于立案查处"),
        ({"type": "县级查实", "serious": "否", "person": "", "current_year": "", "date": "2021-02-30"}, "date", "日期“2021-02-30”无效"),
    ],
)
def test_bad_inspection_entries_are_refused_under_their_field(admin_client, db, campaign, fields, field, message):
    response = _entry(admin_client, "inspection", section=_section_id(db, PRICE), **fields)
    assert response.status_code == 422
    assert any(message in e for e in _field_errors(response.get_data(as_text=True), field))
    assert _count(db, InspectionEvent) == 0


def test_bonus_entries(admin_client, db, campaign):
    response = _entry(admin_client, "bonus", section=_section_id(db, PLANNING), type="宣传", level="中央",
                      matter="发展规划经验", date="2021-09-09")
    assert response.status_code == 302
    stored = db.execute(select(BonusItem.kind, BonusItem.level, BonusItem.matter, BonusItem.date)).one()
    assert tuple(stored) == (C.PUBLICITY, C.CENTRAL, "发展规划经验", pd.Timestamp("2021-09-09").date())


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"type": "表彰", "level": "省级", "matter": "先进集体", "date": "2021-05-01"}, "level", "表彰级别“省级”无效：应为 国家级、省部级 或 市厅级"),
        ({"type": "宣传", "level": "国家级", "matter": "报道", "date": "2021-05-01"}, "level", "宣传级别“国家级”无效"),
        ({"type": "表彰", "level": "国家级", "matter": "", "date": "2021-05-01"}, "matter", "事项为空"),
        ({"type": "表彰", "level": "国家级", "matter": "先进集体", "date": ""}, "date", "日期为空"),
    ],
)
def test_bad_bonus_entries_are_refused_under_their_field(admin_client, db, campaign, fields, field, message):
    response = _entry(admin_client, "bonus", section=_section_id(db, PRICE), **fields)
    assert response.status_code == 422
    assert any(message in e for e in _field_errors(response.get_data(as_text=True), field))
    assert _count(db, BonusItem) == 0


def test_supervisor_scores_are_not_entered_here(admin_client, db, campaign):
    response = _entry(admin_client, "supervisor", section=_section_id(db, PRICE), score="4.5")
    assert response.status_code == 404 and _count(db, SupervisorScore) == 0
    page = admin_client.get("/office/components/supervisor").get_data(as_text=True)
    assert 'href="/office/supervisor/"' in page and 'id="entry-form"' not in page


def test_the_supervisor_page_lists_the_stored_scores(admin_client, db, campaign):
    frame, _ = GOOD_FILES["supervisor"]
    _upload(admin_client, "supervisor", csv_bytes(frame), "主管评分.csv")
    page = admin_client.get("/office/components/supervisor").get_data(as_text=True)
    rows = re.search(r'<table id="stored-rows">(.*?)</table>', page, re.DOTALL).group(1)
    assert re.search(rf"<td>{FDG}</td><td>{PRICE}</td><td class=\"num\">4.5</td>\s*<td>文件 主管评分.csv · admin", rows)
    assert "3.6" in rows


# ---- deleting a hand entry --------------------------------------------------------------

def test_a_hand_entry_is_deleted(admin_client, db, campaign):
    _entry(admin_client, "bonus", section=_section_id(db, PRICE), type="表彰", level="国家级", matter="先进", date="2021-05-01")
    entry_id = db.scalar(select(BonusItem.id))
    response = admin_client.post(f"/office/components/bonus/entries/{entry_id}/delete")
    assert response.status_code == 302 and _count(db, BonusItem) == 0
    assert f"已删除一条手工录入的加分项：{FDG} · {PRICE}。" in admin_client.get(response.headers["Location"]).get_data(as_text=True)


def test_an_imported_row_is_not_deleted_one_by_one(admin_client, db, campaign):
    frame, _ = GOOD_FILES["bonus"]
    _upload(admin_client, "bonus", csv_bytes(frame), "bonus.csv")
    entry_id = db.scalar(select(BonusItem.id).order_by(BonusItem.id))
    response = admin_client.post(f"/office/components/bonus/entries/{entry_id}/delete")
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "这条记录来自导入的文件（第 2 行），不能单独删除：请修改文件后重新导入" in page
    assert _count(db, BonusItem) == 2


def test_deleting_an_unknown_entry_is_404(admin_client, db, campaign):
    _entry(admin_client, "platform", section=_section_id(db, PRICE), platform="网络监督", item="有效投诉", deduction="", role="主办")
    platform_id = db.scalar(select(PlatformEvent.id))
    assert admin_client.post("/office/components/platform/entries/999999/delete").status_code == 404
    # An id of another kind is no entry of this kind.
    assert admin_client.post(f"/office/components/bonus/entries/{platform_id + 1000}/delete").status_code == 404
    assert admin_client.post(f"/office/components/supervisor/entries/{platform_id}/delete").status_code == 404
    assert _count(db, PlatformEvent) == 1


@pytest.mark.parametrize("path", ["/office/components/nothing", "/office/components/nothing/entries", "/office/components/nothing/import"])
def test_an_unknown_kind_is_404(admin_client, campaign, path):
    response = admin_client.get(path) if path.count("/") == 3 else admin_client.post(path)
    assert response.status_code == 404 and "页面不存在" in response.get_data(as_text=True)


# ---- roles and CSRF -------------------------------------------------------------------------

def _posts():
    """Every kind of POST of these pages, with a body that an admin could send."""
    return [
        ("/office/components/votes/import", {"file": (BytesIO(csv_bytes(GOOD_FILES["votes"][0])), "votes.csv")}),
        ("/office/components/votes/entries", {"section": "1", "round": "H1", "satisfied": "1", "basic": "0", "unsatisfied": "0"}),
        ("/office/components/votes/entries/1/delete", {}),
    ]


@pytest.mark.parametrize("role", [Role.operator, Role.auditor])
def test_the_office_reads_but_only_the_admin_writes(client, db, campaign, role):
    users.create_user(db, "reader", PASSWORD, role)
    db.commit()
    login(client, "reader")
    index = client.get("/office/components/")
    assert index.status_code == 200 and "投票汇总" in index.get_data(as_text=True)
    page = client.get("/office/components/platform")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "扣分" in body
    assert 'id="upload-form"' not in body and 'id="entry-form"' not in body
    for path, data in _posts():
        response = client.post(path, data=data, content_type="multipart/form-data")
        assert response.status_code == 403, path
    assert _count(db, VoteCount) == 0 and _count(db, ComponentImport) == 0


def test_a_liaison_gets_403_everywhere(client, db, campaign):
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit=db.scalar(select(Unit).where(Unit.name == FDG)))
    db.commit()
    login(client, "liaison")
    for path in ("/office/components/", "/office/components/votes", "/office/components/supervisor"):
        assert client.get(path).status_code == 403, path
    for path, data in _posts():
        assert client.post(path, data=data, content_type="multipart/form-data").status_code == 403, path
    assert _count(db, VoteCount) == 0


def test_pages_need_login(client, db, campaign):
    for path in ("/office/components/", "/office/components/bonus"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    response = client.post("/office/components/votes/entries", data={"section": "1"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _count(db, VoteCount) == 0


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_a_post_without_its_csrf_token_is_refused(client, db, campaign, admin, app_config):
    token = _token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}).status_code == 302
    fields = {"section": str(_section_id(db, PRICE)), "round": "H1", "satisfied": "5", "basic": "0", "unsatisfied": "0"}
    response = client.post("/office/components/votes/entries", data=fields)
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert _count(db, VoteCount) == 0
    # The page's own form carries its token, and with it the entry is stored.
    token = _token(client.get("/office/components/votes").get_data(as_text=True))
    assert client.post("/office/components/votes/entries", data={**fields, "csrf_token": token}).status_code == 302
    assert _count(db, VoteCount) == 1
