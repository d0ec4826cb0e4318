"""Every scoring rule of docs/rules.md §2, table by table, with the numbers worked by
hand.

No app, no database: frames in, a Scorecard out.
"""
from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd
import pytest

from scoring import columns as C
from scoring.engine import InputError, score_year
from scoring.ranking import split_shortlist
from scoring.rounding import competition_rank, display, display_text
from scoring.settings import PINGYANG_2021, RuleSettings
from scoring.supervisor import tier_bounds, tier_problems
from scoring.votes import round_scores, tally
from tests.support.scoring_inputs import check_formulas, listed, names, row, year
from voting.demo.synthetic import pingyang_sections, synthetic_year

S = PINGYANG_2021
KEYS = names(6)
A, B, Cc, D, E, F = KEYS


def score(inputs, settings=S):
    return score_year(inputs, settings)


# ---- 服务对象评价 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "counts, expected",
    [
        ((30, 10, 10), 18.0),  # (30 + 6) / 50 = 0.72 → 0.72 × 25
        ((40, 0, 0), 25.0),
        ((0, 0, 40), 0.0),
        ((0, 50, 0), 15.0),  # 0.6 × 25
        ((13, 7, 10), 14.333333333333334),  # (13 + 4.2) / 30 × 25
    ],
)
def test_round_score_is_rate_times_25(counts, expected):
    frame = pd.DataFrame([counts], columns=[C.VOTES_S, C.VOTES_B, C.VOTES_U])
    result, mean = round_scores(frame, S)
    assert result["score"].iloc[0] == pytest.approx(expected)
    assert not result["blended"].iloc[0]
    assert mean == pytest.approx(expected)


def test_sub_30_blending_and_zero_votes_worked_by_hand():
    # A 40 votes all 满意: 25. B 40 votes (20, 10, 10): 26/40 × 25 = 16.25.
    # C 10 votes all 满意: own 25, blended. D no votes.
    # mean = (25 + 16.25 + 25) / 3 = 22.083333…  (D does not count, blended C counts unblended)
    frame = pd.DataFrame(
        [(40, 0, 0), (20, 10, 10), (10, 0, 0), (0, 0, 0)], columns=[C.VOTES_S, C.VOTES_B, C.VOTES_U]
    )
    result, mean = round_scores(frame, S)
    assert mean == pytest.approx(66.25 / 3)
    assert list(result["score"][:2]) == pytest.approx([25.0, 16.25])
    assert result["score"].iloc[2] == pytest.approx(66.25 / 3 * 0.7 + 25 * 0.3)  # 22.958333
    assert result["score"].iloc[3] == pytest.approx(66.25 / 3)
    assert list(result["blended"]) == [False, False, True, False]


def test_exactly_30_votes_is_not_blended_29_is():
    frame = pd.DataFrame([(30, 0, 0), (0, 0, 29), (0, 0, 40)], columns=[C.VOTES_S, C.VOTES_B, C.VOTES_U])
    result, mean = round_scores(frame, S)
    assert mean == pytest.approx(25 / 3)
    assert list(result["score"]) == pytest.approx([25.0, 25 / 3 * 0.7, 0.0])


def test_rule_cliff_at_30_votes_one_more_satisfied_vote_can_lower_a_score():
    """The rule as written: 29 不满意 votes are blended up towards the mean; the 30th
    vote, even a 满意 one, ends the blending. Kept as the rules say, noted in the README."""
    others = [(40, 0, 0)] * 3
    before = pd.DataFrame([(0, 0, 29), *others], columns=[C.VOTES_S, C.VOTES_B, C.VOTES_U])
    after = pd.DataFrame([(1, 0, 29), *others], columns=[C.VOTES_S, C.VOTES_B, C.VOTES_U])
    b, _ = round_scores(before, S)
    a, _ = round_scores(after, S)
    assert b["score"].iloc[0] == pytest.approx((0 + 75) / 4 * 0.7)  # 13.125
    assert a["score"].iloc[0] == pytest.approx(25 / 30)  # 0.8333…
    assert a["score"].iloc[0] < b["score"].iloc[0]


def test_engine_blends_each_round_and_warns_about_no_votes():
    votes = [(*A, C.H1, 10, 0, 0), (*B, C.H1, 40, 0, 0), (*Cc, C.H1, 20, 10, 10)]
    votes += [(*k, C.H2, 40, 0, 0) for k in (A, B, Cc)]  # D, E, F have no votes at all
    card = score(year(KEYS, uniform_votes=None, votes=votes))
    mean_h1 = (25 + 25 + 16.25) / 3
    assert card.round_means[C.H1] == pytest.approx(mean_h1)
    assert row(card, A)[C.SERVICE_H1] == pytest.approx(mean_h1 * 0.7 + 25 * 0.3)
    assert row(card, D)[C.SERVICE_H1] == pytest.approx(mean_h1)
    assert row(card, D)[C.SERVICE] == pytest.approx(mean_h1 + 25)
    assert any("上半年无投票" in w for w in row(card, D)[C.WARNINGS])
    assert any("不足 30 票" in w for w in row(card, A)[C.WARNINGS])
    assert row(card, D)["H1_votes"] == 0


def test_a_round_without_any_votes_scores_zero_with_a_warning():
    votes = [(*k, C.H1, 40, 0, 0) for k in KEYS]
    card = score(year(KEYS, uniform_votes=None, votes=votes))
    assert (card.sections[C.SERVICE_H2] == 0).all()
    assert math.isnan(card.round_means[C.H2])
    assert any("下半年服务对象评价没有任何投票" in w for w in card.warnings)


def test_exempt_sections_are_outside_every_mean_count_and_rank():
    history = [(2019, *A, C.SATISFIED), (2020, *A, C.SATISFIED), (2020, *B, C.SATISFIED)]
    votes = [(*A, C.H1, 0, 0, 40), (*B, C.H1, 40, 0, 0), (*Cc, C.H1, 20, 0, 20)]
    card = score(year(KEYS[:3], uniform_votes=None, votes=votes, history=history))
    assert row(card, A)[C.EXEMPT] and not row(card, B)[C.EXEMPT]
    assert card.round_means[C.H1] == pytest.approx((25 + 12.5) / 2)
    assert math.isnan(row(card, A)[C.DAILY]) and pd.isna(row(card, A)[C.DAILY_RANK])
    assert row(card, A)[C.SHORTLIST] is None
    assert any("免评" in w for w in card.warnings)


def test_per_vote_frames_tally_to_the_same_counts():
    per_vote = pd.DataFrame(
        [(*A, C.H1, C.CHOICE_S)] * 3 + [(*A, C.H1, C.CHOICE_U)] + [(*B, C.H2, C.CHOICE_B)] * 2,
        columns=[C.UNIT, C.SECTION, C.ROUND, C.CHOICE],
    )
    counts = tally(per_vote).set_index([C.UNIT, C.SECTION, C.ROUND])
    assert tuple(counts.loc[(*A, C.H1)]) == (3, 0, 1)
    assert tuple(counts.loc[(*B, C.H2)]) == (0, 2, 0)


# ---- 平台办理 ------------------------------------------------------------------------

H, N = C.HOTLINE, C.SUPERVISION_NET


@pytest.mark.parametrize(
    "events, expected",
    [
        ([], 10.0),
        ([(H, C.CONDUCT, 4, C.LEAD)], 5 * 96 / 100 + 5),  # 9.8
        ([(H, C.CONDUCT, 4, C.LEAD), (H, C.CONDUCT, 5, C.LEAD), (H, C.CONDUCT, 3, C.LEAD)], 5 * 90 / 100 + 5),  # 12 capped at 10
        ([(H, C.HANDLING, 5, C.CO)], 5 * 97.5 / 100 + 5),  # co-handling halves: 2.5
        ([(H, C.HANDLING, 5, C.LEAD), (H, C.HANDLING, 2, C.LEAD), (H, C.HANDLING, 1, C.LEAD)], 5 * 92 / 100 + 5),
        ([(H, C.HANDLING, 5, C.LEAD)] * 19, 5 * 10 / 100 + 5),  # 95 capped at 90
        ([(H, C.CONDUCT, 5, C.LEAD)] * 3 + [(H, C.HANDLING, 5, C.LEAD)] * 19, 0 + 5),  # 10 + 90: hotline 0
        ([(N, C.COMPLAINT, 1, C.LEAD)] * 3, 5 + 2),
        ([(N, C.COMPLAINT, 1, C.LEAD)] * 7, 5 + 0),  # floor 0
    ],
)
def test_platform_table(events, expected):
    card = score(year([A], platform=[(*A, *e) for e in events]))
    assert row(card, A)[C.PLATFORM_SCORE] == pytest.approx(expected)


# ---- 主管单位评价 --------------------------------------------------------------------


@pytest.mark.parametrize("n, bounds", [(1, (0, 1)), (2, (0, 1)), (3, (1, 1)), (4, (1, 2)), (5, (1, 2)), (6, (2, 2)), (7, (2, 3)), (9, (3, 3)), (10, (3, 4))])
def test_tier_bounds(n, bounds):
    assert tier_bounds(n) == bounds


@pytest.mark.parametrize(
    "scores, messages",
    [
        ([4.0, 3.9, 2.9], []),
        ([5.0, 4.0, 3.0], ["优秀档有 2 个科室，应为 1 个，多了 1 个", "一般档有 0 个科室，应为 1 个，少了 1 个"]),
        ([5.0, 4.5, 4.0], ["优秀档有 3 个科室，应为 1 个，多了 2 个", "良好档有 0 个科室，应为 1 个，少了 1 个", "一般档有 0 个科室，应为 1 个，少了 1 个"]),
        ([4.5, 4.4, 3.5, 3.4, 2.0], []),
        ([4.5, 4.4, 4.3, 3.4, 2.0], ["优秀档有 3 个科室，应为 1 到 2 个，多了 1 个"]),
        ([4.5, 4.2], ["优秀档有 2 个科室，应为 0 到 1 个，多了 1 个"]),
    ],
)
def test_tier_problems_name_the_unit_the_tier_and_by_how_many(scores, messages):
    frame = pd.DataFrame({C.UNIT: "单位00", C.SCORE: scores})
    found = [p.message for p in tier_problems(frame, S)]
    assert len(found) == len(messages)
    for text, expected in zip(found, messages):
        assert expected in text and text.startswith("单位00：")


def test_missing_supervisor_score_is_zero_with_a_warning():
    card = score(year([A, B], supervisor={A: 4.3}))
    assert row(card, A)[C.SUPERVISOR] == 4.3
    assert row(card, B)[C.SUPERVISOR] == 0
    assert "未提交主管单位评分，按 0 分计" in row(card, B)[C.WARNINGS]


# ---- 监督检查 ------------------------------------------------------------------------

IN, BEFORE, AFTER = "2021-03-15", "2020-11-30", "2021-12-01"


@pytest.mark.parametrize(
    "events, expected",
    [
        ([], 20),
        ([(C.COUNTY, False, None, False, None)], 19),
        ([(C.COUNTY, True, None, False, None)], 18),  # doubled
        ([(C.CITY_LEVEL, False, None, False, None), (C.CITY_LEVEL, True, None, False, None)], 14),  # 2 + 4
        ([(C.VERIFIED_COMPLAINT, True, None, False, None)], 18),
        ([(C.CASE, False, C.PRINCIPAL, True, IN)], 0),
        ([(C.CASE, False, C.DEPUTY, True, IN)], 10),
        ([(C.CASE, False, C.STAFF, True, IN)], 15),
        ([(C.CASE, False, C.COLLECTIVE, True, IN)], 0),
        ([(C.CASE, False, C.PRINCIPAL, False, IN)], 14),  # earlier conduct: 6
        ([(C.CASE, False, C.DEPUTY, False, IN)], 16),
        ([(C.CASE, False, C.STAFF, False, IN)], 18),
        ([(C.CASE, False, C.COLLECTIVE, False, IN)], 10),
        ([(C.CASE, False, C.PRINCIPAL, True, "2020-12-01")], 0),  # first day of the window
        ([(C.CASE, False, C.PRINCIPAL, True, "2021-11-30")], 0),  # last day
        ([(C.CASE, False, C.PRINCIPAL, True, BEFORE)], 20),  # outside: no deduction
        ([(C.CASE, False, C.PRINCIPAL, True, AFTER)], 20),
        ([(C.CASE, False, C.DEPUTY, True, IN), (C.CASE, False, C.STAFF, True, IN), (C.CITY_LEVEL, True, None, False, None)], 1),
        ([(C.CASE, False, C.DEPUTY, True, IN)] * 3, 0),  # floor 0
    ],
)
def test_inspection_table(events, expected):
    card = score(year([A], inspection=[(*A, *e) for e in events]))
    assert row(card, A)[C.INSPECTION] == pytest.approx(expected)


# ---- 加分项 --------------------------------------------------------------------------

CM, PB = C.COMMENDATION, C.PUBLICITY


@pytest.mark.parametrize(
    "events, expected",
    [
        ([], 0),
        ([(CM, C.NATIONAL, "事迹甲", IN)], 5),
        ([(CM, C.PROVINCIAL, "事迹甲", IN)], 3),
        ([(CM, C.CITY, "事迹甲", IN)], 1),
        ([(PB, C.CENTRAL, "报道乙", IN)], 3),
        ([(PB, C.PROVINCIAL, "报道乙", IN)], 2),
        ([(PB, C.CITY, "报道乙", IN)], 0.5),
        ([(CM, C.CITY, "事迹甲", IN), (CM, C.PROVINCIAL, "事迹甲", IN)], 3),  # same deed: highest only
        ([(PB, C.CITY, "报道乙", IN), (PB, C.CENTRAL, "报道乙", IN), (PB, C.PROVINCIAL, "报道乙", IN)], 3),
        ([(CM, C.CITY, "事迹甲", IN), (CM, C.CITY, "事迹丙", IN), (PB, C.CITY, "报道乙", IN)], 2.5),
        ([(CM, C.PROVINCIAL, "事迹甲", IN), (PB, C.CENTRAL, "报道乙", IN)], 5),  # 6 capped at 5
        ([(CM, C.NATIONAL, "事迹甲", BEFORE)], 0),
        ([(CM, C.NATIONAL, "事迹甲", AFTER)], 0),
        ([(CM, C.NATIONAL, "事迹甲", "2020-12-01"), (PB, C.CITY, "报道乙", "2021-11-30")], 5),
        # The national level falls outside the window: the city level of the same deed counts.
        ([(CM, C.NATIONAL, "事迹甲", AFTER), (CM, C.CITY, "事迹甲", IN)], 1),
    ],
)
def test_bonus_table(events, expected):
    card = score(year([A], bonus=[(*A, *e) for e in events]))
    assert row(card, A)[C.BONUS] == pytest.approx(expected)


def test_daily_score_is_the_sum_and_bonus_stays_outside_it():
    card = score(
        year(
            [A],
            supervisor={A: 3.5},
            votes=None,
            uniform_votes=(30, 10, 10),  # 18 per round
            platform=[(*A, H, C.CONDUCT, 4, C.LEAD)],  # 9.8
            inspection=[(*A, C.COUNTY, True, None, False, None)],  # 18
            bonus=[(*A, CM, C.CITY, "事迹甲", IN)],
        )
    )
    r = row(card, A)
    assert r[C.SERVICE] == pytest.approx(36)
    assert r[C.DAILY] == pytest.approx(36 + 9.8 + 3.5 + 18)
    assert r[C.BONUS] == 1


def test_explanation_lines_add_up_to_every_component():
    card = score(
        year(
            KEYS,
            supervisor=[4.1, 3.2, 1.0, 5.0, 3.9, 0.0],
            uniform_votes=None,
            votes=[(*A, C.H1, 12, 3, 1), (*B, C.H1, 50, 5, 5), (*Cc, C.H2, 10, 20, 30)],
            platform=[(*A, H, C.CONDUCT, 5, C.LEAD)] * 3 + [(*B, H, C.HANDLING, 3, C.CO), (*Cc, N, C.COMPLAINT, 1, C.LEAD)] ,
            inspection=[(*A, C.CASE, False, C.DEPUTY, True, IN)] * 3 + [(*B, C.CASE, False, C.STAFF, True, BEFORE)],
            bonus=[(*A, CM, C.NATIONAL, "甲", IN), (*A, PB, C.CENTRAL, "乙", IN), (*B, CM, C.CITY, "甲", AFTER)],
        )
    )
    sums = card.lines.groupby([C.UNIT, C.SECTION, C.COMPONENT])[C.POINTS].sum()
    for _, r in card.sections.iterrows():
        for component in (C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION, C.DAILY, C.BONUS):
            assert sums.get((r[C.UNIT], r[C.SECTION], component), 0.0) == pytest.approx(r[component]), component
    a = card.lines[(card.lines[C.SECTION] == A[1])][C.TEXT].tolist()
    assert "投诉举报平台 作风投诉合计扣 5 + 5 + 5 = 15 分（百分制），超过上限 10 分，按 10 分计，加回 (15 − 10) × 5 ÷ 100 = 0.25 分" in a
    assert "监督检查合计扣 10 + 10 + 10 = 30 分，超过基础分 20 分，最低 0 分，加回 30 − 20 = 10 分" in a
    assert "加分合计 5 + 3 = 8 分，超过上限 5 分，按 5 分计，减去 8 − 5 = 3 分" in a
    b = card.lines[(card.lines[C.SECTION] == B[1])][C.TEXT].tolist()
    assert "投诉举报平台 办理评价扣 3 分，协办减半为 3 × 0.5 = 1.5 分（百分制），即扣 1.5 × 5 ÷ 100 = 0.075 分" in b
    assert any("不在统计期" in t for t in b)
    assert any("不在加分期限" in t for t in b)
    check_formulas(card.lines)


# ---- explanations: every line states its formula with its numbers -------------------


def test_explanations_state_each_formula_with_its_numbers():
    card = score(
        year(
            KEYS[:4],
            supervisor=[4.1, 3.2, 1.0, 3.9],
            uniform_votes=None,
            votes=[(*A, C.H1, 12, 5, 3), (*A, C.H2, 40, 0, 0), (*B, C.H1, 40, 0, 0), (*B, C.H2, 40, 0, 0)],
            platform=[(*A, H, C.CONDUCT, 4, C.LEAD), (*A, N, C.COMPLAINT, 1, C.LEAD)],
            inspection=[(*A, C.COUNTY, True, None, False, None), (*A, C.CASE, False, C.STAFF, True, IN)],
            bonus=[(*A, CM, C.CITY, "事迹甲", IN)],
            net={A: (12, 5, 3), B: (0, 0, 0)},
        )
    )
    a = card.lines[card.lines[C.SECTION] == A[1]]
    # mean of H1 = (18.75 + 25) / 2 = 21.875; A has 20 votes: 21.875 × 70% + 18.75 × 30% = 20.9375
    assert a[C.TEXT].tolist() == [
        "上半年服务对象评价：满意 12、基本满意 5、不满意 3，共 20 票；(12 + 0.6 × 5) ÷ 20 × 25 = 18.75 分",
        "上半年不足 30 票：按 平均分 21.875 × 70% + 本科室 18.75 × 30% = 20.9375 分计，与本科室得分之差 20.9375 − 18.75 = 2.1875 分",
        "下半年服务对象评价：满意 40、基本满意 0、不满意 0，共 40 票；(40 + 0.6 × 0) ÷ 40 × 25 = 25 分",
        "统一政务咨询投诉举报平台基础分 5 分（百分制 100 分）",
        "网络监督投诉平台基础分 5 分",
        "投诉举报平台 作风投诉扣 4 分（百分制），即扣 4 × 5 ÷ 100 = 0.2 分",
        "网络监督平台 有效投诉扣 1 分",
        "主管单位评分 4.1 分（优秀档：4 至 5 分）",
        "监督检查基础分 20 分",
        "县级查实问题（情节严重，按 2 倍计）：扣 1 × 2 = 2 分",
        "立案查处：其他工作人员，本年度问题，立案日期 2021-03-15，扣 5 分",
        "日常评价：上半年服务对象评价 20.9375 + 下半年服务对象评价 25 + 平台办理 8.8 + 主管单位评价 4.1 + 监督检查 13 = 71.8375 分",
        "网络评价：满意 12、基本满意 5、不满意 3，共 20 票；(12 + 0.6 × 5) ÷ 20 × 15 = 11.25 分",
        "表彰（市厅级）“事迹甲”，2021-03-15：加 1 分",
        "总成绩：日常评价 71.8375 + 网络评价 11.25 + 加分项 1 = 84.0875 分",
    ]
    assert row(card, A)[C.TOTAL] == pytest.approx(84.0875)
    texts = card.lines.set_index(C.SECTION)[C.TEXT]
    # Cc and D have no votes at all: each round's mean, worked from the sections that have.
    assert "上半年服务对象评价：无投票，取有投票科室的平均分：得分之和 43.75 ÷ 科室数 2 = 21.875 分" in texts[Cc[1]].tolist()
    assert "主管单位评分 3.2 分（良好档：3 至 3.9 分）" in texts[B[1]].tolist()
    assert "主管单位评分 1 分（一般档：低于 3 分）" in texts[Cc[1]].tolist()
    assert "网络评价：无票，按 0 分计" in texts[B[1]].tolist()
    check_formulas(card.lines)


def test_explanations_take_every_number_from_the_settings():
    settings = RuleSettings(weight_satisfied=0.9, weight_basic=0.5, network_points=20, service_round_points=30,
                            cohandling_share=0.4, platform_base=50, inspection_serious_factor=3, blend_mean_share=0.6,
                            blend_own_share=0.4)
    card = score(
        year(
            [A, B],
            votes=[(*A, C.H1, 12, 5, 3)],
            uniform_votes=None,
            platform=[(*A, H, C.HANDLING, 3, C.CO)],
            inspection=[(*A, C.CITY_LEVEL, True, None, False, None)],
            net={A: (12, 5, 3)},
        ),
        settings,
    )
    texts = card.lines[card.lines[C.SECTION] == A[1]][C.TEXT].tolist()
    assert "上半年服务对象评价：满意 12、基本满意 5、不满意 3，共 20 票；(0.9 × 12 + 0.5 × 5) ÷ 20 × 30 = 19.95 分" in texts
    assert "上半年不足 30 票：按 平均分 19.95 × 60% + 本科室 19.95 × 40% = 19.95 分计，与本科室得分之差 19.95 − 19.95 = 0 分" in texts
    assert "统一政务咨询投诉举报平台基础分 5 分（百分制 50 分）" in texts
    assert "投诉举报平台 办理评价扣 3 分，协办按 3 × 0.4 = 1.2 分（百分制），即扣 1.2 × 5 ÷ 50 = 0.12 分" in texts
    assert "市级查实问题（情节严重，按 3 倍计）：扣 2 × 3 = 6 分" in texts
    assert "网络评价：满意 12、基本满意 5、不满意 3，共 20 票；(0.9 × 12 + 0.5 × 5) ÷ 20 × 20 = 13.3 分" in texts
    check_formulas(card.lines)


def test_every_line_of_a_realistic_year_states_its_formula():
    """The synthetic county (363 sections, every kind of event): each formula works out
    and each line states its points; the daily and total lines give the scores."""
    inputs = synthetic_year(pingyang_sections(), votes=50_000, events=1000, ballots=1000, seed=2, network=True)
    card = score(inputs)
    check_formulas(card.lines)
    texts = card.lines[C.TEXT]
    for kind in ("票；(", "不足 30 票", "无投票，取有投票科室的平均分", "协办减半为", "（情节严重", "超过上限 10 分", "超过上限 5 分",
                 "最低 0 分", "日常评价：", "总成绩："):
        assert texts.str.contains(kind, regex=False).any(), kind
    for component, column in ((C.DAILY, C.DAILY), (C.TOTAL, C.TOTAL)):
        stated = card.lines[card.lines[C.COMPONENT] == component].set_index([C.UNIT, C.SECTION])[C.POINTS]
        scores = card.sections.set_index([C.UNIT, C.SECTION])[column].dropna()
        assert stated.sort_index().to_numpy() == pytest.approx(scores.sort_index().to_numpy())


# ---- rounding and ranks ------------------------------------------------------------


@pytest.mark.parametrize(
    "value, decimals, shown",
    [
        (28.095 + 10 + 29.75 + 15 + 15 + 6, 2, "103.85"),
        (2.675, 2, "2.68"),  # binary 2.67499999…
        (1.005, 2, "1.01"),
        (0.125, 2, "0.13"),
        (3.85, 1, "3.9"),
        (-0.125, 2, "-0.13"),
        (84.999999999, 2, "85.00"),
    ],
)
def test_display_rounds_half_up_as_excel_shows(value, decimals, shown):
    assert display_text(value, decimals) == shown
    assert display(value, decimals) == Decimal(shown)


def test_display_of_missing_is_empty():
    assert display(float("nan")) is None and display_text(None) == ""


def test_competition_ranking_and_float_noise():
    ranks = competition_rank(pd.Series([90.0, 0.1 + 0.2 + 80, 80.3, 70.0, float("nan")]))
    assert list(ranks[:4]) == [1, 2, 2, 4] and pd.isna(ranks.iloc[4])


# ---- shortlist ---------------------------------------------------------------------


def test_shortlist_of_110_with_previous_unsatisfied_put_aside_first():
    keys = names(130)
    sup = [round((i % 50) / 10, 1) for i in range(130)]  # daily 80 + sup, many equal …
    # … but make the order strict with distinct H1 votes: section i gets i 满意 of 130.
    votes = [(*k, C.H1, i, 0, 130 - i) for i, k in enumerate(keys)]
    history = [(2020, *keys[129], C.UNSATISFIED), (2020, *keys[5], C.MOST_UNSATISFIED)]
    history += [(2019, *keys[128], C.SATISFIED), (2020, *keys[128], C.SATISFIED)]  # exempt
    card = score(year(keys, supervisor=sup, uniform_votes=None, votes=votes, history=history))
    shortlisted = card.sections[card.sections[C.SHORTLIST].notna()]
    assert len(shortlisted) == 102  # 2 + 50 + 50 out of 129 participating
    assert listed(card, C.SHORTLIST, C.PREVIOUS_UNSATISFIED) == {keys[129], keys[5]}
    sat = card.sections[card.sections[C.SHORTLIST] == C.SATISFIED_CANDIDATE]
    unsat = card.sections[card.sections[C.SHORTLIST] == C.UNSATISFIED_CANDIDATE]
    rest = card.sections[card.sections[C.SHORTLIST].isna() & ~card.sections[C.EXEMPT]]
    assert len(sat) == 50 and len(unsat) == 50 and len(rest) == 27
    assert sat[C.DAILY].min() > rest[C.DAILY].max() >= rest[C.DAILY].min() > unsat[C.DAILY].max()
    assert card.cutoffs[C.SATISFIED_CANDIDATE] == sat[C.DAILY].min()
    assert not card.ties


def test_110_distinct_candidates_from_the_real_number_of_sections():
    keys = names(363)
    votes = [(*k, C.H1, i, 0, 400 - i) for i, k in enumerate(keys)]  # all different
    history = [(2020, *k, C.UNSATISFIED) for k in keys[100:110]]
    card = score(year(keys, supervisor=[3.0] * 363, uniform_votes=None, votes=votes, history=history))
    assert not card.ties
    shortlisted = card.sections[card.sections[C.SHORTLIST].notna()]
    assert len(shortlisted) == 110 == len(set(zip(shortlisted[C.UNIT], shortlisted[C.SECTION])))
    assert shortlisted[C.SHORTLIST].value_counts().to_dict() == {
        C.SATISFIED_CANDIDATE: 50, C.UNSATISFIED_CANDIDATE: 50, C.PREVIOUS_UNSATISFIED: 10
    }
    # Section i has i 满意 votes: the top 50 are 313–362, the bottom 50 are 0–49.
    assert listed(card, C.SHORTLIST, C.SATISFIED_CANDIDATE) == set(keys[313:])
    assert listed(card, C.SHORTLIST, C.UNSATISFIED_CANDIDATE) == set(keys[:50])


@pytest.mark.parametrize("available, split", [(100, (50, 50)), (363, (50, 50)), (30, (15, 15)), (31, (16, 15)), (1, (1, 0)), (0, (0, 0))])
def test_split_shortlist(available, split):
    assert split_shortlist(available, 50, 50) == split


def test_fewer_sections_than_the_shortlist_say_so_and_take_all():
    keys = names(31)
    card = score(year(keys, supervisor=[i / 10 for i in range(31)]))
    counts = card.sections[C.SHORTLIST].value_counts()
    assert counts[C.SATISFIED_CANDIDATE] == 16 and counts[C.UNSATISFIED_CANDIDATE] == 15
    assert any("参评科室不足" in w for w in card.warnings)


def _cutoff_year(tie_breaker: str | None):
    """101 sections, daily 80 + supervisor: sections 0–48 clearly top, 49 and 50 equal
    at the satisfied cut-off unless `tie_breaker` separates them, 50 clearly bottom."""
    keys = names(101)
    sup = [5.0] * 49 + [2.5, 2.5] + [1.0] * 50
    votes = [(*k, rnd, 40, 0, 0) for k in keys for rnd in (C.H1, C.H2)]
    platform, inspection = [], []
    if tie_breaker == "service":
        # Section 50: a lower service score (a blended H1), compensated by platform? No:
        # equal daily needs equal sums; move 1 point from service to supervisor.
        votes = [v for v in votes if not (v[:2] == keys[50] and v[2] == C.H1)]
        votes.append((*keys[50], C.H1, 96, 0, 4))  # 96 / 100 × 25 = 24 → service 49
        sup[50] = 3.5
    if tie_breaker == "inspection":
        inspection = [(*keys[50], C.COUNTY, False, None, False, None)]  # 19
        platform = [(*keys[49], N, C.COMPLAINT, 1, C.LEAD)]  # 9
    return keys, year(keys, supervisor=sup, uniform_votes=None, votes=votes, platform=platform, inspection=inspection)


def test_an_unbroken_tie_at_the_satisfied_cutoff_is_reported_and_both_are_candidates():
    keys, inputs = _cutoff_year(None)
    card = score(inputs)
    assert {keys[49], keys[50]} <= listed(card, C.SHORTLIST, C.SATISFIED_CANDIDATE)
    assert len(listed(card, C.SHORTLIST, C.SATISFIED_CANDIDATE)) == 51
    [tie] = [t for t in card.ties if t.list == C.SATISFIED_CANDIDATE]
    assert set(tie.sections) == {keys[49], keys[50]} and tie.position == 50
    assert "并列" in tie.message and keys[49][1] in tie.message and tie.message in card.warnings


@pytest.mark.parametrize("breaker", ["service", "inspection"])
def test_the_tie_break_chain_decides_at_the_cutoff(breaker):
    keys, inputs = _cutoff_year(breaker)
    card = score(inputs)
    assert row(card, keys[49])[C.DAILY] == pytest.approx(row(card, keys[50])[C.DAILY])
    sat = listed(card, C.SHORTLIST, C.SATISFIED_CANDIDATE)
    assert len(sat) == 50 and not [t for t in card.ties if t.stage == "shortlist"]
    # Section 49 wins: a higher service score (50 against 49), or with equal service a
    # higher inspection score (20 against 19) though its platform score is lower.
    assert keys[49] in sat and keys[50] not in sat


def test_float_noise_never_decides_a_rank():
    keys = names(101)
    # 0.1 + 0.2 is 0.30000000000000004 in binary floats: still a tie with 0.3.
    sup = [5.0] * 49 + [0.1 + 0.2, 0.3] + [0.0] * 50
    card = score(year(keys, supervisor=sup))
    [tie] = [t for t in card.ties if t.list == C.SATISFIED_CANDIDATE]
    assert set(tie.sections) == {keys[49], keys[50]}
    assert row(card, keys[49])[C.DAILY_RANK] == row(card, keys[50])[C.DAILY_RANK] == 50


def test_an_unbroken_tie_at_the_unsatisfied_cutoff_leaves_both_off():
    keys = names(102)
    sup = [5.0] * 50 + [3.0] + [2.0] * 3 + [1.0] * 48
    # Unsatisfied candidates: the 50 lowest of the 52 left are 48 at 1.0 and two of the
    # three at 2.0, which the chain cannot separate: none of the three is listed.
    card = score(year(keys, supervisor=sup))
    unsat = listed(card, C.SHORTLIST, C.UNSATISFIED_CANDIDATE)
    assert len(unsat) == 48 and not unsat & set(keys[51:54])
    [tie] = [t for t in card.ties if t.list == C.UNSATISFIED_CANDIDATE]
    assert set(tie.sections) == set(keys[51:54])
    assert "均未列入不满意候选" in tie.message


# ---- online round, final lists, effects -------------------------------------------


def _final_year(decisions=None, history=()):
    """110 candidates from 110 sections (10 previous unsatisfied + 50 + 50), NET votes
    set so that section i has i 满意 of 200 ballots, H1 votes so that it has i 满意 of
    110: daily and total both follow the index."""
    keys = names(110, per_unit=5)
    history = list(history) or [(2020, *k, C.UNSATISFIED) for k in keys[:10]]
    votes = [(*k, C.H1, i, 0, 110 - i) for i, k in enumerate(keys)] + [(*k, C.H2, 40, 0, 0) for k in keys]
    net = {k: (i, 200 - i, 0) for i, k in enumerate(keys)}
    return keys, year(keys, supervisor=[3.0] * 110, uniform_votes=None, votes=votes, history=history, net=net, decisions=decisions)


def test_final_lists_effects_top_tier_and_two_years_running():
    keys, inputs = _final_year()
    card = score(inputs)
    assert card.network_held
    r0 = row(card, keys[0])
    # network = (0 + 200 × 0.6) / 200 × 15 = 9; section 109: (109 + 91 × 0.6) / 200 × 15
    assert r0[C.NETWORK] == pytest.approx(9.0)
    assert row(card, keys[109])[C.NETWORK] == pytest.approx((109 + 91 * 0.6) / 200 * 15)
    assert r0[C.TOTAL] == pytest.approx(r0[C.DAILY] + 9.0 + r0[C.BONUS])
    order = card.sections.sort_values(C.TOTAL, ascending=False)
    top = set(zip(order[C.UNIT][:10], order[C.SECTION][:10]))
    bottom = list(zip(order[C.UNIT][-10:], order[C.SECTION][-10:]))
    assert listed(card, C.RESULT, C.SATISFIED) == top
    assert listed(card, C.RESULT, C.MOST_UNSATISFIED) == set(bottom[-3:])
    assert listed(card, C.RESULT, C.UNSATISFIED) == set(bottom[:-3])
    # The bottom ten are sections 0–9, last year's unsatisfied: two years running.
    assert set(bottom) == set(keys[:10])
    assert card.sections[C.TWO_YEARS_UNSATISFIED].sum() == 10
    assert listed(card, C.TOP_TIER, True) == set(zip(order[C.UNIT][:3], order[C.SECTION][:3]))
    assert list(card.sections[C.TOTAL_RANK].dropna().sort_values()[:3]) == [1, 2, 3]
    effects = card.units.set_index(C.UNIT)
    # Units of 5: 单位00 holds sections 0–4 (most unsatisfied are 0, 1, 2 → −10 each; 3, 4 → −5)
    assert effects.at["单位00", C.EFFECT] == -40
    assert effects.at["单位01", C.EFFECT] == -25
    assert effects.at["单位21", C.EFFECT] == 25  # sections 105–109, all satisfied
    assert effects.at["单位21", C.TOP_TIER] == 3
    assert effects.at["单位10", C.EFFECT] == 0
    assert not card.warnings


def test_the_office_overrides_with_a_recorded_reason():
    keys, inputs = _final_year(decisions=[("单位00", "科室003", None, "县委常委会研究决定")])
    card = score(inputs)
    r = row(card, ("单位00", "科室003"))
    assert r[C.PROPOSED] == C.UNSATISFIED and r[C.RESULT] is None
    assert "由 不满意单位 改为 不列入" in r[C.DECISION] and "县委常委会" in r[C.DECISION]
    assert card.units.set_index(C.UNIT).at["单位00", C.EFFECT] == -35
    assert any("不满意单位现为 6 个，规则为 7 个" in w for w in card.warnings)


@pytest.mark.parametrize(
    "decision, message",
    [
        (("单位00", "科室003", None, " "), "没有填写理由"),
        (("单位99", "科室999", C.SATISFIED, "理由"), "不在候选名单中"),
        (("单位00", "科室003", "excellent", "理由"), "无效"),
    ],
)
def test_bad_decisions_are_refused(decision, message):
    _, inputs = _final_year(decisions=[decision])
    with pytest.raises(InputError) as caught:
        score(inputs)
    assert caught.value.source == "decisions" and message in str(caught.value)


def test_without_net_votes_network_total_and_result_are_null():
    card = score(year(names(120), supervisor=[i % 50 / 10 for i in range(120)]))
    assert not card.network_held
    assert card.sections[[C.NETWORK, C.TOTAL]].isna().all().all()
    assert card.sections[C.RESULT].isna().all()
    assert any("尚未进行网络评价" in w for w in card.warnings)


def test_a_net_vote_for_a_section_not_shortlisted_is_an_error():
    keys = names(120)
    inputs = year(keys, supervisor=[i % 50 / 10 for i in range(120)])
    card = score(inputs)
    outsider = card.sections[card.sections[C.SHORTLIST].isna()].iloc[0]
    inputs.votes.loc[len(inputs.votes)] = (outsider[C.UNIT], outsider[C.SECTION], C.NET, 1, 0, 0)
    inputs.votes[C.ROW] = range(2, len(inputs.votes) + 2)
    with pytest.raises(InputError) as caught:
        score(inputs)
    assert caught.value.source == "votes"
    assert caught.value.problems == [(len(inputs.votes) + 1, f"{outsider[C.UNIT]} {outsider[C.SECTION]} 不在候选名单中，不应有网络评价票")]


def test_settings_change_the_numbers():
    settings = RuleSettings(service_round_points=20, blend_min_votes=5)
    card = score(year([A, B], uniform_votes=(4, 0, 0)), settings)
    # 4 votes < 5: blended, but both sections have own = mean = 20 per round.
    assert row(card, A)[C.SERVICE] == pytest.approx(40)
    assert any("不足 5 票" in w for w in row(card, A)[C.WARNINGS])
