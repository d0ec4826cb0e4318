"""The durable SMS outbox (docs/rules.md §4.2): messages are rows, written in the same
transaction as what they announce; dispatch workers send them.

How a worker goes (`dispatch`):
1. claim a batch of due rows (pending and `not_before` passed, or `sending` with an
   expired lease: a worker that died), marking them `sending` with its name and the
   time, and commit. On PostgreSQL the claim reads with FOR UPDATE SKIP LOCKED, so
   several workers on several machines never claim the same row.
2. make the claimed rows ready, in one transaction: hold back those outside the send
   window or whose phone reached the daily cap (back to pending, `not_before` at the
   next allowed time: held, never dropped), void those whose round ended. A message of a
   template with a lifetime (a verification code someone is waiting for) is never held:
   it goes at once, whatever the hour, or is void once older than its lifetime.
3. the sender splits the ready messages into provider calls (a batch where the
   provider takes one: sms/senders.py); for each call, mark its rows handed over and
   commit, call, then record each message's outcome and commit: sent; a transient
   error (429, 5xx, network) retried with exponential backoff until `max_attempts`; a
   permanent one failed at once; a provider's limit per number or per day held to the
   next allowed time; an uncertain one (no answer) failed for the office to check.

A worker killed at any point loses nothing: a row claimed and not yet handed over is
claimed again when the lease ends; a row handed over with no outcome recorded may have
reached the provider, so it is set aside as uncertain (`give_up_on_handed`) and never
sent a second time.
"""
from __future__ import annotations

import logging
import random
import time as clock
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from sms.mainland import Receipt
from sms.senders import HeldSendError, Message, Outcome, Sender, Sent, TransientSendError, UncertainSendError
from sms.templates import TEMPLATES, render, scrub
from voting.lists.models import Campaign
from voting.outbox.models import ConsoleMessage, OutboxMessage, OutboxStatus
from voting.survey.models import RoundStatus, SurveyRound
from voting.core.clock import aware, day_bounds
from voting.core.models import utcnow
from voting.core.vault import vault_of


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
    # Provider calls a worker makes at once (a wave, handed over in one commit): a
    # worker that dies leaves at most one wave uncertain.
    parallel: int = 1
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
            parallel=int(config["SMS_PARALLEL"]),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0
    uncertain: int = 0  # handed over by a worker that died: set aside, not resent
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


def claim(session: Session, worker: str, now: datetime, settings: DispatchSettings,
          size: int | None = None) -> list[OutboxMessage]:
    """Claim up to `size` (`settings.batch`) due rows for `worker` (flush; the caller
    commits). A row handed to the provider by a worker that died is not claimed again
    (`give_up_on_handed` sets it aside).
    A message of a survey round that no longer takes answers is never claimed (the
    close or cancel, or the sweep `rounds.void_ended`, marks it void)."""
    due = and_(or_(
        and_(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.not_before <= now),
        and_(OutboxMessage.status == OutboxStatus.sending, OutboxMessage.claimed_at < now - settings.lease,
             OutboxMessage.handed_at.is_(None)),
    ), _round_live(now))
    chosen = select(OutboxMessage.id).where(due).order_by(OutboxMessage.not_before, OutboxMessage.id)
    chosen = chosen.limit(size or settings.batch)
    if session.get_bind().dialect.name == "postgresql":
        chosen = chosen.with_for_update(skip_locked=True)
    # One statement: the rows chosen, marked ours and read back.
    rows = session.scalars(
        update(OutboxMessage).where(OutboxMessage.id.in_(chosen.scalar_subquery()))
        .values(status=OutboxStatus.sending, claimed_at=now, claimed_by=worker, handed_at=None)
        .returning(OutboxMessage), execution_options={"populate_existing": True, "synchronize_session": False},
    ).all()
    return sorted(rows, key=lambda row: (aware(row.not_before), row.id))


HANDED_AND_LOST = "发送进程在交给服务商之后、记下结果之前中断"
STALE = "已过有效期（如验证码），未发送"


def give_up_on_handed(session: Session, now: datetime, settings: DispatchSettings) -> int:
    """Rows a worker handed to the provider and then died on (its lease over, no
    outcome): uncertain, failed for the office to check, never sent again; how many
    (flush; the caller commits). Their `claimed_by` stays, so that a worker that was
    only slow still records the provider's answer when it comes."""
    query = select(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.sending, OutboxMessage.handed_at.is_not(None),
        OutboxMessage.claimed_at < now - settings.lease,
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    lost = session.scalars(query).all()
    for row in lost:
        row.status, row.status_at = OutboxStatus.failed, now
        row.last_error = f"{UNCERTAIN}: {HANDED_AND_LOST}"[:500]
        forget_secrets(row)
    session.flush()
    return len(lost)


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


def next_day(now: datetime, settings: DispatchSettings) -> datetime:
    """The first allowed time of the next local day (a provider's limit per day)."""
    _, end = day_bounds(now, settings.timezone)
    tomorrow = end + timedelta(seconds=1)
    return next_window(tomorrow, settings) or tomorrow


def backoff(attempts: int, settings: DispatchSettings, rng: random.Random | None = None) -> timedelta:
    """Exponential, capped, with jitter so that workers retrying together spread out."""
    base = min(settings.backoff_cap, settings.backoff_base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * (0.5 + (rng or random).random() / 2))


def _release(message: OutboxMessage) -> None:
    message.claimed_at = message.claimed_by = None


@dataclass(frozen=True)
class Going:
    """A claimed message ready to hand over: its row's facts as they were claimed (the
    worker owns the row until it records an outcome) and the Message for the sender."""

    id: int
    campaign_id: int | None
    attempts: int  # before this attempt
    message: Message


def prepare(session: Session, rows: list[OutboxMessage], now: datetime,
            limits: Mapping[int | None, DispatchSettings], settings: DispatchSettings,
            report: DispatchReport) -> list[Going]:
    """The claimed rows that go now, in order; the others (flush; the caller commits)
    voided (their round ended since the claim, or a message with a lifetime older than
    it), held (the send window or the phone's
    daily cap: back to pending until the next allowed time) or failed (a stored row no
    sender can take). What this needs from the database is read once for all rows."""
    live = set(session.scalars(_live_rounds(now).where(
        SurveyRound.id.in_({row.round_id for row in rows if row.round_id is not None}))))
    begin, end = day_bounds(now, settings.timezone)
    hashes = {row.phone_hash for row in rows if row.phone_hash is not None}
    sent_today: Counter[str | None] = Counter(dict(session.execute(
        select(OutboxMessage.phone_hash, func.count()).where(
            OutboxMessage.phone_hash.in_(hashes), OutboxMessage.sent_at >= begin, OutboxMessage.sent_at < end,
        ).group_by(OutboxMessage.phone_hash)).all()) if hashes else {})
    going: list[Going] = []
    for row in rows:
        limit = limits.get(row.campaign_id, settings)
        if row.round_id is not None and row.round_id not in live:
            row.status, row.last_error, row.status_at = OutboxStatus.void, "调查已结束或已取消，未发送", now
            _release(row)
            forget_secrets(row)
            continue
        template = TEMPLATES.get(row.template)
        lifetime = template.lifetime if template is not None else None
        if lifetime is not None and now - aware(row.created_at) > lifetime:
            row.status, row.last_error, row.status_at = OutboxStatus.void, STALE, now
            _release(row)
            forget_secrets(row)
            continue
        hold = None
        if lifetime is None:  # a message someone waits for now goes now, or not at all
            hold = next_window(now, limit)
            if hold is None and limit.daily_cap and sent_today[row.phone_hash] >= limit.daily_cap:
                hold = next_day(now, limit)
        if hold is not None:
            row.status, row.not_before = OutboxStatus.pending, hold
            _release(row)
            report.held += 1
            continue
        try:
            # A claimed message has its phone: retention erases the numbers and fails every
            # pending or sending message in one transaction.
            message = Message(to=cast(str, row.phone), template=row.template, params=row.params, text=row.text,
                              key=row.key)
        except ValueError as error:
            row.attempts += 1
            row.status, row.last_error = OutboxStatus.failed, str(error)[:500]
            _release(row)
            report.failed += 1
            forget_secrets(row)
            continue
        sent_today[row.phone_hash] += 1  # the cap counts what goes in this batch too
        going.append(Going(row.id, row.campaign_id, row.attempts, message))
    session.flush()
    return going


def hand_over(session: Session, going: list[Going], sender: Sender, worker: str, now: datetime) -> set[int]:
    """Mark messages as given to the provider, before the call (the caller commits at
    once): from here a worker that dies leaves them uncertain (`give_up_on_handed`),
    never sent again. The lease starts again here: a call takes at most one timeout.
    One statement; the ids of the rows still ours (a row whose lease ran out and that
    another worker claimed is left to it)."""
    if not going:
        return set()
    handed = session.execute(_HAND_OVER, {"ids": [g.id for g in going], "worker": worker, "now": now,
                                          "provider": sender.name}).scalars()
    return set(handed)


# Core, with an expanding IN: compiled once, whatever the number of ids.
_OUTBOX = cast(Table, OutboxMessage.__table__)
_HAND_OVER = (
    _OUTBOX.update().where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)), _OUTBOX.c.claimed_by == bindparam("worker"),
                           _OUTBOX.c.status == OutboxStatus.sending)
    .values(handed_at=bindparam("now"), claimed_at=bindparam("now"), provider=bindparam("provider"),
            attempts=_OUTBOX.c.attempts + 1)
    .returning(_OUTBOX.c.id)
)


def send_call(sender: Sender, messages: list[Message]) -> list[Outcome]:
    """One provider call: each message's outcome. A sender's own failure (a bug, an
    exception it should have mapped) is every message's transient error, logged with
    its type and place only (a sender's exception may quote a number or the text)."""
    try:
        outcomes = sender.send_batch(messages)
    except Exception as error:  # noqa: BLE001 - a sender's own failure: retry, never crash the worker
        where = traceback.extract_tb(error.__traceback__)[-1]
        _log.error("SMS sender %s failed on %d message(s): %s at %s:%s", getattr(sender, "name", "?"),
                   len(messages), type(error).__name__, where.filename, where.lineno)
        return [TransientSendError(type(error).__name__) for _ in messages]
    if len(outcomes) != len(messages):
        _log.error("SMS sender %s gave %d outcomes for %d messages", sender.name, len(outcomes), len(messages))
        return [UncertainSendError(f"短信服务商的回答与所发条数不符（{len(outcomes)} / {len(messages)}）")
                for _ in messages]
    return outcomes


def outcome_values(going: Going, outcome: Outcome, now: datetime, settings: DispatchSettings,
                   report: DispatchReport) -> dict[str, Any]:
    """The columns a handed-over message's row changes with its outcome."""
    attempts = going.attempts + 1
    if isinstance(outcome, Sent):
        report.sent += 1
        values: dict[str, Any] = {"status": OutboxStatus.sent, "attempts": attempts, "provider_id": outcome.provider_id,
                                  "sent_at": now, "status_at": now, "last_error": ""}
    elif isinstance(outcome, HeldSendError):
        # A provider's limit per number or per day: not an attempt, and never a failure.
        report.held += 1
        wait = now + outcome.wait if outcome.wait is not None else next_day(now, settings)
        return {"status": OutboxStatus.pending, "attempts": going.attempts, "not_before": wait,
                "last_error": str(outcome)[:500]}
    elif isinstance(outcome, TransientSendError) and attempts < settings.max_attempts:
        report.retried += 1
        return {"status": OutboxStatus.pending, "attempts": attempts, "not_before": now + backoff(attempts, settings),
                "last_error": str(outcome)[:500]}
    else:
        # Refused for good, out of attempts, or uncertain (the provider may have it: set
        # aside for the office to check, never resent blindly).
        report.failed += 1
        said = f"{UNCERTAIN}: {outcome}" if isinstance(outcome, UncertainSendError) else str(outcome)
        values = {"status": OutboxStatus.failed, "attempts": attempts, "status_at": now, "last_error": said[:500]}
    # Sent, or never will be: the secrets go (the link's token, the code, a password).
    message = going.message
    scrubbed = scrub(message.template, message.params)
    if scrubbed is not None:
        values["params"], values["text"] = scrubbed
    return values


def record_outcomes(session: Session, answered: list[tuple[Going, Outcome]], worker: str, now: datetime,
                    limits: Mapping[int | None, DispatchSettings], settings: DispatchSettings,
                    report: DispatchReport) -> None:
    """The outcomes of a call, each on its row, one statement for the rows that change
    the same columns (the caller commits). A row is written while `worker` holds it:
    still sending, or set aside as uncertain while the call lasted (claimed_by is
    cleared only by an outcome, so the provider's answer, the truth, wins)."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for going, outcome in answered:
        values = outcome_values(going, outcome, now, limits.get(going.campaign_id, settings), report)
        shapes.setdefault(tuple(sorted(values)), []).append({"row_id": going.id, **values})
    for names, rows in shapes.items():
        statement = (_OUTBOX.update().where(_OUTBOX.c.id == bindparam("row_id"), _OUTBOX.c.claimed_by == worker)
                     .values({**{name: bindparam(name) for name in names}, "claimed_at": None, "claimed_by": None}))
        session.execute(statement, rows)


def send_ready(sessions: sessionmaker, sender: Sender, worker: str, ready: list[Going],
               limits: Mapping[int | None, DispatchSettings], settings: DispatchSettings, report: DispatchReport,
               *, now: Callable[[], datetime] = utcnow, pace: Callable[[int], float] = lambda n: 0.0,
               sleep: Callable[[float], None] = clock.sleep, progress: Callable[[int], None] | None = None,
               pool: ThreadPoolExecutor | None = None) -> None:
    """Send the messages `worker` claimed and `prepare` made ready: for each wave of
    the provider calls the sender makes of them (`waves`: several at once with a
    `pool`), hand its messages over (commit), make the calls, and record each message's
    outcome. One transaction records a wave's outcomes and hands the next wave's
    messages over, so that sending costs one commit a wave; before a wait (`pace(n)`:
    the seconds to wait before n messages) the outcomes are committed alone, so that no
    answer waits unrecorded. Only this thread touches the database: the pool's threads
    make the provider calls."""
    by_key = {going.message.key: going for going in ready}
    answered: list[tuple[Going, Outcome]] = []  # the last call's outcomes, not yet recorded

    def record_answered(session: Session) -> None:
        nonlocal answered
        record_outcomes(session, answered, worker, now(), limits, settings, report)
        if progress and answered:
            progress(len(answered))
        answered = []

    calls = [[by_key[message.key] for message in call] for call in sender.calls([going.message for going in ready])]
    for wave in waves(calls, settings.parallel, sender.max_batch):
        wait = pace(sum(len(call) for call in wave))
        if wait > 0:
            if answered:
                with sessions() as session:
                    record_answered(session)
                    session.commit()
            sleep(wait)
        with sessions() as session:
            record_answered(session)
            ours = hand_over(session, [going for call in wave for going in call], sender, worker, now())
            session.commit()
        handed = [mine for mine in ([g for g in call if g.id in ours] for call in wave) if mine]
        if len(handed) > 1 and pool is not None:
            results = list(pool.map(lambda call: send_call(sender, [g.message for g in call]), handed))
        else:
            results = [send_call(sender, [g.message for g in call]) for call in handed]
        answered = [pair for call, outcomes in zip(handed, results) for pair in zip(call, outcomes)]
    if answered:
        with sessions() as session:
            record_answered(session)
            session.commit()


def waves(calls: list[list[Going]], parallel: int, most: int) -> list[list[list[Going]]]:
    """Consecutive calls made at once: up to `parallel` calls of at most `most`
    messages in all. A wave is handed over in one commit and its calls go in
    parallel, so a worker that dies leaves at most one wave uncertain."""
    found: list[list[list[Going]]] = []
    for call in calls:
        last = found[-1] if found else None
        if last is not None and len(last) < parallel and sum(len(c) for c in last) + len(call) <= most:
            last.append(call)
        else:
            found.append([call])
    return found


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
    allowed = [0.0]  # when the next call may start

    def pace(count: int) -> float:
        """At most `settings.rate` messages a second: the seconds to wait before a call
        of `count` (a call of n messages lets the next one start n / rate later)."""
        if not settings.rate:
            return 0.0
        start = max(allowed[0], clock.monotonic())
        allowed[0] = start + count / settings.rate
        return start - clock.monotonic()

    if settings.parallel < 1:
        raise ValueError(f"parallel must be at least 1, not {settings.parallel}")
    # The provider calls of a wave go at once on these threads; the database stays on this one.
    pool = ThreadPoolExecutor(settings.parallel, thread_name_prefix="sms-call") if settings.parallel > 1 else None
    try:
        size = max(settings.batch, sender.max_batch)
        while not stop():
            with sessions() as session:
                report.uncertain += give_up_on_handed(session, now(), settings)
                rows = claim(session, worker, now(), settings, size)
                limits = limits_for(session, [row.campaign_id for row in rows], settings)
                ready = prepare(session, rows, now(), limits, settings, report)
                session.commit()
            if not rows:
                if drain:
                    with sessions() as session:
                        if not outstanding(session, now()):
                            return report
                sleep(settings.poll)
                continue
            if progress and len(rows) > len(ready):
                progress(len(rows) - len(ready))
            send_ready(sessions, sender, worker, ready, limits, settings, report, now=now, pace=pace, sleep=sleep,
                       progress=progress, pool=pool)
        return report
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


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


@dataclass
class ReceiptReport:
    delivered: int = 0
    undelivered: int = 0
    unchanged: int = 0  # a replay, or a message already delivered
    unknown: int = 0  # no message of this provider with that id and number


def record_receipts(session: Session, provider: str, receipts: Iterable[Receipt],
                    now: datetime | None = None) -> ReceiptReport:
    """A mainland provider's delivery receipts (pushed or pulled): each one finds its
    message by the provider, its id there and the number (Alibaba's BizId is one per
    call), and marks it delivered, or undelivered with the carrier's reason. A receipt
    for an unknown message, a replayed one, or any receipt for a message already
    delivered changes nothing. Flush; the caller commits."""
    report = ReceiptReport()
    lookup = vault_of(session).lookup
    for receipt in receipts:
        message = session.scalar(select(OutboxMessage).where(
            OutboxMessage.provider == provider, OutboxMessage.provider_id == receipt.provider_id,
            OutboxMessage.phone_hash == lookup(receipt.phone),
        ).limit(1))
        if message is None:
            report.unknown += 1
            continue
        new = OutboxStatus.delivered if receipt.delivered else OutboxStatus.undelivered
        # Only forward: sent → delivered or undelivered, undelivered → delivered (a
        # carrier that retried); never back from delivered.
        if message.status not in (OutboxStatus.sent, OutboxStatus.undelivered) or message.status == new:
            report.unchanged += 1
            continue
        message.status, message.status_at = new, receipt.at or now or utcnow()
        message.delivery_error = "" if receipt.delivered else f"{receipt.code} {receipt.reason}".strip()[:500]
        if receipt.delivered:
            report.delivered += 1
        else:
            report.undelivered += 1
    session.flush()
    return report


@dataclass(frozen=True)
class AwaitingReceipt:
    """A message sent through a provider whose receipt has not come: what asking for it takes."""

    id: int
    phone: str
    provider_id: str
    sent_at: datetime


def awaiting_receipts(session: Session, provider: str, now: datetime, *, after: timedelta,
                      within: timedelta, limit: int = 1000) -> list[AwaitingReceipt]:
    """Messages `provider` took between `within` and `after` ago that no receipt has
    reached yet (oldest first): for a provider whose receipts can be asked for one by
    one (Alibaba's QuerySendDetails) when its push did not come."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.phone, OutboxMessage.provider_id, OutboxMessage.sent_at).where(
            OutboxMessage.provider == provider, OutboxMessage.status == OutboxStatus.sent,
            OutboxMessage.provider_id.is_not(None), OutboxMessage.phone.is_not(None),
            OutboxMessage.sent_at <= now - after, OutboxMessage.sent_at > now - within,
        ).order_by(OutboxMessage.sent_at, OutboxMessage.id).limit(limit)
    ).all()
    return [AwaitingReceipt(row.id, row.phone, row.provider_id, aware(row.sent_at)) for row in rows]


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
