"""Faults for tests/core/test_faults.py, made real where they can be:

- `Provider`: an HTTP server on loopback that speaks enough of Twilio's Messages API
  (create, and list by `To`) for the official `twilio` client, answers as scripted
  (an error status, or accept the request and then stall past the client's timeout)
  and counts every request it received.
- `db_fault`: on the first statement matching a pattern, PostgreSQL itself raises a
  serialization failure or a deadlock (a `DO` block with that SQLSTATE, run on the
  statement's own cursor, so the driver's exception and the transaction's aborted
  state are the real ones), or the statement's backend is really terminated
  (`pg_terminate_backend` from another connection) so that the statement meets a
  dead connection. On SQLite the "serialization" fault is the driver's
  `database is locked` (what a writer gets when the busy timeout runs out). With
  `after=True` the statement runs (and, on an autocommit connection, commits), then
  its backend dies before the answer is read: the ambiguous commit.
"""
from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import NullPool

from tests.conftest import POSTGRES_URL

SPEC = Path(__file__).resolve().parents[1] / "twilio" / "twilio_api_v2010.json"


def spec_example() -> dict:
    """The 201 example of `POST .../Messages.json` in Twilio's own OpenAPI description."""
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    created = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"]["responses"]["201"]
    return created["content"]["application/json"]["examples"]["create"]["value"]


# ---- the SMS provider -----------------------------------------------------------------------


@dataclass(frozen=True)
class Stall:
    """Take the request (it counts as received), then answer nothing for `seconds`
    (or until the server is shut down), then close the connection."""

    seconds: float = 5.0


class Provider(ThreadingHTTPServer):
    """Twilio's Messages API on loopback. `script`: one reply per create request, in
    order: an HTTP status (with Twilio's error body) or a `Stall`; once it is used up
    every create is accepted (201 with the spec's example, a fresh SID each). Every
    create received, whatever the reply, is in `creates` (its form); every request in
    `requests` (method, path)."""

    daemon_threads = True

    def __init__(self, *script: int | Stall, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _ProviderHandler)
        self.script = list(script)
        self.creates: list[dict[str, str]] = []
        self.accepted: list[dict] = []  # what a list request shows: messages taken (201, or taken and stalled)
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.released.set()
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


_ERRORS = {
    500: {"code": 20500, "message": "Internal Server Error", "status": 500},
    503: {"code": 20503, "message": "Service Unavailable", "status": 503},
    429: {"code": 20429, "message": "Too Many Requests", "status": 429},
    400: {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400},
}


class _ProviderHandler(BaseHTTPRequestHandler):
    server: Provider
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        form = dict(parse_qsl(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()))
        server = self.server
        with server.lock:
            server.requests.append(("POST", urlsplit(self.path).path))
            if not urlsplit(self.path).path.endswith("/Messages.json"):
                reply: int | Stall = 404
            else:
                server.creates.append(form)
                reply = server.script.pop(0) if server.script else 201
                created = {**spec_example(), "sid": f"SM{len(server.creates):032x}", "to": form.get("To"),
                           "body": form.get("Body"), "status": "queued"}
                if reply == 201 or isinstance(reply, Stall):
                    server.accepted.append(created)
        if isinstance(reply, Stall):
            server.released.wait(reply.seconds)
            self.close_connection = True
            return
        if reply == 201:
            self._answer(201, created)
        else:
            error = _ERRORS.get(reply, {"code": 20000 + reply, "message": "Refused", "status": reply})
            self._answer(reply, {**error, "more_info": f"https://www.twilio.com/docs/errors/{error['code']}"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        with self.server.lock:
            self.server.requests.append(("GET", parts.path))
            found = [m for m in self.server.accepted if "To" not in query or m["to"] == query["To"]]
        if not parts.path.endswith("/Messages.json"):
            self._answer(404, {"code": 20404, "message": "Not Found", "status": 404})
            return
        self._answer(200, {
            "messages": found, "end": max(0, len(found) - 1), "first_page_uri": parts.path, "next_page_uri": None,
            "page": 0, "page_size": 50, "previous_page_uri": None, "start": 0, "uri": parts.path,
        })

    def log_message(self, format, *args) -> None:  # noqa: A002 (http.server's own signature)
        pass


# ---- database faults ------------------------------------------------------------------------

SERIALIZATION = "serialization"  # SQLSTATE 40001
DEADLOCK = "deadlock"  # SQLSTATE 40P01
DISCONNECT = "disconnect"  # the backend terminated under the statement

_SQLSTATE = {SERIALIZATION: ("40001", "could not serialize access due to concurrent update"),
             DEADLOCK: ("40P01", "deadlock detected")}


def terminate_backend(pid: int) -> None:
    """Terminate a PostgreSQL backend from another connection and wait until it is gone."""
    admin = create_engine(POSTGRES_URL, poolclass=NullPool)
    try:
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
            deadline = time.monotonic() + 10
            while connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar_one():
                assert time.monotonic() < deadline, f"backend {pid} did not go away"
                time.sleep(0.02)
                connection.rollback()
    finally:
        admin.dispose()


def _raise_in(cursor, kind: str, dialect: str) -> None:
    """Make the database raise `kind` on this DBAPI cursor, as it would on its own."""
    if dialect == "sqlite":
        raise sqlite3.OperationalError("database is locked")
    if kind == DISCONNECT:
        terminate_backend(cursor.connection.info.backend_pid)
        return  # the statement itself now meets the dead connection
    state, message = _SQLSTATE[kind]
    cursor.execute(f"DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '{state}', MESSAGE = '{message}'; END $$")


@dataclass
class Fault:
    fired: int = 0
    statements: int = 0  # matching statements seen (fired or not)
    # Each error SQLAlchemy handled meanwhile: (the driver's exception type, whether
    # SQLAlchemy took it for a lost connection and invalidated the pool's connections).
    errors: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def disconnected(self) -> bool:
        return any(lost for _, lost in self.errors)


def _watch(engine: Engine, fault: Fault):
    def handle_error(context) -> None:
        fault.errors.append((type(context.original_exception).__name__, context.is_disconnect))

    event.listen(engine, "handle_error", handle_error)
    return handle_error


@contextmanager
def db_fault(
    engine: Engine, pattern: str, kind: str, *, after: bool = False, times: int = 1, when: Callable[[], bool] = lambda: True,
) -> Iterator[Fault]:
    """Fault the first `times` statements matching `pattern` (a regex, searched in the
    SQL) once `when()` says so: before the statement runs, or (`after`) once it ran and, on an autocommit
    connection, committed, so that its answer is lost (PostgreSQL: the backend is
    terminated and the next thing read from it fails; SQLite: `database is locked`).
    A DISCONNECT on SQLite, which has no connection to lose, is a test error."""
    dialect = engine.dialect.name
    if kind == DISCONNECT and dialect != "postgresql":
        raise AssertionError("a dropped connection needs PostgreSQL")
    found = re.compile(pattern, re.IGNORECASE)
    fault = Fault()

    def hit(statement: str) -> bool:
        if not found.search(statement) or not when():
            return False
        fault.statements += 1
        if fault.fired >= times:
            return False
        fault.fired += 1
        return True

    def before(conn, cursor, statement, parameters, context, executemany):
        if hit(statement):
            _raise_in(cursor, kind, dialect)

    def answer_lost(conn, cursor, statement, parameters, context, executemany):
        if hit(statement):
            if dialect == "sqlite":
                raise sqlite3.OperationalError("disk I/O error")
            terminate_backend(cursor.connection.info.backend_pid)
            cursor.execute("SELECT 1")  # fails: the connection is gone

    listener = ("after_cursor_execute", answer_lost) if after else ("before_cursor_execute", before)
    event.listen(engine, *listener)
    watcher = _watch(engine, fault)
    try:
        yield fault
    finally:
        event.remove(engine, *listener)
        event.remove(engine, "handle_error", watcher)


