"""Benchmark of the scheme engine (`scoring.schemes.engine.score`) on a county's year
of window assessments, against a plain pandas groupby-sum of the same events' points.

The data (seeded, made in memory): --windows windows (default 200) in two groups, five
staff each (1,000), 12 months, a 40-indicator scheme using every rule kind that works on
records (per event with caps and tiers, fixed, choice, escalating, bands, rate, observed,
staff deductions and the staff's mean, vetoes and marks), red flags and stars, and
--events records (default 200,000) spread over the months.

* baseline: `records.groupby([period, entity])[points].sum()`, each record carrying
  its points already (what a spreadsheet's pivot table does);
* engine: every month scored (items, caps, module sums, totals, ranks, vetoes, flags),
  then the quarters, half-years and the year rolled up from the months.

It prints seconds of each (best of --repeat), the ratio (target: within 5x) and the
exactness check: every total equals base + its items summed as Python Decimals, and
the rounded totals are those of `decimal` half up; it also prints how many of the
year's totals binary floats (the baseline's float sum of the points) would print
differently.

    .venv/bin/python bench/scheme_bench.py
    .venv/bin/python bench/scheme_bench.py --events 20000 --repeat 1     # a quick run
    .venv/bin/python bench/scheme_bench.py --profile                     # then cProfile's top 30
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import pandas as pd

from scoring.schemes import columns as S
from scoring.schemes.engine import COMPARISON_COLUMNS, ENTITY_COLUMNS, RECORD_COLUMNS, score
from scoring.schemes.exact import to_decimal
from scoring.schemes.rollup import roll_up
from scoring.schemes.scheme import load_scheme

MONTHS = [f"2025-{month:02d}" for month in range(1, 13)]

# Ten indicators of each of four modules: 40 in all, every record-driven rule kind.
MODULE_TEMPLATE = """
  - id: {module}
    name: '模块{module}'
    start: {start}
    max: {start_or_20}
    indicators:
      - {{id: {module}_miss, name: '缺岗{module}', for: [window, staff], rule: {{kind: per_event, points: -0.5, cap: 3}}}}
      - {{id: {module}_late, name: '迟到{module}', for: [window, staff], rule: {{kind: per_event, points: -0.1, cap: 1}}}}
      - {{id: {module}_over, name: '延时{module}', for: [window, staff], rule: {{kind: per_event, tiers: [[5, 0.1], [20, 0.2]], cap: 2}}}}
      - {{id: {module}_told, name: '告知{module}', for: [window], rule: {{kind: fixed, points: 1}}}}
      - {{id: {module}_info, name: '信息{module}', for: [window], rule: {{kind: choice, levels: {{'好': 2, '较好': 1.5, '一般': 1, '差': 0}}}}}}
      - {{id: {module}_quarrel, name: '争吵{module}', for: [window, staff], rule: {{kind: escalating, steps: [[1, -2], [2, -5]]}}}}
      - {{id: {module}_online, name: '网办{module}', for: [window], rule: {{kind: bands, bands: [[1, 5, 0.5], [6, 10, 1], [11, null, 1.5]]}}}}
      - {{id: {module}_rate, name: '满意率{module}', for: [window], rule: {{kind: rate, table: [[100, 1], [95, 0.5]], below: 0}}}}
      - {{id: {module}_lump, name: '其他{module}', for: [window, staff], rule: observed}}
      - {{id: {module}_praise, name: '表扬{module}', for: [window, staff], rule: {{kind: per_event, points: 0.3, cap: 1.5}}}}
"""
HEAD = """
name: '基准方案'
kinds: [window, staff]
groups:
  - {id: a, name: '甲组'}
  - {id: b, name: '乙组'}
  - {id: s, name: '工作人员'}
period: month
base: 100
decimals: 2
ranking: {method: ordinal, tie_break: [m1]}
flags:
  - {id: red, name: '红旗窗口', kind: top_fraction, fraction: 0.3, count: half_up, of: [window]}
  - {id: gold, name: '综合优胜星', kind: top_n, n: 10, of: [staff], skip_deducted: true}
  - {id: blue, name: '规范服务星', kind: top_n, n: 5, of: [staff], skip_deducted: true, after: gold}
modules:
"""
EXTRA = """
  - id: staff
    name: '人员'
    indicators:
      - {id: staff_cut, name: '人员扣分计入窗口', for: [window], rule: staff_deductions}
      - {id: staff_mean, name: '人员表现', for: [window], rule: {kind: staff_mean, weight: 0.03}}
      - {id: veto, name: '一票否决', rule: veto}
      - {id: nostar, name: '取消评优', for: [staff], rule: {kind: mark, blocks: [gold, blue]}}
"""


def scheme_text() -> str:
    modules = "".join(MODULE_TEMPLATE.format(module=f"m{i}", start=0 if i > 1 else 0, start_or_20=20)
                      for i in range(1, 5))
    return HEAD + modules + EXTRA


def data(windows: int, events: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = random.Random(seed)
    people = []
    for w in range(windows):
        name = f"窗口{w:03d}"
        people.append({S.ENTITY: name, S.GROUP: "a" if w % 2 else "b", S.KIND: "window", S.ORDER: w + 1, S.WINDOW: ""})
        for k in range(5):
            people.append({S.ENTITY: f"{name}-{k}", S.GROUP: "s", S.KIND: "staff", S.ORDER: 10_000 + w * 5 + k,
                           S.WINDOW: name})
    entities = pd.DataFrame(people, columns=ENTITY_COLUMNS)
    windows_names = [p[S.ENTITY] for p in people if p[S.KIND] == "window"]
    staff_names = [p[S.ENTITY] for p in people if p[S.KIND] == "staff"]
    kinds = ["miss", "late", "over", "told", "info", "quarrel", "online", "rate", "lump", "praise"]
    staff_kinds = {"miss", "late", "over", "quarrel", "lump", "praise"}
    rows = []
    for row in range(events):
        suffix = rng.choice(kinds)
        module = f"m{rng.randint(1, 4)}"
        who = rng.choice(staff_names) if suffix in staff_kinds and rng.random() < 0.6 else rng.choice(windows_names)
        count, value, level, points, note = 1, None, "", None, ""
        if suffix == "over":
            value = rng.choice([3, 7, 12, 25]) * 1000
            level = str(value // 1000)
        elif suffix == "info":
            level = rng.choice(["好", "较好", "一般", "差"])
        elif suffix == "online":
            count = rng.randint(1, 4)
        elif suffix == "rate":
            value = rng.choice([100_000, 97_500, 88_000])
            level = f"{value / 1000}%"
        elif suffix == "lump":
            points = rng.choice([-300, -150, 100, 250])
            note = "据实录入"
        rows.append({S.PERIOD: rng.choice(MONTHS), S.ENTITY: who, S.INDICATOR: f"{module}_{suffix}", S.COUNT: count,
                     S.VALUE: value, S.LEVEL: level, S.POINTS: points, S.NOTE: note, S.ROW: row + 2})
    for w in range(0, windows, 40):  # a few vetoes and marks
        rows.append({S.PERIOD: MONTHS[w % 12], S.ENTITY: windows_names[w], S.INDICATOR: "veto", S.COUNT: 1,
                     S.VALUE: None, S.LEVEL: "", S.POINTS: None, S.NOTE: "通报批评", S.ROW: len(rows) + 2})
    records = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    records = records.astype({S.VALUE: "Int64", S.POINTS: "Int64", S.COUNT: "int64", S.ROW: "int64"})
    return entities, records


def exactness(result) -> tuple[int, int]:
    """(cells checked, cells wrong): base + items as Decimals against each total, and
    the rounded total against Decimal half up."""
    base = to_decimal(result.scheme.base)
    sums: dict[tuple[str, str], Decimal] = {}
    for period, entity, points in zip(result.items[S.PERIOD], result.items[S.ENTITY], result.items[S.POINTS]):
        sums[(period, entity)] = sums.get((period, entity), Decimal(0)) + to_decimal(int(points))
    wrong = 0
    quantum = Decimal(1).scaleb(-result.scheme.decimals)
    for period, entity, total, rounded in zip(result.table[S.PERIOD], result.table[S.ENTITY], result.table["total"],
                                              result.table["rounded"]):
        expected = base + sums.get((period, entity), Decimal(0))
        if expected != to_decimal(int(total)) or expected.quantize(quantum, ROUND_HALF_UP) != to_decimal(int(rounded)):
            wrong += 1
    return len(result.table), wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    scheme = load_scheme(scheme_text(), "bench.yaml")
    entities, records = data(args.windows, args.events)
    comparison = pd.DataFrame(columns=COMPARISON_COLUMNS)
    priced = records.assign(**{S.POINTS: records[S.POINTS].fillna(100)})  # the baseline's points, one per record
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"pandas {pd.__version__}")
    print(f"{len(entities):,} entities ({args.windows} windows), {len(scheme.indicators)} indicators, "
          f"{len(records):,} records over {len(MONTHS)} months; best of {args.repeat}")
    best_base = best_engine = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        priced.groupby([S.PERIOD, S.ENTITY])[S.POINTS].sum()
        best_base = min(best_base, time.perf_counter() - start)
        start = time.perf_counter()
        months = score(scheme, entities, records, comparison, periods=MONTHS)
        rolled = [roll_up(months, period) for period in ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2025-H1",
                                                         "2025-H2", "2025")]
        best_engine = min(best_engine, time.perf_counter() - start)
    cells, wrong = exactness(months)
    year = rolled[-1].table
    floats = sum(1 for total, rounded in zip(year["total"], year["rounded"]) if round(int(total) / 1000, 2) * 1000
                 != int(rounded))
    print()
    print(f"{'':<34}{'seconds':>10}{'x baseline':>12}")
    print(f"{'baseline: groupby-sum of points':<34}{best_base:>10.3f}{1:>12.1f}")
    print(f"{'engine: 12 months + 7 roll-ups':<34}{best_engine:>10.3f}{best_engine / best_base:>12.1f}")
    print()
    print(f"exact: {cells - wrong:,} of {cells:,} month totals equal base + their items in Decimal, rounded half up"
          f" ({'PASS' if wrong == 0 else 'FAIL'})")
    print(f"binary floats would print {floats} of the year's {len(year)} rounded totals differently")
    print(f"target: within 5x the groupby — {'PASS' if best_engine <= 5 * best_base else 'FAIL'}")
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        score(scheme, entities, records, comparison, periods=MONTHS)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
