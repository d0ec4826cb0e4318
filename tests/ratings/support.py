"""What the ratings tests share: a section and a window to rate, and a hundred requests
at once on PostgreSQL."""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from voting.core.vault import attach, vault_of
from voting.lists import campaigns
from voting.lists.models import Section, Unit
from voting.schemes.models import AssessedEntity, Assessment


def places(db) -> tuple[Section, AssessedEntity]:
    """A section of the 2021 campaign and a window of a window assessment."""
    campaign = campaigns.create_campaign(db, 2021)
    unit = Unit(campaign_id=campaign.id, name="县发改局", number=1)
    section = Section(unit=unit, name="价格科", number=1)
    assessment = Assessment(name="本中心考核", scheme_text="", scheme_source="builtin:jinjiang", created_by="admin")
    db.add_all([unit, section, assessment])
    db.flush()
    window = AssessedEntity(assessment_id=assessment.id, name="公安局窗口", group_id="g1", kind="window", position=1)
    db.add(window)
    db.commit()
    return section, window


def at_once(app, db, attempt: Callable[[Session, int], str], why_not_sqlite: str, n: int = 100) -> Counter:
    """`attempt(session, i)` in `n` threads released together, each in its own
    session, committed after it (also when it raises); the outcomes counted. PostgreSQL
    only (SQLite serialises writers: skipped with `why_not_sqlite`). `db` is closed and
    the app's pool emptied first: the server's max_connections (100 by default) is
    shared with the fixtures and whatever else runs, so the threads share 80."""
    engine = app.extensions["pingyi.engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip(why_not_sqlite)
    db.close()
    engine.dispose()
    wide = create_engine(engine.url, pool_size=80, max_overflow=0, pool_timeout=120)
    attach(wide, vault_of(engine))
    sessions = sessionmaker(wide, expire_on_commit=False)
    start = threading.Barrier(n, timeout=60)

    def one(i: int) -> str:
        with sessions() as session:
            start.wait()
            try:
                return attempt(session, i)
            finally:
                session.commit()

    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            return Counter(pool.map(one, range(n)))
    finally:
        wide.dispose()
