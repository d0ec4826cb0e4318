"""The period page's inline SVG charts (voting.schemes.charts): each chart parses as
XML, is an accessible image (role, a Chinese aria-label with the group's name and a
summary), shows the totals as the table does (exact thousandths, half up), escapes the
names, stays inside its width; the ranking's bars come in rank order, the vetoed marked
by a word and a shape, the flags named; the trend shows every period. Then the pages:
the ranking above each group's table, the trend under it for a rolled-up period (on
SQLite and PostgreSQL)."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import openpyxl
import pytest

from scoring.schemes.engine import score
from scoring.schemes.output import period_text
from scoring.schemes.rollup import roll_up
from tests.schemes.support import entities, records, scheme_of
from tests.schemes.test_views import genhe, page, period_path  # noqa: F401  (genhe: a fixture)
from voting.core import svg
from voting.schemes import assessments as A
from voting.schemes import charts

SVG = "{http://www.w3.org/2000/svg}"
NS = {"s": "http://www.w3.org/2000/svg"}
MONTHS = ["2023-01", "2023-02", "2023-03"]
HOSTILE = "<script>alert(\"x\")</script> & 'q'\x01\x0b"
TWO_GROUPS = "\n  - {id: front, name: '前台窗口'}\n  - {id: back, name: '后台科室'}"
FLAGS = "[{id: red, name: '红旗窗口', kind: top_n, n: 1}]"
INDICATORS = """
- id: plus
  name: '加减分'
  rule: {kind: observed}
- id: veto
  name: '否决事项'
  rule: {kind: veto}
"""


def parse(chart) -> ET.Element:
    root = ET.fromstring(str(chart))
    assert root.tag == f"{SVG}svg"
    return root


def assert_accessible(root: ET.Element, title: str) -> None:
    assert root.get("role") == "img"
    assert root.get("aria-label").startswith(f"{title}。")
    assert root.get("viewBox").split()[:3] == ["0", "0", str(svg.WIDTH)]
    assert root.get("width") == "100%" and "chart" in root.get("class").split()
    assert root[0].tag == f"{SVG}title" and root[0].text == title
    assert root[1].tag == f"{SVG}desc" and root[1].text and root[1].text in root.get("aria-label")


def assert_inside_width(root: ET.Element) -> None:
    """Nothing is drawn beyond the viewBox's sides (so nothing overflows a phone)."""
    for el in root.iter():
        tag = el.tag.removeprefix(SVG)
        for name in ("x", "x1", "x2", "cx"):
            if el.get(name) is not None:
                assert 0 <= float(el.get(name)) <= svg.WIDTH, (tag, name, el.get(name))
        if tag == "rect":
            assert float(el.get("x")) + float(el.get("width")) <= svg.WIDTH + 0.01
        if tag == "text":
            x, w = float(el.get("x")), svg.text_width("".join(el.itertext()), float(el.get("font-size")))
            start = {"start": x, "middle": x - w / 2, "end": x - w}[el.get("text-anchor", "start")]
            assert start >= 0 and start + w <= svg.WIDTH + 0.5, "".join(el.itertext())


def bars(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//s:g[@class='bar']", NS)


def text_of(element: ET.Element, cls: str) -> str:
    found = element.find(f"s:text[@class='{cls}']", NS)
    return "".join(found.itertext()) if found is not None else ""


def scheme(**top):
    return scheme_of(INDICATORS, groups=TWO_GROUPS, flags=FLAGS, **top)


def people(*names: str, group: str = "front"):
    return entities(*names, group=group)


def scored(rows, names=("甲窗口", "乙窗口", "丙窗口", "丁窗口"), periods=("2023-03",), **top):
    return score(scheme(**top), people(*names), records(*rows), periods=list(periods))


# ---- the ranking -------------------------------------------------------------------------------


def test_the_ranking_is_an_accessible_image_of_the_totals_in_rank_order():
    # base 100; 1.005 and 0.015 are totals whose binary floats round the wrong way
    # (101.005 -> 101.0, 100.015 -> 100.01): the bars say 101.01 and 100.02, as the table.
    result = scored([("乙窗口", "plus", 1, "", "1.005", "表扬"), ("丙窗口", "plus", 1, "", "0.015", "表扬"),
                     ("丁窗口", "plus", 1, "", "-2.5", "投诉")])
    root = parse(charts.ranking(result, "front"))
    assert_accessible(root, "前台窗口得分排名")
    assert_inside_width(root)
    found = [(b.get("data-rank"), text_of(b, "name"), b.get("data-total"), text_of(b, "total")) for b in bars(root)]
    assert found == [("1", "乙窗口", "101.01", "101.01"), ("2", "丙窗口", "100.02", "100.02"),
                     ("3", "甲窗口", "100", "100"), ("4", "丁窗口", "97.5", "97.5")]
    assert [text_of(b, "rank") for b in bars(root)] == ["1", "2", "3", "4"]
    label = root.get("aria-label")
    assert "前台窗口" in label and "第1名 乙窗口（101.01 分），共 4 个对象" in label and "最后 丁窗口（97.5 分）" in label
    assert "红旗窗口 1 个" in label
    # One scale from 0 to the highest total: the best bar is the longest, the others in proportion.
    widths = [float(b.find("s:rect", NS).get("width")) for b in bars(root)]
    assert widths == sorted(widths, reverse=True)
    assert widths[3] / widths[0] == pytest.approx(97.5 / 101.01, abs=0.001)
    assert {b.find("s:rect", NS).get("x") for b in bars(root)} == {str(int(charts.BAR_LEFT))}


def test_the_decimals_are_the_schemes():
    result = scored([("甲窗口", "plus", 1, "", "0.125", "说明")], decimals=1)
    assert [b.get("data-total") for b in bars(parse(charts.ranking(result, "front")))][0] == "100.1"  # 100.125 half up


def test_the_vetoed_are_marked_by_word_and_shape_and_flags_named():
    result = scored([("甲窗口", "plus", 1, "", "5", "表扬"), ("甲窗口", "veto", 1, "", "", "违规"),
                     ("乙窗口", "plus", 1, "", "3", "表扬")])
    root = parse(charts.ranking(result, "front"))
    first, second = bars(root)[:2]
    assert first.get("data-vetoed") == "true" and text_of(first, "veto") == "否决"
    rect = first.find("s:rect", NS)
    assert rect.get("fill") == "#fff" and rect.get("stroke-dasharray")  # hollow and dashed, not only a colour
    assert "一票否决" in first.find("s:title", NS).text
    # The vetoed keeps its rank; the flag goes to the next one, named in its bar's title.
    assert second.get("data-vetoed") == "false" and text_of(second, "veto") == ""
    assert second.find("s:title", NS).text == "第2名 乙窗口：总分 103 分；红旗窗口"
    assert second.find("s:rect", NS).get("fill") == charts.BAR_COLOUR
    assert "一票否决 1 个" in root.get("aria-label")
    assert [t for t in ("".join(e.itertext()) for e in root.iter(f"{SVG}text")) if "一票否决" in t]  # the legend


def test_equal_ranks_and_an_open_tie():
    rows = [("甲窗口", "plus", 1, "", "1", "说明"), ("乙窗口", "plus", 1, "", "1", "说明")]
    root = parse(charts.ranking(scored(rows), "front"))  # competition: 1, 1, 3, 3
    assert [b.get("data-rank") for b in bars(root)] == ["1", "1", "3", "3"]
    assert "第1名 甲窗口、乙窗口（101 分），共 4 个对象" in root.get("aria-label")
    # Ordinal ranks with nothing to separate them: 并列, as the table says.
    root = parse(charts.ranking(scored(rows, ranking="{method: ordinal}"), "front"))
    assert [b.get("data-rank") for b in bars(root)] == ["1", "2", "3", "4"]
    assert bars(root)[1].find("s:title", NS).text.startswith("第2名（并列） 乙窗口")


def test_a_hostile_name_is_escaped_and_what_xml_refuses_removed():
    result = score(scheme(), people(HOSTILE, "乙窗口"), records((HOSTILE, "plus", 1, "", "1", "说明")),
                   periods=["2023-03"])
    for chart in (charts.ranking(result, "front"), charts.trend(result, "front")):
        raw = str(chart)
        assert "<script" not in raw and "\x01" not in raw and "\x0b" not in raw
        root = parse(chart)  # well-formed, whatever the name holds
        assert_inside_width(root)
        assert "<script>alert(\"x\")</script> & 'q'" in "".join(root.itertext())  # read back as written
    assert "第1名 <script>alert(\"x\")</script> & 'q'（101 分）" in parse(charts.ranking(result, "front")).get("aria-label")


def test_an_empty_group_and_a_group_of_one_draw():
    result = score(scheme(), entities("甲窗口", group="front"), records(), periods=["2023-03"])
    for chart, title in ((charts.ranking(result, "back"), "后台科室得分排名"), (charts.trend(result, "back"), "后台科室各期得分")):
        root = parse(chart)
        assert_accessible(root, title)
        assert "暂无考核对象" in root.get("aria-label") and not bars(root)
    root = parse(charts.ranking(result, "front"))
    assert_accessible(root, "前台窗口得分排名")
    assert_inside_width(root)
    (bar,) = bars(root)
    assert bar.get("data-total") == "100" and float(bar.find("s:rect", NS).get("width")) > 100
    assert "第1名 甲窗口（100 分），共 1 个对象" in root.get("aria-label") and "最后" not in root.get("aria-label")


def test_negative_totals_and_all_zero_stay_inside():
    result = scored([("甲窗口", "plus", 1, "", "-3", "说明"), ("乙窗口", "plus", 1, "", "2", "说明")], base=0)
    root = parse(charts.ranking(result, "front"))
    assert_inside_width(root)
    assert [b.get("data-total") for b in bars(root)] == ["2", "0", "0", "-3"]
    zero = [line for line in root.iter(f"{SVG}line") if line.get("stroke") == svg.MUTED]
    assert len(zero) == 1  # the 0 line
    x0 = float(zero[0].get("x1"))
    last = bars(root)[-1].find("s:rect", NS)
    assert float(last.get("x")) + float(last.get("width")) == pytest.approx(x0, abs=0.01)  # left of 0
    flat = parse(charts.ranking(scored([], base=0), "front"))
    assert_inside_width(flat)
    assert [b.get("data-total") for b in bars(flat)] == ["0"] * 4


def test_the_ranking_draws_one_period():
    months = scored([], periods=MONTHS)
    with pytest.raises(ValueError, match="一个期间"):
        charts.ranking(months, "front")


def test_a_long_name_is_cut_to_its_column():
    result = score(scheme(), people("县市场监督管理局食品药品综合窗口", "乙"), records(), periods=["2023-03"])
    root = parse(charts.ranking(result, "front"))
    assert_inside_width(root)
    name = text_of(bars(root)[0], "name")
    assert name.endswith("…") and svg.text_width(name, 12) <= charts.NAME_RIGHT - charts.NAME_LEFT
    assert "县市场监督管理局食品药品综合窗口" in bars(root)[0].find("s:title", NS).text


# ---- the trend ---------------------------------------------------------------------------------


def quarter():
    """Three months, then the quarter rolled up from them: 乙 vetoed in February."""
    rows = [("甲窗口", "plus", 1, "", "1.005", "说明", "2023-01"), ("甲窗口", "plus", 1, "", "-2", "说明", "2023-03"),
            ("乙窗口", "plus", 1, "", "3", "说明", "2023-02"), ("乙窗口", "veto", 1, "", "", "", "2023-02")]
    months = score(scheme(), people("甲窗口", "乙窗口", "丙窗口"), records(*rows), periods=MONTHS)
    return months, roll_up(months, "2023-Q1")


def rows_of(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//s:g[@class='row']", NS)


def test_the_trend_shows_each_period_of_each_entity():
    months, whole = quarter()
    order = list(whole.table.sort_values("rank")["entity"])
    root = parse(charts.trend(months, "front", order))
    assert_accessible(root, "前台窗口各期得分")
    assert_inside_width(root)
    found = {text_of(row, "name"): row for row in rows_of(root)}
    assert list(found) == order  # the rolled-up period's ranking order
    for row in rows_of(root):
        points = row.findall("s:g[@class='point']", NS)
        assert [p.get("data-period") for p in points] == MONTHS
        assert [p.find("s:title", NS).text.split("：")[0] for p in points] == [period_text(m) for m in MONTHS]
    jia = found["甲窗口"].findall("s:g[@class='point']", NS)
    assert [p.get("data-total") for p in jia] == ["101.01", "100", "98"]  # as each month's table shows them
    assert text_of(found["甲窗口"], "change") == "-3.01" and text_of(found["丙窗口"], "change") == "0"
    yi = found["乙窗口"].findall("s:g[@class='point']", NS)
    assert [p.get("data-vetoed") for p in yi] == ["false", "true", "false"]
    assert yi[1].find("s:path", NS) is not None and yi[0].find("s:circle", NS) is not None  # a cross, not a dot
    assert "一票否决" in yi[1].find("s:title", NS).text
    header = [t.text for t in root.findall("s:text[@class='period']", NS)]
    assert header == ["1月", "2月", "3月"]
    label = root.get("aria-label")
    assert "2023年1月至2023年3月共 3 期，3 个对象" in label and "上升 0 个、下降 1 个、持平 2 个" in label


def test_the_trend_takes_the_periods_results_one_by_one():
    months, _ = quarter()
    apart = [months.period(label) for label in MONTHS]
    assert str(charts.trend(apart, "front")) == str(charts.trend(months, "front"))


def test_twelve_months_fit_a_phone():
    labels = [f"2023-{m:02d}" for m in range(1, 13)]
    months = score(scheme(), people("甲窗口", "乙窗口"), records(("甲窗口", "plus", 1, "", "1", "说明", "2023-07")),
                   periods=labels)
    root = parse(charts.trend(months, "front"))
    assert_inside_width(root)
    header = [t.text for t in root.findall("s:text[@class='period']", NS)]
    assert header and set(header) <= {str(m) for m in range(1, 13)}  # 1 … 12, 月 said below
    assert "横轴：2023年1月至2023年12月（12 期）" in "".join(root.itertext())
    for row in rows_of(root):
        assert [p.get("data-period") for p in row.findall("s:g[@class='point']", NS)] == labels


def test_the_page_charts_a_trend_only_for_several_periods():
    months, whole = quarter()
    one = whole.period("2023-Q1")
    drawn = charts.for_period(one, months)
    assert list(drawn) == ["front"]  # the empty group has no chart
    assert parse(drawn["front"].ranking).get("aria-label").startswith("前台窗口得分排名")
    assert drawn["front"].trend is not None
    assert charts.for_period(one, [months.period("2023-01")])["front"].trend is None
    assert charts.for_period(one, [])["front"].trend is None
    assert charts.for_period(months.period("2023-02"))["front"].trend is None


# ---- the page ----------------------------------------------------------------------------------


def figures(body: str) -> dict[str, ET.Element]:
    """The page's charts by their figure's id."""
    return {m.group(1): parse(m.group(2)) for m in re.finditer(r'<figure class="chart" id="([^"]+)">(<svg.*?</svg>)</figure>',
                                                               body, re.DOTALL)}


def test_the_period_page_draws_the_ranking_above_the_table(admin_client, db, genhe):
    body = admin_client.get(period_path(genhe)).get_data(as_text=True)
    drawn = figures(body)
    assert list(drawn) == ["chart-all"]  # a month: no trend
    root = drawn["chart-all"]
    assert root.get("role") == "img" and root.get("aria-label").startswith("全部得分排名。第1名")
    assert body.index('id="chart-all"') < body.index('id="ranking-all"')
    assert len(bars(root)) == len(A.entities(db, genhe))


def test_a_rolled_up_period_page_draws_the_months_trend(admin_client, db, genhe):
    A.add_record(db, genhe, A.get_period(db, genhe, "2023-03"),
                 A.RecordInput(entity="公安局窗口", indicator="leader_duty", note="带班领导未到位"), "admin")
    A.open_period(db, genhe, "2023-02", "admin")
    A.open_period(db, genhe, "2023-Q1", "admin")
    db.commit()
    body = admin_client.get(period_path(genhe, "2023-Q1")).get_data(as_text=True)
    drawn = figures(body)
    assert list(drawn) == ["chart-all", "trend-all"]
    assert body.index('id="ranking-all"') < body.index('id="trend-all"')
    trend = drawn["trend-all"]
    assert trend.get("aria-label").startswith("全部各期得分。2023年2月至2023年3月共 2 期")
    rows = {text_of(row, "name"): row for row in rows_of(trend)}
    police = rows["公安局窗口"].findall("s:g[@class='point']", NS)
    assert [p.get("data-period") for p in police] == ["2023-02", "2023-03"]
    march = page(admin_client.get(period_path(genhe, "2023-03")))
    assert [p.get("data-total") for p in police][1] == re.search(
        r'<td class="entity">公安局窗口</td>.*?class="num total"[^>]*>([^<]*)<', march, re.DOTALL).group(1)
    assert text_of(rows["公安局窗口"], "change") == "-1"  # the record's point off in March


def test_a_rolled_up_period_workbook_charts_the_months_too(admin_client, db, genhe):
    A.open_period(db, genhe, "2023-02", "admin")
    A.open_period(db, genhe, "2023-Q1", "admin")
    db.commit()
    quarter = openpyxl.load_workbook(io.BytesIO(admin_client.get(f"{period_path(genhe, '2023-Q1')}/tables.xlsx").data))
    month = openpyxl.load_workbook(io.BytesIO(admin_client.get(f"{period_path(genhe)}/tables.xlsx").data))
    assert [type(c).__name__ for c in month["图表"]._charts] == ["BarChart"]
    assert [type(c).__name__ for c in quarter["图表"]._charts] == ["BarChart", "LineChart"]
    periods = [row[0] for row in quarter["图表"].iter_rows(values_only=True) if row[0] in ("2023年2月", "2023年3月")]
    assert periods == ["2023年2月", "2023年3月"]
