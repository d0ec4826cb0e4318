"""The four seed documents' published figures, reproduced cell by cell from their own
items (voting/data/schemes/): the expected tables (tests/schemes/expected/) are
transcribed from the documents apart from the items. Where a document contradicts
itself, the test names the cell and asserts the rule's value."""
from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path


from scoring.schemes import exact
from scoring.schemes.engine import FLAGS, RANK, ROUNDED, TIED, Result, score
from voting.schemes.files import builtin_folder, read_data, read_scheme

EXPECTED = Path(__file__).parent / "expected"


def expected(name: str) -> list[dict[str, str]]:
    with open(EXPECTED / f"{name}.csv", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def reproduce(seed: str) -> Result:
    scheme = read_scheme(seed)
    data = read_data(scheme, builtin_folder() / seed)
    return score(scheme, data.entities, data.records, data.comparison)


def milli(text: str) -> int:
    return exact.to_milli(text)


def rows_of(result: Result, group: str) -> dict[str, dict]:
    table = result.table[result.table["group"] == group]
    return {row["entity"]: row for row in table.to_dict("records")}


# ---- Enyang: 60 scores and dense ranks in two groups ------------------------------------

def test_enyang_scores_and_dense_ranks_in_both_groups():
    result = reproduce("enyang")
    published = expected("enyang")
    assert len(published) == 60
    for row in published:
        found = rows_of(result, row["分组"])[row["对象"]]
        assert (found[ROUNDED], found[RANK]) == (milli(row["得分"]), int(row["排名"])), row["对象"]
    assert not result.warnings


def test_enyang_guangong_subtotal_misprint_follows_the_items():
    """关公镇's text says “共加0.1分” for the items +2 and +0.1: the items count (2.1),
    and with the hotline's +3 the published 105.1."""
    result = reproduce("enyang")
    items = result.items[result.items["entity"] == "关公镇"]
    assert sorted(items["points"]) == [100, 1000, 2000, 2000]
    assert rows_of(result, "towns")["关公镇"][ROUNDED] == milli("105.1")


# ---- Miyi: windows, cross-county ranks, red flags and stars ------------------------------

def test_miyi_window_scores_and_ordinal_ranks_with_open_ties():
    result = reproduce("miyi")
    windows = rows_of(result, "windows")
    published = expected("miyi_windows")
    assert len(published) == 11
    for row in published:
        found = windows[row["窗口名称"]]
        assert found[ROUNDED] == milli(row["得分"]), row["窗口名称"]
    # Ordinal ranks: the tied pairs (102.5 at 4 and 5, 102 at 7 and 8) in either order.
    by_rank = {int(row["名次"]): row for row in published}
    for rank_, row in by_rank.items():
        found = windows[row["窗口名称"]]
        if found[TIED]:
            partner = by_rank[rank_ + 1] if rank_ + 1 in by_rank and by_rank[rank_ + 1]["得分"] == row["得分"] \
                else by_rank[rank_ - 1]
            assert {found[RANK], windows[partner["窗口名称"]][RANK]} == {rank_, int(partner["名次"])}
        else:
            assert found[RANK] == rank_, row["窗口名称"]
    assert {name for name, row in windows.items() if row[TIED]} == {"人力资源社会保障局", "农业农村局", "卫生健康局",
                                                                  "综合行政执法局"}


def test_miyi_cross_county_ranks_with_monthly_and_year_end_points():
    result = reproduce("miyi")
    items = result.items[result.items["entity"].str.startswith(("县", "米易"))]
    ranked = 0
    for row in expected("miyi_counties"):
        own = items[items["entity"] == row["单位名称"]]
        monthly = own[own["indicator"] == "county_rank"]["points"].tolist()
        yearly = own[own["indicator"] == "county_rank_year"]["points"].tolist()
        if not row["对比名次"]:
            assert monthly == [] and yearly == [], row["单位名称"]
            continue
        ranked += 1
        assert monthly == [milli(row["月考核加分"])], row["单位名称"]
        assert yearly == [milli(row["年终绩效考核得分"])], row["单位名称"]
        note = own[own["indicator"] == "county_rank"]["note"].iloc[0]
        assert f"排名第{row['对比名次']}（" in note
    assert ranked == 17


def test_miyi_red_flags_and_stars():
    result = reproduce("miyi")
    given: dict[str, set[str]] = {}
    for row in result.table.to_dict("records"):
        for flag in row[FLAGS]:
            given.setdefault(flag, set()).add(row["entity"])
    published: dict[str, set[str]] = {}
    for row in expected("miyi_flags"):
        published.setdefault(row["flag"], set()).add(row["对象"])
    assert given == published
    assert (len(given["red"]), len(given["overall_star"]), len(given["service_star"])) == (5, 10, 5)


def test_miyi_staff_scores_and_ranks():
    result = reproduce("miyi")
    staff = result.table[result.table["group"] == "staff"].sort_values(RANK)
    published = expected("miyi_staff")
    assert len(staff) == len(published) == 84
    assert [row[ROUNDED] for row in staff.to_dict("records")] == [milli(row["得分"]) for row in published]


# ---- the arithmetic the documents need --------------------------------------------------

def test_half_up_where_binary_floats_print_low():
    """Jinjiang's 公安出入境: 29.562 + 10 + 24 + 14.5 + 13.5 + 16 = 107.562 → 107.56; a
    sum that lands on .xx5 rounds up, where binary floats may land just below."""
    assert exact.round_half_up(sum(map(milli, ["29.562", "10", "24", "14.5", "13.5", "16"])), 2) == milli("107.56")
    assert exact.round_half_up(sum(map(milli, ["28.095", "10", "29.75", "15", "15", "6"])), 2) == milli("103.85")
    assert round(28.095 + 10 + 29.75 + 15 + 15 + 6, 2) == 103.84  # what floats print
    assert Decimal("103.845") == exact.to_decimal(sum(map(milli, ["28.095", "10", "29.75", "15", "15", "6"])))


# ---- Jinjiang: 25 totals (module sums, half up) and ordinal ranks ------------------------

JINJIANG_MODULES = {"人员表现": "staff", "人员进驻": "entry", "业务规范": "business", "窗口规范": "conduct",
                    "评价管理": "evaluation", "奖励分": "bonus"}


def test_jinjiang_modules_totals_and_ranks():
    """Every module and total as printed, but 残联's: its 明细第6栏 prints 3 for 人均即办件
    630 and 人均承诺件 470, which 备注4's bands make 2 + 1.5 = 3.5; the rule counts, so
    its 奖励分 is 5.3 (printed 4.8) and its total 100.23 (printed 99.73), still 12th."""
    result = reproduce("jinjiang")
    table = rows_of(result, "all")
    scheme = result.scheme
    assert [m.name for m in scheme.modules] == list(JINJIANG_MODULES)
    published = expected("jinjiang")
    assert len(published) == 25
    for row in published:
        found = table[row["窗口"]]
        misprint = row["窗口"] == "残联"
        for name, module_id in JINJIANG_MODULES.items():
            printed = milli(row[name]) + (500 if misprint and name == "奖励分" else 0)
            assert found[f"module:{module_id}"] == printed, (row["窗口"], name)
        assert found[ROUNDED] == milli(row["总分"]) + (500 if misprint else 0), row["窗口"]
        assert found[RANK] == int(row["名次"]), row["窗口"]


def test_jinjiang_red_flags_pass_over_the_vetoed():
    """30 % of 25 is 7.5, taken as 7 (the scheme's decision, for the office to
    confirm); 公安出入境, first but vetoed (一票否决 √), is passed over: ranks 2–8."""
    result = reproduce("jinjiang")
    table = result.table.sort_values(RANK)
    flagged = table[table[FLAGS].map(bool)][RANK].tolist()
    assert flagged == [2, 3, 4, 5, 6, 7, 8]
    assert set(table[table["vetoed"]]["entity"]) == {"公安出入境", "税务"}


# ---- Genhe: the indicator tree and a month worked by hand -------------------------------

def test_genhe_tree_adds_to_90_with_a_bonus_capped_at_10():
    scheme = read_scheme("genhe")
    scored = [m for m in scheme.modules if m.name != "加分项" and any(i.max for i in m.indicators)]
    maxima = {m.name: sum(i.max or 0 for i in m.indicators) for m in scored}
    assert maxima == {"领导重视方面": 15000, "业务管理方面": 40000, "日常管理方面": 22000, "综合工作方面": 13000}
    bonus = next(m for m in scheme.modules if m.name == "加分项")
    assert bonus.max == 10000


def test_genhe_month_worked_by_hand():
    result = reproduce("genhe")
    table = rows_of(result, "all")
    modules = {m.name: m.id for m in result.scheme.modules}
    for row in expected("genhe"):
        found = table[row["窗口"]]
        for name in ("领导重视方面", "业务管理方面", "日常管理方面", "综合工作方面", "加分项"):
            assert found[f"module:{modules[name]}"] == milli(row[name]), (row["窗口"], name)
        assert (found[ROUNDED], found[RANK]) == (milli(row["总分"]), int(row["名次"])), row["窗口"]
        assert bool(found["vetoed"]) == (row["一票否决"] == "是")
