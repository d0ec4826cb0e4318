"""结果运用 without a database (scoring/consequences.py): every kind the rules list, for
each result, hand-worked; 考绩 points added up per unit; the 整改 deadline from the
publication day and the setting; the 复评 hook's three states; the places among the
满意单位 with the tie-break chain."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from scoring import columns as C
from scoring import consequences as Q
from scoring.settings import RuleSettings

SETTINGS = RuleSettings(top_bonus_tier=3, rectification_days=30)
PUBLISHED = date(2021, 12, 20)


def results() -> list[Q.SectionResult]:
    return [
        Q.SectionResult("甲局", "一科", C.SATISFIED, 1),
        Q.SectionResult("乙局", "一科", C.SATISFIED, 4),
        Q.SectionResult("乙局", "二科", C.UNSATISFIED),
        Q.SectionResult("丙局", "三科", C.MOST_UNSATISFIED),
    ]


def kinds(rows: list[Q.Consequence], unit: str, section: str | None) -> list[str]:
    return [r.kind for r in rows if r.unit == unit and r.section == section]


UNSATISFIED_KINDS = [Q.KAOJI, Q.BONUS_LOWEST, Q.NO_HONOURS, Q.CRITICISM, Q.RECTIFY, Q.TALK_HEAD, Q.REEVALUATION,
                     Q.FREEZE, Q.REASSIGN, Q.PARTY_TALK, Q.PARTY_NO_HONOURS]


def test_every_kind_of_each_result_in_the_rules_order():
    rows = Q.consequences(results(), {("乙局", "二科")}, SETTINGS, year=2021, published=PUBLISHED)
    assert kinds(rows, "甲局", "一科") == [Q.KAOJI, Q.BONUS_UP, Q.BONUS_EXCELLENT]
    assert kinds(rows, "甲局", None) == [Q.PARTY_SCORE]
    assert kinds(rows, "乙局", "一科") == [Q.KAOJI, Q.BONUS_UP]  # 4th: not in the top 3
    # Unsatisfied last year too: the 组织处理 after 约谈.
    assert kinds(rows, "乙局", "二科") == [*UNSATISFIED_KINDS[:6], Q.REMOVAL, *UNSATISFIED_KINDS[6:]]
    assert kinds(rows, "丙局", "三科") == [
        Q.KAOJI, Q.BONUS_LOWEST, Q.LEADER_BONUS, Q.NO_HONOURS, Q.CRITICISM, Q.RECTIFY, Q.TALK_HEAD, Q.STATEMENT,
        Q.TALK_LEADERS, Q.REEVALUATION, Q.FREEZE, Q.REASSIGN, Q.PARTY_TALK, Q.PARTY_NO_HONOURS]
    # Units in the order of their first section, each unit's own row after its sections'.
    assert [r.unit for r in rows] == ["甲局"] * 4 + ["乙局"] * (2 + 12 + 1) + ["丙局"] * 15
    assert len({r.key for r in rows}) == len(rows)


def test_points_parties_and_time_limits():
    rows = Q.consequences(results(), set(), SETTINGS, year=2021, published=PUBLISHED)
    by = {(r.unit, r.section, r.kind): r for r in rows}
    assert [(r.unit, r.section, r.points) for r in rows if r.points is not None] == [
        ("甲局", "一科", 5.0), ("乙局", "一科", 5.0), ("乙局", "二科", -5.0), ("丙局", "三科", -10.0)]
    assert Q.unit_points(rows) == {"甲局": 5.0, "乙局": 0.0, "丙局": -10.0}
    assert by[("丙局", "三科", Q.KAOJI)].text == "所在机关单位（含国有企业）年度考绩减10分（不再另减分）"
    assert by[("甲局", "一科", Q.KAOJI)].text == "所在机关单位（含国有企业）年度考绩加5分"
    assert by[("甲局", "一科", Q.BONUS_EXCELLENT)].note == "满意单位第 1 名（前 3 名）"
    rectify = by[("乙局", "二科", Q.RECTIFY)]
    assert (rectify.deadline, rectify.time_limit, rectify.party) == (date(2022, 1, 19), "2022年1月19日前", Q.UNIT)
    assert by[("丙局", "三科", Q.STATEMENT)].time_limit == "2022年春节后全县干部大会"
    assert by[("乙局", "二科", Q.REEVALUATION)].time_limit == "2022年6月"
    assert by[("乙局", "二科", Q.CRITICISM)].party == "县委、县政府"
    assert by[("丙局", "三科", Q.TALK_LEADERS)].party == "组织部门（按干部管理权限）"
    assert by[("丙局", "三科", Q.PARTY_TALK)].party == by[("丙局", "三科", Q.PARTY_NO_HONOURS)].party == "机关工委"
    assert by[("乙局", None, Q.PARTY_SCORE)].note == "满意单位科室 1 个、不满意单位科室 1 个"
    assert by[("丙局", None, Q.PARTY_SCORE)].note == "不满意单位科室 1 个"
    # The settings' numbers, not the defaults'.
    other = RuleSettings(effect_satisfied=3.0, effect_most_unsatisfied=-8.0, top_bonus_tier=1, rectification_days=10)
    again = Q.consequences(results(), set(), other, year=2021, published=PUBLISHED)
    assert Q.unit_points(again) == {"甲局": 3.0, "乙局": -2.0, "丙局": -8.0}
    assert [r.deadline for r in again if r.kind == Q.RECTIFY] == [date(2021, 12, 30)] * 2
    assert [(r.unit, r.section) for r in again if r.kind == Q.BONUS_EXCELLENT] == [("甲局", "一科")]


@pytest.mark.parametrize("outcome, freeze, reassign", [
    (None, Q.APPLIES, Q.PENDING),
    (True, Q.LIFTED, Q.LIFTED),
    (False, Q.APPLIES, Q.APPLIES),
])
def test_the_reevaluation_hook(outcome, freeze, reassign):
    rows = Q.consequences(results(), set(), SETTINGS, year=2021, published=PUBLISHED,
                          reevaluation={("乙局", "二科"): outcome})
    by = {(r.section, r.kind): r for r in rows if r.unit == "乙局"}
    assert (by[("二科", Q.FREEZE)].status, by[("二科", Q.REASSIGN)].status) == (freeze, reassign)
    # The other 不满意单位 has no outcome: not held yet.
    other = {r.kind: r for r in rows if r.unit == "丙局"}
    assert (other[Q.FREEZE].status, other[Q.REASSIGN].status) == (Q.APPLIES, Q.PENDING)
    assert other[Q.REASSIGN].status_label == "待复评结果"


def test_an_unknown_result_is_refused():
    with pytest.raises(ValueError, match="未知的评议结果"):
        Q.consequences([Q.SectionResult("甲局", "一科", "excellent")], set(), SETTINGS, year=2021, published=PUBLISHED)


def test_places_among_the_satisfied_follow_the_chain():
    frame = pd.DataFrame([
        # unit, section, result, total, service, inspection, platform
        ("甲局", "一科", C.SATISFIED, 95.0, 50.0, 20.0, 10.0),
        ("甲局", "二科", C.SATISFIED, 93.0, 49.0, 20.0, 10.0),
        ("乙局", "一科", C.SATISFIED, 93.0, 48.0, 20.0, 10.0),  # equal total, lower service: 3rd
        ("乙局", "二科", C.SATISFIED, 90.0, 45.0, 20.0, 10.0),
        ("丙局", "一科", C.SATISFIED, 90.0, 45.0, 20.0, 10.0),  # the whole chain equal: both 4th
        ("丙局", "二科", C.UNSATISFIED, 60.0, 30.0, 20.0, 10.0),
    ], columns=[C.UNIT, C.SECTION, C.RESULT, C.TOTAL, C.SERVICE, C.INSPECTION, C.PLATFORM_SCORE])
    assert Q.satisfied_ranks(frame, SETTINGS) == {
        ("甲局", "一科"): 1, ("甲局", "二科"): 2, ("乙局", "一科"): 3, ("乙局", "二科"): 4, ("丙局", "一科"): 4}
    assert Q.satisfied_ranks(frame[frame[C.RESULT] != C.SATISFIED], SETTINGS) == {}


def test_numbers_as_written():
    assert [Q.points_text(v) for v in (5.0, -10.0, 0.0, 2.5)] == ["加5分", "减10分", "不加减分", "加2.5分"]
    assert [Q.signed(v) for v in (5.0, -5.0, 0.0)] == ["+5", "−5", "0"]
