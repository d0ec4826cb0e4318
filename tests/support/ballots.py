"""An online round set up for the ballot tests: a fixed candidate list drawn across the
units (stored out of order, so the ballot's own order shows), an open round, evaluators
of several categories with a known one-time password, and the helpers a test needs to
log one in (through the Flask session, as voting.online.evaluator_views leaves it), fill a
ballot and look at what was stored."""
from __future__ import annotations

import random
import time
from datetime import timedelta

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from scoring import columns as C
from voting.online.models import (
    Ballot,
    BallotCast,
    BallotMark,
    Candidate,
    Evaluator,
    EvaluatorKind,
    OnlineRound,
    PendingBallot,
)
from voting.survey.models import Choice, RoundStatus
from voting.lists.models import Section, Unit
from voting.core.models import utcnow
from voting.demo.campaign import load_bundle
from voting.online import ballots
from voting.scores import scorecards
from voting.online.evaluators import PASSWORD_METHOD

PASSWORD = "K7M3P9QX2H"
KINDS = {EvaluatorKind.deputy: 2, EvaluatorKind.cadre: 1, EvaluatorKind.service_object: 3}
LISTS = (C.SATISFIED_CANDIDATE, C.UNSATISFIED_CANDIDATE, C.PREVIOUS_UNSATISFIED)


def fix_candidates(db, campaign, n: int = 30) -> list[int]:
    """`n` candidates spread over the units, stored in a shuffled order with all three
    lists among them. Their section ids."""
    ids = list(db.scalars(
        select(Section.id).join(Unit).where(Unit.campaign_id == campaign.id).order_by(Unit.number, Section.number)
    ))
    step = max(1, len(ids) // n)
    chosen = ids[::step][:n]
    shuffled = chosen[:]
    random.Random(5).shuffle(shuffled)
    db.add_all(Candidate(section_id=sid, campaign_id=campaign.id, list=LISTS[i % 3]) for i, sid in enumerate(shuffled))
    db.flush()
    return chosen


def open_online_round(db, campaign, *, candidates: int | None = 30, kinds: dict | None = None) -> OnlineRound:
    """An open round closing in a week, over `candidates` fixed candidates (None: the
    list the campaign already has), with `kinds` evaluators per category."""
    if candidates:
        fix_candidates(db, campaign, candidates)
    online = OnlineRound(campaign_id=campaign.id, status=RoundStatus.open, seed=7,
                         closes_at=utcnow() + timedelta(days=7), opened_at=utcnow())
    db.add(online)
    db.flush()
    hashed = generate_password_hash(PASSWORD, method=PASSWORD_METHOD)
    number = 0
    for kind, count in (kinds or KINDS).items():
        for _ in range(count):
            number += 1
            db.add(Evaluator(
                round_id=online.id, kind=kind, name=f"评价人{number}", phone=f"1390000{number:04d}",
                login=f"LOGIN{number:03d}", password_hash=hashed, password_issued_at=utcnow(),
            ))
    db.commit()
    return online


def evaluators(db, online: OnlineRound) -> list[Evaluator]:
    db.rollback()
    db.expire_all()  # rollback() outside a transaction expires nothing
    return list(db.scalars(select(Evaluator).where(Evaluator.round_id == online.id).order_by(Evaluator.id)))


def log_in(client, evaluator: Evaluator) -> None:
    """What a login leaves in the session (voting.online.evaluator_views's contract)."""
    with client.session_transaction() as session:
        session["evaluator"] = evaluator.id
        session["evaluator_seen"] = int(time.time())


def candidates(db, online: OnlineRound) -> list[ballots.BallotCandidate]:
    return ballots.ballot_candidates(db, online.campaign_id)


def marks(found: list[ballots.BallotCandidate], satisfied: int = 10, unsatisfied: int = 10, offset: int = 0) -> dict[int, str]:
    """A ballot: `satisfied` 满意 from position `offset`, then `unsatisfied` 不满意, the
    rest 基本满意 (positions wrap around)."""
    chosen = {c.section_id: "basic" for c in found}
    order = [c.section_id for c in found]
    order = order[offset:] + order[:offset]
    for sid in order[:satisfied]:
        chosen[sid] = "satisfied"
    for sid in order[satisfied:satisfied + unsatisfied]:
        chosen[sid] = "unsatisfied"
    return chosen


def form(chosen: dict[int, str]) -> dict[str, str]:
    return {f"c{sid}": value for sid, value in chosen.items()}


def counts(db) -> tuple[int, int, int]:
    """Ballots, marks and "has voted" rows stored: the ballots and marks in the ballot
    box and those sealed, waiting for a move."""
    db.rollback()
    db.expire_all()  # rollback() outside a transaction expires nothing
    boxed, boxed_marks, casts = (db.scalar(select(func.count()).select_from(model))
                                 for model in (Ballot, BallotMark, BallotCast))
    sealed = [ballots.open_sealed(db, round_id, text)[2]
              for round_id, text in db.execute(select(PendingBallot.round_id, PendingBallot.sealed))]
    return boxed + len(sealed), boxed_marks + sum(map(len, sealed)), casts


def ballots_in(db) -> list[tuple[str, dict[int, str]]]:
    """Every ballot in, sealed or in the ballot box: its receipt and its marks."""
    db.rollback()
    found = []
    for round_id, text in db.execute(select(PendingBallot.round_id, PendingBallot.sealed)):
        _, receipt, chosen = ballots.open_sealed(db, round_id, text)
        found.append((receipt, {sid: choice.value for sid, choice in chosen.items()}))
    boxed: dict[str, dict[int, str]] = {}
    for ballot_id, section_id, choice in db.execute(select(BallotMark.ballot_id, BallotMark.section_id, BallotMark.choice)):
        boxed.setdefault(ballot_id, {})[section_id] = choice.value
    found += [(receipt, boxed.get(ballot_id, {})) for ballot_id, receipt in db.execute(select(Ballot.id, Ballot.receipt))]
    return found


def box(db, online: OnlineRound) -> None:
    """Move every sealed ballot of the round into the ballot box now, as its close does."""
    db.rollback()
    ballots.move_pending(db, online.id, final=True)
    db.commit()


def cast_ballots(db, online: OnlineRound, n: int) -> list[Evaluator]:
    """The first `n` evaluators' ballots, each different, committed one by one."""
    found = candidates(db, online)
    voters = evaluators(db, online)[:n]
    for i, evaluator in enumerate(voters):
        ballots.submit_ballot(db, evaluator, [(sid, Choice(v)) for sid, v in marks(found, offset=7 * i).items()])
        db.commit()
    return voters


def held_round(db, campaign, bundle_dir) -> OnlineRound:
    """A whole daily stage from the example bundle in `bundle_dir`, its candidates
    fixed, an open round over them and five of its six evaluators' ballots cast."""
    load_bundle(db, campaign, bundle_dir)
    scorecards.fix_candidates(db, campaign, None)
    db.commit()
    online = open_online_round(db, campaign, candidates=None)
    cast_ballots(db, online, 5)
    return online
