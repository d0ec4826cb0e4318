"""SMS endpoints: Twilio's signed delivery callbacks, and the review office's outbox
page. The callbacks are exempt from CSRF (Twilio cannot hold a form token) and check
the `X-Twilio-Signature` instead; behind a reverse proxy set PROXY_FIX so that the URL
checked is the public one Twilio signed."""
from __future__ import annotations

import os

from flask import Blueprint, abort, current_app, render_template, request
from sqlalchemy import select

from sms.phones import mask_phone
from sms.senders import ConsoleSender
from sms.webhook import valid_signature
from voting import sms_sender
from voting.auth import csrf, limiter, roles_required
from voting.db import get_session
from voting.errors import NotFoundError
from voting.models import ConsoleMessage
from voting.services import outbox
from voting.views.common import OFFICE, current_campaign

bp = Blueprint("sms", __name__)


def twilio_auth_token() -> str:
    return (current_app.config.get("SMS_ENV", {}).get("TWILIO_AUTH_TOKEN") or os.environ.get("TWILIO_AUTH_TOKEN") or "").strip()


def _signed_form() -> dict[str, str]:
    """The POSTed parameters, if Twilio signed them; 403 otherwise."""
    params = request.form.to_dict()
    if not valid_signature(twilio_auth_token(), request.url, params, request.headers.get("X-Twilio-Signature")):
        abort(403)
    return params


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


@bp.get("/office/outbox")
@roles_required(*OFFICE)
def outbox_page():
    """The latest messages with their status; phones masked. With the console sender
    (the demo), what it "delivered" too, so a newcomer can open the citizens' links."""
    session = get_session()
    try:
        campaign_id = current_campaign().id
    except NotFoundError:
        campaign_id = None
    messages = outbox.recent(session, campaign_id)
    console = None
    if isinstance(sms_sender(current_app), ConsoleSender):
        console = session.scalars(select(ConsoleMessage).order_by(ConsoleMessage.id.desc()).limit(50)).all()
    return render_template("outbox.html", messages=messages, console=console, mask_phone=mask_phone,
                           counts=outbox.status_counts(session, campaign_id))
