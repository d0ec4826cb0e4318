"""The office's pages for window assessments (voting/schemes/views.py), on SQLite and
PostgreSQL: a built-in scheme with its examples gives the published ranking on the
period page; a bad scheme file, entities file or records file is refused with every
problem listed and nothing stored; records added (bad: the reason on the form) and
removed with a reason (audited); a closed period refuses changes; the staff who only
read get the pages but not the changes; the downloads open; unknown ids are 404."""
from __future__ import annotations

import html
import io
import re

import openpyxl
import pytest
from docx import Document
from sqlalchemy import func, select

from tests.conftest import PASSWORD, login
from voting.audit.models import AuditEntry
from voting.lists.models import Unit
from voting.schemes import assessments as A
from voting.schemes.files import BUILTIN, builtin_folder
from voting.schemes.models import AssessedEntity, Assessment, AssessmentPeriod, AssessmentRecord
from voting.staff import users
from voting.staff.models import Role

BASE = "/office/assessments"
GENHE_WINDOW = "公安局窗口"


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def count(db, model) -> int:
    db.rollback()  # a fresh snapshot: the app committed in its own session
    return db.scalar(select(func.count()).select_from(model))


def csv_of(*rows: tuple[str, ...]) -> bytes:
    """A CSV file of these rows (the first the header), written cell by cell."""
    return "".join(",".join(row) + "\n" for row in rows).encode("utf-8")


def upload(client, path: str, data: bytes, filename: str, **fields):
    return client.post(path, data={"file": (io.BytesIO(data), filename), **fields},
                       content_type="multipart/form-data")


def ranking_row(body: str, entity: str) -> dict[str, str]:
    """The cells of `entity`'s row in the period's ranking."""
    found = re.search(r'<tr id="entity-(\d+)"[^>]*>\s*<td class="rank">([^<]*)</td>\s*<td class="entity">'
                      + re.escape(entity) + r"</td>(.*?)</tr>", body, re.DOTALL)
    assert found, f"no row for {entity}"
    rest = found.group(3)
    return {"id": found.group(1), "rank": found.group(2),
            "total": re.search(r'id="total-\d+">([^<]*)<', rest).group(1),
            "veto": re.search(r'<td class="veto">([^<]*)</td>', rest).group(1),
            "flags": re.search(r'<td class="flags">([^<]*)</td>', rest).group(1), "items": rest}


def total(client, assessment_id: int, label: str, entity: str) -> str:
    response = client.get(f"{BASE}/{assessment_id}/periods/{label}")
    assert response.status_code == 200
    return ranking_row(page(response), entity)["total"]


@pytest.fixture
def genhe(db, admin):
    """Genhe's scheme with its windows and an open month, no records."""
    assessment = A.create_assessment(db, "根河三月", builtin="genhe", actor="admin")
    A.import_entities(db, assessment, (builtin_folder() / "genhe" / "entities.csv").read_bytes(), "entities.csv",
                      "admin")
    A.open_period(db, assessment, "2023-03", "admin")
    db.commit()
    return assessment


def period_path(assessment, label: str = "2023-03") -> str:
    return f"{BASE}/{assessment.id}/periods/{label}"


def record_form(**given) -> dict[str, str]:
    return {"entity": GENHE_WINDOW, "indicator": "leader_duty", "count": "1", "value": "", "points": "",
            "note": "3月2日带班领导未到位", "on": "", **given}


# ---- creating, and the published ranking ---------------------------------------------------------


def test_a_builtin_with_examples_shows_the_published_ranking(admin_client, db):
    response = admin_client.post(f"{BASE}/", data={"name": "晋江一季度", "scheme": "jinjiang", "examples": "y"})
    assert response.status_code == 302
    created = db.scalar(select(Assessment).where(Assessment.name == "晋江一季度"))
    assert response.headers["Location"] == f"{BASE}/{created.id}"
    overview = page(admin_client.get(response.headers["Location"]))
    assert "已建立考核“晋江一季度”（晋江市行政服务中心窗口季度绩效考核）。已载入示例数据：25 个对象，期间 2023-Q1。" in overview
    assert "2023年第1季度（2023-Q1）" in overview and "进行中" in overview
    assert "人员表现（30分）" in overview and "人员平均分折算" in overview  # the indicator table
    assert "公安出入境" in overview and "婚姻登记中心" in overview  # the entities
    listing = page(admin_client.get(f"{BASE}/"))
    assert "晋江一季度" in listing and "晋江市行政服务中心窗口季度绩效考核" in listing and "2023年第1季度" in listing

    body = page(admin_client.get(f"{BASE}/{created.id}/periods/2023-Q1"))
    assert "2023年第1季度市政务服务中心窗口绩效考核成绩名次表" in body
    first = ranking_row(body, "公安出入境")
    assert (first["rank"], first["total"], first["veto"], first["flags"]) == ("1", "107.56", "√", "")
    assert "人员表现分" in first["items"] and "+29.562 分" in first["items"]  # its explanation
    second = ranking_row(body, "婚姻登记中心")
    assert (second["rank"], second["total"], second["flags"]) == ("2", "106.75", "红旗窗口")
    assert ranking_row(body, "文化和旅游")["total"] == "103.85"  # exact, half up (floats print 103.84)
    assert ranking_row(body, "残联")["total"] == "100.23"  # the rule, not the misprint
    assert body.count("<details") >= 25 and "<table id=\"record-list\">" in body


@pytest.mark.parametrize("builtin", sorted(BUILTIN))
def test_every_builtin_with_examples_shows_its_periods_and_downloads(admin_client, db, builtin):
    response = admin_client.post(f"{BASE}/", data={"name": f"示例 {builtin}", "scheme": builtin, "examples": "y"})
    assert response.status_code == 302
    created = db.scalar(select(Assessment).where(Assessment.name == f"示例 {builtin}"))
    labels = list(db.scalars(select(AssessmentPeriod.label).where(AssessmentPeriod.assessment_id == created.id)))
    assert labels
    for label in labels:
        body = page(admin_client.get(f"{BASE}/{created.id}/periods/{label}"))
        assert 'class="ranking"' in body and 'id="record-form"' in body, label
        for download in ("tables.xlsx", "report.docx"):
            assert admin_client.get(f"{BASE}/{created.id}/periods/{label}/{download}").status_code == 200, download


def test_a_bad_scheme_file_lists_its_lines_and_stores_nothing(admin_client, db):
    bad = b"name: x\nkinds: [window]\nperiod: week\nmodules: []\n"
    response = upload(admin_client, f"{BASE}/", bad, "bad.yaml", name="坏方案", scheme="file")
    assert response.status_code == 422
    body = page(response)
    assert "方案 bad.yaml 有" in body and "未建立考核" in body
    lines = re.search(r'<ul class="errors" id="scheme-errors">(.*?)</ul>', body, re.DOTALL).group(1)
    assert "bad.yaml 第 3 行，period" in lines
    assert count(db, Assessment) == 0


@pytest.mark.parametrize("data, name, message", [
    ({"scheme": "genhe"}, "", "请填写考核名称"),
    ({"name": "没有方案"}, "", "请选择方案"),
    ({"name": "没有文件", "scheme": "file"}, "", "请选择方案文件（YAML）"),
])
def test_a_create_form_missing_something_says_what(admin_client, db, data, name, message):
    response = admin_client.post(f"{BASE}/", data=data)
    assert response.status_code == 400 and message in page(response)
    assert count(db, Assessment) == 0


def test_a_scheme_file_not_in_utf8_or_a_taken_name_is_refused(admin_client, db, genhe):
    response = upload(admin_client, f"{BASE}/", "方案名称".encode("gbk"), "gbk.yaml", name="新考核", scheme="file")
    assert response.status_code == 422 and "不是 UTF-8 编码的文本" in page(response)
    response = upload(admin_client, f"{BASE}/", b"name: x\n", "长" * 201 + ".yaml", name="新考核", scheme="file")
    assert response.status_code == 400 and "方案文件的名称最多 200 个字符" in page(response)
    response = admin_client.post(f"{BASE}/", data={"name": "根河三月", "scheme": "genhe"})
    assert response.status_code == 400 and "已有名为“根河三月”的考核" in page(response)
    assert count(db, Assessment) == 1


def test_an_uploaded_scheme_is_used(admin_client, db):
    text = (builtin_folder() / "genhe.yaml").read_bytes()
    response = upload(admin_client, f"{BASE}/", text, "我的方案.yaml", name="自己的方案", scheme="file")
    assert response.status_code == 302
    created = db.scalar(select(Assessment).where(Assessment.name == "自己的方案"))
    assert created.scheme_source == "我的方案.yaml"
    assert "上传的文件 我的方案.yaml" in page(admin_client.get(f"{BASE}/{created.id}"))


# ---- entities and periods ------------------------------------------------------------------------


def test_an_entities_file_with_bad_rows_lists_them_and_stores_nothing(admin_client, db):
    created = A.create_assessment(db, "根河", builtin="genhe", actor="admin")
    db.commit()
    data = csv_of(("序号", "对象", "类型"), ("1", "公安局窗口", "窗口"), ("x", "税务局窗口", "窗口"),
                  ("3", "", "飞机"))
    response = upload(admin_client, f"{BASE}/{created.id}/entities", data, "对象.csv")
    assert response.status_code == 422
    body = page(response)
    table = re.search(r'<table class="errors" id="import-errors">(.*?)</table>', body, re.DOTALL).group(1)
    assert "文件 对象.csv 有" in table and "未导入任何数据" in table
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>', table)
    assert [(row, reason) for row, _, reason in rows] == [
        ("3", "序号“x”应为整数"), ("4", "对象名称为空"), ("4", "类型“飞机”应为 窗口、部门、镇街 或 人员")]
    assert count(db, AssessedEntity) == 0

    good = csv_of(("序号", "对象"), ("1", "公安局窗口"), ("2", "税务局窗口"))
    response = upload(admin_client, f"{BASE}/{created.id}/entities", good, "对象.csv")
    assert response.status_code == 302 and count(db, AssessedEntity) == 2
    assert "已导入 对象.csv：2 个考核对象" in page(admin_client.get(response.headers["Location"]))


def test_periods_are_opened_by_their_label(admin_client, db, genhe):
    response = admin_client.post(f"{BASE}/{genhe.id}/periods", data={"label": "2023-13"})
    assert response.status_code == 400 and "“2023-13”不是期间" in page(response)
    response = admin_client.post(f"{BASE}/{genhe.id}/periods", data={"label": "2023-03"})
    assert response.status_code == 400 and "期间 2023-03 已经建立" in page(response)
    response = admin_client.post(f"{BASE}/{genhe.id}/periods", data={"label": " 2023-q2 "})
    assert response.status_code == 302 and response.headers["Location"] == period_path(genhe, "2023-Q2")
    body = page(admin_client.get(response.headers["Location"]))
    assert "已建立期间 2023年第2季度（2023-Q2）。" in body
    assert "由其中各考核期的结果汇总而成" in body and "2023-Q2 之内还没有任何考核期" in body
    assert 'id="record-form"' not in body  # a rolled-up period takes no records
    assert count(db, AssessmentPeriod) == 2


def test_a_period_before_any_entity_says_so(admin_client, db, admin):
    created = A.create_assessment(db, "空考核", builtin="genhe", actor="admin")
    db.commit()
    response = admin_client.post(f"{BASE}/{created.id}/periods", data={"label": "2023-03"})
    assert response.status_code == 302
    body = page(admin_client.get(response.headers["Location"]))
    assert "还没有考核对象：请先在考核页面导入对象名单" in body and "下载成绩表" not in body
    response = admin_client.get(f"{BASE}/{created.id}/periods/2023-03/tables.xlsx")
    assert response.status_code == 400 and "还没有考核对象" in page(response)


def test_a_rolled_up_period_shows_the_months_inside(admin_client, db, admin):
    miyi = A.create_assessment(db, "米易", builtin="miyi", with_examples=True, actor="admin")
    A.open_period(db, miyi, "2020-Q3", "admin")
    db.commit()
    body = page(admin_client.get(f"{BASE}/{miyi.id}/periods/2020-Q3"))
    assert ranking_row(body, "民政局")["total"] == "103.2"
    assert "2020-07：103.2 分" in body and 'id="record-form"' not in body
    for download in ("tables.xlsx", "report.docx"):
        assert admin_client.get(f"{BASE}/{miyi.id}/periods/2020-Q3/{download}").status_code == 200, download
    response = admin_client.post(f"{BASE}/{miyi.id}/periods/2020-Q3/records",
                                 data={"entity": "民政局", "indicator": "overtime", "count": "1", "value": "20"})
    assert response.status_code == 400 and "由各考核期汇总而成" in page(response)


# ---- records -----------------------------------------------------------------------------------


def test_a_records_file_with_bad_rows_lists_them_and_stores_nothing(admin_client, db, genhe):
    data = csv_of(("对象", "指标", "数量"), ("公安局窗口", "leader_duty", "2"), ("无名窗口", "leader_duty", "1"),
                  ("公安局窗口", "nope", "1"))
    response = upload(admin_client, f"{period_path(genhe)}/import", data, "三月.csv")
    assert response.status_code == 422
    table = re.search(r'<table class="errors" id="import-errors">(.*?)</table>', page(response), re.DOTALL).group(1)
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>', table)
    assert rows == [("3", "A 列（对象）", "对象“无名窗口”不在对象名单中"), ("4", "B 列（指标）", "方案中没有指标“nope”")]
    assert count(db, AssessmentRecord) == 0

    before = total(admin_client, genhe.id, "2023-03", GENHE_WINDOW)
    good = csv_of(("对象", "指标", "数量"), ("公安局窗口", "leader_duty", "2"))
    response = upload(admin_client, f"{period_path(genhe)}/import", good, "三月.csv")
    assert response.status_code == 302 and count(db, AssessmentRecord) == 1
    assert total(admin_client, genhe.id, "2023-03", GENHE_WINDOW) != before


def test_cells_the_tables_cannot_hold_are_their_rows_errors(admin_client, db, genhe):
    """Read as numbers they are not (“²”), too large for their columns, or too long:
    422 naming each, nothing stored (never the database's own refusal, a 500)."""
    data = csv_of(("对象", "指标", "数量", "数值", "分值", "说明"),
                  ("公安局窗口", "leader_duty", "²", "", "", ""),
                  ("公安局窗口", "leader_duty", "99999999999", "", "", ""),
                  ("公安局窗口", "civilization", "1", "1e30", "1e30", "x"),
                  ("公安局窗口", "leader_duty", "1", "", "", "长" * 501))
    response = upload(admin_client, f"{period_path(genhe)}/import", data, "三月.csv")
    assert response.status_code == 422
    table = re.search(r'<table class="errors" id="import-errors">(.*?)</table>', page(response), re.DOTALL).group(1)
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>', table)
    assert [(row, column.split(" ")[0]) for row, column, _ in rows] == [
        ("2", "C"), ("3", "C"), ("4", "D"), ("4", "E"), ("5", "F")]
    assert "超过 500 个字" in table and "数字太大" in table
    entities = csv_of(("序号", "对象", "所属窗口"), ("１", "甲窗口", ""), ("99999999999", "乙窗口", ""),
                      ("3", "丙" * 201, ""), ("4", "丁窗口", "戊" * 201))
    response = upload(admin_client, f"{BASE}/{genhe.id}/entities", entities, "对象.csv")
    assert response.status_code == 422
    table = re.search(r'<table class="errors" id="import-errors">(.*?)</table>', page(response), re.DOTALL).group(1)
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>', table)
    assert [(row, column.split(" ")[0]) for row, column, _ in rows] == [("3", "A"), ("4", "B"), ("5", "C")]
    assert count(db, AssessmentRecord) == 0 and count(db, AssessedEntity) == 3  # genhe's own three


@pytest.mark.parametrize("given, message", [
    ({"indicator": "nope"}, "方案中没有指标“nope”"),
    ({"value": "1e30"}, "数值应在 -1000000000000 到 1000000000000 之间"),
    ({"entity": "无名窗口"}, "对象“无名窗口”不在对象名单中"),
    ({"points": "0.0001"}, "分值“0.0001”的小数超过 3 位"),
    ({"points": "1e30"}, "分值应在 -1000000 到 1000000 之间"),
    ({"count": "-1"}, "数量"),
    ({"count": ""}, "请填写数量"),
    ({"entity": ""}, "请选择对象"),
    ({"on": "2023-02-30"}, "日期"),
])
def test_a_bad_record_is_refused_with_the_reason_on_the_form(admin_client, db, genhe, given, message):
    response = admin_client.post(f"{period_path(genhe)}/records", data=record_form(**given))
    assert response.status_code == 400
    form = re.search(r'<form class="panel"[^>]*id="record-form">(.*?)</form>', page(response), re.DOTALL).group(1)
    assert message in form
    assert count(db, AssessmentRecord) == 0


def test_a_record_added_changes_the_total_and_is_removed_with_a_reason(admin_client, db, genhe):
    before = total(admin_client, genhe.id, "2023-03", GENHE_WINDOW)
    response = admin_client.post(f"{period_path(genhe)}/records", data=record_form(on="2023-03-02"))
    assert response.status_code == 302 and response.headers["Location"] == f"{period_path(genhe)}#records"
    record = db.scalar(select(AssessmentRecord))
    record_id = record.id
    assert (record.indicator, record.count, record.on.isoformat(), record.recorded_by) == (
        "leader_duty", 1, "2023-03-02", "admin")
    body = page(admin_client.get(period_path(genhe)))
    assert "已录入一条记录：公安局窗口 · 领导带班到位。" in body
    assert ranking_row(body, GENHE_WINDOW)["total"] != before
    listed = re.search(rf'<tr id="record-{record.id}">(.*?)</tr>', body, re.DOTALL).group(1)
    assert "领导带班到位" in listed and "3月2日带班领导未到位" in listed and "2023-03-02" in listed

    delete = f"{period_path(genhe)}/records/{record.id}/delete"
    response = admin_client.post(delete, data={"reason": "  "})
    assert response.status_code == 400 and "请写明删除的原因" in page(response)
    assert count(db, AssessmentRecord) == 1
    response = admin_client.post(delete, data={"reason": "录错了窗口"})
    assert response.status_code == 302
    assert count(db, AssessmentRecord) == 0
    assert total(admin_client, genhe.id, "2023-03", GENHE_WINDOW) == before
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "assessment.record_delete"))
    assert entry.detail["reason"] == "录错了窗口" and entry.detail["record"] == record_id and entry.actor == "admin"
    assert admin_client.post(delete, data={"reason": "再删一次"}).status_code == 404


def test_a_closed_period_refuses_changes_until_reopened(admin_client, db, genhe):
    close = f"{period_path(genhe)}/close"
    asked = admin_client.post(close)
    assert asked.status_code == 200 and "请确认：结束2023年3月的考核" in page(asked)
    assert db.scalar(select(AssessmentPeriod.closed_at)) is None  # asked, not done
    assert admin_client.post(close, data={"confirmed": "1"}).status_code == 302
    assert count(db, AssessmentPeriod) == 1 and db.scalar(select(AssessmentPeriod.closed_by)) == "admin"

    response = admin_client.post(f"{period_path(genhe)}/records", data=record_form())
    assert response.status_code == 409 and "期间 2023-03 已结束考核" in page(response)
    response = upload(admin_client, f"{period_path(genhe)}/import",
                      csv_of(("对象", "指标"), ("公安局窗口", "leader_duty")), "三月.csv")
    assert response.status_code == 409 and count(db, AssessmentRecord) == 0
    assert admin_client.post(close, data={"confirmed": "1"}).status_code == 409  # already closed
    body = page(admin_client.get(period_path(genhe)))
    assert "已结束" in body and 'id="record-form"' not in body and 'id="reopen-form"' in body

    reopen = f"{period_path(genhe)}/reopen"
    response = admin_client.post(reopen, data={"reason": ""})
    assert response.status_code == 400 and "请写明重新开启的原因" in page(response)
    assert admin_client.post(reopen, data={"reason": "补录投诉"}).status_code == 302
    assert db.scalar(select(AssessmentPeriod.closed_at)) is None
    assert admin_client.post(f"{period_path(genhe)}/records", data=record_form()).status_code == 302
    actions = list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-3:] == ["assessment.period_close", "assessment.period_reopen", "assessment.record_add"]


# ---- who may do what -------------------------------------------------------------------------------


def test_an_operator_reads_every_page_and_changes_nothing(client, db, genhe):
    users.create_user(db, "operator", PASSWORD, Role.operator)
    db.commit()
    assert login(client, "operator").status_code == 302
    for path in (f"{BASE}/", f"{BASE}/{genhe.id}", period_path(genhe), f"{period_path(genhe)}/tables.xlsx",
                 f"{period_path(genhe)}/report.docx"):
        assert client.get(path).status_code == 200, path
    body = page(client.get(period_path(genhe)))
    assert 'id="record-form"' not in body and "结束考核" not in body
    assert 'id="create-form"' not in page(client.get(f"{BASE}/"))
    for path, data in ((f"{BASE}/", {"name": "x", "scheme": "genhe"}), (f"{BASE}/{genhe.id}/periods", {"label": "2023-04"}),
                       (f"{period_path(genhe)}/records", record_form()), (f"{period_path(genhe)}/close", {"confirmed": "1"})):
        assert client.post(path, data=data).status_code == 403, path
    assert count(db, AssessmentRecord) == 0 and count(db, Assessment) == 1


def test_a_liaison_gets_none_of_these_pages(client, db, campaign, genhe):
    users.create_user(db, "liaison", PASSWORD, Role.liaison, db.scalar(select(Unit).limit(1)))
    db.commit()
    assert login(client, "liaison").status_code == 302
    assert client.get(f"{BASE}/").status_code == 403
    assert client.get(period_path(genhe)).status_code == 403
    assert client.post(f"{period_path(genhe)}/records", data=record_form()).status_code == 403


# ---- downloads and unknown addresses ------------------------------------------------------------


def test_the_downloads_open(admin_client, db):
    created = A.create_assessment(db, "晋江", builtin="jinjiang", with_examples=True, actor="admin")
    db.commit()
    response = admin_client.get(f"{BASE}/{created.id}/periods/2023-Q1/tables.xlsx")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "filename*=UTF-8''%E6%99%8B%E6%B1%9F-2023-Q1.xlsx" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert "名次表" in book.sheetnames and "汇总表" in book.sheetnames
    response = admin_client.get(f"{BASE}/{created.id}/periods/2023-Q1/report.docx")
    assert response.status_code == 200 and response.headers["Content-Disposition"].endswith(".docx")
    document = Document(io.BytesIO(response.data))
    assert any("2023年第1季度政务服务月报" in p.text for p in document.paragraphs)


def test_the_indicator_table_downloads_as_the_printed_layout(admin_client, db, genhe):
    assert f"{BASE}/{genhe.id}/indicators.xlsx" in page(admin_client.get(f"{BASE}/{genhe.id}"))
    response = admin_client.get(f"{BASE}/{genhe.id}/indicators.xlsx")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["指标表"]
    cells = [row for row in book["指标表"].iter_rows(values_only=True)]
    assert cells[1] == ("一级指标", "二级指标", "分值", "具体考核内容", "计分规则", "责任科室")
    scheme = A.scheme_of(genhe)
    names = [row[1] for row in cells[2:]]
    assert names == [indicator.name for module in scheme.modules for indicator in module.indicators]
    assert admin_client.get(f"{BASE}/999999/indicators.xlsx").status_code == 404


def test_unknown_ids_and_labels_are_404(admin_client, db, genhe):
    for path in (f"{BASE}/{genhe.id + 1}", f"{BASE}/{genhe.id + 1}/periods/2023-03", f"{BASE}/{genhe.id}/periods/2023-04",
                 f"{BASE}/{genhe.id}/periods/abc", f"{BASE}/{genhe.id}/periods/2023-03%00",
                 f"{BASE}/{genhe.id}/periods/2023-04/tables.xlsx", f"{BASE}/{genhe.id}/periods/2023-q1/report.docx"):
        response = admin_client.get(path)
        assert response.status_code == 404, path
        assert "Traceback" not in page(response)
    for path in (f"{BASE}/{genhe.id + 1}/periods", f"{period_path(genhe)}/records/999/delete",
                 f"{BASE}/{genhe.id}/periods/2023-04/records"):
        assert admin_client.post(path, data={"label": "2023-04", "reason": "x", **record_form()}).status_code == 404, path
    assert count(db, AssessmentPeriod) == 1
