"""Two uploads of the same section's list at the same moment: both succeed, one after
the other, and the section ends with exactly one of the two lists (never a mix, never
a unique-constraint error)."""
from __future__ import annotations

import threading

import pandas as pd
from sqlalchemy import select

from tests.conftest import csv_bytes
from voting.lists.models import Campaign, RoundKind, Section, ServiceObject, Unit
from voting.lists import objects


def _file(prefix: str) -> bytes:
    rows = [{"姓名": f"{prefix}{i}", "手机号码": f"{prefix}{i:08d}", "事项内容(处罚类案件名称)": "咨询"} for i in range(300)]
    return csv_bytes(pd.DataFrame(rows))


def test_concurrent_uploads_of_one_section(app, db, campaign):
    section_id = db.scalar(select(Section.id).join(Unit).where(Unit.name == "县发改局", Section.name == "价格科"))
    sessions = app.extensions["pingyi.sessions"]
    barrier, failures = threading.Barrier(2), []

    def upload(prefix: str) -> None:
        with sessions() as session:
            try:
                target = session.get(Campaign, campaign.id)
                barrier.wait(timeout=10)
                objects.import_objects(session, target, RoundKind.H1, _file(prefix), f"{prefix}.csv", section_id=section_id)
                session.commit()
            except Exception as error:  # noqa: BLE001 (reported below, with what it was)
                failures.append(repr(error))

    threads = [threading.Thread(target=upload, args=(prefix,)) for prefix in ("138", "139")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    phones = db.scalars(select(ServiceObject.phone).where(ServiceObject.section_id == section_id)).all()
    assert len(phones) == 300 and len({p[:3] for p in phones}) == 1
