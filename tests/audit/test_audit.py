"""The append-only audit log: each entry carries the hash of the one before;
`verify` (and `pingyi audit verify`) names the first entry that was changed, deleted or
inserted; PostgreSQL refuses UPDATE and DELETE of the table outright; every
score-affecting action writes its entry, with the staff user (or "cli") and the facts,
never a phone number; the audit page is for admins and auditors.

The database here is built by the migrations, not `create_all`: on PostgreSQL the log
then has its append-only trigger, as in production, and a test that tampers with the
log turns the trigger off first, as an intruder holding the superuser password could.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from datetime import datetime, timezone
from io import BytesIO
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from scoring import columns as C
from tests.conftest import PASSWORD, SECTIONS_CSV, csv_bytes, daily_only, login, make_app
from tests.components.test_supervisor_web import GOOD_SET, form_data, section_ids
from voting.demo.campaign import load_bundle, synth_objects
from voting.core.migrate import alembic_config
from voting.audit.models import AuditEntry
from voting.components.models import BonusItem
from voting.survey.models import Invitation, SurveyRound
from voting.staff.models import Role
from voting.lists.models import RoundKind, Section, ServiceObject, Unit
from voting.audit import audit
from voting.lists import campaigns, objects
from voting.scores import scorecards
from voting.staff import users

FDG, PRICE = "县发改局", "价格科"
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture
def app(database_url, tmp_path, app_config):
    app = make_app(database_url, tmp_path, **app_config)
    engine = app.extensions["pingyi.engine"]
    with engine.begin() as connection:
        command.upgrade(alembic_config(database_url, connection), "head")
    yield app
    engine.dispose()


def is_postgres(db) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def tamper(db, statement) -> None:
    """Run `statement` on the log behind the application's back (on PostgreSQL with the
    append-only trigger off, for this transaction only)."""
    if is_postgres(db):
        db.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    db.execute(statement)
    if is_postgres(db):
        db.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    db.commit()


def chain(db, n: int = 5) -> list[int]:
    ids = [
        audit.record(db, "component.import", actor="admin", detail={"kind": "votes", "filename": f"votes-{i}.csv", "rows": i}).id
        for i in range(n)
    ]
    db.commit()
    return ids


def logged(db, action: str | None = None) -> list[AuditEntry]:
    db.rollback()  # a fresh snapshot: requests and commands commit in sessions of their own
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(db.scalars(query))


def only(db, action: str) -> AuditEntry:
    found = logged(db, action)
    assert len(found) == 1, [(e.action, e.detail) for e in logged(db)]
    return found[0]


def assert_no_phones(db) -> None:
    """No detail holds a mobile number: none of the stored ones, nor anything like one."""
    phones = set(db.scalars(select(ServiceObject.phone))) | set(db.scalars(select(Invitation.phone)))
    assert phones  # the test did store some
    for entry in logged(db):
        dumped = json.dumps(entry.detail, ensure_ascii=False)
        assert not PHONE.search(dumped), (entry.action, dumped)
        assert not any(phone in dumped for phone in phones), entry.action


# ---- the chain ------------------------------------------------------------------------------

def test_each_entry_carries_the_hash_of_the_one_before(db):
    assert audit.verify(db) == audit.Verification(checked=0)
    ids = chain(db, 4)
    rows = db.execute(select(AuditEntry.id, AuditEntry.prev_hash, AuditEntry.hash).order_by(AuditEntry.id)).all()
    assert [r.id for r in rows] == ids
    assert rows[0].prev_hash == audit.GENESIS
    assert [b.prev_hash for b in rows[1:]] == [a.hash for a in rows[:-1]]
    assert len({r.hash for r in rows}) == 4
    assert audit.verify(db) == audit.Verification(checked=4)
    audit.record(db, "history.import", actor="cli", detail={"filename": "h.csv"})
    db.commit()
    assert audit.verify(db) == audit.Verification(checked=5)


@pytest.mark.parametrize(
    "change",
    [{"detail": {"kind": "votes", "filename": "votes-2.csv", "rows": 999}}, {"actor": "someone"},
     {"action": "history.import"}, {"campaign_id": 7}, {"at": datetime(2021, 1, 1, tzinfo=timezone.utc)}],
    ids=["detail", "actor", "action", "campaign", "time"],
)
def test_a_changed_entry_is_the_first_broken_one(db, change):
    ids = chain(db)
    tamper(db, update(AuditEntry).where(AuditEntry.id == ids[2]).values(**change))
    result = audit.verify(db)
    assert result.broken == audit.BrokenEntry(ids[2], f"第 {ids[2]} 条记录的内容与其哈希不符（记录被改动）")
    assert result.checked == 3 and not result.ok


def test_a_changed_entry_with_a_new_hash_breaks_the_link_to_the_next(db):
    ids = chain(db)
    entry = db.get(AuditEntry, ids[2])
    detail = {**entry.detail, "rows": 999}
    rehashed = audit.entry_hash(entry.prev_hash, entry.at, entry.actor, entry.action, entry.campaign_id, detail)
    tamper(db, update(AuditEntry).where(AuditEntry.id == ids[2]).values(detail=detail, hash=rehashed))
    assert audit.verify(db).broken == audit.BrokenEntry(
        ids[3], f"第 {ids[3]} 条记录的前一哈希与第 {ids[2]} 条不符（中间有记录被删除或插入）"
    )


def test_a_deleted_entry_breaks_the_chain_at_the_next_one(db):
    ids = chain(db)
    tamper(db, delete(AuditEntry).where(AuditEntry.id == ids[2]))
    result = audit.verify(db)
    assert result.broken == audit.BrokenEntry(
        ids[3], f"第 {ids[3]} 条记录的前一哈希与第 {ids[1]} 条不符（中间有记录被删除或插入）"
    )
    assert result.checked == 3


def test_a_deleted_first_entry_is_found(db):
    ids = chain(db)
    tamper(db, delete(AuditEntry).where(AuditEntry.id == ids[0]))
    result = audit.verify(db)
    assert result.broken.id == ids[1] and result.checked == 1
    assert result.broken.message == f"第 {ids[1]} 条记录是现存的第一条，但它的前一哈希不是链首（之前有记录被删除）"


def test_an_inserted_entry_is_the_first_broken_one(db):
    ids = chain(db)
    # Room between the third and the fourth entry; ids are not hashed, so a gap alone breaks nothing.
    tamper(db, update(AuditEntry).where(AuditEntry.id > ids[2]).values(id=AuditEntry.id + 100))
    assert audit.verify(db) == audit.Verification(checked=5)
    head = db.get(AuditEntry, ids[2])
    at = datetime(2021, 6, 1, tzinfo=timezone.utc)
    detail = {"kind": "votes", "filename": "forged.csv", "rows": 1}

    def forged(prev_hash: str) -> AuditEntry:
        return AuditEntry(id=ids[2] + 50, at=at, actor="admin", action="component.import", detail=detail,
                          prev_hash=prev_hash, hash=audit.entry_hash(prev_hash, at, "admin", "component.import", None, detail))

    # It cannot claim the third entry as its predecessor: the fourth already does.
    db.add(forged(head.hash))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()
    db.add(forged(hashlib.sha256(b"made up").hexdigest()))
    db.commit()
    result = audit.verify(db)
    assert result.broken == audit.BrokenEntry(
        ids[2] + 50, f"第 {ids[2] + 50} 条记录的前一哈希与第 {ids[2]} 条不符（中间有记录被删除或插入）"
    )
    assert result.checked == 4


def test_postgresql_refuses_to_change_or_delete_an_entry(db):
    if not is_postgres(db):
        pytest.skip("the append-only trigger is PostgreSQL's; on SQLite the hash chain alone shows tampering")
    ids = chain(db, 2)
    for statement in ("UPDATE audit_log SET actor = 'someone' WHERE id = :id", "DELETE FROM audit_log WHERE id = :id",
                      "TRUNCATE audit_log"):
        with pytest.raises(DBAPIError, match="审计日志只能追加,不能修改或删除"):
            db.execute(text(statement), {"id": ids[0]})
        db.rollback()
    entry = db.get(AuditEntry, ids[1])
    entry.actor = "someone"
    with pytest.raises(DBAPIError, match="只能追加"):
        db.commit()
    db.rollback()
    assert audit.verify(db) == audit.Verification(checked=2)
    chain(db, 1)  # appending still works
    assert audit.verify(db) == audit.Verification(checked=3)


# ---- the command line -----------------------------------------------------------------------

def test_cli_verify_reports_the_first_broken_entry_and_exits_1(runner, db):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "审计日志完整：共 0 条" in result.output
    ids = chain(db, 3)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "审计日志完整：共 3 条" in result.output
    tamper(db, update(AuditEntry).where(AuditEntry.id == ids[1]).values(actor="someone"))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"审计日志已被破坏：第 {ids[1]} 条记录的内容与其哈希不符（记录被改动）" in result.output
    assert "完整" not in result.output and "Traceback" not in result.output


def test_cli_list_shows_the_newest_entries(runner, db, campaign):
    result = runner.invoke(args=["audit", "list"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("#1 ")  # the campaign fixture's section list
    ids = chain(db, 3)
    result = runner.invoke(args=["audit", "list", "--limit", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"#{ids[2]} ") and lines[1].startswith(f"#{ids[1]} ")
    # A sentence, as on the page; no JSON unless asked for.
    assert "admin" in lines[0] and "导入评分数据：" in lines[0] and "votes-2.csv" in lines[0] and "{" not in lines[0]
    assert lines[2] == "共 4 条，显示最近 2 条。" and len(lines) == 3
    raw = runner.invoke(args=["audit", "list", "--limit", "1", "--raw"]).output.splitlines()
    assert raw[1].strip().startswith("component.import") and '"filename": "votes-2.csv"' in raw[1]
    result = runner.invoke(args=["audit", "list", "--year", "2021"])
    assert "共 1 条，显示最近 1 条。" in result.output and "导入参评科室名单" in result.output
    assert runner.invoke(args=["audit", "list", "--limit", "0"]).exit_code == 2


def test_cli_list_of_an_empty_log(runner, db):
    result = runner.invoke(args=["audit", "list"])
    assert result.exit_code == 0 and "审计日志中还没有记录。" in result.output


# ---- what is logged ---------------------------------------------------------------------------

def objects_csv(count: int = 8, seed: int = 3) -> bytes:
    frame = synth_objects(random.Random(seed), count)
    frame.insert(0, "科室", PRICE)
    frame.insert(0, "单位名称", FDG)
    return csv_bytes(frame)


def test_the_office_imports_are_logged_with_the_staff_user(admin_client, db, campaign):
    first = only(db, "sections.import")  # the campaign fixture's list, applied by a service call
    assert first.actor == "system" and first.detail["added"] == 363 and first.campaign_id == campaign.id

    real = pd.read_csv(SECTIONS_CSV)
    removed = f"{real.loc[0, '单位名称']} {real.loc[0, '科室']}"
    html = admin_client.post("/office/import/sections", content_type="multipart/form-data",
                             data={"file": (BytesIO(csv_bytes(real.drop(index=0))), "新名单.csv")}).get_data(as_text=True)
    payload = re.search(r'name="payload" type="hidden" value="([^"]+)"', html).group(1)
    assert admin_client.post("/office/import/sections/confirm", data={"payload": payload}).status_code == 302
    entry = logged(db, "sections.import")[-1]
    assert entry.actor == "admin" and entry.campaign_id == campaign.id
    assert entry.detail == {
        "filename": "新名单.csv", "sections": 362, "added": 0, "removed": 1, "changed": 0, "unchanged": 362,
        "objects_lost": 0, "removed_sections": [removed], "changed_sections": [],
    }

    history = "年度,单位名称,科室,结果\n2020,县发改局,价格科,满意单位\n2019,县发改局,价格科,不满意单位\n"
    html = admin_client.post("/office/import/history", content_type="multipart/form-data",
                             data={"file": (BytesIO(history.encode()), "往年.csv")}).get_data(as_text=True)
    assert logged(db, "history.import") == []  # the preview stores and logs nothing
    payload = re.search(r'name="payload" type="hidden" value="([^"]+)"', html).group(1)
    assert admin_client.post("/office/import/history/confirm", data={"payload": payload}).status_code == 302
    entry = only(db, "history.import")
    assert (entry.actor, entry.campaign_id) == ("admin", campaign.id)
    assert entry.detail == {"filename": "往年.csv", "rows": 2, "added": 2, "updated": 0, "unchanged": 0,
                            "unmatched": 0, "years": [2019, 2020]}

    response = admin_client.post("/office/import/objects", content_type="multipart/form-data",
                                 data={"round_kind": "H1", "section": "0", "file": (BytesIO(objects_csv()), "对象.csv")})
    assert response.status_code == 302, response.get_data(as_text=True)
    entry = only(db, "objects.import")
    price = db.scalar(select(Section.id).join(Unit).where(Unit.name == FDG, Section.name == PRICE))
    assert entry.actor == "admin"
    assert {k: v for k, v in entry.detail.items() if k != "import_id"} == {
        "filename": "对象.csv", "round": "H1", "rows_read": 8, "stored": 8, "duplicates": 0,
        "sections": [{"section_id": price, "objects": 8, "penalized": 0}], "all_penalized_reported": [],
    }
    assert_no_phones(db)
    assert audit.verify(db) == audit.Verification(checked=4)


def test_a_refused_import_logs_nothing(admin_client, db, campaign):
    before = len(logged(db))
    response = admin_client.post("/office/components/votes/import", content_type="multipart/form-data",
                                 data={"file": (BytesIO("单位名称,科室,轮次,满意,基本满意,不满意\n县发改局,价格科,H7,1,1,1\n".encode()), "v.csv")})
    assert response.status_code == 422
    assert len(logged(db)) == before


def test_component_imports_and_single_entries_are_logged(admin_client, db, campaign):
    votes = "单位名称,科室,轮次,满意,基本满意,不满意\n县发改局,价格科,H1,30,5,1\n县发改局,发展规划综合科,H1,10,2,0\n"
    response = admin_client.post("/office/components/votes/import", content_type="multipart/form-data",
                                 data={"file": (BytesIO(votes.encode()), "votes.csv")})
    assert response.status_code == 302
    entry = only(db, "component.import")
    assert entry.actor == "admin" and entry.campaign_id == campaign.id
    assert {k: v for k, v in entry.detail.items() if k != "import_id"} == {
        "kind": "votes", "filename": "votes.csv", "rows": 2, "stored": 2, "replaced": 0, "exempt_skipped": 0,
    }

    price = db.scalar(select(Section.id).join(Unit).where(Unit.name == FDG, Section.name == PRICE))
    response = admin_client.post("/office/components/bonus/entries", data={
        "section": price, "type": "表彰", "level": "国家级", "matter": "全国先进集体", "date": "2021-05-01", "note": "文件第 3 号",
    })
    assert response.status_code == 302
    entry_id = db.scalar(select(BonusItem.id))
    added = only(db, "component.entry_add")
    assert added.actor == "admin"
    assert added.detail == {
        "kind": "bonus", "entry_id": entry_id, "section_id": price, "section": f"{FDG} {PRICE}",
        "values": {"kind": C.COMMENDATION, "level": C.NATIONAL, "matter": "全国先进集体", "date": "2021-05-01"},
        "note": "文件第 3 号",
    }
    assert admin_client.post(f"/office/components/bonus/entries/{entry_id}/delete").status_code == 302
    removed = only(db, "component.entry_delete")
    assert removed.actor == "admin" and removed.detail["entry_id"] == entry_id
    assert removed.detail["section"] == f"{FDG} {PRICE}"
    assert removed.detail["values"]["matter"] == "全国先进集体" and removed.detail["values"]["date"] == "2021-05-01"
    assert audit.verify(db).ok


def test_supervisor_scores_are_logged(admin_client, db, campaign):
    unit = db.scalar(select(Unit).where(Unit.campaign_id == campaign.id, Unit.name == FDG))
    ids = section_ids(db, unit)
    assert admin_client.post(f"/office/supervisor/{unit.id}", data=form_data(ids, GOOD_SET)).status_code == 302
    entry = only(db, "supervisor.save")
    assert entry.actor == "admin" and entry.campaign_id == campaign.id
    assert entry.detail["unit_id"] == unit.id and entry.detail["unit"] == FDG
    assert {s["section_id"]: s["score"] for s in entry.detail["scores"]} == dict(zip(ids, GOOD_SET))


def test_result_decisions_are_logged(admin_client, db, campaign, bundle_dir):
    load_bundle(db, campaign, bundle_dir)
    db.commit()
    card = scorecards.campaign_scorecard(db, campaign)
    sid = int(card.sections.loc[card.sections[C.RESULT] == C.SATISFIED, "section_id"].iloc[0])
    section = db.get(Section, sid)
    shown = f"{section.unit.name} {section.name}"
    page = f"/office/scores/sections/{sid}"
    assert admin_client.post(f"{page}/decision", data={"result": "none", "reason": "县评议领导小组会议决定"}).status_code == 303
    assert admin_client.post(f"{page}/decision", data={"result": "satisfied", "reason": "复议后维持"}).status_code == 303
    first, second = logged(db, "result.decide")
    assert first.actor == "admin" and first.campaign_id == campaign.id
    assert first.detail == {"section_id": sid, "section": shown, "result": None, "proposed": C.SATISFIED,
                            "previous": None, "reason": "县评议领导小组会议决定"}
    assert second.detail["result"] == C.SATISFIED and second.detail["previous"] is None  # "none" was stored as no result
    assert admin_client.post(f"{page}/decision/undo").status_code == 303
    undone = only(db, "result.undo")
    assert undone.actor == "admin"
    assert undone.detail == {"section_id": sid, "section": shown, "undone_result": C.SATISFIED, "undone_reason": "复议后维持"}


def test_fixing_and_unfixing_the_candidate_list_are_logged(admin_client, db, campaign, bundle_dir, tmp_path):
    load_bundle(db, campaign, daily_only(bundle_dir, tmp_path / "bundle"))
    db.commit()
    assert admin_client.post("/office/scores/shortlist/fix").status_code == 303
    fixed = only(db, "candidates.fix")
    assert fixed.actor == "admin" and fixed.detail["candidates"] == 110 == len(fixed.detail["section_ids"])
    assert sum(fixed.detail["lists"].values()) == 110 and C.SATISFIED_CANDIDATE in fixed.detail["lists"]
    assert admin_client.post("/office/scores/shortlist/unfix").status_code == 303
    unfixed = only(db, "candidates.unfix")
    assert unfixed.actor == "admin" and unfixed.detail == {"candidates": 110}


ROUND_FORM = {"kind": "H1", "closes_at": "2099-06-30T18:00", "sample_size": "5", "mode": "link",
              "reminder_after_hours": "48"}


def test_round_actions_are_logged(admin_client, db, campaign):
    objects.import_objects(db, campaign, RoundKind.H1, objects_csv(12), "o.csv")
    db.commit()
    assert admin_client.post("/office/rounds/", data=ROUND_FORM).status_code == 303
    survey = db.scalar(select(SurveyRound))
    created = only(db, "round.create")
    assert created.actor == "admin" and created.campaign_id == campaign.id
    assert created.detail | {"closes_at": None} == {
        "round_id": survey.id, "round": "H1", "closes_at": None, "sample_size": 5, "seed": survey.seed, "mode": "link",
        "reminder_after_hours": 48,
    }
    assert created.detail["closes_at"].startswith("2099-06-30T10:00")  # 18:00 in Shanghai, stored in UTC
    for action in ("open", "remind", "close"):
        confirmed = {"confirmed": "1", "acknowledged": "y"}
        assert admin_client.post(f"/office/rounds/{survey.id}/{action}", data=confirmed).status_code == 303
    assert only(db, "round.open").detail == {"round_id": survey.id, "round": "H1", "sections": 1, "invitations": 5,
                                              "sections_without_list": 362}
    assert only(db, "round.remind").detail == {"round_id": survey.id, "round": "H1", "reminders": 0}
    assert only(db, "round.close").detail == {"round_id": survey.id, "round": "H1", "voided_messages": 5}
    assert {e.actor for e in logged(db) if e.action.startswith("round.")} == {"admin"}
    # A refused action (opening a closed round) logs nothing.
    before = len(logged(db))
    assert admin_client.post(f"/office/rounds/{survey.id}/open").status_code == 400
    assert len(logged(db)) == before
    assert_no_phones(db)
    assert audit.verify(db).ok


def test_cli_actions_are_logged_as_cli(runner, db, campaign, tmp_path):
    real = pd.read_csv(SECTIONS_CSV)
    files = {
        "sections.csv": csv_bytes(real.drop(index=0)),
        "history.csv": "年度,单位名称,科室,结果\n2020,县发改局,价格科,满意单位\n".encode(),
        "platform.csv": "单位名称,科室,平台,项目,扣分,承办\n县发改局,价格科,网络监督,有效投诉,,\n".encode(),
        "objects.csv": objects_csv(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    old_cap = campaign.rules.sms_daily_cap
    commands = [
        ["import", "sections", str(tmp_path / "sections.csv"), "--yes"],
        ["import", "history", str(tmp_path / "history.csv")],
        ["import", "component", "platform", str(tmp_path / "platform.csv")],
        ["import", "objects", str(tmp_path / "objects.csv"), "--round", "H2"],
        ["campaign", "settings", f"sms_daily_cap={old_cap + 1}"],
    ]
    for args in commands:
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output)
    entries = logged(db)[1:]  # after the campaign fixture's list
    assert [(e.action, e.actor, e.campaign_id) for e in entries] == [
        (action, "cli", campaign.id)
        for action in ("sections.import", "history.import", "component.import", "objects.import", "campaign.settings")
    ]
    assert entries[0].detail["filename"] == "sections.csv" and entries[0].detail["removed"] == 1
    assert entries[1].detail["filename"] == "history.csv" and entries[1].detail["rows"] == 1
    assert entries[2].detail["kind"] == "platform" and entries[2].detail["stored"] == 1
    assert entries[3].detail["round"] == "H2" and entries[3].detail["stored"] == 8
    assert entries[4].detail == {"changes": {"sms_daily_cap": {"from": old_cap, "to": old_cap + 1}}}
    # Showing the settings, or setting a value it already has, changes nothing and logs nothing.
    assert runner.invoke(args=["campaign", "settings"]).exit_code == 0
    assert runner.invoke(args=["campaign", "settings", f"sms_daily_cap={old_cap + 1}"]).exit_code == 0
    assert len(logged(db)) == 6
    assert_no_phones(db)
    assert runner.invoke(args=["audit", "verify"]).output.strip() == "审计日志完整：共 6 条"


def test_settings_changed_by_a_service_call_are_logged(db, campaign):
    campaigns.change_settings(db, campaign, {"blend_min_votes": "25"}, actor="someone")
    db.commit()
    entry = only(db, "campaign.settings")
    assert entry.actor == "someone" and entry.detail == {"changes": {"blend_min_votes": {"from": 30, "to": 25}}}


# ---- the page ---------------------------------------------------------------------------------

def test_the_page_is_for_admins_and_auditors(client, db, campaign):
    unit = db.scalar(select(Unit).where(Unit.name == FDG))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    for role in (Role.operator, Role.auditor, Role.admin):
        users.create_user(db, role.value, PASSWORD, role)
    db.commit()
    response = client.get("/office/audit/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for username, status in (("liaison", 403), ("operator", 403), ("auditor", 200), ("admin", 200)):
        login(client, username)
        response = client.get("/office/audit/")
        assert response.status_code == status, username
        nav = client.get("/office/").get_data(as_text=True).split("</nav>", 1)[0]
        assert ('href="/office/audit/"' in nav) == (status == 200), username
        client.post("/logout")


def test_the_page_shows_the_verification_and_the_entries_newest_first(app, admin_client, db, campaign):
    ids = chain(db, 2)
    audit.record(db, "result.decide", actor="admin", campaign_id=campaign.id,
                 detail={"section": f"{FDG} {PRICE}", "reason": "县评议领导小组决定", "result": None})
    db.commit()
    html = admin_client.get("/office/audit/").get_data(as_text=True)
    assert "审计日志完整：共 4 条" in html and 'id="audit-verify"' in html
    rows = re.findall(r"<tr>\s*<td>(\d+)</td>(.*?)</tr>", html, re.DOTALL)
    assert [int(i) for i, _ in rows] == [ids[1] + 1, ids[1], ids[0], 1]
    decision = rows[0][1]
    entry = db.get(AuditEntry, ids[1] + 1)
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=timezone.utc)
    local = at.astimezone(ZoneInfo(app.config["TIMEZONE"])).strftime("%Y-%m-%d %H:%M")
    assert f"<td>{local}</td>" in decision and "<td>admin</td>" in decision and "记录评议结果决定" in decision
    assert "<td>2021</td>" in decision and "县评议领导小组决定" in decision and "决定：不列入任何名单" in decision
    assert "导入评分数据" in rows[1][1] and "votes-1.csv" in rows[1][1] and "<td></td>" in rows[1][1]  # no campaign

    # The campaign filter leaves out entries of no campaign.
    html = admin_client.get(f"/office/audit/?campaign={campaign.id}").get_data(as_text=True)
    assert [int(i) for i, _ in re.findall(r"<tr>\s*<td>(\d+)</td>(.*?)</tr>", html, re.DOTALL)] == [ids[1] + 1, 1]
    assert "共 <b>2</b> 条记录" in html

    # Reading the page changes nothing; a broken chain is shown at the top.
    assert len(logged(db)) == 4
    tamper(db, update(AuditEntry).where(AuditEntry.id == ids[0]).values(actor="someone"))
    html = admin_client.get("/office/audit/").get_data(as_text=True)
    assert f"审计日志已被破坏：第 {ids[0]} 条记录的内容与其哈希不符（记录被改动）" in html
    assert "审计日志完整" not in html


def test_the_page_is_paginated(admin_client, db, campaign):
    chain(db, 54)  # with the campaign fixture's: 55
    html = admin_client.get("/office/audit/").get_data(as_text=True)
    assert "共 <b>55</b> 条记录，第 1 / 2 页" in html and len(re.findall(r"<tr>\s*<td>\d+</td>", html)) == 50
    assert "下一页" in html and "上一页" not in html
    html = admin_client.get("/office/audit/?page=2").get_data(as_text=True)
    assert re.findall(r"<tr>\s*<td>(\d+)</td>", html) == ["5", "4", "3", "2", "1"]
    assert "上一页" in html and "下一页" not in html


def test_an_empty_log(admin_client, db):
    html = admin_client.get("/office/audit/").get_data(as_text=True)
    assert "审计日志完整：共 0 条" in html and "还没有记录" in html
