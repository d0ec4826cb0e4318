"""The review office's own inspection deductions (docs/rules.md §2.7): 应报未报 (a
section found missing from the list: `unreported_deduction` for every section of its
unit) and 影响评议工作 (a discretionary deduction with its points), worked by hand.

No app, no database: frames in, a Scorecard out."""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from scoring import columns as C
from scoring.engine import score_year
from scoring.settings import PINGYANG_2021, RuleSettings
from tests.support.scoring_inputs import check_formulas, row, year

UNIT = "县甲局"
ONE, TWO, THREE, LATE = (UNIT, "科室一"), (UNIT, "科室二"), (UNIT, "科室三"), (UNIT, "补录科")
OTHER = ("县乙局", "科室四")
KEYS = [ONE, TWO, THREE, LATE, OTHER]
FOUND = "2021-08-16"  # found missing in August
REASON = "年中检查发现未列入参评名单"
COLUMNS = [C.UNIT, C.SECTION, C.KIND, C.SERIOUS, C.PERSON, C.CURRENT_YEAR, C.DATE, C.DEDUCTION, C.REASON, C.MISSING]


def unreported(key, date=FOUND):
    return (*key, C.UNREPORTED, False, None, False, date, None, REASON, LATE[1])


def discretionary(key, points, reason="材料迟报两周，影响评议进度", date="2021-10-08"):
    return (*key, C.DISCRETIONARY, False, None, False, date, points, reason, "")


def case(key, person=C.DEPUTY, date="2021-03-15"):
    return (*key, C.CASE, False, person, True, date, None, "", "")


def card_of(events, settings=PINGYANG_2021):
    inputs = year(KEYS)
    inputs.inspection = pd.DataFrame(events, columns=COLUMNS)
    return score_year(inputs, settings)


def lines_of(card, key):
    lines = card.lines
    return lines[(lines[C.UNIT] == key[0]) & (lines[C.SECTION] == key[1]) & (lines[C.COMPONENT] == C.INSPECTION)]


def test_a_section_found_missing_costs_each_of_the_four_sections_one_point():
    card = card_of([unreported(key) for key in (ONE, TWO, THREE, LATE)])
    for key in (ONE, TWO, THREE, LATE):
        assert row(card, key)[C.INSPECTION] == pytest.approx(19.0)  # 20 − 1
        assert row(card, key)[C.DAILY] == pytest.approx(50 + 10 + 0 + 19)  # no supervisor score: 0
        lines = lines_of(card, key)
        assert lines[C.POINTS].sum() == pytest.approx(19.0)
        text = lines[C.TEXT].iloc[-1]
        assert text == (f"应报未报：本单位科室“补录科”应报未报，{FOUND} 发现并补录参评，"
                        f"本单位各参评科室扣 1 分（事由：{REASON}）")
    assert row(card, OTHER)[C.INSPECTION] == pytest.approx(20.0)  # another unit: untouched
    check_formulas(card.lines)


def test_the_floor_holds_with_the_other_deductions():
    # 科室一: three cases against deputies in the window (10 each) and the 1 of 应报未报:
    # 31 points of deductions on 20, floor 0; 科室二: one case (10) and 1: 9.
    events = [case(ONE)] * 3 + [case(TWO)] + [unreported(key) for key in (ONE, TWO, THREE, LATE)]
    card = card_of(events)
    assert row(card, ONE)[C.INSPECTION] == 0.0
    assert row(card, TWO)[C.INSPECTION] == pytest.approx(9.0)
    assert row(card, THREE)[C.INSPECTION] == pytest.approx(19.0)
    floor = lines_of(card, ONE)[C.TEXT].iloc[-1]
    assert floor == "监督检查合计扣 10 + 10 + 10 + 1 = 31 分，超过基础分 20 分，最低 0 分，加回 31 − 20 = 11 分"
    assert lines_of(card, ONE)[C.POINTS].sum() == pytest.approx(0.0)
    check_formulas(card.lines)


def test_a_discretionary_deduction_of_two_points():
    card = card_of([discretionary(TWO, 2.0), discretionary(THREE, 2.0)])
    assert row(card, ONE)[C.INSPECTION] == pytest.approx(20.0)
    assert row(card, TWO)[C.INSPECTION] == pytest.approx(18.0)
    assert row(card, THREE)[C.INSPECTION] == pytest.approx(18.0)
    text = lines_of(card, TWO)[C.TEXT].iloc[-1]
    assert text == "影响评议工作（2021-10-08）：因参评单位原因导致评议工作受到影响，扣 2 分（事由：材料迟报两周，影响评议进度）"
    check_formulas(card.lines)


def test_both_kinds_together_and_a_fractional_discretionary_deduction():
    # 科室二：20 − 1（应报未报）− 0.5（影响评议工作）= 18.5。
    card = card_of([unreported(key) for key in (ONE, TWO, THREE, LATE)] + [discretionary(TWO, 0.5)])
    assert row(card, TWO)[C.INSPECTION] == pytest.approx(18.5)
    assert row(card, ONE)[C.INSPECTION] == pytest.approx(19.0)


def test_the_setting_changed_to_half_a_point():
    settings = dataclasses.replace(PINGYANG_2021, unreported_deduction=0.5)
    card = card_of([unreported(key) for key in (ONE, TWO, THREE, LATE)], settings)
    for key in (ONE, TWO, THREE, LATE):
        assert row(card, key)[C.INSPECTION] == pytest.approx(19.5)
    assert "本单位各参评科室扣 0.5 分" in lines_of(card, LATE)[C.TEXT].iloc[-1]
    check_formulas(card.lines)


def test_neither_kind_depends_on_the_case_window():
    # Found on 10 December, after the window's end (30 November): it still counts; a case
    # filed that day would not.
    card = card_of([unreported(ONE, "2021-12-10"), discretionary(TWO, 3.0, date="2020-01-05"), case(THREE, date="2021-12-10")])
    assert row(card, ONE)[C.INSPECTION] == pytest.approx(19.0)
    assert row(card, TWO)[C.INSPECTION] == pytest.approx(17.0)
    assert row(card, THREE)[C.INSPECTION] == pytest.approx(20.0)


def test_without_a_date_the_line_says_so_without_one():
    card = card_of([unreported(ONE, None), discretionary(TWO, 1.0, date=None)])
    assert lines_of(card, ONE)[C.TEXT].iloc[-1].startswith("应报未报：本单位科室“补录科”应报未报，已补录参评，")
    assert lines_of(card, TWO)[C.TEXT].iloc[-1].startswith("影响评议工作：因参评单位原因")


def test_a_frame_without_the_new_columns_still_scores():
    """The earlier frames (no DEDUCTION, REASON, MISSING) score as before."""
    inputs = year(KEYS, inspection=[(*ONE, C.COUNTY, False, None, False, None)])
    card = score_year(inputs, PINGYANG_2021)
    assert row(card, ONE)[C.INSPECTION] == pytest.approx(19.0)


def test_a_negative_setting_is_refused():
    with pytest.raises(ValueError, match="unreported_deduction"):
        RuleSettings(unreported_deduction=-1)
    assert RuleSettings.from_dict({}).unreported_deduction == 1.0  # a campaign stored before the setting
