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
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from scoring.engine import InputError
from scoring.schemes import exact
from scoring.schemes.columns import (COUNT, ENTITY, GROUP, INDICATOR, KEY, KIND, LEVEL, MODULE, NOTE, ORDER, OTHER,
                                     PERIOD, PLACE, POINTS, ROW, VALUE, WINDOW)
from scoring.schemes.rules import ITEM_COLUMNS, RULE_FUNCTIONS, Context
from scoring.schemes.scheme import KINDS, STAFF_RULES, Flag, Indicator, Scheme

ENTITY_COLUMNS = [ENTITY, GROUP, KIND, ORDER, WINDOW]
RECORD_COLUMNS = [PERIOD, ENTITY, INDICATOR, COUNT, VALUE, LEVEL, POINTS, NOTE, ROW]
COMPARISON_COLUMNS = [PERIOD, ENTITY, INDICATOR, PLACE, OTHER]
TOTAL, ROUNDED, RANK, TIED, VETOED, FLAGS = "total", "rounded", "rank", "tied", "vetoed", "flags"


def module_column(module_id: str) -> str:
    """The results table's column of a module's points (apart from the table's own)."""
    return f"module:{module_id}"


@dataclass
class Result:
    """A scheme's results for one or more periods."""

    scheme: Scheme
    # One row per period and entity: PERIOD, ENTITY, GROUP, KIND, ORDER, WINDOW (a staff
    # member's), TOTAL, ROUNDED,
    # RANK, TIED, VETOED, FLAGS (a tuple of flag ids), and each module's points
    # (`module_column`).
    table: pd.DataFrame
    # Every item: PERIOD, ENTITY, MODULE, INDICATOR ("" for a module's or the scheme's
    # own), POINTS, NOTE, ROW (the record's row, or NA).
    items: pd.DataFrame
    # The figures of `measure` indicators (and every record's value): PERIOD, ENTITY, INDICATOR, LEVEL.
    measures: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    def period(self, period: str) -> Result:
        return Result(self.scheme, self.table[self.table[PERIOD] == period].reset_index(drop=True),
                      self.items[self.items[PERIOD] == period].reset_index(drop=True),
                      self.measures[self.measures[PERIOD] == period].reset_index(drop=True), list(self.warnings))


def check_inputs(scheme: Scheme, entities: pd.DataFrame, records: pd.DataFrame) -> None:
    """InputError listing every record that names an unknown entity or indicator, one
    the indicator does not apply to, or lacks what its rule needs."""
    problems: list[tuple[int | None, str]] = []
    for entity, kind in zip(entities[ENTITY], entities[KIND]):
        if kind not in scheme.kinds:
            problems.append((None, f"对象“{entity}”的类型“{KINDS.get(kind, kind)}”不在方案的考核对象中"))
    for entity in entities[ENTITY][entities[ENTITY].duplicated()]:
        problems.append((None, f"对象“{entity}”重复"))
    groups = {group.id for group in scheme.groups}
    for entity, group in zip(entities[ENTITY], entities[GROUP]):
        if group not in groups:
            problems.append((None, f"对象“{entity}”的分组“{group}”不在方案中"))
    kind_of = records[ENTITY].map(entities.drop_duplicates(ENTITY).set_index(ENTITY)[KIND])
    unknown = kind_of.isna()
    problems += [(row, f"对象“{name}”不在对象名单中") for row, name in zip(records[ROW][unknown], records[ENTITY][unknown])]
    indicators = {indicator.id: indicator for indicator in scheme.indicators}
    known = records[INDICATOR].isin(list(indicators))
    nameless = ~unknown & ~known
    problems += [(row, f"方案中没有指标“{name}”") for row, name in zip(records[ROW][nameless], records[INDICATOR][nameless])]
    for indicator_id, rows in records[~unknown & known].groupby(INDICATOR, sort=False):
        indicator = indicators[str(indicator_id)]
        if indicator.kinds is not None:
            kinds = kind_of[rows.index]
            wrong = ~kinds.isin(list(indicator.kinds))
            problems += [(row, f"指标“{indicator.name}”不考核{KINDS.get(kind, kind)}")
                         for row, kind in zip(rows[ROW][wrong], kinds[wrong])]
        for mask, message in _rule_problems(indicator, rows):
            problems += [(row, message.replace("{level}", str(level)))
                         for row, level in zip(rows[ROW][mask], rows[LEVEL][mask])]
    if problems:
        raise InputError("items", sorted(problems, key=lambda problem: (problem[0] or 0)))


def _rule_problems(indicator: Indicator, rows: pd.DataFrame) -> list[tuple[pd.Series, str]]:
    """What the indicator's rule needs of its records: (the records lacking it, why)."""
    rule, name = indicator.rule, indicator.name
    value, points = rows[VALUE].notna(), rows[POINTS].notna()
    found = [(rows[COUNT] < 0, "数量不能为负数")]
    if rule.kind == "observed":
        found.append((~points, f"指标“{name}”的分值据实录入：请填写分值"))
        found.append((points & (rows[NOTE].fillna("").astype(str).str.strip() == ""),
                      f"指标“{name}”据实录入的分值要写明原因（说明）"))
    elif rule.kind == "rate" and rule.below == "observed":
        lowest = min(at for at, _ in rule.table)
        below = value & (rows[VALUE].fillna(0) < lowest)
        found.append((below & ~points, f"指标“{name}”的分值据实录入：请填写分值"))
        found.append((~value & ~points, f"指标“{name}”需要数值（百分比），或据实录入的分值"))
    elif rule.kind in ("rate", "rank", "bottom", "staff_mean") or (rule.kind == "bands" and rule.of == "value"):
        found.append((~value, f"指标“{name}”需要数值"))
    elif rule.kind == "per_event" and rule.tiers:
        found.append((~value, f"指标“{name}”按数值分档：请填写数值"))
    elif rule.kind in ("choice", "carried"):
        found.append((~rows[LEVEL].isin(list(rule.levels)),
                      f"指标“{name}”的数值“{{level}}”不是可选的一档：" + "、".join(rule.levels)))
    return [(mask.fillna(False).astype(bool), message) for mask, message in found]


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
    check_inputs(scheme, entities, records)
    wanted = sorted(set(periods) if periods is not None else set(records[PERIOD]))
    carried = any(indicator.rule.kind == "carried" for indicator in scheme.indicators)
    if not carried or len(wanted) <= 1:
        return _score(scheme, entities, records, comparison, wanted, previous_flags or {})
    results, flags = [], dict(previous_flags or {})
    for period in wanted:
        result = _score(scheme, entities, records, comparison, [period], flags)
        flags = {row[ENTITY]: _flag_names(scheme, row[FLAGS]) for _, row in result.table.iterrows()}
        results.append(result)
    return Result(scheme, pd.concat([r.table for r in results], ignore_index=True),
                  pd.concat([r.items for r in results], ignore_index=True),
                  pd.concat([r.measures for r in results], ignore_index=True),
                  [w for r in results for w in r.warnings])


def _flag_names(scheme: Scheme, ids: Iterable[str]) -> frozenset[str]:
    names = {flag.id: flag.name for flag in scheme.flags}
    return frozenset({*ids, *(names[i] for i in ids if i in names)})


def _score(scheme: Scheme, entities: pd.DataFrame, records: pd.DataFrame, comparison: pd.DataFrame,
           periods: list[str], previous_flags: Mapping[str, frozenset[str]]) -> Result:
    """The periods' results, worked on integer codes of the periods and entities (their
    positions in `periods` and `entities`): grouping and joining on numbers instead
    of names, then the names put back."""
    names = entities[ENTITY].tolist()
    entity_code = {name: code for code, name in enumerate(names)}
    period_code = {label: code for code, label in enumerate(periods)}

    def coded(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame[frame[PERIOD].isin(periods)]
        return frame.assign(**{PERIOD: frame[PERIOD].map(period_code).astype("int64"),
                               ENTITY: frame[ENTITY].map(entity_code).astype("int64")})

    people = entities.assign(**{ENTITY: range(len(names)),
                                WINDOW: entities[WINDOW].map(entity_code).fillna(-1).astype("int64")})
    flags_before = {entity_code[name]: found for name, found in previous_flags.items() if name in entity_code}
    result = _score_coded(scheme, people, coded(records), coded(comparison), list(range(len(periods))),
                          flags_before, names)
    entity_names, period_names = pd.Series(names, dtype=object), pd.Series(periods, dtype=object)

    def named(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{PERIOD: period_names.to_numpy()[frame[PERIOD].to_numpy(dtype="int64")],
                               ENTITY: entity_names.to_numpy()[frame[ENTITY].to_numpy(dtype="int64")]})

    table = named(result.table)
    table[WINDOW] = entities[WINDOW].to_numpy()[table[ENTITY].map(entity_code).to_numpy(dtype="int64")]
    return Result(scheme, table, named(result.items), named(result.measures), result.warnings)


def _score_coded(scheme: Scheme, entities: pd.DataFrame, records: pd.DataFrame, comparison: pd.DataFrame,
                 periods: list[int], previous_flags: Mapping[int, frozenset[str]], names: list[str]) -> Result:
    """`_score` on codes; `names` are the entities' names (for the warnings)."""
    records = records[records[PERIOD].isin(periods)]
    comparison = comparison[comparison[PERIOD].isin(periods)]
    cells = pd.MultiIndex.from_product([periods, entities[ENTITY]], names=KEY).to_frame(index=False)
    cells = cells.merge(entities, on=ENTITY)
    by_indicator = dict(tuple(records.groupby(INDICATOR, sort=False)))
    empty = records.iloc[0:0]
    warnings: list[str] = []

    def items_of(indicators: list[Indicator], context_extra: dict) -> pd.DataFrame:
        parts = []
        for indicator in indicators:
            applies = cells if indicator.kinds is None else cells[cells[KIND].isin(list(indicator.kinds))]
            rows = by_indicator.get(indicator.id, empty)
            context = Context(cells=applies, comparison=comparison, previous_flags=previous_flags, **context_extra)
            found = RULE_FUNCTIONS[indicator.rule.kind](indicator, rows, context)
            found = found[found[POINTS].notna()].astype({POINTS: "int64"})
            warnings.extend(_stated_differs(indicator, rows, found))
            parts.append(_capped(indicator, found, applies))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ITEM_COLUMNS + [INDICATOR])

    plain = [i for i in scheme.indicators if i.rule.kind not in STAFF_RULES]
    staff_bound = [i for i in scheme.indicators if i.rule.kind in STAFF_RULES]
    items = items_of(plain, {})
    if staff_bound:
        staff = cells[cells[KIND] == "staff"][KEY + [WINDOW]]
        staff_items = items.merge(staff, on=KEY)
        staff_totals = _totals(scheme, staff_items, staff[KEY])
        staff_totals = staff_totals.merge(staff, on=KEY).rename(columns={TOTAL: POINTS})
        items = pd.concat([items, items_of(staff_bound, {"staff_items": staff_items,
                                                         "staff_totals": staff_totals})], ignore_index=True)
    items = items.merge(_module_of(scheme), on=INDICATOR, how="left")
    items = pd.concat([items, _module_adjustments(scheme, items, cells)], ignore_index=True)
    table = _table(scheme, items, cells)
    table, floor_items = _floor(scheme, table)
    items = pd.concat([items, floor_items], ignore_index=True)
    vetoed = _recorded(records, scheme, "veto")
    table[VETOED] = pd.MultiIndex.from_frame(table[KEY]).isin(vetoed)
    table = ranked(scheme, table, warnings)
    table[FLAGS] = flagged(scheme, table, items, records, warnings, names)
    measures = records[KEY + [INDICATOR, VALUE, LEVEL]]
    items = items.sort_values([PERIOD, ENTITY, ROW], kind="stable", na_position="last").reset_index(drop=True)
    return Result(scheme, table.reset_index(drop=True), items[[PERIOD, ENTITY, MODULE, INDICATOR, POINTS, NOTE, ROW]],
                  measures.reset_index(drop=True), warnings)


def _module_of(scheme: Scheme) -> pd.DataFrame:
    return pd.DataFrame([(i.id, i.module) for i in scheme.indicators], columns=[INDICATOR, MODULE])


def _stated_differs(indicator: Indicator, rows: pd.DataFrame, found: pd.DataFrame) -> list[str]:
    """A record that states points the rule does not give: the rule counts, the
    record's row is named."""
    if indicator.rule.kind in ("observed", "measure", "veto", "mark") or rows.empty:
        return []
    stated = rows[rows[POINTS].notna()]
    if stated.empty:
        return []
    given = found.dropna(subset=[ROW]).groupby(ROW)[POINTS].sum()
    rule_points = stated[ROW].map(given).fillna(0).astype("int64")
    differs = rule_points.to_numpy() != stated[POINTS].astype("int64").to_numpy()
    return [f"第 {row} 行：{indicator.name} 记录的分值 {exact.text(int(points))} 与规则算出的 "
            f"{exact.text(int(computed))} 不同，按规则计分"
            for row, points, computed in zip(stated[ROW][differs], stated[POINTS][differs], rule_points[differs])]


def _capped(indicator: Indicator, found: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """The indicator's items with its start (an item for each cell) and, where a cap
    (the rule's, then the indicator's max and min) cuts the sum, an item taking the
    difference off."""
    parts = [found]
    if indicator.start:
        parts.append(cells[KEY].assign(**{POINTS: indicator.start, NOTE: f"{indicator.name} 起始分", ROW: pd.NA}))
    items = pd.concat(parts, ignore_index=True)
    cap = indicator.rule.cap
    if cap is None and indicator.max is None and indicator.min is None:
        return items.assign(**{INDICATOR: indicator.id})
    sums = found.groupby(KEY)[POINTS].sum()
    bare_total = max(indicator.start, indicator.min) if indicator.min is not None else indicator.start
    bare_total = min(bare_total, indicator.max) if indicator.max is not None else bare_total
    if bare_total != indicator.start:
        # A cell with no item stands at the start, which the bounds move (帮办代办：
        # 无办件的得基础分 1 分, as `min: 1`): every cell's sum, not only those with items.
        sums = sums.reindex(pd.MultiIndex.from_frame(cells[KEY]), fill_value=0)
    capped = sums.clip(-cap, cap) if cap is not None else sums
    capped = capped + indicator.start
    if indicator.max is not None:
        capped = capped.clip(upper=indicator.max)
    if indicator.min is not None:
        capped = capped.clip(lower=indicator.min)
    cut = capped - (sums + indicator.start)
    cut = cut[cut != 0]
    if not cut.empty:
        limit = [f"最多{'扣' if (cap is not None and (found[POINTS] < 0).any()) else '计'} {exact.text(cap)} 分"
                 if cap is not None else "", f"满分 {exact.text(indicator.max)}" if indicator.max is not None else ""]
        words = "，".join(part for part in limit if part)
        adjustments = cut.rename(POINTS).reset_index().assign(**{NOTE: f"{indicator.name} 封顶（{words}）", ROW: pd.NA})
        items = pd.concat([items, adjustments], ignore_index=True)
    return items.assign(**{INDICATOR: indicator.id})


def _module_adjustments(scheme: Scheme, items: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Each module's start, and the difference its max or min takes off its sum."""
    parts = []
    bounded = [module for module in scheme.modules if module.max is not None or module.min is not None]
    sums = items.groupby(KEY + [MODULE])[POINTS].sum() if bounded else None
    for module in scheme.modules:
        if module.start:
            parts.append(cells[KEY].assign(**{MODULE: module.id, INDICATOR: "", POINTS: module.start,
                                              NOTE: f"{module.name} 起始分", ROW: pd.NA}))
        if module not in bounded or sums is None:
            continue
        # A cell with no item of the module holds its start, within its bounds.
        own = sums.xs(module.id, level=MODULE) + module.start if module.id in sums.index.get_level_values(MODULE) \
            else pd.Series(dtype="int64")
        cut = own.clip(lower=module.min, upper=module.max) - own
        cut = cut[cut != 0]
        if not cut.empty:
            limit = exact.text(module.max) if module.max is not None and (cut < 0).any() else exact.text(module.min or 0)
            parts.append(cut.rename(POINTS).reset_index().assign(**{
                MODULE: module.id, INDICATOR: "", NOTE: f"{module.name} 封顶（以 {limit} 分为限）", ROW: pd.NA}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=items.columns)


def _totals(scheme: Scheme, items: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Each cell's total (base + items, with module starts and caps) without the floor:
    the staff's totals, for the rules that need them."""
    items = items.merge(_module_of(scheme), on=INDICATOR, how="left") if MODULE not in items else items
    items = pd.concat([items, _module_adjustments(scheme, items, cells)], ignore_index=True)
    sums = items.groupby(KEY)[POINTS].sum().reindex(pd.MultiIndex.from_frame(cells[KEY]), fill_value=0)
    return (sums + scheme.base).rename(TOTAL).reset_index()


def _table(scheme: Scheme, items: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    index = pd.MultiIndex.from_frame(cells[KEY])
    table = cells[KEY + [GROUP, KIND, ORDER, WINDOW]].copy()
    by_module = items.groupby(KEY + [MODULE])[POINTS].sum().unstack(MODULE, fill_value=0)
    for module in scheme.modules:
        column = by_module[module.id] if module.id in by_module else pd.Series(0, index=by_module.index)
        table[module_column(module.id)] = column.reindex(index, fill_value=0).astype("int64").to_numpy()
    table[TOTAL] = scheme.base + table[[module_column(m.id) for m in scheme.modules]].sum(axis=1).astype("int64")
    return table


def _floor(scheme: Scheme, table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    if scheme.floor is None:
        return rounded(scheme, table), pd.DataFrame(columns=ITEM_COLUMNS + [MODULE, INDICATOR])
    low = table[table[TOTAL] < scheme.floor]
    lifted = low[KEY].assign(**{MODULE: "", INDICATOR: "", POINTS: scheme.floor - low[TOTAL],
                                NOTE: f"总分不低于 {exact.text(scheme.floor)} 分", ROW: pd.NA})
    table[TOTAL] = table[TOTAL].clip(lower=scheme.floor)
    return rounded(scheme, table), lifted


def rounded(scheme: Scheme, table: pd.DataFrame) -> pd.DataFrame:
    table[ROUNDED] = table[TOTAL].map(lambda total: exact.round_half_up(int(total), scheme.decimals)).astype("int64")
    return table


def _recorded(records: pd.DataFrame, scheme: Scheme, kind: str) -> pd.MultiIndex:
    ids = [i.id for i in scheme.indicators if i.rule.kind == kind]
    return pd.MultiIndex.from_frame(records[records[INDICATOR].isin(ids)][KEY])


def ranked(scheme: Scheme, table: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """Ranks within each period and group by the rounded total (what people read), the
    scheme's method; for ordinal ranks, the tie-break modules, then the entities' order.
    TIED marks entities whose place no rule of the scheme decides."""
    method = {"dense": "dense", "competition": "min", "ordinal": "first"}[scheme.ranking]
    keys = [ROUNDED, *map(module_column, scheme.tie_break)]
    table["_group"] = table[GROUP].map({group.id: index for index, group in enumerate(scheme.groups)})
    table = table.sort_values([PERIOD, "_group", *keys, ORDER], ascending=[True, True, *[False] * len(keys), True],
                              kind="stable").drop(columns="_group")
    grouped = table.groupby([PERIOD, GROUP], sort=False)
    if scheme.ranking == "ordinal":
        table[RANK] = grouped.cumcount() + 1
        table[TIED] = table.duplicated([PERIOD, GROUP, *keys], keep=False)
    else:
        table[RANK] = grouped[ROUNDED].rank(method=method, ascending=False).astype("int64")
        table[TIED] = False
    return table


def flagged(scheme: Scheme, table: pd.DataFrame, items: pd.DataFrame, records: pd.DataFrame,
            warnings: list[str], names: list[str] | None = None) -> list[tuple[str, ...]]:
    """The flags (红旗窗口, stars) taken in rank order within each period and group: the
    vetoed, those a mark blocks, those with a deduction (where the flag says so) and
    those given the flag it comes after are passed over and the next one taken."""
    order = table.sort_values([PERIOD, GROUP, RANK], kind="stable").index
    ordered = table.loc[order]
    keys = pd.MultiIndex.from_frame(ordered[KEY])
    deducted = keys.isin(pd.MultiIndex.from_frame(items.loc[items[POINTS] < 0, KEY]))
    marks = {i.id: i.rule.blocks for i in scheme.indicators if i.rule.kind == "mark"}
    marked = records[records[INDICATOR].isin(list(marks))]
    given: dict[str, pd.Series] = {}
    for flag in scheme.flags:
        members = ordered[KIND].isin(list(flag.of)) if flag.of is not None else pd.Series(True, index=order)
        blocking = [indicator for indicator, blocks in marks.items() if flag.id in blocks]
        blocked = keys.isin(pd.MultiIndex.from_frame(marked.loc[marked[INDICATOR].isin(blocking), KEY]))
        eligible = members & ~ordered[VETOED].astype(bool) & ~blocked
        if flag.skip_deducted:
            eligible &= ~deducted
        if flag.after:
            eligible &= ~given[flag.after]
        groups = [ordered[PERIOD], ordered[GROUP]]
        sizes = members.astype("int64").groupby(groups).transform("sum")
        quota = sizes.map({size: _flag_count(flag, int(size)) for size in sizes.unique()})
        place = eligible.astype("int64").groupby(groups).cumsum()
        taken = eligible & (place <= quota)
        given[flag.id] = taken
        # A quota that splits equal ranks: the office decides.
        last = ordered[RANK].where(taken).groupby(groups).transform("max")
        split = eligible & ~taken & (place == quota + 1) & (ordered[RANK] == last)
        for group, entity in zip(ordered[GROUP][split], ordered[ENTITY][split]):
            shown = names[entity] if names is not None else entity
            warnings.append(f"{scheme.group_name(group)}：{flag.name}名额的最后一名与“{shown}”名次相同，请办公室决定")
    flags = pd.Series([()] * len(ordered), index=order, dtype=object)
    for flag_id, taken in given.items():
        flags[taken] = flags[taken].map(lambda found, f=flag_id: (*found, f))
    return flags.reindex(table.index).tolist()


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
