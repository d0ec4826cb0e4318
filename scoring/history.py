"""What earlier years' results mean for this year (docs/rules.md §2, decisions)."""
from __future__ import annotations

import pandas as pd

from scoring.columns import (
    EXEMPT,
    MOST_UNSATISFIED,
    PREVIOUS_UNSATISFIED,
    RESULT,
    SATISFIED,
    SECTION,
    UNIT,
    UNSATISFIED,
    YEAR,
)
from scoring.settings import RuleSettings


def _keys(frame: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(frame[[UNIT, SECTION]])


def exempt_sections(
    sections: pd.DataFrame, history: pd.DataFrame, year: int, settings: RuleSettings
) -> pd.Series:
    """免评: rated 满意单位 in each of the `exemption_years` years before `year`
    (Pingyang 2021: "2019年度、2020年度连续两年被评为满意单位的参评科室予以免评")."""
    years = set(range(year - settings.exemption_years, year))
    satisfied = history[(history[RESULT] == SATISFIED) & history[YEAR].isin(years)]
    counts = satisfied.drop_duplicates([YEAR, UNIT, SECTION]).groupby([UNIT, SECTION]).size()
    exempt_keys = counts[counts == len(years)].index
    return pd.Series(_keys(sections).isin(exempt_keys), index=sections.index, name=EXEMPT)


def previous_unsatisfied(sections: pd.DataFrame, history: pd.DataFrame, year: int) -> pd.Series:
    """Last year's 不满意单位 (最不满意单位 included) enter the online round directly."""
    last = history[(history[YEAR] == year - 1) & history[RESULT].isin([UNSATISFIED, MOST_UNSATISFIED])]
    flagged = _keys(sections).isin(_keys(last))
    return pd.Series(flagged, index=sections.index, name=PREVIOUS_UNSATISFIED)


def history_flags(
    sections: pd.DataFrame, history: pd.DataFrame, year: int, settings: RuleSettings
) -> pd.DataFrame:
    """`sections` (unit, section) with the two flags; an exempt section is never also
    previous-unsatisfied (it cannot have been both)."""
    out = sections[[UNIT, SECTION]].copy()
    out[EXEMPT] = exempt_sections(sections, history, year, settings)
    out[PREVIOUS_UNSATISFIED] = previous_unsatisfied(sections, history, year) & ~out[EXEMPT]
    return out
