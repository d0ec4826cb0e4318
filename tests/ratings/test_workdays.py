"""The follow-up clock's working days (voting/ratings/workdays.py) from the
`chinese_calendar` library, checked against the State Council's 2026 schedule
（国务院办公厅关于2026年部分节假日安排的通知）: 国庆节、中秋节 are separate in 2026 (中秋节
9月25日至27日放假；国庆节10月1日至7日放假调休，共7天，9月20日（周日）、10月10日（周六）上班),
and a year the library does not know counted Monday to Friday, flagged."""
from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest

from voting.ratings.workdays import FOLLOW_UP_DAYS, Count, Due, add_working_days, is_working_day, known, working_days_between


def test_the_library_carries_the_official_2026_national_day_schedule():
    """What the worked examples below rely on, as the library has it."""
    assert all(chinese_calendar.is_holiday(date(2026, 10, day)) for day in range(1, 8))
    assert chinese_calendar.is_workday(date(2026, 10, 10))  # Saturday, a make-up working day
    assert chinese_calendar.is_workday(date(2026, 9, 20))  # Sunday, a make-up working day
    assert all(chinese_calendar.is_holiday(date(2026, 9, day)) for day in (25, 26, 27))  # 中秋节
    assert date(2026, 10, 10).weekday() == 5 and date(2026, 9, 20).weekday() == 6


def test_a_poor_rating_before_national_day_is_due_after_it():
    """Rated on Wednesday 30 September 2026: 1–7 October are holidays; the working days
    are Thu 8, Fri 9, Sat 10 (make-up), Mon 12, Tue 13: due Tuesday 13 October. Counted
    Monday to Friday it would have been Wednesday 7 October, a holiday."""
    assert FOLLOW_UP_DAYS == 5
    assert add_working_days(date(2026, 9, 30), FOLLOW_UP_DAYS) == Due(date(2026, 10, 13), estimated=False)
    assert add_working_days(date(2026, 9, 30), 3) == Due(date(2026, 10, 10), estimated=False)  # the Saturday
    assert add_working_days(date(2026, 10, 1), 1) == Due(date(2026, 10, 8), estimated=False)  # from a holiday
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 13)) == Count(5, estimated=False)
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 7)) == Count(0, estimated=False)
    assert working_days_between(date(2026, 10, 13), date(2026, 9, 30)) == Count(-5, estimated=False)


def test_a_make_up_sunday_counts():
    """Rated on Friday 18 September 2026: Sun 20 (make-up), Mon 21, Tue 22, Wed 23,
    Thu 24; then 25–27 are 中秋节."""
    assert add_working_days(date(2026, 9, 18), 5) == Due(date(2026, 9, 24), estimated=False)
    assert add_working_days(date(2026, 9, 18), 6) == Due(date(2026, 9, 28), estimated=False)
    assert is_working_day(date(2026, 9, 20)) == (True, False)
    assert is_working_day(date(2026, 9, 19)) == (False, False)


def test_an_unknown_year_is_monday_to_friday_and_says_so():
    assert known(date(2026, 12, 31)) and not known(date(2027, 1, 4)) and not known(date(2003, 6, 2))
    # 2027-01-01 is a Friday: counted as a working day, for want of the schedule.
    assert is_working_day(date(2027, 1, 1)) == (True, True)
    assert add_working_days(date(2027, 1, 4), 5) == Due(date(2027, 1, 11), estimated=True)
    # Across the new year: 2026's last days are known, 2027's are not.
    assert add_working_days(date(2026, 12, 30), 5) == Due(date(2027, 1, 6), estimated=True)
    assert add_working_days(date(2026, 12, 28), 2) == Due(date(2026, 12, 30), estimated=False)
    assert working_days_between(date(2026, 12, 31), date(2027, 1, 8)) == Count(6, estimated=True)


@pytest.mark.parametrize("start", [date(2026, 1, 1) + timedelta(days=n) for n in range(0, 365, 17)])
def test_counting_undoes_adding(start):
    for n in (0, 1, 5, 12):
        due = add_working_days(start, n)
        assert working_days_between(start, due.day).days == n
        assert n == 0 or is_working_day(due.day)[0]


def test_a_negative_number_of_days_is_refused():
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 5), -1)
