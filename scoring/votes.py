"""服务对象评价 and 网络评价 from vote counts (docs/rules.md §2)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scoring import columns as C
from scoring.settings import RuleSettings

COUNTS = [C.VOTES_S, C.VOTES_B, C.VOTES_U]


def tally(votes: pd.DataFrame) -> pd.DataFrame:
    """Counts per (unit, section, round) from either form of the votes frame: one row
    per vote with CHOICE (how the platform stores them), or counts already (a
    docs/rules.md §6 votes.csv). Count rows for the same section and round add up."""
    keys = [C.UNIT, C.SECTION, C.ROUND]
    if C.CHOICE not in votes.columns:
        if votes.empty:
            return pd.DataFrame({**{k: pd.Series(dtype=object) for k in keys}, **{c: pd.Series(dtype="int64") for c in COUNTS}})
        return votes.groupby(keys, observed=True, sort=False)[COUNTS].sum().reset_index()
    # Hundreds of thousands of rows over a few hundred groups: integer codes and one
    # bincount instead of a groupby over strings.
    group = np.zeros(len(votes), dtype=np.int64)
    for key in keys:
        codes, uniques = pd.factorize(votes[key])
        group = group * (len(uniques) + 1) + codes
    group_ids, group_index = pd.factorize(group)
    choice_codes, choices = pd.factorize(votes[C.CHOICE])
    order = [C.CHOICE_S, C.CHOICE_B, C.CHOICE_U]
    position = np.array([order.index(c) if c in order else -1 for c in choices], dtype=np.int64)
    if (position < 0).any() or (choice_codes < 0).any():
        bad = [str(c) for c, p in zip(choices, position) if p < 0]
        raise ValueError(f"unknown choices: {bad or ['<missing>']}")
    counts = np.bincount(group_ids * 3 + position[choice_codes], minlength=len(group_index) * 3).reshape(-1, 3)
    firsts = _first_rows(group_ids, len(group_index))
    out = pd.DataFrame({k: np.asarray(votes[k])[firsts] for k in keys})
    for i, column in enumerate(COUNTS):
        out[column] = counts[:, i].astype("int64")
    return out


def _first_rows(group_ids: np.ndarray, groups: int) -> np.ndarray:
    """The first row of each group (groups numbered by first appearance)."""
    firsts = np.full(groups, -1, dtype=np.int64)
    # Reversed assignment leaves each group's smallest row index.
    order = np.arange(len(group_ids))[::-1]
    firsts[group_ids[::-1]] = order
    return firsts


def satisfaction_rate(s: pd.Series, b: pd.Series, u: pd.Series, settings: RuleSettings) -> pd.Series:
    """rate = (S·1 + B·0.6) / (S + B + U); NaN without votes."""
    n = (s + b + u).astype(float)
    rate = (s * settings.weight_satisfied + b * settings.weight_basic) / n.where(n > 0)
    return rate


def round_scores(counts: pd.DataFrame, settings: RuleSettings) -> tuple[pd.DataFrame, float]:
    """One service-object round for the participating sections (`counts` indexed by
    section, columns VOTES_S/B/U, zeros for sections without votes).

    Round score = rate × 25. Sub-30 blending: a section with fewer than 30 votes gets
    mean × 70 % + own × 30 %, where mean is the unweighted mean of the unblended
    scores of the sections with at least one vote; a section with no votes gets the
    mean. Returns columns n, own, score, blended and the mean (NaN if nobody voted)."""
    n = counts[COUNTS].sum(axis=1)
    own = satisfaction_rate(counts[C.VOTES_S], counts[C.VOTES_B], counts[C.VOTES_U], settings)
    own = own * settings.service_round_points
    voted = own[n > 0]
    # fsum: the mean must not depend on the order of the sections.
    mean = math.fsum(voted) / len(voted) if len(voted) else math.nan
    blended_value = mean * settings.blend_mean_share + own * settings.blend_own_share
    score = np.where(n >= settings.blend_min_votes, own, np.where(n > 0, blended_value, mean))
    out = pd.DataFrame(
        {"n": n, "own": own, "score": score, "blended": (n < settings.blend_min_votes) & (n > 0)},
        index=counts.index,
    )
    return out, mean


def network_scores(counts: pd.DataFrame, settings: RuleSettings) -> pd.Series:
    """网络评价 = rate × 15 over all ballots for the section; no blending; NaN without
    ballots."""
    rate = satisfaction_rate(counts[C.VOTES_S], counts[C.VOTES_B], counts[C.VOTES_U], settings)
    return rate * settings.network_points
