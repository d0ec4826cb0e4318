"""The rule kinds of a scheme's indicators (docs/schemes.md §1, "Rules"), each a
function that applies its kind to ALL the indicators of that kind at once: from their
records of the period(s) to their items, one for each reason for points, with the
record (row) and the words that explain it.

Everything is worked on integer codes and whole columns (numpy arrays):
- an indicator's code is its position in `Context.indicators` (scheme.indicators); its
  parameters are read as columns indexed by that code (`column`, `columns`), so that
  `points[rows.indicator]` is each record's indicator's points;
- a cell is one period of one entity (its code: period × the number of entities +
  entity); a slot is one indicator in one cell (indicator × the number of cells + cell),
  what a rule adds up or keeps the last record of;
- points are integer thousandths.

A rule is given its indicators' records (`Records`, in the records' order) and codes;
the staff rules (`staff_deductions`, `staff_mean`) need the staff's own results and are
given them in the context."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from scoring.schemes import exact
from scoring.schemes.columns import GROUP, INDICATOR, OTHER, PERIOD, POINTS
from scoring.schemes.scheme import Indicator

CELL = "cell"  # a cell's code (see above)
FAR = 2**62  # beyond every figure: the padding of a parameter list, an open band's end


@dataclass
class Texts:
    """The period's records' 数值 as written (`level`) and 说明 (`note`), by position."""

    level: np.ndarray
    note: np.ndarray


@dataclass
class Records:
    """Records as columns of equal length (numpy arrays): each record's cell and
    indicator (codes), count (数量), figure (数值 `value`, where `has_value`), points as
    stated (分值, where `has_points`), whether it has its own words (说明: `own`), row
    (where `has_row`) and position among the period's records (`source`), by which
    its words are found (`level`, `note`: read only where needed, as words are slow to
    copy)."""

    cell: np.ndarray
    indicator: np.ndarray
    count: np.ndarray
    value: np.ndarray
    has_value: np.ndarray
    points: np.ndarray
    has_points: np.ndarray
    own: np.ndarray
    row: np.ndarray
    has_row: np.ndarray
    source: np.ndarray
    texts: Texts

    def __len__(self) -> int:
        return len(self.cell)

    def __getitem__(self, where: Any) -> Records:
        """The records at these positions (or where the mask holds, or a slice)."""
        where = _positions(where)
        taken = {f.name: getattr(self, f.name)[where] for f in fields(self) if f.name != "texts"}
        return Records(**taken, texts=self.texts)

    @property
    def level(self) -> np.ndarray:
        return self.texts.level[self.source]

    @property
    def note(self) -> np.ndarray:
        return self.texts.note[self.source]

    def slot(self, context: Context) -> np.ndarray:
        """Each record's slot: its indicator and cell as one code."""
        return self.indicator * len(context.cells) + self.cell

    def last(self, context: Context) -> Records:
        """Each slot's last record (a figure recorded twice: the later row counts)."""
        return self[~pd.Series(self.slot(context)).duplicated(keep="last").to_numpy()]


@dataclass
class Items:
    """Items as columns of equal length (numpy arrays): each item's cell and indicator
    (codes; -1 for a module's or the scheme's own item), points, words and the record's
    row (`row`, where `has_row`). `module` and `stage` are the engine's: the item's
    module (code) and where it was made, which orders the items of one cell and row."""

    cell: np.ndarray
    indicator: np.ndarray
    points: np.ndarray
    note: np.ndarray
    row: np.ndarray
    has_row: np.ndarray
    module: np.ndarray
    stage: np.ndarray

    def __len__(self) -> int:
        return len(self.cell)

    def __getitem__(self, where: Any) -> Items:
        """The items at these positions (or where the mask holds, or a slice)."""
        where = _positions(where)
        return Items(*(getattr(self, f.name)[where] for f in fields(self)))

    @staticmethod
    def concat(parts: Sequence[Items]) -> Items:
        """The parts' items one after the other."""
        if len(parts) == 1:
            return parts[0]
        return Items(*(np.concatenate([getattr(part, f.name) for part in parts]) for f in fields(Items)))


def _positions(where: Any) -> Any:
    """A mask as the positions where it holds (faster to take many columns by)."""
    return np.flatnonzero(where) if isinstance(where, np.ndarray) and where.dtype == np.bool_ else where


@dataclass
class Context:
    """What the rules need beyond their records."""

    indicators: Sequence[Indicator]  # every indicator of the scheme: its position is its code
    cells: pd.DataFrame  # every cell, by its code: PERIOD, ENTITY (codes), GROUP, KIND, ORDER, WINDOW (a staff
    # member's window's entity code, else -1)
    entity_count: int  # a cell's code is its period's code × entity_count + its entity's code
    applies: np.ndarray  # [indicator, cell]: whether the indicator applies to the cell's entity (its `for`)
    comparison: pd.DataFrame  # CELL, INDICATOR (codes), OTHER: other places' figures (rank)
    previous_flags: Mapping[int, frozenset[str]]  # entity (its code) -> flags (ids and names) of the previous period
    staff_items: pd.DataFrame | None = None  # CELL (the staff member's window's; -1: none), POINTS: the staff's items
    staff_totals: pd.DataFrame | None = None  # CELL (as above), POINTS: each staff member's total


# ---- the indicators' parameters as columns ----------------------------------------------

def column(context: Context, parameter: Callable[[Indicator], Any], dtype: Any = "int64",
           codes: Sequence[int] | None = None) -> np.ndarray:
    """One parameter of every indicator (of the indicators `codes`, the others'
    left empty), indexed by the indicator's code."""
    mine = range(len(context.indicators)) if codes is None else set(codes)
    empty = {object: None, bool: False}.get(dtype, 0)
    return np.array([parameter(indicator) if code in mine else empty
                     for code, indicator in enumerate(context.indicators)], dtype=dtype)


def columns(context: Context, entries: Callable[[Indicator], Sequence[Any]], fill: Any) -> np.ndarray:
    """A list parameter (tiers, steps, bands, places' points) of every indicator:
    [indicator code, position in the list], the shorter lists padded with `fill`."""
    lists = [list(entries(indicator)) for indicator in context.indicators]
    width = max((len(entry) for entry in lists), default=0)
    table = np.full((len(lists), width), fill, dtype="int64")
    for code, entry in enumerate(lists):
        table[code, :len(entry)] = entry
    return table


def names(context: Context) -> np.ndarray:
    return column(context, lambda indicator: indicator.name, object)


# ---- making items -----------------------------------------------------------------------

def make_items(cell: Any, indicator: Any, points: Any, note: Any, given: Any = None,
               row: Any = None, has_row: Any = None) -> Items:
    """Items of these cells and indicators (codes) with these points (a number, or one
    each) and words (the same for all, or one each); only those `given` (all when
    None: a rule may give no points). `row` where each comes from one record."""
    cell = np.asarray(cell, dtype="int64")
    count = len(cell)
    found = Items(cell=cell, indicator=np.asarray(indicator, dtype="int64"),
                  points=np.broadcast_to(np.asarray(points, dtype="int64"), (count,)).copy(),
                  note=repeated(note, count) if isinstance(note, str) else np.asarray(note, dtype=object),
                  row=np.zeros(count, dtype="int64") if row is None else np.asarray(row, dtype="int64"),
                  has_row=np.zeros(count, dtype=bool) if has_row is None else np.asarray(has_row, dtype=bool),
                  module=np.zeros(count, dtype="int64"), stage=np.zeros(count, dtype="int64"))
    return found if given is None or np.all(given) else found[np.asarray(given, dtype=bool)]


def _record_items(rows: Records, points: Any, note: Any, given: Any = None) -> Items:
    """An item of each record with these points and words (where `given`)."""
    return make_items(rows.cell, rows.indicator, points, note, given, rows.row, rows.has_row)


def repeated(value: Any, count: int) -> np.ndarray:
    """`count` times the same word (or other object), as an object array."""
    found = np.empty(count, dtype=object)
    found.fill(value)
    return found


def no_items() -> Items:
    return make_items([], [], 0, [])


def distinct(*keys: Any) -> tuple[np.ndarray, list[tuple]]:
    """The distinct rows of the key columns (tuples of their values, in no particular
    order) and each row's code among them (its position)."""
    keys = tuple(np.asarray(key) for key in keys)
    combined = np.zeros(len(keys[0]), dtype="int64")
    for key in keys:  # the keys so far as one code (from 0), then with the next key
        codes, count = _codes(key)
        if int(combined.max(initial=0)) >= 2**62 // count:
            combined = pd.factorize(combined)[0]  # kept small
        combined = combined * count + codes
    span = int(combined.max(initial=-1)) + 1
    if span <= 2 * len(combined):  # few codes possible (the usual case): a table of them, no hashing
        present = np.zeros(span, dtype=bool)
        present[combined] = True
        codes, count = (np.cumsum(present) - 1)[combined], int(present.sum())  # each one's place among those present
    else:
        codes, found = pd.factorize(combined)
        count = len(found)
    some = np.zeros(count, dtype="int64")
    some[codes] = np.arange(len(combined))  # a row of each code (any: they all hold the same keys)
    return codes, list(zip(*(key[some].tolist() for key in keys)))


def words(write: Callable[..., Any], *keys: Any) -> np.ndarray:
    """write(*key) for each row of the key columns (an object array): each distinct
    key written once, the words then spread to the rows that have it."""
    codes, found = distinct(*keys)
    written = np.empty(len(found), dtype=object)
    written[:] = [write(*key) for key in found]
    return written[codes]


def _codes(key: np.ndarray) -> tuple[np.ndarray, int]:
    """A key column as codes from 0, and how many codes there may be: small whole
    numbers (codes of indicators, counts, yes/no) by their distance from the least,
    others by their first appearance (a missing value first)."""
    if key.dtype.kind in "iub" and len(key) and int(key.max()) - int(key.min()) <= len(key):
        return key.astype("int64") - int(key.min()), int(key.max()) - int(key.min()) + 1
    codes, uniques = pd.factorize(key)  # a missing value: -1
    return codes + 1, len(uniques) + 1


def _own_or(rows: Records, made: np.ndarray) -> np.ndarray:
    """The record's own words where it has them, else the made-up explanation."""
    own = np.flatnonzero(rows.own)
    if not len(own):
        return made
    found = np.array(made, dtype=object)
    found[own] = rows.texts.note[rows.source[own]]
    return found


def _unrecorded(context: Context, rows: Records, codes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """For the indicators `codes`, the cells each applies to that have none of its
    records: (indicator codes, cell codes), indicator by indicator in cell order."""
    chosen = np.asarray(codes, dtype="int64")
    wanted = context.applies[chosen].copy()
    place = np.full(len(context.indicators), -1)
    place[chosen] = np.arange(len(chosen))
    at = place[rows.indicator]
    mine = at >= 0
    wanted[at[mine], rows.cell[mine]] = False
    which, cell = np.nonzero(wanted)
    return chosen[which], cell


def applying(context: Context, codes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """For the indicators `codes`, every cell each applies to: (indicator codes, cell codes)."""
    chosen = np.asarray(codes, dtype="int64")
    which, cell = np.nonzero(context.applies[chosen])
    return chosen[which], cell


def _slot_counts(rows: Records, context: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each slot's count of events (Σ 数量) and first row: (slots, counts, rows, has_row),
    the slots in the order of their first records."""
    codes, slots = pd.factorize(rows.slot(context))
    counts = np.zeros(len(slots), dtype="int64")
    np.add.at(counts, codes, rows.count)
    first = np.full(len(slots), len(rows))  # each slot's first record with a row (none: past the end)
    with_row = np.flatnonzero(rows.has_row)
    np.minimum.at(first, codes[with_row], with_row)
    has_row = first < len(rows)
    first_row = np.zeros(len(slots), dtype="int64")
    first_row[has_row] = rows.row[first[has_row]]
    return np.asarray(slots, dtype="int64"), counts, first_row, has_row


def _at(values: np.ndarray, at: np.ndarray, missing: Any) -> np.ndarray:
    """values[at], `missing` where `at` is -1 (not there)."""
    found = np.full(len(at), missing, dtype=values.dtype)
    found[at >= 0] = values[at[at >= 0]]
    return found


def _levels(context: Context, rows: Records) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points of the level (or flag) each record's 数值 names, whether it names one,
    and the words: 名称：档次 (信息报送：好), unless the record has its own."""
    codes, pairs = distinct(rows.indicator, rows.level)
    levels = [context.indicators[code].rule.levels for code, _ in pairs]
    given = np.array([level in found for (_, level), found in zip(pairs, levels)] or [], dtype=bool)
    points = np.array([found.get(level, 0) for (_, level), found in zip(pairs, levels)], dtype="int64")
    made = np.empty(len(pairs), dtype=object)
    made[:] = [f"{context.indicators[code].name}：{level}" for code, level in pairs]
    return points[codes], given[codes], _own_or(rows, made[codes])


# ---- the rule kinds ---------------------------------------------------------------------

def fixed(rows: Records, codes: list[int], context: Context) -> Items:
    """The rule's points once for an entity with a record in the period; `missing`
    for one without (告知 1 分，未告知不得分)."""
    found = rows.last(context)
    points = column(context, lambda i: i.rule.points or 0)[found.indicator]
    given = column(context, lambda i: i.rule.points is not None, bool)[found.indicator]
    parts = [_record_items(found, points, _own_or(found, names(context)[found.indicator]), given)]
    missing = [code for code in codes if context.indicators[code].rule.missing]
    if missing:
        indicator, cell = _unrecorded(context, rows, missing)
        penalty = column(context, lambda i: i.rule.missing, codes=missing)
        parts.append(make_items(cell, indicator, penalty[indicator], names(context)[indicator] + "：无记录"))
    return Items.concat(parts)


def choice(rows: Records, codes: list[int], context: Context) -> Items:
    """The points of the level the record names (好 6、较好 4、一般 2、差 0); `missing`
    (a level's name or points) for an entity without a record."""
    found = rows.last(context)
    points, given, made = _levels(context, found)
    parts = [_record_items(found, points, made, given)]
    missing = [code for code in codes if context.indicators[code].rule.missing is not None]
    if missing:
        def missing_points(indicator: Indicator) -> int:
            rule = indicator.rule
            return rule.levels[rule.missing] if isinstance(rule.missing, str) else int(rule.missing or 0)

        def label(indicator: Indicator) -> str:
            named = isinstance(indicator.rule.missing, str)
            return f"{indicator.name}：无记录，按“{indicator.rule.missing}”" if named else f"{indicator.name}：无记录"

        indicator, cell = _unrecorded(context, rows, missing)
        parts.append(make_items(cell, indicator, column(context, missing_points, codes=missing)[indicator],
                                column(context, label, object, codes=missing)[indicator]))
    return Items.concat(parts)


def per_event(rows: Records, codes: list[int], context: Context) -> Items:
    """Each record: its count × the points, or the highest tier its value reaches
    (加班 5 分钟以上 0.1、20 分钟以上 0.2). The cap is applied to the sum (engine)."""
    indicator = rows.indicator
    points = rows.count * column(context, lambda i: i.rule.points or 0)[indicator]
    tiered = column(context, lambda i: bool(i.rule.tiers), bool)[indicator]
    if tiered.any():
        at_least = columns(context, lambda i: [at for at, _ in i.rule.tiers], FAR)
        tier_points = columns(context, lambda i: [p for _, p in i.rule.tiers], 0)
        reached = np.zeros(len(rows), dtype="int64")
        for tier in range(at_least.shape[1]):  # ascending: the last reached wins
            within = rows.has_value & (rows.value >= at_least[indicator, tier])
            reached = np.where(within, tier_points[indicator, tier], reached)
        points = np.where(tiered, reached, points)
    made = words(lambda code, times: f"{context.indicators[code].name} {times} 次", indicator, rows.count)
    return _record_items(rows, points, _own_or(rows, made))


def escalating(rows: Records, codes: list[int], context: Context) -> Items:
    """By the number of events in the period (Σ 数量), the highest step reached (一次扣
    2 分，两次以上扣 5 分)."""
    slots, count, row, has_row = _slot_counts(rows, context)
    indicator, cell = np.divmod(slots, len(context.cells))
    at_least = columns(context, lambda i: [number for number, _ in i.rule.steps], FAR)
    step_points = columns(context, lambda i: [p for _, p in i.rule.steps], 0)
    points = np.zeros(len(slots), dtype="int64")
    for step in range(at_least.shape[1]):
        points = np.where(count >= at_least[indicator, step], step_points[indicator, step], points)
    made = words(lambda code, times: f"{context.indicators[code].name} 共 {times} 次", indicator, count)
    return make_items(cell, indicator, points, made, None, row, has_row)


def _band_points(context: Context, indicator: np.ndarray, figures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points of the first of each indicator's bands holding the figure, and
    whether one does."""
    low = columns(context, lambda i: [-FAR if band[0] is None else band[0] for band in i.rule.bands], FAR)
    high = columns(context, lambda i: [FAR if band[1] is None else band[1] for band in i.rule.bands], -FAR)
    band_points = columns(context, lambda i: [band[2] for band in i.rule.bands], 0)
    points = np.zeros(len(figures), dtype="int64")
    held = np.zeros(len(figures), dtype=bool)
    for band in range(low.shape[1]):
        inside = ~held & (figures >= low[indicator, band]) & (figures <= high[indicator, band])
        points = np.where(inside, band_points[indicator, band], points)
        held |= inside
    return points, held


def bands(rows: Records, codes: list[int], context: Context) -> Items:
    """The band holding the period's count (Σ 数量: 无网办件 0.5、1–5 件 1 …, for
    every entity it applies to) or the record's value (人均即办件 300–599 → 1)."""
    of_count = [code for code in codes if context.indicators[code].rule.of == "count"]
    of_value = [code for code in codes if code not in of_count]
    by_count = np.isin(rows.indicator, of_count)
    parts = []
    if of_count:
        slots, counts, first_row, has_row = _slot_counts(rows[by_count], context)
        indicator, cell = np.divmod(slots, len(context.cells))
        # A band holding 0 (无网办件 0.5) is given to every entity without records too.
        holds_zero = _band_points(context, np.asarray(of_count), np.zeros(len(of_count), dtype="int64"))[1]
        at_zero = [code for code, held in zip(of_count, holds_zero) if held]
        if at_zero:
            every_indicator, every_cell = applying(context, at_zero)
            unrecorded = pd.Index(slots).get_indexer(every_indicator * len(context.cells) + every_cell) < 0
            indicator = np.concatenate([indicator, every_indicator[unrecorded]])
            cell = np.concatenate([cell, every_cell[unrecorded]])
            counts, first_row, has_row = (np.concatenate([found, np.zeros(unrecorded.sum(), dtype=found.dtype)])
                                          for found in (counts, first_row, has_row))
        points, held = _band_points(context, indicator, counts * exact.MILLI)
        made = words(lambda code, number: f"{context.indicators[code].name} {number} 件", indicator, counts)
        parts.append(make_items(cell, indicator, points, made, held, first_row, has_row))
    if of_value:
        found = rows[~by_count].last(context)
        points, held = _band_points(context, found.indicator, found.value)
        made = words(lambda code, figure: f"{context.indicators[code].name} {exact.text(figure)}", found.indicator,
                     found.value)
        parts.append(_record_items(found, points, made, held & found.has_value))
        missing = [code for code in of_value if context.indicators[code].rule.missing]
        if missing:
            indicator, cell = _unrecorded(context, rows, missing)
            parts.append(make_items(cell, indicator, column(context, lambda i: i.rule.missing, codes=missing)[indicator],
                                    names(context)[indicator] + "：无记录"))
    return Items.concat(parts)


def rate(rows: Records, codes: list[int], context: Context) -> Items:
    """A percentage against the table, highest line first (回访满意率 100% 加 2 分);
    below every line, the rule's `below` points, or the record's own (observed)."""
    found = rows.last(context)
    indicator = found.indicator
    at_least = columns(context, lambda i: [at for at, _ in i.rule.table], FAR)
    line_points = columns(context, lambda i: [p for _, p in i.rule.table], 0)
    points = np.zeros(len(found), dtype="int64")
    reached = np.zeros(len(found), dtype=bool)
    for line in range(at_least.shape[1]):  # highest first: the first reached wins
        now = ~reached & found.has_value & (found.value >= at_least[indicator, line])
        points = np.where(now, line_points[indicator, line], points)
        reached |= now
    # Below the table, or no rate at all (the source states only the deduction): the
    # record's points when `below: observed`, else the rule's `below` (none: no item).
    observed = column(context, lambda i: i.rule.below == "observed", bool)[indicator]
    below = column(context, lambda i: i.rule.below if isinstance(i.rule.below, int) else 0)[indicator]
    has_below = column(context, lambda i: isinstance(i.rule.below, int), bool)[indicator]
    points = np.where(reached, points, np.where(observed, found.points, below))
    given = reached | (observed & found.has_points) | (~observed & has_below)
    made = words(lambda code, figure, has: f"{context.indicators[code].name} "
                 + (exact.text(figure) + "%" if has else ""), indicator, found.value, found.has_value)
    return _record_items(found, points, _own_or(found, made), given)


def _place_points(context: Context, indicator: np.ndarray, place: np.ndarray) -> np.ndarray:
    """The points of each place (1, 2, …) by the indicator's `points` list; 0 beyond it."""
    ladder = columns(context, lambda i: i.rule.ladder, 0)
    points = np.zeros(len(place), dtype="int64")
    within = place <= column(context, lambda i: len(i.rule.ladder))[indicator]
    points[within] = ladder[indicator[within], place[within] - 1]
    return points


def rank(rows: Records, codes: list[int], context: Context) -> Items:
    """The record's figure ranked against the other places' figures of the same
    indicator, ties sharing the better place; the place's points (名次 r → the r-th
    of `points`). No figure, or 0: no points (无办件量的不加分)."""
    found = rows.last(context)
    found = found[found.has_value & (found.value > 0)]
    others = context.comparison
    slot = pd.Index(found.slot(context))
    at = slot.get_indexer(others[INDICATOR].to_numpy() * len(context.cells) + others[CELL].to_numpy())
    better = others[OTHER].to_numpy() > _at(found.value, at, FAR)  # another place's higher figure
    place = np.bincount(at[better], minlength=len(found)) + 1
    points = _place_points(context, found.indicator, place)
    made = words(lambda code, r: f"{context.indicators[code].name}：{context.indicators[code].rule.place}排名第{r}",
                 found.indicator, place)
    # The place is the rule's, always shown; the record's own words follow as evidence.
    note = np.where(found.own, made + "（" + np.where(found.own, found.note, "") + "）", made)
    return _record_items(found, points, note)


def bottom(rows: Records, codes: list[int], context: Context) -> Items:
    """The entities of the group with the lowest figures: the last gets the first of
    `points` (办件量排名后三位 −0.5、−0.3、−0.2); equal figures share the place."""
    found = rows.last(context)
    found = found[found.has_value]
    group = context.cells[GROUP].to_numpy()[found.cell]
    period = context.cells[PERIOD].to_numpy()[found.cell]
    place = pd.Series(found.value).groupby([found.indicator, period, group]).rank(method="min", ascending=True)
    place = place.to_numpy(dtype="int64")
    chosen = place <= column(context, lambda i: len(i.rule.ladder))[found.indicator]
    found, place = found[chosen], place[chosen]
    made = words(lambda code, p: f"{context.indicators[code].name} 倒数第{p}", found.indicator, place)
    return _record_items(found, _place_points(context, found.indicator, place), _own_or(found, made))


def carried(rows: Records, codes: list[int], context: Context) -> Items:
    """The points of the flag the entity had in the previous period (亮红牌 +0.1、
    亮黑牌 −0.1): from the previous period's results when the platform has them,
    else the record naming it."""
    found = rows.last(context)
    points, given, made = _levels(context, found)
    parts = [_record_items(found, points, made, given)]
    if context.previous_flags:
        indicator, cell = _unrecorded(context, rows, codes)
        flag: list[str | None] = []
        for code, entity in zip(indicator, cell % context.entity_count):
            levels = context.indicators[code].rule.levels
            flag.append(next((f for f in context.previous_flags.get(int(entity), ()) if f in levels), None))
        had = np.array([f is not None for f in flag], dtype=bool)
        named = [f for f in flag if f is not None]
        flag_points = [context.indicators[code].rule.levels[f] for code, f in zip(indicator[had], named)]
        parts.append(make_items(cell[had], indicator[had], flag_points,
                                np.array(["上期" + f for f in named], dtype=object)))
    return Items.concat(parts)


def _applying_to(context: Context, codes: list[int], cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of `cells`, those each indicator of `codes` applies to: (indicator codes, cell codes)."""
    indicator, cell = np.repeat(np.asarray(codes, dtype="int64"), len(cells)), np.tile(cells, len(codes))
    keep = context.applies[indicator, cell]
    return indicator[keep], cell[keep]


def _by_window(figures: pd.DataFrame, context: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The staff's figures (POINTS) summed and counted by their windows' cells (CELL)."""
    window, points = figures[CELL].to_numpy(), figures[POINTS].to_numpy()
    window, points = window[window >= 0], points[window >= 0]
    sums = np.zeros(len(context.cells), dtype="int64")
    np.add.at(sums, window, points)
    return sums, np.bincount(window, minlength=len(context.cells)), window


def staff_deductions(rows: Records, codes: list[int], context: Context) -> Items:
    """A window's share of its staff's deductions: their negative items summed
    (窗口工作人员考核中有扣分的同时计入窗口扣分)."""
    staff = context.staff_items
    if staff is None or staff.empty:
        return no_items()
    lost, count, _ = _by_window(staff[staff[POINTS].to_numpy() < 0], context)
    indicator, cell = _applying_to(context, codes, np.flatnonzero(count))
    return make_items(cell, indicator, lost[cell], "窗口工作人员考核扣分计入窗口")


def staff_mean(rows: Records, codes: list[int], context: Context) -> Items:
    """The mean of the window's staff totals × the weight (人员表现 = 平均分 × 30%),
    or the record's figure as the mean when the staff are not scored here."""
    weight = column(context, lambda i: i.rule.weight or 0)

    def weighted(indicator: np.ndarray, mean: np.ndarray) -> np.ndarray:
        points = np.zeros(len(mean), dtype="int64")
        for code in codes:
            own = indicator == code
            points[own] = exact.times_each(mean[own], int(weight[code]))
        return points

    def made(indicator: np.ndarray, mean: np.ndarray) -> np.ndarray:  # 人员平均分 98.5 × 0.3
        found = np.empty(len(mean), dtype=object)
        for code in codes:
            own = indicator == code
            found[own] = exact.texts(mean[own], before="人员平均分 ", after=f" × {exact.text(int(weight[code]))}")
        return found

    parts = []
    totals = context.staff_totals
    if totals is not None and not totals.empty:
        sums, count, _ = _by_window(totals, context)
        indicator, cell = _applying_to(context, codes, np.flatnonzero(count))
        mean = exact.divide_half_up(sums[cell], count[cell])
        parts.append(make_items(cell, indicator, weighted(indicator, mean), made(indicator, mean)))
        # The records of a window whose staff are scored here are left out.
        rows = rows[~np.isin(rows.slot(context), indicator * len(context.cells) + cell)]
    if len(rows):
        found = rows.last(context)
        found = found[found.has_value]
        parts.append(_record_items(found, weighted(found.indicator, found.value),
                                   _own_or(found, made(found.indicator, found.value))))
    return Items.concat(parts) if parts else no_items()


def observed(rows: Records, codes: list[int], context: Context) -> Items:
    """Points entered as observed (a lump the scheme does not define), with the reason."""
    return _record_items(rows, rows.points, rows.note, rows.has_points)


def no_points(rows: Records, codes: list[int], context: Context) -> Items:
    """measure, veto, mark: no items (the engine reads their records itself)."""
    return no_items()


# Each rule kind's function: (its indicators' records, their codes, the context) → items.
RULE_FUNCTIONS: dict[str, Callable[[Records, list[int], Context], Items]] = {
    "fixed": fixed, "choice": choice, "per_event": per_event, "escalating": escalating, "bands": bands,
    "rate": rate, "rank": rank, "bottom": bottom, "carried": carried, "staff_deductions": staff_deductions,
    "staff_mean": staff_mean, "observed": observed, "measure": no_points, "veto": no_points, "mark": no_points,
}
