"""The durable SMS outbox (docs/rules.md §4.2): messages are rows, written in the same
transaction as what they announce; dispatch workers send them.

How a worker goes (`dispatch`):
1. claim a batch of due rows (pending and `not_before` passed, or `sending` with an
   expired lease: a worker that died), marking them `sending` with its name and the
   time, and commit. On PostgreSQL the claim reads with FOR UPDATE SKIP LOCKED, so
   several workers on several machines never claim the same row.
2. for each claimed row, in its own transaction: hold it back if it falls outside the
   send window or its phone reached the daily cap (back to pending, `not_before` at the
   next allowed time: held, never dropped); otherwise send it and record the outcome:
   sent; a transient error (429, 5xx, network) retried with exponential backoff until
   `max_attempts`; a permanent one failed at once, never retried.

A worker killed at any point leaves at most the message in flight sent but not marked
sent: its row is claimed again when the lease ends and sent a second time. Every other
claimed row was either recorded or never handed to the provider.
"""
from __future__ import annotations

import logging
import random
import time as clock
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from sms.senders import Message, PermanentSendError, Sender, TransientSendError, UncertainSendError
from sms.templates import render, scrub
from voting.lists.models import Campaign
from voting.outbox.models import ConsoleMessage, OutboxMessage, OutboxStatus
from voting.survey.models import RoundStatus, SurveyRound
from voting.core.models import utcnow


_log = logging.getLogger(__name__)


UNCERTAIN = "发送结果不明（服务商可能已收到），请向服务商核实后再决定是否重发 / outcome unknown, not resent"


def clock_time(text: str) -> time:
    """"08:00" as a time of day (settings store send windows as HH:MM)."""
    hours, minutes = str(text).split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class DispatchSettings:
    batch: int = 20  # rows claimed at a time
    lease: timedelta = timedelta(minutes=2)  # longer than any send may take
    max_attempts: int = 8
    backoff_base: float = 30.0  # seconds before the first retry, doubled each time
    backoff_cap: float = 3600.0
    window_start: time = time(8, 0)  # local time; messages wait outside the window
    window_end: time = time(21, 0)
    timezone: str = "Asia/Shanghai"
    daily_cap: int = 5  # messages per phone per local day (0: no cap)
    rate: float = 0.0  # messages per second per worker (0: as fast as the sender goes)
    # A campaign's own window and cap (its settings) win over the two above, which are
    # for messages of no campaign; False: these for every message (the demo's worker).
    campaign_limits: bool = True
    poll: float = 2.0  # seconds between looks when nothing is due

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> DispatchSettings:
        """From the app's SMS_* settings (voting/core/config.py); None overrides are ignored."""
        values = dict(
            window_start=clock_time(config["SMS_WINDOW_START"]), window_end=clock_time(config["SMS_WINDOW_END"]),
            timezone=config["TIMEZONE"], daily_cap=int(config["SMS_DAILY_CAP"]), rate=float(config["SMS_RATE"]),
            max_attempts=int(config["SMS_MAX_ATTEMPTS"]), lease=timedelta(seconds=float(config["SMS_LEASE_SECONDS"])),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0
    errors: list[str] = field(default_factory=list)


def enqueue(
    session: Session, *, key: str, phone: str, template: str, params: dict[str, str],
    campaign_id: int | None = None, not_before: datetime | None = None,
) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction (flush, no commit). The
    same key twice gives the first message back: a retried request announces once."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
    if existing is not None:
        return existing
    message = OutboxMessage(
        key=key, phone=phone, template=template, params=dict(params), text=render(template, params),
        campaign_id=campaign_id, status=OutboxStatus.pending, not_before=not_before or utcnow(),
    )
    session.add(message)
    session.flush()
    return message


def _live_rounds(now: datetime) -> Select[int]:
    """The survey rounds that take answers now (votes.is_open, in SQL)."""
    return select(SurveyRound.id).where(SurveyRound.status == RoundStatus.open, SurveyRound.closes_at > now)


def _round_live(now: datetime) -> ColumnElement[bool]:
    """A message of no survey round, or of one that takes answers now."""
    return or_(OutboxMessage.round_id.is_(None), OutboxMessage.round_id.in_(_live_rounds(now)))


def claim(session: Session, worker: str, now: datetime, settings: DispatchSettings) -> list[OutboxMessage]:
    """Claim up to `settings.batch` due rows for `worker` (flush; the caller commits).
    A message of a survey round that no longer takes answers is never claimed (the
    close or cancel, or the sweep `rounds.void_ended`, marks it void)."""
    due = and_(or_(
        and_(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.not_before <= now),
        and_(OutboxMessage.status == OutboxStatus.sending, OutboxMessage.claimed_at < now - settings.lease),
    ), _round_live(now))
    query = select(OutboxMessage).where(due).order_by(OutboxMessage.not_before, OutboxMessage.id).limit(settings.batch)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.scalars(query).all()
    for row in rows:
        row.status = OutboxStatus.sending
        row.claimed_at = now
        row.claimed_by = worker
    session.flush()
    return list(rows)


def next_window(now: datetime, settings: DispatchSettings) -> datetime | None:
    """None inside the send window; else when it next opens (UTC)."""
    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    start, end = settings.window_start, settings.window_end
    if start == end:
        return None  # no window: any time
    inside = start <= local.time() < end if start < end else (local.time() >= start or local.time() < end)
    if inside:
        return None
    opens = datetime.combine(local.date(), start, zone)
    if opens <= local:
        opens = datetime.combine(local.date() + timedelta(days=1), start, zone)
    return opens.astimezone(timezone.utc)


def _local_day(now: datetime, settings: DispatchSettings) -> tuple[datetime, datetime]:
    zone = ZoneInfo(settings.timezone)
    day: date = now.astimezone(zone).date()
    begin = datetime.combine(day, time(0, 0), zone)
    return begin.astimezone(timezone.utc), (begin + timedelta(days=1)).astimezone(timezone.utc)


def limits_for(session: Session, campaign_ids: Iterable[int | None], settings: DispatchSettings) -> dict[int | None, DispatchSettings]:
    """The window and cap for messages of each campaign: its own settings, or the
    worker's for messages of no campaign (and for all when `campaign_limits` is off).
    Resolved once per claimed batch, not once per message."""
    limits: dict[int | None, DispatchSettings] = {None: settings}
    if not settings.campaign_limits:
        return {cid: settings for cid in {None, *campaign_ids}}
    for campaign_id in set(campaign_ids) - {None}:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            limits[campaign_id] = settings
            continue
        rules = campaign.rules
        limits[campaign_id] = replace(
            settings, window_start=clock_time(rules.sms_window_start), window_end=clock_time(rules.sms_window_end),
            daily_cap=rules.sms_daily_cap,
        )
    return limits


def held_until(session: Session, message: OutboxMessage, now: datetime, settings: DispatchSettings) -> datetime | None:
    """When a message may go if not now: the send window, then the phone's daily cap
    (`settings` as `limits_for` gives them for the message's campaign)."""
    opens = next_window(now, settings)
    if opens is not None:
        return opens
    if settings.daily_cap:
        begin, end = _local_day(now, settings)
        sent_today = session.execute(
            select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.phone_hash == message.phone_hash, OutboxMessage.sent_at >= begin,
                OutboxMessage.sent_at < end,
            )
        ).scalar_one()
        if sent_today >= settings.daily_cap:
            tomorrow = end + timedelta(seconds=1)
            return next_window(tomorrow, settings) or tomorrow
    return None


def backoff(attempts: int, settings: DispatchSettings, rng: random.Random | None = None) -> timedelta:
    """Exponential, capped, with jitter so that workers retrying together spread out."""
    base = min(settings.backoff_cap, settings.backoff_base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * (0.5 + (rng or random).random() / 2))


def send_one(session: Session, message: OutboxMessage, sender: Sender, now: datetime, settings: DispatchSettings,
             report: DispatchReport) -> None:
    """Send one claimed message and record the outcome (flush; the caller commits)."""
    if message.round_id is not None and not _takes_answers(session, message.round_id, now):
        # Its round closed or was cancelled since the claim: it lost its purpose.
        message.status, message.last_error, message.status_at = OutboxStatus.void, "调查已结束或已取消，未发送", now
        message.claimed_at = message.claimed_by = None
        forget_secrets(message)
        session.flush()
        return
    hold = held_until(session, message, now, settings)
    if hold is not None:
        message.status, message.not_before = OutboxStatus.pending, hold
        message.claimed_at = message.claimed_by = None
        report.held += 1
        session.flush()
        return
    message.attempts += 1
    try:
        # A claimed message has its phone: retention erases the numbers and fails every
        # pending or sending message in one transaction.
        outgoing = Message(to=cast(str, message.phone), template=message.template, params=message.params,
                           text=message.text, key=message.key)
    except ValueError as error:  # a stored row no sender can take: fail it, keep going
        message.status, message.last_error = OutboxStatus.failed, str(error)[:500]
        message.claimed_at = message.claimed_by = None
        report.failed += 1
        forget_secrets(message)
        session.flush()
        return
    try:
        try:
            sent = sender.send(outgoing)
        except (TransientSendError, PermanentSendError, UncertainSendError):
            raise
        except Exception as error:  # noqa: BLE001 - a sender's own failure: retry, never crash the worker
            # The type and the place only: a sender's exception may quote the number or the text.
            where = traceback.extract_tb(error.__traceback__)[-1]
            _log.error("SMS sender %s failed on outbox message %s: %s at %s:%s", getattr(sender, "name", "?"),
                       message.id, type(error).__name__, where.filename, where.lineno)
            raise TransientSendError(f"{type(error).__name__}") from None
    except TransientSendError as error:
        message.last_error = str(error)[:500]
        if message.attempts >= settings.max_attempts:
            message.status = OutboxStatus.failed
            report.failed += 1
        else:
            message.status = OutboxStatus.pending
            message.not_before = now + backoff(message.attempts, settings)
            report.retried += 1
    except PermanentSendError as error:
        message.status, message.last_error = OutboxStatus.failed, str(error)[:500]
        report.failed += 1
    except UncertainSendError as error:
        # The provider may have it: set aside for the office to check, never resent blindly.
        message.status = OutboxStatus.failed
        message.last_error = f"{UNCERTAIN}: {error}"[:500]
        report.failed += 1
    else:
        message.status, message.provider_id = OutboxStatus.sent, sent.provider_id
        message.sent_at = message.status_at = now
        message.last_error = ""
        report.sent += 1
    message.claimed_at = message.claimed_by = None
    if message.status in (OutboxStatus.sent, OutboxStatus.failed):
        forget_secrets(message)
    session.flush()


def _takes_answers(session: Session, round_id: int, now: datetime) -> bool:
    return session.scalar(_live_rounds(now).where(SurveyRound.id == round_id)) is not None


def forget_secrets(message: OutboxMessage) -> None:
    """Blank a message's secret parameters (an evaluator's one-time password) in its
    row, once it went out or will never go: the row is kept for the office's counts,
    the password only as long as the message may still be sent."""
    scrubbed = scrub(message.template, message.params or {})
    if scrubbed is not None:
        message.params, message.text = scrubbed  # a new dict: the JSON column sees the change


def outstanding(session: Session, now: datetime) -> int:
    """Rows a drain must still wait for: due now, or claimed by some worker."""
    return session.execute(
        select(func.count()).select_from(OutboxMessage).where(
            or_(
                and_(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.not_before <= now),
                OutboxMessage.status == OutboxStatus.sending,
            ),
            _round_live(now),
        )
    ).scalar_one()


def dispatch(
    sessions: sessionmaker, sender: Sender, worker: str, settings: DispatchSettings, *,
    drain: bool = True, progress: Callable[[int], None] | None = None,
    now: Callable[[], datetime] = utcnow, sleep: Callable[[float], None] = clock.sleep,
    stop: Callable[[], bool] = lambda: False,
) -> DispatchReport:
    """Send what is due until nothing is left (`drain`) or `stop()` says so."""
    report = DispatchReport()
    last = 0.0
    while not stop():
        with sessions() as session:
            rows = claim(session, worker, now(), settings)
            claimed = [row.id for row in rows]
            limits = limits_for(session, [row.campaign_id for row in rows], settings)
            session.commit()
        if not claimed:
            if drain:
                with sessions() as session:
                    if not outstanding(session, now()):
                        return report
            sleep(settings.poll)
            continue
        for message_id in claimed:
            if settings.rate:
                wait = last + 1.0 / settings.rate - clock.monotonic()
                if wait > 0:
                    sleep(wait)
            last = clock.monotonic()
            with sessions() as session:
                message = session.get(OutboxMessage, message_id)
                if message is None or message.claimed_by != worker or message.status != OutboxStatus.sending:
                    continue  # our lease ended and another worker took it
                send_one(session, message, sender, now(), limits.get(message.campaign_id, settings), report)
                session.commit()
            if progress:
                progress(1)
    return report


def console_sink(sessions: sessionmaker, keep_secrets: bool) -> Callable[[Message], None]:
    """Where the console sender "delivers": a row of `ConsoleMessage`, committed at
    once in a session of its own (as a provider would have it, whatever the worker's
    transaction does next). The demo's stand-in for the citizens' phones keeps the
    links and codes (`keep_secrets`, outside production) so that a newcomer can open
    them; in production it keeps the text masked like the outbox's, so that no copy in
    the database opens a vote or a login."""

    def sink(message: Message) -> None:
        text = message.text
        if not keep_secrets:
            scrubbed = scrub(message.template, message.params or {})
            text = scrubbed[1] if scrubbed is not None else text
        with sessions() as session:
            session.add(ConsoleMessage(key=message.key, phone=message.to, text=text))
            session.commit()

    return sink


def pending_count(session: Session) -> int:
    return session.execute(
        select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status.in_([OutboxStatus.pending, OutboxStatus.sending])
        )
    ).scalar_one()


STATUS_CALLBACK = {
    "delivered": OutboxStatus.delivered,
    "undelivered": OutboxStatus.undelivered,
    "failed": OutboxStatus.undelivered,
    "sent": OutboxStatus.sent,
}


def record_status(session: Session, provider_id: str, status: str, now: datetime | None = None) -> OutboxMessage | None:
    """A provider's delivery report (Twilio's status callback). Unknown ids and
    intermediate states (queued, sending) change nothing; a later report never takes
    a delivered message back."""
    new = STATUS_CALLBACK.get((status or "").lower())
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == provider_id)) if provider_id else None
    if message is None or new is None:
        return message
    if message.status == OutboxStatus.delivered or message.status == new:
        return message
    if new == OutboxStatus.sent and message.status != OutboxStatus.sending:
        return message
    message.status, message.status_at = new, now or utcnow()
    session.flush()
    return message


def recent(session: Session, campaign_id: int | None, limit: int = 200) -> Iterable[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if campaign_id is not None:  # the campaign's messages, and those of none
        query = query.where(or_(OutboxMessage.campaign_id == campaign_id, OutboxMessage.campaign_id.is_(None)))
    return session.scalars(query).all()


def status_counts(session: Session, campaign_id: int | None) -> dict[OutboxStatus, int]:
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if campaign_id is not None:
        query = query.where(or_(OutboxMessage.campaign_id == campaign_id, OutboxMessage.campaign_id.is_(None)))
    found = dict(session.execute(query).all())
    return {status: int(found.get(status, 0)) for status in OutboxStatus}
