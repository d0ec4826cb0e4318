"""The ratings' figures in window assessments, on SQLite and PostgreSQL: a scheme's
indicator names its figure (`figure:`, checked on loading like every field, the error
naming the line and the field); `fill_from_figures` writes each entity's figure of the
period as a record (a window's own, the 12345 rates of the entity's unit), replaces its
earlier ones, leaves the office's own records, the figures without data and the values
the rule cannot take (each said), is audited, and the period's scores change
accordingly; Enyang's built-in scheme takes its three rates from the figures; the
period page's button, refused with a Chinese message once the period is closed."""
from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from scoring.schemes.scheme import FIGURES, SchemeError, load_scheme
from tests.conftest import PASSWORD, login
from tests.security.common import changed, snapshot
from tests.support.web import text
from voting.audit.models import AuditEntry
from voting.lists import campaigns
from voting.lists.models import Unit
from voting.ratings import codes
from voting.ratings import figures as F
from voting.ratings import ratings as r
from voting.ratings.models import HotlineLevel, HotlineRate, RatingCode, ServedCount
from voting.schemes import assessments
from voting.schemes.files import read_scheme
from voting.schemes.models import AssessmentRecord
from voting.staff import users
from voting.staff.models import Role

# Monday 2 August 2021, 10:00 in Shanghai.
AUGUST = datetime(2021, 8, 2, 2, 0, tzinfo=timezone.utc)
LATER = datetime(2022, 3, 1, tzinfo=timezone.utc)

SCHEME = """\
name: '好差评测试方案'
kinds: [window]
period: month
base: 100
modules:
  - id: ratings
    name: '好差评'
    indicators:
      - id: good
        name: '好评率'
        rule: {kind: rate, table: [[90, 2], [80, 1]], below: 0}
        figure: '好评率'
      - id: poor
        name: '差评'
        rule: {kind: per_event, points: -0.5}
        figure: '差评数'
      - id: active
        name: '主动评价率'
        rule: {kind: rate, table: [[100, 2]], below: observed}
        figure: '主动评价率'
      - id: city
        name: '12345市级件'
        rule: {kind: rate, table: [[100, 1]], below: -1}
        figure: '12345市级件回访满意率'
"""
ENTITIES = "序号,对象\n1,窗口甲\n2,窗口乙\n3,窗口丙\n".encode()


def test_the_figure_field_is_read_and_checked():
    scheme = load_scheme(SCHEME, "test.yaml")
    assert [(i.id, i.figure) for i in scheme.indicators] == [
        ("good", "好评率"), ("poor", "差评数"), ("active", "主动评价率"), ("city", "12345市级件回访满意率")]
    assert load_scheme(SCHEME.replace("        figure: '差评数'\n", ""), "test.yaml").indicator("poor").figure == ""
    with pytest.raises(SchemeError) as refused:
        load_scheme(SCHEME.replace("figure: '差评数'", "figure: '差评件数'").replace("figure: '好评率'", "figure: ['好评率']"),
                    "test.yaml")
    assert refused.value.lines() == [
        "test.yaml 第 12 行，modules[0].indicators[0].figure：应为单个值",
        "test.yaml 第 16 行，modules[0].indicators[1].figure：“差评件数”不可用，可用的有：" + "、".join(FIGURES),
    ]


def test_enyang_takes_its_three_rates_from_the_figures():
    scheme = read_scheme("enyang")
    assert {i.id: i.figure for i in scheme.indicators if i.figure} == {
        "active_rating": "主动评价率", "hotline_province": "12345省级件回访满意率", "hotline_city": "12345市级件回访满意率"}


def rate(db, code, level: int, now: datetime, n: int) -> None:
    r.submit_rating(db, code, level, ["slow"] if level in r.POOR else [], "", device=f"device-{n:016d}",
                    network="203.0.113.7", now=now + timedelta(minutes=n))


def served(db, entity, month: str, count: int) -> None:
    db.add(ServedCount(entity_id=entity.id, place=f"entity:{entity.id}", month=month, served=count, imported_by="admin"))


@pytest.fixture
def assessed(db):
    """August 2021. 窗口甲 (given to 县发改局): 10 ratings (7 × 5, 2 × 4, 1 × 1), 10 cases
    served, its unit's 12345 市级件 10 of 10 satisfied. 窗口乙: 4 ratings (5, 5, 2, 1), 8
    served; its 主动评价率 of 50% needs the office's points. 窗口丙: nothing."""
    campaign = campaigns.create_campaign(db, 2021)
    unit = Unit(campaign_id=campaign.id, name="县发改局", number=1)
    db.add(unit)
    assessment = assessments.create_assessment(db, "好差评测试", text=SCHEME, filename="test.yaml", actor="admin")
    assessments.import_entities(db, assessment, ENTITIES, "entities.csv", "admin")
    first, second, third = assessments.entities(db, assessment)
    first.unit_id = unit.id
    period = assessments.open_period(db, assessment, "2021-08", "admin")
    for n, level in enumerate([5] * 7 + [4, 4, 1]):
        rate(db, codes.issue(db, actor="admin", entity_id=first.id) if n == 0 else code_of(db, first), level, AUGUST, n)
    second_code = codes.issue(db, actor="admin", entity_id=second.id)
    for n, level in enumerate((5, 5, 2, 1)):
        rate(db, second_code, level, AUGUST, 20 + n)
    served(db, first, "2021-08", 10)
    served(db, second, "2021-08", 8)
    db.add(HotlineRate(unit_id=unit.id, month="2021-08", level=HotlineLevel.city, revisits=10, satisfied=10,
                       imported_by="admin"))
    db.commit()
    return {"assessment": assessment, "period": period, "entities": (first, second, third), "unit": unit}


def code_of(db, entity):
    return db.scalar(select(RatingCode).where(RatingCode.entity_id == entity.id, RatingCode.revoked_at.is_(None)))


def records(db, period) -> list[tuple]:
    db.rollback()
    return [(rec.entity_id, rec.indicator, rec.value, rec.count, rec.recorded_by, rec.note)
            for rec in db.scalars(select(AssessmentRecord).where(AssessmentRecord.period_id == period.id)
                                  .order_by(AssessmentRecord.entity_id, AssessmentRecord.indicator))]


def totals(db, assessment, period) -> dict[str, str]:
    from scoring.schemes.exact import text as points

    db.rollback()
    result = assessments.results(db, assessment, period).table
    return {row["entity"]: points(int(row["total"])) for row in result.to_dict("records")}


def test_fill_writes_the_figures_and_the_scores_follow(db, assessed):
    assessment, period = assessed["assessment"], assessed["period"]
    first, second, third = assessed["entities"]
    assert totals(db, assessment, period) == {"窗口甲": "100", "窗口乙": "100", "窗口丙": "100"}
    summary = F.fill_from_figures(db, period, "admin", now=LATER)
    db.commit()
    assert (summary.written, summary.replaced, summary.kept) == (6, 0, [])
    assert summary.no_data == [("窗口乙", "12345市级件"), ("窗口丙", "好评率"), ("窗口丙", "主动评价率"),
                               ("窗口丙", "12345市级件")]
    assert summary.refused == [("窗口乙", "主动评价率", "指标“主动评价率”的分值据实录入：请填写分值")]
    assert summary.zero == [("窗口丙", "差评")]  # no 差评, no event: no record
    rows = {(e, i): (v, c, note) for e, i, v, c, _, note in records(db, period)}
    assert rows[(first.id, "good")] == ("90%", 1, "好评率 90.00%（好评 9 件，评价 10 件）")
    assert rows[(first.id, "poor")] == ("1", 1, "差评数 1 件（评价 10 件）")
    assert rows[(first.id, "active")] == ("100%", 1, "主动评价率 100.00%（评价 10 件，办件 10 件）")
    assert rows[(first.id, "city")] == ("100%", 1, "12345市级件回访满意率 100.00%（满意 10 件，回访 10 件）")
    assert rows[(second.id, "good")] == ("50%", 1, "好评率 50.00%（好评 2 件，评价 4 件）")
    assert rows[(second.id, "poor")] == ("2", 2, "差评数 2 件（评价 4 件）")
    assert set(rows) == {(first.id, "good"), (first.id, "poor"), (first.id, "active"), (first.id, "city"),
                         (second.id, "good"), (second.id, "poor")}
    # 窗口甲：好评率 90% +2，1 件差评 −0.5，主动评价率 100% +2，12345 市级件 100% +1；窗口乙：50% → 0，2 件差评 −1。
    assert totals(db, assessment, period) == {"窗口甲": "104.5", "窗口乙": "99", "窗口丙": "100"}
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "assessment.records_fill")).one()
    assert entry.actor == "admin" and entry.detail == {
        "assessment": "好差评测试", "period": "2021-08", "months": ["2021-08", "2021-08"],
        "indicators": ["good", "poor", "active", "city"], "written": 6, "replaced": 0, "kept": 0, "no_data": 4,
        "zero": 1, "refused": 1}
    message = summary.message()
    assert message.startswith("已从好差评数据取数：写入 6 条记录。4 项没有数据（—），未写入。1 项差评数为 0，不需要记录。")
    assert "“窗口乙”的“主动评价率”未写入：指标“主动评价率”的分值据实录入：请填写分值。" in message


def test_fill_again_replaces_its_records_and_keeps_the_offices(db, assessed):
    """The office enters 窗口乙's 主动评价率 with its points (50%, −1): the next fill keeps
    it, replaces its own six records, and takes a rating added since."""
    assessment, period = assessed["assessment"], assessed["period"]
    first, second, _ = assessed["entities"]
    F.fill_from_figures(db, period, "admin", now=LATER)
    assessments.add_record(db, assessment, period, assessments.RecordInput("窗口乙", "active", value="50%", points="-1",
                                                                           note="主动评价率 50%"), "admin")
    rate(db, code_of(db, first), 1, AUGUST + timedelta(days=1), 40)
    db.commit()
    summary = F.fill_from_figures(db, period, "admin", now=LATER)
    db.commit()
    assert (summary.written, summary.replaced, summary.kept, summary.refused) == (6, 6, [("窗口乙", "主动评价率")], [])
    assert "1 项已有人工录入的记录，保留人工记录，未取数。" in summary.message()
    rows = {(e, i): (v, by) for e, i, v, _, by, _ in records(db, period)}
    assert rows[(second.id, "active")] == ("50%", "admin")
    assert rows[(first.id, "poor")] == ("2", F.FILLED_BY) and rows[(first.id, "good")] == ("81.818%", F.FILLED_BY)
    assert rows[(first.id, "active")] == ("110%", F.FILLED_BY)  # 11 ratings of 10 cases served: as imported
    # 窗口甲: 81.818% +1, 2 差评 −1, 110% +2, +1; 窗口乙: 0, −1, −1 (the office's).
    assert totals(db, assessment, period) == {"窗口甲": "103", "窗口乙": "98", "窗口丙": "100"}


def test_fill_refuses_a_closed_or_rolled_up_period_and_a_scheme_without_figures(db, assessed):
    assessment, period = assessed["assessment"], assessed["period"]
    assessments.close_period(db, assessment, period, "admin")
    db.commit()
    before = snapshot(db)
    with pytest.raises(F.FillRefused) as refused:
        F.fill_from_figures(db, period, "admin", now=LATER)
    assert str(refused.value) == "期间 2021-08 已结束考核，不能从好差评取数：请先重新开启这一期。"
    assert refused.value.status == 409
    quarter = assessments.open_period(db, assessment, "2021-Q3", "admin")
    db.commit()
    before = snapshot(db)
    with pytest.raises(F.FiguresError, match="由各考核期汇总而成"):
        F.fill_from_figures(db, quarter, "admin", now=LATER)
    genhe = assessments.create_assessment(db, "根河", builtin="genhe", actor="admin")
    month = assessments.open_period(db, genhe, "2023-03", "admin")
    db.commit()
    before = snapshot(db)
    with pytest.raises(F.FiguresError, match="方案中没有取自好差评数据的指标"):
        F.fill_from_figures(db, month, "admin", now=LATER)
    db.rollback()
    assert changed(before, snapshot(db)) == []


def test_enyang_scores_its_100_percent_from_the_figures(db):
    """Enyang's seed with its examples, 2021-H2: 文治街道 (no 主动评价率 item in the seed)
    rated 5 times in August and September with 5 cases served takes +2 (105.1 → 107.1);
    司城街道's own record of the seed stays; 渔溪镇's 75% waits for the office's points."""
    enyang = assessments.create_assessment(db, "恩阳", builtin="enyang", with_examples=True, actor="admin")
    db.commit()
    period = assessments.get_period(db, enyang, "2021-H2")
    people = {e.name: e for e in assessments.entities(db, enyang)}
    before = totals(db, enyang, period)
    for name, count, cases in (("文治街道", 5, 5), ("渔溪镇", 3, 4), ("司城街道", 2, 2)):
        code = codes.issue(db, actor="admin", entity_id=people[name].id)
        for n in range(count):
            rate(db, code, 5, AUGUST + timedelta(days=31 * (n % 2)), n)
        served(db, people[name], "2021-08", cases - cases // 2)
        served(db, people[name], "2021-09", cases // 2)
    db.commit()
    summary = F.fill_from_figures(db, period, "admin", now=LATER)
    db.commit()
    assert summary.written == 1 and ("司城街道", "主动评价率") in summary.kept
    assert summary.refused == [("渔溪镇", "主动评价率", "指标“主动评价率”的分值据实录入：请填写分值")]
    after = totals(db, enyang, period)
    assert (before["文治街道"], after["文治街道"]) == ("105.1", "107.1")
    assert {name: total for name, total in after.items() if name != "文治街道"} == {
        name: total for name, total in before.items() if name != "文治街道"}


# ---- the period page's button ------------------------------------------------------------------------------


def test_the_period_page_fills_and_refuses_a_closed_period(app, db, assessed):
    users.create_user(db, "admin", PASSWORD, Role.admin)
    users.create_user(db, "auditor", PASSWORD, Role.auditor)
    db.commit()
    assessment, period = assessed["assessment"], assessed["period"]
    path = f"/office/assessments/{assessment.id}/periods/2021-08"
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    page = html.unescape(text(client.get(path)))
    assert 'id="fill-figures-form"' in page and "指标“好评率”“差评”“主动评价率”“12345市级件”的数值取自好差评数据" in page
    response = client.post(f"{path}/figures")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{path}#records")
    shown = html.unescape(text(client.get(path)))
    assert "已从好差评数据取数：写入 6 条记录。" in shown and "好差评取数 · " in shown
    assert len(records(db, period)) == 6
    auditor = app.test_client()
    assert login(auditor, "auditor").status_code == 302
    assert 'id="fill-figures-form"' not in text(auditor.get(path))
    assert auditor.post(f"{path}/figures").status_code == 403

    assessments.close_period(db, assessment, period, "admin")
    db.commit()
    before = snapshot(db)
    response = client.post(f"{path}/figures")
    body = html.unescape(text(response))
    assert response.status_code == 409
    assert "期间 2021-08 已结束考核，不能从好差评取数：请先重新开启这一期。" in body
    assert 'id="fill-figures-form"' not in body
    assert changed(before, snapshot(db)) == []


def test_a_scheme_without_figures_shows_no_button(app, db):
    users.create_user(db, "admin", PASSWORD, Role.admin)
    genhe = assessments.create_assessment(db, "根河", builtin="genhe", actor="admin")
    assessments.open_period(db, genhe, "2023-03", "admin")
    db.commit()
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    assert 'id="fill-figures-form"' not in text(client.get(f"/office/assessments/{genhe.id}/periods/2023-03"))
