"""Working days for a poor rating's follow-up clock (差评整改时限): mainland China's
public holidays and make-up working days (调休), from the `chinese_calendar` library
(PyPI `chinesecalendar`), whose maintainers add each year's schedule once the State
Council publishes it (国务院办公厅关于某年部分节假日安排的通知, usually in November or
December of the year before). The platform keeps no holiday list of its own.

A year the library does not know (before 2004, or after the last schedule it carries:
2026 for version 1.11) is counted Monday to Friday, which is what the schedule will
mostly say but not on its holidays and make-up days. Every answer says whether it had
to do so (`estimated`), and `known(day)` says it for one day, so that a page can warn
that the dates are provisional and the library needs an update (`pip install -U
chinesecalendar`).

Days are local dates (Asia/Shanghai): the caller turns a stored UTC time into its local
date first. The follow-up's clock counts from the day after the rating: a rating on
Wednesday with 5 working days is due on the 5th working day after it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

FOLLOW_UP_DAYS = 5  # the default clock of a poor rating's follow-up (setting RATING_FOLLOW_UP_WORKING_DAYS)


@dataclass(frozen=True)
class Due:
    """The day `add_working_days` arrives at; `estimated`: some day on the way is in a
    year the calendar library does not know, counted Monday to Friday."""

    day: date
    estimated: bool


@dataclass(frozen=True)
class Count:
    """How many working days `working_days_between` counted; `estimated` as for `Due`."""

    days: int
    estimated: bool


def known(day: date) -> bool:
    """Whether the calendar library knows `day`'s year (its holidays and make-up days)."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_working_day(day: date) -> tuple[bool, bool]:
    """(whether `day` is a working day, whether that is estimated: Monday to Friday for a
    year the library does not know)."""
    try:
        return bool(chinese_calendar.is_workday(day)), False
    except NotImplementedError:
        return day.weekday() < 5, True


def add_working_days(start: date, n: int) -> Due:
    """The `n`th working day after `start` (`start` itself is not counted; n = 0 gives
    `start`)."""
    if n < 0:
        raise ValueError(f"n must not be negative, not {n}")
    day, counted, estimated = start, 0, False
    while counted < n:
        day += timedelta(days=1)
        working, guessed = is_working_day(day)
        estimated |= guessed
        counted += working
    return Due(day, estimated)


def working_days_between(a: date, b: date) -> Count:
    """The working days after `a` up to and including `b`, so that
    `working_days_between(a, add_working_days(a, n).day)` is n; negative when `b` is
    before `a`. The follow-up's working days used so far, or overdue by."""
    if b < a:
        back = working_days_between(b, a)
        return Count(-back.days, back.estimated)
    days, estimated, day = 0, False, a
    while day < b:
        day += timedelta(days=1)
        working, guessed = is_working_day(day)
        estimated |= guessed
        days += working
    return Count(days, estimated)
