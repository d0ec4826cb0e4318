"""The one vote path (voting/survey/votes.py) that the four doors share: the vote
with its channel, its named refusals, and the questions a door's page asks before the
vote; and the time helpers it stands on (voting/core/clock.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.survey.test_rounds import CLOSES, NOW, PRICE, opened, upload
from voting.core.clock import aware, short_local_time
from voting.core.errors import DomainError, NotFoundError
from voting.survey.models import Channel, Choice, Invitation, RoundStatus, SurveyRound, Vote
from voting.staff.models import Role
from voting.survey import rounds, votes
from voting.staff import users
from voting.survey.votes import (
    COMMENT_MAX,
    AlreadyVotedError,
    RoundCancelledError,
    RoundClosedError,
    RoundState,
    UnknownInvitationError,
    cast_vote,
    check_votable,
    refusal,
)

OPEN = RoundState(RoundStatus.open, CLOSES)


# ---- before the vote: what a door's page says --------------------------------------------

def test_an_open_round_without_a_vote_takes_one():
    assert refusal(OPEN, voted=False, now=NOW) is None
    assert votes.is_open(OPEN, NOW)


@pytest.mark.parametrize("state, voted, refused", [
    (OPEN, True, AlreadyVotedError),
    (RoundState(RoundStatus.closed, CLOSES), True, AlreadyVotedError),  # a vote is said first
    (RoundState(RoundStatus.cancelled, CLOSES), False, RoundCancelledError),
    (RoundState(RoundStatus.closed, CLOSES), False, RoundClosedError),
    (RoundState(RoundStatus.draft, CLOSES), False, RoundClosedError),
    (RoundState(RoundStatus.open, NOW), False, RoundClosedError),  # its closing time has come
    (RoundState(RoundStatus.open, NOW.replace(tzinfo=None)), False, RoundClosedError),  # as SQLite gives it back
])
def test_the_refusals_are_named(state, voted, refused):
    error = refusal(state, voted, now=NOW)
    assert type(error) is refused


def test_a_cancelled_round_is_closed_to_every_door_with_the_closed_message():
    cancelled, closed = RoundCancelledError(), RoundClosedError()
    assert isinstance(cancelled, RoundClosedError)
    assert (cancelled.status, str(cancelled)) == (closed.status, str(closed)) == (410, "本轮评价已截止，感谢您的关注。")
    assert AlreadyVotedError.status == 409 and isinstance(UnknownInvitationError(), NotFoundError)


def test_check_votable_raises_what_refusal_names(db, campaign):
    upload(db, campaign, PRICE, 2)
    opened(db, campaign)
    first, second = db.scalars(select(Invitation).order_by(Invitation.id)).all()
    check_votable(db, first, NOW)  # nothing to refuse
    cast_vote(db, first.id, Choice.basic, Channel.link, now=NOW)
    with pytest.raises(AlreadyVotedError):
        check_votable(db, first, NOW)
    with pytest.raises(RoundClosedError):
        check_votable(db, second, CLOSES)


# ---- the vote ----------------------------------------------------------------------------

def test_every_door_records_its_channel_through_the_one_function(db, campaign):
    upload(db, campaign, PRICE, 4)
    opened(db, campaign)
    operator = users.create_user(db, "operator", PASSWORD, Role.operator)
    invited = db.scalars(select(Invitation).order_by(Invitation.id)).all()
    for invitation, channel in zip(invited, (Channel.link, Channel.code, Channel.sms, Channel.phone)):
        cast_vote(db, invitation.id, Choice.satisfied, channel, operator=operator if channel is Channel.phone else None,
                  now=NOW)
    db.commit()
    stored = db.scalars(select(Vote).order_by(Vote.invitation_id)).all()
    assert [(v.invitation_id, v.channel, v.operator_id) for v in stored] == [
        (invited[0].id, Channel.link, None), (invited[1].id, Channel.code, None), (invited[2].id, Channel.sms, None),
        (invited[3].id, Channel.phone, operator.id)]


def test_the_vote_refuses_by_name_and_the_session_goes_on(db, campaign):
    upload(db, campaign, PRICE, 2)
    survey, _ = opened(db, campaign)
    invitation = db.scalars(select(Invitation).order_by(Invitation.id)).first()
    with pytest.raises(UnknownInvitationError) as unknown:
        cast_vote(db, -1, Choice.basic, Channel.link, now=NOW)
    assert unknown.value.status == 404 and str(unknown.value) == "没有找到这份评价邀请。"
    with pytest.raises(DomainError, match=f"不超过 {COMMENT_MAX} 字"):
        cast_vote(db, invitation.id, Choice.basic, Channel.link, "字" * (COMMENT_MAX + 1), now=NOW)
    with pytest.raises(RoundClosedError):
        cast_vote(db, invitation.id, Choice.basic, Channel.link, now=CLOSES)
    vote_id = cast_vote(db, invitation.id, Choice.basic, Channel.link, "  好  ", now=NOW)
    with pytest.raises(AlreadyVotedError):
        cast_vote(db, invitation.id, Choice.satisfied, Channel.sms, now=NOW)
    db.commit()
    assert [(v.id, v.choice, v.comment) for v in db.scalars(select(Vote))] == [(vote_id, Choice.basic, "好")]


def test_a_cancelled_rounds_invitation_takes_no_vote(db, campaign):
    upload(db, campaign, PRICE, 2)
    survey, _ = opened(db, campaign)
    rounds.cancel_round(db, db.get(SurveyRound, survey.id))
    invitation = db.scalars(select(Invitation)).first()
    with pytest.raises(RoundClosedError):
        cast_vote(db, invitation.id, Choice.basic, Channel.link, now=NOW)
    with pytest.raises(RoundCancelledError):
        check_votable(db, invitation, NOW)


# ---- the time helpers ----------------------------------------------------------------------

def test_stored_times_are_utc_and_sms_times_local():
    naive = datetime(2021, 6, 30, 10, 0)
    assert aware(naive) == datetime(2021, 6, 30, 10, 0, tzinfo=timezone.utc)
    shanghai = datetime(2021, 6, 30, 18, 0, tzinfo=timezone(timedelta(hours=8)))
    assert aware(shanghai) is shanghai and aware(None) is None
    assert short_local_time(naive, "Asia/Shanghai") == "6月30日18:00"
    assert short_local_time(datetime(2021, 12, 31, 16, 5, tzinfo=timezone.utc), "Asia/Shanghai") == "1月1日00:05"
