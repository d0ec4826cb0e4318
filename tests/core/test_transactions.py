"""The request's unit of work (voting/core/db.py), on SQLite and PostgreSQL: a web request
commits once, as its view returns a success, and rolls back an error response or an
exception; `keep_writes` keeps a counted failure, `discard_writes` drops the writes of a
refusal shown as a redirect, `after_commit` runs only once the rows are committed; a
commit that fails gives the error page. Services choose the autocommit connection for
a request's single statement (`single_statement_connection`). No view commits or
rolls back, nor queries, by itself (a source check)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import redirect
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.support.web import text
from voting.core import db as unit_of_work
from voting.core.db import get_session, single_statement_connection
from voting.core.errors import DomainError
from voting.lists.models import Campaign
from voting.staff.models import Role, User
from voting.lists import campaigns
from voting.staff import users

YEAR = 2030
VOTING = Path(__file__).resolve().parents[2] / "voting"


def _years(db) -> list[int]:
    db.rollback()  # a fresh look at what the requests committed
    return list(db.scalars(select(Campaign.year).order_by(Campaign.year)))


@pytest.fixture
def routes(app):
    """Views made for these tests, each writing a campaign through the request's session
    and answering as its name says."""
    seen: dict[str, object] = {}

    def write() -> None:
        campaigns.create_campaign(get_session(), YEAR)

    def success():
        write()
        return redirect("/", 303)

    def refused():
        write()
        return "refused", 422

    def raised():
        write()
        raise DomainError("不行。")

    def kept():
        write()
        unit_of_work.keep_writes()
        return "counted", 401

    def discarded():
        write()
        unit_of_work.discard_writes()
        return redirect("/", 303)

    def later():
        write()
        sessions = app.extensions["pingyi.sessions"]

        def look() -> None:  # from another connection: the row must be committed by now
            with sessions() as other:
                seen["years"] = list(other.scalars(select(Campaign.year)))

        unit_of_work.after_commit(look)
        return ("refused", 409) if "fail" in seen else redirect("/", 303)

    def duplicate():
        # A second campaign of a year already taken: nothing checks it before the
        # commit, whose flush the unique key refuses.
        get_session().add(Campaign(year=YEAR, name="重复", settings={}))
        return redirect("/", 303)

    def connections():
        session = get_session()
        first = single_statement_connection(session)
        session.execute(select(Campaign.id))  # the session's transaction begins
        second = single_statement_connection(session)
        seen["autocommit"] = first is unit_of_work.get_autocommit()
        seen["joined"] = second is session.connection()
        return "", 204

    for view in (success, refused, raised, kept, discarded, later, duplicate, connections):
        app.add_url_rule(f"/_test/{view.__name__}", f"test_{view.__name__}", view, methods=["POST"])
    return seen


def test_a_success_commits_the_writes(client, db, routes):
    assert client.post("/_test/success").status_code == 303
    assert _years(db) == [YEAR]


@pytest.mark.parametrize("path, status", [("/_test/refused", 422), ("/_test/raised", 400)])
def test_an_error_rolls_the_writes_back(client, db, routes, path, status):
    """A view's error response, or its exception (the error page), keeps nothing."""
    response = client.post(path)
    assert response.status_code == status
    assert _years(db) == []


def test_keep_writes_keeps_a_counted_failure(client, db, routes):
    assert client.post("/_test/kept").status_code == 401
    assert _years(db) == [YEAR]


def test_discard_writes_drops_the_writes_of_a_redirect(client, db, routes):
    assert client.post("/_test/discarded").status_code == 303
    assert _years(db) == []


def test_after_commit_runs_once_the_rows_are_committed_and_never_after_a_rollback(client, db, routes):
    assert client.post("/_test/later").status_code == 303
    assert routes["years"] == [YEAR]
    del routes["years"]
    db.execute(Campaign.__table__.delete())
    db.commit()
    routes["fail"] = True
    assert client.post("/_test/later").status_code == 409
    assert "years" not in routes and _years(db) == []


def test_a_commit_that_fails_gives_the_error_page(client, db, routes):
    """The unique key refuses the commit: the app's error page (500, its words, the staff
    headers), not a traceback; the request's session is usable again for the page."""
    campaigns.create_campaign(db, YEAR)
    db.commit()
    response = client.post("/_test/duplicate")
    assert response.status_code == 500
    page = text(response)
    assert "系统错误" in page and "Traceback" not in page and "IntegrityError" not in page
    assert "Content-Security-Policy" in response.headers
    assert _years(db) == [YEAR]
    assert client.post("/_test/success").status_code == 409  # the next request: the year is taken, said so


def test_one_statement_runs_on_the_autocommit_connection_until_the_session_begins(client, routes, db):
    assert client.post("/_test/connections").status_code == 204
    assert routes == {"autocommit": True, "joined": True}
    # Outside a request (a command, a job, a test) a session's work is its own transaction.
    assert single_statement_connection(db) is db.connection()


def test_a_wrong_staff_password_is_counted_although_the_login_fails(client, db):
    """keep_writes in a real view (voting/staff/auth.py): the 401 keeps the account's count."""
    users.create_user(db, "office", PASSWORD, Role.admin)
    db.commit()
    response = client.post("/login", data={"username": "office", "password": "wrong password"})
    assert response.status_code == 401
    db.rollback()
    assert db.scalar(select(User.failed_logins).where(User.username == "office")) == 1


def _code(path: Path) -> str:
    """The file without its comments and docstrings' lines that merely mention a call."""
    return "\n".join(line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())


# Every page of every feature package, the staff login and the blueprints' module.
SOURCES = sorted([*VOTING.glob("*/views.py"), *VOTING.glob("*/*_views.py"), VOTING / "staff" / "auth.py",
                  VOTING / "blueprints.py"])


def test_the_sources_checked_are_every_blueprints_module(app):
    """The check below reads files found by name: every module whose blueprint the app
    registers is among them (a page module moved or renamed is not skipped unseen)."""
    checked = {".".join(path.relative_to(VOTING.parent).with_suffix("").parts) for path in SOURCES}
    assert {blueprint.import_name for blueprint in app.blueprints.values()} <= checked


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(VOTING)))
def test_no_view_commits_rolls_back_or_queries(path):
    """The views (and the staff login) leave the transaction to the request's unit of
    work and the queries to the services."""
    code = _code(path)
    assert not re.findall(r"\.(commit|rollback)\(\)", code)
    assert not re.findall(r"\bselect\(|\.scalars?\(|\.execute\(|get_session\(\)\.get\(", code)
