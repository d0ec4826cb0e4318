"""Shortlist and final lists (docs/rules.md §2, decisions): ranking with the tie-break
chain, cut-offs that never break a tie silently.

A tie that survives the whole chain at a cut-off is reported (a `Tie`), and until the
review office resolves it the tied sections all go to the side that does them no harm:
into the satisfied candidates or the 满意单位 proposals, out of the unsatisfied
candidates, the 不满意单位 and the 最不满意单位 proposals. The engine never punishes on
a coin toss.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import pandas as pd

from scoring import columns as C
from scoring.rounding import rank_key

# After the primary score (daily for the shortlist, total for the final lists).
TIE_BREAKERS = (C.SERVICE, C.INSPECTION, C.PLATFORM_SCORE)


@dataclass(frozen=True)
class Cut:
    chosen: pd.Index  # the sections on the list
    tied: pd.Index  # the unresolved tie straddling the cut-off (empty if none)


def order(frame: pd.DataFrame, primary: str, best_first: bool, decimals: int = 6) -> pd.DataFrame:
    """`frame` sorted by the chain (primary, then service, inspection, platform), each
    rounded to `decimals`, best first or worst first; the chain's keys are returned in
    columns "_k0" … so that equal chains can be found."""
    chain = (primary, *TIE_BREAKERS)
    keyed = frame.assign(**{f"_k{i}": rank_key(frame[c], decimals) for i, c in enumerate(chain)})
    names = [f"_k{i}" for i in range(len(chain))]
    # Sorting by the index last makes the order of fully tied sections independent of
    # the input's row order (it never decides anything: ties are reported).
    keyed = keyed.assign(_unit=keyed.index.get_level_values(0), _section=keyed.index.get_level_values(1))
    return keyed.sort_values(names + ["_unit", "_section"], ascending=[not best_first] * len(names) + [True, True])


def cut(ordered: pd.DataFrame, k: int, include_ties: bool) -> Cut:
    """The first `k` of an ordered frame (from `order`). If the sections at positions
    k and k+1 have the same chain, the whole group of that chain is the tie: all of it
    is on the list when `include_ties`, none of it otherwise."""
    keys = [c for c in ordered.columns if c.startswith("_k")]
    if k <= 0 or ordered.empty:
        return Cut(ordered.index[:0], ordered.index[:0])
    if k >= len(ordered):
        return Cut(ordered.index, ordered.index[:0])
    last = tuple(ordered[keys].iloc[k - 1])
    after = tuple(ordered[keys].iloc[k])
    if last != after:
        return Cut(ordered.index[:k], ordered.index[:0])
    same = (ordered[keys] == pd.Series(last, index=keys)).all(axis=1).to_numpy()
    tied = ordered.index[same]
    before = ordered.index[:k].difference(tied, sort=False)
    chosen = before.append(tied) if include_ties else before
    return Cut(chosen, tied)


def split_shortlist(available: int, satisfied: int, unsatisfied: int) -> tuple[int, int]:
    """How many satisfied and unsatisfied candidates `available` sections give: the set
    numbers when there are enough, otherwise all of them, split in the same proportion."""
    if available >= satisfied + unsatisfied:
        return satisfied, unsatisfied
    want = satisfied + unsatisfied
    n_satisfied = -(-available * satisfied // want) if want else 0  # ceil
    return n_satisfied, available - n_satisfied


ABOVE, BETWEEN, BELOW = "above", "between", "below"


def cutoff_zone(value: float, cutoffs: Mapping[str, float], decimals: int = 6) -> str:
    """Where a daily score lies against the shortlist cut-offs (`Scorecard.cutoffs`):
    ABOVE at or above the satisfied candidates' lowest score, BELOW at or below the
    unsatisfied candidates' highest, else BETWEEN; compared rounded like ranks, and a
    NaN cut-off (no such list) never matches."""
    value = round(float(value), decimals)
    high = cutoffs.get(C.SATISFIED_CANDIDATE, math.nan)
    low = cutoffs.get(C.UNSATISFIED_CANDIDATE, math.nan)
    if high is not None and not math.isnan(high) and value >= round(high, decimals):
        return ABOVE
    if low is not None and not math.isnan(low) and value <= round(low, decimals):
        return BELOW
    return BETWEEN
