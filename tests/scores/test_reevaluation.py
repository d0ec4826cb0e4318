"""复评 (scoring/reevaluation.py, voting/scores/reevaluation.py; docs/rules.md §2.19), on
SQLite and PostgreSQL: last year's 不满意单位 re-evaluated in June by a survey round of
their own (RoundKind.R), judged against last year's mean, their marks on the pages,
and last year's consequences reading the outcome.

The two years, hand-worked. Both campaigns have 甲局 and 乙局, each with 一科 and 二科.
2021's votes (imported counts, the same in H1 and H2):

    甲局 一科  30 满意 10 基本满意        rate (30 + 6) ÷ 40 = 0.90   round score 22.5
    甲局 二科  20 满意 20 不满意          rate 20 ÷ 40 = 0.50          12.5
    乙局 一科  40 满意                    rate 1.00                    25
    乙局 二科  24 满意 8 基本满意 8 不满意 rate (24 + 4.8) ÷ 40 = 0.72 18

so each round's mean is (22.5 + 12.5 + 25 + 18) ÷ 4 = 19.5, and the default pass rate
is (19.5 + 19.5) ÷ 2 ÷ 25 × 100 = 78.

2021's results (the history 2022 holds): 甲局 二科 不满意单位, 乙局 二科 最不满意单位.
2022's 复评 (R), 10 invitations each:

    甲局 二科  8 满意 2 基本满意   (8 + 1.2) ÷ 10 × 100 = 92   ≥ 78: 复评合格
    乙局 二科  5 满意 5 不满意     5 ÷ 10 × 100 = 50           < 78: 复评仍不满意
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from scoring import columns as C
from scoring import reevaluation as R
from scoring.settings import RuleSettings
from sms.tokens import LinkTokens
from tests.conftest import PASSWORD, login
from tests.support.web import text
from voting.components.models import VoteCount
from voting.core.errors import DomainError
from voting.demo.campaign import synth_objects
from voting.lists import campaigns, objects
from voting.lists.models import HistoryResult, Result, RoundKind, Section, Unit
from voting.outbox.models import OutboxMessage
from voting.scores import reevaluation, scorecards
from voting.staff import users
from voting.staff.models import Role
from voting.survey import rounds
from voting.survey.models import Channel, Choice, Invitation, RoundStatus
from voting.survey.rounds import Wording
from voting.survey.votes import cast_vote

NOW = datetime.now(timezone.utc).replace(microsecond=0)
CLOSES = NOW + timedelta(days=20)
WORDING = Wording(sign="平阳县评议办", link_base="https://p.example.cn", code_address="p.example.cn/c")
TOKENS = LinkTokens("test secret")
COUNTS_2021 = {("甲局", "一科"): (30, 10, 0), ("甲局", "二科"): (20, 0, 20), ("乙局", "一科"): (40, 0, 0),
               ("乙局", "二科"): (24, 8, 8)}
RESULTS_2021 = {("甲局", "二科"): Result.unsatisfied, ("乙局", "二科"): Result.most_unsatisfied}
REEVAL_VOTES = {("甲局", "二科"): [Choice.satisfied] * 8 + [Choice.basic] * 2,
                ("乙局", "二科"): [Choice.satisfied] * 5 + [Choice.unsatisfied] * 5}


def make_year(db, year: int, settings: RuleSettings | None = None) -> tuple:
    campaign = campaigns.create_campaign(db, year, settings=settings)
    ids = {}
    for n, unit_name in enumerate(("甲局", "乙局"), start=1):
        unit = Unit(campaign_id=campaign.id, number=n, name=unit_name)
        db.add(unit)
        db.flush()
        for m, section_name in enumerate(("一科", "二科"), start=1):
            section = Section(unit_id=unit.id, number=m, name=section_name)
            db.add(section)
            db.flush()
            ids[(unit_name, section_name)] = section.id
    return campaign, ids


@pytest.fixture
def years(db):
    """2021 with its votes, 2021's results in the history, 2022 with the 复评 set up
    and its lists in."""
    first, first_ids = make_year(db, 2021)
    for key, (s, b, u) in COUNTS_2021.items():
        db.add_all(VoteCount(section_id=first_ids[key], round=r, satisfied=s, basic=b, unsatisfied=u)
                   for r in (C.H1, C.H2))
    db.add_all(HistoryResult(year=2021, unit_name=u, section_name=s, result=r) for (u, s), r in RESULTS_2021.items())
    second, second_ids = make_year(db, 2022)
    db.commit()
    return first, second, second_ids


def upload(db, campaign, key: tuple[str, str], count: int, seed: int = 1):
    frame = synth_objects(random.Random(seed), count, 0)
    frame.insert(0, "科室", key[1])
    frame.insert(0, "单位名称", key[0])
    return objects.import_objects(db, campaign, RoundKind.R, frame.to_csv(index=False).encode(), "复评名单.csv")


def run_reevaluation(db, campaign, ids, *, close: bool = True):
    """The R round: set up, lists for the two sections, opened, the votes above, closed."""
    survey = rounds.create_round(db, campaign, RoundKind.R, CLOSES, 10, seed=5, now=NOW)
    for n, key in enumerate(REEVAL_VOTES, start=1):
        upload(db, campaign, key, 10, seed=n)
    summary = rounds.open_round(db, campaign, survey, TOKENS, WORDING, now=NOW)
    db.commit()
    assert summary.sections == 2 and summary.invitations == 20 and summary.without_list == []
    for key, choices in REEVAL_VOTES.items():
        invitations = db.query(Invitation).filter_by(round_id=survey.id, section_id=ids[key]).order_by(Invitation.id)
        for invitation, choice in zip(invitations, choices, strict=True):
            cast_vote(db, invitation.id, choice, Channel.link, now=NOW + timedelta(hours=1))
    db.commit()
    if close:
        rounds.close_round(db, survey, NOW + timedelta(days=1))
        db.commit()
    return survey


def test_the_default_pass_rate_is_last_years_mean(db, years):
    first, _, _ = years
    card = scorecards.campaign_scorecard(db, first)
    assert card.round_means[C.H1] == pytest.approx(19.5) and card.round_means[C.H2] == pytest.approx(19.5)
    assert R.default_pass_rate(card.round_means, card.settings) == pytest.approx(78.0)
    assert R.default_pass_rate({C.H1: float("nan"), C.H2: float("nan")}, card.settings) is None


def test_the_reevaluation_surveys_last_years_unsatisfied_alone(db, years):
    first, second, ids = years
    # Only last year's 不满意单位 take a 复评 list; another section's is refused, nothing stored.
    with pytest.raises(DomainError, match="复评只调查上年不满意单位.*甲局 一科"):
        upload(db, second, ("甲局", "一科"), 5)
    db.rollback()
    survey = run_reevaluation(db, second, ids, close=False)
    assert survey.status is RoundStatus.open
    invited = {i.section_id for i in db.query(Invitation).filter_by(round_id=survey.id)}
    assert invited == {ids[("甲局", "二科")], ids[("乙局", "二科")]}
    # The SMS asks about the first half of the year the 复评 is held in.
    sent = [m.text for m in db.query(OutboxMessage)]
    assert len(sent) == 20 and all("您2022年上半年在" in t and "二科" in t for t in sent)
    found = reevaluation.reevaluation(db, second, scorecards.campaign_scorecard(db, first))
    # Open: the rates are there, no outcome yet, both still marked 整改未合格.
    assert [(r.outcome.unit, r.outcome.section, r.outcome.rate, r.outcome.outcome) for r in found.rows] == [
        ("甲局", "二科", pytest.approx(92.0), R.WAITING), ("乙局", "二科", pytest.approx(50.0), R.WAITING)]
    assert found.marks(ids[("甲局", "二科")]) == [R.NOT_RECTIFIED]
    # The 复评's votes are not the year's: 2022's service-object scores have no vote at all.
    card = scorecards.campaign_scorecard(db, second)
    assert all(v != v for v in card.round_means.values())  # NaN: no vote in H1 or H2


def test_outcomes_marks_and_last_years_consequences(db, years):
    first, second, ids = years
    run_reevaluation(db, second, ids)
    first_card = scorecards.campaign_scorecard(db, first)
    found = reevaluation.reevaluation(db, second, first_card)
    assert found.threshold == pytest.approx(78.0) and not found.from_setting and found.decided
    by_section = {(r.outcome.unit, r.outcome.section): r.outcome for r in found.rows}
    passed, failed = by_section[("甲局", "二科")], by_section[("乙局", "二科")]
    assert (passed.satisfied, passed.basic, passed.unsatisfied, passed.votes) == (8, 2, 0, 10)
    assert (passed.outcome, passed.marks) == (R.PASSED, [])
    assert (failed.outcome, failed.marks) == (R.FAILED, [R.NOT_RECTIFIED, R.STILL_UNSATISFIED])
    assert found.marks(ids[("甲局", "一科")]) == []
    # Last year's consequences read them by name.
    assert reevaluation.outcomes_of_year(db, first, first_card) == {("甲局", "二科"): True, ("乙局", "二科"): False}


def test_a_pass_rate_set_by_the_county(db, years):
    first, second, ids = years
    campaigns.change_settings(db, second, {"reeval_pass_rate": "95"})
    run_reevaluation(db, second, ids)
    found = reevaluation.reevaluation(db, second, scorecards.campaign_scorecard(db, first))
    assert found.threshold == 95.0 and found.from_setting
    assert [r.outcome.outcome for r in found.rows] == [R.FAILED, R.FAILED]
    with pytest.raises(DomainError, match="reeval_pass_rate"):
        campaigns.change_settings(db, second, {"reeval_pass_rate": "150"})
    campaigns.change_settings(db, second, {"reeval_pass_rate": ""})  # back to last year's mean
    assert second.rules.reeval_pass_rate is None


def test_a_section_without_votes_has_no_outcome():
    rows = R.outcomes([("甲局", "二科")], {}, 78.0, True, RuleSettings())
    assert (rows[0].rate, rows[0].outcome, rows[0].passed, rows[0].marks) == (None, R.NO_VOTES, None, [R.NOT_RECTIFIED])
    # Exactly at the pass rate passes (rounded to 6 decimals, as ranks are).
    at = R.outcomes([("甲局", "二科")], {("甲局", "二科"): (3, 1, 1)}, 72.0, True, RuleSettings())
    assert at[0].rate == pytest.approx(72.0) and at[0].outcome == R.PASSED


def test_no_reevaluation_without_last_years_unsatisfied(db):
    campaign, _ = make_year(db, 2021)
    with pytest.raises(DomainError, match="没有上年不满意单位"):
        rounds.create_round(db, campaign, RoundKind.R, CLOSES, 10, now=NOW)


def test_the_pages(client, db, years):
    first, second, ids = years
    run_reevaluation(db, second, ids)
    users.create_user(db, "admin", PASSWORD, Role.admin)
    users.create_user(db, "liaison", PASSWORD, Role.liaison, db.get(Section, ids[("甲局", "二科")]).unit)
    db.commit()
    assert login(client, "admin").status_code == 302
    page = client.get("/office/scores/reevaluation")
    assert page.status_code == 200
    shown = text(page)
    assert "78.00" in shown and "92.00" in shown and "50.00" in shown
    assert "复评合格" in shown and "复评仍不满意" in shown and "整改未合格" in shown
    section_page = text(client.get(f"/office/scores/sections/{ids[('乙局', '二科')]}"))
    assert "整改未合格" in section_page and "复评仍不满意" in section_page
    assert "整改未合格" not in text(client.get(f"/office/scores/sections/{ids[('甲局', '二科')]}"))
    listed = text(client.get("/office/sections?status=unsatisfied"))
    assert listed.count("整改未合格") == 1 and listed.count("复评仍不满意") == 1
    client.post("/logout")
    assert login(client, "liaison").status_code == 302
    assert client.get("/office/scores/reevaluation").status_code == 403


def test_the_office_sets_up_the_reevaluation_on_the_rounds_page(client, db, years):
    first, second, ids = years
    users.create_user(db, "admin", PASSWORD, Role.admin)
    db.commit()
    assert login(client, "admin").status_code == 302
    form = {"kind": "R", "closes_at": "2099-06-30T18:00", "sample_size": "10", "mode": "link",
            "reminder_after_hours": "48"}
    # The lists page asks for R lists from last year's two 不满意单位 only.
    assert "<b>0 / 2</b>R 复评名单已报送" in text(client.get("/office/"))
    created = client.post("/office/rounds/", data=form)
    assert created.status_code == 303
    page = text(client.get(created.headers["Location"]))
    assert "2022 年上年不满意单位复评" in page and "甲局" in page and "乙局" in page
    upload(db, second, ("甲局", "二科"), 10)
    db.commit()
    readiness = text(client.post(created.headers["Location"] + "/open"))
    assert "向 1 个科室的服务对象写入 10 条邀请短信" in readiness  # 乙局 二科 has no list yet
