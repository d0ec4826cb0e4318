"""Faults (the hardening issue): the SMS provider answering 500, 503, 429 or 400, or
taking a message and then timing out; a dispatch worker dying after the provider took
a message; PostgreSQL serialization failures, deadlocks and dropped connections (and
SQLite's "database is locked") during a citizen's vote, an evaluator's ballot and the
online round's close and scoring. Each one is retried or refused, never lost or
doubled, and nobody sees a stack trace.

The provider is a real HTTP server on loopback (tests/support/faults.py) that the official
`twilio` client talks to through `TwilioSender(base_url=...)`, as in
tests/outbox/test_sms_senders.py; the database faults are raised by PostgreSQL itself (a
`DO` block with the SQLSTATE, on the statement's own cursor) or are a backend really
terminated with `pg_terminate_backend`. A fault that needs PostgreSQL skips on SQLite
with the reason."""
from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, time, timedelta

import pandas as pd
import pytest
from sqlalchemy import exc, func, select

from scoring import columns as C
from sms.senders import OneAtATime, TwilioSender
from sms.templates import INVITE_LINK
from tests.support.ballots import PASSWORD as EVALUATOR_PASSWORD
from tests.support.ballots import (
    ballots_in,
    candidates,
    counts,
    evaluators,
    form,
    held_round,
    log_in,
    marks,
    open_online_round,
)
from tests.support.citizens import invitations, link_path, open_round, vote_count, votes
from tests.support.faults import (
    DEADLOCK,
    DISCONNECT,
    SERIALIZATION,
    Provider,
    Stall,
    db_fault,
)
from voting.audit.models import AuditEntry
from voting.survey.models import Choice, RoundStatus
from voting.online.models import OnlineRound
from voting.outbox.models import OutboxMessage, OutboxStatus
from voting.online import ballots
from voting.outbox import outbox
from voting.scores import scorecards
from voting.outbox.outbox import DispatchSettings, dispatch, enqueue
from tests.support.web import text

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
ANY_TIME = {"window_start": time(0, 0), "window_end": time(0, 0), "daily_cap": 0}
MORNING = datetime(2021, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NO_TRACE = ("Traceback", 'File "', "sqlalchemy", "psycopg", "sqlite3", "OperationalError", "SerializationFailure")


# ---- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def app_config() -> dict:
    """As in production (tests/conftest.py's app is TESTING, which re-raises): an
    exception that escapes even the error handlers becomes Werkzeug's bare 500 page,
    so each test sees the response a person would get."""
    return {"PROPAGATE_EXCEPTIONS": False}


def engine_of(app):
    return app.extensions["pingyi.engine"]


def autocommit_engine_of(app):
    """Where the single-statement writes run (voting.core.db.get_autocommit): a citizen's
    vote, and on PostgreSQL an evaluator's ballot."""
    return app.extensions["pingyi.autocommit"]


def ballot_engine_of(app):
    """Where an evaluator's ballot is stored: one statement on the autocommit
    connection on PostgreSQL, the session's transaction on SQLite."""
    engine = engine_of(app)
    return autocommit_engine_of(app) if engine.dialect.name == "postgresql" else engine


def sessions(app):
    return app.extensions["pingyi.sessions"]


def needs(database_url: str, kind: str) -> None:
    """Skip a fault that has no meaning on SQLite."""
    if database_url.startswith("sqlite"):
        if kind == DISCONNECT:
            pytest.skip("SQLite is a file opened in the process: there is no server connection to drop")
        if kind == DEADLOCK:
            pytest.skip("SQLite detects no deadlocks: a blocked writer waits out its busy timeout and gets "
                        "'database is locked', which the serialization case raises on SQLite")


class Escaped:
    """What the WSGI server (gunicorn) sends for an exception that escaped the app,
    its error handlers included: a bare 500 saying "Internal Server Error", no trace."""

    status_code = 500

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_data(self, as_text: bool = True) -> str:
        return "<h1><p>Internal Server Error</p></h1>"


def staff_post(client, path: str, data: dict | None = None):
    """POST as a browser would see it behind the WSGI server."""
    try:
        return client.post(path, data=data)
    except Exception as error:  # noqa: BLE001 - escaped the app's own error handlers
        return Escaped(error)


def assert_no_trace(response) -> None:
    body = text(response)
    for word in NO_TRACE:
        assert word.lower() not in body.lower(), f"{word!r} on the page"


def outbox_rows(db) -> list[OutboxMessage]:
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def fill(db, n: int) -> None:
    for i in range(n):
        params = {"sign": "平阳县评议办", "date": "5月12日", "unit": "县发改局", "section": "价格科", "matter": "咨询价格政策",
                  "link": f"https://p.example.cn/v/{i}", "reply_hint": "", "closes": "6月30日"}
        enqueue(db, key=f"invite:{i}", phone=f"138{i:08d}", template=INVITE_LINK, params=params, not_before=MORNING)
    db.commit()


def twilio(provider_url: str, timeout: float = 10.0) -> TwilioSender:
    return TwilioSender(ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE_SID, base_url=provider_url, timeout=timeout)


def run(app, sender, at: datetime, **settings) -> None:
    """One dispatch run at the time `at` (a drain: it returns once nothing is due)."""
    dispatch(sessions(app), sender, "w1", DispatchSettings(**{**ANY_TIME, **settings}), now=lambda: at,
             sleep=lambda s: None)


def due(message: OutboxMessage) -> datetime:
    return message.not_before.replace(tzinfo=UTC)


# ---- 1. the SMS provider answers 500, 503, 429; or 400 ------------------------------------------


def test_sms_provider_500_503_429_are_retried_with_backoff_and_sent_once_it_answers(app, db):
    fill(db, 1)
    with Provider(500, 503, 429) as provider:
        sender = twilio(provider.url)
        now, waits = MORNING, []
        for attempt, status in enumerate((500, 503, 429), start=1):
            run(app, sender, now)
            (message,) = outbox_rows(db)
            assert len(provider.creates) == attempt  # one request per run, none repeated by the client
            assert message.status == OutboxStatus.pending and message.attempts == attempt
            assert message.last_error.startswith(f"Twilio HTTP {status}")
            waits.append(due(message) - now)
            # Not before its time: a run a second early sends nothing.
            run(app, sender, due(message) - timedelta(seconds=1))
            assert len(provider.creates) == attempt
            now = due(message)
        # Exponential backoff with jitter (base 30 s, doubled): [15, 30], [30, 60], [60, 120] seconds.
        for n, wait in enumerate(waits):
            assert timedelta(seconds=15 * 2**n) <= wait <= timedelta(seconds=30 * 2**n)
        run(app, sender, now)  # the provider answers 201 now
        (message,) = outbox_rows(db)
        assert len(provider.creates) == 4 and len(provider.accepted) == 1
        assert message.status == OutboxStatus.sent and message.attempts == 4 and message.last_error == ""
        assert message.provider_id == provider.accepted[0]["sid"]
        run(app, sender, now + timedelta(hours=3))  # nothing is sent again
        assert len(provider.creates) == 4
        assert provider.creates[0]["To"] == "+8613800000000" and "https://p.example.cn/v/0" in provider.creates[0]["Body"]


def test_sms_provider_400_is_permanent_and_never_retried(app, db):
    fill(db, 1)
    with Provider(400) as provider:
        sender = twilio(provider.url)
        for hours in (0, 1, 5, 30):
            run(app, sender, MORNING + timedelta(hours=hours))
        (message,) = outbox_rows(db)
        assert len(provider.creates) == 1
        assert message.status == OutboxStatus.failed and message.attempts == 1
        assert message.last_error.startswith("Twilio HTTP 400 error 21211")


# ---- 2. the SMS provider takes the message and times out ----------------------------------------


def test_sms_provider_timeout_after_taking_the_message_is_not_resent_blindly(app, db):
    fill(db, 1)
    with Provider(Stall(5.0)) as provider:
        sender = twilio(provider.url, timeout=0.5)
        run(app, sender, MORNING)
        assert len(provider.creates) == 1  # the provider has it; the client timed out waiting for the answer
        for hours in (1, 3, 9, 30):  # long past any backoff
            run(app, sender, MORNING + timedelta(hours=hours))
        (message,) = outbox_rows(db)
        # Desired: never a second create for it. The row says sent (the provider was asked and showed
        # it) or is set aside for the office to check; it is not waiting to be sent again.
        assert len(provider.creates) == 1
        assert message.status not in (OutboxStatus.pending, OutboxStatus.sending)


def test_sms_provider_unreachable_is_retried_and_sent_once(app, db):
    """The other side of the case above: a refused connection never reached the
    provider, so sending again is safe (and needed)."""
    fill(db, 1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe closes
    run(app, twilio(f"http://127.0.0.1:{port}", timeout=0.5), MORNING)
    (message,) = outbox_rows(db)
    assert message.status == OutboxStatus.pending and message.attempts == 1 and "ConnectionError" in message.last_error
    with Provider(port=port) as provider:
        # A generous timeout now: on a loaded machine the provider's answer can take
        # longer than half a second, and a timed-out answer is "uncertain", not sent.
        run(app, twilio(f"http://127.0.0.1:{port}", timeout=10), due(message))
        (message,) = outbox_rows(db)
        assert len(provider.creates) == 1 and message.status == OutboxStatus.sent and message.attempts == 2


# ---- 3. a worker dies after the provider took a message -----------------------------------------


class DiesAfterDelivering(OneAtATime):
    """The real Twilio sender; after its `nth` message is accepted, the worker dies
    (a KeyboardInterrupt or SystemExit from a signal) or its database connection is
    cut (the test arms a fault on `armed`) before the outcome is recorded."""

    name = "twilio"

    def __init__(self, sender: TwilioSender, nth: int, death: BaseException | None) -> None:
        self.sender, self.nth, self.death = sender, nth, death
        self.delivered = 0
        self.armed = False

    def send(self, message):
        sent = self.sender.send(message)
        self.delivered += 1
        if self.delivered == self.nth:
            if self.death is not None:
                raise self.death
            self.armed = True
        return sent


@pytest.mark.parametrize("death", ["KeyboardInterrupt", "SystemExit", "database connection dropped"])
def test_worker_dying_after_the_provider_accepted_sets_that_message_aside_never_resends_it(app, db, database_url, death):
    """tests/outbox/test_outbox_crash.py kills a worker process at 30 % and 70 %, wherever it
    happens to be; this is the one point that matters, deterministically: the
    provider took message 3 and the worker died before its row said sent. Its row was
    marked handed over before the call, so when the lease runs out it is set aside as
    uncertain for the office to check, never sent a second time; messages 1-2
    (recorded) and 4-5 (claimed, never handed over) go exactly once, and nothing
    stays unsent or in flight."""
    if death == "database connection dropped":
        needs(database_url, DISCONNECT)
    fill(db, 5)
    with Provider() as provider:
        lease = timedelta(minutes=2)
        dying = DiesAfterDelivering(twilio(provider.url), 3, {"KeyboardInterrupt": KeyboardInterrupt(),
                                                              "SystemExit": SystemExit(143)}.get(death))
        settings = {"batch": 5, "lease": lease}
        if death == "database connection dropped":
            with (db_fault(engine_of(app), r"^\s*UPDATE sms_outbox", DISCONNECT, when=lambda: dying.armed) as fault,
                  pytest.raises(exc.DBAPIError)):
                run(app, dying, MORNING, **settings)
            assert fault.fired == 1 and fault.disconnected
        else:
            with pytest.raises(type(dying.death)):
                run(app, dying, MORNING, **settings)
        rows = outbox_rows(db)
        assert [m.status for m in rows] == [OutboxStatus.sent] * 2 + [OutboxStatus.sending] * 3
        assert len(provider.creates) == 3
        # Another worker, while the dead one's lease runs: nothing to take yet.
        with sessions(app)() as session:
            assert outbox.claim(session, "w2", MORNING + lease / 2, DispatchSettings(**ANY_TIME)) == []
            session.rollback()
        run(app, twilio(provider.url), MORNING + lease + timedelta(seconds=1), **settings)
        rows = outbox_rows(db)
        assert [m.status for m in rows] == [OutboxStatus.sent] * 2 + [OutboxStatus.failed] + [OutboxStatus.sent] * 2
        assert rows[2].last_error.startswith(outbox.UNCERTAIN) and outbox.HANDED_AND_LOST in rows[2].last_error
        sent = [re.search(r"/v/(\d+)", form["Body"]).group(1) for form in provider.creates]
        assert sorted(sent) == ["0", "1", "2", "3", "4"]  # each once: message 3 ("/v/2") not again


# ---- 4a. a citizen's vote -----------------------------------------------------------------------


@pytest.fixture
def citizen(app, client, db, campaign):
    """A citizen who opened their SMS link: the invitation is in their browser's session."""
    survey = open_round(app, db, campaign)
    invitation = invitations(db, survey)[0]
    assert client.get(link_path(db, invitation)).status_code == 303
    return invitation


def vote(client):
    return client.post("/v", data={"choice": "unsatisfied", "comment": "排队太久"})


def assert_retry_page(response, may_not_be_in: str) -> None:
    """What a person sees when the database failed under their request: an error
    status, a page in Chinese that says to try again, no trace."""
    assert response.status_code in (500, 503)
    body = text(response)
    assert "请稍后" in body and may_not_be_in in body
    assert_no_trace(response)


@pytest.mark.parametrize("kind", [SERIALIZATION, DEADLOCK, DISCONNECT])
def test_vote_submit_database_fault_is_refused_then_a_resubmit_stores_it_once(app, client, db, database_url, citizen, kind):
    needs(database_url, kind)
    with db_fault(autocommit_engine_of(app), r"^\s*INSERT INTO vote\b", kind) as fault:
        failed = vote(client)
    assert fault.fired == 1 and fault.disconnected == (kind == DISCONNECT)
    assert_retry_page(failed, "您的评价可能没有提交")
    assert vote_count(db) == 0  # not stored: the statement failed
    # The browser still holds the invitation; the next requests get working connections.
    for _ in range(3):
        page = client.get("/v")
        assert page.status_code == 200 and citizen.section.name in text(page)
    again = vote(client)
    assert again.status_code == 303 and again.headers["Location"] == "/v/thanks"
    [stored] = votes(db)
    assert (stored.invitation_id, stored.choice, stored.comment) == (citizen.id, Choice.unsatisfied, "排队太久")
    assert vote(client).status_code == 409 and vote_count(db) == 1


def test_vote_stored_but_its_answer_lost_is_never_doubled(app, client, db, database_url, citizen):
    """The vote's INSERT committed (autocommit), then the connection died before the
    page learnt it: the citizen is told it may not be in; trying again finds it."""
    needs(database_url, DISCONNECT)
    with db_fault(autocommit_engine_of(app), r"^\s*INSERT INTO vote\b", DISCONNECT, after=True) as fault:
        failed = vote(client)
    assert fault.fired == 1 and fault.disconnected
    assert_retry_page(failed, "您的评价可能没有提交")
    assert vote_count(db) == 1
    again = vote(client)
    assert again.status_code == 409 and "已经评价过了" in text(again)
    assert client.get(link_path(db, citizen)).status_code == 409  # the SMS link says so too
    assert vote_count(db) == 1


# ---- 4b. an evaluator's ballot ------------------------------------------------------------------


@pytest.fixture
def online(db, campaign) -> OnlineRound:
    return open_online_round(db, campaign)


@pytest.mark.parametrize("kind", [SERIALIZATION, DEADLOCK, DISCONNECT])
def test_ballot_submit_database_fault_midway_stores_nothing_then_a_resubmit_stores_it_once(
    app, client, db, database_url, online, kind,
):
    """The fault hits the statement that stores the sealed ballot. On SQLite that comes
    after the "has voted" row was written in the same transaction: all of it is rolled
    back. On PostgreSQL the whole ballot is that one statement."""
    needs(database_url, kind)
    voter = evaluators(db, online)[0]
    log_in(client, voter)
    chosen = marks(candidates(db, online), offset=2)
    with db_fault(ballot_engine_of(app), r"\bINSERT INTO pending_ballot\b", kind) as fault:
        failed = client.post("/e/ballot", data=form(chosen))
    assert fault.fired == 1 and fault.disconnected == (kind == DISCONNECT)
    assert_retry_page(failed, "您的选票可能没有提交")
    assert counts(db) == (0, 0, 0)
    assert evaluators(db, online)[0].password_hash is not None  # the one-time password is not consumed
    again = client.post("/e/ballot", data=form(chosen))
    assert again.status_code == 303 and again.headers["Location"] == "/e/done"
    assert counts(db) == (1, 30, 1)
    assert sealed_tallies(db) == {sid: {c: int(v == c.value) for c in Choice} for sid, v in chosen.items()}


def test_ballot_committed_but_its_answer_lost_is_never_doubled(app, client, db, database_url, online):
    """The ballot's statement took effect (on the autocommit connection it commits by
    itself), then the connection died: the evaluator is told it may not be in and to
    log in again; the login says it is in, and a resubmit from the same browser stores
    nothing more."""
    needs(database_url, DISCONNECT)
    voter = evaluators(db, online)[0]
    log_in(client, voter)
    chosen = marks(candidates(db, online))
    with db_fault(ballot_engine_of(app), r"\bINSERT INTO ballot_cast\b", DISCONNECT, after=True) as fault:
        failed = client.post("/e/ballot", data=form(chosen))
    assert fault.fired == 1 and fault.disconnected
    assert_retry_page(failed, "您的选票可能没有提交")
    assert counts(db) == (1, 30, 1)
    again = client.post("/e/ballot", data=form(chosen))
    assert again.status_code in (303, 409) and again.headers.get("Location") != "/e/done"
    assert counts(db) == (1, 30, 1)
    client.post("/e/logout")
    login = client.post("/e/login", data={"login": voter.login, "password": EVALUATOR_PASSWORD})
    assert login.status_code == 409 and "您的选票已经提交" in text(login)


# ---- 5. the online round's close and the scores -------------------------------------------------

MONITOR = "/office/online/monitor"
CONFIRMED = {"confirmed": "1"}  # the monitor's actions act only once confirmed


BUNDLE_NETWORK = False  # the example year without its online round (tests/conftest.py)


@pytest.fixture
def held(db, campaign, bundle_dir) -> OnlineRound:
    """A whole daily stage, its candidates fixed, an open round over them and five of
    its six evaluators' ballots cast."""
    return held_round(db, campaign, bundle_dir)


def audit(db, action: str) -> list[dict]:
    db.rollback()
    db.expire_all()
    return [e.detail for e in db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def sealed_tallies(db) -> dict[int, dict[Choice, int]]:
    """满意, 基本满意 and 不满意 per section over every ballot in (sealed or in the box): the
    tally its close must give (ballots.tallies reads only the box)."""
    counts_: dict[int, dict[Choice, int]] = {}
    for _, chosen in ballots_in(db):
        for sid, value in chosen.items():
            counts_.setdefault(sid, dict.fromkeys(Choice, 0))[Choice(value)] += 1
    return counts_


def round_state(db, online: OnlineRound) -> tuple:
    db.rollback()
    db.expire_all()
    found = db.get(OnlineRound, online.id)
    return found.status, found.closed_at, found.published, found.published_at


@pytest.mark.parametrize("kind", [SERIALIZATION, DISCONNECT])
def test_online_close_and_publish_interrupted_midway_leave_nothing_half_written_and_rerun_matches(
    app, admin_client, db, database_url, campaign, held, kind,
):
    """The close turns the ballots into the online score: a fault after the round's
    row was updated (at the audit entry) rolls all of it back; pressing the button
    again closes it once, and the online score is the ballots' tally, as it would
    have been. The same for the published lists; and scoring, which writes nothing,
    gives after a fault midway exactly what it gave before. (The page the admin sees
    meanwhile: the test below.)"""
    needs(database_url, kind)
    engine = engine_of(app)
    expected = sealed_tallies(db)  # what the close must make the online score
    before = counts(db)

    with db_fault(engine, r"^\s*INSERT INTO audit_log\b", kind) as fault:
        failed = staff_post(admin_client, f"{MONITOR}/close", CONFIRMED)
    assert fault.fired == 1 and fault.disconnected == (kind == DISCONNECT)
    assert failed.status_code == 500
    assert_no_trace(failed)
    assert round_state(db, held) == (RoundStatus.open, None, None, None) and audit(db, "online.close") == []
    assert counts(db) == before
    db.rollback()
    assert not scorecards.campaign_scorecard(db, campaign).network_held  # still no online score

    assert admin_client.post(f"{MONITOR}/close", data=CONFIRMED).status_code == 303
    assert round_state(db, held)[0] is RoundStatus.closed and audit(db, "online.close") == [{"ballots": 5, "evaluators": 6}]
    assert counts(db) == before and ballots.tallies(db, held) == expected
    online = ballots.online_counts(db, campaign)
    listed = len(candidates(db, held))
    assert len(online) == len(expected) == listed
    assert int(online[[C.VOTES_S, C.VOTES_B, C.VOTES_U]].to_numpy().sum()) == 5 * listed  # five ballots, a mark each

    # Scoring writes nothing: interrupted while reading the tallies, then run again, it gives what it gave.
    reference = scorecards.campaign_scorecard(db, campaign)
    assert reference.network_held
    with db_fault(engine, r"FROM ballot_mark", kind) as fault, pytest.raises(exc.DBAPIError):
        scorecards.campaign_scorecard(db, campaign)
    assert fault.fired == 1 and fault.disconnected == (kind == DISCONNECT)
    db.rollback()
    pd.testing.assert_frame_equal(scorecards.campaign_scorecard(db, campaign).sections, reference.sections)

    # Publishing: all or nothing too.
    with db_fault(engine, r"^\s*INSERT INTO audit_log\b", kind) as fault:
        failed = staff_post(admin_client, f"{MONITOR}/publish", CONFIRMED)
    assert fault.fired == 1 and failed.status_code == 500
    assert_no_trace(failed)
    assert round_state(db, held)[2:] == (None, None) and audit(db, "online.publish") == []
    assert admin_client.post(f"{MONITOR}/publish", data=CONFIRMED).status_code == 303
    db.rollback()
    assert round_state(db, held)[2] == scorecards.final_lists(db, campaign, reference)
    assert len(audit(db, "online.publish")) == 1
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "online.close")) == 1


@pytest.mark.parametrize("kind", [SERIALIZATION, DISCONNECT])
def test_staff_action_database_fault_shows_the_chinese_error_page(app, admin_client, db, database_url, online, kind):
    needs(database_url, kind)
    with db_fault(engine_of(app), r"^\s*INSERT INTO audit_log\b", kind) as fault:
        failed = staff_post(admin_client, f"{MONITOR}/close", CONFIRMED)
    assert fault.fired == 1 and failed.status_code == 500
    assert_no_trace(failed)
    assert not isinstance(failed, Escaped), f"the error page itself failed: {failed.error!r}"
    assert "系统出现错误" in text(failed) and "请稍后再试" in text(failed)
    assert round_state(db, online)[0] is RoundStatus.open
    assert admin_client.post(f"{MONITOR}/close", data=CONFIRMED).status_code == 303  # and the next request works
