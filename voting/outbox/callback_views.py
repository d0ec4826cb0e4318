"""The mainland providers' pushes (docs/rules.md §4.15): Alibaba Cloud's SmsReport and
SmsUp, Tencent Cloud's status and reply callbacks, at

    POST /sms/<provider>/<secret>/report   delivery receipts → the outbox
    POST /sms/<provider>/<secret>/reply    citizens' replies → votes (voting/survey/sms_replies.py)

Neither provider signs what it pushes, so each push is authenticated as they allow: the
secret in the address (PINGYI_SMS_CALLBACK_SECRET, compared in constant time; without
it the callbacks do not exist: 404) and, where the county sets them, the networks the
provider pushes from (PINGYI_SMS_CALLBACK_NETWORKS: a request from elsewhere gets 403;
behind a proxy set PROXY_FIX so that the address is the client's). A push is read
whole before anything is recorded: a body the platform cannot read gets 400 and a
message saying what is wrong and where, and records nothing. The provider gets its
documented answer when the push was read, so it does not push the same items again;
a replayed push changes nothing (a receipt moves a message only forward; a second
reply finds its invitation answered). A refused reply is not answered by SMS here:
every answer would need a template of its own registered with the provider.
"""
from __future__ import annotations

import hmac
import importlib
import ipaddress
import logging
import os

from flask import Blueprint, Response, abort, current_app, jsonify, request

from sms.mainland import CALLBACK_NETWORKS, CALLBACK_SECRET, MAINLAND, CallbackError, SettingError, callback_networks
from voting.core.db import get_session
from voting.core.extensions import csrf, limiter
from voting.outbox import outbox
from voting.survey import sms_replies

bp = Blueprint("sms_callbacks", __name__)
log = logging.getLogger(__name__)
BODY_MAX = 4 * 1024 * 1024  # a push of a thousand receipts is far below this


def _setting(name: str) -> str:
    return (current_app.config.get("SMS_ENV", {}).get(name) or os.environ.get(name) or "").strip()


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Checked when the app starts (sms.mainland.mainland_sender refuses a bad one)."""
    return callback_networks({CALLBACK_NETWORKS: _setting(CALLBACK_NETWORKS)})


def _authenticated(provider: str, secret: str) -> None:
    """404 for an address that is not the callbacks' (unknown provider, no secret set,
    the wrong secret: nothing tells a prober which), 403 from outside the networks."""
    expected = _setting(CALLBACK_SECRET)
    if provider not in MAINLAND or not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        abort(404)
    try:
        networks = _networks()
    except SettingError as error:  # the app's sender is not a mainland one, so nothing checked it
        log.error("SMS %s callback refused: %s", provider, error)
        abort(403)
    if networks:
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            abort(403)
        if not any(address in network for network in networks):
            log.warning("SMS %s callback refused from outside PINGYI_SMS_CALLBACK_NETWORKS", provider)
            abort(403)


def _body() -> bytes:
    if (request.content_length or 0) > BODY_MAX:
        abort(413)
    return request.get_data(cache=False)


def _ok(module):
    """The answer the provider documents for a push it need not repeat."""
    answer = module.CALLBACK_OK
    if isinstance(answer, bytes):
        return Response(answer, mimetype="application/json")
    return jsonify(answer)


def _unreadable(provider: str, error: CallbackError):
    log.warning("SMS %s callback not read: %s", provider, error)
    return jsonify({"error": f"推送内容无法读取：{error}"}), 400


@bp.post("/sms/<provider>/<secret>/report")
@csrf.exempt
@limiter.limit("600 per minute")
def report(provider: str, secret: str):
    """Delivery receipts pushed by the provider: each message delivered, or undelivered
    with the carrier's reason, on the outbox page."""
    _authenticated(provider, secret)
    module = importlib.import_module(f"sms.{provider}")
    try:
        receipts = module.parse_reports(_body())
    except CallbackError as error:
        return _unreadable(provider, error)
    found = outbox.record_receipts(get_session(), provider, receipts)
    log.info("SMS %s receipts: %d delivered, %d undelivered, %d unchanged, %d unknown", provider, found.delivered,
             found.undelivered, found.unchanged, found.unknown)
    return _ok(module)


@bp.post("/sms/<provider>/<secret>/reply")
@csrf.exempt
@limiter.limit("600 per minute")
def reply(provider: str, secret: str):
    """Citizens' replies pushed by the provider: each a vote for the sender's open
    invitation, as Twilio's replies are (sms_replies.record_replies)."""
    _authenticated(provider, secret)
    module = importlib.import_module(f"sms.{provider}")
    try:
        replies = module.parse_replies(_body())
    except CallbackError as error:
        return _unreadable(provider, error)
    found = sms_replies.record_replies(get_session(), replies)
    log.info("SMS %s replies: %d votes recorded, %d refused", provider, found.voted, found.refused)
    return _ok(module)
