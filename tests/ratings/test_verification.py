"""Confirming a phone by an SMS code (voting/ratings/verification.py), on SQLite and
PostgreSQL: six digits from the CSPRNG, stored only as a keyed hash (the code is in no
column, and in the outbox row only until its SMS is sent), valid 10 minutes, good once;
at most 5 wrong tries a phone a day, a new code carrying the count on; the send limits
per phone and per network, refused in Chinese with the time to come back and nothing
stored; a hundred wrong tries at once on PostgreSQL counted five."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, inspect, select, text

from sms.senders import ConsoleSender
from sms.templates import SCRUBBED, VERIFICATION_CODE, render
from voting.core.errors import DomainError
from voting.core.vault import vault_of
from voting.outbox import outbox
from voting.outbox.models import OutboxMessage, OutboxStatus
from voting.outbox.outbox import DispatchSettings, dispatch
from voting.ratings import verification as v
from voting.ratings.models import PhoneVerification
from voting.ratings.verification import CodeRefusedError, TooManyRequestsError, WrongCodeError

from tests.ratings.support import at_once

PHONE = "13812345678"
ADDRESS = "203.0.113.7"
# 2026-06-01 10:00 in Asia/Shanghai.
MORNING = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)
ANY_TIME = dict(window_start=datetime.min.time(), window_end=datetime.min.time(), daily_cap=0)


def sent_code(db, row: PhoneVerification) -> str:
    """The code as its SMS carries it (the pending outbox row must hold it to send it)."""
    message = db.scalars(select(OutboxMessage).where(OutboxMessage.key == f"verify:{row.id}")).one()
    return message.params["code"]


def send(db, now=MORNING, phone=PHONE, address=ADDRESS, **settings) -> tuple[PhoneVerification, str]:
    row = v.request_code(db, phone, address, now, v.VerificationSettings(**settings))
    db.commit()
    return row, sent_code(db, row)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def check(db, code: str, now=MORNING, phone=PHONE, **settings):
    """check_code, committing what it counted whatever it answers (as a page must)."""
    try:
        return v.check_code(db, phone, code, now, v.VerificationSettings(**settings))
    finally:
        db.commit()


def counts(db) -> tuple[int, int]:
    db.expire_all()
    return (db.scalar(select(func.count()).select_from(PhoneVerification)),
            db.scalar(select(func.count()).select_from(OutboxMessage)))


def test_codes_are_six_digits_from_the_whole_range():
    codes = [v.new_code() for _ in range(2000)]
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert any(c.startswith("0") for c in codes) and len(set(codes)) > 1900


def test_a_code_is_sent_through_the_outbox_and_stored_only_hashed(app, db):
    row, code = send(db)
    assert re.fullmatch(r"\d{6}", code)
    assert row.expires_at.replace(tzinfo=timezone.utc) - MORNING == timedelta(minutes=10) and row.tries == 0
    assert row.code_hash.startswith("hmac-sha256$") and code not in row.code_hash
    assert row.phone_hash == vault_of(db).lookup(PHONE) and PHONE not in row.network
    message = db.scalars(select(OutboxMessage)).one()
    assert message.template == VERIFICATION_CODE and message.text == render(
        VERIFICATION_CODE, {"sign": "县千人评议办", "code": code}) == f"【县千人评议办】您的验证码为{code}，10分钟内有效，请勿告诉他人。"
    # Sent: the outbox row keeps the code masked, and no column of any table holds it.
    sender = ConsoleSender(outbox.console_sink(app.extensions["pingyi.sessions"], keep_secrets=False))
    report = dispatch(app.extensions["pingyi.sessions"], sender, "w1", DispatchSettings(**ANY_TIME),
                      now=lambda: MORNING, sleep=lambda s: None)
    assert report.sent == 1
    db.expire_all()
    message = db.scalars(select(OutboxMessage)).one()
    assert message.status == OutboxStatus.sent and message.params["code"] == SCRUBBED and code not in message.text
    connection = db.connection()
    dumped = "\n".join(" ".join(map(str, row)) for table in inspect(connection).get_table_names()
                       for row in connection.execute(text(f'SELECT * FROM "{table}"')))
    assert code not in dumped and PHONE not in dumped and ADDRESS not in dumped
    assert check(db, code).used_at is not None  # the hash still checks it


def test_the_right_code_once_within_ten_minutes(db):
    _, code = send(db)
    confirmed = check(db, f" {code[:3]} {code[3:]} ", MORNING + timedelta(minutes=9, seconds=59))
    assert confirmed.used_at is not None and confirmed.tries == 0  # the right code is no wrong try
    with pytest.raises(CodeRefusedError, match="已经用过"):
        check(db, code, MORNING + timedelta(minutes=9, seconds=59))
    _, later = send(db, MORNING + timedelta(minutes=20))
    with pytest.raises(CodeRefusedError, match=r"验证码已过期（10 分钟内有效），请重新获取。"):
        check(db, later, MORNING + timedelta(minutes=30))
    assert db.scalars(select(PhoneVerification).order_by(PhoneVerification.id.desc())).first().tries == 0


def test_refusals_that_count_nothing(db):
    with pytest.raises(CodeRefusedError, match="请先获取验证码"):
        check(db, "123456")
    _, code = send(db)
    for typed in ("12345", "1234567", "abcdef", "１２３４５６７", ""):
        with pytest.raises(CodeRefusedError, match="验证码应为 6 位数字"):
            check(db, typed)
    with pytest.raises(DomainError, match="手机号码有误"):
        check(db, code, phone="12345")
    assert check(db, "".join(chr(ord(c) + 0xFEE0) for c in code)).used_at is not None  # full-width digits


def test_five_wrong_tries_then_even_the_right_code_is_refused(db):
    _, code = send(db)
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(WrongCodeError) as caught:
            check(db, wrong(code))
        assert caught.value.left == left and caught.value.status == 400
    assert str(caught.value) == "验证码不正确。今天输错的次数已达上限，请明天再获取验证码。"
    with pytest.raises(TooManyRequestsError) as refused:
        check(db, code)
    assert refused.value.status == 429 and str(refused.value) == (
        "验证码今天已输错 5 次，为保护您的手机号码，今天不能再验证，请明天再试。")
    assert refused.value.retry_at == datetime(2026, 6, 1, 16, 0, tzinfo=timezone.utc)  # midnight in Shanghai
    db.expire_all()
    assert db.scalars(select(PhoneVerification)).one().tries == 5


def test_a_new_code_does_not_reset_the_count(db):
    _, first = send(db)
    for _ in range(3):
        with pytest.raises(WrongCodeError):
            check(db, wrong(first))
    _, second = send(db, MORNING + timedelta(minutes=2))
    # The first code ended with the second: typing it is a wrong try against the second.
    with pytest.raises(WrongCodeError) as caught:
        check(db, first if first != second else wrong(second), MORNING + timedelta(minutes=3))
    assert caught.value.left == 1
    with pytest.raises(WrongCodeError) as caught:
        check(db, wrong(second), MORNING + timedelta(minutes=3))
    assert caught.value.left == 0
    with pytest.raises(TooManyRequestsError):
        check(db, second, MORNING + timedelta(minutes=3))
    # No third code today either (it could not be tried), and nothing stored for asking.
    before = counts(db)
    with pytest.raises(TooManyRequestsError, match="今天不能再验证"):
        send(db, MORNING + timedelta(minutes=5))
    db.rollback()
    assert counts(db) == before
    # The next local day starts a new count.
    _, tomorrow = send(db, datetime(2026, 6, 1, 16, 0, 1, tzinfo=timezone.utc))
    assert check(db, tomorrow, datetime(2026, 6, 1, 16, 1, tzinfo=timezone.utc)).used_at is not None


def test_a_right_code_after_wrong_ones_keeps_their_count_for_the_next_code(db):
    _, first = send(db)
    for _ in range(2):
        with pytest.raises(WrongCodeError):
            check(db, wrong(first))
    assert check(db, first).tries == 2
    _, second = send(db, MORNING + timedelta(minutes=2))
    assert db.get(PhoneVerification, db.scalar(select(func.max(PhoneVerification.id)))).tries == 2
    with pytest.raises(WrongCodeError) as caught:
        check(db, wrong(second), MORNING + timedelta(minutes=2))
    assert caught.value.left == 2


def refused(db, now, **kwargs) -> TooManyRequestsError:
    before = counts(db)
    with pytest.raises(TooManyRequestsError) as caught:
        send(db, now, **kwargs)
    db.rollback()
    assert counts(db) == before  # a refused send stores nothing
    return caught.value


def test_one_code_a_minute_and_five_a_day_per_phone(db):
    send(db)
    error = refused(db, MORNING + timedelta(seconds=45))
    assert str(error) == "获取验证码太频繁：请 15 秒后再试。" and error.retry_at == MORNING + timedelta(minutes=1)
    for minutes in (1, 2, 3, 4):
        send(db, MORNING + timedelta(minutes=minutes))
    error = refused(db, MORNING + timedelta(hours=3))
    assert str(error) == "这个手机号码今天已获取 5 次验证码，达到上限，请明天再试。"
    assert error.retry_at == datetime(2026, 6, 1, 16, 0, tzinfo=timezone.utc)
    send(db, datetime(2026, 6, 1, 16, 0, tzinfo=timezone.utc))  # midnight in Shanghai: a new day
    send(db, MORNING + timedelta(hours=1), phone="13912345678")  # another phone is not held back


def test_thirty_codes_an_hour_per_network(db):
    phones = [f"1391234{n:04d}" for n in range(31)]
    for n, phone in enumerate(phones[:30]):
        send(db, MORNING + timedelta(minutes=n), phone=phone)
    error = refused(db, MORNING + timedelta(minutes=40), phone=phones[30])
    # The first of the hour's codes was at 10:00, Shanghai time: the network may ask again at 11:00.
    assert str(error) == "您所在的网络获取验证码太频繁，请于 11:00 后再试，或换用手机流量。"
    assert error.retry_at == MORNING + timedelta(hours=1)
    send(db, MORNING + timedelta(minutes=40), phone=phones[30], address="198.51.100.9")  # another network
    send(db, MORNING + timedelta(minutes=60, seconds=1), phone="13712345678")  # the hour has passed
    # An IPv6 client is counted by its /64.
    assert v.network_of("2001:db8:1:2:aaaa::1") == v.network_of("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert v.network_of("::ffff:203.0.113.7") == ADDRESS and v.network_of("nonsense") == v.network_of(None) == "unknown"
    error = refused(db, MORNING + timedelta(minutes=41), phone="13612345678", network_hourly=1, address="198.51.100.9")
    assert error.retry_at == MORNING + timedelta(minutes=100)


def test_a_number_that_is_not_a_mainland_mobile_is_refused(db):
    for phone in ("12345", "+1 415 555 0100", "1381234567x"):
        with pytest.raises(DomainError, match="手机号码有误") as caught:
            send(db, phone=phone)
        assert caught.value.status == 400
    db.rollback()
    assert counts(db) == (0, 0)
    row, _ = send(db, phone="+86 138-1234-5678")
    assert row.phone_hash == vault_of(db).lookup(PHONE)


def test_settings_come_from_the_app_config(app):
    settings = v.VerificationSettings.from_config({**app.config, "RATING_SMS_PHONE_DAILY": "3",
                                                   "RATING_SMS_PHONE_INTERVAL_SECONDS": 90})
    assert (settings.phone_daily, settings.phone_interval, settings.network_hourly, settings.max_tries) == (
        3, timedelta(seconds=90), 30, 5)
    assert settings.sign == app.config["SMS_SIGN"] and settings.timezone == "Asia/Shanghai"


def test_a_hundred_wrong_tries_at_once_count_five_on_postgresql(app, db):
    _, code = send(db)

    def attempt(session, _n: int) -> str:
        try:
            v.check_code(session, PHONE, wrong(code), MORNING)
            return "accepted"
        except WrongCodeError:
            return "wrong"
        except TooManyRequestsError:
            return "refused"

    outcomes = at_once(app, db, attempt, "SQLite serialises writers: the parallel tries are a PostgreSQL test")
    assert outcomes == {"wrong": 5, "refused": 95}, outcomes
    assert db.scalars(select(PhoneVerification)).one().tries == 5
    with pytest.raises(TooManyRequestsError):
        check(db, code)


def test_a_code_goes_at_night_and_past_the_daily_cap_or_not_at_all_once_stale(app, db):
    """The send window (08:00–21:00) and the daily cap keep unasked messages from
    waking people; a code someone just asked for goes at once, and a code the outbox
    could not send within its 10 minutes is void, never sent late (its code masked)."""
    night = datetime(2026, 6, 1, 14, 30, tzinfo=timezone.utc)  # 22:30 in Asia/Shanghai
    earlier = outbox.enqueue(db, key="earlier", phone=PHONE, template=VERIFICATION_CODE,
                             params={"sign": "县千人评议办", "code": "000000"})
    earlier.status, earlier.sent_at = OutboxStatus.sent, night - timedelta(hours=1)  # the day's cap of 1 is used
    send(db, now=night)
    fresh = db.scalars(select(OutboxMessage).where(OutboxMessage.key != "earlier")).one()
    fresh.created_at = night
    db.commit()
    sessions = app.extensions["pingyi.sessions"]
    sender = ConsoleSender(outbox.console_sink(sessions, keep_secrets=False))
    settings = DispatchSettings(daily_cap=1)  # the default window, 08:00–21:00
    report = dispatch(sessions, sender, "w1", settings, now=lambda: night + timedelta(minutes=1), sleep=lambda s: None)
    assert (report.sent, report.held) == (1, 0)
    _, code = send(db, now=night + timedelta(minutes=2))
    stale = db.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.pending)).one()
    stale.created_at = night + timedelta(minutes=2)
    db.commit()
    report = dispatch(sessions, sender, "w1", settings, now=lambda: night + timedelta(minutes=13), sleep=lambda s: None)
    assert (report.sent, report.held) == (0, 0)
    db.expire_all()
    stale = db.get(OutboxMessage, stale.id)
    assert stale.status == OutboxStatus.void and stale.last_error == outbox.STALE
    assert stale.params["code"] == SCRUBBED and code not in stale.text
