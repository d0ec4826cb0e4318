"""The online round's secret ballots (SPEC §1 steps 6-7, §4; issue 5): the ballot's
candidates, the one ballot per evaluator with its receipt, the public receipt check,
the review office's turnout, reminders and close, the tallies that become the online
score (网络评价, round C.NET), and the published final lists.

Secrecy, even from whoever runs the database: a Ballot and its marks name no
evaluator, no session and no time. What says that an evaluator has voted (BallotCast)
names no ballot, and is not written with the ballot: the transaction that writes it
holds the ballot only sealed (PendingBallot: encrypted under a key the database does not
hold). A move (`move_pending`, a background task once BATCH ballots wait, and every
one left at the close) opens at least BATCH of them at once, shuffles them and writes
them into the ballot box in a transaction of its own, deleting the sealed copies: what
the database keeps about a ballot (PostgreSQL's xmin, the rows' order, the batch) leads
no nearer to its evaluator than "one of the BATCH or more who voted between two moves".
The guarantee that a ballot is counted if and only if its evaluator is marked as having
voted holds at every step: the sealed ballot and the mark go in together, a move is one
transaction (a crash leaves the sealed copies where they were), and the close moves
what is left in the transaction that closes the round, before anything is counted.

Nothing here logs. Every function flushes and never commits: the request or the
command commits once."""
from __future__ import annotations

import hashlib
import json
import random
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, DateTime, Integer, and_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from scoring import columns as C
from scoring.settings import RuleSettings
from sms.templates import ONLINE_REMINDER
from sms.tokens import CODE_ALPHABET, normalize_code
from voting.db import bulk_insert
from voting.errors import DomainError, NotFoundError
from voting.models import (
    Ballot,
    BallotCast,
    BallotMark,
    Campaign,
    Candidate,
    Choice,
    Evaluator,
    EvaluatorKind,
    OnlineRound,
    PendingBallot,
    Result,
    RoundStatus,
    Section,
    Unit,
    VoteCount,
    utcnow,
)
from voting.services import audit, outbox
from voting.vault import vault_of

RECEIPT_LENGTH = 16  # symbols of CODE_ALPHABET: about 79 bits
BATCH = 20  # ballots moved into the ballot box together, at the least
_SEAL_AAD = b"pingyi ballot v1"  # a sealed ballot cannot be passed off as a phone or a code


# ---- named errors ---------------------------------------------------------------------------


class BallotInvalidError(DomainError):
    """A ballot that breaks the rules; nothing of it is stored."""

    status = 422


class WrongCountError(BallotInvalidError):
    def __init__(self, label: str, want: int, got: int) -> None:
        self.label, self.want, self.got = label, want, got
        super().__init__(f"“{label}”须恰好选 {want} 个，现在选了 {got} 个。")


class UnknownCandidateError(BallotInvalidError):
    def __init__(self) -> None:
        super().__init__("选票中有不在候选名单上的科室，请刷新页面后重新填写。")


class DuplicateCandidateError(BallotInvalidError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} 被评价了不止一次，每个科室只能选一项。")


class MissingCandidateError(BallotInvalidError):
    def __init__(self, names: list[str]) -> None:
        shown = "、".join(names[:3]) + (f" 等 {len(names)} 个科室" if len(names) > 3 else "")
        super().__init__(f"{shown}还没有评价，每个候选科室都须选一项。")


class BadChoiceError(BallotInvalidError):
    def __init__(self) -> None:
        super().__init__("每个科室只能选“满意”“基本满意”或“不满意”中的一项。")


class AlreadyCastError(DomainError):
    status = 409

    def __init__(self) -> None:
        super().__init__("您的选票已经提交，每位评价人只能提交一次。感谢您的参与！")


class OnlineRoundClosedError(DomainError):
    status = 410

    def __init__(self) -> None:
        super().__init__("网络评价已经截止，不再接受选票。感谢您的关注！")


class NoCandidatesError(DomainError):
    status = 409

    def __init__(self) -> None:
        super().__init__("候选名单尚未确定，暂时不能评价。")


# ---- the round and its candidates -------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    """SQLite hands times back without their zone: they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _hour(moment: datetime) -> datetime:
    return _aware(moment).astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def online_round(session: Session, campaign: Campaign) -> OnlineRound | None:
    return session.scalar(select(OnlineRound).where(OnlineRound.campaign_id == campaign.id))


def is_open(online: OnlineRound, now: datetime | None = None) -> bool:
    return online.status is RoundStatus.open and (now or utcnow()) < _aware(online.closes_at)


@dataclass(frozen=True)
class BallotCandidate:
    section_id: int
    unit: str
    section: str

    @property
    def name(self) -> str:
        return f"{self.unit} {self.section}"


def ballot_candidates(session: Session, campaign_id: int) -> list[BallotCandidate]:
    """The fixed candidate list in a neutral order: by unit number, then section
    number (the list each candidate came from is not part of it)."""
    rows = session.execute(
        select(Section.id, Unit.name, Section.name)
        .select_from(Candidate).join(Section, Candidate.section_id == Section.id).join(Unit)
        .where(Candidate.campaign_id == campaign_id)
        .order_by(Unit.number.asc().nulls_last(), Unit.id, Section.number.asc().nulls_last(), Section.id)
    ).all()
    return [BallotCandidate(*row) for row in rows]


@dataclass(frozen=True)
class BallotRules:
    satisfied: int
    unsatisfied: int


def ballot_rules(rules: RuleSettings, candidates: int) -> BallotRules:
    """Exactly `ballot_satisfied` 满意 and `ballot_unsatisfied` 不满意 (the campaign's
    rules); fewer where there are fewer candidates (as voting.synthetic draws them)."""
    satisfied = min(rules.ballot_satisfied, candidates)
    return BallotRules(satisfied, min(rules.ballot_unsatisfied, candidates - satisfied))


# ---- one ballot --------------------------------------------------------------------------------


def check_marks(candidates: list[BallotCandidate], rules: BallotRules, marks: Iterable[tuple[int, Choice]]) -> dict[int, Choice]:
    """The ballot's marks by section id, or the named error: every candidate once,
    nothing else, and the counts of the rules."""
    known = {c.section_id: c for c in candidates}
    chosen: dict[int, Choice] = {}
    for section_id, choice in marks:
        if section_id not in known:
            raise UnknownCandidateError()
        if section_id in chosen:
            raise DuplicateCandidateError(known[section_id].name)
        if not isinstance(choice, Choice):
            raise BadChoiceError()
        chosen[section_id] = choice
    missing = [c.name for c in candidates if c.section_id not in chosen]
    if missing:
        raise MissingCandidateError(missing)
    counts = Counter(chosen.values())
    for choice, want in ((Choice.satisfied, rules.satisfied), (Choice.unsatisfied, rules.unsatisfied)):
        if counts[choice] != want:
            raise WrongCountError(choice.label, want, counts[choice])
    return chosen


def receipt_code(salt: str, round_id: int, marks: dict[int, Choice]) -> str:
    """The receipt: a hash of the ballot's marks and its salt, as 16 symbols of the
    typing-safe code alphabet (no 0/O/1/I/L)."""
    content = f"{salt}|{round_id}|" + ",".join(f"{sid}:{marks[sid].value}" for sid in sorted(marks))
    number = int.from_bytes(hashlib.sha256(content.encode("utf-8")).digest(), "big")
    symbols = []
    for _ in range(RECEIPT_LENGTH):
        number, digit = divmod(number, len(CODE_ALPHABET))
        symbols.append(CODE_ALPHABET[digit])
    return "".join(symbols)


def grouped(code: str) -> str:
    """ABCD EFGH JKMN PQRS: easier to copy down and to read out."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def submit_ballot(
    session: Session, evaluator: Evaluator, marks: Iterable[tuple[int, Choice]], now: datetime | None = None,
) -> str:
    """Store the evaluator's one ballot in the session's transaction; its receipt code
    (the CLI's and the tests' way; the ballot page checks the marks itself and calls
    store_ballot). Nothing is stored when any check fails."""
    now = now or utcnow()
    # FOR SHARE on PostgreSQL: a close waits for ballots being cast, and a ballot cast
    # after a close sees it.
    query = select(OnlineRound).where(OnlineRound.id == evaluator.round_id).with_for_update(read=True)
    online = session.scalars(query.execution_options(populate_existing=True)).one()
    if not is_open(online, now):
        raise AlreadyCastError() if has_cast(session, evaluator) else OnlineRoundClosedError()
    candidates = ballot_candidates(session, online.campaign_id)
    if not candidates:
        raise NoCandidatesError()
    try:
        chosen = check_marks(candidates, ballot_rules(online.campaign.rules, len(candidates)), marks)
    except BallotInvalidError:
        # A ballot already in is the answer, whatever this one holds; a valid second
        # ballot is refused by the "has voted" row's key below (no query up front).
        if has_cast(session, evaluator):
            raise AlreadyCastError() from None
        raise

    stored = store_ballot(session.connection(), evaluator.id, online.id, chosen, now)
    session.expire(evaluator, ["password_hash"])
    return stored.receipt


@dataclass(frozen=True)
class Stored:
    receipt: str
    waiting: int  # sealed ballots of the round waiting for a move, this one included

    @property
    def move_due(self) -> bool:
        """Time to queue a move: at every BATCH-th sealed ballot waiting (once, not for
        each ballot that comes in while a move is under way; one missed by two ballots
        counting at once is made up at the next multiple or by the sweep)."""
        return self.waiting >= BATCH and self.waiting % BATCH == 0


def seal_ballot(connection: Connection | Session, round_id: int, salt: str, receipt: str,
                chosen: dict[int, Choice]) -> str:
    """The ballot as the pending store keeps it: its salt, receipt and marks, encrypted
    (the vault's AES-GCM under PHONE_KEY, bound to its round)."""
    content = json.dumps({"salt": salt, "receipt": receipt,
                          "marks": [[sid, choice.value] for sid, choice in chosen.items()]}, separators=(",", ":"))
    return vault_of(connection).seal(content, _SEAL_AAD + b"|" + str(round_id).encode())


def open_sealed(connection: Connection | Session, round_id: int, sealed: str) -> tuple[str, str, dict[int, Choice]]:
    """salt, receipt and marks of a sealed ballot."""
    content = json.loads(vault_of(connection).open(sealed, _SEAL_AAD + b"|" + str(round_id).encode()))
    return content["salt"], content["receipt"], {int(sid): Choice(value) for sid, value in content["marks"]}


def store_ballot(connection: Connection, evaluator_id: int, round_id: int, chosen: dict[int, Choice],
                 now: datetime | None = None) -> Stored:
    """Store a checked ballot (`chosen`, from check_marks) for the evaluator: its receipt
    code, and how many sealed ballots of the round now wait for a move (the caller
    queues one at every BATCH-th: Stored.move_due). The database decides,
    whatever was read before: the "has voted" row goes in only while the round is open
    (status and closing time, read FOR SHARE on PostgreSQL: a close waits for a ballot
    being stored, and a ballot stored after a close sees it) and only once per
    evaluator (its primary key, ON CONFLICT DO NOTHING: the loser of concurrent submits
    gets AlreadyCastError); then the evaluator's password is consumed and the ballot
    goes in sealed (PendingBallot). Otherwise AlreadyCastError or
    OnlineRoundClosedError, and nothing is stored.

    PostgreSQL: one statement (data-modifying WITH clauses, each step only if the one
    before went in), atomic by itself on an autocommit connection (the ballot page's)
    or joining the caller's transaction. Elsewhere (SQLite, whose one writer
    serialises transactions): the same steps as statements in the caller's
    transaction, which the caller commits."""
    now = now or utcnow()
    hour = _hour(now)
    salt = secrets.token_hex(16)
    receipt = receipt_code(salt, round_id, chosen)
    sealed = seal_ballot(connection, round_id, salt, receipt, chosen)
    values = {"evaluator_id": evaluator_id, "round_id": round_id, "now": now, "hour": hour,
              "pending_id": secrets.token_hex(16), "sealed": sealed}
    if connection.dialect.name == "postgresql":
        stored, is_open_, had, waiting = connection.execute(_STORE_PG, {**values, "open": RoundStatus.open.value}).one()
        if stored:
            return Stored(receipt, waiting + 1)
        if had or is_open_:  # in before, or a concurrent submit's went in first
            raise AlreadyCastError()
        raise OnlineRoundClosedError()
    if connection.execute(_CAST_IF_OPEN, values).scalar() is None:
        has = connection.execute(select(BallotCast.evaluator_id).where(BallotCast.evaluator_id == evaluator_id)).first()
        raise AlreadyCastError() if has is not None else OnlineRoundClosedError()
    accounts = Evaluator.__table__
    connection.execute(update(accounts).where(accounts.c.id == evaluator_id).values(password_hash=None))
    connection.execute(insert(PendingBallot.__table__).values(id=values["pending_id"], round_id=round_id, sealed=sealed))
    return Stored(receipt, _waiting(connection, round_id))


def _waiting(connection: Connection | Session, round_id: int) -> int:
    return connection.execute(
        select(func.count()).select_from(PendingBallot).where(PendingBallot.round_id == round_id)
    ).scalar_one()


# PostgreSQL: the whole ballot as one statement, one round trip. The main SELECT sees
# the tables as they were before the statement: `had` is a ballot in before it, and
# `waiting` the sealed ballots before this one.
_STORE_PG = text(
    "WITH open_round AS ("
    " SELECT id FROM online_round WHERE id = :round_id AND status = :open AND closes_at > :now FOR SHARE"
    "), cast_row AS ("
    " INSERT INTO ballot_cast (evaluator_id, round_id, cast_hour) SELECT :evaluator_id, id, :hour FROM open_round"
    " ON CONFLICT (evaluator_id) DO NOTHING RETURNING evaluator_id"
    "), consumed AS ("
    " UPDATE evaluator SET password_hash = NULL WHERE id IN (SELECT evaluator_id FROM cast_row)"
    "), pending AS ("
    " INSERT INTO pending_ballot (id, round_id, sealed) SELECT :pending_id, :round_id, :sealed FROM cast_row"
    ") SELECT EXISTS (SELECT 1 FROM cast_row), EXISTS (SELECT 1 FROM open_round),"
    " EXISTS (SELECT 1 FROM ballot_cast WHERE evaluator_id = :evaluator_id),"
    " (SELECT count(*) FROM pending_ballot WHERE round_id = :round_id)"
).bindparams(bindparam("now", type_=DateTime(timezone=True)), bindparam("hour", type_=DateTime(timezone=True)))

# Elsewhere: the "has voted" row only while the round is open, built once.
_CAST_IF_OPEN = (
    sqlite_insert(BallotCast.__table__)
    .from_select(
        ["evaluator_id", "round_id", "cast_hour"],
        select(bindparam("evaluator_id", type_=Integer), OnlineRound.id, bindparam("hour", type_=DateTime(timezone=True)))
        .where(OnlineRound.id == bindparam("round_id"), OnlineRound.status == RoundStatus.open,
               OnlineRound.closes_at > bindparam("now", type_=DateTime(timezone=True))),
    )
    .on_conflict_do_nothing(index_elements=[BallotCast.evaluator_id])
    .returning(BallotCast.evaluator_id)
)


# ---- the ballot box: moves of shuffled batches -------------------------------------------------


def move_pending(session: Session, round_id: int, *, final: bool = False) -> int:
    """Move the round's sealed ballots into the ballot box, in the session's transaction
    (the caller commits): how many moved. Only BATCH or more at once; `final` (the
    close) moves whatever is left, and when that is fewer than BATCH, moves the last
    batch again with them, so no batch is ever smaller than BATCH (unless the whole
    round has fewer ballots).

    Moves of one round never run at the same time (`_one_mover`), and hold up no
    ballot being cast: the sealed ballots are claimed by deleting them (DELETE …
    RETURNING takes those committed; one cast meanwhile waits for the next move). If
    the move fails anywhere after, its transaction rolls back and they are where they
    were; a ballot is never in both places or in neither. The close calls this with the
    round's row locked (no ballot in flight) and `final`, which waits for a move under
    way instead of leaving the work to it."""
    if not _one_mover(session, round_id, wait=final):
        return 0  # a move of this round is under way: it, or the next, takes these too
    waiting = _waiting(session, round_id)
    if waiting == 0 or (waiting < BATCH and not final):
        return 0
    table = PendingBallot.__table__
    claimed = session.execute(delete(table).where(table.c.round_id == round_id).returning(table.c.sealed)).scalars().all()
    ballots = [open_sealed(session, round_id, sealed) for sealed in claimed]
    batch = session.scalar(select(func.max(Ballot.batch)).where(Ballot.round_id == round_id)) or 0
    if len(ballots) < BATCH and batch:
        ballots += _take_back(session, round_id, batch)
    else:
        batch += 1
    _write(session, round_id, batch, ballots)
    return len(claimed)


_MOVER_LOCKS = 0x62616C6C  # PostgreSQL advisory locks' first key: "ball"


def _one_mover(session: Session, round_id: int, *, wait: bool) -> bool:
    """PostgreSQL: this transaction holds the round's mover lock (an advisory lock, not
    a row lock: ballots being cast never wait for a move); with `wait`, once a move
    under way has ended, else False at once if one is. SQLite: its one writer
    serialises the moves already."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    got = session.execute(text(f"SELECT {function}(:space, :round_id)"),
                          {"space": _MOVER_LOCKS, "round_id": round_id}).scalar()
    return wait or bool(got)


def _take_back(session: Session, round_id: int, batch: int) -> list[tuple[str, str, dict[int, Choice]]]:
    """The ballots of the round's batch `batch`, deleted from the ballot box to be
    written again (new ids, a new order) with a final handful."""
    taken: dict[str, tuple[str, str, dict[int, Choice]]] = {
        ballot_id: (salt, receipt, {})
        for ballot_id, salt, receipt in session.execute(
            select(Ballot.id, Ballot.salt, Ballot.receipt).where(Ballot.round_id == round_id, Ballot.batch == batch)
        )
    }
    for ballot_id, section_id, choice in session.execute(
        select(BallotMark.ballot_id, BallotMark.section_id, BallotMark.choice).where(BallotMark.ballot_id.in_(list(taken)))
    ):
        taken[ballot_id][2][section_id] = choice
    session.execute(delete(BallotMark).where(BallotMark.ballot_id.in_(list(taken))))
    session.execute(delete(Ballot).where(Ballot.id.in_(list(taken))))
    return list(taken.values())


def _write(session: Session, round_id: int, batch: int, ballots: list[tuple[str, str, dict[int, Choice]]]) -> None:
    """The ballots into the box in a random order, each with a new random id: the rows'
    order and ids say nothing of the order they were cast in."""
    random.SystemRandom().shuffle(ballots)
    rows, marks = [], []
    for salt, receipt, chosen in ballots:
        ballot_id = secrets.token_hex(16)
        rows.append((ballot_id, round_id, receipt, salt, batch))
        marks.extend((ballot_id, sid, choice) for sid, choice in chosen.items())
    bulk_insert(session, Ballot.__table__, ["id", "round_id", "receipt", "salt", "batch"], rows)
    bulk_insert(session, BallotMark.__table__, ["ballot_id", "section_id", "choice"], marks)


def rounds_to_move(session: Session) -> list[int]:
    """Rounds with BATCH or more sealed ballots waiting (the sweep's work; a closed
    round has none: its close moved them)."""
    return list(session.scalars(
        select(PendingBallot.round_id).group_by(PendingBallot.round_id).having(func.count() >= BATCH)
    ))
def has_cast(session: Session, evaluator: Evaluator) -> bool:
    return session.get(BallotCast, evaluator.id) is not None


@dataclass(frozen=True)
class ReceiptCheck:
    year: int
    counted: bool  # the round is closed: the ballot is in the online scores


def check_receipt(session: Session, typed: str) -> ReceiptCheck | None:
    """What the public page says about a receipt: that its ballot is in (in the ballot
    box, or sealed and waiting for a move), and whether the round is closed. Never the
    ballot's marks (a receipt that showed them would let someone buy or force a vote
    and check it), nor when it came in."""
    code = normalize_code(typed)
    row = session.execute(
        select(Campaign.year, OnlineRound.status).select_from(Ballot)
        .join(OnlineRound, Ballot.round_id == OnlineRound.id).join(Campaign, OnlineRound.campaign_id == Campaign.id)
        .where(Ballot.receipt == code)
    ).first()
    if row is not None:
        return ReceiptCheck(row.year, row.status is RoundStatus.closed)
    # A sealed ballot's receipt is sealed too: open those waiting (fewer than BATCH
    # per open round while moves run).
    for round_id, sealed, year in session.execute(
        select(PendingBallot.round_id, PendingBallot.sealed, Campaign.year)
        .join(OnlineRound, PendingBallot.round_id == OnlineRound.id).join(Campaign, OnlineRound.campaign_id == Campaign.id)
    ):
        if open_sealed(session, round_id, sealed)[1] == code:
            return ReceiptCheck(year, False)
    return None


def is_receipt(typed: str) -> bool:
    code = normalize_code(typed)
    return len(code) == RECEIPT_LENGTH and all(ch in CODE_ALPHABET for ch in code)


def altered_ballots(session: Session, online: OnlineRound) -> int:
    """How many ballots' marks no longer give their receipt (an auditor's check)."""
    marks: dict[str, dict[int, Choice]] = {}
    for ballot_id, section_id, choice in session.execute(
        select(BallotMark.ballot_id, BallotMark.section_id, BallotMark.choice)
        .join(Ballot, BallotMark.ballot_id == Ballot.id).where(Ballot.round_id == online.id)
    ):
        marks.setdefault(ballot_id, {})[section_id] = choice
    altered = 0
    for ballot_id, salt, receipt in session.execute(
        select(Ballot.id, Ballot.salt, Ballot.receipt).where(Ballot.round_id == online.id)
    ):
        if receipt_code(salt, online.id, marks.get(ballot_id, {})) != receipt:
            altered += 1
    return altered


# ---- the review office: turnout, reminders, close ---------------------------------------------


@dataclass(frozen=True)
class Turnout:
    kind: EvaluatorKind | None  # None: all evaluators
    evaluators: int
    voted: int
    reminded: int

    @property
    def label(self) -> str:
        return self.kind.label if self.kind else "合计"

    @property
    def rate(self) -> float | None:
        return self.voted / self.evaluators if self.evaluators else None


def turnout(session: Session, online: OnlineRound) -> list[Turnout]:
    """Evaluators, ballots in and reminders sent, per evaluator category (in the
    categories' order, those without evaluators left out) and in total."""
    rows = session.execute(
        select(Evaluator.kind, func.count(Evaluator.id), func.count(BallotCast.evaluator_id), func.count(Evaluator.reminder_id))
        .outerjoin(BallotCast, BallotCast.evaluator_id == Evaluator.id)
        .where(Evaluator.round_id == online.id)
        .group_by(Evaluator.kind)
    ).all()
    by_kind = {kind: Turnout(kind, n, voted, reminded) for kind, n, voted, reminded in rows}
    parts = [by_kind[kind] for kind in EvaluatorKind if kind in by_kind]
    total = Turnout(None, sum(t.evaluators for t in parts), sum(t.voted for t in parts), sum(t.reminded for t in parts))
    return [*parts, total]


def ballots_in(session: Session, online: OnlineRound) -> int:
    """Ballots in: in the ballot box or sealed, waiting for a move."""
    boxed = session.scalar(select(func.count()).select_from(Ballot).where(Ballot.round_id == online.id)) or 0
    return boxed + _waiting(session, online.id)


def _local(moment: datetime, zone: str) -> str:
    local = _aware(moment).astimezone(ZoneInfo(zone))
    return f"{local.month}月{local.day}日{local.hour:02d}:{local.minute:02d}"


def _lock(session: Session, online: OnlineRound) -> None:
    """PostgreSQL: the round's row FOR UPDATE, re-read, before anything else is
    touched: waits for the ballots being cast (they hold it FOR SHARE), and takes the
    locks in the ballots' order (round, then evaluators), so the two never deadlock."""
    session.scalars(
        select(OnlineRound).where(OnlineRound.id == online.id).with_for_update().execution_options(populate_existing=True)
    ).one()


def _due_a_reminder(online: OnlineRound):  # noqa: ANN202
    """The condition on Evaluator of those a reminder goes to: a live password, not
    locked, not reminded yet, no ballot."""
    return and_(
        Evaluator.round_id == online.id, Evaluator.reminder_id.is_(None), Evaluator.password_hash.is_not(None),
        Evaluator.locked_at.is_(None), Evaluator.id.not_in(select(BallotCast.evaluator_id)),
    )


def reminders_due(session: Session, online: OnlineRound) -> int:
    """How many evaluators `remind` would write to now."""
    return session.scalar(select(func.count()).select_from(Evaluator).where(_due_a_reminder(online))) or 0


def check_remindable(online: OnlineRound, now: datetime | None = None) -> None:
    """The named reason (a DomainError) why no reminder can go now, if there is one."""
    if not is_open(online, now):
        raise DomainError("只有进行中的网络评价才能发送提醒")


def remind(
    session: Session, online: OnlineRound, *, sign: str, login_link: str, timezone_name: str, actor: str,
    now: datetime | None = None,
) -> int:
    """Once, to every evaluator who can still vote and has not (a live password, not
    locked, no ballot): a reminder in the outbox, keyed "online-remind:<id>". It says
    where to log in and the account, never the password. Returns how many."""
    now = now or utcnow()
    _lock(session, online)
    check_remindable(online, now)
    due = session.scalars(select(Evaluator).where(_due_a_reminder(online)).order_by(Evaluator.id)).all()
    closes = _local(online.closes_at, timezone_name)
    for evaluator in due:
        message = outbox.enqueue(
            session, key=f"online-remind:{evaluator.id}", phone=evaluator.phone, template=ONLINE_REMINDER,
            params={"sign": sign, "year": str(online.campaign.year), "closes": closes, "link": login_link,
                    "login": evaluator.login},
            campaign_id=online.campaign_id, not_before=now,
        )
        evaluator.reminder_id = message.id
    online.reminded_at = now
    session.flush()
    audit.record(session, "online.remind", actor=actor, campaign_id=online.campaign_id, detail={"reminded": len(due)})
    return len(due)


def check_closable(online: OnlineRound) -> None:
    """The named reason (a DomainError) why the round cannot be closed, if there is one."""
    if online.status is not RoundStatus.open:
        raise DomainError("只有进行中的网络评价才能结束")


def close(session: Session, online: OnlineRound, *, actor: str, now: datetime | None = None) -> int:
    """No more ballots; the sealed ones still waiting are moved into the ballot box, and
    from now on the ballots are the online score. Returns how many ballots are in."""
    # The round's mover lock before its row: a move under way writes ballots that refer
    # to the row (a key share lock on it), so taking the row first would deadlock.
    _one_mover(session, online.id, wait=True)
    _lock(session, online)
    check_closable(online)
    online.status, online.closed_at = RoundStatus.closed, now or utcnow()
    session.flush()
    move_pending(session, online.id, final=True)
    n = ballots_in(session, online)
    voters = session.scalar(select(func.count()).select_from(Evaluator).where(Evaluator.round_id == online.id)) or 0
    audit.record(session, "online.close", actor=actor, campaign_id=online.campaign_id,
                 detail={"ballots": n, "evaluators": voters})
    return n


# ---- tallies: the online score ------------------------------------------------------------------


def tallies(session: Session, online: OnlineRound) -> dict[int, dict[Choice, int]]:
    """满意, 基本满意 and 不满意 per candidate section, over every ballot of the round."""
    counts: dict[int, dict[Choice, int]] = {}
    for section_id, choice, n in session.execute(
        select(BallotMark.section_id, BallotMark.choice, func.count())
        .join(Ballot, BallotMark.ballot_id == Ballot.id)
        .where(Ballot.round_id == online.id)
        .group_by(BallotMark.section_id, BallotMark.choice)
    ):
        counts.setdefault(section_id, dict.fromkeys(Choice, 0))[choice] = n
    return counts


def online_counts(session: Session, campaign: Campaign) -> pd.DataFrame:
    """The closed online round's tallies as scoring counts (UNIT, SECTION, ROUND = NET,
    VOTES_S/B/U), added to any imported NET counts by the scoring. Empty while the round
    is open: the online score is known only once the round is closed."""
    columns = [C.UNIT, C.SECTION, C.ROUND, C.VOTES_S, C.VOTES_B, C.VOTES_U]
    online = online_round(session, campaign)
    if online is None or online.status is not RoundStatus.closed:
        return pd.DataFrame(columns=columns)
    counts = tallies(session, online)
    if not counts:
        return pd.DataFrame(columns=columns)
    names = {
        sid: (unit, section)
        for sid, unit, section in session.execute(
            select(Section.id, Unit.name, Section.name).join(Unit).where(Section.id.in_(list(counts)))
        )
    }
    return pd.DataFrame(
        [
            (*names[sid], C.NET, c[Choice.satisfied], c[Choice.basic], c[Choice.unsatisfied])
            for sid, c in sorted(counts.items())
        ],
        columns=columns,
    )


def imported_network_counts(session: Session, campaign: Campaign) -> dict[int, dict[Choice, int]]:
    """The NET counts stored as the vote-count component (from a file, or entered by
    hand), per section: the scoring adds them to the round's tallies
    (scorecards.year_inputs), so the online score is made of both."""
    return {
        section_id: {Choice.satisfied: s, Choice.basic: b, Choice.unsatisfied: u}
        for section_id, s, b, u in session.execute(
            select(VoteCount.section_id, VoteCount.satisfied, VoteCount.basic, VoteCount.unsatisfied)
            .join(Section, VoteCount.section_id == Section.id).join(Unit)
            .where(Unit.campaign_id == campaign.id, VoteCount.round == C.NET)
        )
    }


# ---- the published lists ------------------------------------------------------------------------

PUBLISHED_LISTS = (Result.satisfied, Result.unsatisfied, Result.most_unsatisfied)
_RESULT_CODES = {Result.satisfied: C.SATISFIED, Result.unsatisfied: C.UNSATISFIED, Result.most_unsatisfied: C.MOST_UNSATISFIED}


def final_lists(session: Session, campaign: Campaign, card) -> dict[str, list[list[str]]]:  # noqa: ANN001
    """The decided lists of the scorecard (the review office's decisions over the
    proposals), each in the neutral ballot order: 不满意单位 includes the
    最不满意单位, which are listed once more on their own."""
    order = {c.section_id: i for i, c in enumerate(ballot_candidates(session, campaign.id))}
    sections = card.sections[card.sections[C.RESULT].notna()]
    rows = sorted(
        ((order.get(int(sid), len(order)), unit, section, result)
         for sid, unit, section, result in zip(sections["section_id"], sections[C.UNIT], sections[C.SECTION], sections[C.RESULT])),
    )
    lists: dict[str, list[list[str]]] = {}
    for result in PUBLISHED_LISTS:
        wanted = {_RESULT_CODES[result]}
        if result is Result.unsatisfied:
            wanted.add(C.MOST_UNSATISFIED)
        lists[result.value] = [[unit, section] for _, unit, section, code in rows if code in wanted]
    return lists


def check_publishable(online: OnlineRound, card=None) -> None:  # noqa: ANN001
    """The named reason (a DomainError) why the final lists cannot be published, if
    there is one: the round not closed; with the scorecard, no online votes in it."""
    if online.status is not RoundStatus.closed:
        raise DomainError("网络评价结束后才能公布评议结果")
    if card is not None and not card.network_held:
        raise DomainError("还没有网络评价票，不能公布评议结果")


def publish(session: Session, online: OnlineRound, *, actor: str, now: datetime | None = None) -> dict[str, list[list[str]]]:
    """Publish the final lists as decided now (publishing again replaces them)."""
    from voting.services.scorecards import campaign_scorecard  # scorecards reads this module's tallies

    check_publishable(online)
    campaign = online.campaign
    card = campaign_scorecard(session, campaign)
    check_publishable(online, card)
    lists = final_lists(session, campaign, card)
    online.published, online.published_at = lists, now or utcnow()
    session.flush()
    audit.record(session, "online.publish", actor=actor, campaign_id=online.campaign_id,
                 detail={name: len(items) for name, items in lists.items()})
    return lists


def published_years(session: Session) -> list[int]:
    """The years whose final lists are published, newest first (the landing page's links)."""
    return list(session.scalars(
        select(Campaign.year).join(OnlineRound, OnlineRound.campaign_id == Campaign.id)
        .where(OnlineRound.published_at.is_not(None)).order_by(Campaign.year.desc())
    ))


def published_results(session: Session, year: int) -> tuple[Campaign, OnlineRound]:
    """The campaign of `year` and its round, if its results are published."""
    campaign = session.scalar(select(Campaign).where(Campaign.year == year))
    online = online_round(session, campaign) if campaign else None
    if online is None or online.published_at is None or online.published is None:
        raise NotFoundError(f"{year} 年度的评议结果尚未公布。")
    return campaign, online
