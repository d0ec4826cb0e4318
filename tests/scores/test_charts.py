"""The report pages' inline SVG charts (voting.scores.charts): pure, no app, no database.

Each Scorecard comes from the real engine on small hand-made years (tests.support.scoring_inputs:
with nothing else happening, daily = 80 + the supervisor score). Every chart is parsed
as XML, so it must be well-formed.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from scoring import columns as C
from scoring.engine import score_year
from scoring.settings import PINGYANG_2021, RuleSettings
from tests.support.scoring_inputs import names, row, year
from voting.scores import charts

NS = {"s": "http://www.w3.org/2000/svg"}
SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(1)</script>"
SMALL = RuleSettings(shortlist_satisfied=3, shortlist_unsatisfied=3, final_satisfied=1,
                     final_unsatisfied=2, final_most_unsatisfied=1, top_bonus_tier=1)
KEYS = names(12)
# daily = 80 + supervisor: 84, 83, 82, 84.5, 83.5, 81, 85, 83.9, 80, 84.2, 83.3, 82.5.
# Shortlist of 3 + 3: satisfied 85, 84.5, 84.2 (cut-off 84.2); unsatisfied 80, 81, 82 (82).
SUPERVISOR = [4.0, 3.0, 2.0, 4.5, 3.5, 1.0, 5.0, 3.9, 0.0, 4.2, 3.3, 2.5]


def parse(svg) -> ET.Element:
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg"
    return root


def scored(keys=KEYS, settings=SMALL, network=False, **kwargs):
    """The engine's Scorecard; with `network`, a second pass gives every candidate
    of the first an online round (only candidates may have NET ballots)."""
    card = score_year(year(keys, **kwargs), settings)
    if not network:
        return card
    shortlist = card.sections[card.sections[C.SHORTLIST].notna()]
    net = {k: (10 + i, 5, 2) for i, k in enumerate(zip(shortlist[C.UNIT], shortlist[C.SECTION]))}
    return score_year(year(keys, net=net, **kwargs), settings)


def bins_of(root) -> list[ET.Element]:
    return root.findall(".//s:g[@class='bin']", NS)


def cutoff_lines(root) -> dict[str, ET.Element]:
    """The dashed line of each cut-off, by list code."""
    return {g.get("data-list"): g.findall("s:line", NS)[-1] for g in root.findall(".//s:g[@class='cutoff']", NS)}


def texts(root) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def assert_accessible(root, title: str):
    assert root.get("role") == "img"
    assert root.get("aria-label").startswith(title)
    assert root.get("width") == "100%"
    assert root.get("viewBox").split()[:3] == ["0", "0", str(charts.WIDTH)]
    assert "Noto Sans CJK SC" in root.get("font-family")
    assert root[0].tag == f"{SVG}title" and root[0].text.startswith(title)
    assert root[1].tag == f"{SVG}desc" and root[1].text


def assert_inside_width(root):
    """Nothing is drawn beyond the viewBox's sides (so nothing overflows a phone)."""
    width = charts.WIDTH
    for el in root.iter():
        tag = el.tag.removeprefix(SVG)
        for name in ("x", "x1", "x2", "cx"):
            if el.get(name) is not None:
                assert 0 <= float(el.get(name)) <= width, (tag, name, el.get(name))
        if tag == "rect":
            assert float(el.get("x")) + float(el.get("width")) <= width + 0.01
        if tag == "text":
            x, w = float(el.get("x")), charts.text_width("".join(el.itertext()), float(el.get("font-size")))
            start = {"start": x, "middle": x - w / 2, "end": x - w}[el.get("text-anchor", "start")]
            assert start >= 0 and start + w <= width + 0.5, "".join(el.itertext())


# ---- daily distribution ------------------------------------------------------------


@pytest.fixture(scope="module")
def daily_card():
    return scored(supervisor=SUPERVISOR)


def test_histogram_bins_counts_and_zones(daily_card):
    assert daily_card.cutoffs == {C.SATISFIED_CANDIDATE: pytest.approx(84.2), C.UNSATISFIED_CANDIDATE: pytest.approx(82.0)}
    root = parse(charts.daily_distribution(daily_card))
    assert_accessible(root, "日常评价得分分布")
    assert_inside_width(root)
    bars = bins_of(root)
    assert [int(g.get("data-from")) for g in bars] == [80, 81, 82, 83, 84, 85]
    assert [int(g.get("data-count")) for g in bars] == [1, 1, 2, 4, 3, 1]
    zones = [[r.get("data-zone") for r in g.findall("s:rect", NS)] for g in bars]
    # 82 is the unsatisfied cut-off itself, 82.5 lies between; 84 between, 84.2 and 84.5 above.
    assert zones == [["below"], ["below"], ["below", "between"], ["between"], ["between", "above"], ["above"]]
    colours = {r.get("data-zone"): r.get("fill") for g in bars for r in g.findall("s:rect", NS)}
    assert colours == {"above": charts.SATISFIED_COLOUR, "between": charts.OTHER_COLOUR, "below": charts.UNSATISFIED_COLOUR}
    # Heights are proportional to counts: every section is the same height.
    per_section = {round(sum(float(r.get("height")) for r in g.findall("s:rect", NS)) / int(g.get("data-count")), 6)
                   for g in bars}
    assert len(per_section) == 1
    assert "科室数" in texts(root) and any(t.startswith("日常评价得分") for t in texts(root))


def test_cutoff_lines_sit_at_their_scores_and_are_labelled(daily_card):
    root = parse(charts.daily_distribution(daily_card))
    bins = charts.daily_bins(daily_card)
    lines = cutoff_lines(root)
    assert set(lines) == {C.SATISFIED_CANDIDATE, C.UNSATISFIED_CANDIDATE}
    for code, value in ((C.SATISFIED_CANDIDATE, 84.2), (C.UNSATISFIED_CANDIDATE, 82.0)):
        line = lines[code]
        assert float(line.get("x1")) == pytest.approx(charts.daily_x(bins, value), abs=0.01)
        assert line.get("x1") == line.get("x2")
        assert line.get("stroke-dasharray")
    # The unsatisfied line is the left edge of the 82–83 bin.
    bar82 = next(g for g in bins_of(root) if g.get("data-from") == "82")
    assert float(bar82.find("s:rect", NS).get("x")) == pytest.approx(float(lines[C.UNSATISFIED_CANDIDATE].get("x1")), abs=2)
    assert {"满意候选线 84.20", "不满意候选线 82.00"} <= set(texts(root))


def test_wide_range_uses_two_point_bins():
    keys = names(20)
    # Service scores from 50 down to 2.5: 40 votes each round, 2i of them 不满意.
    votes = [(*k, rnd, 40 - 2 * i, 0, 2 * i) for i, k in enumerate(keys) for rnd in (C.H1, C.H2)]
    card = scored(keys, supervisor=[3.0] * 20, uniform_votes=None, votes=votes)
    daily = card.sections[C.DAILY]
    assert daily.max() - daily.min() > charts.MAX_UNIT_BINS
    bins = charts.daily_bins(card)
    assert bins.width == 2 and bins.first % 2 == 0
    root = parse(charts.daily_distribution(card))
    assert_inside_width(root)
    bars = bins_of(root)
    assert len(bars) == len(bins.counts)
    assert all(int(g.get("data-to")) - int(g.get("data-from")) == 2 for g in bars)
    assert sum(int(g.get("data-count")) for g in bars) == 20
    assert "日常评价得分（每段 2 分，含下限）" in texts(root)


def test_all_sections_with_the_same_score():
    card = scored(names(6), supervisor=[3.0] * 6)
    root = parse(charts.daily_distribution(card))
    assert_inside_width(root)
    (bar,) = bins_of(root)
    assert bar.get("data-count") == "6"
    bins = charts.daily_bins(card)
    assert bins.hi - bins.lo == charts.MIN_DRAWN_BINS  # padded: the one bar is not the whole plot
    rect = bar.find("s:rect", NS)
    assert float(rect.get("width")) < (charts.DAILY_RIGHT - charts.DAILY_LEFT) / 4
    # A tie across the whole list puts everyone among the satisfied candidates: one line.
    lines = cutoff_lines(root)
    assert set(lines) == {C.SATISFIED_CANDIDATE}
    assert float(lines[C.SATISFIED_CANDIDATE].get("x1")) == pytest.approx(charts.daily_x(bins, 83.0), abs=0.01)


def test_exempt_sections_are_not_counted_and_none_participating_says_no_data():
    keys = names(4)
    exempt = [(y, *keys[0], C.SATISFIED) for y in (2019, 2020)]
    root = parse(charts.daily_distribution(scored(keys, supervisor=[3.0] * 4, history=exempt)))
    assert sum(int(g.get("data-count")) for g in bins_of(root)) == 3

    everyone = [(y, *k, C.SATISFIED) for k in keys for y in (2019, 2020)]
    root = parse(charts.daily_distribution(scored(keys, history=everyone)))
    assert_accessible(root, "日常评价得分分布")
    assert bins_of(root) == [] and "暂无数据" in texts(root)


# ---- one section's components ------------------------------------------------------


def components(root) -> dict[str, ET.Element]:
    return {g.get("data-component"): g for g in root.findall(".//s:g[@class='component']", NS)}


def test_section_components_against_their_maxima():
    card = scored(supervisor=SUPERVISOR, network=True,
                  bonus=[(*KEYS[6], C.COMMENDATION, C.PROVINCIAL, "表彰", "2021-05-01")])
    record = row(card, KEYS[6])  # a satisfied candidate: daily 85, with a network score
    root = parse(charts.section_components(record, SMALL))
    assert_accessible(root, "单位02 科室006 得分构成")
    assert_inside_width(root)
    parts = components(root)
    assert list(parts) == [C.SERVICE, C.PLATFORM_SCORE, C.SUPERVISOR, C.INSPECTION, C.NETWORK, C.BONUS]
    shown = {code: "".join(g.findall("s:text", NS)[-1].itertext()) for code, g in parts.items()}
    network = f"{record[C.NETWORK]:.2f}"
    assert shown == {C.SERVICE: "50.00/50", C.PLATFORM_SCORE: "10.00/10", C.SUPERVISOR: "5.0/5",
                     C.INSPECTION: "20.00/20", C.NETWORK: f"{network}/15", C.BONUS: "3.00/5"}
    for code, most in charts.component_maxima(SMALL).items():
        track, value = parts[code].findall("s:rect", NS)
        fraction = float(value.get("width")) / float(track.get("width"))
        assert fraction == pytest.approx(record[code] / most, abs=0.001)


def test_section_components_accepts_a_dict_and_leaves_out_a_missing_network():
    card = scored(supervisor=SUPERVISOR)
    record = row(card, KEYS[1]).to_dict()
    assert pd.isna(record[C.NETWORK])
    root = parse(charts.section_components(record, SMALL))
    assert C.NETWORK not in components(root) and len(components(root)) == 5
    assert "3.0/5" in texts(root)
    assert "暂无网络评价" in root.get("aria-label")


def test_exempt_section_says_mianping():
    keys = names(3)
    card = scored(keys, supervisor=[3.0] * 3, history=[(y, *keys[0], C.SATISFIED) for y in (2019, 2020)])
    root = parse(charts.section_components(row(card, keys[0]), SMALL))
    assert_accessible(root, "单位00 科室000 得分构成")
    assert components(root) == {} and texts(root) == ["免评"]


# ---- final ranking -----------------------------------------------------------------

LONG_UNIT = "县住房和城乡建设局" + EVIL


@pytest.fixture(scope="module")
def final_card():
    """110 candidates (10 previous unsatisfied + 50 + 50), totals following the index;
    one unit with a long, hostile name."""
    keys = names(110, per_unit=5)
    keys[3] = (LONG_UNIT, "村镇建设与规划管理股")
    keys[4] = ("A&B局", EVIL)
    history = [(2020, *k, C.UNSATISFIED) for k in keys[:10]]
    votes = [(*k, C.H1, i, 0, 110 - i) for i, k in enumerate(keys)] + [(*k, C.H2, 40, 0, 0) for k in keys]
    net = {k: (i, 200 - i, 0) for i, k in enumerate(keys)}
    return score_year(year(keys, supervisor=[3.0] * 110, uniform_votes=None, votes=votes, history=history, net=net),
                      PINGYANG_2021)


def test_ranking_has_one_bar_per_candidate_best_first(final_card):
    root = parse(charts.final_ranking(final_card))
    assert_accessible(root, "候选科室总成绩排名")
    assert_inside_width(root)
    bars = root.findall(".//s:g[@class='bar']", NS)
    assert len(bars) == 110
    totals = [float(g.get("data-total")) for g in bars]
    assert totals == sorted(totals, reverse=True)
    # The height grows with the rows: 110 rows of RANK_ROW each.
    assert float(root.get("viewBox").split()[3]) > 110 * charts.RANK_ROW
    results = [g.get("data-result") for g in bars]
    assert results[:10] == [C.SATISFIED] * 10
    assert results[-3:] == [C.MOST_UNSATISFIED] * 3 and results[-10:-3] == [C.UNSATISFIED] * 7
    assert results[10:-10] == [""] * 90
    # Markers differ in shape, not only in colour.
    assert bars[0].find("s:circle", NS) is not None and bars[-1].find("s:path", NS) is not None
    assert bars[50].find("s:circle", NS) is None and bars[50].find("s:path", NS) is None
    legend = texts(root)
    assert {"服务对象评价", "平台办理", "主管单位评价", "监督检查", "网络评价", "加分项", "满意单位", "不满意单位", "最不满意单位"} <= set(legend)


def test_ranking_bars_are_stacked_components_to_the_total(final_card):
    root = parse(charts.final_ranking(final_card))
    frame = charts.ranked_candidates(final_card)
    for g, record in zip(root.findall(".//s:g[@class='bar']", NS), frame.to_dict("records")):
        rects = g.findall("s:rect", NS)
        assert [r.get("data-component") for r in rects] == [c for c in charts.COMPONENTS if record[c] > 0]
        assert float(rects[0].get("x")) == pytest.approx(charts.RANK_LEFT, abs=0.01)
        end = float(rects[-1].get("x")) + float(rects[-1].get("width"))
        assert end == pytest.approx(charts.ranking_x(final_card, record[C.TOTAL]), abs=0.05)


def test_names_are_escaped_truncated_and_kept_whole_in_the_title(final_card):
    svg = str(charts.final_ranking(final_card))
    root = parse(svg)
    assert root.find(".//s:script", NS) is None and "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "A&amp;B局" in svg
    bars = root.findall(".//s:g[@class='bar']", NS)
    long_bar = next(g for g in bars if LONG_UNIT in g.find("s:title", NS).text)
    assert f"{LONG_UNIT} 村镇建设与规划管理股" in long_bar.find("s:title", NS).text
    label = "".join(long_bar.find("s:text", NS).itertext())
    assert label.endswith("…") and LONG_UNIT.startswith(label[:-1])
    assert charts.text_width(label, 12) <= charts.RANK_LABEL_RIGHT - 4
    assert any(f"A&B局 {EVIL}：总成绩" in g.find("s:title", NS).text for g in bars)
    root = parse(charts.section_components(row(final_card, ("A&B局", EVIL)), PINGYANG_2021))
    assert root.find(".//s:script", NS) is None
    assert root[0].text == f"A&B局 {EVIL} 得分构成" and root.get("aria-label").startswith(root[0].text)


def test_decided_results_are_marked_with_the_reason():
    keys = names(110, per_unit=5)
    history = [(2020, *k, C.UNSATISFIED) for k in keys[:10]]
    votes = [(*k, C.H1, i, 0, 110 - i) for i, k in enumerate(keys)] + [(*k, C.H2, 40, 0, 0) for k in keys]
    net = {k: (i, 200 - i, 0) for i, k in enumerate(keys)}
    decisions = [(*keys[109], None, "县委决定不列入")]
    card = score_year(year(keys, supervisor=[3.0] * 110, uniform_votes=None, votes=votes, history=history, net=net,
                           decisions=decisions), PINGYANG_2021)
    root = parse(charts.final_ranking(card))
    top = root.findall(".//s:g[@class='bar']", NS)[0]
    assert top.get("data-result") == "" and top.find("s:circle", NS) is None
    assert "县委决定不列入" in top.find("s:title", NS).text


def test_ranking_before_the_online_round(daily_card):
    assert not daily_card.network_held
    root = parse(charts.final_ranking(daily_card))
    assert_accessible(root, "候选科室总成绩排名")
    assert texts(root) == ["网络评价尚未进行"] and root.find(".//s:g[@class='bar']", NS) is None


def test_small_final_lists_fit_a_phone():
    card = scored(supervisor=SUPERVISOR, network=True)
    for svg in (charts.daily_distribution(card), charts.final_ranking(card),
                charts.section_components(row(card, KEYS[0]), SMALL)):
        assert_inside_width(parse(svg))


@pytest.mark.parametrize("text, width, expected", [
    ("单位 科室", 100, "单位 科室"),
    ("县住房和城乡建设局", 60, "县住房和…"),  # 12 per CJK character and for the ellipsis
    ("abcdefghij", 30, "ab…"),  # 7.2 per Latin character
])
def test_fit(text, width, expected):
    assert charts.fit(text, width, 12) == expected


def test_characters_that_xml_refuses_are_dropped():
    record = {C.UNIT: "单位\x01\x1f", C.SECTION: "科室\ufffe", C.EXEMPT: False, C.SERVICE: 40.0,
              C.PLATFORM_SCORE: 9.5, C.SUPERVISOR: 3.0, C.INSPECTION: 18.0, C.BONUS: 0.0}
    root = parse(charts.section_components(record, PINGYANG_2021))
    assert root[0].text == "单位 科室 得分构成"
    assert len(components(root)) == 5


def test_no_chart_carries_an_inline_style(daily_card, final_card):
    """The staff pages' CSP allows no inline style: the size comes from app.css."""
    drawn = [charts.daily_distribution(daily_card), charts.final_ranking(final_card),
             charts.section_components({code: 1.0 for code in charts.COMPONENTS}, PINGYANG_2021)]
    for svg in drawn:
        assert 'class="chart ' in svg and " style=" not in str(svg)
