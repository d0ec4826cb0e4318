"""Phone numbers at rest (voting/core/vault.py) and the retention command
(voting/office/retention.py): a database dump after a whole simulated year holds no
phone number, every lookup still works, and erasing a finished campaign's personal
data keeps its scores."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from scoring import columns as C
from tests.conftest import make_app
from voting.audit.models import AuditEntry
from voting.lists.models import Campaign, Section, ServiceObject, Unit
from voting.outbox.models import ConsoleMessage, OutboxMessage, OutboxStatus
from voting.online.models import Evaluator
from voting.survey.models import Invitation, Vote
from voting.core.models import utcnow
from voting.scores import scorecards
from voting.online.ballots import online_round
from voting.demo.simulate import simulate_year
from voting.core.vault import PhoneVault, VaultError, vault_of

SMALL = {"list_size": 12, "per_section": 6, "representatives": 70, "turnout": 0.9}
PHONE_MODELS = (ServiceObject, Invitation, OutboxMessage, ConsoleMessage, Evaluator)


@pytest.fixture
def year(app, db):
    """A whole simulated year, its SMS sent by the console sender, its lists published."""
    run = simulate_year(db, app, seed=11, echo=lambda _: None, **SMALL)
    db.commit()
    return run


def phones_in(db) -> set[str]:
    """Every phone number the platform holds, read through the models."""
    found: set[str] = set()
    for model in PHONE_MODELS:
        found |= {p for p in db.scalars(select(model.phone)) if p}
    return found


def dump(db) -> str:
    """Every value of every table, as a database dump would show it."""
    connection = db.connection()
    parts = []
    for table in inspect(connection).get_table_names():
        for row in connection.execute(text(f'SELECT * FROM "{table}"')):
            parts.append(" ".join(str(value) for value in row))
    return "\n".join(parts)


def test_a_dump_of_a_whole_year_shows_no_phone_number(app, db, year, database_url):
    phones = phones_in(db)
    assert len(phones) > 500  # citizens on the lists, evaluators, their SMS
    dumped = dump(db)
    leaked = [p for p in phones if p in dumped]
    assert leaked == []
    if database_url.startswith("sqlite"):
        # The file itself (and its write-ahead log), byte for byte.
        path = Path(database_url.removeprefix("sqlite:///"))
        raw = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes()
                                   if path.with_name(path.name + "-wal").exists() else b"")
        assert [p for p in phones if p.encode() in raw] == []
    # The same number sealed twice differs (no frequency analysis), and is found by its hash.
    sealed = db.scalars(text("SELECT phone FROM invitation LIMIT 2")).all()
    assert all(s.startswith("p1.") for s in sealed) and sealed[0] != sealed[1]


def test_the_keyed_hash_finds_a_number_and_only_the_key_makes_it(app, db, year):
    invitation = db.scalars(select(Invitation).limit(1)).one()
    vault = vault_of(db)
    assert invitation.phone_hash == vault.lookup(invitation.phone)
    assert db.scalar(select(Invitation.id).where(Invitation.phone_hash == vault.lookup(invitation.phone))) is not None
    other = PhoneVault("another county's key, 32 characters long")
    assert other.lookup(invitation.phone) != invitation.phone_hash
    with pytest.raises(VaultError, match="PHONE_KEY 与加密时所用的不同"):
        other.open(db.scalar(text("SELECT phone FROM invitation LIMIT 1")))


def test_comparing_the_sealed_column_in_sql_is_refused():
    # It would match nothing, silently: the hash column is the way.
    with pytest.raises(VaultError, match="phone_hash"):
        select(Invitation).where(Invitation.phone == "13812345678")
    with pytest.raises(VaultError, match="phone_hash"):
        select(Invitation).where(Invitation.phone.in_(["13812345678"]))


def test_an_app_with_another_key_cannot_read_the_numbers(app, db, year, database_url, tmp_path):
    other = make_app(database_url, tmp_path / "other", PHONE_KEY="not the key these numbers were sealed with")
    with other.extensions["pingyi.sessions"]() as session, pytest.raises(VaultError):
        session.scalars(select(ServiceObject.phone).limit(1)).all()
    other.extensions["pingyi.engine"].dispose()


def test_production_refuses_to_start_without_a_phone_key(tmp_path):
    from voting import create_app
    from voting.core.config import ConfigError

    os.environ["PINGYI_INSTANCE_PATH"] = str(tmp_path / "instance")
    config = {"PRODUCTION": True, "SECRET_KEY": "s" * 40, "DATABASE_URL": "sqlite://"}
    with pytest.raises(ConfigError, match="FLASK_PHONE_KEY"):
        create_app(config)
    with pytest.raises(ConfigError, match="太短"):
        create_app({**config, "PHONE_KEY": "short"})


# ---- the migration seals numbers already stored -----------------------------------------

def test_the_migration_seals_stored_numbers_and_the_downgrade_opens_them(database_url, tmp_path):
    from alembic import command

    from voting.core.migrate import alembic_config

    app = make_app(database_url, tmp_path)  # no create_all: the migrations build it
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "c4e2f7a91b10"]).exit_code == 0
    engine = app.extensions["pingyi.engine"]
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO sms_outbox (key, phone, template, params, text, status, attempts, not_before, last_error, created_at)"
            " VALUES ('invite:1', '13812345678', 'invite_link', '{}', 'x', 'sent', 1, :now, '', :now)"), {"now": utcnow()})
        connection.execute(text("INSERT INTO sms_console (key, phone, text, created_at) VALUES ('invite:1', '13812345678', 'x', :now)"),
                           {"now": utcnow()})

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        raw = connection.execute(text("SELECT phone, phone_hash FROM sms_outbox")).one()
        assert raw.phone.startswith("p1.") and "13812345678" not in raw.phone
        assert connection.execute(text("SELECT phone FROM sms_console")).scalar().startswith("p1.")
    with app.extensions["pingyi.sessions"]() as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert message.phone == "13812345678" and message.phone_hash == vault_of(session).lookup("13812345678")

    result = runner.invoke(args=["db", "downgrade", "c4e2f7a91b10"])
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        assert connection.execute(text("SELECT phone FROM sms_outbox")).scalar() == "13812345678"
    # Outside the app (plain Alembic) there is no key: the migration says so instead of
    # storing numbers in the clear or garbling them.
    with engine.begin() as connection, pytest.raises(RuntimeError, match="PHONE_KEY"):
        command.upgrade(alembic_config(database_url, connection), "head")
    engine.dispose()


# ---- retention ---------------------------------------------------------------------------

def test_retention_erases_personal_data_and_keeps_every_score(app, db, year, runner):
    online = online_round(db, year.campaign)
    published = utcnow() - timedelta(days=200)
    scorecards.publish(db, online, actor="test", now=published)
    db.commit()
    before = scorecards.campaign_scorecard(db, year.campaign).sections
    votes_before = db.execute(select(Vote.invitation_id, Vote.choice, Vote.channel).order_by(Vote.id)).all()
    names = set(db.scalars(select(ServiceObject.name))) | set(db.scalars(select(Evaluator.name)))
    phones = phones_in(db)

    # Not yet due at 365 days; the listing says until when.
    listed = runner.invoke(args=["retention", "list", "--days", "365"])
    assert "保留至" in listed.output
    refused = runner.invoke(args=["retention", "erase", "--year", "2021", "--days", "365", "--yes"])
    assert refused.exit_code != 0 and "不能删除" in refused.output
    # Due at the default 180 days; without --yes only the plan.
    plan = runner.invoke(args=["retention", "erase"])
    assert plan.exit_code == 0 and "将删除 2021 年度" in plan.output and "--yes" in plan.output
    db.expire_all()
    assert phones_in(db) == phones

    done = runner.invoke(args=["retention", "erase", "--yes"])
    assert done.exit_code == 0, done.output
    assert "已删除 2021 年度的个人信息" in done.output
    db.expire_all()
    assert phones_in(db) == set()
    assert set(db.scalars(select(ServiceObject.name))) == {""} and set(db.scalars(select(Evaluator.name))) == {""}
    dumped = dump(db)
    # (a synthetic name may also be part of an office's name, which stays)
    public = " ".join(db.scalars(select(Unit.name))) + " ".join(db.scalars(select(Section.name)))
    assert [n for n in names if n and n not in public and n in dumped] == []
    assert db.scalar(select(Invitation.id).where(Invitation.nonce != "")) is None
    assert db.scalar(select(OutboxMessage.id).where(OutboxMessage.text != "")) is None
    assert db.scalar(select(ConsoleMessage.id)) is None
    assert db.scalar(select(Vote.id).where(Vote.comment != "")) is None
    assert not db.scalar(select(OutboxMessage.id).where(OutboxMessage.status.in_([OutboxStatus.pending,
                                                                                    OutboxStatus.sending])))
    # The aggregates: the same votes, the same scores and results.
    assert db.execute(select(Vote.invitation_id, Vote.choice, Vote.channel).order_by(Vote.id)).all() == votes_before
    after = scorecards.campaign_scorecard(db, db.get(Campaign, year.campaign.id)).sections
    columns = [C.UNIT, C.SECTION, C.RESULT]
    assert after[columns].fillna("").equals(before[columns].fillna(""))
    assert after.select_dtypes("number").fillna(-1).equals(before.select_dtypes("number").fillna(-1))
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "retention.erase")).one()
    assert entry.detail["service_objects"] > 0 and entry.detail["evaluators"] > 0
    # Once is enough: a second run finds nothing due.
    again = runner.invoke(args=["retention", "erase", "--yes"])
    assert again.exit_code == 0 and "没有到期的年度" in again.output
    assert "已于" in runner.invoke(args=["retention", "list"]).output


def test_retention_never_touches_a_campaign_whose_lists_are_not_published(app, db, year, runner):
    result = runner.invoke(args=["retention", "erase", "--days", "0", "--yes"])
    assert result.exit_code == 0 and "没有到期的年度" in result.output
    refused = runner.invoke(args=["retention", "erase", "--year", "2021", "--days", "0", "--yes"])
    assert refused.exit_code != 0 and "结果尚未公布" in refused.output
    db.expire_all()
    assert len(phones_in(db)) > 500
