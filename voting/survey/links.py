"""The citizens' links and codes as this deployment writes them: the signing keys (the
app's SECRET_KEY, newest, and any SECRET_KEY_FALLBACKS still accepted) and the SMS
wording (signature, public address)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask

from sms.tokens import LinkTokens
from voting.survey.rounds import Wording


def link_tokens(app: Flask) -> LinkTokens:
    """Signs with SECRET_KEY; reads with it and with SECRET_KEY_FALLBACKS (rotated-out
    keys whose links may still be in citizens' phones)."""
    return LinkTokens([*app.config.get("SECRET_KEY_FALLBACKS", []), app.config["SECRET_KEY"]])


def wording(app: Flask, fallback_url: str | None = None) -> Wording:
    """PUBLIC_URL (the address citizens reach) or, without it, `fallback_url` (the
    address the office used to open the round: right for the demo on one machine)."""
    base = (app.config.get("PUBLIC_URL") or fallback_url or "http://127.0.0.1:5000").rstrip("/")
    parts = urlsplit(base)
    return Wording(sign=app.config["SMS_SIGN"], link_base=base, code_address=f"{parts.netloc}{parts.path}/c",
                   timezone=app.config["TIMEZONE"], single=bool(app.config.get("SMS_SINGLE_MESSAGE")))
