"""Properties of the scheme engine over random records: caps hold, a bonus never lowers
a score, the order of the records changes nothing, base + items is the total; and
roll-ups worked by hand."""
from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.schemes.rollup import months_of, roll_up
from scoring.schemes.engine import FLAGS, RANK, VETOED
from tests.schemes.support import entities, records, run, scheme_of, totals

SCHEME = scheme_of("", base=100, modules="""
  - id: d
    name: '扣分'
    start: 10
    max: 10
    min: 0
    indicators:
      - {id: miss, name: '缺岗', rule: {kind: per_event, points: -1, cap: 4}}
      - {id: late, name: '迟到', rule: {kind: per_event, points: -0.5}}
      - {id: fight, name: '争吵', rule: {kind: escalating, steps: [[1, -2], [2, -5]]}}
  - id: b
    name: '奖励'
    max: 5
    indicators:
      - {id: info, name: '信息', max: 2, rule: {kind: per_event, points: 0.1}}
      - {id: award, name: '表彰', rule: observed}""")
NAMES = ["甲", "乙", "丙"]
KINDS = ["miss", "late", "fight", "info", "award"]

events = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(KINDS), st.integers(1, 6),
                            st.sampled_from(["0.5", "1", "2.5", "3"])), max_size=30)


def to_rows(drawn):
    return [(who, kind, count, "", points if kind == "award" else "", "表彰" if kind == "award" else "")
            for who, kind, count, points in drawn]


def module_points(result, module):
    return dict(zip(result.table["entity"], result.table[f"module:{module}"]))


@settings(max_examples=60, deadline=None)
@given(events)
def test_caps_hold_and_items_add_up(drawn):
    result = run(SCHEME, entities(*NAMES), records(*to_rows(drawn)))
    for entity, points in module_points(result, "d").items():
        assert 0 <= points <= 10_000, entity
    for entity, points in module_points(result, "b").items():
        assert 0 <= points <= 5_000, entity
    sums = result.items.groupby("entity")["points"].sum()
    assert all(100_000 + int(sums.get(e, 0)) == t for e, t in zip(result.table["entity"], result.table["total"]))


@settings(max_examples=40, deadline=None)
@given(events, st.sampled_from(NAMES), st.sampled_from(["0.5", "3"]))
def test_a_bonus_never_lowers_a_score(drawn, who, points):
    before = run(SCHEME, entities(*NAMES), records(*to_rows(drawn)))
    after = run(SCHEME, entities(*NAMES), records(*to_rows(drawn), (who, "award", 1, "", points, "表彰")))
    old, new = dict(zip(before.table["entity"], before.table["total"])), dict(zip(after.table["entity"],
                                                                                 after.table["total"]))
    assert new[who] >= old[who] and all(new[e] == old[e] for e in NAMES if e != who)


@settings(max_examples=40, deadline=None)
@given(events, st.randoms(use_true_random=False))
def test_row_order_changes_nothing(drawn, rng):
    rows = to_rows(drawn)
    shuffled = list(rows)
    rng.shuffle(shuffled)
    first = run(SCHEME, entities(*NAMES), records(*rows))
    second = run(SCHEME, entities(*NAMES), records(*shuffled))
    assert totals(first) == totals(second)
    key = ["entity", "rank"]
    assert first.table[key].sort_values("entity").values.tolist() == second.table[key].sort_values("entity").values.tolist()


def test_months_of_periods():
    assert months_of("2023-Q1") == ["2023-01", "2023-02", "2023-03"]
    assert months_of("2021-H2")[0] == "2021-07" and len(months_of("2021")) == 12


def test_quarter_rolls_up_as_the_mean_of_its_months_and_keeps_a_veto():
    """甲: 101, 102.5, 100 → mean 101.167 (101.1666… half up); 乙: 100, 100, 103 → 101;
    乙 vetoed in March, so vetoed for the quarter and passed over for the flag."""
    scheme = scheme_of("""
        - {id: x, name: '加分', rule: observed}
        - {id: veto, name: '一票否决', rule: veto}
    """, flags="[{id: red, name: '红旗窗口', kind: top_n, n: 1}]", rollup="mean")
    rows = records(("甲", "x", 1, "", "1", "a", "2023-01"), ("甲", "x", 1, "", "2.5", "a", "2023-02"),
                   ("乙", "x", 1, "", "3", "a", "2023-03"), ("乙", "veto", 1, "", "", "", "2023-03"))
    months = run(scheme, entities("甲", "乙"), rows, periods=["2023-01", "2023-02", "2023-03"])
    quarter = roll_up(months, "2023-Q1")
    assert totals(quarter) == {"甲": "101.167", "乙": "101"}
    table = quarter.table.set_index("entity")
    assert table.loc["甲", RANK] == 1 and table.loc["乙", VETOED] and table.loc["甲", FLAGS] == ("red",)
    assert pd.Series(quarter.items["note"]).str.contains("2023-02：102.5 分").any()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(-10**9, 10**9), min_size=1, max_size=12), min_size=1, max_size=20))
def test_roll_up_mean_on_columns_is_the_exact_half_up_mean(groups):
    from scoring.schemes import exact
    from scoring.schemes.rollup import _mean_half_up

    sums = pd.DataFrame({"total": [sum(g) for g in groups]})
    found = _mean_half_up(sums, pd.Series([len(g) for g in groups]))["total"].tolist()
    assert found == [exact.mean(g) for g in groups]
