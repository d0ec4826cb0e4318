"""A fixed candidate list (the review office's, once the online round begins) holds
when a daily-stage figure is corrected afterwards: the engine keeps it, says which
sections the daily scores would now place differently, and scores the online round
over it. Without one, the shortlist follows the daily scores as before."""
from __future__ import annotations

import dataclasses

import pandas as pd

from scoring import columns as C
from scoring.engine import score_year
from scoring.settings import PINGYANG_2021
from voting.demo.synthetic import pingyang_sections, synthetic_year


def year():
    return synthetic_year(pingyang_sections(), 2021, votes=60_000, events=600, seed=3, network=True)


def listed(card) -> pd.Series:
    frame = card.sections.set_index([C.UNIT, C.SECTION])[C.SHORTLIST]
    return frame[frame.notna()]


def test_a_fixed_list_holds_when_a_daily_figure_moves():
    inputs = year()
    before = score_year(inputs, PINGYANG_2021)
    fixed = listed(before).rename_axis([C.UNIT, C.SECTION]).reset_index()
    # The lowest satisfied candidate loses 4 supervisor points: by its daily score it
    # would now fall out of the satisfied candidates.
    ranked = before.sections[before.sections[C.SHORTLIST] == C.SATISFIED_CANDIDATE].sort_values(C.DAILY)
    weakest = tuple(ranked.iloc[0][[C.UNIT, C.SECTION]])
    supervisor = inputs.supervisor.copy()
    hit = (supervisor[C.UNIT] == weakest[0]) & (supervisor[C.SECTION] == weakest[1])
    supervisor.loc[hit, C.SCORE] = supervisor.loc[hit, C.SCORE] - 4
    network = inputs.votes[inputs.votes[C.ROUND] == C.NET]
    daily_only = dataclasses.replace(inputs, supervisor=supervisor, votes=inputs.votes[inputs.votes[C.ROUND] != C.NET])
    moved = score_year(daily_only, PINGYANG_2021)
    assert listed(moved).get(weakest) != C.SATISFIED_CANDIDATE  # the daily scores alone would move it

    corrected = dataclasses.replace(inputs, supervisor=supervisor, candidates=fixed)
    card = score_year(corrected, PINGYANG_2021)
    assert listed(card).sort_index().equals(listed(before).sort_index())
    assert any("候选名单已确定" in w and weakest[1] in w for w in card.warnings)
    assert not [t for t in card.ties if t.stage == C.STAGE_SHORTLIST]
    # The online round is scored over the fixed candidates (its NET rows stay valid).
    assert len(network) and card.network_held
    assert card.sections.set_index([C.UNIT, C.SECTION]).loc[weakest, C.NETWORK] >= 0
    lowest = card.sections.loc[card.sections[C.SHORTLIST] == C.SATISFIED_CANDIDATE, C.DAILY].min()
    assert card.cutoffs[C.SATISFIED_CANDIDATE] == lowest


def test_the_same_list_fixed_changes_nothing():
    inputs = year()
    free = score_year(inputs, PINGYANG_2021)
    fixed = listed(free).rename_axis([C.UNIT, C.SECTION]).reset_index()
    card = score_year(dataclasses.replace(inputs, candidates=fixed), PINGYANG_2021)
    columns = [C.DAILY, C.NETWORK, C.TOTAL, C.SHORTLIST, C.RESULT]
    pd.testing.assert_frame_equal(card.sections[columns], free.sections[columns])
    assert not [w for w in card.warnings if "候选名单已确定" in w]
