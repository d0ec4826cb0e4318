"""Small hand-made years for the scoring tests: every section gets the same votes
unless a test says otherwise, so a test controls the daily score through the
supervisor score (daily = 50 + 10 + supervisor + 20 when nothing else happens)."""
from __future__ import annotations

import pandas as pd

from scoring import columns as C
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
