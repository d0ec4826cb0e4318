"""Time helpers shared by the services: stored times made zone-aware, a given time
checked and put in UTC, the local day of a moment and its bounds (the daily limits and
caps count local days), and the short local time the SMS texts quote ("6月30日18:00")."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import overload
from zoneinfo import ZoneInfo


@overload
def aware(moment: datetime) -> datetime: ...


@overload
def aware(moment: None) -> None: ...


def aware(moment: datetime | None) -> datetime | None:
    """The moment with its zone: SQLite hands stored times back without one; they are UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


@lru_cache(maxsize=64)  # a round's 40,000 messages share one closing time
def short_local_time(moment: datetime, zone: str) -> str:
    """The moment in `zone` as the SMS texts write it: month, day, hour and minute
    ("6月30日18:00")."""
    local = aware(moment).astimezone(ZoneInfo(zone))
    return f"{local.month}月{local.day}日{local.hour:02d}:{local.minute:02d}"


def in_utc(now: datetime) -> datetime:
    """A time a caller gave (`now`), in UTC; ValueError for one without a zone (a naive
    time would be read in the server's zone, which is no rule of the platform)."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    return now.astimezone(timezone.utc)


def local_day(moment: datetime, zone: str) -> date:
    """The day `moment` falls on in `zone`."""
    return aware(moment).astimezone(ZoneInfo(zone)).date()


def start_of_day(day: date, zone: str) -> datetime:
    """The start of the local `day`, in UTC."""
    return datetime.combine(day, time(0, 0), ZoneInfo(zone)).astimezone(timezone.utc)


def end_of_day(day: date, zone: str) -> datetime:
    """The end of the local `day` (the next day's start), in UTC."""
    return start_of_day(day + timedelta(days=1), zone)


def day_bounds(moment: datetime, zone: str) -> tuple[datetime, datetime]:
    """The local day of `moment`: its start and the next day's, in UTC."""
    day = local_day(moment, zone)
    return start_of_day(day, zone), end_of_day(day, zone)
