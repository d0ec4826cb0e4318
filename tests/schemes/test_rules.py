"""Every rule kind of docs/schemes.md §1 with hand-worked numbers: each case is a
scheme of one indicator, the records of a month, and each window's total (base 100)."""
from __future__ import annotations

import pytest

from scoring.engine import InputError
from scoring.schemes.engine import FLAGS, RANK, TIED, VETOED
from tests.schemes.support import comparison, entities, records, run, scheme_of, totals

CASES = [
    # fixed: once when recorded (two records still once), `missing` when not
    ("fixed", "- {id: x, name: '告知', rule: {kind: fixed, points: 1, missing: -0.5}}",
     [("甲", "x"), ("甲", "x"), ("乙", "x")], {"甲": "101", "乙": "101", "丙": "99.5"}),
    # choice: the level named; `missing` a level's name
    ("choice", "- {id: x, name: '信息报送', rule: {kind: choice, levels: {'好': 6, '较好': 4, '一般': 2, '差': 0}, missing: '一般'}}",
     [("甲", "x", 1, "好"), ("乙", "x", 1, "差")], {"甲": "106", "乙": "100", "丙": "102"}),
    # per_event: count × points, the sum capped at 3 in size
    ("per_event cap", "- {id: x, name: '领导带班', rule: {kind: per_event, points: -1, cap: 3}}",
     [("甲", "x", 2), ("乙", "x", 2), ("乙", "x", 3)], {"甲": "98", "乙": "97", "丙": "100"}),
    # per_event with a start: full 3, −1 each, at most 3 off
    ("per_event start", "- {id: x, name: '领导带班', start: 3, max: 3, rule: {kind: per_event, points: -1, cap: 3}}",
     [("甲", "x", 1), ("乙", "x", 5)], {"甲": "102", "乙": "100", "丙": "103"}),
    # per_event tiers: minutes of overtime, 5+ → 0.1, 20+ → 0.2, below 5 nothing
    ("per_event tiers", "- {id: x, name: '延时服务', rule: {kind: per_event, tiers: [[5, 0.1], [20, 0.2]]}}",
     [("甲", "x", 1, 7), ("甲", "x", 1, 20), ("甲", "x", 1, 4), ("乙", "x", 1, 35)],
     {"甲": "100.3", "乙": "100.2", "丙": "100"}),
    # escalating: one complaint −2, two or more −5
    ("escalating", "- {id: x, name: '争吵被投诉', rule: {kind: escalating, steps: [[1, -2], [2, -5]]}}",
     [("甲", "x"), ("乙", "x"), ("乙", "x"), ("乙", "x")], {"甲": "98", "乙": "95", "丙": "100"}),
    # bands of the count: none 0.5, 1–5 1, 6–10 1.5, 11+ 2
    ("bands count", "- {id: x, name: '网办件', rule: {kind: bands, bands: [[0, 0, 0.5], [1, 5, 1], [6, 10, 1.5], [11, null, 2]]}}",
     [("甲", "x", 5), ("乙", "x", 6), ("乙", "x", 6)], {"甲": "101", "乙": "102", "丙": "100.5"}),
    # bands of a value: 人均即办件 300–599 → 1, 600+ → 2
    ("bands value", "- {id: x, name: '人均即办件', rule: {kind: bands, of: value, bands: [[300, 599, 1], [600, null, 2]]}}",
     [("甲", "x", 1, 299), ("乙", "x", 1, 300), ("丙", "x", 1, 600)], {"甲": "100", "乙": "101", "丙": "102"}),
    # rate: 100 % → +2, 95 % → +1, below: the recorded deduction (observed)
    ("rate", "- {id: x, name: '回访满意率', rule: {kind: rate, table: [[100, 2], [95, 1]], below: observed}}",
     [("甲", "x", 1, "100%"), ("乙", "x", 1, "95.89%"), ("丙", "x", 1, "85.71%", "-2.4")],
     {"甲": "102", "乙": "101", "丙": "97.6"}),
    # observed: as given
    ("observed", "- {id: x, name: '通报', rule: observed}",
     [("甲", "x", 1, "", "-0.5", "区两改办通报"), ("甲", "x", 1, "", "-0.5", "市中心通报")],
     {"甲": "99", "乙": "100", "丙": "100"}),
    # indicator max: +0.1 a piece, at most 0.5
    ("max", "- {id: x, name: '信息', max: 0.5, rule: {kind: per_event, points: 0.1}}",
     [("甲", "x", 6), ("乙", "x", 3)], {"甲": "100.5", "乙": "100.3", "丙": "100"}),
]


@pytest.mark.parametrize("body, rows, expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_rule_kind(body, rows, expected):
    result = run(scheme_of(body), entities("甲", "乙", "丙"), records(*rows))
    assert totals(result) == expected
    # Base + the items is the total, always.
    sums = result.items.groupby("entity")["points"].sum()
    assert {e: 100_000 + int(sums.get(e, 0)) for e in expected} == dict(zip(result.table["entity"],
                                                                              result.table["total"]))


def test_rank_against_other_places_ties_share_the_better_place():
    """米易's 97 against 仁和's 97 and 盐边's 2004: second; no figure, no points."""
    scheme = scheme_of("- {id: r, name: '办件量对比', rule: {kind: rank, self: '米易', points: [2.5, 2, 1.5, 1, 0.5]}}")
    result = run(scheme, entities("卫生健康", "税务", "教育"),
                 records(("卫生健康", "r", 1, 97), ("税务", "r", 1, 14)),
                 comparison(("卫生健康", "r", "西区", 88), ("卫生健康", "r", "仁和", 97), ("卫生健康", "r", "盐边", 2004),
                            ("税务", "r", "东区", 234), ("税务", "r", "西区", 205), ("税务", "r", "仁和", 113),
                            ("税务", "r", "盐边", 53), ("教育", "r", "仁和", 99)))
    assert totals(result) == {"卫生健康": "102", "税务": "100.5", "教育": "100"}
    assert "排名第2" in result.items[result.items["entity"] == "卫生健康"]["note"].iloc[0]


def test_bottom_three_of_the_group():
    """办件量排名后三位 −0.5 (last), −0.3, −0.2: the lowest three figures of the group."""
    scheme = scheme_of("- {id: v, name: '办件量', rule: {kind: bottom, points: [-0.5, -0.3, -0.2]}}")
    rows = records(*[(name, "v", 1, figure) for name, figure in
                     (("甲", 50), ("乙", 10), ("丙", 30), ("丁", 20), ("戊", 40))])
    result = run(scheme, entities("甲", "乙", "丙", "丁", "戊"), rows)
    assert totals(result) == {"甲": "100", "乙": "99.5", "丙": "99.8", "丁": "99.7", "戊": "100"}


def test_carried_from_the_previous_period_or_recorded():
    scheme = scheme_of("- {id: c, name: '上期亮牌', rule: {kind: carried, points: {'红牌': 0.1, '黑牌': -0.1}}}")
    result = run(scheme, entities("甲", "乙", "丙"), records(("丙", "c", 1, "黑牌")),
                 previous_flags={'甲': frozenset({'红牌'}), '乙': frozenset()})
    assert totals(result) == {"甲": "100.1", "乙": "100", "丙": "99.9"}


def test_staff_deductions_and_staff_mean_reach_the_window():
    """Two staff of window 甲: 98 and 100.5 (a −2 and a +0.5); the window takes their
    deductions (−2) and 0.3 × their mean (99.25 × 0.3 = 29.775)."""
    scheme = scheme_of("""
        - {id: s, name: '人员扣分', for: [window], rule: staff_deductions}
        - {id: p, name: '人员表现', for: [window], rule: {kind: staff_mean, weight: 0.3}}
        - {id: e, name: '人员事项', for: [staff], rule: observed}
    """, base=0)
    people = entities("甲", "乙").pipe(lambda w: __import__("pandas").concat(
        [w, entities("张三", "李四", kind="staff", window="甲")], ignore_index=True))
    people["order"] = range(1, 5)
    rows = records(("张三", "e", 1, "", "98", "基础"), ("李四", "e", 1, "", "100.5", "基础"),
                   ("张三", "e", 1, "", "-2", "迟到"), ("李四", "e", 1, "", "0.5", "表扬"))
    result = run(scheme, people, rows)
    found = totals(result)
    assert found["张三"] == "96" and found["李四"] == "101"
    assert found["甲"] == "27.55"  # −2 + 0.3 × 98.5 = −2 + 29.55
    assert found["乙"] == "0"


def test_module_start_max_and_floor():
    """A module scored by deduction from full (start 10, max 10) and a bonus module
    capped at 5; the scheme's floor 0 for a total of −3."""
    scheme = scheme_of("", base=0, floor=0, modules="""
  - id: d
    name: '人员进驻'
    start: 10
    max: 10
    indicators:
      - {id: miss, name: '缺岗', rule: {kind: per_event, points: -1}}
  - id: b
    name: '奖励分'
    max: 5
    indicators:
      - {id: bonus, name: '表彰', rule: observed}""")
    rows = records(("甲", "miss", 2), ("甲", "bonus", 1, "", "4", "市级表彰"), ("甲", "bonus", 1, "", "3", "省级表彰"),
                   ("乙", "miss", 13))
    result = run(scheme, entities("甲", "乙"), rows)
    assert totals(result) == {"甲": "13", "乙": "0"}  # 8 + min(7, 5); max(−3, 0)
    cap = result.items[(result.items["entity"] == "甲") & (result.items["module"] == "b") &
                       (result.items["indicator"] == "")]
    assert cap["points"].tolist() == [-2000]


@pytest.mark.parametrize("method, ranks", [("dense", [1, 1, 2, 3]), ("competition", [1, 1, 3, 4]),
                                           ("ordinal", [1, 2, 3, 4])])
def test_ranking_methods(method, ranks):
    scheme = scheme_of("- {id: x, name: '加分', rule: observed}", ranking=f"{{method: {method}}}")
    rows = records(("甲", "x", 1, "", "5.1", "a"), ("乙", "x", 1, "", "5.1", "a"), ("丙", "x", 1, "", "3", "a"),
                   ("丁", "x", 1, "", "1", "a"))
    result = run(scheme, entities("甲", "乙", "丙", "丁"), rows)
    assert result.table.sort_values("order")[RANK].tolist() == ranks
    assert result.table.sort_values("order")[TIED].tolist() == ([True, True, False, False]
                                                                if method == "ordinal" else [False] * 4)


def test_ranks_use_the_rounded_total():
    """105.104 and 105.096 both show 105.10: equal to whoever reads the table."""
    scheme = scheme_of("- {id: x, name: '加分', rule: observed}", ranking="{method: competition}")
    rows = records(("甲", "x", 1, "", "5.104", "a"), ("乙", "x", 1, "", "5.096", "a"))
    assert run(scheme, entities("甲", "乙"), rows).table[RANK].tolist() == [1, 1]


@pytest.mark.parametrize("count, taken", [("floor", 7), ("half_up", 8), ("ceil", 8)])
def test_top_fraction_skips_the_vetoed(count, taken):
    """30 % of 25 windows is 7.5; the vetoed first is passed over and the next taken."""
    scheme = scheme_of("""
        - {id: x, name: '加分', rule: observed}
        - {id: veto, name: '一票否决', rule: veto}
    """, flags=f"[{{id: red, name: '红旗窗口', kind: top_fraction, fraction: 0.3, count: {count}, of: [window]}}]")
    names = [f"窗口{i:02d}" for i in range(1, 26)]
    rows = records(*[(name, "x", 1, "", str(50 - i), "a") for i, name in enumerate(names)], ("窗口01", "veto"))
    result = run(scheme, entities(*names), rows)
    flagged = result.table[result.table[FLAGS].map(bool)]["entity"].tolist()
    assert flagged == names[1:taken + 1]
    first = result.table[result.table["entity"] == "窗口01"].iloc[0]
    assert first[RANK] == 1 and first[VETOED]


def test_stars_skip_the_deducted_and_the_marked_and_come_after():
    scheme = scheme_of("""
        - {id: x, name: '事项', rule: observed}
        - {id: no, name: '取消评优', rule: {kind: mark, blocks: [gold]}}
    """, flags="[{id: gold, name: '综合优胜星', kind: top_n, n: 2, skip_deducted: true},"
               " {id: blue, name: '规范服务星', kind: top_n, n: 2, skip_deducted: true, after: gold}]")
    rows = records(("甲", "x", 1, "", "5", "a"), ("乙", "x", 1, "", "4", "a"), ("乙", "x", 1, "", "-0.1", "迟到"),
                   ("丙", "x", 1, "", "3", "a"), ("丁", "x", 1, "", "2", "a"), ("丁", "no"), ("戊", "x", 1, "", "1", "a"))
    result = run(scheme, entities("甲", "乙", "丙", "丁", "戊"), rows)
    assert dict(zip(result.table["entity"], result.table[FLAGS])) == {
        "甲": ("gold",), "乙": (), "丙": ("gold",), "丁": ("blue",), "戊": ("blue",)}


def test_stated_points_that_differ_are_warned_and_the_rule_counts():
    scheme = scheme_of("- {id: x, name: '信息', rule: {kind: per_event, points: 0.1}}")
    result = run(scheme, entities("甲"), records(("甲", "x", 5, "", "0.6", "报送信息5篇")))
    assert totals(result) == {"甲": "100.5"}
    assert result.warnings == ["第 2 行：信息 记录的分值 0.6 与规则算出的 0.5 不同，按规则计分"]


@pytest.mark.parametrize("row, message", [
    (("无名", "x", 1, "", "1", "a"), "对象“无名”不在对象名单中"),
    (("甲", "nope"), "方案中没有指标“nope”"),
    (("甲", "x", 1, "", "", "a"), "指标“加分”的分值据实录入：请填写分值"),
    (("甲", "x", 1, "", "1", ""), "指标“加分”据实录入的分值要写明原因（说明）"),
    (("甲", "lvl", 1, "很好"), "指标“报送”的数值“很好”不是可选的一档：好、差"),
])
def test_bad_records_are_named_by_row(row, message):
    scheme = scheme_of("""
        - {id: x, name: '加分', rule: observed}
        - {id: lvl, name: '报送', rule: {kind: choice, levels: {'好': 1, '差': 0}}}
    """)
    with pytest.raises(InputError) as caught:
        run(scheme, entities("甲"), records(row))
    assert caught.value.problems == [(2, message)]
