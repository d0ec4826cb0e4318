"""Small hand-made years for the scoring tests: every section gets the same votes
unless a test says otherwise, so a test controls the daily score through the
supervisor score (daily = 50 + 10 + supervisor + 20 when nothing else happens)."""
from __future__ import annotations

import math
import re

import pandas as pd

from scoring import columns as C
from scoring.components import fmt
from scoring.engine import YearInputs

VOTE_COLUMNS = [C.UNIT, C.SECTION, C.ROUND, C.VOTES_S, C.VOTES_B, C.VOTES_U]
PLATFORM_COLUMNS = [C.UNIT, C.SECTION, C.PLATFORM, C.ITEM, C.DEDUCTION, C.ROLE]
INSPECTION_COLUMNS = [C.UNIT, C.SECTION, C.KIND, C.SERIOUS, C.PERSON, C.CURRENT_YEAR, C.DATE]
BONUS_COLUMNS = [C.UNIT, C.SECTION, C.KIND, C.LEVEL, C.MATTER, C.DATE]


def names(n: int, per_unit: int = 3) -> list[tuple[str, str]]:
    return [(f"单位{i // per_unit:02d}", f"科室{i:03d}") for i in range(n)]


def year(
    keys: list[tuple[str, str]],
    *,
    supervisor: dict | list | None = None,
    votes: list[tuple] | None = None,
    uniform_votes: tuple[int, int, int] | None = (40, 0, 0),
    platform: list[tuple] = (),
    inspection: list[tuple] = (),
    bonus: list[tuple] = (),
    history: list[tuple] = (),
    net: dict | None = None,
    decisions: list[tuple] | None = None,
    year_: int = 2021,
) -> YearInputs:
    rows = []
    if uniform_votes is not None:
        for unit, section in keys:
            for rnd in (C.H1, C.H2):
                rows.append((unit, section, rnd, *uniform_votes))
    rows += list(votes or [])
    if net:
        rows += [(u, s, C.NET, *counts) for (u, s), counts in net.items()]
    if supervisor is None:
        supervisor = {}
    if isinstance(supervisor, list):
        supervisor = dict(zip(keys, supervisor))
    return YearInputs(
        year=year_,
        sections=pd.DataFrame(keys, columns=[C.UNIT, C.SECTION]),
        history=pd.DataFrame(list(history), columns=[C.YEAR, C.UNIT, C.SECTION, C.RESULT]),
        votes=pd.DataFrame(rows, columns=VOTE_COLUMNS),
        platform=pd.DataFrame(list(platform), columns=PLATFORM_COLUMNS),
        supervisor=pd.DataFrame([(u, s, v) for (u, s), v in supervisor.items()], columns=[C.UNIT, C.SECTION, C.SCORE]),
        inspection=pd.DataFrame(list(inspection), columns=INSPECTION_COLUMNS),
        bonus=pd.DataFrame(list(bonus), columns=BONUS_COLUMNS),
        decisions=None if decisions is None else pd.DataFrame(decisions, columns=[C.UNIT, C.SECTION, C.RESULT, C.TEXT]),
    )


def row(card, key: tuple[str, str]) -> pd.Series:
    frame = card.sections
    return frame[(frame[C.UNIT] == key[0]) & (frame[C.SECTION] == key[1])].iloc[0]


def listed(card, column: str, value: str) -> set[tuple[str, str]]:
    frame = card.sections[card.sections[column] == value]
    return set(zip(frame[C.UNIT], frame[C.SECTION]))


# ---- explanations ----------------------------------------------------------------------
# A line states its formula with its numbers ("(12 + 0.6 × 5) ÷ 20 × 15 = 11.25 分"): the
# arithmetic between the last full-width ":,;" and "=" is the formula, the labels in it
# ("平均分 21.5 × 70%") are read past.

_FORMULA = re.compile(r"([^:,;，：；]*)=\s*(-?\d+(?:\.\d+)?) 分")
_FIRST_POINTS = re.compile(r"([^:,;，：；]*?)(-?\d+(?:\.\d+)?) 分")
_OPERATORS = str.maketrans({"−": "-", "×": "*", "÷": "/"})


def formulas(text: str) -> list[tuple[str, float, float]]:
    """Each formula of an explanation: (as written, worked out from the numbers shown,
    the result it states)."""
    found = []
    for written, stated in _FORMULA.findall(text):
        arithmetic = re.sub(r"[^\d.+\-−×÷()% ]", "", written).translate(_OPERATORS).replace("%", "/100").strip()
        assert re.fullmatch(r"[\d.+\-*/() ]+", arithmetic), (text, written)
        found.append((written.strip(), eval(arithmetic, {"__builtins__": {}}), float(stated)))
    return found


def stated_points(text: str) -> float:
    """The points a line states: its last formula's result, else its first "x 分", else 0
    ("不扣分"); negative where that clause deducts (扣, 减)."""
    found = list(_FORMULA.finditer(text)) or list(_FIRST_POINTS.finditer(text))[:1]
    if not found:
        return 0.0
    clause, value = found[-1].groups()
    return -float(value) if re.search("[扣减]", clause) else float(value)


def check_formulas(lines: pd.DataFrame) -> None:
    """Every formula of every line works out (to the rounding of the numbers shown), and
    every line states its POINTS, rounded as shown."""
    for text, points in zip(lines[C.TEXT], lines[C.POINTS]):
        for written, worked, stated in formulas(text):
            assert math.isclose(worked, stated, abs_tol=1e-3), f"{text}: {written} = {worked}"
        assert float(fmt(points)) == stated_points(text), f"{text}: {points}"
