"""结果运用 on the platform (voting/scores/consequences.py, consequence_views.py), on SQLite
and PostgreSQL: a small campaign scored through the platform to its published lists,
4 满意单位 (places 1 to 4), 3 不满意单位 of which 1 最不满意单位, over 4 units; each
unit's consequences checked exactly; the office's table and its filters, the county
committee's table (print and Excel), the Word notices read back with python-docx, the
records of what was done and their undoing (confirmed, audited), the liaison limited
to the own unit, and the pages before the results are final.

The year, hand-worked: every section has 40 满意 in each half-year round, so its daily
score is 80 + its supervisor score (5.0, 3.5, 1.0 for 一科, 二科, 三科 of each unit).
The shortlist (4 满意候选, 3 不满意候选) takes the four 一科 (85) and 甲乙丙 三科 (81);
丁局 三科 was 不满意单位 in 2020, so it is a candidate directly. Online votes (of 10):

    甲一 10 满意 → 15    total 100    满意单位 1st (优秀档)
    乙一  8 满意 → 12          97    满意单位 2nd (优秀档)
    丙一  6 满意 →  9          94    满意单位 3rd (优秀档)
    丁一  4 满意 →  6          91    满意单位 4th
    甲三  5 满意 →  7.5        88.5  not listed
    丁三  3 满意 →  4.5        85.5  不满意单位 (two years running)
    乙三  2 满意 →  3          84    不满意单位
    丙三  0 满意 →  0          81    最不满意单位

考绩: 甲 +5; 乙 +5 − 5 = 0; 丙 +5 − 10 = −5; 丁 +5 − 5 = 0.
"""
from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import func, select

from scoring import columns as C
from scoring import consequences as Q
from scoring.settings import RuleSettings
from tests.conftest import PASSWORD, login
from tests.security.common import changed, snapshot
from tests.support.web import text
from voting.audit.models import AuditEntry
from voting.components.models import SupervisorScore, VoteCount
from voting.lists import campaigns
from voting.lists.models import HistoryResult, Result, Section, Unit
from voting.online.models import OnlineRound
from voting.scores import scorecards
from voting.scores.models import ConsequenceRecord
from voting.staff import users
from voting.staff.models import Role
from voting.survey.models import RoundStatus

OFFICE = "平阳县千人评议办"
PAGE = "/office/scores/consequences/"
UNIT_PAGE = "/office/unit-consequences/"
SETTINGS = RuleSettings(shortlist_satisfied=4, shortlist_unsatisfied=3, final_satisfied=4, final_unsatisfied=3,
                        final_most_unsatisfied=1, top_bonus_tier=3, rectification_days=90)
UNITS = ("甲局", "乙局", "丙局", "丁局")
SUPERVISOR = {"一科": 5.0, "二科": 3.5, "三科": 1.0}
NET = {("甲局", "一科"): 10, ("乙局", "一科"): 8, ("丙局", "一科"): 6, ("丁局", "一科"): 4,
       ("甲局", "三科"): 5, ("丁局", "三科"): 3, ("乙局", "三科"): 2, ("丙局", "三科"): 0}
PUBLISHED_AT = datetime(2021, 12, 10, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
DEADLINE = "2022年3月10日前"  # 2021-12-10 + 90 days

# Each unit's consequences, exactly: (section or None for the unit, kind, points, time limit, status).
UNSATISFIED_TAIL = [
    (Q.BONUS_LOWEST, None, "2021年度考绩奖", Q.APPLIES), (Q.NO_HONOURS, None, "2021年度", Q.APPLIES),
    (Q.CRITICISM, None, "", Q.APPLIES), (Q.RECTIFY, None, DEADLINE, Q.APPLIES), (Q.TALK_HEAD, None, "", Q.APPLIES),
]
REEVALUATION_TAIL = [
    (Q.REEVALUATION, None, "2022年6月", Q.APPLIES), (Q.FREEZE, None, "至复评整改合格", Q.APPLIES),
    (Q.REASSIGN, None, "", Q.PENDING), (Q.PARTY_TALK, None, "", Q.APPLIES),
    (Q.PARTY_NO_HONOURS, None, "2021年度", Q.APPLIES),
]


def satisfied(excellent: bool) -> list[tuple]:
    rows = [(Q.KAOJI, 5.0, "2021年度考绩", Q.APPLIES), (Q.BONUS_UP, None, "2021年度考绩奖", Q.APPLIES)]
    return rows + ([(Q.BONUS_EXCELLENT, None, "2021年度考绩奖", Q.APPLIES)] if excellent else [])


EXPECTED = {
    "甲局": [("一科", *r) for r in satisfied(True)] + [(None, Q.PARTY_SCORE, None, "2021年度党建考核", Q.APPLIES)],
    "乙局": [("一科", *r) for r in satisfied(True)]
    + [("三科", Q.KAOJI, -5.0, "2021年度考绩", Q.APPLIES)] + [("三科", *r) for r in UNSATISFIED_TAIL]
    + [("三科", *r) for r in REEVALUATION_TAIL] + [(None, Q.PARTY_SCORE, None, "2021年度党建考核", Q.APPLIES)],
    "丙局": [("一科", *r) for r in satisfied(True)]
    + [("三科", Q.KAOJI, -10.0, "2021年度考绩", Q.APPLIES), ("三科", Q.BONUS_LOWEST, None, "2021年度考绩奖", Q.APPLIES),
       ("三科", Q.LEADER_BONUS, None, "2021年度考绩奖", Q.APPLIES)]
    + [("三科", *r) for r in UNSATISFIED_TAIL[1:]]
    + [("三科", Q.STATEMENT, None, "2022年春节后全县干部大会", Q.APPLIES), ("三科", Q.TALK_LEADERS, None, "", Q.APPLIES)]
    + [("三科", *r) for r in REEVALUATION_TAIL] + [(None, Q.PARTY_SCORE, None, "2021年度党建考核", Q.APPLIES)],
    "丁局": [("一科", *r) for r in satisfied(False)]
    + [("三科", Q.KAOJI, -5.0, "2021年度考绩", Q.APPLIES)] + [("三科", *r) for r in UNSATISFIED_TAIL]
    + [("三科", Q.REMOVAL, None, "", Q.APPLIES)]
    + [("三科", *r) for r in REEVALUATION_TAIL] + [(None, Q.PARTY_SCORE, None, "2021年度党建考核", Q.APPLIES)],
}
POINTS = {"甲局": "+5", "乙局": "0", "丙局": "−5", "丁局": "0"}
RESULTS = {"甲局": "一科（满意单位第 1 名）", "乙局": "一科（满意单位第 2 名）；三科（不满意单位）",
           "丙局": "一科（满意单位第 3 名）；三科（最不满意单位）", "丁局": "一科（满意单位第 4 名）；三科（不满意单位）"}


@pytest.fixture
def app_config() -> dict:
    return {"OFFICE_NAME": OFFICE}


def build_year(db, *, publish: bool = True):
    """The campaign above, its online round closed, its lists published (or not)."""
    campaign = campaigns.create_campaign(db, 2021, settings=SETTINGS)
    for n, name in enumerate(UNITS, start=1):
        unit = Unit(campaign_id=campaign.id, number=n, name=name)
        db.add(unit)
        db.flush()
        for m, (section_name, score) in enumerate(SUPERVISOR.items(), start=1):
            section = Section(unit_id=unit.id, number=m, name=section_name)
            db.add(section)
            db.flush()
            db.add(SupervisorScore(section_id=section.id, score=score))
            db.add_all(VoteCount(section_id=section.id, round=r, satisfied=40, basic=0, unsatisfied=0) for r in (C.H1, C.H2))
            if (name, section_name) in NET:
                good = NET[(name, section_name)]
                db.add(VoteCount(section_id=section.id, round=C.NET, satisfied=good, basic=0, unsatisfied=10 - good))
    db.add(HistoryResult(year=2020, unit_name="丁局", section_name="三科", result=Result.unsatisfied))
    online = OnlineRound(campaign_id=campaign.id, status=RoundStatus.closed, seed=1, closes_at=PUBLISHED_AT,
                         opened_at=PUBLISHED_AT - timedelta(days=7), closed_at=PUBLISHED_AT - timedelta(hours=1))
    db.add(online)
    db.flush()
    if publish:
        scorecards.publish(db, online, actor="admin", now=PUBLISHED_AT)
    db.commit()
    return campaign


@pytest.fixture
def year(db):
    return build_year(db)


def unit_id(db, name: str) -> int:
    return db.scalar(select(Unit.id).where(Unit.name == name))


def section_id(db, unit: str, section: str) -> int:
    return db.scalar(select(Section.id).join(Unit).where(Unit.name == unit, Section.name == section))


def table_rows(html: str) -> list[list[str]]:
    body = html.split('<table id="consequences">', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in body.split("<tr>")[1:]]


def audits(db, action: str) -> list[dict]:
    db.rollback()
    return [e.detail for e in db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def key(unit: str, section: str | None, kind: str) -> str:
    return f"{kind}|{unit}|{section or ''}"


# ---- the consequences, unit by unit -------------------------------------------------------------------


def test_each_units_consequences_exactly(app, db, year):
    from voting.scores import consequences as service

    with app.app_context():
        final = service.final_results(db, year, scorecards.campaign_scorecard(db, year), "Asia/Shanghai")
    assert final.published_on == date(2021, 12, 10)
    assert [u.name for u in final.units] == list(UNITS)
    for unit in final.units:
        assert [(r.section, r.kind, r.points, r.time_limit, r.status) for r in unit.rows] == EXPECTED[unit.name], unit.name
        assert Q.signed(unit.points) == POINTS[unit.name]
        assert unit.results_text == RESULTS[unit.name]
        assert unit.unit_id == unit_id(db, unit.name)
    removal = next(r for r in final.rows if r.kind == Q.REMOVAL)
    assert (removal.unit, removal.section, removal.note) == ("丁局", "三科", "2020年度、2021年度连续两年为不满意单位")
    assert final.records == {} and final.orphans == []


# ---- the office's table -------------------------------------------------------------------------------


def test_the_office_table_filters_by_unit_and_kind(admin_client, db, year):
    page = admin_client.get(PAGE)
    html = text(page)
    assert page.status_code == 200
    rows = table_rows(html)
    assert len(rows) == sum(len(v) for v in EXPECTED.values())
    assert "共 4 个单位、" in html and "已登记完成 0 项" in html
    # 甲局's rows, in order: unit, section, measure, text, party, 考绩, time limit, note, state.
    first = table_rows(text(admin_client.get(f"{PAGE}?unit={unit_id(db, '甲局')}")))
    assert [r[:3] for r in first] == [["甲局", "一科", "考绩加减分"], ["甲局", "一科", "考绩奖升档"],
                                       ["甲局", "一科", "考绩奖优秀档"], ["甲局", "（单位）", "党建考核"]]
    assert first[0][5:9] == ["+5", "2021年度考绩", "满意单位第 1 名", "待执行"]
    rectify = table_rows(text(admin_client.get(f"{PAGE}?kind={Q.RECTIFY}")))
    assert [(r[0], r[1], r[6]) for r in rectify] == [("乙局", "三科", DEADLINE), ("丙局", "三科", DEADLINE),
                                                     ("丁局", "三科", DEADLINE)]
    reassign = table_rows(text(admin_client.get(f"{PAGE}?kind={Q.REASSIGN}")))
    assert {r[8] for r in reassign} == {"待复评结果"} and len(reassign) == 3
    # A filter naming nothing on offer is left out and said so (as the other lists do).
    odd = text(admin_client.get(f"{PAGE}?unit=99999&kind=nonsense"))
    assert len(table_rows(odd)) == len(rows) and "地址中的参数 unit" in odd and "地址中的参数 kind" in odd
    assert "结果运用" in text(admin_client.get("/office/scores/units"))  # the score pages link to it


def test_no_results_yet_the_pages_say_so_and_offer_nothing(app, admin_client, db):
    campaign = build_year(db, publish=False)
    page = admin_client.get(PAGE)
    assert page.status_code == 200 and "评议结果尚未公布" in text(page) and 'id="consequences"' not in text(page)
    for path in ("committee", "committee.xlsx", "notices.docx", f"units/{unit_id(db, '甲局')}/notice.docx",
                 f"record?key={key('乙局', '三科', Q.RECTIFY)}"):
        response = admin_client.get(PAGE + path)
        assert response.status_code == 409 and "评议结果尚未公布" in text(response), path
    before = snapshot(db)
    response = admin_client.post(PAGE + "records", data={"key": key("乙局", "三科", Q.RECTIFY), "done_on": "2021-12-20",
                                                        "done_by": "乙局"})
    assert response.status_code == 409 and changed(before, snapshot(db)) == []
    # Published, then a decision changes a list: not final until published again.
    online = db.scalar(select(OnlineRound).where(OnlineRound.campaign_id == campaign.id))
    scorecards.publish(db, online, actor="admin", now=PUBLISHED_AT)
    db.commit()
    assert 'id="consequences"' in text(admin_client.get(PAGE))
    scorecards.decide(db, campaign, section_id(db, "甲局", "三科"), Result.unsatisfied, "县委常委会决定", None)
    db.commit()
    changed_page = text(admin_client.get(PAGE))
    assert "尚未重新公布" in changed_page and 'id="consequences"' not in changed_page
    assert admin_client.get(PAGE + "committee.xlsx").status_code == 409


# ---- the county committee's table ------------------------------------------------------------------


def test_the_committee_table_prints_and_downloads(admin_client, db, year):
    html = text(admin_client.get(PAGE + "committee"))
    assert "<h1>2021年度千人评机关中层科室活动结果运用汇总表</h1>" in html and f"制表单位：{OFFICE}" in html
    assert "各单位结果运用（4 个单位）" in html and "审核人：________" in html
    assert "3 个不满意单位尚无复评结果" in html
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in body.split("<tr>")[1:]]
    assert [(c[1], c[2], c[3]) for c in cells] == [(u, RESULTS[u], POINTS[u]) for u in UNITS]
    response = admin_client.get(PAGE + "committee.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    header = values.index(["单位", "参评科室及评议结果", "考绩加减分", "结果运用措施"])
    rows = values[header + 1:]
    assert [(r[0], r[1], r[2]) for r in rows] == [("甲局", RESULTS["甲局"], 5), ("乙局", RESULTS["乙局"], 0),
                                                   ("丙局", RESULTS["丙局"], -5), ("丁局", RESULTS["丁局"], 0)]
    measures = {r[0]: r[3].split("\n") for r in rows}
    assert [len(measures[u]) for u in UNITS] == [len(EXPECTED[u]) for u in UNITS]
    assert measures["甲局"][0] == "1. 一科：所在机关单位（含国有企业）年度考绩加5分（县委、县政府，2021年度考绩）"
    assert f"三科：列为整改单位限期整改（所在单位，{DEADLINE}）" in "\n".join(measures["乙局"])
    assert "三科：按照干部管理权限对参评单位主要负责人" not in "\n".join(measures["乙局"])
    assert "连续两年被评为“不满意单位”" in "\n".join(measures["丁局"])


def test_the_reevaluation_hook_moves_the_waiting_measures(admin_client, db, year, monkeypatch):
    """The 复评 outcomes (next year's 复评 round gives them: tests/scores/test_reevaluation.py)
    as the consequences read them: passed lifts the freeze and drops 刚性调整, failed makes
    刚性调整 due."""
    from voting.scores import consequences as service

    monkeypatch.setattr(service, "outcomes_of_year",
                        lambda session, campaign, card: {("乙局", "三科"): True, ("丙局", "三科"): False})
    reassign = table_rows(text(admin_client.get(f"{PAGE}?kind={Q.REASSIGN}")))
    assert [(r[0], r[8]) for r in reassign] == [("乙局", "不再执行"), ("丙局", "待执行"), ("丁局", "待复评结果")]
    freeze = table_rows(text(admin_client.get(f"{PAGE}?kind={Q.FREEZE}")))
    assert [(r[0], r[7], r[8]) for r in freeze] == [("乙局", "复评整改合格，限制解除", "不再执行"),
                                                    ("丙局", "复评仍为不满意，限制继续有效", "待执行"),
                                                    ("丁局", "复评尚未进行，限制有效", "待执行")]
    lifted = admin_client.post(PAGE + "records", data={"key": key("乙局", "三科", Q.FREEZE), "done_on": "2022-07-01",
                                                      "done_by": "县委组织部"})
    assert lifted.status_code == 409 and "不再执行" in text(lifted)
    assert admin_client.post(PAGE + "records", data={"key": key("丙局", "三科", Q.REASSIGN), "done_on": "2022-07-01",
                                                    "done_by": "县委组织部"}).status_code == 303
    assert "1 个不满意单位尚无复评结果" in text(admin_client.get(PAGE + "committee"))


# ---- the notices ----------------------------------------------------------------------------------


def notice_text(data: bytes) -> tuple[list[str], list[list[list[str]]]]:
    document = Document(io.BytesIO(data))
    return ([p.text for p in document.paragraphs],
            [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables])


def test_a_units_notice_in_word(admin_client, db, year):
    response = admin_client.get(f"{PAGE}units/{unit_id(db, '丙局')}/notice.docx")
    assert response.status_code == 200 and response.mimetype.endswith("wordprocessingml.document")
    assert "attachment" in response.headers["Content-Disposition"]
    paragraphs, tables = notice_text(response.data)
    today = datetime.now(timezone(timedelta(hours=8))).date()
    assert paragraphs[:3] == [
        "关于2021年度千人评机关中层科室活动结果运用的通知", "丙局：",
        "根据“千人评议”活动实施细则关于结果运用的规定，现将2021年12月10日公布的2021年度千人评机关中层科室活动评议结果中"
        "你单位参评科室的结果及其运用事项通知如下。"]
    assert "你单位年度考绩合计减5分（各科室加减分累加）。" in paragraphs
    assert f"请你单位对照上述事项抓好落实。列为整改单位的三科，须于{DEADLINE}完成整改，并将整改情况书面报送{OFFICE}。" in paragraphs
    assert paragraphs[-2:] == [OFFICE, f"{today.year}年{today.month}月{today.day}日"]
    results, measures = tables
    assert results == [["序号", "科室", "评议结果"], ["1", "一科", "满意单位第 3 名"], ["2", "三科", "最不满意单位"]]
    assert measures[0] == ["序号", "科室", "措施", "责任主体", "时限", "说明"]
    assert [(m[0], m[1], m[4]) for m in measures[1:]] == [
        (str(i), section or "（单位）", limit or "—") for i, (section, _, _, limit, _) in enumerate(EXPECTED["丙局"], start=1)]
    county, organization = "县委、县政府", "组织部门（按干部管理权限）"
    assert [m[3] for m in measures[1:]] == [county] * 8 + ["所在单位", county, "所在单位", organization, "评议办",
                                                           organization, organization, "机关工委", "机关工委", "机关工委"]
    assert measures[9] == ["9", "三科", "列为整改单位限期整改", "所在单位", DEADLINE, "自评议结果公布之日起 90 日内"]
    reassign = next(m for m in measures if m[2].startswith("复评结果仍为"))
    assert reassign[5] == "待复评结果：复评仍为不满意时执行"
    # A unit with no section on a list has no notice; an unknown unit neither.
    others = admin_client.get(f"{PAGE}units/99999/notice.docx")
    assert others.status_code == 404 and "没有结果运用通知" in text(others)


def test_every_notice_in_one_document(admin_client, db, year):
    response = admin_client.get(PAGE + "notices.docx")
    assert response.status_code == 200
    paragraphs, tables = notice_text(response.data)
    assert [p for p in paragraphs if p.endswith("：") and p[:-1] in UNITS] == [f"{u}：" for u in UNITS]
    assert len(tables) == 8  # results and measures of each unit
    assert sum(1 for p in paragraphs if p == "关于2021年度千人评机关中层科室活动结果运用的通知") == 4


# ---- the office's records -------------------------------------------------------------------------


def test_recording_and_undoing_what_was_done(admin_client, db, year):
    rectify = key("乙局", "三科", Q.RECTIFY)
    form = admin_client.get(PAGE + "record", query_string={"key": rectify})
    assert form.status_code == 200 and "列为整改单位限期整改" in text(form) and DEADLINE in text(form)
    for odd in ("nonsense", "", key("乙局", "二科", Q.RECTIFY)):
        missing = admin_client.get(PAGE + "record", query_string={"key": odd})
        assert missing.status_code == 404 and "没有这项结果运用措施" in text(missing), odd
    today = datetime.now(timezone(timedelta(hours=8))).date()
    data = {"key": rectify, "done_on": "2022-01-15", "done_by": "乙局", "note": "整改报告已报送"}
    # Bad input: each refused with its reason, nothing stored.
    before = snapshot(db)
    for bad, status, message in [
        ({"done_on": "2022-13-40"}, 422, "不是有效的日期值"),
        ({"done_on": ""}, 422, "请填写完成日期"),
        ({"done_by": "  "}, 422, "请填写执行单位或经办人"),
        ({"done_by": "乙" * 101}, 422, "不超过 100 字"),
        ({"done_on": "2021-12-01"}, 422, "早于评议结果公布日期 2021-12-10"),
        ({"done_on": (today + timedelta(days=1)).isoformat()}, 422, "晚于今天"),
        ({"key": key("乙局", "三科", Q.REASSIGN)}, 409, "待复评结果"),
        ({"key": "rectify|戊局|一科"}, 404, "没有这项结果运用措施"),
        ({"key": ""}, 404, "缺少要登记的措施"),
    ]:
        response = admin_client.post(PAGE + "records", data={**data, **bad})
        assert (response.status_code, message in text(response)) == (status, True), (bad, text(response)[-3000:])
    assert changed(before, snapshot(db)) == []

    assert admin_client.post(PAGE + "records", data=data).status_code == 303
    stored = db.scalar(select(ConsequenceRecord))
    assert (stored.key, stored.kind, stored.done_on, stored.done_by, stored.note, stored.unit_id) == (
        rectify, Q.RECTIFY, date(2022, 1, 15), "乙局", "整改报告已报送", unit_id(db, "乙局"))
    assert audits(db, "consequence.done") == [{
        "key": rectify, "kind": Q.RECTIFY, "measure": "限期整改", "unit": "乙局", "section": "三科",
        "done_on": "2022-01-15", "done_by": "乙局", "note": "整改报告已报送"}]
    row = next(r for r in table_rows(text(admin_client.get(f"{PAGE}?kind={Q.RECTIFY}"))) if r[0] == "乙局")
    assert row[8].startswith("已完成（2022-01-15）") and "整改报告已报送" in row[8]
    assert "已登记完成 1 项" in text(admin_client.get(PAGE))
    # Recorded once: again is refused until undone.
    again = admin_client.post(PAGE + "records", data=data)
    assert again.status_code == 409 and "已于 2022-01-15 登记完成" in text(again)

    # Undo: asks first, then removes it and says so in the log.
    asked = admin_client.post(PAGE + "undo", data={"key": rectify})
    assert asked.status_code == 200 and "请确认：撤销完成登记" in text(asked)
    assert db.scalar(select(func.count()).select_from(ConsequenceRecord)) == 1
    assert admin_client.post(PAGE + "undo", data={"key": rectify, "confirmed": "1"}).status_code == 303
    db.rollback()
    assert db.scalar(select(func.count()).select_from(ConsequenceRecord)) == 0
    assert audits(db, "consequence.undo") == [{
        "key": rectify, "kind": Q.RECTIFY, "measure": "限期整改", "unit": "乙局", "section": "三科",
        "done_on": "2022-01-15", "done_by": "乙局", "note": "整改报告已报送"}]
    gone = admin_client.post(PAGE + "undo", data={"key": rectify, "confirmed": "1"})
    assert gone.status_code == 404 and "没有完成登记" in text(gone)
    # A unit's own row (党建考核) records the same way.
    party = key("丙局", None, Q.PARTY_SCORE)
    assert admin_client.post(PAGE + "records", data={"key": party, "done_on": "2021-12-10", "done_by": "机关工委"}).status_code == 303
    assert audits(db, "consequence.done")[-1]["section"] is None


def test_readers_read_and_only_administrators_record(app, db, year):
    users.create_user(db, "operator", PASSWORD, Role.operator)
    users.create_user(db, "auditor", PASSWORD, Role.auditor)
    db.commit()
    for reader in ("operator", "auditor"):
        client = app.test_client()
        login(client, reader)
        page = client.get(PAGE)
        assert page.status_code == 200 and 'id="consequences"' in text(page) and "登记完成</a>" not in text(page)
        assert client.get(PAGE + "committee").status_code == 200
        assert client.get(PAGE + "notices.docx").status_code == 200
        before = snapshot(db)
        for method, path, data in [
            ("GET", PAGE + "record?key=" + key("乙局", "三科", Q.RECTIFY), None),
            ("POST", PAGE + "records", {"key": key("乙局", "三科", Q.RECTIFY), "done_on": "2021-12-20", "done_by": "x"}),
            ("POST", PAGE + "undo", {"key": key("乙局", "三科", Q.RECTIFY), "confirmed": "1"}),
        ]:
            assert client.open(path, method=method, data=data).status_code == 403, (reader, path)
        assert changed(before, snapshot(db)) == []
    anonymous = app.test_client().get(PAGE)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


# ---- a unit's liaison ---------------------------------------------------------------------------------


def test_a_liaison_sees_only_the_own_units_consequences(app, db, year):
    own, other = db.get(Unit, unit_id(db, "丁局")), db.get(Unit, unit_id(db, "丙局"))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, own)
    db.commit()
    client = app.test_client()
    login(client, "liaison")
    page = client.get(UNIT_PAGE)
    html = text(page)
    assert page.status_code == 200 and "丁局" in html and "丙局" not in html and "甲局" not in html
    assert len(table_rows(html)) == len(EXPECTED["丁局"])
    assert "本单位年度考绩合计：0 分" in html and "三科：不满意单位" in html
    assert "连续两年被评为“不满意单位”" in html and "<form" not in html.split("<main>", 1)[1]
    notice = client.get(UNIT_PAGE + "notice.docx")
    paragraphs, _ = notice_text(notice.data)
    assert notice.status_code == 200 and paragraphs[1] == "丁局：" and not any("丙局" in p for p in paragraphs)
    # The office's pages, another unit's notice: refused, nothing stored.
    before = snapshot(db)
    for method, path in [("GET", PAGE), ("GET", f"{PAGE}units/{other.id}/notice.docx"), ("GET", PAGE + "notices.docx"),
                         ("GET", PAGE + "committee"), ("GET", PAGE + "committee.xlsx"),
                         ("POST", PAGE + "records"), ("POST", PAGE + "undo")]:
        assert client.open(path, method=method, data={"key": key("丁局", "三科", Q.RECTIFY)}).status_code == 403, path
    assert changed(before, snapshot(db)) == []
    # A unit the lists do not name: the page says so, and there is no notice.
    quiet = Unit(campaign_id=year.id, number=9, name="戊局")
    db.add(quiet)
    db.flush()
    users.create_user(db, "liaison2", PASSWORD, Role.liaison, quiet)
    db.commit()
    second = app.test_client()
    login(second, "liaison2")
    assert "本单位没有科室列入" in text(second.get(UNIT_PAGE))
    assert second.get(UNIT_PAGE + "notice.docx").status_code == 404
    # The office has no unit page.
    admin = app.test_client()
    users.create_user(db, "admin2", PASSWORD, Role.admin)
    db.commit()
    login(admin, "admin2")
    assert admin.get(UNIT_PAGE).status_code == 403
