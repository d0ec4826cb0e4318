"""复评: the re-evaluation, in June of the next year, of each section the year's published
lists name 不满意单位 (docs/rules.md §2.19).

It is a service-object round (RoundKind.R) on those sections alone. A section's 复评
rate is the rate of §2.1 on its 复评 votes, × 100 (S, B, U its 满意, 基本满意, 不满意
votes):

    rate = (S × 1 + B × 0.6) ÷ (S + B + U) × 100

with no blending (§2.4 is about the year's rounds). It passes when the rate reaches the
pass rate: the setting `reeval_pass_rate` when the county set one, otherwise the year's
mean unblended service-object rate, the mean of the two rounds' means of §2.4 (each the
unweighted mean of the unblended round scores, rate × 25, of the participating
sections with votes) turned into a rate × 100: (mean H1 + mean H2) ÷ 2 ÷ 25 × 100. The
two are compared rounded to `rank_decimals` (6) decimals, as ranks are.

A section has an outcome only once the 复评 round is closed: passed (整改合格), failed
(复评仍不满意), or none when it had no vote (the office sees it as 未能复评). Until a pass
is recorded the section is marked 整改未合格.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scoring import columns as C
from scoring.settings import RuleSettings

PASSED, FAILED, NO_VOTES, WAITING = "passed", "failed", "no_votes", "waiting"
OUTCOME_LABELS = {PASSED: "复评合格", FAILED: "复评仍不满意", NO_VOTES: "未能复评（无投票）", WAITING: "待复评结果"}
NOT_RECTIFIED = "整改未合格"  # the mark of a 不满意单位 until its 复评 passes
STILL_UNSATISFIED = "复评仍不满意"


@dataclass(frozen=True)
class Outcome:
    """One re-evaluated section: its 复评 votes, rate (× 100, None without votes) and outcome."""

    unit: str
    section: str
    satisfied: int
    basic: int
    unsatisfied: int
    rate: float | None
    outcome: str  # PASSED, FAILED, NO_VOTES, WAITING

    @property
    def votes(self) -> int:
        return self.satisfied + self.basic + self.unsatisfied

    @property
    def passed(self) -> bool | None:
        """True passed, False failed, None no result (not closed, or no vote)."""
        return {PASSED: True, FAILED: False}.get(self.outcome)

    @property
    def marks(self) -> list[str]:
        """The section's marks: 整改未合格 until a pass, and 复评仍不满意 after a fail."""
        if self.outcome == PASSED:
            return []
        return [NOT_RECTIFIED, STILL_UNSATISFIED] if self.outcome == FAILED else [NOT_RECTIFIED]


def default_pass_rate(round_means: Mapping[str, float], settings: RuleSettings) -> float | None:
    """The year's mean unblended service-object rate × 100 from its rounds' means (rate ×
    25 each, NaN for a round without votes): the mean of the means there are; None
    when neither round had a vote."""
    means = [round_means[r] for r in (C.H1, C.H2) if r in round_means and not math.isnan(round_means[r])]
    if not means:
        return None
    return math.fsum(means) / len(means) / settings.service_round_points * 100


def pass_rate(round_means: Mapping[str, float], settings: RuleSettings) -> float | None:
    """The rate a section must reach: the setting, or else the year's mean (above)."""
    if settings.reeval_pass_rate is not None:
        return settings.reeval_pass_rate
    return default_pass_rate(round_means, settings)


def outcomes(sections: Iterable[tuple[str, str]], counts: Mapping[tuple[str, str], tuple[int, int, int]],
             threshold: float | None, closed: bool, settings: RuleSettings) -> list[Outcome]:
    """Each re-evaluated section's outcome from its 复评 counts (S, B, U; none: no vote),
    against `threshold` (pass_rate), once the round is `closed`."""
    found = []
    for unit, section in sections:
        s, b, u = counts.get((unit, section), (0, 0, 0))
        n = s + b + u
        rate = (s * settings.weight_satisfied + b * settings.weight_basic) / n * 100 if n else None
        if not closed or threshold is None:
            outcome = WAITING
        elif rate is None:
            outcome = NO_VOTES
        else:
            digits = settings.rank_decimals
            outcome = PASSED if round(rate, digits) >= round(threshold, digits) else FAILED
        found.append(Outcome(unit, section, s, b, u, rate, outcome))
    return found
