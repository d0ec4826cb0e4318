"""A unit's liaison and the window assessments (voting/schemes/unit_views.py), on SQLite
and PostgreSQL: the office gives an entity to a unit of the current campaign on the
assessment's page (audited, set and cleared; a bad choice refused with nothing stored)
or by the entities file's 单位 column (an unknown unit is its row's error, nothing
stored); the liaison then sees, per assessment and period, the own entities' totals,
ranks within their groups, flags, veto and items, and nothing of the other entities;
a liaison of another unit sees nothing of them; the office's pages stay closed to
liaisons, and these pages to the office."""
from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, login
from tests.security.common import changed, snapshot
from voting.audit.models import AuditEntry
from voting.lists import campaigns
from voting.lists.models import Unit
from voting.schemes import assessments as A
from voting.schemes.files import builtin_folder
from voting.schemes.models import AssessedEntity, AssessmentRecord
from voting.staff import users
from voting.staff.models import Role

OFFICE = "/office/assessments"
OWN = "/office/window-results"
FORBIDDEN = "您的账号没有访问这个页面的权限。"
JINJIANG = [line.split(",")[2] for line in
            (builtin_folder() / "jinjiang" / "entities.csv").read_text(encoding="utf-8-sig").splitlines()[1:]]


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def main(response) -> str:
    """The page's own content (not the header, which names the liaison's unit)."""
    return re.search(r"<main>(.*)</main>", page(response), re.DOTALL).group(1)


def upload(client, path: str, data: bytes, filename: str):
    return client.post(path, data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def unit(db, name: str) -> Unit:
    return db.scalar(select(Unit).where(Unit.name == name))


def entity(db, assessment, name: str) -> AssessedEntity:
    return db.scalar(select(AssessedEntity).where(AssessedEntity.assessment_id == assessment.id,
                                                  AssessedEntity.name == name))


def unit_of(db, assessment, name: str) -> int | None:
    """The entity's unit as stored now (the app committed in its own session)."""
    db.rollback()
    return entity(db, assessment, name).unit_id


def audited(db, action: str) -> list[AuditEntry]:
    db.rollback()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def liaison(app, db, username: str, unit_name: str):
    """A logged-in browser of the unit's liaison."""
    users.create_user(db, username, PASSWORD, Role.liaison, unit(db, unit_name))
    db.commit()
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


@pytest.fixture
def jinjiang(db, campaign, admin):
    """Jinjiang's scheme with its 25 windows and the first quarter's records (open):
    公安出入境 and 文化和旅游 are 县公安局's, 婚姻登记中心 县民政局's."""
    found = A.create_assessment(db, "晋江一季度", builtin="jinjiang", with_examples=True, actor="admin")
    for name, unit_name in (("公安出入境", "县公安局"), ("文化和旅游", "县公安局"), ("婚姻登记中心", "县民政局")):
        A.set_unit(db, found, entity(db, found, name), unit(db, unit_name), "admin")
    db.commit()
    return found


# ---- the office gives an entity to a unit ------------------------------------------------------


def test_an_entity_is_given_to_a_unit_and_taken_back_audited(admin_client, db, campaign):
    genhe = A.create_assessment(db, "根河", builtin="genhe", with_examples=True, actor="admin")
    db.commit()
    window = entity(db, genhe, "公安局窗口")
    police = unit(db, "县公安局")
    path = f"{OFFICE}/{genhe.id}/entities/{window.id}/unit"
    body = page(admin_client.get(f"{OFFICE}/{genhe.id}"))
    assert f'action="{path}"' in body and f'<option value="{police.id}">县公安局</option>' in body

    response = admin_client.post(path, data={"unit": str(police.id)})
    assert response.status_code == 302 and response.headers["Location"] == f"{OFFICE}/{genhe.id}#entity-{window.id}"
    assert unit_of(db, genhe, "公安局窗口") == police.id
    body = page(admin_client.get(response.headers["Location"]))
    assert "已将“公安局窗口”指定给单位“县公安局”" in body
    row = re.search(rf'<tr id="entity-{window.id}">(.*?)</tr>', body, re.DOTALL).group(1)
    assert f'<option value="{police.id}" selected>县公安局</option>' in row
    [linked] = audited(db, "assessment.unit_link")
    assert linked.actor == "admin" and linked.detail == {
        "assessment": "根河", "entity": "公安局窗口", "unit_id": police.id, "unit": "县公安局", "previous_unit": None}

    # Refused: the same unit again, a unit of no campaign's list, one of another campaign,
    # no choice at all, a number that is no unit. Nothing is stored.
    older = campaigns.create_campaign(db, 2020)
    db.add(Unit(campaign_id=older.id, number=1, name="县公安局"))
    db.commit()
    other_year = db.scalar(select(Unit.id).where(Unit.campaign_id == older.id))
    before = snapshot(db)
    for data, status, message in (
        ({"unit": str(police.id)}, 400, "对象“公安局窗口”已经属于单位“县公安局”"),
        ({"unit": "999999"}, 400, "没有这个单位：请从列表中选择当前评议活动的单位"),
        ({"unit": str(other_year)}, 400, "没有这个单位"),
        ({"unit": "abc"}, 400, "没有这个单位"),
        ({}, 400, "请选择单位"),
    ):
        response = admin_client.post(path, data=data)
        assert response.status_code == status, data
        row = re.search(rf'<tr id="entity-{window.id}">(.*?)</tr>', page(response), re.DOTALL).group(1)
        assert message in row, data
    assert changed(before, snapshot(db)) == []

    response = admin_client.post(path, data={"unit": "0"})
    assert response.status_code == 302 and unit_of(db, genhe, "公安局窗口") is None
    assert "已取消“公安局窗口”的所属单位" in page(admin_client.get(response.headers["Location"]))
    [unlinked] = audited(db, "assessment.unit_unlink")
    assert unlinked.detail == {"assessment": "根河", "entity": "公安局窗口", "unit_id": police.id, "unit": "县公安局"}
    response = admin_client.post(path, data={"unit": "0"})
    assert response.status_code == 400 and "对象“公安局窗口”没有指定单位" in page(response)
    assert len(audited(db, "assessment.unit_unlink")) == 1


def test_unknown_entities_and_other_staff_are_refused(client, db, campaign, admin):
    genhe = A.create_assessment(db, "根河", builtin="genhe", with_examples=True, actor="admin")
    other = A.create_assessment(db, "根河二", builtin="genhe", with_examples=True, actor="admin")
    users.create_user(db, "operator", PASSWORD, Role.operator)
    db.commit()
    police = str(unit(db, "县公安局").id)
    theirs = entity(db, other, "公安局窗口").id
    assert login(client, "admin").status_code == 302
    before = snapshot(db)
    for path in (f"{OFFICE}/{genhe.id}/entities/{theirs}/unit", f"{OFFICE}/{genhe.id}/entities/999999/unit",
                 f"{OFFICE}/999999/entities/{theirs}/unit"):
        assert client.post(path, data={"unit": police}).status_code == 404, path
    assert changed(before, snapshot(db)) == []
    client.post("/logout")
    assert login(client, "operator").status_code == 302
    before = snapshot(db)
    assert client.post(f"{OFFICE}/{genhe.id}/entities/{entity(db, genhe, '公安局窗口').id}/unit",
                       data={"unit": police}).status_code == 403
    assert 'id="unit-form-' not in page(client.get(f"{OFFICE}/{genhe.id}"))  # the office's readers read
    assert changed(before, snapshot(db)) == []


def test_the_entities_file_names_each_entitys_unit(admin_client, db, campaign):
    genhe = A.create_assessment(db, "根河", builtin="genhe", actor="admin")
    db.commit()
    path = f"{OFFICE}/{genhe.id}/entities"
    good = "序号,对象,单位\n1,公安局窗口,县公安局\n2,市场监管局窗口,县市场监管局\n3,不动产登记窗口,\n".encode()
    response = upload(admin_client, path, good, "对象.csv")
    assert response.status_code == 302
    assert unit_of(db, genhe, "公安局窗口") == unit(db, "县公安局").id
    assert unit_of(db, genhe, "市场监管局窗口") == unit(db, "县市场监管局").id
    assert unit_of(db, genhe, "不动产登记窗口") is None
    [imported] = audited(db, "assessment.entities")
    assert imported.detail["units"] == [
        {"entity": "公安局窗口", "unit": "县公安局", "previous_unit": None},
        {"entity": "市场监管局窗口", "unit": "县市场监管局", "previous_unit": None}]
    body = page(admin_client.get(f"{OFFICE}/{genhe.id}"))
    assert "单位（可省略" in body

    # An unknown unit (a near miss too: the name must be the list's, exactly): the row
    # and the column named, nothing stored.
    before = snapshot(db)
    bad = ("序号,对象,单位\n1,公安局窗口,县民政局\n2,市场监管局窗口,市场监管局\n3,不动产登记窗口,县不动产局\n"
           "4,新窗口,县公安局\n").encode()
    response = upload(admin_client, path, bad, "对象.csv")
    assert response.status_code == 422
    table = re.search(r'<table class="errors" id="import-errors">(.*?)</table>', page(response), re.DOTALL).group(1)
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>', table)
    assert rows == [("3", "C 列（单位）", "当前评议活动中没有名为“市场监管局”的单位：名称应与单位名单完全一致"),
                    ("4", "C 列（单位）", "当前评议活动中没有名为“县不动产局”的单位：名称应与单位名单完全一致")]
    assert changed(before, snapshot(db)) == []

    # Without the column, the units stay; an empty cell takes the unit away.
    response = upload(admin_client, path, "序号,对象\n1,公安局窗口\n".encode(), "对象.csv")
    assert response.status_code == 302 and unit_of(db, genhe, "公安局窗口") == unit(db, "县公安局").id
    assert "units" not in audited(db, "assessment.entities")[-1].detail
    response = upload(admin_client, path, "对象,单位\n公安局窗口,\n".encode(), "对象.csv")
    assert response.status_code == 302 and unit_of(db, genhe, "公安局窗口") is None
    assert audited(db, "assessment.entities")[-1].detail["units"] == [
        {"entity": "公安局窗口", "unit": None, "previous_unit": "县公安局"}]


def test_a_named_unit_before_any_campaign_is_the_rows_error(admin_client, db):
    genhe = A.create_assessment(db, "根河", builtin="genhe", actor="admin")
    db.commit()
    response = upload(admin_client, f"{OFFICE}/{genhe.id}/entities", "对象,单位\n公安局窗口,县公安局\n".encode(), "对象.csv")
    assert response.status_code == 422 and "当前评议活动中没有名为“县公安局”的单位" in page(response)
    assert db.scalar(select(func.count()).select_from(AssessedEntity)) == 0
    assert "还没有评议活动：建立评议活动并导入参评科室名单后，才能为考核对象指定单位。" not in page(
        admin_client.get(f"{OFFICE}/{genhe.id}"))  # no entities yet: nothing to give
    A.import_entities(db, genhe, (builtin_folder() / "genhe" / "entities.csv").read_bytes(), "entities.csv", "admin")
    db.commit()
    body = page(admin_client.get(f"{OFFICE}/{genhe.id}"))
    assert "还没有评议活动：建立评议活动并导入参评科室名单后，才能为考核对象指定单位。" in body
    assert 'id="unit-form-' not in body


# ---- what the liaison sees ---------------------------------------------------------------------


def test_a_liaison_sees_the_own_entities_results_and_nothing_of_the_others(app, db, jinjiang):
    client = liaison(app, db, "police", "县公安局")
    index = client.get(f"{OWN}/")
    assert index.status_code == 200
    listed = main(index)
    assert "晋江一季度" in listed and "公安出入境" in listed and "文化和旅游" in listed
    assert f'href="{OWN}/{jinjiang.id}/periods/2023-Q1"' in listed and "未结束" in listed
    assert 'href="/office/window-results/"' in page(index)  # the nav's link
    others = [name for name in JINJIANG if name not in ("公安出入境", "文化和旅游")]
    assert [name for name in others if name in listed] == []

    response = client.get(f"{OWN}/{jinjiang.id}/periods/2023-Q1")
    assert response.status_code == 200
    body = main(response)
    own = entity(db, jinjiang, "公安出入境")
    card = re.search(rf'<section class="result-card" id="entity-{own.id}">(.*?)</section>', body, re.DOTALL).group(1)
    assert re.search(rf'id="total-{own.id}">107.56<', card)
    assert re.search(rf'id="rank-{own.id}">第1名／共25个<', card)
    assert re.search(rf'id="veto-{own.id}"><span class="tag warn">是<', card)
    assert "人员表现分" in card and "+29.562 分" in card and "<details" in card  # the office's explanation
    second = entity(db, jinjiang, "文化和旅游")
    assert re.search(rf'id="total-{second.id}">103.85<', body)
    assert "未结束" in body and "得分和名次会随评议办录入的记录变化" in body
    # Nothing of the other 23: no name, no total, no record, no warning.
    assert [name for name in others if name in body] == []
    assert "106.75" not in body and "100.23" not in body and "record-" not in body
    assert body.count('class="result-card"') == 2

    # Closed, the same period is final.
    A.close_period(db, jinjiang, A.get_period(db, jinjiang, "2023-Q1"), "admin")
    db.commit()
    body = main(client.get(f"{OWN}/{jinjiang.id}/periods/2023-Q1"))
    assert "已结束" in body and "未结束" not in body and "107.56" in body
    assert "未结束" not in main(client.get(f"{OWN}/"))


def test_ranks_are_within_the_entitys_group_and_a_longer_period_is_rolled_up(app, db, campaign, admin):
    miyi = A.create_assessment(db, "米易", builtin="miyi", with_examples=True, actor="admin")
    A.open_period(db, miyi, "2020-Q3", "admin")
    A.set_unit(db, miyi, entity(db, miyi, "民政局"), unit(db, "县民政局"), "admin")
    db.commit()
    client = liaison(app, db, "civil", "县民政局")
    month = main(client.get(f"{OWN}/{miyi.id}/periods/2020-07"))
    own = entity(db, miyi, "民政局").id
    assert re.search(rf'id="rank-{own}">(并列)?第\d+名／共11个（常驻窗口）<', month)
    assert re.search(rf'id="total-{own}">103.2<', month)
    quarter = main(client.get(f"{OWN}/{miyi.id}/periods/2020-Q3"))
    assert re.search(rf'id="total-{own}">103.2<', quarter) and "2020-07：103.2 分" in quarter
    assert "未结束" in quarter and "由其中各考核期的结果汇总而成" in quarter
    assert "县民政局" not in quarter  # the department of that name is another entity
    # The quarter is final once its three months are there and closed.
    every = A.periods(db, miyi)
    assert not A.finished(miyi, A.get_period(db, miyi, "2020-Q3"), every)
    for label in ("2020-08", "2020-09"):
        A.open_period(db, miyi, label, "admin")
    for found in A.periods(db, miyi):
        if found.label != "2020-Q3":
            A.close_period(db, miyi, found, "admin")
    db.commit()
    assert A.finished(miyi, A.get_period(db, miyi, "2020-Q3"), A.periods(db, miyi))
    assert "已结束" in main(client.get(f"{OWN}/{miyi.id}/periods/2020-Q3"))


def test_a_liaison_of_another_unit_sees_nothing_of_them(app, db, jinjiang):
    genhe = A.create_assessment(db, "根河", builtin="genhe", with_examples=True, actor="admin")
    A.set_unit(db, genhe, entity(db, genhe, "公安局窗口"), unit(db, "县公安局"), "admin")
    db.commit()
    client = liaison(app, db, "civil", "县民政局")
    listed = main(client.get(f"{OWN}/"))
    assert "晋江一季度" in listed and "婚姻登记中心" in listed and "根河" not in listed and "公安出入境" not in listed
    body = main(client.get(f"{OWN}/{jinjiang.id}/periods/2023-Q1"))
    assert "婚姻登记中心" in body and "第2名／共25个" in body and "红旗窗口" in body
    assert "公安出入境" not in body and "文化和旅游" not in body and "107.56" not in body
    before = snapshot(db)
    for path, status in ((f"{OWN}/{genhe.id}/periods/2023-03", 403), (f"{OWN}/999999/periods/2023-03", 404),
                         (f"{OWN}/{jinjiang.id}/periods/2023-Q2", 404), (f"{OWN}/{jinjiang.id}/periods/2023-q1", 404)):
        response = client.get(path)
        assert response.status_code == status, path
        assert "公安局窗口" not in page(response) and "公安出入境" not in page(response), path
    assert FORBIDDEN in page(client.get(f"{OWN}/{genhe.id}/periods/2023-03"))
    assert changed(before, snapshot(db)) == []

    # A unit with no entity at all: an empty list, and every period is 403.
    nobody = liaison(app, db, "finance", "县财政局")
    assert "还没有属于本单位的考核对象" in main(nobody.get(f"{OWN}/"))
    assert nobody.get(f"{OWN}/{jinjiang.id}/periods/2023-Q1").status_code == 403


def test_the_offices_pages_refuse_liaisons_and_these_refuse_the_office(app, db, jinjiang):
    client = liaison(app, db, "police", "县公安局")
    own = entity(db, jinjiang, "公安出入境")
    record_id = db.scalar(select(func.min(AssessmentRecord.id)))
    params = {"assessment_id": jinjiang.id, "label": "2023-Q1", "entity_id": own.id, "record_id": record_id}
    adapter = app.url_map.bind("localhost")
    office = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("assessments.")]
    assert len(office) >= 14
    before = snapshot(db)
    for rule in office:
        path = adapter.build(rule.endpoint, {name: params[name] for name in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, data={"unit": "0", "label": "2023-Q2", "confirmed": "1"})
            assert (response.status_code, FORBIDDEN in page(response)) == (403, True), (method, path)
    assert changed(before, snapshot(db)) == []
    users.create_user(db, "operator", PASSWORD, Role.operator)
    users.create_user(db, "auditor", PASSWORD, Role.auditor)
    db.commit()
    for username in ("admin", "operator", "auditor"):
        office_client = app.test_client()
        assert login(office_client, username).status_code == 302
        for path in (f"{OWN}/", f"{OWN}/{jinjiang.id}/periods/2023-Q1"):
            assert office_client.get(path).status_code == 403, (username, path)
        assert 'href="/office/window-results/"' not in page(office_client.get("/office/"))
