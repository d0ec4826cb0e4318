"""A simulated year with planted faults, followed by the next June's 复评, on SQLite and
PostgreSQL: the rest of Pingyang's rules together (docs/rules.md §2.7, §2.16, §2.19,
§3.10, §3.11). Every figure below is worked by hand.

**2021.** Three units, 甲局 (一科, 二科), 乙局 (一科, 二科), 丙局 (一科, 二科); settings for
a small county: 2 满意候选, 2 不满意候选, 1 满意单位, 2 不满意单位 of which 1 最不满意单位,
1 section in the 优秀 tier. Faults planted:

- 乙局's liaison (附件5, 13811112222) is in 乙局 一科's H1 list (row 22);
- 甲局 二科's H1 list is its 2020 list (20 of 20 numbers);
- 12 web votes of 丙局 一科 (all 满意) from 203.0.113.0/24 within 5 minutes;
- in August the office finds 丙局 三科 missing from the list (应报未报): it is added, and
  丙局's three sections lose 1 inspection point each (19 of 20).

Every other list has its own numbers, ten apart, and distinct names: nothing else is
flagged.

Votes (S 满意, B 基本满意, U 不满意), the same in H1 and H2 (丙局 一科's H1: 22 S 6 B imported
plus the 12 web votes; 丙局 三科 only in H2, its H1 takes the round's mean):

    section  votes          rate   round   supervisor  inspection  daily
    甲局 一科  40 S           1.00   25      5.0         20          50 + 10 + 5.0 + 20 = 85
    甲局 二科  36 S 4 B       0.96   24      4.0         20          48 + 10 + 4.0 + 20 = 82
    乙局 一科  38 S 2 U       0.95   23.75   4.4         20          47.5 + 10 + 4.4 + 20 = 81.9
    乙局 二科  30 S 10 U      0.75   18.75   3.0         20          37.5 + 10 + 3.0 + 20 = 70.5
    丙局 一科  34 S 6 B       0.94   23.5    3.5         19          47 + 10 + 3.5 + 19 = 79.5
    丙局 二科  28 S 4 B 8 U   0.76   19      3.2         19          38 + 10 + 3.2 + 19 = 70.2
    丙局 三科  (H2) 32 S 8 B  0.92   23      4.0         19          H1 mean 22.3333 + 23 + 10 + 4 + 19 = 78.3333

The platforms have no event (10 points). H1's mean is (25 + 24 + 23.75 + 18.75 + 23.5 + 19)
÷ 6 = 22.3333; H2's (the same + 23) ÷ 7 = 22.428571. Candidates: 甲局 一科 and 甲局 二科
(the two best), 丙局 二科 and 乙局 二科 (the two worst). Online votes of 10: 甲一 8 → 12
(total 97), 甲二 6 → 9 (91), 乙二 4 → 6 (76.5), 丙二 2 → 3 (73.2). Lists: 甲局 一科 满意单位
(优秀档); 乙局 二科 不满意单位; 丙局 二科 最不满意单位.

**2022, June.** The office imports 2021's results as history; the 复评 round R surveys 乙局
二科 and 丙局 二科 alone. Pass rate: (22.3333 + 22.428571) ÷ 2 ÷ 25 × 100 = 89.52381.
乙局 二科: 8 S 2 B → 92 (合格); 丙局 二科: 5 S 5 U → 50 (复评仍不满意). So 2021's
consequences: 乙局 二科's promotion freeze lifted and no 刚性调整; 丙局 二科's 刚性调整 due.
"""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

import pytest
from docx import Document
from sqlalchemy import select

from scoring import columns as C
from scoring import consequences as Q
from scoring import reevaluation as R
from scoring.settings import RuleSettings
from sms.tokens import LinkTokens
from tests.conftest import PASSWORD, login
from tests.integrity.support import _list
from tests.support.web import text
from voting.commitments.models import StaffContact, StaffRole
from voting.components import deductions
from voting.components.models import SupervisorScore, VoteCount
from voting.core.vault import vault_of
from voting.integrity import integrity
from voting.integrity.models import IntegrityFlag
from voting.lists import campaigns, objects
from voting.lists.models import Campaign, HistoryResult, Result, RoundKind, Section, Unit
from voting.online.models import OnlineRound
from voting.scores import consequences, reevaluation, scorecards
from voting.staff import users
from voting.staff.models import Role
from voting.survey import rounds
from voting.survey.models import Channel, Choice, Invitation, RoundStatus, SurveyRound, Vote
from voting.survey.rounds import Wording
from voting.survey.votes import cast_vote, vote_network

SETTINGS = RuleSettings(shortlist_satisfied=2, shortlist_unsatisfied=2, final_satisfied=1, final_unsatisfied=2,
                        final_most_unsatisfied=1, top_bonus_tier=1)
SECTIONS = {("甲局", "一科"): 5.0, ("甲局", "二科"): 4.0, ("乙局", "一科"): 4.4, ("乙局", "二科"): 3.0,
            ("丙局", "一科"): 3.5, ("丙局", "二科"): 3.2}
LATE = ("丙局", "三科")
VOTES = {("甲局", "一科"): (40, 0, 0), ("甲局", "二科"): (36, 4, 0), ("乙局", "一科"): (38, 0, 2),
         ("乙局", "二科"): (30, 0, 10), ("丙局", "一科"): (34, 6, 0), ("丙局", "二科"): (28, 4, 8)}
BURST = ("丙局", "一科")
NET = {("甲局", "一科"): 8, ("甲局", "二科"): 6, ("乙局", "二科"): 4, ("丙局", "二科"): 2}
STAFF_PHONE = "13811112222"
T0 = datetime(2021, 6, 1, 1, 0, tzinfo=timezone.utc)
PUBLISHED_AT = datetime(2021, 12, 10, 2, 0, tzinfo=timezone.utc)
JUNE = datetime(2022, 6, 1, 1, 0, tzinfo=timezone.utc)
REEVAL = {("乙局", "二科"): [Choice.satisfied] * 8 + [Choice.basic] * 2,
          ("丙局", "二科"): [Choice.satisfied] * 5 + [Choice.unsatisfied] * 5}


def make_campaign(db, year: int, settings: RuleSettings | None = None, late: bool = False) -> tuple[Campaign, dict]:
    campaign = campaigns.create_campaign(db, year, settings=settings)
    ids: dict[tuple[str, str], Section] = {}
    for n, unit_name in enumerate(("甲局", "乙局", "丙局"), start=1):
        unit = Unit(campaign_id=campaign.id, number=n, name=unit_name)
        db.add(unit)
        db.flush()
        names = [s for u, s in SECTIONS if u == unit_name] + ([LATE[1]] if late and unit_name == LATE[0] else [])
        for m, name in enumerate(names, start=1):
            ids[(unit_name, name)] = Section(unit_id=unit.id, number=m, name=name)
            db.add(ids[(unit_name, name)])
    db.flush()
    return campaign, ids


def phones(index: int, count: int = 20) -> list[tuple[str, str]]:
    """A list of its own: numbers ten apart, distinct names."""
    return [(f"居民{index}-{i}", f"139{index:02d}00{10 * i:04d}") for i in range(count)]


@pytest.fixture
def year_2021(db):
    earlier, old = make_campaign(db, 2020)
    _list(db, earlier, old[("甲局", "二科")], phones(2))
    campaign, sections = make_campaign(db, 2021, SETTINGS)
    lists = {key: phones(index) for index, key in enumerate(SECTIONS, start=11)}
    lists[("甲局", "二科")] = phones(2)  # 2020's list again
    lists[("乙局", "一科")] = lists[("乙局", "一科")] + [("李联络", STAFF_PHONE)]  # row 22
    listed = {key: _list(db, campaign, sections[key], rows) for key, rows in lists.items()}
    unit_b = sections[("乙局", "一科")].unit_id
    db.add(StaffContact(unit_id=unit_b, role=StaffRole.liaison, name="李联络", phone=STAFF_PHONE))
    # The H1 round, with 丙局 一科's 12 web votes from one /24 in five minutes.
    survey = SurveyRound(campaign_id=campaign.id, kind=RoundKind.H1, status=RoundStatus.closed, sample_size=20,
                         seed=1, closes_at=T0 + timedelta(days=20), opened_at=T0, closed_at=T0 + timedelta(days=20))
    db.add(survey)
    db.flush()
    vault = vault_of(db)
    for i, target in enumerate(listed[BURST][:12]):
        invitation = Invitation(round_id=survey.id, section_id=target.section_id, service_object_id=target.id,
                                phone=target.phone, nonce=f"{target.id:032d}")
        db.add(invitation)
        db.flush()
        db.add(Vote(invitation_id=invitation.id, round_id=survey.id, section_id=target.section_id,
                    choice=Choice.satisfied, channel=Channel.link, network=vote_network(vault, f"203.0.113.{10 + i}"),
                    created_at=T0 + timedelta(seconds=25 * i)))
    for key, (s, b, u) in VOTES.items():
        section_id = sections[key].id
        db.add(SupervisorScore(section_id=section_id, score=SECTIONS[key]))
        h1 = (s - 12, b, u) if key == BURST else (s, b, u)
        db.add(VoteCount(section_id=section_id, round=C.H1, satisfied=h1[0], basic=h1[1], unsatisfied=h1[2]))
        db.add(VoteCount(section_id=section_id, round=C.H2, satisfied=s, basic=b, unsatisfied=u))
        if key in NET:
            db.add(VoteCount(section_id=section_id, round=C.NET, satisfied=NET[key], basic=0, unsatisfied=10 - NET[key]))
    db.commit()
    # August: 丙局 三科 found missing.
    late, events = deductions.add_unreported(
        db, campaign, sections[("丙局", "一科")].unit_id, "三科", False, "2021-08-16",
        "县政务服务中心窗口核查时发现该科室承担行政许可事项而未列入名单", None, today=date(2021, 8, 16), actor="admin")
    db.add(SupervisorScore(section_id=late.id, score=4.0))
    db.add(VoteCount(section_id=late.id, round=C.H2, satisfied=32, basic=8, unsatisfied=0))
    online = OnlineRound(campaign_id=campaign.id, status=RoundStatus.closed, seed=1, closes_at=PUBLISHED_AT,
                         opened_at=PUBLISHED_AT - timedelta(days=7), closed_at=PUBLISHED_AT - timedelta(hours=1))
    db.add(online)
    db.flush()
    scorecards.publish(db, online, actor="admin", now=PUBLISHED_AT)
    db.commit()
    return campaign, {**{key: s.id for key, s in sections.items()}, LATE: late.id}, len(events)


def by_section(card) -> dict[tuple[str, str], dict]:
    return {(r[C.UNIT], r[C.SECTION]): r for r in card.sections.to_dict("records")}


def test_the_year_2021_scored_with_the_late_section(db, year_2021):
    campaign, ids, deducted = year_2021
    assert deducted == 3  # 丙局's two sections and the late one
    rows = by_section(scorecards.campaign_scorecard(db, campaign))
    assert {key: round(r[C.INSPECTION], 6) for key, r in rows.items()} == {
        **{key: 20.0 for key in SECTIONS if key[0] != "丙局"}, ("丙局", "一科"): 19.0, ("丙局", "二科"): 19.0, LATE: 19.0}
    assert {key: round(r[C.DAILY], 4) for key, r in rows.items()} == {
        ("甲局", "一科"): 85.0, ("甲局", "二科"): 82.0, ("乙局", "一科"): 81.9, ("乙局", "二科"): 70.5,
        ("丙局", "一科"): 79.5, ("丙局", "二科"): 70.2, LATE: 78.3333}
    assert {key: r[C.RESULT] for key, r in rows.items() if isinstance(r[C.RESULT], str)} == {
        ("甲局", "一科"): C.SATISFIED, ("乙局", "二科"): C.UNSATISFIED, ("丙局", "二科"): C.MOST_UNSATISFIED}


def test_each_planted_fault_is_flagged_and_nothing_else(db, year_2021):
    campaign, ids, _ = year_2021
    integrity.run_checks(db, campaign, actor="admin")
    db.commit()
    found = {(f.section_id, f.round.value, f.kind.value): f.evidence for f in db.scalars(select(IntegrityFlag))}
    assert set(found) == {(ids[("乙局", "一科")], "H1", "staff_phone"), (ids[("甲局", "二科")], "H1", "copied_list"),
                          (ids[BURST], "H1", "answer_burst")}
    assert found[(ids[("乙局", "一科")], "H1", "staff_phone")]["items"] == [
        {"phone": "138****2222", "row": 22, "role": "联络员"}]
    assert found[(ids[("甲局", "二科")], "H1", "copied_list")]["shared"] == 20
    assert found[(ids[BURST], "H1", "answer_burst")]["votes"] == 12


def reevaluate(db, year_2022: Campaign, sections: dict) -> SurveyRound:
    """June 2022: the R round on last year's two 不满意单位, their lists, the votes above."""
    survey = rounds.create_round(db, year_2022, RoundKind.R, JUNE + timedelta(days=20), 10, seed=3, now=JUNE)
    for index, key in enumerate(REEVAL, start=31):
        frame = "单位名称,科室,姓名,单位(职务),手机号码,事项内容(处罚类案件名称),是否处罚对象\n" + "".join(
            f"{key[0]},{key[1]},{name},,{phone},办理业务,否\n" for name, phone in phones(index, 10))
        objects.import_objects(db, year_2022, RoundKind.R, frame.encode(), "复评名单.csv")
    wording = Wording(sign="平阳县评议办", link_base="https://p.example.cn", code_address="p.example.cn/c")
    rounds.open_round(db, year_2022, survey, LinkTokens("test secret"), wording, now=JUNE)
    db.commit()
    for key, choices in REEVAL.items():
        invited = db.scalars(select(Invitation).where(Invitation.round_id == survey.id,
                                                      Invitation.section_id == sections[key].id).order_by(Invitation.id))
        for invitation, choice in zip(invited, choices, strict=True):
            cast_vote(db, invitation.id, choice, Channel.link, now=JUNE + timedelta(hours=2))
    db.commit()
    rounds.close_round(db, survey, JUNE + timedelta(days=1))
    db.commit()
    return survey


def test_next_junes_reevaluation_and_what_it_moves(app, db, year_2021):
    campaign, _, _ = year_2021
    card = scorecards.campaign_scorecard(db, campaign)
    for (unit, section), result in ((("乙局", "二科"), Result.unsatisfied), (("丙局", "二科"), Result.most_unsatisfied)):
        db.add(HistoryResult(year=2021, unit_name=unit, section_name=section, result=result))
    year_2022, sections = make_campaign(db, 2022, late=True)
    db.commit()
    reevaluate(db, year_2022, sections)
    found = reevaluation.reevaluation(db, year_2022, card)
    assert found.threshold == pytest.approx(89.52381, abs=1e-5)
    assert [(r.outcome.unit, r.outcome.section, round(r.outcome.rate, 6), r.outcome.outcome, r.outcome.marks)
            for r in found.rows] == [("乙局", "二科", 92.0, R.PASSED, []),
                                     ("丙局", "二科", 50.0, R.FAILED, [R.NOT_RECTIFIED, R.STILL_UNSATISFIED])]
    # 2021's consequences follow the outcomes.
    with app.app_context():
        final = consequences.final_results(db, campaign, card, "Asia/Shanghai")
    by_unit = {unit.name: {(row.kind): (row.note, row.status) for row in unit.rows if row.section == "二科"}
               for unit in final.units}
    assert by_unit["乙局"][Q.FREEZE] == ("复评整改合格，限制解除", Q.LIFTED)
    assert by_unit["乙局"][Q.REASSIGN][1] == Q.LIFTED
    assert by_unit["丙局"][Q.FREEZE] == ("复评仍为不满意，限制继续有效", Q.APPLIES)
    assert by_unit["丙局"][Q.REASSIGN][1] == Q.APPLIES
    notice = Document(io.BytesIO(consequences.notices_docx(final, [final.unit(final.unit_id_of("丙局"))], "平阳县千人评议办",
                                                           date(2022, 6, 5))))
    words = "\n".join([p.text for p in notice.paragraphs]
                      + [cell.text for table in notice.tables for row in table.rows for cell in row.cells])
    assert "复评仍为不满意" in words and "乙局" not in words


def test_liaisons_see_their_own_unit_and_no_ones_identity(client, db, year_2021):
    campaign, ids, _ = year_2021
    unit_b = db.get(Section, ids[("乙局", "一科")]).unit
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit_b)
    db.commit()
    assert login(client, "liaison").status_code == 302
    own = text(client.get("/office/unit-consequences/"))
    assert "乙局" in own and "丙局" not in own and "甲局" not in own
    for path in ("/office/integrity/", "/office/scores/reevaluation", "/office/scores/consequences/",
                 f"/office/sections/{ids[('丙局', '二科')]}/H1"):
        assert client.get(path).status_code in (403, 404), path
    listed = text(client.get(f"/office/sections/{ids[('乙局', '一科')]}/H1"))
    assert "138****2222" in listed and STAFF_PHONE not in listed
