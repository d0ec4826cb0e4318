"""The online round's ballot (docs/rules.md §4), on SQLite and PostgreSQL: every
candidate in a neutral order with 基本满意 preselected; exactly 10 满意 and 10 不满意,
checked on the server with a clear message and nothing stored; the one ballot per
evaluator (100 parallel submits on PostgreSQL); secrecy (no path from an evaluator to
a ballot, hours only, random ids, nothing logged); the receipt and its public check."""
from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, update
from werkzeug.datastructures import MultiDict

from scoring import labels as L
from tests.support.ballots import PASSWORD, box, candidates, counts, evaluators, form, log_in, marks, open_online_round
from voting.online.models import Ballot, BallotCast, BallotMark, Evaluator, EvaluatorKind, OnlineRound, PendingBallot
from voting.schema import Base
from voting.survey.models import Choice, RoundStatus
from voting.lists.models import Section
from voting.core.models import utcnow
from voting.online import ballots
from voting.online.ballots import (
    AlreadyCastError,
    DuplicateCandidateError,
    MissingCandidateError,
    OnlineRoundClosedError,
    UnknownCandidateError,
    WrongCountError,
)

DONE = "选票已提交"


@pytest.fixture
def online(db, campaign) -> OnlineRound:
    return open_online_round(db, campaign)


@pytest.fixture
def voter(db, online) -> Evaluator:
    return evaluators(db, online)[0]


def text(response) -> str:
    return response.get_data(as_text=True)


def private(response) -> bool:
    return response.headers.get("Referrer-Policy") == "no-referrer" and response.headers.get("Cache-Control") == "no-store"


def in_session(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


def password_hash(db, evaluator: Evaluator) -> str | None:
    db.rollback()
    db.expire_all()  # rollback() outside a transaction expires nothing
    return db.get(Evaluator, evaluator.id).password_hash


# ---- the page ---------------------------------------------------------------------------------


def test_a_visitor_without_a_login_is_sent_to_the_login(client, db, online):
    for method in (client.get, client.post):
        response = method("/e/ballot")
        assert response.status_code == 303 and response.headers["Location"] == "/e/login"
    assert counts(db) == (0, 0, 0)


def test_the_ballot_lists_every_candidate_in_unit_order_with_basic_preselected(client, db, online, voter):
    log_in(client, voter)
    response = client.get("/e/ballot")
    body = text(response)
    assert response.status_code == 200 and private(response)
    found = candidates(db, online)
    assert len(found) == 30
    # The neutral order: by unit number, then section number (the fixed list was stored shuffled).
    numbers = [(db.get(Section, c.section_id).unit.number, db.get(Section, c.section_id).number) for c in found]
    assert numbers == sorted(numbers)
    ids = [int(i) for i in re.findall(r'<li class="candidate" id="candidate-(\d+)"', body)]
    assert ids == [c.section_id for c in found]
    for c in found:
        for choice in Choice:
            assert f'name="c{c.section_id}" id="c{c.section_id}-{choice.value}" value="{choice.value}"' in body
    checked = re.findall(r'value="(\w+)" checked', body)
    assert checked == ["basic"] * 30  # 基本满意 preselected, nothing else
    # No category or list is shown.
    for word in [*(L.label(L.SHORTLISTS, code) for code in L.SHORTLISTS), *L.SHORTLISTS, "候选类别"]:
        assert word not in body
    assert "恰好 10 个" in body
    assert re.search(r'<script src="/static/ballot\.js" defer></script>', body) and "<script>" not in body
    assert 'data-satisfied="10" data-unsatisfied="10"' in body
    assert counts(db) == (0, 0, 0)  # a GET stores nothing


def test_a_reimported_section_order_reaches_the_page_within_the_freshness_window(client, db, online, voter, monkeypatch):
    """Each process keeps an open round's candidate list (the ids cannot change while
    the round is open); names and order from a re-imported section list show once
    CANDIDATES_FRESH_SECONDS have passed."""
    from voting.online import ballot_views as view

    def order(response) -> list[int]:
        return [int(i) for i in re.findall(r'<li class="candidate" id="candidate-(\d+)"', text(response))]

    log_in(client, voter)
    before = order(client.get("/e/ballot"))
    first = db.get(Section, before[0]).unit
    first.number = 10_000  # the office moves the first unit to the end of the list
    db.commit()
    assert order(client.get("/e/ballot")) == before  # still the list this process read
    clock = view.time.monotonic() + view.CANDIDATES_FRESH_SECONDS + 1
    monkeypatch.setattr(view.time, "monotonic", lambda: clock)
    after = order(client.get("/e/ballot"))
    moved = [sid for sid in before if db.get(Section, sid).unit_id == first.id]
    assert sorted(after) == sorted(before) and after == [sid for sid in before if sid not in moved] + moved


def test_the_counts_follow_the_campaign_settings_and_the_candidates(db, campaign):
    online = open_online_round(db, campaign, candidates=15)
    assert ballots.ballot_rules(online.campaign.rules, 15) == ballots.BallotRules(10, 5)
    assert ballots.ballot_rules(online.campaign.rules, 6) == ballots.BallotRules(6, 0)
    campaign.settings = {**campaign.settings, "ballot_satisfied": 3, "ballot_unsatisfied": 2}
    db.commit()
    assert ballots.ballot_rules(campaign.rules, 15) == ballots.BallotRules(3, 2)


# ---- a valid ballot ------------------------------------------------------------------------------


def test_a_valid_ballot_is_stored_once_without_the_evaluator(client, db, online, voter, caplog):
    caplog.set_level(logging.DEBUG)
    log_in(client, voter)
    found = candidates(db, online)
    chosen = marks(found, offset=3)
    response = client.post("/e/ballot", data=form(chosen))
    assert response.status_code == 303 and response.headers["Location"] == "/e/done" and private(response)
    assert counts(db) == (1, 30, 1)
    # In the ballot box only with others (ballots.BATCH): until then, sealed.
    assert db.scalars(select(Ballot)).all() == []
    [sealed] = db.scalars(select(PendingBallot.sealed))
    assert sealed.startswith("p1.") and not {"satisfied", "basic"} & set(re.split(r"\W", sealed))
    box(db, online)
    assert db.scalars(select(PendingBallot)).all() == []
    [ballot] = db.scalars(select(Ballot))
    stored = {m.section_id: m.choice.value for m in db.scalars(select(BallotMark))}
    assert stored == chosen
    assert re.fullmatch(r"[0-9a-f]{32}", ballot.id) and ballot.batch == 1
    cast = db.get(BallotCast, voter.id)
    assert (cast.cast_hour.minute, cast.cast_hour.second, cast.cast_hour.microsecond) == (0, 0, 0)
    assert password_hash(db, voter) is None  # the password is consumed
    # The browser is logged out and keeps only the receipt.
    assert set(in_session(client)) & {"evaluator", "evaluator_seen"} == set()
    done = client.get("/e/done")
    assert done.status_code == 200 and DONE in text(done) and private(done)
    shown = re.search(r'<p class="receipt" id="receipt">([^<]+)</p>', text(done)).group(1)
    assert re.fullmatch(r"(\w{4} ){3}\w{4}", shown) and shown.replace(" ", "") == ballot.receipt
    assert ballots.audit_box(db, online).altered == 0
    # Nothing logged names the ballot, its receipt or the evaluator.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (ballot.id, ballot.receipt, voter.login, voter.name):
        assert secret not in logged


def test_a_second_ballot_is_refused(client, db, online, voter):
    log_in(client, voter)
    found = candidates(db, online)
    assert client.post("/e/ballot", data=form(marks(found))).status_code == 303
    # Another tab still logged in: the page and a second send both say it is in.
    log_in(client, voter)
    page = client.get("/e/ballot")
    assert page.status_code == 409 and "已经提交" in text(page)
    again = client.post("/e/ballot", data=form(marks(found, offset=5)))
    assert again.status_code == 409 and "已经提交" in text(again) and private(again)
    assert counts(db) == (1, 30, 1)
    with pytest.raises(AlreadyCastError):
        ballots.submit_ballot(db, db.get(Evaluator, voter.id), [(c.section_id, Choice.basic) for c in found])


def bad_ballots():
    """(name, how to spoil a valid form, the message)"""
    def recount(s: int, u: int):
        return lambda found, data: form(marks(found, s, u))

    def add_unknown(found, data):
        return {**data, "c999999": "basic"}

    def drop_one(found, data):
        data = dict(data)
        data.pop(f"c{found[-1].section_id}")
        return data

    def bad_value(found, data):
        return {**data, f"c{found[-1].section_id}": "excellent"}

    return [
        ("11 satisfied", recount(11, 9), "“满意”须恰好选 10 个，现在选了 11 个"),
        ("9 satisfied", recount(9, 10), "“满意”须恰好选 10 个，现在选了 9 个"),
        ("11 unsatisfied", recount(10, 11), "“不满意”须恰好选 10 个，现在选了 11 个"),
        ("not on the ballot", add_unknown, "不在候选名单上"),
        ("one missing", drop_one, "还没有评价"),
        ("not a choice", bad_value, "只能选“满意”“基本满意”或“不满意”中的一项"),
    ]


@pytest.mark.parametrize("name, spoil, message", bad_ballots(), ids=[b[0] for b in bad_ballots()])
def test_a_ballot_that_breaks_the_rules_stores_nothing(client, db, online, voter, name, spoil, message):
    log_in(client, voter)
    found = candidates(db, online)
    data = spoil(found, form(marks(found)))
    response = client.post("/e/ballot", data=data)
    body = text(response)
    assert response.status_code == 422 and message in body and 'role="alert"' in body and private(response)
    assert counts(db) == (0, 0, 0) and password_hash(db, voter) is not None
    assert in_session(client)["evaluator"] == voter.id  # still logged in, to correct it
    # What was sent is shown again, not the preselection.
    if name == "11 satisfied":
        assert len(re.findall(r'value="satisfied" checked', body)) == 11


def test_a_candidate_twice_stores_nothing(client, db, online, voter):
    """Under two names (c7 and c07): the same field twice is refused before the ballot
    is read (tests/security/test_repeated_fields.py)."""
    log_in(client, voter)
    found = candidates(db, online)
    data = MultiDict(form(marks(found)))
    data.add(f"c0{found[0].section_id}", "basic")
    response = client.post("/e/ballot", data=data)
    assert response.status_code == 422 and "不止一次" in text(response) and found[0].section in text(response)
    assert counts(db) == (0, 0, 0) and password_hash(db, voter) is not None


def test_the_service_names_each_refusal(db, online, voter):
    found = candidates(db, online)
    valid = [(sid, Choice(v)) for sid, v in marks(found).items()]
    cases = [
        (valid + [(999999, Choice.basic)], UnknownCandidateError),
        (valid + [valid[0]], DuplicateCandidateError),
        (valid[1:], MissingCandidateError),
        ([(sid, Choice(v)) for sid, v in marks(found, 11, 9).items()], WrongCountError),
    ]
    for given, error in cases:
        with pytest.raises(error):
            ballots.submit_ballot(db, voter, given)
        db.rollback()
    assert counts(db) == (0, 0, 0)


def test_a_closed_round_takes_no_ballot(db, online, voter):
    found = candidates(db, online)
    valid = [(sid, Choice(v)) for sid, v in marks(found).items()]
    db.execute(update(OnlineRound).where(OnlineRound.id == online.id).values(closes_at=utcnow() - timedelta(minutes=1)))
    db.commit()
    with pytest.raises(OnlineRoundClosedError):
        ballots.submit_ballot(db, db.get(Evaluator, voter.id), valid)
    db.rollback()
    db.execute(update(OnlineRound).where(OnlineRound.id == online.id).values(
        closes_at=utcnow() + timedelta(days=1), status=RoundStatus.closed))
    db.commit()
    with pytest.raises(OnlineRoundClosedError):
        ballots.submit_ballot(db, db.get(Evaluator, voter.id), valid)
    assert counts(db) == (0, 0, 0)


def test_without_a_session_a_get_of_done_shows_no_receipt(client, online):
    response = client.get("/e/done")
    assert response.status_code == 404 and "没有回执" in text(response)


# ---- secrecy ---------------------------------------------------------------------------------------

BALLOT_TABLES = {"ballot", "ballot_mark", "pending_ballot"}
PERSON_TABLES = {"evaluator", "ballot_cast", "user", "service_object", "invitation", "sms_outbox", "sms_console"}


def test_no_column_or_foreign_key_leads_from_an_evaluator_to_a_ballot(app, db, online, voter, client):
    """In the models and in the database as created: the ballot tables refer only to
    the round, the sections and each other; nothing refers to them but their marks;
    they have no person, session or exact time; "has voted" names no ballot."""
    log_in(client, voter)
    assert client.post("/e/ballot", data=form(marks(candidates(db, online)))).status_code == 303
    box(db, online)
    database = inspect(app.extensions["pingyi.engine"])
    for name in BALLOT_TABLES:
        model_refs = {fk.column.table.name for fk in Base.metadata.tables[name].foreign_keys}
        db_refs = {fk["referred_table"] for fk in database.get_foreign_keys(name)}
        assert model_refs == db_refs
        assert model_refs <= {"online_round", "section", "ballot"}
        columns = {c["name"] for c in database.get_columns(name)}
        assert columns == {c.name for c in Base.metadata.tables[name].columns}
        for word in ("evaluator", "session", "user", "login", "phone", "ip", "created", "at"):
            assert not [c for c in columns if word in c.split("_")], (name, word)
    referring = {
        table: {fk["referred_table"] for fk in database.get_foreign_keys(table)} for table in database.get_table_names()
    }
    assert {t for t, refs in referring.items() if refs & BALLOT_TABLES} == {"ballot_mark"}
    for table in PERSON_TABLES:
        assert not referring[table] & BALLOT_TABLES, table
    assert {c["name"] for c in database.get_columns("ballot_cast")} == {"evaluator_id", "round_id", "cast_hour"}
    # Times: none on a ballot, the hour on "has voted".
    for name in BALLOT_TABLES:
        assert not [c for c in database.get_columns(name) if "hour" in c["name"] or "time" in str(c["type"]).lower()]
    db.rollback()
    for hour in db.scalars(select(BallotCast.cast_hour)):
        assert (hour.minute, hour.second, hour.microsecond) == (0, 0, 0)


def test_ballot_ids_are_random_not_in_order(db, campaign):
    online = open_online_round(db, campaign, kinds={kind: 4 for kind in list(EvaluatorKind)[:2]})
    found = candidates(db, online)
    for i, evaluator in enumerate(evaluators(db, online)):
        ballots.submit_ballot(db, evaluator, [(sid, Choice(v)) for sid, v in marks(found, offset=i).items()])
        db.commit()
    box(db, online)
    ids = list(db.scalars(select(Ballot.id)))
    receipts = list(db.scalars(select(Ballot.receipt)))
    assert len(set(ids)) == len(set(receipts)) == 8
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert all(ballots.is_receipt(r) for r in receipts)


def test_an_altered_mark_no_longer_gives_its_receipt(db, online, voter, runner):
    """The auditors' check of the box (`pingyi audit ballots`): every receipt recomputed
    from its ballot's marks and salt; a mark changed in the database shows, and the
    command exits 1."""
    def audit() -> tuple[int, str]:
        result = runner.invoke(args=["audit", "ballots", "--year", str(online.campaign.year)])
        return result.exit_code, result.output.strip()

    year = online.campaign.year
    assert audit() == (0, f"{year} 年度网络评价票箱中还没有选票。")
    found = candidates(db, online)
    ballots.submit_ballot(db, voter, [(sid, Choice(v)) for sid, v in marks(found).items()])
    db.commit()
    assert ballots.audit_box(db, online) == ballots.BoxAudit(ballots=0, altered=0, sealed=1)
    assert audit() == (0, f"{year} 年度网络评价票箱中还没有选票。另有 1 张选票仍加密封存、等待放入票箱，未核对。")
    box(db, online)
    assert ballots.audit_box(db, online) == ballots.BoxAudit(ballots=1, altered=0, sealed=0)
    assert audit() == (0, f"{year} 年度网络评价票箱核对无误：1 张选票的选择都与回执码相符。")
    mark = db.scalars(select(BallotMark).where(BallotMark.choice == Choice.satisfied).limit(1)).one()
    mark.choice = Choice.unsatisfied
    db.commit()
    assert ballots.audit_box(db, online) == ballots.BoxAudit(ballots=1, altered=1, sealed=0)
    assert audit() == (1, f"{year} 年度网络评价票箱中的 1 张选票里，有 1 张的选择与回执码不符：这些选票在投入票箱后被改动过。")


def test_the_box_audit_names_a_year_without_an_online_round(runner, campaign):
    result = runner.invoke(args=["audit", "ballots"])
    assert result.exit_code == 1 and f"{campaign.year} 年度还没有网络评价" in result.output


def test_one_hundred_parallel_submits_make_one_ballot(app, db, online, voter):
    """The "has voted" row's primary key decides between all 100: one ballot, the
    others a clear 409, no 500."""
    if app.extensions["pingyi.engine"].dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the concurrent-submit race is a PostgreSQL test")
    data = form(marks(candidates(db, online)))
    clients = [app.test_client() for _ in range(100)]
    for c in clients:
        log_in(c, voter)
    start = threading.Barrier(len(clients), timeout=60)

    def submit(c):
        start.wait()
        return c.post("/e/ballot", data=data).status_code

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        statuses = Counter(pool.map(submit, clients))
    assert statuses[303] == 1 and set(statuses) == {303, 409}, statuses
    assert counts(db) == (1, 30, 1)
    assert password_hash(db, voter) is None


def _checked(online: OnlineRound, found: list[ballots.BallotCandidate]) -> dict[int, Choice]:
    rules = ballots.ballot_rules(online.campaign.rules, len(found))
    return ballots.check_marks(found, rules, [(sid, Choice(v)) for sid, v in marks(found).items()])


def test_store_ballot_decides_in_the_database(db, online, voter):
    """store_ballot, whatever the caller read before: a second ballot of the same
    evaluator is refused, and so is any ballot once the round is closed (the first
    one's refusal says it is in); each refusal stores nothing."""
    chosen = _checked(online, candidates(db, online))
    ballots.store_ballot(db, voter.id, online.id, chosen)
    db.commit()
    with pytest.raises(ballots.AlreadyCastError):
        ballots.store_ballot(db, voter.id, online.id, chosen)
    db.rollback()
    assert counts(db) == (1, 30, 1)
    db.execute(update(OnlineRound).where(OnlineRound.id == online.id)
               .values(status=RoundStatus.closed, closed_at=utcnow()))
    db.commit()
    other = next(e for e in db.scalars(select(Evaluator).where(Evaluator.round_id == online.id)) if e.id != voter.id)
    with pytest.raises(ballots.OnlineRoundClosedError):
        ballots.store_ballot(db, other.id, online.id, chosen)
    with pytest.raises(ballots.AlreadyCastError):
        ballots.store_ballot(db, voter.id, online.id, chosen)
    db.rollback()
    assert counts(db) == (1, 30, 1)
    assert password_hash(db, other) is not None


def test_a_close_waits_for_a_ballot_being_stored_and_counts_it(app, db, online, voter):
    """A close started while a ballot is being stored (its transaction held open
    here) waits for it, and counts it: the ballot's statement holds the round's row
    (read FOR SHARE, and referenced by the rows it inserts)."""
    engine = app.extensions["pingyi.engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no row locks: a close and a ballot are serialised by its one writer")
    chosen = _checked(online, candidates(db, online))
    sessions = app.extensions["pingyi.sessions"]
    closed: dict[str, int] = {}

    def close() -> None:
        with sessions() as office:
            closed["ballots"] = ballots.close(office, office.get(OnlineRound, online.id), actor="test")
            office.commit()

    with sessions() as storing:  # its transaction open until the commit below
        ballots.store_ballot(storing, voter.id, online.id, chosen)
        closing = threading.Thread(target=close)
        closing.start()
        closing.join(1.0)
        assert closing.is_alive()  # waiting for the ballot being stored
        storing.commit()
    closing.join(30)
    assert not closing.is_alive() and closed["ballots"] == 1 and counts(db) == (1, 30, 1)


def test_a_ballot_stored_while_a_close_is_under_way_waits_and_is_refused(app, db, online, voter):
    """The other way round: the close's transaction holds the round; the ballot's
    statement, reading it FOR SHARE, waits for it, then sees the round closed and
    stores nothing (without FOR SHARE it would read the round as still open)."""
    engine = app.extensions["pingyi.engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no row locks: a close and a ballot are serialised by its one writer")
    chosen = _checked(online, candidates(db, online))
    refused: list[Exception] = []

    def store() -> None:
        with app.extensions["pingyi.sessions"]() as session:
            try:
                ballots.store_ballot(session, voter.id, online.id, chosen)
                session.commit()
            except ballots.OnlineRoundClosedError as error:
                refused.append(error)

    with engine.connect() as closing:
        closing.begin()
        closing.execute(update(OnlineRound).where(OnlineRound.id == online.id)
                        .values(status=RoundStatus.closed, closed_at=utcnow()))
        storing = threading.Thread(target=store)
        storing.start()
        storing.join(1.0)
        assert storing.is_alive()  # waiting for the close
        closing.commit()
    storing.join(30)
    assert not storing.is_alive() and len(refused) == 1 and counts(db) == (0, 0, 0)
    assert password_hash(db, voter) is not None


# ---- the receipt check ----------------------------------------------------------------------------


def cast(client, db, online, voter) -> str:
    log_in(client, voter)
    assert client.post("/e/ballot", data=form(marks(candidates(db, online)))).status_code == 303
    return re.search(r'id="receipt">([^<]+)<', text(client.get("/e/done"))).group(1)


def test_the_receipt_check_says_received_then_counted(client, db, online, voter):
    shown = cast(client, db, online, voter)
    page = client.get("/receipt")
    assert page.status_code == 200 and 'method="post"' in text(page) and private(page)
    # As typed on a phone: lower case, without the spaces.
    found = client.post("/receipt", data={"code": shown.replace(" ", "").lower()})
    body = text(found)
    assert found.status_code == 200 and "已收到" in body and shown in body
    for c in candidates(db, online)[:5]:
        assert c.section not in body  # never the ballot's content
    ballots.close(db, db.get(OnlineRound, online.id), actor="test")  # moves the sealed ballot into the box
    db.commit()
    counted = client.post("/receipt", data={"code": shown})
    assert counted.status_code == 200 and "已计入" in text(counted)


@pytest.mark.parametrize("typed, status, message", [
    ("2345 6789 ABCD EFGH", 404, "没有找到这个回执码"),
    ("ABC", 422, "回执码是 16 位字母和数字"),
    ("", 422, "请输入 16 位回执码"),
])
def test_a_receipt_that_is_not_there(client, online, typed, status, message):
    response = client.post("/receipt", data={"code": typed})
    assert response.status_code == status and message in text(response)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_receipt_checks_are_rate_limited(client, online, app_config):
    statuses = [client.post("/receipt", data={"code": "2345 6789 ABCD EFGH"}).status_code for _ in range(31)]
    assert statuses == [404] * 30 + [429]
    assert client.get("/receipt").status_code == 200  # the form itself is not counted


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_posts_need_the_csrf_token(client, db, online, voter, app_config):
    log_in(client, voter)
    response = client.post("/e/ballot", data=form(marks(candidates(db, online))))
    assert response.status_code == 400 and "页面已过期" in text(response)
    assert counts(db) == (0, 0, 0) and password_hash(db, voter) is not None
    assert client.post("/receipt", data={"code": "2345 6789 ABCD EFGH"}).status_code == 400


def test_the_login_contract_with_a_real_login(client, db, online, voter):
    """Through voting.online.evaluator_views's login: it lands on the ballot; after the ballot
    the same password no longer logs in."""
    response = client.post("/e/login", data={"login": voter.login, "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/e/ballot"
    assert client.post("/e/ballot", data=form(marks(candidates(db, online)))).status_code == 303
    again = client.post("/e/login", data={"login": voter.login, "password": PASSWORD})
    assert again.status_code != 303 and counts(db) == (1, 30, 1)
