"""The connection pools (voting.core.db): a pooled connection that sat idle is pinged and
replaced if dead; one in steady use is not pinged (no extra round trip on every
request). The autocommit pool stays in autocommit and goes with the engine; a
QuickRead gives what SQLAlchemy gives, and fails on a lost connection as it does."""
from __future__ import annotations

import pytest
from sqlalchemy import exc, text

import voting.core.db
from tests.conftest import POSTGRES_URL, missing, postgres_available


def _engine(monkeypatch, idle_seconds: float):
    if not postgres_available():
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    monkeypatch.setattr(voting.core.db, "PING_AFTER_IDLE_SECONDS", idle_seconds)
    engine = voting.core.db.make_engine(POSTGRES_URL)
    pings = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(1) or real(connection))
    return engine, pings


def _pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_dead_idle_connection_is_replaced_at_checkout(monkeypatch):
    engine, pings = _engine(monkeypatch, 0.0)  # every checkout counts as after idling
    try:
        first = _pid(engine)
        admin = voting.core.db.make_engine(POSTGRES_URL)
        with admin.begin() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
        admin.dispose()
        second = _pid(engine)  # no error: the ping found it dead, the pool made a new one
        assert second != first and len(pings) >= 1
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged(monkeypatch):
    engine, pings = _engine(monkeypatch, 60.0)
    try:
        pids = {_pid(engine) for _ in range(20)}
        assert len(pids) == 1 and pings == []
    finally:
        engine.dispose()


def test_the_autocommit_pool_stays_in_autocommit_and_goes_with_the_engine(app, db):
    """get_autocommit's connections come from a pool of their own, in autocommit (a
    statement is committed by itself: another connection sees it at once), and
    disposing the app's engine disposes that pool too."""
    from voting.core.db import get_autocommit

    engine = app.extensions["pingyi.engine"]
    twin = app.extensions["pingyi.autocommit"]
    with app.app_context():
        connection = get_autocommit()
        connection.execute(text("CREATE TABLE autocommit_probe (n INTEGER)"))
        connection.execute(text("INSERT INTO autocommit_probe VALUES (1)"))
        with engine.connect() as other:
            assert other.execute(text("SELECT count(*) FROM autocommit_probe")).scalar_one() == 1
    assert twin.pool.checkedin() >= 1  # returned to its pool with the request
    engine.dispose()
    assert twin.pool.checkedin() == 0


def test_a_quick_read_gives_what_sqlalchemy_gives(app, db, campaign):
    """rounds.load_invitation's QuickRead: the same row as SQLAlchemy's execute (enums
    as enums, times as times), None for no row; on SQLite it is that execute."""
    from tests.support.citizens import invitations, open_round
    from voting.core.db import QuickRead
    from voting.survey import rounds

    survey = open_round(app, db, campaign)
    invitation = invitations(db, survey)[0]
    quick = QuickRead(rounds._VISIT)
    with app.extensions["pingyi.autocommit"].connect() as connection:
        expected = tuple(connection.execute(rounds._VISIT, {"invitation_id": invitation.id}).one())
        got = quick.first(connection, {"invitation_id": invitation.id})
        assert got == expected and [type(v) for v in got] == [type(v) for v in expected]
        assert got[4] is rounds.RoundStatus.open and got[7] is rounds.RoundKind.H1
        assert quick.first(connection, {"invitation_id": -1}) is None


def test_a_quick_read_on_a_lost_connection_fails_as_sqlalchemy_does(app, db, campaign):
    """PostgreSQL: the backend is gone; the read raises SQLAlchemy's error saying the
    connection was invalidated, and the pool's next connection is a fresh one."""
    from tests.support.citizens import invitations, open_round
    from tests.support.faults import terminate_backend
    from voting.core.db import QuickRead
    from voting.survey import rounds

    twin = app.extensions["pingyi.autocommit"]
    if twin.dialect.name != "postgresql":
        pytest.skip("SQLite is a file opened in the process: there is no server connection to lose")
    survey = open_round(app, db, campaign)
    invitation = invitations(db, survey)[0]
    with twin.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        terminate_backend(pid)
        with pytest.raises(exc.DBAPIError) as raised:
            QuickRead(rounds._VISIT).first(connection, {"invitation_id": invitation.id})
        assert raised.value.connection_invalidated
    with twin.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        assert QuickRead(rounds._VISIT).first(connection, {"invitation_id": invitation.id})[0] == invitation.id
