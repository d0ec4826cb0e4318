"""主管单位评价 (docs/rules.md §2): each unit scores its own sections with one decimal
in three tiers, 优秀 [4, 5], 良好 [3, 3.9], 一般 [0, 3); with n sections, each tier
holds ⌊n/3⌋ or ⌊n/3⌋ + 1 of them."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from scoring import columns as C
from scoring.components import fmt
from scoring.settings import RuleSettings

EXCELLENT, GOOD, FAIR = "优秀", "良好", "一般"
TIERS = (EXCELLENT, GOOD, FAIR)


def tier_of(score: float, settings: RuleSettings) -> str:
    """The tier a score falls in (scores are one decimal, so 3.9 is the top of 良好)."""
    if score >= settings.supervisor_excellent_min:
        return EXCELLENT
    if score >= settings.supervisor_good_min:
        return GOOD
    return FAIR


def tier_text(score: float, settings: RuleSettings) -> str:
    """The tier a score is in, with the tier's range: "优秀档:4 至 5 分"."""
    s = settings
    tier = tier_of(score, s)
    if tier == EXCELLENT:
        return f"{tier}档：{fmt(s.supervisor_excellent_min)} 至 {fmt(s.supervisor_points)} 分"
    if tier == GOOD:
        return f"{tier}档：{fmt(s.supervisor_good_min)} 至 {fmt(s.supervisor_good_max)} 分"
    return f"{tier}档：低于 {fmt(s.supervisor_good_min)} 分"


def tier_bounds(n: int) -> tuple[int, int]:
    """How many of a unit's n sections each tier may hold: ⌊n/3⌋ to ⌊n/3⌋ + 1, and no
    more than the other two tiers' minimums leave (n = 3: exactly one each)."""
    low = n // 3
    return low, min(low + 1, n - 2 * low)


def score_problem(score: float, settings: RuleSettings) -> str | None:
    """Why a single score is not a valid supervisor score, or None."""
    if not 0 <= score <= settings.supervisor_points:
        return f"分值 {score:g} 超出范围：应在 0 到 {settings.supervisor_points:g} 之间"
    if round(score, 1) != round(score, 6):
        return f"分值 {score:g} 只能保留一位小数"
    return None


@dataclass(frozen=True)
class TierProblem:
    unit: str
    tier: str
    count: int
    low: int
    high: int

    @property
    def message(self) -> str:
        n_text = f"{self.low} 到 {self.high} 个" if self.low != self.high else f"{self.low} 个"
        diff = f"多了 {self.count - self.high} 个" if self.count > self.high else f"少了 {self.low - self.count} 个"
        return f"{self.unit}：{self.tier}档有 {self.count} 个科室，应为 {n_text}，{diff}"


def tier_problems(scores: pd.DataFrame, settings: RuleSettings) -> list[TierProblem]:
    """Every unit whose scores break the tier distribution. `scores` holds UNIT and
    SCORE, one row per participating (non-exempt) section scored; n is the number of
    those rows per unit."""
    problems: list[TierProblem] = []
    if scores.empty:
        return problems
    tiers = scores[C.SCORE].map(lambda s: tier_of(float(s), settings))
    counts = pd.crosstab(scores[C.UNIT], tiers).reindex(columns=list(TIERS), fill_value=0)
    for unit, row in counts.iterrows():
        low, high = tier_bounds(int(row.sum()))
        for tier in TIERS:
            if not low <= row[tier] <= high:
                problems.append(TierProblem(str(unit), tier, int(row[tier]), low, high))
    return problems
