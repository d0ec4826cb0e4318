"""Hostile numbers (security review, class A), on SQLite and PostgreSQL: a number
larger than 64 bits, one past PostgreSQL's `integer` (the type of every id column), a
negative one, digits of other scripts that Python's int() or str.isdigit() take ("²",
"٣", "１２"), text, 5,000 digits. Put in every integer part of every route of the
app's URL map, in every query parameter the views read (on every GET route), and in
every form field that carries a number (the ballot's c<id> names too), as the admin
and anonymously: never a 500; the URL's part is 404, the query's parameter 400 naming
it, the form's field refused with the form's own answer; nothing is stored.

One check does it (voting/core/numbers.py): the app's `int` URL converter, query_number
(voting/web/common.py), WholeNumberField (voting/core/forms.py) and the readers' counts.
"""
from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from tests.support.ballots import log_in
from tests.security.common import changed, snapshot, staff_login
from tests.security.world import build, form_for
from voting.core.errors import ImportRejected
from voting.online.models import Evaluator
from voting.components import bundle
from voting.lists import history, sections

BAD = {
    "2**64": str(2**64),
    "10**30": str(10**30),
    "2**31, past PostgreSQL's integer": str(2**31),
    "negative": "-1",
    "superscript two": "²",
    "Arabic-Indic three": "٣",
    "Arabic-Indic five": "٥",
    "full-width twelve": "１２",
    "not a number": "abc",
    "5,000 digits": "9" * 5000,
}
# Every query parameter a view reads (the walk's guard below keeps this complete),
# and a few a view might be expected to read.
QUERY_NAMES = ("page", "unit", "campaign", "section", "round", "year", "sort", "desc", "next", "sms", "call",
               "q", "kind", "status", "list", "action", "actor", "from", "to", "poor",
               "key")  # the consequence a record form is for (voting/scores/consequence_views.py)
# (method, rule): the query parameters it reads as numbers.
READS_NUMBERS = {
    ("GET", "/office/phone/"): ("unit", "section", "page"),
    ("GET", "/office/audit/"): ("campaign", "page"),
    ("GET", "/office/export/phone.xlsx"): ("unit",),
    ("GET", "/office/export/audit.xlsx"): ("campaign",),
    ("GET", "/office/online/"): ("page",),
    ("GET", "/office/components/<kind>"): ("page",),
    **{("POST", rule): ("page",) for rule in (
        "/office/online/sample", "/office/online/accounts", "/office/online/evaluators/<int:evaluator_id>/resend",
        "/office/online/evaluators/<int:evaluator_id>/reissue")},
}
# On a page that reads no number from its query string, a few values, which it leaves
# alone (the walk refuses a 400 from a page missing from READS_NUMBERS).
IGNORED = ("2**64", "negative", "superscript two", "5,000 digits")
NOT_FOUND = "您要找的页面不存在，或已被删除。"
NOT_A_NUMBER = "不是有效的整数。只能用数字 0–9，且不超过 2147483647。"
PART = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
VOTING = Path(__file__).resolve().parents[2] / "voting"


@pytest.fixture
def world(app, db, campaign, admin):
    return build(app, db, campaign, admin)


@pytest.fixture
def staff(app, world):
    client = app.test_client()
    staff_login(client, "admin")
    return client


def int_parts(rule) -> list[str]:
    return [m.group(2) for m in PART.finditer(rule.rule) if m.group(1) == "int"]


def path_of(rule, params: dict, **given) -> str:
    """The rule's path, each part from `given` or else `params` (an id the world has
    none of: 1), as sent (not built by the URL map: its converter would refuse to write
    the hostile values)."""
    values = {**dict.fromkeys(int_parts(rule), 1), **params, **given}
    return PART.sub(lambda m: quote(str(values[m.group(2)]), safe=""), rule.rule)


def methods(rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def page(response) -> str:
    return html.unescape(response.get_data().decode("utf-8", "replace"))  # report.xlsx is a page too


def no_trace(response) -> bool:
    body = response.get_data()
    return b"Traceback" not in body and b"psycopg" not in body and b"sqlalchemy" not in body.lower()


def to_login(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers.get("Location", "")


# ---- the URL's path ---------------------------------------------------------------------------


def test_every_integer_part_of_every_route_refuses_hostile_numbers_with_404(app, db, world, staff):
    params = world.params(db)
    rules = [r for r in app.url_map.iter_rules() if int_parts(r)]
    assert len(rules) >= 20
    anonymous = app.test_client()
    failures, asked = [], 0
    before = snapshot(db)
    for rule in rules:
        for name in int_parts(rule):
            for kind, value in BAD.items():
                path = path_of(rule, params, **{name: value})
                for method in methods(rule):
                    for who, client in (("admin", staff), ("anonymous", anonymous)):
                        data = form_for(world, rule.rule) if method == "POST" else None
                        response = client.open(path, method=method, data=data)
                        asked += 1
                        if response.status_code != 404 or NOT_FOUND not in page(response) or not no_trace(response):
                            failures.append(f"{who} {method} {rule.rule} {name}={kind}: {response.status_code}")
    assert failures == [], "\n".join(failures)
    assert changed(before, snapshot(db)) == []
    assert asked >= 20 * len(BAD) * 2
    # The ordinary ids, a leading zero too, still open their pages.
    for path in (f"/office/rounds/{world.survey_id}", f"/office/rounds/0{world.survey_id}",
                 f"/office/imports/{world.import_id}", f"/office/supervisor/{world.unit_id}",
                 f"/office/phone/{world.invitations[0].id}"):
        assert staff.get(path).status_code == 200, path


# ---- the query string -------------------------------------------------------------------------


def test_every_get_route_with_hostile_numbers_in_its_query_never_fails(app, db, world, staff):
    """Every query parameter at once, on every GET route: the views that read one as a
    number say 400 (anonymous: the login first); the others ignore them."""
    read = set()
    for source in VOTING.rglob("*.py"):
        read |= set(re.findall(r'(?:request\.args\.get|query_number|filters\.(?:text|choice|number)|_query_(?:text|date))'
                               r'\(\s*"(\w+)"', source.read_text()))
    assert read and read <= set(QUERY_NAMES), read - set(QUERY_NAMES)  # the walk asks for them all
    params = world.params(db)
    anonymous = app.test_client()
    failures = []
    before = snapshot(db)
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = path_of(rule, params)
        numbers = READS_NUMBERS.get(("GET", rule.rule), ())
        for kind, value in (BAD if numbers else {k: BAD[k] for k in IGNORED}).items():
            query = urlencode(dict.fromkeys(QUERY_NAMES, value))
            for who, client in (("admin", staff), ("anonymous", anonymous)):
                response = client.get(f"{path}?{query}")
                shown = f"{who} GET {rule.rule} ={kind}: {response.status_code}"
                if response.status_code == 500 or not no_trace(response) or numbers and who == "admin" and (response.status_code != 400 or NOT_A_NUMBER not in page(response)) or numbers and who == "anonymous" and not to_login(response):
                    failures.append(shown)
                elif not numbers and NOT_A_NUMBER in page(response):
                    failures.append(f"{shown}: reads a number from its query, not in READS_NUMBERS")
    assert failures == [], "\n".join(failures)
    assert changed(before, snapshot(db)) == []


@pytest.mark.parametrize("route", sorted(READS_NUMBERS), ids="{0[0]} {0[1]}".format)
def test_a_query_number_is_refused_by_name_and_nothing_runs(app, db, world, staff, route):
    method, rule = route
    path = path_of(next(r for r in app.url_map.iter_rules() if r.rule == rule and method in r.methods), world.params(db))
    before = snapshot(db)
    for name in READS_NUMBERS[route]:
        for kind, value in BAD.items():
            response = staff.open(f"{path}?{urlencode({name: value})}", method=method)
            body = page(response)
            assert response.status_code == 400, (name, kind, response.status_code)
            assert f"地址中的参数 {name} {NOT_A_NUMBER}请检查链接后重试。" in body, (name, kind)
            assert changed(before, snapshot(db)) == [], (name, kind)
    if method == "GET":  # the ordinary values still work: empty is "all", 0 the first page
        for name in READS_NUMBERS[route]:
            for value in ("", "0", "2", str(world.campaign_id if name == "campaign" else world.unit_id)):
                assert staff.get(f"{path}?{urlencode({name: value})}").status_code == 200, (name, value)


# ---- forms ------------------------------------------------------------------------------------


def form_cases(world) -> list[tuple[str, str, dict, int, set[str]]]:
    """(path, field, the rest of the form, the answer to a refused number, the values
    the form takes after all). The components' entry forms are read as their files are:
    full-width digits (and NFKC's other digits, "²") fold to ASCII, as in Excel cells."""
    section = str(world.section_id)
    votes = {"section": section, "round": "H1", "satisfied": "1", "basic": "1", "unsatisfied": "1"}
    rounds = form_for(world, "/office/rounds/")
    folded = {BAD["full-width twelve"], BAD["superscript two"]}
    return [
        ("/office/campaigns", "year", {}, 302, set()),  # back to the dashboard, the reason flashed
        ("/office/rounds/", "sample_size", rounds, 422, set()),
        ("/office/rounds/", "reminder_after_hours", rounds, 422, set()),
        *[("/office/components/votes/entries", field, votes, 422, folded)
          for field in ("satisfied", "basic", "unsatisfied")],
        ("/office/components/votes/entries", "section", votes, 422, set()),
        ("/office/users/", "unit", {"username": "newuser", "role": "operator"}, 400, set()),
    ]


def test_every_number_field_of_the_office_forms_refuses_hostile_numbers(db, world, staff):
    failures = []
    for path, field, rest, status, taken in form_cases(world):
        before = snapshot(db)
        for kind, value in {**BAD, "Arabic-Indic 2022": "٢٠٢٢"}.items():
            if value in taken:
                continue
            response = staff.post(path, data={**rest, field: value}, follow_redirects=status == 302)
            expected = 200 if status == 302 else status  # the page redirected to
            if response.status_code != expected or not no_trace(response):
                failures.append(f"{path} {field}={kind}: {response.status_code}")
            elif field in ("year", "sample_size", "reminder_after_hours") and NOT_A_NUMBER not in page(response):
                failures.append(f"{path} {field}={kind}: the page does not say why")
        if changed(before, snapshot(db)):
            failures.append(f"{path} {field}: stored {changed(before, snapshot(db))}")
    assert failures == [], "\n".join(failures)


def test_a_ballot_field_named_with_a_hostile_number_is_refused_with_400(app, db, world):
    """c<id> where the id is digits of another script, or past the id columns: 400 with
    the field named, nothing stored, the evaluator still logged in. (A name that is not
    FIELD and digits, "c-1", "cabc", is not a candidate's field, like csrf_token.)"""
    client = app.test_client()
    log_in(client, db.get(Evaluator, world.evaluator_ids[0]))
    before = snapshot(db)
    for kind, value in BAD.items():
        if not value.isdigit():
            continue
        response = client.post("/e/ballot", data={**world.ballot, f"c{value}": "basic"})
        body = page(response)
        assert response.status_code == 400 and no_trace(response), (kind, response.status_code)
        assert f"选票中的“c{value[:39]}”不是有效的候选科室，请刷新页面后重新提交。" in body, kind
        assert changed(before, snapshot(db)) == [], kind
    with client.session_transaction() as session:
        assert session["evaluator"] == world.evaluator_ids[0]
    # The same ballot without the stray field is taken.
    assert client.post("/e/ballot", data=world.ballot).status_code == 303


# ---- one way ----------------------------------------------------------------------------------


def test_no_view_or_form_reads_a_number_its_own_way(app):
    """The views and forms read numbers from requests through voting/core/numbers.py only."""
    own_ways = re.compile(r"type=int\b|int\(request\.|IntegerField\(")
    sources = [VOTING / "core" / "forms.py", VOTING / "staff" / "auth.py", *VOTING.glob("*/views.py"),
               *VOTING.glob("*/*_views.py")]
    registered = {blueprint.import_name for blueprint in app.blueprints.values()}  # none skipped unseen
    assert registered <= {".".join(s.relative_to(VOTING.parent).with_suffix("").parts) for s in sources}
    found = [f"{source.relative_to(VOTING)}: {line.strip()}"
             for source in sources
             for line in source.read_text().splitlines() if own_ways.search(line) and "class " not in line]
    assert found == []


# ---- imported cells ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["፩", str(2**31), str(2**64)])
def test_a_hostile_number_in_an_imported_cell_refuses_its_row(value):
    """The readers' whole numbers (a section list's numbers, a history's years, vote
    counts, which the votes entry form shares) take the same check: a bad row, named;
    "፩" (Ethiopic one: str.isdigit() says yes, int() raises) once failed the import
    whole, and a count past the column's range failed in the database."""
    files = {
        "sections": (sections.parse_sections, f"单位序号,单位名称,科室序号,科室\n{value},某局,1,办公室\n", "A 列"),
        "history": (history.parse_history, f"年度,单位名称,科室,结果\n{value},某局,办公室,满意单位\n", "A 列"),
        "votes": (bundle.parse_votes, f"单位名称,科室,轮次,满意,基本满意,不满意\n某局,办公室,H1,{value},1,1\n", "D 列"),
    }
    for kind, (parse, csv_text, column) in files.items():
        with pytest.raises(ImportRejected) as refused:
            parse(csv_text.encode(), f"{kind}.csv")
        assert [(e.row, e.column.split("（")[0]) for e in refused.value.errors] == [(2, column)], kind
