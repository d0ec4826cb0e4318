"""Citizens' SMS replies (docs/rules.md §4): which invitation a reply from a phone
answers ("1", or "ABCD2345 2" when the phone has several), and its vote through
votes.cast_vote with channel sms.

The sender is known only by its number, which can be spoofed: no answer names anything
the sender was not already sent. A reply that records no vote raises a named error
whose answer (`answer_for`) is the SMS sent back; the webhook (voting/outbox/views.py)
checks Twilio's signature and wraps the answer in TwiML.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sms.mainland import Reply
from sms.phones import PhoneError, normalize_phone
from sms.webhook import parse_reply
from voting.core.errors import DomainError
from voting.survey.models import Channel, Choice, Invitation, RoundStatus, SurveyRound, Vote
from voting.outbox.models import ConsoleMessage
from voting.core.models import utcnow
from voting.survey import votes
from voting.survey.votes import AlreadyVotedError, RoundClosedError
from voting.core.vault import vault_of

# The answers to a citizen's reply.
NO_INVITATION = "未找到您待评价的邀请。如有疑问，请联系县千人评议办。感谢您的关注！"
ALREADY_VOTED = "这份邀请已经评价过了，每份邀请只能评价一次。感谢您的参与！"
ROUND_CLOSED = "评价已截止，感谢您的关注！"
WHICH_ONE = ("您有 {n} 份待评价的邀请，请回复评价码和选择，如 K7M4Q9PX 1"
             "（评价码见各条邀请短信；1 满意、2 基本满意、3 不满意）。")
UNKNOWN_CODE = "评价码不正确。"
CONFIRMED = "已收到您对{unit}{section}的评价：{choice}。感谢您的参与！"


class ReplyRefused(DomainError):
    """A reply that records no vote; `str()` is the SMS answer."""


class NoInvitationError(ReplyRefused):
    """The sender has no invitation open to a vote (or is no mainland mobile number)."""

    def __init__(self) -> None:
        super().__init__(NO_INVITATION)


class NotAVoteError(ReplyRefused):
    """The reply is not one choice (sms.webhook.parse_reply says why)."""


class WhichInvitationError(ReplyRefused):
    """Several invitations wait for the sender's vote and the reply names none by its code."""

    def __init__(self, waiting: int) -> None:
        self.waiting = waiting
        super().__init__(WHICH_ONE.format(n=waiting))


class UnknownCodeError(ReplyRefused):
    """The reply's code is none of the sender's invitations."""

    def __init__(self, waiting: int) -> None:
        self.waiting = waiting
        super().__init__(UNKNOWN_CODE + WHICH_ONE.format(n=waiting))


# Everything a reply may be refused with: its own errors and the vote's.
REFUSALS = (ReplyRefused, AlreadyVotedError, RoundClosedError)


def answer_for(refused: DomainError) -> str:
    """The SMS answer to a refused reply (one of REFUSALS): a closed round's answer is
    shorter than the web page's message."""
    if isinstance(refused, AlreadyVotedError):
        return ALREADY_VOTED
    if isinstance(refused, RoundClosedError):
        return ROUND_CLOSED
    return str(refused)


@dataclass(frozen=True)
class Match:
    """The invitation a reply answers, and its choice."""

    invitation: Invitation
    choice: Choice


@dataclass(frozen=True)
class ReplyVote:
    """A reply's recorded vote, and the SMS answer that confirms it (naming the unit,
    the section and the choice: what the invitation's SMS said)."""

    vote_id: int
    invitation_id: int
    answer: str


def open_invitations(session: Session, phone: str, now: datetime | None = None) -> list[Invitation]:
    """A phone's invitations in open rounds that have no vote yet."""
    now = now or utcnow()
    return list(session.scalars(
        select(Invitation)
        .join(SurveyRound, Invitation.round_id == SurveyRound.id)
        .where(
            Invitation.phone_hash == vault_of(session).lookup(phone), SurveyRound.status == RoundStatus.open,
            SurveyRound.closes_at > now,
            Invitation.id.not_in(select(Vote.invitation_id)),
        )
        .order_by(Invitation.id)
    ))


def _voted_in_open_round(session: Session, phone: str, now: datetime | None = None) -> bool:
    """Whether this phone answered an invitation of a round still open (a second reply)."""
    return session.scalar(
        select(Invitation.id)
        .join(SurveyRound, Invitation.round_id == SurveyRound.id)
        .join(Vote, Vote.invitation_id == Invitation.id)
        .where(Invitation.phone_hash == vault_of(session).lookup(phone), SurveyRound.status == RoundStatus.open,
               SurveyRound.closes_at > (now or utcnow()))
        .limit(1)
    ) is not None


def _not_open(session: Session, phone: str, code: str, waiting: int) -> DomainError:
    """The refusal of a code that is none of the sender's open invitations: one of
    theirs already answered, or of a closed round, or a typing error."""
    earlier = session.scalar(
        select(Invitation).where(Invitation.phone_hash == vault_of(session).lookup(phone),
                                 Invitation.code_hash == vault_of(session).code_lookup(code))
        .order_by(Invitation.id.desc()).limit(1)
    )
    if earlier is not None:
        return AlreadyVotedError() if votes.has_vote(session, earlier) else RoundClosedError()
    return UnknownCodeError(waiting)


def match_reply(session: Session, phone: str, body: str | None, now: datetime | None = None) -> Match:
    """The invitation a reply from `phone` (normalized) answers, and its choice. With
    one invitation waiting for the phone's vote a bare choice answers it; with several
    the reply names one by its code. Refused: NoInvitationError (nothing waits),
    AlreadyVotedError (nothing waits and the phone voted in a round still open, or the
    code's invitation has a vote), NotAVoteError, WhichInvitationError,
    UnknownCodeError, RoundClosedError (the code's invitation is of a closed round)."""
    waiting = open_invitations(session, phone, now)
    if not waiting:
        raise AlreadyVotedError() if _voted_in_open_round(session, phone, now) else NoInvitationError()
    reply = parse_reply(body)
    if reply.problem:
        raise NotAVoteError(reply.problem)
    if reply.code is not None:
        invitation = next((i for i in waiting if i.code == reply.code), None)
        if invitation is None:
            raise _not_open(session, phone, reply.code, len(waiting))
    elif len(waiting) == 1:
        invitation = waiting[0]
    else:
        raise WhichInvitationError(len(waiting))
    return Match(invitation, Choice(reply.choice))


def vote_by_reply(session: Session, sender: str, body: str | None, now: datetime | None = None) -> ReplyVote:
    """A citizen's reply (the sender's number as the provider wrote it, the text): the
    vote for its invitation (votes.cast_vote, channel sms) in the session's transaction
    (the caller commits). Refused with one of REFUSALS (see match_reply; a vote by
    another channel or a close between the match and the vote too)."""
    try:
        phone = normalize_phone(sender)
    except PhoneError:
        raise NoInvitationError() from None
    match = match_reply(session, phone, body, now)
    vote_id = votes.cast_vote(session, match.invitation.id, match.choice, Channel.sms, now=now)
    section = match.invitation.section
    answer = CONFIRMED.format(unit=section.unit.name, section=section.name, choice=match.choice.label)
    return ReplyVote(vote_id, match.invitation.id, answer)


@dataclass
class RepliesReport:
    voted: int = 0
    refused: int = 0


def record_replies(session: Session, replies: Iterable[Reply], now: datetime | None = None) -> RepliesReport:
    """Replies a mainland provider pushed or that were pulled from it: each one's vote
    (vote_by_reply) in the session's transaction (the caller commits). A refused reply
    writes nothing and is only counted: its SMS answer would need a template of its
    own registered with the provider, so none is sent."""
    report = RepliesReport()
    for reply in replies:
        try:
            vote_by_reply(session, reply.phone, reply.text, now)
        except REFUSALS:
            report.refused += 1
        else:
            report.voted += 1
    return report


def console_messages(session: Session, limit: int = 50) -> list[ConsoleMessage]:
    """What the console sender (the demo's) "delivered", newest first: the citizens'
    phones of a demo, whose links a newcomer opens and whose numbers reply."""
    return list(session.scalars(select(ConsoleMessage).order_by(ConsoleMessage.id.desc()).limit(limit)))
