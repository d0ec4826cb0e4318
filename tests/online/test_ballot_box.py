"""The ballot box, on SQLite and PostgreSQL: a ballot is written sealed with its
evaluator's "has voted" row and moved into the ballot box with at least ballots.BATCH
others, in a shuffled order, in a transaction of its own; the close moves what is left.
Whoever reads a full dump of the database afterwards (PostgreSQL's system columns, the
rows' physical order, SQLite's rowids, every id and number) cannot tell which of a
batch's ballots is whose better than by chance, and a failure at any step loses no
ballot and counts none twice."""
from __future__ import annotations

import threading
from collections import defaultdict

import pytest
from sqlalchemy import func, select, text

from tests.support.ballots import candidates, counts, evaluators, form, log_in, marks, open_online_round
from voting import tasks
from voting.online.models import Ballot, BallotMark, EvaluatorKind, OnlineRound, PendingBallot
from voting.survey.models import Choice
from voting.online import ballots

VOTERS = 47  # two moves of BATCH while the round is open, then 7 left for the close


def _cast_on_the_page(client, db, online, voters) -> list[str]:
    """Each evaluator's ballot through the ballot page (which starts the moves), each
    ballot different; the receipts in the order cast."""
    found = candidates(db, online)
    receipts = []
    for i, evaluator in enumerate(voters):
        log_in(client, evaluator)
        response = client.post("/e/ballot", data=form(marks(found, offset=i % len(found))))
        assert response.status_code == 303, response.get_data(as_text=True)
        with client.session_transaction() as visit:
            receipts.append(visit["receipt"])
    return receipts


def _rows(db, table: str, columns: str) -> list[tuple]:
    """Every row of `table` as a dump shows it, with what the database keeps beside the
    columns: PostgreSQL's transaction id and physical place, SQLite's rowid."""
    if db.get_bind().dialect.name == "postgresql":
        query = f"SELECT xmin::text, ctid::text, {columns} FROM {table}"
    else:
        query = f"SELECT NULL, rowid, {columns} FROM {table}"
    return [tuple(row) for row in db.execute(text(query))]


def _place(ctid) -> tuple:
    if isinstance(ctid, str):  # PostgreSQL: "(page,item)"
        page, item = ctid.strip("()").split(",")
        return int(page), int(item)
    return (ctid,)


def _guessed_right(groups: dict, order_of) -> int:
    """The attack: within each group of ballots, match the k-th ballot by `order_of` to
    the k-th evaluator to cast one of them. How many matches are right."""
    right = 0
    for members in groups.values():
        by_cast = sorted(members, key=lambda m: m["cast"])
        by_trace = sorted(members, key=order_of)
        right += sum(a is b for a, b in zip(by_cast, by_trace))
    return right


def test_a_full_dump_relates_no_ballot_to_its_evaluator(client, db, campaign):
    online = open_online_round(db, campaign, kinds={EvaluatorKind.deputy: VOTERS})
    voters = evaluators(db, online)
    receipts = _cast_on_the_page(client, db, online, voters)
    db.rollback()
    # Two moves ran while the round was open (the page queued them), 7 still sealed.
    assert db.scalar(select(func.count()).select_from(PendingBallot)) == VOTERS - 2 * ballots.BATCH
    assert db.scalar(select(func.count()).select_from(Ballot)) == 2 * ballots.BATCH
    ballots.close(db, db.get(OnlineRound, online.id), actor="test")
    db.commit()

    casts = {row[3]: row for row in _rows(db, "ballot_cast", "cast_hour, evaluator_id")}
    accounts = {row[2]: row for row in _rows(db, "evaluator", "id")}
    boxed = {row[3]: row for row in _rows(db, "ballot", "id, receipt, batch")}
    first_mark: dict[str, tuple] = {}
    mark_xmins = set()
    for xmin, ctid, ballot_id in _rows(db, "ballot_mark", "ballot_id"):
        mark_xmins.add(xmin)
        first_mark[ballot_id] = min(first_mark.get(ballot_id, _place(ctid)), _place(ctid))
    assert sorted(boxed) == sorted(receipts) and counts(db) == (VOTERS, VOTERS * 30, VOTERS)
    assert db.scalar(select(func.count()).select_from(PendingBallot)) == 0

    # What the cast left (the "has voted" row, the consumed password) and what the
    # moves wrote share no transaction.
    if db.get_bind().dialect.name == "postgresql":
        written_with_evaluators = {row[0] for row in casts.values()} | {row[0] for row in accounts.values()}
        assert not ({row[0] for row in boxed.values()} | mark_xmins) & written_with_evaluators

    # Batches: by the move's number, and on PostgreSQL by transaction too; never fewer
    # than BATCH ballots (the close took the last batch back to join its 7).
    members = [
        {"cast": i, "xmin": boxed[r][0], "place": _place(boxed[r][1]), "id": boxed[r][2], "receipt": r,
         "batch": boxed[r][4], "marks": first_mark[boxed[r][2]]}
        for i, r in enumerate(receipts)
    ]
    by_batch, by_xmin = defaultdict(list), defaultdict(list)
    for m in members:
        by_batch[m["batch"]].append(m)
        by_xmin[m["xmin"]].append(m)
    assert sorted(len(g) for g in by_batch.values()) == [ballots.BATCH, VOTERS - ballots.BATCH]
    assert all(len(g) >= ballots.BATCH for g in by_xmin.values())
    # Each batch holds the ballots of the evaluators who voted between two moves, and
    # within it nothing orders them as they were cast: an attacker matching the k-th
    # ballot by any trace to the k-th evaluator is right about once per batch (a
    # random order has one fixed point on average; at most 12 of 47 by chance has a
    # probability below 1e-5), where the unshuffled order would give all 47.
    for trace in ("place", "id", "receipt", "marks"):
        assert _guessed_right(by_batch, lambda m, t=trace: m[t]) <= 12, trace
    # The receipts are the ballots' own: each still matches its marks.
    assert ballots.audit_box(db, db.get(OnlineRound, online.id)).altered == 0


def _cast_quietly(db, online, voters, offset: int = 0) -> None:
    """Ballots through the service (no page, so no move is queued)."""
    found = candidates(db, online)
    for i, evaluator in enumerate(voters):
        chosen = marks(found, offset=(i + offset) % len(found))
        ballots.submit_ballot(db, evaluator, [(sid, Choice(v)) for sid, v in chosen.items()])
        db.commit()


def _boxed_and_sealed(db) -> tuple[int, int, int]:
    db.rollback()
    return tuple(db.scalar(select(func.count()).select_from(model)) for model in (Ballot, BallotMark, PendingBallot))


def test_a_move_waits_for_a_whole_batch_and_a_failed_one_leaves_every_ballot_sealed(app, db, campaign, monkeypatch):
    online = open_online_round(db, campaign, kinds={EvaluatorKind.deputy: ballots.BATCH + 5})
    voters = evaluators(db, online)
    _cast_quietly(db, online, voters[: ballots.BATCH - 1])
    assert ballots.move_pending(db, online.id) == 0  # fewer than a batch: they wait
    db.commit()
    assert _boxed_and_sealed(db) == (0, 0, ballots.BATCH - 1)
    assert ballots.rounds_to_move(db) == []
    _cast_quietly(db, online, voters[ballots.BATCH - 1:], offset=3)
    assert ballots.rounds_to_move(db) == [online.id]

    real = ballots.bulk_insert

    def marks_fail(session, table, *args, **kwargs):
        if table.name == "ballot_mark":
            raise RuntimeError("the database went away mid-move")
        return real(session, table, *args, **kwargs)

    monkeypatch.setattr(ballots, "bulk_insert", marks_fail)
    with pytest.raises(RuntimeError):
        ballots.move_pending(db, online.id)
    db.rollback()
    assert _boxed_and_sealed(db) == (0, 0, ballots.BATCH + 5)  # nothing lost, nothing half moved
    # The close fails the same way and leaves the round open.
    with pytest.raises(RuntimeError):
        ballots.close(db, db.get(OnlineRound, online.id), actor="test")
    db.rollback()
    assert db.get(OnlineRound, online.id).status.value == "open" and _boxed_and_sealed(db)[2] == ballots.BATCH + 5

    monkeypatch.setattr(ballots, "bulk_insert", real)
    tasks.move_waiting_ballots(app)  # the minute's sweep finds them
    assert _boxed_and_sealed(db) == (ballots.BATCH + 5, (ballots.BATCH + 5) * 30, 0)
    assert ballots.move_pending(db, online.id, final=True) == 0  # nothing twice
    db.commit()
    assert counts(db) == (ballots.BATCH + 5, (ballots.BATCH + 5) * 30, ballots.BATCH + 5)


def test_the_close_moves_the_last_few_with_the_last_batch(db, campaign):
    online = open_online_round(db, campaign, kinds={EvaluatorKind.deputy: ballots.BATCH + 3})
    voters = evaluators(db, online)
    _cast_quietly(db, online, voters[: ballots.BATCH])
    assert ballots.move_pending(db, online.id) == ballots.BATCH
    db.commit()
    _cast_quietly(db, online, voters[ballots.BATCH:])
    first = set(db.scalars(select(Ballot.id)))
    assert ballots.close(db, db.get(OnlineRound, online.id), actor="test") == ballots.BATCH + 3
    db.commit()
    rows = db.execute(select(Ballot.id, Ballot.batch)).all()
    assert {batch for _, batch in rows} == {1} and len(rows) == ballots.BATCH + 3
    assert not first & {ballot_id for ballot_id, _ in rows}  # written again, under new ids
    assert counts(db) == (ballots.BATCH + 3, (ballots.BATCH + 3) * 30, ballots.BATCH + 3)
    assert ballots.audit_box(db, db.get(OnlineRound, online.id)).altered == 0


def test_a_small_round_is_one_batch_at_the_close(db, campaign):
    online = open_online_round(db, campaign)
    _cast_quietly(db, online, evaluators(db, online)[:4])
    assert ballots.ballots_in(db, db.get(OnlineRound, online.id)) == 4  # sealed ones count as in
    ballots.close(db, db.get(OnlineRound, online.id), actor="test")
    db.commit()
    assert _boxed_and_sealed(db) == (4, 120, 0)
    tally = ballots.tallies(db, db.get(OnlineRound, online.id))
    assert sum(sum(c.values()) for c in tally.values()) == 4 * 30


def test_moves_and_ballots_at_the_same_time_lose_and_double_nothing(app, db, campaign):
    """PostgreSQL: 60 ballots from six threads while two movers run over and over; then
    the close. Every ballot in once, every receipt its own."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: moves and ballots cannot overlap there")
    online = open_online_round(db, campaign, kinds={EvaluatorKind.deputy: 60})
    voters = evaluators(db, online)
    found = candidates(db, online)
    sessions = app.extensions["pingyi.sessions"]
    casting = threading.Event()
    errors: list[BaseException] = []

    def cast(part: list) -> None:
        try:
            with sessions() as session:
                for i, evaluator in part:
                    chosen = {sid: Choice(v) for sid, v in marks(found, offset=i % len(found)).items()}
                    ballots.store_ballot(session, evaluator.id, online.id, chosen)
                    session.commit()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    def move() -> None:
        try:
            while casting.is_set():
                with sessions() as session:
                    ballots.move_pending(session, online.id)
                    session.commit()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    casting.set()
    numbered = list(enumerate(voters))
    threads = [threading.Thread(target=cast, args=(numbered[k::6],)) for k in range(6)]
    movers = [threading.Thread(target=move) for _ in range(2)]
    for thread in threads + movers:
        thread.start()
    for thread in threads:
        thread.join()
    casting.clear()
    for thread in movers:
        thread.join()
    assert not errors, errors
    db.rollback()
    ballots.close(db, db.get(OnlineRound, online.id), actor="test")
    db.commit()
    assert counts(db) == (60, 60 * 30, 60) and _boxed_and_sealed(db)[2] == 0
    assert db.scalar(select(func.count(func.distinct(Ballot.receipt)))) == 60
    sizes = db.execute(select(Ballot.batch, func.count()).group_by(Ballot.batch)).all()
    assert all(n >= ballots.BATCH for _, n in sizes), sizes


def test_a_close_during_a_move_waits_for_it(app, db, campaign):
    """PostgreSQL: the close waits for a move under way (its mover lock first), and the
    move, writing ballots that refer to the round's row, does not wait for the close:
    neither deadlocks, and the close counts every ballot."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: a close and a move cannot overlap there")
    online = open_online_round(db, campaign, kinds={EvaluatorKind.deputy: ballots.BATCH + 5})
    _cast_quietly(db, online, evaluators(db, online))
    sessions = app.extensions["pingyi.sessions"]
    closed: list = []

    def close() -> None:
        try:
            with sessions() as session:
                closed.append(ballots.close(session, session.get(OnlineRound, online.id), actor="test"))
                session.commit()
        except BaseException as error:  # noqa: BLE001
            closed.append(error)

    with sessions() as mover:
        assert ballots._one_mover(mover, online.id, wait=False)  # a move has begun
        closing = threading.Thread(target=close)
        closing.start()
        closing.join(timeout=1.5)  # the close now waits for the move
        assert closing.is_alive() and closed == []
        assert ballots.move_pending(mover, online.id) == ballots.BATCH + 5
        mover.commit()
    closing.join(timeout=30)
    assert closed == [ballots.BATCH + 5]
    assert counts(db) == (ballots.BATCH + 5, (ballots.BATCH + 5) * 30, ballots.BATCH + 5)
