"""Nothing stored opens a vote or a login: once a round's messages are sent (or have
failed for good), a dump of every table holds no link token, invitation code or
one-time password that went out, and no link found in it opens a vote page; the office
still sees what was sent, masked.

A dump, not the database's files: until their space is reused, those may keep a row's
earlier version (SQLite's free pages and write-ahead log, PostgreSQL's dead tuples
until VACUUM), and a pending message holds its link by design (README, Privacy)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from sms.senders import ConsoleSender, Message, OneAtATime, PermanentSendError
from sms.templates import SCRUBBED, mask, scrub
from tests.support.citizens import PUBLIC_URL, invitations, open_round
from tests.conftest import make_app
from tests.support.online_pool import ANY_TIME, issue, pooled_round
from tests.survey.test_phones_at_rest import dump
from voting.outbox.models import ConsoleMessage, OutboxMessage, OutboxStatus
from voting.survey.models import Invitation, InviteMode
from voting.core.models import utcnow
from voting.survey import rounds
from voting.outbox.outbox import console_sink, dispatch
from voting.core.vault import vault_of

TOKEN_IN_LINK = re.compile(r"/v/([A-Za-z0-9_.\-]+)")


class Recording(OneAtATime):
    """The production console sender (it keeps masked copies) that also remembers what
    it was handed: the secrets the phones got, for the test to look for."""

    name = "recording"

    def __init__(self, app) -> None:
        self.handed: list[Message] = []
        self.console = ConsoleSender(console_sink(app.extensions["pingyi.sessions"], keep_secrets=False))

    def send(self, message: Message):
        self.handed.append(message)
        return self.console.send(message)


def secrets_of(messages: list[Message]) -> set[str]:
    found: set[str] = set()
    for message in messages:
        params = message.params
        if "link" in params and "/v/" in params["link"]:
            found.add(TOKEN_IN_LINK.search(params["link"]).group(1))
        for name in ("code", "password"):
            if params.get(name):
                found.add(params[name])
    return found


def assert_nothing_opens(app, db, handed: list[Message]) -> None:
    secrets = secrets_of(handed)
    assert secrets, "the round sent no secret to look for"
    db.rollback()
    dumped = dump(db)
    assert [s for s in secrets if s in dumped] == []
    client = app.test_client()
    for token in set(TOKEN_IN_LINK.findall(dumped)):
        assert client.get(f"/v/{token}", follow_redirects=True).status_code != 200


@pytest.mark.parametrize("mode", [InviteMode.link, InviteMode.code])
def test_a_sent_round_leaves_nothing_that_opens_a_vote(app, db, campaign, mode):
    survey = open_round(app, db, campaign, sections=2, per_section=4, mode=mode)
    invited = invitations(db, survey)
    # Before the send the outbox must still hold what it will send.
    sender = Recording(app)
    report = dispatch(app.extensions["pingyi.sessions"], sender, "w1", ANY_TIME)
    assert report.sent == len(invited) == len(sender.handed) == 8
    assert_nothing_opens(app, db, sender.handed)

    # The office still sees what went out, masked.
    db.expire_all()
    for message in db.scalars(select(OutboxMessage)):
        assert message.status is OutboxStatus.sent and SCRUBBED in message.text
        if mode is InviteMode.link:
            assert message.params["link"] == f"{PUBLIC_URL}/v/{SCRUBBED}"
        else:
            assert message.params["code"] == SCRUBBED and "address" in message.params
    assert all(SCRUBBED in c.text for c in db.scalars(select(ConsoleMessage)))
    # And the citizens' secrets still work: the phones got them.
    handed = sender.handed[0]
    if mode is InviteMode.link:
        page = app.test_client().get(TOKEN_IN_LINK.search(handed.params["link"]).group(0), follow_redirects=True)
        assert page.status_code == 200 and 'name="choice"' in page.get_data(as_text=True)
    else:
        invitation = rounds.enter_code(db, handed.params["code"], handed.to[-4:])
        assert invitation.code == handed.params["code"]


def test_sent_accounts_leave_nothing_that_logs_in(app, db, campaign):
    online = pooled_round(db, campaign, reps=5)
    passwords = issue(app, db, online)
    sender = Recording(app)
    report = dispatch(app.extensions["pingyi.sessions"], sender, "w1", ANY_TIME)
    assert report.sent == len(passwords) == len(sender.handed)
    assert_nothing_opens(app, db, sender.handed)


def test_a_message_that_failed_for_good_keeps_no_link(app, db, campaign):
    open_round(app, db, campaign, sections=1, per_section=3)

    class Refusing(Recording):
        def send(self, message):
            self.handed.append(message)
            raise PermanentSendError("21211 invalid number")

    sender = Refusing(app)
    report = dispatch(app.extensions["pingyi.sessions"], sender, "w1", ANY_TIME)
    assert report.failed == 3
    assert_nothing_opens(app, db, sender.handed)


def test_codes_are_sealed_and_found_by_their_hash(app, db, campaign):
    survey = open_round(app, db, campaign, sections=1, per_section=3, mode=InviteMode.code)
    raw = db.execute(text("SELECT code, code_hash FROM invitation")).all()
    codes = [i.code for i in invitations(db, survey)]
    assert all(r.code.startswith("p1.") and r.code not in codes for r in raw)
    vault = vault_of(db)
    assert {r.code_hash for r in raw} == {vault.code_lookup(c) for c in codes}
    assert rounds.invitation_by_code(db, codes[0]).code == codes[0]
    # A code sealed as a code does not open as a phone number.
    with pytest.raises(Exception, match="无法解密"):
        vault.open(raw[0].code)


def test_masks_keep_where_a_link_went_and_drop_what_opened_it():
    assert mask("link", "https://p.example.cn/v/abc.def-ghi") == f"https://p.example.cn/v/{SCRUBBED}"
    assert mask("reply_hint", "（请同时回复评价码 K7M4Q9PX）") == f"（请同时回复评价码 {SCRUBBED}）"
    assert mask("reply_hint", "") == ""
    assert mask("code", "K7M4Q9PX") == SCRUBBED
    params = {"sign": "平阳县千人评议办", "unit": "县公安局", "section": "户政科", "closes": "6月30日",
              "link": "https://p.example.cn/v/SECRET", "reply_hint": "（请同时回复评价码 K7M4Q9PX）"}
    kept, shown = scrub("reminder_link", params)
    assert "SECRET" not in shown and "K7M4Q9PX" not in shown and "https://p.example.cn/v/" in shown
    assert kept["unit"] == "县公安局"


def test_the_migration_seals_stored_codes_and_the_downgrade_opens_them(database_url, tmp_path):
    app = make_app(database_url, tmp_path)  # no create_all: the migrations build it
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "f7a3c9d2b614"]).exit_code == 0
    engine = app.extensions["pingyi.engine"]
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO campaign (id, year, name, settings, created_at) VALUES (1, 2021, '2021', '{}', :now)"), {"now": now})
        connection.execute(text(
            "INSERT INTO survey_round (id, campaign_id, kind, status, mode, sample_size, seed, closes_at,"
            " reminder_after_hours, created_at) VALUES (1, 1, 'H1', 'open', 'code', 1, 1, :now, 48, :now)"), {"now": now})
        connection.execute(text("INSERT INTO unit (id, campaign_id, number, name) VALUES (1, 1, 1, '县公安局')"))
        connection.execute(text(
            "INSERT INTO section (id, unit_id, number, name, is_enforcement) VALUES (1, 1, 1, '户政科', false)"))
        connection.execute(text(
            "INSERT INTO object_import (id, campaign_id, round, filename, created_at, rows_read, stored, duplicates,"
            " report) VALUES (1, 1, 'H1', 'x.csv', :now, 1, 1, 0, '{}')"), {"now": now})
        for i, code in ((1, "K7M4Q9PX"), (2, "ABCDEFGH")):
            connection.execute(text(
                "INSERT INTO service_object (id, section_id, round, import_id, name, org_title, phone, matter,"
                " penalized, source_row) VALUES (:i, 1, 'H1', 1, '张三', '', NULL, '户口', false, 2)"), {"i": i})
            connection.execute(text(
                "INSERT INTO invitation (id, round_id, section_id, service_object_id, nonce, code, code_failures,"
                " created_at) VALUES (:i, 1, 1, :i, 'n', :c, 0, :now)"), {"i": i, "c": code, "now": now})
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT code, code_hash FROM invitation ORDER BY id")).all()
    assert all(s.code.startswith("p1.") and "K7M4Q9PX" not in s.code for s in stored)
    with app.extensions["pingyi.sessions"]() as session:
        assert session.get(Invitation, 1).code == "K7M4Q9PX"
        assert stored[0].code_hash == vault_of(session).code_lookup("K7M4Q9PX")
        session.execute(text("UPDATE invitation SET code = NULL, code_hash = NULL WHERE id = 2"))  # erased
        session.commit()

    result = runner.invoke(args=["db", "downgrade", "f7a3c9d2b614"])
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        assert connection.execute(text("SELECT code FROM invitation ORDER BY id")).scalars().all() == ["K7M4Q9PX", "~2"]
    engine.dispose()
