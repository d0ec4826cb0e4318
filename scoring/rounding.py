"""Rounding as the office sees it (docs/rules.md §2): scores shown with 2 decimals
(supervisor 1), half up in decimal arithmetic as Excel does, and ranks on scores
rounded to 6 decimals so that float noise never decides a rank."""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd


def display(value: float | None, decimals: int = 2) -> Decimal | None:
    """The shown value: 28.095 + 10 + 29.75 + 15 + 15 + 6 is 103.84499999999999 in
    binary floats; Excel keeps 15 significant digits (103.845) and shows 103.85."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    exact = Decimal(format(float(value), ".15g"))
    return exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def display_text(value: float | None, decimals: int = 2) -> str:
    shown = display(value, decimals)
    return "" if shown is None else f"{shown:.{decimals}f}"


def rank_key(values: pd.Series, decimals: int = 6) -> pd.Series:
    """Scores for ranking and cut-offs: rounded to `decimals` (NaN stays NaN)."""
    return values.astype(float).round(decimals)


def competition_rank(values: pd.Series, decimals: int = 6, ascending: bool = False) -> pd.Series:
    """1, 2, 2, 4: equal (rounded) scores share the best rank; NaN gets no rank."""
    ranks = rank_key(values, decimals).rank(method="min", ascending=ascending)
    return ranks.astype("Int64")
