"""Time helpers shared by the services: stored times made zone-aware, and the short
local time the SMS texts quote ("6月30日18:00")."""
from __future__ import annotations

from datetime import datetime, timezone
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
