"""The online round's ballot box (docs/rules.md §1 steps 6-7, §4): the round's state as
the ballots see it, the ballot's candidates, the one ballot per evaluator with its
receipt, the public receipt check and the auditors' check of the box, the close, and
the tallies that become the online score (网络评价, round C.NET). The evaluators, their
accounts, turnout and reminders are voting/online/evaluators.py's; the final lists and their
publication, voting/scores/scorecards.py's.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, cast

import pandas as pd
from sqlalchemy import (
    Connection,
    DateTime,
    Integer,
    Select,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from scoring import columns as C
from scoring.settings import RuleSettings
from sms.tokens import CODE_ALPHABET, normalize_code
from voting.core.clock import aware
from voting.core.db import bulk_insert, single_statement_connection
from voting.core.errors import DomainError
from voting.online.models import Ballot, BallotCast, BallotMark, Candidate, Evaluator, OnlineRound, PendingBallot
from voting.lists.models import Campaign, Section, Unit
from voting.survey.models import Choice, RoundStatus
from voting.core.models import utcnow
from voting.audit import audit
from voting.core.vault import vault_of

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
    """The evaluator's ballot is in: one ballot each. Refused by the ballot's store and,
    `at_login`, by the login, whose password the ballot consumed."""

    status = 409

    def __init__(self, *, at_login: bool = False) -> None:
        super().__init__("您的选票已经提交，每位评价人只能投票一次，密码已失效。感谢您的参与！" if at_login
                         else "您的选票已经提交，每位评价人只能提交一次。感谢您的参与！")


class OnlineRoundClosedError(DomainError):
    """The round is past its closing time or closed: no ballot (the store) and no login
    (`at_login`)."""

    status = 410

    def __init__(self, *, at_login: bool = False) -> None:
        super().__init__("网络评价已经截止，感谢您的关注。" if at_login else "网络评价已经截止，不再接受选票。感谢您的关注！")


class NoCandidatesError(DomainError):
    status = 409

    def __init__(self) -> None:
        super().__init__("候选名单尚未确定，暂时不能评价。")


# ---- the round and its candidates -------------------------------------------------------------


def _hour(moment: datetime) -> datetime:
    return aware(moment).astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def online_round(session: Session, campaign: Campaign) -> OnlineRound | None:
    """The campaign's online round, if it has one."""
    return session.scalar(select(OnlineRound).where(OnlineRound.campaign_id == campaign.id))


def is_open(online: OnlineRound, now: datetime | None = None) -> bool:
    """Logins and ballots are taken: accounts issued, not closed, closing time ahead.
    `online`: a round, or anything with its `status` and `closes_at`."""
    return online.status is RoundStatus.open and (now or utcnow()) < aware(online.closes_at)


def has_voted(session: Session, evaluator: Evaluator) -> bool:
    """The evaluator's ballot is in (its "has voted" row)."""
    return session.get(BallotCast, evaluator.id) is not None


def lock_round(session: Session, online: OnlineRound) -> None:
    """PostgreSQL: the round's row FOR UPDATE, re-read, before anything else is
    touched: waits for the ballots being cast (they hold it FOR SHARE), and takes the
    locks in the ballots' order (round, then evaluators), so the two never deadlock."""
    session.scalars(
        select(OnlineRound).where(OnlineRound.id == online.id).with_for_update().execution_options(populate_existing=True)
    ).one()


@dataclass(frozen=True)
class SeatRound:
    """What the ballot page shows of an evaluator's round (see Seat)."""

    id: int
    campaign_id: int
    status: RoundStatus
    closes_at: datetime
    year: int
    rules: RuleSettings


@dataclass(frozen=True)
class Seat:
    """An evaluator as the evaluators' pages need it on every request (seat_of): who,
    whether the account still stands, the round, and whether the ballot is in."""

    id: int
    login: str
    locked_at: datetime | None
    password_issued_at: datetime | None
    online: SeatRound
    has_voted: bool


_SEAT = (
    select(Evaluator.id, Evaluator.login, Evaluator.locked_at, Evaluator.password_issued_at, OnlineRound.id,
           OnlineRound.campaign_id, OnlineRound.status, OnlineRound.closes_at, Campaign.year, Campaign.settings,
           BallotCast.evaluator_id)
    .join(OnlineRound, Evaluator.round_id == OnlineRound.id)
    .join(Campaign, OnlineRound.campaign_id == Campaign.id)
    .outerjoin(BallotCast, BallotCast.evaluator_id == Evaluator.id)
    .where(Evaluator.id == bindparam("evaluator_id"))
)


def seat_of(session: Session, evaluator_id: int) -> Seat | None:
    """The evaluator (a Seat), or None for none: plain columns read by one statement,
    on the autocommit connection where it is the request's first work
    (voting.core.db.single_statement_connection), no ORM objects. The ORM load of three
    objects in a transaction (BEGIN, SELECT, ROLLBACK) cost about 0.63 ms of the
    server's CPU in a loop, this about 0.23 ms. Nothing is locked: a write that
    depends on it decides again in the database (store_ballot)."""
    row = single_statement_connection(session).execute(_SEAT, {"evaluator_id": evaluator_id}).first()
    if row is None:
        return None
    (id_, login, locked_at, issued_at, round_id, campaign_id, status, closes_at, year, settings, voted) = row
    online = SeatRound(round_id, campaign_id, status, closes_at, year, RuleSettings.from_dict(settings))
    return Seat(id_, login, locked_at, issued_at, online, voted is not None)


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
    number (the list each candidate came from is not part of it). One statement: on
    the autocommit connection where it is the request's first work (the ballot page's
    read, now and then, of the list it keeps), so that the ballot stored after it
    stays a statement of its own (voting.core.db.single_statement_connection)."""
    rows = single_statement_connection(session).execute(
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
    rules); fewer where there are fewer candidates (as voting.demo.synthetic draws them)."""
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
        raise AlreadyCastError() if has_voted(session, evaluator) else OnlineRoundClosedError()
    candidates = ballot_candidates(session, online.campaign_id)
    if not candidates:
        raise NoCandidatesError()
    try:
        chosen = check_marks(candidates, ballot_rules(online.campaign.rules, len(candidates)), marks)
    except BallotInvalidError:
        # A ballot already in is the answer, whatever this one holds; a valid second
        # ballot is refused by the "has voted" row's key below (no query up front).
        if has_voted(session, evaluator):
            raise AlreadyCastError() from None
        raise

    stored = store_ballot(session, evaluator.id, online.id, chosen, now)
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


def store_ballot(session: Session, evaluator_id: int, round_id: int, chosen: dict[int, Choice],
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

    The steps are one set of statements (`_store_steps`). PostgreSQL: one statement
    (data-modifying WITH clauses, each step only if the one before went in), atomic by
    itself: on the autocommit connection where it is the request's only write (the
    ballot page's, voting.core.db.single_statement_connection), else joining the session's
    transaction. Elsewhere (SQLite, whose one writer serialises transactions and which
    has no data-modifying WITH): the same steps in turn in the session's transaction,
    which the request or the command commits."""
    now = now or utcnow()
    at_once = session.get_bind().dialect.name == "postgresql"
    connection = single_statement_connection(session) if at_once else session.connection()
    salt = secrets.token_hex(16)
    receipt = receipt_code(salt, round_id, chosen)
    values = {"voter": evaluator_id, "round": round_id, "now": now, "hour": _hour(now),
              "pending_key": secrets.token_hex(16), "seal": seal_ballot(connection, round_id, salt, receipt, chosen)}
    if at_once:
        stored, round_open, had, waiting = connection.execute(_STORE_AT_ONCE, values).one()
        if stored:
            return Stored(receipt, waiting + 1)
        if had or round_open:  # in before, or a concurrent submit's went in first
            raise AlreadyCastError()
        raise OnlineRoundClosedError()
    if connection.execute(_CAST, values).first() is None:
        raise AlreadyCastError() if connection.execute(_VOTED, values).first() is not None else OnlineRoundClosedError()
    connection.execute(_CONSUME, values)
    connection.execute(_PEND, values)
    return Stored(receipt, connection.execute(_WAITING, values).scalar_one())


def _waiting(connection: Connection | Session, round_id: int) -> int:
    return connection.execute(_WAITING, {"round": round_id}).scalar_one()


# The store's parameters (store_ballot's `values`). No name is a column of a table the
# store writes: SQLAlchemy would add that column to an UPDATE's SET.
_VOTER = bindparam("voter", type_=Integer)
_ROUND = bindparam("round", type_=Integer)
_NOW = bindparam("now", type_=DateTime(timezone=True))
_HOUR = bindparam("hour", type_=DateTime(timezone=True))
_PENDING_KEY = bindparam("pending_key", type_=String)
_SEAL = bindparam("seal", type_=Text)

_VOTED = select(BallotCast.evaluator_id).where(BallotCast.evaluator_id == _VOTER)  # the evaluator's "has voted" row
_WAITING = select(func.count()).select_from(PendingBallot).where(PendingBallot.round_id == _ROUND)


def _store_steps(dialect_insert: Callable[..., Any], *, chained: bool) -> tuple[Any, ...]:
    """The store's writes, each only once the one before went in: the "has voted" row
    while the round is open (`open_round`, FOR SHARE where there are row locks), at
    most once per evaluator (ON CONFLICT DO NOTHING, the dialect's: `dialect_insert`);
    the evaluator's password consumed; the sealed ballot. `chained`: the later two read
    the evaluator id the first returns, all as WITH clauses; else the row it wrote, and
    run after it. Returns (open_round, cast, voted, consume, pend)."""
    round_query = (
        select(OnlineRound.id)
        .where(OnlineRound.id == _ROUND, OnlineRound.status == RoundStatus.open, OnlineRound.closes_at > _NOW)
        .with_for_update(read=True)
    )
    # Not chained (SQLite) a subquery, not a WITH clause: Python's sqlite3 opens the
    # transaction only before a statement that begins with INSERT, UPDATE or DELETE, so
    # a WITH … INSERT would commit the "has voted" row at once, whatever came after.
    open_round = round_query.cte("open_round") if chained else round_query.subquery("open_round")
    cast_row = (
        dialect_insert(BallotCast)
        .from_select([BallotCast.evaluator_id, BallotCast.round_id, BallotCast.cast_hour],
                     # a WHERE: SQLite would read ON CONFLICT after a bare FROM as a join's ON
                     select(_VOTER, open_round.c.id, _HOUR).where(true()))
        .on_conflict_do_nothing(index_elements=[BallotCast.evaluator_id])
        .returning(BallotCast.evaluator_id)
    )
    if chained:
        cast_row = cast_row.cte("cast_row")
        voted = select(cast_row.c.evaluator_id)
    else:
        voted = _VOTED
    consume = update(Evaluator).where(Evaluator.id.in_(voted)).values(password_hash=None)
    pend = insert(PendingBallot).from_select([PendingBallot.id, PendingBallot.round_id, PendingBallot.sealed],
                                             select(_PENDING_KEY, _ROUND, _SEAL).where(voted.exists()))
    return open_round, cast_row, voted, consume, pend


def _store_at_once() -> Select:
    """PostgreSQL: the whole ballot as one statement, one round trip. The main SELECT
    sees the tables as they were before the statement: `had` is a ballot in before it,
    and `waiting` the sealed ballots before this one."""
    open_round, _, voted, consume, pend = _store_steps(postgresql.insert, chained=True)
    return select(
        voted.exists().label("stored"), select(open_round.c.id).exists().label("round_open"),
        _VOTED.exists().label("had"), _WAITING.scalar_subquery().label("waiting"),
    ).add_cte(consume.cte("consumed"), pend.cte("pending"))


_STORE_AT_ONCE = _store_at_once()
# Elsewhere: the steps in turn (no data-modifying WITH clauses in SQLite).
_, _CAST, _, _CONSUME, _PEND = _store_steps(sqlite.insert, chained=False)


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
    table = cast(Table, PendingBallot.__table__)  # a mapped class's Table (typed as the FromClause it may be)
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
    rows: list[tuple[str, int, str, str, int]] = []
    marks: list[tuple[str, int, Choice]] = []
    for salt, receipt, chosen in ballots:
        ballot_id = secrets.token_hex(16)
        rows.append((ballot_id, round_id, receipt, salt, batch))
        marks.extend((ballot_id, sid, choice) for sid, choice in chosen.items())
    # A mapped class's __table__ is its Table (typed as the FromClause it may be).
    bulk_insert(session, cast(Table, Ballot.__table__), ["id", "round_id", "receipt", "salt", "batch"], rows)
    bulk_insert(session, cast(Table, BallotMark.__table__), ["ballot_id", "section_id", "choice"], marks)


def rounds_to_move(session: Session) -> list[int]:
    """Rounds with BATCH or more sealed ballots waiting (the sweep's work; a closed
    round has none: its close moved them)."""
    return list(session.scalars(
        select(PendingBallot.round_id).group_by(PendingBallot.round_id).having(func.count() >= BATCH)
    ))


# ---- receipts, and the auditors' check of the box -----------------------------------------------


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


@dataclass(frozen=True)
class BoxAudit:
    """The auditors' check of a round's ballot box (`audit_box`)."""

    ballots: int  # in the box
    altered: int  # of them, those whose marks no longer give their receipt
    sealed: int  # sealed, waiting for a move: not checked (the box holds them once moved)


def audit_box(session: Session, online: OnlineRound) -> BoxAudit:
    """Every receipt in the round's ballot box recomputed from its ballot's marks and
    salt (`pingyi audit ballots`): a ballot whose marks were changed after it went in no
    longer gives its receipt."""
    marks: dict[str, dict[int, Choice]] = {}
    for ballot_id, section_id, choice in session.execute(
        select(BallotMark.ballot_id, BallotMark.section_id, BallotMark.choice)
        .join(Ballot, BallotMark.ballot_id == Ballot.id).where(Ballot.round_id == online.id)
    ):
        marks.setdefault(ballot_id, {})[section_id] = choice
    checked = altered = 0
    for ballot_id, salt, receipt in session.execute(
        select(Ballot.id, Ballot.salt, Ballot.receipt).where(Ballot.round_id == online.id)
    ):
        checked += 1
        if receipt_code(salt, online.id, marks.get(ballot_id, {})) != receipt:
            altered += 1
    return BoxAudit(checked, altered, _waiting(session, online.id))


# ---- the close --------------------------------------------------------------------------------


def ballots_in(session: Session, online: OnlineRound) -> int:
    """Ballots in: in the ballot box or sealed, waiting for a move."""
    boxed = session.scalar(select(func.count()).select_from(Ballot).where(Ballot.round_id == online.id)) or 0
    return boxed + _waiting(session, online.id)


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
    lock_round(session, online)
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
