"""A longer period's results from the scheme's own periods (docs/schemes.md §1,
`rollup`): month → quarter → half-year → year. Each entity's total and module points
are the mean (or the sum) of its periods' (a mean rounded half up to thousandths);
ranks and flags are taken again within each group; an entity vetoed in any of the
periods is vetoed for the longer one. Worked on the months' codes (`Result.table_codes`),
the names put back at the end, as the engine does."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scoring.schemes import exact
from scoring.schemes.columns import ENTITY, GROUP, INDICATOR, KIND, MODULE, NOTE, ORDER, PERIOD, POINTS, ROW, WINDOW
from scoring.schemes.engine import (BLOCKED, DEDUCTED, ROUNDED, TOTAL, VETOED, Codes, Result, blocked_flags,
                                    frame, module_column, ranked)
from scoring.schemes.rules import repeated

LEVELS = {"month": 1, "quarter": 3, "half-year": 6, "year": 12}


def months_of(period: str) -> list[str]:
    """The months a period label covers: 2023-Q1 → 2023-01…03, 2021-H2 → 2021-07…12."""
    year, _, part = period.partition("-")
    if not part:
        first, length = 1, 12
    elif part.startswith("Q"):
        first, length = (int(part[1]) - 1) * 3 + 1, 3
    elif part.startswith("H"):
        first, length = (int(part[1]) - 1) * 6 + 1, 6
    else:
        first, length = int(part), 1
    return [f"{year}-{month:02d}" for month in range(first, first + length)]


def _inside(label: str, period: str) -> bool:
    """Whether `label` (one of the scheme's periods) lies inside `period`."""
    wanted = set(months_of(period))
    return set(months_of(label)) <= wanted and label != period


def roll_up(result: Result, period: str) -> Result:
    """`period`'s results from the scheme's periods inside it that `result` holds."""
    scheme = result.scheme
    codes = result.table_codes()
    wanted = [code for code, label in enumerate(codes.periods) if _inside(label, period)]
    if not wanted:
        raise ValueError(f"没有 {period} 之内的考核期结果")
    inside = np.flatnonzero(np.isin(codes.period, wanted))  # the rows of those periods
    table = result.table
    # Each entity as a code from 0 in the order of its first row, and that row.
    entity, known = pd.factorize(codes.entity[inside])
    names = codes.entities[known]
    count = len(names)
    first = np.full(count, len(table))
    np.minimum.at(first, entity, inside)
    columns = [TOTAL, *(module_column(m.id) for m in scheme.modules)]
    flat = np.zeros(count * len(columns), dtype="int64")
    for at, column in enumerate(columns):
        np.add.at(flat, entity * len(columns) + at, table[column].to_numpy(dtype="int64")[inside])
    sums = flat.reshape(count, len(columns))
    if scheme.rollup != "sum":
        sums = _mean_half_up(sums, np.bincount(entity, minlength=count))
    # Vetoed, deducted (an item or a period's total below zero) or marked in any of its periods.
    totals = table[TOTAL].to_numpy(dtype="int64")[inside]
    marks = table[BLOCKED].to_numpy()[inside]
    blocked = np.flatnonzero(marks.astype(bool))
    rolled = {PERIOD: np.zeros(count, dtype="int64"), ENTITY: np.arange(count),
              **{column: table[column].to_numpy()[first] for column in (GROUP, KIND, ORDER, WINDOW)},
              **{column: sums[:, at] for at, column in enumerate(columns)},
              ROUNDED: exact.rounds_half_up(sums[:, 0], scheme.decimals),
              VETOED: _any(entity, table[VETOED].to_numpy(dtype=bool)[inside], count),
              DEDUCTED: _any(entity, table[DEDUCTED].to_numpy(dtype=bool)[inside] | (totals < 0), count),
              BLOCKED: blocked_flags(scheme, entity[blocked], marks[blocked], count)}
    warnings: list[str] = []
    rolled = ranked(scheme, rolled, names, warnings)
    rolled_codes = Codes(rolled[PERIOD], np.array([period], dtype=object), rolled[ENTITY], names)
    rolled.update({PERIOD: repeated(period, count), ENTITY: names[rolled_codes.entity]})
    # An item for each of its periods: the period's total (2023-02：102.5 分).
    heads = np.array([f"{label}：" for label in codes.periods], dtype=object)[codes.period[inside]]
    items = frame({PERIOD: repeated(period, len(totals)), ENTITY: names[entity],
                   MODULE: repeated("", len(totals)), INDICATOR: repeated("", len(totals)), POINTS: totals,
                   NOTE: exact.texts(totals, before=heads, after=" 分"),
                   ROW: pd.arrays.IntegerArray(np.zeros(len(totals), dtype="int64"), np.ones(len(totals), dtype=bool))})
    return Result(scheme, frame(rolled), items, result.measures.iloc[0:0], warnings, rolled_codes)


def _any(entity: np.ndarray, marked: np.ndarray, count: int) -> np.ndarray:
    """Whether each of `count` entities has a marked row (rows by entity code)."""
    found = np.zeros(count, dtype=bool)
    found[entity[marked]] = True
    return found


def _mean_half_up(sums: Any, counts: Any) -> Any:
    """Each row's sums ÷ its count, in thousandths, rounded half up (away from zero at
    .5, as `exact.mean`), on whole columns of integers (an array, or a frame and a
    series)."""
    means = exact.divide_half_up(np.asarray(sums, dtype="int64"), np.asarray(counts, dtype="int64")[:, None])
    return pd.DataFrame(means, index=sums.index, columns=sums.columns) if isinstance(sums, pd.DataFrame) else means
