"""A longer period's results from the scheme's own periods (docs/schemes.md §1,
`rollup`): month → quarter → half-year → year. Each entity's total and module points
are the mean (or the sum) of its periods' (a mean rounded half up to thousandths);
ranks and flags are taken again within each group; an entity vetoed in any of the
periods is vetoed for the longer one."""
from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.schemes import exact
from scoring.schemes.columns import ENTITY, GROUP, INDICATOR, KIND, MODULE, NOTE, ORDER, PERIOD, POINTS, ROW, WINDOW
from scoring.schemes.engine import FLAGS, TOTAL, VETOED, Result, flagged, module_column, ranked, rounded

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
    labels = sorted(label for label in set(result.table[PERIOD]) if _inside(label, period))
    if not labels:
        raise ValueError(f"没有 {period} 之内的考核期结果")
    parts = result.table[result.table[PERIOD].isin(labels)]
    columns = [TOTAL, *(module_column(m.id) for m in scheme.modules)]
    how = "sum" if scheme.rollup == "sum" else "mean"
    grouped = parts.groupby(ENTITY, sort=False)
    figures = grouped[columns].sum()
    if how == "mean":
        figures = _mean_half_up(figures, grouped.size())
    table = parts.drop_duplicates(ENTITY)[[ENTITY, GROUP, KIND, ORDER, WINDOW]].set_index(ENTITY)
    table = table.join(figures.astype("int64")).reset_index()
    table.insert(0, PERIOD, period)
    table = rounded(scheme, table)
    vetoed = set(parts[parts[VETOED]][ENTITY])
    table[VETOED] = table[ENTITY].isin(vetoed)
    warnings: list[str] = []
    table = ranked(scheme, table, warnings)
    items = pd.DataFrame({PERIOD: period, ENTITY: parts[ENTITY].to_numpy(), MODULE: "", INDICATOR: "",
                          POINTS: parts[TOTAL].to_numpy(),
                          NOTE: [f"{label}：{exact.text(int(total))} 分" for label, total in zip(parts[PERIOD], parts[TOTAL])],
                          ROW: pd.NA})
    # The longer period's own deductions: any the entity had in its periods (for the
    # flags that skip the deducted).
    deducted = result.items[result.items[PERIOD].isin(labels) & (result.items[POINTS] < 0)][[ENTITY, POINTS]]
    flag_items = pd.concat([items, deducted.assign(**{PERIOD: period})], ignore_index=True)
    marks = result.measures[result.measures[PERIOD].isin(labels)].assign(**{PERIOD: period})
    table[FLAGS] = flagged(scheme, table, flag_items, marks, warnings)
    return Result(scheme, table.reset_index(drop=True), items, result.measures.iloc[0:0], warnings)


def _mean_half_up(sums: pd.DataFrame, counts: pd.Series) -> pd.DataFrame:
    """Each column's sum ÷ the count, in thousandths, rounded half up (away from zero
    at .5, as `exact.mean`), on whole columns of integers."""
    size = counts.to_numpy(dtype="int64")[:, None]
    values = sums.to_numpy(dtype="int64")
    whole, rest = np.divmod(np.abs(values), size)
    rounded = (whole + (2 * rest >= size)) * np.sign(values)
    return pd.DataFrame(rounded, index=sums.index, columns=sums.columns)
