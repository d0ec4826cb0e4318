"""SMS endpoints: Twilio's signed delivery callbacks and citizens' replies (matched to
their invitations and voted by voting/survey/sms_replies.py), and the review office's
outbox page. The webhooks are exempt from CSRF (Twilio cannot hold a form token) and
check the `X-Twilio-Signature` instead; behind a reverse proxy set PROXY_FIX so that
the URL checked is the public one Twilio signed."""
from __future__ import annotations

import logging
import os

from flask import Blueprint, Response, abort, current_app, g, render_template, request
from sqlalchemy.orm import Session

from sms.phones import PhoneError, mask_phone, normalize_phone
from sms.senders import ConsoleSender
from sms.webhook import twiml, valid_signature
from voting import sms_sender
from voting.staff.auth import roles_required
from voting.core.db import get_session
from voting.core.errors import NotFoundError
from voting.core.extensions import csrf, limiter
from voting.lists.models import Campaign
from voting.outbox.models import OutboxStatus
from voting.core import db
from voting.office import listings
from voting.outbox import outbox
from voting.survey import rounds, sms_replies
from voting.lists import sections
from voting.core.vault import vault_of
from voting.web.common import OFFICE, current_campaign
from voting.web.listing import QueryFilters, paged

bp = Blueprint("sms", __name__)
log = logging.getLogger(__name__)


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
    outbox.record_status(get_session(), params.get("MessageSid", ""), params.get("MessageStatus", ""))
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


@bp.post("/sms/inbound")
@csrf.exempt
@limiter.limit("600 per minute")  # per address: Twilio's few servers carry every reply
# Per sender, counting only signed requests, so that forged ones cannot use up a
# citizen's allowance.
@limiter.limit("20 per hour", key_func=_sender_key, exempt_when=lambda: not _is_signed())
def inbound():
    """A citizen's SMS reply (Twilio's `From`, `Body`): one vote for the sender's open
    invitation (sms_replies.vote_by_reply), answered in TwiML. Anything else is
    answered politely and changes nothing."""
    params = _signed_form()
    try:
        voted = sms_replies.vote_by_reply(get_session(), params.get("From", ""), params.get("Body"))
    except sms_replies.REFUSALS as refused:
        db.discard_writes()  # a refused reply changes nothing, though Twilio gets its answer (200)
        return _answer(sms_replies.answer_for(refused))
    log.info("SMS reply recorded the vote of invitation %s", voted.invitation_id)
    return _answer(voted.answer)


OUTBOX_PER_PAGE = 50


def _outbox_filter(session: Session, campaign: Campaign | None,
                   filters: QueryFilters) -> tuple[listings.OutboxFilter, dict]:
    """The outbox page's filters from its query string, and the choices its form offers:
    the statuses, the kinds of message, the campaign's survey rounds, its units and,
    once a unit is chosen, that unit's sections (as the phone survey's list)."""
    surveys = rounds.rounds(session, campaign) if campaign is not None else []
    units = rounds.unit_choices(session, campaign) if campaign is not None else []
    status = filters.choice("status", {s.value for s in OutboxStatus})
    kind = filters.choice("kind", listings.MESSAGE_KINDS)
    round_id = filters.number("round", {r.id for r in surveys})
    unit_id = filters.number("unit", {u.id for u in units})
    unit_sections = rounds.section_choices(session, unit_id) if unit_id is not None else []
    # The section counts within the chosen unit; another unit's (what the form sends
    # once its unit was changed, or set back to all) is dropped without a word.
    section_id = filters.number("section", sections.campaign_section_ids(session, campaign)) if unit_id is not None else None
    if section_id is not None and section_id not in {s.id for s in unit_sections}:
        filters.keep.pop("section")
        section_id = None
    where = listings.OutboxFilter(status=OutboxStatus(status) if status else None, kind=kind, round_id=round_id,
                                  unit_id=unit_id, section_id=section_id)
    return where, {"statuses": list(OutboxStatus), "kinds": listings.MESSAGE_KINDS, "surveys": surveys,
                   "units": units, "sections": unit_sections}


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
        console = sms_replies.console_messages(session, 50)
    return render_template("outbox/outbox.html", messages=messages, page=page, where=where, keep=filters.keep,
                           ignored=filters.ignored, console=console, mask_phone=mask_phone,
                           template_labels=listings.TEMPLATE_LABELS, counts=outbox.status_counts(session, campaign_id),
                           **choices)
