"""The durable SMS outbox and its dispatch workers, on SQLite and PostgreSQL: messages
sent once through the real console sender into its table; transient errors retried
with backoff, permanent ones never; the send window and the daily cap hold messages
back without dropping them; a dead worker's lease runs out; several workers on
PostgreSQL never send a message twice; delivery callbacks signed by Twilio's own
RequestValidator."""
from __future__ import annotations

import threading
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from sms.senders import ConsoleSender, OneAtATime, PermanentSendError, Sent, TransientSendError
from sms.templates import INVITE_LINK, SCRUBBED
from tests.conftest import PASSWORD, login
from voting.outbox.models import ConsoleMessage, OutboxMessage, OutboxStatus
from voting.staff.models import Role
from voting.lists.models import Unit
from voting.outbox import outbox
from voting.staff import users
from voting.outbox.outbox import DispatchSettings, dispatch, enqueue

ANY_TIME = dict(window_start=time(0, 0), window_end=time(0, 0), daily_cap=0)
# 2021-06-01 10:00 in Asia/Shanghai: inside the default window.
MORNING = datetime(2021, 6, 1, 2, 0, tzinfo=timezone.utc)


def params(n: int) -> dict[str, str]:
    return {"sign": "平阳县评议办", "date": "5月12日", "unit": "县发改局", "section": "价格科",
            "matter": "咨询价格政策", "link": f"https://p.example.cn/v/{n}", "reply_hint": "", "closes": "6月30日"}


def fill(db, n: int, phone=lambda i: f"138{i:08d}") -> None:
    for i in range(n):
        enqueue(db, key=f"invite:{i}", phone=phone(i), template=INVITE_LINK, params=params(i), not_before=MORNING)
    db.commit()


def sessions(app):
    return app.extensions["pingyi.sessions"]


def rows(db, model=OutboxMessage):
    db.rollback()
    db.expire_all()  # objects this session loaded before: read them again
    return db.scalars(select(model).order_by(model.id)).all()


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class Scripted(OneAtATime):
    """A provider that answers as scripted, one outcome per call, then accepts."""

    name = "scripted"

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.tries = 0

    def send(self, message):
        self.tries += 1
        if self.outcomes:
            outcome = self.outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
        return Sent(f"SM{self.tries}", "queued")


def test_enqueue_renders_the_template_and_a_key_announces_once(db):
    first = enqueue(db, key="invite:1", phone="13812345678", template=INVITE_LINK, params=params(1))
    again = enqueue(db, key="invite:1", phone="13812345678", template=INVITE_LINK, params=params(2))
    db.commit()
    assert again.id == first.id and len(rows(db)) == 1
    assert "https://p.example.cn/v/1" in first.text and first.status == OutboxStatus.pending


def test_the_console_sender_delivers_each_message_once(app, db):
    fill(db, 30)
    sender = ConsoleSender(outbox.console_sink(sessions(app), keep_secrets=True))
    report = dispatch(sessions(app), sender, "w1", DispatchSettings(batch=7, **ANY_TIME), sleep=lambda s: None)
    assert (report.sent, report.retried, report.failed) == (30, 0, 0)
    sent = rows(db)
    assert all(m.status == OutboxStatus.sent and m.attempts == 1 and m.provider_id == f"console-{m.key}" for m in sent)
    delivered = rows(db, ConsoleMessage)
    assert sorted(m.key for m in delivered) == sorted(m.key for m in sent)
    # The demo's phones got the links; the outbox keeps the same text with them masked.
    for m, o in zip(sorted(delivered, key=lambda m: m.key), sorted(sent, key=lambda m: m.key)):
        number = o.key.removeprefix("invite:")
        assert f"https://p.example.cn/v/{number} " in m.text
        assert m.text.replace(f"/v/{number} ", f"/v/{SCRUBBED} ") == o.text


def test_transient_errors_are_retried_with_backoff(app, db):
    fill(db, 1)
    clock = Clock(MORNING)
    sender = Scripted(TransientSendError("Twilio HTTP 503"), TransientSendError("Twilio HTTP 429"))
    settings = DispatchSettings(backoff_base=30, **ANY_TIME)
    report = dispatch(sessions(app), sender, "w1", settings, now=clock, sleep=lambda s: None)
    (message,) = rows(db)
    assert report.retried == 1 and message.status == OutboxStatus.pending and message.attempts == 1
    wait = message.not_before.replace(tzinfo=timezone.utc) - MORNING
    assert timedelta(seconds=15) <= wait <= timedelta(seconds=30) and "503" in message.last_error
    clock.now = MORNING + wait
    dispatch(sessions(app), sender, "w1", settings, now=clock, sleep=lambda s: None)
    (message,) = rows(db)
    wait = message.not_before.replace(tzinfo=timezone.utc) - clock.now
    assert message.attempts == 2 and timedelta(seconds=30) <= wait <= timedelta(seconds=60)  # doubled
    clock.now += wait
    dispatch(sessions(app), sender, "w1", settings, now=clock, sleep=lambda s: None)
    (message,) = rows(db)
    assert message.status == OutboxStatus.sent and message.attempts == 3 and sender.tries == 3
    assert message.last_error == "" and message.provider_id == "SM3"


def test_a_permanent_error_is_never_retried(app, db):
    fill(db, 1)
    sender = Scripted(PermanentSendError("Twilio HTTP 400 error 21211"))
    report = dispatch(sessions(app), sender, "w1", DispatchSettings(**ANY_TIME), sleep=lambda s: None)
    dispatch(sessions(app), sender, "w1", DispatchSettings(**ANY_TIME), sleep=lambda s: None)
    (message,) = rows(db)
    assert report.failed == 1 and sender.tries == 1
    assert message.status == OutboxStatus.failed and "21211" in message.last_error


def test_out_of_attempts_is_failed(app, db):
    fill(db, 1)
    clock = Clock(MORNING)
    sender = Scripted(*[TransientSendError("timeout")] * 5)
    settings = DispatchSettings(max_attempts=3, **ANY_TIME)
    for _ in range(4):
        dispatch(sessions(app), sender, "w1", settings, now=clock, sleep=lambda s: None)
        clock.now += timedelta(hours=2)
    (message,) = rows(db)
    assert message.status == OutboxStatus.failed and message.attempts == 3 and sender.tries == 3


def test_outside_the_send_window_messages_wait_for_it(app, db):
    fill(db, 2)
    late = datetime(2021, 6, 1, 13, 30, tzinfo=timezone.utc)  # 21:30 in Shanghai
    sender = Scripted()
    report = dispatch(sessions(app), sender, "w1", DispatchSettings(daily_cap=0), now=Clock(late), sleep=lambda s: None)
    assert report.held == 2 and sender.tries == 0
    opens = datetime(2021, 6, 2, 0, 0, tzinfo=timezone.utc)  # 08:00 next morning in Shanghai
    assert all(m.status == OutboxStatus.pending and m.not_before.replace(tzinfo=timezone.utc) == opens for m in rows(db))
    report = dispatch(sessions(app), sender, "w1", DispatchSettings(daily_cap=0), now=Clock(opens), sleep=lambda s: None)
    assert report.sent == 2


def test_a_phones_daily_cap_holds_the_rest_until_the_next_day(app, db):
    fill(db, 5, phone=lambda i: "13812345678" if i < 3 else f"139{i:08d}")
    sender = Scripted()
    settings = DispatchSettings(daily_cap=2)
    report = dispatch(sessions(app), sender, "w1", settings, now=Clock(MORNING), sleep=lambda s: None)
    assert (report.sent, report.held) == (4, 1)
    held = [m for m in rows(db) if m.status == OutboxStatus.pending]
    assert [m.phone for m in held] == ["13812345678"]
    assert held[0].not_before.replace(tzinfo=timezone.utc) == datetime(2021, 6, 2, 0, 0, tzinfo=timezone.utc)


def test_a_dead_workers_lease_runs_out(app, db):
    fill(db, 2)
    with sessions(app)() as session:
        outbox.claim(session, "dead", MORNING, DispatchSettings(batch=2))
        session.commit()
    settings = DispatchSettings(lease=timedelta(minutes=2), **ANY_TIME)
    sender = Scripted()
    with sessions(app)() as session:
        assert outbox.claim(session, "w2", MORNING + timedelta(minutes=1), settings) == []
        session.rollback()
    report = dispatch(sessions(app), sender, "w2", settings, now=Clock(MORNING + timedelta(minutes=3)),
                      sleep=lambda s: None)
    assert report.sent == 2 and all(m.status == OutboxStatus.sent for m in rows(db))


def test_several_workers_on_postgresql_send_each_message_once(app, db, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: run one dispatch worker on it (README)")
    fill(db, 600)
    sender = ConsoleSender(outbox.console_sink(sessions(app), keep_secrets=True))
    reports = []

    def work(name: str) -> None:
        reports.append(dispatch(sessions(app), sender, name, DispatchSettings(batch=5, **ANY_TIME), sleep=lambda s: None))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    delivered = rows(db, ConsoleMessage)
    assert len(delivered) == 600 and len({m.key for m in delivered}) == 600
    assert sum(r.sent for r in reports) == 600 and sum(1 for r in reports if r.sent) > 1  # the work was shared


def test_delivery_callbacks_need_twilios_signature(app, client, db, monkeypatch):
    token = "0123456789abcdef0123456789abcdef"
    monkeypatch.setitem(app.config, "SMS_ENV", {"TWILIO_AUTH_TOKEN": token})
    fill(db, 1)
    message = rows(db)[0]
    message.status, message.provider_id = OutboxStatus.sent, "SM" + "1" * 32
    db.commit()
    url = "http://localhost/sms/status"
    form = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}
    tampered = client.post("/sms/status", data={**form, "MessageStatus": "undelivered"},
                           headers={"X-Twilio-Signature": RequestValidator(token).compute_signature(url, form)})
    assert tampered.status_code == 403 and rows(db)[0].status == OutboxStatus.sent
    assert client.post("/sms/status", data=form).status_code == 403
    signed = client.post("/sms/status", data=form,
                         headers={"X-Twilio-Signature": RequestValidator(token).compute_signature(url, form)})
    assert signed.status_code == 204 and rows(db)[0].status == OutboxStatus.delivered
    # A late "sent" never takes a delivered message back.
    late = {**form, "MessageStatus": "sent"}
    client.post("/sms/status", data=late, headers={"X-Twilio-Signature": RequestValidator(token).compute_signature(url, late)})
    assert rows(db)[0].status == OutboxStatus.delivered
    assert client.get("/sms/status").status_code == 405


def test_the_outbox_page_masks_phones_and_shows_the_demo_messages(app, client, db, admin, campaign):
    fill(db, 3)
    dispatch(sessions(app), app.extensions["pingyi.sms_sender"], "w1", DispatchSettings(**ANY_TIME), sleep=lambda s: None)
    login(client, "admin")
    page = client.get("/office/outbox").get_data(as_text=True)
    assert "138****0001" in page and "13800000001" not in page
    assert 'href="https://p.example.cn/v/1"' in page and "已发送" in page
    client.post("/logout")
    unit = db.scalar(select(Unit).where(Unit.name == "县发改局"))
    users.create_user(db, "liaison", PASSWORD, Role.liaison, unit)
    db.commit()
    login(client, "liaison")
    assert client.get("/office/outbox").status_code == 403


def test_a_senders_own_failure_is_retried_and_a_bad_row_fails_alone(app, db):
    fill(db, 2)
    broken = rows(db)[0]
    broken.phone = "+8613812345"  # cannot be a stored number: no sender may take it
    db.commit()
    sender = Scripted(RuntimeError("sink down"))
    report = dispatch(sessions(app), sender, "w1", DispatchSettings(**ANY_TIME), now=Clock(MORNING), sleep=lambda s: None)
    first, second = rows(db)
    assert first.status == OutboxStatus.failed and "13812345" not in first.last_error
    assert second.status == OutboxStatus.pending and second.last_error == "RuntimeError" and report.retried == 1


def test_a_campaigns_own_window_and_cap_apply_to_its_messages(app, db, campaign):
    campaign.settings = {**campaign.settings, "sms_window_start": "09:00", "sms_window_end": "10:00", "sms_daily_cap": 1}
    db.commit()
    for i in range(2):
        enqueue(db, key=f"c:{i}", phone="13812345678", template=INVITE_LINK, params=params(i), campaign_id=campaign.id,
                not_before=MORNING)
    enqueue(db, key="none", phone="13912345678", template=INVITE_LINK, params=params(9), not_before=MORNING)
    db.commit()
    sender = Scripted()
    # 10:00 in Shanghai: the worker's own limits allow it, the campaign's window has just closed.
    report = dispatch(sessions(app), sender, "w1", DispatchSettings(**ANY_TIME), now=Clock(MORNING), sleep=lambda s: None)
    assert (report.sent, report.held) == (1, 2)
    held = {m.key: m.not_before.replace(tzinfo=timezone.utc) for m in rows(db) if m.status == OutboxStatus.pending}
    assert held == {"c:0": datetime(2021, 6, 2, 1, 0, tzinfo=timezone.utc), "c:1": datetime(2021, 6, 2, 1, 0, tzinfo=timezone.utc)}
    # At 09:00 the next morning the window is open, and the cap of 1 holds the second back a day.
    report = dispatch(sessions(app), sender, "w1", DispatchSettings(**ANY_TIME),
                      now=Clock(datetime(2021, 6, 2, 1, 0, tzinfo=timezone.utc)), sleep=lambda s: None)
    assert (report.sent, report.held) == (1, 1)
    # A worker told to ignore campaigns' limits (the demo's) sends it at once.
    report = dispatch(sessions(app), sender, "w1", DispatchSettings(campaign_limits=False, **ANY_TIME),
                      now=Clock(datetime(2021, 6, 3, 1, 0, tzinfo=timezone.utc)), sleep=lambda s: None)
    assert report.sent == 1 and all(m.status == OutboxStatus.sent for m in rows(db))


def test_waves_are_consecutive_calls_made_at_once_within_both_limits():
    def calls(*sizes):
        made, n = [], 0
        for size in sizes:
            made.append([outbox.Going(n + i, None, 0, None) for i in range(size)])
            n += size
        return made

    def shape(found):
        return [[len(call) for call in wave] for wave in found]

    assert shape(outbox.waves(calls(1, 1, 1, 1, 1), 4, 200)) == [[1, 1, 1, 1], [1]]
    assert shape(outbox.waves(calls(100, 100, 50), 4, 1000)) == [[100, 100, 50]]
    assert shape(outbox.waves(calls(100, 100, 50), 4, 150)) == [[100], [100, 50]]
    assert shape(outbox.waves(calls(1, 1, 1), 1, 200)) == [[1], [1], [1]]
    assert shape(outbox.waves(calls(1, 1), 4, 1)) == [[1], [1]]  # a sender without batches: one call at a time
    flat = [g.id for wave in outbox.waves(calls(3, 2, 5, 1), 2, 8) for call in wave for g in call]
    assert flat == list(range(11))  # every message once, in order
