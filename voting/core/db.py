"""Engine and per-request session, without Flask-SQLAlchemy so that models and
services work the same in the web app, the CLI, Alembic and the tests.

A web request is one unit of work (`init_app` registers it, "the request's unit of
work" below): services take the request's Session and never commit; the request
commits once, when its view has returned a success (status below 400), and rolls
back otherwise. A view says otherwise with `keep_writes()` (a counted failure: a
wrong password or code) or `discard_writes()` (a refusal shown as a flash and a
redirect), never with commit() or rollback(). `after_commit(callback)` runs what
must see the committed rows (waking a job's worker). The CLI's commands, the jobs
(voting/jobs/jobs.py, voting/tasks.py) and the outbox's dispatcher are not requests:
each command or job step is its own unit of work and commits itself."""
from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from functools import wraps
from typing import Any

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import Connection, Engine, Table, create_engine, event, exc, text
from sqlalchemy.orm import Session, sessionmaker

from voting.core.vault import PhoneVault, attach

log = logging.getLogger(__name__)


def make_engine(url: str, phone_key: str | None = None, **options) -> Engine:
    """An engine for `url`; with `phone_key`, its statements seal and open the phone
    number columns (voting/core/vault.py). `options` go to create_engine."""
    engine = _make_engine(url, **options)
    if phone_key is not None:
        attach(engine, PhoneVault(phone_key))
    return engine


def _make_engine(url: str, **options) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    engine = create_engine(url, **options)
    _ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


# A pooled connection that sat unused this long is checked before use (the server may
# have restarted or a firewall dropped it); one in steady use is not. SQLAlchemy's
# pool_pre_ping checks at every checkout: a round trip on every request, as much as
# the citizen's vote itself. A connection that breaks in between is found out by its
# next statement: that request fails with the error page, the pool is invalidated.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(str(error)) from error
        if not alive:
            raise exc.DisconnectionError("the ping got no answer")


def init_app(app: Flask) -> None:
    url, key = app.config["DATABASE_URL"], app.config["PHONE_KEY"]
    engine = make_engine(url, key)
    app.extensions["pingyi.engine"] = engine
    app.extensions["pingyi.autocommit"] = _autocommit_twin(engine, url, key)
    app.extensions["pingyi.sessions"] = sessionmaker(engine, expire_on_commit=False)
    app.dispatch_request = _unit_of_work(app)  # type: ignore[method-assign]
    app.teardown_appcontext(_close_session)


def _autocommit_twin(engine: Engine, url: str, phone_key: str | None) -> Engine:
    """Where the single-statement pages' connections (get_autocommit) come from: a pool
    of its own whose connections stay in autocommit. Switching a pooled connection to
    autocommit at each checkout and back at each return cost a citizen's request about
    0.06 ms of CPU, as much as its template. Disposed with `engine`. An in-memory
    SQLite database exists in one engine only: there, `engine` itself, its connections
    switched as before."""
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    twin = make_engine(url, phone_key, isolation_level="AUTOCOMMIT")
    event.listen(engine, "engine_disposed", lambda _engine: twin.dispose())
    return twin


def get_engine() -> Engine:
    return current_app.extensions["pingyi.engine"]


def get_session() -> Session:
    """The session of this request or command. A request's is committed (or rolled
    back) by the request's unit of work (`init_app`); a command commits its own."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["pingyi.sessions"]()
    return g.db_session


def ping() -> None:
    """One `SELECT 1` on a connection of its own (the readiness check, /readyz): raises
    whatever stops the database from answering."""
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


def get_autocommit() -> Connection:
    """This request's connection on which every statement commits by itself, for
    pages whose work is a single statement (the citizens' voting pages): no BEGIN and
    COMMIT round trips around it. Returned to the pool with the request."""
    if "db_autocommit" not in g:
        g.db_autocommit = current_app.extensions["pingyi.autocommit"].connect()
    return g.db_autocommit


def single_statement_connection(session: Session) -> Connection:
    """Where a service runs work that is one statement and the only database work of
    its request (a citizen's vote and page reads, the evaluator's read, the ballot on
    PostgreSQL): the request's autocommit connection (get_autocommit) when `session`
    is the request's session and has no transaction open, so that the statement
    commits by itself, with no BEGIN and COMMIT round trips around it (measured: the
    vote became one round trip instead of three, and the citizens' votes per second
    doubled; bench/README.md, vote_bench and ballot_bench). Otherwise, `session`'s own
    connection, the statement joining its transaction: a command's, a job's or a
    test's session, or a request that has read or written through it already, whose
    work the statement must share the fate of."""
    if not session.in_transaction() and has_request_context() and g.get("db_session") is session:
        return get_autocommit()
    return session.connection()


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    # A session that never began a transaction holds nothing to give back (a citizen's
    # page, whose statement ran on the autocommit connection): closing it would cost
    # more CPU than making it did.
    if session is not None and (session.in_transaction() or session.identity_map):
        session.close()  # rolls back whatever was not committed
    connection = g.pop("db_autocommit", None)
    if connection is not None:
        connection.close()


# ---- the request's unit of work ------------------------------------------------------------

_KEEP, _DISCARD = "keep", "discard"


def keep_writes() -> None:
    """Commit this request's writes although the response its view returns is an error
    (4xx): a wrong password or code that must be counted although the login fails. An
    exception out of the view still rolls them back."""
    g.db_outcome = _KEEP


def discard_writes() -> None:
    """Roll this request's writes back although its response is a success: a view that
    catches a refusal, flashes it and redirects (303)."""
    g.db_outcome = _DISCARD


def after_commit(callback: Callable[[], Any]) -> None:
    """Run `callback` once this request's writes are committed (never if they are rolled
    back): waking the worker of a job the request submitted, which must find its row."""
    g.setdefault("db_after_commit", []).append(callback)


def _unit_of_work(app: Flask) -> Callable[[], Any]:
    """`app.dispatch_request`, ending the request's unit of work as the view returns:
    the view's response made (as Flask would make it next), then its writes committed
    or rolled back (`_finish`). Not an after_request function: an exception raised
    there (a commit that fails) skips the error handlers of the app and of the
    blueprints (Flask 3's finalize_request re-raises it; wsgi_app's handle_exception
    re-raises it under TESTING or DEBUG, otherwise answers with the generic 500
    handler and runs the after_request functions again). Raised here, inside
    full_dispatch_request, it reaches them as a view's exception does: the error page
    voting/core/errors_web.py (or the public blueprint, voting/web/public.py) gives it.
    An exception out of the view rolls back before its error handler runs, so the
    handler's page reads from a usable session."""
    dispatch = app.dispatch_request

    @wraps(dispatch)
    def dispatch_request() -> Any:
        try:
            returned = dispatch()
        except BaseException:
            rollback_request()
            raise
        response = app.make_response(returned)
        _finish(response.status_code)
        return response

    return dispatch_request


def _finish(status: int) -> None:
    """Commit the request's session if the response is a success and the view did not
    discard its writes, or if the view kept them; roll it back otherwise. A commit that
    fails is rolled back and raised: the error handlers answer it."""
    outcome = g.pop("db_outcome", None)
    callbacks = g.pop("db_after_commit", ())
    if outcome != _KEEP and (status >= 400 or outcome == _DISCARD):
        rollback_request()
        return
    session = g.get("db_session")
    if session is not None and session.in_transaction():
        try:
            session.commit()
        except BaseException:
            rollback_request()
            raise
    for callback in callbacks:
        callback()


def rollback_request() -> None:
    """Roll the request's session back now (before an error page: a failed flush leaves
    it unusable until then, and the page's own reads would fail again). A rollback
    that fails (the database is gone too) is logged: the page is tried anyway."""
    g.pop("db_after_commit", None)
    session = g.get("db_session")
    if session is None or not session.in_transaction():
        return
    try:
        session.rollback()
    except Exception:  # the error page is tried anyway
        log.warning("rollback of the request's session failed", exc_info=True)


def bulk_insert(
    session: Session,
    table: Table,
    columns: list[str],
    rows: Sequence[tuple],
    chunk: int = 20000,
    progress: Callable[[int], None] | None = None,
    stored: Collection[str] = (),
) -> None:
    """Insert many rows (tuples of Python values in `columns` order) inside the
    session's transaction: COPY on PostgreSQL, the driver's executemany elsewhere, with
    no per-row work in SQLAlchemy but its columns' own bind processing (a phone sealed,
    a JSON value encoded, a time in SQLite's format), so rows read back as any other.
    The `stored` columns' values are already as the database keeps them (a sealed
    phone copied from another row) and go in unprocessed. Column defaults are not
    applied: give every value. `progress(n)` is called after each chunk of n rows."""
    connection = session.connection()
    dialect = connection.dialect
    processors = [(i, p) for i, name in enumerate(columns)
                  if name not in stored and (p := table.c[name].type._cached_bind_processor(dialect)) is not None]

    def driver_rows(part: Sequence[tuple]) -> list[tuple]:
        if not processors:
            return list(part)
        converted = []
        for row in part:
            values = list(row)
            for i, process in processors:
                values[i] = process(values[i])
            converted.append(tuple(values))
        return converted

    names = ", ".join(f'"{name}"' for name in columns)
    if dialect.name == "postgresql":
        with connection.connection.driver_connection.cursor() as cursor:
            for start in range(0, len(rows), chunk):
                part = driver_rows(rows[start : start + chunk])
                with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                    for row in part:
                        copy.write_row(row)
                if progress:
                    progress(len(part))
        return
    marks = ", ".join("?" for _ in columns) if dialect.paramstyle == "qmark" else ", ".join("%s" for _ in columns)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
    for start in range(0, len(rows), chunk):
        part = driver_rows(rows[start : start + chunk])
        connection.exec_driver_sql(sql, part)
        if progress:
            progress(len(part))


class QuickRead:
    """A SELECT of plain columns that a hot page runs on every request (the citizens'
    invitation), run on PostgreSQL straight on the pooled DBAPI connection: compiled
    by SQLAlchemy once, its rows put through SQLAlchemy's own result processors (enums
    come back as enums), its driver errors raised as SQLAlchemy's, a lost connection
    invalidated in the pool as SQLAlchemy does. What it skips is SQLAlchemy's work
    per execution (cache key, execution context, result object): measured in a served
    request, about 0.1 ms of CPU of a citizen page's 0.8 ms. Engine events do not see
    it. Elsewhere (SQLite) it is an ordinary execute."""

    def __init__(self, statement) -> None:  # a Select
        self.statement = statement
        # per engine's dialect, kept no longer than the engine
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _compile(self, dialect) -> tuple[str, list]:
        found = self._compiled.get(dialect)
        if found is None:
            sql = str(self.statement.compile(dialect=dialect))
            processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                          for column in self.statement.selected_columns]
            found = self._compiled[dialect] = (sql, processors)
        return found

    def first(self, connection: Connection, parameters: dict) -> tuple | None:
        """The first row as a tuple, or None."""
        dialect = connection.dialect
        if dialect.name != "postgresql":
            row = connection.execute(self.statement, parameters).first()
            return None if row is None else tuple(row)
        sql, processors = self._compile(dialect)
        raw = connection.connection  # the pool's proxy of the DBAPI connection
        try:
            with raw.cursor() as cursor:
                cursor.execute(sql, parameters)
                row = cursor.fetchone()
        except dialect.loaded_dbapi.Error as error:
            lost = dialect.is_disconnect(error, raw.dbapi_connection, None)
            if lost:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(sql, parameters, error, dialect.loaded_dbapi.Error,
                                          connection_invalidated=lost, dialect=dialect) from error
        if row is None:
            return None
        return tuple(value if process is None else process(value) for process, value in zip(processors, row))
