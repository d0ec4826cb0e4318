"""The ratings' figures (voting/ratings/figures.py), on SQLite and PostgreSQL: a month worked
by hand for a section, its unit and a window (ratings by level, 好评率, 差评数, 差评整改率
on time, 回访满意率, 主动评价率, 12345 回访满意率), a case's outcome waiting for its due
time, zero denominators shown as "—", a range of months adding counts (not rates) and
leaving out the months without a served count; and the exact arithmetic itself."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.ratings.support import places
from voting.ratings import codes
from voting.ratings import figures as F
from voting.ratings import followups
from voting.ratings import ratings as r
from voting.ratings.models import FollowupCase, HotlineLevel, HotlineRate, Rating, ServedCount

PHONE = "13812345678"
# Monday 6 May 2024, 10:00 in Shanghai (the May Day holiday ends on the 5th).
MAY = datetime(2024, 5, 6, 2, 0, tzinfo=timezone.utc)
JUNE = datetime(2024, 6, 3, 2, 0, tzinfo=timezone.utc)
JULY = datetime(2024, 7, 1, 2, 0, tzinfo=timezone.utc)
LATER = datetime(2024, 8, 31, 2, 0, tzinfo=timezone.utc)  # every case of May and June past its due time


def rate(db, code, level: int, now: datetime, n: int, phone: str | None = None) -> int:
    categories = ["attitude"] if level in r.POOR else []
    thanks = r.submit_rating(db, code, level, categories, "", phone=phone, device=f"device-{n:016d}",
                             network="203.0.113.7", now=now + timedelta(minutes=n))
    return thanks.rating_id


@pytest.fixture
def world(db):
    """May 2024 at the section 县发改局 · 价格科: 7 counted ratings (5, 5, 4, 3, 2, 1, 1) and a
    duplicate (the first phone's second rating that day, uncounted); its three 差评's cases:
    one rectified on time and the citizen satisfied, one rectified late and the citizen
    not satisfied, one never rectified nor answered; 20 cases served. The window (given to
    the section's unit) has 2 ratings of 4 and 4 cases served. The unit's 12345 revisits:
    省级件 19 of 20 satisfied, 市级件 10 of 10."""
    section, window = places(db)
    unit = section.unit
    window.unit_id = unit.id
    section_code = codes.issue(db, actor="admin", section_id=section.id)
    window_code = codes.issue(db, actor="admin", entity_id=window.id)
    ids = [rate(db, section_code, level, MAY, n, phone=PHONE if n == 0 else None)
           for n, level in enumerate((5, 5, 4, 3, 2, 1, 1))]
    duplicate = rate(db, section_code, 1, MAY, 10, phone=PHONE)
    rate(db, window_code, 4, MAY, 11)
    rate(db, window_code, 4, MAY, 12)
    db.flush()
    cases = {c.rating_id: c for c in db.scalars(select(FollowupCase))}
    on_time, late, open_case = (cases[i] for i in ids[4:])
    followups.record_callback(db, on_time.id, actor="office1", finding="属实。", now=MAY + timedelta(days=1))
    followups.record_rectification(db, on_time.id, unit_id=unit.id, actor="lly001", text="已整改。",
                                   now=MAY + timedelta(days=2))
    followups.close_case(db, on_time.id, actor="office1", now=MAY + timedelta(days=3))
    followups.record_verdict(db, on_time.id, satisfied=True, now=MAY + timedelta(days=4))
    followups.record_callback(db, late.id, actor="office1", finding="属实。", now=MAY + timedelta(days=1))
    followups.record_rectification(db, late.id, unit_id=unit.id, actor="lly001", text="已整改。",
                                   now=late.due_at.replace(tzinfo=timezone.utc) + timedelta(hours=1))
    followups.close_case(db, late.id, actor="office1", now=MAY + timedelta(days=20))
    followups.record_verdict(db, late.id, satisfied=False, now=MAY + timedelta(days=21))
    db.add_all([
        ServedCount(section_id=section.id, place=f"section:{section.id}", month="2024-05", served=20, imported_by="admin"),
        ServedCount(entity_id=window.id, place=f"entity:{window.id}", month="2024-05", served=4, imported_by="admin"),
        HotlineRate(unit_id=unit.id, month="2024-05", level=HotlineLevel.province, revisits=20, satisfied=19,
                    imported_by="admin"),
        HotlineRate(unit_id=unit.id, month="2024-05", level=HotlineLevel.city, revisits=10, satisfied=10,
                    imported_by="admin"),
    ])
    db.commit()
    assert db.get(Rating, duplicate).counted is False
    return {"section": section, "window": window, "unit": unit, "campaign": unit.campaign,
            "section_code": section_code, "window_code": window_code, "open_case": open_case}


def row_of(table: F.FigureTable, key: str) -> F.Figures:
    return next(row.figures for row in table.rows if row.key == key)


def test_a_month_worked_by_hand(db, world):
    table = F.figure_table(db, world["campaign"], F.SECTION, ["2024-05"], LATER)
    f = row_of(table, f"section:{world['section'].id}")
    assert f.levels == {5: 2, 4: 1, 3: 1, 2: 1, 1: 2} and f.total == 7  # the duplicate is not counted
    assert (f.good.numerator, f.good.denominator, str(f.good)) == (4, 7, "57.14%")
    assert f.poor == 3
    assert (f.rectified.numerator, f.rectified.denominator, str(f.rectified)) == (1, 3, "33.33%")
    assert (f.verdicts.numerator, f.verdicts.denominator, str(f.verdicts)) == (1, 2, "50.00%")
    assert (f.active.numerator, f.active.denominator, str(f.active)) == (7, 20, "35.00%") and f.served == 20
    assert str(f.province) == str(f.city) == "—"  # a unit figure: not a section's
    assert table.total.total == 7 and str(table.total.good) == "57.14%"

    window = F.figure_table(db, world["campaign"], F.WINDOW, ["2024-05"], LATER)
    w = row_of(window, f"entity:{world['window'].id}")
    assert w.levels == {5: 0, 4: 2, 3: 0, 2: 0, 1: 0} and str(w.good) == "100.00%" and w.poor == 0
    assert str(w.active) == "50.00%"  # 2 ÷ 4
    assert str(w.rectified) == str(w.verdicts) == "—"  # no 差评: no data, not 0% or 100%
    assert (str(w.province), str(w.city)) == ("95.00%", "100.00%")  # its unit's
    assert next(row for row in window.rows if row.key == f"entity:{world['window'].id}").extra == "县发改局"

    units = F.figure_table(db, world["campaign"], F.UNIT, ["2024-05"], LATER)
    u = row_of(units, f"unit:{world['unit'].id}")
    assert u.total == 9 and str(u.good) == "66.67%"  # (4 + 2) ÷ 9
    assert (u.active.numerator, u.active.denominator, str(u.active)) == (9, 24, "37.50%")
    assert str(u.rectified) == "33.33%" and str(u.verdicts) == "50.00%" and u.poor == 3
    assert (u.province.numerator, u.province.denominator, str(u.province)) == (19, 20, "95.00%")
    assert str(u.city) == "100.00%"


def test_a_case_counts_once_rectified_on_time_or_past_its_due_time(db, world):
    """Before the cases are due, the one rectified on time counts (1 ÷ 1); the one
    rectified late counts once past its due time; the open one once past its own."""
    due = sorted(c.due_at.replace(tzinfo=timezone.utc) for c in db.scalars(select(FollowupCase)))
    section = f"section:{world['section'].id}"
    early = F.figure_table(db, world["campaign"], F.SECTION, ["2024-05"], MAY + timedelta(days=3))
    assert str(row_of(early, section).rectified) == "100.00%"
    assert MAY + timedelta(days=3) < due[0]
    for now, expected in ((due[-1] - timedelta(seconds=1), (1, 1)), (due[-1], (1, 1)),
                          (due[-1] + timedelta(seconds=1), (1, 3))):
        figures = row_of(F.figure_table(db, world["campaign"], F.SECTION, ["2024-05"], now), section)
        assert (figures.rectified.numerator, figures.rectified.denominator) == expected, now
    assert len(set(due)) == 1  # the three 差评 of one day share their due time


def test_zero_denominators_are_no_data(db, world):
    """A month without anything: no ratings, no cases, no served count, no revisits."""
    table = F.figure_table(db, world["campaign"], F.UNIT, ["2024-04"], LATER)
    f = row_of(table, f"unit:{world['unit'].id}")
    assert f.total == 0 and f.poor == 0 and f.served is None
    for ratio in (f.good, f.rectified, f.verdicts, f.active, f.province, f.city):
        assert (str(ratio), ratio.hundredths, ratio.fraction, ratio.floored_milli) == ("—", None, None, None)
    # Cases served but none rated: 0.00%, a figure; revisits all unsatisfied: 0.00% too.
    db.add_all([ServedCount(section_id=world["section"].id, place=f"section:{world['section'].id}", month="2024-04",
                            served=5, imported_by="admin"),
                HotlineRate(unit_id=world["unit"].id, month="2024-04", level=HotlineLevel.city, revisits=3,
                            satisfied=0, imported_by="admin")])
    db.commit()
    f = row_of(F.figure_table(db, world["campaign"], F.UNIT, ["2024-04"], LATER), f"unit:{world['unit'].id}")
    assert (str(f.active), str(f.city), str(f.province), str(f.good)) == ("0.00%", "0.00%", "—", "—")


def test_a_range_adds_counts_and_leaves_out_months_without_a_served_count(db, world):
    """June: 3 ratings (5, 5, 2) and 10 cases served; July: 2 ratings (4, 4) and no served
    count. May–July: 好评率 (4 + 2 + 2) ÷ 12 = 66.67%; 主动评价率 (7 + 3) ÷ (20 + 10) =
    33.33%, July's ratings left out with its missing count (never read as 0 cases)."""
    code = world["section_code"]
    for n, (level, when) in enumerate(((5, JUNE), (5, JUNE), (2, JUNE), (4, JULY), (4, JULY))):
        rate(db, code, level, when, 20 + n)
    section = world["section"]
    db.add(ServedCount(section_id=section.id, place=f"section:{section.id}", month="2024-06", served=10,
                       imported_by="admin"))
    db.commit()
    months = F.month_span("2024-05", "2024-07")
    assert months == ["2024-05", "2024-06", "2024-07"]
    f = row_of(F.figure_table(db, world["campaign"], F.SECTION, months, LATER), f"section:{section.id}")
    assert f.total == 12 and f.poor == 4 and str(f.good) == "66.67%"
    assert (f.active.numerator, f.active.denominator, str(f.active)) == (10, 30, "33.33%")
    assert (f.rectified.numerator, f.rectified.denominator) == (1, 4)  # June's 差评 never rectified
    june = row_of(F.figure_table(db, world["campaign"], F.SECTION, ["2024-06"], LATER), f"section:{section.id}")
    assert (june.total, str(june.active), str(june.good)) == (3, "30.00%", "66.67%")
    july = row_of(F.figure_table(db, world["campaign"], F.SECTION, ["2024-07"], LATER), f"section:{section.id}")
    assert (july.total, str(july.active)) == (2, "—")


def test_a_rating_counts_in_its_local_month(db, world):
    """31 May 2024, 23:40 in Shanghai is 15:40 UTC: a rating of May, however it is stored."""
    late_may = datetime(2024, 5, 31, 15, 0, tzinfo=timezone.utc)
    rate(db, world["section_code"], 5, late_may, 40)  # 40 minutes later: 15:40
    db.commit()
    section = f"section:{world['section'].id}"
    assert row_of(F.figure_table(db, world["campaign"], F.SECTION, ["2024-05"], LATER), section).total == 8
    assert row_of(F.figure_table(db, world["campaign"], F.SECTION, ["2024-06"], LATER), section).total == 0


# ---- the arithmetic ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("numerator", "denominator", "shown", "fraction", "floored"), [
    (4, 7, "57.14%", 0.5714, 57142),
    (2, 3, "66.67%", 0.6667, 66666),
    (1, 8, "12.50%", 0.125, 12500),
    (1, 800, "0.13%", 0.0013, 125),  # 0.125%: half up
    (1, 1600, "0.06%", 0.0006, 62),  # 0.0625%
    (19999, 20000, "100.00%", 1.0, 99995),  # shown as 100.00%, recorded below 100
    (0, 5, "0.00%", 0.0, 0),
    (5, 5, "100.00%", 1.0, 100000),
    (3, 0, "—", None, None),
])
def test_ratio_half_up_to_two_decimals_and_floored_for_records(numerator, denominator, shown, fraction, floored):
    ratio = F.Ratio(numerator, denominator)
    assert (str(ratio), ratio.fraction, ratio.floored_milli) == (shown, fraction, floored)


def test_cell_tallies_are_pure_sums_of_rows():
    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    due = datetime(2024, 5, 20, tzinfo=timezone.utc)
    cells = F.cell_tallies(
        [F.RatingCount("section:1", "2024-05", 5, 3), F.RatingCount("section:1", "2024-05", 1, 1)],
        [F.CaseRow("section:1", "2024-05", due, due, True), F.CaseRow("section:1", "2024-05", due, None, None)],
        [F.ServedRow("section:1", "2024-05", 8)],
        [F.HotlineRow(7, "2024-05", HotlineLevel.city, 4, 3)], now)
    f = F.figures_of(F.tally_of(cells, ["section:1", F.unit_place(7)], ["2024-05", "2024-06"]))
    assert (f.total, str(f.good), f.poor, str(f.rectified), str(f.verdicts), str(f.active), str(f.city)) == (
        4, "75.00%", 1, "50.00%", "100.00%", "50.00%", "75.00%")
    assert f.of(F.ACTIVE_RATE) is f.active and f.of(F.POOR_COUNT) == 1


@pytest.mark.parametrize(("first", "last", "message"), [
    ("2024-13", "2024-13", "“2024-13”不是月份"),
    ("2024-5", "2024-05", "“2024-5”不是月份"),
    ("1999-12", "2000-01", "“1999-12”不是月份"),
    ("2024-05", "2024-04", "结束月份 2024-04 早于开始月份 2024-05。"),
    ("2019-01", "2024-01", "一次最多统计 60 个月，现在选了 61 个月。"),
    ("-1", "-1", "“-1”不是月份"),
])
def test_a_bad_month_or_range_is_refused(first, last, message):
    with pytest.raises(F.FiguresError) as refused:
        F.month_span(first, last)
    assert message in str(refused.value) and refused.value.status == 400


def test_a_span_across_a_year():
    assert F.month_span("2023-11", "2024-02") == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert F.months_text(["2023-11", "2023-12"]) == "2023年11月至2023年12月"
