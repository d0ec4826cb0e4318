"""The SMS reply's matching, without HTTP (voting/survey/sms_replies.py): which
invitation a reply from a phone answers, the ambiguity of several, codes, the refusals
and their answers; on SQLite and PostgreSQL. The webhook around it (signature, TwiML,
rate limits): tests/survey/test_sms_inbound.py."""
from __future__ import annotations

from datetime import timedelta

import pytest

from sms.webhook import NOT_UNDERSTOOD
from tests.survey.test_sms_inbound import (
    CITIZEN, NEIGHBOUR, PLANNING, REFORM, closed_and_current, invitation_of, open_survey, votes,
)
from voting.core.clock import aware
from voting.survey.models import Channel, Choice, Invitation, SurveyRound
from voting.survey import rounds, sms_replies
from voting.survey.sms_replies import (
    ALREADY_VOTED,
    NO_INVITATION,
    ROUND_CLOSED,
    NoInvitationError,
    NotAVoteError,
    UnknownCodeError,
    WhichInvitationError,
    answer_for,
    match_reply,
    vote_by_reply,
)
from voting.survey.votes import AlreadyVotedError, RoundClosedError, cast_vote


@pytest.fixture
def one_invitation(app, db, campaign) -> Invitation:
    """The citizen has one invitation (发展规划综合科); a neighbour another."""
    open_survey(app, db, campaign, [(PLANNING, "张三", CITIZEN), (PLANNING, "李四", NEIGHBOUR)])
    return invitation_of(db, CITIZEN, PLANNING)


@pytest.fixture
def two_invitations(app, db, campaign) -> tuple[Invitation, Invitation]:
    """The citizen has two invitations of one round (two sections); a neighbour one."""
    open_survey(app, db, campaign, [(PLANNING, "张三", CITIZEN), (REFORM, "张三", CITIZEN), (REFORM, "李四", NEIGHBOUR)])
    return invitation_of(db, CITIZEN, PLANNING), invitation_of(db, CITIZEN, REFORM)


def refused(db, body: str, phone: str = CITIZEN, now=None) -> Exception:
    """The refusal of a reply (and that it is one of REFUSALS)."""
    with pytest.raises(sms_replies.REFUSALS) as caught:
        match_reply(db, phone, body, now)
    return caught.value


# ---- one invitation --------------------------------------------------------------------

def test_a_bare_choice_answers_the_only_invitation(db, one_invitation):
    match = match_reply(db, CITIZEN, "1")
    assert (match.invitation.id, match.choice) == (one_invitation.id, Choice.satisfied)
    assert match_reply(db, CITIZEN, "基本满意").choice is Choice.basic
    assert votes(db) == []  # matching writes nothing


def test_a_reply_records_an_sms_vote_and_its_confirmation(db, one_invitation):
    recorded = vote_by_reply(db, "+86 138 1234 5678", "３")  # the sender as the provider wrote it
    db.commit()
    assert recorded.invitation_id == one_invitation.id
    assert recorded.answer == "已收到您对县发改局发展规划综合科的评价：不满意。感谢您的参与！"
    [vote] = votes(db)
    assert (vote.id, vote.invitation_id, vote.choice, vote.channel, vote.operator_id) == (
        recorded.vote_id, one_invitation.id, Choice.unsatisfied, Channel.sms, None)


@pytest.mark.parametrize("sender", ["+8613700000000", "+14155550100", "", "not a number"])
def test_a_sender_without_an_invitation_is_told_so(db, one_invitation, sender):
    with pytest.raises(NoInvitationError) as caught:
        vote_by_reply(db, sender, "1")
    assert answer_for(caught.value) == NO_INVITATION
    assert votes(db) == []


def test_a_second_reply_is_already_voted(db, one_invitation):
    vote_by_reply(db, CITIZEN, "1")
    db.commit()
    error = refused(db, "3")
    assert isinstance(error, AlreadyVotedError) and answer_for(error) == ALREADY_VOTED


@pytest.mark.parametrize("body, problem", [
    ("你好", NOT_UNDERSTOOD), ("", NOT_UNDERSTOOD), (None, NOT_UNDERSTOOD),
    ("1 3", "请只选择一项：回复 1、2 或 3。"),
    ("ABCDEFGH K7M4Q9PX 1", "回复中有多个评价码，请只回复一个评价码和您的选择。"),
])
def test_a_reply_that_is_not_a_vote_says_why(db, one_invitation, body, problem):
    error = refused(db, body)
    assert isinstance(error, NotAVoteError) and answer_for(error) == problem


def test_a_wrong_code_is_no_guess_even_with_one_invitation(db, one_invitation):
    wrong = "K7M4Q9PX" if one_invitation.code != "K7M4Q9PX" else "ABCDEFGH"
    error = refused(db, f"{wrong} 2")
    assert isinstance(error, UnknownCodeError) and error.waiting == 1
    assert answer_for(error).startswith("评价码不正确。您有 1 份待评价的邀请")
    assert match_reply(db, CITIZEN, f"{one_invitation.code.lower()} 2").invitation.id == one_invitation.id


# ---- several invitations ---------------------------------------------------------------

def test_several_invitations_need_the_code_and_the_answer_names_none(db, two_invitations):
    planning, reform = two_invitations
    neighbour = invitation_of(db, NEIGHBOUR, REFORM)
    error = refused(db, "2")
    assert isinstance(error, WhichInvitationError) and error.waiting == 2
    said = answer_for(error)
    assert said.startswith("您有 2 份待评价的邀请，请回复评价码和选择")
    for secret in (planning.code, reform.code, neighbour.code, "发展规划综合科", "经济体制综合改革科", NEIGHBOUR):
        assert secret not in said
    # The neighbour's code is not the citizen's.
    assert isinstance(refused(db, f"{neighbour.code} 2"), UnknownCodeError)


def test_the_code_picks_the_invitation_first_or_last_full_width_too(db, two_invitations):
    planning, reform = two_invitations
    assert match_reply(db, CITIZEN, f"{reform.code.lower()},2").invitation.id == reform.id
    fullwidth = planning.code.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    match = match_reply(db, CITIZEN, f"３ {fullwidth}")
    assert (match.invitation.id, match.choice) == (planning.id, Choice.unsatisfied)


def test_the_code_of_an_answered_invitation_is_already_voted_while_another_waits(db, two_invitations):
    planning, reform = two_invitations
    vote_by_reply(db, CITIZEN, f"{reform.code} 2")
    db.commit()
    assert isinstance(refused(db, f"1 {reform.code}"), AlreadyVotedError)
    # With one left, a bare choice answers it.
    assert match_reply(db, CITIZEN, "1").invitation.id == planning.id


# ---- closed rounds -----------------------------------------------------------------------

def test_a_closed_round_leaves_nothing_to_answer(db, one_invitation):
    rounds.close_round(db, db.get(SurveyRound, one_invitation.round_id))
    db.commit()
    assert isinstance(refused(db, "1"), NoInvitationError)


def test_the_closing_time_counts_at_the_moment_given(db, one_invitation):
    later = aware(db.get(SurveyRound, one_invitation.round_id).closes_at) + timedelta(minutes=1)
    assert isinstance(refused(db, "1", now=later), NoInvitationError)
    assert match_reply(db, CITIZEN, "1").invitation.id == one_invitation.id  # now: still open


def test_the_code_of_a_closed_rounds_invitation_says_closed(app, db, campaign):
    old, current = closed_and_current(app, db, campaign)
    error = refused(db, f"{old.code} 1")
    assert isinstance(error, RoundClosedError) and answer_for(error) == ROUND_CLOSED
    assert match_reply(db, CITIZEN, "1").invitation.id == current.id


def test_a_vote_by_another_channel_after_the_match_wins(db, one_invitation, monkeypatch):
    """The database decides between the match and the vote: the reply is refused."""
    real = sms_replies.open_invitations

    def racing(session, phone, now=None):
        found = real(session, phone, now)
        cast_vote(session, one_invitation.id, Choice.basic, Channel.link)
        return found

    monkeypatch.setattr(sms_replies, "open_invitations", racing)
    with pytest.raises(AlreadyVotedError):
        vote_by_reply(db, CITIZEN, "1")
    db.commit()
    assert [(v.choice, v.channel) for v in votes(db)] == [(Choice.basic, Channel.link)]
