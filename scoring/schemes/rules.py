"""The rule kinds of a scheme's indicators (docs/schemes.md §1, "Rules"), each a
function from the indicator's records of the period to its items: one row for each
point given, with the record (row) and the words that explain it.

Every function works on all entities (and periods) at once: `rows` are the records of
one indicator, `cells` the (period, entity) pairs it applies to. Points are integer
thousandths. The staff rules (`staff_deductions`, `staff_mean`) need the staff's own
results and are given them as `staff`."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring.schemes import exact
from scoring.schemes.columns import (COUNT, ENTITY, GROUP, INDICATOR, KEY, LEVEL, NOTE, OTHER, PERIOD, POINTS, ROW,
                                     VALUE, WINDOW)
from scoring.schemes.scheme import Indicator

ITEM_COLUMNS = [PERIOD, ENTITY, POINTS, NOTE, ROW]


@dataclass
class Context:
    """What some rules need beyond the indicator's own records."""

    cells: pd.DataFrame  # PERIOD, ENTITY, GROUP, WINDOW of the entities the indicator applies to
    comparison: pd.DataFrame  # PERIOD, ENTITY, INDICATOR, PLACE, OTHER
    previous_flags: Mapping[int, frozenset[str]]  # entity (its code) -> flags (ids and names) of the previous period
    staff_items: pd.DataFrame | None = None  # PERIOD, ENTITY (the staff member), WINDOW, POINTS
    staff_totals: pd.DataFrame | None = None  # PERIOD, ENTITY, WINDOW, POINTS (total)


def _items(frame: pd.DataFrame, points: object, note: object) -> pd.DataFrame:
    """Items from rows of `frame` (its PERIOD, ENTITY, ROW) with these points and notes."""
    found = frame[[PERIOD, ENTITY]].copy()
    found[POINTS] = points
    found[NOTE] = note
    found[ROW] = frame.get(ROW, pd.NA)
    return found[ITEM_COLUMNS]


def _last(rows: pd.DataFrame) -> pd.DataFrame:
    """Each cell's last record (a figure recorded twice: the later row counts)."""
    return rows.drop_duplicates(KEY, keep="last")


def _unrecorded(cells: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    recorded = pd.MultiIndex.from_frame(rows[KEY])
    return cells[~pd.MultiIndex.from_frame(cells[KEY]).isin(recorded)]


def _note(rows: pd.DataFrame, made: pd.Series) -> pd.Series:
    """The record's own words where it has them, else the made-up explanation."""
    own = rows[NOTE].fillna("").astype(str)
    return own.where(own != "", made)


def fixed(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The rule's points once for an entity with a record in the period; `missing`
    for one without (告知 1 分，未告知不得分)."""
    rule = indicator.rule
    found = _last(rows)
    parts = [_items(found, rule.points, _note(found, pd.Series(indicator.name, index=found.index)))]
    if rule.missing:
        none = _unrecorded(context.cells, rows)
        parts.append(_items(none, rule.missing, f"{indicator.name}：无记录"))
    return pd.concat(parts, ignore_index=True)


def choice(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The points of the level the record names (好 6、较好 4、一般 2、差 0)."""
    rule = indicator.rule
    found = _last(rows)
    points = found[LEVEL].map(rule.levels)
    parts = [_items(found, points, _note(found, indicator.name + "：" + found[LEVEL].astype(str)))]
    if rule.missing is not None:
        missing = rule.levels[rule.missing] if isinstance(rule.missing, str) else rule.missing
        label = f"{indicator.name}：无记录，按“{rule.missing}”" if isinstance(rule.missing, str) \
            else f"{indicator.name}：无记录"
        parts.append(_items(_unrecorded(context.cells, rows), missing, label))
    return pd.concat(parts, ignore_index=True)


def per_event(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Each record: its count × the points, or the highest tier its value reaches
    (加班 5 分钟以上 0.1、20 分钟以上 0.2). The cap is applied to the sum (`cap_of`)."""
    rule = indicator.rule
    if rule.tiers:
        value = rows[VALUE].astype("float64").fillna(-np.inf).to_numpy()  # thousandths, exact below 2**53
        points = np.zeros(len(rows), dtype="int64")
        for at_least, tier_points in rule.tiers:  # ascending: the last reached wins
            points = np.where(value >= at_least, tier_points, points)
    else:
        points = rows[COUNT].to_numpy(dtype="int64") * int(rule.points or 0)
    made = indicator.name + " " + rows[COUNT].astype(str) + " 次"
    return _items(rows, points, _note(rows, made))


def escalating(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """By the number of events in the period, the highest step reached (一次扣 2 分，
    两次以上扣 5 分)."""
    counts = rows.groupby(KEY, sort=False).agg(**{COUNT: (COUNT, "sum"), ROW: (ROW, "first")}).reset_index()
    points = np.zeros(len(counts), dtype="int64")
    for count, step_points in indicator.rule.steps:
        points = np.where(counts[COUNT].to_numpy() >= count, step_points, points)
    return _items(counts, points, indicator.name + " 共 " + counts[COUNT].astype(str) + " 次")


def _band_points(indicator: Indicator, figures: pd.Series) -> pd.Series:
    points = pd.Series(pd.NA, index=figures.index, dtype="Int64")
    for low, high, band_points in indicator.rule.bands:
        inside = figures.ge(low if low is not None else -(2**62))
        if high is not None:
            inside &= figures.le(high)
        points = points.mask(inside.fillna(False) & points.isna(), band_points)
    return points


def bands(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The band holding the period's count (Σ 数量: 无网办件 0.5、1–5 件 1 …) or the
    record's value (人均即办件 300–599 → 1)."""
    rule = indicator.rule
    if rule.of == "count":
        counts = rows.groupby(KEY, sort=False).agg(**{COUNT: (COUNT, "sum"), ROW: (ROW, "first")})
        cells = context.cells.set_index(KEY)
        figures = counts[COUNT].reindex(cells.index, fill_value=0) * exact.MILLI
        found = pd.DataFrame({ROW: counts[ROW].reindex(cells.index)}).reset_index()
        shown = (figures // exact.MILLI).astype(str) + " 件"
    else:
        found = _last(rows)
        figures = found.set_index(KEY)[VALUE]
        found = found.reset_index(drop=True)
        shown = figures.map(lambda v: exact.text(v)).astype(str)
    points = _band_points(indicator, figures.astype("Int64"))
    if rule.of == "value" and rule.missing:
        none = _unrecorded(context.cells, rows)
        extra = _items(none, rule.missing, f"{indicator.name}：无记录")
    else:
        extra = None
    items = _items(found, points.to_numpy(), (indicator.name + " " + shown).to_numpy())
    items = items[items[POINTS].notna()]
    return pd.concat([items, extra], ignore_index=True) if extra is not None else items


def rate(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """A percentage against the table, highest line first (回访满意率 100% 加 2 分);
    below every line, the rule's `below` points, or the record's own (observed)."""
    rule = indicator.rule
    found = _last(rows)
    values = found[VALUE]
    points = pd.Series(pd.NA, index=found.index, dtype="Int64")
    for at_least, line_points in rule.table:
        points = points.mask(values.ge(at_least).fillna(False) & points.isna(), line_points)
    if rule.below == "observed":
        # Below the table, or no rate at all (the source states only the deduction):
        # the record's points.
        points = points.fillna(found[POINTS])
    elif rule.below is not None:
        points = points.fillna(rule.below)
    shown = values.map(lambda v: exact.text(v) + "%" if pd.notna(v) else "").astype(str)
    items = _items(found, points, _note(found, indicator.name + " " + shown))
    return items[items[POINTS].notna()]


def rank(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The record's figure ranked against the other places' figures of the same
    indicator, ties sharing the better place; the place's points (名次 r → the r-th
    of `points`). No figure, or 0: no points (无办件量的不加分)."""
    rule = indicator.rule
    found = _last(rows)
    found = found[found[VALUE].fillna(0) > 0]
    others = context.comparison[context.comparison[INDICATOR] == indicator.id]
    merged = found[KEY + [VALUE]].merge(others[KEY + [OTHER]], on=KEY, how="left")
    merged["better"] = (merged[OTHER] > merged[VALUE]).fillna(False).astype("int64")
    places = merged.groupby(KEY, sort=False)["better"].sum() + 1
    found = found.set_index(KEY).assign(place=places).reset_index()
    ladder = list(indicator.rule.ladder)
    points = found["place"].map(lambda r: ladder[r - 1] if r <= len(ladder) else 0)
    where = f"{rule.place}" if rule.place else ""
    made = indicator.name + "：" + where + "排名第" + found["place"].astype(str)
    own = found[NOTE].fillna("").astype(str)
    # The place is the rule's, always shown; the record's own words follow as evidence.
    note = made.where(own == "", made + "（" + own + "）")
    return _items(found, points.to_numpy(dtype="int64"), note)


def bottom(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The entities of the group with the lowest figures: the last gets the first of
    `points` (办件量排名后三位 −0.5、−0.3、−0.2); equal figures share the place."""
    found = _last(rows).merge(context.cells[KEY + [GROUP]], on=KEY)
    found = found[found[VALUE].notna()]
    place = found.groupby([PERIOD, GROUP])[VALUE].rank(method="min", ascending=True).astype("int64")
    ladder = list(indicator.rule.ladder)
    chosen = found[place <= len(ladder)]
    points = place[place <= len(ladder)].map(lambda p: ladder[p - 1])
    made = indicator.name + " 倒数第" + place[place <= len(ladder)].astype(str)
    return _items(chosen, points.to_numpy(dtype="int64"), _note(chosen, made))


def carried(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The points of the flag the entity had in the previous period (亮红牌 +0.1、
    亮黑牌 −0.1): from the previous period's results when the platform has them,
    else the record naming it."""
    levels = indicator.rule.levels
    found = _last(rows)
    parts = [_items(found, found[LEVEL].map(levels), _note(found, indicator.name + "：" + found[LEVEL].astype(str)))]
    if context.previous_flags:
        none = _unrecorded(context.cells, rows)
        named = none[ENTITY].map(lambda e: next((f for f in context.previous_flags.get(e, ()) if f in levels), None))
        none = none[named.notna()]
        named = named[named.notna()]
        parts.append(_items(none, named.map(levels), "上期" + named))
    return pd.concat(parts, ignore_index=True)


def staff_deductions(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """A window's share of its staff's deductions: their negative items summed
    (窗口工作人员考核中有扣分的同时计入窗口扣分)."""
    staff = context.staff_items
    if staff is None or staff.empty:
        return pd.DataFrame(columns=ITEM_COLUMNS)
    lost = staff[staff[POINTS] < 0].groupby([PERIOD, WINDOW])[POINTS].sum().reset_index()
    lost = lost.rename(columns={WINDOW: ENTITY}).merge(context.cells[KEY], on=KEY)
    return _items(lost, lost[POINTS].to_numpy(), "窗口工作人员考核扣分计入窗口")


def staff_mean(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The mean of the window's staff totals × the weight (人员表现 = 平均分 × 30%),
    or the record's figure as the mean when the staff are not scored here."""
    weight = int(indicator.rule.weight or 0)
    parts = []
    totals = context.staff_totals
    if totals is not None and not totals.empty:
        means = totals.groupby([PERIOD, WINDOW])[POINTS].agg(lambda s: exact.mean(list(s))).reset_index()
        means = means.rename(columns={WINDOW: ENTITY}).merge(context.cells[KEY], on=KEY)
        parts.append(_items(means, means[POINTS].map(lambda m: exact.times(m, weight)).to_numpy(),
                            ("人员平均分 " + means[POINTS].map(exact.text).astype(str) + " × "
                             + exact.text(weight)).to_numpy()))
        rows = _unrecorded(rows, means) if not means.empty else rows
    found = _last(rows)
    found = found[found[VALUE].notna()]
    parts.append(_items(found, found[VALUE].map(lambda m: exact.times(int(m), weight)).to_numpy(dtype="int64"),
                        _note(found, "人员平均分 " + found[VALUE].map(exact.text).astype(str) + " × "
                              + exact.text(weight))))
    return pd.concat(parts, ignore_index=True)


def observed(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Points entered as observed (a lump the scheme does not define), with the reason."""
    return _items(rows, rows[POINTS], rows[NOTE])


def no_points(indicator: Indicator, rows: pd.DataFrame, context: Context) -> pd.DataFrame:
    """measure, veto, mark: no items (the engine reads their records itself)."""
    return pd.DataFrame(columns=ITEM_COLUMNS)


RULE_FUNCTIONS: dict[str, Callable[[Indicator, pd.DataFrame, Context], pd.DataFrame]] = {
    "fixed": fixed, "choice": choice, "per_event": per_event, "escalating": escalating, "bands": bands,
    "rate": rate, "rank": rank, "bottom": bottom, "carried": carried, "staff_deductions": staff_deductions,
    "staff_mean": staff_mean, "observed": observed, "measure": no_points, "veto": no_points, "mark": no_points,
}
