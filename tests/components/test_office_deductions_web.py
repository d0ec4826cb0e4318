"""影响评议工作扣分 on the inspection page (docs/rules.md §2.7): a discretionary deduction the
review office records for a unit (all its participating sections, or some), with its
reason; confirmed, audited, undone whole. Admins only; on SQLite and PostgreSQL. And the
office's deductions in an inspection file (§6.8): the platform scores what the offline
bundle scores."""
from __future__ import annotations

import html
import shutil

import pandas as pd
import pytest
from sqlalchemy import func, select

from scoring import columns as C
from tests.conftest import PASSWORD, login
from tests.support.web import text
from voting.audit.models import AuditEntry
from voting.components import deductions
from voting.components.bundle import parse_inspection, score_bundle
from voting.components.models import InspectionEvent
from voting.core.errors import ImportRejected
from voting.demo.campaign import load_bundle
from voting.lists.models import Section, Unit
from voting.office import audit_text
from voting.scores import scorecards
from voting.staff import users
from voting.staff.models import Role

FDG = "县发改局"
REASON = "材料逾期两周未报，影响评议进度"
PAGE = "/office/components/inspection"
ADD = "/office/components/inspection/discretionary"
BUNDLE_SEED = 7
# Without the online round: the deductions may move a section into or out of the
# shortlist, and a NET vote for a section no longer shortlisted cannot be scored.
BUNDLE_NETWORK = False


def _page(response) -> str:
    return html.unescape(text(response))


def _unit(db, name: str = FDG) -> Unit:
    return db.scalar(select(Unit).where(Unit.name == name))


def _section_id(db, name: str, unit: str = FDG) -> int:
    return db.scalar(select(Section.id).join(Unit).where(Unit.name == unit, Section.name == name))


def _count(db, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _stored(db) -> tuple[int, int]:
    db.expire_all()
    return _count(db, InspectionEvent), _count(db, AuditEntry)


def _form(db, **changes) -> dict:
    return {"unit": str(_unit(db).id), "points": "2", "reason": REASON, **changes}


def _confirmed(data: dict) -> dict:
    return {**data, "confirmed": "1"}


def test_only_an_admin_records_or_undoes(app, db, campaign, admin):
    users.create_user(db, "auditor1", PASSWORD, Role.auditor)
    users.create_user(db, "liaison1", PASSWORD, Role.liaison, unit=_unit(db))
    db.commit()
    before = _stored(db)
    for username, page in (("auditor1", 200), ("liaison1", 403)):
        client = app.test_client()
        assert login(client, username).status_code == 302
        shown = client.get(PAGE)
        assert shown.status_code == page
        if page == 200:  # the auditor reads the page, without the form
            assert "影响评议工作扣分" in _page(shown) and 'id="discretionary-form"' not in _page(shown)
        assert client.post(ADD, data=_confirmed(_form(db))).status_code == 403
        assert client.post(f"{ADD}/1/undo", data={"confirmed": "1"}).status_code == 403
    assert _stored(db) == before


def test_a_two_point_deduction_for_the_whole_unit(admin_client, db, campaign):
    n = _count(db, Section, Section.unit_id == _unit(db).id)
    shown = _page(admin_client.get(PAGE))
    assert 'id="discretionary-form"' in shown and "还没有影响评议工作扣分" in shown
    before = _stored(db)
    asked = admin_client.post(ADD, data=_form(db))
    page = _page(asked)
    assert asked.status_code == 200 and "请确认：影响评议工作扣分：县发改局" in page
    assert f"县发改局 的 {n} 个科室各扣监督检查 2 分：" in page and f"事由：{REASON}" in page
    assert _stored(db) == before
    done = admin_client.post(ADD, data=_confirmed(_form(db)))
    assert done.status_code == 303
    events = db.scalars(select(InspectionEvent)).all()
    assert len(events) == n and {(e.kind, e.deduction, e.reason) for e in events} == {(C.DISCRETIONARY, 2.0, REASON)}

    card = scorecards.campaign_scorecard(db, campaign)
    frame = card.sections.set_index([C.UNIT, C.SECTION])
    assert frame.loc[FDG, C.INSPECTION].tolist() == [18.0] * n
    assert (frame.drop(index=FDG, level=0)[C.INSPECTION] == 20.0).all()
    price = _section_id(db, "价格科")
    breakdown = _page(admin_client.get(f"/office/scores/sections/{price}"))
    assert f"：因参评单位原因导致评议工作受到影响，扣 2 分（事由：{REASON}）" in breakdown and "18.00" in breakdown

    listed = _page(admin_client.get(PAGE))
    assert 'id="discretionary-decisions"' in listed and REASON in listed
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "inspection.discretionary_add"))
    assert entry.actor == "admin" and entry.detail["points"] == 2.0 and len(entry.detail["section_ids"]) == n
    assert str(audit_text.describe(entry, audit_text.Names(str))) == (
        f"记录县发改局的影响评议工作扣分：每个科室扣监督检查 2 分，科室：{n} 个科室。事由：{REASON}。")


def test_some_sections_only_and_the_floor(admin_client, db, campaign):
    price, other = _section_id(db, "价格科"), _section_id(db, "发展规划综合科")
    data = {**_form(db, points="12.5"), "sections": [str(price), str(other)]}
    asked = _page(admin_client.post(ADD, data=data))
    assert "县发改局 的 2 个科室各扣监督检查 12.5 分：" in asked
    assert admin_client.post(ADD, data=_confirmed(data)).status_code == 303
    # Twice: 25 points of deductions on 20, floor 0; through the confirmation's own
    # fields (the chosen sections travel as `chosen`).
    again = {**_form(db, points="12.5"), "chosen": f"{price} {other}", "confirmed": "1"}
    assert admin_client.post(ADD, data=again).status_code == 303
    card = scorecards.campaign_scorecard(db, campaign)
    scored = card.sections.set_index(C.SECTION)[C.INSPECTION]
    assert scored["价格科"] == 0.0 and scored["发展规划综合科"] == 0.0
    lines = card.lines[(card.lines[C.SECTION] == "价格科") & (card.lines[C.COMPONENT] == C.INSPECTION)]
    assert lines[C.POINTS].sum() == pytest.approx(0.0)
    assert lines[C.TEXT].iloc[-1] == "监督检查合计扣 12.5 + 12.5 = 25 分，超过基础分 20 分，最低 0 分，加回 25 − 20 = 5 分"
    assert _count(db, InspectionEvent) == 4


@pytest.mark.parametrize("changes, status, message", [
    ({"reason": ""}, 422, "请填写事由"),
    ({"reason": "长" * 301}, 422, "事由不能超过 300 个字"),
    ({"points": ""}, 422, "请填写扣分"),
    ({"points": "-1"}, 422, "扣分“-1”无效：应为大于 0 的数字，最多两位小数"),
    ({"points": "0"}, 422, "扣分 0 超出范围：应大于 0 且不超过 20（监督检查满分）"),
    ({"points": "20.5"}, 422, "扣分 20.5 超出范围"),
    ({"points": "两分"}, 422, "扣分“两分”无效"),
    ({"points": "1e1"}, 422, "无效"),
    ({"points": "NaN"}, 422, "无效"),
    ({"points": "0.125"}, 422, "最多两位小数"),
    ({"unit": ""}, 422, "请选择单位"),
    ({"unit": "x"}, 422, "请选择单位"),
    ({"unit": "99999"}, 404, "本年度没有这个单位"),
    ({"sections": ["abc"]}, 422, "所选科室无效"),
])
def test_bad_input_says_what_and_stores_nothing(admin_client, db, campaign, changes, status, message):
    before = _stored(db)
    for data in (_form(db, **changes), _confirmed(_form(db, **changes))):
        response = admin_client.post(ADD, data=data)
        page = _page(response)
        assert response.status_code == status, page[:1500]
        assert message in page and "Traceback" not in page
    assert _stored(db) == before


def test_a_section_of_another_unit_or_an_exempt_one_is_refused(admin_client, db, campaign):
    from voting.lists import history

    history.import_history(db, campaign, "年度,单位名称,科室,结果\n2019,县发改局,价格科,满意单位\n"
                                         "2020,县发改局,价格科,满意单位\n".encode(), "history.csv")
    db.commit()
    before = _stored(db)
    elsewhere = db.scalar(select(Section.id).join(Unit).where(Unit.name != FDG).limit(1))
    for section_id in (elsewhere, _section_id(db, "价格科")):
        response = admin_client.post(ADD, data=_confirmed({**_form(db), "sections": [str(section_id)]}))
        assert response.status_code == 422
        assert "所选科室中有 1 个不是 县发改局 的参评科室（免评科室不扣分）" in _page(response)
    assert _stored(db) == before
    # The whole unit: every section but the exempt one.
    assert admin_client.post(ADD, data=_confirmed(_form(db))).status_code == 303
    assert _count(db, InspectionEvent) == _count(db, Section, Section.unit_id == _unit(db).id) - 1
    assert _count(db, InspectionEvent, InspectionEvent.section_id == _section_id(db, "价格科")) == 0


def test_undo_removes_the_whole_deduction(admin_client, db, campaign):
    assert admin_client.post(ADD, data=_confirmed(_form(db))).status_code == 303
    recorded = deductions.discretionary_decisions(db, campaign)
    assert len(recorded) == 1
    path = f"{ADD}/{recorded[0].first_id}/undo"
    asked = admin_client.post(path)
    assert asked.status_code == 200 and "请确认：撤销影响评议工作扣分：县发改局" in _page(asked)
    assert _count(db, InspectionEvent) == 14
    # One event alone is not deleted by the single entries' button.
    single = admin_client.post(f"/office/components/inspection/entries/{recorded[0].first_id}/delete")
    assert single.status_code == 409 and "不能单独删除" in _page(single)
    assert admin_client.post(path, data={"confirmed": "1"}).status_code == 303
    db.expire_all()
    assert _count(db, InspectionEvent) == 0
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "inspection.discretionary_undo"))
    assert entry.detail["points"] == 2.0 and len(entry.detail["section_ids"]) == 14
    assert admin_client.post(path, data={"confirmed": "1"}).status_code == 404
    card = scorecards.campaign_scorecard(db, campaign)
    assert (card.sections[C.INSPECTION] == 20.0).all()


def test_the_single_entry_form_does_not_take_the_offices_deductions(admin_client, db, campaign):
    before = _stored(db)
    response = admin_client.post("/office/components/inspection/entries", data={
        "section": str(_section_id(db, "价格科")), "type": "影响评议工作", "serious": "否"})
    assert response.status_code == 422 and "影响评议工作扣分请用本页的“影响评议工作扣分”表单" in _page(response)
    assert _stored(db) == before


# ---- the inspection file carries them (docs/rules.md §6.8) -------------------------------------

HEADER = "单位名称,科室,类型,严重,人员,本年度,日期,扣分,事由,应报未报科室\n"
KNOWN = {("甲局", "一科"), ("甲局", "二科"), ("乙局", "三科")}


def _rows(*lines: str) -> bytes:
    return (HEADER + "\n".join(lines) + "\n").encode()


def test_the_file_reads_both_kinds():
    frame = parse_inspection(_rows("甲局,一科,应报未报,,,,2021-08-16,,抽查发现，未列入名单,二科",
                                   "甲局,二科,影响评议工作,,,,,1.5,材料迟报,"), "inspection.csv", KNOWN)
    assert frame[C.KIND].tolist() == [C.UNREPORTED, C.DISCRETIONARY]
    assert frame[C.MISSING].tolist() == ["二科", ""] and frame[C.REASON].tolist() == ["抽查发现，未列入名单", "材料迟报"]
    assert frame[C.DEDUCTION].isna().tolist() == [True, False] and frame[C.DEDUCTION].iloc[1] == 1.5


@pytest.mark.parametrize("line, column, reason", [
    ("甲局,一科,应报未报,,,,,,,二科", "I 列（事由）", "应报未报须填写事由"),
    ("甲局,一科,应报未报,,,,,,抽查,", "J 列（应报未报科室）", "应报未报须填写应报未报科室：被发现应报未报、已补录参评的科室"),
    ("甲局,一科,应报未报,,,,,,抽查,三科", "J 列（应报未报科室）", "应报未报科室“三科”不是 甲局 在参评科室名单中的科室"),
    ("甲局,一科,应报未报,,,,,1,抽查,二科", "H 列（扣分）", "应报未报的扣分由规则设置决定（每个科室 1 分），扣分应留空"),
    ("甲局,一科,影响评议工作,,,,,,抽查,", "H 列（扣分）", "影响评议工作须填写扣分"),
    ("甲局,一科,影响评议工作,,,,,-2,抽查,", "H 列（扣分）", "扣分“-2”无效：应为大于 0 的数字，最多两位小数，如 2 或 0.5"),
    ("甲局,一科,影响评议工作,,,,,21,抽查,", "H 列（扣分）", "扣分 21 超出范围：应大于 0 且不超过 20（监督检查满分）"),
    ("甲局,一科,影响评议工作,是,,,,1,抽查,", "D 列（严重）", "情节严重只适用于查实问题，影响评议工作应留空或填否"),
    ("甲局,一科,影响评议工作,,,,,1,抽查,二科", "J 列（应报未报科室）", "应报未报科室只适用于应报未报，影响评议工作应留空"),
    ("甲局,一科,县级查实,,,,,1,,", "H 列（扣分）", "扣分只适用于应报未报和影响评议工作，县级查实应留空"),
    ("甲局,一科,县级查实,,,,,,事由,", "I 列（事由）", "事由只适用于应报未报和影响评议工作，县级查实应留空"),
    (f"甲局,一科,影响评议工作,,,,,1,{'长' * 301},", "I 列（事由）", "事由过长：301 个字，最多 300 个字"),
])
def test_the_file_refuses_bad_rows(line, column, reason):
    with pytest.raises(ImportRejected) as caught:
        parse_inspection(_rows(line), "inspection.csv", KNOWN)
    assert [(e.row, e.column, e.reason) for e in caught.value.errors] == [(2, column, reason)]


def test_the_platform_scores_what_the_bundle_scores_with_the_offices_deductions(db, campaign, bundle_dir, tmp_path):
    """The example year with an inspection file that holds both kinds (县发改局: 应报未报 of
    a section on the list, for its every section; 影响评议工作 for one): the platform, which
    stores the file's rows as events, scores what `pingyi bundle score` scores."""
    directory = tmp_path / "bundle"
    shutil.copytree(bundle_dir, directory)
    listed = pd.read_csv(directory / "sections.csv", encoding="utf-8-sig")
    own = listed[listed["单位名称"] == FDG]["科室"].tolist()
    inspection = pd.read_csv(directory / "inspection.csv", encoding="utf-8-sig", dtype=str).fillna("")
    for column in ("扣分", "事由", "应报未报科室"):
        inspection[column] = ""
    extra = [{"单位名称": FDG, "科室": name, "类型": "应报未报", "日期": "2021-08-16", "事由": "年中抽查发现",
              "应报未报科室": own[-1]} for name in own]
    extra.append({"单位名称": FDG, "科室": own[0], "类型": "影响评议工作", "扣分": "2.5", "事由": "材料迟报"})
    pd.concat([inspection, pd.DataFrame(extra)], ignore_index=True).fillna("").to_csv(
        directory / "inspection.csv", index=False, encoding="utf-8")

    load_bundle(db, campaign, directory)
    db.commit()
    stored = db.scalars(select(InspectionEvent).where(InspectionEvent.kind.in_((C.UNREPORTED, C.DISCRETIONARY)))).all()
    assert len(stored) == len(own) + 1
    card = scorecards.campaign_scorecard(db, campaign)
    offline = score_bundle(directory)
    left = card.sections.set_index([C.UNIT, C.SECTION]).sort_index()
    right = offline.sections.set_index([C.UNIT, C.SECTION]).sort_index()
    scores = [C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION, C.DAILY, C.NETWORK, C.BONUS, C.TOTAL]
    pd.testing.assert_frame_equal(left[scores], right[scores], rtol=0, atol=1e-9)
    # And the deductions are there: against the same bundle without them.
    plain = score_bundle(bundle_dir).sections.set_index([C.UNIT, C.SECTION]).sort_index()
    lost = (plain[C.INSPECTION] - right[C.INSPECTION]).loc[FDG]
    floor = plain.loc[FDG, C.INSPECTION]  # what each section had left to lose
    expected = pd.Series([min(1.0 + (2.5 if name == own[0] else 0.0), f) for name, f in zip(lost.index, floor)],
                         index=lost.index)
    pd.testing.assert_series_equal(lost, expected, check_names=False, atol=1e-9)
    lines = card.lines[(card.lines[C.UNIT] == FDG) & (card.lines[C.COMPONENT] == C.INSPECTION)][C.TEXT]
    assert lines.str.startswith(f"应报未报：本单位科室“{own[-1]}”应报未报，2021-08-16 发现并补录参评").sum() == len(own)


def test_the_forms_events_score_offline_the_same(db, campaign, admin, bundle_dir, tmp_path):
    """What the forms record, written as inspection.csv rows (§6.8) into the bundle, is
    scored offline as the platform scores it."""
    load_bundle(db, campaign, bundle_dir)
    unit = _unit(db)
    deductions.add_unreported(db, campaign, unit.id, "能源监测科", False, "2021-08-16", "年中抽查发现", admin,
                              today=pd.Timestamp("2021-12-01").date())
    deductions.add_discretionary(db, campaign, unit.id, "1.5", "材料迟报", [_section_id(db, "价格科")], admin,
                                 today=pd.Timestamp("2021-10-08").date())
    db.commit()
    card = scorecards.campaign_scorecard(db, campaign)

    directory = tmp_path / "bundle"
    shutil.copytree(bundle_dir, directory)
    listed = pd.read_csv(directory / "sections.csv", encoding="utf-8-sig", dtype=str).fillna("")
    number = listed.loc[listed["单位名称"] == FDG, "单位序号"].iloc[0]  # a blank one would be filled from the row above
    late = {"单位序号": number, "单位名称": FDG, "科室序号": "15", "科室": "能源监测科"}
    listed = pd.concat([listed, pd.DataFrame([late])], ignore_index=True).fillna("")
    listed.to_csv(directory / "sections.csv", index=False, encoding="utf-8")
    inspection = pd.read_csv(directory / "inspection.csv", encoding="utf-8-sig", dtype=str).fillna("")
    frame = deductions.inspection_frame(db, campaign)
    office = frame[frame[C.KIND].isin([C.UNREPORTED, C.DISCRETIONARY])]
    rows = [{"单位名称": r[C.UNIT], "科室": r[C.SECTION], "类型": "应报未报" if r[C.KIND] == C.UNREPORTED else "影响评议工作",
             "日期": r[C.DATE].isoformat() if r[C.DATE] else "", "扣分": "" if pd.isna(r[C.DEDUCTION]) else f"{r[C.DEDUCTION]:g}",
             "事由": r[C.REASON], "应报未报科室": r[C.MISSING]} for r in office.to_dict("records")]
    assert len(rows) == 15 + 1
    pd.concat([inspection, pd.DataFrame(rows)], ignore_index=True).fillna("").to_csv(
        directory / "inspection.csv", index=False, encoding="utf-8")
    offline = score_bundle(directory)
    left = card.sections.set_index([C.UNIT, C.SECTION]).sort_index()
    right = offline.sections.set_index([C.UNIT, C.SECTION]).sort_index()
    scores = [C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION, C.DAILY, C.NETWORK, C.BONUS, C.TOTAL]
    pd.testing.assert_frame_equal(left[scores], right[scores], rtol=0, atol=1e-9)
    assert right.loc[(FDG, "价格科"), C.INSPECTION] < plain_inspection(bundle_dir, (FDG, "价格科"))


def plain_inspection(bundle_dir, key) -> float:
    return float(score_bundle(bundle_dir).sections.set_index([C.UNIT, C.SECTION]).loc[key, C.INSPECTION])


@pytest.mark.parametrize("field", ["reason", "points"])
def test_nul_and_10_mb_are_refused(admin_client, db, campaign, field):
    from tests.security.test_text_input import HUGE, NUL, TOO_LARGE, KEPT
    from voting.core.errors_web import NUL_REFUSED

    before = _stored(db)
    nul = admin_client.post(ADD, data=_confirmed(_form(db, **{field: NUL})))
    assert nul.status_code == 400 and NUL_REFUSED in _page(nul)
    huge = admin_client.post(ADD, data=_confirmed(_form(db, **{field: HUGE})))
    assert huge.status_code == 413 and TOO_LARGE in _page(huge)
    assert _stored(db) == before
    if field == "reason":  # SQL-looking text is just text
        assert admin_client.post(ADD, data=_confirmed(_form(db, reason=KEPT["sql"]))).status_code == 303
        db.expire_all()
        assert set(db.scalars(select(InspectionEvent.reason))) == {" ".join(KEPT["sql"].split())}
