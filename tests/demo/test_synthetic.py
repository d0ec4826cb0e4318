"""The synthetic year (voting/demo/synthetic.py): plausible, valid, deterministic, and
written as a folder of exchange files (docs/rules.md §6) that the bundle reader takes back. Pure: no app."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from scoring import columns as C
from scoring import labels as L
from scoring.components import evaluation_window
from scoring.engine import YearInputs, score_year
from scoring.history import history_flags
from scoring.settings import PINGYANG_2021
from scoring.supervisor import tier_problems
from scoring.votes import COUNTS, tally
from voting.demo.synthetic import (
    BALLOT,
    HEADERS,
    history_rows,
    pingyang_sections,
    section_quality,
    shortlist,
    synthetic_network,
    synthetic_year,
    write_bundle,
)

S = PINGYANG_2021
FRAMES = ("sections", "history", "votes", "platform", "supervisor", "inspection", "bonus")


@pytest.fixture(scope="module")
def sections() -> pd.DataFrame:
    return pingyang_sections()


@pytest.fixture(scope="module")
def year(sections) -> YearInputs:
    return synthetic_year(sections)


@pytest.fixture(scope="module")
def listed(year) -> pd.DataFrame:
    return shortlist(year)


@pytest.fixture(scope="module")
def flags(year) -> pd.DataFrame:
    return history_flags(year.sections, year.history, year.year, S)


def keyset(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame[C.UNIT], frame[C.SECTION]))


def participating(year: YearInputs, flags: pd.DataFrame) -> set[tuple[str, str]]:
    return keyset(year.sections[~flags[C.EXEMPT].to_numpy()])


def sorted_counts(frame: pd.DataFrame) -> pd.DataFrame:
    counts = tally(frame)
    counts = counts.astype({C.UNIT: object, C.SECTION: object, C.ROUND: object})
    return counts.sort_values([C.UNIT, C.SECTION, C.ROUND]).reset_index(drop=True)[[C.UNIT, C.SECTION, C.ROUND, *COUNTS]]


def test_the_real_list(sections):
    assert len(sections) == 363 and sections[C.UNIT].nunique() == 44
    assert not sections.duplicated([C.UNIT, C.SECTION]).any()


def test_same_seed_same_year_other_seed_other_year(sections, year):
    again = synthetic_year(sections)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(year, name), getattr(again, name))
    other = synthetic_year(sections, seed=1)
    assert not other.votes.equals(year.votes)
    assert not other.history.equals(year.history)
    assert not other.platform.equals(year.platform)


def test_history_makes_8_exempt_and_10_previously_unsatisfied(year, flags):
    assert int(flags[C.EXEMPT].sum()) == 8
    assert int(flags[C.PREVIOUS_UNSATISFIED].sum()) == 10
    last = year.history[year.history[C.YEAR] == year.year - 1]
    assert (last[C.RESULT] == C.MOST_UNSATISFIED).sum() == 3
    assert (last[C.RESULT] == C.UNSATISFIED).sum() == 7
    assert set(year.history[C.YEAR]) == {year.year - 2, year.year - 1}


def test_history_rows_on_a_short_list():
    keys = [(f"单位{i // 3}", f"科室{i}") for i in range(12)]
    rows = history_rows(keys, random.Random(0), 2022)
    assert {y for y, *_ in rows} <= {2020, 2021}
    exempt = {(u, s) for y, u, s, r in rows if y == 2020 and r == C.SATISFIED}
    assert len(exempt) == 8 and len(rows) == 8 * 2 + 4


def test_sizes(year, flags):
    n = year.votes[COUNTS].sum(axis=1)
    assert int(n.sum()) == 200_000
    assert (n > 0).all() and n.max() <= S.max_objects_per_section
    assert set(year.votes[C.ROUND]) == {C.H1, C.H2}  # no NET before the shortlist
    assert not year.votes.duplicated([C.UNIT, C.SECTION, C.ROUND]).any()
    assert len(year.platform) + len(year.inspection) + len(year.bonus) == 3000
    assert len(year.platform) == 1800 and len(year.inspection) == 750 and len(year.bonus) == 450
    assert len(year.supervisor) == 363 - 8
    # Exempt sections get no data at all.
    keys = participating(year, flags)
    for name in ("votes", "platform", "supervisor", "inspection", "bonus"):
        assert keyset(getattr(year, name)) <= keys, name


def test_sizes_follow_the_arguments(sections):
    small = synthetic_year(sections, votes=20_000, events=300, seed=5)
    assert int(small.votes[COUNTS].to_numpy().sum()) == 20_000
    assert len(small.platform) + len(small.inspection) + len(small.bonus) == 300
    nothing = synthetic_year(sections.iloc[:30], votes=0, events=0, seed=5)
    assert nothing.votes.empty and nothing.platform.empty and nothing.bonus.empty and nothing.inspection.empty
    score_year(nothing, S)  # scores (with warnings) all the same


def test_supervisor_scores_keep_the_tier_rule(year, flags):
    sup = year.supervisor
    assert tier_problems(sup, S) == []
    assert keyset(sup) == participating(year, flags)
    assert sup[C.SCORE].between(0, 5).all()
    assert (sup[C.SCORE].round(1) == sup[C.SCORE]).all()
    # Every tier is used somewhere.
    assert (sup[C.SCORE] >= 4).any() and sup[C.SCORE].between(3, 3.9).any() and (sup[C.SCORE] < 3).any()


def test_blending_cases_are_present(year, flags):
    keys = pd.MultiIndex.from_tuples(sorted(participating(year, flags)))
    for rnd in (C.H1, C.H2):
        rows = year.votes[year.votes[C.ROUND] == rnd]
        n = rows.groupby([C.UNIT, C.SECTION])[COUNTS].sum().sum(axis=1).reindex(keys, fill_value=0)
        assert (n >= 30).mean() > 0.95
    both = year.votes.groupby([C.UNIT, C.SECTION, C.ROUND])[COUNTS].sum().sum(axis=1)
    both = both.unstack(C.ROUND).reindex(keys).fillna(0)
    assert 3 <= ((both > 0) & (both < 30)).to_numpy().sum() <= 10
    assert 1 <= (both == 0).to_numpy().sum() <= 2
    card = score_year(year, S)
    assert any("不足 30 票" in w for ws in card.sections[C.WARNINGS] for w in ws)
    assert any("无投票" in w for ws in card.sections[C.WARNINGS] for w in ws)


def test_satisfaction_varies_by_section(year):
    v = year.votes
    rate = (v[C.VOTES_S] + 0.6 * v[C.VOTES_B]) / v[COUNTS].sum(axis=1)
    big = v[COUNTS].sum(axis=1) >= 100
    assert rate[big].min() < 0.88 < 0.97 < rate[big].max()
    assert (v[C.VOTES_U] > 0).mean() > 0.5


def test_platform_events_are_valid(year):
    p = year.platform
    conduct, handling, complaint = (p[C.ITEM] == item for item in (C.CONDUCT, C.HANDLING, C.COMPLAINT))
    assert (p.loc[conduct | handling, C.PLATFORM] == C.HOTLINE).all()
    assert (p.loc[complaint, C.PLATFORM] == C.SUPERVISION_NET).all()
    assert p.loc[conduct, C.DEDUCTION].between(3, 5).all()
    assert set(p.loc[handling, C.DEDUCTION]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert (p.loc[complaint, C.DEDUCTION] == 1).all()
    assert (p.loc[~handling, C.ROLE] == C.LEAD).all()
    assert 0.05 < (p.loc[handling, C.ROLE] == C.CO).mean() < 0.3
    assert conduct.any() and complaint.any()


def test_inspection_events_are_valid(year):
    i = year.inspection
    start, end = evaluation_window(year.year, S)
    case = i[C.KIND] == C.CASE
    assert set(i[C.KIND]) == {C.COUNTY, C.CITY_LEVEL, C.VERIFIED_COMPLAINT, C.CASE}
    assert 3 <= case.sum() <= 20
    assert i.loc[case, C.PERSON].isin([C.PRINCIPAL, C.DEPUTY, C.STAFF, C.COLLECTIVE]).all()
    assert not i.loc[case, C.SERIOUS].any()
    assert i.loc[~case, C.PERSON].isna().all() and not i.loc[~case, C.CURRENT_YEAR].any()
    assert 0.03 < i.loc[~case, C.SERIOUS].mean() < 0.2
    inside = i[C.DATE].between(start, end)
    assert inside[case].any() and not inside[case].all()
    assert inside[~case].all()


def test_bonus_events_are_valid(year):
    b = year.bonus
    start, end = evaluation_window(year.year, S)
    for kind, levels in L.BONUS_LEVELS.items():
        assert b.loc[b[C.KIND] == kind, C.LEVEL].isin(list(levels)).all()
    assert (b[C.MATTER].str.len() > 4).all()
    same = b.groupby([C.UNIT, C.SECTION, C.KIND, C.MATTER])[C.LEVEL].nunique()
    assert (same >= 2).sum() >= 10  # the same matter at two levels
    inside = b[C.DATE].between(start, end)
    assert 0.85 < inside.mean() < 1.0


def test_per_vote_form_agrees_with_counts(sections, year):
    per_vote = synthetic_year(sections, per_vote=True)
    assert len(per_vote.votes) == 200_000
    assert set(per_vote.votes[C.CHOICE]) == {C.CHOICE_S, C.CHOICE_B, C.CHOICE_U}
    pd.testing.assert_frame_equal(sorted_counts(per_vote.votes), sorted_counts(year.votes))
    for name in ("sections", "history", "platform", "supervisor", "inspection", "bonus"):
        pd.testing.assert_frame_equal(getattr(per_vote, name), getattr(year, name))


def test_ballots_rate_everyone_with_10_satisfied_and_10_unsatisfied(listed):
    assert len(listed) == 110 and listed[C.SHORTLIST].value_counts()[C.PREVIOUS_UNSATISFIED] == 10
    ballots = synthetic_network(listed, 500, seed=0, per_vote=True)
    assert len(ballots) == 500 * 110
    per_ballot = ballots.groupby([BALLOT, C.CHOICE], observed=True).size().unstack(C.CHOICE)
    assert len(per_ballot) == 500
    assert (per_ballot[C.CHOICE_S] == 10).all() and (per_ballot[C.CHOICE_U] == 10).all()
    assert (per_ballot[C.CHOICE_B] == 90).all()
    assert not ballots.duplicated([BALLOT, C.UNIT, C.SECTION]).any()

    counts = synthetic_network(listed, 500, seed=0)
    assert len(counts) == 110 and (counts[COUNTS].sum(axis=1) == 500).all()
    pd.testing.assert_frame_equal(sorted_counts(ballots), sorted_counts(counts))
    # Better sections are picked as satisfied more often.
    quality = section_quality(listed, 0)
    assert np.corrcoef(quality, counts[C.VOTES_S])[0, 1] > 0.5
    assert np.corrcoef(quality, counts[C.VOTES_U])[0, 1] < -0.5


def test_ballots_over_a_short_shortlist():
    listed = pd.DataFrame({C.UNIT: ["甲"] * 15, C.SECTION: [f"科{i}" for i in range(15)]})
    counts = synthetic_network(listed, 40, seed=2)
    assert counts[C.VOTES_S].sum() == 40 * 10 and counts[C.VOTES_U].sum() == 40 * 5
    assert counts[C.VOTES_B].sum() == 0


def test_a_whole_year_with_its_online_round(sections):
    year = synthetic_year(sections, votes=50_000, events=1000, ballots=1000, seed=2, network=True)
    net = year.votes[year.votes[C.ROUND] == C.NET]
    assert len(net) == 110 and (net[COUNTS].sum(axis=1) == 1000).all()
    card = score_year(year, S)
    assert card.network_held
    results = card.sections[C.RESULT].value_counts()
    assert results[C.SATISFIED] == 10 and results[C.MOST_UNSATISFIED] == 3
    assert results[C.UNSATISFIED] + results[C.MOST_UNSATISFIED] == 10


def test_bundle_files_have_the_spec_headers(tmp_path, year, listed):
    network = synthetic_network(listed, 100, seed=0, per_vote=True)
    write_bundle(year, tmp_path, network=network)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.csv" for name in FRAMES)
    files = {}
    for name in FRAMES:
        data = (tmp_path / f"{name}.csv").read_bytes()
        assert data.startswith(b"\xef\xbb\xbf"), name
        files[name] = pd.read_csv(tmp_path / f"{name}.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
        assert list(files[name].columns) == HEADERS[name], name
    assert HEADERS["platform"] == ["单位名称", "科室", "平台", "项目", "扣分", "承办"]
    assert HEADERS["inspection"] == ["单位名称", "科室", "类型", "严重", "人员", "本年度", "日期"]
    assert len(files["sections"]) == 363 and len(files["supervisor"]) == 355
    assert set(files["history"]["结果"]) == {"满意单位", "不满意单位", "最不满意单位"}
    votes = files["votes"]
    assert set(votes["轮次"]) == {"H1", "H2", "NET"}
    assert (votes["轮次"] == "NET").sum() == 110
    assert votes[votes["轮次"] != "NET"][["满意", "基本满意", "不满意"]].astype(int).to_numpy().sum() == 200_000
    assert set(files["platform"]["平台"]) == {"投诉举报", "网络监督"}
    assert set(files["platform"]["项目"]) == {"作风投诉", "办理评价", "有效投诉"}
    assert set(files["platform"]["承办"]) == {"主办", "协办"}
    inspection = files["inspection"]
    assert set(inspection["类型"]) == {"县级查实", "市级查实", "投诉查实", "立案查处"}
    assert set(inspection["严重"]) == {"是", "否"}
    cases = inspection["类型"] == "立案查处"
    assert set(inspection.loc[cases, "本年度"]) == {"是", "否"} and set(inspection.loc[~cases, "人员"]) == {""}
    assert inspection["日期"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    bonus = files["bonus"]
    assert set(bonus["类型"]) == {"表彰", "宣传"}
    assert set(bonus["级别"]) <= {"国家级", "省部级", "市厅级", "中央", "省级", "市级"}
    assert bonus["日期"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert files["supervisor"]["分值"].str.fullmatch(r"\d\.\d").all()


def test_empty_event_frames_write_no_file(tmp_path, sections):
    year = synthetic_year(sections.iloc[:60], votes=3000, events=0, seed=1)
    write_bundle(year, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "sections.csv", "supervisor.csv", "votes.csv"]


def test_the_bundle_reader_reads_it_back(tmp_path, sections):
    from voting.components.bundle import read_bundle

    year = synthetic_year(sections, votes=60_000, events=2000, seed=4, per_vote=True)
    network = synthetic_network(shortlist(year), 300, seed=4)
    write_bundle(year, tmp_path, network=network)
    back, warnings = read_bundle(tmp_path)
    assert back.year == year.year and warnings == []
    whole = YearInputs(**{**vars(year), "votes": pd.concat([tally(year.votes), network], ignore_index=True)})
    expected, got = score_year(whole, S).sections, score_year(back, S).sections
    shown = [C.EXEMPT, C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION, C.DAILY, C.NETWORK, C.BONUS,
             C.TOTAL, C.SHORTLIST, C.RESULT]
    pd.testing.assert_frame_equal(expected[[C.UNIT, C.SECTION, *shown]], got[[C.UNIT, C.SECTION, *shown]])
