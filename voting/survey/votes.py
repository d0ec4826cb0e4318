"""A citizen's vote in a survey round (docs/rules.md §4), whichever of the four doors
it comes through: the SMS link and the typed code (voting/survey/citizen_views.py), an SMS
reply (matched to its invitation by voting/survey/sms_replies.py) and an operator's
phone survey (voting/survey/phone_views.py).

`cast_vote` records it, with its channel, in one statement: the database decides
between concurrent submits and a round closing at the same moment. Its refusals are
named errors: RoundClosedError, AlreadyVotedError, UnknownInvitationError. A door that
shows a page before the vote asks `refusal` (or `check_votable`) the same questions.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from typing import Any

from sqlalchemy import Connection, Integer, String, Text, bindparam, cast, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from voting.core.clock import aware
from voting.core.db import single_statement_connection
from voting.core.vault import PhoneVault, vault_of
from voting.core.errors import DomainError, NotFoundError
from voting.survey.models import Channel, Choice, Invitation, RoundStatus, SurveyRound, Vote
from voting.staff.models import User
from voting.core.models import utcnow

COMMENT_MAX = 500


class RoundClosedError(DomainError):
    status = 410

    def __init__(self) -> None:
        super().__init__("本轮评价已截止，感谢您的关注。")


class RoundCancelledError(RoundClosedError):
    """The round was called off: closed to every door, with the same message; the
    citizens' page says that it was cancelled."""


class AlreadyVotedError(DomainError):
    status = 409

    def __init__(self) -> None:
        super().__init__("这份邀请已经评价过了，每份邀请只能评价一次。感谢您的参与！")


class UnknownInvitationError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("没有找到这份评价邀请。")


@dataclass(frozen=True)
class RoundState:
    """The two facts of a round that decide whether it takes votes (see is_open)."""

    status: RoundStatus
    closes_at: datetime


def is_open(survey: SurveyRound | RoundState, now: datetime | None = None) -> bool:
    """Whether the round takes votes now: open, and its closing time ahead."""
    return survey.status is RoundStatus.open and (now or utcnow()) < aware(survey.closes_at)


def refusal(survey: SurveyRound | RoundState, voted: bool, now: datetime | None = None) -> DomainError | None:
    """Why an invitation of `survey` takes no vote now, or None if it does: it has one
    (AlreadyVotedError), its round was cancelled (RoundCancelledError) or takes no
    answers (RoundClosedError). What a door's page says before the vote; the vote
    itself is decided by the database (cast_vote)."""
    if voted:
        return AlreadyVotedError()
    if survey.status is RoundStatus.cancelled:
        return RoundCancelledError()
    if not is_open(survey, now):
        return RoundClosedError()
    return None


def has_vote(session: Session, invitation: Invitation) -> bool:
    return session.scalar(select(Vote.id).where(Vote.invitation_id == invitation.id)) is not None


def check_votable(session: Session, invitation: Invitation, now: datetime | None = None) -> None:
    """Raise the refusal (see `refusal`) if the invitation takes no vote now."""
    refused = refusal(invitation.survey_round, has_vote(session, invitation), now)
    if refused is not None:
        raise refused


_NETWORK_PREFIX = "vote-network:"


def network_of(address: str | None) -> str | None:
    """The network a web vote came from, as the answer-burst check counts (docs/rules.md
    §3.11): an IPv4 address's /24 (an IPv4-mapped IPv6 one too), an IPv6 address's /48 (a
    site); None without a readable address."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # masked by hand: ip_network() costs several times as much, on the busiest write
    if isinstance(ip, ipaddress.IPv4Address):
        return f"{ipaddress.IPv4Address(int(ip) >> 8 << 8)}/24"
    return f"{ipaddress.IPv6Address(int(ip) >> 80 << 80)}/48"


def vote_network(vault: PhoneVault, address: str | None) -> str | None:
    """The keyed hash stored in Vote.network (PhoneVault.lookup under a prefix of its
    own), or None."""
    network = network_of(address)
    return None if network is None else vault.lookup(_NETWORK_PREFIX + network)


def _cast_vote_statement(insert: Any) -> Any:  # the dialect's insert(); its Insert … RETURNING
    now = bindparam("now", type_=Vote.created_at.type)
    source = (
        select(
            Invitation.id, Invitation.round_id, Invitation.section_id,
            bindparam("choice", type_=Vote.choice.type), bindparam("channel", type_=Vote.channel.type),
            bindparam("comment", type_=Text),
            # PostgreSQL reads an untyped NULL in a SELECT list as text
            cast(bindparam("operator_id", type_=Integer), Integer), now,
            cast(bindparam("network", type_=String), Vote.network.type),
        )
        .join(SurveyRound, Invitation.round_id == SurveyRound.id)
        .where(Invitation.id == bindparam("invitation_id"), SurveyRound.status == RoundStatus.open,
               SurveyRound.closes_at > now)
    )
    return (
        insert(Vote)
        .from_select(["invitation_id", "round_id", "section_id", "choice", "channel", "comment", "operator_id",
                      "created_at", "network"], source)
        .on_conflict_do_nothing(index_elements=[Vote.invitation_id])
        .returning(Vote.id)
    )


# Built once: the busiest write's statement, compiled once per dialect and cached.
_CAST_VOTE = {"postgresql": _cast_vote_statement(postgresql_insert), "sqlite": _cast_vote_statement(sqlite_insert)}


def cast_vote(
    session: Session, invitation_id: int, choice: Choice, channel: Channel, comment: str = "",
    operator: User | None = None, now: datetime | None = None, address: str | None = None,
) -> int:
    """Record the invitation's one vote, by `channel` (the phone survey's with its
    `operator`); its id. One statement does it all: INSERT … SELECT from the
    invitation, only while its round is open, ON CONFLICT (the unique invitation) DO
    NOTHING, RETURNING the id, on PostgreSQL and SQLite alike. So the database decides
    between concurrent submits and a round closing at the same moment, the losers get
    AlreadyVotedError or RoundClosedError (UnknownInvitationError for no such
    invitation) with the session still usable, and a vote by link costs one round trip:
    where it is the request's only work (the citizens' pages), it commits by itself on
    the autocommit connection (voting.core.db.single_statement_connection); otherwise it
    joins the session's transaction (the request or the command commits). `address`:
    a web vote's client address, stored only as its network's keyed hash (vote_network)."""
    now = now or utcnow()
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise DomainError(f"意见建议不超过 {COMMENT_MAX} 字")
    connection = single_statement_connection(session)
    statement = _CAST_VOTE["postgresql" if connection.dialect.name == "postgresql" else "sqlite"]
    network = vote_network(vault_of(connection), address) if address else None
    parameters = {"invitation_id": invitation_id, "choice": choice, "channel": channel, "comment": comment,
                  "operator_id": operator.id if operator else None, "now": now, "network": network}
    vote_id: int | None = connection.execute(statement, parameters).scalar()
    if vote_id is None:
        raise _refused(connection, invitation_id)
    return vote_id


def _refused(connection: Connection, invitation_id: int) -> DomainError:
    """Why an invitation took no vote: it has one, or its round is closed, or it does not exist."""
    row = connection.execute(
        select(Invitation.id, Vote.id).outerjoin(Vote, Vote.invitation_id == Invitation.id)
        .where(Invitation.id == invitation_id)
    ).first()
    if row is None:
        return UnknownInvitationError()
    return AlreadyVotedError() if row[1] is not None else RoundClosedError()
