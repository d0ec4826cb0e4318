"""What the security tests share: a snapshot of every row of every table, the CSRF
token a page carries, and a staff login that passes the CSRF check."""
from __future__ import annotations

import io
import re

import openpyxl

from sqlalchemy import select

from tests.conftest import PASSWORD
from voting.schema import Base
from tests.support.web import text

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order: equal snapshots, nothing stored."""
    db.rollback()
    db.expire_all()
    found = {}
    for table in Base.metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        found[table.name] = [tuple(row) for row in db.execute(select(table).order_by(*order))]
    return found


def changed(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def staff_login(client, username: str, password: str = PASSWORD) -> None:
    """Log in through the form, CSRF token and all (works with WTF_CSRF_ENABLED on or off)."""
    page = client.get("/login")
    data = {"username": username, "password": password}
    found = CSRF_FIELD.search(text(page))
    if found:
        data["csrf_token"] = found.group(1)
    response = client.post("/login", data=data)
    assert response.status_code == 302, text(response)


def workbook(rows: list[list]) -> bytes:
    """An xlsx of these rows. Text stays a text cell, even when it starts with "="
    (openpyxl would write a formula)."""
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    for line in book.active.iter_rows():
        for cell in line:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
