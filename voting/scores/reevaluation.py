"""复评 (docs/rules.md §2.19): in June, the review office re-evaluates last year's
不满意单位 with a survey round of their own.

The round is the campaign's RoundKind.R (the campaign of the year it is held in, as the
June H1 round is), and it surveys the sections that last year's results, as the
history of earlier years holds them (docs/rules.md §2.12), name 不满意单位 or 最不满意单位:
the same sections the online round takes in directly. Lists, sampling, invitations,
votes and the phone survey are those of any round (voting/survey/rounds.py); the votes
are counted apart from the year's score (rounds.vote_counts) and judged here by
scoring/reevaluation.py: each section's rate × 100 against the pass rate (the
setting `reeval_pass_rate`, or else last year's mean, from last year's campaign when
this database holds it).

Nothing is stored: the outcomes are worked out from the votes whenever they are asked
for, like every score. Last year's consequences (voting/scores/consequences.py) read
them by the sections' names (compared folded, as the history is).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring import columns as C
from scoring import reevaluation as R
from scoring.engine import Scorecard
from voting.core.tables import fold
from voting.lists.history import section_statuses
from voting.lists.models import Campaign, RoundKind
from voting.survey.models import RoundStatus, SurveyRound
from voting.survey.rounds import live_round, vote_counts
from voting.survey.votes import is_open


@dataclass(frozen=True)
class Row:
    """One re-evaluated section of the campaign, with its outcome."""

    section_id: int
    outcome: R.Outcome


@dataclass
class Reevaluation:
    """The campaign's 复评: its round (None until set up), the pass rate and where it
    comes from, and every section it re-evaluates."""

    campaign: Campaign
    survey: SurveyRound | None
    threshold: float | None  # the pass rate × 100; None: not known (no setting, no last year's votes)
    from_setting: bool  # the county's `reeval_pass_rate`, not last year's mean
    earlier: Campaign | None  # last year's campaign, when this database holds it
    rows: list[Row]

    @property
    def decided(self) -> bool:
        """The round has ended: the outcomes are final."""
        return ended(self.survey)

    def marks(self, section_id: int) -> list[str]:
        """A section's marks (整改未合格, 复评仍不满意); none for a section not re-evaluated."""
        return next((row.outcome.marks for row in self.rows if row.section_id == section_id), [])


def ended(survey: SurveyRound | None) -> bool:
    """The round took its answers and takes no more (closed, or past its closing time)."""
    return survey is not None and survey.status in (RoundStatus.open, RoundStatus.closed) and not is_open(survey)


def earlier_campaign(session: Session, campaign: Campaign) -> Campaign | None:
    """Last year's campaign in this database, if any."""
    return session.scalar(select(Campaign).where(Campaign.year == campaign.year - 1))


def later_campaign(session: Session, campaign: Campaign) -> Campaign | None:
    """Next year's campaign in this database, if any: the one whose 复评 judges this year's 不满意单位."""
    return session.scalar(select(Campaign).where(Campaign.year == campaign.year + 1))


def reevaluation(session: Session, campaign: Campaign, earlier_card: Scorecard | None) -> Reevaluation:
    """The campaign's 复评 as it stands. `earlier_card`: last year's scorecard (for the
    default pass rate), None when this database does not hold last year."""
    statuses = section_statuses(session, campaign)
    sections = statuses[statuses[C.PREVIOUS_UNSATISFIED].astype(bool)]
    survey = live_round(session, campaign, RoundKind.R)
    counts = vote_counts(session, campaign, (RoundKind.R,))
    by_section = {(u, s): (int(a), int(b), int(c)) for u, s, a, b, c in zip(
        counts[C.UNIT], counts[C.SECTION], counts[C.VOTES_S], counts[C.VOTES_B], counts[C.VOTES_U])}
    rules = campaign.rules
    if rules.reeval_pass_rate is not None or earlier_card is None:
        threshold = rules.reeval_pass_rate
    else:
        threshold = R.default_pass_rate(earlier_card.round_means, earlier_card.settings)
    found = R.outcomes(zip(sections["unit"], sections["section"]), by_section, threshold, ended(survey), rules)
    return Reevaluation(
        campaign, survey, threshold, rules.reeval_pass_rate is not None, earlier_campaign(session, campaign),
        [Row(int(i), outcome) for i, outcome in zip(sections["id"], found)],
    )


def outcomes_of_year(session: Session, campaign: Campaign, card: Scorecard) -> dict[tuple[str, str], bool | None]:
    """This year's 不满意单位's 复评 outcomes, held in next year's campaign, by this year's
    (unit, section) names: True passed, False still 不满意, None not decided (or no
    vote); empty while next year's campaign does not exist."""
    later = later_campaign(session, campaign)
    if later is None:
        return {}
    held = reevaluation(session, later, card)
    by_folded = {(fold(row.outcome.unit), fold(row.outcome.section)): row.outcome.passed for row in held.rows}
    names = zip(card.sections[C.UNIT], card.sections[C.SECTION])
    return {(str(u), str(s)): by_folded[(fold(u), fold(s))] for u, s in names if (fold(u), fold(s)) in by_folded}
