"""补录应报未报科室 (docs/rules.md §2.7): a section found missing from the list is added on
the sections page, takes part from then on, and every participating section of its unit
loses `unreported_deduction` (1 point) of inspection; confirmed, audited, undone as a
mistake while the section has nothing of its own. Admins only; on SQLite and PostgreSQL."""
from __future__ import annotations

import html
import random

import pytest
from sqlalchemy import func, select

from scoring import columns as C
from tests.conftest import PASSWORD, SECTIONS_CSV, csv_bytes, login
from tests.support.web import text
from voting.audit.models import AuditEntry
from voting.components.models import InspectionEvent, SupervisorScore
from voting.demo.campaign import synth_objects
from voting.lists import history, objects, sections
from voting.lists.models import RoundKind, Section, Unit
from voting.office import audit_text
from voting.scores import scorecards
from voting.staff import users
from voting.staff.models import Role
from voting.web.common import local_time

FDG = "县发改局"
LATE = "能源监测科"
FOUND = "2021-08-16"
REASON = "年中检查发现该科室对外服务，未列入参评名单"
FORBIDDEN = "您的账号没有访问这个页面的权限。"


def _unit(db, name: str = FDG) -> Unit:
    return db.scalar(select(Unit).where(Unit.name == name))


def _form(db, **changes) -> dict:
    data = {"unit": str(_unit(db).id), "name": LATE, "found_on": FOUND, "reason": REASON, "is_enforcement": "y"}
    return {**data, **changes}


def _confirmed(data: dict) -> dict:
    return {**data, "confirmed": "1", "acknowledged": "y"}


def _count(db, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _page(response) -> str:
    return html.unescape(text(response))


def _stored(db) -> tuple[int, int, int]:
    db.expire_all()
    return _count(db, Section), _count(db, InspectionEvent), _count(db, AuditEntry)


def _add(admin_client, db) -> Section:
    response = admin_client.post("/office/sections/late", data=_confirmed(_form(db)))
    assert response.status_code == 303, _page(response)
    db.expire_all()
    return db.scalar(select(Section).where(Section.name == LATE))


@pytest.fixture
def late(admin_client, db, campaign) -> Section:
    return _add(admin_client, db)


# ---- who may ------------------------------------------------------------------------------------


def test_only_an_admin_adds_or_undoes(app, db, campaign, admin):
    users.create_user(db, "auditor1", PASSWORD, Role.auditor)
    users.create_user(db, "operator1", PASSWORD, Role.operator)
    users.create_user(db, "liaison1", PASSWORD, Role.liaison, unit=_unit(db))
    db.commit()
    section_id = db.scalar(select(Section.id).limit(1))
    before = _stored(db)
    for username in ("auditor1", "operator1", "liaison1"):
        client = app.test_client()
        assert login(client, username).status_code == 302
        assert client.get("/office/sections/late").status_code == 403
        refused = client.post("/office/sections/late", data=_confirmed(_form(db)))
        assert refused.status_code == 403 and FORBIDDEN in _page(refused)
        assert client.post(f"/office/sections/{section_id}/late/undo", data={"confirmed": "1"}).status_code == 403
        listed = _page(client.get("/office/sections"))
        assert "补录应报未报科室" not in listed and "撤销补录" not in listed
    assert _stored(db) == before


# ---- the happy path ----------------------------------------------------------------------------


def test_the_section_is_added_and_each_of_its_units_sections_loses_a_point(admin_client, db, campaign):
    unit = _unit(db)
    n = _count(db, Section, Section.unit_id == unit.id)  # 14 sections of 县发改局 on the list
    assert n == 14
    form = _page(admin_client.get("/office/sections/late"))
    assert "补录应报未报科室" in form and 'name="reason"' in form and "<b>1</b> 分" in form

    # First the confirmation, with its numbers; nothing is written.
    before = _stored(db)
    asked = admin_client.post("/office/sections/late", data=_form(db))
    page = _page(asked)
    assert asked.status_code == 200 and "请确认：补录应报未报科室：县发改局 能源监测科" in page
    assert f"将 县发改局 能源监测科（管理执法类，{FOUND} 发现）列入 2021 年度参评科室名单" in page
    assert f"县发改局 的 {n + 1} 个参评科室（含新补录的科室）各扣监督检查 1 分：" in page
    assert f"事由：{REASON}" in page
    unticked = admin_client.post("/office/sections/late", data={**_form(db), "confirmed": "1"})
    assert unticked.status_code == 422 and "请先勾选确认框" in _page(unticked)
    assert _stored(db) == before

    late = _add(admin_client, db)
    assert late.unit_id == unit.id and late.is_enforcement and late.number == 15
    assert late.listed_late_on.isoformat() == FOUND and late.late_reason == REASON
    events = db.scalars(select(InspectionEvent).where(InspectionEvent.kind == C.UNREPORTED)).all()
    assert len(events) == n + 1 and {e.missing_section_id for e in events} == {late.id}
    assert len({e.batch for e in events}) == 1 and {e.reason for e in events} == {REASON}
    assert {e.section.unit_id for e in events} == {unit.id}

    # Scored: every section of the unit 20 − 1 = 19, the rest of the county untouched
    # (the campaign has no other inspection event).
    card = scorecards.campaign_scorecard(db, campaign)
    frame = card.sections.set_index([C.UNIT, C.SECTION])
    assert frame.loc[FDG, C.INSPECTION].tolist() == [19.0] * (n + 1)
    assert (frame.drop(index=FDG, level=0)[C.INSPECTION] == 20.0).all()
    line = card.lines[(card.lines[C.SECTION] == "价格科") & (card.lines[C.COMPONENT] == C.INSPECTION)][C.TEXT].tolist()
    said = f"应报未报：本单位科室“{LATE}”应报未报，{FOUND} 发现并补录参评，本单位各参评科室扣 1 分（事由：{REASON}）"
    assert line == ["监督检查基础分 20 分", said]

    # The sections page marks it, the score pages show the deduction.
    listed = _page(admin_client.get(f"/office/sections?unit={unit.id}"))
    assert f"应报未报补录（{FOUND}）" in listed and "撤销补录" in listed
    price = db.scalar(select(Section.id).where(Section.unit_id == unit.id, Section.name == "价格科"))
    breakdown = _page(admin_client.get(f"/office/scores/sections/{price}"))
    assert said in breakdown and "19.00" in breakdown
    assert said in _page(admin_client.get(f"/office/scores/sections/{late.id}"))

    # Audited, with its sentence.
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "inspection.unreported_add"))
    assert entry.actor == "admin" and entry.detail["section_id"] == late.id and len(entry.detail["section_ids"]) == n + 1
    sentence = str(audit_text.describe(entry, audit_text.Names(str)))
    assert sentence.startswith(f"补录应报未报科室：县发改局 能源监测科（{FOUND} 发现，管理执法类），列入参评；"
                               f"本单位参评科室各扣监督检查 1 分：{n + 1} 个科室")
    assert sentence.endswith(f"。事由：{REASON}。")


def test_the_new_section_takes_part_from_then_on(admin_client, db, late):
    """It owes a list like any other (the sections page's 未报 filter finds it), and a
    list can be uploaded for it."""
    missing = _page(admin_client.get("/office/sections?list=H1-missing&q=能源监测"))
    assert LATE in missing and "未报" in missing
    frame = synth_objects(random.Random(5), 4)
    frame.insert(0, "科室", LATE)
    frame.insert(0, "单位名称", FDG)
    summary = objects.import_objects(db, late.unit.campaign, RoundKind.H1, csv_bytes(frame), "对象.csv",
                                     all_penalized_reported=True)
    db.commit()
    assert summary.stored == 4


def test_a_round_closed_before_gives_the_late_section_the_rounds_mean(db, campaign, late):
    """No H1 votes of its own (the round closed before it was listed): the H1 mean, as
    for any section without votes (docs/rules.md §2.4)."""
    from voting.components import components
    from voting.components.models import ComponentKind

    price = db.scalar(select(Section.id).where(Section.name == "价格科", Section.unit_id == late.unit_id))
    components.add_entry(db, campaign, ComponentKind.votes, price, {"round": "H1", "satisfied": 40, "basic": 0,
                                                                    "unsatisfied": 0}, None)
    db.commit()
    card = scorecards.campaign_scorecard(db, campaign)
    row = card.sections[card.sections[C.SECTION] == LATE].iloc[0]
    assert row[C.SERVICE_H1] == pytest.approx(25.0)  # the mean of the one section with votes
    assert "上半年无投票，取参评科室平均分" in row[C.WARNINGS]


def test_an_exempt_section_of_the_unit_takes_no_deduction(admin_client, db, campaign):
    history.import_history(db, campaign, "年度,单位名称,科室,结果\n2019,县发改局,价格科,满意单位\n"
                                         "2020,县发改局,价格科,满意单位\n".encode(), "history.csv")
    db.commit()
    asked = _page(admin_client.post("/office/sections/late", data=_form(db)))
    assert "县发改局 的 14 个参评科室（含新补录的科室）" in asked and "价格科" not in asked.split("各扣监督检查")[1][:200]
    _add(admin_client, db)
    price = db.scalar(select(Section.id).where(Section.name == "价格科", Section.unit_id == _unit(db).id))
    assert _count(db, InspectionEvent, InspectionEvent.section_id == price) == 0
    assert _count(db, InspectionEvent) == 14


# ---- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, status, message", [
    ({"reason": ""}, 422, "请填写事由"),
    ({"reason": "   "}, 422, "请填写事由"),
    ({"reason": "长" * 301}, 422, "事由不能超过 300 个字"),
    ({"name": ""}, 422, "请填写科室名称"),
    ({"name": "科" * 201}, 422, "科室名称不能超过 200 个字"),
    ({"name": "价格科"}, 409, "县发改局 已有科室“价格科”，已在参评科室名单中，无需补录"),
    ({"name": "价 格 科"}, 409, "已在参评科室名单中"),  # the names are compared folded
    ({"unit": ""}, 422, "请选择单位"),
    ({"unit": "99999"}, 404, "本年度没有这个单位"),
    ({"unit": "abc"}, 422, "请选择单位"),
    ({"found_on": ""}, 422, "请填写发现日期"),
    ({"found_on": "2021-13-45"}, 422, "发现日期“2021-13-45”无效：应为 2021-08-16 这样的日期"),
    ({"found_on": "16/08/2021"}, 422, "无效"),
    ({"found_on": "2099-01-01"}, 422, "发现日期 2099-01-01 晚于今天"),
    ({"found_on": "2019-06-01"}, 422, "发现日期 2019-06-01 早于本年度评议期（2020-12-01 起）"),
])
def test_bad_input_says_what_and_stores_nothing(admin_client, db, campaign, changes, status, message):
    before = _stored(db)
    for data in (_form(db, **changes), _confirmed(_form(db, **changes))):
        response = admin_client.post("/office/sections/late", data=data)
        page = _page(response)
        assert response.status_code == status, page[:2000]
        assert message in page and "Traceback" not in page
    assert _stored(db) == before


# ---- undo ---------------------------------------------------------------------------------------


def test_undo_removes_the_events_and_the_section(admin_client, db, campaign, late):
    path = f"/office/sections/{late.id}/late/undo"
    asked = admin_client.post(path)
    page = _page(asked)
    assert asked.status_code == 200 and "请确认：撤销应报未报补录：县发改局 能源监测科" in page
    assert "删除它引起的 15 条应报未报扣分" in page
    assert _count(db, InspectionEvent) == 15
    done = admin_client.post(path, data={"confirmed": "1"})
    assert done.status_code == 303
    db.expire_all()
    assert _count(db, Section, Section.name == LATE) == 0 and _count(db, InspectionEvent) == 0
    card = scorecards.campaign_scorecard(db, campaign)
    assert (card.sections[C.INSPECTION] == 20.0).all()
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "inspection.unreported_undo"))
    assert entry.detail["events"] == 15 and entry.detail["section"] == "县发改局 能源监测科"
    assert str(audit_text.describe(entry, audit_text.Names(str))) == (
        "撤销应报未报补录：从参评科室名单中删除县发改局 能源监测科，并删除它引起的 15 条应报未报扣分"
        f"（原于 {FOUND} 补录，事由：{REASON}）。")
    assert admin_client.post(path, data={"confirmed": "1"}).status_code == 404  # gone


def test_undo_is_refused_once_the_section_has_a_list_or_a_score(admin_client, db, campaign, late):
    db.add(SupervisorScore(section_id=late.id, score=4.5))
    db.commit()
    before = _stored(db)
    refused = admin_client.post(f"/office/sections/{late.id}/late/undo", data={"confirmed": "1"})
    page = _page(refused)
    assert refused.status_code == 409
    assert "县发改局 能源监测科 已有主管单位评分 1 条，不能撤销补录" in page
    assert _stored(db) == before
    db.execute(SupervisorScore.__table__.delete())
    frame = synth_objects(random.Random(5), 3)
    frame.insert(0, "科室", LATE)
    frame.insert(0, "单位名称", FDG)
    objects.import_objects(db, campaign, RoundKind.H1, csv_bytes(frame), "对象.csv", all_penalized_reported=True)
    db.commit()
    refused = admin_client.post(f"/office/sections/{late.id}/late/undo", data={"confirmed": "1"})
    assert refused.status_code == 409 and "已有服务对象名单 1 份" in _page(refused)


def test_only_a_late_section_is_undone(admin_client, db, campaign):
    price = db.scalar(select(Section.id).where(Section.name == "价格科"))
    refused = admin_client.post(f"/office/sections/{price}/late/undo", data={"confirmed": "1"})
    assert refused.status_code == 404 and "不是应报未报补录的科室" in _page(refused)
    assert admin_client.post("/office/sections/99999999/late/undo", data={"confirmed": "1"}).status_code == 404


def test_a_new_import_of_the_list_keeps_the_late_section(db, campaign, late):
    listed = sections.parse_sections(SECTIONS_CSV.read_bytes(), SECTIONS_CSV.name)
    diff = sections.diff_sections(db, campaign, listed)
    assert [(s.unit, s.section) for s in diff.kept_late] == [(FDG, LATE)] and diff.removed == [] and diff.is_empty
    sections.apply_sections(db, campaign, listed)
    db.commit()
    assert _count(db, Section, Section.name == LATE) == 1 and _count(db, InspectionEvent) == 15


def test_the_sentence_lists_names_for_a_small_unit():
    entry = AuditEntry(id=3, action="inspection.unreported_add", campaign_id=1, actor="admin", detail={
        "section_id": 2, "section": "县甲局 乙科", "unit_id": 1, "unit": "县甲局", "is_enforcement": False,
        "found_on": FOUND, "reason": "抽查发现", "points": 0.5, "section_ids": [1, 2], "batch": "x"})
    names = audit_text.Names(local_time, sections={1: "县甲局 · 甲科", 2: "县甲局 · 乙科"})
    assert str(audit_text.describe(entry, names)) == (
        f"补录应报未报科室：县甲局 · 乙科（{FOUND} 发现），列入参评；本单位参评科室各扣监督检查 0.5 分："
        "县甲局 · 甲科、县甲局 · 乙科。事由：抽查发现。")


# ---- hostile text (tests/security/test_text_input.py) ------------------------------------------

@pytest.mark.parametrize("kind", ["sql", "zero width", "right-to-left"])
def test_hostile_reasons_are_stored_as_typed(admin_client, db, campaign, kind):
    from tests.security.test_text_input import KEPT

    response = admin_client.post("/office/sections/late", data=_confirmed(_form(db, reason=KEPT[kind])))
    assert response.status_code == 303
    db.expire_all()
    assert db.scalar(select(Section.late_reason).where(Section.name == LATE)) == " ".join(KEPT[kind].split())


@pytest.mark.parametrize("field", ["reason", "name", "found_on"])
def test_nul_and_10_mb_are_refused_before_anything_runs(admin_client, db, campaign, field):
    from tests.security.test_text_input import HUGE, NUL, TOO_LARGE
    from voting.core.errors_web import NUL_REFUSED

    before = _stored(db)
    nul = admin_client.post("/office/sections/late", data=_confirmed(_form(db, **{field: NUL})))
    assert nul.status_code == 400 and NUL_REFUSED in _page(nul)
    huge = admin_client.post("/office/sections/late", data=_confirmed(_form(db, **{field: HUGE})))
    assert huge.status_code == 413 and TOO_LARGE in _page(huge)
    assert _stored(db) == before
