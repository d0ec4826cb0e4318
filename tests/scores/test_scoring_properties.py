"""Properties of the scoring (hypothesis): ranges, monotonicity, the shortlist, the
final lists, and independence from the order of the input rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings as hsettings, strategies as st

from scoring import columns as C
from scoring.engine import score_year
from scoring.settings import PINGYANG_2021
from scoring.votes import COUNTS, round_scores
from tests.support.scoring_inputs import check_formulas, names, year

S = PINGYANG_2021
SLOW = hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
IN = ["2020-12-01", "2021-06-30", "2021-11-30"]
OUT = ["2020-11-30", "2021-12-01"]

counts = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))


@st.composite
def years(draw, min_sections=3, max_sections=130):
    n = draw(st.integers(min_sections, max_sections))
    keys = names(n, per_unit=draw(st.integers(1, 8)))
    votes = [(*k, rnd, *draw(counts)) for k in keys for rnd in (C.H1, C.H2) if draw(st.booleans()) or True]
    pick = st.integers(0, n - 1)
    platform = [
        (*keys[draw(pick)], *draw(st.sampled_from([
            (C.HOTLINE, C.CONDUCT, draw(st.sampled_from([3, 4, 5])), C.LEAD),
            (C.HOTLINE, C.HANDLING, draw(st.sampled_from([1, 2, 3, 4, 5])), draw(st.sampled_from([C.LEAD, C.CO]))),
            (C.SUPERVISION_NET, C.COMPLAINT, 1, C.LEAD),
        ])))
        for _ in range(draw(st.integers(0, 3 * n)))
    ]
    inspection = []
    for _ in range(draw(st.integers(0, n))):
        if draw(st.booleans()):
            event = (C.CASE, False, draw(st.sampled_from([C.PRINCIPAL, C.DEPUTY, C.STAFF, C.COLLECTIVE])), draw(st.booleans()), draw(st.sampled_from(IN + OUT)))
        else:
            event = (draw(st.sampled_from([C.COUNTY, C.CITY_LEVEL, C.VERIFIED_COMPLAINT])), draw(st.booleans()), None, False, None)
        inspection.append((*keys[draw(pick)], *event))
    bonus = []
    for _ in range(draw(st.integers(0, n))):
        kind = draw(st.sampled_from([C.COMMENDATION, C.PUBLICITY]))
        level = draw(st.sampled_from([C.NATIONAL, C.PROVINCIAL, C.CITY] if kind == C.COMMENDATION else [C.CENTRAL, C.PROVINCIAL, C.CITY]))
        bonus.append((*keys[draw(pick)], kind, level, draw(st.sampled_from(["甲", "乙", "丙"])), draw(st.sampled_from(IN + OUT))))
    history = []
    for k in keys:
        fate = draw(st.sampled_from(["none"] * 6 + ["exempt", "previous", "most"]))
        if fate == "exempt":
            history += [(2019, *k, C.SATISFIED), (2020, *k, C.SATISFIED)]
        elif fate == "previous":
            history.append((2020, *k, C.UNSATISFIED))
        elif fate == "most":
            history.append((2020, *k, C.MOST_UNSATISFIED))
    supervisor = {k: draw(st.integers(0, 50)) / 10 for k in keys if draw(st.integers(0, 9))}
    inputs = year(keys, supervisor=supervisor, uniform_votes=None, votes=votes, platform=platform,
                  inspection=inspection, bonus=bonus, history=history)
    # The online round over whoever the daily stage shortlists.
    first = score_year(inputs, S)
    if draw(st.booleans()):
        shortlisted = first.sections[first.sections[C.SHORTLIST].notna()]
        net = [(u, s_, C.NET, *draw(counts)) for u, s_ in zip(shortlisted[C.UNIT], shortlisted[C.SECTION])]
        inputs.votes = pd.concat([inputs.votes, pd.DataFrame(net, columns=inputs.votes.columns)], ignore_index=True)
    return inputs


RANGES = {
    C.SERVICE_H1: 25, C.SERVICE_H2: 25, C.SERVICE: 50, C.PLATFORM_SCORE: 10, C.SUPERVISOR: 5,
    C.INSPECTION: 20, C.DAILY: 85, C.NETWORK: 15, C.BONUS: 5, C.TOTAL: 105,
}


@SLOW
@given(years())
def test_scores_stay_within_their_ranges(inputs):
    card = score_year(inputs, S)
    frame = card.sections
    for column, top in RANGES.items():
        values = frame[column].dropna()
        assert ((values >= -1e-9) & (values <= top + 1e-9)).all(), column
    participating = frame[~frame[C.EXEMPT]]
    assert participating[C.DAILY].notna().all()
    assert frame[frame[C.EXEMPT]][list(RANGES)].isna().all().all()
    sums = card.lines.groupby([C.UNIT, C.SECTION, C.COMPONENT])[C.POINTS].sum()
    for _, r in participating.iterrows():
        for component in (C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION, C.DAILY, C.BONUS, C.TOTAL):
            if component == C.TOTAL and pd.isna(r[C.TOTAL]):
                continue
            assert sums.get((r[C.UNIT], r[C.SECTION], component), 0.0) == pytest.approx(r[component], abs=1e-9)
    check_formulas(card.lines)


@hsettings(max_examples=200, deadline=None)
@given(st.lists(counts, min_size=1, max_size=40), st.data())
def test_one_more_satisfied_vote_never_lowers_a_round_score(rows, data):
    """…except across the 30-vote cliff the rules themselves draw (see test_scoring)."""
    target = data.draw(st.integers(0, len(rows) - 1))
    assume(sum(rows[target]) != S.blend_min_votes - 1)
    before = pd.DataFrame(rows, columns=COUNTS)
    after = before.copy()
    after.loc[target, C.VOTES_S] += 1
    b, _ = round_scores(before, S)
    a, _ = round_scores(after, S)
    # A round nobody voted in has no mean (NaN): the engine scores it 0.
    assert (np.nan_to_num(a["score"].to_numpy()) >= np.nan_to_num(b["score"].to_numpy()) - 1e-9).all()


@SLOW
@given(years(min_sections=60))
def test_the_shortlist(inputs):
    card = score_year(inputs, S)
    frame = card.sections
    short = frame[frame[C.SHORTLIST].notna()]
    assert not short[C.EXEMPT].any()
    assert not short.duplicated([C.UNIT, C.SECTION]).any()
    prev = frame[frame[C.PREVIOUS_UNSATISFIED].astype(bool) & ~frame[C.EXEMPT]]
    assert (prev[C.SHORTLIST] == C.PREVIOUS_UNSATISFIED).all()
    sat = short[short[C.SHORTLIST] == C.SATISFIED_CANDIDATE]
    unsat = short[short[C.SHORTLIST] == C.UNSATISFIED_CANDIDATE]
    rest = frame[frame[C.SHORTLIST].isna() & ~frame[C.EXEMPT]]
    shortlist_ties = [t for t in card.ties if t.stage == "shortlist"]
    available = len(frame) - frame[C.EXEMPT].sum() - len(prev)
    if available >= 100 and not shortlist_ties:
        assert len(sat) == len(unsat) == 50
        assert len(short) == 100 + len(prev)  # 110 with last year's ten
    key = lambda f: f[C.DAILY].round(6)  # noqa: E731
    if len(sat) and len(rest):
        assert key(sat).min() >= key(rest).max()
    if len(unsat) and len(rest):
        assert key(unsat).max() <= key(rest).min()
    for tie in shortlist_ties:
        lists = {frame.loc[(frame[C.UNIT] == u) & (frame[C.SECTION] == s_), C.SHORTLIST].iloc[0] for u, s_ in tie.sections}
        if tie.list == C.SATISFIED_CANDIDATE:
            assert lists == {C.SATISFIED_CANDIDATE}
        else:
            assert C.UNSATISFIED_CANDIDATE not in lists


@SLOW
@given(years(min_sections=30))
def test_final_lists(inputs):
    card = score_year(inputs, S)
    frame = card.sections
    if not card.network_held:
        assert frame[C.RESULT].isna().all() and frame[C.TOTAL].isna().all()
        return
    results = frame[frame[C.RESULT].notna()]
    assert results[C.SHORTLIST].notna().all()
    sat = results[results[C.RESULT] == C.SATISFIED]
    bad = results[results[C.RESULT].isin([C.UNSATISFIED, C.MOST_UNSATISFIED])]
    most = results[results[C.RESULT] == C.MOST_UNSATISFIED]
    total = lambda f: f[C.TOTAL].round(6)  # noqa: E731
    if len(sat) and len(bad):
        assert total(sat).min() >= total(bad).max()
    if len(most) and len(bad) > len(most):
        assert total(most).max() <= total(bad[bad[C.RESULT] == C.UNSATISFIED]).min()
    final_ties = [t for t in card.ties if t.stage == "final" and t.list != C.TOP_TIER]
    if not final_ties and frame[C.SHORTLIST].notna().sum() >= 20:
        assert len(sat) == 10 and len(bad) == 10 and len(most) == 3
    assert set(frame[frame[C.TOP_TIER]].index) <= set(sat.index)
    effects = card.units.set_index(C.UNIT)[C.EFFECT]
    expected = 5 * len(sat) - 5 * (len(bad) - len(most)) - 10 * len(most)
    assert effects.sum() == expected


def _shuffled(inputs, seed):
    rng = np.random.default_rng(seed)
    out = year([("x", "y")])  # a container; every frame is replaced
    out.year = inputs.year
    for name in ("sections", "history", "votes", "platform", "supervisor", "inspection", "bonus"):
        frame = getattr(inputs, name)
        setattr(out, name, frame.iloc[rng.permutation(len(frame))].reset_index(drop=True))
    out.decisions = inputs.decisions
    return out


@SLOW
@given(years(), st.integers(0, 2**32 - 1))
def test_results_do_not_depend_on_the_order_of_input_rows(inputs, seed):
    a = score_year(inputs, S)
    b = score_year(_shuffled(inputs, seed), S)
    left = a.sections.set_index([C.UNIT, C.SECTION]).sort_index()
    right = b.sections.set_index([C.UNIT, C.SECTION]).sort_index()
    numeric = list(RANGES) + [C.DAILY_RANK, C.TOTAL_RANK]
    pd.testing.assert_frame_equal(left[numeric].astype(float), right[numeric].astype(float), rtol=0, atol=1e-9)
    for column in (C.SHORTLIST, C.PROPOSED, C.RESULT, C.TOP_TIER, C.TWO_YEARS_UNSATISFIED):
        assert left[column].tolist() == right[column].tolist(), column
    assert sorted(map(sorted, left[C.WARNINGS])) == sorted(map(sorted, right[C.WARNINGS]))
    assert sorted(a.warnings) == sorted(b.warnings)
    assert a.units.set_index(C.UNIT).sort_index().equals(b.units.set_index(C.UNIT).sort_index())
