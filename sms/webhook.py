"""Inbound SMS and delivery callbacks from Twilio (docs/rules.md §4.5): the signature check, the
reading of a citizen's reply, and the TwiML answer. No database here: the platform
matches the sender's open invitation and records the vote.

A reply is a choice, 1 满意 / 2 基本满意 / 3 不满意 (the digit or the word, full-width
forms too), optionally with the invitation's code when the citizen has several open
("2 K7M4Q9PX" or "k7m4q9px 2", the words separated by spaces or punctuation). Anything else is not a vote: `parse_reply` says why,
and the platform answers politely and changes nothing.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from sms.tokens import is_code, normalize_code

SATISFIED, BASIC, UNSATISFIED = "satisfied", "basic", "unsatisfied"
CHOICES = {"1": SATISFIED, "2": BASIC, "3": UNSATISFIED}
WORDS = {"满意": SATISFIED, "基本满意": BASIC, "不满意": UNSATISFIED}
REPLY_MAX = 160  # a reply longer than one SMS is not a vote
_SEPARATORS = re.compile(r"[\s,,.。;;::!!、]+")

NOT_UNDERSTOOD = "未能识别您的回复。请回复 1（满意）、2（基本满意）或 3（不满意）。"


def valid_signature(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """Whether Twilio signed this request (`X-Twilio-Signature` over the full URL it
    requested and the POST parameters). Behind a proxy, `url` must be the public one
    (the app uses ProxyFix for that)."""
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


@dataclass(frozen=True)
class Reply:
    choice: str | None  # SATISFIED / BASIC / UNSATISFIED, None if not a vote
    code: str | None  # the invitation code named in the reply, if any
    problem: str | None  # why it is not a vote (Chinese, for the answer)


def parse_reply(body: str | None) -> Reply:
    """Read a citizen's reply: exactly one choice, and at most one code."""
    text = unicodedata.normalize("NFKC", body or "").strip()
    if not text or len(text) > REPLY_MAX:
        return Reply(None, None, NOT_UNDERSTOOD)
    codes, choices = [], set()
    for token in _SEPARATORS.split(text):
        if not token:
            continue
        if token in CHOICES:
            choices.add(CHOICES[token])
        elif (word := WORDS.get(token)) is not None:
            choices.add(word)
        elif is_code(token):
            codes.append(normalize_code(token))
        else:
            return Reply(None, None, NOT_UNDERSTOOD)
    if len(codes) > 1:
        return Reply(None, None, "回复中有多个评价码，请只回复一个评价码和您的选择。")
    code = codes[0] if codes else None
    if len(choices) != 1:
        return Reply(None, code, NOT_UNDERSTOOD if not choices else "请只选择一项：回复 1、2 或 3。")
    return Reply(choices.pop(), code, None)


def twiml(text: str) -> str:
    """The TwiML answer that sends `text` back to the citizen."""
    response = MessagingResponse()
    response.message(text)
    return str(response)


def twiml_empty() -> str:
    """A TwiML answer that sends nothing (for delivery callbacks and ignored senders)."""
    return str(MessagingResponse())
