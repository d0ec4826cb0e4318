"""Scoring a period of a scheme (docs/schemes.md): the entities' items, indicator,
module and scheme totals with their caps, the ranks within each group, the vetoes and
the flags. Pure: frames in, frames out, every point in integer thousandths.

Inputs (column names in scoring.schemes.columns):
- entities: ENTITY, GROUP (an id of the scheme's groups), KIND, ORDER, WINDOW (a staff
  member's window, else "");
- records: PERIOD, ENTITY, INDICATOR (an id), COUNT, VALUE (thousandths or NA), LEVEL
  (the value as written), POINTS (thousandths or NA: as the source states), NOTE, ROW;
- comparison (rank rules): PERIOD, ENTITY, INDICATOR, PLACE, OTHER (thousandths).

An item is one reason for points: a record's, a rule's on the period's records (a
band, a rank), a start, or a cap's adjustment. Base + the items = the total, always.

How it works, on whole columns (numpy arrays) rather than indicator by indicator:
1. `_checked`: every record checked at once; periods, entities and indicators become
   integer codes (their positions), a cell (one period of one entity) is period × the
   number of entities + entity;
2. `_score_coded`: each rule kind applied to all its indicators at once
   (scoring.schemes.rules), then every indicator's start and caps, the modules' starts
   and caps, the totals and the floor;
3. `ranked`: the ranks and flags (on the codes); `_in_order`: the items by period,
   entity and row, the names put back. The table's codes stay with the results
   (`Codes`): a roll-up works on them instead of looking the names up again.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scoring.engine import InputError
from scoring.schemes import exact
from scoring.schemes.columns import (COUNT, ENTITY, GROUP, INDICATOR, KIND, LEVEL, MODULE, NOTE, ORDER, OTHER, PERIOD,
                                     PLACE, POINTS, ROW, VALUE, WINDOW)
from scoring.schemes.rules import (CELL, FAR, RULE_FUNCTIONS, Context, Items, Records, Texts, applying, column, make_items,
                                   distinct, names, no_items, repeated, words)
from scoring.schemes.scheme import KINDS, STAFF_RULES, Flag, Indicator, Scheme

ENTITY_COLUMNS = [ENTITY, GROUP, KIND, ORDER, WINDOW]
RECORD_COLUMNS = [PERIOD, ENTITY, INDICATOR, COUNT, VALUE, LEVEL, POINTS, NOTE, ROW]
COMPARISON_COLUMNS = [PERIOD, ENTITY, INDICATOR, PLACE, OTHER]
TOTAL, ROUNDED, RANK, TIED, VETOED, FLAGS = "total", "rounded", "rank", "tied", "vetoed", "flags"
DEDUCTED, BLOCKED = "deducted", "blocked"


def module_column(module_id: str) -> str:
    """The results table's column of a module's points (apart from the table's own)."""
    return f"module:{module_id}"


@dataclass
class Result:
    """A scheme's results for one or more periods."""

    scheme: Scheme
    # One row per period and entity: PERIOD, ENTITY, GROUP, KIND, ORDER, WINDOW (a staff
    # member's), each module's points (`module_column`), TOTAL, ROUNDED, VETOED,
    # DEDUCTED (an item below zero: flags that skip the deducted pass it over), BLOCKED
    # (the flag ids a `mark` record takes away), RANK, TIED, FLAGS (a tuple of flag ids).
    table: pd.DataFrame
    # Every item: PERIOD, ENTITY, MODULE, INDICATOR ("" for a module's or the scheme's
    # own), POINTS, NOTE, ROW (the record's row, or NA).
    items: pd.DataFrame
    # The figures of `measure` indicators (and every record's value): PERIOD, ENTITY, INDICATOR, LEVEL.
    measures: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    # The table's periods and entities as codes, kept by the engine for the roll-ups;
    # None for a table made otherwise (`table_codes` then finds them from the names).
    # The table is not to be changed in place once they are kept.
    codes: Codes | None = field(default=None, repr=False, compare=False)

    def period(self, period: str) -> Result:
        return Result(self.scheme, self.table[self.table[PERIOD] == period].reset_index(drop=True),
                      self.items[self.items[PERIOD] == period].reset_index(drop=True),
                      self.measures[self.measures[PERIOD] == period].reset_index(drop=True), list(self.warnings))

    def table_codes(self) -> Codes:
        """The table's periods and entities as codes (`Codes`)."""
        if self.codes is not None:
            return self.codes
        period, periods = pd.factorize(self.table[PERIOD])
        entity, entities = pd.factorize(self.table[ENTITY])
        return Codes(period, np.asarray(periods, dtype=object), entity, np.asarray(entities, dtype=object))


@dataclass
class Codes:
    """A results table's periods and entities as codes: row r is of the period
    periods[period[r]] and the entity entities[entity[r]]."""

    period: np.ndarray
    periods: np.ndarray  # the periods' labels (object array)
    entity: np.ndarray
    entities: np.ndarray  # the entities' names (object array)


# ---- checking the inputs ------------------------------------------------------------------

def check_inputs(scheme: Scheme, entities: pd.DataFrame, records: pd.DataFrame) -> None:
    """InputError listing every record that names an unknown entity or indicator, one
    the indicator does not apply to, or lacks what its rule needs."""
    _checked(scheme, entities, records)


def _checked(scheme: Scheme, entities: pd.DataFrame, records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """`check_inputs`, all records at once; each record's entity (its position in
    `entities`) and indicator (its position in scheme.indicators) when all is well.

    The problems are listed by row; those of one row in the order of the checks:
    the entity, the indicator, the kinds it applies to, then what its rule needs."""
    problems: list[tuple[tuple, int | None, str]] = []  # (order, row, message)

    def add(row: int | None, message: str, *order: int) -> None:
        problems.append(((row or 0, *order), row, message))

    names, kinds = entities[ENTITY].tolist(), entities[KIND].tolist()
    for entity, kind in zip(names, kinds):
        if kind not in scheme.kinds:
            add(None, f"对象“{entity}”的类型“{KINDS.get(kind, kind)}”不在方案的考核对象中", 0, len(problems))
    for entity in entities[ENTITY][entities[ENTITY].duplicated()]:
        add(None, f"对象“{entity}”重复", 0, len(problems))
    groups = {group.id for group in scheme.groups}
    for entity, group in zip(names, entities[GROUP].tolist()):
        if group not in groups:
            add(None, f"对象“{entity}”的分组“{group}”不在方案中", 0, len(problems))

    # Each record's entity (the first of its name) and indicator, by position; -1 for none.
    first = np.flatnonzero(~entities[ENTITY].duplicated().to_numpy())
    entity = _positions(entities[ENTITY].to_numpy(dtype=object)[first], records[ENTITY])
    entity = np.where(entity >= 0, first[np.maximum(entity, 0)] if len(first) else -1, -1)
    unknown = (entity < 0) | entities[KIND].isna().to_numpy()[np.maximum(entity, 0)] if len(entities) \
        else np.ones(len(records), dtype=bool)
    indicators = scheme.indicators
    indicator = _positions(np.array([i.id for i in indicators], dtype=object), records[INDICATOR])
    nameless = ~unknown & (indicator < 0)

    def row(at: Any) -> int | None:  # a record's row (looked up for those with problems only)
        found = records[ROW].iat[at]
        return None if pd.isna(found) else int(found)

    for at in np.flatnonzero(unknown):
        add(row(at), f"对象“{records[ENTITY].iat[at]}”不在对象名单中", 1, int(at))
    for at in np.flatnonzero(nameless):
        add(row(at), f"方案中没有指标“{records[INDICATOR].iat[at]}”", 2, int(at))

    scored = ~unknown & ~nameless
    which = np.where(scored, indicator, 0)
    # Within a row: the indicators in the order their first records come, then the checks in order.
    present = pd.unique(indicator[scored])
    appearance = np.zeros(len(indicators), dtype="int64")
    appearance[present] = np.arange(len(present))
    allowed = _allowed(indicators, entities[KIND])  # [indicator, entity]
    wrong = np.zeros(len(records), dtype=bool)
    wrong[scored] = ~allowed.ravel()[which[scored] * allowed.shape[1] + entity[scored]]
    for at in np.flatnonzero(wrong):
        kind = kinds[entity[at]]
        add(row(at), f"指标“{indicators[which[at]].name}”不考核{KINDS.get(kind, kind)}",
            3, int(appearance[which[at]]), 0, int(at))
    levels = records[LEVEL].to_numpy(dtype=object)
    for number, (mask, messages) in enumerate(_rule_problems(indicators, records, which, scored, present), 1):
        for at in np.flatnonzero(mask):
            add(row(at), messages[which[at]].replace("{level}", str(levels[at])),
                3, int(appearance[which[at]]), number, int(at))
    if problems:
        raise InputError("items", [(row, message) for _, row, message in sorted(problems, key=lambda p: p[0])])
    return entity, indicator


def _positions(known: np.ndarray, names: pd.Series) -> np.ndarray:
    """Each name's position among `known` (distinct), -1 for one not there."""
    return pd.Index(known, dtype="str").get_indexer(names)


def _allowed(indicators: list[Indicator], kinds: pd.Series) -> np.ndarray:
    """[indicator, entity]: whether the indicator applies to the entity (of kind `kinds[entity]`)."""
    named, codes = np.unique(kinds.fillna("").astype(str).to_numpy(dtype=object), return_inverse=True)
    allowed = np.array([[i.kinds is None or kind in i.kinds for kind in named] for i in indicators], dtype=bool)
    return allowed.reshape(len(indicators), len(named))[:, codes]


def _needs(indicator: Indicator) -> list[tuple[str, str]]:
    """What the indicator's rule needs of each of its records, in order: (the test, in
    `_failing`, and the message for a record failing it)."""
    rule, name = indicator.rule, indicator.name
    found = [("count", "数量不能为负数")]
    if rule.kind == "observed":
        found += [("points", f"指标“{name}”的分值据实录入：请填写分值"),
                  ("reason", f"指标“{name}”据实录入的分值要写明原因（说明）")]
    elif rule.kind == "rate" and rule.below == "observed":
        found += [("below", f"指标“{name}”的分值据实录入：请填写分值"),
                  ("rate", f"指标“{name}”需要数值（百分比），或据实录入的分值")]
    elif rule.kind in ("rate", "rank", "bottom", "staff_mean") or (rule.kind == "bands" and rule.of == "value"):
        found.append(("value", f"指标“{name}”需要数值"))
    elif rule.kind == "per_event" and rule.tiers:
        found.append(("value", f"指标“{name}”按数值分档：请填写数值"))
    elif rule.kind in ("choice", "carried"):
        found.append(("level", f"指标“{name}”的数值“{{level}}”不是可选的一档：" + "、".join(rule.levels)))
    return found


def _rule_problems(indicators: list[Indicator], records: pd.DataFrame, which: np.ndarray, scored: np.ndarray,
                   present: np.ndarray) -> list[tuple[np.ndarray, list[str]]]:
    """The records failing the first, second … need of their indicator's rule
    (`_needs`), each with the messages by indicator code; `present`: the indicators
    with records."""
    needs = [_needs(indicator) for indicator in indicators]
    value, points = records[VALUE].notna().to_numpy(), records[POINTS].notna().to_numpy()
    found = []
    for number in range(max((len(n) for n in needs), default=0)):
        tests = [n[number][0] if number < len(n) else "" for n in needs]  # each indicator's
        mask = np.zeros(len(records), dtype=bool)
        for name in {tests[code] for code in present} - {""}:
            # The records whose indicator needs this (all of them: at once).
            mine = scored if all(tests[code] == name for code in present) else \
                scored & np.array([test == name for test in tests], dtype=bool)[which]
            mask |= mine & _failing(name, records, mine, which, indicators, value, points)
        found.append((mask, [n[number][1] if number < len(n) else "" for n in needs]))
    return found


def _failing(test: str, records: pd.DataFrame, mine: np.ndarray, which: np.ndarray, indicators: list[Indicator],
             value: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which records fail the test (looked at where `mine`: the records of indicators
    needing it); `value` and `points`: whether each record has a figure, stated points."""
    if test == "count":
        return (pd.array(records[COUNT], dtype="Int64") < 0).to_numpy(dtype=bool, na_value=False)
    if test == "points":
        return ~points
    if test == "rate":
        return ~value & ~points
    if test == "value":
        return ~value
    if test == "below":
        lowest = np.array([min((at for at, _ in i.rule.table), default=0) for i in indicators], dtype="int64")
        figures = pd.array(records[VALUE], dtype="Int64").to_numpy(dtype="int64", na_value=0)
        return value & (figures < lowest[which]) & ~points
    failing = np.zeros(len(records), dtype=bool)
    at = np.flatnonzero(mine)
    if test == "reason":  # a note missing or of spaces only: each distinct note looked at once
        codes, notes = pd.factorize(records[NOTE].to_numpy(dtype=object)[at])  # a missing note: -1
        blank = np.array([not str(note).strip() for note in notes] + [True], dtype=bool)  # the last: missing
        failing[at] = points[at] & blank[codes]
    else:  # "level": the 数值 names none of the indicator's levels
        known = words(lambda code, level: level in indicators[code].rule.levels, which[at],
                      records[LEVEL].to_numpy(dtype=object)[at])
        failing[at] = ~known.astype(bool)
    return failing


# ---- scoring ------------------------------------------------------------------------------

def score(scheme: Scheme, entities: pd.DataFrame, records: pd.DataFrame,
          comparison: pd.DataFrame | None = None, *, periods: Iterable[str] | None = None,
          previous_flags: Mapping[str, frozenset[str]] | None = None) -> Result:
    """The scheme's results for `periods` (default: every period of the records).
    `previous_flags` are each entity's flags of the period before the first (carried
    rules); later periods' come from this run, so a scheme with carried rules is scored
    period after period."""
    entities = entities[ENTITY_COLUMNS].reset_index(drop=True)
    records = records[RECORD_COLUMNS].reset_index(drop=True)
    comparison = (comparison if comparison is not None else pd.DataFrame(columns=COMPARISON_COLUMNS))
    codes = _checked(scheme, entities, records)
    wanted = sorted(set(periods) if periods is not None else set(records[PERIOD].unique()))
    carried = any(indicator.rule.kind == "carried" for indicator in scheme.indicators)
    if not carried or len(wanted) <= 1:
        return _score(scheme, entities, records, codes, comparison, wanted, previous_flags or {})
    results, flags = [], dict(previous_flags or {})
    for period in wanted:
        result = _score(scheme, entities, records, codes, comparison, [period], flags)
        flags = {name: _flag_names(scheme, found) for name, found in zip(result.table[ENTITY], result.table[FLAGS])}
        results.append(result)
    return Result(scheme, pd.concat([r.table for r in results], ignore_index=True),
                  pd.concat([r.items for r in results], ignore_index=True),
                  pd.concat([r.measures for r in results], ignore_index=True),
                  [w for r in results for w in r.warnings])


def _flag_names(scheme: Scheme, ids: Iterable[str]) -> frozenset[str]:
    names = {flag.id: flag.name for flag in scheme.flags}
    return frozenset({*ids, *(names[i] for i in ids if i in names)})


def _score(scheme: Scheme, entities: pd.DataFrame, records: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray],
           comparison: pd.DataFrame, periods: list[str], previous_flags: Mapping[str, frozenset[str]]) -> Result:
    """The periods' results. `codes` are the records' entities and indicators as codes
    (positions in `entities` and scheme.indicators); the periods become codes too
    (positions in `periods`), the work is done on the codes, the names put back."""
    names = entities[ENTITY].tolist()
    count = len(names)
    period = pd.Index(periods, dtype="str").get_indexer(records[PERIOD])
    inside = period >= 0
    chosen = records if inside.all() else records[inside]
    rows = _records(chosen, period[inside] * count + codes[0][inside], codes[1][inside])
    code_of = {name: code for code, name in enumerate(names)}
    window = _positions(np.array(names, dtype=object), entities[WINDOW])
    cells = frame({PERIOD: np.repeat(np.arange(len(periods)), count), ENTITY: np.tile(np.arange(count), len(periods)),
                   GROUP: np.tile(entities[GROUP].to_numpy(dtype=object), len(periods)),
                   KIND: np.tile(entities[KIND].to_numpy(dtype=object), len(periods)),
                   ORDER: np.tile(entities[ORDER].to_numpy(), len(periods)), WINDOW: np.tile(window, len(periods))})
    context = Context(indicators=scheme.indicators, cells=cells, entity_count=count,
                      applies=np.tile(_allowed(scheme.indicators, entities[KIND]), len(periods)),
                      comparison=_comparison(scheme, comparison, periods, names),
                      previous_flags={code_of[name]: found for name, found in previous_flags.items() if name in code_of})
    table, items, warnings = _score_coded(scheme, context, rows)
    period_names, entity_names = np.array(periods, dtype=object), np.array(names, dtype=object)
    table = ranked(scheme, table, entity_names, warnings)
    coded = Codes(table[PERIOD], period_names, table[ENTITY], entity_names)
    table.update({PERIOD: period_names[coded.period], ENTITY: entity_names[coded.entity],
                  WINDOW: entities[WINDOW].to_numpy(dtype=object)[coded.entity]})
    measures = chosen[[PERIOD, ENTITY, INDICATOR, VALUE, LEVEL]].reset_index(drop=True)
    return Result(scheme, frame(table), _in_order(scheme, items, len(cells), period_names, entity_names), measures,
                  warnings, coded)


def frame(columns: dict[str, Any]) -> pd.DataFrame:
    """A table of these columns (arrays of equal length) as they are: words (and other
    objects) are not looked through for a better type (a scan as slow as the rest of
    the work), nothing is copied."""
    index = pd.RangeIndex(len(next(iter(columns.values()))) if columns else 0)
    return pd.DataFrame({name: pd.Series(column, index=index, dtype=object, copy=False) if column.dtype == object
                         else column for name, column in columns.items()}, index=index, copy=False)


def _records(records: pd.DataFrame, cell: np.ndarray, indicator: np.ndarray) -> Records:
    """The records as the rules read them, with their cells and indicators (codes)."""
    note = records[NOTE].to_numpy(dtype=object)
    return Records(cell=cell, indicator=indicator, count=records[COUNT].to_numpy(dtype="int64"),
                   **_figures(records[VALUE], "value"), **_figures(records[POINTS], "points"), own=_written(note),
                   **_figures(records[ROW], "row"), source=np.arange(len(records)),
                   texts=Texts(level=records[LEVEL].to_numpy(dtype=object), note=note))


def _written(notes: np.ndarray) -> np.ndarray:
    """Whether each 说明 says something (neither missing nor empty)."""
    found = notes != ""
    some = np.flatnonzero(found)
    found[some] = ~pd.isna(notes[some])
    return found


def _figures(figures: pd.Series, name: str) -> dict[str, np.ndarray]:
    """A column of figures that may be missing (Int64) as {name: int64 (0 where none), has_name: where one is}."""
    if isinstance(figures.dtype, np.dtype) and figures.dtype.kind in "iu":  # numpy's: none missing
        return {name: figures.to_numpy(dtype="int64"), f"has_{name}": np.ones(len(figures), dtype=bool)}
    found = pd.array(figures, dtype="Int64")
    return {name: found.to_numpy(dtype="int64", na_value=0), f"has_{name}": ~found.isna()}


def _comparison(scheme: Scheme, comparison: pd.DataFrame, periods: list[str], names: list[str]) -> pd.DataFrame:
    """The other places' figures of the periods, on codes: CELL, INDICATOR, OTHER."""
    if comparison.empty:
        return pd.DataFrame({CELL: np.zeros(0, dtype="int64"), INDICATOR: np.zeros(0, dtype="int64"),
                             OTHER: np.zeros(0, dtype="int64")})
    period = pd.Index(periods, dtype=object).get_indexer(comparison[PERIOD].to_numpy(dtype=object))
    entity = _positions(np.array(names, dtype=object), comparison[ENTITY])
    indicator = _positions(np.array([i.id for i in scheme.indicators], dtype=object), comparison[INDICATOR])
    other = pd.array(comparison[OTHER], dtype="Int64")
    known = (period >= 0) & (entity >= 0) & (indicator >= 0) & ~other.isna()
    return pd.DataFrame({CELL: period[known] * len(names) + entity[known], INDICATOR: indicator[known],
                         OTHER: other.to_numpy(dtype="int64", na_value=0)[known]})


def _score_coded(scheme: Scheme, context: Context, records: Records) -> tuple[dict[str, np.ndarray], Items, list[str]]:
    """`_score` on codes: the table's columns (PERIOD, ENTITY and WINDOW as codes) up to
    the vetoes and marks, the items and the warnings."""
    indicators = scheme.indicators
    cells = context.cells
    cell_count = len(cells)
    # Where an item is made (its stage) orders the items of one cell and row: the
    # indicators without, then with staff rules, each's items, start and caps; then the
    # modules' starts and caps; then the floor.
    plain = [code for code, i in enumerate(indicators) if i.rule.kind not in STAFF_RULES]
    staff_bound = [code for code, i in enumerate(indicators) if i.rule.kind in STAFF_RULES]
    place = np.zeros(len(indicators), dtype="int64")
    place[plain + staff_bound] = np.arange(len(indicators))
    by_kind = _by_kind(context, records)
    stated: list[tuple[int, int, str]] = []  # (indicator's place, record's position, warning)
    parts = _indicator_items(scheme, context, plain, by_kind, records, place, stated)
    cell, module, points = _columns(parts)
    by_module = _module_sums(scheme, cell, module, points, cell_count)
    if staff_bound:
        context.staff_items, context.staff_totals = _staff_results(scheme, context, cell, module, points, by_module)
        more = _indicator_items(scheme, context, staff_bound, by_kind, records, place, stated)
        parts += more
        more_columns = _columns(more)
        by_module += _module_sums(scheme, *more_columns, cell_count)
        cell, module, points = (np.concatenate(pair) for pair in zip((cell, module, points), more_columns))
    warnings = [warning for _, _, warning in sorted(stated, key=lambda found: found[:2])]
    parts.append(_module_adjustments(scheme, cell, module, by_module, np.arange(cell_count)))
    by_module += _module_sums(scheme, *_columns(parts[-1:]), cell_count)
    table = {column: cells[column].to_numpy() for column in (PERIOD, ENTITY, GROUP, KIND, ORDER, WINDOW)}
    table.update({module_column(module.id): by_module[:, code] for code, module in enumerate(scheme.modules)})
    table[TOTAL] = scheme.base + by_module.sum(axis=1)
    floor_items = _floor(scheme, table)
    table[ROUNDED] = exact.rounds_half_up(table[TOTAL], scheme.decimals)
    items = Items.concat([*parts, floor_items])
    table[VETOED] = _any_in(by_kind.get("veto", records[0:0]).cell, cell_count)
    table[DEDUCTED] = _any_in(items.cell[items.points < 0], cell_count)
    marks = by_kind.get("mark", records[0:0])
    table[BLOCKED] = blocked_flags(scheme, marks.cell, [indicators[code].rule.blocks for code in marks.indicator],
                                   cell_count)
    return table, items, warnings


def _staff_results(scheme: Scheme, context: Context, cell: np.ndarray, module: np.ndarray, points: np.ndarray,
                   sums: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The staff's items and totals (base + items, with the modules' starts and caps),
    for the rules that need them: each with its staff member's window's cell (CELL, -1
    for none) and POINTS. `cell`, `module`, `points`: the items so far (every cell's);
    `sums`: their points by cell and module."""
    cells, cell_count = context.cells, len(context.cells)
    window = np.where(cells[WINDOW].to_numpy() >= 0, cells[PERIOD].to_numpy() * context.entity_count
                      + cells[WINDOW].to_numpy(), -1)
    staff = np.flatnonzero(cells[KIND].to_numpy(dtype=object) == "staff")
    is_staff = np.zeros(cell_count, dtype=bool)
    is_staff[staff] = True
    mine = np.flatnonzero(is_staff[cell])
    bounds = _module_sums(scheme, *_columns([_module_adjustments(scheme, cell, module, sums, staff)]), cell_count)
    return (pd.DataFrame({CELL: window[cell[mine]], POINTS: points[mine]}),
            pd.DataFrame({CELL: window[staff], POINTS: scheme.base + (sums[staff] + bounds[staff]).sum(axis=1)}))


def _by_kind(context: Context, records: Records) -> dict[str, Records]:
    """The records of each rule kind (each in the records' order)."""
    kinds = sorted({indicator.rule.kind for indicator in context.indicators})
    kind = column(context, lambda i: kinds.index(i.rule.kind), "int8")[records.indicator]
    order = np.argsort(kind, kind="stable")
    ends = np.searchsorted(kind[order], np.arange(len(kinds) + 1))
    records = records[order]
    return {name: records[ends[code]:ends[code + 1]] for code, name in enumerate(kinds)}


def _any_in(cells: np.ndarray, cell_count: int) -> np.ndarray:
    """Whether each of `cell_count` cells is among `cells`."""
    found = np.zeros(cell_count, dtype=bool)
    found[cells] = True
    return found


def _indicator_items(scheme: Scheme, context: Context, codes: list[int], by_kind: dict[str, Records],
                     records: Records, place: np.ndarray, stated: list[tuple[int, int, str]]) -> list[Items]:
    """The items of the indicators `codes` (in parts): each rule kind applied to all
    its indicators at once, then every indicator's start and caps. A record stating
    other points than its rule gives is added to `stated`."""
    kinds = column(context, lambda i: i.rule.kind, object)
    parts = []
    for kind in dict.fromkeys(kinds[codes]):
        rows = by_kind.get(kind, records[0:0])
        found = RULE_FUNCTIONS[kind](rows, [code for code in codes if kinds[code] == kind], context)
        if kind not in ("observed", "measure", "veto", "mark"):
            stated += _stated_differs(context, rows, found, place)
        found.stage = 3 * place[found.indicator]
        parts.append(found)
    parts += _bounds(context, parts, codes, place)
    for part in parts:
        part.module = _module_codes(scheme)[part.indicator]
    return parts


def _stated_differs(context: Context, rows: Records, found: Items, place: np.ndarray) -> list[tuple[int, int, str]]:
    """Records that state points their rule does not give: the rule counts, the
    record's row is named (by the indicator's place, the record's position)."""
    stated = rows[rows.has_points]
    if not len(stated):
        return []
    with_row = found[found.has_row]
    given = pd.Series(with_row.points).groupby([with_row.indicator, with_row.row]).sum()
    keys = pd.MultiIndex.from_arrays([stated.indicator, pd.arrays.IntegerArray(stated.row, ~stated.has_row)])
    computed = given.reindex(keys, fill_value=0).to_numpy(dtype="int64")
    differs = computed != stated.points
    rows_shown = np.where(stated.has_row, stated.row.astype(object), "<NA>")
    return [(int(place[code]), int(source), f"第 {row} 行：{context.indicators[code].name} 记录的分值 "
             f"{exact.text(int(own))} 与规则算出的 {exact.text(int(rule))} 不同，按规则计分")
            for code, source, row, own, rule in zip(stated.indicator[differs], stated.source[differs],
                                                    rows_shown[differs], stated.points[differs], computed[differs])]


def _bounds(context: Context, found: list[Items], codes: list[int], place: np.ndarray) -> list[Items]:
    """The indicators' starts (an item for each cell an indicator applies to) and,
    where a cap (the rule's, then the indicator's max and min) cuts an indicator's
    sum in a cell, an item taking the difference off."""
    indicators = context.indicators
    start = column(context, lambda i: i.start)
    parts = []
    started = [code for code in codes if indicators[code].start]
    if started:
        indicator, cell = applying(context, started)
        parts.append(make_items(cell, indicator, start[indicator], (names(context) + " 起始分")[indicator]))
        parts[-1].stage = 3 * place[indicator] + 1
    bounded = [code for code in codes if indicators[code].rule.cap is not None or indicators[code].max is not None
               or indicators[code].min is not None]
    if not bounded:
        return parts
    is_bounded = np.zeros(len(indicators), dtype=bool)
    is_bounded[bounded] = True
    indicator, cell, points = (np.concatenate([getattr(part, name) for part in found] or [np.zeros(0, dtype="int64")])
                               for name in ("indicator", "cell", "points"))
    mine = is_bounded[indicator]
    indicator, cell, points = indicator[mine], cell[mine], points[mine]
    deducting = np.zeros(len(indicators), dtype=bool)  # a cap of these: 最多扣
    deducting[indicator[points < 0]] = True
    cell_count = len(context.cells)
    codes_of, slots = pd.factorize(indicator * cell_count + cell)  # each (indicator, cell) as one code
    total = np.zeros(len(slots), dtype="int64")
    np.add.at(total, codes_of, points)
    # A cell with no item stands at the start, which the bounds move (帮办代办：无办件的得基础分
    # 1 分, as `min: 1`): every cell then, not only those with items.
    moved = [code for code in bounded if _bare_total(indicators[code]) != indicators[code].start]
    if moved:
        indicator, cell = applying(context, moved)
        every = indicator * cell_count + cell
        missing = every[pd.Index(slots).get_indexer(every) < 0]
        slots, total = np.concatenate([slots, missing]), np.concatenate([total, np.zeros(len(missing), dtype="int64")])
    indicator, cell = np.divmod(np.asarray(slots, dtype="int64"), cell_count)
    cap = column(context, lambda i: FAR if i.rule.cap is None else i.rule.cap)[indicator]
    capped = np.clip(total, -cap, cap) + start[indicator]
    capped = np.minimum(capped, column(context, lambda i: FAR if i.max is None else i.max)[indicator])
    capped = np.maximum(capped, column(context, lambda i: -FAR if i.min is None else i.min)[indicator])
    cut = capped - (total + start[indicator])
    cutting = cut != 0
    notes = np.array([_cap_words(i, deducting[code]) for code, i in enumerate(indicators)], dtype=object)
    indicator = indicator[cutting]
    parts.append(make_items(cell[cutting], indicator, cut[cutting], notes[indicator]))
    parts[-1].stage = 3 * place[indicator] + 2
    return parts


def _bare_total(indicator: Indicator) -> int:
    """The indicator's points of a cell without items: its start within its bounds."""
    total = max(indicator.start, indicator.min) if indicator.min is not None else indicator.start
    return min(total, indicator.max) if indicator.max is not None else total


def _cap_words(indicator: Indicator, deducting: bool) -> str:
    """A cap's item's words: 领导带班 封顶（最多扣 3 分，满分 3）."""
    cap = indicator.rule.cap
    limit = [f"最多{'扣' if deducting else '计'} {exact.text(cap)} 分" if cap is not None else "",
             f"满分 {exact.text(indicator.max)}" if indicator.max is not None else ""]
    return f"{indicator.name} 封顶（{'，'.join(part for part in limit if part)}）"


def _module_codes(scheme: Scheme) -> np.ndarray:
    """Each indicator's module, by code (the module's position in scheme.modules)."""
    return np.array([code for code, module in enumerate(scheme.modules) for _ in module.indicators], dtype="int64")


def _columns(parts: list[Items]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells, modules and points of the items of `parts`."""
    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(part, name) for part in parts] or [np.zeros(0, dtype="int64")])

    return joined("cell"), joined("module"), joined("points")


def _module_adjustments(scheme: Scheme, cell: np.ndarray, module: np.ndarray, sums: np.ndarray,
                        cells: np.ndarray) -> Items:
    """Each module's start (an item for each of `cells`), and the difference its max
    or min takes off its sum (`sums`: [cell, module]) in each of `cells` that has items
    of it (`cell`, `module`: the items')."""
    flat = np.zeros(sums.size, dtype=bool)
    flat[cell * len(scheme.modules) + module] = True
    held = flat.reshape(sums.shape)
    found = []
    stage = 3 * len(scheme.indicators)
    for code, each in enumerate(scheme.modules):
        if each.start:
            found.append(make_items(cells, np.full(len(cells), -1), each.start, f"{each.name} 起始分"))
            found[-1].module[:], found[-1].stage[:] = code, stage + 3 * code
        if each.max is None and each.min is None:
            continue
        # A cell with no item of the module holds its start, within its bounds.
        within = cells[held[cells, code]]
        own = sums[within, code] + each.start
        cut = np.clip(own, -FAR if each.min is None else each.min, FAR if each.max is None else each.max) - own
        within, cut = within[cut != 0], cut[cut != 0]
        if len(cut):
            limit = exact.text(each.max) if each.max is not None and (cut < 0).any() else exact.text(each.min or 0)
            found.append(make_items(within, np.full(len(within), -1), cut, f"{each.name} 封顶（以 {limit} 分为限）"))
            found[-1].module[:], found[-1].stage[:] = code, stage + 3 * code + 1
    return Items.concat(found) if found else no_items()


def _module_sums(scheme: Scheme, cell: np.ndarray, module: np.ndarray, points: np.ndarray,
                 cell_count: int) -> np.ndarray:
    """[cell, module]: the points of each module in each cell, of these items."""
    modules = len(scheme.modules)
    sums = np.zeros(cell_count * modules, dtype="int64")
    inside = module >= 0
    np.add.at(sums, cell[inside] * modules + module[inside], points[inside])
    return sums.reshape(cell_count, modules)


def _floor(scheme: Scheme, table: dict[str, np.ndarray]) -> Items:
    """The totals lifted to the scheme's floor (in `table`), with an item for each lift."""
    if scheme.floor is None:
        return no_items()
    low = np.flatnonzero(table[TOTAL] < scheme.floor)
    lifted = make_items(low, np.full(len(low), -1), scheme.floor - table[TOTAL][low],
                        f"总分不低于 {exact.text(scheme.floor)} 分")
    lifted.module[:], lifted.stage[:] = -1, 3 * (len(scheme.indicators) + len(scheme.modules))
    table[TOTAL] = np.maximum(table[TOTAL], scheme.floor)
    return lifted


def blocked_flags(scheme: Scheme, rows: np.ndarray, blocks: Iterable[Iterable[str]], count: int) -> np.ndarray:
    """Each of `count` rows' flags (ids, in the scheme's order) taken away: the `blocks`
    of the rows `rows` (of a `mark` record, or of a shorter period) put together."""
    found: dict[int, set[str]] = {}
    for row, ids in zip(rows.tolist(), blocks):
        found.setdefault(row, set()).update(ids)
    blocked = repeated((), count)
    for row, ids in found.items():
        blocked[row] = tuple(flag.id for flag in scheme.flags if flag.id in ids)
    return blocked


def _in_order(scheme: Scheme, items: Items, cell_count: int, periods: np.ndarray, entities: np.ndarray) -> pd.DataFrame:
    """The items as the results show them: by period, entity (their cell), the
    record's row (none last), then in the order they were made (stage, then as made);
    the periods', entities', indicators' and modules' names put back."""
    row = np.where(items.has_row, items.row - items.row.min(initial=0), 0)
    rows = int(row.max(initial=0)) + 2  # the rows' span, and one more for none
    row = np.where(items.has_row, row, rows - 1)
    stages = int(items.stage.max(initial=0)) + 1
    if (cell_count + 1) * rows * stages < 2**62:
        order = _stable_order((items.cell * rows + row) * stages + items.stage)  # the three as one key
    else:
        order = np.lexsort((items.stage, row, items.cell))
    period, entity = np.divmod(items.cell[order], len(entities))
    indicator_ids = np.array([i.id for i in scheme.indicators] + [""], dtype=object)
    module_ids = np.array([m.id for m in scheme.modules] + [""], dtype=object)
    return frame({PERIOD: periods[period], ENTITY: entities[entity], MODULE: module_ids[items.module[order]],
                  INDICATOR: indicator_ids[items.indicator[order]], POINTS: items.points[order],
                  NOTE: items.note[order], ROW: pd.arrays.IntegerArray(items.row[order], ~items.has_row[order])})


def _stable_order(key: np.ndarray) -> np.ndarray:
    """The order of a key of numbers from 0 (equal keys as they come): sorted by its
    16-bit digits, the lowest first, as numpy sorts 16-bit numbers by radix (in
    linear time, many times faster than a sort of the whole numbers)."""
    digits: list[np.ndarray] = []
    shift, top = 0, int(key.max(initial=0))
    while not digits or top >> shift:
        digits.append(((key >> shift) & 0xFFFF).astype(np.uint16))
        shift += 16
    return np.lexsort(digits)


# ---- ranks and flags ----------------------------------------------------------------------

def ranked(scheme: Scheme, table: dict[str, np.ndarray], names: np.ndarray,
           warnings: list[str]) -> dict[str, np.ndarray]:
    """The table (its columns; PERIOD and ENTITY as codes, the periods' in the
    periods' order, `names` the entities') in rank order within each period and group
    (the groups in the scheme's order), with RANK, TIED and FLAGS. Ranks by the
    rounded total (what people read), the scheme's method; for ordinal ranks, the
    tie-break modules, then the entities' order; TIED marks entities whose place no
    rule of the scheme decides. The flags: `_flags`."""
    period = table[PERIOD]
    group, ids = pd.factorize(table[GROUP])
    in_order = {found.id: place for place, found in enumerate(scheme.groups)}
    alphabetical = {found: place for place, found in enumerate(sorted(ids))}
    in_scheme = np.array([in_order.get(found, -1) for found in ids], dtype="int64")[group]
    by_id = np.array([alphabetical[found] for found in ids], dtype="int64")[group]
    keys = [table[column] for column in (ROUNDED, *map(module_column, scheme.tie_break))]
    # Last key first: the period, the group, then each key from the highest, then 序号.
    order = np.lexsort((table[ORDER], *[-key for key in reversed(keys)], in_scheme, period))
    table = {name: column[order] for name, column in table.items()}
    keys, period, by_id = [key[order] for key in keys], period[order], by_id[order]
    runs = _Runs(period * (len(scheme.groups) + 1) + in_scheme[order])
    # A row whose keys differ from the row before's, or that starts its group.
    changes = runs.starts.copy()
    for key in keys if scheme.ranking == "ordinal" else keys[:1]:
        changes[1:] |= key[1:] != key[:-1]
    if scheme.ranking == "ordinal":
        table[RANK] = runs.position() + 1
        table[TIED] = np.zeros(len(changes), dtype=bool)
        table[TIED][:-1] |= ~changes[1:]  # the same keys as the next row's
        table[TIED][1:] |= ~changes[1:]  # or as the row before's
    else:
        if scheme.ranking == "dense":
            table[RANK] = runs.count_within(changes)
        else:  # competition: the place of the first of equal totals
            first = np.maximum.accumulate(np.where(changes, np.arange(len(changes)), 0))
            table[RANK] = first - runs.first[runs.run] + 1
        table[TIED] = np.zeros(len(changes), dtype=bool)
    table[FLAGS] = _flags(scheme, table, period, by_id, names, warnings)
    return table


class _Runs:
    """Rows in runs of equal keys (a group within a period, in a sorted table)."""

    def __init__(self, keys: np.ndarray):
        self.starts = np.concatenate([[True], keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=bool)
        self.run = np.cumsum(self.starts) - 1  # each row's run
        self.first = np.flatnonzero(self.starts)  # each run's first row

    def position(self) -> np.ndarray:
        """Each row's position in its run, from 0."""
        return np.arange(len(self.run)) - self.first[self.run]

    def count_within(self, marks: np.ndarray) -> np.ndarray:
        """How many rows of its run up to and including each row are marked."""
        total = np.cumsum(marks)
        before = total[self.first] - marks[self.first]
        return total - before[self.run]


def _flags(scheme: Scheme, table: dict[str, np.ndarray], period: np.ndarray, group: np.ndarray,
           names: np.ndarray, warnings: list[str]) -> np.ndarray:
    """The flags (红旗窗口, stars) taken in rank order within each period and group (`period`,
    `group`: codes, the groups by their ids' order; `names`: the entities'): the vetoed, those a mark blocks
    (BLOCKED), those with a deduction (DEDUCTED, where the flag says so) and those given
    the flag it comes after are passed over and the next one taken. Each row's flags (a
    tuple of ids), in the table's order."""
    order = np.lexsort((table[RANK], group, period))
    runs = _Runs(period[order] * (group.max(initial=0) + 1) + group[order])
    rank = table[RANK][order]
    kind, kinds = pd.factorize(table[KIND][order])
    vetoed, deducted = table[VETOED][order], table[DEDUCTED][order]
    blocked_ids = table[BLOCKED][order]
    some_blocked = np.flatnonzero(blocked_ids.astype(bool))
    given: dict[str, np.ndarray] = {}
    for flag in scheme.flags:
        members = np.array([flag.of is None or found in flag.of for found in kinds], dtype=bool)[kind] \
            if len(kinds) else np.zeros(0, dtype=bool)
        eligible = members & ~vetoed
        eligible[some_blocked[np.array([flag.id in blocked_ids[at] for at in some_blocked], dtype=bool)]] = False
        if flag.skip_deducted:
            eligible &= ~deducted
        if flag.after:
            eligible &= ~given[flag.after]
        sizes = np.add.reduceat(members.astype("int64"), runs.first) if len(order) else np.zeros(0, dtype="int64")
        quota = np.array([_flag_count(flag, int(size)) for size in sizes], dtype="int64")[runs.run]
        place = runs.count_within(eligible)
        taken = eligible & (place <= quota)
        given[flag.id] = taken
        # A quota that splits equal ranks: the office decides.
        last = np.zeros(len(runs.first), dtype="int64")
        np.maximum.at(last, runs.run[taken], rank[taken])
        split = eligible & ~taken & (place == quota + 1) & (rank == last[runs.run])
        for at in order[split]:
            warnings.append(f"{scheme.group_name(table[GROUP][at])}：{flag.name}名额的最后一名与“{names[table[ENTITY][at]]}”"
                            "名次相同，请办公室决定")
    flags = repeated((), len(order))
    if not given:
        return flags
    codes, found = distinct(*given.values())  # each combination of flags taken, as a tuple of ids
    combinations = np.empty(len(found), dtype=object)
    for at, taken in enumerate(found):
        combinations[at] = tuple(flag_id for flag_id, on in zip(given, taken) if on)
    flags[order] = combinations[codes]
    return flags


def _flag_count(flag: Flag, members: int) -> int:
    """top_n: n; top_fraction: the fraction of the group's members of its kinds, the
    count rounded as the flag says (30 % of 25 is 7.5)."""
    if flag.kind == "top_n":
        return flag.n
    whole, rest = divmod(flag.fraction * members, exact.MILLI)
    if flag.count == "floor" or rest == 0:
        return whole
    if flag.count == "ceil":
        return whole + 1
    return whole + (1 if rest * 2 >= exact.MILLI else 0)
