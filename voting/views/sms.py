"""SMS endpoints: Twilio's signed delivery callbacks and citizens' replies, and the
review office's outbox page. The webhooks are exempt from CSRF (Twilio cannot hold a
form token) and check the `X-Twilio-Signature` instead; behind a reverse proxy set
PROXY_FIX so that the URL checked is the public one Twilio signed."""
from __future__ import annotations

import logging
import os

from flask import Blueprint, Response, abort, current_app, g, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from sms.phones import PhoneError, mask_phone, normalize_phone
from sms.senders import ConsoleSender
from sms.webhook import parse_reply, twiml, valid_signature
from voting import sms_sender
from voting.auth import roles_required
from voting.extensions import csrf, limiter
from voting.db import get_session
from voting.errors import NotFoundError
from voting.models import (
    Campaign,
    Channel,
    Choice,
    ConsoleMessage,
    Invitation,
    OutboxStatus,
    RoundStatus,
    Section,
    SurveyRound,
    Unit,
    Vote,
    utcnow,
)
from voting.services import listings, outbox, rounds
from voting.services.rounds import (
    AlreadyVotedError,
    RoundClosedError,
    cast_vote,
    has_vote,
    open_invitations,
)
from voting.vault import vault_of
from voting.views.common import OFFICE, current_campaign
from voting.views.listing import QueryFilters, paged

bp = Blueprint("sms", __name__)
log = logging.getLogger(__name__)

# The answers to a citizen's reply. None of them names anything the sender was not
# already sent: an SMS sender number can be spoofed.
NO_INVITATION = "未找到您待评价的邀请。如有疑问，请联系县千人评议办。感谢您的关注！"
ALREADY_VOTED = "这份邀请已经评价过了，每份邀请只能评价一次。感谢您的参与！"
ROUND_CLOSED = "评价已截止，感谢您的关注！"
WHICH_ONE = ("您有 {n} 份待评价的邀请，请回复评价码和选择，如 K7M4Q9PX 1"
             "（评价码见各条邀请短信；1 满意、2 基本满意、3 不满意）。")
UNKNOWN_CODE = "评价码不正确。"
CONFIRMED = "已收到您对{unit}{section}的评价：{choice}。感谢您的参与！"


def twilio_auth_token() -> str:
    return (current_app.config.get("SMS_ENV", {}).get("TWILIO_AUTH_TOKEN") or os.environ.get("TWILIO_AUTH_TOKEN") or "").strip()


def _is_signed() -> bool:
    """Whether Twilio signed this request (checked once per request)."""
    if "twilio_signed" not in g:
        g.twilio_signed = valid_signature(twilio_auth_token(), request.url, request.form.to_dict(),
                                          request.headers.get("X-Twilio-Signature"))
    return g.twilio_signed


def _signed_form() -> dict[str, str]:
    """The POSTed parameters, if Twilio signed them; 403 otherwise."""
    if not _is_signed():
        abort(403)
    return request.form.to_dict()


@bp.post("/sms/status")
@csrf.exempt
@limiter.limit("600 per minute")
def status_callback():
    """Twilio's delivery report for one message: delivered, undelivered, failed."""
    params = _signed_form()
    session = get_session()
    outbox.record_status(session, params.get("MessageSid", ""), params.get("MessageStatus", ""))
    session.commit()
    return "", 204


def _sender_key() -> str:
    """The rate-limit key of a reply: its sender, the same number however written, as
    its keyed hash (the key is kept in Redis and logged when the limit is hit)."""
    raw = request.form.get("From", "")
    try:
        sender = normalize_phone(raw)
    except PhoneError:
        sender = raw.strip()[:32]
    return f"sms-from:{vault_of(get_session()).lookup(sender)}"


def _answer(text: str) -> Response:
    return Response(twiml(text), status=200, mimetype="text/xml")


def _voted_in_open_round(session: Session, phone: str) -> bool:
    """Whether this phone answered an invitation of a round still open (a second reply)."""
    return session.scalar(
        select(Invitation.id)
        .join(SurveyRound, Invitation.round_id == SurveyRound.id)
        .join(Vote, Vote.invitation_id == Invitation.id)
        .where(Invitation.phone_hash == vault_of(session).lookup(phone), SurveyRound.status == RoundStatus.open,
               SurveyRound.closes_at > utcnow())
        .limit(1)
    ) is not None


def _not_open(session: Session, phone: str, code: str, waiting: int) -> str:
    """The answer to a code that is none of the sender's open invitations: one of theirs
    already answered, or of a closed round, or a typing error."""
    earlier = session.scalar(
        select(Invitation).where(Invitation.phone_hash == vault_of(session).lookup(phone),
                                 Invitation.code_hash == vault_of(session).code_lookup(code))
        .order_by(Invitation.id.desc()).limit(1)
    )
    if earlier is not None:
        return ALREADY_VOTED if has_vote(session, earlier) else ROUND_CLOSED
    return UNKNOWN_CODE + WHICH_ONE.format(n=waiting)


@bp.post("/sms/inbound")
@csrf.exempt
@limiter.limit("600 per minute")  # per address: Twilio's few servers carry every reply
# Per sender, counting only signed requests, so that forged ones cannot use up a
# citizen's allowance.
@limiter.limit("20 per hour", key_func=_sender_key, exempt_when=lambda: not _is_signed())
def inbound():
    """A citizen's SMS reply (Twilio's `From`, `Body`): one vote for the sender's open
    invitation, answered in TwiML. Anything else is answered politely and changes nothing."""
    params = _signed_form()
    try:
        phone = normalize_phone(params.get("From", ""))
    except PhoneError:
        return _answer(NO_INVITATION)
    session = get_session()
    waiting = open_invitations(session, phone)
    if not waiting:
        return _answer(ALREADY_VOTED if _voted_in_open_round(session, phone) else NO_INVITATION)
    reply = parse_reply(params.get("Body"))
    if reply.problem:
        return _answer(reply.problem)
    if reply.code is not None:
        invitation = next((i for i in waiting if i.code == reply.code), None)
        if invitation is None:
            return _answer(_not_open(session, phone, reply.code, len(waiting)))
    elif len(waiting) == 1:
        invitation = waiting[0]
    else:
        return _answer(WHICH_ONE.format(n=len(waiting)))
    try:
        cast_vote(session, invitation.id, Choice(reply.choice), Channel.sms)
    except AlreadyVotedError:
        return _answer(ALREADY_VOTED)
    except RoundClosedError:
        return _answer(ROUND_CLOSED)
    session.commit()
    log.info("SMS reply recorded the vote of invitation %s", invitation.id)
    section = invitation.section
    return _answer(CONFIRMED.format(unit=section.unit.name, section=section.name, choice=Choice(reply.choice).label))


OUTBOX_PER_PAGE = 50


def _outbox_filter(session: Session, campaign: Campaign | None,
                   filters: QueryFilters) -> tuple[listings.OutboxFilter, dict]:
    """The outbox page's filters from its query string, and the choices its form offers:
    the statuses, the kinds of message, the campaign's survey rounds, its units and,
    once a unit is chosen, that unit's sections (as the phone survey's list)."""
    surveys = rounds.rounds(session, campaign) if campaign is not None else []
    units = session.execute(
        select(Unit.id, Unit.name).where(Unit.campaign_id == campaign.id).order_by(Unit.number, Unit.id)
    ).all() if campaign is not None else []
    status = filters.choice("status", {s.value for s in OutboxStatus})
    kind = filters.choice("kind", listings.MESSAGE_KINDS)
    round_id = filters.number("round", {r.id for r in surveys})
    unit_id = filters.number("unit", {u.id for u in units})
    sections = session.execute(
        select(Section.id, Section.name).where(Section.unit_id == unit_id).order_by(Section.number, Section.id)
    ).all() if unit_id is not None else []
    # The section counts within the chosen unit; another unit's (what the form sends
    # once its unit was changed, or set back to all) is dropped without a word.
    section_id = filters.number("section", _section_ids(session, campaign)) if unit_id is not None else None
    if section_id is not None and section_id not in {s.id for s in sections}:
        filters.keep.pop("section")
        section_id = None
    where = listings.OutboxFilter(status=OutboxStatus(status) if status else None, kind=kind, round_id=round_id,
                                  unit_id=unit_id, section_id=section_id)
    return where, {"statuses": list(OutboxStatus), "kinds": listings.MESSAGE_KINDS, "surveys": surveys,
                   "units": units, "sections": sections}


def _section_ids(session: Session, campaign: Campaign) -> set[int]:
    return set(session.scalars(select(Section.id).join(Unit).where(Unit.campaign_id == campaign.id)))


@bp.get("/office/outbox")
@roles_required(*OFFICE)
def outbox_page():
    """The outbox, newest first, OUTBOX_PER_PAGE a page, narrowed by the page's GET form
    (status, kind, survey round, an invitation's unit and section); phones masked. With
    the console sender (the demo), what it "delivered" too, so a newcomer can open the
    citizens' links."""
    session = get_session()
    try:
        campaign = current_campaign()
    except NotFoundError:
        campaign = None
    campaign_id = campaign.id if campaign is not None else None
    filters = QueryFilters()
    where, choices = _outbox_filter(session, campaign, filters)
    messages, page = paged(
        lambda limit, offset: listings.outbox_messages(session, campaign_id, where, limit=limit, offset=offset),
        OUTBOX_PER_PAGE, filters.page(),
    )
    console = None
    if isinstance(sms_sender(current_app), ConsoleSender):
        console = session.scalars(select(ConsoleMessage).order_by(ConsoleMessage.id.desc()).limit(50)).all()
    return render_template("outbox.html", messages=messages, page=page, where=where, keep=filters.keep,
                           ignored=filters.ignored, console=console, mask_phone=mask_phone,
                           template_labels=listings.TEMPLATE_LABELS, counts=outbox.status_counts(session, campaign_id),
                           **choices)
